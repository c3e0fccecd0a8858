//! The buffer cache (OpenBSD vfs_bio.c): blocks of a vnode kept in memory,
//! found by (vnode, block number), each owned by one thread at a time
//! (B_BUSY; others sleep with B_WANTED). A regular file's data lives in
//! buffers of its own vnode, by logical block number, as in OpenBSD; the
//! file system's metadata (and directories) in buffers of the root device
//! (rootvp), by device block. A buffer names its vnode with a hold (bgetvp/brelvp:
//! vhold/vdrop), so an unreferenced vnode with buffers sits on the hold
//! list. I/O goes through the vnode's strategy routine: the device's
//! driver (found through bdevsw) completes by interrupt (`biodone`); a
//! file's maps the block and hands the buffer to the driver (through the
//! device's buffer when the cache holds that block, see ffs_strategy).
//! Sequential reads read ahead (`bread_cluster`). A size limit
//! (`kern.bufcachepercent`) makes old clean buffers go and old delayed
//! writes get written first.

use crate::arch::intr::Ipl;
use crate::kern::kern_mutex::{Mutex, MutexGuard};
use crate::kern::kern_synch::{msleep, wakeup};
use crate::kern::vfs_subr::{vdrop, vhold, vnode_by_id, Vnode};
use crate::sys::conf::{self, Dev, DevName};
use crate::sys::errno::Errno;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

/// Block numbers count DEV_BSIZE units.
pub const DEV_BSIZE: u32 = 512;
/// Bytes the cache may hold before it recycles buffers, until boot sets
/// it from `kern.bufcachepercent`.
pub const BUFCACHE_DEFAULT: usize = 512 * 1024;
/// The most the cache may hold whatever `kern.bufcachepercent` says: its
/// buffers come from the kernel heap (16 MB at most), not from pages of
/// their own as OpenBSD's do.
pub const BUFCACHE_MAX: usize = 2 * 1024 * 1024;

bitflags::bitflags! {
    /// b_flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct BFlags: u32 {
        const B_ASYNC = 0x0004;
        const B_BUSY = 0x0010;
        const B_DELWRI = 0x0080;
        const B_DONE = 0x0200;
        const B_ERROR = 0x0800;
        /// Not kept once released (IO_NOCACHE writes).
        const B_NOCACHE = 0x1000;
        const B_INVAL = 0x2000;
        const B_READ = 0x8000;
        const B_WANTED = 0x10000;
    }
}

/// A buffer handle: an index into the cache's table, stable for as long as
/// the buffer exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BufId(usize);

/// A buffer (struct buf).
///
/// Locks (OpenBSD's buf.h legend uses splbio and B_BUSY the same way):
///   [c] the cache mutex, `BCACHE`, at IPL_BIO (OpenBSD: splbio), held for
///       every access, since `biodone` runs from the completion interrupt;
///   [b] B_BUSY: the one thread that owns the buffer (getblk to brelse),
///       or the device while its I/O is in flight;
///   [I] fixed while the buffer is in the hash under (b_vp, b_blkno).
pub struct Buf {
    /// [c]
    pub b_flags: BFlags,
    /// The id of the vnode the block belongs to (ROOTVP: the device). [c, I]
    pub b_vp: u32,
    /// The device block (ROOTVP), or the file's logical block: a file's
    /// buffer is mapped to the disk when its I/O starts. [c, I]
    pub b_blkno: u64,
    /// [c, b]; its owner may take it out while it works on it (so others
    /// read the size from b_bufsize).
    pub b_data: Vec<u8>,
    /// The buffer's size, fixed while it exists. [c, I]
    pub b_bufsize: usize,
    /// Set by biodone. [c, b]
    pub b_error: Option<Errno>,
    /// A device buffer's transfer that carries a file buffer's block: the
    /// file buffer, completed when this transfer is (OpenBSD chains a
    /// completion through b_iodone). [c, b]
    pub b_chain: Option<Chain>,
    /// Where the transfer goes on the device, in DEV_BSIZE units: b_blkno
    /// for the device's own buffers, where VOP_BMAP found the block for a
    /// file's (OpenBSD keeps these two in b_blkno and b_lblkno). [c, b]
    pub b_dblkno: u64,
    /// Bytes the transfer moves from the start of b_data (b_bcount): all
    /// of it, or what a file's fragment-sized last block holds on disk (a
    /// read clears the rest). [c, b]
    pub b_bcount: usize,
    /// Buffers of the same vnode that the same transfer carries after this
    /// one, each on the disk right after the one before (OpenBSD's
    /// bread_cluster, whose read-ahead buffers these are); handed to the
    /// driver with the transfer. [c, b]
    pub b_cluster: Vec<BufId>,
}

/// A file buffer whose I/O a device buffer's transfer carries: a read
/// copies `extent` bytes from `within` into the file buffer (the rest
/// reads as zeros) when the transfer ends; a write's data was copied into
/// the device buffer before it started, so its range is unused.
#[derive(Clone, Copy, Debug)]
pub struct Chain {
    pub file: BufId,
    pub within: usize,
    pub extent: usize,
}

impl Buf {
    /// Whether the buffer holds its block (B_DONE); if not, marks it for
    /// a read, its last error cleared.
    fn start_read(&mut self) -> bool {
        let done = self.b_flags.contains(BFlags::B_DONE);
        if !done {
            self.b_flags |= BFlags::B_READ;
            self.b_flags -= BFlags::B_ERROR;
            self.b_error = None;
        }
        done
    }
}

/// rootvp: the root device's vnode, whose buffers hold the file system's
/// metadata by device block; its I/O goes to the device's strategy routine.
pub const ROOTVP: u32 = 0;

/// The buffer-cache vnode of another mounted disk (rd1): vnode ids count
/// up from 1, so this one is never a file's.
const DEVVP1: u32 = u32::MAX;
/// The device DEVVP1 stands for, once bdevvp gave it out.
static DEVVP1_DEV: AtomicU32 = AtomicU32::new(conf::NODEV);

/// The buffer-cache vnode of block device `dev`'s blocks (OpenBSD
/// bdevvp): ROOTVP for the root device, DEVVP1 for one other.
pub fn bdevvp(dev: Dev) -> u32 {
    if dev == conf::rootdev() {
        return ROOTVP;
    }
    let was = DEVVP1_DEV.swap(dev, Ordering::Relaxed);
    assert!(was == conf::NODEV || was == dev, "bdevvp: a third disk");
    DEVVP1
}

/// Whether `vid` names a device's blocks rather than a file's.
pub fn is_devvp(vid: u32) -> bool {
    vid == ROOTVP || vid == DEVVP1
}

/// The device whose blocks `vid` (a device vnode) names.
fn devvp_dev(vid: u32) -> Dev {
    if vid == ROOTVP {
        conf::rootdev()
    } else {
        DEVVP1_DEV.load(Ordering::Relaxed)
    }
}

/// The not-busy buffers, least recently released first (OpenBSD's
/// bufqueues): a list threaded through the buffers' slots, so taking a
/// buffer off it wherever it is costs the same as taking the first.
struct Lru {
    /// (previous, next) slot of each slot on the list.
    link: Vec<Option<(usize, usize)>>,
    head: Option<usize>,
    tail: Option<usize>,
}

impl Lru {
    const fn new() -> Lru {
        Lru { link: Vec::new(), head: None, tail: None }
    }

    fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    fn push_back(&mut self, bp: BufId) {
        if self.link.len() <= bp.0 {
            self.link.resize(bp.0 + 1, None);
        }
        if self.link[bp.0].is_some() {
            return;
        }
        match self.tail {
            Some(t) => {
                self.link[t].as_mut().expect("tail on the list").1 = bp.0;
                self.link[bp.0] = Some((t, bp.0));
            }
            None => {
                self.head = Some(bp.0);
                self.link[bp.0] = Some((bp.0, bp.0));
            }
        }
        self.tail = Some(bp.0);
    }

    /// Takes `bp` off the list if it is on it.
    fn remove(&mut self, bp: BufId) {
        let Some((prev, next)) = self.link.get_mut(bp.0).and_then(Option::take) else { return };
        let (first, last) = (self.head == Some(bp.0), self.tail == Some(bp.0));
        match (first, last) {
            (true, true) => (self.head, self.tail) = (None, None),
            (true, false) => {
                self.head = Some(next);
                self.link[next].as_mut().expect("on the list").0 = next;
            }
            (false, true) => {
                self.tail = Some(prev);
                self.link[prev].as_mut().expect("on the list").1 = prev;
            }
            (false, false) => {
                self.link[prev].as_mut().expect("on the list").1 = next;
                self.link[next].as_mut().expect("on the list").0 = prev;
            }
        }
    }

    fn pop_front(&mut self) -> Option<BufId> {
        let h = BufId(self.head?);
        self.remove(h);
        Some(h)
    }

    /// The list from its least recently released buffer on.
    fn iter(&self) -> impl Iterator<Item = BufId> + '_ {
        let mut at = self.head;
        core::iter::from_fn(move || {
            let cur = at?;
            let (_, next) = self.link[cur].expect("on the list");
            at = (Some(cur) != self.tail).then_some(next);
            Some(BufId(cur))
        })
    }
}

struct BufCache {
    bufs: Vec<Option<Buf>>,
    /// Slots of `bufs` not in use.
    free: Vec<usize>,
    hash: BTreeMap<(u32, u64), BufId>,
    lru: Lru,
    /// Data areas of freed buffers, for the next buffer of their size: a
    /// new buffer's contents are undefined until read or written whole, as
    /// in OpenBSD, so they are not cleared. They count against the limit
    /// like the buffers' own: the heap reserved for the cache holds both.
    pool: Vec<Vec<u8>>,
    /// Bytes in buffers and in the pool.
    bytes: usize,
    limit: usize,
}

/// Freed data areas kept for reuse.
const POOL_MAX: usize = 16;

/// IPL_BIO: the completion interrupt takes it.
static BCACHE: Mutex<BufCache> = Mutex::new(
    Ipl::Bio,
    BufCache { bufs: Vec::new(), free: Vec::new(), hash: BTreeMap::new(), lru: Lru::new(), pool: Vec::new(), bytes: 0, limit: BUFCACHE_DEFAULT },
);
/// Times a thread slept in biowait (for tests and the benchmark).
static BIOWAIT_SLEEPS: AtomicU32 = AtomicU32::new(0);

fn wchan(bp: BufId) -> usize {
    &BCACHE as *const _ as usize + 1 + bp.0
}

impl BufCache {
    fn buf(&mut self, bp: BufId) -> &mut Buf {
        self.bufs[bp.0].as_mut().expect("buffer freed while in use")
    }

    fn free_slot(&mut self) -> usize {
        self.free.pop().unwrap_or_else(|| {
            self.bufs.push(None);
            self.bufs.len() - 1
        })
    }

    /// Copies `len` bytes of buffer `src` from `soff` into buffer `dst` at
    /// `doff`.
    fn copy(&mut self, src: BufId, soff: usize, dst: BufId, doff: usize, len: usize) {
        let from = core::mem::take(&mut self.buf(src).b_data);
        self.buf(dst).b_data[doff..doff + len].copy_from_slice(&from[soff..soff + len]);
        self.buf(src).b_data = from;
    }

    /// A data area of `size` bytes, from the pool if one fits.
    /// A data area of `size` bytes: a pooled one, or new from the heap;
    /// None when the heap has no such run free.
    fn data(&mut self, size: usize) -> Option<Vec<u8>> {
        match self.pool.iter().position(|d| d.len() == size) {
            Some(i) => {
                self.bytes -= size;
                Some(self.pool.swap_remove(i))
            }
            None => {
                let mut v = Vec::new();
                v.try_reserve_exact(size).ok()?;
                v.resize(size, 0);
                Some(v)
            }
        }
    }

    /// Gives pooled data areas back to the heap until `size` more bytes
    /// fit under the limit, or the pool is empty.
    fn drain_pool(&mut self, size: usize) {
        while self.bytes + size > self.limit {
            let Some(d) = self.pool.pop() else { return };
            self.bytes -= d.len();
        }
    }

    /// Frees a buffer; the vnode whose hold it had (brelvp), for vdrop
    /// once the cache is let go.
    fn forget(&mut self, bp: BufId) -> Option<u32> {
        self.lru.remove(bp);
        let b = self.bufs[bp.0].take()?;
        self.free.push(bp.0);
        self.hash.remove(&(b.b_vp, b.b_blkno));
        if self.pool.len() < POOL_MAX {
            self.pool.push(b.b_data);
        } else {
            self.bytes -= b.b_bufsize;
        }
        (!is_devvp(b.b_vp)).then_some(b.b_vp)
    }

    fn numbufs(&self) -> usize {
        self.hash.len()
    }
}

/// The hold a buffer has on its file's vnode (bgetvp).
fn bgetvp(vid: u32) {
    if let Some(vp) = vnode_by_id(vid) {
        vhold(vp);
    }
}

/// Gives back the hold of a freed buffer (brelvp).
fn brelvp(vid: Option<u32>) {
    if let Some(vp) = vid.and_then(vnode_by_id) {
        vdrop(vp);
    }
}

/// Buffers in the cache (OpenBSD bcstats.numbufs): getnewvnode never lets
/// kern.maxvnodes below it.
pub fn numbufs() -> usize {
    BCACHE.lock().numbufs()
}

/// Runs `f` on a buffer (its owner, or the completion interrupt): it must
/// be busy, as the [b] fields of Buf's legend say.
#[track_caller]
pub fn with_buf<R>(bp: BufId, f: impl FnOnce(&mut Buf) -> R) -> R {
    let mut g = BCACHE.lock();
    let b = g.buf(bp);
    assert!(b.b_flags.contains(BFlags::B_BUSY), "with_buf: buffer {} is not busy", bp.0);
    f(b)
}

/// Copies `len` bytes of busy buffer `src` from `soff` into busy buffer
/// `dst` at `doff` (a file's block and the device buffer that holds it on
/// the disk), in one hold of the cache.
#[track_caller]
pub fn bufcopy(src: BufId, soff: usize, dst: BufId, doff: usize, len: usize) {
    let mut g = BCACHE.lock();
    for bp in [src, dst] {
        assert!(g.buf(bp).b_flags.contains(BFlags::B_BUSY), "bufcopy: buffer {} is not busy", bp.0);
    }
    g.copy(src, soff, dst, doff, len);
}

/// Sets the cache's size limit in bytes; returns the old one.
pub fn bufcache_setlimit(limit: usize) -> usize {
    core::mem::replace(&mut BCACHE.lock().limit, limit)
}

/// Frees every clean buffer nobody holds (OpenBSD bufbackoff gives clean
/// buffers back the same way); delayed writes stay.
pub fn bufcache_release() {
    loop {
        let mut g = BCACHE.lock();
        let clean = g.lru.iter().find(|&bp| !g.bufs[bp.0].as_ref().is_some_and(|b| b.b_flags.contains(BFlags::B_DELWRI)));
        let Some(bp) = clean else { return };
        let held = g.forget(bp);
        drop(g);
        brelvp(held);
    }
}

pub fn biowait_sleeps() -> u32 {
    BIOWAIT_SLEEPS.load(Ordering::Relaxed)
}

/// The busy buffer for block `blkno` of `vp`, `size` bytes, from the cache
/// or new (not read: B_DONE says whether it holds data). Sleeps while
/// another thread has it busy, or while the cache must write an old delayed
/// write to make room.
pub fn getblk(vp: u32, blkno: u64, size: usize) -> BufId {
    let mut g = BCACHE.lock();
    loop {
        if let Some(&bp) = g.hash.get(&(vp, blkno)) {
            let b = g.buf(bp);
            if b.b_flags.contains(BFlags::B_BUSY) {
                b.b_flags |= BFlags::B_WANTED;
                g = msleep(wchan(bp), g, "getblk", 0).0;
                continue;
            }
            b.b_flags |= BFlags::B_BUSY;
            assert_eq!(b.b_bufsize, size, "getblk: block {blkno} asked for with another size");
            g.lru.remove(bp);
            return bp;
        }
        // A pooled area of this size moves into the buffer without adding
        // to the bytes held; anything else must fit under the limit.
        let reuse = g.bytes <= g.limit && g.pool.iter().any(|d| d.len() == size);
        if !reuse {
            g.drain_pool(size);
        }
        if !reuse && g.bytes + size > g.limit && !g.lru.is_empty() {
            if let Some(g2) = make_room(g) {
                g = g2;
                continue;
            }
            g = BCACHE.lock();
            continue;
        }
        let Some(b_data) = g.data(size) else {
            // The heap has no room for it (memory short, the heap in
            // pieces): give an old buffer's memory back, or wait for the
            // pagedaemon as an allocation that may sleep does.
            if !g.lru.is_empty() {
                g = make_room(g).unwrap_or_else(|| BCACHE.lock());
            } else {
                drop(g);
                let _ = crate::kern::kern_malloc::kmem_wait(size);
                g = BCACHE.lock();
            }
            continue;
        };
        let slot = g.free_slot();
        let bp = BufId(slot);
        g.bufs[slot] = Some(Buf {
            b_flags: BFlags::B_BUSY,
            b_vp: vp,
            b_blkno: blkno,
            b_data,
            b_bufsize: size,
            b_error: None,
            b_chain: None,
            b_dblkno: blkno,
            b_bcount: size,
            b_cluster: Vec::new(),
        });
        g.hash.insert((vp, blkno), bp);
        g.bytes += size;
        drop(g);
        if !is_devvp(vp) {
            bgetvp(vp);
        }
        return bp;
    }
}

/// Whether the cache holds block `blkno` of `vp`, busy or not (OpenBSD
/// incore).
pub fn incore(vp: u32, blkno: u64) -> bool {
    BCACHE.lock().hash.contains_key(&(vp, blkno))
}

/// Frees the least recently used buffer; a delayed write is written first
/// (then the caller looks again, so None: the lock was let go). The caller
/// goes past the limit instead when every buffer is busy, rather than wait
/// on itself.
fn make_room(mut g: MutexGuard<'static, BufCache>) -> Option<MutexGuard<'static, BufCache>> {
    let Some(bp) = g.lru.pop_front() else { return Some(g) };
    if g.buf(bp).b_flags.contains(BFlags::B_DELWRI) {
        g.buf(bp).b_flags |= BFlags::B_BUSY;
        drop(g);
        let _ = bwrite(bp);
        return None;
    }
    let held = g.forget(bp);
    if held.is_some() {
        drop(g);
        brelvp(held);
        return None;
    }
    Some(g)
}

/// Starts I/O on a busy buffer (VOP_STRATEGY): the file system's for a
/// file's block, the root device's driver (bdevsw) for the device's.
fn strategy(bp: BufId) {
    let vid = with_buf(bp, |b| b.b_vp);
    match vnode_by_id(vid).filter(|_| !is_devvp(vid)) {
        Some(vp) => crate::kern::vfs_vops::VOP_STRATEGY(vp, bp),
        None => conf::bdev_strategy(devvp_dev(vid), bp),
    }
}

/// Waits for the I/O on a buffer to finish; its error, if any.
pub fn biowait(bp: BufId) -> Result<(), Errno> {
    let mut g = BCACHE.lock();
    while !g.buf(bp).b_flags.contains(BFlags::B_DONE) {
        BIOWAIT_SLEEPS.fetch_add(1, Ordering::Relaxed);
        g = msleep(wchan(bp), g, "biowait", 0).0;
    }
    g.buf(bp).b_error.map_or(Ok(()), Err)
}

/// Ends I/O (from the device's interrupt): the buffer holds its data, and
/// whoever waits for it is woken; an asynchronous write is released; a
/// file buffer whose block this transfer carried ends with it. At
/// IPL_BIO, as OpenBSD's: a strategy routine that ends a transfer at once
/// raises to splbio first.
pub fn biodone(bp: BufId, r: Result<(), Errno>) {
    crate::arch::intr::splassert(Ipl::Bio);
    let (asynch, chain) = {
        let mut g = BCACHE.lock();
        let b = g.buf(bp);
        b.b_flags |= BFlags::B_DONE;
        if let Err(e) = r {
            b.b_flags |= BFlags::B_ERROR;
            b.b_error = Some(e);
        }
        let (asynch, read, chain) = (b.b_flags.contains(BFlags::B_ASYNC), b.b_flags.contains(BFlags::B_READ), b.b_chain.take());
        if let Some(c) = chain.filter(|_| read && r.is_ok()) {
            copy_chained(&mut g, bp, c);
        }
        (asynch, chain)
    };
    if asynch {
        brelse(bp);
    } else {
        wakeup(wchan(bp));
    }
    if let Some(c) = chain {
        biodone(c.file, r);
    }
}

/// A chained read's data, from the device buffer into the file buffer.
fn copy_chained(g: &mut BufCache, dbp: BufId, c: Chain) {
    g.copy(dbp, c.within, c.file, 0, c.extent);
    g.buf(c.file).b_data[c.extent..].fill(0);
}

/// Starts writing busy device buffer `dbp` asynchronously, carrying file
/// buffer `file`'s block: `file` stays busy, its I/O in flight, until the
/// device's completion ends both.
pub fn bawrite_chain(dbp: BufId, file: BufId) {
    with_buf(dbp, |b| b.b_chain = Some(Chain { file, within: 0, extent: 0 }));
    bawrite(dbp);
}

/// Reads the part of device block `blkno` (`size` bytes) that file buffer
/// `c.file` holds: from the cache at once (true: the file buffer's I/O is
/// over), or by starting the device's transfer with the file buffer
/// chained to it (false: the completion copies and ends both); the caller
/// waits for the file buffer, not for the device's.
pub fn bread_chain(vp: u32, blkno: u64, size: usize, c: Chain) -> bool {
    let dbp = getblk(vp, blkno, size);
    let cached = {
        let mut g = BCACHE.lock();
        let b = g.buf(dbp);
        let done = b.start_read();
        if done {
            copy_chained(&mut g, dbp, c);
        } else {
            b.b_flags |= BFlags::B_ASYNC;
            b.b_chain = Some(c);
        }
        done
    };
    if cached {
        brelse(dbp);
    } else {
        strategy(dbp);
    }
    cached
}

/// Block `blkno` of `vp`, read if the cache does not hold it; busy.
pub fn bread(vp: u32, blkno: u64, size: usize) -> Result<BufId, Errno> {
    bread_cluster(vp, blkno, size, || None)
}

/// Bytes one transfer moves at most (MAXPHYS): the read-ahead's limit.
pub const MAXPHYS: usize = 64 * 1024;

/// bread with read-ahead (OpenBSD bread_cluster): when block `blkno` must
/// be read, the blocks after it are read too, in one transfer of their own
/// (at most MAXPHYS), and left in the cache when it ends. `bmap_run` is
/// the file system's VOP_BMAP for block `blkno + 1`: how many blocks from
/// there on lie one after another on the disk (None: a hole). Nothing is
/// read ahead if fewer than two do, or if the cache holds any of them.
pub fn bread_cluster(vp: u32, blkno: u64, size: usize, bmap_run: impl FnOnce() -> Option<usize>) -> Result<BufId, Errno> {
    let bp = getblk(vp, blkno, size);
    if with_buf(bp, Buf::start_read) {
        return Ok(bp);
    }
    strategy(bp);
    let howmany = bmap_run().unwrap_or(0).min(MAXPHYS / size);
    if howmany >= 2 {
        read_ahead(vp, blkno + 1, size, howmany);
    }
    if let Err(e) = biowait(bp) {
        with_buf(bp, |b| b.b_flags |= BFlags::B_INVAL);
        brelse(bp);
        return Err(e);
    }
    Ok(bp)
}

/// Starts reading blocks `first..first + n` of `vp` in one transfer,
/// asynchronously, unless the cache holds any of them.
fn read_ahead(vp: u32, first: u64, size: usize, n: usize) {
    if (first..first + n as u64).any(|b| incore(vp, b)) {
        return;
    }
    let mut xbps = Vec::with_capacity(n);
    for b in first..first + n as u64 {
        // getblk may sleep making room, and another thread may have read
        // the block meanwhile: then the read-ahead is given up.
        let xbp = getblk(vp, b, size);
        let fresh = with_buf(xbp, |b| {
            let fresh = !b.start_read();
            b.b_flags |= if fresh { BFlags::B_ASYNC } else { BFlags::empty() };
            fresh
        });
        if !fresh {
            brelse(xbp);
            for &x in &xbps {
                with_buf(x, |b| b.b_flags |= BFlags::B_INVAL);
                brelse(x);
            }
            return;
        }
        xbps.push(xbp);
    }
    let head = xbps.remove(0);
    with_buf(head, |b| b.b_cluster = xbps);
    strategy(head);
}

fn start_write(bp: BufId, asynch: bool) {
    with_buf(bp, |b| {
        b.b_flags -= BFlags::B_READ | BFlags::B_DONE | BFlags::B_DELWRI | BFlags::B_ERROR;
        b.b_error = None;
        b.b_flags.set(BFlags::B_ASYNC, asynch);
    });
    strategy(bp);
}

/// Writes a busy buffer and waits; releases it.
pub fn bwrite(bp: BufId) -> Result<(), Errno> {
    start_write(bp, false);
    let r = biowait(bp);
    brelse(bp);
    r
}

/// Starts writing a busy buffer; the completion releases it.
pub fn bawrite(bp: BufId) {
    start_write(bp, true);
}

/// Marks a busy buffer dirty and releases it: written when recycled or
/// flushed.
pub fn bdwrite(bp: BufId) {
    with_buf(bp, |b| {
        b.b_flags |= BFlags::B_DELWRI | BFlags::B_DONE;
        b.b_flags -= BFlags::B_NOCACHE;
    });
    brelse(bp);
}

/// Gives a busy buffer back to the cache and wakes whoever wants it. An
/// invalid or failed buffer is dropped, and so is one marked B_NOCACHE
/// (as OpenBSD's brelse turns it into B_INVAL).
pub fn brelse(bp: BufId) {
    let mut g = BCACHE.lock();
    let b = g.buf(bp);
    let wanted = b.b_flags.contains(BFlags::B_WANTED);
    b.b_flags -= BFlags::B_BUSY | BFlags::B_WANTED | BFlags::B_ASYNC;
    if b.b_flags.contains(BFlags::B_NOCACHE) {
        b.b_flags = (b.b_flags - BFlags::B_NOCACHE) | BFlags::B_INVAL;
    }
    let held = if b.b_flags.intersects(BFlags::B_INVAL | BFlags::B_ERROR) {
        g.forget(bp)
    } else {
        g.lru.push_back(bp);
        None
    };
    drop(g);
    brelvp(held);
    if wanted {
        wakeup(wchan(bp));
    }
}

/// Drops every buffer of `vp` (OpenBSD vinvalbuf), called with the vnode
/// locked. With `save` (V_SAVE) its delayed writes are written first, by
/// VOP_FSYNC; without, they are thrown away. A busy buffer is waited for
/// ("vinvalbuf").
pub fn vinvalbuf(vp: &'static Vnode, save: bool) -> Result<(), Errno> {
    let vid = vp.v_id;
    let dirty = {
        let g = BCACHE.lock();
        g.hash.range((vid, 0)..=(vid, u64::MAX)).any(|(_, &bp)| g.bufs[bp.0].as_ref().is_some_and(|b| b.b_flags.contains(BFlags::B_DELWRI)))
    };
    if save && dirty {
        crate::kern::vfs_vops::VOP_FSYNC(vp)?;
    }
    invalbuf(vid, save)
}

/// vinvalbuf of the root device's buffers, delayed writes written.
pub fn rootvp_invalbuf() -> Result<(), Errno> {
    invalbuf(ROOTVP, true)
}

/// vinvalbuf by buffer-cache vnode id (a device's, at mount).
pub fn invalbuf(vid: u32, save: bool) -> Result<(), Errno> {
    loop {
        let mut g = BCACHE.lock();
        let Some(&bp) = g.hash.range((vid, 0)..=(vid, u64::MAX)).map(|(_, bp)| bp).next() else { return Ok(()) };
        let b = g.buf(bp);
        if b.b_flags.contains(BFlags::B_BUSY) {
            b.b_flags |= BFlags::B_WANTED;
            drop(msleep(wchan(bp), g, "vinvalbuf", 0));
            continue;
        }
        b.b_flags |= BFlags::B_BUSY;
        let delwri = b.b_flags.contains(BFlags::B_DELWRI);
        g.lru.remove(bp);
        drop(g);
        if delwri && save {
            bwrite(bp)?;
            continue;
        }
        with_buf(bp, |b| b.b_flags |= BFlags::B_INVAL);
        brelse(bp);
    }
}

/// Whether the vnode with id `vid` has buffers (a test's view of the hold).
pub fn vnode_has_bufs(vid: u32) -> bool {
    BCACHE.lock().hash.range((vid, 0)..=(vid, u64::MAX)).next().is_some()
}

/// Writes every delayed write of `vp` and waits for them (OpenBSD
/// vflushbuf with sync); the buffers stay cached. Returns how many were
/// written.
pub fn vflushbuf(vp: u32) -> Result<u32, Errno> {
    let mut written = 0;
    let mut from = 0u64;
    loop {
        let next = {
            let g = BCACHE.lock();
            g.hash
                .range((vp, from)..=(vp, u64::MAX))
                .find(|(_, &bp)| g.bufs[bp.0].as_ref().is_some_and(|b| b.b_flags.contains(BFlags::B_DELWRI)))
                .map(|(k, _)| k.1)
        };
        let Some(blkno) = next else { return Ok(written) };
        if bflush(vp, blkno)? {
            written += 1;
        }
        from = blkno + 1;
    }
}

/// Writes block `blkno` of `vp` now if the cache holds it as a delayed
/// write, and waits; true if it did.
pub fn bflush(vp: u32, blkno: u64) -> Result<bool, Errno> {
    let size = {
        let g = BCACHE.lock();
        match g.hash.get(&(vp, blkno)).and_then(|&bp| g.bufs[bp.0].as_ref()) {
            Some(b) if b.b_flags.contains(BFlags::B_DELWRI) => b.b_bufsize,
            _ => return Ok(false),
        }
    };
    let bp = getblk(vp, blkno, size);
    if with_buf(bp, |b| b.b_flags.contains(BFlags::B_DELWRI)) {
        bwrite(bp)?;
        Ok(true)
    } else {
        brelse(bp);
        Ok(false)
    }
}

/// Writes the delayed writes of every file's buffers (the first half of
/// sync: the file system's metadata in the device's buffers comes after).
pub fn vflushbuf_files() -> Result<u32, Errno> {
    let mut vids: Vec<u32> = BCACHE.lock().hash.keys().map(|k| k.0).filter(|&v| !is_devvp(v)).collect();
    vids.dedup();
    let mut written = 0;
    for vid in vids {
        written += vflushbuf(vid)?;
    }
    Ok(written)
}

/// A `%b`-style flag word: the value in hex, then the names set.
fn bflags_fmt(out: &mut dyn core::fmt::Write, f: BFlags) -> core::fmt::Result {
    write!(out, "{:#x}<", f.bits())?;
    for (k, (n, _)) in f.iter_names().enumerate() {
        write!(out, "{}{}", if k > 0 { "," } else { "" }, n.trim_start_matches("B_"))?;
    }
    out.write_char('>')
}

/// ddb `show buf N`, in OpenBSD vfs_buf_print's shape. A file's buffer
/// names its logical block; the disk block is found when its I/O starts.
pub fn vfs_buf_print(out: &mut dyn core::fmt::Write, n: usize) {
    let Some(g) = BCACHE.try_lock() else {
        let _ = writeln!(out, "buffer cache locked");
        return;
    };
    let Some(b) = g.bufs.get(n).and_then(Option::as_ref) else {
        let _ = writeln!(out, "no buffer {n}");
        return;
    };
    let dev = DevName(if is_devvp(b.b_vp) { devvp_dev(b.b_vp) } else { conf::rootdev() });
    let _ = if is_devvp(b.b_vp) {
        write!(out, "  vp {dev} lblkno 0x{:x} blkno 0x{:x} dev {dev}\n  error {} flags ", b.b_blkno, b.b_blkno, b.b_error.map_or(0, |e| e as i32))
    } else {
        write!(out, "  vp {} lblkno 0x{:x} blkno - dev {dev}\n  error {} flags ", b.b_vp, b.b_blkno, b.b_error.map_or(0, |e| e as i32))
    };
    let _ = bflags_fmt(out, b.b_flags);
    let _ = writeln!(out, "\n  bufsize 0x{:x} bcount 0x{:x} resid 0x0\n  data {:p}", b.b_bufsize, b.b_bcount, b.b_data.as_ptr());
}

/// The buffers of vnode `vid` (ROOTVP: the device's), each with whether it
/// is a delayed write; None if the cache is locked.
pub fn db_bufs_of(vid: u32) -> Option<Vec<(usize, bool)>> {
    let g = BCACHE.try_lock()?;
    Some(g.bufs.iter().enumerate().filter_map(|(i, b)| b.as_ref().filter(|b| b.b_vp == vid).map(|b| (i, b.b_flags.contains(BFlags::B_DELWRI)))).collect())
}

/// ddb `show all bufs`: a line per buffer.
pub fn db_show_all_bufs(out: &mut dyn core::fmt::Write) {
    let Some(g) = BCACHE.try_lock() else {
        let _ = writeln!(out, "buffer cache locked");
        return;
    };
    let _ = writeln!(out, "{} buffers, {} bytes of {} allowed", g.numbufs(), g.bytes, g.limit);
    for (i, b) in g.bufs.iter().enumerate() {
        let Some(b) = b else { continue };
        let vp = if is_devvp(b.b_vp) { alloc::format!("{}", DevName(devvp_dev(b.b_vp))) } else { alloc::format!("vnode {}", b.b_vp) };
        let _ = write!(out, " bp {i}: {vp} {} 0x{:x} size 0x{:x} flags ", if is_devvp(b.b_vp) { "blkno" } else { "lblkno" }, b.b_blkno, b.b_bufsize);
        let _ = bflags_fmt(out, b.b_flags);
        let _ = writeln!(out);
    }
}
