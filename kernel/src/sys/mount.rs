//! What a file system type gives the generic VFS (OpenBSD sys/mount.h,
//! struct vfsops), and a mounted file system (struct mount). Generic code
//! reaches a file system only through these.

use crate::kern::vfs_subr::Vnode;
use crate::sys::conf::Dev;
use crate::sys::errno::Errno;

/// A file system type's operations (the ones this kernel uses).
pub struct VfsOps {
    /// Mounts the root file system from `dev` (the type's mountroot);
    /// says on the console why not.
    pub vfs_mountroot: fn(Dev) -> Result<(), Errno>,
    /// The file system's root directory, referenced and locked (VFS_ROOT).
    pub vfs_root: fn() -> Result<&'static Vnode, Errno>,
    /// The vnode of inode `ino`, referenced and locked (VFS_VGET).
    pub vfs_vget: fn(u32) -> Result<&'static Vnode, Errno>,
    /// Writes every delayed write; the number of buffers written
    /// (VFS_SYNC).
    pub vfs_sync: fn() -> Result<u32, Errno>,
    /// Syncs and leaves the file system as a clean unmount would, saying
    /// on the console how it went (VFS_UNMOUNT).
    pub vfs_unmount: fn(),
}

/// A mounted file system.
#[derive(Clone, Copy)]
pub struct Mount {
    pub mnt_op: &'static VfsOps,
}
