//! The scheduler (OpenBSD kern_sched.c, sched_bsd.c): one run queue, an
//! idle thread, and `mi_switch`, the one place a thread gives up the CPU.
//!
//! Kernel threads are never preempted: they switch only when they sleep,
//! yield or exit. The clock asks for a switch (`want_resched`) that is
//! honoured only on the way back to user mode.

use crate::arch::intr::{self, Ipl};
use crate::arch::{cpu, pmap, vm_machdep};
use crate::kern::kern_mutex::mutex_level;
use crate::kern::kern_proc::{sched_lock, Proc, ProcStat, ProcTable, SCHED};
use crate::uvm::uvm_km;
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Set by the clock when another thread should get the CPU at the next
/// return to user mode.
static WANT_RESCHED: AtomicBool = AtomicBool::new(false);
/// Context switches since boot.
static NSWITCH: AtomicU32 = AtomicU32::new(0);
/// Under sched.mp=1: the points at sleep locks and the kernel lock's
/// release, and the switches made there.
static MP_POINTS: AtomicU32 = AtomicU32::new(0);
static MP_PREEMPTS: AtomicU32 = AtomicU32::new(0);
/// Device transfers started and not yet completed: their interrupts will
/// wake someone, so a sleeping system is not deadlocked while any remain.
static IO_PENDING: AtomicU32 = AtomicU32::new(0);

pub fn io_start() {
    IO_PENDING.fetch_add(1, Ordering::Relaxed);
}

pub fn io_done() {
    IO_PENDING.fetch_sub(1, Ordering::Relaxed);
}

/// Device transfers in flight (the deadlock detector's "someone will be
/// woken").
pub fn io_pending() -> u32 {
    IO_PENDING.load(Ordering::Relaxed)
}

extern "C" {
    static boot_stack_bottom: u8;
}

/// Makes the running boot thread proc0 ("swapper") and creates the idle
/// thread. Needs the heap and kernel virtual memory.
pub fn sched_init() {
    let bottom = core::ptr::addr_of!(boot_stack_bottom) as u32;
    let mut procs = BTreeMap::new();
    procs.insert(0, Box::new(new_proc(0, 0, "swapper", ProcStat::SONPROC, None, bottom)));
    *SCHED.lock() = Some(ProcTable {
        procs,
        runq: VecDeque::new(),
        sleepq: Vec::new(),
        curproc: 0,
        idleproc: 0,
        nexttid: 1,
        deadprocs: Vec::new(),
        intr_wchans: Vec::new(),
        initproc: 0,
        pct: None,
        kernel_lock: None,
    });
    vm_machdep::set_stack_bottom(bottom);
    let idle = kthread_create_raw("idle", sched_idle_entry, 0, false).expect("sched_init: no memory for the idle thread");
    sched_lock().idleproc = idle;
}

/// `sched.pct=D`: from here on the run queue is PCT's (doc/schedules.md),
/// with change points over the first `window` steps.
pub fn sched_pct_init(depth: u32, window: u64, seed: u64) {
    let mut st = sched_lock();
    let tids: Vec<u32> = st.procs.keys().copied().collect();
    let p = crate::diag::pct::Pct::new(depth, window, seed, tids.into_iter());
    p.report(&mut crate::kern::subr_prf::Cons);
    st.pct = Some(p);
}

/// A thread's PCT priority (None: not under PCT).
pub fn sched_pct_priority(tid: u32) -> Option<u64> {
    sched_lock().pct.as_ref()?.priority(tid)
}

/// The PCT line for the halt report, if the boot runs under PCT, and
/// under sched.mp=1 what the simulated second CPU did: `sched: mp: N lock
/// points, N switches there, N waits for the kernel lock`.
pub fn sched_pct_report(out: &mut dyn core::fmt::Write) {
    if let Some(g) = SCHED.try_lock() {
        if let Some(p) = g.as_ref().and_then(|st| st.pct.as_ref()) {
            p.report(out);
        }
        if let Some(kl) = g.as_ref().and_then(|st| st.kernel_lock.as_ref()) {
            let _ = writeln!(
                out,
                "sched: mp: {} lock points, {} switches there, {} waits for the kernel lock",
                MP_POINTS.load(Ordering::Relaxed),
                MP_PREEMPTS.load(Ordering::Relaxed),
                kl.contended
            );
        }
    }
}

pub fn new_proc(tid: u32, ppid: u32, name: &str, stat: ProcStat, kstack: Option<uvm_km::KStack>, bottom: u32) -> Proc {
    crate::diag::vfs_hist::vh_comm(tid, name);
    Proc {
        p_tid: tid,
        p_ppid: ppid,
        p_comm: String::from(name),
        p_stat: stat,
        p_wchan: 0,
        p_wmesg: "",
        p_deadline: None,
        p_slptick: 0,
        p_runtick: 0,
        p_offtick: 0,
        p_memwait: None,
        p_timedout: false,
        p_kstack: kstack,
        p_stack_bottom: bottom,
        pcb_sp: 0,
        p_xstat: 0,
        p_pmap: None,
        p_vmspace: None,
        p_fd: None,
        p_vhvid: 0,
        p_rlimit_data: crate::kern::kern_resource::RLIMIT_DATA0,
    }
}

/// Creates a thread that will call `entry(arg)` on its own stack. It is
/// put on the run queue unless `runnable` is false (the idle thread).
pub fn kthread_create_raw(name: &str, entry: extern "C" fn(usize), arg: usize, runnable: bool) -> Option<u32> {
    let ks = uvm_km::uvm_km_kstack_alloc()?;
    // SAFETY: the stack was just allocated and mapped; nothing runs on it.
    let sp = unsafe { vm_machdep::cpu_fork_stack(ks.top, entry, arg) };
    let bottom = ks.bottom;
    let mut st = sched_lock();
    let tid = st.nexttid;
    st.nexttid += 1;
    let ppid = st.curproc;
    let mut p = new_proc(tid, ppid, name, ProcStat::SIDL, Some(ks), bottom);
    p.pcb_sp = sp;
    st.procs.insert(tid, Box::new(p));
    if let Some(p) = st.pct.as_mut() {
        p.thread_new(tid);
    }
    if runnable {
        st.setrunnable(tid);
    }
    Some(tid)
}

/// Panics unless the running thread may sleep: no spin mutex held, not in
/// an interrupt handler, IPL at spl0 (OpenBSD assertwaitok).
#[track_caller]
pub fn assertwaitok(what: &str) {
    let n = mutex_level();
    if n != 0 {
        panic!("{what}: sleeping with {n} spin mutex(es) held");
    }
    let ipl = intr::cpl();
    if ipl != Ipl::None {
        panic!("{what}: sleeping at {ipl:?} (raised IPL or interrupt context)");
    }
}

/// Gives the CPU to the next runnable thread (or the idle thread). The
/// caller has already set the running thread's state: SSLEEP on the sleep
/// queue, SRUN on the run queue, or SZOMB/SDEAD for good. A scheduling step
/// for PCT.
pub fn mi_switch() {
    switch_next(true);
}

/// mi_switch, counted as a PCT step or not (a preemption's step was its
/// return to user mode).
fn switch_next(step: bool) {
    let on = cpu::intr_disable();
    let (old_sp, new_sp, bottom) = {
        let mut st = sched_lock();
        let cur = st.curproc;
        if step && cur != st.idleproc {
            if let Some(p) = st.pct.as_mut() {
                p.step(cur);
            }
        }
        let next = st.runq_take().unwrap_or(st.idleproc);
        if next == cur {
            st.cur().p_stat = ProcStat::SONPROC;
            drop(st);
            cpu::intr_restore(on);
            return;
        }
        // A thread that switches lets go of the kernel lock (a preemption
        // by the simulated second CPU is no switch on its side).
        if step && st.kernel_lock.as_mut().is_some_and(|kl| crate::kern::kern_lock::kernel_lock_release_all(kl, cur)) {
            st.wakeup_n(crate::kern::kern_lock::kernel_lock_wchan(), usize::MAX);
        }
        if cur == st.idleproc && st.cur().p_stat == ProcStat::SONPROC {
            st.cur().p_stat = ProcStat::SIDL;
        }
        st.get(cur).p_offtick = crate::kern::kern_clock::ticks();
        st.curproc = next;
        crate::kern::kern_proc::CURPROC.store(next, Ordering::Relaxed);
        let out_vid = crate::diag::vfs_hist::vh_switch(next, st.get(next).p_vhvid);
        st.get(cur).p_vhvid = out_vid;
        let n = st.get(next);
        n.p_stat = ProcStat::SONPROC;
        let (new_sp, bottom) = (n.pcb_sp, n.p_stack_bottom);
        if let Some(ks) = &n.p_kstack {
            vm_machdep::set_user_trap_stack(ks.top);
        }
        if let Some(pm) = n.p_pmap {
            pmap::pmap_activate(pm);
        }
        let old_sp = core::ptr::addr_of_mut!(st.get(cur).pcb_sp);
        (old_sp, new_sp, bottom)
    };
    NSWITCH.fetch_add(1, Ordering::Relaxed);
    // SAFETY: interrupts are off until the new thread turns them on; the
    // old thread's Proc is boxed and outlives the switch (a dead thread is
    // freed only by another thread, after this); new_sp was saved by an
    // earlier switch or laid out by cpu_fork_stack.
    unsafe { vm_machdep::cpu_switchto(old_sp, new_sp, bottom) };
    sched_reap();
    crate::kern::kern_lock::kernel_lock_reacquire();
    cpu::intr_restore(on);
}

/// Puts the running thread at the end of the run queue and switches
/// (under PCT: below every thread that has not yielded since).
pub fn yield_cpu() {
    let on = cpu::intr_disable();
    {
        let mut st = sched_lock();
        let cur = st.curproc;
        if cur != st.idleproc {
            if let Some(p) = st.pct.as_mut() {
                p.yielded(cur);
            }
            st.setrunnable(cur);
        }
    }
    mi_switch();
    cpu::intr_restore(on);
}

/// On the way back to user mode, where a thread that did not ask to sleep
/// may be switched: every tenth of a second (the clock's round robin), or
/// under PCT whenever a runnable thread outranks it, this being a step.
pub fn sched_userret() {
    if !crate::diag::pct::pct_on() {
        if take_want_resched() {
            yield_cpu();
        }
        return;
    }
    pct_point();
}

/// Under `sched.mp=1`, a point where a thread on the simulated second CPU
/// could run between two steps of this one (at every sleep lock's enter and
/// exit, and the kernel lock's release; doc/schedules.md): a PCT step as at
/// a return to user mode. Not while a spin mutex is held, at a raised
/// level or with interrupts off: there the other CPU could only spin.
pub fn sched_mp_point() {
    if !crate::kern::kern_lock::mp_on() || mutex_level() != 0 || intr::cpl() != Ipl::None || !cpu::mfmsr().contains(cpu::Msr::EE) {
        return;
    }
    MP_POINTS.fetch_add(1, Ordering::Relaxed);
    if pct_point() {
        MP_PREEMPTS.fetch_add(1, Ordering::Relaxed);
    }
}

/// A PCT step with the running thread on the CPU; it gives way to a
/// runnable thread that outranks it and stays runnable, keeping what it
/// holds. True if it gave way.
fn pct_point() -> bool {
    let on = cpu::intr_disable();
    let preempt = {
        let mut st = sched_lock();
        let cur = st.curproc;
        let st = &mut *st;
        match st.pct.as_mut() {
            Some(p) if cur != st.idleproc => {
                p.step(cur);
                st.runq.iter().any(|&t| p.outranks(t, cur))
            }
            _ => false,
        }
    };
    if preempt {
        let mut st = sched_lock();
        let cur = st.curproc;
        st.setrunnable(cur);
        drop(st);
        switch_next(false);
    }
    cpu::intr_restore(on);
    preempt
}

/// Frees the stacks of threads that exited; kernel threads leave the table.
pub fn sched_reap() {
    let dead: Vec<uvm_km::KStack> = {
        let mut st = sched_lock();
        let tids = core::mem::take(&mut st.deadprocs);
        let mut stacks = Vec::new();
        for tid in tids {
            let gone = st.get(tid).p_stat == ProcStat::SDEAD;
            if let Some(ks) = st.get(tid).p_kstack.take() {
                stacks.push(ks);
            }
            if gone {
                st.proc_remove(tid);
            }
        }
        stacks
    };
    for ks in dead {
        uvm_km::uvm_km_kstack_free(ks);
    }
}

/// Called by the clock at IPL_CLOCK: ends timed sleeps that are due and
/// asks for a round-robin switch every tenth of a second.
pub fn sched_tick(now: u32, hz: u32) {
    let Some(mut g) = SCHED.try_lock() else { return };
    let Some(st) = g.as_mut() else { return };
    let due: Vec<u32> = st.sleepq.iter().copied().filter(|t| st.procs[t].p_deadline.is_some_and(|d| (now.wrapping_sub(d) as i32) >= 0)).collect();
    for tid in due {
        st.get(tid).p_timedout = true;
        st.setrunnable(tid);
    }
    if now.is_multiple_of((hz / 10).max(1)) && !st.runq.is_empty() {
        WANT_RESCHED.store(true, Ordering::Relaxed);
    }
}

/// Whether the clock asked for a switch; clears the request.
fn take_want_resched() -> bool {
    WANT_RESCHED.swap(false, Ordering::Relaxed)
}

pub fn nswitch() -> u32 {
    NSWITCH.load(Ordering::Relaxed)
}

/// Declares that an interrupt handler wakes sleepers on `ident`, so that
/// a thread asleep there is not taken for deadlocked.
pub fn intr_wakes(ident: usize) {
    let mut st = sched_lock();
    if !st.intr_wchans.contains(&ident) {
        st.intr_wchans.push(ident);
    }
}

extern "C" fn sched_idle_entry(_: usize) {
    loop {
        cpu::intr_disable();
        let (runnable, stuck) = {
            let st = sched_lock();
            (!st.runq.is_empty(), crate::diag::deadlock::stuck(&st))
        };
        if runnable {
            mi_switch();
        } else if let Some(why) = stuck {
            crate::diag::deadlock::deadlock_report(why);
        } else {
            cpu::idle();
        }
    }
}

/// First thing a new thread runs (from proc_trampoline): finish the switch
/// that started it, as mi_switch's tail would have.
#[no_mangle]
extern "C" fn proc_trampoline_mi() {
    sched_reap();
    intr::spl0();
    cpu::intr_restore(true);
    // New threads take the kernel lock as soon as they run
    // (proc_trampoline_mp, kern_fork.c:678@2ea167a2); the idle thread lets
    // it go at once (kern_sched.c:134), so it never takes it here.
    let idle = {
        let st = sched_lock();
        st.curproc == st.idleproc
    };
    if crate::kern::kern_lock::mp_on() && !idle {
        crate::kern::kern_lock::KERNEL_LOCK();
    }
}
