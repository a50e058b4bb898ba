//! Straight-line secure programs, written once and run by several evaluators.
//!
//! A method's secure evaluation is a program against the small dyn-compatible [`Ops`] trait: values are opaque
//! handles ([`Val`] for fixed-point numbers at scale 2^f, [`Bit`] for arithmetic 0/1 shares at scale 1) into the
//! evaluator's own storage. The same program is run by
//! - [`F64Ops`]: real arithmetic (no rounding), the method's f64 evaluation;
//! - [`FixedOps`]: the fixed-point emulation of [`crate::fixed`] (wrapping ring arithmetic, FLOOR truncation);
//! - [`CostOps`]: the per-element cost under the [`TwoPartyCostModel`] constants, with rounds as the critical path
//!   (every value carries the round at which it becomes available, so independent operations overlap);
//! - mpc-sim's two-party evaluator (in `mpc_sim::methods`), where every operation runs on secret shares.
//!
//! Operation semantics in the ring Z_{2^64} (x, y encodings at scale 2^f, b, c ∈ {0, 1}):
//!
//! | operation | value | cost (one party, per element) |
//! |---|---|---|
//! | `add`, `sub`, `add_const`, `scale_int` | x + y, x − y, x + enc(c), k·x | local |
//! | `lin_comb` | trunc(Σ enc(c_j)·x_j) + enc(c_0) | local (+ one truncation) |
//! | `lin_comb_scaled` | Σ_j (⌊c_j·2^(f+s_j)⌉·x_j >> (f + s_j)) + enc(c_0): per-coefficient scales (NFGen) | local (+ one truncation per term) |
//! | `mul` | trunc(x·y) | Beaver product: 1 round, `mul_bytes` (+ truncation) |
//! | `square` | trunc(x·x) | dealer pair (r, r²): 1 round, `square_bytes` (+ truncation) |
//! | `ge` | [x ≥ enc(t)] | one comparison: `cmp_rounds`, `cmp_bytes` |
//! | `mux` | y + b·(x − y) | 1 round, `mul_bytes` (no truncation: b is at scale 1) |
//! | `and` | b·c | 1 round, `mul_bytes` |
//! | `not`, `bit_affine` | 1 − b, c_0 + Σ k_i·b_i (caller guarantees a 0/1 result) | local |
//!
//! trunc is the arithmetic shift by f of [`crate::fixed`]; local truncation (the default) costs nothing, a
//! dealer-pair truncation one round and 8 bytes.

use crate::cost::{Cost, Truncation, TwoPartyCostModel};
use crate::error::{ApproxError, Result};
use crate::fixed::FixedPoint;

/// Handle of a fixed-point value (scale 2^f) inside an evaluator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Val(pub usize);

/// Handle of an arithmetic 0/1 value (scale 1) inside an evaluator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bit(pub usize);

/// The operations a secure program may use (see the module docs for their exact semantics and cost).
///
/// Operations are infallible; an evaluator that meets an error (e.g. a constant that does not encode) records the
/// first one and reports it when the result is read.
pub trait Ops {
    /// x + y.
    fn add(&mut self, x: Val, y: Val) -> Val;
    /// x − y.
    fn sub(&mut self, x: Val, y: Val) -> Val;
    /// x + c for a public real c.
    fn add_const(&mut self, x: Val, c: f64) -> Val;
    /// k·x for a public integer k (no truncation).
    fn scale_int(&mut self, x: Val, k: i64) -> Val;
    /// trunc(Σ enc(c_j)·x_j) + enc(c0): public coefficients applied locally, one truncation.
    fn lin_comb(&mut self, terms: &[(f64, Val)], c0: f64) -> Val;
    /// Σ_j (⌊c_j·2^(f+s_j)⌉·x_j >> (f + s_j)) + enc(c0): each public coefficient encoded with s_j extra fractional
    /// bits and its term truncated by f + s_j (NFGen's per-coefficient scaling, which keeps small high-order
    /// coefficients precise). With all s_j = 0 the terms are truncated separately, unlike [`Ops::lin_comb`].
    fn lin_comb_scaled(&mut self, terms: &[(f64, Val, u32)], c0: f64) -> Val;
    /// trunc(x·y), a Beaver product.
    fn mul(&mut self, x: Val, y: Val) -> Val;
    /// trunc(x·x) with a dealer square pair.
    fn square(&mut self, x: Val) -> Val;
    /// [x ≥ t] for a public threshold t.
    fn ge(&mut self, x: Val, t: f64) -> Bit;
    /// b ? x : y, i.e. y + b·(x − y).
    fn mux(&mut self, b: Bit, x: Val, y: Val) -> Val;
    /// b·c.
    fn and(&mut self, b: Bit, c: Bit) -> Bit;
    /// 1 − b.
    fn not(&mut self, b: Bit) -> Bit;
    /// c0 + Σ k_i·b_i with integer k_i; the caller guarantees the result is 0 or 1 (e.g. b_1 − b_0 when b_0 ⇒ b_1).
    fn bit_affine(&mut self, terms: &[(i64, Bit)], c0: i64) -> Bit;
}

/// Convenience built on [`Ops`] (provided for every evaluator).
pub trait OpsExt: Ops {
    /// c·x for a public real c: trunc(enc(c)·x).
    fn mul_const(&mut self, x: Val, c: f64) -> Val {
        self.lin_comb(&[(c, x)], 0.0)
    }
    /// −x.
    fn neg(&mut self, x: Val) -> Val {
        self.scale_int(x, -1)
    }
    /// b·x (one multiplication, no truncation).
    fn mul_bit(&mut self, b: Bit, x: Val) -> Val {
        let zero = self.scale_int(x, 0);
        self.mux(b, x, zero)
    }
}

impl<T: Ops + ?Sized> OpsExt for T {}

/// x^1 … x^degree by the power tree of [`crate::fixed::FixedPoint::powers`] (index k holds x^k, index 0 holds x
/// as a placeholder for x^0, which is applied as the constant term of [`Ops::lin_comb`]).
pub fn powers(ops: &mut dyn Ops, x: Val, degree: usize) -> Vec<Val> {
    let mut pows = vec![x];
    if degree >= 1 {
        pows.push(x);
    }
    for k in 2..=degree {
        let p = crate::fixed::power_tree_split(k);
        let v = if p == k - p { ops.square(pows[p]) } else { ops.mul(pows[p], pows[k - p]) };
        pows.push(v);
    }
    pows
}

/// Σ_j c_j·x^j from precomputed powers (one local linear combination, one truncation).
pub fn poly_from_powers(ops: &mut dyn Ops, coeffs: &[f64], pows: &[Val]) -> Val {
    let terms: Vec<(f64, Val)> =
        coeffs.iter().enumerate().skip(1).filter(|(_, c)| **c != 0.0).map(|(j, &c)| (c, pows[j])).collect();
    ops.lin_comb(&terms, coeffs.first().copied().unwrap_or(0.0))
}

/// ⌊c·2^bits⌉ as a ring element; |c|·2^bits must stay below 2^62.
pub fn encode_scaled(c: f64, bits: u32) -> Result<i64> {
    let v = c * 2f64.powi(bits as i32);
    if !v.is_finite() || v.abs() >= 2f64.powi(62) {
        return Err(ApproxError::FixedPointOverflow { value: c, frac_bits: bits, limit: 2f64.powi(62 - bits as i32) });
    }
    Ok(v.round() as i64)
}

/// Evaluates a program in f64 (no rounding): the method's exact formula.
#[derive(Debug, Default)]
pub struct F64Ops {
    vals: Vec<Vec<f64>>,
    bits: Vec<Vec<f64>>,
}

impl F64Ops {
    /// Starts an evaluation on the inputs `xs`; returns the evaluator and the input handle.
    pub fn new(xs: &[f64]) -> (Self, Val) {
        (F64Ops { vals: vec![xs.to_vec()], bits: Vec::new() }, Val(0))
    }
    fn push(&mut self, v: Vec<f64>) -> Val {
        self.vals.push(v);
        Val(self.vals.len() - 1)
    }
    fn push_bit(&mut self, v: Vec<f64>) -> Bit {
        self.bits.push(v);
        Bit(self.bits.len() - 1)
    }
    fn map2(&mut self, x: Val, y: Val, f: impl Fn(f64, f64) -> f64) -> Val {
        let v = self.vals[x.0].iter().zip(&self.vals[y.0]).map(|(&a, &b)| f(a, b)).collect();
        self.push(v)
    }
    /// The values behind a handle.
    pub fn get(&self, x: Val) -> &[f64] {
        &self.vals[x.0]
    }
}

impl Ops for F64Ops {
    fn add(&mut self, x: Val, y: Val) -> Val {
        self.map2(x, y, |a, b| a + b)
    }
    fn sub(&mut self, x: Val, y: Val) -> Val {
        self.map2(x, y, |a, b| a - b)
    }
    fn add_const(&mut self, x: Val, c: f64) -> Val {
        let v = self.vals[x.0].iter().map(|a| a + c).collect();
        self.push(v)
    }
    fn scale_int(&mut self, x: Val, k: i64) -> Val {
        let v = self.vals[x.0].iter().map(|a| a * k as f64).collect();
        self.push(v)
    }
    fn lin_comb(&mut self, terms: &[(f64, Val)], c0: f64) -> Val {
        let n = self.vals[0].len();
        let v = (0..n).map(|i| terms.iter().fold(c0, |acc, &(c, x)| acc + c * self.vals[x.0][i])).collect();
        self.push(v)
    }
    fn lin_comb_scaled(&mut self, terms: &[(f64, Val, u32)], c0: f64) -> Val {
        let plain: Vec<(f64, Val)> = terms.iter().map(|&(c, x, _)| (c, x)).collect();
        self.lin_comb(&plain, c0)
    }
    fn mul(&mut self, x: Val, y: Val) -> Val {
        self.map2(x, y, |a, b| a * b)
    }
    fn square(&mut self, x: Val) -> Val {
        self.map2(x, x, |a, b| a * b)
    }
    fn ge(&mut self, x: Val, t: f64) -> Bit {
        let v = self.vals[x.0].iter().map(|&a| if a >= t { 1.0 } else { 0.0 }).collect();
        self.push_bit(v)
    }
    fn mux(&mut self, b: Bit, x: Val, y: Val) -> Val {
        let v = (0..self.vals[x.0].len())
            .map(|i| if self.bits[b.0][i] != 0.0 { self.vals[x.0][i] } else { self.vals[y.0][i] })
            .collect();
        self.push(v)
    }
    fn and(&mut self, b: Bit, c: Bit) -> Bit {
        let v = self.bits[b.0].iter().zip(&self.bits[c.0]).map(|(a, b)| a * b).collect();
        self.push_bit(v)
    }
    fn not(&mut self, b: Bit) -> Bit {
        let v = self.bits[b.0].iter().map(|a| 1.0 - a).collect();
        self.push_bit(v)
    }
    fn bit_affine(&mut self, terms: &[(i64, Bit)], c0: i64) -> Bit {
        let n = self.vals[0].len();
        let v =
            (0..n).map(|i| terms.iter().fold(c0 as f64, |acc, &(k, b)| acc + k as f64 * self.bits[b.0][i])).collect();
        self.push_bit(v)
    }
}

/// Evaluates a program in the fixed-point emulation of [`crate::fixed`]: the plaintext twin of the secure run.
#[derive(Debug)]
pub struct FixedOps {
    fx: FixedPoint,
    vals: Vec<Vec<i64>>,
    bits: Vec<Vec<i64>>,
    error: Option<ApproxError>,
}

impl FixedOps {
    /// Starts an evaluation on already-encoded inputs.
    pub fn new(fx: FixedPoint, xs: Vec<i64>) -> (Self, Val) {
        (FixedOps { fx, vals: vec![xs], bits: Vec::new(), error: None }, Val(0))
    }
    /// Starts an evaluation on real inputs (encoding each; a value that does not fit is an error).
    pub fn from_f64(fx: FixedPoint, xs: &[f64]) -> Result<(Self, Val)> {
        let enc = xs.iter().map(|&x| fx.encode(x)).collect::<Result<Vec<_>>>()?;
        Ok(Self::new(fx, enc))
    }
    fn enc(&mut self, c: f64) -> i64 {
        match self.fx.encode(c) {
            Ok(v) => v,
            Err(e) => {
                self.error.get_or_insert(e);
                0
            }
        }
    }
    fn push(&mut self, v: Vec<i64>) -> Val {
        self.vals.push(v);
        Val(self.vals.len() - 1)
    }
    fn push_bit(&mut self, v: Vec<i64>) -> Bit {
        self.bits.push(v);
        Bit(self.bits.len() - 1)
    }
    fn map2(&mut self, x: Val, y: Val, f: impl Fn(i64, i64) -> i64) -> Val {
        let v = self.vals[x.0].iter().zip(&self.vals[y.0]).map(|(&a, &b)| f(a, b)).collect();
        self.push(v)
    }
    /// The ring elements behind a handle, or the first error met while computing them.
    pub fn get(&self, x: Val) -> Result<&[i64]> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(&self.vals[x.0]),
        }
    }
    /// The 0/1 values behind a bit handle.
    pub fn get_bit(&self, b: Bit) -> &[i64] {
        &self.bits[b.0]
    }
}

impl Ops for FixedOps {
    fn add(&mut self, x: Val, y: Val) -> Val {
        self.map2(x, y, i64::wrapping_add)
    }
    fn sub(&mut self, x: Val, y: Val) -> Val {
        self.map2(x, y, i64::wrapping_sub)
    }
    fn add_const(&mut self, x: Val, c: f64) -> Val {
        let c = self.enc(c);
        let v = self.vals[x.0].iter().map(|a| a.wrapping_add(c)).collect();
        self.push(v)
    }
    fn scale_int(&mut self, x: Val, k: i64) -> Val {
        let v = self.vals[x.0].iter().map(|a| a.wrapping_mul(k)).collect();
        self.push(v)
    }
    fn lin_comb(&mut self, terms: &[(f64, Val)], c0: f64) -> Val {
        let enc: Vec<(i64, usize)> = terms.iter().map(|&(c, x)| (self.enc(c), x.0)).collect();
        let c0 = self.enc(c0);
        let f = self.fx;
        let n = self.vals[0].len();
        let v = (0..n)
            .map(|i| {
                let acc = enc.iter().fold(0i64, |acc, &(c, x)| acc.wrapping_add(c.wrapping_mul(self.vals[x][i])));
                f.truncate(acc).wrapping_add(c0)
            })
            .collect();
        self.push(v)
    }
    fn lin_comb_scaled(&mut self, terms: &[(f64, Val, u32)], c0: f64) -> Val {
        let f = self.fx.frac_bits;
        let mut enc = Vec::with_capacity(terms.len());
        for &(c, x, s) in terms {
            match encode_scaled(c, f + s) {
                Ok(e) => enc.push((e, x.0, f + s)),
                Err(e) => {
                    self.error.get_or_insert(e);
                    enc.push((0, x.0, f + s));
                }
            }
        }
        let c0 = self.enc(c0);
        let n = self.vals[0].len();
        let v = (0..n)
            .map(|i| {
                enc.iter().fold(c0, |acc, &(c, x, shift)| acc.wrapping_add(c.wrapping_mul(self.vals[x][i]) >> shift))
            })
            .collect();
        self.push(v)
    }
    fn mul(&mut self, x: Val, y: Val) -> Val {
        let f = self.fx;
        self.map2(x, y, |a, b| f.mul(a, b))
    }
    fn square(&mut self, x: Val) -> Val {
        self.mul(x, x)
    }
    fn ge(&mut self, x: Val, t: f64) -> Bit {
        let t = self.enc(t);
        let v = self.vals[x.0].iter().map(|&a| i64::from(a >= t)).collect();
        self.push_bit(v)
    }
    fn mux(&mut self, b: Bit, x: Val, y: Val) -> Val {
        let v = (0..self.vals[x.0].len())
            .map(|i| {
                let (xi, yi) = (self.vals[x.0][i], self.vals[y.0][i]);
                yi.wrapping_add(self.bits[b.0][i].wrapping_mul(xi.wrapping_sub(yi)))
            })
            .collect();
        self.push(v)
    }
    fn and(&mut self, b: Bit, c: Bit) -> Bit {
        let v = self.bits[b.0].iter().zip(&self.bits[c.0]).map(|(a, b)| a.wrapping_mul(*b)).collect();
        self.push_bit(v)
    }
    fn not(&mut self, b: Bit) -> Bit {
        let v = self.bits[b.0].iter().map(|a| 1i64.wrapping_sub(*a)).collect();
        self.push_bit(v)
    }
    fn bit_affine(&mut self, terms: &[(i64, Bit)], c0: i64) -> Bit {
        let n = self.vals[0].len();
        let v = (0..n)
            .map(|i| terms.iter().fold(c0, |acc, &(k, b)| acc.wrapping_add(k.wrapping_mul(self.bits[b.0][i]))))
            .collect();
        self.push_bit(v)
    }
}

/// Counts the per-element cost of a program under a [`TwoPartyCostModel`]: bytes, comparisons and multiplications
/// summed, rounds as the longest dependency chain (independent operations share rounds).
#[derive(Debug, Clone)]
pub struct CostOps {
    model: TwoPartyCostModel,
    fx: FixedPoint,
    val_round: Vec<u32>,
    bit_round: Vec<u32>,
    cost: Cost,
    /// Truncations performed (each free with local truncation).
    pub truncations: u32,
}

impl CostOps {
    /// Starts counting with f = 16; the input is available at round 0.
    pub fn new(model: TwoPartyCostModel) -> (Self, Val) {
        Self::with_fixed_point(model, FixedPoint::default())
    }
    /// Starts counting with the given fixed point (it sets how many truncations a scaled coefficient needs).
    pub fn with_fixed_point(model: TwoPartyCostModel, fx: FixedPoint) -> (Self, Val) {
        let ops =
            CostOps { model, fx, val_round: vec![0], bit_round: Vec::new(), cost: Cost::default(), truncations: 0 };
        (ops, Val(0))
    }
    fn trunc(&mut self) -> u32 {
        self.truncations += 1;
        match self.model.truncation {
            Truncation::Local => 0,
            Truncation::DealerPair => {
                self.cost.bytes_per_party += 8;
                1
            }
        }
    }
    fn push(&mut self, r: u32) -> Val {
        self.val_round.push(r);
        Val(self.val_round.len() - 1)
    }
    fn push_bit(&mut self, r: u32) -> Bit {
        self.bit_round.push(r);
        Bit(self.bit_round.len() - 1)
    }
    fn r(&self, x: Val) -> u32 {
        self.val_round[x.0]
    }
    /// The cost so far, with rounds = the round at which `out` is available.
    pub fn cost(&self, out: Val) -> Cost {
        Cost { rounds: self.r(out), ..self.cost }
    }
}

impl Ops for CostOps {
    fn add(&mut self, x: Val, y: Val) -> Val {
        let r = self.r(x).max(self.r(y));
        self.push(r)
    }
    fn sub(&mut self, x: Val, y: Val) -> Val {
        self.add(x, y)
    }
    fn add_const(&mut self, x: Val, _c: f64) -> Val {
        let r = self.r(x);
        self.push(r)
    }
    fn scale_int(&mut self, x: Val, _k: i64) -> Val {
        let r = self.r(x);
        self.push(r)
    }
    fn lin_comb(&mut self, terms: &[(f64, Val)], _c0: f64) -> Val {
        let r = terms.iter().map(|&(_, x)| self.r(x)).max().unwrap_or(0);
        if terms.is_empty() {
            return self.push(r);
        }
        let t = self.trunc();
        self.push(r + t)
    }
    /// Each term removes f + s_j bits with truncations by f: ⌊(f + s_j)/f⌋ of them, plus one after a lift when
    /// f ∤ s_j (mpc-sim's executor does exactly this).
    fn lin_comb_scaled(&mut self, terms: &[(f64, Val, u32)], _c0: f64) -> Val {
        let f = self.fx.frac_bits;
        let mut r = 0;
        for &(_, x, s) in terms {
            let n = (f + s) / f + u32::from((f + s) % f != 0);
            let mut t = 0;
            for _ in 0..n {
                t += self.trunc();
            }
            r = r.max(self.r(x) + t);
        }
        self.push(r)
    }
    fn mul(&mut self, x: Val, y: Val) -> Val {
        self.cost.bytes_per_party += self.model.mul_bytes;
        self.cost.multiplications += 1;
        let t = self.trunc();
        let r = self.r(x).max(self.r(y)) + 1 + t;
        self.push(r)
    }
    fn square(&mut self, x: Val) -> Val {
        self.cost.bytes_per_party += self.model.square_bytes;
        self.cost.multiplications += 1;
        let t = self.trunc();
        let r = self.r(x) + 1 + t;
        self.push(r)
    }
    fn ge(&mut self, x: Val, _t: f64) -> Bit {
        self.cost.bytes_per_party += self.model.cmp_bytes;
        self.cost.comparisons += 1;
        let r = self.r(x) + self.model.cmp_rounds;
        self.push_bit(r)
    }
    fn mux(&mut self, b: Bit, x: Val, y: Val) -> Val {
        self.cost.bytes_per_party += self.model.mul_bytes;
        self.cost.multiplications += 1;
        let r = self.bit_round[b.0].max(self.r(x)).max(self.r(y)) + 1;
        self.push(r)
    }
    fn and(&mut self, b: Bit, c: Bit) -> Bit {
        self.cost.bytes_per_party += self.model.mul_bytes;
        self.cost.multiplications += 1;
        let r = self.bit_round[b.0].max(self.bit_round[c.0]) + 1;
        self.push_bit(r)
    }
    fn not(&mut self, b: Bit) -> Bit {
        let r = self.bit_round[b.0];
        self.push_bit(r)
    }
    fn bit_affine(&mut self, terms: &[(i64, Bit)], _c0: i64) -> Bit {
        let r = terms.iter().map(|&(_, b)| self.bit_round[b.0]).max().unwrap_or(0);
        self.push_bit(r)
    }
}
