//! Device drivers for the mac99 machine.

pub mod cuda;
pub mod escc;
pub mod mmio;
pub mod openpic;
pub mod pvpanic;
pub mod rd;
