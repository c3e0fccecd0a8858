//! The checks the QEMU tests make on a boot's console text, exit status
//! and saved image.

use super::table::FUZZ_OPS;
use crate::outcome;
use crate::outcome::BOOT_ERROR;
use crate::qemu::Exit;

/// `prof: N samples at hz=1000 (K kept)`, with at least a hundred kept,
/// and the idle loop among the functions found running.
pub(super) fn prof_report(text: &str) -> Result<(), String> {
    let line = text.lines().find(|l| l.starts_with("prof: ") && l.contains(" samples at hz=")).ok_or("no 'prof: N samples' line")?;
    let kept: u64 = line.split_once('(').and_then(|(_, r)| r.split(' ').next()?.parse().ok()).ok_or(format!("unreadable: {line}"))?;
    if kept < 100 {
        return Err(format!("only {kept} samples kept: {line}"));
    }
    if !text.lines().any(|l| l.starts_with("prof: self ") && l.ends_with(" sched_idle_entry")) {
        return Err("the idle loop is not among the functions found running".into());
    }
    Ok(())
}

/// A panic with this message whose trace has these functions in order.
pub(super) fn panicked_with(exit: Exit, text: &str, msg: &str, frames: &[&str]) -> Result<(), String> {
    if exit != Exit::Code(1) {
        return Err(format!("exit {exit}, not a panic"));
    }
    let p = outcome::parse_panic(text).ok_or("no panic line")?;
    if p.message != msg {
        return Err(format!("panic '{}'", p.message));
    }
    let names: Vec<String> = p.frames.iter().filter_map(|f| if let outcome::Frame::Func(n) = f { Some(n.clone()) } else { None }).collect();
    let mut at = 0;
    for f in frames {
        match names[at..].iter().position(|n| n == f) {
            Some(i) => at += i + 1,
            None => return Err(format!("the trace lacks {f} (in order): {names:?}")),
        }
    }
    Ok(())
}

/// How P0 arises in a vnode's history (doc/race.md): a new object, let
/// go by its last user with a dirty page while it may persist, and its
/// vnode's last reference dropped (onto the free or hold list).
pub(super) const P0: &[&str] = &["uvn_attach new object", "uvn_detach persist dirty+", "freelist"];

/// The history of the vnode the panic or deadlock report names contains
/// `P0` and then `path`, in order (steps are prefixes of "name detail";
/// "dirty+" asks for at least one dirty page).
pub(super) fn story_in_order(text: &str, path: &[&str]) -> Result<(), String> {
    history_in_order(text, &P0.iter().chain(path).copied().collect::<Vec<_>>())
}

/// The history of the vnode the report names contains `steps` in order.
pub(super) fn history_in_order(text: &str, steps: &[&str]) -> Result<(), String> {
    // A deadlock report may name several vnodes: parse picks the story's.
    let h = crate::explain::parse(text, None).ok_or("no vnode history printed")?;
    let labels: Vec<String> = h.events.iter().map(|e| format!("{} {}", e.name, e.detail)).collect();
    let mut at = 0;
    for step in steps {
        let hit = |l: &String| match step.strip_suffix("+") {
            Some(pre) => l.strip_prefix(pre).and_then(|n| n.trim().parse::<u32>().ok()).is_some_and(|n| n > 0),
            None => l.starts_with(step),
        };
        match labels[at..].iter().position(hit) {
            Some(i) => at += i + 1,
            None => return Err(format!("vnode {} history lacks '{step}' (in order after event {at} of {})", h.vnode, labels.len())),
        }
    }
    Ok(())
}

pub(super) fn race_original(exit: Exit, text: &str) -> Result<(), String> {
    panicked_with(
        exit,
        text,
        "vref used where vget required",
        &["vref", "uvm_vnp_uncache", "ffs_write", "VOP_WRITE", "uvn_io", "uvn_put", "uvm_pager_put", "uvmpd_scan_inactive"],
    )?;
    story_in_order(text, &["pageout page", "uvm_pager_put", "uvn_io page", "uvm_vnp_uncache killed", "vref", "panic"])
}

/// race_original under PCT, and the boot says it ran under depth 3.
pub(super) fn race_original_pct(exit: Exit, text: &str) -> Result<(), String> {
    race_original(exit, text)?;
    match text.lines().any(|l| l.starts_with("sched: pct: depth 3,")) {
        true => Ok(()),
        false => Err("no 'sched: pct: depth 3,' line".into()),
    }
}

/// Under `sched.mp=1`: the boot's `sched: mp:` line, with switches at lock
/// points and waits for the kernel lock (the second CPU did something).
pub(super) fn mp_exercised(text: &str) -> Result<(), String> {
    let line = text.lines().rev().find_map(|l| l.strip_prefix("sched: mp: ")).ok_or("no 'sched: mp:' line")?;
    let n: Vec<u64> = line.split(", ").filter_map(|p| p.split(' ').next()?.parse().ok()).collect();
    match n[..] {
        [points, switches, waits] if points > 0 && switches > 0 && waits > 0 => Ok(()),
        _ => Err(format!("the simulated second CPU did not run: 'sched: mp: {line}'")),
    }
}

/// race_fixed2 under the simulated second CPU.
pub(super) fn race_fixed2_mp(exit: Exit, text: &str) -> Result<(), String> {
    race_fixed2(exit, text)?;
    mp_exercised(text)
}

/// The diff's vget: panic 2 when vclean's terminate meets the pager's
/// vget, or, when the pagedaemon's vget succeeds first, 1.131's
/// self-deadlock (F3) — whichever comes first in the boot.
pub(super) fn race_vget_diff(exit: Exit, text: &str) -> Result<(), String> {
    if outcome::deadlock_signature(text).as_deref() == Some("deadlock: pagedaemon waits in uvn_flsh") {
        if exit != Exit::Code(1) || !text.contains("for a page it holds busy itself") {
            return Err(format!("exit {exit}, or the pagedaemon's wait not reported as one on its own page"));
        }
        // The diff takes its reference in uvn_io, after the I/O starts.
        return story_in_order(
            text,
            &[
                "pageout page",
                "uvm_pager_put",
                "uvn_io page",
                "vget ok",
                "uvm_vnp_uncache killed",
                "uvn_detach kill",
                "uvn_flush CLEANIT|FREE",
                "tsleep wmesg uvn_flsh",
                "deadlock",
            ],
        );
    }
    panicked_with(
        exit,
        text,
        "uvn_flush: PGO_SYNCIO return 'try again' error (impossible)",
        &[
            "uvn_flush",
            "uvm_vnp_terminate",
            "vclean",
            "vgonel",
            "getnewvnode",
            "ffs_vget",
            "ffs_inode_alloc",
            "ufs_makeinode",
            "ufs_create",
            "VOP_CREATE",
            "vn_open",
            "doopenat",
        ],
    )?;
    story_in_order(
        text,
        &[
            "getnewvnode from",
            "vgonel",
            "vclean",
            "uvm_vnp_terminate",
            "uvn_flush CLEANIT|FREE",
            "uvn_io page",
            "vget EBUSY",
            "uvn_flush.again",
            "uvn_io page",
            "vget EBUSY",
            "panic",
        ],
    )
}

/// 1.131's fix: no panic; a halt, or the pagedaemon's self-deadlock
/// reported by the kernel.
pub(super) fn race_fixed(exit: Exit, text: &str) -> Result<(), String> {
    if text.lines().any(|l| l.starts_with("panic: ")) {
        return Err(format!("panicked: {:?}", outcome::parse_panic(text).map(|p| p.signature())));
    }
    match (exit, outcome::deadlock_signature(text)) {
        (Exit::Code(0), None) => Ok(()),
        (Exit::Code(1), Some(sig)) => {
            // The detector names the wait on a page the pagedaemon busied.
            if sig == "deadlock: pagedaemon waits in uvn_flsh" && !text.contains("for a page it holds busy itself") {
                return Err("the pagedaemon's self-deadlock was not reported as a wait on its own page".into());
            }
            if sig.contains("pagedaemon") {
                story_in_order(
                    text,
                    &[
                        "pageout page",
                        "uvm_pager_put",
                        "vget ok",
                        "uvn_io page",
                        "uvm_vnp_uncache killed",
                        "uvn_detach kill",
                        "uvn_flush CLEANIT|FREE",
                        "tsleep wmesg uvn_flsh",
                        "deadlock",
                    ],
                )
            } else {
                Err(format!("a deadlock without the pagedaemon: {sig}"))
            }
        }
        (e, _) => Err(format!("exit {e}")),
    }
}

/// 1.130 with the writers' files kept open (`race.keepopen=1`): the
/// persisting object's vnode is referenced, so the pagedaemon's write does
/// not panic in vref but reaches uvm_vnp_uncache's kill and waits for the
/// page it holds busy — 1.131's self-deadlock, under 1.130.
pub(super) fn race_keepopen_original(exit: Exit, text: &str) -> Result<(), String> {
    match (exit, outcome::deadlock_signature(text)) {
        (Exit::Code(1), Some(sig)) if sig == "deadlock: pagedaemon waits in uvn_flsh" => Ok(()),
        (e, sig) => Err(format!("exit {e}, {:?}", sig.or(outcome::parse_panic(text).map(|p| p.signature())))),
    }
}

/// ppcbsd's fixed-2: every boot halts with every check passed.
pub(super) fn race_fixed2(exit: Exit, text: &str) -> Result<(), String> {
    race_passed(exit, text, true)
}

/// The boot counted at least one entry into the pageout/terminate window
/// (a pageout and a terminate on one vnode at once): the race it claims
/// to exercise, not merely the line that would report it.
pub(super) fn pageout_terminate_window_entered(text: &str) -> Result<(), String> {
    match outcome::RaceCounters::parse(text) {
        Some(c) if c.win_pageout_terminate > 0 => Ok(()),
        Some(_) => Err("race: windows: the pageout/terminate window was never entered".to_owned()),
        None => Err("no race: counters / race: windows: lines".to_owned()),
    }
}

/// The pagedaemon's one pageout, of a dying object's page, is a pageout
/// but not one "from a persisting object": the race counter leaves out
/// objects being terminated, whose vnode is vclean's.
pub(super) fn dying_pageout_not_persisting(text: &str) -> Result<(), String> {
    match outcome::RaceCounters::parse(text) {
        Some(c) if c.pageouts >= 1 && c.persist_pageouts == 0 => Ok(()),
        Some(c) => Err(format!("{} pageouts, {} of them counted from persisting objects: want at least 1 and 0", c.pageouts, c.persist_pageouts)),
        None => Err("no race: counters line".to_owned()),
    }
}

/// `test=pct-starve`: the starvation watchdog names the thread the test
/// said would give memory back, counts at least the two that outrank it
/// and ran (its ping-pong), and ps shows it runnable with its PCT rank.
pub(super) fn pct_starve_names_the_low_thread(text: &str) -> Result<(), String> {
    let said = text.lines().find_map(|l| l.strip_prefix("pct-starve: thread ")).ok_or("no pct-starve line")?;
    let (tid, rest) = said.split_once(' ').ok_or("pct-starve line without a thread")?;
    let comm = rest.trim_start_matches('(').split(')').next().unwrap_or_default();
    let outran: Option<u32> = text.lines().find_map(|l| l.split_once("without running (kern.hangsecs 1): ")?.1.split(' ').next()?.parse().ok());
    if !outran.is_some_and(|n| n >= 2) || !text.contains(" threads that outrank it under PCT ran meanwhile") {
        return Err(format!("the report counts {outran:?} threads that outrank the starved one and ran, not at least 2"));
    }
    if outcome::deadlock_signature(text) != Some(format!("starved: {comm} runnable without running")) {
        return Err(format!("the report does not name thread {tid} ({comm}) as starved: {:?}", outcome::deadlock_signature(text)));
    }
    let ps = format!(" {comm}  (runnable for ");
    if !text.lines().any(|l| l.split_whitespace().next() == Some(tid) && l.contains(&ps) && l.contains(", PCT rank ")) {
        return Err(format!("ps does not show thread {tid} runnable with its PCT rank"));
    }
    Ok(())
}

/// fixed-2 with the writers' files kept open: their vnodes stay
/// referenced, so none is recycled while its object persists. Every boot
/// halts with every check passed. Until 2026-12-07 fixed-2 could panic
/// "vputonfreelist: lock count is not zero" here (its pager's vrele slept
/// in vn_lock behind a closing writer's VOP_INACTIVE; doc/results.md, "The
/// keepopen cell"); its uvn_put now takes the lock with the use, so that
/// panic fails the test like any other.
pub(super) fn race_keepopen_fixed2(exit: Exit, text: &str) -> Result<(), String> {
    race_passed(exit, text, false)
}

/// A clean halt with every workload check passed, and a halt line that
/// says the fix was tried: files created, pageouts from persisting
/// objects, and (`recycles`) vnodes recycled while their object persisted.
pub(super) fn race_passed(exit: Exit, text: &str, recycles: bool) -> Result<(), String> {
    if exit != Exit::Code(0) {
        return Err(format!("exit {exit}: {:?}", outcome::parse_panic(text).map(|p| p.signature()).or(outcome::deadlock_signature(text))));
    }
    if !text.lines().any(|l| l == "init: race workload done: every check passed") {
        return Err("the workload's checks did not all pass".into());
    }
    match outcome::RaceCounters::parse(text) {
        Some(c) if c.creates > 0 && c.persist_pageouts > 0 && (c.persist_recycles > 0 || !recycles) => Ok(()),
        Some(c) => Err(format!("the race was not exercised: {c:?}")),
        None => Err("no 'race: counters:' line at halt".into()),
    }
}

/// A fuzz boot (`workload=fuzz`): a clean halt after the fuzzer's report,
/// at least the calls asked for, and every system call of its table made.
pub(super) fn fuzz_ok(exit: Exit, text: &str) -> Result<(), String> {
    let calls = fuzz_survived(exit, text)?;
    if calls < FUZZ_OPS {
        return Err(format!("{calls} calls, fewer than the {FUZZ_OPS} asked for"));
    }
    let line = text.lines().find_map(|l| l.strip_prefix("scfuzz: calls: ")).ok_or("no `scfuzz: calls:` line")?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let never: Vec<&str> = words.chunks(2).filter(|w| w.get(1) == Some(&"0")).map(|w| w[0]).collect();
    if words.len() < 2 * 29 || !never.is_empty() {
        return Err(format!("system calls never made: {never:?} (of `{line}`)"));
    }
    Ok(())
}

/// The detector's halt line counts at least one unused persisting object
/// (so the object under test reached a check).
pub(super) fn p0_saw_persisting(text: &str) -> Result<(), String> {
    if p0_counts(text)?.1 == 0 {
        return Err("no unused persisting object reached a check".into());
    }
    Ok(())
}

/// The detector's halt line, `p0: no vnode reached P0 (N checks, M found
/// …)`: (N, M).
pub(super) fn p0_counts(text: &str) -> Result<(u64, u64), String> {
    let rest = text.lines().find_map(|l| l.strip_prefix("p0: no vnode reached P0 (")).ok_or("no `p0: no vnode reached P0` line")?;
    let mut nums = rest.split(", ").map(|w| w.split_whitespace().next().and_then(|n| n.parse().ok()));
    match (nums.next().flatten(), nums.next().flatten()) {
        (Some(checks), Some(persisting)) => Ok((checks, persisting)),
        _ => Err(format!("cannot read `p0: no vnode reached P0 ({rest}`")),
    }
}

/// A clean halt after the fuzzer's report: the calls it made.
pub(super) fn fuzz_survived(exit: Exit, text: &str) -> Result<u64, String> {
    if exit != Exit::Code(0) {
        return Err(format!("exit {exit}: {:?}", outcome::parse_panic(text).map(|p| p.signature()).or(outcome::deadlock_signature(text))));
    }
    // The fuzzer's hazard children write random bytes to the console too:
    // a line may begin with a NUL or another control byte of theirs.
    let clean = |l: &str| l.trim_start_matches(|c: char| c.is_control()).to_owned();
    if !text.lines().any(|l| clean(l) == "scfuzz: the kernel survived") {
        return Err("no `scfuzz: the kernel survived` line".into());
    }
    text.lines().find_map(|l| clean(l).strip_prefix("scfuzz: done: ")?.split_whitespace().next()?.parse().ok()).ok_or_else(|| "no `scfuzz: done:` line".into())
}

/// A P0 report: the halt, the vnode, the history, the system calls.
pub(super) fn p0_found(exit: Exit, text: &str) -> Result<(), String> {
    if exit != Exit::Code(0) || outcome::classify(exit, text) != outcome::Outcome::P0 {
        return Err(format!("exit {exit}, outcome {:?}; not halted by the P0 detector", outcome::classify(exit, text)));
    }
    let line = text.lines().find(|l| l.starts_with(outcome::P0_LINE)).unwrap_or_default();
    let vid = line.strip_prefix(outcome::P0_LINE).and_then(|r| r.split_whitespace().next()).ok_or("no vnode in the p0 line")?;
    for want in [format!("vnode {vid} history: "), "p0: made by thread ".into(), "p0: halting at the first P0".into()] {
        if !text.contains(&want) {
            return Err(format!("the report lacks `{want}`"));
        }
    }
    if !line.contains("uo_refs 0") || !text.lines().any(|l| l.starts_with("p0:   page ")) {
        return Err(format!("the p0 line names no modified page: `{line}`"));
    }
    Ok(())
}

/// A watched boot that found no P0 and said how much it checked.
pub(super) fn p0_none(exit: Exit, text: &str) -> Result<(), String> {
    fuzz_survived(exit, text)?;
    if p0_counts(text)?.0 == 0 {
        return Err("the detector made no check".into());
    }
    Ok(())
}

/// A read-only root must leave the saved image's clean flag as it found it.
pub(super) fn clean_flag_kept(img: &[u8], was_clean: bool) -> Result<(), String> {
    let fs = ffs::Fs::mount(img).map_err(|e| format!("the saved image does not mount: {e}"))?;
    match fs.is_clean() {
        Ok(c) if c == was_clean => Ok(()),
        Ok(true) => Err("the saved image was marked clean: the read-only root wrote to it".into()),
        Ok(false) => Err("the saved image lost its clean flag: the read-only root wrote to it".into()),
        Err(e) => Err(format!("fs_clean: {e}")),
    }
}

/// `utest enospc`: every page its listing says did not reach the file had
/// the kernel's "error during pageout" line.
pub(super) fn enospc_pages_reported(text: &str) -> Result<(), String> {
    let line = text.lines().find_map(|l| l.strip_prefix("utest: enospc: pages not in the file:")).ok_or("no 'pages not in the file' line")?;
    let lost: Vec<u32> = line.split_whitespace().map(|w| w.parse().map_err(|_| format!("unreadable page number '{w}'"))).collect::<Result<_, _>>()?;
    let reported: Vec<u32> = text
        .lines()
        .filter(|l| l.starts_with("uvn_flush: vnode ") && l.contains(": error during pageout"))
        .filter_map(|l| l.split(", page ").nth(1)?.split(':').next()?.parse().ok())
        .collect();
    match lost.iter().find(|p| !reported.contains(p)) {
        Some(p) => Err(format!("page {p} did not reach the file and no error was reported for it ({} lost, {} reported)", lost.len(), reported.len())),
        None => Ok(()),
    }
}

/// `/syncmap.dat` in the saved image holds the byte stored into each of its
/// 4 pages through the mapping (utest's `syncmap_byte`), the image clean
/// and checking clean.
pub(super) fn syncmap_in_image(_: &str, img: &[u8]) -> Result<(), String> {
    let r = ffs::fsck::check(img).map_err(|e| format!("saved image: {e}"))?;
    if let Some(p) = r.problems.first() {
        return Err(format!("saved image fails the check: {p}"));
    }
    clean_flag_kept(img, true)?;
    let fs = ffs::Fs::mount(img).map_err(|e| format!("saved image: {e}"))?;
    let ino = fs.lookup("/syncmap.dat").map_err(|e| format!("saved image: /syncmap.dat: {e}"))?;
    let ip = fs.inode(ino).map_err(|e| format!("saved image: inode {ino}: {e}"))?;
    let mut got = Vec::new();
    for page in 0..4u64 {
        let mut b = [0u8; 1];
        let n = fs.read(&ip, page * 4096 + 100, &mut b).map_err(|e| format!("saved image: read /syncmap.dat: {e}"))?;
        got.push(if n == 1 { b[0] } else { 0 });
    }
    if ip.size != 16384 || got != [0x30, 0x31, 0x32, 0x33] {
        return Err(format!("/syncmap.dat in the saved image: {} bytes, the stored bytes read {got:02x?} (want 30 31 32 33)", ip.size));
    }
    Ok(())
}

/// The saved image is still marked unclean: the read-only root wrote nothing.
pub(super) fn still_unclean(_: &str, img: &[u8]) -> Result<(), String> {
    clean_flag_kept(img, false)
}

pub(super) fn still_free_in_use(_: &str, img: &[u8]) -> Result<(), String> {
    let r = ffs::fsck::check(img).map_err(|e| format!("the saved image does not mount: {e}"))?;
    if r.free_in_use.len() != 8 {
        return Err(format!("the saved image has {} fragments in use marked free, not the 8 the damage made", r.free_in_use.len()));
    }
    clean_flag_kept(img, true)
}

/// The image saved after `test=rd-mark`: its last 4 KiB holds the marker
/// the kernel wrote through rd, and it still mounts and checks clean.
pub(super) fn rd_marked(_: &str, img: &[u8]) -> Result<(), String> {
    const MARK: &[u8] = b"ppcbsd rd0 write\n";
    let base = img.len().saturating_sub(4096);
    let tail = img.get(base..).unwrap_or_default();
    if tail.len() != 4096 || tail.iter().enumerate().any(|(i, &b)| b != MARK[(base + i) % MARK.len()]) {
        return Err("the saved image's last block does not hold the marker the kernel wrote".into());
    }
    let fs = ffs::Fs::mount(img).map_err(|e| format!("saved image: {e}"))?;
    fs.lookup("/etc/motd").map_err(|e| format!("saved image: /etc/motd: {e}"))?;
    let r = ffs::fsck::check(img).map_err(|e| format!("saved image: {e}"))?;
    match r.problems.first() {
        Some(p) => Err(format!("saved image fails the check: {p}")),
        None => Ok(()),
    }
}

/// The summary line of fsstress says it checked everything.
pub(super) fn fsstress_ok(text: &str) -> Result<(), String> {
    let ok = text.lines().any(|l| l.starts_with("fsstress: ") && l.ends_with(" bytes verified: ok"));
    if ok {
        Ok(())
    } else {
        Err("no 'fsstress: … bytes verified: ok' line".into())
    }
}

/// The image fsstress left, read on the host: consistent, cleanly
/// unmounted, and holding under /fss exactly the files it listed, with
/// their sizes and CRCs.
pub(super) fn fsstress_round_trip(text: &str, img: &[u8]) -> Result<(), String> {
    let r = ffs::fsck::check(img).map_err(|e| format!("saved image: {e}"))?;
    if let Some(p) = r.problems.first() {
        return Err(format!("saved image fails the check ({} problems), first: {p}", r.problems.len()));
    }
    let mut host: Vec<String> =
        crate::image::walk(img).map_err(|e| format!("host walk of the saved image: {e}"))?.into_iter().filter(|l| l.starts_with("/fss/")).collect();
    let mut guest: Vec<String> = text.lines().filter_map(|l| l.strip_prefix("fsstress: file ")).map(String::from).collect();
    host.sort();
    guest.sort();
    if guest.is_empty() || host != guest {
        let first = host.iter().zip(&guest).find(|(h, g)| h != g);
        return Err(format!("fsstress listed {} files, the saved image holds {}; first difference (image, guest): {first:?}", guest.len(), host.len()));
    }
    Ok(())
}

pub(super) fn walk_matches_image(text: &str) -> Result<(), String> {
    walk_matches(text, "ppcbsd.ffs")
}

pub(super) fn walk_matches_ufs1(text: &str) -> Result<(), String> {
    walk_matches(text, "ppcbsd-ufs1.ffs")
}

pub(super) fn walk_matches_big(text: &str) -> Result<(), String> {
    walk_matches(text, "ppcbsd-32k.ffs")
}

/// The user's image after `test=rd1-fill`: checks clean, and holds what it
/// held before (the file that filled it is gone).
pub(super) fn user_fill_round_trip(_text: &str, img: &[u8]) -> Result<(), String> {
    let r = ffs::fsck::check(img).map_err(|e| format!("saved image: {e}"))?;
    if let Some(p) = r.problems.first() {
        return Err(format!("saved image fails the check ({} problems), first: {p}", r.problems.len()));
    }
    let before = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/image/user-tiny.ffs");
    let before = std::fs::read(&before).map_err(|e| format!("{}: {e}", before.display()))?;
    let (host0, host1) = (crate::image::walk(&before), crate::image::walk(img));
    match (host0, host1) {
        (Ok(a), Ok(b)) if a == b && !a.is_empty() => Ok(()),
        (a, b) => Err(format!("the image's files changed: before {a:?}, after {b:?}")),
    }
}

/// The race in a user's image: its checks passed and the race ran there
/// (creates and pageouts from persisting objects).
pub(super) fn race_user_ok(text: &str) -> Result<(), String> {
    race_passed(Exit::Code(0), text, false)
}

/// The kernel's `workload=walk` lines against the same walk done on the
/// host with the `ffs` crate over the image it booted.
pub(super) fn walk_matches(text: &str, file: &str) -> Result<(), String> {
    walk_matches_file(text, &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/image").join(file))
}

/// The same against the image at `image` (a user's image the boot mounted).
pub(super) fn walk_matches_file(text: &str, image: &std::path::Path) -> Result<(), String> {
    let img = std::fs::read(image).map_err(|e| format!("{}: {e}", image.display()))?;
    let host = crate::image::walk(&img).map_err(|e| format!("host walk: {e}"))?;
    let kernel: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("walk: ")).filter(|l| !l.contains(" files, ")).collect();
    if host.is_empty() || kernel != host {
        let first = host.iter().zip(&kernel).find(|(h, k)| h != k);
        return Err(format!("the kernel saw {} files, the host {}; first difference: {first:?}", kernel.len(), host.len()));
    }
    Ok(())
}

pub(super) fn selftest_summary(text: &str) -> Result<(), String> {
    match summary_line(text) {
        Some((passed, 0)) if passed > 0 => Ok(()),
        Some((passed, failed)) => Err(format!("kernel self-tests: {passed} passed, {failed} failed")),
        None => Err("no 'N passed, N failed' line".into()),
    }
}

/// (passed, failed) from the kernel's `N passed, N failed` line.
pub(super) fn summary_line(text: &str) -> Option<(u32, u32)> {
    text.lines().find_map(|l| {
        let (p, f) = l.trim().split_once(" passed, ")?;
        Some((p.parse().ok()?, f.strip_suffix(" failed")?.parse().ok()?))
    })
}

pub(super) fn trace_count(text: &str) -> Result<(), String> {
    match outcome::parse_panic(text).and_then(|p| p.count) {
        Some(n) if n > 0 => Ok(()),
        Some(_) => Err("the trace has no frames (count: 0)".into()),
        None => Err("no 'end trace frame: …, count: N' line".into()),
    }
}

pub(super) fn ramdisk_error(text: &str) -> Result<(), String> {
    let line = text.lines().find(|l| l.starts_with(BOOT_ERROR)).ok_or(format!("no '{BOOT_ERROR}' line"))?;
    let l = line.to_ascii_lowercase();
    if l.contains("ramdisk") || l.contains("superblock") {
        Ok(())
    } else {
        Err(format!("'{line}' mentions neither the ramdisk nor a superblock"))
    }
}

/// A boot that ended in one of the model's failures, whichever: a panic
/// or a deadlock report (the replay test needs one, not a particular one,
/// since a seed's outcome moves with every change to the code).
pub(super) fn failed_with_report(text: &str) -> Result<(), String> {
    if text.lines().any(|l| l.starts_with("panic: ") || l.starts_with("deadlock: ")) {
        Ok(())
    } else {
        Err("neither a panic nor a deadlock report".into())
    }
}

/// The field workload's counters, or why not: it ran its programs, and
/// it halted (clean, or at a P0) with the counters line.
fn field_counters(text: &str) -> Result<outcome::RaceCounters, String> {
    let c = outcome::RaceCounters::parse(text).ok_or("no 'race: counters:' line at halt")?;
    if c.execs == 0 || c.creates == 0 {
        return Err(format!("the field workload did not run: {}", c.text()));
    }
    let p0 = outcome::classify(Exit::Code(0), text) == outcome::Outcome::P0;
    if !p0 && !text.contains("init: field workload done: every check passed") {
        return Err("the field workload neither passed its checks nor met a P0".into());
    }
    Ok(c)
}

/// The field workload on the G5: the kernel's 1:1 map is page-table
/// entries there, and the workload crowds the table until they are
/// evicted (a P0 it may meet is the detector's halt, not a failure).
pub(super) fn field_g5(text: &str) -> Result<(), String> {
    let c = field_counters(text)?;
    if !text.contains("cpu0: PPC970FX") {
        return Err("not a 970".into());
    }
    if c.direct_evictions == 0 {
        return Err(format!("no direct-map entry was evicted: {}", c.text()));
    }
    Ok(())
}

/// The field workload on the G4: BATs, so no direct-map entry exists to
/// be evicted, and no P0 (the mmap hack is on).
pub(super) fn field_g4(text: &str) -> Result<(), String> {
    let c = field_counters(text)?;
    if c.direct_evictions != 0 {
        return Err(format!("direct-map evictions on the G4: {}", c.text()));
    }
    if !text.contains("p0: no vnode reached P0") {
        return Err("the G4 met a P0 with the mmap hack on".into());
    }
    Ok(())
}
