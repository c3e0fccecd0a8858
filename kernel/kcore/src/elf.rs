//! ELF32 big-endian (PowerPC) headers: just what loading `/bsd` and reading
//! its symbol table need. Every field is checked before it is used.

use core::fmt;

pub const EHDR_SIZE: usize = 52;
pub const PHDR_SIZE: usize = 32;
pub const SHDR_SIZE: usize = 40;
pub const SYM_SIZE: usize = 16;

pub const PT_LOAD: u32 = 1;
pub const SHT_SYMTAB: u32 = 2;
pub const STT_FUNC: u8 = 2;
const EM_PPC: u16 = 20;
const ET_EXEC: u16 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfError {
    Short,
    NotElf,
    NotBigEndian32,
    NotPowerPc(u16),
    NotExecutable(u16),
    BadHeaderSize(&'static str, u16),
    TooMany(&'static str, u16),
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::Short => write!(f, "file too short for an ELF header"),
            ElfError::NotElf => write!(f, "no ELF magic"),
            ElfError::NotBigEndian32 => write!(f, "not a 32-bit big-endian ELF"),
            ElfError::NotPowerPc(m) => write!(f, "e_machine {m} is not PowerPC (20)"),
            ElfError::NotExecutable(t) => write!(f, "e_type {t} is not an executable (2)"),
            ElfError::BadHeaderSize(what, n) => write!(f, "{what} entry size {n} is wrong"),
            ElfError::TooMany(what, n) => write!(f, "{n} {what} entries is too many"),
        }
    }
}

fn be16(b: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([b[o], b[o + 1]])
}

fn be32(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

#[derive(Clone, Copy, Debug)]
pub struct Ehdr {
    pub entry: u32,
    pub phoff: u32,
    pub shoff: u32,
    pub phnum: u16,
    pub shnum: u16,
}

impl Ehdr {
    pub fn parse(b: &[u8]) -> Result<Ehdr, ElfError> {
        if b.len() < EHDR_SIZE {
            return Err(ElfError::Short);
        }
        if b[..4] != *b"\x7fELF" {
            return Err(ElfError::NotElf);
        }
        if b[4] != 1 || b[5] != 2 {
            return Err(ElfError::NotBigEndian32);
        }
        let (etype, machine) = (be16(b, 16), be16(b, 18));
        if machine != EM_PPC {
            return Err(ElfError::NotPowerPc(machine));
        }
        if etype != ET_EXEC {
            return Err(ElfError::NotExecutable(etype));
        }
        let (phentsize, phnum, shentsize, shnum) = (be16(b, 42), be16(b, 44), be16(b, 46), be16(b, 48));
        if phnum > 0 && phentsize as usize != PHDR_SIZE {
            return Err(ElfError::BadHeaderSize("program header", phentsize));
        }
        if shnum > 0 && shentsize as usize != SHDR_SIZE {
            return Err(ElfError::BadHeaderSize("section header", shentsize));
        }
        if phnum > 64 {
            return Err(ElfError::TooMany("program header", phnum));
        }
        if shnum > 1024 {
            return Err(ElfError::TooMany("section header", shnum));
        }
        Ok(Ehdr { entry: be32(b, 24), phoff: be32(b, 28), shoff: be32(b, 32), phnum, shnum })
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Phdr {
    pub ptype: u32,
    pub offset: u32,
    pub vaddr: u32,
    pub paddr: u32,
    pub filesz: u32,
    pub memsz: u32,
    /// PF_R (4), PF_W (2), PF_X (1).
    pub flags: u32,
}

impl Phdr {
    pub fn parse(b: &[u8; PHDR_SIZE]) -> Phdr {
        Phdr { ptype: be32(b, 0), offset: be32(b, 4), vaddr: be32(b, 8), paddr: be32(b, 12), filesz: be32(b, 16), memsz: be32(b, 20), flags: be32(b, 24) }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Shdr {
    pub stype: u32,
    pub offset: u32,
    pub size: u32,
    pub link: u32,
}

impl Shdr {
    pub fn parse(b: &[u8; SHDR_SIZE]) -> Shdr {
        Shdr { stype: be32(b, 4), offset: be32(b, 16), size: be32(b, 20), link: be32(b, 24) }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sym {
    pub name: u32,
    pub value: u32,
    pub size: u32,
    pub info: u8,
}

impl Sym {
    pub fn parse(b: &[u8]) -> Sym {
        Sym { name: be32(b, 0), value: be32(b, 4), size: be32(b, 8), info: b[12] }
    }

    pub fn is_func(&self) -> bool {
        self.info & 0xf == STT_FUNC
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> [u8; EHDR_SIZE] {
        let mut h = [0u8; EHDR_SIZE];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 1;
        h[5] = 2;
        h[16..18].copy_from_slice(&2u16.to_be_bytes());
        h[18..20].copy_from_slice(&20u16.to_be_bytes());
        h[24..28].copy_from_slice(&0x0010_0000u32.to_be_bytes());
        h[28..32].copy_from_slice(&52u32.to_be_bytes());
        h[42..44].copy_from_slice(&32u16.to_be_bytes());
        h[44..46].copy_from_slice(&2u16.to_be_bytes());
        h[46..48].copy_from_slice(&40u16.to_be_bytes());
        h
    }

    #[test]
    fn parses_a_good_header() {
        let e = Ehdr::parse(&header()).unwrap();
        assert_eq!((e.entry, e.phoff, e.phnum), (0x10_0000, 52, 2));
    }

    #[test]
    fn rejects_bad_headers() {
        assert_eq!(Ehdr::parse(&header()[..10]).unwrap_err(), ElfError::Short);
        let mut h = header();
        h[0] = 0;
        assert_eq!(Ehdr::parse(&h).unwrap_err(), ElfError::NotElf);
        let mut h = header();
        h[5] = 1;
        assert_eq!(Ehdr::parse(&h).unwrap_err(), ElfError::NotBigEndian32);
        let mut h = header();
        h[19] = 62;
        assert_eq!(Ehdr::parse(&h).unwrap_err(), ElfError::NotPowerPc(62));
        let mut h = header();
        h[43] = 56;
        assert_eq!(Ehdr::parse(&h).unwrap_err(), ElfError::BadHeaderSize("program header", 56));
        let mut h = header();
        h[44] = 1;
        assert!(matches!(Ehdr::parse(&h).unwrap_err(), ElfError::TooMany(..)));
    }
}
