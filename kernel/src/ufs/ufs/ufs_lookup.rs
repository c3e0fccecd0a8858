//! Directories (OpenBSD ufs_lookup.c): finding a name, and adding,
//! removing and repointing entries. The directory vnode is locked by the
//! caller.

use crate::kern::vfs_subr::{vn_lock, vop_unlock, vref, Vnode};
use crate::sys::errno::Errno;
use crate::sys::vnode::LkFlags;
use crate::ufs::ffs::ffs_vfsops::{ffs_vget, vtoi, vtoino, vtoump};

/// DT_* of an inode type, as directory entries record it.
pub fn dtype(k: ffs::FileType) -> u8 {
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

/// The inode number `name` names in directory `dvp`, if any.
pub fn ufs_dirlookup(dvp: &'static Vnode, name: &[u8]) -> Result<Option<u32>, Errno> {
    let dir = vtoi(dvp)?;
    if !dir.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    let ump = vtoump(dvp);
    ump.fs()?.dirlookup(&dir, name).map_err(|e| ump.error(dir.ino, e))
}

/// VOP_LOOKUP (OpenBSD ufs_lookup): the vnode `name` names in `dvp`,
/// which the caller has locked, referenced and locked. An entry naming
/// the directory itself gives it back with one more reference (its lock
/// is the caller's). For `..` the directory's lock is let go while the
/// parent is locked and then taken again, so that a lookup takes locks
/// parent before child.
#[inline(never)]
pub fn ufs_lookup(dvp: &'static Vnode, name: &[u8]) -> Result<&'static Vnode, Errno> {
    let ino = ufs_dirlookup(dvp, name)?.ok_or(Errno::ENOENT)?;
    if ino == vtoino(dvp) {
        vref(dvp);
        return Ok(dvp);
    }
    if name != b".." {
        return ffs_vget(vtoump(dvp), ino);
    }
    vop_unlock(dvp);
    let r = ffs_vget(vtoump(dvp), ino);
    // The caller holds a reference, so vclean (if any) ends and the lock is had.
    vn_lock(dvp, LkFlags::LK_EXCLUSIVE | LkFlags::LK_RETRY).expect("LK_RETRY");
    r
}

/// Enters `name` → `ino` in `dvp` (OpenBSD ufs_direnter).
#[inline(never)]
pub fn ufs_direnter(dvp: &'static Vnode, name: &[u8], ino: u32, dt: u8) -> Result<(), Errno> {
    let mut dir = vtoi(dvp)?;
    vtoump(dvp).modify(dir.ino, |fs| fs.dir_enter(&mut dir, name, ino, dt))
}

/// Removes entry `name` of `dvp` (OpenBSD ufs_dirremove): the inode it
/// named.
#[inline(never)]
pub fn ufs_dirremove(dvp: &'static Vnode, name: &[u8]) -> Result<u32, Errno> {
    let mut dir = vtoi(dvp)?;
    vtoump(dvp).modify(dir.ino, |fs| fs.dir_remove(&mut dir, name))?.ok_or(Errno::ENOENT)
}

/// Points entry `name` of `dvp` at `ino` (OpenBSD ufs_dirrewrite).
pub fn ufs_dirrewrite(dvp: &'static Vnode, name: &[u8], ino: u32, dt: u8) -> Result<(), Errno> {
    let mut dir = vtoi(dvp)?;
    if vtoump(dvp).modify(dir.ino, |fs| fs.dir_rewrite(&mut dir, name, ino, dt))? {
        Ok(())
    } else {
        Err(Errno::ENOENT)
    }
}
