//! The UVM virtual memory system: physical pages and their queues,
//! kernel virtual memory, process address spaces, and the vnode pager.

pub mod uvm_extern;
pub mod uvm_km;
pub mod uvm_map;
pub mod uvm_mmap;
pub mod uvm_page;
pub mod uvm_pager;
pub mod uvm_pdaemon;
pub mod uvm_vnode;
