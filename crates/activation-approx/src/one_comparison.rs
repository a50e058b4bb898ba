//! One-comparison approximations: two tails and no core piece,
//!
//! ```text
//!   p(x) = c₁            for x < t
//!   p(x) = a·x + c₂      for x ≥ t
//! ```
//!
//! evaluated securely as one comparison b = [x ≥ t] and one selection b ? (a·x + c₂) : c₁ (CrypTen-style `mux`,
//! one multiplication): the cheapest structure that can follow a SiLU/GELU/Mish-shaped curve at all (a ReLU swap is
//! the special case t = 0, c₁ = c₂ = 0, a = 1). With a = 1 the linear part is free (x + c₂, no truncation); with a
//! fitted slope it costs one local truncation more. The smallest piecewise polynomials of
//! [`crate::search`] have a core piece between the tails and so at least two comparisons; these forms extend the
//! candidate set of the runner's accuracy-constrained search below them.
//!
//! Fit ([`fit`]): weighted least squares under the input density ρ on a grid of [q(10⁻⁴), q(1 − 10⁻⁴)] (q the
//! quantile function, clamped to |x| ≤ 16): for every threshold t of the grid, c₁ = E_ρ[f | x < t] and (a, c₂) the
//! ρ-weighted linear regression of f on x ≥ t (or c₂ = E_ρ[f − x | x ≥ t] for a = 1); the t with the smallest
//! weighted squared error is kept.

use crate::activation::Activation;
use crate::Polynomial;
use crate::error::Result;
use crate::published::Spline;
use crate::density::Density;

/// A fitted one-comparison approximation (module docs), usable as a secure method named `compact`.
#[derive(Debug, Clone, PartialEq)]
pub struct OneComparison {
    /// Activation approximated.
    pub activation: String,
    /// Threshold t.
    pub t: f64,
    /// Constant below t.
    pub c1: f64,
    /// Slope above t (exactly 1.0 for the unit-slope form).
    pub a: f64,
    /// Offset above t.
    pub c2: f64,
    /// Citation text (fit and source).
    pub citation: String,
}

impl OneComparison {
    /// Whether the slope is exactly one (the linear part x + c₂ needs no truncation).
    pub fn unit_slope(&self) -> bool {
        self.a == 1.0
    }
}

impl OneComparison {
    /// The approximation as a spline with one threshold t: c₁ below, a·x + c₂ at and above (the secure methods
    /// evaluate it like every spline: one comparison, one selection, and for a ≠ 1 one truncation).
    pub fn spline(&self) -> Result<Spline> {
        Spline::new(vec![self.t], vec![Polynomial::new(vec![self.c1]), Polynomial::new(vec![self.c2, self.a])])
    }
    /// The f64 value at x.
    pub fn eval_f64(&self, x: f64) -> f64 {
        if x < self.t { self.c1 } else { self.a * x + self.c2 }
    }
}

/// Grid points of the fit.
const GRID: usize = 2001;
/// Thresholds tried.
const THRESHOLDS: usize = 241;

/// Fits the one-comparison form of `f` under `density` (module docs); `unit_slope` fixes a = 1.
pub fn fit(f: &dyn Activation, name: &str, density: &dyn Density, unit_slope: bool) -> OneComparison {
    let lo = density.quantile(1e-4).clamp(-16.0, 16.0);
    let hi = density.quantile(1.0 - 1e-4).clamp(-16.0, 16.0);
    let (lo, hi) = if hi > lo { (lo, hi) } else { (-8.0, 8.0) };
    let dx = (hi - lo) / (GRID - 1) as f64;
    let xs: Vec<f64> = (0..GRID).map(|i| lo + i as f64 * dx).collect();
    let ws: Vec<f64> = xs.iter().map(|&x| density.pdf(x).max(0.0)).collect();
    let ys: Vec<f64> = xs.iter().map(|&x| f.eval(x)).collect();
    let mut best: Option<(f64, OneComparison)> = None;
    for k in 1..THRESHOLDS - 1 {
        let t = lo + (hi - lo) * k as f64 / (THRESHOLDS - 1) as f64;
        // Sums below and above t, in index order (deterministic).
        let (mut w0, mut s0) = (0.0, 0.0);
        let (mut w1, mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for ((&x, &w), &y) in xs.iter().zip(&ws).zip(&ys) {
            if x < t {
                w0 += w;
                s0 += w * y;
            } else {
                w1 += w;
                sx += w * x;
                sy += w * y;
                sxx += w * x * x;
                sxy += w * x * y;
            }
        }
        if w0 <= 0.0 || w1 <= 0.0 {
            continue;
        }
        let c1 = s0 / w0;
        let (a, c2) = if unit_slope {
            (1.0, (sy - sx) / w1)
        } else {
            let var = sxx / w1 - (sx / w1).powi(2);
            if var <= 1e-12 {
                continue;
            }
            let a = (sxy / w1 - sx / w1 * sy / w1) / var;
            (a, sy / w1 - a * sx / w1)
        };
        let err: f64 = xs
            .iter()
            .zip(&ws)
            .zip(&ys)
            .map(|((&x, &w), &y)| {
                let p = if x < t { c1 } else { a * x + c2 };
                w * (y - p) * (y - p)
            })
            .sum();
        if best.as_ref().is_none_or(|(e, _)| err < *e) {
            let citation = format!(
                "Compact one-comparison form (this project): weighted least squares under the input density, {}",
                if unit_slope { "unit slope" } else { "fitted slope" }
            );
            best = Some((err, OneComparison { activation: name.into(), t, c1, a, c2, citation }));
        }
    }
    best.map(|b| b.1).unwrap_or(OneComparison {
        activation: name.into(),
        t: 0.0,
        c1: 0.0,
        a: 1.0,
        c2: 0.0,
        citation: "Compact one-comparison form: ReLU (the density left no threshold to fit)".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ActivationRegistry, Normal};

    #[test]
    fn relu_is_fitted_exactly_as_a_one_threshold_spline() {
        let relu = ActivationRegistry::builtin().get("relu").unwrap();
        let n = Normal::new(0.0, 1.0).unwrap();
        let m = fit(relu.as_ref(), "relu", &n, true);
        assert!(m.t.abs() < 0.05 && m.c1.abs() < 1e-9 && m.c2.abs() < 0.05, "{m:?}");
        for x in [-3.0, -0.5, 0.5, 2.0] {
            assert!((m.eval_f64(x) - x.max(0.0)).abs() < 0.06, "x = {x}: {}", m.eval_f64(x));
        }
        let sp = m.spline().unwrap();
        assert_eq!(sp.thresholds.len(), 1, "one comparison");
        for x in [-3.0, -0.5, 0.5, 2.0] {
            assert_eq!(sp.eval(x), m.eval_f64(x));
        }
    }

    #[test]
    fn silu_fit_beats_the_relu_swap_under_its_density() {
        let silu = ActivationRegistry::builtin().get("silu").unwrap();
        let n = Normal::new(0.0, 1.0).unwrap();
        for unit in [true, false] {
            let m = fit(silu.as_ref(), "silu", &n, unit);
            let err = |g: &dyn Fn(f64) -> f64| -> f64 {
                (0..400).map(|i| -4.0 + i as f64 * 0.02).map(|x| n.pdf(x) * (silu.eval(x) - g(x)).powi(2)).sum()
            };
            assert!(err(&|x| m.eval_f64(x)) < err(&|x: f64| x.max(0.0)), "unit slope {unit}: {m:?}");
            assert_eq!(m.unit_slope(), unit);
        }
    }
}
