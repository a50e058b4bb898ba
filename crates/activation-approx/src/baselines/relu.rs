//! ReLU swap: the activation replaced by ReLU(x) = max(x, 0) = x·[x ≥ 0] (Nair & Hinton, ICML 2010), with no
//! retraining — the ablation showing what an approximation buys. Secure structure: one comparison and one
//! multiplication by the 0/1 share: 9 rounds, 80 bytes per party (CrypTen's `relu`).

use super::program::{Ops, OpsExt, Val};
use super::{BuildContext, MethodInfo, MethodSpec, Options, Result, SecureMethod};

/// Registry entry.
pub const SPEC: MethodSpec = MethodSpec {
    name: "relu-swap",
    about: "replace the activation by ReLU (no retraining)",
    activations: &["silu", "gelu", "gelu_tanh", "mish", "softplus", "elu", "relu"],
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
    Options::new("relu-swap", &ctx.config, &[])?;
    Ok(Box::new(ReluSwap { activation: ctx.activation_name().into() }))
}

/// x·[x ≥ 0].
#[derive(Debug, Clone)]
pub struct ReluSwap {
    activation: String,
}

impl SecureMethod for ReluSwap {
    fn name(&self) -> &str {
        "relu-swap"
    }
    fn activation(&self) -> &str {
        &self.activation
    }
    fn citation(&self) -> &str {
        "Nair & Hinton (ICML 2010): ReLU(x) = max(0, x); CrypTen mpc.py relu = x·[x ≥ 0]"
    }
    fn info(&self) -> MethodInfo {
        MethodInfo { pieces: 2, degrees: vec![0, 1], range: None, protocol: "1 comparison, 1 product".into() }
    }
    fn kinks(&self) -> Vec<f64> {
        vec![0.0]
    }
    fn program(&self, ops: &mut dyn Ops, x: Val) -> Val {
        let b = ops.ge(x, 0.0);
        ops.mul_bit(b, x)
    }
}
