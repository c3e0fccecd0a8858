//! The vnode operations of FFS (OpenBSD ffs_vnops.c): the operations
//! table, pointing at the ufs_* name-space operations, and ffs_read,
//! ffs_write, ffs_fsync and the strategy routine of a file's buffers.

use crate::kern::kern_proc::curproc;
use crate::kern::vfs_bio::{self, BFlags, BufId, DEV_BSIZE};
use crate::kern::vfs_subr::Vnode;
use crate::sys::conf;
use crate::sys::errno::Errno;
use crate::sys::vnode::{IoFlags, RenameArgs, VType, VnodeOps};
use crate::ufs::ffs::ffs_inode::ffs_truncate;
use crate::ufs::ffs::ffs_vfsops::{ffs_sync, vtoi, vtoino, vtoump, BufDevice, Ufsmount};
use crate::ufs::ufs::ufs_inode::{ufs_inactive, ufs_reclaim};
use crate::ufs::ufs::ufs_lookup::{dtype, ufs_lookup};
use crate::ufs::ufs::ufs_vnops::{ufs_create, ufs_mkdir, ufs_remove, ufs_rename, ufs_rmdir};
use crate::uvm::uvm_vnode::{ffs_write_uncaches_first, uvm_vnp_setsize, uvm_vnp_uncache};

pub struct FfsVnodeOps;

pub static FFS_VNODEOPS: FfsVnodeOps = FfsVnodeOps;

/// VOP_READ of a locked vnode: a regular file block by block through its
/// own buffers (bread), anything else straight from the device's.
#[inline(never)]
pub fn ffs_read(vp: &'static Vnode, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    let ip = vtoi(vp)?;
    if ip.is_dir() {
        return Err(Errno::EISDIR);
    }
    let ump = vtoump(vp);
    let fs = ump.fs()?;
    if vp.with(|v| v.v_type) != VType::VREG {
        return fs.read(&ip, off, buf).map_err(|e| ump.error(ip.ino, e));
    }
    let bsize = fs.sb().bsize as u64;
    let mut done = 0usize;
    while done < buf.len() {
        let at = off + done as u64;
        if at >= ip.size {
            break;
        }
        let (lbn, boff) = (at / bsize, (at % bsize) as usize);
        let n = ((bsize as usize - boff).min(buf.len() - done) as u64).min(ip.size - at) as usize;
        // OpenBSD's choice: read ahead when the next block is in the file
        // and this read follows the last one or goes on past this block.
        let lastr = vp.with(|v| v.v_ci_lastr);
        let bp = if (lbn + 1) * bsize < ip.size && (lastr.is_some_and(|l| l + 1 == lbn) || buf.len() - done > n) {
            vfs_bio::bread_cluster(vp.v_id, lbn, bsize as usize, || ffs_bmap_run(fs, &ip, lbn + 1, vfs_bio::MAXPHYS / bsize as usize))?
        } else {
            vfs_bio::bread(vp.v_id, lbn, bsize as usize)?
        };
        vp.with(|v| v.v_ci_lastr = Some(lbn));
        vfs_bio::with_buf(bp, |b| buf[done..done + n].copy_from_slice(&b.b_data[boff..boff + n]));
        vfs_bio::brelse(bp);
        done += n;
    }
    Ok(done)
}

/// VOP_BMAP's run for block `lbn`: how many blocks from `lbn` on (at most
/// `max`) lie one after another on the disk; None if `lbn` is a hole or
/// cannot be mapped.
fn ffs_bmap_run(fs: &ffs::Fs<BufDevice>, ip: &ffs::Inode, lbn: u64, max: usize) -> Option<usize> {
    fs.bmap_run(ip, lbn, max).ok().flatten().map(|(_, run)| run)
}

/// VOP_WRITE of a locked vnode, block by block in OpenBSD's order
/// (ffs_vnops.c 1.100): the block allocated and its buffer taken, busy
/// (UFS_BUF_ALLOC: read first unless the whole block is written); the new
/// size given to the object (uvm_vnp_setsize); uvm_vnp_uncache — with the
/// buffer still busy, so the uncache's flush of a dirty page of the same
/// block sleeps on it in getblk, the "persistbug"; then the copy, and
/// bawrite of a whole block or bdwrite of a part. Under fixed-2 the
/// uncache comes first, before any buffer is held. Returns the bytes
/// written. A failure (ENOSPC) is an error however much was written, as
/// OpenBSD's: the pager's write then fails (VM_PAGER_ERROR) and its pages
/// stay dirty; with IO_UNIT (write(2)) the file is cut back to its old
/// size first (ffs_vnops.c:398-404@2ea167a2).
#[inline(never)]
pub fn ffs_write(vp: &'static Vnode, off: u64, buf: &[u8], ioflag: IoFlags) -> Result<usize, Errno> {
    let ip = vtoi(vp)?;
    if ip.is_dir() {
        return Err(Errno::EISDIR);
    }
    let before = ffs_writer_enter(vp);
    let r = ffs_write_blocks(vp, off, buf, ioflag);
    if r.is_err() && ioflag.contains(IoFlags::IO_UNIT) {
        let _ = crate::ufs::ffs::ffs_inode::ffs_truncate(vp, ip.size);
    }
    ffs_writer_exit(vp, before);
    r
}

fn ffs_write_blocks(vp: &'static Vnode, off: u64, buf: &[u8], ioflag: IoFlags) -> Result<usize, Errno> {
    let fs = vtoump(vp).fs()?;
    let bsize = fs.sb().bsize as u64;
    let mut done = 0usize;
    while done < buf.len() {
        let at = off + done as u64;
        let (lbn, boff) = (at / bsize, (at % bsize) as usize);
        let n = (bsize as usize - boff).min(buf.len() - done);
        if ffs_write_uncaches_first() {
            uvm_vnp_uncache(vp);
        }
        let mut ip = vtoi(vp)?;
        let osize = ip.size;
        // The allocation may grow or move the file's partial last block
        // (ffs_realloccg), copying it on the disk: its delayed write goes
        // out first, so the copy is of current data and the buffer is
        // never written where the block no longer is.
        if osize > 0 && fs.blksize(&ip, (osize - 1) / bsize) < bsize {
            vfs_bio::bflush(vp.v_id, (osize - 1) / bsize)?;
        }
        vtoump(vp).modify(ip.ino, |fs| fs.balloc_write(&mut ip, at, n))?;
        let bp = if n as u64 == bsize { vfs_bio::getblk(vp.v_id, lbn, bsize as usize) } else { vfs_bio::bread(vp.v_id, lbn, bsize as usize)? };
        if ip.size > osize {
            uvm_vnp_setsize(vp, ip.size);
        }
        if !ffs_write_uncaches_first() {
            uvm_vnp_uncache(vp);
        }
        vfs_bio::with_buf(bp, |b| {
            b.b_data[boff..boff + n].copy_from_slice(&buf[done..done + n]);
            // As ffs_write: the buffer goes once written (bdwrite keeps a
            // delayed write cached all the same).
            if ioflag.contains(IoFlags::IO_NOCACHE) {
                b.b_flags |= vfs_bio::BFlags::B_NOCACHE;
            }
        });
        if boff + n == bsize as usize {
            vfs_bio::bawrite(bp);
        } else {
            vfs_bio::bdwrite(bp);
        }
        done += n;
    }
    Ok(done)
}

/// Notes a thread writing the inode, and says so on the console if another
/// is already inside: the vnode lock should make that impossible, and
/// uvn_io's VNISLOCKED write to a dying object does not take it.
fn ffs_writer_enter(vp: &'static Vnode) -> Option<u32> {
    let me = curproc();
    let other = vp.with(|v| v.v_writer.replace(me));
    // The same thread inside again is OpenBSD's own nesting: ffs_write's
    // uvm_vnp_uncache flushes the object's dirty pages through VOP_WRITE
    // with the vnode lock it holds (VNISLOCKED).
    match other {
        Some(t) if t != me => crate::printf!(
            "ffs_write: vnode {} (inode {}): thread {me} writes while thread {t} is inside ffs_write; vnode lock {}\n",
            vp.v_id,
            vtoino(vp),
            vp.v_lock.rw_status()
        ),
        _ => {}
    }
    other
}

/// Leaves ffs_write: an outer write of this same thread is inside again.
fn ffs_writer_exit(vp: &'static Vnode, before: Option<u32>) {
    let me = curproc();
    vp.with(|v| {
        if v.v_writer == Some(me) {
            v.v_writer = before.filter(|&t| t == me);
        }
    });
}

/// VOP_STRATEGY for a file's buffer: its logical block mapped to the disk
/// (ufs_bmaparray) and handed to the device's driver, as OpenBSD's does:
/// the file buffer stays busy until rd's completion interrupt. Read-ahead
/// buffers of its cluster (bread_cluster) go in the same transfer as long
/// as each still lies right after the one before. Only the bytes the block
/// holds on disk move (a fragment-sized last block holds fewer); the rest
/// reads as zeros. A block no longer mapped (truncated away) reads as
/// zeros and is not written.
///
/// The device's cache holds the directories and indirect blocks the `ffs`
/// crate reads, in buffers of a whole file-system block, and a file's
/// last fragments may share such a block: a file block inside a device
/// block the cache holds moves through that buffer instead, so the two
/// never disagree. A read is then served from it, or starts its transfer
/// with the file buffer chained; a write copies into it and starts its
/// transfer, chained the same way (a whole block is not read first).
pub fn ffs_strategy(vp: &'static Vnode, bp: BufId) {
    let (lbn, read, cluster) = vfs_bio::with_buf(bp, |b| (b.b_blkno, b.b_flags.contains(BFlags::B_READ), core::mem::take(&mut b.b_cluster)));
    let mut carried = 0;
    // Ok(true): the I/O is over; Ok(false): a transfer will end it.
    let r = (|| -> Result<bool, Errno> {
        let ump = vtoump(vp);
        let fs = ump.fs()?;
        let ip = vtoi(vp)?;
        let Some((off, extent, run)) = ffs_blkloc(ump, fs, &ip, lbn, 1 + cluster.len())? else {
            if read {
                vfs_bio::with_buf(bp, |b| b.b_data.fill(0));
            }
            return Ok(true);
        };
        let (dblkno, within) = ump.devblk(off);
        if !vfs_bio::incore(ump.devvp(), dblkno) {
            if !read {
                // Only a damaged image puts a file's block on inodes; an
                // inode read after this is queued behind the write.
                ump.inodes_written(off, extent);
            }
            // The cluster's blocks still following this one on the disk
            // (the mapping's run), and not in the device's cache.
            let bsize = fs.sb().bsize as usize;
            let mut end = off + extent as u64;
            for (k, &xbp) in cluster.iter().enumerate().take(run - 1) {
                let xlbn = lbn + 1 + k as u64;
                let xextent = fs.blksize(&ip, xlbn) as usize;
                if vfs_bio::with_buf(xbp, |b| b.b_blkno) != xlbn
                    || vfs_bio::incore(ump.devvp(), ump.devblk(end).0)
                    || ump.devblk(end).1 + xextent > ump.devbsize()
                {
                    break;
                }
                vfs_bio::with_buf(xbp, |b| (b.b_dblkno, b.b_bcount) = (end / DEV_BSIZE as u64, xextent));
                end += xextent as u64;
                carried += 1;
                if xextent < bsize {
                    break;
                }
            }
            vfs_bio::with_buf(bp, |b| {
                (b.b_dblkno, b.b_bcount) = (off / DEV_BSIZE as u64, extent);
                b.b_cluster = cluster[..carried].to_vec();
            });
            conf::bdev_strategy(ump.dev(), bp);
            return Ok(false);
        }
        if read {
            return Ok(vfs_bio::bread_chain(ump.devvp(), dblkno, ump.devbsize(), vfs_bio::Chain { file: bp, within, extent }));
        }
        let dbp = ump.devbuf_for_write(dblkno, extent)?;
        vfs_bio::bufcopy(bp, 0, dbp, within, extent);
        ump.inodes_written(off, extent);
        vfs_bio::bawrite_chain(dbp, bp);
        Ok(false)
    })();
    // Read-ahead buffers the transfer does not carry are read on their own.
    for &xbp in &cluster[carried..] {
        ffs_strategy(vp, xbp);
    }
    if r == Ok(false) {
        return;
    }
    let _s = crate::arch::intr::splbio();
    vfs_bio::biodone(bp, r.map(|_| ()));
}

/// Where block `lbn` of the file lies on the device: its byte offset, the
/// bytes it holds there, and how many blocks from it on (at most `max`)
/// lie one after another on the disk (VOP_BMAP's run); None for a hole.
fn ffs_blkloc(ump: &Ufsmount, fs: &ffs::Fs<BufDevice>, ip: &ffs::Inode, lbn: u64, max: usize) -> Result<Option<(u64, usize, usize)>, Errno> {
    let Some((blk, run)) = fs.bmap_run(ip, lbn, max).map_err(|e| ump.error(ip.ino, e))? else { return Ok(None) };
    let extent = fs.blksize(ip, lbn) as usize;
    let off = fs.sb().frag_offset(blk).map_err(|e| ump.error(ip.ino, e))?;
    if ump.devblk(off).1 + extent > ump.devbsize() {
        return Err(ump.error(ip.ino, ffs::Error::BadBlockPointer { ino: ip.ino, blk, fs_frags: fs.sb().size }));
    }
    Ok(Some((off, extent, run)))
}

/// VOP_FSYNC: the file's delayed writes, then the file system's metadata.
pub fn ffs_fsync(vp: &'static Vnode) -> Result<(), Errno> {
    vfs_bio::vflushbuf(vp.v_id)?;
    ffs_sync(vtoump(vp)).map(|_| ())
}

impl VnodeOps for FfsVnodeOps {
    fn name(&self) -> &'static str {
        "ffs"
    }

    fn vop_inactive(&self, vp: &'static Vnode) -> Result<(), Errno> {
        ufs_inactive(vp)
    }

    fn vop_reclaim(&self, vp: &'static Vnode) -> Result<(), Errno> {
        ufs_reclaim(vp)
    }

    fn vop_lookup(&self, dvp: &'static Vnode, name: &[u8]) -> Result<&'static Vnode, Errno> {
        ufs_lookup(dvp, name)
    }

    fn vop_read(&self, vp: &'static Vnode, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        ffs_read(vp, off, buf)
    }

    fn vop_readdir(&self, vp: &'static Vnode, f: &mut dyn FnMut(u32, u8, &[u8]) -> bool) -> Result<(), Errno> {
        let dir = vtoi(vp)?;
        if !dir.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let ump = vtoump(vp);
        ump.fs()?.readdir(&dir, &mut |e| f(e.ino, dtype(e.kind), e.name)).map_err(|e| ump.error(dir.ino, e))
    }

    fn vop_getattr_size(&self, vp: &'static Vnode) -> Result<u64, Errno> {
        Ok(vtoi(vp)?.size)
    }

    fn vop_getattr_mode(&self, vp: &'static Vnode) -> Result<u16, Errno> {
        Ok(vtoi(vp)?.mode)
    }

    fn vop_write(&self, vp: &'static Vnode, off: u64, buf: &[u8], ioflag: IoFlags) -> Result<usize, Errno> {
        ffs_write(vp, off, buf, ioflag)
    }

    fn vop_create(&self, dvp: &'static Vnode, name: &[u8], mode: u16) -> Result<&'static Vnode, Errno> {
        ufs_create(dvp, name, mode)
    }

    fn vop_remove(&self, dvp: &'static Vnode, vp: &'static Vnode, name: &[u8]) -> Result<(), Errno> {
        ufs_remove(dvp, vp, name)
    }

    fn vop_mkdir(&self, dvp: &'static Vnode, name: &[u8], mode: u16) -> Result<&'static Vnode, Errno> {
        ufs_mkdir(dvp, name, mode)
    }

    fn vop_rmdir(&self, dvp: &'static Vnode, vp: &'static Vnode, name: &[u8]) -> Result<(), Errno> {
        ufs_rmdir(dvp, vp, name)
    }

    fn vop_rename(&self, r: &RenameArgs) -> Result<(), Errno> {
        ufs_rename(r)
    }

    fn vop_truncate(&self, vp: &'static Vnode, len: u64) -> Result<(), Errno> {
        ffs_truncate(vp, len)
    }

    fn vop_fsync(&self, vp: &'static Vnode) -> Result<(), Errno> {
        ffs_fsync(vp)
    }

    fn mnt_rdonly(&self, vp: &'static Vnode) -> bool {
        vtoump(vp).rdonly()
    }

    fn vop_strategy(&self, vp: &'static Vnode, bp: BufId) {
        ffs_strategy(vp, bp)
    }
}
