//! CUDA, the VIA-attached microcontroller that controls power. Used only to
//! power the machine off, which makes QEMU exit with status 0.

use super::mmio::Mmio;
use crate::arch::{clock, cpu};
use spin::Once;

/// VIA registers are 0x200 apart.
const VIA_STRIDE: usize = 0x200;
const VIA_B: usize = 0;
const VIA_DIRB: usize = 2 * VIA_STRIDE;
const VIA_SR: usize = 10 * VIA_STRIDE;
const VIA_ACR: usize = 11 * VIA_STRIDE;
const VIA_IFR: usize = 13 * VIA_STRIDE;

bitflags::bitflags! {
    /// Port B handshake lines (active low).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct PortB: u8 {
        const TREQ = 0x08;
        const TACK = 0x10;
        const TIP = 0x20;
    }
}

/// ACR: shift register shifts out under external clock.
const ACR_SR_OUT: u8 = 0x10;
/// IFR: shift register done.
const IFR_SR: u8 = 0x04;

const CUDA_PACKET: u8 = 1;
const CUDA_POWERDOWN: u8 = 0x0a;

/// The VIA's registers, made once at attach.
static VIA: Once<Mmio> = Once::new();

pub fn attach(base: u32) {
    if base != 0 {
        // SAFETY: the CUDA VIA register block found in the device tree,
        // inside the I/O space (mmu::iomap).
        VIA.call_once(|| unsafe { Mmio::new(base as usize) });
    }
}

/// Waits for the shift register to finish a byte; false on timeout.
fn wait_sr(via: &Mmio) -> bool {
    for _ in 0..10_000 {
        if via.read8(VIA_IFR) & IFR_SR != 0 {
            let _ = via.read8(VIA_SR);
            return true;
        }
        clock::delay(10);
    }
    false
}

/// Sends one packet to the CUDA: TIP asserted for the first byte, TACK
/// toggled for each next one, TIP released to end it.
fn send(via: &Mmio, pkt: &[u8]) -> bool {
    via.write8(VIA_DIRB, via.read8(VIA_DIRB) | (PortB::TIP | PortB::TACK).bits());
    via.write8(VIA_ACR, via.read8(VIA_ACR) | ACR_SR_OUT);
    let mut b = PortB::from_bits_retain(via.read8(VIA_B)) | PortB::TIP | PortB::TACK;
    for (i, &byte) in pkt.iter().enumerate() {
        via.write8(VIA_SR, byte);
        if i == 0 {
            b.remove(PortB::TIP);
        } else {
            b.toggle(PortB::TACK);
        }
        via.write8(VIA_B, b.bits());
        if !wait_sr(via) {
            return false;
        }
    }
    via.write8(VIA_ACR, via.read8(VIA_ACR) & !ACR_SR_OUT);
    via.write8(VIA_B, (b | PortB::TIP | PortB::TACK).bits());
    true
}

/// Powers the machine off; returns only if that failed.
pub fn cuda_poweroff() {
    let Some(via) = VIA.get() else { return };
    cpu::intr_disable();
    if send(via, &[CUDA_PACKET, CUDA_POWERDOWN]) {
        // QEMU acts on the packet as soon as TIP rises; give it a moment.
        clock::delay(100_000);
    }
}
