//! Loading `/bsd` (OpenBSD's loadfile): its PT_LOAD segments at their
//! physical addresses, then its symbol and string tables right after it
//! (ssym/esym), every range checked against memory and what is in use.

use crate::{err, say, BootError};
use core::fmt::Write;
use ffs::{Device, Fs, Inode};
use kcore::bootinfo::{BootInfo, MemRange, Usage};
use kcore::elf::{Ehdr, Phdr, Shdr, EHDR_SIZE, PHDR_SIZE, PT_LOAD, SHDR_SIZE, SHT_SYMTAB};

const PAGE: u32 = 4096;

fn read_exact<D: Device>(fs: &Fs<D>, ip: &Inode, off: u64, buf: &mut [u8], what: &str) -> Result<(), BootError> {
    let end = off.checked_add(buf.len() as u64).filter(|&e| e <= ip.size);
    if end.is_none() {
        return Err(err!("/bsd: {what} at offset {off:#x} (+{:#x}) is past the end of the file ({} bytes)", buf.len(), ip.size));
    }
    let mut done = 0;
    while done < buf.len() {
        match fs.read(ip, off + done as u64, &mut buf[done..]) {
            Ok(0) => return Err(err!("/bsd: short read of {what} at offset {:#x}", off + done as u64)),
            Ok(n) => done += n,
            Err(e) => return Err(err!("/bsd: reading {what}: {e}")),
        }
    }
    Ok(())
}

/// A range the kernel may be loaded into: inside RAM and clear of
/// everything already in use.
fn check_free(bi: &BootInfo, r: MemRange, what: &str) -> Result<(), BootError> {
    if !bi.memory().iter().any(|m| m.start as u64 <= r.start as u64 && r.end() <= m.end()) {
        return Err(err!("/bsd: {what} {:#x}-{:#x} is outside physical memory", r.start, r.end()));
    }
    if let Some(u) = bi.overlapping(&r) {
        return Err(err!("/bsd: {what} {:#x}-{:#x} overlaps the {} at {:#x}-{:#x}", r.start, r.end(), Usage::name(u.usage), u.range.start, u.range.end()));
    }
    Ok(())
}

/// Physical memory the stub is about to fill.
fn dest(r: MemRange) -> &'static mut [u8] {
    // SAFETY: every caller first passes `r` through check_free: it lies in
    // RAM (mapped 1:1 by Open Firmware) and overlaps nothing in use,
    // including the stub itself and the ramdisk being read.
    unsafe { core::slice::from_raw_parts_mut(r.start as *mut u8, r.size as usize) }
}

/// Makes freshly written instructions visible to instruction fetch.
fn sync_icache(r: MemRange) {
    let mut a = r.start & !31;
    while (a as u64) < r.end() {
        // SAFETY: cache maintenance on memory the stub just wrote.
        unsafe { core::arch::asm!("dcbst 0, {0}", "sync", "icbi 0, {0}", in(reg_nonzero) a) };
        a += 32;
    }
    // SAFETY: barriers only.
    unsafe { core::arch::asm!("sync", "isync") };
}

pub fn load_kernel(o: &crate::ofw::Ofw, bi: &mut BootInfo, image: &[u8]) -> Result<u32, BootError> {
    let fs = Fs::mount(image).map_err(|e| err!("ramdisk is not a usable FFS image: {e}"))?;
    let ino = fs.lookup("/bsd").map_err(|e| err!("no /bsd in ramdisk: {e}"))?;
    let ip = fs.inode(ino).map_err(|e| err!("/bsd: {e}"))?;

    let mut eb = [0u8; EHDR_SIZE];
    read_exact(&fs, &ip, 0, &mut eb, "ELF header")?;
    let eh = Ehdr::parse(&eb).map_err(|e| err!("/bsd is not a PowerPC kernel: {e}"))?;

    // First pass: check every segment before writing any, so a bad kernel
    // leaves memory (and the firmware) untouched.
    let mut segs = [None::<Phdr>; 16];
    let mut nseg = 0;
    let (mut lo, mut hi) = (u64::MAX, 0u64);
    for i in 0..eh.phnum as u64 {
        let mut pb = [0u8; PHDR_SIZE];
        read_exact(&fs, &ip, eh.phoff as u64 + i * PHDR_SIZE as u64, &mut pb, "program header")?;
        let ph = Phdr::parse(&pb);
        if ph.ptype != PT_LOAD || ph.memsz == 0 {
            continue;
        }
        if ph.filesz > ph.memsz {
            return Err(err!("/bsd: segment {i} has p_filesz {:#x} > p_memsz {:#x}", ph.filesz, ph.memsz));
        }
        if ph.offset as u64 + ph.filesz as u64 > ip.size {
            return Err(err!("/bsd: segment {i} extends past the end of the file"));
        }
        let r = MemRange { start: ph.paddr, size: ph.memsz };
        check_free(bi, r, "segment")?;
        if segs[..nseg].iter().flatten().any(|s| MemRange { start: s.paddr, size: s.memsz }.overlaps(&r)) {
            return Err(err!("/bsd: segment {i} overlaps another segment"));
        }
        if nseg == segs.len() {
            return Err(err!("/bsd: more than {} loadable segments", segs.len()));
        }
        segs[nseg] = Some(ph);
        nseg += 1;
        lo = lo.min(r.start as u64);
        hi = hi.max(r.end());
    }
    if nseg == 0 {
        return Err(err!("/bsd has no loadable segments"));
    }
    if !segs[..nseg].iter().flatten().any(|s| eh.entry >= s.vaddr && eh.entry - s.vaddr < s.memsz) {
        return Err(err!("/bsd: entry point {:#x} is not inside a loaded segment", eh.entry));
    }

    for ph in segs[..nseg].iter().flatten() {
        let d = dest(MemRange { start: ph.paddr, size: ph.memsz });
        let (file, zero) = d.split_at_mut(ph.filesz as usize);
        read_exact(&fs, &ip, ph.offset as u64, file, "segment")?;
        zero.fill(0);
    }
    let kernel = MemRange { start: lo as u32, size: (hi - lo) as u32 };
    bi.kernel = kernel;
    bi.add_used(kernel, Usage::Kernel);
    sync_icache(kernel);
    say!(o, ">> /bsd: {} segments at {:#x}-{:#x}, entry {:#x}", nseg, lo, hi, eh.entry);

    load_symbols(o, bi, &fs, &ip, &eh, hi as u32)?;
    Ok(eh.entry)
}

/// Copies .symtab and its .strtab after the kernel so that panic traces
/// can name functions. A kernel without symbols still boots.
fn load_symbols<D: Device>(o: &crate::ofw::Ofw, bi: &mut BootInfo, fs: &Fs<D>, ip: &Inode, eh: &Ehdr, kend: u32) -> Result<(), BootError> {
    let shdr = |i: u32| -> Result<Shdr, BootError> {
        if i >= eh.shnum as u32 {
            return Err(err!("/bsd: section index {i} out of range"));
        }
        let mut b = [0u8; SHDR_SIZE];
        read_exact(fs, ip, eh.shoff as u64 + i as u64 * SHDR_SIZE as u64, &mut b, "section header")?;
        Ok(Shdr::parse(&b))
    };
    let mut symtab = None;
    for i in 0..eh.shnum as u32 {
        let sh = shdr(i)?;
        if sh.stype == SHT_SYMTAB {
            symtab = Some((sh, shdr(sh.link)?));
            break;
        }
    }
    let Some((sym, str)) = symtab else {
        say!(o, ">> /bsd has no symbol table: traces will show addresses only");
        return Ok(());
    };
    let ssym = kend.next_multiple_of(PAGE);
    let syms = MemRange { start: ssym, size: sym.size };
    let strs = MemRange { start: (ssym + sym.size).next_multiple_of(4), size: str.size };
    let all = MemRange { start: ssym, size: strs.start + strs.size - ssym };
    check_free(bi, all, "symbol table")?;
    read_exact(fs, ip, sym.offset as u64, dest(syms), ".symtab")?;
    read_exact(fs, ip, str.offset as u64, dest(strs), ".strtab")?;
    bi.symtab = syms;
    bi.strtab = strs;
    bi.add_used(all, Usage::Symbols);
    say!(o, ">> symbols at {:#x}-{:#x}", all.start, all.end());
    Ok(())
}
