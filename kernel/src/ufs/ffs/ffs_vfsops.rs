//! Mounting FFS on rd0 and getting vnodes for its inodes (OpenBSD
//! ffs_vfsops.c: ffs_mountroot, ffs_vget with the inode hash). The on-disk
//! format is the shared `ffs` crate's, reading through the buffer cache,
//! so every block read sleeps in biowait like a disk's would.

use crate::arch::powerpc::intr::Ipl;
use crate::dev::rd;
use crate::kern::kern_mutex::Mutex;
use crate::kern::vfs_bio::{self, RDVP};
use crate::kern::vfs_subr::{getnewvnode, vget, vrele, Vnode};
use crate::sys::errno::Errno;
use crate::sys::vnode::{LkFlags, VType};
use crate::ufs::ffs::ffs_vnops::FFS_VNODEOPS;
use alloc::collections::BTreeMap;
use spin::Once;

/// The device blocks the file system reads through the cache: large, since
/// every transfer takes at least a clock tick to complete.
const DEVBLK: u64 = 32 * 1024;

/// rd0 as the `ffs` crate's device, read in DEVBLK buffers.
pub struct BufDevice;

impl ffs::Device for BufDevice {
    fn len(&self) -> u64 {
        rd::rd_size() as u64
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<(), ffs::Error> {
        let size = rd::rd_size() as u64;
        let err = ffs::Error::DeviceRange { off, len: buf.len() as u64, size };
        if off.checked_add(buf.len() as u64).is_none_or(|e| e > size) {
            return Err(err);
        }
        let mut done = 0usize;
        while done < buf.len() {
            let at = off + done as u64;
            let blk = at / DEVBLK;
            let within = (at % DEVBLK) as usize;
            let n = (DEVBLK as usize - within).min(buf.len() - done);
            let bp = vfs_bio::bread(RDVP, blk * DEVBLK / vfs_bio::DEV_BSIZE as u64, DEVBLK as usize).map_err(|_| err)?;
            vfs_bio::with_buf(bp, |b| buf[done..done + n].copy_from_slice(&b.b_data[within..within + n]));
            vfs_bio::brelse(bp);
            done += n;
        }
        Ok(())
    }
}

static ROOTFS: Once<ffs::Fs<BufDevice>> = Once::new();
/// The inode hash (OpenBSD ufs_ihash): the vnode of each inode in use.
static IHASH: Mutex<BTreeMap<u32, &'static Vnode>> = Mutex::new(Ipl::None, BTreeMap::new());

/// Mounts the root file system from rd0 (OpenBSD ffs_mountroot).
pub fn ffs_mountroot() -> Result<(), ffs::Error> {
    let fs = ffs::Fs::mount(BufDevice)?;
    let sb = fs.sb();
    crate::printf!(
        "ffs: root on rd0, {:?}, {} byte blocks, {} fragments, {} inodes\n",
        sb.version,
        sb.bsize,
        sb.size,
        sb.ninodes()
    );
    ROOTFS.call_once(|| fs);
    Ok(())
}

pub fn rootfs() -> Result<&'static ffs::Fs<BufDevice>, Errno> {
    ROOTFS.get().ok_or(Errno::ENXIO)
}

/// The on-disk inode behind a vnode of this file system.
pub fn vtoi(vp: &'static Vnode) -> Result<ffs::Inode, Errno> {
    let ino = vp.with(|v| v.v_data) as u32;
    rootfs()?.inode(ino).map_err(|e| {
        crate::printf!("ffs: inode {ino}: {e}\n");
        Errno::EIO
    })
}

/// The vnode of inode `ino`, referenced (OpenBSD ffs_vget): from the inode
/// hash, or a vnode from getnewvnode filled from the disk inode.
pub fn ffs_vget(ino: u32) -> Result<&'static Vnode, Errno> {
    loop {
        let hit = IHASH.lock().get(&ino).copied();
        if let Some(vp) = hit {
            match vget(vp, LkFlags::empty()) {
                Ok(()) => return Ok(vp),
                // Being reclaimed: it leaves the hash; look again.
                Err(Errno::ENOENT) => continue,
                Err(e) => return Err(e),
            }
        }
        let ip = rootfs()?.inode(ino).map_err(|e| {
            crate::printf!("ffs: inode {ino}: {e}\n");
            Errno::EIO
        })?;
        let vp = getnewvnode(&FFS_VNODEOPS)?;
        // getnewvnode may have slept: someone else may have made it meanwhile.
        let mut h = IHASH.lock();
        if h.contains_key(&ino) {
            drop(h);
            vrele(vp);
            continue;
        }
        vp.with(|v| {
            v.v_data = ino as u64;
            v.v_type = match ip.kind() {
                ffs::FileType::Dir => VType::VDIR,
                ffs::FileType::Regular => VType::VREG,
                ffs::FileType::Symlink => VType::VLNK,
                _ => VType::VNON,
            };
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
