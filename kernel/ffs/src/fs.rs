//! The superblock (struct fs): found at one of the standard offsets,
//! checked field by field, and the address arithmetic built on it.

use crate::bytes::{be32, be64};
use crate::cgalloc::{CG_IUSEDOFF, CG_MAGIC, CG_MAGIC_OFF};
use crate::{Device, Error};

const FS_UFS1_MAGIC: u32 = 0x0001_1954;
const FS_UFS2_MAGIC: u32 = 0x1954_0119;
/// Where superblocks live (SBLOCKSEARCH): UFS2, UFS1, floppy, piggy.
const SBLOCKSEARCH: [u64; 4] = [65536, 8192, 0, 262144];
const SBLOCKSIZE: usize = 8192;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Ufs1,
    Ufs2,
}

/// Totals of the cylinder-group summary (struct csum).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Csum {
    pub ndir: u64,
    pub nbfree: u64,
    pub nifree: u64,
    pub nffree: u64,
}

/// The superblock fields this reader uses, already checked.
#[derive(Clone, Copy, Debug)]
pub struct Superblock {
    pub version: Version,
    /// Byte offset the superblock was found at.
    pub location: u64,
    pub sblkno: u32,
    pub cblkno: u32,
    pub iblkno: u32,
    pub dblkno: u32,
    pub ncg: u32,
    pub bsize: u32,
    pub fsize: u32,
    pub frag: u32,
    pub sbsize: u32,
    pub nindir: u32,
    pub inopb: u32,
    pub ipg: u32,
    pub fpg: u32,
    pub cgsize: u32,
    pub cssize: u32,
    pub csaddr: u64,
    /// Fragments in the file system (fs_size).
    pub size: u64,
    pub dsize: u64,
    pub cstotal: Csum,
    /// Symbolic links shorter than this keep their target in the inode.
    pub maxsymlinklen: u32,
    /// Longest free-block run the cluster summaries count (0: none kept).
    pub contigsumsize: u32,
    old_cgoffset: u32,
    old_cgmask: u32,
    pub volname: [u8; 32],
}

fn bad(field: &'static str, value: impl Into<u64>) -> Error {
    Error::BadSuperblock { field, value: value.into() }
}

pub fn read_superblock<D: Device + ?Sized>(dev: &D) -> Result<Superblock, Error> {
    let mut b = [0u8; 1380];
    for &loc in &SBLOCKSEARCH {
        if loc + SBLOCKSIZE as u64 > dev.len() && loc + b.len() as u64 > dev.len() {
            continue;
        }
        dev.read_at(loc, &mut b)?;
        let version = match be32(&b, 1372) {
            FS_UFS1_MAGIC => Version::Ufs1,
            FS_UFS2_MAGIC => Version::Ufs2,
            _ => continue,
        };
        // A UFS1 superblock at the UFS2 location is a leftover backup.
        if version == Version::Ufs1 && loc == 65536 {
            continue;
        }
        let sb = parse(&b, version, loc)?;
        let fs_bytes = sb.size * sb.fsize as u64;
        if fs_bytes > dev.len() {
            return Err(Error::Truncated { fs_bytes, dev_bytes: dev.len() });
        }
        return Ok(sb);
    }
    Err(Error::NoSuperblock)
}

fn parse(b: &[u8], version: Version, location: u64) -> Result<Superblock, Error> {
    let ufs2 = version == Version::Ufs2;
    let mut volname = [0u8; 32];
    volname.copy_from_slice(&b[680..712]);
    let cstotal = if ufs2 {
        Csum { ndir: be64(b, 1008), nbfree: be64(b, 1016), nifree: be64(b, 1024), nffree: be64(b, 1032) }
    } else {
        Csum { ndir: be32(b, 192) as u64, nbfree: be32(b, 196) as u64, nifree: be32(b, 200) as u64, nffree: be32(b, 204) as u64 }
    };
    let sb = Superblock {
        version,
        location,
        sblkno: be32(b, 8),
        cblkno: be32(b, 12),
        iblkno: be32(b, 16),
        dblkno: be32(b, 20),
        ncg: be32(b, 44),
        bsize: be32(b, 48),
        fsize: be32(b, 52),
        frag: be32(b, 56),
        sbsize: be32(b, 104),
        nindir: be32(b, 116),
        inopb: be32(b, 120),
        ipg: be32(b, 184),
        fpg: be32(b, 188),
        cgsize: be32(b, 160),
        cssize: be32(b, 156),
        csaddr: if ufs2 { be64(b, 1096) } else { be32(b, 152) as u64 },
        size: if ufs2 { be64(b, 1080) } else { be32(b, 36) as u64 },
        dsize: if ufs2 { be64(b, 1088) } else { be32(b, 40) as u64 },
        cstotal,
        maxsymlinklen: be32(b, 1320),
        contigsumsize: be32(b, 1316),
        old_cgoffset: be32(b, 24),
        old_cgmask: be32(b, 28),
        volname,
    };
    sb.check()?;
    Ok(sb)
}

impl Superblock {
    fn check(&self) -> Result<(), Error> {
        let pow2 = |v: u32| v != 0 && v.is_power_of_two();
        if !pow2(self.bsize) || !(4096..=65536).contains(&self.bsize) {
            return Err(bad("block size", self.bsize));
        }
        if !pow2(self.fsize) || self.fsize < 512 || self.fsize > self.bsize {
            return Err(bad("fragment size", self.fsize));
        }
        if ![1, 2, 4, 8].contains(&self.frag) || self.frag * self.fsize != self.bsize {
            return Err(bad("fragments per block", self.frag));
        }
        if self.sbsize == 0 || self.sbsize > SBLOCKSIZE as u32 {
            return Err(bad("superblock size", self.sbsize));
        }
        if self.ncg == 0 || self.ncg > 1 << 20 {
            return Err(bad("cylinder group count", self.ncg));
        }
        if self.nindir != self.bsize / self.ptr_size() as u32 {
            return Err(bad("pointers per indirect block", self.nindir));
        }
        if self.inopb != self.bsize / self.dinode_size() as u32 {
            return Err(bad("inodes per block", self.inopb));
        }
        if self.ipg == 0 || !self.ipg.is_multiple_of(self.inopb) || self.ipg as u64 * self.ncg as u64 > u32::MAX as u64 {
            return Err(bad("inodes per group", self.ipg));
        }
        if self.fpg == 0 || !self.fpg.is_multiple_of(self.frag) {
            return Err(bad("fragments per group", self.fpg));
        }
        if !(self.sblkno < self.cblkno && self.cblkno < self.iblkno && self.iblkno < self.dblkno) {
            return Err(bad("inode block offset", self.iblkno));
        }
        // The group's header block and its inode blocks are different
        // blocks (the kernel edits the header in its block's buffer while it
        // reads and writes inodes), and UFS1's stagger keeps blocks aligned.
        let header_end = (self.cblkno as u64 + (self.cgsize as u64).div_ceil(self.fsize as u64)).next_multiple_of(self.frag as u64);
        if (self.iblkno as u64) < header_end || !self.iblkno.is_multiple_of(self.frag) {
            return Err(bad("inode block offset", self.iblkno));
        }
        if self.version == Version::Ufs1 && !self.old_cgoffset.is_multiple_of(self.frag) {
            return Err(bad("cylinder group offset", self.old_cgoffset));
        }
        let inode_frags = self.ipg as u64 / self.inopb as u64 * self.frag as u64;
        if self.iblkno as u64 + inode_frags > self.fpg as u64 {
            return Err(bad("inode area end", self.iblkno as u64 + inode_frags));
        }
        if self.size == 0 || self.size > self.ncg as u64 * self.fpg as u64 || self.dsize > self.size {
            return Err(bad("file system size", self.size));
        }
        if self.maxsymlinklen as usize > (crate::param::NDADDR + crate::param::NIADDR) * self.ptr_size() as usize {
            return Err(bad("maximum inline symlink length", self.maxsymlinklen));
        }
        // FS_MAXCONTIG.
        if self.contigsumsize > 16 {
            return Err(bad("cluster summary size", self.contigsumsize));
        }
        if self.cgsize == 0 || self.cgsize > self.bsize {
            return Err(bad("cylinder group size", self.cgsize));
        }
        let csfrags = (self.cssize as u64).div_ceil(self.fsize as u64);
        if self.cssize == 0 || self.csaddr.checked_add(csfrags).is_none_or(|e| e > self.size) {
            return Err(bad("summary area address", self.csaddr));
        }
        Ok(())
    }

    /// What a cylinder group's block is read with.
    pub fn cg_geom(&self) -> crate::cgalloc::CgGeom {
        crate::cgalloc::CgGeom { frag: self.frag, fpg: self.fpg, ipg: self.ipg, contigsumsize: self.contigsumsize }
    }

    /// Bytes of an on-disk inode.
    pub fn dinode_size(&self) -> usize {
        match self.version {
            Version::Ufs1 => crate::param::UFS1_DINODE_SIZE,
            Version::Ufs2 => crate::param::UFS2_DINODE_SIZE,
        }
    }

    /// Bytes of a block pointer.
    pub fn ptr_size(&self) -> u64 {
        match self.version {
            Version::Ufs1 => 4,
            Version::Ufs2 => 8,
        }
    }

    /// Inodes in the file system.
    pub fn ninodes(&self) -> u32 {
        self.ipg * self.ncg
    }

    /// First fragment of cylinder group `cg` (cgbase, with UFS1's stagger).
    pub fn cgstart(&self, cg: u32) -> u64 {
        let base = cg as u64 * self.fpg as u64;
        match self.version {
            Version::Ufs1 => base + self.old_cgoffset as u64 * (cg & !self.old_cgmask) as u64,
            Version::Ufs2 => base,
        }
    }

    /// The inodes whose on-disk bytes meet bytes `off..off + len` of the
    /// device (from the first to the last; None if none do): what a write
    /// there may change.
    pub fn inodes_at(&self, off: u64, len: u64) -> Option<core::ops::RangeInclusive<u32>> {
        let span = self.fpg as u64 * self.fsize as u64;
        if len == 0 || span == 0 {
            return None;
        }
        let end = off.checked_add(len)?;
        let dsize = self.dinode_size() as u64;
        let (lo, hi) = ((off / span).saturating_sub(1), ((end - 1) / span).min(self.ncg.saturating_sub(1) as u64));
        let mut found: Option<(u32, u32)> = None;
        for cg in lo..=hi {
            let start = (self.cgstart(cg as u32) + self.iblkno as u64) * self.fsize as u64;
            let stop = start + self.ipg as u64 * dsize;
            if off >= stop || end <= start {
                continue;
            }
            let first = cg as u32 * self.ipg + ((off.max(start) - start) / dsize) as u32;
            let last = cg as u32 * self.ipg + ((end.min(stop) - 1 - start) / dsize) as u32;
            found = Some(found.map_or((first, last), |(f, l)| (f.min(first), l.max(last))));
        }
        found.map(|(f, l)| f..=l)
    }

    /// Byte offset of fragment `blk`, which must be inside the file system.
    pub fn frag_offset(&self, blk: u64) -> Result<u64, Error> {
        if blk >= self.size {
            return Err(Error::BadBlockPointer { ino: 0, blk, fs_frags: self.size });
        }
        Ok(blk * self.fsize as u64)
    }

    pub fn check_blkptr(&self, ino: u32, blk: u64) -> Result<(), Error> {
        if blk >= self.size {
            return Err(Error::BadBlockPointer { ino, blk, fs_frags: self.size });
        }
        Ok(())
    }

    /// Byte offset of inode `ino` (ino_to_fsba and ino_to_fsbo).
    pub fn inode_offset(&self, ino: u32) -> Result<u64, Error> {
        if ino == 0 || ino >= self.ninodes() {
            return Err(Error::BadInodeNumber { ino, max: self.ninodes() });
        }
        let cg = ino / self.ipg;
        let within = ino % self.ipg;
        let blk = self.cgstart(cg) + self.iblkno as u64 + (within / self.inopb) as u64 * self.frag as u64;
        let off = self.frag_offset(blk)?;
        Ok(off + (within % self.inopb) as u64 * self.dinode_size() as u64)
    }

    /// Byte offset of cylinder group `cg`'s header (cgtod).
    pub fn cg_offset(&self, cg: u32) -> Result<u64, Error> {
        if cg >= self.ncg {
            return Err(bad("cylinder group number", cg));
        }
        self.frag_offset(self.cgstart(cg) + self.cblkno as u64)
    }

    /// The largest file the block tree can address, in bytes.
    pub fn maxfilesize(&self) -> u64 {
        let n = self.nindir as u64;
        let blocks = crate::param::NDADDR as u64 + n + n * n + n * n * n;
        blocks.saturating_mul(self.bsize as u64)
    }
}

/// fs_clean's byte in the superblock.
pub(crate) const FS_CLEAN_OFF: u64 = 209;

impl<D: Device> crate::Fs<D> {
    /// Whether the file system was unmounted cleanly (fs_clean).
    pub fn is_clean(&self) -> Result<bool, Error> {
        let mut b = [0u8; 1];
        self.device_read(self.sb().location + FS_CLEAN_OFF, &mut b)?;
        Ok(b[0] != 0)
    }

    /// Checks the magic number of cylinder group `cg`'s header.
    pub fn check_cg(&self, cg: u32) -> Result<(), Error> {
        let off = self.sb().cg_offset(cg)?;
        let mut b = [0u8; 8];
        self.device_read(off, &mut b)?;
        let magic = be32(&b, CG_MAGIC_OFF);
        if magic != CG_MAGIC {
            return Err(Error::BadSuperblock { field: "cylinder group magic", value: magic as u64 });
        }
        Ok(())
    }

    /// Byte offsets in the device of group `cg`'s inode map and free map
    /// (cg_iusedoff, cg_freeoff), checked to lie inside its block.
    pub fn cg_maps(&self, cg: u32) -> Result<(u64, u64), Error> {
        self.check_cg(cg)?;
        let sb = self.sb();
        let off = sb.cg_offset(cg)?;
        let mut b = [0u8; 8];
        // cg_iusedoff, then cg_freeoff.
        self.device_read(off + CG_IUSEDOFF as u64, &mut b)?;
        let (iu, fr) = (be32(&b, 0) as u64, be32(&b, 4) as u64);
        let fits = |at: u64, bits: u32| at + (bits as u64).div_ceil(8) <= sb.cgsize as u64;
        if !fits(iu, sb.ipg) {
            return Err(bad("inode map offset", iu));
        }
        if !fits(fr, sb.fpg) {
            return Err(bad("free map offset", fr));
        }
        Ok((off + iu, off + fr))
    }

    /// The cylinder-group summary of group `cg` (struct csum), from the
    /// summary area at fs_csaddr.
    pub fn cg_summary(&self, cg: u32) -> Result<Csum, Error> {
        let sb = self.sb();
        if cg >= sb.ncg || (cg as u64 + 1) * 16 > sb.cssize as u64 {
            return Err(bad("cylinder group number", cg));
        }
        let mut b = [0u8; 16];
        self.device_read(sb.frag_offset(sb.csaddr)? + cg as u64 * 16, &mut b)?;
        Ok(Csum { ndir: be32(&b, 0) as u64, nbfree: be32(&b, 4) as u64, nifree: be32(&b, 8) as u64, nffree: be32(&b, 12) as u64 })
    }
}
