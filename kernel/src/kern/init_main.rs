//! Kernel startup (OpenBSD main()): take the machine over from Open
//! Firmware, bring up the console, interrupts and the clock, then run the
//! self-tests or the demo the bootargs ask for.

use crate::arch::{clock, cpu, intr, mmu, pmap};
use crate::ddb::db_sym;
use crate::dev::{cuda, escc, openpic, pvpanic, rd};
use crate::kern::{kern_clock, kern_exec, kern_exit, kern_malloc, kern_proc, kern_sched, subr_prf, vfs_bio, vfs_subr};
use crate::printf;
use crate::sys::conf;
use crate::uvm::{uvm_page, uvm_pdaemon};
use kcore::bootargs::{self, BootArgs, Workload};
use kcore::bootinfo::{BootInfo, Usage};
use spin::Once;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

static BOOTINFO: Once<BootInfo> = Once::new();

pub fn bootinfo() -> &'static BootInfo {
    BOOTINFO.get().expect("bootinfo used before main")
}

/// The end of the kernel's image in memory, .bss included (the linker's).
fn kernel_image_end() -> u32 {
    extern "C" {
        static __bss_end: u8;
    }
    core::ptr::addr_of!(__bss_end) as u32
}

#[no_mangle]
extern "C" fn main(bip: *const BootInfo) -> ! {
    // SAFETY: the boot stub passes a pointer to its boot-info record in r3;
    // it is copied before anything can overwrite the stub's memory.
    let mut bi = unsafe { *bip };
    cpu::cpu_bootstrap();
    // The page table is sized from memory, as OpenBSD's pmap_bootstrap
    // does: all of RAM, or what physmem= leaves the machine (read ahead of
    // the other boot arguments, which are checked below).
    let ram_end = bi.memory().iter().map(|m| m.start.saturating_add(m.size)).max().unwrap_or(0);
    let pages = {
        let early = bootargs::parse(bi.bootargs(), &mut |_| {});
        early.physmem_pages.unwrap_or(u32::MAX).min(bi.memory().iter().map(|m| m.size / uvm_page::PAGE_SIZE).sum())
    };
    let table = pmap::pmap_steal_ptable(&mut bi, pages);
    let bi = *BOOTINFO.call_once(|| bi);
    mmu::bootstrap(kernel_image_end(), ram_end, table);
    if !bi.valid() {
        // Without the record there is no console address to complain on;
        // stopping here leaves the magic in r3 for a debugger.
        loop {
            core::hint::spin_loop();
        }
    }
    escc::cninit(mmu::iomap(bi.escc_ctrl), mmu::iomap(bi.escc_data));
    let tb = cpu::mftb();
    kern_clock::set_boottime_tb(tb);
    printf!("ppcbsd kernel {} (powerpc, mac99)\n", VERSION);
    printf!(
        "cpu0: {}{}\n",
        cpu::cpu_name(),
        if cpu::ppc_proc_is_64b() { ", 64-bit, run in 32-bit mode; no BATs: the kernel's 1:1 map is spilled page-table entries" } else { "" }
    );
    pvpanic::attach(mmu::iomap(bi.pvpanic));
    cuda::attach(mmu::iomap(bi.cuda));
    kern_malloc::kmeminit();
    db_sym::db_sym_init(&bi);

    let mut bad = 0;
    let args = bootargs::parse(bi.bootargs(), &mut |e| {
        printf!("{}\n", e);
        bad += 1;
    });
    if bad > 0 {
        panic!("bad boot arguments ({bad})");
    }
    subr_prf::set_ddb_on_panic(args.ddb);
    identify(&bi, &args);
    uvm_page::uvm_page_init(&bi, args.physmem_pages);
    pmap::pmap_bootstrap();
    kern_sched::sched_init();
    crate::uvm::uvm_pager::uvm_pager_init();
    let (rd0_size, rd1) = ramdisk_split(&bi, &args);
    rd::rd_attach(0, bi.ramdisk.start, rd0_size, args.seed, args.rd_latency_us);
    if let Some((start, size)) = rd1 {
        rd::rd_attach(1, start, size, args.seed, args.rd_latency_us);
    }
    conf::setroot(conf::makedev(crate::arch::conf::RD_MAJOR, 0));
    crate::uvm::uvm_extern::uvm_config_init(args.uvn_policy, args.mmap_uncache);
    crate::diag::vfs_hist::vhist_set(args.vhist);
    crate::diag::uvm_p0::p0_watch_init(args.p0_watch);
    crate::diag::deadlock::set_hangsecs(args.hangsecs);
    crate::kern::kern_fork::set_maxproc(args.maxproc);
    if args.sched_pct > 0 {
        kern_sched::sched_pct_init(args.sched_pct, args.sched_steps.unwrap_or(kcore::bootargs::SCHED_STEPS_DEFAULT), args.seed);
    }
    if args.sched_mp {
        crate::kern::kern_lock::kernel_lock_init();
        // On behalf of proc0 (init_main.c:328@2ea167a2).
        crate::kern::kern_lock::KERNEL_LOCK();
        printf!("sched: mp: a second CPU simulated, its turns PCT's; the kernel lock held where OpenBSD takes it\n");
    }
    if !args.vhist {
        printf!("vfs: vnode flight recorder off (kern.vhist=0)\n");
    }
    if args.prof {
        crate::kern::subr_prof::prof_init();
        printf!("prof: sampling the kernel at every clock tick (kern.prof=1)\n");
    }
    printf!("uvm: vnode pager policy {:?}, mmap uncache hack {}\n", args.uvn_policy, if args.mmap_uncache { "on" } else { "off" });
    if let Some(n) = args.maxvnodes {
        vfs_subr::vfs_setmaxvnodes(n);
        printf!("vfs: kern.maxvnodes {n}\n");
    }
    let exp = uvm_page::uvmexp();
    let want = exp.npages as usize * uvm_page::PAGE_SIZE as usize / 100 * args.bufcachepercent as usize;
    let bufbytes = want.min(vfs_bio::BUFCACHE_MAX);
    vfs_bio::bufcache_setlimit(bufbytes);
    // The cache's buffers and the file system's working copies live in the
    // kernel heap: room for them now, while memory is plentiful.
    if !kern_malloc::kmem_reserve(bufbytes + KMEM_RESERVE_EXTRA) {
        printf!("kmem: cannot reserve {} KB of heap for the buffer cache\n", (bufbytes + KMEM_RESERVE_EXTRA) / 1024);
    }
    printf!(
        "vfs: buffer cache {} KB (kern.bufcachepercent {}{})\n",
        bufbytes / 1024,
        args.bufcachepercent,
        if bufbytes < want { ", capped: buffers live in the kernel heap" } else { "" }
    );
    printf!(
        "uvm: {} pages ({} MB) managed, freemin {}, freetarg {}{}\n",
        exp.npages,
        exp.npages / 256,
        exp.freemin,
        exp.freetarg,
        if args.physmem_pages.is_some() { " (limited by physmem=)" } else { "" }
    );

    openpic::init(mmu::iomap(bi.openpic));
    escc::cnattach_intr();
    kern_clock::set_hz(args.hz);
    clock::cpu_initclocks(bi.tbfreq, args.hz);
    intr::splx(intr::Ipl::None);
    // SAFETY: turns on external and decrementer interrupts; vectors,
    // handlers and the clock are set up above.
    unsafe { cpu::mtmsr(cpu::mfmsr() | cpu::Msr::EE | cpu::Msr::ME | cpu::Msr::RI) };
    printf!("clock: hz {}, {} time-base ticks per tick\n", args.hz, clock::tb_per_tick());
    let _ = crate::kern::vfs_init::vfs_mountroot();
    let user_image = rd1.is_some();
    let user_mounted = user_image && crate::kern::vfs_init::vfs_mount(conf::makedev(crate::arch::conf::RD_MAJOR, 1), USER_MNT).is_ok();

    match args.test {
        Some(sel) => crate::ktest::run(sel, &args),
        None => match args.workload {
            Some(Workload::Walk) if user_image && !user_mounted => printf!("walk: {USER_MNT}: the user's image is not mounted\n"),
            Some(Workload::Walk) => crate::ktest::workload::workload_walk(),
            Some(Workload::Fsstress) => crate::ktest::workload::workload_fsstress(args.seed, args.fsstress_dir),
            Some(Workload::Race) => {
                let (seed, secs, sync) = (alloc::format!("{}", args.seed), alloc::format!("{}", args.race_secs), alloc::format!("{}", args.race_sync_ms));
                let keep = if args.race_keepopen { "keepopen" } else { "close" };
                start_init(
                    "/sbin/init",
                    &["init", "race", &seed, &secs, keep, &sync, if args.race_truncate { "truncate" } else { "notruncate" }, args.race_dir],
                );
            }
            Some(Workload::Field) => {
                let (seed, secs, sync) = (alloc::format!("{}", args.seed), alloc::format!("{}", args.race_secs), alloc::format!("{}", args.race_sync_ms));
                start_init("/sbin/init", &["init", "field", &seed, &secs, &sync, args.race_dir]);
            }
            // The fuzzer runs as init: it reaps the children its workers leave.
            Some(Workload::Fuzz) => {
                let (seed, ops) = (alloc::format!("{}", args.seed), alloc::format!("{}", args.fuzz_ops));
                let mode = if args.fuzz_p0 { "p0" } else { "all" };
                start_init("/bin/scfuzz", &["scfuzz", &seed, &ops, "driver", mode, if args.fuzz_hog { "hog" } else { "nohog" }]);
            }
            None => {
                demo(&args);
                start_init("/sbin/init", &["init"]);
            }
        },
    }
    crate::diag::halt::halt();
}

/// Heap kept free at boot beyond the buffer cache's limit: the file
/// system's per-operation copies (cylinder groups, blocks being moved).
const KMEM_RESERVE_EXTRA: usize = 512 * 1024;

/// Where a user's image (rd1) is mounted.
pub const USER_MNT: &str = "/mnt";

/// The ramdisk the stub handed over, split at `rd1.offset` when a user's
/// image follows the boot image: rd0's size, and rd1's start and size.
fn ramdisk_split(bi: &BootInfo, args: &BootArgs<'_>) -> (u32, Option<(u32, u32)>) {
    match args.rd1_offset {
        Some(off) if off < bi.ramdisk.size => (off, Some((bi.ramdisk.start + off, bi.ramdisk.size - off))),
        _ => (bi.ramdisk.size, None),
    }
}

/// Describes the machine and how long the boot took.
fn identify(bi: &BootInfo, args: &BootArgs<'_>) {
    let mb = |b: u64| b / (1024 * 1024);
    let total: u64 = bi.memory().iter().map(|m| m.size as u64).sum();
    printf!("real mem = {} MB, tbfreq {} Hz, seed {}\n", mb(total), bi.tbfreq, args.seed);
    for u in bi.used() {
        printf!("  in use {:#010x}-{:#010x} {}\n", u.range.start, u.range.end(), Usage::name(u.usage));
    }
    printf!(
        "mainbus: mac-io {:#x}, escc {:#x}, openpic {:#x}, cuda {:#x}, pvpanic {}\n",
        bi.macio_base,
        bi.escc_ctrl,
        bi.openpic,
        bi.cuda,
        if bi.pvpanic != 0 { "yes" } else { "no" }
    );
    let (rd0_size, rd1) = ramdisk_split(bi, args);
    printf!("rd0: ramdisk {} bytes at {:#x}\n", rd0_size, bi.ramdisk.start);
    match (rd1, args.rd1_offset) {
        (Some((start, size)), _) => printf!("rd1: ramdisk {} bytes at {:#x}\n", size, start),
        (None, Some(off)) => printf!("rd1: rd1.offset={off} is not inside the ramdisk's {} bytes: no rd1\n", bi.ramdisk.size),
        (None, None) => {}
    }
    printf!("rd0: {}-{} us per transfer (rd.latency)\n", args.rd_latency_us.0, args.rd_latency_us.1);
    let first = kern_clock::boottime_tb();
    let per_ms = (bi.tbfreq / 1000).max(1) as u64;
    printf!(
        "boot: firmware to stub {} ms, stub to kernel {} ms, kernel to first line {} ms\n",
        bi.tb_stub_entry as u64 / per_ms,
        (bi.tb_kernel_entry.wrapping_sub(bi.tb_stub_entry)) as u64 / per_ms,
        (first as u32).wrapping_sub(bi.tb_kernel_entry) as u64 / per_ms
    );
}

/// Runs `path` as init (/sbin/init, or the fuzzer) and waits for it; init
/// ends by halting the machine, so its exit is worth a word.
fn start_init(path: &str, argv: &[&str]) {
    printf!("init: starting {path}\n");
    uvm_pdaemon::uvm_pagedaemon_start();
    let Some(pid) = kern_exec::proc_spawn(path, argv) else {
        panic!("init: no memory for the init process");
    };
    kern_proc::sched_lock().initproc = pid;
    match kern_exit::dowait4(pid as i32) {
        Ok((_, status)) => printf!("init: {path} exited with status {status:#x}\n"),
        Err(e) => printf!("init: wait: {e}\n"),
    }
}

/// The default boot: show the clock ticking and echo console input, then
/// halt after `halt=` seconds (never with halt=0).
fn demo(args: &BootArgs<'_>) {
    let hz = kern_clock::hz();
    printf!("demo: clock ticks every second; type to see the echo; /sbin/init runs after {} s (halt=0: never)\n", args.halt);
    let mut last = kern_clock::ticks();
    let mut line = alloc::string::String::new();
    loop {
        let now = kern_clock::ticks();
        if now / hz != last / hz {
            printf!("tick {} ({} s)\n", now, now / hz);
            if args.halt != 0 && now / hz >= args.halt {
                return;
            }
        }
        last = now;
        while let Some(c) = escc::cngetc() {
            match c {
                b'\r' | b'\n' => {
                    printf!("\necho: \"{}\"\n", line);
                    line.clear();
                }
                c => {
                    printf!("{}", c as char);
                    line.push(c as char);
                }
            }
        }
        let _s = cpu::intr_disable();
        if kern_clock::ticks() == now && escc::input_pending() == 0 {
            cpu::idle();
        } else {
            cpu::intr_restore(true);
        }
    }
}
