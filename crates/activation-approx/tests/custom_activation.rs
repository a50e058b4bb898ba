//! Adding an activation through the public API only, then fitting it and round-tripping its JSON.

use std::sync::Arc;

use activation_approx::{
    Activation, ActivationRegistry, AnnealConfig, ApproximationFile, CostModel, Criterion, DensitySpec, ErrorReport,
    Fitter, FixedPoint, Tail, TwoPartyCostModel, anneal,
};

/// Swish with β = 1.5: x·σ(1.5x) — not a built-in.
#[derive(Debug)]
struct Swish15;

impl Activation for Swish15 {
    fn name(&self) -> &str {
        "swish15"
    }
    fn eval(&self, x: f64) -> f64 {
        x / (1.0 + (-1.5 * x).exp())
    }
    fn left_tail(&self) -> Tail {
        Tail::Zero
    }
    fn right_tail(&self) -> Tail {
        Tail::Identity
    }
}

#[test]
fn register_fit_and_save_a_new_activation() {
    let mut registry = ActivationRegistry::builtin();
    registry.register(Arc::new(Swish15)).expect("new name");
    assert!(registry.register(Arc::new(Swish15)).is_err(), "duplicate names are refused");
    let f = registry.get("swish15").expect("registered");

    let density: DensitySpec = "normal:0,1".parse().expect("density");
    let crit = Criterion::weighted(density.clone(), 1e-3, None).expect("criterion");
    let model = TwoPartyCostModel::default();
    let fitter = Fitter::new(f.as_ref(), &crit, &model);
    let out = anneal(&fitter, &AnnealConfig { iterations: 400, restarts: 2, seed: 3, ..Default::default() })
        .expect("feasible");
    assert!(out.best.feasible());

    let fx = FixedPoint::default();
    let errors = ErrorReport::measure(f.as_ref(), &out.best.pp, &density, &fx);
    assert!(errors.weighted <= 1e-3, "{errors:?}");
    let file = ApproximationFile::new(
        f.name(),
        &out.best.pp,
        Some(density),
        Some(crit),
        fx,
        errors,
        model.piecewise_cost(&out.best.pp),
        Some(model),
        None,
    );
    let back = ApproximationFile::from_json(&file.to_json().expect("json")).expect("valid");
    assert_eq!(back.activation, "swish15");
    assert_eq!(back.piecewise().expect("piecewise"), out.best.pp);
}
