//! The Berkeley Fast File System (OpenBSD sys/ufs): `ufs` holds what is
//! common to UFS file systems (directories, names, inode life), `ffs` the
//! on-disk allocation and I/O.

pub mod ffs;
// sys/ufs/ufs, as in OpenBSD's tree.
#[allow(clippy::module_inception)]
pub mod ufs;
