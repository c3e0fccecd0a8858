//! Reading a boot's serial output: how it ended, the panic and its trace,
//! and a signature that groups panics with the same cause.

use serde::{Deserialize, Serialize};

use crate::qemu::Exit;

/// The kernel's first line.
pub const BANNER: &str = "ppcbsd kernel ";
/// The boot stub's error line (the stub then halts with status 1).
pub const BOOT_ERROR: &str = "boot: error:";
/// The P0 detector's report (the kernel then halts: QEMU's exit is 0).
pub const P0_LINE: &str = "p0: vnode ";
/// The kernel's deadlock report (it then exits with the panic status).
pub const DEADLOCK: &str = "deadlock: ";

/// How one boot ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Outcome {
    #[serde(rename = "PASS")]
    Pass,
    /// Halted by the P0 detector (`p0.watch=1`): a vnode reached the race's
    /// precondition. Not a kernel failure; the finding of a P0 hunt.
    #[serde(rename = "P0")]
    P0,
    /// Halted, but a user program's data check failed.
    #[serde(rename = "CHECK-FAILED")]
    CheckFailed,
    #[serde(rename = "PANIC")]
    Panic,
    #[serde(rename = "HANG")]
    Hang,
    #[serde(rename = "NO-OUTPUT")]
    NoOutput,
    #[serde(rename = "QEMU-ERROR")]
    QemuError,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [Outcome::Pass, Outcome::P0, Outcome::CheckFailed, Outcome::Panic, Outcome::Hang, Outcome::NoOutput, Outcome::QemuError];

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::P0 => "P0",
            Outcome::CheckFailed => "CHECK-FAILED",
            Outcome::Panic => "PANIC",
            Outcome::Hang => "HANG",
            Outcome::NoOutput => "NO-OUTPUT",
            Outcome::QemuError => "QEMU-ERROR",
        }
    }
}

/// Classifies a boot from QEMU's exit and the serial text (\r stripped).
/// (A QEMU that could not even be started is a QEMU-ERROR too, decided by
/// the caller.)
pub fn classify(exit: Exit, text: &str) -> Outcome {
    let has = |p: &str| text.lines().any(|l| l.starts_with(p));
    let panicked = has("panic: ") || has(BOOT_ERROR);
    match exit {
        // QEMU's own failures: a signal, or a status other than halt/panic.
        Exit::Signal(_) => Outcome::QemuError,
        Exit::Code(c) if c != 0 && c != 1 => Outcome::QemuError,
        _ if !has(BANNER) && !panicked => Outcome::NoOutput,
        Exit::Timeout => Outcome::Hang,
        Exit::Code(0) if text.lines().any(|l| l.starts_with(P0_LINE)) => Outcome::P0,
        Exit::Code(0) if text.lines().any(check_failed) => Outcome::CheckFailed,
        Exit::Code(0) => Outcome::Pass,
        // A hang the kernel saw itself: every thread asleep.
        Exit::Code(1) if !panicked && has(DEADLOCK) => Outcome::Hang,
        // Status 1 without a panic line is QEMU rejecting its arguments.
        _ if panicked => Outcome::Panic,
        _ => Outcome::QemuError,
    }
}

/// A line where a user program reports a failed data check (fsstress,
/// the race workload's programs, utest).
fn check_failed(l: &str) -> bool {
    l.contains("MISMATCH") || l.contains(" FAILED") || l.contains("processes failed")
}

/// A signature for a deadlock report, from the report's `ps`: the thread
/// its headline names (`deadlock: thread N …`), with "waits for a free
/// page" for a wait for memory and "loops in the kernel" for the kernel-loop
/// watchdog; else the pagedaemon's wait if it is stuck in one (the open
/// question of doc/race.md), else the first thread stuck on a lock, page or buffer —
/// not one waiting for an event that may never come by design (a parent's
/// `wait`, the idle pagedaemon's `pgdaemon`, a `nanosleep`, the self-tests'
/// own) — else the first sleeper.
pub fn deadlock_signature(text: &str) -> Option<String> {
    let at = text.lines().position(|l| l.starts_with(DEADLOCK))?;
    // The starvation watchdog: `deadlock: thread N (COMM) has been runnable
    // for …` — the schedule's doing, grouped apart from the sleepers.
    let first = text.lines().nth(at)?;
    if let Some((_, rest)) = first.split_once(" (").filter(|_| first.contains(") has been runnable for ")) {
        return Some(format!("starved: {} runnable without running", rest.split(')').next()?));
    }
    // The `ps` rows: TID PPID S STAT WCHAN WAIT TIMEOUT COMMAND, the
    // running thread's marked `*` (`*10000` when its id fills the column).
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(at + 1)
        .take_while(|l| !l.starts_with("trace of thread"))
        .map(|l| l.trim_start().trim_start_matches('*').split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.len() >= 8 && w[0].parse::<u32>().is_ok())
        .collect();
    // A headline that names its thread (a wait on its own page, a sleep
    // past kern.hangsecs, a wait for memory, a loop in the kernel) is the
    // story: its thread, not the first sleeper in the list. A thread that
    // waits for memory or loops is often the one running as the report
    // prints (no WAIT in its row): the headline says where it waits.
    if let Some(tid) = first.strip_prefix("deadlock: thread ").and_then(|r| r.split(' ').next()) {
        if let Some(w) = rows.iter().find(|w| w[0] == tid) {
            let comm = w[7];
            if first.contains(" has waited for a free page ") {
                let wait = first.split_once("now in \"").and_then(|(_, r)| r.split('"').next()).unwrap_or(w[5]);
                return Some(format!("deadlock: {comm} waits for a free page in {wait}"));
            }
            if first.contains(" has run in the kernel ") {
                return Some(format!("deadlock: {comm} loops in the kernel"));
            }
            if w[3] == "sleep" {
                return Some(format!("deadlock: {comm} waits in {}", w[5]));
            }
        }
    }
    let sleepers: Vec<(&str, &str)> = rows.iter().filter(|w| w[3] == "sleep").map(|w| (w[7], w[5])).collect();
    let event = kcore::wmesg::is_event_wait;
    let (comm, wait) =
        sleepers.iter().find(|(c, w)| *c == "pagedaemon" && !event(w)).or_else(|| sleepers.iter().find(|(_, w)| !event(w))).or(sleepers.first())?;
    Some(format!("deadlock: {comm} waits in {wait}"))
}

/// One line of a ddb-style trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// `name() at name+0xoff` (or `0xpc() at 0xpc` when the symbol is unknown).
    Func(String),
    /// `--- trap (type 0x300) ---`
    Trap(String),
}

/// A panic read back from the log.
#[derive(Debug, PartialEq, Eq)]
pub struct Panic {
    /// The first `panic:` line without the prefix, or a `boot: error:` line.
    pub message: String,
    /// Innermost first.
    pub frames: Vec<Frame>,
    /// `count: N` from `end trace frame: 0x…, count: N`.
    pub count: Option<u32>,
}

/// The first panic (or boot-stub error) in `text` and the trace after it.
pub fn parse_panic(text: &str) -> Option<Panic> {
    let mut lines = text.lines();
    let message = lines.by_ref().find_map(|l| l.strip_prefix("panic: ").map(str::to_owned).or_else(|| l.starts_with(BOOT_ERROR).then(|| l.to_owned())))?;
    let mut frames = Vec::new();
    let mut count = None;
    for l in lines {
        if let Some(rest) = l.strip_prefix("end trace frame: ") {
            count = rest.rsplit_once("count: ").and_then(|(_, n)| n.trim().parse().ok());
            break;
        }
        if let Some(ty) = l.strip_prefix("--- trap (type ").and_then(|r| r.strip_suffix(") ---")) {
            frames.push(Frame::Trap(ty.to_owned()));
        } else if let Some((name, _)) = l.split_once("() at ") {
            if !name.is_empty() && !name.contains(char::is_whitespace) {
                frames.push(Frame::Func(name.to_owned()));
            }
        }
    }
    Some(Panic { message, frames, count })
}

impl Panic {
    /// Groups panics with the same cause: the message with its numbers
    /// blanked out, and the three innermost functions.
    pub fn signature(&self) -> String {
        let funcs: Vec<String> = self
            .frames
            .iter()
            .filter_map(|f| match f {
                Frame::Func(n) => Some(normalize(n)),
                Frame::Trap(_) => None,
            })
            .take(3)
            .collect();
        if funcs.is_empty() {
            normalize(&self.message)
        } else {
            format!("{} @ {}", normalize(&self.message), funcs.join(" < "))
        }
    }
}

/// Hex numbers become `0x…` and decimal numbers `N`; digits inside a word
/// (`r31`, `ktest_random_a2`) stay.
pub fn normalize(s: &str) -> String {
    let b = s.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let starts_word = i == 0 || !word(b[i - 1]);
        if starts_word && b[i..].starts_with(b"0x") && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit) {
            i += 2;
            while b.get(i).is_some_and(u8::is_ascii_hexdigit) {
                i += 1;
            }
            out.push_str("0x…");
        } else if starts_word && b[i].is_ascii_digit() {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            out.push('N');
        } else {
            // Copy up to the next byte that could start a number (ASCII, so a
            // char boundary).
            let start = i;
            i += 1;
            while i < b.len() && !(b[i].is_ascii_digit() && !word(b[i - 1])) {
                i += 1;
            }
            out.push_str(&s[start..i]);
        }
    }
    out
}

/// Checks that `needles` occur in this order, each on a later line than the
/// one before; the error names the first one missing.
pub fn check_order(text: &str, needles: &[&str]) -> Result<(), String> {
    let mut lines = text.lines();
    for (i, n) in needles.iter().enumerate() {
        if !lines.by_ref().any(|l| l.contains(n)) {
            return Err(if i == 0 { format!("no line contains '{n}'") } else { format!("no line contains '{n}' after '{}'", needles[i - 1]) });
        }
    }
    Ok(())
}

/// Guest milliseconds from boot to a panic or a deadlock report, from the
/// kernel's `panic at uptime S.mmm s` (or `deadlock at …`) line: the time
/// base, the same on every machine under -icount.
pub fn uptime_ms(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let r = l.strip_prefix("panic at uptime ").or_else(|| l.strip_prefix("deadlock at uptime "))?;
        let (s, ms) = r.strip_suffix(" s")?.split_once('.')?;
        Some(s.parse::<u64>().ok()? * 1000 + ms.parse::<u64>().ok()?)
    })
}

/// Virtual milliseconds from boot to a panic or deadlock report
/// (`uptime_ms`), else to the end of the log from the last `tick N (S s)`
/// line and the `clock: hz H` line (tick granularity).
pub fn virtual_ms(text: &str) -> Option<u64> {
    if let Some(ms) = uptime_ms(text) {
        return Some(ms);
    }
    let hz: u64 = text.lines().find_map(|l| l.strip_prefix("clock: hz ")?.split(',').next()?.trim().parse().ok())?;
    let ticks: u64 = text.lines().rev().find_map(|l| l.strip_prefix("tick ")?.split(' ').next()?.parse().ok())?;
    (hz > 0).then(|| ticks * 1000 / hz)
}

/// How hard a boot exercised the race: the kernel's halt line
/// `race: counters: N creates, N recycles of vnodes with persisting
/// objects, N pageouts from persisting objects, N uncache kills, N syncs,
/// N persisting objects synced, N truncates` (kernels before 2026-12-07
/// printed the first four only: the others then read 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RaceCounters {
    pub creates: u64,
    pub persist_recycles: u64,
    pub persist_pageouts: u64,
    pub uncache_kills: u64,
    #[serde(default)]
    pub syncs: u64,
    #[serde(default)]
    pub persist_syncs: u64,
    #[serde(default)]
    pub truncates: u64,
    /// Since 2026-12-07: programs exec'd, all pageouts, hardware-table
    /// evictions and those of the 970's direct-map entries.
    #[serde(default)]
    pub execs: u64,
    #[serde(default)]
    pub pageouts: u64,
    #[serde(default)]
    pub pte_evictions: u64,
    #[serde(default)]
    pub direct_evictions: u64,
    /// Since 2026-12-07: entries into the race windows (the kernel's
    /// `race: windows:` line, doc/schedules.md): a pageout and a terminate,
    /// a pageout and a truncate, a sync and a terminate on one vnode at once.
    #[serde(default)]
    pub win_pageout_terminate: u64,
    #[serde(default)]
    pub win_pageout_truncate: u64,
    #[serde(default)]
    pub win_sync_terminate: u64,
}

impl RaceCounters {
    /// The halt lines' counters (`race: counters:`, and `race: windows:`
    /// where the kernel prints it).
    pub fn parse(text: &str) -> Option<RaceCounters> {
        let c = RaceCounters::parse_counters(text)?;
        let windows: Option<Vec<u64>> = text
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("race: windows: "))
            .and_then(|l| l.split(", ").map(|part| part.split(' ').next()?.parse().ok()).collect());
        Some(match windows.as_deref() {
            Some(&[win_pageout_terminate, win_pageout_truncate, win_sync_terminate]) => {
                RaceCounters { win_pageout_terminate, win_pageout_truncate, win_sync_terminate, ..c }
            }
            _ => c,
        })
    }

    fn parse_counters(text: &str) -> Option<RaceCounters> {
        let line = text.lines().rev().find_map(|l| l.strip_prefix("race: counters: "))?;
        let n: Vec<u64> = line.split(", ").map(|part| part.split(' ').next()?.parse().ok()).collect::<Option<_>>()?;
        let c = |creates, persist_recycles, persist_pageouts, uncache_kills| RaceCounters {
            creates,
            persist_recycles,
            persist_pageouts,
            uncache_kills,
            ..Default::default()
        };
        match n[..] {
            [a, b, d, e] => Some(c(a, b, d, e)),
            [a, b, d, e, syncs, persist_syncs, truncates] => Some(RaceCounters { syncs, persist_syncs, truncates, ..c(a, b, d, e) }),
            [a, b, d, e, syncs, persist_syncs, truncates, execs, pageouts, pte_evictions, direct_evictions] => {
                Some(RaceCounters { syncs, persist_syncs, truncates, execs, pageouts, pte_evictions, direct_evictions, ..c(a, b, d, e) })
            }
            _ => None,
        }
    }

    pub fn add(&mut self, o: &RaceCounters) {
        self.creates += o.creates;
        self.persist_recycles += o.persist_recycles;
        self.persist_pageouts += o.persist_pageouts;
        self.uncache_kills += o.uncache_kills;
        self.syncs += o.syncs;
        self.persist_syncs += o.persist_syncs;
        self.truncates += o.truncates;
        self.execs += o.execs;
        self.pageouts += o.pageouts;
        self.pte_evictions += o.pte_evictions;
        self.direct_evictions += o.direct_evictions;
        self.win_pageout_terminate += o.win_pageout_terminate;
        self.win_pageout_truncate += o.win_pageout_truncate;
        self.win_sync_terminate += o.win_sync_terminate;
    }

    /// Each counter's least over `all` (a campaign counts only if every
    /// boot exercised the race).
    pub fn min_of<'a>(all: impl IntoIterator<Item = &'a RaceCounters>) -> Option<RaceCounters> {
        all.into_iter().copied().reduce(|a, b| RaceCounters {
            creates: a.creates.min(b.creates),
            persist_recycles: a.persist_recycles.min(b.persist_recycles),
            persist_pageouts: a.persist_pageouts.min(b.persist_pageouts),
            uncache_kills: a.uncache_kills.min(b.uncache_kills),
            syncs: a.syncs.min(b.syncs),
            persist_syncs: a.persist_syncs.min(b.persist_syncs),
            truncates: a.truncates.min(b.truncates),
            execs: a.execs.min(b.execs),
            pageouts: a.pageouts.min(b.pageouts),
            pte_evictions: a.pte_evictions.min(b.pte_evictions),
            direct_evictions: a.direct_evictions.min(b.direct_evictions),
            win_pageout_terminate: a.win_pageout_terminate.min(b.win_pageout_terminate),
            win_pageout_truncate: a.win_pageout_truncate.min(b.win_pageout_truncate),
            win_sync_terminate: a.win_sync_terminate.min(b.win_sync_terminate),
        })
    }

    /// The counters that say a boot put the race under pressure (not the
    /// outcomes such as uncache kills, nor the windows), named.
    pub fn pressure(&self) -> [(&'static str, u64); 8] {
        [
            ("creates", self.creates),
            ("persisting recycles", self.persist_recycles),
            ("persisting pageouts", self.persist_pageouts),
            ("syncs", self.syncs),
            ("truncates", self.truncates),
            ("execs", self.execs),
            ("pageouts", self.pageouts),
            ("PTE evictions", self.pte_evictions),
        ]
    }

    /// `12 pageout/terminate, 0 pageout/truncate, 3 sync/terminate`
    pub fn windows_text(&self) -> String {
        format!("{} pageout/terminate, {} pageout/truncate, {} sync/terminate", self.win_pageout_terminate, self.win_pageout_truncate, self.win_sync_terminate)
    }

    /// `3,456 creates, 12 recycles of vnodes with persisting objects, …`
    pub fn text(&self) -> String {
        format!(
            "{} creates, {} recycles of vnodes with persisting objects, {} pageouts from persisting objects, {} uncache kills, {} syncs, {} persisting objects synced, {} truncates, {} execs, {} pageouts, {} PTE evictions, {} direct-map PTE evictions",
            self.creates,
            self.persist_recycles,
            self.persist_pageouts,
            self.uncache_kills,
            self.syncs,
            self.persist_syncs,
            self.truncates,
            self.execs,
            self.pageouts,
            self.pte_evictions,
            self.direct_evictions
        )
    }
}

/// The kernel's PCT line (`sched.pct=D`, doc/schedules.md): `sched: pct:
/// depth D, N threads, K steps, change points at S … of the first W steps`,
/// the last one printed (at halt, or in a panic or deadlock report).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PctLine {
    pub depth: u32,
    pub threads: u32,
    pub steps: u64,
    pub window: u64,
}

impl PctLine {
    pub fn parse(text: &str) -> Option<PctLine> {
        let l = text.lines().rev().find_map(|l| l.strip_prefix("sched: pct: depth "))?;
        let (depth, rest) = l.split_once(", ")?;
        let (threads, rest) = rest.split_once(" threads, ")?;
        let (steps, rest) = rest.split_once(" steps, ")?;
        let window = rest.split_once(" of the first ")?.1.strip_suffix(" steps")?;
        Some(PctLine { depth: depth.parse().ok()?, threads: threads.parse().ok()?, steps: steps.parse().ok()?, window: window.parse().ok()? })
    }
}

/// The last `n` lines of `text`, for failure reports.
pub fn tail(text: &str, n: usize) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn race_counters_from_the_halt_line() {
        let log = "ffs: x\nrace: counters: 80 creates, 18 recycles of vnodes with persisting objects, 110 pageouts from persisting objects, 3 uncache kills\nhalted\n";
        assert_eq!(
            RaceCounters::parse(log),
            Some(RaceCounters { creates: 80, persist_recycles: 18, persist_pageouts: 110, uncache_kills: 3, ..Default::default() })
        );
        let log = "race: counters: 80 creates, 18 recycles of vnodes with persisting objects, 110 pageouts from persisting objects, 3 uncache kills, 7 syncs, 2 persisting objects synced, 41 truncates\nhalted\n";
        let c = RaceCounters::parse(log).unwrap();
        assert_eq!((c.syncs, c.persist_syncs, c.truncates, c.execs), (7, 2, 41, 0));
        let log = "race: counters: 80 creates, 18 recycles of vnodes with persisting objects, 110 pageouts from persisting objects, 3 uncache kills, 7 syncs, 2 persisting objects synced, 41 truncates, 9 execs, 300 pageouts, 5000 PTE evictions, 1200 direct-map PTE evictions\nhalted\n";
        let c = RaceCounters::parse(log).unwrap();
        assert_eq!((c.truncates, c.execs, c.pageouts, c.pte_evictions, c.direct_evictions), (41, 9, 300, 5000, 1200));
        assert_eq!(format!("race: counters: {}\n", c.text()), log.lines().next().unwrap().to_owned() + "\n");
        assert_eq!(RaceCounters::parse("race: counters: 80 creates, 18 recycles\n"), None);
        assert_eq!(RaceCounters::parse("panic: x\n"), None);
        let log = "race: counters: 80 creates, 18 recycles of vnodes with persisting objects, 110 pageouts from persisting objects, 3 uncache kills, 7 syncs, 2 persisting objects synced, 41 truncates, 9 execs, 300 pageouts, 5000 PTE evictions, 1200 direct-map PTE evictions\nrace: windows: 16 pageout/terminate, 2 pageout/truncate, 5 sync/terminate\nhalted\n";
        let c = RaceCounters::parse(log).unwrap();
        assert_eq!((c.creates, c.win_pageout_terminate, c.win_pageout_truncate, c.win_sync_terminate), (80, 16, 2, 5));
        assert_eq!(format!("race: windows: {}", c.windows_text()), log.lines().nth(1).unwrap());
        let mut d = c;
        d.creates = 7;
        d.win_sync_terminate = 9;
        let m = RaceCounters::min_of([&c, &d]).unwrap();
        assert_eq!((m.creates, m.win_sync_terminate, m.win_pageout_terminate), (7, 5, 16));
        let pct = "sched: pct: depth 2, 2 threads, 0 steps, change points at 49283 of the first 50000 steps\nsched: pct: depth 3, 10 threads, 72924 steps, change points at 3 49283 of the first 50000 steps\nhalted\n";
        assert_eq!(PctLine::parse(pct), Some(PctLine { depth: 3, threads: 10, steps: 72924, window: 50000 }));
        let none = "sched: pct: depth 1, 9 threads, 12 steps, change points at none of the first 100000 steps\n";
        assert_eq!(PctLine::parse(none), Some(PctLine { depth: 1, threads: 9, steps: 12, window: 100000 }));
        assert_eq!(PctLine::parse("halted\n"), None);
    }

    #[test]
    fn uptime_at_panic_and_deadlock() {
        assert_eq!(uptime_ms("panic: x\npanic at uptime 1.262 s\n"), Some(1262));
        assert_eq!(uptime_ms("deadlock: every thread sleeps\ndeadlock at uptime 10.872 s\n"), Some(10872));
        assert_eq!(virtual_ms("clock: hz 100, 1\ntick 50 (0 s)\npanic at uptime 2.005 s\n"), Some(2005));
        assert_eq!(uptime_ms("panic at uptime soon\n"), None);
    }

    const PANIC_LOG: &str = "\
ppcbsd kernel 0.1.0 (powerpc, mac99)
clock: hz 100, 1000000 time-base ticks per tick
tick 100 (1 s)
tick 200 (2 s)
panic: ktest: panic at depth 3 (seed 42) addr 0xdeadbeef
srr0 0x001060b4 srr1 0x0000a032
ktest_panic_leaf() at ktest_panic_leaf+0x24
ktest_panic_mid() at ktest_panic_mid+0x18
ktest_panic_top() at ktest_panic_top+0x18
run() at run+0x180
end trace frame: 0x13fff0, count: 4
";

    const FAULT_LOG: &str = "\
ppcbsd kernel 0.1.0 (powerpc, mac99)
panic: trap type 0x300 (data storage) at pc 0x1060b4, dar 0xdead0000
r0  0x00106018  r1  0x0013fc90
trap() at trap+0x554
--- trap (type 0x300) ---
ktest_fault_leaf() at ktest_fault_leaf+0x24
ktest_fault_top() at ktest_fault_top+0x18
0x1234() at 0x1234
end trace frame: 0x13fff0, count: 4
";

    #[test]
    fn classification() {
        let banner = "ppcbsd kernel 0.1.0 (powerpc, mac99)\nhalted\n";
        assert_eq!(classify(Exit::Code(0), banner), Outcome::Pass);
        let p0 = format!("{banner}p0: vnode 9 reached P0 at Vputonfreelist: usecount 0\nhalted\n");
        assert_eq!(classify(Exit::Code(0), &p0), Outcome::P0);
        assert_eq!(classify(Exit::Code(1), PANIC_LOG), Outcome::Panic);
        assert_eq!(classify(Exit::Code(1), ">> ppcbsd boot\nboot: error: no superblock\nboot: halted\n"), Outcome::Panic);
        assert_eq!(classify(Exit::Timeout, "ppcbsd kernel 0.1.0\ntick 100 (1 s)\n"), Outcome::Hang);
        assert_eq!(classify(Exit::Timeout, ""), Outcome::NoOutput);
        assert_eq!(classify(Exit::Code(0), ">> OpenBIOS\n"), Outcome::NoOutput);
        assert_eq!(classify(Exit::Code(1), ""), Outcome::NoOutput);
        assert_eq!(classify(Exit::Code(1), banner), Outcome::QemuError);
        assert_eq!(classify(Exit::Code(2), PANIC_LOG), Outcome::QemuError);
        assert_eq!(classify(Exit::Signal(9), banner), Outcome::QemuError);
        assert_eq!(classify(Exit::Code(1), DEADLOCK_LOG), Outcome::Hang);
        assert_eq!(classify(Exit::Code(0), "ppcbsd kernel 0.1.0\ninit: race workload: 1 processes failed\nhalted\n"), Outcome::CheckFailed);
    }

    const DEADLOCK_LOG: &str = "ppcbsd kernel 0.1.0\ndeadlock: every thread sleeps and nothing can wake one
   TID  PPID S STAT     WCHAN      WAIT     TIMEOUT COMMAND
     0     0 3 sleep    0x80000000 wait     -       swapper
*    1     0 7 onproc   -          -        -       idle
     2     0 3 sleep    0x00011188 uvn_flsh -       pagedaemon
trace of thread 0:
";

    #[test]
    fn deadlock_signatures() {
        assert_eq!(deadlock_signature(DEADLOCK_LOG).as_deref(), Some("deadlock: pagedaemon waits in uvn_flsh"));
        let no_pd = DEADLOCK_LOG.replace("pagedaemon", "creator");
        assert_eq!(deadlock_signature(&no_pd).as_deref(), Some("deadlock: creator waits in uvn_flsh"));
        // The idle pagedaemon is not the story; the thread stuck on a page is.
        let idle_pd =
            DEADLOCK_LOG.replace("uvn_flsh -       pagedaemon", "pgdaemon -       pagedaemon\n     4     3 3 sleep    0x00011188 uvn_flsh -       scfuzz");
        assert_eq!(deadlock_signature(&idle_pd).as_deref(), Some("deadlock: scfuzz waits in uvn_flsh"));
        let events_only = DEADLOCK_LOG.replace("uvn_flsh", "pgdaemon");
        assert_eq!(deadlock_signature(&events_only).as_deref(), Some("deadlock: swapper waits in wait"));
        assert_eq!(deadlock_signature("panic: x\n"), None);
        // The starvation watchdog's report names the starved thread, not a sleeper.
        let starved = DEADLOCK_LOG.replace(
            "deadlock: every thread sleeps and nothing can wake one",
            "deadlock: thread 4 (memhog) has been runnable for 30 s without running (kern.hangsecs 30): 3 threads that outrank it under PCT kept the CPU, a schedule a fair scheduler does not make",
        );
        assert_eq!(deadlock_signature(&starved).as_deref(), Some("starved: memhog runnable without running"));
        // A headline naming its thread names the signature: a job's wait
        // for memory (the job running as the report prints, its wait in the
        // headline, or asleep), not the first sleeper; a loop in the
        // kernel; a sleep past kern.hangsecs.
        let two = DEADLOCK_LOG.replace("uvn_flsh -       pagedaemon", "vmobjlk  -       creator\n*10005     3 7 onproc   -          -        -       job");
        let memory = two.replace(
            "deadlock: every thread sleeps and nothing can wake one",
            "deadlock: thread 10005 has waited for a free page for 30 s, now in \"uvn_getpage\" (kern.hangsecs 30); 3 pages free, 900 active, 0 inactive; the pagedaemon has made 40 passes and started 7 pageouts",
        );
        assert_eq!(deadlock_signature(&two).as_deref(), Some("deadlock: creator waits in vmobjlk"));
        assert_eq!(deadlock_signature(&memory).as_deref(), Some("deadlock: job waits for a free page in uvn_getpage"));
        let asleep = memory.replace("*10005     3 7 onproc   -          -        -", " 10005     3 3 sleep    0x00011190 uvn_getpage -");
        assert_eq!(deadlock_signature(&asleep).as_deref(), Some("deadlock: job waits for a free page in uvn_getpage"));
        let slept = asleep
            .lines()
            .map(|l| {
                if l.starts_with("deadlock: thread") {
                    "deadlock: thread 10005 has slept on \"uvn_getpage\" for 30 s with no timeout (kern.hangsecs 30)"
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(deadlock_signature(&slept).as_deref(), Some("deadlock: job waits in uvn_getpage"));
        let looping = two.replace(
            "deadlock: every thread sleeps and nothing can wake one",
            "deadlock: thread 10005 has run in the kernel for 30 s without a switch (kern.hangsecs 30)",
        );
        assert_eq!(deadlock_signature(&looping).as_deref(), Some("deadlock: job loops in the kernel"));
        // A thread the list lacks: the sleepers as before.
        let gone = two.replace(
            "deadlock: every thread sleeps and nothing can wake one",
            "deadlock: thread 9 has slept on \"x\" for 30 s with no timeout (kern.hangsecs 30)",
        );
        assert_eq!(deadlock_signature(&gone).as_deref(), Some("deadlock: creator waits in vmobjlk"));
        assert_eq!(classify(Exit::Code(1), &starved), Outcome::Hang);
    }

    #[test]
    fn parses_panic_and_trace() {
        let p = parse_panic(PANIC_LOG).expect("panic");
        assert_eq!(p.message, "ktest: panic at depth 3 (seed 42) addr 0xdeadbeef");
        assert_eq!(p.frames.len(), 4);
        assert_eq!(p.frames[0], Frame::Func("ktest_panic_leaf".into()));
        assert_eq!(p.count, Some(4));

        let f = parse_panic(FAULT_LOG).expect("fault");
        assert_eq!(f.frames[1], Frame::Trap("0x300".into()));
        assert_eq!(f.frames[4], Frame::Func("0x1234".into()));
        assert!(parse_panic("ppcbsd kernel\nhalted\n").is_none());
        let b = parse_panic("boot: error: ramdisk: no superblock\n").expect("boot error");
        assert_eq!(b.message, "boot: error: ramdisk: no superblock");
    }

    #[test]
    fn signatures_ignore_numbers_not_names() {
        let p = parse_panic(PANIC_LOG).expect("panic");
        assert_eq!(p.signature(), "ktest: panic at depth N (seed N) addr 0x… @ ktest_panic_leaf < ktest_panic_mid < ktest_panic_top");
        let other_seed = PANIC_LOG.replace("seed 42", "seed 7").replace("0xdeadbeef", "0x10");
        assert_eq!(parse_panic(&other_seed).expect("panic").signature(), p.signature());
        let other_chain = PANIC_LOG.replace("ktest_panic_mid()", "ktest_random_b()");
        assert_ne!(parse_panic(&other_chain).expect("panic").signature(), p.signature());
        // Trap markers are not frames; the three innermost functions are.
        assert_eq!(
            parse_panic(FAULT_LOG).expect("fault").signature(),
            "trap type 0x… (data storage) at pc 0x…, dar 0x… @ trap < ktest_fault_leaf < ktest_fault_top"
        );
    }

    #[test]
    fn normalization() {
        assert_eq!(normalize("r31 = 0x1f, 12 items in ktest_random_a2"), "r31 = 0x…, N items in ktest_random_a2");
        assert_eq!(normalize("count: 6; 0x (not hex)"), "count: N; Nx (not hex)");
        assert_eq!(normalize("héllo 5"), "héllo N");
        assert_eq!(normalize(""), "");
    }

    #[test]
    fn order_checking() {
        let order = ["ktest_panic_leaf", "ktest_panic_mid", "ktest_panic_top"];
        assert_eq!(check_order(PANIC_LOG, &order), Ok(()));
        let err = check_order(PANIC_LOG, &["ktest_panic_top", "ktest_panic_leaf"]).unwrap_err();
        assert!(err.contains("'ktest_panic_leaf' after 'ktest_panic_top'"), "{err}");
        assert!(check_order(FAULT_LOG, &["--- trap (type 0x300) ---", "ktest_fault_leaf", "ktest_fault_top"]).is_ok());
        assert!(check_order("", &["x"]).unwrap_err().contains("no line contains 'x'"));
    }

    #[test]
    fn virtual_time() {
        assert_eq!(virtual_ms(PANIC_LOG), Some(2000));
        assert_eq!(virtual_ms("clock: hz 1000, 100000 time-base ticks per tick\ntick 1500 (1 s)\n"), Some(1500));
        assert_eq!(virtual_ms(FAULT_LOG), None);
    }

    #[test]
    fn tails() {
        assert_eq!(tail("a\nb\nc\n", 2), ["b", "c"]);
        assert_eq!(tail("a\n", 5), ["a"]);
    }
}
