//! Special-purpose registers, the MSR, the time base and barriers.

use core::arch::asm;
use core::sync::atomic::{AtomicBool, Ordering};

bitflags::bitflags! {
    /// Machine State Register bits (MPC7400).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Msr: u32 {
        /// Power management: doze until an interrupt (with HID0 DOZE/NAP).
        const POW = 0x0004_0000;
        /// External and decrementer interrupts enabled.
        const EE = 0x8000;
        /// Problem (user) state.
        const PR = 0x4000;
        const FP = 0x2000;
        /// Machine check enabled.
        const ME = 0x1000;
        const IR = 0x0020;
        const DR = 0x0010;
        /// Exception is recoverable.
        const RI = 0x0002;
    }
}

/// HID0 NAP: with MSR[POW] the core naps until an interrupt.
const HID0_NAP: u32 = 0x0040_0000;

/// The processor versions (PVR's upper half) of the PowerPC 970 family:
/// 64-bit cores that OpenBSD/macppc runs in 32-bit mode. They have no
/// BATs, a 64-bit page table format, and take interrupts in 64-bit mode.
const PVR_970: u32 = 0x0039;
const PVR_970FX: u32 = 0x003c;
const PVR_970MP: u32 = 0x0044;
const PVR_970GX: u32 = 0x0045;

/// Set once by `cpu_bootstrap`, before anything reads it.
static PROC_IS_64B: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

pub fn mfpvr() -> u32 {
    let v: u32;
    // SAFETY: reading the PVR has no side effects.
    unsafe { asm!("mfpvr {0}", out(reg) v) };
    v
}

/// Tells the CPU from its PVR, as OpenBSD's cpu_bootstrap does
/// (`ppc_proc_is_64b`, `ppc_nobat`). First thing at boot.
pub fn cpu_bootstrap() {
    let is64 = matches!(mfpvr() >> 16, PVR_970 | PVR_970FX | PVR_970MP | PVR_970GX);
    PROC_IS_64B.store(is64, core::sync::atomic::Ordering::Relaxed);
}

/// A 970 (G5): 64-bit page table entries, no BATs (the kernel's 1:1 map
/// of RAM goes through the page table), 64-bit mode on every interrupt.
pub fn ppc_proc_is_64b() -> bool {
    PROC_IS_64B.load(core::sync::atomic::Ordering::Relaxed)
}

/// A name for the boot line.
pub fn cpu_name() -> &'static str {
    match mfpvr() >> 16 {
        PVR_970 => "PPC970",
        PVR_970FX => "PPC970FX",
        PVR_970MP => "PPC970MP",
        PVR_970GX => "PPC970GX",
        0x000c => "MPC7400",
        0x800c => "MPC7410",
        0x8000..=0x8004 => "MPC745x",
        _ => "PowerPC",
    }
}

pub fn mfmsr() -> Msr {
    let v: u32;
    // SAFETY: reading the MSR has no side effects.
    unsafe { asm!("mfmsr {0}", out(reg) v) };
    Msr::from_bits_retain(v)
}

/// # Safety
/// The caller must keep translation consistent with where code and data
/// live; changing EE from outside the spl layer breaks its bookkeeping.
pub unsafe fn mtmsr(m: Msr) {
    // SAFETY: the caller upholds the contract above.
    unsafe { asm!("sync", "mtmsr {0}", "isync", in(reg) m.bits()) };
}

/// The 64-bit time base, read so that a carry between halves is not torn.
pub fn mftb() -> u64 {
    loop {
        let (hi, lo, hi2): (u32, u32, u32);
        // SAFETY: reading the time base has no side effects.
        unsafe { asm!("mftbu {0}", "mftb {1}", "mftbu {2}", out(reg) hi, out(reg) lo, out(reg) hi2) };
        if hi == hi2 {
            return ((hi as u64) << 32) | lo as u64;
        }
    }
}

pub fn set_dec(v: u32) {
    // SAFETY: writing the decrementer only schedules the next clock interrupt.
    unsafe { asm!("mtdec {0}", in(reg) v) };
}

/// Checks a "Interrupts must be off" rule (one mfmsr): panics naming the
/// function that broke it.
#[track_caller]
pub fn assert_intr_off(what: &str) {
    assert!(!mfmsr().contains(Msr::EE), "{what}: called with interrupts on");
}

/// Interrupts off; returns whether they were on.
pub fn intr_disable() -> bool {
    let m = mfmsr();
    // SAFETY: only clears EE; translation is untouched.
    unsafe { mtmsr(m - Msr::EE) };
    m.contains(Msr::EE)
}

pub fn intr_restore(on: bool) {
    if on {
        // SAFETY: only sets EE back to what intr_disable found.
        unsafe { mtmsr(mfmsr() | Msr::EE) };
    }
}

/// Runs `f` with external and decrementer interrupts masked.
pub fn with_interrupts_disabled<R>(f: impl FnOnce() -> R) -> R {
    let on = intr_disable();
    let r = f();
    intr_restore(on);
    r
}

/// Enables interrupts and naps until one has been taken, atomically, so a
/// wakeup that arrives between the caller's check and the nap is not lost.
/// The trap code clears POW in the saved MSR so the return does not nap again.
pub fn idle() {
    NAPPED.store(true, Ordering::Relaxed);
    // SAFETY: sets HID0[NAP] (power saving only) then enables EE|POW in one
    // mtmsr; translation bits are kept as they are. The 970's HID0 is left
    // alone: 64 bits wide, NAP in its upper word, and QEMU's 970 treats a
    // write to it as a bit-clear; there POW without a nap mode does nothing,
    // and the idle loop spins until the interrupt comes.
    unsafe {
        if !ppc_proc_is_64b() {
            let hid0: u32;
            asm!("mfspr {0}, 1008", out(reg) hid0);
            asm!("mtspr 1008, {0}", "isync", in(reg) hid0 | HID0_NAP);
        }
        mtmsr(mfmsr() | Msr::EE | Msr::POW);
    }
}

/// Set by idle(): the CPU waited for an interrupt since the kernel-loop
/// watchdog last looked (a thread that naps between polls, as the console
/// demo does, is waiting, not looping).
static NAPPED: AtomicBool = AtomicBool::new(false);

/// Whether the CPU napped since the last call. The kernel-loop watchdog's
/// alone: the call clears the flag, so a second caller would blind it.
pub fn take_napped_for_watchdog() -> bool {
    NAPPED.swap(false, Ordering::Relaxed)
}

/// Enforces ordering of MMIO accesses (PowerPC reorders uncached stores).
pub fn eieio() {
    // SAFETY: a barrier only.
    unsafe { asm!("eieio") };
}

/// The current stack pointer (r1): where a stack walk starts.
#[inline(always)]
pub fn stack_pointer() -> u32 {
    let sp: u32;
    // SAFETY: reads r1.
    unsafe { asm!("mr {0}, 1", out(reg) sp) };
    sp
}

/// Makes instructions written to memory visible to instruction fetch.
pub fn sync_icache(start: usize, len: usize) {
    let mut a = start & !31;
    while a < start + len {
        // SAFETY: cache maintenance on memory the caller just wrote.
        unsafe { asm!("dcbst 0, {0}", "sync", "icbi 0, {0}", in(reg_nonzero) a) };
        a += 32;
    }
    // SAFETY: barriers only.
    unsafe { asm!("sync", "isync") };
}
