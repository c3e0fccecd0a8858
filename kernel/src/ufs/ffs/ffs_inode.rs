//! Inode updates and truncation (OpenBSD ffs_inode.c).

use crate::kern::vfs_subr::Vnode;
use crate::sys::errno::Errno;
use crate::ufs::ffs::ffs_vfsops::{ffs_modify, vtoi};
use crate::uvm::uvm_vnode::{uvm_vnp_setsize, uvm_vnp_uncache};

/// Changes fields of a locked vnode's inode and writes it (ffs_update).
pub fn ffs_update(vp: &'static Vnode, f: impl FnOnce(&mut ffs::Inode)) -> Result<ffs::Inode, Errno> {
    let mut ip = vtoi(vp)?;
    f(&mut ip);
    ffs_modify(ip.ino, |fs| fs.write_inode(&ip))?;
    Ok(ip)
}

/// Sets the length of a locked vnode's file (OpenBSD ffs_truncate).
#[inline(never)]
pub fn ffs_truncate(vp: &'static Vnode, len: u64) -> Result<(), Errno> {
    uvm_vnp_setsize(vp, len);
    uvm_vnp_uncache(vp);
    let mut ip = vtoi(vp)?;
    ffs_modify(ip.ino, |fs| fs.truncate(&mut ip, len))
}
