//! The block device switch (OpenBSD sys/conf.h): generic block I/O reaches
//! a driver through `bdevsw[major(dev)]`, never by the driver's name. The
//! table itself is the machine's configuration (`arch::conf`).

use crate::kern::vfs_bio::BufId;
use core::sync::atomic::{AtomicU32, Ordering};

/// dev_t: major number in the high bits, unit (minor) in the low byte.
pub type Dev = u32;

pub const fn makedev(major: u32, minor: u32) -> Dev {
    (major << 8) | (minor & 0xff)
}

pub const fn major(dev: Dev) -> u32 {
    dev >> 8
}

pub const fn minor(dev: Dev) -> u32 {
    dev & 0xff
}

/// A reader of a device's contents in place (`Bdevsw::d_contents`).
pub type ContentsFn<'a> = &'a mut dyn FnMut(&[u8]);

/// A block device's entry points (the ones this kernel uses).
pub struct Bdevsw {
    /// The driver's name: `rd` makes `rd0`.
    pub d_name: &'static str,
    /// Starts the transfer a busy buffer describes; the driver calls
    /// `biodone` when it ends.
    pub d_strategy: fn(Dev, BufId),
    /// The device's size in bytes.
    pub d_psize: fn(Dev) -> u64,
    /// Runs `f` on the device's contents when they are memory the kernel
    /// can read in place (a ramdisk) and no transfer is in flight; false
    /// otherwise. The boot-time check of the root file system uses it
    /// (ppcbsd's own: OpenBSD's bdevsw has no such entry).
    pub d_contents: fn(Dev, ContentsFn<'_>) -> bool,
}

/// The block device switch entry of `dev`, if its major is configured.
pub fn bdevsw(dev: Dev) -> Option<&'static Bdevsw> {
    crate::arch::conf::BDEVSW.get(major(dev) as usize)?.as_ref()
}

/// VOP_STRATEGY of a device vnode (OpenBSD spec_strategy): the driver's.
pub fn bdev_strategy(dev: Dev, bp: BufId) {
    match bdevsw(dev) {
        Some(d) => (d.d_strategy)(dev, bp),
        None => {
            let _s = crate::arch::intr::splbio();
            crate::kern::vfs_bio::biodone(bp, Err(crate::sys::errno::Errno::ENXIO))
        }
    }
}

/// Runs `f` on the device's contents if it can (see `Bdevsw::d_contents`).
pub fn bdev_contents(dev: Dev, f: ContentsFn<'_>) -> bool {
    bdevsw(dev).is_some_and(|d| (d.d_contents)(dev, f))
}

/// The device's size in bytes; 0 for an unconfigured major.
pub fn bdev_size(dev: Dev) -> u64 {
    bdevsw(dev).map_or(0, |d| (d.d_psize)(dev))
}

/// The device's name for messages: `rd0`.
pub struct DevName(pub Dev);

impl core::fmt::Display for DevName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match bdevsw(self.0) {
            Some(d) => write!(f, "{}{}", d.d_name, minor(self.0)),
            None => write!(f, "dev({},{})", major(self.0), minor(self.0)),
        }
    }
}

/// NODEV: no root device yet.
pub const NODEV: Dev = u32::MAX;
static ROOTDEV: AtomicU32 = AtomicU32::new(NODEV);

/// The device the root file system is mounted from (set by autoconf).
pub fn rootdev() -> Dev {
    ROOTDEV.load(Ordering::Relaxed)
}

/// Chooses the root device (OpenBSD setroot): the disk the boot stub
/// loaded.
pub fn setroot(dev: Dev) {
    assert!(bdevsw(dev).is_some(), "setroot: no block device at major {}", major(dev));
    ROOTDEV.store(dev, Ordering::Relaxed);
}
