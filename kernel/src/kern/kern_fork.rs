//! fork (OpenBSD kern_fork.c): a child with a copy of the parent's address
//! space that returns to user mode from the same system call with 0.

use crate::arch::trap::TrapFrame;
use crate::arch::vm_machdep;
use crate::kern::kern_proc::sched_lock;
use crate::kern::kern_sched::kthread_create_raw;
use crate::sys::errno::Errno;
use crate::sys::syscalls::CR0_SO;
use crate::uvm::uvm_map;
use alloc::boxed::Box;
use core::sync::atomic::{AtomicU32, Ordering};

extern "C" fn fork_return(arg: usize) {
    // The frame is moved out and its box freed within this statement:
    // cpu_enter_user never returns, so a box still alive at the call would
    // never be freed (164 bytes lost per fork).
    // SAFETY: `arg` is the Box::into_raw of sys_fork below, consumed once.
    let tf: TrapFrame = *unsafe { Box::from_raw(arg as *mut TrapFrame) };
    // child_return lets the kernel lock go (powerpc trap.c 1.121.2.1:564).
    crate::kern::kern_lock::KERNEL_UNLOCK();
    vm_machdep::cpu_enter_user(&tf)
}

/// kern.maxproc: the most threads and processes at once.
static MAXPROC: AtomicU32 = AtomicU32::new(1310);

pub fn set_maxproc(n: u32) {
    MAXPROC.store(n, Ordering::Relaxed);
}

/// Creates the child; returns its pid to the parent. EAGAIN at
/// kern.maxproc, as OpenBSD's fork1 answers at its process limit.
pub fn sys_fork(tf: &TrapFrame) -> Result<u32, Errno> {
    let (me, name, dlimit) = {
        let mut st = sched_lock();
        if st.procs.len() >= MAXPROC.load(Ordering::Relaxed) as usize {
            return Err(Errno::EAGAIN);
        }
        let p = st.cur();
        (p.p_tid, p.p_comm.clone(), p.p_rlimit_data)
    };
    let (vs, refs) = uvm_map::with_vmspace(me, |vs| vs.uvmspace_fork()).ok_or(Errno::EINVAL)??;
    refs.into_iter().for_each(crate::uvm::uvm_vnode::uvn_reference);
    let mut ctf = *tf;
    ctf.fixreg[3] = 0;
    ctf.cr &= !CR0_SO;
    let arg = Box::into_raw(Box::new(ctf));
    let Some(child) = kthread_create_raw(&name, fork_return, arg as usize, false) else {
        // SAFETY: the thread was not created, so nothing else owns `arg`.
        drop(unsafe { Box::from_raw(arg) });
        vs.uvmspace_free();
        return Err(Errno::ENOMEM);
    };
    let pmap = vs.pmap;
    uvm_map::vmspace_replace(child, vs);
    crate::kern::kern_descrip::fdcopy(me, child);
    let mut st = sched_lock();
    st.get(child).p_pmap = Some(pmap);
    st.get(child).p_rlimit_data = dlimit;
    st.setrunnable(child);
    Ok(child)
}
