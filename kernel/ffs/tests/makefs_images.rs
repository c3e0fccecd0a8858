//! The reader against images makefs wrote: every byte of files of many
//! sizes (direct, single and double indirect blocks), nested and large
//! directories, both FFS versions, 4K to 32K blocks.

mod common;

use common::{makefs, pattern, Scratch};
use ffs::{Error, FileType, Fs, Version};
use std::collections::BTreeSet;

/// Reads a whole file through `Fs::read` in chunks of `chunk` bytes.
pub fn read_all(fs: &ffs::Fs<&[u8]>, path: &str, chunk: usize) -> Vec<u8> {
    let ip = fs.inode(fs.lookup(path).unwrap_or_else(|e| panic!("lookup {path}: {e}"))).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; chunk];
    loop {
        let n = fs.read(&ip, out.len() as u64, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    assert_eq!(out.len() as u64, ip.size, "{path}: read {} bytes of {}", out.len(), ip.size);
    out
}

/// Sizes around every boundary the block tree has, for block size `b`.
fn sizes(b: usize) -> Vec<usize> {
    vec![0, 1, 511, 512, b / 8 - 1, b / 8, b - 1, b, b + 1, 12 * b - 1, 12 * b, 12 * b + 1, 12 * b + 3 * b + 17]
}

fn build_tree(s: &Scratch, b: usize) -> Vec<(String, Vec<u8>)> {
    let root = s.0.join("root");
    let mut files = Vec::new();
    for (i, n) in sizes(b).into_iter().enumerate() {
        files.push((format!("/sizes/f{i}_{n}"), pattern(i as u64 + 1, n)));
    }
    files.push(("/a/b/c/d/deep.txt".into(), b"deep\n".to_vec()));
    files.push(("/etc/motd".into(), b"ppcbsd test image\n".to_vec()));
    for (p, data) in &files {
        let full = root.join(&p[1..]);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, data).unwrap();
    }
    std::fs::create_dir_all(root.join("empty")).unwrap();
    files
}

/// bmap_run agrees with bmap block by block: the first block, and a run
/// that ends where bmap's blocks stop following one another (or at `max`,
/// or at the end of the pointer block: the direct pointers, or an indirect
/// block's `nindir`).
fn assert_bmap_runs(fs: &Fs<&[u8]>, ip: &ffs::Inode) {
    let (bsize, frag, nindir) = (fs.sb().bsize as u64, fs.sb().frag as u64, fs.sb().nindir as u64);
    let nblocks = ip.size.div_ceil(bsize) + 1;
    for lbn in 0..nblocks {
        for max in [1usize, 3, 8, 20] {
            let got = fs.bmap_run(ip, lbn, max).unwrap();
            let Some(first) = fs.bmap(ip, lbn).unwrap() else {
                assert_eq!(got, None, "lbn {lbn}: a hole");
                continue;
            };
            // The pointer block that maps lbn ends at 12, then every nindir
            // (single indirect), then nindir * nindir...
            let end = if lbn < 12 { 12 } else { 12 + ((lbn - 12) / nindir + 1) * nindir };
            let mut want = 1;
            while want < max && lbn + (want as u64) < end && fs.bmap(ip, lbn + want as u64).unwrap() == Some(first + want as u64 * frag) {
                want += 1;
            }
            assert_eq!(got, Some((first, want)), "lbn {lbn} max {max}");
        }
    }
}

fn check_image(version: u32, bsize: u32) {
    let s = Scratch::new(&format!("v{version}b{bsize}"));
    let files = build_tree(&s, bsize as usize);
    let img = makefs(&s.0.join("root"), version, bsize, 16);
    let fs = Fs::mount(&img[..]).unwrap();
    assert_eq!(fs.sb().bsize, bsize);
    assert_eq!(fs.sb().version, if version == 1 { Version::Ufs1 } else { Version::Ufs2 });
    for cg in 0..fs.sb().ncg {
        fs.check_cg(cg).unwrap();
        fs.cg_summary(cg).unwrap();
        // A group's whole inode area is its inodes, and its header none.
        let sb = fs.sb();
        // inode_offset refuses inode 0, so group 0's area is found from 2.
        let skip = if cg == 0 { 2 } else { 0 };
        let start = sb.inode_offset(cg * sb.ipg + skip).unwrap() - skip as u64 * sb.dinode_size() as u64;
        let area = sb.ipg as u64 * sb.dinode_size() as u64;
        assert_eq!(sb.inodes_at(start, area), Some(cg * sb.ipg..=(cg + 1) * sb.ipg - 1));
        assert_eq!(sb.inodes_at(sb.cg_offset(cg).unwrap(), sb.cgsize as u64), None);
    }
    for (path, data) in &files {
        for chunk in [1usize, 100, 4096, 65536] {
            if chunk == 1 && data.len() > 20_000 {
                continue;
            }
            assert!(read_all(&fs, path, chunk) == *data, "{path}: contents differ (chunk {chunk}, v{version}, b{bsize})");
        }
        let ip = fs.inode(fs.lookup(path).unwrap()).unwrap();
        assert_eq!(ip.kind(), FileType::Regular);
        assert_bmap_runs(&fs, &ip);
        // inodes_at names the inode whose bytes a write meets, and none
        // for a write to the file's data.
        let sb = fs.sb();
        let at = sb.inode_offset(ip.ino).unwrap();
        let dsize = sb.dinode_size() as u64;
        assert_eq!(sb.inodes_at(at, dsize), Some(ip.ino..=ip.ino));
        assert_eq!(sb.inodes_at(at + 1, 1), Some(ip.ino..=ip.ino));
        assert_eq!(sb.inodes_at(at, dsize + 1), Some(ip.ino..=ip.ino + 1));
        if let Some(blk) = fs.bmap(&ip, 0).unwrap() {
            assert_eq!(sb.inodes_at(sb.frag_offset(blk).unwrap(), sb.fsize as u64), None, "{path}: its data is not an inode");
        }
        let mut buf = [0u8; 16];
        assert_eq!(fs.read(&ip, ip.size, &mut buf).unwrap(), 0, "read at EOF");
        assert_eq!(fs.read(&ip, ip.size + 100, &mut buf).unwrap(), 0, "read past EOF");
    }
    // A read starting just before a block boundary stops at it.
    let big = files.iter().find(|(p, d)| p.starts_with("/sizes/") && d.len() > 12 * bsize as usize).unwrap();
    let ip = fs.inode(fs.lookup(&big.0).unwrap()).unwrap();
    let mut buf = vec![0u8; 100];
    let n = fs.read(&ip, bsize as u64 - 10, &mut buf).unwrap();
    assert_eq!(n, 10);
    assert_eq!(&buf[..10], &big.1[bsize as usize - 10..bsize as usize]);

    let empty = fs.inode(fs.lookup("/empty").unwrap()).unwrap();
    assert!(empty.is_dir());
    let mut names = Vec::new();
    fs.readdir(&empty, &mut |e| {
        names.push(String::from_utf8(e.name.to_vec()).unwrap());
        true
    })
    .unwrap();
    assert_eq!(names, [".", ".."]);
}

#[test]
fn ufs1_4k() {
    check_image(1, 4096);
}
#[test]
fn ufs1_8k() {
    check_image(1, 8192);
}
#[test]
fn ufs1_16k() {
    check_image(1, 16384);
}
#[test]
fn ufs1_32k() {
    check_image(1, 32768);
}
#[test]
fn ufs2_4k() {
    check_image(2, 4096);
}
#[test]
fn ufs2_8k() {
    check_image(2, 8192);
}
#[test]
fn ufs2_16k() {
    check_image(2, 16384);
}
#[test]
fn ufs2_32k() {
    check_image(2, 32768);
}

/// Files that need a double indirect block: beyond 12 + nindir blocks.
#[test]
fn double_indirect() {
    for version in [1, 2] {
        let s = Scratch::new("dbl");
        let root = s.0.join("root");
        std::fs::create_dir_all(&root).unwrap();
        let nindir = if version == 1 { 1024 } else { 512 };
        let len = (12 + nindir + 40) * 4096 + 123;
        let data = pattern(77, len);
        std::fs::write(root.join("big"), &data).unwrap();
        let img = makefs(&root, version, 4096, 16);
        let fs = Fs::mount(&img[..]).unwrap();
        let ip = fs.inode(fs.lookup("/big").unwrap()).unwrap();
        assert_ne!(ip.ib[1], 0, "v{version}: a {len}-byte file should use the double indirect block");
        assert!(read_all(&fs, "/big", 65536) == data, "v{version}: double-indirect contents differ");
        assert!(read_all(&fs, "/big", 3000) == data, "v{version}: contents differ with odd chunks");
    }
}

#[test]
fn nested_and_large_directories() {
    let s = Scratch::new("dirs");
    let root = s.0.join("root");
    std::fs::create_dir_all(root.join("a/b/c")).unwrap();
    std::fs::write(root.join("a/b/c/file"), b"x").unwrap();
    std::os::unix::fs::symlink("a/b/c/file", root.join("link")).unwrap();
    std::fs::create_dir_all(root.join("many")).unwrap();
    let mut want = BTreeSet::new();
    for i in 0..300 {
        let name = format!("entry-with-a-longish-name-{i:04}");
        std::fs::write(root.join("many").join(&name), i.to_string()).unwrap();
        want.insert(name);
    }
    for version in [1, 2] {
        let img = makefs(&root, version, 8192, 16);
        let fs = Fs::mount(&img[..]).unwrap();
        let many = fs.inode(fs.lookup("/many").unwrap()).unwrap();
        assert!(many.size > 512, "300 entries should span several directory blocks");
        let mut got = BTreeSet::new();
        fs.readdir(&many, &mut |e| {
            if e.name != b"." && e.name != b".." {
                assert_eq!(e.kind, FileType::Regular);
                got.insert(String::from_utf8(e.name.to_vec()).unwrap());
            }
            true
        })
        .unwrap();
        assert_eq!(got, want);
        assert_eq!(read_all(&fs, "/many/entry-with-a-longish-name-0299", 10), b"299");
        let link = fs.inode(fs.lookup("/link").unwrap()).unwrap();
        assert_eq!(link.kind(), FileType::Symlink);
        assert!(fs.is_fast_symlink(&link), "a short symlink keeps its target in the inode");
        assert_eq!(read_all(&fs, "/link", 4), b"a/b/c/file");
        let file = fs.lookup("/a/b/c/file").unwrap();
        assert_eq!(fs.lookup("//a/./b//c/file").unwrap(), file);
        assert_eq!(fs.lookup("/a/b/c/../c/file").unwrap(), file);
        assert_eq!(fs.lookup("/").unwrap(), ffs::ROOTINO);
        assert_eq!(fs.lookup("/a/b/../..").unwrap(), ffs::ROOTINO);
        assert_eq!(fs.lookup("/a/nope"), Err(Error::NotFound));
        assert!(matches!(fs.lookup("/a/b/c/file/x"), Err(Error::NotADirectory { .. })));
        let mut n = 0;
        fs.readdir(&many, &mut |_| {
            n += 1;
            n < 5
        })
        .unwrap();
        assert_eq!(n, 5, "readdir did not stop when asked");
        let file_ip = fs.inode(file).unwrap();
        assert!(matches!(fs.readdir(&file_ip, &mut |_| true), Err(Error::NotADirectory { .. })));
    }
}
