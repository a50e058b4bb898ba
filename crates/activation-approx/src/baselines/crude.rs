//! The "crude" SiLU used in the Compact line of work: SiLU(x) ≈ x·HardSigmoid(x), with
//! HardSigmoid(x) = clamp(x/6 + 1/2, 0, 1) (Howard et al., "Searching for MobileNetV3", ICCV 2019, Eq. (2), "h-swish").
//!
//! So the value is 0 for x < −3, x²/6 + x/2 on [−3, 3), and x for x ≥ 3. Secure structure: the comparisons
//! [x ≥ −3], [x ≥ 3] in one batch, q = x²/6 + x/2 from one square in parallel, y = [x ≥ 3]·x + ([x ≥ −3] − [x ≥ 3])·q:
//! 9 rounds.

use super::program::{Ops, OpsExt, Val};
use super::{BuildContext, MethodInfo, MethodSpec, Options, Result, SecureMethod};

/// Registry entry.
pub const SPEC: MethodSpec =
    MethodSpec { name: "crude", about: "x·HardSigmoid(x) (h-swish)", activations: &["silu"], build };

fn build(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
    Options::new("crude", &ctx.config, &[])?;
    Ok(Box::new(Crude))
}

/// x·clamp(x/6 + 1/2, 0, 1).
#[derive(Debug, Clone, Copy)]
pub struct Crude;

impl SecureMethod for Crude {
    fn name(&self) -> &str {
        "crude"
    }
    fn activation(&self) -> &str {
        "silu"
    }
    fn citation(&self) -> &str {
        "Howard et al., MobileNetV3 (ICCV 2019) Eq. (2): h-swish(x) = x·ReLU6(x + 3)/6"
    }
    fn info(&self) -> MethodInfo {
        MethodInfo {
            pieces: 3,
            degrees: vec![0, 2, 1],
            range: Some((-3.0, 3.0)),
            protocol: "2 comparisons, 2-product selection".into(),
        }
    }
    fn kinks(&self) -> Vec<f64> {
        vec![-3.0, 3.0]
    }
    fn program(&self, ops: &mut dyn Ops, x: Val) -> Val {
        let lo = ops.ge(x, -3.0);
        let hi = ops.ge(x, 3.0);
        let x2 = ops.square(x);
        let q = ops.lin_comb(&[(1.0 / 6.0, x2), (0.5, x)], 0.0);
        let mid = ops.bit_affine(&[(1, lo), (-1, hi)], 0);
        let a = ops.mul_bit(hi, x);
        let b = ops.mul_bit(mid, q);
        ops.add(a, b)
    }
}
