//! The Berkeley Fast File System on-disk format, read side: UFS1 and UFS2,
//! big-endian as NetBSD's `makefs -B be` writes them. Shared by the boot
//! stub, the kernel and xtask, so it allocates nothing and trusts nothing:
//! every value read from the image is checked before it is used, and a bad
//! or truncated image gives an [`Error`] that names what is wrong.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;

mod bytes;
pub mod cgalloc;
mod dinode;
mod dir;
mod error;
mod fs;
#[cfg(feature = "alloc")]
pub mod fsck;
mod param;
#[cfg(feature = "alloc")]
mod write;

pub use dinode::{FileType, Inode};
pub use dir::{dirblock_init, direnter, dirremove, dirrewrite, dirsiz, DirEntry, DIRBLKSIZ};
pub use error::Error;
pub use fs::{Csum, Superblock, Version};
#[cfg(feature = "alloc")]
pub use write::{edit_copy, DeviceMut};

use param::{NDADDR, NIADDR};

/// Where the image lives: a byte slice, or anything that reads at offsets.
pub trait Device {
    /// Bytes in the device.
    fn len(&self) -> u64;
    /// Fills `buf` from byte offset `off`; out of range is an error.
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<(), Error>;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Device for [u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<(), Error> {
        let err = Error::DeviceRange { off, len: buf.len() as u64, size: Device::len(self) };
        let start = usize::try_from(off).map_err(|_| err)?;
        let end = start.checked_add(buf.len()).ok_or(err)?;
        buf.copy_from_slice(self.get(start..end).ok_or(err)?);
        Ok(())
    }
}

impl<T: Device + ?Sized> Device for &T {
    fn len(&self) -> u64 {
        (**self).len()
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<(), Error> {
        (**self).read_at(off, buf)
    }
}

/// The root directory's inode number (ROOTINO).
pub const ROOTINO: u32 = 2;
/// Most path components a lookup walks (bounds the work on a looping image).
const MAXCOMPONENTS: usize = 256;

/// A mounted (read-only) file system.
pub struct Fs<D: Device> {
    dev: D,
    sb: Superblock,
}

impl<D: Device> Fs<D> {
    /// Finds and checks the superblock.
    pub fn mount(dev: D) -> Result<Self, Error> {
        let sb = fs::read_superblock(&dev)?;
        Ok(Fs { dev, sb })
    }

    pub fn sb(&self) -> &Superblock {
        &self.sb
    }

    /// Raw bytes of the device (for checkers that read metadata themselves).
    pub fn device_read(&self, off: u64, buf: &mut [u8]) -> Result<(), Error> {
        self.dev.read_at(off, buf)
    }

    /// Reads inode `ino` and checks it.
    pub fn inode(&self, ino: u32) -> Result<Inode, Error> {
        let off = self.sb.inode_offset(ino)?;
        let mut b = [0u8; crate::param::UFS2_DINODE_SIZE];
        let size = self.sb.dinode_size();
        self.device_read(off, &mut b[..size])?;
        let ip = dinode::parse(self.sb.version, ino, &b[..size]);
        dinode::check(&self.sb, &ip)?;
        Ok(ip)
    }

    /// Whether `ip` is a symbolic link kept inside the inode (its `read`
    /// gives the target; it has no blocks).
    pub fn is_fast_symlink(&self, ip: &Inode) -> bool {
        dinode::is_fast_symlink(&self.sb, ip)
    }

    /// Reads one block pointer from an indirect block.
    fn indirect(&self, ino: u32, blk: u64, idx: u64) -> Result<u64, Error> {
        let psize = self.sb.ptr_size();
        let off = self.sb.frag_offset(blk)? + idx * psize;
        let mut b = [0u8; 8];
        self.device_read(off, &mut b[..psize as usize])?;
        let p = match psize {
            4 => u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64,
            _ => u64::from_be_bytes(b),
        };
        self.sb.check_blkptr(ino, p)?;
        Ok(p)
    }

    /// Logical block `lbn` of a file to a fragment address (OpenBSD
    /// ufs_bmaparray); None for a hole.
    pub fn bmap(&self, ip: &Inode, lbn: u64) -> Result<Option<u64>, Error> {
        Ok(self.bmap_run(ip, lbn, 1)?.map(|(blk, _)| blk))
    }

    /// `bmap`, and how many blocks from `lbn` on (at least 1, at most
    /// `max`) lie one after another on the disk, counted within the
    /// pointers that map `lbn` (the inode's direct ones or one indirect
    /// block), as ufs_bmaparray counts its run; None for a hole.
    pub fn bmap_run(&self, ip: &Inode, lbn: u64, max: usize) -> Result<Option<(u64, usize)>, Error> {
        let frag = self.sb.frag as u64;
        let max = max.max(1);
        if lbn < NDADDR as u64 {
            let first = lbn as usize;
            let Some(blk) = Some(ip.db[first]).filter(|&b| b != 0) else { return Ok(None) };
            self.sb.check_blkptr(ip.ino, blk)?;
            let next = |k: usize| ip.db[first + k] == blk + k as u64 * frag && self.sb.check_blkptr(ip.ino, ip.db[first + k]).is_ok();
            let run = (1..max.min(NDADDR - first)).take_while(|&k| next(k)).count() + 1;
            return Ok(Some((blk, run)));
        }
        let nindir = self.sb.nindir as u64;
        let mut rel = lbn - NDADDR as u64;
        let mut span = 1u64;
        for level in 0..NIADDR {
            span = span.checked_mul(nindir).ok_or(Error::FileTooBig { ino: ip.ino })?;
            if rel < span {
                let mut blk = ip.ib[level];
                let mut sub = span;
                for _ in 0..level {
                    if blk == 0 {
                        return Ok(None);
                    }
                    sub /= nindir;
                    blk = self.indirect(ip.ino, blk, rel / sub)?;
                    rel %= sub;
                }
                if blk == 0 {
                    return Ok(None);
                }
                return self.indirect_run(ip.ino, blk, rel, max.min((nindir - rel) as usize));
            }
            rel -= span;
        }
        Err(Error::FileTooBig { ino: ip.ino })
    }

    /// Pointer `idx` of indirect block `blk` and the run of up to `max`
    /// pointers from it that follow one another on the disk, read 64 bytes
    /// at a time.
    fn indirect_run(&self, ino: u32, blk: u64, idx: u64, max: usize) -> Result<Option<(u64, usize)>, Error> {
        let psize = self.sb.ptr_size() as usize;
        let frag = self.sb.frag as u64;
        let base = self.sb.frag_offset(blk)? + idx * psize as u64;
        let (mut first, mut run) = (0u64, 0usize);
        let mut b = [0u8; 64];
        while run < max {
            let n = (max - run).min(b.len() / psize);
            self.device_read(base + (run * psize) as u64, &mut b[..n * psize])?;
            for k in 0..n {
                let p = match psize {
                    4 => u32::from_be_bytes(b[4 * k..4 * k + 4].try_into().expect("4 bytes")) as u64,
                    _ => u64::from_be_bytes(b[8 * k..8 * k + 8].try_into().expect("8 bytes")),
                };
                if run == 0 {
                    if p == 0 {
                        return Ok(None);
                    }
                    self.sb.check_blkptr(ino, p)?;
                    first = p;
                } else if p != first + run as u64 * frag || self.sb.check_blkptr(ino, p).is_err() {
                    return Ok(Some((first, run)));
                }
                run += 1;
            }
        }
        Ok(Some((first, run)))
    }

    /// Reads from byte `off` of the file into `buf`: the bytes read, which
    /// may be fewer than asked (the rest of one block at most); 0 at the end.
    /// Holes read as zeros.
    pub fn read(&self, ip: &Inode, off: u64, buf: &mut [u8]) -> Result<usize, Error> {
        if off >= ip.size || buf.is_empty() {
            return Ok(0);
        }
        if self.is_fast_symlink(ip) {
            let mut inline = [0u8; 120];
            let len = dinode::inline_bytes(&self.sb, ip, &mut inline).min(ip.size as usize);
            let n = (len - off as usize).min(buf.len());
            buf[..n].copy_from_slice(&inline[off as usize..off as usize + n]);
            return Ok(n);
        }
        let bsize = self.sb.bsize as u64;
        let lbn = off / bsize;
        let boff = off % bsize;
        let n = (bsize - boff).min(ip.size - off).min(buf.len() as u64) as usize;
        match self.bmap(ip, lbn)? {
            Some(blk) => self.device_read(self.sb.frag_offset(blk)? + boff, &mut buf[..n])?,
            None => buf[..n].fill(0),
        }
        Ok(n)
    }

    /// Calls `f` on every entry of a directory, in order, until it returns
    /// false.
    pub fn readdir(&self, dir: &Inode, f: &mut dyn FnMut(&DirEntry) -> bool) -> Result<(), Error> {
        if dir.kind() != FileType::Dir {
            return Err(Error::NotADirectory { ino: dir.ino });
        }
        let mut chunk = [0u8; dir::DIRBLKSIZ];
        let mut off = 0u64;
        while off < dir.size {
            chunk.fill(0);
            let want = (dir.size - off).min(dir::DIRBLKSIZ as u64) as usize;
            let mut got = 0;
            while got < want {
                let n = self.read(dir, off + got as u64, &mut chunk[got..want])?;
                if n == 0 {
                    break;
                }
                got += n;
            }
            if !dir::walk_chunk(&self.sb, dir.ino, off, &chunk[..want], f)? {
                return Ok(());
            }
            off += dir::DIRBLKSIZ as u64;
        }
        Ok(())
    }

    /// The inode number of `name` in directory `dir`.
    pub fn dirlookup(&self, dir: &Inode, name: &[u8]) -> Result<Option<u32>, Error> {
        let mut found = None;
        self.readdir(dir, &mut |e| {
            if e.name == name {
                found = Some(e.ino);
                false
            } else {
                true
            }
        })?;
        Ok(found)
    }

    /// Resolves an absolute path to an inode number. Symbolic links are not
    /// followed: a link names its own inode.
    pub fn lookup(&self, path: &str) -> Result<u32, Error> {
        let mut ino = ROOTINO;
        for (n, comp) in path.split('/').filter(|c| !c.is_empty() && *c != ".").enumerate() {
            if n == MAXCOMPONENTS {
                return Err(Error::PathTooLong);
            }
            let dir = self.inode(ino)?;
            if dir.kind() != FileType::Dir {
                return Err(Error::NotADirectory { ino });
            }
            ino = self.dirlookup(&dir, comp.as_bytes())?.ok_or(Error::NotFound)?;
        }
        Ok(ino)
    }
}
