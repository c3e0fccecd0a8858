//! FFS: the root file system on rd0, read through the buffer cache.

pub mod ffs_vfsops;
pub mod ffs_vnops;
