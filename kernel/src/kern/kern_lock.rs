//! The big kernel lock (OpenBSD kern_lock.c's `kernel_lock`, an
//! `__mp_lock`), held for real only under `sched.mp=1`, where the scheduler
//! simulates a second CPU (doc/schedules.md). On one CPU it changes
//! nothing, so it is then not taken at all.
//!
//! As OpenBSD's: recursive; `mi_switch` lets go of all of it and the thread
//! takes the same depth back when it runs again (`__mp_release_all`,
//! `__mp_acquire_count`); a thread that finds it held by another waits for
//! it. Here the waiting is a sleep on the lock ("kernel_lock"): the holder
//! is never asleep (a sleep lets go), so it runs and lets go in time. A
//! preemption by the simulated second CPU is no switch on the holder's side
//! and keeps the lock.

use crate::kern::kern_proc::sched_lock;
use alloc::collections::BTreeMap;
use core::sync::atomic::{AtomicBool, Ordering};

static MP: AtomicBool = AtomicBool::new(false);
/// What the waiters sleep on.
static KERNEL_LOCK_WCHAN: u8 = 0;

/// Whether the boot simulates a second CPU (`sched.mp=1`).
pub fn mp_on() -> bool {
    MP.load(Ordering::Relaxed)
}

/// The lock's state, in the process table (under the scheduler lock).
#[derive(Default)]
pub struct KernelLock {
    owner: Option<u32>,
    depth: u32,
    /// The depth each switched-out thread had (to take back when it runs).
    saved: BTreeMap<u32, u32>,
    /// Times a thread found it held by another and waited.
    pub contended: u64,
}

pub fn kernel_lock_init() {
    sched_lock().kernel_lock = Some(KernelLock::default());
    MP.store(true, Ordering::Relaxed);
}

/// What the lock's waiters sleep on (mi_switch wakes them with the
/// scheduler lock held).
pub fn kernel_lock_wchan() -> usize {
    core::ptr::addr_of!(KERNEL_LOCK_WCHAN) as usize
}

/// Takes the kernel lock `depth` times, waiting while another thread holds it.
fn acquire(depth: u32) {
    loop {
        {
            let mut st = sched_lock();
            let me = st.curproc;
            let kl = st.kernel_lock.as_mut().expect("kernel lock without sched.mp");
            match kl.owner {
                None => {
                    kl.owner = Some(me);
                    kl.depth = depth;
                    return;
                }
                Some(o) if o == me => {
                    kl.depth += depth;
                    return;
                }
                Some(_) => kl.contended += 1,
            }
        }
        let _ = crate::kern::kern_synch::tsleep(kernel_lock_wchan(), "kernel_lock", 0);
    }
}

/// OpenBSD KERNEL_LOCK().
#[allow(non_snake_case)]
#[track_caller]
pub fn KERNEL_LOCK() {
    if !mp_on() {
        return;
    }
    let n = crate::kern::kern_mutex::mutex_level();
    assert!(n == 0, "KERNEL_LOCK with {n} spin mutex(es) held");
    acquire(1);
}

/// OpenBSD KERNEL_UNLOCK(): once the depth reaches 0 the waiters are woken,
/// and the simulated second CPU may take the lock at once.
#[allow(non_snake_case)]
#[track_caller]
pub fn KERNEL_UNLOCK() {
    if !mp_on() {
        return;
    }
    let freed = {
        let mut st = sched_lock();
        let me = st.curproc;
        let kl = st.kernel_lock.as_mut().expect("kernel lock without sched.mp");
        assert!(kl.owner == Some(me), "KERNEL_UNLOCK: not held by thread {me} ({:?})", kl.owner);
        kl.depth -= 1;
        if kl.depth == 0 {
            kl.owner = None;
        }
        kl.depth == 0
    };
    if freed {
        crate::kern::kern_synch::wakeup(kernel_lock_wchan());
    }
    crate::kern::kern_sched::sched_mp_point();
}

/// `f` between KERNEL_LOCK() and KERNEL_UNLOCK(), as OpenBSD brackets a
/// call that needs the lock in code that runs without it.
#[track_caller]
pub fn with_kernel_lock<R>(f: impl FnOnce() -> R) -> R {
    KERNEL_LOCK();
    let r = f();
    KERNEL_UNLOCK();
    r
}

/// OpenBSD KERNEL_ASSERT_LOCKED().
#[allow(non_snake_case)]
#[track_caller]
pub fn KERNEL_ASSERT_LOCKED() {
    if !mp_on() {
        return;
    }
    let mut st = sched_lock();
    let me = st.curproc;
    let owner = st.kernel_lock.as_mut().and_then(|kl| kl.owner);
    assert!(owner == Some(me), "kernel lock not held by thread {me} (held by {owner:?})");
}

impl KernelLock {
    /// A thread gone for good keeps no depth.
    pub fn forget(&mut self, tid: u32) {
        self.saved.remove(&tid);
    }
}

/// The depth at which the running thread holds the lock (0: not held), and
/// how many times a thread has waited for it (for the self-test).
pub fn kernel_lock_mine() -> (u32, u64) {
    let mut st = sched_lock();
    let me = st.curproc;
    st.kernel_lock.as_mut().map_or((0, 0), |kl| (if kl.owner == Some(me) { kl.depth } else { 0 }, kl.contended))
}

/// mi_switch's `__mp_release_all`: the running thread `cur` lets go of the
/// whole lock before it switches; true if it held it (waiters to wake).
pub fn kernel_lock_release_all(kl: &mut KernelLock, cur: u32) -> bool {
    if kl.owner != Some(cur) {
        return false;
    }
    kl.saved.insert(cur, kl.depth);
    kl.owner = None;
    kl.depth = 0;
    true
}

/// mi_switch's `__mp_acquire_count`, once the thread runs again.
pub fn kernel_lock_reacquire() {
    if !mp_on() {
        return;
    }
    let depth = {
        let mut st = sched_lock();
        let me = st.curproc;
        st.kernel_lock.as_mut().and_then(|kl| kl.saved.remove(&me))
    };
    if let Some(d) = depth {
        acquire(d);
    }
}
