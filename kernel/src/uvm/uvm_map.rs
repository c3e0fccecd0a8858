//! Process address spaces (OpenBSD uvm_map.c, uvm_fault.c, uvm_mmap.c,
//! and copyin and copyout): a map of entries over a pmap, and the pages
//! behind them.
//!
//! An entry is anonymous zero-fill memory or a window on a file's object
//! (uvm_vnode), shared or private. A simplified amap (`anon`) holds each
//! process's own pages: anonymous ones, and private copies of file pages
//! made on the first write. Shared file pages are the object's; the pmap's
//! modified bit tells the pagedaemon which are dirty.

use crate::arch::intr::Ipl;
use crate::arch::pmap::{self, Pmap, USER_MAX, USER_MIN};
use crate::kern::kern_mutex::Mutex;
use crate::kern::kern_proc::{curproc, sched_lock};
use crate::kern::vfs_subr::Vnode;
use crate::sys::errno::Errno;
use crate::uvm::uvm_extern::Prot;
use crate::uvm::uvm_page::{trunc_page, uvm_pageactivate, uvm_pagealloc, uvm_pagecopy, uvm_pagefree, uvm_pagezero, PgFlags, Pga, VmPage, PAGE_SIZE};
use crate::uvm::uvm_pdaemon::uvm_wait;
use crate::uvm::uvm_vnode::{uvn_detach, uvn_get};
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use vmcore::vm_map::VmMapEntries;

/// A file window: the object's vnode, the file page at the entry's start,
/// and whether stores reach the file (MAP_SHARED) or a private copy.
#[derive(Clone, Copy)]
pub struct MapObj {
    pub vp: &'static Vnode,
    pub pgoff: u32,
    pub shared: bool,
}

/// A process's new anonymous page, filled: on the active queue and no
/// longer busy or fake, as uvm_fault and amap_cow_now leave it, so that
/// the pagedaemon's scans can take it.
fn anon_activate(pg: &'static VmPage) {
    pg.an_ref.store(1, Ordering::Relaxed);
    uvm_pageactivate(pg);
    pg.clear_flags(PgFlags::PG_BUSY | PgFlags::PG_FAKE);
}

/// Drops one address space's hold on an anonymous page, freeing it with
/// the last (OpenBSD anon_unref / uvm_anfree).
fn anon_unref(pg: &'static VmPage) {
    if pg.an_ref.fetch_sub(1, Ordering::Relaxed) == 1 {
        uvm_pagefree(pg);
    }
}

impl PartialEq for MapObj {
    fn eq(&self, o: &MapObj) -> bool {
        core::ptr::eq(self.vp, o.vp) && self.pgoff == o.pgoff && self.shared == o.shared
    }
}

impl Eq for MapObj {}

impl core::fmt::Debug for MapObj {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "vnode {} page {}{}", self.vp.v_id, self.pgoff, if self.shared { " shared" } else { " private" })
    }
}

/// What an entry maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapData {
    pub prot: Prot,
    /// None: anonymous memory.
    pub obj: Option<MapObj>,
}

/// Why page_for has no page: Ok((vnode, index)) when the object must read
/// it in first, or the fault's error.
type PageMissing = Result<(&'static Vnode, u32), Errno>;

/// What the locked part of a fault found.
enum FaultStep {
    Done,
    /// The object lacks the page: read it in (which sleeps), then retry.
    NeedPage(&'static Vnode, u32),
}

pub struct VmSpace {
    pub pmap: Pmap,
    pub map: VmMapEntries<MapData>,
    pub anon: BTreeMap<u32, &'static VmPage>,
    /// Pages of anonymous memory outside the stack that may be used
    /// (OpenBSD vm_dused), counted against RLIMIT_DATA.
    pub vm_dused: u32,
}

/// Free heap mmap asks for, in one block, before it adds an entry: an
/// insert may split a tree node at every level (316–364 bytes each).
const MAPENT_BYTES: usize = 4096;
/// Heap per entry and per page of a fork's copy (measured: 294,911 one-page
/// windows took ~16 MB, 54 bytes each), with a margin.
const FORK_BYTES_PER_ITEM: usize = 64;

/// The stack, which vm_dused leaves out (uvmspace_dused).
fn is_stack(start: u32, end: u32) -> bool {
    let (lo, hi) = crate::kern::kern_exec::stack_range();
    start >= lo && end <= hi
}

/// The pages [start, end) add to vm_dused: anonymous, accessible, not the stack.
fn dused_pages(start: u32, end: u32, d: &MapData) -> u32 {
    if d.obj.is_some() || d.prot == Prot::NONE || is_stack(start, end) {
        0
    } else {
        (end - start) / PAGE_SIZE
    }
}

impl VmSpace {
    /// An empty address space; EAGAIN when no pmap context is left (2^20
    /// address spaces alive), as fork answers at a process limit.
    pub fn new() -> Result<VmSpace, Errno> {
        let pmap = pmap::pmap_create().ok_or(Errno::EAGAIN)?;
        Ok(VmSpace { pmap, map: VmMapEntries::new(USER_MIN, USER_MAX), anon: BTreeMap::new(), vm_dused: 0 })
    }

    /// Adds an entry, if the heap has room for it (ENOMEM, not a panic,
    /// when a process's many entries have taken the kernel's memory).
    fn uvm_map_insert(&mut self, start: u32, end: u32, data: MapData) -> Result<(), Errno> {
        if !crate::kern::kern_malloc::kmem_available(MAPENT_BYTES) {
            return Err(Errno::ENOMEM);
        }
        self.map.insert(start, end, data).map_err(|_| Errno::ENOMEM)?;
        self.vm_dused += dused_pages(start, end, &data);
        Ok(())
    }

    /// Whether `size` more bytes of anonymous memory stay within the data
    /// limit (the check of OpenBSD's sys_mmap, uvm_mmap.c:409-415).
    pub fn dused_allows(&self, size: u32, limit: u64) -> bool {
        limit >= size as u64 && limit - size as u64 >= self.vm_dused as u64 * PAGE_SIZE as u64
    }

    /// Adds an anonymous entry (OpenBSD uvm_map with no object).
    pub fn uvm_map_anon(&mut self, start: u32, end: u32, prot: Prot) -> Result<(), Errno> {
        self.uvm_map_insert(start, end, MapData { prot, obj: None })
    }

    /// Adds a window on a file whose object reference the caller took
    /// (uvn_attach); the entry owns that reference.
    pub fn uvm_map_obj(&mut self, start: u32, end: u32, prot: Prot, obj: MapObj) -> Result<(), Errno> {
        self.uvm_map_insert(start, end, MapData { prot, obj: Some(obj) })
    }

    /// Removes [start, end) and frees the process's own pages in it
    /// (uvm_unmap). File windows go whole or not at all (no splitting);
    /// their object references are returned, with how many each, for the
    /// caller to drop with uvn_detach once no lock is held, since that may
    /// sleep. One entry at a time, as memory may be short when it is given
    /// back.
    pub fn uvm_unmap(&mut self, start: u32, end: u32) -> Result<Vec<(&'static Vnode, u32)>, Errno> {
        let split = self.map.iter().any(|e| e.data.obj.is_some() && e.start < end && start < e.end && (e.start < start || e.end > end));
        if split {
            return Err(Errno::EINVAL);
        }
        let mut objs: Vec<(&'static Vnode, u32)> = Vec::new();
        while let Some(e) = self.map.remove_first(start, end).map_err(|_| Errno::EINVAL)? {
            self.vm_dused -= dused_pages(e.start, e.end, &e.data);
            pmap::pmap_remove(self.pmap, e.start, e.end);
            while let Some((&va, _)) = self.anon.range(e.start..e.end).next() {
                if let Some(pg) = self.anon.remove(&va) {
                    anon_unref(pg);
                }
            }
            if let Some(o) = e.data.obj {
                match objs.last_mut() {
                    Some((vp, n)) if core::ptr::eq(*vp, o.vp) => *n += 1,
                    _ => objs.push((o.vp, 1)),
                }
            }
        }
        Ok(objs)
    }

    /// The page behind `va` for `access` (the core of uvm_fault): the
    /// process's own page, a new zero-filled one for anonymous memory, the
    /// object's page for a shared window (or for reading a private one),
    /// or a private copy of it on the first write. Err(None) when the
    /// object must first read the page in; the protection to map with.
    fn page_for(&mut self, va: u32, access: Prot) -> Result<(&'static VmPage, Prot), PageMissing> {
        let e = self.map.lookup(va).ok_or(Err(Errno::EFAULT))?;
        if !e.data.prot.contains(access) {
            return Err(Err(Errno::EFAULT));
        }
        let (prot, obj, estart) = (e.data.prot, e.data.obj, e.start);
        let vpg = trunc_page(va);
        if let Some(&pg) = self.anon.get(&vpg) {
            if pg.an_ref.load(Ordering::Relaxed) == 1 {
                return Ok((pg, prot));
            }
            // Shared with another address space since a fork: read it in
            // place, copy it on the first write (uvm_fault's anon COW).
            if !access.contains(Prot::WRITE) {
                return Ok((pg, prot - Prot::WRITE));
            }
            let npg = self.anon_copy(vpg, pg)?;
            anon_unref(pg);
            return Ok((npg, prot));
        }
        let Some(o) = obj else {
            let pg = uvm_pagealloc(Pga::User).ok_or(Err(Errno::ENOMEM))?;
            uvm_pagezero(pg);
            anon_activate(pg);
            self.anon.insert(vpg, pg);
            return Ok((pg, prot));
        };
        let idx = o.pgoff + (vpg - estart) / PAGE_SIZE;
        let resident = o.vp.v_uvm.with(|u| u.pages.get(&idx).copied());
        let Some(opg) = resident.filter(|p| !p.flags().contains(PgFlags::PG_BUSY)) else {
            return Err(Ok((o.vp, idx)));
        };
        if o.shared {
            return Ok((opg, prot));
        }
        if !access.contains(Prot::WRITE) {
            return Ok((opg, prot - Prot::WRITE));
        }
        // Copy-on-write into the process's own page.
        let pg = self.anon_copy(vpg, opg)?;
        pmap::pmap_remove(self.pmap, vpg, vpg + PAGE_SIZE);
        Ok((pg, prot))
    }

    /// A new page of the process's own at `vpg`, a copy of `from` (a page
    /// shared since a fork, or the object's page under a private window).
    fn anon_copy(&mut self, vpg: u32, from: &'static VmPage) -> Result<&'static VmPage, PageMissing> {
        let pg = uvm_pagealloc(Pga::User).ok_or(Err(Errno::ENOMEM))?;
        uvm_pagecopy(from, pg);
        anon_activate(pg);
        self.anon.insert(vpg, pg);
        Ok(pg)
    }

    /// The locked part of a fault: enter the mapping if the page is at
    /// hand.
    fn fault_step(&mut self, va: u32, access: Prot) -> Result<FaultStep, Errno> {
        match self.page_for(va, access) {
            Ok((pg, prot)) => {
                pmap::pmap_enter(self.pmap, trunc_page(va), pg.phys_addr(), prot, false);
                Ok(FaultStep::Done)
            }
            Err(Ok((vp, idx))) => Ok(FaultStep::NeedPage(vp, idx)),
            Err(Err(e)) => Err(e),
        }
    }

    /// Copies between kernel memory and [uva, uva + len) page by page,
    /// through each page's 1:1 address (a BAT, or the 970's direct map), faulting pages in as needed;
    /// any page outside the map or without `access` is EFAULT.
    fn copy(&mut self, uva: u32, len: usize, access: Prot, mut f: impl FnMut(*mut u8, usize, usize)) -> Result<(), Errno> {
        let end = uva.checked_add(len as u32).ok_or(Errno::EFAULT)?;
        if uva < USER_MIN || end > USER_MAX || len > (USER_MAX - USER_MIN) as usize {
            return Err(Errno::EFAULT);
        }
        let mut done = 0usize;
        while done < len {
            let va = uva + done as u32;
            // A file page not read in yet is EFAULT here: reading it would
            // sleep with the address space locked (the system call faults
            // it in and tries again).
            // No free page is ENOMEM (the caller waits for one, as a fault
            // would); anything else, a file page not read in included, EFAULT.
            let (pg, _) = self.page_for(va, access).map_err(|e| if matches!(e, Err(Errno::ENOMEM)) { Errno::ENOMEM } else { Errno::EFAULT })?;
            if access.contains(Prot::WRITE) && pg.owner().is_some() {
                pmap::pmap_set_modify(pg);
            }
            let off = va & (PAGE_SIZE - 1);
            let n = ((PAGE_SIZE - off) as usize).min(len - done);
            f((pg.phys_addr() + off) as *mut u8, done, n);
            done += n;
        }
        Ok(())
    }

    pub fn copyin(&mut self, uva: u32, buf: &mut [u8]) -> Result<(), Errno> {
        self.copy(uva, buf.len(), Prot::READ, |p, at, n| {
            // SAFETY: p..p+n is inside a page of this address space that
            // page_for returned (RAM, mapped 1:1); buf[at..at+n] is in bounds.
            unsafe { core::ptr::copy_nonoverlapping(p, buf[at..].as_mut_ptr(), n) }
        })
    }

    /// Writes `buf` at `uva`. The kernel writes the page through its own
    /// mapping, which no MMU changed bit records: a file page written so is
    /// marked modified by hand, so that its object writes it back.
    pub fn copyout(&mut self, buf: &[u8], uva: u32) -> Result<(), Errno> {
        self.copy(uva, buf.len(), Prot::WRITE, |p, at, n| {
            // SAFETY: as in copyin, in the other direction.
            unsafe { core::ptr::copy_nonoverlapping(buf[at..].as_ptr(), p, n) }
        })
    }

    /// Writes `data` at `uva` whatever the entries allow (loading a program).
    pub fn uvm_fill(&mut self, uva: u32, data: &[u8]) -> Result<(), Errno> {
        self.copy(uva, data.len(), Prot::NONE, |p, at, n| {
            // SAFETY: as in copyin, in the other direction.
            unsafe { core::ptr::copy_nonoverlapping(data[at..].as_ptr(), p, n) }
        })
    }

    /// The rest of a NUL-terminated string of at most `max` bytes (without
    /// the NUL) into `out`, from byte `out.len()` on: EFAULT leaves in
    /// `out` what was read, so the caller can fault the next page in and
    /// go on.
    fn copyinstr_more(&mut self, uva: u32, max: usize, out: &mut alloc::vec::Vec<u8>) -> Result<(), Errno> {
        let mut b = [0u8; 1];
        loop {
            self.copyin(uva.checked_add(out.len() as u32).ok_or(Errno::EFAULT)?, &mut b)?;
            if b[0] == 0 {
                return Ok(());
            }
            if out.len() == max {
                return Err(Errno::ENAMETOOLONG);
            }
            out.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
            out.push(b[0]);
        }
    }

    /// A copy for a child (fork, OpenBSD uvmspace_fork with amap_copy):
    /// the same entries, and every anonymous page shared copy-on-write —
    /// held by both spaces and write-protected in the parent, so that
    /// whichever writes first copies it.
    /// The child's address space, and the objects whose references its
    /// file windows need: the caller takes them (uvn_reference) once the
    /// address space's lock is let go, since taking one may sleep on the
    /// object's lock (the parent's references keep them alive meanwhile).
    pub fn uvmspace_fork(&self) -> Result<(VmSpace, Vec<&'static Vnode>), Errno> {
        // The child's entries and page index, from the heap: ENOMEM up
        // front rather than a failed allocation half-way.
        if !crate::kern::kern_malloc::kmem_available((self.map.len() + self.anon.len()) * FORK_BYTES_PER_ITEM) {
            return Err(Errno::ENOMEM);
        }
        let mut child = VmSpace::new()?;
        let mut refs = Vec::new();
        refs.try_reserve(self.map.len()).map_err(|_| Errno::ENOMEM)?;
        for e in self.map.iter() {
            child.map.insert(e.start, e.end, e.data).map_err(|_| Errno::ENOMEM)?;
            if let Some(o) = e.data.obj {
                refs.push(o.vp);
            }
            // Anonymous memory and private copies of file pages are shared
            // now; a shared file window's pages stay the object's.
            if e.data.prot.contains(Prot::WRITE) && e.data.obj.is_none_or(|o| !o.shared) {
                pmap::pmap_protect(self.pmap, e.start, e.end, e.data.prot - Prot::WRITE);
            }
        }
        child.vm_dused = self.vm_dused;
        for (&va, &pg) in &self.anon {
            pg.an_ref.fetch_add(1, Ordering::Relaxed);
            child.anon.insert(va, pg);
        }
        Ok((child, refs))
    }

    /// Tears the address space down: mappings, pages, the pmap, and the
    /// file windows' object references (which may sleep: no lock held).
    pub fn uvmspace_free(self) {
        pmap::pmap_destroy(self.pmap);
        for (_, pg) in self.anon {
            anon_unref(pg);
        }
        for e in self.map.iter() {
            if let Some(o) = e.data.obj {
                uvn_detach(o.vp);
            }
        }
    }
}

/// Resolves a user fault at `va` for `access` (OpenBSD uvm_fault): under
/// the address-space lock if the page is at hand, else the object reads it
/// in with no lock held, and the fault is tried again.
pub fn uvm_fault(pid: u32, va: u32, access: Prot) -> Result<(), Errno> {
    let mut waits = 0;
    let r = uvm_fault_loop(pid, va, access, &mut waits);
    if waits > 0 {
        crate::diag::deadlock::memwait_end();
    }
    r
}

fn uvm_fault_loop(pid: u32, va: u32, access: Prot, waits: &mut u32) -> Result<(), Errno> {
    // The mapping the fault enters takes heap (the pmap's entry and pv
    // list): room first, or the process goes as with no page.
    crate::kern::kern_malloc::kmem_wait(KMEM_FAULT)?;
    loop {
        match with_vmspace(pid, |vs| vs.fault_step(va, access)).unwrap_or(Err(Errno::EFAULT)) {
            Ok(FaultStep::Done) => return Ok(()),
            // The object has no such page (past the end of the file) or
            // cannot read it: EIO, which the trap turns into SIGBUS, as
            // OpenBSD's uvm_fault and trap do.
            // The vnode lock was busy: the pager freed its page; sleep a
            // little and fault again (uvm_fault's VM_PAGER_AGAIN).
            Ok(FaultStep::NeedPage(vp, idx)) => match uvn_get(vp, idx) {
                Ok(_) => {}
                Err(Errno::EAGAIN) => uvm_fault_again_sleep(),
                Err(_) => return Err(Errno::EIO),
            },
            // No free page: wait for the pagedaemon (uvm_wait), for a
            // while; memory that nothing can free ends the process.
            Err(Errno::ENOMEM) if *waits < MAXFAULTWAITS => {
                *waits += 1;
                uvm_wait("flt_noram");
            }
            Err(e) => return Err(e),
        }
    }
}

/// The pause before a fault is tried again after its pager said "try
/// again": 5 ms (at least a tick), on a channel nothing wakes, as
/// OpenBSD's uvm_fault sleeps on `nowake` ("fltagain2").
pub fn uvm_fault_again_sleep() {
    static NOWAKE: u8 = 0;
    let ticks = (crate::kern::kern_clock::hz() * 5).div_ceil(1000).max(1);
    let _ = crate::kern::kern_synch::tsleep(crate::kern::kern_synch::wchan(&NOWAKE), "fltagain2", ticks);
}

/// Heap a fault waits for before it starts.
const KMEM_FAULT: usize = 4096;

/// Ticks a fault waits for a free page before giving up.
const MAXFAULTWAITS: u32 = 1000;

/// The address space of process `pid` (its p_vmspace).
fn vmspace_of(pid: u32) -> Option<Arc<Mutex<VmSpace>>> {
    sched_lock().procs.get(&pid).and_then(|p| p.p_vmspace.clone())
}

/// Runs `f` on the address space of process `pid`.
pub fn with_vmspace<R>(pid: u32, f: impl FnOnce(&mut VmSpace) -> R) -> Option<R> {
    let vs = vmspace_of(pid)?;
    let r = f(&mut vs.lock());
    Some(r)
}

/// The space a process gave up, for uvmspace_free: no one else holds it
/// (only the process itself works on its own space).
fn vmspace_unshare(pid: u32, old: Arc<Mutex<VmSpace>>) -> VmSpace {
    match Arc::into_inner(old) {
        Some(m) => m.into_inner(),
        None => panic!("vmspace of process {pid} is still in use"),
    }
}

/// Installs `vs` as the address space of `pid`, returning the old one.
pub fn vmspace_replace(pid: u32, vs: VmSpace) -> Option<VmSpace> {
    // IPL_VM: the fault path allocates pages and enters mappings under it.
    let new = Arc::new(Mutex::new(Ipl::Vm, vs));
    let old = sched_lock().get(pid).p_vmspace.replace(new);
    old.map(|o| vmspace_unshare(pid, o))
}

/// Takes the address space away from `pid` (exit).
pub fn vmspace_remove(pid: u32) -> Option<VmSpace> {
    let old = sched_lock().get(pid).p_vmspace.take();
    old.map(|o| vmspace_unshare(pid, o))
}

/// Runs a copy between the kernel and the current process's `len` bytes at
/// `uva`. A page that is not resident (a file page not read in yet) fails
/// the copy, since reading it sleeps and the address space is locked during
/// the copy: it is faulted in with nothing locked, as OpenBSD's copyin and
/// copyout fault, and the copy tried again. An address no fault can
/// resolve is EFAULT.
fn user_copy(uva: u32, len: usize, access: Prot, mut f: impl FnMut(&mut VmSpace, u32, core::ops::Range<usize>) -> Result<(), Errno>) -> Result<(), Errno> {
    uva.checked_add(len as u32).ok_or(Errno::EFAULT)?;
    // A page at a time, each faulted in as often as it takes, as OpenBSD's
    // copyin resumes after each fault: under memory pressure the
    // pagedaemon may take a page again before the copy reaches it, and a
    // whole buffer need never be resident at once.
    let mut done = 0usize;
    while done < len {
        let va = uva + done as u32;
        let n = ((PAGE_SIZE - (va & (PAGE_SIZE - 1))) as usize).min(len - done);
        loop {
            match with_curvmspace(|vs| f(vs, va, done..done + n)) {
                Err(Errno::EFAULT) => uvm_fault(curproc(), va & !(PAGE_SIZE - 1), access).map_err(|_| Errno::EFAULT)?,
                // No free page: the fault path waits for one (or gives up
                // as a process's fault does, out of swap).
                Err(Errno::ENOMEM) => uvm_fault(curproc(), va & !(PAGE_SIZE - 1), access)?,
                r => break r?,
            }
        }
        done += n;
    }
    Ok(())
}

/// Copies `buf` out to the running process at `uva` (copyout(9)).
pub fn copyout(buf: &[u8], uva: u32) -> Result<(), Errno> {
    user_copy(uva, buf.len(), Prot::WRITE, |vs, va, r| vs.copyout(&buf[r], va))
}

/// Copies from the running process at `uva` into `buf` (copyin(9)).
pub fn copyin(uva: u32, buf: &mut [u8]) -> Result<(), Errno> {
    let len = buf.len();
    user_copy(uva, len, Prot::READ, |vs, va, r| vs.copyin(va, &mut buf[r]))
}

/// A NUL-terminated string of at most `max` bytes from the running
/// process (copyinstr(9)), without the NUL. A page not resident (a file
/// page not read in yet) is faulted in with nothing locked, as for
/// copyin, and the copy goes on from there.
pub fn copyinstr(uva: u32, max: usize) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    loop {
        match with_curvmspace(|vs| vs.copyinstr_more(uva, max, &mut out)) {
            Err(Errno::EFAULT) => {
                let va = uva.checked_add(out.len() as u32).ok_or(Errno::EFAULT)?;
                uvm_fault(curproc(), va & !(PAGE_SIZE - 1), Prot::READ).map_err(|_| Errno::EFAULT)?;
            }
            r => return r.map(|()| out),
        }
    }
}

/// Runs `f` on the running process's address space; EFAULT for a kernel
/// thread, which has none.
pub fn with_curvmspace<R>(f: impl FnOnce(&mut VmSpace) -> Result<R, Errno>) -> Result<R, Errno> {
    with_vmspace(curproc(), f).unwrap_or(Err(Errno::EFAULT))
}
