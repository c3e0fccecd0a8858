//! VOP_* (OpenBSD vfs_vops.c): each vnode operation dispatched through the
//! vnode's operations table. Kept as functions of their own, never
//! inlined, so that traces name them as OpenBSD's do. The operations whose
//! contract is a locked vnode assert it where OpenBSD's VFSLCKDEBUG kernel
//! does (`ASSERT_VP_ISLOCKED`): locked by some thread, not necessarily the
//! caller (a pageout writes a dying vnode that vclean's thread holds).
#![allow(non_snake_case)]

use crate::kern::vfs_subr::Vnode;
use crate::sys::errno::Errno;
use crate::sys::vnode::{IoFlags, RenameArgs};

/// Whether some thread holds the vnode's lock (OpenBSD VOP_ISLOCKED).
pub fn VOP_ISLOCKED(vp: &'static Vnode) -> bool {
    vp.v_lock.rw_lock_held()
}

/// Panics unless the vnode is locked (OpenBSD's VFSLCKDEBUG check).
#[track_caller]
pub fn ASSERT_VP_ISLOCKED(vp: &'static Vnode) {
    if !VOP_ISLOCKED(vp) {
        panic!("vnode {} not locked", vp.v_id);
    }
}

#[inline(never)]
pub fn VOP_LOOKUP(dvp: &'static Vnode, name: &[u8]) -> Result<&'static Vnode, Errno> {
    dvp.op().vop_lookup(dvp, name)
}

#[inline(never)]
pub fn VOP_CREATE(dvp: &'static Vnode, name: &[u8], mode: u16) -> Result<&'static Vnode, Errno> {
    ASSERT_VP_ISLOCKED(dvp);
    let r = dvp.op().vop_create(dvp, name, mode);
    if r.is_ok() {
        crate::diag::uvm_p0::race_count(crate::diag::uvm_p0::RaceCtr::Create);
    }
    r
}

#[inline(never)]
pub fn VOP_READ(vp: &'static Vnode, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    ASSERT_VP_ISLOCKED(vp);
    vp.op().vop_read(vp, off, buf)
}

#[inline(never)]
pub fn VOP_WRITE(vp: &'static Vnode, off: u64, buf: &[u8], ioflag: IoFlags) -> Result<usize, Errno> {
    ASSERT_VP_ISLOCKED(vp);
    vp.op().vop_write(vp, off, buf, ioflag)
}

#[inline(never)]
pub fn VOP_REMOVE(dvp: &'static Vnode, vp: &'static Vnode, name: &[u8]) -> Result<(), Errno> {
    ASSERT_VP_ISLOCKED(dvp);
    ASSERT_VP_ISLOCKED(vp);
    dvp.op().vop_remove(dvp, vp, name)
}

#[inline(never)]
pub fn VOP_MKDIR(dvp: &'static Vnode, name: &[u8], mode: u16) -> Result<&'static Vnode, Errno> {
    ASSERT_VP_ISLOCKED(dvp);
    dvp.op().vop_mkdir(dvp, name, mode)
}

#[inline(never)]
pub fn VOP_RMDIR(dvp: &'static Vnode, vp: &'static Vnode, name: &[u8]) -> Result<(), Errno> {
    ASSERT_VP_ISLOCKED(dvp);
    ASSERT_VP_ISLOCKED(vp);
    dvp.op().vop_rmdir(dvp, vp, name)
}

#[inline(never)]
pub fn VOP_RENAME(r: &RenameArgs) -> Result<(), Errno> {
    ASSERT_VP_ISLOCKED(r.tdvp);
    r.fdvp.op().vop_rename(r)
}

/// VOP_SETATTR with only va_size set.
#[inline(never)]
pub fn VOP_SETATTR_SIZE(vp: &'static Vnode, len: u64) -> Result<(), Errno> {
    ASSERT_VP_ISLOCKED(vp);
    vp.op().vop_truncate(vp, len)
}

#[inline(never)]
pub fn VOP_STRATEGY(vp: &'static Vnode, bp: crate::kern::vfs_bio::BufId) {
    vp.op().vop_strategy(vp, bp)
}

#[inline(never)]
pub fn VOP_FSYNC(vp: &'static Vnode) -> Result<(), Errno> {
    ASSERT_VP_ISLOCKED(vp);
    vp.op().vop_fsync(vp)
}

/// VOP_INACTIVE: called with the vnode locked; the file system unlocks it.
#[inline(never)]
pub fn VOP_INACTIVE(vp: &'static Vnode) -> Result<(), Errno> {
    ASSERT_VP_ISLOCKED(vp);
    vp.op().vop_inactive(vp)
}

#[inline(never)]
pub fn VOP_READDIR(vp: &'static Vnode, f: &mut dyn FnMut(u32, u8, &[u8]) -> bool) -> Result<(), Errno> {
    ASSERT_VP_ISLOCKED(vp);
    vp.op().vop_readdir(vp, f)
}

/// VOP_GETATTR for the mode only.
#[inline(never)]
pub fn VOP_GETATTR_MODE(vp: &'static Vnode) -> Result<u16, Errno> {
    vp.op().vop_getattr_mode(vp)
}

/// VOP_GETATTR for the size only.
#[inline(never)]
pub fn VOP_GETATTR_SIZE(vp: &'static Vnode) -> Result<u64, Errno> {
    vp.op().vop_getattr_size(vp)
}
