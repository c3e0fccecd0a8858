//! The decrementer as the hardclock source: it counts down at the time-base
//! rate and interrupts when it passes zero. Deadlines are kept in time-base
//! units so ticks do not drift with interrupt latency.

use super::cpu;
use core::sync::atomic::{AtomicU32, Ordering};

static TB_PER_TICK: AtomicU32 = AtomicU32::new(0);
static TBFREQ: AtomicU32 = AtomicU32::new(0);
/// Time base of the next tick; only touched with interrupts off.
static NEXT_TICK: spin::Mutex<u64> = spin::Mutex::new(0);

pub fn cpu_initclocks(tbfreq: u32, hz: u32) {
    let per = tbfreq / hz;
    TBFREQ.store(tbfreq, Ordering::Relaxed);
    TB_PER_TICK.store(per, Ordering::Relaxed);
    cpu::with_interrupts_disabled(|| {
        *NEXT_TICK.lock() = cpu::mftb() + per as u64;
        cpu::set_dec(per);
    });
}

pub fn tb_per_tick() -> u32 {
    TB_PER_TICK.load(Ordering::Relaxed)
}

pub fn tbfreq() -> u32 {
    TBFREQ.load(Ordering::Relaxed)
}

/// Called from the decrementer interrupt: arms the next deadline and says
/// how many ticks are due (more than one if interrupts were held off long).
pub fn decr_reload() -> u32 {
    let per = tb_per_tick() as u64;
    let now = cpu::mftb();
    let mut next = NEXT_TICK.lock();
    let mut n = 0;
    while *next <= now {
        *next += per;
        n += 1;
    }
    program(now, *next);
    n
}

/// Programs the decrementer for the nearer of the next tick and the
/// earliest clockintr event. Interrupts must be off.
fn program(now: u64, next_tick: u64) {
    cpu::assert_intr_off("clock program");
    let target = crate::kern::kern_clockintr::clockintr_next_after(now).map_or(next_tick, |e| e.min(next_tick));
    cpu::set_dec(target.saturating_sub(now).clamp(1, u32::MAX as u64 >> 1) as u32);
}

/// Programs the decrementer again after an event was scheduled.
/// Interrupts must be off.
pub fn cpu_rearm() {
    let next = *NEXT_TICK.lock();
    program(cpu::mftb(), next);
}

/// Time-base units in `us` microseconds.
pub fn us_to_tb(us: u32) -> u64 {
    tbfreq() as u64 * us as u64 / 1_000_000
}

/// Microseconds in `tb` time-base units.
pub fn tb_to_us(tb: u64) -> u64 {
    tb * 1_000_000 / tbfreq().max(1) as u64
}

/// Busy-waits `us` microseconds on the time base (no interrupts needed).
pub fn delay(us: u32) {
    let end = cpu::mftb() + us_to_tb(us);
    while cpu::mftb() < end {
        core::hint::spin_loop();
    }
}
