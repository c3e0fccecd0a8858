//! sysctl(2) (OpenBSD kern_sysctl.c), for vm.uvmexp only.

use crate::sys::errno::Errno;
use crate::sys::syscalls::{CTL_VM, VM_UVMEXP};
use crate::uvm::uvm_map::{copyin, copyout};

/// sysctl(2) for vm.uvmexp only: (mib, miblen, out) with `out` 7 words.
pub fn sys_sysctl(mib: u32, miblen: u32, out: u32) -> Result<u32, Errno> {
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
