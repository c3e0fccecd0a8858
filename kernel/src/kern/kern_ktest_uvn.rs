//! Self-tests of the vnode pager (uvm/uvm_vnode.rs): an object that
//! persists with a dirty page after its last user, and what becomes of the
//! page when the file is written (uvm_vnp_uncache) or its vnode recycled
//! (uvm_vnp_terminate from vclean). The dirty page is made here by writing
//! to the page directly, standing in for a store through a shared mapping.

use crate::kern::kern_descrip::fdrelease;
use crate::kern::kern_ktest_proc::{KTest, TestResult};
use crate::kern::vfs_lookup::namei_lookup;
use crate::kern::vfs_subr::{vfs_setmaxvnodes, vnode_counts, Vnode};
use crate::kern::vfs_syscalls::doopenat;
use crate::kern::vfs_vnops::{vn_close, vn_open, vn_rdwr, Uio};
use crate::sys::syscalls::{O_CREAT, O_RDWR, O_WRONLY};
use crate::uvm::uvm_page::{uvm_page_write, PgFlags, PAGE_SIZE};
use crate::arch::powerpc::pmap::{pmap_page_protect, Prot};
use crate::uvm::uvm_vnode::{uvm_pager_put, uvn_attach, uvn_detach, uvn_get, PgoFlags, UvnFlags};
use alloc::format;
use alloc::vec::Vec;

pub const SUITE: &[KTest] = &[
    ("uvn_persist_then_write", test_uvn_persist_then_write),
    ("uvn_terminate_on_recycle", test_uvn_terminate_on_recycle),
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

/// Maps the file's first pages into its object, dirties page `dirty`, and
/// detaches: the object persists with that dirty page (P0 once the vnode
/// is unreferenced).
fn leave_dirty_page(vp: &'static Vnode, npages: u32, dirty: u32) -> TestResult {
    uvn_attach(vp, true).map_err(|e| format!("uvn_attach: {e}"))?;
    for i in 0..npages {
        uvn_get(vp, i).map_err(|e| format!("uvn_get {i}: {e}"))?;
    }
    let pg = uvn_get(vp, dirty).map_err(|e| format!("uvn_get {dirty}: {e}"))?;
    uvm_page_write(pg, 0, &pattern(9, PG));
    pg.clear_flags(PgFlags::PG_CLEAN);
    uvn_detach(vp);
    let (flags, refs, npg) = vp.v_uvm.with(|u| (u.u_flags, u.uo_refs, u.pages.len()));
    check!(
        flags.contains(UvnFlags::UVM_VNODE_VALID | UvnFlags::UVM_VNODE_CANPERSIST) && refs == 0 && npg == npages as usize,
        "after the last detach: flags {flags:?}, {refs} references, {npg} pages; expected a persisting object"
    );
    Ok(())
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
    let mut want = pattern(1, 3 * PG);
    want[PG..2 * PG].copy_from_slice(&pattern(9, PG));
    want[2 * PG..2 * PG + 100].copy_from_slice(&tail);
    check!(got == want, "the file lacks the dirty page's data or the write");
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
    // Every vnode in use: the next creates recycle from the free list,
    // ours among the first few (with fewer buffers than vnodes, or
    // getnewvnode raises kern.maxvnodes).
    crate::ufs::ffs::ffs_vfsops::ffs_sync().map_err(|e| format!("ffs_sync: {e}"))?;
    crate::kern::vfs_bio::bufcache_release();
    let old = vfs_setmaxvnodes(vnode_counts().0);
    let mut made = 0;
    let recycled = loop {
        if !vp.v_uvm.with(|u| u.u_flags.contains(UvnFlags::UVM_VNODE_VALID)) {
            break true;
        }
        if made > vnode_counts().0 + 4 {
            break false;
        }
        let p = format!("/uvn-recycle-{made}");
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
    check!(recycled, "{made} creates did not recycle the vnode");
    let npg = vp.v_uvm.with(|u| u.pages.len());
    check!(npg == 0, "the recycled vnode's object kept {npg} pages");
    let got = contents(path, 2 * PG)?;
    let mut want = pattern(1, 2 * PG);
    want[..PG].copy_from_slice(&pattern(9, PG));
    check!(got == want, "the file lacks the dirty page written at recycle");
    Ok(())
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
        let pg = uvn_get(vp, 0).map_err(|e| format!("uvn_get: {e}"))?;
        pg.set_flags(PgFlags::PG_BUSY);
        pmap_page_protect(pg, Prot::READ);
        crate::printf!("uvn-pageout: paging out page 0 of vnode {} (usecount 0) as the pagedaemon does\n", vp.v_id);
        // As the pagedaemon: the object locked (it try-locks it).
        vp.v_uvm.vmobjlock.rw_enter_write();
        let (r, _) = uvm_pager_put(vp, pg, PgoFlags::PGO_ALLPAGES | PgoFlags::PGO_PDFREECLUST, 0, 0);
        vp.v_uvm.vmobjlock.rw_exit();
        crate::printf!("uvn-pageout: uvm_pager_put returned {r:?}\n");
        Ok(())
    };
    if let Err(e) = run() {
        panic!("ktest: uvn-pageout: {e}");
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
        let mut want = pattern(1, 4 * PG);
        want[PG..2 * PG].copy_from_slice(&pattern(9, PG));
        want[PG..PG + 100].copy_from_slice(&tail);
        check!(got == want, "the file lacks the dirty page's data or the write");
        Ok(())
    };
    match run() {
        Ok(()) => crate::printf!("persistbug: the write returned; the file holds the page and the write\n"),
        Err(e) => panic!("ktest: persistbug: {e}"),
    }
}
