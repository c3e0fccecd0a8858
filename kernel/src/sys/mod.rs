//! Definitions shared by the kernel and user programs (OpenBSD sys/*.h),
//! kept in kcore so the user programs' library uses the very same values.

pub use kcore::errno;
pub use kcore::syscalls;
pub mod conf;
pub mod mount;
pub mod vnode;
