//! Definitions shared by the kernel and user programs (OpenBSD sys/*.h).

pub mod errno;
