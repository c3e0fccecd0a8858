//! `cargo xtask stress`: boot many times with consecutive seeds, classify
//! each boot and group the panics by signature.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::outcome::{self, Outcome};
use crate::qemu::{self, Boot};
use crate::{shell_quote, Ctx, Setup};

/// The race workload with P0 arising through real paths: small memory for
/// pressure, few vnodes so creates recycle, the mmap hack off.
pub const RACE_BOOTARGS: &str = "workload=race physmem=32M kern.maxvnodes=32 kern.bufcachepercent=1 uvm.mmap_uncache=0 race.secs=10";

#[derive(clap::Args)]
pub struct Args {
    /// Number of boots.
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
    #[arg(long, default_value = RACE_BOOTARGS)]
    bootargs: String,
    /// The vnode pager's policy (original, vget-diff, fixed, fixed-2),
    /// passed as `uvn.policy=P`.
    #[arg(long)]
    policy: Option<String>,
    /// Boot nothing: combine these runs' summary.json (directories under
    /// target/stress) into one table, one row per run, printed and written
    /// to target/stress/table.md ("other" counts CHECK-FAILED, NO-OUTPUT
    /// and QEMU-ERROR boots).
    #[arg(long, num_args = 1..)]
    table: Vec<PathBuf>,
}

/// One markdown table of several runs (the README's outcome table).
fn table(ctx: &Ctx, runs: &[PathBuf]) -> Result<i32> {
    let mut o = String::from(
        "| policy | bootargs | boots | PASS | PANIC | HANG | other | signatures (count) | time to panic, median / p90 (wall) |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |\n",
    );
    for run in runs {
        let dir = if run.is_absolute() || run.exists() { run.clone() } else { ctx.path("target/stress").join(run) };
        let path = dir.join("summary.json");
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{} is not a stress summary", path.display()))?;
        let n = |k: &str| v["counts"][k].as_u64().unwrap_or(0);
        let bootargs = v["bootargs"].as_str().unwrap_or("");
        let policy = bootargs.split_whitespace().find_map(|w| w.strip_prefix("uvn.policy=")).unwrap_or("fixed");
        let rest: Vec<&str> = bootargs.split_whitespace().filter(|w| !w.starts_with("uvn.policy=")).collect();
        let sigs: Vec<String> = v["signatures"]
            .as_array()
            .map(|a| a.iter().map(|g| format!("`{}` ({})", g["signature"].as_str().unwrap_or("?").replace('|', "\\|"), g["count"])).collect())
            .unwrap_or_default();
        let t = &v["wall_to_panic"];
        let ttp = if t.is_null() { "—".to_owned() } else { format!("{} / {} ms", t["median_ms"], t["p90_ms"]) };
        let _ = writeln!(
            o,
            "| {policy} | `{}` | {} | {} | {} | {} | {} | {} | {ttp} |",
            rest.join(" "),
            v["boots"],
            n("PASS"),
            n("PANIC"),
            n("HANG"),
            n("CHECK-FAILED") + n("NO-OUTPUT") + n("QEMU-ERROR"),
            if sigs.is_empty() { "—".to_owned() } else { sigs.join("; ") }
        );
    }
    print!("{o}");
    let out = ctx.path("target/stress/table.md");
    std::fs::write(&out, &o).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(0)
}

/// One boot of the run.
#[derive(Serialize)]
struct Record {
    seed: u64,
    outcome: Outcome,
    wall_ms: u64,
    /// Virtual time at the end of the log, from the kernel's tick lines.
    virtual_ms: Option<u64>,
    signature: Option<String>,
    /// Why a QEMU-ERROR happened (QEMU's messages or the spawn error).
    error: Option<String>,
}

#[derive(Serialize)]
struct Signature {
    signature: String,
    count: usize,
    first_seed: u64,
    replay: String,
    /// The first boot's drawn history (`explain/seed-N.html`), if its log
    /// has one.
    explain: Option<String>,
}

#[derive(Serialize)]
struct Percentiles {
    /// "virtual" (from the kernel's tick lines) or "wall".
    source: &'static str,
    median_ms: u64,
    p90_ms: u64,
}

#[derive(Serialize)]
struct Summary {
    run_id: String,
    boots: u64,
    jobs: usize,
    first_seed: u64,
    bootargs: String,
    wall_s: f64,
    boots_per_s: f64,
    counts: BTreeMap<&'static str, usize>,
    signatures: Vec<Signature>,
    time_to_panic: Option<Percentiles>,
    /// Wall time of the boots that panicked (QEMU start to exit).
    wall_to_panic: Option<Percentiles>,
    results: Vec<Record>,
}

pub fn main(ctx: &Ctx, args: &Args) -> Result<i32> {
    if !args.table.is_empty() {
        return table(ctx, &args.table);
    }
    let setup = crate::setup(ctx)?;
    let bootargs = qemu::with_policy(&args.bootargs, args.policy.as_deref());
    let (run_id, dir) = run_dir(ctx)?;
    let timeout = Duration::from_secs(args.timeout);

    let pb = ProgressBar::new(args.boots);
    pb.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed_precise} {msg}")
            .context("bad progress bar template")?,
    );
    let start = Instant::now();
    let mut counts: BTreeMap<Outcome, usize> = BTreeMap::new();
    let mut results = Vec::with_capacity(args.boots as usize);
    let seeds: Vec<u64> = (0..args.boots).map(|i| args.seed + i).collect();
    qemu::parallel(
        seeds,
        args.jobs,
        |seed| boot_one(ctx, &setup, &dir, seed, &bootargs, timeout),
        |_, r| {
            *counts.entry(r.outcome).or_default() += 1;
            let msg: Vec<String> = counts
                .iter()
                .map(|(o, n)| format!("{} {n}", o.name()))
                .collect();
            pb.set_message(msg.join(" "));
            pb.inc(1);
            results.push(r);
        },
    );
    pb.finish();
    results.sort_by_key(|r| r.seed);

    let wall = start.elapsed();
    let mut summary = summarize(run_id, args, &bootargs, wall, results);
    for g in &mut summary.signatures {
        let log = dir.join(format!("seed-{}.log", g.first_seed));
        if let Ok((_, html)) = crate::explain::explain_file(&log, None, &dir.join("explain")) {
            g.explain = html.strip_prefix(&dir).ok().map(|p| p.display().to_string());
        }
    }
    let text = report(&summary, &dir, &ctx.root);
    print!("{text}");
    std::fs::write(dir.join("summary.md"), markdown(&summary))
        .context("cannot write summary.md")?;
    let json = serde_json::to_string_pretty(&summary).context("cannot encode summary.json")?;
    std::fs::write(dir.join("summary.json"), json).context("cannot write summary.json")?;
    Ok(0)
}

fn boot_one(
    ctx: &Ctx,
    setup: &Setup,
    dir: &Path,
    seed: u64,
    bootargs: &str,
    timeout: Duration,
) -> Record {
    let log = dir.join(format!("seed-{seed}.log"));
    let b = Boot {
        image: &setup.images.good,
        seed,
        bootargs,
        timeout: Some(timeout),
        gdb: false,
        console: false,
        input: None,
        save_image: None,
        log: &log,
    };
    match setup.machine.boot(ctx, &b) {
        Ok(r) => {
            let text = r.text();
            let outcome = outcome::classify(r.exit, &text);
            let error = (outcome == Outcome::QemuError)
                .then(|| format!("{}: {}", r.exit, String::from_utf8_lossy(&r.stderr).trim()));
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
            }
        }
        Err(e) => Record {
            seed,
            outcome: Outcome::QemuError,
            wall_ms: 0,
            virtual_ms: None,
            signature: None,
            error: Some(format!("{e:#}")),
        },
    }
}

/// `target/stress/<UTC timestamp>`, and `target/stress/latest` pointing at it.
fn run_dir(ctx: &Ctx) -> Result<(String, PathBuf)> {
    let base = ctx.path("target/stress");
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let stamp = utc_stamp(secs);
    // Two runs in the same second get -2, -3, …
    let (id, dir) = (1..)
        .map(|n| {
            if n == 1 {
                stamp.clone()
            } else {
                format!("{stamp}-{n}")
            }
        })
        .map(|id| (id.clone(), base.join(id)))
        .find(|(_, d)| !d.exists())
        .context("no free run directory name")?;
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let latest = base.join("latest");
    if latest.symlink_metadata().is_ok() {
        std::fs::remove_file(&latest)
            .with_context(|| format!("cannot replace {}", latest.display()))?;
    }
    std::os::unix::fs::symlink(&id, &latest)
        .with_context(|| format!("cannot create {}", latest.display()))?;
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
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The value at or below which `p` percent of `sorted` lie (nearest rank).
fn percentile(sorted: &[u64], p: u64) -> Option<u64> {
    let rank = (sorted.len() as u64 * p).div_ceil(100).max(1);
    sorted.get(rank as usize - 1).copied()
}

fn replay_command(seed: u64, bootargs: &str) -> String {
    let mut cmd = format!("cargo xtask run --seed {seed}");
    if !bootargs.is_empty() {
        let _ = write!(cmd, " --bootargs {}", shell_quote(bootargs));
    }
    cmd
}

fn summarize(
    run_id: String,
    args: &Args,
    bootargs: &str,
    wall: Duration,
    results: Vec<Record>,
) -> Summary {
    let counts = Outcome::ALL
        .iter()
        .map(|o| (o.name(), results.iter().filter(|r| r.outcome == *o).count()))
        .collect();
    let mut groups: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
    for r in &results {
        if let Some(sig) = &r.signature {
            let g = groups.entry(sig).or_insert((0, r.seed));
            g.0 += 1;
            g.1 = g.1.min(r.seed);
        }
    }
    let mut signatures: Vec<Signature> = groups
        .into_iter()
        .map(|(sig, (count, first_seed))| Signature {
            signature: sig.to_owned(),
            count,
            first_seed,
            replay: replay_command(first_seed, bootargs),
            explain: None,
        })
        .collect();
    signatures.sort_by(|a, b| b.count.cmp(&a.count).then(a.first_seed.cmp(&b.first_seed)));

    let panics: Vec<&Record> = results
        .iter()
        .filter(|r| r.outcome == Outcome::Panic)
        .collect();
    let (source, mut times): (_, Vec<u64>) =
        if !panics.is_empty() && panics.iter().all(|r| r.virtual_ms.is_some()) {
            (
                "virtual",
                panics.iter().filter_map(|r| r.virtual_ms).collect(),
            )
        } else {
            ("wall", panics.iter().map(|r| r.wall_ms).collect())
        };
    times.sort_unstable();
    let time_to_panic =
        percentile(&times, 50)
            .zip(percentile(&times, 90))
            .map(|(median_ms, p90_ms)| Percentiles {
                source,
                median_ms,
                p90_ms,
            });
    let mut walls: Vec<u64> = panics.iter().map(|r| r.wall_ms).collect();
    walls.sort_unstable();
    let wall_to_panic = percentile(&walls, 50)
        .zip(percentile(&walls, 90))
        .map(|(median_ms, p90_ms)| Percentiles { source: "wall", median_ms, p90_ms });
    let wall_s = wall.as_secs_f64();
    Summary {
        run_id,
        boots: args.boots,
        jobs: args.jobs,
        first_seed: args.seed,
        bootargs: bootargs.to_owned(),
        wall_s,
        boots_per_s: if wall_s > 0.0 {
            results.len() as f64 / wall_s
        } else {
            0.0
        },
        counts,
        signatures,
        time_to_panic,
        wall_to_panic,
        results,
    }
}

/// The terminal summary.
fn report(s: &Summary, dir: &Path, root: &Path) -> String {
    let mut o = String::new();
    let last = s.first_seed + s.boots.saturating_sub(1);
    let _ = writeln!(
        o,
        "\nstress {}: {} boots, {} at a time, seeds {}..={}, bootargs \"{}\"",
        s.run_id, s.boots, s.jobs, s.first_seed, last, s.bootargs
    );
    for o_ in Outcome::ALL {
        let n = s.counts.get(o_.name()).copied().unwrap_or(0);
        let first = s
            .results
            .iter()
            .find(|r| r.outcome == o_)
            .map(|r| format!("  (first seed {})", r.seed));
        let _ = writeln!(
            o,
            "  {:<11}{n:>6}{}",
            o_.name(),
            if o_ == Outcome::Pass {
                String::new()
            } else {
                first.unwrap_or_default()
            }
        );
    }
    if !s.signatures.is_empty() {
        let _ = writeln!(
            o,
            "panic and deadlock signatures:\n  {:>5}  {:>10}  signature",
            "count", "first seed"
        );
        for g in &s.signatures {
            let _ = writeln!(o, "  {:>5}  {:>10}  {}", g.count, g.first_seed, g.signature);
        }
    }
    let _ = writeln!(o, "wall {:.1} s, {:.2} boots/s", s.wall_s, s.boots_per_s);
    let wall_too = s.time_to_panic.as_ref().is_some_and(|t| t.source != "wall");
    for t in [&s.time_to_panic, if wall_too { &s.wall_to_panic } else { &None }].into_iter().flatten() {
        let _ = writeln!(
            o,
            "time to panic ({}): median {} ms, p90 {} ms",
            t.source, t.median_ms, t.p90_ms
        );
    }
    if !s.signatures.is_empty() {
        let _ = writeln!(o, "replay:");
        for g in &s.signatures {
            let _ = writeln!(o, "  {}", g.replay);
        }
        for g in s.signatures.iter().filter_map(|g| g.explain.as_ref()) {
            let _ = writeln!(o, "explained: {}", dir.join(g).strip_prefix(root).unwrap_or(&dir.join(g)).display());
        }
    }
    for r in s.results.iter().filter(|r| r.error.is_some()).take(3) {
        let _ = writeln!(
            o,
            "QEMU error, seed {}: {}",
            r.seed,
            r.error.as_deref().unwrap_or_default()
        );
    }
    let _ = writeln!(
        o,
        "logs and summary: {}",
        dir.strip_prefix(root).unwrap_or(dir).display()
    );
    o
}

fn markdown(s: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# Stress run {}\n", s.run_id);
    let _ = writeln!(
        o,
        "{} boots, {} at a time, first seed {}, bootargs `{}`; wall {:.1} s, {:.2} boots/s.\n",
        s.boots, s.jobs, s.first_seed, s.bootargs, s.wall_s, s.boots_per_s
    );
    let _ = writeln!(o, "| outcome | count |\n| --- | ---: |");
    for name in Outcome::ALL.map(Outcome::name) {
        let _ = writeln!(o, "| {name} | {} |", s.counts.get(name).copied().unwrap_or(0));
    }
    if !s.signatures.is_empty() {
        let _ = writeln!(
            o,
            "\n| count | first seed | signature | replay | explanation |\n| ---: | ---: | --- | --- | --- |"
        );
        for g in &s.signatures {
            let explain = g.explain.as_ref().map_or_else(|| "—".to_owned(), |p| format!("[seed {}]({p})", g.first_seed));
            let _ = writeln!(
                o,
                "| {} | {} | `{}` | `{}` | {explain} |",
                g.count,
                g.first_seed,
                g.signature.replace('|', "\\|"),
                g.replay
            );
        }
    }
    let wall_too = s.time_to_panic.as_ref().is_some_and(|t| t.source != "wall");
    for t in [&s.time_to_panic, if wall_too { &s.wall_to_panic } else { &None }].into_iter().flatten() {
        let _ = writeln!(
            o,
            "\nTime to panic ({}): median {} ms, p90 {} ms.",
            t.source, t.median_ms, t.p90_ms
        );
    }
    o
}

#[cfg(test)]
mod tests {
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
    fn percentiles() {
        let v: Vec<u64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&v, 90), Some(9));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn replay_commands() {
        assert_eq!(replay_command(3, ""), "cargo xtask run --seed 3");
        assert_eq!(
            replay_command(3, "test=panic-random uvn.policy=fixed"),
            "cargo xtask run --seed 3 --bootargs 'test=panic-random uvn.policy=fixed'"
        );
    }

    #[test]
    fn grouping() {
        let rec = |seed, sig: Option<&str>| Record {
            seed,
            outcome: if sig.is_some() {
                Outcome::Panic
            } else {
                Outcome::Pass
            },
            wall_ms: seed * 100,
            virtual_ms: None,
            signature: sig.map(str::to_owned),
            error: None,
        };
        let args = Args {
            boots: 5,
            jobs: 2,
            seed: 1,
            timeout: 60,
            bootargs: String::new(),
            policy: None,
            table: Vec::new(),
        };
        let results = vec![
            rec(5, Some("b")),
            rec(2, Some("a")),
            rec(4, Some("b")),
            rec(1, None),
            rec(3, Some("b")),
        ];
        let s = summarize(
            "id".into(),
            &args,
            "test=x",
            Duration::from_secs(2),
            results,
        );
        assert_eq!(s.counts["PANIC"], 4);
        assert_eq!(s.counts["PASS"], 1);
        assert_eq!(
            (
                s.signatures[0].signature.as_str(),
                s.signatures[0].count,
                s.signatures[0].first_seed
            ),
            ("b", 3, 3)
        );
        assert_eq!(
            s.signatures[1].replay,
            "cargo xtask run --seed 2 --bootargs test=x"
        );
        let t = s.time_to_panic.expect("panics");
        assert_eq!((t.source, t.median_ms, t.p90_ms), ("wall", 300, 500));
    }
}
