//! MPCFormer's "Quad" GeLU replacement (Li et al., "MPCFormer: fast, performant and private Transformer inference
//! with MPC", ICLR 2023, §3.2): GeLU(x) ≈ 0.125·x² + 0.25·x + 0.5. It is only usable after distillation or
//! retraining (it does not approximate GeLU pointwise: at x = 0 it gives 0.5); here it is the no-retraining
//! ablation. The paper's benchmark code carries a different variant, 0.125·x² + 0.5·x + 0.25 (option
//! `variant = "code"`).
//!
//! Secure structure: one square, then a local linear combination: 1 round, 8 bytes per party.

use super::program::{Ops, Val};
use super::{BuildContext, MethodInfo, MethodSpec, Options, Result, SecureMethod};

/// Registry entry.
pub const SPEC: MethodSpec = MethodSpec {
    name: "mpcformer-quad",
    about: "MPCFormer Quad 0.125x² + 0.25x + 0.5 (needs retraining)",
    activations: &["gelu", "gelu_tanh"],
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
    let opts = Options::new("mpcformer-quad", &ctx.config, &["variant"])?;
    let coeffs = match opts.choice("variant", "paper", &["paper", "code"])?.as_str() {
        "code" => [0.25, 0.5, 0.125],
        _ => [0.5, 0.25, 0.125],
    };
    Ok(Box::new(Quad { activation: ctx.activation_name().into(), coeffs }))
}

/// c0 + c1·x + c2·x².
#[derive(Debug, Clone)]
pub struct Quad {
    activation: String,
    /// Coefficients c0, c1, c2.
    pub coeffs: [f64; 3],
}

impl SecureMethod for Quad {
    fn name(&self) -> &str {
        "mpcformer-quad"
    }
    fn activation(&self) -> &str {
        &self.activation
    }
    fn citation(&self) -> &str {
        "Li et al., MPCFormer (ICLR 2023) §3.2, Quad: GeLU(x) ≈ 0.125x² + 0.25x + 0.5"
    }
    fn info(&self) -> MethodInfo {
        MethodInfo::polynomial(2)
    }
    fn program(&self, ops: &mut dyn Ops, x: Val) -> Val {
        let x2 = ops.square(x);
        ops.lin_comb(&[(self.coeffs[1], x), (self.coeffs[2], x2)], self.coeffs[0])
    }
}
