//! Resource limits (OpenBSD kern_resource.c): getrlimit(2) and
//! setrlimit(2), for RLIMIT_DATA only, the limit mmap checks.

use crate::kern::kern_proc::sched_lock;
use crate::sys::errno::Errno;
use crate::sys::syscalls::RLIMIT_DATA;
use crate::uvm::uvm_map::{copyin, copyout};

/// OpenBSD/macppc's default and greatest data size (DFLDSIZ 64 MB and
/// MAXDSIZ 512 MB in arch/macppc/include/vmparam.h 1.21; doc/findings.md F11).
pub const DFLDSIZ: u64 = 64 * 1024 * 1024;
pub const MAXDSIZ: u64 = 512 * 1024 * 1024;

/// A limit (struct rlimit): the soft limit and the ceiling it may be raised to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    pub rlim_cur: u64,
    pub rlim_max: u64,
}

/// proc0's data limit (uvm_glue.c:319-320@2ea167a2), which every process
/// inherits.
pub const RLIMIT_DATA0: Rlimit = Rlimit { rlim_cur: DFLDSIZ, rlim_max: MAXDSIZ };

/// The running process's data size limit.
pub fn lim_cur_data() -> u64 {
    sched_lock().cur().p_rlimit_data.rlim_cur
}

/// getrlimit(which, rlp): two big-endian 64-bit words.
pub fn sys_getrlimit(which: u32, rlp: u32) -> Result<u32, Errno> {
    if which != RLIMIT_DATA {
        return Err(Errno::EINVAL);
    }
    let l = sched_lock().cur().p_rlimit_data;
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&l.rlim_cur.to_be_bytes());
    b[8..].copy_from_slice(&l.rlim_max.to_be_bytes());
    copyout(&b, rlp).map(|_| 0)
}

/// setrlimit(which, rlp), as OpenBSD's dosetrlimit: EINVAL when the soft
/// limit is above the ceiling; both clamped to MAXDSIZ. Raising the
/// ceiling takes root, which every ppcbsd process is.
pub fn sys_setrlimit(which: u32, rlp: u32) -> Result<u32, Errno> {
    if which != RLIMIT_DATA {
        return Err(Errno::EINVAL);
    }
    let mut b = [0u8; 16];
    copyin(rlp, &mut b)?;
    let word = |i: usize| u64::from_be_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
    let (cur, max) = (word(0), word(8));
    if cur > max {
        return Err(Errno::EINVAL);
    }
    let max = max.min(MAXDSIZ);
    sched_lock().cur().p_rlimit_data = Rlimit { rlim_cur: cur.min(max), rlim_max: max };
    Ok(0)
}
