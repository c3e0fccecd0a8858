//! Mounting FFS on the root device and getting vnodes for its inodes (OpenBSD
//! ffs_vfsops.c: ffs_mountroot, ffs_vget with the inode hash, ffs_sync,
//! ffs_unmount). The on-disk format is the shared `ffs` crate's, reading
//! and writing through the buffer cache, so every block read sleeps in
//! biowait like a disk's would.

use crate::arch::intr::Ipl;
use crate::kern::kern_mutex::Mutex;
use crate::kern::kern_rwlock::Rwlock;
use crate::kern::vfs_bio::{self, BufId, ROOTVP};
use crate::kern::vfs_subr::{getnewvnode, vget, vn_lock, vput, vrele, Vnode};
use crate::sys::conf::{self, Dev, DevName};
use crate::sys::errno::Errno;
use crate::sys::mount::VfsOps;
use crate::sys::vnode::{LkFlags, VType};
use crate::ufs::ffs::ffs_vnops::FFS_VNODEOPS;
use alloc::collections::BTreeMap;
use core::sync::atomic::{AtomicU32, Ordering};
use spin::Once;

/// The size of the device buffers the file system's metadata lives in:
/// the superblock's size while it is looked for, then the file system's
/// block size (OpenBSD reads the superblock in SBSIZE and everything after
/// in fs_bsize or fs_cgsize buffers).
static DEVBSIZE: AtomicU32 = AtomicU32::new(SBSIZE);
/// SBSIZE: the superblock's size, and where the standard locations align.
const SBSIZE: u32 = 8192;

/// The size of the root file system's device buffers.
pub fn ffs_devbsize() -> usize {
    DEVBSIZE.load(Ordering::Relaxed) as usize
}

/// The root device as the `ffs` crate's device, read in buffers of rootvp
/// the size of a file-system block, aligned on one.
pub struct BufDevice;

/// Splits the device range [off, off + len) into device buffers: calls
/// `f(done, blkno, within, n)` for each piece (bytes `done..done + n` of
/// the range, at byte `within` of the buffer whose block number is
/// `blkno`). A range outside the device, or any piece failing, is the
/// device-range error.
fn for_each_devblk(off: u64, len: usize, mut f: impl FnMut(usize, u64, usize, usize) -> Result<(), ()>) -> Result<(), ffs::Error> {
    let size = devsize();
    let err = ffs::Error::DeviceRange { off, len: len as u64, size };
    if off.checked_add(len as u64).is_none_or(|e| e > size) {
        return Err(err);
    }
    let mut done = 0usize;
    while done < len {
        let (blkno, within) = ffs_devblk(off + done as u64);
        let n = (ffs_devbsize() - within).min(len - done);
        f(done, blkno, within, n).map_err(|_| err)?;
        done += n;
    }
    Ok(())
}

/// The device buffer holding byte `off` of the device: its block number
/// and the byte's place in it.
pub fn ffs_devblk(off: u64) -> (u64, usize) {
    let bs = ffs_devbsize() as u64;
    (off / bs * bs / vfs_bio::DEV_BSIZE as u64, (off % bs) as usize)
}

/// Device buffer `blkno`, busy, for writing `n` of its bytes: a whole
/// block is not read first.
pub fn ffs_devbuf_for_write(blkno: u64, n: usize) -> Result<BufId, Errno> {
    let bs = ffs_devbsize();
    if n == bs {
        Ok(vfs_bio::getblk(ROOTVP, blkno, bs))
    } else {
        vfs_bio::bread(ROOTVP, blkno, bs)
    }
}

/// The root device's size in bytes, read once at mount (d_psize).
static DEVSIZE: Once<u64> = Once::new();

fn devsize() -> u64 {
    DEVSIZE.get().copied().unwrap_or(0)
}

impl ffs::Device for BufDevice {
    fn len(&self) -> u64 {
        devsize()
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<(), ffs::Error> {
        for_each_devblk(off, buf.len(), |done, blkno, within, n| {
            let bp = vfs_bio::bread(ROOTVP, blkno, ffs_devbsize()).map_err(|_| ())?;
            vfs_bio::with_buf(bp, |b| buf[done..done + n].copy_from_slice(&b.b_data[within..within + n]));
            vfs_bio::brelse(bp);
            Ok(())
        })
    }
}

impl ffs::DeviceMut for BufDevice {
    /// Writes into the device blocks' buffers and leaves them delayed
    /// writes (bdwrite): ffs_sync or the cache's size limit writes them.
    fn write_at(&self, off: u64, buf: &[u8]) -> Result<(), ffs::Error> {
        for_each_devblk(off, buf.len(), |done, blkno, within, n| {
            let bp = ffs_devbuf_for_write(blkno, n).map_err(|_| ())?;
            vfs_bio::with_buf(bp, |b| b.b_data[within..within + n].copy_from_slice(&buf[done..done + n]));
            // Each piece once it is in its buffer (getting the buffer may
            // sleep): an inode read before is dropped here or not kept
            // (vtoi), one read after finds the new bytes.
            ffs_inodes_written(off + done as u64, n);
            vfs_bio::bdwrite(bp);
            Ok(())
        })
    }

    /// In the device buffer itself when the range lies in one (a cylinder
    /// group's block does): the buffer stays busy while `f` runs and is
    /// left a delayed write if `f` changed it. A cylinder-group change
    /// used to copy the whole block out and back in.
    fn edit_at<R>(&self, off: u64, len: usize, f: impl FnOnce(&mut [u8]) -> Result<(R, bool), ffs::Error>) -> Result<R, ffs::Error> {
        let (blkno, within) = ffs_devblk(off);
        if within + len > ffs_devbsize() || off + len as u64 > devsize() {
            return ffs::edit_copy(self, off, len, f);
        }
        let bp = vfs_bio::bread(ROOTVP, blkno, ffs_devbsize()).map_err(|_| ffs::Error::DeviceRange { off, len: len as u64, size: devsize() })?;
        // The busy buffer's data is its owner's: taken out, so no lock is
        // held while `f` runs (it may read other blocks).
        let mut data = vfs_bio::with_buf(bp, |b| core::mem::take(&mut b.b_data));
        let r = f(&mut data[within..within + len]);
        vfs_bio::with_buf(bp, |b| b.b_data = data);
        match r {
            Ok((r, true)) => {
                ffs_inodes_written(off, len);
                vfs_bio::bdwrite(bp);
                Ok(r)
            }
            other => {
                vfs_bio::brelse(bp);
                other.map(|(r, _)| r)
            }
        }
    }
}

static ROOTFS: Once<ffs::Fs<BufDevice>> = Once::new();
/// Held around every change to the cylinder groups and summaries (OpenBSD
/// holds the group's buffer busy instead). A leaf lock: only device I/O
/// happens under it.
static FFS_ALLOCLOCK: Rwlock = Rwlock::new("ffsalloc");

/// An ffs crate error as an errno, named on the console with its inode
/// (a bad block number or directory entry is the caller's error, not a
/// panic).
pub fn ffs_error(ino: u32, e: ffs::Error) -> Errno {
    match e {
        ffs::Error::NoSpace { .. } => Errno::ENOSPC,
        ffs::Error::FileTooBig { .. } => Errno::EFBIG,
        e => {
            crate::printf!("ffs: inode {ino}: {e}\n");
            FS_DAMAGED.store(true, core::sync::atomic::Ordering::Relaxed);
            Errno::EIO
        }
    }
}

/// Set once damage was reported: the unmount then leaves the file system
/// unclean, so that fsck looks at it (OpenBSD's FS_UNCLEAN).
static FS_DAMAGED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// MNT_RDONLY: the root was not clean, so it is mounted read-only, as
/// OpenBSD's ffs_mountfs denies a read-write mount of an unclean file system.
static FS_RDONLY: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

pub fn ffs_rdonly() -> bool {
    FS_RDONLY.load(core::sync::atomic::Ordering::Relaxed)
}

/// Runs a change to the file system (allocation, a write, a directory
/// change) under the allocation lock; EROFS on a read-only mount.
pub fn ffs_modify<R>(ino: u32, f: impl FnOnce(&ffs::Fs<BufDevice>) -> Result<R, ffs::Error>) -> Result<R, Errno> {
    if ffs_rdonly() {
        return Err(Errno::EROFS);
    }
    let fs = rootfs()?;
    FFS_ALLOCLOCK.rw_enter_write();
    let r = f(fs);
    FFS_ALLOCLOCK.rw_exit();
    r.map_err(|e| ffs_error(ino, e))
}
/// The inode hash (OpenBSD ufs_ihash): the vnode of each inode in use.
static IHASH: Mutex<BTreeMap<u32, &'static Vnode>> = Mutex::new(Ipl::None, BTreeMap::new());

/// FFS as the generic VFS sees it (OpenBSD ffs_vfsops).
pub static FFS_VFSOPS: VfsOps =
    VfsOps { vfs_mountroot: ffs_mountroot, vfs_root: || ffs_vget(ffs::ROOTINO), vfs_vget: ffs_vget, vfs_sync: ffs_sync, vfs_unmount: ffs_unmount };

/// Mounts the root file system from `dev` (OpenBSD ffs_mountroot).
pub fn ffs_mountroot(dev: Dev) -> Result<(), Errno> {
    ffs_mountfs(dev).map_err(|e| {
        crate::printf!("ffs: cannot mount root from {}: {e}\n", DevName(dev));
        Errno::EINVAL
    })
}

fn ffs_mountfs(dev: Dev) -> Result<(), ffs::Error> {
    DEVSIZE.call_once(|| conf::bdev_size(dev));
    DEVBSIZE.store(SBSIZE, Ordering::Relaxed);
    let fs = ffs::Fs::mount(BufDevice)?;
    let sb = fs.sb();
    // The superblock's buffers go (nothing was written, so nothing can
    // fail to be); from here on the device is read in file-system blocks.
    vfs_bio::rootvp_invalbuf().map_err(|_| ffs::Error::DeviceRange { off: 0, len: SBSIZE as u64, size: devsize() })?;
    DEVBSIZE.store(sb.bsize, Ordering::Relaxed);
    let name = DevName(dev);
    crate::printf!("ffs: root on {name}, {:?}, {} byte blocks, {} fragments, {} inodes\n", sb.version, sb.bsize, sb.size, sb.ninodes());
    let clean = fs.is_clean()?;
    ROOTFS.call_once(|| fs);
    // OpenBSD's words (ffs_mountfs); its root is mounted read-only first
    // anyway, and so is this one.
    let rdonly = |why: &str| {
        crate::printf!("WARNING: R/W mount of / denied.  Filesystem is {why} - run fsck\n");
        crate::printf!("ffs: root on {name} mounted read-only\n");
        FS_RDONLY.store(true, core::sync::atomic::Ordering::Relaxed);
    };
    if !clean {
        rdonly("not clean");
        return Ok(());
    }
    if let Some((n, (frag, ino))) = ffs_preen(dev) {
        crate::printf!("ffs: {name}: marked clean, but {n} fragments in use are free in the maps (first: fragment {frag} of inode {ino})\n");
        rdonly("damaged");
        return Ok(());
    }
    // Mounted read-write: not clean until ffs_unmount says so.
    if let Some(fs) = ROOTFS.get() {
        fs.set_clean(false)?;
    }
    Ok(())
}

/// The check a clean file system gets before a read-write mount: blocks a
/// file holds that the maps call free, which the allocator would hand out
/// again over the file. OpenBSD trusts the clean flag (`fsck -p` skips a
/// clean file system), so this is ppcbsd's own guard (doc/fidelity.md);
/// it runs where the device's contents can be read in place (rd), without
/// a transfer. Their number and the first, if there are any.
fn ffs_preen(dev: Dev) -> Option<(usize, (u64, u32))> {
    let mut found = None;
    conf::bdev_contents(dev, &mut |img| {
        if let Ok(r) = ffs::fsck::check(img) {
            found = r.free_in_use.first().map(|&first| (r.free_in_use.len(), first));
        }
    });
    found
}

/// Writes every delayed write of the file system (OpenBSD ffs_sync): the
/// files' buffers, then the metadata in the device's.
pub fn ffs_sync() -> Result<u32, Errno> {
    Ok(vfs_bio::vflushbuf_files()? + vfs_bio::vflushbuf(ROOTVP)?)
}

/// Syncs, marks the file system clean and syncs that (OpenBSD
/// ffs_unmount), at halt (vfs_unmountall).
pub fn ffs_unmount() {
    let Some(fs) = ROOTFS.get() else { return };
    let name = DevName(conf::rootdev());
    if ffs_rdonly() {
        crate::printf!("ffs: {name} unmounted (read-only, left as it was)\n");
        return;
    }
    let damaged = || FS_DAMAGED.load(core::sync::atomic::Ordering::Relaxed);
    let r = ffs_sync().and_then(|n| {
        if !damaged() {
            fs.set_clean(true).map_err(|e| ffs_error(0, e))?;
        }
        Ok(n + ffs_sync()?)
    });
    match r {
        Ok(n) if damaged() => crate::printf!("ffs: {name} unmounted, left unclean: damage was reported ({n} buffers written)\n"),
        Ok(n) => crate::printf!("ffs: {name} unmounted clean ({n} buffers written)\n"),
        Err(e) => crate::printf!("ffs: {name}: unmount failed: {e}\n"),
    }
}

pub fn rootfs() -> Result<&'static ffs::Fs<BufDevice>, Errno> {
    ROOTFS.get().ok_or(Errno::ENXIO)
}

/// The inode number behind a vnode of this file system.
pub fn vtoino(vp: &'static Vnode) -> u32 {
    vp.with(|v| v.v_data) as u32
}

/// The on-disk inode behind a vnode of this file system, from the inode
/// cache if it holds it (OpenBSD keeps each vnode's inode in core).
pub fn vtoi(vp: &'static Vnode) -> Result<ffs::Inode, Errno> {
    let ino = vtoino(vp);
    if let Some(ip) = ICACHE.lock()[ino as usize % NICACHE].filter(|ip| ip.ino == ino) {
        return Ok(ip);
    }
    let before = IWRITES.load(Ordering::Relaxed);
    let ip = rootfs()?.inode(ino).map_err(|e| ffs_error(ino, e))?;
    let mut c = ICACHE.lock();
    // A write to an inode while this one was read (the read may sleep)
    // could have made it stale: then it is not kept.
    if IWRITES.load(Ordering::Relaxed) == before {
        c[ino as usize % NICACHE] = Some(ip);
    }
    Ok(ip)
}

/// Inodes as `vtoi` last read and checked them, one slot per inode number
/// modulo NICACHE. Inodes are written only through BufDevice (and never
/// by a file's data: ffs_strategy checks), which drops the entries a write
/// meets; so an entry always equals the disk.
const NICACHE: usize = 256;
static ICACHE: Mutex<[Option<ffs::Inode>; NICACHE]> = Mutex::new(Ipl::None, [None; NICACHE]);
/// Writes that met inodes, for `vtoi`'s read-while-written check.
static IWRITES: AtomicU32 = AtomicU32::new(0);

/// Drops the cached inodes that a write of device bytes `off..off + len`
/// meets.
pub fn ffs_inodes_written(off: u64, len: usize) {
    let Some(sb) = ROOTFS.get().map(|fs| fs.sb()) else { return };
    let Some(inos) = sb.inodes_at(off, len as u64) else { return };
    IWRITES.fetch_add(1, Ordering::Relaxed);
    let mut c = ICACHE.lock();
    let (first, last) = (*inos.start(), *inos.end());
    if (last - first) as usize >= NICACHE {
        c.fill(None);
        return;
    }
    for ino in first..=last {
        let slot = &mut c[ino as usize % NICACHE];
        if slot.is_some_and(|ip| ip.ino == ino) {
            *slot = None;
        }
    }
}

/// The vnode type of an inode mode.
pub fn mode_vtype(k: ffs::FileType) -> VType {
    match k {
        ffs::FileType::Dir => VType::VDIR,
        ffs::FileType::Regular => VType::VREG,
        ffs::FileType::Symlink => VType::VLNK,
        _ => VType::VNON,
    }
}

/// The vnode of inode `ino`, referenced and locked (OpenBSD ffs_vget).
/// A vnode found in the inode hash is taken with `vget(LK_EXCLUSIVE)`, as
/// ufs_ihashget does, so a lookup of a vnode whose lock is held waits
/// holding its reference; a new one from getnewvnode is locked before it
/// enters the hash, as ufs_ihashins does.
#[inline(never)]
pub fn ffs_vget(ino: u32) -> Result<&'static Vnode, Errno> {
    loop {
        let hit = IHASH.lock().get(&ino).copied();
        if let Some(vp) = hit {
            match vget(vp, LkFlags::LK_EXCLUSIVE) {
                Ok(()) => return Ok(vp),
                // Being reclaimed: it leaves the hash; look again.
                Err(Errno::ENOENT) => continue,
                Err(e) => return Err(e),
            }
        }
        let ip = rootfs()?.inode(ino).map_err(|e| ffs_error(ino, e))?;
        let vp = getnewvnode(&FFS_VNODEOPS)?;
        // Nobody else knows this vnode yet: the lock is free.
        if let Err(e) = vn_lock(vp, LkFlags::LK_EXCLUSIVE) {
            vrele(vp);
            return Err(e);
        }
        // getnewvnode may have slept: someone else may have made it meanwhile.
        let mut h = IHASH.lock();
        if h.contains_key(&ino) {
            drop(h);
            vput(vp);
            continue;
        }
        vp.with(|v| {
            v.v_data = ino as u64;
            v.v_type = mode_vtype(ip.kind());
        });
        h.insert(ino, vp);
        return Ok(vp);
    }
}

/// Takes a reclaimed vnode's inode out of the hash.
pub fn ufs_ihashrem(vp: &'static Vnode) {
    let ino = vp.with(|v| v.v_data) as u32;
    let mut h = IHASH.lock();
    if h.get(&ino).is_some_and(|&x| core::ptr::eq(x, vp)) {
        h.remove(&ino);
    }
}
