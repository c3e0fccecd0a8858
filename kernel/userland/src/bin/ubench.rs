//! /bin/ubench TBFREQ: costs of a system call, a switch between two
//! processes and an anonymous page fault, printed as `bench: NAME VALUE
//! instructions`. Under QEMU's -icount shift=0 one instruction takes one
//! nanosecond of virtual time, so time-base ticks convert to instructions.
#![no_std]
#![no_main]

use userland::{exit, fork, getpid, mmap_anon, println, sched_yield, wait4, Args};

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
    0
}

userland::entry!(main);
