//! Machine-independent kernel: startup, console output and panic, the
//! clock, locks, the heap, threads and sleep, processes and system calls,
//! the VFS and the buffer cache. The in-kernel tests are in `ktest/`.

pub mod init_main;
pub mod init_sysent;
pub mod kern_clock;
pub mod kern_clockintr;
pub mod kern_descrip;
pub mod kern_exec;
pub mod kern_exit;
pub mod kern_fork;
pub mod kern_kthread;
pub mod kern_ktrace;
pub mod kern_lock;
pub mod kern_malloc;
pub mod kern_mutex;
pub mod kern_proc;
pub mod kern_resource;
pub mod kern_rwlock;
pub mod kern_sched;
pub mod kern_synch;
pub mod kern_sysctl;
pub mod kern_time;
pub mod subr_prf;
pub mod subr_prof;
pub mod sys_generic;
pub mod vfs_bio;
pub mod vfs_init;
pub mod vfs_lookup;
pub mod vfs_subr;
pub mod vfs_syscalls;
pub mod vfs_vnops;
pub mod vfs_vops;
