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

/// Runs /bin/fsstress seeded with `seed` in directory `dir` and waits for
/// it.
pub fn workload_fsstress(seed: u64, dir: &str) {
    crate::uvm::uvm_pdaemon::uvm_pagedaemon_start();
    let arg = alloc::format!("{seed}");
    let Some(pid) = kern_exec::proc_spawn("/bin/fsstress", &["fsstress", &arg, dir]) else {
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

/// `test=rd1-fill`: fills the user's image on /mnt with one file until a
/// write fails, which must be ENOSPC, then removes the file; the host
/// checks the saved rd1 (`--save-image`) and finds what was there before.
pub fn ktest_rd1_fill() {
    use crate::kern::vfs_vnops::{vn_close, vn_open};
    use crate::sys::syscalls::{O_CREAT, O_WRONLY};
    const PATH: &str = "/mnt/fill";
    let vp = match vn_open(PATH, O_CREAT | O_WRONLY, 0o644) {
        Ok(vp) => vp,
        Err(e) => return printf!("rd1-fill: cannot create {PATH}: {e}\n"),
    };
    let buf = alloc::vec![0x5au8; 16 * 1024];
    let mut off = 0u64;
    let err = loop {
        match vn_rdwr(vp, Uio::Write(&buf), off) {
            // Nothing written and no error: the loop would not end.
            Ok(0) => break Errno::EIO,
            // A short write is followed by one that fails.
            Ok(n) => off += n as u64,
            Err(e) => break e,
        }
    };
    vn_close(vp, O_WRONLY);
    printf!("rd1-fill: wrote {off} bytes to {PATH}, then {err}\n");
    if err != Errno::ENOSPC {
        return printf!("rd1-fill: FAILED: the write that did not fit gave {err}, not ENOSPC\n");
    }
    match crate::kern::vfs_syscalls::sys_unlink(PATH.as_bytes()) {
        Ok(_) => printf!("rd1-fill: ENOSPC, as expected; removed {PATH}\n"),
        Err(e) => printf!("rd1-fill: FAILED: unlink {PATH}: {e}\n"),
    }
}

/// `test=rd1-namei`: lookups across the mount on /mnt: down into the
/// user's image, `..` back up out of its root, and the calls OpenBSD
/// refuses there (rmdir of the mount point EBUSY, rename across file
/// systems EXDEV). One line per check; `rd1-namei: ok` when all held.
pub fn ktest_rd1_namei() {
    use crate::kern::vfs_syscalls::{sys_rename, sys_rmdir};
    let same = |a: &str, b: &str| match (namei_lookup(a), namei_lookup(b)) {
        (Ok(x), Ok(y)) => {
            let r = core::ptr::eq(x, y);
            vrele(x);
            vrele(y);
            r
        }
        (Ok(x), Err(_)) | (Err(_), Ok(x)) => {
            vrele(x);
            false
        }
        _ => false,
    };
    let mut bad = 0;
    let mut check = |what: &str, ok: bool| {
        printf!("rd1-namei: {what}: {}\n", if ok { "ok" } else { "FAILED" });
        bad += !ok as u32;
    };
    let root = namei_lookup("/");
    let mnt = namei_lookup("/mnt");
    let crossed = match (&root, &mnt) {
        (Ok(r), Ok(m)) => !core::ptr::eq(*r, *m) && crate::kern::vfs_init::vfs_coveredroot(m).is_some(),
        _ => false,
    };
    for vp in [root, mnt].into_iter().flatten() {
        vrele(vp);
    }
    check("/mnt is the root of the user's image", crossed);
    check("/mnt/.. is /", same("/mnt/..", "/"));
    check("/mnt/docs/../.. is /", same("/mnt/docs/../..", "/"));
    check("/mnt/../etc/motd is /etc/motd", same("/mnt/../etc/motd", "/etc/motd"));
    check("/mnt/docs/../readme is /mnt/readme", same("/mnt/docs/../readme", "/mnt/readme"));
    check("rmdir /mnt is EBUSY", sys_rmdir(b"/mnt") == Err(Errno::EBUSY));
    check("rename /mnt/readme /readme is EXDEV", sys_rename(b"/mnt/readme", b"/readme") == Err(Errno::EXDEV));
    check("rename /etc/motd /mnt/motd is EXDEV", sys_rename(b"/etc/motd", b"/mnt/motd") == Err(Errno::EXDEV));
    check("rename /etc/hosts over /mnt is EXDEV", sys_rename(b"/etc/hosts", b"/mnt") == Err(Errno::EXDEV));
    if bad == 0 {
        printf!("rd1-namei: ok\n");
    }
}
