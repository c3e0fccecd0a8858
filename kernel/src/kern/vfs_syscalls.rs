//! File system calls (OpenBSD vfs_syscalls.c, sys_generic.c): open and
//! openat (creating, truncating), read, write, getdents, lseek, fstat,
//! close, ftruncate, fsync, sync, and the name-space changes unlink, mkdir,
//! rmdir and rename. Paths are copied in by the caller: namei sleeps,
//! which it may not do holding the address space.

use crate::arch::intr::Ipl;
use crate::kern::kern_descrip::{fdalloc, fdrelease, with_file, File};
use crate::kern::kern_lock::with_kernel_lock;
use crate::kern::kern_mutex::Mutex;
use crate::kern::vfs_lookup::{namei, CnFlags, NameiOp, MAXPATHLEN};
use crate::kern::vfs_subr::{vn_lock, vop_unlock, vput, vrele, Vnode};
use crate::kern::vfs_vnops::{fwrite, vn_close, vn_open, vn_rdwr, Uio, VFS_RENAMELOCK};
use crate::kern::vfs_vops::{VOP_FSYNC, VOP_GETATTR_SIZE, VOP_MKDIR, VOP_READDIR, VOP_REMOVE, VOP_RENAME, VOP_RMDIR, VOP_SETATTR_SIZE};
use crate::sys::errno::Errno;
use crate::sys::syscalls::{O_ACCMODE, O_APPEND, O_CREAT, O_WRONLY, SEEK_CUR, SEEK_END, SEEK_SET};
use crate::sys::vnode::{LkFlags, RenameArgs, VType};
use crate::uvm::uvm_vnode::uvm_vnp_uncache;
use alloc::vec::Vec;

/// Largest transfer of one read or write call.
const MAXIO: u32 = 64 * 1024;

/// Bounce buffers of MAXIO bytes kept for reuse by read(2) and write(2): a
/// new one would be cleared first, a memset as long as the copy itself.
/// What one held before is never seen: a read hands out only the bytes
/// VOP_READ filled, and a write's copyin fills all it uses. A fixed table,
/// so that giving one back never allocates under the mutex.
static BOUNCE: Mutex<[Option<Vec<u8>>; BOUNCE_KEEP]> = Mutex::new(Ipl::None, [const { None }; BOUNCE_KEEP]);
/// Bounce buffers kept at most (a thread holds one only across a call).
const BOUNCE_KEEP: usize = 4;

/// A bounce buffer, back in BOUNCE when dropped.
struct Bounce(Vec<u8>);

impl Bounce {
    /// A pooled buffer, or a new one of `len` bytes: the heap may have no
    /// such run free when many threads are in read and write at once and
    /// memory is short, so it waits for room as a system call's allocation
    /// does (kmem_wait) and gives ENOMEM after three tries, rather than fail
    /// the allocation (a panic).
    fn get(len: usize) -> Result<Bounce, Errno> {
        if let Some(b) = BOUNCE.lock().iter_mut().find_map(Option::take) {
            return Ok(Bounce(b));
        }
        for _ in 0..3 {
            let mut v = Vec::new();
            if v.try_reserve_exact(len).is_ok() {
                v.resize(len, 0);
                return Ok(Bounce(v));
            }
            crate::kern::kern_malloc::kmem_wait(len)?;
        }
        Err(Errno::ENOMEM)
    }
}

impl Drop for Bounce {
    fn drop(&mut self) {
        if self.0.len() != MAXIO as usize {
            return;
        }
        let mut pool = BOUNCE.lock();
        if let Some(slot) = pool.iter_mut().find(|s| s.is_none()) {
            *slot = Some(core::mem::take(&mut self.0));
        }
    }
}

fn path_str(path: &[u8]) -> Result<&str, Errno> {
    if path.len() >= MAXPATHLEN {
        return Err(Errno::ENAMETOOLONG);
    }
    core::str::from_utf8(path).map_err(|_| Errno::ENOENT)
}

/// Runs a rename under VFS_RENAMELOCK (doc/fidelity.md).
fn renamelocked<R>(f: impl FnOnce() -> Result<R, Errno>) -> Result<R, Errno> {
    VFS_RENAMELOCK.rw_enter_write();
    let r = f();
    VFS_RENAMELOCK.rw_exit();
    r
}

/// open(2) and openat(2) relative to the root (OpenBSD doopenat with
/// AT_FDCWD, the only directory there is while processes have no current
/// directory).
#[inline(never)]
pub fn doopenat(pid: u32, path: &[u8], flags: u32, mode: u32) -> Result<u32, Errno> {
    let path = path_str(path)?;
    if flags & O_ACCMODE == O_ACCMODE {
        return Err(Errno::EINVAL);
    }
    let vp = vn_open(path, flags, if flags & O_CREAT != 0 { mode as u16 } else { 0 })?;
    match fdalloc(pid, File { f_vp: vp, f_offset: 0, f_flag: flags }) {
        Ok(fd) => Ok(fd),
        Err(e) => {
            vn_close(vp, flags);
            Err(e)
        }
    }
}

/// read(2) from an open file into user memory, through a kernel bounce
/// buffer (a VOP_READ may sleep, and user pages are reached by copyout).
/// `at`: pread(2)'s offset, which the file's own offset does not follow.
pub fn sys_read_file(pid: u32, fd: u32, buf: u32, len: u32, at: Option<i64>, mut copyout: impl FnMut(&[u8], u32) -> Result<(), Errno>) -> Result<u32, Errno> {
    let (vp, off, flag) = with_file(pid, fd, |f| (f.f_vp, f.f_offset, f.f_flag))?;
    let off = position(at, off)?;
    if flag & O_ACCMODE == O_WRONLY {
        return Err(Errno::EBADF);
    }
    if vp.with(|v| v.v_type) == VType::VDIR {
        return Err(Errno::EISDIR);
    }
    let mut bounce = Bounce::get(len.min(MAXIO) as usize)?;
    let chunk = &mut bounce.0[..len.min(MAXIO) as usize];
    // vn_read's kernel lock (vfs_vnops.c:349, :378@2ea167a2): read(2) is
    // NOLOCK.
    let n = with_kernel_lock(|| vn_rdwr(vp, Uio::Read(chunk), off))?;
    copyout(&chunk[..n], buf)?;
    if at.is_none() {
        with_file(pid, fd, |f| f.f_offset = off + n as u64)?;
    }
    Ok(n as u32)
}

/// The offset an I/O starts at: the file's, or pread/pwrite's own, which
/// must not be negative (EINVAL, as OpenBSD's).
fn position(at: Option<i64>, cur: u64) -> Result<u64, Errno> {
    match at {
        None => Ok(cur),
        Some(o) => u64::try_from(o).map_err(|_| Errno::EINVAL),
    }
}

/// write(2) to an open file from user memory (copied in first, outside
/// the vnode lock). O_APPEND writes at the end.
/// `at`: pwrite(2)'s offset, which the file's own offset does not follow.
pub fn sys_write_file(pid: u32, fd: u32, buf: u32, len: u32, at: Option<i64>, copyin: impl FnOnce(u32, &mut [u8]) -> Result<(), Errno>) -> Result<u32, Errno> {
    let (vp, off, flag) = with_file(pid, fd, |f| (f.f_vp, f.f_offset, f.f_flag))?;
    let off = position(at, off)?;
    if !fwrite(flag) {
        return Err(Errno::EBADF);
    }
    let mut bounce = Bounce::get(len.min(MAXIO) as usize)?;
    let chunk = &mut bounce.0[..len.min(MAXIO) as usize];
    copyin(buf, chunk)?;
    // vn_write's kernel lock (vfs_vnops.c:393, :419@2ea167a2): write(2) is
    // NOLOCK. pwrite is not moved by O_APPEND (:395-398).
    let (off, n) = with_kernel_lock(|| {
        let off = if flag & O_APPEND != 0 && at.is_none() { VOP_GETATTR_SIZE(vp)? } else { off };
        vn_rdwr(vp, Uio::Write(chunk), off).map(|n| (off, n))
    })?;
    if at.is_none() {
        with_file(pid, fd, |f| f.f_offset = off + n as u64)?;
    }
    Ok(n as u32)
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
    vn_lock(vp, LkFlags::LK_SHARED)?;
    let r = VOP_READDIR(vp, &mut |ino, dtype, name| {
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
    });
    vop_unlock(vp);
    r?;
    if too_small {
        return Err(Errno::EINVAL);
    }
    with_file(pid, fd, |f| f.f_offset = skip + taken)?;
    Ok(out)
}

/// lseek(2): the new offset (32 bits: the ABI passes one register).
pub fn sys_lseek(pid: u32, fd: u32, off: i64, whence: u32) -> Result<u64, Errno> {
    let (vp, cur) = with_file(pid, fd, |f| (f.f_vp, f.f_offset))?;
    let base = match whence {
        SEEK_SET => 0,
        SEEK_CUR => cur as i64,
        // lseek(2) is NOLOCK; vn_seek locks only for this (vfs_vnops.c:650-652@2ea167a2).
        SEEK_END => with_kernel_lock(|| VOP_GETATTR_SIZE(vp))? as i64,
        _ => return Err(Errno::EINVAL),
    };
    // A negative result is EINVAL (vn_seek); one past 2^63 too, where
    // OpenBSD's sum would wrap negative.
    let new = base.checked_add(off).filter(|&n| n >= 0).ok_or(Errno::EINVAL)?;
    with_file(pid, fd, |f| f.f_offset = new as u64)?;
    Ok(new as u64)
}

/// fstat(2), ppcbsd's small stat: {type, inode number, size high and low
/// word}, 4 words.
pub fn sys_fstat(pid: u32, fd: u32) -> Result<[u32; 4], Errno> {
    let vp = with_file(pid, fd, |f| f.f_vp)?;
    let (kind, ino) = vp.with(|v| (v.v_type, v.v_data as u32));
    let size = VOP_GETATTR_SIZE(vp)?;
    let t = match kind {
        VType::VREG => 1,
        VType::VDIR => 2,
        VType::VLNK => 3,
        _ => 0,
    };
    Ok([t, ino, (size >> 32) as u32, size as u32])
}

pub fn sys_close(pid: u32, fd: u32) -> Result<u32, Errno> {
    fdrelease(pid, fd).map(|_| 0)
}

/// ftruncate(2); a negative length is EINVAL.
pub fn sys_ftruncate(pid: u32, fd: u32, len: i64) -> Result<u32, Errno> {
    let len = u64::try_from(len).map_err(|_| Errno::EINVAL)?;
    let (vp, flag) = with_file(pid, fd, |f| (f.f_vp, f.f_flag))?;
    if !fwrite(flag) {
        return Err(Errno::EBADF);
    }
    if vp.with(|v| v.v_type) != VType::VREG {
        return Err(Errno::EINVAL);
    }
    vn_lock(vp, LkFlags::LK_EXCLUSIVE)?;
    let r = VOP_SETATTR_SIZE(vp, len);
    vop_unlock(vp);
    r.map(|_| 0)
}

/// fsync(2): the file's data and metadata reach the device.
pub fn sys_fsync(pid: u32, fd: u32) -> Result<u32, Errno> {
    let vp = with_file(pid, fd, |f| f.f_vp)?;
    vn_lock(vp, LkFlags::LK_EXCLUSIVE)?;
    let r = VOP_FSYNC(vp);
    vop_unlock(vp);
    r.map(|_| 0)
}

/// sync(2), as OpenBSD's sys_sync: the dirty pages of writeable objects
/// (uvm_vnp_sync), then every delayed write of the file system. Not
/// inlined: its traces name it.
#[inline(never)]
pub fn sys_sync() -> Result<u32, Errno> {
    crate::diag::uvm_p0::race_count(crate::diag::uvm_p0::RaceCtr::Sync);
    crate::uvm::uvm_vnode::uvm_vnp_sync();
    crate::kern::vfs_init::vfs_syncall().map(|_| 0)
}

/// Whether the path's last component is `.` (which namei folds away).
fn last_is_dot(path: &str) -> bool {
    path.trim_end_matches('/').rsplit('/').next() == Some(".")
}

/// unlink(2).
pub fn sys_unlink(path: &[u8]) -> Result<u32, Errno> {
    let path = path_str(path)?;
    // `.` is a directory: OpenBSD's ufs_remove refuses it.
    if last_is_dot(path) {
        return Err(Errno::EPERM);
    }
    let nd = namei(path, NameiOp::DELETE, CnFlags::LOCKPARENT | CnFlags::LOCKLEAF)?;
    let (dvp, vp) = (nd.ni_dvp.expect("namei DELETE gives the parent"), nd.ni_vp.expect("namei DELETE gives the vnode"));
    if let Err(e) = not_a_mount_root(vp) {
        nd.release(CnFlags::LOCKPARENT | CnFlags::LOCKLEAF);
        return Err(e);
    }
    // As OpenBSD's dounlinkat: the file's pages may not persist.
    uvm_vnp_uncache(vp);
    VOP_REMOVE(dvp, vp, &nd.ni_name).map(|_| 0)
}

/// mkdir(2).
pub fn sys_mkdir(path: &[u8], mode: u32) -> Result<u32, Errno> {
    let path = path_str(path)?;
    let nd = namei(path, NameiOp::CREATE, CnFlags::LOCKPARENT | CnFlags::STRIPSLASHES)?;
    if nd.ni_vp.is_some() {
        nd.release(CnFlags::LOCKPARENT);
        return Err(Errno::EEXIST);
    }
    let dvp = nd.ni_dvp.expect("namei CREATE gives the parent");
    let vp = VOP_MKDIR(dvp, &nd.ni_name, mode as u16)?;
    vput(vp);
    Ok(0)
}

/// rmdir(2).
pub fn sys_rmdir(path: &[u8]) -> Result<u32, Errno> {
    let path = path_str(path)?;
    // "No rmdir "." please" (dounlinkat, vfs_syscalls.c:1858-1862@2ea167a2).
    if last_is_dot(path) {
        return Err(Errno::EINVAL);
    }
    let nd = namei(path, NameiOp::DELETE, CnFlags::LOCKPARENT | CnFlags::LOCKLEAF)?;
    let (dvp, vp) = (nd.ni_dvp.expect("namei DELETE gives the parent"), nd.ni_vp.expect("namei DELETE gives the vnode"));
    if let Err(e) = not_a_mount_root(vp) {
        nd.release(CnFlags::LOCKPARENT | CnFlags::LOCKLEAF);
        return Err(e);
    }
    VOP_RMDIR(dvp, vp, &nd.ni_name).map(|_| 0)
}

/// "The root of a mounted filesystem cannot be deleted": EBUSY
/// (dounlinkat's VROOT test, vfs_syscalls.c:1876-1877@2ea167a2; namei has
/// crossed from the directory it is mounted on to it).
fn not_a_mount_root(vp: &'static Vnode) -> Result<(), Errno> {
    match crate::kern::vfs_init::vfs_coveredroot(vp) {
        Some(_) => Err(Errno::EBUSY),
        None => Ok(()),
    }
}

/// rename(2).
pub fn sys_rename(from: &[u8], to: &[u8]) -> Result<u32, Errno> {
    let (from, to) = (path_str(from)?, path_str(to)?);
    // A target `.`: ufs_lookup's RENAME of the directory itself is EISDIR
    // (ufs_lookup.c:527-528@2ea167a2).
    if last_is_dot(to) {
        return Err(Errno::EISDIR);
    }
    // ufs_rename's EAGAIN: a lock of the source was busy; everything was
    // let go, so wait a tick and look both names up again.
    loop {
        match renamelocked(|| rename_once(from, to)) {
            Err(Errno::EAGAIN) => {
                static RENAMEWAIT: u8 = 0;
                let _ = crate::kern::kern_synch::tsleep(crate::kern::kern_synch::wchan(&RENAMEWAIT), "renamewait", 1);
            }
            r => return r,
        }
    }
}

fn rename_once(from: &str, to: &str) -> Result<u32, Errno> {
    {
        let fnd = namei(from, NameiOp::DELETE, CnFlags::WANTPARENT)?;
        let (fdvp, fvp) = (fnd.ni_dvp.expect("namei DELETE gives the parent"), fnd.ni_vp.expect("namei DELETE gives the vnode"));
        let tflags = CnFlags::LOCKPARENT | CnFlags::LOCKLEAF;
        let tnd = match namei(to, NameiOp::RENAME, tflags) {
            Ok(nd) => nd,
            Err(e) => {
                vrele(fvp);
                vrele(fdvp);
                return Err(e);
            }
        };
        let tdvp = tnd.ni_dvp.expect("namei RENAME gives the parent");
        // The target is the source's directory: it holds the source, so
        // it is not empty (and locking it twice would deadlock).
        if tnd.ni_vp.is_some_and(|t| core::ptr::eq(t, fdvp)) {
            tnd.release(tflags);
            vrele(fvp);
            vrele(fdvp);
            return Err(Errno::ENOTEMPTY);
        }
        // As OpenBSD's dorenameat: the replaced file's pages may not persist.
        if let Some(tvp) = tnd.ni_vp {
            uvm_vnp_uncache(tvp);
        }
        VOP_RENAME(&RenameArgs { fdvp, fvp, fname: &fnd.ni_name, tdvp, tvp: tnd.ni_vp, tname: &tnd.ni_name }).map(|_| 0)
    }
}

/// The vnode and open flags of descriptor `fd` (for mmap).
pub fn file_vnode(pid: u32, fd: u32) -> Result<(&'static crate::kern::vfs_subr::Vnode, u32), Errno> {
    with_file(pid, fd, |f| (f.f_vp, f.f_flag))
}
