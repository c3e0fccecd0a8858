//! FFS: the root file system on the root device, through the buffer cache.

pub mod ffs_alloc;
pub mod ffs_inode;
pub mod ffs_vfsops;
pub mod ffs_vnops;
