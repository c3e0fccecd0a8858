//! `cargo xtask explain`: the story of a panic, drawn. Reads the `vnode N
//! history:` block the kernel prints after a panic or in a deadlock report
//! (kern/vfs_hist.rs), from a boot's log or from a boot replayed by seed,
//! and writes a timeline as SVG and an HTML page with the SVG beside the
//! text history (doc/explain.md tells how to read it).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use svg::node::element::{Circle, Group, Line, Rectangle, Text, Title};
use svg::Document;

use crate::ctx::{Ctx, Setup};
use crate::qemu::{self, Boot};
use crate::report::esc;

#[derive(clap::Args)]
pub struct Args {
    /// A boot's log (a stress run's seed-N.log, target/run.log, …).
    log: Option<PathBuf>,
    /// Replay this seed instead of reading a log (with --bootargs and
    /// --policy as the run had them).
    #[arg(long, conflicts_with = "log")]
    seed: Option<u64>,
    /// Boot arguments of the replayed boot (after seed=N).
    #[arg(long, default_value = crate::qemu::RACE_BOOTARGS)]
    bootargs: String,
    /// The replayed boot's vnode pager policy (`uvn.policy=P`).
    #[arg(long, value_parser = crate::qemu::parse_policy)]
    policy: Option<kcore::bootargs::UvnPolicy>,
    /// Seconds before the replayed boot counts as hung.
    #[arg(long, default_value_t = 240)]
    timeout: u64,
    /// The vnode whose history to draw (default: the first one printed).
    #[arg(long)]
    vnode: Option<u32>,
    /// Where to write seed-N.svg and seed-N.html (default target/explain).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn main(ctx: &Ctx, args: &Args) -> Result<i32> {
    let out = args.out.clone().unwrap_or_else(|| ctx.path("target/explain"));
    let log = match (&args.log, args.seed) {
        (Some(log), _) => log.clone(),
        (None, Some(seed)) => replay(ctx, args, seed, &out)?,
        (None, None) => bail!("give a boot's log (cargo xtask explain target/stress/latest/seed-N.log) or --seed N"),
    };
    let (svg, html) = explain_file(&log, args.vnode, &out)?;
    println!("{}\n{}", svg.display(), html.display());
    Ok(0)
}

/// Boots `seed` once with the console off and returns its log.
fn replay(ctx: &Ctx, args: &Args, seed: u64, out: &Path) -> Result<PathBuf> {
    let Setup { images, machine, .. } = crate::ctx::setup(ctx)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let log = out.join(format!("seed-{seed}.log"));
    let bootargs = qemu::with_policy(&args.bootargs, args.policy);
    eprintln!("xtask: replaying seed {seed} ({bootargs}), log in {}", log.display());
    let boot = Boot {
        image: &images.good,
        user_image: None,
        seed,
        bootargs: &bootargs,
        timeout: Some(Duration::from_secs(args.timeout)),
        gdb: false,
        console: false,
        input: None,
        save_image: None,
        log: &log,
    };
    machine.boot(ctx, &boot)?;
    Ok(log)
}

/// Draws the history in `log` into `out`/seed-N.{svg,html}; N is the
/// boot's seed (from the stub's bootargs line) or the log's name.
pub fn explain_file(log: &Path, vnode: Option<u32>, out: &Path) -> Result<(PathBuf, PathBuf)> {
    let text = std::fs::read_to_string(log).with_context(|| format!("cannot read {}", log.display()))?;
    let h = parse(&text, vnode).with_context(|| format!("{}: no vnode history to draw", log.display()))?;
    let name = match seed_of(&text) {
        Some(s) => format!("seed-{s}"),
        None => log.file_stem().map_or_else(|| "boot".to_owned(), |s| s.to_string_lossy().into_owned()),
    };
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let svg_path = out.join(format!("{name}.svg"));
    let html_path = out.join(format!("{name}.html"));
    let svg = draw(&h);
    std::fs::write(&svg_path, &svg).with_context(|| format!("cannot write {}", svg_path.display()))?;
    std::fs::write(&html_path, page(&h, &svg, &name)).with_context(|| format!("cannot write {}", html_path.display()))?;
    Ok((svg_path, html_path))
}

fn seed_of(log: &str) -> Option<u64> {
    log.lines()
        .find(|l| l.contains("bootargs \""))
        .and_then(|l| l.split(|c: char| c == '"' || c.is_whitespace()).find_map(|w| w.strip_prefix("seed=")?.parse().ok()))
}

/// One event of a history.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub t_us: u64,
    pub tid: u32,
    pub comm: String,
    pub name: String,
    pub detail: String,
    /// usecount, holdcnt, uo_refs, u_nio, v_lflag, u_flags (absent for
    /// sleeps and wakeups).
    pub state: BTreeMap<String, String>,
}

/// A vnode's history and how the boot ended.
#[derive(Debug)]
pub struct History {
    pub vnode: u32,
    pub header: String,
    pub events: Vec<Event>,
    /// "panic: …" or "deadlock: …", if the log has one.
    pub ending: Option<String>,
    /// The history block as the kernel printed it.
    pub text: String,
}

/// The history of `vnode` in a console log; by default the one the story
/// is about: in a deadlock report the pagedaemon's vnode if it sleeps
/// working on one, else the first printed.
pub fn parse(log: &str, vnode: Option<u32>) -> Option<History> {
    let vnode =
        vnode.or_else(|| log.lines().find(|l| l.contains(" (pagedaemon) sleeps on ")).and_then(|l| l.rsplit_once("working on vnode ")?.1.trim().parse().ok()));
    let ending = log.lines().find(|l| l.starts_with("panic: ") || l.starts_with("deadlock: every")).map(str::to_owned);
    let lines: Vec<&str> = log.lines().collect();
    let start = lines.iter().position(|l| {
        l.strip_prefix("vnode ").and_then(|r| r.split_once(" history:")).and_then(|(n, _)| n.parse::<u32>().ok()).is_some_and(|n| vnode.is_none_or(|v| v == n))
    })?;
    let vid: u32 = lines[start].strip_prefix("vnode ")?.split_once(' ')?.0.parse().ok()?;
    let end_marker = format!("end of vnode {vid} history");
    let mut events = Vec::new();
    let mut text = String::from(lines[start]);
    text.push('\n');
    for l in &lines[start + 1..] {
        if l.trim() == end_marker {
            break;
        }
        text.push_str(l);
        text.push('\n');
        if let Some(e) = parse_event(l) {
            events.push(e);
        }
    }
    Some(History { vnode: vid, header: lines[start].to_owned(), events, ending, text })
}

/// `  S.UUUUUU tid T COMM NAME [DETAIL] [| key value …]`
fn parse_event(l: &str) -> Option<Event> {
    let (main, state) = match l.split_once(" | ") {
        Some((m, s)) => (m, Some(s)),
        None => (l, None),
    };
    let mut w = main.split_whitespace();
    let (s, us) = w.next()?.split_once('.')?;
    let t_us = s.parse::<u64>().ok()? * 1_000_000 + us.parse::<u64>().ok()?;
    if w.next()? != "tid" {
        return None;
    }
    let tid = w.next()?.parse().ok()?;
    let comm = w.next()?.to_owned();
    let name = w.next()?.to_owned();
    let detail = w.collect::<Vec<_>>().join(" ");
    let mut st = BTreeMap::new();
    if let Some(s) = state {
        let toks: Vec<&str> = s.split_whitespace().collect();
        for kv in toks.chunks(2) {
            if let [k, v] = kv {
                st.insert((*k).to_owned(), (*v).to_owned());
            }
        }
    }
    Some(Event { t_us, tid, comm, name, detail, state: st })
}

/// The events the picture tells: from the object's last attach (a new
/// object) on, or all of them if that attach has left the ring.
fn story(h: &History) -> &[Event] {
    let from = h.events.iter().rposition(|e| e.name == "uvn_attach" && e.detail == "new object").unwrap_or(0);
    &h.events[from..]
}

/// Events that repeat in runs (a page read in, a reference taken and
/// dropped) and are drawn as one mark per run.
fn routine(e: &Event) -> bool {
    matches!((e.name.as_str(), e.detail.as_str()), ("uvn_io", d) if d.ends_with(" read"))
        || (e.name == "uvn_io.done" && e.detail == "VM_PAGER_OK")
        || (e.name == "vget" && e.detail == "ok")
        || (e.name == "vrele" && e.state.get("usecount").is_some_and(|u| u != "0"))
}

/// A column of the picture: one event, or a run of routine ones.
struct Column<'a> {
    first: &'a Event,
    last: &'a Event,
    count: usize,
}

impl Column<'_> {
    fn label(&self) -> String {
        let t = self.first.t_us;
        let what = if self.count > 1 {
            format!("{} routine events (reads, vget/vrele)", self.count)
        } else if self.first.detail.is_empty() {
            self.first.name.clone()
        } else {
            format!("{} {}", self.first.name, self.first.detail)
        };
        format!("{}.{:06}  {what}", t / 1_000_000, t % 1_000_000)
    }
}

fn columns(ev: &[Event]) -> Vec<Column<'_>> {
    let mut cols: Vec<Column<'_>> = Vec::new();
    for e in ev {
        if let Some(c) = cols.last_mut() {
            if routine(e) && routine(c.last) && c.last.tid == e.tid {
                c.last = e;
                c.count += 1;
                continue;
            }
        }
        cols.push(Column { first: e, last: e, count: 1 });
    }
    cols
}

const STEP: f64 = 26.0;
const LEFT: f64 = 170.0;
const LANE: f64 = 44.0;
const STATE_ROW: f64 = 22.0;
/// Width of a character of the 10-px labels, near enough.
const CHAR: f64 = 6.1;

fn colour(name: &str) -> &'static str {
    match name {
        "panic" | "deadlock" => "#c00000",
        "getnewvnode" | "vgonel" | "vclean" | "vclean.done" => "#7a3db8",
        "uvn_attach" | "uvn_detach" | "uvm_vnp_uncache" | "uvm_vnp_terminate" | "uvm_vnp_terminate.done" => "#1f6fb2",
        "pageout" | "uvm_pager_put" | "uvn_put" | "uvn_io" | "uvn_io.done" => "#c26a00",
        "uvn_flush" | "uvn_flush.again" | "uvn_flush.done" => "#b8860b",
        "tsleep" | "wakeup" => "#666666",
        _ => "#2e7d32",
    }
}

fn text(x: f64, y: f64, s: impl Into<String>) -> Text {
    Text::new(s).set("x", x).set("y", y).set("font-family", "DejaVu Sans Mono, monospace").set("font-size", 11)
}

/// The timeline: a column per event (time runs left to right, gaps over a
/// millisecond are marked), a lane per thread with its sleeps as bars,
/// the vnode's counts and flags along the bottom, the ending in red.
pub fn draw(h: &History) -> String {
    let ev = story(h);
    let cols = columns(ev);
    let mut lanes: Vec<(u32, String)> = Vec::new();
    for e in ev {
        if !lanes.iter().any(|(t, _)| *t == e.tid) {
            lanes.push((e.tid, e.comm.clone()));
        }
    }
    let rows = ["usecount", "uo_refs", "v_lflag", "u_flags", ""];
    // The labels stand at 60 degrees above the lanes.
    let longest = cols.iter().map(|c| c.label().len()).max().unwrap_or(0) as f64;
    let header = 40.0 + longest * CHAR * 0.87;
    let lane_y = |tid: u32| header + LANE * lanes.iter().position(|(t, _)| *t == tid).unwrap_or(0) as f64;
    let state_top = header + LANE * lanes.len() as f64 + 16.0;
    let ending_len = h.ending.as_deref().map_or(0, str::len) as f64;
    let width = LEFT + STEP * (cols.len() as f64 + 1.0) + (longest * CHAR * 0.5).max(ending_len * 6.8 + 20.0);
    let height = state_top + STATE_ROW * rows.len() as f64 + 34.0;
    let x_of = |i: usize| LEFT + STEP * (i as f64 + 0.5);

    let mut doc = Document::new()
        .set("viewBox", (0, 0, width as i64, height as i64))
        .set("width", width as i64)
        .set("height", height as i64)
        .add(Rectangle::new().set("width", "100%").set("height", "100%").set("fill", "white"));
    let title = format!("vnode {} — {}", h.vnode, h.ending.as_deref().unwrap_or("no panic in this log"));
    doc = doc.add(text(10.0, 20.0, title).set("font-size", 14).set("font-weight", "bold"));

    // Lanes.
    let mut g = Group::new().set("class", "lanes");
    for (k, (tid, comm)) in lanes.iter().enumerate() {
        let y = header + LANE * k as f64;
        g = g.add(
            Rectangle::new()
                .set("class", "lane")
                .set("data-tid", *tid)
                .set("x", LEFT)
                .set("y", y)
                .set("width", STEP * cols.len() as f64)
                .set("height", LANE)
                .set("fill", if k % 2 == 0 { "#eef2f8" } else { "#f8f4ea" }),
        );
        g = g.add(text(10.0, y + LANE / 2.0 + 4.0, format!("{comm} ({tid})")).set("font-size", 12));
    }
    doc = doc.add(g);

    // Time gaps.
    let mut gaps = 0;
    for (i, w) in cols.windows(2).enumerate() {
        let gap = w[1].first.t_us.saturating_sub(w[0].last.t_us);
        if gap >= 1000 {
            gaps += 1;
            let x = LEFT + STEP * (i as f64 + 1.0);
            doc = doc.add(
                Line::new()
                    .set("x1", x)
                    .set("y1", header - 6.0)
                    .set("x2", x)
                    .set("y2", state_top + STATE_ROW * rows.len() as f64)
                    .set("stroke", "#999")
                    .set("stroke-dasharray", "2,3"),
            );
            // Staggered, so that close gaps keep readable labels.
            let y = state_top + STATE_ROW * rows.len() as f64 + 12.0 + 11.0 * (gaps % 2) as f64;
            doc = doc.add(text(x + 2.0, y, format!("+{} ms", gap / 1000)).set("font-size", 9).set("fill", "#555"));
        }
    }

    // Sleeps: from a tsleep to the thread's next wakeup, or to the end.
    let mut open: BTreeMap<u32, (usize, String)> = BTreeMap::new();
    let mut bars = Vec::new();
    for (i, c) in cols.iter().enumerate() {
        match c.first.name.as_str() {
            "tsleep" => {
                open.insert(c.first.tid, (i, c.first.detail.trim_start_matches("wmesg ").to_owned()));
            }
            "wakeup" => {
                if let Some((s, w)) = open.remove(&c.first.tid) {
                    bars.push((c.first.tid, s, i, w, true));
                }
            }
            _ => {}
        }
    }
    for (tid, (s, w)) in open {
        bars.push((tid, s, cols.len(), w, false));
    }
    for (tid, s, e, w, woke) in bars {
        let y = lane_y(tid) + LANE - 14.0;
        let (x1, x2) = (x_of(s), if woke { x_of(e) } else { LEFT + STEP * cols.len() as f64 });
        doc = doc.add(
            Rectangle::new()
                .set("class", "sleep")
                .set("x", x1)
                .set("y", y)
                .set("width", (x2 - x1).max(2.0))
                .set("height", 8)
                .set("fill", if woke { "#9e9e9e" } else { "#c00000" })
                .set("opacity", 0.6)
                .add(Title::new(format!("asleep on \"{w}\"{}", if woke { "" } else { ", never woken" }))),
        );
        doc = doc.add(text(x1 + 3.0, y - 2.0, format!("sleep \"{w}\"{}", if woke { "" } else { " (never woken)" })).set("font-size", 9));
    }

    // Events: a mark in the thread's lane and the label in the header.
    for (i, c) in cols.iter().enumerate() {
        let x = x_of(i);
        let y = lane_y(c.first.tid) + LANE / 2.0 - 4.0;
        let col = colour(&c.first.name);
        doc = doc.add(Line::new().set("x1", x).set("y1", header - 4.0).set("x2", x).set("y2", y).set("stroke", "#ddd"));
        let ending = matches!(c.first.name.as_str(), "panic" | "deadlock");
        let mark = Circle::new()
            .set("class", if ending { "ending" } else { "event" })
            .set("cx", x)
            .set("cy", y)
            .set(
                "r",
                if ending {
                    7
                } else if c.count > 1 {
                    3
                } else {
                    5
                },
            )
            .set("fill", col)
            .add(Title::new(format!("tid {} {}: {}", c.first.tid, c.first.comm, c.label())));
        doc = doc.add(mark);
        doc = doc.add(
            text(0.0, 0.0, c.label())
                .set("transform", format!("translate({:.1},{:.1}) rotate(-60)", x + 3.0, header - 8.0))
                .set("fill", col)
                .set("font-size", 10),
        );
        if ending {
            doc = doc.add(
                Line::new()
                    .set("class", "ending-line")
                    .set("x1", x)
                    .set("y1", header - 4.0)
                    .set("x2", x)
                    .set("y2", state_top + STATE_ROW * rows.len() as f64)
                    .set("stroke", "#c00000")
                    .set("stroke-width", 2),
            );
            if let Some(msg) = &h.ending {
                doc = doc.add(text(x + 8.0, y + 4.0, msg.clone()).set("fill", "#c00000").set("font-weight", "bold"));
            }
        }
    }

    // The vnode's state along the bottom: a value where it changes.
    for (r, key) in rows.iter().enumerate().filter(|(_, k)| !k.is_empty()) {
        let y = state_top + STATE_ROW * r as f64;
        doc = doc.add(text(10.0, y + 14.0, *key).set("font-size", 11).set("fill", "#333"));
        doc = doc.add(
            Line::new().set("x1", LEFT).set("y1", y + STATE_ROW).set("x2", LEFT + STEP * cols.len() as f64).set("y2", y + STATE_ROW).set("stroke", "#eee"),
        );
        let mut last: Option<&str> = None;
        let mut changes = 0;
        for (i, c) in cols.iter().enumerate() {
            let Some(v) = c.last.state.get(*key).map(String::as_str) else { continue };
            if v == "?" || last == Some(v) {
                continue;
            }
            last = Some(v);
            let hot = (*key == "usecount" && v == "0") || (*key == "v_lflag" && v.contains("VXLOCK")) || (*key == "u_flags" && v.contains("DYING"));
            // u_flags values are long: every other one a row lower.
            let dy = if *key == "u_flags" { STATE_ROW * (changes % 2) as f64 } else { 0.0 };
            changes += 1;
            doc = doc.add(text(x_of(i) - 3.0, y + 14.0 + dy, v).set("font-size", 10).set("fill", if hot { "#c00000" } else { "#333" }));
        }
    }
    doc.to_string()
}

/// The HTML page: the picture and, beside it, the history as the kernel
/// printed it (below it when the window is narrow).
fn page(h: &History, svg: &str, name: &str) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ppcbsd: {name}, vnode {}</title>\n\
         <style>body{{font-family:sans-serif;margin:1em}} .row{{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}} \
         .pic{{flex:0 1 auto;max-width:100%;overflow-x:auto;border:1px solid #ccc}} \
         .hist{{flex:1 1 32em;min-width:24em;max-height:90vh;overflow:auto}} h2{{margin-top:0;font-size:1.1em}} \
         pre{{font-size:11px;background:#f8f8f8;padding:.5em;margin:0}}</style></head><body>\n\
         <h1>{name}: vnode {}</h1>\n<p>{}</p>\n<p>{}</p>\n<div class=\"row\"><div class=\"pic\">{svg}</div>\n\
         <div class=\"hist\"><h2>History as the kernel printed it</h2><pre>{}</pre></div></div>\n</body></html>\n",
        h.vnode,
        h.vnode,
        esc(h.ending.as_deref().unwrap_or("The log has no panic or deadlock report.")),
        esc(&h.header),
        esc(&h.text)
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
>> bootargs \"seed=1129000 workload=race uvn.policy=original\"
panic: vref used where vget required
panic at uptime 1.262 s
vnode 11 history: 9 events, 9 since its object's last attach (ring: 260 of 260 events kept, from 0.567548 s)
     1.225645 tid 5 mapwriter uvn_attach new object | usecount 2 holdcnt 0 uo_refs 1 u_nio 0 v_lflag - u_flags VALID|CANPERSIST|WRITEABLE
     1.225656 tid 5 mapwriter uvn_io page 0 read | usecount 2 holdcnt 0 uo_refs 1 u_nio 0 v_lflag - u_flags VALID|CANPERSIST|WRITEABLE
     1.225711 tid 5 mapwriter uvn_io.done VM_PAGER_OK | usecount 2 holdcnt 1 uo_refs 1 u_nio 0 v_lflag - u_flags VALID|CANPERSIST|WRITEABLE
     1.226692 tid 5 mapwriter uvn_detach persist dirty 1 | usecount 2 holdcnt 8 uo_refs 0 u_nio 0 v_lflag - u_flags VALID|CANPERSIST|WRITEABLE
     1.226751 tid 5 mapwriter vrele | usecount 0 holdcnt 8 uo_refs 0 u_nio 0 v_lflag - u_flags VALID|CANPERSIST|WRITEABLE
     1.232856 tid 2 pagedaemon pageout page 1 pflags BUSY|PMAP_MOD | usecount 0 holdcnt 6 uo_refs 0 u_nio 0 v_lflag - u_flags VALID|CANPERSIST|WRITEABLE
     1.232885 tid 2 pagedaemon tsleep wmesg ffsalloc
     1.261522 tid 2 pagedaemon wakeup wmesg ffsalloc
     1.262758 tid 2 pagedaemon panic | usecount 0 holdcnt 1 uo_refs 0 u_nio 1 v_lflag - u_flags VALID|WRITEABLE
end of vnode 11 history
";

    #[test]
    fn parses_the_kernel_history() {
        let h = parse(LOG, None).expect("a history");
        assert_eq!(h.vnode, 11);
        assert_eq!(h.events.len(), 9);
        assert_eq!(h.ending.as_deref(), Some("panic: vref used where vget required"));
        let d = &h.events[3];
        assert_eq!((d.t_us, d.tid, d.comm.as_str(), d.name.as_str(), d.detail.as_str()), (1_226_692, 5, "mapwriter", "uvn_detach", "persist dirty 1"));
        assert_eq!(d.state["usecount"], "2");
        assert_eq!(d.state["u_flags"], "VALID|CANPERSIST|WRITEABLE");
        assert!(h.events[6].state.is_empty());
        assert_eq!(seed_of(LOG), Some(1129000));
        assert!(parse(LOG, Some(12)).is_none());
    }

    #[test]
    fn the_svg_parses_with_a_lane_per_thread_and_the_panic_marked() {
        let h = parse(LOG, None).expect("a history");
        let svg = draw(&h);
        let doc = roxmltree::Document::parse(&svg).expect("the SVG is XML");
        let class = |c: &str| doc.descendants().filter(|n| n.attribute("class") == Some(c)).count();
        assert_eq!(class("lane"), 2, "lanes for mapwriter and pagedaemon");
        let tids: Vec<&str> = doc.descendants().filter_map(|n| n.attribute("data-tid")).collect();
        assert_eq!(tids, ["5", "2"]);
        assert_eq!(class("ending"), 1, "the panic is marked once");
        assert_eq!(class("ending-line"), 1);
        assert_eq!(class("sleep"), 1, "the ffsalloc sleep is a bar");
        assert!(svg.contains("panic: vref used where vget required"));
        // The read and its completion are one routine column.
        assert_eq!(columns(story(&h)).len(), 8);
    }

    #[test]
    fn a_deadlock_is_drawn_for_the_pagedaemons_vnode() {
        let log = "deadlock: every thread sleeps and nothing can wake one\ndeadlock: thread 7 (creator) sleeps on \"vnlock\" working on vnode 2\ndeadlock: thread 2 (pagedaemon) sleeps on \"uvn_flsh\" working on vnode 9\nvnode 2 history: 1 events\n  1.000000 tid 7 creator vget ok | usecount 1 holdcnt 0 uo_refs 0 u_nio 0 v_lflag - u_flags -\nend of vnode 2 history\nvnode 9 history: 1 events\n  1.000000 tid 2 pagedaemon tsleep wmesg uvn_flsh\nend of vnode 9 history\n";
        assert_eq!(parse(log, None).map(|h| h.vnode), Some(9));
        assert_eq!(parse(log, Some(2)).map(|h| h.vnode), Some(2));
    }

    #[test]
    fn a_sleep_never_woken_runs_to_the_end() {
        let log = "deadlock: every thread sleeps and nothing can wake one\nvnode 3 history: 2 events\n  1.000000 tid 2 pagedaemon uvn_flush CLEANIT|FREE|ALLPAGES | usecount 2 holdcnt 1 uo_refs 0 u_nio 1 v_lflag - u_flags VALID|DYING\n  1.000100 tid 2 pagedaemon tsleep wmesg uvn_flsh\n  9.000000 tid 1 idle deadlock | usecount 2 holdcnt 1 uo_refs 0 u_nio 1 v_lflag - u_flags VALID|DYING\nend of vnode 3 history\n";
        let h = parse(log, None).expect("a history");
        let svg = draw(&h);
        assert!(svg.contains("never woken"));
        assert!(svg.contains("+7999 ms"));
        let page = page(&h, &svg, "seed-1");
        roxmltree::Document::parse(&svg).expect("XML");
        assert!(page.contains("<pre>vnode 3 history"));
    }
}
