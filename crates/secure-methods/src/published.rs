//! The baselines whose published activations are splines with public constants (`activation_approx::published`):
//! PUMA, BOLT, BumbleBee, h-swish ("crude"), the ReLU swap and MPCFormer's Quad — all evaluated by
//! [`crate::spline::SplineMethod`], i.e. through `Evaluator::piecewise`.
//!
//! Departures from the papers' own secure structures, each cheaper or equal and none changing the f64 value:
//! BOLT/BumbleBee compute |x| by a multiplexer and |x|³ = |x|·x² after the comparisons (11 rounds); with the sign
//! known per segment the same polynomial is two public polynomials in x (9 rounds, equal bytes for GeLU, fewer for
//! SiLU). PUMA computes x⁶ = (x³)² (a square); the shared power tree takes x⁶ = x⁴·x² (8 B more, the same rounds),
//! and PUMA's SiLU no longer builds the unused x³.

use activation_approx::published::{self, QUAD_CODE, QUAD_PAPER};

use crate::method::SecureMethod;
use crate::registry::{BuildContext, MethodSpec, Options, Result, not_defined};
use crate::spline::SplineMethod;

/// Registry entry: PUMA.
pub const SPEC_PUMA: MethodSpec = MethodSpec {
    name: "puma",
    about: "PUMA/SPU 4-segment GeLU (Eq. 3) and SiLU",
    activations: &["gelu", "gelu_tanh", "silu"],
    build: build_puma,
};

/// Registry entry for BOLT (T = 2.7).
pub const SPEC_BOLT: MethodSpec =
    MethodSpec { name: "bolt", about: "BOLT seg3 GeLU, T = 2.7", activations: &["gelu", "gelu_tanh"], build: build_bolt };

/// Registry entry for BumbleBee (GeLU T = 3, SiLU seg4).
pub const SPEC_BUMBLEBEE: MethodSpec = MethodSpec {
    name: "bumblebee",
    about: "BumbleBee seg3 GeLU (T = 3) and seg4 SiLU",
    activations: &["gelu", "gelu_tanh", "silu"],
    build: build_bumblebee,
};

/// Registry entry: MPCFormer Quad.
pub const SPEC_QUAD: MethodSpec = MethodSpec {
    name: "mpcformer-quad",
    about: "MPCFormer Quad 0.125x² + 0.25x + 0.5 (needs retraining)",
    activations: &["gelu", "gelu_tanh"],
    build: build_quad,
};

/// Registry entry: h-swish.
pub const SPEC_CRUDE: MethodSpec =
    MethodSpec { name: "crude", about: "x·HardSigmoid(x) (h-swish)", activations: &["silu"], build: build_crude };

/// Registry entry: ReLU swap.
pub const SPEC_RELU: MethodSpec = MethodSpec {
    name: "relu-swap",
    about: "replace the activation by ReLU (no retraining)",
    activations: &["silu", "gelu", "gelu_tanh", "mish", "softplus", "elu", "relu"],
    build: build_relu,
};

fn boxed(m: SplineMethod) -> Result<Box<dyn SecureMethod>> {
    Ok(Box::new(m))
}

fn build_puma(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
    Options::new("puma", &ctx.config, &[])?;
    let a = ctx.activation_name();
    let (spline, cite, range) = match a {
        "gelu" | "gelu_tanh" => (published::puma_gelu(), "Dong et al., PUMA (2023) §4.2 Eq. (3); SecretFlow SPU hal activation gelu", (-4.0, 3.0)),
        "silu" => (published::puma_silu(), "Dong et al., PUMA (2023) §4.2; SecretFlow SPU hal activation silu (seg4)", (-8.0, 4.0)),
        other => return Err(not_defined("puma", other, SPEC_PUMA.activations)),
    };
    boxed(SplineMethod::new("puma", a, cite.into(), spline, ctx.fx, Some(range))?)
}

fn threshold(name: &str, ctx: &BuildContext, default: f64) -> Result<f64> {
    let opts = Options::new(name, &ctx.config, &["t"])?;
    opts.f64("t", default, |t| t > 0.0 && t <= 16.0, "the cut-off T must lie in (0, 16]")
}

fn build_bolt(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
    let t = threshold("bolt", ctx, 2.7)?;
    match ctx.activation_name() {
        a @ ("gelu" | "gelu_tanh") => boxed(SplineMethod::new(
            "bolt",
            a,
            format!("Pang et al., BOLT (IEEE S&P 2024) §5 Eq. (2), GeLU seg3 with T = {t}"),
            published::seg3_gelu(t),
            ctx.fx,
            Some((-t, t)),
        )?),
        other => Err(not_defined("bolt", other, SPEC_BOLT.activations)),
    }
}

fn build_bumblebee(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
    match ctx.activation_name() {
        a @ ("gelu" | "gelu_tanh") => {
            let t = threshold("bumblebee", ctx, 3.0)?;
            boxed(SplineMethod::new(
                "bumblebee",
                a,
                format!("Lu et al., BumbleBee (NDSS 2025) §4.4; OpenBumbleBee activation.cc f_gelu seg3, T = {t}"),
                published::seg3_gelu(t),
                ctx.fx,
                Some((-t, t)),
            )?)
        }
        "silu" => {
            let t = threshold("bumblebee", ctx, 8.0)?;
            boxed(SplineMethod::new(
                "bumblebee",
                "silu",
                format!("Lu et al., BumbleBee (NDSS 2025) §4.4; OpenBumbleBee activation.cc f_silu seg4 (σ(|x|) degree 4, |x| ≤ {t})"),
                published::seg4_silu(t),
                ctx.fx,
                Some((-t, t)),
            )?)
        }
        other => Err(not_defined("bumblebee", other, SPEC_BUMBLEBEE.activations)),
    }
}

fn build_quad(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
    let opts = Options::new("mpcformer-quad", &ctx.config, &["variant"])?;
    let coeffs = match opts.choice("variant", "paper", &["paper", "code"])?.as_str() {
        "code" => QUAD_CODE,
        _ => QUAD_PAPER,
    };
    boxed(SplineMethod::new(
        "mpcformer-quad",
        ctx.activation_name(),
        "Li et al., MPCFormer (ICLR 2023) §3.2, Quad: GeLU(x) ≈ 0.125x² + 0.25x + 0.5".into(),
        published::polynomial(&coeffs),
        ctx.fx,
        None,
    )?)
}

fn build_crude(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
    Options::new("crude", &ctx.config, &[])?;
    boxed(SplineMethod::new(
        "crude",
        "silu",
        "Howard et al., MobileNetV3 (ICCV 2019) Eq. (2): h-swish(x) = x·ReLU6(x + 3)/6".into(),
        published::hswish(),
        ctx.fx,
        Some((-3.0, 3.0)),
    )?)
}

fn build_relu(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
    Options::new("relu-swap", &ctx.config, &[])?;
    boxed(SplineMethod::new(
        "relu-swap",
        ctx.activation_name(),
        "Nair & Hinton (ICML 2010): ReLU(x) = max(0, x); CrypTen mpc.py relu = x·[x ≥ 0]".into(),
        published::relu(),
        ctx.fx,
        None,
    )?)
}
