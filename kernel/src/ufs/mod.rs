//! The Berkeley Fast File System (OpenBSD sys/ufs).

pub mod ffs;
