//! The vnode layer (OpenBSD vfs_subr.c and vn_lock from vfs_vnops.c):
//! vnodes allocated up to `maxvnodes` and then recycled from the free list,
//! references (`vget`, `vref`, `vrele`, `vput`), holds, and reclaiming
//! (`vgonel` → `vclean`) under VXLOCK, with OpenBSD's semantics exactly,
//! since the race this kernel rebuilds is made of them.

use crate::arch::intr::Ipl;
use crate::diag::uvm_p0::{p0_check, P0Point};
use crate::diag::vfs_hist::{vh, vh_working, Vh};
use crate::kern::kern_mutex::Mutex;
use crate::kern::kern_rwlock::{RwFlags, Rwlock};
use crate::kern::kern_synch::{tsleep, wakeup, wakeup_one, wchan};
use crate::kern::vfs_bio;
use crate::sys::errno::Errno;
use crate::sys::vnode::{LkFlags, VBioFlags, VLFlags, VType, VnodeOps, DOCLOSE};
use crate::uvm::uvm_vnode::{uvm_vnp_terminate, UvmVnode};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use core::sync::atomic::{AtomicBool, Ordering};

/// Vnodes before getnewvnode starts recycling (`kern.maxvnodes`).
pub const MAXVNODES_DEFAULT: u32 = 1024;

/// A vnode's changing state.
///
/// Locks (OpenBSD's vnode.h legend has the kernel lock [K] for most of
/// these; with no kernel lock here, one mutex stands in for it):
///   [s] `Vnode::st`, taken for every access, never held across a sleep;
///   [I] set while the vnode is being made (getnewvnode, the file system's
///       vget) or cleaned out (vclean), when no one else can use it;
///   [l] the vnode lock, `v_lock`, held by whoever changes it.
pub struct VnodeFields {
    /// [s, I]
    pub v_type: VType,
    /// [s]
    pub v_usecount: u32,
    /// [s]
    pub v_holdcnt: u32,
    /// [s]
    pub v_writecount: u32,
    /// Threads inside vn_lock's VOP_LOCK: vclean waits for them to see
    /// VXLOCK before it drains the lock. [s]
    pub v_lockcount: u32,
    /// VXLOCK, VXWANT. [s]
    pub v_lflag: VLFlags,
    /// On the free or hold list. [s]
    pub v_bioflag: VBioFlags,
    /// The thread inside ffs_write, if any (a diagnostic: two at once means
    /// a write without the vnode lock). [s, l]
    pub v_writer: Option<u32>,
    /// [s, I]
    pub v_op: &'static dyn VnodeOps,
    /// The file system's own data (an inode number). [s, I]
    pub v_data: u64,
    /// The logical block the last read ended in (OpenBSD keeps it in the
    /// inode, `i_ci.ci_lastr`): the next block read after it is read with
    /// read-ahead. [s, l]
    pub v_ci_lastr: Option<u64>,
}

/// A vnode (struct vnode). Vnodes are never freed, only recycled.
pub struct Vnode {
    /// Its number, which buffers use to name it. Immutable.
    pub v_id: u32,
    /// The vnode lock (the inode lock of OpenBSD's ufs): serializes the
    /// file's operations (the VOP_* wrappers assert it where OpenBSD does).
    pub v_lock: Rwlock,
    /// The file's pages (v_uvm): locked as UvnFields' legend says.
    pub v_uvm: UvmVnode,
    /// [s] of VnodeFields' legend.
    st: Mutex<VnodeFields>,
}

impl Vnode {
    /// Runs `f` on the vnode's fields.
    pub fn with<R>(&self, f: impl FnOnce(&mut VnodeFields) -> R) -> R {
        f(&mut self.st.lock())
    }

    /// Like `with`, but None if the fields are locked (for the debugger).
    pub fn try_with<R>(&self, f: impl FnOnce(&mut VnodeFields) -> R) -> Option<R> {
        self.st.try_lock().map(|mut g| f(&mut g))
    }

    fn wchan(&'static self) -> usize {
        wchan(self)
    }

    /// &v_lockcount: where vclean waits for vn_lock's threads.
    fn lockcount_wchan(&'static self) -> usize {
        self.st.data_addr() + core::mem::offset_of!(VnodeFields, v_lockcount)
    }

    pub fn op(&self) -> &'static dyn VnodeOps {
        self.with(|v| v.v_op)
    }
}

struct VnodeTable {
    numvnodes: u32,
    maxvnodes: u32,
    /// Unreferenced vnodes, to be recycled from the head.
    free: VecDeque<&'static Vnode>,
    /// Unreferenced vnodes that still have holds (buffers): not recycled.
    hold: VecDeque<&'static Vnode>,
    /// Every vnode, by v_id - 1 (vnodes are never freed).
    all: alloc::vec::Vec<&'static Vnode>,
    /// getnewvnode's turn between the hold list and a new vnode.
    toggle: bool,
}

/// IPL_BIO, as OpenBSD's splbio: a buffer freed by an I/O completion drops
/// its vnode's hold, which may move it between the lists.
static VTABLE: Mutex<VnodeTable> = Mutex::new(
    Ipl::Bio,
    VnodeTable { numvnodes: 0, maxvnodes: MAXVNODES_DEFAULT, free: VecDeque::new(), hold: VecDeque::new(), all: alloc::vec::Vec::new(), toggle: false },
);

/// The operations of a vnode that has been reclaimed: nothing left to do.
struct DeadVnodeOps;

impl VnodeOps for DeadVnodeOps {
    fn name(&self) -> &'static str {
        "dead"
    }
    fn vop_inactive(&self, vp: &'static Vnode) -> Result<(), Errno> {
        vp.v_lock.rw_exit();
        Ok(())
    }
    fn vop_reclaim(&self, _: &'static Vnode) -> Result<(), Errno> {
        Ok(())
    }
    fn vop_lookup(&self, _: &'static Vnode, _: &[u8]) -> Result<&'static Vnode, Errno> {
        Err(Errno::EBADF)
    }
    fn vop_read(&self, _: &'static Vnode, _: u64, _: &mut [u8]) -> Result<usize, Errno> {
        Ok(0)
    }
}

pub static DEAD_VNODEOPS: &dyn VnodeOps = &DeadVnodeOps;

/// Sets `kern.maxvnodes`; returns the old value.
pub fn vfs_setmaxvnodes(n: u32) -> u32 {
    core::mem::replace(&mut VTABLE.lock().maxvnodes, n.max(1))
}

/// The vnode with id `id` (what a page's owner field names).
pub fn vnode_by_id(id: u32) -> Option<&'static Vnode> {
    VTABLE.lock().all.get((id as usize).checked_sub(1)?).copied()
}

/// vnode_by_id for the debugger: None if the table is locked.
pub fn vnode_by_id_try(id: u32) -> Option<&'static Vnode> {
    VTABLE.try_lock()?.all.get((id as usize).checked_sub(1)?).copied()
}

/// Runs `f` with the vnode table locked (a self-test of what a deadlock
/// report must still print under it).
pub fn vtable_locked<R>(f: impl FnOnce() -> R) -> R {
    let _g = VTABLE.lock();
    f()
}

/// (numvnodes, on the free list, on the hold list).
pub fn vnode_counts() -> (u32, usize, usize) {
    let t = VTABLE.lock();
    (t.numvnodes, t.free.len(), t.hold.len())
}

fn is(a: &'static Vnode, b: &'static Vnode) -> bool {
    core::ptr::eq(a, b)
}

/// Set by `test=getnewvnode-panic`: the next getnewvnode panics, so that
/// the trace shows who called it.
static GETNEWVNODE_PANIC: AtomicBool = AtomicBool::new(false);

pub fn getnewvnode_panic_next() {
    GETNEWVNODE_PANIC.store(true, Ordering::Relaxed);
}

/// A vnode for a file system with operations `ops`, referenced once
/// (OpenBSD getnewvnode, vfs_subr.c 1.317). kern.maxvnodes is first raised
/// to the number of buffers if that is larger (never lowered). A new vnode
/// while numvnodes < maxvnodes; else the first unlocked vnode of the free
/// list, or — when that is empty, every other call — of the hold list
/// (vnodes whose buffers still name them), cleaned out with vgonel; else a
/// new one after all. ENFILE when the chosen list has no unlocked vnode.
#[inline(never)]
pub fn getnewvnode(ops: &'static dyn VnodeOps) -> Result<&'static Vnode, Errno> {
    if GETNEWVNODE_PANIC.swap(false, Ordering::Relaxed) {
        panic!("getnewvnode: deliberate panic (test=getnewvnode-panic)");
    }
    let nbufs = vfs_bio::numbufs() as u32;
    let mut t = VTABLE.lock();
    if t.maxvnodes < nbufs {
        t.maxvnodes = nbufs;
        crate::printf!("vfs: kern.maxvnodes raised to {nbufs}, the number of buffers (as OpenBSD's getnewvnode does)\n");
    }
    t.toggle ^= true;
    if t.numvnodes / 2 > t.maxvnodes {
        t.toggle = false;
    }
    let from_hold = t.free.is_empty();
    let fresh = t.numvnodes < t.maxvnodes || (t.free.is_empty() && (t.hold.is_empty() || t.toggle));
    let vp = if fresh {
        t.numvnodes += 1;
        let id = t.numvnodes;
        drop(t);
        let vp: &'static Vnode = Box::leak(Box::new(Vnode {
            v_id: id,
            v_lock: Rwlock::new("vnlock"),
            v_uvm: UvmVnode::new(),
            st: Mutex::new(
                Ipl::Bio,
                VnodeFields {
                    v_type: VType::VNON,
                    v_usecount: 0,
                    v_holdcnt: 0,
                    v_writecount: 0,
                    v_lockcount: 0,
                    v_lflag: VLFlags::empty(),
                    v_writer: None,
                    v_bioflag: VBioFlags::empty(),
                    v_op: DEAD_VNODEOPS,
                    v_data: 0,
                    v_ci_lastr: None,
                },
            ),
        }));
        VTABLE.lock().all.push(vp);
        vh(vp, Vh::Getnewvnode, 0, 0);
        vp
    } else {
        let list = if from_hold { &mut t.hold } else { &mut t.free };
        let pos = list.iter().position(|vp| vp.v_lock.rw_enter(RwFlags::RW_WRITE | RwFlags::RW_NOSLEEP).map(|_| vp.v_lock.rw_exit()).is_ok());
        let Some(pos) = pos else {
            crate::printf!("vnode: table is full - increase kern.maxvnodes\n");
            return Err(Errno::ENFILE);
        };
        let vp = list.remove(pos).expect("position in the list");
        drop(t);
        // Off the list and, below, under VXLOCK with no sleep in between.
        let (bad, usecount) = vp.with(|v| {
            v.v_bioflag -= VBioFlags::VBIOONFREELIST;
            (v.v_type == VType::VBAD, v.v_usecount)
        });
        // OpenBSD's DIAGNOSTIC check (vfs_subr.c:434-438@2ea167a2).
        if usecount != 0 {
            crate::printf!("free vnode: vnode {} has usecount {usecount}\n", vp.v_id);
            crate::uvm::uvm_vnode::uvm_panic_vnode(vp);
            panic!("free vnode isn't");
        }
        vh(vp, Vh::Getnewvnode, if from_hold { 2 } else { 1 }, 0);
        if !bad && crate::diag::uvm_p0::object_persists(vp) {
            crate::diag::uvm_p0::race_count(crate::diag::uvm_p0::RaceCtr::PersistRecycle);
        }
        if !bad {
            let _w = vh_working(vp);
            vgonel(vp);
        }
        vp
    };
    vp.with(|v| {
        v.v_type = VType::VNON;
        v.v_op = ops;
        v.v_data = 0;
        v.v_ci_lastr = None;
        v.v_usecount = 1;
        v.v_writecount = 0;
    });
    Ok(vp)
}

/// Puts an unreferenced vnode on the free list (a VBAD one at the head, to
/// be recycled first), or on the hold list while it has holds. OpenBSD's
/// DIAGNOSTIC checks first (vfs_subr.c 1.317): no references, no thread
/// in vn_lock unless the vnode is held, not on a list already.
pub(crate) fn vputonfreelist(vp: &'static Vnode) {
    let (use_, held, lockcount, bad, on) = vp.with(|v| {
        let on = v.v_bioflag.contains(VBioFlags::VBIOONFREELIST);
        v.v_bioflag |= VBioFlags::VBIOONFREELIST;
        (v.v_usecount, v.v_holdcnt > 0, v.v_lockcount, v.v_type == VType::VBAD, on)
    });
    if use_ != 0 {
        panic!("Use count is not zero!");
    }
    if !held && lockcount != 0 {
        // ppcbsd's own: which vnode, and its history, before OpenBSD's words.
        crate::uvm::uvm_vnode::uvm_panic_vnode(vp);
        panic!("vputonfreelist: lock count is not zero");
    }
    if on {
        panic!("vnode already on free list");
    }
    vh(vp, Vh::Freelist, if held { 2 } else { bad as u32 }, 0);
    let mut t = VTABLE.lock();
    match (held, bad) {
        (true, _) => t.hold.push_back(vp),
        (false, true) => t.free.push_front(vp),
        (false, false) => t.free.push_back(vp),
    }
}

fn remove_from_lists(vp: &'static Vnode) {
    vh(vp, Vh::Offlist, 0, 0);
    vp.with(|v| v.v_bioflag -= VBioFlags::VBIOONFREELIST);
    let mut t = VTABLE.lock();
    t.free.retain(|&x| !is(x, vp));
    t.hold.retain(|&x| !is(x, vp));
}

/// Sleeps until vclean is done with `vp` (VXWANT), for callers that then fail.
fn vxwait(vp: &'static Vnode, wmesg: &'static str) {
    vp.with(|v| v.v_lflag |= VLFlags::VXWANT);
    let _ = tsleep(vp.wchan(), wmesg, 0);
}

/// Takes a reference (OpenBSD vget): fails with EBUSY under LK_NOWAIT, or
/// sleeps and fails with ENOENT, if the vnode is being cleaned out; leaves
/// the free list if this is the first reference; locks if asked to.
pub fn vget(vp: &'static Vnode, flags: LkFlags) -> Result<(), Errno> {
    let _w = vh_working(vp);
    let r = vget_inner(vp, flags);
    vh(vp, Vh::Vget, r.err().map_or(0, |e| e as i32 as u32), flags.bits());
    r
}

fn vget_inner(vp: &'static Vnode, flags: LkFlags) -> Result<(), Errno> {
    if vp.with(|v| v.v_lflag.contains(VLFlags::VXLOCK)) {
        if flags.contains(LkFlags::LK_NOWAIT) {
            return Err(Errno::EBUSY);
        }
        vxwait(vp, "vget");
        return Err(Errno::ENOENT);
    }
    let onfreelist = vp.with(|v| v.v_usecount == 0 && v.v_bioflag.contains(VBioFlags::VBIOONFREELIST));
    if onfreelist {
        remove_from_lists(vp);
    }
    vp.with(|v| v.v_usecount += 1);
    if flags.intersects(LkFlags::LK_SHARED | LkFlags::LK_EXCLUSIVE) {
        if let Err(e) = vn_lock(vp, flags) {
            // Back as it was, without VOP_INACTIVE.
            if vp.with(|v| {
                v.v_usecount -= 1;
                v.v_usecount == 0
            }) && onfreelist
            {
                vputonfreelist(vp);
            }
            return Err(e);
        }
    }
    Ok(())
}

/// Another reference to a vnode already referenced (OpenBSD vref). Not
/// inlined, so its panic's trace names it.
#[inline(never)]
pub fn vref(vp: &'static Vnode) {
    // vfs_subr.c:692@2ea167a2.
    crate::kern::kern_lock::KERNEL_ASSERT_LOCKED();
    let at_zero_ok = crate::uvm::uvm_vnode::vref_allowed_at_zero();
    let was = vp.with(|v| {
        let was = v.v_usecount;
        if was > 0 || at_zero_ok {
            v.v_usecount += 1;
        }
        was
    });
    vh(vp, Vh::Vref, 0, 0);
    if was == 0 && !at_zero_ok {
        crate::uvm::uvm_vnode::uvm_panic_vnode(vp);
        panic!("vref used where vget required");
    }
}

/// Locks a vnode (OpenBSD vn_lock, vfs_vnops.c 1.121). While vclean is at
/// work on it (VXLOCK) it waits for that and fails with ENOENT, even under
/// LK_NOWAIT. Otherwise it counts itself in v_lockcount while it takes the
/// lock, and if VXLOCK was set meanwhile it lets the lock go, wakes vclean
/// if it was the last such thread, and fails with ENOENT. LK_RETRY tries
/// again until it has the lock.
pub fn vn_lock(vp: &'static Vnode, flags: LkFlags) -> Result<(), Errno> {
    loop {
        let err = if vp.with(|v| v.v_lflag.contains(VLFlags::VXLOCK)) {
            vxwait(vp, "vn_lock");
            Errno::ENOENT
        } else {
            vp.with(|v| v.v_lockcount += 1);
            let r = vop_lock(vp, flags);
            let (last, xlocked) = vp.with(|v| {
                v.v_lockcount -= 1;
                (v.v_lockcount == 0, v.v_lflag.contains(VLFlags::VXLOCK))
            });
            match r {
                Ok(()) if !xlocked => return Ok(()),
                Ok(()) => {
                    vop_unlock(vp);
                    if last {
                        wakeup_one(vp.lockcount_wchan());
                    }
                    Errno::ENOENT
                }
                // HEAD (vfs_vnops.c 1.128) wakes vclean after a failed
                // attempt too; 1.121 left it asleep on "vop_lock".
                Err(e) => {
                    if last && xlocked && crate::uvm::uvm_vnode::vfs_as_head() {
                        wakeup_one(vp.lockcount_wchan());
                    }
                    e
                }
            }
        };
        if !flags.contains(LkFlags::LK_RETRY) {
            return Err(err);
        }
    }
}

/// VOP_LOCK: the vnode lock, shared or exclusive; EBUSY under LK_NOWAIT.
fn vop_lock(vp: &'static Vnode, flags: LkFlags) -> Result<(), Errno> {
    let mut rw = if flags.contains(LkFlags::LK_SHARED) { RwFlags::RW_READ } else { RwFlags::RW_WRITE };
    if flags.contains(LkFlags::LK_NOWAIT) {
        rw |= RwFlags::RW_NOSLEEP;
    }
    vp.v_lock.rw_enter(rw)
}

/// VOP_UNLOCK.
pub fn vop_unlock(vp: &'static Vnode) {
    vp.v_lock.rw_exit();
}

/// Drops a reference; the last one locks the vnode, makes it inactive and
/// puts it on the free list (OpenBSD vrele).
#[track_caller]
pub fn vrele(vp: &'static Vnode) {
    let left = drop_ref(vp);
    vh(vp, Vh::Vrele, 0, 0);
    if left > 0 {
        return;
    }
    let _w = vh_working(vp);
    p0_check(vp, P0Point::Vrele);
    // Being cleaned out: vclean puts it on the list when done.
    if vn_lock(vp, LkFlags::LK_EXCLUSIVE).is_err() {
        return;
    }
    inactive(vp);
}

/// Like vrele for a vnode the caller has locked (OpenBSD vput).
#[track_caller]
pub fn vput(vp: &'static Vnode) {
    let left = drop_ref(vp);
    vh(vp, Vh::Vput, 0, 0);
    let _w = vh_working(vp);
    if left > 0 {
        vop_unlock(vp);
        return;
    }
    inactive(vp);
}

#[track_caller]
fn drop_ref(vp: &'static Vnode) -> u32 {
    vp.with(|v| {
        if v.v_usecount == 0 {
            panic!("vrele: bad ref count (vnode {})", vp.v_id);
        }
        v.v_usecount -= 1;
        v.v_usecount
    })
}

/// VOP_INACTIVE on a locked, unreferenced vnode, then onto the free list
/// unless someone took a reference while it slept.
fn inactive(vp: &'static Vnode) {
    let _ = crate::kern::vfs_vops::VOP_INACTIVE(vp);
    // Another thread's vget and vput while vrele slept for the lock may
    // have put it there (vfs_subr.c:818, :828@2ea167a2).
    if vp.with(|v| v.v_usecount == 0 && !v.v_bioflag.contains(VBioFlags::VBIOONFREELIST)) {
        vputonfreelist(vp);
        p0_check(vp, P0Point::Vputonfreelist);
    }
}

/// A hold keeps an unreferenced vnode from being recycled (its buffers
/// name it).
pub fn vhold(vp: &'static Vnode) {
    let move_it = vp.with(|v| {
        v.v_holdcnt += 1;
        v.v_holdcnt == 1 && v.v_usecount == 0 && v.v_bioflag.contains(VBioFlags::VBIOONFREELIST)
    });
    if move_it {
        vh(vp, Vh::Freelist, 2, 0);
        let mut t = VTABLE.lock();
        t.free.retain(|&x| !is(x, vp));
        t.hold.push_back(vp);
    }
}

pub fn vdrop(vp: &'static Vnode) {
    let move_it = vp.with(|v| {
        assert!(v.v_holdcnt > 0, "vdrop: zero holdcnt (vnode {})", vp.v_id);
        v.v_holdcnt -= 1;
        v.v_holdcnt == 0 && v.v_usecount == 0 && v.v_bioflag.contains(VBioFlags::VBIOONFREELIST)
    });
    if move_it {
        vh(vp, Vh::Freelist, 0, 0);
        let mut t = VTABLE.lock();
        t.hold.retain(|&x| !is(x, vp));
        t.free.push_back(vp);
    }
}

/// Cleans a vnode out for reuse (OpenBSD vclean): VXLOCK first, before
/// anything can sleep; then drain the lock, terminate its pages' object
/// (uvm_vnp_terminate writes the dirty ones), write and drop its buffers,
/// make it inactive if it was in use, VOP_RECLAIM, dead operations, and
/// wake whoever waited for VXLOCK to clear.
#[inline(never)]
pub fn vclean(vp: &'static Vnode, flags: u32) {
    let (active, waiters) = vp.with(|v| {
        let active = v.v_usecount > 0;
        if active {
            v.v_usecount += 1;
        }
        if v.v_lflag.contains(VLFlags::VXLOCK) {
            panic!("vclean: deadlock (vnode {})", vp.v_id);
        }
        v.v_lflag |= VLFlags::VXLOCK;
        (active, v.v_lockcount > 0)
    });
    let _w = vh_working(vp);
    vh(vp, Vh::Vclean, 0, 0);
    if waiters {
        let _ = tsleep(vp.lockcount_wchan(), "vop_lock", 0);
        assert!(vp.with(|v| v.v_lockcount) == 0, "vclean: vnode {}: vn_lock waiters left", vp.v_id);
    }
    let _ = vop_lock(vp, LkFlags::LK_EXCLUSIVE | LkFlags::LK_DRAIN);
    uvm_vnp_terminate(vp);
    if let Err(e) = vfs_bio::vinvalbuf(vp, true) {
        crate::printf!("vclean: vnode {}: writing its buffers: {e}\n", vp.v_id);
        // HEAD (vfs_subr.c 1.334) then throws them away.
        if crate::uvm::uvm_vnode::vfs_as_head() {
            let _ = vfs_bio::vinvalbuf(vp, false);
        }
    }
    let op = vp.op();
    if active && flags & DOCLOSE != 0 {
        let _ = crate::kern::vfs_vops::VOP_INACTIVE(vp);
    } else {
        vop_unlock(vp);
    }
    if let Err(e) = op.vop_reclaim(vp) {
        panic!("vclean: cannot reclaim vnode {}: {e}", vp.v_id);
    }
    if active {
        let now = vp.with(|v| {
            v.v_usecount -= 1;
            v.v_usecount
        });
        if now == 0 {
            if vp.with(|v| v.v_holdcnt) > 0 {
                panic!("vclean: not clean");
            }
            vputonfreelist(vp);
        }
    }
    let wanted = vp.with(|v| {
        v.v_op = DEAD_VNODEOPS;
        v.v_data = 0;
        let wanted = v.v_lflag.contains(VLFlags::VXWANT);
        v.v_lflag -= VLFlags::VXLOCK | VLFlags::VXWANT;
        wanted
    });
    vh(vp, Vh::VcleanDone, 0, 0);
    if wanted {
        wakeup(vp.wchan());
    }
}

/// Reclaims a vnode and marks it VBAD (OpenBSD vgonel); if someone else is
/// already cleaning it, waits for them instead.
#[inline(never)]
pub fn vgonel(vp: &'static Vnode) {
    let _w = vh_working(vp);
    vh(vp, Vh::Vgonel, 0, 0);
    if vp.with(|v| v.v_lflag.contains(VLFlags::VXLOCK)) {
        vxwait(vp, "vgone");
        return;
    }
    vclean(vp, DOCLOSE);
    let to_head = vp.with(|v| {
        v.v_type = VType::VBAD;
        v.v_usecount == 0 && v.v_holdcnt == 0 && v.v_bioflag.contains(VBioFlags::VBIOONFREELIST)
    });
    if to_head {
        let mut t = VTABLE.lock();
        t.free.retain(|&x| !is(x, vp));
        t.free.push_front(vp);
    }
}

/// Reclaims an unreferenced vnode now rather than when it is reused
/// (OpenBSD vrecycle; ufs_inactive uses it for a freed inode). True if it
/// did.
pub fn vrecycle(vp: &'static Vnode) -> bool {
    if vp.with(|v| v.v_usecount) != 0 {
        return false;
    }
    vgonel(vp);
    true
}

/// Syncs and unmounts the file system before a halt (OpenBSD
/// vfs_shutdown).
pub fn vfs_shutdown() {
    // As OpenBSD's: sync (the pages of mapped files too), then unmount.
    if let Err(e) = crate::kern::vfs_syscalls::sys_sync() {
        crate::printf!("vfs_shutdown: sync: {e}\n");
    }
    crate::kern::vfs_init::vfs_unmountall();
}

/// ddb: the vnode an argument names: `0x…` its address, else its number.
pub fn db_vnode_arg(arg: &str) -> Option<&'static Vnode> {
    let t = VTABLE.try_lock()?;
    match arg.strip_prefix("0x") {
        Some(hex) => {
            let a = usize::from_str_radix(hex, 16).ok()?;
            t.all.iter().copied().find(|vp| core::ptr::eq(*vp, a as *const Vnode))
        }
        None => t.all.get(arg.parse::<usize>().ok()?.checked_sub(1)?).copied(),
    }
}

/// Where an unreferenced vnode waits: "free list", "hold list" or "-".
fn db_onlist(v: &VnodeFields) -> &'static str {
    match (v.v_bioflag.contains(VBioFlags::VBIOONFREELIST), v.v_holdcnt > 0) {
        (false, _) => "-",
        (true, false) => "free list",
        (true, true) => "hold list",
    }
}

/// ddb `show vnode [/f] ADDR|N`, in OpenBSD vfs_vnode_print's shape (the
/// tag from the operations, no mount: ppcbsd has one file system), and
/// with `/f` the vnode's clean and dirty buffers.
pub fn vfs_vnode_print(out: &mut dyn core::fmt::Write, vp: &'static Vnode, full: bool) {
    let Some((t, use_, hold, wr, lc, lf, op, data, list)) =
        vp.try_with(|v| (v.v_type, v.v_usecount, v.v_holdcnt, v.v_writecount, v.v_lockcount, v.v_lflag, v.v_op.name(), v.v_data, db_onlist(v)))
    else {
        let _ = writeln!(out, "vnode {} at {:p}: fields locked", vp.v_id, vp);
        return;
    };
    let tag = match op {
        "ffs" => "VT_UFS",
        _ => "VT_NON",
    };
    let _ = writeln!(out, "vnode {} at {:p}\ntag {tag} type {t:?}({}) ops {op}", vp.v_id, vp, t as u32);
    let _ = writeln!(out, "data {data:#x} usecount {use_} writecount {wr} holdcnt {hold} lockcount {lc}");
    let _ = writeln!(
        out,
        "lflag {}{} lock {} on {list}",
        if lf.contains(VLFlags::VXLOCK) { "VXLOCK " } else { "" },
        if lf.contains(VLFlags::VXWANT) {
            "VXWANT"
        } else if lf.contains(VLFlags::VXLOCK) {
            ""
        } else {
            "-"
        },
        vp.v_lock.rw_status()
    );
    if !full {
        return;
    }
    match vfs_bio::db_bufs_of(vp.v_id) {
        Some(bufs) => {
            for (title, dirty) in [("clean bufs:", false), ("dirty bufs:", true)] {
                let _ = writeln!(out, "{title}");
                for &(n, _) in bufs.iter().filter(|b| b.1 == dirty) {
                    let _ = writeln!(out, " bp {n}");
                    vfs_bio::vfs_buf_print(out, n);
                }
            }
        }
        None => {
            let _ = writeln!(out, "(buffer cache locked)");
        }
    }
}

/// ddb `show all vnodes [/f]`: a line per vnode with its object; `/f`
/// keeps only the unreferenced vnodes whose object persists (VALID, no
/// references), marking P0 where such an object has a dirty page.
pub fn db_show_all_vnodes(out: &mut dyn core::fmt::Write, persisting: bool) {
    let Some(all) = VTABLE.try_lock().map(|t| t.all.clone()) else {
        let _ = writeln!(out, "vnode table locked");
        return;
    };
    let mut shown = 0;
    for vp in all {
        let Some((t, use_, hold, list)) = vp.try_with(|v| (v.v_type, v.v_usecount, v.v_holdcnt, db_onlist(v))) else {
            let _ = writeln!(out, "vnode {} {:p}: fields locked", vp.v_id, vp);
            continue;
        };
        let obj = vp.v_uvm.try_with(|u| (u.u_flags, u.uo_refs, u.pages.values().copied().collect::<alloc::vec::Vec<_>>()));
        let (valid, refs, npages, dirty) = match &obj {
            Some((f, refs, pages)) => (
                f.contains(crate::uvm::uvm_vnode::UvnFlags::UVM_VNODE_VALID),
                *refs,
                pages.len(),
                pages.iter().filter(|p| crate::ddb::db_uvm::db_page_dirty(p) == Some(true)).count(),
            ),
            None => (false, 0, 0, 0),
        };
        let persists = valid && refs == 0 && use_ == 0;
        if persisting && !persists {
            continue;
        }
        shown += 1;
        let _ = write!(out, "vnode {} {:p}: {t:?} usecount {use_} holdcnt {hold} {list}", vp.v_id, vp);
        match obj {
            Some((f, ..)) if valid => {
                let _ = write!(out, "; object ");
                let mut any = false;
                for (n, _) in f.iter_names() {
                    let _ = write!(out, "{}{}", if any { "|" } else { "" }, n.trim_start_matches("UVM_VNODE_"));
                    any = true;
                }
                let _ = write!(out, " refs {refs} npages {npages} dirty {dirty}");
                if persists && dirty > 0 {
                    let _ = write!(out, " P0");
                }
            }
            None => {
                let _ = write!(out, "; object locked");
            }
            _ => {}
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "{shown} vnodes{}", if persisting { " on the lists with persisting objects" } else { "" });
}
