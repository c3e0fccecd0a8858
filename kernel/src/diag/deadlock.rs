//! The deadlock detector and the hang watchdog (ppcbsd's own; OpenBSD has
//! neither): the idle loop asks `stuck` whether nothing can ever run again
//! or a thread has waited too long, and `deadlock_report` prints every
//! sleeper's trace and the vnodes they work on, then ends the boot as a
//! panic does.

use crate::arch::{cpu, db_trace, machdep};
use crate::kern::kern_proc::{self, sched_lock, ProcTable};
use crate::kern::subr_prf::Cons;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::{AtomicU32, Ordering};

/// Why the idle loop found the machine stuck: every thread asleep for
/// good (None), or the watchdog's thread.
pub fn stuck(st: &ProcTable) -> Option<Option<Hung>> {
    if let Some(h) = selfwaiter(st) {
        Some(Some(h))
    } else if deadlocked(st) {
        Some(None)
    } else {
        hung(st).map(Some)
    }
}

/// True when nothing can ever run again: no runnable thread, no device
/// transfer in flight, every sleeper without a timeout and on a channel no
/// interrupt handler wakes.
pub(crate) fn deadlocked(st: &ProcTable) -> bool {
    st.runq.is_empty()
        && crate::kern::kern_sched::io_pending() == 0
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
            return Some(Hung { tid: *t, wmesg: p.p_wmesg, ticks: waited, why: Why::Memory });
        }
        (p.p_deadline.is_none() && !kcore::wmesg::is_event_wait(p.p_wmesg) && !st.intr_wchans.contains(&p.p_wchan) && slept > limit).then_some(Hung {
            tid: *t,
            wmesg: p.p_wmesg,
            ticks: slept,
            why: Why::Slept,
        })
    })
}

/// The thread that went to sleep waiting for a page it holds busy itself,
/// plus one (0: none). Nothing can wake it; the next clock tick reports it while
/// the rest of the machine may still run, instead of when every thread
/// has at last gone to sleep.
static SELFWAIT: AtomicU32 = AtomicU32::new(0);

/// uvm_pagewait's note, just before it sleeps, that the running thread
/// waits for its own busy page.
pub fn selfwait_begin() {
    SELFWAIT.store(kern_proc::curproc_unlocked() + 1, Ordering::Relaxed);
}

/// The self-waiter, once it is asleep.
fn selfwaiter(st: &ProcTable) -> Option<Hung> {
    let tid = SELFWAIT.load(Ordering::Relaxed).checked_sub(1)?;
    let p = st.procs.get(&tid).filter(|p| p.p_stat == kern_proc::ProcStat::SSLEEP)?;
    Some(Hung { tid, wmesg: p.p_wmesg, ticks: 0, why: Why::OwnPage })
}

/// From the clock interrupt: reports the self-waiter while other threads
/// may still run (the idle loop would see it only once they all sleep).
fn selfwait_tick() {
    if SELFWAIT.load(Ordering::Relaxed) == 0 {
        return;
    }
    let Some(g) = kern_proc::SCHED.try_lock() else { return };
    let found = g.as_ref().and_then(selfwaiter);
    drop(g);
    if let Some(h) = found {
        cpu::intr_disable();
        deadlock_report(Some(h));
    }
}

/// The starvation watchdog, from the clock interrupt once a second: a
/// thread runnable for kern.hangsecs without running. Under PCT's strict
/// priorities the threads that outrank it can keep the CPU for good (a
/// retry loop that waits for what the starved one would give back), and
/// then no sleeper's watchdog may ever run: without this the boot would go
/// silent. The default round robin gets here only behind a thread that
/// keeps the CPU in the kernel: looping (the kernel-loop watchdog reports
/// that instead) or napping between polls (reported here).
fn starve_tick(tf: &crate::arch::trap::TrapFrame) {
    let secs = HANGSECS.load(Ordering::Relaxed);
    let hz = crate::kern::kern_clock::hz().max(1);
    let now = crate::kern::kern_clock::ticks();
    if secs == 0 || now.wrapping_sub(STARVE_TICK.load(Ordering::Relaxed)) < hz {
        return;
    }
    STARVE_TICK.store(now, Ordering::Relaxed);
    let Some(s) = kern_proc::starved(secs.saturating_mul(hz)) else { return };
    // No switch since it became runnable, in the kernel: a kernel loop.
    if tf.srr1 & cpu::Msr::PR.bits() == 0 && now.wrapping_sub(LOOP_TICK.load(Ordering::Relaxed)) >= s.waited {
        return;
    }
    cpu::intr_disable();
    deadlock_report(Some(Hung { tid: s.tid, wmesg: "", ticks: s.waited, why: Why::Starved { outran: s.outran as u32 } }));
}

/// The tick the starvation watchdog last looked at.
static STARVE_TICK: AtomicU32 = AtomicU32::new(0);

/// What a report says about a starved thread's rivals.
fn outran_words(outran: u32) -> alloc::string::String {
    if crate::diag::pct::pct_on() {
        alloc::format!(": {outran} threads that outrank it under PCT ran meanwhile, a schedule a fair scheduler does not make")
    } else {
        alloc::string::String::new()
    }
}

/// The switch count the kernel-loop watchdog last saw, and the tick it saw
/// it change (only the clock interrupt touches them).
static LOOP_NSW: AtomicU32 = AtomicU32::new(0);
static LOOP_TICK: AtomicU32 = AtomicU32::new(0);

/// The kernel-loop watchdog, from the clock interrupt: a thread that has
/// run in the kernel for kern.hangsecs without a switch (the kernel is not
/// preempted, so nothing else ran meanwhile) is looping there. Reported as
/// the hang watchdog reports a sleeper, with the trace of the interrupted
/// code. Not the idle thread, not a thread that naps for interrupts between
/// polls (the console demo), and not user mode (a process alone on the
/// machine may compute as long as it likes).
pub fn kernel_loop_tick(tf: &crate::arch::trap::TrapFrame) {
    selfwait_tick();
    kernel_loop_check(tf);
    starve_tick(tf);
}

fn kernel_loop_check(tf: &crate::arch::trap::TrapFrame) {
    let secs = HANGSECS.load(Ordering::Relaxed);
    let now = crate::kern::kern_clock::ticks();
    let nsw = crate::kern::kern_sched::nswitch();
    let seen_tick = LOOP_TICK.load(Ordering::Relaxed);
    let napped = cpu::take_napped_for_watchdog();
    if nsw != LOOP_NSW.load(Ordering::Relaxed) || tf.srr1 & cpu::Msr::PR.bits() != 0 || napped {
        LOOP_NSW.store(nsw, Ordering::Relaxed);
        LOOP_TICK.store(now, Ordering::Relaxed);
        return;
    }
    if secs == 0 || now.wrapping_sub(seen_tick) <= secs.saturating_mul(crate::kern::kern_clock::hz()) {
        return;
    }
    let Some(g) = kern_proc::SCHED.try_lock() else { return };
    let Some((me, idle)) = g.as_ref().map(|st| (st.curproc, st.idleproc)) else { return };
    drop(g);
    if me == idle {
        return;
    }
    cpu::intr_disable();
    let mut c = Cons;
    let _ = writeln!(
        c,
        "deadlock: thread {me} has run in the kernel for {} s without a switch (kern.hangsecs {secs})",
        now.wrapping_sub(seen_tick) / crate::kern::kern_clock::hz().max(1)
    );
    crate::diag::vfs_hist::print_uptime(&mut c, "deadlock");
    kern_proc::db_show_procs(&mut c);
    // Through the clock interrupt's trap frame into the looping code.
    let _ = writeln!(c, "trace of thread {me}:");
    db_trace::db_stack_trace_print(&["kernel_loop_tick", "decr_intr"], &mut c);
    machdep::boot_panicked();
}

/// What the detector found about one thread (see Why).
#[derive(Clone, Copy)]
pub struct Hung {
    tid: u32,
    wmesg: &'static str,
    ticks: u32,
    why: Why,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Why {
    /// Asleep too long with no timeout.
    Slept,
    /// Waiting for a free page that long, through uvm_wait's short sleeps.
    Memory,
    /// Asleep on a page it holds busy itself.
    OwnPage,
    /// Runnable that long without running: the schedule starves it
    /// (`outran`: the threads that outrank it under PCT and ran since).
    Starved { outran: u32 },
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
        deadlock_report(Some(Hung { tid: waited.0, wmesg, ticks: waited.1, why: Why::Memory }));
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
pub fn deadlock_report(hung: Option<Hung>) -> ! {
    let mut c = Cons;
    let hz = crate::kern::kern_clock::hz().max(1);
    match hung {
        None => {
            let _ = writeln!(c, "deadlock: every thread sleeps and nothing can wake one");
        }
        Some(Hung { tid, wmesg, why: Why::OwnPage, .. }) => {
            let _ = writeln!(c, "deadlock: thread {tid} sleeps on \"{wmesg}\" for a page it holds busy itself; nothing else lets that page go");
        }
        Some(Hung { tid, wmesg, ticks, why: Why::Slept }) => {
            let _ = writeln!(
                c,
                "deadlock: thread {tid} has slept on \"{wmesg}\" for {} s with no timeout (kern.hangsecs {})",
                ticks / hz,
                HANGSECS.load(Ordering::Relaxed)
            );
        }
        Some(Hung { tid, ticks, why: Why::Starved { outran }, .. }) => {
            let _ = writeln!(
                c,
                "deadlock: thread {tid} ({}) has been runnable for {} s without running (kern.hangsecs {}){}",
                kern_proc::proc_comm(tid).unwrap_or_default(),
                ticks / hz,
                HANGSECS.load(Ordering::Relaxed),
                outran_words(outran)
            );
        }
        Some(Hung { tid, wmesg, ticks, why: Why::Memory }) => {
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
    crate::diag::vfs_hist::print_uptime(&mut c, "deadlock");
    // Another report, while a thread starved as long: the wait above may
    // be the schedule's doing (see starve_tick).
    let limit = HANGSECS.load(Ordering::Relaxed).max(1).saturating_mul(hz);
    if let Some(s) = kern_proc::starved(limit).filter(|_| !matches!(hung, Some(Hung { why: Why::Starved { .. }, .. }))) {
        let _ = writeln!(
            c,
            "starved: thread {} ({}) has been runnable for {} s without running{}; the wait above may be the schedule's doing, not a deadlock",
            s.tid,
            s.comm,
            s.waited / hz,
            outran_words(s.outran as u32)
        );
    }
    kern_proc::db_show_procs(&mut c);
    if let Some(Hung { tid, why: Why::Memory, .. }) = hung {
        if tid == sched_lock().curproc {
            let _ = writeln!(c, "trace of thread {tid}:");
            db_trace::db_stack_trace_print(&["deadlock_report", "memwait_begin"], &mut c);
        }
    }
    if let Some(Hung { why: Why::Starved { .. }, .. }) = hung {
        // The interrupted thread (through the clock's trap frame) and every
        // runnable one: who had the CPU, and where the starved one waits.
        let _ = writeln!(c, "trace of thread {}:", sched_lock().curproc);
        db_trace::db_stack_trace_print(&["deadlock_report", "starve_tick", "kernel_loop_tick", "decr_intr"], &mut c);
        for tid in kern_proc::runnable_tids() {
            if let Some(sp) = kern_proc::proc_saved_sp(tid) {
                let _ = writeln!(c, "trace of thread {tid}:");
                db_trace::db_stack_trace_from(sp, &[], &mut c);
            }
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
        report_vnode(&mut c, vid);
    }
    crate::kern::kern_sched::sched_pct_report(&mut c);
    machdep::boot_panicked();
}

/// One sleeper's vnode in a deadlock report: its state, then its history.
/// The self-wait check reports from the clock interrupt, whose interrupted
/// thread may hold the vnode table: the state is then left out, but the
/// history (kept by vnode number, apart from the table) still prints.
pub fn report_vnode(c: &mut dyn Write, vid: u32) {
    use crate::diag::vfs_hist::{vh, vh_unknown, vhist_print, Vh};
    match crate::kern::vfs_subr::vnode_by_id_try(vid) {
        Some(vp) => {
            vh(vp, Vh::Deadlock, 0, 0);
            crate::ddb::db_uvm::db_show_vnode_brief(c, vp);
        }
        None => {
            vh_unknown(vid, Vh::Deadlock);
            let _ = writeln!(c, "vnode {vid}: state not shown: the vnode table is locked");
        }
    }
    vhist_print(c, vid);
}
