//! /bin/memhog DEADLINE_MS: the race workload's memory hog. Holds
//! anonymous memory (no swap: it stays) in 64 KiB chunks, growing while
//! free memory (vm.uvmexp) is above freetarg and giving chunks back when
//! it falls under freemin, so that the file pages the writers cache keep
//! the pagedaemon at work. Touches what it holds until the deadline.
#![no_std]
#![no_main]

use userland::{mmap_anon, munmap, println, sleep_ms, uptime_ms, uvmexp, Args};

const CHUNK: usize = 16 * 4096;
const MAXCHUNKS: usize = 4096;

fn main(args: Args) -> i32 {
    let deadline: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut chunks = [core::ptr::null_mut::<u8>(); MAXCHUNKS];
    let (mut n, mut most, mut pass) = (0usize, 0usize, 0u8);
    while uptime_ms() < deadline {
        let Ok(e) = uvmexp() else {
            println!("memhog: sysctl vm.uvmexp failed");
            return 1;
        };
        let (free, freemin, freetarg) = (e[1], e[4], e[5]);
        if free > freetarg + 32 && n < MAXCHUNKS {
            // Grow by what is above the target, at most 64 chunks a pass.
            let grow = (((free - freetarg - 32) as usize * 4096).div_ceil(CHUNK)).min(64).min(MAXCHUNKS - n);
            for _ in 0..grow {
                match mmap_anon(CHUNK) {
                    Ok(p) => {
                        chunks[n] = p;
                        n += 1;
                    }
                    // The data limit or the kernel heap: hold what it has.
                    Err(12) => break,
                    Err(e) => {
                        println!("memhog: mmap failed: errno {e}");
                        return 1;
                    }
                }
            }
            most = most.max(n);
        } else if free < freemin && n > 0 {
            n -= 1;
            let _ = munmap(chunks[n], CHUNK);
        }
        for c in &chunks[..n] {
            for pg in 0..CHUNK / 4096 {
                // SAFETY: each chunk is a live CHUNK-byte mapping.
                unsafe { c.add(pg * 4096).write_volatile(pass) };
            }
        }
        pass = pass.wrapping_add(1);
        sleep_ms(if free > freetarg + 32 { 1 } else { 20 });
    }
    println!("memhog: held up to {} pages: ok", most * CHUNK / 4096);
    0
}

userland::entry!(main);
