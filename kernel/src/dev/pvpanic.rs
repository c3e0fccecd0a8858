//! QEMU's pvpanic-pci device: telling the host that the guest panicked
//! (QEMU then exits with status 1 under `-action panic=exit-failure`).

use super::mmio::Mmio;
use core::sync::atomic::{AtomicU32, Ordering};

const PVPANIC_PANICKED: u8 = 1;

static ADDR: AtomicU32 = AtomicU32::new(0);

pub fn attach(addr: u32) {
    ADDR.store(addr, Ordering::Relaxed);
}

pub fn present() -> bool {
    ADDR.load(Ordering::Relaxed) != 0
}

/// Signals the panic; returns only when there is no pvpanic device.
pub fn pvpanic_panicked() {
    let a = ADDR.load(Ordering::Relaxed);
    if a != 0 {
        // SAFETY: the address is the pvpanic register the boot stub found
        // from the device's assigned BAR; it lies in the I/O BAT.
        unsafe { Mmio::new(a as usize) }.write8(0, PVPANIC_PANICKED);
    }
}
