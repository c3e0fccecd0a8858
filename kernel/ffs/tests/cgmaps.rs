//! The map allocator against the maps makefs wrote: its counts agree with
//! each group's summary, and allocating then freeing restores the maps.

mod common;

use common::{makefs, pattern, Scratch};
use ffs::cgalloc::{FragMap, InodeMap};
use ffs::Fs;

#[test]
fn maps_agree_with_summaries_and_round_trip() {
    for (version, bsize) in [(1, 8192), (2, 4096), (2, 16384)] {
        let s = Scratch::new("cgmaps");
        let root = s.0.join("root");
        std::fs::create_dir_all(root.join("d")).unwrap();
        for i in 0..20 {
            std::fs::write(root.join(format!("d/f{i}")), pattern(i, 1000 + 7000 * i as usize)).unwrap();
        }
        let mut img = makefs(&root, version, bsize, 8);
        let fs = Fs::mount(&img[..]).unwrap();
        let sb = *fs.sb();
        let maps: Vec<_> = (0..sb.ncg).map(|c| (c, fs.cg_maps(c).unwrap(), fs.cg_summary(c).unwrap())).collect();
        for (c, (iu, fr), cs) in maps {
            let nfrags = (sb.size - c as u64 * sb.fpg as u64).min(sb.fpg as u64) as u32;
            let (fr, iu) = (fr as usize, iu as usize);
            let flen = (sb.fpg as usize).div_ceil(8);
            let ilen = (sb.ipg as usize).div_ceil(8);
            let orig_free = img[fr..fr + flen].to_vec();
            let orig_inodes = img[iu..iu + ilen].to_vec();
            {
                let mut m = FragMap::new(&mut img[fr..fr + flen], nfrags, sb.frag).unwrap();
                assert_eq!(m.counts(), (cs.nbfree as u32, cs.nffree as u32), "UFS{version} b{bsize} cg {c}: counts");
                let b = m.alloc_block(0).unwrap();
                let f = m.alloc_frags(1).unwrap();
                assert!(!m.is_free(b) && !m.is_free(f));
                m.free(b, sb.frag).unwrap();
                m.free(f, 1).unwrap();
            }
            assert_eq!(img[fr..fr + flen], orig_free[..], "cg {c}: free map not restored");
            {
                let mut m = InodeMap::new(&mut img[iu..iu + ilen], sb.ipg).unwrap();
                assert_eq!(m.nifree() as u64, cs.nifree, "cg {c}: free inodes");
                let i = m.alloc(0).unwrap();
                m.free(i).unwrap();
            }
            assert_eq!(img[iu..iu + ilen], orig_inodes[..], "cg {c}: inode map not restored");
        }
    }
}
