//! `cargo xtask stress`: boot many times with consecutive seeds, classify
//! each boot, group the panics by signature, and state the results with
//! their uncertainty: rates with 95% Wilson intervals, guest time to panic
//! as a distribution, a report page, a comparison of two runs, and runs
//! split into shards that merge into one.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::ctx::{shell_quote, Ctx, Setup};
use crate::outcome::{self, Outcome};
use crate::qemu::{self, Boot, BootResult, Exit};
use crate::results::{failed, Dist, HostStall, Rate, Record, Signature, Summary};
use crate::stats;

#[derive(clap::Args)]
pub struct Args {
    /// Number of boots (of the whole run, when --shard splits it).
    #[arg(long, default_value_t = 100)]
    boots: u64,
    /// Boots run at once.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Seed of the first boot; boot i uses seed+i.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Seconds before a boot counts as hung.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Boot arguments for every boot (after seed=N); the default runs the
    /// race workload under memory pressure with the mmap hack off.
    #[arg(long, default_value = qemu::RACE_BOOTARGS)]
    bootargs: String,
    /// The vnode pager's policy (original, vget-diff, fixed, fixed-2,
    /// usecount0, uncache-vget, head), passed as `uvn.policy=P`.
    #[arg(long, value_parser = crate::qemu::parse_policy, conflicts_with = "policies")]
    policy: Option<kcore::bootargs::UvnPolicy>,
    /// Several policies, one run each with the same seeds and boot
    /// arguments (`all`, or names with commas: `original,fixed,head`),
    /// then their table (`runs table`) and each one's comparison with
    /// `fixed` (`runs compare`), in `target/stress/NAME-policies.md`.
    #[arg(long, value_name = "all|P,P,…", value_parser = parse_policies)]
    policies: Option<Policies>,
    /// Run only the K-th of N disjoint slices of the seeds (1 ≤ K ≤ N),
    /// e.g. one per machine or array job; `cargo xtask runs merge` puts them together.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    shard: Option<(u64, u64)>,
    /// Stop once this many boots failed: `N-panics` (PANIC) or
    /// `N-failures` (PANIC, HANG or CHECK-FAILED).
    #[arg(long, value_name = "N-panics|N-failures", value_parser = parse_until)]
    until: Option<Until>,
    /// Stop starting boots after this many minutes (those running finish).
    #[arg(long, value_name = "M")]
    minutes: Option<f64>,
    /// The run directory's name under target/stress (default: the UTC
    /// time), e.g. shard-3 for a batch job; it must not exist yet.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// A user's FFS image mounted untouched on /mnt in every boot (as `run
    /// --image`), e.g. with `race.dir=/mnt` or `fsstress.dir=/mnt`.
    #[arg(long, value_name = "F")]
    image: Option<std::path::PathBuf>,
}

/// A stopping rule: stop after `n` boots of the kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Until {
    n: u64,
    failures: bool,
}

fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let bad = || format!("'{s}': expected K/N with 1 ≤ K ≤ N, e.g. 3/8");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n) = (k.parse::<u64>().map_err(|_| bad())?, n.parse::<u64>().map_err(|_| bad())?);
    if k == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

fn parse_until(s: &str) -> Result<Until, String> {
    let bad = || format!("'{s}': expected N-panics or N-failures, e.g. 5-panics");
    let (n, what) = s.split_once('-').ok_or_else(bad)?;
    let n = n.parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(bad)?;
    match what {
        "panics" | "panic" => Ok(Until { n, failures: false }),
        "failures" | "failure" => Ok(Until { n, failures: true }),
        _ => Err(bad()),
    }
}

/// The seeds of shard `k` of `n` among `boots` seeds from `seed`: a
/// contiguous slice; the shards together are every seed once.
fn shard_seeds(seed: u64, boots: u64, shard: Option<(u64, u64)>) -> std::ops::Range<u64> {
    match shard {
        None => seed..seed + boots,
        Some((k, n)) => seed + (k - 1) * boots / n..seed + k * boots / n,
    }
}

/// `cargo xtask runs …`: what is done with finished runs (directories
/// under target/stress, or paths); nothing is booted.
#[derive(clap::Subcommand)]
pub enum RunsCmd {
    /// Combine these runs' summary.json into one table, one row per run,
    /// printed and written to target/stress/table.md.
    Table {
        #[arg(required = true)]
        runs: Vec<PathBuf>,
    },
    /// Compare two runs (failure and panic rates, guest time to panic) and
    /// say which is worse.
    Compare { a: PathBuf, b: PathBuf },
    /// Merge the shards of one run (their directories) into a new run with
    /// one summary, table row and report.
    Merge {
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// The merged run's directory name under target/stress (default:
        /// the UTC time); it must not exist yet.
        #[arg(long)]
        name: Option<String>,
    },
    /// Write these runs' summary.md and report.html again from their
    /// summary.json (after an update of xtask).
    Report {
        #[arg(required = true)]
        runs: Vec<PathBuf>,
    },
}

pub fn runs(ctx: &Ctx, cmd: &RunsCmd) -> Result<i32> {
    match cmd {
        RunsCmd::Table { runs } => table(ctx, runs),
        RunsCmd::Compare { a, b } => {
            print!("{}", compare(&load(ctx, a)?, &load(ctx, b)?));
            Ok(0)
        }
        RunsCmd::Merge { shards, name } => merge_dirs(ctx, shards, name.as_deref()),
        RunsCmd::Report { runs } => {
            for run in runs {
                let s = load(ctx, run)?;
                let dir = run_path(ctx, run);
                std::fs::write(dir.join("summary.md"), markdown(&s)).context("cannot write summary.md")?;
                std::fs::write(dir.join("report.html"), crate::report::html(&s)).context("cannot write report.html")?;
                println!("{}", dir.join("report.html").display());
            }
            Ok(0)
        }
    }
}

/// `--policies`' value (one argument, not clap's list of values).
#[derive(Clone, Debug)]
pub struct Policies(Vec<kcore::bootargs::UvnPolicy>);

/// `--policies`' value: `all`, or policy names with commas.
fn parse_policies(s: &str) -> Result<Policies, String> {
    if s == "all" {
        return Ok(Policies(kcore::bootargs::UvnPolicy::ALL.to_vec()));
    }
    s.split(',').map(|p| crate::qemu::parse_policy(p.trim())).collect::<Result<_, _>>().map(Policies)
}

pub fn main(ctx: &Ctx, args: &Args) -> Result<i32> {
    let setup = crate::ctx::setup(ctx)?;
    if let Some(f) = &args.image {
        crate::image::check_user(f)?;
    }
    let Some(Policies(policies)) = &args.policies else {
        run_one(ctx, &setup, args, args.policy, args.name.as_deref())?;
        return Ok(0);
    };
    let base = match &args.name {
        Some(n) => n.clone(),
        None => utc_stamp(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())),
    };
    let mut dirs = Vec::new();
    for &p in policies {
        eprintln!("stress: policy {} ({} of {})", p.name(), dirs.len() + 1, policies.len());
        dirs.push((p, run_one(ctx, &setup, args, Some(p), Some(&format!("{base}-{}", p.name())))?));
    }
    let mut out = table_text(ctx, &dirs.iter().map(|d| d.1.clone()).collect::<Vec<_>>())?;
    if let Some((_, fixed)) = dirs.iter().find(|d| d.0 == kcore::bootargs::UvnPolicy::Fixed) {
        let f = load(ctx, fixed)?;
        for (p, d) in dirs.iter().filter(|d| d.0 != kcore::bootargs::UvnPolicy::Fixed) {
            let _ = write!(out, "\n### {} against fixed\n\n```\n{}```\n", p.name(), compare(&load(ctx, d)?, &f));
        }
    }
    let file = ctx.path("target/stress").join(format!("{base}-policies.md"));
    std::fs::write(&file, &out).with_context(|| format!("cannot write {}", file.display()))?;
    print!("{out}");
    println!("policies: table and comparisons in {}", file.display());
    Ok(0)
}

/// One run of `args`' boots under `policy`, in run directory `name`.
fn run_one(ctx: &Ctx, setup: &crate::ctx::Setup, args: &Args, policy: Option<kcore::bootargs::UvnPolicy>, name: Option<&str>) -> Result<PathBuf> {
    let bootargs = qemu::with_policy(&args.bootargs, policy);
    let kernel = kernel_id(ctx, &setup.art.kernel)?;
    let (run_id, dir) = run_dir(ctx, name)?;
    let timeout = Duration::from_secs(args.timeout);
    let seeds: Vec<u64> = shard_seeds(args.seed, args.boots, args.shard).collect();
    if seeds.is_empty() {
        bail!("shard {:?} of {} boots has no seeds", args.shard, args.boots);
    }
    let bootargs = pct_calibrate(ctx, setup, args.image.as_deref(), &dir, seeds[0], bootargs, timeout)?;
    let planned = (seeds[0], *seeds.last().unwrap_or(&seeds[0]));

    let mut progress = Progress::new(seeds.len() as u64);
    let start = Instant::now();
    let mut results: Vec<Record> = Vec::with_capacity(seeds.len());
    let mut stopped: Option<String> = None;
    qemu::parallel(
        seeds,
        args.jobs,
        |seed| boot_one(ctx, setup, args.image.as_deref(), &dir, seed, &bootargs, timeout),
        |_, r| {
            results.push(r);
            progress.update(&results, start);
            if stopped.is_none() {
                stopped = stop_reason(args, &results, start);
            }
            stopped.is_none()
        },
    );
    progress.finish();
    results.sort_by_key(|r| r.seed);

    let shard = args.shard.map(|(k, n)| format!("{k}/{n}"));
    let run = RunInfo { run_id, kernel, machine: ctx.machine, bootargs, planned, jobs: args.jobs, shard, stopped, wall: start.elapsed() };
    let summary = finish(&run, &dir, results)?;
    print!("{}", report(&summary, &dir, &ctx.root));
    Ok(dir)
}

/// `sched.pct=D` without `sched.steps=K`: one boot of the first seed
/// under `sched.pct=1` (random priorities, no change points) counts the
/// scheduling steps a boot takes, and every boot then draws its change
/// points over that many (doc/schedules.md). Shards to be merged need one
/// K: give it.
fn pct_calibrate(ctx: &Ctx, setup: &Setup, user_image: Option<&Path>, dir: &Path, seed: u64, bootargs: String, timeout: Duration) -> Result<String> {
    let words: Vec<&str> = bootargs.split_whitespace().collect();
    let depth = words.iter().rev().find_map(|w| w.strip_prefix("sched.pct=")).unwrap_or("0");
    if depth == "0" || words.iter().any(|w| w.starts_with("sched.steps=")) {
        return Ok(bootargs);
    }
    let probe: Vec<&str> = words.iter().map(|w| if w.starts_with("sched.pct=") { "sched.pct=1" } else { w }).collect();
    let cal = dir.join("calibration");
    std::fs::create_dir_all(&cal).with_context(|| format!("cannot create {}", cal.display()))?;
    eprintln!("stress: PCT calibration: seed {seed} under sched.pct=1 counts a boot's scheduling steps");
    let r = boot_one(ctx, setup, user_image, &cal, seed, &probe.join(" "), timeout);
    let Some(line) = r.pct else {
        bail!("the PCT calibration boot (seed {seed}, {}) printed no `sched: pct:` line: give sched.steps=K", r.outcome.name());
    };
    eprintln!("stress: PCT calibration: {} steps ({}); every boot gets sched.steps={}", line.steps, r.outcome.name(), line.steps.max(1));
    Ok(format!("{bootargs} sched.steps={}", line.steps.max(1)))
}

/// What a run is, apart from its boots.
#[derive(Debug)]
struct RunInfo {
    run_id: String,
    kernel: String,
    machine: crate::qemu::Mac,
    bootargs: String,
    planned: (u64, u64),
    jobs: usize,
    shard: Option<String>,
    stopped: Option<String>,
    wall: Duration,
}

/// Summarizes, explains the first boot of each signature, and writes
/// summary.json, summary.md and report.html into `dir`.
fn finish(run: &RunInfo, dir: &Path, results: Vec<Record>) -> Result<Summary> {
    let mut summary = summarize(run, results);
    for g in &mut summary.signatures {
        let log = dir.join(format!("seed-{}.log", g.first_seed));
        if let Ok((_, html)) = crate::explain::explain_file(&log, None, &dir.join("explain")) {
            g.explain = html.strip_prefix(dir).ok().map(|p| p.display().to_string());
        }
    }
    std::fs::write(dir.join("summary.md"), markdown(&summary)).context("cannot write summary.md")?;
    let json = serde_json::to_string_pretty(&summary).context("cannot encode summary.json")?;
    std::fs::write(dir.join("summary.json"), json).context("cannot write summary.json")?;
    std::fs::write(dir.join("report.html"), crate::report::html(&summary)).context("cannot write report.html")?;
    Ok(summary)
}

/// Why the run should start no more boots, if it should stop.
fn stop_reason(args: &Args, results: &[Record], start: Instant) -> Option<String> {
    if let Some(u) = args.until {
        let n = results.iter().filter(|r| if u.failures { failed(r.outcome) } else { r.outcome == Outcome::Panic }).count() as u64;
        if n >= u.n {
            return Some(format!("--until {}-{}: reached after {} boots", u.n, if u.failures { "failures" } else { "panics" }, results.len()));
        }
    }
    if let Some(m) = args.minutes {
        if start.elapsed().as_secs_f64() >= m * 60.0 {
            return Some(format!("--minutes {m}: time up after {} boots", results.len()));
        }
    }
    None
}

/// A bar on a terminal; plain lines (every tenth of the run, at most once
/// a minute apart otherwise) when the output is not one, as in CI.
struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    last_line: Instant,
}

impl Progress {
    fn new(total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let pb = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed_precise} ETA {eta} {msg}") {
                pb.set_style(style);
            }
            pb
        });
        Progress { bar, total, last_line: Instant::now() }
    }

    fn update(&mut self, results: &[Record], start: Instant) {
        let mut counts: BTreeMap<Outcome, usize> = BTreeMap::new();
        for r in results {
            *counts.entry(r.outcome).or_default() += 1;
        }
        let msg: Vec<String> = counts.iter().map(|(o, n)| format!("{} {n}", o.name())).collect();
        let done = results.len() as u64;
        match &self.bar {
            Some(pb) => {
                pb.set_message(msg.join(" "));
                pb.set_position(done);
            }
            None => {
                let step = (self.total / 10).max(1);
                if done.is_multiple_of(step) || done == self.total || self.last_line.elapsed() >= Duration::from_secs(60) {
                    let el = start.elapsed().as_secs_f64();
                    let eta = el / done as f64 * (self.total - done) as f64;
                    eprintln!("stress: {done}/{} boots, {}, {:.0} s, ETA {:.0} s", self.total, msg.join(" "), el, eta);
                    self.last_line = Instant::now();
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(pb) = &self.bar {
            pb.finish();
        }
    }
}

fn boot_one(ctx: &Ctx, setup: &Setup, user_image: Option<&Path>, dir: &Path, seed: u64, bootargs: &str, timeout: Duration) -> Record {
    settle(dir, seed, |log| boot_logged(ctx, setup, user_image, log, seed, bootargs, timeout))
}

/// Boots a seed (`boot` writes the log it is given) and, if QEMU was killed
/// at the wall-clock timeout with no report of the kernel's own (its hang
/// watchdog reports a guest deadlock and exits), boots it once more. The
/// guest runs under -icount, so the same seed is the same execution: if
/// the replay ends by itself (halt or panic) and its output begins with
/// everything the first run printed, the first run stalled on the host,
/// and the seed's outcome is the replay's. Otherwise the first run's HANG
/// stands (a replay that diverged is kept as `seed-N.replay.log`).
fn settle(dir: &Path, seed: u64, mut boot: impl FnMut(&Path) -> Result<BootResult>) -> Record {
    let log = dir.join(format!("seed-{seed}.log"));
    let first = boot(&log);
    let stuck = match &first {
        Ok(r) if r.exit == Exit::Timeout => r.text(),
        _ => return record(seed, first),
    };
    let stalled_name = format!("seed-{seed}.stalled.log");
    let stalled = dir.join(&stalled_name);
    if std::fs::rename(&log, &stalled).is_err() {
        return record(seed, first);
    }
    let replay = boot(&log);
    if let Ok(r) = &replay {
        // The first run's last line may be cut short.
        let whole = &stuck[..stuck.rfind('\n').map_or(0, |i| i + 1)];
        if matches!(r.exit, Exit::Code(0 | 1)) && r.text().starts_with(whole) {
            let mut rec = record(seed, replay);
            rec.host_stall = Some(HostStall { log: stalled_name, lines: whole.lines().count() });
            return rec;
        }
        if r.exit != Exit::Timeout {
            let _ = std::fs::rename(&log, dir.join(format!("seed-{seed}.replay.log")));
        }
    }
    // The replay hangs too (the guest's own hang: one log is enough), or
    // did not retrace the first run.
    let _ = std::fs::rename(&stalled, &log);
    record(seed, first)
}

fn boot_logged(ctx: &Ctx, setup: &Setup, user_image: Option<&Path>, log: &Path, seed: u64, bootargs: &str, timeout: Duration) -> Result<BootResult> {
    let b =
        Boot { image: &setup.images.good, user_image, seed, bootargs, timeout: Some(timeout), gdb: false, console: false, input: None, save_image: None, log };
    setup.machine.boot(ctx, &b)
}

fn record(seed: u64, boot: Result<BootResult>) -> Record {
    match boot {
        Ok(r) => {
            let text = r.text();
            let outcome = outcome::classify(r.exit, &text);
            let error = (outcome == Outcome::QemuError).then(|| format!("{}: {}", r.exit, String::from_utf8_lossy(&r.stderr).trim()));
            Record {
                seed,
                outcome,
                wall_ms: r.wall.as_millis() as u64,
                virtual_ms: outcome::virtual_ms(&text),
                signature: match outcome {
                    Outcome::Panic => outcome::parse_panic(&text).map(|p| p.signature()),
                    Outcome::Hang => outcome::deadlock_signature(&text),
                    _ => None,
                },
                error,
                counters: outcome::RaceCounters::parse(&text),
                pct: outcome::PctLine::parse(&text),
                host_stall: None,
            }
        }
        Err(e) => Record {
            seed,
            outcome: Outcome::QemuError,
            wall_ms: 0,
            virtual_ms: None,
            signature: None,
            error: Some(format!("{e:#}")),
            counters: None,
            pct: None,
            host_stall: None,
        },
    }
}

/// The kernel's identity: CRC-32 and size of the ELF, and the git commit
/// of the tree (with "-dirty" if it has changes).
fn kernel_id(ctx: &Ctx, kernel: &Path) -> Result<String> {
    let bytes = std::fs::read(kernel).with_context(|| format!("cannot read {}", kernel.display()))?;
    let git = std::process::Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=12"])
        .current_dir(&ctx.root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(|| "no-git".to_owned(), |o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    Ok(format!("crc32 {:08x} size {} git {git}", kcore::crc32::crc32(&bytes), bytes.len()))
}

/// `target/stress/<UTC timestamp>` (or `<name>`), and `target/stress/latest`
/// pointing at it.
fn run_dir(ctx: &Ctx, name: Option<&str>) -> Result<(String, PathBuf)> {
    let base = ctx.path("target/stress");
    if let Some(n) = name {
        if n.is_empty() || n.contains('/') || n == "latest" || n.starts_with('.') {
            bail!("--name {n:?}: a plain directory name is needed");
        }
        let dir = base.join(n);
        if dir.exists() {
            bail!("{} exists already: pick another --name", dir.display());
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        return Ok((n.to_owned(), dir));
    }
    let secs = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let stamp = utc_stamp(secs);
    // Two runs in the same second get -2, -3, …
    let (id, dir) = (1..)
        .map(|n| if n == 1 { stamp.clone() } else { format!("{stamp}-{n}") })
        .map(|id| (id.clone(), base.join(id)))
        .find(|(_, d)| !d.exists())
        .context("no free run directory name")?;
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let latest = base.join("latest");
    if latest.symlink_metadata().is_ok() {
        std::fs::remove_file(&latest).with_context(|| format!("cannot replace {}", latest.display()))?;
    }
    std::os::unix::fs::symlink(&id, &latest).with_context(|| format!("cannot create {}", latest.display()))?;
    Ok((id, dir))
}

/// `YYYYMMDD-HHMMSS` in UTC for seconds since the epoch.
fn utc_stamp(secs: u64) -> String {
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}-{:02}{:02}{:02}", rem / 3600, rem / 60 % 60, rem % 60)
}

fn replay_command(machine: crate::qemu::Mac, seed: u64, bootargs: &str) -> String {
    let mut cmd = format!("cargo xtask run --seed {seed}");
    if machine != crate::qemu::Mac::G4 {
        let _ = write!(cmd, " --machine {machine}");
    }
    if !bootargs.is_empty() {
        let _ = write!(cmd, " --bootargs {}", shell_quote(bootargs));
    }
    cmd
}

fn summarize(run: &RunInfo, results: Vec<Record>) -> Summary {
    let n = results.len() as u64;
    let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
    let counts = Outcome::ALL.iter().map(|&o| (o.name().to_owned(), count(o))).collect();
    let mut rates: Vec<Rate> = Outcome::ALL.iter().map(|&o| Rate::new(o.name(), count(o) as u64, n)).collect();
    rates.push(Rate::new("FAILED", results.iter().filter(|r| failed(r.outcome)).count() as u64, n));

    let mut groups: BTreeMap<&str, (usize, u64, Vec<u64>)> = BTreeMap::new();
    for r in &results {
        if let Some(sig) = &r.signature {
            let g = groups.entry(sig).or_insert((0, r.seed, Vec::new()));
            g.0 += 1;
            g.1 = g.1.min(r.seed);
            g.2.extend(r.virtual_ms);
        }
    }
    let mut signatures: Vec<Signature> = groups
        .into_iter()
        .map(|(sig, (count, first_seed, mut guest_ms))| {
            guest_ms.sort_unstable();
            Signature { signature: sig.to_owned(), count, first_seed, replay: replay_command(run.machine, first_seed, &run.bootargs), explain: None, guest_ms }
        })
        .collect();
    signatures.sort_by(|a, b| b.count.cmp(&a.count).then(a.first_seed.cmp(&b.first_seed)));

    let guest = |o: Outcome| Dist::of("guest", results.iter().filter(|r| r.outcome == o).filter_map(|r| r.virtual_ms).collect());
    let wall_to_panic = Dist::of("wall", results.iter().filter(|r| r.outcome == Outcome::Panic).map(|r| r.wall_ms).collect());
    let wall_s = run.wall.as_secs_f64();
    let counted: Vec<&outcome::RaceCounters> = results.iter().filter_map(|r| r.counters.as_ref()).collect();
    let counters = (!counted.is_empty()).then(|| {
        let mut sum = outcome::RaceCounters::default();
        counted.iter().for_each(|c| sum.add(c));
        (sum, counted.len() as u64)
    });
    let counters_min = outcome::RaceCounters::min_of(counted.iter().copied());
    let pct = crate::results::PctBound::of(&results);
    Summary {
        run_id: run.run_id.clone(),
        kernel: run.kernel.clone(),
        machine: run.machine,
        bootargs: run.bootargs.clone(),
        first_seed: run.planned.0,
        last_seed: run.planned.1,
        boots: n,
        jobs: run.jobs,
        shard: run.shard.clone(),
        stopped: run.stopped.clone(),
        wall_s,
        boots_per_s: if wall_s > 0.0 { n as f64 / wall_s } else { 0.0 },
        counts,
        rates,
        signatures,
        guest_to_panic: guest(Outcome::Panic),
        guest_to_deadlock: guest(Outcome::Hang),
        wall_to_panic,
        counters,
        counters_min,
        pct,
        results,
    }
}

/// The terminal summary.
fn report(s: &Summary, dir: &Path, root: &Path) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "\nstress {}: {} boots on the {}, {} at a time, seeds {}..={}{}, bootargs \"{}\"\n  kernel {}",
        s.run_id,
        s.boots,
        s.machine,
        s.jobs,
        s.first_seed,
        s.last_seed,
        s.shard.as_deref().map(|k| format!(" (shard {k})")).unwrap_or_default(),
        s.bootargs,
        s.kernel
    );
    if let Some(why) = &s.stopped {
        let _ = writeln!(o, "  stopped early: {why}");
    }
    let _ = writeln!(o, "  {:<13}{:>6}  rate [95% Wilson interval]", "outcome", "boots");
    for r in &s.rates {
        let first = s.results.iter().find(|b| b.outcome.name() == r.outcome || (r.outcome == "FAILED" && failed(b.outcome))).map(|b| b.seed);
        let _ = writeln!(
            o,
            "  {:<13}{:>6}  {:>5.1}% [{:.1}%, {:.1}%]{}",
            r.outcome,
            r.count,
            100.0 * r.rate,
            100.0 * r.lo,
            100.0 * r.hi,
            match first {
                Some(seed) if r.outcome != "PASS" && r.count > 0 => format!("  (first seed {seed})"),
                _ => String::new(),
            }
        );
    }
    if !s.signatures.is_empty() {
        let _ = writeln!(o, "panic and deadlock signatures:\n  {:>5}  {:>10}  signature", "count", "first seed");
        for g in &s.signatures {
            let _ = writeln!(o, "  {:>5}  {:>10}  {}", g.count, g.first_seed, g.signature);
        }
    }
    let _ = writeln!(o, "wall {:.1} s, {:.2} boots/s", s.wall_s, s.boots_per_s);
    if let Some((c, n)) = &s.counters {
        let _ = writeln!(o, "race counters over the {n} boots that halted: {}", c.text());
        let _ = writeln!(o, "race windows entered: {}", c.windows_text());
    }
    if let Some(m) = &s.counters_min {
        let _ = writeln!(o, "fewest in one boot: {}; windows {}", m.text(), m.windows_text());
    }
    if let Some(b) = &s.pct {
        let _ = writeln!(o, "{}", b.text());
    }
    for (what, d) in [("time to panic", &s.guest_to_panic), ("time to deadlock report", &s.guest_to_deadlock), ("time to panic", &s.wall_to_panic)] {
        if let Some(d) = d {
            let _ = writeln!(o, "{what} ({}): {}", d.source, d.text());
        }
    }
    if !s.signatures.is_empty() {
        let _ = writeln!(o, "replay:");
        for g in &s.signatures {
            let _ = writeln!(o, "  {}", g.replay);
        }
        for g in s.signatures.iter().filter_map(|g| g.explain.as_ref()) {
            let p = dir.join(g);
            let _ = writeln!(o, "explained: {}", p.strip_prefix(root).unwrap_or(&p).display());
        }
    }
    for line in [short_text(s), host_stalls(s)].into_iter().flatten() {
        let _ = writeln!(o, "{line}");
    }
    for r in s.results.iter().filter(|r| r.error.is_some()).take(3) {
        let _ = writeln!(o, "QEMU error, seed {}: {}", r.seed, r.error.as_deref().unwrap_or_default());
    }
    let _ = writeln!(o, "logs, summary and report.html: {}", dir.strip_prefix(root).unwrap_or(dir).display());
    o
}

/// The halted boots that lack a pressure the run as a whole shows (a
/// counter above 0 in the sum, 0 in the boot): a campaign counts only the
/// boots that exercised what it tests. Each with the counters it lacks.
fn short_boots(s: &Summary) -> Vec<(u64, Vec<&'static str>)> {
    let Some((sum, _)) = &s.counters else { return Vec::new() };
    let run = sum.pressure();
    s.results
        .iter()
        .filter_map(|r| {
            let lack: Vec<&str> = r.counters?.pressure().iter().zip(&run).filter(|(b, all)| b.1 == 0 && all.1 > 0).map(|(b, _)| b.0).collect();
            (!lack.is_empty()).then_some((r.seed, lack))
        })
        .collect()
}

/// The line that names them, if any.
fn short_text(s: &Summary) -> Option<String> {
    let short = short_boots(s);
    let halted = s.results.iter().filter(|r| r.counters.is_some()).count();
    let shown: Vec<String> = short.iter().take(10).map(|(seed, lack)| format!("{seed}: no {}", lack.join(", no "))).collect();
    (!short.is_empty()).then(|| {
        format!(
            "short of pressure: {} of the {halted} halted boots lack a counter the run shows ({}{})",
            short.len(),
            shown.join("; "),
            if short.len() > shown.len() { "; …" } else { "" }
        )
    })
}

/// The boots whose first run stalled on the host, if any.
fn host_stalls(s: &Summary) -> Option<String> {
    let seeds: Vec<String> = s.results.iter().filter(|r| r.host_stall.is_some()).map(|r| r.seed.to_string()).collect();
    (!seeds.is_empty()).then(|| {
        format!(
            "host stalls: {} boot(s) killed at the wall-clock timeout whose replays retraced their output and ended; each counts as its replay (stalled logs seed-N.stalled.log): seeds {}",
            seeds.len(),
            seeds.join(", ")
        )
    })
}

fn markdown(s: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# Stress run {}\n", s.run_id);
    let _ = writeln!(
        o,
        "{} boots on the {}, {} at a time, seeds {}–{}{}, bootargs `{}`; kernel `{}`; wall {:.1} s, {:.2} boots/s.{}\n",
        s.boots,
        s.machine,
        s.jobs,
        s.first_seed,
        s.last_seed,
        s.shard.as_deref().map(|k| format!(" (shard {k})")).unwrap_or_default(),
        s.bootargs,
        s.kernel,
        s.wall_s,
        s.boots_per_s,
        s.stopped.as_deref().map(|w| format!(" Stopped early: {w}.")).unwrap_or_default()
    );
    let _ = writeln!(o, "| outcome | boots | rate | 95% interval (Wilson) |\n| --- | ---: | ---: | --- |");
    for r in &s.rates {
        let _ = writeln!(o, "| {} | {} | {:.1}% | {:.1}% – {:.1}% |", r.outcome, r.count, 100.0 * r.rate, 100.0 * r.lo, 100.0 * r.hi);
    }
    if !s.signatures.is_empty() {
        let _ = writeln!(o, "\n| count | first seed | signature | replay | explanation |\n| ---: | ---: | --- | --- | --- |");
        for g in &s.signatures {
            let explain = g.explain.as_ref().map_or_else(|| "—".to_owned(), |p| format!("[seed {}]({p})", g.first_seed));
            let _ = writeln!(o, "| {} | {} | `{}` | `{}` | {explain} |", g.count, g.first_seed, g.signature.replace('|', "\\|"), g.replay);
        }
    }
    for (what, d) in [("Time to panic", &s.guest_to_panic), ("Time to the deadlock report", &s.guest_to_deadlock), ("Time to panic", &s.wall_to_panic)] {
        if let Some(d) = d {
            let _ = writeln!(o, "\n{what} ({} time): {}.", d.source, d.text());
        }
    }
    if let Some((c, n)) = &s.counters {
        let _ = writeln!(o, "\nRace counters over the {n} boots that halted: {}; race windows entered: {}.", c.text(), c.windows_text());
    }
    if let Some(m) = &s.counters_min {
        let _ = writeln!(o, "\nFewest in one boot: {}; windows {}.", m.text(), m.windows_text());
    }
    if let Some(b) = &s.pct {
        let _ = writeln!(o, "\n{}.", b.text());
    }
    for line in [short_text(s), host_stalls(s)].into_iter().flatten() {
        let _ = writeln!(o, "\n{line}.");
    }
    let _ = writeln!(o, "\nThe report with plots: [report.html](report.html).");
    o
}

/// A run's summary, by directory or by name under target/stress.
fn load(ctx: &Ctx, run: &Path) -> Result<Summary> {
    let dir = run_path(ctx, run);
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a summary of this version of xtask (re-run, or see its summary.md)", path.display()))
}

fn run_path(ctx: &Ctx, run: &Path) -> PathBuf {
    if run.is_absolute() || run.exists() {
        run.to_path_buf()
    } else {
        ctx.path("target/stress").join(run)
    }
}

/// One markdown table of several runs (the README's outcome table):
/// counts, the failure rate with its interval, signatures, guest time to
/// panic. Older summaries without intervals get them from their counts.
fn table(ctx: &Ctx, runs: &[PathBuf]) -> Result<i32> {
    let o = table_text(ctx, runs)?;
    print!("{o}");
    let out = ctx.path("target/stress/table.md");
    std::fs::write(&out, &o).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(0)
}

/// The markdown of `runs table`.
fn table_text(ctx: &Ctx, runs: &[PathBuf]) -> Result<String> {
    let mut o = String::from(
        "| policy | bootargs | boots | PASS | PANIC | HANG | other | failed, 95% interval | signatures (count) | time to panic or deadlock, median / p90 |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |\n",
    );
    let mut cells = Vec::new();
    for run in runs {
        let path = run_path(ctx, run).join("summary.json");
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{} is not a stress summary", path.display()))?;
        let n = |k: &str| v["counts"][k].as_u64().unwrap_or(0);
        let boots = v["boots"].as_u64().unwrap_or(0);
        let bootargs = v["bootargs"].as_str().unwrap_or("");
        let policy = bootargs.split_whitespace().find_map(|w| w.strip_prefix("uvn.policy=")).unwrap_or(kcore::bootargs::UvnPolicy::DEFAULT.name());
        let rest: Vec<&str> = bootargs.split_whitespace().filter(|w| !w.starts_with("uvn.policy=")).collect();
        cells.push(crate::matrix::Cell {
            policy: policy.to_owned(),
            // The machine is no boot argument but makes a cell of its own.
            args: std::iter::once(format!("--machine {}", v["machine"].as_str().unwrap_or("g4"))).chain(rest.iter().map(|a| (*a).to_owned())).collect(),
            kernel: v["kernel"].as_str().and_then(|k| k.split_once("git ")).map_or("?".to_owned(), |(_, g)| g.trim().to_owned()),
            boots,
            panics: n("PANIC"),
            hangs: n("HANG"),
            check_failed: n("CHECK-FAILED"),
            lost: n("NO-OUTPUT") + n("QEMU-ERROR"),
        });
        let sigs: Vec<String> = v["signatures"]
            .as_array()
            .map(|a| a.iter().map(|g| format!("`{}` ({})", g["signature"].as_str().unwrap_or("?").replace('|', "\\|"), g["count"])).collect())
            .unwrap_or_default();
        let fails = n("PANIC") + n("HANG") + n("CHECK-FAILED");
        let rate = Rate::new("FAILED", fails, boots);
        let time = ["guest_to_panic", "guest_to_deadlock", "time_to_panic", "wall_to_panic"]
            .iter()
            .map(|k| &v[*k])
            .find(|t| !t.is_null())
            .map_or_else(|| "—".to_owned(), |t| format!("{} / {} ms ({})", t["median_ms"], t["p90_ms"], t["source"].as_str().unwrap_or("?")));
        let _ = writeln!(
            o,
            "| {policy} | `{}` | {boots} | {} | {} | {} | {} | {} | {} | {time} |",
            rest.join(" "),
            n("PASS"),
            n("PANIC"),
            n("HANG"),
            n("CHECK-FAILED") + n("NO-OUTPUT") + n("QEMU-ERROR"),
            rate.text(),
            if sigs.is_empty() { "—".to_owned() } else { sigs.join("; ") }
        );
    }
    if let Some(m) = crate::matrix::matrix_text(&cells) {
        let _ = write!(o, "\n### Policies by cells\n\n{m}");
    }
    Ok(o)
}

/// `runs compare A B`: the failure and panic rates of two runs, their
/// difference with Newcombe's interval and Fisher's exact test, the shift
/// in guest time to panic (Mann–Whitney U, Hodges–Lehmann), in words.
pub fn compare(a: &Summary, b: &Summary) -> String {
    let name = |s: &Summary| format!("{} ({})", s.run_id, s.policy());
    let (na, nb) = (name(a), name(b));
    let mut o = format!("A: {na}, {} boots, bootargs \"{}\"\nB: {nb}, {} boots, bootargs \"{}\"\n", a.boots, a.bootargs, b.boots, b.bootargs);
    for what in ["FAILED", "PANIC", "HANG"] {
        let (Some(ra), Some(rb)) = (a.rate(what), b.rate(what)) else { continue };
        let (lo, hi) = stats::diff_interval(ra.count, ra.boots, rb.count, rb.boots);
        let p = stats::fisher_exact(ra.count, ra.boots - ra.count, rb.count, rb.boots - rb.count);
        let _ = writeln!(
            o,
            "{what:<7} A {}  B {}  A−B {:+.1}% [{:.1}%, {:.1}%]  Fisher p = {}",
            ra.text(),
            rb.text(),
            100.0 * (ra.rate - rb.rate),
            100.0 * lo,
            100.0 * hi,
            pvalue(p)
        );
        if what == "FAILED" {
            let verdict = if p < 0.05 {
                let (worse, better) = if ra.rate > rb.rate { (&na, &nb) } else { (&nb, &na) };
                format!("{worse} is worse: it fails more often than {better} (p {}).", p_bound(p))
            } else {
                format!("no difference in failure rate shown (p = {}); neither run is shown to be worse.", pvalue(p))
            };
            let _ = writeln!(o, "{verdict}");
        }
    }
    let times = |s: &Summary| s.results.iter().filter(|r| r.outcome == Outcome::Panic).filter_map(|r| r.virtual_ms.map(|t| t as f64)).collect::<Vec<f64>>();
    let (ta, tb) = (times(a), times(b));
    match (stats::mann_whitney(&ta, &tb), stats::hodges_lehmann(&ta, &tb)) {
        (Some((u, p)), Some(shift)) => {
            let _ = writeln!(
                o,
                "guest time to panic: A median {} ms ({} panics), B median {} ms ({} panics); B − A shift {:+.0} ms (Hodges–Lehmann), Mann–Whitney U = {u}, p = {}: {}",
                a.guest_to_panic.as_ref().map_or(0, |d| d.median_ms),
                ta.len(),
                b.guest_to_panic.as_ref().map_or(0, |d| d.median_ms),
                tb.len(),
                shift,
                pvalue(p),
                if p < 0.05 { format!("B panics {} than A", if shift > 0.0 { "later" } else { "sooner" }) } else { "no shift shown".to_owned() }
            );
        }
        _ => {
            let _ = writeln!(o, "guest time to panic: not compared ({} and {} panics with a time)", ta.len(), tb.len());
        }
    }
    o
}

/// A significant p-value in a verdict: `< 0.001`, or `= ` and its value.
pub fn p_bound(p: f64) -> String {
    if p < 0.001 {
        "< 0.001".to_owned()
    } else {
        format!("= {}", pvalue(p))
    }
}

fn pvalue(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

/// Puts shards together: the same kernel and bootargs, disjoint seeds.
/// The result is summarized from the boots as a single run would be.
fn merge(shards: &[Summary], run_id: String, wall: Duration) -> Result<(RunInfo, Vec<Record>)> {
    let first = shards.first().context("no shards to merge")?;
    for s in shards {
        if s.bootargs != first.bootargs {
            bail!("shard {} has bootargs \"{}\", shard {} \"{}\"", s.run_id, s.bootargs, first.run_id, first.bootargs);
        }
        if s.kernel != first.kernel {
            bail!("shard {} booted kernel {}, shard {} kernel {}: shards must run the same build", s.run_id, s.kernel, first.run_id, first.kernel);
        }
        if s.machine != first.machine {
            bail!("shard {} ran on the {}, shard {} on the {}: shards must run on the same machine", s.run_id, s.machine, first.run_id, first.machine);
        }
    }
    let mut results: Vec<Record> = shards.iter().flat_map(|s| s.results.iter().cloned()).collect();
    results.sort_by_key(|r| r.seed);
    if let Some(w) = results.windows(2).find(|w| w[0].seed == w[1].seed) {
        bail!("seed {} is in more than one shard: the shards overlap", w[0].seed);
    }
    // A shard stopped early (--minutes, --until) covers only the seeds it
    // booted: the rest of its slice may be run as a shard of its own.
    let covered = |s: &Summary| if s.stopped.is_some() { s.results.iter().map(|r| r.seed).max().unwrap_or(s.first_seed) } else { s.last_seed };
    let mut ranges: Vec<(u64, u64, &str)> = shards.iter().map(|s| (s.first_seed, covered(s), s.run_id.as_str())).collect();
    ranges.sort_unstable();
    if let Some(w) = ranges.windows(2).find(|w| w[1].0 <= w[0].1) {
        bail!("shards {} (seeds {}–{}) and {} (seeds {}–{}) overlap", w[0].2, w[0].0, w[0].1, w[1].2, w[1].0, w[1].1);
    }
    let stopped: Vec<String> = shards.iter().filter_map(|s| s.stopped.as_ref().map(|w| format!("shard {}: {w}", s.run_id))).collect();
    Ok((
        RunInfo {
            run_id,
            kernel: first.kernel.clone(),
            machine: first.machine,
            bootargs: first.bootargs.clone(),
            planned: (ranges[0].0, ranges.iter().map(|r| r.1).max().unwrap_or(ranges[0].1)),
            jobs: shards.iter().map(|s| s.jobs).max().unwrap_or(1),
            shard: None,
            stopped: (!stopped.is_empty()).then(|| stopped.join("; ")),
            wall,
        },
        results,
    ))
}

/// `runs merge DIR…`: a new run directory with the shards' logs and one
/// summary and report.
fn merge_dirs(ctx: &Ctx, dirs: &[PathBuf], name: Option<&str>) -> Result<i32> {
    let shards: Vec<Summary> = dirs.iter().map(|d| load(ctx, d)).collect::<Result<_>>()?;
    let wall = Duration::from_secs_f64(shards.iter().map(|s| s.wall_s).fold(0.0, f64::max));
    let (run_id, dir) = run_dir(ctx, name)?;
    let (run, results) = merge(&shards, run_id, wall)?;
    for (d, s) in dirs.iter().zip(&shards) {
        let from = run_path(ctx, d);
        for r in &s.results {
            let stalled = r.host_stall.as_ref().map(|h| h.log.clone());
            for name in std::iter::once(format!("seed-{}.log", r.seed)).chain(stalled) {
                let (src, dst) = (from.join(&name), dir.join(&name));
                if src.exists() && std::fs::hard_link(&src, &dst).is_err() {
                    std::fs::copy(&src, &dst).with_context(|| format!("cannot copy {}", src.display()))?;
                }
            }
        }
    }
    let summary = finish(&run, &dir, results)?;
    print!("{}", report(&summary, &dir, &ctx.root));
    Ok(0)
}

#[cfg(test)]
mod tests {

    #[test]
    fn policies_list() {
        use kcore::bootargs::UvnPolicy;
        assert_eq!(parse_policies("all").unwrap().0, UvnPolicy::ALL.to_vec());
        assert_eq!(parse_policies("original, head").unwrap().0, vec![UvnPolicy::Original, UvnPolicy::Head]);
        assert!(parse_policies("original,nosuch").unwrap_err().contains("no policy 'nosuch'"));
    }
    use super::*;

    #[test]
    fn stamps() {
        assert_eq!(utc_stamp(0), "19700101-000000");
        assert_eq!(utc_stamp(1_735_689_600), "20250101-000000");
        // 2026-11-25 03:15:00 UTC
        assert_eq!(utc_stamp(1_795_576_500), "20261125-031500");
        assert_eq!(utc_stamp(951_825_600 + 3661), "20000229-130101");
    }

    #[test]
    fn replay_commands() {
        use crate::qemu::Mac;
        assert_eq!(replay_command(Mac::G4, 3, ""), "cargo xtask run --seed 3");
        assert_eq!(
            replay_command(Mac::G4, 3, "test=panic-random uvn.policy=fixed"),
            "cargo xtask run --seed 3 --bootargs 'test=panic-random uvn.policy=fixed'"
        );
        assert_eq!(replay_command(Mac::G5, 3, ""), "cargo xtask run --seed 3 --machine g5");
    }

    #[test]
    fn shards_and_stopping_rules_parse() {
        assert_eq!(parse_shard("3/8"), Ok((3, 8)));
        assert!(parse_shard("0/8").is_err() && parse_shard("9/8").is_err() && parse_shard("x").is_err());
        assert_eq!(parse_until("5-panics"), Ok(Until { n: 5, failures: false }));
        assert_eq!(parse_until("2-failures"), Ok(Until { n: 2, failures: true }));
        assert!(parse_until("0-panics").is_err() && parse_until("5-hangs").is_err());
        // Shards are disjoint and cover every seed once.
        let mut all: Vec<u64> = (1..=7).flat_map(|k| shard_seeds(100, 50, Some((k, 7)))).collect();
        all.sort_unstable();
        assert_eq!(all, (100..150).collect::<Vec<_>>());
        assert_eq!(shard_seeds(5, 3, None), 5..8);
    }

    fn rec(seed: u64, sig: Option<&str>, guest: u64) -> Record {
        Record {
            seed,
            outcome: if sig.is_some() { Outcome::Panic } else { Outcome::Pass },
            wall_ms: seed * 100 + 7,
            virtual_ms: Some(guest),
            signature: sig.map(str::to_owned),
            error: None,
            counters: (sig.is_none()).then_some(outcome::RaceCounters {
                creates: seed,
                persist_recycles: 1,
                persist_pageouts: 2,
                uncache_kills: 0,
                ..Default::default()
            }),
            pct: Some(outcome::PctLine { depth: 2, threads: 8 + seed as u32, steps: 100 * seed, window: 1000 }),
            host_stall: None,
        }
    }

    /// A fake boot: writes `text` to the log and ends with `exit`.
    fn fake(log: &Path, exit: Exit, text: &str) -> Result<BootResult> {
        std::fs::write(log, text)?;
        Ok(BootResult { exit, output: text.as_bytes().to_vec(), stderr: Vec::new(), wall: Duration::from_millis(5) })
    }

    /// settle on a boot that times out with `stuck`, then replays as
    /// `exit` with `text`; the boots made.
    fn stall_then(dir: &Path, seed: u64, stuck: &str, exit: Exit, text: &str) -> (Record, u32) {
        let mut n = 0;
        let r = settle(dir, seed, |log| {
            n += 1;
            if n == 1 {
                fake(log, Exit::Timeout, stuck)
            } else {
                fake(log, exit, text)
            }
        });
        (r, n)
    }

    #[test]
    fn a_host_stall_is_replayed_and_a_guest_hang_is_not_excused() {
        let dir = std::env::temp_dir().join(format!("xtask-stall-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stuck = "ppcbsd kernel 0.1\nclock: hz 100\ntick 120\n";
        let halted = "ppcbsd kernel 0.1\nclock: hz 100\ntick 120\ntick 500\n";
        // Stalled once, then ends: the replay's PASS, the first log kept.
        let (r, n) = stall_then(&dir, 7, stuck, Exit::Code(0), halted);
        assert_eq!((n, r.outcome), (2, Outcome::Pass));
        let stall = r.host_stall.expect("the stall is recorded");
        assert_eq!((stall.log.as_str(), stall.lines), ("seed-7.stalled.log", 3));
        assert_eq!(std::fs::read_to_string(dir.join(&stall.log)).unwrap(), stuck);
        assert_eq!(std::fs::read_to_string(dir.join("seed-7.log")).unwrap(), halted);
        // Hangs both times: HANG, one log, nothing excused.
        let r = settle(&dir, 8, |log| fake(log, Exit::Timeout, stuck));
        assert_eq!((r.outcome, r.host_stall.is_some()), (Outcome::Hang, false));
        assert!(dir.join("seed-8.log").exists() && !dir.join("seed-8.stalled.log").exists());
        // A replay that does not retrace the first run, or that QEMU itself
        // ends, excuses nothing.
        let (r, _) = stall_then(&dir, 10, stuck, Exit::Code(0), "ppcbsd kernel 0.1\nclock: hz 100\ntick 7\n");
        assert_eq!((r.outcome, r.host_stall.is_some()), (Outcome::Hang, false));
        assert!(dir.join("seed-10.replay.log").exists() && !dir.join("seed-10.stalled.log").exists());
        let (r, _) = stall_then(&dir, 11, stuck, Exit::Signal(9), halted);
        assert_eq!((r.outcome, r.host_stall.is_some()), (Outcome::Hang, false));
        // The kernel's own deadlock report is never replayed.
        let mut n = 0;
        let r = settle(&dir, 9, |log| {
            n += 1;
            fake(log, Exit::Code(1), "ppcbsd kernel 0.1\ndeadlock: every thread asleep\n")
        });
        assert_eq!((n, r.outcome), (1, Outcome::Hang));
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn info(id: &str, planned: (u64, u64), shard: Option<&str>) -> RunInfo {
        RunInfo {
            run_id: id.into(),
            kernel: "crc32 0 size 1 git x".into(),
            machine: crate::qemu::Mac::G4,
            bootargs: "test=x".into(),
            planned,
            jobs: 2,
            shard: shard.map(str::to_owned),
            stopped: None,
            wall: Duration::from_secs(2),
        }
    }

    fn boots() -> Vec<Record> {
        (1..=10).map(|s| rec(s, [Some("a"), None, Some("b"), Some("b")][(s % 4) as usize], 1000 + s * 37 % 11)).collect()
    }

    #[test]
    fn grouping_rates_and_times() {
        let s = summarize(&info("id", (1, 10), None), boots());
        assert_eq!(s.counts["PANIC"], 7);
        assert_eq!(s.counts["PASS"], 3);
        assert_eq!((s.signatures[0].signature.as_str(), s.signatures[0].count, s.signatures[0].first_seed), ("b", 5, 2));
        assert_eq!(s.signatures[0].replay, "cargo xtask run --seed 2 --bootargs test=x");
        let panic = s.rate("PANIC").unwrap();
        assert_eq!((panic.count, panic.boots), (7, 10));
        assert!((panic.lo - 0.3968).abs() < 1e-3 && (panic.hi - 0.8922).abs() < 1e-3, "{panic:?}");
        assert_eq!(s.rate("FAILED").unwrap().count, 7);
        let d = s.guest_to_panic.as_ref().unwrap();
        assert_eq!((d.n, d.source.as_str()), (7, "guest"));
        assert!(d.p10_ms <= d.median_ms && d.median_ms <= d.p90_ms && d.p90_ms <= d.max_ms);
        assert_eq!(s.signatures[0].guest_ms.len(), 5);
        // The three passing boots' counters, summed.
        let (c, n) = s.counters.unwrap();
        assert_eq!(n, 3);
        assert_eq!((c.persist_recycles, c.persist_pageouts, c.uncache_kills), (3, 6, 0));
        assert_eq!(c.creates, s.results.iter().filter(|r| r.outcome == Outcome::Pass).map(|r| r.seed).sum::<u64>());
        assert_eq!(s.counters_min.unwrap().creates, s.results.iter().filter(|r| r.outcome == Outcome::Pass).map(|r| r.seed).min().unwrap());
        // PCT: the most threads of any boot (18), the window, the 3 passes.
        let b = s.pct.as_ref().unwrap();
        assert_eq!((b.depth, b.window, b.threads, b.steps_max, b.clean_boots), (2, 1000, 18, 1000, 3));
        assert!((b.per_boot - 1.0 / 18_000.0).abs() < 1e-12);
        assert!((b.miss - (1.0f64 - 1.0 / 18_000.0).powi(3)).abs() < 1e-12);
        // Every pass had creates, persisting recycles and pageouts: none short.
        assert_eq!((short_boots(&s), short_text(&s)), (Vec::new(), None));
        let mut recs = boots();
        recs.iter_mut().filter(|r| r.seed == 5).for_each(|r| r.counters.as_mut().unwrap().persist_pageouts = 0);
        let s = summarize(&info("id", (1, 10), None), recs);
        assert_eq!(short_boots(&s), vec![(5, vec!["persisting pageouts"])]);
        assert_eq!(short_text(&s).unwrap(), "short of pressure: 1 of the 3 halted boots lack a counter the run shows (5: no persisting pageouts)");
    }

    #[test]
    fn the_report_page_parses_and_holds_the_numbers() {
        let s = summarize(&info("id", (1, 10), None), boots());
        let page = crate::report::html(&s);
        let opts = roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() };
        let doc = roxmltree::Document::parse_with_options(&page, opts).expect("report.html is well-formed");
        let svgs = doc.descendants().filter(|n| n.tag_name().name() == "svg").count();
        assert_eq!(svgs, 2, "the ECDF and the outcomes over seeds");
        let json: serde_json::Value = serde_json::to_value(&s).unwrap();
        for r in json["rates"].as_array().unwrap() {
            let row = format!(
                "<td>{}</td><td class=\"n\">{}</td><td class=\"n\">{:.1}%</td><td>{:.1}% – {:.1}%</td>",
                r["outcome"].as_str().unwrap(),
                r["count"],
                100.0 * r["rate"].as_f64().unwrap(),
                100.0 * r["lo"].as_f64().unwrap(),
                100.0 * r["hi"].as_f64().unwrap()
            );
            assert!(page.contains(&row), "{row}");
        }
        let d = &json["guest_to_panic"];
        assert!(page.contains(&format!("median {} ms, p10 {} ms, p90 {} ms, max {} ms over 7 boots", d["median_ms"], d["p10_ms"], d["p90_ms"], d["max_ms"])));
        assert!(page.contains("<a href=\"seed-2.log\">2</a>"));
        assert!(page.contains("70.0%") && page.contains("39.7% – 89.2%"));
        // The ECDF has a line per signature and names them in its legend.
        let ecdf = doc.descendants().find(|n| n.attribute("id") == Some("ecdf")).expect("the ECDF");
        let text: String = ecdf.descendants().filter_map(|n| n.text()).collect();
        assert!(text.contains("b (5)") && text.contains("a (2)"), "{text}");
        // The PCT bound and the least a boot exercised.
        let pct = doc.descendants().find(|n| n.attribute("id") == Some("pct")).expect("the PCT bound");
        assert!(pct.text().unwrap().contains("PCT depth 2 over the first 1000 steps, at most 18 threads"), "{:?}", pct.text());
        let counters: String =
            doc.descendants().find(|n| n.attribute("id") == Some("counters")).expect("the counters").descendants().filter_map(|n| n.text()).collect();
        assert!(counters.contains("Fewest in one boot: 1 creates"), "{counters}");
    }

    /// Summary JSON without what may differ between a run and its shards
    /// merged: run_id, jobs, wall times, the shard.
    fn comparable(s: &Summary) -> serde_json::Value {
        let mut v = serde_json::to_value(s).unwrap();
        for k in ["run_id", "jobs", "wall_s", "boots_per_s", "wall_to_panic", "shard"] {
            v.as_object_mut().unwrap().remove(k);
        }
        for r in v["results"].as_array_mut().unwrap() {
            r.as_object_mut().unwrap().remove("wall_ms");
        }
        v
    }

    #[test]
    fn shards_merged_equal_the_single_run() {
        let all = boots();
        let single = summarize(&info("single", (1, 10), None), all.clone());
        let shards: Vec<Summary> = (1..=3)
            .map(|k| {
                let seeds = shard_seeds(1, 10, Some((k, 3)));
                let part: Vec<Record> = all.iter().filter(|r| seeds.contains(&r.seed)).cloned().collect();
                summarize(&info(&format!("s{k}"), (seeds.start, seeds.end - 1), Some(&format!("{k}/3"))), part)
            })
            .collect();
        let (run, results) = merge(&[shards[2].clone(), shards[0].clone(), shards[1].clone()], "merged".into(), Duration::from_secs(1)).unwrap();
        let merged = summarize(&run, results);
        assert_eq!(serde_json::to_string_pretty(&comparable(&merged)).unwrap(), serde_json::to_string_pretty(&comparable(&single)).unwrap());

        // A shard stopped early and one that runs the rest of its slice.
        let first_part: Vec<Record> = all.iter().filter(|r| r.seed <= 4).cloned().collect();
        let mut stopped = summarize(&info("early", (1, 6), None), first_part);
        stopped.stopped = Some("--minutes 1: time up after 4 boots".into());
        let rest = summarize(&info("rest", (5, 10), None), all.iter().filter(|r| r.seed >= 5).cloned().collect());
        let (run, results) = merge(&[stopped.clone(), rest.clone()], "merged".into(), Duration::from_secs(1)).unwrap();
        assert_eq!(results.len(), 10);
        assert_eq!(run.planned, (1, 10));
        let mut unstopped = stopped;
        unstopped.stopped = None;
        assert!(merge(&[unstopped, rest], "x".into(), Duration::ZERO).unwrap_err().to_string().contains("overlap"));

        // Refused: overlapping seeds, other bootargs, another kernel.
        assert!(merge(&[shards[0].clone(), shards[0].clone()], "x".into(), Duration::ZERO).is_err());
        let mut other = shards[1].clone();
        other.bootargs = "test=y".into();
        assert!(merge(&[shards[0].clone(), other], "x".into(), Duration::ZERO).unwrap_err().to_string().contains("bootargs"));
        let mut other = shards[1].clone();
        other.kernel = "crc32 1 size 1 git y".into();
        assert!(merge(&[shards[0].clone(), other], "x".into(), Duration::ZERO).unwrap_err().to_string().contains("same build"));
    }

    /// `runs merge --name`: the shards' summaries and logs become one run
    /// directory of that name, which a second merge will not overwrite.
    #[test]
    fn merge_dirs_writes_the_named_run() {
        let root = std::env::temp_dir().join(format!("xtask-merge-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let ctx = Ctx { root: root.clone(), verbose: false, machine: crate::qemu::Mac::G4 };
        let all = boots();
        let mut dirs = Vec::new();
        for (id, seeds) in [("a", 1..=5), ("b", 6..=10)] {
            let dir = ctx.path("target/stress").join(id);
            std::fs::create_dir_all(&dir).unwrap();
            let part: Vec<Record> = all.iter().filter(|r| seeds.contains(&r.seed)).cloned().collect();
            for r in &part {
                std::fs::write(dir.join(format!("seed-{}.log", r.seed)), format!("boot {}\n", r.seed)).unwrap();
            }
            finish(&info(id, (*seeds.start(), *seeds.end()), None), &dir, part).unwrap();
            dirs.push(dir);
        }
        assert_eq!(merge_dirs(&ctx, &dirs, Some("ab")).unwrap(), 0);
        let merged = load(&ctx, Path::new("ab")).unwrap();
        assert_eq!((merged.run_id.as_str(), merged.first_seed, merged.last_seed, merged.results.len()), ("ab", 1, 10, 10));
        let single = summarize(&info("ab", (1, 10), None), all);
        assert_eq!((&merged.counts, merged.signatures.len()), (&single.counts, single.signatures.len()));
        assert_eq!(std::fs::read_to_string(ctx.path("target/stress/ab/seed-7.log")).unwrap(), "boot 7\n");
        assert!(merge_dirs(&ctx, &dirs, Some("ab")).unwrap_err().to_string().contains("exists already"));
        assert!(merge_dirs(&ctx, &dirs, Some("../x")).unwrap_err().to_string().contains("plain directory name"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn compare_says_which_is_worse() {
        let bad = summarize(&info("a", (1, 40), None), (1..=40).map(|s| rec(s, Some("vref"), 1200 + s)).collect());
        let good = summarize(&info("b", (1, 40), None), (1..=40).map(|s| rec(s, None, 0)).collect());
        let text = compare(&bad, &good);
        assert!(text.contains("a (fixed) is worse: it fails more often than b (fixed) (p < 0.001)"), "{text}");
        assert!(text.contains("Fisher p = "), "{text}");
        let same = compare(&good, &good);
        assert!(same.contains("no difference in failure rate shown"), "{same}");
        let later = summarize(&info("c", (1, 40), None), (1..=40).map(|s| rec(s, Some("vref"), 5000 + s)).collect());
        assert!(compare(&bad, &later).contains("B panics later than A"), "{}", compare(&bad, &later));
    }
}
