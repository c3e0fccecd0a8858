//! The physical map on the PowerPC hashed page table (OpenBSD pmap.c in
//! spirit, written anew), for the G4's 32-bit PTEs and the 970's 64-bit
//! ones, chosen at boot from the PVR.
//!
//! Address spaces: segment 0 is the kernel's 1:1 map of RAM, segments 1–11
//! belong to the current process, 12–15 are kernel virtual memory. The G4
//! maps RAM and the devices (physical 0x8000_0000) with BATs; the 970 has
//! none, so there RAM is mapped 1:1 by PTEs the trap vector makes in real
//! mode on first touch (`pte_spill_r`, as OpenBSD's), the kernel image's
//! wired at boot, and the devices appear in segment 15. Each pmap has a
//! context number; the VSID of its segment `sr` is `ctx << 4 | sr` (context
//! 0 is the kernel).
//!
//! Every pmap mapping is kept in software (`Pted`); the hardware table is
//! only a cache of them. When both groups of a hash are full, the time base
//! picks an unwired victim, whose referenced/changed bits go to the page its
//! PTE names — a direct-map entry's too, as in OpenBSD; a later fault
//! reloads a pmap mapping (`pte_spill`) or the direct map (`pte_spill_r`).

use crate::arch::powerpc::cpu::ppc_proc_is_64b;
use crate::arch::powerpc::intr::Ipl;
use crate::kern::kern_mutex::Mutex;
pub use crate::uvm::uvm_extern::Prot;
use crate::uvm::uvm_page::{phys_to_vm_page, round_page, ModSrc, PgFlags, VmPage, PAGE_SIZE};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::arch::asm;
use core::sync::atomic::{AtomicU32, Ordering};
use kcore::bootinfo::{BootInfo, MemRange, Usage};
use spin::Once;

/// The most slots the table has: 2 MiB of 8-byte PTEs (the G4 with
/// 256 MiB) or 4 MiB of 16-byte ones (the 970).
const NSLOTS_MAX: u32 = 1 << 18;

/// The word of a 32-bit PTE's upper half that holds V (and everything but
/// the RPN word), with its fields.
const PTE_VALID: u32 = 0x8000_0000;
const PTE_HID: u32 = 0x40;
/// The 970's 64-bit PTE: V and H are the low bits of the first doubleword.
const PTE64_VALID: u32 = 0x1;
const PTE64_HID: u32 = 0x2;
/// The second word (32-bit) or the low word of the second doubleword
/// (64-bit): the same bits in both formats.
const PTE_REF: u32 = 0x100;
const PTE_CHG: u32 = 0x080;
/// Memory coherence required: cacheable RAM.
const PTE_M: u32 = 0x010;
/// Cache-inhibited and guarded: device registers.
const PTE_IG: u32 = 0x028;
/// PP with Ks = 0, Kp = 1: supervisor read/write, user nothing.
const PP_KERNEL: u32 = 0;
const PP_USER_RW: u32 = 2;
/// Read-only for both keys. A read-only kernel mapping is therefore
/// readable from user mode: key 0 has no supervisor-only read-only setting,
/// and nothing the kernel maps read-only is secret.
const PP_RO: u32 = 3;
/// Segment register: Kp set so user mode uses the second key.
const SR_KP: u32 = 0x2000_0000;

pub const KERNEL_CTX: u32 = 0;
/// First and last segment of a process's address space.
pub const USER_SR_FIRST: u32 = 1;
pub const USER_SR_LAST: u32 = 11;
pub const USER_MIN: u32 = USER_SR_FIRST << 28;
pub const USER_MAX: u32 = (USER_SR_LAST + 1) << 28;
/// Kernel virtual memory (stacks, temporary mappings).
pub const KVA_MIN: u32 = 0xc000_0000;

/// Where a 970 reaches the device registers (physical 0x8000_0000 up):
/// segment 15, since segment 8 is the process's there (the G4 keeps the
/// devices at their physical addresses, under a BAT).
pub const IO_VA_970: u32 = 0xf000_0000;
pub const IO_PA: u32 = 0x8000_0000;

/// The owner recorded for the kernel's 1:1 map of RAM and devices on a CPU
/// without BATs: entries made by `pte_spill_r` (and, wired, for the kernel
/// image at boot), on no pv list, in no pmap.
const DIRECT_CTX: u32 = u32::MAX;

/// The hardware page table (its physical address, aligned to its size
/// as SDR1 requires, and its size), and per slot who owns it — (ctx, va),
/// valid while the slot's V is set — and whether it may be evicted. Taken
/// from RAM at boot (`pmap_steal_ptable`), reached 1:1 (BAT, or the 970's
/// wired entries), set once before any use.
static HTAB_PA: AtomicU32 = AtomicU32::new(0);
static HTAB_BYTES: AtomicU32 = AtomicU32::new(0);
static OWNER_PA: AtomicU32 = AtomicU32::new(0);
static WIRED_PA: AtomicU32 = AtomicU32::new(0);
/// Hardware-table evictions since boot, and how many took a direct-map
/// entry (970).
static EVICTIONS: AtomicU32 = AtomicU32::new(0);
static DIRECT_EVICTIONS: AtomicU32 = AtomicU32::new(0);
/// The end of RAM, for the direct map (970: set at boot).
static RAM_END: AtomicU32 = AtomicU32::new(0);

// Access to the table and the slot arrays. Translated code reaches them
// with the pmap mutex held; the real-mode spill (`pte_spill_r`) may run
// between any two of its instructions that fault on the direct map. The
// kernel image, the table and every stack are wired on the 970, so code
// that reads a slot and then writes it touches nothing that can fault in
// between: each such sequence is whole with respect to the spill.

fn ptegs() -> u32 {
    HTAB_BYTES.load(Ordering::Relaxed) / if ppc_proc_is_64b() { 128 } else { 64 }
}

/// The table's size for `pages` pages of memory, as OpenBSD's
/// pmap_bootstrap (pmap.c 1.185, HTABENTS_32/64): the 970 at least 2,048
/// groups and one group for every two pages; the G4 at least 1,024 groups
/// and 1/128 of memory.
pub fn htab_bytes(pages: u32, is64: bool) -> u32 {
    if is64 {
        let mut cnt = 2048u32;
        while cnt * 2 < pages && cnt * 128 < NSLOTS_MAX * 16 {
            cnt <<= 1;
        }
        cnt * 128
    } else {
        let mut cnt = 1024u32;
        while (cnt as u64 * 64) < ((pages as u64 * PAGE_SIZE as u64) >> 7) && cnt * 64 < NSLOTS_MAX * 8 {
            cnt <<= 1;
        }
        cnt * 64
    }
}

/// Takes the table and the slot records from the top of RAM (below 256
/// MiB, the 970's one kernel segment) for `pages` pages of memory, marks
/// them used in `bi`, and clears them. Before the MMU is set up; the
/// memory is reached at its physical address (real mode, or Open
/// Firmware's 1:1 map on the G4). The range taken, for the 970's wiring.
pub fn pmap_steal_ptable(bi: &mut BootInfo, pages: u32) -> MemRange {
    let bytes = htab_bytes(pages, ppc_proc_is_64b());
    let slots = bytes / if ppc_proc_is_64b() { 16 } else { 8 };
    let rec = round_page(slots as u64 * 9) as u32;
    // One block: the table (aligned to its size), then the records.
    let Some(pa) = bi.steal(bytes + rec, bytes, 0x1000_0000, Usage::PageTable) else {
        // No console yet: nothing to do but stop here.
        loop {
            core::hint::spin_loop();
        }
    };
    HTAB_PA.store(pa, Ordering::Relaxed);
    HTAB_BYTES.store(bytes, Ordering::Relaxed);
    OWNER_PA.store(pa + bytes, Ordering::Relaxed);
    WIRED_PA.store(pa + bytes + slots * 8, Ordering::Relaxed);
    // SAFETY: [pa, pa + bytes + rec) is RAM no one uses (just taken), at
    // its physical address in the mode the caller runs in.
    unsafe { core::ptr::write_bytes(pa as *mut u8, 0, (bytes + rec) as usize) };
    MemRange { start: pa, size: bytes + rec }
}

/// Word index of (slot, word) for the running CPU's format: words 0..2 of
/// a 32-bit PTE, 0..4 of a 64-bit one.
fn word_ix(s: u32, w: u32) -> usize {
    (s * if ppc_proc_is_64b() { 4 } else { 2 } + w) as usize
}

fn htab() -> *mut u32 {
    HTAB_PA.load(Ordering::Relaxed) as *mut u32
}

fn rd(i: usize) -> u32 {
    // SAFETY: i is a word of a slot below ptegs() * 8, inside the table;
    // volatile, the MMU sets R and C behind the compiler's back.
    unsafe { core::ptr::read_volatile(htab().add(i)) }
}

fn wr(i: usize, v: u32) {
    // SAFETY: as rd.
    unsafe { core::ptr::write_volatile(htab().add(i), v) }
}

/// The word holding V: the first (32-bit) or the second (64-bit).
fn v_word(s: u32) -> usize {
    word_ix(s, if ppc_proc_is_64b() { 1 } else { 0 })
}

/// The word with the RPN, WIMG, R, C and PP: the last of the slot.
fn lo_word(s: u32) -> usize {
    word_ix(s, if ppc_proc_is_64b() { 3 } else { 1 })
}

/// The valid bit of the word `v_word` names, in this CPU's format.
fn valid_bit() -> u32 {
    if ppc_proc_is_64b() {
        PTE64_VALID
    } else {
        PTE_VALID
    }
}

fn valid(s: u32) -> bool {
    rd(v_word(s)) & valid_bit() != 0
}

fn slot_owner(s: u32) -> (u32, u32) {
    // SAFETY: s is a slot of the table, so inside the records taken with
    // it; see the access note above.
    unsafe { *(OWNER_PA.load(Ordering::Relaxed) as *const (u32, u32)).add(s as usize) }
}

fn slot_wired(s: u32) -> bool {
    // SAFETY: as slot_owner; written only with 0 or 1.
    unsafe { *(WIRED_PA.load(Ordering::Relaxed) as *const u8).add(s as usize) != 0 }
}

fn set_slot(s: u32, owner: (u32, u32), wired: bool) {
    // SAFETY: as slot_owner.
    unsafe {
        *(OWNER_PA.load(Ordering::Relaxed) as *mut (u32, u32)).add(s as usize) = owner;
        *(WIRED_PA.load(Ordering::Relaxed) as *mut u8).add(s as usize) = wired as u8;
    }
}

/// Whether slot `s` still holds (ctx, va): the spill may have evicted it
/// since the pmap recorded it.
fn slot_is(s: u32, ctx: u32, va: u32) -> bool {
    valid(s) && slot_owner(s) == (ctx, va)
}

/// A barrier between PTE stores the MMU must see in order.
fn sync() {
    // SAFETY: a barrier only.
    unsafe { asm!("sync") };
}

fn tlbie(va: u32) {
    // SAFETY: invalidates one TLB congruence class; uniprocessor, so
    // tlbsync only orders it.
    unsafe { asm!("sync", "tlbie {0}", "sync", "tlbsync", "sync", in(reg) va) };
}

fn vsid(ctx: u32, va: u32) -> u32 {
    (ctx << 4) | (va >> 28)
}

/// The primary hash of a page: VSID xor page index. The 970 takes all
/// of the VSID (ppcbsd's are 24 bits); the G4 its low 19.
fn hash(vsid: u32, va: u32) -> u32 {
    let v = if ppc_proc_is_64b() { vsid } else { vsid & 0x7ffff };
    v ^ ((va >> 12) & 0xffff)
}

/// The words of a PTE's first half for (vsid, va) in its primary or
/// secondary group: (the 64-bit format's upper word, the word with V).
fn pte_hi(vsid: u32, va: u32, secondary: bool) -> (u32, u32) {
    if ppc_proc_is_64b() {
        // AVPN: the VSID, then the page index's top 5 bits (API).
        let h = if secondary { PTE64_HID } else { 0 };
        (vsid >> 20, (vsid << 12) | (((va >> 23) & 0x1f) << 7) | h | PTE64_VALID)
    } else {
        (0, PTE_VALID | (vsid << 7) | if secondary { PTE_HID } else { 0 } | ((va >> 22) & 0x3f))
    }
}

/// Writes a PTE into an invalid slot: the RPN word first, then the word
/// with V, so the MMU never sees half of it.
fn pte_set(s: u32, hi: (u32, u32), lo: u32) {
    if ppc_proc_is_64b() {
        wr(word_ix(s, 2), 0);
        wr(lo_word(s), lo);
        crate::arch::cpu::eieio();
        wr(word_ix(s, 0), hi.0);
    } else {
        wr(lo_word(s), lo);
    }
    crate::arch::cpu::eieio();
    wr(v_word(s), hi.1);
    sync();
}

/// Invalidates slot `s`, whose mapping is for `va`; returns its last RPN
/// word (with R and C).
fn pte_zap(s: u32, va: u32) -> u32 {
    wr(v_word(s), rd(v_word(s)) & !valid_bit());
    tlbie(va);
    set_slot(s, (0, 0), false);
    rd(lo_word(s))
}

/// Credits an entry's R and C to the page its RPN names, managed or not,
/// as OpenBSD's pmap_attr_save does for an evicted entry (pte_insert,
/// pmap.c 1.179:2430-2433): for a direct-map entry that is the page frame
/// the kernel last wrote through it. `src` and the entry's owner say where
/// the bit came from (the P0 report's provenance).
fn pmap_attr_save(lo: u32, src: ModSrc, owner: (u32, u32)) {
    if lo & (PTE_REF | PTE_CHG) == 0 {
        return;
    }
    if let Some(pg) = phys_to_vm_page(lo & !(PAGE_SIZE - 1)) {
        if lo & PTE_REF != 0 {
            pg.set_flags(PgFlags::PG_PMAP_REF);
        }
        if lo & PTE_CHG != 0 {
            let src = if owner.0 == DIRECT_CTX && src == ModSrc::MappingEviction { ModSrc::DirectEviction } else { src };
            pg.set_pmap_mod(src, owner.0, owner.1);
        }
    }
}

/// Puts a PTE for (vsid, va) into a free slot of its primary, then its
/// secondary group; with both full, evicts the slot the time base picks
/// (its low 3 bits the slot, the next the group, as OpenBSD's
/// pte_insert32/64), going on to the next if that one is wired (ppcbsd
/// cannot reload a kernel stack's PTE without a stack; OpenBSD can). The
/// victim's R/C go to its page afterwards. Returns the slot and the
/// victim's owner. Touches only the table and the slot arrays until the
/// new PTE is in, so the real-mode spill may use it too. None when both
/// groups hold wired entries only.
fn pte_insert(vsid: u32, va: u32, lo: u32, owner: (u32, u32), wired: bool) -> Option<(u32, Option<(u32, u32)>)> {
    let mask = ptegs() - 1;
    let h = hash(vsid, va);
    let groups = [(h & mask, false), (!h & mask, true)];
    for &(pteg, sec) in &groups {
        for i in 0..8 {
            let s = pteg * 8 + i;
            if !valid(s) {
                pte_set(s, pte_hi(vsid, va, sec), lo);
                set_slot(s, owner, wired);
                return Some((s, None));
            }
        }
    }
    let tb = crate::arch::cpu::mftb() as u32;
    for k in 0..16 {
        let pick = (tb & 0xf) ^ k;
        let (pteg, sec) = groups[(pick >> 3) as usize & 1];
        let s = pteg * 8 + (pick & 7);
        if slot_wired(s) {
            continue;
        }
        let victim = slot_owner(s);
        let old = pte_zap(s, victim.1);
        pte_set(s, pte_hi(vsid, va, sec), lo);
        set_slot(s, owner, wired);
        EVICTIONS.fetch_add(1, Ordering::Relaxed);
        if victim.0 == DIRECT_CTX {
            DIRECT_EVICTIONS.fetch_add(1, Ordering::Relaxed);
        }
        pmap_attr_save(old, ModSrc::MappingEviction, victim);
        return Some((s, Some(victim)));
    }
    None
}

/// The physical page and cache bits of a kernel direct-map address on a
/// CPU without BATs: RAM 1:1, the devices in segment 15.
fn direct_map(va: u32) -> Option<(u32, u32)> {
    if va < RAM_END.load(Ordering::Relaxed) {
        Some((va & !(PAGE_SIZE - 1), PTE_M))
    } else if va >= IO_VA_970 {
        Some(((va - IO_VA_970 + IO_PA) & !(PAGE_SIZE - 1), PTE_IG))
    } else {
        None
    }
}

/// The 970's direct map, from the trap vector with translation off
/// (OpenBSD pte_spill_r): a kernel access to RAM or to the devices that
/// found no PTE gets one, read/write, on no pv list; an eviction may take
/// it out again later, crediting its R/C bits to the page it maps.
/// Returns 1 when it made the entry (the access is retried), 0 when the
/// address is not the direct map's. Runs on the spill stack; touches only
/// static memory (no lock, no heap), as nothing it could wait for or fault
/// on is there in real mode.
#[no_mangle]
extern "C" fn pte_spill_r(va: u32) -> u32 {
    let Some((pa, wimg)) = direct_map(va) else { return 0 };
    let page = va & !(PAGE_SIZE - 1);
    pte_insert(vsid(KERNEL_CTX, page), page, pa | wimg | PP_KERNEL, (DIRECT_CTX, page), false).is_some() as u32
}

/// On a CPU without BATs, before translation goes on (real mode): wired
/// 1:1 PTEs for low memory (the vectors), the kernel image up to `end` —
/// code, data, the boot and trap stacks — and the table `table`, so that
/// nothing the trap path or the pmap touches can fault; the rest of RAM below `ram_end` and the devices are
/// spilled on demand. Then SDR1 and the segment registers, as
/// pmap_bootstrap does.
pub fn pmap_bootstrap_nobat(end: u32, ram_end: u32, table: MemRange) {
    RAM_END.store(ram_end, Ordering::Relaxed);
    let wire = |from: u32, to: u32| {
        let mut va = from;
        while va < to {
            let ok = pte_insert(vsid(KERNEL_CTX, va), va, va | PTE_M | PP_KERNEL, (DIRECT_CTX, va), true);
            if ok.is_none() {
                // Real mode, no console yet: nothing to do but stop here.
                loop {
                    core::hint::spin_loop();
                }
            }
            va += PAGE_SIZE;
        }
    };
    extern "C" {
        static _start: u8;
    }
    // Low memory (the vectors and the trap code's save words), the image,
    // the table; RAM between the vectors and the image is the page
    // allocator's, spilled like the rest.
    let image = core::ptr::addr_of!(_start) as u32 & !(PAGE_SIZE - 1);
    wire(0, 0x4000);
    wire(image, end);
    wire(table.start, table.start + table.size);
    load_sdr1_and_segments();
}

/// One mapping, in software.
#[derive(Clone, Copy, Debug)]
struct Pted {
    pa: u32,
    prot: Prot,
    wired: bool,
    /// Index of its hardware slot while it is loaded.
    slot: Option<u32>,
}

impl Pted {
    fn pte_lo(&self, user: bool) -> u32 {
        let pp = match (user, self.prot.contains(Prot::WRITE)) {
            (false, true) => PP_KERNEL,
            (true, true) => PP_USER_RW,
            (_, false) => PP_RO,
        };
        (self.pa & !(PAGE_SIZE - 1)) | PTE_M | pp
    }
}

#[derive(Default)]
struct PmapData {
    ptes: BTreeMap<u32, Pted>,
}

struct PmapState {
    pmaps: BTreeMap<u32, PmapData>,
    /// pv lists: the (ctx, va) mappings of each managed page, by page index.
    pv: BTreeMap<u32, Vec<(u32, u32)>>,
    next_ctx: u32,
    /// Contexts of destroyed pmaps, to be used again: every mapping of
    /// theirs is gone from the table and the TLB (pmap_destroy).
    free_ctx: Vec<u32>,
    /// The process address space loaded into segments 1–11.
    active: u32,
}

static PMAP: Once<Mutex<PmapState>> = Once::new();

fn pmap_state() -> &'static Mutex<PmapState> {
    PMAP.get().expect("pmap_bootstrap not done")
}

/// A process address space (or the kernel's); a handle on its context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pmap(u32);

pub const PMAP_KERNEL: Pmap = Pmap(KERNEL_CTX);

/// Points SDR1 at the table, loads every segment register with the
/// kernel's VSIDs and flushes what the TLB holds from Open Firmware.
fn load_sdr1_and_segments() {
    let htab = HTAB_PA.load(Ordering::Relaxed);
    let bytes = HTAB_BYTES.load(Ordering::Relaxed);
    // SAFETY: the table is RAM aligned to its size as SDR1 requires. On
    // the G4 the kernel runs under its BATs, on the 970 in real mode here,
    // so switching tables and segments moves nothing in use.
    unsafe {
        if ppc_proc_is_64b() {
            // HTABSIZE: log2 of the size over 256 KiB. The register is 64
            // bits wide; its upper half is cleared first (clrldi r11,r11,32).
            let sdr1 = htab | (bytes.trailing_zeros() - 18);
            asm!("mr 11, {0}", ".long 0x796b0020", "sync", "mtspr 25, 11", "isync", in(reg) sdr1, out("r11") _);
        } else {
            // HTABMASK: the size in 64 KiB units, less one.
            asm!("sync", "mtspr 25, {0}", "isync", in(reg) htab | ((bytes >> 16) - 1));
        }
        for sr in 0..16u32 {
            asm!("mtsrin {0}, {1}", in(reg) SR_KP | vsid(KERNEL_CTX, sr << 28), in(reg) sr << 28);
        }
        asm!("isync");
    }
    // One tlbie per congruence class: 64 on the G4, 256 on the 970.
    let classes = if ppc_proc_is_64b() { 256 } else { 64 };
    for i in 0..classes {
        tlbie(i * PAGE_SIZE);
    }
}

/// The pmap's own state, once the heap exists. On the G4 this is also
/// where the table takes over from Open Firmware's; the 970 did that in
/// `pmap_bootstrap_nobat`, before it could run translated at all.
pub fn pmap_bootstrap() {
    let mut pmaps = BTreeMap::new();
    pmaps.insert(KERNEL_CTX, PmapData::default());
    PMAP.call_once(|| {
        let st = PmapState { pmaps, pv: BTreeMap::new(), next_ctx: 1, free_ctx: Vec::new(), active: KERNEL_CTX };
        Mutex::new(Ipl::Vm, st)
    });
    if !ppc_proc_is_64b() {
        load_sdr1_and_segments();
    }
}

/// Most contexts: a VSID is 24 bits, four of them the segment number.
const NCTX: u32 = 1 << 20;

/// A new address space: a destroyed one's context if there is one (as
/// OpenBSD's pmap reuses its VSIDs), else a fresh one; None when 2^20
/// address spaces are alive at once.
pub fn pmap_create() -> Option<Pmap> {
    let mut st = pmap_state().lock();
    let ctx = match st.free_ctx.pop() {
        Some(c) => c,
        None if st.next_ctx < NCTX => {
            st.next_ctx += 1;
            st.next_ctx - 1
        }
        None => return None,
    };
    st.pmaps.insert(ctx, PmapData::default());
    Some(Pmap(ctx))
}

/// Removes every mapping and forgets the context.
pub fn pmap_destroy(pm: Pmap) {
    assert_ne!(pm, PMAP_KERNEL, "pmap_destroy of the kernel pmap");
    pmap_remove(pm, 0, u32::MAX);
    let mut st = pmap_state().lock();
    let gone = st.pmaps.remove(&pm.0);
    assert!(gone.is_some_and(|d| d.ptes.is_empty()), "pmap_destroy: context {} still has mappings", pm.0);
    if st.active == pm.0 {
        st.active = KERNEL_CTX;
    }
    st.free_ctx.push(pm.0);
}

/// Runs `f` with the pmap's lock held (a self-test of what must still
/// work under it: a panic's stack trace).
pub fn pmap_locked<R>(f: impl FnOnce() -> R) -> R {
    let _g = pmap_state().lock();
    f()
}

/// The context number of `pm` (for the self-tests).
pub fn pmap_ctx(pm: Pmap) -> u32 {
    pm.0
}

/// Loads `pm`'s segments 1–11 (a process about to run): all the process's
/// on both CPUs (the 970 reaches the devices through segment 15).
pub fn pmap_activate(pm: Pmap) {
    pmap_state().lock().active = pm.0;
    let is64 = ppc_proc_is_64b();
    for sr in USER_SR_FIRST..=USER_SR_LAST {
        // SAFETY: user segments are never used by kernel code or data except
        // through copyin/copyout, which mean the current process.
        unsafe {
            if is64 {
                // The 970 keeps segments in its SLB, and a translation cached
                // from the old entry outlives an mtsrin over it (QEMU's does):
                // slbie the old one first (slbie r11).
                asm!("mr 11, {0}", ".long 0x7c005b64", in(reg) sr << 28, out("r11") _);
            }
            asm!("mtsrin {0}, {1}", "isync", in(reg) SR_KP | vsid(pm.0, sr << 28), in(reg) sr << 28);
        }
    }
}

fn is_user(va: u32) -> bool {
    (USER_MIN..USER_MAX).contains(&va)
}

impl PmapState {
    /// Takes a loaded mapping out of the hardware table, its R/C into its
    /// page. A slot the spill took meanwhile is left alone (the spill
    /// already credited this mapping's bits).
    fn pte_unload(&mut self, ctx: u32, va: u32) {
        let Some(pted) = self.pmaps.get_mut(&ctx).and_then(|p| p.ptes.get_mut(&va)) else { return };
        let Some(s) = pted.slot.take() else { return };
        if slot_is(s, ctx, va) {
            let lo = pte_zap(s, va);
            pmap_attr_save(lo, ModSrc::MappingUnload, (ctx, va));
        }
    }

    /// Puts a mapping into the hardware table, evicting if both groups of
    /// its hash are full.
    fn pte_load(&mut self, ctx: u32, va: u32) {
        let pted = self.pmaps[&ctx].ptes[&va];
        let lo = pted.pte_lo(is_user(va));
        let Some((s, victim)) = pte_insert(vsid(ctx, va), va, lo, (ctx, va), pted.wired) else {
            panic!("pmap: both PTE groups of {va:#x} are full of wired mappings");
        };
        self.pmaps.get_mut(&ctx).unwrap().ptes.get_mut(&va).unwrap().slot = Some(s);
        if let Some((vctx, vva)) = victim.filter(|v| v.0 != DIRECT_CTX) {
            if let Some(t) = self.pmaps.get_mut(&vctx).and_then(|p| p.ptes.get_mut(&vva)) {
                t.slot = None;
            }
        }
    }

    fn pv_enter(&mut self, pg: &VmPage, ctx: u32, va: u32) {
        self.pv.entry(pg.index()).or_default().push((ctx, va));
    }

    fn pv_remove(&mut self, pa: u32, ctx: u32, va: u32) {
        let Some(pg) = phys_to_vm_page(pa) else { return };
        if let Some(list) = self.pv.get_mut(&pg.index()) {
            list.retain(|&e| e != (ctx, va));
            if list.is_empty() {
                self.pv.remove(&pg.index());
            }
        }
    }

    fn remove_one(&mut self, ctx: u32, va: u32) {
        self.pte_unload(ctx, va);
        if let Some(pted) = self.pmaps.get_mut(&ctx).and_then(|p| p.ptes.remove(&va)) {
            self.pv_remove(pted.pa, ctx, va);
        }
    }

    fn set_prot(&mut self, ctx: u32, va: u32, prot: Prot) {
        self.pte_unload(ctx, va);
        if let Some(t) = self.pmaps.get_mut(&ctx).and_then(|p| p.ptes.get_mut(&va)) {
            t.prot = prot;
        }
        self.pte_load(ctx, va);
    }

    /// The loaded slots of `pg`'s mappings, as (slot, ctx, va).
    fn pv_slots(&self, pg: &VmPage) -> Vec<(u32, u32, u32)> {
        let Some(list) = self.pv.get(&pg.index()) else { return Vec::new() };
        list.iter().filter_map(|&(ctx, va)| self.pmaps.get(&ctx).and_then(|p| p.ptes.get(&va)).and_then(|t| t.slot).map(|s| (s, ctx, va))).collect()
    }

    /// Gathers the hardware R/C bits of every loaded mapping of `pg` into
    /// it. Only its pv list: direct-map entries are not seen (OpenBSD's
    /// pmap_test_attrs walks the pv list alone).
    fn sync_rc(&mut self, pg: &VmPage) {
        for (s, ctx, va) in self.pv_slots(pg) {
            if slot_is(s, ctx, va) {
                let lo = rd(lo_word(s));
                pmap_attr_save(lo, ModSrc::MappingSync, (ctx, va));
            }
        }
    }

    /// Clears `bits` (PTE_REF/PTE_CHG) in every loaded mapping of `pg`,
    /// again on its pv list only.
    fn clear_rc(&mut self, pg: &VmPage, bits: u32) {
        for (s, ctx, va) in self.pv_slots(pg) {
            if !slot_is(s, ctx, va) {
                continue;
            }
            // The TLB must forget the entry or it would not set the bits
            // again on the next access.
            let vw = v_word(s);
            let hi = rd(vw);
            let vbit = valid_bit();
            wr(vw, hi & !vbit);
            tlbie(va);
            wr(lo_word(s), rd(lo_word(s)) & !bits);
            crate::arch::cpu::eieio();
            wr(vw, hi);
            sync();
        }
    }
}

/// Maps `va` to `pa` in `pm` with `prot`; a previous mapping of `va` is
/// replaced. Wired mappings are never evicted from the hardware table.
pub fn pmap_enter(pm: Pmap, va: u32, pa: u32, prot: Prot, wired: bool) {
    let va = va & !(PAGE_SIZE - 1);
    let mut st = pmap_state().lock();
    st.remove_one(pm.0, va);
    let pted = Pted { pa, prot, wired, slot: None };
    st.pmaps.get_mut(&pm.0).expect("pmap_enter: no such pmap").ptes.insert(va, pted);
    if let Some(pg) = phys_to_vm_page(pa) {
        if pm != PMAP_KERNEL || !wired {
            st.pv_enter(pg, pm.0, va);
        }
    }
    st.pte_load(pm.0, va);
}

/// Removes the mappings of [sva, eva).
pub fn pmap_remove(pm: Pmap, sva: u32, eva: u32) {
    let mut st = pmap_state().lock();
    // One mapping at a time, allocating nothing: a process's exit removes
    // thousands, often when memory is short (a list of them once needed
    // 32 KiB of heap, under this lock, at the end of a memory hog).
    while let Some(va) = st.pmaps.get(&pm.0).and_then(|p| p.ptes.range(sva..eva).next().map(|(&va, _)| va)) {
        st.remove_one(pm.0, va);
    }
}

/// Lowers the protection of [sva, eva); no READ removes the mappings.
pub fn pmap_protect(pm: Pmap, sva: u32, eva: u32, prot: Prot) {
    if !prot.contains(Prot::READ) {
        return pmap_remove(pm, sva, eva);
    }
    let mut st = pmap_state().lock();
    let mut from = sva;
    while let Some(va) = st.pmaps.get(&pm.0).and_then(|p| p.ptes.range(from..eva).next().map(|(&va, _)| va)) {
        let old = st.pmaps[&pm.0].ptes[&va].prot;
        st.set_prot(pm.0, va, old & prot);
        match va.checked_add(1) {
            Some(next) => from = next,
            None => break,
        }
    }
}

/// Lowers the protection of every mapping of a page (NONE unmaps it).
pub fn pmap_page_protect(pg: &VmPage, prot: Prot) {
    let mut st = pmap_state().lock();
    let maps = st.pv.get(&pg.index()).cloned().unwrap_or_default();
    for (ctx, va) in maps {
        if prot.contains(Prot::READ) {
            let old = st.pmaps[&ctx].ptes[&va].prot;
            st.set_prot(ctx, va, old & prot);
        } else {
            st.remove_one(ctx, va);
        }
    }
}

/// A wired, unmanaged kernel mapping (kernel stacks, temporary windows).
pub fn pmap_kenter_pa(va: u32, pa: u32, prot: Prot) {
    assert!(va >= KVA_MIN, "pmap_kenter_pa: {va:#x} is not kernel virtual memory");
    pmap_enter(PMAP_KERNEL, va, pa, prot, true);
}

pub fn pmap_kremove(va: u32, len: u32) {
    pmap_remove(PMAP_KERNEL, va, va + len);
}

pub fn pmap_extract(pm: Pmap, va: u32) -> Option<u32> {
    let st = pmap_state().lock();
    let pted = st.pmaps.get(&pm.0)?.ptes.get(&(va & !(PAGE_SIZE - 1)))?;
    Some(pted.pa | (va & (PAGE_SIZE - 1)))
}

pub fn pmap_is_modified(pg: &VmPage) -> bool {
    pmap_state().lock().sync_rc(pg);
    pg.flags().contains(PgFlags::PG_PMAP_MOD)
}

/// Records that the kernel wrote `pg` for a process (copyout through the
/// kernel's own mapping, which sets no changed bit in a PTE).
pub fn pmap_set_modify(pg: &VmPage) {
    pg.set_pmap_mod(ModSrc::KernelWrite, 0, 0);
}

/// pmap_is_modified for the debugger: None if the pmap is locked.
pub fn pmap_is_modified_try(pg: &VmPage) -> Option<bool> {
    pmap_state().try_lock()?.sync_rc(pg);
    Some(pg.flags().contains(PgFlags::PG_PMAP_MOD))
}

pub fn pmap_is_referenced(pg: &VmPage) -> bool {
    pmap_state().lock().sync_rc(pg);
    pg.flags().contains(PgFlags::PG_PMAP_REF)
}

/// Clears one R/C bit in the page and every PTE of it; returns whether it
/// was set.
fn clear_bit(pg: &VmPage, pte_bit: u32, flag: PgFlags) -> bool {
    let mut st = pmap_state().lock();
    st.sync_rc(pg);
    let was = pg.flags().contains(flag);
    st.clear_rc(pg, pte_bit);
    pg.clear_flags(flag);
    was
}

/// Clears the modified bit; returns whether it was set.
pub fn pmap_clear_modify(pg: &VmPage) -> bool {
    clear_bit(pg, PTE_CHG, PgFlags::PG_PMAP_MOD)
}

/// Clears the referenced bit; returns whether it was set.
pub fn pmap_clear_reference(pg: &VmPage) -> bool {
    clear_bit(pg, PTE_REF, PgFlags::PG_PMAP_REF)
}

/// Reloads an evicted mapping after a "no translation" fault on `va`;
/// false if neither the kernel nor the active process maps it.
pub fn pte_spill(va: u32) -> bool {
    // A fault inside the pmap itself is a bug for panic to report.
    let Some(mut st) = pmap_state().try_lock() else { return false };
    let ctx = if is_user(va) { st.active } else { KERNEL_CTX };
    let va = va & !(PAGE_SIZE - 1);
    match st.pmaps.get(&ctx).and_then(|p| p.ptes.get(&va)) {
        Some(t) if !t.slot.is_some_and(|s| slot_is(s, ctx, va)) => {
            st.pte_load(ctx, va);
            true
        }
        _ => false,
    }
}

/// Up to `n` kernel addresses nothing maps (segments 14 and 12; 13 holds
/// the thread stacks) whose pages hash, as the kernel's, to the same pair
/// of PTE groups as the kernel's `va`: VSID (the segment) xor page index,
/// modulo the groups. For the self-tests that fill a pair of groups.
pub fn pmap_colliding_kvas(va: u32, n: usize) -> Vec<u32> {
    let mask = ptegs() - 1;
    let target = hash(vsid(KERNEL_CTX, va), va) & mask;
    let mut vas = Vec::new();
    for sr in [14u32, 12] {
        let mut p = (target ^ hash(vsid(KERNEL_CTX, sr << 28), sr << 28)) & mask;
        while p < 0x1_0000 && vas.len() < n {
            let va = (sr << 28) | (p << 12);
            if pmap_extract(PMAP_KERNEL, va).is_none() {
                vas.push(va);
            }
            p += mask + 1;
        }
    }
    vas
}

/// For `test=direct-map-p0`: enters unwired kernel mappings (segments 12
/// and 14, addresses nothing else uses) whose hash is that of the direct-map
/// entry for physical page `pa`, removing and entering them again, until an
/// eviction takes that entry (its R/C then go to the page, as any eviction
/// does); then removes them. Whether it was evicted; false at once when
/// the CPU has no direct-map entries (BATs), or after 256 rounds (the
/// table must be small enough for 16 such addresses: physmem=24M).
pub fn pmap_evict_direct_probe(pa: u32) -> bool {
    if !ppc_proc_is_64b() {
        return false;
    }
    let mask = ptegs() - 1;
    let vas = pmap_colliding_kvas(pa, 24);
    let page = pa & !(PAGE_SIZE - 1);
    let gone = || -> bool {
        let h = hash(vsid(KERNEL_CTX, page), page);
        ![h & mask, !h & mask].iter().any(|&g| (0..8).any(|i| slot_is(g * 8 + i, DIRECT_CTX, page)))
    };
    // The entry must be there to begin with: touch the page.
    // SAFETY: a read of a RAM page through the kernel's 1:1 map.
    let _ = unsafe { core::ptr::read_volatile(page as *const u32) };
    let mut evicted = false;
    let mut lcg = pa | 1;
    for _ in 0..256 {
        for &va in &vas {
            // The time base picks the victim; under -icount it would step
            // in lockstep with the same loop, round after round: a wait of
            // pseudo-random length between entries.
            lcg = lcg.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            for _ in 0..(lcg >> 16) % 251 {
                core::hint::spin_loop();
            }
            // Any unmanaged frame will do: the kernel's first text page.
            pmap_enter(PMAP_KERNEL, va, 0x0010_0000, Prot::READ, false);
            if gone() {
                evicted = true;
                break;
            }
        }
        for &va in &vas {
            pmap_remove(PMAP_KERNEL, va, va + PAGE_SIZE);
        }
        if evicted {
            break;
        }
    }
    evicted
}

/// The hardware table's PTE groups.
pub fn pmap_ptegs() -> u32 {
    ptegs()
}

/// Hardware-table evictions since boot.
pub fn pmap_evictions() -> u32 {
    EVICTIONS.load(Ordering::Relaxed)
}

/// Of those, evictions of the kernel's direct-map entries (970 only).
pub fn pmap_direct_evictions() -> u32 {
    DIRECT_EVICTIONS.load(Ordering::Relaxed)
}

/// Whether kernel virtual address `va` is mapped, for the stack walker:
/// a try-lock, since a panic may come from inside the pmap.
pub fn pmap_kernel_mapped(va: u32) -> bool {
    let Some(st) = PMAP.get().and_then(|m| m.try_lock()) else { return false };
    st.pmaps.get(&KERNEL_CTX).is_some_and(|p| p.ptes.contains_key(&(va & !(PAGE_SIZE - 1))))
}
