//! BOLT's and BumbleBee's GeLU ("seg3") and BumbleBee's SiLU ("seg4"), constants from the BOLT (S&P 2024) and BumbleBee (NDSS 2025) papers, costed as in `docs/cost-model.md`.
//!
//! GeLU (BOLT: Pang et al., "BOLT: Privacy-Preserving, Accurate and Efficient Inference for Transformers", IEEE S&P
//! 2024, §5 Eq. (2), T = 2.7; BumbleBee: Lu et al., NDSS 2025, §4.4 and OpenBumbleBee `activation.cc`, T = 3):
//! ```text
//!   0                                                       x < −T
//!   P(|x|) = c0 + c1·|x| + c2·x² + c3·|x|³ + c4·x⁴ + 0.5·x    |x| ≤ T
//!   x                                                       x > T
//! ```
//! SiLU (BumbleBee seg4): x·σ(x), with σ(|x|) = s0 + s1·|x| + s2·x² + s3·|x|³ + s4·x⁴ on |x| ≤ 8,
//! σ(−|x|) = 1 − σ(|x|), σ = 1 above 8 and 0 below −8.
//!
//! Secure structure: comparisons against {−T, 0, T} in one batch; |x| = mux([x ≥ 0], x, −x); x² and x⁴ = (x²)² in
//! parallel with the comparisons, |x|³ = |x|·x²; the polynomial is local; the segment is selected by
//! y = [x > T]·x + (1 − [x < −T] − [x > T])·P (two products in one round). SiLU adds σ = mux([x ≥ 0], S, 1 − S) and
//! the final product x·σ.

use super::program::{Ops, OpsExt, Val};
use super::{BuildContext, MethodInfo, MethodSpec, Options, Result, SecureMethod, not_defined};

/// Seg3 GeLU coefficients c0…c4 of 1, |x|, x², |x|³, x⁴ (plus 0.5·x).
pub const GELU_C: [f64; 5] =
    [0.001620808531841547, -0.03798164612714154, 0.5410550166368381, -0.18352506127082727, 0.020848611754127593];
/// Seg4 sigmoid coefficients s0…s4 of 1, |x|, x², |x|³, x⁴.
pub const SIGMOID_S: [f64; 5] =
    [0.49352908920523014, 0.3028510171823098, -0.06808619212463336, 0.006747908074344234, -0.0002472776978734074];

/// Registry entry for BOLT (T = 2.7).
pub const SPEC_BOLT: MethodSpec = MethodSpec {
    name: "bolt",
    about: "BOLT seg3 GeLU, T = 2.7",
    activations: &["gelu", "gelu_tanh"],
    build: build_bolt,
};

/// Registry entry for BumbleBee (GeLU T = 3, SiLU seg4).
pub const SPEC_BUMBLEBEE: MethodSpec = MethodSpec {
    name: "bumblebee",
    about: "BumbleBee seg3 GeLU (T = 3) and seg4 SiLU",
    activations: &["gelu", "gelu_tanh", "silu"],
    build: build_bumblebee,
};

fn threshold(name: &str, ctx: &BuildContext, default: f64) -> Result<f64> {
    let opts = Options::new(name, &ctx.config, &["t"])?;
    opts.f64("t", default, |t| t > 0.0 && t <= 16.0, "the cut-off T must lie in (0, 16]")
}

fn build_bolt(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
    let t = threshold("bolt", ctx, 2.7)?;
    match ctx.activation_name() {
        a @ ("gelu" | "gelu_tanh") => Ok(Box::new(Seg3Gelu { name: "bolt", activation: a.into(), t })),
        other => Err(not_defined("bolt", other, SPEC_BOLT.activations)),
    }
}

fn build_bumblebee(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
    match ctx.activation_name() {
        a @ ("gelu" | "gelu_tanh") => {
            let t = threshold("bumblebee", ctx, 3.0)?;
            Ok(Box::new(Seg3Gelu { name: "bumblebee", activation: a.into(), t }))
        }
        "silu" => {
            let t = threshold("bumblebee", ctx, 8.0)?;
            Ok(Box::new(Seg4Silu { t }))
        }
        other => Err(not_defined("bumblebee", other, SPEC_BUMBLEBEE.activations)),
    }
}

/// Shared part: sign bit, |x|, x², |x|³, x⁴ and the indicators [x < −T], [x > T].
struct AbsPowers {
    pos: super::program::Bit,
    lo: super::program::Bit,
    hi: super::program::Bit,
    abs: Val,
    x2: Val,
    abs3: Val,
    x4: Val,
}

fn abs_powers(ops: &mut dyn Ops, x: Val, t: f64) -> AbsPowers {
    let ge_lo = ops.ge(x, -t);
    let pos = ops.ge(x, 0.0);
    let negx = ops.neg(x);
    let le_hi = ops.ge(negx, -t);
    let x2 = ops.square(x);
    let x4 = ops.square(x2);
    let abs = ops.mux(pos, x, negx);
    let abs3 = ops.mul(abs, x2);
    let lo = ops.not(ge_lo);
    let hi = ops.not(le_hi);
    AbsPowers { pos, lo, hi, abs, x2, abs3, x4 }
}

/// y = [x > T]·x + (1 − [x < −T] − [x > T])·mid.
fn select_mid(ops: &mut dyn Ops, p: &AbsPowers, x: Val, mid: Val) -> Val {
    let inside = ops.bit_affine(&[(-1, p.lo), (-1, p.hi)], 1);
    let a = ops.mul_bit(p.hi, x);
    let b = ops.mul_bit(inside, mid);
    ops.add(a, b)
}

/// The seg3 GeLU with cut-off T (BOLT 2.7, BumbleBee 3).
#[derive(Debug, Clone)]
pub struct Seg3Gelu {
    name: &'static str,
    activation: String,
    /// The cut-off T.
    pub t: f64,
}

impl SecureMethod for Seg3Gelu {
    fn name(&self) -> &str {
        self.name
    }
    fn activation(&self) -> &str {
        &self.activation
    }
    fn citation(&self) -> &str {
        if self.name == "bolt" {
            "Pang et al., BOLT (IEEE S&P 2024) §5 Eq. (2), GeLU seg3 with T = 2.7"
        } else {
            "Lu et al., BumbleBee (NDSS 2025) §4.4; OpenBumbleBee activation.cc f_gelu seg3, T = 3"
        }
    }
    fn info(&self) -> MethodInfo {
        MethodInfo {
            pieces: 3,
            degrees: vec![0, 4, 1],
            range: Some((-self.t, self.t)),
            protocol: "comparisons {−T, 0, T}, |x| by mux, 2-product selection".into(),
        }
    }
    fn kinks(&self) -> Vec<f64> {
        vec![-self.t, 0.0, self.t]
    }
    fn program(&self, ops: &mut dyn Ops, x: Val) -> Val {
        let p = abs_powers(ops, x, self.t);
        let c = GELU_C;
        let poly = ops.lin_comb(&[(c[1], p.abs), (c[2], p.x2), (c[3], p.abs3), (c[4], p.x4), (0.5, x)], c[0]);
        select_mid(ops, &p, x, poly)
    }
}

/// BumbleBee's seg4 SiLU.
#[derive(Debug, Clone)]
pub struct Seg4Silu {
    /// The cut-off (8).
    pub t: f64,
}

impl SecureMethod for Seg4Silu {
    fn name(&self) -> &str {
        "bumblebee"
    }
    fn activation(&self) -> &str {
        "silu"
    }
    fn citation(&self) -> &str {
        "Lu et al., BumbleBee (NDSS 2025) §4.4; OpenBumbleBee activation.cc f_silu seg4 (σ(|x|) degree 4, |x| ≤ 8)"
    }
    fn info(&self) -> MethodInfo {
        MethodInfo {
            pieces: 3,
            degrees: vec![0, 5, 1],
            range: Some((-self.t, self.t)),
            protocol: "comparisons {−8, 0, 8}, σ(|x|) by mux symmetry, x·σ".into(),
        }
    }
    fn kinks(&self) -> Vec<f64> {
        vec![-self.t, 0.0, self.t]
    }
    fn program(&self, ops: &mut dyn Ops, x: Val) -> Val {
        let p = abs_powers(ops, x, self.t);
        let s = SIGMOID_S;
        let sig_abs = ops.lin_comb(&[(s[1], p.abs), (s[2], p.x2), (s[3], p.abs3), (s[4], p.x4)], s[0]);
        let one_minus = ops.neg(sig_abs);
        let one_minus = ops.add_const(one_minus, 1.0);
        let sig = ops.mux(p.pos, sig_abs, one_minus);
        let y = ops.mul(x, sig);
        select_mid(ops, &p, x, y)
    }
}
