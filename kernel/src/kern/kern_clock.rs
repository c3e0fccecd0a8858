//! The clock interrupt: `ticks` counts hardclock calls since boot.

use core::sync::atomic::{AtomicU32, Ordering};

/// Where the kernel first printed, in time-base ticks since power-on.
static FIRST_LINE_TB: spin::Once<u64> = spin::Once::new();

/// The time base when the kernel started: uptime counts from here, so
/// that the firmware's time before it (seen to vary by half a millisecond
/// between runs of one seed) is not counted.
pub fn boottime_tb() -> u64 {
    FIRST_LINE_TB.get().copied().unwrap_or(0)
}

/// Set once, at the kernel's first line (init_main).
pub fn set_boottime_tb(tb: u64) {
    FIRST_LINE_TB.call_once(|| tb);
}

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
