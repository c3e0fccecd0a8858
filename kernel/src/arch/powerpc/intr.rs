//! Interrupt priority levels (spl) and interrupt dispatch.
//!
//! The current level lives in `CPL`, in memory only. OpenBSD/macppc also
//! writes every level to the OpenPIC's task priority register, so the PIC
//! itself holds back what the level masks; here that register stays 0 and
//! the level is kept in software, for the PIC's sources as for the
//! decrementer (which bypasses the PIC): an interrupt that arrives at or
//! below the level is noted and run by the `splx` that drops below it, as
//! the PIC would have delivered it there. The reason is QEMU: a device
//! register write costs it microseconds of host time, and the file system
//! changes the level over a million times per guest second, which made
//! register writes most of a file-system boot's wall time (doc/fidelity.md).
//! Handlers still run at their level, with interrupts off, and never while
//! the level holds them back (self-test `held_intr_runs_at_splx`).

use super::trap::TrapFrame;
use crate::dev::openpic;
use crate::kern::kern_clockintr;
use core::sync::atomic::{compiler_fence, AtomicU32, Ordering};

#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ipl {
    None = 0,
    SoftClock = 1,
    SoftNet = 2,
    SoftTty = 3,
    Bio = 4,
    Net = 5,
    Tty = 6,
    Vm = 7,
    Clock = 8,
    Sched = 9,
    High = 10,
}

impl Ipl {
    fn from_u32(v: u32) -> Ipl {
        [Ipl::None, Ipl::SoftClock, Ipl::SoftNet, Ipl::SoftTty, Ipl::Bio, Ipl::Net, Ipl::Tty, Ipl::Vm, Ipl::Clock, Ipl::Sched, Ipl::High][v.min(10) as usize]
    }
}

static CPL: AtomicU32 = AtomicU32::new(Ipl::High as u32);

/// A soft interrupt (OpenBSD softintr): work an interrupt handler defers to
/// run at a lower level as soon as the level allows.
#[derive(Clone, Copy)]
struct SoftIntr {
    ipl: Ipl,
    func: fn(),
}

/// Soft interrupts a boot may establish; a bit each in SOFT_PENDING.
const NSOFTINTR: usize = 8;
/// Filled by softintr_establish; only touched with interrupts off.
static SOFTINTRS: spin::Mutex<[Option<SoftIntr>; NSOFTINTR]> = spin::Mutex::new([None; NSOFTINTR]);
static SOFT_PENDING: AtomicU32 = AtomicU32::new(0);

/// A handle on an established soft interrupt.
#[derive(Clone, Copy, Debug)]
pub struct Sir(usize);

/// Establishes `func` as a soft interrupt run at `ipl` (OpenBSD
/// softintr_establish).
pub fn softintr_establish(ipl: Ipl, func: fn()) -> Sir {
    super::cpu::with_interrupts_disabled(|| {
        let mut t = SOFTINTRS.lock();
        let i = t.iter().position(Option::is_none).expect("softintr_establish: no free soft interrupt");
        t[i] = Some(SoftIntr { ipl, func });
        Sir(i)
    })
}

/// Asks for soft interrupt `sir` to run once the level drops below its own.
pub fn softintr_schedule(sir: Sir) {
    SOFT_PENDING.fetch_or(1 << sir.0, Ordering::Relaxed);
}

/// Runs the pending soft interrupts that `ipl` does not block, each at its
/// own level. Interrupts must be off.
fn dosoftint(ipl: Ipl) {
    super::cpu::assert_intr_off("dosoftint");
    // A handler may be scheduled again while it runs (by a nested
    // interrupt, which cannot run it at this level): go round until none is.
    loop {
        let pending = SOFT_PENDING.load(Ordering::Relaxed);
        // The common case on every splx: nothing pending, no table walk.
        if pending == 0 {
            break;
        }
        let next = SOFTINTRS.lock().iter().enumerate().find_map(|(i, si)| si.filter(|si| si.ipl > ipl && pending & (1 << i) != 0).map(|si| (i, si)));
        let Some((i, si)) = next else { break };
        SOFT_PENDING.fetch_and(!(1 << i), Ordering::Relaxed);
        set_cpl(si.ipl);
        super::cpu::intr_restore(true);
        (si.func)();
        super::cpu::intr_disable();
        set_cpl(ipl);
    }
}
/// Clock ticks that arrived while CPL was at or above IPL_CLOCK.
static CLOCK_PENDING: AtomicU32 = AtomicU32::new(0);

pub fn cpl() -> Ipl {
    Ipl::from_u32(CPL.load(Ordering::Relaxed))
}

/// Sets the level. The fences keep the compiler from moving memory
/// accesses across the store, as the `mtmsr` around it used to: what the
/// level protects (a mutex taken after splraise, the checks of what splx
/// owes) must stay on its side of it. Interrupts come on this processor
/// only, in program order, so no hardware barrier is needed.
fn set_cpl(ipl: Ipl) {
    compiler_fence(Ordering::SeqCst);
    CPL.store(ipl as u32, Ordering::Relaxed);
    compiler_fence(Ordering::SeqCst);
}

const NIPL: usize = Ipl::High as usize + 1;
/// OpenPIC sources that arrived while the level held them back, by the
/// level of their handler: acknowledged and left in service until run. A
/// source in service keeps the PIC from delivering any of equal or lower
/// priority (its priority is its level), so each level holds one at most.
static HELD: [AtomicU32; NIPL] = [const { AtomicU32::new(0) }; NIPL];
/// A bit for each level of HELD that holds a source.
static HELD_LEVELS: AtomicU32 = AtomicU32::new(0);

/// Levels above `ipl`, as a mask of level bits.
fn levels_above(ipl: Ipl) -> u32 {
    !((2u32 << ipl as u32) - 1)
}

/// Notes source `irq`, whose handler runs at `ipl`, to be run once the
/// level drops below `ipl`. Interrupts must be off.
fn hold(irq: usize, ipl: Ipl) {
    super::cpu::assert_intr_off("hold");
    let bit = 1 << ipl as u32;
    let before = HELD_LEVELS.fetch_or(bit, Ordering::Relaxed);
    assert!(before & bit == 0, "hold: a second source held at {ipl:?} (the PIC delivered irq {irq} under one in service)");
    HELD[ipl as usize].store(irq as u32, Ordering::Relaxed);
}

/// Runs, highest level first, the held sources that `ipl` no longer holds
/// back, each at its level, ending each with an EOI (which retires the
/// highest-priority source in service: this one). Interrupts must be off.
fn run_held(ipl: Ipl) {
    super::cpu::assert_intr_off("run_held");
    loop {
        let above = HELD_LEVELS.load(Ordering::Relaxed) & levels_above(ipl);
        if above == 0 {
            break;
        }
        let level = 31 - above.leading_zeros();
        HELD_LEVELS.fetch_and(!(1 << level), Ordering::Relaxed);
        let irq = HELD[level as usize].load(Ordering::Relaxed) as usize;
        let ih = HANDLERS.lock()[irq].expect("run_held: a held source has no handler");
        set_cpl(ih.ipl);
        (ih.func)();
        openpic::eoi();
        set_cpl(ipl);
    }
}

/// The level to go back to; restores it when dropped (`splx`).
#[must_use = "dropping the guard lowers the level again at once"]
pub struct Spl {
    old: Ipl,
}

impl Drop for Spl {
    fn drop(&mut self) {
        splx(self.old);
    }
}

/// Raises to at least `ipl`, never lowers.
pub fn splraise(ipl: Ipl) -> Spl {
    // No need to turn interrupts off: one taken between the load and the
    // store puts the level back as it found it before returning.
    let old = cpl();
    if ipl > old {
        set_cpl(ipl);
    }
    Spl { old }
}

/// Drops to IPL_NONE: every interrupt may run.
pub fn spl0() {
    splx(Ipl::None);
}

pub fn splsoftclock() -> Spl {
    splraise(Ipl::SoftClock)
}
pub fn splbio() -> Spl {
    splraise(Ipl::Bio)
}
pub fn spltty() -> Spl {
    splraise(Ipl::Tty)
}
pub fn splvm() -> Spl {
    splraise(Ipl::Vm)
}
pub fn splclock() -> Spl {
    splraise(Ipl::Clock)
}
pub fn splhigh() -> Spl {
    splraise(Ipl::High)
}

/// Sets the level to `ipl`, then runs clock ticks that were held back.
pub fn splx(ipl: Ipl) {
    set_cpl(ipl);
    // Anything held back was noted before the store above (an interrupt
    // after it finds the new level and runs at once), so with nothing noted
    // now there is nothing to run and no need to turn interrupts off.
    if !owed_below(ipl) {
        return;
    }
    let on = super::cpu::intr_disable();
    if ipl < Ipl::Clock {
        let owed = CLOCK_PENDING.swap(0, Ordering::Relaxed);
        if owed > 0 || kern_clockintr::clockintr_owed() {
            set_cpl(Ipl::Clock);
            for _ in 0..owed {
                crate::kern::kern_clock::hardclock();
            }
            kern_clockintr::clockintr_dispatch();
            set_cpl(ipl);
        }
    }
    run_held(ipl);
    dosoftint(ipl);
    super::cpu::intr_restore(on);
}

/// Whether a clock tick, held source or soft interrupt waits for a level
/// at or below `ipl` (a cheap superset: splx sorts out which).
fn owed_below(ipl: Ipl) -> bool {
    (ipl < Ipl::Clock && (CLOCK_PENDING.load(Ordering::Relaxed) != 0 || kern_clockintr::clockintr_owed()))
        || HELD_LEVELS.load(Ordering::Relaxed) & levels_above(ipl) != 0
        || SOFT_PENDING.load(Ordering::Relaxed) != 0
}

/// Panics unless the level is at least `ipl` (OpenBSD splassert).
#[track_caller]
pub fn splassert(ipl: Ipl) {
    let cur = cpl();
    if cur < ipl {
        panic!("splassert: want {:?}, have {:?}", ipl, cur);
    }
}

/// Handler table for external interrupts, indexed by OpenPIC source.
#[derive(Clone, Copy)]
struct IntrHand {
    func: fn(),
    ipl: Ipl,
    name: &'static str,
}

const NSOURCES: usize = openpic::NSOURCES;
static HANDLERS: spin::Mutex<[Option<IntrHand>; NSOURCES]> = spin::Mutex::new([None; NSOURCES]);
/// Interrupts taken per source (`vmstat -i`).
static COUNTS: [AtomicU32; NSOURCES] = [const { AtomicU32::new(0) }; NSOURCES];

/// Registers `func` for OpenPIC source `irq`, delivered at `ipl`.
pub fn intr_establish(irq: usize, ipl: Ipl, name: &'static str, func: fn()) {
    assert!(irq < NSOURCES, "intr_establish: irq {irq} out of range");
    super::cpu::with_interrupts_disabled(|| {
        HANDLERS.lock()[irq] = Some(IntrHand { func, ipl, name });
        openpic::enable_source(irq, ipl as u32);
    });
}

pub fn intr_count(irq: usize) -> u32 {
    COUNTS[irq].load(Ordering::Relaxed)
}

/// Established handlers with their counts, for diagnostics.
pub fn intr_list(mut f: impl FnMut(usize, &'static str, u32)) {
    let h = *HANDLERS.lock();
    for (irq, ih) in h.iter().enumerate() {
        if let Some(ih) = ih {
            f(irq, ih.name, intr_count(irq));
        }
    }
}

/// 0x500: one OpenPIC source, run at its level with interrupts off, or
/// held for splx if the level is at or above its own.
pub fn external_intr(_tf: &mut TrapFrame) {
    let Some(irq) = openpic::iack() else { return };
    let ih = HANDLERS.lock()[irq];
    match ih {
        Some(ih) => {
            COUNTS[irq].fetch_add(1, Ordering::Relaxed);
            let old = cpl();
            if ih.ipl <= old {
                hold(irq, ih.ipl);
                return;
            }
            set_cpl(ih.ipl);
            (ih.func)();
            openpic::eoi();
            set_cpl(old);
            run_held(old);
            dosoftint(old);
        }
        None => {
            openpic::eoi();
            panic!("stray interrupt on OpenPIC source {irq:#x}");
        }
    }
}

/// 0x900: a clock tick, unless the level holds it back.
pub fn decr_intr(tf: &mut TrapFrame) {
    let n = super::clock::decr_reload();
    crate::kern::subr_prof::prof_tick(tf);
    if cpl() >= Ipl::Clock {
        CLOCK_PENDING.fetch_add(n, Ordering::Relaxed);
        kern_clockintr::clockintr_owe();
        return;
    }
    crate::diag::deadlock::kernel_loop_tick(tf);
    let old = cpl();
    set_cpl(Ipl::Clock);
    for _ in 0..n {
        crate::kern::kern_clock::hardclock();
    }
    kern_clockintr::clockintr_dispatch();
    set_cpl(old);
    run_held(old);
    dosoftint(old);
}
