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
pub fn walk_chunk(sb: &Superblock, dir: u32, base: u64, chunk: &[u8], f: &mut dyn FnMut(&DirEntry) -> bool) -> Result<bool, Error> {
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

/// Bytes an entry for a name of `namlen` bytes takes: the header and the
/// name with its NUL, rounded to 4 (DIRSIZ).
pub fn dirsiz(namlen: usize) -> usize {
    DIRHDR + (namlen + 1).next_multiple_of(4)
}

fn put_entry(chunk: &mut [u8], at: usize, ino: u32, reclen: usize, dtype: u8, name: &[u8]) {
    chunk[at..at + 4].copy_from_slice(&ino.to_be_bytes());
    chunk[at + 4..at + 6].copy_from_slice(&(reclen as u16).to_be_bytes());
    chunk[at + 6] = dtype;
    chunk[at + 7] = name.len() as u8;
    chunk[at + DIRHDR..at + DIRHDR + name.len()].copy_from_slice(name);
    chunk[at + DIRHDR + name.len()..at + dirsiz(name.len())].fill(0);
}

fn check_name(name: &[u8]) -> Result<(), Error> {
    if name.is_empty() || name.len() > MAXNAMLEN || name.contains(&b'/') || name.contains(&0) {
        return Err(Error::BadName { len: name.len() });
    }
    Ok(())
}

/// One entry's place in a chunk: (offset, ino, reclen, namlen).
type Slot = (usize, u32, usize, usize);

/// The entries of a chunk (at most DIRBLKSIZ / DIRHDR) and their count,
/// checked as `walk_chunk` checks them.
fn entries(dir: u32, chunk: &[u8]) -> Result<([Slot; DIRBLKSIZ / DIRHDR], usize), Error> {
    let mut out = [(0, 0, 0, 0); DIRBLKSIZ / DIRHDR];
    let (mut n, mut at) = (0, 0);
    if chunk.len() != DIRBLKSIZ {
        return Err(Error::BadDirEntry { dir, off: 0, what: "block length", value: chunk.len() as u64 });
    }
    while at < DIRBLKSIZ {
        let bad = |what: &'static str, value: u64| Error::BadDirEntry { dir, off: at as u64, what, value };
        let ino = u32::from_be_bytes([chunk[at], chunk[at + 1], chunk[at + 2], chunk[at + 3]]);
        let reclen = u16::from_be_bytes([chunk[at + 4], chunk[at + 5]]) as usize;
        let namlen = chunk[at + 7] as usize;
        if reclen < DIRHDR || !reclen.is_multiple_of(4) || at + reclen > DIRBLKSIZ {
            return Err(bad("record length", reclen as u64));
        }
        if ino != 0 && dirsiz(namlen) > reclen {
            return Err(bad("name length", namlen as u64));
        }
        out[n] = (at, ino, reclen, namlen);
        n += 1;
        at += reclen;
    }
    Ok((out, n))
}

/// Makes an empty directory chunk that holds just this entry (a new block
/// of a growing directory).
pub fn dirblock_init(chunk: &mut [u8], ino: u32, dtype: u8, name: &[u8]) -> Result<(), Error> {
    check_name(name)?;
    if chunk.len() != DIRBLKSIZ {
        return Err(Error::BadDirEntry { dir: 0, off: 0, what: "block length", value: chunk.len() as u64 });
    }
    chunk.fill(0);
    put_entry(chunk, 0, ino, DIRBLKSIZ, dtype, name);
    Ok(())
}

/// Enters `name` in one DIRBLKSIZ chunk of directory `dir` (OpenBSD
/// ufs_direnter): into an unused first entry, or into the slack after an
/// entry, which gives up that space. False when the chunk has no room.
pub fn direnter(dir: u32, chunk: &mut [u8], ino: u32, dtype: u8, name: &[u8]) -> Result<bool, Error> {
    check_name(name)?;
    let need = dirsiz(name.len());
    let (ents, n) = entries(dir, chunk)?;
    for &(at, eino, reclen, namlen) in &ents[..n] {
        if eino == 0 && reclen >= need {
            put_entry(chunk, at, ino, reclen, dtype, name);
            return Ok(true);
        }
        let used = dirsiz(namlen);
        if eino != 0 && reclen - used >= need {
            chunk[at + 4..at + 6].copy_from_slice(&(used as u16).to_be_bytes());
            put_entry(chunk, at + used, ino, reclen - used, dtype, name);
            return Ok(true);
        }
    }
    Ok(false)
}

/// Removes `name` from one chunk (OpenBSD ufs_dirremove): its space joins
/// the entry before it, or, first in the chunk, it is marked unused.
/// Returns the inode the entry named, or None if the chunk lacks it.
pub fn dirremove(dir: u32, chunk: &mut [u8], name: &[u8]) -> Result<Option<u32>, Error> {
    let (ents, n) = entries(dir, chunk)?;
    for i in 0..n {
        let (at, ino, reclen, namlen) = ents[i];
        if ino == 0 || &chunk[at + DIRHDR..at + DIRHDR + namlen] != name {
            continue;
        }
        if i == 0 {
            chunk[at..at + 4].fill(0);
        } else {
            let (pat, _, preclen, _) = ents[i - 1];
            chunk[pat + 4..pat + 6].copy_from_slice(&((preclen + reclen) as u16).to_be_bytes());
        }
        return Ok(Some(ino));
    }
    Ok(None)
}

/// Points entry `name` of one chunk at inode `ino` (a moved directory's
/// `..`); false if the chunk lacks it.
pub fn dirrewrite(dir: u32, chunk: &mut [u8], name: &[u8], ino: u32, dtype: u8) -> Result<bool, Error> {
    let (ents, n) = entries(dir, chunk)?;
    for &(at, eino, _, namlen) in &ents[..n] {
        if eino != 0 && &chunk[at + DIRHDR..at + DIRHDR + namlen] == name {
            chunk[at..at + 4].copy_from_slice(&ino.to_be_bytes());
            chunk[at + 6] = dtype;
            return Ok(true);
        }
    }
    Ok(false)
}
