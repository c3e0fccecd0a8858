//! The vnode pager (OpenBSD uvm_vnode.c, with uvm_pager.c's
//! uvm_pager_put): the pages of a file cached in a `uvm_vnode` that lives
//! inside the vnode, how the object persists after its last user goes
//! (CANPERSIST), and how it is flushed and torn down — `uvm_vnp_uncache`
//! from the write paths, `uvm_vnp_terminate` from vclean. The policy of
//! `uvn_put`/`uvn_io` is chosen at boot (`uvn.policy=`): OpenBSD 1.130's,
//! the first proposed diff, or the fix of 1.131 (see race.md).

use crate::arch::powerpc::pmap::{pmap_clear_modify, pmap_is_modified, pmap_page_protect, Prot};
use crate::arch::powerpc::intr::Ipl;
use crate::kern::kern_mutex::Mutex;
use crate::kern::kern_rwlock::Rwlock;
use crate::kern::kern_synch::{tsleep, wakeup};
use crate::uvm::uvm_pdaemon::uvm_wait;
use crate::kern::vfs_subr::{vget, vn_lock, vop_unlock, vref, vrele, Vnode};
use crate::kern::vfs_vops::{VOP_GETATTR_SIZE, VOP_READ, VOP_WRITE};
use crate::sys::errno::Errno;
use crate::sys::vnode::{LkFlags, VType};
use crate::uvm::uvm_page::{
    uvm_page_read, uvm_page_write, uvm_pagealloc, uvm_pageactivate, uvm_pagedeactivate, uvm_pagefree, uvm_pagezero, PgFlags,
    VmPage, PAGE_SIZE,
};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

bitflags::bitflags! {
    /// u_flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct UvnFlags: u32 {
        const UVM_VNODE_VALID = 0x001;
        const UVM_VNODE_CANPERSIST = 0x002;
        const UVM_VNODE_ALOCK = 0x004;
        const UVM_VNODE_DYING = 0x008;
        const UVM_VNODE_RELKILL = 0x010;
        const UVM_VNODE_WANTED = 0x020;
        const UVM_VNODE_VNISLOCKED = 0x040;
        const UVM_VNODE_IOSYNC = 0x080;
        const UVM_VNODE_IOSYNCWANTED = 0x100;
        const UVM_VNODE_WRITEABLE = 0x200;
        /// ppcbsd (policy fixed-2): the pager is writing the object's pages
        /// through VOP_WRITE, under the vnode lock.
        const UVM_VNODE_PAGERIO = 0x400;
        /// Attaching, dying or being killed: no new users.
        const UVM_VNODE_BLOCKED = Self::UVM_VNODE_ALOCK.bits() | Self::UVM_VNODE_DYING.bits() | Self::UVM_VNODE_RELKILL.bits();
    }

    /// Pager operation flags (PGO_*).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PgoFlags: u32 {
        const PGO_CLEANIT = 0x001;
        const PGO_SYNCIO = 0x002;
        const PGO_DEACTIVATE = 0x004;
        const PGO_FREE = 0x008;
        const PGO_ALLPAGES = 0x010;
    }
}

/// What a pager operation gives back (VM_PAGER_*).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagerResult {
    VM_PAGER_OK,
    VM_PAGER_ERROR,
    VM_PAGER_AGAIN,
}

/// `uvn.policy=` (kcore's bootargs): how uvn_put and uvn_io treat the
/// vnode's reference. Original: uvm_vnode.c 1.130, no reference taken;
/// VgetDiff: the first proposed diff, uvn_io takes vget(LK_NOWAIT); Fixed:
/// 1.131, uvn_put takes vget(LK_NOWAIT) unless the object is dying;
/// Fixed2: as Fixed, and the pager's own writes (UVM_VNODE_PAGERIO) do not
/// make ffs_write uncache the object they come from — the re-entry that
/// lets the pagedaemon wait on the page it holds busy. NetBSD's pager
/// never writes through VOP_WRITE at all.
pub use kcore::bootargs::UvnPolicy;

static UVN_POLICY: AtomicU8 = AtomicU8::new(2);
/// `uvm.mmap_uncache=`: the mmap hack that keeps shared-writable objects
/// from persisting (on by default, as in OpenBSD).
static MMAP_UNCACHE: AtomicBool = AtomicBool::new(true);

pub fn uvm_set_mmap_uncache(on: bool) {
    MMAP_UNCACHE.store(on, Ordering::Relaxed);
}

pub fn uvm_mmap_uncache() -> bool {
    MMAP_UNCACHE.load(Ordering::Relaxed)
}

pub fn uvn_setpolicy(p: UvnPolicy) {
    UVN_POLICY.store(p as u8, Ordering::Relaxed);
}

pub fn uvn_policy() -> UvnPolicy {
    match UVN_POLICY.load(Ordering::Relaxed) {
        0 => UvnPolicy::Original,
        1 => UvnPolicy::VgetDiff,
        2 => UvnPolicy::Fixed,
        _ => UvnPolicy::Fixed2,
    }
}

pub struct UvnFields {
    pub u_flags: UvnFlags,
    pub uo_refs: u32,
    /// I/O operations in flight.
    pub u_nio: u32,
    /// The file's size as the object knows it.
    pub u_size: u64,
    /// The object's pages by page index (uo_memt).
    pub pages: BTreeMap<u32, &'static VmPage>,
}

/// struct uvm_vnode, embedded in its vnode (v_uvm).
pub struct UvmVnode {
    /// The object lock: sleepable, and the pagedaemon only try-locks it.
    pub vmobjlock: Rwlock,
    st: Mutex<UvnFields>,
}

impl UvmVnode {
    pub const fn new() -> UvmVnode {
        UvmVnode {
            vmobjlock: Rwlock::new("vmobjlk"),
            st: Mutex::new(
                Ipl::None,
                UvnFields { u_flags: UvnFlags::empty(), uo_refs: 0, u_nio: 0, u_size: 0, pages: BTreeMap::new() },
            ),
        }
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut UvnFields) -> R) -> R {
        f(&mut self.st.lock())
    }

    fn flags(&self) -> UvnFlags {
        self.with(|u| u.u_flags)
    }

    fn wchan(&self) -> usize {
        self as *const UvmVnode as usize
    }

    /// Where u_nio and IOSYNC waiters sleep.
    fn wchan_io(&self) -> usize {
        self.wchan() + 1
    }

    /// Whether `pg` is the object's page `idx` (it may have been freed,
    /// or replaced, while the caller slept).
    pub fn owns(&self, idx: u32, pg: &VmPage) -> bool {
        self.with(|u| u.pages.get(&idx).is_some_and(|&p| core::ptr::eq(p, pg)))
    }
}

impl Default for UvmVnode {
    fn default() -> Self {
        Self::new()
    }
}

fn page_wchan(pg: &VmPage) -> usize {
    pg as *const VmPage as usize
}

/// The vnode a panic is about, shown after the trace.
static PANIC_VNODE: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

/// Names the vnode the coming panic is about.
pub fn uvm_panic_vnode(vp: &'static Vnode) {
    PANIC_VNODE.store(vp.v_id, Ordering::Relaxed);
}

/// Prints the vnode a panic named and its uvm_vnode: counts, lock,
/// flags, and every page with its flags and queue.
pub fn db_show_panic_vnode(out: &mut dyn core::fmt::Write) {
    let id = PANIC_VNODE.load(Ordering::Relaxed);
    let Some(vp) = crate::kern::vfs_subr::vnode_by_id_try(id) else { return };
    let v = vp.try_with(|v| {
        (v.v_type, v.v_usecount, v.v_holdcnt, v.v_writecount, v.v_lflag, v.v_bioflag, v.v_op.name(), v.v_data)
    });
    match v {
        Some((t, use_, hold, wr, lf, bf, op, data)) => {
            let _ = writeln!(
                out,
                "vnode {id}: type {t:?}, usecount {use_}, holdcnt {hold}, writecount {wr}, lflag {lf:?}, bioflag {bf:?}, ops {op}, inode {data}, lock {}",
                vp.v_lock.rw_status()
            );
        }
        None => {
            let _ = writeln!(out, "vnode {id}: (fields locked)");
        }
    }
    let u = vp.v_uvm.st.try_lock().map(|u| (u.u_flags, u.uo_refs, u.u_nio, u.u_size, u.pages.iter().map(|(&i, &p)| (i, p)).collect::<Vec<_>>()));
    match u {
        Some((f, refs, nio, size, pages)) => {
            let _ = writeln!(out, "uvm_vnode {id}: flags {f:?}, uo_refs {refs}, u_nio {nio}, u_size {size}, {} pages, vmobjlock {}", pages.len(), vp.v_uvm.vmobjlock.rw_status());
            for (i, p) in pages {
                let q = crate::uvm::uvm_page::uvm_page_queue_try(p);
                let _ = writeln!(out, "  page {i}: pa {:#x}, flags {:?}, queue {q}", p.phys_addr(), p.flags());
            }
        }
        None => {
            let _ = writeln!(out, "uvm_vnode {id}: (locked)");
        }
    }
}

/// Sleeps until a busy page is released (OpenBSD uvm_pagewait).
pub fn uvm_pagewait(pg: &'static VmPage, wmesg: &'static str) {
    pg.set_flags(PgFlags::PG_WANTED);
    let _ = tsleep(page_wchan(pg), wmesg, 0);
}

/// Clears PG_BUSY and wakes whoever waits for the page.
pub fn page_unbusy(pg: &'static VmPage) {
    let wanted = pg.flags().contains(PgFlags::PG_WANTED);
    pg.clear_flags(PgFlags::PG_BUSY | PgFlags::PG_WANTED);
    if wanted {
        wakeup(page_wchan(pg));
    }
}

/// A page is dirty if the object says so or the page table saw a store.
fn page_dirty(pg: &'static VmPage) -> bool {
    !pg.flags().contains(PgFlags::PG_CLEAN) || pmap_is_modified(pg)
}

/// Sleeps while the object is being attached, killed or terminated.
fn uvn_wait_unblocked(uvn: &UvmVnode) {
    while uvn.flags().intersects(UvnFlags::UVM_VNODE_BLOCKED) {
        uvn.with(|u| u.u_flags |= UvnFlags::UVM_VNODE_WANTED);
        let _ = tsleep(uvn.wchan(), "uvn_blk", 0);
    }
}

/// Clears the given flags and wakes WANTED sleepers.
fn uvn_clear(uvn: &UvmVnode, f: UvnFlags) {
    let wanted = uvn.with(|u| {
        let w = u.u_flags.contains(UvnFlags::UVM_VNODE_WANTED);
        u.u_flags -= f | UvnFlags::UVM_VNODE_WANTED;
        w
    });
    if wanted {
        wakeup(uvn.wchan());
    }
}

/// The object of a regular file's vnode, referenced (OpenBSD uvn_attach):
/// the first attach makes it VALID|CANPERSIST and takes a vnode reference
/// with vref; attaching to a persisting object (no users) takes one again.
pub fn uvn_attach(vp: &'static Vnode, writeable: bool) -> Result<&'static UvmVnode, Errno> {
    if vp.with(|v| v.v_type) != VType::VREG {
        return Err(Errno::EINVAL);
    }
    let uvn = &vp.v_uvm;
    uvn_wait_unblocked(uvn);
    if uvn.flags().contains(UvnFlags::UVM_VNODE_VALID) {
        if uvn.with(|u| u.uo_refs) == 0 {
            vref(vp);
        }
        uvn.with(|u| {
            u.uo_refs += 1;
            u.u_flags.set(UvnFlags::UVM_VNODE_WRITEABLE, writeable || u.u_flags.contains(UvnFlags::UVM_VNODE_WRITEABLE));
        });
        return Ok(uvn);
    }
    uvn.with(|u| u.u_flags |= UvnFlags::UVM_VNODE_ALOCK);
    let size = VOP_GETATTR_SIZE(vp);
    uvn_clear(uvn, UvnFlags::UVM_VNODE_ALOCK);
    let size = size?;
    uvn.with(|u| {
        u.u_size = size;
        u.uo_refs = 1;
        u.u_flags = UvnFlags::UVM_VNODE_VALID | UvnFlags::UVM_VNODE_CANPERSIST;
        if writeable {
            u.u_flags |= UvnFlags::UVM_VNODE_WRITEABLE;
        }
    });
    vref(vp);
    Ok(uvn)
}

/// Another reference to an object in use (OpenBSD uvn_reference).
pub fn uvn_reference(vp: &'static Vnode) {
    vp.v_uvm.with(|u| {
        assert!(u.uo_refs > 0, "uvn_reference: object of vnode {} has no references", vp.v_id);
        u.uo_refs += 1;
    });
}

/// Drops a reference (OpenBSD uvn_detach). The last one either lets the
/// object persist — its pages deactivated but not cleaned, and the vnode
/// released — or, without CANPERSIST, kills it: flush with I/O, wait for
/// the pages to go, then release the vnode.
pub fn uvn_detach(vp: &'static Vnode) {
    let uvn = &vp.v_uvm;
    let (left, persist) = uvn.with(|u| {
        assert!(u.uo_refs > 0, "uvn_detach: object of vnode {} has no references", vp.v_id);
        u.uo_refs -= 1;
        (u.uo_refs, u.u_flags.contains(UvnFlags::UVM_VNODE_CANPERSIST))
    });
    if left > 0 {
        return;
    }
    if persist {
        let pages: Vec<&'static VmPage> = uvn.with(|u| u.pages.values().copied().collect());
        for pg in pages {
            uvm_pagedeactivate(pg);
        }
        vrele(vp);
        return;
    }
    uvn.with(|u| u.u_flags |= UvnFlags::UVM_VNODE_DYING);
    uvn_flush(vp, PgoFlags::PGO_CLEANIT | PgoFlags::PGO_FREE | PgoFlags::PGO_ALLPAGES);
    uvn_wait_empty(uvn, "uvn_term");
    uvn_clear(uvn, UvnFlags::UVM_VNODE_VALID | UvnFlags::UVM_VNODE_DYING | UvnFlags::UVM_VNODE_WRITEABLE | UvnFlags::UVM_VNODE_CANPERSIST);
    vrele(vp);
}

/// Sleeps until the object has no pages and no I/O in flight.
fn uvn_wait_empty(uvn: &UvmVnode, wmesg: &'static str) {
    loop {
        let (npages, nio) = uvn.with(|u| (u.pages.len(), u.u_nio));
        if nio > 0 {
            let _ = tsleep(uvn.wchan_io(), wmesg, 0);
            continue;
        }
        if npages == 0 {
            return;
        }
        // A page someone else holds busy: wait for it, then flush again.
        match uvn.with(|u| u.pages.values().copied().find(|p| p.flags().contains(PgFlags::PG_BUSY))) {
            Some(pg) => uvm_pagewait(pg, wmesg),
            None => return,
        }
    }
}

/// Stops a file's pages from persisting once written through the file
/// system (OpenBSD uvm_vnp_uncache), called with the vnode locked. An
/// unused persisting object is killed here: a reference taken with vref —
/// which panics if the vnode itself is unreferenced, OpenBSD's first panic
/// — then the vnode unlocked, the object detached (its dirty pages written
/// and freed), and the vnode locked again. False if the object is still
/// in use.
#[inline(never)]
pub fn uvm_vnp_uncache(vp: &'static Vnode) -> bool {
    let uvn = &vp.v_uvm;
    let f = uvn.flags();
    if !f.contains(UvnFlags::UVM_VNODE_VALID) || f.intersects(UvnFlags::UVM_VNODE_BLOCKED | UvnFlags::UVM_VNODE_PAGERIO) {
        return true;
    }
    let refs = uvn.with(|u| {
        u.u_flags -= UvnFlags::UVM_VNODE_CANPERSIST;
        u.uo_refs
    });
    if refs > 0 {
        return false;
    }
    vref(vp);
    uvn.with(|u| u.uo_refs += 1);
    vop_unlock(vp);
    uvn_detach(vp);
    // LK_RETRY: locked again whatever happened meanwhile.
    vp.v_lock.rw_enter_write();
    true
}

/// Tears the object down as its vnode is cleaned out (OpenBSD
/// uvm_vnp_terminate). The caller (vclean) holds VXLOCK and the vnode
/// lock: flush every page with I/O and free it, and wait until none is
/// left.
#[inline(never)]
pub fn uvm_vnp_terminate(vp: &'static Vnode) {
    let uvn = &vp.v_uvm;
    if !uvn.flags().contains(UvnFlags::UVM_VNODE_VALID) {
        return;
    }
    uvn.with(|u| u.u_flags |= UvnFlags::UVM_VNODE_DYING | UvnFlags::UVM_VNODE_VNISLOCKED);
    uvn_flush(vp, PgoFlags::PGO_CLEANIT | PgoFlags::PGO_FREE | PgoFlags::PGO_ALLPAGES);
    uvn_wait_empty(uvn, "uvn_term");
    uvn.with(|u| u.uo_refs = 0);
    uvn_clear(uvn, UvnFlags::all() - UvnFlags::UVM_VNODE_WANTED);
}

/// Writes the object's dirty pages and keeps them (OpenBSD uvm_vnp_sync
/// for one vnode, and msync): false if one could not be written.
pub fn uvm_vnp_sync(vp: &'static Vnode) -> bool {
    if !vp.v_uvm.flags().contains(UvnFlags::UVM_VNODE_VALID) {
        return true;
    }
    uvn_flush(vp, PgoFlags::PGO_CLEANIT | PgoFlags::PGO_SYNCIO | PgoFlags::PGO_ALLPAGES)
}

/// The file's new size (OpenBSD uvm_vnp_setsize): pages past it go.
pub fn uvm_vnp_setsize(vp: &'static Vnode, size: u64) {
    let uvn = &vp.v_uvm;
    if !uvn.flags().contains(UvnFlags::UVM_VNODE_VALID) {
        return;
    }
    let first = size.div_ceil(PAGE_SIZE as u64) as u32;
    let gone: Vec<(u32, &'static VmPage)> = uvn.with(|u| {
        u.u_size = size;
        u.pages.range(first..).map(|(&i, &p)| (i, p)).collect()
    });
    for (idx, pg) in gone {
        while pg.flags().contains(PgFlags::PG_BUSY) {
            uvm_pagewait(pg, "uvn_size");
        }
        uvn_pagefree(uvn, idx, pg);
    }
}

/// Takes a page out of the object and frees it (unmapped first); false if
/// it was no longer the object's. The last page wakes uvn_wait_empty.
pub fn uvn_pagefree(uvn: &UvmVnode, idx: u32, pg: &'static VmPage) -> bool {
    pmap_page_protect(pg, Prot::NONE);
    let mine = uvn.owns(idx, pg) && uvn.with(|u| u.pages.remove(&idx).is_some());
    if mine {
        uvm_pagefree(pg);
    }
    if uvn.with(|u| u.pages.is_empty()) {
        wakeup(uvn.wchan_io());
    }
    mine
}

/// Cleans and/or frees the object's pages (OpenBSD uvn_flush, for
/// PGO_ALLPAGES). Busy pages are waited for when freeing. A dirty page is
/// busied, write-protected and written with uvm_pager_put; "try again"
/// makes the flush retry with PGO_SYNCIO, and a second one with PGO_SYNCIO
/// set is the panic OpenBSD keeps for it.
#[inline(never)]
pub fn uvn_flush(vp: &'static Vnode, flags: PgoFlags) -> bool {
    let uvn = &vp.v_uvm;
    uvn.vmobjlock.rw_enter_write();
    let ok = uvn_flush_locked(vp, uvn, flags);
    uvn.vmobjlock.rw_exit();
    ok
}

fn uvn_flush_locked(vp: &'static Vnode, uvn: &UvmVnode, flags: PgoFlags) -> bool {
    let mut flags = flags;
    let mut ok = true;
    'again: loop {
        let pages: Vec<(u32, &'static VmPage)> = uvn.with(|u| u.pages.iter().map(|(&i, &p)| (i, p)).collect());
        for (idx, pg) in pages {
            if !uvn.owns(idx, pg) {
                continue;
            }
            if pg.flags().contains(PgFlags::PG_BUSY) {
                if flags.contains(PgoFlags::PGO_FREE) {
                    uvn.vmobjlock.rw_exit();
                    uvm_pagewait(pg, "uvn_flsh");
                    uvn.vmobjlock.rw_enter_write();
                    continue 'again;
                }
                continue;
            }
            if flags.contains(PgoFlags::PGO_CLEANIT) && page_dirty(pg) {
                pg.set_flags(PgFlags::PG_BUSY);
                pmap_page_protect(pg, Prot::READ);
                match uvm_pager_put(vp, idx, pg, flags) {
                    PagerResult::VM_PAGER_OK => {}
                    PagerResult::VM_PAGER_AGAIN => {
                        page_unbusy(pg);
                        if flags.contains(PgoFlags::PGO_SYNCIO) {
                            uvm_panic_vnode(vp);
                            panic!("uvn_flush: PGO_SYNCIO return 'try again' error (impossible)");
                        }
                        flags |= PgoFlags::PGO_SYNCIO;
                        continue 'again;
                    }
                    PagerResult::VM_PAGER_ERROR => {
                        page_unbusy(pg);
                        crate::printf!("uvn_flush: vnode {}: page {idx} could not be written; its data is lost\n", vp.v_id);
                        ok = false;
                    }
                }
            }
            if flags.contains(PgoFlags::PGO_FREE) {
                uvn_pagefree(uvn, idx, pg);
            } else if flags.contains(PgoFlags::PGO_DEACTIVATE) {
                uvm_pagedeactivate(pg);
            }
        }
        return ok;
    }
}

/// Most pages written in one cluster.
const MAXCLUSTER: u32 = 8;

/// Writes a busy dirty page, with the dirty neighbours it can cluster
/// (OpenBSD uvm_pager_put); on "try again" with a cluster, drops the
/// cluster and retries the page alone. The page stays busy; on success
/// the whole cluster is clean.
#[inline(never)]
pub fn uvm_pager_put(vp: &'static Vnode, idx: u32, pg: &'static VmPage, flags: PgoFlags) -> PagerResult {
    let uvn = &vp.v_uvm;
    let mut cluster: Vec<(u32, &'static VmPage)> = alloc::vec![(idx, pg)];
    for dir in [-1i64, 1] {
        let mut at = idx as i64 + dir;
        while cluster.len() < MAXCLUSTER as usize && at >= 0 {
            let Some(p) = uvn.with(|u| u.pages.get(&(at as u32)).copied()) else { break };
            if p.flags().contains(PgFlags::PG_BUSY) || !page_dirty(p) {
                break;
            }
            p.set_flags(PgFlags::PG_BUSY);
            pmap_page_protect(p, Prot::READ);
            cluster.push((at as u32, p));
            at += dir;
        }
    }
    cluster.sort_by_key(|c| c.0);
    let mut r = uvn_put(vp, &cluster, flags);
    if r == PagerResult::VM_PAGER_AGAIN && cluster.len() > 1 {
        for &(_, p) in cluster.iter().filter(|c| !core::ptr::eq(c.1, pg)) {
            page_unbusy(p);
        }
        cluster.retain(|c| core::ptr::eq(c.1, pg));
        r = uvn_put(vp, &cluster, flags);
    }
    if r == PagerResult::VM_PAGER_OK {
        for &(_, p) in &cluster {
            pmap_clear_modify(p);
            p.set_flags(PgFlags::PG_CLEAN);
            if !core::ptr::eq(p, pg) {
                page_unbusy(p);
            }
        }
    }
    r
}

/// The pager's put (OpenBSD uvn_put), per `uvn.policy`.
#[inline(never)]
pub fn uvn_put(vp: &'static Vnode, pages: &[(u32, &'static VmPage)], flags: PgoFlags) -> PagerResult {
    match uvn_policy() {
        UvnPolicy::Original | UvnPolicy::VgetDiff => uvn_io(vp, pages, flags, true),
        UvnPolicy::Fixed | UvnPolicy::Fixed2 => {
            if vp.v_uvm.flags().contains(UvnFlags::UVM_VNODE_DYING) {
                return uvn_io(vp, pages, flags, true);
            }
            if vget(vp, LkFlags::LK_NOWAIT).is_err() {
                return PagerResult::VM_PAGER_AGAIN;
            }
            let r = uvn_io(vp, pages, flags, true);
            // The last reference may reclaim the vnode, which takes the
            // object lock.
            vp.v_uvm.vmobjlock.rw_exit();
            vrele(vp);
            vp.v_uvm.vmobjlock.rw_enter_write();
            r
        }
    }
}

/// Moves pages to or from the file through VOP_READ/VOP_WRITE (OpenBSD
/// uvn_io): waits out other synchronous I/O, counts itself in u_nio, and
/// locks the vnode unless the caller holds it (VNISLOCKED). Under the
/// vget-diff policy it first takes vget(LK_NOWAIT); any failure to get
/// the vnode is "try again".
#[inline(never)]
pub fn uvn_io(vp: &'static Vnode, pages: &[(u32, &'static VmPage)], flags: PgoFlags, write: bool) -> PagerResult {
    let uvn = &vp.v_uvm;
    // Called with the object lock; the I/O sleeps, so it is let go.
    uvn.vmobjlock.rw_exit();
    let r = uvn_io_unlocked(vp, uvn, pages, flags, write);
    uvn.vmobjlock.rw_enter_write();
    r
}

fn uvn_io_unlocked(vp: &'static Vnode, uvn: &UvmVnode, pages: &[(u32, &'static VmPage)], flags: PgoFlags, write: bool) -> PagerResult {
    let sync = flags.contains(PgoFlags::PGO_SYNCIO);
    if sync {
        while uvn.flags().contains(UvnFlags::UVM_VNODE_IOSYNC) {
            uvn.with(|u| u.u_flags |= UvnFlags::UVM_VNODE_IOSYNCWANTED);
            let _ = tsleep(uvn.wchan_io(), "uvn_iosync", 0);
        }
        uvn.with(|u| u.u_flags |= UvnFlags::UVM_VNODE_IOSYNC);
    }
    let vgot = uvn_policy() != UvnPolicy::VgetDiff || vget(vp, LkFlags::LK_NOWAIT).is_ok();
    let r = if vgot { uvn_io_locked(vp, uvn, pages, write) } else { PagerResult::VM_PAGER_AGAIN };
    if vgot && uvn_policy() == UvnPolicy::VgetDiff {
        vrele(vp);
    }
    if sync {
        let wanted = uvn.with(|u| {
            let w = u.u_flags.contains(UvnFlags::UVM_VNODE_IOSYNCWANTED);
            u.u_flags -= UvnFlags::UVM_VNODE_IOSYNC | UvnFlags::UVM_VNODE_IOSYNCWANTED;
            w
        });
        if wanted {
            wakeup(uvn.wchan_io());
        }
    }
    r
}

fn uvn_io_locked(vp: &'static Vnode, uvn: &UvmVnode, pages: &[(u32, &'static VmPage)], write: bool) -> PagerResult {
    let (netunlocked, size) = uvn.with(|u| {
        u.u_nio += 1;
        (!u.u_flags.contains(UvnFlags::UVM_VNODE_VNISLOCKED), u.u_size)
    });
    let locked = !netunlocked || vn_lock(vp, LkFlags::LK_EXCLUSIVE).is_ok();
    let mut r = if locked { PagerResult::VM_PAGER_OK } else { PagerResult::VM_PAGER_AGAIN };
    if locked {
        let mut buf = alloc::vec![0u8; PAGE_SIZE as usize];
        for &(idx, pg) in pages {
            let off = idx as u64 * PAGE_SIZE as u64;
            let len = size.saturating_sub(off).min(PAGE_SIZE as u64) as usize;
            let res = if write {
                uvm_page_read(pg, 0, &mut buf[..len]);
                let pagerio = uvn_policy() == UvnPolicy::Fixed2;
                if pagerio {
                    uvn.with(|u| u.u_flags |= UvnFlags::UVM_VNODE_PAGERIO);
                }
                let r = VOP_WRITE(vp, off, &buf[..len]).map(|n| n == len);
                if pagerio {
                    uvn.with(|u| u.u_flags -= UvnFlags::UVM_VNODE_PAGERIO);
                }
                r
            } else {
                buf.fill(0);
                let mut got = 0;
                let res = loop {
                    match VOP_READ(vp, off + got as u64, &mut buf[got..len]) {
                        Ok(0) => break Ok(true),
                        Ok(n) => got += n,
                        Err(e) => break Err(e),
                    }
                    if got == len {
                        break Ok(true);
                    }
                };
                uvm_page_write(pg, 0, &buf);
                res
            };
            match res {
                Ok(true) => {}
                Ok(false) | Err(Errno::EIO) | Err(Errno::ENOSPC) | Err(Errno::EFBIG) => r = PagerResult::VM_PAGER_ERROR,
                Err(_) => r = PagerResult::VM_PAGER_AGAIN,
            }
        }
        if netunlocked {
            vop_unlock(vp);
        }
    }
    let idle = uvn.with(|u| {
        u.u_nio -= 1;
        u.u_nio == 0
    });
    if idle {
        wakeup(uvn.wchan_io());
    }
    r
}

/// Page `idx` of the file, read in if the object lacks it (OpenBSD
/// uvn_get, one page). The page comes back clean and not busy, on the
/// active queue.
pub fn uvn_get(vp: &'static Vnode, idx: u32) -> Result<&'static VmPage, Errno> {
    let uvn = &vp.v_uvm;
    loop {
        if let Some(pg) = uvn.with(|u| u.pages.get(&idx).copied()) {
            if pg.flags().contains(PgFlags::PG_BUSY) {
                uvm_pagewait(pg, "uvn_get");
                continue;
            }
            return Ok(pg);
        }
        if idx as u64 * PAGE_SIZE as u64 >= uvn.with(|u| u.u_size) {
            return Err(Errno::EINVAL);
        }
        let Some(pg) = uvm_pagealloc() else {
            uvm_wait("uvn_get");
            continue;
        };
        // Someone may have read it in while this waited.
        if uvn.with(|u| u.pages.contains_key(&idx)) {
            uvm_pagefree(pg);
            continue;
        }
        uvm_pagezero(pg);
        pg.set_flags(PgFlags::PG_BUSY | PgFlags::PG_FAKE);
        pg.set_owner(vp.v_id, idx);
        uvn.with(|u| u.pages.insert(idx, pg));
        uvn.vmobjlock.rw_enter_write();
        let r = uvn_io(vp, &[(idx, pg)], PgoFlags::PGO_SYNCIO, false);
        uvn.vmobjlock.rw_exit();
        pg.clear_flags(PgFlags::PG_FAKE);
        pg.set_flags(PgFlags::PG_CLEAN);
        pmap_clear_modify(pg);
        page_unbusy(pg);
        if r != PagerResult::VM_PAGER_OK {
            uvn_pagefree(uvn, idx, pg);
            return Err(Errno::EIO);
        }
        uvm_pageactivate(pg);
        return Ok(pg);
    }
}
