//! The per-element two-party MPC cost model (`docs/cost-model.md`), behind a small trait so the search can minimise any cost.
//!
//! Protocol priced by [`TwoPartyCostModel`] for a [`PiecewisePoly`] with n + 1 thresholds and largest degree d:
//! - n + 1 comparisons b_i = [x ≥ t_i], all in one parallel batch (`cmp_rounds` rounds, `cmp_bytes` each);
//! - in parallel with them, the powers x² … x^d by the power tree ([`crate::fixed`]): one product per power,
//!   a square (`square_bytes`) when k is a power of two, else a general product (`mul_bytes`), ⌈log₂ d⌉ levels,
//!   each followed by a truncation;
//! - the selection Y_0 + Σ b_i·(Y_i − Y_{i−1}): n + 1 products in one round (`mul_bytes` each);
//! - one final truncation.
//!
//! With [`Truncation::Local`] truncations are free (0 rounds, 0 bytes); with [`Truncation::DealerPair`] each costs
//! 1 round and 8 bytes. Rounds = max(cmp_rounds, power rounds) + 1 + final-truncation rounds. With the default
//! (local truncation, SPU-style 8-round / 64-byte comparison) that is 9 rounds and
//! 80·(n+1) + Σ_k {8 or 16} bytes per party, i.e. ≈ 80·(m−1) + 16·(d−1) for m segments.
//! mpc-sim's cost predictor reproduces these numbers exactly, and its tests compare them with the metered channel.

use serde::{Deserialize, Serialize};

use crate::fixed::power_tree_depth;
use crate::piecewise::PiecewisePoly;

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
}

/// A way to price an approximation; the search minimises [`CostModel::scalar`].
pub trait CostModel: Send + Sync {
    /// Cost of evaluating `pp` on one element.
    fn piecewise_cost(&self, pp: &PiecewisePoly) -> Cost;
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

impl Truncation {
    /// The stricter of two protocols: dealer-pair if either is (a method that needs it cannot use local).
    pub fn strictest(self, other: Truncation) -> Truncation {
        if self == Truncation::DealerPair || other == Truncation::DealerPair { Truncation::DealerPair } else { Truncation::Local }
    }
}

/// The default two-party model: additive sharing over Z_{2^64}, trusted dealer (see the module docs).
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
}

impl Default for TwoPartyCostModel {
    fn default() -> Self {
        TwoPartyCostModel { cmp_rounds: 8, cmp_bytes: 64, mul_bytes: 16, square_bytes: 8, truncation: Truncation::Local }
    }
}

impl TwoPartyCostModel {
    fn trunc_cost(&self) -> (u32, u64) {
        match self.truncation {
            Truncation::Local => (0, 0),
            Truncation::DealerPair => (1, 8),
        }
    }

    /// Cost of the powers x² … x^d: (rounds, bytes, multiplications).
    pub fn powers_cost(&self, degree: usize) -> (u32, u64, u32) {
        let (tr, tb) = self.trunc_cost();
        let mut bytes = 0;
        for k in 2..=degree {
            bytes += if k.is_power_of_two() { self.square_bytes } else { self.mul_bytes } + tb;
        }
        let mults = degree.saturating_sub(1) as u32;
        (power_tree_depth(degree) * (1 + tr), bytes, mults)
    }
}

impl CostModel for TwoPartyCostModel {
    fn piecewise_cost(&self, pp: &PiecewisePoly) -> Cost {
        let (tr, tb) = self.trunc_cost();
        let n_cmp = pp.n_comparisons() as u32;
        let (pr, pb, pm) = self.powers_cost(pp.max_degree());
        Cost {
            rounds: self.cmp_rounds.max(pr) + 1 + tr,
            bytes_per_party: n_cmp as u64 * (self.cmp_bytes + self.mul_bytes) + pb + tb,
            comparisons: n_cmp,
            multiplications: pm + n_cmp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Polynomial, Tail};

    #[test]
    fn matches_reference_formula() {
        // 3 central pieces of degree 4, tails zero / identity: 4 thresholds, 5 segments.
        let pp = PiecewisePoly::new(
            Tail::Zero,
            vec![-4.0, -1.0, 1.0, 4.0],
            vec![Polynomial::new(vec![0.0, 0.0, 0.0, 0.0, 1.0]); 3],
            Tail::Identity,
        )
        .unwrap();
        let c = TwoPartyCostModel::default().piecewise_cost(&pp);
        // powers: x² (8) x³ (16) x⁴ (8); comparisons 4·64; selection 4·16.
        assert_eq!(c, Cost { rounds: 9, bytes_per_party: 4 * 80 + 32, comparisons: 4, multiplications: 3 + 4 });
        let d = TwoPartyCostModel { truncation: Truncation::DealerPair, ..Default::default() }.piecewise_cost(&pp);
        assert_eq!(d.rounds, 10);
        assert_eq!(d.bytes_per_party, 4 * 80 + 32 + 3 * 8 + 8);
    }
}
