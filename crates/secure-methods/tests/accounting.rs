//! The accounting is one path: for every registered method × {SiLU, GELU, Mish} × {local, dealer-pair truncation},
//! a secure run on 10⁴ inputs meters exactly the rounds and bytes the cost evaluator predicts, which are exactly the
//! per-element figures the report (`compact baselines`) prints; the secure output equals the plaintext fixed-point
//! output up to the truncation errors.
#![allow(clippy::unwrap_used)]

use activation_approx::{ActivationRegistry, Bytes, DensitySpec, Truncation};
use secure_methods::{BuildContext, MethodRegistry, check_method, measure};

mod common;
use common::tolerance;

#[test]
fn metered_equals_predicted_equals_reported_for_every_method() {
    let reg = MethodRegistry::builtin();
    let n = 10_000;
    let mut failures = Vec::new();
    let mut checked = 0;
    for af in ["silu", "gelu", "mish"] {
        for name in reg.names_for(af) {
            let m = reg.build(name, &BuildContext::new(af).unwrap().with_density("normal:0,1")).unwrap();
            let (lo, hi) = m.fixed_domain();
            let xs: Vec<f64> = (0..n).map(|i| lo + (hi - lo) * (i as f64 + 0.5) / n as f64).collect();
            for t in [Truncation::Local, Truncation::DealerPair] {
                let c = check_method(m.as_ref(), &xs, 11, t).unwrap();
                let per = m.cost(t, 8.0).unwrap();
                assert_eq!(c.metered, c.predicted, "{name}/{af}/{t:?}: metered vs CostEvaluator");
                assert_eq!(c.metered.rounds, per.cost.rounds, "{name}/{af}/{t:?}: rounds vs report");
                assert_eq!(c.metered.bytes_per_party, per.cost.bytes_per_party * n as u64, "{name}/{af}/{t:?}: bytes vs report");
                // Local truncation may fail (rarely) on NFGen's near-2^61 terms; the failure bound says how often.
                let bad = c.max_diff_lsb > tolerance(name);
                if bad && !(t == Truncation::Local && per.failure_bound > 1e-6) {
                    failures.push(format!("{name}/{af}/{t:?}: secure differs by {} LSB", c.max_diff_lsb));
                }
                checked += 1;
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(checked >= 3 * 2 * 8, "only {checked} cases");
}

#[test]
fn the_report_row_takes_its_cost_from_the_cost_evaluator() {
    let reg = MethodRegistry::builtin();
    let f = ActivationRegistry::builtin().get("gelu").unwrap();
    let density = DensitySpec::parse("normal:0,1").unwrap();
    let m = reg.build("puma", &BuildContext::new("gelu").unwrap()).unwrap();
    for t in [Truncation::Local, Truncation::DealerPair] {
        let row = measure(m.as_ref(), f.as_ref(), &density, t, 8.0).unwrap();
        let c = m.cost(t, 8.0).unwrap();
        assert_eq!((row.rounds, row.bytes, row.truncation), (c.cost.rounds, c.cost.bytes_per_party, t));
        assert_eq!(row.failure_bound, c.failure_bound);
        if t == Truncation::DealerPair {
            assert_eq!(row.failure_bound, 0.0);
        } else {
            assert!(row.failure_bound > 0.0);
        }
    }
}

#[test]
fn nfgen_silu_under_dealer_pair_truncation_pays_one_truncation_per_term() {
    let reg = MethodRegistry::builtin();
    let m = reg.build("nfgen", &BuildContext::new("silu").unwrap()).unwrap();
    let c = m.cost(Truncation::DealerPair, 8.0).unwrap();
    assert!(c.cost.bytes_per_party <= Bytes(816), "{c:?}");
    let l = m.cost(Truncation::Local, 8.0).unwrap();
    assert!(l.cost.bytes_per_party < c.cost.bytes_per_party);
    assert!(l.failure_bound > 2f64.powi(-30), "NFGen's scaled terms make local truncation unsafe: {l:?}");
}
