//! The cost predictor: what a protocol costs, without running it.
//!
//! Two ways, which the tests check against each other and against the metered channel:
//! - closed forms per protocol ([`mul`], [`ltz`], [`piecewise`], …), in [`CommCost`] for n elements;
//! - the [`CostEvaluator`], a third [`Evaluator`] whose values carry only their [`Meta`]: any recipe (an activation,
//!   a layer, a whole model) run on it yields its exact rounds, bytes and offline bytes in O(#operations) time,
//!   attributed to the same labels as the secure run.
//!
//! Per element, bytes sent by one party / dealer bytes received by one party:
//!
//! | protocol | rounds | online B | offline B |
//! |---|---|---|---|
//! | Beaver product | 1 | 16 | 24 |
//! | square | 1 | 8 | 16 |
//! | truncation, local / dealer pair | 0 / 1 | 0 / 8 | 0 / 24 |
//! | LTZ (msb 7 + b2a 1) | 8 | 56 + 8 | 100 |
//! | reveal | 1 | 8 | 0 |
//! | matrix product m×k·k×n (whole) | 1 | 8(mk + kn) | 8(mk + kn + mn) |
//! | fixing a k×n right operand (once) | 1 | 8kn | 8kn |
//! | product m×k · fixed k×n | 1 | 8mk | 8(mk + mn) |
//! | reveal to one party | 1 | 8 (sender) | 0 |

use activation_approx::fixed::power_tree_depth;
use activation_approx::{EncodedPiecewise, FixedPoint, PiecewisePoly, Truncation, TwoPartyCostModel};

use crate::error::Result;
use crate::evaluator::{self, Evaluator};
use crate::meter::{Channel, CommCost, Stats};
use crate::share::{Meta, Party};

/// Per-level bytes (per element, per party) of the LTZ: the 64-bit AND, the six carry levels, the b2a.
pub const LTZ_LEVEL_BYTES: [u64; 8] = [16, 16, 8, 4, 4, 4, 4, 8];
/// Per-level dealer bytes (per element, per party) of the LTZ.
pub const LTZ_LEVEL_OFFLINE: [u64; 8] = [24, 24, 12, 6, 6, 6, 6, 16];

fn n64(n: usize) -> u64 {
    n as u64
}

/// Beaver products of n elements.
pub fn mul(n: usize) -> CommCost {
    CommCost::new(1, 16, 24).times(n64(n))
}

/// Squares of n elements.
pub fn square(n: usize) -> CommCost {
    CommCost::new(1, 8, 16).times(n64(n))
}

/// Truncation of n elements.
pub fn truncate(n: usize, t: Truncation) -> CommCost {
    match t {
        Truncation::Local => CommCost::default(),
        Truncation::DealerPair => CommCost::new(1, 8, 24).times(n64(n)),
    }
}

/// LTZ of n elements.
pub fn ltz(n: usize) -> CommCost {
    CommCost::new(8, LTZ_LEVEL_BYTES.iter().sum(), LTZ_LEVEL_OFFLINE.iter().sum()).times(n64(n))
}

/// Reveal of n elements.
pub fn reveal(n: usize) -> CommCost {
    CommCost::new(1, 8, 0).times(n64(n))
}

/// Matrix product m×k · k×n (without truncation).
pub fn matmul(m: usize, k: usize, n: usize) -> CommCost {
    CommCost::new(1, 8 * n64(m * k + k * n), 8 * n64(m * k + k * n + m * n))
}

/// Masking and opening a fixed k×n right operand once ([`Evaluator::fix_right`]).
pub fn fix_right(k: usize, n: usize) -> CommCost {
    CommCost::new(1, 8 * n64(k * n), 8 * n64(k * n))
}

/// Product m×k · (fixed k×n) without truncation ([`Evaluator::matmul_fixed_raw`]); with [`fix_right`] it sends
/// exactly the bytes of [`matmul`].
pub fn matmul_fixed(m: usize, k: usize, n: usize) -> CommCost {
    CommCost::new(1, 8 * n64(m * k), 8 * n64(m * k + m * n))
}

/// Fixed-point product (Beaver + truncation).
pub fn mul_trunc(n: usize, t: Truncation) -> CommCost {
    mul(n).then(truncate(n, t))
}

/// The power tree x² … x^d on n elements (levels of concurrent products, each followed by its truncation).
pub fn powers(n: usize, degree: usize, t: Truncation) -> CommCost {
    let mut total = CommCost::default();
    for level in 1..=power_tree_depth(degree) {
        let mut lvl = CommCost::default();
        for k in (2..=degree).filter(|&k| power_tree_depth(k) == level) {
            let p = if k.is_power_of_two() { square(n) } else { mul(n) };
            lvl = lvl.par(p.then(truncate(n, t)));
        }
        total = total.then(lvl);
    }
    total
}

/// Secure piecewise evaluation ([`crate::recipes::piecewise`]) of n elements with `n_thresholds` comparisons and
/// largest degree `degree`.
pub fn piecewise_shape(n: usize, n_thresholds: usize, degree: usize, t: Truncation) -> CommCost {
    let cmp = ltz(n * n_thresholds);
    cmp.par(powers(n, degree, t)).then(mul(n * n_thresholds)).then(truncate(n, t))
}

/// Secure piecewise evaluation of `pp` on n elements.
pub fn piecewise(pp: &PiecewisePoly, n: usize, t: Truncation) -> CommCost {
    piecewise_shape(n, pp.n_comparisons(), pp.max_degree(), t)
}

/// Secure piecewise evaluation of an encoded approximation on n elements.
pub fn piecewise_encoded(pw: &EncodedPiecewise, n: usize, t: Truncation) -> CommCost {
    piecewise_shape(n, pw.thresholds.len(), pw.max_degree, t)
}

/// The `activation_approx` cost model with this backend's protocol constants (equal to its default for
/// local truncation).
pub fn cost_model(t: Truncation) -> TwoPartyCostModel {
    TwoPartyCostModel { cmp_rounds: 8, cmp_bytes: ltz(1).bytes_per_party, mul_bytes: 16, square_bytes: 8, truncation: t }
}

/// A value of the [`CostEvaluator`]: metadata only.
#[derive(Debug, Clone, PartialEq)]
pub struct CostValue {
    /// Setting, scale and shape.
    pub meta: Meta,
}

/// The cost-only evaluator: every operation charges its closed-form cost to a [`Channel`] (clock, labels,
/// parallel branches exactly as in the secure run) and computes nothing.
#[derive(Debug, Clone)]
pub struct CostEvaluator {
    fx: FixedPoint,
    truncation: Truncation,
    chan: Channel,
}

impl CostEvaluator {
    /// A cost evaluator for the given setting and truncation protocol.
    pub fn new(fx: FixedPoint, truncation: Truncation) -> Self {
        CostEvaluator { fx, truncation, chan: Channel::new() }
    }

    /// The predicted totals.
    pub fn total(&self) -> Stats {
        self.chan.total()
    }

    /// The channel holding the predicted counters (with labels).
    pub fn channel(&self) -> &Channel {
        &self.chan
    }

    fn charge(&mut self, c: CommCost) {
        // Spread the rounds: bytes on the first round (the split does not matter for totals).
        for r in 0..c.rounds {
            let b = if r == 0 { c.bytes_per_party } else { 0 };
            self.chan.charge_round([b, b]);
        }
        if c.rounds == 0 && c.bytes_per_party > 0 {
            self.chan.charge_round([c.bytes_per_party; 2]);
        }
        self.chan.offline([c.offline_bytes_per_party; 2]);
    }

    /// Charges a closed-form cost (for evaluators that wrap this one, e.g. the FSS cost evaluator).
    pub(crate) fn charge_external(&mut self, c: CommCost) {
        self.charge(c);
    }

    /// The predicted channel, mutably (for wrapping evaluators' parallel branches and labels).
    pub(crate) fn channel_mut(&mut self) -> &mut Channel {
        &mut self.chan
    }

    fn v(&self, m: Meta) -> Result<CostValue> {
        m.check_fx("cost op", &self.fx)?;
        Ok(CostValue { meta: m })
    }
}

impl Evaluator for CostEvaluator {
    type Value = CostValue;
    type Fixed = CostValue;

    fn fixed_point(&self) -> FixedPoint {
        self.fx
    }

    fn meta(v: &CostValue) -> &Meta {
        &v.meta
    }

    fn input(&mut self, xs: &[f64], shape: &[usize]) -> Result<CostValue> {
        for &x in xs {
            self.fx.encode(x)?;
        }
        Meta::check_len(xs.len(), shape)?;
        self.v(Meta { fx: self.fx, scale: self.fx.frac_bits, shape: shape.to_vec() })
    }

    fn input_raw(&mut self, xs: &[i64], shape: &[usize], scale: u32) -> Result<CostValue> {
        Meta::check_len(xs.len(), shape)?;
        self.v(Meta { fx: self.fx, scale, shape: shape.to_vec() })
    }

    fn reveal_raw(&mut self, v: &CostValue) -> Result<Vec<i64>> {
        v.meta.check_fx("reveal", &self.fx)?;
        self.charge(reveal(v.meta.len()));
        Ok(vec![0; v.meta.len()])
    }

    fn reveal_to_raw(&mut self, v: &CostValue, to: Party) -> Result<Vec<i64>> {
        v.meta.check_fx("reveal", &self.fx)?;
        let b = reveal(v.meta.len()).bytes_per_party;
        // The party that does not receive sends its share.
        self.chan.charge_round(if to.is_first() { [0, b] } else { [b, 0] });
        Ok(vec![0; v.meta.len()])
    }

    fn add(&mut self, a: &CostValue, b: &CostValue) -> Result<CostValue> {
        a.meta.check_same("add", &b.meta)?;
        self.v(a.meta.clone())
    }

    fn sub(&mut self, a: &CostValue, b: &CostValue) -> Result<CostValue> {
        a.meta.check_same("sub", &b.meta)?;
        self.v(a.meta.clone())
    }

    fn neg(&mut self, a: &CostValue) -> Result<CostValue> {
        self.v(a.meta.clone())
    }

    fn add_const_raw(&mut self, a: &CostValue, _c: i64) -> Result<CostValue> {
        self.v(a.meta.clone())
    }

    fn mul_const_raw(&mut self, a: &CostValue, _k: i64, k_scale: u32) -> Result<CostValue> {
        self.v(a.meta.with_scale(Meta::product_scale("mul_const", a.meta.scale, k_scale)?))
    }

    fn concat(&mut self, vs: &[&CostValue]) -> Result<CostValue> {
        self.v(evaluator::concat_meta(self.fx, &vs.iter().map(|v| &v.meta).collect::<Vec<_>>())?)
    }

    fn split(&mut self, v: &CostValue, sizes: &[usize]) -> Result<Vec<CostValue>> {
        evaluator::check_split(v.meta.len(), sizes)?;
        sizes.iter().map(|&s| self.v(v.meta.with_shape(vec![s]))).collect()
    }

    fn reshape(&mut self, v: &CostValue, shape: &[usize]) -> Result<CostValue> {
        Meta::check_len(v.meta.len(), shape)?;
        self.v(v.meta.with_shape(shape.to_vec()))
    }

    fn gather(&mut self, v: &CostValue, idx: &[Option<usize>], shape: &[usize]) -> Result<CostValue> {
        evaluator::check_gather(v.meta.len(), idx, shape)?;
        self.v(v.meta.with_shape(shape.to_vec()))
    }

    fn sum_groups(&mut self, v: &CostValue, group: usize, shape: &[usize]) -> Result<CostValue> {
        evaluator::check_groups(v.meta.len(), group, shape)?;
        self.v(v.meta.with_shape(shape.to_vec()))
    }

    fn matmul_public_raw(&mut self, a: &CostValue, w: &[i64], n: usize, w_scale: u32) -> Result<CostValue> {
        let (m, _) = evaluator::check_matmul_public(&a.meta, w.len(), n)?;
        let scale = Meta::product_scale("matmul_public", a.meta.scale, w_scale)?;
        self.v(Meta { fx: self.fx, scale, shape: vec![m, n] })
    }

    fn mul_raw(&mut self, a: &CostValue, b: &CostValue) -> Result<CostValue> {
        let meta = evaluator::product_meta("mul", &a.meta, &b.meta)?;
        self.charge(mul(a.meta.len()));
        self.v(meta)
    }

    fn square_raw(&mut self, a: &CostValue) -> Result<CostValue> {
        let meta = evaluator::product_meta("square", &a.meta, &a.meta)?;
        self.charge(square(a.meta.len()));
        self.v(meta)
    }

    fn truncate(&mut self, a: &CostValue) -> Result<CostValue> {
        let scale = evaluator::check_truncate(&a.meta)?;
        self.charge(truncate(a.meta.len(), self.truncation));
        self.v(a.meta.with_scale(scale))
    }

    fn ltz(&mut self, a: &CostValue) -> Result<CostValue> {
        let n = n64(a.meta.len());
        for (b, o) in LTZ_LEVEL_BYTES.iter().zip(LTZ_LEVEL_OFFLINE) {
            self.chan.charge_round([b * n; 2]);
            self.chan.offline([o * n; 2]);
        }
        self.v(a.meta.with_scale(0))
    }

    fn matmul_raw(&mut self, a: &CostValue, b: &CostValue) -> Result<CostValue> {
        let (m, k, n) = evaluator::matmul_dims(&a.meta, &b.meta)?;
        let scale = Meta::product_scale("matmul", a.meta.scale, b.meta.scale)?;
        self.charge(matmul(m, k, n));
        self.v(Meta { fx: self.fx, scale, shape: vec![m, n] })
    }

    fn fix_right(&mut self, w: &CostValue) -> Result<CostValue> {
        w.meta.check_fx("fix_right", &self.fx)?;
        let (k, n) = evaluator::fixed_dims(&w.meta)?;
        self.charge(fix_right(k, n));
        Ok(w.clone())
    }

    fn matmul_fixed_raw(&mut self, a: &CostValue, w: &CostValue) -> Result<CostValue> {
        let (m, k, n) = evaluator::matmul_dims(&a.meta, &w.meta)?;
        let scale = Meta::product_scale("matmul", a.meta.scale, w.meta.scale)?;
        self.charge(matmul_fixed(m, k, n));
        self.v(Meta { fx: self.fx, scale, shape: vec![m, n] })
    }

    fn parallel<T>(&mut self, n: usize, mut f: impl FnMut(&mut Self, usize) -> Result<T>) -> Result<Vec<T>> {
        self.chan.fork();
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            if i > 0 {
                self.chan.next_branch();
            }
            match f(self, i) {
                Ok(v) => out.push(v),
                Err(e) => {
                    self.chan.join();
                    return Err(e);
                }
            }
        }
        self.chan.join();
        Ok(out)
    }

    fn scope<T>(&mut self, label: &str, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.chan.enter(label);
        let r = f(self);
        self.chan.exit();
        r
    }
}
