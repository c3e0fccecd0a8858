//! The kernel heap for small objects, on linked_list_allocator. It starts
//! in a static arena (the page allocator needs the heap's help to come up)
//! and grows in chunks of physically contiguous pages taken from the page
//! allocator, reached through the 1:1 map (a BAT, or the 970's direct map). Allocation is guarded at
//! IPL_HIGH so an interrupt handler never finds the heap half-updated.
//!
//! The heap is a kernel allocation, so it may take the pages of the
//! kernel's reserve that user pages leave free (uvm_page's RESERVE_KERNEL).
//! An allocation cannot sleep where it stands (a Rust allocation may come
//! with any lock held), so the sleeping is done up front: a system call
//! waits at its start until the heap has room for what one call allocates
//! (`kmem_wait`, as OpenBSD's malloc(M_WAITOK) would sleep inside), and
//! callers that allocate in proportion to what a process owns (map entries,
//! fork) ask `kmem_available` for their size and give ENOMEM. When no chunk
//! can be had after all, the allocation fails and Rust reports it as a
//! panic naming the size.

use crate::arch::intr::Ipl;
use crate::kern::kern_mutex::Mutex;
use crate::sys::errno::Errno;
use crate::uvm::uvm_page::{uvm_pglistalloc_contig, uvm_pglistfree_contig, Pga, PAGE_SIZE};
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
    /// Free bytes the heap keeps: a chunk that becomes empty goes back to
    /// the page allocator only above this (what kmem_reserve asked for at
    /// boot, and room for a system call).
    keep: usize,
}

struct KernelHeap(Mutex<Heaps>);

#[global_allocator]
static HEAP: KernelHeap = KernelHeap(Mutex::new(Ipl::High, Heaps { chunks: [const { None }; MAXCHUNKS], grown: 0, keep: KMEM_KEEP }));

pub fn kmeminit() {
    let mut h = Heap::empty();
    // SAFETY: ARENA is handed to the allocator exactly once and never
    // touched directly again.
    unsafe { h.init(core::ptr::addr_of_mut!(ARENA) as *mut u8, ARENA_SIZE) };
    HEAP.0.lock().chunks[0] = Some(h);
}

/// Free bytes over all chunks.
pub fn heap_free() -> usize {
    HEAP.0.lock().free()
}

/// Grows the heap at boot until `bytes` are free in it, so that the
/// buffer cache and the other steady users find their memory there later,
/// when free pages are short and rarely contiguous. False if the page
/// allocator ran out first.
pub fn kmem_reserve(bytes: usize) -> bool {
    let mut h = HEAP.0.lock();
    h.keep = h.keep.max(bytes);
    h.grow_to(bytes, Pga::User)
}

/// Free heap kept at least, however much is given back.
const KMEM_KEEP: usize = 4 * KMEM_SYSCALL;

/// Adds one chunk for `layout`, as an allocation that found no room would;
/// its size in pages (for the self-test of the short-chunk fallback).
pub fn kmem_grow(layout: Layout) -> Option<u32> {
    HEAP.0.lock().grow(layout, Pga::UseReserve)
}

/// Whether `bytes` more can be allocated without the kernel's page
/// reserve: the heap has them free, or grows until it has. For callers
/// whose need grows with what a process owns (its map entries, a fork's
/// copy), which fail with ENOMEM rather than take the last pages.
pub fn kmem_available(bytes: usize) -> bool {
    HEAP.0.lock().room(bytes, bytes.min(KMEM_BLOCK), Pga::User)
}

/// The largest block `room` makes sure of: one chunk's worth at most.
const KMEM_BLOCK: usize = 16 * 1024;

/// Free heap a system call waits for before it starts: what one call
/// allocates (an inode's 8 KiB, a path, a buffer), with a margin.
pub const KMEM_SYSCALL: usize = 32 * 1024;
/// How long a system call waits for the pagedaemon before ENOMEM, in
/// parts of a second (a quarter: memory that one pagedaemon pass cannot
/// free is not coming back soon).
const KMEM_WAIT_PART: u32 = 4;

/// Waits until the heap has `bytes` free, growing it (from the kernel's
/// reserve too) or sleeping for the pagedaemon (uvm_wait "kmem"); ENOMEM
/// when memory stays out (OpenBSD's malloc(M_WAITOK) sleeps there instead,
/// in a kernel that can sleep inside an allocation).
pub fn kmem_wait(bytes: usize) -> Result<(), Errno> {
    let mut waited = false;
    let mut ok = false;
    let start = crate::kern::kern_clock::ticks();
    let limit = (crate::kern::kern_clock::hz() / KMEM_WAIT_PART).max(1);
    while crate::kern::kern_clock::ticks().wrapping_sub(start) <= limit {
        if HEAP.0.lock().room(bytes, bytes.min(KMEM_BLOCK), Pga::UseReserve) {
            ok = true;
            break;
        }
        waited = true;
        crate::uvm::uvm_pdaemon::uvm_wait("kmem");
    }
    if waited {
        crate::diag::deadlock::memwait_end();
    }
    if ok {
        Ok(())
    } else {
        Err(Errno::ENOMEM)
    }
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

    fn free(&self) -> usize {
        self.chunks.iter().flatten().map(Heap::free).sum()
    }

    /// Whether `total` bytes are free and `block` of them in one piece,
    /// growing the heap as needed. Free bytes alone say little, as they
    /// may lie in holes too small for any allocation; with one free block
    /// of `block` bytes, allocations that together take less cannot fail:
    /// each fits in an earlier hole or in that block.
    fn room(&mut self, total: usize, block: usize, flags: Pga) -> bool {
        if !self.grow_to(total, flags) {
            return false;
        }
        let Ok(layout) = Layout::from_size_align(block.max(1), 8) else { return false };
        for h in self.chunks.iter_mut().flatten() {
            if let Ok(p) = h.allocate_first_fit(layout) {
                // SAFETY: the block was just handed out by this chunk.
                unsafe { h.deallocate(p, layout) };
                return true;
            }
        }
        self.grow(layout, flags).is_some()
    }

    /// Grows until `bytes` are free; false if the pages ran out first.
    fn grow_to(&mut self, bytes: usize, flags: Pga) -> bool {
        let chunk = (CHUNK_PAGES * PAGE_SIZE) as usize - 128;
        loop {
            let free = self.free();
            if free >= bytes {
                return true;
            }
            let step = Layout::from_size_align((bytes - free).min(chunk), 8).unwrap_or(Layout::new::<u8>());
            if self.grow(step, flags).is_none() {
                return false;
            }
        }
    }

    /// Gives chunk `i` back to the page allocator if nothing in
    /// it is allocated and the rest of the heap keeps enough free: memory
    /// that a process's many map entries took comes back when they go.
    fn release_empty(&mut self, i: usize) {
        // Chunk 0 is the static arena, not pages.
        let Some(c) = self.chunks[i].as_ref().filter(|c| i > 0 && c.used() == 0) else { return };
        let (base, size) = (c.bottom() as usize, c.size());
        if self.free() - size < self.keep {
            return;
        }
        self.chunks[i] = None;
        self.grown -= size;
        uvm_pglistfree_contig(base as u32, (size / PAGE_SIZE as usize) as u32);
    }

    /// Adds a chunk big enough for `layout` from the page allocator; its
    /// size in pages.
    fn grow(&mut self, layout: Layout, flags: Pga) -> Option<u32> {
        let slot = self.chunks.iter().position(Option::is_none)?;
        let need = (layout.size() + layout.align() + 64).div_ceil(PAGE_SIZE as usize) as u32;
        let mut sizes = core::iter::once(need.max(CHUNK_PAGES)).chain((need < CHUNK_PAGES).then_some(need));
        let (pa, npages) = sizes.find_map(|n| uvm_pglistalloc_contig(n, flags).map(|pa| (pa, n)))?;
        let mut h = Heap::empty();
        // SAFETY: the pages were just taken off the free list for good; they
        // are RAM, mapped 1:1 (BAT0, or the 970's direct map), and nothing else refers to them.
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
        if h.grow(layout, Pga::UseReserve).is_some() {
            if let Some(p) = h.alloc(layout) {
                return p.as_ptr();
            }
        }
        core::ptr::null_mut()
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let mut h = self.0.lock();
        let a = ptr as usize;
        let Some(i) = h.chunks.iter().position(|c| c.as_ref().is_some_and(|c| (c.bottom() as usize..c.top() as usize).contains(&a))) else {
            panic!("free: {a:#x} is not in the kernel heap")
        };
        if let Some(c) = h.chunks[i].as_mut() {
            // SAFETY: the caller passes a block this allocator handed out,
            // and it lies in this chunk.
            unsafe { c.deallocate(NonNull::new_unchecked(ptr), layout) };
        }
        h.release_empty(i);
    }
}
