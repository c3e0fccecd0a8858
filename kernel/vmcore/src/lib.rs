//! Portable virtual-memory logic that needs the heap (so it is kept out of
//! kcore, which the boot stub links without one): map entries.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_op_in_unsafe_fn)]

extern crate alloc;

pub mod vm_map;
