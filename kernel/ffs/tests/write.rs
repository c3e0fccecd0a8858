//! The write side on makefs images: a seeded run of creates, writes,
//! truncates, removes, mkdirs and rmdirs against a model of what the files
//! hold, then fsck and a read-back of every file.

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;

use common::{makefs_with, pattern, Scratch};
use ffs::{Device, DeviceMut, Error, Fs, Inode, ROOTINO};

struct Mem(RefCell<Vec<u8>>);

impl Device for Mem {
    fn len(&self) -> u64 {
        self.0.borrow().len() as u64
    }
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<(), Error> {
        self.0.borrow().as_slice().read_at(off, buf)
    }
}

impl DeviceMut for Mem {
    fn write_at(&self, off: u64, buf: &[u8]) -> Result<(), Error> {
        let mut v = self.0.borrow_mut();
        let end = off as usize + buf.len();
        if end > v.len() {
            return Err(Error::DeviceRange { off, len: buf.len() as u64, size: v.len() as u64 });
        }
        v[off as usize..end].copy_from_slice(buf);
        Ok(())
    }
}

const S_IFREG: u16 = 0o100644;
const S_IFDIR: u16 = 0o040755;
const DT_REG: u8 = 8;
const DT_DIR: u8 = 4;

struct Rng(u64);

impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn write_all(fs: &Fs<Mem>, ip: &mut Inode, mut off: u64, mut data: &[u8]) {
    while !data.is_empty() {
        let n = fs.write(ip, off, data).unwrap();
        off += n as u64;
        data = &data[n..];
    }
}

fn read_all(fs: &Fs<Mem>, ip: &Inode) -> Vec<u8> {
    let mut out = vec![0u8; ip.size as usize];
    let mut got = 0;
    while got < out.len() {
        got += fs.read(ip, got as u64, &mut out[got..]).unwrap();
    }
    out
}

/// Files by (directory inode, name) → contents; directories by inode.
struct Model {
    files: BTreeMap<(u32, String), Vec<u8>>,
    dirs: Vec<u32>,
}

fn run(version: u32, bsize: u32, seed: u64, ops: usize) {
    let s = Scratch::new("write");
    let root = s.0.join("root");
    std::fs::create_dir_all(root.join("d")).unwrap();
    std::fs::write(root.join("d/old"), pattern(1, 5000)).unwrap();
    let img = makefs_with(&root, version, bsize, 24, &["-f", "600"]);
    let fs = Fs::mount(Mem(RefCell::new(img))).unwrap();
    let mut m = Model { files: BTreeMap::new(), dirs: vec![ROOTINO] };
    let d = fs.lookup("/d").unwrap();
    m.dirs.push(d);
    m.files.insert((d, "old".into()), pattern(1, 5000));
    let mut rng = Rng(seed | 1);
    let sizes = [0u64, 1, 100, 511, 4097, (bsize / 8) as u64 * 3 + 7, bsize as u64 * 12 + 3, bsize as u64 * 20];
    for i in 0..ops {
        let dir = m.dirs[rng.next(m.dirs.len() as u64) as usize];
        match rng.next(10) {
            0..=3 => {
                let name = format!("f{i}");
                let mut ip = fs.ialloc(dir / fs.sb().ipg, S_IFREG).unwrap();
                ip.nlink = 1;
                fs.write_inode(&ip).unwrap();
                let mut dp = fs.inode(dir).unwrap();
                fs.dir_enter(&mut dp, name.as_bytes(), ip.ino, DT_REG).unwrap();
                let data = pattern(seed + i as u64, sizes[rng.next(sizes.len() as u64) as usize] as usize);
                write_all(&fs, &mut ip, 0, &data);
                m.files.insert((dir, name), data);
            }
            4..=5 if !m.files.is_empty() => {
                let k = m.files.keys().nth(rng.next(m.files.len() as u64) as usize).unwrap().clone();
                let ino = fs.dirlookup(&fs.inode(k.0).unwrap(), k.1.as_bytes()).unwrap().unwrap();
                let mut ip = fs.inode(ino).unwrap();
                let data = m.files.get_mut(&k).unwrap();
                if rng.next(2) == 0 {
                    let len = sizes[rng.next(sizes.len() as u64) as usize];
                    fs.truncate(&mut ip, len).unwrap();
                    data.resize(len as usize, 0);
                } else {
                    let off = rng.next(data.len() as u64 + 2 * bsize as u64);
                    let more = pattern(i as u64, rng.next(3 * bsize as u64) as usize + 1);
                    write_all(&fs, &mut ip, off, &more);
                    if data.len() < off as usize + more.len() {
                        data.resize(off as usize + more.len(), 0);
                    }
                    data[off as usize..off as usize + more.len()].copy_from_slice(&more);
                }
            }
            6 if !m.files.is_empty() => {
                let k = m.files.keys().nth(rng.next(m.files.len() as u64) as usize).unwrap().clone();
                let mut dp = fs.inode(k.0).unwrap();
                let ino = fs.dir_remove(&mut dp, k.1.as_bytes()).unwrap().unwrap();
                let mut ip = fs.inode(ino).unwrap();
                fs.truncate(&mut ip, 0).unwrap();
                fs.ifree(ino, false).unwrap();
                m.files.remove(&k);
            }
            7 => {
                let name = format!("d{i}");
                let mut ip = fs.ialloc(0, S_IFDIR).unwrap();
                ip.nlink = 2;
                fs.dir_init(&mut ip, dir).unwrap();
                let mut dp = fs.inode(dir).unwrap();
                fs.dir_enter(&mut dp, name.as_bytes(), ip.ino, DT_DIR).unwrap();
                dp.nlink += 1;
                fs.write_inode(&dp).unwrap();
                m.dirs.push(ip.ino);
            }
            8 => {
                // rmdir of an empty directory other than the root.
                let Some(pos) =
                    m.dirs.iter().position(|&x| x != ROOTINO && !m.files.keys().any(|k| k.0 == x) && fs.dir_isempty(&fs.inode(x).unwrap()).unwrap())
                else {
                    continue;
                };
                let x = m.dirs.remove(pos);
                let parent = fs.dirlookup(&fs.inode(x).unwrap(), b"..").unwrap().unwrap();
                let mut dp = fs.inode(parent).unwrap();
                let name = {
                    let mut n = None;
                    fs.readdir(&dp, &mut |e| {
                        if e.ino == x && e.name != b"." {
                            n = Some(e.name.to_vec());
                        }
                        n.is_none()
                    })
                    .unwrap();
                    n.unwrap()
                };
                assert_eq!(fs.dir_remove(&mut dp, &name).unwrap(), Some(x));
                dp.nlink -= 1;
                fs.write_inode(&dp).unwrap();
                let mut ip = fs.inode(x).unwrap();
                fs.truncate(&mut ip, 0).unwrap();
                fs.ifree(x, true).unwrap();
            }
            _ => {}
        }
    }
    for ((dir, name), data) in &m.files {
        let ino = fs.dirlookup(&fs.inode(*dir).unwrap(), name.as_bytes()).unwrap().unwrap();
        let got = read_all(&fs, &fs.inode(ino).unwrap());
        assert!(got == *data, "UFS{version} {bsize}: {name} in {dir}: {} bytes read, {} expected", got.len(), data.len());
    }
    let img = fs_bytes(fs);
    let r = ffs::fsck::check(&img).unwrap();
    assert_eq!(r.problems, Vec::<String>::new(), "UFS{version}, {bsize}-byte blocks, seed {seed}");
    assert_eq!(r.files as usize, m.files.len());
}

fn fs_bytes(fs: Fs<Mem>) -> Vec<u8> {
    let mut out = vec![0u8; fs.sb().size as usize * fs.sb().fsize as usize];
    fs.device_read(0, &mut out).unwrap();
    out
}

#[test]
fn random_operations_keep_the_image_consistent() {
    for (v, b, seed) in [(2, 4096, 1), (1, 4096, 2), (2, 8192, 3), (1, 16384, 4), (2, 32768, 5)] {
        run(v, b, seed, 300);
    }
}

#[test]
fn full_file_system_is_an_error() {
    let s = Scratch::new("full");
    let root = s.0.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let fs = Fs::mount(Mem(RefCell::new(makefs_with(&root, 2, 4096, 2, &[])))).unwrap();
    let mut ip = fs.ialloc(0, S_IFREG).unwrap();
    ip.nlink = 1;
    let mut dp = fs.inode(ROOTINO).unwrap();
    fs.dir_enter(&mut dp, b"big", ip.ino, DT_REG).unwrap();
    let chunk = vec![5u8; 4096];
    let mut off = 0;
    let err = loop {
        match fs.write(&mut ip, off, &chunk) {
            Ok(n) => off += n as u64,
            Err(e) => break e,
        }
    };
    assert_eq!(err, Error::NoSpace { what: "blocks" });
    let img = fs_bytes(fs);
    assert_eq!(ffs::fsck::check(&img).unwrap().problems, Vec::<String>::new());
}

/// A damaged inode map (an inode in use marked free) must not make ialloc
/// hand the live inode out again: it is an error naming the inode, and
/// the file keeps its inode.
#[test]
fn an_inode_in_use_but_free_in_its_map_is_not_handed_out() {
    for version in [1, 2] {
        let s = Scratch::new(&format!("dupalloc{version}"));
        let root = s.0.join("root");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("f"), b"live data").unwrap();
        let mut img = makefs_with(&root, version, 8192, 2, &[]);
        let (ino, iu) = {
            let fs = Fs::mount(&img[..]).unwrap();
            (fs.lookup("/f").unwrap(), fs.cg_maps(0).unwrap().0)
        };
        img[(iu + ino as u64 / 8) as usize] &= !(1 << (ino % 8));
        let fs = Fs::mount(Mem(RefCell::new(img))).unwrap();
        let err = fs.ialloc(0, S_IFREG).unwrap_err();
        assert!(matches!(err, Error::BadInode { ino: i, field, .. } if i == ino && field.contains("dup alloc")), "UFS{version}: {err:?}");
        let ip = fs.inode(ino).unwrap();
        assert_eq!(read_all(&fs, &ip), b"live data");
    }
}
