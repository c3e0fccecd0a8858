//! `cargo xtask bench`: boot timings and the kernel's `bench:` lines.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::qemu::{Boot, BootResult};
use crate::{Ctx, Setup};

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
const BOOTS: [(&str, &str); 4] = [
    ("demo", ""),
    ("selftest", "test=all"),
    ("bench", "test=bench"),
    ("fsstress", "workload=fsstress kern.maxvnodes=16"),
];

pub fn main(ctx: &Ctx) -> Result<i32> {
    let setup = crate::setup(ctx)?;
    let dir = ctx.path("target/bench");
    let mut bench = Bench {
        boots: Vec::new(),
        metrics: Vec::new(),
        notes: Vec::new(),
    };
    for (name, bootargs) in BOOTS {
        let r = boot(ctx, &setup, &dir, name, bootargs)?;
        let text = r.text();
        bench.boots.push(BootRun {
            name,
            bootargs,
            exit: r.exit.to_string(),
            wall_ms: r.wall.as_millis() as u64,
        });
        bench.metrics.push(metric(
            &format!("{name} boot, wall"),
            r.wall.as_millis() as f64,
            "ms",
        ));
        if name == "demo" {
            match boot_times(&text) {
                Some(t) => bench.metrics.extend(timing_metrics(t)),
                None => bench
                    .notes
                    .push("the demo boot printed no 'boot: firmware to stub …' line".into()),
            }
        }
        if name == "bench" && (text.contains("no test named") || text.contains("bootarg: ")) {
            bench
                .notes
                .push("the kernel has no test=bench yet; no bench: lines".into());
        }
        bench.metrics.extend(bench_lines(&text));
    }
    let md = markdown(&bench);
    print!("{md}");
    let json = serde_json::to_string_pretty(&bench).context("cannot encode bench.json")?;
    std::fs::write(dir.join("bench.json"), json).context("cannot write bench.json")?;
    std::fs::write(dir.join("bench.md"), md).context("cannot write bench.md")?;
    Ok(0)
}

fn boot(
    ctx: &Ctx,
    setup: &Setup,
    dir: &std::path::Path,
    name: &str,
    bootargs: &str,
) -> Result<BootResult> {
    let log = dir.join(format!("{name}.log"));
    let b = Boot {
        image: &setup.images.good,
        seed: 1,
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
    Metric {
        name: name.to_owned(),
        value,
        unit: unit.to_owned(),
    }
}

/// (firmware to stub, stub to kernel, kernel to first line) in ms.
fn boot_times(text: &str) -> Option<(u64, u64, u64)> {
    let rest = text
        .lines()
        .find_map(|l| l.strip_prefix("boot: firmware to stub "))?;
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
        m.push(metric(
            "first kernel line / firmware to stub",
            (total as f64 / x as f64 * 100.0).round() / 100.0,
            "x",
        ));
    }
    m
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
    fn parses_bench_lines() {
        let text = "bench: syscall_rtt 1.5 us\nbench: broken\nbench: x notanumber us\nbench: a 1 b extra\nbench: fork 20 us\n";
        assert_eq!(
            bench_lines(text),
            [metric("syscall_rtt", 1.5, "us"), metric("fork", 20.0, "us")]
        );
    }
}
