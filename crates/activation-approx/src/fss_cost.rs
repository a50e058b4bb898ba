//! The structure search's fast price of a piecewise polynomial on the **function-secret-sharing (FSS) backend**:
//! a closed form of what mpc-sim's `FssCostEvaluator` charges for its spline gate (`mpc_sim::fss`, module docs of
//! `fss/session.rs` and `fss/cost.rs`), because the search prices millions of candidates. A test in
//! `secure-methods/tests/methods.rs` asserts that it equals the evaluator on every structure the search can produce
//! (pieces × degrees × both truncations), as the Beaver closed form ([`crate::TwoPartyCostModel`]) is tested.
//!
//! # The gate priced (per element, bytes of one party)
//! The spline gate with m segments (m − 1 thresholds, tails included) and an n-bit comparison domain. Its layout
//! (mpc-sim's `fss::SplineLayout`) follows the *encoded* coefficients: P = the powers j ≥ 2 with a nonzero encoded
//! coefficient in some segment, S = the segments with a nonzero encoded slope.
//! - **Fused gate (P empty: degree ≤ 1 after encoding)**: open the masked input y = x + r (1 round, 8 B); each party
//!   evaluates its m DCF keys at y locally; the payload (k = 2 words: the dealer's part of the truncated segment
//!   value and the bare comparison indicator, which each party scales by public terms ⌊c₁·y/2^f⌋; k = 1 when no
//!   segment is sloped) plus c = 1 + |S| dealt constant words let each party add the public part of the selected
//!   segment itself, so the output is already truncated (⌊L/2^f⌋ or one below, no failure event):
//!   **1 round, 8 B online** under either truncation setting. (The first version carried the |S| selection words
//!   in every DCF payload, k = 1 + |S|: 3 words, two AES value blocks per tree level, for Compact's 3-piece form.)
//! - **Otherwise**: the opening, concurrently the Beaver power tree of P's closure (each level that builds a power
//!   costs one round plus its truncation; a square 8 B, a product 16 B), then one batched Beaver round multiplying
//!   the |P| selected coefficients by the powers (16 B each), then one truncation (t rounds: 0 local, 1 dealer pair,
//!   8 B); payload k = 2 words (A's part and the indicator; B and the coefficients c_j are public per segment, so
//!   each party scales its indicator shares by their differences), c = 2 + |P| dealt constant words.
//! - **Offline** (dealer → each party): the mask share and the constant share (8 + 8c B), m DCF keys of
//!   K(n, k) = 16 + n·(16 + 8k) + ⌈2n/8⌉ + 8k bytes each (Boyle et al., EUROCRYPT 2021, Fig. 1: a λ = 128-bit
//!   seed, one correction word per level, the packed control bits, a leaf word), and the Beaver material of the
//!   power tree (24 B a product, 16 B a square), of the coefficient products (24 B each) and of each dealer-pair
//!   truncation (24 B).
//! - **AES**: evaluating one key walks n tree levels with 1 + ⌈k/2⌉ fixed-key AES calls each, plus ⌈k/2⌉ at the
//!   leaf: m·(n·(1 + ⌈k/2⌉) + ⌈k/2⌉) = m·(2n + 1) calls per party (k ≤ 2 for every gate).
//!
//! The number of pieces m therefore costs **key bytes and AES work, not rounds or online bytes** — the reason the
//! best structure can differ from the Beaver one, where every threshold is an 8-round, 64-byte comparison.
//!
//! # The scalar minimised
//! [`FssCostModel::scalar`] = online bytes + `key_weight` × offline bytes per party (default weight 1: the
//! dealer's bytes are shipped to each party as surely as the online ones, only earlier, so the default objective
//! is the total bytes a party receives per element). Rounds are not in the scalar: under FSS every structure of
//! degree ≤ 1 has the same rounds, and a degree ≥ 2 structure pays its extra rounds in bytes too. Weight 0 gives
//! the online-only objective (then every degree ≤ 1 structure ties and the accuracy violation decides).

use serde::{Deserialize, Serialize};

use crate::cost::{Cost, CostModel, Truncation, TwoPartyCostModel};
use crate::fixed::{FixedPoint, power_closure, power_tree_depth, power_tree_split};
use crate::quantity::{Bytes, Count, Rounds};
use crate::piecewise::{EncodedPiecewise, PiecewisePoly};

/// Bytes of one party's DCF key with an n-bit input and a k-word payload (module docs; mpc-sim's `dcf::key_bytes`).
pub fn dcf_key_bytes(bits: u32, payload: usize) -> u64 {
    let (n, k) = (u64::from(bits), payload as u64);
    16 + n * (16 + 8 * k) + (2 * n).div_ceil(8) + 8 * k
}

/// AES calls of one party's evaluation of one DCF key (module docs; mpc-sim's `dcf::eval_aes_calls`).
pub fn dcf_eval_aes_calls(bits: u32, payload: usize) -> u64 {
    let h = payload.div_ceil(2) as u64;
    u64::from(bits) * (1 + h) + h
}

/// The FSS backend's price of a spline (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FssCostModel {
    /// Bit width n of the comparison domain (64: the whole ring, as the secure runs use).
    pub bits: u32,
    /// The truncation protocol.
    pub truncation: Truncation,
    /// The fixed point the coefficients are encoded in.
    pub fx: FixedPoint,
    /// Weight of an offline (key) byte against an online byte in [`FssCostModel::scalar`] (default 1).
    pub key_weight: f64,
}

impl Default for FssCostModel {
    fn default() -> Self {
        FssCostModel { bits: 64, truncation: Truncation::DealerPair, fx: FixedPoint::default(), key_weight: 1.0 }
    }
}

impl FssCostModel {
    /// The same model under another truncation protocol.
    pub fn with_truncation(self, truncation: Truncation) -> Self {
        FssCostModel { truncation, ..self }
    }

    /// (rounds, online bytes, offline bytes) of one truncation.
    fn trunc(&self) -> (u32, u64, u64) {
        match self.truncation {
            Truncation::Local => (0, 0, 0),
            Truncation::DealerPair => (1, 8, 24),
        }
    }

    fn encoded(&self, pp: &PiecewisePoly) -> EncodedPiecewise {
        crate::cost::encoded_for_pricing(pp, self.fx)
    }

    /// Per-element cost of the FSS spline gate on an encoded spline (module docs). Without thresholds the
    /// backend runs the Beaver polynomial, priced by [`TwoPartyCostModel`] (online only).
    pub fn encoded_cost(&self, pw: &EncodedPiecewise) -> Cost {
        let nt = pw.thresholds.len();
        if nt == 0 {
            return TwoPartyCostModel { truncation: self.truncation, fx: self.fx, ..TwoPartyCostModel::default() }.encoded_cost(pw);
        }
        let (tr, tb, toff) = self.trunc();
        // The gate's layout (mpc-sim's `fss::SplineLayout`): the powers j ≥ 2 some nonzero encoded coefficient uses,
        // and the segments with a nonzero encoded slope.
        let need = pw.used_powers();
        let powers: Vec<usize> = (2..need.len()).filter(|&j| need[j]).collect();
        let sloped = pw.segments.iter().filter(|s| s.get(1).is_some_and(|&c| c != 0)).count();
        let fused = powers.is_empty();
        // DCF payload words k and dealt constant words c (mpc-sim's `SplineLayout::payload` / `const_words`).
        let (k, c) = if fused { (1 + usize::from(sloped > 0), 1 + sloped) } else { (2, 2 + powers.len()) };
        let m = nt as u64 + 1;
        let open_off = 8 + 8 * c as u64 + m * dcf_key_bytes(self.bits, k);
        let (rounds, online, offline, mults) = if fused {
            // Truncated inside the gate: the opening is the whole online phase.
            (1, 8, open_off, 0)
        } else {
            // The power tree builds the used powers and those it needs to build them (their closure), one square
            // (8 B, 16 B offline) or product (16 B, 24 B offline) each plus its truncation; a tree level costs
            // 1 + t rounds when it builds a power.
            let built = power_closure(&need);
            let (mut pb, mut poff, mut levels, mut nbuilt) = (0u64, 0u64, 0u64, 0u64);
            for level in 1..=power_tree_depth(built.len().saturating_sub(1)) {
                let at: Vec<usize> = (2..built.len()).filter(|&j| built[j] && power_tree_depth(j) == level).collect();
                for &j in &at {
                    let (b, o) = if j.is_power_of_two() { (8, 16) } else { (16, 24) };
                    pb += b + tb;
                    poff += o + toff;
                }
                levels += u64::from(!at.is_empty());
                nbuilt += at.len() as u64;
            }
            let prounds = levels * (1 + u64::from(tr));
            let c = powers.len() as u64;
            (prounds.max(1) + 1 + u64::from(tr), 8 + pb + 16 * c + tb, open_off + poff + 24 * c + toff, nbuilt + c)
        };
        Cost {
            rounds: Rounds(rounds),
            bytes_per_party: Bytes(online),
            comparisons: Count(nt as u64),
            multiplications: Count(mults),
            offline_bytes_per_party: Bytes(offline),
            aes_calls_per_party: Count(m * dcf_eval_aes_calls(self.bits, k)),
            ..Cost::ZERO
        }
    }

    /// Per-element bound on the probability that a local truncation of the FSS spline gate fails for inputs
    /// |x| ≤ `input_bound`: Σ over the truncated values v of max|v|/2^63 — each power of the tree (its raw
    /// product bounded by the product of its factors' bounds, the truncated power by raw/2^f + 1) and the final
    /// sum, bounded by [`fss_spline_bound`]. 0 under dealer-pair truncation, and 0 for the fused gate (no power
    /// x^j, j ≥ 2, used), which truncates inside without a failure event.
    pub fn local_failure_bound(&self, pw: &EncodedPiecewise, input_bound: f64) -> f64 {
        if self.truncation == Truncation::DealerPair {
            return 0.0;
        }
        if pw.thresholds.is_empty() {
            return TwoPartyCostModel { truncation: self.truncation, fx: self.fx, ..TwoPartyCostModel::default() }
                .local_failure_bound(pw, input_bound);
        }
        let two63 = 2f64.powi(63);
        let sc = 2f64.powi(self.fx.frac_bits as i32);
        let xb = input_bound.abs() * sc;
        let need = pw.used_powers();
        if !need.iter().skip(2).any(|&u| u) {
            // The fused gate truncates inside, without a failure event.
            return 0.0;
        }
        let built = power_closure(&need);
        let d = built.len() - 1;
        let mut failure = 0.0;
        {
            let mut pb = vec![0.0f64; d + 1];
            pb[1] = xb;
            for level in 1..=power_tree_depth(d) {
                for j in (2..=d).filter(|&j| built[j] && power_tree_depth(j) == level) {
                    let p = power_tree_split(j);
                    let raw = pb[p] * pb[j - p];
                    failure += raw / two63;
                    pb[j] = raw / sc + 1.0;
                }
            }
        }
        failure + fss_spline_bound(pw, xb) / two63
    }
}

/// Bound (ring units at scale 2f) on the FSS spline's untruncated value for |x| ≤ `xb` ring units at scale f: the
/// largest over the segments of |enc(c_0)|·2^f + |enc(c_1)|·xb + Σ_{j≥2} |enc(c_j)|·(xb^j/2^((j−1)f) + j)
/// (mpc-sim's `fss::spline_bound` is this function; its cost evaluator uses it for the final truncation). Each
/// power's bound b_j = xb^j/2^((j−1)f) + j is the power tree's (each truncation divides by 2^f and may add 1).
pub fn fss_spline_bound(pw: &EncodedPiecewise, xb: f64) -> f64 {
    let f = pw.fx.frac_bits as i32;
    let sc = 2f64.powi(f);
    pw.segments
        .iter()
        .map(|seg| {
            seg.iter()
                .enumerate()
                .map(|(j, &c)| {
                    let c = (c as f64).abs();
                    match j {
                        0 => c * sc,
                        1 => c * xb,
                        _ => c * (xb.powi(j as i32) / sc.powi(j as i32 - 1) + j as f64),
                    }
                })
                .sum::<f64>()
        })
        .fold(0.0, f64::max)
}

impl CostModel for FssCostModel {
    fn piecewise_cost(&self, pp: &PiecewisePoly) -> Cost {
        self.encoded_cost(&self.encoded(pp))
    }
    fn failure_bound(&self, pp: &PiecewisePoly, input_bound: f64) -> f64 {
        self.local_failure_bound(&self.encoded(pp), input_bound)
    }
    /// Online bytes + `key_weight` × offline bytes per party (module docs).
    fn scalar(&self, cost: &Cost) -> f64 {
        cost.bytes_per_party.get() as f64 + self.key_weight * cost.offline_bytes_per_party.get() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Polynomial, Tail};

    #[test]
    fn pieces_cost_keys_not_rounds() {
        let pp = |m: usize, d: usize| {
            let bps: Vec<f64> = (0..=m).map(|i| -4.0 + 8.0 * i as f64 / m as f64).collect();
            let pieces = (0..m).map(|i| Polynomial::new((0..=d).map(|j| 0.1 * (1 + i + j) as f64).collect())).collect();
            PiecewisePoly::new(Tail::Zero, bps, pieces, Tail::Identity).unwrap()
        };
        let model = FssCostModel::default().with_truncation(Truncation::Local);
        let (a, b) = (model.piecewise_cost(&pp(1, 1)), model.piecewise_cost(&pp(6, 1)));
        // Degree ≤ 1 is the fused gate: 1 round and 8 B whatever the pieces. Its DCF payload is two words (the G
        // part and the bare indicator); the dealt constant has one word plus one selection word per sloped segment
        // (the zero tail has none): 1 + 2 words for one piece, 1 + 7 for six; m = pieces + 2 keys.
        assert_eq!((a.rounds, a.bytes_per_party, b.rounds, b.bytes_per_party), (Rounds(1), Bytes(8), Rounds(1), Bytes(8)));
        assert_eq!(a.offline_bytes_per_party, Bytes(8 + 8 * 3 + 3 * dcf_key_bytes(64, 2)));
        assert_eq!(b.offline_bytes_per_party, Bytes(8 + 8 * 8 + 8 * dcf_key_bytes(64, 2)));
        assert_eq!(a.aes_calls_per_party, Count(3 * (2 * 64 + 1)));
        assert_eq!(b.aes_calls_per_party, Count(8 * (2 * 64 + 1)));
        assert!(model.scalar(&b) > model.scalar(&a));
        // Degree 4, dealer pair: powers x², x³, x⁴ in 2 levels of 2 rounds, then the product round and the
        // truncation: 2·2 + 1 + 1 rounds.
        let c = FssCostModel::default().piecewise_cost(&pp(2, 4));
        assert_eq!(c.rounds, Rounds(6));
        assert_eq!(c.bytes_per_party, Bytes(8 + (8 + 8) + (16 + 8) + (8 + 8) + 3 * 16 + 8));
    }
}
