//! The kernel heap for small objects, on linked_list_allocator. It starts
//! in a static arena (the page allocator needs the heap's help to come up)
//! and grows in chunks of physically contiguous pages taken from the page
//! allocator, reached through the 1:1 BAT mapping. Allocation is guarded at
//! IPL_HIGH so an interrupt handler never finds the heap half-updated; when
//! no chunk can be had the allocation fails and Rust reports it as a panic
//! naming the size.

use crate::arch::intr::Ipl;
use crate::kern::kern_mutex::Mutex;
use crate::uvm::uvm_page::{uvm_pglistalloc_contig, PAGE_SIZE};
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use linked_list_allocator::Heap;

const ARENA_SIZE: usize = 256 * 1024;
/// Pages per chunk added when the heap runs out (256 KiB), when that many
/// contiguous pages can be had; else just enough for the allocation, since
/// user memory may have left only short runs of free pages.
const CHUNK_PAGES: u32 = 64;
/// Chunks the heap may have: short ones come when memory is fragmented, so
/// this is well above what RAM divided by CHUNK_PAGES needs.
const MAXCHUNKS: usize = 1024;

#[repr(C, align(4096))]
struct Arena([u8; ARENA_SIZE]);
static mut ARENA: Arena = Arena([0; ARENA_SIZE]);

struct Heaps {
    chunks: [Option<Heap>; MAXCHUNKS],
    /// Bytes of memory the heap has taken from the page allocator.
    grown: usize,
}

struct KernelHeap(Mutex<Heaps>);

#[global_allocator]
static HEAP: KernelHeap = KernelHeap(Mutex::new(Ipl::High, Heaps { chunks: [const { None }; MAXCHUNKS], grown: 0 }));

pub fn kmeminit() {
    let mut h = Heap::empty();
    // SAFETY: ARENA is handed to the allocator exactly once and never
    // touched directly again.
    unsafe { h.init(core::ptr::addr_of_mut!(ARENA) as *mut u8, ARENA_SIZE) };
    HEAP.0.lock().chunks[0] = Some(h);
}

/// Free bytes over all chunks.
pub fn heap_free() -> usize {
    HEAP.0.lock().chunks.iter().flatten().map(Heap::free).sum()
}

/// Grows the heap at boot until `bytes` are free in it, so that the
/// buffer cache and the other steady users find their memory there later,
/// when free pages are short and rarely contiguous. False if the page
/// allocator ran out first.
pub fn kmem_reserve(bytes: usize) -> bool {
    let mut h = HEAP.0.lock();
    while h.chunks.iter().flatten().map(Heap::free).sum::<usize>() < bytes {
        if h.grow(Layout::new::<u8>()).is_none() {
            return false;
        }
    }
    true
}

/// Adds one chunk for `layout`, as an allocation that found no room would;
/// its size in pages (for the self-test of the short-chunk fallback).
pub fn kmem_grow(layout: Layout) -> Option<u32> {
    HEAP.0.lock().grow(layout)
}

/// Bytes taken from the page allocator so far.
/// Allocations asked of the heap since boot (a test's check that a path
/// allocates nothing).
static KMEM_ALLOCS: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

pub fn kmem_allocs() -> u32 {
    KMEM_ALLOCS.load(core::sync::atomic::Ordering::Relaxed)
}

pub fn heap_grown() -> usize {
    HEAP.0.lock().grown
}

impl Heaps {
    fn alloc(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        self.chunks.iter_mut().flatten().find_map(|h| h.allocate_first_fit(layout).ok())
    }

    /// Adds a chunk big enough for `layout` from the page allocator; its
    /// size in pages.
    fn grow(&mut self, layout: Layout) -> Option<u32> {
        let slot = self.chunks.iter().position(Option::is_none)?;
        let need = (layout.size() + layout.align() + 64).div_ceil(PAGE_SIZE as usize) as u32;
        let mut sizes = core::iter::once(need.max(CHUNK_PAGES)).chain((need < CHUNK_PAGES).then_some(need));
        let (pa, npages) = sizes.find_map(|n| uvm_pglistalloc_contig(n).map(|pa| (pa, n)))?;
        let mut h = Heap::empty();
        // SAFETY: the pages were just taken off the free list for good; they
        // are RAM, mapped 1:1 by BAT0, and nothing else refers to them.
        unsafe { h.init(pa as *mut u8, (npages * PAGE_SIZE) as usize) };
        self.chunks[slot] = Some(h);
        self.grown += (npages * PAGE_SIZE) as usize;
        Some(npages)
    }
}

// SAFETY: each Heap hands out disjoint, suitably aligned blocks of its own
// chunk; the mutex serialises every use.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        KMEM_ALLOCS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        let mut h = self.0.lock();
        if let Some(p) = h.alloc(layout) {
            return p.as_ptr();
        }
        if h.grow(layout).is_some() {
            if let Some(p) = h.alloc(layout) {
                return p.as_ptr();
            }
        }
        core::ptr::null_mut()
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let mut h = self.0.lock();
        let a = ptr as usize;
        let chunk = h.chunks.iter_mut().flatten().find(|c| (c.bottom() as usize..c.top() as usize).contains(&a));
        match chunk {
            // SAFETY: the caller passes a block this allocator handed out,
            // and it lies in this chunk.
            Some(c) => unsafe { c.deallocate(NonNull::new_unchecked(ptr), layout) },
            None => panic!("free: {a:#x} is not in the kernel heap"),
        }
    }
}
