//! Published piecewise-polynomial activations of the baselines, as plain f64 data ([`Spline`]): public thresholds
//! and segment polynomials, with their f64 value and their fixed-point encoding. The secure programs that evaluate
//! them (all through one spline protocol) live in the `secure-methods` crate.
//!
//! - PUMA GeLU (Dong et al., "PUMA: Secure Inference of LLaMA-7B in Five Minutes", 2023, §4.2 Eq. (3); SecretFlow
//!   SPU `libspu/kernel/hal/activation`): 0 for x < −4; a0 + a1·x + a2·x² + a3·x³ on [−4, −1.95);
//!   b0 + 0.5·x + b2·x² + b4·x⁴ + b6·x⁶ on [−1.95, 3]; x above 3.
//! - PUMA/SPU SiLU ("seg4"): 0 for x < −8; c0 + c1·x + c2·x² on [−8, −4); d0 + 0.5·x + d2·x² + d4·x⁴ + d6·x⁶ on
//!   [−4, 4]; x above 4.
//! - BOLT / BumbleBee GeLU ("seg3"; Pang et al., BOLT, IEEE S&P 2024, §5 Eq. (2), T = 2.7; Lu et al., BumbleBee,
//!   NDSS 2025, §4.4, T = 3): 0 below −T, P(|x|) = c0 + c1·|x| + c2·x² + c3·|x|³ + c4·x⁴ + 0.5·x on |x| ≤ T, x above
//!   T. With the sign of x public per segment, |x| = ±x, so P is the two polynomials
//!   c0 + (0.5 ∓ c1)·x + c2·x² ∓ c3·x³ + c4·x⁴ on [−T, 0) and [0, T]: a spline with thresholds {−T, 0, T}.
//! - BumbleBee SiLU ("seg4", OpenBumbleBee `activation.cc::f_silu`): x·σ(x) with σ(|x|) = s0 + s1·|x| + s2·x² +
//!   s3·|x|³ + s4·x⁴ on |x| ≤ 8 and σ(−|x|) = 1 − σ(|x|): on [0, 8] the quintic s0·x + s1·x² + s2·x³ + s3·x⁴ + s4·x⁵,
//!   on [−8, 0) (1 − s0)·x + s1·x² − s2·x³ + s3·x⁴ − s4·x⁵; 0 below −8, x above 8.
//! - h-swish, the "crude" SiLU (Howard et al., "Searching for MobileNetV3", ICCV 2019, Eq. (2)): 0 below −3,
//!   x²/6 + x/2 on [−3, 3), x above.
//! - ReLU (Nair & Hinton, ICML 2010): 0 below 0, x above: one threshold.
//! - MPCFormer Quad (Li et al., "MPCFormer", ICLR 2023, §3.2): 0.125·x² + 0.25·x + 0.5 (the benchmark code's
//!   variant: 0.125·x² + 0.5·x + 0.25): one polynomial, no threshold.

use serde::Serialize;

use crate::error::{ApproxError, Result};
use crate::fixed::FixedPoint;
use crate::piecewise::{EncodedPiecewise, PiecewisePoly};
use crate::poly::Polynomial;

/// PUMA GeLU left-piece coefficients a0…a3.
pub const PUMA_GELU_A: [f64; 4] = [-0.5054031199708174, -0.42226581151983866, -0.11807612951181953, -0.011034134030615728];
/// PUMA GeLU middle-piece coefficients b0, b2, b4, b6 (b1 = 0.5, odd terms above 1 are zero).
pub const PUMA_GELU_B: [f64; 4] = [0.008526321541038084, 0.3603292692789629, -0.037688200365904236, 0.0018067462606141187];
/// SPU SiLU left-piece coefficients c0…c2.
pub const PUMA_SILU_C: [f64; 3] = [-0.3067541139982155, -0.0819767021525476, -0.0055465625580307];
/// SPU SiLU middle-piece coefficients d0, d2, d4, d6 (d1 = 0.5).
pub const PUMA_SILU_D: [f64; 4] = [0.0085064025895951, 0.228_143_084_172_827, -0.011113046708173, 0.0002743776353465];
/// Seg3 GeLU coefficients c0…c4 of 1, |x|, x², |x|³, x⁴ (plus 0.5·x).
pub const SEG3_GELU_C: [f64; 5] =
    [0.001620808531841547, -0.03798164612714154, 0.5410550166368381, -0.18352506127082727, 0.020848611754127593];
/// Seg4 sigmoid coefficients s0…s4 of 1, |x|, x², |x|³, x⁴.
pub const SEG4_SIGMOID_S: [f64; 5] =
    [0.49352908920523014, 0.3028510171823098, -0.06808619212463336, 0.006747908074344234, -0.0002472776978734074];
/// MPCFormer Quad, paper variant: c0, c1, c2.
pub const QUAD_PAPER: [f64; 3] = [0.5, 0.25, 0.125];
/// MPCFormer Quad, benchmark-code variant.
pub const QUAD_CODE: [f64; 3] = [0.25, 0.5, 0.125];

/// A spline with public thresholds t_0 < … < t_{n−1} (n ≥ 0) and n + 1 segment polynomials: segment s holds where
/// exactly s thresholds are ≤ x (so \[x ≥ t_i\] selects, as in [`PiecewisePoly`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spline {
    /// Strictly increasing, finite.
    pub thresholds: Vec<f64>,
    /// One more than thresholds.
    pub segments: Vec<Polynomial>,
}

impl Spline {
    /// Builds and validates (increasing finite thresholds, one more segment, finite coefficients).
    pub fn new(thresholds: Vec<f64>, segments: Vec<Polynomial>) -> Result<Self> {
        let bad = |m: String| Err(ApproxError::InvalidPiecewise(m));
        if segments.len() != thresholds.len() + 1 {
            return bad(format!("{} segments for {} thresholds; need one more segment", segments.len(), thresholds.len()));
        }
        if thresholds.iter().any(|t| !t.is_finite()) || thresholds.windows(2).any(|w| w[0] >= w[1]) {
            return bad(format!("thresholds {thresholds:?} must be finite and strictly increasing"));
        }
        if segments.iter().any(|p| p.coeffs.iter().any(|c| !c.is_finite())) {
            return bad("a segment has a non-finite coefficient".into());
        }
        Ok(Spline { thresholds, segments })
    }

    /// Value at x.
    pub fn eval(&self, x: f64) -> f64 {
        self.segments[self.thresholds.partition_point(|&t| t <= x)].eval(x)
    }

    /// Largest effective degree.
    pub fn max_degree(&self) -> usize {
        self.segments.iter().map(Polynomial::effective_degree).max().unwrap_or(0)
    }

    /// The fixed-point encoding evaluated by the secure spline protocol.
    pub fn encode(&self, fx: &FixedPoint) -> Result<EncodedPiecewise> {
        let thresholds = self.thresholds.iter().map(|&t| fx.encode(t)).collect::<Result<Vec<_>>>()?;
        let segments = self
            .segments
            .iter()
            .map(|s| s.coeffs[..=s.effective_degree()].iter().map(|&c| fx.encode(c)).collect::<Result<Vec<_>>>())
            .collect::<Result<Vec<_>>>()?;
        Ok(EncodedPiecewise { fx: *fx, thresholds, segments, max_degree: self.max_degree() })
    }
}

impl From<&PiecewisePoly> for Spline {
    fn from(pp: &PiecewisePoly) -> Self {
        Spline { thresholds: pp.breakpoints.clone(), segments: pp.segments() }
    }
}

fn poly(c: &[f64]) -> Polynomial {
    Polynomial::new(c.to_vec())
}

fn zero() -> Polynomial {
    poly(&[0.0])
}

fn identity() -> Polynomial {
    poly(&[0.0, 1.0])
}

/// PUMA's GeLU (module docs).
pub fn puma_gelu() -> Spline {
    let (a, b) = (PUMA_GELU_A, PUMA_GELU_B);
    let mid = [b[0], 0.5, b[1], 0.0, b[2], 0.0, b[3]];
    Spline { thresholds: vec![-4.0, -1.95, 3.0], segments: vec![zero(), poly(&a), poly(&mid), identity()] }
}

/// SPU's SiLU (module docs).
pub fn puma_silu() -> Spline {
    let d = PUMA_SILU_D;
    let mid = [d[0], 0.5, d[1], 0.0, d[2], 0.0, d[3]];
    Spline { thresholds: vec![-8.0, -4.0, 4.0], segments: vec![zero(), poly(&PUMA_SILU_C), poly(&mid), identity()] }
}

/// The seg3 GeLU with cut-off T (module docs); T > 0.
pub fn seg3_gelu(t: f64) -> Spline {
    let c = SEG3_GELU_C;
    let neg = [c[0], 0.5 - c[1], c[2], -c[3], c[4]];
    let pos = [c[0], 0.5 + c[1], c[2], c[3], c[4]];
    Spline { thresholds: vec![-t, 0.0, t], segments: vec![zero(), poly(&neg), poly(&pos), identity()] }
}

/// BumbleBee's seg4 SiLU with cut-off T (8 in the paper; module docs).
pub fn seg4_silu(t: f64) -> Spline {
    let s = SEG4_SIGMOID_S;
    let neg = [0.0, 1.0 - s[0], s[1], -s[2], s[3], -s[4]];
    let pos = [0.0, s[0], s[1], s[2], s[3], s[4]];
    Spline { thresholds: vec![-t, 0.0, t], segments: vec![zero(), poly(&neg), poly(&pos), identity()] }
}

/// h-swish (module docs).
pub fn hswish() -> Spline {
    Spline { thresholds: vec![-3.0, 3.0], segments: vec![zero(), poly(&[0.0, 0.5, 1.0 / 6.0]), identity()] }
}

/// ReLU.
pub fn relu() -> Spline {
    Spline { thresholds: vec![0.0], segments: vec![zero(), identity()] }
}

/// One polynomial (no threshold), e.g. MPCFormer's Quad.
pub fn polynomial(coeffs: &[f64]) -> Spline {
    Spline { thresholds: Vec::new(), segments: vec![poly(coeffs)] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seg3_and_seg4_equal_their_abs_forms() {
        let c = SEG3_GELU_C;
        let s = SEG4_SIGMOID_S;
        for i in -80..=80 {
            let x = i as f64 / 10.0;
            let a = x.abs();
            let p = c[0] + c[1] * a + c[2] * x * x + c[3] * a * a * a + c[4] * x.powi(4) + 0.5 * x;
            let want = if x < -3.0 { 0.0 } else if x >= 3.0 { x } else { p };
            assert!((seg3_gelu(3.0).eval(x) - want).abs() < 1e-12, "seg3 at {x}");
            let sig_abs = s[0] + s[1] * a + s[2] * x * x + s[3] * a * a * a + s[4] * x.powi(4);
            let sig = if x >= 0.0 { sig_abs } else { 1.0 - sig_abs };
            let want = if x < -8.0 { 0.0 } else if x >= 8.0 { x } else { x * sig };
            assert!((seg4_silu(8.0).eval(x) - want).abs() < 1e-12, "seg4 at {x}");
        }
    }

    #[test]
    fn bad_splines_are_rejected() {
        assert!(Spline::new(vec![1.0, 0.0], vec![zero(), zero(), zero()]).is_err());
        assert!(Spline::new(vec![0.0], vec![zero()]).is_err());
        assert!(Spline::new(vec![], vec![identity()]).is_ok());
    }
}
