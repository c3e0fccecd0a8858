//! /bin/hog LABEL DEADLINE_MS: burns CPU until the given uptime, counting
//! loop rounds. Two hogs started together both get rounds only if the clock
//! preempts them: without preemption the first would run to the deadline
//! before the second began. Exits 0 if it made progress, 1 if not.
#![no_std]
#![no_main]

use userland::{println, uptime_ms, Args};

fn main(args: Args) -> i32 {
    let label = args.get(1).unwrap_or("?");
    let deadline: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut rounds = 0u64;
    while uptime_ms() < deadline {
        rounds += 1;
        core::hint::black_box(rounds);
    }
    println!("hog {label}: {rounds} rounds before the deadline");
    i32::from(rounds == 0)
}

userland::entry!(main);
