//! The structure search's fast price of a piecewise polynomial: a closed form of what the secure spline protocol
//! (`mpc_sim::recipes::piecewise`, the default of `Evaluator::piecewise`) meters, because the search prices millions
//! of candidates. It is the only closed-form cost of a composite protocol in the workspace; every reported cost
//! comes from running the method's program on mpc-sim's `CostEvaluator`, and a test asserts that this closed form
//! equals it on every structure the search can produce (pieces × degrees × both truncations, zero coefficients).
//!
//! Protocol priced by [`TwoPartyCostModel`] for an encoded spline with n thresholds:
//! - n comparisons b_i = [x ≥ t_i], all in one parallel batch (`cmp_rounds` rounds, `cmp_bytes` each);
//! - in parallel with them, the powers some nonzero encoded coefficient uses, with the power tree's intermediates
//!   ([`crate::fixed::power_closure`]): one product per power, a square (`square_bytes`) when k is a power of two,
//!   else a general product (`mul_bytes`), each followed by a truncation; rounds = the tree levels paid;
//! - the selection Y_0 + Σ b_i·(Y_{i+1} − Y_i): one product per difference that is a polynomial, all in one round;
//!   a constant difference is a public multiple of the bit (free), a zero one is skipped;
//! - one final truncation.
//!
//! With [`Truncation::Local`] truncations are free (0 rounds, 0 bytes) but fail with probability ≤ |v|/2^63 for a
//! truncated value v ([`TwoPartyCostModel::local_failure_bound`]); with [`Truncation::DealerPair`] each costs 1
//! round and 8 bytes and does not fail (|v| < 2^62).

use serde::{Deserialize, Serialize};

use crate::fixed::{FixedPoint, power_closure, power_tree_depth};
use crate::piecewise::{EncodedPiecewise, PiecewisePoly};

/// Per-element cost of a secure evaluation. Bytes are those sent by ONE party (the wire carries twice as many).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Cost {
    /// Communication rounds (one simultaneous exchange each).
    pub rounds: u32,
    /// Bytes sent by one party.
    pub bytes_per_party: u64,
    /// Secure comparisons.
    pub comparisons: u32,
    /// Secure multiplications (squares included).
    pub multiplications: u32,
    /// Offline (dealer) bytes received by one party: priced by [`crate::FssCostModel`] (DCF keys, masks and the
    /// Beaver material of its products); 0 from [`TwoPartyCostModel`], which prices the online phase only.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub offline_bytes_per_party: u64,
    /// AES calls of one party's online evaluation of the FSS keys ([`crate::FssCostModel`]); 0 on the Beaver
    /// backend.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub aes_calls: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// A way to price an approximation; the search minimises [`CostModel::scalar`].
pub trait CostModel: Send + Sync {
    /// Cost of evaluating `pp` on one element.
    fn piecewise_cost(&self, pp: &PiecewisePoly) -> Cost;
    /// Per-element bound on the probability that `pp`'s secure evaluation fails for inputs |x| ≤ `input_bound`
    /// (local truncation); 0 by default (a protocol without failures).
    fn failure_bound(&self, pp: &PiecewisePoly, input_bound: f64) -> f64 {
        let _ = (pp, input_bound);
        0.0
    }
    /// The single number to minimise; by default the bytes sent by one party.
    fn scalar(&self, cost: &Cost) -> f64 {
        cost.bytes_per_party as f64
    }
}

/// How a fixed-point product is brought back to f fractional bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Truncation {
    /// SecureML local truncation: 0 rounds, 0 bytes, ±1 LSB plus a rare wrap error.
    #[default]
    Local,
    /// Dealer pair (r, r >> f): 1 round, 8 bytes, floor or floor + 1.
    DealerPair,
}

/// The default two-party model: additive sharing over Z_{2^64}, trusted dealer, dealer-pair truncation (see the
/// module docs). Dealer-pair truncation is the default because local truncation at f = 16 cannot meet the search's
/// failure limit [`MAX_LOCAL_FAILURE`] = 2^−30 per element for any spline of degree ≥ 2 on inputs up to |x| ≈ 8: one
/// truncation of x² alone (raw x²·2^32 ≈ 2^38) fails with probability up to 2^−25.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TwoPartyCostModel {
    /// Rounds of one comparison (SPU semi2k msb + b2a: 8).
    pub cmp_rounds: u32,
    /// Bytes per party of one comparison (56 + 8 = 64).
    pub cmp_bytes: u64,
    /// Bytes per party of a Beaver product (16).
    pub mul_bytes: u64,
    /// Bytes per party of a square with a dealer pair (8).
    pub square_bytes: u64,
    /// The truncation protocol.
    pub truncation: Truncation,
    /// The fixed point the coefficients are encoded in (which terms encode to 0 and are skipped).
    #[serde(default)]
    pub fx: FixedPoint,
}

impl Default for TwoPartyCostModel {
    fn default() -> Self {
        TwoPartyCostModel {
            cmp_rounds: 8,
            cmp_bytes: 64,
            mul_bytes: 16,
            square_bytes: 8,
            truncation: Truncation::DealerPair,
            fx: FixedPoint::default(),
        }
    }
}

/// Largest per-element probability bound of local-truncation failure the search admits (2^−30).
pub const MAX_LOCAL_FAILURE: f64 = 1.0 / 1_073_741_824.0;

impl TwoPartyCostModel {
    /// The same model under another truncation protocol.
    pub fn with_truncation(self, truncation: Truncation) -> Self {
        TwoPartyCostModel { truncation, ..self }
    }

    fn trunc_cost(&self) -> (u32, u64) {
        match self.truncation {
            Truncation::Local => (0, 0),
            Truncation::DealerPair => (1, 8),
        }
    }

    /// The encoding priced: `pp` encoded at `fx`, or, when a coefficient does not encode, the same structure with
    /// every coefficient nonzero (an upper bound).
    fn encoded(&self, pp: &PiecewisePoly) -> EncodedPiecewise {
        pp.encode(&self.fx).unwrap_or_else(|_| EncodedPiecewise {
            fx: self.fx,
            thresholds: pp.breakpoints.iter().map(|_| 0).collect(),
            segments: pp.segments().iter().enumerate().map(|(i, s)| vec![i as i64 + 1; s.effective_degree() + 1]).collect(),
            max_degree: pp.max_degree(),
        })
    }

    /// Per-element cost of the secure spline protocol on an encoded spline (module docs).
    pub fn encoded_cost(&self, pw: &EncodedPiecewise) -> Cost {
        let (tr, tb) = self.trunc_cost();
        let need = power_closure(&pw.used_powers());
        let (mut levels, mut bytes, mut mults) = (0u32, 0u64, 0u32);
        for (k, _) in need.iter().enumerate().skip(2).filter(|(_, n)| **n) {
            bytes += if k.is_power_of_two() { self.square_bytes } else { self.mul_bytes } + tb;
            mults += 1;
            levels = levels.max(power_tree_depth(k));
        }
        let n_cmp = pw.thresholds.len() as u32;
        let poly_diffs = (0..pw.thresholds.len())
            .filter(|&i| pw.segment_difference(i).iter().skip(1).any(|&c| c != 0))
            .count() as u32;
        let power_rounds = levels * (1 + tr);
        let before = if n_cmp > 0 { self.cmp_rounds.max(power_rounds) } else { power_rounds };
        Cost {
            rounds: before + u32::from(poly_diffs > 0) + tr,
            bytes_per_party: n_cmp as u64 * self.cmp_bytes + poly_diffs as u64 * self.mul_bytes + bytes + tb,
            comparisons: n_cmp,
            multiplications: mults + poly_diffs,
            ..Cost::default()
        }
    }

    /// Per-element bound on the probability that a local truncation of the secure spline protocol fails, for inputs
    /// |x| ≤ `input_bound`: Σ over the truncated values v (each truncated power, the final sum) of max|v|/2^63, with
    /// max|v| propagated by the max-abs rules of mpc-sim's `CostEvaluator` (tested equal). 0 under dealer-pair
    /// truncation.
    pub fn local_failure_bound(&self, pw: &EncodedPiecewise, input_bound: f64) -> f64 {
        if self.truncation == Truncation::DealerPair {
            return 0.0;
        }
        let f = self.fx.frac_bits as i32;
        let two63 = 2f64.powi(63);
        let need = power_closure(&pw.used_powers());
        let mut pb = vec![0.0f64; need.len().max(2)];
        pb[1] = input_bound.abs() * 2f64.powi(f);
        let mut failure = 0.0;
        for k in 2..need.len() {
            if need[k] {
                let p = crate::fixed::power_tree_split(k);
                let raw = pb[p] * pb[k - p];
                failure += raw / two63;
                pb[k] = raw / 2f64.powi(f) + 1.0;
            }
        }
        let comb = |c: &[i64]| -> f64 {
            let s: f64 = c.iter().enumerate().skip(1).filter(|(_, c)| **c != 0).map(|(j, &c)| (c as f64).abs() * pb[j]).sum();
            s + (c.first().copied().unwrap_or(0).wrapping_mul(1i64 << f) as f64).abs()
        };
        let mut acc = comb(&pw.segments[0]);
        let mut poly = Vec::new();
        for i in 0..pw.thresholds.len() {
            let d = pw.segment_difference(i);
            if d.iter().all(|&c| c == 0) {
                continue;
            }
            if d.iter().skip(1).all(|&c| c == 0) {
                acc += (d[0].wrapping_mul(1i64 << f) as f64).abs();
            } else {
                poly.push(comb(&d));
            }
        }
        let widest = poly.iter().fold(0.0f64, |m, &b| m.max(b));
        acc += widest * poly.len() as f64;
        failure + acc / two63
    }
}

impl CostModel for TwoPartyCostModel {
    fn piecewise_cost(&self, pp: &PiecewisePoly) -> Cost {
        self.encoded_cost(&self.encoded(pp))
    }
    fn failure_bound(&self, pp: &PiecewisePoly, input_bound: f64) -> f64 {
        self.local_failure_bound(&self.encoded(pp), input_bound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Polynomial, Tail};

    #[test]
    fn matches_reference_formula() {
        // 3 central pieces x⁴, tails zero / identity: 4 thresholds, 5 segments. Only x² and x⁴ are built; the
        // equal middle segments need no product.
        let pp = PiecewisePoly::new(
            Tail::Zero,
            vec![-4.0, -1.0, 1.0, 4.0],
            vec![Polynomial::new(vec![0.0, 0.0, 0.0, 0.0, 1.0]); 3],
            Tail::Identity,
        )
        .unwrap();
        let c = TwoPartyCostModel::default().with_truncation(Truncation::Local).piecewise_cost(&pp);
        // comparisons 4·64; powers x² (8) x⁴ (8); selection 2·16.
        assert_eq!(c, Cost { rounds: 9, bytes_per_party: 4 * 64 + 16 + 2 * 16, comparisons: 4, multiplications: 2 + 2, ..Cost::default() });
        let d = TwoPartyCostModel::default().with_truncation(Truncation::DealerPair).piecewise_cost(&pp);
        assert_eq!(d.rounds, 10);
        assert_eq!(d.bytes_per_party, 4 * 64 + 16 + 2 * 16 + 2 * 8 + 8);
        assert_eq!(TwoPartyCostModel::default().with_truncation(Truncation::DealerPair).failure_bound(&pp, 8.0), 0.0);
        // x⁴ on |x| ≤ 8: the raw x⁴ reaches 2^44·2^… — the bound grows with the range.
        let m = TwoPartyCostModel::default().with_truncation(Truncation::Local);
        assert!(m.failure_bound(&pp, 8.0) > m.failure_bound(&pp, 2.0));
    }
}
