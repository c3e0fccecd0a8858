//! File descriptors (OpenBSD kern_descrip.c): each process's table of open
//! files. Descriptors 0, 1 and 2 are the console; opened files take the
//! lowest free number from 3. An open file (struct file) is shared by the
//! descriptors fork copies, offset included, and holds one reference on its
//! vnode until the last descriptor goes.

use crate::arch::intr::Ipl;
use crate::kern::kern_mutex::Mutex;
use crate::kern::kern_proc::sched_lock;
use crate::kern::vfs_subr::Vnode;
use crate::kern::vfs_vnops::vn_close;
use crate::sys::errno::Errno;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// Descriptors a process may have open.
pub const NOFILE: usize = 64;
/// The console's descriptors.
pub const NCONSFD: usize = 3;

pub struct File {
    pub f_vp: &'static Vnode,
    pub f_offset: u64,
    /// The open(2) flags (access mode, O_APPEND).
    pub f_flag: u32,
}

/// An open file, shared by the descriptors that name it (f_count is the
/// Arc's count).
type FileRef = Arc<Mutex<File>>;

/// A process's descriptor table (struct filedesc): open files by
/// descriptor number less NCONSFD.
#[derive(Default)]
pub struct FileDesc {
    fd_ofiles: Vec<Option<FileRef>>,
}

/// The descriptor table of `pid`, made empty first if it has none and
/// `create` says so.
fn fdp(pid: u32, create: bool) -> Option<Arc<Mutex<FileDesc>>> {
    // Allocated before the process table's spin lock is taken.
    let new = create.then(|| Arc::new(Mutex::new(Ipl::None, FileDesc::default())));
    let mut st = sched_lock();
    let p = st.procs.get_mut(&pid)?;
    if let Some(new) = new {
        p.p_fd.get_or_insert(new);
    }
    p.p_fd.clone()
}

/// Installs `f` at the lowest free descriptor of `pid` (fdalloc).
pub fn fdalloc(pid: u32, f: File) -> Result<u32, Errno> {
    let fdp = fdp(pid, true).ok_or(Errno::ESRCH)?;
    let mut t = fdp.lock();
    let fds = &mut t.fd_ofiles;
    let slot = match fds.iter().position(Option::is_none) {
        Some(i) => i,
        None if fds.len() + NCONSFD < NOFILE => {
            fds.push(None);
            fds.len() - 1
        }
        None => return Err(Errno::EMFILE),
    };
    fds[slot] = Some(Arc::new(Mutex::new(Ipl::None, f)));
    Ok((slot + NCONSFD) as u32)
}

/// Runs `f` on open file `fd` of `pid`; EBADF if there is none.
pub fn with_file<R>(pid: u32, fd: u32, f: impl FnOnce(&mut File) -> R) -> Result<R, Errno> {
    let i = (fd as usize).checked_sub(NCONSFD).ok_or(Errno::EBADF)?;
    let fdp = fdp(pid, false).ok_or(Errno::EBADF)?;
    let file = fdp.lock().fd_ofiles.get(i).and_then(Option::clone).ok_or(Errno::EBADF)?;
    let r = f(&mut file.lock());
    Ok(r)
}

/// Drops one descriptor's hold on an open file; the last one releases the
/// vnode.
fn closef(file: FileRef) {
    if let Some(m) = Arc::into_inner(file) {
        let (vp, flag) = {
            let f = m.lock();
            (f.f_vp, f.f_flag)
        };
        // vn_closefile's kernel lock (vfs_vnops.c:601, :610@2ea167a2):
        // close(2) is NOLOCK.
        crate::kern::kern_lock::with_kernel_lock(|| vn_close(vp, flag));
    }
}

/// Closes `fd` of `pid`, dropping its vnode reference.
pub fn fdrelease(pid: u32, fd: u32) -> Result<(), Errno> {
    let i = (fd as usize).checked_sub(NCONSFD).ok_or(Errno::EBADF)?;
    let fdp = fdp(pid, false).ok_or(Errno::EBADF)?;
    let file = fdp.lock().fd_ofiles.get_mut(i).and_then(Option::take).ok_or(Errno::EBADF)?;
    closef(file);
    Ok(())
}

/// A child's copy of its parent's table (fork): the same open files.
pub fn fdcopy(parent: u32, child: u32) {
    let fds = fdp(parent, false).map(|f| f.lock().fd_ofiles.clone()).unwrap_or_default();
    let new = Arc::new(Mutex::new(Ipl::None, FileDesc { fd_ofiles: fds }));
    sched_lock().get(child).p_fd = Some(new);
}

/// Closes every file of an exiting process.
pub fn fdfree(pid: u32) {
    let Some(fdp) = sched_lock().get(pid).p_fd.take() else { return };
    let fds = core::mem::take(&mut fdp.lock().fd_ofiles);
    fds.into_iter().flatten().for_each(closef);
}
