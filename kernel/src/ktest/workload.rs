//! Workloads (`workload=` bootarg) the kernel runs instead of the demo, for
//! the host to compare with what it knows. `walk` prints every regular file
//! reachable from the root through the VFS as `walk: PATH SIZE CRC32` (from
//! the user's image at /mnt when one was given, with paths inside it);
//! `fsstress` runs /bin/fsstress with the boot's seed.

use crate::kern::vfs_lookup::namei_lookup;
use crate::kern::vfs_subr::{vn_lock, vop_unlock, vrele, Vnode};
use crate::kern::vfs_vnops::{vn_rdwr, Uio};
use crate::kern::vfs_vops::{VOP_LOOKUP, VOP_READDIR};
use crate::kern::{kern_exec, kern_exit};
use crate::printf;
use crate::sys::errno::Errno;
use crate::sys::vnode::{LkFlags, VType};
use alloc::string::String;
use alloc::vec::Vec;
use kcore::crc32::Crc32;

/// Deepest directory walked (bounds the work on a looping image).
const MAXDEPTH: usize = 32;

/// Runs /bin/fsstress seeded with `seed` and waits for it.
pub fn workload_fsstress(seed: u64) {
    crate::uvm::uvm_pdaemon::uvm_pagedaemon_start();
    let arg = alloc::format!("{seed}");
    let Some(pid) = kern_exec::proc_spawn("/bin/fsstress", &["fsstress", &arg]) else {
        printf!("fsstress: cannot start /bin/fsstress\n");
        return;
    };
    match kern_exit::dowait4(pid as i32) {
        Ok((_, status)) => printf!("fsstress: exited with status {}\n", kcore::syscalls::wexitstatus(status)),
        Err(e) => printf!("fsstress: wait: {e}\n"),
    }
}

pub fn workload_walk() {
    let mut counts = (0u32, 0u32);
    let top = if crate::kern::vfs_init::mountlist().len() > 1 { crate::kern::init_main::USER_MNT } else { "/" };
    match namei_lookup(top) {
        Ok(root) => {
            walk_dir(root, &mut String::new(), 0, &mut counts);
            vrele(root);
        }
        Err(e) => printf!("walk: {top}: {e}\n"),
    }
    printf!("walk: {} files, {} directories\n", counts.0, counts.1);
}

fn file_crc(vp: &'static Vnode) -> Result<(u64, u32), Errno> {
    let mut crc = Crc32::default();
    let mut buf = alloc::vec![0u8; 32 * 1024];
    let mut off = 0u64;
    loop {
        let n = vn_rdwr(vp, Uio::Read(&mut buf), off)?;
        if n == 0 {
            return Ok((off, crc.finish()));
        }
        crc.update(&buf[..n]);
        off += n as u64;
    }
}

fn walk_dir(dvp: &'static Vnode, path: &mut String, depth: usize, counts: &mut (u32, u32)) {
    counts.1 += 1;
    let mut entries: Vec<Vec<u8>> = Vec::new();
    let r = vn_lock(dvp, LkFlags::LK_SHARED).and_then(|()| {
        let r = VOP_READDIR(dvp, &mut |_, _, name| {
            if name != b"." && name != b".." {
                entries.push(name.to_vec());
            }
            true
        });
        vop_unlock(dvp);
        r
    });
    if let Err(e) = r {
        printf!("walk: {path}/: {e}\n");
        return;
    }
    for name in entries {
        let len = path.len();
        path.push('/');
        path.push_str(&String::from_utf8_lossy(&name));
        // In the directory's own file system: the walk does not cross
        // mounts.
        let found = vn_lock(dvp, LkFlags::LK_EXCLUSIVE).and_then(|()| {
            let r = VOP_LOOKUP(dvp, &name);
            // A damaged directory may name itself: one lock, the directory's.
            if let Ok(&vp) = r.as_ref() {
                if !core::ptr::eq(vp, dvp) {
                    vop_unlock(vp);
                }
            }
            vop_unlock(dvp);
            r
        });
        match found {
            Ok(vp) => {
                match vp.with(|v| v.v_type) {
                    VType::VDIR if depth < MAXDEPTH => walk_dir(vp, path, depth + 1, counts),
                    VType::VREG => match file_crc(vp) {
                        Ok((size, crc)) => {
                            counts.0 += 1;
                            printf!("walk: {path} {size} {crc:08x}\n");
                        }
                        Err(e) => printf!("walk: {path}: {e}\n"),
                    },
                    _ => {}
                }
                vrele(vp);
            }
            Err(e) => printf!("walk: {path}: {e}\n"),
        }
        path.truncate(len);
    }
}
