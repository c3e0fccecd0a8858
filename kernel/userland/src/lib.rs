//! The system-call library of ppcbsd's user programs (a tiny libc): `sc`
//! wrappers with OpenBSD's numbers and conventions (number in r0, arguments
//! in r3–r10, a 64-bit one in an aligned register pair high word first,
//! result in r3 or r3:r4, failure flagged by CR0[SO] with the errno in r3),
//! `print!`, and the program entry.
#![no_std]

use core::fmt::{self, Write};

pub use kcore::errno::Errno;
pub use kcore::syscalls::{self as sys, wexitstatus, wifexited, wtermsig, RB_HALT, SIGBUS, SIGKILL, SIGSEGV};
use kcore::syscalls::{CLOCK_MONOTONIC, CR0_SO, MAP_ANON, MAP_PRIVATE, PROT_READ, PROT_WRITE};

/// Raw system call with up to 8 arguments (r3–r10): Ok((r3, r4)) or
/// Err(errno).
#[inline(always)]
pub fn syscall2<const N: usize>(n: u32, args: [u32; N]) -> Result<(u32, u32), i32> {
    let mut a = [0u32; 8];
    a[..N].copy_from_slice(&args);
    let (r3, r4): (u32, u32);
    let cr: u32;
    // SAFETY: `sc` enters the kernel, which changes only r3, r4 and CR0.
    unsafe {
        core::arch::asm!(
            "sc",
            "mfcr {cr}",
            cr = out(reg) cr,
            in("r0") n,
            inlateout("r3") a[0] => r3,
            inlateout("r4") a[1] => r4,
            in("r5") a[2],
            in("r6") a[3],
            in("r7") a[4],
            in("r8") a[5],
            in("r9") a[6],
            in("r10") a[7],
            out("cr0") _,
        );
    }
    if cr & CR0_SO != 0 {
        Err(r3 as i32)
    } else {
        Ok((r3, r4))
    }
}

/// Raw system call: Ok(r3) or Err(errno).
#[inline(always)]
pub fn syscall<const N: usize>(n: u32, a: [u32; N]) -> Result<u32, i32> {
    syscall2(n, a).map(|(r3, _)| r3)
}

/// A 64-bit argument as its register pair, high word first.
pub fn pair(v: u64) -> [u32; 2] {
    [(v >> 32) as u32, v as u32]
}

fn sc(n: u32, a0: u32, a1: u32, a2: u32) -> Result<u32, i32> {
    syscall(n, [a0, a1, a2, 0, 0, 0])
}

pub fn write(fd: u32, buf: &[u8]) -> Result<usize, i32> {
    sc(sys::SYS_WRITE, fd, buf.as_ptr() as u32, buf.len() as u32).map(|n| n as usize)
}

/// write(2) with an arbitrary address, to show the kernel refusing it.
pub fn write_raw(fd: u32, addr: u32, len: u32) -> Result<usize, i32> {
    sc(sys::SYS_WRITE, fd, addr, len).map(|n| n as usize)
}

/// open(2); `path` ends with a NUL.
pub fn open(path: &[u8], flags: u32) -> Result<u32, i32> {
    sc(sys::SYS_OPEN, path.as_ptr() as u32, flags, 0)
}

/// open(2) that may create (O_CREAT with permission bits `mode`).
pub fn open_mode(path: &[u8], flags: u32, mode: u32) -> Result<u32, i32> {
    sc(sys::SYS_OPEN, path.as_ptr() as u32, flags, mode)
}

/// openat(2) relative to AT_FDCWD, the only directory there is.
pub fn openat(path: &[u8], flags: u32, mode: u32) -> Result<u32, i32> {
    syscall(sys::SYS_OPENAT, [sys::AT_FDCWD as u32, path.as_ptr() as u32, flags, mode, 0, 0])
}

/// Writes all of `buf` (a file's write may be cut at the 64 KiB limit).
pub fn write_all(fd: u32, mut buf: &[u8]) -> Result<(), i32> {
    while !buf.is_empty() {
        match write(fd, buf)? {
            0 => return Err(Errno::EIO as i32),
            n => buf = &buf[n..],
        }
    }
    Ok(())
}

pub fn unlink(path: &[u8]) -> Result<(), i32> {
    sc(sys::SYS_UNLINK, path.as_ptr() as u32, 0, 0).map(|_| ())
}

pub fn mkdir(path: &[u8], mode: u32) -> Result<(), i32> {
    sc(sys::SYS_MKDIR, path.as_ptr() as u32, mode, 0).map(|_| ())
}

pub fn rmdir(path: &[u8]) -> Result<(), i32> {
    sc(sys::SYS_RMDIR, path.as_ptr() as u32, 0, 0).map(|_| ())
}

/// rename(2); both paths end with a NUL.
pub fn rename(from: &[u8], to: &[u8]) -> Result<(), i32> {
    sc(sys::SYS_RENAME, from.as_ptr() as u32, to.as_ptr() as u32, 0).map(|_| ())
}

pub fn fsync(fd: u32) -> Result<(), i32> {
    sc(sys::SYS_FSYNC, fd, 0, 0).map(|_| ())
}

pub fn sync() {
    let _ = sc(sys::SYS_SYNC, 0, 0, 0);
}

/// ftruncate(2): (fd, pad, length as a register pair).
/// ftruncate(2): fd in r3, the length in r5:r6.
pub fn ftruncate(fd: u32, len: u64) -> Result<(), i32> {
    let [hi, lo] = pair(len);
    syscall(sys::SYS_FTRUNCATE, [fd, 0, hi, lo]).map(|_| ())
}

/// pread(2): fd, buf, nbyte in r3–r5, the offset in r7:r8.
pub fn pread(fd: u32, buf: &mut [u8], off: u64) -> Result<usize, i32> {
    let [hi, lo] = pair(off);
    syscall(sys::SYS_PREAD, [fd, buf.as_mut_ptr() as u32, buf.len() as u32, 0, hi, lo]).map(|n| n as usize)
}

/// pwrite(2), as pread.
pub fn pwrite(fd: u32, buf: &[u8], off: u64) -> Result<usize, i32> {
    let [hi, lo] = pair(off);
    syscall(sys::SYS_PWRITE, [fd, buf.as_ptr() as u32, buf.len() as u32, 0, hi, lo]).map(|n| n as usize)
}

pub fn read(fd: u32, buf: &mut [u8]) -> Result<usize, i32> {
    sc(sys::SYS_READ, fd, buf.as_mut_ptr() as u32, buf.len() as u32).map(|n| n as usize)
}

/// getdents(2): fills `buf` with records {inode u32, reclen u16, type u8,
/// namlen u8, name, padding}; the bytes filled, 0 at the end.
pub fn getdents(fd: u32, buf: &mut [u8]) -> Result<usize, i32> {
    sc(sys::SYS_GETDENTS, fd, buf.as_mut_ptr() as u32, buf.len() as u32).map(|n| n as usize)
}

/// Calls `f(inode, type, name)` for each record getdents filled in.
pub fn for_each_dirent(buf: &[u8], mut f: impl FnMut(u32, u8, &[u8])) {
    let mut at = 0;
    while at + 8 <= buf.len() {
        let ino = u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
        let reclen = u16::from_be_bytes([buf[at + 4], buf[at + 5]]) as usize;
        let namlen = buf[at + 7] as usize;
        if reclen < 8 || at + 8 + namlen > buf.len() {
            return;
        }
        f(ino, buf[at + 6], &buf[at + 8..at + 8 + namlen]);
        at += reclen;
    }
}

pub fn close(fd: u32) -> Result<(), i32> {
    sc(sys::SYS_CLOSE, fd, 0, 0).map(|_| ())
}

/// lseek(2): fd in r3, the offset in r5:r6, whence in r7; the new offset
/// comes back in r3:r4.
pub fn lseek(fd: u32, off: i64, whence: u32) -> Result<u64, i32> {
    let [hi, lo] = pair(off as u64);
    syscall2(sys::SYS_LSEEK, [fd, 0, hi, lo, whence]).map(|(h, l)| (h as u64) << 32 | l as u64)
}

/// fstat(2) in ppcbsd's small form: (type: 1 file, 2 directory, 3 link;
/// inode number; size).
pub fn fstat(fd: u32) -> Result<(u32, u32, u64), i32> {
    let mut st = [0u32; 4];
    sc(sys::SYS_FSTAT, fd, st.as_mut_ptr() as u32, 0)?;
    Ok((st[0], st[1], (st[2] as u64) << 32 | st[3] as u64))
}

pub fn exit(code: i32) -> ! {
    let _ = sc(sys::SYS_EXIT, code as u32, 0, 0);
    unreachable_exit()
}

fn unreachable_exit() -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// Ok(0) in the child, Ok(child pid) in the parent.
pub fn fork() -> Result<u32, i32> {
    sc(sys::SYS_FORK, 0, 0, 0)
}

/// Replaces the program; `path` and every argument end with a NUL.
pub fn execve(path: &[u8], argv: &[&[u8]]) -> i32 {
    let mut ptrs = [0u32; 16];
    for (p, a) in ptrs.iter_mut().zip(argv) {
        *p = a.as_ptr() as u32;
    }
    match sc(sys::SYS_EXECVE, path.as_ptr() as u32, ptrs.as_ptr() as u32, 0) {
        Ok(_) => 0,
        Err(e) => e,
    }
}

/// execve(2) with an argument vector of any length: `argv` holds the
/// strings' addresses, ending with 0.
pub fn execve_raw(path: &[u8], argv: &[u32]) -> i32 {
    match sc(sys::SYS_EXECVE, path.as_ptr() as u32, argv.as_ptr() as u32, 0) {
        Ok(_) => 0,
        Err(e) => e,
    }
}

/// Waits for a child (`pid`, or any with -1): (pid, status).
pub fn wait4(pid: i32) -> Result<(u32, i32), i32> {
    let mut status = 0i32;
    let r = sc(sys::SYS_WAIT4, pid as u32, &mut status as *mut i32 as u32, 0)?;
    Ok((r, status))
}

pub fn getpid() -> u32 {
    sc(sys::SYS_GETPID, 0, 0, 0).unwrap_or(0)
}

pub fn getppid() -> u32 {
    sc(sys::SYS_GETPPID, 0, 0, 0).unwrap_or(0)
}

/// vm.uvmexp: (npages, free, active, inactive, freemin, freetarg, paging).
pub fn uvmexp() -> Result<[u32; 7], i32> {
    let mib = [sys::CTL_VM, sys::VM_UVMEXP];
    let mut out = [0u32; 7];
    sc(sys::SYS_SYSCTL, mib.as_ptr() as u32, 2, out.as_mut_ptr() as u32)?;
    Ok(out)
}

/// Sleeps `ms` milliseconds (ppcbsd's nanosleep takes milliseconds).
pub fn sleep_ms(ms: u32) {
    let _ = sc(sys::SYS_NANOSLEEP, ms, 0, 0);
}

pub fn sched_yield() {
    let _ = sc(sys::SYS_SCHED_YIELD, 0, 0, 0);
}

/// Milliseconds since boot (CLOCK_MONOTONIC).
pub fn uptime_ms() -> u64 {
    let mut ts = [0u32; 2];
    let _ = sc(sys::SYS_CLOCK_GETTIME, CLOCK_MONOTONIC, ts.as_mut_ptr() as u32, 0);
    ts[0] as u64 * 1000 + ts[1] as u64 / 1_000_000
}

pub fn mmap_anon(len: usize) -> Result<*mut u8, i32> {
    syscall(sys::SYS_MMAP, [0, len as u32, PROT_READ | PROT_WRITE, MAP_ANON | MAP_PRIVATE, u32::MAX]).map(|a| a as *mut u8)
}

/// mmap(2) of an open file: (addr, len, prot, flags, fd) in r3–r7, the
/// page-aligned offset in r9:r10.
pub fn mmap_file(len: usize, prot: u32, flags: u32, fd: u32, off: u64) -> Result<*mut u8, i32> {
    let [hi, lo] = pair(off);
    syscall(sys::SYS_MMAP, [0, len as u32, prot, flags, fd, 0, hi, lo]).map(|a| a as *mut u8)
}

/// msync(2) of [addr, addr + len).
pub fn msync(addr: *mut u8, len: usize) -> Result<(), i32> {
    sc(sys::SYS_MSYNC, addr as u32, len as u32, 0).map(|_| ())
}

/// getrlimit(2): (soft, hard) limit of `which` (ppcbsd: RLIMIT_DATA only).
pub fn getrlimit(which: u32) -> Result<(u64, u64), i32> {
    let mut b = [0u8; 16];
    sc(sys::SYS_GETRLIMIT, which, b.as_mut_ptr() as u32, 0)?;
    Ok((u64::from_be_bytes(b[..8].try_into().unwrap_or([0; 8])), u64::from_be_bytes(b[8..].try_into().unwrap_or([0; 8]))))
}

/// setrlimit(2) of `which` to (soft, hard).
pub fn setrlimit(which: u32, cur: u64, max: u64) -> Result<(), i32> {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&cur.to_be_bytes());
    b[8..].copy_from_slice(&max.to_be_bytes());
    sc(sys::SYS_SETRLIMIT, which, b.as_ptr() as u32, 0).map(|_| ())
}

pub fn munmap(addr: *mut u8, len: usize) -> Result<(), i32> {
    sc(sys::SYS_MUNMAP, addr as u32, len as u32, 0).map(|_| ())
}

pub fn reboot(howto: u32) -> ! {
    let _ = sc(sys::SYS_REBOOT, howto, 0, 0);
    exit(1)
}

/// Writes `v` in decimal, NUL-terminated, into `buf`; returns the digits
/// and the NUL (an argument for execve).
pub fn fmt_u64(buf: &mut [u8; 24], v: u64) -> &[u8] {
    let mut n = v;
    let mut i = buf.len() - 1;
    buf[i] = 0;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// `parts` one after another in `buf`, NUL-terminated (a path for a
/// system call); a NUL ending a part is dropped. What does not fit is cut.
pub fn path_join<'a>(buf: &'a mut [u8; 256], parts: &[&[u8]]) -> &'a [u8] {
    let mut n = 0;
    for p in parts {
        let p = p.strip_suffix(&[0]).unwrap_or(p);
        let k = p.len().min(buf.len() - 1 - n);
        buf[n..n + k].copy_from_slice(&p[..k]);
        n += k;
    }
    buf[n] = 0;
    &buf[..=n]
}

pub struct Stdout;

impl Write for Stdout {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write(1, s.as_bytes()).map(|_| ()).map_err(|_| fmt::Error)
    }
}

/// The field workload's files (workload=field): DIR/field/f0…f7, file k
/// (k+1)·16 KiB long, its bytes a function of k and the offset, so that
/// every reader can check what it sees.
pub const FIELD_FILES: u32 = 8;

/// The big one, DIR/field/f8 (4 MiB), that the viewers keep mapped.
pub const FIELD_BIG: u32 = 8;

pub fn field_size(k: u32) -> usize {
    if k == FIELD_BIG {
        4 << 20
    } else {
        (k as usize + 1) * 16 * 1024
    }
}

pub fn field_byte(k: u32, off: usize) -> u8 {
    (k as u8).wrapping_mul(37) ^ (off as u8) ^ ((off >> 12) as u8).wrapping_mul(11)
}

/// "DIR/field/fK" with its NUL, in `buf`.
pub fn field_path<'a>(buf: &'a mut [u8; 256], dir: &str, k: u32) -> &'a [u8] {
    path_join(buf, &[dir.trim_end_matches('/').as_bytes(), b"/field/f", &[b'0' + (k % 10) as u8]])
}

/// A print's text gathered into one write(2) when it fits (as stdio's
/// buffer would), so that lines of processes printing at once do not
/// interleave at every formatted piece.
struct LineBuf {
    buf: [u8; 256],
    len: usize,
}

impl LineBuf {
    fn flush(&mut self) {
        if self.len > 0 {
            let _ = write(1, &self.buf[..self.len]);
            self.len = 0;
        }
    }
}

impl Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.len + s.len() > self.buf.len() {
            self.flush();
        }
        if s.len() > self.buf.len() {
            return Stdout.write_str(s);
        }
        self.buf[self.len..self.len + s.len()].copy_from_slice(s.as_bytes());
        self.len += s.len();
        Ok(())
    }
}

pub fn _print(args: fmt::Arguments<'_>) {
    let mut b = LineBuf { buf: [0; 256], len: 0 };
    let _ = b.write_fmt(args);
    b.flush();
}

#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::_print(format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! println {
    () => { $crate::_print(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::_print(format_args!("{}\n", format_args!($($arg)*))) };
}

/// The arguments the kernel put on the stack.
#[derive(Clone, Copy)]
pub struct Args {
    argc: usize,
    argv: *const *const u8,
}

impl Args {
    pub fn len(&self) -> usize {
        self.argc
    }

    pub fn is_empty(&self) -> bool {
        self.argc == 0
    }

    pub fn get(&self, i: usize) -> Option<&'static str> {
        if i >= self.argc {
            return None;
        }
        // SAFETY: execve left argc pointers to NUL-terminated strings on the
        // stack, which lives as long as the program.
        unsafe {
            let p = *self.argv.add(i);
            let mut n = 0;
            while *p.add(n) != 0 {
                n += 1;
            }
            core::str::from_utf8(core::slice::from_raw_parts(p, n)).ok()
        }
    }
}

/// Defines `_start` for a program whose `main(Args) -> i32` gives the
/// exit status.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[no_mangle]
        #[link_section = ".text._start"]
        pub extern "C" fn _start(argc: usize, argv: *const *const u8) -> ! {
            $crate::exit($main($crate::Args::new(argc, argv)))
        }
    };
}

impl Args {
    #[doc(hidden)]
    pub fn new(argc: usize, argv: *const *const u8) -> Args {
        Args { argc, argv }
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    println!("pid {}: panic: {}", getpid(), info.message());
    exit(101)
}

/// Reads a byte of every page of the program's text and read-only data, so
/// that they are resident before a test runs memory out: a program runs
/// from its vnode's pages, and a self-test boot has no pagedaemon to find
/// a page for a text fault once the kernel heap has taken the rest.
pub fn prefault_text() {
    extern "C" {
        static __text_start: u8;
        static __rodata_end: u8;
    }
    // The linker script's bounds of the text and rodata sections; only
    // their addresses are taken.
    let (lo, hi) = (core::ptr::addr_of!(__text_start) as usize, core::ptr::addr_of!(__rodata_end) as usize);
    for a in (lo..hi).step_by(4096) {
        // SAFETY: a in [lo, hi), inside the mapped text and rodata.
        unsafe { core::ptr::read_volatile(a as *const u8) };
    }
}
