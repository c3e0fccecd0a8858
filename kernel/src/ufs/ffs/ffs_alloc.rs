//! Inode allocation (OpenBSD ffs_alloc.c): a free inode from the
//! cylinder groups, then its vnode through ffs_vget, which is where a
//! create may recycle another file's vnode (getnewvnode → vgonel).

use crate::kern::vfs_subr::Vnode;
use crate::sys::errno::Errno;
use crate::ufs::ffs::ffs_vfsops::{ffs_vget, mode_vtype, vtoino, vtoump, Ufsmount};

/// A new inode of type `mode` near directory `pvp`, with its vnode
/// referenced and locked (OpenBSD ffs_inode_alloc). Its link count is 0:
/// the caller enters it in a directory.
#[inline(never)]
pub fn ffs_inode_alloc(pvp: &'static Vnode, mode: u16) -> Result<&'static Vnode, Errno> {
    let pino = vtoino(pvp);
    let ump = vtoump(pvp);
    let ipg = ump.fs()?.sb().ipg;
    let ip = ump.modify(pino, |fs| fs.ialloc(pino / ipg, mode))?;
    let vp = match ffs_vget(ump, ip.ino) {
        Ok(vp) => vp,
        Err(e) => {
            let _ = ffs_inode_free(ump, ip.ino, ip.is_dir());
            return Err(e);
        }
    };
    // The vnode may be one the inode had before it was freed.
    vp.with(|v| v.v_type = mode_vtype(ip.kind()));
    Ok(vp)
}

/// Frees inode `ino` (OpenBSD ffs_inode_free); its blocks are gone.
pub fn ffs_inode_free(ump: &Ufsmount, ino: u32, isdir: bool) -> Result<(), Errno> {
    ump.modify(ino, |fs| fs.ifree(ino, isdir))
}
