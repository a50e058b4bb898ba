//! Gauss–Legendre quadrature, the integration rule behind [`crate::metrics`] and [`crate::density::Density::expect`].
//!
//! The n-point rule integrates polynomials of degree ≤ 2n − 1 exactly on [−1, 1]:
//! ∫_{−1}^{1} g(t) dt ≈ Σ_i w_i g(t_i), with t_i the roots of the Legendre polynomial P_n and
//! w_i = 2 / ((1 − t_i²) P_n′(t_i)²). Nodes are found by Newton's method from the Chebyshev-like guess
//! cos(π(i − 1/4)/(n + 1/2)) and cached per order. Composite use: split [a, b] into subintervals (at every kink of the
//! integrand, and no wider than a stated width) and apply the rule on each.

use std::sync::OnceLock;

/// Nodes and weights of the n-point Gauss–Legendre rule on [−1, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct GaussLegendre {
    /// Nodes t_i, increasing.
    pub nodes: Vec<f64>,
    /// Weights w_i (sum 2).
    pub weights: Vec<f64>,
}

impl GaussLegendre {
    /// Computes the n-point rule (n ≥ 1) by Newton iteration on P_n.
    pub fn new(n: usize) -> Self {
        let n = n.max(1);
        let mut nodes = vec![0.0; n];
        let mut weights = vec![0.0; n];
        for i in 0..n.div_ceil(2) {
            let mut t = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
            let mut dp = 1.0;
            for _ in 0..100 {
                let (p, d) = legendre(n, t);
                dp = d;
                let dt = p / d;
                t -= dt;
                if dt.abs() < 1e-16 {
                    break;
                }
            }
            let (_, d) = legendre(n, t);
            dp = if d != 0.0 { d } else { dp };
            let w = 2.0 / ((1.0 - t * t) * dp * dp);
            nodes[i] = -t;
            nodes[n - 1 - i] = t;
            weights[i] = w;
            weights[n - 1 - i] = w;
        }
        GaussLegendre { nodes, weights }
    }

    /// ∫_a^b g(x) dx by this rule on the single interval [a, b].
    pub fn integrate(&self, a: f64, b: f64, g: &dyn Fn(f64) -> f64) -> f64 {
        let (h, c) = (0.5 * (b - a), 0.5 * (a + b));
        h * self.nodes.iter().zip(&self.weights).map(|(&t, &w)| w * g(c + h * t)).sum::<f64>()
    }

    /// Composite rule: ∫_a^b g, split at every point of `splits` inside (a, b) and into pieces no wider than
    /// `max_width`.
    pub fn integrate_composite(&self, a: f64, b: f64, splits: &[f64], max_width: f64, g: &dyn Fn(f64) -> f64) -> f64 {
        if b <= a {
            return 0.0;
        }
        let mut total = 0.0;
        let mut lo = a;
        let inner = splits.iter().copied().filter(|&s| s > a && s < b);
        for hi in inner.chain(std::iter::once(b)) {
            if hi <= lo {
                continue;
            }
            let n_sub = if max_width > 0.0 { ((hi - lo) / max_width).ceil().max(1.0) as usize } else { 1 };
            let w = (hi - lo) / n_sub as f64;
            for k in 0..n_sub {
                let s = lo + k as f64 * w;
                let e = if k + 1 == n_sub { hi } else { s + w };
                total += self.integrate(s, e, g);
            }
            lo = hi;
        }
        total
    }
}

/// (P_n(t), P_n′(t)) by the three-term recurrence.
fn legendre(n: usize, t: f64) -> (f64, f64) {
    let (mut p0, mut p1) = (1.0, t);
    for k in 2..=n {
        let p2 = ((2 * k - 1) as f64 * t * p1 - (k - 1) as f64 * p0) / k as f64;
        p0 = p1;
        p1 = p2;
    }
    if n == 0 {
        return (1.0, 0.0);
    }
    let d = n as f64 * (t * p1 - p0) / (t * t - 1.0);
    (p1, d)
}

/// The cached 8-point rule.
pub fn gl8() -> &'static GaussLegendre {
    static R: OnceLock<GaussLegendre> = OnceLock::new();
    R.get_or_init(|| GaussLegendre::new(8))
}

/// The cached 16-point rule.
pub fn gl16() -> &'static GaussLegendre {
    static R: OnceLock<GaussLegendre> = OnceLock::new();
    R.get_or_init(|| GaussLegendre::new(16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_for_polynomials_up_to_2n_minus_1() {
        let r = GaussLegendre::new(8);
        assert!((r.weights.iter().sum::<f64>() - 2.0).abs() < 1e-14);
        // ∫_{-1}^{2} x^15 dx = (2^16 − 1)/16
        let v = r.integrate(-1.0, 2.0, &|x: f64| x.powi(15));
        assert!((v - (65536.0 - 1.0) / 16.0).abs() < 1e-9 * v.abs(), "{v}");
    }

    #[test]
    fn composite_handles_kinks() {
        let v = gl8().integrate_composite(-1.0, 2.0, &[0.0], 0.5, &|x: f64| x.abs());
        assert!((v - 2.5).abs() < 1e-13, "{v}");
    }
}
