//! The results model of a stress run: each boot's record, the rates with
//! their intervals, the distributions, the signatures, and the run's
//! summary (summary.json). Shared by stress (which makes it), report
//! (which draws it) and explain.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::outcome::{self, Outcome};
use crate::stats::{percentile, wilson};

/// A boot that found the bug: anything but a clean pass or QEMU's trouble.
pub fn failed(o: Outcome) -> bool {
    matches!(o, Outcome::Panic | Outcome::Hang | Outcome::CheckFailed)
}

/// One boot of the run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub seed: u64,
    pub outcome: Outcome,
    pub wall_ms: u64,
    /// Guest milliseconds at the panic or deadlock report (the kernel's
    /// `… at uptime` line), else at the log's last tick line.
    pub virtual_ms: Option<u64>,
    pub signature: Option<String>,
    /// Why a QEMU-ERROR happened (QEMU's messages or the spawn error).
    pub error: Option<String>,
    /// The kernel's race counters, from its halt line (a boot that did not
    /// halt has none).
    #[serde(default)]
    pub counters: Option<outcome::RaceCounters>,
    /// Under `sched.pct=D`: the kernel's PCT line.
    #[serde(default)]
    pub pct: Option<outcome::PctLine>,
    /// The first boot of this seed stalled on the host and was killed at
    /// the wall-clock timeout; this record is its replay's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_stall: Option<HostStall>,
}

/// A boot killed at the wall-clock timeout without a report of the
/// kernel's own, whose replay (the same seed: the same guest execution
/// under -icount) printed the same lines and went on to end by itself.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HostStall {
    /// The stalled boot's log, beside the replay's `seed-N.log`.
    pub log: String,
    /// The whole lines it printed, all of them the replay's first.
    pub lines: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Signature {
    pub signature: String,
    pub count: usize,
    pub first_seed: u64,
    pub replay: String,
    /// The first boot's drawn history (`explain/seed-N.html`), if its log
    /// has one.
    pub explain: Option<String>,
    /// Guest milliseconds to the panic or deadlock, one per boot, sorted.
    pub guest_ms: Vec<u64>,
}

/// A rate with its 95% Wilson score interval.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Rate {
    pub outcome: String,
    pub count: u64,
    pub boots: u64,
    pub rate: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Rate {
    pub fn new(outcome: &str, count: u64, boots: u64) -> Rate {
        let (lo, hi) = wilson(count, boots);
        Rate { outcome: outcome.to_owned(), count, boots, rate: count as f64 / boots.max(1) as f64, lo, hi }
    }

    /// `3/40 7.5% [2.6%, 19.9%]`
    pub fn text(&self) -> String {
        format!("{}/{} {:.1}% [{:.1}%, {:.1}%]", self.count, self.boots, 100.0 * self.rate, 100.0 * self.lo, 100.0 * self.hi)
    }
}

/// A distribution of times in milliseconds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Dist {
    /// "guest" (the kernel's uptime at the event) or "wall".
    pub source: String,
    pub n: usize,
    pub median_ms: u64,
    pub p10_ms: u64,
    pub p90_ms: u64,
    pub max_ms: u64,
}

impl Dist {
    pub fn of(source: &str, mut v: Vec<u64>) -> Option<Dist> {
        v.sort_unstable();
        Some(Dist {
            source: source.to_owned(),
            n: v.len(),
            median_ms: percentile(&v, 50)?,
            p10_ms: percentile(&v, 10)?,
            p90_ms: percentile(&v, 90)?,
            max_ms: *v.last()?,
        })
    }

    pub fn text(&self) -> String {
        format!("median {} ms, p10 {} ms, p90 {} ms, max {} ms ({} boots)", self.median_ms, self.p10_ms, self.p90_ms, self.max_ms, self.n)
    }
}

/// summary.json. Everything but `run_id`, `jobs`, the wall times and
/// `shard` follows from the boots' logs, so shards merged equal one run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub run_id: String,
    /// The kernel that booted: CRC-32 and size of its ELF, and the git
    /// commit of the tree it was built from.
    pub kernel: String,
    /// The PowerMac the boots ran on (summaries before 2026-12-07: g4).
    #[serde(default = "g4")]
    pub machine: crate::qemu::Mac,
    pub bootargs: String,
    /// The seeds planned (inclusive); fewer ran if a stopping rule ended
    /// the run (`stopped`).
    pub first_seed: u64,
    pub last_seed: u64,
    pub boots: u64,
    pub jobs: usize,
    /// "K/N" for a shard.
    pub shard: Option<String>,
    pub stopped: Option<String>,
    pub wall_s: f64,
    pub boots_per_s: f64,
    pub counts: BTreeMap<String, usize>,
    /// Each outcome's rate, and "FAILED" (PANIC, HANG or CHECK-FAILED).
    pub rates: Vec<Rate>,
    pub signatures: Vec<Signature>,
    pub guest_to_panic: Option<Dist>,
    pub guest_to_deadlock: Option<Dist>,
    pub wall_to_panic: Option<Dist>,
    /// The race counters summed over the boots that printed them, and how
    /// many did.
    #[serde(default)]
    pub counters: Option<(outcome::RaceCounters, u64)>,
    /// Each race counter's least in one boot that halted.
    #[serde(default)]
    pub counters_min: Option<outcome::RaceCounters>,
    /// Under `sched.pct=D`: PCT's guarantee for the boots that passed.
    #[serde(default)]
    pub pct: Option<PctBound>,
    pub results: Vec<Record>,
}

/// What PCT promises for a run (doc/schedules.md): every boot drew its D−1
/// change points over its first `window` steps with at most `threads`
/// threads, so each found a given depth-D bug (one needing D orderings, in
/// those steps) with probability at least `per_boot`; `clean_boots` boots
/// passed, which such a bug survives with probability at most `miss`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PctBound {
    pub depth: u32,
    pub window: u64,
    pub threads: u32,
    pub steps_max: u64,
    pub per_boot: f64,
    pub clean_boots: u64,
    pub miss: f64,
}

impl PctBound {
    /// From the boots' PCT lines; None unless every line has one depth
    /// and window.
    pub fn of(results: &[Record]) -> Option<PctBound> {
        let lines: Vec<&outcome::PctLine> = results.iter().filter_map(|r| r.pct.as_ref()).collect();
        let first = lines.first()?;
        if lines.iter().any(|l| l.depth != first.depth || l.window != first.window) {
            return None;
        }
        let threads = lines.iter().map(|l| l.threads).max()?;
        let per_boot = crate::stats::pct_per_run(threads as u64, first.window, first.depth);
        let clean_boots = results.iter().filter(|r| r.outcome == Outcome::Pass).count() as u64;
        Some(PctBound {
            depth: first.depth,
            window: first.window,
            threads,
            steps_max: lines.iter().map(|l| l.steps).max()?,
            per_boot,
            clean_boots,
            miss: crate::stats::miss_bound(per_boot, clean_boots),
        })
    }

    /// `PCT depth 2 over the first 50000 steps, ≤ 10 threads: …`
    pub fn text(&self) -> String {
        format!(
            "PCT depth {d} over the first {w} steps, at most {n} threads a boot (most steps in a boot: {k}): each boot finds a given depth-{d} bug with probability ≥ 1/(n·k^(d−1)) = {p:.3e}; one survives the {c} boots that passed with probability ≤ {m:.6} (ruled out with confidence {conf:.3e})",
            d = self.depth,
            w = self.window,
            n = self.threads,
            k = self.steps_max,
            p = self.per_boot,
            c = self.clean_boots,
            m = self.miss,
            conf = 1.0 - self.miss
        )
    }
}

fn g4() -> crate::qemu::Mac {
    crate::qemu::Mac::G4
}

impl Summary {
    pub fn rate(&self, outcome: &str) -> Option<&Rate> {
        self.rates.iter().find(|r| r.outcome == outcome)
    }

    pub fn policy(&self) -> &str {
        self.bootargs.split_whitespace().find_map(|w| w.strip_prefix("uvn.policy=")).unwrap_or(kcore::bootargs::UvnPolicy::DEFAULT.name())
    }
}
