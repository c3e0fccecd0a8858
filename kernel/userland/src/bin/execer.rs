//! /bin/execer ID SEED DEADLINE_MS DIR: one of the field workload's exec
//! loops (workload=field): until the deadline it forks and execs one of
//! /usr/bin/job0…job3 and waits for it, over and over, as a machine
//! running many short commands does; the jobs' texts are their vnodes'
//! pages, and their objects persist between runs.
#![no_std]
#![no_main]

use kcore::random::Rng;
use userland::{execve, exit, fmt_u64, fork, println, sleep_ms, uptime_ms, wait4, Args};

fn main(args: Args) -> i32 {
    let id: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let deadline: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
    let dir = args.get(4).unwrap_or("/");
    let mut rng = Rng::new(seed ^ (id << 32) ^ 0x6578_6563);
    let mut dirz = [0u8; 256];
    let n = dir.len().min(255);
    dirz[..n].copy_from_slice(&dir.as_bytes()[..n]);
    let mut runs = 0u64;
    while uptime_ms() < deadline {
        let job = rng.next_u64() % 4;
        let path: &[u8] = [b"/usr/bin/job0\0", b"/usr/bin/job1\0", b"/usr/bin/job2\0", b"/usr/bin/job3\0"][job as usize];
        let mut sb = [0u8; 24];
        let s = fmt_u64(&mut sb, rng.next_u64() % 1_000_000);
        let mut sz = [0u8; 25];
        sz[..s.len()].copy_from_slice(s);
        let argv: [&[u8]; 3] = [path, &sz[..=s.len()], &dirz[..=n]];
        match fork() {
            Ok(0) => {
                let e = execve(path, &argv);
                println!("execer {id}: exec failed: errno {e}");
                exit(127)
            }
            Ok(pid) => match wait4(pid as i32) {
                Ok((_, 0)) => runs += 1,
                Ok((_, st)) => {
                    println!("execer {id}: job {job} ended with status {st:#x}: FAILED");
                    return 1;
                }
                Err(e) => {
                    println!("execer {id}: wait4 FAILED: errno {e}");
                    return 1;
                }
            },
            // Memory short: fork may say so (ENOMEM, EAGAIN), as OpenBSD's
            // does; a shell would try again, and so does this.
            Err(12) | Err(35) => sleep_ms(10),
            Err(e) => {
                println!("execer {id}: fork FAILED: errno {e}");
                return 1;
            }
        }
    }
    println!("execer {id}: {runs} jobs run: ok");
    0
}

userland::entry!(main);
