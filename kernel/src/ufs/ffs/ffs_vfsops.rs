//! Mounting FFS and getting vnodes for its inodes (OpenBSD ffs_vfsops.c:
//! ffs_mountroot, ffs_mount, ffs_vget with the inode hash, ffs_sync,
//! ffs_unmount). Each mounted file system has its `Ufsmount` (OpenBSD's
//! struct ufsmount): its device, superblock, inode hash and flags; a vnode
//! finds its own through `v_data`, which holds the mount's slot beside the
//! inode number. The on-disk format is the shared `ffs` crate's, reading
//! and writing through the buffer cache, so every block read sleeps in
//! biowait like a disk's would.

use crate::arch::intr::Ipl;
use crate::kern::kern_mutex::Mutex;
use crate::kern::kern_rwlock::Rwlock;
use crate::kern::vfs_bio::{self, BufId};
use crate::kern::vfs_subr::{getnewvnode, vget, vn_lock, vput, vrele, Vnode};
use crate::sys::conf::{self, Dev, DevName};
use crate::sys::errno::Errno;
use crate::sys::mount::{Mount, VfsOps};
use crate::sys::vnode::{LkFlags, VType};
use crate::ufs::ffs::ffs_vnops::FFS_VNODEOPS;
use alloc::collections::BTreeMap;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use spin::Once;

/// SBSIZE: the superblock's size, and where the standard locations align.
const SBSIZE: u32 = 8192;

/// Mounted FFS file systems at most: the root (rd0) and a user's image.
pub const NUFSMOUNT: usize = 2;

/// Inodes as `vtoi` last read and checked them, one slot per inode number
/// modulo NICACHE. Inodes are written only through BufDevice (and never
/// by a file's data: ffs_strategy checks), which drops the entries a write
/// meets; so an entry always equals the disk.
const NICACHE: usize = 256;

/// One mounted FFS (OpenBSD struct ufsmount).
pub struct Ufsmount {
    /// Its slot in UFSMOUNTS, which its vnodes' v_data carry.
    slot: usize,
    /// The device (um_dev) and the buffer-cache vnode of its blocks
    /// (um_devvp), set at mount.
    dev: AtomicU32,
    devvp: AtomicU32,
    /// The device's size in bytes, read once at mount (d_psize; rd's
    /// fit in 32 bits).
    devsize: AtomicU32,
    /// The size of the device buffers the metadata lives in: the
    /// superblock's size while it is looked for, then the block size
    /// (OpenBSD reads the superblock in SBSIZE and everything after in
    /// fs_bsize or fs_cgsize buffers).
    devbsize: AtomicU32,
    fs: Once<ffs::Fs<BufDevice>>,
    /// Held around every change to the cylinder groups and summaries
    /// (OpenBSD holds the group's buffer busy instead). A leaf lock: only
    /// device I/O happens under it.
    alloclock: Rwlock,
    /// Set once damage was reported: the unmount then leaves the file
    /// system unclean, so that fsck looks at it (OpenBSD's FS_UNCLEAN).
    damaged: AtomicBool,
    /// MNT_RDONLY: it was not clean, so it is mounted read-only, as
    /// OpenBSD's ffs_mountfs denies a read-write mount of an unclean file
    /// system.
    rdonly: AtomicBool,
    /// The inode hash (OpenBSD ufs_ihash): the vnode of each inode in use.
    ihash: Mutex<BTreeMap<u32, &'static Vnode>>,
    icache: Mutex<[Option<ffs::Inode>; NICACHE]>,
    /// Writes that met inodes, for `vtoi`'s read-while-written check.
    iwrites: AtomicU32,
}

impl Ufsmount {
    const fn new(slot: usize) -> Ufsmount {
        Ufsmount {
            slot,
            dev: AtomicU32::new(conf::NODEV),
            devvp: AtomicU32::new(0),
            devsize: AtomicU32::new(0),
            devbsize: AtomicU32::new(SBSIZE),
            fs: Once::new(),
            alloclock: Rwlock::new("ffsalloc"),
            damaged: AtomicBool::new(false),
            rdonly: AtomicBool::new(false),
            ihash: Mutex::new(Ipl::None, BTreeMap::new()),
            icache: Mutex::new(Ipl::None, [None; NICACHE]),
            iwrites: AtomicU32::new(0),
        }
    }

    pub fn dev(&self) -> Dev {
        self.dev.load(Ordering::Relaxed)
    }

    /// The buffer-cache vnode of the device's blocks.
    pub fn devvp(&self) -> u32 {
        self.devvp.load(Ordering::Relaxed)
    }

    fn devsize(&self) -> u64 {
        self.devsize.load(Ordering::Relaxed) as u64
    }

    /// The size of the device buffers.
    pub fn devbsize(&self) -> usize {
        self.devbsize.load(Ordering::Relaxed) as usize
    }

    /// The `ffs` crate's file system; ENXIO before it is mounted.
    pub fn fs(&self) -> Result<&ffs::Fs<BufDevice>, Errno> {
        self.fs.get().ok_or(Errno::ENXIO)
    }

    /// The device as the `ffs` crate sees it (for the self-tests).
    pub fn device(&self) -> BufDevice {
        BufDevice(self.slot)
    }

    pub fn rdonly(&self) -> bool {
        self.rdonly.load(Ordering::Relaxed)
    }

    /// The device buffer holding byte `off` of the device: its block
    /// number and the byte's place in it.
    pub fn devblk(&self, off: u64) -> (u64, usize) {
        let bs = self.devbsize() as u64;
        (off / bs * bs / vfs_bio::DEV_BSIZE as u64, (off % bs) as usize)
    }

    /// Device buffer `blkno`, busy, for writing `n` of its bytes: a whole
    /// block is not read first.
    pub fn devbuf_for_write(&self, blkno: u64, n: usize) -> Result<BufId, Errno> {
        let bs = self.devbsize();
        if n == bs {
            Ok(vfs_bio::getblk(self.devvp(), blkno, bs))
        } else {
            vfs_bio::bread(self.devvp(), blkno, bs)
        }
    }

    /// Splits the device range [off, off + len) into device buffers: calls
    /// `f(done, blkno, within, n)` for each piece (bytes `done..done + n`
    /// of the range, at byte `within` of the buffer whose block number is
    /// `blkno`). A range outside the device, or any piece failing, is the
    /// device-range error.
    fn for_each_devblk(&self, off: u64, len: usize, mut f: impl FnMut(usize, u64, usize, usize) -> Result<(), ()>) -> Result<(), ffs::Error> {
        let size = self.devsize();
        let err = ffs::Error::DeviceRange { off, len: len as u64, size };
        if off.checked_add(len as u64).is_none_or(|e| e > size) {
            return Err(err);
        }
        let mut done = 0usize;
        while done < len {
            let (blkno, within) = self.devblk(off + done as u64);
            let n = (self.devbsize() - within).min(len - done);
            f(done, blkno, within, n).map_err(|_| err)?;
            done += n;
        }
        Ok(())
    }

    /// An ffs crate error as an errno, named on the console with its
    /// inode (a bad block number or directory entry is the caller's error,
    /// not a panic).
    pub fn error(&self, ino: u32, e: ffs::Error) -> Errno {
        match e {
            ffs::Error::NoSpace { .. } => Errno::ENOSPC,
            ffs::Error::FileTooBig { .. } => Errno::EFBIG,
            e => {
                crate::printf!("ffs: {}: inode {ino}: {e}\n", DevName(self.dev()));
                self.damaged.store(true, Ordering::Relaxed);
                Errno::EIO
            }
        }
    }

    /// Runs a change to the file system (allocation, a write, a directory
    /// change) under the allocation lock; EROFS on a read-only mount.
    pub fn modify<R>(&self, ino: u32, f: impl FnOnce(&ffs::Fs<BufDevice>) -> Result<R, ffs::Error>) -> Result<R, Errno> {
        if self.rdonly() {
            return Err(Errno::EROFS);
        }
        let fs = self.fs()?;
        self.alloclock.rw_enter_write();
        let r = f(fs);
        self.alloclock.rw_exit();
        r.map_err(|e| self.error(ino, e))
    }

    /// The on-disk inode `ino`, from the inode cache if it holds it
    /// (OpenBSD keeps each vnode's inode in core).
    pub fn inode(&self, ino: u32) -> Result<ffs::Inode, Errno> {
        if let Some(ip) = self.icache.lock()[ino as usize % NICACHE].filter(|ip| ip.ino == ino) {
            return Ok(ip);
        }
        let before = self.iwrites.load(Ordering::Relaxed);
        let ip = self.fs()?.inode(ino).map_err(|e| self.error(ino, e))?;
        let mut c = self.icache.lock();
        // A write to an inode while this one was read (the read may sleep)
        // could have made it stale: then it is not kept.
        if self.iwrites.load(Ordering::Relaxed) == before {
            c[ino as usize % NICACHE] = Some(ip);
        }
        Ok(ip)
    }

    /// Drops the cached inodes that a write of device bytes `off..off +
    /// len` meets.
    pub fn inodes_written(&self, off: u64, len: usize) {
        let Some(sb) = self.fs.get().map(|fs| fs.sb()) else { return };
        let Some(inos) = sb.inodes_at(off, len as u64) else { return };
        self.iwrites.fetch_add(1, Ordering::Relaxed);
        let mut c = self.icache.lock();
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
}

static UFSMOUNTS: [Ufsmount; NUFSMOUNT] = [Ufsmount::new(0), Ufsmount::new(1)];

/// The Ufsmount of a mount (OpenBSD VFSTOUFS).
pub fn vfstoufs(mp: Mount) -> &'static Ufsmount {
    &UFSMOUNTS[mp.mnt_data]
}

/// The Ufsmount a vnode of FFS belongs to.
pub fn vtoump(vp: &'static Vnode) -> &'static Ufsmount {
    &UFSMOUNTS[(vp.with(|v| v.v_data) >> 32) as usize % NUFSMOUNT]
}

/// The root file system's Ufsmount.
pub fn rootump() -> &'static Ufsmount {
    &UFSMOUNTS[0]
}

/// A mounted device as the `ffs` crate's device, read in buffers of its
/// device vnode the size of a file-system block, aligned on one.
pub struct BufDevice(usize);

impl BufDevice {
    fn ump(&self) -> &'static Ufsmount {
        &UFSMOUNTS[self.0]
    }
}

impl ffs::Device for BufDevice {
    fn len(&self) -> u64 {
        self.ump().devsize()
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<(), ffs::Error> {
        let ump = self.ump();
        ump.for_each_devblk(off, buf.len(), |done, blkno, within, n| {
            let bp = vfs_bio::bread(ump.devvp(), blkno, ump.devbsize()).map_err(|_| ())?;
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
        let ump = self.ump();
        ump.for_each_devblk(off, buf.len(), |done, blkno, within, n| {
            let bp = ump.devbuf_for_write(blkno, n).map_err(|_| ())?;
            vfs_bio::with_buf(bp, |b| b.b_data[within..within + n].copy_from_slice(&buf[done..done + n]));
            // Each piece once it is in its buffer (getting the buffer may
            // sleep): an inode read before is dropped here or not kept
            // (vtoi), one read after finds the new bytes.
            ump.inodes_written(off + done as u64, n);
            vfs_bio::bdwrite(bp);
            Ok(())
        })
    }

    /// In the device buffer itself when the range lies in one (a cylinder
    /// group's block does): the buffer stays busy while `f` runs and is
    /// left a delayed write if `f` changed it. A cylinder-group change
    /// used to copy the whole block out and back in.
    fn edit_at<R>(&self, off: u64, len: usize, f: impl FnOnce(&mut [u8]) -> Result<(R, bool), ffs::Error>) -> Result<R, ffs::Error> {
        let ump = self.ump();
        let (blkno, within) = ump.devblk(off);
        if within + len > ump.devbsize() || off + len as u64 > ump.devsize() {
            return ffs::edit_copy(self, off, len, f);
        }
        let bp = vfs_bio::bread(ump.devvp(), blkno, ump.devbsize()).map_err(|_| ffs::Error::DeviceRange { off, len: len as u64, size: ump.devsize() })?;
        // The busy buffer's data is its owner's: taken out, so no lock is
        // held while `f` runs (it may read other blocks).
        let mut data = vfs_bio::with_buf(bp, |b| core::mem::take(&mut b.b_data));
        let r = f(&mut data[within..within + len]);
        vfs_bio::with_buf(bp, |b| b.b_data = data);
        match r {
            Ok((r, true)) => {
                ump.inodes_written(off, len);
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

/// FFS as the generic VFS sees it (OpenBSD ffs_vfsops).
pub static FFS_VFSOPS: VfsOps = VfsOps {
    vfs_mount: ffs_mount,
    vfs_root: |mp| ffs_vget(vfstoufs(mp), ffs::ROOTINO),
    vfs_vget: |mp, ino| ffs_vget(vfstoufs(mp), ino),
    vfs_isroot: |mp, vp| core::ptr::eq(vtoump(vp), vfstoufs(mp)) && vtoino(vp) == ffs::ROOTINO && core::ptr::addr_eq(vp.op(), &FFS_VNODEOPS),
    vfs_sync: |mp| ffs_sync(vfstoufs(mp)),
    vfs_unmount: |mp| ffs_unmount(vfstoufs(mp)),
};

/// Mounts the file system on `dev` (OpenBSD ffs_mountroot for the root,
/// ffs_mount for another): the mount, or EINVAL after saying why not.
pub fn ffs_mount(dev: Dev, at: &str) -> Result<Mount, Errno> {
    let Some(ump) = UFSMOUNTS.iter().find(|u| u.fs.get().is_none() && u.dev() == conf::NODEV) else {
        crate::printf!("ffs: cannot mount {} on {at}: {NUFSMOUNT} file systems are mounted\n", DevName(dev));
        return Err(Errno::EBUSY);
    };
    ump.dev.store(dev, Ordering::Relaxed);
    ffs_mountfs(ump, dev, at).map_err(|e| {
        crate::printf!("ffs: cannot mount {} on {at}: {e}\n", DevName(dev));
        // The slot is free again unless the file system got into it.
        if ump.fs.get().is_none() {
            ump.dev.store(conf::NODEV, Ordering::Relaxed);
        }
        Errno::EINVAL
    })?;
    Ok(Mount { mnt_op: &FFS_VFSOPS, mnt_data: ump.slot, mnt_vnodecovered: None })
}

fn ffs_mountfs(ump: &'static Ufsmount, dev: Dev, at: &str) -> Result<(), ffs::Error> {
    ump.devsize.store(conf::bdev_size(dev).min(u32::MAX as u64) as u32, Ordering::Relaxed);
    ump.devvp.store(vfs_bio::bdevvp(dev), Ordering::Relaxed);
    ump.devbsize.store(SBSIZE, Ordering::Relaxed);
    let fs = ffs::Fs::mount(BufDevice(ump.slot))?;
    let sb = fs.sb();
    // The superblock's buffers go (nothing was written, so nothing can
    // fail to be); from here on the device is read in file-system blocks.
    vfs_bio::invalbuf(ump.devvp(), true).map_err(|_| ffs::Error::DeviceRange { off: 0, len: SBSIZE as u64, size: ump.devsize() })?;
    ump.devbsize.store(sb.bsize, Ordering::Relaxed);
    let name = DevName(dev);
    let what = if at == "/" { "root" } else { at };
    crate::printf!("ffs: {what} on {name}, {:?}, {} byte blocks, {} fragments, {} inodes\n", sb.version, sb.bsize, sb.size, sb.ninodes());
    let clean = fs.is_clean()?;
    let fs = ump.fs.call_once(|| fs);
    // OpenBSD's words (ffs_mountfs); its root is mounted read-only first
    // anyway, and so is this one.
    let rdonly = |why: &str| {
        crate::printf!("WARNING: R/W mount of {at} denied.  Filesystem is {why} - run fsck\n");
        crate::printf!("ffs: {what} on {name} mounted read-only\n");
        ump.rdonly.store(true, Ordering::Relaxed);
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
    fs.set_clean(false)
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
pub fn ffs_sync(ump: &'static Ufsmount) -> Result<u32, Errno> {
    Ok(vfs_bio::vflushbuf_files()? + vfs_bio::vflushbuf(ump.devvp())?)
}

/// Syncs, marks the file system clean and syncs that (OpenBSD
/// ffs_unmount), at halt (vfs_unmountall).
pub fn ffs_unmount(ump: &'static Ufsmount) {
    let Ok(fs) = ump.fs() else { return };
    let name = DevName(ump.dev());
    if ump.rdonly() {
        crate::printf!("ffs: {name} unmounted (read-only, left as it was)\n");
        return;
    }
    let damaged = || ump.damaged.load(Ordering::Relaxed);
    let r = ffs_sync(ump).and_then(|n| {
        if !damaged() {
            fs.set_clean(true).map_err(|e| ump.error(0, e))?;
        }
        Ok(n + ffs_sync(ump)?)
    });
    match r {
        Ok(n) if damaged() => crate::printf!("ffs: {name} unmounted, left unclean: damage was reported ({n} buffers written)\n"),
        Ok(n) => crate::printf!("ffs: {name} unmounted clean ({n} buffers written)\n"),
        Err(e) => crate::printf!("ffs: {name}: unmount failed: {e}\n"),
    }
}

/// The inode number behind a vnode of this file system.
pub fn vtoino(vp: &'static Vnode) -> u32 {
    vp.with(|v| v.v_data) as u32
}

/// The on-disk inode behind a vnode of this file system.
pub fn vtoi(vp: &'static Vnode) -> Result<ffs::Inode, Errno> {
    vtoump(vp).inode(vtoino(vp))
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
pub fn ffs_vget(ump: &'static Ufsmount, ino: u32) -> Result<&'static Vnode, Errno> {
    loop {
        let hit = ump.ihash.lock().get(&ino).copied();
        if let Some(vp) = hit {
            match vget(vp, LkFlags::LK_EXCLUSIVE) {
                Ok(()) => return Ok(vp),
                // Being reclaimed: it leaves the hash; look again.
                Err(Errno::ENOENT) => continue,
                Err(e) => return Err(e),
            }
        }
        let ip = ump.fs()?.inode(ino).map_err(|e| ump.error(ino, e))?;
        let vp = getnewvnode(&FFS_VNODEOPS)?;
        // Nobody else knows this vnode yet: the lock is free.
        if let Err(e) = vn_lock(vp, LkFlags::LK_EXCLUSIVE) {
            vrele(vp);
            return Err(e);
        }
        // getnewvnode may have slept: someone else may have made it meanwhile.
        let mut h = ump.ihash.lock();
        if h.contains_key(&ino) {
            drop(h);
            vput(vp);
            continue;
        }
        vp.with(|v| {
            v.v_data = (ump.slot as u64) << 32 | ino as u64;
            v.v_type = mode_vtype(ip.kind());
        });
        h.insert(ino, vp);
        return Ok(vp);
    }
}

/// Takes a reclaimed vnode's inode out of the hash.
pub fn ufs_ihashrem(vp: &'static Vnode) {
    let ino = vtoino(vp);
    let mut h = vtoump(vp).ihash.lock();
    if h.get(&ino).is_some_and(|&x| core::ptr::eq(x, vp)) {
        h.remove(&ino);
    }
}
