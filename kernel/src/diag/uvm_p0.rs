//! The P0 detector (`p0.watch=1`; doc/p0-hunt.md). P0 is the race's
//! precondition: a vnode with no users (usecount 0) whose object persists
//! (VALID|CANPERSIST, uo_refs 0) with a modified page (PG_CLEAN clear, or
//! the pmap's changed bit set). Only the pagedaemon can then write that
//! page, through a vnode nobody holds, and a recycle of the vnode meets it.
//!
//! The kernel looks where P0 can arise: the last uvn_detach that lets an
//! object persist, a vnode reaching the free list, and the pagedaemon taking
//! a dirty vnode page. The first P0 is reported (the vnode, its history,
//! the last system calls) and the machine halts with a `p0:` line that
//! stress counts as its own outcome. OpenBSD has no such detector.

use crate::arch::machdep;
use crate::arch::pmap::pmap_is_modified;
use crate::diag::vfs_hist;
use crate::kern::kern_ktrace;
use crate::kern::subr_prf::Cons;
use crate::kern::vfs_subr::Vnode;
use crate::uvm::uvm_page::PgFlags;
use crate::uvm::uvm_vnode::UvnFlags;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

static WATCH: AtomicBool = AtomicBool::new(false);
/// Checks made, and how many found an unused, persisting object (P0 but
/// for a dirty page).
static CHECKS: AtomicU32 = AtomicU32::new(0);
static PERSISTING: AtomicU32 = AtomicU32::new(0);

/// How hard a boot exercised the race, counted whether or not the
/// detector watches, printed at halt (`race: counters: …`) and gathered by
/// `cargo xtask stress`: files created, recycles of a vnode whose object
/// persisted, pageouts of pages of persisting objects, and unused objects
/// uvm_vnp_uncache killed.
#[derive(Clone, Copy, Debug)]
pub enum RaceCtr {
    Create,
    PersistRecycle,
    PersistPageout,
    UncacheKill,
    /// sync(2) calls (and the halt's).
    Sync,
    /// Persisting objects uvm_vnp_sync took a reference on.
    SyncPersist,
    /// Shrinks of a valid object by uvm_vnp_setsize (truncates).
    Truncate,
    /// Programs exec'd.
    Exec,
}

static RACE_CTRS: [AtomicU32; 8] = [const { AtomicU32::new(0) }; 8];

pub fn race_count(c: RaceCtr) {
    RACE_CTRS[c as usize].fetch_add(1, Ordering::Relaxed);
}

/// Whether `vp`'s object persists unused (VALID|CANPERSIST, no references),
/// and is not being killed or terminated (DYING).
pub fn object_persists(vp: &'static Vnode) -> bool {
    let persist = UvnFlags::UVM_VNODE_VALID | UvnFlags::UVM_VNODE_CANPERSIST;
    vp.v_uvm.with(|u| u.uo_refs == 0 && u.u_flags.contains(persist) && !u.u_flags.contains(UvnFlags::UVM_VNODE_DYING))
}

/// The halt line with the counters.
pub fn race_counters_print(out: &mut dyn Write) {
    let n = |c: RaceCtr| RACE_CTRS[c as usize].load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "race: counters: {} creates, {} recycles of vnodes with persisting objects, {} pageouts from persisting objects, {} uncache kills, {} syncs, {} persisting objects synced, {} truncates, {} execs, {} pageouts, {} PTE evictions, {} direct-map PTE evictions",
        n(RaceCtr::Create),
        n(RaceCtr::PersistRecycle),
        n(RaceCtr::PersistPageout),
        n(RaceCtr::UncacheKill),
        n(RaceCtr::Sync),
        n(RaceCtr::SyncPersist),
        n(RaceCtr::Truncate),
        n(RaceCtr::Exec),
        crate::uvm::uvm_page::uvmexp_try().map_or(0, |e| e.pdpageouts),
        crate::arch::pmap::pmap_evictions(),
        crate::arch::pmap::pmap_direct_evictions()
    );
}

pub fn p0_watch_init(on: bool) {
    WATCH.store(on, Ordering::Relaxed);
}

pub fn p0_watching() -> bool {
    WATCH.load(Ordering::Relaxed)
}

/// Where a check is made.
#[derive(Clone, Copy, Debug)]
pub enum P0Point {
    /// The last uvn_detach let the object persist.
    UvnDetach,
    /// vrele dropped the last use, before it waits for the vnode lock (a
    /// pageout in flight may hold it, and its ffs_write then meets the
    /// unreferenced vnode: doc/p0-hunt.md, seed 3200254).
    Vrele,
    /// The vnode went on the free list.
    Vputonfreelist,
    /// The pagedaemon is about to page out one of the object's pages.
    Pagedaemon,
}

/// Checks `vp` for P0 at `at`; reports and halts on the first. Takes only
/// the vnode's and the object's field locks (and the pmap's), so the caller
/// must hold none of them.
pub fn p0_check(vp: &'static Vnode, at: P0Point) {
    if !p0_watching() {
        return;
    }
    CHECKS.fetch_add(1, Ordering::Relaxed);
    let (usecount, holdcnt) = vp.with(|v| (v.v_usecount, v.v_holdcnt));
    let persist = UvnFlags::UVM_VNODE_VALID | UvnFlags::UVM_VNODE_CANPERSIST;
    let (flags, refs, npages) = vp.v_uvm.with(|u| (u.u_flags, u.uo_refs, u.pages.len()));
    if usecount != 0 || refs != 0 || !flags.contains(persist) || flags.contains(UvnFlags::UVM_VNODE_DYING) {
        return;
    }
    PERSISTING.fetch_add(1, Ordering::Relaxed);
    let mut dirty: alloc::vec::Vec<(u32, bool, bool)> = alloc::vec::Vec::new();
    vp.v_uvm.with(|u| {
        for (&idx, pg) in &u.pages {
            let unclean = !pg.flags().contains(PgFlags::PG_CLEAN);
            let changed = pmap_is_modified(pg);
            if unclean || changed {
                dirty.push((idx, unclean, changed));
            }
        }
    });
    if dirty.is_empty() {
        return;
    }
    let mut out = Cons;
    let _ = writeln!(
        out,
        "p0: vnode {} reached P0 at {at:?}: usecount 0, holdcnt {holdcnt}, object {flags:?}, uo_refs 0, {} of {npages} pages modified",
        vp.v_id,
        dirty.len()
    );
    for (idx, unclean, changed) in &dirty {
        let _ = writeln!(out, "p0:   page {idx}: {}{}", if *unclean { "PG_CLEAN clear " } else { "" }, if *changed { "pmap changed bit set" } else { "" });
        if let Some(pg) = vp.v_uvm.with(|u| u.pages.get(idx).copied()) {
            p0_provenance(&mut out, pg, *unclean);
        }
    }
    vfs_hist::vhist_print(&mut out, vp.v_id);
    let (pid, comm) = {
        let mut st = crate::kern::kern_proc::sched_lock();
        let p = st.cur();
        (p.p_tid, p.p_comm.clone())
    };
    let _ = writeln!(out, "p0: made by thread {pid} ({comm}); its last system calls, oldest first:");
    let _ = kern_ktrace::ktrace_print(&mut out, Some(pid), 32);
    let _ = writeln!(out, "p0: the last system calls of all processes:");
    let _ = kern_ktrace::ktrace_print(&mut out, None, 16);
    let _ = writeln!(out, "p0: halting at the first P0 (the file system is not unmounted)");
    machdep::boot_halt()
}

/// Where a P0 page's modified state came from: what cleared PG_CLEAN and
/// what set the pmap's modified bit that made it do so, with the mapping
/// that carried the bit and the times.
fn p0_provenance(out: &mut dyn Write, pg: &crate::uvm::uvm_page::VmPage, unclean: bool) {
    use crate::uvm::uvm_page::{ModSrc, UncleanSrc};
    let secs = |us: u32| alloc::format!("{}.{:06} s", us / 1_000_000, us % 1_000_000);
    if unclean {
        let (why, at) = pg.unclean_provenance();
        let what = match why {
            UncleanSrc::Deactivate => "uvm_pagedeactivate (pmap_is_modified said modified)",
            UncleanSrc::FlushCleanCheck => "uvn_flush's clean check (pmap_is_modified said modified)",
            UncleanSrc::PagerCluster => "uvm_pager_put's cluster (pmap_is_modified said modified)",
            UncleanSrc::Test => "a self-test",
            UncleanSrc::Unknown => "nothing recorded",
        };
        let _ = writeln!(out, "p0:     PG_CLEAN cleared by {what} at {}", secs(at));
    }
    if pg.flags().contains(PgFlags::PG_PMAP_MOD) {
        let (src, ctx, va, at) = pg.mod_provenance();
        let what = match src {
            ModSrc::DirectEviction => alloc::format!("an eviction of the kernel's direct-map entry for {va:#x} (a write through the kernel's 1:1 map, credited to the page as OpenBSD's pte_insert does; no process wrote it)"),
            ModSrc::MappingEviction => alloc::format!("an eviction of context {ctx}'s mapping at {va:#x}"),
            ModSrc::MappingUnload => alloc::format!("the removal of context {ctx}'s mapping at {va:#x}"),
            ModSrc::MappingSync => alloc::format!("the changed bit of context {ctx}'s mapping at {va:#x}"),
            ModSrc::KernelWrite => "the kernel writing it for a process (copyout)".into(),
            ModSrc::Unknown => "nothing recorded".into(),
        };
        let _ = writeln!(out, "p0:     PG_PMAP_MOD set by {what} at {}", secs(at));
    }
}

/// The halt line of a boot that watched and found no P0.
pub fn p0_report(out: &mut dyn Write) {
    if p0_watching() {
        let _ = writeln!(
            out,
            "p0: no vnode reached P0 ({} checks, {} found an unused persisting object with no modified page)",
            CHECKS.load(Ordering::Relaxed),
            PERSISTING.load(Ordering::Relaxed)
        );
    }
}
