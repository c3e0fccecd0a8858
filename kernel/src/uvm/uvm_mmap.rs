//! The mapping system calls (OpenBSD uvm_mmap.c): mmap, munmap, msync.

use crate::kern::kern_proc::curproc;
use crate::kern::{vfs_syscalls, vfs_vnops};
use crate::sys::errno::Errno;
use crate::sys::syscalls::*;
use crate::sys::vnode::VType;
use crate::uvm::uvm_extern::Prot;
use crate::uvm::uvm_map::{with_curvmspace as vm, MapObj, VmSpace};
use crate::uvm::uvm_page::{round_page, PAGE_SIZE};
use crate::uvm::uvm_vnode;
use alloc::vec::Vec;

/// Where mmap looks for space when given no address.
const MMAP_BASE: u32 = 0x4000_0000;

/// mmap(2): (addr, len, prot, flags, fd, offset), the offset 64 bits and
/// page-aligned. Anonymous memory, or a window on a regular file,
/// MAP_SHARED or MAP_PRIVATE (copy-on-write).
pub fn sys_mmap(addr: u32, len: u32, prot: u32, flags: u32, fd: u32, off: i64) -> Result<u32, Errno> {
    if len == 0 || !addr.is_multiple_of(PAGE_SIZE) || off % PAGE_SIZE as i64 != 0 {
        return Err(Errno::EINVAL);
    }
    // The object's page index is 32 bits: 16 TiB, more than FFS holds. An
    // offset that wraps is EINVAL, as OpenBSD's (uvm_mmap.c:309-310@2ea167a2);
    // a negative one too, which OpenBSD lets through (doc/fidelity.md).
    let pgoff = u32::try_from(off / PAGE_SIZE as i64).ok().filter(|p| p.checked_add(len.div_ceil(PAGE_SIZE)).is_some()).ok_or(Errno::EINVAL)?;
    let prot = Prot::from_bits(prot).ok_or(Errno::EINVAL)?;
    let size = round_page(len as u64) as u32;
    let place = |vs: &mut VmSpace| vs.map.find_space(if addr != 0 { addr } else { MMAP_BASE }, size).ok_or(Errno::ENOMEM);
    let limit = crate::kern::kern_resource::lim_cur_data();
    if flags & MAP_ANON != 0 {
        return vm(|vs| {
            if (prot != Prot::NONE || flags & MAP_SHARED != 0) && !vs.dused_allows(size, limit) {
                return Err(Errno::ENOMEM);
            }
            let start = place(vs)?;
            vs.uvm_map_anon(start, start + size, prot)?;
            Ok(start)
        });
    }
    let shared = match flags & (MAP_SHARED | MAP_PRIVATE) {
        MAP_SHARED => true,
        MAP_PRIVATE => false,
        _ => return Err(Errno::EINVAL),
    };
    // A private writable window may become anonymous memory page by page
    // (uvm_mmap.c:386-392@2ea167a2).
    if !shared && prot.contains(Prot::WRITE) && !vm(|vs| Ok(vs.dused_allows(size, limit)))? {
        return Err(Errno::ENOMEM);
    }
    let (vp, fflag) = vfs_syscalls::file_vnode(curproc(), fd)?;
    if vp.with(|v| v.v_type) != VType::VREG {
        return Err(Errno::ENODEV);
    }
    if shared && prot.contains(Prot::WRITE) && !vfs_vnops::fwrite(fflag) {
        return Err(Errno::EACCES);
    }
    // maxprot: a shared window on a descriptor open for writing may be
    // made writable later, so OpenBSD's uvm_mmapfile treats it as writable
    // whatever `prot` says (uvn_attach's WRITEABLE list, and the hack).
    let writeable = shared && vfs_vnops::fwrite(fflag);
    uvm_vnode::uvn_attach(vp, writeable)?;
    if writeable && crate::uvm::uvm_extern::uvm_mmap_uncache() {
        // OpenBSD's "XXXCDC hack": an object mapped shared with write in
        // its prot or maxprot may not persist, so its last unmap writes
        // and frees its pages. Without the vnode lock, as OpenBSD: the
        // attach's reference keeps the uncache from killing the object.
        uvm_vnode::uvm_vnp_uncache(vp);
    }
    let r = vm(|vs| {
        let start = place(vs)?;
        vs.uvm_map_obj(start, start + size, prot, MapObj { vp, pgoff, shared })?;
        Ok(start)
    });
    if r.is_err() {
        uvm_vnode::uvn_detach(vp);
    }
    r
}

/// munmap(2).
pub fn sys_munmap(addr: u32, len: u32) -> Result<u32, Errno> {
    if !addr.is_multiple_of(PAGE_SIZE) || len == 0 {
        return Err(Errno::EINVAL);
    }
    let end = addr.checked_add(round_page(len as u64) as u32).ok_or(Errno::EINVAL)?;
    let objs = vm(|vs| vs.uvm_unmap(addr, end))?;
    for (vp, n) in objs {
        for _ in 0..n {
            uvm_vnode::uvn_detach(vp);
        }
    }
    Ok(0)
}

/// msync(2): writes the dirty pages of the files mapped in [addr,
/// addr+len), each object's part of the range (OpenBSD uvm_map_clean, as
/// with MS_SYNC).
pub fn sys_msync(addr: u32, len: u32) -> Result<u32, Errno> {
    let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
    let ranges: Vec<_> = vm(|vs| {
        Ok(vs
            .map
            .iter()
            .filter(|e| e.start < end && addr < e.end)
            .filter_map(|e| {
                let o = e.data.obj?;
                let base = o.pgoff as u64 * PAGE_SIZE as u64;
                Some((o.vp, base + (addr.max(e.start) - e.start) as u64, base + (end.min(e.end) - e.start) as u64))
            })
            .collect())
    })?;
    for (vp, start, stop) in ranges {
        if !uvm_vnode::uvn_msync(vp, start, round_page(stop), true) {
            return Err(Errno::EIO);
        }
    }
    Ok(0)
}
