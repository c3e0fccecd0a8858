//! Self-tests of rd and the buffer cache: reads that really sleep until
//! the completion interrupt, writes that reach the image, busy buffers that
//! make others wait, the size limit writing delayed writes, and splbio
//! holding completions back.

use crate::arch::{clock, cpu, intr};
use crate::dev::rd;
use crate::kern::init_main;
use crate::kern::kern_clock::ticks;
use crate::kern::kern_kthread::kthread_create;
use crate::kern::kern_synch::{tsleep, wakeup};
use crate::kern::vfs_bio::{self, BFlags, ROOTVP};
use crate::ktest::proc::{KTest, TestResult};
use crate::ufs::ffs::ffs_vfsops::rootump;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, Ordering};
use ffs::DeviceMut;

pub const SUITE: &[KTest] = &[
    ("rd_bread_sleeps", test_rd_bread_sleeps),
    ("bwrite_reaches_image", test_bwrite_reaches_image),
    ("getblk_busy_waits", test_getblk_busy_waits),
    ("bufcache_limit_writes_delwri", test_bufcache_limit),
    ("splbio_holds_completion", test_splbio_holds_completion),
    ("flush_during_edit", test_flush_during_edit),
];

/// The tests' buffers are the mounted file system's device buffers, of its
/// block size: a block of the device is cached in one size only.
fn bsize() -> usize {
    rootump().devbsize()
}

fn sectors() -> u64 {
    (bsize() / 512) as u64
}

/// A block number near the end of the image, past what makefs filled.
fn scratch_blkno(i: u64) -> u64 {
    crate::sys::conf::bdev_size(crate::sys::conf::rootdev()) / 512 / sectors() * sectors() - sectors() * (i + 1)
}

/// The image's bytes of a block, read straight from memory.
fn image_block(blkno: u64) -> &'static mut [u8] {
    let bi = init_main::bootinfo();
    // SAFETY: the block lies inside the image (RAM mapped 1:1, never
    // managed); the tests use blocks nothing else reads or writes.
    unsafe { core::slice::from_raw_parts_mut((bi.ramdisk.start as u64 + blkno * 512) as *mut u8, bsize()) }
}

fn test_rd_bread_sleeps() -> TestResult {
    // Forget what the mounted file system has cached, so this reads.
    vfs_bio::rootvp_invalbuf().map_err(|e| alloc::format!("vinvalbuf: {e}"))?;
    let s0 = vfs_bio::biowait_sleeps();
    let (r0, _) = rd::rd_counts();
    // The image's superblock is at byte 8192.
    let (sb_blkno, m) = (8192 / bsize() as u64 * sectors(), 8192 % bsize() + 1372);
    let bp = vfs_bio::bread(ROOTVP, sb_blkno, bsize()).map_err(|e| alloc::format!("bread: {e}"))?;
    let magic = vfs_bio::with_buf(bp, |b| u32::from_be_bytes([b.b_data[m], b.b_data[m + 1], b.b_data[m + 2], b.b_data[m + 3]]));
    vfs_bio::brelse(bp);
    check!(magic == 0x1954_0119, "superblock magic read through rd is {magic:#x}");
    check!(vfs_bio::biowait_sleeps() > s0, "bread did not sleep in biowait");
    check!(rd::rd_counts().0 == r0 + 1, "rd did one read? {} -> {}", r0, rd::rd_counts().0);
    let s1 = vfs_bio::biowait_sleeps();
    let bp = vfs_bio::bread(ROOTVP, sb_blkno, bsize()).map_err(|e| alloc::format!("bread: {e}"))?;
    vfs_bio::brelse(bp);
    check!(vfs_bio::biowait_sleeps() == s1 && rd::rd_counts().0 == r0 + 1, "a cached block was read again");
    Ok(())
}

fn test_bwrite_reaches_image() -> TestResult {
    let blk = scratch_blkno(0);
    let orig = image_block(blk).to_vec();
    let bp = vfs_bio::bread(ROOTVP, blk, bsize()).map_err(|e| alloc::format!("bread: {e}"))?;
    vfs_bio::with_buf(bp, |b| b.b_data.iter_mut().enumerate().for_each(|(i, x)| *x = (i * 7) as u8));
    vfs_bio::bwrite(bp).map_err(|e| alloc::format!("bwrite: {e}"))?;
    let landed = image_block(blk).iter().enumerate().all(|(i, &x)| x == (i * 7) as u8);
    vfs_bio::rootvp_invalbuf().map_err(|e| alloc::format!("vinvalbuf: {e}"))?;
    let bp = vfs_bio::bread(ROOTVP, blk, bsize()).map_err(|e| alloc::format!("bread: {e}"))?;
    let back = vfs_bio::with_buf(bp, |b| b.b_data.iter().enumerate().all(|(i, &x)| x == (i * 7) as u8));
    vfs_bio::with_buf(bp, |b| b.b_data.copy_from_slice(&orig));
    vfs_bio::bwrite(bp).map_err(|e| alloc::format!("bwrite: {e}"))?;
    check!(landed, "bwrite returned before the data was in the image");
    check!(back, "the block read back differs from what was written");
    check!(image_block(blk) == &orig[..], "restoring the block failed");
    Ok(())
}

fn test_getblk_busy_waits() -> TestResult {
    let blk = scratch_blkno(1);
    let step = Arc::new(AtomicU32::new(0));
    let s = step.clone();
    let chan = Arc::as_ptr(&step) as usize;
    kthread_create("ktholder", move || {
        let bp = vfs_bio::getblk(ROOTVP, blk, bsize());
        s.store(1, Ordering::Relaxed);
        wakeup(chan);
        let _ = tsleep(chan + 1, "kthold", 3);
        s.store(2, Ordering::Relaxed);
        vfs_bio::brelse(bp);
    })
    .ok_or("no memory for a thread")?;
    while step.load(Ordering::Relaxed) == 0 {
        let _ = tsleep(chan, "ktwait", 10);
    }
    let bp = vfs_bio::getblk(ROOTVP, blk, bsize());
    let seen = step.load(Ordering::Relaxed);
    let busy = vfs_bio::with_buf(bp, |b| b.b_flags.contains(BFlags::B_BUSY));
    vfs_bio::with_buf(bp, |b| b.b_flags |= BFlags::B_INVAL);
    vfs_bio::brelse(bp);
    check!(seen == 2, "getblk returned a buffer another thread had busy (holder at step {seen})");
    check!(busy, "getblk returned a buffer that is not busy");
    Ok(())
}

fn test_bufcache_limit() -> TestResult {
    const N: u64 = 6;
    let origs: alloc::vec::Vec<_> = (0..N).map(|i| image_block(scratch_blkno(2 + i)).to_vec()).collect();
    let old = vfs_bio::bufcache_setlimit(2 * bsize());
    let (_, w0) = rd::rd_counts();
    for i in 0..N {
        let bp = vfs_bio::getblk(ROOTVP, scratch_blkno(2 + i), bsize());
        vfs_bio::with_buf(bp, |b| b.b_data.fill(0xa0 + i as u8));
        vfs_bio::bdwrite(bp);
    }
    let (_, w1) = rd::rd_counts();
    let r = vfs_bio::rootvp_invalbuf();
    let (_, w2) = rd::rd_counts();
    vfs_bio::bufcache_setlimit(old);
    let ok = (0..N).all(|i| image_block(scratch_blkno(2 + i)).iter().all(|&x| x == 0xa0 + i as u8));
    for (i, o) in origs.iter().enumerate() {
        image_block(scratch_blkno(2 + i as u64)).copy_from_slice(o);
    }
    r.map_err(|e| alloc::format!("vinvalbuf: {e}"))?;
    check!(w1 - w0 >= N as u32 - 2, "a 2-buffer cache took {N} delayed writes with only {} written", w1 - w0);
    check!(w2 - w0 == N as u32, "{} writes for {N} delayed-write blocks", w2 - w0);
    check!(ok, "a delayed write did not reach the image");
    Ok(())
}

fn test_splbio_holds_completion() -> TestResult {
    let blk = scratch_blkno(9);
    let orig = image_block(blk).to_vec();
    let bp = vfs_bio::getblk(ROOTVP, blk, bsize());
    vfs_bio::with_buf(bp, |b| b.b_data.copy_from_slice(&orig));
    let (_, w0) = rd::rd_counts();
    let held;
    {
        let _s = intr::splbio();
        vfs_bio::bawrite(bp);
        let end = cpu::mftb() + 5 * clock::tb_per_tick() as u64;
        let t0 = ticks();
        while cpu::mftb() < end {
            core::hint::spin_loop();
        }
        held = rd::rd_counts().1 == w0 && ticks() > t0;
    }
    let done = rd::rd_counts().1 == w0 + 1;
    check!(held, "a completion ran at IPL_BIO (or the clock stopped)");
    check!(done, "lowering the level did not run the held-back completion");
    Ok(())
}

/// `test=rd-mark`: writes a marker into the last device buffer of rd0 (the
/// file system's block size, at least 4 KiB) and leaves it there, for the
/// host to find in the image it saves at halt: the byte at device offset
/// `o` is `MARK[o % MARK.len()]`, whatever the buffer size.
pub fn ktest_rd_mark() {
    const MARK: &[u8] = b"ppcbsd rd0 write\n";
    let blk = scratch_blkno(0);
    let bp = match vfs_bio::bread(ROOTVP, blk, bsize()) {
        Ok(bp) => bp,
        Err(e) => panic!("rd-mark: bread: {e}"),
    };
    let base = blk as usize * 512;
    vfs_bio::with_buf(bp, |b| b.b_data.iter_mut().enumerate().for_each(|(i, x)| *x = MARK[(base + i) % MARK.len()]));
    if let Err(e) = vfs_bio::bwrite(bp) {
        panic!("rd-mark: bwrite: {e}");
    }
    crate::printf!("rd-mark: wrote block {blk}\n");
}

/// A sync that meets a delayed write while its owner edits it in place
/// (BufDevice::edit_at, as a cylinder group is edited, with the data taken
/// out of the busy buffer) waits for it and writes it: the size it asks
/// for comes from b_bufsize, not from the data, which is out meanwhile.
fn test_flush_during_edit() -> TestResult {
    let blk = scratch_blkno(10);
    let orig = image_block(blk).to_vec();
    rootump().device().write_at(blk * 512, &orig).map_err(|e| alloc::format!("write_at: {e}"))?;
    let step = Arc::new(AtomicU32::new(0));
    let flushed = Arc::new(AtomicU32::new(0));
    let (s, f) = (step.clone(), flushed.clone());
    let chan = Arc::as_ptr(&step) as usize;
    kthread_create("ktsync", move || {
        while s.load(Ordering::Relaxed) == 0 {
            let _ = tsleep(chan, "ktwait", 10);
        }
        f.store(if vfs_bio::bflush(ROOTVP, blk) == Ok(true) { 1 } else { 2 }, Ordering::Relaxed);
        s.store(2, Ordering::Relaxed);
        wakeup(chan + 1);
    })
    .ok_or("no memory for a thread")?;
    let seen = rootump()
        .device()
        .edit_at(blk * 512, 16, |_| {
            step.store(1, Ordering::Relaxed);
            wakeup(chan);
            // Long enough for the flusher to find the buffer busy.
            let _ = tsleep(chan + 2, "ktedit", 3);
            Ok((flushed.load(Ordering::Relaxed), false))
        })
        .map_err(|e| alloc::format!("edit_at: {e}"))?;
    while step.load(Ordering::Relaxed) != 2 {
        let _ = tsleep(chan + 1, "ktwait", 10);
    }
    check!(seen == 0, "the flush did not wait for the buffer being edited");
    check!(flushed.load(Ordering::Relaxed) == 1, "the flush did not write the delayed write");
    check!(image_block(blk) == &orig[..], "the block changed");
    Ok(())
}
