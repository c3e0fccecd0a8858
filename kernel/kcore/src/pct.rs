//! PCT, probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi
//! and Nagarakatte, ASPLOS 2010): the draws behind the scheduler option
//! `sched.pct=D` (doc/schedules.md), kept free of the kernel so that they
//! are tested on the host. OpenBSD has nothing like it.
//!
//! Every thread gets a random priority when it is created, and at every
//! scheduling point the highest runnable one runs. D−1 change points, drawn
//! uniformly and distinct over the first K steps of the boot, each drop the
//! thread running at that step below every other: the i-th drawn to priority
//! i, as in the paper. A bug that needs D particular orderings is then found
//! by a boot with probability at least 1/(n·K^(D−1)), n the threads.
//!
//! A yield gets a priority below every thread that has not yielded since
//! (and above the change points'), as OpenBSD's yield puts the thread at the
//! end of its run queue: at the top, a loop that yields would otherwise never
//! let the thread it waits for run.

use crate::bootargs::SCHED_PCT_MAX;
use crate::random::Rng;

/// Initial priorities are at least this; yields count down from just
/// below it; change points take 1..D.
pub const INITIAL_MIN: u64 = 1 << 40;
/// Mixed into the boot seed so that priorities do not repeat another
/// generator's draws.
const STREAM: u64 = 0x5043_5453_4348_4544;

pub struct PctDraws {
    depth: u32,
    window: u64,
    /// (step, priority), by step; `nchanges` of them.
    changes: [(u64, u64); SCHED_PCT_MAX as usize],
    nchanges: usize,
    next_change: usize,
    steps: u64,
    rng: Rng,
    low: u64,
    threads: u32,
}

impl PctDraws {
    pub fn new(depth: u32, window: u64, seed: u64) -> PctDraws {
        assert!((1..=SCHED_PCT_MAX).contains(&depth) && window >= 1, "pct: depth {depth}, window {window}");
        let mut rng = Rng::new(seed ^ STREAM);
        let mut changes = [(u64::MAX, 0); SCHED_PCT_MAX as usize];
        let mut n = 0;
        for i in 1..depth as u64 {
            // Distinct steps: a window of fewer than D−1 steps leaves some out.
            for _ in 0..64 {
                let at = 1 + rng.next_u64() % window;
                if changes[..n].iter().all(|&(s, _)| s != at) {
                    changes[n] = (at, i);
                    n += 1;
                    break;
                }
            }
        }
        changes[..n].sort_unstable();
        PctDraws { depth, window, changes, nchanges: n, next_change: 0, steps: 0, rng, low: INITIAL_MIN - 1, threads: 0 }
    }

    /// A new thread's priority.
    pub fn thread_new(&mut self) -> u64 {
        self.threads += 1;
        INITIAL_MIN + self.rng.next_u64() % (u64::MAX / 2)
    }

    /// One scheduling step: the running thread's new priority if a change
    /// point falls on it.
    pub fn step(&mut self) -> Option<u64> {
        self.steps += 1;
        let mut p = None;
        while self.next_change < self.nchanges && self.changes[self.next_change].0 <= self.steps {
            p = Some(self.changes[self.next_change].1);
            self.next_change += 1;
        }
        p
    }

    /// A yielding thread's new priority.
    pub fn yielded(&mut self) -> u64 {
        self.low -= 1;
        self.low + 1
    }

    pub fn depth(&self) -> u32 {
        self.depth
    }

    pub fn window(&self) -> u64 {
        self.window
    }

    pub fn steps(&self) -> u64 {
        self.steps
    }

    pub fn threads(&self) -> u32 {
        self.threads
    }

    /// The steps of the change points, in order.
    pub fn change_steps(&self) -> impl Iterator<Item = u64> + '_ {
        self.changes[..self.nchanges].iter().map(|&(s, _)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_points_are_distinct_in_the_window_and_ranked_by_draw() {
        for seed in 0..200 {
            let d = PctDraws::new(4, 10, seed);
            let steps: std::vec::Vec<u64> = d.change_steps().collect();
            assert_eq!(steps.len(), 3);
            assert!(steps.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
            assert!(steps.iter().all(|s| (1..=10).contains(s)));
            let prios: std::vec::Vec<u64> = d.changes[..3].iter().map(|c| c.1).collect();
            let mut sorted = prios.clone();
            sorted.sort();
            assert_eq!(sorted, [1, 2, 3]);
        }
        assert_eq!(PctDraws::new(1, 10, 7).change_steps().count(), 0);
        // More change points than steps: the window holds what it can.
        assert_eq!(PctDraws::new(4, 2, 7).change_steps().count(), 2);
    }

    #[test]
    fn a_step_on_a_change_point_drops_below_threads_and_yields() {
        let mut d = PctDraws::new(3, 50, 11);
        let first = d.change_steps().next().unwrap();
        let t = d.thread_new();
        assert!(t >= INITIAL_MIN);
        let y = d.yielded();
        assert!(y < INITIAL_MIN && y > SCHED_PCT_MAX as u64);
        assert!(d.yielded() < y, "a later yield goes lower");
        let mut got = None;
        for s in 1..=first {
            got = d.step();
            assert!(got.is_none() || s == first);
        }
        assert!(matches!(got, Some(p) if (1..3).contains(&p)));
        assert_eq!(d.steps(), first);
        assert_eq!(d.threads(), 1);
    }

    #[test]
    fn the_same_seed_draws_the_same() {
        let (mut a, mut b) = (PctDraws::new(3, 1000, 5), PctDraws::new(3, 1000, 5));
        assert!(a.change_steps().eq(b.change_steps()));
        assert_eq!(a.thread_new(), b.thread_new());
        assert!(!PctDraws::new(3, 1000, 6).change_steps().eq(a.change_steps()));
    }
}
