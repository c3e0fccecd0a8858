//! Process exit and wait (OpenBSD kern_exit.c).

use crate::arch::cpu;
use crate::kern::kern_proc::{proc_wchan, sched_lock, ProcStat};
use crate::kern::kern_sched::mi_switch;
use crate::kern::kern_synch::{tsleep, wakeup};
use crate::sys::errno::Errno;
use crate::sys::syscalls::{WCONTINUED, WNOHANG, WUNTRACED};
use crate::uvm::uvm_map;

/// Ends the running process (OpenBSD exit1): frees its address space,
/// hands its children to init (or the swapper), leaves a zombie for the
/// parent to collect, and switches away for good. The heir is woken too,
/// in case an orphan is already a zombie.
pub fn exit1(xstat: i32) -> ! {
    let me = sched_lock().curproc;
    crate::kern::kern_descrip::fdfree(me);
    if let Some(vs) = uvm_map::vmspace_remove(me) {
        vs.uvmspace_free();
    }
    cpu::intr_disable();
    let (parent, heir) = {
        let mut st = sched_lock();
        let heir = if st.initproc != me && st.procs.contains_key(&st.initproc) { st.initproc } else { 0 };
        let orphans: alloc::vec::Vec<u32> = st.procs.values().filter(|p| p.p_ppid == me).map(|p| p.p_tid).collect();
        for t in orphans {
            st.get(t).p_ppid = heir;
        }
        let p = st.cur();
        p.p_stat = ProcStat::SZOMB;
        p.p_xstat = xstat;
        p.p_pmap = None;
        let parent = p.p_ppid;
        st.deadprocs.push(me);
        (parent, heir)
    };
    wakeup(proc_wchan(parent));
    wakeup(proc_wchan(heir));
    mi_switch();
    panic!("exit1: a zombie was run again");
}

/// Collects an exited child of the running process (`pid`, or any child
/// with -1), sleeping until there is one: (pid, status). ECHILD when there
/// is no such child at all.
pub fn dowait4(pid: i32) -> Result<(u32, i32), Errno> {
    dowait4_opts(pid, false).map(|r| r.expect("dowait4: a wait that sleeps returned nothing"))
}

/// dowait4 that, with `nohang` (WNOHANG), returns None instead of sleeping
/// when the children it may collect are all still running.
pub fn dowait4_opts(pid: i32, nohang: bool) -> Result<Option<(u32, i32)>, Errno> {
    let me = sched_lock().curproc;
    loop {
        {
            let mut st = sched_lock();
            let mine = |t: u32, ppid: u32| ppid == me && (pid == -1 || pid as u32 == t);
            let mut any = false;
            let mut zombie = None;
            for p in st.procs.values() {
                if mine(p.p_tid, p.p_ppid) {
                    any = true;
                    if p.p_stat == ProcStat::SZOMB && p.p_kstack.is_none() {
                        zombie = Some((p.p_tid, p.p_xstat));
                        break;
                    }
                }
            }
            if let Some((t, x)) = zombie {
                st.proc_remove(t);
                return Ok(Some((t, x)));
            }
            if !any {
                return Err(Errno::ECHILD);
            }
            if nohang {
                return Ok(None);
            }
        }
        // The exiting child's stack is freed (sched_reap) before this
        // thread runs again, so a woken parent finds a collectable zombie.
        let _ = tsleep(proc_wchan(me), "wait", 0);
    }
}

/// wait4(pid, status, options, rusage). Options other than OpenBSD's
/// WNOHANG, WUNTRACED and WCONTINUED are EINVAL; with no job control the
/// last two change nothing. There is no resource accounting, so `rusage`
/// is not written.
pub fn sys_wait4(pid: i32, status: u32, options: u32) -> Result<u32, Errno> {
    if options & !(WNOHANG | WUNTRACED | WCONTINUED) != 0 {
        return Err(Errno::EINVAL);
    }
    let Some((child, xstat)) = dowait4_opts(pid, options & WNOHANG != 0)? else {
        return Ok(0);
    };
    if status != 0 {
        uvm_map::copyout(&xstat.to_be_bytes(), status)?;
    }
    Ok(child)
}
