//! Per-piece polynomial fitting: Chebyshev interpolation and density-weighted least squares, then conversion to the
//! monomial form MPC evaluates, with a conditioning check.
//!
//! # Interpolation (the default, as in Compact's code)
//! On [a, b] with t = (2x − a − b)/(b − a), degree d ≥ 1 interpolates f at the d + 1 Chebyshev–Lobatto nodes
//! t_j = cos(jπ/d) (both ends included, so neighbouring pieces agree at their common breakpoint). The Chebyshev
//! coefficients follow from the discrete cosine transform
//! c_k = (2/d)·Σ″_j f(x_j)·cos(jkπ/d) (Σ″: first and last terms halved; c_0 and c_d halved as well), and the
//! interpolant is p(t) = Σ_k c_k T_k(t), evaluated stably by Clenshaw's recurrence. Degree 0 is the value at the
//! midpoint. The interpolant is within (1 + Λ_d) of the best uniform approximation, Λ_d ≤ (2/π)·ln(d + 1) + 1.
//!
//! # Weighted least squares
//! Minimises ∫_a^b w(x)·(f(x) − p(x))² dx, discretised by composite Gauss–Legendre (16 cells × 8 nodes), in the
//! Chebyshev basis (well conditioned), by Cholesky on the normal equations. With w = ρ (the input density) it spends
//! the degrees where the inputs are. The L1 variant ([`ChebSeries::weighted_l1`]) minimises ∫ w·|f − p| — with w = ρ
//! exactly the piece's share of Compact's weighted error — by iteratively reweighted least squares. Both fall back to
//! interpolation when w vanishes on the piece.
//!
//! # Monomial conversion and its conditioning
//! The monomial coefficients m_j in x are obtained exactly (up to rounding) by the recurrence T_0 = 1,
//! T_1 = αx + β, T_{k+1} = 2(αx + β)T_k − T_{k−1} (α = 2/(b − a), β = −(a + b)/(b − a)) in polynomial arithmetic.
//! Evaluating the monomial form on [a, b] loses about log₁₀ κ digits, with
//! κ = Σ_j |m_j|·M^j / max_{nodes}|p|, M = max(|a|, |b|): the ratio between the terms summed and the result. A piece
//! with κ above the limit (default [`DEFAULT_CONDITION_LIMIT`]) is rejected with [`ApproxError::IllConditioned`].

use crate::error::{ApproxError, Result};
use crate::poly::Polynomial;

/// Default limit on κ: evaluation in f64 keeps ≥ 8 significant digits.
pub const DEFAULT_CONDITION_LIMIT: f64 = 1e8;

/// A Chebyshev series on [a, b]: p(x) = Σ_k coeffs_k·T_k((2x − a − b)/(b − a)).
#[derive(Debug, Clone, PartialEq)]
pub struct ChebSeries {
    /// Interval start.
    pub a: f64,
    /// Interval end.
    pub b: f64,
    /// Chebyshev coefficients c_0 … c_d.
    pub coeffs: Vec<f64>,
}

/// How a piece is fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FitMethod {
    /// Chebyshev–Lobatto interpolation.
    #[default]
    Interpolate,
    /// Least squares weighted by the input density.
    WeightedLeastSquares,
    /// Least absolute deviations weighted by the input density (IRLS): minimises the piece's weighted error.
    WeightedL1,
}

fn check_interval(a: f64, b: f64, degree: usize) -> Result<()> {
    if !(a.is_finite() && b.is_finite()) || a >= b {
        return Err(ApproxError::InvalidParameter {
            name: "piece interval",
            value: format!("[{a}, {b}] (degree {degree})"),
            hint: "need finite a < b",
        });
    }
    Ok(())
}

/// The d + 1 Chebyshev–Lobatto nodes x_j = (a + b)/2 + (b − a)/2·cos(jπ/d) on [a, b] (decreasing; the midpoint for
/// d = 0).
pub fn lobatto_nodes(a: f64, b: f64, degree: usize) -> Vec<f64> {
    let (c, h) = (0.5 * (a + b), 0.5 * (b - a));
    if degree == 0 {
        return vec![c];
    }
    (0..=degree)
        .map(|j| {
            // Exact ends, symmetric interior.
            if j == 0 {
                b
            } else if j == degree {
                a
            } else {
                c + h * (std::f64::consts::PI * j as f64 / degree as f64).cos()
            }
        })
        .collect()
}

impl ChebSeries {
    /// Interpolates f at the Chebyshev–Lobatto nodes of [a, b] (module docs).
    pub fn interpolate(f: &dyn Fn(f64) -> f64, a: f64, b: f64, degree: usize) -> Result<Self> {
        check_interval(a, b, degree)?;
        let nodes = lobatto_nodes(a, b, degree);
        let vals: Vec<f64> = nodes.iter().map(|&x| f(x)).collect();
        if let Some(i) = vals.iter().position(|v| !v.is_finite()) {
            return Err(ApproxError::InvalidParameter {
                name: "function value",
                value: format!("f({}) = {}", nodes[i], vals[i]),
                hint: "the function must be finite on the piece",
            });
        }
        if degree == 0 {
            return Ok(ChebSeries { a, b, coeffs: vals });
        }
        let d = degree as f64;
        let coeffs = (0..=degree)
            .map(|k| {
                let s: f64 = (0..=degree)
                    .map(|j| {
                        let w = if j == 0 || j == degree { 0.5 } else { 1.0 };
                        w * vals[j] * (std::f64::consts::PI * (j * k) as f64 / d).cos()
                    })
                    .sum();
                let ck = 2.0 / d * s;
                if k == 0 || k == degree { 0.5 * ck } else { ck }
            })
            .collect();
        Ok(ChebSeries { a, b, coeffs })
    }

    /// Least squares with weight w on [a, b] (module docs).
    pub fn weighted_least_squares(
        f: &dyn Fn(f64) -> f64,
        w: &dyn Fn(f64) -> f64,
        a: f64,
        b: f64,
        degree: usize,
    ) -> Result<Self> {
        check_interval(a, b, degree)?;
        let samples = LsSamples::new(f, w, a, b, degree);
        match samples.solve(&samples.w) {
            Some(coeffs) => Ok(ChebSeries { a, b, coeffs }),
            None => ChebSeries::interpolate(f, a, b, degree),
        }
    }

    /// Weighted least absolute deviations, min ∫_a^b w·|f − p|, by iteratively reweighted least squares:
    /// start from [`ChebSeries::weighted_least_squares`], then 12 times solve the least-squares problem with weights
    /// w(x)/max(|f(x) − p(x)|, δ), δ = 10⁻⁹·max|f| (module docs). With w = ρ this minimises the piece's share of
    /// Compact's weighted error E_ρ|f − p| directly.
    pub fn weighted_l1(f: &dyn Fn(f64) -> f64, w: &dyn Fn(f64) -> f64, a: f64, b: f64, degree: usize) -> Result<Self> {
        check_interval(a, b, degree)?;
        let samples = LsSamples::new(f, w, a, b, degree);
        let Some(mut coeffs) = samples.solve(&samples.w) else {
            return ChebSeries::interpolate(f, a, b, degree);
        };
        let delta = 1e-9 * samples.fx.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
        let mut best = (samples.l1(&coeffs), coeffs.clone());
        for _ in 0..IRLS_ITERATIONS {
            let wk: Vec<f64> = samples
                .w
                .iter()
                .zip(samples.residuals(&coeffs))
                .map(|(&wi, r)| wi / r.abs().max(delta))
                .collect();
            let Some(next) = samples.solve(&wk) else { break };
            coeffs = next;
            let l1 = samples.l1(&coeffs);
            if l1 < best.0 {
                best = (l1, coeffs.clone());
            }
        }
        Ok(ChebSeries { a, b, coeffs: best.1 })
    }

    /// Degree (number of coefficients − 1).
    pub fn degree(&self) -> usize {
        self.coeffs.len() - 1
    }

    /// p(x) by Clenshaw's recurrence.
    pub fn eval(&self, x: f64) -> f64 {
        let t = (2.0 * x - self.a - self.b) / (self.b - self.a);
        let (mut b1, mut b2) = (0.0, 0.0);
        for &c in self.coeffs.iter().skip(1).rev() {
            let b0 = 2.0 * t * b1 - b2 + c;
            b2 = b1;
            b1 = b0;
        }
        t * b1 - b2 + self.coeffs[0]
    }

    /// Monomial coefficients in x, without the conditioning check.
    pub fn monomial_coeffs(&self) -> Vec<f64> {
        let d = self.degree();
        let alpha = 2.0 / (self.b - self.a);
        let beta = -(self.a + self.b) / (self.b - self.a);
        let mut out = vec![0.0; d + 1];
        let mut t_prev = vec![1.0];
        out[0] += self.coeffs[0];
        if d == 0 {
            return out;
        }
        let mut t_cur = vec![beta, alpha];
        for (j, v) in t_cur.iter().enumerate() {
            out[j] += self.coeffs[1] * v;
        }
        for k in 2..=d {
            // T_k = 2(αx + β)·T_{k−1} − T_{k−2}
            let mut next = vec![0.0; k + 1];
            for (j, &v) in t_cur.iter().enumerate() {
                next[j] += 2.0 * beta * v;
                next[j + 1] += 2.0 * alpha * v;
            }
            for (j, &v) in t_prev.iter().enumerate() {
                next[j] -= v;
            }
            for (j, v) in next.iter().enumerate() {
                out[j] += self.coeffs[k] * v;
            }
            t_prev = t_cur;
            t_cur = next;
        }
        out
    }

    /// κ of the monomial form on [a, b] (module docs).
    pub fn condition(&self, monomial: &[f64]) -> f64 {
        let m = self.a.abs().max(self.b.abs());
        let terms: f64 = monomial.iter().enumerate().map(|(j, c)| c.abs() * m.powi(j as i32)).sum();
        let scale = lobatto_nodes(self.a, self.b, self.degree().max(1))
            .iter()
            .map(|&x| self.eval(x).abs())
            .fold(0.0, f64::max);
        if terms == 0.0 {
            1.0
        } else {
            terms / scale.max(f64::MIN_POSITIVE)
        }
    }

    /// The monomial form, rejected with [`ApproxError::IllConditioned`] when κ > `limit`.
    pub fn to_monomial(&self, limit: f64) -> Result<Polynomial> {
        let m = self.monomial_coeffs();
        let kappa = self.condition(&m);
        if !kappa.is_finite() || kappa > limit {
            return Err(ApproxError::IllConditioned {
                degree: self.degree(),
                a: self.a,
                b: self.b,
                condition: kappa,
                limit,
            });
        }
        Ok(Polynomial::new(m))
    }
}

/// Cells of the composite Gauss–Legendre rule (8 nodes each) used by the least-squares fits.
const LS_CELLS: usize = 16;
/// Reweighting steps of the L1 fit.
const IRLS_ITERATIONS: usize = 12;

/// Quadrature samples of a piece for the least-squares fits: [`LS_CELLS`] equal cells × 8 Gauss–Legendre nodes.
struct LsSamples {
    /// T_k(t_i) per node (row-major, n per node).
    basis: Vec<f64>,
    fx: Vec<f64>,
    /// Quadrature weight × w(x_i).
    w: Vec<f64>,
    n: usize,
}

impl LsSamples {
    fn new(f: &dyn Fn(f64) -> f64, w: &dyn Fn(f64) -> f64, a: f64, b: f64, degree: usize) -> Self {
        let n = degree + 1;
        let rule = crate::quad::gl8();
        let cells = LS_CELLS;
        let mut basis = Vec::new();
        let (mut fx, mut ws) = (Vec::new(), Vec::new());
        let mut tv = vec![0.0; n];
        for c in 0..cells {
            let lo = -1.0 + 2.0 * c as f64 / cells as f64;
            let h = 1.0 / cells as f64;
            for (&t0, &gw) in rule.nodes.iter().zip(&rule.weights) {
                let t = lo + h * (t0 + 1.0);
                let x = 0.5 * (a + b) + 0.5 * (b - a) * t;
                cheb_basis(t, &mut tv);
                basis.extend_from_slice(&tv);
                fx.push(f(x));
                ws.push(h * gw * w(x).max(0.0));
            }
        }
        LsSamples { basis, fx, w: ws, n }
    }

    fn residuals(&self, coeffs: &[f64]) -> impl Iterator<Item = f64> + '_ {
        let c = coeffs.to_vec();
        self.basis.chunks(self.n).zip(&self.fx).map(move |(row, &y)| y - row.iter().zip(&c).map(|(t, k)| t * k).sum::<f64>())
    }

    fn l1(&self, coeffs: &[f64]) -> f64 {
        self.residuals(coeffs).zip(&self.w).map(|(r, w)| w * r.abs()).sum()
    }

    /// Weighted normal equations in the Chebyshev basis, solved by Cholesky (tiny ridge); None if degenerate.
    fn solve(&self, weights: &[f64]) -> Option<Vec<f64>> {
        let n = self.n;
        let wsum: f64 = weights.iter().sum();
        if wsum.is_nan() || wsum <= 1e-300 || !wsum.is_finite() {
            return None;
        }
        let mut gram = vec![vec![0.0; n]; n];
        let mut rhs = vec![0.0; n];
        for ((row, &y), &wi) in self.basis.chunks(n).zip(&self.fx).zip(weights) {
            if wi == 0.0 {
                continue;
            }
            for k in 0..n {
                rhs[k] += wi * y * row[k];
                for l in 0..=k {
                    gram[k][l] += wi * row[k] * row[l];
                }
            }
        }
        // Mirror the lower triangle into the upper one.
        for k in 0..n {
            let (upper, lower) = gram.split_at_mut(k + 1);
            for (l, row) in lower.iter().enumerate() {
                upper[k][k + 1 + l] = row[k];
            }
        }
        let ridge = 1e-13 * (0..n).map(|k| gram[k][k]).sum::<f64>() / n as f64;
        for (k, row) in gram.iter_mut().enumerate() {
            row[k] += ridge;
        }
        cholesky_solve(&gram, &rhs)
    }
}

/// T_0(t) … T_{n−1}(t) into `out`.
fn cheb_basis(t: f64, out: &mut [f64]) {
    for k in 0..out.len() {
        out[k] = match k {
            0 => 1.0,
            1 => t,
            _ => 2.0 * t * out[k - 1] - out[k - 2],
        };
    }
}

/// Solves the symmetric positive definite system A·x = b; None if A is not positive definite.
fn cholesky_solve(a: &[Vec<f64>], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = a[i][i] - s;
                if d <= 0.0 || !d.is_finite() {
                    return None;
                }
                l[i][i] = d.sqrt();
            } else {
                l[i][j] = (a[i][j] - s) / l[j][j];
            }
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        y[i] = (b[i] - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>()) / l[i][i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        x[i] = (y[i] - (i + 1..n).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
    }
    Some(x)
}

/// Fits one piece of f on [a, b] with the given method and returns its monomial form (conditioning-checked).
/// `weight` is used only by [`FitMethod::WeightedLeastSquares`].
pub fn fit_piece(
    f: &dyn Fn(f64) -> f64,
    weight: &dyn Fn(f64) -> f64,
    a: f64,
    b: f64,
    degree: usize,
    method: FitMethod,
    condition_limit: f64,
) -> Result<Polynomial> {
    let series = match method {
        FitMethod::Interpolate => ChebSeries::interpolate(f, a, b, degree)?,
        FitMethod::WeightedLeastSquares => ChebSeries::weighted_least_squares(f, weight, a, b, degree)?,
        FitMethod::WeightedL1 => ChebSeries::weighted_l1(f, weight, a, b, degree)?,
    };
    series.to_monomial(condition_limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Activation, Builtin};

    #[test]
    fn interpolation_reproduces_polynomials() {
        let f = |x: f64| 1.0 - 2.0 * x + 0.5 * x.powi(3);
        let s = ChebSeries::interpolate(&f, -1.5, 2.5, 3).unwrap();
        let m = s.to_monomial(DEFAULT_CONDITION_LIMIT).unwrap();
        for (got, want) in m.coeffs.iter().zip([1.0, -2.0, 0.0, 0.5]) {
            assert!((got - want).abs() < 1e-12, "{:?}", m.coeffs);
        }
    }

    #[test]
    fn interpolation_converges_for_silu() {
        let f = |x: f64| Builtin::Silu.eval(x);
        let err = |d| {
            let s = ChebSeries::interpolate(&f, -4.0, 4.0, d).unwrap();
            (0..=800).map(|i| -4.0 + i as f64 * 0.01).map(|x| (s.eval(x) - f(x)).abs()).fold(0.0, f64::max)
        };
        assert!(err(8) < err(4) && err(12) < err(8) && err(12) < 1e-3, "{} {} {}", err(4), err(8), err(12));
    }

    #[test]
    fn weighted_ls_prefers_the_heavy_region() {
        let f = |x: f64| Builtin::Gelu.eval(x);
        let w = |x: f64| (-0.5 * x * x).exp();
        let ls = ChebSeries::weighted_least_squares(&f, &w, -6.0, 6.0, 4).unwrap();
        let ip = ChebSeries::interpolate(&f, -6.0, 6.0, 4).unwrap();
        let werr = |s: &ChebSeries| (0..=1200).map(|i| -6.0 + i as f64 * 0.01).map(|x| (s.eval(x) - f(x)).powi(2) * w(x)).sum::<f64>();
        assert!(werr(&ls) < werr(&ip));
    }

    #[test]
    fn ill_conditioned_pieces_are_rejected() {
        let f = |x: f64| x.sin();
        let s = ChebSeries::interpolate(&f, 40.0, 41.0, 9).unwrap();
        let e = s.to_monomial(1e8).unwrap_err().to_string();
        assert!(e.contains("ill-conditioned") && e.contains("degree 9"), "{e}");
    }
}
