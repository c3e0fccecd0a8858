//! read/write that are not about files (OpenBSD sys_generic.c): the
//! console's descriptors.

use crate::kern::subr_prf;
use crate::sys::errno::Errno;
use crate::uvm::uvm_map::copyin;

/// write(2) to the console (descriptors 1 and 2).
pub fn sys_write_cons(fd: u32, buf: u32, len: u32) -> Result<u32, Errno> {
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
