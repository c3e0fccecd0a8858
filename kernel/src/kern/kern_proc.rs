//! Threads and the process table (OpenBSD struct proc, kern_proc.c).
//!
//! Every thread is a `Proc` in one table guarded by the scheduler lock.
//! Entries are boxed so the saved stack pointer of a switched-out thread
//! stays put while the table changes around it.

use crate::arch::intr::Ipl;
use crate::kern::kern_descrip::FileDesc;
use crate::kern::kern_mutex::{Mutex, MutexGuard};
use crate::uvm::uvm_km::KStack;
use crate::uvm::uvm_map::VmSpace;
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write;

/// p_stat, with OpenBSD's numbers (ddb's `ps` prints them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcStat {
    SIDL = 1,
    SRUN = 2,
    SSLEEP = 3,
    SZOMB = 5,
    SDEAD = 6,
    SONPROC = 7,
}

pub struct Proc {
    pub p_tid: u32,
    pub p_ppid: u32,
    pub p_comm: String,
    pub p_stat: ProcStat,
    /// What it sleeps on (an address) and why.
    pub p_wchan: usize,
    pub p_wmesg: &'static str,
    /// The tick at which a timed sleep ends.
    pub p_deadline: Option<u32>,
    /// The tick it went to sleep at (the hang watchdog's clock).
    pub p_slptick: u32,
    /// The tick it last became runnable at: how long a runnable thread has
    /// waited for the CPU (ps, and the starvation watchdog).
    pub p_runtick: u32,
    /// The tick it last left the CPU at: which threads ran while another
    /// waited (the starvation watchdog).
    pub p_offtick: u32,
    /// The tick of its first uvm_wait since it last got the page it
    /// wanted (the hang watchdog's clock for waits on memory, which carry
    /// a timeout and so never count as a hang on their own).
    pub p_memwait: Option<u32>,
    pub p_timedout: bool,
    /// Its kernel stack; None for proc0, which runs on the boot stack.
    pub p_kstack: Option<KStack>,
    /// Lowest valid address of the stack it runs on.
    pub p_stack_bottom: u32,
    /// Saved stack pointer while switched out (the PCB).
    pub pcb_sp: u32,
    /// Exit status for the parent's wait (W_EXITCODE).
    pub p_xstat: i32,
    /// The address space of a user process, loaded when it runs.
    pub p_pmap: Option<crate::arch::pmap::Pmap>,
    /// Its address space (OpenBSD p_vmspace); None for a kernel thread.
    /// Behind a mutex of its own, taken after the process table's lock is
    /// let go: the table's lock is a spin lock held only briefly.
    pub p_vmspace: Option<Arc<Mutex<VmSpace>>>,
    /// Its descriptor table (p_fd); None until it opens a file.
    pub p_fd: Option<Arc<Mutex<FileDesc>>>,
    /// The vnode it works on while switched out (the flight recorder's
    /// CUR_VID, kept across mi_switch).
    pub p_vhvid: u32,
    /// RLIMIT_DATA (OpenBSD keeps it in the process's plimit).
    pub p_rlimit_data: crate::kern::kern_resource::Rlimit,
}

pub struct ProcTable {
    pub procs: BTreeMap<u32, Box<Proc>>,
    /// Runnable threads, in the order they became so.
    pub runq: VecDeque<u32>,
    /// Sleeping threads, in the order they went to sleep.
    pub sleepq: Vec<u32>,
    pub curproc: u32,
    pub idleproc: u32,
    pub nexttid: u32,
    /// Threads that have exited and whose stacks await freeing by the
    /// next thread to run (a thread cannot free the stack it runs on).
    pub deadprocs: Vec<u32>,
    /// Wait channels some interrupt handler wakes (deadlock detection).
    pub intr_wchans: Vec<usize>,
    /// /sbin/init, which inherits orphans; the swapper until it runs.
    pub initproc: u32,
    /// The priorities of `sched.pct=D` (ppcbsd's own, doc/schedules.md).
    pub pct: Option<crate::diag::pct::Pct>,
    /// The kernel lock, under `sched.mp=1` only.
    pub kernel_lock: Option<crate::kern::kern_lock::KernelLock>,
}

impl ProcTable {
    pub fn cur(&mut self) -> &mut Proc {
        let c = self.curproc;
        self.procs.get_mut(&c).expect("curproc is not in the table")
    }

    pub fn get(&mut self, tid: u32) -> &mut Proc {
        self.procs.get_mut(&tid).expect("no such thread")
    }

    /// Takes the thread to run next off the run queue: the oldest, or
    /// under PCT the highest-priority one.
    pub fn runq_take(&mut self) -> Option<u32> {
        match &self.pct {
            Some(p) => {
                let i = p.pick(&self.runq)?;
                self.runq.remove(i)
            }
            None => self.runq.pop_front(),
        }
    }

    /// A thread leaves the table for good.
    pub fn proc_remove(&mut self, tid: u32) {
        self.procs.remove(&tid);
        if let Some(p) = self.pct.as_mut() {
            p.thread_gone(tid);
        }
        if let Some(kl) = self.kernel_lock.as_mut() {
            kl.forget(tid);
        }
    }

    /// Wakes at most `n` sleepers on `ident`, oldest first (wakeup_n with
    /// the scheduler lock held).
    pub fn wakeup_n(&mut self, ident: usize, n: usize) {
        let mut woken = 0;
        let mut i = 0;
        while i < self.sleepq.len() && woken < n {
            let tid = self.sleepq[i];
            if self.procs[&tid].p_wchan == ident {
                self.setrunnable(tid);
                woken += 1;
            } else {
                i += 1;
            }
        }
    }

    /// Makes a sleeping (or new) thread runnable.
    pub fn setrunnable(&mut self, tid: u32) {
        let p = self.get(tid);
        p.p_stat = ProcStat::SRUN;
        p.p_runtick = crate::kern::kern_clock::ticks();
        p.p_wchan = 0;
        p.p_deadline = None;
        self.sleepq.retain(|&t| t != tid);
        self.runq.push_back(tid);
    }
}

/// The scheduler lock (OpenBSD SCHED_LOCK). IPL_HIGH: the clock and device
/// interrupts wake threads.
pub static SCHED: Mutex<Option<ProcTable>> = Mutex::new(Ipl::High, None);

pub fn sched_lock() -> SchedGuard {
    SchedGuard(SCHED.lock())
}

pub struct SchedGuard(MutexGuard<'static, Option<ProcTable>>);

impl core::ops::Deref for SchedGuard {
    type Target = ProcTable;
    fn deref(&self) -> &ProcTable {
        self.0.as_ref().expect("scheduler not initialised")
    }
}

impl core::ops::DerefMut for SchedGuard {
    fn deref_mut(&mut self) -> &mut ProcTable {
        self.0.as_mut().expect("scheduler not initialised")
    }
}

/// The running thread's id.
pub fn curproc() -> u32 {
    sched_lock().curproc
}

/// The running thread's id, as the scheduler last switched to it, for
/// callers that may hold the scheduler's lock (the heap's growth).
pub static CURPROC: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

pub fn curproc_unlocked() -> u32 {
    CURPROC.load(core::sync::atomic::Ordering::Relaxed)
}

/// The wait channel a process's parent sleeps on in wait4: an address in
/// I/O space, where no kernel object lives.
pub fn proc_wchan(tid: u32) -> usize {
    0x8000_0000 | tid as usize
}

fn stat_name(s: ProcStat) -> &'static str {
    match s {
        ProcStat::SIDL => "idl",
        ProcStat::SRUN => "run",
        ProcStat::SSLEEP => "sleep",
        ProcStat::SZOMB => "zomb",
        ProcStat::SDEAD => "dead",
        ProcStat::SONPROC => "onproc",
    }
}

/// ddb `ps`: every thread with its state, wait channel and wait message.
/// Uses a try-lock and no heap: it runs from panic and ddb, where a lock
/// may be held by the code that failed.
pub fn db_show_procs(pr: &mut dyn Write) {
    let Some(g) = SCHED.try_lock() else {
        let _ = writeln!(pr, "ps: scheduler lock held; no process list");
        return;
    };
    let Some(pt) = g.as_ref() else { return };
    let _ = writeln!(pr, "   TID  PPID S STAT     WCHAN      WAIT     TIMEOUT COMMAND");
    for p in pt.procs.values() {
        let cur = if p.p_tid == pt.curproc { '*' } else { ' ' };
        let _ = write!(pr, "{cur}{:5} {:5} {} {:8} ", p.p_tid, p.p_ppid, p.p_stat as u32, stat_name(p.p_stat));
        let _ = match p.p_stat {
            ProcStat::SSLEEP => write!(pr, "{:#010x} {:8} ", p.p_wchan, p.p_wmesg),
            _ => write!(pr, "{:10} {:8} ", "-", "-"),
        };
        let _ = match p.p_deadline {
            Some(d) => write!(pr, "{d:7} "),
            None => write!(pr, "{:7} ", "-"),
        };
        let _ = write!(pr, "{}", p.p_comm);
        if p.p_stat == ProcStat::SRUN {
            let hz = crate::kern::kern_clock::hz().max(1);
            let waited = crate::kern::kern_clock::ticks().wrapping_sub(p.p_runtick);
            let _ = write!(pr, "  (runnable for {}.{:02} s", waited / hz, waited % hz * 100 / hz);
            if let Some(pct) = pt.pct.as_ref() {
                // Among the threads that could run: runnable or running.
                let rank = pt
                    .procs
                    .values()
                    .filter(|q| q.p_tid != pt.idleproc && matches!(q.p_stat, ProcStat::SRUN | ProcStat::SONPROC) && pct.outranks(q.p_tid, p.p_tid))
                    .count()
                    + 1;
                let _ = write!(pr, ", PCT rank {rank}");
            }
            let _ = write!(pr, ")");
        }
        let _ = writeln!(pr);
    }
}

/// A thread runnable for a long time without running (the starvation
/// watchdog's finding).
pub struct Starved {
    pub tid: u32,
    pub comm: String,
    /// Ticks since it became runnable.
    pub waited: u32,
    /// Under PCT: the threads that outrank it and were on the CPU since.
    pub outran: usize,
}

/// The runnable thread that has waited longest for the CPU, if it has
/// waited more than `limit` ticks. Try-lock, and no heap beyond the name:
/// it runs from the clock interrupt and the deadlock report.
pub fn starved(limit: u32) -> Option<Starved> {
    let g = SCHED.try_lock()?;
    let pt = g.as_ref()?;
    let now = crate::kern::kern_clock::ticks();
    let p = pt.procs.values().filter(|p| p.p_stat == ProcStat::SRUN).max_by_key(|p| now.wrapping_sub(p.p_runtick))?;
    let waited = now.wrapping_sub(p.p_runtick);
    if waited <= limit {
        return None;
    }
    let ran_since = |q: &Proc| q.p_tid == pt.curproc || now.wrapping_sub(q.p_offtick) <= waited;
    let outran = pt
        .pct
        .as_ref()
        .map_or(0, |pct| pt.procs.values().filter(|q| q.p_tid != pt.idleproc && q.p_tid != p.p_tid && pct.outranks(q.p_tid, p.p_tid) && ran_since(q)).count());
    Some(Starved { tid: p.p_tid, comm: p.p_comm.clone(), waited, outran })
}

/// The saved stack pointer of a thread that is switched out, for
/// `trace /t` and deadlock reports; None for the running one or no such.
pub fn proc_saved_sp(tid: u32) -> Option<u32> {
    let g = SCHED.try_lock()?;
    let pt = g.as_ref()?;
    let p = pt.procs.get(&tid)?;
    if tid == pt.curproc || matches!(p.p_stat, ProcStat::SZOMB | ProcStat::SDEAD) {
        return None;
    }
    Some(p.pcb_sp)
}

/// Thread ids of the runnable threads, in run-queue order.
pub fn runnable_tids() -> Vec<u32> {
    SCHED.try_lock().and_then(|g| g.as_ref().map(|pt| pt.runq.iter().copied().collect())).unwrap_or_default()
}

/// A thread's name (try-lock: for reports).
pub fn proc_comm(tid: u32) -> Option<String> {
    let g = SCHED.try_lock()?;
    g.as_ref()?.procs.get(&tid).map(|p| p.p_comm.clone())
}

/// Thread ids of everything asleep, in the order they went to sleep.
pub fn sleeping_tids() -> Vec<u32> {
    SCHED.try_lock().and_then(|g| g.as_ref().map(|pt| pt.sleepq.clone())).unwrap_or_default()
}

/// Sleeping threads that work on a vnode: (tid, name, wait message,
/// vnode id), for the deadlock report.
pub fn sleepers_on_vnodes() -> Vec<(u32, String, &'static str, u32)> {
    let Some(g) = SCHED.try_lock() else { return Vec::new() };
    let Some(pt) = g.as_ref() else { return Vec::new() };
    pt.sleepq.iter().filter_map(|t| pt.procs.get(t)).filter(|p| p.p_vhvid != 0).map(|p| (p.p_tid, p.p_comm.clone(), p.p_wmesg, p.p_vhvid)).collect()
}
