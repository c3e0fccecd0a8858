//! Boot arguments (`/chosen bootargs`, QEMU `-append`) parsed into typed
//! options. Every word is `key=value`; an unknown key or a value of the wrong
//! form is reported by name so a typo never silently changes an experiment.

use core::fmt;

/// Which of the kernel's built-in tests to run (`test=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestSel<'a> {
    /// The whole self-test suite, then halt.
    All,
    /// A panic from a known nested call chain (checks the trace).
    Panic,
    /// A panic at a seeded, random point (checks replay and signatures).
    PanicRandom,
    /// An unhandled data storage exception (checks traces across a trap).
    Fault,
    /// One self-test by name.
    Named(&'a str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootArgs<'a> {
    /// Seed for everything random in the kernel (`seed=`).
    pub seed: u64,
    /// Run tests instead of the normal boot (`test=`).
    pub test: Option<TestSel<'a>>,
    /// Enter the interactive debugger on panic (`ddb=1`) instead of exiting.
    pub ddb: bool,
    /// Seconds of clock after which the demo boot halts (`halt=`, 0 = never).
    pub halt: u32,
    /// Clock interrupts per second (`hz=`).
    pub hz: u32,
    /// Limit on the pages of RAM the kernel manages (`physmem=`, pages or
    /// `<n>M` MiB), to make memory pressure on purpose.
    pub physmem_pages: Option<u32>,
    /// Vnodes before getnewvnode recycles (`kern.maxvnodes=`); small values
    /// force recycling.
    pub maxvnodes: Option<u32>,
    /// `uvn.policy=`: the vnode pager's behaviour (doc/race.md).
    pub uvn_policy: UvnPolicy,
    /// `uvm.mmap_uncache=`: OpenBSD's mmap hack (shared-writable objects
    /// do not persist); on unless 0.
    pub mmap_uncache: bool,
    /// `race.secs=`: how long the race workload runs before a clean halt.
    pub race_secs: u32,
    /// `race.keepopen=1`: the race workload's writers keep their files open,
    /// so a persisting object's vnode stays referenced.
    pub race_keepopen: bool,
    /// `race.sync=MS`: a process calls sync(2) every MS milliseconds of
    /// guest time during the race workload (0, the default: none).
    pub race_sync_ms: u32,
    /// `race.truncate=1`: a process truncates and re-extends a file it
    /// keeps mapped shared while the race workload runs.
    pub race_truncate: bool,
    /// `race.dir=/PATH`: the directory the race workload makes its `race`
    /// directory in (`/mnt` for a user's image).
    pub race_dir: &'a str,
    /// `fsstress.dir=/PATH`: the directory fsstress makes its `fss`
    /// directory in.
    pub fsstress_dir: &'a str,
    /// `rd1.offset=N`: a second image follows the boot image in the
    /// ramdisk at byte N (a multiple of 512); it becomes rd1, mounted on
    /// /mnt. xtask sets it for `--image`.
    pub rd1_offset: Option<u32>,
    /// `kern.bufcachepercent=`: the share of memory the buffer cache may
    /// use (OpenBSD's BUFCACHEPERCENT, 20 by default).
    pub bufcachepercent: u32,
    /// `kern.maxproc=`: the most processes at once; fork is EAGAIN beyond
    /// (OpenBSD's default for a small machine).
    pub maxproc: u32,
    /// `kern.vhist=0`: turns the vnode flight recorder off (for measuring
    /// what it costs); on by default.
    pub vhist: bool,
    /// `kern.prof=1`: sample the kernel at every clock tick and print the
    /// profile at halt (off by default).
    pub prof: bool,
    /// `kern.hangsecs=`: the hang watchdog reports a thread asleep this long
    /// on a lock, busy page or I/O with no timeout (0: off).
    pub hangsecs: u32,
    /// `p0.watch=1`: halt at the first vnode in P0 (doc/p0-hunt.md).
    pub p0_watch: bool,
    /// `fuzz.ops=`: system calls the fuzzer (`workload=fuzz`) makes.
    pub fuzz_ops: u32,
    /// `fuzz.mode=p0`: the fuzzer biased to vnode objects (the P0 search);
    /// `fuzz.mode=all` (default): every call alike.
    pub fuzz_p0: bool,
    /// `fuzz.hog=1`: /bin/memhog runs beside the fuzzer, keeping free
    /// memory at the pagedaemon's target.
    pub fuzz_hog: bool,
    /// A workload to run instead of the demo (`workload=`).
    pub workload: Option<Workload>,
    /// `rd.latency=MIN-MAX`: microseconds a ramdisk transfer takes, drawn
    /// per transfer from the seed (a fast disk by default).
    pub rd_latency_us: (u32, u32),
    /// `sched.pct=D`: probabilistic concurrency testing of depth D
    /// (doc/schedules.md): random thread priorities, D−1 priority-change
    /// points; 0 (the default) keeps the FIFO run queue.
    pub sched_pct: u32,
    /// `sched.steps=K`: the scheduling steps PCT draws its change points
    /// over (the first K of the boot).
    pub sched_steps: Option<u64>,
    /// `sched.mp=1`: simulate a second CPU under PCT, with OpenBSD's kernel
    /// lock held for real (doc/schedules.md); needs `sched.pct`.
    pub sched_mp: bool,
}

/// The deepest `sched.pct` accepted.
pub const SCHED_PCT_MAX: u32 = 8;
/// PCT's window when no `sched.steps=` is given.
pub const SCHED_STEPS_DEFAULT: u64 = 100_000;

/// The default `rd.latency`: a fast disk's 20–200 µs.
pub const RD_LATENCY_DEFAULT: (u32, u32) = (20, 200);
/// The longest `rd.latency` allowed: one second.
pub const RD_LATENCY_MAX: u32 = 1_000_000;

/// The vnode pager's policies (doc/race.md): OpenBSD's uvm_vnode.c 1.130, the
/// first proposed diff, 1.131's fix, ppcbsd's fix of the pagedaemon
/// self-deadlock that 1.131 leaves (doc/results.md), two readings of the
/// thread's last idea, each on 1.130, and OpenBSD HEAD (doc/fidelity.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UvnPolicy {
    Original,
    VgetDiff,
    Fixed,
    Fixed2,
    /// The idea's premise alone, "calling into the VFS layer with a vnode that
    /// has v_usecount == 0 is perfectly fine": 1.130 with vref allowed at use
    /// count 0 (this project's construction).
    Usecount0,
    /// The idea whole, "the vget() dance … in uvm_vnp_unache() [sic] instead
    /// of in uvn_put()": 1.130 with uvm_vnp_uncache's vref made a vget.
    UncacheVget,
    /// The race path as OpenBSD HEAD has it (uvm_vnode.c 1.151, uvm_pager.c
    /// 1.99, uvm_pdaemon.c 1.161, vfs_subr.c 1.335, vfs_vnops.c 1.128).
    Head,
}

impl UvnPolicy {
    /// Every policy, in doc/race.md's order.
    pub const ALL: [UvnPolicy; 7] =
        [UvnPolicy::Original, UvnPolicy::VgetDiff, UvnPolicy::Fixed, UvnPolicy::Fixed2, UvnPolicy::Usecount0, UvnPolicy::UncacheVget, UvnPolicy::Head];
    /// The kernel's policy when no `uvn.policy=` is given.
    pub const DEFAULT: UvnPolicy = UvnPolicy::Fixed;

    /// Its name in `uvn.policy=` (and xtask's `--policy`).
    pub const fn name(self) -> &'static str {
        match self {
            UvnPolicy::Original => "original",
            UvnPolicy::VgetDiff => "vget-diff",
            UvnPolicy::Fixed => "fixed",
            UvnPolicy::Fixed2 => "fixed-2",
            UvnPolicy::Usecount0 => "usecount0",
            UvnPolicy::UncacheVget => "uncache-vget",
            UvnPolicy::Head => "head",
        }
    }

    pub fn from_name(s: &str) -> Option<UvnPolicy> {
        UvnPolicy::ALL.into_iter().find(|p| p.name() == s)
    }
}

/// `workload=`: what the kernel runs instead of the demo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Print `walk: PATH SIZE CRC32` for every file the kernel can reach.
    Walk,
    /// Run /bin/fsstress (seeded by `seed=`), then halt.
    Fsstress,
    /// /sbin/init runs the race workload for `race.secs`, then halts.
    Race,
    /// /bin/scfuzz, as init, makes `fuzz.ops` seeded system calls, then halts.
    Fuzz,
    /// /sbin/init runs the field workload (short programs exec'd over and
    /// over, mapping files read-only) for `race.secs`, then halts.
    Field,
}

impl Default for BootArgs<'_> {
    fn default() -> Self {
        BootArgs {
            seed: 0,
            test: None,
            ddb: false,
            halt: 3,
            hz: 100,
            physmem_pages: None,
            maxvnodes: None,
            workload: None,
            uvn_policy: UvnPolicy::DEFAULT,
            mmap_uncache: true,
            race_secs: 20,
            race_keepopen: false,
            race_sync_ms: 0,
            race_truncate: false,
            race_dir: "/",
            fsstress_dir: "/",
            rd1_offset: None,
            bufcachepercent: 20,
            maxproc: 1310,
            vhist: true,
            prof: false,
            fuzz_ops: 10_000,
            fuzz_p0: false,
            fuzz_hog: false,
            p0_watch: false,
            hangsecs: 30,
            rd_latency_us: RD_LATENCY_DEFAULT,
            sched_pct: 0,
            sched_steps: None,
            sched_mp: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootArgError<'a> {
    Unknown(&'a str),
    NotKeyValue(&'a str),
    BadValue { key: &'a str, value: &'a str, expected: &'static str },
}

impl fmt::Display for BootArgError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootArgError::Unknown(k) => write!(f, "bootarg: unknown option '{k}'"),
            BootArgError::NotKeyValue(w) => write!(f, "bootarg: '{w}' is not of the form key=value"),
            BootArgError::BadValue { key, value, expected } => {
                write!(f, "bootarg: bad value '{value}' for '{key}': expected {expected}")
            }
        }
    }
}

fn number<'a>(key: &'a str, value: &'a str, expected: &'static str) -> Result<u64, BootArgError<'a>> {
    let parsed = match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => value.parse::<u64>(),
    };
    parsed.map_err(|_| BootArgError::BadValue { key, value, expected })
}

fn ranged<'a>(key: &'a str, value: &'a str, lo: u64, hi: u64, expected: &'static str) -> Result<u32, BootArgError<'a>> {
    match number(key, value, expected)? {
        n if (lo..=hi).contains(&n) => Ok(n as u32),
        _ => Err(BootArgError::BadValue { key, value, expected }),
    }
}

/// `MIN-MAX` microseconds, MIN ≤ MAX ≤ RD_LATENCY_MAX.
fn latency_range<'a>(key: &'a str, value: &'a str) -> Result<(u32, u32), BootArgError<'a>> {
    const EXPECTED: &str = "MIN-MAX in microseconds, MIN <= MAX <= 1000000";
    let (lo, hi) = value.split_once('-').ok_or(BootArgError::BadValue { key, value, expected: EXPECTED })?;
    let lo = ranged(key, lo, 0, RD_LATENCY_MAX as u64, EXPECTED).map_err(|_| BootArgError::BadValue { key, value, expected: EXPECTED })?;
    let hi = ranged(key, hi, 0, RD_LATENCY_MAX as u64, EXPECTED).map_err(|_| BootArgError::BadValue { key, value, expected: EXPECTED })?;
    if lo > hi {
        return Err(BootArgError::BadValue { key, value, expected: EXPECTED });
    }
    Ok((lo, hi))
}

/// A switch: `0` or `1`.
/// An absolute directory path for a workload: `/` or `/name…`, at most
/// 200 bytes.
fn dir<'a>(key: &'a str, value: &'a str) -> Result<&'a str, BootArgError<'a>> {
    if value.starts_with('/') && value.len() <= 200 {
        Ok(value)
    } else {
        Err(BootArgError::BadValue { key, value, expected: "an absolute path of at most 200 bytes" })
    }
}

fn flag<'a>(key: &'a str, value: &'a str) -> Result<bool, BootArgError<'a>> {
    match value {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(BootArgError::BadValue { key, value, expected: "0 or 1" }),
    }
}

/// The least `physmem=` in pages: 3 MiB, what every boot mode needs (the
/// demo boots in 2 MiB; the self-tests need 3).
pub const PHYSMEM_MIN_PAGES: u64 = 768;

/// `physmem=`: a page count, or MiB with an `M` suffix; at least 3 MiB.
fn physmem<'a>(key: &'a str, value: &'a str) -> Result<u32, BootArgError<'a>> {
    const EXPECTED: &str = "pages, or MiB as <n>M, at least 3M (768 pages)";
    let pages = match value.strip_suffix('M') {
        Some(mb) => number(key, mb, EXPECTED)?.saturating_mul(256),
        None => number(key, value, EXPECTED)?,
    };
    match pages {
        PHYSMEM_MIN_PAGES..=0x10_0000 => Ok(pages as u32),
        _ => Err(BootArgError::BadValue { key, value, expected: EXPECTED }),
    }
}

/// Parses `s`, calling `report` for every bad word; the good ones still apply.
pub fn parse<'a>(s: &'a str, report: &mut dyn FnMut(BootArgError<'a>)) -> BootArgs<'a> {
    let mut args = BootArgs::default();
    for word in s.split_ascii_whitespace() {
        let Some((key, value)) = word.split_once('=') else {
            report(BootArgError::NotKeyValue(word));
            continue;
        };
        let r = match key {
            "seed" => number(key, value, "a number").map(|n| args.seed = n),
            "test" => {
                args.test = Some(match value {
                    "all" => TestSel::All,
                    "panic" => TestSel::Panic,
                    "panic-random" => TestSel::PanicRandom,
                    "fault" => TestSel::Fault,
                    "" => {
                        report(BootArgError::BadValue { key, value, expected: "a test name" });
                        continue;
                    }
                    name => TestSel::Named(name),
                });
                Ok(())
            }
            "ddb" => flag(key, value).map(|b| args.ddb = b),
            "halt" => ranged(key, value, 0, 86_400, "seconds, 0 to 86400").map(|n| args.halt = n),
            "hz" => ranged(key, value, 10, 1000, "10 to 1000").map(|n| args.hz = n),
            "physmem" => physmem(key, value).map(|n| args.physmem_pages = Some(n)),
            "workload" => match value {
                "walk" => {
                    args.workload = Some(Workload::Walk);
                    Ok(())
                }
                "fsstress" => {
                    args.workload = Some(Workload::Fsstress);
                    Ok(())
                }
                "race" => {
                    args.workload = Some(Workload::Race);
                    Ok(())
                }
                "fuzz" => {
                    args.workload = Some(Workload::Fuzz);
                    Ok(())
                }
                "field" => {
                    args.workload = Some(Workload::Field);
                    Ok(())
                }
                _ => Err(BootArgError::BadValue { key, value, expected: "walk, fsstress, race, fuzz or field" }),
            },
            "uvm.mmap_uncache" => flag(key, value).map(|b| args.mmap_uncache = b),
            "race.secs" => ranged(key, value, 1, 3600, "1 to 3600").map(|n| args.race_secs = n),
            "fuzz.mode" => match value {
                "all" => Ok(false),
                "p0" => Ok(true),
                _ => Err(BootArgError::BadValue { key, value, expected: "all or p0" }),
            }
            .map(|b| args.fuzz_p0 = b),
            "rd.latency" => latency_range(key, value).map(|r| args.rd_latency_us = r),
            "kern.hangsecs" => ranged(key, value, 0, 86_400, "seconds, 0 to 86400").map(|n| args.hangsecs = n),
            "fuzz.hog" => flag(key, value).map(|b| args.fuzz_hog = b),
            "p0.watch" => flag(key, value).map(|b| args.p0_watch = b),
            "fuzz.ops" => ranged(key, value, 1, 100_000_000, "1 to 100000000").map(|n| args.fuzz_ops = n),
            "race.keepopen" => flag(key, value).map(|b| args.race_keepopen = b),
            "race.sync" => ranged(key, value, 0, 60_000, "milliseconds, 0 to 60000").map(|n| args.race_sync_ms = n),
            "race.truncate" => flag(key, value).map(|b| args.race_truncate = b),
            "race.dir" => dir(key, value).map(|d| args.race_dir = d),
            "fsstress.dir" => dir(key, value).map(|d| args.fsstress_dir = d),
            "rd1.offset" => match number(key, value, "bytes, a multiple of 512") {
                Ok(n) if n > 0 && n % 512 == 0 && n <= u32::MAX as u64 => {
                    args.rd1_offset = Some(n as u32);
                    Ok(())
                }
                _ => Err(BootArgError::BadValue { key, value, expected: "bytes, a multiple of 512" }),
            },
            "kern.vhist" => flag(key, value).map(|b| args.vhist = b),
            "kern.prof" => flag(key, value).map(|b| args.prof = b),
            "kern.maxproc" => ranged(key, value, 8, 1 << 20, "8 to 1048576").map(|n| args.maxproc = n),
            "kern.bufcachepercent" => ranged(key, value, 1, 90, "1 to 90").map(|n| args.bufcachepercent = n),
            "uvn.policy" => UvnPolicy::from_name(value)
                .ok_or(BootArgError::BadValue { key, value, expected: "original, vget-diff, fixed, fixed-2, usecount0, uncache-vget or head" })
                .map(|p| args.uvn_policy = p),
            "sched.pct" => ranged(key, value, 0, SCHED_PCT_MAX as u64, "a depth, 0 (off) to 8").map(|n| args.sched_pct = n),
            "sched.steps" => match number(key, value, "steps, 1 to 10000000000") {
                Ok(n) if (1..=10_000_000_000).contains(&n) => {
                    args.sched_steps = Some(n);
                    Ok(())
                }
                _ => Err(BootArgError::BadValue { key, value, expected: "steps, 1 to 10000000000" }),
            },
            "sched.mp" => flag(key, value).map(|b| args.sched_mp = b),
            "kern.maxvnodes" => ranged(key, value, 4, 1 << 20, "4 to 1048576").map(|n| args.maxvnodes = Some(n)),
            _ => Err(BootArgError::Unknown(key)),
        };
        if let Err(e) = r {
            report(e);
        }
    }
    if args.sched_mp && args.sched_pct == 0 {
        report(BootArgError::BadValue { key: "sched.mp", value: "1", expected: "sched.pct=D beside it: the second CPU's turns are PCT's" });
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::{String, ToString};
    use std::vec::Vec;

    fn parse_all(s: &str) -> (BootArgs<'_>, Vec<String>) {
        let mut errs = Vec::new();
        let a = parse(s, &mut |e| errs.push(e.to_string()));
        (a, errs)
    }

    #[test]
    fn defaults() {
        let (a, e) = parse_all("");
        assert!(e.is_empty());
        assert_eq!(a, BootArgs::default());
        assert_eq!(a.hz, 100);
    }

    #[test]
    fn typed_values() {
        let (a, e) = parse_all("seed=0x10 test=panic-random ddb=1 halt=0 hz=250");
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(a.seed, 16);
        assert_eq!(a.test, Some(TestSel::PanicRandom));
        assert!(a.ddb);
        assert_eq!(a.halt, 0);
        assert_eq!(a.hz, 250);
        assert_eq!(parse_all("test=sleep").0.test, Some(TestSel::Named("sleep")));
        assert_eq!(parse_all("physmem=48M").0.physmem_pages, Some(48 * 256));
        assert_eq!(parse_all("physmem=4096").0.physmem_pages, Some(4096));
        assert_eq!(parse_all("kern.maxvnodes=16").0.maxvnodes, Some(16));
        assert_eq!(parse_all("").0.uvn_policy, UvnPolicy::Fixed);
        assert_eq!(parse_all("uvn.policy=vget-diff").0.uvn_policy, UvnPolicy::VgetDiff);
        assert!(!parse_all("uvm.mmap_uncache=0").0.mmap_uncache);
        assert_eq!(parse_all("workload=race race.secs=5").0.race_secs, 5);
        assert!(parse_all("race.keepopen=1").0.race_keepopen);
        assert_eq!(parse_all("race.sync=50").0.race_sync_ms, 50);
        assert_eq!(parse_all("race.dir=/mnt").0.race_dir, "/mnt");
        assert_eq!(parse_all("fsstress.dir=/mnt/x").0.fsstress_dir, "/mnt/x");
        assert_eq!(parse_all("").0.rd1_offset, None);
        assert_eq!(parse_all("rd1.offset=1048576").0.rd1_offset, Some(1 << 20));
        for bad in ["race.dir=mnt", "rd1.offset=100", "rd1.offset=0"] {
            assert_eq!(parse_all(bad).1.len(), 1, "{bad}");
        }
        assert!(parse_all("race.truncate=1").0.race_truncate);
        assert_eq!(parse_all("race.sync=x").1, ["bootarg: bad value 'x' for 'race.sync': expected milliseconds, 0 to 60000"]);
        assert!(parse_all("").0.vhist);
        assert!(!parse_all("kern.vhist=0").0.vhist);
        assert!(!parse_all("").0.prof && parse_all("kern.prof=1").0.prof);
        assert_eq!(parse_all("kern.maxproc=20").0.maxproc, 20);
        assert_eq!(parse_all("").0.maxproc, 1310);
        assert_eq!(parse_all("kern.maxproc=2").1, ["bootarg: bad value '2' for 'kern.maxproc': expected 8 to 1048576"]);
        assert_eq!(parse_all("race.keepopen=yes").1, ["bootarg: bad value 'yes' for 'race.keepopen': expected 0 or 1"]);
        assert_eq!(parse_all("kern.bufcachepercent=2").0.bufcachepercent, 2);
        assert_eq!(parse_all("kern.bufcachepercent=0").1, ["bootarg: bad value '0' for 'kern.bufcachepercent': expected 1 to 90"]);
        assert_eq!(
            parse_all("uvn.policy=x").1,
            ["bootarg: bad value 'x' for 'uvn.policy': expected original, vget-diff, fixed, fixed-2, usecount0, uncache-vget or head"]
        );
        assert_eq!(parse_all("workload=walk").0.workload, Some(Workload::Walk));
        assert_eq!(parse_all("workload=fsstress").0.workload, Some(Workload::Fsstress));
        assert_eq!(parse_all("workload=field").0.workload, Some(Workload::Field));
        let (a, errs) = parse_all("workload=fuzz fuzz.ops=500");
        assert_eq!((a.workload, a.fuzz_ops, errs.len()), (Some(Workload::Fuzz), 500, 0));
        assert!(parse_all("p0.watch=1").0.p0_watch);
        assert_eq!(parse_all("kern.hangsecs=0").0.hangsecs, 0);
        assert_eq!(parse_all("sched.pct=3 sched.steps=5000").0.sched_pct, 3);
        assert_eq!(parse_all("sched.steps=5000").0.sched_steps, Some(5000));
        assert!(parse_all("sched.pct=2 sched.mp=1").0.sched_mp);
        for bad in ["sched.pct=9", "sched.steps=0", "sched.pct=x", "sched.mp=1"] {
            assert_eq!(parse_all(bad).1.len(), 1, "{bad}");
        }
        assert_eq!(parse_all("").0.rd_latency_us, RD_LATENCY_DEFAULT);
        assert_eq!(parse_all("rd.latency=5000-15000").0.rd_latency_us, (5000, 15000));
        assert_eq!(parse_all("rd.latency=0-0").0.rd_latency_us, (0, 0));
        for bad in ["rd.latency=200-20", "rd.latency=5", "rd.latency=1-2000000", "rd.latency=a-b"] {
            assert_eq!(
                parse_all(bad).1,
                [format!("bootarg: bad value '{}' for 'rd.latency': expected MIN-MAX in microseconds, MIN <= MAX <= 1000000", &bad[11..])],
                "{bad}"
            );
        }
        assert!(parse_all("fuzz.mode=p0").0.fuzz_p0);
        assert_eq!(parse_all("fuzz.mode=x").1, ["bootarg: bad value 'x' for 'fuzz.mode': expected all or p0"]);
        assert_eq!(parse_all("fuzz.ops=0").1, ["bootarg: bad value '0' for 'fuzz.ops': expected 1 to 100000000"]);
        assert_eq!(parse_all("workload=dance").1, ["bootarg: bad value 'dance' for 'workload': expected walk, fsstress, race, fuzz or field"]);
        assert_eq!(parse_all("kern.maxvnodes=2").1, ["bootarg: bad value '2' for 'kern.maxvnodes': expected 4 to 1048576"]);
        assert_eq!(parse_all("physmem=12").1, ["bootarg: bad value '12' for 'physmem': expected pages, or MiB as <n>M, at least 3M (768 pages)"]);
        assert_eq!(parse_all("physmem=2M").1.len(), 1);
        assert_eq!(parse_all("physmem=3M").0.physmem_pages, Some(768));
    }

    #[test]
    fn errors_name_the_option() {
        let (a, e) = parse_all("bogus=1 seed=12x hz=5 ddb=yes lonely seed=9");
        assert_eq!(
            e,
            [
                "bootarg: unknown option 'bogus'",
                "bootarg: bad value '12x' for 'seed': expected a number",
                "bootarg: bad value '5' for 'hz': expected 10 to 1000",
                "bootarg: bad value 'yes' for 'ddb': expected 0 or 1",
                "bootarg: 'lonely' is not of the form key=value",
            ]
        );
        assert_eq!(a.seed, 9, "good words still apply");
    }
}
