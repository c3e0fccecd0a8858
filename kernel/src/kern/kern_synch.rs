//! Sleeping and waking (OpenBSD kern_synch.c): a thread sleeps on a wait
//! channel (any address) with a message, optionally with a timeout in
//! ticks; `wakeup` makes every sleeper on the channel runnable, in the
//! order they went to sleep.

use crate::arch::cpu;
use crate::diag::vfs_hist::{vh_sleep, Vh};
use crate::kern::kern_clock;
use crate::kern::kern_mutex::MutexGuard;
use crate::kern::kern_proc::{sched_lock, ProcStat};
use crate::kern::kern_sched::{assertwaitok, mi_switch};
use crate::sys::errno::Errno;

/// Puts the running thread on the sleep queue. Interrupts must be off, so
/// no wakeup can come between this and the switch.
fn sleep_setup(ident: usize, wmesg: &'static str, timo: u32) {
    assert!(ident != 0, "tsleep: no wait channel");
    let mut st = sched_lock();
    let cur = st.curproc;
    assert!(cur != st.idleproc, "tsleep: the idle thread may not sleep");
    let p = st.cur();
    p.p_stat = ProcStat::SSLEEP;
    p.p_wchan = ident;
    p.p_wmesg = wmesg;
    p.p_timedout = false;
    p.p_deadline = (timo > 0).then(|| kern_clock::ticks().wrapping_add(timo));
    p.p_slptick = kern_clock::ticks();
    st.sleepq.push(cur);
}

/// Switches away and, once woken, says whether the timeout ended the sleep.
fn sleep_finish() -> Result<(), Errno> {
    let t0 = cpu::mftb();
    mi_switch();
    let mut st = sched_lock();
    let p = st.cur();
    let wmesg = core::mem::take(&mut p.p_wmesg);
    let r = if core::mem::take(&mut p.p_timedout) { Err(Errno::EWOULDBLOCK) } else { Ok(()) };
    drop(st);
    crate::kern::subr_prof::prof_sleep(wmesg, cpu::mftb() - t0);
    r
}

/// Sleeps on `ident` until woken, or until `timo` ticks pass (0: no
/// timeout), which returns EWOULDBLOCK.
#[track_caller]
pub fn tsleep(ident: usize, wmesg: &'static str, timo: u32) -> Result<(), Errno> {
    assertwaitok("tsleep");
    let on = cpu::intr_disable();
    vh_sleep(Vh::Tsleep, wmesg);
    sleep_setup(ident, wmesg, timo);
    let r = sleep_finish();
    vh_sleep(Vh::Wakeup, wmesg);
    cpu::intr_restore(on);
    r
}

/// Like tsleep, but lets go of `mtx` once asleep and takes it again after
/// (OpenBSD msleep): a wakeup issued by whoever takes the mutex next cannot
/// be lost.
#[track_caller]
pub fn msleep<'a, T>(ident: usize, mtx: MutexGuard<'a, T>, wmesg: &'static str, timo: u32) -> (MutexGuard<'a, T>, Result<(), Errno>) {
    let m = mtx.mutex();
    let on = cpu::intr_disable();
    vh_sleep(Vh::Tsleep, wmesg);
    sleep_setup(ident, wmesg, timo);
    drop(mtx);
    assertwaitok("msleep");
    let r = sleep_finish();
    vh_sleep(Vh::Wakeup, wmesg);
    cpu::intr_restore(on);
    (m.lock(), r)
}

/// Sleeps on `ident`, letting go of the write-held `lock` once asleep
/// (OpenBSD rwsleep with PNORELOCK): no wakeup issued after the lock is
/// let go can be lost, even when a thread of the simulated second CPU runs
/// at the release (interrupts are off there, so it makes no step).
#[track_caller]
pub fn rwsleep_norelock(ident: usize, lock: &crate::kern::kern_rwlock::Rwlock, wmesg: &'static str) {
    let on = cpu::intr_disable();
    vh_sleep(Vh::Tsleep, wmesg);
    sleep_setup(ident, wmesg, 0);
    lock.rw_exit();
    assertwaitok("rwsleep");
    let _ = sleep_finish();
    vh_sleep(Vh::Wakeup, wmesg);
    cpu::intr_restore(on);
}

/// Wakes at most `n` sleepers on `ident`, oldest first.
pub fn wakeup_n(ident: usize, n: usize) {
    sched_lock().wakeup_n(ident, n);
}

pub fn wakeup(ident: usize) {
    wakeup_n(ident, usize::MAX);
}

pub fn wakeup_one(ident: usize) {
    wakeup_n(ident, 1);
}

/// The wait channel for a kernel object: its address.
pub fn wchan<T: ?Sized>(obj: &T) -> usize {
    obj as *const T as *const u8 as usize
}
