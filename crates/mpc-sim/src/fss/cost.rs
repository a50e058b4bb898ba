//! Costs of the FSS backend: closed forms per gate and the [`FssCostEvaluator`], the cost-only twin of
//! [`super::FssSession`] (the [`CostEvaluator`] with the FSS comparison and spline gates).
//!
//! Per element, n = comparison bits, m = pieces, K(n, k) = [`dcf::key_bytes`], k = spline payload words
//! ([`super::SplineLayout::payload`]: fused, 2 (1 if no segment is sloped), with c = 1 + |S| dealt constant words,
//! |S| the number of segments with a nonzero slope ([`super::fused`]); otherwise k = 2 and c = 2 + p, p the
//! number of used powers x^j, j ≥ 2 — a key carries its comparison indicator and each party scales it by the
//! public per-segment differences, so k ≤ 2 and a key walk takes one AES value block per level):
//!
//! | gate | rounds | online B / party | offline B / party | AES calls / party (online) |
//! |---|---|---|---|---|
//! | LTZ | 1 | 8 | 16 + K(n − 1, 1) | (n − 1)·2 + 1 |
//! | spline, fused (no used x^j, j ≥ 2) | 1 | 8 | 8 + 8c + m·K(n, k) | m·(n·(1 + ⌈k/2⌉) + ⌈k/2⌉) = m·(2n + 1) |
//! | spline, p ≥ 1 used powers | max(1, powers) + 1 + t | 8 + powers + 16p + trunc | 8 + 8c + m·K(n, k) + powers + 24p + trunc | m·(2n + 1) |
//!
//! "powers" is the Beaver power tree of the used powers and those needed to build them
//! ([`crate::recipes::powers_where`], [`power_tree`]: one level per tree depth that has a needed power, each one
//! round of products or squares of n elements plus a truncation) and t the truncation's rounds (0 local, 1
//! dealer pair). The fused gate truncates inside (module docs of [`super::session`]): no truncation round. The dealer's AES work is [`dcf::gen_aes_calls`] per key. The input sharing is the Beaver
//! backend's ([`predict::input`]: 1 round, 8 B per element from the owner), and [`FssCostEvaluator`] meters it
//! identically.

use activation_approx::fixed::{power_closure, power_tree_depth};
use activation_approx::{Cost, EncodedPiecewise, FixedPoint, Truncation};

use super::dcf::{self, DcfShape};
use super::session::SplineLayout;
use crate::error::{MpcError, Result};
use crate::evaluator::Evaluator;
use crate::meter::{Channel, Stats};
use crate::predict::{self, CostEvaluator, CostValue};
use crate::share::{Meta, Party};

/// The FSS sign gate on `n` elements with an `bits`-bit comparison domain: its communication and AES work.
pub fn ltz(n: usize, bits: u32) -> Cost {
    let shape = DcfShape { bits: bits - 1, payload: 1 };
    let n = n as u64;
    Cost::communication(1, 8 * n, n * (16 + dcf::key_bytes(shape)))
        .with_aes_calls(n * dcf::eval_aes_calls(shape), n * dcf::gen_aes_calls(shape))
}

/// The Beaver power tree of the powers with `need[k]` on n elements ([`crate::recipes::powers_where`]: the needed
/// powers and those the tree needs to build them): for every tree level ℓ the built powers k with depth(k) = ℓ run
/// concurrently, each one square (k a power of two: 1 round, 8 B) or one Beaver product (1 round, 16 B) followed
/// by a truncation; levels run one after the other. The FSS tests check it against the metered session and the
/// [`FssCostEvaluator`].
pub fn power_tree(n: usize, need: &[bool], t: Truncation) -> Cost {
    let need = power_closure(need);
    let d = need.len().saturating_sub(1);
    let mut total = Cost::ZERO;
    for level in 1..=power_tree_depth(d) {
        let mut lvl = Cost::ZERO;
        for k in (2..=d).filter(|&k| need[k] && power_tree_depth(k) == level) {
            let p = if k.is_power_of_two() { predict::square(n) } else { predict::mul(n) };
            lvl = lvl.par(p.then(predict::truncate(n, t)));
        }
        total = total.then(lvl);
    }
    total
}

/// Key bytes per element and party of a spline gate (the DCF keys, the mask share and the constant share).
pub fn spline_key_bytes(pw: &EncodedPiecewise, bits: u32) -> u64 {
    let lay = SplineLayout::of(pw);
    let k = lay.payload();
    8 + 8 * lay.const_words() as u64 + (pw.thresholds.len() as u64 + 1) * dcf::key_bytes(DcfShape { bits, payload: k })
}

/// The FSS spline gate on `n` elements (module docs): its communication and AES work.
pub fn spline(pw: &EncodedPiecewise, n: usize, bits: u32, t: Truncation) -> Cost {
    let lay = SplineLayout::of(pw);
    let k = lay.payload();
    let keys = pw.thresholds.len() as u64 + 1;
    let shape = DcfShape { bits, payload: k };
    let nn = n as u64;
    let open = Cost::communication(1, 8 * nn, nn * spline_key_bytes(pw, bits));
    let comm = if lay.fused() {
        open
    } else {
        open.par(power_tree(n, &pw.used_powers(), t)).then(predict::mul(n * lay.powers.len())).then(predict::truncate(n, t))
    };
    comm.with_aes_calls(nn * keys * dcf::eval_aes_calls(shape), nn * keys * dcf::gen_aes_calls(shape))
}

/// The cost-only evaluator of the FSS backend: [`CostEvaluator`] with the FSS gates (same labels, parallel
/// branches and clock as a [`super::FssSession`] run).
#[derive(Debug, Clone)]
pub struct FssCostEvaluator {
    inner: CostEvaluator,
    bits: u32,
    truncation: Truncation,
    /// Predicted AES calls (online per party, dealer): a cost with only its AES fields set.
    aes: Cost,
    gate_input: f64,
}

impl FssCostEvaluator {
    /// A cost evaluator for the given setting, truncation and comparison bit width (2 … 64).
    pub fn new(fx: FixedPoint, truncation: Truncation, bits: u32) -> Result<Self> {
        if !(2..=64).contains(&bits) {
            return Err(MpcError::InvalidParameter {
                name: "FSS comparison bit width",
                value: bits.to_string(),
                hint: "choose 2 ≤ bits ≤ 64 (64 compares the whole ring)",
            });
        }
        Ok(FssCostEvaluator { inner: CostEvaluator::new(fx, truncation), bits, truncation, aes: Cost::ZERO, gate_input: 0.0 })
    }

    /// The predicted totals.
    pub fn total(&self) -> Stats {
        self.inner.total()
    }

    /// The channel holding the predicted counters (with labels).
    pub fn channel(&self) -> &Channel {
        self.inner.channel()
    }

    /// Zeroes the predicted counters and AES calls (as [`super::FssSession::reset_meter`] does).
    pub fn reset_meter(&mut self) {
        self.inner.reset_meter();
        self.aes = Cost::ZERO;
    }

    /// Σ max|v|/2^63 over the local truncations so far ([`CostEvaluator::failure_mass`]).
    pub fn failure_mass(&self) -> f64 {
        self.inner.failure_mass()
    }

    /// The predicted totals as a [`Cost`]: rounds and bytes ([`Stats::cost`]) with the AES calls of key
    /// evaluation (per party) and generation (dealer), as [`super::FssSession::cost`] meters them.
    pub fn cost(&self) -> Cost {
        self.total().cost().then(self.aes)
    }

    /// The largest bound (ring units, [`CostValue::bound`]) on any input of an FSS gate (sign or spline) so far.
    pub fn gate_input_bound(&self) -> f64 {
        self.gate_input
    }

    /// True when every FSS gate input so far is within the comparison domain, |x| < 2^(n−1) ring units, where the
    /// gates are exact (outside it a value is compared modulo 2^n). Sound as far as the bounds are: use it to choose
    /// the narrowest n ([`super::FssConfig::bits`]) for a program.
    pub fn domain_holds(&self) -> bool {
        self.gate_input < 2f64.powi(self.bits as i32 - 1)
    }

    fn note_gate_input(&mut self, v: &CostValue) {
        self.gate_input = self.gate_input.max(v.bound);
    }

    /// Adds a gate's AES calls (its rounds and bytes are charged to the channel).
    fn add_aes(&mut self, c: Cost) {
        self.aes.aes_calls_per_party += c.aes_calls_per_party;
        self.aes.dealer_aes_calls += c.dealer_aes_calls;
    }
}

impl Evaluator for FssCostEvaluator {
    type Value = CostValue;
    type Fixed = CostValue;

    fn fixed_point(&self) -> FixedPoint {
        self.inner.fixed_point()
    }
    fn meta(v: &CostValue) -> &Meta {
        &v.meta
    }
    /// Input sharing, metered as by the Beaver cost evaluator (1 round, 8 B per element from the owner).
    fn input(&mut self, owner: Party, xs: &[f64], shape: &[usize]) -> Result<CostValue> {
        self.inner.input(owner, xs, shape)
    }
    fn input_raw(&mut self, owner: Party, xs: &[i64], shape: &[usize], scale: u32) -> Result<CostValue> {
        self.inner.input_raw(owner, xs, shape, scale)
    }
    fn reveal_raw(&mut self, v: &CostValue) -> Result<Vec<i64>> {
        self.inner.reveal_raw(v)
    }
    fn reveal_to_raw(&mut self, v: &CostValue, to: Party) -> Result<Vec<i64>> {
        self.inner.reveal_to_raw(v, to)
    }
    fn add(&mut self, a: &CostValue, b: &CostValue) -> Result<CostValue> {
        self.inner.add(a, b)
    }
    fn sub(&mut self, a: &CostValue, b: &CostValue) -> Result<CostValue> {
        self.inner.sub(a, b)
    }
    fn neg(&mut self, a: &CostValue) -> Result<CostValue> {
        self.inner.neg(a)
    }
    fn add_const_raw(&mut self, a: &CostValue, c: i64) -> Result<CostValue> {
        self.inner.add_const_raw(a, c)
    }
    fn mul_const_raw(&mut self, a: &CostValue, k: i64, k_scale: u32) -> Result<CostValue> {
        self.inner.mul_const_raw(a, k, k_scale)
    }
    fn concat(&mut self, vs: &[&CostValue]) -> Result<CostValue> {
        self.inner.concat(vs)
    }
    fn split(&mut self, v: &CostValue, sizes: &[usize]) -> Result<Vec<CostValue>> {
        self.inner.split(v, sizes)
    }
    fn reshape(&mut self, v: &CostValue, shape: &[usize]) -> Result<CostValue> {
        self.inner.reshape(v, shape)
    }
    fn gather(&mut self, v: &CostValue, idx: &[Option<usize>], shape: &[usize]) -> Result<CostValue> {
        self.inner.gather(v, idx, shape)
    }
    fn sum_groups(&mut self, v: &CostValue, group: usize, shape: &[usize]) -> Result<CostValue> {
        self.inner.sum_groups(v, group, shape)
    }
    fn matmul_public_raw(&mut self, a: &CostValue, w: &[i64], n: usize, w_scale: u32) -> Result<CostValue> {
        self.inner.matmul_public_raw(a, w, n, w_scale)
    }
    fn mul_raw(&mut self, a: &CostValue, b: &CostValue) -> Result<CostValue> {
        self.inner.mul_raw(a, b)
    }
    fn square_raw(&mut self, a: &CostValue) -> Result<CostValue> {
        self.inner.square_raw(a)
    }
    /// The truncation of the wrapped cost evaluator (priced and failure-bounded as in the Beaver backend).
    fn truncate_bits(&mut self, a: &CostValue, bits: u32) -> Result<CostValue> {
        self.inner.truncate_bits(a, bits)
    }
    fn not(&mut self, bit: &CostValue) -> Result<CostValue> {
        self.inner.not(bit)
    }
    fn ltz(&mut self, a: &CostValue) -> Result<CostValue> {
        a.meta.check_fx("ltz", &self.fixed_point())?;
        self.note_gate_input(a);
        let c = ltz(a.meta.len(), self.bits);
        self.inner.charge_external(c);
        self.add_aes(c);
        Ok(CostValue { meta: a.meta.with_scale(0), bound: 1.0 })
    }
    fn matmul_raw(&mut self, a: &CostValue, b: &CostValue) -> Result<CostValue> {
        self.inner.matmul_raw(a, b)
    }
    fn fix_right(&mut self, w: &CostValue) -> Result<CostValue> {
        self.inner.fix_right(w)
    }
    fn matmul_fixed_raw(&mut self, a: &CostValue, w: &CostValue) -> Result<CostValue> {
        self.inner.matmul_fixed_raw(a, w)
    }
    fn parallel<T>(&mut self, n: usize, mut f: impl FnMut(&mut Self, usize) -> Result<T>) -> Result<Vec<T>> {
        self.inner.channel_mut().fork();
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            if i > 0 {
                self.inner.channel_mut().next_branch();
            }
            match f(self, i) {
                Ok(v) => out.push(v),
                Err(e) => {
                    self.inner.channel_mut().join();
                    return Err(e);
                }
            }
        }
        self.inner.channel_mut().join();
        Ok(out)
    }
    fn scope<T>(&mut self, label: &str, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.inner.channel_mut().enter(label);
        let r = f(self);
        self.inner.channel_mut().exit();
        r
    }
    /// The FSS spline gate's cost, composed like the session runs it (opening ∥ powers, products, truncation).
    fn piecewise(&mut self, x: &CostValue, pw: &EncodedPiecewise) -> Result<CostValue> {
        x.meta.check_fx("piecewise", &self.fixed_point())?;
        if pw.thresholds.is_empty() {
            return crate::recipes::piecewise(self, x, pw);
        }
        self.note_gate_input(x);
        let n = x.meta.len();
        let lay = SplineLayout::of(pw);
        let k = lay.payload();
        let shape = DcfShape { bits: self.bits, payload: k };
        let keys = pw.thresholds.len() as u64 + 1;
        let nn = n as u64;
        self.add_aes(Cost::ZERO.with_aes_calls(nn * keys * dcf::eval_aes_calls(shape), nn * keys * dcf::gen_aes_calls(shape)));
        let open = Cost::communication(1, 8 * nn, nn * spline_key_bytes(pw, self.bits));
        let bound2 = spline_bound(pw, x.bound);
        if lay.fused() {
            // Truncated inside the gate: ⌊L/2^f⌋ − e, e ∈ {0, 1}, no failure event.
            self.inner.charge_external(open);
            let sc = 2f64.powi(self.fixed_point().frac_bits as i32);
            return Ok(CostValue { meta: x.meta.clone(), bound: bound2 / sc + 1.0 });
        }
        let y2 = CostValue { meta: x.meta.with_scale(2 * self.fixed_point().frac_bits), bound: bound2 };
        let need = pw.used_powers();
        let mut out = self.parallel(2, |s, b| {
            if b == 0 {
                s.inner.charge_external(open);
                Ok(Vec::new())
            } else {
                crate::recipes::powers_where(s, x, &need)
            }
        })?;
        let pows = out.pop().unwrap_or_default();
        let cmax = pw.segments.iter().flat_map(|s| s.iter().skip(2)).fold(0.0f64, |m, &c| m.max((c as f64).abs()));
        let np = lay.powers.len();
        let c = CostValue { meta: x.meta.with_shape(vec![n * np]), bound: cmax };
        let pcat = lay.concat_powers(self, &pows, n)?;
        self.mul_raw(&c, &pcat)?;
        let _ = self.truncation;
        let y2 = self.reshape(&y2, &x.meta.shape)?;
        self.truncate(&y2)
    }
}

/// Bound (ring units at scale 2f) on the spline's untruncated value A + B·y + Σ_{j≥2} c_j·x^j for |x| ≤ `xb` ring
/// units at scale f: the structure search's [`activation_approx::fss_cost::fss_spline_bound`] (one formula for the
/// search and this evaluator, so their failure bounds agree).
pub fn spline_bound(pw: &EncodedPiecewise, xb: f64) -> f64 {
    activation_approx::fss_cost::fss_spline_bound(pw, xb)
}
