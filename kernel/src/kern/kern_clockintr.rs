//! Clock interrupt events between ticks (the idea of OpenBSD's later
//! kern_clockintr.c): a driver asks for a callback at a time-base deadline,
//! and the machine's clock programs its one timer for the nearer of the
//! next hardclock and the earliest event. Callbacks run at IPL_CLOCK with
//! interrupts off, after the ticks that fall due at the same moment.
//! Deadlines are time-base values, which under QEMU `-icount` replay
//! exactly.

use crate::arch::{clock, cpu};
use core::sync::atomic::{AtomicBool, Ordering};

/// Events a boot may establish (one per driver that wants one).
const NEVENTS: usize = 8;

#[derive(Clone, Copy)]
struct Event {
    func: fn(),
    deadline: Option<u64>,
}

/// Only touched with interrupts off.
static EVENTS: spin::Mutex<[Option<Event>; NEVENTS]> = spin::Mutex::new([None; NEVENTS]);
/// An event fell due while the level held the clock back: `splx` runs it.
static OWED: AtomicBool = AtomicBool::new(false);

/// A handle on an established event.
#[derive(Clone, Copy, Debug)]
pub struct ClockIntr(usize);

/// Establishes an event whose callback is `func`; it runs once per
/// `clockintr_schedule`.
pub fn clockintr_establish(func: fn()) -> ClockIntr {
    cpu::with_interrupts_disabled(|| {
        let mut t = EVENTS.lock();
        let i = t.iter().position(Option::is_none).expect("clockintr_establish: no free event slot");
        t[i] = Some(Event { func, deadline: None });
        ClockIntr(i)
    })
}

/// Runs the event's callback once the time base reaches `deadline` (at
/// once if it already has); replaces an earlier request.
pub fn clockintr_schedule(cl: ClockIntr, deadline: u64) {
    cpu::with_interrupts_disabled(|| {
        if let Some(e) = EVENTS.lock()[cl.0].as_mut() {
            e.deadline = Some(deadline);
        }
        clock::cpu_rearm();
    });
}

/// The earliest deadline after `now`, for programming the timer. Events
/// already due are not counted: they are owed to `splx`, and a timer armed
/// for them would fire again and again while the level holds them back.
/// Interrupts must be off.
pub fn clockintr_next_after(now: u64) -> Option<u64> {
    EVENTS.lock().iter().flatten().filter_map(|e| e.deadline).filter(|&d| d > now).min()
}

/// From the clock interrupt when the level holds it back.
pub fn clockintr_owe() {
    OWED.store(true, Ordering::Relaxed);
}

/// Whether an event was held back (`splx` then dispatches).
pub fn clockintr_owed() -> bool {
    OWED.load(Ordering::Relaxed)
}

/// Runs every event whose deadline has passed, at IPL_CLOCK with
/// interrupts off. A callback may schedule its event again.
pub fn clockintr_dispatch() {
    crate::arch::intr::splassert(crate::arch::intr::Ipl::Clock);
    OWED.store(false, Ordering::Relaxed);
    let now = cpu::mftb();
    for i in 0..NEVENTS {
        let due = {
            let mut t = EVENTS.lock();
            match t[i].as_mut() {
                Some(e) if e.deadline.is_some_and(|d| d <= now) => {
                    e.deadline = None;
                    Some(e.func)
                }
                _ => None,
            }
        };
        if let Some(f) = due {
            f();
        }
    }
}
