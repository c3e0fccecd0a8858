//! Vnode definitions (OpenBSD sys/vnode.h): types, flags, lock flags, and
//! the vnode-operations table a file system provides.

use crate::kern::vfs_bio::{biodone, BufId};
use crate::kern::vfs_subr::Vnode;
use crate::sys::errno::Errno;

/// v_type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VType {
    VNON,
    VREG,
    VDIR,
    VBLK,
    VCHR,
    VLNK,
    VSOCK,
    VFIFO,
    VBAD,
}

bitflags::bitflags! {
    /// VOP_WRITE's ioflag (sys/vnode.h IO_*).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct IoFlags: u32 {
        /// All or nothing (write(2)): a write that fails gives back the
        /// space it added (ffs_write truncates to the old size).
        const IO_UNIT = 0x01;
        /// Do not keep the data in the buffer cache (the pagedaemon's
        /// writes: uvn_io with PGO_PDFREECLUST).
        const IO_NOCACHE = 0x40;
    }
}

bitflags::bitflags! {
    /// v_lflag.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct VLFlags: u32 {
        /// vclean is at work on the vnode.
        const VXLOCK = 0x0100;
        /// Someone sleeps until VXLOCK clears.
        const VXWANT = 0x0200;
    }

    /// v_bioflag.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct VBioFlags: u32 {
        const VBIOONFREELIST = 0x0004;
    }

    /// Lock requests (vn_lock, vget).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct LkFlags: u32 {
        const LK_SHARED = 0x01;
        const LK_EXCLUSIVE = 0x02;
        const LK_NOWAIT = 0x10;
        /// vn_lock: wait out vclean and lock the (dead) vnode after all.
        const LK_RETRY = 0x20;
        /// vclean's lock: wait for every holder to let go.
        const LK_DRAIN = 0x40;
    }
}

/// vclean: also close the vnode if it is in use.
pub const DOCLOSE: u32 = 0x0008;

/// The operations a file system implements for its vnodes (a vops table).
/// VOP_INACTIVE is called with the vnode locked and must unlock it.
pub trait VnodeOps: Sync {
    fn name(&self) -> &'static str;
    fn vop_inactive(&self, vp: &'static Vnode) -> Result<(), Errno>;
    fn vop_reclaim(&self, vp: &'static Vnode) -> Result<(), Errno>;
    /// The vnode (referenced) that `name` names in directory `dvp`.
    fn vop_lookup(&self, _dvp: &'static Vnode, _name: &[u8]) -> Result<&'static Vnode, Errno> {
        Err(Errno::ENOTDIR)
    }
    /// Reads from byte `off`: the bytes read, 0 at the end.
    fn vop_read(&self, _vp: &'static Vnode, _off: u64, _buf: &mut [u8]) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }
    /// Calls `f(inode number, DT_* type, name)` for each entry of directory
    /// `vp`, in order, until it returns false.
    fn vop_readdir(&self, _vp: &'static Vnode, _f: &mut dyn FnMut(u32, u8, &[u8]) -> bool) -> Result<(), Errno> {
        Err(Errno::ENOTDIR)
    }
    /// The file's size in bytes.
    fn vop_getattr_size(&self, _vp: &'static Vnode) -> Result<u64, Errno> {
        Err(Errno::EINVAL)
    }
    /// The file's mode: type and permission bits (va_mode).
    fn vop_getattr_mode(&self, _vp: &'static Vnode) -> Result<u16, Errno> {
        Err(Errno::EINVAL)
    }
    /// Writes at byte `off` of a locked vnode: the bytes written.
    fn vop_write(&self, _vp: &'static Vnode, _off: u64, _buf: &[u8], _ioflag: IoFlags) -> Result<usize, Errno> {
        Err(Errno::EROFS)
    }
    /// Makes file `name` in locked directory `dvp`, which it releases
    /// (vput), as OpenBSD's does: the new vnode, referenced and locked.
    fn vop_create(&self, _dvp: &'static Vnode, _name: &[u8], _mode: u16) -> Result<&'static Vnode, Errno> {
        Err(Errno::EROFS)
    }
    /// Removes entry `name` (naming `vp`) from `dvp`; both locked, both
    /// released.
    fn vop_remove(&self, _dvp: &'static Vnode, _vp: &'static Vnode, _name: &[u8]) -> Result<(), Errno> {
        Err(Errno::EROFS)
    }
    /// Makes directory `name` in locked `dvp`, which it releases: the new
    /// directory, referenced and locked.
    fn vop_mkdir(&self, _dvp: &'static Vnode, _name: &[u8], _mode: u16) -> Result<&'static Vnode, Errno> {
        Err(Errno::EROFS)
    }
    /// Removes empty directory `vp`, entry `name` of `dvp`; both locked,
    /// both released.
    fn vop_rmdir(&self, _dvp: &'static Vnode, _vp: &'static Vnode, _name: &[u8]) -> Result<(), Errno> {
        Err(Errno::EROFS)
    }
    /// Moves entry `fname` of `fdvp` (naming `fvp`) to `tname` in `tdvp`,
    /// replacing `tvp` if there is one. `fdvp` and `fvp` come referenced,
    /// `tdvp` and `tvp` referenced and locked; all are released.
    fn vop_rename(&self, _r: &RenameArgs) -> Result<(), Errno> {
        Err(Errno::EROFS)
    }
    /// Sets the length of a locked file (VOP_SETATTR with va_size).
    fn vop_truncate(&self, _vp: &'static Vnode, _len: u64) -> Result<(), Errno> {
        Err(Errno::EROFS)
    }
    /// Whether the vnode's file system is mounted read-only (MNT_RDONLY).
    fn mnt_rdonly(&self, _vp: &'static Vnode) -> bool {
        false
    }
    /// Writes the file's dirty data and metadata to the device.
    fn vop_fsync(&self, _vp: &'static Vnode) -> Result<(), Errno> {
        Ok(())
    }
    /// Starts the I/O a busy buffer of `vp` describes; `biodone` ends it.
    fn vop_strategy(&self, _vp: &'static Vnode, bp: BufId) {
        let _s = crate::arch::intr::splbio();
        biodone(bp, Err(Errno::ENXIO));
    }
}

/// The vnodes and names of a rename (VOP_RENAME's arguments).
pub struct RenameArgs<'a> {
    pub fdvp: &'static Vnode,
    pub fvp: &'static Vnode,
    pub fname: &'a [u8],
    pub tdvp: &'static Vnode,
    pub tvp: Option<&'static Vnode>,
    pub tname: &'a [u8],
}
