//! QEMU's pvpanic-pci device: telling the host that the guest panicked
//! (QEMU then exits with status 1 under `-action panic=exit-failure`).

use super::mmio::Mmio;
use spin::Once;

const PVPANIC_PANICKED: u8 = 1;

/// The device's register, made once at attach.
static PVPANIC: Once<Mmio> = Once::new();

pub fn attach(addr: u32) {
    if addr != 0 {
        // SAFETY: the pvpanic register the boot stub found from the
        // device's assigned BAR; it lies in the I/O space (mmu::iomap).
        PVPANIC.call_once(|| unsafe { Mmio::new(addr as usize) });
    }
}

pub fn present() -> bool {
    PVPANIC.get().is_some()
}

/// Signals the panic; returns only when there is no pvpanic device.
pub fn pvpanic_panicked() {
    if let Some(r) = PVPANIC.get() {
        r.write8(0, PVPANIC_PANICKED);
    }
}
