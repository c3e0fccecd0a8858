//! /bin/mapwriter ID SEED DEADLINE_MS [keepopen|close] [DIR]: one of the
//! race workload's writers.
//! Over a pool of files DIR/wID-K (DIR /race by default) it maps a file MAP_SHARED read-write,
//! checks that every page holds what it last wrote there, dirties a seeded
//! choice of pages with a new generation, unmaps and closes — so that,
//! with `uvm.mmap_uncache=0`, the file's object persists with dirty pages
//! and no vnode reference (P0, doc/results.md). With `keepopen` each file is
//! opened once and never closed: the object still persists at the unmap,
//! but its vnode stays referenced. Exits 1 on any mismatch.
#![no_std]
#![no_main]

use kcore::random::Rng;
use kcore::syscalls::{MAP_SHARED, O_CREAT, O_RDWR, PROT_READ, PROT_WRITE};
use userland::{close, fstat, ftruncate, mmap_file, munmap, open_mode, path_join, println, sleep_ms, uptime_ms, Args};

const NFILES: usize = 8;
const NPAGES: usize = 16;
const PG: usize = 4096;

/// The word at `w` of a page written with generation `gen` (0: zeros).
fn word(id: u32, file: usize, page: usize, gen: u32, w: usize) -> u32 {
    if gen == 0 {
        return 0;
    }
    gen.wrapping_mul(0x9e37_79b9) ^ (id << 24) ^ ((file as u32) << 16) ^ ((page as u32) << 10) ^ w as u32
}

fn path<'a>(buf: &'a mut [u8; 256], dir: &str, id: u32, k: usize) -> &'a [u8] {
    path_join(buf, &[dir.as_bytes(), b"/w", &[b'0' + (id % 10) as u8, b'-', b'0' + k as u8]])
}

fn main(args: Args) -> i32 {
    let id: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let deadline: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
    let keepopen = args.get(4) == Some("keepopen");
    let dir = args.get(5).unwrap_or("/race");
    let mut fds = [None::<u32>; NFILES];
    let mut rng = Rng::new(seed ^ (id as u64) << 32);
    let mut gens = [[0u32; NPAGES]; NFILES];
    let (mut rounds, mut checked) = (0u32, 0u64);
    let len = NPAGES * PG;
    while uptime_ms() < deadline {
        let k = rng.below(NFILES as u32) as usize;
        let mut pb = [0u8; 256];
        let p = path(&mut pb, dir, id, k);
        let fd = match fds[k].map_or_else(|| open_mode(p, O_RDWR | O_CREAT, 0o644), Ok) {
            Ok(fd) => fd,
            Err(e) => {
                println!("mapwriter {id}: open failed: errno {e}");
                return 1;
            }
        };
        if keepopen {
            fds[k] = Some(fd);
        }
        if fstat(fd).map(|s| s.2 as usize) != Ok(len) && ftruncate(fd, len as u64).is_err() {
            println!("mapwriter {id}: ftruncate failed");
            return 1;
        }
        let base = match mmap_file(len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) {
            Ok(b) => b as *mut u32,
            Err(e) => {
                println!("mapwriter {id}: mmap failed: errno {e}");
                return 1;
            }
        };
        for (pg, &g) in gens[k].iter().enumerate() {
            for w in [0, 1, PG / 4 - 1] {
                // SAFETY: the mapping covers NPAGES pages from `base`.
                let v = unsafe { base.add(pg * PG / 4 + w).read_volatile() };
                if v != word(id, k, pg, g, w) {
                    println!("mapwriter {id}: MISMATCH file {k} page {pg} word {w}: {v:#x}, expected {:#x} (generation {g})", word(id, k, pg, g, w));
                    return 1;
                }
                checked += 1;
            }
        }
        let gen = rounds + 1;
        for (pg, g) in gens[k].iter_mut().enumerate() {
            if rng.below(3) == 0 {
                for w in 0..PG / 4 {
                    // SAFETY: as above.
                    unsafe { base.add(pg * PG / 4 + w).write_volatile(word(id, k, pg, gen, w)) };
                }
                *g = gen;
            }
        }
        if munmap(base as *mut u8, len).is_err() || (!keepopen && close(fd).is_err()) {
            println!("mapwriter {id}: munmap or close failed");
            return 1;
        }
        rounds += 1;
        sleep_ms(1);
    }
    println!("mapwriter {id}: {rounds} rounds, {checked} words checked: ok");
    0
}

userland::entry!(main);
