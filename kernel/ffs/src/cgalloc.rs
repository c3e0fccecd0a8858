//! Allocation in a cylinder group's maps, the bitmap part of OpenBSD's
//! ffs_alloc.c: the free-fragment map (a set bit is a free fragment) and
//! the inode map (a set bit is an inode in use). Blocks are `frag`
//! fragments, aligned; a file's last partial block takes a run of
//! fragments inside one block, preferring a block already broken up.

use crate::Error;

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

/// The free-fragment map of one cylinder group.
pub struct FragMap<'a> {
    map: &'a mut [u8],
    nfrags: u32,
    frag: u32,
}

impl<'a> FragMap<'a> {
    /// `nfrags` fragments (the group's, a multiple of `frag` is not needed:
    /// a last partial block is never handed out whole).
    pub fn new(map: &'a mut [u8], nfrags: u32, frag: u32) -> Result<Self, Error> {
        if ![1, 2, 4, 8].contains(&frag) || (map.len() as u64) * 8 < nfrags as u64 {
            return Err(Error::BadSuperblock { field: "fragment map size", value: map.len() as u64 });
        }
        Ok(FragMap { map, nfrags, frag })
    }

    pub fn is_free(&self, f: u32) -> bool {
        f < self.nfrags && get(self.map, f)
    }

    fn whole_blocks(&self) -> u32 {
        self.nfrags / self.frag
    }

    fn block_free(&self, b: u32) -> bool {
        (b * self.frag..(b + 1) * self.frag).all(|f| get(self.map, f))
    }

    /// A whole free block, the first at or after block `hint` (wrapping):
    /// its first fragment, now in use.
    pub fn alloc_block(&mut self, hint: u32) -> Option<u32> {
        let n = self.whole_blocks();
        let b = (0..n).map(|i| (hint % n.max(1) + i) % n).find(|&b| self.block_free(b))?;
        for f in b * self.frag..(b + 1) * self.frag {
            set(self.map, f, false);
        }
        Some(b * self.frag)
    }

    /// `n` (< frag) contiguous fragments inside one block: the shortest free
    /// run that fits in a partly used block, else the start of a free block.
    pub fn alloc_frags(&mut self, n: u32) -> Option<u32> {
        if n == 0 || n >= self.frag {
            return if n == self.frag { self.alloc_block(0) } else { None };
        }
        let mut best: Option<(u32, u32)> = None;
        for b in 0..self.whole_blocks() {
            if self.block_free(b) {
                continue;
            }
            let mut f = b * self.frag;
            let end = (b + 1) * self.frag;
            while f < end {
                if !get(self.map, f) {
                    f += 1;
                    continue;
                }
                let start = f;
                while f < end && get(self.map, f) {
                    f += 1;
                }
                let len = f - start;
                if len >= n && best.is_none_or(|(_, l)| len < l) {
                    best = Some((start, len));
                }
            }
        }
        let start = match best {
            Some((s, _)) => s,
            None => {
                let s = self.alloc_block(0)?;
                // Give back what the partial block does not use.
                for f in s + n..s + self.frag {
                    set(self.map, f, true);
                }
                return Some(s);
            }
        };
        for f in start..start + n {
            set(self.map, f, false);
        }
        Some(start)
    }

    /// Takes the `n` fragments from `start` if all are free (extending a
    /// fragment run in place); false, changing nothing, if any is in use.
    pub fn take(&mut self, start: u32, n: u32) -> bool {
        let Some(end) = start.checked_add(n).filter(|&e| e <= self.nfrags) else { return false };
        if !(start..end).all(|f| get(self.map, f)) {
            return false;
        }
        for f in start..end {
            set(self.map, f, false);
        }
        true
    }

    /// Free-run counts of the broken blocks (cg_frsum): `out[k]` counts
    /// the maximal runs of exactly k free fragments inside a block that is
    /// not wholly free.
    pub fn frsum(&self) -> [u32; 8] {
        let mut out = [0u32; 8];
        for b in 0..self.whole_blocks() {
            if self.block_free(b) {
                continue;
            }
            let mut run = 0;
            for f in b * self.frag..(b + 1) * self.frag {
                if get(self.map, f) {
                    run += 1;
                } else {
                    if run > 0 {
                        out[run] += 1;
                    }
                    run = 0;
                }
            }
            if run > 0 {
                out[run] += 1;
            }
        }
        out
    }

    /// Whether whole block `b` is free (for the cluster map).
    pub fn is_block_free(&self, b: u32) -> bool {
        b < self.whole_blocks() && self.block_free(b)
    }

    /// Marks `n` fragments from `start` free again; freeing a free one is
    /// an error naming it (and changes nothing).
    pub fn free(&mut self, start: u32, n: u32) -> Result<(), Error> {
        let end = start.checked_add(n).filter(|&e| e <= self.nfrags).ok_or(Error::DoubleFree { frag: start as u64 })?;
        if let Some(f) = (start..end).find(|&f| get(self.map, f)) {
            return Err(Error::DoubleFree { frag: f as u64 });
        }
        for f in start..end {
            set(self.map, f, true);
        }
        Ok(())
    }

    /// (free whole blocks, free fragments outside them): cs_nbfree and
    /// cs_nffree.
    pub fn counts(&self) -> (u32, u32) {
        let (mut nb, mut nf) = (0, 0);
        for b in 0..self.whole_blocks() {
            let free = (b * self.frag..(b + 1) * self.frag).filter(|&f| get(self.map, f)).count() as u32;
            if free == self.frag {
                nb += 1;
            } else {
                nf += free;
            }
        }
        (nb, nf)
    }
}

/// The inode map of one cylinder group.
pub struct InodeMap<'a> {
    map: &'a mut [u8],
    ipg: u32,
}

impl<'a> InodeMap<'a> {
    pub fn new(map: &'a mut [u8], ipg: u32) -> Result<Self, Error> {
        if (map.len() as u64) * 8 < ipg as u64 {
            return Err(Error::BadSuperblock { field: "inode map size", value: map.len() as u64 });
        }
        Ok(InodeMap { map, ipg })
    }

    /// The first free inode at or after `hint` (wrapping), now in use.
    pub fn alloc(&mut self, hint: u32) -> Option<u32> {
        let i = (0..self.ipg).map(|k| (hint % self.ipg.max(1) + k) % self.ipg).find(|&i| !get(self.map, i))?;
        set(self.map, i, true);
        Some(i)
    }

    pub fn free(&mut self, i: u32) -> Result<(), Error> {
        if i >= self.ipg || !get(self.map, i) {
            return Err(Error::DoubleFree { frag: i as u64 });
        }
        set(self.map, i, false);
        Ok(())
    }

    pub fn nifree(&self) -> u32 {
        (0..self.ipg).filter(|&i| !get(self.map, i)).count() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_and_fragments() {
        let mut bits = [0xffu8; 4];
        let mut m = FragMap::new(&mut bits, 32, 8).unwrap();
        assert_eq!(m.counts(), (4, 0));
        assert_eq!(m.alloc_frags(3), Some(0));
        assert_eq!(m.counts(), (3, 5));
        // A later small request fits in the broken block, not a free one.
        assert_eq!(m.alloc_frags(2), Some(3));
        assert_eq!(m.alloc_block(0), Some(8));
        assert_eq!(m.alloc_block(3), Some(24));
        assert_eq!(m.counts(), (1, 3));
        assert_eq!(m.free(3, 2), Ok(()));
        assert_eq!(m.free(4, 1), Err(Error::DoubleFree { frag: 4 }));
        assert_eq!(m.free(0, 3), Ok(()));
        assert_eq!(m.counts(), (2, 0));
        assert!(m.alloc_frags(8).is_some());
        assert!(m.alloc_frags(9).is_none());
    }

    #[test]
    fn take_and_frsum() {
        let mut bits = [0xffu8; 2];
        let mut m = FragMap::new(&mut bits, 16, 8).unwrap();
        assert_eq!(m.alloc_frags(2), Some(0));
        assert_eq!(m.frsum(), [0, 0, 0, 0, 0, 0, 1, 0]);
        assert!(m.take(2, 3));
        assert!(!m.take(4, 2));
        assert!(!m.take(15, 2));
        assert_eq!(m.frsum(), [0, 0, 0, 1, 0, 0, 0, 0]);
        assert!(m.take(6, 1));
        assert_eq!(m.frsum(), [0, 2, 0, 0, 0, 0, 0, 0]);
        assert!(!m.is_block_free(0));
        assert!(m.is_block_free(1));
    }

    #[test]
    fn best_fit_among_broken_blocks() {
        let mut bits = [0u8; 2];
        // Block 0: fragments 1-2 free (run 2); block 1: 8-13 free (run 6).
        for f in [1, 2, 8, 9, 10, 11, 12, 13] {
            set(&mut bits, f, true);
        }
        let mut m = FragMap::new(&mut bits, 16, 8).unwrap();
        assert_eq!(m.alloc_frags(2), Some(1));
        assert_eq!(m.alloc_frags(2), Some(8));
        assert_eq!(m.alloc_frags(5), None);
    }

    #[test]
    fn inodes() {
        let mut bits = [0b0000_0111u8, 0];
        let mut m = InodeMap::new(&mut bits, 16).unwrap();
        assert_eq!(m.nifree(), 13);
        assert_eq!(m.alloc(0), Some(3));
        assert_eq!(m.alloc(15), Some(15));
        assert_eq!(m.alloc(15), Some(4));
        assert_eq!(m.free(15), Ok(()));
        assert_eq!(m.free(15), Err(Error::DoubleFree { frag: 15 }));
        assert!(InodeMap::new(&mut [0u8; 1], 16).is_err());
    }
}
