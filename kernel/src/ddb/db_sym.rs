//! The kernel's own symbol table, handed over by the boot stub.

use core::fmt;
use kcore::bootinfo::BootInfo;
use kcore::ksyms::{short_name, NameBuf, SymTab};
use spin::Once;

static SYMTAB: Once<SymTab<'static>> = Once::new();

pub fn db_sym_init(bi: &BootInfo) {
    if bi.symtab.size == 0 {
        return;
    }
    // SAFETY: the stub copied .symtab and .strtab to these ranges and marked
    // them used, so nothing else will ever be placed there.
    let (syms, strs) = unsafe {
        (
            core::slice::from_raw_parts(bi.symtab.start as *const u8, bi.symtab.size as usize),
            core::slice::from_raw_parts(bi.strtab.start as *const u8, bi.strtab.size as usize),
        )
    };
    SYMTAB.call_once(|| SymTab::new(syms, strs));
}

/// A function's short name, owned so it can be printed after the lookup.
pub struct SymName {
    buf: [u8; 96],
    len: usize,
}

impl SymName {
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("?")
    }
}

impl fmt::Display for SymName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The short name of the function containing `addr`, and the offset.
pub fn lookup(addr: u32) -> Option<(SymName, u32)> {
    let (raw, off) = SYMTAB.get()?.lookup(addr)?;
    let mut nb = NameBuf::new();
    let short = short_name(raw, &mut nb).as_bytes();
    let mut name = SymName { buf: [0; 96], len: short.len().min(96) };
    name.buf[..name.len].copy_from_slice(&short[..name.len]);
    Some((name, off))
}

pub fn address_of(short: &str) -> Option<u32> {
    SYMTAB.get()?.address_of(short)
}
