//! /bin/creator ID SEED DEADLINE_MS [DIR]: one of the race workload's
//! creators (in DIR, /race by default).
//! Makes new files with open(O_CREAT) in a loop, yielding between them, so
//! that with a small kern.maxvnodes every create recycles a vnode
//! (getnewvnode → vgonel → vclean → uvm_vnp_terminate). It keeps its last
//! eight files open, checking each one's bytes through its descriptor
//! before closing and removing it, so that it needs no lookup of its own
//! files (which would recycle vnodes through the lookup path instead).
#![no_std]
#![no_main]

use kcore::syscalls::{O_CREAT, O_EXCL, O_RDWR, SEEK_SET};
use userland::{close, fmt_u64, lseek, open_mode, path_join, println, read, sched_yield, unlink, uptime_ms, write_all, Args};

const KEEP: usize = 8;

/// "DIR/cID-N" with its NUL, in `buf`.
fn path<'a>(buf: &'a mut [u8; 256], dir: &str, id: u32, n: u32) -> &'a [u8] {
    let mut d = [0u8; 24];
    let digits = fmt_u64(&mut d, n as u64);
    path_join(buf, &[dir.as_bytes(), b"/c", &[b'0' + (id % 10) as u8, b'-'], digits])
}

fn content(id: u32, n: u32) -> [u8; 64] {
    core::array::from_fn(|i| (n as u8).wrapping_mul(7) ^ (id as u8) ^ i as u8)
}

fn main(args: Args) -> i32 {
    let id: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let deadline: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
    let dir = args.get(4).unwrap_or("/race");
    let mut open_fds = [0u32; KEEP];
    let mut n = 0u32;
    while uptime_ms() < deadline {
        let slot = n as usize % KEEP;
        if n as usize >= KEEP {
            // The file made KEEP creates ago: check it, close it, remove it.
            let old = n - KEEP as u32;
            let fd = open_fds[slot];
            let mut buf = [0u8; 64];
            if lseek(fd, 0, SEEK_SET) != Ok(0) || read(fd, &mut buf) != Ok(64) || buf != content(id, old) {
                println!("creator {id}: file {old} does not hold what was written: FAILED");
                return 1;
            }
            let mut ob = [0u8; 256];
            if close(fd).is_err() || unlink(path(&mut ob, dir, id, old)).is_err() {
                println!("creator {id}: close or unlink of file {old} FAILED");
                return 1;
            }
        }
        let mut pb = [0u8; 256];
        let fd = match open_mode(path(&mut pb, dir, id, n), O_CREAT | O_EXCL | O_RDWR, 0o644) {
            Ok(fd) => fd,
            Err(e) => {
                println!("creator {id}: create FAILED: errno {e}");
                return 1;
            }
        };
        if write_all(fd, &content(id, n)).is_err() {
            println!("creator {id}: write FAILED");
            return 1;
        }
        open_fds[slot] = fd;
        n += 1;
        // Let the writers make P0 between creates.
        sched_yield();
    }
    println!("creator {id}: {n} files created: ok");
    0
}

userland::entry!(main);
