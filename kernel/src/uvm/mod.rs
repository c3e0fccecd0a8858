//! The UVM virtual memory system: physical pages and their queues,
//! kernel virtual memory, and process address spaces.

pub mod uvm_km;
pub mod uvm_map;
pub mod uvm_page;
