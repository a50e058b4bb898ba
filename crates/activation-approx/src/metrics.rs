//! Error metrics of an approximation p of an activation f.
//!
//! - **Max abs error on [lo, hi]**: max |f − p| from a grid of 64 points per smooth segment (segments split at p's
//!   breakpoints), each of the 4 largest grid maxima refined by golden-section search on its neighbouring grid cells.
//! - **Weighted error** (Compact's density-aware measure; `docs/method.md`): E_ρ|f − p| = ∫ |f(x) − p(x)| ρ(x) dx
//!   over the whole real line, tails included, by [`Density::expect`] with p's breakpoints as kinks (Gauss–Legendre
//!   per segment; normal tails in probability space — see [`crate::density`]). Accurate to better than 1e-3
//!   relative; checked in the tests against [`weighted_error_dense`], an independent trapezoid sum on 10⁶ points.
//! - **Max error over the central mass** (e.g. 99.9 %): the max abs error on the density's central interval.
//! - **NFGen relative error** (Fan et al., CCS 2022, as its public code measures it): on `n` evenly spaced samples of
//!   [lo, hi], |p − f|/|f| where |f| ≥ `zero_mask`, else |p − f|; the maximum is reported.
//! - **Fixed-point error bound** ([`fixed_point_error_bound`]): how far the reference fixed-point evaluation
//!   ([`crate::EncodedPiecewise::eval`]) may be from the f64 value of the same segment at the decoded input.

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::density::Density;
use crate::fixed::{FixedPoint, power_tree_split};
use crate::piecewise::PiecewisePoly;

/// Points per smooth segment of the max-error grid.
const GRID_PER_SEGMENT: usize = 64;

/// max_{x ∈ [lo, hi]} |f(x) − p(x)|, with p and f smooth between the sorted `kinks` (see the module docs).
pub fn max_abs_error_fn(f: &dyn Fn(f64) -> f64, p: &dyn Fn(f64) -> f64, lo: f64, hi: f64, kinks: &[f64]) -> f64 {
    if hi.is_nan() || lo.is_nan() || hi < lo {
        return f64::NAN;
    }
    let err = |x: f64| (f(x) - p(x)).abs();
    let mut best = err(lo).max(err(hi));
    let mut s = lo;
    let inner = kinks.iter().copied().filter(|&k| k > lo && k < hi);
    for e in inner.chain(std::iter::once(hi)) {
        if e <= s {
            continue;
        }
        let n = GRID_PER_SEGMENT;
        let h = (e - s) / n as f64;
        // Grid values, the segment's right end approached from inside (p is right-continuous at breakpoints).
        let xs: Vec<f64> = (0..=n).map(|i| if i == n { e - 1e-12 * (e - s) } else { s + i as f64 * h }).collect();
        let vs: Vec<f64> = xs.iter().map(|&x| err(x)).collect();
        let mut idx: Vec<usize> = (0..=n).collect();
        idx.sort_by(|&a, &b| vs[b].total_cmp(&vs[a]));
        best = best.max(vs[idx[0]]);
        for &i in idx.iter().take(4) {
            let (a, b) = (xs[i.saturating_sub(1)], xs[(i + 1).min(n)]);
            best = best.max(golden_max(&err, a, b, 30));
        }
        s = e;
    }
    best
}

/// Golden-section maximisation of g on [a, b] (`iters` steps); returns the best value seen.
fn golden_max(g: &dyn Fn(f64) -> f64, mut a: f64, mut b: f64, iters: usize) -> f64 {
    let r = 0.5 * (5f64.sqrt() - 1.0);
    let mut c = b - r * (b - a);
    let mut d = a + r * (b - a);
    let (mut gc, mut gd) = (g(c), g(d));
    let mut best = gc.max(gd);
    for _ in 0..iters {
        if gc > gd {
            b = d;
            d = c;
            gd = gc;
            c = b - r * (b - a);
            gc = g(c);
        } else {
            a = c;
            c = d;
            gc = gd;
            d = a + r * (b - a);
            gd = g(d);
        }
        best = best.max(gc).max(gd);
    }
    best
}

/// max |f − p| on [lo, hi] for an activation and a piecewise polynomial.
pub fn max_abs_error(f: &dyn Activation, p: &PiecewisePoly, lo: f64, hi: f64) -> f64 {
    max_abs_error_fn(&|x| f.eval(x), &|x| p.eval(x), lo, hi, &p.breakpoints)
}

/// E_ρ|f − p| over the whole real line (module docs). The kinks handed to the quadrature are p's breakpoints and the
/// sign changes of f − p ([`error_sign_changes`]), so every quadrature cell sees a smooth integrand.
pub fn weighted_error(f: &dyn Activation, p: &PiecewisePoly, density: &dyn Density) -> f64 {
    let g = |x: f64| f.eval(x) - p.eval(x);
    let (lo, hi) = (density.quantile(1e-9), density.quantile(1.0 - 1e-9));
    let mut kinks = error_sign_changes(&g, &p.breakpoints, lo, hi);
    kinks.extend_from_slice(&p.breakpoints);
    kinks.sort_by(f64::total_cmp);
    density.expect(&|x| g(x).abs(), &kinks)
}

/// The reference fixed-point evaluation of p at x ([`crate::EncodedPiecewise::eval`] on enc(x), decoded); inputs
/// that do not encode (or a p whose coefficients do not) fall back to the f64 value.
pub fn fixed_evaluator<'a>(p: &'a PiecewisePoly, fx: &'a FixedPoint) -> impl Fn(f64) -> f64 + 'a {
    let enc = p.encode(fx).ok();
    move |x| match (&enc, fx.encode(x)) {
        (Some(e), Ok(v)) => fx.decode(e.eval(v)),
        _ => p.eval(x),
    }
}

/// E_ρ|f − p_fx| with p_fx the reference fixed-point evaluation (what secure evaluation computes, up to the
/// truncation protocol's ±1 LSB); same quadrature and kinks as [`weighted_error`].
pub fn weighted_error_fixed(f: &dyn Activation, p: &PiecewisePoly, density: &dyn Density, fx: &FixedPoint) -> f64 {
    let pf = fixed_evaluator(p, fx);
    let g = |x: f64| f.eval(x) - p.eval(x);
    let (lo, hi) = (density.quantile(1e-9), density.quantile(1.0 - 1e-9));
    let mut kinks = error_sign_changes(&g, &p.breakpoints, lo, hi);
    kinks.extend_from_slice(&p.breakpoints);
    kinks.sort_by(f64::total_cmp);
    density.expect(&|x| (f.eval(x) - pf(x)).abs(), &kinks)
}

/// max |f − p_fx| on [lo, hi] for the fixed-point evaluation p_fx (see [`fixed_evaluator`]).
pub fn max_abs_error_fixed(f: &dyn Activation, p: &PiecewisePoly, fx: &FixedPoint, lo: f64, hi: f64) -> f64 {
    let pf = fixed_evaluator(p, fx);
    max_abs_error_fn(&|x| f.eval(x), &pf, lo, hi, &p.breakpoints)
}

/// Samples per smooth segment when looking for sign changes.
const SIGN_SCAN_PER_SEGMENT: usize = 24;

/// The zeros of g on [lo, hi] (g smooth between the sorted `kinks`): each segment is scanned on 24 equal cells and
/// every sign change is located by the Illinois variant of regula falsi to 1e-13 of the cell width. Sign changes
/// inside one cell that cancel out are missed; their contribution to ∫|g| is of the order of the cell's integral.
pub fn error_sign_changes(g: &dyn Fn(f64) -> f64, kinks: &[f64], lo: f64, hi: f64) -> Vec<f64> {
    let mut zeros = Vec::new();
    if !lo.is_finite() || !hi.is_finite() || lo >= hi {
        return zeros;
    }
    let mut s = lo;
    let inner = kinks.iter().copied().filter(|&k| k > lo && k < hi);
    for e in inner.chain(std::iter::once(hi)) {
        if e <= s {
            continue;
        }
        let n = SIGN_SCAN_PER_SEGMENT;
        let h = (e - s) / n as f64;
        // Stay strictly inside the segment so that g is the smooth branch of this segment.
        let at = |i: usize| if i == n { e - 1e-12 * (e - s) } else { s + i as f64 * h };
        let mut xa = at(0);
        let mut ga = g(xa);
        for i in 1..=n {
            let xb = at(i);
            let gb = g(xb);
            if ga == 0.0 {
                zeros.push(xa);
            } else if ga * gb < 0.0 {
                zeros.push(illinois(g, xa, ga, xb, gb));
            }
            xa = xb;
            ga = gb;
        }
        s = e;
    }
    zeros
}

/// Root of g in [a, b] with g(a)·g(b) < 0 by the Illinois method.
fn illinois(g: &dyn Fn(f64) -> f64, mut a: f64, mut ga: f64, mut b: f64, mut gb: f64) -> f64 {
    let tol = 1e-13 * (b - a).abs();
    let mut side = 0i8;
    let mut c = 0.5 * (a + b);
    for _ in 0..60 {
        c = (a * gb - b * ga) / (gb - ga);
        let gc = g(c);
        if gc == 0.0 || (b - a).abs() < tol {
            break;
        }
        if gc * gb > 0.0 {
            b = c;
            gb = gc;
            if side == -1 {
                ga *= 0.5;
            }
            side = -1;
        } else {
            a = c;
            ga = gc;
            if side == 1 {
                gb *= 0.5;
            }
            side = 1;
        }
    }
    c
}

/// Independent check of [`weighted_error`]: trapezoid sum of |f − p|·ρ on `n` equal steps over
/// [F⁻¹(10⁻¹²), F⁻¹(1 − 10⁻¹²)] (mass 2·10⁻¹² left out). For a histogram the steps also cover its bin edges' jumps
/// only to first order, so use n ≥ 10⁵ there.
pub fn weighted_error_dense(f: &dyn Activation, p: &PiecewisePoly, density: &dyn Density, n: usize) -> f64 {
    let (lo, hi) = (density.quantile(1e-12), density.quantile(1.0 - 1e-12));
    let n = n.max(2);
    let h = (hi - lo) / n as f64;
    let mut sum = 0.0;
    for i in 0..=n {
        let x = lo + i as f64 * h;
        let w = if i == 0 || i == n { 0.5 } else { 1.0 };
        sum += w * (f.eval(x) - p.eval(x)).abs() * density.pdf(x);
    }
    sum * h
}

/// Max abs error over the density's central interval holding `mass` (e.g. 0.999).
pub fn max_error_central(f: &dyn Activation, p: &PiecewisePoly, density: &dyn Density, mass: f64) -> f64 {
    let (lo, hi) = density.central_interval(mass);
    max_abs_error(f, p, lo, hi)
}

/// NFGen's error (module docs): max over `n` evenly spaced samples of [lo, hi] of the relative error where
/// |f| ≥ `zero_mask`, the absolute error elsewhere.
pub fn nfgen_relative_error(f: &dyn Fn(f64) -> f64, p: &dyn Fn(f64) -> f64, lo: f64, hi: f64, n: usize, zero_mask: f64) -> f64 {
    let n = n.max(2);
    (0..n)
        .map(|i| {
            let x = lo + (hi - lo) * i as f64 / (n - 1) as f64;
            let (y, yh) = (f(x), p(x));
            if y.abs() >= zero_mask { (yh - y).abs() / y.abs() } else { (yh - y).abs() }
        })
        .fold(0.0, f64::max)
}

/// Every error figure of an approximation, as stored in the JSON format.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ErrorReport {
    /// E_ρ|f − p| over the real line.
    pub weighted: f64,
    /// Max abs error over the density's central 99.9 %.
    pub max_central_999: f64,
    /// Max abs error on the approximation's own range [t_0, t_n].
    pub max_on_range: f64,
    /// Max abs error on [−8, 8] (the density-unaware yardstick).
    pub max_on_pm8: f64,
    /// NFGen relative error on [−8, 8] (1000 samples, zero mask 1e-6).
    pub nfgen_relative_pm8: f64,
    /// E_ρ|f − p_fx| with p_fx the reference fixed-point evaluation ([`crate::EncodedPiecewise::eval`]): the error
    /// secure evaluation shows, truncation rule included (same quadrature; inputs that do not encode use the f64 value).
    pub weighted_fixed: f64,
    /// Fractional bits f of that fixed-point evaluation.
    pub frac_bits: u32,
}

impl ErrorReport {
    /// Measures all figures; the fixed-point one with `fx`.
    pub fn measure(f: &dyn Activation, p: &PiecewisePoly, density: &dyn Density, fx: &FixedPoint) -> Self {
        let (a, b) = p.range();
        let weighted_fixed = weighted_error_fixed(f, p, density, fx);
        ErrorReport {
            weighted_fixed,
            frac_bits: fx.frac_bits,
            weighted: weighted_error(f, p, density),
            max_central_999: max_error_central(f, p, density, 0.999),
            max_on_range: max_abs_error(f, p, a, b),
            max_on_pm8: max_abs_error(f, p, -8.0, 8.0),
            nfgen_relative_pm8: nfgen_relative_error(&|x| f.eval(x), &|x| p.eval(x), -8.0, 8.0, 1000, 1e-6),
        }
    }
}

/// Bound on |fixed-point result − p_s(X)| for the encoded input `x` (X its decoded value, s the segment that the
/// fixed-point comparisons select, p_s that segment's f64 polynomial), with u = 2^−f:
///
/// ```text
///   E_1 = 0,  E_k = |X|^p·E_q + |X|^q·E_p + E_p·E_q + u   (k = p + q by the power tree; floor error < u)
///   bound = (u/2)·Σ_{j≤d} |X|^j        (coefficients rounded to nearest)
///         + Σ_{j≥2} |ĉ_j|·E_j           (ĉ_j the encoded coefficient)
///         + u                           (final floor)
///         + 1e-12·Σ_j |c_j|·|X|^j       (f64 rounding of the reference)
/// ```
///
/// valid when nothing wraps the ring ([`PiecewisePoly::check_fixed_point`] for |X|). Returns (segment, bound).
pub fn fixed_point_error_bound(p: &PiecewisePoly, fx: &FixedPoint, x: i64) -> (usize, f64) {
    let u = 1.0 / fx.scale();
    let xr = fx.decode(x).abs();
    let thresholds: Vec<i64> = p.breakpoints.iter().map(|&t| fx.encode(t).unwrap_or(i64::MAX)).collect();
    let s = thresholds.iter().filter(|&&t| x >= t).count();
    let seg = &p.segments()[s];
    let d = seg.effective_degree();
    let mut e = vec![0.0f64; d.max(1) + 1];
    for k in 2..=d {
        let pk = power_tree_split(k);
        let q = k - pk;
        e[k] = xr.powi(pk as i32) * e[q] + xr.powi(q as i32) * e[pk] + e[pk] * e[q] + u;
    }
    let mut bound = u;
    for (j, &c) in seg.coeffs.iter().enumerate().take(d + 1) {
        let c_hat = fx.encode(c).map(|v| fx.decode(v)).unwrap_or(c);
        bound += 0.5 * u * xr.powi(j as i32) + c_hat.abs() * e[j] + 1e-12 * c.abs() * xr.powi(j as i32);
    }
    (s, bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::density::DensitySpec;
    use crate::{Builtin, Polynomial, Tail};

    fn crude_silu() -> PiecewisePoly {
        // x·HardSigmoid(x) on [−3, 3] — a coarse approximation with visible error everywhere.
        PiecewisePoly::new(
            Tail::Zero,
            vec![-3.0, 3.0],
            vec![Polynomial::new(vec![0.0, 0.5, 1.0 / 6.0])],
            Tail::Identity,
        )
        .unwrap()
    }

    #[test]
    fn weighted_error_matches_dense_grid() {
        let p = crude_silu();
        for spec in ["normal:0,1", "normal:1,2.5", "uniform:-8,8", "mix:0.5@normal:-1,0.5;0.5@uniform:-4,6"] {
            let d: DensitySpec = spec.parse().unwrap();
            let q = weighted_error(&Builtin::Silu, &p, &d);
            let r = weighted_error_dense(&Builtin::Silu, &p, &d, 1_000_000);
            assert!(((q - r) / r).abs() < 1e-4, "{spec}: {q} vs {r}");
        }
    }

    #[test]
    fn max_error_finds_peak() {
        let p = crude_silu();
        let m = max_abs_error(&Builtin::Silu, &p, -8.0, 8.0);
        let brute = (0..=1_600_000).map(|i| -8.0 + i as f64 * 1e-5).map(|x| (Builtin::Silu.eval(x) - p.eval(x)).abs());
        let brute = brute.fold(0.0, f64::max);
        assert!(m >= brute - 1e-12 && m <= brute + 1e-9, "{m} vs {brute}");
    }

    #[test]
    fn nfgen_error_relative_and_absolute() {
        let f = |x: f64| x;
        let p = |x: f64| 1.01 * x;
        let e = nfgen_relative_error(&f, &p, 1.0, 2.0, 11, 1e-6);
        assert!((e - 0.01).abs() < 1e-12);
        let z = nfgen_relative_error(&|_| 0.0, &|_| 1e-3, 0.0, 1.0, 5, 1e-6);
        assert!((z - 1e-3).abs() < 1e-15);
    }
}
