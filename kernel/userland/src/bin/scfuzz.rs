//! /bin/scfuzz SEED OPS: a seeded system-call fuzzer (`workload=fuzz`).
//!
//! It calls every system call of the `sc` table (but reboot, which halts the
//! machine by design) with edge and random arguments: bad pointers into the
//! kernel and across page ends, huge lengths, bad descriptors and flags, long
//! and odd paths, mmap/munmap of odd ranges, bounded fork, wait4 nonsense,
//! exec of damaged ELFs and non-ELF files, mmap of unlinked files, msync and
//! memory exhaustion. Its rule: the kernel never panics or hangs; a process
//! may die.
//!
//! `fuzz.mode=p0` (argument `p0`) biases it toward the calls that make and
//! drop vnode objects, with valid arguments mostly (open with every access
//! mode, mmap shared and private with every prot, munmap of parts, msync,
//! stores and loads through the mappings, read/write into mapped pages,
//! truncate, rename and unlink while mapped, fork with inherited mappings,
//! exec of the files being written): the search for the race's precondition
//! (doc/p0-hunt.md). With `fuzz.hog=1` (argument `hog`) /bin/memhog runs
//! beside it and keeps the pagedaemon busy.
//!
//! The driver (this program, run as init) forks one worker per batch of
//! `BATCH` calls, seeded from SEED and the batch number, so a worker that
//! kills itself costs one batch, not the run. Calls that may kill or block
//! the caller (touching mappings, exec, wild munmap, memory exhaustion) run
//! in "hazard" children the worker never waits for; the driver, as init,
//! reaps them. Counters live in a shared file page every process inherits.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering::Relaxed};
use kcore::random::Rng;
use kcore::syscalls::{
    syscall_name, AT_FDCWD, MAP_ANON, MAP_PRIVATE, MAP_SHARED, O_APPEND, O_CREAT, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, PROT_READ, PROT_WRITE, WNOHANG,
};
use userland::{close, exit, fork, ftruncate, mkdir, open_mode, println, reboot, sys, syscall, uptime_ms, wexitstatus, wifexited, wtermsig, Args, RB_HALT};

/// Calls per worker.
const BATCH: u32 = 200;
/// Live children a worker may have (hazards and forked fuzzers).
const MAXKIDS: u32 = 4;
/// The scratch buffer: every pointer the fuzzer hands the kernel to write
/// through is in it or invalid, so the fuzzer never corrupts itself. The page
/// after it is left unmapped, for buffers that cross into nothing.
const SCRATCH: u32 = 0xa000_0000;
const SCRATCH_LEN: u32 = 64 * 1024;
/// The shared counters' page, mapped from /fzstat.
const STATS: u32 = 0xa100_0000;
/// Where fuzzed munmaps may land: the mmap area, below SCRATCH.
const ARENA: (u32, u32) = (0x4000_0000, 0xa000_0000);
/// The program's text (read-only: a bad target for the kernel's writes).
const TEXT: u32 = 0x1000_0000;

/// Every call fuzzed, in the order of the counters.
const CALLS: [u32; 33] = [
    sys::SYS_EXIT,
    sys::SYS_FORK,
    sys::SYS_READ,
    sys::SYS_WRITE,
    sys::SYS_OPEN,
    sys::SYS_CLOSE,
    sys::SYS_UNLINK,
    sys::SYS_WAIT4,
    sys::SYS_GETPID,
    sys::SYS_SYNC,
    sys::SYS_GETPPID,
    sys::SYS_FSTAT,
    sys::SYS_EXECVE,
    sys::SYS_MUNMAP,
    sys::SYS_NANOSLEEP,
    sys::SYS_FSYNC,
    sys::SYS_GETDENTS,
    sys::SYS_RENAME,
    sys::SYS_MKDIR,
    sys::SYS_RMDIR,
    sys::SYS_FTRUNCATE,
    sys::SYS_SYSCTL,
    sys::SYS_OPENAT,
    sys::SYS_CLOCK_GETTIME,
    sys::SYS_MMAP,
    sys::SYS_LSEEK,
    sys::SYS_MSYNC,
    sys::SYS_SCHED_YIELD,
    sys::SYS_PREAD,
    sys::SYS_PWRITE,
    sys::SYS_GETRLIMIT,
    sys::SYS_SETRLIMIT,
    // Numbers with no call: ENOSYS.
    0,
];

/// The counters every process of the run adds to.
#[repr(C)]
struct Stats {
    calls: [AtomicU32; CALLS.len()],
    /// Failed calls by errno (0..=127).
    errno: [AtomicU32; 128],
    /// Processes killed, by signal.
    killed: [AtomicU32; 32],
    hazards: AtomicU32,
    forks: AtomicU32,
    execs: AtomicU32,
}

fn stats() -> &'static Stats {
    // SAFETY: the driver mapped a zeroed page at STATS before any worker
    // was forked, every process inherits it, and it is never unmapped (the
    // fuzzed munmaps stay in ARENA). Stats is atomics only and < 4 KiB.
    unsafe { &*(STATS as *const Stats) }
}

/// A call, counted.
fn call<const N: usize>(n: u32, a: [u32; N]) -> Result<u32, i32> {
    let s = stats();
    // The old padded numbers count as their plain call.
    let base = match n {
        sys::SYS_PAD_LSEEK => sys::SYS_LSEEK,
        sys::SYS_PAD_MMAP => sys::SYS_MMAP,
        sys::SYS_PAD_FTRUNCATE => sys::SYS_FTRUNCATE,
        sys::SYS_PAD_PREAD => sys::SYS_PREAD,
        sys::SYS_PAD_PWRITE => sys::SYS_PWRITE,
        n => n,
    };
    let i = CALLS.iter().position(|&c| c == base).unwrap_or(CALLS.len() - 1);
    s.calls[i].fetch_add(1, Relaxed);
    let r = syscall(n, a);
    if let Err(e) = r {
        s.errno[(e as usize) & 127].fetch_add(1, Relaxed);
    }
    r
}

/// A worker's (or a forked fuzzer's) state.
struct Fuzz {
    rng: Rng,
    fds: [u32; 16],
    nfds: usize,
    maps: [(u32, u32); 16],
    nmaps: usize,
    kids: u32,
    /// May fork: false in a forked fuzzer, so forks stay bounded.
    root: bool,
    /// fuzz.mode=p0: mostly the object calls, with valid arguments.
    p0: bool,
}

/// Paths the fuzzer may change (create, truncate, unlink, rename).
const MUTABLE: [&[u8]; 22] = [
    b"/fz/f0\0",
    b"/fz/f1\0",
    b"/fz/f2\0",
    b"/fz/f3\0",
    b"/fz/e0\0",
    b"/fz/e1\0",
    b"/fz/d0\0",
    b"/fz/d0/f4\0",
    b"/fz/d0/d1\0",
    b"/fz/d0/d1/f5\0",
    b"/fz\0",
    b"/fz/\0",
    b"/fz/f0/\0",
    b"/fz/f0/x\0",
    b"/fz/../fz/f1\0",
    b"/fz/./f2\0",
    b"//fz//f3\0",
    b"/fz/nosuch/f\0",
    b"/fz/d0/..\0",
    b"\0",
    b"/\0",
    b"/fz/.\0",
];

/// Paths read but never changed: the programs the run needs, and the
/// image's symbolic links (one a loop).
const READONLY: [&[u8]; 7] =
    [b"/bin/hello\0", b"/bin\0", b"/sbin/init\0", b"/bin/scfuzz\0", b"/etc/motdlink\0", b"/usr/share/misc/loop\0", b"/usr/share/lnk/big\0"];

impl Fuzz {
    fn new(seed: u64, root: bool, p0: bool) -> Fuzz {
        Fuzz { rng: Rng::new(seed), fds: [0; 16], nfds: 0, maps: [(0, 0); 16], nmaps: 0, kids: 0, root, p0 }
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.rng.below(xs.len() as u32) as usize]
    }

    fn chance(&mut self, one_in: u32) -> bool {
        self.rng.below(one_in) == 0
    }

    /// A word of scratch, as a pointer.
    fn scratch(&mut self, len: u32) -> u32 {
        SCRATCH + self.rng.below(SCRATCH_LEN - len.min(SCRATCH_LEN - 1))
    }

    /// A pointer the kernel writes through: in scratch, across its end, or bad.
    fn out_ptr(&mut self, len: u32) -> u32 {
        match self.rng.below(14) {
            0..=5 => self.scratch(len),
            6 => SCRATCH + SCRATCH_LEN - 1 - self.rng.below(len.clamp(1, 64)),
            7 => self.pick(&[0, 4, 0x3000, 0x0fff_fffe, 0x00ff_fff0]),
            8 => self.pick(&[0xbfff_fffe, 0xc000_0000, 0xffff_fffc, 0xffff_ffff, 0xf000_0000]),
            9 => TEXT + self.rng.below(4096),
            10 => self.map_addr().unwrap_or(0x5000_0000),
            11 => SCRATCH | self.pick(&[1, 2, 3, 4095]),
            12 => 0x5000_0000 + (self.rng.below(0x1000) << 12),
            _ => self.rng.next_u32(),
        }
    }

    /// A pointer the kernel reads: the same, and the program's text.
    fn in_ptr(&mut self, len: u32) -> u32 {
        if self.chance(6) {
            TEXT + self.rng.below(8192)
        } else {
            self.out_ptr(len)
        }
    }

    fn len(&mut self) -> u32 {
        match self.rng.below(8) {
            0 => self.pick(&[0, 1, 4095, 4096, 4097, 65535, 65536, 65537]),
            1 => self.pick(&[0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0xffff_f000, 0x0010_0000]),
            2 => self.rng.next_u32(),
            _ => self.rng.below(9000),
        }
    }

    fn fd(&mut self) -> u32 {
        if self.nfds > 0 && self.rng.below(10) < 7 {
            let i = self.rng.below(self.nfds as u32) as usize;
            return self.fds[i];
        }
        self.pick(&[0, 1, 2, 3, 63, 64, 1000, 0x7fff_ffff, 0xffff_ffff, 0xffff_ff9c])
    }

    /// An address inside one of this process's fuzzed mappings.
    fn map_addr(&mut self) -> Option<u32> {
        if self.nmaps == 0 {
            return None;
        }
        let (a, l) = self.maps[self.rng.below(self.nmaps as u32) as usize];
        Some(a + self.rng.below(l.clamp(1, 1 << 20)))
    }

    /// A path argument: one of the lists, a long or odd one built in
    /// scratch, or a bad pointer.
    fn path(&mut self, mutable: bool) -> u32 {
        match self.rng.below(12) {
            0..=6 => self.pick(&MUTABLE).as_ptr() as u32,
            7 if !mutable => self.pick(&READONLY).as_ptr() as u32,
            8 => self.long_path(),
            9 => {
                // No NUL before the unmapped page after scratch.
                let n = self.rng.below(300) + 1;
                let p = SCRATCH + SCRATCH_LEN - n;
                fill(p, n, b'a');
                p
            }
            10 => self.pick(&[0, 0x3000, 0xbfff_ffff, 0xc000_0000, 0xffff_ffff, TEXT]),
            _ => self.pick(&MUTABLE).as_ptr() as u32,
        }
    }

    /// A path of 255, 256, 1023 or 1024+ bytes, or with many components,
    /// under /fz, in the first half of scratch.
    fn long_path(&mut self) -> u32 {
        let p = SCRATCH + 0x100;
        let prefix = b"/fz/";
        put(p, prefix);
        let body = self.pick(&[250u32, 255, 256, 300, 1018, 1019, 1020, 4000]);
        if self.chance(2) {
            fill(p + prefix.len() as u32, body, b'n');
        } else {
            for i in 0..body {
                put(p + prefix.len() as u32 + i, if i % 2 == 0 { b"d" } else { b"/" });
            }
        }
        put(p + prefix.len() as u32 + body, b"\0");
        p
    }

    fn flags(&mut self) -> u32 {
        match self.rng.below(6) {
            0 => O_RDONLY,
            1 => O_RDWR | O_CREAT,
            2 => O_WRONLY | O_CREAT | O_TRUNC,
            3 => O_RDWR | O_CREAT | O_EXCL,
            4 => O_WRONLY | O_APPEND | O_CREAT,
            _ => self.rng.next_u32() & 0xffff,
        }
    }

    fn remember_fd(&mut self, fd: u32) {
        if self.nfds < self.fds.len() {
            self.fds[self.nfds] = fd;
            self.nfds += 1;
        } else {
            let _ = close(fd);
        }
    }

    fn forget_fd(&mut self, fd: u32) {
        if let Some(i) = self.fds[..self.nfds].iter().position(|&f| f == fd) {
            self.nfds -= 1;
            self.fds[i] = self.fds[self.nfds];
        }
    }

    /// Reaps finished children without waiting.
    fn reap(&mut self) {
        while self.kids > 0 {
            let mut st = 0i32;
            match syscall(sys::SYS_WAIT4, [u32::MAX, &mut st as *mut i32 as u32, WNOHANG, 0, 0, 0]) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    count_death(st);
                    self.kids -= 1;
                }
            }
        }
    }

    /// Forks a child that runs `f` and exits; false when at the limit.
    fn child(&mut self, f: impl FnOnce(&mut Fuzz)) -> bool {
        self.reap();
        if !self.root || self.kids >= MAXKIDS {
            return false;
        }
        let seed = self.rng.next_u64();
        stats().forks.fetch_add(1, Relaxed);
        match call(sys::SYS_FORK, [0; 6]) {
            Ok(0) => {
                let mut c = Fuzz { rng: Rng::new(seed), fds: self.fds, nfds: self.nfds, maps: self.maps, nmaps: self.nmaps, kids: 0, root: false, p0: self.p0 };
                f(&mut c);
                exit(0)
            }
            Ok(_) => {
                self.kids += 1;
                true
            }
            Err(_) => false,
        }
    }

    /// One fuzzed call.
    fn step(&mut self) {
        if self.p0 && !self.chance(10) {
            self.step_p0();
            self.hazard();
            return;
        }
        let n = self.pick(&CALLS);
        let a = match n {
            sys::SYS_EXIT => {
                // Only a child exits; the worker forks one to do it.
                self.child(|c| {
                    let code = c.rng.next_u32();
                    let _ = call(sys::SYS_EXIT, [code, 0, 0, 0, 0, 0]);
                });
                return;
            }
            sys::SYS_FORK => {
                self.child(|c| {
                    for _ in 0..c.rng.below(20) + 1 {
                        c.step();
                    }
                });
                return;
            }
            sys::SYS_READ => {
                let l = self.len();
                [self.fd(), self.out_ptr(l), l, 0, 0, 0]
            }
            sys::SYS_WRITE => {
                let fd = self.fd();
                let l = self.len();
                // The console gets only bad pointers: no junk on it.
                let p = if fd < 3 { self.pick(&[0, 0x3000, 0xc000_0000, 0xffff_fff0]) } else { self.in_ptr(l) };
                [fd, p, l, 0, 0, 0]
            }
            sys::SYS_OPEN => {
                let flags = self.flags();
                let mutable = flags & (O_CREAT | O_TRUNC | O_ACCMODE_W) != 0;
                [self.path(mutable), flags, self.rng.next_u32() & 0o7777, 0, 0, 0]
            }
            sys::SYS_OPENAT => {
                let flags = self.flags();
                let mutable = flags & (O_CREAT | O_TRUNC | O_ACCMODE_W) != 0;
                let dirfd = if self.chance(4) { self.fd() } else { AT_FDCWD as u32 };
                [dirfd, self.path(mutable), flags, 0o644, 0, 0]
            }
            sys::SYS_CLOSE => {
                let fd = self.fd();
                self.forget_fd(fd);
                [fd, 0, 0, 0, 0, 0]
            }
            sys::SYS_UNLINK | sys::SYS_RMDIR => [self.path(true), 0, 0, 0, 0, 0],
            sys::SYS_MKDIR => [self.path(true), self.rng.next_u32() & 0o7777, 0, 0, 0, 0],
            sys::SYS_RENAME => [self.path(true), self.path(true), 0, 0, 0, 0],
            sys::SYS_WAIT4 => self.wait4_args(),
            sys::SYS_FSTAT => [self.fd(), self.out_ptr(16), 0, 0, 0, 0],
            sys::SYS_EXECVE => {
                self.child(|c| c.exec());
                return;
            }
            sys::SYS_MMAP => {
                self.mmap();
                return;
            }
            sys::SYS_MUNMAP => self.munmap_args(),
            sys::SYS_MSYNC => match self.map_addr() {
                Some(a) if self.chance(2) => [a & !0xfff, self.len(), 0, 0, 0, 0],
                _ => [self.rng.next_u32(), self.len(), 0, 0, 0, 0],
            },
            sys::SYS_NANOSLEEP => [self.rng.below(3), 0, 0, 0, 0, 0],
            sys::SYS_FSYNC => [self.fd(), 0, 0, 0, 0, 0],
            sys::SYS_GETDENTS => {
                let l = self.len();
                [self.fd(), self.out_ptr(l), l, 0, 0, 0]
            }
            sys::SYS_FTRUNCATE => {
                let hi = if self.chance(8) { self.rng.next_u32() } else { 0 };
                let lo = match self.rng.below(4) {
                    0 => 0,
                    1 => self.rng.below(200_000),
                    2 => self.pick(&[4095, 4096, 8191, 0x7fff_ffff, 0xffff_ffff, 0x1000_0000]),
                    _ => self.rng.below(20_000),
                };
                let n = self.pick(&[sys::SYS_FTRUNCATE, sys::SYS_PAD_FTRUNCATE]);
                let _ = call(n, [self.fd(), 0, hi, lo]);
                self.hazard();
                return;
            }
            sys::SYS_SYSCTL => self.sysctl_args(),
            sys::SYS_CLOCK_GETTIME => [self.rng.below(8), self.out_ptr(8), 0, 0, 0, 0],
            sys::SYS_LSEEK => {
                let [hi, lo] = self.offset();
                let n = self.pick(&[sys::SYS_LSEEK, sys::SYS_PAD_LSEEK]);
                let _ = call(n, [self.fd(), 0, hi, lo, self.rng.below(5), 0]);
                self.hazard();
                return;
            }
            sys::SYS_PREAD | sys::SYS_PWRITE => {
                let l = self.len();
                let fd = self.fd();
                let buf = if n == sys::SYS_PREAD { self.out_ptr(l) } else { self.in_ptr(l) };
                let [hi, lo] = self.offset();
                let pad = self.chance(2);
                let n = match (n, pad) {
                    (sys::SYS_PREAD, true) => sys::SYS_PAD_PREAD,
                    (sys::SYS_PWRITE, true) => sys::SYS_PAD_PWRITE,
                    _ => n,
                };
                // The console takes no pwrite junk: bad pointers only.
                let buf = if fd < 3 && n != sys::SYS_PREAD && n != sys::SYS_PAD_PREAD { 0xc000_0000 } else { buf };
                [fd, buf, l, 0, hi, lo]
            }
            sys::SYS_GETRLIMIT => [self.pick(&[sys::RLIMIT_DATA, sys::RLIMIT_DATA, 0, 9, 0xffff_ffff]), self.out_ptr(16), 0, 0, 0, 0],
            sys::SYS_SETRLIMIT => {
                // Limits from nothing to past MAXDSIZ, both words, soft above hard now and then.
                let rl = SCRATCH + 0x80;
                let cur = self.pick(&[0u64, 4096, 1 << 20, 64 << 20, 512 << 20, 4 << 30, u64::MAX]);
                let max = self.pick(&[cur, cur, 512 << 20, u64::MAX, cur / 2]);
                put(rl, &cur.to_be_bytes());
                put(rl + 8, &max.to_be_bytes());
                let which = self.pick(&[sys::RLIMIT_DATA, sys::RLIMIT_DATA, 3, 0xffff_ffff]);
                [which, if self.chance(5) { self.in_ptr(16) } else { rl }, 0, 0, 0, 0]
            }
            0 => [self.rng.next_u32(); 6],
            _ => [0; 6],
        };
        // An unknown call: a number outside the table.
        let n = if n == 0 { self.pick(&[0, 7, 8, 500, 1000, 0xffff_ffff]) } else { n };
        let r = call(n, a);
        match (n, r) {
            (sys::SYS_OPEN | sys::SYS_OPENAT, Ok(fd)) => self.remember_fd(fd),
            (sys::SYS_WAIT4, Ok(pid)) if pid != 0 => self.kids = self.kids.saturating_sub(1),
            _ => {}
        }
        self.hazard();
    }

    /// One call of the P0 search: valid arguments on the files under /fz.
    fn step_p0(&mut self) {
        let file = self.pick(&MUTABLE[..4]).as_ptr() as u32;
        let (n, a) = match self.rng.below(19) {
            16..=18 => {
                self.lifecycle(file);
                return;
            }
            0 | 1 => {
                let mode = self.pick(&[O_RDONLY, O_WRONLY, O_RDWR, O_RDWR | O_CREAT, O_RDWR | O_CREAT | O_TRUNC, O_WRONLY | O_APPEND | O_CREAT]);
                (sys::SYS_OPEN, [file, mode, 0o644, 0, 0, 0])
            }
            2 => {
                let fd = self.fd();
                self.forget_fd(fd);
                (sys::SYS_CLOSE, [fd, 0, 0, 0, 0, 0])
            }
            3 | 4 => {
                let len = (self.rng.below(16) + 1) * 4096 - self.pick(&[0, 0, 1, 4095]);
                let prot = self.pick(&[PROT_READ, PROT_READ | PROT_WRITE, PROT_WRITE, 0]);
                let flags = self.pick(&[MAP_SHARED, MAP_SHARED, MAP_PRIVATE]);
                let off = self.pick(&[0, 0, 4096, 8192]);
                let fd = self.fd();
                if let Ok(at) = call(sys::SYS_MMAP, [0, len, prot, flags, fd, 0, 0, off]) {
                    if (ARENA.0..ARENA.1).contains(&at) && self.nmaps < self.maps.len() {
                        self.maps[self.nmaps] = (at, len);
                        self.nmaps += 1;
                    }
                }
                return;
            }
            5 => (sys::SYS_MUNMAP, self.munmap_args()),
            6 => match self.map_addr() {
                Some(at) => (sys::SYS_MSYNC, [at & !0xfff, self.rng.below(8) * 4096 + 1, 0, 0, 0, 0]),
                None => (sys::SYS_SYNC, [0; 6]),
            },
            // read(2)/write(2) with a buffer in a mapped file page.
            7 | 8 => {
                let buf = self.map_addr().unwrap_or(SCRATCH);
                let len = self.rng.below(8192) + 1;
                let n = if self.chance(2) { sys::SYS_READ } else { sys::SYS_WRITE };
                (n, [self.fd(), buf, len, 0, 0, 0])
            }
            9 => {
                let len = self.rng.below(20) * 4096 + self.pick(&[0, 0, 1, 512, 4095]);
                (sys::SYS_FTRUNCATE, [self.fd(), 0, 0, len, 0, 0])
            }
            10 => (sys::SYS_RENAME, [file, self.pick(&MUTABLE[..4]).as_ptr() as u32, 0, 0, 0, 0]),
            11 => (sys::SYS_UNLINK, [file, 0, 0, 0, 0, 0]),
            12 => {
                let len = self.rng.below(16384) + 1;
                (sys::SYS_WRITE, [self.fd(), self.scratch(len), len, 0, 0, 0])
            }
            13 => (sys::SYS_LSEEK, [self.fd(), 0, 0, self.rng.below(80_000), self.rng.below(3), 0]),
            14 => (sys::SYS_FSYNC, [self.fd(), 0, 0, 0, 0, 0]),
            // Fork with the mappings inherited: the child stores and loads
            // through them, makes a few calls, and exits.
            _ => {
                self.child(|c| c.hazard_kind(0));
                return;
            }
        };
        if let (sys::SYS_OPEN, Ok(fd)) = (n, call(n, a)) {
            self.remember_fd(fd);
        }
    }

    /// A whole life of an object, as programs live it: open with some
    /// access mode, size the file, map it shared or private with some prot,
    /// load and store through the mapping, perhaps msync, unmap, close —
    /// the path by which objects come to persist.
    fn lifecycle(&mut self, file: u32) {
        let mode = self.pick(&[O_RDONLY, O_RDWR, O_RDWR | O_CREAT, O_WRONLY | O_CREAT]);
        let Ok(fd) = call(sys::SYS_OPEN, [file, mode, 0o644, 0, 0, 0]) else { return };
        if mode & O_ACCMODE_W != 0 && self.chance(2) {
            let _ = call(sys::SYS_FTRUNCATE, [fd, 0, 0, (self.rng.below(8) + 1) * 4096 - self.rng.below(2) * 100, 0, 0]);
        }
        let mut st = [0u32; 4];
        let size = match call(sys::SYS_FSTAT, [fd, st.as_mut_ptr() as u32, 0, 0, 0, 0]) {
            // Files here are small: the low word is the size.
            Ok(_) => st[3],
            Err(_) => 0,
        };
        let prot = self.pick(&[PROT_READ, PROT_READ, PROT_READ | PROT_WRITE]);
        let flags = self.pick(&[MAP_SHARED, MAP_PRIVATE]);
        let len = size.clamp(1, 16 * 4096);
        if let Ok(at) = call(sys::SYS_MMAP, [0, len, prot, flags, fd, 0]) {
            for off in (0..size.min(len)).step_by(4096) {
                let p = (at + off) as *mut u8;
                // SAFETY: inside the file's size as fstat gave it, in a
                // mapping with these rights; a truncate by another process
                // meanwhile kills only this one.
                unsafe {
                    let v = p.read_volatile();
                    if prot & PROT_WRITE != 0 && self.chance(2) {
                        p.write_volatile(v.wrapping_add(1));
                    }
                }
            }
            if self.chance(3) {
                let _ = call(sys::SYS_MSYNC, [at, len, 0, 0, 0, 0]);
            }
            let _ = call(sys::SYS_MUNMAP, [at, len, 0, 0, 0, 0]);
        }
        let _ = call(sys::SYS_CLOSE, [fd, 0, 0, 0, 0, 0]);
    }

    /// A 64-bit file offset as its register pair: small, near 2^31 and 2^32,
    /// past 4 GiB, negative, or anything.
    fn offset(&mut self) -> [u32; 2] {
        match self.rng.below(5) {
            0 | 1 => [0, self.rng.below(100_000)],
            2 => [0, self.pick(&[0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0xffff_f000])],
            3 => [self.pick(&[1, 2, 0x10, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff]), self.rng.next_u32()],
            _ => [self.rng.next_u32(), self.rng.next_u32()],
        }
    }

    fn wait4_args(&mut self) -> [u32; 6] {
        let pid = self.pick(&[u32::MAX, 0, 1, 2, 99_999, 0xffff_fffb, 0x8000_0000]);
        // A blocking wait only when no child can keep it waiting.
        self.reap();
        let mut opts = self.pick(&[0, WNOHANG, 2, 8, 0x10, 0xffff_ffff]);
        if self.kids > 0 {
            opts |= WNOHANG;
        }
        let status = if self.chance(3) { 0 } else { self.out_ptr(4) };
        [pid, status, opts, self.pick(&[0, 0xc000_0000]), 0, 0]
    }

    fn sysctl_args(&mut self) -> [u32; 6] {
        let mib = SCRATCH + 0x40;
        put(mib, &sys::CTL_VM.to_be_bytes());
        put(mib + 4, &(if self.chance(2) { sys::VM_UVMEXP } else { self.rng.below(10) }).to_be_bytes());
        let mibp = if self.chance(3) { self.in_ptr(8) } else { mib };
        [mibp, self.pick(&[2, 0, 1, 3, 100, 0xffff_ffff]), self.out_ptr(28), 0, 0, 0]
    }

    fn munmap_args(&mut self) -> [u32; 6] {
        if self.nmaps > 0 && self.chance(2) {
            let i = self.rng.below(self.nmaps as u32) as usize;
            let (a, l) = self.maps[i];
            let r = match self.rng.below(4) {
                0 => [a, l, 0, 0, 0, 0],
                1 => [a, 4096, 0, 0, 0, 0],
                2 => [a + ((l.max(8192) / 2) & !0xfff), 4096, 0, 0, 0, 0],
                _ => [a + 1, l, 0, 0, 0, 0],
            };
            if r[0] == a && r[1] >= l {
                self.nmaps -= 1;
                self.maps[i] = self.maps[self.nmaps];
            }
            return r;
        }
        let at = ARENA.0 + (self.rng.below((ARENA.1 - ARENA.0) >> 12) << 12);
        let len = self.len().min(ARENA.1 - at);
        [at | self.pick(&[0, 0, 0, 1]), len, 0, 0, 0, 0]
    }

    fn mmap(&mut self) {
        let len = match self.rng.below(4) {
            0 => self.len(),
            1 => self.pick(&[0x7fff_ffff, 0x4000_0000, 0x1000_0000]),
            _ => (self.rng.below(16) + 1) * 4096,
        };
        let prot = if self.chance(8) { self.rng.next_u32() & 0xff } else { self.rng.below(8) };
        let flags = match self.rng.below(8) {
            0 => MAP_ANON | MAP_PRIVATE,
            1 => MAP_ANON | MAP_SHARED,
            2 | 3 => MAP_SHARED,
            4 | 5 => MAP_PRIVATE,
            6 => MAP_SHARED | MAP_PRIVATE,
            _ => self.rng.next_u32() & 0xffff,
        };
        let addr = match self.rng.below(6) {
            0 => self.pick(&[TEXT, SCRATCH, STATS, 0xbfff_f000, 0x1000]),
            1 => self.rng.next_u32(),
            _ => 0,
        };
        let off = self.pick(&[0, 0, 0, 4096, 8192, 1, 0x7fff_f000, 0xffff_f000]);
        // Now and then a high word: offsets past 4 GiB, negative, or past 16 TiB.
        let hi = if self.chance(6) { self.pick(&[1, 0xfff, 0x1000, 0x7fff_ffff, 0xffff_ffff]) } else { 0 };
        let fd = if flags & MAP_ANON != 0 && self.chance(2) { u32::MAX } else { self.fd() };
        let n = self.pick(&[sys::SYS_MMAP, sys::SYS_PAD_MMAP]);
        if let Ok(a) = call(n, [addr, len, prot, flags, fd, 0, hi, off]) {
            // Never keep a mapping the kernel placed outside the arena.
            if (ARENA.0..ARENA.1).contains(&a) && self.nmaps < self.maps.len() {
                self.maps[self.nmaps] = (a, len.min(ARENA.1 - a));
                self.nmaps += 1;
            } else {
                let _ = syscall(sys::SYS_MUNMAP, [a, len, 0, 0, 0, 0]);
            }
        }
    }

    /// Now and then, something that may kill or stall its process, in a
    /// child the worker does not wait for.
    fn hazard(&mut self) {
        if !self.root || !self.chance(25) {
            return;
        }
        let kind = self.rng.below(10);
        if self.child(|c| c.hazard_kind(kind)) {
            stats().hazards.fetch_add(1, Relaxed);
        }
    }

    fn hazard_kind(&mut self, kind: u32) {
        match kind {
            // Touch the inherited mappings: SIGSEGV, SIGBUS past EOF, COW.
            0 | 1 => {
                for _ in 0..self.rng.below(16) + 1 {
                    if let Some(a) = self.map_addr() {
                        let p = a as *mut u8;
                        // SAFETY: the point is to fault; a bad access kills
                        // only this child.
                        unsafe {
                            if self.chance(2) {
                                p.write_volatile(p.read_volatile().wrapping_add(1));
                            } else {
                                p.read_volatile();
                            }
                        }
                    }
                }
            }
            2 => self.exec(),
            // Memory exhaustion: 16-112 MiB of anonymous memory, all touched.
            3 if self.chance(4) => {
                let len = (self.rng.below(7) + 1) * (16 << 20);
                if let Ok(a) = syscall(sys::SYS_MMAP, [0, len, PROT_READ | PROT_WRITE, MAP_ANON | MAP_PRIVATE, u32::MAX, 0]) {
                    for pg in (0..len).step_by(4096) {
                        // SAFETY: a fresh private mapping of `len` bytes.
                        unsafe { ((a + pg) as *mut u8).write_volatile(1) };
                    }
                }
            }
            // A wild munmap, of the program itself perhaps.
            4 => {
                let at = self.rng.next_u32() & !0xfff;
                let _ = call(sys::SYS_MUNMAP, [at, self.len(), 0, 0, 0, 0]);
                self.step();
            }
            // Map shared, store, msync, unmap or just exit.
            5 => self.map_store(false),
            // The same on a file unlinked while open.
            6 => self.map_store(true),
            // Many small maps: the kernel's map entries until mmap says
            // no (RLIMIT_DATA, or the heap), then a fork of all that.
            8 => self.many_maps(),
            // A mapping kept while the disk is full: its pageouts fail.
            9 => self.full_disk_map(),
            _ => {
                for _ in 0..self.rng.below(40) + 1 {
                    self.step();
                }
            }
        }
    }

    fn many_maps(&mut self) {
        let fd = call(sys::SYS_OPEN, [MUTABLE[0].as_ptr() as u32, O_RDWR | O_CREAT, 0o644, 0, 0, 0]).unwrap_or(u32::MAX);
        let _ = ftruncate(fd, 4096);
        for i in 0..self.rng.below(40_000) + 100 {
            let (flags, f) = if fd != u32::MAX && i % 2 == 1 { (MAP_SHARED, fd) } else { (MAP_ANON | MAP_PRIVATE, u32::MAX) };
            if syscall(sys::SYS_MMAP, [0, 4096, PROT_READ | PROT_WRITE, flags, f]).is_err() {
                break;
            }
        }
        if self.chance(2) {
            let _ = call(sys::SYS_FORK, [0; 6]).map(|pid| {
                if pid == 0 {
                    exit(0)
                }
            });
        }
    }

    /// Fills the disk, stores into a few pages of a shared mapping of a file
    /// of holes (never more than memory: the wedge of doc/findings.md F9 is
    /// OpenBSD's too), msyncs or not, and frees the disk again.
    fn full_disk_map(&mut self) {
        let fill = b"/fz/full\0";
        let Ok(ffd) = open_mode(fill, O_RDWR | O_CREAT | O_TRUNC, 0o644) else { return };
        let Ok(fd) = open_mode(MUTABLE[1], O_RDWR | O_CREAT | O_TRUNC, 0o644) else { return };
        let pages = self.rng.below(64) + 1;
        let _ = ftruncate(fd, pages as u64 * 4096);
        let chunk = SCRATCH + 0x4000;
        while call(sys::SYS_WRITE, [ffd, chunk, 8192, 0, 0, 0]) == Ok(8192) {}
        if let Ok(a) = call(sys::SYS_MMAP, [0, pages * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd]) {
            for p in 0..pages {
                // SAFETY: inside the file's size, in a shared writable mapping.
                unsafe { ((a + p * 4096) as *mut u8).write_volatile(p as u8) };
            }
            if self.chance(2) {
                let _ = call(sys::SYS_MSYNC, [a, pages * 4096, 0, 0, 0, 0]);
            }
            let _ = call(sys::SYS_NANOSLEEP, [self.rng.below(200), 0, 0, 0, 0, 0]);
            if self.chance(2) {
                let _ = call(sys::SYS_MUNMAP, [a, pages * 4096, 0, 0, 0, 0]);
            }
        }
        let _ = call(sys::SYS_UNLINK, [fill.as_ptr() as u32, 0, 0, 0, 0, 0]);
        let _ = close(ffd);
    }

    fn map_store(&mut self, unlinked: bool) {
        let path = self.pick(&MUTABLE[..4]);
        let Ok(fd) = open_mode(path, O_RDWR | O_CREAT, 0o644) else { return };
        let size = self.rng.below(5) * 4096 + self.rng.below(4096);
        let _ = ftruncate(fd, size as u64);
        if unlinked {
            let _ = call(sys::SYS_UNLINK, [path.as_ptr() as u32, 0, 0, 0, 0, 0]);
        }
        let prot = if self.chance(3) { PROT_READ } else { PROT_READ | PROT_WRITE };
        let len = size.max(1) + self.rng.below(3) * 4096;
        let Ok(a) = call(sys::SYS_MMAP, [0, len, prot, MAP_SHARED, fd, 0]) else { return };
        if prot & PROT_WRITE != 0 {
            for off in (0..size).step_by(512) {
                // SAFETY: inside the file's size, in a shared writable mapping.
                unsafe { ((a + off) as *mut u8).write_volatile(off as u8) };
            }
            let _ = call(sys::SYS_MSYNC, [a, len, 0, 0, 0, 0]);
        }
        if self.chance(2) {
            let _ = call(sys::SYS_MUNMAP, [a, len, 0, 0, 0, 0]);
        }
        if self.chance(2) {
            let _ = close(fd);
        }
    }

    /// execve of a damaged copy of /bin/hello, a fuzzed file, or nonsense.
    fn exec(&mut self) {
        stats().execs.fetch_add(1, Relaxed);
        let path = match self.rng.below(5) {
            0 | 1 => {
                let to = self.pick(&[&b"/fz/e0\0"[..], b"/fz/e1\0"]);
                self.damaged_elf(to);
                to.as_ptr() as u32
            }
            2 => READONLY[0].as_ptr() as u32,
            _ => self.path(true),
        };
        let argv = SCRATCH + 0x2000;
        let strs = SCRATCH + 0x3000;
        put(strs, b"x\0");
        let n = self.pick(&[0u32, 1, 2, 300, 2000]);
        for i in 0..n.min(1024) {
            let p = if self.chance(50) { self.out_ptr(1) } else { strs };
            put(argv + 4 * i, &p.to_be_bytes());
        }
        if n <= 1024 {
            put(argv + 4 * n, &0u32.to_be_bytes());
        }
        let argvp = if self.chance(6) { self.out_ptr(4) } else { argv };
        let _ = call(sys::SYS_EXECVE, [path, argvp, 0, 0, 0, 0]);
    }

    /// Copies /bin/hello to `to`, damaging its headers or cutting it short.
    fn damaged_elf(&mut self, to: &[u8]) {
        let Ok(src) = open_mode(b"/bin/hello\0", O_RDONLY, 0) else { return };
        let Ok(dst) = open_mode(to, O_WRONLY | O_CREAT | O_TRUNC, 0o755) else {
            let _ = close(src);
            return;
        };
        let cut = if self.chance(3) { self.rng.below(200_000) } else { u32::MAX };
        let buf = SCRATCH + 0x8000;
        let mut off = 0u32;
        while off < cut {
            let Ok(n) = syscall(sys::SYS_READ, [src, buf, 0x4000, 0, 0, 0]) else { break };
            if n == 0 {
                break;
            }
            if off == 0 {
                // The ELF and program headers are in the first 256 bytes.
                for _ in 0..self.rng.below(4) + 1 {
                    let at = buf + self.rng.below(256.min(n));
                    put(at, &[self.rng.next_u32() as u8]);
                }
            }
            let n = n.min(cut - off);
            if syscall(sys::SYS_WRITE, [dst, buf, n, 0, 0, 0]).is_err() {
                break;
            }
            off += n;
        }
        let _ = close(src);
        let _ = close(dst);
    }
}

/// O_WRONLY or O_RDWR: the access modes that may change a file.
const O_ACCMODE_W: u32 = O_WRONLY | O_RDWR;

/// Stores `bytes` at the user address `at` (in scratch).
fn put(at: u32, bytes: &[u8]) {
    if at < SCRATCH || at + bytes.len() as u32 > SCRATCH + SCRATCH_LEN {
        return;
    }
    // SAFETY: inside the scratch mapping, which only the fuzzer's own
    // bookkeeping and the kernel's copyouts touch.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), at as *mut u8, bytes.len()) };
}

fn fill(at: u32, n: u32, b: u8) {
    for i in 0..n {
        put(at + i, &[b]);
    }
}

fn count_death(st: i32) {
    if !wifexited(st) {
        stats().killed[(wtermsig(st) as usize) & 31].fetch_add(1, Relaxed);
    }
}

/// The worker of batch `b`: a fresh /fz, then BATCH calls.
fn worker(seed: u64, p0: bool) -> ! {
    let _ = mkdir(b"/fz\0", 0o755);
    let mut f = Fuzz::new(seed, true, p0);
    for _ in 0..BATCH {
        f.step();
    }
    exit(0)
}

fn setup() -> Result<(), &'static str> {
    let map = |addr: u32, len: u32, fd: u32, flags: u32| syscall(sys::SYS_MMAP, [addr, len, PROT_READ | PROT_WRITE, flags, fd, 0]).map_err(|_| "mmap failed");
    if map(SCRATCH, SCRATCH_LEN, u32::MAX, MAP_ANON | MAP_PRIVATE)? != SCRATCH {
        return Err("scratch not at its address");
    }
    let fd = open_mode(b"/fzstat\0", O_RDWR | O_CREAT | O_TRUNC, 0o644).map_err(|_| "cannot create /fzstat")?;
    ftruncate(fd, 4096).map_err(|_| "cannot size /fzstat")?;
    if map(STATS, 4096, fd, MAP_SHARED)? != STATS {
        return Err("/fzstat not at its address");
    }
    let _ = close(fd);
    Ok(())
}

fn main(args: Args) -> i32 {
    let seed: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let ops: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    if args.get(3) != Some("driver") {
        println!("usage: scfuzz SEED OPS driver all|p0 hog|nohog (started by workload=fuzz)");
        return 2;
    }
    let p0 = args.get(4) == Some("p0");
    let with_hog = args.get(5) == Some("hog");
    if let Err(e) = setup() {
        println!("scfuzz: {e}");
        return 1;
    }
    let batches = ops.div_ceil(BATCH);
    println!(
        "scfuzz: seed {seed}, {ops} calls in {batches} workers of {BATCH}{}{}",
        if p0 { ", biased to vnode objects (fuzz.mode=p0)" } else { "" },
        if with_hog { ", with /bin/memhog" } else { "" }
    );
    if with_hog {
        hog();
    }
    let t0 = uptime_ms();
    let mut workers_died = 0;
    for b in 0..batches {
        let wseed = seed.wrapping_mul(0x1_0000_0001).wrapping_add(b as u64);
        let pid = match fork() {
            Ok(0) => worker(wseed, p0),
            Ok(pid) => pid,
            Err(e) => {
                println!("scfuzz: fork of worker {b} failed: errno {e}");
                continue;
            }
        };
        // As init, the driver also reaps the orphaned hazard children.
        loop {
            let mut st = 0i32;
            match syscall(sys::SYS_WAIT4, [u32::MAX, &mut st as *mut i32 as u32, 0, 0, 0, 0]) {
                Ok(p) if p == pid => {
                    if !wifexited(st) || wexitstatus(st) != 0 {
                        workers_died += 1;
                    }
                    count_death(st);
                    break;
                }
                Ok(_) => count_death(st),
                Err(_) => break,
            }
        }
        if (b + 1) % (batches / 10).max(1) == 0 && b + 1 < batches {
            println!("scfuzz: {} of {batches} workers done, {} calls, {} s", b + 1, total_calls(), (uptime_ms() - t0) / 1000);
        }
    }
    let stragglers = drain();
    report(workers_died, stragglers, uptime_ms() - t0);
    reboot(RB_HALT)
}

/// Starts /bin/memhog for the whole run, so the pagedaemon has work.
fn hog() {
    let mut deadline = [0u8; 24];
    let d = userland::fmt_u64(&mut deadline, uptime_ms() + 24 * 3600 * 1000);
    let mut arg = [0u8; 25];
    arg[..d.len()].copy_from_slice(d);
    match fork() {
        Ok(0) => {
            let e = userland::execve(b"/bin/memhog\0", &[b"memhog\0", &arg[..=d.len()]]);
            println!("scfuzz: exec /bin/memhog failed: errno {e}");
            exit(1)
        }
        Ok(_) => {}
        Err(e) => println!("scfuzz: fork of memhog failed: errno {e}"),
    }
}

/// Waits up to 2 s for the children still running, then leaves them.
fn drain() -> u32 {
    let until = uptime_ms() + 2000;
    loop {
        let mut st = 0i32;
        match syscall(sys::SYS_WAIT4, [u32::MAX, &mut st as *mut i32 as u32, WNOHANG, 0, 0, 0]) {
            Ok(0) if uptime_ms() < until => userland::sleep_ms(10),
            Ok(0) => return 1,
            Ok(_) => count_death(st),
            Err(_) => return 0,
        }
    }
}

fn total_calls() -> u32 {
    stats().calls.iter().map(|c| c.load(Relaxed)).sum()
}

fn report(workers_died: u32, stragglers: u32, ms: u64) {
    let s = stats();
    println!(
        "scfuzz: done: {} calls in {} ms of guest time, {} forks, {} hazard children, {} execs, {} workers died{}",
        total_calls(),
        ms,
        s.forks.load(Relaxed),
        s.hazards.load(Relaxed),
        s.execs.load(Relaxed),
        workers_died,
        if stragglers > 0 { ", children still running at halt" } else { "" }
    );
    userland::print!("scfuzz: calls:");
    for (i, c) in CALLS.iter().enumerate() {
        let name = if *c == 0 { "unknown" } else { syscall_name(*c) };
        userland::print!(" {name} {}", s.calls[i].load(Relaxed));
    }
    userland::print!("\nscfuzz: errors:");
    for (e, n) in s.errno.iter().enumerate() {
        let n = n.load(Relaxed);
        if n > 0 {
            match userland::Errno::from_i32(e as i32) {
                Some(name) => userland::print!(" {name:?} {n}"),
                None => userland::print!(" errno{e} {n}"),
            }
        }
    }
    userland::print!("\nscfuzz: processes killed:");
    for (sig, n) in s.killed.iter().enumerate() {
        let n = n.load(Relaxed);
        if n > 0 {
            userland::print!(" {} {n}", signame(sig));
        }
    }
    println!("\nscfuzz: the kernel survived");
}

fn signame(sig: usize) -> &'static str {
    match sig as i32 {
        sys::SIGILL => "SIGILL",
        sys::SIGKILL => "SIGKILL",
        sys::SIGBUS => "SIGBUS",
        sys::SIGSEGV => "SIGSEGV",
        _ => "other",
    }
}

userland::entry!(main);
