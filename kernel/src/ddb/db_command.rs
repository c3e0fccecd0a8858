//! A small ddb prompt, entered on panic with `ddb=1`. It polls the console
//! since interrupts stay off after a panic.

use crate::arch::powerpc::{db_trace, machdep, trap::TrapFrame};
use crate::dev::escc;
use crate::kern::subr_prf::{Cons, PANIC_FRAMES};
use core::fmt::Write;

fn readline(buf: &mut [u8]) -> &str {
    let mut n = 0;
    loop {
        let c = escc::cngetc_poll();
        match c {
            b'\r' | b'\n' => {
                escc::cnputc(b'\n');
                break;
            }
            0x08 | 0x7f if n > 0 => {
                n -= 1;
                let _ = Cons.write_str("\x08 \x08");
            }
            c if (0x20..0x7f).contains(&c) && n < buf.len() => {
                buf[n] = c;
                n += 1;
                escc::cnputc(c);
            }
            _ => {}
        }
    }
    core::str::from_utf8(&buf[..n]).unwrap_or("").trim()
}

pub fn db_command_loop(tf: Option<&TrapFrame>) {
    let mut buf = [0u8; 80];
    loop {
        let _ = write!(Cons, "ddb> ");
        match readline(&mut buf) {
            "" => {}
            "trace" | "bt" => {
                db_trace::db_stack_trace_print(PANIC_FRAMES, &mut Cons);
            }
            "ps" => crate::kern::kern_proc::db_show_procs(&mut Cons),
            "show uvmexp" => db_show_uvmexp(),
            cmd if cmd.starts_with("trace /t") => db_trace_thread(cmd["trace /t".len()..].trim()),
            "show registers" => match tf {
                Some(tf) => {
                    let _ = writeln!(Cons, "{tf:#x?}");
                }
                None => {
                    let _ = writeln!(Cons, "no trap frame: this panic was not a trap");
                }
            },
            "continue" | "c" => return,
            "boot halt" | "halt" => machdep::boot_halt(),
            "boot reboot" | "reboot" => machdep::boot_panicked(),
            "help" => {
                let _ = writeln!(Cons, "commands: trace, trace /t <tid>, ps, show registers, show uvmexp, continue, halt, reboot");
            }
            other => {
                let _ = writeln!(Cons, "unknown command '{other}' (try help)");
            }
        }
    }
}

/// `trace /t <tid>`: the stack of a thread that is switched out.
fn db_trace_thread(arg: &str) {
    let Ok(tid) = arg.parse::<u32>() else {
        let _ = writeln!(Cons, "usage: trace /t <tid>");
        return;
    };
    match crate::kern::kern_proc::proc_saved_sp(tid) {
        Some(sp) => {
            db_trace::db_stack_trace_from(sp, &[], &mut Cons);
        }
        None => {
            let _ = writeln!(Cons, "no switched-out thread {tid} (the running one: use trace)");
        }
    }
}

/// `show uvmexp`: page counts and paging targets.
fn db_show_uvmexp() {
    match crate::uvm::uvm_page::uvmexp_try() {
        Some(e) => {
            let _ = writeln!(
                Cons,
                "npages {} free {} active {} inactive {} wired {} paging {}\nfreemin {} freetarg {} inactarg {}",
                e.npages, e.free, e.active, e.inactive, e.wired, e.paging, e.freemin, e.freetarg, e.inactarg
            );
        }
        None => {
            let _ = writeln!(Cons, "uvmexp: page queues locked or not set up");
        }
    }
}
