//! The physical map on the PowerPC hashed page table (OpenBSD pmap.c in
//! spirit, written anew).
//!
//! Address spaces: segments 0 and 8 are the kernel's BATs (RAM and I/O 1:1,
//! supervisor only), segments 1–11 belong to the current process, 12–15 are
//! kernel virtual memory. Each pmap has a context number; the VSID of its
//! segment `sr` is `ctx << 4 | sr` (context 0 is the kernel).
//!
//! Every mapping is kept in software (`Pted`); the hardware table is only
//! a cache of them. When both buckets of a hash are full, an unwired entry
//! of the secondary bucket is evicted, its referenced/changed bits saved in
//! the page; a later fault on it reloads it (`pte_spill`).

use crate::arch::powerpc::intr::Ipl;
use crate::kern::kern_mutex::Mutex;
pub use crate::uvm::uvm_extern::Prot;
use crate::uvm::uvm_page::{phys_to_vm_page, PgFlags, VmPage, PAGE_SIZE};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::arch::asm;
use spin::Once;

const HTAB_SIZE: usize = 256 * 1024;
const NPTEG: u32 = (HTAB_SIZE / 64) as u32;
const NSLOTS: usize = NPTEG as usize * 8;
/// SDR1 HTABMASK for a 256 KiB table (64 KiB << 2).
const HTABMASK: u32 = 0x3;

const PTE_VALID: u32 = 0x8000_0000;
const PTE_HID: u32 = 0x40;
const PTE_REF: u32 = 0x100;
const PTE_CHG: u32 = 0x080;
/// Memory coherence required: cacheable RAM.
const PTE_M: u32 = 0x010;
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

/// The hardware page table: 8-entry PTE groups of (hi, lo) words, at the
/// 256 KiB-aligned address SDR1 names. Reached only through PmapState
/// (taken once, at bootstrap), so the pmap mutex guards it.
#[repr(C, align(262144))]
struct Htab([[u32; 2]; NSLOTS]);
static mut HTAB: Htab = Htab([[0; 2]; NSLOTS]);
/// Who owns each hardware slot: (ctx, va), valid while the slot's V is set.
/// Also reached only through PmapState.
static mut SLOT_OWNER: [(u32, u32); NSLOTS] = [(0, 0); NSLOTS];

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

fn hash(vsid: u32, va: u32) -> u32 {
    (vsid & 0x7ffff) ^ ((va >> 12) & 0xffff)
}

fn pte_hi(vsid: u32, va: u32, secondary: bool) -> u32 {
    PTE_VALID | (vsid << 7) | if secondary { PTE_HID } else { 0 } | ((va >> 22) & 0x3f)
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
    victim: u32,
    evictions: u32,
    htab: &'static mut Htab,
    slot_owner: &'static mut [(u32, u32); NSLOTS],
}

static PMAP: Once<Mutex<PmapState>> = Once::new();

fn pmap_state() -> &'static Mutex<PmapState> {
    PMAP.get().expect("pmap_bootstrap not done")
}

/// A process address space (or the kernel's); a handle on its context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pmap(u32);

pub const PMAP_KERNEL: Pmap = Pmap(KERNEL_CTX);

/// Points SDR1 at our table and loads every segment register.
pub fn pmap_bootstrap() {
    let mut pmaps = BTreeMap::new();
    pmaps.insert(KERNEL_CTX, PmapData::default());
    PMAP.call_once(|| {
        // SAFETY: the only references ever made to the two tables, made
        // once (call_once); from here on the pmap mutex guards them.
        let (htab, slot_owner) = unsafe { (&mut *core::ptr::addr_of_mut!(HTAB), &mut *core::ptr::addr_of_mut!(SLOT_OWNER)) };
        let st = PmapState { pmaps, pv: BTreeMap::new(), next_ctx: 1, free_ctx: Vec::new(), active: KERNEL_CTX, victim: 0, evictions: 0, htab, slot_owner };
        Mutex::new(Ipl::Vm, st)
    });
    let htab = core::ptr::from_ref::<Htab>(pmap_state().lock().htab) as u32;
    // SAFETY: the table is zeroed .bss, 256 KiB aligned as SDR1 requires;
    // all kernel code and data run under the BATs, so switching tables and
    // segment registers does not move anything in use.
    unsafe {
        asm!("sync", "mtspr 25, {0}", "isync", in(reg) htab | HTABMASK);
        for sr in 0..16u32 {
            asm!("mtsrin {0}, {1}", in(reg) SR_KP | vsid(KERNEL_CTX, sr << 28), in(reg) sr << 28);
        }
        asm!("isync");
    }
    // Flush every translation Open Firmware left in the TLB.
    let mut ea = 0u32;
    while ea < 0x0004_0000 {
        tlbie(ea);
        ea += 0x1000;
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

/// Loads `pm`'s segments 1–11 (a process about to run).
pub fn pmap_activate(pm: Pmap) {
    pmap_state().lock().active = pm.0;
    for sr in USER_SR_FIRST..=USER_SR_LAST {
        // SAFETY: user segments are never used by kernel code or data except
        // through copyin/copyout, which mean the current process.
        unsafe { asm!("mtsrin {0}, {1}", "isync", in(reg) SR_KP | vsid(pm.0, sr << 28), in(reg) sr << 28) };
    }
}

fn is_user(va: u32) -> bool {
    (USER_MIN..USER_MAX).contains(&va)
}

impl PmapState {
    /// Saves the referenced/changed bits of a managed page's PTE.
    /// Word `w` (0 hi, 1 lo) of hardware slot `s`. Volatile: the MMU sets
    /// the referenced and changed bits behind the compiler's back.
    fn pte_word(&self, s: u32, w: usize) -> u32 {
        // SAFETY: a pointer made from a reference into the table.
        unsafe { core::ptr::read_volatile(&self.htab.0[s as usize][w]) }
    }

    fn set_pte_word(&mut self, s: u32, w: usize, v: u32) {
        // SAFETY: as pte_word.
        unsafe { core::ptr::write_volatile(&mut self.htab.0[s as usize][w], v) }
    }

    fn save_rc(&self, pa: u32, lo: u32) {
        if let Some(pg) = phys_to_vm_page(pa) {
            if lo & PTE_REF != 0 {
                pg.set_flags(PgFlags::PG_PMAP_REF);
            }
            if lo & PTE_CHG != 0 {
                pg.set_flags(PgFlags::PG_PMAP_MOD);
            }
        }
    }

    /// Takes a loaded mapping out of the hardware table.
    fn pte_unload(&mut self, ctx: u32, va: u32) {
        let Some(pted) = self.pmaps.get_mut(&ctx).and_then(|p| p.ptes.get_mut(&va)) else { return };
        let Some(s) = pted.slot.take() else { return };
        let pa = pted.pa;
        self.set_pte_word(s, 0, self.pte_word(s, 0) & !PTE_VALID);
        tlbie(va);
        let lo = self.pte_word(s, 1);
        self.save_rc(pa, lo);
    }

    /// Puts a mapping into the hardware table, evicting if both buckets
    /// of its hash are full.
    fn pte_load(&mut self, ctx: u32, va: u32) {
        let pted = self.pmaps[&ctx].ptes[&va];
        debug_assert!(pted.slot.is_none());
        let v = vsid(ctx, va);
        let h = hash(v, va);
        let lo = pted.pte_lo(is_user(va));
        let buckets = [(h & (NPTEG - 1), false), (!h & (NPTEG - 1), true)];
        let mut free = None;
        'find: for &(pteg, sec) in &buckets {
            for i in 0..8 {
                let s = pteg * 8 + i;
                if self.pte_word(s, 0) & PTE_VALID == 0 {
                    free = Some((s, sec));
                    break 'find;
                }
            }
        }
        let (s, sec) = match free {
            Some(f) => f,
            None => (self.evict(buckets[1].0), true),
        };
        // The slot is invalid, so the hardware is not using it while the
        // low word is written first.
        self.set_pte_word(s, 1, lo);
        crate::arch::cpu::eieio();
        self.set_pte_word(s, 0, pte_hi(v, va, sec));
        sync();
        self.slot_owner[s as usize] = (ctx, va);
        self.pmaps.get_mut(&ctx).unwrap().ptes.get_mut(&va).unwrap().slot = Some(s);
    }

    /// Frees a slot of the secondary PTEG by unloading an unwired mapping.
    fn evict(&mut self, pteg: u32) -> u32 {
        for k in 0..8 {
            let s = pteg * 8 + (self.victim + k) % 8;
            let (ctx, va) = self.slot_owner[s as usize];
            let wired = self.pmaps.get(&ctx).and_then(|p| p.ptes.get(&va)).is_some_and(|t| t.wired);
            if !wired {
                self.victim = self.victim.wrapping_add(k + 1);
                self.evictions += 1;
                self.pte_unload(ctx, va);
                return s;
            }
        }
        panic!("pmap: PTEG {pteg:#x} is full of wired mappings");
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

    /// Gathers the hardware R/C bits of every loaded mapping of `pg` into it.
    fn sync_rc(&mut self, pg: &VmPage) {
        let Some(list) = self.pv.get(&pg.index()) else { return };
        for &(ctx, va) in list {
            if let Some(s) = self.pmaps.get(&ctx).and_then(|p| p.ptes.get(&va)).and_then(|t| t.slot) {
                let lo = self.pte_word(s, 1);
                self.save_rc(pg.phys_addr(), lo);
            }
        }
    }

    /// Clears `bits` (PTE_REF/PTE_CHG) in every loaded mapping of `pg`.
    fn clear_rc(&mut self, pg: &VmPage, bits: u32) {
        let Some(list) = self.pv.get(&pg.index()) else { return };
        let loaded: Vec<(u32, u32)> =
            list.iter().filter_map(|&(ctx, va)| self.pmaps.get(&ctx).and_then(|p| p.ptes.get(&va)).and_then(|t| t.slot).map(|s| (s, va))).collect();
        for (s, va) in loaded {
            // The TLB must forget the entry or it would not set the bits
            // again on the next access.
            let hi = self.pte_word(s, 0);
            self.set_pte_word(s, 0, hi & !PTE_VALID);
            tlbie(va);
            self.set_pte_word(s, 1, self.pte_word(s, 1) & !bits);
            crate::arch::cpu::eieio();
            self.set_pte_word(s, 0, hi);
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
    pg.set_flags(PgFlags::PG_PMAP_MOD);
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
        Some(t) if t.slot.is_none() => {
            st.pte_load(ctx, va);
            true
        }
        _ => false,
    }
}

/// Hardware-table evictions since boot.
pub fn pmap_evictions() -> u32 {
    pmap_state().lock().evictions
}

/// Whether kernel virtual address `va` is mapped, for the stack walker:
/// a try-lock, since a panic may come from inside the pmap.
pub fn pmap_kernel_mapped(va: u32) -> bool {
    let Some(st) = PMAP.get().and_then(|m| m.try_lock()) else { return false };
    st.pmaps.get(&KERNEL_CTX).is_some_and(|p| p.ptes.contains_key(&(va & !(PAGE_SIZE - 1))))
}
