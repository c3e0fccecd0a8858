//! A guest-time profile of the kernel (`kern.prof=1`), in the spirit of
//! OpenBSD's statclock feeding kgmon's histogram: every clock interrupt
//! records where it found the processor and the callers above it. Under
//! `-icount` the decrementer counts instructions, so the samples are spread
//! over guest instructions, not over host time: an instruction QEMU is
//! slow to emulate (mtmsr, a device register) weighs no more than any
//! other. At halt the functions most often found running, and most often
//! on the stack, are printed.
//!
//! It also adds up, by wait message, the guest time threads spend asleep:
//! where the idle thread's share comes from.
//!
//! A tick held back by a raised level is still sampled where the
//! interrupt arrived; code that runs with interrupts disabled is charged to
//! the point that enables them again.

use crate::arch::intr::Ipl;
use crate::arch::trap::TrapFrame;
use crate::ddb::db_sym;
use crate::kern::kern_mutex::Mutex;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use spin::Once;

/// Words per sample: the pc and the return addresses above it (0: none).
const DEPTH: usize = 12;
/// Samples kept (later ones are counted, not kept).
const NSAMPLES: usize = 16384;
/// A sample taken in user mode.
const USER: u32 = 1;

static SAMPLES: Once<Vec<AtomicU32>> = Once::new();
/// Time-base ticks asleep and sleeps, by wait message.
static SLEEPS: Mutex<BTreeMap<&'static str, (u64, u32)>> = Mutex::new(Ipl::High, BTreeMap::new());
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Turns the profile on (at boot, before the clock starts).
pub fn prof_init() {
    SAMPLES.call_once(|| (0..NSAMPLES * DEPTH).map(|_| AtomicU32::new(0)).collect());
}

/// One clock interrupt's sample (from the decrementer handler).
pub fn prof_tick(tf: &TrapFrame) {
    let Some(s) = SAMPLES.get() else { return };
    let i = NEXT.fetch_add(1, Ordering::Relaxed);
    if i >= NSAMPLES {
        return;
    }
    let mut pcs = [0u32; DEPTH];
    if tf.srr1 & crate::arch::cpu::Msr::PR.bits() != 0 {
        pcs[0] = USER;
    } else {
        crate::arch::db_trace::db_callers(tf, &mut pcs);
    }
    for (k, pc) in pcs.iter().enumerate() {
        s[i * DEPTH + k].store(*pc, Ordering::Relaxed);
    }
}

/// A thread slept `tb` time-base ticks on `wmesg` (from sleep_finish).
pub fn prof_sleep(wmesg: &'static str, tb: u64) {
    if SAMPLES.get().is_some() {
        let mut g = SLEEPS.lock();
        let e = g.entry(wmesg).or_default();
        e.0 += tb;
        e.1 += 1;
    }
}

fn name(pc: u32, is_return: bool) -> String {
    if pc == USER {
        return String::from("(user mode)");
    }
    match db_sym::lookup(if is_return { pc.wrapping_sub(4) } else { pc }) {
        Some((n, _)) => String::from(n.as_str()),
        None => alloc::format!("{pc:#x}"),
    }
}

/// Prints the profile: the functions found running (self) and found
/// anywhere on the sampled stack (total), most frequent first.
pub fn prof_report(out: &mut dyn core::fmt::Write) {
    let Some(s) = SAMPLES.get() else { return };
    let taken = NEXT.load(Ordering::Relaxed);
    let n = taken.min(NSAMPLES);
    let (mut own, mut total) = (BTreeMap::<String, u32>::new(), BTreeMap::<String, u32>::new());
    for i in 0..n {
        let mut seen: Vec<String> = Vec::new();
        for k in 0..DEPTH {
            let pc = s[i * DEPTH + k].load(Ordering::Relaxed);
            if pc == 0 {
                break;
            }
            let f = name(pc, k > 0);
            if k == 0 {
                *own.entry(f.clone()).or_default() += 1;
            }
            if !seen.contains(&f) {
                *total.entry(f.clone()).or_default() += 1;
                seen.push(f);
            }
        }
    }
    let hz = crate::kern::kern_clock::hz();
    let _ = writeln!(out, "prof: {taken} samples at hz={hz} ({n} kept), one every {} guest us", 1_000_000 / hz.max(1));
    for (what, map) in [("self", own), ("total", total)] {
        let mut v: Vec<(String, u32)> = map.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        for (f, c) in v.into_iter().take(25) {
            let _ = writeln!(out, "prof: {what} {:5.1}% {c:6} {f}", c as f64 * 100.0 / n.max(1) as f64);
        }
    }
    let mut v: Vec<(&str, (u64, u32))> = SLEEPS.lock().iter().map(|(k, v)| (*k, *v)).collect();
    v.sort_by_key(|e| core::cmp::Reverse(e.1 .0));
    for (w, (tb, count)) in v.into_iter().take(12) {
        let _ = writeln!(out, "prof: asleep {:10} us in {count:6} sleeps on {w}", crate::arch::clock::tb_to_us(tb));
    }
}
