//! File descriptors (OpenBSD kern_descrip.c): each process's table of open
//! files. Descriptors 0, 1 and 2 are the console; opened files take the
//! lowest free number from 3. A file holds a reference on its vnode.

use crate::arch::powerpc::intr::Ipl;
use crate::kern::kern_mutex::Mutex;
use crate::kern::vfs_subr::{vref, vrele, Vnode};
use crate::sys::errno::Errno;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// Descriptors a process may have open.
pub const NOFILE: usize = 64;
/// The console's descriptors.
pub const NCONSFD: usize = 3;

#[derive(Clone, Copy)]
pub struct File {
    pub f_vp: &'static Vnode,
    pub f_offset: u64,
}

/// Descriptor tables by process id.
static FILEDESC: Mutex<BTreeMap<u32, Vec<Option<File>>>> = Mutex::new(Ipl::None, BTreeMap::new());

/// Installs `f` at the lowest free descriptor of `pid` (fdalloc).
pub fn fdalloc(pid: u32, f: File) -> Result<u32, Errno> {
    let mut t = FILEDESC.lock();
    let fds = t.entry(pid).or_default();
    let slot = match fds.iter().position(Option::is_none) {
        Some(i) => i,
        None if fds.len() + NCONSFD < NOFILE => {
            fds.push(None);
            fds.len() - 1
        }
        None => return Err(Errno::EMFILE),
    };
    fds[slot] = Some(f);
    Ok((slot + NCONSFD) as u32)
}

/// Runs `f` on open file `fd` of `pid`; EBADF if there is none.
pub fn with_file<R>(pid: u32, fd: u32, f: impl FnOnce(&mut File) -> R) -> Result<R, Errno> {
    let i = (fd as usize).checked_sub(NCONSFD).ok_or(Errno::EBADF)?;
    let mut t = FILEDESC.lock();
    let file = t.get_mut(&pid).and_then(|fds| fds.get_mut(i)).and_then(Option::as_mut).ok_or(Errno::EBADF)?;
    Ok(f(file))
}

/// Closes `fd` of `pid`, dropping its vnode reference.
pub fn fdrelease(pid: u32, fd: u32) -> Result<(), Errno> {
    let i = (fd as usize).checked_sub(NCONSFD).ok_or(Errno::EBADF)?;
    let file = {
        let mut t = FILEDESC.lock();
        t.get_mut(&pid).and_then(|fds| fds.get_mut(i)).and_then(Option::take).ok_or(Errno::EBADF)?
    };
    vrele(file.f_vp);
    Ok(())
}

/// A child's copy of its parent's table (fork): each file's vnode gains a
/// reference.
pub fn fdcopy(parent: u32, child: u32) {
    let fds = FILEDESC.lock().get(&parent).cloned().unwrap_or_default();
    for f in fds.iter().flatten() {
        vref(f.f_vp);
    }
    FILEDESC.lock().insert(child, fds);
}

/// Closes every file of an exiting process.
pub fn fdfree(pid: u32) {
    let fds = FILEDESC.lock().remove(&pid).unwrap_or_default();
    for f in fds.into_iter().flatten() {
        vrele(f.f_vp);
    }
}
