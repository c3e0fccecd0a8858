//! /bin/truncator ID SEED DEADLINE_MS [DIR]: the race workload's truncating
//! process (`race.truncate=1`). It keeps one file, DIR/tID (DIR /race by
//! default), mapped
//! MAP_SHARED read-write for its whole life and, round after round, checks
//! every page against what it last stored there, shrinks the file with
//! ftruncate to an odd number of pages (inside a file-system block, so
//! ffs_truncate reads the block and sleeps with the vnode locked), grows
//! it back, and stores a new generation into a seeded choice of pages.
//! Meanwhile the memory hog keeps the pagedaemon paging those dirty
//! pages out: the pagedaemon holding a page busy while it waits for the
//! vnode lock, and the truncate holding the lock while it waits for the
//! page, is the pager-versus-truncate hazard (doc/findings.md). Pages from
//! the new end on read zero after each shrink, the rest keep their data;
//! exits 1 on any mismatch.
#![no_std]
#![no_main]

use kcore::random::Rng;
use kcore::syscalls::{MAP_SHARED, O_CREAT, O_RDWR, PROT_READ, PROT_WRITE};
use userland::{close, ftruncate, mmap_file, munmap, open_mode, path_join, println, sleep_ms, uptime_ms, Args};

const NPAGES: usize = 16;
const PG: usize = 4096;

fn word(id: u32, page: usize, gen: u32, w: usize) -> u32 {
    if gen == 0 {
        return 0;
    }
    gen.wrapping_mul(0x85eb_ca6b) ^ (id << 24) ^ ((page as u32) << 12) ^ w as u32
}

fn main(args: Args) -> i32 {
    let id: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let deadline: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut rng = Rng::new(seed ^ 0x7472_756e_6300 ^ id as u64);
    let mut pb = [0u8; 256];
    let path = path_join(&mut pb, &[args.get(4).unwrap_or("/race").as_bytes(), b"/t", &[b'0' + (id % 10) as u8]]);
    let len = NPAGES * PG;
    let fd = match open_mode(path, O_RDWR | O_CREAT, 0o644) {
        Ok(fd) => fd,
        Err(e) => {
            println!("truncator {id}: open failed: errno {e}");
            return 1;
        }
    };
    if ftruncate(fd, 0).is_err() || ftruncate(fd, len as u64).is_err() {
        println!("truncator {id}: ftruncate failed");
        return 1;
    }
    let base = match mmap_file(len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) {
        Ok(b) => b as *mut u32,
        Err(e) => {
            println!("truncator {id}: mmap failed: errno {e}");
            return 1;
        }
    };
    let mut gens = [0u32; NPAGES];
    let (mut rounds, mut truncates, mut checked) = (0u32, 0u32, 0u64);
    while uptime_ms() < deadline {
        for (pg, &g) in gens.iter().enumerate() {
            for w in [0, 1, PG / 4 - 1] {
                // SAFETY: the mapping covers NPAGES pages from `base`, and
                // the file is NPAGES pages long whenever this runs.
                let v = unsafe { base.add(pg * PG / 4 + w).read_volatile() };
                if v != word(id, pg, g, w) {
                    println!("truncator {id}: MISMATCH page {pg} word {w}: {v:#x}, expected {:#x} (generation {g}, round {rounds})", word(id, pg, g, w));
                    return 1;
                }
                checked += 1;
            }
        }
        let keep = 2 * rng.below(NPAGES as u32 / 2) as usize + 1;
        if ftruncate(fd, (keep * PG) as u64).is_err() || ftruncate(fd, len as u64).is_err() {
            println!("truncator {id}: ftruncate failed");
            return 1;
        }
        truncates += 1;
        gens[keep..].iter_mut().for_each(|g| *g = 0);
        let gen = rounds + 1;
        for (pg, g) in gens.iter_mut().enumerate() {
            if rng.below(2) == 0 {
                for w in 0..PG / 4 {
                    // SAFETY: as above.
                    unsafe { base.add(pg * PG / 4 + w).write_volatile(word(id, pg, gen, w)) };
                }
                *g = gen;
            }
        }
        rounds += 1;
        sleep_ms(1);
    }
    if munmap(base as *mut u8, len).is_err() || close(fd).is_err() {
        println!("truncator {id}: munmap or close failed");
        return 1;
    }
    println!("truncator {id}: {rounds} rounds, {truncates} truncates, {checked} words checked: ok");
    0
}

userland::entry!(main);
