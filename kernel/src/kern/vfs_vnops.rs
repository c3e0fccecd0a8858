//! Vnode operations for the system calls (OpenBSD vfs_vnops.c): opening
//! by name (creating if asked), closing, and reading or writing with the
//! vnode locked.

use crate::kern::kern_rwlock::Rwlock;
use crate::kern::vfs_lookup::{namei, CnFlags, NameiOp};
use crate::kern::vfs_subr::{vn_lock, vop_unlock, vput, vrele, Vnode};
use crate::kern::vfs_vops::{VOP_CREATE, VOP_READ, VOP_SETATTR_SIZE, VOP_WRITE};
use crate::sys::errno::Errno;
use crate::sys::syscalls::{O_ACCMODE, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_TRUNC};
use crate::sys::vnode::{IoFlags, LkFlags, VType};

/// Serializes renames, the one operation that holds two directories' locks
/// at once: ppcbsd's ufs_rename does not follow OpenBSD's ordering
/// (ufs_checkpath, IN_RENAME), so two renames could lock in opposite
/// orders. OpenBSD has no such lock (doc/fidelity.md); create, remove,
/// mkdir and rmdir hold only their directory's and file's locks, as there.
pub static VFS_RENAMELOCK: Rwlock = Rwlock::new("vfsrename");

/// Whether open flags ask for writing.
pub fn fwrite(fmode: u32) -> bool {
    fmode & O_ACCMODE != O_RDONLY
}

/// Opens `path` (OpenBSD vn_open): creates it under O_CREAT, truncates it
/// under O_TRUNC. Returns the vnode referenced and unlocked.
#[inline(never)]
pub fn vn_open(path: &str, fmode: u32, cmode: u16) -> Result<&'static Vnode, Errno> {
    // As OpenBSD: a final symbolic link is followed unless O_NOFOLLOW, or
    // O_CREAT|O_EXCL (which must make a new name); one not followed is ELOOP.
    let follow = if fmode & O_NOFOLLOW == 0 && fmode & (O_CREAT | O_EXCL) != O_CREAT | O_EXCL { CnFlags::FOLLOW } else { CnFlags::empty() };
    let vp = if fmode & O_CREAT != 0 {
        let nd = namei(path, NameiOp::CREATE, CnFlags::LOCKPARENT | CnFlags::LOCKLEAF | follow)?;
        let dvp = nd.ni_dvp.expect("namei CREATE gives the parent");
        match nd.ni_vp {
            None => VOP_CREATE(dvp, &nd.ni_name, cmode)?,
            Some(vp) => {
                vput(dvp);
                if fmode & O_EXCL != 0 {
                    vput(vp);
                    return Err(Errno::EEXIST);
                }
                vp
            }
        }
    } else {
        let nd = namei(path, NameiOp::LOOKUP, CnFlags::LOCKLEAF | follow)?;
        nd.ni_vp.ok_or(Errno::ENOENT)?
    };
    let kind = vp.with(|v| v.v_type);
    let r = if kind == VType::VLNK {
        Err(Errno::ELOOP)
    } else if fwrite(fmode) && vp.op().mnt_rdonly(vp) {
        Err(Errno::EROFS)
    } else if kind == VType::VDIR && fwrite(fmode) {
        Err(Errno::EISDIR)
    } else if kind != VType::VREG && kind != VType::VDIR && kind != VType::VLNK {
        Err(Errno::ENXIO)
    } else if fmode & O_TRUNC != 0 && fwrite(fmode) {
        VOP_SETATTR_SIZE(vp, 0)
    } else {
        Ok(())
    };
    if let Err(e) = r {
        vput(vp);
        return Err(e);
    }
    if fwrite(fmode) {
        vp.with(|v| v.v_writecount += 1);
    }
    vop_unlock(vp);
    Ok(vp)
}

/// Closes what vn_open opened (OpenBSD vn_close).
pub fn vn_close(vp: &'static Vnode, fmode: u32) {
    if fwrite(fmode) {
        vp.with(|v| v.v_writecount = v.v_writecount.saturating_sub(1));
    }
    vrele(vp);
}

/// Which way vn_rdwr moves data.
pub enum Uio<'a> {
    Read(&'a mut [u8]),
    Write(&'a [u8]),
}

/// Reads or writes at `off` with the vnode locked (OpenBSD vn_rdwr), all
/// of it unless the file ends first: the bytes moved.
pub fn vn_rdwr(vp: &'static Vnode, uio: Uio<'_>, off: u64) -> Result<usize, Errno> {
    let shared = matches!(uio, Uio::Read(_));
    vn_lock(vp, if shared { LkFlags::LK_SHARED } else { LkFlags::LK_EXCLUSIVE })?;
    let mut done = 0usize;
    let r = match uio {
        Uio::Read(buf) => loop {
            if done == buf.len() {
                break Ok(done);
            }
            match VOP_READ(vp, off + done as u64, &mut buf[done..]) {
                Ok(0) => break Ok(done),
                Ok(n) => done += n,
                Err(e) => break Err(e),
            }
        },
        Uio::Write(buf) => loop {
            if done == buf.len() {
                break Ok(done);
            }
            // As vn_write: all or nothing.
            match VOP_WRITE(vp, off + done as u64, &buf[done..], IoFlags::IO_UNIT) {
                Ok(0) => break Err(Errno::EIO),
                Ok(n) => done += n,
                Err(e) => break Err(e),
            }
        },
    };
    vop_unlock(vp);
    r
}
