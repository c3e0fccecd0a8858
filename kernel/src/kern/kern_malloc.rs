//! The kernel heap for small objects, on linked_list_allocator. Allocation
//! is guarded at IPL_HIGH so an interrupt handler can never find the heap
//! half-updated.

use crate::arch::powerpc::intr::Ipl;
use crate::kern::kern_mutex::Mutex;
use core::alloc::{GlobalAlloc, Layout};
use linked_list_allocator::Heap;

pub const HEAP_SIZE: usize = 1 << 20;

#[repr(C, align(4096))]
struct Arena([u8; HEAP_SIZE]);
static mut ARENA: Arena = Arena([0; HEAP_SIZE]);

struct KernelHeap(Mutex<Heap>);

#[global_allocator]
static HEAP: KernelHeap = KernelHeap(Mutex::new(Ipl::High, Heap::empty()));

pub fn kmeminit() {
    // SAFETY: ARENA is handed to the allocator exactly once and never
    // touched directly again.
    unsafe { HEAP.0.lock().init(core::ptr::addr_of_mut!(ARENA) as *mut u8, HEAP_SIZE) };
}

pub fn heap_free() -> usize {
    HEAP.0.lock().free()
}

// SAFETY: Heap hands out disjoint, suitably aligned blocks; the mutex
// serialises every use.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.0.lock().allocate_first_fit(layout).map_or(core::ptr::null_mut(), |p| p.as_ptr())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller passes a block this allocator handed out.
        unsafe { self.0.lock().deallocate(core::ptr::NonNull::new_unchecked(ptr), layout) }
    }
}
