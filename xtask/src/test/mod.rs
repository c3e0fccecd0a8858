//! `cargo xtask test`: host unit tests, then boots that check the kernel's
//! output and exit status. Add a QEMU test by adding a row to `TESTS`.

use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};

use crate::build;
use crate::ctx::{Ctx, Setup};

use crate::outcome;
use crate::qemu::{self, Boot, BootResult, Exit};

#[derive(clap::Args)]
pub struct Args {
    /// Run only these QEMU tests (and skip the host unit tests).
    names: Vec<String>,
    /// QEMU tests run at once.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Seconds before a boot counts as hung.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Print the QEMU tests' names, one per line, and run nothing.
    #[arg(long)]
    list: bool,
}

/// Every QEMU test's name, in the order they run (`--list`; doc/testing.md
/// has a row for each).
pub fn test_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = TESTS.iter().map(|t| t.name).collect();
    names.push(SIGNALS_TEST);
    names
}

mod checks;
mod table;

#[cfg(test)]
use checks::*;
use table::*;

/// The kernel's own `test NAME ... ok|FAILED` lines.
fn kernel_results(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("test ") && l.contains(" ... ")).collect()
}

/// One check of a boot's console text; `user` is the user's image it
/// mounted, if any.
fn check(c: &Check, text: &str, user: Option<&Path>) -> Result<(), String> {
    match c {
        Check::Has(s) => text.lines().any(|l| l.contains(s)).then_some(()).ok_or(format!("no line contains '{s}'")),
        Check::Lacks(s) => match text.lines().find(|l| l.contains(s)) {
            Some(l) => Err(format!("unexpected line '{l}'")),
            None => Ok(()),
        },
        Check::LineStarts(s) => text.lines().any(|l| l.starts_with(s)).then_some(()).ok_or(format!("no line starts with '{s}'")),
        Check::InOrder(needles) => outcome::check_order(text, needles),
        Check::Custom(f) => f(text),
        Check::WalkMatchesUser => match user {
            Some(image) => checks::walk_matches_file(text, image),
            None => Err("the test mounts no user's image to compare the walk with".into()),
        },
    }
}

/// What happened to one test.
struct Report {
    /// Empty when the test passed.
    failures: Vec<String>,
    text: String,
    stderr: String,
    log: PathBuf,
}

pub fn main(ctx: &Ctx, args: &Args) -> Result<i32> {
    if args.list {
        test_names().iter().for_each(|n| println!("{n}"));
        return Ok(0);
    }
    let tests: Vec<&QemuTest> = TESTS.iter().filter(|t| args.names.is_empty() || args.names.iter().any(|n| n == t.name)).collect();
    if let Some(n) = args.names.iter().find(|n| *n != SIGNALS_TEST && !TESTS.iter().any(|t| t.name == *n)) {
        bail!("no QEMU test named '{n}' (there are: {})", test_names().join(", "));
    }
    if args.names.is_empty() {
        // The ffs crate's tests make images with makefs: install or name
        // what is missing before they run, not after they fail.
        crate::deps::check(ctx)?;
        eprintln!("xtask: host unit tests");
        if let Err(e) = build::host_tests(ctx) {
            eprintln!("xtask: {e:#}");
            return Ok(1);
        }
    }
    let setup = crate::ctx::setup(ctx)?;
    let timeout = Duration::from_secs(args.timeout);
    println!("\nrunning {} QEMU tests, {} at a time", tests.len(), args.jobs.max(1));

    // Results come in any order; print them in table order.
    let mut pending: Vec<Option<Report>> = tests.iter().map(|_| None).collect();
    let mut next = 0;
    let (mut passed, mut failed) = (0, 0);
    qemu::parallel(
        tests.clone(),
        args.jobs,
        |t| run_test(ctx, &setup, t, timeout),
        |i, report| {
            pending[i] = Some(report);
            while let Some(r) = pending.get_mut(next).and_then(Option::take) {
                if r.failures.is_empty() {
                    passed += 1;
                } else {
                    failed += 1;
                }
                print_report(tests[next].name, &r);
                next += 1;
            }
            true
        },
    );
    // After the QEMU tests: it runs `cargo xtask run`, whose build would
    // restage the images under tests still booting.
    if args.names.is_empty() || args.names.iter().any(|n| n == SIGNALS_TEST) {
        let r = xtask_signals(ctx);
        if r.failures.is_empty() {
            passed += 1;
        } else {
            failed += 1;
        }
        print_report(SIGNALS_TEST, &r);
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 { 0 } else { 1 })
}

const SIGNALS_TEST: &str = "xtask-signals";

/// The pids of running QEMUs whose command line has `seed=N` (xtask puts
/// the seed first in -append).
fn qemu_pids_with_seed(seed: u64) -> Vec<i32> {
    let want = format!("seed={seed} ");
    qemu_cmdlines().into_iter().filter(|(_, c)| c.contains(&want)).map(|(pid, _)| pid).collect()
}

/// Every running QEMU for PowerPC, with its command line.
fn qemu_cmdlines() -> Vec<(i32, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let c = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let c = String::from_utf8_lossy(&c).replace('\0', " ");
            c.contains("qemu-system-ppc").then_some((pid, c))
        })
        .collect()
}

/// `cargo xtask run` killed by SIGTERM, SIGHUP and SIGKILL while the
/// guest runs: its QEMU must be gone within a few seconds each time.
fn xtask_signals(ctx: &Ctx) -> Report {
    let log = ctx.path("target/test/xtask-signals.log");
    let mut failures = Vec::new();
    let mut text = String::new();
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return Report { failures: vec![format!("no xtask binary: {e}")], text, stderr: String::new(), log },
    };
    for (k, (sig, name)) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGHUP, "SIGHUP"), (libc::SIGKILL, "SIGKILL")].into_iter().enumerate() {
        // A seed no other test uses, to find this QEMU by.
        let seed = 990_001 + k as u64;
        let out = match File::create(&log) {
            Ok(f) => f,
            Err(e) => return Report { failures: vec![format!("cannot create {}: {e}", log.display())], text, stderr: String::new(), log },
        };
        let child = std::process::Command::new(&exe)
            .args(["run", "--seed", &seed.to_string(), "--bootargs", "halt=0", "--timeout", "300"])
            .current_dir(&ctx.root)
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone().map(std::process::Stdio::from).unwrap_or_else(|_| std::process::Stdio::null()))
            .stderr(std::process::Stdio::from(out))
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{name}: cannot start {}: {e}", exe.display()));
                continue;
            }
        };
        // Wait for the guest's clock: QEMU is up and the kernel runs.
        let up = (0..600).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            std::fs::read_to_string(&log).is_ok_and(|t| t.contains("tick "))
        });
        // Looked for a few times: on a loaded machine one scan of /proc
        // once found nothing while the guest was printing.
        let before = (0..100)
            .map(|_| qemu_pids_with_seed(seed))
            .find(|p| {
                !p.is_empty() || {
                    std::thread::sleep(Duration::from_millis(100));
                    false
                }
            })
            .unwrap_or_default();
        // SAFETY: kill(2) on the pid of a child this function started and
        // has not reaped.
        unsafe { libc::kill(child.id() as i32, sig) };
        let _ = child.wait();
        let gone = (0..50).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            qemu_pids_with_seed(seed).is_empty()
        });
        let _ = writeln!(text, "{name}: guest up {up}, QEMU pids before {before:?}, gone after xtask died: {gone}");
        if !up || before.is_empty() {
            // What QEMUs there were, to tell a missed scan from a missing guest.
            let seen: Vec<String> = qemu_cmdlines().into_iter().map(|(pid, c)| format!("{pid}: {}", c.chars().take(160).collect::<String>())).collect();
            failures.push(format!("{name}: the guest never ran (see {}; QEMUs running: {seen:?})", log.display()));
        } else if !gone {
            failures.push(format!("{name}: QEMU {:?} still runs after xtask died", qemu_pids_with_seed(seed)));
            for pid in qemu_pids_with_seed(seed) {
                // SAFETY: kill(2) of a leftover QEMU found by its command line.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
    Report { failures, text, stderr: String::new(), log }
}

/// A short stress: the boots one after another, each judged by `rc.ok`.
fn run_race(ctx: &Ctx, setup: &Setup, t: &QemuTest, rc: RaceCheck, timeout: Duration) -> Report {
    let dir = ctx.path("target/test");
    let base = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_secs() % 1_000_000) * 100;
    let (mut good, mut notes, mut last) = (0, Vec::new(), (String::new(), String::new(), dir.join(format!("{}.log", t.name))));
    for i in 0..rc.boots {
        let seed = base + i;
        let log = dir.join(format!("{}-{i}.log", t.name));
        let b = Boot {
            image: setup.images.get(t.image),
            user_image: t.user.map(|u| setup.images.user(u)),
            seed,
            bootargs: t.bootargs,
            timeout: Some(timeout),
            gdb: false,
            console: false,
            log: &log,
            input: None,
            save_image: None,
        };
        match setup.machine_for(ctx, t.machine.unwrap_or(ctx.machine)).boot(ctx, &b) {
            Ok(r) => {
                let text = r.text();
                match (rc.ok)(r.exit, &text) {
                    Ok(()) => good += 1,
                    Err(e) => notes.push(format!("seed {seed}: {e}")),
                }
                last = (text, String::from_utf8_lossy(&r.stderr).into_owned(), log);
            }
            Err(e) => notes.push(format!("seed {seed}: {e:#}")),
        }
    }
    let mut failures = Vec::new();
    if good < rc.need {
        failures.push(format!("{good} of {} boots as expected, {} needed; {}", rc.boots, rc.need, notes.join("; ")));
    }
    Report { failures, text: last.0, stderr: last.1, log: last.2 }
}

fn run_test(ctx: &Ctx, setup: &Setup, t: &QemuTest, timeout: Duration) -> Report {
    let timeout_slow = if t.slow { timeout * 3 } else { timeout };
    if let Some(rc) = t.race {
        return run_race(ctx, setup, t, rc, timeout_slow);
    }
    let dir = ctx.path("target/test");
    let log = dir.join(format!("{}.log", t.name));
    let saved = dir.join(format!("{}.ffs", t.name));
    let boot = |log| {
        let b = Boot {
            image: setup.images.get(t.image),
            user_image: t.user.map(|u| setup.images.user(u)),
            seed: t.seed,
            bootargs: t.bootargs,
            timeout: Some(if t.slow { timeout * 3 } else { timeout }),
            gdb: false,
            console: false,
            log,
            input: t.input,
            save_image: t.saved_image.map(|_| saved.as_path()),
        };
        setup.machine_for(ctx, t.machine.unwrap_or(ctx.machine)).boot(ctx, &b)
    };
    let first = match boot(&log) {
        Ok(r) => r,
        Err(e) => return Report { failures: vec![format!("{e:#}")], text: String::new(), stderr: String::new(), log },
    };
    let text = first.text();
    let mut failures = Vec::new();
    if first.exit != Exit::Code(t.exit) {
        failures.push(format!("expected exit status {}, got {}", t.exit, first.exit));
    }
    let user = t.user.map(|u| setup.images.user(u));
    failures.extend(t.checks.iter().filter_map(|c| check(c, &text, user).err()));
    if let Some(f) = t.saved_image {
        match std::fs::read(&saved) {
            Ok(img) => failures.extend(f(&text, &img).err()),
            Err(e) => failures.push(format!("no saved image {}: {e}", saved.display())),
        }
    }
    if t.replay {
        let log2 = dir.join(format!("{}-2.log", t.name));
        match boot(&log2) {
            Ok(second) => failures.extend(replay_failure(&first, &second, &log2)),
            Err(e) => failures.push(format!("second boot: {e:#}")),
        }
    }
    Report { failures, text, stderr: String::from_utf8_lossy(&first.stderr).into_owned(), log }
}

fn replay_failure(a: &BootResult, b: &BootResult, log2: &std::path::Path) -> Option<String> {
    if a.exit != b.exit {
        return Some(format!("replay ended differently: {} then {}", a.exit, b.exit));
    }
    let at = a.output.iter().zip(&b.output).position(|(x, y)| x != y);
    if at.is_none() && a.output.len() == b.output.len() {
        return None;
    }
    // The time base and the instruction count agree only up to a fraction
    // of a time-base tick at the kernel's start, which was seen to vary on
    // a loaded machine: a history's microseconds may then differ by one.
    // The same events at the same milliseconds are the same replay.
    let (ma, mb) = (replay_text(&a.output), replay_text(&b.output));
    if ma == mb {
        return None;
    }
    let at = ma.bytes().zip(mb.bytes()).position(|(x, y)| x != y).unwrap_or(ma.len().min(mb.len()));
    Some(format!("replay differs from byte {at} beyond the history's microseconds (see {})", log2.display()))
}

/// A boot's console as replays compare it: the firmware's own boot time
/// (`boot: firmware to stub N ms`, OpenBIOS's, before the seed matters,
/// seen to differ by 2 ms) left out, and microseconds masked.
fn replay_text(out: &[u8]) -> String {
    let text = String::from_utf8_lossy(out);
    mask_micros(&text.lines().filter(|l| !l.starts_with("boot: firmware to stub ")).collect::<Vec<_>>().join("\n"))
}

/// `S.UUUUUU` times with their last three digits blanked.
fn mask_micros(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let six = i + 7 <= b.len() && b[i] == b'.' && b[i + 1..i + 7].iter().all(u8::is_ascii_digit) && b.get(i + 7).is_none_or(|c| !c.is_ascii_digit());
        if six {
            out.push_str(&text[i..i + 4]);
            out.push_str("xxx");
            i += 7;
        } else {
            let ch = text[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn print_report(name: &str, r: &Report) {
    let sub = kernel_results(&r.text);
    if r.failures.is_empty() {
        let note = if sub.is_empty() { String::new() } else { format!(" ({} kernel tests)", sub.len()) };
        println!("test {name} ... ok{note}");
    } else {
        println!("test {name} ... FAILED: {}", r.failures.join("; "));
    }
    for l in &sub {
        let l = l.strip_prefix("test ").unwrap_or(l);
        // A row that passes with a failing kernel test asked for that
        // failure (dup-alloc's creates on a damaged image).
        let expected = if r.failures.is_empty() && l.contains(" ... FAILED") { " (as this row expects)" } else { "" };
        println!("    {l}{expected}");
    }
    if !r.failures.is_empty() {
        println!("    --- last lines of {} ---", r.log.display());
        for l in outcome::tail(&r.text, 20) {
            println!("    | {l}");
        }
        for l in r.stderr.lines() {
            println!("    qemu: {l}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::BANNER;

    #[test]
    fn fuzz_lines_may_start_with_a_childs_bytes() {
        let log = "\0scfuzz: done: 6912 calls in 3398 ms\nscfuzz: the kernel survived\nhalted\n";
        assert_eq!(fuzz_survived(Exit::Code(0), log), Ok(6912));
        assert!(fuzz_survived(Exit::Code(0), "scfuzz: done: 5 calls\nhalted\n").is_err());
    }

    #[test]
    fn fixed2_needs_the_race_exercised() {
        let done = "init: race workload done: every check passed\n";
        let with = |c: &str| format!("{done}race: counters: {c}\nhalted\n");
        assert!(race_fixed2(
            Exit::Code(0),
            &with("50 creates, 3 recycles of vnodes with persisting objects, 9 pageouts from persisting objects, 0 uncache kills")
        )
        .is_ok());
        let idle = with("50 creates, 0 recycles of vnodes with persisting objects, 9 pageouts from persisting objects, 0 uncache kills");
        assert!(race_fixed2(Exit::Code(0), &idle).unwrap_err().contains("not exercised"));
        assert!(race_fixed2(Exit::Code(0), done).unwrap_err().contains("no 'race: counters:'"));
        assert!(race_keepopen_fixed2(Exit::Code(0), &idle).is_ok());
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = TESTS.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TESTS.len());
    }

    #[test]
    fn selftest_summary_needs_passes_and_no_failures() {
        assert_eq!(summary_line("test a ... ok\n12 passed, 0 failed\n"), Some((12, 0)));
        assert!(selftest_summary("12 passed, 0 failed\n").is_ok());
        assert!(selftest_summary("0 passed, 0 failed\n").is_err());
        assert!(selftest_summary("11 passed, 1 failed\n").is_err());
        assert!(selftest_summary("halted\n").is_err());
    }

    #[test]
    fn checks() {
        let text = "boot: error: ramdisk: no FFS superblock found\nboot: halted\n";
        assert!(ramdisk_error(text).is_ok());
        assert!(ramdisk_error("boot: error: /bsd missing\n").is_err());
        assert!(check(&Check::Lacks(BANNER), text, None).is_ok());
        assert!(check(&Check::Has("no FFS"), text, None).is_ok());
        assert!(check(&Check::LineStarts("halted"), text, None).is_err());
        assert!(check(&Check::WalkMatchesUser, "walk: /a 1 00000000\n", None).is_err());
        assert_eq!(kernel_results("test heap ... ok\ntest x ... FAILED: y\ntests ... no\n").len(), 2);
    }

    #[test]
    fn trace_count_needs_frames() {
        assert!(trace_count("panic: x\nf() at f+0x4\nend trace frame: 0x10, count: 1\n").is_ok());
        assert!(trace_count("panic: x\nend trace frame: 0x10, count: 0\n").is_err());
        assert!(trace_count("panic: x\n").is_err());
    }
}

#[cfg(test)]
mod story_tests {
    use super::*;

    #[test]
    fn microseconds_are_masked_and_nothing_else() {
        assert_eq!(mask_micros("  0.979504 tid 5 vgonel\n"), "  0.979xxx tid 5 vgonel\n");
        assert_eq!(mask_micros("from 0.048804 s) 1.5 12.1234567 ü"), "from 0.048xxx s) 1.5 12.1234567 ü");
        assert_ne!(mask_micros("0.979504 vgonel"), mask_micros("0.978504 vgonel"));
        let a = b"rd0: x\nboot: firmware to stub 472 ms, stub to kernel 27 ms\n  0.979504 vgonel\n";
        let b = b"rd0: x\nboot: firmware to stub 474 ms, stub to kernel 27 ms\n  0.979611 vgonel\n";
        assert_eq!(replay_text(a), replay_text(b));
        assert_ne!(replay_text(a), replay_text(b"rd0: y\nboot: firmware to stub 472 ms, stub to kernel 27 ms\n  0.979504 vgonel\n"));
    }

    fn log(name: &str) -> String {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).replace('\r', "")
    }

    /// Real race boots (one per policy, recorded by the kernel): each
    /// history tells P0 and then its policy's path, and the checks fail
    /// when a step is missing or out of order.
    /// The detector's halt line is read as (checks, persisting objects).
    #[test]
    fn p0_halt_line() {
        let t = "x\np0: no vnode reached P0 (499 checks, 33 found an unused persisting object with no modified page)\nhalted\n";
        assert_eq!(p0_counts(t), Ok((499, 33)));
        assert!(p0_saw_persisting(t).is_ok());
        assert!(p0_saw_persisting(&t.replace("33 found", "0 found")).is_err());
        assert!(p0_counts("p0: no vnode reached P0 (x)\n").is_err());
        assert!(p0_counts("halted\n").is_err());
    }

    /// The fuzz test's check passes a clean report and fails a panic, a
    /// short run and a call never made.
    #[test]
    fn fuzz_check() {
        let calls: String = (0..29).map(|i| format!(" c{i} {}", i + 1)).collect();
        let good = format!("scfuzz: done: 1600 calls in 9 ms\nscfuzz: calls:{calls}\nscfuzz: the kernel survived\n");
        assert_eq!(fuzz_ok(Exit::Code(0), &good), Ok(()));
        assert!(fuzz_ok(Exit::Code(1), &good).is_err());
        assert!(fuzz_ok(Exit::Code(0), &good.replace("1600 calls", "100 calls")).unwrap_err().contains("fewer"));
        assert!(fuzz_ok(Exit::Code(0), &good.replace(" c3 4", " c3 0")).unwrap_err().contains("c3"));
        assert!(fuzz_ok(Exit::Code(0), &good.replace("the kernel survived", "")).is_err());
    }

    #[test]
    fn histories_of_recorded_race_boots() {
        assert_eq!(race_original(Exit::Code(1), &log("race-original.log")), Ok(()));
        assert_eq!(race_vget_diff(Exit::Code(1), &log("race-vget-diff.log")), Ok(()));
        assert_eq!(race_fixed(Exit::Code(1), &log("race-fixed.log")), Ok(()));
        let t = log("race-original.log");
        assert!(story_in_order(&t, &["panic", "vref"]).is_err(), "out of order");
        let no_p0 = t.replace("uvn_detach persist dirty 5", "uvn_detach persist dirty 0");
        assert!(story_in_order(&no_p0, &["panic"]).is_err(), "no dirty page, no P0");
        assert!(race_original(Exit::Code(1), &log("race-vget-diff.log")).is_err());
        // fixed-2's old lock-count panic with keepopen (a boot of kernel
        // 4db62a8, before its uvn_put took the vnode lock) now fails.
        let lc = log("race-keepopen-fixed-2-lockcount.log");
        assert!(race_keepopen_fixed2(Exit::Code(1), &lc).is_err());
        assert!(race_keepopen_fixed2(Exit::Code(1), &log("race-original.log")).is_err());
    }

    #[test]
    fn a_window_entered_is_counted_not_just_printed() {
        let counters = "race: counters: 80 creates, 18 recycles of vnodes with persisting objects, 110 pageouts from persisting objects, 3 uncache kills, 7 syncs, 2 persisting objects synced, 41 truncates, 9 execs, 300 pageouts, 5000 PTE evictions, 1200 direct-map PTE evictions\n";
        let with = |n: u32| format!("{counters}race: windows: {n} pageout/terminate, 4 pageout/truncate, 5 sync/terminate\nhalted\n");
        assert_eq!(pageout_terminate_window_entered(&with(63)), Ok(()));
        assert!(pageout_terminate_window_entered(&with(0)).unwrap_err().contains("never entered"));
        assert!(pageout_terminate_window_entered("halted\n").is_err());
        let dying = |persisting: u32| {
            format!("race: counters: 5 creates, 1 recycles of vnodes with persisting objects, {persisting} pageouts from persisting objects, 0 uncache kills, 1 syncs, 0 persisting objects synced, 0 truncates, 0 execs, 1 pageouts, 0 PTE evictions, 0 direct-map PTE evictions\n")
        };
        assert_eq!(dying_pageout_not_persisting(&dying(0)), Ok(()));
        assert!(dying_pageout_not_persisting(&dying(1)).is_err());
    }
}
