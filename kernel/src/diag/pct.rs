//! The scheduler's PCT mode (`sched.pct=D`, doc/schedules.md): the run
//! queue gives the CPU to its highest-priority thread instead of its oldest,
//! with priorities and change points drawn by `kcore::pct`. Where a thread
//! may be switched does not change; OpenBSD has no such mode.

use alloc::collections::{BTreeMap, VecDeque};
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};
use kcore::pct::PctDraws;

static ON: AtomicBool = AtomicBool::new(false);

/// Whether the boot runs under PCT (read without the scheduler lock, on
/// every return to user mode).
pub fn pct_on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// The priorities, kept in the process table (under the scheduler lock).
pub struct Pct {
    draws: PctDraws,
    prio: BTreeMap<u32, u64>,
}

impl Pct {
    /// PCT of `depth` with change points over the first `window` steps;
    /// `threads` are the ones that exist already.
    pub fn new(depth: u32, window: u64, seed: u64, threads: impl Iterator<Item = u32>) -> Pct {
        let mut p = Pct { draws: PctDraws::new(depth, window, seed), prio: BTreeMap::new() };
        for tid in threads {
            p.thread_new(tid);
        }
        ON.store(true, Ordering::Relaxed);
        p
    }

    pub fn thread_new(&mut self, tid: u32) {
        let p = self.draws.thread_new();
        self.prio.insert(tid, p);
    }

    pub fn thread_gone(&mut self, tid: u32) {
        self.prio.remove(&tid);
    }

    /// A scheduling step with `running` on the CPU.
    pub fn step(&mut self, running: u32) {
        if let Some(p) = self.draws.step() {
            self.prio.insert(running, p);
        }
    }

    pub fn yielded(&mut self, tid: u32) {
        let p = self.draws.yielded();
        self.prio.insert(tid, p);
    }

    pub fn priority(&self, tid: u32) -> Option<u64> {
        self.prio.get(&tid).copied()
    }

    /// Whether `a` runs before `b` (a tie, which the draw makes unlikely,
    /// goes to the older thread).
    pub fn outranks(&self, a: u32, b: u32) -> bool {
        let prio = |t| self.priority(t).unwrap_or(0);
        (prio(a), core::cmp::Reverse(a)) > (prio(b), core::cmp::Reverse(b))
    }

    /// The run queue's index of its highest-priority thread.
    pub fn pick(&self, runq: &VecDeque<u32>) -> Option<usize> {
        (0..runq.len()).reduce(|best, i| if self.outranks(runq[i], runq[best]) { i } else { best })
    }

    /// `sched: pct: depth D, N threads, K steps, change points at S … of
    /// the first W steps` (at boot and at halt; stress reads the last).
    pub fn report(&self, out: &mut dyn Write) {
        let d = &self.draws;
        let _ = write!(out, "sched: pct: depth {}, {} threads, {} steps, change points at", d.depth(), d.threads(), d.steps());
        let mut none = true;
        for s in d.change_steps() {
            let _ = write!(out, " {s}");
            none = false;
        }
        let _ = writeln!(out, "{} of the first {} steps", if none { " none" } else { "" }, d.window());
    }
}
