//! UFS: lookups and directory entries, the name-space operations, and an
//! inode's end (inactive, reclaim).

pub mod ufs_inode;
pub mod ufs_lookup;
pub mod ufs_vnops;
