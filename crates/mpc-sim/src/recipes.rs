//! Recipes written once against [`Evaluator`]: power tree, polynomial, piecewise polynomial, and the building blocks
//! of CrypTen's activations (exp by repeated squaring, Newton–Raphson reciprocal). Run on a [`crate::Session`] they
//! are secure protocols; on a [`crate::PlainEvaluator`] they are their exact fixed-point reference; on a
//! [`crate::CostEvaluator`] they give their cost.

use activation_approx::EncodedPiecewise;
use activation_approx::fixed::{power_closure, power_tree_depth, power_tree_split};

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
    let need = vec![true; degree + 1];
    let pows = powers_where(ev, x, &need)?;
    Ok(pows.into_iter().skip(1).take(degree).flatten().collect())
}

/// The powers x^k with `need[k]` (k ≥ 1), and those the power tree needs to build them
/// ([`activation_approx::fixed::power_closure`]), level by level as in [`powers`]; `out[k]` = x^k or `None` when
/// not built (`out[0]` is always `None`, `out[1]` = x, always present). Only the tree levels of the needed powers are
/// paid.
pub fn powers_where<E: Evaluator>(ev: &mut E, x: &E::Value, need: &[bool]) -> Result<Vec<Option<E::Value>>> {
    check_scale_f(ev, x, "powers")?;
    let need = power_closure(need);
    let degree = need.len().saturating_sub(1);
    let mut pows: Vec<Option<E::Value>> = vec![None; degree.max(1) + 1];
    pows[1] = Some(x.clone());
    for level in 1..=power_tree_depth(degree) {
        let ks: Vec<usize> = (2..=degree).filter(|&k| need[k] && power_tree_depth(k) == level).collect();
        if ks.is_empty() {
            continue;
        }
        let new = ev.parallel(ks.len(), |ev, i| {
            let k = ks[i];
            let p = power_tree_split(k);
            let (a, b) = (power(&pows, p)?, power(&pows, k - p)?);
            let raw = if k.is_power_of_two() { ev.square_raw(a)? } else { ev.mul_raw(a, b)? };
            ev.truncate(&raw)
        })?;
        for (k, v) in ks.into_iter().zip(new) {
            pows[k] = Some(v);
        }
    }
    Ok(pows)
}

fn power<V>(pows: &[Option<V>], k: usize) -> Result<&V> {
    pows.get(k).and_then(Option::as_ref).ok_or(MpcError::InvalidParameter {
        name: "power",
        value: k.to_string(),
        hint: "a power was used before the power tree built it (internal error)",
    })
}

/// Σ_j enc(c_j)·x^j at scale 2f (the constant as enc(c_0)·2^f), from powers built by [`powers_where`] (`pows[k]`
/// = x^k); terms whose encoded coefficient is 0 are skipped. Local (one fused pass).
pub fn combine_raw<E: Evaluator>(ev: &mut E, x: &E::Value, pows: &[Option<E::Value>], coeffs: &[i64]) -> Result<E::Value> {
    let f = ev.fixed_point().frac_bits;
    let mut terms: Vec<(&E::Value, i64)> = Vec::new();
    for (j, &c) in coeffs.iter().enumerate().skip(1) {
        if c != 0 {
            let p = pows.get(j).and_then(Option::as_ref).ok_or(MpcError::InvalidParameter {
                name: "coefficients",
                value: format!("x^{j} without its power"),
                hint: "compute the powers the coefficients use first (powers_where)",
            })?;
            terms.push((p, c));
        }
    }
    if terms.is_empty() {
        terms.push((x, 0));
    }
    let c0 = coeffs.first().copied().unwrap_or(0).wrapping_mul(1i64 << f);
    ev.lincomb_raw(&terms, f, c0)
}

/// A polynomial Σ c_j x^j with real coefficients: the powers its nonzero encoded coefficients need, coefficients
/// applied locally at scale 2f, one truncation (the fixed-point rule of `activation_approx::piecewise` for one
/// segment).
pub fn polynomial<E: Evaluator>(ev: &mut E, x: &E::Value, coeffs: &[f64]) -> Result<E::Value> {
    let fx = ev.fixed_point();
    let enc = coeffs.iter().map(|&c| fx.encode(c)).collect::<std::result::Result<Vec<_>, _>>()?;
    let need: Vec<bool> = enc.iter().map(|&c| c != 0).collect();
    let pows = powers_where(ev, x, &need)?;
    let y = combine_raw(ev, x, &pows, &enc)?;
    ev.truncate(&y)
}

/// Secure piecewise polynomial, straight from the approximation's encoding (`PiecewisePoly::encode`), with
/// thresholds t_0 < … < t_{n−1} and segments Y_0 … Y_n:
///
/// 1. concurrently: all comparisons b_i = \[x ≥ t_i\] in ONE batch (one LTZ on the concatenated x − t_i), and the
///    powers that some nonzero encoded coefficient uses (with the tree's intermediate powers) by [`powers_where`];
/// 2. Y_0 = enc(c_0)·2^f + Σ_j enc(c_j)·x^j at scale 2f and the differences D_i = Y_{i+1} − Y_i from the
///    coefficient differences (local; zero coefficients skipped);
/// 3. Y = Y_0 + Σ_i b_i·D_i: the D_i that are polynomials are multiplied in ONE round (one batched Beaver
///    product); a constant D_i is a public multiple of the bit (local), a zero D_i is skipped;
/// 4. one truncation.
///
/// With no thresholds it is one polynomial. Rounds = max(8, L·(1 + t)) + [some D_i is a polynomial] + t, with L
/// the power-tree levels paid and t the truncation's rounds (0 local, 1 dealer pair); the search's closed form
/// (`activation_approx::TwoPartyCostModel`) is tested equal to it. Step 3 is exact in the ring, so on a
/// [`crate::PlainEvaluator`] this equals `EncodedPiecewise::eval` bit for bit; securely it differs only by the
/// truncation errors (see [`crate::bounds`]).
pub fn piecewise<E: Evaluator>(ev: &mut E, x: &E::Value, pw: &EncodedPiecewise) -> Result<E::Value> {
    check_scale_f(ev, x, "piecewise")?;
    if pw.fx != ev.fixed_point() {
        return Err(MpcError::FixedPointMismatch { op: "piecewise", left: ev.fixed_point().frac_bits, right: pw.fx.frac_bits });
    }
    let nt = pw.thresholds.len();
    if pw.segments.len() != nt + 1 || pw.segments.iter().any(|s| s.is_empty() || s.len() > pw.max_degree + 1) {
        return Err(MpcError::InvalidParameter {
            name: "encoded piecewise",
            value: format!("{} thresholds, {} segments, max degree {}", nt, pw.segments.len(), pw.max_degree),
            hint: "build it with PiecewisePoly::encode (one more segment than thresholds, none above max_degree)",
        });
    }
    let f = ev.fixed_point().frac_bits;
    let shape = E::shape(x).to_vec();
    let n = E::len(x);
    let need = pw.used_powers();
    let (bits, pows) = if nt == 0 {
        (None, powers_where(ev, x, &need)?)
    } else {
        let mut bits = None;
        let mut pows = Vec::new();
        ev.parallel(2, |ev, b| {
            if b == 0 {
                let diffs = pw.thresholds.iter().map(|&t| ev.add_const_raw(x, t.wrapping_neg())).collect::<Result<Vec<_>>>()?;
                let flat = diffs.iter().map(|d| ev.reshape(d, &[n])).collect::<Result<Vec<_>>>()?;
                let cat = ev.concat(&flat.iter().collect::<Vec<_>>())?;
                let l = ev.ltz(&cat)?;
                let ge = ev.not(&l)?;
                bits = Some(ev.split(&ge, &vec![n; nt])?);
            } else {
                pows = powers_where(ev, x, &need)?;
            }
            Ok(())
        })?;
        (bits, pows)
    };
    let y = combine_raw(ev, x, &pows, &pw.segments[0])?;
    let mut acc = ev.reshape(&y, &[n])?;
    if let Some(bits) = bits {
        let mut poly_bits = Vec::new();
        let mut poly_diffs = Vec::new();
        for (i, bit) in bits.iter().enumerate() {
            let d = pw.segment_difference(i);
            if d.iter().all(|&c| c == 0) {
                continue;
            }
            if d.iter().skip(1).all(|&c| c == 0) {
                // b_i·enc(c_0)·2^f: a public multiple of the bit, at scale 2f.
                let t = ev.mul_const_raw(bit, d[0].wrapping_mul(1i64 << f), 2 * f)?;
                acc = ev.add(&acc, &t)?;
            } else {
                let dv = combine_raw(ev, x, &pows, &d)?;
                poly_diffs.push(ev.reshape(&dv, &[n])?);
                poly_bits.push(bit.clone());
            }
        }
        if !poly_diffs.is_empty() {
            let cb = ev.concat(&poly_bits.iter().collect::<Vec<_>>())?;
            let cd = ev.concat(&poly_diffs.iter().collect::<Vec<_>>())?;
            let prod = ev.mul_raw(&cb, &cd)?;
            for p in ev.split(&prod, &vec![n; poly_diffs.len()])? {
                acc = ev.add(&acc, &p)?;
            }
        }
    }
    let y = ev.reshape(&acc, &shape)?;
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
