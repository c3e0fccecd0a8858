//! The policies-by-cells table `runs table` ends with: one row per policy,
//! one column per workload cell (the boot arguments besides the policy),
//! each entry the failures with their interval, how they ended and how
//! the policy compares with `fixed` (uvm_vnode.c 1.131) on the same cell.

use std::fmt::Write as _;

use crate::stats;

/// What the matrix needs of one run.
#[derive(Clone, Debug)]
pub struct Cell {
    pub policy: String,
    /// Boot arguments without `uvn.policy=`.
    pub args: Vec<String>,
    /// The kernel's git commit (short), or "?".
    pub kernel: String,
    pub boots: u64,
    pub panics: u64,
    pub hangs: u64,
    pub check_failed: u64,
    /// NO-OUTPUT and QEMU-ERROR: not the kernel's failures (as in FAILED).
    pub lost: u64,
}

impl Cell {
    /// FAILED as stress counts it: PANIC, HANG, CHECK-FAILED.
    fn failed(&self) -> u64 {
        self.panics + self.hangs + self.check_failed
    }
}

/// An argument that differs between the runs of one campaign without
/// making another cell (the policy is already apart): PCT's steps, which
/// `--policies` calibrates per policy.
fn per_run(arg: &str) -> bool {
    arg.starts_with("sched.steps=")
}

/// The matrix in markdown, or None when the runs make fewer than two
/// policies (a matrix would repeat the table). The first column is named
/// by its own arguments, the others by how theirs differ from it. Two
/// runs of one policy in one cell give a note instead of the matrix:
/// merge them (`runs merge`) or leave one out.
pub fn matrix_text(runs: &[Cell]) -> Option<String> {
    matrix(runs).unwrap_or_else(|e| Some(format!("No matrix: {e}.\n")))
}

fn matrix<'r>(runs: &'r [Cell]) -> Result<Option<String>, String> {
    let mut policies: Vec<&str> = Vec::new();
    for r in runs {
        if !policies.contains(&r.policy.as_str()) {
            policies.push(&r.policy);
        }
    }
    if policies.len() < 2 {
        return Ok(None);
    }
    let order = |p: &str| kcore::bootargs::UvnPolicy::ALL.iter().position(|q| q.name() == p).unwrap_or(usize::MAX);
    policies.sort_by_key(|p| order(p));
    // The arguments every run shares go above the table; each column is
    // named by what is left.
    let common: Vec<&String> = runs[0].args.iter().filter(|a| !per_run(a) && runs.iter().all(|r| r.args.contains(a))).collect();
    fn own<'a>(r: &'a Cell, common: &[&String]) -> Vec<&'a str> {
        let mut own: Vec<&str> = r.args.iter().filter(|a| !per_run(a) && !common.contains(a)).map(String::as_str).collect();
        own.sort_unstable();
        own
    }
    let label = |r: &'r Cell| own(r, &common);
    let shown = |c: &[&str]| if c.is_empty() { "(only those)".to_owned() } else { c.join(" ") };
    let mut cells: Vec<Vec<&str>> = Vec::new();
    for r in runs {
        let l = label(r);
        if !cells.contains(&l) {
            cells.push(l);
        }
    }
    let find = |p: &str, c: &[&str]| -> Result<Option<&Cell>, String> {
        let mut hits = runs.iter().filter(|r| r.policy == p && label(r) == c);
        let first = hits.next();
        match hits.next() {
            Some(_) => Err(format!("two runs of {p} with `{}`; merge them (`cargo xtask runs merge`) or leave one out", shown(c))),
            None => Ok(first),
        }
    };
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Every run: `{}`. An entry: boots failed of boots (FAILED: panics P, deadlocks or hangs D, failed data checks C), the 95% Wilson interval; boots lost to QEMU (no output, QEMU errors) are named apart and left out; against `fixed` in the same column (Fisher's exact test on the failure rates, p < 0.05): worse, better, or `=` (no difference shown).\n",
        common.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    );
    let heads: Vec<String> = cells.iter().enumerate().map(|(i, c)| format!("`{}`", if i == 0 { shown(c) } else { relative(&cells[0], c) })).collect();
    let _ = writeln!(o, "| policy | {} |", heads.join(" | "));
    let _ = writeln!(o, "| --- |{}", " --- |".repeat(cells.len()));
    for p in &policies {
        let mut row = format!("| {p} |");
        for c in &cells {
            let entry = match find(p, c)? {
                None => "—".to_owned(),
                Some(r) => {
                    let fixed = find("fixed", c)?.filter(|_| *p != "fixed");
                    entry(r, fixed)
                }
            };
            let _ = write!(row, " {entry} |");
        }
        let _ = writeln!(o, "{row}");
    }
    let mut kernels = String::new();
    for c in &cells {
        let mut ks: Vec<&str> = runs.iter().filter(|r| label(r) == *c).map(|r| r.kernel.as_str()).collect();
        ks.sort_unstable();
        ks.dedup();
        let _ = write!(kernels, " {} |", ks.join(", "));
    }
    let _ = writeln!(o, "| kernel |{kernels}");
    Ok(Some(o))
}

/// A column's arguments as changes to the first column's: `key=new` for
/// a changed value, `+arg` for an added one, `−arg` for one left out.
fn relative(base: &[&str], own: &[&str]) -> String {
    let key = |a: &str| a.split_once(['=', ' ']).map_or(a, |(k, _)| k).to_owned();
    let mut out = Vec::new();
    for a in own.iter().filter(|a| !base.contains(a)) {
        out.push(if base.iter().any(|x| key(x) == key(a)) { (*a).to_owned() } else { format!("+{a}") });
    }
    for a in base.iter().filter(|a| !own.iter().any(|x| key(x) == key(a))) {
        out.push(format!("−{a}"));
    }
    out.join(" ")
}

/// One entry: `3/100 [1.0%, 8.5%] · 2 P 1 D · better`.
fn entry(r: &Cell, fixed: Option<&Cell>) -> String {
    let k = r.failed();
    let mut how = Vec::new();
    for (n, tag) in [(r.panics, "P"), (r.hangs, "D"), (r.check_failed, "C"), (r.lost, "lost")] {
        if n > 0 {
            how.push(format!("{n} {tag}"));
        }
    }
    let n = r.boots.saturating_sub(r.lost);
    let (lo, hi) = stats::wilson(k, n);
    let mut e = format!("{k}/{n} [{:.1}%, {:.1}%]", 100.0 * lo, 100.0 * hi);
    if !how.is_empty() {
        let _ = write!(e, " · {}", how.join(" "));
    }
    if let Some(f) = fixed {
        let (fk, fnn) = (f.failed(), f.boots.saturating_sub(f.lost));
        let p = stats::fisher_exact(k, n.saturating_sub(k), fk, fnn.saturating_sub(fk));
        let rate = |k: u64, n: u64| k as f64 / n.max(1) as f64;
        let verdict = match (p < 0.05, rate(k, n) > rate(fk, fnn)) {
            (false, _) => "=".to_owned(),
            (true, true) => format!("worse (p {})", crate::stress::p_bound(p)),
            (true, false) => format!("better (p {})", crate::stress::p_bound(p)),
        };
        let _ = write!(e, " · {verdict}");
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(policy: &str, extra: &str, boots: u64, panics: u64, hangs: u64) -> Cell {
        let args = format!("workload=race race.secs=5 {extra}").split_whitespace().map(str::to_owned).collect();
        Cell { policy: policy.into(), args, kernel: "abc1234".into(), boots, panics, hangs, check_failed: 0, lost: 0 }
    }

    #[test]
    fn policies_by_cells_with_verdicts() {
        let runs = [
            cell("fixed-2", "race.sync=100", 300, 0, 0),
            cell("fixed", "race.sync=100", 100, 35, 65),
            cell("original", "race.sync=100", 100, 100, 0),
            cell("fixed", "race.truncate=1", 100, 0, 100),
            cell("head", "race.truncate=1", 100, 0, 98),
        ];
        let m = matrix_text(&runs).unwrap();
        let lines: Vec<&str> = m.lines().collect();
        assert!(lines[0].contains("Every run: `workload=race race.secs=5`"), "{m}");
        // The second column is named by how it differs from the first.
        assert_eq!(lines[2], "| policy | `race.sync=100` | `+race.truncate=1 −race.sync=100` |");
        // Rows in the policies' own order, whatever the runs' order.
        assert!(lines[4].starts_with("| original | 100/100 [96.3%, 100.0%] · 100 P · = |"), "{m}");
        assert!(lines[5].starts_with("| fixed | 100/100 [96.3%, 100.0%] · 35 P 65 D | 100/100"), "{m}");
        assert!(lines[6].starts_with("| fixed-2 | 0/300 [0.0%, 1.3%] · better (p < 0.001) | — |"), "{m}");
        assert_eq!(lines[7], "| head | — | 98/100 [93.0%, 99.4%] · 98 D · = |");
        assert_eq!(lines[8], "| kernel | abc1234 | abc1234 |");
    }

    #[test]
    fn one_policy_or_a_doubled_cell() {
        assert!(matrix_text(&[cell("fixed", "a=1", 10, 1, 0), cell("fixed", "a=2", 10, 0, 0)]).is_none());
        let e = matrix_text(&[cell("fixed", "a=1", 10, 1, 0), cell("fixed", "a=1", 10, 0, 0), cell("head", "a=1", 10, 0, 0)]).unwrap();
        assert!(e.starts_with("No matrix: two runs of fixed with `(only those)`"), "{e}");
    }

    #[test]
    fn per_run_arguments_and_order_make_no_column() {
        // PCT's calibrated steps differ per policy; argument order differs.
        let runs = [cell("fixed", "sched.steps=900 b=1 a=1", 10, 10, 0), cell("head", "sched.steps=700 a=1 b=1", 10, 0, 10)];
        let m = matrix_text(&runs).unwrap();
        assert!(m.contains("| policy | `(only those)` |"), "{m}");
        assert!(m.contains("| head | 10/10 [72.2%, 100.0%] · 10 D · = |"), "{m}");
    }

    #[test]
    fn columns_named_by_their_change() {
        let mut stock = cell("head", "uvm.mmap_uncache=0", 10, 0, 1);
        stock.args = ["--machine g5", "workload=field", "race.secs=10"].map(str::to_owned).to_vec();
        let mut race = cell("fixed", "uvm.mmap_uncache=0", 10, 0, 10);
        race.args.insert(0, "--machine g4".into());
        let m = matrix_text(&[race, stock]).unwrap();
        assert!(
            m.contains(
                "| policy | `--machine g4 race.secs=5 uvm.mmap_uncache=0 workload=race` | `--machine g5 race.secs=10 workload=field −uvm.mmap_uncache=0` |"
            ),
            "{m}"
        );
    }

    #[test]
    fn lost_boots_are_named_and_left_out() {
        let mut r = cell("head", "a=1", 100, 0, 3);
        r.lost = 2;
        let m = matrix_text(&[cell("fixed", "a=1", 100, 0, 100), r]).unwrap();
        assert!(m.contains("| head | 3/98 [1.0%, 8.6%] · 3 D 2 lost · better (p < 0.001) |"), "{m}");
    }
}
