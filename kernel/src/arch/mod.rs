//! Machine-dependent code; only PowerPC for now.

pub mod powerpc;
