//! Machine-independent kernel: startup, console output and panic, the
//! clock, locks, the heap and the in-kernel tests.

pub mod init_main;
pub mod kern_clock;
pub mod kern_ktest;
pub mod kern_malloc;
pub mod kern_mutex;
pub mod subr_prf;
