//! Portable kernel logic with no hardware in it, shared by the boot stub and
//! the kernel and unit-tested on the host.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_op_in_unsafe_fn)]

pub mod bootargs;
pub mod bootinfo;
pub mod crc32;
pub mod elf;
pub mod errno;
pub mod ksyms;
pub mod pct;
pub mod pglist;
pub mod random;
pub mod syscalls;
pub mod wmesg;
