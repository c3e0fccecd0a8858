//! rd, the ramdisk (OpenBSD dev/rd.c): block devices over the FFS images
//! the boot stub handed over: rd0 the boot image, rd1 a user's image
//! when one came after it (`rd1.offset`). A transfer is not done when
//! `rdstrategy` returns: like a disk serving one request at a time, it
//! completes a seeded latency (`rd.latency=MIN-MAX` µs) after the one
//! before it on the same unit ends, when a clockintr event asks for the
//! completion soft interrupt at IPL_BIO, as a disk's completion interrupt
//! would. So `biowait` really sleeps, and the latencies replay from the
//! seed.

use crate::arch::clock;
use crate::arch::intr::{self, Ipl, Sir};
use crate::kern::kern_clockintr::{self, ClockIntr};
use crate::kern::kern_mutex::Mutex;
use crate::kern::vfs_bio::{self, BFlags, BufId, DEV_BSIZE};
use crate::sys::conf::{self, Dev};
use crate::sys::errno::Errno;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};
use kcore::random::Rng;
use spin::Once;

struct RdSoftc {
    base: u32,
    size: u32,
    rng: Rng,
    /// A transfer's latency, inclusive, in microseconds.
    latency_us: (u32, u32),
    /// Transfers in progress, in the order they complete.
    queue: VecDeque<Xfer>,
}

/// One transfer: a buffer, and the buffers its cluster carries after it
/// on the disk (`b_cluster`), due at a time-base value.
struct Xfer {
    bp: BufId,
    cluster: Vec<BufId>,
    due: u64,
}

/// Units: rd0 and rd1.
pub const NRD: usize = 2;

/// IPL_BIO: the completion interrupt takes it (the clockintr event only
/// schedules that interrupt). Each unit is a disk of its own, with its own
/// queue; one event serves both, armed for the earlier due transfer.
static RD: Mutex<[Option<RdSoftc>; NRD]> = Mutex::new(Ipl::Bio, [None, None]);
/// The completion interrupt and the event that asks for it.
static RD_INTR: Once<(Sir, ClockIntr)> = Once::new();
static READS: AtomicU32 = AtomicU32::new(0);
static WRITES: AtomicU32 = AtomicU32::new(0);

/// Attaches rd`unit` to the image at [base, base + size).
pub fn rd_attach(unit: usize, base: u32, size: u32, seed: u64, latency_us: (u32, u32)) {
    RD_INTR.call_once(|| (intr::softintr_establish(Ipl::Bio, rdintr), kern_clockintr::clockintr_establish(rd_clockintr)));
    // rd0's latencies draw as they did when it was the only unit.
    let rng = Rng::new(seed ^ 0x7264_7264 ^ (unit as u64) << 32);
    RD.lock()[unit] = Some(RdSoftc { base, size, rng, latency_us, queue: VecDeque::new() });
}

fn unit(dev: Dev) -> usize {
    conf::minor(dev) as usize
}

/// d_psize: bytes in the unit; 0 when it is not attached.
pub fn rdsize(dev: Dev) -> u64 {
    RD.lock().get(unit(dev)).and_then(|sc| sc.as_ref()).map_or(0, |sc| sc.size as u64)
}

/// d_contents: the image in place, while no transfer is in flight.
pub fn rdcontents(dev: Dev, f: &mut dyn FnMut(&[u8])) -> bool {
    let (base, size) = match RD.lock().get(unit(dev)).and_then(|sc| sc.as_ref()) {
        Some(sc) if sc.queue.is_empty() => (sc.base, sc.size),
        _ => return false,
    };
    // SAFETY: the image is RAM mapped 1:1 and never managed; only rdintr
    // writes it, for a queued transfer, and the queue was empty. The caller
    // starts no transfer while `f` runs (Bdevsw::d_contents), and the slice
    // does not outlive the call.
    let img = unsafe { core::slice::from_raw_parts(base as *const u8, size as usize) };
    f(img);
    true
}

/// (reads, writes) done since boot.
pub fn rd_counts() -> (u32, u32) {
    (READS.load(Ordering::Relaxed), WRITES.load(Ordering::Relaxed))
}

/// d_strategy: starts the transfer a busy buffer describes (`b_bcount`
/// bytes at device block `b_dblkno`, then its cluster's buffers after
/// them); it completes its latency after the later of now and the end of
/// the transfer queued before it: one latency for the whole transfer, as
/// a disk's seek and rotation come once per request.
pub fn rdstrategy(dev: Dev, bp: BufId) {
    let cluster = vfs_bio::with_buf(bp, |b| core::mem::take(&mut b.b_cluster));
    let mut g = RD.lock();
    let Some(sc) = g.get_mut(unit(dev)).and_then(|sc| sc.as_mut()) else {
        drop(g);
        let _s = intr::splbio();
        for &xbp in &cluster {
            vfs_bio::biodone(xbp, Err(Errno::ENXIO));
        }
        return vfs_bio::biodone(bp, Err(Errno::ENXIO));
    };
    let (lo, hi) = sc.latency_us;
    let us = lo + sc.rng.below(hi - lo + 1);
    let start = sc.queue.back().map_or(0, |x| x.due).max(crate::arch::cpu::mftb());
    let due = start + clock::us_to_tb(us);
    sc.queue.push_back(Xfer { bp, cluster, due });
    if sc.queue.len() == 1 {
        rd_rearm(&g);
    }
    crate::kern::kern_sched::io_start();
}

/// Arms the event for the earliest transfer due on any unit.
fn rd_rearm(units: &[Option<RdSoftc>; NRD]) {
    if let Some(due) = units.iter().flatten().filter_map(|sc| sc.queue.front().map(|x| x.due)).min() {
        kern_clockintr::clockintr_schedule(rd_intr().1, due);
    }
}

fn rd_intr() -> (Sir, ClockIntr) {
    *RD_INTR.get().expect("rd not attached")
}

/// The clockintr event: the first queued transfer is due.
fn rd_clockintr() {
    intr::softintr_schedule(rd_intr().0);
}

/// The completion interrupt (IPL_BIO): moves the data of every transfer
/// that is due between the image and its buffers, calls biodone for each
/// buffer (the cluster's first, the one asked for last), and arms the
/// event for the next.
pub fn rdintr() {
    intr::splassert(Ipl::Bio);
    let now = crate::arch::cpu::mftb();
    loop {
        let (x, base, size) = {
            let mut g = RD.lock();
            let due = g.iter_mut().flatten().filter(|sc| sc.queue.front().is_some_and(|x| x.due <= now)).min_by_key(|sc| sc.queue.front().map(|x| x.due));
            match due {
                Some(sc) => (sc.queue.pop_front().expect("front"), sc.base, sc.size),
                None => return rd_rearm(&g),
            }
        };
        let (mut at, read) = vfs_bio::with_buf(x.bp, |b| (b.b_dblkno.checked_mul(DEV_BSIZE as u64), b.b_flags.contains(BFlags::B_READ)));
        let mut results = Vec::with_capacity(x.cluster.len() + 1);
        for &bp in core::iter::once(&x.bp).chain(&x.cluster) {
            let r = vfs_bio::with_buf(bp, |b| {
                let n = b.b_bcount.min(b.b_data.len());
                let Some(off) = at.filter(|&o| o + n as u64 <= size as u64) else {
                    // The buffers after it have no place on the disk either.
                    at = None;
                    return Err(Errno::EINVAL);
                };
                at = Some(off + n as u64);
                let disk = (base as u64 + off) as *mut u8;
                // SAFETY: [off, off + n) lies inside the image, which is RAM
                // mapped 1:1, marked in use at boot (never managed), and
                // written only here; the buffer is busy, so nothing else
                // touches it, and n is at most its length.
                unsafe {
                    if read {
                        core::ptr::copy_nonoverlapping(disk, b.b_data.as_mut_ptr(), n);
                    } else {
                        core::ptr::copy_nonoverlapping(b.b_data.as_ptr(), disk, n);
                    }
                }
                if read {
                    b.b_data[n..].fill(0);
                }
                Ok(())
            });
            results.push((bp, r));
        }
        let c = if read { &READS } else { &WRITES };
        c.fetch_add(1, Ordering::Relaxed);
        crate::kern::kern_sched::io_done();
        for (bp, r) in results.into_iter().rev() {
            vfs_bio::biodone(bp, r);
        }
    }
}
