//! Self-tests of physical memory and the pmap: the page allocator run dry
//! and refilled, and mappings, protections and referenced/changed bits
//! observed through real accesses.

use crate::arch::pmap::{self, PMAP_KERNEL};
use crate::arch::trap::{self, TrapFrame, DSISR_NOTRANS, DSISR_PROT, EXC_DSI};
use crate::kern::kern_malloc;
use crate::ktest::proc::{KTest, TestResult};
use crate::uvm::uvm_extern::Prot;
use crate::uvm::uvm_page::{uvm_pagealloc, uvm_pagefree, uvmexp, Pga, VmPage, PAGE_SIZE, RESERVE_KERNEL, RESERVE_PAGEDAEMON};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

pub const SUITE: &[KTest] = &[
    ("uvm_page_exhaust", test_uvm_page_exhaust),
    ("heap_grows", test_heap_grows),
    ("pmap_enter_rc", test_pmap_enter_rc),
    ("pmap_protect_fault", test_pmap_protect_fault),
    ("pmap_htab_overflow", test_pmap_htab_overflow),
    ("pmap_ctx_reuse", test_pmap_ctx_reuse),
    ("pmap_destroy_allocates_nothing", test_pmap_destroy_allocates_nothing),
    ("trace_under_pmap_lock", test_trace_under_pmap_lock),
    ("uvmpd_scan_anon", test_uvmpd_scan_anon),
];

/// Kernel virtual addresses the tests map (segment 14, unused otherwise).
const TEST_VA: u32 = 0xe000_0000;

/// Memory run out by user allocations, then by kernel ones: each stops at
/// its reserve (OpenBSD's uvm_pmr_getpages), and all comes back.
fn test_uvm_page_exhaust() -> TestResult {
    let before = uvmexp();
    let mut got: Vec<&'static VmPage> = Vec::with_capacity(before.free as usize);
    while let Some(pg) = uvm_pagealloc(Pga::User) {
        got.push(pg);
        check!(got.len() <= before.npages as usize, "allocated more pages than exist");
    }
    let user_dry = uvmexp().free;
    while let Some(pg) = uvm_pagealloc(Pga::UseReserve) {
        got.push(pg);
        check!(got.len() <= before.npages as usize, "allocated more pages than exist");
    }
    let dry = uvmexp();
    let n = got.len() as u32;
    for pg in got.drain(..) {
        uvm_pagefree(pg);
    }
    let after = uvmexp();
    check!(user_dry == RESERVE_KERNEL + 1, "user allocations stopped with {user_dry} pages free, not reserve_kernel + 1");
    check!(dry.free == RESERVE_PAGEDAEMON + 1, "kernel allocations stopped with {} pages free, not reserve_pagedaemon + 1", dry.free);
    check!(n == before.free - dry.free, "got {n} pages, {} were free", before.free);
    check!(after.free == before.free, "{} pages free after freeing all, {} before", after.free, before.free);
    let pg = uvm_pagealloc(Pga::User).ok_or("no page after recovery")?;
    uvm_pagefree(pg);
    Ok(())
}

fn test_heap_grows() -> TestResult {
    let grown = kern_malloc::heap_grown();
    let free = uvmexp().free;
    // Until the heap has taken pages (more than it holds free), in 16 KiB
    // pieces (its growth block), each after waiting for room as a system
    // call does: programs' text stays in the page cache, so free pages may
    // come back only as the pagedaemon makes them, and seldom in long runs.
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    let mut i = 0u8;
    while kern_malloc::heap_grown() == grown && pieces.len() < 1024 {
        kern_malloc::kmem_wait(16 * 1024).map_err(|e| alloc::format!("kmem_wait: {e}"))?;
        pieces.push(alloc::vec![0x5a ^ i; 16 * 1024]);
        i = i.wrapping_add(1);
    }
    check!(pieces.iter().enumerate().all(|(i, v)| v.iter().all(|&b| b == 0x5a ^ (i as u8))), "heap memory does not hold its contents");
    check!(kern_malloc::heap_grown() > grown, "16 MiB of allocations did not grow the heap");
    check!(uvmexp().free < free, "the heap grew without taking pages");
    Ok(())
}

fn flags_of(pg: &VmPage) -> (bool, bool) {
    (pmap::pmap_is_referenced(pg), pmap::pmap_is_modified(pg))
}

fn test_pmap_enter_rc() -> TestResult {
    let pg = uvm_pagealloc(Pga::UseReserve).ok_or("no page")?;
    let pa = pg.phys_addr();
    // SAFETY: the page is ours; write its first word through the 1:1 view.
    unsafe { core::ptr::write_volatile(pa as *mut u32, 0x1234_5678) };
    pmap::pmap_enter(PMAP_KERNEL, TEST_VA, pa, Prot::RW, false);
    let r = (|| {
        check!(pmap::pmap_extract(PMAP_KERNEL, TEST_VA + 4) == Some(pa + 4), "pmap_extract disagrees");
        check!(flags_of(pg) == (false, false), "fresh mapping already referenced/modified: {:?}", flags_of(pg));
        // SAFETY: TEST_VA was just mapped to our page.
        let v = unsafe { core::ptr::read_volatile(TEST_VA as *const u32) };
        check!(v == 0x1234_5678, "read {v:#x} through the mapping");
        check!(flags_of(pg) == (true, false), "after a read: (ref, mod) = {:?}", flags_of(pg));
        // SAFETY: as above.
        unsafe { core::ptr::write_volatile((TEST_VA + 8) as *mut u32, 0xfeed) };
        check!(flags_of(pg) == (true, true), "after a write: (ref, mod) = {:?}", flags_of(pg));
        // SAFETY: the 1:1 view of our page.
        check!(unsafe { core::ptr::read_volatile((pa + 8) as *const u32) } == 0xfeed, "write not seen in the page");
        check!(pmap::pmap_clear_modify(pg), "clear_modify: was not modified");
        check!(pmap::pmap_clear_reference(pg), "clear_reference: was not referenced");
        check!(flags_of(pg) == (false, false), "after clearing: {:?}", flags_of(pg));
        // SAFETY: as above.
        let _ = unsafe { core::ptr::read_volatile(TEST_VA as *const u32) };
        check!(flags_of(pg) == (true, false), "a read after clearing: {:?}", flags_of(pg));
        Ok(())
    })();
    pmap::pmap_remove(PMAP_KERNEL, TEST_VA, TEST_VA + PAGE_SIZE);
    uvm_pagefree(pg);
    r?;
    check!(pmap::pmap_extract(PMAP_KERNEL, TEST_VA).is_none(), "mapping survived pmap_remove");
    Ok(())
}

static FAULT_DSISR: AtomicU32 = AtomicU32::new(0);

/// Records a DSI and skips the faulting instruction.
fn catch_dsi(tf: &mut TrapFrame) -> bool {
    if tf.exc != EXC_DSI || tf.dar & !(PAGE_SIZE - 1) != TEST_VA {
        return false;
    }
    FAULT_DSISR.store(tf.dsisr, Ordering::Relaxed);
    tf.srr0 += 4;
    true
}

/// A store to TEST_VA; returns the DSISR of the fault it caused, or 0.
fn probe_store(v: u32) -> u32 {
    FAULT_DSISR.store(0, Ordering::Relaxed);
    // SAFETY: a single store that either lands in our test page or faults
    // and is skipped by catch_dsi.
    unsafe { core::arch::asm!("stw {0}, 0({1})", in(reg) v, in(reg_nonzero) TEST_VA) };
    FAULT_DSISR.load(Ordering::Relaxed)
}

fn test_pmap_protect_fault() -> TestResult {
    let pg = uvm_pagealloc(Pga::UseReserve).ok_or("no page")?;
    let pa = pg.phys_addr();
    pmap::pmap_enter(PMAP_KERNEL, TEST_VA, pa, Prot::RW, false);
    trap::set_trap_hook(Some(catch_dsi));
    let r = (|| {
        check!(probe_store(1) == 0, "store to a RW mapping faulted");
        pmap::pmap_protect(PMAP_KERNEL, TEST_VA, TEST_VA + PAGE_SIZE, Prot::READ);
        let d = probe_store(2);
        check!(d & DSISR_PROT != 0, "store to a read-only mapping: dsisr {d:#x}");
        // SAFETY: the 1:1 view of our page.
        check!(unsafe { core::ptr::read_volatile(pa as *const u32) } == 1, "read-only page was written");
        pmap::pmap_page_protect(pg, Prot::NONE);
        let d = probe_store(3);
        check!(d & DSISR_NOTRANS != 0, "store after pmap_page_protect(NONE): dsisr {d:#x}");
        Ok(())
    })();
    trap::set_trap_hook(None);
    pmap::pmap_remove(PMAP_KERNEL, TEST_VA, TEST_VA + PAGE_SIZE);
    uvm_pagefree(pg);
    r
}

/// The i-th of 17 addresses whose hashes all select the same PTE group:
/// page numbers 4096 apart share the hash bits a 4096-group table uses,
/// which gives 16 in segment 14; the 17th is in segment 12, two pages in,
/// since its VSID differs from segment 14's in bit 1.
/// Seventeen free kernel addresses whose pages hash to TEST_VA's pair
/// of PTE groups. The table is sized from memory, so a large one leaves
/// too few: an error saying so.
fn colliding_vas() -> Result<Vec<u32>, alloc::string::String> {
    let vas = pmap::pmap_colliding_kvas(TEST_VA, 17);
    check!(vas.len() == 17, "a table of {} PTE groups leaves {} colliding kernel addresses, not 17 (physmem=32M or less)", pmap::pmap_ptegs(), vas.len());
    Ok(vas)
}

/// Maps 17 pages whose addresses all hash to the same pair of PTE groups
/// (16 slots): one must be evicted, and touching it must bring it back.
fn test_pmap_htab_overflow() -> TestResult {
    const N: u32 = 17;
    let vas = colliding_vas()?;
    let colliding_va = |i: u32| vas[i as usize];
    let mut pgs = Vec::new();
    for i in 0..N {
        let pg = uvm_pagealloc(Pga::UseReserve).ok_or("no page")?;
        // SAFETY: our page, through its 1:1 view.
        unsafe { core::ptr::write_volatile(pg.phys_addr() as *mut u32, 0xa000 + i) };
        pmap::pmap_enter(PMAP_KERNEL, colliding_va(i), pg.phys_addr(), Prot::RW, false);
        pgs.push(pg);
    }
    let ev = pmap::pmap_evictions();
    let mut bad = None;
    for round in 0..2 {
        for i in 0..N {
            // SAFETY: mapped above; an evicted entry is reloaded by pte_spill.
            let v = unsafe { core::ptr::read_volatile((colliding_va(i)) as *const u32) };
            if v != 0xa000 + i && bad.is_none() {
                bad = Some((round, i, v));
            }
        }
    }
    let evicted = pmap::pmap_evictions() - ev;
    for (i, pg) in pgs.into_iter().enumerate() {
        let va = colliding_va(i as u32);
        pmap::pmap_remove(PMAP_KERNEL, va, va + PAGE_SIZE);
        uvm_pagefree(pg);
    }
    check!(bad.is_none(), "page read back wrong (round, page, value) {:?}", bad);
    check!(evicted > 0, "17 colliding mappings caused no eviction");
    Ok(())
}

/// A destroyed pmap's context is used again (it used to be counted up
/// forever and assert at 2^20 after that many processes).
fn test_pmap_ctx_reuse() -> TestResult {
    let a = pmap::pmap_create().ok_or("no context")?;
    let ctx = pmap::pmap_ctx(a);
    pmap::pmap_destroy(a);
    let b = pmap::pmap_create().ok_or("no context")?;
    let again = pmap::pmap_ctx(b);
    let mut many = Vec::new();
    for _ in 0..2000 {
        many.push(pmap::pmap_create().ok_or("no context")?);
    }
    let top = many.iter().map(|&p| pmap::pmap_ctx(p)).max().unwrap_or(0);
    for p in many {
        pmap::pmap_destroy(p);
    }
    let c = pmap::pmap_create().ok_or("no context")?;
    let after = pmap::pmap_ctx(c);
    pmap::pmap_destroy(b);
    pmap::pmap_destroy(c);
    check!(again == ctx, "context {ctx} destroyed, the next pmap got {again}");
    check!(after <= top, "after 2000 pmaps came and went the next got context {after}, above {top}");
    Ok(())
}

/// Tearing down a big address space asks the heap for nothing: a process
/// exits, or a hog gives memory back, exactly when memory is short (a list
/// of the mappings once took 32 KiB at a memory hog's exit and panicked).
fn test_pmap_destroy_allocates_nothing() -> TestResult {
    const N: u32 = 3000;
    let pm = pmap::pmap_create().ok_or("no context")?;
    let pg = uvm_pagealloc(Pga::UseReserve).ok_or("no page")?;
    for i in 0..N {
        pmap::pmap_enter(pm, 0x1000_0000 + i * PAGE_SIZE, pg.phys_addr(), Prot::READ, false);
    }
    let before = kern_malloc::kmem_allocs();
    pmap::pmap_destroy(pm);
    let asked = kern_malloc::kmem_allocs() - before;
    uvm_pagefree(pg);
    check!(asked == 0, "pmap_destroy of {N} mappings asked the heap {asked} times");
    Ok(())
}

/// A stack trace taken with the pmap's lock held (as a panic raised while
/// the heap grows is) still walks a thread's kernel stack: it once printed
/// no frame at all, since checking each frame asked the locked pmap.
fn test_trace_under_pmap_lock() -> TestResult {
    let frames = alloc::sync::Arc::new(AtomicU32::new(u32::MAX));
    let f = frames.clone();
    crate::kern::kern_kthread::kthread_create("kttrace", move || {
        let mut out = alloc::string::String::new();
        let n = pmap::pmap_locked(|| crate::arch::db_trace::db_stack_trace_print(&[], &mut out));
        f.store(n as u32, Ordering::Relaxed);
        crate::kern::kern_synch::wakeup(alloc::sync::Arc::as_ptr(&f) as usize);
    })
    .ok_or("no memory for a thread")?;
    let chan = alloc::sync::Arc::as_ptr(&frames) as usize;
    while frames.load(Ordering::Relaxed) == u32::MAX {
        let _ = crate::kern::kern_synch::tsleep(chan, "kttrace", 10);
    }
    let n = frames.load(Ordering::Relaxed);
    check!(n >= 2, "a trace under the pmap lock, from a kernel thread's stack, printed {n} frames");
    Ok(())
}

/// The pagedaemon and anonymous pages, as uvm_pdaemon.c 1.105: the active
/// scan deactivates them as it does object pages, so that a hog of
/// anonymous memory meets the inactive target; the inactive scan, with no
/// swap to page them out to, puts unreferenced ones back on the active
/// queue and gives up after UVMPD_NUMDIRTYREACTS of them.
fn test_uvmpd_scan_anon() -> TestResult {
    use crate::uvm::uvm_page::{uvm_page_queue, uvm_pageactivate, uvmpd_retune, PQ_ACTIVE, PQ_INACTIVE};
    use crate::uvm::uvm_pdaemon::{uvmpd_scan_active, uvmpd_scan_anon, UVMPD_NUMDIRTYREACTS};
    let e = uvmpd_retune();
    // The target is a third of both queues, at least freetarg + 1: with
    // these pages it exceeds what the queues held before by more than
    // freetarg, so the scan must take anonymous pages.
    let n = 3 * (e.active + e.inactive + e.freetarg + UVMPD_NUMDIRTYREACTS);
    let mut anon = Vec::new();
    while anon.len() < n as usize {
        let Some(pg) = uvm_pagealloc(Pga::UseReserve) else { break };
        // As a process's page once its fault is done (uvm_map's anon_activate).
        uvm_pageactivate(pg);
        pg.clear_flags(crate::uvm::uvm_page::PgFlags::PG_BUSY | crate::uvm::uvm_page::PgFlags::PG_FAKE);
        anon.push(pg);
    }
    let got = anon.len();
    uvmpd_scan_active();
    let after = uvmpd_retune();
    let deact: Vec<&'static VmPage> = anon.iter().copied().filter(|&p| uvm_page_queue(p) == Some(PQ_INACTIVE)).collect();
    let (mut reacts, mut stopped) = (0, None);
    for (i, &pg) in deact.iter().enumerate() {
        if uvmpd_scan_anon(pg, &mut reacts) {
            stopped = Some(i + 1);
            break;
        }
    }
    let back = deact.iter().filter(|&&p| uvm_page_queue(p) == Some(PQ_ACTIVE)).count();
    anon.into_iter().for_each(uvm_pagefree);
    check!(got == n as usize, "only {got} of {n} pages allocated");
    check!(after.inactive >= after.inactarg, "the active scan left {} pages inactive, target {}", after.inactive, after.inactarg);
    check!(deact.len() > UVMPD_NUMDIRTYREACTS as usize, "the active scan deactivated {} anonymous pages", deact.len());
    let want = UVMPD_NUMDIRTYREACTS as usize;
    check!(stopped == Some(want) && back == want, "the inactive scan stopped after {stopped:?} anonymous pages, {back} reactivated; {want} expected");
    Ok(())
}
