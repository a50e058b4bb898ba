//! Per-layer secure method plans ([`MethodPlan`]): a plan of one method repeated costs exactly what the shared
//! method costs, a mixed plan's metered cost equals its prediction and is, layer by layer, the cost of each layer's
//! own method, and bad plans are refused with a one-line error.

#![allow(clippy::unwrap_used)]

mod common;
use common::{method, network};

use activation_approx::{FixedPoint, Truncation};
use model_zoo::secure::{Backend, LayerKind, MethodPlan, SecureOptions, evaluate_secure, predict_cost, predict_cost_on};
use model_zoo::{Arch, Dataset, ExportedModel, Task};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn vit() -> ExportedModel {
    let arch = Arch::Vit { input: [8, 8, 1], patch: 4, width: 8, depth: 2, heads: 2, mlp_width: 12, classes: 3 };
    network(arch, Task::MnistVit, "gelu", 11)
}

fn mlp() -> ExportedModel {
    network(Arch::Mlp { input: 16, width: 12, depth: 3, classes: 4 }, Task::Letter, "gelu", 12)
}

fn data(model: &ExportedModel, n: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let d: usize = model.input_shape.iter().product();
    let features: Vec<f32> = (0..n * d).map(|_| rng.random_range(0.0f32..1.0)).collect();
    Dataset { features, labels: (0..n).map(|i| (i % 3) as u32).collect(), sample_shape: model.input_shape.clone() }
}

/// The activation layers' labels of a cost breakdown, in order.
fn activation_labels(c: &model_zoo::secure::InferenceCost) -> Vec<String> {
    c.layers.iter().filter(|l| l.kind == LayerKind::Activation).map(|l| l.label.clone()).collect()
}

#[test]
fn repeated_method_plan_costs_exactly_the_shared_method() {
    let (fx, tr) = (FixedPoint::default(), Truncation::DealerPair);
    for model in [vit(), mlp()] {
        let n = model.n_activation_layers();
        for name in ["puma", "nfgen"] {
            let m = method(name, "gelu");
            let shared = predict_cost(&model, m.as_ref(), fx, tr).unwrap();
            let per = predict_cost(&model, MethodPlan::PerLayer(vec![m.as_ref(); n]), fx, tr).unwrap();
            assert_eq!(shared, per, "{name}: a per-layer plan of one method must cost the same");
            // The Box/Arc conversions are the same shared plan.
            assert_eq!(predict_cost(&model, &m, fx, tr).unwrap(), shared);
        }
    }
}

#[test]
fn mixed_plan_metered_equals_predicted_and_each_layer_costs_its_own_method() {
    for (model, names) in [(vit(), vec!["puma", "bolt"]), (mlp(), vec!["nfgen", "relu-swap", "crypten"])] {
        let methods: Vec<_> = names.iter().map(|n| method(n, "gelu")).collect();
        let plan = MethodPlan::per_layer(&methods);
        assert_eq!(plan.name(), names.join("+"));
        let ds = data(&model, 4, 3);
        let opts = SecureOptions { batch: 2, seed: 5, ..SecureOptions::default() };
        // evaluate_secure fails unless every batch's metered cost equals the prediction.
        let r = evaluate_secure(&model, &plan, &ds, 4, &opts).unwrap();
        assert_eq!(r.metered, r.predicted);
        assert!(r.max_logit_diff < 2e-2, "{names:?}: secure vs plaintext logits differ by {}", r.max_logit_diff);
        let labels = activation_labels(&r.metered);
        assert_eq!(labels.len(), names.len());
        // Layer i's activation cost is that of method i alone (from the shared plans' breakdowns), and every other
        // layer costs the same whatever the activation method.
        let shared: Vec<_> =
            methods.iter().map(|m| predict_cost(&model, m.as_ref(), opts.fx, opts.truncation).unwrap()).collect();
        for (i, label) in labels.iter().enumerate() {
            let got = r.metered.layers.iter().find(|l| &l.label == label).unwrap();
            let want = shared[i].layers.iter().find(|l| &l.label == label).unwrap();
            assert_eq!(got, want, "{label}: layer {i} must cost what {} costs", names[i]);
        }
        for (l, s) in r.metered.layers.iter().zip(&shared[0].layers) {
            if l.kind != LayerKind::Activation {
                assert_eq!(l, s);
            }
        }
        // The methods differ in cost, so the mixed plan differs from every shared one.
        assert!(shared.iter().all(|s| s.total != r.metered.total), "{names:?}");
        // FSS backend: the same plan is predicted there too.
        let fss = predict_cost_on(&model, &plan, opts.fx, opts.truncation, Backend::Fss).unwrap();
        assert_eq!(activation_labels(&fss), labels);
    }
}

#[test]
fn bad_plans_are_refused_with_one_line_errors() {
    let model = vit();
    let (fx, tr) = (FixedPoint::default(), Truncation::DealerPair);
    let puma = method("puma", "gelu");
    let err = predict_cost(&model, MethodPlan::PerLayer(vec![puma.as_ref()]), fx, tr).unwrap_err().to_string();
    assert!(err.contains("1 entries") && err.contains("2 activation layers") && !err.contains('\n'), "{err}");
    let err = predict_cost(&model, MethodPlan::PerLayer(vec![]), fx, tr).unwrap_err().to_string();
    assert!(err.contains("0 entries"), "{err}");
    let silu = method("nfgen", "silu");
    let err = predict_cost(&model, MethodPlan::PerLayer(vec![puma.as_ref(), silu.as_ref()]), fx, tr).unwrap_err().to_string();
    assert!(err.contains("'silu'") && err.contains("'gelu'") && !err.contains('\n'), "{err}");
}
