//! The scheduler (OpenBSD kern_sched.c, sched_bsd.c): one run queue, an
//! idle thread, and `mi_switch`, the one place a thread gives up the CPU.
//!
//! Kernel threads are never preempted: they switch only when they sleep,
//! yield or exit. The clock asks for a switch (`want_resched`) that is
//! honoured only on the way back to user mode.

use crate::arch::intr::{self, Ipl};
use crate::arch::{cpu, db_trace, machdep, pmap, vm_machdep};
use crate::kern::kern_mutex::mutex_level;
use crate::kern::kern_proc::{self, sched_lock, Proc, ProcStat, ProcTable, SCHED};
use crate::kern::subr_prf::Cons;
use crate::uvm::uvm_km;
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Set by the clock when another thread should get the CPU at the next
/// return to user mode.
static WANT_RESCHED: AtomicBool = AtomicBool::new(false);
/// Context switches since boot.
static NSWITCH: AtomicU32 = AtomicU32::new(0);
/// Device transfers started and not yet completed: their interrupts will
/// wake someone, so a sleeping system is not deadlocked while any remain.
static IO_PENDING: AtomicU32 = AtomicU32::new(0);

pub fn io_start() {
    IO_PENDING.fetch_add(1, Ordering::Relaxed);
}

pub fn io_done() {
    IO_PENDING.fetch_sub(1, Ordering::Relaxed);
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
    });
    vm_machdep::set_stack_bottom(bottom);
    let idle = kthread_create_raw("idle", sched_idle_entry, 0, false).expect("sched_init: no memory for the idle thread");
    sched_lock().idleproc = idle;
}

pub fn new_proc(tid: u32, ppid: u32, name: &str, stat: ProcStat, kstack: Option<uvm_km::KStack>, bottom: u32) -> Proc {
    crate::kern::vfs_hist::vh_comm(tid, name);
    Proc {
        p_tid: tid,
        p_ppid: ppid,
        p_comm: String::from(name),
        p_stat: stat,
        p_wchan: 0,
        p_wmesg: "",
        p_deadline: None,
        p_slptick: 0,
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
/// queue, SRUN on the run queue, or SZOMB/SDEAD for good.
pub fn mi_switch() {
    let on = cpu::intr_disable();
    let (old_sp, new_sp, bottom) = {
        let mut st = sched_lock();
        let cur = st.curproc;
        let next = st.runq.pop_front().unwrap_or(st.idleproc);
        if next == cur {
            st.cur().p_stat = ProcStat::SONPROC;
            drop(st);
            cpu::intr_restore(on);
            return;
        }
        if cur == st.idleproc && st.cur().p_stat == ProcStat::SONPROC {
            st.cur().p_stat = ProcStat::SIDL;
        }
        st.curproc = next;
        let out_vid = crate::kern::vfs_hist::vh_switch(next, st.get(next).p_vhvid);
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
    cpu::intr_restore(on);
}

/// Puts the running thread at the end of the run queue and switches.
pub fn yield_cpu() {
    let on = cpu::intr_disable();
    {
        let mut st = sched_lock();
        let cur = st.curproc;
        if cur != st.idleproc {
            st.setrunnable(cur);
        }
    }
    mi_switch();
    cpu::intr_restore(on);
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
                st.procs.remove(&tid);
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
pub fn take_want_resched() -> bool {
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

/// True when nothing can ever run again: no runnable thread, no device
/// transfer in flight, every sleeper without a timeout and on a channel no
/// interrupt handler wakes.
fn deadlocked(st: &ProcTable) -> bool {
    st.runq.is_empty()
        && IO_PENDING.load(Ordering::Relaxed) == 0
        && !st.sleepq.is_empty()
        && st.sleepq.iter().all(|t| {
            let p = &st.procs[t];
            p.p_deadline.is_none() && !st.intr_wchans.contains(&p.p_wchan)
        })
}

/// The hang watchdog's limit in seconds (`kern.hangsecs=`, 0: off).
static HANGSECS: AtomicU32 = AtomicU32::new(30);

pub fn set_hangsecs(secs: u32) {
    HANGSECS.store(secs, Ordering::Relaxed);
}

/// The hang watchdog: a thread asleep with no timeout on a lock, a busy
/// page or buffer, or I/O for longer than kern.hangsecs, while the rest of
/// the machine goes on (a process that sleeps in a loop with a timeout
/// keeps `deadlocked` from ever seeing every thread asleep). A ppcbsd
/// diagnostic; OpenBSD has none.
fn hung(st: &ProcTable) -> Option<Hung> {
    let secs = HANGSECS.load(Ordering::Relaxed);
    if secs == 0 {
        return None;
    }
    let now = crate::kern::kern_clock::ticks();
    let limit = secs.saturating_mul(crate::kern::kern_clock::hz());
    st.sleepq.iter().find_map(|t| {
        let p = &st.procs[t];
        let slept = now.wrapping_sub(p.p_slptick);
        let memwait = p.p_memwait.map(|t0| now.wrapping_sub(t0));
        if let Some(waited) = memwait.filter(|&w| w > limit) {
            return Some(Hung { tid: *t, wmesg: p.p_wmesg, ticks: waited, memory: true });
        }
        (p.p_deadline.is_none() && !kcore::wmesg::is_event_wait(p.p_wmesg) && !st.intr_wchans.contains(&p.p_wchan) && slept > limit).then_some(Hung {
            tid: *t,
            wmesg: p.p_wmesg,
            ticks: slept,
            memory: false,
        })
    })
}

/// What the hang watchdog found: a thread asleep too long with no
/// timeout, or (`memory`) waiting for a free page that long, through
/// uvm_wait's short sleeps.
#[derive(Clone, Copy)]
struct Hung {
    tid: u32,
    wmesg: &'static str,
    ticks: u32,
    memory: bool,
}

/// uvm_wait's note that the running thread waits for memory (from its
/// first wait on), for the hang watchdog, which it asks here: while the
/// pagedaemon passes in vain and the waiter retries, the machine may never
/// be idle, where the watchdog looks at sleepers.
pub fn memwait_begin(wmesg: &'static str) {
    let now = crate::kern::kern_clock::ticks();
    let secs = HANGSECS.load(Ordering::Relaxed);
    let limit = secs.saturating_mul(crate::kern::kern_clock::hz());
    let waited = {
        let mut st = sched_lock();
        let me = st.curproc;
        let Some(p) = st.procs.get_mut(&me) else { return };
        (me, now.wrapping_sub(*p.p_memwait.get_or_insert(now)))
    };
    if secs > 0 && waited.1 > limit {
        cpu::intr_disable();
        deadlock_report(Some(Hung { tid: waited.0, wmesg, ticks: waited.1, memory: true }));
    }
}

/// The running thread got its page (or gave up): no longer waiting.
pub fn memwait_end() {
    let mut st = sched_lock();
    let me = st.curproc;
    if let Some(p) = st.procs.get_mut(&me) {
        p.p_memwait = None;
    }
}

/// Reports a deadlock like a panic: `ps` and every sleeper's trace, then
/// the "panicked" exit. `hung`: the watchdog's thread, wait and ticks.
fn deadlock_report(hung: Option<Hung>) -> ! {
    let mut c = Cons;
    let hz = crate::kern::kern_clock::hz().max(1);
    match hung {
        None => {
            let _ = writeln!(c, "deadlock: every thread sleeps and nothing can wake one");
        }
        Some(Hung { tid, wmesg, ticks, memory: false }) => {
            let _ = writeln!(
                c,
                "deadlock: thread {tid} has slept on \"{wmesg}\" for {} s with no timeout (kern.hangsecs {})",
                ticks / hz,
                HANGSECS.load(Ordering::Relaxed)
            );
        }
        Some(Hung { tid, wmesg, ticks, memory: true }) => {
            let e = crate::uvm::uvm_page::uvmexp_try().unwrap_or_default();
            let _ = writeln!(
                c,
                "deadlock: thread {tid} has waited for a free page for {} s, now in \"{wmesg}\" (kern.hangsecs {}); {} pages free, {} active, {} inactive; the pagedaemon has made {} passes and started {} pageouts",
                ticks / hz,
                HANGSECS.load(Ordering::Relaxed),
                e.free,
                e.active,
                e.inactive,
                e.pdrevs,
                e.pdpageouts
            );
        }
    }
    crate::kern::vfs_hist::print_uptime(&mut c, "deadlock");
    kern_proc::db_show_procs(&mut c);
    if let Some(Hung { tid, memory: true, .. }) = hung {
        if tid == sched_lock().curproc {
            let _ = writeln!(c, "trace of thread {tid}:");
            db_trace::db_stack_trace_print(&["deadlock_report", "memwait_begin"], &mut c);
        }
    }
    for tid in kern_proc::sleeping_tids() {
        if let Some(sp) = kern_proc::proc_saved_sp(tid) {
            let _ = writeln!(c, "trace of thread {tid}:");
            db_trace::db_stack_trace_from(sp, &[], &mut c);
        }
    }
    // The vnodes the sleepers work on, each with its story.
    let sleepers = kern_proc::sleepers_on_vnodes();
    let mut vids: Vec<u32> = Vec::new();
    for (tid, comm, wmesg, vid) in &sleepers {
        let _ = writeln!(c, "deadlock: thread {tid} ({comm}) sleeps on \"{wmesg}\" working on vnode {vid}");
        if !vids.contains(vid) {
            vids.push(*vid);
        }
    }
    for vid in vids {
        if let Some(vp) = crate::kern::vfs_subr::vnode_by_id_try(vid) {
            crate::kern::vfs_hist::vh(vp, crate::kern::vfs_hist::Vh::Deadlock, 0, 0);
            crate::uvm::uvm_vnode::db_show_vnode_brief(&mut c, vp);
            crate::kern::vfs_hist::vhist_print(&mut c, vid);
        }
    }
    machdep::boot_panicked();
}

extern "C" fn sched_idle_entry(_: usize) {
    loop {
        cpu::intr_disable();
        let (runnable, dead, hung) = {
            let st = sched_lock();
            (!st.runq.is_empty(), deadlocked(&st), hung(&st))
        };
        if runnable {
            mi_switch();
        } else if dead || hung.is_some() {
            deadlock_report(if dead { None } else { hung });
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
}
