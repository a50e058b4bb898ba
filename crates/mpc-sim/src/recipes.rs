//! Recipes written once against [`Evaluator`]: power tree, polynomial, piecewise polynomial, and the building blocks
//! of CrypTen's activations (exp by repeated squaring, Newton–Raphson reciprocal). Run on a [`crate::Session`] they
//! are secure protocols; on a [`crate::PlainEvaluator`] they are their exact fixed-point reference; on a
//! [`crate::CostEvaluator`] they give their cost.

use activation_approx::EncodedPiecewise;
use activation_approx::fixed::{power_tree_depth, power_tree_split};

use crate::error::{MpcError, Result};
use crate::evaluator::Evaluator;

fn check_scale_f<E: Evaluator>(ev: &E, x: &E::Value, op: &'static str) -> Result<()> {
    let m = E::meta(x);
    let f = ev.fixed_point().frac_bits;
    m.check_fx(op, &ev.fixed_point())?;
    if m.scale != f {
        return Err(MpcError::ScaleMismatch { op, left: f, right: m.scale });
    }
    Ok(())
}

/// x^1 … x^degree at scale f by the power tree of `activation_approx::fixed` (x^k = trunc(x^p·x^(k−p)), p the
/// largest power of two below k; a square when k is a power of two). All powers of one tree level are computed
/// concurrently, so the cost is ⌈log₂ degree⌉ levels of (1 round + truncation). Returns `out[k − 1] = x^k`.
pub fn powers<E: Evaluator>(ev: &mut E, x: &E::Value, degree: usize) -> Result<Vec<E::Value>> {
    check_scale_f(ev, x, "powers")?;
    let mut pows: Vec<E::Value> = Vec::with_capacity(degree);
    if degree == 0 {
        return Ok(pows);
    }
    pows.push(x.clone());
    for level in 1..=power_tree_depth(degree) {
        let ks: Vec<usize> = (2..=degree).filter(|&k| power_tree_depth(k) == level).collect();
        let new = ev.parallel(ks.len(), |ev, i| {
            let k = ks[i];
            let p = power_tree_split(k);
            let raw = if k.is_power_of_two() { ev.square_raw(&pows[p - 1])? } else { ev.mul_raw(&pows[p - 1], &pows[k - p - 1])? };
            ev.truncate(&raw)
        })?;
        pows.extend(new);
    }
    Ok(pows)
}

/// Σ_j enc(c_j)·x^j at scale 2f (the constant as enc(c_0)·2^f), from x^1 … x^d; local (one fused pass).
pub fn combine_raw<E: Evaluator>(ev: &mut E, x: &E::Value, pows: &[E::Value], coeffs: &[i64]) -> Result<E::Value> {
    let f = ev.fixed_point().frac_bits;
    if coeffs.len() > pows.len() + 1 {
        return Err(MpcError::InvalidParameter {
            name: "coefficients",
            value: format!("{} for {} powers", coeffs.len(), pows.len()),
            hint: "compute powers up to the polynomial's degree first",
        });
    }
    let c1 = coeffs.get(1).copied().unwrap_or(0);
    let mut terms: Vec<(&E::Value, i64)> = vec![(x, c1)];
    for (j, &c) in coeffs.iter().enumerate().skip(2) {
        if c != 0 {
            terms.push((&pows[j - 1], c));
        }
    }
    let c0 = coeffs.first().copied().unwrap_or(0).wrapping_mul(1i64 << f);
    ev.lincomb_raw(&terms, f, c0)
}

/// A polynomial Σ c_j x^j with real coefficients: power tree, coefficients applied locally at scale 2f, one
/// truncation (the fixed-point rule of `activation_approx::piecewise` for one segment).
pub fn polynomial<E: Evaluator>(ev: &mut E, x: &E::Value, coeffs: &[f64]) -> Result<E::Value> {
    let fx = ev.fixed_point();
    let enc = coeffs.iter().map(|&c| fx.encode(c)).collect::<std::result::Result<Vec<_>, _>>()?;
    let d = enc.iter().rposition(|&c| c != 0).unwrap_or(0);
    let pows = powers(ev, x, d)?;
    let y = combine_raw(ev, x, &pows, &enc[..=d])?;
    ev.truncate(&y)
}

/// Secure piecewise polynomial, straight from the approximation's encoding (`PiecewisePoly::encode`):
///
/// 1. concurrently: all comparisons b_i = \[x ≥ t_i\] in ONE batch (one LTZ on the concatenated x − t_i), and the
///    powers x² … x^d by [`powers`];
/// 2. Y_s = enc(c_0)·2^f + Σ_j enc(c_j)·x^j at scale 2f for every segment (local);
/// 3. Y = Y_0 + Σ_i b_i·(Y_{i+1} − Y_i): all products in ONE round (one batched multiplication);
/// 4. one truncation.
///
/// Rounds = max(8, ⌈log₂ d⌉·(1 + t)) + 1 + t with t the truncation's rounds (0 local, 1 dealer pair) — exactly
/// `TwoPartyCostModel::piecewise_cost`. Step 3 is exact in the ring, so on a [`crate::PlainEvaluator`] this equals
/// `EncodedPiecewise::eval` bit for bit; securely it differs only by the truncation errors (see
/// [`crate::bounds`]).
pub fn piecewise<E: Evaluator>(ev: &mut E, x: &E::Value, pw: &EncodedPiecewise) -> Result<E::Value> {
    check_scale_f(ev, x, "piecewise")?;
    if pw.fx != ev.fixed_point() {
        return Err(MpcError::FixedPointMismatch { op: "piecewise", left: ev.fixed_point().frac_bits, right: pw.fx.frac_bits });
    }
    let nt = pw.thresholds.len();
    if nt == 0 || pw.segments.len() != nt + 1 || pw.segments.iter().any(|s| s.is_empty() || s.len() > pw.max_degree + 1) {
        return Err(MpcError::InvalidParameter {
            name: "encoded piecewise",
            value: format!("{} thresholds, {} segments, max degree {}", nt, pw.segments.len(), pw.max_degree),
            hint: "build it with PiecewisePoly::encode (one more segment than thresholds, none above max_degree)",
        });
    }
    let shape = E::shape(x).to_vec();
    let n = E::len(x);
    let mut branches = ev.parallel(2, |ev, b| {
        if b == 0 {
            let diffs = pw.thresholds.iter().map(|&t| ev.add_const_raw(x, t.wrapping_neg())).collect::<Result<Vec<_>>>()?;
            let cat = ev.concat(&diffs.iter().collect::<Vec<_>>())?;
            let l = ev.ltz(&cat)?;
            Ok(vec![ev.not(&l)?])
        } else {
            powers(ev, x, pw.max_degree)
        }
    })?;
    let pows = branches.pop().unwrap_or_default();
    let bits = branches.pop().and_then(|mut v| v.pop());
    // Y_0, and the differences Y_{i+1} − Y_i formed directly from the coefficient differences (same ring values).
    let mut y = combine_raw(ev, x, &pows, &pw.segments[0])?;
    if let Some(bits) = bits {
        let diffs = (1..pw.segments.len())
            .map(|i| {
                let (hi, lo) = (&pw.segments[i], &pw.segments[i - 1]);
                let d: Vec<i64> = (0..hi.len().max(lo.len()))
                    .map(|j| hi.get(j).copied().unwrap_or(0).wrapping_sub(lo.get(j).copied().unwrap_or(0)))
                    .collect();
                combine_raw(ev, x, &pows, &d)
            })
            .collect::<Result<Vec<_>>>()?;
        let flat = diffs.iter().map(|d| ev.reshape(d, &[n])).collect::<Result<Vec<_>>>()?;
        let cat = ev.concat(&flat.iter().collect::<Vec<_>>())?;
        let prod = ev.mul_raw(&bits, &cat)?;
        let parts = ev.split(&prod, &vec![n; nt])?;
        let mut acc = ev.reshape(&y, &[n])?;
        for p in &parts {
            acc = ev.add(&acc, p)?;
        }
        y = ev.reshape(&acc, &shape)?;
    }
    ev.truncate(&y)
}

/// CrypTen's exp: (1 + x/2^n)^(2^n) by n squarings (n + 1 truncations). Accurate only for moderate |x|
/// (CrypTen uses n = 8); see `docs/cost-model.md`.
pub fn exp_limit<E: Evaluator>(ev: &mut E, x: &E::Value, n: u32) -> Result<E::Value> {
    check_scale_f(ev, x, "exp_limit")?;
    let s = ev.mul_public(x, 2f64.powi(-(n as i32)))?;
    let mut y = ev.add_public(&s, 1.0)?;
    for _ in 0..n {
        y = ev.square(&y)?;
    }
    Ok(y)
}

/// Newton–Raphson reciprocal r ← 2r − x·r² from the initial guess `r0`, `iters` times (2 multiplications per
/// iteration). Converges for 0 < x·r0 < 2.
pub fn reciprocal_newton<E: Evaluator>(ev: &mut E, x: &E::Value, r0: &E::Value, iters: u32) -> Result<E::Value> {
    let mut r = r0.clone();
    for _ in 0..iters {
        let r2 = ev.square(&r)?;
        let xr2 = ev.mul(x, &r2)?;
        let two_r = ev.mul_int(&r, 2)?;
        r = ev.sub(&two_r, &xr2)?;
    }
    Ok(r)
}

/// CrypTen's reciprocal for x > 0: initial guess 3·exp(1 − 2x) + 0.003 (exp with 8 squarings), then `iters`
/// Newton–Raphson steps (CrypTen default 10). (CrypTen, `crypten/common/functions/approximations.py::reciprocal`.)
pub fn reciprocal_crypten<E: Evaluator>(ev: &mut E, x: &E::Value, iters: u32) -> Result<E::Value> {
    let t = ev.mul_int(x, -2)?;
    let t = ev.add_public(&t, 1.0)?;
    let e = exp_limit(ev, &t, 8)?;
    let e3 = ev.mul_int(&e, 3)?;
    let r0 = ev.add_public(&e3, 0.003)?;
    reciprocal_newton(ev, x, &r0, iters)
}
