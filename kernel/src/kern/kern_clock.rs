//! The clock interrupt: `ticks` counts hardclock calls since boot.

use core::sync::atomic::{AtomicU32, Ordering};

static TICKS: AtomicU32 = AtomicU32::new(0);
static HZ: AtomicU32 = AtomicU32::new(100);

pub fn set_hz(hz: u32) {
    HZ.store(hz, Ordering::Relaxed);
}

pub fn hz() -> u32 {
    HZ.load(Ordering::Relaxed)
}

pub fn ticks() -> u32 {
    TICKS.load(Ordering::Relaxed)
}

/// Runs at IPL_CLOCK once per tick.
pub fn hardclock() {
    crate::arch::intr::splassert(crate::arch::intr::Ipl::Clock);
    let now = TICKS.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
    crate::kern::kern_sched::sched_tick(now, hz());
}
