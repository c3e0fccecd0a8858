//! The vnode flight recorder: one global ring of events about vnodes and
//! their objects, always on (`kern.vhist=0` turns it off), printed as a
//! vnode's history when a panic or a deadlock report names that vnode, and
//! by ddb's `show vnode history`. OpenBSD has no such thing; it is here so
//! that a panic tells how the vnode got where it is (doc/explain.md).
//!
//! Each event carries the guest time, the thread, what happened, and the
//! counts that matter at that moment. A thread's sleeps and wakeups are
//! recorded while it works on a vnode (`vh_working`), with their wait
//! channel's name. Recording never sleeps, never allocates and never
//! waits for a lock: the vnode's and the object's fields are read with a
//! try-lock, and shown as unknown if the recording code holds them.

use crate::arch::{clock, cpu};
use crate::kern::vfs_subr::Vnode;
use crate::sys::vnode::VLFlags;
use crate::uvm::uvm_page::PgFlags;
use crate::uvm::uvm_pager::{PagerResult, PgoFlags};
use crate::uvm::uvm_vnode::UvnFlags;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// What happened (the OpenBSD function it happened in).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Vh {
    None,
    /// getnewvnode handed the vnode out; arg: 0 new, 1 from the free list,
    /// 2 from the hold list.
    Getnewvnode,
    /// arg: 0 or the errno it failed with.
    Vget,
    Vref,
    Vrele,
    Vput,
    /// Put on the free list (arg 1: at its head) or the hold list (arg 2),
    /// or moved between them as its first hold comes or its last goes.
    Freelist,
    /// Taken off the free or hold list by vget.
    Offlist,
    Vgonel,
    /// vclean sets VXLOCK (start) and clears it (VcleanDone).
    Vclean,
    VcleanDone,
    /// arg: 0 another reference to a live object, 1 a new object, 2 a
    /// persisting object taken up again.
    UvnAttach,
    /// arg: 0 references left, 1 the object persists (arg2: its dirty
    /// pages), 2 it is killed.
    UvnDetach,
    /// arg: 0 left alone, 1 still in use (CANPERSIST cleared), 2 killed.
    Uncache,
    Terminate,
    TerminateDone,
    /// arg: the PGO_ flags.
    Flush,
    /// A put answered "try again": the page is retried with PGO_SYNCIO.
    FlushAgain,
    FlushDone,
    /// arg: page index, arg2: pages in the cluster.
    PagerPut,
    /// arg2: the result.
    UvnPut,
    /// arg: first page, arg2: 1 write, 0 read.
    UvnIo,
    /// arg2: the result.
    UvnIoDone,
    /// The pagedaemon pages out an inactive page; arg: page index, arg2:
    /// the page's flags.
    Pageout,
    Tsleep,
    Wakeup,
    Panic,
    Deadlock,
}

impl Vh {
    /// The name printed, and parsed by `cargo xtask explain`.
    pub fn name(self) -> &'static str {
        match self {
            Vh::None => "-",
            Vh::Getnewvnode => "getnewvnode",
            Vh::Vget => "vget",
            Vh::Vref => "vref",
            Vh::Vrele => "vrele",
            Vh::Vput => "vput",
            Vh::Freelist => "freelist",
            Vh::Offlist => "offlist",
            Vh::Vgonel => "vgonel",
            Vh::Vclean => "vclean",
            Vh::VcleanDone => "vclean.done",
            Vh::UvnAttach => "uvn_attach",
            Vh::UvnDetach => "uvn_detach",
            Vh::Uncache => "uvm_vnp_uncache",
            Vh::Terminate => "uvm_vnp_terminate",
            Vh::TerminateDone => "uvm_vnp_terminate.done",
            Vh::Flush => "uvn_flush",
            Vh::FlushAgain => "uvn_flush.again",
            Vh::FlushDone => "uvn_flush.done",
            Vh::PagerPut => "uvm_pager_put",
            Vh::UvnPut => "uvn_put",
            Vh::UvnIo => "uvn_io",
            Vh::UvnIoDone => "uvn_io.done",
            Vh::Pageout => "pageout",
            Vh::Tsleep => "tsleep",
            Vh::Wakeup => "wakeup",
            Vh::Panic => "panic",
            Vh::Deadlock => "deadlock",
        }
    }
}

/// Counts read at the event; u8::MAX/u16::MAX: unknown (the recording
/// code held the fields' lock).
#[derive(Clone, Copy)]
struct VhEvent {
    /// Microseconds since the kernel started (the time base): wraps after
    /// 71 minutes.
    t_us: u32,
    vid: u32,
    arg: u32,
    arg2: u32,
    /// None (a null pointer) rather than "", so that the empty ring is all
    /// zeroes and lives in .bss, not in the kernel image.
    wmesg: Option<&'static str>,
    tid: u16,
    ev: Vh,
    v_lflag: u8,
    usecount: u8,
    holdcnt: u8,
    uo_refs: u8,
    u_nio: u8,
    u_flags: u16,
}

const EMPTY: VhEvent =
    VhEvent { t_us: 0, vid: 0, arg: 0, arg2: 0, wmesg: None, tid: 0, ev: Vh::None, v_lflag: 0, usecount: 0, holdcnt: 0, uo_refs: 0, u_nio: 0, u_flags: 0 };

/// Events the ring keeps (2 MiB): the race workload records about a
/// thousand a second, and fixed's deadlock is reported only when the run
/// ends (up to 30 s after the story began), so the ring holds a minute of
/// it; doc/explain.md has the measurements.
pub const VHIST_SIZE: usize = 65536;

struct Ring {
    ev: [VhEvent; VHIST_SIZE],
    /// Events recorded since boot; the next goes to recorded % VHIST_SIZE.
    recorded: u64,
}

/// Only touched with interrupts off (uniprocessor): the lock never spins.
static RING: spin::Mutex<Ring> = spin::Mutex::new(Ring { ev: [EMPTY; VHIST_SIZE], recorded: 0 });

/// A vnode's events since its object's last attach, kept apart from the
/// ring so that a busy file system cannot push a story out of it before
/// the story ends (a deadlock is reported when the run ends, seconds
/// later): the first STORY_HEAD events after the attach, which hold how P0
/// arose, and the last STORY_TAIL, which hold how it ended.
struct Story {
    head: [VhEvent; STORY_HEAD],
    tail: [VhEvent; STORY_TAIL],
    /// Events since the attach (0: no attach seen).
    total: u32,
}

const STORY_HEAD: usize = 64;
const STORY_TAIL: usize = 192;
/// Vnodes (by number, from 1) that keep a story: 2 MiB. A vnode numbered
/// higher has only the ring.
const NSTORY: usize = 256;
const NO_STORY: Story = Story { head: [EMPTY; STORY_HEAD], tail: [EMPTY; STORY_TAIL], total: 0 };
static STORIES: spin::Mutex<[Story; NSTORY]> = spin::Mutex::new([NO_STORY; NSTORY]);

impl Story {
    fn add(&mut self, e: VhEvent) {
        if e.ev == Vh::UvnAttach && e.arg == 1 {
            self.total = 0;
        } else if self.total == 0 {
            return;
        }
        let n = self.total as usize;
        if n < STORY_HEAD {
            self.head[n] = e;
        } else {
            self.tail[(n - STORY_HEAD) % STORY_TAIL] = e;
        }
        self.total += 1;
    }

    /// The kept events, oldest first, with the number left out between
    /// the head and the tail.
    fn events(&self) -> (impl Iterator<Item = &VhEvent>, usize) {
        let n = self.total as usize;
        let in_tail = n.saturating_sub(STORY_HEAD).min(STORY_TAIL);
        let left_out = n.saturating_sub(STORY_HEAD + STORY_TAIL);
        let first = (n.saturating_sub(STORY_HEAD) + STORY_TAIL - in_tail) % STORY_TAIL;
        let tail = (0..in_tail).map(move |k| &self.tail[(first + k) % STORY_TAIL]);
        (self.head[..n.min(STORY_HEAD)].iter().chain(tail), left_out)
    }
}
static ON: AtomicBool = AtomicBool::new(true);
/// The running thread and the vnode it works on; mi_switch swaps them.
static CUR_TID: AtomicU32 = AtomicU32::new(0);
static CUR_VID: AtomicU32 = AtomicU32::new(0);

/// Thread names by tid (the slot's tid must match: a name outlives the
/// thread, and a reused slot forgets the old one).
const NCOMM: usize = 256;
static COMM: spin::Mutex<[(u32, [u8; 12]); NCOMM]> = spin::Mutex::new([(u32::MAX, [0; 12]); NCOMM]);

pub fn vhist_set(on: bool) {
    ON.store(on, Ordering::Relaxed);
}

pub fn vhist_on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Remembers thread `tid`'s name (at its creation and at exec).
pub fn vh_comm(tid: u32, name: &str) {
    let mut n = [0u8; 12];
    let b = name.as_bytes();
    let k = b.len().min(n.len());
    n[..k].copy_from_slice(&b[..k]);
    cpu::with_interrupts_disabled(|| COMM.lock()[tid as usize % NCOMM] = (tid, n));
}

fn comm_of(tid: u32, out: &mut [u8; 12]) -> usize {
    let c = COMM.try_lock().map(|c| c[tid as usize % NCOMM]);
    match c {
        Some((t, n)) if t == tid => {
            *out = n;
            n.iter().position(|&b| b == 0).unwrap_or(n.len())
        }
        _ => 0,
    }
}

/// mi_switch: the thread `tid` runs next, working on vnode `vid`; returns
/// the vnode the outgoing thread worked on, to keep with it.
pub fn vh_switch(tid: u32, vid: u32) -> u32 {
    CUR_TID.store(tid, Ordering::Relaxed);
    CUR_VID.swap(vid, Ordering::Relaxed)
}

/// Microseconds since the kernel started, from the time base.
pub fn uptime_us() -> u64 {
    let f = clock::tbfreq().max(1) as u64;
    let tb = cpu::mftb().saturating_sub(crate::kern::kern_clock::boottime_tb());
    tb / f * 1_000_000 + tb % f * 1_000_000 / f
}

/// Prints `WHAT at uptime S.mmm s` (a panic, a deadlock report), the line
/// stress takes its guest times from.
pub fn print_uptime(out: &mut dyn Write, what: &str) {
    let us = uptime_us();
    let _ = writeln!(out, "{what} at uptime {}.{:03} s", us / 1_000_000, us % 1_000_000 / 1000);
}

/// Marks the running thread as working on `vp` until the guard goes: its
/// sleeps and wakeups are recorded in `vp`'s history meanwhile.
pub struct Working(u32);

#[must_use]
pub fn vh_working(vp: &'static Vnode) -> Working {
    Working(CUR_VID.swap(vp.v_id, Ordering::Relaxed))
}

impl Drop for Working {
    fn drop(&mut self) {
        CUR_VID.store(self.0, Ordering::Relaxed);
    }
}

/// Records `ev` about `vp`.
pub fn vh(vp: &'static Vnode, ev: Vh, arg: u32, arg2: u32) {
    if !vhist_on() {
        return;
    }
    let (lflag, usecount, holdcnt) = vp
        .try_with(|v| {
            let lf = (v.v_lflag.contains(VLFlags::VXLOCK) as u8) | (v.v_lflag.contains(VLFlags::VXWANT) as u8) << 1;
            (lf, v.v_usecount.min(254) as u8, v.v_holdcnt.min(254) as u8)
        })
        .unwrap_or((u8::MAX, u8::MAX, u8::MAX));
    let (uo_refs, u_nio, u_flags) =
        vp.v_uvm.try_with(|u| (u.uo_refs.min(254) as u8, u.u_nio.min(254) as u8, u.u_flags.bits() as u16)).unwrap_or((u8::MAX, u8::MAX, u16::MAX));
    put(VhEvent {
        t_us: uptime_us() as u32,
        vid: vp.v_id,
        arg,
        arg2,
        wmesg: None,
        tid: CUR_TID.load(Ordering::Relaxed) as u16,
        ev,
        v_lflag: lflag,
        usecount,
        holdcnt,
        uo_refs,
        u_nio,
        u_flags,
    });
}

/// tsleep and its return: recorded when the thread works on a vnode.
pub fn vh_sleep(ev: Vh, wmesg: &'static str) {
    let vid = CUR_VID.load(Ordering::Relaxed);
    if vid != 0 {
        put_stateless(vid, ev, Some(wmesg));
    }
}

/// An event of vnode `vid` when the vnode itself cannot be reached (a
/// deadlock report while the vnode table is locked): its counts unknown.
pub fn vh_unknown(vid: u32, ev: Vh) {
    put_stateless(vid, ev, None);
}

fn put_stateless(vid: u32, ev: Vh, wmesg: Option<&'static str>) {
    if !vhist_on() {
        return;
    }
    let unknown = u8::MAX;
    put(VhEvent {
        t_us: uptime_us() as u32,
        vid,
        arg: 0,
        arg2: 0,
        wmesg,
        tid: CUR_TID.load(Ordering::Relaxed) as u16,
        ev,
        v_lflag: unknown,
        usecount: unknown,
        holdcnt: unknown,
        uo_refs: unknown,
        u_nio: unknown,
        u_flags: u16::MAX,
    });
}

fn put(e: VhEvent) {
    cpu::with_interrupts_disabled(|| {
        let mut r = RING.lock();
        let n = r.recorded;
        r.ev[(n % VHIST_SIZE as u64) as usize] = e;
        r.recorded = n + 1;
        if let Some(st) = STORIES.lock().get_mut((e.vid as usize).wrapping_sub(1)) {
            st.add(e);
        }
    });
}

fn pager_result(r: u32) -> &'static str {
    match r {
        x if x == PagerResult::VM_PAGER_OK as u32 => "VM_PAGER_OK",
        x if x == PagerResult::VM_PAGER_BAD as u32 => "VM_PAGER_BAD",
        x if x == PagerResult::VM_PAGER_ERROR as u32 => "VM_PAGER_ERROR",
        _ => "VM_PAGER_AGAIN",
    }
}

/// Flag names without their common prefix, joined by '|' ("-" if none).
fn names<I: Iterator<Item = (&'static str, bool)>>(out: &mut dyn Write, prefix: &str, it: I) -> fmt::Result {
    let mut any = false;
    for (n, set) in it {
        if set {
            write!(out, "{}{}", if any { "|" } else { "" }, n.strip_prefix(prefix).unwrap_or(n))?;
            any = true;
        }
    }
    if !any {
        out.write_str("-")?;
    }
    Ok(())
}

/// What the event says beyond its name.
fn detail(out: &mut dyn Write, e: &VhEvent) -> fmt::Result {
    match e.ev {
        Vh::Getnewvnode => write!(out, " {}", ["new", "from free list", "from hold list"][e.arg.min(2) as usize]),
        Vh::Vget if e.arg != 0 => write!(
            out,
            " {}",
            match e.arg {
                2 => "ENOENT",
                16 => "EBUSY",
                _ => "error",
            }
        ),
        Vh::Vget => write!(out, " ok"),
        Vh::Freelist => write!(out, " {}", ["tail", "head", "hold list"][e.arg.min(2) as usize]),
        Vh::UvnAttach => write!(out, " {}", ["reference", "new object", "persisting object"][e.arg.min(2) as usize]),
        Vh::UvnDetach if e.arg == 1 => write!(out, " persist dirty {}", e.arg2),
        Vh::UvnDetach => write!(out, " {}", ["references left", "persist", "kill"][e.arg.min(2) as usize]),
        Vh::Uncache => write!(out, " {}", ["left alone", "in use", "killed"][e.arg.min(2) as usize]),
        Vh::Flush => {
            out.write_char(' ')?;
            names(out, "PGO_", PgoFlags::from_bits_truncate(e.arg).iter_names().map(|(n, _)| (n, true)))
        }
        Vh::FlushAgain | Vh::Pageout => {
            write!(out, " page {}", e.arg)?;
            if e.ev == Vh::Pageout {
                out.write_str(" pflags ")?;
                names(out, "PG_", PgFlags::from_bits_truncate(e.arg2).iter_names().map(|(n, _)| (n, true)))?;
            }
            Ok(())
        }
        Vh::PagerPut => write!(out, " page {} npages {}", e.arg, e.arg2),
        Vh::UvnPut | Vh::UvnIoDone => write!(out, " {}", pager_result(e.arg2)),
        Vh::UvnIo => write!(out, " page {} {}", e.arg, if e.arg2 == 1 { "write" } else { "read" }),
        Vh::Tsleep | Vh::Wakeup => write!(out, " wmesg {}", e.wmesg.unwrap_or("?")),
        _ => Ok(()),
    }
}

fn print_event(out: &mut dyn Write, e: &VhEvent) -> fmt::Result {
    let mut c = [0u8; 12];
    let n = comm_of(e.tid as u32, &mut c);
    let comm = core::str::from_utf8(&c[..n]).ok().filter(|s| !s.is_empty()).unwrap_or("?");
    write!(out, "  {:4}.{:06} tid {} {} {}", e.t_us / 1_000_000, e.t_us % 1_000_000, e.tid, comm, e.ev.name())?;
    detail(out, e)?;
    if e.usecount == u8::MAX && e.uo_refs == u8::MAX {
        return out.write_char('\n');
    }
    let num = |out: &mut dyn Write, name: &str, v: u8| if v == u8::MAX { write!(out, " {name} ?") } else { write!(out, " {name} {v}") };
    out.write_str(" |")?;
    num(out, "usecount", e.usecount)?;
    num(out, "holdcnt", e.holdcnt)?;
    num(out, "uo_refs", e.uo_refs)?;
    num(out, "u_nio", e.u_nio)?;
    out.write_str(" v_lflag ")?;
    if e.v_lflag == u8::MAX {
        out.write_char('?')?;
    } else {
        names(out, "", [("VXLOCK", e.v_lflag & 1 != 0), ("VXWANT", e.v_lflag & 2 != 0)].into_iter())?;
    }
    out.write_str(" u_flags ")?;
    if e.u_flags == u16::MAX {
        out.write_char('?')?;
    } else {
        names(out, "UVM_VNODE_", UvnFlags::from_bits_truncate(e.u_flags as u32).iter_names().map(|(n, _)| (n, true)))?;
    }
    out.write_char('\n')
}

/// Prints vnode `vid`'s events, oldest first, as `vnode N history:`, with
/// how many of them came since its object's last attach (the story of a
/// race) and how much the ring still holds.
pub fn vhist_print(out: &mut dyn Write, vid: u32) {
    let Some(ring) = RING.try_lock() else {
        let _ = writeln!(out, "vnode {vid} history: (recorder locked)");
        return;
    };
    if !vhist_on() {
        let _ = writeln!(out, "vnode {vid} history: (recorder off: kern.vhist=0)");
        return;
    }
    let recorded = ring.recorded;
    let kept = recorded.min(VHIST_SIZE as u64);
    let at = |k: u64| &ring.ev[((recorded - kept + k) % VHIST_SIZE as u64) as usize];
    let mine = || (0..kept).map(at).filter(|e| e.vid == vid);
    let total = mine().count();
    let since = mine().enumerate().filter(|(_, e)| e.ev == Vh::UvnAttach && e.arg == 1).last().map(|(i, _)| total - i);
    // How far back in the ring (all vnodes' events) that attach lies: what
    // the ring's size must cover.
    let back = (0..kept).rev().find(|&k| {
        let e = at(k);
        e.vid == vid && e.ev == Vh::UvnAttach && e.arg == 1
    });
    let oldest = if kept > 0 { at(0).t_us } else { 0 };
    let stories = STORIES.try_lock();
    let story = stories.as_ref().and_then(|s| s.get((vid as usize).wrapping_sub(1))).filter(|s| s.total > 0);
    match (since, story) {
        (None, Some(st)) => {
            // The attach has left the ring: the story kept apart tells it.
            let (events, left_out) = st.events();
            let _ = writeln!(
                out,
                "vnode {vid} history: {} events since its object's last attach, kept apart from the ring (which has {kept} of {recorded} events, from {}.{:06} s)",
                st.total,
                oldest / 1_000_000,
                oldest % 1_000_000
            );
            for (k, e) in events.enumerate() {
                if k == STORY_HEAD && left_out > 0 {
                    let _ = writeln!(out, "     ... {left_out} events left out ...");
                }
                let _ = print_event(out, e);
            }
        }
        _ => {
            let _ = write!(out, "vnode {vid} history: {total} events");
            let _ = match since {
                Some(n) => write!(out, ", {n} since its object's last attach, {} ring events back", kept - back.unwrap_or(0)),
                None => write!(out, ", its object's last attach has left the ring"),
            };
            let _ = writeln!(out, " (ring: {kept} of {recorded} events kept, from {}.{:06} s)", oldest / 1_000_000, oldest % 1_000_000);
            for e in mine() {
                let _ = print_event(out, e);
            }
        }
    }
    let _ = writeln!(out, "end of vnode {vid} history");
}

/// Events recorded since boot.
pub fn vhist_recorded() -> u64 {
    cpu::with_interrupts_disabled(|| RING.lock().recorded)
}
