//! rd, the ramdisk (OpenBSD dev/rd.c): a block device over the FFS image
//! the boot stub handed over. A transfer is not done when `rdstrategy`
//! returns: it completes one or more clock ticks later (a seeded, bounded
//! delay) from a soft interrupt at IPL_BIO, as a disk's completion
//! interrupt would, so `biowait` really sleeps and the delays replay from
//! the seed.

use crate::arch::intr::{self, Ipl};
use crate::kern::kern_clock;
use crate::kern::kern_mutex::Mutex;
use crate::kern::vfs_bio::{self, BFlags, BufId, DEV_BSIZE};
use crate::sys::errno::Errno;
use alloc::collections::VecDeque;
use core::sync::atomic::{AtomicU32, Ordering};
use kcore::random::Rng;

/// Most ticks a transfer waits beyond the next one.
const MAXDELAY: u32 = 2;

struct RdSoftc {
    base: u32,
    size: u32,
    rng: Rng,
    /// Transfers in progress, in the order they complete: (buffer, tick due).
    queue: VecDeque<(BufId, u32)>,
}

/// IPL_CLOCK: the clock interrupt looks at the queue.
static RD: Mutex<Option<RdSoftc>> = Mutex::new(Ipl::Clock, None);
static READS: AtomicU32 = AtomicU32::new(0);
static WRITES: AtomicU32 = AtomicU32::new(0);

/// Attaches rd0 to the image at [base, base + size).
pub fn rd_attach(base: u32, size: u32, seed: u64) {
    *RD.lock() = Some(RdSoftc { base, size, rng: Rng::new(seed ^ 0x7264_7264), queue: VecDeque::new() });
}

/// Bytes in rd0.
pub fn rd_size() -> u32 {
    RD.lock().as_ref().map_or(0, |sc| sc.size)
}

/// (reads, writes) done since boot.
pub fn rd_counts() -> (u32, u32) {
    (READS.load(Ordering::Relaxed), WRITES.load(Ordering::Relaxed))
}

/// Starts the transfer a busy buffer describes; biodone ends it later.
pub fn rdstrategy(bp: BufId) {
    let now = kern_clock::ticks();
    let mut g = RD.lock();
    let Some(sc) = g.as_mut() else {
        drop(g);
        return vfs_bio::biodone(bp, Err(Errno::ENXIO));
    };
    let last = sc.queue.back().map_or(now, |&(_, due)| due);
    let due = last.max(now).wrapping_add(1 + sc.rng.below(MAXDELAY + 1));
    sc.queue.push_back((bp, due));
    crate::kern::kern_sched::io_start();
}

/// From hardclock: asks for the completion interrupt when a transfer is due.
pub fn rd_tick(now: u32) {
    let Some(g) = RD.try_lock() else { return };
    if g.as_ref().and_then(|sc| sc.queue.front()).is_some_and(|&(_, due)| (now.wrapping_sub(due) as i32) >= 0) {
        intr::softintr_schedule(intr::SIR_BIO);
    }
}

/// The completion interrupt (IPL_BIO): moves the data of every transfer
/// that is due between the image and its buffer, and calls biodone.
pub fn rdintr() {
    let now = kern_clock::ticks();
    loop {
        let (bp, base, size) = {
            let mut g = RD.lock();
            let Some(sc) = g.as_mut() else { return };
            match sc.queue.front() {
                Some(&(bp, due)) if (now.wrapping_sub(due) as i32) >= 0 => {
                    sc.queue.pop_front();
                    (bp, sc.base, sc.size)
                }
                _ => return,
            }
        };
        let r = vfs_bio::with_buf(bp, |b| {
            let off = b.b_blkno.checked_mul(DEV_BSIZE as u64).filter(|&o| o + b.b_data.len() as u64 <= size as u64);
            let Some(off) = off else { return Err(Errno::EINVAL) };
            let disk = (base as u64 + off) as *mut u8;
            // SAFETY: [off, off + len) lies inside the image, which is RAM
            // mapped 1:1, marked in use at boot (never managed), and written
            // only here; the buffer is busy, so nothing else touches it.
            unsafe {
                if b.b_flags.contains(BFlags::B_READ) {
                    core::ptr::copy_nonoverlapping(disk, b.b_data.as_mut_ptr(), b.b_data.len());
                } else {
                    core::ptr::copy_nonoverlapping(b.b_data.as_ptr(), disk, b.b_data.len());
                }
            }
            let c = if b.b_flags.contains(BFlags::B_READ) { &READS } else { &WRITES };
            c.fetch_add(1, Ordering::Relaxed);
            Ok(())
        });
        crate::kern::kern_sched::io_done();
        vfs_bio::biodone(bp, r);
    }
}
