//! Damaged images: each must give a typed error that names the problem,
//! never a panic, a hang or a read outside the image.

mod common;

use common::{makefs, pattern, Scratch};
use ffs::{Error, Fs};

fn image(version: u32) -> Vec<u8> {
    let s = Scratch::new(&format!("corrupt{version}"));
    let root = s.0.join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("d/e")).unwrap();
    std::fs::write(root.join("etc/motd"), b"ppcbsd\n").unwrap();
    std::fs::write(root.join("big"), pattern(3, 200_000)).unwrap();
    std::fs::write(root.join("d/e/f"), pattern(4, 5000)).unwrap();
    makefs(&root, version, 8192, 2)
}

fn put32(img: &mut [u8], off: usize, v: u32) {
    img[off..off + 4].copy_from_slice(&v.to_be_bytes());
}

/// Reads everything reachable, the way the stub and kernel would.
fn walk(img: &[u8]) -> Result<u64, Error> {
    let fs = Fs::mount(img)?;
    let mut total = 0u64;
    let mut stack = vec![ffs::ROOTINO];
    let mut seen = 0;
    while let Some(ino) = stack.pop() {
        seen += 1;
        if seen > 1000 {
            break;
        }
        let ip = fs.inode(ino)?;
        if ip.is_dir() {
            let mut kids = Vec::new();
            fs.readdir(&ip, &mut |e| {
                if e.name != b"." && e.name != b".." {
                    kids.push(e.ino);
                }
                true
            })?;
            stack.extend(kids);
        } else {
            let mut buf = [0u8; 4096];
            let mut off = 0;
            // A damaged size can claim terabytes of holes; stop early.
            while off < 1 << 20 {
                let n = fs.read(&ip, off, &mut buf)?;
                if n == 0 {
                    break;
                }
                off += n as u64;
                total += n as u64;
            }
        }
    }
    fs.lookup("/etc/motd")?;
    Ok(total)
}

#[test]
fn intact_images_walk() {
    for v in [1, 2] {
        assert_eq!(walk(&image(v)).unwrap(), 7 + 200_000 + 5000);
    }
}

#[test]
fn truncated_images() {
    for v in [1, 2] {
        let img = image(v);
        for cut in [0, 100, 8192 + 100, 8192 + 1380, img.len() / 2, img.len() - 1] {
            let e = walk(&img[..cut]).unwrap_err();
            assert!(matches!(e, Error::NoSuperblock | Error::Truncated { .. } | Error::DeviceRange { .. }), "v{v} cut at {cut}: {e}");
        }
        let e = Fs::mount(&img[..img.len() / 2]).err().unwrap();
        assert!(e.to_string().contains("truncated"), "{e}");
    }
}

#[test]
fn missing_superblock() {
    for v in [1, 2] {
        let mut img = image(v);
        img[8192..16384].fill(0);
        img[65536..73728].fill(0);
        let e = Fs::mount(&img[..]).err().unwrap();
        assert_eq!(e, Error::NoSuperblock);
        assert_eq!(e.to_string(), "no superblock found (tried offsets 65536, 8192, 0, 262144)");
    }
}

/// Superblock fields set to nonsense, one at a time.
#[test]
fn bad_superblock_fields() {
    let cases: &[(usize, u32, &str)] = &[
        (48, 3000, "block size"),
        (48, 1 << 20, "block size"),
        (52, 100, "fragment size"),
        (56, 3, "fragments per block"),
        (44, 0, "cylinder group count"),
        (184, 7, "inodes per group"),
        (120, 99, "inodes per block"),
        (116, 5, "pointers per indirect block"),
        (16, 0, "inode block offset"),
    ];
    for v in [1, 2] {
        for &(off, val, name) in cases {
            let mut img = image(v);
            put32(&mut img, 8192 + off, val);
            let e = Fs::mount(&img[..]).err().unwrap_or_else(|| panic!("v{v}: {name} {val} accepted"));
            assert!(e.to_string().contains(name), "v{v} {name}: {e}");
        }
        // Inode blocks starting inside the block of the group's header.
        let mut img = image(v);
        let cblkno = u32::from_be_bytes(img[8192 + 12..8192 + 16].try_into().unwrap());
        put32(&mut img, 8192 + 16, cblkno + 1);
        let e = Fs::mount(&img[..]).err().unwrap_or_else(|| panic!("v{v}: inode blocks in the header's block accepted"));
        assert!(e.to_string().contains("inode block offset"), "v{v}: {e}");
        let mut img = image(v);
        if v == 1 {
            put32(&mut img, 8192 + 36, 0x7fff_ffff);
        } else {
            img[8192 + 1080..8192 + 1088].copy_from_slice(&(1u64 << 40).to_be_bytes());
        }
        assert!(Fs::mount(&img[..]).is_err(), "v{v}: huge fs_size accepted");
    }
}

fn root_inode_offset(img: &[u8]) -> usize {
    Fs::mount(img).unwrap().sb().inode_offset(ffs::ROOTINO).unwrap() as usize
}

#[test]
fn bad_root_inode() {
    for v in [1, 2] {
        let img = image(v);
        let off = root_inode_offset(&img);
        let (size_off, db_off, ptr) = if v == 1 { (8, 40, 4) } else { (16, 112, 8) };
        let mut bad = img.clone();
        bad[off + size_off..off + size_off + 8].copy_from_slice(&u64::MAX.to_be_bytes());
        let e = walk(&bad).unwrap_err();
        assert!(matches!(e, Error::BadInode { ino: 2, field: "size", .. }), "{e}");
        let mut bad = img.clone();
        bad[off + db_off..off + db_off + ptr].fill(0x7f);
        let e = walk(&bad).unwrap_err();
        assert!(matches!(e, Error::BadBlockPointer { ino: 2, .. }), "{e}");
        assert!(e.to_string().contains("beyond the file system"), "{e}");
    }
}

/// Byte offset of the root directory's first block.
fn root_dir_offset(img: &[u8]) -> usize {
    let fs = Fs::mount(img).unwrap();
    let ip = fs.inode(ffs::ROOTINO).unwrap();
    (ip.db[0] * fs.sb().fsize as u64) as usize
}

#[test]
fn bad_directory_entries() {
    for v in [1, 2] {
        let img = image(v);
        let d = root_dir_offset(&img);
        // The first entry is "." (12 bytes); the second starts at 12.
        let mut bad = img.clone();
        bad[d + 12 + 4..d + 12 + 6].copy_from_slice(&0u16.to_be_bytes());
        assert!(matches!(walk(&bad).unwrap_err(), Error::BadDirEntry { what: "record length", .. }));
        let mut bad = img.clone();
        bad[d + 12 + 4..d + 12 + 6].copy_from_slice(&4000u16.to_be_bytes());
        let e = walk(&bad).unwrap_err();
        assert!(e.to_string().contains("crossing its block"), "{e}");
        let mut bad = img.clone();
        bad[d + 7] = 0;
        assert!(matches!(walk(&bad).unwrap_err(), Error::BadDirEntry { what: "name length", .. }));
        let mut bad = img.clone();
        put32(&mut bad, d + 12, 0x00ff_ffff);
        assert!(matches!(walk(&bad).unwrap_err(), Error::BadDirEntry { what: "inode number", .. }));
    }
}

/// Random damage to the metadata: mount, walk and read everything, and
/// require only that it ends (Ok or Err) without panicking.
#[test]
fn mutation_fuzz() {
    for v in [1, 2] {
        let img = image(v);
        let fs = Fs::mount(&img[..]).unwrap();
        let sb = *fs.sb();
        let ino_area = sb.inode_offset(ffs::ROOTINO).unwrap() as usize & !4095;
        let regions = [(8192usize, 8192 + 1400), (ino_area, ino_area + 8192), (root_dir_offset(&img), root_dir_offset(&img) + 512)];
        let mut x = 0x1234_5678_9abc_def0u64 ^ v as u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut m = img.clone();
        for _ in 0..1000 {
            let mut changed = Vec::new();
            for _ in 0..1 + next() % 4 {
                let (lo, hi) = regions[(next() % regions.len() as u64) as usize];
                let at = lo + (next() as usize) % (hi - lo);
                changed.push(at);
                m[at] = next() as u8;
            }
            let _ = walk(&m);
            for at in changed {
                m[at] = img[at];
            }
        }
    }
}
