//! Layout constants of the inode's block tree and the on-disk inode sizes
//! (OpenBSD ufs/ufs/dinode.h), in a module of their own so that both the
//! superblock's checks (fs.rs) and the inode code (dinode.rs) use them
//! without the two depending on each other.

/// Direct block pointers in an inode.
pub const NDADDR: usize = 12;
/// Indirect block pointers (single, double, triple).
pub const NIADDR: usize = 3;
pub const UFS1_DINODE_SIZE: usize = 128;
pub const UFS2_DINODE_SIZE: usize = 256;
