//! The Berkeley Fast File System on-disk format, read side: UFS1 and UFS2,
//! big-endian as NetBSD's `makefs -B be` writes them. Shared by the boot
//! stub, the kernel and xtask, so it allocates nothing and trusts nothing:
//! every value read from the image is checked before it is used, and a bad
//! or truncated image gives an [`Error`] that names what is wrong.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;

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
        if lbn < NDADDR as u64 {
            return Ok(Some(ip.db[lbn as usize]).filter(|&b| b != 0));
        }
        let nindir = self.sb.nindir as u64;
        let mut rel = lbn - NDADDR as u64;
        let mut span = 1u64;
        for level in 0..NIADDR {
            span = span.checked_mul(nindir).ok_or(Error::FileTooBig { ino: ip.ino })?;
            if rel < span {
                let mut blk = ip.ib[level];
                let mut sub = span;
                for _ in 0..=level {
                    if blk == 0 {
                        return Ok(None);
                    }
                    sub /= nindir;
                    blk = self.indirect(ip.ino, blk, rel / sub)?;
                    rel %= sub;
                }
                return Ok(Some(blk).filter(|&b| b != 0));
            }
            rel -= span;
        }
        Err(Error::FileTooBig { ino: ip.ino })
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
