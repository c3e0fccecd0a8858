//! Interrupt priority levels (spl) and interrupt dispatch.
//!
//! The current level lives in `CPL`. External interrupts are masked by the
//! OpenPIC's task priority (a source is delivered only above it); the
//! decrementer, which bypasses the PIC, is deferred in software: a tick that
//! arrives at or above IPL_CLOCK is counted and replayed by `splx`.

use super::trap::TrapFrame;
use crate::dev::openpic;
use crate::kern::kern_clockintr;
use core::sync::atomic::{AtomicU32, Ordering};

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

fn set_cpl(ipl: Ipl) {
    CPL.store(ipl as u32, Ordering::Relaxed);
    openpic::set_task_priority(ipl as u32);
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
    let old = super::cpu::with_interrupts_disabled(|| {
        let old = cpl();
        if ipl > old {
            set_cpl(ipl);
        }
        old
    });
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
    let on = super::cpu::intr_disable();
    set_cpl(ipl);
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
    dosoftint(ipl);
    super::cpu::intr_restore(on);
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

/// 0x500: one OpenPIC source, run at its level with interrupts off.
pub fn external_intr(_tf: &mut TrapFrame) {
    let Some(irq) = openpic::iack() else { return };
    let ih = HANDLERS.lock()[irq];
    match ih {
        Some(ih) => {
            COUNTS[irq].fetch_add(1, Ordering::Relaxed);
            let old = cpl();
            set_cpl(ih.ipl.max(old));
            (ih.func)();
            openpic::eoi();
            set_cpl(old);
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
    let old = cpl();
    set_cpl(Ipl::Clock);
    for _ in 0..n {
        crate::kern::kern_clock::hardclock();
    }
    kern_clockintr::clockintr_dispatch();
    set_cpl(old);
    dosoftint(old);
}
