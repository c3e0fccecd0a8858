//! What a file system type gives the generic VFS (OpenBSD sys/mount.h,
//! struct vfsops), and a mounted file system (struct mount). Generic code
//! reaches a file system only through these.

use crate::kern::vfs_subr::Vnode;
use crate::sys::conf::Dev;
use crate::sys::errno::Errno;

/// A file system type's operations (the ones this kernel uses).
pub struct VfsOps {
    /// Mounts the file system on `dev` at the path given (for messages:
    /// the caller covers the vnode); says on the console why not.
    pub vfs_mount: fn(Dev, &str) -> Result<Mount, Errno>,
    /// The file system's root directory, referenced and locked (VFS_ROOT).
    pub vfs_root: fn(Mount) -> Result<&'static Vnode, Errno>,
    /// The vnode of inode `ino`, referenced and locked (VFS_VGET).
    pub vfs_vget: fn(Mount, u32) -> Result<&'static Vnode, Errno>,
    /// Whether a vnode is this file system's root (OpenBSD marks it VROOT).
    pub vfs_isroot: fn(Mount, &'static Vnode) -> bool,
    /// Writes every delayed write; the number of buffers written
    /// (VFS_SYNC).
    pub vfs_sync: fn(Mount) -> Result<u32, Errno>,
    /// Syncs and leaves the file system as a clean unmount would, saying
    /// on the console how it went (VFS_UNMOUNT).
    pub vfs_unmount: fn(Mount),
}

/// A mounted file system.
#[derive(Clone, Copy)]
pub struct Mount {
    pub mnt_op: &'static VfsOps,
    /// The file system's own (its slot of mounted file systems).
    pub mnt_data: usize,
    /// The directory it is mounted on, referenced while it is (None for
    /// the root).
    pub mnt_vnodecovered: Option<&'static Vnode>,
}
