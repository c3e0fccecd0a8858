//! /bin/ubench TBFREQ: costs of a system call, a switch between two
//! processes and an anonymous page fault, printed as `bench: NAME VALUE
//! instructions`, the speed of reading a file, and how many empty files a
//! second it creates and removes in a new directory. Under QEMU's -icount shift=0 one instruction takes one
//! nanosecond of virtual time, so time-base ticks convert to instructions.
#![no_std]
#![no_main]

use kcore::syscalls::{O_CREAT, O_EXCL, O_WRONLY};
use userland::{close, exit, fork, getpid, mkdir, mmap_anon, open, open_mode, println, read, rmdir, sched_yield, unlink, wait4, Args};

/// Files the create and remove benchmarks make in their directory.
const FILES: u32 = 400;
const DIR: &[u8] = b"/ubench\0";

/// `/ubench/fNNNN`, NUL-terminated.
fn file_name(i: u32) -> [u8; 14] {
    let mut p = [0u8; 14];
    p[..9].copy_from_slice(b"/ubench/f");
    for (k, d) in [1000, 100, 10, 1].iter().enumerate() {
        p[9 + k] = b'0' + (i / d % 10) as u8;
    }
    p
}

/// Creates FILES empty files (open with O_CREAT|O_EXCL, close), then
/// removes them; prints both rates in files per guest second.
fn create_remove(tbfreq: u64) -> Result<(), i32> {
    mkdir(DIR, 0o755)?;
    let t0 = mftb();
    for i in 0..FILES {
        close(open_mode(&file_name(i), O_CREAT | O_EXCL | O_WRONLY, 0o644)?)?;
    }
    let ticks = mftb().wrapping_sub(t0) as u64;
    println!("bench: file_create {} per_s", FILES as u64 * tbfreq / ticks.max(1));
    let t0 = mftb();
    for i in 0..FILES {
        unlink(&file_name(i))?;
    }
    let ticks = mftb().wrapping_sub(t0) as u64;
    println!("bench: file_remove {} per_s", FILES as u64 * tbfreq / ticks.max(1));
    rmdir(DIR)
}

fn mftb() -> u32 {
    let v: u32;
    // SAFETY: the time base is readable in user mode; no side effects.
    unsafe { core::arch::asm!("mftb {0}", out(reg) v) };
    v
}

fn report(name: &str, ticks: u32, n: u32, tbfreq: u64) {
    let ns = ticks as u64 * 1_000_000_000 / tbfreq;
    println!("bench: {name} {} instructions", ns / n as u64);
}

fn main(args: Args) -> i32 {
    let tbfreq: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000_000);

    const CALLS: u32 = 2000;
    let t0 = mftb();
    for _ in 0..CALLS {
        core::hint::black_box(getpid());
    }
    report("syscall_getpid", mftb().wrapping_sub(t0), CALLS, tbfreq);

    const YIELDS: u32 = 500;
    let t0 = mftb();
    match fork() {
        Ok(0) => {
            for _ in 0..YIELDS {
                sched_yield();
            }
            exit(0)
        }
        Ok(pid) => {
            for _ in 0..YIELDS {
                sched_yield();
            }
            let _ = wait4(pid as i32);
            report("process_switch_yield", mftb().wrapping_sub(t0), 2 * YIELDS, tbfreq);
        }
        Err(_) => return 1,
    }

    const PAGES: u32 = 128;
    let Ok(p) = mmap_anon((PAGES * 4096) as usize) else { return 1 };
    let t0 = mftb();
    for i in 0..PAGES {
        // SAFETY: inside the mapping just made; each store faults a page in.
        unsafe { p.add((i * 4096) as usize).write_volatile(1) };
    }
    report("page_fault_zero_fill", mftb().wrapping_sub(t0), PAGES, tbfreq);

    // Reading a large file through the VFS and the buffer cache (rd's
    // completion delays included), in virtual time.
    let Ok(fd) = open(b"/bsd\0", 0) else { return 1 };
    let mut buf = [0u8; 16 * 1024];
    let (mut total, t0) = (0u64, mftb());
    while let Ok(n) = read(fd, &mut buf) {
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    let ticks = mftb().wrapping_sub(t0) as u64;
    let _ = close(fd);
    println!("bench: file_read {} KiB/s", total * tbfreq / 1024 / ticks.max(1));
    if let Err(e) = create_remove(tbfreq) {
        println!("ubench: create/remove: errno {e}");
        return 1;
    }
    0
}

userland::entry!(main);
