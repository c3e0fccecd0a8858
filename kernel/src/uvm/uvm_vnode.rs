//! The vnode pager (OpenBSD uvm_vnode.c): the pages of a file cached in a `uvm_vnode` that lives
//! inside the vnode, how the object persists after its last user goes
//! (CANPERSIST), and how it is flushed and torn down — `uvm_vnp_uncache`
//! from the write paths, `uvm_vnp_terminate` from vclean. The policy of
//! `uvn_put`/`uvn_io` is chosen at boot (`uvn.policy=`): OpenBSD 1.130's,
//! the first proposed diff, the fix of 1.131, or ppcbsd's fixed-2.
//! Everything else follows uvm_vnode.c 1.130; what differs is in
//! doc/fidelity.md. The pager's generic part is uvm_pager.rs.

use crate::arch::intr::Ipl;
use crate::arch::pmap::{pmap_clear_modify, pmap_is_modified, pmap_page_protect};
use crate::diag::race_window::{self, Side};
use crate::diag::vfs_hist::{vh, vh_working, Vh};
use crate::kern::kern_lock::{with_kernel_lock, KERNEL_ASSERT_LOCKED};
use crate::kern::kern_mutex::Mutex;
use crate::kern::kern_rwlock::Rwlock;
use crate::kern::kern_synch::{wakeup, wchan};
use crate::kern::vfs_subr::{vget, vn_lock, vop_unlock, vput, vref, vrele, Vnode};
use crate::kern::vfs_vops::{VOP_GETATTR_SIZE, VOP_READ, VOP_WRITE};
use crate::sys::errno::Errno;
use crate::sys::vnode::{IoFlags, LkFlags, VType};
use crate::uvm::uvm_extern::Prot;
use crate::uvm::uvm_page::{
    round_page, uvm_page_queue, uvm_page_read, uvm_page_unbusy, uvm_page_write, uvm_pageactivate, uvm_pagealloc, uvm_pagedeactivate, uvm_pagefree,
    uvm_pagewait, uvm_pagezero, PgFlags, Pga, VmPage, PAGE_SIZE, PQ_ACTIVE,
};
use crate::uvm::uvm_pager::{uvm_pager_put, uvm_pagermapin, uvm_pagermapin_wait, uvm_pagermapout, PagerResult, PagerWindow, PgoFlags};
use crate::uvm::uvm_pdaemon::uvm_wait;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

bitflags::bitflags! {
    /// u_flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct UvnFlags: u32 {
        const UVM_VNODE_VALID = 0x001;
        const UVM_VNODE_CANPERSIST = 0x002;
        /// uvn_attach is setting the object up without its lock.
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
        /// Being attached, dying or being killed: no new users
        /// (uvm_vnode.h of 2022; ALOCK left OpenBSD in 2025).
        const UVM_VNODE_BLOCKED = Self::UVM_VNODE_ALOCK.bits() | Self::UVM_VNODE_DYING.bits() | Self::UVM_VNODE_RELKILL.bits();
    }

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

use crate::uvm::uvm_extern::uvn_policy;

/// The first proposed diff: uvn_io takes vget(LK_NOWAIT) and answers
/// VM_PAGER_AGAIN when it fails.
fn uvn_io_takes_vget() -> bool {
    uvn_policy() == UvnPolicy::VgetDiff
}

/// uvm_vnode.c 1.131 (and fixed-2): uvn_put takes vget(LK_NOWAIT) unless
/// the object is dying, and vrele after the I/O, with the object lock held.
fn uvn_put_takes_vget() -> bool {
    matches!(uvn_policy(), UvnPolicy::Fixed | UvnPolicy::Fixed2 | UvnPolicy::Head)
}

/// OpenBSD HEAD's departures from 1.131 on the race path, one predicate
/// each (doc/fidelity.md, "head").
fn uvn_head() -> bool {
    uvn_policy() == UvnPolicy::Head
}

/// HEAD (uvm_vnode.c 1.144-1.148): uvn_attach asks VOP_GETATTR for the
/// size before it takes the object lock, and there is no ALOCK: a new
/// object is set up under the lock.
fn uvn_attach_getattr_first() -> bool {
    uvn_head()
}

/// HEAD (uvm_vnode.c 1.151): "try again" under PGO_SYNCIO is a KASSERT, and
/// the retry busies the page again (uvm_pager_put let it go).
fn uvn_flush_again_is_kassert() -> bool {
    uvn_head()
}

/// HEAD (uvm_pager.c 1.93, 1.96): uvm_pager_put calls the pager once, and
/// when it fails lets every page of the cluster go, the one asked for too.
pub fn uvm_pager_put_drops_all() -> bool {
    uvn_head()
}

/// HEAD (uvm_pdaemon.c 1.143): the pagedaemon leaves the page to
/// uvm_pager_put's bookkeeping — no reactivation after an error — and
/// (1.160) passes dirty pages by while no pager window is free.
pub fn pdaemon_as_head() -> bool {
    uvn_head()
}

/// HEAD (vfs_vnops.c 1.128): vn_lock wakes vclean when VXLOCK came while it
/// waited even if its lock attempt failed; (vfs_subr.c 1.334) vclean
/// throws the buffers away when writing them failed.
pub fn vfs_as_head() -> bool {
    uvn_head()
}

/// The usecount0 proposal: vref at use count 0 is no longer a DIAGNOSTIC
/// panic, so 1.130's pager writes on and uvm_vnp_uncache's vref takes the
/// vnode from 0 to 1 while it stays on the free list.
pub fn vref_allowed_at_zero() -> bool {
    uvn_policy() == UvnPolicy::Usecount0
}

/// The uncache-vget proposal: uvm_vnp_uncache takes its reference with
/// vget(LK_NOWAIT), which takes an unreferenced vnode off the free list.
fn uncache_takes_vget() -> bool {
    uvn_policy() == UvnPolicy::UncacheVget
}

/// ppcbsd's fixed-2, on top of 1.131, has the guards below, one predicate
/// each, so that a call site names the behaviour it asks about
/// (doc/fidelity.md). OpenBSD has none of them.
fn uvn_fixed2() -> bool {
    uvn_policy() == UvnPolicy::Fixed2
}

/// fixed-2: the pager's own VOP_WRITE is marked (UVM_VNODE_PAGERIO) and
/// uvm_vnp_uncache leaves that object alone.
fn uvn_pager_write_is_marked() -> bool {
    uvn_fixed2()
}

/// fixed-2: only the thread that holds a dying object's vnode lock
/// (VNISLOCKED: vclean's) writes its pages.
fn uvn_dying_writes_need_vnlock() -> bool {
    uvn_fixed2()
}

/// fixed-2: uvn_put's vrele runs without the object lock.
fn uvn_put_vrele_unlocked() -> bool {
    uvn_fixed2()
}

/// fixed-2: uvn_put takes the vnode's lock with its use, both without
/// sleeping (vget(LK_NOWAIT | LK_EXCLUSIVE)), and lets both go with vput.
/// With a bare use, the pager's vrele could drop the last use and sleep in
/// vn_lock while a closing writer's VOP_INACTIVE holds the lock; the writer
/// then finds a waiter's count on the lock it is putting on the free list
/// ("vputonfreelist: lock count is not zero", doc/results.md, the keepopen
/// cell). vput runs VOP_INACTIVE under the lock it already holds.
fn uvn_put_takes_vnlock() -> bool {
    uvn_fixed2()
}

/// fixed-2: ffs_write uncaches before it takes the block's buffer, not
/// after (OpenBSD's order makes the persistbug).
pub fn ffs_write_uncaches_first() -> bool {
    uvn_fixed2()
}

/// fixed-2: the pager never sleeps for a vnode lock while it holds busy
/// pages. uvn_io only tries for the lock (as uvn_get's PGO_NOWAIT read
/// does in OpenBSD) unless this thread already holds it; the pagedaemon
/// then leaves the page for a later pass, and a synchronous flush (msync,
/// sync, the last unmap's kill) unbusies its page, waits for the lock
/// holding nothing and tries the page again. OpenBSD's pagedaemon, msync
/// and kill flush wait for the lock with the pages busy, which deadlocks
/// against a truncate that holds the lock and waits in uvm_vnp_setsize for
/// those pages (doc/findings.md, F6; `test=pager-truncate`).
fn uvn_io_never_sleeps_for_vnlock() -> bool {
    uvn_fixed2()
}

/// The object's state (struct uvm_vnode with its uvm_object).
///
/// Locks, as in OpenBSD's uvm_vnode.h legend:
///   [v] the object lock, `vmobjlock`, held for writing to change the
///       field (`UvmVnode::locked` asserts it) — except while uvn_attach
///       holds UVM_VNODE_ALOCK, which keeps everyone else out, as 1.130;
///   [m] `UvmVnode::st`, a mutex every access takes, so that a reader
///       without the object lock (the pagedaemon before its try-lock, the
///       fault's resident-page check, the flight recorder, ddb) sees a
///       consistent value.
pub struct UvnFields {
    /// [v, m]; fixed-2's UVM_VNODE_PAGERIO alone is set and cleared by the
    /// transfer itself, which holds the vnode lock instead.
    pub u_flags: UvnFlags,
    /// [v, m]
    pub uo_refs: u32,
    /// I/O operations in flight. [v, m]
    pub u_nio: u32,
    /// The file's size as the object knows it. [v, m]
    pub u_size: u64,
    /// The object's pages by page index (uo_memt). [v, m]
    pub pages: BTreeMap<u32, &'static VmPage>,
}

/// struct uvm_vnode, embedded in its vnode (v_uvm).
pub struct UvmVnode {
    /// The object lock: sleepable, and the pagedaemon only try-locks it.
    pub vmobjlock: Rwlock,
    /// [m] of UvnFields' legend.
    st: Mutex<UvnFields>,
}

impl UvmVnode {
    pub const fn new() -> UvmVnode {
        UvmVnode {
            vmobjlock: Rwlock::new("vmobjlk"),
            st: Mutex::new(Ipl::None, UvnFields { u_flags: UvnFlags::empty(), uo_refs: 0, u_nio: 0, u_size: 0, pages: BTreeMap::new() }),
        }
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut UvnFields) -> R) -> R {
        f(&mut self.st.lock())
    }

    /// Like `with`, for a change to a [v] field (the legend above
    /// UvnFields): asserts the object lock.
    #[track_caller]
    pub fn locked<R>(&self, f: impl FnOnce(&mut UvnFields) -> R) -> R {
        self.assert_locked();
        self.with(f)
    }

    /// Like `with`, but None if the fields are locked (the recorder, the
    /// debugger).
    pub fn try_with<R>(&self, f: impl FnOnce(&mut UvnFields) -> R) -> Option<R> {
        self.st.try_lock().map(|mut g| f(&mut g))
    }

    fn flags(&self) -> UvnFlags {
        self.with(|u| u.u_flags)
    }

    fn wchan(&self) -> usize {
        wchan(self)
    }

    /// &u_nio: where threads draining the object's I/O sleep
    /// ("uvn_term", "uvn_flush").
    fn wchan_nio(&self) -> usize {
        self.st.data_addr() + core::mem::offset_of!(UvnFields, u_nio)
    }

    /// &u_flags: where uvn_io waits for another thread's IOSYNC drain.
    fn wchan_flags(&self) -> usize {
        self.st.data_addr() + core::mem::offset_of!(UvnFields, u_flags)
    }

    #[track_caller]
    pub fn assert_locked(&self) {
        self.vmobjlock.rw_assert_wrlock();
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

/// The vnode a panic is about, shown after the trace.
static PANIC_VNODE: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

/// The vnode the panic named (0: none), ddb's default vnode.
pub fn uvm_panic_vnode_id() -> u32 {
    PANIC_VNODE.load(Ordering::Relaxed)
}

/// Names the vnode the coming panic is about.
pub fn uvm_panic_vnode(vp: &'static Vnode) {
    vh(vp, Vh::Panic, 0, 0);
    PANIC_VNODE.store(vp.v_id, Ordering::Relaxed);
}

/// Sleeps on `ident` with the object lock let go, and takes it again
/// (OpenBSD rwsleep): nothing runs between the two on this uniprocessor.
fn rwsleep(ident: usize, lock: &Rwlock, wmesg: &'static str) {
    crate::kern::kern_synch::rwsleep_norelock(ident, lock, wmesg);
    lock.rw_enter_write();
}

/// Sets the object's flags to `f` (all of them) and wakes WANTED sleepers
/// if the old flags had it.
fn uvn_setflags(uvn: &UvmVnode, f: UvnFlags) {
    let wanted = uvn.locked(|u| core::mem::replace(&mut u.u_flags, f)).contains(UvnFlags::UVM_VNODE_WANTED);
    if wanted {
        wakeup(uvn.wchan());
    }
}

fn uvn_npages(uvn: &UvmVnode) -> usize {
    uvn.with(|u| u.pages.len())
}

/// Sleeps, the object lock held, until the object has no pages: for the
/// I/O of others to drain (IOSYNC makes uvn_io wake &u_nio at its end).
fn uvn_wait_nopages(uvn: &UvmVnode, while_also: impl Fn(UvnFlags) -> bool) {
    while uvn_npages(uvn) > 0 && while_also(uvn.flags()) {
        uvn.locked(|u| u.u_flags |= UvnFlags::UVM_VNODE_IOSYNC);
        rwsleep(uvn.wchan_nio(), &uvn.vmobjlock, "uvn_term");
    }
}

/// The objects attached writeable (OpenBSD's uvn_wlist, [K] there):
/// where uvm_vnp_sync looks for dirty pages. An object joins when it is
/// first attached with write access and leaves when it is killed or
/// terminated with no references, or when a sync cleans it while it has
/// one user.
static UVN_WLIST: Mutex<Vec<&'static Vnode>> = Mutex::new(Ipl::None, Vec::new());

/// One sync at a time (OpenBSD's uvn_sync_lock).
static UVN_SYNC_LOCK: Rwlock = Rwlock::new("uvnsync");

/// Marks the object WRITEABLE and puts it on uvn_wlist, unless it is.
fn uvn_wlist_insert(uvn: &UvmVnode, vp: &'static Vnode) {
    // uvn_attach asserts it before each insertion (uvm_vnode.c:175,
    // :252@2ea167a2).
    KERNEL_ASSERT_LOCKED();
    let new = uvn.with(|u| {
        let old = u.u_flags;
        u.u_flags |= UvnFlags::UVM_VNODE_WRITEABLE;
        !old.contains(UvnFlags::UVM_VNODE_WRITEABLE)
    });
    if new {
        UVN_WLIST.lock().push(vp);
    }
}

/// Takes the object off uvn_wlist if it is WRITEABLE (clearing the flag).
fn uvn_wlist_remove(uvn: &UvmVnode, vp: &'static Vnode) {
    let was = uvn.with(|u| {
        let old = u.u_flags;
        u.u_flags -= UvnFlags::UVM_VNODE_WRITEABLE;
        old.contains(UvnFlags::UVM_VNODE_WRITEABLE)
    });
    if was {
        UVN_WLIST.lock().retain(|&x| !core::ptr::eq(x, vp));
    }
}

/// The object of a regular file's vnode, referenced (OpenBSD uvn_attach,
/// 1.130). Under the object lock it waits while the object is blocked
/// (being attached, dying or being killed: "uvn_attach"). Attaching to a
/// valid object takes a reference (and, for a persisting one, the vnode
/// reference with vref again). Otherwise the object is marked
/// UVM_VNODE_ALOCK, the lock let go for VOP_GETATTR, and the object set up
/// VALID|CANPERSIST without the lock — ALOCK keeps everyone else out — with
/// a vnode reference taken with vref. A writeable attach puts the object
/// on uvn_wlist.
pub fn uvn_attach(vp: &'static Vnode, writeable: bool) -> Result<&'static UvmVnode, Errno> {
    if vp.with(|v| v.v_type) != VType::VREG {
        return Err(Errno::EINVAL);
    }
    let uvn = &vp.v_uvm;
    let _w = vh_working(vp);
    if uvn_attach_getattr_first() {
        return uvn_attach_head(vp, writeable);
    }
    uvn.vmobjlock.rw_enter_write();
    while uvn.flags().intersects(UvnFlags::UVM_VNODE_BLOCKED) {
        uvn.locked(|u| u.u_flags |= UvnFlags::UVM_VNODE_WANTED);
        rwsleep(uvn.wchan(), &uvn.vmobjlock, "uvn_attach");
    }
    if uvn.flags().contains(UvnFlags::UVM_VNODE_VALID) {
        let persisting = uvn.with(|u| u.uo_refs) == 0;
        if persisting {
            vref(vp);
        }
        uvn.locked(|u| u.uo_refs += 1);
        if writeable {
            uvn_wlist_insert(uvn, vp);
        }
        vh(vp, Vh::UvnAttach, if persisting { 2 } else { 0 }, 0);
        uvn.vmobjlock.rw_exit();
        return Ok(uvn);
    }
    uvn.locked(|u| u.u_flags = UvnFlags::UVM_VNODE_ALOCK);
    uvn.vmobjlock.rw_exit();
    let size = match VOP_GETATTR_SIZE(vp) {
        Ok(size) => size,
        Err(e) => {
            uvn.vmobjlock.rw_enter_write();
            let old = uvn.locked(|u| core::mem::replace(&mut u.u_flags, UvnFlags::empty()));
            if old.contains(UvnFlags::UVM_VNODE_WANTED) {
                wakeup(uvn.wchan());
            }
            uvn.vmobjlock.rw_exit();
            return Err(e);
        }
    };
    // Without the object lock, as 1.130: ALOCK blocks attaches, and an
    // object that is not VALID has no pages for anyone else to look at.
    let old = uvn.with(|u| {
        assert!(u.uo_refs == 0, "uvn_attach: vnode {} has {} object references while attaching", vp.v_id, u.uo_refs);
        u.uo_refs = 1;
        u.u_nio = 0;
        u.u_size = size;
        core::mem::replace(&mut u.u_flags, UvnFlags::UVM_VNODE_VALID | UvnFlags::UVM_VNODE_CANPERSIST)
    });
    vref(vp);
    if writeable {
        uvn_wlist_insert(uvn, vp);
    }
    vh(vp, Vh::UvnAttach, 1, 0);
    if old.contains(UvnFlags::UVM_VNODE_WANTED) {
        wakeup(uvn.wchan());
    }
    Ok(uvn)
}

/// uvn_attach as HEAD has it (uvm_vnode.c 1.151, :136-243@14639db4): the
/// size from VOP_GETATTR first, with no lock held; then, under the object
/// lock, the wait while it is dying or being killed, and a valid object's
/// reference or a new object set up — no ALOCK state in between.
fn uvn_attach_head(vp: &'static Vnode, writeable: bool) -> Result<&'static UvmVnode, Errno> {
    let uvn = &vp.v_uvm;
    let size = VOP_GETATTR_SIZE(vp)?;
    uvn.vmobjlock.rw_enter_write();
    while uvn.flags().intersects(UvnFlags::UVM_VNODE_DYING | UvnFlags::UVM_VNODE_RELKILL) {
        uvn.locked(|u| u.u_flags |= UvnFlags::UVM_VNODE_WANTED);
        rwsleep(uvn.wchan(), &uvn.vmobjlock, "uvn_attach");
    }
    let how = if uvn.flags().contains(UvnFlags::UVM_VNODE_VALID) {
        let persisting = uvn.with(|u| u.uo_refs) == 0;
        if persisting {
            vref(vp);
        }
        uvn.locked(|u| u.uo_refs += 1);
        if persisting {
            2
        } else {
            0
        }
    } else {
        uvn.locked(|u| {
            assert!(u.uo_refs == 0, "uvn_attach: vnode {} has {} object references while attaching", vp.v_id, u.uo_refs);
            u.uo_refs = 1;
            u.u_nio = 0;
            u.u_size = size;
            u.u_flags = UvnFlags::UVM_VNODE_VALID | UvnFlags::UVM_VNODE_CANPERSIST | (u.u_flags & UvnFlags::UVM_VNODE_WANTED);
        });
        vref(vp);
        1
    };
    if writeable {
        uvn_wlist_insert(uvn, vp);
    }
    vh(vp, Vh::UvnAttach, how, 0);
    if uvn.flags().contains(UvnFlags::UVM_VNODE_WANTED) {
        wakeup(uvn.wchan());
    }
    uvn.vmobjlock.rw_exit();
    Ok(uvn)
}

/// Another reference to an object in use (OpenBSD uvn_reference).
pub fn uvn_reference(vp: &'static Vnode) {
    let uvn = &vp.v_uvm;
    uvn.vmobjlock.rw_enter_write();
    uvn.locked(|u| {
        assert!(u.uo_refs > 0, "uvn_reference: object of vnode {} has no references", vp.v_id);
        u.uo_refs += 1;
    });
    uvn.vmobjlock.rw_exit();
}

/// Drops a reference (OpenBSD uvn_detach). The last one either lets the
/// object persist — its pages deactivated but not cleaned, and the vnode
/// released — or, without CANPERSIST, kills it: DYING, a flush with I/O,
/// then RELKILL and a wait ("uvn_term") until the pages are gone. If
/// uvm_vnp_terminate cancels RELKILL meanwhile, the object is its to
/// finish, and so is the vnode reference.
pub fn uvn_detach(vp: &'static Vnode) {
    let uvn = &vp.v_uvm;
    let _w = vh_working(vp);
    uvn.vmobjlock.rw_enter_write();
    let (left, persist) = uvn.locked(|u| {
        assert!(u.uo_refs > 0, "uvn_detach: object of vnode {} has no references", vp.v_id);
        u.uo_refs -= 1;
        (u.uo_refs, u.u_flags.contains(UvnFlags::UVM_VNODE_CANPERSIST))
    });
    // How many pages are dirty as the object persists: P0 if any.
    let dirty = if left == 0 && persist {
        uvn.with(|u| u.pages.values().filter(|p| !p.flags().contains(PgFlags::PG_CLEAN) || pmap_is_modified(p)).count() as u32)
    } else {
        0
    };
    vh(
        vp,
        Vh::UvnDetach,
        if left > 0 {
            0
        } else if persist {
            1
        } else {
            2
        },
        dirty,
    );
    if left > 0 {
        uvn.vmobjlock.rw_exit();
        return;
    }
    if persist {
        uvn_flush(vp, 0, 0, PgoFlags::PGO_DEACTIVATE | PgoFlags::PGO_ALLPAGES);
        uvn.vmobjlock.rw_exit();
        vrele(vp);
        crate::diag::uvm_p0::p0_check(vp, crate::diag::uvm_p0::P0Point::UvnDetach);
        return;
    }
    uvn.locked(|u| u.u_flags |= UvnFlags::UVM_VNODE_DYING);
    uvn_flush(vp, 0, 0, PgoFlags::PGO_CLEANIT | PgoFlags::PGO_FREE | PgoFlags::PGO_ALLPAGES);
    uvn.locked(|u| u.u_flags |= UvnFlags::UVM_VNODE_RELKILL);
    uvn_wait_nopages(uvn, |f| f.contains(UvnFlags::UVM_VNODE_RELKILL));
    if !uvn.flags().contains(UvnFlags::UVM_VNODE_RELKILL) {
        uvn.vmobjlock.rw_exit();
        return;
    }
    uvn_wlist_remove(uvn, vp);
    uvn_setflags(uvn, UvnFlags::empty());
    uvn.vmobjlock.rw_exit();
    vrele(vp);
}

/// Stops a file's pages from persisting once written through the file
/// system (OpenBSD uvm_vnp_uncache), called with the vnode locked. An
/// unused persisting object is killed here: a reference taken with vref —
/// which panics if the vnode itself is unreferenced, OpenBSD's first panic
/// — then the vnode unlocked, the object detached (its dirty pages written
/// and freed), and the vnode locked again with LK_RETRY. False if the
/// object is still in use.
#[inline(never)]
pub fn uvm_vnp_uncache(vp: &'static Vnode) -> bool {
    let uvn = &vp.v_uvm;
    let _w = vh_working(vp);
    uvn.vmobjlock.rw_enter_write();
    let f = uvn.flags();
    let pagerio = uvn_pager_write_is_marked() && f.contains(UvnFlags::UVM_VNODE_PAGERIO);
    if !f.contains(UvnFlags::UVM_VNODE_VALID) || f.intersects(UvnFlags::UVM_VNODE_BLOCKED) || pagerio {
        if f.contains(UvnFlags::UVM_VNODE_VALID) {
            vh(vp, Vh::Uncache, 0, 0);
        }
        uvn.vmobjlock.rw_exit();
        return true;
    }
    let refs = uvn.locked(|u| {
        u.u_flags -= UvnFlags::UVM_VNODE_CANPERSIST;
        u.uo_refs
    });
    vh(vp, Vh::Uncache, if refs > 0 { 1 } else { 2 }, 0);
    if refs > 0 {
        uvn.vmobjlock.rw_exit();
        return false;
    }
    crate::diag::uvm_p0::race_count(crate::diag::uvm_p0::RaceCtr::UncacheKill);
    // Only the kill path needs the lock it lets go of (OpenBSD checks it
    // here too, under VFSLCKDEBUG): the mmap hack calls this unlocked.
    crate::kern::vfs_vops::ASSERT_VP_ISLOCKED(vp);
    if uncache_takes_vget() {
        // The proposal's vget: no lock asked for (the caller holds it);
        // a vnode being cleaned out cannot be had, and the object is left
        // as it is, not to persist.
        if crate::kern::vfs_subr::vget(vp, LkFlags::LK_NOWAIT).is_err() {
            uvn.vmobjlock.rw_exit();
            return false;
        }
    } else {
        vref(vp);
    }
    uvn.locked(|u| u.uo_refs += 1);
    uvn.vmobjlock.rw_exit();
    vop_unlock(vp);
    uvn_detach(vp);
    let _ = vn_lock(vp, LkFlags::LK_EXCLUSIVE | LkFlags::LK_RETRY);
    true
}

/// Tears the object down as its vnode is cleaned out (OpenBSD
/// uvm_vnp_terminate). The caller (vclean) holds VXLOCK and the vnode
/// lock: RELKILL is cancelled (a detach waiting to kill the object leaves
/// it to this), DYING|VNISLOCKED set, every page flushed with I/O and
/// freed, and the I/O of others waited out. An object still referenced
/// stays VALID.
#[inline(never)]
pub fn uvm_vnp_terminate(vp: &'static Vnode) {
    let uvn = &vp.v_uvm;
    let _w = vh_working(vp);
    uvn.vmobjlock.rw_enter_write();
    if !uvn.flags().contains(UvnFlags::UVM_VNODE_VALID) {
        uvn.vmobjlock.rw_exit();
        return;
    }
    vh(vp, Vh::Terminate, 0, 0);
    let _span = race_window::span(Side::Terminate, vp);
    uvn.locked(|u| {
        u.u_flags -= UvnFlags::UVM_VNODE_RELKILL;
        u.u_flags |= UvnFlags::UVM_VNODE_DYING | UvnFlags::UVM_VNODE_VNISLOCKED;
    });
    uvn_flush(vp, 0, 0, PgoFlags::PGO_CLEANIT | PgoFlags::PGO_FREE | PgoFlags::PGO_ALLPAGES);
    uvn_wait_nopages(uvn, |_| true);
    let (refs, f) = uvn.with(|u| (u.uo_refs, u.u_flags));
    if refs > 0 {
        uvn_setflags(uvn, f - (UvnFlags::UVM_VNODE_DYING | UvnFlags::UVM_VNODE_VNISLOCKED | UvnFlags::UVM_VNODE_WANTED | UvnFlags::UVM_VNODE_CANPERSIST));
    } else {
        assert!(!f.contains(UvnFlags::UVM_VNODE_IOSYNCWANTED), "uvm_vnp_terminate: io sync wanted bit set");
        uvn_wlist_remove(uvn, vp);
        uvn_setflags(uvn, UvnFlags::empty());
    }
    vh(vp, Vh::TerminateDone, 0, 0);
    uvn.vmobjlock.rw_exit();
}

/// Writes the object's dirty pages in [start, stop) and keeps them, for
/// msync (OpenBSD uvm_map_clean's pgo_flush with PGO_CLEANIT, and
/// PGO_SYNCIO for MS_SYNC): false if one could not be written.
pub fn uvn_msync(vp: &'static Vnode, start: u64, stop: u64, sync: bool) -> bool {
    let uvn = &vp.v_uvm;
    uvn.vmobjlock.rw_enter_write();
    let flags = if sync { PgoFlags::PGO_CLEANIT | PgoFlags::PGO_SYNCIO } else { PgoFlags::PGO_CLEANIT };
    let ok = !uvn.flags().contains(UvnFlags::UVM_VNODE_VALID) || uvn_flush(vp, start, stop, flags);
    uvn.vmobjlock.rw_exit();
    ok
}

/// Writes the dirty pages of every writeable object (OpenBSD
/// uvm_vnp_sync, called by sync(2) and at halt before the file systems
/// sync): under uvn_sync_lock, each object on uvn_wlist that is not
/// blocked gets a reference — a persisting one (no users, its vnode
/// released) its vnode reference again with vref, which panics "vref used
/// where vget required" if the vnode is unreferenced, as OpenBSD's
/// DIAGNOSTIC kernel does (doc/findings.md, F7) — then is flushed
/// (PGO_CLEANIT|PGO_ALLPAGES|PGO_DOACTCLUST), taken off the list if its
/// one user is this sync, and detached. fixed-2 takes a persisting
/// object's vnode reference with vget(LK_NOWAIT) and skips the objects
/// whose vnode it cannot get. ppcbsd has one file system: no mount filter.
#[inline(never)]
pub fn uvm_vnp_sync() {
    UVN_SYNC_LOCK.rw_enter_write();
    let list: Vec<&'static Vnode> = UVN_WLIST.lock().clone();
    let mut queue = Vec::new();
    for vp in list {
        let uvn = &vp.v_uvm;
        uvn.vmobjlock.rw_enter_write();
        let (f, refs) = uvn.with(|u| (u.u_flags, u.uo_refs));
        if !f.contains(UvnFlags::UVM_VNODE_WRITEABLE) || f.intersects(UvnFlags::UVM_VNODE_BLOCKED) {
            uvn.vmobjlock.rw_exit();
            continue;
        }
        if refs == 0 {
            crate::diag::uvm_p0::race_count(crate::diag::uvm_p0::RaceCtr::SyncPersist);
            if uvn_sync_takes_vget() {
                if vget(vp, LkFlags::LK_NOWAIT).is_err() {
                    uvn.vmobjlock.rw_exit();
                    continue;
                }
            } else {
                vref(vp);
            }
        }
        uvn.locked(|u| u.uo_refs += 1);
        uvn.vmobjlock.rw_exit();
        queue.push((vp, race_window::span(Side::Sync, vp)));
    }
    // OpenBSD walks uvn_wlist newest first and queues each at the head
    // (uvm_vnode.c:1474-1499@2ea167a2): it too flushes the oldest first.
    for (vp, _span) in queue {
        let uvn = &vp.v_uvm;
        uvn.vmobjlock.rw_enter_write();
        uvn_flush(vp, 0, 0, PgoFlags::PGO_CLEANIT | PgoFlags::PGO_ALLPAGES | PgoFlags::PGO_DOACTCLUST);
        if uvn.with(|u| u.uo_refs) == 1 {
            uvn_wlist_remove(uvn, vp);
        }
        uvn.vmobjlock.rw_exit();
        uvn_detach(vp);
    }
    UVN_SYNC_LOCK.rw_exit();
}

/// fixed-2: uvm_vnp_sync takes a persisting object's vnode with
/// vget(LK_NOWAIT), not vref, and skips what it cannot get.
fn uvn_sync_takes_vget() -> bool {
    uvn_fixed2()
}

/// The file's new size (OpenBSD uvm_vnp_setsize): when it shrinks, the
/// pages from the one holding the new end onwards are freed, unwritten.
pub fn uvm_vnp_setsize(vp: &'static Vnode, size: u64) {
    KERNEL_ASSERT_LOCKED();
    let uvn = &vp.v_uvm;
    uvn.vmobjlock.rw_enter_write();
    if uvn.flags().contains(UvnFlags::UVM_VNODE_VALID) {
        let old = uvn.with(|u| u.u_size);
        if old > size {
            crate::diag::uvm_p0::race_count(crate::diag::uvm_p0::RaceCtr::Truncate);
            uvn_flush(vp, size, old, PgoFlags::PGO_FREE);
        }
        uvn.locked(|u| u.u_size = size);
    }
    uvn.vmobjlock.rw_exit();
}

/// Takes a page out of the object and frees it (unmapped first); false if
/// it was no longer the object's.
pub fn uvn_pagefree(uvn: &UvmVnode, idx: u32, pg: &'static VmPage) -> bool {
    pmap_page_protect(pg, Prot::NONE);
    let mine = uvn.locked(|u| {
        let mine = u.pages.get(&idx).is_some_and(|&p| core::ptr::eq(p, pg));
        if mine {
            u.pages.remove(&idx);
        }
        mine
    });
    if mine {
        uvm_pagefree(pg);
    }
    mine
}

/// Cleans, deactivates and/or frees the object's pages in [start, stop)
/// (OpenBSD uvn_flush; PGO_ALLPAGES: all of them), the object lock held.
/// A dirty page is busied, write-protected and written with
/// uvm_pager_put, clustering active pages too; "try again" retries that
/// page with PGO_SYNCIO, and a "try again" with PGO_SYNCIO set is the
/// panic OpenBSD keeps for it. Under PGO_FREE a page someone else holds
/// busy is waited for ("uvn_flsh"); a page whose write failed is freed
/// all the same (its data is lost, as the console says). With PGO_SYNCIO,
/// busy pages seen mean waiting for the object's I/O at the end.
#[inline(never)]
pub fn uvn_flush(vp: &'static Vnode, start: u64, stop: u64, flags: PgoFlags) -> bool {
    let uvn = &vp.v_uvm;
    uvn.assert_locked();
    let _w = vh_working(vp);
    vh(vp, Vh::Flush, flags.bits(), 0);
    let mut flags = flags;
    let mut retval = true;
    let mut need_iosync = false;
    let size = uvn.with(|u| u.u_size);
    let (first, end) = if flags.contains(PgoFlags::PGO_ALLPAGES) {
        (0, round_page(size) / PAGE_SIZE as u64)
    } else {
        (start / PAGE_SIZE as u64, round_page(stop).min(round_page(size)) / PAGE_SIZE as u64)
    };
    // OpenBSD steps through every offset of the range and looks each up;
    // going from one resident page to the next visits the same pages in
    // the same order, and a file of holes terabytes long (a 64-bit
    // ftruncate) costs nothing.
    let next_resident = |idx: u64| {
        let lo = u32::try_from(idx).ok()?;
        uvn.with(|u| u.pages.range(lo..).next().map(|(&i, &pp)| (i as u64, pp))).filter(|&(i, _)| i < end)
    };
    if flags.contains(PgoFlags::PGO_CLEANIT) {
        let mut idx = first;
        while let Some((i, pp)) = next_resident(idx) {
            pp.clear_flags(PgFlags::PG_CLEANCHK);
            idx = i + 1;
        }
    }
    let mut idx = first;
    while idx < end {
        let Some((i, pp)) = next_resident(idx) else { break };
        idx = i;
        let busy = pp.flags().contains(PgFlags::PG_BUSY);
        let needs_clean = if !flags.contains(PgoFlags::PGO_CLEANIT) || busy {
            if busy && flags.contains(PgoFlags::PGO_CLEANIT | PgoFlags::PGO_SYNCIO) {
                need_iosync = true;
            }
            false
        } else {
            if pp.flags().contains(PgFlags::PG_CLEAN) && flags.contains(PgoFlags::PGO_FREE) && uvm_page_queue(pp) == Some(PQ_ACTIVE) {
                pmap_page_protect(pp, Prot::NONE);
            }
            if pp.flags().contains(PgFlags::PG_CLEAN) && pmap_is_modified(pp) {
                pp.clear_clean(crate::uvm::uvm_page::UncleanSrc::FlushCleanCheck);
            }
            pp.set_flags(PgFlags::PG_CLEANCHK);
            !pp.flags().contains(PgFlags::PG_CLEAN)
        };
        if !needs_clean {
            if flags.contains(PgoFlags::PGO_DEACTIVATE) {
                if pp.wire_count.load(Ordering::Relaxed) == 0 {
                    pmap_page_protect(pp, Prot::NONE);
                    uvm_pagedeactivate(pp);
                }
            } else if flags.contains(PgoFlags::PGO_FREE) {
                if busy {
                    uvm_pagewait(pp, Some(&uvn.vmobjlock), "uvn_flsh");
                    uvn.vmobjlock.rw_enter_write();
                    continue;
                }
                uvn_pagefree(uvn, idx as u32, pp);
            }
            idx += 1;
            continue;
        }
        pp.set_flags(PgFlags::PG_BUSY);
        crate::uvm::uvm_page::uvm_page_own(pp);
        pmap_page_protect(pp, Prot::READ);
        if flags & (PgoFlags::PGO_FREE | PgoFlags::PGO_SYNCIO) == PgoFlags::PGO_FREE {
            pp.set_flags(PgFlags::PG_RELEASED);
        }
        let (result, cluster) = loop {
            // HEAD: uvm_pager_put let the page go on "try again"; the
            // retry takes it again (ReTry before PG_BUSY, 1.151).
            if uvn_flush_again_is_kassert() {
                pp.set_flags(PgFlags::PG_BUSY);
                crate::uvm::uvm_page::uvm_page_own(pp);
            }
            let (r, cluster) = uvm_pager_put(vp, pp, flags | PgoFlags::PGO_DOACTCLUST, first, end);
            if r != PagerResult::VM_PAGER_AGAIN {
                break (r, cluster);
            }
            vh(vp, Vh::FlushAgain, idx as u32, 0);
            if uvn_io_never_sleeps_for_vnlock() && !vp.v_lock.rw_write_held() && (vp.v_lock.rw_lock_held() || flags.contains(PgoFlags::PGO_SYNCIO)) {
                break (r, cluster);
            }
            if uvn_flush_again_is_kassert() && flags.contains(PgoFlags::PGO_SYNCIO) {
                uvm_panic_vnode(vp);
                // OpenBSD's KASSERT words (uvm_vnode.c:724@14639db4).
                panic!("kernel diagnostic assertion \"(flags & PGO_SYNCIO) == 0\" failed: file \"/usr/src/sys/uvm/uvm_vnode.c\", line 724");
            }
            if flags.contains(PgoFlags::PGO_SYNCIO) {
                uvm_panic_vnode(vp);
                panic!("uvn_flush: PGO_SYNCIO return 'try again' error (impossible)");
            }
            flags |= PgoFlags::PGO_SYNCIO;
            if flags.contains(PgoFlags::PGO_FREE) {
                pp.clear_flags(PgFlags::PG_RELEASED);
            }
        };
        if result == PagerResult::VM_PAGER_AGAIN {
            // fixed-2: another thread holds the vnode lock. Let the page
            // go, wait for the lock holding nothing, and look again: the
            // holder may be a truncate waiting for this very page.
            for &(_, ptmp) in &cluster {
                ptmp.clear_flags(PgFlags::PG_RELEASED);
                uvm_page_unbusy(ptmp);
            }
            uvn.vmobjlock.rw_exit();
            if vn_lock(vp, LkFlags::LK_EXCLUSIVE).is_ok() {
                vop_unlock(vp);
            }
            uvn.vmobjlock.rw_enter_write();
            continue;
        }
        for (cidx, ptmp) in cluster {
            uvm_page_unbusy(ptmp);
            ptmp.set_flags(PgFlags::PG_CLEAN | PgFlags::PG_CLEANCHK);
            if !flags.contains(PgoFlags::PGO_FREE) {
                pmap_clear_modify(ptmp);
            }
            if flags.contains(PgoFlags::PGO_DEACTIVATE) {
                if ptmp.wire_count.load(Ordering::Relaxed) == 0 {
                    pmap_page_protect(ptmp, Prot::NONE);
                    uvm_pagedeactivate(ptmp);
                }
            } else if flags.contains(PgoFlags::PGO_FREE) {
                if result != PagerResult::VM_PAGER_OK {
                    crate::printf!("uvn_flush: vnode {}, page {cidx}: error during pageout; changes to the page may be lost\n", vp.v_id);
                    retval = false;
                }
                ptmp.clear_flags(PgFlags::PG_RELEASED);
                uvn_pagefree(uvn, cidx, ptmp);
            }
        }
        idx += 1;
    }
    if need_iosync {
        while uvn.with(|u| u.u_nio) != 0 {
            uvn.locked(|u| u.u_flags |= UvnFlags::UVM_VNODE_IOSYNC);
            rwsleep(uvn.wchan_nio(), &uvn.vmobjlock, "uvn_flush");
        }
        let wanted = uvn.locked(|u| {
            let w = u.u_flags.contains(UvnFlags::UVM_VNODE_IOSYNCWANTED);
            u.u_flags -= UvnFlags::UVM_VNODE_IOSYNC | UvnFlags::UVM_VNODE_IOSYNCWANTED;
            w
        });
        if wanted {
            wakeup(uvn.wchan_flags());
        }
    }
    vh(vp, Vh::FlushDone, retval as u32, 0);
    retval
}

/// The pager's put (OpenBSD uvn_put), the object lock held; per
/// `uvn.policy`. 1.131 takes vget(LK_NOWAIT) unless the object is dying
/// and calls vrele after the I/O with the object lock still held, as
/// OpenBSD does. fixed-2 also answers "try again" for a dying object
/// whose vnode lock another thread holds (VNISLOCKED: vclean's thread
/// writes those pages itself), takes the vnode's lock with its use
/// (vget(LK_NOWAIT | LK_EXCLUSIVE)), and lets the object lock go around
/// its vput.
#[inline(never)]
pub fn uvn_put(vp: &'static Vnode, pages: &[(u32, &'static VmPage)], flags: PgoFlags) -> PagerResult {
    let uvn = &vp.v_uvm;
    uvn.assert_locked();
    let r = uvn_put_1(vp, pages, flags);
    vh(vp, Vh::UvnPut, 0, r as u32);
    r
}

fn uvn_put_1(vp: &'static Vnode, pages: &[(u32, &'static VmPage)], flags: PgoFlags) -> PagerResult {
    let uvn = &vp.v_uvm;
    if !uvn_put_takes_vget() {
        return uvn_io(vp, pages, flags, true);
    }
    let f = uvn.flags();
    let dying = f.contains(UvnFlags::UVM_VNODE_DYING);
    if dying && uvn_dying_writes_need_vnlock() && f.contains(UvnFlags::UVM_VNODE_VNISLOCKED) && !vp.v_lock.rw_write_held() {
        return PagerResult::VM_PAGER_AGAIN;
    }
    // A thread that holds the vnode's lock (a writer's flush) has a use of
    // its own; only the use is taken then.
    let vnlock = !dying && uvn_put_takes_vnlock() && !vp.v_lock.rw_write_held();
    let lk = if vnlock { LkFlags::LK_NOWAIT | LkFlags::LK_EXCLUSIVE } else { LkFlags::LK_NOWAIT };
    if !dying && vget(vp, lk).is_err() {
        return PagerResult::VM_PAGER_AGAIN;
    }
    let r = uvn_io(vp, pages, flags, true);
    if !dying {
        // Gives back what vget took: the lock too if it took one.
        let release = if vnlock { vput } else { vrele };
        if uvn_put_vrele_unlocked() {
            // The last reference goes to VOP_INACTIVE, which may truncate
            // an unlinked file and take this object's lock again.
            uvn.vmobjlock.rw_exit();
            release(vp);
            uvn.vmobjlock.rw_enter_write();
        } else {
            release(vp);
        }
    }
    r
}

/// Moves pages to or from the file through VOP_READ/VOP_WRITE (OpenBSD
/// uvn_io), called and returning with the object lock held, which it lets
/// go across the I/O. An asynchronous caller (no PGO_SYNCIO) gets "try
/// again" while another thread drains the object's I/O (IOSYNC); a
/// synchronous one waits ("uvn_iosync"). The vnode is locked unless the
/// caller holds it (VNISLOCKED), sleeping for it if need be. Under the
/// vget-diff policy the I/O first takes vget(LK_NOWAIT), and EBUSY is "try
/// again"; every other failure is VM_PAGER_ERROR.
#[inline(never)]
pub fn uvn_io(vp: &'static Vnode, pages: &[(u32, &'static VmPage)], flags: PgoFlags, write: bool) -> PagerResult {
    let uvn = &vp.v_uvm;
    uvn.assert_locked();
    let _w = vh_working(vp);
    vh(vp, Vh::UvnIo, pages[0].0, write as u32);
    let r = uvn_io_1(vp, pages, flags, write);
    vh(vp, Vh::UvnIoDone, 0, r as u32);
    r
}

fn uvn_io_1(vp: &'static Vnode, pages: &[(u32, &'static VmPage)], flags: PgoFlags, write: bool) -> PagerResult {
    let uvn = &vp.v_uvm;
    while uvn.flags().contains(UvnFlags::UVM_VNODE_IOSYNC) {
        if !flags.contains(PgoFlags::PGO_SYNCIO) {
            return PagerResult::VM_PAGER_AGAIN;
        }
        uvn.locked(|u| u.u_flags |= UvnFlags::UVM_VNODE_IOSYNCWANTED);
        rwsleep(uvn.wchan_flags(), &uvn.vmobjlock, "uvn_iosync");
    }
    let (first, size) = (pages[0].0 as u64 * PAGE_SIZE as u64, uvn.with(|u| u.u_size));
    if first >= size {
        return PagerResult::VM_PAGER_BAD;
    }
    let win = uvm_pagermapin();
    if win.is_none() && !flags.contains(PgoFlags::PGO_SYNCIO) {
        return PagerResult::VM_PAGER_AGAIN;
    }
    // fixed-2: whether this thread holds the vnode lock, not whether some
    // thread does (VNISLOCKED), and never a sleep for it: see
    // uvn_io_never_sleeps_for_vnlock.
    let vnislocked = uvn.locked(|u| {
        u.u_nio += 1;
        if uvn_io_never_sleeps_for_vnlock() {
            vp.v_lock.rw_write_held()
        } else {
            u.u_flags.contains(UvnFlags::UVM_VNODE_VNISLOCKED)
        }
    });
    uvn.vmobjlock.rw_exit();
    let mut win = match win {
        Some(w) => w,
        None => uvm_pagermapin_wait(),
    };
    let nowait = flags.contains(PgoFlags::PGO_NOWAIT) || uvn_io_never_sleeps_for_vnlock();
    // The pagedaemon's writes are not kept in the buffer cache.
    let wflag = write.then(|| if flags.contains(PgoFlags::PGO_PDFREECLUST) { IoFlags::IO_NOCACHE } else { IoFlags::empty() });
    let result = if uvn_io_takes_vget() {
        match vget(vp, LkFlags::LK_NOWAIT) {
            Ok(()) => {
                let r = uvn_io_vnode(vp, pages, size, vnislocked, nowait, wflag, &mut win);
                vrele(vp);
                r
            }
            Err(e) => Err(e),
        }
    } else {
        uvn_io_vnode(vp, pages, size, vnislocked, nowait, wflag, &mut win)
    };
    uvm_pagermapout(win);
    uvn.vmobjlock.rw_enter_write();
    let wake = uvn.locked(|u| {
        u.u_nio -= 1;
        u.u_nio == 0 && u.u_flags.contains(UvnFlags::UVM_VNODE_IOSYNC)
    });
    if wake {
        wakeup(uvn.wchan_nio());
    }
    match result {
        Ok(()) => PagerResult::VM_PAGER_OK,
        Err(Errno::EBUSY) => PagerResult::VM_PAGER_AGAIN,
        Err(_) => PagerResult::VM_PAGER_ERROR,
    }
}

/// uvn_io's transfer, no object lock held: the vnode locked (unless
/// VNISLOCKED), the pages' bytes up to the object's size written with one
/// VOP_WRITE, or read with VOP_READ and the rest zeroed.
fn uvn_io_vnode(
    vp: &'static Vnode,
    pages: &[(u32, &'static VmPage)],
    size: u64,
    vnislocked: bool,
    nowait: bool,
    write: Option<IoFlags>,
    win: &mut PagerWindow,
) -> Result<(), Errno> {
    // The kernel lock around the vnode's lock and I/O (uvm_vnode.c:1238,
    // :1254@2ea167a2): a fault comes here without it.
    with_kernel_lock(|| uvn_io_vnode_locked(vp, pages, size, vnislocked, nowait, write, win))
}

fn uvn_io_vnode_locked(
    vp: &'static Vnode,
    pages: &[(u32, &'static VmPage)],
    size: u64,
    vnislocked: bool,
    nowait: bool,
    write: Option<IoFlags>,
    win: &mut PagerWindow,
) -> Result<(), Errno> {
    if !vnislocked {
        vn_lock(vp, if nowait { LkFlags::LK_EXCLUSIVE | LkFlags::LK_NOWAIT } else { LkFlags::LK_EXCLUSIVE })?;
    }
    let off = pages[0].0 as u64 * PAGE_SIZE as u64;
    let wanted = ((pages.len() as u64 * PAGE_SIZE as u64).min(size - off)) as usize;
    let buf = &mut win[..pages.len() * PAGE_SIZE as usize];
    buf.fill(0);
    let r = if let Some(ioflag) = write {
        for (k, &(_, pg)) in pages.iter().enumerate() {
            uvm_page_read(pg, 0, &mut buf[k * PAGE_SIZE as usize..(k + 1) * PAGE_SIZE as usize]);
        }
        let mark = uvn_pager_write_is_marked();
        if mark {
            vp.v_uvm.with(|u| u.u_flags |= UvnFlags::UVM_VNODE_PAGERIO);
        }
        let r = VOP_WRITE(vp, off, &buf[..wanted], ioflag);
        if mark {
            vp.v_uvm.with(|u| u.u_flags -= UvnFlags::UVM_VNODE_PAGERIO);
        }
        r.and_then(|n| if wanted > 0 && n == 0 { Err(Errno::EIO) } else { Ok(()) })
    } else {
        let mut got = 0;
        let r = loop {
            match VOP_READ(vp, off + got as u64, &mut buf[got..wanted]) {
                Ok(0) => break Ok(()),
                Ok(n) => got += n,
                Err(e) => break Err(e),
            }
            if got == wanted {
                break Ok(());
            }
        };
        let r = r.and(if wanted > 0 && got == 0 { Err(Errno::EIO) } else { Ok(()) });
        for (k, &(_, pg)) in pages.iter().enumerate() {
            uvm_page_write(pg, 0, &buf[k * PAGE_SIZE as usize..(k + 1) * PAGE_SIZE as usize]);
        }
        r
    };
    if !vnislocked {
        vop_unlock(vp);
    }
    r
}

/// Page `idx` of the file, read in if the object lacks it (OpenBSD
/// uvn_get, one page). The page comes back clean and not busy, on the
/// active queue. As in OpenBSD since uvm_vnode.c 1.116, the read passes
/// PGO_SYNCIO|PGO_NOWAIT: uvn_io only tries for the vnode lock, and when
/// another thread holds it the new page is freed and the answer is
/// `EAGAIN` (VM_PAGER_AGAIN), which uvm_fault turns into a short sleep
/// ("fltagain2") and a new fault. Waiting for the lock with the page busy
/// would deadlock against a truncate that holds the lock and waits for
/// the page (doc/findings.md, F6).
pub fn uvn_get(vp: &'static Vnode, idx: u32) -> Result<&'static VmPage, Errno> {
    let uvn = &vp.v_uvm;
    let mut waited = false;
    loop {
        uvn.vmobjlock.rw_enter_write();
        if let Some(pg) = uvn.with(|u| u.pages.get(&idx).copied()) {
            if pg.flags().contains(PgFlags::PG_BUSY) {
                uvm_pagewait(pg, Some(&uvn.vmobjlock), "uvn_get");
                continue;
            }
            uvn.vmobjlock.rw_exit();
            return Ok(pg);
        }
        if idx as u64 * PAGE_SIZE as u64 >= uvn.with(|u| u.u_size) {
            uvn.vmobjlock.rw_exit();
            return Err(Errno::EINVAL);
        }
        let Some(pg) = uvm_pagealloc(Pga::User) else {
            // With the object lock held, as OpenBSD's uvn_get (the fault's
            // lock, uvm_vnode.c:1039-1046@2ea167a2): meanwhile the
            // pagedaemon's try-lock passes this file's pages by.
            uvm_wait("uvn_getpage");
            uvn.vmobjlock.rw_exit();
            waited = true;
            continue;
        };
        if waited {
            crate::diag::deadlock::memwait_end();
        }
        uvm_pagezero(pg);
        pg.set_flags(PgFlags::PG_BUSY | PgFlags::PG_FAKE);
        crate::uvm::uvm_page::uvm_page_own(pg);
        pg.set_owner(vp.v_id, idx);
        uvn.locked(|u| u.pages.insert(idx, pg));
        let r = uvn_io(vp, &[(idx, pg)], PgoFlags::PGO_SYNCIO | PgoFlags::PGO_NOWAIT, false);
        pg.clear_flags(PgFlags::PG_FAKE);
        pg.set_flags(PgFlags::PG_CLEAN);
        pmap_clear_modify(pg);
        uvm_page_unbusy(pg);
        if r != PagerResult::VM_PAGER_OK {
            uvn_pagefree(uvn, idx, pg);
            uvn.vmobjlock.rw_exit();
            return Err(if r == PagerResult::VM_PAGER_AGAIN { Errno::EAGAIN } else { Errno::EIO });
        }
        uvm_pageactivate(pg);
        uvn.vmobjlock.rw_exit();
        return Ok(pg);
    }
}

/// uvn_get until it gives something other than "try again", sleeping
/// 5 ms between tries as uvm_fault does ("fltagain2"): for kernel callers
/// that fault a page in without a process (the self-tests).
pub fn uvn_get_retry(vp: &'static Vnode, idx: u32) -> Result<&'static VmPage, Errno> {
    loop {
        match uvn_get(vp, idx) {
            Err(Errno::EAGAIN) => crate::uvm::uvm_map::uvm_fault_again_sleep(),
            r => return r,
        }
    }
}
