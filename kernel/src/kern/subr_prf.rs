//! Console output (`printf!`) and `panic`.

use crate::arch::trap::{exc_name, TrapFrame};
use crate::arch::{cpu, db_trace, intr::Ipl, machdep};
use crate::dev::escc;
use crate::kern::kern_mutex::Mutex;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};

/// Unlocked console writer; `printf!` serialises through PRF, the panic
/// path uses it bare so a panic inside a printf still gets its message out.
pub struct Cons;

impl Write for Cons {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        s.bytes().for_each(escc::cnputc);
        Ok(())
    }
}

static PRF: Mutex<()> = Mutex::new(Ipl::High, ());

pub fn _printf(args: fmt::Arguments<'_>) {
    let _g = PRF.lock();
    let _ = Cons.write_fmt(args);
}

/// Raw bytes to the console (a user program's write).
pub fn cons_write_bytes(b: &[u8]) {
    let _g = PRF.lock();
    b.iter().copied().for_each(escc::cnputc);
}

/// Kernel printf with Rust formatting.
#[macro_export]
macro_rules! printf {
    ($($arg:tt)*) => { $crate::kern::subr_prf::_printf(format_args!($($arg)*)) };
}

static PANICKING: AtomicBool = AtomicBool::new(false);
static DDB_ON_PANIC: AtomicBool = AtomicBool::new(false);

pub fn set_ddb_on_panic(on: bool) {
    DDB_ON_PANIC.store(on, Ordering::Relaxed);
}

/// Frames at the top of a panic's stack that belong to the panic itself.
pub const PANIC_FRAMES: &[&str] = &[
    "db_stack_trace_print",
    "panic_common",
    "panic_trap",
    "rust_begin_unwind",
    "panic_fmt",
    "panic",
    "panic_display",
    "panic_explicit",
    "panic_bounds_check",
    "panic_nounwind",
    "panic_cold_explicit",
    "panic_cold_display",
    "unwrap_failed",
    "expect_failed",
    "do_panic",
    "runtime",
];

fn dump_registers(tf: &TrapFrame) {
    let mut c = Cons;
    let _ = writeln!(c, "srr0 {:#010x} srr1 {:#010x} lr {:#010x} ctr {:#010x} cr {:#010x} xer {:#010x}", tf.srr0, tf.srr1, tf.lr, tf.ctr, tf.cr, tf.xer);
    let _ = writeln!(c, "dar {:#010x} dsisr {:#010x}", tf.dar, tf.dsisr);
    for row in 0..8 {
        let r = row * 4;
        let _ = writeln!(
            c,
            "r{:<2} {:#010x}  r{:<2} {:#010x}  r{:<2} {:#010x}  r{:<2} {:#010x}",
            r,
            tf.fixreg[r],
            r + 1,
            tf.fixreg[r + 1],
            r + 2,
            tf.fixreg[r + 2],
            r + 3,
            tf.fixreg[r + 3]
        );
    }
}

/// OpenBSD panic(): message, registers of a trap, ddb-style trace, then
/// the debugger or a "panicked" exit. A panic during a panic prints its
/// message and stops at once.
#[inline(never)]
pub fn panic_common(msg: &dyn fmt::Display, tf: Option<&TrapFrame>) -> ! {
    cpu::intr_disable();
    let mut c = Cons;
    if PANICKING.swap(true, Ordering::Relaxed) {
        let _ = writeln!(c, "\npanic: recursive panic: {msg}");
        machdep::boot_panicked();
    }
    let _ = writeln!(c, "panic: {msg}");
    crate::diag::vfs_hist::print_uptime(&mut c, "panic");
    if let Some(tf) = tf {
        dump_registers(tf);
    }
    db_trace::db_stack_trace_print(PANIC_FRAMES, &mut c);
    crate::ddb::db_uvm::db_show_panic_vnode(&mut c);
    if DDB_ON_PANIC.load(Ordering::Relaxed) {
        crate::ddb::db_command::db_command_loop(tf);
    }
    crate::kern::kern_proc::db_show_procs(&mut c);
    crate::kern::kern_sched::sched_pct_report(&mut c);
    machdep::boot_panicked();
}

/// An exception no one handles: a kernel bug, reported with the trap type.
pub fn panic_trap(tf: &mut TrapFrame) -> ! {
    struct TrapMsg(u32, u32, u32);
    impl fmt::Display for TrapMsg {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "trap type {:#x} ({}) at pc {:#x}", self.0, exc_name(self.0), self.1)?;
            if matches!(self.0, 0x300 | 0x600) {
                write!(f, ", dar {:#x}", self.2)?;
            }
            Ok(())
        }
    }
    panic_common(&TrapMsg(tf.exc, tf.srr0, tf.dar), Some(tf))
}

/// A trap found the stack pointer at (or within 1 KiB of) its stack's
/// guard page: trap_entry moved to the emergency stack to get here.
pub fn panic_stack_overflow(tf: &mut TrapFrame) -> ! {
    struct Msg(u32, u32, u32, u32);
    impl fmt::Display for Msg {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "kernel stack overflow: r1 {:#x}, stack bottom {:#x} (trap type {:#x} at pc {:#x})", self.0, self.1, self.2, self.3)
        }
    }
    let bottom = crate::arch::vm_machdep::stack_bottom();
    panic_common(&Msg(tf.fixreg[1], bottom, tf.exc, tf.srr0), Some(tf))
}

#[panic_handler]
fn rust_panic(info: &core::panic::PanicInfo<'_>) -> ! {
    panic_common(&info.message(), None)
}
