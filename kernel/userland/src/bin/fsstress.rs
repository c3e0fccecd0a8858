//! /bin/fsstress SEED [OPS]: a seeded workout of the file system calls in
//! nested directories under /fss: creates, writes in odd-sized pieces,
//! appends, truncates, rewrites, renames across directories, removes,
//! makes and removes directories, lists them, and reads every file back,
//! checking each byte against what it wrote. With a small kern.maxvnodes
//! every open recycles a vnode. At the end it prints every file it left
//! (`fsstress: file PATH SIZE CRC32`), so the host can compare the saved
//! image, and a summary with its rates in the guest's time.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use kcore::crc32::Crc32;
use kcore::random::Rng;
use kcore::syscalls::{O_CREAT, O_EXCL, O_RDONLY, O_TRUNC, O_WRONLY, SEEK_SET};
use userland::{
    close, for_each_dirent, fstat, ftruncate, getdents, lseek, mkdir, open, open_mode, openat, println, read, rename, rmdir, sync, unlink, uptime_ms, write,
    Args, Errno,
};

/// Directories: /fss, three below it, and four below those.
const NDIRS: usize = 8;
/// Files alive at once.
const NSLOTS: usize = 40;
/// Largest file: past the 12 direct blocks of an 8 KiB-block image.
const MAXLEN: u32 = 160 * 1024;
const DEFAULT_OPS: u32 = 2500;

#[derive(Clone, Copy)]
struct Slot {
    live: bool,
    dir: usize,
    id: u32,
    len: u32,
    seed: u32,
}

/// The directory fsstress works in (its second argument; `/` when none),
/// without a trailing slash: every path starts with it.
static BASE: [AtomicU8; BASE_MAX] = [const { AtomicU8::new(0) }; BASE_MAX];
static BASE_LEN: AtomicUsize = AtomicUsize::new(0);
const BASE_MAX: usize = 200;

fn set_base(dir: &str) {
    let d = dir.trim_end_matches('/').as_bytes();
    let d = &d[..d.len().min(BASE_MAX)];
    for (slot, &b) in BASE.iter().zip(d) {
        slot.store(b, Ordering::Relaxed);
    }
    BASE_LEN.store(d.len(), Ordering::Relaxed);
}

/// A NUL-terminated path built without a heap, in the base directory.
struct Path {
    buf: [u8; 272],
    len: usize,
}

impl Path {
    fn new() -> Path {
        let mut p = Path { buf: [0; 272], len: BASE_LEN.load(Ordering::Relaxed) };
        for (b, slot) in p.buf.iter_mut().zip(&BASE[..p.len]) {
            *b = slot.load(Ordering::Relaxed);
        }
        p
    }

    fn push(&mut self, s: &[u8]) -> &mut Path {
        self.buf[self.len..self.len + s.len()].copy_from_slice(s);
        self.len += s.len();
        self
    }

    fn num(&mut self, mut v: u32) -> &mut Path {
        let mut d = [0u8; 10];
        let mut i = d.len();
        loop {
            i -= 1;
            d[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.push(&d[i..])
    }

    fn c(&mut self) -> &[u8] {
        self.buf[self.len] = 0;
        &self.buf[..=self.len]
    }

    /// The path inside the base directory, as the host finds it in the
    /// image the base lies in.
    fn s(&self) -> &str {
        core::str::from_utf8(&self.buf[BASE_LEN.load(Ordering::Relaxed)..self.len]).unwrap_or("?")
    }
}

fn dir_path(d: usize) -> Path {
    let mut p = Path::new();
    p.push(b"/fss");
    if d >= 1 {
        let top = if d <= 3 { d } else { (d - 4) % 3 + 1 };
        p.push(b"/d").num(top as u32);
    }
    if d >= 4 {
        p.push(b"/e").num(d as u32);
    }
    p
}

fn file_path(d: usize, id: u32) -> Path {
    let mut p = dir_path(d);
    p.push(b"/f").num(id);
    p
}

/// Bytes `8 * w .. 8 * w + 8` of a file written with `seed`, the first in
/// the low byte (one mix per eight bytes: the program's own time counts in
/// the rates it reports).
fn word_at(seed: u32, w: u32) -> u64 {
    let mut z = ((seed as u64) << 32 | w as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Byte `i` of a file written with `seed`.
fn byte_at(seed: u32, i: u32) -> u8 {
    (word_at(seed, i / 8) >> (8 * (i % 8))) as u8
}

/// Fills `buf` with bytes `off..` of a file written with `seed`.
fn fill(buf: &mut [u8], seed: u32, off: u32) {
    let mut k = 0;
    while k < buf.len() {
        let i = off + k as u32;
        let bytes = word_at(seed, i / 8).to_le_bytes();
        let from = (i % 8) as usize;
        if from == 0 && k + 8 <= buf.len() {
            // A whole word: a fixed-size copy, no memcpy call.
            buf[k..k + 8].copy_from_slice(&bytes);
            k += 8;
            continue;
        }
        let n = (8 - from).min(buf.len() - k);
        buf[k..k + n].copy_from_slice(&bytes[from..from + n]);
        k += n;
    }
}

/// The first byte of `buf` that differs from bytes `off..` of a file
/// written with `seed`, compared a word at a time where the words align.
fn first_mismatch(buf: &[u8], seed: u32, off: u32) -> Option<usize> {
    let mut k = 0;
    while k < buf.len() {
        let i = off + k as u32;
        if i.is_multiple_of(8) && k + 8 <= buf.len() {
            let got = u64::from_le_bytes(buf[k..k + 8].try_into().expect("8 bytes"));
            if got != word_at(seed, i / 8) {
                return (k..k + 8).find(|&j| buf[j] != byte_at(seed, off + j as u32));
            }
            k += 8;
            continue;
        }
        if buf[k] != byte_at(seed, i) {
            return Some(k);
        }
        k += 1;
    }
    None
}

fn fail(what: &str, path: &Path, e: i32) -> ! {
    println!("fsstress: FAILED: {what} {}: errno {e}", path.s());
    userland::exit(1)
}

struct Stress {
    rng: Rng,
    slots: [Slot; NSLOTS],
    next_id: u32,
    buf: [u8; 16384],
    written: u64,
    verified: u64,
    creates: u32,
    ops: [u32; 9],
}

impl Stress {
    /// Writes bytes `from..to` of slot content to open `fd` in random-sized
    /// pieces.
    fn write_range(&mut self, fd: u32, seed: u32, from: u32, to: u32, p: &Path) {
        let mut at = from;
        while at < to {
            let n = (self.rng.below(self.buf.len() as u32) + 1).min(to - at);
            fill(&mut self.buf[..n as usize], seed, at);
            match write(fd, &self.buf[..n as usize]) {
                Ok(w) if w == n as usize => {}
                Ok(w) => fail("short write", p, w as i32),
                Err(e) => fail("write", p, e),
            }
            at += n;
            self.written += n as u64;
        }
    }

    /// Reads slot `s`'s file back in random-sized pieces and checks every
    /// byte; with `crc`, also its CRC-32 (for the listing the host checks).
    fn verify(&mut self, s: Slot, crc: bool) -> u32 {
        let mut p = file_path(s.dir, s.id);
        let fd = open(p.c(), O_RDONLY).unwrap_or_else(|e| fail("open for reading", &p, e));
        match fstat(fd) {
            Ok((1, _, size)) if size == s.len as u64 => {}
            Ok((_, _, size)) => fail("fstat size differs from the written length; size", &p, size as i32),
            Err(e) => fail("fstat", &p, e),
        }
        let mut sum = Crc32::default();
        let mut at = 0u32;
        loop {
            let want = self.rng.below(self.buf.len() as u32) as usize + 1;
            let n = read(fd, &mut self.buf[..want]).unwrap_or_else(|e| fail("read", &p, e));
            if n == 0 {
                break;
            }
            if let Some(k) = first_mismatch(&self.buf[..n], s.seed, at) {
                println!("fsstress: MISMATCH in {} at byte {}: {:#x}, expected {:#x}", p.s(), at + k as u32, self.buf[k], byte_at(s.seed, at + k as u32));
                userland::exit(1);
            }
            if crc {
                sum.update(&self.buf[..n]);
            }
            at += n as u32;
        }
        if at != s.len {
            fail("read ended early; bytes read", &p, at as i32);
        }
        self.verified += at as u64;
        let _ = close(fd);
        sum.finish()
    }

    fn random_len(&mut self) -> u32 {
        match self.rng.below(10) {
            0 => 0,
            1..=5 => self.rng.below(4096),
            6..=8 => self.rng.below(48 * 1024),
            _ => self.rng.below(MAXLEN),
        }
    }

    fn create(&mut self, i: usize) {
        let dir = self.rng.below(NDIRS as u32) as usize;
        let id = self.next_id;
        self.next_id += 1;
        let mut p = file_path(dir, id);
        let flags = O_CREAT | O_EXCL | O_WRONLY;
        let fd = if id.is_multiple_of(2) { openat(p.c(), flags, 0o644) } else { open_mode(p.c(), flags, 0o644) };
        let fd = fd.unwrap_or_else(|e| fail("create", &p, e));
        let (len, seed) = (self.random_len(), self.rng.next_u32());
        self.write_range(fd, seed, 0, len, &p);
        if self.rng.below(8) == 0 {
            userland::fsync(fd).unwrap_or_else(|e| fail("fsync", &p, e));
        }
        let _ = close(fd);
        self.slots[i] = Slot { live: true, dir, id, len, seed };
        self.creates += 1;
    }

    fn step(&mut self) {
        let i = self.rng.below(NSLOTS as u32) as usize;
        let s = self.slots[i];
        let op = self.rng.below(100);
        if !s.live {
            if op < 70 {
                self.create(i);
                self.ops[0] += 1;
            } else if op < 85 {
                self.dir_cycle();
                self.ops[7] += 1;
            } else {
                self.list_check();
                self.ops[8] += 1;
            }
            return;
        }
        let mut p = file_path(s.dir, s.id);
        match op {
            0..=29 => {
                self.verify(s, false);
                self.ops[1] += 1;
            }
            30..=41 => {
                // Append with the same content function.
                let fd = open(p.c(), O_WRONLY).unwrap_or_else(|e| fail("open for writing", &p, e));
                lseek(fd, s.len as i64, SEEK_SET).unwrap_or_else(|e| fail("lseek", &p, e));
                let to = (s.len + self.rng.below(32 * 1024)).min(MAXLEN);
                self.write_range(fd, s.seed, s.len, to, &p);
                let _ = close(fd);
                self.slots[i].len = to;
                self.ops[2] += 1;
            }
            42..=51 => {
                let fd = open(p.c(), O_WRONLY).unwrap_or_else(|e| fail("open for writing", &p, e));
                let len = self.rng.below(s.len + 1);
                ftruncate(fd, len as u64).unwrap_or_else(|e| fail("ftruncate", &p, e));
                let _ = close(fd);
                self.slots[i].len = len;
                self.ops[3] += 1;
            }
            52..=61 => {
                let fd = open(p.c(), O_WRONLY | O_TRUNC).unwrap_or_else(|e| fail("open with O_TRUNC", &p, e));
                let (len, seed) = (self.random_len(), self.rng.next_u32());
                self.write_range(fd, seed, 0, len, &p);
                let _ = close(fd);
                self.slots[i].len = len;
                self.slots[i].seed = seed;
                self.ops[4] += 1;
            }
            62..=79 => {
                let dir = self.rng.below(NDIRS as u32) as usize;
                let id = self.next_id;
                self.next_id += 1;
                let mut to = file_path(dir, id);
                rename(p.c(), to.c()).unwrap_or_else(|e| fail("rename", &p, e));
                if open(p.c(), O_RDONLY) != Err(Errno::ENOENT as i32) {
                    fail("the old name still opens after rename", &p, 0);
                }
                self.slots[i].dir = dir;
                self.slots[i].id = id;
                self.ops[5] += 1;
            }
            _ => {
                unlink(p.c()).unwrap_or_else(|e| fail("unlink", &p, e));
                if open(p.c(), O_RDONLY) != Err(Errno::ENOENT as i32) {
                    fail("a removed file still opens", &p, 0);
                }
                self.slots[i].live = false;
                self.ops[6] += 1;
            }
        }
    }

    /// mkdir, a file inside, rmdir refused while it is there, then both
    /// removed.
    fn dir_cycle(&mut self) {
        let dir = self.rng.below(NDIRS as u32) as usize;
        let id = self.next_id;
        self.next_id += 1;
        let mut d = dir_path(dir);
        d.push(b"/t").num(id);
        mkdir(d.c(), 0o755).unwrap_or_else(|e| fail("mkdir", &d, e));
        if mkdir(d.c(), 0o755) != Err(Errno::EEXIST as i32) {
            fail("mkdir of an existing directory did not give EEXIST", &d, 0);
        }
        let mut f = Path { buf: d.buf, len: d.len };
        f.push(b"/x");
        let fd = open_mode(f.c(), O_CREAT | O_WRONLY, 0o644).unwrap_or_else(|e| fail("create", &f, e));
        let seed = self.rng.next_u32();
        self.write_range(fd, seed, 0, 1000, &f);
        let _ = close(fd);
        if rmdir(d.c()) != Err(Errno::ENOTEMPTY as i32) {
            fail("rmdir of a directory with a file did not give ENOTEMPTY", &d, 0);
        }
        unlink(f.c()).unwrap_or_else(|e| fail("unlink", &f, e));
        rmdir(d.c()).unwrap_or_else(|e| fail("rmdir", &d, e));
    }

    /// The f* entries of a directory are exactly the live files there.
    fn list_check(&mut self) {
        let dir = self.rng.below(NDIRS as u32) as usize;
        let mut d = dir_path(dir);
        let fd = open(d.c(), O_RDONLY).unwrap_or_else(|e| fail("open directory", &d, e));
        let mut seen = 0u32;
        let mut buf = [0u8; 2048];
        loop {
            let n = getdents(fd, &mut buf).unwrap_or_else(|e| fail("getdents", &d, e));
            if n == 0 {
                break;
            }
            for_each_dirent(&buf[..n], |_, _, name| {
                if name.first() == Some(&b'f') {
                    seen += 1;
                }
            });
        }
        let _ = close(fd);
        let want = self.slots.iter().filter(|s| s.live && s.dir == dir).count() as u32;
        if seen != want {
            println!("fsstress: FAILED: {} lists {seen} files, {want} expected", d.s());
            userland::exit(1);
        }
    }
}

fn main(args: Args) -> i32 {
    let seed: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let dir = args.get(2).unwrap_or("/");
    let nops: u32 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_OPS);
    set_base(dir);
    println!("fsstress: seed {seed}, {nops} operations, {NSLOTS} files at a time in {NDIRS} directories under {dir}");
    for d in 0..NDIRS {
        let mut p = dir_path(d);
        mkdir(p.c(), 0o755).unwrap_or_else(|e| fail("mkdir", &p, e));
    }
    let mut st = Stress {
        rng: Rng::new(seed),
        slots: [Slot { live: false, dir: 0, id: 0, len: 0, seed: 0 }; NSLOTS],
        next_id: 0,
        buf: [0; 16384],
        written: 0,
        verified: 0,
        creates: 0,
        ops: [0; 9],
    };
    let t0 = uptime_ms();
    for n in 0..nops {
        st.step();
        if (n + 1) % 500 == 0 {
            println!("fsstress: {} operations done", n + 1);
        }
    }
    let t1 = uptime_ms();
    let mut listed = 0;
    for i in 0..NSLOTS {
        let s = st.slots[i];
        if s.live {
            let crc = st.verify(s, true);
            println!("fsstress: file {} {} {crc:08x}", file_path(s.dir, s.id).s(), s.len);
            listed += 1;
        }
    }
    let t2 = uptime_ms();
    sync();
    let o = st.ops;
    println!(
        "fsstress: {} creates, {} verifies, {} appends, {} truncates, {} rewrites, {} renames, {} removes, {} mkdir/rmdir, {} listings",
        o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7], o[8]
    );
    // Rates in guest time (instruction counts under -icount), for
    // `cargo xtask bench`.
    let ms = (t1 - t0).max(1);
    println!("bench: fsstress_creates {} per_s", st.creates as u64 * 1000 / ms);
    println!("bench: fsstress_write {} KiB/s", st.written * 1000 / 1024 / ms);
    println!("bench: fsstress_read {} KiB/s", st.verified * 1000 / 1024 / (t2 - t0).max(1));
    println!("fsstress: {listed} files, {} bytes written, {} bytes verified: ok", st.written, st.verified);
    0
}

userland::entry!(main);
