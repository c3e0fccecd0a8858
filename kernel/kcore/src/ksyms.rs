//! The kernel's symbol table (what the stub copied from `/bsd`), used to name
//! addresses in panic traces the way ddb does: `uvn_flush+0x820`.

use crate::elf::{Sym, SYM_SIZE};
use core::fmt::{self, Write};

pub struct SymTab<'a> {
    syms: &'a [u8],
    strs: &'a [u8],
}

impl<'a> SymTab<'a> {
    pub const fn new(syms: &'a [u8], strs: &'a [u8]) -> Self {
        SymTab { syms, strs }
    }

    pub fn is_empty(&self) -> bool {
        self.syms.len() < SYM_SIZE
    }

    fn iter(&self) -> impl Iterator<Item = Sym> + 'a {
        self.syms.chunks_exact(SYM_SIZE).map(Sym::parse)
    }

    fn name(&self, s: &Sym) -> &'a str {
        let tail = self.strs.get(s.name as usize..).unwrap_or(&[]);
        let n = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        core::str::from_utf8(&tail[..n]).unwrap_or("?")
    }

    /// The function containing `addr` and the offset into it. A zero-sized
    /// symbol (hand-written assembly) covers up to the next symbol.
    pub fn lookup(&self, addr: u32) -> Option<(&'a str, u32)> {
        let mut best: Option<Sym> = None;
        for s in self.iter().filter(|s| s.is_func() && s.value <= addr) {
            let inside = s.size == 0 || addr - s.value < s.size;
            if inside && best.is_none_or(|b| s.value > b.value || (s.value == b.value && s.size > b.size)) {
                best = Some(s);
            }
        }
        let s = best?;
        if s.size == 0 && addr - s.value > 0x1_0000 {
            return None;
        }
        Some((self.name(&s), addr - s.value))
    }

    /// Address of the function whose short name is `short`.
    pub fn address_of(&self, short: &str) -> Option<u32> {
        self.iter().filter(|s| s.is_func()).find_map(|s| {
            let mut buf = NameBuf::new();
            (short_name(self.name(&s), &mut buf) == short).then_some(s.value)
        })
    }
}

/// Fixed room for one demangled name.
pub struct NameBuf {
    buf: [u8; 256],
    len: usize,
    overflow: bool,
}

impl NameBuf {
    pub const fn new() -> Self {
        NameBuf { buf: [0; 256], len: 0, overflow: false }
    }
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("?")
    }
}

impl Default for NameBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for NameBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - self.len;
        if s.len() > room {
            self.overflow = true;
            return Err(fmt::Error);
        }
        self.buf[self.len..self.len + s.len()].copy_from_slice(s.as_bytes());
        self.len += s.len();
        Ok(())
    }
}

/// The name a BSD hacker expects in a trace: the last path segment of the
/// demangled Rust name without its hash (`uvn_flush`, not
/// `_ZN6kernel3uvm9uvm_vnode9uvn_flush17h…E`); closures keep their parent
/// (`run::{{closure}}`). Unmangled names come back unchanged.
pub fn short_name<'b>(raw: &'b str, buf: &'b mut NameBuf) -> &'b str {
    let Ok(d) = rustc_demangle::try_demangle(raw) else {
        return raw;
    };
    *buf = NameBuf::new();
    if write!(buf, "{d:#}").is_err() || buf.overflow {
        return raw;
    }
    let full = buf.as_str();
    let name = tail(full);
    if !name.contains("{shim") || !full.starts_with('<') {
        return name;
    }
    // A compiler shim (`<T as Trait>::method::{shim:…}`): name it by T, the
    // closure or type it was made for.
    let mut depth = 0i32;
    for (i, c) in full.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            ' ' if depth == 1 && full[i..].starts_with(" as ") => return tail(&full[1..i]),
            _ => {}
        }
    }
    name
}

/// The last element of a demangled path, or the last two when the last is
/// a closure or shim (`{{closure}}`, `{closure#0}`), which says little alone.
fn tail(full: &str) -> &str {
    let mut depth = 0i32;
    let mut cuts = [0usize; 2];
    let bytes = full.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' => depth += 1,
            b'>' => depth -= 1,
            b':' if depth == 0 && bytes.get(i + 1) == Some(&b':') => {
                cuts = [cuts[1], i + 2];
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    let last = &full[cuts[1]..];
    if last.starts_with('{') {
        &full[cuts[0]..]
    } else {
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    fn table(entries: &[(&str, u32, u32, u8)]) -> (Vec<u8>, Vec<u8>) {
        let mut syms = std::vec![0u8; SYM_SIZE];
        let mut strs = std::vec![0u8];
        for &(name, value, size, typ) in entries {
            let off = strs.len() as u32;
            strs.extend_from_slice(name.as_bytes());
            strs.push(0);
            syms.extend_from_slice(&off.to_be_bytes());
            syms.extend_from_slice(&value.to_be_bytes());
            syms.extend_from_slice(&size.to_be_bytes());
            syms.extend_from_slice(&[typ, 0, 0, 1]);
        }
        (syms, strs)
    }

    #[test]
    fn lookup_finds_the_containing_function() {
        let (s, t) =
            table(&[("_ZN6kernel3uvm9uvm_vnode9uvn_flush17h0123456789abcdefE", 0x1000, 0x900, 2), ("trap_entry", 0x3000, 0, 2), ("some_object", 0x1100, 4, 1)]);
        let st = SymTab::new(&s, &t);
        let (n, off) = st.lookup(0x1820).unwrap();
        assert_eq!(off, 0x820);
        let mut b = NameBuf::new();
        assert_eq!(short_name(n, &mut b), "uvn_flush");
        assert_eq!(st.lookup(0x3010), Some(("trap_entry", 0x10)));
        assert_eq!(st.lookup(0x1900), None, "past the end of uvn_flush");
        assert_eq!(st.lookup(0x10), None);
        assert_eq!(st.address_of("uvn_flush"), Some(0x1000));
        assert_eq!(st.address_of("nope"), None);
    }

    #[test]
    fn short_names() {
        let mut b = NameBuf::new();
        // The FnOnce vtable shim of a closure in ktest_deadlock: named by the closure.
        assert_eq!(
            short_name(
                "_RNSNvYNCNvNtNtCs76crlEbMRJ9_3bsd4kern15kern_ktest_proc14ktest_deadlock0INtNtNtCs4nRwyk76L7v_4core3ops8function6FnOnceuE9call_once6vtableBc_",
                &mut b
            ),
            "ktest_deadlock::{closure#0}"
        );
        assert_eq!(short_name("getnewvnode", &mut b), "getnewvnode");
        assert_eq!(short_name("_ZN6kernel4kern8vfs_subr6vgonel17h0000000000000000E", &mut b), "vgonel");
        // v0 mangling: kernel::ktest::run
        assert_eq!(short_name("_RNvNtCs1234_6kernel5ktest3run", &mut b), "run");
        assert_eq!(short_name("_ZN6kernel5ktest3run28_$u7b$$u7b$closure$u7d$$u7d$17h0000000000000000E", &mut b), "run::{{closure}}");
        assert_eq!(short_name("_ZN57_$LT$kernel..dev..Console$u20$as$u20$core..fmt..Write$GT$9write_str17h0000000000000000E", &mut b), "write_str");
    }
}
