//! The write side: inode and block allocation from the cylinder groups
//! (OpenBSD ffs_alloc.c), mapping a file's blocks while writing
//! (ffs_balloc.c) and shortening it (ffs_inode.c's ffs_truncate), and
//! directory changes (the directory half of ufs_lookup.c). Every change to
//! a cylinder group's maps also updates its summary, the summary area and
//! the superblock's totals, so the image stays consistent for fsck.
//!
//! Each call is a sequence of device reads and writes. The caller keeps
//! two calls from interleaving on the same maps or inode (the kernel holds
//! the vnode lock and its allocation lock; the device may sleep).

use alloc::vec;

use crate::bytes::be32;
use crate::cgalloc::Cg;
use crate::dinode::{self, FileType};
use crate::dir::{self, DIRBLKSIZ};
use crate::fs::{Version, FS_CLEAN_OFF};
use crate::param::{NDADDR, NIADDR};
use crate::{Device, Error, Fs, Inode, ROOTINO};

/// A device that can also be written.
pub trait DeviceMut: Device {
    fn write_at(&self, off: u64, buf: &[u8]) -> Result<(), Error>;

    /// Lets `f` change bytes `off..off + len` of the device: they are
    /// written back if it returns `(_, true)`. When it fails or returns
    /// false it must leave them as it found them, and it must not reach
    /// these bytes through the device while it runs. This one edits a
    /// copy; a device that keeps its blocks in memory (the kernel's buffer
    /// cache) hands `f` its own bytes instead.
    fn edit_at<R>(&self, off: u64, len: usize, f: impl FnOnce(&mut [u8]) -> Result<(R, bool), Error>) -> Result<R, Error> {
        edit_copy(self, off, len, f)
    }
}

/// `DeviceMut::edit_at` on a copy: read, `f`, written back if changed.
pub fn edit_copy<D: DeviceMut + ?Sized, R>(dev: &D, off: u64, len: usize, f: impl FnOnce(&mut [u8]) -> Result<(R, bool), Error>) -> Result<R, Error> {
    let mut b = vec![0u8; len];
    dev.read_at(off, &mut b)?;
    let (r, changed) = f(&mut b)?;
    if changed {
        dev.write_at(off, &b)?;
    }
    Ok(r)
}

impl<T: DeviceMut + ?Sized> DeviceMut for &T {
    fn write_at(&self, off: u64, buf: &[u8]) -> Result<(), Error> {
        (**self).write_at(off, buf)
    }

    fn edit_at<R>(&self, off: u64, len: usize, f: impl FnOnce(&mut [u8]) -> Result<(R, bool), Error>) -> Result<R, Error> {
        (**self).edit_at(off, len, f)
    }
}

/// struct fs offsets of the totals: UFS1's 32-bit fs_old_cstotal, UFS2's
/// 64-bit fs_cstotal.
const FS_OLD_CSTOTAL: u64 = 192;
const FS_CSTOTAL: u64 = 1008;

/// An edit of one directory chunk: Some once it changed the chunk.
type ChunkEdit<'a, R> = dyn FnMut(&mut [u8]) -> Result<Option<R>, Error> + 'a;

/// DT_DIR.
pub const DT_DIR: u8 = 4;

fn put32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_be_bytes());
}

impl<D: DeviceMut> Fs<D> {
    /// Runs `f` on group `cg`'s block (checked first), in place where the
    /// device allows (`edit_at`). If `f` returns Some, the block is written
    /// back and the change in its counts carried into the summary area and
    /// the superblock; `f` returns None or an error only having changed
    /// nothing.
    fn cg_edit<R>(&self, cg: u32, f: impl FnOnce(&mut Cg<'_>) -> Result<Option<R>, Error>) -> Result<Option<R>, Error> {
        let sb = self.sb();
        let done = self.dev.edit_at(sb.cg_offset(cg)?, sb.cgsize as usize, |b| {
            let mut m = Cg::new(b, sb.cg_geom())?;
            let cs0 = m.cs();
            let Some(r) = f(&mut m)? else { return Ok((None, false)) };
            let cs = m.cs();
            Ok((Some((r, [0, 1, 2, 3].map(|k| cs[k] - cs0[k]))), true))
        })?;
        let Some((r, d)) = done else { return Ok(None) };
        self.add_summary(cg, d)?;
        Ok(Some(r))
    }

    /// Adds `d` (ndir, nbfree, nifree, nffree) to group `cg`'s entry in the
    /// summary area and to the superblock's totals.
    fn add_summary(&self, cg: u32, d: [i64; 4]) -> Result<(), Error> {
        let sb = self.sb();
        let off = sb.frag_offset(sb.csaddr)? + cg as u64 * 16;
        let mut b = [0u8; 16];
        self.device_read(off, &mut b)?;
        for (k, dk) in d.iter().enumerate() {
            let v = be32(&b, 4 * k) as i64 + dk;
            put32(&mut b, 4 * k, v as u32);
        }
        self.dev.write_at(off, &b)?;
        match sb.version {
            Version::Ufs1 => {
                let off = sb.location + FS_OLD_CSTOTAL;
                self.device_read(off, &mut b)?;
                for (k, dk) in d.iter().enumerate() {
                    let v = be32(&b, 4 * k) as i64 + dk;
                    put32(&mut b, 4 * k, v as u32);
                }
                self.dev.write_at(off, &b)
            }
            Version::Ufs2 => {
                let off = sb.location + FS_CSTOTAL;
                let mut t = [0u8; 32];
                self.device_read(off, &mut t)?;
                for (k, dk) in d.iter().enumerate() {
                    let v = u64::from_be_bytes(t[8 * k..8 * k + 8].try_into().expect("8 bytes")) as i64 + dk;
                    t[8 * k..8 * k + 8].copy_from_slice(&(v as u64).to_be_bytes());
                }
                self.dev.write_at(off, &t)
            }
        }
    }

    /// Marks the file system clean (at unmount) or in use (at a
    /// read-write mount), fs_clean.
    pub fn set_clean(&self, clean: bool) -> Result<(), Error> {
        self.dev.write_at(self.sb().location + FS_CLEAN_OFF, &[clean as u8])
    }

    /// `n` fragments (a whole block when `n` is `frag`), near fragment
    /// `pref` if possible (ffs_alloc / ffs_alloccg).
    pub fn alloc_frags(&self, pref: u64, n: u32) -> Result<u64, Error> {
        let sb = *self.sb();
        let pcg = ((pref / sb.fpg as u64) as u32).min(sb.ncg - 1);
        for k in 0..sb.ncg {
            let cg = (pcg + k) % sb.ncg;
            let got = self.cg_edit(cg, |m| {
                // No preference in another group: from its rotor (ffs_alloccgblk).
                let hint = if k == 0 { ((pref % sb.fpg as u64) / sb.frag as u64) as u32 } else { m.rotor() };
                Ok(if n == sb.frag { m.alloc_block(hint) } else { m.alloc_frags(n) })
            })?;
            if let Some(f) = got {
                return Ok(cg as u64 * sb.fpg as u64 + f as u64);
            }
        }
        Err(Error::NoSpace { what: "blocks" })
    }

    /// Frees `n` fragments from `blk` (ffs_blkfree).
    pub fn free_frags(&self, blk: u64, n: u32) -> Result<(), Error> {
        let sb = *self.sb();
        sb.check_blkptr(0, blk)?;
        let cg = (blk / sb.fpg as u64) as u32;
        self.cg_edit(cg, |m| m.free((blk % sb.fpg as u64) as u32, n).map(Some))?;
        Ok(())
    }

    /// Takes the fragments after a run in place (ffs_fragextend).
    fn extend_frags(&self, blk: u64, have: u32, need: u32) -> Result<bool, Error> {
        let sb = *self.sb();
        if blk % sb.frag as u64 + need as u64 > sb.frag as u64 {
            return Ok(false);
        }
        let cg = (blk / sb.fpg as u64) as u32;
        let start = (blk % sb.fpg as u64) as u32 + have;
        Ok(self.cg_edit(cg, |m| Ok(m.take(start, need - have).then_some(())))?.is_some())
    }

    /// The group for a new directory: the one with the most free inodes
    /// (ffs_dirpref, simplified).
    fn dirpref(&self) -> Result<u32, Error> {
        let mut best = (0, 0);
        for cg in 0..self.sb().ncg {
            let s = self.cg_summary(cg)?;
            if s.nifree > best.1 {
                best = (cg, s.nifree);
            }
        }
        Ok(best.0)
    }

    /// Allocates an inode of type `mode`, for a file in group `pref_cg` or
    /// a directory wherever inodes are freest (ffs_nodealloccg). The new
    /// inode is written zeroed but for its mode; its link count is 0.
    pub fn ialloc(&self, pref_cg: u32, mode: u16) -> Result<Inode, Error> {
        let sb = *self.sb();
        let isdir = FileType::from_mode(mode) == FileType::Dir;
        let start = if isdir { self.dirpref()? } else { pref_cg % sb.ncg };
        for k in 0..sb.ncg {
            let cg = (start + k) % sb.ncg;
            let got = self.cg_edit(cg, |m| {
                let rotor = m.irotor();
                let Some(i) = m.ialloc(rotor) else { return Ok(None) };
                let ino = cg * sb.ipg + i;
                // Anything failing from here puts the map, its count and
                // the rotor back: cg_edit wants the group as it was.
                match self.ialloc_claim(m, cg, i, isdir) {
                    Ok(()) => Ok(Some(ino)),
                    Err(e) => {
                        m.ifree(i)?;
                        m.set_irotor(rotor);
                        Err(e)
                    }
                }
            })?;
            let Some(ino) = got else { continue };
            let ip = Inode { ino, mode, nlink: 0, size: 0, uid: 0, gid: 0, mtime: 0, flags: 0, blocks: 0, db: [0; NDADDR], ib: [0; NIADDR] };
            self.dev.write_at(sb.inode_offset(ino)?, &[0u8; crate::param::UFS2_DINODE_SIZE][..sb.dinode_size()])?;
            self.write_inode(&ip)?;
            return Ok(ip);
        }
        Err(Error::NoSpace { what: "inodes" })
    }

    /// The rest of taking inode `i` of group `cg`, just marked in use in
    /// `m`: the inode checked free on disk, UFS2's never-written inode
    /// block zeroed, the directory count. The inode blocks are not the
    /// group's block, so they may be read and written while it is edited.
    fn ialloc_claim(&self, m: &mut Cg<'_>, cg: u32, i: u32, isdir: bool) -> Result<(), Error> {
        let sb = *self.sb();
        let ino = cg * sb.ipg + i;
        // An inode in use but free in its map (a damaged map): never hand
        // it out again (OpenBSD's ffs_valloc panics "dup alloc").
        if ino < ROOTINO {
            return Err(Error::BadInode { ino, field: "reserved inode free in its map", value: 0 });
        }
        if sb.version != Version::Ufs2 || i < m.initediblk() {
            let old = self.inode(ino)?;
            if old.mode != 0 {
                return Err(Error::BadInode { ino, field: "mode of an inode free in its map (dup alloc)", value: old.mode as u64 });
            }
        }
        if sb.version == Version::Ufs2 {
            // Inodes past cg_initediblk were never written: zero their block.
            let inited = m.initediblk();
            if i >= inited {
                let upto = ((i / sb.inopb + 1) * sb.inopb).min(sb.ipg);
                let first = sb.inode_offset(cg * sb.ipg + inited.max(if cg == 0 { ROOTINO } else { 0 }))?;
                let end = sb.inode_offset(cg * sb.ipg + upto - 1)? + sb.dinode_size() as u64;
                self.dev.write_at(first, &vec![0u8; (end - first) as usize])?;
                m.set_initediblk(upto);
            }
        }
        m.add_ndir(isdir as i32);
        Ok(())
    }

    /// Frees inode `ino` (ffs_freefile); its blocks must be gone already.
    pub fn ifree(&self, ino: u32, isdir: bool) -> Result<(), Error> {
        let sb = *self.sb();
        sb.inode_offset(ino)?;
        let cg = ino / sb.ipg;
        self.cg_edit(cg, |m| {
            m.ifree(ino % sb.ipg)?;
            m.add_ndir(-(isdir as i32));
            Ok(Some(()))
        })?;
        self.dev.write_at(sb.inode_offset(ino)?, &[0u8; crate::param::UFS2_DINODE_SIZE][..sb.dinode_size()])
    }

    /// Writes back the fields of `ip` (ffs_update).
    pub fn write_inode(&self, ip: &Inode) -> Result<(), Error> {
        let sb = self.sb();
        let off = sb.inode_offset(ip.ino)?;
        let mut b = [0u8; crate::param::UFS2_DINODE_SIZE];
        let raw = &mut b[..sb.dinode_size()];
        self.device_read(off, raw)?;
        dinode::store(sb.version, ip, raw);
        self.dev.write_at(off, raw)
    }

    /// Fragments that logical block `lbn` of a file of `size` bytes holds
    /// (sblksize): a full block but for a small file's last one.
    fn frags_at(&self, size: u64, lbn: u64) -> u32 {
        let sb = self.sb();
        let bsize = sb.bsize as u64;
        if lbn >= NDADDR as u64 || size >= (lbn + 1) * bsize {
            sb.frag
        } else {
            (size.saturating_sub(lbn * bsize)).div_ceil(sb.fsize as u64) as u32
        }
    }

    fn sectors(&self, frags: u32) -> u64 {
        frags as u64 * self.sb().fsize as u64 / 512
    }

    fn zero(&self, blk: u64, frags: u32) -> Result<(), Error> {
        let sb = self.sb();
        self.dev.write_at(sb.frag_offset(blk)?, &vec![0u8; (frags * sb.fsize) as usize])
    }

    /// Where a file's block `lbn` should go: after its previous block, or
    /// in its inode's group (ffs_blkpref).
    fn blkpref(&self, ip: &Inode, lbn: u64) -> u64 {
        let sb = self.sb();
        if lbn > 0 && lbn < NDADDR as u64 && ip.db[lbn as usize - 1] != 0 {
            return ip.db[lbn as usize - 1] + sb.frag as u64;
        }
        (ip.ino / sb.ipg) as u64 * sb.fpg as u64
    }

    /// Grows direct block `lbn` from `have` to `need` fragments, in place
    /// or by moving it (ffs_realloccg); its new address.
    fn realloc(&self, ip: &mut Inode, lbn: usize, have: u32, need: u32) -> Result<u64, Error> {
        let sb = *self.sb();
        let old = ip.db[lbn];
        if self.extend_frags(old, have, need)? {
            self.zero(old + have as u64, need - have)?;
            ip.blocks += self.sectors(need - have);
            return Ok(old);
        }
        let new = self.alloc_frags(self.blkpref(ip, lbn as u64), need)?;
        let mut data = vec![0u8; (need * sb.fsize) as usize];
        self.device_read(sb.frag_offset(old)?, &mut data[..(have * sb.fsize) as usize])?;
        self.dev.write_at(sb.frag_offset(new)?, &data)?;
        self.free_frags(old, have)?;
        ip.db[lbn] = new;
        ip.blocks += self.sectors(need - have);
        Ok(new)
    }

    fn read_ptr(&self, blk: u64, idx: u64) -> Result<u64, Error> {
        let sb = self.sb();
        let mut b = [0u8; 8];
        let ps = sb.ptr_size() as usize;
        self.device_read(sb.frag_offset(blk)? + idx * ps as u64, &mut b[..ps])?;
        Ok(if ps == 4 { be32(&b, 0) as u64 } else { u64::from_be_bytes(b) })
    }

    fn write_ptr(&self, blk: u64, idx: u64, v: u64) -> Result<(), Error> {
        let sb = self.sb();
        let ps = sb.ptr_size() as usize;
        let be = v.to_be_bytes();
        self.dev.write_at(sb.frag_offset(blk)? + idx * ps as u64, &be[8 - ps..])
    }

    /// A new zeroed whole block near `pref`, counted in `ip.blocks`.
    fn new_block(&self, ip: &mut Inode, pref: u64) -> Result<u64, Error> {
        let frag = self.sb().frag;
        let b = self.alloc_frags(pref, frag)?;
        self.zero(b, frag)?;
        ip.blocks += self.sectors(frag);
        Ok(b)
    }

    /// Makes sure block `lbn` is allocated, and big enough for a file of
    /// `newsize` bytes (ffs_balloc); its address. New space reads as zeros.
    fn balloc(&self, ip: &mut Inode, lbn: u64, newsize: u64) -> Result<u64, Error> {
        let sb = *self.sb();
        if lbn < NDADDR as u64 {
            let l = lbn as usize;
            let need = self.frags_at(newsize, lbn);
            if ip.db[l] == 0 {
                let b = self.alloc_frags(self.blkpref(ip, lbn), need)?;
                self.zero(b, need)?;
                ip.db[l] = b;
                ip.blocks += self.sectors(need);
                return Ok(b);
            }
            let have = if ip.size > lbn * sb.bsize as u64 { self.frags_at(ip.size, lbn) } else { sb.frag };
            if have < need {
                return self.realloc(ip, l, have, need);
            }
            return Ok(ip.db[l]);
        }
        let nindir = sb.nindir as u64;
        let mut rel = lbn - NDADDR as u64;
        let mut span = 1u64;
        for level in 0..NIADDR {
            span = span.checked_mul(nindir).ok_or(Error::FileTooBig { ino: ip.ino })?;
            if rel >= span {
                rel -= span;
                continue;
            }
            let pref = self.blkpref(ip, lbn);
            if ip.ib[level] == 0 {
                ip.ib[level] = self.new_block(ip, pref)?;
            }
            let mut blk = ip.ib[level];
            let mut sub = span;
            for _ in 0..=level {
                sub /= nindir;
                let idx = rel / sub;
                rel %= sub;
                let mut child = self.read_ptr(blk, idx)?;
                sb.check_blkptr(ip.ino, child)?;
                if child == 0 {
                    child = self.new_block(ip, blk + sb.frag as u64)?;
                    self.write_ptr(blk, idx, child)?;
                }
                blk = child;
            }
            return Ok(blk);
        }
        Err(Error::FileTooBig { ino: ip.ino })
    }

    /// Writes `data` at byte `off` of the file, within one block (the rest
    /// is left for the next call): allocates what is missing, grows a
    /// fragment-sized last block that stops being last, and updates the
    /// size and the inode. Returns the bytes written.
    pub fn write(&self, ip: &mut Inode, off: u64, data: &[u8]) -> Result<usize, Error> {
        let (blk, n) = self.balloc_write(ip, off, data.len())?;
        if n > 0 {
            let boff = off % self.sb().bsize as u64;
            self.dev.write_at(self.sb().frag_offset(blk)? + boff, &data[..n])?;
        }
        Ok(n)
    }

    /// The allocation half of `write` (OpenBSD ffs_balloc and the size
    /// update of ffs_write): makes block `off / bsize` ready for `len`
    /// bytes at `off` (at most to the block's end), sets the size and
    /// writes the inode, but writes no data: a caller that keeps file data
    /// in buffers of its own writes it there. New space reads as zeros.
    /// Returns the block's fragment address and the bytes it takes.
    pub fn balloc_write(&self, ip: &mut Inode, off: u64, len: usize) -> Result<(u64, usize), Error> {
        let sb = *self.sb();
        if self.is_fast_symlink(ip) {
            return Err(Error::BadInode { ino: ip.ino, field: "write to an inline symlink", value: off });
        }
        let bsize = sb.bsize as u64;
        let (lbn, boff) = (off / bsize, off % bsize);
        let n = (len as u64).min(bsize - boff) as usize;
        if n == 0 {
            return Ok((0, 0));
        }
        let newsize = ip.size.max(off + n as u64);
        if newsize > sb.maxfilesize() {
            return Err(Error::FileTooBig { ino: ip.ino });
        }
        if ip.size > 0 {
            let last = (ip.size - 1) / bsize;
            if last < lbn && last < NDADDR as u64 && ip.db[last as usize] != 0 {
                let have = self.frags_at(ip.size, last);
                if have < sb.frag {
                    self.realloc(ip, last as usize, have, sb.frag)?;
                }
            }
        }
        let blk = match self.balloc(ip, lbn, newsize) {
            Ok(b) => b,
            Err(e) => {
                // Keep what was allocated before the failure (an indirect
                // block) owned by the inode.
                self.write_inode(ip)?;
                return Err(e);
            }
        };
        ip.size = newsize;
        self.write_inode(ip)?;
        Ok((blk, n))
    }

    /// Bytes that logical block `lbn` of the file holds on disk (OpenBSD
    /// blksize): a whole block, or a small file's last one in fragments;
    /// 0 past the end.
    pub fn blksize(&self, ip: &Inode, lbn: u64) -> u64 {
        self.frags_at(ip.size, lbn) as u64 * self.sb().fsize as u64
    }

    /// Frees an indirect block and everything under it (`level` 0: its
    /// pointers name data blocks); the fragments freed.
    fn free_tree(&self, blk: u64, level: usize) -> Result<u32, Error> {
        let sb = *self.sb();
        let mut freed = 0;
        for idx in 0..sb.nindir as u64 {
            let p = self.read_ptr(blk, idx)?;
            if p == 0 {
                continue;
            }
            sb.check_blkptr(0, p)?;
            freed += if level == 0 {
                self.free_frags(p, sb.frag)?;
                sb.frag
            } else {
                self.free_tree(p, level - 1)?
            };
        }
        self.free_frags(blk, sb.frag)?;
        Ok(freed + sb.frag)
    }

    /// Frees what indirect block `blk` (covering blocks from `first`) maps
    /// past block `last`; the fragments freed.
    fn trunc_tree(&self, blk: u64, level: usize, first: u64, last: u64) -> Result<u32, Error> {
        let sb = *self.sb();
        let nindir = sb.nindir as u64;
        let cspan = nindir.pow(level as u32);
        let mut freed = 0;
        for idx in 0..nindir {
            let cfirst = first + idx * cspan;
            let p = self.read_ptr(blk, idx)?;
            if p == 0 || cfirst + cspan - 1 <= last {
                continue;
            }
            sb.check_blkptr(0, p)?;
            if cfirst > last {
                freed += if level == 0 {
                    self.free_frags(p, sb.frag)?;
                    sb.frag
                } else {
                    self.free_tree(p, level - 1)?
                };
                self.write_ptr(blk, idx, 0)?;
            } else if level > 0 {
                freed += self.trunc_tree(p, level - 1, cfirst, last)?;
            }
        }
        Ok(freed)
    }

    /// Sets the file's length (ffs_truncate): shortening frees the blocks
    /// past the end and zeroes the rest of the last one; lengthening
    /// allocates the new last block, zeroed.
    pub fn truncate(&self, ip: &mut Inode, len: u64) -> Result<(), Error> {
        let sb = *self.sb();
        if len > ip.size {
            return self.write(ip, len - 1, &[0]).map(|_| ());
        }
        if len == ip.size {
            return Ok(());
        }
        if self.is_fast_symlink(ip) {
            if len != 0 {
                return Err(Error::BadInode { ino: ip.ino, field: "shortening an inline symlink to", value: len });
            }
            ip.db = [0; NDADDR];
            ip.ib = [0; NIADDR];
            ip.size = 0;
            return self.write_inode(ip);
        }
        let bsize = sb.bsize as u64;
        let old = ip.size;
        let newlast = if len == 0 { None } else { Some((len - 1) / bsize) };
        let mut freed = 0u32;
        for lbn in 0..NDADDR {
            let b = ip.db[lbn];
            let l = lbn as u64;
            if b == 0 {
                continue;
            }
            let have = if old > l * bsize { self.frags_at(old, l) } else { sb.frag };
            match newlast {
                Some(last) if l < last => {}
                Some(last) if l == last => {
                    let want = self.frags_at(len, l);
                    if want < have {
                        self.free_frags(b + want as u64, have - want)?;
                        freed += have - want;
                    }
                }
                _ => {
                    self.free_frags(b, have)?;
                    ip.db[lbn] = 0;
                    freed += have;
                }
            }
        }
        let nindir = sb.nindir as u64;
        let (mut first, mut span) = (NDADDR as u64, 1u64);
        for level in 0..NIADDR {
            span = span.saturating_mul(nindir);
            let root = ip.ib[level];
            if root != 0 {
                sb.check_blkptr(ip.ino, root)?;
                match newlast {
                    Some(last) if last >= first => {
                        if last < first + span - 1 {
                            freed += self.trunc_tree(root, level, first, last)?;
                        }
                    }
                    _ => {
                        freed += self.free_tree(root, level)?;
                        ip.ib[level] = 0;
                    }
                }
            }
            first = first.saturating_add(span);
        }
        ip.size = len;
        ip.blocks = ip.blocks.saturating_sub(self.sectors(freed));
        // Bytes past the new end read as zeros if the file grows again.
        if !len.is_multiple_of(bsize) {
            let lbn = len / bsize;
            if let Some(b) = self.bmap(ip, lbn)? {
                let extent = self.frags_at(len, lbn) as u64 * sb.fsize as u64;
                let from = len % bsize;
                self.dev.write_at(sb.frag_offset(b)? + from, &vec![0u8; (extent - from) as usize])?;
            }
        }
        self.write_inode(ip)
    }

    fn read_exact(&self, ip: &Inode, off: u64, buf: &mut [u8]) -> Result<(), Error> {
        let mut got = 0;
        while got < buf.len() {
            let n = self.read(ip, off + got as u64, &mut buf[got..])?;
            if n == 0 {
                return Err(Error::BadInode { ino: ip.ino, field: "size (short read)", value: ip.size });
            }
            got += n;
        }
        Ok(())
    }

    /// Runs `f` on each DIRBLKSIZ chunk of a directory until it changes
    /// one (returns Some), which is written back.
    fn dir_edit<R>(&self, dir: &mut Inode, f: &mut ChunkEdit<R>) -> Result<Option<R>, Error> {
        if !dir.is_dir() {
            return Err(Error::NotADirectory { ino: dir.ino });
        }
        let mut chunk = [0u8; DIRBLKSIZ];
        let mut off = 0;
        while off < dir.size {
            self.read_exact(dir, off, &mut chunk)?;
            if let Some(r) = f(&mut chunk)? {
                self.write(dir, off, &chunk)?;
                return Ok(Some(r));
            }
            off += DIRBLKSIZ as u64;
        }
        Ok(None)
    }

    /// Adds entry `name` → `ino` to a directory (ufs_direnter): into the
    /// first chunk with room, or a new chunk at its end.
    pub fn dir_enter(&self, dir: &mut Inode, name: &[u8], ino: u32, dtype: u8) -> Result<(), Error> {
        let d = dir.ino;
        if self.dir_edit(dir, &mut |c| Ok(dir::direnter(d, c, ino, dtype, name)?.then_some(())))?.is_some() {
            return Ok(());
        }
        let mut chunk = [0u8; DIRBLKSIZ];
        dir::dirblock_init(&mut chunk, ino, dtype, name)?;
        let at = dir.size;
        self.write(dir, at, &chunk)?;
        Ok(())
    }

    /// Removes entry `name` (ufs_dirremove); the inode it named.
    pub fn dir_remove(&self, dir: &mut Inode, name: &[u8]) -> Result<Option<u32>, Error> {
        let d = dir.ino;
        self.dir_edit(dir, &mut |c| dir::dirremove(d, c, name))
    }

    /// Points entry `name` at `ino` (ufs_dirrewrite); false if missing.
    pub fn dir_rewrite(&self, dir: &mut Inode, name: &[u8], ino: u32, dtype: u8) -> Result<bool, Error> {
        let d = dir.ino;
        Ok(self.dir_edit(dir, &mut |c| Ok(dir::dirrewrite(d, c, name, ino, dtype)?.then_some(())))?.is_some())
    }

    /// Whether a directory holds nothing but `.` and `..` (ufs_dirempty).
    pub fn dir_isempty(&self, dir: &Inode) -> Result<bool, Error> {
        let mut empty = true;
        self.readdir(dir, &mut |e| {
            empty = e.name == b"." || e.name == b"..";
            empty
        })?;
        Ok(empty)
    }

    /// Writes a new directory's first chunk: `.` and `..` (ufs_mkdir).
    pub fn dir_init(&self, dir: &mut Inode, parent: u32) -> Result<(), Error> {
        let mut chunk = [0u8; DIRBLKSIZ];
        dir::dirblock_init(&mut chunk, dir.ino, DT_DIR, b".")?;
        dir::direnter(dir.ino, &mut chunk, parent, DT_DIR, b"..")?;
        self.write(dir, 0, &chunk)?;
        Ok(())
    }
}
