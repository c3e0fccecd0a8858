//! Physical pages (OpenBSD uvm_page.c): a `VmPage` for every page of RAM the
//! kernel manages, the free/active/inactive queues, and the `uvmexp`
//! counters. What firmware, the boot stub, the kernel, its symbols and the
//! ramdisk occupy is never managed.

use crate::arch::intr::Ipl;
use crate::kern::kern_mutex::Mutex;
use crate::kern::kern_rwlock::Rwlock;
use crate::kern::kern_synch::{tsleep, wakeup, wchan};
use core::sync::atomic::{AtomicU32, Ordering};
use kcore::bootinfo::{BootInfo, MemRange};
use kcore::pglist::{Link, PageQueues};
use spin::Once;

pub const PAGE_SHIFT: u32 = 12;
pub const PAGE_SIZE: u32 = 1 << PAGE_SHIFT;

pub const fn trunc_page(a: u32) -> u32 {
    a & !(PAGE_SIZE - 1)
}

pub const fn round_page(a: u64) -> u64 {
    (a + PAGE_SIZE as u64 - 1) & !(PAGE_SIZE as u64 - 1)
}

bitflags::bitflags! {
    /// vm_page pg_flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PgFlags: u32 {
        const PG_BUSY = 0x0001;
        const PG_WANTED = 0x0002;
        const PG_TABLED = 0x0004;
        const PG_CLEAN = 0x0008;
        const PG_PAGEOUT = 0x0010;
        const PG_RELEASED = 0x0020;
        const PG_FAKE = 0x0040;
        const PG_RDONLY = 0x0080;
        const PG_ZERO = 0x0100;
        /// uvn_flush has looked at the page's modified bit this pass.
        const PG_CLEANCHK = 0x0200;
        /// Referenced and modified, as gathered from the page table.
        const PG_PMAP_REF = 0x0100_0000;
        const PG_PMAP_MOD = 0x0200_0000;
    }
}

/// Queue numbers (OpenBSD PQ_*).
pub const PQ_FREE: usize = 0;
pub const PQ_ACTIVE: usize = 1;
pub const PQ_INACTIVE: usize = 2;
const NQUEUES: usize = 3;

pub struct VmPage {
    phys_addr: u32,
    flags: AtomicU32,
    pub wire_count: AtomicU32,
    /// Address spaces holding the page as their anonymous memory (OpenBSD's
    /// vm_anon an_ref, kept on the page as each anon has one): more than
    /// one after a fork, until a write copies it.
    pub an_ref: AtomicU32,
    /// The owning object's vnode id (0: none) and the page's index in it
    /// (uobject and offset), for the pagedaemon.
    owner: AtomicU32,
    pgidx: AtomicU32,
    /// Where the page's modified state came from, for the P0 report (a
    /// ppcbsd diagnostic): what set PG_PMAP_MOD last after it was clear,
    /// through which mapping, when; what cleared PG_CLEAN last, when.
    mod_src: AtomicU32,
    mod_ctx: AtomicU32,
    mod_va: AtomicU32,
    mod_us: AtomicU32,
    unclean_src: AtomicU32,
    unclean_us: AtomicU32,
    /// The thread that set PG_BUSY, plus one (0: none), as OpenBSD's pg->owner under
    /// UVM_PAGE_TRKOWN: the deadlock detector's way to see a thread wait
    /// for a page it holds busy itself.
    busy_owner: AtomicU32,
}

impl VmPage {
    pub fn phys_addr(&self) -> u32 {
        self.phys_addr
    }

    pub fn flags(&self) -> PgFlags {
        PgFlags::from_bits_retain(self.flags.load(Ordering::Relaxed))
    }

    pub fn set_flags(&self, f: PgFlags) {
        self.flags.fetch_or(f.bits(), Ordering::Relaxed);
    }

    pub fn clear_flags(&self, f: PgFlags) {
        self.flags.fetch_and(!f.bits(), Ordering::Relaxed);
    }

    /// Records the object page this is (vnode id, page index); id 0 for
    /// none.
    pub fn set_owner(&self, vid: u32, idx: u32) {
        self.owner.store(vid, Ordering::Relaxed);
        self.pgidx.store(idx, Ordering::Relaxed);
    }

    /// (vnode id, page index) of an object's page.
    pub fn owner(&self) -> Option<(u32, u32)> {
        match self.owner.load(Ordering::Relaxed) {
            0 => None,
            v => Some((v, self.pgidx.load(Ordering::Relaxed))),
        }
    }

    /// Sets PG_PMAP_MOD from `src` (the mapping `ctx`, `va` carried the
    /// changed bit), remembering where it came from when it was clear.
    /// Touches only the page: the 970's real-mode spill calls it too.
    pub fn set_pmap_mod(&self, src: ModSrc, ctx: u32, va: u32) {
        let old = self.flags.fetch_or(PgFlags::PG_PMAP_MOD.bits(), Ordering::Relaxed);
        if old & PgFlags::PG_PMAP_MOD.bits() == 0 {
            self.mod_src.store(src as u32, Ordering::Relaxed);
            self.mod_ctx.store(ctx, Ordering::Relaxed);
            self.mod_va.store(va, Ordering::Relaxed);
            self.mod_us.store(crate::diag::vfs_hist::uptime_us() as u32, Ordering::Relaxed);
        }
    }

    /// Clears PG_CLEAN because of `src`, remembering it.
    pub fn clear_clean(&self, src: UncleanSrc) {
        let old = self.flags.fetch_and(!PgFlags::PG_CLEAN.bits(), Ordering::Relaxed);
        if old & PgFlags::PG_CLEAN.bits() != 0 {
            self.unclean_src.store(src as u32, Ordering::Relaxed);
            self.unclean_us.store(crate::diag::vfs_hist::uptime_us() as u32, Ordering::Relaxed);
        }
    }

    /// Where PG_PMAP_MOD came from: (source, ctx, va, µs of uptime).
    pub fn mod_provenance(&self) -> (ModSrc, u32, u32, u32) {
        let l = |a: &AtomicU32| a.load(Ordering::Relaxed);
        (ModSrc::from_u32(l(&self.mod_src)), l(&self.mod_ctx), l(&self.mod_va), l(&self.mod_us))
    }

    /// What cleared PG_CLEAN last, and when (µs of uptime).
    pub fn unclean_provenance(&self) -> (UncleanSrc, u32) {
        (UncleanSrc::from_u32(self.unclean_src.load(Ordering::Relaxed)), self.unclean_us.load(Ordering::Relaxed))
    }

    /// The thread that holds the page busy, if any (see busy_owner).
    pub fn busy_owner(&self) -> Option<u32> {
        if !self.flags().contains(PgFlags::PG_BUSY) {
            return None;
        }
        match self.busy_owner.load(Ordering::Relaxed) {
            0 => None,
            t => Some(t - 1),
        }
    }

    /// Index in the page array (and in the page queues).
    pub fn index(&self) -> u32 {
        let base = pages().as_ptr() as usize;
        ((self as *const VmPage as usize - base) / core::mem::size_of::<VmPage>()) as u32
    }
}

/// What set a page's PG_PMAP_MOD (the P0 report's provenance).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ModSrc {
    Unknown = 0,
    /// An eviction from the page table of the kernel's 1:1 entry for the
    /// page (the 970's direct map; OpenBSD credits it with no managed check).
    DirectEviction,
    /// An eviction of a process's (or a kernel pmap) mapping of it.
    MappingEviction,
    /// A mapping of it removed or reprotected.
    MappingUnload,
    /// pmap_is_modified read a mapping's changed bit.
    MappingSync,
    /// The kernel wrote it for a process (copyout).
    KernelWrite,
}

impl ModSrc {
    fn from_u32(v: u32) -> ModSrc {
        [ModSrc::Unknown, ModSrc::DirectEviction, ModSrc::MappingEviction, ModSrc::MappingUnload, ModSrc::MappingSync, ModSrc::KernelWrite]
            .get(v as usize)
            .copied()
            .unwrap_or(ModSrc::Unknown)
    }
}

/// What cleared a page's PG_CLEAN (the P0 report's provenance).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum UncleanSrc {
    Unknown = 0,
    /// uvm_pagedeactivate: the pmap said modified.
    Deactivate,
    /// uvn_flush's clean check: the pmap said modified.
    FlushCleanCheck,
    /// uvm_pager_put's cluster: the pmap said modified.
    PagerCluster,
    /// A self-test made it dirty.
    Test,
}

impl UncleanSrc {
    fn from_u32(v: u32) -> UncleanSrc {
        [UncleanSrc::Unknown, UncleanSrc::Deactivate, UncleanSrc::FlushCleanCheck, UncleanSrc::PagerCluster, UncleanSrc::Test]
            .get(v as usize)
            .copied()
            .unwrap_or(UncleanSrc::Unknown)
    }
}

/// OpenBSD uvmexp: counts and paging targets, in pages.
#[derive(Clone, Copy, Debug, Default)]
pub struct Uvmexp {
    pub npages: u32,
    pub free: u32,
    pub active: u32,
    pub inactive: u32,
    pub wired: u32,
    pub paging: u32,
    pub freemin: u32,
    pub freetarg: u32,
    pub inactarg: u32,
    /// Pagedaemon passes (uvmexp.pdrevs).
    pub pdrevs: u32,
    /// Pageouts the pagedaemon started.
    pub pdpageouts: u32,
    /// Clean pages the pagedaemon freed.
    pub pdfreed: u32,
}

struct PageState {
    queues: PageQueues<'static, NQUEUES>,
    exp: Uvmexp,
}

static PAGES: Once<&'static [VmPage]> = Once::new();
static STATE: Once<Mutex<PageState>> = Once::new();
/// Contiguous free runs of physical memory, for `PHYS_TO_VM_PAGE`.
static SEGS: Once<([MemRange; 16], usize)> = Once::new();

pub fn pages() -> &'static [VmPage] {
    PAGES.get().expect("uvm_page_init not done")
}

fn state() -> &'static Mutex<PageState> {
    STATE.get().expect("uvm_page_init not done")
}

/// Free physical page ranges: RAM less everything the boot-info record
/// marks used, page-aligned inward.
fn free_ranges(bi: &BootInfo, out: &mut [MemRange; 16]) -> usize {
    let mut n = 0;
    for bank in bi.memory() {
        let mut at = round_page(bank.start as u64);
        let end = bank.end() & !(PAGE_SIZE as u64 - 1);
        while at < end {
            let page = MemRange { start: at as u32, size: PAGE_SIZE };
            if let Some(u) = bi.overlapping(&page) {
                at = round_page(u.range.end());
                continue;
            }
            let mut stop = at;
            while stop < end && bi.overlapping(&MemRange { start: stop as u32, size: PAGE_SIZE }).is_none() {
                stop += PAGE_SIZE as u64;
            }
            if n < out.len() {
                out[n] = MemRange { start: at as u32, size: (stop - at) as u32 };
                n += 1;
            }
            at = stop;
        }
    }
    n
}

/// Sets up a VmPage for each free page (at most `limit` pages), stealing
/// room for the page array and queue links from the first free range.
pub fn uvm_page_init(bi: &BootInfo, limit: Option<u32>) {
    let mut ranges = [MemRange::default(); 16];
    let nr = free_ranges(bi, &mut ranges);
    let total: u32 = ranges[..nr].iter().map(|r| r.size / PAGE_SIZE).sum();
    let want = limit.map_or(total, |l| l.min(total));
    let meta = round_page(want as u64 * (core::mem::size_of::<VmPage>() + core::mem::size_of::<Link>()) as u64) as u32;
    let steal = ranges[..nr].iter_mut().find(|r| r.size > meta).expect("uvm_page_init: no room for the page array");
    let meta_pa = steal.start;
    steal.start += meta;
    steal.size -= meta;

    let mut segs = [MemRange::default(); 16];
    let mut nsegs = 0;
    let mut npages = 0u32;
    for r in &ranges[..nr] {
        let take = (r.size / PAGE_SIZE).min(want - npages);
        if take > 0 {
            segs[nsegs] = MemRange { start: r.start, size: take * PAGE_SIZE };
            nsegs += 1;
            npages += take;
        }
    }

    // SAFETY: [meta_pa, meta_pa + meta) is free RAM (mapped 1:1) taken
    // out of the managed ranges above, so nothing else will ever use it;
    // it is initialised before the slices are formed.
    let (pg_slice, links) = unsafe {
        let pgp = meta_pa as *mut VmPage;
        let mut i = 0;
        for s in &segs[..nsegs] {
            for p in 0..s.size / PAGE_SIZE {
                pgp.add(i).write(VmPage {
                    phys_addr: s.start + p * PAGE_SIZE,
                    flags: AtomicU32::new(0),
                    wire_count: AtomicU32::new(0),
                    an_ref: AtomicU32::new(0),
                    mod_src: AtomicU32::new(0),
                    mod_ctx: AtomicU32::new(0),
                    mod_va: AtomicU32::new(0),
                    mod_us: AtomicU32::new(0),
                    unclean_src: AtomicU32::new(0),
                    unclean_us: AtomicU32::new(0),
                    busy_owner: AtomicU32::new(0),
                    owner: AtomicU32::new(0),
                    pgidx: AtomicU32::new(0),
                });
                i += 1;
            }
        }
        let linkp = (meta_pa as usize + want as usize * core::mem::size_of::<VmPage>()) as *mut Link;
        for j in 0..npages as usize {
            linkp.add(j).write(Link::UNLINKED);
        }
        (core::slice::from_raw_parts(pgp, npages as usize), core::slice::from_raw_parts_mut(linkp, npages as usize))
    };
    PAGES.call_once(|| pg_slice);
    SEGS.call_once(|| (segs, nsegs));
    let mut queues = PageQueues::new(links);
    for pg in 0..npages {
        queues.insert_tail(PQ_FREE, pg);
    }
    let mut exp = Uvmexp { npages, free: npages, ..Default::default() };
    uvmpd_tune(&mut exp);
    STATE.call_once(|| Mutex::new(Ipl::Vm, PageState { queues, exp }));
}

/// Paging targets (OpenBSD uvmpd_tune): freemin is npages/30 but at least
/// 16 KB worth, freetarg 4/3 of that.
fn uvmpd_tune(exp: &mut Uvmexp) {
    // At least one user page above the kernel's reserve (uvm_pdaemon.c:186).
    exp.freemin = (exp.npages / 30).max(16 * 1024 / PAGE_SIZE).max(RESERVE_KERNEL + 1);
    exp.freetarg = (exp.freemin * 4 / 3).max(exp.freemin + 1);
    exp.inactarg = ((exp.active + exp.inactive) / 3).max(exp.freetarg + 1);
}

pub fn uvmexp() -> Uvmexp {
    state().lock().exp
}

/// Counts something in uvmexp (the pagedaemon's counters).
pub fn uvmexp_count(f: impl FnOnce(&mut Uvmexp)) {
    f(&mut state().lock().exp)
}

/// uvmexp for the debugger: None rather than a deadlock if the page
/// queues were locked when the kernel stopped.
pub fn uvmexp_try() -> Option<Uvmexp> {
    STATE.get()?.try_lock().map(|s| s.exp)
}

/// The managed page at physical address `pa`, if it is one.
pub fn phys_to_vm_page(pa: u32) -> Option<&'static VmPage> {
    let (segs, n) = SEGS.get()?;
    let mut idx = 0;
    for s in &segs[..*n] {
        if pa >= s.start && ((pa - s.start) as u64) < s.size as u64 {
            return pages().get(idx + ((pa - s.start) / PAGE_SIZE) as usize);
        }
        idx += (s.size / PAGE_SIZE) as usize;
    }
    None
}

/// Pages only kernel allocations may take (OpenBSD uvmexp.reserve_kernel,
/// uvm_page.c:286@2ea167a2): the kernel heap grows from them when user
/// pages have taken everything else.
pub const RESERVE_KERNEL: u32 = 8;
/// Pages only the pagedaemon may take (uvmexp.reserve_pagedaemon,
/// uvm_page.c:285): its pageout allocates on the way to freeing memory.
pub const RESERVE_PAGEDAEMON: u32 = 4;

/// uvm_pagealloc flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pga {
    /// A process's or a file's page: not from the kernel's reserve.
    User,
    /// A kernel page (UVM_PGA_USERESERVE, or a kernel object's).
    UseReserve,
}

/// The pagedaemon's thread id, which may take its own reserve.
static PAGEDAEMON_TID: AtomicU32 = AtomicU32::new(u32::MAX);

pub fn uvm_page_set_pagedaemon(tid: u32) {
    PAGEDAEMON_TID.store(tid, Ordering::Relaxed);
}

/// Whether `count` more pages may go to this caller (the checks of
/// OpenBSD's uvm_pmr_getpages, uvm_pmemrange.c:962-975@2ea167a2): user
/// pages leave reserve_kernel free, kernel pages reserve_pagedaemon
/// unless the pagedaemon itself asks.
fn reserve_allows(free: u32, count: u32, flags: Pga, pagedaemon: bool) -> bool {
    if free <= RESERVE_KERNEL + count && flags == Pga::User {
        return false;
    }
    free > RESERVE_PAGEDAEMON + count || pagedaemon
}

/// Whether the running thread is the pagedaemon.
fn curproc_is_pagedaemon() -> bool {
    crate::kern::kern_proc::curproc_unlocked() == PAGEDAEMON_TID.load(Ordering::Relaxed)
}

/// A free page, busy and clean (OpenBSD uvm_pagealloc without an owner),
/// or None when memory is exhausted or only reserved pages remain.
pub fn uvm_pagealloc(flags: Pga) -> Option<&'static VmPage> {
    let pagedaemon = curproc_is_pagedaemon();
    let mut st = state().lock();
    let e = st.exp;
    let got = if reserve_allows(e.free, 1, flags, pagedaemon) { st.queues.pop_head(PQ_FREE) } else { None };
    if got.is_some() {
        st.exp.free -= 1;
    }
    drop(st);
    // Below the targets: the pagedaemon has work (OpenBSD wakes it here).
    if e.free < e.freemin || (e.free < e.freetarg && e.inactive < e.inactarg) {
        crate::uvm::uvm_pdaemon::uvm_pagedaemon_wake();
    }
    let pg = &pages()[got? as usize];
    pg.flags.store((PgFlags::PG_BUSY | PgFlags::PG_CLEAN | PgFlags::PG_FAKE).bits(), Ordering::Relaxed);
    pg.set_owner(0, 0);
    uvm_page_own(pg);
    Some(pg)
}

/// The first page of queue `q` (for the pagedaemon's scans, which walk
/// the queues in place, allocating nothing).
pub fn uvm_queue_first(q: usize) -> Option<&'static VmPage> {
    state().lock().queues.first(q).map(|i| &pages()[i as usize])
}

/// The page after `pg` on its queue.
pub fn uvm_queue_next(pg: &VmPage) -> Option<&'static VmPage> {
    state().lock().queues.next(pg.index()).map(|i| &pages()[i as usize])
}

/// Recomputes the paging targets from the queues (uvmpd_tune).
pub fn uvmpd_retune() -> Uvmexp {
    let mut st = state().lock();
    uvmpd_tune(&mut st.exp);
    st.exp
}

/// The queue a page is on, as a name, for the debugger ("?" if the
/// queues are locked).
pub fn uvm_page_queue_try(pg: &VmPage) -> &'static str {
    match STATE.get().and_then(|s| s.try_lock()).map(|s| s.queues.queue_of(pg.index())) {
        Some(Some(PQ_FREE)) => "free",
        Some(Some(PQ_ACTIVE)) => "active",
        Some(Some(PQ_INACTIVE)) => "inactive",
        Some(_) => "none",
        None => "?",
    }
}

/// The queue a page is on.
pub fn uvm_page_queue(pg: &VmPage) -> Option<usize> {
    state().lock().queues.queue_of(pg.index())
}

fn count_queue(exp: &mut Uvmexp, q: Option<usize>, delta: i32) {
    let c = match q {
        Some(PQ_FREE) => &mut exp.free,
        Some(PQ_ACTIVE) => &mut exp.active,
        Some(PQ_INACTIVE) => &mut exp.inactive,
        _ => return,
    };
    *c = c.wrapping_add_signed(delta);
}

fn move_to(pg: &VmPage, q: Option<usize>) {
    let mut st = state().lock();
    let st = &mut *st;
    let i = pg.index();
    let old = st.queues.queue_of(i);
    if old == Some(PQ_FREE) {
        panic!("uvm page {:#x} is free", pg.phys_addr);
    }
    count_queue(&mut st.exp, old, -1);
    match q {
        Some(q) => st.queues.requeue(q, i),
        None => st.queues.remove(i),
    }
    count_queue(&mut st.exp, q, 1);
}

/// Returns a page to the free list; it must not be mapped any more.
pub fn uvm_pagefree(pg: &VmPage) {
    move_to(pg, None);
    let mut st = state().lock();
    pg.flags.store(0, Ordering::Relaxed);
    pg.set_owner(0, 0);
    pg.busy_owner.store(0, Ordering::Relaxed);
    st.queues.insert_tail(PQ_FREE, pg.index());
    st.exp.free += 1;
}

pub fn uvm_pageactivate(pg: &VmPage) {
    move_to(pg, Some(PQ_ACTIVE));
}

/// Moves a page to the inactive queue. A page that was not inactive has
/// its referenced bit cleared, so that only a new reference saves it from
/// the pagedaemon, and its PG_CLEAN synced from the modified bit: the
/// pagedaemon trusts PG_CLEAN alone (OpenBSD uvm_page.c).
pub fn uvm_pagedeactivate(pg: &VmPage) {
    if uvm_page_queue(pg) != Some(PQ_INACTIVE) {
        crate::arch::pmap::pmap_clear_reference(pg);
        if pg.flags().contains(PgFlags::PG_CLEAN) && crate::arch::pmap::pmap_is_modified(pg) {
            pg.clear_clean(UncleanSrc::Deactivate);
        }
    }
    move_to(pg, Some(PQ_INACTIVE));
}

/// Copies `data` into a page at byte `off`, through its 1:1 address.
pub fn uvm_page_write(pg: &VmPage, off: usize, data: &[u8]) {
    assert!(off + data.len() <= PAGE_SIZE as usize, "uvm_page_write: past the page");
    // SAFETY: managed pages are RAM mapped 1:1 (BAT0, or the 970's direct map); the range is inside
    // the page, which the caller owns (busy).
    unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), (pg.phys_addr as usize + off) as *mut u8, data.len()) };
}

/// Copies a page's bytes from `off` into `out`, through its 1:1 address.
pub fn uvm_page_read(pg: &VmPage, off: usize, out: &mut [u8]) {
    assert!(off + out.len() <= PAGE_SIZE as usize, "uvm_page_read: past the page");
    // SAFETY: as in uvm_page_write.
    unsafe { core::ptr::copy_nonoverlapping((pg.phys_addr as usize + off) as *const u8, out.as_mut_ptr(), out.len()) };
}

/// Fills a page with zeros through its 1:1 address.
pub fn uvm_pagezero(pg: &VmPage) {
    // SAFETY: managed pages are RAM mapped 1:1 (BAT0, or the 970's direct map) and the caller owns
    // `pg` (it is busy or freshly allocated).
    unsafe { core::ptr::write_bytes(pg.phys_addr as *mut u8, 0, PAGE_SIZE as usize) };
}

/// Copies page `src` into `dst` through their 1:1 addresses (OpenBSD
/// uvm_pagecopy).
pub fn uvm_pagecopy(src: &VmPage, dst: &VmPage) {
    // SAFETY: managed pages are RAM mapped 1:1 (BAT0, or the 970's direct map); the caller owns
    // `dst` (freshly allocated) and `src` is not busy, so nothing writes it.
    unsafe { core::ptr::copy_nonoverlapping(src.phys_addr as *const u8, dst.phys_addr as *mut u8, PAGE_SIZE as usize) };
}

/// `npages` physically contiguous free pages taken off the free list for
/// good (OpenBSD uvm_pglistalloc with a contiguity constraint); returns the
/// first one's physical address.
pub fn uvm_pglistalloc_contig(npages: u32, flags: Pga) -> Option<u32> {
    let pagedaemon = curproc_is_pagedaemon();
    let mut st = state().lock();
    let st = &mut *st;
    // For the kernel's heap, which OpenBSD's uvm_pglistalloc lets use the
    // reserve (UVM_PLA_USERESERVE, uvm_page.c:754@2ea167a2); Pga::User for
    // growth that may as well wait or fail.
    if !reserve_allows(st.exp.free, npages, flags, pagedaemon) {
        return None;
    }
    let pgs = pages();
    let mut run = 0u32;
    let mut start = 0usize;
    for (i, pg) in pgs.iter().enumerate() {
        let contiguous = run > 0 && pgs[i - 1].phys_addr + PAGE_SIZE == pg.phys_addr;
        if st.queues.queue_of(i as u32) != Some(PQ_FREE) {
            run = 0;
            continue;
        }
        if !contiguous {
            run = 0;
            start = i;
        }
        run += 1;
        if run == npages {
            for (j, pg) in pgs.iter().enumerate().skip(start).take(npages as usize) {
                st.queues.remove(j as u32);
                pg.flags.store(PgFlags::PG_BUSY.bits(), Ordering::Relaxed);
            }
            st.exp.free -= npages;
            st.exp.wired += npages;
            return Some(pgs[start].phys_addr);
        }
    }
    None
}

/// Gives back `npages` pages that uvm_pglistalloc_contig took, from `pa`
/// (OpenBSD uvm_pglistfree).
pub fn uvm_pglistfree_contig(pa: u32, npages: u32) {
    let mut st = state().lock();
    for i in 0..npages {
        let pg = phys_to_vm_page(pa + i * PAGE_SIZE).expect("uvm_pglistfree: not a managed page");
        pg.flags.store(0, Ordering::Relaxed);
        st.queues.insert_tail(PQ_FREE, pg.index());
    }
    st.exp.free += npages;
    st.exp.wired -= npages;
}

/// ddb: the vm_page at kernel address `addr`, if it is one.
pub fn db_page_lookup(addr: usize) -> Option<&'static VmPage> {
    let all = PAGES.get()?;
    let base = all.as_ptr() as usize;
    let size = core::mem::size_of::<VmPage>();
    let off = addr.checked_sub(base)?;
    (off % size == 0).then(|| all.get(off / size)).flatten()
}

/// ddb `show page ADDR`, in OpenBSD uvm_page_printit's shape (flags as
/// `%b`), with the queue the page is on.
pub fn uvm_page_printit(out: &mut dyn core::fmt::Write, pg: &'static VmPage) {
    let f = pg.flags();
    let _ = write!(out, "PAGE {:p}:\n  flags={:#x}<", pg, f.bits());
    for (k, (n, _)) in f.iter_names().enumerate() {
        let _ = write!(out, "{}{}", if k > 0 { "," } else { "" }, n.trim_start_matches("PG_"));
    }
    let _ = writeln!(out, ">, wire_count={}, pa={:#x}", pg.wire_count.load(Ordering::Relaxed), pg.phys_addr());
    match pg.owner() {
        Some((vid, idx)) => {
            let _ = writeln!(out, "  uobject=vnode {vid}, uanon=0x0, offset={:#x}", idx as u64 * PAGE_SIZE as u64);
        }
        None => {
            let _ = writeln!(out, "  uobject=0x0, uanon=0x0, offset=0x0");
        }
    }
    let _ = writeln!(out, "  page queue: {}", uvm_page_queue_try(pg));
}

pub fn page_wchan(pg: &VmPage) -> usize {
    wchan(pg)
}

/// Sleeps until a busy page is released (OpenBSD uvm_pagewait). The lock
/// the caller holds, if any, is let go and not taken again. Out of line,
/// so that a deadlock's trace names it.
#[inline(never)]
pub fn uvm_pagewait(pg: &'static VmPage, lock: Option<&Rwlock>, wmesg: &'static str) {
    pg.set_flags(PgFlags::PG_WANTED);
    // Pages are let go only by the thread that busied them (ppcbsd has no
    // asynchronous pager I/O), so this sleep can never end.
    let mine = pg.busy_owner() == Some(crate::kern::kern_proc::curproc_unlocked());
    if mine {
        crate::diag::deadlock::selfwait_begin();
    }
    match lock {
        Some(l) => crate::kern::kern_synch::rwsleep_norelock(page_wchan(pg), l, wmesg),
        None => {
            let _ = tsleep(page_wchan(pg), wmesg, 0);
        }
    }
}

/// Records the running thread as the one that set PG_BUSY (OpenBSD
/// UVM_PAGE_OWN), next to each place that busies a page.
pub fn uvm_page_own(pg: &VmPage) {
    pg.busy_owner.store(crate::kern::kern_proc::curproc_unlocked() + 1, Ordering::Relaxed);
}

/// Clears PG_BUSY and wakes whoever waits for the page.
pub fn uvm_page_unbusy(pg: &'static VmPage) {
    let wanted = pg.flags().contains(PgFlags::PG_WANTED);
    pg.busy_owner.store(0, Ordering::Relaxed);
    pg.clear_flags(PgFlags::PG_BUSY | PgFlags::PG_WANTED);
    if wanted {
        wakeup(page_wchan(pg));
    }
}
