//! The pagedaemon (OpenBSD uvm_pdaemon.c): a kernel thread woken when an
//! allocation leaves free memory under the targets. It scans the inactive
//! queue — try-locking each page's object, reactivating referenced pages,
//! freeing clean ones and paging dirty ones out through uvm_pager_put,
//! holding no reference on the object or its vnode, as in 2022 — until
//! free + paging reaches 4·freetarg, then refills the inactive queue from
//! the active one. Anonymous pages have no swap to go to and stay.

use crate::arch::powerpc::pmap::{pmap_clear_reference, pmap_is_referenced, pmap_page_protect, Prot};
use crate::kern::kern_kthread::kthread_create;
use crate::kern::kern_synch::{tsleep, wakeup};
use crate::kern::vfs_subr::vnode_by_id;
use crate::sys::errno::Errno;
use crate::sys::vnode::VType;
use crate::uvm::uvm_page::{
    uvm_page_queue, uvm_pageactivate, uvm_pagedeactivate, uvm_queue_pages, uvmexp, uvmexp_paging, uvmpd_retune,
    PgFlags, VmPage, PQ_ACTIVE, PQ_INACTIVE,
};
use crate::uvm::uvm_vnode::{page_unbusy, uvm_pager_put, uvn_pagefree, PagerResult, PgoFlags};
use core::sync::atomic::{AtomicU32, Ordering};

/// Where the pagedaemon sleeps, and where allocators wait for memory.
static PAGEDAEMON: AtomicU32 = AtomicU32::new(0);
static MEMORY: AtomicU32 = AtomicU32::new(0);
/// Pages the pagedaemon has written and freed (for reports).
static PAGEOUTS: AtomicU32 = AtomicU32::new(0);
static RUNNING: AtomicU32 = AtomicU32::new(0);
/// Passes made and clean pages freed (for reports).
static SCANS: AtomicU32 = AtomicU32::new(0);
static FREED: AtomicU32 = AtomicU32::new(0);

fn pd_wchan() -> usize {
    &PAGEDAEMON as *const _ as usize
}

fn mem_wchan() -> usize {
    &MEMORY as *const _ as usize
}

/// Starts the pagedaemon thread (with the first user process: the
/// kernel's self-tests run without it).
pub fn uvm_pagedaemon_start() {
    if RUNNING.load(Ordering::Relaxed) != 0 {
        return;
    }
    if kthread_create("pagedaemon", uvm_pageout).is_none() {
        panic!("uvm: cannot start the pagedaemon");
    }
    RUNNING.store(1, Ordering::Relaxed);
}

/// Wakes the pagedaemon (from allocations under the targets).
pub fn uvm_pagedaemon_wake() {
    if RUNNING.load(Ordering::Relaxed) != 0 {
        wakeup(pd_wchan());
    }
}

/// Waits for the pagedaemon to free memory (OpenBSD uvm_wait); a tick at
/// most, so that a caller with nothing to page out tries again.
pub fn uvm_wait(wmesg: &'static str) {
    uvm_pagedaemon_wake();
    let _ = tsleep(mem_wchan(), wmesg, 1);
}

/// (passes, pages written, pages freed) so far.
pub fn uvmpd_stats() -> (u32, u32, u32) {
    (SCANS.load(Ordering::Relaxed), PAGEOUTS.load(Ordering::Relaxed), FREED.load(Ordering::Relaxed))
}

/// The pagedaemon's body (OpenBSD uvm_pageout).
fn uvm_pageout() {
    loop {
        // No timeout: allocations wake it, and a sleeper with a timeout
        // would hide a deadlock from the detector.
        let _ = tsleep(pd_wchan(), "pgdaemon", 0);
        let e = uvmpd_retune();
        if e.free < e.freetarg || e.inactive < e.inactarg {
            uvmpd_scan();
        }
        wakeup(mem_wchan());
    }
}

/// One pass: the inactive queue, then the active one (uvmpd_scan).
fn uvmpd_scan() {
    SCANS.fetch_add(1, Ordering::Relaxed);
    let e = uvmexp();
    if e.free + e.paging < 4 * e.freetarg {
        uvmpd_scan_inactive(e.inactive as usize);
    }
    let e = uvmpd_retune();
    let want = e.inactarg.saturating_sub(e.inactive) as usize;
    for pg in uvm_queue_pages(PQ_ACTIVE, e.active as usize).into_iter().take(want.max(1) * 2) {
        if uvmexp().inactive >= uvmexp().inactarg {
            break;
        }
        if pg.owner().is_none() || pg.flags().contains(PgFlags::PG_BUSY) {
            continue;
        }
        // Referenced since the last pass: it stays active this once.
        if pmap_clear_reference(pg) {
            continue;
        }
        uvm_pagedeactivate(pg);
    }
}

/// The object page `pg` is, with its vnode.
fn page_vnode(pg: &'static VmPage) -> Option<(&'static crate::kern::vfs_subr::Vnode, u32)> {
    let (vid, idx) = pg.owner()?;
    let vp = vnode_by_id(vid)?;
    vp.v_uvm.owns(idx, pg).then_some((vp, idx))
}

/// Scans up to `max` inactive pages until free + paging reaches
/// 4·freetarg (uvmpd_scan_inactive).
#[inline(never)]
fn uvmpd_scan_inactive(max: usize) {
    for pg in uvm_queue_pages(PQ_INACTIVE, max) {
        let e = uvmexp();
        if e.free + e.paging >= 4 * e.freetarg {
            return;
        }
        if uvm_page_queue(pg) != Some(PQ_INACTIVE) {
            continue;
        }
        let Some((vp, idx)) = page_vnode(pg) else { continue };
        if vp.with(|v| v.v_type) != VType::VREG {
            continue;
        }
        let uvn = &vp.v_uvm;
        if uvn.vmobjlock.rw_enter(crate::kern::kern_rwlock::RwFlags::RW_WRITE | crate::kern::kern_rwlock::RwFlags::RW_NOSLEEP) == Err(Errno::EBUSY)
        {
            continue;
        }
        // An object being killed or terminated belongs to its flush, which
        // may hold the vnode lock for its own I/O (VNISLOCKED): skip it.
        if !uvn.with(|u| u.u_flags.intersects(crate::uvm::uvm_vnode::UvnFlags::UVM_VNODE_BLOCKED)) {
            uvmpd_page(vp, idx, pg);
        }
        uvn.vmobjlock.rw_exit();
    }
}

/// What the pagedaemon does with one inactive object page, the object
/// locked: reactivate, free, or page out.
fn uvmpd_page(vp: &'static crate::kern::vfs_subr::Vnode, idx: u32, pg: &'static VmPage) {
    if pg.flags().contains(PgFlags::PG_BUSY) || !vp.v_uvm.owns(idx, pg) {
        return;
    }
    if pmap_is_referenced(pg) {
        pmap_clear_reference(pg);
        uvm_pageactivate(pg);
        return;
    }
    let dirty = !pg.flags().contains(PgFlags::PG_CLEAN) || crate::arch::powerpc::pmap::pmap_is_modified(pg);
    if dirty {
        pg.set_flags(PgFlags::PG_BUSY);
        pmap_page_protect(pg, Prot::READ);
        uvmexp_paging(1);
        let r = uvm_pager_put(vp, idx, pg, PgoFlags::empty());
        uvmexp_paging(-1);
        page_unbusy(pg);
        if r != PagerResult::VM_PAGER_OK {
            uvm_pageactivate(pg);
            return;
        }
        PAGEOUTS.fetch_add(1, Ordering::Relaxed);
    }
    // Clean: it goes.
    if uvn_pagefree(&vp.v_uvm, idx, pg) {
        FREED.fetch_add(1, Ordering::Relaxed);
    }
}
