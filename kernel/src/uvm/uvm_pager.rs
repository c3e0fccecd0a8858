//! The pager's generic part (OpenBSD uvm_pager.c 1.89): the flags and
//! results of pager operations, `uvm_pager_put` with its clustering, and
//! the windows a pager copies pages through. The vnode pager's own
//! operations (uvn_put, uvn_io, uvn_get) are in uvm_vnode.rs.

use crate::arch::intr::Ipl;
use crate::arch::pmap::{pmap_clear_modify, pmap_clear_reference, pmap_is_modified, pmap_page_protect};
use crate::diag::vfs_hist::{vh, Vh};
use crate::kern::kern_mutex::Mutex;
use crate::kern::kern_synch::{tsleep, wakeup, wchan};
use crate::kern::vfs_subr::Vnode;
use crate::uvm::uvm_extern::Prot;
use crate::uvm::uvm_page::{round_page, uvm_page_queue, uvm_page_unbusy, PgFlags, VmPage, PAGE_SIZE, PQ_INACTIVE};
use crate::uvm::uvm_vnode::{uvn_put, UvmVnode};
use alloc::vec::Vec;

bitflags::bitflags! {
    /// Pager operation flags (PGO_*).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PgoFlags: u32 {
        const PGO_CLEANIT = 0x001;
        const PGO_SYNCIO = 0x002;
        const PGO_DEACTIVATE = 0x004;
        const PGO_FREE = 0x008;
        const PGO_ALLPAGES = 0x010;
        /// Clustering may take active pages (flushes; not the pagedaemon).
        const PGO_DOACTCLUST = 0x020;
        /// The pagedaemon's put: a written cluster's other pages are left
        /// clean and unbusied (uvm_pager_dropcluster).
        const PGO_PDFREECLUST = 0x080;
        /// Do not sleep for the vnode lock: "try again" instead (uvn_io's
        /// LK_NOWAIT).
        const PGO_NOWAIT = 0x200;
    }
}

/// What a pager operation gives back (VM_PAGER_*).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagerResult {
    VM_PAGER_OK,
    /// The offset is past the object's end.
    VM_PAGER_BAD,
    VM_PAGER_ERROR,
    VM_PAGER_AGAIN,
}

/// Most pages one put writes: MAXBSIZE (64 KiB).
pub const MAXBSIZE_PAGES: u64 = 16;

/// The cluster around busy dirty page `pg` (OpenBSD uvm_mk_pcluster with
/// uvn_cluster): `pg` and the dirty pages after it, up to MAXBSIZE and the
/// object's end, never before it. Without PGO_DOACTCLUST (the pagedaemon)
/// it stops at the first page not on the inactive queue. Each page taken
/// is busied and write-protected.
fn uvm_mk_pcluster(uvn: &UvmVnode, pg: &'static VmPage, flags: PgoFlags, first: u64, end: u64) -> Vec<(u32, &'static VmPage)> {
    let center = pg.owner().map_or(0, |o| o.1) as u64;
    let hi = (center + MAXBSIZE_PAGES).min(round_page(uvn.with(|u| u.u_size)) / PAGE_SIZE as u64);
    let hi = if flags.contains(PgoFlags::PGO_ALLPAGES) { hi } else { hi.min(end) };
    let mut cluster = alloc::vec![(center as u32, pg)];
    if !flags.contains(PgoFlags::PGO_ALLPAGES) && center < first {
        return cluster;
    }
    for at in center + 1..hi {
        let Some(p) = uvn.with(|u| u.pages.get(&(at as u32)).copied()) else { break };
        if uvm_page_queue(p) != Some(PQ_INACTIVE) {
            if !flags.contains(PgoFlags::PGO_DOACTCLUST) {
                break;
            }
            if !p.flags().contains(PgFlags::PG_CLEANCHK) {
                if p.flags() & (PgFlags::PG_CLEAN | PgFlags::PG_BUSY) == PgFlags::PG_CLEAN && pmap_is_modified(p) {
                    p.clear_clean(crate::uvm::uvm_page::UncleanSrc::PagerCluster);
                }
                p.set_flags(PgFlags::PG_CLEANCHK);
            }
        }
        if p.flags().intersects(PgFlags::PG_CLEAN | PgFlags::PG_BUSY) {
            break;
        }
        p.set_flags(PgFlags::PG_BUSY);
        crate::uvm::uvm_page::uvm_page_own(p);
        if flags & (PgoFlags::PGO_FREE | PgoFlags::PGO_SYNCIO) == PgoFlags::PGO_FREE {
            p.set_flags(PgFlags::PG_RELEASED);
        }
        pmap_page_protect(p, Prot::READ);
        cluster.push((at as u32, p));
    }
    cluster
}

/// Unbusies the cluster's pages other than `keep` (OpenBSD
/// uvm_pager_dropcluster; HEAD's keeps none); the pagedaemon's
/// (PGO_PDFREECLUST) are left clean, having been written.
fn uvm_pager_dropcluster(keep: Option<&'static VmPage>, cluster: &[(u32, &'static VmPage)], flags: PgoFlags) {
    for &(_, p) in cluster.iter().filter(|c| keep.is_none_or(|k| !core::ptr::eq(c.1, k))) {
        p.clear_flags(PgFlags::PG_FAKE | PgFlags::PG_RELEASED);
        uvm_page_unbusy(p);
        if flags.contains(PgoFlags::PGO_PDFREECLUST) {
            pmap_clear_reference(p);
            pmap_clear_modify(p);
            p.set_flags(PgFlags::PG_CLEAN);
        }
    }
}

/// Writes busy dirty page `pg` with the cluster around it (OpenBSD
/// uvm_pager_put, uvm_pager.c 1.89), the object lock held. On a failure
/// with a cluster, the other pages are unbusied; on "try again" the page
/// is then tried once more alone. The pagedaemon's written cluster is
/// dropped clean. Returns the result and the pages the last put covered
/// (after a failed cluster that is not "try again", all of them, as the
/// caller of 1.89 sees them); `pg` stays busy, except under HEAD, whose
/// uvm_pager_put lets it go with the rest when the put fails or the
/// pagedaemon's succeeds.
#[inline(never)]
pub fn uvm_pager_put(vp: &'static Vnode, pg: &'static VmPage, flags: PgoFlags, first: u64, end: u64) -> (PagerResult, Vec<(u32, &'static VmPage)>) {
    let uvn = &vp.v_uvm;
    uvn.assert_locked();
    let mut cluster = uvm_mk_pcluster(uvn, pg, flags, first, end);
    vh(vp, Vh::PagerPut, cluster[0].0, cluster.len() as u32);
    if crate::uvm::uvm_vnode::uvm_pager_put_drops_all() {
        // HEAD (uvm_pager.c 1.99, :499-561@14639db4): one put; a written
        // pagedaemon cluster is dropped clean, a failed one let go, the
        // page asked for with the others.
        let r = uvn_put(vp, &cluster, flags);
        if r != PagerResult::VM_PAGER_OK {
            uvm_pager_dropcluster(None, &cluster, PgoFlags::empty());
        } else if flags.contains(PgoFlags::PGO_PDFREECLUST) {
            uvm_pager_dropcluster(None, &cluster, flags);
        }
        return (r, cluster);
    }
    loop {
        let r = uvn_put(vp, &cluster, flags);
        if r == PagerResult::VM_PAGER_OK {
            if flags.contains(PgoFlags::PGO_PDFREECLUST) && cluster.len() > 1 {
                uvm_pager_dropcluster(Some(pg), &cluster, flags);
            }
            return (r, cluster);
        }
        if cluster.len() > 1 {
            uvm_pager_dropcluster(Some(pg), &cluster, PgoFlags::empty());
            if r == PagerResult::VM_PAGER_AGAIN {
                cluster.truncate(1);
                continue;
            }
        }
        return (r, cluster);
    }
}

/// One pager window: MAXBSIZE bytes where uvn_io gathers a cluster's
/// pages for one VOP_WRITE, or receives one VOP_READ.
pub type PagerWindow = alloc::boxed::Box<[u8]>;

/// Windows at once (OpenBSD's pager_map is a few MB of kernel addresses;
/// ppcbsd copies through windows of its own instead of mapping the pages).
const PAGER_WINDOWS: usize = 8;

/// The free windows, made once at boot (uvm_pager_init), so that paging
/// out never needs the kernel heap.
static PAGER_MAP: Mutex<Vec<PagerWindow>> = Mutex::new(Ipl::None, Vec::new());

/// Makes the pager's windows (OpenBSD uvm_pager_init).
pub fn uvm_pager_init() {
    let mut m = PAGER_MAP.lock();
    m.reserve_exact(PAGER_WINDOWS);
    for _ in 0..PAGER_WINDOWS {
        m.push(alloc::vec![0u8; (MAXBSIZE_PAGES * PAGE_SIZE as u64) as usize].into_boxed_slice());
    }
}

/// A free window, or None (OpenBSD uvm_pagermapin without
/// UVMPAGER_MAPIN_WAITOK: the caller may answer "try again").
pub fn uvm_pagermapin() -> Option<PagerWindow> {
    PAGER_MAP.lock().pop()
}

/// Whether a window is free now (HEAD's uvm_pseg_reserve_available, for
/// the pagedaemon).
pub fn uvm_pagermapin_available() -> bool {
    !PAGER_MAP.lock().is_empty()
}

/// A window, sleeping until one is free ("pager_map").
pub fn uvm_pagermapin_wait() -> PagerWindow {
    loop {
        if let Some(w) = uvm_pagermapin() {
            return w;
        }
        let _ = tsleep(wchan(&PAGER_MAP), "pager_map", 0);
    }
}

/// Gives a window back (uvm_pagermapout) and wakes a waiter.
pub fn uvm_pagermapout(w: PagerWindow) {
    PAGER_MAP.lock().push(w);
    wakeup(wchan(&PAGER_MAP));
}
