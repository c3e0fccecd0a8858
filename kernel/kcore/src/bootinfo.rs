//! The record the boot stub hands to the kernel (r3 at kernel entry).
//!
//! Plain `repr(C)` words so the stub and the kernel, built from the same
//! source, agree on the layout without any serialisation.

/// "PPCB": tells the kernel that r3 really points at a boot-info record.
pub const BOOTINFO_MAGIC: u32 = 0x5050_4342;
/// Bumped whenever the layout changes.
pub const BOOTINFO_VERSION: u32 = 2;
/// Room for memory ranges; mac99 has one bank, OF reserves a handful.
pub const MAXRANGES: usize = 16;
/// Bytes of `/chosen bootargs` passed on, with the terminating NUL; the
/// stub refuses longer ones by name rather than cut them.
pub const BOOTARGS_LEN: usize = 1024;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemRange {
    pub start: u32,
    pub size: u32,
}

impl MemRange {
    pub fn end(&self) -> u64 {
        self.start as u64 + self.size as u64
    }
    pub fn overlaps(&self, o: &MemRange) -> bool {
        (self.start as u64) < o.end() && (o.start as u64) < self.end()
    }
}

/// What a range marked in use holds; the kernel keeps all of them away
/// from its page allocator.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    Firmware = 1,
    BootStub = 2,
    Kernel = 3,
    Symbols = 4,
    Ramdisk = 5,
    Vectors = 6,
    /// The kernel's hashed page table and its slot records (added by the
    /// kernel itself, sized from memory as OpenBSD's pmap_bootstrap does).
    PageTable = 7,
}

impl Usage {
    /// The name of a `UsedRange::usage` value, for the stub's errors and the
    /// kernel's boot lines.
    pub fn name(usage: u32) -> &'static str {
        match usage {
            x if x == Usage::Firmware as u32 => "firmware",
            x if x == Usage::BootStub as u32 => "boot stub",
            x if x == Usage::Kernel as u32 => "kernel",
            x if x == Usage::Symbols as u32 => "symbols",
            x if x == Usage::Ramdisk as u32 => "ramdisk",
            x if x == Usage::Vectors as u32 => "vectors",
            x if x == Usage::PageTable as u32 => "page table",
            _ => "reserved",
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct UsedRange {
    pub range: MemRange,
    pub usage: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BootInfo {
    pub magic: u32,
    pub version: u32,
    /// Physical memory as Open Firmware's /memory `reg` describes it.
    pub nmem: u32,
    pub mem: [MemRange; MAXRANGES],
    /// Ranges that are not free: firmware, stub, kernel, symbols, ramdisk.
    pub nused: u32,
    pub used: [UsedRange; MAXRANGES],
    /// NUL-terminated `/chosen` bootargs.
    pub bootargs: [u8; BOOTARGS_LEN],
    pub tbfreq: u32,
    pub macio_base: u32,
    pub escc_ctrl: u32,
    pub escc_data: u32,
    pub openpic: u32,
    pub cuda: u32,
    /// pvpanic I/O register, 0 when the machine has no pvpanic device.
    pub pvpanic: u32,
    pub kernel: MemRange,
    pub ramdisk: MemRange,
    /// ELF `.symtab` and its `.strtab`, copied after the kernel (ssym/esym).
    pub symtab: MemRange,
    pub strtab: MemRange,
    /// Instructions OpenBIOS took to reach the stub and the stub to reach
    /// the kernel, read from the timebase (for boot-time measurements).
    pub tb_stub_entry: u32,
    pub tb_kernel_entry: u32,
}

impl BootInfo {
    pub const fn empty() -> Self {
        BootInfo {
            magic: BOOTINFO_MAGIC,
            version: BOOTINFO_VERSION,
            nmem: 0,
            mem: [MemRange { start: 0, size: 0 }; MAXRANGES],
            nused: 0,
            used: [UsedRange { range: MemRange { start: 0, size: 0 }, usage: 0 }; MAXRANGES],
            bootargs: [0; BOOTARGS_LEN],
            tbfreq: 0,
            macio_base: 0,
            escc_ctrl: 0,
            escc_data: 0,
            openpic: 0,
            cuda: 0,
            pvpanic: 0,
            kernel: MemRange { start: 0, size: 0 },
            ramdisk: MemRange { start: 0, size: 0 },
            symtab: MemRange { start: 0, size: 0 },
            strtab: MemRange { start: 0, size: 0 },
            tb_stub_entry: 0,
            tb_kernel_entry: 0,
        }
    }

    pub fn valid(&self) -> bool {
        self.magic == BOOTINFO_MAGIC && self.version == BOOTINFO_VERSION
    }

    pub fn memory(&self) -> &[MemRange] {
        &self.mem[..(self.nmem as usize).min(MAXRANGES)]
    }

    pub fn used(&self) -> &[UsedRange] {
        &self.used[..(self.nused as usize).min(MAXRANGES)]
    }

    /// Returns false when the table is full.
    pub fn add_memory(&mut self, r: MemRange) -> bool {
        let n = self.nmem as usize;
        if n >= MAXRANGES {
            return false;
        }
        self.mem[n] = r;
        self.nmem += 1;
        true
    }

    /// Returns false when the table is full.
    pub fn add_used(&mut self, r: MemRange, usage: Usage) -> bool {
        let n = self.nused as usize;
        if n >= MAXRANGES {
            return false;
        }
        self.used[n] = UsedRange { range: r, usage: usage as u32 };
        self.nused += 1;
        true
    }

    /// The highest `size` bytes of memory, `align`-aligned, that no used
    /// range overlaps and that end at or below `below`; taken (added as
    /// used with `usage`) and returned.
    pub fn steal(&mut self, size: u32, align: u32, below: u64, usage: Usage) -> Option<u32> {
        let mut best: Option<u32> = None;
        for bank in self.memory() {
            let top = bank.end().min(below);
            if top < size as u64 {
                continue;
            }
            let mut at = (top - size as u64) & !(align as u64 - 1);
            while at >= bank.start as u64 {
                let r = MemRange { start: at as u32, size };
                match self.overlapping(&r) {
                    None => {
                        best = best.max(Some(at as u32));
                        break;
                    }
                    Some(u) if u.range.start as u64 >= size as u64 => at = (u.range.start as u64 - size as u64) & !(align as u64 - 1),
                    Some(_) => break,
                }
            }
        }
        let start = best?;
        self.add_used(MemRange { start, size }, usage).then_some(start)
    }

    /// The first used range that overlaps `r`, if any.
    pub fn overlapping(&self, r: &MemRange) -> Option<&UsedRange> {
        self.used().iter().find(|u| u.range.overlaps(r))
    }

    pub fn bootargs(&self) -> &str {
        let n = self.bootargs.iter().position(|&b| b == 0).unwrap_or(BOOTARGS_LEN);
        core::str::from_utf8(&self.bootargs[..n]).unwrap_or("")
    }

    /// Copies as much of `s` as fits, always leaving a terminating NUL.
    pub fn set_bootargs(&mut self, s: &[u8]) {
        let n = s.len().min(BOOTARGS_LEN - 1);
        self.bootargs[..n].copy_from_slice(&s[..n]);
        self.bootargs[n..].fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_is_half_open() {
        let a = MemRange { start: 0x1000, size: 0x1000 };
        assert!(!a.overlaps(&MemRange { start: 0x2000, size: 0x10 }));
        assert!(a.overlaps(&MemRange { start: 0x1fff, size: 1 }));
        assert!(!a.overlaps(&MemRange { start: 0, size: 0x1000 }));
        assert!(MemRange { start: 0xffff_f000, size: 0x1000 }.overlaps(&MemRange { start: 0xffff_ffff, size: 1 }));
    }

    #[test]
    fn bootargs_truncate_and_terminate() {
        let mut bi = BootInfo::empty();
        bi.set_bootargs(b"seed=3 test=all");
        assert_eq!(bi.bootargs(), "seed=3 test=all");
        bi.set_bootargs(&[b'x'; BOOTARGS_LEN + 100]);
        assert_eq!(bi.bootargs().len(), BOOTARGS_LEN - 1);
    }

    #[test]
    fn tables_fill_up() {
        let mut bi = BootInfo::empty();
        for i in 0..MAXRANGES as u32 {
            assert!(bi.add_used(MemRange { start: i * 0x100, size: 0x100 }, Usage::Firmware));
        }
        assert!(!bi.add_used(MemRange { start: 0, size: 1 }, Usage::Kernel));
        assert_eq!(bi.overlapping(&MemRange { start: 0x250, size: 1 }).unwrap().range.start, 0x200);
    }

    #[test]
    fn steal_takes_the_highest_aligned_free_block() {
        let mut bi = BootInfo::empty();
        assert!(bi.add_memory(MemRange { start: 0, size: 0x1000_0000 }));
        assert!(bi.add_used(MemRange { start: 0x0ff0_0000, size: 0x10_0000 }, Usage::Firmware));
        assert!(bi.add_used(MemRange { start: 0x0fc5_8000, size: 0x1b_8000 }, Usage::Firmware));
        // 4 MiB aligned below the firmware at 0x0fc58000: 0x0f800000.
        assert_eq!(bi.steal(0x40_0000, 0x40_0000, 0x1000_0000, Usage::PageTable), Some(0x0f80_0000));
        assert_eq!(bi.overlapping(&MemRange { start: 0x0f90_0000, size: 1 }).unwrap().usage, Usage::PageTable as u32);
        // A page fits between the two firmware ranges; in 4 KiB of memory
        // one page and no more.
        assert_eq!(bi.steal(0x1000, 0x1000, 0x1000_0000, Usage::PageTable), Some(0x0fef_f000));
        assert_eq!(bi.steal(0x1000, 0x1000, 0x1000, Usage::PageTable), Some(0));
        assert_eq!(bi.steal(0x2000, 0x1000, 0x1000, Usage::PageTable), None);
    }
}
