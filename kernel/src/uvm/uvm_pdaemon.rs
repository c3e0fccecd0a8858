//! The pagedaemon (OpenBSD uvm_pdaemon.c): a kernel thread woken when an
//! allocation leaves free memory under the targets. It scans the inactive
//! queue — try-locking each page's object, reactivating referenced pages,
//! freeing clean ones and paging dirty ones out through uvm_pager_put,
//! holding no reference on the object or its vnode, as in 2022 — until
//! free + paging reaches 4·freetarg, then refills the inactive queue from
//! the active one. Anonymous pages have no swap to go to and stay.

use crate::arch::pmap::{pmap_clear_modify, pmap_clear_reference, pmap_is_referenced, pmap_page_protect};
use crate::diag::race_window::{self, Side};
use crate::diag::vfs_hist::{vh, vh_working, Vh};
use crate::kern::kern_kthread::kthread_create;
use crate::kern::kern_rwlock::RwFlags;
use crate::kern::kern_synch::{tsleep, wakeup, wchan};
use crate::kern::vfs_subr::{vnode_by_id, Vnode};
use crate::sys::errno::Errno;
use crate::sys::vnode::VType;
use crate::uvm::uvm_extern::Prot;
use crate::uvm::uvm_page::uvm_page_unbusy;
use crate::uvm::uvm_page::{
    uvm_page_queue, uvm_pageactivate, uvm_pagedeactivate, uvm_queue_first, uvm_queue_next, uvmexp, uvmexp_count, uvmpd_retune, PgFlags, VmPage, PQ_ACTIVE,
    PQ_INACTIVE,
};
use crate::uvm::uvm_pager::{uvm_pager_put, PagerResult, PgoFlags};
use crate::uvm::uvm_vnode::uvn_pagefree;
use core::sync::atomic::{AtomicU32, Ordering};

/// Where the pagedaemon sleeps, and where allocators wait for memory.
static PAGEDAEMON: AtomicU32 = AtomicU32::new(0);
static MEMORY: AtomicU32 = AtomicU32::new(0);
static RUNNING: AtomicU32 = AtomicU32::new(0);

fn pd_wchan() -> usize {
    wchan(&PAGEDAEMON)
}

fn mem_wchan() -> usize {
    wchan(&MEMORY)
}

/// Starts the pagedaemon thread (with the first user process: the
/// kernel's self-tests run without it).
pub fn uvm_pagedaemon_start() {
    if RUNNING.load(Ordering::Relaxed) != 0 {
        return;
    }
    match kthread_create("pagedaemon", uvm_pageout) {
        Some(tid) => crate::uvm::uvm_page::uvm_page_set_pagedaemon(tid),
        None => panic!("uvm: cannot start the pagedaemon"),
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
    crate::diag::deadlock::memwait_begin(wmesg);
    uvm_pagedaemon_wake();
    let _ = tsleep(mem_wchan(), wmesg, 1);
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
    uvmexp_count(|e| e.pdrevs += 1);
    let e = uvmexp();
    if e.free + e.paging < 4 * e.freetarg {
        uvmpd_scan_inactive(e.inactive as usize);
    }
    uvmpd_scan_active();
}

/// The active queue, as 1.105: while the inactive queue is short of its
/// target, every page that is not busy and whose owner can be try-locked
/// is unmapped and deactivated — anonymous pages too, with no look at the
/// referenced bit (the inactive scan reactivates what was used meanwhile).
/// Never sleeps. A function of its own as in OpenBSD -current; 1.105 has
/// the loop inline in uvmpd_scan.
pub(crate) fn uvmpd_scan_active() {
    let e = uvmpd_retune();
    let mut shortage = e.inactarg.saturating_sub(e.inactive);
    let mut p = uvm_queue_first(PQ_ACTIVE);
    for _ in 0..e.active {
        let Some(pg) = p else { break };
        if shortage == 0 {
            break;
        }
        p = uvm_queue_next(pg);
        if pg.flags().contains(PgFlags::PG_BUSY) {
            continue;
        }
        let obj = page_vnode(pg).map(|(vp, _)| vp);
        if let Some(vp) = obj {
            if vp.v_uvm.vmobjlock.rw_enter(RwFlags::RW_WRITE | RwFlags::RW_NOSLEEP) == Err(Errno::EBUSY) {
                continue;
            }
        }
        if !pg.flags().contains(PgFlags::PG_BUSY) && uvm_page_queue(pg) == Some(PQ_ACTIVE) {
            pmap_page_protect(pg, Prot::NONE);
            uvm_pagedeactivate(pg);
            shortage -= 1;
        }
        if let Some(vp) = obj {
            vp.v_uvm.vmobjlock.rw_exit();
        }
    }
}

/// Dirty anonymous pages the inactive scan reactivates, having no swap to
/// go to, before it gives up (OpenBSD's UVMPD_NUMDIRTYREACTS).
pub(crate) const UVMPD_NUMDIRTYREACTS: u32 = 16;

/// The object page `pg` is, with its vnode.
fn page_vnode(pg: &'static VmPage) -> Option<(&'static Vnode, u32)> {
    let (vid, idx) = pg.owner()?;
    let vp = vnode_by_id(vid)?;
    vp.v_uvm.owns(idx, pg).then_some((vp, idx))
}

/// Scans up to `max` inactive pages until free + paging reaches
/// 4·freetarg (uvmpd_scan_inactive, uvm_pdaemon.c 1.105): each page's
/// object is try-locked (skipped if that fails), and the page is
/// reactivated if referenced, skipped if busy, freed if clean, and
/// otherwise paged out — whatever state the object is in, dying or not, as
/// OpenBSD does.
#[inline(never)]
fn uvmpd_scan_inactive(max: usize) {
    let mut p = uvm_queue_first(PQ_INACTIVE);
    let mut dirtyreacts = 0;
    for _ in 0..max {
        let Some(pg) = p else { return };
        let e = uvmexp();
        if e.free + e.paging >= 4 * e.freetarg {
            return;
        }
        let next = uvm_queue_next(pg);
        if pg.owner().is_none() {
            if uvmpd_scan_anon(pg, &mut dirtyreacts) {
                return;
            }
        } else {
            uvmpd_scan_page(pg);
        }
        // As OpenBSD: the page's successor now (it may have slept), or the
        // one taken before if the page left the queue; from the head again
        // if that one left it too.
        p = if uvm_page_queue(pg) == Some(PQ_INACTIVE) { uvm_queue_next(pg) } else { next };
        if p.is_some_and(|n| uvm_page_queue(n) != Some(PQ_INACTIVE)) {
            p = uvm_queue_first(PQ_INACTIVE);
        }
    }
}

/// The inactive scan's look at an anonymous page: reactivated if
/// referenced; otherwise it is dirty and there is no swap
/// (uvm_swapisfull), so it goes back to the active queue too, counted in
/// `dirtyreacts`. True when that count reaches UVMPD_NUMDIRTYREACTS and the
/// scan stops (1.105).
pub(crate) fn uvmpd_scan_anon(pg: &'static VmPage, dirtyreacts: &mut u32) -> bool {
    if pg.flags().contains(PgFlags::PG_BUSY) {
        return false;
    }
    let referenced = pmap_is_referenced(pg);
    uvm_pageactivate(pg);
    if referenced {
        return false;
    }
    *dirtyreacts += 1;
    *dirtyreacts >= UVMPD_NUMDIRTYREACTS
}

/// The pagedaemon's look at one page of the inactive queue: its object
/// try-locked (left alone if that fails), then uvmpd_page. Public for the
/// self-tests that set up one interleaving with it.
pub fn uvmpd_scan_page(pg: &'static VmPage) {
    if uvm_page_queue(pg) != Some(PQ_INACTIVE) {
        return;
    }
    let Some((vp, idx)) = page_vnode(pg) else { return };
    if vp.with(|v| v.v_type) != VType::VREG {
        return;
    }
    let uvn = &vp.v_uvm;
    if uvn.vmobjlock.rw_enter(RwFlags::RW_WRITE | RwFlags::RW_NOSLEEP) == Err(Errno::EBUSY) {
        return;
    }
    uvmpd_page(vp, idx, pg);
    uvn.vmobjlock.rw_exit();
}

/// What the pagedaemon does with one inactive object page, the object
/// locked: reactivate, free, or page out. A page written out stays, clean,
/// to be freed on a later pass; one whose pageout said "try again" stays
/// inactive; one that failed goes back to the active queue.
fn uvmpd_page(vp: &'static Vnode, idx: u32, pg: &'static VmPage) {
    vp.v_uvm.assert_locked();
    if !vp.v_uvm.owns(idx, pg) {
        return;
    }
    if pmap_is_referenced(pg) {
        uvm_pageactivate(pg);
        return;
    }
    if pg.flags().contains(PgFlags::PG_BUSY) {
        return;
    }
    if pg.flags().contains(PgFlags::PG_CLEAN) {
        if uvn_pagefree(&vp.v_uvm, idx, pg) {
            uvmexp_count(|e| e.pdfreed += 1);
        }
        return;
    }
    let e = uvmexp();
    if e.free + e.paging > 4 * e.freetarg {
        return;
    }
    // HEAD (uvm_pdaemon.c 1.160, :661-665@14639db4): no pager window, no
    // pageout.
    if crate::uvm::uvm_vnode::pdaemon_as_head() && !crate::uvm::uvm_pager::uvm_pagermapin_available() {
        return;
    }
    crate::diag::uvm_p0::p0_check(vp, crate::diag::uvm_p0::P0Point::Pagedaemon);
    if crate::diag::uvm_p0::object_persists(vp) {
        crate::diag::uvm_p0::race_count(crate::diag::uvm_p0::RaceCtr::PersistPageout);
    }
    pg.set_flags(PgFlags::PG_BUSY);
    crate::uvm::uvm_page::uvm_page_own(pg);
    pmap_page_protect(pg, Prot::READ);
    uvmexp_count(|e| e.pdpageouts += 1);
    let _w = vh_working(vp);
    let _span = race_window::span(Side::Pageout, vp);
    vh(vp, Vh::Pageout, idx, pg.flags().bits());
    let (r, _) = uvm_pager_put(vp, pg, PgoFlags::PGO_ALLPAGES | PgoFlags::PGO_PDFREECLUST, 0, 0);
    // HEAD (1.143): uvm_pager_put did the page's bookkeeping; a page that
    // failed stays inactive and dirty.
    if crate::uvm::uvm_vnode::pdaemon_as_head() {
        return;
    }
    uvm_page_unbusy(pg);
    match r {
        PagerResult::VM_PAGER_OK => {
            pmap_clear_reference(pg);
            pmap_clear_modify(pg);
            pg.set_flags(PgFlags::PG_CLEAN);
        }
        PagerResult::VM_PAGER_AGAIN => {
            pmap_clear_reference(pg);
        }
        _ => {
            uvm_pageactivate(pg);
            pmap_clear_reference(pg);
        }
    }
}
