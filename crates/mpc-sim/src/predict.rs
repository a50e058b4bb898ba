//! The cost predictor: what a protocol costs, without running it.
//!
//! The [`CostEvaluator`] is the third [`Evaluator`]: its values carry only their [`Meta`] and a bound on their
//! magnitude, and every primitive charges its closed form ([`mul`], [`square`], [`ltz`], … for n elements, the
//! tests compare each with the metered channel). Any program (an activation, a layer, a whole model) run on it yields
//! its exact rounds, bytes and offline bytes in O(#operations) time, attributed to the same labels as the secure
//! run; composite costs (a power tree, a spline) are never written in closed form here, they are what the program
//! charges.
//!
//! # Local-truncation failure bound
//! SecureML's local truncation of a shared value v errs (by ±2^(64−k)) exactly when the shares wrap, with
//! probability ≤ |v|/2^63 over the uniform share. The evaluator propagates an upper bound on |v| (in ring units)
//! from a declared input bound ([`CostEvaluator::with_input_bound`], else the largest input actually given) through
//! every operation (max-abs rules: sums add bounds, products multiply them, a comparison gives 1, a truncation by k
//! divides by 2^k and adds 1), and sums max|v|/2^63 over every element of every local truncation
//! ([`CostEvaluator::failure_mass`]): divided by the number of inputs it bounds the per-element probability that any
//! truncation of the evaluation fails (a union bound). Dealer-pair truncation is exact for |v| < 2^62 and adds
//! nothing.
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
//! | input sharing | 1 | 8 (owner) | 0 |

use activation_approx::{Cost, FixedPoint, Truncation};

use crate::error::Result;
use crate::evaluator::{self, Evaluator};
use crate::meter::{Channel, Stats};
use crate::share::{Meta, Party};

/// Per-level bytes (per element, per party) of the LTZ: the 64-bit AND, the six carry levels, the b2a.
pub const LTZ_LEVEL_BYTES: [u64; 8] = [16, 16, 8, 4, 4, 4, 4, 8];
/// Per-level dealer bytes (per element, per party) of the LTZ.
pub const LTZ_LEVEL_OFFLINE: [u64; 8] = [24, 24, 12, 6, 6, 6, 6, 16];

fn n64(n: usize) -> u64 {
    n as u64
}

/// Beaver products of n elements.
pub fn mul(n: usize) -> Cost {
    Cost::communication(1, 16, 24).times(n64(n))
}

/// Squares of n elements.
pub fn square(n: usize) -> Cost {
    Cost::communication(1, 8, 16).times(n64(n))
}

/// Truncation of n elements.
pub fn truncate(n: usize, t: Truncation) -> Cost {
    match t {
        Truncation::Local => Cost::ZERO,
        Truncation::DealerPair => Cost::communication(1, 8, 24).times(n64(n)),
    }
}

/// LTZ of n elements.
pub fn ltz(n: usize) -> Cost {
    Cost::communication(8, LTZ_LEVEL_BYTES.iter().sum(), LTZ_LEVEL_OFFLINE.iter().sum()).times(n64(n))
}

/// Reveal of n elements.
pub fn reveal(n: usize) -> Cost {
    Cost::communication(1, 8, 0).times(n64(n))
}

/// Matrix product m×k · k×n (without truncation).
pub fn matmul(m: usize, k: usize, n: usize) -> Cost {
    Cost::communication(1, 8 * n64(m * k + k * n), 8 * n64(m * k + k * n + m * n))
}

/// Input sharing of n elements ([`Evaluator::input_raw`]): the owner sends the other party its share (bytes are the
/// owner's; the other party sends nothing).
pub fn input(n: usize) -> Cost {
    Cost::communication(1, 8 * n64(n), 0)
}

/// Masking and opening a fixed k×n right operand once ([`Evaluator::fix_right`]).
pub fn fix_right(k: usize, n: usize) -> Cost {
    Cost::communication(1, 8 * n64(k * n), 8 * n64(k * n))
}

/// Product m×k · (fixed k×n) without truncation ([`Evaluator::matmul_fixed_raw`]); with [`fix_right`] it sends
/// exactly the bytes of [`matmul`].
pub fn matmul_fixed(m: usize, k: usize, n: usize) -> Cost {
    Cost::communication(1, 8 * n64(m * k), 8 * n64(m * k + m * n))
}

/// A value of the [`CostEvaluator`]: metadata and a magnitude bound.
#[derive(Debug, Clone, PartialEq)]
pub struct CostValue {
    /// Setting, scale and shape.
    pub meta: Meta,
    /// Upper bound on |v| of every element, in ring units (the integer the ring element stands for).
    pub bound: f64,
}

/// The cost-only evaluator: every operation charges its closed-form cost to a [`Channel`] (clock, labels,
/// parallel branches exactly as in the secure run) and computes nothing.
#[derive(Debug, Clone)]
pub struct CostEvaluator {
    fx: FixedPoint,
    truncation: Truncation,
    chan: Channel,
    input_bound: Option<f64>,
    failure: f64,
    comparisons: u64,
    multiplications: u64,
}

impl CostEvaluator {
    /// A cost evaluator for the given setting and truncation protocol.
    pub fn new(fx: FixedPoint, truncation: Truncation) -> Self {
        CostEvaluator { fx, truncation, chan: Channel::new(), input_bound: None, failure: 0.0, comparisons: 0, multiplications: 0 }
    }

    /// The same, declaring that every real input has |x| ≤ `bound` (used for the failure bound instead of the
    /// inputs actually passed to [`Evaluator::input`]; raw inputs keep their own magnitude).
    pub fn with_input_bound(mut self, bound: f64) -> Self {
        self.input_bound = Some(bound.abs());
        self
    }

    /// The truncation protocol priced.
    pub fn truncation(&self) -> Truncation {
        self.truncation
    }

    /// Σ over every element of every local truncation of max|v|/2^63: the expected number of failed truncations
    /// is at most this (module docs). 0 under dealer-pair truncation.
    pub fn failure_mass(&self) -> f64 {
        self.failure
    }

    /// Elements compared ([`Evaluator::ltz`]) and elementwise products (Beaver products and squares) so far.
    pub fn op_counts(&self) -> (u64, u64) {
        (self.comparisons, self.multiplications)
    }

    /// The predicted totals.
    pub fn total(&self) -> Stats {
        self.chan.total()
    }

    /// The channel holding the predicted counters (with labels).
    pub fn channel(&self) -> &Channel {
        &self.chan
    }

    fn charge(&mut self, c: Cost) {
        // Spread the rounds: bytes on the first round (the split does not matter for totals).
        let (rounds, bytes) = (c.rounds.get(), c.bytes_per_party.get());
        for r in 0..rounds {
            let b = if r == 0 { bytes } else { 0 };
            self.chan.charge_round([b, b]);
        }
        if rounds == 0 && bytes > 0 {
            self.chan.charge_round([bytes; 2]);
        }
        self.chan.offline([c.offline_bytes_per_party.get(); 2]);
    }

    /// Charges a closed-form cost (for evaluators that wrap this one, e.g. the FSS cost evaluator).
    pub(crate) fn charge_external(&mut self, c: Cost) {
        self.charge(c);
    }

    /// The predicted channel, mutably (for wrapping evaluators' parallel branches and labels).
    pub(crate) fn channel_mut(&mut self) -> &mut Channel {
        &mut self.chan
    }

    /// Input sharing of `n` elements by `owner`: one round in which the owner sends 8 B per element.
    fn charge_input(&mut self, owner: Party, n: usize) {
        let b = input(n).bytes_per_party.get();
        self.chan.charge_round(if owner.is_first() { [b, 0] } else { [0, b] });
    }

    /// Zeroes the predicted counters (as [`crate::Session::reset_meter`] does for the metered ones).
    pub fn reset_meter(&mut self) {
        self.chan.reset();
    }

    fn v(&self, m: Meta, bound: f64) -> Result<CostValue> {
        m.check_fx("cost op", &self.fx)?;
        Ok(CostValue { meta: m, bound })
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

    fn input(&mut self, owner: Party, xs: &[f64], shape: &[usize]) -> Result<CostValue> {
        for &x in xs {
            self.fx.encode(x)?;
        }
        Meta::check_len(xs.len(), shape)?;
        self.charge_input(owner, xs.len());
        let b = self.input_bound.unwrap_or_else(|| xs.iter().fold(0.0f64, |m, x| m.max(x.abs())));
        self.v(Meta { fx: self.fx, scale: self.fx.frac_bits, shape: shape.to_vec() }, b * self.fx.scale())
    }

    fn input_raw(&mut self, owner: Party, xs: &[i64], shape: &[usize], scale: u32) -> Result<CostValue> {
        Meta::check_len(xs.len(), shape)?;
        self.charge_input(owner, xs.len());
        let b = match self.input_bound {
            Some(b) => b * 2f64.powi(scale as i32),
            None => xs.iter().fold(0.0f64, |m, &x| m.max((x as f64).abs())),
        };
        self.v(Meta { fx: self.fx, scale, shape: shape.to_vec() }, b)
    }

    fn reveal_raw(&mut self, v: &CostValue) -> Result<Vec<i64>> {
        v.meta.check_fx("reveal", &self.fx)?;
        self.charge(reveal(v.meta.len()));
        Ok(vec![0; v.meta.len()])
    }

    fn reveal_to_raw(&mut self, v: &CostValue, to: Party) -> Result<Vec<i64>> {
        v.meta.check_fx("reveal", &self.fx)?;
        let b = reveal(v.meta.len()).bytes_per_party.get();
        // The party that does not receive sends its share.
        self.chan.charge_round(if to.is_first() { [0, b] } else { [b, 0] });
        Ok(vec![0; v.meta.len()])
    }

    fn add(&mut self, a: &CostValue, b: &CostValue) -> Result<CostValue> {
        a.meta.check_same("add", &b.meta)?;
        self.v(a.meta.clone(), a.bound + b.bound)
    }

    fn sub(&mut self, a: &CostValue, b: &CostValue) -> Result<CostValue> {
        a.meta.check_same("sub", &b.meta)?;
        self.v(a.meta.clone(), a.bound + b.bound)
    }

    fn neg(&mut self, a: &CostValue) -> Result<CostValue> {
        self.v(a.meta.clone(), a.bound)
    }

    fn add_const_raw(&mut self, a: &CostValue, c: i64) -> Result<CostValue> {
        self.v(a.meta.clone(), a.bound + (c as f64).abs())
    }

    fn mul_const_raw(&mut self, a: &CostValue, k: i64, k_scale: u32) -> Result<CostValue> {
        self.v(a.meta.with_scale(Meta::product_scale("mul_const", a.meta.scale, k_scale)?), a.bound * (k as f64).abs())
    }

    fn concat(&mut self, vs: &[&CostValue]) -> Result<CostValue> {
        let b = vs.iter().fold(0.0f64, |m, v| m.max(v.bound));
        self.v(evaluator::concat_meta(self.fx, &vs.iter().map(|v| &v.meta).collect::<Vec<_>>())?, b)
    }

    fn split(&mut self, v: &CostValue, sizes: &[usize]) -> Result<Vec<CostValue>> {
        evaluator::check_split(v.meta.len(), sizes)?;
        sizes.iter().map(|&s| self.v(v.meta.with_shape(vec![s]), v.bound)).collect()
    }

    fn reshape(&mut self, v: &CostValue, shape: &[usize]) -> Result<CostValue> {
        Meta::check_len(v.meta.len(), shape)?;
        self.v(v.meta.with_shape(shape.to_vec()), v.bound)
    }

    fn gather(&mut self, v: &CostValue, idx: &[Option<usize>], shape: &[usize]) -> Result<CostValue> {
        evaluator::check_gather(v.meta.len(), idx, shape)?;
        self.v(v.meta.with_shape(shape.to_vec()), v.bound)
    }

    fn sum_groups(&mut self, v: &CostValue, group: usize, shape: &[usize]) -> Result<CostValue> {
        evaluator::check_groups(v.meta.len(), group, shape)?;
        self.v(v.meta.with_shape(shape.to_vec()), v.bound * group as f64)
    }

    fn matmul_public_raw(&mut self, a: &CostValue, w: &[i64], n: usize, w_scale: u32) -> Result<CostValue> {
        let (m, k) = evaluator::check_matmul_public(&a.meta, w.len(), n)?;
        let scale = Meta::product_scale("matmul_public", a.meta.scale, w_scale)?;
        // Largest column sum of |w|.
        let col = (0..n).map(|j| (0..k).map(|i| (w[i * n + j] as f64).abs()).sum::<f64>()).fold(0.0, f64::max);
        self.v(Meta { fx: self.fx, scale, shape: vec![m, n] }, a.bound * col)
    }

    fn mul_raw(&mut self, a: &CostValue, b: &CostValue) -> Result<CostValue> {
        let meta = evaluator::product_meta("mul", &a.meta, &b.meta)?;
        self.charge(mul(a.meta.len()));
        self.multiplications += n64(a.meta.len());
        self.v(meta, a.bound * b.bound)
    }

    fn square_raw(&mut self, a: &CostValue) -> Result<CostValue> {
        let meta = evaluator::product_meta("square", &a.meta, &a.meta)?;
        self.charge(square(a.meta.len()));
        self.multiplications += n64(a.meta.len());
        self.v(meta, a.bound * a.bound)
    }

    fn truncate_bits(&mut self, a: &CostValue, bits: u32) -> Result<CostValue> {
        let scale = evaluator::check_truncate_bits(&a.meta, bits)?;
        self.charge(truncate(a.meta.len(), self.truncation));
        if self.truncation == Truncation::Local {
            self.failure += a.meta.len() as f64 * a.bound / 2f64.powi(63);
        }
        self.v(a.meta.with_scale(scale), a.bound / 2f64.powi(bits as i32) + 1.0)
    }

    fn ltz(&mut self, a: &CostValue) -> Result<CostValue> {
        let n = n64(a.meta.len());
        self.comparisons += n;
        for (b, o) in LTZ_LEVEL_BYTES.iter().zip(LTZ_LEVEL_OFFLINE) {
            self.chan.charge_round([b * n; 2]);
            self.chan.offline([o * n; 2]);
        }
        self.v(a.meta.with_scale(0), 1.0)
    }

    fn matmul_raw(&mut self, a: &CostValue, b: &CostValue) -> Result<CostValue> {
        let (m, k, n) = evaluator::matmul_dims(&a.meta, &b.meta)?;
        let scale = Meta::product_scale("matmul", a.meta.scale, b.meta.scale)?;
        self.charge(matmul(m, k, n));
        self.v(Meta { fx: self.fx, scale, shape: vec![m, n] }, k as f64 * a.bound * b.bound)
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
        self.v(Meta { fx: self.fx, scale, shape: vec![m, n] }, k as f64 * a.bound * w.bound)
    }

    /// 1 − b of a bit stays a bit: its bound is 1, not |b| + 1 (the provided body's rule).
    fn not(&mut self, bit: &CostValue) -> Result<CostValue> {
        let b = if bit.bound <= 1.0 { 1.0 } else { bit.bound + 1.0 };
        self.v(bit.meta.clone(), b)
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
