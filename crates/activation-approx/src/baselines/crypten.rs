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
//! Selection uses a 1-product mux where CrypTen's `where` spends two products (the cheaper, documented form).

use super::program::{Ops, OpsExt, Val, powers};
use super::{BuildContext, MethodInfo, MethodSpec, Options, Result, SecureMethod, not_defined};

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

/// exp(x) ≈ (1 + x/2^n)^(2^n).
pub fn exp(ops: &mut dyn Ops, x: Val, n: usize) -> Val {
    let mut y = ops.lin_comb(&[(1.0 / (1u64 << n) as f64, x)], 1.0);
    for _ in 0..n {
        y = ops.square(y);
    }
    y
}

/// Newton–Raphson reciprocal of a positive y: r ← 2r − y·r², from `initial` or from 3·exp(1 − 2y) + 0.003.
pub fn reciprocal_pos(ops: &mut dyn Ops, y: Val, iters: usize, initial: Option<f64>, exp_iters: usize) -> Val {
    let mut r = match initial {
        Some(r0) => {
            let zero = ops.scale_int(y, 0);
            ops.add_const(zero, r0)
        }
        None => {
            let arg = ops.lin_comb(&[(-2.0, y)], 1.0);
            let e = exp(ops, arg, exp_iters);
            ops.lin_comb(&[(3.0, e)], 0.003)
        }
    };
    for _ in 0..iters {
        let r2 = ops.square(r);
        let yr2 = ops.mul(r2, y);
        let two_r = ops.scale_int(r, 2);
        r = ops.sub(two_r, yr2);
    }
    r
}

/// CrypTen's general reciprocal: sign first (one comparison), then [`reciprocal_pos`] of |y|, times the sign.
pub fn reciprocal(ops: &mut dyn Ops, y: Val, it: &Iterations) -> Val {
    let pos = ops.ge(y, 0.0);
    let neg = ops.neg(y);
    let abs = ops.mux(pos, y, neg);
    let r = reciprocal_pos(ops, abs, it.reciprocal, None, it.exp);
    let nr = ops.neg(r);
    ops.mux(pos, r, nr)
}

/// CrypTen's default sigmoid (module docs).
pub fn sigmoid(ops: &mut dyn Ops, x: Val, it: &Iterations) -> Val {
    let pos = ops.ge(x, 0.0);
    let negx = ops.neg(x);
    let abs = ops.mux(pos, x, negx);
    let neg_abs = ops.neg(abs);
    let e = exp(ops, neg_abs, it.sigmoid_exp);
    let d = ops.add_const(e, 1.0);
    let r = reciprocal_pos(ops, d, it.sigmoid_reciprocal, Some(0.75), it.exp);
    let nr = ops.neg(r);
    let one_minus = ops.add_const(nr, 1.0);
    ops.mux(pos, r, one_minus)
}

/// tanh(x) = 2σ(2x) − 1.
pub fn tanh(ops: &mut dyn Ops, x: Val, it: &Iterations) -> Val {
    let x2 = ops.scale_int(x, 2);
    let s = sigmoid(ops, x2, it);
    let s2 = ops.scale_int(s, 2);
    ops.add_const(s2, -1.0)
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

impl SecureMethod for Crypten {
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
    fn program(&self, ops: &mut dyn Ops, x: Val) -> Val {
        let it = &self.it;
        match self.recipe {
            Recipe::Sigmoid => sigmoid(ops, x, it),
            Recipe::Tanh => tanh(ops, x, it),
            Recipe::Silu => {
                let s = sigmoid(ops, x, it);
                ops.mul(x, s)
            }
            Recipe::GeluTanh => {
                let k = (2.0 / std::f64::consts::PI).sqrt();
                let x2 = ops.square(x);
                let x3 = ops.mul(x2, x);
                let u = ops.lin_comb(&[(k, x), (k * 0.044_715, x3)], 0.0);
                let t = tanh(ops, u, it);
                let half = ops.lin_comb(&[(0.5, t)], 0.5);
                ops.mul(x, half)
            }
            Recipe::Mish => {
                let negx = ops.neg(x);
                let s = sigmoid(ops, negx, it);
                let s2 = ops.square(s);
                let ns2 = ops.neg(s2);
                let num = ops.add_const(ns2, 1.0);
                let den = ops.add_const(s2, 1.0);
                let r = reciprocal(ops, den, it);
                let q = ops.mul(num, r);
                ops.mul(x, q)
            }
            Recipe::GeluErf => {
                let z = ops.mul_const(x, std::f64::consts::FRAC_1_SQRT_2);
                let pows = powers(ops, z, 2 * it.erf + 1);
                let mut erf = z;
                let mut fact = 1.0;
                for n in 1..=it.erf {
                    fact *= n as f64;
                    let sign = if n % 2 == 0 { 1.0 } else { -1.0 };
                    let term = ops.mul_const(pows[2 * n + 1], sign / (fact * (2 * n + 1) as f64));
                    erf = ops.add(erf, term);
                }
                let erf = ops.mul_const(erf, 2.0 / std::f64::consts::PI.sqrt());
                let half = ops.lin_comb(&[(0.5, erf)], 0.5);
                ops.mul(x, half)
            }
        }
    }
}
