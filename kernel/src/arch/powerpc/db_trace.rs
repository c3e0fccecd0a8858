//! ddb-style stack traces along the PowerPC back chain.
//!
//! Every frame begins with the caller's r1 (the back chain); a function
//! saves its return address in the LR word (offset 4) of its caller's frame.
//! A return address equal to `trap_return` marks a trap frame: the walk
//! reports the trap and continues in the interrupted context.

use super::pmap;
use super::trap::{trap_return_addr, TrapFrame, EXC_SC, TRAPFRAME_OFFSET};
use crate::ddb::db_sym;
use crate::sys::syscalls::syscall_name;
use core::fmt::Write;

const MAXFRAMES: usize = 64;

/// A plausible frame address: word-aligned and in RAM or a mapped kernel
/// stack, so reading it (and the word after) cannot fault.
fn valid(addr: u32) -> bool {
    addr & 3 == 0 && ((0x4000..0x1000_0000).contains(&addr) || on_own_stack(addr) || (addr >= pmap::KVA_MIN && pmap::pmap_kernel_mapped(addr)))
}

/// Whether `addr` lies on the running thread's own kernel stack, between
/// the stack pointer and the top SPRG0 holds: mapped for certain, so a
/// walk of it needs no look at the pmap — which a panic raised under the
/// pmap's lock (the heap growing, say) cannot take.
fn on_own_stack(addr: u32) -> bool {
    let top: u32;
    // SAFETY: reads SPRG0, the running thread's kernel stack top (stale for
    // a thread without a kernel stack of its own; the size check below
    // then fails).
    unsafe { core::arch::asm!("mfspr {0}, 272", out(reg) top) };
    let sp = super::cpu::stack_pointer();
    top > sp && top - sp <= crate::uvm::uvm_km::KSTACK_PAGES * crate::uvm::uvm_page::PAGE_SIZE && addr >= sp && addr.saturating_add(8) <= top
}

fn read(addr: u32) -> u32 {
    // SAFETY: `valid` keeps the address word-aligned inside RAM mapped 1:1 (a BAT, or the 970's direct map),
    // so the load cannot fault even on a corrupt chain.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

/// Prints `name() at name+0xoff` for `pc`. A return address is looked up
/// one instruction back so a call at the very end of a function names it.
fn print_frame(pr: &mut dyn Write, pc: u32, is_return: bool) {
    let key = if is_return { pc.wrapping_sub(4) } else { pc };
    match db_sym::lookup(key) {
        Some((name, off)) => {
            let off = off + (pc - key);
            let _ = writeln!(pr, "{name}() at {name}+{off:#x}");
        }
        None => {
            let _ = writeln!(pr, "{pc:#x}() at {pc:#x}");
        }
    }
}

/// Walks the stack from the caller of this function, leaving out leading
/// frames named in `skip` (the panic machinery), and prints at most 64
/// frames. Returns the number printed.
#[inline(never)]
pub fn db_stack_trace_print(skip: &[&str], pr: &mut dyn Write) -> usize {
    db_stack_trace_from(super::cpu::stack_pointer(), skip, pr)
}

/// Walks from the frame whose back chain is at `sp`: the walker's own frame,
/// or the switch frame a sleeping thread left behind.
pub fn db_stack_trace_from(sp: u32, skip: &[&str], pr: &mut dyn Write) -> usize {
    if !valid(sp) {
        let _ = writeln!(pr, "end trace frame: {sp:#x}, count: 0");
        return 0;
    }
    let mut fp = read(sp);
    let mut n = 0;
    let mut skipping = true;
    while n < MAXFRAMES && valid(fp) {
        let pc = read(fp + 4);
        if pc == trap_return_addr() {
            skipping = false;
            // SAFETY: trap_entry built a TrapFrame at this offset of the
            // frame whose LR word holds trap_return.
            let tf = unsafe { &*((fp + TRAPFRAME_OFFSET) as *const TrapFrame) };
            if tf.srr1 & super::cpu::Msr::PR.bits() != 0 {
                // From user mode: the user stack is not the kernel's to walk.
                match tf.exc {
                    EXC_SC => {
                        let code = tf.fixreg[0];
                        let _ = writeln!(pr, "--- syscall (number {code}) ---");
                        let _ = writeln!(pr, "{}() from user mode", syscall_name(code));
                    }
                    exc => {
                        let _ = writeln!(pr, "--- user trap (type {exc:#x}) ---");
                    }
                }
                let _ = writeln!(pr, "user pc {:#x}, sp {:#x}", tf.srr0, tf.fixreg[1]);
                n += 1;
                fp = tf.fixreg[1];
                break;
            }
            let _ = writeln!(pr, "--- trap (type {:#x}) ---", tf.exc);
            print_frame(pr, tf.srr0, false);
            n += 1;
            let r1 = tf.fixreg[1];
            if !valid(r1) {
                break;
            }
            fp = read(r1);
            continue;
        }
        if pc == 0 {
            break;
        }
        if skipping && db_sym::lookup(pc.wrapping_sub(4)).is_some_and(|(name, _)| skip.contains(&name.as_str())) {
            fp = read(fp);
            continue;
        }
        skipping = false;
        print_frame(pr, pc, true);
        n += 1;
        let next = read(fp);
        if next <= fp {
            break;
        }
        fp = next;
    }
    let _ = writeln!(pr, "end trace frame: {fp:#x}, count: {n}");
    n
}

/// The interrupted kernel context's pc and the return addresses above it,
/// as many as fit in `out` (a profiler's sample): the link register first
/// (a leaf function has not saved it), then the back chain. Stops at a trap
/// frame, an implausible frame or the end; returns how many it wrote.
pub fn db_callers(tf: &TrapFrame, out: &mut [u32]) -> usize {
    let Some((first, rest)) = out.split_first_mut() else { return 0 };
    *first = tf.srr0;
    let mut n = 1;
    let mut fp = tf.fixreg[1];
    let mut last = tf.lr;
    for slot in rest.iter_mut() {
        if last == 0 || last == trap_return_addr() {
            break;
        }
        *slot = last;
        n += 1;
        if !valid(fp) {
            break;
        }
        let next = read(fp);
        if next <= fp || !valid(next) {
            break;
        }
        fp = next;
        last = read(fp + 4);
    }
    n
}
