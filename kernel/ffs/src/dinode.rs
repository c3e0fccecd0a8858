//! On-disk inodes (ufs1_dinode, 128 bytes; ufs2_dinode, 256 bytes).

use crate::bytes::{be16, be32, be64};
use crate::fs::{Superblock, Version};
use crate::Error;

use crate::param::{NDADDR, NIADDR};

const IFMT: u16 = 0o170000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    Fifo,
    Char,
    Dir,
    Block,
    Regular,
    Symlink,
    Socket,
    Unknown(u8),
}

impl FileType {
    /// From the IFMT bits of di_mode.
    pub fn from_mode(mode: u16) -> FileType {
        match mode & IFMT {
            0o010000 => FileType::Fifo,
            0o020000 => FileType::Char,
            0o040000 => FileType::Dir,
            0o060000 => FileType::Block,
            0o100000 => FileType::Regular,
            0o120000 => FileType::Symlink,
            0o140000 => FileType::Socket,
            m => FileType::Unknown((m >> 12) as u8),
        }
    }

    /// From a directory entry's d_type (DT_*).
    pub fn from_dtype(t: u8) -> FileType {
        match t {
            1 => FileType::Fifo,
            2 => FileType::Char,
            4 => FileType::Dir,
            6 => FileType::Block,
            8 => FileType::Regular,
            10 => FileType::Symlink,
            12 => FileType::Socket,
            t => FileType::Unknown(t),
        }
    }
}

/// An inode, the same for both versions; pointers are fragment addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inode {
    pub ino: u32,
    pub mode: u16,
    pub nlink: u16,
    pub size: u64,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub flags: u32,
    /// 512-byte sectors held.
    pub blocks: u64,
    pub db: [u64; NDADDR],
    pub ib: [u64; NIADDR],
}

impl Inode {
    pub fn kind(&self) -> FileType {
        FileType::from_mode(self.mode)
    }

    pub fn is_dir(&self) -> bool {
        self.kind() == FileType::Dir
    }
}

/// A symbolic link whose target sits in the block-pointer area itself.
pub fn is_fast_symlink(sb: &Superblock, ip: &Inode) -> bool {
    ip.kind() == FileType::Symlink && ip.size < sb.maxsymlinklen as u64 && ip.blocks == 0
}

/// The bytes of the block-pointer area, as they are on disk (a fast
/// symlink's target).
pub fn inline_bytes(sb: &Superblock, ip: &Inode, out: &mut [u8; 120]) -> usize {
    let psize = sb.ptr_size() as usize;
    for (i, v) in ip.db.iter().chain(ip.ib.iter()).enumerate() {
        let be = v.to_be_bytes();
        out[i * psize..(i + 1) * psize].copy_from_slice(&be[8 - psize..]);
    }
    (NDADDR + NIADDR) * psize
}

/// Decodes a dinode of `b.len()` bytes (the version's size).
pub fn parse(version: Version, ino: u32, b: &[u8]) -> Inode {
    let mut ip = Inode { ino, mode: be16(b, 0), nlink: be16(b, 2), size: 0, uid: 0, gid: 0, mtime: 0, flags: 0, blocks: 0, db: [0; NDADDR], ib: [0; NIADDR] };
    match version {
        Version::Ufs1 => {
            ip.size = be64(b, 8);
            ip.mtime = be32(b, 24) as i32 as i64;
            for i in 0..NDADDR {
                ip.db[i] = be32(b, 40 + 4 * i) as u64;
            }
            for i in 0..NIADDR {
                ip.ib[i] = be32(b, 88 + 4 * i) as u64;
            }
            ip.flags = be32(b, 100);
            ip.blocks = be32(b, 104) as u64;
            ip.uid = be32(b, 112);
            ip.gid = be32(b, 116);
        }
        Version::Ufs2 => {
            ip.uid = be32(b, 4);
            ip.gid = be32(b, 8);
            ip.size = be64(b, 16);
            ip.blocks = be64(b, 24);
            ip.mtime = be64(b, 40) as i64;
            ip.flags = be32(b, 88);
            for i in 0..NDADDR {
                ip.db[i] = be64(b, 112 + 8 * i);
            }
            for i in 0..NIADDR {
                ip.ib[i] = be64(b, 208 + 8 * i);
            }
        }
    }
    ip
}

#[cfg(feature = "alloc")]
fn put32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_be_bytes());
}

#[cfg(feature = "alloc")]
fn put64(b: &mut [u8], o: usize, v: u64) {
    b[o..o + 8].copy_from_slice(&v.to_be_bytes());
}

/// Encodes the fields `Inode` holds into a raw dinode of the version's
/// size, leaving the others (times, generation) as they are.
#[cfg(feature = "alloc")]
pub fn store(version: Version, ip: &Inode, b: &mut [u8]) {
    b[0..2].copy_from_slice(&ip.mode.to_be_bytes());
    b[2..4].copy_from_slice(&ip.nlink.to_be_bytes());
    match version {
        Version::Ufs1 => {
            put64(b, 8, ip.size);
            put32(b, 24, ip.mtime as u32);
            for i in 0..NDADDR {
                put32(b, 40 + 4 * i, ip.db[i] as u32);
            }
            for i in 0..NIADDR {
                put32(b, 88 + 4 * i, ip.ib[i] as u32);
            }
            put32(b, 100, ip.flags);
            put32(b, 104, ip.blocks as u32);
            put32(b, 112, ip.uid);
            put32(b, 116, ip.gid);
        }
        Version::Ufs2 => {
            put32(b, 4, ip.uid);
            put32(b, 8, ip.gid);
            put64(b, 16, ip.size);
            put64(b, 24, ip.blocks);
            put64(b, 40, ip.mtime as u64);
            put32(b, 88, ip.flags);
            for i in 0..NDADDR {
                put64(b, 112 + 8 * i, ip.db[i]);
            }
            for i in 0..NIADDR {
                put64(b, 208 + 8 * i, ip.ib[i]);
            }
        }
    }
}

/// Checks what the reader relies on: a size the block tree can hold and
/// block pointers inside the file system.
pub fn check(sb: &Superblock, ip: &Inode) -> Result<(), Error> {
    if ip.size > sb.maxfilesize() {
        return Err(Error::BadInode { ino: ip.ino, field: "size", value: ip.size });
    }
    if is_fast_symlink(sb, ip) {
        return Ok(());
    }
    for &b in ip.db.iter().chain(ip.ib.iter()) {
        sb.check_blkptr(ip.ino, b)?;
    }
    Ok(())
}
