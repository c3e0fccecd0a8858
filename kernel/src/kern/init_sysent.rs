//! The system-call table (OpenBSD init_sysent.c and the machine-dependent
//! entry in trap.c): number in r0, arguments in r3–r8, the result in r3,
//! and on failure CR0[SO] set with the errno in r3.

use crate::arch::trap::TrapFrame;
use crate::arch::{cpu, machdep};
use crate::kern::kern_exec::{self, ARG_MAX, ARG_MAX_COUNT};
use crate::kern::kern_exit::{dowait4_opts, exit1};
use crate::kern::kern_fork::sys_fork;
use crate::kern::kern_proc::sched_lock;
use crate::kern::kern_sched::yield_cpu;
use crate::kern::{init_main, kern_ktrace, subr_prf, vfs_lookup, vfs_subr, vfs_syscalls, vfs_vnops};
use crate::printf;
use crate::sys::errno::Errno;
use crate::sys::syscalls::*;
use crate::sys::vnode::{LkFlags, VType};
use crate::uvm::uvm_extern::Prot;
use crate::uvm::uvm_map::{with_vmspace, MapObj, VmSpace};
use crate::uvm::uvm_page::{round_page, PAGE_SIZE};
use crate::uvm::uvm_vnode;
use alloc::vec::Vec;

/// Where mmap looks for space when given no address.
const MMAP_BASE: u32 = 0x4000_0000;

fn curpid() -> u32 {
    sched_lock().curproc
}

fn vm<R>(f: impl FnOnce(&mut VmSpace) -> Result<R, Errno>) -> Result<R, Errno> {
    with_vmspace(curpid(), f).unwrap_or(Err(Errno::EFAULT))
}

/// Runs a copy between the kernel and the current process's `len` bytes at
/// `uva`. A page that is not resident (a file page not read in yet) fails
/// the copy, since reading it sleeps and the address space is locked during
/// the copy: it is faulted in with nothing locked, as OpenBSD's copyin and
/// copyout fault, and the copy tried again. An address no fault can
/// resolve is EFAULT.
fn user_copy(uva: u32, len: usize, access: Prot, mut f: impl FnMut(&mut VmSpace) -> Result<(), Errno>) -> Result<(), Errno> {
    const TRIES: usize = 4;
    for _ in 0..TRIES {
        match vm(&mut f) {
            Err(Errno::EFAULT) => {}
            r => return r,
        }
        let end = uva.checked_add(len as u32).ok_or(Errno::EFAULT)?;
        let mut va = uva & !(PAGE_SIZE - 1);
        while va < end {
            crate::uvm::uvm_map::uvm_fault(curpid(), va, access).map_err(|_| Errno::EFAULT)?;
            va += PAGE_SIZE;
        }
    }
    // Faulted in each time and gone again before the copy: memory that
    // the pagedaemon takes faster than this can use it.
    Err(Errno::EFAULT)
}

fn copyout(buf: &[u8], uva: u32) -> Result<(), Errno> {
    user_copy(uva, buf.len(), Prot::WRITE, |vs| vs.copyout(buf, uva))
}

fn copyin(uva: u32, buf: &mut [u8]) -> Result<(), Errno> {
    let len = buf.len();
    user_copy(uva, len, Prot::READ, |vs| vs.copyin(uva, buf))
}

/// Runs the system call in `tf` and stores its result there.
pub fn syscall(tf: &mut TrapFrame) {
    // System calls may run long and sleep; the clock must keep going.
    cpu::intr_restore(true);
    let code = tf.fixreg[0];
    let a = [tf.fixreg[3], tf.fixreg[4], tf.fixreg[5], tf.fixreg[6], tf.fixreg[7], tf.fixreg[8]];
    let ktr = kern_ktrace::ktrsyscall(curpid(), code, &a);
    let r = match code {
        SYS_EXIT => exit1(w_exitcode(a[0] as i32, 0)),
        SYS_FORK => sys_fork(tf),
        SYS_WRITE if a[0] < 3 => sys_write(a[0], a[1], a[2]),
        SYS_WRITE => vfs_syscalls::sys_write_file(curpid(), a[0], a[1], a[2], copyin),
        SYS_READ => {
            let pid = curpid();
            vfs_syscalls::sys_read_file(pid, a[0], a[1], a[2], copyout)
        }
        SYS_OPEN => path_in(a[0]).and_then(|path| vfs_syscalls::doopenat(curpid(), &path, a[1], a[2])),
        SYS_OPENAT if a[0] as i32 != AT_FDCWD => Err(Errno::EBADF),
        SYS_OPENAT => path_in(a[1]).and_then(|path| vfs_syscalls::doopenat(curpid(), &path, a[2], a[3])),
        SYS_UNLINK => path_in(a[0]).and_then(|p| vfs_syscalls::sys_unlink(&p)),
        SYS_MKDIR => path_in(a[0]).and_then(|p| vfs_syscalls::sys_mkdir(&p, a[1])),
        SYS_RMDIR => path_in(a[0]).and_then(|p| vfs_syscalls::sys_rmdir(&p)),
        SYS_RENAME => path_in(a[0]).and_then(|f| path_in(a[1]).and_then(|t| vfs_syscalls::sys_rename(&f, &t))),
        SYS_FSYNC => vfs_syscalls::sys_fsync(curpid(), a[0]),
        SYS_SYNC => vfs_syscalls::sys_sync(),
        // ftruncate(fd, pad, length): the 64-bit length in a register pair.
        SYS_FTRUNCATE if a[2] != 0 => Err(Errno::EFBIG),
        SYS_FTRUNCATE => vfs_syscalls::sys_ftruncate(curpid(), a[0], a[3]),
        SYS_CLOSE => vfs_syscalls::sys_close(curpid(), a[0]),
        SYS_GETDENTS => vfs_syscalls::sys_getdents(curpid(), a[0], a[2].min(64 * 1024)).and_then(|b| copyout(&b, a[1]).map(|_| b.len() as u32)),
        SYS_LSEEK => vfs_syscalls::sys_lseek(curpid(), a[0], a[1] as i32, a[2]),
        SYS_FSTAT => vfs_syscalls::sys_fstat(curpid(), a[0]).and_then(|st| {
            let mut b = [0u8; 12];
            for (i, w) in st.iter().enumerate() {
                b[4 * i..4 * i + 4].copy_from_slice(&w.to_be_bytes());
            }
            copyout(&b, a[1]).map(|_| 0)
        }),
        SYS_WAIT4 => sys_wait4(a[0] as i32, a[1], a[2]),
        SYS_GETPID => Ok(curpid()),
        SYS_GETPPID => {
            let mut st = sched_lock();
            Ok(st.cur().p_ppid)
        }
        SYS_REBOOT => {
            printf!("reboot: halting at the request of pid {}\n", curpid());
            vfs_subr::vfs_shutdown();
            machdep::boot_halt()
        }
        SYS_EXECVE => sys_execve(tf, a[0], a[1]),
        SYS_MUNMAP => sys_munmap(a[0], a[1]),
        SYS_CLOCK_GETTIME => sys_clock_gettime(a[1]),
        SYS_MMAP => sys_mmap(a[0], a[1], a[2], a[3], a[4], a[5]),
        SYS_MSYNC => sys_msync(a[0], a[1]),
        SYS_SCHED_YIELD => {
            yield_cpu();
            Ok(0)
        }
        SYS_NANOSLEEP => sys_nanosleep(a[0]),
        SYS_SYSCTL => sys_sysctl(a[0], a[1], a[2]),
        _ => Err(Errno::ENOSYS),
    };
    kern_ktrace::ktrsysret(ktr, r);
    match r {
        Ok(v) => {
            tf.fixreg[3] = v;
            tf.cr &= !CR0_SO;
        }
        Err(e) => {
            tf.fixreg[3] = e as u32;
            tf.cr |= CR0_SO;
        }
    }
}

/// A path argument, copied in.
fn path_in(uaddr: u32) -> Result<Vec<u8>, Errno> {
    vm(|vs| vs.copyinstr(uaddr, vfs_lookup::MAXPATHLEN))
}

/// write(2) to the console (descriptors 1 and 2).
fn sys_write(fd: u32, buf: u32, len: u32) -> Result<u32, Errno> {
    if fd != 1 && fd != 2 {
        return Err(Errno::EBADF);
    }
    let len = len.min(64 * 1024);
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(chunk.len() as u32) as usize;
        copyin(buf.wrapping_add(done), &mut chunk[..n])?;
        subr_prf::cons_write_bytes(&chunk[..n]);
        done += n as u32;
    }
    Ok(len)
}

/// wait4(pid, status, options, rusage). Options other than OpenBSD's
/// WNOHANG, WUNTRACED and WCONTINUED are EINVAL; with no job control the
/// last two change nothing. There is no resource accounting, so `rusage`
/// is not written.
fn sys_wait4(pid: i32, status: u32, options: u32) -> Result<u32, Errno> {
    if options & !(WNOHANG | WUNTRACED | WCONTINUED) != 0 {
        return Err(Errno::EINVAL);
    }
    let Some((child, xstat)) = dowait4_opts(pid, options & WNOHANG != 0)? else {
        return Ok(0);
    };
    if status != 0 {
        copyout(&xstat.to_be_bytes(), status)?;
    }
    Ok(child)
}

fn sys_execve(tf: &mut TrapFrame, path: u32, argv: u32) -> Result<u32, Errno> {
    let (path, args) = vm(|vs| {
        let path = vs.copyinstr(path, 1024)?;
        let mut args = Vec::new();
        let mut total = 0;
        loop {
            if args.len() == ARG_MAX_COUNT {
                return Err(Errno::E2BIG);
            }
            let mut w = [0u8; 4];
            vs.copyin(argv.wrapping_add(4 * args.len() as u32), &mut w)?;
            let p = u32::from_be_bytes(w);
            if p == 0 {
                break;
            }
            let s = vs.copyinstr(p, ARG_MAX)?;
            total += s.len() + 1;
            if total > ARG_MAX {
                return Err(Errno::E2BIG);
            }
            args.push(s);
        }
        Ok((path, args))
    })?;
    let path = core::str::from_utf8(&path).map_err(|_| Errno::ENOENT)?;
    let (vs, entry) = kern_exec::exec_image(path, &args)?;
    kern_exec::exec_install(path, vs);
    *tf = entry.trapframe();
    Ok(entry.argc)
}

/// mmap(2), ppcbsd's form: (addr, len, prot, flags, fd, offset), the
/// offset 32 bits and page-aligned. Anonymous memory, or a window on a
/// regular file, MAP_SHARED or MAP_PRIVATE (copy-on-write).
fn sys_mmap(addr: u32, len: u32, prot: u32, flags: u32, fd: u32, off: u32) -> Result<u32, Errno> {
    if len == 0 || !addr.is_multiple_of(PAGE_SIZE) || !off.is_multiple_of(PAGE_SIZE) {
        return Err(Errno::EINVAL);
    }
    let prot = Prot::from_bits(prot).ok_or(Errno::EINVAL)?;
    let size = round_page(len as u64) as u32;
    let place = |vs: &mut VmSpace| vs.map.find_space(if addr != 0 { addr } else { MMAP_BASE }, size).ok_or(Errno::ENOMEM);
    if flags & MAP_ANON != 0 {
        return vm(|vs| {
            let start = place(vs)?;
            vs.uvm_map_anon(start, start + size, prot)?;
            Ok(start)
        });
    }
    let shared = match flags & (MAP_SHARED | MAP_PRIVATE) {
        MAP_SHARED => true,
        MAP_PRIVATE => false,
        _ => return Err(Errno::EINVAL),
    };
    let (vp, fflag) = vfs_syscalls::file_vnode(curpid(), fd)?;
    if vp.with(|v| v.v_type) != VType::VREG {
        return Err(Errno::ENODEV);
    }
    if shared && prot.contains(Prot::WRITE) && !vfs_vnops::fwrite(fflag) {
        return Err(Errno::EACCES);
    }
    // maxprot: a shared window on a descriptor open for writing may be
    // made writable later, so OpenBSD's uvm_mmapfile treats it as writable
    // whatever `prot` says (uvn_attach's WRITEABLE list, and the hack).
    let writeable = shared && vfs_vnops::fwrite(fflag);
    uvm_vnode::uvn_attach(vp, writeable)?;
    if writeable && uvm_vnode::uvm_mmap_uncache() {
        // OpenBSD's "XXXCDC hack": an object mapped shared with write in
        // its prot or maxprot may not persist, so its last unmap writes
        // and frees its pages.
        if vfs_subr::vn_lock(vp, LkFlags::LK_EXCLUSIVE).is_ok() {
            uvm_vnode::uvm_vnp_uncache(vp);
            vfs_subr::vop_unlock(vp);
        }
    }
    let r = vm(|vs| {
        let start = place(vs)?;
        vs.uvm_map_obj(start, start + size, prot, MapObj { vp, pgoff: off / PAGE_SIZE, shared })?;
        Ok(start)
    });
    if r.is_err() {
        uvm_vnode::uvn_detach(vp);
    }
    r
}

fn sys_munmap(addr: u32, len: u32) -> Result<u32, Errno> {
    if !addr.is_multiple_of(PAGE_SIZE) || len == 0 {
        return Err(Errno::EINVAL);
    }
    let end = addr.checked_add(round_page(len as u64) as u32).ok_or(Errno::EINVAL)?;
    let objs = vm(|vs| vs.uvm_unmap(addr, end))?;
    for vp in objs {
        uvm_vnode::uvn_detach(vp);
    }
    Ok(0)
}

/// msync(2): writes the dirty pages of the files mapped in [addr, addr+len).
fn sys_msync(addr: u32, len: u32) -> Result<u32, Errno> {
    let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
    let vps: Vec<_> = vm(|vs| Ok(vs.map.iter().filter(|e| e.start < end && addr < e.end).filter_map(|e| e.data.obj.map(|o| o.vp)).collect()))?;
    for vp in vps {
        if !uvm_vnode::uvm_vnp_sync(vp) {
            return Err(Errno::EIO);
        }
    }
    Ok(0)
}

/// sysctl(2) for vm.uvmexp only: (mib, miblen, out) with `out` 7 words.
fn sys_sysctl(mib: u32, miblen: u32, out: u32) -> Result<u32, Errno> {
    if miblen != 2 {
        return Err(Errno::EINVAL);
    }
    let mut m = [0u8; 8];
    copyin(mib, &mut m)?;
    if m != [0, 0, 0, CTL_VM as u8, 0, 0, 0, VM_UVMEXP as u8] {
        return Err(Errno::EINVAL);
    }
    let e = crate::uvm::uvm_page::uvmexp();
    let words = [e.npages, e.free, e.active, e.inactive, e.freemin, e.freetarg, e.paging];
    let mut b = [0u8; 28];
    for (i, w) in words.iter().enumerate() {
        b[4 * i..4 * i + 4].copy_from_slice(&w.to_be_bytes());
    }
    copyout(&b, out).map(|_| 0)
}

/// nanosleep(2), ppcbsd's form: the argument is milliseconds, rounded up
/// to clock ticks.
fn sys_nanosleep(ms: u32) -> Result<u32, Errno> {
    let hz = crate::kern::kern_clock::hz();
    let ticks = (ms as u64 * hz as u64).div_ceil(1000).max(1) as u32;
    // A channel nothing wakes: only the timeout ends the sleep.
    static NAP: u8 = 0;
    match crate::kern::kern_synch::tsleep(crate::kern::kern_synch::wchan(&NAP), "nanosleep", ticks) {
        Err(Errno::EWOULDBLOCK) | Ok(()) => Ok(0),
        Err(e) => Err(e),
    }
}

/// clock_gettime(2) with a 32-bit {seconds, nanoseconds}, from the time base.
fn sys_clock_gettime(tsp: u32) -> Result<u32, Errno> {
    let tbfreq = init_main::bootinfo().tbfreq.max(1) as u64;
    let tb = cpu::mftb();
    let secs = (tb / tbfreq) as u32;
    let nsec = ((tb % tbfreq) * 1_000_000_000 / tbfreq) as u32;
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&secs.to_be_bytes());
    b[4..].copy_from_slice(&nsec.to_be_bytes());
    copyout(&b, tsp).map(|_| 0)
}
