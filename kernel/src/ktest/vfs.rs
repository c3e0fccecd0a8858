//! Self-tests of the vnode layer with a small file system of its own
//! ("ktestfs") whose reclaim sleeps, so the VXLOCK windows are real.

use crate::kern::kern_clock::ticks;
use crate::kern::kern_kthread::kthread_create;
use crate::kern::kern_synch::tsleep;
use crate::kern::vfs_lookup::namei_lookup;
use crate::kern::vfs_subr::{self, getnewvnode, vdrop, vget, vgonel, vhold, vn_lock, vop_unlock, vput, vref, vrele, Vnode};
use crate::ktest::proc::{KTest, TestResult};
use crate::sys::errno::Errno;
use crate::sys::syscalls::{O_CREAT, O_WRONLY};
use crate::sys::vnode::{LkFlags, VType, VnodeOps};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, Ordering};

pub const SUITE: &[KTest] = &[
    ("vnode_recycle", test_vnode_recycle),
    ("vnode_vxlock", test_vnode_vxlock),
    ("vnode_hold", test_vnode_hold),
    ("deadlock_report_vtable_locked", test_deadlock_report_vtable_locked),
    ("vfs_namei_read", test_vfs_namei_read),
    ("vfs_namei_symlinks", test_vfs_namei_symlinks),
    ("ffs_read_ahead", test_ffs_read_ahead),
    ("ffs_truncate_keeps_buffers", test_ffs_truncate_keeps_buffers),
    ("vfs_create_concurrent", test_vfs_create_concurrent),
    ("vfs_rename_backoff", test_vfs_rename_backoff),
    ("vfs_lookup_waits_for_lock", test_vfs_lookup_waits_for_lock),
];

static INACTIVE: AtomicU32 = AtomicU32::new(0);
static RECLAIM: AtomicU32 = AtomicU32::new(0);
/// Ticks VOP_RECLAIM sleeps.
static RECLAIM_SLEEP: AtomicU32 = AtomicU32::new(0);

struct KtestFs;

impl VnodeOps for KtestFs {
    fn name(&self) -> &'static str {
        "ktestfs"
    }
    fn vop_inactive(&self, vp: &'static Vnode) -> Result<(), Errno> {
        INACTIVE.fetch_add(1, Ordering::Relaxed);
        vop_unlock(vp);
        Ok(())
    }
    fn vop_reclaim(&self, vp: &'static Vnode) -> Result<(), Errno> {
        RECLAIM.fetch_add(1, Ordering::Relaxed);
        let n = RECLAIM_SLEEP.load(Ordering::Relaxed);
        if n > 0 {
            let _ = tsleep(vp as *const Vnode as usize + 1, "ktreclm", n);
        }
        Ok(())
    }
}

static KTESTFS: KtestFs = KtestFs;

/// Runs `f` with an empty free list (earlier tests' vnodes taken and held)
/// and room for `spare` more vnodes.
fn with_spare_vnodes(spare: u32, f: impl FnOnce() -> TestResult) -> TestResult {
    super::empty_bufcache()?;
    let (n, _, _) = vfs_subr::vnode_counts();
    let old = vfs_subr::vfs_setmaxvnodes(n);
    let mut taken = alloc::vec::Vec::new();
    while vfs_subr::vnode_counts().1 > 0 {
        match getnewvnode(&KTESTFS) {
            Ok(vp) => taken.push(vp),
            Err(_) => break,
        }
    }
    vfs_subr::vfs_setmaxvnodes(n + spare);
    let r = f();
    vfs_subr::vfs_setmaxvnodes(old);
    taken.into_iter().for_each(vrele);
    r
}

fn new_vnode() -> Result<&'static Vnode, alloc::string::String> {
    let vp = getnewvnode(&KTESTFS).map_err(|e| alloc::format!("getnewvnode: {e}"))?;
    vp.with(|v| v.v_type = VType::VREG);
    Ok(vp)
}

fn test_vnode_recycle() -> TestResult {
    with_spare_vnodes(3, || {
        let (i0, r0) = (INACTIVE.load(Ordering::Relaxed), RECLAIM.load(Ordering::Relaxed));
        let a = new_vnode()?;
        let b = new_vnode()?;
        let c = new_vnode()?;
        vref(b);
        vrele(b);
        check!(b.with(|v| v.v_usecount) == 1, "vref/vrele changed the count");
        vrele(a);
        vrele(b);
        check!(INACTIVE.load(Ordering::Relaxed) == i0 + 2, "the last vrele did not make the vnode inactive");
        check!(vfs_subr::vnode_counts().1 >= 2, "released vnodes are not on the free list");
        let e = new_vnode()?;
        let f = new_vnode()?;
        check!(core::ptr::eq(e, a) && core::ptr::eq(f, b), "getnewvnode did not recycle the free list from its head");
        check!(RECLAIM.load(Ordering::Relaxed) == r0 + 2, "recycling two vnodes reclaimed {} times", RECLAIM.load(Ordering::Relaxed) - r0);
        // No free vnode left: OpenBSD's getnewvnode allocates past
        // kern.maxvnodes rather than fail.
        let before = vfs_subr::vnode_counts().0;
        let g = new_vnode()?;
        let grew = vfs_subr::vnode_counts().0 == before + 1;
        for vp in [c, e, f, g] {
            vrele(vp);
        }
        check!(grew, "with an empty free list getnewvnode did not allocate past kern.maxvnodes");
        Ok(())
    })
}

/// While vgonel's reclaim sleeps, vget and vn_lock must fail the way
/// OpenBSD's do: EBUSY for vget(LK_NOWAIT), ENOENT after sleeping otherwise.
fn test_vnode_vxlock() -> TestResult {
    let vp = new_vnode()?;
    vrele(vp);
    RECLAIM_SLEEP.store(5, Ordering::Relaxed);
    let done = Arc::new(AtomicU32::new(0));
    let d = done.clone();
    kthread_create("ktvgone", move || {
        vgonel(vp);
        d.store(ticks(), Ordering::Relaxed);
    })
    .ok_or("no memory for a thread")?;
    let _ = tsleep(test_vnode_vxlock as fn() -> TestResult as usize, "ktyield", 1);
    let nowait = vget(vp, LkFlags::LK_NOWAIT);
    let lock_nowait = vn_lock(vp, LkFlags::LK_EXCLUSIVE | LkFlags::LK_NOWAIT);
    let after_lock = ticks();
    let wait = vget(vp, LkFlags::empty());
    let cleaned_at = done.load(Ordering::Relaxed);
    RECLAIM_SLEEP.store(0, Ordering::Relaxed);
    check!(nowait == Err(Errno::EBUSY), "vget(LK_NOWAIT) on a vnode under VXLOCK gave {nowait:?}");
    check!(lock_nowait == Err(Errno::ENOENT), "vn_lock(LK_NOWAIT) under VXLOCK gave {lock_nowait:?}");
    check!(cleaned_at != 0 && cleaned_at <= after_lock, "vn_lock returned before vclean finished");
    check!(wait.is_ok(), "vget after the vnode was cleaned gave {wait:?}");
    check!(vp.with(|v| v.v_type) == VType::VBAD, "vgonel did not mark the vnode VBAD");
    vrele(vp);
    Ok(())
}

/// Takes vnodes until the table is full (ENFILE); they come from the free
/// list once maxvnodes is reached.
/// An unreferenced vnode with a hold sits on the hold list; with the free
/// list empty, getnewvnode takes it every other call (its toggle) and
/// allocates a new vnode on the others, as OpenBSD's does.
fn test_vnode_hold() -> TestResult {
    with_spare_vnodes(1, || {
        let a = new_vnode()?;
        vhold(a);
        vrele(a);
        let on_hold = vfs_subr::vnode_counts().2 >= 1;
        let before = vfs_subr::vnode_counts().0;
        let x = new_vnode()?;
        let y = new_vnode()?;
        let took_held = [x, y].iter().filter(|&&v| core::ptr::eq(v, a)).count();
        let grew = vfs_subr::vnode_counts().0 - before;
        vrele(x);
        vrele(y);
        vdrop(a);
        check!(on_hold, "an unreferenced vnode with a hold is not on the hold list");
        check!(took_held == 1 && grew == 1, "two getnewvnode calls took the held vnode {took_held} times and made {grew} new vnodes; expected 1 and 1");
        let b = new_vnode()?;
        vn_lock(b, LkFlags::LK_EXCLUSIVE).map_err(|e| alloc::format!("vn_lock: {e}"))?;
        vput(b);
        Ok(())
    })
}

/// A deadlock report prints a sleeper's vnode history even while the vnode
/// table is locked: the self-wait check reports from the clock interrupt,
/// and the thread it interrupted may hold the table (a `race-head` boot
/// once printed no history for the pagedaemon's vnode).
fn test_deadlock_report_vtable_locked() -> TestResult {
    with_spare_vnodes(1, || {
        let vp = new_vnode()?;
        let vid = vp.v_id;
        vref(vp);
        vrele(vp);
        let mut out = alloc::string::String::new();
        vfs_subr::vtable_locked(|| crate::diag::deadlock::report_vnode(&mut out, vid));
        vrele(vp);
        check!(out.contains(&alloc::format!("end of vnode {vid} history")), "no history of vnode {vid} under the locked table: {out}");
        check!(out.contains("state not shown: the vnode table is locked"), "the report did not say why the state is missing: {out}");
        check!(out.lines().any(|l| l.contains(" deadlock")), "the history lacks the report's deadlock event: {out}");
        Ok(())
    })
}

/// The root file system through the vnode layer: namei, the inode hash,
/// VOP_READ through the buffer cache, and lookup errors.
fn test_vfs_namei_read() -> TestResult {
    let vp = namei_lookup("/etc/motd").map_err(|e| alloc::format!("namei /etc/motd: {e}"))?;
    let mut buf = [0u8; 64];
    let n = vp.op().vop_read(vp, 0, &mut buf);
    let again = namei_lookup("/etc/../etc/./motd");
    let same = again.as_ref().is_ok_and(|&v| core::ptr::eq(v, vp));
    if let Ok(v) = again {
        vrele(v);
    }
    let kind = vp.with(|v| v.v_type);
    vrele(vp);
    let n = n.map_err(|e| alloc::format!("VOP_READ: {e}"))?;
    check!(buf[..n].starts_with(b"ppcbsd"), "/etc/motd read through the VFS starts {:?}", &buf[..n.min(16)]);
    check!(kind == VType::VREG, "/etc/motd has type {kind:?}");
    check!(same, "a second namei of the same file gave another vnode (inode hash)");
    check!(namei_lookup("/no/such").err() == Some(Errno::ENOENT), "namei of a missing path did not give ENOENT");
    check!(namei_lookup("/etc/motd/x").err() == Some(Errno::ENOTDIR), "namei through a file did not give ENOTDIR");
    let root = namei_lookup("/").map_err(|e| alloc::format!("namei /: {e}"))?;
    let dir = root.with(|v| v.v_type);
    let up = namei_lookup("/..");
    let up_is_root = up.as_ref().is_ok_and(|&v| core::ptr::eq(v, root));
    if let Ok(v) = up {
        vrele(v);
    }
    vrele(root);
    check!(dir == VType::VDIR, "/ has type {dir:?}");
    check!(up_is_root, "namei of /.. did not give the root");
    Ok(())
}

/// A sequential read reads ahead (bread_cluster): 32 blocks of /bsd read
/// 16 KiB at a time take a few rd transfers (the missed block, then up to
/// 64 KiB after it in one), not one per block.
fn test_ffs_read_ahead() -> TestResult {
    let vp = namei_lookup("/bsd").map_err(|e| alloc::format!("namei /bsd: {e}"))?;
    let bsize = crate::ufs::ffs::ffs_vfsops::rootump().fs().map_err(|e| alloc::format!("rootfs: {e}"))?.sb().bsize as usize;
    let blocks = 32;
    let mut buf = alloc::vec![0u8; 16384];
    let (r0, _) = crate::dev::rd::rd_counts();
    let mut got = Ok(0);
    if vn_lock(vp, LkFlags::LK_SHARED).is_ok() {
        // Far into the file, where nothing has read it yet.
        let base = 4 * 1024 * 1024;
        got = (0..blocks * bsize / buf.len()).try_fold(0, |n, k| vp.op().vop_read(vp, (base + k * buf.len()) as u64, &mut buf).map(|m| n + m));
        vop_unlock(vp);
    }
    let transfers = crate::dev::rd::rd_counts().0 - r0;
    vrele(vp);
    let n = got.map_err(|e| alloc::format!("VOP_READ: {e}"))?;
    check!(n == blocks * bsize, "read {n} bytes of {}", blocks * bsize);
    check!(transfers > 0 && transfers <= blocks as u32 / 3, "{transfers} rd transfers for {blocks} blocks read in order");
    Ok(())
}

/// Symbolic links in the image (xtask's image.rs): followed at the end of
/// a path (absolute and relative targets) and in its middle; a loop is
/// ELOOP after MAXSYMLINKS, a link to nothing ENOENT, a trailing slash
/// after a link to a file ENOTDIR; open with O_NOFOLLOW is ELOOP; unlink's
/// DELETE lookup does not follow (it finds the link itself).
fn test_vfs_namei_symlinks() -> TestResult {
    use crate::kern::vfs_lookup::{namei, CnFlags, NameiOp};
    let same = |a: &str, b: &str| -> Result<bool, alloc::string::String> {
        let x = namei_lookup(a).map_err(|e| alloc::format!("namei {a}: {e}"))?;
        let y = namei_lookup(b).map_err(|e| alloc::format!("namei {b}: {e}"))?;
        let eq = core::ptr::eq(x, y);
        vrele(x);
        vrele(y);
        Ok(eq)
    };
    check!(same("/etc/motdlink", "/etc/motd")?, "/etc/motdlink (-> /etc/motd) is another file");
    check!(same("/usr/share/misc/link", "/usr/share/misc/big")?, "/usr/share/misc/link (-> big) is another file");
    check!(same("/usr/share/lnk/big", "/usr/share/misc/big")?, "/usr/share/lnk/big (through lnk -> misc) is another file");
    check!(same("/usr/share/lnk/", "/usr/share/misc")?, "/usr/share/lnk/ is not the directory misc");
    check!(namei_lookup("/usr/share/misc/loop").err() == Some(Errno::ELOOP), "a link to itself did not give ELOOP");
    check!(namei_lookup("/usr/share/misc/dangling").err() == Some(Errno::ENOENT), "a link to nothing did not give ENOENT");
    check!(namei_lookup("/usr/share/misc/link/").err() == Some(Errno::ENOTDIR), "a trailing slash after a link to a file did not give ENOTDIR");
    let r = crate::kern::vfs_vnops::vn_open("/etc/motdlink", crate::sys::syscalls::O_RDONLY | crate::sys::syscalls::O_NOFOLLOW, 0);
    check!(r.err() == Some(Errno::ELOOP), "open(O_NOFOLLOW) of a link did not give ELOOP");
    let nd = namei("/etc/motdlink", NameiOp::DELETE, CnFlags::LOCKPARENT | CnFlags::LOCKLEAF).map_err(|e| alloc::format!("namei DELETE: {e}"))?;
    let kind = nd.ni_vp.map(|v| v.with(|v| v.v_type));
    nd.release(CnFlags::LOCKPARENT | CnFlags::LOCKLEAF);
    check!(kind == Some(VType::VLNK), "a DELETE lookup of a link found {kind:?}, not the link");
    Ok(())
}

/// ffs_truncate as 1.81: a truncate to the same size returns at once, and
/// a growing file returns before vinvalbuf, so the file's cached buffers
/// stay; a shrink drops them all.
fn test_ffs_truncate_keeps_buffers() -> TestResult {
    use crate::kern::vfs_bio::incore;
    use crate::kern::vfs_vnops::{vn_close, vn_open, vn_rdwr, Uio};
    use crate::kern::vfs_vops::VOP_SETATTR_SIZE;
    use crate::sys::syscalls::O_RDWR;
    let bsize = crate::ufs::ffs::ffs_vfsops::rootump().fs().map_err(|e| alloc::format!("rootfs: {e}"))?.sb().bsize as u64;
    let vp = vn_open("/trunc-keep", O_CREAT | O_RDWR, 0o644).map_err(|e| alloc::format!("create: {e}"))?;
    let n = vn_rdwr(vp, Uio::Write(&alloc::vec![7u8; 2 * bsize as usize]), 0);
    let mut cached = alloc::vec::Vec::new();
    let r = vn_lock(vp, LkFlags::LK_EXCLUSIVE).map(|()| {
        for len in [2 * bsize, 3 * bsize, bsize] {
            let r = VOP_SETATTR_SIZE(vp, len);
            cached.push((len, r, incore(vp.v_id, 0), incore(vp.v_id, 1)));
        }
        vop_unlock(vp);
    });
    vn_close(vp, O_RDWR);
    check!(n == Ok(2 * bsize as usize) && r.is_ok(), "write {n:?}, vn_lock {r:?}");
    for (len, r, b0, b1) in cached {
        check!(r.is_ok(), "truncate to {len}: {r:?}");
        let want = len >= 2 * bsize;
        check!(b0 == want && b1 == want, "after the truncate to {len} bytes blocks 0 and 1 are cached: {b0}, {b1} (expected {want})");
    }
    Ok(())
}

/// Creates in different directories do not wait for each other: with
/// /ct1/d locked, a create in it sleeps for the lock while one in /ct2
/// goes through (OpenBSD takes the directories' locks only). The sleeper
/// holds /ct1, its lookup's parent, while it waits, as OpenBSD's lookup
/// does; so /ct1 itself is not the one held here.
fn test_vfs_create_concurrent() -> TestResult {
    use crate::kern::vfs_syscalls::sys_mkdir;
    use crate::kern::vfs_vnops::{vn_close, vn_open};
    static DONE: AtomicU32 = AtomicU32::new(0);
    DONE.store(0, Ordering::Relaxed);
    for d in [&b"/ct1"[..], b"/ct1/d", b"/ct2"] {
        sys_mkdir(d, 0o755).map_err(|e| alloc::format!("mkdir: {e}"))?;
    }
    let d1 = namei_lookup("/ct1/d").map_err(|e| alloc::format!("namei /ct1/d: {e}"))?;
    vn_lock(d1, LkFlags::LK_EXCLUSIVE).map_err(|e| alloc::format!("vn_lock /ct1/d: {e}"))?;
    kthread_create("ktcreate", || {
        let r = vn_open("/ct1/d/a", O_CREAT | O_WRONLY, 0o644);
        if let Ok(vp) = r {
            vn_close(vp, O_WRONLY);
        }
        DONE.store(if r.is_ok() { 1 } else { 2 }, Ordering::Relaxed);
    });
    crate::kern::kern_sched::yield_cpu();
    let waiting = DONE.load(Ordering::Relaxed) == 0;
    let r = vn_open("/ct2/b", O_CREAT | O_WRONLY, 0o644).map(|vp| vn_close(vp, O_WRONLY));
    let other_still_waiting = DONE.load(Ordering::Relaxed) == 0;
    vput(d1);
    let t0 = ticks();
    while DONE.load(Ordering::Relaxed) == 0 && ticks() - t0 < 100 {
        let _ = tsleep(&DONE as *const AtomicU32 as usize, "ktjoin", 1);
    }
    check!(waiting, "the create in /ct1/d did not wait for the directory's lock");
    check!(r.is_ok(), "the create in /ct2 failed: {r:?}");
    check!(other_still_waiting, "the create in /ct2 waited for the one in /ct1/d");
    check!(DONE.load(Ordering::Relaxed) == 1, "the create in /ct1/d ended with {}", DONE.load(Ordering::Relaxed));
    Ok(())
}

/// A rename holds the target's directory and file locked and needs the
/// source's directory; another thread holds that directory (as an unlink's
/// namei does) and waits for the target file. The rename must let go and
/// start again instead of waiting: both finish (with waiting, a deadlock).
fn test_vfs_rename_backoff() -> TestResult {
    use crate::kern::vfs_syscalls::{sys_mkdir, sys_rename};
    use crate::kern::vfs_vnops::{vn_close, vn_open};
    static DONE: AtomicU32 = AtomicU32::new(0);
    DONE.store(0, Ordering::Relaxed);
    for d in [&b"/rb1"[..], b"/rb2"] {
        sys_mkdir(d, 0o755).map_err(|e| alloc::format!("mkdir: {e}"))?;
    }
    for f in ["/rb1/f", "/rb2/t"] {
        let vp = vn_open(f, O_CREAT | O_WRONLY, 0o644).map_err(|e| alloc::format!("create {f}: {e}"))?;
        vn_close(vp, O_WRONLY);
    }
    let src_dir = namei_lookup("/rb1").map_err(|e| alloc::format!("namei /rb1: {e}"))?;
    let target = namei_lookup("/rb2/t").map_err(|e| alloc::format!("namei /rb2/t: {e}"))?;
    crate::ufs::ufs::ufs_vnops::rename_yield_next();
    kthread_create("ktrename", || {
        let r = sys_rename(b"/rb1/f", b"/rb2/t");
        DONE.store(if r.is_ok() { 1 } else { 2 }, Ordering::Relaxed);
    });
    // The rename looks both names up and yields before it takes /rb1,
    // holding /rb2 and /rb2/t; this thread takes /rb1 then.
    crate::kern::kern_sched::yield_cpu();
    vn_lock(src_dir, LkFlags::LK_EXCLUSIVE).map_err(|e| alloc::format!("vn_lock /rb1: {e}"))?;
    crate::kern::kern_sched::yield_cpu();
    let got = vn_lock(target, LkFlags::LK_EXCLUSIVE);
    if got.is_ok() {
        vput(target);
    } else {
        crate::kern::vfs_subr::vrele(target);
    }
    vput(src_dir);
    let t0 = ticks();
    while DONE.load(Ordering::Relaxed) == 0 && ticks() - t0 < 100 {
        let _ = tsleep(&DONE as *const AtomicU32 as usize, "ktjoin", 1);
    }
    check!(got.is_ok(), "the target's lock: {got:?}");
    check!(DONE.load(Ordering::Relaxed) == 1, "the rename ended with {}", DONE.load(Ordering::Relaxed));
    check!(namei_lookup("/rb1/f").is_err(), "the source is still there after the rename");
    Ok(())
}

/// A lookup takes the vnode it finds locked, as OpenBSD's ufs_ihashget
/// does with vget(LK_EXCLUSIVE), then namei lets the lock go: with the
/// file's lock held here, another thread's lookup of it waits (holding
/// its reference) until the lock is let go. The fuzzer's seed 2710036
/// reached a DIAGNOSTIC panic through a lookup that did not wait.
fn test_vfs_lookup_waits_for_lock() -> TestResult {
    static DONE: AtomicU32 = AtomicU32::new(0);
    DONE.store(0, Ordering::Relaxed);
    let vp = namei_lookup("/etc/motd").map_err(|e| alloc::format!("namei /etc/motd: {e}"))?;
    vn_lock(vp, LkFlags::LK_EXCLUSIVE).map_err(|e| alloc::format!("vn_lock: {e}"))?;
    kthread_create("ktlookup", || {
        let r = namei_lookup("/etc/motd");
        if let Ok(v) = r {
            vrele(v);
        }
        DONE.store(if r.is_ok() { 1 } else { 2 }, Ordering::Relaxed);
    });
    let t0 = ticks();
    while ticks() - t0 < 5 {
        let _ = tsleep(&DONE as *const AtomicU32 as usize, "ktwait", 1);
    }
    let waited = DONE.load(Ordering::Relaxed) == 0;
    let refs = vp.with(|v| v.v_usecount);
    vop_unlock(vp);
    let t0 = ticks();
    while DONE.load(Ordering::Relaxed) == 0 && ticks() - t0 < 100 {
        let _ = tsleep(&DONE as *const AtomicU32 as usize, "ktjoin", 1);
    }
    vrele(vp);
    check!(waited, "a lookup of a locked file did not wait for its lock");
    check!(refs == 2, "the waiting lookup held {} references with this thread's (2 expected)", refs);
    check!(DONE.load(Ordering::Relaxed) == 1, "the lookup ended with {}", DONE.load(Ordering::Relaxed));
    Ok(())
}

/// `test=freelist-lockcount`: the last reference to a vnode goes while
/// another thread sleeps in vn_lock for it, the vnode unheld: OpenBSD's
/// DIAGNOSTIC vputonfreelist panics (vfs_subr.c 1.317).
#[inline(never)]
pub fn ktest_freelist_lockcount() {
    let vp = match new_vnode() {
        Ok(vp) => vp,
        Err(e) => panic!("ktest: {e}"),
    };
    if let Err(e) = vn_lock(vp, LkFlags::LK_EXCLUSIVE) {
        panic!("ktest: vn_lock: {e}");
    }
    kthread_create("ktlocker", move || {
        let _ = vn_lock(vp, LkFlags::LK_EXCLUSIVE);
        panic!("ktest: freelist-lockcount: the waiter got the lock");
    });
    crate::kern::kern_sched::yield_cpu();
    crate::printf!("freelist-lockcount: vnode {}: a thread waits in vn_lock; vput of the last reference\n", vp.v_id);
    vput(vp);
    panic!("ktest: freelist-lockcount: vput returned");
}

/// `test=freelist-twice`: a vnode put on the free list twice: OpenBSD's
/// DIAGNOSTIC vputonfreelist panics.
#[inline(never)]
pub fn ktest_freelist_twice() {
    let vp = match new_vnode() {
        Ok(vp) => vp,
        Err(e) => panic!("ktest: {e}"),
    };
    vrele(vp);
    crate::printf!("freelist-twice: vnode {} is on the free list; vputonfreelist again\n", vp.v_id);
    vfs_subr::vputonfreelist(vp);
    panic!("ktest: freelist-twice: vputonfreelist returned");
}

/// `test=rdonly-root` on an image not cleanly unmounted: the root is
/// mounted read-only, so opening for writing, creating and removing are
/// EROFS, and reading works.
pub fn ktest_rdonly_root() {
    use crate::kern::vfs_vnops::{vn_close, vn_open};
    use crate::sys::syscalls::{O_CREAT, O_RDONLY, O_RDWR};
    let run = || -> TestResult {
        check!(vn_open("/etc/motd", O_RDWR, 0).err() == Some(Errno::EROFS), "open(O_RDWR) was not EROFS");
        check!(vn_open("/rdonly-new", O_CREAT | O_RDWR, 0o644).err() == Some(Errno::EROFS), "open(O_CREAT) was not EROFS");
        check!(crate::kern::vfs_syscalls::sys_unlink(b"/etc/hosts").err() == Some(Errno::EROFS), "unlink was not EROFS");
        let vp = vn_open("/etc/motd", O_RDONLY, 0).map_err(|e| alloc::format!("open(O_RDONLY): {e}"))?;
        let mut buf = [0u8; 6];
        let n = crate::kern::vfs_vnops::vn_rdwr(vp, crate::kern::vfs_vnops::Uio::Read(&mut buf), 0);
        vn_close(vp, O_RDONLY);
        check!(n == Ok(6) && &buf == b"ppcbsd", "/etc/motd did not read back: {n:?}");
        Ok(())
    };
    match run() {
        Ok(()) => crate::printf!("rdonly-root: writes EROFS, reads work\n"),
        Err(e) => panic!("ktest: rdonly-root: {e}"),
    }
}

/// `test=vref-panic`: vref on an unreferenced vnode, OpenBSD's first panic
/// from the field.
#[inline(never)]
pub fn ktest_vref_panic() {
    let vp = match getnewvnode(&KTESTFS) {
        Ok(vp) => vp,
        Err(e) => panic!("ktest: getnewvnode: {e}"),
    };
    vrele(vp);
    vref(vp);
}

/// `test=unlocked-vop`: VOP_READDIR on the root directory without its
/// lock, which ASSERT_VP_ISLOCKED turns into a panic.
#[inline(never)]
pub fn ktest_unlocked_vop() {
    let root = match namei_lookup("/") {
        Ok(root) => root,
        Err(e) => panic!("ktest: namei /: {e}"),
    };
    let r = crate::kern::vfs_vops::VOP_READDIR(root, &mut |_, _, _| true);
    panic!("ktest: VOP_READDIR of an unlocked directory returned {r:?}");
}

/// `test=getnewvnode-panic`: open(O_CREAT) of a new file with the next
/// getnewvnode set to panic, to show the create path down to it.
#[inline(never)]
pub fn ktest_getnewvnode_panic() {
    // The root's vnode stays in the inode hash: the lookup needs no new one.
    match namei_lookup("/") {
        Ok(root) => vrele(root),
        Err(e) => panic!("ktest: namei /: {e}"),
    }
    vfs_subr::getnewvnode_panic_next();
    let r = crate::kern::vfs_syscalls::doopenat(0, b"/getnewvnode-panic", O_CREAT | O_WRONLY, 0o644);
    panic!("ktest: open(O_CREAT) returned {r:?} without reaching getnewvnode");
}
