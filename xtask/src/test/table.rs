//! The QEMU tests: one `QemuTest` row each in `TESTS` (doc/testing.md
//! describes them), with the constructors the rows share.

use super::checks::*;
use crate::image::{UserImg, Variant};
use crate::outcome::BANNER;
use crate::qemu::{Exit, Mac};

/// `s` sixty times over (a literal, for long boot arguments).
macro_rules! x60 {
    ($s:literal) => {
        concat!(
            $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s,
            $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s
        )
    };
}

/// One in-QEMU test.
pub(super) struct QemuTest {
    pub(super) name: &'static str,
    pub(super) seed: u64,
    pub(super) bootargs: &'static str,
    pub(super) image: Variant,
    /// A user's image mounted on /mnt (rd1).
    pub(super) user: Option<UserImg>,
    /// QEMU's exit status: 0 halted, 1 panicked.
    pub(super) exit: i32,
    pub(super) checks: &'static [Check],
    /// Boot a second time and require a byte-identical log.
    pub(super) replay: bool,
    /// Console input, typed once the output shows the first string.
    pub(super) input: Option<(&'static str, &'static str)>,
    /// Save the ramdisk at halt (to `saved_image_path()`) and check it.
    pub(super) saved_image: Option<ImageCheck>,
    /// Runs long: three times the timeout.
    pub(super) slow: bool,
    /// Boot several times with fresh seeds instead of once (a short stress);
    /// `checks` and `exit` are then unused.
    pub(super) race: Option<RaceCheck>,
    /// The machine the test is about (None: the one `--machine` chose).
    pub(super) machine: Option<Mac>,
}

/// A short stress: `boots` boots with seeds from the clock (a seed's
/// outcome moves with every code change, so none is pinned); at least
/// `need` of them must satisfy `ok`.
#[derive(Clone, Copy)]
pub(super) struct RaceCheck {
    pub(super) boots: u64,
    pub(super) need: u64,
    pub(super) ok: fn(Exit, &str) -> Result<(), String>,
}

/// A check on the image saved at halt, given the serial text too.
pub(super) type ImageCheck = fn(&str, &[u8]) -> Result<(), String>;

/// A check on the serial text (\r stripped).
pub(super) enum Check {
    /// Some line contains this.
    Has(&'static str),
    /// No line contains this.
    Lacks(&'static str),
    /// Some line starts with this.
    LineStarts(&'static str),
    /// Lines containing these, in this order.
    InOrder(&'static [&'static str]),
    Custom(fn(&str) -> Result<(), String>),
    /// The kernel's `walk:` lines equal the host's walk of the user's image
    /// the test mounted (`QemuTest::user`).
    WalkMatchesUser,
}

/// `test=uvn-pageout` where the pager's own write kills its object and
/// waits for the page it holds busy (doc/findings.md F3).
const fn uvn_pageout_selfdeadlock(name: &'static str, bootargs: &'static str) -> QemuTest {
    test(
        name,
        bootargs,
        1,
        &[
            Check::InOrder(&[
                "uvn-pageout: paging out page 0 of vnode",
                "for a page it holds busy itself",
                "uvn_flush() at ",
                "uvn_detach() at ",
                "uvm_vnp_uncache() at ",
                "ffs_write() at ",
                "uvn_io() at ",
                "uvn_put() at ",
                "uvm_pager_put() at ",
            ]),
            Check::Has(" uvn_flsh "),
            Check::Lacks("uvm_pager_put returned"),
            Check::Lacks("panic:"),
        ],
    )
}

pub(super) const fn test(name: &'static str, bootargs: &'static str, exit: i32, checks: &'static [Check]) -> QemuTest {
    QemuTest {
        name,
        seed: 1,
        bootargs,
        image: Variant::Good,
        user: None,
        exit,
        checks,
        replay: false,
        input: None,
        saved_image: None,
        slow: false,
        race: None,
        machine: None,
    }
}

/// The race workload's boot arguments for a short stress of `policy`.
pub(super) const fn race(name: &'static str, bootargs: &'static str, need: u64, ok: fn(Exit, &str) -> Result<(), String>) -> QemuTest {
    QemuTest { race: Some(RaceCheck { boots: 6, need, ok }), slow: true, ..test(name, bootargs, 1, &[]) }
}

/// The calls each boot of the `fuzz` test makes.
pub(super) const FUZZ_OPS: u64 = 1500;

/// The getblk self-deadlock of `test=persistbug` (OpenBSD's policies): the
/// writer's own flush waits for the buffer its ffs_write holds.
pub(super) const PERSISTBUG_DEADLOCK: &[Check] = &[
    Check::InOrder(&[
        "persistbug: vnode ",
        "deadlock: every thread sleeps and nothing can wake one",
        "getblk() at ",
        "ffs_write() at ",
        "uvn_io() at ",
        "uvn_put() at ",
        "uvm_pager_put() at ",
        "uvn_flush() at ",
        "uvn_detach() at ",
        "uvm_vnp_uncache() at ",
        "ffs_write() at ",
        "vn_rdwr() at ",
    ]),
    Check::Has(" getblk "),
    Check::Lacks("persistbug: the write returned"),
];

/// `test=persistbug`: the deadlock, or (fixed-2) the write returning with
/// the file right.
pub(super) const fn persistbug(name: &'static str, bootargs: &'static str, deadlocks: bool) -> QemuTest {
    if deadlocks {
        test(name, bootargs, 1, PERSISTBUG_DEADLOCK)
    } else {
        test(name, bootargs, 0, &[Check::LineStarts("persistbug: the write returned; the file holds the page and the write"), Check::LineStarts("halted")])
    }
}

/// `test=fault-truncate`: the fault told to try again, the truncate
/// returning, the fault then finding its page past the new end.
pub(super) const fn fault_truncate(name: &'static str, bootargs: &'static str) -> QemuTest {
    test(
        name,
        bootargs,
        0,
        &[
            Check::InOrder(&[
                "fault-truncate: uvn_get: try again (the vnode lock is held); the fault sleeps in fltagain2",
                "fault-truncate: page 2 in the object: None; truncating to one page",
                "fault-truncate: the truncate returned",
                "fault-truncate: the fault, tried 2 times, ended with errno 22",
                "halted",
            ]),
            Check::Lacks("deadlock:"),
        ],
    )
}

/// `test=pager-truncate` and `test=msync-truncate`: under OpenBSD's
/// policies the deadlock report, with the pager's thread in `vn_lock`
/// under `uvn_io`, `uvm_pager_put` and `via`, and the truncating thread in
/// `uvm_pagewait` under `uvn_flush`, `uvm_vnp_setsize`; under fixed-2 both
/// return.
pub(super) const fn pager_truncate(name: &'static str, bootargs: &'static str, deadlocks: bool, msync: bool) -> QemuTest {
    match (deadlocks, msync) {
        (true, false) => test(name, bootargs, 1, PAGER_TRUNCATE_DEADLOCK),
        (true, true) => test(name, bootargs, 1, MSYNC_TRUNCATE_DEADLOCK),
        (false, false) => test(
            name,
            bootargs,
            0,
            &[
                Check::InOrder(&[
                    "pager-truncate: the pageout returned; page 2 is still the object's, dirty",
                    "pager-truncate: the truncate returned",
                    "halted",
                ]),
                Check::Lacks("deadlock:"),
            ],
        ),
        (false, true) => test(
            name,
            bootargs,
            0,
            &[Check::InOrder(&["msync-truncate: the truncate returned", "msync-truncate: msync returned 0", "halted"]), Check::Lacks("deadlock:")],
        ),
    }
}

pub(super) const PAGER_TRUNCATE_DEADLOCK: &[Check] = &[
    Check::InOrder(&[
        "pager-truncate: truncating to one page with the vnode locked",
        "deadlock: every thread sleeps and nothing can wake one",
        "vn_lock() at ",
        "uvn_io() at ",
        "uvm_pager_put() at ",
        "uvmpd_scan_page() at ",
        "uvm_pagewait() at ",
        "uvn_flush() at ",
        "uvm_vnp_setsize() at ",
        "sleeps on \"vnlock\" working on vnode",
        "sleeps on \"uvn_flsh\" working on vnode",
    ]),
    Check::Lacks("pager-truncate: the truncate returned"),
];

pub(super) const MSYNC_TRUNCATE_DEADLOCK: &[Check] = &[
    Check::InOrder(&[
        "msync-truncate: truncating to one page with the vnode locked",
        "deadlock: every thread sleeps and nothing can wake one",
        "vn_lock() at ",
        "uvn_io() at ",
        "uvm_pager_put() at ",
        "uvn_flush() at ",
        "uvn_msync() at ",
        "uvm_pagewait() at ",
        "uvn_flush() at ",
        "uvm_vnp_setsize() at ",
        "sleeps on \"vnlock\" working on vnode",
        "sleeps on \"uvn_flsh\" working on vnode",
    ]),
    Check::Lacks("msync-truncate: the truncate returned"),
];

/// `test=sync-vref`: sync(2) meets a persisting writeable object whose
/// vnode is unreferenced: vref's panic from uvm_vnp_sync, or (fixed-2) the
/// page written.
pub(super) const fn sync_vref(name: &'static str, bootargs: &'static str, panics: bool) -> QemuTest {
    if panics {
        test(
            name,
            bootargs,
            1,
            &[Check::InOrder(&["panic: vref used where vget required", "vref() at ", "uvm_vnp_sync() at ", "sys_sync() at ", "ktest_sync_vref() at "])],
        )
    } else {
        test(name, bootargs, 0, &[Check::InOrder(&["sync-vref: sync returned; the file holds the dirty page", "halted"])])
    }
}

/// `test=dying-pageout`: the pagedaemon's write to a dying object beside
/// vclean's, reported by ffs_write (OpenBSD's policies), or refused
/// (fixed-2, whose file must then be right).
pub(super) const fn dying_pageout(name: &'static str, bootargs: &'static str, unlocked_write: bool) -> QemuTest {
    if unlocked_write {
        test(
            name,
            bootargs,
            0,
            &[
                Check::InOrder(&[
                    "dying-pageout: vclean is writing page 0; the pagedaemon scans page 2",
                    "is inside ffs_write; vnode lock write-locked by thread ",
                ]),
                Check::LineStarts("ffs_write: vnode "),
                Check::Custom(dying_pageout_not_persisting),
                Check::LineStarts("halted"),
            ],
        )
    } else {
        test(
            name,
            bootargs,
            0,
            &[
                Check::LineStarts("dying-pageout: vclean is writing page 0; the pagedaemon scans page 2"),
                Check::Lacks("is inside ffs_write"),
                Check::LineStarts("dying-pageout: the file holds both dirty pages"),
                Check::Custom(dying_pageout_not_persisting),
                Check::LineStarts("halted"),
            ],
        )
    }
}

/// `fsstress` on an image: every byte checked in the guest, then the saved
/// image checked and compared with what it reported.
pub(super) const fn fsstress(name: &'static str, image: Variant) -> QemuTest {
    QemuTest {
        image,
        saved_image: Some(fsstress_round_trip),
        slow: true,
        ..test(
            name,
            "workload=fsstress kern.maxvnodes=16",
            0,
            &[
                Check::Has("vfs: kern.maxvnodes 16"),
                Check::InOrder(&["fsstress: seed ", "fsstress: 500 operations done", "bench: fsstress_creates ", "fsstress: exited with status 0"]),
                Check::Custom(fsstress_ok),
                Check::LineStarts("ffs: rd0 unmounted clean"),
                Check::Lacks("FAILED"),
            ],
        )
    }
}

/// `workload=walk` over a user's image on /mnt: the kernel's listing, with
/// paths inside the image, against the host's walk of the same file.
const fn walk_user(name: &'static str, u: UserImg) -> QemuTest {
    QemuTest {
        user: Some(u),
        ..test(
            name,
            "workload=walk",
            0,
            &[Check::LineStarts("rd1: ramdisk "), Check::WalkMatchesUser, Check::LineStarts("ffs: rd1 unmounted clean"), Check::LineStarts("halted")],
        )
    }
}

pub(super) const TESTS: &[QemuTest] = &[
    // 32 MiB: the page table, sized from memory as OpenBSD's, is then small
    // enough for pmap_htab_overflow to find 17 colliding kernel addresses.
    test("selftest", "test=all physmem=32M", 0, &[Check::Custom(selftest_summary), Check::Lacks("FAILED")]),
    test(
        "panic-trace",
        "test=panic",
        1,
        &[
            Check::InOrder(&["panic: ", "ktest_panic_leaf() at ", "ktest_panic_mid() at ", "ktest_panic_top() at ", "end trace frame: "]),
            Check::Custom(trace_count),
        ],
    ),
    test(
        "fault-trace",
        "test=fault",
        1,
        &[
            Check::InOrder(&["panic: ", "--- trap (type 0x300) ---", "ktest_fault_leaf() at ", "ktest_fault_top() at ", "end trace frame: "]),
            Check::Custom(trace_count),
        ],
    ),
    test("recursive-panic", "test=panic-recursive", 1, &[Check::Has("panic: recursive panic:")]),
    test("unknown-bootarg", "bogus=1", 1, &[Check::InOrder(&["bootarg: unknown option 'bogus'", "panic: bad boot arguments"])]),
    QemuTest { image: Variant::Corrupt, ..test("bad-image", "", 1, &[Check::Custom(ramdisk_error), Check::Lacks(BANNER)]) },
    QemuTest { seed: 7, replay: true, ..test("replay", "test=panic-random", 1, &[Check::LineStarts("panic: ")]) },
    QemuTest {
        // Typed once the kernel has its console interrupt (the clock line
        // comes after it): the demo's three seconds are guest time, and an
        // idle guest's time runs ahead of wall time (-icount sleep=off), so
        // they last a few tens of milliseconds of wall time. The kernel keeps
        // what arrives early for the demo to read. The demo polls and naps
        // in the kernel for longer than kern.hangsecs: the kernel-loop
        // watchdog must see it wait, not loop (it once reported it, which
        // killed `xtask-signals`' halt=0 guest at 30 s of guest time).
        input: Some(("clock: hz", "hello ppcbsd\r")),
        ..test(
            "demo",
            "halt=3 kern.hangsecs=1",
            0,
            &[
                Check::LineStarts("tick "),
                Check::Has("echo: \"hello ppcbsd\""),
                Check::InOrder(&["init: starting /sbin/init", "hello: pid ", "init: two CPU-bound processes", "init: demo done; halting", "halted"]),
                Check::LineStarts("hog A: "),
                Check::LineStarts("hog B: "),
            ],
        )
    },
    test(
        "stack-overflow",
        "test=stack-overflow",
        1,
        &[Check::InOrder(&["panic: kernel stack overflow: ", "--- trap (type 0x300) ---", "ktest_recurse() at ", "end trace frame: "])],
    ),
    test(
        "deadlock",
        "test=deadlock",
        1,
        &[
            Check::InOrder(&[
                "deadlock: every thread sleeps and nothing can wake one",
                "ktlockB",
                "ktlockA",
                "trace of thread 0:",
                "tsleep() at ",
                "ktest_deadlock() at ",
                "trace of thread 2:",
                "rw_enter() at ",
                "trace of thread 3:",
                "rw_enter() at ",
            ]),
            Check::Lacks("panic: ktest"),
        ],
    ),
    // A fault meets a truncate holding the vnode lock: OpenBSD's uvn_get
    // reads with PGO_NOWAIT, so under every policy the fault gets "try
    // again", sleeps in fltagain2 and finds its page gone (the deadlock
    // once reported here was a model bug: doc/findings.md, W1).
    fault_truncate("fault-truncate-original", "test=fault-truncate uvn.policy=original"),
    fault_truncate("fault-truncate-vget-diff", "test=fault-truncate uvn.policy=vget-diff"),
    fault_truncate("fault-truncate-fixed", "test=fault-truncate uvn.policy=fixed"),
    fault_truncate("fault-truncate-fixed-2", "test=fault-truncate uvn.policy=fixed-2"),
    // The pager (pagedaemon, msync) waits for the vnode lock with a page
    // busy while a truncate holds the lock and waits for the page: stock
    // settings, original, vget-diff and fixed; fixed-2 tries for the lock.
    pager_truncate("pager-truncate-original", "test=pager-truncate uvn.policy=original", true, false),
    pager_truncate("pager-truncate-vget-diff", "test=pager-truncate uvn.policy=vget-diff", true, false),
    pager_truncate("pager-truncate-fixed", "test=pager-truncate uvn.policy=fixed", true, false),
    pager_truncate("pager-truncate-fixed-2", "test=pager-truncate uvn.policy=fixed-2", false, false),
    pager_truncate("pager-truncate-head", "test=pager-truncate uvn.policy=head", true, false),
    pager_truncate("msync-truncate-original", "test=msync-truncate uvn.policy=original", true, true),
    pager_truncate("msync-truncate-fixed", "test=msync-truncate uvn.policy=fixed", true, true),
    pager_truncate("msync-truncate-fixed-2", "test=msync-truncate uvn.policy=fixed-2", false, true),
    // sync(2)'s vref on a persisting object's unreferenced vnode.
    sync_vref("sync-vref-original", "test=sync-vref uvn.policy=original", true),
    sync_vref("sync-vref-fixed", "test=sync-vref uvn.policy=fixed", true),
    sync_vref("sync-vref-fixed-2", "test=sync-vref uvn.policy=fixed-2", false),
    sync_vref("sync-vref-head", "test=sync-vref uvn.policy=head", true),
    // The G5 field campaign's panic 1 (doc/p0-hunt.md): P0 forms under a
    // pageout that began while the object was in use.
    test(
        "pageout-lastuse-original",
        "test=pageout-lastuse rd.latency=10000-30000 uvn.policy=original",
        1,
        &[Check::InOrder(&[
            "pageout-lastuse: the pager holds the vnode lock inside its write; the last user detaches",
            "panic: vref used where vget required",
            "vref() at ",
            "uvm_vnp_uncache() at ",
            "ffs_write() at ",
            "uvn_io() at ",
        ])],
    ),
    test(
        "pageout-lastuse-watch",
        "test=pageout-lastuse rd.latency=10000-30000 uvn.policy=original p0.watch=1",
        0,
        &[Check::InOrder(&["pageout-lastuse: the pager holds the vnode lock inside its write; the last user detaches", " reached P0 at Vrele: usecount 0"])],
    ),
    test(
        "pageout-lastuse-fixed",
        "test=pageout-lastuse rd.latency=10000-30000 uvn.policy=fixed",
        1,
        &[Check::InOrder(&[
            "pageout-lastuse: the pager holds the vnode lock inside its write; the last user detaches",
            "deadlock: thread 2 sleeps on \"uvn_flsh\" for a page it holds busy itself",
        ])],
    ),
    // F14: under usecount0 sync's vref leaves a used vnode on the free list.
    test(
        "sync-freevnode-usecount0",
        "test=sync-freevnode uvn.policy=usecount0 rd.latency=10000-30000",
        1,
        &[Check::InOrder(&[
            "sync-freevnode: vnodes ",
            "used (sync's vref) and on the free list; recycling",
            "free vnode: vnode ",
            "panic: free vnode isn't",
            "getnewvnode() at ",
        ])],
    ),
    // A mapped file paged out on a full disk: every page lost is reported
    // (ffs_write's error fails the whole write, as OpenBSD's), and a
    // write(2) that fails leaves the file's size as it was.
    test(
        "pageout-enospc",
        "test=user-enospc",
        0,
        &[
            Check::InOrder(&["utest: enospc: pages not in the file:", "pages reached the file", "utest: enospc ok", "halted"]),
            Check::Custom(enospc_pages_reported),
        ],
    ),
    // A thread looping in the kernel: nothing else runs (no preemption in
    // the kernel), so the kernel-loop watchdog reports it with its trace.
    test(
        "kernel-loop-watchdog",
        "test=kernel-loop kern.hangsecs=2",
        1,
        &[
            Check::InOrder(&["has run in the kernel for 2 s without a switch (kern.hangsecs 2)", "trace of thread ", "spin_in_kernel() at "]),
            Check::Lacks("panic:"),
        ],
    ),
    // Memory full of dirty file pages no pageout can write (full disk):
    // the storing fault waits in uvm_wait for good, as OpenBSD's would,
    // and the hang watchdog reports it.
    test(
        "memwait-watchdog",
        "test=user-wedge physmem=24M kern.hangsecs=3",
        1,
        &[
            Check::InOrder(&[
                "utest: wedge: storing into ",
                "has waited for a free page for 3 s, now in \"uvn_getpage\" (kern.hangsecs 3)",
                "uvm_wait() at ",
                "uvn_get() at ",
                "uvm_fault() at ",
            ]),
            Check::Lacks("panic:"),
        ],
    ),
    // msync on a full disk returns 0 and loses the store, as OpenBSD's
    // (doc/findings.md F10), under an OpenBSD policy and under fixed-2.
    test("msync-enospc-original", "test=user-msyncfull uvn.policy=original", 0, &[Check::Has("utest: msyncfull ok"), Check::LineStarts("halted")]),
    test("msync-enospc-fixed-2", "test=user-msyncfull uvn.policy=fixed-2", 0, &[Check::Has("utest: msyncfull ok"), Check::LineStarts("halted")]),
    // Stores through a shared mapping, sync(2), halt with the mapping in
    // place: the saved image holds them (uvm_vnp_sync from sys_sync and
    // vfs_shutdown).
    QemuTest {
        saved_image: Some(syncmap_in_image),
        ..test(
            "sync-mapped-halt",
            "test=user-syncmap",
            0,
            &[Check::InOrder(&["utest: syncmap: stored through the mapping, synced; halting with the mapping in place", "ffs: rd0 unmounted clean", "halted"])],
        )
    },
    // An image not cleanly unmounted: the root is mounted read-only (as
    // OpenBSD denies a read-write mount), writes are EROFS, and the image
    // is left as it was.
    QemuTest {
        image: Variant::Unclean,
        saved_image: Some(still_unclean),
        ..test(
            "unclean-image",
            "test=rdonly-root",
            0,
            &[Check::InOrder(&[
                "WARNING: R/W mount of / denied.  Filesystem is not clean - run fsck",
                "ffs: root on rd0 mounted read-only",
                "rdonly-root: writes EROFS, reads work",
                "ffs: rd0 unmounted (read-only, left as it was)",
            ])],
        )
    },
    // A clean flag over maps that call a file's block free: the boot-time
    // check finds it and the root is mounted read-only, so the block is
    // never handed out again; the image is left as it was.
    QemuTest {
        image: Variant::FreeInUse,
        saved_image: Some(still_free_in_use),
        ..test(
            "free-in-use",
            "test=rdonly-root",
            0,
            &[Check::InOrder(&[
                "ffs: rd0: marked clean, but 8 fragments in use are free in the maps (first: fragment ",
                "WARNING: R/W mount of / denied.  Filesystem is damaged - run fsck",
                "ffs: root on rd0 mounted read-only",
                "rdonly-root: writes EROFS, reads work",
                "ffs: rd0 unmounted (read-only, left as it was)",
            ])],
        )
    },
    // A lock waited for while its holder naps in a loop: never "every
    // thread asleep", so only the hang watchdog can tell.
    test(
        "hang-watchdog",
        "test=hang kern.hangsecs=2",
        1,
        &[Check::InOrder(&[
            "deadlock: thread 3 has slept on \"hanglock\" for 2 s with no timeout (kern.hangsecs 2)",
            "ktwaiter",
            "trace of thread 3:",
            "rw_enter() at ",
        ])],
    ),
    test("walk", "workload=walk", 0, &[Check::Custom(walk_matches_image), Check::LineStarts("halted")]),
    test(
        "vref-panic",
        "test=vref-panic",
        1,
        &[Check::InOrder(&["panic: vref used where vget required", "vref() at ", "ktest_vref_panic() at ", "end trace frame: "])],
    ),
    // vputonfreelist's DIAGNOSTIC checks (vfs_subr.c 1.317).
    test(
        "freelist-lockcount",
        "test=freelist-lockcount",
        1,
        &[Check::InOrder(&[
            "freelist-lockcount: vnode ",
            "panic: vputonfreelist: lock count is not zero",
            "vputonfreelist() at ",
            "vput() at ",
            "ktest_freelist_lockcount() at ",
        ])],
    ),
    test(
        "freelist-twice",
        "test=freelist-twice",
        1,
        &[Check::InOrder(&["freelist-twice: vnode ", "panic: vnode already on free list", "vputonfreelist() at ", "ktest_freelist_twice() at "])],
    ),
    test(
        "unlocked-vop",
        "test=unlocked-vop",
        1,
        &[Check::InOrder(&["panic: vnode 1 not locked", "VOP_READDIR() at ", "ktest_unlocked_vop() at ", "end trace frame: "])],
    ),
    // The flight recorder: on by default, the vnode's history after the
    // panic; off with kern.vhist=0, which the kernel and the dump say.
    test(
        "vhist-on",
        "test=vref-panic",
        1,
        &[Check::InOrder(&["panic: vref used where vget required", "panic at uptime ", "history: ", " vref ", "end of vnode "])],
    ),
    // kern.prof=1: the profile at halt has samples, the functions found
    // running and on the stack, and the time asleep by wait message.
    test(
        "prof",
        "test=bench kern.prof=1 hz=1000",
        0,
        &[
            Check::Has("prof: sampling the kernel at every clock tick (kern.prof=1)"),
            Check::Custom(prof_report),
            Check::LineStarts("prof: self "),
            Check::LineStarts("prof: total "),
            Check::Has("sleeps on biowait"),
        ],
    ),
    test(
        "vhist-off",
        "kern.vhist=0 test=vref-panic",
        1,
        &[
            Check::InOrder(&["vfs: vnode flight recorder off (kern.vhist=0)", "panic: vref used where vget required", "history: (recorder off: kern.vhist=0)"]),
            Check::Lacks("end of vnode "),
        ],
    ),
    test(
        "physmem",
        "physmem=8M kern.maxvnodes=16 test=uvm_page_exhaust",
        0,
        &[Check::Has("uvm: 2048 pages (8 MB) managed"), Check::LineStarts("vfs: kern.maxvnodes 16"), Check::Has("test uvm_page_exhaust ... ok")],
    ),
    test("sleep-spl", "test=sleep-spl", 1, &[Check::InOrder(&["panic: tsleep: sleeping at Bio", "ktest_sleep_spl() at "])]),
    test(
        "create-trace",
        "test=getnewvnode-panic",
        1,
        &[Check::InOrder(&[
            "panic: getnewvnode: deliberate panic",
            "getnewvnode() at ",
            "ffs_vget() at ",
            "ffs_inode_alloc() at ",
            "ufs_makeinode() at ",
            "ufs_create() at ",
            "VOP_CREATE() at ",
            "vn_open() at ",
            "doopenat() at ",
            "end trace frame: ",
        ])],
    ),
    test(
        "uvn-pageout-original",
        "test=uvn-pageout uvn.policy=original",
        1,
        &[Check::InOrder(&[
            "uvn-pageout: paging out page 0 of vnode",
            "panic: vref used where vget required",
            "vref() at ",
            "uvm_vnp_uncache() at ",
            "ffs_write() at ",
            "VOP_WRITE() at ",
            "uvn_io() at ",
            "uvn_put() at ",
            "uvm_pager_put() at ",
            "end trace frame: ",
        ])],
    ),
    uvn_pageout_selfdeadlock("uvn-pageout-fixed", "test=uvn-pageout uvn.policy=fixed"),
    // OpenBSD HEAD keeps 1.131's path from the pager's write to the wait.
    uvn_pageout_selfdeadlock("uvn-pageout-head", "test=uvn-pageout uvn.policy=head"),
    // The thread's last idea and its premise alone, each on 1.130: with no
    // panic at vref, the pager's write reaches the same self-deadlock as 1.131.
    uvn_pageout_selfdeadlock("uvn-pageout-usecount0", "test=uvn-pageout uvn.policy=usecount0"),
    uvn_pageout_selfdeadlock("uvn-pageout-uncache-vget", "test=uvn-pageout uvn.policy=uncache-vget"),
    test(
        "uvn-pageout-fixed-2",
        "test=uvn-pageout uvn.policy=fixed-2",
        0,
        &[Check::InOrder(&["uvn-pageout: paging out page 0 of vnode", "uvn-pageout: uvm_pager_put returned VM_PAGER_OK"]), Check::LineStarts("halted")],
    ),
    test(
        "uvn-terminate-vget-diff",
        "test=uvn_terminate_on_recycle uvn.policy=vget-diff",
        1,
        &[Check::InOrder(&[
            "panic: uvn_flush: PGO_SYNCIO return 'try again' error (impossible)",
            "uvn_flush() at ",
            "uvm_vnp_terminate() at ",
            "vclean() at ",
            "vgonel() at ",
            "getnewvnode() at ",
            "ffs_vget() at ",
            "ffs_inode_alloc() at ",
            "ufs_makeinode() at ",
            "ufs_create() at ",
            "VOP_CREATE() at ",
            "vn_open() at ",
            "doopenat() at ",
            "end trace frame: ",
        ])],
    ),
    persistbug("persistbug-original", "test=persistbug uvn.policy=original", true),
    persistbug("persistbug-vget-diff", "test=persistbug uvn.policy=vget-diff", true),
    persistbug("persistbug-fixed", "test=persistbug uvn.policy=fixed", true),
    persistbug("persistbug-head", "test=persistbug uvn.policy=head", true),
    persistbug("persistbug-usecount0", "test=persistbug uvn.policy=usecount0", true),
    persistbug("persistbug-uncache-vget", "test=persistbug uvn.policy=uncache-vget", true),
    persistbug("persistbug-fixed-2", "test=persistbug uvn.policy=fixed-2", false),
    // A slow disk (10–30 ms a transfer, the clock-tick latency rd had before
    // rd.latency): vclean's write must still be in flight when the
    // stand-in pagedaemon, which looks once a tick, comes round.
    dying_pageout("dying-pageout-original", "test=dying-pageout uvn.policy=original rd.latency=10000-30000", true),
    dying_pageout("dying-pageout-fixed", "test=dying-pageout uvn.policy=fixed rd.latency=10000-30000", true),
    dying_pageout("dying-pageout-fixed-2", "test=dying-pageout uvn.policy=fixed-2 rd.latency=10000-30000", false),
    // The G5's way to P0 with stock settings (doc/p0-hunt.md), step by
    // step: a clean file page whose direct-map entry's changed bit an
    // eviction credits to it; on the G4 (BATs) nothing happens.
    QemuTest {
        machine: Some(Mac::G5),
        ..test(
            "direct-map-p0-g5",
            "test=direct-map-p0 uvn.policy=original physmem=24M",
            1,
            &[
                Check::Has("cpu0: PPC970FX"),
                Check::InOrder(&[
                    "direct-map-p0: page 0 of vnode",
                    "direct-map-p0: its direct-map entry was evicted, its changed bit credited to the page",
                    "direct-map-p0: uvm_pagedeactivate cleared PG_CLEAN: P0",
                    "panic: vref used where vget required",
                    "vref() at ",
                    "uvm_vnp_uncache() at ",
                    "ffs_write() at ",
                    "uvm_pager_put() at ",
                ]),
            ],
        )
    },
    QemuTest {
        machine: Some(Mac::G5),
        ..test(
            "direct-map-p0-watch-g5",
            "test=direct-map-p0 uvn.policy=original physmem=24M p0.watch=1",
            0,
            &[
                Check::InOrder(&[
                    "direct-map-p0: uvm_pagedeactivate cleared PG_CLEAN: P0",
                    "p0: vnode 2 reached P0 at Pagedaemon",
                    "p0:   page 0: PG_CLEAN clear pmap changed bit set",
                    "p0:     PG_CLEAN cleared by uvm_pagedeactivate (pmap_is_modified said modified)",
                    "p0:     PG_PMAP_MOD set by an eviction of the kernel's direct-map entry for 0x",
                    "p0: halting at the first P0",
                ]),
                Check::Lacks("panic:"),
            ],
        )
    },
    QemuTest {
        machine: Some(Mac::G5),
        ..test(
            "direct-map-p0-fixed-g5",
            "test=direct-map-p0 uvn.policy=fixed physmem=24M",
            1,
            &[
                Check::InOrder(&["direct-map-p0: uvm_pagedeactivate cleared PG_CLEAN: P0", "for a page it holds busy itself", "uvn_flush() at "]),
                Check::Lacks("panic:"),
            ],
        )
    },
    QemuTest {
        machine: Some(Mac::G4),
        ..test(
            "direct-map-p0-g4",
            "test=direct-map-p0 uvn.policy=original physmem=24M",
            0,
            &[
                Check::InOrder(&["direct-map-p0: page 0 of vnode", "direct-map-p0: no direct-map entry on this CPU (BATs): the page stays clean", "halted"]),
                Check::Lacks("panic:"),
            ],
        )
    },
    // The kernel's own tests, the race and the field workload on the G5.
    QemuTest {
        machine: Some(Mac::G5),
        ..test("selftest-g5", "test=all physmem=32M", 0, &[Check::Has("cpu0: PPC970FX"), Check::Custom(selftest_summary), Check::Lacks("FAILED")])
    },
    QemuTest { machine: Some(Mac::G5), ..race("race-original-g5", race_bootargs!("race.secs=5 uvn.policy=original"), 4, race_original) },
    QemuTest { machine: Some(Mac::G5), ..race("race-fixed-2-g5", race_bootargs!("race.secs=5 uvn.policy=fixed-2"), 6, race_fixed2) },
    QemuTest {
        machine: Some(Mac::G5),
        ..test("field-g5", "workload=field physmem=24M kern.maxvnodes=32 kern.bufcachepercent=1 race.secs=10 p0.watch=1", 0, &[Check::Custom(field_g5)])
    },
    QemuTest {
        machine: Some(Mac::G4),
        ..test("field-g4", "workload=field physmem=24M kern.maxvnodes=32 kern.bufcachepercent=1 race.secs=10 p0.watch=1", 0, &[Check::Custom(field_g4)])
    },
    race("race-original", race_bootargs!("race.secs=5 uvn.policy=original"), 4, race_original),
    race("race-vget-diff", race_bootargs!("race.secs=5 uvn.policy=vget-diff"), 4, race_vget_diff),
    race("race-fixed", race_bootargs!("race.secs=5 uvn.policy=fixed"), 6, race_fixed),
    race("race-fixed-2", race_bootargs!("race.secs=5 uvn.policy=fixed-2"), 6, race_fixed2),
    race("race-head", race_bootargs!("race.secs=5 uvn.policy=head"), 6, race_fixed),
    race("race-keepopen-original", race_bootargs!("race.secs=10 race.keepopen=1 uvn.policy=original"), 4, race_keepopen_original),
    race("race-keepopen-fixed-2", race_bootargs!("race.secs=5 race.keepopen=1 uvn.policy=fixed-2"), 6, race_keepopen_fixed2),
    QemuTest { race: Some(RaceCheck { boots: 3, need: 3, ok: fuzz_ok }), slow: true, ..test("fuzz", "workload=fuzz fuzz.ops=1500", 0, &[]) },
    // The P0 detector: with the mmap hack off the P0 search reaches P0 (the
    // known path: a shared-writable mapping's object persists dirty) and
    // the kernel halts with the report; with stock settings it does not.
    // Under fixed-2, whose guards keep 1.131's self-deadlock from ending a
    // boot before P0; P0 itself comes from the hack being off, in every
    // policy.
    QemuTest {
        race: Some(RaceCheck { boots: 10, need: 2, ok: p0_found }),
        ..race("p0-detector", "workload=fuzz fuzz.mode=p0 fuzz.ops=400 uvm.mmap_uncache=0 p0.watch=1 kern.maxvnodes=32 uvn.policy=fixed-2", 2, p0_found)
    },
    race("p0-stock", "workload=fuzz fuzz.mode=p0 fuzz.ops=400 uvn.policy=original p0.watch=1 kern.maxvnodes=32", 2, p0_none),
    QemuTest { seed: 1, replay: true, ..test("race-replay", race_bootargs!("race.secs=5 uvn.policy=vget-diff"), 1, &[Check::Custom(failed_with_report)]) },
    // PCT (doc/schedules.md): the run queue in priority order, 1.130's panic
    // still found under depth 3, and a boot replayed exactly.
    test("selftest-pct", "test=sched_run_order sched.pct=1", 0, &[Check::Has("sched_run_order: PCT priority order"), Check::Custom(selftest_summary)]),
    race("race-pct-original", race_bootargs!("race.secs=5 uvn.policy=original sched.pct=3 sched.steps=20000"), 4, race_original_pct),
    // The simulated second CPU (sched.mp=1): the kernel lock keeps an
    // outranking thread out; fixed-2 holds; original still panics.
    test("selftest-kernel-lock", "test=kernel_lock sched.pct=1 sched.mp=1", 0, &[Check::Has("kernel_lock: of "), Check::Custom(selftest_summary)]),
    test(
        "pct-starve",
        "test=pct-starve sched.pct=1 kern.hangsecs=1",
        1,
        &[
            Check::InOrder(&["pct-starve: thread ", " has been runnable for 1 s without running (kern.hangsecs 1): "]),
            Check::Custom(pct_starve_names_the_low_thread),
        ],
    ),
    test("selftest-rwsleep", "test=rwsleep sched.pct=1 sched.mp=1", 0, &[Check::Has("rwsleep: woken by thread "), Check::Custom(selftest_summary)]),
    race(
        "race-mp-fixed-2",
        race_bootargs!("race.secs=3 uvn.policy=fixed-2 race.sync=100 race.truncate=1 sched.pct=2 sched.steps=50000 sched.mp=1"),
        6,
        race_fixed2_mp,
    ),
    race("race-mp-original", race_bootargs!("race.secs=5 uvn.policy=original sched.pct=2 sched.steps=20000 sched.mp=1"), 4, race_original),
    QemuTest {
        seed: 1,
        replay: true,
        ..test(
            "race-pct-replay",
            race_bootargs!("race.secs=2 uvn.policy=fixed-2 race.sync=100 race.truncate=1 sched.pct=2 sched.steps=20000"),
            0,
            &[Check::LineStarts("sched: pct: depth 2,"), Check::Custom(pageout_terminate_window_entered), Check::LineStarts("halted")],
        )
    },
    fsstress("fsstress", Variant::Good),
    fsstress("fsstress-ufs1", Variant::Ufs1),
    QemuTest { image: Variant::Ufs1, ..test("walk-ufs1", "workload=walk", 0, &[Check::Custom(walk_matches_ufs1), Check::LineStarts("halted")]) },
    QemuTest { image: Variant::Big, ..test("walk-32k", "workload=walk", 0, &[Check::Custom(walk_matches_big), Check::LineStarts("halted")]) },
    // A user's image, untouched, on /mnt (rd1): the walk in five geometries
    // against the host's; fsstress, a disk filled, and the race there;
    // unclean and damaged images named.
    walk_user("walk-user-tiny", UserImg::Tiny),
    walk_user("walk-user-dindir", UserImg::DoubleIndirect),
    walk_user("walk-user-many", UserImg::Many),
    walk_user("walk-user-deep", UserImg::Deep),
    QemuTest {
        user: Some(UserImg::Roomy),
        saved_image: Some(fsstress_round_trip),
        slow: true,
        ..test(
            "fsstress-user",
            "workload=fsstress fsstress.dir=/mnt kern.maxvnodes=16",
            0,
            &[
                Check::LineStarts("ffs: /mnt on rd1, Ufs2, 4096 byte blocks"),
                Check::InOrder(&["fsstress: seed ", "fsstress: 500 operations done", "fsstress: exited with status 0"]),
                Check::Custom(fsstress_ok),
                Check::InOrder(&["ffs: rd1 unmounted clean", "ffs: rd0 unmounted clean"]),
                Check::Lacks("FAILED"),
            ],
        )
    },
    QemuTest {
        user: Some(UserImg::Tiny),
        saved_image: Some(user_fill_round_trip),
        ..test(
            "user-full",
            "test=rd1-fill",
            0,
            &[
                Check::LineStarts("rd1-fill: wrote "),
                Check::LineStarts("rd1-fill: ENOSPC, as expected; removed"),
                Check::LineStarts("ffs: rd1 unmounted clean"),
                Check::LineStarts("halted"),
            ],
        )
    },
    QemuTest {
        user: Some(UserImg::Tiny),
        ..test("namei-user", "test=rd1-namei", 0, &[Check::LineStarts("rd1-namei: ok"), Check::Lacks("FAILED"), Check::LineStarts("halted")])
    },
    QemuTest {
        user: Some(UserImg::Roomy),
        slow: true,
        ..test(
            "race-user",
            race_bootargs!("race.secs=4 race.dir=/mnt uvn.policy=fixed-2"),
            0,
            &[Check::Custom(race_user_ok), Check::LineStarts("ffs: rd1 unmounted clean")],
        )
    },
    QemuTest {
        user: Some(UserImg::Unclean),
        ..test(
            "walk-user-unclean",
            "workload=walk",
            0,
            &[
                Check::LineStarts("WARNING: R/W mount of /mnt denied.  Filesystem is not clean - run fsck"),
                Check::LineStarts("ffs: /mnt on rd1 mounted read-only"),
                Check::WalkMatchesUser,
                Check::LineStarts("ffs: rd1 unmounted (read-only, left as it was)"),
                Check::LineStarts("halted"),
            ],
        )
    },
    QemuTest {
        user: Some(UserImg::Corrupt),
        ..test(
            "walk-user-corrupt",
            "workload=walk",
            0,
            &[
                Check::LineStarts("ffs: cannot mount rd1 on /mnt: "),
                Check::LineStarts("walk: /mnt: the user's image is not mounted"),
                Check::LineStarts("halted"),
            ],
        )
    },
    QemuTest {
        saved_image: Some(rd_marked),
        ..test("save-image", "test=rd-mark", 0, &[Check::LineStarts("rd-mark: wrote block "), Check::LineStarts("halted")])
    },
    // The user-mode self-test under the policies the default selftest
    // (fixed) does not boot: the unlinked-mapped-file and msync checks.
    test(
        "utest-original",
        "test=user_programs uvn.policy=original",
        0,
        &[Check::Has("utest: unlinked_mapped_file ok"), Check::Has("utest: msync_then_munmap ok"), Check::Custom(selftest_summary)],
    ),
    test(
        "utest-fixed-2",
        "test=user_programs uvn.policy=fixed-2",
        0,
        &[Check::Has("utest: unlinked_mapped_file ok"), Check::Has("utest: msync_then_munmap ok"), Check::Custom(selftest_summary)],
    ),
    // kern.maxproc: fork is EAGAIN at the limit, and works again after.
    test("user-maxproc", "kern.maxproc=24 test=user-maxproc", 0, &[Check::Has("utest: maxproc ok"), Check::Custom(selftest_summary)]),
    // 500 more fork/exit/wait cycles leave the kernel heap as it was (the
    // child's first trap frame was never freed: 164 bytes a fork).
    test("user-forks", "test=user-forks", 0, &[Check::Has("user_forks: heap free "), Check::Custom(selftest_summary)]),
    // The macppc hypothesis of doc/p0-hunt.md: read-only file pages crowded
    // out of the hashed page table by written ones keep a clean changed
    // bit, so their persisting object is not P0.
    QemuTest {
        machine: Some(Mac::G4),
        ..test(
            "user-pmap",
            "test=user-pmap p0.watch=1 physmem=24M",
            0,
            &[
                Check::Has("utest: pmap ok"),
                Check::Has(" hashed-page-table evictions, and no P0"),
                Check::Custom(selftest_summary),
                Check::Custom(p0_saw_persisting),
            ],
        )
    },
    // The same probe on the G5: its process mappings crowd out the
    // kernel's direct-map entries too, whose changed bits then go to the
    // pages they name — the program's own text among them: P0 (F12).
    QemuTest {
        machine: Some(Mac::G5),
        ..test(
            "user-pmap-g5",
            "test=user-pmap p0.watch=1 physmem=24M",
            0,
            &[
                Check::Has("utest: pmap ok"),
                Check::InOrder(&[
                    " reached P0 at ",
                    "p0:     PG_PMAP_MOD set by an eviction of the kernel's direct-map entry for 0x",
                    "p0: halting at the first P0",
                ]),
                Check::Lacks("panic:"),
            ],
        )
    },
    // A damaged inode map (a live inode marked free): allocation refuses
    // the live inode with a named error, and the unmount leaves the file
    // system unclean for fsck.
    QemuTest {
        image: Variant::DupAlloc,
        ..test(
            "dup-alloc",
            "test=user_programs",
            0,
            &[Check::Has("(dup alloc)"), Check::LineStarts("ffs: rd0 unmounted, left unclean: damage was reported"), Check::Lacks("unmounted clean")],
        )
    },
    // Map entries until ENOMEM: anonymous ones stop at RLIMIT_DATA (64 MB),
    // windows on a file when the kernel heap cannot grow; a fork then is
    // ENOMEM, and after the unmap memory is back (it panicked in mmap).
    test(
        "map-entries",
        "physmem=16M test=user-mapents",
        0,
        &[
            Check::Has("utest: mapents: 163"),
            Check::Has(" one-page windows on a file, then ENOMEM"),
            Check::Has("utest: mapents: fork with the heap full: ENOMEM"),
            Check::Has("utest: mapents ok"),
            Check::Lacks("panic:"),
            Check::Custom(selftest_summary),
        ],
    ),
    // Memory full of dirty pages no pageout can write, then the kernel
    // heap filled with map entries: creates, mkdir, fork and exec return
    // ENOMEM or ENOSPC, nothing panics, and everything comes back after.
    test(
        "heap-full",
        "physmem=24M test=user-heapfull",
        0,
        &[
            Check::InOrder(&["utest: heapfull: ", " one-page windows until the kernel heap ", "; exec ", "utest: heapfull ok"]),
            Check::Lacks("panic:"),
            Check::Custom(selftest_summary),
        ],
    ),
    // Fork shares anonymous memory copy-on-write: a parent with 2 MiB
    // written forks until kern.maxproc (a copy per child ran memory out
    // after a few dozen), and every child still reads the fork's values.
    test(
        "fork-cow",
        "physmem=24M kern.maxproc=200 test=user-forkcow",
        0,
        &[Check::Has(" children of a parent with 512 written pages, then EAGAIN;"), Check::Has("utest: forkcow ok"), Check::Custom(selftest_summary)],
    ),
    // Memory truly out: processes go with OpenBSD's line, the kernel stays.
    test(
        "user-oom",
        "physmem=16M test=user-oom",
        0,
        &[Check::Has("), uid 0 killed: out of swap"), Check::Has("utest: oom ok"), Check::Custom(selftest_summary)],
    ),
    // The least physmem= the parser takes boots every mode; less is refused.
    test("physmem-min", "physmem=3M test=all", 0, &[Check::Has("uvm: 768 pages (3 MB) managed"), Check::Custom(selftest_summary)]),
    test(
        "physmem-too-small",
        "physmem=2M",
        1,
        &[Check::InOrder(&["bootarg: bad value '2M' for 'physmem': expected pages, or MiB as <n>M, at least 3M (768 pages)", "panic: bad boot arguments"])],
    ),
    // 790 bytes of boot arguments, the last word test=panic: the kernel
    // sees all of them (the stub's buffer was 256 bytes and cut silently).
    test("long-bootargs", concat!(x60!("kern.vhist=1 "), "test=panic"), 1, &[Check::Has("test=panic\""), Check::LineStarts("panic: ktest: deliberate panic")]),
    // Longer than the 1023 bytes the boot-info record holds: refused by
    // name, through pvpanic.
    test(
        "too-long-bootargs",
        concat!(x60!("kern.vhist=1 "), x60!("kern.vhist=1 "), "test=panic"),
        1,
        &[Check::LineStarts("boot: error: bootargs are 1578 bytes; at most 1023 fit"), Check::Lacks(BANNER)],
    ),
    QemuTest {
        input: Some(("ddb> ", "ps\rtrace /t 1\rtrace /t 0\rshow uvmexp\rtrace\rreboot\r")),
        ..test(
            "ddb",
            "test=panic ddb=1",
            1,
            &[Check::InOrder(&[
                "panic: ktest: deliberate panic",
                "ddb> ",
                "TID  PPID",
                "idle",
                "ddb> trace /t 1",
                "end trace frame: ",
                "no switched-out thread 0",
                "npages ",
                "freemin ",
                "pdrevs ",
                "ktest_panic_leaf() at ",
            ])],
        )
    },
    QemuTest {
        input: Some((
            "ddb> ",
            "show vnode /f\rshow object\rshow page .\rshow vnode history\rshow all vnodes /f\rshow all bufs\rshow buf 0\rshow vnode 0x10\rreboot\r",
        )),
        slow: true,
        ..test(
            "ddb-race",
            race_bootargs!("race.secs=10 uvn.policy=original ddb=1"),
            1,
            &[Check::InOrder(&[
                "panic: vref used where vget required",
                "ddb> show vnode /f",
                "tag VT_UFS type VREG(1) ops ffs",
                "usecount 0 writecount ",
                "clean bufs:",
                "dirty bufs:",
                "ddb> show object",
                "pgops=uvm_vnodeops",
                "PAGES <pg,offset>:",
                "ddb> show page .",
                "PAGE 0x",
                "uobject=vnode ",
                "ddb> show vnode history",
                " history: ",
                "uvn_attach new object",
                "uvn_detach persist dirty ",
                "uvm_vnp_uncache killed",
                "pagedaemon panic",
                "ddb> show all vnodes /f",
                " P0",
                "on the lists with persisting objects",
                "ddb> show all bufs",
                " bytes of ",
                " bp 0: ",
                "ddb> show buf 0",
                "  vp ",
                "bufsize 0x",
                "ddb> show vnode 0x10",
                "no vnode '0x10'",
            ])],
        )
    },
];
