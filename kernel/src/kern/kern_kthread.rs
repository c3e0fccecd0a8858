//! Kernel threads (OpenBSD kern_kthread.c): a closure run on a thread of
//! its own, which ends when the closure returns.

use crate::kern::kern_proc::{sched_lock, ProcStat};
use crate::kern::kern_sched::{kthread_create_raw, mi_switch};
use alloc::boxed::Box;

type Thunk = Box<dyn FnOnce() + Send>;

extern "C" fn kthread_entry(arg: usize) {
    // SAFETY: `arg` is the Box::into_raw of kthread_create below, and each
    // thread starts exactly once.
    let f = unsafe { Box::from_raw(arg as *mut Thunk) };
    f();
}

/// Starts a thread running `f`; None when no stack could be allocated.
pub fn kthread_create(name: &str, f: impl FnOnce() + Send + 'static) -> Option<u32> {
    let thunk: Box<Thunk> = Box::new(Box::new(f));
    let arg = Box::into_raw(thunk);
    let tid = kthread_create_raw(name, kthread_entry, arg as usize, true);
    if tid.is_none() {
        // SAFETY: the thread was not created, so nothing else owns `arg`.
        drop(unsafe { Box::from_raw(arg) });
    }
    tid
}

/// Ends the running kernel thread; its stack is freed by the next thread
/// to run. proc_trampoline calls this when a thread's function returns.
#[no_mangle]
pub extern "C" fn kthread_exit() -> ! {
    crate::arch::cpu::intr_disable();
    {
        let mut st = sched_lock();
        let cur = st.curproc;
        st.cur().p_stat = ProcStat::SDEAD;
        st.deadprocs.push(cur);
    }
    mi_switch();
    panic!("kthread_exit: a dead thread was run again");
}
