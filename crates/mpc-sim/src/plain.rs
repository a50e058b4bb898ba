//! The plaintext fixed-point evaluator: the same operations as the secure session on clear ring elements, with the
//! reference FLOOR truncation of [`activation_approx::fixed`] (`v >> f`). A recipe run here is the exact fixed-point
//! emulation of its secure run (e.g. [`crate::recipes::piecewise`] equals `EncodedPiecewise::eval` bit for bit).

use activation_approx::FixedPoint;

use crate::error::Result;
use crate::evaluator::{self, Evaluator};
use crate::share::{Meta, Party};

/// A clear tensor of ring elements with its [`Meta`].
#[derive(Debug, Clone, PartialEq)]
pub struct PlainValue {
    /// Setting, scale, shape.
    pub meta: Meta,
    /// Two's-complement ring elements, row-major.
    pub data: Vec<i64>,
}

/// Plaintext fixed-point evaluator (no cost, no randomness).
#[derive(Debug, Clone, Copy)]
pub struct PlainEvaluator {
    fx: FixedPoint,
}

impl PlainEvaluator {
    /// An evaluator with setting `fx`.
    pub fn new(fx: FixedPoint) -> Self {
        PlainEvaluator { fx }
    }

    fn map(&self, a: &PlainValue, meta: Meta, f: impl Fn(i64) -> i64) -> Result<PlainValue> {
        a.meta.check_fx("local op", &self.fx)?;
        Ok(PlainValue { meta, data: a.data.iter().map(|&x| f(x)).collect() })
    }

    fn zip(&self, op: &'static str, a: &PlainValue, b: &PlainValue, f: impl Fn(i64, i64) -> i64) -> Result<PlainValue> {
        a.meta.check_fx(op, &self.fx)?;
        a.meta.check_same(op, &b.meta)?;
        Ok(PlainValue { meta: a.meta.clone(), data: a.data.iter().zip(&b.data).map(|(&x, &y)| f(x, y)).collect() })
    }
}

impl Evaluator for PlainEvaluator {
    type Value = PlainValue;
    type Fixed = PlainValue;

    fn fixed_point(&self) -> FixedPoint {
        self.fx
    }

    fn meta(v: &PlainValue) -> &Meta {
        &v.meta
    }

    fn input_raw(&mut self, _owner: Party, xs: &[i64], shape: &[usize], scale: u32) -> Result<PlainValue> {
        Meta::check_len(xs.len(), shape)?;
        Ok(PlainValue { meta: Meta { fx: self.fx, scale, shape: shape.to_vec() }, data: xs.to_vec() })
    }

    fn reveal_raw(&mut self, v: &PlainValue) -> Result<Vec<i64>> {
        v.meta.check_fx("reveal", &self.fx)?;
        Ok(v.data.clone())
    }

    fn reveal_to_raw(&mut self, v: &PlainValue, _to: Party) -> Result<Vec<i64>> {
        self.reveal_raw(v)
    }

    fn add(&mut self, a: &PlainValue, b: &PlainValue) -> Result<PlainValue> {
        self.zip("add", a, b, i64::wrapping_add)
    }

    fn sub(&mut self, a: &PlainValue, b: &PlainValue) -> Result<PlainValue> {
        self.zip("sub", a, b, i64::wrapping_sub)
    }

    fn neg(&mut self, a: &PlainValue) -> Result<PlainValue> {
        self.map(a, a.meta.clone(), i64::wrapping_neg)
    }

    fn add_const_raw(&mut self, a: &PlainValue, c: i64) -> Result<PlainValue> {
        self.map(a, a.meta.clone(), |x| x.wrapping_add(c))
    }

    fn mul_const_raw(&mut self, a: &PlainValue, k: i64, k_scale: u32) -> Result<PlainValue> {
        let meta = a.meta.with_scale(Meta::product_scale("mul_const", a.meta.scale, k_scale)?);
        self.map(a, meta, |x| x.wrapping_mul(k))
    }

    fn concat(&mut self, vs: &[&PlainValue]) -> Result<PlainValue> {
        let meta = evaluator::concat_meta(self.fx, &vs.iter().map(|v| &v.meta).collect::<Vec<_>>())?;
        Ok(PlainValue { meta, data: vs.iter().flat_map(|v| v.data.iter().copied()).collect() })
    }

    fn split(&mut self, v: &PlainValue, sizes: &[usize]) -> Result<Vec<PlainValue>> {
        evaluator::check_split(v.data.len(), sizes)?;
        let mut out = Vec::with_capacity(sizes.len());
        let mut start = 0;
        for &s in sizes {
            out.push(PlainValue { meta: v.meta.with_shape(vec![s]), data: v.data[start..start + s].to_vec() });
            start += s;
        }
        Ok(out)
    }

    fn reshape(&mut self, v: &PlainValue, shape: &[usize]) -> Result<PlainValue> {
        Meta::check_len(v.data.len(), shape)?;
        Ok(PlainValue { meta: v.meta.with_shape(shape.to_vec()), data: v.data.clone() })
    }

    fn gather(&mut self, v: &PlainValue, idx: &[Option<usize>], shape: &[usize]) -> Result<PlainValue> {
        evaluator::check_gather(v.data.len(), idx, shape)?;
        let data = idx.iter().map(|i| i.map_or(0, |i| v.data[i])).collect();
        Ok(PlainValue { meta: v.meta.with_shape(shape.to_vec()), data })
    }

    fn sum_groups(&mut self, v: &PlainValue, group: usize, shape: &[usize]) -> Result<PlainValue> {
        evaluator::check_groups(v.data.len(), group, shape)?;
        let data = v.data.chunks(group).map(|c| c.iter().fold(0i64, |a, &x| a.wrapping_add(x))).collect();
        Ok(PlainValue { meta: v.meta.with_shape(shape.to_vec()), data })
    }

    fn matmul_public_raw(&mut self, a: &PlainValue, w: &[i64], n: usize, w_scale: u32) -> Result<PlainValue> {
        let (m, k) = evaluator::check_matmul_public(&a.meta, w.len(), n)?;
        let scale = Meta::product_scale("matmul_public", a.meta.scale, w_scale)?;
        let au: Vec<u64> = a.data.iter().map(|&x| x as u64).collect();
        let wu: Vec<u64> = w.iter().map(|&x| x as u64).collect();
        let c = crate::ring::matmul(&au, &wu, m, k, n);
        Ok(PlainValue { meta: Meta { fx: self.fx, scale, shape: vec![m, n] }, data: c.into_iter().map(|x| x as i64).collect() })
    }

    fn mul_raw(&mut self, a: &PlainValue, b: &PlainValue) -> Result<PlainValue> {
        let meta = evaluator::product_meta("mul", &a.meta, &b.meta)?;
        a.meta.check_fx("mul", &self.fx)?;
        Ok(PlainValue { meta, data: a.data.iter().zip(&b.data).map(|(&x, &y)| x.wrapping_mul(y)).collect() })
    }

    fn square_raw(&mut self, a: &PlainValue) -> Result<PlainValue> {
        let meta = evaluator::product_meta("square", &a.meta, &a.meta)?;
        self.map(a, meta, |x| x.wrapping_mul(x))
    }

    fn truncate_bits(&mut self, a: &PlainValue, bits: u32) -> Result<PlainValue> {
        let scale = evaluator::check_truncate_bits(&a.meta, bits)?;
        self.map(a, a.meta.with_scale(scale), |x| x >> bits)
    }

    fn ltz(&mut self, a: &PlainValue) -> Result<PlainValue> {
        self.map(a, a.meta.with_scale(0), |x| i64::from(x < 0))
    }

    fn matmul_raw(&mut self, a: &PlainValue, b: &PlainValue) -> Result<PlainValue> {
        let (m, k, n) = evaluator::matmul_dims(&a.meta, &b.meta)?;
        a.meta.check_fx("matmul", &self.fx)?;
        let scale = Meta::product_scale("matmul", a.meta.scale, b.meta.scale)?;
        let au: Vec<u64> = a.data.iter().map(|&x| x as u64).collect();
        let bu: Vec<u64> = b.data.iter().map(|&x| x as u64).collect();
        let c = crate::ring::matmul(&au, &bu, m, k, n);
        Ok(PlainValue { meta: Meta { fx: self.fx, scale, shape: vec![m, n] }, data: c.into_iter().map(|x| x as i64).collect() })
    }

    fn fix_right(&mut self, w: &PlainValue) -> Result<PlainValue> {
        w.meta.check_fx("fix_right", &self.fx)?;
        evaluator::fixed_dims(&w.meta)?;
        Ok(w.clone())
    }

    fn matmul_fixed_raw(&mut self, a: &PlainValue, w: &PlainValue) -> Result<PlainValue> {
        self.matmul_raw(a, w)
    }

    fn parallel<T>(&mut self, n: usize, mut f: impl FnMut(&mut Self, usize) -> Result<T>) -> Result<Vec<T>> {
        (0..n).map(|i| f(self, i)).collect()
    }

    fn scope<T>(&mut self, _label: &str, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        f(self)
    }
}
