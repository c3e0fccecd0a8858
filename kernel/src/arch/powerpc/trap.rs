//! Exception vectors, the trap frame, and the trap dispatcher.
//!
//! Every vector holds the same four-instruction stub: save r1 and r3 in
//! SPRG1/SPRG2, load the vector number, branch (absolute) to `trap_entry`,
//! which builds a trap frame on the kernel stack and calls `trap()`. The
//! frame begins with a PowerPC ABI frame header whose back chain points at
//! the interrupted stack, so a stack walk continues through the trap.

use super::cpu::{self, Msr};
use super::intr;
use core::arch::global_asm;
use core::mem::offset_of;

/// Saved state of an interrupted context. Laid out exactly as trap_entry
/// stores it (offsets below are 8 more: the ABI frame header comes first).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TrapFrame {
    pub fixreg: [u32; 32],
    pub lr: u32,
    pub cr: u32,
    pub xer: u32,
    pub ctr: u32,
    pub srr0: u32,
    pub srr1: u32,
    pub dar: u32,
    pub dsisr: u32,
    pub exc: u32,
}

/// Bytes trap_entry takes from the stack: header (8) + frame, 16-aligned.
pub const TRAPFRAME_STACK: u32 = 176;
/// Where the TrapFrame starts inside that stack area.
pub const TRAPFRAME_OFFSET: u32 = 8;
const _: () = assert!(core::mem::size_of::<TrapFrame>() as u32 + TRAPFRAME_OFFSET <= TRAPFRAME_STACK);

/// Where trap_entry stores a TrapFrame field, from the stack pointer.
const fn tf_off(field: usize) -> u32 {
    TRAPFRAME_OFFSET + field as u32
}

/// Where trap_entry stores general register `n`.
const fn tf_reg(n: u32) -> u32 {
    tf_off(core::mem::offset_of!(TrapFrame, fixreg)) + 4 * n
}

/// Low-memory words (mapped 1:1: the same address with translation off
/// and on) where trap_entry parks r4 and r5 until it has a stack.
const SAVE_R4: usize = 0x3004;
const SAVE_R5: usize = 0x3008;
/// Low memory where trap_entry64 keeps the registers `pte_spill_r` may
/// change: CR, r0, the vector, LR, CTR, XER, then r5–r31.
const SPILL_AREA: usize = 0x3100;
/// Stack a trap handler needs above its frame before trap_entry takes the
/// emergency stack instead (an overflow still gets reported).
const TRAP_HANDLER_MARGIN: u32 = 1024;

pub const EXC_DSI: u32 = 0x300;
pub const EXC_ISI: u32 = 0x400;
pub const EXC_EXI: u32 = 0x500;
pub const EXC_ALI: u32 = 0x600;
pub const EXC_PGM: u32 = 0x700;
pub const EXC_DECR: u32 = 0x900;
pub const EXC_SC: u32 = 0xc00;

/// DSISR (and SRR1 for an ISI): no page table entry matched.
pub const DSISR_NOTRANS: u32 = 0x4000_0000;
/// DSISR: the access was a store.
pub const DSISR_STORE: u32 = 0x0200_0000;
/// DSISR: a protection violation.
pub const DSISR_PROT: u32 = 0x0800_0000;

pub fn exc_name(exc: u32) -> &'static str {
    match exc {
        0x100 => "system reset",
        0x200 => "machine check",
        EXC_DSI => "data storage",
        EXC_ISI => "instruction storage",
        EXC_EXI => "external interrupt",
        EXC_ALI => "alignment",
        EXC_PGM => "program",
        0x800 => "floating-point unavailable",
        EXC_DECR => "decrementer",
        EXC_SC => "system call",
        0xd00 => "trace",
        0xf00 => "performance monitor",
        0xf20 => "AltiVec unavailable",
        0x1300 => "instruction address breakpoint",
        0x1400 => "system management",
        0x1600 => "AltiVec assist",
        0x1700 => "thermal management",
        _ => "reserved",
    }
}

global_asm!(
    // The vector block is copied to physical 0; `.org` places each stub at
    // its vector offset, and `ba` makes the branch position-independent.
    ".section .bss.emergency, \"aw\", @nobits",
    ".balign 16",
    ".space 8192",
    "emergency_stack_top:",
    // The 970's real-mode spill runs here (1:1, wired with the image).
    ".balign 16",
    ".space 4096",
    "spill_stack_top:",

    ".section .text.vectors, \"ax\"",
    ".globl vec_start",
    ".globl vec_end",
    "vec_start:",
    ".irp v, 0x100,0x200,0x300,0x400,0x500,0x600,0x700,0x800,0x900,0xa00,0xb00,0xc00,0xd00,0xe00,0xf00,0xf20,0x1000,0x1100,0x1200,0x1300,0x1400,0x1500,0x1600,0x1700,0x1800,0x1900,0x1a00,0x1b00,0x1c00,0x1d00,0x1e00,0x1f00,0x2000,0x2100,0x2200,0x2300,0x2400,0x2500,0x2600,0x2700,0x2800,0x2900,0x2a00,0x2b00,0x2c00,0x2d00,0x2e00,0x2f00",
    ".org \\v",
    "mtspr 273, 1",
    "mtspr 274, 3",
    "li 3, \\v",
    "ba trap_entry",
    ".endr",
    "vec_end:",

    ".section .text.trap, \"ax\"",
    ".globl trap_entry",
    ".globl trap_return",
    ".type trap_entry, @function",
    "trap_entry:",
    // r3 = vector, SPRG1 = interrupted r1, SPRG2 = interrupted r3. Stacks
    // may be virtual (kernel threads), so translation goes back on before
    // any stack store; r4/r5 wait in the low save area meanwhile, which is
    // at the same address with translation off and on (a BAT, or a wired
    // entry on the 970).
    "stw 4, {save_r4}(0)",
    "stw 5, {save_r5}(0)",
    "mfcr 4",
    "mfspr 5, 27",
    "andi. 5, 5, 0x4000",
    "mfspr 1, 273",
    "beq 1f",
    // From user mode: the current thread's kernel stack top lives in SPRG0.
    "mfspr 1, 272",
    "1:",
    "mfmsr 5",
    "ori 5, 5, 0x32",
    "mtmsr 5",
    "isync",
    // Below the current stack's bottom is its unmapped guard page. If the
    // frame plus 1 KiB for the handler would not fit above it, take the
    // emergency stack so the overflow can still be reported.
    "addi 5, 1, -{tf_stack}-{margin}",
    "lwz 1, {stack_bottom}(0)",
    "cmplw 5, 1",
    "addi 1, 5, {margin}",
    "bge 2f",
    "lis 1, emergency_stack_top@ha",
    "addi 1, 1, emergency_stack_top@l",
    "addi 1, 1, -{tf_stack}",
    "li 5, 1",
    "stw 5, {stack_overflow}(0)",
    "2:",
    "stw 4, {tf_cr}(1)",
    "stw 3, {tf_exc}(1)",
    "stw 0, {tf_r0}(1)",
    "stw 2, {tf_r2}(1)",
    "mfspr 0, 274",
    "stw 0, {tf_r3}(1)",
    "lwz 0, {save_r4}(0)",
    "stw 0, {tf_r4}(1)",
    "lwz 0, {save_r5}(0)",
    "stw 0, {tf_r5}(1)",
    "mfspr 0, 273",
    "stw 0, {tf_r1}(1)",
    "stw 0, 0(1)",
    "stmw 6, {tf_r6}(1)",
    "mflr 0",
    "stw 0, {tf_lr}(1)",
    "mfxer 0",
    "stw 0, {tf_xer}(1)",
    "mfctr 0",
    "stw 0, {tf_ctr}(1)",
    "mfspr 0, 26",
    "stw 0, {tf_srr0}(1)",
    "mfspr 0, 27",
    "stw 0, {tf_srr1}(1)",
    "mfspr 0, 19",
    "stw 0, {tf_dar}(1)",
    "mfspr 0, 18",
    "stw 0, {tf_dsisr}(1)",
    "addi 3, 1, {tf_r0}",
    "bl trap",
    "trap_return:",
    // Interrupts stay off from here to rfi: SRR0/SRR1 must not be clobbered.
    "mfmsr 0",
    "rlwinm 0, 0, 0, 17, 15",
    "mtmsr 0",
    "isync",
    "lwz 0, {tf_lr}(1)",
    "mtlr 0",
    "lwz 0, {tf_xer}(1)",
    "mtxer 0",
    "lwz 0, {tf_ctr}(1)",
    "mtctr 0",
    "lwz 0, {tf_cr}(1)",
    "mtcr 0",
    "lmw 5, {tf_r5}(1)",
    "lwz 2, {tf_r2}(1)",
    "lwz 4, {tf_r4}(1)",
    // Clear RI: a trap between here and rfi could not be returned from.
    "mfmsr 3",
    "rlwinm 3, 3, 0, 31, 29",
    "mtmsr 3",
    "lwz 3, {tf_srr0}(1)",
    "mtspr 26, 3",
    "lwz 3, {tf_srr1}(1)",
    // On the 970 (patched at boot): SRR1's upper word from the MSR, so
    // that rfid keeps MSR[HV] (the frame keeps the lower word only).
    ".globl trap_srr1_hi",
    "trap_srr1_hi:",
    "nop",
    "nop",
    "nop",
    "mtspr 27, 3",
    "lwz 0, {tf_r0}(1)",
    "lwz 3, {tf_r3}(1)",
    "lwz 1, {tf_r1}(1)",
    // rfid on the 970, which has no rfi (patched at boot).
    ".globl trap_rfi",
    "trap_rfi:",
    "rfi",

    // The 970's vectors branch here instead of to trap_entry (patched at
    // boot): interrupts come in 64-bit mode, so MSR[SF] goes first; then
    // a kernel access to the direct map that found no PTE gets one in real
    // mode (`pte_spill_r`, on its own stack, every register kept) and the
    // access is retried; anything else goes on to trap_entry as on the G4.
    // r3 = vector, SPRG1 = interrupted r1, SPRG2 = interrupted r3; SPRG3
    // holds r4 meanwhile.
    ".globl trap_entry64",
    "trap_entry64:",
    "mtspr 275, 4",
    "mfmsr 4",
    ".long 0x78840040",
    ".long 0x7c800164",
    "isync",
    "mfcr 4",
    "stw 4, {sp_cr}(0)",
    "cmplwi 3, {dsi}",
    "beq 1f",
    "cmplwi 3, {isi}",
    "bne 9f",
    "mfspr 4, 27",
    "andis. 4, 4, {notrans_hi}",
    "beq 9f",
    "mfspr 4, 27",
    "andi. 4, 4, {msr_pr}",
    "bne 9f",
    "mfspr 4, 26",
    "b 2f",
    "1:",
    "mfspr 4, 18",
    "andis. 4, 4, {notrans_hi}",
    "beq 9f",
    "mfspr 4, 27",
    "andi. 4, 4, {msr_pr}",
    "bne 9f",
    "mfspr 4, 19",
    "2:",
    "stw 0, {sp_r0}(0)",
    "stw 3, {sp_vec}(0)",
    "stmw 5, {sp_r5}(0)",
    "mflr 0",
    "stw 0, {sp_lr}(0)",
    "mfctr 0",
    "stw 0, {sp_ctr}(0)",
    "mfxer 0",
    "stw 0, {sp_xer}(0)",
    "mr 3, 4",
    "lis 1, spill_stack_top@ha",
    "addi 1, 1, spill_stack_top@l",
    "li 0, 0",
    "stwu 0, -16(1)",
    "stw 0, 4(1)",
    "bl pte_spill_r",
    "mr 4, 3",
    "lwz 0, {sp_lr}(0)",
    "mtlr 0",
    "lwz 0, {sp_ctr}(0)",
    "mtctr 0",
    "lwz 0, {sp_xer}(0)",
    "mtxer 0",
    "lmw 5, {sp_r5}(0)",
    "lwz 0, {sp_r0}(0)",
    "lwz 3, {sp_vec}(0)",
    "cmpwi 4, 0",
    "beq 9f",
    "lwz 4, {sp_cr}(0)",
    "mtcr 4",
    "mfspr 4, 275",
    "mfspr 3, 274",
    "mfspr 1, 273",
    ".long 0x4c000024",
    "9:",
    "lwz 4, {sp_cr}(0)",
    "mtcr 4",
    "mfspr 4, 275",
    "b trap_entry",
    sp_cr = const SPILL_AREA,
    sp_r0 = const SPILL_AREA + 4,
    sp_vec = const SPILL_AREA + 8,
    sp_lr = const SPILL_AREA + 12,
    sp_ctr = const SPILL_AREA + 16,
    sp_xer = const SPILL_AREA + 20,
    sp_r5 = const SPILL_AREA + 32,
    dsi = const EXC_DSI,
    isi = const EXC_ISI,
    notrans_hi = const DSISR_NOTRANS >> 16,
    msr_pr = const 0x4000,
    save_r4 = const SAVE_R4,
    save_r5 = const SAVE_R5,
    stack_bottom = const super::vm_machdep::TRAP_STACK_BOTTOM,
    stack_overflow = const super::vm_machdep::TRAP_STACK_OVERFLOW,
    tf_stack = const TRAPFRAME_STACK,
    margin = const TRAP_HANDLER_MARGIN,
    tf_r0 = const tf_reg(0),
    tf_r1 = const tf_reg(1),
    tf_r2 = const tf_reg(2),
    tf_r3 = const tf_reg(3),
    tf_r4 = const tf_reg(4),
    tf_r5 = const tf_reg(5),
    tf_r6 = const tf_reg(6),
    tf_lr = const tf_off(offset_of!(TrapFrame, lr)),
    tf_cr = const tf_off(offset_of!(TrapFrame, cr)),
    tf_xer = const tf_off(offset_of!(TrapFrame, xer)),
    tf_ctr = const tf_off(offset_of!(TrapFrame, ctr)),
    tf_srr0 = const tf_off(offset_of!(TrapFrame, srr0)),
    tf_srr1 = const tf_off(offset_of!(TrapFrame, srr1)),
    tf_dar = const tf_off(offset_of!(TrapFrame, dar)),
    tf_dsisr = const tf_off(offset_of!(TrapFrame, dsisr)),
    tf_exc = const tf_off(offset_of!(TrapFrame, exc)),
);

extern "C" {
    static vec_start: u8;
    static vec_end: u8;
    static trap_return: u8;
}

/// Address a trap() call returns to: a stack walk that finds it knows the
/// next frame is a trap frame.
pub fn trap_return_addr() -> u32 {
    core::ptr::addr_of!(trap_return) as u32
}

/// Copies the vector block over Open Firmware's vectors at physical 0x100.
pub fn install_vectors() {
    // SAFETY: vec_start..vec_end is the assembled block above; physical
    // 0x100..0x3000 is the vector area, mapped 1:1 (BAT, or real mode on
    // the 970) and owned by the kernel once it has taken over from Open
    // Firmware.
    unsafe {
        let start = core::ptr::addr_of!(vec_start);
        let len = core::ptr::addr_of!(vec_end) as usize - start as usize;
        core::ptr::copy_nonoverlapping(start.add(0x100), 0x100 as *mut u8, len - 0x100);
    }
    if cpu::ppc_proc_is_64b() {
        patch_for_970();
    }
    cpu::sync_icache(0x100, 0x2f00);
}

/// The 970's instructions where the G4's would not do, written over them
/// once at boot (OpenBSD does the converse: its vectors carry the 64-bit
/// sequences, which it overwrites with nops on a 32-bit CPU, and it turns
/// its returns' rfi into rfid on a 970): each vector's branch goes to
/// trap_entry64, the return keeps MSR's upper word and ends in rfid.
fn patch_for_970() {
    extern "C" {
        static trap_entry64: u8;
        static trap_srr1_hi: u8;
        static trap_rfi: u8;
    }
    /// `ba target`.
    fn ba(target: u32) -> u32 {
        0x4800_0002 | (target & 0x03ff_fffc)
    }
    let to = core::ptr::addr_of!(trap_entry64) as u32;
    let srr1_hi = core::ptr::addr_of!(trap_srr1_hi) as u32;
    let rfi = core::ptr::addr_of!(trap_rfi) as u32;
    let put = |at: u32, w: u32| {
        // SAFETY: `at` is a word of the kernel's own trap code (copied to
        // low memory or in .text), patched before any trap can run it.
        unsafe { core::ptr::write_volatile(at as *mut u32, w) };
        cpu::sync_icache(at as usize, 4);
    };
    // Every vector: mtspr, mtspr, li, ba trap_entry; the fourth changes.
    let mut v = 0x100;
    while v < 0x3000 {
        put(v + 12, ba(to));
        v += 0x100;
    }
    put(0xf20 + 12, ba(to));
    // mfmsr 0; rldicr 0,0,0,31; or 3,3,0
    put(srr1_hi, 0x7c00_00a6);
    put(srr1_hi + 4, 0x7800_07c4);
    put(srr1_hi + 8, 0x7c63_0378);
    put(rfi, 0x4c00_0024);
}

/// Kernel code can catch an expected trap (a self-test's `sc` or `trap`)
/// by installing a hook; it returns true when it handled the trap.
pub type TrapHook = fn(&mut TrapFrame) -> bool;
static TRAP_HOOK: spin::Mutex<Option<TrapHook>> = spin::Mutex::new(None);

pub fn set_trap_hook(h: Option<TrapHook>) {
    cpu::with_interrupts_disabled(|| *TRAP_HOOK.lock() = h);
}

#[no_mangle]
extern "C" fn trap(tf: &mut TrapFrame) {
    // The nap that idle() started ends with this interrupt.
    tf.srr1 &= !Msr::POW.bits();
    if super::vm_machdep::take_stack_overflow() {
        crate::kern::subr_prf::panic_stack_overflow(tf);
    }
    // A mapping the hardware table had to evict faults once; reload it.
    let spill_va = match tf.exc {
        EXC_DSI if tf.dsisr & DSISR_NOTRANS != 0 => Some(tf.dar),
        EXC_ISI if tf.srr1 & DSISR_NOTRANS != 0 => Some(tf.srr0),
        _ => None,
    };
    if spill_va.is_some_and(super::pmap::pte_spill) {
        return;
    }
    if tf.srr1 & Msr::PR.bits() != 0 {
        return user_trap(tf);
    }
    match tf.exc {
        EXC_EXI => intr::external_intr(tf),
        EXC_DECR => intr::decr_intr(tf),
        _ => {
            let hook = *TRAP_HOOK.lock();
            if hook.is_some_and(|h| h(tf)) {
                return;
            }
            crate::kern::subr_prf::panic_trap(tf);
        }
    }
}

/// A trap from user mode: system calls, page faults that uvm_fault may
/// resolve, interrupts; anything else kills the process, never the kernel.
fn user_trap(tf: &mut TrapFrame) {
    use super::pmap::Prot;
    use crate::kern::kern_proc::sched_lock;
    use crate::sys::syscalls::{SIGBUS, SIGILL, SIGSEGV};
    let fault = |va: u32, access: Prot| {
        let pid = sched_lock().curproc;
        // Reading a file page in sleeps: the clock and rd must run.
        cpu::intr_restore(true);
        crate::uvm::uvm_map::uvm_fault(pid, va, access)
    };
    match tf.exc {
        EXC_EXI => intr::external_intr(tf),
        EXC_DECR => intr::decr_intr(tf),
        EXC_SC => crate::kern::init_sysent::syscall(tf),
        EXC_DSI => {
            let access = if tf.dsisr & DSISR_STORE != 0 { Prot::WRITE } else { Prot::READ };
            match fault(tf.dar, access) {
                Ok(()) => {}
                Err(crate::sys::errno::Errno::EIO) => user_kill(tf, SIGBUS, "bus error (no such page of the mapped object)", tf.dar),
                Err(crate::sys::errno::Errno::ENOMEM) => out_of_swap(),
                Err(_) => user_kill(tf, SIGSEGV, "segmentation fault", tf.dar),
            }
        }
        EXC_ISI => {
            if fault(tf.srr0, Prot::EXECUTE).is_err() {
                user_kill(tf, SIGSEGV, "segmentation fault (instruction fetch)", tf.srr0);
            }
        }
        EXC_ALI => user_kill(tf, SIGBUS, "alignment fault", tf.dar),
        EXC_PGM => user_kill(tf, SIGILL, "illegal instruction", tf.srr0),
        other => user_kill(tf, SIGILL, exc_name(other), tf.srr0),
    }
    userret();
}

/// Ends the running process with `sig`, after `say(pid, name)` printed
/// why on the console.
fn exit_killed(sig: i32, say: impl FnOnce(u32, &str)) -> ! {
    let (pid, name) = {
        let mut st = crate::kern::kern_proc::sched_lock();
        let p = st.cur();
        (p.p_tid, p.p_comm.clone())
    };
    say(pid, &name);
    drop(name);
    crate::kern::kern_exit::exit1(crate::sys::syscalls::w_exitcode(0, sig))
}

/// Ends a process whose trap cannot be served, saying why (its "signal").
fn user_kill(tf: &TrapFrame, sig: i32, what: &str, addr: u32) -> ! {
    exit_killed(sig, |pid, name| crate::printf!("pid {pid} ({name}): {what} at pc {:#x}, address {addr:#x}; killed\n", tf.srr0))
}

/// A fault that found no free page however long it waited: with no swap
/// there is nothing to page anonymous memory out to, so the process goes,
/// with OpenBSD's console line, and the kernel carries on.
fn out_of_swap() -> ! {
    exit_killed(crate::sys::syscalls::SIGKILL, |pid, name| crate::printf!("UVM: pid {pid} ({name}), uid 0 killed: out of swap\n"))
}

/// On the way back to user mode: the scheduler may switch here.
fn userret() {
    crate::kern::kern_sched::sched_userret();
}
