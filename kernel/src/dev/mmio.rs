//! Typed access to device registers through `volatile`, in the I/O space
//! that the kernel maps cache-inhibited and guarded (the G4's I/O BAT, the
//! 970's segment 15: mmu::iomap).

use core::ptr::NonNull;
use volatile::VolatilePtr;

/// A block of device registers at a fixed physical address.
#[derive(Clone, Copy)]
pub struct Mmio {
    base: usize,
}

impl Mmio {
    /// # Safety
    /// `base` must be the address of a device register block that stays
    /// mapped (mmu::iomap) for as long as the handle is used.
    pub const unsafe fn new(base: usize) -> Mmio {
        Mmio { base }
    }

    fn ptr<T>(&self, off: usize) -> VolatilePtr<'static, T> {
        // SAFETY: Mmio::new's contract: base + off is a register of the
        // device, mapped and non-null.
        unsafe { VolatilePtr::new(NonNull::new_unchecked((self.base + off) as *mut T)) }
    }

    pub fn read8(&self, off: usize) -> u8 {
        self.ptr::<u8>(off).read()
    }

    pub fn write8(&self, off: usize, v: u8) {
        self.ptr::<u8>(off).write(v);
        crate::arch::cpu::eieio();
    }

    /// Little-endian 32-bit register (PCI devices such as the OpenPIC).
    pub fn read32le(&self, off: usize) -> u32 {
        u32::from_le(self.ptr::<u32>(off).read())
    }

    pub fn write32le(&self, off: usize, v: u32) {
        self.ptr::<u32>(off).write(v.to_le());
        crate::arch::cpu::eieio();
    }
}
