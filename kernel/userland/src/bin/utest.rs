//! /bin/utest: the kernel's user-mode self-test. Each check prints
//! `utest: NAME ok` or `utest: NAME FAILED: why`; the exit status is the
//! number of failures, which the in-kernel test reports.
#![no_std]
#![no_main]

use userland::*;

type Check = Result<(), &'static str>;

fn write_getpid() -> Check {
    let n = write(1, b"utest: writing to the console\n").map_err(|_| "write failed")?;
    if n != 30 {
        return Err("write returned the wrong count");
    }
    if getpid() < 1 {
        return Err("getpid returned 0");
    }
    Ok(())
}

fn copyin_efault() -> Check {
    if write_raw(1, 0x2000_0000, 16) != Err(Errno::EFAULT as i32) {
        return Err("write from an unmapped user address did not give EFAULT");
    }
    if write_raw(1, 0xd000_0000, 16) != Err(Errno::EFAULT as i32) {
        return Err("write from a kernel address did not give EFAULT");
    }
    if write_raw(1, 0xbfff_fff0, 64) != Err(Errno::EFAULT as i32) {
        return Err("write running off the top of user space did not give EFAULT");
    }
    Ok(())
}

fn fork_exec_wait() -> Check {
    let pid = match fork() {
        Ok(0) => {
            execve(b"/bin/hello\0", &[b"hello\0", b"a\0", b"b\0"]);
            exit(99)
        }
        Ok(pid) => pid,
        Err(_) => return Err("fork failed"),
    };
    let (p, st) = wait4(pid as i32).map_err(|_| "wait4 failed")?;
    if p != pid || !wifexited(st) || wexitstatus(st) != 3 {
        return Err("the exec'd child did not exit with its argument count (3)");
    }
    if wait4(-1) != Err(Errno::ECHILD as i32) {
        return Err("wait4 with no children did not give ECHILD");
    }
    Ok(())
}

fn fork_copies_memory() -> Check {
    static mut SHARED: u32 = 5;
    let p = core::ptr::addr_of_mut!(SHARED);
    match fork() {
        Ok(0) => {
            // SAFETY: single-threaded program; the child's own copy.
            unsafe { p.write_volatile(77) };
            exit(0)
        }
        Ok(pid) => {
            wait4(pid as i32).map_err(|_| "wait4 failed")?;
            // SAFETY: as above, the parent's copy.
            if unsafe { p.read_volatile() } != 5 {
                return Err("the child's store changed the parent's memory");
            }
            Ok(())
        }
        Err(_) => Err("fork failed"),
    }
}

fn mmap_anon_zero_fill() -> Check {
    let len = 3 * 4096;
    let p = mmap_anon(len).map_err(|_| "mmap failed")?;
    // SAFETY: the kernel just mapped len bytes of zero-fill memory there.
    let s = unsafe { core::slice::from_raw_parts_mut(p, len) };
    if s.iter().any(|&b| b != 0) {
        return Err("anonymous memory is not zero-filled");
    }
    for (i, b) in s.iter_mut().enumerate() {
        *b = i as u8;
    }
    if s.iter().enumerate().any(|(i, &b)| b != i as u8) {
        return Err("anonymous memory did not keep what was written");
    }
    munmap(p, len).map_err(|_| "munmap failed")?;
    Ok(())
}

fn bad_address_kills() -> Check {
    let pid = match fork() {
        Ok(0) => {
            // SAFETY: none: the store is meant to fault and kill this child.
            unsafe { (0x3000_0000 as *mut u32).write_volatile(1) };
            exit(0)
        }
        Ok(pid) => pid,
        Err(_) => return Err("fork failed"),
    };
    let (_, st) = wait4(pid as i32).map_err(|_| "wait4 failed")?;
    if wifexited(st) || wtermsig(st) != SIGSEGV {
        return Err("the faulting child was not killed with SIGSEGV");
    }
    Ok(())
}

/// A shared mapping reaching past the end of its file: touching the page
/// beyond it is SIGBUS (OpenBSD: the pager's error is EIO, which the trap
/// makes SIGBUS), touching the file's last page is fine.
fn mmap_past_eof_sigbus() -> Check {
    let path = b"/utest-eof.tmp\0";
    let fd = open_mode(path, sys::O_CREAT | sys::O_EXCL | sys::O_RDWR, 0o644).map_err(|_| "create /utest-eof.tmp failed")?;
    write_all(fd, &[3u8; 100]).map_err(|_| "write failed")?;
    let p = mmap_file(8192, sys::PROT_READ, sys::MAP_SHARED, fd, 0).map_err(|_| "mmap failed")?;
    let _ = close(fd);
    let _ = unlink(path);
    // SAFETY: the first page is the file's (100 bytes, the rest zeroes).
    if unsafe { p.add(99).read_volatile() } != 3 || unsafe { p.add(200).read_volatile() } != 0 {
        return Err("the file's page does not hold its data and zeroes");
    }
    let pid = match fork() {
        Ok(0) => {
            // SAFETY: none: the page past the end of the file is meant to
            // fault and kill this child.
            let _ = unsafe { p.add(4096).read_volatile() };
            exit(0)
        }
        Ok(pid) => pid,
        Err(_) => return Err("fork failed"),
    };
    let (_, st) = wait4(pid as i32).map_err(|_| "wait4 failed")?;
    let _ = munmap(p, 8192);
    if wifexited(st) || wtermsig(st) != SIGBUS {
        return Err("touching the page past the end of the file did not kill with SIGBUS");
    }
    Ok(())
}

fn clock_preempts() -> Check {
    let mut buf = [0u8; 24];
    let arg = fmt_u64(&mut buf, uptime_ms() + 600);
    let mut pids = [0u32; 2];
    for (k, label) in [b"A\0", b"B\0"].iter().enumerate() {
        pids[k] = match fork() {
            Ok(0) => {
                execve(b"/bin/hog\0", &[b"hog\0", *label, arg]);
                exit(99)
            }
            Ok(pid) => pid,
            Err(_) => return Err("fork failed"),
        };
    }
    for pid in pids {
        let (_, st) = wait4(pid as i32).map_err(|_| "wait4 failed")?;
        if !wifexited(st) || wexitstatus(st) != 0 {
            return Err("a CPU-bound process made no progress: no preemption");
        }
    }
    Ok(())
}

fn file_io() -> Check {
    use userland::sys::{SEEK_END, SEEK_SET};
    let fd = open(b"/etc/motd\0", 0).map_err(|_| "open /etc/motd failed")?;
    if fd < 3 {
        return Err("open returned a console descriptor");
    }
    let mut buf = [0u8; 6];
    if read(fd, &mut buf) != Ok(6) || &buf != b"ppcbsd" {
        return Err("read of /etc/motd did not give 'ppcbsd'");
    }
    let (kind, _, size) = fstat(fd).map_err(|_| "fstat failed")?;
    if kind != 1 || lseek(fd, 0, SEEK_END) != Ok(size) {
        return Err("fstat type or size disagrees with lseek");
    }
    if read(fd, &mut buf) != Ok(0) {
        return Err("read at the end of the file did not give 0");
    }
    if lseek(fd, 2, SEEK_SET) != Ok(2) || read(fd, &mut buf[..4]) != Ok(4) || &buf[..4] != b"cbsd" {
        return Err("read after lseek gave the wrong bytes");
    }
    close(fd).map_err(|_| "close failed")?;
    if read(fd, &mut buf) != Err(Errno::EBADF as i32) {
        return Err("read of a closed descriptor did not give EBADF");
    }
    if open(b"/etc/nope\0", 0) != Err(Errno::ENOENT as i32) {
        return Err("open of a missing file did not give ENOENT");
    }
    if open(b"/etc\0", sys::O_WRONLY) != Err(Errno::EISDIR as i32) {
        return Err("open of a directory for writing did not give EISDIR");
    }
    let fd = open(b"/etc/motd\0", sys::O_RDONLY).map_err(|_| "open /etc/motd failed")?;
    let denied = write(fd, b"x") == Err(Errno::EBADF as i32);
    close(fd).map_err(|_| "close failed")?;
    if !denied {
        return Err("write to a descriptor opened read-only did not give EBADF");
    }
    Ok(())
}

/// A file removed while open stays readable through its descriptor; the
/// name is gone at once, and creating with O_EXCL over a name fails.
fn unlink_open_file() -> Check {
    let path = b"/utest.tmp\0";
    let fd = open_mode(path, sys::O_CREAT | sys::O_EXCL | sys::O_RDWR, 0o644).map_err(|_| "create /utest.tmp failed")?;
    if open_mode(path, sys::O_CREAT | sys::O_EXCL | sys::O_WRONLY, 0o644) != Err(Errno::EEXIST as i32) {
        return Err("O_CREAT|O_EXCL of an existing file did not give EEXIST");
    }
    write_all(fd, b"still here").map_err(|_| "write failed")?;
    unlink(path).map_err(|_| "unlink failed")?;
    if open(path, sys::O_RDONLY) != Err(Errno::ENOENT as i32) {
        return Err("the removed name still opens");
    }
    let mut buf = [0u8; 10];
    if lseek(fd, 0, sys::SEEK_SET) != Ok(0) || read(fd, &mut buf) != Ok(10) || &buf != b"still here" {
        return Err("the open descriptor lost the removed file's data");
    }
    close(fd).map_err(|_| "close failed")
}

/// Issue 13's five unprivileged calls: open a file read-write, unlink it,
/// map it shared read-only (and once with a mapping that fails), unmap,
/// close. The last close makes the unlinked file inactive, and ffs_truncate
/// to 0 must not uncache its object (OpenBSD does not): it used to panic in
/// vref under every policy.
fn unlinked_mapped_file() -> Check {
    let path = b"/utest-map.tmp\0";
    for fail_the_map in [false, true] {
        let fd = open_mode(path, sys::O_CREAT | sys::O_EXCL | sys::O_RDWR, 0o644).map_err(|_| "create /utest-map.tmp failed")?;
        write_all(fd, &[7u8; 8192]).map_err(|_| "write failed")?;
        unlink(path).map_err(|_| "unlink failed")?;
        if fail_the_map {
            // An offset that is not page aligned: EINVAL, nothing mapped.
            if mmap_file(4096, sys::PROT_READ, sys::MAP_SHARED, fd, 100).is_ok() {
                return Err("mmap at an unaligned offset succeeded");
            }
        } else {
            let p = mmap_file(8192, sys::PROT_READ, sys::MAP_SHARED, fd, 0).map_err(|_| "mmap of the unlinked file failed")?;
            // SAFETY: the mapping is 8192 readable bytes.
            if unsafe { p.add(4096).read_volatile() } != 7 {
                munmap(p, 8192).map_err(|_| "munmap failed")?;
                return Err("the mapping does not show the file's data");
            }
            munmap(p, 8192).map_err(|_| "munmap failed")?;
        }
        close(fd).map_err(|_| "close failed")?;
    }
    Ok(())
}

/// Issue 13's msync hang: a shared read-write mapping stored to, synced,
/// then unmapped and the file closed: the flush must leave no page busy.
fn msync_then_munmap() -> Check {
    let path = b"/utest-msync.tmp\0";
    let fd = open_mode(path, sys::O_CREAT | sys::O_EXCL | sys::O_RDWR, 0o644).map_err(|_| "create /utest-msync.tmp failed")?;
    write_all(fd, &[0u8; 16384]).map_err(|_| "write failed")?;
    let p = mmap_file(16384, sys::PROT_READ | sys::PROT_WRITE, sys::MAP_SHARED, fd, 0).map_err(|_| "mmap failed")?;
    for page in 0..4 {
        // SAFETY: the mapping is 16384 writable bytes.
        unsafe { p.add(page * 4096 + 8).write_volatile(0x5a) };
    }
    msync(p, 16384).map_err(|_| "msync failed")?;
    // SAFETY: as above.
    unsafe { p.add(12).write_volatile(0xa5) };
    munmap(p, 16384).map_err(|_| "munmap failed")?;
    let mut b = [0u8; 16];
    let r = lseek(fd, 4096, sys::SEEK_SET).and_then(|_| read(fd, &mut b));
    close(fd).map_err(|_| "close failed")?;
    unlink(path).map_err(|_| "unlink failed")?;
    if r != Ok(16) || b[8] != 0x5a {
        return Err("the synced store did not reach the file");
    }
    Ok(())
}

/// The bytes `sync_writes_mapped` and `syncmap` store: one per page at
/// offset 100.
fn syncmap_byte(page: usize) -> u8 {
    0x30 + page as u8
}

/// A file of 4 zero pages mapped shared and writable, a byte stored into
/// each page through the mapping; returns the descriptor and the mapping.
fn syncmap_setup(path: &[u8]) -> Result<(u32, *mut u8), &'static str> {
    let fd = open_mode(path, sys::O_CREAT | sys::O_EXCL | sys::O_RDWR, 0o644).map_err(|_| "create failed")?;
    write_all(fd, &[0u8; 16384]).map_err(|_| "write failed")?;
    let p = mmap_file(16384, sys::PROT_READ | sys::PROT_WRITE, sys::MAP_SHARED, fd, 0).map_err(|_| "mmap failed")?;
    for page in 0..4 {
        // SAFETY: the mapping is 16384 writable bytes.
        unsafe { p.add(page * 4096 + 100).write_volatile(syncmap_byte(page)) };
    }
    Ok((fd, p))
}

/// sync(2) writes a shared mapping's dirty pages (uvm_vnp_sync, as
/// OpenBSD's sys_sync): read(2), which goes through the buffer cache and
/// not the object's pages, then sees the stores, the mapping still in place.
fn sync_writes_mapped() -> Check {
    let path = b"/utest-syncmap.tmp\0";
    let (fd, p) = syncmap_setup(path)?;
    sync();
    let mut got = [0u8; 4];
    for (page, g) in got.iter_mut().enumerate() {
        let mut b = [0u8; 1];
        if lseek(fd, (page * 4096 + 100) as i64, sys::SEEK_SET).and_then(|_| read(fd, &mut b)) == Ok(1) {
            *g = b[0];
        }
    }
    munmap(p, 16384).map_err(|_| "munmap failed")?;
    close(fd).map_err(|_| "close failed")?;
    unlink(path).map_err(|_| "unlink failed")?;
    if (0..4).any(|page| got[page] != syncmap_byte(page)) {
        return Err("read(2) after sync(2) does not see the stores through the mapping");
    }
    Ok(())
}

/// `utest syncmap`: stores through a shared mapping of /syncmap.dat,
/// sync(2), and halts with the mapping in place; the host checks the saved
/// image (test `sync-mapped-halt`).
fn syncmap_halt() -> Check {
    let (_fd, _p) = syncmap_setup(b"/syncmap.dat\0")?;
    sync();
    println!("utest: syncmap: stored through the mapping, synced; halting with the mapping in place");
    reboot(RB_HALT)
}

/// Fills the disk with a new file at `path` by write(2) until ENOSPC; a
/// failed write(2) is all or nothing, so the file keeps its size. Returns
/// the descriptor (read-write) and the size.
fn fill_disk(path: &[u8]) -> Result<(u32, u32), &'static str> {
    let fd = open_mode(path, sys::O_CREAT | sys::O_EXCL | sys::O_RDWR, 0o644).map_err(|_| "create the fill file failed")?;
    let chunk = [0x11u8; 8192];
    let mut size = 0u32;
    loop {
        match write(fd, &chunk) {
            Ok(n) if n == chunk.len() => size += n as u32,
            Ok(_) => return Err("write(2) on a full disk returned a short count, not ENOSPC"),
            Err(e) if e == Errno::ENOSPC as i32 => break,
            Err(_) => return Err("write(2) failed with another error than ENOSPC"),
        }
    }
    if fstat(fd).map(|st| st.2) != Ok(size as u64) {
        return Err("the failed write(2) changed the file's size");
    }
    Ok((fd, size))
}

/// `utest wedge`: on a full disk, stores into every page of a shared
/// mapping of a file of holes bigger than memory. The pagedaemon's
/// pageouts fail (ENOSPC) and the pages stay dirty, so memory runs out and
/// the storing fault waits in uvm_wait for good, as OpenBSD's would; the
/// hang watchdog must report it (test `memwait-watchdog`). Never returns
/// if it works.
fn memory_wedge() -> Check {
    // The file first: growing it allocates its last block.
    let len = uvmexp().map_err(|_| "sysctl failed")?[0] as usize * 4096 * 2;
    let fd = open_mode(b"/utest-wedge.tmp\0", sys::O_CREAT | sys::O_EXCL | sys::O_RDWR, 0o644).map_err(|_| "create failed")?;
    ftruncate(fd, len as u64).map_err(|_| "ftruncate failed")?;
    let (fill, _) = fill_disk(b"/utest-wedge-fill.tmp\0")?;
    close(fill).map_err(|_| "close failed")?;
    let p = mmap_file(len, sys::PROT_READ | sys::PROT_WRITE, sys::MAP_SHARED, fd, 0).map_err(|_| "mmap failed")?;
    println!("utest: wedge: storing into {} pages of a file of holes on a full disk", len / 4096);
    for off in (0..len).step_by(4096) {
        // SAFETY: the mapping is len writable bytes of a file that long.
        unsafe { p.add(off).write_volatile(1) };
    }
    Err("every page was stored into: memory did not run out")
}

/// OpenBSD's ftruncate to a size inside a dirty mapped page: uvm_vnp_setsize
/// frees the object's pages from trunc_page(newsize) without writing them,
/// so a store below the new end is lost (doc/findings.md F10). Kept as
/// OpenBSD under every policy, fixed-2 included.
fn ftruncate_drops_partial_page() -> Check {
    let path = b"/utest-trpage.tmp\0";
    let fd = open_mode(path, sys::O_CREAT | sys::O_EXCL | sys::O_RDWR, 0o644).map_err(|_| "create failed")?;
    write_all(fd, &[0u8; 8192]).map_err(|_| "write failed")?;
    let p = mmap_file(8192, sys::PROT_READ | sys::PROT_WRITE, sys::MAP_SHARED, fd, 0).map_err(|_| "mmap failed")?;
    // SAFETY: the mapping is 8192 writable bytes.
    unsafe { p.add(4096 + 100).write_volatile(0x77) };
    ftruncate(fd, 4096 + 200).map_err(|_| "ftruncate failed")?;
    munmap(p, 8192).map_err(|_| "munmap failed")?;
    let mut b = [0u8; 1];
    let r = lseek(fd, 4096 + 100, sys::SEEK_SET).and_then(|_| read(fd, &mut b));
    close(fd).map_err(|_| "close failed")?;
    unlink(path).map_err(|_| "unlink failed")?;
    if r != Ok(1) || b[0] != 0 {
        return Err("the store below the new end survived: OpenBSD's uvm_vnp_setsize frees that page unwritten");
    }
    Ok(())
}

/// `utest msyncfull`: OpenBSD's msync on a full disk returns 0 although its
/// write failed, and marks the page clean, so a second msync writes nothing
/// and the store never reaches the file (doc/findings.md F10). Kept as
/// OpenBSD under every policy, fixed-2 included.
fn msync_enospc() -> Check {
    let path = b"/utest-msyncfull.tmp\0";
    let fd = open_mode(path, sys::O_CREAT | sys::O_EXCL | sys::O_RDWR, 0o644).map_err(|_| "create failed")?;
    ftruncate(fd, 64 * 4096).map_err(|_| "ftruncate failed")?;
    let fill = b"/utest-msyncfill.tmp\0";
    let (ffd, _) = fill_disk(fill)?;
    close(ffd).map_err(|_| "close failed")?;
    let p = mmap_file(64 * 4096, sys::PROT_READ | sys::PROT_WRITE, sys::MAP_SHARED, fd, 0).map_err(|_| "mmap failed")?;
    // SAFETY: the mapping is 64 writable pages; page 3 is a hole.
    unsafe { p.add(3 * 4096 + 5).write_volatile(0x42) };
    let first = msync(p, 64 * 4096);
    let second = msync(p, 64 * 4096);
    let mut b = [0u8; 1];
    let r = lseek(fd, 3 * 4096 + 5, sys::SEEK_SET).and_then(|_| read(fd, &mut b));
    munmap(p, 64 * 4096).map_err(|_| "munmap failed")?;
    close(fd).map_err(|_| "close failed")?;
    unlink(path).and_then(|_| unlink(fill)).map_err(|_| "unlink failed")?;
    if first.is_err() || second.is_err() {
        return Err("msync on a full disk failed: OpenBSD's returns 0 when its write fails");
    }
    if r != Ok(1) || b[0] != 0 {
        return Err("the store reached the file on a full disk");
    }
    Ok(())
}

/// `utest enospc`: the disk filled but for 32 KiB, a 64-page file of holes
/// mapped shared, a byte stored into every page, munmap (the last unmap's
/// flush writes the pages): the writes past the space fail, and every page
/// that did not reach the file must have had the kernel's "error during
/// pageout" line (test `pageout-enospc` matches them). A failed write(2)
/// is all or nothing: the file keeps its old size.
fn pageout_enospc() -> Check {
    const PAGES: usize = 64;
    let fill = b"/utest-fill.tmp\0";
    let (fd, size) = fill_disk(fill)?;
    ftruncate(fd, (size - 32768) as u64).map_err(|_| "ftruncate of the fill file failed")?;
    close(fd).map_err(|_| "close failed")?;
    let path = b"/utest-enospc.tmp\0";
    let fd = open_mode(path, sys::O_CREAT | sys::O_EXCL | sys::O_RDWR, 0o644).map_err(|_| "create failed")?;
    ftruncate(fd, (PAGES * 4096) as u64).map_err(|_| "ftruncate failed")?;
    let p = mmap_file(PAGES * 4096, sys::PROT_READ | sys::PROT_WRITE, sys::MAP_SHARED, fd, 0).map_err(|_| "mmap failed")?;
    for page in 0..PAGES {
        // SAFETY: the mapping is PAGES writable pages of a file that long.
        unsafe { p.add(page * 4096 + 7).write_volatile(0x80 | page as u8) };
    }
    munmap(p, PAGES * 4096).map_err(|_| "munmap failed")?;
    print!("utest: enospc: pages not in the file:");
    let mut kept = 0;
    for page in 0..PAGES {
        let mut b = [0u8; 1];
        let ok = lseek(fd, (page * 4096 + 7) as i64, sys::SEEK_SET).and_then(|_| read(fd, &mut b)) == Ok(1) && b[0] == 0x80 | page as u8;
        if ok {
            kept += 1;
        } else {
            print!(" {page}");
        }
    }
    println!("");
    println!("utest: enospc: {kept} of {PAGES} pages reached the file");
    close(fd).map_err(|_| "close failed")?;
    unlink(path).and_then(|_| unlink(fill)).map_err(|_| "unlink failed")?;
    if kept == 0 || kept == PAGES {
        return Err("expected some pages written and some not");
    }
    Ok(())
}

/// A path that lies in a shared file mapping's page not read in yet: open
/// faults it in (copyinstr), as copyin does, instead of EFAULT.
fn path_in_unread_mapped_page() -> Check {
    let path = b"/utest-pathmap.tmp\0";
    let fd = open_mode(path, sys::O_CREAT | sys::O_EXCL | sys::O_RDWR, 0o644).map_err(|_| "create failed")?;
    let mut page = [0u8; 8192];
    page[4096..4096 + 10].copy_from_slice(b"/etc/motd\0");
    write_all(fd, &page).map_err(|_| "write failed")?;
    let p = mmap_file(8192, sys::PROT_READ, sys::MAP_SHARED, fd, 0).map_err(|_| "mmap failed")?;
    // SAFETY: the mapping is 8192 readable bytes; its second page is not
    // touched before the open.
    let name = unsafe { core::slice::from_raw_parts(p.add(4096), 10) };
    let r = open(name, sys::O_RDONLY);
    munmap(p, 8192).map_err(|_| "munmap failed")?;
    close(fd).map_err(|_| "close failed")?;
    unlink(path).map_err(|_| "unlink failed")?;
    let motd = r.map_err(|_| "open of a path in an unread mapped page failed")?;
    close(motd).map_err(|_| "close failed")
}

/// `.` as the last component, as OpenBSD: rename to it is EISDIR, rmdir
/// of it EINVAL, unlink EPERM, and the directory stays; a removed
/// directory still open lists nothing (ufs_rmdir truncates it).
fn dot_and_removed_dirs() -> Check {
    mkdir(b"/utest-q\0", 0o755).map_err(|_| "mkdir failed")?;
    if rename(b"/utest-q\0", b"/utest-q/.\0") != Err(Errno::EISDIR as i32) {
        return Err("rename to dir/. was not EISDIR");
    }
    if rmdir(b"/utest-q/.\0") != Err(Errno::EINVAL as i32) || unlink(b"/utest-q/.\0") != Err(Errno::EPERM as i32) {
        return Err("rmdir or unlink of dir/. was not EINVAL, EPERM");
    }
    let fd = open(b"/utest-q\0", sys::O_RDONLY).map_err(|_| "the directory is gone")?;
    rmdir(b"/utest-q\0").map_err(|_| "rmdir failed")?;
    let mut buf = [0u8; 512];
    let n = getdents(fd, &mut buf);
    close(fd).map_err(|_| "close failed")?;
    if n != Ok(0) {
        return Err("a removed directory still open lists entries");
    }
    Ok(())
}

/// A path of 82 components (`etc/..` forty times) is looked up: OpenBSD
/// limits only its length (MAXPATHLEN), not its components.
fn long_path_of_components() -> Check {
    let mut p = [0u8; 400];
    let mut n = 0;
    for piece in core::iter::once(&b"/"[..]).chain(core::iter::repeat_n(&b"etc/../"[..], 40)).chain(core::iter::once(&b"etc/motd\0"[..])) {
        p[n..n + piece.len()].copy_from_slice(piece);
        n += piece.len();
    }
    let fd = open(&p[..n], sys::O_RDONLY).map_err(|_| "open of a path of 82 components failed")?;
    close(fd).map_err(|_| "close failed")
}

/// Runs `path` with the argument vector `argv` (strings' addresses,
/// ending with 0) in a child: its exit status, 200 + the errno's low bits
/// if the exec failed.
fn run_exec(path: &[u8], argv: &[u32]) -> Result<i32, &'static str> {
    let pid = match fork() {
        Ok(0) => exit(200 + (execve_raw(path, argv) & 0x3f)),
        Ok(pid) => pid,
        Err(_) => return Err("fork failed"),
    };
    let (_, st) = wait4(pid as i32).map_err(|_| "wait4 failed")?;
    if !wifexited(st) {
        return Err("the child was killed");
    }
    Ok(wexitstatus(st))
}

/// A new file at `path` of mode `mode` holding /bin/hello: its descriptor,
/// still open for writing.
fn copy_of_hello(path: &[u8], mode: u32) -> Result<u32, &'static str> {
    let fd = open_mode(path, sys::O_CREAT | sys::O_EXCL | sys::O_RDWR, mode).map_err(|_| "create failed")?;
    let src = open(b"/bin/hello\0", sys::O_RDONLY).map_err(|_| "open /bin/hello failed")?;
    let mut buf = [0u8; 4096];
    loop {
        match read(src, &mut buf) {
            Ok(0) => break,
            Ok(n) => write_all(fd, &buf[..n]).map_err(|_| "write failed")?,
            Err(_) => return Err("read /bin/hello failed"),
        }
    }
    close(src).map_err(|_| "close failed")?;
    Ok(fd)
}

/// exec as OpenBSD's: a file with no execute bit is EACCES; arguments are
/// limited by their bytes (ARG_MAX, 512 KiB), not their number: 100
/// arguments and one of 5,000 bytes pass, 9 of 64 KiB are E2BIG.
fn exec_limits() -> Check {
    static mut BIG: [u8; 65536] = [b'a'; 65536];
    let big = core::ptr::addr_of_mut!(BIG) as *mut u8;
    // SAFETY: single-threaded program; the buffer is ours.
    unsafe { big.add(65535).write(0) };
    let run = |argv: &[u32]| run_exec(b"/bin/hello\0", argv);
    let name = b"hello\0";
    let mut argv = [0u32; 101];
    argv[..100].iter_mut().for_each(|p| *p = name.as_ptr() as u32);
    if run(&argv)? != 100 {
        return Err("exec with 100 arguments did not pass them all");
    }
    // SAFETY: as above; 5,000 bytes and a NUL inside the buffer.
    unsafe { big.add(5000).write(0) };
    if run(&[name.as_ptr() as u32, big as u32, 0])? != 2 {
        return Err("exec with a 5,000-byte argument failed");
    }
    // SAFETY: as above.
    unsafe { big.add(5000).write(b'a') };
    let nine = [big as u32; 9];
    let mut argv = [0u32; 10];
    argv[..9].copy_from_slice(&nine);
    // On a small machine (physmem=3M) the kernel's heap cannot hold
    // 512 KiB of arguments before the limit is reached: ENOMEM then.
    let small = uvmexp().map_err(|_| "sysctl failed")?[0] < 4096;
    let r = run(&argv)?;
    if r != 200 + (Errno::E2BIG as i32 & 0x3f) && !(small && r == 200 + (Errno::ENOMEM as i32 & 0x3f)) {
        return Err("exec with 576 KiB of arguments was not E2BIG");
    }
    let path = b"/utest-noexec.tmp\0";
    let fd = copy_of_hello(path, 0o644)?;
    close(fd).map_err(|_| "close failed")?;
    let e = execve(path, &[b"x\0"]);
    unlink(path).map_err(|_| "unlink failed")?;
    if e != Errno::EACCES as i32 {
        return Err("exec of a program without an execute bit was not EACCES");
    }
    // A program open for writing is ETXTBSY (exec_elf_makecmds); closed,
    // it runs. No arguments at all is EINVAL.
    let txt = b"/utest-txt.tmp\0";
    let fd = copy_of_hello(txt, 0o755)?;
    let busy = execve(txt, &[b"x\0"]);
    close(fd).map_err(|_| "close failed")?;
    let x = b"x\0";
    let ran = run_exec(txt, &[x.as_ptr() as u32, 0]);
    let noargs = execve_raw(txt, &[0]);
    unlink(txt).map_err(|_| "unlink failed")?;
    if busy != Errno::ETXTBSY as i32 {
        return Err("exec of a program open for writing was not ETXTBSY");
    }
    if ran != Ok(1) {
        return Err("the program, closed, did not run");
    }
    if noargs != Errno::EINVAL as i32 {
        return Err("exec with no arguments was not EINVAL");
    }
    Ok(())
}

/// OpenBSD's mmap hack looks at maxprot: a read-only shared window on a
/// descriptor open for writing kills its object at the last unmap (the
/// pages are freed then), while one on a read-only descriptor lets the
/// object persist (its pages stay). Run with uvm.mmap_uncache=1.
fn mmap_hack_maxprot() -> Check {
    const N: usize = 32;
    let path = b"/utest-maxprot.tmp\0";
    let fd = open_mode(path, sys::O_CREAT | sys::O_EXCL | sys::O_RDWR, 0o644).map_err(|_| "create /utest-maxprot.tmp failed")?;
    write_all(fd, &[1u8; 4096]).and_then(|_| ftruncate(fd, (N * 4096) as u64)).map_err(|_| "write failed")?;
    close(fd).map_err(|_| "close failed")?;
    let freed_at_unmap = |flags: u32| -> Result<i64, &'static str> {
        let fd = open(path, flags).map_err(|_| "open failed")?;
        let p = mmap_file(N * 4096, sys::PROT_READ, sys::MAP_SHARED, fd, 0).map_err(|_| "mmap failed")?;
        for pg in 0..N {
            // SAFETY: the mapping is N readable pages of a file that long.
            unsafe { p.add(pg * 4096).read_volatile() };
        }
        let before = uvmexp().map_err(|_| "sysctl failed")?[1];
        munmap(p, N * 4096).map_err(|_| "munmap failed")?;
        close(fd).map_err(|_| "close failed")?;
        let after = uvmexp().map_err(|_| "sysctl failed")?[1];
        Ok(after as i64 - before as i64)
    };
    let rw = freed_at_unmap(sys::O_RDWR)?;
    let ro = freed_at_unmap(sys::O_RDONLY)?;
    unlink(path).map_err(|_| "unlink failed")?;
    if rw < N as i64 {
        return Err("a read-only shared window on an O_RDWR descriptor let its object persist");
    }
    if ro >= (N / 2) as i64 {
        return Err("a read-only shared window on an O_RDONLY descriptor did not let its object persist");
    }
    Ok(())
}

/// Issue 13's names: a component over NAME_MAX (255) is ENAMETOOLONG,
/// 255 is fine; a trailing slash asks for a directory (ENOTDIR for a
/// file, ENOENT for a name to create), except for mkdir's new name.
fn names_and_slashes() -> Check {
    let mut long = [b'n'; 258];
    long[0] = b'/';
    long[257] = 0;
    if open_mode(&long, sys::O_CREAT | sys::O_RDWR, 0o644) != Err(Errno::ENAMETOOLONG as i32) {
        return Err("a 256-byte name did not give ENAMETOOLONG");
    }
    long[256] = 0;
    let fd = open_mode(&long[..257], sys::O_CREAT | sys::O_EXCL | sys::O_RDWR, 0o644).map_err(|_| "a 255-byte name could not be created")?;
    close(fd).map_err(|_| "close failed")?;
    unlink(&long[..257]).map_err(|_| "unlink of the 255-byte name failed")?;

    let fd = open_mode(b"/utest-slash.tmp\0", sys::O_CREAT | sys::O_EXCL | sys::O_RDWR, 0o644).map_err(|_| "create /utest-slash.tmp failed")?;
    close(fd).map_err(|_| "close failed")?;
    let r = (unlink(b"/utest-slash.tmp/\0"), open(b"/utest-slash.tmp/\0", sys::O_RDONLY), open_mode(b"/utest-slash.tmp/\0", sys::O_CREAT | sys::O_RDWR, 0o644));
    unlink(b"/utest-slash.tmp\0").map_err(|_| "unlink failed")?;
    let enotdir = Err(Errno::ENOTDIR as i32);
    if r.0 != Err(Errno::ENOTDIR as i32) || r.1.map(|_| ()) != enotdir || r.2.map(|_| ()) != enotdir {
        return Err("a trailing slash after a regular file's name did not give ENOTDIR");
    }
    if open_mode(b"/utest-new.tmp/\0", sys::O_CREAT | sys::O_RDWR, 0o644) != Err(Errno::ENOENT as i32) {
        return Err("open(O_CREAT) of a new name with a trailing slash did not give ENOENT");
    }
    mkdir(b"/utest-dir.tmp/\0", 0o755).map_err(|_| "mkdir with a trailing slash failed")?;
    rmdir(b"/utest-dir.tmp/\0").map_err(|_| "rmdir with a trailing slash failed")?;
    Ok(())
}

/// Issue 13's copies through mapped file pages: read(2) into a shared
/// file mapping must reach the file (the kernel's copyout marks the page
/// modified), and read(2)/write(2) whose buffer is a file page not read in
/// yet must fault it in rather than fail with EFAULT.
fn copies_through_mapped_files() -> Check {
    let (src, dst) = (b"/utest-src.tmp\0", b"/utest-dst.tmp\0");
    let fs = open_mode(src, sys::O_CREAT | sys::O_EXCL | sys::O_RDWR, 0o644).map_err(|_| "create /utest-src.tmp failed")?;
    let mut pattern = [0u8; 8192];
    for (i, b) in pattern.iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    write_all(fs, &pattern).map_err(|_| "write failed")?;
    let fd = open_mode(dst, sys::O_CREAT | sys::O_EXCL | sys::O_RDWR, 0o644).map_err(|_| "create /utest-dst.tmp failed")?;
    write_all(fd, &[0u8; 8192]).map_err(|_| "write failed")?;
    let p = mmap_file(8192, sys::PROT_READ | sys::PROT_WRITE, sys::MAP_SHARED, fd, 0).map_err(|_| "mmap failed")?;
    // Page 0 resident (touched), page 1 not yet.
    // SAFETY: the mapping is 8192 bytes.
    let _ = unsafe { p.read_volatile() };
    let buf = |off: usize, n: usize| {
        // SAFETY: off + n <= 8192, inside the mapping.
        unsafe { core::slice::from_raw_parts_mut(p.add(off), n) }
    };
    let r0 = lseek(fs, 0, sys::SEEK_SET).and_then(|_| read(fs, buf(0, 8192)));
    let r1 = lseek(fs, 0, sys::SEEK_SET).and_then(|_| write(fs, buf(4096, 4096)));
    let _ = munmap(p, 8192);
    let mut back = [0u8; 8192];
    let r2 = lseek(fd, 0, sys::SEEK_SET).and_then(|_| read(fd, &mut back));
    let _ = (close(fs), close(fd), unlink(src), unlink(dst));
    if r0 != Ok(8192) {
        return Err("read(2) into a shared file mapping failed (EFAULT on the page not read in yet?)");
    }
    if r1 != Ok(4096) {
        return Err("write(2) from a file page not read in yet failed");
    }
    if r2 != Ok(8192) || back != pattern {
        return Err("what read(2) put in the shared mapping did not reach the file");
    }
    Ok(())
}

/// Issue 13's exec of big files: a 4 MB file that is not a program is
/// ENOEXEC, read no further than its header (exec streams a program
/// instead of reading it whole into the kernel heap), and twenty tries
/// leave free memory where it was.
fn exec_big_nonelf() -> Check {
    let path = b"/utest-big.tmp\0";
    let fd = open_mode(path, sys::O_CREAT | sys::O_EXCL | sys::O_RDWR, 0o755).map_err(|_| "create /utest-big.tmp failed")?;
    let block = [0x5au8; 4096];
    for _ in 0..1024 {
        write_all(fd, &block).map_err(|_| "write failed")?;
    }
    let _ = close(fd);
    let free0 = uvmexp().map_err(|_| "sysctl failed")?[1];
    let mut bad = None;
    for _ in 0..20 {
        let e = execve(path, &[b"big\0"]);
        if e != Errno::ENOEXEC as i32 {
            bad = Some(e);
        }
    }
    let free1 = uvmexp().map_err(|_| "sysctl failed")?[1];
    let _ = unlink(path);
    if bad.is_some() {
        return Err("execve of a 4 MB non-program did not give ENOEXEC");
    }
    // Pages the file's own cache may take aside, nothing like 4 MB a try.
    if free1 + 256 < free0 {
        return Err("twenty failed execs of a 4 MB file took free memory away");
    }
    Ok(())
}

/// kern.maxproc: forking without waiting ends in EAGAIN, not a kernel
/// out of memory; the children reaped, fork works again. (The limit's
/// value is the boot's; with the default this forks a few hundred.)
fn fork_limit() -> Check {
    let mut kids = 0u32;
    let mut last = Ok(0);
    for _ in 0..2000 {
        match fork() {
            Ok(0) => {
                sleep_ms(50);
                exit(0)
            }
            Ok(_) => kids += 1,
            Err(e) => {
                last = Err(e);
                break;
            }
        }
    }
    for _ in 0..kids {
        wait4(-1).map_err(|_| "wait4 failed")?;
    }
    if last != Err(Errno::EAGAIN as i32) {
        return Err("2000 forks without a wait did not meet EAGAIN");
    }
    fork_and_reap()?.map_err(|_| "fork failed after the children were reaped")
}

/// Forks a child that exits at once and reaps it: Ok(Ok(())), Ok(Err(errno))
/// when fork fails, Err when wait4 does.
fn fork_and_reap() -> Result<Result<(), i32>, &'static str> {
    match fork() {
        Ok(0) => exit(0),
        Ok(pid) => wait4(pid as i32).map(|_| Ok(())).map_err(|_| "wait4 failed"),
        Err(e) => Ok(Err(e)),
    }
}

/// A forked child shares its parent's open files, offset included.
/// wait4's options, as OpenBSD's: WNOHANG gives 0 while the child runs
/// (and does not reap it), an unknown option bit is EINVAL, and a plain
/// wait then collects the child.
fn wait4_options() -> Check {
    let pid = match fork() {
        Ok(0) => {
            sleep_ms(50);
            exit(7)
        }
        Ok(pid) => pid,
        Err(_) => return Err("fork failed"),
    };
    let mut st = 0i32;
    let wait = |opts: u32, st: &mut i32| syscall(sys::SYS_WAIT4, [pid, st as *mut i32 as u32, opts, 0, 0, 0]);
    let nohang = wait(sys::WNOHANG, &mut st);
    let bad = wait(0x100, &mut st);
    let done = wait(0, &mut st);
    if nohang != Ok(0) {
        return Err("WNOHANG with the child running did not give 0");
    }
    if bad != Err(Errno::EINVAL as i32) {
        return Err("an unknown option bit was not EINVAL");
    }
    if done != Ok(pid) || wexitstatus(st) != 7 {
        return Err("the plain wait did not collect the child and its status");
    }
    Ok(())
}

fn fork_shares_offset() -> Check {
    let fd = open(b"/etc/motd\0", 0).map_err(|_| "open /etc/motd failed")?;
    match fork() {
        Ok(0) => {
            let mut b = [0u8; 6];
            exit(if read(fd, &mut b) == Ok(6) { 0 } else { 1 })
        }
        Ok(pid) => {
            let (_, st) = wait4(pid as i32).map_err(|_| "wait4 failed")?;
            let mut b = [0u8; 2];
            let r = read(fd, &mut b);
            let _ = close(fd);
            if wexitstatus(st) != 0 {
                return Err("the child could not read the inherited descriptor");
            }
            if r != Ok(2) || &b != b": " {
                return Err("the parent's offset did not move with the child's read");
            }
            Ok(())
        }
        Err(_) => Err("fork failed"),
    }
}

/// getdents on /bin, a few records at a time, lists the programs.
fn getdents_lists_bin() -> Check {
    let fd = open(b"/bin\0", 0).map_err(|_| "open /bin failed")?;
    let (mut hello, mut dot, mut calls) = (false, false, 0);
    let mut buf = [0u8; 48];
    loop {
        let n = getdents(fd, &mut buf).map_err(|_| "getdents failed")?;
        if n == 0 {
            break;
        }
        calls += 1;
        for_each_dirent(&buf[..n], |_, t, name| {
            hello |= name == b"hello" && t == 8;
            dot |= name == b"." && t == 4;
        });
    }
    let _ = close(fd);
    if !hello || !dot {
        return Err("getdents of /bin lacks '.' or 'hello' (with their types)");
    }
    if calls < 2 {
        return Err("a 48-byte buffer held all of /bin: the offset was not used");
    }
    Ok(())
}

fn exec_missing() -> Check {
    if execve(b"/bin/no-such-program\0", &[b"x\0"]) != Errno::ENOENT as i32 {
        return Err("exec of a missing file did not give ENOENT");
    }
    Ok(())
}

type NamedCheck = (&'static str, fn() -> Check);

const CHECKS: &[NamedCheck] = &[
    ("write_getpid", write_getpid),
    ("rlimit_data", rlimit_data),
    ("offsets_64bit", offsets_64bit),
    ("sync_huge_sparse", sync_huge_sparse),
    ("copyin_efault", copyin_efault),
    ("fork_exec_wait", fork_exec_wait),
    ("fork_copies_memory", fork_copies_memory),
    ("mmap_anon_zero_fill", mmap_anon_zero_fill),
    ("bad_address_kills", bad_address_kills),
    ("clock_preempts", clock_preempts),
    ("exec_missing", exec_missing),
    ("file_io", file_io),
    ("fork_shares_offset", fork_shares_offset),
    ("getdents_lists_bin", getdents_lists_bin),
    ("unlink_open_file", unlink_open_file),
    ("unlinked_mapped_file", unlinked_mapped_file),
    ("msync_then_munmap", msync_then_munmap),
    ("sync_writes_mapped", sync_writes_mapped),
    ("ftruncate_drops_partial_page", ftruncate_drops_partial_page),
    ("names_and_slashes", names_and_slashes),
    ("mmap_past_eof_sigbus", mmap_past_eof_sigbus),
    ("copies_through_mapped_files", copies_through_mapped_files),
    ("exec_big_nonelf", exec_big_nonelf),
    ("exec_limits", exec_limits),
    ("long_path_of_components", long_path_of_components),
    ("dot_and_removed_dirs", dot_and_removed_dirs),
    ("path_in_unread_mapped_page", path_in_unread_mapped_page),
    ("mmap_hack_maxprot", mmap_hack_maxprot),
    ("wait4_options", wait4_options),
];

/// `utest oom`: two children each touch as much anonymous memory as the
/// machine has. With no swap the kernel must kill at least one ("out of
/// swap") and live on; afterwards memory is back for a new process.
fn out_of_memory() -> Check {
    let npages = uvmexp().map_err(|_| "sysctl vm.uvmexp failed")?[0] as usize;
    let len = npages * 4096;
    let mut pids = [0u32; 2];
    for p in &mut pids {
        *p = match fork() {
            Ok(0) => {
                let Ok(m) = mmap_anon(len) else { exit(2) };
                for i in (0..len).step_by(4096) {
                    // SAFETY: inside the anonymous mapping just made.
                    unsafe { m.add(i).write_volatile(1) };
                }
                exit(0)
            }
            Ok(pid) => pid,
            Err(_) => return Err("fork failed"),
        };
    }
    let mut killed = 0;
    for &pid in &pids {
        let (_, st) = wait4(pid as i32).map_err(|_| "wait4 failed")?;
        if !wifexited(st) && wtermsig(st) == SIGKILL {
            killed += 1;
        }
    }
    if killed == 0 {
        return Err("twice the machine's memory touched and no process killed");
    }
    // The memory came back: a new process can touch a quarter of it.
    let pid = match fork() {
        Ok(0) => {
            let Ok(m) = mmap_anon(len / 4) else { exit(2) };
            for i in (0..len / 4).step_by(4096) {
                // SAFETY: inside the anonymous mapping just made.
                unsafe { m.add(i).write_volatile(1) };
            }
            exit(0)
        }
        Ok(pid) => pid,
        Err(_) => return Err("fork after the kill failed"),
    };
    let (_, st) = wait4(pid as i32).map_err(|_| "wait4 failed")?;
    if !wifexited(st) || wexitstatus(st) != 0 {
        return Err("after the kill a process could not touch a quarter of memory");
    }
    Ok(())
}

/// 500 fork/exit/wait cycles (the kernel measures its heap around them).
fn fork_cycles() -> Check {
    for _ in 0..500 {
        fork_and_reap()?.map_err(|_| "fork failed")?;
    }
    Ok(())
}

/// `utest pmap` (test=user-pmap): a read-only shared window on 16 file
/// pages and, in the same segment, written anonymous pages whose page
/// numbers match theirs modulo the hashed page table's 4096 PTEGs (its size
/// at 24 MiB, physmem=24M, on either CPU), or their
/// complement (whose primary PTEG is the file page's secondary), so that
/// twice as many mappings as slots share the file pages' PTEGs and evict
/// each other; the file pages are read again between
/// rounds (reloaded after eviction). Then the file is unmapped and closed:
/// its object persists, and must have no modified page.
fn pmap_probe() -> Check {
    const NPTEG: u32 = 4096;
    const FILEPAGES: u32 = 16;
    let path = b"/utest-pmap.tmp\0";
    let fd = open_mode(path, sys::O_CREAT | sys::O_TRUNC | sys::O_RDWR, 0o644).map_err(|_| "create /utest-pmap.tmp failed")?;
    write_all(fd, &[7u8; 4096]).and_then(|_| ftruncate(fd, (FILEPAGES * 4096) as u64)).map_err(|_| "write failed")?;
    close(fd).map_err(|_| "close failed")?;
    let anon_len = 0x0ff0_0000u32;
    // More than the default data limit: raised as `ulimit -d` would.
    setrlimit(sys::RLIMIT_DATA, 512 << 20, 512 << 20).map_err(|_| "setrlimit failed")?;
    let anon = mmap_anon(anon_len as usize).map_err(|_| "mmap of the anonymous region failed")? as u32;
    let fd = open(path, sys::O_RDONLY).map_err(|_| "open failed")?;
    let file = mmap_file((FILEPAGES * 4096) as usize, sys::PROT_READ, sys::MAP_SHARED, fd, 0).map_err(|_| "mmap of the file failed")? as u32;
    if file >> 28 != anon >> 28 {
        return Err("the file and the anonymous region are not in one segment");
    }
    let mut sum = 0u32;
    for round in 0..4u8 {
        for j in 0..FILEPAGES {
            let fpage = (file >> 12) + j;
            // SAFETY: a page of the file's read-only window.
            sum = sum.wrapping_add(unsafe { ((fpage << 12) as *const u8).read_volatile() } as u32);
            // Pages with the file page's PTEG as their primary, and pages
            // whose primary is its secondary (the complement of the hash).
            let first = anon >> 12;
            for class in [fpage % NPTEG, (NPTEG - 1) ^ (fpage % NPTEG)] {
                let mut p = first + (class.wrapping_sub(first) % NPTEG);
                while p < first + (anon_len >> 12) {
                    // SAFETY: a page of the private anonymous region.
                    unsafe { ((p << 12) as *mut u8).write_volatile(round) };
                    p += NPTEG;
                }
            }
        }
    }
    munmap(file as *mut u8, (FILEPAGES * 4096) as usize).map_err(|_| "munmap of the file failed")?;
    close(fd).map_err(|_| "close failed")?;
    munmap(anon as *mut u8, anon_len as usize).map_err(|_| "munmap of the anonymous region failed")?;
    unlink(path).map_err(|_| "unlink failed")?;
    // Page 0 starts with 7, the others are zeros: read four times.
    if sum != 4 * 7 {
        return Err("the file did not read back through its window");
    }
    Ok(())
}

/// `utest mapents`: one-page anonymous maps stop at RLIMIT_DATA (64 MB,
/// OpenBSD/macppc's DFLDSIZ) with ENOMEM; one-page windows on a file, which
/// no limit counts, stop with ENOMEM once the kernel's heap cannot hold
/// another entry. With the heap so full a fork of this process is ENOMEM
/// (its copy of the map would not fit), and after the unmapping memory is
/// back: a fork works again.
fn map_entries() -> Check {
    prefault_text();
    let enomem = Errno::ENOMEM as i32;
    let (mut n, mut lo, mut hi) = (0usize, u32::MAX, 0u32);
    loop {
        match mmap_anon(4096) {
            Ok(p) => {
                n += 1;
                lo = lo.min(p as u32);
                hi = hi.max(p as u32 + 4096);
            }
            Err(e) if e == enomem => break,
            Err(_) => return Err("a one-page anonymous mmap failed with another error than ENOMEM"),
        }
    }
    println!("utest: mapents: {n} one-page anonymous maps, then ENOMEM");
    // The program's own data and bss count too.
    if !(16_000..=16_384).contains(&n) {
        return Err("anonymous maps did not stop at RLIMIT_DATA (64 MB)");
    }
    munmap(lo as *mut u8, (hi - lo) as usize).map_err(|_| "munmap of the anonymous maps failed")?;
    let path = b"/utest-mapents.tmp\0";
    let fd = open_mode(path, sys::O_CREAT | sys::O_EXCL | sys::O_RDWR, 0o644).map_err(|_| "create failed")?;
    write_all(fd, &[7u8; 4096]).map_err(|_| "write failed")?;
    let (mut m, mut lo, mut hi) = (0usize, u32::MAX, 0u32);
    loop {
        match mmap_file(4096, sys::PROT_READ, sys::MAP_SHARED, fd, 0) {
            Ok(p) => {
                m += 1;
                lo = lo.min(p as u32);
                hi = hi.max(p as u32 + 4096);
            }
            Err(e) if e == enomem => break,
            Err(_) => return Err("a one-page file mmap failed with another error than ENOMEM"),
        }
    }
    // With the heap full even the console may say ENOMEM: the lines
    // come once the windows are gone.
    let forked = match fork_and_reap()? {
        Ok(()) => true,
        Err(e) if e == enomem => false,
        Err(_) => return Err("fork with the heap full failed with another error than ENOMEM"),
    };
    munmap(lo as *mut u8, (hi - lo) as usize).map_err(|_| "munmap of the file windows failed")?;
    println!("utest: mapents: {m} one-page windows on a file, then ENOMEM");
    println!("utest: mapents: fork with the heap full: {}", if forked { "done" } else { "ENOMEM" });
    // The address space holds 2^19 pages: fewer mean the heap said no.
    if m >= 500_000 {
        return Err("file windows stopped at the end of the address space, not at the heap");
    }
    close(fd).map_err(|_| "close failed")?;
    unlink(path).map_err(|_| "unlink failed")?;
    fork_and_reap()?.map_err(|_| "fork failed after the windows were unmapped")
}

/// `utest heapfull`: memory filled with dirty pages of a file on a full
/// disk (no pageout can write them) down to 1,024 free pages, then the
/// kernel heap filled with map entries until mmap says ENOMEM or 139 pages
/// are left, then system
/// calls that allocate in the kernel (create, mkdir, fork): each must
/// return, done or with ENOMEM/ENOSPC, never panic the kernel. Then it all
/// goes and memory comes back: a fork works.
fn heap_full() -> Check {
    prefault_text();
    let enomem = Errno::ENOMEM as i32;
    let len = uvmexp().map_err(|_| "sysctl failed")?[0] as usize * 4096 * 2;
    let path = b"/utest-heapfull.tmp\0";
    let fd = open_mode(path, sys::O_CREAT | sys::O_EXCL | sys::O_RDWR, 0o644).map_err(|_| "create failed")?;
    ftruncate(fd, len as u64).map_err(|_| "ftruncate failed")?;
    let win = b"/utest-heapwin.tmp\0";
    let wfd = open_mode(win, sys::O_CREAT | sys::O_EXCL | sys::O_RDWR, 0o644).map_err(|_| "create failed")?;
    write_all(wfd, &[7u8; 4096]).map_err(|_| "write failed")?;
    // A child forked now, before memory runs short, execs once the heap is
    // full: it waits for `hold` to go (a fork then may well be refused).
    let hold = b"/utest-hf-hold.tmp\0";
    close(open_mode(hold, sys::O_CREAT | sys::O_RDWR, 0o644).map_err(|_| "create failed")?).map_err(|_| "close failed")?;
    let waiter = match fork() {
        Ok(0) => {
            for _ in 0..6000 {
                match open_mode(hold, sys::O_RDONLY, 0) {
                    Err(e) if e == Errno::ENOENT as i32 => {
                        let e = execve(b"/bin/hello\0", &[b"hello\0", b"a\0", b"b\0"]);
                        exit(if e == enomem { 100 } else { 99 })
                    }
                    Ok(f) => {
                        let _ = close(f);
                    }
                    Err(_) => {}
                }
                sleep_ms(20);
            }
            exit(98)
        }
        Ok(pid) => pid,
        Err(_) => return Err("fork failed"),
    };
    let fill = b"/utest-heapfill.tmp\0";
    let (ffd, _) = fill_disk(fill)?;
    close(ffd).map_err(|_| "close failed")?;
    let p = mmap_file(len, sys::PROT_READ | sys::PROT_WRITE, sys::MAP_SHARED, fd, 0).map_err(|_| "mmap failed")?;
    // Store until 1,024 pages are left: no further. Stores could go on to
    // reserve_kernel + 1 free, but this program's text is its vnode's pages,
    // the only clean ones left for the pagedaemon to free for the stores,
    // and then nothing could bring them back to run it (as in OpenBSD).
    let mut stored = 0;
    for off in (0..len).step_by(4096) {
        if uvmexp().map_err(|_| "sysctl failed")?[1] <= 1024 {
            break;
        }
        // SAFETY: the mapping is len writable bytes of a file that long.
        unsafe { p.add(off).write_volatile(1) };
        stored += 1;
    }
    let free = uvmexp().map_err(|_| "sysctl failed")?[1];
    let (mut wins, mut lo, mut hi) = (0usize, u32::MAX, 0u32);
    // Until the kernel heap is full, or until it has taken all but 128 of
    // the pages left: past that the pagedaemon would free this program's
    // text for the heap (and for what comes next: creates, a fork), and
    // nothing could bring it back (as in OpenBSD).
    let mut heap_full = false;
    loop {
        if uvmexp().map_err(|_| "sysctl failed")?[1] <= 8 + 3 + 128 {
            break;
        }
        match mmap_file(4096, sys::PROT_READ, sys::MAP_SHARED, wfd, 0) {
            Ok(w) => {
                wins += 1;
                lo = lo.min(w as u32);
                hi = hi.max(w as u32 + 4096);
            }
            Err(e) if e == enomem => {
                heap_full = true;
                break;
            }
            Err(_) => return Err("a one-page file mmap failed with another error than ENOMEM"),
        }
    }
    let (mut made, mut refused) = (0, 0);
    let mut name = *b"/utest-hf-00.tmp\0";
    for i in 0..16u8 {
        name[10] = b'0' + i / 10;
        name[11] = b'0' + i % 10;
        match open_mode(&name, sys::O_CREAT | sys::O_RDWR, 0o644) {
            Ok(f) => {
                made += 1;
                close(f).map_err(|_| "close failed")?;
            }
            Err(e) if e == enomem || e == Errno::ENOSPC as i32 => refused += 1,
            Err(_) => return Err("create with memory full failed with another error than ENOMEM or ENOSPC"),
        }
    }
    match mkdir(b"/utest-hf-dir\0", 0o755) {
        Ok(()) => rmdir(b"/utest-hf-dir\0").map_err(|_| "rmdir failed")?,
        Err(e) if e == enomem || e == Errno::ENOSPC as i32 => {}
        Err(_) => return Err("mkdir with memory full failed with another error than ENOMEM or ENOSPC"),
    }
    let forked = match fork_and_reap()? {
        Ok(()) => true,
        Err(e) if e == enomem || e == Errno::EAGAIN as i32 => false,
        Err(_) => return Err("fork with memory full failed with another error than ENOMEM or EAGAIN"),
    };
    // exec too, by the child waiting since before: the program runs (hello
    // exits with its argument count) or execve says ENOMEM (the child then
    // exits 100); never a panic.
    let execd = match unlink(hold) {
        Ok(()) => match wait4(waiter as i32).map_err(|_| "wait4 failed")? {
            (_, st) if wifexited(st) && wexitstatus(st) == 3 => "done",
            (_, st) if wifexited(st) && wexitstatus(st) == 100 => "refused",
            _ => return Err("exec with memory full failed with another error than ENOMEM"),
        },
        Err(e) if e == enomem => "not tried (unlink refused)",
        Err(_) => return Err("unlink with memory full failed with another error than ENOMEM"),
    };
    // The console too may have said ENOMEM until now.
    munmap(lo as *mut u8, (hi - lo) as usize).map_err(|_| "munmap of the windows failed")?;
    println!("utest: heapfull: {stored} dirty pages no pageout can write, {free} pages free");
    if heap_full {
        println!("utest: heapfull: {wins} one-page windows until the kernel heap was full (ENOMEM)");
    } else {
        println!("utest: heapfull: {wins} one-page windows until the kernel heap had taken all but 128 of the free pages");
    }
    println!("utest: heapfull: then {made} files created, {refused} refused; fork {}; exec {execd}", if forked { "done" } else { "refused" });
    munmap(p, len).map_err(|_| "munmap failed")?;
    ftruncate(fd, 0).map_err(|_| "ftruncate to 0 failed")?;
    close(fd).map_err(|_| "close failed")?;
    close(wfd).map_err(|_| "close failed")?;
    for f in [&path[..], &win[..], &fill[..]] {
        unlink(f).map_err(|_| "unlink failed")?;
    }
    if execd.starts_with("not tried") {
        unlink(hold).map_err(|_| "unlink failed")?;
        wait4(waiter as i32).map_err(|_| "wait4 failed")?;
    }
    for i in 0..16u8 {
        name[10] = b'0' + i / 10;
        name[11] = b'0' + i % 10;
        let _ = unlink(&name);
    }
    if wins == 0 {
        return Err("not one window: the heap was full before the test began");
    }
    fork_and_reap()?.map_err(|_| "fork failed once the dirty pages were gone")
}

/// `utest forkcow`: fork shares anonymous memory copy-on-write, as
/// OpenBSD's uvmspace_fork and amap_copy do. A parent with 2 MiB of
/// written anonymous memory forks until kern.maxproc says EAGAIN (a copy
/// of every page per child would run memory out first: ENOMEM); then it
/// writes every page again while the children sleep, and each child must
/// still read the values of the fork, write its own page and read it back.
fn fork_cow() -> Check {
    const PAGES: usize = 512;
    let m = mmap_anon(PAGES * 4096).map_err(|_| "mmap failed")?;
    for i in 0..PAGES {
        // SAFETY: inside the anonymous mapping just made.
        unsafe { m.add(i * 4096).write_volatile(i as u8 ^ 0x5a) };
    }
    let free0 = uvmexp().map_err(|_| "sysctl failed")?[1];
    let mut kids = 0u32;
    let last = loop {
        match fork() {
            Ok(0) => {
                sleep_ms(300);
                for i in 0..PAGES {
                    // SAFETY: the child's copy of the mapping.
                    if unsafe { m.add(i * 4096).read_volatile() } != i as u8 ^ 0x5a {
                        exit(1);
                    }
                }
                // SAFETY: as above; this write copies the page.
                unsafe { m.write_volatile(0xc0) };
                exit(if unsafe { m.read_volatile() } == 0xc0 { 0 } else { 2 })
            }
            Ok(_) => kids += 1,
            Err(e) => break e,
        }
    };
    let free1 = uvmexp().map_err(|_| "sysctl failed")?[1];
    for i in 0..PAGES {
        // SAFETY: the parent's mapping; each write copies a shared page.
        unsafe { m.add(i * 4096).write_volatile(0xee) };
    }
    let mut bad = 0;
    for _ in 0..kids {
        let (_, st) = wait4(-1).map_err(|_| "wait4 failed")?;
        if !wifexited(st) || wexitstatus(st) != 0 {
            bad += 1;
        }
    }
    println!(
        "utest: forkcow: {kids} children of a parent with {PAGES} written pages, then {}; {} pages free before, {} after",
        if last == Errno::EAGAIN as i32 { "EAGAIN" } else { "another error" },
        free0,
        free1
    );
    if last != Errno::EAGAIN as i32 {
        return Err("forks stopped with another error than EAGAIN (kern.maxproc)");
    }
    if bad > 0 {
        return Err("a child did not read the values of the fork, or its own write");
    }
    for i in 0..PAGES {
        // SAFETY: the parent's mapping.
        if unsafe { m.add(i * 4096).read_volatile() } != 0xee {
            return Err("the parent lost its own write");
        }
    }
    munmap(m, PAGES * 4096).map_err(|_| "munmap failed")
}

/// 64-bit file offsets through every call that takes one, in OpenBSD's
/// register pairs: a sparse file of 4 GiB + 96 KiB, written with pwrite
/// past 4 GiB, read back with pread, read(2) after lseek, and a mapping
/// at that offset; fstat's size and lseek's result above 2^32; negative
/// offsets are EINVAL, and so is a mapping whose offset wraps.
fn offsets_64bit() -> Check {
    const SIZE: u64 = 0x1_0001_8000;
    const AT: u64 = 0x1_0001_0000;
    let path = b"/utest-off64.tmp\0";
    let fd = open_mode(path, sys::O_CREAT | sys::O_EXCL | sys::O_RDWR, 0o644).map_err(|_| "create failed")?;
    ftruncate(fd, SIZE).map_err(|_| "ftruncate past 4 GiB failed")?;
    if fstat(fd).map(|st| st.2) != Ok(SIZE) {
        return Err("fstat's size is not the 4 GiB + 96 KiB ftruncate gave");
    }
    if lseek(fd, 0, sys::SEEK_END) != Ok(SIZE) {
        return Err("lseek to the end did not return 4 GiB + 96 KiB");
    }
    if pwrite(fd, b"off64", AT + 10) != Ok(5) {
        return Err("pwrite past 4 GiB failed");
    }
    if lseek(fd, 0, sys::SEEK_CUR) != Ok(SIZE) {
        return Err("pwrite moved the file offset");
    }
    let mut b = [0u8; 5];
    if pread(fd, &mut b, AT + 10) != Ok(5) || &b != b"off64" {
        return Err("pread past 4 GiB did not read what pwrite wrote");
    }
    let mut c = [0u8; 5];
    if lseek(fd, (AT + 10) as i64, sys::SEEK_SET) != Ok(AT + 10) || read(fd, &mut c) != Ok(5) || &c != b"off64" {
        return Err("read(2) after lseek past 4 GiB did not read what pwrite wrote");
    }
    let m = mmap_file(8192, sys::PROT_READ, sys::MAP_SHARED, fd, AT).map_err(|_| "mmap at an offset past 4 GiB failed")?;
    // SAFETY: the mapping is 8192 readable bytes of the file.
    let seen = unsafe { core::slice::from_raw_parts(m.add(10), 5) } == b"off64";
    munmap(m, 8192).map_err(|_| "munmap failed")?;
    if !seen {
        return Err("a mapping at an offset past 4 GiB does not show the bytes there");
    }
    let einval = Err(Errno::EINVAL as i32);
    if lseek(fd, -1, sys::SEEK_SET).map(|_| ()) != einval || lseek(fd, -(SIZE as i64) - 1, sys::SEEK_END).map(|_| ()) != einval {
        return Err("lseek to a negative offset was not EINVAL");
    }
    if ftruncate(fd, u64::MAX).map(|_| ()) != einval || pread(fd, &mut b, u64::MAX).map(|_| ()) != einval {
        return Err("a negative length or offset was not EINVAL");
    }
    if mmap_file(8192, sys::PROT_READ, sys::MAP_SHARED, fd, 0xffff_ffff_ffff_f000).map(|_| ()) != einval {
        return Err("a mapping at a negative offset was not EINVAL");
    }
    ftruncate(fd, 0).map_err(|_| "ftruncate to 0 failed")?;
    close(fd).map_err(|_| "close failed")?;
    // pwrite on an O_APPEND descriptor writes at its offset, not the end.
    let fd = open_mode(path, sys::O_RDWR | sys::O_APPEND, 0).map_err(|_| "open O_APPEND failed")?;
    write_all(fd, b"0123456789").map_err(|_| "write failed")?;
    let placed = pwrite(fd, b"ab", 2) == Ok(2) && fstat(fd).map(|st| st.2) == Ok(10) && pread(fd, &mut b, 0) == Ok(5) && &b == b"01ab4";
    close(fd).map_err(|_| "close failed")?;
    unlink(path).map_err(|_| "unlink failed")?;
    if !placed {
        return Err("pwrite on an O_APPEND descriptor did not write at its offset");
    }
    Ok(())
}

/// A file of holes 1 TiB long, mapped shared and stored into at both ends,
/// then msync'd and synced: the flushes visit its two resident pages, not
/// its 2^28 offsets (which took the kernel minutes without a switch).
fn sync_huge_sparse() -> Check {
    const TIB: u64 = 1 << 40;
    let path = b"/utest-tib.tmp\0";
    let fd = open_mode(path, sys::O_CREAT | sys::O_EXCL | sys::O_RDWR, 0o644).map_err(|_| "create failed")?;
    ftruncate(fd, TIB).map_err(|_| "ftruncate to 1 TiB failed")?;
    let lo = mmap_file(4096, sys::PROT_READ | sys::PROT_WRITE, sys::MAP_SHARED, fd, 0).map_err(|_| "mmap of the first page failed")?;
    let hi = mmap_file(4096, sys::PROT_READ | sys::PROT_WRITE, sys::MAP_SHARED, fd, TIB - 4096).map_err(|_| "mmap of the last page failed")?;
    // SAFETY: each mapping is one writable page of the file.
    unsafe {
        lo.write_volatile(1);
        hi.add(4095).write_volatile(2);
    }
    let t0 = uptime_ms();
    msync(lo, 4096).map_err(|_| "msync failed")?;
    sync();
    let ms = uptime_ms() - t0;
    munmap(lo, 4096).map_err(|_| "munmap failed")?;
    munmap(hi, 4096).map_err(|_| "munmap failed")?;
    let mut b = [0u8; 1];
    let last = pread(fd, &mut b, TIB - 1) == Ok(1) && b[0] == 2;
    ftruncate(fd, 0).map_err(|_| "ftruncate to 0 failed")?;
    close(fd).map_err(|_| "close failed")?;
    unlink(path).map_err(|_| "unlink failed")?;
    if !last {
        return Err("the store into the last page of 1 TiB did not reach the file");
    }
    if ms > 2000 {
        return Err("msync and sync of a 1 TiB file of holes took over 2 s of guest time");
    }
    Ok(())
}

/// RLIMIT_DATA as OpenBSD's dosetrlimit: 64 MB soft and 512 MB hard at
/// first, a soft limit above the hard one is EINVAL, both are clamped to
/// MAXDSIZ, and an anonymous mmap over the soft limit is ENOMEM; a child
/// inherits the limit.
fn rlimit_data() -> Check {
    let d = sys::RLIMIT_DATA;
    if getrlimit(d) != Ok((64 << 20, 512 << 20)) {
        return Err("the data limit is not DFLDSIZ/MAXDSIZ (64 MB, 512 MB)");
    }
    if setrlimit(d, 2 << 20, 1 << 20) != Err(Errno::EINVAL as i32) {
        return Err("a soft limit above the hard one was not EINVAL");
    }
    setrlimit(d, 4 << 30, 4 << 30).map_err(|_| "setrlimit failed")?;
    if getrlimit(d) != Ok((512 << 20, 512 << 20)) {
        return Err("limits above MAXDSIZ were not clamped to it");
    }
    setrlimit(d, 1 << 20, 512 << 20).map_err(|_| "setrlimit failed")?;
    let refused = mmap_anon(2 << 20) == Err(Errno::ENOMEM as i32);
    let inherited = match fork() {
        Ok(0) => exit(if getrlimit(d) == Ok((1 << 20, 512 << 20)) { 0 } else { 1 }),
        Ok(pid) => wait4(pid as i32).map(|(_, st)| wifexited(st) && wexitstatus(st) == 0).map_err(|_| "wait4 failed")?,
        Err(_) => return Err("fork failed"),
    };
    setrlimit(d, 64 << 20, 512 << 20).map_err(|_| "setrlimit failed")?;
    if !refused {
        return Err("a 2 MB anonymous mmap under a 1 MB data limit was not ENOMEM");
    }
    if !inherited {
        return Err("the child did not inherit the data limit");
    }
    Ok(())
}

/// The checks run alone, by name (`utest oom`, `utest maxproc`): each
/// needs a boot of its own (little memory, a low kern.maxproc).
const ALONE: &[NamedCheck] = &[
    ("oom", out_of_memory),
    ("maxproc", fork_limit),
    ("forks", fork_cycles),
    ("pmap", pmap_probe),
    ("syncmap", syncmap_halt),
    ("enospc", pageout_enospc),
    ("wedge", memory_wedge),
    ("msyncfull", msync_enospc),
    ("mapents", map_entries),
    ("heapfull", heap_full),
    ("forkcow", fork_cow),
];

fn main(args: Args) -> i32 {
    if let Some((name, f)) = args.get(1).and_then(|a| ALONE.iter().find(|(n, _)| *n == a)) {
        return match f() {
            Ok(()) => {
                println!("utest: {name} ok");
                0
            }
            Err(why) => {
                println!("utest: {name} FAILED: {why}");
                1
            }
        };
    }
    let mut failed = 0;
    for (name, f) in CHECKS {
        match f() {
            Ok(()) => println!("utest: {name} ok"),
            Err(why) => {
                println!("utest: {name} FAILED: {why}");
                failed += 1;
            }
        }
    }
    failed
}

userland::entry!(main);
