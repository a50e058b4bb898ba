//! Adding a method through the public API only: one `Method` + `Program` impl and one `MethodRegistry::register`
//! call give its fixed-point evaluation and its cost.
#![allow(clippy::unwrap_used)]

use activation_approx::{Cost, Truncation};
use mpc_sim::Evaluator;
use secure_methods::{BuildContext, Method, MethodError, MethodInfo, MethodRegistry, MethodSpec, Options, Program, SecureMethod};

#[derive(Debug)]
struct ShiftedRelu {
    cut: f64,
}

impl Method for ShiftedRelu {
    fn name(&self) -> &str {
        "shifted-relu"
    }
    fn activation(&self) -> &str {
        "silu"
    }
    fn citation(&self) -> &str {
        "toy: x·[x ≥ c], for the public-API test"
    }
    fn info(&self) -> MethodInfo {
        MethodInfo { pieces: 2, degrees: vec![0, 1], range: None, protocol: "1 comparison, 1 product".into() }
    }
    fn eval_f64(&self, x: f64) -> f64 {
        if x >= self.cut { x } else { 0.0 }
    }
}

impl Program for ShiftedRelu {
    fn program<E: Evaluator>(&self, ev: &mut E, x: &E::Value) -> mpc_sim::Result<E::Value> {
        let b = ev.ge_public(x, self.cut)?;
        ev.mul_raw(&b, x)
    }
}

fn build(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>, MethodError> {
    let o = Options::new("shifted-relu", &ctx.config, &["cut"])?;
    let cut = o.f64("cut", -0.25, |c| c.abs() <= 4.0, "the cut must lie in [-4, 4]")?;
    Ok(Box::new(ShiftedRelu { cut }))
}

#[test]
fn a_method_registered_from_outside_works_end_to_end() {
    let mut reg = MethodRegistry::builtin();
    reg.register(MethodSpec { name: "shifted-relu", about: "toy", activations: &["silu"], build }).unwrap();
    let m = reg.build("shifted-relu", &BuildContext::new("silu").unwrap()).unwrap();
    assert_eq!(m.eval_fixed(&[-1.0, -0.25, 2.0]).unwrap(), vec![0.0, -0.25, 2.0]);
    let c = m.cost(Truncation::Local, 8.0).unwrap();
    assert_eq!(c.cost, Cost { rounds: 9, bytes_per_party: 80, comparisons: 1, multiplications: 1, ..Cost::default() });
    let e = reg.build("shifted-relu", &BuildContext::new("gelu").unwrap()).unwrap_err();
    assert!(e.to_string().contains("not defined for activation 'gelu'"), "{e}");
}
