//! /bin/syncer MS DEADLINE_MS: the race workload's sync(2) caller
//! (`race.sync=MS`): sync every MS milliseconds of guest time until the
//! deadline. sync(2) runs uvm_vnp_sync, which takes a reference on every
//! writeable object, persisting ones included (doc/findings.md).
#![no_std]
#![no_main]

use userland::{println, sleep_ms, sync, uptime_ms, Args};

fn main(args: Args) -> i32 {
    let ms: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100);
    let deadline: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut n = 0u32;
    while uptime_ms() < deadline {
        sleep_ms(ms);
        sync();
        n += 1;
    }
    println!("syncer: {n} syncs: ok");
    0
}

userland::entry!(main);
