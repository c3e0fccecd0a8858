//! Inode updates and truncation (OpenBSD ffs_inode.c).

use crate::kern::vfs_bio::vinvalbuf;
use crate::kern::vfs_subr::Vnode;
use crate::kern::vfs_vops::ASSERT_VP_ISLOCKED;
use crate::sys::errno::Errno;
use crate::ufs::ffs::ffs_vfsops::{vtoi, vtoump};
use crate::uvm::uvm_vnode::{uvm_vnp_setsize, uvm_vnp_uncache};

/// Changes fields of a locked vnode's inode and writes it (ffs_update).
pub fn ffs_update(vp: &'static Vnode, f: impl FnOnce(&mut ffs::Inode)) -> Result<ffs::Inode, Errno> {
    ASSERT_VP_ISLOCKED(vp);
    let mut ip = vtoi(vp)?;
    f(&mut ip);
    vtoump(vp).modify(ip.ino, |fs| fs.write_inode(&ip))?;
    Ok(ip)
}

/// Sets the length of a locked vnode's file (OpenBSD ffs_truncate,
/// ffs_inode.c 1.81): nothing to do for the same size; the object told the
/// new size first; a growing file is uncached and extended, and returns
/// there, its buffers kept; a shrinking one is uncached only when it keeps
/// a partial last block (a truncation to a block boundary, such as to 0,
/// does not uncache), and every buffer of the file is dropped (vinvalbuf,
/// its delayed writes written unless the file becomes empty) before blocks
/// are freed.
#[inline(never)]
pub fn ffs_truncate(vp: &'static Vnode, len: u64) -> Result<(), Errno> {
    ASSERT_VP_ISLOCKED(vp);
    let osize = vtoi(vp)?.size;
    if len == osize {
        return Ok(());
    }
    let bsize = vtoump(vp).fs()?.sb().bsize as u64;
    let _span = (len < osize).then(|| crate::diag::race_window::span(crate::diag::race_window::Side::Truncate, vp));
    uvm_vnp_setsize(vp, len);
    if len > osize {
        uvm_vnp_uncache(vp);
        // The partial last block may grow or move (as in ffs_write): its
        // delayed write goes out first.
        if osize > 0 {
            crate::kern::vfs_bio::bflush(vp.v_id, (osize - 1) / bsize)?;
        }
        let mut ip = vtoi(vp)?;
        return vtoump(vp).modify(ip.ino, |fs| fs.truncate(&mut ip, len));
    }
    if !len.is_multiple_of(bsize) {
        uvm_vnp_uncache(vp);
    }
    vinvalbuf(vp, len > 0)?;
    // Read after the sleeps above.
    let mut ip = vtoi(vp)?;
    vtoump(vp).modify(ip.ino, |fs| fs.truncate(&mut ip, len))
}
