//! Time system calls (OpenBSD kern_time.c): nanosleep and clock_gettime.

use crate::arch::cpu;
use crate::kern::init_main;
use crate::sys::errno::Errno;
use crate::uvm::uvm_map::copyout;

/// nanosleep(2), ppcbsd's form: the argument is milliseconds, rounded up
/// to clock ticks.
pub fn sys_nanosleep(ms: u32) -> Result<u32, Errno> {
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
pub fn sys_clock_gettime(tsp: u32) -> Result<u32, Errno> {
    let tbfreq = init_main::bootinfo().tbfreq.max(1) as u64;
    let tb = cpu::mftb();
    let secs = (tb / tbfreq) as u32;
    let nsec = ((tb % tbfreq) * 1_000_000_000 / tbfreq) as u32;
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&secs.to_be_bytes());
    b[4..].copy_from_slice(&nsec.to_be_bytes());
    copyout(&b, tsp).map(|_| 0)
}
