//! `cargo xtask bench`: boot timings and the kernel's `bench:` lines.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::ctx::{Ctx, Setup};
use crate::qemu::{Boot, BootResult};

#[derive(Serialize, Debug, PartialEq)]
struct Metric {
    name: String,
    value: f64,
    unit: String,
}

#[derive(Serialize)]
struct BootRun {
    name: &'static str,
    bootargs: &'static str,
    exit: String,
    wall_ms: u64,
}

#[derive(Serialize)]
struct Bench {
    boots: Vec<BootRun>,
    metrics: Vec<Metric>,
    notes: Vec<String>,
}

/// The boots measured: (name, bootargs).
const BOOTS: [(&str, &str); 4] = [("demo", ""), ("selftest", "test=all"), ("bench", "test=bench"), ("fsstress", "workload=fsstress kern.maxvnodes=16")];

pub fn main(ctx: &Ctx) -> Result<i32> {
    let setup = crate::ctx::setup(ctx)?;
    let dir = ctx.path("target/bench");
    let mut bench = Bench { boots: Vec::new(), metrics: Vec::new(), notes: Vec::new() };
    for (name, bootargs) in BOOTS {
        let r = boot(ctx, &setup, &dir, name, bootargs)?;
        let text = r.text();
        bench.boots.push(BootRun { name, bootargs, exit: r.exit.to_string(), wall_ms: r.wall.as_millis() as u64 });
        bench.metrics.push(metric(&format!("{name} boot, wall"), r.wall.as_millis() as f64, "ms"));
        if name == "demo" {
            match boot_times(&text) {
                Some(t) => bench.metrics.extend(timing_metrics(t)),
                None => bench.notes.push("the demo boot printed no 'boot: firmware to stub …' line".into()),
            }
        }
        if name == "bench" && (text.contains("no test named") || text.contains("bootarg: ")) {
            bench.notes.push("the kernel has no test=bench yet; no bench: lines".into());
        }
        bench.metrics.extend(bench_lines(&text));
    }
    bench.metrics.extend(limit_shares(&bench.metrics));
    recorder_cost(ctx, &setup, &dir, &mut bench)?;
    schedule_cost(ctx, &setup, &dir, &mut bench)?;
    let md = markdown(&bench);
    print!("{md}");
    let json = serde_json::to_string_pretty(&bench).context("cannot encode bench.json")?;
    std::fs::write(dir.join("bench.json"), json).context("cannot write bench.json")?;
    std::fs::write(dir.join("bench.md"), md).context("cannot write bench.md")?;
    Ok(0)
}

/// The race workload under fixed-2 (no panic ends it early).
const RACE_FIXED2: &str = race_bootargs!("race.secs=10 uvn.policy=fixed-2");
/// Seeds of the recorder-cost boots, each run with the recorder on and off.
const RECORDER_SEEDS: [u64; 3] = [1, 2, 3];

/// What the vnode flight recorder costs: guest time per create of the race
/// workload with it on and off (same seeds), and how many events it takes.
fn recorder_cost(ctx: &Ctx, setup: &Setup, dir: &std::path::Path, bench: &mut Bench) -> Result<()> {
    let mut per_create = [Vec::new(), Vec::new()];
    let mut events_per_s = Vec::new();
    for seed in RECORDER_SEEDS {
        for (k, off) in [(0, ""), (1, " kern.vhist=0")] {
            let bootargs = format!("{RACE_FIXED2}{off}");
            let name = format!("race-recorder-{}-seed{seed}", if off.is_empty() { "on" } else { "off" });
            let r = boot_seed(ctx, setup, dir, &name, &bootargs, seed)?;
            let text = r.text();
            match race_creates(&text) {
                Some(n) if n > 0 => per_create[k].push(10e6 / n as f64),
                _ => bench.notes.push(format!("{name}: no creator lines (exit {})", r.exit)),
            }
            if let Some(ev) = text.lines().find_map(|l| l.strip_prefix("vfs: flight recorder: ")?.strip_suffix(" events recorded")?.parse::<f64>().ok()) {
                events_per_s.push(ev / 10.0);
            }
        }
    }
    if let (Some(on), Some(off)) = (mean(&per_create[0]), mean(&per_create[1])) {
        bench.metrics.push(metric("race fixed-2, guest time per create, recorder on", on, "us"));
        bench.metrics.push(metric("race fixed-2, guest time per create, recorder off", off, "us"));
        bench.metrics.push(metric("recorder cost per create", ((on / off - 1.0) * 1000.0).round() / 10.0, "%"));
    }
    if let Some(e) = mean(&events_per_s) {
        bench.metrics.push(metric("recorder events per guest second (race fixed-2)", e, "events/s"));
        // With one instruction a guest nanosecond (-icount shift=0): the
        // share of the guest's time the recorder takes in this workload.
        if let Some(per) = bench.metrics.iter().find(|m| m.name == "vhist_event").map(|m| m.value) {
            bench.metrics.push(metric("recorder share of guest time (race fixed-2)", (e * per / 1e9 * 100.0 * 1000.0).round() / 1000.0, "%"));
        }
    }
    Ok(())
}

/// The scheduling modes of doc/schedules.md, measured on the race workload
/// under fixed-2 (seeds 1–3, 10 s of guest time each).
const SCHED_MODES: [(&str, &str); 3] =
    [("default", ""), ("PCT depth 2", " sched.pct=2 sched.steps=100000"), ("PCT depth 2 and a second CPU", " sched.pct=2 sched.steps=100000 sched.mp=1")];

/// What PCT and the simulated second CPU cost: guest time per create (the
/// work a guest second holds) and wall time per boot.
fn schedule_cost(ctx: &Ctx, setup: &Setup, dir: &std::path::Path, bench: &mut Bench) -> Result<()> {
    for (mode, extra) in SCHED_MODES {
        let (mut per_create, mut wall) = (Vec::new(), Vec::new());
        for seed in RECORDER_SEEDS {
            let name = format!("race-sched-{}-seed{seed}", mode.replace(' ', "-"));
            let r = boot_seed(ctx, setup, dir, &name, &format!("{RACE_FIXED2}{extra}"), seed)?;
            match race_creates(&r.text()) {
                Some(n) if n > 0 => per_create.push(10e6 / n as f64),
                _ => bench.notes.push(format!("{name}: no creator lines (exit {})", r.exit)),
            }
            wall.push(r.wall.as_millis() as f64);
        }
        if let Some(m) = mean(&per_create) {
            bench.metrics.push(metric(&format!("race fixed-2, {mode}: guest time per create"), m, "us"));
        }
        if let Some(m) = mean(&wall) {
            bench.metrics.push(metric(&format!("race fixed-2, {mode}: wall time per 10 s boot"), m, "ms"));
        }
    }
    Ok(())
}

/// The rounded mean, None for no values.
fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| (v.iter().sum::<f64>() / v.len() as f64).round())
}

/// Files the race workload's creators made (their `creator N: M files
/// created` lines).
fn race_creates(text: &str) -> Option<u64> {
    let counts: Vec<u64> = text.lines().filter_map(|l| l.strip_prefix("creator ")?.split_once(": ")?.1.split_once(" files created")?.0.parse().ok()).collect();
    (!counts.is_empty()).then(|| counts.iter().sum())
}

fn boot(ctx: &Ctx, setup: &Setup, dir: &std::path::Path, name: &str, bootargs: &str) -> Result<BootResult> {
    boot_seed(ctx, setup, dir, name, bootargs, 1)
}

fn boot_seed(ctx: &Ctx, setup: &Setup, dir: &std::path::Path, name: &str, bootargs: &str, seed: u64) -> Result<BootResult> {
    let log = dir.join(format!("{name}.log"));
    let b = Boot {
        image: &setup.images.good,
        user_image: None,
        seed,
        bootargs,
        timeout: Some(Duration::from_secs(180)),
        gdb: false,
        console: false,
        input: None,
        save_image: None,
        log: &log,
    };
    setup.machine.boot(ctx, &b)
}

fn metric(name: &str, value: f64, unit: &str) -> Metric {
    Metric { name: name.to_owned(), value, unit: unit.to_owned() }
}

/// (firmware to stub, stub to kernel, kernel to first line) in ms.
fn boot_times(text: &str) -> Option<(u64, u64, u64)> {
    let rest = text.lines().find_map(|l| l.strip_prefix("boot: firmware to stub "))?;
    let (x, rest) = rest.split_once(" ms, stub to kernel ")?;
    let (y, rest) = rest.split_once(" ms, kernel to first line ")?;
    let z = rest.strip_suffix(" ms")?;
    Some((x.parse().ok()?, y.parse().ok()?, z.parse().ok()?))
}

/// Firmware-to-stub is what OpenBIOS alone takes to start a trivial ELF
/// (our stub); the ratio says how much the stub and kernel add to that.
fn timing_metrics((x, y, z): (u64, u64, u64)) -> Vec<Metric> {
    let total = x + y + z;
    let mut m = vec![
        metric("firmware to stub", x as f64, "ms"),
        metric("stub to kernel", y as f64, "ms"),
        metric("kernel to first line", z as f64, "ms"),
        metric("firmware to first kernel line", total as f64, "ms"),
    ];
    if x > 0 {
        m.push(metric("first kernel line / firmware to stub", (total as f64 / x as f64 * 100.0).round() / 100.0, "x"));
    }
    m
}

/// The file system's rates as a share of the guest's 4 KiB memory copy,
/// the physical limit of a ramdisk.
fn limit_shares(metrics: &[Metric]) -> Vec<Metric> {
    let get = |name: &str| metrics.iter().find(|m| m.name == name).map(|m| m.value);
    let Some(limit) = get("memcpy_4k").filter(|&v| v > 0.0) else { return Vec::new() };
    ["file_read", "fsstress_read", "fsstress_write"]
        .iter()
        .filter_map(|&n| get(n).map(|v| metric(&format!("{n} / memcpy_4k"), (v / limit * 10_000.0).round() / 100.0, "%")))
        .collect()
}

/// `bench: <name> <value> <unit>` lines.
fn bench_lines(text: &str) -> Vec<Metric> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.strip_prefix("bench: ")?.split_whitespace();
            let (name, value, unit) = (w.next()?, w.next()?.parse().ok()?, w.next()?);
            w.next().is_none().then(|| metric(name, value, unit))
        })
        .collect()
}

fn markdown(b: &Bench) -> String {
    let mut o = String::from("| metric | value | unit |\n| --- | ---: | --- |\n");
    for m in &b.metrics {
        let _ = writeln!(o, "| {} | {} | {} |", m.name, m.value, m.unit);
    }
    for n in &b.notes {
        let _ = writeln!(o, "\nNote: {n}");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_of_the_memory_copy_limit() {
        let m = [metric("memcpy_4k", 200_000.0, "KiB/s"), metric("file_read", 50_000.0, "KiB/s"), metric("fsstress_write", 1_000.0, "KiB/s")];
        let s = limit_shares(&m);
        assert_eq!(s, [metric("file_read / memcpy_4k", 25.0, "%"), metric("fsstress_write / memcpy_4k", 0.5, "%")]);
        assert!(limit_shares(&m[1..]).is_empty());
    }

    #[test]
    fn parses_boot_times() {
        let text = "rd0: ramdisk\nboot: firmware to stub 472 ms, stub to kernel 23 ms, kernel to first line 1 ms\n";
        assert_eq!(boot_times(text), Some((472, 23, 1)));
        assert_eq!(boot_times("boot: firmware to stub x ms\n"), None);
        let m = timing_metrics((400, 90, 10));
        assert_eq!(m[3], metric("firmware to first kernel line", 500.0, "ms"));
        assert_eq!(m[4].value, 1.25);
        assert_eq!(timing_metrics((0, 1, 1)).len(), 4);
    }

    #[test]
    fn counts_race_creates() {
        let text = "creator 0: 335 files created: ok\nmapwriter 1: 9 rounds\ncreator 1: 348 files created: ok\n";
        assert_eq!(race_creates(text), Some(683));
        assert_eq!(race_creates("creator 0: died\n"), None);
    }

    #[test]
    fn parses_bench_lines() {
        let text = "bench: syscall_rtt 1.5 us\nbench: broken\nbench: x notanumber us\nbench: a 1 b extra\nbench: fork 20 us\n";
        assert_eq!(bench_lines(text), [metric("syscall_rtt", 1.5, "us"), metric("fork", 20.0, "us")]);
    }
}
