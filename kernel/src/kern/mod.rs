//! Machine-independent kernel: startup, console output and panic, the
//! clock, locks, the heap, threads and sleep, and the in-kernel tests.

/// For the self-tests: fail with a formatted message unless `cond` holds.
macro_rules! check {
    ($cond:expr, $($msg:tt)*) => {
        if !$cond {
            return Err(alloc::format!($($msg)*));
        }
    };
}

pub mod init_main;
pub mod init_sysent;
pub mod kern_clock;
pub mod kern_descrip;
pub mod kern_exec;
pub mod kern_exit;
pub mod kern_fork;
pub mod kern_ktest;
pub mod kern_ktest_bio;
pub mod kern_ktest_proc;
pub mod kern_ktest_uvn;
pub mod kern_ktest_vfs;
pub mod kern_ktest_vm;
pub mod kern_kthread;
pub mod kern_ktrace;
pub mod kern_malloc;
pub mod kern_mutex;
pub mod kern_proc;
pub mod kern_rwlock;
pub mod kern_sched;
pub mod kern_synch;
pub mod kern_workload;
pub mod subr_prf;
pub mod vfs_bio;
pub mod vfs_hist;
pub mod vfs_lookup;
pub mod vfs_subr;
pub mod vfs_syscalls;
pub mod vfs_vnops;
pub mod vfs_vops;
