//! Every baseline through mpc-sim's one check function (`common::check`: both truncation protocols, secure vs
//! plaintext within a tolerance, metered cost = cost evaluator), plus: the plaintext run equals the method's own
//! fixed-point emulation (`SecureMethod::eval_fixed_encoded`) bit for bit.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use activation_approx::FixedPoint;
use activation_approx::baselines::{BuildContext, MethodRegistry, SecureMethod};
use common::Proto;
use mpc_sim::{CostEvaluator, Evaluator, Party, PlainEvaluator, methods};

struct Method(Box<dyn SecureMethod>);

impl Proto for Method {
    fn run<E: Evaluator>(&self, ev: &mut E, xs: &[E::Value]) -> mpc_sim::Result<E::Value> {
        methods::run(self.0.as_ref(), ev, &xs[0])
    }
}

/// (method, activation, LSB tolerance): see `methods::tests` for the reasoning; NFGen is checked there with the
/// dealer-pair truncation only (its powers at the degree cap reach 2^62, where local truncation wraps).
const CASES: &[(&str, &str, i64)] = &[
    ("compact", "silu", 8),
    ("compact-uniform-density", "gelu", 8),
    ("compact-uniform-breakpoints", "mish", 8),
    ("puma", "gelu", 8),
    ("puma", "silu", 8),
    ("bolt", "gelu", 8),
    ("bumblebee", "gelu", 8),
    ("bumblebee", "silu", 16),
    ("crude", "silu", 4),
    ("mpcformer-quad", "gelu", 4),
    ("relu-swap", "gelu", 0),
    ("crypten", "sigmoid", 512),
    ("crypten", "tanh", 1024),
    ("crypten", "silu", 512),
    ("crypten", "gelu_tanh", 512),
    ("crypten", "mish", 512),
    ("crypten-erf", "gelu", 64),
];

#[test]
fn baselines_pass_the_one_check_function() {
    let reg = MethodRegistry::builtin();
    let fx = FixedPoint::default();
    for &(name, af, tol) in CASES {
        let m = reg.build(name, &BuildContext::new(af).unwrap().with_density("normal:0,1")).unwrap();
        let (_, hi) = m.fixed_domain();
        let xs = common::inputs(256, hi.min(8.0), 5);
        let p = Method(m);
        common::check(
            &format!("{name}/{af}"),
            &p,
            &[(xs.clone(), vec![xs.len()])],
            |_| tol,
            |t| {
                let mut ce = CostEvaluator::new(fx, t);
                let x = ce.input_raw(Party::P0, &xs, &[xs.len()], fx.frac_bits).unwrap();
                ce.reset_meter();
                p.run(&mut ce, &[x]).unwrap();
                ce.total().cost()
            },
        );
        let mut pe = PlainEvaluator::new(fx);
        let x = pe.input_raw(Party::P0, &xs, &[xs.len()], fx.frac_bits).unwrap();
        let y = p.run(&mut pe, &[x]).unwrap();
        assert_eq!(
            pe.reveal_raw(&y).unwrap(),
            p.0.eval_fixed_encoded(xs.clone()).unwrap(),
            "{name}/{af}: plain vs emulation"
        );
    }
}
