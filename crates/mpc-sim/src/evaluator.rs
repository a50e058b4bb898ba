//! The evaluator trait: one interface implemented by the secure two-party session ([`crate::Session`]), the
//! plaintext fixed-point reference ([`crate::PlainEvaluator`]) and the cost counter ([`crate::CostEvaluator`]), so
//! that an activation recipe is written once and yields its secure result, its exact fixed-point reference and its
//! cost from one code path (swanky's design).
//!
//! # Values and scales
//! Every value carries a [`Meta`]: the fixed-point setting f, its *scale* (fractional bits carried: f for an
//! ordinary value, 2f for an untruncated product, 0 for a bit or an integer) and a row-major shape. Ring elements are
//! two's-complement integers of Z_{2^64}. Addition needs equal scales; `*_raw` products add scales;
//! [`Evaluator::truncate`] removes f bits. Mixing settings or scales is an error, never a silent wrap.
//!
//! # Costs of the secure implementation (per element, bytes sent by one party)
//! | operation | rounds | bytes |
//! |---|---|---|
//! | [`Evaluator::input_raw`] (input sharing) | 1 | 8 (the owner only) |
//! | add, sub, neg, public constants, concat, split, reshape, gather, sum_groups | 0 | 0 |
//! | [`Evaluator::mul_raw`] (Beaver) | 1 | 16 |
//! | [`Evaluator::square_raw`] | 1 | 8 |
//! | [`Evaluator::truncate`], [`Evaluator::truncate_bits`] | 0 (local) or 1 (dealer pair) | 0 or 8 |
//! | [`Evaluator::ltz`] | 8 | 64 |
//! | [`Evaluator::matmul_raw`] m×k·k×n | 1 | 8(mk + kn) in total |
//! | [`Evaluator::fix_right`] k×n (once per fixed operand) | 1 | 8kn in total |
//! | [`Evaluator::matmul_fixed_raw`] m×k·(fixed k×n) | 1 | 8mk in total |
//! | [`Evaluator::reveal_raw`] | 1 | 8 |
//! | [`Evaluator::reveal_to_raw`] | 1 | 8 (the sender only) |
//!
//! Concurrent sub-protocols go in [`Evaluator::parallel`]: rounds = max over branches, bytes add.

use activation_approx::FixedPoint;

use crate::error::{MpcError, Result};
use crate::share::{Meta, Party};

/// A fixed-point arithmetic back end (secure, plaintext or cost-only). See the module docs for scales and costs.
pub trait Evaluator {
    /// A (shared, plaintext or symbolic) tensor.
    type Value: Clone + Send + Sync + std::fmt::Debug;
    /// A right operand prepared once for many products (a model's weight matrix), see [`Evaluator::fix_right`].
    type Fixed: Clone + Send + Sync + std::fmt::Debug;

    /// The evaluator's fixed-point setting.
    fn fixed_point(&self) -> FixedPoint;

    /// Setting, scale and shape of a value.
    fn meta(v: &Self::Value) -> &Meta;

    // ---- input / output ----

    /// Encodes reals at scale f (error if any is out of range) and shares them from their `owner`
    /// ([`Evaluator::input_raw`]).
    fn input(&mut self, owner: Party, xs: &[f64], shape: &[usize]) -> Result<Self::Value> {
        let fx = self.fixed_point();
        let enc = xs.iter().map(|&x| fx.encode(x)).collect::<std::result::Result<Vec<_>, _>>()?;
        self.input_raw(owner, &enc, shape, fx.frac_bits)
    }

    /// Input sharing: `owner` shares ring elements that carry `scale` fractional bits, sending the other party its
    /// share (secure: 1 round, 8 B per element from the owner, nothing back; metered like every other message).
    fn input_raw(&mut self, owner: Party, xs: &[i64], shape: &[usize], scale: u32) -> Result<Self::Value>;

    /// Opens a value to both parties (secure: 1 round, 8 B per element per party).
    fn reveal_raw(&mut self, v: &Self::Value) -> Result<Vec<i64>>;

    /// Opens a value to party `to` only: the other party sends its share (secure: 1 round, 8 B per element from
    /// the sender, nothing back). Only `to` learns the result; the simulation returns it to the caller.
    fn reveal_to_raw(&mut self, v: &Self::Value, to: Party) -> Result<Vec<i64>>;

    /// Opens and decodes with the value's scale.
    fn reveal(&mut self, v: &Self::Value) -> Result<Vec<f64>> {
        let scale = Self::meta(v).scale;
        let s = 2f64.powi(scale as i32);
        Ok(self.reveal_raw(v)?.into_iter().map(|x| x as f64 / s).collect())
    }

    // ---- local operations ----

    /// a + b (same setting, scale and shape).
    fn add(&mut self, a: &Self::Value, b: &Self::Value) -> Result<Self::Value>;
    /// a − b.
    fn sub(&mut self, a: &Self::Value, b: &Self::Value) -> Result<Self::Value>;
    /// −a.
    fn neg(&mut self, a: &Self::Value) -> Result<Self::Value>;
    /// a + c for a public ring element c (already at a's scale), elementwise.
    fn add_const_raw(&mut self, a: &Self::Value, c: i64) -> Result<Self::Value>;
    /// a · k for a public ring element k carrying `k_scale` fractional bits; the result carries scale + k_scale.
    fn mul_const_raw(&mut self, a: &Self::Value, k: i64, k_scale: u32) -> Result<Self::Value>;
    /// Flattens and concatenates values of one setting and scale into a 1-D value.
    fn concat(&mut self, vs: &[&Self::Value]) -> Result<Self::Value>;
    /// Splits a value into consecutive 1-D parts of the given sizes (they must add up to its length).
    fn split(&mut self, v: &Self::Value, sizes: &[usize]) -> Result<Vec<Self::Value>>;
    /// Same elements, new shape.
    fn reshape(&mut self, v: &Self::Value, shape: &[usize]) -> Result<Self::Value>;
    /// `out[i] = v[idx[i]]`, or 0 for `None`, with the given output shape (im2col, pooling windows, transposes).
    fn gather(&mut self, v: &Self::Value, idx: &[Option<usize>], shape: &[usize]) -> Result<Self::Value>;
    /// Sums consecutive groups of `group` elements: `out[i] = Σ_{j<group} v[i·group + j]`; output shape `shape`.
    fn sum_groups(&mut self, v: &Self::Value, group: usize, shape: &[usize]) -> Result<Self::Value>;
    /// a (m×k) · W (k×n) for a public matrix W of ring elements at scale `w_scale` (local; scale adds).
    fn matmul_public_raw(&mut self, a: &Self::Value, w: &[i64], n: usize, w_scale: u32) -> Result<Self::Value>;

    // ---- interactive operations ----

    /// Elementwise product without truncation; scales add (secure: Beaver, 1 round, 16 B).
    fn mul_raw(&mut self, a: &Self::Value, b: &Self::Value) -> Result<Self::Value>;
    /// a² without truncation (secure: square pair, 1 round, 8 B).
    fn square_raw(&mut self, a: &Self::Value) -> Result<Self::Value>;
    /// Removes `bits` fractional bits (1 ≤ bits ≤ min(62, scale)); the scale drops by `bits`. Plaintext: floor
    /// (`>> bits`); secure: floor + e with e ∈ {0, 1}, by the session's truncation protocol (local: one shift per
    /// share, free; dealer pair: one pair (r, r >> bits), 1 round, 8 B), see [`crate::secure`]. One call removes all
    /// the bits at once, whatever their number: NFGen's term truncated by f + s_j costs one truncation, not a chain.
    fn truncate_bits(&mut self, a: &Self::Value, bits: u32) -> Result<Self::Value>;
    /// \[a < 0\] as an integer 0/1 value (scale 0) (secure: 8 rounds, 64 B).
    fn ltz(&mut self, a: &Self::Value) -> Result<Self::Value>;
    /// Matrix product a (m×k) · b (k×n) without truncation (secure: matrix triple, 1 round).
    fn matmul_raw(&mut self, a: &Self::Value, b: &Self::Value) -> Result<Self::Value>;
    /// Prepares a k×n value W as the fixed right operand of many products: the secure session masks it once with
    /// a dealer matrix B and opens F = W − B (1 round, 8·k·n B per party); B is never reused for another W. Done once
    /// per model: every later product with W (in this session or in a [`crate::Session::fork`] of it, e.g. one per
    /// batch) gets fresh dealer material A, C = A·B for the same B.
    fn fix_right(&mut self, w: &Self::Value) -> Result<Self::Fixed>;
    /// a (m×k) · W for a fixed W, without truncation: the dealer gives a fresh A and C = A·B for W's mask B, the
    /// parties open E = a − A (1 round, 8·m·k B per party) and set a·W = C + E·B + A·F + E·F. Same result and
    /// scale rule as [`Evaluator::matmul_raw`].
    fn matmul_fixed_raw(&mut self, a: &Self::Value, w: &Self::Fixed) -> Result<Self::Value>;

    // ---- structure ----

    /// Runs `n` concurrent branches; secure rounds are the max over branches, bytes add.
    fn parallel<T>(&mut self, n: usize, f: impl FnMut(&mut Self, usize) -> Result<T>) -> Result<Vec<T>>;
    /// Attributes the costs of `f` to `label` (nested labels form paths such as `layer3/silu`).
    fn scope<T>(&mut self, label: &str, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T>;

    // ---- provided ----

    /// Shape of a value.
    fn shape(v: &Self::Value) -> &[usize] {
        &Self::meta(v).shape
    }

    /// Number of elements.
    fn len(v: &Self::Value) -> usize {
        Self::meta(v).len()
    }

    /// a + c for a real c, encoded at a's scale.
    fn add_public(&mut self, a: &Self::Value, c: f64) -> Result<Self::Value> {
        let k = encode_at(self.fixed_point(), c, Self::meta(a).scale)?;
        self.add_const_raw(a, k)
    }

    /// a · enc_f(c) without truncation (scale + f).
    fn mul_public_raw(&mut self, a: &Self::Value, c: f64) -> Result<Self::Value> {
        let fx = self.fixed_point();
        let k = fx.encode(c)?;
        self.mul_const_raw(a, k, fx.frac_bits)
    }

    /// a · c, truncated back to a's scale.
    fn mul_public(&mut self, a: &Self::Value, c: f64) -> Result<Self::Value> {
        let p = self.mul_public_raw(a, c)?;
        self.truncate(&p)
    }

    /// a · k for an integer k (exact, scale unchanged).
    fn mul_int(&mut self, a: &Self::Value, k: i64) -> Result<Self::Value> {
        self.mul_const_raw(a, k, 0)
    }

    /// Σ_i k_i·v_i + c for public ring elements k_i carrying `k_scale` fractional bits (result scale: the terms'
    /// scale + k_scale; c already at that scale, added once). Local; the secure session fuses it into one pass.
    fn lincomb_raw(&mut self, terms: &[(&Self::Value, i64)], k_scale: u32, constant: i64) -> Result<Self::Value> {
        let metas: Vec<&Meta> = terms.iter().map(|(v, _)| Self::meta(v)).collect();
        check_lincomb(&metas)?;
        let mut acc = self.mul_const_raw(terms[0].0, terms[0].1, k_scale)?;
        for (v, k) in &terms[1..] {
            let t = self.mul_const_raw(v, *k, k_scale)?;
            acc = self.add(&acc, &t)?;
        }
        self.add_const_raw(&acc, constant)
    }

    /// Removes f fractional bits ([`Evaluator::truncate_bits`] with f).
    fn truncate(&mut self, a: &Self::Value) -> Result<Self::Value> {
        let f = self.fixed_point().frac_bits;
        self.truncate_bits(a, f)
    }

    /// Fixed-point product: [`Evaluator::mul_raw`] then [`Evaluator::truncate`].
    fn mul(&mut self, a: &Self::Value, b: &Self::Value) -> Result<Self::Value> {
        let p = self.mul_raw(a, b)?;
        self.truncate(&p)
    }

    /// Fixed-point square.
    fn square(&mut self, a: &Self::Value) -> Result<Self::Value> {
        let p = self.square_raw(a)?;
        self.truncate(&p)
    }

    /// Fixed-point matrix product.
    fn matmul(&mut self, a: &Self::Value, b: &Self::Value) -> Result<Self::Value> {
        let p = self.matmul_raw(a, b)?;
        self.truncate(&p)
    }

    /// Fixed-point product with a fixed right operand.
    fn matmul_fixed(&mut self, a: &Self::Value, w: &Self::Fixed) -> Result<Self::Value> {
        let p = self.matmul_fixed_raw(a, w)?;
        self.truncate(&p)
    }

    /// 1 − a for a bit a.
    fn not(&mut self, bit: &Self::Value) -> Result<Self::Value> {
        let n = self.neg(bit)?;
        self.add_const_raw(&n, 1)
    }

    /// \[a ≥ t\] for a public real t (= 1 − LTZ(a − t)); 0/1 at scale 0.
    fn ge_public(&mut self, a: &Self::Value, t: f64) -> Result<Self::Value> {
        let d = self.add_public(a, -t)?;
        let l = self.ltz(&d)?;
        self.not(&l)
    }

    /// \[a ≥ b\] for two values.
    fn ge(&mut self, a: &Self::Value, b: &Self::Value) -> Result<Self::Value> {
        let d = self.sub(a, b)?;
        let l = self.ltz(&d)?;
        self.not(&l)
    }

    /// Multiplexer `c ? a : b` = b + c·(a − b) for a bit c (1 multiplication, scale of a).
    fn select(&mut self, c: &Self::Value, a: &Self::Value, b: &Self::Value) -> Result<Self::Value> {
        let d = self.sub(a, b)?;
        let m = self.mul_raw(c, &d)?;
        self.add(b, &m)
    }

    /// ReLU(a) = a·\[a ≥ 0\] (LTZ + one multiplication: 9 rounds, 80 B).
    fn relu(&mut self, a: &Self::Value) -> Result<Self::Value> {
        let l = self.ltz(a)?;
        let b = self.not(&l)?;
        self.mul_raw(&b, a)
    }

    /// max(a, b) = b + \[a ≥ b\]·(a − b).
    fn max(&mut self, a: &Self::Value, b: &Self::Value) -> Result<Self::Value> {
        let c = self.ge(a, b)?;
        self.select(&c, a, b)
    }

    /// A piecewise polynomial with public breakpoints and coefficients (`activation_approx::EncodedPiecewise`), at
    /// scale f. The provided body is the comparison-and-selection protocol of [`crate::recipes::piecewise`]; a
    /// backend with a cheaper gate for the whole spline (e.g. function secret sharing) overrides it, so every
    /// piecewise-polynomial method that calls it gets that gate.
    fn piecewise(&mut self, x: &Self::Value, pw: &activation_approx::EncodedPiecewise) -> Result<Self::Value>
    where
        Self: Sized,
    {
        crate::recipes::piecewise(self, x, pw)
    }

    /// |a| = a − 2·\[a < 0\]·a (LTZ + one multiplication).
    fn abs(&mut self, a: &Self::Value) -> Result<Self::Value> {
        let l = self.ltz(a)?;
        let m = self.mul_raw(&l, a)?;
        let m2 = self.mul_int(&m, 2)?;
        self.sub(a, &m2)
    }
}

/// ⌊c·2^scale⌉ as a ring element, with the same range rule as [`FixedPoint::encode`].
pub fn encode_at(fx: FixedPoint, c: f64, scale: u32) -> Result<i64> {
    let limit = 2f64.powi(63 - scale as i32);
    if !c.is_finite() || c.abs() >= limit {
        return Err(MpcError::Approx(activation_approx::ApproxError::FixedPointOverflow {
            value: c,
            frac_bits: scale.max(fx.frac_bits),
            limit,
        }));
    }
    Ok((c * 2f64.powi(scale as i32)).round() as i64)
}

/// Checks a fixed right operand (a k×n matrix); returns (k, n).
pub fn fixed_dims(w: &Meta) -> Result<(usize, usize)> {
    match w.shape.as_slice() {
        [k, n] => Ok((*k, *n)),
        _ => Err(MpcError::ShapeMismatch { op: "fix_right (needs a k×n matrix)", left: w.shape.clone(), right: vec![] }),
    }
}

/// Checks the operands of a matrix product; returns (m, k, n).
pub fn matmul_dims(a: &Meta, b: &Meta) -> Result<(usize, usize, usize)> {
    b.check_fx("matmul", &a.fx)?;
    match (a.shape.as_slice(), b.shape.as_slice()) {
        ([m, k], [k2, n]) if k == k2 => Ok((*m, *k, *n)),
        _ => Err(MpcError::ShapeMismatch { op: "matmul (needs m×k and k×n)", left: a.shape.clone(), right: b.shape.clone() }),
    }
}

/// Checks gather indices against the source length and the output shape.
pub fn check_gather(src_len: usize, idx: &[Option<usize>], shape: &[usize]) -> Result<()> {
    Meta::check_len(idx.len(), shape)?;
    if let Some(bad) = idx.iter().flatten().find(|&&i| i >= src_len) {
        return Err(MpcError::InvalidParameter {
            name: "gather index",
            value: bad.to_string(),
            hint: "indices must be below the source length",
        });
    }
    Ok(())
}

/// Checks the terms of a linear combination (non-empty, one setting, scale and shape); returns the first meta.
pub fn check_lincomb<'a>(metas: &[&'a Meta]) -> Result<&'a Meta> {
    let Some(first) = metas.first() else {
        return Err(MpcError::InvalidParameter { name: "lincomb terms", value: "0".into(), hint: "pass at least one term" });
    };
    for m in &metas[1..] {
        first.check_same("lincomb", m)?;
    }
    Ok(first)
}

/// Checks split sizes against the length.
pub fn check_split(len: usize, sizes: &[usize]) -> Result<()> {
    let total: usize = sizes.iter().sum();
    if total != len {
        return Err(MpcError::LengthMismatch { len: total, shape: vec![len], expected: len });
    }
    Ok(())
}

/// Checks a sum_groups request; returns the number of groups.
pub fn check_groups(len: usize, group: usize, shape: &[usize]) -> Result<usize> {
    if group == 0 || len % group != 0 {
        return Err(MpcError::InvalidParameter {
            name: "group",
            value: group.to_string(),
            hint: "the group size must be positive and divide the length",
        });
    }
    Meta::check_len(len / group, shape)?;
    Ok(len / group)
}

/// Checks the scale of a value about to lose f bits; returns the new scale.
pub fn check_truncate(m: &Meta) -> Result<u32> {
    check_truncate_bits(m, m.fx.frac_bits)
}

/// Checks the scale of a value about to lose `bits` bits (1 ≤ bits ≤ 62, at most its scale); returns the new scale.
pub fn check_truncate_bits(m: &Meta, bits: u32) -> Result<u32> {
    if bits == 0 || bits > 62 {
        return Err(MpcError::InvalidParameter {
            name: "truncation bits",
            value: bits.to_string(),
            hint: "truncate by 1 to 62 bits",
        });
    }
    if m.scale < bits {
        return Err(MpcError::TruncateBelowScale { scale: m.scale, frac_bits: bits });
    }
    Ok(m.scale - bits)
}

/// Checks a public-matrix product: a is m×k, w has k·n entries; returns (m, k).
pub fn check_matmul_public(a: &Meta, w_len: usize, n: usize) -> Result<(usize, usize)> {
    match a.shape.as_slice() {
        [m, k] if k * n == w_len => Ok((*m, *k)),
        _ => Err(MpcError::ShapeMismatch { op: "matmul_public (needs m×k and k×n)", left: a.shape.clone(), right: vec![w_len / n.max(1), n] }),
    }
}

/// Meta of a product of a and b (elementwise): shapes equal, settings equal, scales add.
pub fn product_meta(op: &'static str, a: &Meta, b: &Meta) -> Result<Meta> {
    b.check_fx(op, &a.fx)?;
    if a.shape != b.shape {
        return Err(MpcError::ShapeMismatch { op, left: a.shape.clone(), right: b.shape.clone() });
    }
    Ok(a.with_scale(Meta::product_scale(op, a.scale, b.scale)?))
}

/// Meta of a concatenation.
pub fn concat_meta(fx: FixedPoint, metas: &[&Meta]) -> Result<Meta> {
    let Some(first) = metas.first() else {
        return Err(MpcError::InvalidParameter { name: "concat operands", value: "0".into(), hint: "pass at least one value" });
    };
    for m in metas {
        m.check_fx("concat", &fx)?;
        if m.scale != first.scale {
            return Err(MpcError::ScaleMismatch { op: "concat", left: first.scale, right: m.scale });
        }
    }
    Ok(Meta { fx, scale: first.scale, shape: vec![metas.iter().map(|m| m.len()).sum()] })
}
