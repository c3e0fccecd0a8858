//! A small ddb prompt, entered on panic with `ddb=1`. It polls the console
//! since interrupts stay off after a panic.

use crate::arch::{db_trace, machdep, trap::TrapFrame};
use crate::dev::escc;
use crate::kern::subr_prf::{Cons, PANIC_FRAMES};
use core::fmt::Write;
use core::sync::atomic::{AtomicUsize, Ordering};

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
            cmd if cmd.starts_with("show ") => db_show(&cmd["show ".len()..]),
            "continue" | "c" => return,
            "boot halt" | "halt" => machdep::boot_halt(),
            "boot reboot" | "reboot" => machdep::boot_panicked(),
            "help" => {
                let _ = writeln!(
                    Cons,
                    "commands: trace, trace /t <tid>, ps, show registers, show uvmexp, show vnode [/f] [addr|n], show vnode history [n],\n  show object [vnode addr|n], show page <addr|.>, show buf <n>, show all vnodes [/f], show all bufs, continue, halt, reboot"
                );
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

/// `show uvmexp`: page counts, paging targets, and the pagedaemon's
/// counters (OpenBSD's pdrevs, pdpageouts, pdfreed).
fn db_show_uvmexp() {
    match crate::uvm::uvm_page::uvmexp_try() {
        Some(e) => {
            let _ = writeln!(
                Cons,
                "npages {} free {} active {} inactive {} wired {} paging {}\nfreemin {} freetarg {} inactarg {}\npdrevs {} pdpageouts {} pdfreed {}",
                e.npages, e.free, e.active, e.inactive, e.wired, e.paging, e.freemin, e.freetarg, e.inactarg, e.pdrevs, e.pdpageouts, e.pdfreed
            );
        }
        None => {
            let _ = writeln!(Cons, "uvmexp: page queues locked or not set up");
        }
    }
}

/// ddb's dot: the last address examined (the first page `show object`
/// listed), which `show page .` shows.
static DOT: AtomicUsize = AtomicUsize::new(0);

pub fn db_set_dot(addr: usize) {
    DOT.store(addr, Ordering::Relaxed);
}

/// Splits an optional leading `/f` (OpenBSD's full-output modifier) off
/// the arguments.
fn modifier_f(args: &str) -> (bool, &str) {
    match args.trim().strip_prefix("/f") {
        Some(rest) => (true, rest.trim()),
        None => (false, args.trim()),
    }
}

/// The `show` commands about vnodes, objects, pages and buffers.
fn db_show(what: &str) {
    use crate::diag::vfs_hist;
    use crate::kern::{vfs_bio, vfs_subr};
    let out = &mut Cons;
    // No argument, or ".": the vnode the panic named.
    let panic_vid = crate::uvm::uvm_vnode::uvm_panic_vnode_id();
    let dflt = |arg: &str| if arg.is_empty() || arg == "." { alloc::format!("{panic_vid}") } else { alloc::string::String::from(arg) };
    let vnode = |arg: &str| {
        let arg = &dflt(arg);
        let vp = vfs_subr::db_vnode_arg(arg);
        if vp.is_none() {
            let _ = writeln!(Cons, "no vnode '{arg}' (a number, or an address as 0x…)");
        }
        vp
    };
    if let Some(arg) = what.strip_prefix("vnode history") {
        match dflt(arg.trim()).parse::<u32>() {
            Ok(n) => vfs_hist::vhist_print(out, n),
            Err(_) => {
                let _ = writeln!(out, "usage: show vnode history <n>");
            }
        }
    } else if let Some(args) = what.strip_prefix("vnode") {
        let (full, arg) = modifier_f(args);
        if let Some(vp) = vnode(arg) {
            vfs_subr::vfs_vnode_print(out, vp, full);
        }
    } else if let Some(arg) = what.strip_prefix("object") {
        if let Some(vp) = vnode(arg.trim()) {
            crate::ddb::db_uvm::uvm_object_printit(out, vp, true);
        }
    } else if let Some(arg) = what.strip_prefix("page ") {
        let arg = arg.trim();
        let addr = if arg == "." { Some(DOT.load(Ordering::Relaxed)) } else { arg.strip_prefix("0x").and_then(|h| usize::from_str_radix(h, 16).ok()) };
        match addr.and_then(crate::uvm::uvm_page::db_page_lookup) {
            Some(pg) => crate::uvm::uvm_page::uvm_page_printit(out, pg),
            None => {
                let _ = writeln!(out, "no page at '{arg}' (the address show object prints)");
            }
        }
    } else if let Some(arg) = what.strip_prefix("buf ") {
        match arg.trim().parse::<usize>() {
            Ok(n) => vfs_bio::vfs_buf_print(out, n),
            Err(_) => {
                let _ = writeln!(out, "usage: show buf <n> (as show all bufs numbers them)");
            }
        }
    } else if let Some(args) = what.strip_prefix("all vnodes") {
        vfs_subr::db_show_all_vnodes(out, modifier_f(args).0);
    } else if what == "all bufs" {
        vfs_bio::db_show_all_bufs(out);
    } else {
        let _ = writeln!(out, "unknown command 'show {what}' (try help)");
    }
}
