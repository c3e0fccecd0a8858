//! The file system types this kernel knows (OpenBSD vfs_init.c's
//! vfsconflist), mounting the root from them, and the mount list. This is
//! the one place in generic code that names a file system type.

use crate::arch::intr::Ipl;
use crate::kern::kern_mutex::Mutex;
use crate::kern::vfs_subr::Vnode;
use crate::sys::conf::{self, DevName};
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
        if (ops.vfs_mountroot)(dev).is_ok() {
            MOUNTLIST.lock().push(Mount { mnt_op: ops });
            return Ok(());
        }
    }
    crate::printf!("vfs: no file system type could mount root from {}\n", DevName(dev));
    Err(Errno::ENXIO)
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
    (rootmount()?.mnt_op.vfs_root)()
}

/// The vnode of inode `ino` of the root file system, referenced and
/// locked (VFS_VGET).
pub fn vfs_vget(ino: u32) -> Result<&'static Vnode, Errno> {
    (rootmount()?.mnt_op.vfs_vget)(ino)
}

/// Takes every file system off the mount list, last mounted first
/// (OpenBSD vfs_unmountall).
pub fn vfs_unmountall() {
    loop {
        let last = MOUNTLIST.lock().pop();
        let Some(mp) = last else { return };
        (mp.mnt_op.vfs_unmount)();
    }
}

/// sync(2): every mounted file system's delayed writes; the buffers written.
pub fn vfs_syncall() -> Result<u32, Errno> {
    mountlist().iter().try_fold(0, |n, mp| Ok(n + (mp.mnt_op.vfs_sync)()?))
}
