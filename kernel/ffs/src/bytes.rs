//! The on-disk structures' big-endian fields: one reader each, shared by
//! the superblock, inode, cylinder-group and fsck code.

pub(crate) fn be16(b: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([b[o], b[o + 1]])
}

pub(crate) fn be32(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

pub(crate) fn be64(b: &[u8], o: usize) -> u64 {
    (be32(b, o) as u64) << 32 | be32(b, o + 4) as u64
}

/// `be32`, or None past the end of `b` (fsck reads damaged structures).
#[cfg(feature = "alloc")]
pub(crate) fn be32_get(b: &[u8], o: usize) -> Option<u32> {
    b.get(o..o.checked_add(4)?).map(|_| be32(b, o))
}
