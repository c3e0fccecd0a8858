//! The OpenPIC interrupt controller in Mac I/O (registers little-endian).

use super::mmio::Mmio;
use spin::Once;

pub const NSOURCES: usize = 64;

const SPURIOUS_VECTOR: usize = 0x10e0;
const SOURCE_BASE: usize = 0x1_0000;
const SOURCE_STRIDE: usize = 0x20;
const SOURCE_DEST: usize = 0x10;
const CPU0_TASK_PRIORITY: usize = 0x2_0080;
const CPU0_IACK: usize = 0x2_00a0;
const CPU0_EOI: usize = 0x2_00b0;
/// The vector IACK returns when nothing is pending.
const SPURIOUS: u32 = 0xff;

bitflags::bitflags! {
    /// Source vector/priority register.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Ivpr: u32 {
        const MASK = 0x8000_0000;
        const ACTIVITY = 0x4000_0000;
        const POLARITY = 0x0080_0000;
        const SENSE = 0x0040_0000;
        const PRIORITY = 0x000f_0000;
        const VECTOR = 0x0000_00ff;
    }
}

static PIC: Once<Mmio> = Once::new();

/// Masks every source; each is delivered once enabled.
pub fn init(base: u32) {
    // SAFETY: `base` is the OpenPIC register block found in the device tree,
    // inside the I/O space (mmu::iomap).
    let pic = *PIC.call_once(|| unsafe { Mmio::new(base as usize) });
    pic.write32le(CPU0_TASK_PRIORITY, 0xf);
    for irq in 0..NSOURCES {
        let off = SOURCE_BASE + irq * SOURCE_STRIDE;
        let keep = Ivpr::from_bits_retain(pic.read32le(off)) & (Ivpr::POLARITY | Ivpr::SENSE);
        pic.write32le(off, (keep | Ivpr::MASK).bits() | irq as u32);
    }
    pic.write32le(SPURIOUS_VECTOR, SPURIOUS);
    // Drain anything latched while firmware owned the controller.
    while iack().is_some() {
        eoi();
    }
    // From here the task priority stays 0: the kernel keeps its level in
    // software (arch::intr), and a source is masked only until enabled.
    pic.write32le(CPU0_TASK_PRIORITY, 0);
}

/// Unmasks `irq` at `priority`, routed to CPU 0; its vector is its number.
pub fn enable_source(irq: usize, priority: u32) {
    let Some(pic) = PIC.get() else { return };
    let off = SOURCE_BASE + irq * SOURCE_STRIDE;
    let keep = Ivpr::from_bits_retain(pic.read32le(off)) & (Ivpr::POLARITY | Ivpr::SENSE);
    pic.write32le(off + SOURCE_DEST, 1);
    pic.write32le(off, keep.bits() | ((priority & 0xf) << 16) | irq as u32);
}

/// Acknowledges the highest pending source; None if it was spurious.
pub fn iack() -> Option<usize> {
    let v = PIC.get()?.read32le(CPU0_IACK) & 0xff;
    (v != SPURIOUS && (v as usize) < NSOURCES).then_some(v as usize)
}

pub fn eoi() {
    if let Some(pic) = PIC.get() {
        pic.write32le(CPU0_EOI, 0);
    }
}
