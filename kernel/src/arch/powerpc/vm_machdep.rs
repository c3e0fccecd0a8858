//! Switching between kernel threads, and the first frame of a new one.
//!
//! A switch saves the callee-saved state (r13–r31, CR, LR) in a frame on
//! the old thread's stack, stores its stack pointer in the old PCB, and
//! loads the new thread's. A new thread's stack starts with such a frame
//! whose LR is `proc_trampoline`, with the entry point in r14 and its
//! argument in r15.

use super::trap::{TrapFrame, TRAPFRAME_OFFSET, TRAPFRAME_STACK};
use core::arch::global_asm;

/// Bytes of a switch frame: header 8, r13–r31, CR, LR, rounded to 16.
const SWITCHFRAME: u32 = 96;
const SF_R13: u32 = 8;
const SF_R14: u32 = SF_R13 + 4;
const SF_R15: u32 = SF_R13 + 8;
const SF_CR: u32 = SF_R13 + 4 * 19;
const SF_LR: u32 = SF_CR + 4;
const _: () = assert!(SF_LR + 4 <= SWITCHFRAME && SWITCHFRAME.is_multiple_of(16));

/// The low-memory words trap_entry consults (mapped 1:1, at the same
/// address with translation on or off): the running stack's lowest valid
/// address, and the flag it sets when it had to leave a stack that overflowed.
pub const TRAP_STACK_BOTTOM: usize = 0x3010;
pub const TRAP_STACK_OVERFLOW: usize = 0x3014;

global_asm!(
    ".section .text.switch, \"ax\"",
    ".globl cpu_switchto_asm",
    ".type cpu_switchto_asm, @function",
    // r3 = where to save the old stack pointer, r4 = the new one.
    "cpu_switchto_asm:",
    "mflr 0",
    "stwu 1, -{frame}(1)",
    "stw 0, {lr}(1)",
    // Also in the ABI's LR word, so a stack walk of a sleeping thread works.
    "stw 0, {frame}+4(1)",
    "mfcr 0",
    "stw 0, {cr}(1)",
    "stmw 13, {r13}(1)",
    "stw 1, 0(3)",
    "mr 1, 4",
    "lmw 13, {r13}(1)",
    "lwz 0, {cr}(1)",
    "mtcr 0",
    "lwz 0, {lr}(1)",
    "mtlr 0",
    "addi 1, 1, {frame}",
    "blr",
    ".globl proc_trampoline",
    ".type proc_trampoline, @function",
    "proc_trampoline:",
    "bl proc_trampoline_mi",
    "mtctr 14",
    "mr 3, 15",
    "bctrl",
    "bl kthread_exit",
    "b .",
    frame = const SWITCHFRAME,
    r13 = const SF_R13,
    cr = const SF_CR,
    lr = const SF_LR,
);

extern "C" {
    fn cpu_switchto_asm(old_sp: *mut u32, new_sp: u32);
    fn proc_trampoline();
}

/// Switches to the thread whose saved stack pointer is `new_sp`, saving
/// ours in `*old_sp`; returns when something switches back to us.
///
/// # Safety
/// Interrupts must be off; `new_sp` must come from `cpu_fork_stack` or an
/// earlier switch away from a thread that still exists; `old_sp` must
/// outlive the switch; `bottom` is the new stack's lowest valid address.
pub unsafe fn cpu_switchto(old_sp: *mut u32, new_sp: u32, bottom: u32) {
    super::cpu::assert_intr_off("cpu_switchto");
    set_stack_bottom(bottom);
    // SAFETY: the caller upholds the contract above.
    unsafe { cpu_switchto_asm(old_sp, new_sp) };
}

/// Tells trap_entry the lowest valid address of the stack now in use.
pub fn set_stack_bottom(bottom: u32) {
    // SAFETY: a word of kernel-owned low memory, mapped 1:1 (a BAT, or a wired entry on the 970).
    unsafe { core::ptr::write_volatile(TRAP_STACK_BOTTOM as *mut u32, bottom) };
}

/// Lays out the first switch frame of a new thread on the stack whose top
/// is `top`, so that switching to it calls `entry(arg)`. Returns the
/// stack pointer to switch to.
///
/// # Safety
/// `top` must be the top of a mapped stack no thread is running on.
pub unsafe fn cpu_fork_stack(top: u32, entry: extern "C" fn(usize), arg: usize) -> u32 {
    // The top TRAPFRAME_STACK bytes stay free for the frame of a trap from
    // user mode (and cpu_enter_user's), which must not land on live frames.
    let end = top - TRAPFRAME_STACK;
    let sp = end - SWITCHFRAME;
    // SAFETY: both frames lie inside the caller's fresh stack.
    unsafe {
        core::ptr::write_bytes(sp as *mut u8, 0, (top - sp) as usize);
        let w = |off: u32, v: u32| core::ptr::write_volatile((sp + off) as *mut u32, v);
        w(0, end);
        w(SF_R14, entry as usize as u32);
        w(SF_R15, arg as u32);
        w(SF_LR, proc_trampoline as *const () as usize as u32);
    }
    sp
}

/// The lowest valid address of the stack in use.
pub fn stack_bottom() -> u32 {
    // SAFETY: a word of kernel-owned low memory, mapped 1:1 (a BAT, or a wired entry on the 970).
    unsafe { core::ptr::read_volatile(TRAP_STACK_BOTTOM as *const u32) }
}

/// Clears and returns the stack-overflow flag trap_entry may have set.
pub fn take_stack_overflow() -> bool {
    // SAFETY: a word of kernel-owned low memory.
    unsafe {
        let f = core::ptr::read_volatile(TRAP_STACK_OVERFLOW as *const u32);
        core::ptr::write_volatile(TRAP_STACK_OVERFLOW as *mut u32, 0);
        f != 0
    }
}

/// Leaves the kernel for user mode with the registers of `tf`, through the
/// same path a trap returns by. The frame is placed where trap_entry puts
/// the frame of a trap from user mode: at the top of this thread's kernel
/// stack, which is empty once user mode runs.
pub fn cpu_enter_user(tf: &TrapFrame) -> ! {
    assert!(tf.srr1 & super::cpu::Msr::PR.bits() != 0, "cpu_enter_user: not a user-mode frame");
    let top: u32;
    // SAFETY: reads SPRG0, the kernel stack top mi_switch set for this thread.
    unsafe { core::arch::asm!("mfspr {0}, 272", out(reg) top) };
    let frame = top - TRAPFRAME_STACK;
    super::cpu::intr_disable();
    // SAFETY: [frame, top) is the top of this thread's own kernel stack,
    // mapped, and nothing below this function's frame will be used again.
    unsafe {
        core::ptr::write_volatile(frame as *mut u32, 0);
        core::ptr::write_volatile((frame + TRAPFRAME_OFFSET) as *mut TrapFrame, *tf);
        core::arch::asm!("mr 1, {0}", "b trap_return", in(reg) frame, options(noreturn));
    }
}

/// The kernel stack top a trap from user mode switches to (SPRG0).
pub fn set_user_trap_stack(top: u32) {
    // SAFETY: SPRG0 is read only by trap_entry for traps from user mode.
    unsafe { core::arch::asm!("mtspr 272, {0}", in(reg) top) };
}
