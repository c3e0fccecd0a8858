//! The system-call interface shared by the kernel and the user programs:
//! numbers (OpenBSD's where OpenBSD has the call) and flag values.

pub const SYS_EXIT: u32 = 1;
pub const SYS_FORK: u32 = 2;
pub const SYS_READ: u32 = 3;
pub const SYS_WRITE: u32 = 4;
pub const SYS_OPEN: u32 = 5;
pub const SYS_CLOSE: u32 = 6;
pub const SYS_UNLINK: u32 = 10;
pub const SYS_WAIT4: u32 = 11;
pub const SYS_GETPID: u32 = 20;
pub const SYS_SYNC: u32 = 36;
pub const SYS_GETPPID: u32 = 39;
pub const SYS_REBOOT: u32 = 55;
pub const SYS_FSTAT: u32 = 53;
pub const SYS_EXECVE: u32 = 59;
pub const SYS_MUNMAP: u32 = 73;
pub const SYS_NANOSLEEP: u32 = 91;
pub const SYS_FSYNC: u32 = 95;
pub const SYS_GETDENTS: u32 = 99;
pub const SYS_RENAME: u32 = 128;
pub const SYS_MKDIR: u32 = 136;
pub const SYS_RMDIR: u32 = 137;
/// The calls with a 64-bit off_t, each under two numbers as in OpenBSD
/// 7.2: the plain one and the old padded one ("pad_"), which on 32-bit
/// PowerPC take their arguments in the same registers (a 64-bit argument
/// goes in an aligned register pair, high word first: the pad argument
/// sits where the alignment would skip anyway). A 64-bit result comes back
/// in r3 (high word) and r4.
pub const SYS_FTRUNCATE: u32 = 168;
pub const SYS_PAD_FTRUNCATE: u32 = 201;
pub const SYS_PREAD: u32 = 169;
pub const SYS_PWRITE: u32 = 170;
pub const SYS_PAD_PREAD: u32 = 173;
pub const SYS_PAD_PWRITE: u32 = 174;
pub const SYS_SYSCTL: u32 = 202;
/// sysctl {CTL_VM, VM_UVMEXP}: ppcbsd returns {npages, free, active,
/// inactive, freemin, freetarg, paging} as 7 words.
pub const CTL_VM: u32 = 2;
pub const VM_UVMEXP: u32 = 4;
pub const SYS_OPENAT: u32 = 321;
pub const SYS_CLOCK_GETTIME: u32 = 87;
pub const SYS_MMAP: u32 = 49;
pub const SYS_PAD_MMAP: u32 = 197;
pub const SYS_LSEEK: u32 = 166;
pub const SYS_PAD_LSEEK: u32 = 199;
pub const SYS_MSYNC: u32 = 256;
pub const SYS_SCHED_YIELD: u32 = 298;
pub const SYS_GETRLIMIT: u32 = 194;
pub const SYS_SETRLIMIT: u32 = 195;

/// Whether OpenBSD (2022-11-02) runs the call without the kernel lock (`NOLOCK` in
/// syscalls.master 1.234@2ea167a2: read :54, write :55, close :59, getpid
/// :78, getppid :110, clock_gettime :199, nanosleep :206, lseek :318,
/// pread :321, pwrite :323, pad_pread :331, pad_pwrite :333, getrlimit
/// :356, setrlimit :358, pad_lseek :364); `mi_syscall` takes it around
/// every other (syscall_mi.h:57, :99-103).
pub fn sy_nolock(code: u32) -> bool {
    matches!(
        code,
        SYS_READ
            | SYS_WRITE
            | SYS_CLOSE
            | SYS_GETPID
            | SYS_GETPPID
            | SYS_CLOCK_GETTIME
            | SYS_NANOSLEEP
            | SYS_LSEEK
            | SYS_PREAD
            | SYS_PWRITE
            | SYS_PAD_PREAD
            | SYS_PAD_PWRITE
            | SYS_GETRLIMIT
            | SYS_SETRLIMIT
            | SYS_PAD_LSEEK
    )
}
/// getrlimit/setrlimit's resource: ppcbsd keeps the data size only.
pub const RLIMIT_DATA: u32 = 2;

/// The name of a system call, for traces.
pub fn syscall_name(code: u32) -> &'static str {
    match code {
        SYS_EXIT => "exit",
        SYS_FORK => "fork",
        SYS_READ => "read",
        SYS_WRITE => "write",
        SYS_OPEN => "open",
        SYS_CLOSE => "close",
        SYS_FSTAT => "fstat",
        SYS_LSEEK | SYS_PAD_LSEEK => "lseek",
        SYS_PREAD | SYS_PAD_PREAD => "pread",
        SYS_PWRITE | SYS_PAD_PWRITE => "pwrite",
        SYS_WAIT4 => "wait4",
        SYS_GETPID => "getpid",
        SYS_GETPPID => "getppid",
        SYS_REBOOT => "reboot",
        SYS_EXECVE => "execve",
        SYS_MUNMAP => "munmap",
        SYS_GETDENTS => "getdents",
        SYS_CLOCK_GETTIME => "clock_gettime",
        SYS_MMAP | SYS_PAD_MMAP => "mmap",
        SYS_SCHED_YIELD => "sched_yield",
        SYS_MSYNC => "msync",
        SYS_SYSCTL => "sysctl",
        SYS_NANOSLEEP => "nanosleep",
        SYS_UNLINK => "unlink",
        SYS_SYNC => "sync",
        SYS_FSYNC => "fsync",
        SYS_RENAME => "rename",
        SYS_MKDIR => "mkdir",
        SYS_RMDIR => "rmdir",
        SYS_FTRUNCATE | SYS_PAD_FTRUNCATE => "ftruncate",
        SYS_OPENAT => "openat",
        SYS_GETRLIMIT => "getrlimit",
        SYS_SETRLIMIT => "setrlimit",
        _ => "unknown",
    }
}

/// CR0[SO]: set by the kernel when a system call fails (r3 = errno).
pub const CR0_SO: u32 = 0x1000_0000;

pub const O_RDONLY: u32 = 0;
pub const O_WRONLY: u32 = 1;
pub const O_RDWR: u32 = 2;
pub const O_ACCMODE: u32 = 3;
pub const O_APPEND: u32 = 0x0008;
pub const O_CREAT: u32 = 0x0200;
pub const O_TRUNC: u32 = 0x0400;
pub const O_EXCL: u32 = 0x0800;
/// Fail with ELOOP instead of following a final symbolic link.
pub const O_NOFOLLOW: u32 = 0x0100;
/// openat(2): relative to the current directory (here: the root).
pub const AT_FDCWD: i32 = -100;
pub const SEEK_SET: u32 = 0;
pub const SEEK_CUR: u32 = 1;
pub const SEEK_END: u32 = 2;

pub const PROT_READ: u32 = 1;
pub const PROT_WRITE: u32 = 2;
pub const MAP_SHARED: u32 = 0x1;
pub const MAP_PRIVATE: u32 = 0x2;
pub const MAP_ANON: u32 = 0x1000;
/// wait4(2) options (OpenBSD's values): return 0 instead of sleeping when
/// no child has exited; the other two are accepted and, with no job control
/// here, change nothing.
pub const WNOHANG: u32 = 0x1;
pub const WUNTRACED: u32 = 0x2;
pub const WCONTINUED: u32 = 0x8;
/// reboot(2): halt instead of restarting.
pub const RB_HALT: u32 = 0x8;
/// clock_gettime(2): time since boot.
pub const CLOCK_MONOTONIC: u32 = 3;

pub const SIGILL: i32 = 4;
pub const SIGKILL: i32 = 9;
pub const SIGBUS: i32 = 10;
pub const SIGSEGV: i32 = 11;

/// The wait status of a process that exited with `code` or was killed by
/// `sig` (W_EXITCODE), and its decoding.
pub const fn w_exitcode(code: i32, sig: i32) -> i32 {
    ((code & 0xff) << 8) | (sig & 0x7f)
}

pub const fn wifexited(status: i32) -> bool {
    status & 0x7f == 0
}

pub const fn wexitstatus(status: i32) -> i32 {
    (status >> 8) & 0xff
}

pub const fn wtermsig(status: i32) -> i32 {
    status & 0x7f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_status_round_trips() {
        let s = w_exitcode(3, 0);
        assert!(wifexited(s));
        assert_eq!(wexitstatus(s), 3);
        let k = w_exitcode(0, SIGSEGV);
        assert!(!wifexited(k));
        assert_eq!(wtermsig(k), SIGSEGV);
        assert_eq!(syscall_name(SYS_WAIT4), "wait4");
        assert_eq!(syscall_name(9999), "unknown");
    }
}
