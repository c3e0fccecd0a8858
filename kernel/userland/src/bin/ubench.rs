//! /bin/ubench TBFREQ: costs of a system call, a switch between two
//! processes and an anonymous page fault, printed as `bench: NAME VALUE
//! instructions`, and the speed of reading a file. Under QEMU's -icount shift=0 one instruction takes one
//! nanosecond of virtual time, so time-base ticks convert to instructions.
#![no_std]
#![no_main]

use userland::{close, exit, fork, getpid, mmap_anon, open, println, read, sched_yield, wait4, Args};

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
    0
}

userland::entry!(main);
