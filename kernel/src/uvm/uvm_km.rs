//! Kernel virtual memory (OpenBSD uvm_km.c): thread stacks, each with an
//! unmapped guard page below it so an overflow faults instead of
//! overwriting whatever lies beneath.

use crate::arch::intr::Ipl;
use crate::arch::pmap::{pmap_kenter_pa, pmap_kremove, KVA_MIN};
use crate::kern::kern_mutex::Mutex;
use crate::uvm::uvm_extern::Prot;
use crate::uvm::uvm_page::{phys_to_vm_page, uvm_pagealloc, uvm_pagefree, Pga, PAGE_SIZE};
use alloc::vec::Vec;

/// Pages of a kernel stack (16 KiB), not counting its guard page.
pub const KSTACK_PAGES: u32 = 4;
const SLOT: u32 = (KSTACK_PAGES + 1) * PAGE_SIZE;
/// Stacks live in segment 13.
const KSTACK_BASE: u32 = KVA_MIN + 0x1000_0000;
const KSTACK_SLOTS: u32 = 0x1000_0000 / SLOT;

struct KvaState {
    next: u32,
    free: Vec<u32>,
}

static KVA: Mutex<KvaState> = Mutex::new(Ipl::Vm, KvaState { next: 0, free: Vec::new() });

/// A kernel stack: `bottom..top` is mapped, the page below `bottom` is not.
#[derive(Debug)]
pub struct KStack {
    pub bottom: u32,
    pub top: u32,
}

/// Allocates and maps a stack; None when pages or address space run out.
pub fn uvm_km_kstack_alloc() -> Option<KStack> {
    let slot = {
        let mut k = KVA.lock();
        match k.free.pop() {
            Some(s) => s,
            None if k.next < KSTACK_SLOTS => {
                k.next += 1;
                k.next - 1
            }
            None => return None,
        }
    };
    let bottom = KSTACK_BASE + slot * SLOT + PAGE_SIZE;
    for i in 0..KSTACK_PAGES {
        let Some(pg) = uvm_pagealloc(Pga::UseReserve) else {
            let st = KStack { bottom, top: bottom + i * PAGE_SIZE };
            uvm_km_kstack_free(st);
            return None;
        };
        pmap_kenter_pa(bottom + i * PAGE_SIZE, pg.phys_addr(), Prot::RW);
    }
    Some(KStack { bottom, top: bottom + KSTACK_PAGES * PAGE_SIZE })
}

/// Unmaps a stack and returns its pages and its address slot.
pub fn uvm_km_kstack_free(st: KStack) {
    let mut va = st.bottom;
    while va < st.top {
        if let Some(pg) = crate::arch::pmap::pmap_extract(crate::arch::pmap::PMAP_KERNEL, va).and_then(phys_to_vm_page) {
            pmap_kremove(va, PAGE_SIZE);
            uvm_pagefree(pg);
        }
        va += PAGE_SIZE;
    }
    KVA.lock().free.push((st.bottom - PAGE_SIZE - KSTACK_BASE) / SLOT);
}
