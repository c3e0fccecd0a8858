//! Name-space operations (OpenBSD ufs_vnops.c): create, remove, mkdir,
//! rmdir and rename. As in OpenBSD, each releases the vnodes it is given.
//! Link counts: a file has one per entry naming it; a directory has its
//! entry, its own `.`, and each subdirectory's `..`.

use crate::kern::vfs_subr::{vn_lock, vop_unlock, vput, vrele, Vnode};
use crate::sys::errno::Errno;
use crate::sys::vnode::{LkFlags, RenameArgs, VType};
use crate::ufs::ffs::ffs_alloc::ffs_inode_alloc;
use crate::ufs::ffs::ffs_inode::ffs_update;
use crate::ufs::ffs::ffs_vfsops::{vtoi, vtoino, vtoump, Ufsmount};
use crate::ufs::ufs::ufs_lookup::{dtype, ufs_direnter, ufs_dirlookup, ufs_dirremove, ufs_dirrewrite};

const IFDIR: u16 = 0o040000;
const IFREG: u16 = 0o100000;
const ALLPERMS: u16 = 0o7777;

/// Makes an inode of type `mode` named `name` in locked `dvp`, which it
/// releases (OpenBSD ufs_makeinode): the new vnode, referenced and locked.
#[inline(never)]
pub fn ufs_makeinode(dvp: &'static Vnode, name: &[u8], mode: u16) -> Result<&'static Vnode, Errno> {
    let vp = inode_alloc(dvp, mode)?;
    let r = ffs_update(vp, |ip| ip.nlink = 1).and_then(|ip| ufs_direnter(dvp, name, ip.ino, dtype(ip.kind())));
    vput(dvp);
    abandon_on_error(vp, r)
}

/// A new inode of `mode` in `dvp`; on failure `dvp` is released.
fn inode_alloc(dvp: &'static Vnode, mode: u16) -> Result<&'static Vnode, Errno> {
    ffs_inode_alloc(dvp, mode).inspect_err(|_| vput(dvp))
}

/// The new inode `vp` if making it went through; else, no entry naming
/// it, its link count goes to 0 and the last vput frees it (inactive).
fn abandon_on_error<T>(vp: &'static Vnode, r: Result<T, Errno>) -> Result<&'static Vnode, Errno> {
    if let Err(e) = r {
        let _ = ffs_update(vp, |ip| ip.nlink = 0);
        vput(vp);
        return Err(e);
    }
    Ok(vp)
}

/// VOP_CREATE of a regular file (OpenBSD ufs_create).
#[inline(never)]
pub fn ufs_create(dvp: &'static Vnode, name: &[u8], mode: u16) -> Result<&'static Vnode, Errno> {
    ufs_makeinode(dvp, name, IFREG | (mode & ALLPERMS))
}

/// VOP_REMOVE (OpenBSD ufs_remove): directories are rmdir's.
#[inline(never)]
pub fn ufs_remove(dvp: &'static Vnode, vp: &'static Vnode, name: &[u8]) -> Result<(), Errno> {
    let r = if vp.with(|v| v.v_type) == VType::VDIR {
        Err(Errno::EPERM)
    } else {
        ufs_dirremove(dvp, name).and_then(|_| ffs_update(vp, |ip| ip.nlink = ip.nlink.saturating_sub(1))).map(|_| ())
    };
    vput(vp);
    vput(dvp);
    r
}

/// VOP_MKDIR (OpenBSD ufs_mkdir).
#[inline(never)]
pub fn ufs_mkdir(dvp: &'static Vnode, name: &[u8], mode: u16) -> Result<&'static Vnode, Errno> {
    let pino = vtoino(dvp);
    let vp = inode_alloc(dvp, IFDIR | (mode & ALLPERMS))?;
    let r = (|| {
        let mut ip = ffs_update(vp, |ip| ip.nlink = 2)?;
        vtoump(vp).modify(ip.ino, |fs| fs.dir_init(&mut ip, pino))?;
        ffs_update(dvp, |dp| dp.nlink += 1)?;
        if let Err(e) = ufs_direnter(dvp, name, ip.ino, dtype(ip.kind())) {
            let _ = ffs_update(dvp, |dp| dp.nlink -= 1);
            return Err(e);
        }
        Ok(())
    })();
    vput(dvp);
    abandon_on_error(vp, r)
}

/// VOP_RMDIR (OpenBSD ufs_rmdir): only an empty directory, never the
/// root.
#[inline(never)]
pub fn ufs_rmdir(dvp: &'static Vnode, vp: &'static Vnode, name: &[u8]) -> Result<(), Errno> {
    let r = (|| {
        let ip = vtoi(vp)?;
        if !ip.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if ip.ino == ffs::ROOTINO {
            return Err(Errno::EBUSY);
        }
        if !vtoump(vp).fs()?.dir_isempty(&ip).map_err(|e| vtoump(vp).error(ip.ino, e))? {
            return Err(Errno::ENOTEMPTY);
        }
        ufs_dirremove(dvp, name)?;
        ffs_update(dvp, |dp| dp.nlink = dp.nlink.saturating_sub(1))?;
        // `.` and its entry both go; truncated now, as OpenBSD's
        // ufs_rmdir (ufs_vnops.c:1343@2ea167a2), so that a descriptor
        // still open on it lists nothing; inactive frees it.
        ffs_update(vp, |ip| ip.nlink = 0)?;
        crate::ufs::ffs::ffs_inode::ffs_truncate(vp, 0)
    })();
    vput(vp);
    vput(dvp);
    r
}

/// Whether directory inode `ino` is `anc` or below it (following `..`).
fn ufs_checkpath(ump: &Ufsmount, anc: u32, mut ino: u32) -> Result<bool, Errno> {
    let fs = ump.fs()?;
    for _ in 0..1024 {
        if ino == anc {
            return Ok(true);
        }
        if ino == ffs::ROOTINO {
            return Ok(false);
        }
        let dir = fs.inode(ino).map_err(|e| ump.error(ino, e))?;
        ino = fs.dirlookup(&dir, b"..").map_err(|e| ump.error(ino, e))?.ok_or(Errno::EIO)?;
    }
    // A loop of `..` entries: the image is damaged.
    crate::printf!("ffs: directory inode {ino}: `..` entries loop\n");
    Err(Errno::EIO)
}

/// Test hook (selftest `vfs_rename_backoff`): the next rename yields the
/// processor just before it takes the source's locks, as if it had slept
/// there, so that another thread can take the source's directory first.
static RENAME_YIELD: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

pub fn rename_yield_next() {
    RENAME_YIELD.store(true, core::sync::atomic::Ordering::Relaxed);
}

/// VOP_RENAME (OpenBSD ufs_rename, without its lock juggling: renames are
/// serialised by VFS_RENAMELOCK, and the source's locks are only tried for
/// while the target's are held, so a rename never waits holding locks).
#[inline(never)]
pub fn ufs_rename(r: &RenameArgs) -> Result<(), Errno> {
    let same_dir = core::ptr::eq(r.fdvp, r.tdvp);
    let mut locked_fdvp = false;
    let mut locked_fvp = false;
    let res = (|| {
        if r.tvp.is_some_and(|t| core::ptr::eq(t, r.fvp)) {
            return Ok(());
        }
        // Across file systems, a mount point included (OpenBSD's
        // dorenameat compares v_mount).
        let ump = vtoump(r.fvp);
        if [r.fdvp, r.tdvp].into_iter().chain(r.tvp).any(|vp| !core::ptr::eq(ump, vtoump(vp))) {
            return Err(Errno::EXDEV);
        }
        let fino = vtoino(r.fvp);
        let isdir = r.fvp.with(|v| v.v_type) == VType::VDIR;
        if isdir && ufs_checkpath(ump, fino, vtoino(r.tdvp))? {
            return Err(Errno::EINVAL);
        }
        if let Some(tvp) = r.tvp {
            let tdir = tvp.with(|v| v.v_type) == VType::VDIR;
            match (isdir, tdir) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) if !ump.fs()?.dir_isempty(&vtoi(tvp)?).map_err(|e| ump.error(vtoino(tvp), e))? => return Err(Errno::ENOTEMPTY),
                _ => {}
            }
        }
        // The source's locks are taken while the target's are held, not
        // in OpenBSD's order: without waiting, so that a rename never
        // sleeps on a lock holding others (an unlink holding the source's
        // directory and waiting for the target's vnode would otherwise
        // deadlock with it). EAGAIN: sys_rename lets everything go and
        // starts again.
        let nowait = LkFlags::LK_EXCLUSIVE | LkFlags::LK_NOWAIT;
        if RENAME_YIELD.swap(false, core::sync::atomic::Ordering::Relaxed) {
            crate::kern::kern_sched::yield_cpu();
        }
        if !same_dir {
            vn_lock(r.fdvp, nowait).map_err(|e| if e == Errno::EBUSY { Errno::EAGAIN } else { e })?;
            locked_fdvp = true;
        }
        vn_lock(r.fvp, nowait).map_err(|e| if e == Errno::EBUSY { Errno::EAGAIN } else { e })?;
        locked_fvp = true;
        // The source may have changed while the locks were taken.
        if ufs_dirlookup(r.fdvp, r.fname)? != Some(fino) {
            return Err(Errno::ENOENT);
        }
        let ip = vtoi(r.fvp)?;
        match r.tvp {
            Some(tvp) => {
                ufs_dirrewrite(r.tdvp, r.tname, fino, dtype(ip.kind()))?;
                if isdir {
                    ffs_update(tvp, |t| t.nlink = 0)?;
                    // The old directory's `..` goes; from another
                    // directory, the moved one's `..` takes its place.
                    if same_dir {
                        ffs_update(r.tdvp, |d| d.nlink = d.nlink.saturating_sub(1))?;
                    }
                } else {
                    ffs_update(tvp, |t| t.nlink = t.nlink.saturating_sub(1))?;
                }
            }
            None => {
                ufs_direnter(r.tdvp, r.tname, fino, dtype(ip.kind()))?;
                if isdir && !same_dir {
                    ffs_update(r.tdvp, |d| d.nlink += 1)?;
                }
            }
        }
        ufs_dirremove(r.fdvp, r.fname)?;
        if isdir && !same_dir {
            ufs_dirrewrite(r.fvp, b"..", vtoino(r.tdvp), dtype(ffs::FileType::Dir))?;
            ffs_update(r.fdvp, |d| d.nlink = d.nlink.saturating_sub(1))?;
        }
        Ok(())
    })();
    if locked_fvp {
        vop_unlock(r.fvp);
    }
    if locked_fdvp {
        vop_unlock(r.fdvp);
    }
    vrele(r.fvp);
    vrele(r.fdvp);
    if let Some(tvp) = r.tvp {
        vput(tvp);
    }
    vput(r.tdvp);
    res
}
