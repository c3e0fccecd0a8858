//! Stopping the machine: a clean power-off (QEMU exits 0) or a panic
//! signalled through pvpanic (QEMU exits 1).

use super::cpu;
use crate::dev::{cuda, pvpanic};
use crate::kern::subr_prf::Cons;
use core::fmt::Write;

fn stop() -> ! {
    cpu::intr_disable();
    loop {
        core::hint::spin_loop();
    }
}

/// Halts normally.
pub fn boot_halt() -> ! {
    let _ = writeln!(Cons, "halted");
    cuda::cuda_poweroff();
    let _ = writeln!(Cons, "cuda: power-off failed; spinning");
    stop()
}

/// Stops after a panic so that the host sees "panicked".
pub fn boot_panicked() -> ! {
    pvpanic::pvpanic_panicked();
    let _ = writeln!(Cons, "panic: no pvpanic device to report to; spinning");
    stop()
}
