//! The file system types this kernel knows (OpenBSD vfs_init.c's
//! vfsconflist), mounting the root from them, and the mount list. This is
//! the one place in generic code that names a file system type.

use crate::arch::intr::Ipl;
use crate::kern::kern_mutex::Mutex;
use crate::kern::vfs_subr::Vnode;
use crate::sys::conf::{self, Dev, DevName};
use crate::sys::errno::Errno;
use crate::sys::mount::{Mount, VfsOps};
use alloc::vec::Vec;

static VFSCONF: [&VfsOps; 1] = [&crate::ufs::ffs::ffs_vfsops::FFS_VFSOPS];

/// The mounted file systems, root first (OpenBSD mountlist).
static MOUNTLIST: Mutex<Vec<Mount>> = Mutex::new(Ipl::None, Vec::new());

/// Mounts the root from the root device with the first type that takes it
/// (OpenBSD's mountroot going through vfsconflist).
pub fn vfs_mountroot() -> Result<(), Errno> {
    let dev = conf::rootdev();
    for ops in VFSCONF {
        if let Ok(mp) = (ops.vfs_mount)(dev, "/") {
            MOUNTLIST.lock().push(mp);
            return Ok(());
        }
    }
    crate::printf!("vfs: no file system type could mount root from {}\n", DevName(dev));
    Err(Errno::ENXIO)
}

/// Mounts the file system on `dev` on directory `path` (OpenBSD
/// sys_mount → VFS_MOUNT): the first type that takes it. The directory
/// stays referenced while it is covered; lookups that reach it go on in
/// the mounted file system's root.
pub fn vfs_mount(dev: Dev, path: &str) -> Result<(), Errno> {
    use crate::kern::vfs_lookup::{namei, CnFlags, NameiOp};
    let vp = namei(path, NameiOp::LOOKUP, CnFlags::FOLLOW)?.ni_vp.ok_or(Errno::ENOENT)?;
    if vp.with(|v| v.v_type) != crate::sys::vnode::VType::VDIR || vfs_mountedhere(vp).is_some() {
        crate::kern::vfs_subr::vrele(vp);
        crate::printf!("vfs: cannot mount {} on {path}: not a directory, or covered already\n", DevName(dev));
        return Err(Errno::ENOTDIR);
    }
    for ops in VFSCONF {
        if let Ok(mut mp) = (ops.vfs_mount)(dev, path) {
            mp.mnt_vnodecovered = Some(vp);
            MOUNTLIST.lock().push(mp);
            return Ok(());
        }
    }
    crate::kern::vfs_subr::vrele(vp);
    crate::printf!("vfs: no file system type could mount {} on {path}\n", DevName(dev));
    Err(Errno::EINVAL)
}

/// The file system mounted on directory `vp`, if any (v_mountedhere).
pub fn vfs_mountedhere(vp: &'static Vnode) -> Option<Mount> {
    MOUNTLIST.lock().iter().find(|mp| mp.mnt_vnodecovered.is_some_and(|c| core::ptr::eq(c, vp))).copied()
}

/// The file system `vp` is the root of, unless that is the root file
/// system (OpenBSD's VROOT test in namei's `..`).
pub fn vfs_coveredroot(vp: &'static Vnode) -> Option<Mount> {
    MOUNTLIST.lock().iter().find(|mp| mp.mnt_vnodecovered.is_some() && (mp.mnt_op.vfs_isroot)(**mp, vp)).copied()
}

/// The mounted file systems, root first.
pub fn mountlist() -> Vec<Mount> {
    MOUNTLIST.lock().clone()
}

/// The root file system; ENXIO when none is mounted.
pub fn rootmount() -> Result<Mount, Errno> {
    MOUNTLIST.lock().first().copied().ok_or(Errno::ENXIO)
}

/// The root directory, referenced and locked (VFS_ROOT of the root file
/// system).
pub fn vfs_rootvnode() -> Result<&'static Vnode, Errno> {
    let mp = rootmount()?;
    (mp.mnt_op.vfs_root)(mp)
}

/// Takes every file system off the mount list, last mounted first
/// (OpenBSD vfs_unmountall).
pub fn vfs_unmountall() {
    loop {
        let last = MOUNTLIST.lock().pop();
        let Some(mp) = last else { return };
        (mp.mnt_op.vfs_unmount)(mp);
        if let Some(vp) = mp.mnt_vnodecovered {
            crate::kern::vfs_subr::vrele(vp);
        }
    }
}

/// sync(2): every mounted file system's delayed writes; the buffers written.
pub fn vfs_syncall() -> Result<u32, Errno> {
    mountlist().iter().try_fold(0, |n, &mp| Ok(n + (mp.mnt_op.vfs_sync)(mp)?))
}
