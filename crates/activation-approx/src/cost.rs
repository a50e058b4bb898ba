//! The workspace's one cost type, [`Cost`] (rounds, online and offline bytes per party, comparisons,
//! multiplications, AES calls; composed with [`Cost::then`], [`Cost::par`], [`Cost::times`]), and the structure
//! search's fast price of a piecewise polynomial: a closed form of what the secure spline protocol
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
use crate::quantity::{Bytes, Count, Rounds};

/// The cost of a secure (sub-)protocol, the one cost type of the workspace: what mpc-sim's meter counts, what its
/// cost evaluators predict, what the structure search prices and what every table and record reports. Bytes are
/// those ONE party sends (online) or receives from the dealer (offline); the wire carries twice the online figure.
///
/// Composition, for costs a = (r_a, b_a, o_a, c_a) with r rounds, b online bytes, o offline bytes and c any of the
/// counts (comparisons, multiplications, AES calls):
/// - [`Cost::then`] (a then b, sequential): (r_a + r_b, b_a + b_b, o_a + o_b, c_a + c_b);
/// - [`Cost::par`] (a beside b, concurrent branches whose messages share exchanges): (max(r_a, r_b), b_a + b_b,
///   o_a + o_b, c_a + c_b);
/// - [`Cost::times`] (the same protocol on n elements at once): (r, n·b, n·o, n·c).
///
/// Both compositions are associative and commutative in the bytes and counts, with [`Cost::ZERO`] as identity;
/// `times` distributes over both (n·(a ∥ b) = n·a ∥ n·b, n·(a; b) = n·a; n·b) and `times(1)` is the identity.
///
/// There is no `Serialize`: each on-disk layout names the fields it stores ([`layout`]), so records written before
/// this type existed parse and print unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cost {
    /// Communication rounds on the critical path (one simultaneous exchange each).
    pub rounds: Rounds,
    /// Bytes sent online by one party (the protocols are symmetric; the meter reports the larger of the two).
    pub bytes_per_party: Bytes,
    /// Dealer material (Beaver triples, truncation pairs, FSS keys and masks) received by one party.
    pub offline_bytes_per_party: Bytes,
    /// Secure comparisons (elements compared).
    pub comparisons: Count,
    /// Secure elementwise multiplications (squares included).
    pub multiplications: Count,
    /// AES calls one party makes online to evaluate FSS keys (0 on the Beaver backend).
    pub aes_calls_per_party: Count,
    /// AES calls the dealer makes to generate FSS keys.
    pub dealer_aes_calls: Count,
}

impl Cost {
    /// The cost of doing nothing, the identity of [`Cost::then`] and [`Cost::par`].
    pub const ZERO: Cost = Cost {
        rounds: Rounds::ZERO,
        bytes_per_party: Bytes::ZERO,
        offline_bytes_per_party: Bytes::ZERO,
        comparisons: Count::ZERO,
        multiplications: Count::ZERO,
        aes_calls_per_party: Count::ZERO,
        dealer_aes_calls: Count::ZERO,
    };

    /// A communication cost: `rounds`, online bytes and offline bytes per party (no counts).
    pub const fn communication(rounds: u64, bytes_per_party: u64, offline_bytes_per_party: u64) -> Cost {
        Cost {
            rounds: Rounds(rounds),
            bytes_per_party: Bytes(bytes_per_party),
            offline_bytes_per_party: Bytes(offline_bytes_per_party),
            ..Cost::ZERO
        }
    }

    /// The same cost with the AES work of FSS key evaluation (per party, online) and generation (dealer).
    pub const fn with_aes_calls(self, per_party: u64, dealer: u64) -> Cost {
        Cost { aes_calls_per_party: Count(per_party), dealer_aes_calls: Count(dealer), ..self }
    }

    /// Sequential composition: `self`, then `o`. Rounds, bytes and counts add.
    pub fn then(self, o: Cost) -> Cost {
        Cost { rounds: self.rounds + o.rounds, ..self.add_amounts(o) }
    }

    /// Parallel composition: `self` beside `o` (their messages share exchanges). Rounds take the max, bytes and
    /// counts add.
    pub fn par(self, o: Cost) -> Cost {
        Cost { rounds: self.rounds.max(o.rounds), ..self.add_amounts(o) }
    }

    /// The same protocol on `n` elements at once: bytes and counts scale by n, rounds do not.
    pub fn times(self, n: u64) -> Cost {
        Cost {
            rounds: self.rounds,
            bytes_per_party: self.bytes_per_party * n,
            offline_bytes_per_party: self.offline_bytes_per_party * n,
            comparisons: self.comparisons * n,
            multiplications: self.multiplications * n,
            aes_calls_per_party: self.aes_calls_per_party * n,
            dealer_aes_calls: self.dealer_aes_calls * n,
        }
    }

    /// Bytes and counts summed, rounds of `self`.
    fn add_amounts(self, o: Cost) -> Cost {
        Cost {
            rounds: self.rounds,
            bytes_per_party: self.bytes_per_party + o.bytes_per_party,
            offline_bytes_per_party: self.offline_bytes_per_party + o.offline_bytes_per_party,
            comparisons: self.comparisons + o.comparisons,
            multiplications: self.multiplications + o.multiplications,
            aes_calls_per_party: self.aes_calls_per_party + o.aes_calls_per_party,
            dealer_aes_calls: self.dealer_aes_calls + o.dealer_aes_calls,
        }
    }
}

/// The JSON layouts a [`Cost`] is stored in, for `#[serde(with = "...")]` on a `Cost` field. Each writes and reads
/// exactly the fields its files have always had, under the same names and in the same order, so committed files
/// parse and new ones are byte-identical to the old ones; a field the layout does not store reads back as 0.
pub mod layout {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Cost;
    use crate::quantity::{Bytes, Count, Rounds};

    /// Per-element cost of an approximation (the approximation file's `cost`):
    /// `{"rounds", "bytes_per_party", "comparisons", "multiplications"}`.
    pub mod element {
        use super::*;

        #[derive(Serialize, Deserialize)]
        struct Element {
            rounds: Rounds,
            bytes_per_party: Bytes,
            comparisons: Count,
            multiplications: Count,
            /// Only an FSS price has offline bytes and AES calls; omitted when 0, so Beaver files are unchanged.
            #[serde(default, skip_serializing_if = "Bytes::is_zero")]
            offline_bytes_per_party: Bytes,
            #[serde(default, skip_serializing_if = "Count::is_zero")]
            aes_calls: Count,
        }

        /// Writes the element layout.
        pub fn serialize<S: Serializer>(c: &Cost, s: S) -> Result<S::Ok, S::Error> {
            Element {
                rounds: c.rounds,
                bytes_per_party: c.bytes_per_party,
                comparisons: c.comparisons,
                multiplications: c.multiplications,
                offline_bytes_per_party: c.offline_bytes_per_party,
                aes_calls: c.aes_calls_per_party,
            }
            .serialize(s)
        }

        /// Reads the element layout.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Cost, D::Error> {
            let e = Element::deserialize(d)?;
            Ok(Cost {
                rounds: e.rounds,
                bytes_per_party: e.bytes_per_party,
                comparisons: e.comparisons,
                multiplications: e.multiplications,
                offline_bytes_per_party: e.offline_bytes_per_party,
                aes_calls_per_party: e.aes_calls,
                ..Cost::ZERO
            })
        }
    }

    /// Communication of a run (records and secure-inference reports):
    /// `{"rounds", "bytes_per_party", "offline_bytes_per_party"}`.
    pub mod communication {
        use super::*;

        #[derive(Serialize, Deserialize)]
        struct Communication {
            rounds: Rounds,
            bytes_per_party: Bytes,
            offline_bytes_per_party: Bytes,
        }

        /// Writes the communication layout.
        pub fn serialize<S: Serializer>(c: &Cost, s: S) -> Result<S::Ok, S::Error> {
            Communication { rounds: c.rounds, bytes_per_party: c.bytes_per_party, offline_bytes_per_party: c.offline_bytes_per_party }
                .serialize(s)
        }

        /// Reads the communication layout.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Cost, D::Error> {
            let c = Communication::deserialize(d)?;
            Ok(Cost { rounds: c.rounds, bytes_per_party: c.bytes_per_party, offline_bytes_per_party: c.offline_bytes_per_party, ..Cost::ZERO })
        }
    }
}

/// The encoding a cost model prices: `pp` encoded at `fx`, or, when a coefficient does not encode, the same
/// structure with every coefficient nonzero (an upper bound).
pub(crate) fn encoded_for_pricing(pp: &PiecewisePoly, fx: FixedPoint) -> EncodedPiecewise {
    pp.encode(&fx).unwrap_or_else(|_| EncodedPiecewise {
        fx,
        thresholds: pp.breakpoints.iter().map(|_| 0).collect(),
        segments: pp.segments().iter().enumerate().map(|(i, s)| vec![i as i64 + 1; s.effective_degree() + 1]).collect(),
        max_degree: pp.max_degree(),
    })
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
        cost.bytes_per_party.get() as f64
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

    fn encoded(&self, pp: &PiecewisePoly) -> EncodedPiecewise {
        encoded_for_pricing(pp, self.fx)
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
            rounds: Rounds(u64::from(before + u32::from(poly_diffs > 0) + tr)),
            bytes_per_party: Bytes(n_cmp as u64 * self.cmp_bytes + poly_diffs as u64 * self.mul_bytes + bytes + tb),
            comparisons: Count(u64::from(n_cmp)),
            multiplications: Count(u64::from(mults + poly_diffs)),
            ..Cost::ZERO
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
        let want = Cost {
            rounds: Rounds(9),
            bytes_per_party: Bytes(4 * 64 + 16 + 2 * 16),
            comparisons: Count(4),
            multiplications: Count(2 + 2),
            ..Cost::ZERO
        };
        assert_eq!(c, want);
        let d = TwoPartyCostModel::default().with_truncation(Truncation::DealerPair).piecewise_cost(&pp);
        assert_eq!(d.rounds, Rounds(10));
        assert_eq!(d.bytes_per_party, Bytes(4 * 64 + 16 + 2 * 16 + 2 * 8 + 8));
        assert_eq!(TwoPartyCostModel::default().with_truncation(Truncation::DealerPair).failure_bound(&pp, 8.0), 0.0);
        // x⁴ on |x| ≤ 8: the raw x⁴ reaches 2^44·2^… — the bound grows with the range.
        let m = TwoPartyCostModel::default().with_truncation(Truncation::Local);
        assert!(m.failure_bound(&pp, 8.0) > m.failure_bound(&pp, 2.0));
    }

    fn c(r: u64, b: u64, o: u64, n: u64) -> Cost {
        Cost { comparisons: Count(n), multiplications: Count(2 * n), ..Cost::communication(r, b, o) }.with_aes_calls(3 * n, 5 * n)
    }

    #[test]
    fn composition_laws() {
        let (a, b, d) = (c(3, 16, 24, 1), c(8, 64, 104, 2), c(1, 8, 0, 0));
        // Identity.
        for x in [a, b, d] {
            assert_eq!(x.then(Cost::ZERO), x);
            assert_eq!(Cost::ZERO.then(x), x);
            assert_eq!(x.par(Cost::ZERO), x);
            assert_eq!(x.times(1), x);
        }
        // Associativity and commutativity of the parallel composition.
        assert_eq!(a.then(b).then(d), a.then(b.then(d)));
        assert_eq!(a.par(b).par(d), a.par(b.par(d)));
        assert_eq!(a.par(b), b.par(a));
        // The laws themselves: then adds rounds, par takes the max; both add bytes and counts.
        assert_eq!(a.then(b), Cost { comparisons: Count(3), multiplications: Count(6), ..Cost::communication(11, 80, 128) }.with_aes_calls(9, 15));
        assert_eq!(a.par(b), Cost { rounds: Rounds(8), ..a.then(b) });
        // times scales bytes and counts, not rounds, and distributes over both compositions.
        assert_eq!(b.times(4), Cost { comparisons: Count(8), multiplications: Count(16), ..Cost::communication(8, 256, 416) }.with_aes_calls(24, 40));
        assert_eq!(a.par(b).times(7), a.times(7).par(b.times(7)));
        assert_eq!(a.then(b).times(7), a.times(7).then(b.times(7)));
        assert_eq!(Cost::ZERO.times(9), Cost::ZERO);
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Element {
        #[serde(with = "layout::element")]
        cost: Cost,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Communication {
        #[serde(with = "layout::communication")]
        cost: Cost,
    }

    #[test]
    fn layouts_keep_the_field_names_and_numbers() {
        // The approximation file's cost, as written before the one cost type existed (rounds were u32 then).
        let old = r#"{"cost":{"rounds":9,"bytes_per_party":224,"comparisons":2,"multiplications":7}}"#;
        let e: Element = serde_json::from_str(old).unwrap();
        let want = Cost { comparisons: Count(2), multiplications: Count(7), ..Cost::communication(9, 224, 0) };
        assert_eq!(e.cost, want);
        assert_eq!(serde_json::to_string(&e).unwrap(), old);
        // A record's communication cost, as the records and secure reports have always stored it.
        let old = r#"{"cost":{"rounds":28,"bytes_per_party":217424,"offline_bytes_per_party":423360}}"#;
        let m: Communication = serde_json::from_str(old).unwrap();
        assert_eq!(m.cost, Cost::communication(28, 217424, 423360));
        assert_eq!(serde_json::to_string(&m).unwrap(), old);
        // Round trip of a cost with every field set keeps exactly the fields the layout stores.
        let full = c(3, 16, 24, 1);
        let back: Communication = serde_json::from_str(&serde_json::to_string(&Communication { cost: full }).unwrap()).unwrap();
        assert_eq!(back.cost, Cost::communication(3, 16, 24));
        let back: Element = serde_json::from_str(&serde_json::to_string(&Element { cost: full }).unwrap()).unwrap();
        // The element layout also keeps an FSS price's offline bytes and online AES calls (omitted when 0, as above).
        let want = Cost { comparisons: Count(1), multiplications: Count(2), ..Cost::communication(3, 16, 24) };
        assert_eq!(back.cost, want.with_aes_calls(full.aes_calls_per_party.get(), 0));
        let fss = r#"{"cost":{"rounds":1,"bytes_per_party":8,"comparisons":2,"multiplications":0,"offline_bytes_per_party":7880,"aes_calls":582}}"#;
        let e: Element = serde_json::from_str(fss).unwrap();
        assert_eq!(e.cost, Cost { comparisons: Count(2), ..Cost::communication(1, 8, 7880).with_aes_calls(582, 0) });
        assert_eq!(serde_json::to_string(&e).unwrap(), fss);
        // A missing field is an error, as it was.
        assert!(serde_json::from_str::<Element>(r#"{"cost":{"rounds":9,"bytes_per_party":224,"comparisons":2}}"#).is_err());
    }
}
