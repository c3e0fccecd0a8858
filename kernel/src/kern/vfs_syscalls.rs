//! File system calls (OpenBSD vfs_syscalls.c, sys_generic.c), read side for
//! now: open (O_RDONLY), read, getdents, lseek, fstat, close.

use crate::kern::kern_descrip::{fdalloc, fdrelease, with_file, File};
use crate::kern::vfs_lookup::{namei, MAXPATHLEN};
use crate::kern::vfs_subr::vrele;
use crate::sys::errno::Errno;
use crate::sys::syscalls::{O_ACCMODE, O_RDONLY, SEEK_CUR, SEEK_END, SEEK_SET};
use crate::sys::vnode::VType;

/// open(2) relative to the root (OpenBSD doopenat with AT_FDCWD, the only
/// directory there is while processes have no current directory). `path`
/// was copied in already: namei sleeps, which it may not do holding the
/// address space.
pub fn doopenat(pid: u32, path: &[u8], flags: u32) -> Result<u32, Errno> {
    if path.len() >= MAXPATHLEN {
        return Err(Errno::ENAMETOOLONG);
    }
    if flags & O_ACCMODE != O_RDONLY {
        return Err(Errno::EROFS);
    }
    let path = core::str::from_utf8(path).map_err(|_| Errno::ENOENT)?;
    let vp = namei(path)?;
    match fdalloc(pid, File { f_vp: vp, f_offset: 0 }) {
        Ok(fd) => Ok(fd),
        Err(e) => {
            vrele(vp);
            Err(e)
        }
    }
}

/// read(2) from an open file into user memory, through a kernel bounce
/// buffer (a VOP_READ may sleep, and user pages are reached by copyout).
pub fn sys_read_file(
    pid: u32,
    fd: u32,
    buf: u32,
    len: u32,
    mut copyout: impl FnMut(&[u8], u32) -> Result<(), Errno>,
) -> Result<u32, Errno> {
    let (vp, off) = with_file(pid, fd, |f| (f.f_vp, f.f_offset))?;
    if vp.with(|v| v.v_type) == VType::VDIR {
        return Err(Errno::EISDIR);
    }
    let mut chunk = alloc::vec![0u8; (len as usize).min(64 * 1024)];
    let mut done = 0u32;
    while done < len {
        let want = ((len - done) as usize).min(chunk.len());
        let n = vp.op().vop_read(vp, off + done as u64, &mut chunk[..want])?;
        if n == 0 {
            break;
        }
        copyout(&chunk[..n], buf.wrapping_add(done))?;
        done += n as u32;
    }
    with_file(pid, fd, |f| f.f_offset = off + done as u64)?;
    Ok(done)
}

/// getdents(2) in ppcbsd's compact form: records of {d_fileno u32,
/// d_reclen u16, d_type u8, d_namlen u8, name, padding to 4 bytes}. The
/// file offset counts entries. Returns the bytes filled, 0 at the end.
pub fn sys_getdents(pid: u32, fd: u32, len: u32) -> Result<alloc::vec::Vec<u8>, Errno> {
    let (vp, skip) = with_file(pid, fd, |f| (f.f_vp, f.f_offset))?;
    if vp.with(|v| v.v_type) != VType::VDIR {
        return Err(Errno::ENOTDIR);
    }
    let mut out = alloc::vec::Vec::new();
    let (mut index, mut taken) = (0u64, 0u64);
    let mut too_small = false;
    vp.op().vop_readdir(vp, &mut |ino, dtype, name| {
        index += 1;
        if index <= skip {
            return true;
        }
        let reclen = (8 + name.len()).next_multiple_of(4);
        if out.len() + reclen > len as usize {
            too_small = taken == 0;
            return false;
        }
        out.extend_from_slice(&ino.to_be_bytes());
        out.extend_from_slice(&(reclen as u16).to_be_bytes());
        out.push(dtype);
        out.push(name.len() as u8);
        out.extend_from_slice(name);
        out.resize(out.len().next_multiple_of(4), 0);
        taken += 1;
        true
    })?;
    if too_small {
        return Err(Errno::EINVAL);
    }
    with_file(pid, fd, |f| f.f_offset = skip + taken)?;
    Ok(out)
}

/// lseek(2): the new offset (32 bits: the ABI passes one register).
pub fn sys_lseek(pid: u32, fd: u32, off: i32, whence: u32) -> Result<u32, Errno> {
    let (vp, cur) = with_file(pid, fd, |f| (f.f_vp, f.f_offset))?;
    let base = match whence {
        SEEK_SET => 0,
        SEEK_CUR => cur as i64,
        SEEK_END => vp.op().vop_getattr_size(vp)? as i64,
        _ => return Err(Errno::EINVAL),
    };
    let new = base + off as i64;
    if !(0..=u32::MAX as i64).contains(&new) {
        return Err(Errno::EINVAL);
    }
    with_file(pid, fd, |f| f.f_offset = new as u64)?;
    Ok(new as u32)
}

/// fstat(2), ppcbsd's small stat: {type, inode number, size}, 3 words.
pub fn sys_fstat(pid: u32, fd: u32) -> Result<[u32; 3], Errno> {
    let vp = with_file(pid, fd, |f| f.f_vp)?;
    let (kind, ino) = vp.with(|v| (v.v_type, v.v_data as u32));
    let size = vp.op().vop_getattr_size(vp)?;
    let t = match kind {
        VType::VREG => 1,
        VType::VDIR => 2,
        VType::VLNK => 3,
        _ => 0,
    };
    Ok([t, ino, size.min(u32::MAX as u64) as u32])
}

pub fn sys_close(pid: u32, fd: u32) -> Result<u32, Errno> {
    fdrelease(pid, fd).map(|_| 0)
}
