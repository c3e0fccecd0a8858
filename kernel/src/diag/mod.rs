//! What is ppcbsd's own and not OpenBSD's: the deadlock detector and the
//! hang watchdog, the vnode flight recorder, the P0 detector and the race
//! counters, and the report printed at halt. The OpenBSD-named files call
//! in here; nothing here is part of the model of OpenBSD.

pub mod deadlock;
pub mod halt;
pub mod pct;
pub mod race_window;
pub mod uvm_p0;
pub mod vfs_hist;
