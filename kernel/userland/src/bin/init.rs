//! /sbin/init: the first user process. Runs a short demo of processes
//! (fork, exec, wait, two CPU-bound processes sharing the CPU), then halts
//! the machine. `init race SEED SECS keepopen|close SYNC_MS
//! truncate|notruncate` (workload=race) runs the race workload instead: a
//! memory hog, three mapping writers (keeping their files open with
//! `race.keepopen=1`), two creators, a sync(2) caller if SYNC_MS > 0
//! (`race.sync=`) and a truncator with `race.truncate=1`, until the
//! deadline, then halts.
#![no_std]
#![no_main]

use userland::{execve, exit, fmt_u64, fork, getpid, mkdir, path_join, println, reboot, uptime_ms, wait4, wexitstatus, Args, RB_HALT};

fn spawn(path: &[u8], argv: &[&[u8]]) -> u32 {
    match fork() {
        Ok(0) => {
            let e = execve(path, argv);
            println!("init: exec {} failed: errno {e}", core::str::from_utf8(path).unwrap_or("?"));
            exit(127)
        }
        Ok(pid) => pid,
        Err(e) => {
            println!("init: fork failed: errno {e}");
            0
        }
    }
}

fn race(args: Args) -> i32 {
    let seed = args.get(2).unwrap_or("1");
    let secs: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(20);
    let keep: &[u8] = if args.get(4) == Some("keepopen") { b"keepopen\0" } else { b"close\0" };
    let sync_ms: u32 = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(0);
    let truncate = args.get(6) == Some("truncate");
    // The race directory, in `race.dir` (the root by default).
    let mut dirb = [0u8; 256];
    let dir = path_join(&mut dirb, &[args.get(7).unwrap_or("/").trim_end_matches('/').as_bytes(), b"/race"]);
    if let Err(e) = mkdir(dir, 0o755) {
        println!("init: mkdir {} failed: errno {e}", core::str::from_utf8(&dir[..dir.len() - 1]).unwrap_or("?"));
    }
    let mut seedz = [0u8; 24];
    let seedz = nul(&mut seedz, seed);
    let mut buf = [0u8; 24];
    let deadline = fmt_u64(&mut buf, uptime_ms() + secs * 1000);
    println!(
        "init: race workload for {secs} s: a memory hog, 3 mapwriters, 2 creators{}{}",
        if sync_ms > 0 { ", a syncer" } else { "" },
        if truncate { ", a truncator" } else { "" }
    );
    let mut n = 0;
    spawn(b"/bin/memhog\0", &[b"memhog\0", deadline]);
    n += 1;
    for id in [b"0\0", b"1\0", b"2\0"] {
        spawn(b"/bin/mapwriter\0", &[b"mapwriter\0", id, seedz, deadline, keep, dir]);
        n += 1;
    }
    for id in [b"0\0", b"1\0"] {
        spawn(b"/bin/creator\0", &[b"creator\0", id, seedz, deadline, dir]);
        n += 1;
    }
    if sync_ms > 0 {
        let mut msb = [0u8; 24];
        let ms = fmt_u64(&mut msb, sync_ms as u64);
        spawn(b"/bin/syncer\0", &[b"syncer\0", ms, deadline]);
        n += 1;
    }
    if truncate {
        spawn(b"/bin/truncator\0", &[b"truncator\0", b"0\0", seedz, deadline, dir]);
        n += 1;
    }
    let mut failed = 0;
    for _ in 0..n {
        match wait4(-1) {
            Ok((_, st)) if wexitstatus(st) == 0 && st & 0x7f == 0 => {}
            Ok((p, st)) => {
                println!("init: pid {p} failed with status {st:#x}");
                failed += 1;
            }
            Err(_) => break,
        }
    }
    if failed == 0 {
        println!("init: race workload done: every check passed");
    } else {
        println!("init: race workload: {failed} processes failed");
    }
    reboot(RB_HALT)
}

/// `s` with a NUL, in `buf` (an argument for execve).
fn nul<'a>(buf: &'a mut [u8; 24], s: &str) -> &'a [u8] {
    let n = s.len().min(23);
    buf[..n].copy_from_slice(&s.as_bytes()[..n]);
    buf[n] = 0;
    &buf[..=n]
}

fn main(args: Args) -> i32 {
    if args.get(1) == Some("race") {
        return race(args);
    }
    println!("init: pid {}, ppcbsd user mode", getpid());
    let pid = spawn(b"/bin/hello\0", &[b"hello\0", b"from\0", b"init\0"]);
    if let Ok((p, st)) = wait4(pid as i32) {
        println!("init: pid {p} exited with status {}", wexitstatus(st));
    }
    let mut buf = [0u8; 24];
    let deadline = fmt_u64(&mut buf, uptime_ms() + 600);
    println!("init: two CPU-bound processes until the same deadline");
    let a = spawn(b"/bin/hog\0", &[b"hog\0", b"A\0", deadline]);
    let b = spawn(b"/bin/hog\0", &[b"hog\0", b"B\0", deadline]);
    for _ in [a, b] {
        if let Ok((p, st)) = wait4(-1) {
            println!("init: pid {p} exited with status {}", wexitstatus(st));
        }
    }
    println!("init: demo done; halting");
    reboot(RB_HALT)
}

userland::entry!(main);
