//! The UVM virtual memory system: physical pages and their queues.

pub mod uvm_km;
pub mod uvm_page;
