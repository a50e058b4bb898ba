//! CrypTen's recipes (Knott et al., "CrypTen: Secure Multi-Party Computation Meets Machine Learning", NeurIPS 2021;
//! source `crypten/common/functions/approximations.py`, defaults from `crypten/config/default.yaml`), and the
//! activations composed from them. CrypTen itself has no SiLU, GELU or Mish.
//!
//! - exp(x) = (1 + x/2^n)^(2^n) by n squarings ("limit approximation"; `exp_iterations` = 8).
//! - reciprocal(x): sign s = 1 − 2·[x < 0], y = s·x, then Newton–Raphson r ← 2r − y·r² (`reciprocal_nr_iters` = 10)
//!   from r₀ = 3·exp(1 − 2y) + 0.003, result s·r.
//! - sigmoid(x) (`approximations.py::sigmoid`, default "reciprocal" method): l = [x < 0]; y = |x| = mux; d = 1 + exp(−y)
//!   with 9 exp iterations; r = reciprocal(d) with 3 NR iterations from 0.75, all-positive (no sign step);
//!   result mux(1 − l, r, 1 − r).
//! - tanh(x) = 2·σ(2x) − 1 (`approximations.py::tanh`, "reciprocal" method).
//! - SiLU(x) = x·σ(x).
//! - GELU-tanh(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) with CrypTen's tanh (also used for exact GELU).
//! - Mish(x) = x·tanh(softplus(x)) = x·(1 − s²)/(1 + s²) with s = σ(−x) (exact identity: with u = 1 + eˣ = 1/s,
//!   tanh(ln u) = (u² − 1)/(u² + 1)); CrypTen's log is avoided, its sigmoid and general reciprocal are used.
//! - `crypten-erf`: GELU(x) = 0.5·x·(1 + erf(x/√2)) with CrypTen's Taylor erf
//!   erf(z) ≈ 2/√π·Σ_{n=0}^{8} (−1)^n z^{2n+1}/(n!·(2n+1)) (`erf_iterations` = 8). We compute the powers
//!   correctly (CrypTen's `pos_pow` helper returns wrong odd powers ≥ 5, a known defect we do not reproduce). The
//!   truncated series diverges: its error is 6.3e-2 at |z| = 2 (|x| ≈ 2.83) and grows like z^19 beyond, and at f = 16
//!   the last coefficients (|c| < 2^−17, n = 8) encode to 0 or to a few LSBs (n = 7), so the fixed-point value
//!   follows the f64 series only for |x| ≲ 2 (error 185 at |x| = 4), and z^17 overflows the ring for |x| > 9.
//!
//! Selection uses a 1-product multiplexer where CrypTen's `where` spends two products (the cheaper, documented
//! form). Public integer factors (CrypTen's `1 − 2·y`, `3·exp(…)`, `2·r`) are exact local multiples, no truncation.
//! The programs are sequential chains as in CrypTen (every step needs the previous one), so their metered rounds
//! are their depth. [`Method::eval_f64`] is the same recipe in f64 ([`f64_recipe`]): the published iteration, not
//! the true function.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

use mpc_sim::Evaluator;

use crate::method::{Method, MethodInfo, Program, SecureMethod};
use crate::registry::{BuildContext, MethodSpec, Options, Result, not_defined};

/// Registry entry for the composed recipes.
pub const SPEC: MethodSpec = MethodSpec {
    name: "crypten",
    about: "CrypTen exp-limit sigmoid + Newton reciprocal, composed (SiLU, tanh, GELU-tanh, Mish)",
    activations: &["sigmoid", "tanh", "silu", "gelu", "gelu_tanh", "mish"],
    build,
};

/// Registry entry for the Taylor-erf GELU.
pub const SPEC_ERF: MethodSpec = MethodSpec {
    name: "crypten-erf",
    about: "GELU with CrypTen's 8-term Taylor erf (diverges for |x| > 2.5)",
    activations: &["gelu"],
    build: build_erf,
};

/// Iteration counts (CrypTen defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Iterations {
    /// Squarings in exp (8).
    pub exp: usize,
    /// Squarings in the sigmoid's exp (9).
    pub sigmoid_exp: usize,
    /// Newton–Raphson iterations of the general reciprocal (10).
    pub reciprocal: usize,
    /// Newton–Raphson iterations inside the sigmoid (3).
    pub sigmoid_reciprocal: usize,
    /// Taylor terms of erf beyond the first (8).
    pub erf: usize,
}

impl Default for Iterations {
    fn default() -> Self {
        Iterations { exp: 8, sigmoid_exp: 9, reciprocal: 10, sigmoid_reciprocal: 3, erf: 8 }
    }
}

fn iterations(name: &str, ctx: &BuildContext) -> Result<Iterations> {
    let o = Options::new(
        name,
        &ctx.config,
        &[
            "exp_iterations",
            "sigmoid_exp_iterations",
            "reciprocal_iterations",
            "sigmoid_reciprocal_iterations",
            "erf_iterations",
        ],
    )?;
    let d = Iterations::default();
    Ok(Iterations {
        exp: o.usize("exp_iterations", d.exp, 1, 20)?,
        sigmoid_exp: o.usize("sigmoid_exp_iterations", d.sigmoid_exp, 1, 20)?,
        reciprocal: o.usize("reciprocal_iterations", d.reciprocal, 1, 50)?,
        sigmoid_reciprocal: o.usize("sigmoid_reciprocal_iterations", d.sigmoid_reciprocal, 1, 50)?,
        erf: o.usize("erf_iterations", d.erf, 1, 12)?,
    })
}

fn build(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
    let it = iterations("crypten", ctx)?;
    let recipe = match ctx.activation_name() {
        "sigmoid" => Recipe::Sigmoid,
        "tanh" => Recipe::Tanh,
        "silu" => Recipe::Silu,
        "gelu" | "gelu_tanh" => Recipe::GeluTanh,
        "mish" => Recipe::Mish,
        other => return Err(not_defined("crypten", other, SPEC.activations)),
    };
    Ok(Box::new(Crypten { recipe, it, activation: ctx.activation_name().into() }))
}

fn build_erf(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
    let it = iterations("crypten-erf", ctx)?;
    Ok(Box::new(Crypten { recipe: Recipe::GeluErf, it, activation: ctx.activation_name().into() }))
}

/// Which composition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipe {
    /// σ(x).
    Sigmoid,
    /// 2σ(2x) − 1.
    Tanh,
    /// x·σ(x).
    Silu,
    /// 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))).
    GeluTanh,
    /// x·(1 − s²)/(1 + s²), s = σ(−x).
    Mish,
    /// 0.5x(1 + erf_Taylor(x/√2)).
    GeluErf,
}

type R<V> = mpc_sim::Result<V>;

/// exp(x) ≈ (1 + x/2^n)^(2^n): one truncated product by 2^−n, then n squarings.
pub fn exp<E: Evaluator>(ev: &mut E, x: &E::Value, n: usize) -> R<E::Value> {
    let s = ev.mul_public(x, 1.0 / (1u64 << n) as f64)?;
    let mut y = ev.add_public(&s, 1.0)?;
    for _ in 0..n {
        y = ev.square(&y)?;
    }
    Ok(y)
}

/// Newton–Raphson reciprocal of a positive y: r ← 2r − y·r², from `initial` or from 3·exp(1 − 2y) + 0.003.
pub fn reciprocal_pos<E: Evaluator>(ev: &mut E, y: &E::Value, iters: usize, initial: Option<f64>, exp_iters: usize) -> R<E::Value> {
    let mut r = match initial {
        Some(r0) => {
            let zero = ev.mul_int(y, 0)?;
            ev.add_public(&zero, r0)?
        }
        None => {
            let m = ev.mul_int(y, -2)?;
            let arg = ev.add_public(&m, 1.0)?;
            let e = exp(ev, &arg, exp_iters)?;
            let e3 = ev.mul_int(&e, 3)?;
            ev.add_public(&e3, 0.003)?
        }
    };
    for _ in 0..iters {
        let r2 = ev.square(&r)?;
        let yr2 = ev.mul(&r2, y)?;
        let two_r = ev.mul_int(&r, 2)?;
        r = ev.sub(&two_r, &yr2)?;
    }
    Ok(r)
}

/// CrypTen's general reciprocal: sign first (one comparison), then [`reciprocal_pos`] of |y|, times the sign.
pub fn reciprocal<E: Evaluator>(ev: &mut E, y: &E::Value, it: &Iterations) -> R<E::Value> {
    let pos = ev.ge_public(y, 0.0)?;
    let neg = ev.neg(y)?;
    let abs = ev.select(&pos, y, &neg)?;
    let r = reciprocal_pos(ev, &abs, it.reciprocal, None, it.exp)?;
    let nr = ev.neg(&r)?;
    ev.select(&pos, &r, &nr)
}

/// CrypTen's default sigmoid (module docs).
pub fn sigmoid<E: Evaluator>(ev: &mut E, x: &E::Value, it: &Iterations) -> R<E::Value> {
    let pos = ev.ge_public(x, 0.0)?;
    let negx = ev.neg(x)?;
    let abs = ev.select(&pos, x, &negx)?;
    let neg_abs = ev.neg(&abs)?;
    let e = exp(ev, &neg_abs, it.sigmoid_exp)?;
    let d = ev.add_public(&e, 1.0)?;
    let r = reciprocal_pos(ev, &d, it.sigmoid_reciprocal, Some(0.75), it.exp)?;
    let nr = ev.neg(&r)?;
    let one_minus = ev.add_public(&nr, 1.0)?;
    ev.select(&pos, &r, &one_minus)
}

/// tanh(x) = 2σ(2x) − 1.
pub fn tanh<E: Evaluator>(ev: &mut E, x: &E::Value, it: &Iterations) -> R<E::Value> {
    let x2 = ev.mul_int(x, 2)?;
    let s = sigmoid(ev, &x2, it)?;
    let s2 = ev.mul_int(&s, 2)?;
    ev.add_public(&s2, -1.0)
}

/// The same recipes in f64 (the methods' exact formulas: CrypTen's iterations, not the true functions).
pub mod f64_recipe {
    use super::Iterations;

    /// (1 + x/2^n)^(2^n).
    pub fn exp(x: f64, n: usize) -> f64 {
        let mut y = 1.0 + x / (1u64 << n) as f64;
        for _ in 0..n {
            y *= y;
        }
        y
    }
    /// Newton–Raphson reciprocal of y > 0.
    pub fn reciprocal_pos(y: f64, iters: usize, initial: Option<f64>, exp_iters: usize) -> f64 {
        let mut r = initial.unwrap_or_else(|| 3.0 * exp(1.0 - 2.0 * y, exp_iters) + 0.003);
        for _ in 0..iters {
            r = 2.0 * r - y * r * r;
        }
        r
    }
    /// Signed reciprocal.
    pub fn reciprocal(y: f64, it: &Iterations) -> f64 {
        let r = reciprocal_pos(y.abs(), it.reciprocal, None, it.exp);
        if y >= 0.0 { r } else { -r }
    }
    /// CrypTen's sigmoid.
    pub fn sigmoid(x: f64, it: &Iterations) -> f64 {
        let d = 1.0 + exp(-x.abs(), it.sigmoid_exp);
        let r = reciprocal_pos(d, it.sigmoid_reciprocal, Some(0.75), it.exp);
        if x >= 0.0 { r } else { 1.0 - r }
    }
    /// 2σ(2x) − 1.
    pub fn tanh(x: f64, it: &Iterations) -> f64 {
        2.0 * sigmoid(2.0 * x, it) - 1.0
    }
}

/// The recipe-composed activation.
#[derive(Debug, Clone)]
pub struct Crypten {
    /// The composition.
    pub recipe: Recipe,
    /// Iteration counts.
    pub it: Iterations,
    activation: String,
}

/// Coefficients of 0.5·(1 + erf(x/√2)) as Σ_n k_n·z^(2n+1) in z = x/√2, constant 0.5: k_n = (−1)^n/(n!·(2n+1)·√π).
fn erf_half_coeffs(terms: usize) -> Vec<(usize, f64)> {
    let mut fact = 1.0;
    (0..=terms)
        .map(|n| {
            if n > 0 {
                fact *= n as f64;
            }
            let sign = if n % 2 == 0 { 1.0 } else { -1.0 };
            (2 * n + 1, sign / (fact * (2 * n + 1) as f64 * PI.sqrt()))
        })
        .collect()
}

impl Method for Crypten {
    fn name(&self) -> &str {
        if self.recipe == Recipe::GeluErf { "crypten-erf" } else { "crypten" }
    }
    fn activation(&self) -> &str {
        &self.activation
    }
    fn citation(&self) -> &str {
        match self.recipe {
            Recipe::GeluErf => {
                "CrypTen approximations.py::erf (Taylor, erf_iterations = 8); GELU = 0.5x(1 + erf(x/√2))"
            }
            _ => {
                "Knott et al., CrypTen (NeurIPS 2021); approximations.py exp (limit, 8/9 iters), reciprocal \
                  (Newton, 10/3 iters), sigmoid, tanh = 2σ(2x) − 1"
            }
        }
    }
    fn info(&self) -> MethodInfo {
        let protocol = match self.recipe {
            Recipe::Sigmoid => "LTZ, |x|, exp limit, Newton reciprocal, mux",
            Recipe::Tanh => "2σ(2x) − 1",
            Recipe::Silu => "x·σ(x)",
            Recipe::GeluTanh => "0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))",
            Recipe::Mish => "x·(1 − s²)·reciprocal(1 + s²), s = σ(−x)",
            Recipe::GeluErf => "0.5x(1 + Taylor erf(x/√2)), degree 17",
        };
        let degrees = if self.recipe == Recipe::GeluErf { vec![2 * self.it.erf + 2] } else { Vec::new() };
        MethodInfo { pieces: 1, degrees, range: None, protocol: protocol.into() }
    }
    fn fixed_domain(&self) -> (f64, f64) {
        if self.recipe == Recipe::GeluErf { (-2.0, 2.0) } else { (-8.0, 8.0) }
    }
    fn kinks(&self) -> Vec<f64> {
        vec![0.0]
    }
    fn eval_f64(&self, x: f64) -> f64 {
        let it = &self.it;
        match self.recipe {
            Recipe::Sigmoid => f64_recipe::sigmoid(x, it),
            Recipe::Tanh => f64_recipe::tanh(x, it),
            Recipe::Silu => x * f64_recipe::sigmoid(x, it),
            Recipe::GeluTanh => {
                let k = (2.0 / PI).sqrt();
                let u = k * x + k * 0.044_715 * x * x * x;
                x * (0.5 * f64_recipe::tanh(u, it) + 0.5)
            }
            Recipe::Mish => {
                let s = f64_recipe::sigmoid(-x, it);
                x * ((1.0 - s * s) * f64_recipe::reciprocal(1.0 + s * s, it))
            }
            Recipe::GeluErf => {
                let z = x * FRAC_1_SQRT_2;
                x * erf_half_coeffs(it.erf).iter().fold(0.5, |acc, &(p, k)| acc + k * z.powi(p as i32))
            }
        }
    }
}

impl Program for Crypten {
    fn program<E: Evaluator>(&self, ev: &mut E, x: &E::Value) -> mpc_sim::Result<E::Value> {
        let it = &self.it;
        match self.recipe {
            Recipe::Sigmoid => sigmoid(ev, x, it),
            Recipe::Tanh => tanh(ev, x, it),
            Recipe::Silu => {
                let s = sigmoid(ev, x, it)?;
                ev.mul(x, &s)
            }
            Recipe::GeluTanh => {
                let fx = ev.fixed_point();
                let k = (2.0 / PI).sqrt();
                let x2 = ev.square(x)?;
                let x3 = ev.mul(&x2, x)?;
                let u = ev.lincomb_raw(&[(x, fx.encode(k)?), (&x3, fx.encode(k * 0.044_715)?)], fx.frac_bits, 0)?;
                let u = ev.truncate(&u)?;
                let t = tanh(ev, &u, it)?;
                let h = ev.mul_public(&t, 0.5)?;
                let half = ev.add_public(&h, 0.5)?;
                ev.mul(x, &half)
            }
            Recipe::Mish => {
                let negx = ev.neg(x)?;
                let s = sigmoid(ev, &negx, it)?;
                let s2 = ev.square(&s)?;
                let ns2 = ev.neg(&s2)?;
                let num = ev.add_public(&ns2, 1.0)?;
                let den = ev.add_public(&s2, 1.0)?;
                let r = reciprocal(ev, &den, it)?;
                let q = ev.mul(&num, &r)?;
                ev.mul(x, &q)
            }
            Recipe::GeluErf => {
                // h = 0.5 + Σ_n k_n·z^(2n+1), one linear combination and one truncation; terms whose coefficient
                // encodes to 0 are skipped (their powers are not built); y = x·h.
                let fx = ev.fixed_point();
                let z = ev.mul_public(x, FRAC_1_SQRT_2)?;
                let coeffs: Vec<(usize, i64)> = erf_half_coeffs(it.erf)
                    .into_iter()
                    .map(|(p, k)| Ok((p, fx.encode(k)?)))
                    .collect::<mpc_sim::Result<Vec<_>>>()?
                    .into_iter()
                    .filter(|&(_, k)| k != 0)
                    .collect();
                let mut need = vec![false; coeffs.iter().map(|c| c.0).max().unwrap_or(1) + 1];
                for &(p, _) in &coeffs {
                    need[p] = true;
                }
                let pows = mpc_sim::recipes::powers_where(ev, &z, &need)?;
                let terms = coeffs
                    .iter()
                    .map(|&(p, k)| {
                        let v = pows.get(p).and_then(Option::as_ref).ok_or(mpc_sim::MpcError::InvalidParameter {
                            name: "erf power",
                            value: p.to_string(),
                            hint: "internal: power not built",
                        })?;
                        Ok((v, k))
                    })
                    .collect::<mpc_sim::Result<Vec<_>>>()?;
                let half = fx.encode(0.5)?.wrapping_mul(1i64 << fx.frac_bits);
                let h = ev.lincomb_raw(&terms, fx.frac_bits, half)?;
                let h = ev.truncate(&h)?;
                ev.mul(x, &h)
            }
        }
    }
}
