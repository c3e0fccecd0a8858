//! Self-tests of threads, sleep and locks, and the deliberate failures
//! (stack overflow, deadlock, sleeping with a mutex) whose reports the
//! host checks.

use crate::arch::intr::{self, Ipl};
use crate::arch::{clock, cpu, db_trace};
use crate::kern::kern_clock::ticks;
use crate::kern::kern_clockintr::{clockintr_establish, clockintr_schedule};
use crate::kern::kern_exec;
use crate::kern::kern_exit::dowait4;
use crate::kern::kern_kthread::kthread_create;
use crate::kern::kern_mutex::Mutex;
use crate::kern::kern_proc::{proc_saved_sp, sched_lock, ProcStat};
use crate::kern::kern_rwlock::{RwFlags, Rwlock};
use crate::kern::kern_sched::{nswitch, yield_cpu};
use crate::kern::kern_synch::{msleep, tsleep, wakeup, wakeup_one, wchan};
use crate::sys::errno::Errno;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

pub type TestResult = Result<(), String>;
/// A named self-test.
pub type KTest = (&'static str, fn() -> TestResult);

pub const SUITE: &[KTest] = &[
    ("kthread_run", test_kthread_run),
    ("sleep_wakeup_order", test_sleep_wakeup_order),
    ("tsleep_timeout", test_tsleep_timeout),
    ("msleep_mutex", test_msleep_mutex),
    ("rwlock", test_rwlock),
    ("clockintr_between_ticks", test_clockintr),
    ("user_programs", test_user_programs),
    ("exec_text_persists", test_exec_text_persists),
    ("sched_run_order", test_sched_run_order),
];

static CI_COUNT: AtomicU32 = AtomicU32::new(0);
/// The time base at which the test's event last ran.
static CI_AT: spin::Mutex<u64> = spin::Mutex::new(0);

fn ci_event() {
    *CI_AT.lock() = cpu::mftb();
    CI_COUNT.fetch_add(1, Ordering::Relaxed);
}

/// A clockintr event runs at its deadline, between ticks, not at the next
/// tick; one that falls due while the level holds the clock back runs at
/// the splx that lowers it.
fn test_clockintr() -> TestResult {
    let ev = clockintr_establish(ci_event);
    let per = clock::tb_per_tick() as u64;
    let t0 = ticks();
    let deadline = cpu::mftb() + per / 4;
    clockintr_schedule(ev, deadline);
    while CI_COUNT.load(Ordering::Relaxed) == 0 && ticks() < t0 + 3 {
        core::hint::spin_loop();
    }
    check!(CI_COUNT.load(Ordering::Relaxed) == 1, "the event did not run within 3 ticks");
    let at = *CI_AT.lock();
    check!(at >= deadline && at - deadline < per / 10, "ran {} time-base units after its deadline (a tick is {per})", at as i64 - deadline as i64);

    let s = intr::splclock();
    let deadline = cpu::mftb() + per / 4;
    clockintr_schedule(ev, deadline);
    while cpu::mftb() < deadline + per / 2 {
        core::hint::spin_loop();
    }
    let held = CI_COUNT.load(Ordering::Relaxed) == 1;
    drop(s);
    check!(held, "the event ran at IPL_CLOCK");
    check!(CI_COUNT.load(Ordering::Relaxed) == 2, "splx did not run the event that fell due");
    Ok(())
}

/// Waits (sleeping) until `n` threads have bumped `done`, at most 100 ticks.
fn join(done: &AtomicU32, n: u32) -> TestResult {
    let start = ticks();
    while done.load(Ordering::Relaxed) < n {
        let _ = tsleep(wchan(done), "join", 1);
        check!(ticks().wrapping_sub(start) < 100, "threads did not finish: {} of {n}", done.load(Ordering::Relaxed));
    }
    Ok(())
}

fn test_kthread_run() -> TestResult {
    let done = Arc::new(AtomicU32::new(0));
    let before = nswitch();
    for i in 0..3 {
        let d = done.clone();
        kthread_create("ktest", move || {
            d.fetch_add(i + 1, Ordering::Relaxed);
            wakeup(wchan(&*d));
        })
        .ok_or("no memory for a thread")?;
    }
    let start = ticks();
    while done.load(Ordering::Relaxed) < 6 {
        let _ = tsleep(wchan(&*done), "join", 10);
        check!(ticks().wrapping_sub(start) < 100, "threads did not run");
    }
    check!(nswitch() - before >= 3, "only {} switches", nswitch() - before);
    Ok(())
}

fn test_sleep_wakeup_order() -> TestResult {
    static CHAN: u32 = 0;
    let order = Arc::new(Mutex::new(Ipl::None, Vec::new()));
    let done = Arc::new(AtomicU32::new(0));
    for i in 0..4u32 {
        let (o, d) = (order.clone(), done.clone());
        kthread_create("sleeper", move || {
            let r = tsleep(wchan(&CHAN), "ktchan", 0);
            o.lock().push((i, r.is_ok()));
            d.fetch_add(1, Ordering::Relaxed);
        })
        .ok_or("no memory for a thread")?;
    }
    // Let all four go to sleep, in creation order.
    yield_cpu();
    check!(order.lock().is_empty(), "a sleeper ran before any wakeup");
    wakeup_one(wchan(&CHAN));
    yield_cpu();
    check!(*order.lock() == [(0, true)], "wakeup_one woke {:?}", *order.lock());
    wakeup(wchan(&CHAN));
    join(&done, 4)?;
    check!(*order.lock() == [(0, true), (1, true), (2, true), (3, true)], "woken in order {:?}", *order.lock());
    Ok(())
}

/// Threads that never sleep run in the run queue's order: the order they
/// became runnable, or under PCT (`sched.pct=1`) their priorities' order,
/// highest first (doc/schedules.md).
fn test_sched_run_order() -> TestResult {
    let order = Arc::new(Mutex::new(Ipl::None, Vec::new()));
    let done = Arc::new(AtomicU32::new(0));
    let mut made = Vec::new();
    for _ in 0..6 {
        let (o, d) = (order.clone(), done.clone());
        let tid = kthread_create("runner", move || {
            o.lock().push(crate::kern::kern_proc::curproc());
            d.fetch_add(1, Ordering::Relaxed);
        })
        .ok_or("no memory for a thread")?;
        made.push((crate::kern::kern_sched::sched_pct_priority(tid), tid));
    }
    join(&done, 6)?;
    let pct = made[0].0.is_some();
    if pct {
        made.sort_by(|a, b| b.cmp(a));
    }
    let want: Vec<u32> = made.iter().map(|m| m.1).collect();
    check!(*order.lock() == want, "{} ran {:?}, expected {want:?}", if pct { "PCT" } else { "FIFO" }, *order.lock());
    crate::printf!("sched_run_order: {} order {want:?}\n", if pct { "PCT priority" } else { "FIFO" });
    Ok(())
}

/// Under `sched.pct=1 sched.mp=1` (doc/schedules.md): a thread that
/// outranks this one and is switched to at a lock point (the simulated
/// second CPU) cannot get past the kernel lock this one holds; a sleep lets
/// go of every level, the others run, and the sleeper takes its depth back.
fn test_kernel_lock() -> TestResult {
    use crate::kern::kern_lock::{kernel_lock_mine, mp_on, KERNEL_LOCK, KERNEL_UNLOCK};
    use crate::kern::kern_sched::sched_pct_priority;
    check!(mp_on(), "boot it with sched.pct=1 sched.mp=1");
    static DUMMY: Rwlock = Rwlock::new("ktdummy");
    let (depth0, waits0) = kernel_lock_mine();
    check!(depth0 == 1, "proc0 holds the kernel lock at depth {depth0}, not 1");
    KERNEL_LOCK();
    let phase = Arc::new(AtomicU32::new(0));
    let seen = Arc::new(Mutex::new(Ipl::None, Vec::new()));
    let done = Arc::new(AtomicU32::new(0));
    let mine = sched_pct_priority(crate::kern::kern_proc::curproc()).ok_or("no PCT priority")?;
    let mut spawned = 0;
    let mut outranks = false;
    while !outranks && spawned < 32 {
        let (p, s, d) = (phase.clone(), seen.clone(), done.clone());
        let tid = kthread_create("kltaker", move || {
            s.lock().push(p.load(Ordering::Relaxed));
            d.fetch_add(1, Ordering::Relaxed);
        })
        .ok_or("no memory for a thread")?;
        spawned += 1;
        outranks = sched_pct_priority(tid).is_some_and(|p| p > mine);
    }
    check!(outranks, "none of {spawned} threads outranks this one");
    // A lock point: the outranking thread runs and waits for the lock.
    DUMMY.rw_enter_write();
    DUMMY.rw_exit();
    let (depth, waits) = kernel_lock_mine();
    check!(depth == 2, "depth {depth} after a lock point, not 2");
    check!(waits > waits0, "no thread waited for the kernel lock");
    check!(seen.lock().is_empty(), "threads got past the kernel lock held by another: {:?}", *seen.lock());
    phase.store(1, Ordering::Relaxed);
    join(&done, spawned)?;
    let (depth, _) = kernel_lock_mine();
    check!(depth == 2, "depth {depth} after sleeping, not 2");
    check!(seen.lock().iter().all(|&p| p == 1), "a thread ran before the sleep: {:?}", *seen.lock());
    KERNEL_UNLOCK();
    crate::printf!("kernel_lock: of {spawned} threads the one that outranks this one waited ({} waits), then all ran while this one slept\n", waits - waits0);
    Ok(())
}

/// Under `sched.pct=1 sched.mp=1`: rwsleep_norelock is asleep before it
/// lets go of the lock. A thread that outranks this one waits for the
/// lock and, once it has it, is the one that wakes this one. Were the lock
/// let go before the sleep (with interrupts on: a lock point), the second
/// CPU would run the waker at once and its wakeup would come first and be
/// lost: this thread would sleep forever (the hang watchdog's report). As
/// it is, the waker runs at this thread's switch (`selftest-rwsleep`).
fn test_rwsleep() -> TestResult {
    use crate::kern::kern_lock::{kernel_lock_mine, mp_on, KERNEL_LOCK, KERNEL_UNLOCK};
    check!(mp_on(), "boot it with sched.pct=1 sched.mp=1");
    static LOCK: Rwlock = Rwlock::new("ktrwslp");
    // Unlocked, as a fault is, so the waker can run beside this thread.
    check!(kernel_lock_mine().0 == 1, "proc0 does not hold the kernel lock once");
    KERNEL_UNLOCK();
    LOCK.rw_enter_write();
    let r = rwsleep_woken(&LOCK);
    // As it was, whatever failed.
    if LOCK.rw_write_held() {
        LOCK.rw_exit();
    }
    KERNEL_LOCK();
    r
}

/// test_rwsleep's body: called holding `lock`, returns without it if the
/// sleep was reached.
fn rwsleep_woken(lock: &'static Rwlock) -> TestResult {
    use crate::kern::kern_sched::sched_pct_priority;
    use crate::kern::kern_synch::rwsleep_norelock;
    static DUMMY: Rwlock = Rwlock::new("ktdummy");
    static WOKEN: AtomicU32 = AtomicU32::new(0);
    let waker = Arc::new(AtomicU32::new(0));
    let done = Arc::new(AtomicU32::new(0));
    let mine = sched_pct_priority(crate::kern::kern_proc::curproc()).ok_or("no PCT priority")?;
    let mut spawned = 0;
    while waker.load(Ordering::Relaxed) == 0 && spawned < 32 {
        let (w, d) = (waker.clone(), done.clone());
        let tid = kthread_create("rwslwaker", move || {
            lock.rw_enter_write();
            // Only the outranking thread wakes; the others' wakeups would
            // hide a lost one.
            if w.load(Ordering::Relaxed) == crate::kern::kern_proc::curproc() {
                WOKEN.store(1, Ordering::Relaxed);
                wakeup(wchan(&WOKEN));
            }
            lock.rw_exit();
            d.fetch_add(1, Ordering::Relaxed);
        })
        .ok_or("no memory for a thread")?;
        spawned += 1;
        if sched_pct_priority(tid).is_some_and(|p| p > mine) {
            waker.store(tid, Ordering::Relaxed);
        }
    }
    check!(waker.load(Ordering::Relaxed) != 0, "none of {spawned} threads outranks this one");
    // A lock point: the waker runs and waits for LOCK.
    DUMMY.rw_enter_write();
    DUMMY.rw_exit();
    check!(done.load(Ordering::Relaxed) == 0, "a thread got the lock while this one held it");
    while WOKEN.load(Ordering::Relaxed) == 0 {
        rwsleep_norelock(wchan(&WOKEN), lock, "ktrwslp");
        if WOKEN.load(Ordering::Relaxed) == 0 {
            lock.rw_enter_write();
        }
    }
    join(&done, spawned)?;
    crate::printf!("rwsleep: woken by thread {} of {spawned}, the one that outranks this one and took the lock it let go\n", waker.load(Ordering::Relaxed));
    Ok(())
}

/// `test=pct-starve sched.pct=1 kern.hangsecs=1`: the starvation watchdog
/// names a thread the schedule starves. This thread waits for memory that
/// only the lowest-priority of three threads would give back (a flag,
/// here), while the other two, which outrank it, keep the CPU between them
/// with wakeups (as a pagedaemon and a retrying fault can); under PCT's
/// strict priorities it never runs, and after kern.hangsecs the watchdog
/// reports it (test `pct-starve`). Never returns.
fn test_pct_starve() -> TestResult {
    use crate::kern::kern_sched::sched_pct_priority;
    static GO: AtomicU32 = AtomicU32::new(0);
    static GAVE: AtomicU32 = AtomicU32::new(0);
    static ROLE: [AtomicU32; 3] = [const { AtomicU32::new(0) }; 3];
    static PING: [u32; 2] = [0; 2];
    check!(crate::diag::pct::pct_on(), "boot it with sched.pct=1");
    let mut made = Vec::new();
    for (i, (role, name)) in ROLE.iter().zip(["ktstarve0", "ktstarve1", "ktstarve2"]).enumerate() {
        let tid = kthread_create(name, move || {
            while GO.load(Ordering::Relaxed) == 0 {
                let _ = tsleep(wchan(&GO), "ktgo", 1);
            }
            match role.load(Ordering::Relaxed) {
                // The one that would give memory back.
                0 => GAVE.store(1, Ordering::Relaxed),
                // Ping-pong: wake the other, sleep until it wakes this one.
                r => loop {
                    let me = (r - 1) as usize;
                    wakeup(wchan(&PING[1 - me]));
                    let _ = tsleep(wchan(&PING[me]), "ktping", 1);
                },
            }
        })
        .ok_or("no memory for a thread")?;
        made.push((sched_pct_priority(tid).ok_or("no PCT priority")?, i, tid));
    }
    made.sort_unstable();
    let (_, low, low_tid) = made[0];
    ROLE[made[1].1].store(1, Ordering::Relaxed);
    ROLE[made[2].1].store(2, Ordering::Relaxed);
    crate::printf!("pct-starve: thread {low_tid} (ktstarve{low}) would give memory back; threads {} and {} outrank it\n", made[1].2, made[2].2);
    GO.store(1, Ordering::Relaxed);
    wakeup(wchan(&GO));
    while GAVE.load(Ordering::Relaxed) == 0 {
        crate::uvm::uvm_pdaemon::uvm_wait("ktstarve");
    }
    Err(String::from("the lowest-priority thread ran: nothing starved"))
}

fn test_tsleep_timeout() -> TestResult {
    static CHAN: u32 = 0;
    let t0 = ticks();
    let r = tsleep(wchan(&CHAN), "ktimo", 5);
    let dt = ticks().wrapping_sub(t0);
    check!(r == Err(Errno::EWOULDBLOCK), "tsleep with nobody to wake it returned {r:?}");
    check!((5..=6).contains(&dt), "a 5-tick timeout took {dt} ticks");
    let chan = wchan(&CHAN);
    kthread_create("waker", move || wakeup(chan)).ok_or("no memory for a thread")?;
    let r = tsleep(chan, "ktimo", 50);
    check!(r.is_ok(), "woken sleep returned {r:?}");
    check!(ticks().wrapping_sub(t0) < 50, "the wakeup did not end the sleep early");
    Ok(())
}

/// A producer and a consumer hand items over through a mutex-protected
/// count; the consumer sleeps with msleep, which must not lose a wakeup.
fn test_msleep_mutex() -> TestResult {
    let q = Arc::new(Mutex::new(Ipl::Vm, (0u32, 0u32)));
    let done = Arc::new(AtomicU32::new(0));
    let (qc, dc) = (q.clone(), done.clone());
    kthread_create("consumer", move || {
        let mut g = qc.lock();
        while g.1 < 20 {
            while g.0 == 0 {
                g = msleep(wchan(&*qc), g, "ktcons", 0).0;
            }
            g.0 -= 1;
            g.1 += 1;
        }
        drop(g);
        dc.fetch_add(1, Ordering::Relaxed);
    })
    .ok_or("no memory for a thread")?;
    for i in 0..20 {
        {
            let mut g = q.lock();
            g.0 += 1;
        }
        wakeup(wchan(&*q));
        if i % 3 == 0 {
            yield_cpu();
        }
    }
    join(&done, 1)?;
    let g = q.lock();
    check!(*g == (0, 20), "consumed {} of 20, {} left", g.1, g.0);
    check!(crate::kern::kern_mutex::mutex_level() == 1, "mutex level {}", crate::kern::kern_mutex::mutex_level());
    Ok(())
}

fn test_rwlock() -> TestResult {
    static LOCK: Rwlock = Rwlock::new("ktrwlock");
    let done = Arc::new(AtomicU32::new(0));
    let got = Arc::new(AtomicU32::new(0));
    LOCK.rw_enter_write();
    let (d, g) = (done.clone(), got.clone());
    kthread_create("rwtry", move || {
        if LOCK.rw_enter(RwFlags::RW_READ | RwFlags::RW_NOSLEEP) == Err(Errno::EBUSY) {
            g.fetch_add(1, Ordering::Relaxed);
        }
        LOCK.rw_enter_read();
        g.fetch_add(10, Ordering::Relaxed);
        LOCK.rw_exit();
        d.fetch_add(1, Ordering::Relaxed);
    })
    .ok_or("no memory for a thread")?;
    yield_cpu();
    check!(got.load(Ordering::Relaxed) == 1, "try-lock against a writer gave {}", got.load(Ordering::Relaxed));
    LOCK.rw_exit();
    join(&done, 1)?;
    check!(got.load(Ordering::Relaxed) == 11, "the reader did not get the lock after the writer left");
    LOCK.rw_enter_read();
    check!(LOCK.rw_enter(RwFlags::RW_READ | RwFlags::RW_NOSLEEP).is_ok(), "two readers refused");
    LOCK.rw_exit();
    LOCK.rw_exit();
    Ok(())
}

/// Tests run only by name (`test=NAME`), never by test=all: each needs a
/// boot of its own (memory run out, a low kern.maxproc, a heap measure).
pub const ALONE: &[KTest] = &[
    ("user-oom", test_user_oom),
    ("user-maxproc", test_user_maxproc),
    ("user-forks", test_user_forks),
    ("user-pmap", test_user_pmap),
    ("user-syncmap", test_user_syncmap),
    ("user-enospc", test_user_enospc),
    ("user-wedge", test_user_wedge),
    ("user-msyncfull", test_user_msyncfull),
    ("user-mapents", test_user_mapents),
    ("user-heapfull", test_user_heapfull),
    ("user-forkcow", test_user_forkcow),
    ("kernel-loop", test_kernel_loop),
    ("kernel_lock", test_kernel_lock),
    ("rwsleep", test_rwsleep),
    ("pct-starve", test_pct_starve),
];

/// `test=kernel-loop kern.hangsecs=N`: the thread loops in the kernel
/// without a switch; the kernel-loop watchdog must report it with this
/// function in the trace (test `kernel-loop-watchdog`). Never returns.
fn test_kernel_loop() -> TestResult {
    spin_in_kernel()
}

#[inline(never)]
fn spin_in_kernel() -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// `test=user-forkcow`: `/bin/utest forkcow`, anonymous memory shared
/// copy-on-write by fork (test `fork-cow`).
fn test_user_forkcow() -> TestResult {
    utest_alone("forkcow")
}

/// `test=user-mapents`: `/bin/utest mapents`, map entries until ENOMEM
/// (test `map-entries`).
fn test_user_mapents() -> TestResult {
    utest_alone("mapents")
}

/// `test=user-heapfull`: `/bin/utest heapfull`, kernel allocations with
/// memory full of dirty pages no pageout can write (test `heap-full`).
fn test_user_heapfull() -> TestResult {
    crate::uvm::uvm_pdaemon::uvm_pagedaemon_start();
    let r = utest_alone("heapfull");
    crate::printf!(
        "user_heapfull: kernel heap {} KB free, {} KB taken from pages\n",
        crate::kern::kern_malloc::heap_free() / 1024,
        crate::kern::kern_malloc::heap_grown() / 1024
    );
    r
}

/// `test=user-enospc`: `/bin/utest enospc`, a mapped file's pageout on a
/// full disk (test `pageout-enospc`).
fn test_user_enospc() -> TestResult {
    utest_alone("enospc")
}

/// `test=user-wedge kern.hangsecs=N`: `/bin/utest wedge` runs memory out
/// with dirty file pages no pageout can write; the hang watchdog reports
/// the wait (test `memwait-watchdog`).
fn test_user_wedge() -> TestResult {
    crate::uvm::uvm_pdaemon::uvm_pagedaemon_start();
    utest_alone("wedge")
}

/// `test=user-msyncfull`: `/bin/utest msyncfull`, msync on a full disk
/// (doc/findings.md F10).
fn test_user_msyncfull() -> TestResult {
    utest_alone("msyncfull")
}

/// `test=user-syncmap`: `/bin/utest syncmap` stores through a shared
/// mapping, syncs and halts the machine with the mapping in place; the
/// host reads the saved image (test `sync-mapped-halt`).
fn test_user_syncmap() -> TestResult {
    utest_alone("syncmap")
}

/// `test=user-pmap p0.watch=1`: the macppc hypothesis of doc/p0-hunt.md —
/// a changed bit kept across a hashed-page-table eviction and credited to
/// the wrong page would leave a persisting object that was only read with
/// a "modified" page. `/bin/utest pmap` crowds the PTEGs of a read-only
/// file mapping with written anonymous pages until they evict each other,
/// then lets the object persist; the P0 detector is the oracle.
fn test_user_pmap() -> TestResult {
    let before = crate::arch::pmap::pmap_evictions();
    utest_alone("pmap")?;
    let evictions = crate::arch::pmap::pmap_evictions() - before;
    crate::printf!("user_pmap: {evictions} hashed-page-table evictions, and no P0\n");
    check!(evictions > 0, "the probe evicted nothing from the hashed page table");
    Ok(())
}

/// `test=user-oom`: `/bin/utest oom`, whose children touch twice the
/// machine's memory. The kernel must survive, killing with OpenBSD's "out
/// of swap" line.
fn test_user_oom() -> TestResult {
    utest_alone("oom")
}

/// `test=user-maxproc` (with a low kern.maxproc): `/bin/utest maxproc`
/// forks until fork says EAGAIN.
fn test_user_maxproc() -> TestResult {
    utest_alone("maxproc")
}

/// `test=user-forks`: the kernel heap around 500 fork/exit/wait cycles
/// and again around 500 more, which must not grow it (a leak per process
/// ran the heap out after ~99,000).
fn test_user_forks() -> TestResult {
    utest_alone("forks")?;
    let h0 = crate::kern::kern_malloc::heap_free();
    let g0 = crate::kern::kern_malloc::heap_grown();
    utest_alone("forks")?;
    let h1 = crate::kern::kern_malloc::heap_free();
    let g1 = crate::kern::kern_malloc::heap_grown();
    crate::printf!("user_forks: heap free {h0} -> {h1} bytes, grown {g0} -> {g1} over 500 forks\n");
    check!(g1 == g0 && h1 + 4096 >= h0, "500 fork/exit/wait cycles took {} bytes of heap", (h0 + (g1 - g0)).saturating_sub(h1));
    Ok(())
}

/// A program's text is its vnode's pages (exec maps them copy-on-write,
/// as OpenBSD's vmcmd_map_pagedvn): once /bin/hello has run and exited,
/// its vnode's object persists, unreferenced, holding the pages it ran.
fn test_exec_text_persists() -> TestResult {
    use crate::uvm::uvm_vnode::UvnFlags;
    let pid = kern_exec::proc_spawn("/bin/hello", &["hello", "x"]).ok_or("no memory for a process")?;
    let (_, status) = dowait4(pid as i32).map_err(|e| format!("wait4: {e}"))?;
    check!(status == 2 << 8, "hello ended with status {status:#x}, not its argument count");
    let vp = crate::kern::vfs_lookup::namei_lookup("/bin/hello").map_err(|e| format!("namei /bin/hello: {e}"))?;
    let (flags, refs, npages) = vp.v_uvm.with(|u| (u.u_flags, u.uo_refs, u.pages.len()));
    crate::kern::vfs_subr::vrele(vp);
    check!(flags.contains(UvnFlags::UVM_VNODE_VALID | UvnFlags::UVM_VNODE_CANPERSIST), "hello's object is {flags:?}, not a persisting one");
    check!(refs == 0, "hello's object still has {refs} references after it exited");
    check!(npages > 0, "hello's object holds no pages: its text was not mapped from the vnode");
    Ok(())
}

fn utest_alone(check: &str) -> TestResult {
    let pid = kern_exec::proc_spawn("/bin/utest", &["utest", check]).ok_or("no memory for a process")?;
    let (_, status) = dowait4(pid as i32).map_err(|e| format!("wait4: {e}"))?;
    check!(status == 0, "utest {check} ended with status {status:#x}");
    Ok(())
}

/// Runs /bin/utest (the user-mode checks: system calls, fork, exec, wait,
/// zero-fill memory, EFAULT from copyin, a faulting child killed, two
/// CPU-bound processes sharing the CPU) and, meanwhile, traces it while it
/// sleeps in wait4 to see the trace cross into user mode.
fn test_user_programs() -> TestResult {
    let pid = kern_exec::proc_spawn("/bin/utest", &["utest"]).ok_or("no memory for a process")?;
    let trace = Arc::new(Mutex::new(Ipl::None, String::new()));
    let (t, done) = (trace.clone(), Arc::new(AtomicU32::new(0)));
    let d = done.clone();
    kthread_create("ktobserve", move || {
        for _ in 0..500 {
            let asleep = {
                let st = sched_lock();
                st.procs.get(&pid).is_some_and(|p| p.p_stat == ProcStat::SSLEEP && p.p_wmesg == "wait")
            };
            if asleep {
                if let Some(sp) = proc_saved_sp(pid) {
                    let mut s = String::new();
                    db_trace::db_stack_trace_from(sp, &[], &mut s);
                    *t.lock() = s;
                }
                break;
            }
            let _ = tsleep(wchan(&*d), "ktobs", 1);
        }
        d.fetch_add(1, Ordering::Relaxed);
    })
    .ok_or("no memory for a thread")?;
    let (p, status) = dowait4(pid as i32).map_err(|e| format!("wait4: {e}"))?;
    join(&done, 1)?;
    check!(p == pid, "wait4 collected pid {p}, not {pid}");
    check!(status == 0, "utest ended with status {status:#x} (failures << 8, or a signal)");
    let tr = trace.lock().clone();
    check!(tr.contains("dowait4") && tr.contains("--- syscall (number 11) ---"), "trace of utest in wait4 lacks the syscall marker:\n{tr}");
    Ok(())
}

/// A thread that recurses until it runs into its stack's guard page.
pub fn ktest_stack_overflow() {
    #[inline(never)]
    fn ktest_recurse(n: u32) -> u32 {
        let buf = core::hint::black_box([n; 64]);
        if core::hint::black_box(n) == u32::MAX {
            return 0;
        }
        buf[(n % 64) as usize].wrapping_add(ktest_recurse(n + 1))
    }
    kthread_create("ktoverflow", || {
        core::hint::black_box(ktest_recurse(0));
    });
    let _ = tsleep(ktest_stack_overflow as fn() as usize, "ktwait", 100);
    panic!("ktest: the stack overflow went unnoticed");
}

/// Two threads that each hold one lock and want the other's, while the
/// boot thread waits for them forever: a deadlock the kernel must report.
pub fn ktest_deadlock() {
    static A: Rwlock = Rwlock::new("ktlockA");
    static B: Rwlock = Rwlock::new("ktlockB");
    fn ktest_deadlock_take(first: &'static Rwlock, second: &'static Rwlock) {
        first.rw_enter_write();
        yield_cpu();
        second.rw_enter_write();
    }
    kthread_create("ktdeadA", || ktest_deadlock_take(&A, &B));
    kthread_create("ktdeadB", || ktest_deadlock_take(&B, &A));
    let _ = tsleep(ktest_deadlock as fn() as usize, "ktjoin", 0);
    panic!("ktest: the deadlock went unnoticed");
}

/// The hang watchdog (`test=hang kern.hangsecs=2`): one thread holds a lock
/// and naps in a loop (a timed sleep, so the machine never looks
/// deadlocked), another waits for the lock with no timeout.
pub fn ktest_hang() {
    static L: Rwlock = Rwlock::new("hanglock");
    fn nap() {
        let _ = tsleep(wchan(&L), "ktnap", 1);
    }
    kthread_create("ktholder", || {
        L.rw_enter_write();
        loop {
            nap();
        }
    });
    kthread_create("ktwaiter", || {
        yield_cpu();
        L.rw_enter_write();
    });
    loop {
        nap();
    }
}

/// Sleeping at a raised IPL must be caught, not allowed to hang.
#[inline(never)]
pub fn ktest_sleep_spl() {
    let _s = intr::splbio();
    let _ = tsleep(ktest_sleep_spl as fn() as usize, "ktspl", 1);
}

/// `test=bench`: the costs `cargo xtask bench` records, as `bench:` lines:
/// a switch between two kernel threads here, then /bin/ubench for the
/// system call, process switch and page fault.
pub fn ktest_bench() {
    const N: u32 = 1000;
    let done = Arc::new(AtomicU32::new(0));
    let t0 = crate::arch::cpu::mftb();
    for _ in 0..2 {
        let d = done.clone();
        kthread_create("ktbench", move || {
            for _ in 0..N {
                yield_cpu();
            }
            d.fetch_add(1, Ordering::Relaxed);
        });
    }
    while done.load(Ordering::Relaxed) < 2 {
        yield_cpu();
    }
    let tbfreq = crate::kern::init_main::bootinfo().tbfreq.max(1) as u64;
    let ns = (crate::arch::cpu::mftb() - t0) * 1_000_000_000 / tbfreq;
    crate::printf!("bench: kthread_switch {} instructions\n", ns / (2 * N as u64));
    // The flight recorder's cost: one event about the root vnode, counts
    // read and all (guest time under -icount shift=0 is instructions).
    if let Ok(vp) = crate::kern::vfs_lookup::namei_lookup("/") {
        const E: u64 = 10_000;
        let t0 = crate::arch::cpu::mftb();
        for i in 0..E {
            crate::diag::vfs_hist::vh(vp, crate::diag::vfs_hist::Vh::Vref, i as u32, 0);
        }
        let ns = (crate::arch::cpu::mftb() - t0) * 1_000_000_000 / tbfreq;
        crate::kern::vfs_subr::vrele(vp);
        crate::printf!("bench: vhist_event {} instructions\n", ns / E);
    }
    // The physical limit of any file system here: a 4 KiB memory copy.
    {
        const R: u64 = 4096;
        let src = alloc::vec![0x5au8; 4096];
        let mut dst = alloc::vec![0u8; 4096];
        let t0 = crate::arch::cpu::mftb();
        for i in 0..R {
            dst.copy_from_slice(core::hint::black_box(&src));
            core::hint::black_box(&mut dst)[i as usize % 4096] ^= 1;
        }
        let ns = ((crate::arch::cpu::mftb() - t0) * 1_000_000_000 / tbfreq).max(1);
        crate::printf!("bench: memcpy_4k {} KiB/s\n", R * 4 * 1_000_000_000 / ns);
    }
    let arg = alloc::format!("{tbfreq}");
    match kern_exec::proc_spawn("/bin/ubench", &["ubench", &arg]) {
        Some(pid) => {
            let _ = dowait4(pid as i32);
        }
        None => crate::printf!("bench: no memory for /bin/ubench\n"),
    }
}
