//! PowerPC (32-bit, MPC7400 "G4") machine-dependent code.
//!
//! Each architecture would provide the same names: `cpu` (registers and
//! barriers), `locore` (entry), `trap` (vectors and the trap frame), `mmu`,
//! `intr` (spl), `clock` (the hardclock source) and `db_trace` (stack walk).

pub mod bcopy;
pub mod clock;
pub mod conf;
pub mod cpu;
pub mod db_trace;
pub mod intr;
pub mod locore;
pub mod machdep;
pub mod mmu;
pub mod pmap;
pub mod trap;
pub mod vm_machdep;
