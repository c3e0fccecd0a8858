//! The in-kernel debugger: symbols, and the prompt a panic drops into with
//! `ddb=1`.

pub mod db_command;
pub mod db_sym;
pub mod db_uvm;
