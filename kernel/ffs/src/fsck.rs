//! An fsck for FFS images (what the kernel wrote, or any makefs image),
//! behind `cargo xtask image check F` and the write side's tests. Checks,
//! naming each inconsistency:
//! - the directory tree: every entry's inode allocated, `.` and `..` right;
//! - link counts against the entries that name each inode;
//! - every block of every file inside the file system, claimed once, and
//!   marked in use in its cylinder group's free map; no block in use that
//!   no file claims;
//! - the inode maps against the inodes the tree reaches;
//! - each cylinder group's and the superblock's summary counts, its
//!   free-run counts, and its cluster map and cluster counts when kept;
//! - that the file system was unmounted cleanly (fs_clean).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use alloc::{format, vec};

use crate::cgalloc::{CG_CLUSTEROFF, CG_CLUSTERSUMOFF, CG_CS, CG_FREEOFF, CG_FRSUM, CG_IUSEDOFF, CG_MAGIC, CG_MAGIC_OFF, CG_NCLUSTERBLKS};
use crate::{Fs, Inode, ROOTINO};

/// A field of a structure that may be cut short: 0 past its end.
fn be32(b: &[u8], o: usize) -> u32 {
    crate::bytes::be32_get(b, o).unwrap_or(0)
}

fn bit(map: &[u8], i: u64) -> bool {
    map.get((i / 8) as usize).is_some_and(|b| b & (1 << (i % 8)) != 0)
}

/// Every problem found, in the order found.
pub struct Report {
    pub problems: Vec<String>,
    pub files: u64,
    pub dirs: u64,
    pub frags_used: u64,
    /// Fragments a file holds that its cylinder group's map calls free,
    /// with the inode holding each: the damage an allocator would turn
    /// into two files sharing a block.
    pub free_in_use: Vec<(u64, u32)>,
}

struct Cg {
    iused: Vec<u8>,
    free: Vec<u8>,
    cs: [u32; 4],
    frsum: [u32; 8],
    /// The cluster map and counts (index 0 unused), when kept.
    clusters: Option<(Vec<u8>, Vec<u32>)>,
}

/// The fragments an inode holds: each data block (a partial last block of
/// a small file counts only its fragments) and each indirect block.
fn inode_frags(fs: &Fs<&[u8]>, ip: &Inode, p: &mut Vec<String>) -> Vec<(u64, u64)> {
    let sb = fs.sb();
    let (bsize, fsize, frag) = (sb.bsize as u64, sb.fsize as u64, sb.frag as u64);
    let mut out = Vec::new();
    if fs.is_fast_symlink(ip) {
        return out;
    }
    let nblocks = ip.size.div_ceil(bsize);
    for lbn in 0..nblocks {
        match fs.bmap(ip, lbn) {
            Ok(Some(b)) => {
                let n = if lbn < 12 && lbn == nblocks - 1 { (ip.size - lbn * bsize).div_ceil(fsize) } else { frag };
                out.push((b, n));
            }
            Ok(None) => {}
            Err(e) => {
                p.push(format!("inode {}: {e}", ip.ino));
                return out;
            }
        }
    }
    // Indirect blocks themselves: walk the pointer blocks the file uses.
    let nindir = sb.nindir as u64;
    let mut span = 1u64;
    let mut first = 12u64;
    for (level, &root) in ip.ib.iter().enumerate() {
        span = span.saturating_mul(nindir);
        if root != 0 && first < nblocks {
            collect_indirect(fs, root, level, &mut out, p, ip.ino);
        }
        first = first.saturating_add(span);
    }
    out
}

fn collect_indirect(fs: &Fs<&[u8]>, blk: u64, level: usize, out: &mut Vec<(u64, u64)>, p: &mut Vec<String>, ino: u32) {
    let sb = fs.sb();
    out.push((blk, sb.frag as u64));
    if level == 0 {
        return;
    }
    let mut buf = vec![0u8; sb.bsize as usize];
    let Ok(off) = sb.frag_offset(blk) else { return };
    if let Err(e) = fs.device_read(off, &mut buf) {
        p.push(format!("inode {ino}: indirect block {blk}: {e}"));
        return;
    }
    let psize = sb.ptr_size() as usize;
    for c in buf.chunks(psize) {
        let ptr = if psize == 4 { be32(c, 0) as u64 } else { (be32(c, 0) as u64) << 32 | be32(c, 4) as u64 };
        if ptr != 0 {
            if ptr >= sb.size {
                p.push(format!("inode {ino}: indirect pointer {ptr:#x} is beyond the file system"));
            } else {
                collect_indirect(fs, ptr, level - 1, out, p, ino);
            }
        }
    }
}

pub fn check(img: &[u8]) -> Result<Report, crate::Error> {
    let fs = Fs::mount(img)?;
    let sb = *fs.sb();
    let mut p = Vec::new();
    if !fs.is_clean()? {
        p.push(String::from("superblock: not unmounted cleanly (fs_clean is 0)"));
    }

    let mut cgs = Vec::new();
    for c in 0..sb.ncg {
        let off = sb.cg_offset(c)? as usize;
        let blk = img.get(off..off + sb.cgsize as usize).unwrap_or_default();
        if be32(blk, CG_MAGIC_OFF) != CG_MAGIC {
            p.push(format!("cylinder group {c}: bad magic {:#x}", be32(blk, CG_MAGIC_OFF)));
            cgs.push(Cg { iused: vec![], free: vec![], cs: [0; 4], frsum: [0; 8], clusters: None });
            continue;
        }
        let (iu, fr) = (be32(blk, CG_IUSEDOFF) as usize, be32(blk, CG_FREEOFF) as usize);
        let ilen = (sb.ipg as usize).div_ceil(8);
        let flen = (sb.fpg as usize).div_ceil(8);
        let (Some(iused), Some(free)) = (blk.get(iu..iu + ilen), blk.get(fr..fr + flen)) else {
            p.push(format!("cylinder group {c}: maps outside its block (iused {iu}, free {fr})"));
            cgs.push(Cg { iused: vec![], free: vec![], cs: [0; 4], frsum: [0; 8], clusters: None });
            continue;
        };
        let cs = [0, 4, 8, 12].map(|o| be32(blk, CG_CS + o));
        let frsum = core::array::from_fn(|k| be32(blk, CG_FRSUM + 4 * k));
        let (sumoff, mapoff) = (be32(blk, CG_CLUSTERSUMOFF) as usize, be32(blk, CG_CLUSTEROFF) as usize);
        let nclusterblks = be32(blk, CG_NCLUSTERBLKS) as usize;
        let clusters = if sb.contigsumsize == 0 || sumoff == 0 || mapoff == 0 {
            None
        } else {
            let sums = (0..=sb.contigsumsize as usize).map(|k| be32(blk, sumoff + 4 * k)).collect();
            let Some(map) = blk.get(mapoff..mapoff + nclusterblks.div_ceil(8)) else {
                p.push(format!("cylinder group {c}: cluster map outside its block ({mapoff})"));
                cgs.push(Cg { iused: vec![], free: vec![], cs: [0; 4], frsum: [0; 8], clusters: None });
                continue;
            };
            // The map covers nclusterblks blocks; its bits past them are unused.
            let mut map = map.to_vec();
            for i in nclusterblks..map.len() * 8 {
                map[i / 8] &= !(1 << (i % 8));
            }
            Some((map, sums))
        };
        cgs.push(Cg { iused: iused.to_vec(), free: free.to_vec(), cs, frsum, clusters });
    }

    // The tree: links counted from directory entries, parents for "..".
    let mut links: BTreeMap<u32, u32> = BTreeMap::new();
    let mut inodes: BTreeMap<u32, Inode> = BTreeMap::new();
    let mut queue = vec![(ROOTINO, ROOTINO, String::from("/"))];
    let (mut files, mut dirs) = (0, 0);
    while let Some((ino, parent, path)) = queue.pop() {
        if inodes.contains_key(&ino) {
            continue;
        }
        let ip = match fs.inode(ino) {
            Ok(ip) => ip,
            Err(e) => {
                p.push(format!("{path}: {e}"));
                continue;
            }
        };
        if ip.mode == 0 {
            p.push(format!("{path}: inode {ino} is named but not allocated (mode 0)"));
        }
        inodes.insert(ino, ip);
        if !ip.is_dir() {
            files += 1;
            continue;
        }
        dirs += 1;
        let mut entries = Vec::new();
        if let Err(e) = fs.readdir(&ip, &mut |e| {
            entries.push((e.ino, e.name.to_vec()));
            true
        }) {
            p.push(format!("{path}: {e}"));
        }
        let dot = entries.iter().find(|e| e.1 == b".");
        let dotdot = entries.iter().find(|e| e.1 == b"..");
        if dot.map(|e| e.0) != Some(ino) {
            p.push(format!("{path}: '.' does not name the directory itself (inode {ino})"));
        }
        if dotdot.map(|e| e.0) != Some(parent) {
            p.push(format!("{path}: '..' names {:?}, not the parent {parent}", dotdot.map(|e| e.0)));
        }
        for (child, name) in entries {
            *links.entry(child).or_default() += 1;
            if name == b"." || name == b".." {
                continue;
            }
            let name = String::from_utf8_lossy(&name);
            let cpath = if path == "/" { format!("/{name}") } else { format!("{path}/{name}") };
            queue.push((child, ino, cpath));
        }
    }
    for (&ino, ip) in &inodes {
        let n = links.get(&ino).copied().unwrap_or(0);
        if ip.nlink as u32 != n {
            p.push(format!("inode {ino}: link count {} but {n} directory entries name it", ip.nlink));
        }
    }

    // Blocks: each fragment claimed once and in use in the free map.
    let mut claimed: BTreeMap<u64, u32> = BTreeMap::new();
    for (&ino, ip) in &inodes {
        for (b, n) in inode_frags(&fs, ip, &mut p) {
            for f in b..b + n {
                if let Some(other) = claimed.insert(f, ino) {
                    p.push(format!("fragment {f}: claimed by inode {other} and inode {ino}"));
                }
            }
        }
    }
    let cs_frags = (sb.cssize as u64).div_ceil(sb.fsize as u64);
    let meta = |f: u64| -> bool {
        let c = (f / sb.fpg as u64) as u32;
        let base = c as u64 * sb.fpg as u64;
        (f >= base && f < sb.cgstart(c) + sb.dblkno as u64) || (f >= sb.csaddr && f < sb.csaddr + cs_frags)
    };
    let mut totals = [0u64; 4];
    let mut frags_used = 0;
    let mut free_in_use = Vec::new();
    for (c, cg) in cgs.iter().enumerate() {
        if cg.free.is_empty() {
            continue;
        }
        let base = c as u64 * sb.fpg as u64;
        let end = (base + sb.fpg as u64).min(sb.size);
        let (mut nffree, mut nbfree) = (0u64, 0u64);
        let mut f = base;
        while f < end {
            let is_free = bit(&cg.free, f - base);
            match (is_free, claimed.contains_key(&f)) {
                (true, true) => {
                    free_in_use.push((f, claimed[&f]));
                    p.push(format!("fragment {f}: in use by inode {} but free in cylinder group {c}", claimed[&f]))
                }
                (false, false) if !meta(f) => p.push(format!("fragment {f}: marked in use in cylinder group {c} but no file holds it")),
                _ => {}
            }
            if !is_free {
                frags_used += 1;
            }
            f += 1;
        }
        // Free blocks are whole blocks whose fragments are all free.
        let mut frsum = [0u32; 8];
        let mut blkfree = Vec::new();
        let mut b = base;
        while b + sb.frag as u64 <= end {
            let all = (b..b + sb.frag as u64).all(|f| bit(&cg.free, f - base));
            blkfree.push(all);
            if all {
                nbfree += 1;
            } else {
                nffree += (b..b + sb.frag as u64).filter(|&f| bit(&cg.free, f - base)).count() as u64;
                let mut run = 0;
                for f in b..=b + sb.frag as u64 {
                    if f < b + sb.frag as u64 && bit(&cg.free, f - base) {
                        run += 1;
                    } else if run > 0 {
                        frsum[run] += 1;
                        run = 0;
                    }
                }
            }
            b += sb.frag as u64;
        }
        if frsum[1..] != cg.frsum[1..] {
            p.push(format!("cylinder group {c}: fragment run counts {:?}, the map says {:?}", &cg.frsum[1..], &frsum[1..]));
        }
        if let Some((map, sums)) = &cg.clusters {
            let n = (map.len() * 8).min(blkfree.len());
            if let Some(blk) = (0..map.len() * 8).find(|&i| bit(map, i as u64) != (i < n && blkfree[i])) {
                p.push(format!("cylinder group {c}: cluster map says block {blk} is {}", if bit(map, blk as u64) { "free" } else { "in use" }));
            }
            let size = sb.contigsumsize as usize;
            let mut want = vec![0u32; size + 1];
            for run in blkfree[..n].split(|&f| !f).map(<[bool]>::len).filter(|&l| l > 0) {
                want[run.min(size)] += 1;
            }
            if sums[1..] != want[1..] {
                p.push(format!("cylinder group {c}: cluster counts {:?}, the map says {:?}", &sums[1..], &want[1..]));
            }
        }
        let mut nifree = 0u64;
        let mut ndir = 0u64;
        for i in 0..sb.ipg {
            let ino = c as u32 * sb.ipg + i;
            let used = bit(&cg.iused, i as u64);
            if !used {
                nifree += 1;
            }
            match (used, inodes.get(&ino)) {
                (false, Some(_)) => p.push(format!("inode {ino}: in the tree but free in cylinder group {c}")),
                (true, None) if ino >= ROOTINO => p.push(format!("inode {ino}: allocated in cylinder group {c} but in no directory")),
                (true, Some(ip)) if ip.is_dir() => ndir += 1,
                _ => {}
            }
        }
        let want = [ndir, nbfree, nifree, nffree];
        let names = ["directories", "free blocks", "free inodes", "free fragments"];
        for k in 0..4 {
            if cg.cs[k] as u64 != want[k] {
                p.push(format!("cylinder group {c}: summary says {} {}, the maps say {}", cg.cs[k], names[k], want[k]));
            }
            totals[k] += want[k];
        }
        if let Ok(s) = fs.cg_summary(c as u32) {
            let got = [s.ndir, s.nbfree, s.nifree, s.nffree];
            if got != want {
                p.push(format!("cylinder group {c}: summary area says {got:?}, the maps say {want:?}"));
            }
        }
    }
    let t = sb.cstotal;
    let got = [t.ndir, t.nbfree, t.nifree, t.nffree];
    if got != totals {
        p.push(format!("superblock: totals (dirs, free blocks, free inodes, free frags) {got:?}, the maps say {totals:?}"));
    }
    Ok(Report { problems: p, files, dirs, frags_used, free_in_use })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A makefs image of a small tree (files up to double-indirect size).
    fn image(version: u32, bsize: u32) -> Vec<u8> {
        // One directory per call: tests run in parallel and two may ask for
        // the same geometry.
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("xtask-fsck-{}-{version}-{bsize}-{n}", std::process::id()));
        let root = dir.join("root");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/small"), b"x").unwrap();
        std::fs::write(root.join("a/frag"), vec![7u8; 3000]).unwrap();
        std::fs::write(root.join("big"), vec![9u8; (12 + 1100) * bsize as usize]).unwrap();
        std::os::unix::fs::symlink("a/b/small", root.join("link")).unwrap();
        let img = dir.join("img.ffs");
        let makefs = ["/usr/sbin/makefs", "/usr/bin/makefs"].into_iter().find(|p| std::path::Path::new(p).exists());
        let out = Command::new(makefs.expect("makefs not found: apt-get install makefs"))
            .args(["-t", "ffs", "-B", "be", "-s", "24m", "-o"])
            .arg(format!("version={version},bsize={bsize},fsize={}", bsize / 8))
            .arg(&img)
            .arg(&root)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let bytes = std::fs::read(&img).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        bytes
    }

    fn problems(img: &[u8]) -> Vec<String> {
        check(img).unwrap().problems
    }

    #[test]
    fn makefs_images_are_consistent() {
        for (v, b) in [(1, 4096), (2, 4096), (1, 16384), (2, 8192)] {
            let img = image(v, b);
            assert_eq!(problems(&img), Vec::<String>::new(), "UFS{v}, {b}-byte blocks");
        }
    }

    #[test]
    fn damage_is_named() {
        let img = image(2, 8192);
        let fs = Fs::mount(&img[..]).unwrap();
        let sb = *fs.sb();
        let small = fs.lookup("/a/b/small").unwrap();
        let ioff = sb.inode_offset(small).unwrap() as usize;
        let cg0 = sb.cg_offset(0).unwrap() as usize;
        let (iu, fr) = (be32(&img, cg0 + CG_IUSEDOFF) as usize, be32(&img, cg0 + CG_FREEOFF) as usize);
        let blk = fs.inode(small).unwrap().db[0] as usize;

        let mut m = img.clone();
        m[ioff + 3] = 5; // di_nlink
        assert!(problems(&m).iter().any(|p| p.contains("link count 5 but 1")), "{:?}", problems(&m));

        let mut m = img.clone();
        m[cg0 + iu + small as usize / 8] &= !(1 << (small % 8));
        assert!(problems(&m).iter().any(|p| p.contains("in the tree but free")), "{:?}", problems(&m));

        let mut m = img.clone();
        m[cg0 + fr + blk / 8] |= 1 << (blk % 8);
        assert!(problems(&m).iter().any(|p| p.contains("but free in cylinder group 0")), "{:?}", problems(&m));

        let mut m = img.clone();
        m[cg0 + CG_CS + 11] ^= 1; // cs_nifree
        assert!(problems(&m).iter().any(|p| p.contains("free inodes")), "{:?}", problems(&m));

        // A free block the cluster map calls in use, and a run count off.
        assert!(sb.contigsumsize > 0, "makefs keeps cluster summaries");
        let (csum, cmap) = (be32(&img, cg0 + CG_CLUSTERSUMOFF) as usize, be32(&img, cg0 + CG_CLUSTEROFF) as usize);
        let nblks = be32(&img, cg0 + CG_NCLUSTERBLKS) as usize;
        let mut m = img.clone();
        m[cg0 + cmap + (nblks - 1) / 8] &= !(1 << ((nblks - 1) % 8));
        assert!(problems(&m).iter().any(|p| p.contains(&format!("cluster map says block {} is in use", nblks - 1))), "{:?}", problems(&m));
        let mut m = img.clone();
        m[cg0 + csum + 4 * sb.contigsumsize as usize + 3] ^= 1;
        assert!(problems(&m).iter().any(|p| p.contains("cluster counts")), "{:?}", problems(&m));

        let mut m = img.clone();
        let other = fs.inode(fs.lookup("/a/frag").unwrap()).unwrap().db[0];
        m[ioff + 112..ioff + 120].copy_from_slice(&other.to_be_bytes());
        assert!(problems(&m).iter().any(|p| p.contains("claimed by inode")), "{:?}", problems(&m));
    }
}
