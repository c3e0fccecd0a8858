//! /sbin/init: the first user process. Runs a short demo of processes
//! (fork, exec, wait, two CPU-bound processes sharing the CPU), then halts
//! the machine. `init race SEED SECS keepopen|close SYNC_MS
//! truncate|notruncate` (workload=race) runs the race workload instead: a
//! memory hog, three mapping writers (keeping their files open with
//! `race.keepopen=1`), two creators, a sync(2) caller if SYNC_MS > 0
//! (`race.sync=`) and a truncator with `race.truncate=1`, until the
//! deadline, then halts. `init field SEED SECS SYNC_MS DIR` (workload=field)
//! runs the field workload: it writes DIR/field's files, then a memory hog,
//! four exec loops running short jobs that map those files read-only and
//! shared, two creators and a syncer if SYNC_MS > 0, until the deadline.
#![no_std]
#![no_main]

use kcore::syscalls::{O_CREAT, O_TRUNC, O_WRONLY};
use userland::{
    close, execve, exit, field_byte, field_path, field_size, fmt_u64, fork, getpid, mkdir, open_mode, path_join, println, reboot, uptime_ms, wait4,
    wexitstatus, write_all, Args, FIELD_BIG, FIELD_FILES, RB_HALT,
};

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
    n += spawn_syncer(sync_ms, deadline);
    if truncate {
        spawn(b"/bin/truncator\0", &[b"truncator\0", b"0\0", seedz, deadline, dir]);
        n += 1;
    }
    finish("race", n)
}

/// The sync(2) caller if SYNC_MS > 0 (`race.sync`): how many started.
fn spawn_syncer(sync_ms: u32, deadline: &[u8]) -> usize {
    if sync_ms == 0 {
        return 0;
    }
    let mut msb = [0u8; 24];
    let ms = fmt_u64(&mut msb, sync_ms as u64);
    spawn(b"/bin/syncer\0", &[b"syncer\0", ms, deadline]);
    1
}

/// Waits for a workload's `n` children, says whether every check
/// passed, and halts.
fn finish(workload: &str, n: usize) -> ! {
    let failed = reap(n);
    if failed == 0 {
        println!("init: {workload} workload done: every check passed");
    } else {
        println!("init: {workload} workload: {failed} processes failed");
    }
    reboot(RB_HALT)
}

/// Waits for `n` children; how many failed.
fn reap(n: usize) -> usize {
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
    failed
}

/// The field workload's viewers: with the big file's 1,024 pages each,
/// their mappings are 8,192 page-table entries, a quarter of a 24 MiB
/// machine's table; with the 970's direct map beside them, groups
/// overflow now and then and entries are evicted.
const VIEWERS: usize = 8;

fn field(args: Args) -> i32 {
    let seed = args.get(2).unwrap_or("1");
    let secs: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(20);
    let sync_ms: u32 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(0);
    let top = args.get(5).unwrap_or("/").trim_end_matches('/');
    let mut db = [0u8; 256];
    let _ = mkdir(path_join(&mut db, &[top.as_bytes(), b"/field"]), 0o755);
    let _ = mkdir(path_join(&mut db, &[top.as_bytes(), b"/race"]), 0o755);
    for k in (0..FIELD_FILES).chain([FIELD_BIG]) {
        let mut pb = [0u8; 256];
        let data: [u8; 4096] = [0; 4096];
        let ok = open_mode(field_path(&mut pb, top, k), O_CREAT | O_TRUNC | O_WRONLY, 0o644).is_ok_and(|fd| {
            let mut done = 0;
            let mut ok = true;
            while ok && done < field_size(k) {
                let mut chunk = data;
                chunk.iter_mut().enumerate().for_each(|(i, b)| *b = field_byte(k, done + i));
                ok = write_all(fd, &chunk).is_ok();
                done += chunk.len();
            }
            close(fd).is_ok() && ok
        });
        if !ok {
            println!("init: writing field file {k} FAILED");
            reboot(RB_HALT)
        }
    }
    let mut seedz = [0u8; 24];
    let seedz = nul(&mut seedz, seed);
    let mut tz = [0u8; 256];
    let topz = path_join(&mut tz, &[if top.is_empty() { b"/" } else { top.as_bytes() }]);
    let mut rz = [0u8; 256];
    let racez = path_join(&mut rz, &[top.as_bytes(), b"/race"]);
    let mut buf = [0u8; 24];
    let deadline = fmt_u64(&mut buf, uptime_ms() + secs * 1000);
    println!(
        "init: field workload for {secs} s: a memory hog, {VIEWERS} viewers of a 4 MiB file, 4 exec loops of short jobs mapping files read-only, 2 creators, a mapping writer{}",
        if sync_ms > 0 { ", a syncer" } else { "" }
    );
    let mut n = 0;
    spawn(b"/bin/memhog\0", &[b"memhog\0", deadline]);
    n += 1;
    for _ in 0..VIEWERS {
        spawn(b"/usr/bin/job0\0", &[b"viewer\0", b"view\0", deadline, topz]);
        n += 1;
    }
    for id in [b"0\0", b"1\0", b"2\0", b"3\0"] {
        spawn(b"/bin/execer\0", &[b"execer\0", id, seedz, deadline, topz]);
        n += 1;
    }
    for id in [b"0\0", b"1\0"] {
        spawn(b"/bin/creator\0", &[b"creator\0", id, seedz, deadline, racez]);
        n += 1;
    }
    // Dirty pages for the pagedaemon to write: a mapping writer.
    spawn(b"/bin/mapwriter\0", &[b"mapwriter\0", b"0\0", seedz, deadline, b"close\0", racez]);
    n += 1;
    n += spawn_syncer(sync_ms, deadline);
    finish("field", n)
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
    if args.get(1) == Some("field") {
        return field(args);
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
