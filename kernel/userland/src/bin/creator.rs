//! /bin/creator ID SEED DEADLINE_MS: one of the race workload's creators.
//! Makes new files with open(O_CREAT) in a loop, keeping the last eight,
//! so that with a small kern.maxvnodes every create recycles a vnode
//! (getnewvnode → vgonel → vclean → uvm_vnp_terminate). Checks each file's
//! bytes before removing it.
#![no_std]
#![no_main]

use kcore::syscalls::{O_CREAT, O_EXCL, O_RDONLY, O_WRONLY};
use userland::{close, open, open_mode, println, read, sleep_ms, unlink, uptime_ms, write_all, Args};

const KEEP: u32 = 8;

fn path(buf: &mut [u8; 32], id: u32, n: u32) -> &[u8] {
    let s = b"/race/c";
    buf[..s.len()].copy_from_slice(s);
    let mut at = s.len();
    buf[at] = b'0' + (id % 10) as u8;
    buf[at + 1] = b'-';
    at += 2;
    let mut d = [0u8; 10];
    let mut i = d.len();
    let mut v = n;
    loop {
        i -= 1;
        d[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf[at..at + d.len() - i].copy_from_slice(&d[i..]);
    at += d.len() - i;
    buf[at] = 0;
    &buf[..=at]
}

fn content(id: u32, n: u32) -> [u8; 64] {
    core::array::from_fn(|i| (n as u8).wrapping_mul(7) ^ (id as u8) ^ i as u8)
}

fn main(args: Args) -> i32 {
    let id: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let deadline: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut n = 0u32;
    while uptime_ms() < deadline {
        let mut pb = [0u8; 32];
        let p = path(&mut pb, id, n);
        let fd = match open_mode(p, O_CREAT | O_EXCL | O_WRONLY, 0o644) {
            Ok(fd) => fd,
            Err(e) => {
                println!("creator {id}: create failed: errno {e}");
                return 1;
            }
        };
        if write_all(fd, &content(id, n)).is_err() || close(fd).is_err() {
            println!("creator {id}: write failed");
            return 1;
        }
        if n >= KEEP {
            let old = n - KEEP;
            let mut ob = [0u8; 32];
            let op = path(&mut ob, id, old);
            let mut buf = [0u8; 64];
            let ok = match open(op, O_RDONLY) {
                Ok(fd) => {
                    let r = read(fd, &mut buf);
                    let _ = close(fd);
                    r == Ok(64) && buf == content(id, old)
                }
                Err(_) => false,
            };
            if !ok {
                println!("creator {id}: file {old} does not hold what was written");
                return 1;
            }
            if unlink(op).is_err() {
                println!("creator {id}: unlink failed");
                return 1;
            }
        }
        n += 1;
        sleep_ms(5);
    }
    println!("creator {id}: {n} files created: ok");
    0
}

userland::entry!(main);
