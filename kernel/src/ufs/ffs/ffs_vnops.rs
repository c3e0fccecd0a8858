//! The vnode operations of FFS (OpenBSD ffs_vnops.c): the operations
//! table, pointing at the ufs_* name-space operations, and ffs_read,
//! ffs_write and ffs_fsync.

use crate::kern::vfs_subr::Vnode;
use crate::sys::errno::Errno;
use crate::sys::vnode::{RenameArgs, VnodeOps};
use crate::ufs::ffs::ffs_inode::ffs_truncate;
use crate::ufs::ffs::ffs_vfsops::{ffs_error, ffs_modify, ffs_sync, rootfs, vtoi};
use crate::ufs::ufs::ufs_inode::{ufs_inactive, ufs_reclaim};
use crate::ufs::ufs::ufs_lookup::{dtype, ufs_lookup};
use crate::ufs::ufs::ufs_vnops::{ufs_create, ufs_mkdir, ufs_remove, ufs_rename, ufs_rmdir};
use crate::uvm::uvm_vnode::{uvm_vnp_setsize, uvm_vnp_uncache};

pub struct FfsVnodeOps;

pub static FFS_VNODEOPS: FfsVnodeOps = FfsVnodeOps;

/// VOP_READ of a locked vnode.
#[inline(never)]
pub fn ffs_read(vp: &'static Vnode, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    let ip = vtoi(vp)?;
    if ip.is_dir() {
        return Err(Errno::EISDIR);
    }
    rootfs()?.read(&ip, off, buf).map_err(|e| ffs_error(ip.ino, e))
}

/// VOP_WRITE of a locked vnode: block by block, as OpenBSD's does, each
/// allocating what it needs. Returns the bytes written; an error after
/// some were written gives the count.
#[inline(never)]
pub fn ffs_write(vp: &'static Vnode, off: u64, buf: &[u8]) -> Result<usize, Errno> {
    if vtoi(vp)?.is_dir() {
        return Err(Errno::EISDIR);
    }
    let mut done = 0usize;
    let mut size = None;
    while done < buf.len() {
        // As OpenBSD's: the file's cached pages may not persist once it
        // is written this way. This may unlock and relock the vnode, so
        // the inode is read after it.
        uvm_vnp_uncache(vp);
        let mut ip = vtoi(vp)?;
        match ffs_modify(ip.ino, |fs| fs.write(&mut ip, off + done as u64, &buf[done..])) {
            Ok(n) => done += n,
            Err(_) if done > 0 => break,
            Err(e) => return Err(e),
        }
        size = Some(ip.size);
    }
    if let Some(size) = size {
        uvm_vnp_setsize(vp, size);
    }
    Ok(done)
}

/// VOP_FSYNC: every delayed write of the device (this file's blocks are
/// among them).
pub fn ffs_fsync(_vp: &'static Vnode) -> Result<(), Errno> {
    ffs_sync().map(|_| ())
}

impl VnodeOps for FfsVnodeOps {
    fn name(&self) -> &'static str {
        "ffs"
    }

    fn vop_inactive(&self, vp: &'static Vnode) -> Result<(), Errno> {
        ufs_inactive(vp)
    }

    fn vop_reclaim(&self, vp: &'static Vnode) -> Result<(), Errno> {
        ufs_reclaim(vp)
    }

    fn vop_lookup(&self, dvp: &'static Vnode, name: &[u8]) -> Result<&'static Vnode, Errno> {
        ufs_lookup(dvp, name)
    }

    fn vop_read(&self, vp: &'static Vnode, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        ffs_read(vp, off, buf)
    }

    fn vop_readdir(&self, vp: &'static Vnode, f: &mut dyn FnMut(u32, u8, &[u8]) -> bool) -> Result<(), Errno> {
        let dir = vtoi(vp)?;
        if !dir.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        rootfs()?.readdir(&dir, &mut |e| f(e.ino, dtype(e.kind), e.name)).map_err(|e| ffs_error(dir.ino, e))
    }

    fn vop_getattr_size(&self, vp: &'static Vnode) -> Result<u64, Errno> {
        Ok(vtoi(vp)?.size)
    }

    fn vop_write(&self, vp: &'static Vnode, off: u64, buf: &[u8]) -> Result<usize, Errno> {
        ffs_write(vp, off, buf)
    }

    fn vop_create(&self, dvp: &'static Vnode, name: &[u8], mode: u16) -> Result<&'static Vnode, Errno> {
        ufs_create(dvp, name, mode)
    }

    fn vop_remove(&self, dvp: &'static Vnode, vp: &'static Vnode, name: &[u8]) -> Result<(), Errno> {
        ufs_remove(dvp, vp, name)
    }

    fn vop_mkdir(&self, dvp: &'static Vnode, name: &[u8], mode: u16) -> Result<&'static Vnode, Errno> {
        ufs_mkdir(dvp, name, mode)
    }

    fn vop_rmdir(&self, dvp: &'static Vnode, vp: &'static Vnode, name: &[u8]) -> Result<(), Errno> {
        ufs_rmdir(dvp, vp, name)
    }

    fn vop_rename(&self, r: &RenameArgs) -> Result<(), Errno> {
        ufs_rename(r)
    }

    fn vop_truncate(&self, vp: &'static Vnode, len: u64) -> Result<(), Errno> {
        ffs_truncate(vp, len)
    }

    fn vop_fsync(&self, vp: &'static Vnode) -> Result<(), Errno> {
        ffs_fsync(vp)
    }
}
