//! The system-call table (OpenBSD init_sysent.c and the machine-dependent
//! entry in trap.c): number in r0, arguments in r3–r8, the result in r3,
//! and on failure CR0[SO] set with the errno in r3.

use crate::arch::cpu;
use crate::arch::trap::TrapFrame;
use crate::kern::kern_exit::exit1;
use crate::kern::kern_fork::sys_fork;
use crate::kern::kern_lock::{with_kernel_lock, KERNEL_LOCK, KERNEL_UNLOCK};
use crate::kern::kern_proc::{curproc, sched_lock};
use crate::kern::kern_sched::yield_cpu;
use crate::kern::vfs_lookup::copyinpath;
use crate::kern::{kern_exec, kern_exit, kern_ktrace, kern_malloc, kern_resource, kern_sysctl, kern_time, sys_generic, vfs_syscalls};
use crate::printf;
use crate::sys::errno::Errno;
use crate::sys::syscalls::*;
use crate::uvm::uvm_map::{copyin, copyout};
use crate::uvm::uvm_mmap;

/// Runs the system call in `tf` and stores its result there.
pub fn syscall(tf: &mut TrapFrame) {
    // System calls may run long and sleep; the clock must keep going.
    cpu::intr_restore(true);
    let code = tf.fixreg[0];
    let a = [tf.fixreg[3], tf.fixreg[4], tf.fixreg[5], tf.fixreg[6], tf.fixreg[7], tf.fixreg[8], tf.fixreg[9], tf.fixreg[10]];
    let ktr = kern_ktrace::ktrsyscall(curproc(), code, &[a[0], a[1], a[2], a[3], a[4], a[5]]);
    // A 64-bit argument: an aligned register pair, high word first.
    let off = |hi: usize| ((a[hi] as u64) << 32 | a[hi + 1] as u64) as i64;
    // The low word of a 64-bit result, for r4.
    let mut r4 = None;
    // Room in the kernel heap first, for a call that may allocate: where
    // OpenBSD's malloc would sleep inside it (see kern_malloc). Calls that
    // give memory back or allocate nothing go in at once.
    let frees = matches!(code, SYS_EXIT | SYS_CLOSE | SYS_MUNMAP | SYS_WAIT4 | SYS_GETPID | SYS_GETPPID | SYS_CLOCK_GETTIME | SYS_SCHED_YIELD | SYS_NANOSLEEP);
    // mi_syscall's kernel lock (held only under sched.mp=1).
    let lock = !sy_nolock(code);
    if lock {
        KERNEL_LOCK();
    }
    let room = if frees { Ok(()) } else { kern_malloc::kmem_wait(kern_malloc::KMEM_SYSCALL) };
    let r = if let Err(e) = room {
        Err(e)
    } else {
        match code {
            SYS_EXIT => exit1(w_exitcode(a[0] as i32, 0)),
            SYS_FORK => sys_fork(tf),
            // A tty's vn_write takes the kernel lock (vfs_vnops.c:393, :419@2ea167a2).
            SYS_WRITE if a[0] < 3 => with_kernel_lock(|| sys_generic::sys_write_cons(a[0], a[1], a[2])),
            SYS_WRITE => vfs_syscalls::sys_write_file(curproc(), a[0], a[1], a[2], None, copyin),
            SYS_READ => {
                let pid = curproc();
                vfs_syscalls::sys_read_file(pid, a[0], a[1], a[2], None, copyout)
            }
            // pread/pwrite(fd, buf, nbyte, offset): the offset in r7:r8.
            SYS_PREAD | SYS_PAD_PREAD => {
                let pid = curproc();
                vfs_syscalls::sys_read_file(pid, a[0], a[1], a[2], Some(off(4)), copyout)
            }
            SYS_PWRITE | SYS_PAD_PWRITE => vfs_syscalls::sys_write_file(curproc(), a[0], a[1], a[2], Some(off(4)), copyin),
            SYS_OPEN => copyinpath(a[0]).and_then(|path| vfs_syscalls::doopenat(curproc(), &path, a[1], a[2])),
            SYS_OPENAT if a[0] as i32 != AT_FDCWD => Err(Errno::EBADF),
            SYS_OPENAT => copyinpath(a[1]).and_then(|path| vfs_syscalls::doopenat(curproc(), &path, a[2], a[3])),
            SYS_UNLINK => copyinpath(a[0]).and_then(|p| vfs_syscalls::sys_unlink(&p)),
            SYS_MKDIR => copyinpath(a[0]).and_then(|p| vfs_syscalls::sys_mkdir(&p, a[1])),
            SYS_RMDIR => copyinpath(a[0]).and_then(|p| vfs_syscalls::sys_rmdir(&p)),
            SYS_RENAME => copyinpath(a[0]).and_then(|f| copyinpath(a[1]).and_then(|t| vfs_syscalls::sys_rename(&f, &t))),
            SYS_FSYNC => vfs_syscalls::sys_fsync(curproc(), a[0]),
            SYS_SYNC => vfs_syscalls::sys_sync(),
            // ftruncate(fd, length): the length in r5:r6.
            SYS_FTRUNCATE | SYS_PAD_FTRUNCATE => vfs_syscalls::sys_ftruncate(curproc(), a[0], off(2)),
            SYS_CLOSE => vfs_syscalls::sys_close(curproc(), a[0]),
            SYS_GETDENTS => vfs_syscalls::sys_getdents(curproc(), a[0], a[2].min(64 * 1024)).and_then(|b| copyout(&b, a[1]).map(|_| b.len() as u32)),
            // lseek(fd, offset, whence): the offset in r5:r6, whence in r7,
            // the new offset back in r3:r4.
            SYS_LSEEK | SYS_PAD_LSEEK => vfs_syscalls::sys_lseek(curproc(), a[0], off(2), a[4]).map(|o| {
                r4 = Some(o as u32);
                (o >> 32) as u32
            }),
            SYS_FSTAT => vfs_syscalls::sys_fstat(curproc(), a[0]).and_then(|st| {
                let mut b = [0u8; 16];
                for (i, w) in st.iter().enumerate() {
                    b[4 * i..4 * i + 4].copy_from_slice(&w.to_be_bytes());
                }
                copyout(&b, a[1]).map(|_| 0)
            }),
            SYS_WAIT4 => kern_exit::sys_wait4(a[0] as i32, a[1], a[2]),
            SYS_GETPID => Ok(curproc()),
            SYS_GETPPID => {
                let mut st = sched_lock();
                Ok(st.cur().p_ppid)
            }
            SYS_REBOOT => {
                printf!("reboot: halting at the request of pid {}\n", curproc());
                crate::diag::halt::halt()
            }
            SYS_EXECVE => kern_exec::sys_execve(tf, a[0], a[1]),
            SYS_MUNMAP => uvm_mmap::sys_munmap(a[0], a[1]),
            SYS_CLOCK_GETTIME => kern_time::sys_clock_gettime(a[1]),
            // mmap(addr, len, prot, flags, fd, offset): the offset in r9:r10.
            SYS_MMAP | SYS_PAD_MMAP => uvm_mmap::sys_mmap(a[0], a[1], a[2], a[3], a[4], off(6)),
            SYS_MSYNC => uvm_mmap::sys_msync(a[0], a[1]),
            SYS_SCHED_YIELD => {
                yield_cpu();
                Ok(0)
            }
            SYS_NANOSLEEP => kern_time::sys_nanosleep(a[0]),
            SYS_SYSCTL => kern_sysctl::sys_sysctl(a[0], a[1], a[2]),
            SYS_GETRLIMIT => kern_resource::sys_getrlimit(a[0], a[1]),
            SYS_SETRLIMIT => kern_resource::sys_setrlimit(a[0], a[1]),
            _ => Err(Errno::ENOSYS),
        }
    };
    if lock {
        KERNEL_UNLOCK();
    }
    kern_ktrace::ktrsysret(ktr, r);
    match r {
        Ok(v) => {
            tf.fixreg[3] = v;
            if let Some(lo) = r4 {
                tf.fixreg[4] = lo;
            }
            tf.cr &= !CR0_SO;
        }
        Err(e) => {
            tf.fixreg[3] = e as u32;
            tf.cr |= CR0_SO;
        }
    }
}
