//! Machine-dependent code; only PowerPC for now. Machine-independent code
//! names the machine's modules through this one (`crate::arch::intr::Ipl`,
//! `crate::arch::pmap`), as OpenBSD's MI code includes <machine/...>, so a
//! second machine would be one more module and one `pub use` here.

pub mod powerpc;

pub use powerpc::{clock, conf, cpu, db_trace, intr, machdep, mmu, pmap, trap, vm_machdep};
