//! ppcbsd: a small BSD-style kernel for 32-bit PowerPC Macs (QEMU mac99).
#![no_std]
#![no_main]
#![forbid(unsafe_op_in_unsafe_fn)]

extern crate alloc;

pub mod arch;
pub mod ddb;
pub mod dev;
pub mod diag;
pub mod kern;
pub mod ktest;
pub mod sys;
pub mod ufs;
pub mod uvm;
