//! Directory entries (struct direct): d_ino, d_reclen, d_type, d_namlen
//! and the name, packed into DIRBLKSIZ chunks that no entry crosses.

use crate::dinode::FileType;
use crate::fs::Superblock;
use crate::Error;

pub const DIRBLKSIZ: usize = 512;
const DIRHDR: usize = 8;
const MAXNAMLEN: usize = 255;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirEntry<'a> {
    pub ino: u32,
    pub kind: FileType,
    pub name: &'a [u8],
}

/// Calls `f` on each live entry of one chunk at directory offset `base`;
/// false once `f` asked to stop.
pub fn walk_chunk(
    sb: &Superblock,
    dir: u32,
    base: u64,
    chunk: &[u8],
    f: &mut dyn FnMut(&DirEntry) -> bool,
) -> Result<bool, Error> {
    let mut at = 0usize;
    while at + DIRHDR <= chunk.len() {
        let off = base + at as u64;
        let bad = |what: &'static str, value: u64| Error::BadDirEntry { dir, off, what, value };
        let ino = u32::from_be_bytes([chunk[at], chunk[at + 1], chunk[at + 2], chunk[at + 3]]);
        let reclen = u16::from_be_bytes([chunk[at + 4], chunk[at + 5]]) as usize;
        let dtype = chunk[at + 6];
        let namlen = chunk[at + 7] as usize;
        if reclen < DIRHDR || !reclen.is_multiple_of(4) {
            return Err(bad("record length", reclen as u64));
        }
        if at + reclen > chunk.len() {
            return Err(bad("record length crossing its block", reclen as u64));
        }
        if ino != 0 {
            if namlen == 0 || namlen > MAXNAMLEN || DIRHDR + namlen > reclen {
                return Err(bad("name length", namlen as u64));
            }
            if ino >= sb.ninodes() {
                return Err(bad("inode number", ino as u64));
            }
            let e = DirEntry { ino, kind: FileType::from_dtype(dtype), name: &chunk[at + DIRHDR..at + DIRHDR + namlen] };
            if !f(&e) {
                return Ok(false);
            }
        }
        at += reclen;
    }
    Ok(true)
}
