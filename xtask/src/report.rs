//! A stress run's report page (`report.html` in the run's directory): the
//! outcomes with their intervals, the guest time to panic as an ECDF per
//! signature, the outcomes over the seeds, the signature groups with their
//! replay commands, logs and explanations, and every boot. One
//! self-contained file with the plots inline (drawn with `plotters`), well
//! formed as XML so that tests can parse it.

use std::fmt::Write as _;

use plotters::prelude::*;

use crate::outcome::Outcome;
use crate::results::Summary;

/// Text for HTML (element content and attribute values).
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// An outcome's colour, the same in every plot.
fn colour(o: &str) -> RGBColor {
    match o {
        "PASS" => RGBColor(46, 125, 50),
        "P0" => RGBColor(21, 101, 192),
        "CHECK-FAILED" => RGBColor(230, 145, 0),
        "PANIC" => RGBColor(198, 40, 40),
        "HANG" => RGBColor(106, 27, 154),
        "NO-OUTPUT" => RGBColor(120, 120, 120),
        _ => RGBColor(40, 40, 40),
    }
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

/// The guest time to panic or deadlock of each signature as an empirical
/// CDF, one step line per signature.
fn ecdf_svg(s: &Summary) -> Result<String, String> {
    let sigs: Vec<_> = s.signatures.iter().filter(|g| !g.guest_ms.is_empty()).collect();
    // From a little before the first time to a little after the last.
    let tmax = sigs.iter().filter_map(|g| g.guest_ms.last()).max().copied().unwrap_or(1) as f64 / 1000.0;
    let tmin = sigs.iter().filter_map(|g| g.guest_ms.first()).min().copied().unwrap_or(0) as f64 / 1000.0;
    let pad = ((tmax - tmin) * 0.05).max(0.01);
    let (xmin, xmax) = ((tmin - pad).max(0.0), tmax + pad);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (820, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Guest time to panic or deadlock, per signature (empirical CDF)", ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(52)
            .build_cartesian_2d(xmin..xmax, 0f64..1.0f64)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("guest seconds since the kernel started")
            .y_desc("fraction of the signature's boots")
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, g) in sigs.iter().enumerate() {
            let n = g.guest_ms.len() as f64;
            let mut pts = vec![(xmin, 0.0)];
            for (k, &t) in g.guest_ms.iter().enumerate() {
                let x = t as f64 / 1000.0;
                pts.push((x, k as f64 / n));
                pts.push((x, (k + 1) as f64 / n));
            }
            pts.push((xmax, 1.0));
            let c = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(format!("{} ({})", short(&g.signature, 70), g.count))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 11))
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// How the outcomes fall over the seeds: the seed range in up to 40 bins,
/// each a stack of its boots by outcome.
fn seeds_svg(s: &Summary) -> Result<String, String> {
    let (lo, hi) = (s.first_seed, s.last_seed + 1);
    let bins = (hi - lo).clamp(1, 40);
    let width = (hi - lo) as f64 / bins as f64;
    let mut counts = vec![[0u32; Outcome::ALL.len()]; bins as usize];
    for r in &s.results {
        let b = (((r.seed - lo) as f64 / width) as usize).min(bins as usize - 1);
        counts[b][Outcome::ALL.iter().position(|&o| o == r.outcome).unwrap_or(0)] += 1;
    }
    let ymax = counts.iter().map(|c| c.iter().sum::<u32>()).max().unwrap_or(1).max(1);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (820, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Outcomes over the seeds", ("sans-serif", 16))
            .margin(12)
            .margin_right(36)
            .x_label_area_size(40)
            .y_label_area_size(52)
            .build_cartesian_2d(lo as f64..hi as f64, 0f64..(ymax + 1) as f64)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("seed")
            .y_desc("boots")
            .x_label_formatter(&|x| format!("{x:.0}"))
            // Whole boots: one label per count, at most ten.
            .y_labels((ymax as usize + 2).min(10))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(|e| e.to_string())?;
        for (k, o) in Outcome::ALL.iter().enumerate() {
            if !counts.iter().any(|c| c[k] > 0) {
                continue;
            }
            let c = colour(o.name());
            let rects: Vec<Rectangle<(f64, f64)>> = counts
                .iter()
                .enumerate()
                .filter(|(_, c)| c[k] > 0)
                .map(|(b, cnt)| {
                    let below: u32 = cnt[..k].iter().sum();
                    let x0 = lo as f64 + b as f64 * width;
                    Rectangle::new([(x0, below as f64), (x0 + width * 0.9, (below + cnt[k]) as f64)], c.filled())
                })
                .collect();
            chart
                .draw_series(rects)
                .map_err(|e| e.to_string())?
                .label(o.name())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// The report page.
pub fn html(s: &Summary) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>ppcbsd stress {id}</title>\n<style>\
         body{{font-family:sans-serif;margin:1.2em;max-width:70em}} table{{border-collapse:collapse;margin:.5em 0}} \
         td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:left}} td.n{{text-align:right}} code{{font-size:90%}} \
         .plot{{margin:.5em 0}}</style></head><body>\n<h1>Stress run {id}</h1>\n",
        id = esc(&s.run_id)
    );
    let _ = writeln!(
        o,
        "<p>{} boots on the {} of seeds {}–{}{}, bootargs <code>{}</code>.<br/>Kernel <code>{}</code>. Wall {:.1} s ({:.2} boots/s, {} at a time).{}</p>",
        s.boots,
        s.machine,
        s.first_seed,
        s.last_seed,
        s.shard.as_deref().map(|k| format!(" (shard {k})")).unwrap_or_default(),
        esc(&s.bootargs),
        esc(&s.kernel),
        s.wall_s,
        s.boots_per_s,
        s.jobs,
        s.stopped.as_deref().map(|w| format!(" Stopped early: {}.", esc(w))).unwrap_or_default()
    );
    o.push_str("<h2>Outcomes</h2>\n<table><tr><th>outcome</th><th>boots</th><th>rate</th><th>95% interval (Wilson score)</th></tr>\n");
    for r in &s.rates {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{:.1}%</td><td>{:.1}% – {:.1}%</td></tr>",
            r.outcome,
            r.count,
            100.0 * r.rate,
            100.0 * r.lo,
            100.0 * r.hi
        );
    }
    o.push_str("</table>\n<p>FAILED counts PANIC, HANG and CHECK-FAILED boots.</p>\n");
    if let Some(b) = &s.pct {
        let _ = writeln!(o, "<p id=\"pct\">Beside the interval, the schedule's own bound (doc/schedules.md): {}.</p>", esc(&b.text()));
    }
    if let (Some((c, n)), Some(m)) = (&s.counters, &s.counters_min) {
        let _ = writeln!(
            o,
            "<h2>What the boots exercised</h2>\n<p id=\"counters\">Over the {n} boots that halted: {}; race windows entered: {}.<br/>Fewest in one boot: {}; windows {}.</p>",
            esc(&c.text()),
            esc(&c.windows_text()),
            esc(&m.text()),
            esc(&m.windows_text())
        );
    }

    o.push_str("<h2>Time to panic</h2>\n");
    for (what, d) in [("Panic", &s.guest_to_panic), ("Deadlock report", &s.guest_to_deadlock), ("Panic", &s.wall_to_panic)] {
        if let Some(d) = d {
            let _ = writeln!(
                o,
                "<p>{what} ({} time): median {} ms, p10 {} ms, p90 {} ms, max {} ms over {} boots.</p>",
                d.source, d.median_ms, d.p10_ms, d.p90_ms, d.max_ms, d.n
            );
        }
    }
    if s.signatures.iter().any(|g| !g.guest_ms.is_empty()) {
        match ecdf_svg(s) {
            Ok(svg) => {
                let _ = writeln!(o, "<div class=\"plot\" id=\"ecdf\">{svg}</div>");
            }
            Err(e) => {
                let _ = writeln!(o, "<p>(no plot: {})</p>", esc(&e));
            }
        }
    } else {
        o.push_str("<p>No boot panicked or deadlocked.</p>\n");
    }
    o.push_str("<h2>Outcomes over the seeds</h2>\n");
    match seeds_svg(s) {
        Ok(svg) => {
            let _ = writeln!(o, "<div class=\"plot\" id=\"seeds\">{svg}</div>");
        }
        Err(e) => {
            let _ = writeln!(o, "<p>(no plot: {})</p>", esc(&e));
        }
    }

    if !s.signatures.is_empty() {
        o.push_str("<h2>Signatures</h2>\n<table><tr><th>boots</th><th>signature</th><th>first seed</th><th>replay</th><th>explanation</th></tr>\n");
        for g in &s.signatures {
            let _ = writeln!(
                o,
                "<tr><td class=\"n\">{}</td><td><code>{}</code></td><td><a href=\"seed-{}.log\">{}</a></td><td><code>{}</code></td><td>{}</td></tr>",
                g.count,
                esc(&g.signature),
                g.first_seed,
                g.first_seed,
                esc(&g.replay),
                g.explain.as_ref().map_or_else(|| "—".to_owned(), |p| format!("<a href=\"{}\">timeline</a>", esc(p)))
            );
        }
        o.push_str("</table>\n");
    }
    o.push_str("<h2>Boots</h2>\n<details><summary>every boot, with its log</summary>\n<table><tr><th>seed</th><th>outcome</th><th>guest ms</th><th>wall ms</th><th>signature</th></tr>\n");
    for r in &s.results {
        let _ = writeln!(
            o,
            "<tr><td><a href=\"seed-{}.log\">{}</a></td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            r.seed,
            r.seed,
            r.outcome.name(),
            r.virtual_ms.map_or_else(|| "—".to_owned(), |v| v.to_string()),
            r.wall_ms,
            r.signature.as_deref().map_or_else(String::new, |g| format!("<code>{}</code>", esc(g)))
        );
    }
    o.push_str("</table></details>\n</body></html>\n");
    o
}
