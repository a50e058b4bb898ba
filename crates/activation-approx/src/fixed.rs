//! Fixed-point emulation: the exact integer arithmetic the MPC backend performs, in the clear.
//!
//! # Encoding
//! A real x is the ring element ⌊x·2^f⌉ (round half away from zero) of Z_{2^64}, stored as a two's-complement
//! `i64`; |x| must be below 2^(63−f), otherwise encoding is an error ([`ApproxError::FixedPointOverflow`]).
//!
//! # Truncation rule
//! A product of two encodings carries 2f fractional bits; it is brought back to f bits by an arithmetic shift,
//! `v >> f`, i.e. **floor** division by 2^f in the ring (wrapping multiplication first). This deterministic rule is the
//! reference. A secure truncation computes it up to a small error: the dealer-pair truncation returns ⌊v/2^f⌋ + e with
//! e ∈ {0, 1} (a borrow from the masked low bits, i.e. unbiased stochastic rounding); SecureML's local truncation
//! returns ⌊v/2^f⌋ + e with e ∈ {−1, 0, 1} plus, with probability about |v|/2^63, a wrap error. mpc-sim states and
//! tests the resulting bound per protocol.
//!
//! # Powers
//! x^1 = x, and for k ≥ 2, x^k = trunc(x^p · x^(k−p)) where p is the largest power of two below k
//! (so x^(2^j) are squares). This is the log-depth power tree: x^k needs ⌈log₂ k⌉ multiplication levels.

use serde::{Deserialize, Serialize};

use crate::error::{ApproxError, Result};

/// Fixed-point parameters: the ring is always Z_{2^64}; `frac_bits` is f.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FixedPoint {
    /// Number of fractional bits f.
    pub frac_bits: u32,
}

impl Default for FixedPoint {
    /// f = 16, CrypTen's default.
    fn default() -> Self {
        FixedPoint { frac_bits: 16 }
    }
}

impl FixedPoint {
    /// Fixed point with `frac_bits` fractional bits (1 ..= 30).
    pub fn new(frac_bits: u32) -> Result<Self> {
        if !(1..=30).contains(&frac_bits) {
            return Err(ApproxError::BadFracBits(frac_bits));
        }
        Ok(FixedPoint { frac_bits })
    }

    /// The scale 2^f.
    pub fn scale(&self) -> f64 {
        (1u64 << self.frac_bits) as f64
    }

    /// The largest magnitude that encodes: 2^(63−f).
    pub fn limit(&self) -> f64 {
        2f64.powi(63 - self.frac_bits as i32)
    }

    /// Encodes x as ⌊x·2^f⌉; NaN, infinities and |x| ≥ 2^(63−f) are errors.
    pub fn encode(&self, x: f64) -> Result<i64> {
        let limit = self.limit();
        if !x.is_finite() || x.abs() >= limit {
            return Err(ApproxError::FixedPointOverflow { value: x, frac_bits: self.frac_bits, limit });
        }
        Ok((x * self.scale()).round() as i64)
    }

    /// Decodes a ring element (two's complement) to a real.
    pub fn decode(&self, v: i64) -> f64 {
        v as f64 / self.scale()
    }

    /// The reference truncation: arithmetic shift right by f (floor division by 2^f).
    pub fn truncate(&self, v: i64) -> i64 {
        v >> self.frac_bits
    }

    /// Fixed-point product: wrapping ring multiplication, then [`FixedPoint::truncate`].
    pub fn mul(&self, a: i64, b: i64) -> i64 {
        self.truncate(a.wrapping_mul(b))
    }

    /// x^0 … x^degree by the power tree described in the module docs (index k holds x^k; x^0 is the encoding of 1).
    pub fn powers(&self, x: i64, degree: usize) -> Vec<i64> {
        let mut pows = Vec::with_capacity(degree + 1);
        pows.push(1i64 << self.frac_bits);
        if degree >= 1 {
            pows.push(x);
        }
        for k in 2..=degree {
            let p = power_tree_split(k);
            let v = self.mul(pows[p], pows[k - p]);
            pows.push(v);
        }
        pows
    }
}

/// For k ≥ 2: the largest power of two p < k; x^k is computed as x^p · x^(k−p).
pub fn power_tree_split(k: usize) -> usize {
    assert!(k >= 2, "power_tree_split needs k ≥ 2");
    let p = 1usize << (usize::BITS - 1 - (k - 1).leading_zeros());
    debug_assert!(p < k && 2 * p >= k);
    p
}

/// The powers needed to build the requested ones by the power tree: `need[k]` (k ≥ 2) requested, returned with
/// every x^p and x^(k−p) the tree uses on the way, truncated after the highest needed power (`out[1]` is true
/// when anything is needed: x itself). Entries 0 and 1 of `need` are ignored.
pub fn power_closure(need: &[bool]) -> Vec<bool> {
    let top = (2..need.len()).rev().find(|&k| need[k]).unwrap_or(0);
    let mut out = vec![false; top + 1];
    for k in (2..=top).rev() {
        if need[k] || out[k] {
            out[k] = true;
            let p = power_tree_split(k);
            out[p] = true;
            out[k - p] = true;
        }
    }
    if top >= 1 {
        out[1] = true;
    }
    out
}

/// ⌈log₂ k⌉ for k ≥ 1: the multiplication depth of x^k in the power tree (0 for k ≤ 1).
pub fn power_tree_depth(k: usize) -> u32 {
    if k <= 1 { 0 } else { usize::BITS - (k - 1).leading_zeros() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_tree_shape() {
        assert_eq!(power_tree_split(2), 1);
        assert_eq!(power_tree_split(3), 2);
        assert_eq!(power_tree_split(4), 2);
        assert_eq!(power_tree_split(5), 4);
        assert_eq!(power_tree_split(8), 4);
        assert_eq!(power_tree_split(9), 8);
        assert_eq!([1, 2, 3, 4, 5, 8, 9].map(power_tree_depth), [0, 1, 2, 2, 3, 3, 4]);
    }

    #[test]
    fn encode_rounds_and_rejects() {
        let fx = FixedPoint::default();
        assert_eq!(fx.encode(1.5).unwrap(), 3 << 15);
        assert_eq!(fx.encode(-1.0).unwrap(), -(1 << 16));
        assert!(fx.encode(f64::NAN).is_err());
        assert!(fx.encode(2f64.powi(47)).is_err());
        assert_eq!(fx.truncate(-1), -1, "truncation is floor");
        assert!(FixedPoint::new(0).is_err());
    }

    #[test]
    fn powers_follow_floor_rule() {
        let fx = FixedPoint::default();
        let x = fx.encode(-1.3).unwrap();
        let p = fx.powers(x, 5);
        assert_eq!(p[2], (x * x) >> 16);
        assert_eq!(p[3], (p[2] * x) >> 16);
        assert_eq!(p[5], (p[4] * x) >> 16);
        assert!((fx.decode(p[5]) - (-1.3f64).powi(5)).abs() < 1e-3);
    }
}
