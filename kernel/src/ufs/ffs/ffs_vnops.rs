//! The vnode operations of FFS (OpenBSD ffs_vnops.c, ufs_vnops.c,
//! ufs_lookup.c), read side for now.

use crate::kern::vfs_subr::{vop_unlock, Vnode};
use crate::sys::errno::Errno;
use crate::sys::vnode::VnodeOps;
use crate::ufs::ffs::ffs_vfsops::{ffs_vget, rootfs, ufs_ihashrem, vtoi};

pub struct FfsVnodeOps;

/// DT_* of a directory entry's type.
fn dtype(k: ffs::FileType) -> u8 {
    match k {
        ffs::FileType::Fifo => 1,
        ffs::FileType::Char => 2,
        ffs::FileType::Dir => 4,
        ffs::FileType::Block => 6,
        ffs::FileType::Regular => 8,
        ffs::FileType::Symlink => 10,
        ffs::FileType::Socket => 12,
        ffs::FileType::Unknown(t) => t,
    }
}

pub static FFS_VNODEOPS: FfsVnodeOps = FfsVnodeOps;

impl VnodeOps for FfsVnodeOps {
    fn name(&self) -> &'static str {
        "ffs"
    }

    fn vop_inactive(&self, vp: &'static Vnode) -> Result<(), Errno> {
        vop_unlock(vp);
        Ok(())
    }

    fn vop_reclaim(&self, vp: &'static Vnode) -> Result<(), Errno> {
        ufs_ihashrem(vp);
        Ok(())
    }

    /// ufs_lookup: scans the directory for `name`.
    fn vop_lookup(&self, dvp: &'static Vnode, name: &[u8]) -> Result<&'static Vnode, Errno> {
        let dir = vtoi(dvp)?;
        if !dir.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let mut found = None;
        rootfs()?
            .readdir(&dir, &mut |e| {
                if e.name == name {
                    found = Some(e.ino);
                }
                found.is_none()
            })
            .map_err(|e| {
                crate::printf!("ffs: directory inode {}: {e}\n", dir.ino);
                Errno::EIO
            })?;
        ffs_vget(found.ok_or(Errno::ENOENT)?)
    }

    /// ffs_read.
    fn vop_read(&self, vp: &'static Vnode, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let ip = vtoi(vp)?;
        if ip.is_dir() {
            return Err(Errno::EISDIR);
        }
        rootfs()?.read(&ip, off, buf).map_err(|e| {
            crate::printf!("ffs: inode {}: {e}\n", ip.ino);
            Errno::EIO
        })
    }

    fn vop_readdir(&self, vp: &'static Vnode, f: &mut dyn FnMut(u32, u8, &[u8]) -> bool) -> Result<(), Errno> {
        let dir = vtoi(vp)?;
        if !dir.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        rootfs()?.readdir(&dir, &mut |e| f(e.ino, dtype(e.kind), e.name)).map_err(|e| {
            crate::printf!("ffs: directory inode {}: {e}\n", dir.ino);
            Errno::EIO
        })
    }

    fn vop_getattr_size(&self, vp: &'static Vnode) -> Result<u64, Errno> {
        Ok(vtoi(vp)?.size)
    }
}
