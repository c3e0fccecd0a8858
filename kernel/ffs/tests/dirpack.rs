//! Directory-block packing (ufs_direnter, ufs_dirremove) on directory
//! blocks of real makefs images, checked by reading the directory back.

mod common;

use common::{makefs, pattern, Scratch};
use ffs::{dirblock_init, direnter, dirremove, dirsiz, Error, Fs, DIRBLKSIZ};

fn image() -> Vec<u8> {
    let s = Scratch::new("dirpack");
    let root = s.0.join("root");
    std::fs::create_dir_all(root.join("d")).unwrap();
    std::fs::write(root.join("d/file"), pattern(1, 100)).unwrap();
    makefs(&root, 2, 8192, 2)
}

fn names(img: &[u8], path: &str) -> Vec<String> {
    let fs = Fs::mount(img).unwrap();
    let ip = fs.inode(fs.lookup(path).unwrap()).unwrap();
    let mut out = Vec::new();
    fs.readdir(&ip, &mut |e| {
        out.push(String::from_utf8(e.name.to_vec()).unwrap());
        true
    })
    .unwrap();
    out
}

/// Byte offset and inode of directory `path`'s first chunk.
fn first_chunk(img: &[u8], path: &str) -> (usize, u32, u32) {
    let fs = Fs::mount(img).unwrap();
    let ino = fs.lookup(path).unwrap();
    let ip = fs.inode(ino).unwrap();
    let file = fs.lookup("/d/file").unwrap();
    ((ip.db[0] * fs.sb().fsize as u64) as usize, ino, file)
}

#[test]
fn dirsiz_counts_the_nul_and_rounds() {
    assert_eq!(dirsiz(1), 12);
    assert_eq!(dirsiz(3), 12);
    assert_eq!(dirsiz(4), 16);
    assert_eq!(dirsiz(255), 8 + 256);
}

#[test]
fn enter_until_full_then_remove() {
    let mut img = image();
    let (off, dir, file) = first_chunk(&img, "/d");
    let before = names(&img, "/d");
    assert_eq!(before, [".", "..", "file"]);
    let mut added = Vec::new();
    loop {
        let name = format!("name-{:03}", added.len());
        let chunk = &mut img[off..off + DIRBLKSIZ];
        if !direnter(dir, chunk, file, 8, name.as_bytes()).unwrap() {
            break;
        }
        added.push(name);
    }
    // 512 bytes: ".", ".." and "file" take 12 each, each new name 20.
    assert_eq!(added.len(), (DIRBLKSIZ - 36) / 20);
    let mut want: Vec<String> = before.clone();
    want.extend(added.iter().cloned());
    assert_eq!(names(&img, "/d"), want);

    let chunk = &mut img[off..off + DIRBLKSIZ];
    assert_eq!(dirremove(dir, chunk, b"name-003").unwrap(), Some(file));
    assert_eq!(dirremove(dir, chunk, b"name-003").unwrap(), None);
    assert_eq!(dirremove(dir, chunk, b"file").unwrap(), Some(file));
    want.retain(|n| n != "name-003" && n != "file");
    assert_eq!(names(&img, "/d"), want);
    // The freed space takes a new name again.
    let chunk = &mut img[off..off + DIRBLKSIZ];
    assert!(direnter(dir, chunk, file, 8, b"again").unwrap());
    assert!(names(&img, "/d").contains(&"again".to_string()));
}

#[test]
fn a_fresh_block_and_its_first_entry() {
    let mut chunk = [0xffu8; DIRBLKSIZ];
    dirblock_init(&mut chunk, 5, 8, b"only").unwrap();
    assert!(direnter(7, &mut chunk, 6, 4, b"second").unwrap());
    assert_eq!(dirremove(7, &mut chunk, b"only").unwrap(), Some(5));
    // The first entry is now unused; a name that fits goes there.
    assert!(direnter(7, &mut chunk, 9, 8, b"x").unwrap());
    assert_eq!(u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]), 9);
}

#[test]
fn bad_names_and_blocks_are_refused() {
    let mut chunk = [0u8; DIRBLKSIZ];
    dirblock_init(&mut chunk, 5, 8, b"a").unwrap();
    for name in [&b""[..], b"a/b", b"nul\0", &[b'x'; 256][..]] {
        assert!(matches!(direnter(1, &mut chunk, 2, 8, name), Err(Error::BadName { .. })));
    }
    let mut broken = [0u8; DIRBLKSIZ];
    assert!(matches!(direnter(1, &mut broken, 2, 8, b"x"), Err(Error::BadDirEntry { what: "record length", .. })));
    assert!(direnter(1, &mut chunk[..100], 2, 8, b"x").is_err());
}
