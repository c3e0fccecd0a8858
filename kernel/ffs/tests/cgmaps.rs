//! The group allocator against the groups makefs wrote: taking a block,
//! a fragment run and an inode and giving them back leaves every byte of
//! the group's block as it was (maps, counts, run counts, cluster map and
//! cluster counts; the search rotors move on), and what it takes is free
//! in the maps makefs wrote.

mod common;

use common::{makefs, pattern, Scratch};
use ffs::cgalloc::{Cg, CS_NBFREE};
use ffs::Fs;

#[test]
fn allocation_round_trips_every_group() {
    for (version, bsize) in [(1, 8192), (2, 4096), (2, 16384)] {
        let s = Scratch::new("cgmaps");
        let root = s.0.join("root");
        std::fs::create_dir_all(root.join("d")).unwrap();
        for i in 0..20 {
            std::fs::write(root.join(format!("d/f{i}")), pattern(i, 1000 + 7000 * i as usize)).unwrap();
        }
        let img = makefs(&root, version, bsize, 8);
        let fs = Fs::mount(&img[..]).unwrap();
        let sb = *fs.sb();
        for c in 0..sb.ncg {
            let off = sb.cg_offset(c).unwrap() as usize;
            let orig = img[off..off + sb.cgsize as usize].to_vec();
            let mut b = orig.clone();
            let mut m = Cg::new(&mut b, sb.cg_geom()).unwrap();
            let nbfree = m.cs()[CS_NBFREE];
            let blk = m.alloc_block(0).unwrap();
            let f = m.alloc_frags(1).unwrap();
            let i = m.ialloc(0).unwrap();
            assert!(!m.is_free(blk) && !m.is_free(f), "UFS{version} b{bsize} cg {c}");
            assert!(m.cs()[CS_NBFREE] < nbfree);
            m.free(blk, sb.frag).unwrap();
            m.free(f, 1).unwrap();
            m.ifree(i).unwrap();
            // All but the rotors (cg_rotor, cg_frotor, cg_irotor: where the
            // next searches start), which remember the allocations.
            b[40..52].copy_from_slice(&orig[40..52]);
            assert!(b == orig, "UFS{version} b{bsize} cg {c}: the group's block is not as makefs wrote it");
        }
    }
}
