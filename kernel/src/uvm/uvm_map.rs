//! Process address spaces (OpenBSD uvm_map.c, uvm_fault.c, and copyin and
//! copyout): a map of entries over a pmap, and the pages behind them.
//!
//! Every entry is anonymous, zero-fill memory for now; a simplified amap
//! (`anon`) holds the page behind each virtual page once it was touched.
//! The vnode pager comes with the UVM issue.

use crate::arch::powerpc::intr::Ipl;
use crate::arch::powerpc::pmap::{self, Pmap, Prot, USER_MAX, USER_MIN};
use crate::kern::kern_mutex::Mutex;
use crate::sys::errno::Errno;
use crate::uvm::uvm_page::{trunc_page, uvm_pageactivate, uvm_pagealloc, uvm_pagefree, uvm_pagezero, VmPage, PAGE_SIZE};
use alloc::collections::BTreeMap;
use vmcore::vm_map::VmMapEntries;

/// What an entry maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapData {
    pub prot: Prot,
}

pub struct VmSpace {
    pub pmap: Pmap,
    pub map: VmMapEntries<MapData>,
    pub anon: BTreeMap<u32, &'static VmPage>,
}

/// Address spaces by process id. IPL_VM: the fault path allocates pages
/// and enters mappings under it.
static VMSPACES: Mutex<BTreeMap<u32, VmSpace>> = Mutex::new(Ipl::Vm, BTreeMap::new());

impl VmSpace {
    pub fn new() -> VmSpace {
        VmSpace { pmap: pmap::pmap_create(), map: VmMapEntries::new(USER_MIN, USER_MAX), anon: BTreeMap::new() }
    }

    /// Adds an anonymous entry (OpenBSD uvm_map with no object).
    pub fn uvm_map_anon(&mut self, start: u32, end: u32, prot: Prot) -> Result<(), Errno> {
        self.map.insert(start, end, MapData { prot }).map_err(|_| Errno::ENOMEM)
    }

    /// Removes [start, end) and frees the pages behind it (uvm_unmap).
    pub fn uvm_unmap(&mut self, start: u32, end: u32) -> Result<(), Errno> {
        let gone = self.map.remove(start, end).map_err(|_| Errno::EINVAL)?;
        for e in gone {
            pmap::pmap_remove(self.pmap, e.start, e.end);
            let pages: alloc::vec::Vec<u32> = self.anon.range(e.start..e.end).map(|(&va, _)| va).collect();
            for va in pages {
                if let Some(pg) = self.anon.remove(&va) {
                    uvm_pagefree(pg);
                }
            }
        }
        Ok(())
    }

    /// The page behind `va`, allocated zero-filled on first touch, after
    /// checking that the entry allows `access` (the core of uvm_fault).
    fn page_for(&mut self, va: u32, access: Prot) -> Result<&'static VmPage, Errno> {
        let e = self.map.lookup(va).ok_or(Errno::EFAULT)?;
        if !e.data.prot.contains(access) {
            return Err(Errno::EFAULT);
        }
        let vpg = trunc_page(va);
        if let Some(&pg) = self.anon.get(&vpg) {
            return Ok(pg);
        }
        let pg = uvm_pagealloc().ok_or(Errno::ENOMEM)?;
        uvm_pagezero(pg);
        uvm_pageactivate(pg);
        self.anon.insert(vpg, pg);
        Ok(pg)
    }

    /// Resolves a fault at `va` for `access` and enters the mapping.
    pub fn uvm_fault(&mut self, va: u32, access: Prot) -> Result<(), Errno> {
        let pg = self.page_for(va, access)?;
        let prot = self.map.lookup(va).map_or(Prot::NONE, |e| e.data.prot);
        pmap::pmap_enter(self.pmap, trunc_page(va), pg.phys_addr(), prot, false);
        Ok(())
    }

    /// Copies between kernel memory and [uva, uva + len) page by page,
    /// through each page's 1:1 (BAT) address, faulting pages in as needed;
    /// any page outside the map or without `access` is EFAULT.
    fn copy(&mut self, uva: u32, len: usize, access: Prot, mut f: impl FnMut(*mut u8, usize, usize)) -> Result<(), Errno> {
        let end = uva.checked_add(len as u32).ok_or(Errno::EFAULT)?;
        if uva < USER_MIN || end > USER_MAX || len > (USER_MAX - USER_MIN) as usize {
            return Err(Errno::EFAULT);
        }
        let mut done = 0usize;
        while done < len {
            let va = uva + done as u32;
            let pg = self.page_for(va, access).map_err(|_| Errno::EFAULT)?;
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
            // page_for returned (RAM, BAT-mapped); buf[at..at+n] is in bounds.
            unsafe { core::ptr::copy_nonoverlapping(p, buf[at..].as_mut_ptr(), n) }
        })
    }

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

    /// A NUL-terminated string of at most `max` bytes (without the NUL).
    pub fn copyinstr(&mut self, uva: u32, max: usize) -> Result<alloc::vec::Vec<u8>, Errno> {
        let mut out = alloc::vec::Vec::new();
        let mut b = [0u8; 1];
        loop {
            self.copyin(uva.checked_add(out.len() as u32).ok_or(Errno::EFAULT)?, &mut b)?;
            if b[0] == 0 {
                return Ok(out);
            }
            if out.len() == max {
                return Err(Errno::ENAMETOOLONG);
            }
            out.push(b[0]);
        }
    }

    /// A copy for a child (fork): same entries, and a private copy of every
    /// page touched so far.
    pub fn uvmspace_fork(&self) -> Result<VmSpace, Errno> {
        let mut child = VmSpace::new();
        for e in self.map.iter() {
            child.map.insert(e.start, e.end, e.data).map_err(|_| Errno::ENOMEM)?;
        }
        for (&va, pg) in &self.anon {
            let Some(npg) = uvm_pagealloc() else {
                child.uvmspace_free();
                return Err(Errno::ENOMEM);
            };
            // SAFETY: both pages are RAM mapped 1:1 by BAT0; the new one is ours.
            unsafe {
                core::ptr::copy_nonoverlapping(pg.phys_addr() as *const u8, npg.phys_addr() as *mut u8, PAGE_SIZE as usize)
            };
            uvm_pageactivate(npg);
            child.anon.insert(va, npg);
        }
        Ok(child)
    }

    /// Tears the address space down: mappings, pages, the pmap.
    pub fn uvmspace_free(self) {
        pmap::pmap_destroy(self.pmap);
        for (_, pg) in self.anon {
            uvm_pagefree(pg);
        }
    }
}

impl Default for VmSpace {
    fn default() -> Self {
        VmSpace::new()
    }
}

/// Runs `f` on the address space of process `pid`.
pub fn with_vmspace<R>(pid: u32, f: impl FnOnce(&mut VmSpace) -> R) -> Option<R> {
    VMSPACES.lock().get_mut(&pid).map(f)
}

/// Installs `vs` as the address space of `pid`, returning the old one.
pub fn vmspace_replace(pid: u32, vs: VmSpace) -> Option<VmSpace> {
    VMSPACES.lock().insert(pid, vs)
}

pub fn vmspace_remove(pid: u32) -> Option<VmSpace> {
    VMSPACES.lock().remove(&pid)
}
