//! The last system calls of every process, kept in one small ring (a
//! kernel-side cut of OpenBSD's ktrace: number, arguments, result), so that
//! the P0 detector can print what the processes did just before a vnode
//! reached P0. Recording never sleeps or allocates.

use crate::arch::cpu;
use crate::sys::errno::Errno;
use core::fmt::{self, Write};

/// Calls kept.
const KTR_SIZE: usize = 256;

#[derive(Clone, Copy)]
struct KtrEntry {
    seq: u64,
    pid: u32,
    code: u32,
    args: [u32; 4],
    /// None while the call runs (or if it never returned: exit, execve
    /// that replaced the program).
    ret: Option<Result<u32, Errno>>,
}

const EMPTY: KtrEntry = KtrEntry { seq: 0, pid: 0, code: 0, args: [0; 4], ret: None };

struct Ring {
    ev: [KtrEntry; KTR_SIZE],
    next: u64,
}

static RING: spin::Mutex<Ring> = spin::Mutex::new(Ring { ev: [EMPTY; KTR_SIZE], next: 1 });

/// A call starting (ktrsyscall); gives the ticket ktrsysret takes.
pub fn ktrsyscall(pid: u32, code: u32, a: &[u32; 6]) -> u64 {
    cpu::with_interrupts_disabled(|| {
        let mut r = RING.lock();
        let seq = r.next;
        r.next += 1;
        r.ev[(seq % KTR_SIZE as u64) as usize] = KtrEntry { seq, pid, code, args: [a[0], a[1], a[2], a[3]], ret: None };
        seq
    })
}

/// The call of `seq` returning (ktrsysret), unless the ring moved past it.
pub fn ktrsysret(seq: u64, ret: Result<u32, Errno>) {
    cpu::with_interrupts_disabled(|| {
        let mut r = RING.lock();
        let e = &mut r.ev[(seq % KTR_SIZE as u64) as usize];
        if e.seq == seq {
            e.ret = Some(ret);
        }
    });
}

/// Prints the last `n` calls kept (of process `pid` only, if given),
/// oldest first, one per line: `  pid P NAME(a0, a1, a2, a3) = result`.
pub fn ktrace_print(out: &mut dyn Write, pid: Option<u32>, n: usize) -> fmt::Result {
    let Some(r) = RING.try_lock() else {
        return writeln!(out, "  (system call ring locked)");
    };
    let first = r.next.saturating_sub(KTR_SIZE as u64).max(1);
    let kept: alloc::vec::Vec<&KtrEntry> =
        (first..r.next).map(|seq| &r.ev[(seq % KTR_SIZE as u64) as usize]).filter(|e| pid.is_none_or(|p| e.pid == p)).collect();
    for e in &kept[kept.len().saturating_sub(n)..] {
        let a = e.args;
        write!(out, "  pid {} {}({:#x}, {:#x}, {:#x}, {:#x})", e.pid, kcore::syscalls::syscall_name(e.code), a[0], a[1], a[2], a[3])?;
        match e.ret {
            Some(Ok(v)) => writeln!(out, " = {v:#x}")?,
            Some(Err(err)) => writeln!(out, " = {err:?}")?,
            None => writeln!(out, " (no return)")?,
        }
    }
    Ok(())
}
