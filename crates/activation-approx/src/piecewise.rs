//! Piecewise polynomials with tails: the object Compact searches for, every baseline spline is, and mpc-sim evaluates.
//!
//! With breakpoints t_0 < t_1 < … < t_n (n ≥ 1) the function is
//!
//! ```text
//!   left tail        for x < t_0
//!   pieces[i](x)     for t_i ≤ x < t_{i+1}      (i = 0 … n−1)
//!   right tail       for x ≥ t_n
//! ```
//!
//! so it has n + 2 *segments* (tails included) and n + 1 *thresholds*, each costing one secure comparison.
//!
//! # Fixed-point evaluation (the reference that secure evaluation must reproduce)
//! With x the encoding of the input ([`FixedPoint`]):
//! 1. segment index s = #{i : x ≥ enc(t_i)} (comparisons of ring elements as signed integers);
//! 2. powers x^0 … x^d by the power tree of [`FixedPoint::powers`], d the largest effective degree of any segment;
//! 3. Y_s = enc(c_0)·2^f + Σ_{j≥1} enc(c_j)·x^j, wrapping, at scale 2f (coefficients applied locally);
//! 4. result = Y_s >> f (one truncation, floor).
//!
//! Securely, all Y_i are formed locally from shared powers and the selection Y_0 + Σ b_i·(Y_i − Y_{i−1}) with
//! b_i = [x ≥ t_{i−1}] is exact in the ring, so the secure result differs from this only by the truncation errors
//! described in [`crate::fixed`].

use serde::{Deserialize, Serialize};

use crate::activation::Tail;
use crate::error::{ApproxError, Result};
use crate::fixed::FixedPoint;
use crate::poly::Polynomial;

/// A piecewise polynomial with linear-or-constant tails. Build with [`PiecewisePoly::new`], which validates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PiecewisePoly {
    /// Used for x < breakpoints[0].
    pub left: Tail,
    /// Sorted, strictly increasing, finite; at least two (one central piece).
    pub breakpoints: Vec<f64>,
    /// `breakpoints.len() − 1` polynomials; piece i holds on [t_i, t_{i+1}).
    pub pieces: Vec<Polynomial>,
    /// Used for x ≥ the last breakpoint.
    pub right: Tail,
}

impl PiecewisePoly {
    /// Builds and validates: ≥ 2 finite strictly increasing breakpoints, one piece per interval, finite coefficients.
    pub fn new(left: Tail, breakpoints: Vec<f64>, pieces: Vec<Polynomial>, right: Tail) -> Result<Self> {
        let pp = PiecewisePoly { left, breakpoints, pieces, right };
        pp.validate()?;
        Ok(pp)
    }

    /// Checks the invariants listed on [`PiecewisePoly::new`].
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(ApproxError::InvalidPiecewise(msg));
        if self.breakpoints.len() < 2 {
            return bad(format!("{} breakpoints; need at least 2", self.breakpoints.len()));
        }
        if let Some(t) = self.breakpoints.iter().find(|t| !t.is_finite()) {
            return bad(format!("breakpoint {t} is not finite"));
        }
        if let Some(w) = self.breakpoints.windows(2).find(|w| w[0] >= w[1]) {
            return bad(format!("breakpoints not strictly increasing at {} ≥ {}", w[0], w[1]));
        }
        if self.pieces.len() + 1 != self.breakpoints.len() {
            return bad(format!(
                "{} pieces for {} breakpoints; need exactly one piece per interval ({})",
                self.pieces.len(),
                self.breakpoints.len(),
                self.breakpoints.len() - 1
            ));
        }
        for (i, p) in self.pieces.iter().enumerate() {
            if let Some(c) = p.coeffs.iter().find(|c| !c.is_finite()) {
                return bad(format!("piece {i} has non-finite coefficient {c}"));
            }
        }
        for (side, tail) in [("left", &self.left), ("right", &self.right)] {
            let (a, b) = tail.slope_intercept();
            if !a.is_finite() || !b.is_finite() {
                return bad(format!("{side} tail {tail:?} is not finite"));
            }
        }
        Ok(())
    }

    /// The central range [t_0, t_n].
    pub fn range(&self) -> (f64, f64) {
        (self.breakpoints[0], self.breakpoints[self.breakpoints.len() - 1])
    }

    /// Number of central pieces (tails not counted).
    pub fn n_pieces(&self) -> usize {
        self.pieces.len()
    }

    /// Number of secure comparisons: one per breakpoint.
    pub fn n_comparisons(&self) -> usize {
        self.breakpoints.len()
    }

    /// All segments as polynomials: left tail, the pieces, right tail.
    pub fn segments(&self) -> Vec<Polynomial> {
        let mut segs = Vec::with_capacity(self.pieces.len() + 2);
        segs.push(self.left.to_polynomial());
        segs.extend(self.pieces.iter().cloned());
        segs.push(self.right.to_polynomial());
        segs
    }

    /// The largest effective degree over all segments (tails included): the powers MPC must compute.
    pub fn max_degree(&self) -> usize {
        self.segments().iter().map(Polynomial::effective_degree).max().unwrap_or(0)
    }

    /// Index of the segment holding x (0 = left tail, n+1 = right tail).
    pub fn segment_index(&self, x: f64) -> usize {
        self.breakpoints.partition_point(|&t| t <= x)
    }

    /// Value at x in f64.
    pub fn eval(&self, x: f64) -> f64 {
        let s = self.segment_index(x);
        if s == 0 {
            self.left.eval(x)
        } else if s == self.breakpoints.len() {
            self.right.eval(x)
        } else {
            self.pieces[s - 1].eval(x)
        }
    }

    /// Checks that no intermediate of the fixed-point evaluation can overflow the ring for |x| ≤ `max_abs`:
    /// x^d·2^(2f) and every |c_j|·|x|^j·2^(2f) must stay below 2^62 (one bit of headroom for the sums).
    pub fn check_fixed_point(&self, fx: &FixedPoint, max_abs: f64) -> Result<()> {
        let f = fx.frac_bits as f64;
        let m = max_abs.max(1.0);
        let d = self.max_degree();
        let mut needed = d as f64 * m.log2() + 2.0 * f;
        for seg in self.segments() {
            for (j, &c) in seg.coeffs.iter().enumerate() {
                if c != 0.0 {
                    needed = needed.max(c.abs().max(1.0).log2() + j as f64 * m.log2() + 2.0 * f);
                }
            }
        }
        let needed_bits = needed.ceil() as u32 + 1;
        if needed_bits > 63 {
            return Err(ApproxError::DegreeOverflow { degree: d, max_abs, frac_bits: fx.frac_bits, needed_bits });
        }
        Ok(())
    }

    /// Encodes every threshold and coefficient once, for fast repeated fixed-point evaluation.
    pub fn encode(&self, fx: &FixedPoint) -> Result<EncodedPiecewise> {
        let thresholds = self.breakpoints.iter().map(|&t| fx.encode(t)).collect::<Result<Vec<_>>>()?;
        let segments = self
            .segments()
            .iter()
            .map(|s| {
                let d = s.effective_degree();
                s.coeffs[..=d].iter().map(|&c| fx.encode(c)).collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(EncodedPiecewise { fx: *fx, thresholds, segments, max_degree: self.max_degree() })
    }

    /// Fixed-point value at x (see the module docs), decoded back to f64. Encodes on every call; use
    /// [`PiecewisePoly::encode`] for batches.
    pub fn eval_fixed(&self, fx: &FixedPoint, x: f64) -> Result<f64> {
        let enc = self.encode(fx)?;
        Ok(fx.decode(enc.eval(fx.encode(x)?)))
    }
}

/// A [`PiecewisePoly`] with its thresholds and coefficients encoded in fixed point.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedPiecewise {
    /// The fixed-point parameters used.
    pub fx: FixedPoint,
    /// enc(t_0) … enc(t_n).
    pub thresholds: Vec<i64>,
    /// Encoded coefficients of every segment (left tail, pieces, right tail), trailing zeros dropped.
    pub segments: Vec<Vec<i64>>,
    /// Largest degree over the segments.
    pub max_degree: usize,
}

impl EncodedPiecewise {
    /// The reference fixed-point evaluation of an encoded input (module docs, steps 1–4).
    pub fn eval(&self, x: i64) -> i64 {
        let s = self.thresholds.iter().filter(|&&t| x >= t).count();
        let pows = self.fx.powers(x, self.segments[s].len() - 1);
        self.fx.truncate(self.accumulate(s, &pows))
    }

    /// `need[k]`: some segment has a nonzero encoded coefficient of x^k (k ≥ 2; entries 0 and 1 false). A term whose
    /// coefficient encodes to 0 contributes nothing, so its power is never built.
    pub fn used_powers(&self) -> Vec<bool> {
        let mut need = vec![false; self.max_degree + 1];
        for s in &self.segments {
            for (j, &c) in s.iter().enumerate().skip(2) {
                if c != 0 {
                    need[j] = true;
                }
            }
        }
        need
    }

    /// The coefficient differences Y_{i+1} − Y_i (ring values, wrapping) that the secure selection multiplies by
    /// \[x ≥ t_i\].
    pub fn segment_difference(&self, i: usize) -> Vec<i64> {
        let (hi, lo) = (&self.segments[i + 1], &self.segments[i]);
        (0..hi.len().max(lo.len()))
            .map(|j| hi.get(j).copied().unwrap_or(0).wrapping_sub(lo.get(j).copied().unwrap_or(0)))
            .collect()
    }

    /// Y_s at scale 2f: enc(c_0)·2^f + Σ_{j≥1} enc(c_j)·x^j (wrapping), given x^0 … x^d.
    pub fn accumulate(&self, segment: usize, pows: &[i64]) -> i64 {
        self.segments[segment]
            .iter()
            .zip(pows)
            .fold(0i64, |acc, (&c, &p)| acc.wrapping_add(c.wrapping_mul(p)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relu_like() -> PiecewisePoly {
        PiecewisePoly::new(
            Tail::Zero,
            vec![-1.0, 1.0],
            vec![Polynomial::new(vec![0.25, 0.5, 0.25])],
            Tail::Identity,
        )
        .unwrap()
    }

    #[test]
    fn eval_by_segment() {
        let p = relu_like();
        assert_eq!(p.eval(-2.0), 0.0);
        assert_eq!(p.eval(-1.0), 0.0);
        assert_eq!(p.eval(0.0), 0.25);
        assert_eq!(p.eval(1.0), 1.0);
        assert_eq!(p.eval(3.0), 3.0);
        assert_eq!(p.n_comparisons(), 2);
        assert_eq!(p.max_degree(), 2);
    }

    #[test]
    fn fixed_matches_f64_within_lsbs() {
        let p = relu_like();
        let fx = FixedPoint::default();
        for i in -300..300 {
            let x = i as f64 / 97.0;
            let d = (p.eval_fixed(&fx, x).unwrap() - p.eval(x)).abs();
            assert!(d <= 4.0 / fx.scale(), "x={x}: {d}");
        }
    }

    #[test]
    fn identity_tail_is_exact_in_fixed_point() {
        let p = relu_like();
        let fx = FixedPoint::default();
        let enc = p.encode(&fx).unwrap();
        let x = fx.encode(5.123).unwrap();
        assert_eq!(enc.eval(x), x);
    }

    #[test]
    fn validation_errors_name_the_problem() {
        let e = PiecewisePoly::new(Tail::Zero, vec![1.0, 0.0], vec![Polynomial::new(vec![1.0])], Tail::Zero);
        assert!(e.unwrap_err().to_string().contains("not strictly increasing"));
        let e = PiecewisePoly::new(Tail::Zero, vec![0.0, 1.0], vec![], Tail::Zero);
        assert!(e.unwrap_err().to_string().contains("0 pieces"));
    }

    #[test]
    fn overflow_check() {
        let p = PiecewisePoly::new(
            Tail::Zero,
            vec![-20.0, 20.0],
            vec![Polynomial::new(vec![0.0; 10].into_iter().chain([1.0]).collect())],
            Tail::Zero,
        )
        .unwrap();
        assert!(p.check_fixed_point(&FixedPoint::default(), 20.0).is_err());
        assert!(relu_like().check_fixed_point(&FixedPoint::default(), 8.0).is_ok());
    }
}
