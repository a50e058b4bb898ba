//! Costs of the FSS backend: closed forms per gate and the [`FssCostEvaluator`], the cost-only twin of
//! [`super::FssSession`] (the [`CostEvaluator`] with the FSS comparison and spline gates).
//!
//! Per element, n = comparison bits, k = spline payload words ([`super::spline_payload`]: max(d, 1) + 1),
//! m = pieces, K(n, k) = [`dcf::key_bytes`]:
//!
//! | gate | rounds | online B / party | offline B / party | AES calls / party (online) |
//! |---|---|---|---|---|
//! | LTZ | 1 | 8 | 16 + K(n − 1, 1) | (n − 1)·2 + 1 |
//! | spline, d ≤ 1 | 1 + t | 8 + trunc | 8 + 8k + m·K(n, k) + trunc | m·(n·(1 + ⌈k/2⌉) + ⌈k/2⌉) |
//! | spline, d ≥ 2 | max(1, powers) + 1 + t | 8 + powers + 16(d − 1) + trunc | as above + powers + 24(d − 1) + trunc | as above |
//!
//! "powers" is the Beaver power tree of [`crate::predict::powers`] and t the truncation's rounds (0 local, 1 dealer
//! pair). The dealer's AES work is [`dcf::gen_aes_calls`] per key.

use activation_approx::{EncodedPiecewise, FixedPoint, Truncation};
use serde::{Deserialize, Serialize};

use super::dcf::{self, DcfShape};
use super::session::{AesCalls, spline_payload};
use crate::error::{MpcError, Result};
use crate::evaluator::Evaluator;
use crate::meter::{Channel, CommCost, Stats};
use crate::predict::{self, CostEvaluator, CostValue};
use crate::share::{Meta, Party};

/// A gate's communication and AES work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FssCost {
    /// Rounds, online bytes and offline (key) bytes per party.
    pub comm: CommCost,
    /// AES calls.
    pub aes: AesCalls,
}

/// The FSS sign gate on `n` elements with an `bits`-bit comparison domain.
pub fn ltz(n: usize, bits: u32) -> FssCost {
    let shape = DcfShape { bits: bits - 1, payload: 1 };
    let n = n as u64;
    FssCost {
        comm: CommCost::new(1, 8 * n, n * (16 + dcf::key_bytes(shape))),
        aes: AesCalls { online_per_party: n * dcf::eval_aes_calls(shape), dealer: n * dcf::gen_aes_calls(shape) },
    }
}

/// Key bytes per element and party of a spline gate (the DCF keys, the mask share and the constant share).
pub fn spline_key_bytes(pw: &EncodedPiecewise, bits: u32) -> u64 {
    let k = spline_payload(pw.max_degree);
    8 + 8 * k as u64 + (pw.thresholds.len() as u64 + 1) * dcf::key_bytes(DcfShape { bits, payload: k })
}

/// The FSS spline gate on `n` elements (module docs).
pub fn spline(pw: &EncodedPiecewise, n: usize, bits: u32, t: Truncation) -> FssCost {
    let d = pw.max_degree;
    let k = spline_payload(d);
    let keys = pw.thresholds.len() as u64 + 1;
    let shape = DcfShape { bits, payload: k };
    let nn = n as u64;
    let open = CommCost::new(1, 8 * nn, nn * spline_key_bytes(pw, bits));
    let comm = if d >= 2 {
        open.par(predict::powers(n, d, t)).then(predict::mul(n * (d - 1))).then(predict::truncate(n, t))
    } else {
        open.then(predict::truncate(n, t))
    };
    FssCost {
        comm,
        aes: AesCalls { online_per_party: nn * keys * dcf::eval_aes_calls(shape), dealer: nn * keys * dcf::gen_aes_calls(shape) },
    }
}

/// The cost-only evaluator of the FSS backend: [`CostEvaluator`] with the FSS gates (same labels, parallel
/// branches and clock as a [`super::FssSession`] run).
#[derive(Debug, Clone)]
pub struct FssCostEvaluator {
    inner: CostEvaluator,
    bits: u32,
    truncation: Truncation,
    aes: AesCalls,
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
        Ok(FssCostEvaluator { inner: CostEvaluator::new(fx, truncation), bits, truncation, aes: AesCalls::default() })
    }

    /// The predicted totals.
    pub fn total(&self) -> Stats {
        self.inner.total()
    }

    /// The channel holding the predicted counters (with labels).
    pub fn channel(&self) -> &Channel {
        self.inner.channel()
    }

    /// Predicted AES calls.
    pub fn aes_calls(&self) -> AesCalls {
        self.aes
    }

    fn add_aes(&mut self, a: AesCalls) {
        self.aes.online_per_party += a.online_per_party;
        self.aes.dealer += a.dealer;
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
    fn input(&mut self, xs: &[f64], shape: &[usize]) -> Result<CostValue> {
        self.inner.input(xs, shape)
    }
    fn input_raw(&mut self, xs: &[i64], shape: &[usize], scale: u32) -> Result<CostValue> {
        self.inner.input_raw(xs, shape, scale)
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
    fn truncate(&mut self, a: &CostValue) -> Result<CostValue> {
        self.inner.truncate(a)
    }
    fn ltz(&mut self, a: &CostValue) -> Result<CostValue> {
        a.meta.check_fx("ltz", &self.fixed_point())?;
        let c = ltz(a.meta.len(), self.bits);
        self.inner.charge_external(c.comm);
        self.add_aes(c.aes);
        Ok(CostValue { meta: a.meta.with_scale(0) })
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
        let n = x.meta.len();
        let d = pw.max_degree;
        let k = spline_payload(d);
        let shape = DcfShape { bits: self.bits, payload: k };
        let keys = pw.thresholds.len() as u64 + 1;
        let nn = n as u64;
        self.add_aes(AesCalls {
            online_per_party: nn * keys * dcf::eval_aes_calls(shape),
            dealer: nn * keys * dcf::gen_aes_calls(shape),
        });
        let open = CommCost::new(1, 8 * nn, nn * spline_key_bytes(pw, self.bits));
        let y2 = CostValue { meta: x.meta.with_scale(2 * self.fixed_point().frac_bits) };
        if d >= 2 {
            let mut out = self.parallel(2, |s, b| {
                if b == 0 {
                    s.inner.charge_external(open);
                    Ok(Vec::new())
                } else {
                    crate::recipes::powers(s, x, d)
                }
            })?;
            let pows = out.pop().unwrap_or_default();
            let c = CostValue { meta: x.meta.with_shape(vec![n * (d - 1)]) };
            let flat = pows[1..].iter().map(|p| self.reshape(p, &[n])).collect::<Result<Vec<_>>>()?;
            let pcat = self.concat(&flat.iter().collect::<Vec<_>>())?;
            self.mul_raw(&c, &pcat)?;
        } else {
            self.inner.charge_external(open);
        }
        let _ = self.truncation;
        self.truncate(&y2)
    }
}
