//! /usr/bin/jobN SEED DIR (copies of one program, `fieldjob`, under four
//! names, so that four programs' texts come and go): one short-lived job
//! of the field workload (workload=field). It maps one of DIR/field's
//! files read-only and shared and reads every page through the mapping,
//! reads another with read(2), checks what it saw, and exits. Quiet unless
//! a check fails: the execer that ran it counts.
//!
//! `fieldjob view DEADLINE_MS DIR` is a viewer instead: it keeps DIR/field's
//! big file mapped read-only and shared and reads every page of it, over
//! and over, until the deadline, as long-lived programs keep libraries and
//! fonts mapped: each viewer's mappings are page-table entries of its own.
#![no_std]
#![no_main]

use kcore::syscalls::{MAP_SHARED, O_RDONLY, PROT_READ};
use userland::{close, field_byte, field_path, field_size, mmap_file, munmap, open, println, read, sleep_ms, uptime_ms, Args, FIELD_BIG, FIELD_FILES};

fn view(deadline: u64, dir: &str) -> i32 {
    let mut pb = [0u8; 256];
    let Ok(fd) = open(field_path(&mut pb, dir, FIELD_BIG), O_RDONLY) else {
        println!("viewer: open of the big field file FAILED");
        return 1;
    };
    let len = field_size(FIELD_BIG);
    let Ok(p) = mmap_file(len, PROT_READ, MAP_SHARED, fd, 0) else {
        println!("viewer: mmap of the big field file FAILED");
        return 1;
    };
    let (mut sweeps, mut bad) = (0u32, 0u32);
    while uptime_ms() < deadline {
        for off in (0..len).step_by(4096) {
            // SAFETY: off < len, inside the mapping.
            if unsafe { p.add(off).read_volatile() } != field_byte(FIELD_BIG, off) {
                bad += 1;
            }
        }
        sweeps += 1;
        sleep_ms(100);
    }
    let _ = munmap(p, len);
    let _ = close(fd);
    if bad > 0 {
        println!("viewer: {bad} pages of the big field file differ: FAILED");
        return 1;
    }
    println!("viewer: {sweeps} sweeps of the big field file: ok");
    0
}

fn main(args: Args) -> i32 {
    if args.get(1) == Some("view") {
        return view(args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0), args.get(3).unwrap_or("/"));
    }
    let seed: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let dir = args.get(2).unwrap_or("/");
    let k = (seed % FIELD_FILES as u64) as u32;
    let mut pb = [0u8; 256];
    let Ok(fd) = open(field_path(&mut pb, dir, k), O_RDONLY) else {
        println!("fieldjob: open of field file {k} FAILED");
        return 1;
    };
    let len = field_size(k);
    let Ok(p) = mmap_file(len, PROT_READ, MAP_SHARED, fd, 0) else {
        println!("fieldjob: mmap of field file {k} FAILED");
        return 1;
    };
    let mut bad = 0;
    for off in (0..len).step_by(4096).chain([len - 1]) {
        // SAFETY: off < len, inside the mapping just made.
        if unsafe { p.add(off).read_volatile() } != field_byte(k, off) {
            bad += 1;
        }
    }
    let _ = munmap(p, len);
    let _ = close(fd);
    let j = (k + 3) % FIELD_FILES;
    let Ok(fd) = open(field_path(&mut pb, dir, j), O_RDONLY) else {
        println!("fieldjob: open of field file {j} FAILED");
        return 1;
    };
    let mut buf = [0u8; 4096];
    let mut off = 0;
    while let Ok(n) = read(fd, &mut buf) {
        if n == 0 {
            break;
        }
        bad += buf[..n].iter().enumerate().filter(|&(i, &b)| b != field_byte(j, off + i)).count();
        off += n;
    }
    let _ = close(fd);
    if bad > 0 || off != field_size(j) {
        println!("fieldjob: field files {k} and {j}: {bad} bytes differ, {off} bytes read: FAILED");
        return 1;
    }
    0
}

userland::entry!(main);
