//! Path lookup (OpenBSD vfs_lookup.c namei): from the root vnode, one
//! VOP_LOOKUP per component with the directory locked, `..` included (the
//! file system's directories hold it). VOP_LOOKUP hands the vnode it finds
//! back locked, so each step waits for a held lock with its reference, as
//! OpenBSD's does; namei unlocks the last one unless LOCKLEAF. For CREATE,
//! DELETE and RENAME the last component's directory comes back as
//! `ni_dvp` (locked with LOCKPARENT) and the vnode it names, if any, as
//! `ni_vp` (locked with LOCKLEAF). A symbolic link met on the way is
//! followed — always in the middle of a path, at its end with FOLLOW or a
//! trailing slash — by looking its target up in its place, at most
//! MAXSYMLINKS times (ELOOP).

use crate::kern::vfs_subr::{vn_lock, vop_unlock, vput, vref, vrele, Vnode};
use crate::kern::vfs_vops::{VOP_LOOKUP, VOP_READ};
use crate::sys::errno::Errno;
use crate::sys::vnode::{LkFlags, VType};
use alloc::vec::Vec;

pub const MAXPATHLEN: usize = 1024;
/// The longest file name (a path component).
pub const NAME_MAX: usize = 255;
/// Most symbolic links followed in one lookup (OpenBSD's MAXSYMLINKS).
pub const MAXSYMLINKS: usize = 32;

/// cn_nameiop: what the caller will do with the last component.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameiOp {
    LOOKUP,
    CREATE,
    DELETE,
    RENAME,
}

bitflags::bitflags! {
    /// cn_flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct CnFlags: u32 {
        /// Return the last vnode locked.
        const LOCKLEAF = 0x0004;
        /// Return the parent directory locked.
        const LOCKPARENT = 0x0008;
        /// Return the parent directory, referenced but unlocked.
        const WANTPARENT = 0x0010;
        /// Follow a symbolic link that is the last component.
        const FOLLOW = 0x0040;
        /// Trailing slashes do not ask for a directory (mkdir's new name).
        const STRIPSLASHES = 0x0010_0000;
    }
}

/// What namei found (struct nameidata).
pub struct Nameidata {
    pub ni_dvp: Option<&'static Vnode>,
    pub ni_vp: Option<&'static Vnode>,
    /// The last component (cn_nameptr).
    pub ni_name: Vec<u8>,
}

impl Nameidata {
    /// Drops what namei returned: references, and locks as asked.
    pub fn release(self, flags: CnFlags) {
        if let Some(vp) = self.ni_vp {
            if flags.contains(CnFlags::LOCKLEAF) {
                vput(vp);
            } else {
                vrele(vp);
            }
        }
        if let Some(dvp) = self.ni_dvp {
            if flags.contains(CnFlags::LOCKPARENT) {
                vput(dvp);
            } else {
                vrele(dvp);
            }
        }
    }
}

/// Looks `path` up for operation `op` (OpenBSD namei).
pub fn namei(path: &str, op: NameiOp, flags: CnFlags) -> Result<Nameidata, Errno> {
    let mut path = alloc::string::String::from(path);
    for _ in 0..=MAXSYMLINKS {
        match namei_walk(&path, op, flags)? {
            Walk::Done(nd) => return Ok(nd),
            Walk::Link(next) => path = next,
        }
    }
    Err(Errno::ELOOP)
}

/// How one walk of a path ended: looked up, or at a symbolic link, with
/// the path to walk instead (its target put in its place).
enum Walk {
    Done(Nameidata),
    Link(alloc::string::String),
}

/// The target of symbolic link `vp` (referenced and locked), which is
/// released.
fn readlink(vp: &'static Vnode) -> Result<Vec<u8>, Errno> {
    let mut buf = alloc::vec![0u8; MAXPATHLEN];
    let mut n = 0;
    let r = loop {
        match VOP_READ(vp, n as u64, &mut buf[n..]) {
            Ok(0) => break Ok(n),
            Ok(k) => n += k,
            Err(e) => break Err(e),
        }
        if n == buf.len() {
            break Err(Errno::ENAMETOOLONG);
        }
    };
    vput(vp);
    let n = r?;
    if n == 0 {
        return Err(Errno::ENOENT);
    }
    buf.truncate(n);
    Ok(buf)
}

/// The path to walk when component `at` of `comps` is a link to `target`:
/// the target (from the root if absolute, else from the link's directory)
/// and the components after it.
fn splice(comps: &[&str], at: usize, target: &[u8], trailing: bool) -> Result<alloc::string::String, Errno> {
    let target = core::str::from_utf8(target).map_err(|_| Errno::ENOENT)?;
    let mut p = alloc::string::String::new();
    if !target.starts_with('/') {
        for c in &comps[..at] {
            p.push('/');
            p.push_str(c);
        }
    }
    p.push('/');
    p.push_str(target);
    for c in &comps[at + 1..] {
        p.push('/');
        p.push_str(c);
    }
    if trailing {
        p.push('/');
    }
    if p.len() >= MAXPATHLEN {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(p)
}

fn is_link(vp: &'static Vnode) -> bool {
    vp.with(|v| v.v_type) == VType::VLNK
}

fn namei_walk(path: &str, op: NameiOp, flags: CnFlags) -> Result<Walk, Errno> {
    if path.len() >= MAXPATHLEN {
        return Err(Errno::ENAMETOOLONG);
    }
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    // As OpenBSD: no limit on components, only on the path (MAXPATHLEN)
    // and each name (NAME_MAX); links are bounded by MAXSYMLINKS.
    if comps.iter().any(|c| c.len() > NAME_MAX) {
        return Err(Errno::ENAMETOOLONG);
    }
    // A trailing slash asks that the last component be a directory
    // (OpenBSD's REQUIREDIR), unless the caller strips it (mkdir).
    let trailing = path.trim_end_matches('/').len() < path.len();
    let requiredir = trailing && !flags.contains(CnFlags::STRIPSLASHES);
    let wants_parent = flags.intersects(CnFlags::LOCKPARENT | CnFlags::WANTPARENT);
    // Each directory is locked for its lookup, and the next vnode is
    // locked before the directory is let go (vfs_lookup's order).
    let mut dvp = crate::kern::vfs_init::vfs_rootvnode()?;
    let Some((last, walk)) = comps.split_last() else {
        // The root itself: nothing to create or remove.
        if op != NameiOp::LOOKUP || wants_parent {
            vput(dvp);
            return Err(if op == NameiOp::CREATE { Errno::EEXIST } else { Errno::EBUSY });
        }
        if !flags.contains(CnFlags::LOCKLEAF) {
            vop_unlock(dvp);
        }
        return Ok(Walk::Done(Nameidata { ni_dvp: None, ni_vp: Some(dvp), ni_name: Vec::new() }));
    };
    for (i, comp) in walk.iter().enumerate() {
        if *comp == ".." {
            dvp = cross_up(dvp)?;
        }
        let next = match VOP_LOOKUP(dvp, comp.as_bytes()) {
            Ok(next) => next,
            Err(e) => {
                vput(dvp);
                return Err(e);
            }
        };
        if core::ptr::eq(next, dvp) {
            // `..` of the root: the same vnode, already locked.
            vrele(next);
        } else {
            vput(dvp);
            dvp = cross_down(next)?;
        }
        if is_link(dvp) {
            let target = readlink(dvp)?;
            return splice(&comps, i, &target, trailing).map(Walk::Link);
        }
    }
    let name = last.as_bytes();
    if *last == ".." {
        dvp = cross_up(dvp)?;
    }
    if op != NameiOp::LOOKUP && *last == ".." {
        vput(dvp);
        return Err(Errno::EINVAL);
    }
    if dvp.with(|v| v.v_type) != VType::VDIR {
        vput(dvp);
        return Err(Errno::ENOTDIR);
    }
    let found = match VOP_LOOKUP(dvp, name) {
        Ok(vp) if core::ptr::eq(vp, dvp) => {
            // `..` of the root names the root (a LOOKUP: the others were
            // refused above). It cannot come back as parent and leaf both.
            vrele(vp);
            if wants_parent {
                vput(dvp);
                return Err(Errno::EINVAL);
            }
            if !flags.contains(CnFlags::LOCKLEAF) {
                vop_unlock(dvp);
            }
            return Ok(Walk::Done(Nameidata { ni_dvp: None, ni_vp: Some(dvp), ni_name: name.to_vec() }));
        }
        Ok(vp) if requiredir && !matches!(vp.with(|v| v.v_type), VType::VDIR | VType::VLNK) => {
            vput(vp);
            vput(dvp);
            return Err(Errno::ENOTDIR);
        }
        Ok(vp) => match cross_down(vp) {
            Ok(vp) => Some(vp),
            Err(e) => {
                vput(dvp);
                return Err(e);
            }
        },
        // With a trailing slash the name must exist.
        Err(Errno::ENOENT) if matches!(op, NameiOp::CREATE | NameiOp::RENAME) && !requiredir => None,
        Err(e) => {
            vput(dvp);
            return Err(e);
        }
    };
    if !flags.contains(CnFlags::LOCKPARENT) {
        vop_unlock(dvp);
    }
    if let Some(vp) = found.filter(|&vp| is_link(vp) && (flags.contains(CnFlags::FOLLOW) || requiredir)) {
        if flags.contains(CnFlags::LOCKPARENT) {
            vop_unlock(dvp);
        }
        vrele(dvp);
        let target = readlink(vp)?;
        return splice(&comps, comps.len() - 1, &target, requiredir).map(Walk::Link);
    }
    if let Some(vp) = found {
        if !flags.contains(CnFlags::LOCKLEAF) {
            vop_unlock(vp);
        }
    }
    let ni_dvp = if wants_parent {
        Some(dvp)
    } else {
        vrele(dvp);
        None
    };
    Ok(Walk::Done(Nameidata { ni_dvp, ni_vp: found, ni_name: name.to_vec() }))
}

/// Before `..` in the root of a mounted file system: the directory it is
/// mounted on, whose `..` is meant (OpenBSD namei's VROOT step). Takes and
/// gives back a locked, referenced vnode.
fn cross_up(mut dvp: &'static Vnode) -> Result<&'static Vnode, Errno> {
    while let Some(covered) = crate::kern::vfs_init::vfs_coveredroot(dvp).and_then(|mp| mp.mnt_vnodecovered) {
        vput(dvp);
        // The mount holds a reference to it.
        vref(covered);
        if let Err(e) = vn_lock(covered, LkFlags::LK_EXCLUSIVE | LkFlags::LK_RETRY) {
            vrele(covered);
            return Err(e);
        }
        dvp = covered;
    }
    Ok(dvp)
}

/// A directory another file system is mounted on stands for that file
/// system's root (OpenBSD namei's v_mountedhere loop). Takes and gives
/// back a locked, referenced vnode.
fn cross_down(mut vp: &'static Vnode) -> Result<&'static Vnode, Errno> {
    while let Some(mp) = crate::kern::vfs_init::vfs_mountedhere(vp) {
        vop_unlock(vp);
        let root = (mp.mnt_op.vfs_root)(mp);
        vrele(vp);
        vp = root?;
    }
    Ok(vp)
}

/// The vnode `path` names, referenced and unlocked (a LOOKUP that
/// follows a final symbolic link).
pub fn namei_lookup(path: &str) -> Result<&'static Vnode, Errno> {
    let nd = namei(path, NameiOp::LOOKUP, CnFlags::FOLLOW)?;
    nd.ni_vp.ok_or(Errno::ENOENT)
}

/// A path argument of a system call, copied in from the running process.
pub fn copyinpath(uaddr: u32) -> Result<Vec<u8>, Errno> {
    crate::uvm::uvm_map::copyinstr(uaddr, MAXPATHLEN)
}
