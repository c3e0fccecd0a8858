//! The statistics of stress runs: rates with Wilson score intervals, the
//! difference of two rates (Newcombe's interval, Fisher's exact test), and
//! the shift between two samples of times (Mann–Whitney U). Distributions
//! come from `statrs`; the tests check published values.

use statrs::distribution::{ContinuousCDF, Discrete, Hypergeometric, Normal};

/// z for a two-sided 95% interval.
fn z95() -> f64 {
    std_normal().inverse_cdf(0.975)
}

fn std_normal() -> Normal {
    Normal::new(0.0, 1.0).expect("the standard normal")
}

/// The 95% Wilson score interval of `k` successes in `n` trials, as
/// fractions (0/0 gives the whole of [0, 1]).
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (k, n, z) = (k as f64, n as f64, z95());
    let p = k / n;
    let centre = p + z * z / (2.0 * n);
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    let d = 1.0 + z * z / n;
    (((centre - half) / d).max(0.0), ((centre + half) / d).min(1.0))
}

/// PCT's guarantee (Burckhardt et al., ASPLOS 2010, theorem 9): a run of
/// at most `n` threads and `k` steps finds a given bug of depth `d` with
/// probability at least 1/(n·k^(d−1)).
pub fn pct_per_run(n: u64, k: u64, d: u32) -> f64 {
    1.0 / (n.max(1) as f64 * (k.max(1) as f64).powi(d.max(1) as i32 - 1))
}

/// The most likely that `runs` runs all miss a bug each finds with
/// probability at least `p`: (1−p)^runs.
pub fn miss_bound(p: f64, runs: u64) -> f64 {
    (runs as f64 * (-p).ln_1p()).exp()
}

/// Newcombe's hybrid score interval (his method 10) for p1 − p2, from the
/// two Wilson intervals.
pub fn diff_interval(k1: u64, n1: u64, k2: u64, n2: u64) -> (f64, f64) {
    let (p1, p2) = (k1 as f64 / n1.max(1) as f64, k2 as f64 / n2.max(1) as f64);
    let ((l1, u1), (l2, u2)) = (wilson(k1, n1), wilson(k2, n2));
    let d = p1 - p2;
    let lo = d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt();
    let hi = d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt();
    (lo, hi)
}

/// Fisher's exact test, two-sided, for the 2×2 table [[a, b], [c, d]]:
/// the probability, with the margins fixed, of a table at most as likely
/// as the one seen.
pub fn fisher_exact(a: u64, b: u64, c: u64, d: u64) -> f64 {
    let n = a + b + c + d;
    let (row1, col1) = (a + b, a + c);
    if n == 0 || row1 == 0 || col1 == 0 || row1 == n || col1 == n {
        return 1.0;
    }
    let h = Hypergeometric::new(n, col1, row1).expect("valid margins");
    let seen = h.pmf(a);
    let lo = (row1 + col1).saturating_sub(n);
    let hi = row1.min(col1);
    // A relative tolerance, as R's fisher.test, so that tables exactly as
    // likely as the one seen are not lost to rounding.
    let p: f64 = (lo..=hi).map(|x| h.pmf(x)).filter(|&q| q <= seen * (1.0 + 1e-7)).sum();
    p.min(1.0)
}

/// The Mann–Whitney U test of two samples: U of the first, and the
/// two-sided p from the normal approximation with the tie correction and a
/// continuity correction (R's `wilcox.test(x, y, exact = FALSE)`).
pub fn mann_whitney(x: &[f64], y: &[f64]) -> Option<(f64, f64)> {
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    if x.is_empty() || y.is_empty() {
        return None;
    }
    let mut all: Vec<(f64, usize)> = x.iter().map(|&v| (v, 0)).chain(y.iter().map(|&v| (v, 1))).collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut ranks = vec![0.0; all.len()];
    let mut ties = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        ranks[i..=j].fill(r);
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        i = j + 1;
    }
    let r1: f64 = all.iter().zip(&ranks).filter(|((_, g), _)| *g == 0).map(|(_, r)| r).sum();
    let u = r1 - n1 * (n1 + 1.0) / 2.0;
    let n = n1 + n2;
    let mean = n1 * n2 / 2.0;
    let var = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    if var <= 0.0 {
        return Some((u, 1.0));
    }
    let dev = u - mean;
    let z = (dev.abs() - 0.5).max(0.0) / var.sqrt();
    Some((u, (2.0 * (1.0 - std_normal().cdf(z))).min(1.0)))
}

/// The Hodges–Lehmann estimate of the shift from `x` to `y`: the median of
/// every difference y − x.
pub fn hodges_lehmann(x: &[f64], y: &[f64]) -> Option<f64> {
    let mut d: Vec<f64> = x.iter().flat_map(|a| y.iter().map(move |b| b - a)).collect();
    if d.is_empty() {
        return None;
    }
    d.sort_by(f64::total_cmp);
    let m = d.len() / 2;
    Some(if d.len() % 2 == 1 { d[m] } else { (d[m - 1] + d[m]) / 2.0 })
}

/// The `p`-th percentile (nearest rank) of sorted values.
pub fn percentile(sorted: &[u64], p: u64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as u64).div_ceil(100).max(1);
    Some(sorted[(rank - 1) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn pct_bound() {
        // Depth 1: one thread in n runs first; depth 3: 1/(n·k²).
        assert!(close(pct_per_run(4, 1000, 1), 0.25, 1e-12));
        assert!(close(pct_per_run(10, 100, 3), 1e-5, 1e-15));
        // 300 runs at p = 1% miss with (0.99)^300 ≈ 0.049.
        assert!(close(miss_bound(0.01, 300), 0.049_04, 1e-4));
        assert_eq!(miss_bound(1e-9, 0), 1.0);
    }

    #[test]
    fn wilson_published_values() {
        // Newcombe (1998), table I: 81/263 → 0.2553–0.3662; 15/148 →
        // 0.0624–0.1605; 0/10 → 0–0.2775; 1/29 → 0.0061–0.1718.
        let cases = [((81, 263), (0.2553, 0.3662)), ((15, 148), (0.0624, 0.1605)), ((0, 10), (0.0, 0.2775)), ((1, 29), (0.0061, 0.1718))];
        for ((k, n), (lo, hi)) in cases {
            let (l, h) = wilson(k, n);
            assert!(close(l, lo, 5e-5) && close(h, hi, 5e-5), "{k}/{n}: {l} {h}");
        }
        // The issue's own example: 0/300 → [0.0%, 1.3%].
        let (l, h) = wilson(0, 300);
        assert_eq!(l, 0.0);
        assert!(close(h, 0.0126, 5e-5), "{h}");
        assert_eq!(wilson(0, 0), (0.0, 1.0));
    }

    #[test]
    fn newcombe_difference() {
        // Newcombe (1998), table II, method 10: 56/70 − 48/80 → 0.0524 to 0.3339.
        let (l, h) = diff_interval(56, 70, 48, 80);
        assert!(close(l, 0.0524, 5e-5) && close(h, 0.3339, 5e-5), "{l} {h}");
        // 9/10 − 3/10 → 0.1705 to 0.8090.
        let (l, h) = diff_interval(9, 10, 3, 10);
        assert!(close(l, 0.1705, 5e-5) && close(h, 0.8090, 5e-5), "{l} {h}");
    }

    #[test]
    fn fisher_published_values() {
        // Fisher's tea tasting: [[3, 1], [1, 3]] → 0.4857.
        assert!(close(fisher_exact(3, 1, 1, 3), 0.4857, 5e-5));
        // Wikipedia's example: [[1, 9], [11, 3]] → 0.002759.
        assert!(close(fisher_exact(1, 9, 11, 3), 0.002759, 5e-7));
        // 40/40 against 0/40: far below 0.001.
        assert!(fisher_exact(40, 0, 0, 40) < 1e-20);
        assert_eq!(fisher_exact(0, 0, 0, 0), 1.0);
        assert!(close(fisher_exact(5, 5, 5, 5), 1.0, 1e-9));
    }

    #[test]
    fn mann_whitney_published_values() {
        // R: wilcox.test(1:5, 6:10, exact = FALSE) → W = 0, p = 0.01219.
        let (u, p) = mann_whitney(&[1.0, 2.0, 3.0, 4.0, 5.0], &[6.0, 7.0, 8.0, 9.0, 10.0]).unwrap();
        assert_eq!(u, 0.0);
        assert!(close(p, 0.01219, 5e-5), "{p}");
        // With ties, R: wilcox.test(c(1,2,2,3), c(2,3,4,5), exact = FALSE)
        // → W = 2.5, p = 0.1366.
        let (u, p) = mann_whitney(&[1.0, 2.0, 2.0, 3.0], &[2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!(u, 2.5);
        assert!(close(p, 0.1366, 5e-4), "{p}");
        assert!(mann_whitney(&[], &[1.0]).is_none());
        assert_eq!(hodges_lehmann(&[1.0, 2.0], &[3.0, 5.0]), Some(2.5));
    }

    #[test]
    fn percentiles() {
        let v: Vec<u64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&v, 90), Some(9));
        assert_eq!(percentile(&v, 10), Some(1));
        assert_eq!(percentile(&v, 100), Some(10));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }
}
