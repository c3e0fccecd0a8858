//! In-kernel tests (`test=` bootarg): the self-test suite, which prints one
//! line per test and a closing `N passed, N failed`, and the deliberate
//! panics whose traces the host checks.

/// For the self-tests: fail with a formatted message unless `cond` holds.
macro_rules! check {
    ($cond:expr, $($msg:tt)*) => {
        if !$cond {
            return Err(alloc::format!($($msg)*));
        }
    };
}

pub mod bio;
pub mod proc;
pub mod uvn;
pub mod vfs;
pub mod vm;
pub mod workload;

use crate::arch::trap::{self, TrapFrame, EXC_DSI, EXC_PGM, EXC_SC};
use crate::arch::{clock, cpu, intr};
use crate::ddb::db_sym;
use crate::dev::escc;
use crate::kern::{init_main, kern_clock, kern_malloc};
use crate::printf;
use alloc::format;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};
use kcore::bootargs::{BootArgs, TestSel};
use kcore::random::Rng;

use proc::{KTest, TestResult};

const SUITE: &[KTest] = &[
    ("bootinfo", test_bootinfo),
    ("ksyms", test_ksyms),
    ("heap", test_heap),
    ("heap_short_chunk", test_heap_short_chunk),
    ("memcpy_memset", test_memcpy_memset),
    ("clock", test_clock),
    ("spl_defers_clock", test_spl_defers_clock),
    ("syscall_trap", test_syscall_trap),
    ("program_trap", test_program_trap),
    ("dsi_trap", test_dsi_trap),
    ("openpic_escc_intr", test_openpic_escc_intr),
    ("held_intr_runs_at_splx", test_held_intr_runs_at_splx),
    ("ramdisk_ffs", test_ramdisk_ffs),
];

/// Every self-test, in the order `test=all` runs them.
fn all_tests() -> impl Iterator<Item = &'static KTest> {
    SUITE.iter().chain(vm::SUITE).chain(proc::SUITE).chain(bio::SUITE).chain(vfs::SUITE).chain(uvn::SUITE)
}

pub fn run(sel: TestSel<'_>, args: &BootArgs<'_>) {
    match sel {
        TestSel::All => run_suite(all_tests()),
        TestSel::Panic => ktest_panic_top(),
        TestSel::Fault => ktest_fault_top(),
        TestSel::PanicRandom => ktest_panic_random(args.seed),
        TestSel::Named("panic-recursive") => ktest_panic_recursive(),
        TestSel::Named("stack-overflow") => proc::ktest_stack_overflow(),
        TestSel::Named("deadlock") => proc::ktest_deadlock(),
        TestSel::Named("hang") => proc::ktest_hang(),
        TestSel::Named("rdonly-root") => vfs::ktest_rdonly_root(),
        TestSel::Named("sleep-spl") => proc::ktest_sleep_spl(),
        TestSel::Named("bench") => proc::ktest_bench(),
        TestSel::Named("rd-mark") => bio::ktest_rd_mark(),
        TestSel::Named("rd1-fill") => workload::ktest_rd1_fill(),
        TestSel::Named("rd1-namei") => workload::ktest_rd1_namei(),
        TestSel::Named("vref-panic") => vfs::ktest_vref_panic(),
        TestSel::Named("unlocked-vop") => vfs::ktest_unlocked_vop(),
        TestSel::Named("getnewvnode-panic") => vfs::ktest_getnewvnode_panic(),
        TestSel::Named("freelist-lockcount") => vfs::ktest_freelist_lockcount(),
        TestSel::Named("freelist-twice") => vfs::ktest_freelist_twice(),
        TestSel::Named("uvn-pageout") => uvn::ktest_uvn_pageout(),
        TestSel::Named("pageout-lastuse") => uvn::ktest_pageout_lastuse(),
        TestSel::Named("direct-map-p0") => uvn::ktest_direct_map_p0(),
        TestSel::Named("persistbug") => uvn::ktest_persistbug(),
        TestSel::Named("fault-truncate") => uvn::ktest_fault_truncate(),
        TestSel::Named("dying-pageout") => uvn::ktest_dying_pageout(),
        TestSel::Named("pager-truncate") => uvn::ktest_pager_truncate(),
        TestSel::Named("msync-truncate") => uvn::ktest_msync_truncate(),
        TestSel::Named("sync-vref") => uvn::ktest_sync_vref(),
        TestSel::Named("sync-freevnode") => uvn::ktest_sync_freevnode(),
        TestSel::Named(name) => match all_tests().chain(proc::ALONE).find(|(n, _)| *n == name) {
            Some(t) => run_suite(core::iter::once(t)),
            None => panic!("ktest: no test named '{name}'"),
        },
    }
}

/// Writes every delayed buffer and drops the clean ones: nothing cached,
/// so no buffer holds a vnode off the free list and the next reads go to
/// the disk, and fewer buffers than vnodes (else getnewvnode raises
/// kern.maxvnodes instead of recycling).
fn empty_bufcache() -> TestResult {
    crate::ufs::ffs::ffs_vfsops::ffs_sync(crate::ufs::ffs::ffs_vfsops::rootump()).map_err(|e| format!("ffs_sync: {e}"))?;
    crate::kern::vfs_bio::bufcache_release();
    Ok(())
}

fn run_suite(tests: impl Iterator<Item = &'static KTest>) {
    let (mut passed, mut failed) = (0, 0);
    for (name, f) in tests {
        match f() {
            Ok(()) => {
                passed += 1;
                printf!("test {name} ... ok\n");
            }
            Err(why) => {
                failed += 1;
                printf!("test {name} ... FAILED: {why}\n");
            }
        }
    }
    printf!("{passed} passed, {failed} failed\n");
}

fn test_bootinfo() -> TestResult {
    let bi = init_main::bootinfo();
    let main_addr = db_sym::address_of("main").ok_or("no symbol for main")?;
    check!(bi.kernel.start <= main_addr && (main_addr as u64) < bi.kernel.end(), "main at {main_addr:#x} outside kernel range");
    check!(!bi.kernel.overlaps(&bi.ramdisk), "kernel overlaps ramdisk");
    check!(bi.symtab.size > 0 && bi.strtab.size > 0, "no symbol table handed over");
    check!(bi.memory().iter().map(|m| m.size as u64).sum::<u64>() >= 64 << 20, "less than 64 MB of memory");
    check!(bi.tbfreq > 0, "no timebase frequency");
    Ok(())
}

fn test_ksyms() -> TestResult {
    let f = ktest_panic_top as fn() as usize as u32;
    let (name, off) = db_sym::lookup(f + 8).ok_or("lookup failed")?;
    check!(name.as_str() == "ktest_panic_top" && off == 8, "lookup gave {}+{off:#x}", name);
    check!(db_sym::address_of("ktest_panic_top") == Some(f), "address_of disagrees with the function pointer");
    check!(db_sym::lookup(0x10).is_none(), "address 0x10 has a symbol");
    Ok(())
}

fn test_heap() -> TestResult {
    let before = kern_malloc::heap_free();
    {
        let v: Vec<u32> = (0..10_000).collect();
        check!(v.iter().map(|&x| x as u64).sum::<u64>() == 49_995_000, "wrong sum");
        check!(kern_malloc::heap_free() <= before - 40_000, "allocation not accounted");
    }
    check!(kern_malloc::heap_free() == before, "leaked {} bytes", before - kern_malloc::heap_free());
    Ok(())
}

/// The kernel's memcpy and memset (arch::bcopy) against byte loops, for
/// every length up to 100 and every alignment of source and destination,
/// touching nothing outside the range.
fn test_memcpy_memset() -> TestResult {
    const N: usize = 100;
    let src: Vec<u8> = (0..N + 8).map(|i| (i * 7 + 3) as u8).collect();
    let mut dst = alloc::vec![0u8; N + 16];
    for len in 0..=N {
        for (soff, doff) in (0..4).flat_map(|s| (0..4).map(move |d| (s, d))) {
            dst.fill(0xee);
            // SAFETY: both ranges lie inside their vectors (len + 3 < N + 8).
            unsafe { memcpy(dst.as_mut_ptr().add(doff + 4), src.as_ptr().add(soff), len) };
            for (i, &b) in dst.iter().enumerate() {
                let want = if (doff + 4..doff + 4 + len).contains(&i) { src[soff + i - doff - 4] } else { 0xee };
                check!(core::hint::black_box(b) == want, "memcpy len {len} src+{soff} dst+{doff}: byte {i} is {b:#x}, not {want:#x}");
            }
            dst.fill(0xee);
            // SAFETY: inside `dst`.
            unsafe { memset(dst.as_mut_ptr().add(doff + 4), 0x5a0 + len as i32, len) };
            for (i, &b) in dst.iter().enumerate() {
                let want = if (doff + 4..doff + 4 + len).contains(&i) { (len as u8).wrapping_add(0xa0) } else { 0xee };
                check!(core::hint::black_box(b) == want, "memset len {len} dst+{doff}: byte {i} is {b:#x}, not {want:#x}");
            }
        }
    }
    Ok(())
}

unsafe extern "C" {
    fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8;
    fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8;
}

/// With no run of 64 free pages left (memory fragmented by user pages), a
/// heap that must grow takes a chunk just the allocation's size instead
/// of failing (the fallback that fixed a panic on a 16 KiB read).
fn test_heap_short_chunk() -> TestResult {
    use crate::uvm::uvm_page::{uvm_pagealloc, uvm_pagefree, Pga, PAGE_SIZE};
    let npages = crate::uvm::uvm_page::uvmexp().free as usize;
    let mut held = Vec::with_capacity(npages + 16);
    while let Some(pg) = uvm_pagealloc(Pga::UseReserve) {
        held.push(pg);
    }
    held.sort_by_key(|pg| pg.index());
    // Every fourth page back: free runs of one page, then one run of three.
    let mut kept = Vec::with_capacity(held.len());
    let mut triple = None;
    for (k, pg) in held.iter().enumerate() {
        if k % 4 == 0 {
            uvm_pagefree(pg);
        } else if triple.is_none() && k % 4 == 1 && k + 2 < held.len() && held[k + 2].phys_addr() == pg.phys_addr() + 2 * PAGE_SIZE {
            triple = Some(k);
            uvm_pagefree(pg);
        } else if triple.is_some_and(|t| k == t + 1 || k == t + 2) {
            uvm_pagefree(pg);
        } else {
            kept.push(*pg);
        }
    }
    let grown = kern_malloc::kmem_grow(core::alloc::Layout::from_size_align(8192, 8).unwrap_or(core::alloc::Layout::new::<u8>()));
    for pg in kept {
        uvm_pagefree(pg);
    }
    check!(triple.is_some(), "no three physically adjacent pages to free");
    check!(grown == Some(3), "the heap grew by {grown:?} pages for 8 KiB with only a 3-page run free, not the 3 the fallback takes");
    Ok(())
}

/// Sleeps (naps) until `ticks` has advanced by `n`.
fn wait_ticks(n: u32) {
    let start = kern_clock::ticks();
    while kern_clock::ticks().wrapping_sub(start) < n {
        let on = cpu::intr_disable();
        if kern_clock::ticks().wrapping_sub(start) < n {
            cpu::idle();
        } else {
            cpu::intr_restore(on);
        }
    }
}

fn test_clock() -> TestResult {
    let per = clock::tb_per_tick() as u64;
    wait_ticks(1);
    let tb0 = cpu::mftb();
    wait_ticks(10);
    let dt = cpu::mftb() - tb0;
    check!(dt >= 9 * per && dt <= 11 * per, "10 ticks took {dt} time-base units, expected about {}", 10 * per);
    Ok(())
}

fn test_spl_defers_clock() -> TestResult {
    let per = clock::tb_per_tick() as u64;
    let t0;
    {
        let _s = intr::splclock();
        t0 = kern_clock::ticks();
        let end = cpu::mftb() + 3 * per + per / 2;
        while cpu::mftb() < end {
            core::hint::spin_loop();
        }
        check!(kern_clock::ticks() == t0, "a tick ran at IPL_CLOCK");
    }
    let d = kern_clock::ticks().wrapping_sub(t0);
    check!(d >= 3, "held-back ticks not replayed by splx: {d}");
    Ok(())
}

static HOOK_EXC: AtomicU32 = AtomicU32::new(0);
static HOOK_DAR: AtomicU32 = AtomicU32::new(0);
static HOOK_DSISR: AtomicU32 = AtomicU32::new(0);
const SC_MAGIC: u32 = 0x5ca1_1000;

/// Accepts the traps the tests cause on purpose and steps past them.
fn expected_trap(tf: &mut TrapFrame) -> bool {
    HOOK_EXC.store(tf.exc, Ordering::Relaxed);
    match tf.exc {
        EXC_SC => tf.fixreg[3] = SC_MAGIC | tf.fixreg[0],
        EXC_PGM => tf.srr0 += 4,
        EXC_DSI => {
            HOOK_DAR.store(tf.dar, Ordering::Relaxed);
            HOOK_DSISR.store(tf.dsisr, Ordering::Relaxed);
            tf.srr0 += 4;
        }
        _ => return false,
    }
    true
}

fn with_hook(f: impl FnOnce() -> TestResult) -> TestResult {
    HOOK_EXC.store(0, Ordering::Relaxed);
    trap::set_trap_hook(Some(expected_trap));
    let r = f();
    trap::set_trap_hook(None);
    r
}

fn test_syscall_trap() -> TestResult {
    with_hook(|| {
        let r3: u32;
        // SAFETY: `sc` traps to vector 0xc00, where expected_trap sets r3
        // from r0 and returns past the instruction; no memory is touched.
        unsafe { core::arch::asm!("sc", inout("r0") 7u32 => _, inout("r3") 0u32 => r3) };
        check!(HOOK_EXC.load(Ordering::Relaxed) == EXC_SC, "no system-call trap seen");
        check!(r3 == SC_MAGIC | 7, "r3 after sc is {r3:#x}");
        Ok(())
    })
}

fn test_program_trap() -> TestResult {
    with_hook(|| {
        let mut x = 1u32;
        // SAFETY: `trap` raises a program exception that expected_trap steps over.
        unsafe { core::arch::asm!("trap", "addi {0}, {0}, 1", inout(reg) x) };
        check!(HOOK_EXC.load(Ordering::Relaxed) == EXC_PGM, "no program trap seen");
        check!(x == 2, "execution did not resume after the trap");
        Ok(())
    })
}

/// An address no BAT covers and no PTE maps.
const UNMAPPED: u32 = 0xdead_0000;

fn test_dsi_trap() -> TestResult {
    with_hook(|| {
        // SAFETY: the load faults (no BAT, empty page table) and
        // expected_trap skips it; nothing is read.
        unsafe { core::arch::asm!("lwz {0}, 0({1})", out(reg) _, in(reg_nonzero) UNMAPPED) };
        check!(HOOK_EXC.load(Ordering::Relaxed) == EXC_DSI, "no DSI seen");
        let dar = HOOK_DAR.load(Ordering::Relaxed);
        check!(dar == UNMAPPED, "dar {dar:#x}");
        check!(HOOK_DSISR.load(Ordering::Relaxed) & 0x4000_0000 != 0, "dsisr does not say 'no translation'");
        Ok(())
    })
}

fn test_openpic_escc_intr() -> TestResult {
    let before = (escc::tx_intr_count(), intr::intr_count(escc::ESCC_A_IRQ));
    escc::set_tx_intr(true);
    printf!("openpic: escc0 transmit interrupts on\n");
    wait_ticks(2);
    escc::set_tx_intr(false);
    let tx = escc::tx_intr_count() - before.0;
    let all = intr::intr_count(escc::ESCC_A_IRQ) - before.1;
    check!(tx > 0 && all >= tx, "no transmit interrupt through the OpenPIC (tx {tx}, source {all})");
    Ok(())
}

/// A source that arrives while the level holds it back is taken from the
/// PIC but its handler waits for the splx that drops below its level (the
/// level is kept in software, not in the PIC's task priority).
fn test_held_intr_runs_at_splx() -> TestResult {
    let before = (escc::tx_intr_count(), intr::intr_count(escc::ESCC_A_IRQ));
    let s = intr::spltty();
    escc::set_tx_intr(true);
    // Each character sent empties the transmitter: an interrupt.
    printf!("openpic: escc0 transmit interrupts on at spltty\n");
    // Clock ticks (above IPL_TTY) still come, so this waits.
    wait_ticks(2);
    let held = (escc::tx_intr_count() - before.0, intr::intr_count(escc::ESCC_A_IRQ) - before.1);
    drop(s);
    let ran = escc::tx_intr_count() - before.0;
    escc::set_tx_intr(false);
    check!(held.1 > 0, "no transmit interrupt reached the CPU at spltty");
    check!(held.0 == 0, "the handler ran {} times at spltty", held.0);
    check!(ran > 0, "splx did not run the held handler");
    Ok(())
}

/// The kernel reads a file of the ramdisk the host made.
fn test_ramdisk_ffs() -> TestResult {
    let bi = init_main::bootinfo();
    // SAFETY: the ramdisk range was loaded by QEMU and marked used; the
    // kernel only reads it.
    let image = unsafe { core::slice::from_raw_parts(bi.ramdisk.start as *const u8, bi.ramdisk.size as usize) };
    let fs = ffs::Fs::mount(image).map_err(|e| format!("mount: {e}"))?;
    let ino = fs.lookup("/etc/motd").map_err(|e| format!("lookup: {e}"))?;
    let ip = fs.inode(ino).map_err(|e| format!("inode: {e}"))?;
    let mut buf = [0u8; 64];
    let n = fs.read(&ip, 0, &mut buf).map_err(|e| format!("read: {e}"))?;
    check!(buf[..n].starts_with(b"ppcbsd"), "/etc/motd starts {:?}", core::str::from_utf8(&buf[..n.min(16)]));
    check!(fs.lookup("/no/such/file").is_err(), "lookup of a missing path succeeded");
    Ok(())
}

// A known nested call chain for the trace test: top → mid → leaf → panic.
#[inline(never)]
fn ktest_panic_top() {
    ktest_panic_mid(3);
}

#[inline(never)]
fn ktest_panic_mid(depth: u32) {
    ktest_panic_leaf(depth);
    core::hint::black_box(depth);
}

#[inline(never)]
fn ktest_panic_leaf(depth: u32) {
    panic!("ktest: deliberate panic at depth {depth}");
}

// A data storage exception two calls deep, for traces across a trap.
#[inline(never)]
fn ktest_fault_top() {
    ktest_fault_leaf(UNMAPPED);
    core::hint::black_box(0);
}

#[inline(never)]
fn ktest_fault_leaf(addr: u32) {
    // A call first, so this function saves its return address like any
    // non-leaf function and the walk can continue past it.
    let addr = core::hint::black_box(ktest_fault_addr(addr));
    // SAFETY: none: this load is meant to fault and panic the kernel.
    let v = unsafe { core::ptr::read_volatile(addr as *const u32) };
    core::hint::black_box(v);
}

#[inline(never)]
fn ktest_fault_addr(a: u32) -> u32 {
    core::hint::black_box(a)
}

// A panic at a seeded point: a chain of 2 to 5 calls among four functions,
// chosen from the seed, so different seeds give different signatures.
type Step = fn(&mut Rng, u32);
const RANDOM_STEPS: [Step; 4] = [ktest_random_a, ktest_random_b, ktest_random_c, ktest_random_d];

fn random_step(r: &mut Rng, left: u32, me: &str) {
    if left == 0 {
        panic!("ktest: random panic in {me}");
    }
    RANDOM_STEPS[r.below(4) as usize](r, left - 1);
}

#[inline(never)]
fn ktest_random_a(r: &mut Rng, left: u32) {
    random_step(r, left, "ktest_random_a");
    core::hint::black_box(left);
}

#[inline(never)]
fn ktest_random_b(r: &mut Rng, left: u32) {
    random_step(r, left, "ktest_random_b");
    core::hint::black_box(left);
}

#[inline(never)]
fn ktest_random_c(r: &mut Rng, left: u32) {
    random_step(r, left, "ktest_random_c");
    core::hint::black_box(left);
}

#[inline(never)]
fn ktest_random_d(r: &mut Rng, left: u32) {
    random_step(r, left, "ktest_random_d");
    core::hint::black_box(left);
}

fn ktest_panic_random(seed: u64) {
    let mut r = Rng::new(seed);
    // Some clock ticks first, so the panic also lands at a seeded time.
    wait_ticks(r.below(20));
    let depth = 1 + r.below(4);
    RANDOM_STEPS[r.below(4) as usize](&mut r, depth);
}

/// A panic whose message panics while it is being printed.
fn ktest_panic_recursive() {
    struct Bad;
    impl core::fmt::Display for Bad {
        fn fmt(&self, _: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            panic!("ktest: panic while formatting a panic message");
        }
    }
    panic!("{}", Bad);
}
