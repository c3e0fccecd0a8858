//! Race-window coverage, after KRACE (Xu, Kashyap, Min and Kim, S&P 2020):
//! a boot that passed says little unless the threads it ran were ever
//! inside the race together. Each side of a window is a span of kernel code
//! working on one vnode; a window is entered when a thread enters its side
//! while another span of the other side is open on the same vnode (the same
//! thread counts too: the pagedaemon's own terminate inside its pageout is
//! F3's shape). The counts are printed at halt (`race: windows: …`) and
//! summed by `cargo xtask stress`, so that "held for N boots" can say
//! across how many entries into each window. OpenBSD has no such counter.

use crate::arch::intr::Ipl;
use crate::kern::kern_mutex::Mutex;
use crate::kern::vfs_subr::Vnode;
use core::fmt::Write;
use core::sync::atomic::{AtomicU32, Ordering};

/// A span of code on one vnode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The pagedaemon's uvm_pager_put of one of the vnode's pages.
    Pageout,
    /// vclean's uvm_vnp_terminate of the vnode's object.
    Terminate,
    /// ffs_truncate shrinking the file (the vnode locked).
    Truncate,
    /// uvm_vnp_sync, from taking the object's reference to its detach.
    Sync,
}

/// The windows, as their halt line names them.
const WINDOWS: [(Side, Side, &str); 3] = [
    (Side::Pageout, Side::Terminate, "pageout/terminate"),
    (Side::Pageout, Side::Truncate, "pageout/truncate"),
    (Side::Sync, Side::Terminate, "sync/terminate"),
];

/// Open spans at most: more (there are fewer threads in any workload) are
/// not tracked.
const SLOTS: usize = 64;

static OPEN: Mutex<[Option<(Side, usize)>; SLOTS]> = Mutex::new(Ipl::High, [None; SLOTS]);
static ENTRIES: [AtomicU32; WINDOWS.len()] = [const { AtomicU32::new(0) }; WINDOWS.len()];

/// An open span; closed when dropped.
#[must_use]
pub struct Span(Option<usize>);

/// Opens a span of `side` on `vp`, counting the windows it enters.
pub fn span(side: Side, vp: &'static Vnode) -> Span {
    let key = vp as *const Vnode as usize;
    let mut open = OPEN.lock();
    for (w, &(a, b, _)) in WINDOWS.iter().enumerate() {
        let other = if side == a {
            b
        } else if side == b {
            a
        } else {
            continue;
        };
        if open.iter().flatten().any(|&(s, k)| s == other && k == key) {
            ENTRIES[w].fetch_add(1, Ordering::Relaxed);
        }
    }
    let slot = open.iter().position(Option::is_none);
    if let Some(i) = slot {
        open[i] = Some((side, key));
    }
    Span(slot)
}

impl Drop for Span {
    fn drop(&mut self) {
        if let Some(i) = self.0 {
            OPEN.lock()[i] = None;
        }
    }
}

/// The halt line: `race: windows: N pageout/terminate, …`.
pub fn race_windows_print(out: &mut dyn Write) {
    let _ = write!(out, "race: windows:");
    for (w, &(_, _, name)) in WINDOWS.iter().enumerate() {
        let _ = write!(out, "{} {} {name}", if w > 0 { "," } else { "" }, ENTRIES[w].load(Ordering::Relaxed));
    }
    let _ = writeln!(out);
}
