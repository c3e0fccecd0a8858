//! ddb's printers of the vnode pager's objects: `show object`, the
//! vnode a panic named (with its flight-recorder history), the brief form
//! the deadlock report uses.

use crate::kern::vfs_subr::Vnode;
use crate::uvm::uvm_page::{PgFlags, VmPage, PAGE_SIZE};
use alloc::vec::Vec;

/// Prints the vnode a panic named and its uvm_vnode: counts, lock,
/// flags, and every page with its flags and queue.
pub fn db_show_panic_vnode(out: &mut dyn core::fmt::Write) {
    let id = crate::uvm::uvm_vnode::uvm_panic_vnode_id();
    let Some(vp) = crate::kern::vfs_subr::vnode_by_id_try(id) else { return };
    db_show_vnode_brief(out, vp);
    crate::diag::vfs_hist::vhist_print(out, id);
}

/// The vnode's counts, flags and lock, and its object with every page.
pub fn db_show_vnode_brief(out: &mut dyn core::fmt::Write, vp: &'static Vnode) {
    let id = vp.v_id;
    let v = vp.try_with(|v| (v.v_type, v.v_usecount, v.v_holdcnt, v.v_writecount, v.v_lflag, v.v_bioflag, v.v_op.name(), v.v_data));
    match v {
        Some((t, use_, hold, wr, lf, bf, op, data)) => {
            let _ = writeln!(
                out,
                "vnode {id}: type {t:?}, usecount {use_}, holdcnt {hold}, writecount {wr}, lflag {lf:?}, bioflag {bf:?}, ops {op}, inode {data}, lock {}",
                vp.v_lock.rw_status()
            );
        }
        None => {
            let _ = writeln!(out, "vnode {id}: (fields locked)");
        }
    }
    let u = vp.v_uvm.try_with(|u| (u.u_flags, u.uo_refs, u.u_nio, u.u_size, u.pages.iter().map(|(&i, &p)| (i, p)).collect::<Vec<_>>()));
    match u {
        Some((f, refs, nio, size, pages)) => {
            let _ = writeln!(
                out,
                "uvm_vnode {id}: flags {f:?}, uo_refs {refs}, u_nio {nio}, u_size {size}, {} pages, vmobjlock {}",
                pages.len(),
                vp.v_uvm.vmobjlock.rw_status()
            );
            for (i, p) in pages {
                let q = crate::uvm::uvm_page::uvm_page_queue_try(p);
                let _ = writeln!(out, "  page {i}: pa {:#x}, flags {:?}, queue {q}", p.phys_addr(), p.flags());
            }
        }
        None => {
            let _ = writeln!(out, "uvm_vnode {id}: (locked)");
        }
    }
}

/// Whether a page of an object is dirty, for the debugger: not PG_CLEAN,
/// or modified through a mapping (None: the pmap is locked).
pub fn db_page_dirty(pg: &VmPage) -> Option<bool> {
    if !pg.flags().contains(PgFlags::PG_CLEAN) {
        return Some(true);
    }
    crate::arch::pmap::pmap_is_modified_try(pg)
}

/// ddb `show object ID` (the object of vnode ID), in OpenBSD
/// uvm_object_printit's shape, with the uvm_vnode's own fields; `full`
/// lists the pages as <page, offset>.
pub fn uvm_object_printit(out: &mut dyn core::fmt::Write, vp: &'static Vnode, full: bool) {
    let uvn = &vp.v_uvm;
    let Some((f, refs, nio, size, pages)) =
        uvn.try_with(|u| (u.u_flags, u.uo_refs, u.u_nio, u.u_size, u.pages.iter().map(|(&i, &p)| (i, p)).collect::<Vec<_>>()))
    else {
        let _ = writeln!(out, "OBJECT {:p}: (locked)", uvn);
        return;
    };
    let _ = writeln!(out, "OBJECT {:p}: pgops=uvm_vnodeops, npages={}, refs={}", uvn, pages.len(), refs);
    let _ = write!(out, "  vnode {} u_flags ", vp.v_id);
    let mut any = false;
    for (n, _) in f.iter_names() {
        let _ = write!(out, "{}{}", if any { "|" } else { "" }, n.trim_start_matches("UVM_VNODE_"));
        any = true;
    }
    let dirty = pages.iter().filter(|(_, p)| db_page_dirty(p) == Some(true)).count();
    let _ = writeln!(out, "{} u_nio {nio} u_size {size:#x} dirty pages {dirty} vmobjlock {}", if any { "" } else { "-" }, uvn.vmobjlock.rw_status());
    if !full {
        return;
    }
    if let Some((_, p)) = pages.first() {
        crate::ddb::db_command::db_set_dot(*p as *const VmPage as usize);
    }
    let _ = write!(out, "  PAGES <pg,offset>:\n  ");
    for (k, (i, p)) in pages.iter().enumerate() {
        let _ = write!(out, "<{:p},{:#x}> ", *p, *i as u64 * PAGE_SIZE as u64);
        if k % 3 == 2 {
            let _ = write!(out, "\n  ");
        }
    }
    let _ = writeln!(out);
}
