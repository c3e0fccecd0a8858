//! Self-tests of the vnode pager (uvm/uvm_vnode.rs): an object that
//! persists with a dirty page after its last user, and what becomes of the
//! page when the file is written (uvm_vnp_uncache) or its vnode recycled
//! (uvm_vnp_terminate from vclean). The dirty page is made here by writing
//! to the page directly, standing in for a store through a shared mapping.

use crate::arch::pmap::pmap_page_protect;
use crate::kern::kern_descrip::fdrelease;
use crate::kern::kern_kthread::kthread_create;
use crate::kern::kern_sched::yield_cpu;
use crate::kern::vfs_lookup::namei_lookup;
use crate::kern::vfs_subr::vn_lock;
use crate::kern::vfs_subr::{vfs_setmaxvnodes, vnode_counts, Vnode};
use crate::kern::vfs_syscalls::doopenat;
use crate::kern::vfs_vnops::{vn_close, vn_open, vn_rdwr, Uio};
use crate::ktest::proc::{KTest, TestResult};
use crate::sys::syscalls::{O_CREAT, O_RDWR, O_WRONLY};
use crate::sys::vnode::LkFlags;
use crate::uvm::uvm_extern::Prot;
use crate::uvm::uvm_page::{uvm_page_write, uvm_pagealloc, uvm_pagefree, uvmexp, PgFlags, Pga, PAGE_SIZE};
use crate::uvm::uvm_pager::{uvm_pager_put, PgoFlags};
use crate::uvm::uvm_vnode::{uvm_vnp_setsize, uvn_attach, uvn_detach, uvn_get, uvn_get_retry, UvnFlags};
use alloc::format;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

pub const SUITE: &[KTest] = &[
    ("uvn_persist_then_write", test_uvn_persist_then_write),
    ("uvn_terminate_on_recycle", test_uvn_terminate_on_recycle),
    ("uvn_pageout_nocache", test_uvn_pageout_nocache),
];

const PG: usize = PAGE_SIZE as usize;

fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

/// A new file of `len` bytes of `pattern(1, len)`, opened read-write.
fn make_file(path: &str, len: usize) -> Result<&'static Vnode, alloc::string::String> {
    let vp = vn_open(path, O_CREAT | O_RDWR, 0o644).map_err(|e| format!("create {path}: {e}"))?;
    let n = vn_rdwr(vp, Uio::Write(&pattern(1, len)), 0).map_err(|e| format!("write {path}: {e}"))?;
    if n != len {
        return Err(format!("write {path}: {n} of {len} bytes"));
    }
    Ok(vp)
}

/// Attaches the file's object writeable (as a shared writable mapping
/// does), reads its first pages in, and dirties the pages in `dirty` with
/// their own pattern (`with_dirty`).
fn attach_dirty_pages(vp: &'static Vnode, npages: u32, dirty: &[u32]) -> TestResult {
    uvn_attach(vp, true).map_err(|e| format!("uvn_attach: {e}"))?;
    for i in 0..npages {
        uvn_get_retry(vp, i).map_err(|e| format!("uvn_get {i}: {e}"))?;
    }
    for &d in dirty {
        let pg = uvn_get_retry(vp, d).map_err(|e| format!("uvn_get {d}: {e}"))?;
        uvm_page_write(pg, 0, &pattern(9 + d as u8, PG));
        pg.clear_clean(crate::uvm::uvm_page::UncleanSrc::Test);
    }
    Ok(())
}

/// Maps the file's first pages into its object, dirties the pages in
/// `dirty`, and detaches: the object persists with those dirty pages (P0
/// once the vnode is unreferenced).
fn leave_dirty_pages(vp: &'static Vnode, npages: u32, dirty: &[u32]) -> TestResult {
    attach_dirty_pages(vp, npages, dirty)?;
    uvn_detach(vp);
    let (flags, refs, npg) = vp.v_uvm.with(|u| (u.u_flags, u.uo_refs, u.pages.len()));
    check!(
        flags.contains(UvnFlags::UVM_VNODE_VALID | UvnFlags::UVM_VNODE_CANPERSIST) && refs == 0 && npg == npages as usize,
        "after the last detach: flags {flags:?}, {refs} references, {npg} pages; expected a persisting object"
    );
    Ok(())
}

fn leave_dirty_page(vp: &'static Vnode, npages: u32, dirty: u32) -> TestResult {
    leave_dirty_pages(vp, npages, &[dirty])
}

/// What the file should hold after the dirty pages `dirty` reached it:
/// `pattern(1, len)` with each such page's own pattern.
fn with_dirty(len: usize, dirty: &[u32]) -> Vec<u8> {
    let mut want = pattern(1, len);
    for &d in dirty {
        want[d as usize * PG..(d as usize + 1) * PG].copy_from_slice(&pattern(9 + d as u8, PG));
    }
    want
}

/// The file's bytes, read through the VFS.
fn contents(path: &str, len: usize) -> Result<Vec<u8>, alloc::string::String> {
    let vp = namei_lookup(path).map_err(|e| format!("namei {path}: {e}"))?;
    let mut buf = alloc::vec![0u8; len];
    let n = vn_rdwr(vp, Uio::Read(&mut buf), 0);
    crate::kern::vfs_subr::vrele(vp);
    check!(n == Ok(len), "read {path}: {n:?}, {len} bytes expected");
    Ok(buf)
}

/// A write(2) to a file whose object persists kills the object
/// (uvm_vnp_uncache): its dirty page reaches the file first.
fn test_uvn_persist_then_write() -> TestResult {
    let path = "/uvn-persist";
    let vp = make_file(path, 3 * PG)?;
    leave_dirty_page(vp, 3, 1)?;
    let tail = pattern(5, 100);
    let r = vn_rdwr(vp, Uio::Write(&tail), 2 * PG as u64);
    let (flags, npg) = vp.v_uvm.with(|u| (u.u_flags, u.pages.len()));
    vn_close(vp, O_RDWR);
    check!(r == Ok(100), "write after persisting: {r:?}");
    check!(flags.is_empty() && npg == 0, "the write left the object alive: flags {flags:?}, {npg} pages");
    let got = contents(path, 3 * PG)?;
    let mut want = with_dirty(3 * PG, &[1]);
    want[2 * PG..2 * PG + 100].copy_from_slice(&tail);
    check!(got == want, "the file lacks the dirty page's data or the write");
    Ok(())
}

/// Creates files until `vp`, unreferenced on the free list, is recycled
/// (getnewvnode → vgonel → vclean): with every vnode in use, the next
/// creates recycle from the free list, `vp` among the first few. The cache
/// is emptied of clean buffers first: with more buffers than vnodes,
/// getnewvnode would raise kern.maxvnodes instead.
fn recycle(vp: &'static Vnode) -> TestResult {
    super::empty_bufcache()?;
    let old = vfs_setmaxvnodes(vnode_counts().0);
    let mut made = 0;
    let recycled = loop {
        if !vp.v_uvm.with(|u| u.u_flags.contains(UvnFlags::UVM_VNODE_VALID)) {
            break true;
        }
        if made > vnode_counts().0 + 4 {
            break false;
        }
        let p = format!("/uvn-recycle-{}-{made}", vp.v_id);
        match doopenat(0, p.as_bytes(), O_CREAT | O_WRONLY, 0o644) {
            Ok(fd) => {
                let _ = fdrelease(0, fd);
            }
            Err(e) => {
                vfs_setmaxvnodes(old);
                return Err(format!("create {p}: {e}"));
            }
        }
        made += 1;
    };
    vfs_setmaxvnodes(old);
    check!(recycled, "{made} creates did not recycle vnode {}", vp.v_id);
    Ok(())
}

/// A persisting object whose vnode is recycled by a create (getnewvnode →
/// vgonel → vclean → uvm_vnp_terminate → uvn_flush): the dirty page is
/// written and the object goes. Under `uvn.policy=vget-diff` this is
/// OpenBSD's second panic instead.
fn test_uvn_terminate_on_recycle() -> TestResult {
    let path = "/uvn-recycle";
    let vp = make_file(path, 2 * PG)?;
    leave_dirty_page(vp, 2, 0)?;
    vn_close(vp, O_RDWR);
    check!(vp.with(|v| v.v_usecount) == 0, "the vnode is still referenced after close");
    recycle(vp)?;
    let npg = vp.v_uvm.with(|u| u.pages.len());
    check!(npg == 0, "the recycled vnode's object kept {npg} pages");
    let got = contents(path, 2 * PG)?;
    check!(got == with_dirty(2 * PG, &[0]), "the file lacks the dirty page written at recycle");
    Ok(())
}

/// What the pagedaemon does to an inactive dirty page: busy it, write
/// protect it and `uvm_pager_put` it with the object locked (it try-locks
/// it), holding no reference on the vnode.
fn pageout_as_pagedaemon(vp: &'static Vnode, pg: &'static crate::uvm::uvm_page::VmPage) -> crate::uvm::uvm_pager::PagerResult {
    pg.set_flags(PgFlags::PG_BUSY);
    crate::uvm::uvm_page::uvm_page_own(pg);
    pmap_page_protect(pg, Prot::READ);
    vp.v_uvm.vmobjlock.rw_enter_write();
    let (r, _) = uvm_pager_put(vp, pg, PgoFlags::PGO_ALLPAGES | PgoFlags::PGO_PDFREECLUST, 0, 0);
    vp.v_uvm.vmobjlock.rw_exit();
    r
}

/// `test=pageout-lastuse rd.latency=10000-30000` (doc/p0-hunt.md, seed
/// 3200254): the pagedaemon pages out a dirty page of an object in use —
/// its vnode referenced by the object, so no P0 yet — and sleeps inside
/// ffs_write (a block read from the slow disk) holding the vnode lock;
/// meanwhile the object's last user detaches: the object persists, and
/// vrele drops the vnode's last use before it waits for that lock. P0 has
/// formed under the pageout. Under `original` the pagedaemon's ffs_write
/// then calls uvm_vnp_uncache, whose vref meets use count 0: panic 1. With
/// `p0.watch=1` the detector halts at the vrele first.
#[inline(never)]
pub fn ktest_pageout_lastuse() {
    let run = || -> TestResult {
        let vp = make_file("/pageout-lastuse", 2 * PG)?;
        attach_dirty_pages(vp, 2, &[0])?;
        vn_close(vp, O_RDWR);
        check!(vp.with(|v| v.v_usecount) == 1, "the object does not hold the vnode's only use");
        // Nothing cached: the pager's ffs_write reads the block from disk.
        super::empty_bufcache()?;
        let pg = uvn_get_retry(vp, 0).map_err(|e| format!("uvn_get: {e}"))?;
        crate::printf!("pageout-lastuse: vnode {}: paging out page 0 while the object is in use (use count 1)\n", vp.v_id);
        kthread_create("pagedaemon", move || {
            let r = pageout_as_pagedaemon(vp, pg);
            crate::printf!("pageout-lastuse: uvm_pager_put returned {r:?}\n");
        })
        .ok_or("cannot start the pagedaemon thread")?;
        // Until the pager holds the vnode lock, asleep in its write.
        let mut waited = 0;
        while !(vp.v_lock.rw_lock_held() && vp.v_uvm.with(|u| u.u_nio) == 1) {
            let _ = crate::kern::kern_synch::tsleep(crate::kern::kern_synch::wchan(vp), "plwait", 1);
            waited += 1;
            check!(waited < 500, "the pager never got inside its write");
        }
        crate::printf!("pageout-lastuse: the pager holds the vnode lock inside its write; the last user detaches\n");
        uvn_detach(vp);
        Ok(())
    };
    if let Err(e) = run() {
        panic!("ktest: pageout-lastuse: {e}");
    }
    // The pager's turn (under original, panic 1); a second at most.
    static DONE: u32 = 0;
    for _ in 0..100 {
        let _ = crate::kern::kern_synch::tsleep(crate::kern::kern_synch::wchan(&DONE), "pldone", 1);
    }
}

/// `test=uvn-pageout`: what the pagedaemon does to a dirty page of a
/// persisting object whose vnode nobody references (P0): busy it and
/// `uvm_pager_put` it, holding no reference. Under `uvn.policy=original`
/// that is OpenBSD's first panic; the other policies answer the open
/// question of `fixed` at this level.
#[inline(never)]
pub fn ktest_uvn_pageout() {
    let run = || -> TestResult {
        let vp = make_file("/uvn-pageout", 2 * PG)?;
        leave_dirty_page(vp, 2, 0)?;
        vn_close(vp, O_RDWR);
        check!(vp.with(|v| v.v_usecount) == 0, "the vnode is still referenced after close");
        let pg = uvn_get_retry(vp, 0).map_err(|e| format!("uvn_get: {e}"))?;
        crate::printf!("uvn-pageout: paging out page 0 of vnode {} (usecount 0) as the pagedaemon does\n", vp.v_id);
        let r = pageout_as_pagedaemon(vp, pg);
        crate::printf!("uvn-pageout: uvm_pager_put returned {r:?}\n");
        Ok(())
    };
    if let Err(e) = run() {
        panic!("ktest: uvn-pageout: {e}");
    }
}

/// `test=direct-map-p0` (doc/p0-hunt.md): the 970's way to P0, made step by
/// step with stock settings. A file page is read in (the pager copies the
/// file into a fresh page through the kernel's 1:1 map: on the 970 through
/// a spilled direct-map entry, whose changed bit the copy sets and
/// pmap_clear_modify cannot see); the object is left persisting, clean and
/// unreferenced, as a program's text is once it has exited; kernel mappings
/// that hash to the direct-map entry's groups are entered until an
/// eviction takes that entry, crediting its changed bit to the page; the
/// pagedaemon's deactivate then clears PG_CLEAN; and the pagedaemon pages
/// it out through a vnode nobody references — under `original`, OpenBSD
/// 1.130's panic. On the G4 the 1:1 map is a BAT: no entry, no credit, and
/// the test says so and halts.
#[inline(never)]
pub fn ktest_direct_map_p0() {
    let run = || -> TestResult {
        // As a read-only mapping of it would, while it is open.
        let vp = make_file("/direct-map-p0", 2 * PG)?;
        uvn_attach(vp, false).map_err(|e| format!("uvn_attach: {e}"))?;
        let pg = uvn_get_retry(vp, 0).map_err(|e| format!("uvn_get: {e}"))?;
        uvn_detach(vp);
        vn_close(vp, O_RDWR);
        let (flags, refs, use_) = (vp.v_uvm.with(|u| u.u_flags), vp.v_uvm.with(|u| u.uo_refs), vp.with(|v| v.v_usecount));
        check!(
            flags.contains(UvnFlags::UVM_VNODE_CANPERSIST) && refs == 0 && use_ == 0,
            "the object does not persist unreferenced: {flags:?}, {refs} refs, usecount {use_}"
        );
        check!(pg.flags().contains(PgFlags::PG_CLEAN) && !crate::arch::pmap::pmap_is_modified(pg), "the page read in is not clean");
        crate::printf!("direct-map-p0: page 0 of vnode {} read in at {:#x}, clean, its object persisting unreferenced\n", vp.v_id, pg.phys_addr());
        let credited = crate::arch::pmap::pmap_evict_direct_probe(pg.phys_addr());
        if !crate::arch::cpu::ppc_proc_is_64b() {
            check!(!credited, "the G4 credited a modified bit to the page");
            crate::printf!("direct-map-p0: no direct-map entry on this CPU (BATs): the page stays clean\n");
            return Ok(());
        }
        check!(credited, "no eviction of the page's direct-map entry credited its changed bit");
        crate::printf!("direct-map-p0: its direct-map entry was evicted, its changed bit credited to the page\n");
        crate::uvm::uvm_page::uvm_pageactivate(pg);
        crate::uvm::uvm_page::uvm_pagedeactivate(pg);
        check!(!pg.flags().contains(PgFlags::PG_CLEAN), "uvm_pagedeactivate left the page clean");
        crate::printf!("direct-map-p0: uvm_pagedeactivate cleared PG_CLEAN: P0\n");
        crate::diag::uvm_p0::p0_check(vp, crate::diag::uvm_p0::P0Point::Pagedaemon);
        let r = pageout_as_pagedaemon(vp, pg);
        crate::printf!("direct-map-p0: uvm_pager_put returned {r:?}\n");
        Ok(())
    };
    if let Err(e) = run() {
        panic!("ktest: direct-map-p0: {e}");
    }
}

/// `test=persistbug`: with the mmap hack off, a write(2) into the block of
/// a file whose object persists with a dirty page in that same block.
/// OpenBSD's ffs_write holds the block's buffer busy across
/// uvm_vnp_uncache, whose flush writes the dirty page through ffs_write
/// again and sleeps in getblk on that buffer: the writer waits for itself
/// (the "persistbug" of uvm_mmap.c's XXXCDC comment) under original,
/// vget-diff and fixed, and the kernel's deadlock report shows it. Under
/// fixed-2 the uncache comes before the buffer is taken: the write
/// returns, and the file holds both the page and the write.
#[inline(never)]
pub fn ktest_persistbug() {
    let run = || -> TestResult {
        let path = "/persistbug";
        let vp = make_file(path, 4 * PG)?;
        leave_dirty_page(vp, 4, 1)?;
        let tail = pattern(5, 100);
        crate::printf!("persistbug: vnode {}: the object persists with page 1 dirty; write(2) of 100 bytes at {PG}, in the same block\n", vp.v_id);
        let r = vn_rdwr(vp, Uio::Write(&tail), PG as u64);
        vn_close(vp, O_RDWR);
        check!(r == Ok(100), "the write gave {r:?}");
        let got = contents(path, 4 * PG)?;
        let mut want = with_dirty(4 * PG, &[1]);
        want[PG..PG + 100].copy_from_slice(&tail);
        check!(got == want, "the file lacks the dirty page's data or the write");
        Ok(())
    };
    match run() {
        Ok(()) => crate::printf!("persistbug: the write returned; the file holds the page and the write\n"),
        Err(e) => panic!("ktest: persistbug: {e}"),
    }
}

/// `test=dying-pageout`: the pagedaemon looks at a dirty page of an object
/// that vclean is terminating (DYING|VNISLOCKED) while vclean's own flush
/// is inside ffs_write for another page of it, asleep on the disk. Pages 0
/// and 2 are dirty, page 1 clean, so the flush writes page 0 alone first;
/// a kernel thread standing in for the pagedaemon waits for that (object
/// dying, page 0 busy) and then scans page 2 as uvmpd_scan_inactive would.
/// Under original and fixed its uvn_put writes page 2 without the vnode
/// lock — vclean's thread holds it — and ffs_write reports two writers
/// inside the inode; under fixed-2 the put answers "try again" and the
/// flush writes page 2 itself. Either way the file is then checked.
#[inline(never)]
pub fn ktest_dying_pageout() {
    let run = || -> TestResult {
        let path = "/dying-pageout";
        let vp = make_file(path, 4 * PG)?;
        leave_dirty_pages(vp, 4, &[0, 2])?;
        vn_close(vp, O_RDWR);
        check!(vp.with(|v| v.v_usecount) == 0, "the vnode is still referenced after close");
        let (p0, p2) = vp.v_uvm.with(|u| (u.pages[&0], u.pages[&2]));
        crate::kern::kern_kthread::kthread_create("pagedaemon", move || {
            for _ in 0..1000 {
                let dying = vp.v_uvm.with(|u| u.u_flags.contains(UvnFlags::UVM_VNODE_DYING));
                if dying && p0.flags().contains(PgFlags::PG_BUSY) {
                    crate::printf!("dying-pageout: vclean is writing page 0; the pagedaemon scans page 2\n");
                    crate::uvm::uvm_pdaemon::uvmpd_scan_page(p2);
                    return;
                }
                let _ = crate::kern::kern_synch::tsleep(crate::kern::kern_synch::wchan(p2), "pdwait", 1);
            }
            crate::printf!("dying-pageout: vclean never wrote page 0\n");
        })
        .ok_or("cannot start the pagedaemon thread")?;
        // Nothing cached, so vclean's write sleeps on rd (for a tick or
        // more: the test boots with rd.latency=10000-30000); and memory
        // short enough that the pagedaemon pages out (free under 4·freetarg).
        crate::kern::vfs_bio::rootvp_invalbuf().map_err(|e| format!("rootvp_invalbuf: {e}"))?;
        let hog = hog_to_pageout();
        let r = recycle(vp);
        hog.into_iter().for_each(uvm_pagefree);
        r?;
        let got = contents(path, 4 * PG)?;
        check!(got == with_dirty(4 * PG, &[0, 2]), "the file lacks a dirty page's data after the recycle");
        Ok(())
    };
    match run() {
        Ok(()) => crate::printf!("dying-pageout: the file holds both dirty pages\n"),
        Err(e) => crate::printf!("dying-pageout: FAILED: {e}\n"),
    }
}

/// `test=fault-truncate`: a page fault meets a truncate that holds the
/// vnode lock (as sys_ftruncate does around dotruncate). OpenBSD's
/// uvn_get reads with PGO_NOWAIT: its uvn_io only tries for the lock, and
/// finding it held frees the new page and answers "try again"; the fault
/// sleeps 5 ms ("fltagain2") and starts over. Meanwhile the truncate's
/// uvm_vnp_setsize frees the pages past the new end with nothing busy to
/// wait for, and returns; the fault, tried again, finds page 2 past the
/// end (EINVAL here; EIO and SIGBUS for a process). Until this model read
/// with PGO_SYNCIO alone, the fault waited for the lock with its page busy
/// and the two deadlocked — a model bug, once taken for OpenBSD's
/// (doc/findings.md, W1). Every policy must return.
#[inline(never)]
pub fn ktest_fault_truncate() {
    static FAULT: AtomicU32 = AtomicU32::new(0);
    static AGAIN: AtomicU32 = AtomicU32::new(0);
    let vp = match make_file("/fault-truncate", 4 * PG) {
        Ok(vp) => vp,
        Err(e) => panic!("ktest: fault-truncate: {e}"),
    };
    if let Err(e) = uvn_attach(vp, false) {
        panic!("ktest: fault-truncate: uvn_attach: {e}");
    }
    if let Err(e) = vn_lock(vp, LkFlags::LK_EXCLUSIVE) {
        panic!("ktest: fault-truncate: vn_lock: {e}");
    }
    crate::printf!("fault-truncate: vnode {}: the truncating thread holds the vnode lock; a fault on page 2 starts\n", vp.v_id);
    kthread_create("ktfault", move || {
        let r = loop {
            match uvn_get(vp, 2) {
                Err(crate::sys::errno::Errno::EAGAIN) => {
                    if AGAIN.fetch_add(1, Ordering::Relaxed) == 0 {
                        crate::printf!("fault-truncate: uvn_get: try again (the vnode lock is held); the fault sleeps in fltagain2\n");
                    }
                    crate::uvm::uvm_map::uvm_fault_again_sleep();
                }
                r => break r,
            }
        };
        FAULT.store(r.err().map_or(1, |e| e as u32 + 2), Ordering::Relaxed);
    });
    yield_cpu();
    let busy = vp.v_uvm.with(|u| u.pages.get(&2).map(|p| p.flags().contains(PgFlags::PG_BUSY)));
    crate::printf!("fault-truncate: page 2 in the object: {busy:?}; truncating to one page\n");
    uvm_vnp_setsize(vp, PG as u64);
    crate::printf!("fault-truncate: the truncate returned\n");
    crate::kern::vfs_subr::vop_unlock(vp);
    while FAULT.load(Ordering::Relaxed) == 0 {
        yield_cpu();
    }
    match FAULT.load(Ordering::Relaxed) {
        1 => panic!("ktest: fault-truncate: the fault got page 2, past the new end"),
        e => crate::printf!("fault-truncate: the fault, tried {} times, ended with errno {}\n", AGAIN.load(Ordering::Relaxed) + 1, e - 2),
    }
    uvn_detach(vp);
    vn_close(vp, O_RDWR);
}

/// The pagedaemon's writes carry IO_NOCACHE (uvn_io with PGO_PDFREECLUST),
/// which ffs_write turns into B_NOCACHE: the block's buffer leaves the
/// cache once written. msync's write of the same block (no PDFREECLUST)
/// keeps it.
fn test_uvn_pageout_nocache() -> TestResult {
    let bsize = crate::ufs::ffs::ffs_vfsops::rootump().fs().map_err(|e| format!("rootfs: {e}"))?.sb().bsize as usize;
    let npages = (bsize / PG) as u32;
    let all: Vec<u32> = (0..npages).collect();
    for (path, pagedaemon) in [("/uvn-nocache-pd", true), ("/uvn-nocache-msync", false)] {
        let vp = make_file(path, bsize)?;
        attach_dirty_pages(vp, npages, &all)?;
        if pagedaemon {
            let pgs: Vec<_> = vp.v_uvm.with(|u| u.pages.values().copied().collect());
            pgs.iter().for_each(|&pg| crate::uvm::uvm_page::uvm_pagedeactivate(pg));
            let hog = hog_to_pageout();
            crate::uvm::uvm_pdaemon::uvmpd_scan_page(vp.v_uvm.with(|u| u.pages[&0]));
            hog.into_iter().for_each(uvm_pagefree);
        } else {
            check!(crate::uvm::uvm_vnode::uvn_msync(vp, 0, bsize as u64, true), "msync failed");
        }
        let dirty = vp.v_uvm.with(|u| u.pages.values().filter(|p| !p.flags().contains(PgFlags::PG_CLEAN)).count());
        // getblk waits for the write in flight; a buffer that left the
        // cache comes back new, without B_DONE, and is dropped again.
        let bp = crate::kern::vfs_bio::getblk(vp.v_id, 0, bsize);
        let kept = crate::kern::vfs_bio::with_buf(bp, |b| {
            let done = b.b_flags.contains(crate::kern::vfs_bio::BFlags::B_DONE);
            if !done {
                b.b_flags |= crate::kern::vfs_bio::BFlags::B_INVAL;
            }
            done
        });
        crate::kern::vfs_bio::brelse(bp);
        uvn_detach(vp);
        vn_close(vp, O_RDWR);
        check!(dirty == 0, "{path}: {dirty} pages still dirty after the write");
        check!(kept != pagedaemon, "{path}: the written block's buffer is {} the cache", if kept { "still in" } else { "gone from" });
    }
    Ok(())
}

/// Memory taken until free pages are under 4·freetarg, so that the
/// pagedaemon's scan pages out (uvmpd_page returns early otherwise).
fn hog_to_pageout() -> Vec<&'static crate::uvm::uvm_page::VmPage> {
    let mut hog = Vec::new();
    while uvmexp().free >= 4 * uvmexp().freetarg {
        match uvm_pagealloc(Pga::UseReserve) {
            Some(pg) => hog.push(pg),
            None => break,
        }
    }
    hog
}

/// A file of 4 pages, its object in use (as by a shared writable
/// mapping) with every page resident and page 2 dirty; the vnode locked by
/// this thread, the truncating one (as sys_ftruncate holds it around
/// VOP_SETATTR).
fn truncate_setup(path: &str) -> Result<&'static Vnode, alloc::string::String> {
    let vp = make_file(path, 4 * PG)?;
    attach_dirty_pages(vp, 4, &[2])?;
    vn_lock(vp, LkFlags::LK_EXCLUSIVE).map_err(|e| format!("vn_lock: {e}"))?;
    Ok(vp)
}

/// The truncate's half of pager-truncate and msync-truncate: shrink to
/// one page with the vnode locked (uvm_vnp_setsize's PGO_FREE flush waits
/// for a busy page), unlock, wait for the other thread, tidy up.
fn truncate_finish(name: &str, vp: &'static Vnode, done: &AtomicU32) {
    crate::printf!("{name}: truncating to one page with the vnode locked\n");
    uvm_vnp_setsize(vp, PG as u64);
    crate::printf!("{name}: the truncate returned\n");
    crate::kern::vfs_subr::vop_unlock(vp);
    while done.load(Ordering::Relaxed) == 0 {
        yield_cpu();
    }
    uvn_detach(vp);
    vn_close(vp, O_RDWR);
}

/// `test=pager-truncate`: the pagedaemon pages out a dirty page of an
/// object in use while a truncate holds the file's vnode lock. OpenBSD's
/// pagedaemon busies the page and calls uvm_pager_put(PGO_ALLPAGES|
/// PGO_PDFREECLUST) with no PGO_NOWAIT, so uvn_io sleeps for the vnode
/// lock with the page busy; the truncate's uvm_vnp_setsize then waits in
/// uvn_flush(PGO_FREE) for that page ("uvn_flsh"): each waits for the
/// other under original, vget-diff and fixed, and the deadlock report
/// follows (doc/findings.md, F6). Stock settings: the mmap hack plays no
/// part and the object is in use (no P0). Under fixed-2 uvn_io only tries
/// for the lock: the pageout answers "try again", the page stays, and the
/// truncate returns.
#[inline(never)]
pub fn ktest_pager_truncate() {
    static DONE: AtomicU32 = AtomicU32::new(0);
    let vp = match truncate_setup("/pager-truncate") {
        Ok(vp) => vp,
        Err(e) => panic!("ktest: pager-truncate: {e}"),
    };
    let p2 = vp.v_uvm.with(|u| u.pages[&2]);
    crate::uvm::uvm_page::uvm_pagedeactivate(p2);
    let hog = hog_to_pageout();
    crate::printf!("pager-truncate: vnode {}: page 2 dirty and inactive; the truncating thread holds the vnode lock; the pagedaemon scans page 2\n", vp.v_id);
    kthread_create("pagedaemon", move || {
        crate::uvm::uvm_pdaemon::uvmpd_scan_page(p2);
        let owned = vp.v_uvm.owns(2, p2);
        crate::printf!("pager-truncate: the pageout returned; page 2 {}\n", if owned { "is still the object's, dirty" } else { "is gone" });
        DONE.store(1, Ordering::Relaxed);
    });
    yield_cpu();
    truncate_finish("pager-truncate", vp, &DONE);
    hog.into_iter().for_each(uvm_pagefree);
}

/// `test=msync-truncate`: msync(2) of a mapped file while a truncate
/// holds its vnode lock. OpenBSD's uvm_map_clean flushes with
/// PGO_CLEANIT|PGO_SYNCIO: uvn_flush busies the dirty page and uvn_io
/// sleeps for the vnode lock; the truncate waits for the page. Deadlock
/// under original, vget-diff and fixed; under fixed-2 the flush lets the
/// page go, waits for the lock holding nothing, and finds page 2 gone.
#[inline(never)]
pub fn ktest_msync_truncate() {
    static DONE: AtomicU32 = AtomicU32::new(0);
    let vp = match truncate_setup("/msync-truncate") {
        Ok(vp) => vp,
        Err(e) => panic!("ktest: msync-truncate: {e}"),
    };
    crate::printf!("msync-truncate: vnode {}: page 2 dirty; the truncating thread holds the vnode lock; msync starts\n", vp.v_id);
    kthread_create("msync", move || {
        let ok = crate::uvm::uvm_vnode::uvn_msync(vp, 0, 4 * PG as u64, true);
        crate::printf!("msync-truncate: msync returned {}\n", if ok { "0" } else { "EIO" });
        DONE.store(1, Ordering::Relaxed);
    });
    yield_cpu();
    truncate_finish("msync-truncate", vp, &DONE);
}

/// `test=sync-freevnode uvn.policy=usecount0 rd.latency=10000-30000`
/// (doc/findings.md F14): two writeable objects persist with dirty pages,
/// their vnodes unreferenced on the free list, and every vnode buffer gone
/// (so the first flush reads its blocks from the slow disk). sync(2)
/// references both with vref — which under usecount0 leaves them on the
/// free list, counted as used — and flushes the first; meanwhile a thread
/// standing in for a create recycles vnodes with getnewvnode from the
/// full table's free list: the first unlocked one is the second object's,
/// and OpenBSD's DIAGNOSTIC check panics "free vnode isn't". Under a
/// policy whose sync does not leave a used vnode there, the test fails.
#[inline(never)]
pub fn ktest_sync_freevnode() {
    let run = || -> TestResult {
        let a = make_file("/sync-fv-a", 8 * PG)?;
        leave_dirty_pages(a, 8, &[0, 2, 4, 6])?;
        vn_close(a, O_RDWR);
        let b = make_file("/sync-fv-b", 2 * PG)?;
        leave_dirty_page(b, 2, 1)?;
        vn_close(b, O_RDWR);
        super::empty_bufcache()?;
        let on_free =
            |vp: &'static Vnode| vp.with(|v| v.v_usecount == 0 && v.v_holdcnt == 0 && v.v_bioflag.contains(crate::sys::vnode::VBioFlags::VBIOONFREELIST));
        check!(on_free(a) && on_free(b), "the two vnodes are not unreferenced on the free list");
        // A full table: every getnewvnode recycles from the free list.
        let (n, _, _) = vnode_counts();
        vfs_setmaxvnodes(n);
        crate::printf!("sync-freevnode: vnodes {} and {} persist dirty on the free list, {n} vnodes, the table full; sync(2)\n", a.v_id, b.v_id);
        kthread_create("recycler", move || {
            // sync's vref: the use count, the vnode still on the list.
            for _ in 0..1000 {
                if b.with(|v| v.v_usecount == 1 && v.v_bioflag.contains(crate::sys::vnode::VBioFlags::VBIOONFREELIST)) {
                    crate::printf!("sync-freevnode: vnode {} used (sync's vref) and on the free list; recycling\n", b.v_id);
                    for _ in 0..n + 8 {
                        match crate::kern::vfs_subr::getnewvnode(crate::kern::vfs_subr::DEAD_VNODEOPS) {
                            Ok(vp) => crate::kern::vfs_subr::vrele(vp),
                            Err(e) => {
                                crate::printf!("sync-freevnode: getnewvnode: {e}\n");
                                return;
                            }
                        }
                    }
                    crate::printf!("sync-freevnode: recycled {} vnodes without meeting a used one\n", n + 8);
                    return;
                }
                let _ = crate::kern::kern_synch::tsleep(crate::kern::kern_synch::wchan(b), "fvwait", 1);
            }
            crate::printf!("sync-freevnode: vnode {} was never used while on the free list\n", b.v_id);
        })
        .ok_or("cannot start the recycler")?;
        crate::kern::vfs_syscalls::sys_sync().map_err(|e| format!("sync: {e}"))?;
        Err(format!("sync returned; vnode {} was never taken from the free list in use", b.v_id))
    };
    if let Err(e) = run() {
        panic!("ktest: sync-freevnode: {e}");
    }
}

/// `test=sync-vref`: sync(2) with a writeable object that persists while
/// its vnode is unreferenced (what every mapwriter round leaves with the
/// mmap hack off). OpenBSD's uvm_vnp_sync takes the vnode reference back
/// with vref: "vref used where vget required" under original, vget-diff
/// and fixed. fixed-2 takes it with vget(LK_NOWAIT): the sync writes the
/// dirty page, and the file holds it.
#[inline(never)]
pub fn ktest_sync_vref() {
    let run = || -> TestResult {
        let path = "/sync-vref";
        let vp = make_file(path, 2 * PG)?;
        leave_dirty_page(vp, 2, 1)?;
        vn_close(vp, O_RDWR);
        check!(vp.with(|v| v.v_usecount) == 0, "the vnode is still referenced after close");
        crate::printf!("sync-vref: vnode {}: a writeable object persists with page 1 dirty, the vnode unreferenced; sync(2)\n", vp.v_id);
        crate::kern::vfs_syscalls::sys_sync().map_err(|e| format!("sync: {e}"))?;
        let dirty = vp.v_uvm.with(|u| u.pages.values().filter(|p| !p.flags().contains(PgFlags::PG_CLEAN)).count());
        check!(dirty == 0, "{dirty} pages still dirty after sync");
        check!(contents(path, 2 * PG)? == with_dirty(2 * PG, &[1]), "the file lacks the page sync wrote");
        Ok(())
    };
    match run() {
        Ok(()) => crate::printf!("sync-vref: sync returned; the file holds the dirty page\n"),
        Err(e) => panic!("ktest: sync-vref: {e}"),
    }
}
