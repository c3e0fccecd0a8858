//! The end of an inode's use (OpenBSD ufs_inode.c): when the last
//! reference goes, an inode with no links left is truncated and freed,
//! and its vnode recycled at once; reclaim forgets the vnode.

use crate::kern::vfs_subr::{vop_unlock, vrecycle, Vnode};
use crate::sys::errno::Errno;
use crate::ufs::ffs::ffs_alloc::ffs_inode_free;
use crate::ufs::ffs::ffs_inode::ffs_truncate;
use crate::ufs::ffs::ffs_vfsops::{ufs_ihashrem, vtoi, vtoino, vtoump};

/// VOP_INACTIVE (called locked; unlocks).
#[inline(never)]
pub fn ufs_inactive(vp: &'static Vnode) -> Result<(), Errno> {
    if vtoino(vp) == 0 {
        // Never filled in (ffs_vget lost a race for the inode).
        vop_unlock(vp);
        return Ok(());
    }
    let r = match vtoi(vp) {
        Ok(ip) if ip.nlink == 0 && ip.mode != 0 => ffs_truncate(vp, 0).and_then(|_| ffs_inode_free(vtoump(vp), ip.ino, ip.is_dir())).map(|_| true),
        Ok(ip) => Ok(ip.mode == 0),
        Err(e) => Err(e),
    };
    vop_unlock(vp);
    match r {
        Ok(true) => {
            vrecycle(vp);
            Ok(())
        }
        Ok(false) => Ok(()),
        Err(e) => Err(e),
    }
}

/// VOP_RECLAIM: the vnode no longer stands for its inode.
pub fn ufs_reclaim(vp: &'static Vnode) -> Result<(), Errno> {
    ufs_ihashrem(vp);
    Ok(())
}
