//! Allocation in one cylinder group's block (struct cg), the map part of
//! OpenBSD's ffs_alloc.c: the free-fragment map (a set bit is a free
//! fragment), the inode map (a set bit is an inode in use), and the
//! summaries kept beside them. Every change updates the summaries by what
//! it changed, as ffs_alloccg and ffs_blkfree do with ffs_fragacct and
//! ffs_clusteracct: the group's counts (cs_nbfree, cs_nffree, cs_nifree,
//! cs_ndir), the free-run counts of broken blocks (cg_frsum) and, when the
//! file system keeps them (fs_contigsumsize > 0), the cluster map of free
//! blocks and its run counts. Nothing is recounted over the group; the
//! fsck proves the result against a recount.
//!
//! Blocks are `frag` fragments, aligned, so a block's bits never straddle
//! a byte of the map. A file's last partial block takes a run of
//! fragments inside one block, preferring a block already broken up.

use crate::bytes::be32;
use crate::Error;

/// struct cg offsets (fs.h), for the whole crate.
pub(crate) const CG_MAGIC_OFF: usize = 4;
const CG_NDBLK: usize = 20;
pub(crate) const CG_CS: usize = 24;
const CG_ROTOR: usize = 40;
const CG_FROTOR: usize = 44;
const CG_IROTOR: usize = 48;
pub(crate) const CG_FRSUM: usize = 52;
pub(crate) const CG_IUSEDOFF: usize = 92;
pub(crate) const CG_FREEOFF: usize = 96;
pub(crate) const CG_CLUSTERSUMOFF: usize = 104;
pub(crate) const CG_CLUSTEROFF: usize = 108;
pub(crate) const CG_NCLUSTERBLKS: usize = 112;
const CG_INITEDIBLK: usize = 120;
pub(crate) const CG_MAGIC: u32 = 0x0009_0255;

/// cg_cs fields, in on-disk order.
pub const CS_NDIR: usize = 0;
pub const CS_NBFREE: usize = 1;
pub const CS_NIFREE: usize = 2;
pub const CS_NFFREE: usize = 3;

fn get(map: &[u8], i: u32) -> bool {
    map[(i / 8) as usize] & (1 << (i % 8)) != 0
}

fn set(map: &mut [u8], i: u32, v: bool) {
    let b = &mut map[(i / 8) as usize];
    if v {
        *b |= 1 << (i % 8);
    } else {
        *b &= !(1 << (i % 8));
    }
}

fn add32(b: &mut [u8], o: usize, d: i32) {
    let v = be32(b, o).wrapping_add(d as u32);
    b[o..o + 4].copy_from_slice(&v.to_be_bytes());
}

/// The superblock's numbers a cylinder group's block is read with.
#[derive(Clone, Copy, Debug)]
pub struct CgGeom {
    pub frag: u32,
    pub fpg: u32,
    pub ipg: u32,
    /// fs_contigsumsize: 0 when no cluster summaries are kept.
    pub contigsumsize: u32,
}

/// Where the cluster map and its run counts are, when kept.
#[derive(Clone, Copy)]
struct Clusters {
    map: usize,
    sum: usize,
    nblks: u32,
    sumsize: u32,
}

/// A cylinder group's block, checked, for allocation.
pub struct Cg<'a> {
    b: &'a mut [u8],
    frag: u32,
    /// Whole blocks in the group (a partial block at its end is never
    /// handed out or taken back).
    nblks: u32,
    ipg: u32,
    freeoff: usize,
    iusedoff: usize,
    clusters: Option<Clusters>,
}

impl<'a> Cg<'a> {
    /// Checks the magic number and that every map and summary the header
    /// points at lies inside the block.
    pub fn new(b: &'a mut [u8], g: CgGeom) -> Result<Self, Error> {
        let bad = |field, value: u64| Error::BadSuperblock { field, value };
        if b.len() < CG_INITEDIBLK + 4 || be32(b, CG_MAGIC_OFF) != CG_MAGIC {
            return Err(bad("cylinder group magic", if b.len() > 8 { be32(b, CG_MAGIC_OFF) as u64 } else { 0 }));
        }
        if ![1, 2, 4, 8].contains(&g.frag) {
            return Err(bad("fragments per block", g.frag as u64));
        }
        let fits = |off: usize, bytes: usize| off.checked_add(bytes).is_some_and(|e| e <= b.len());
        let (freeoff, iusedoff) = (be32(b, CG_FREEOFF) as usize, be32(b, CG_IUSEDOFF) as usize);
        if !fits(freeoff, (g.fpg as usize).div_ceil(8)) {
            return Err(bad("free map offset", freeoff as u64));
        }
        if !fits(iusedoff, (g.ipg as usize).div_ceil(8)) {
            return Err(bad("inode map offset", iusedoff as u64));
        }
        let nblks = be32(b, CG_NDBLK).min(g.fpg) / g.frag;
        let (sum, map) = (be32(b, CG_CLUSTERSUMOFF) as usize, be32(b, CG_CLUSTEROFF) as usize);
        let clusters = if g.contigsumsize == 0 || sum == 0 || map == 0 {
            None
        } else {
            let cnblks = be32(b, CG_NCLUSTERBLKS).min(nblks);
            if !fits(map, (cnblks as usize).div_ceil(8)) {
                return Err(bad("cluster map offset", map as u64));
            }
            if !fits(sum, 4 * (g.contigsumsize as usize + 1)) {
                return Err(bad("cluster summary offset", sum as u64));
            }
            Some(Clusters { map, sum, nblks: cnblks, sumsize: g.contigsumsize })
        };
        Ok(Cg { b, frag: g.frag, nblks, ipg: g.ipg, freeoff, iusedoff, clusters })
    }

    /// (ndir, nbfree, nifree, nffree), cg_cs.
    pub fn cs(&self) -> [i64; 4] {
        [0, 1, 2, 3].map(|k| be32(self.b, CG_CS + 4 * k) as i32 as i64)
    }

    fn cs_add(&mut self, k: usize, d: i32) {
        add32(self.b, CG_CS + 4 * k, d);
    }

    /// Directories made (+1) or removed (-1) in the group.
    pub fn add_ndir(&mut self, d: i32) {
        self.cs_add(CS_NDIR, d);
    }

    /// cg_initediblk (UFS2): inodes past it were never written.
    pub fn initediblk(&self) -> u32 {
        be32(self.b, CG_INITEDIBLK)
    }

    pub fn set_initediblk(&mut self, v: u32) {
        self.b[CG_INITEDIBLK..CG_INITEDIBLK + 4].copy_from_slice(&v.to_be_bytes());
    }

    fn field(&self, off: usize) -> u32 {
        be32(self.b, off)
    }

    fn set_field(&mut self, off: usize, v: u32) {
        self.b[off..off + 4].copy_from_slice(&v.to_be_bytes());
    }

    /// cg_rotor: the block after which the last block was taken, where a
    /// search without a preference in this group starts (ffs_alloccgblk).
    pub fn rotor(&self) -> u32 {
        self.field(CG_ROTOR) / self.frag
    }

    /// cg_irotor: the last inode taken, where the next search starts.
    pub fn irotor(&self) -> u32 {
        self.field(CG_IROTOR)
    }

    /// Puts cg_irotor back (an allocation being undone).
    pub fn set_irotor(&mut self, v: u32) {
        self.set_field(CG_IROTOR, v);
    }

    fn full(&self) -> u32 {
        (1 << self.frag) - 1
    }

    /// The free bits of block `blk`, its first fragment in bit 0
    /// (ffs_blkmap).
    fn blkmap(&self, blk: u32) -> u32 {
        let f = blk * self.frag;
        (self.b[self.freeoff + (f / 8) as usize] as u32 >> (f % 8)) & self.full()
    }

    /// Sets block `blk`'s free bits to `bits`, carrying the change into the
    /// counts, the free-run counts and the cluster summary.
    fn set_blkmap(&mut self, blk: u32, bits: u32) {
        let old = self.blkmap(blk);
        if old == bits {
            return;
        }
        self.blkacct(old, -1);
        let f = blk * self.frag;
        let mask = (self.full() << (f % 8)) as u8;
        let byte = &mut self.b[self.freeoff + (f / 8) as usize];
        *byte = (*byte & !mask) | ((bits << (f % 8)) as u8 & mask);
        self.blkacct(bits, 1);
        let full = self.full();
        if (old == full) != (bits == full) {
            self.clusteracct(blk, bits == full);
        }
    }

    /// Counts (cnt 1) or uncounts (cnt -1) a block whose free bits are
    /// `bits`: a wholly free block in cs_nbfree; a broken one's free
    /// fragments in cs_nffree and its maximal free runs in cg_frsum
    /// (ffs_fragacct).
    fn blkacct(&mut self, bits: u32, cnt: i32) {
        if bits == self.full() {
            self.cs_add(CS_NBFREE, cnt);
            return;
        }
        self.cs_add(CS_NFFREE, cnt * bits.count_ones() as i32);
        let mut run = 0;
        for k in 0..=self.frag {
            if k < self.frag && bits & (1 << k) != 0 {
                run += 1;
            } else if run > 0 {
                add32(self.b, CG_FRSUM + 4 * run, cnt);
                run = 0;
            }
        }
    }

    /// Block `blk` became wholly free (`free`) or stopped being: its bit
    /// in the cluster map, and the run counts — the runs on either side
    /// join into one, or one splits in two (ffs_clusteracct). Lengths are
    /// counted up to fs_contigsumsize, the last slot holding every longer
    /// run.
    fn clusteracct(&mut self, blk: u32, free: bool) {
        let Some(c) = self.clusters else { return };
        if blk >= c.nblks {
            return;
        }
        set(&mut self.b[c.map..], blk, free);
        let map = &self.b[c.map..];
        let forw = (blk + 1..c.nblks).take(c.sumsize as usize).take_while(|&i| get(map, i)).count() as u32;
        let back = (0..blk).rev().take(c.sumsize as usize).take_while(|&i| get(map, i)).count() as u32;
        let cnt = if free { 1 } else { -1 };
        let slot = |n: u32| c.sum + 4 * n as usize;
        add32(self.b, slot((back + forw + 1).min(c.sumsize)), cnt);
        if back > 0 {
            add32(self.b, slot(back), -cnt);
        }
        if forw > 0 {
            add32(self.b, slot(forw), -cnt);
        }
    }

    /// Whether fragment `f` is free.
    pub fn is_free(&self, f: u32) -> bool {
        f < self.nblks * self.frag && get(&self.b[self.freeoff..], f)
    }

    /// A whole free block, the first at or after block `hint` (wrapping):
    /// its first fragment, now in use, and cg_rotor.
    pub fn alloc_block(&mut self, hint: u32) -> Option<u32> {
        let n = self.nblks;
        let full = self.full();
        let blk = (0..n).map(|i| (hint % n.max(1) + i) % n).find(|&b| self.blkmap(b) == full)?;
        self.set_blkmap(blk, 0);
        self.set_field(CG_ROTOR, blk * self.frag);
        Some(blk * self.frag)
    }

    /// The first block from cg_frotor on (wrapping) holding a maximal free
    /// run of exactly `len` (< frag) fragments: its start (ffs_mapsearch).
    fn find_run(&self, len: u32) -> Option<u32> {
        let full = self.full();
        let n = self.nblks.max(1);
        let from = self.field(CG_FROTOR) / self.frag % n;
        (0..self.nblks).map(|i| (from + i) % n).find_map(|blk| {
            let bits = self.blkmap(blk);
            if bits == 0 || bits == full {
                return None;
            }
            let mut k = 0;
            while k < self.frag {
                let start = k;
                while k < self.frag && bits & (1 << k) != 0 {
                    k += 1;
                }
                if k - start == len {
                    return Some(blk * self.frag + start);
                }
                k += 1;
            }
            None
        })
    }

    /// `n` (< frag) contiguous fragments inside one block: from the
    /// shortest free run that fits in a broken block (searched from
    /// cg_frotor, which then names its block), else the start of a free
    /// block from cg_rotor on, the rest of which stays free. cg_frsum says
    /// which run lengths exist and is trusted, as OpenBSD's ffs_alloccg
    /// trusts it: a length it does not count is not searched for, so a
    /// small request costs one scan of the map, not one per length. (A
    /// damaged count only breaks a new block where an old one had room;
    /// the fsck names it.)
    pub fn alloc_frags(&mut self, n: u32) -> Option<u32> {
        if n == 0 || n >= self.frag {
            return if n == self.frag { self.alloc_block(0) } else { None };
        }
        let shortest = (n..self.frag).find(|&k| be32(self.b, CG_FRSUM + 4 * k as usize) > 0);
        let start = shortest.and_then(|k| self.find_run(k));
        let start = match start {
            Some(s) => {
                self.set_field(CG_FROTOR, s / self.frag * self.frag);
                s
            }
            None => {
                let s = self.alloc_block(self.rotor())?;
                let blk = s / self.frag;
                self.set_blkmap(blk, self.full() & !((1 << n) - 1));
                return Some(s);
            }
        };
        self.change(start, n, false);
        Some(start)
    }

    /// Clears (`free` false) or sets the bits of fragments start..start+n,
    /// block by block.
    fn change(&mut self, start: u32, n: u32, free: bool) {
        let mut f = start;
        while f < start + n {
            let blk = f / self.frag;
            let end = ((blk + 1) * self.frag).min(start + n);
            let mask = (((1u32 << (end - f)) - 1) << (f % self.frag)) & self.full();
            let bits = self.blkmap(blk);
            self.set_blkmap(blk, if free { bits | mask } else { bits & !mask });
            f = end;
        }
    }

    fn in_range(&self, start: u32, n: u32) -> bool {
        start.checked_add(n).is_some_and(|e| e <= self.nblks * self.frag)
    }

    /// Takes the `n` fragments from `start` if all are free (extending a
    /// fragment run in place, ffs_fragextend); false, changing nothing, if
    /// any is in use.
    pub fn take(&mut self, start: u32, n: u32) -> bool {
        if !self.in_range(start, n) || !(start..start + n).all(|f| get(&self.b[self.freeoff..], f)) {
            return false;
        }
        self.change(start, n, false);
        true
    }

    /// Marks `n` fragments from `start` free again (ffs_blkfree); freeing
    /// a free one is an error naming it (and changes nothing).
    pub fn free(&mut self, start: u32, n: u32) -> Result<(), Error> {
        if !self.in_range(start, n) {
            return Err(Error::DoubleFree { frag: start as u64 });
        }
        if let Some(f) = (start..start + n).find(|&f| get(&self.b[self.freeoff..], f)) {
            return Err(Error::DoubleFree { frag: f as u64 });
        }
        self.change(start, n, true);
        Ok(())
    }

    /// The first free inode at or after `hint` (wrapping), now in use,
    /// counted, and cg_irotor.
    pub fn ialloc(&mut self, hint: u32) -> Option<u32> {
        let ipg = self.ipg;
        let map = &self.b[self.iusedoff..];
        let free = |i: u32| !get(map, i);
        // Whole bytes of inodes in use are skipped eight at a time.
        let mut scan = (0..ipg).map(|k| (hint % ipg.max(1) + k) % ipg);
        let mut found = None;
        while let Some(i) = scan.next() {
            if i % 8 == 0 && i + 8 <= ipg && map[(i / 8) as usize] == 0xff {
                let _ = scan.nth(6);
                continue;
            }
            if free(i) {
                found = Some(i);
                break;
            }
        }
        let i = found?;
        set(&mut self.b[self.iusedoff..], i, true);
        self.cs_add(CS_NIFREE, -1);
        self.set_field(CG_IROTOR, i);
        Some(i)
    }

    /// Frees inode `i` of the group (ffs_freefile's map part).
    pub fn ifree(&mut self, i: u32) -> Result<(), Error> {
        if i >= self.ipg || !get(&self.b[self.iusedoff..], i) {
            return Err(Error::DoubleFree { frag: i as u64 });
        }
        set(&mut self.b[self.iusedoff..], i, false);
        self.cs_add(CS_NIFREE, 1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FREEOFF: usize = 256;
    const IUSEDOFF: usize = 200;
    const CLUSTERSUM: usize = 300;
    const CLUSTERMAP: usize = 400;

    /// A group block of `nblks` blocks of `frag` fragments, all free,
    /// 32 inodes (the first two in use), cluster sums up to `sumsize`.
    fn cgblock(frag: u32, nblks: u32, sumsize: u32) -> (Vec<u8>, CgGeom) {
        let mut b = vec![0u8; 512];
        let put = |b: &mut [u8], o: usize, v: u32| b[o..o + 4].copy_from_slice(&v.to_be_bytes());
        put(&mut b, CG_MAGIC_OFF, CG_MAGIC);
        put(&mut b, CG_NDBLK, nblks * frag);
        put(&mut b, CG_FREEOFF, FREEOFF as u32);
        put(&mut b, CG_IUSEDOFF, IUSEDOFF as u32);
        put(&mut b, CG_CLUSTERSUMOFF, CLUSTERSUM as u32);
        put(&mut b, CG_CLUSTEROFF, CLUSTERMAP as u32);
        put(&mut b, CG_NCLUSTERBLKS, nblks);
        for f in 0..nblks * frag {
            set(&mut b[FREEOFF..], f, true);
        }
        for blk in 0..nblks {
            set(&mut b[CLUSTERMAP..], blk, true);
        }
        b[IUSEDOFF] = 0b11;
        put(&mut b, CG_CS + 4 * CS_NBFREE, nblks);
        put(&mut b, CG_CS + 4 * CS_NIFREE, 30);
        if sumsize > 0 {
            put(&mut b, CLUSTERSUM + 4 * nblks.min(sumsize) as usize, 1);
        }
        (b, CgGeom { frag, fpg: nblks * frag, ipg: 32, contigsumsize: sumsize })
    }

    /// Everything the summaries should say, counted from the maps.
    fn recount(b: &[u8], g: CgGeom) -> ([i64; 4], [u32; 8], Vec<u32>, Vec<bool>) {
        let nblks = g.fpg / g.frag;
        let free = |f: u32| get(&b[FREEOFF..], f);
        let (mut nb, mut nf, mut frsum) = (0, 0, [0u32; 8]);
        for blk in 0..nblks {
            let fr: Vec<bool> = (0..g.frag).map(|k| free(blk * g.frag + k)).collect();
            if fr.iter().all(|&x| x) {
                nb += 1;
                continue;
            }
            nf += fr.iter().filter(|&&x| x).count() as i64;
            for run in fr.split(|&x| !x).map(<[bool]>::len).filter(|&l| l > 0) {
                frsum[run] += 1;
            }
        }
        let blkfree: Vec<bool> = (0..nblks).map(|blk| (0..g.frag).all(|k| free(blk * g.frag + k))).collect();
        let mut sums = vec![0u32; g.contigsumsize as usize + 1];
        for run in blkfree.split(|&x| !x).map(<[bool]>::len).filter(|&l| l > 0) {
            sums[run.min(g.contigsumsize as usize)] += 1;
        }
        let nifree = (0..g.ipg).filter(|&i| !get(&b[IUSEDOFF..], i)).count() as i64;
        let ndir = be32(b, CG_CS) as i32 as i64;
        ([ndir, nb, nifree, nf], frsum, sums, blkfree)
    }

    fn check(b: &[u8], g: CgGeom, what: &str) {
        let (cs, frsum, sums, blkfree) = recount(b, g);
        let stored_cs = [0, 1, 2, 3].map(|k| be32(b, CG_CS + 4 * k) as i32 as i64);
        assert_eq!(stored_cs, cs, "{what}: cg_cs");
        let stored_frsum: [u32; 8] = core::array::from_fn(|k| be32(b, CG_FRSUM + 4 * k));
        assert_eq!(stored_frsum[1..], frsum[1..], "{what}: cg_frsum");
        if g.contigsumsize > 0 {
            let stored: Vec<u32> = (0..=g.contigsumsize as usize).map(|k| be32(b, CLUSTERSUM + 4 * k)).collect();
            assert_eq!(stored[1..], sums[1..], "{what}: cluster sums");
            let map: Vec<bool> = (0..blkfree.len() as u32).map(|blk| get(&b[CLUSTERMAP..], blk)).collect();
            assert_eq!(map, blkfree, "{what}: cluster map");
        }
    }

    #[test]
    fn blocks_and_fragments() {
        let (mut b, g) = cgblock(8, 4, 4);
        let mut m = Cg::new(&mut b, g).unwrap();
        assert_eq!(m.cs(), [0, 4, 30, 0]);
        assert_eq!(m.alloc_frags(3), Some(0));
        assert_eq!(m.cs(), [0, 3, 30, 5]);
        // A later small request fits in the broken block, not a free one.
        assert_eq!(m.alloc_frags(2), Some(3));
        assert_eq!(m.alloc_block(0), Some(8));
        assert_eq!(m.alloc_block(3), Some(24));
        assert_eq!(m.cs(), [0, 1, 30, 3]);
        assert_eq!(m.free(3, 2), Ok(()));
        assert_eq!(m.free(4, 1), Err(Error::DoubleFree { frag: 4 }));
        assert_eq!(m.free(0, 3), Ok(()));
        assert_eq!(m.cs(), [0, 2, 30, 0]);
        assert!(m.alloc_frags(8).is_some());
        assert!(m.alloc_frags(9).is_none());
        check(&b, g, "blocks_and_fragments");
    }

    #[test]
    fn take_and_frsum() {
        let (mut b, g) = cgblock(8, 2, 2);
        let mut m = Cg::new(&mut b, g).unwrap();
        assert_eq!(m.alloc_frags(2), Some(0));
        assert!(m.take(2, 3));
        assert!(!m.take(4, 2));
        assert!(!m.take(15, 2));
        assert!(m.take(6, 1));
        assert!(!m.is_free(6) && m.is_free(7) && m.is_free(8));
        check(&b, g, "take_and_frsum");
        assert_eq!(be32(&b, CG_FRSUM + 4), 2);
    }

    #[test]
    fn best_fit_among_broken_blocks() {
        let (mut b, g) = cgblock(8, 2, 0);
        let mut m = Cg::new(&mut b, g).unwrap();
        // Block 0: fragments 1-2 free (run 2); block 1: 8-13 free (run 6).
        assert_eq!(m.alloc_block(0), Some(0));
        assert_eq!(m.alloc_block(0), Some(8));
        m.free(1, 2).unwrap();
        m.free(8, 6).unwrap();
        assert_eq!(m.alloc_frags(2), Some(1));
        assert_eq!(m.alloc_frags(2), Some(8));
        assert_eq!(m.alloc_frags(5), None);
        check(&b, g, "best_fit");
    }

    #[test]
    fn frsum_is_trusted() {
        // Block 0 holds a run of 3 that cg_frsum does not count: a request
        // for 2 breaks the free block 1 instead, as ffs_alloccg would.
        let (mut b, g) = cgblock(4, 3, 0);
        let mut m = Cg::new(&mut b, g).unwrap();
        assert_eq!(m.alloc_frags(1), Some(0));
        b[CG_FRSUM + 4 * 3 + 3] = 0;
        let mut m = Cg::new(&mut b, g).unwrap();
        assert_eq!(m.alloc_frags(2), Some(4));
        // A count of runs the map lacks: the search finds none and a free
        // block is broken; nothing fails.
        b[CG_FRSUM + 4 + 3] = 5;
        let mut m = Cg::new(&mut b, g).unwrap();
        assert_eq!(m.alloc_frags(1), Some(8));
    }

    #[test]
    fn clusters_join_and_split() {
        // Runs longer than fs_contigsumsize all count in its slot.
        let (mut b, g) = cgblock(2, 12, 3);
        let mut m = Cg::new(&mut b, g).unwrap();
        for blk in [5, 0, 11, 6, 2] {
            assert!(m.take(blk * 2, 2));
        }
        check(&b, g, "taken");
        let mut m = Cg::new(&mut b, g).unwrap();
        for blk in [6, 0, 5] {
            m.free(blk * 2, 2).unwrap();
        }
        check(&b, g, "freed");
    }

    #[test]
    fn random_changes_keep_every_summary() {
        for (frag, nblks, sumsize) in [(1, 40, 4), (2, 33, 16), (4, 20, 3), (8, 17, 8), (8, 9, 0)] {
            let (mut b, g) = cgblock(frag, nblks, sumsize);
            let mut held: Vec<(u32, u32)> = Vec::new();
            let mut x = 0x9e37_79b9u32 ^ frag;
            let mut rnd = |n: u32| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x % n.max(1)
            };
            for step in 0..600 {
                let mut m = Cg::new(&mut b, g).unwrap();
                match rnd(5) {
                    0 => held.extend(m.alloc_block(rnd(nblks)).map(|f| (f, frag))),
                    1 | 2 => {
                        let n = 1 + rnd(frag);
                        held.extend(m.alloc_frags(n).map(|f| (f, n)));
                    }
                    3 if !held.is_empty() => {
                        let (f, n) = held.swap_remove(rnd(held.len() as u32) as usize);
                        m.free(f, n).unwrap();
                    }
                    _ => {
                        if let Some(i) = m.ialloc(rnd(32)) {
                            if rnd(2) == 0 {
                                m.ifree(i).unwrap();
                            }
                        }
                    }
                }
                check(&b, g, &format!("frag {frag}, step {step}"));
            }
        }
    }

    #[test]
    fn inodes() {
        let (mut b, g) = cgblock(8, 2, 0);
        b[IUSEDOFF] = 0xff;
        b[IUSEDOFF + 1] = 0b0000_0111;
        b[CG_CS + 4 * CS_NIFREE + 3] = 21;
        let mut m = Cg::new(&mut b, g).unwrap();
        assert_eq!(m.ialloc(0), Some(11));
        assert_eq!(m.ialloc(31), Some(31));
        assert_eq!(m.ialloc(31), Some(12));
        assert_eq!(m.ifree(31), Ok(()));
        assert_eq!(m.ifree(31), Err(Error::DoubleFree { frag: 31 }));
        assert_eq!(m.cs()[CS_NIFREE], 19);
        check(&b, g, "inodes");
    }

    #[test]
    fn bad_headers_are_refused() {
        let (mut b, g) = cgblock(8, 2, 2);
        b[CG_MAGIC_OFF] ^= 1;
        assert!(Cg::new(&mut b, g).is_err());
        let (mut b, g) = cgblock(8, 2, 2);
        b[CG_FREEOFF + 2] = 0xff;
        assert!(Cg::new(&mut b, g).is_err());
        let (mut b, g) = cgblock(8, 2, 2);
        assert!(Cg::new(&mut b, CgGeom { contigsumsize: 100, ..g }).is_err());
    }
}
