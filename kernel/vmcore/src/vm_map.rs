//! The entries of an address space (OpenBSD vm_map entries): disjoint,
//! page-aligned ranges [start, end) with data, looked up by address, split
//! when part of one is removed, and searched for free space.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::cell::Cell;
use core::fmt;

pub const PAGE_SIZE: u32 = 4096;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapEntry<T> {
    pub start: u32,
    pub end: u32,
    pub data: T,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// Start or end is not page-aligned, or the range is empty.
    BadRange(u32, u32),
    /// Outside the map's [min, max).
    OutOfRange(u32, u32),
    /// Overlaps the entry starting at this address.
    Overlap(u32),
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::BadRange(s, e) => write!(f, "bad range {s:#x}-{e:#x}"),
            MapError::OutOfRange(s, e) => write!(f, "range {s:#x}-{e:#x} is outside the map"),
            MapError::Overlap(at) => write!(f, "overlaps the entry at {at:#x}"),
        }
    }
}

pub struct VmMapEntries<T> {
    min: u32,
    max: u32,
    entries: BTreeMap<u32, MapEntry<T>>,
    /// A range [a, b) known to be covered by entries without a gap, where
    /// find_space skips ahead: one mmap after another at the same hint
    /// would otherwise walk every entry mapped before (OpenBSD keeps free
    /// space in its tree for the same reason).
    covered: Cell<(u32, u32)>,
}

impl<T: Clone> VmMapEntries<T> {
    /// A map covering [min, max); both page-aligned.
    pub fn new(min: u32, max: u32) -> Self {
        assert!(min.is_multiple_of(PAGE_SIZE) && max.is_multiple_of(PAGE_SIZE) && min < max);
        VmMapEntries { min, max, entries: BTreeMap::new(), covered: Cell::new((0, 0)) }
    }

    fn check(&self, start: u32, end: u32) -> Result<(), MapError> {
        if !start.is_multiple_of(PAGE_SIZE) || !end.is_multiple_of(PAGE_SIZE) || start >= end {
            return Err(MapError::BadRange(start, end));
        }
        if start < self.min || end > self.max {
            return Err(MapError::OutOfRange(start, end));
        }
        Ok(())
    }

    /// The entry whose range holds `va` (OpenBSD uvm_map_lookup_entry).
    pub fn lookup(&self, va: u32) -> Option<&MapEntry<T>> {
        self.entries.range(..=va).next_back().map(|(_, e)| e).filter(|e| va < e.end)
    }

    pub fn lookup_mut(&mut self, va: u32) -> Option<&mut MapEntry<T>> {
        self.entries.range_mut(..=va).next_back().map(|(_, e)| e).filter(|e| va < e.end)
    }

    /// The first entry overlapping [start, end), if any.
    fn first_overlap(&self, start: u32, end: u32) -> Option<u32> {
        if let Some(e) = self.lookup(start) {
            return Some(e.start);
        }
        self.entries.range(start..end).next().map(|(&s, _)| s)
    }

    pub fn insert(&mut self, start: u32, end: u32, data: T) -> Result<(), MapError> {
        self.check(start, end)?;
        if let Some(at) = self.first_overlap(start, end) {
            return Err(MapError::Overlap(at));
        }
        self.entries.insert(start, MapEntry { start, end, data });
        Ok(())
    }

    /// Removes [start, end) from the map, splitting entries that straddle
    /// its ends; returns the pieces removed, in address order.
    pub fn remove(&mut self, start: u32, end: u32) -> Result<Vec<MapEntry<T>>, MapError> {
        self.check(start, end)?;
        self.uncover(start, end);
        let hit: Vec<u32> = match self.lookup(start) {
            Some(e) => core::iter::once(e.start).chain(self.entries.range(start + 1..end).map(|(&s, _)| s)).collect(),
            None => self.entries.range(start..end).map(|(&s, _)| s).collect(),
        };
        let mut out = Vec::new();
        for s in hit {
            let Some(e) = self.entries.remove(&s) else { continue };
            if e.start < start {
                self.entries.insert(e.start, MapEntry { start: e.start, end: start, data: e.data.clone() });
            }
            if e.end > end {
                self.entries.insert(end, MapEntry { start: end, end: e.end, data: e.data.clone() });
            }
            out.push(MapEntry { start: e.start.max(start), end: e.end.min(end), data: e.data });
        }
        Ok(out)
    }

    /// Removes the first piece of [start, end) that an entry maps (split
    /// off as `remove` would), allocating no list: for an unmap of many
    /// entries when memory is short.
    pub fn remove_first(&mut self, start: u32, end: u32) -> Result<Option<MapEntry<T>>, MapError> {
        self.check(start, end)?;
        self.uncover(start, end);
        let Some(s) = self.first_overlap(start, end) else { return Ok(None) };
        let Some(e) = self.entries.remove(&s) else { return Ok(None) };
        if e.start < start {
            self.entries.insert(e.start, MapEntry { start: e.start, end: start, data: e.data.clone() });
        }
        if e.end > end {
            self.entries.insert(end, MapEntry { start: end, end: e.end, data: e.data.clone() });
        }
        Ok(Some(MapEntry { start: e.start.max(start), end: e.end.min(end), data: e.data }))
    }

    /// Forgets coverage that removing [start, end) may break.
    fn uncover(&self, start: u32, end: u32) {
        let (a, b) = self.covered.get();
        if start < b && end > a {
            self.covered.set(if start > a { (a, start) } else { (0, 0) });
        }
    }

    /// The lowest free, page-aligned range of `len` bytes at or above `hint`
    /// (OpenBSD uvm_map_findspace).
    pub fn find_space(&self, hint: u32, len: u32) -> Option<u32> {
        let len = len.checked_add(PAGE_SIZE - 1)? & !(PAGE_SIZE - 1);
        if len == 0 {
            return None;
        }
        let from = hint.max(self.min).checked_add(PAGE_SIZE - 1)? & !(PAGE_SIZE - 1);
        let mut at = from;
        let (a, b) = self.covered.get();
        if a <= at && at < b {
            at = b;
        }
        // Entries are page-aligned, so any gap is a free page: coverage
        // from `from` lasts until the first gap.
        let mut gapless = true;
        while let Some(e) = self.lookup(at) {
            at = e.end;
        }
        for e in self.entries.range(at..).map(|(_, e)| e) {
            if gapless && e.start != at {
                gapless = false;
                self.cover(from, at);
            }
            if e.start.checked_sub(at)? >= len {
                return Some(at);
            }
            at = e.end;
        }
        if gapless {
            self.cover(from, at);
        }
        (self.max.checked_sub(at)? >= len).then_some(at)
    }

    /// Notes [from, to) as covered (joined to what is known, if it touches).
    fn cover(&self, from: u32, to: u32) {
        let (a, b) = self.covered.get();
        self.covered.set(if a <= from && from <= b { (a, b.max(to)) } else { (from, to) });
    }

    pub fn iter(&self) -> impl Iterator<Item = &MapEntry<T>> {
        self.entries.values()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: u32 = PAGE_SIZE;

    fn map() -> VmMapEntries<char> {
        let mut m = VmMapEntries::new(0x1000_0000, 0xc000_0000);
        m.insert(0x1000_0000, 0x1000_0000 + 4 * P, 't').unwrap();
        m.insert(0x2000_0000, 0x2000_0000 + 2 * P, 'd').unwrap();
        m
    }

    #[test]
    fn lookup_finds_the_entry_holding_an_address() {
        let m = map();
        assert_eq!(m.lookup(0x1000_0000).map(|e| e.data), Some('t'));
        assert_eq!(m.lookup(0x1000_0000 + 4 * P - 1).map(|e| e.data), Some('t'));
        assert_eq!(m.lookup(0x1000_0000 + 4 * P), None);
        assert_eq!(m.lookup(0x2000_0000 + P).map(|e| e.data), Some('d'));
        assert_eq!(m.lookup(0x0fff_ffff), None);
        assert_eq!(m.lookup(0xffff_ffff), None);
    }

    #[test]
    fn insert_rejects_overlaps_and_bad_ranges() {
        let mut m = map();
        assert_eq!(m.insert(0x1000_0000 + 3 * P, 0x1000_0000 + 5 * P, 'x'), Err(MapError::Overlap(0x1000_0000)));
        assert_eq!(m.insert(0x1fff_f000, 0x2000_1000, 'x'), Err(MapError::Overlap(0x2000_0000)));
        assert_eq!(m.insert(0x1fff_0000, 0x2000_4000, 'x'), Err(MapError::Overlap(0x2000_0000)));
        assert_eq!(m.insert(0x3000_0001, 0x3000_2000, 'x'), Err(MapError::BadRange(0x3000_0001, 0x3000_2000)));
        assert_eq!(m.insert(0x3000_0000, 0x3000_0000, 'x'), Err(MapError::BadRange(0x3000_0000, 0x3000_0000)));
        assert_eq!(m.insert(0x0000_0000, 0x0000_1000, 'x'), Err(MapError::OutOfRange(0, 0x1000)));
        assert_eq!(m.insert(0xbfff_f000, 0xc000_1000, 'x'), Err(MapError::OutOfRange(0xbfff_f000, 0xc000_1000)));
        m.insert(0x1000_0000 + 4 * P, 0x1000_0000 + 5 * P, 'a').unwrap();
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn remove_splits_straddling_entries() {
        let mut m = map();
        let gone = m.remove(0x1000_0000 + P, 0x1000_0000 + 2 * P).unwrap();
        assert_eq!(gone, [MapEntry { start: 0x1000_0000 + P, end: 0x1000_0000 + 2 * P, data: 't' }]);
        let left: Vec<_> = m.iter().map(|e| (e.start, e.end)).collect();
        assert_eq!(left, [(0x1000_0000, 0x1000_0000 + P), (0x1000_0000 + 2 * P, 0x1000_0000 + 4 * P), (0x2000_0000, 0x2000_0000 + 2 * P)]);
        let gone = m.remove(0x1000_0000, 0x3000_0000).unwrap();
        assert_eq!(gone.len(), 3);
        assert!(m.is_empty());
        assert!(m.remove(0x1000_0000, 0x1000_1000).unwrap().is_empty());
    }

    #[test]
    fn find_space_takes_the_first_gap_that_fits() {
        let m = map();
        assert_eq!(m.find_space(0x1000_0000, P), Some(0x1000_0000 + 4 * P));
        assert_eq!(m.find_space(0x1000_0000, 1), Some(0x1000_0000 + 4 * P));
        assert_eq!(m.find_space(0x1fff_e000, 3 * P), Some(0x2000_0000 + 2 * P));
        assert_eq!(m.find_space(0x1fff_e000, 2 * P), Some(0x1fff_e000));
        assert_eq!(m.find_space(0xbfff_f000, 2 * P), None);
        assert_eq!(m.find_space(0x1000_0000, 0), None);
        assert_eq!(m.find_space(0x1000_0000, u32::MAX), None);
        assert_eq!(m.find_space(0, 0xb000_0000 - 4 * P), None);
    }

    /// One page mapped after another at the same hint: each search skips
    /// what is covered, and a removal below makes the hole findable again.
    #[test]
    fn find_space_skips_covered_ranges_and_sees_new_holes() {
        let mut m: VmMapEntries<u32> = VmMapEntries::new(0x1000_0000, 0xc000_0000);
        for i in 0..1000 {
            let at = m.find_space(0x4000_0000, P).unwrap();
            assert_eq!(at, 0x4000_0000 + i * P);
            m.insert(at, at + P, i).unwrap();
        }
        assert_eq!(m.remove_first(0x4000_0000 + 500 * P, 0x4000_0000 + 501 * P).unwrap().map(|e| e.data), Some(500));
        assert_eq!(m.find_space(0x4000_0000, P), Some(0x4000_0000 + 500 * P));
        assert_eq!(m.find_space(0x4000_0000, 2 * P), Some(0x4000_0000 + 1000 * P));
        m.insert(0x4000_0000 + 500 * P, 0x4000_0000 + 501 * P, 500).unwrap();
        assert_eq!(m.find_space(0x4000_0000, P), Some(0x4000_0000 + 1000 * P));
        m.remove(0x4000_0000, 0x4000_0000 + P).unwrap();
        assert_eq!(m.find_space(0x4000_0000, P), Some(0x4000_0000));
        assert_eq!(m.find_space(0x4000_0000 + P, P), Some(0x4000_0000 + 1000 * P));
        let mut n = 0;
        while m.remove_first(0x4000_0000, 0x5000_0000).unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 999);
        assert!(m.is_empty());
    }
}
