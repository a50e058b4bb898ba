//! Adding a baseline through the public API only: one `SecureMethod` impl and one `MethodRegistry::register` call.
#![allow(clippy::unwrap_used)]

use activation_approx::baselines::program::{Ops, OpsExt, Val};
use activation_approx::baselines::{
    BaselineError, BuildContext, MethodInfo, MethodRegistry, MethodSpec, Options, SecureMethod,
};
use activation_approx::{Cost, TwoPartyCostModel};

/// Toy: SiLU ≈ x·[x ≥ c] with a configurable cut c ("shifted ReLU").
#[derive(Debug)]
struct ShiftedRelu {
    cut: f64,
}

impl SecureMethod for ShiftedRelu {
    fn name(&self) -> &str {
        "shifted-relu"
    }
    fn activation(&self) -> &str {
        "silu"
    }
    fn citation(&self) -> &str {
        "toy baseline for the registry test"
    }
    fn info(&self) -> MethodInfo {
        MethodInfo { pieces: 2, degrees: vec![0, 1], range: None, protocol: "1 comparison, 1 product".into() }
    }
    fn kinks(&self) -> Vec<f64> {
        vec![self.cut]
    }
    fn program(&self, ops: &mut dyn Ops, x: Val) -> Val {
        let b = ops.ge(x, self.cut);
        ops.mul_bit(b, x)
    }
}

fn build(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>, BaselineError> {
    let o = Options::new("shifted-relu", &ctx.config, &["cut"])?;
    let cut = o.f64("cut", -0.25, |c| c.abs() <= 4.0, "the cut must lie in [-4, 4]")?;
    Ok(Box::new(ShiftedRelu { cut }))
}

#[test]
fn toy_baseline_through_the_public_api() {
    let mut reg = MethodRegistry::builtin();
    reg.register(MethodSpec { name: "shifted-relu", about: "x·[x ≥ c]", activations: &["silu"], build }).unwrap();
    assert!(reg.names_for("silu").contains(&"shifted-relu"));
    assert!(!reg.names_for("gelu").contains(&"shifted-relu"));
    let ctx = BuildContext::new("silu").unwrap();
    let m = reg.build("shifted-relu", &ctx).unwrap();
    assert_eq!(m.eval_f64(-0.1), -0.1);
    assert_eq!(m.eval_f64(-0.5), 0.0);
    assert_eq!(m.eval_fixed(&[-0.5, 2.0]).unwrap(), vec![0.0, 2.0]);
    assert_eq!(
        m.cost(&TwoPartyCostModel::default()),
        Cost { rounds: 9, bytes_per_party: 80, comparisons: 1, multiplications: 1 }
    );
    let e = reg.build("shifted-relu", &ctx.clone().with_config(serde_json::json!({"cut": 9.0}))).unwrap_err();
    assert!(e.to_string().contains("cut = 9"), "{e}");
    let e = reg.build("shifted-relu", &BuildContext::new("gelu").unwrap()).unwrap_err();
    assert!(e.to_string().contains("not defined for activation 'gelu'"), "{e}");
}
