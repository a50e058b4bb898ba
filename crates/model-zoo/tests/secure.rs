//! Secure inference (`model_zoo::secure`): the two-party run against its plaintext twin and the f64 reference, the
//! metered cost against the prediction for fixtures and for every committed model, and the error paths.

#![allow(clippy::unwrap_used)]

mod common;
use common::{method, network};

use std::path::PathBuf;

use secure_methods::SecureMethod;
use activation_approx::{ActivationRegistry, Bytes, FixedPoint, Rounds, Truncation};
use model_zoo::secure::{LayerKind, SecureModel, SecureOptions, evaluate_secure, predict_cost};
use model_zoo::{Arch, Dataset, Task, ZooError, load_model};
use mpc_sim::{CostEvaluator, PlainEvaluator, predict};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random_data(shape: &[usize], n: usize, classes: u32, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let d: usize = shape.iter().product();
    Dataset {
        features: (0..n * d).map(|_| rng.random_range(0.0f32..1.0)).collect(),
        labels: (0..n).map(|i| i as u32 % classes).collect(),
        sample_shape: shape.to_vec(),
    }
}

/// MLP and CNN fixtures: secure == plaintext (within the truncation noise), plaintext ≈ the f64 reference with the
/// method's fixed-point activation, metered == predicted, and the closed form of a dense layer.
#[test]
fn secure_pass_matches_plaintext_reference_and_prediction() {
    let mlp = network(Arch::Mlp { input: 16, width: 12, depth: 3, classes: 4 }, Task::Letter, "gelu", 3);
    let cnn = network(Arch::VggCnn { input: [8, 8, 1], widths: [4, 6, 8], fc: 8, classes: 2 }, Task::FashionMnist, "silu", 4);
    // 3 hidden layers of 12; CNN: two convs at 8×8×4, 4×4×6, 2×2×8 (pooled between), then two FC of 8.
    assert_eq!(mlp.activation_elements(), 3 * 12);
    assert_eq!(cnn.activation_elements(), 2 * (8 * 8 * 4 + 4 * 4 * 6 + 2 * 2 * 8) + 2 * 8);
    for (model, m, classes) in [(mlp, method("puma", "gelu"), 4u32), (cnn, method("nfgen", "silu"), 2)] {
        let data = random_data(&model.input_shape, 12, classes, 9);
        let opts = SecureOptions { batch: 5, seed: 1, ..SecureOptions::default() };
        let r = evaluate_secure(&model, m.as_ref(), &data, 12, &opts).unwrap();
        assert_eq!(r.metered, r.predicted);
        assert_eq!(r.truncation, opts.truncation, "{}: the run's truncation, not the method's", m.name());
        assert!(r.max_logit_diff < 2e-2, "{}: secure vs plaintext logits differ by {}", m.name(), r.max_logit_diff);
        assert!(r.agreement >= 11.0 / 12.0, "{}: agreement {}", m.name(), r.agreement);

        // Plaintext fixed-point logits vs the f64 forward pass with the method's fixed-point activation.
        let fx = FixedPoint::default();
        let mut pe = PlainEvaluator::new(fx);
        let sm = SecureModel::share(&mut pe, &model).unwrap();
        let d: usize = model.input_shape.iter().product();
        let got = sm.infer(&mut pe, m.as_ref(), &data.features[..3 * d], 3).unwrap();
        let act = |_: usize, x: f64| m.eval_fixed(&[x]).unwrap()[0];
        for k in 0..3 {
            let want = model.forward(&data.features[k * d..(k + 1) * d], &act).unwrap();
            for (g, w) in got[k * want.len()..(k + 1) * want.len()].iter().zip(&want) {
                assert!((g - w).abs() < 2e-2, "{}: fixed-point {g} vs f64 {w}", m.name());
            }
        }
        // Every activation element is priced once per layer, in parallel: rounds per activation layer are those
        // of one element, bytes are per element times the layer width.
        let acts: Vec<_> = r.metered.layers.iter().filter(|l| l.kind == LayerKind::Activation).collect();
        assert!(acts.iter().all(|l| l.rounds == acts[0].rounds && l.bytes > Bytes::ZERO));
    }
    // One sample: the client shares its 16 features (8·16 B, one round), then dense 16 → 12 opens X − A (8·16 B,
    // one round), local truncation free. The set-up, once: the server shares every weight matrix k×n and bias n
    // (8kn + 8n B from the server) and opens W − B (8kn B from each party), all layers concurrently: 3 rounds.
    let mlp = network(Arch::Mlp { input: 16, width: 12, depth: 3, classes: 4 }, Task::Letter, "gelu", 3);
    let c = predict_cost(&mlp, method("puma", "gelu").as_ref(), FixedPoint::default(), Truncation::Local).unwrap();
    let (input, first) = (&c.layers[0], &c.layers[1]);
    assert_eq!((input.label.as_str(), input.kind, input.rounds, input.bytes), ("input", LayerKind::Input, Rounds(1), Bytes(8 * 16)));
    assert_eq!((first.label.as_str(), first.rounds, first.bytes), ("00-dense", Rounds(1), predict::matmul_fixed(1, 16, 12).bytes_per_party));
    let dims = [(16, 12), (12, 12), (12, 12), (12, 4)];
    assert_eq!(c.setup.bytes_per_party, Bytes(dims.iter().map(|&(k, n)| 16 * k * n + 8 * n).sum::<u64>()));
    assert_eq!(c.setup.rounds, Rounds(3));
    assert_eq!(c.total.rounds, c.layers.iter().map(|l| l.rounds).sum::<Rounds>(), "the layers run one after another");
    assert_eq!(c.layers.last().unwrap().bytes, Bytes(8 * 4), "logits opened to the client: 8 B each, from the server");
}

/// For every model committed in results/models and two methods, one secure inference meters exactly the predicted
/// per-layer cost (the prediction the runner's sweeps report).
#[test]
fn every_committed_model_meters_as_predicted() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../results/models");
    let reg = ActivationRegistry::builtin();
    let mut sidecars: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
    sidecars.sort();
    assert!(sidecars.len() >= 12, "expected the committed models in {}", dir.display());
    let mut methods: std::collections::HashMap<String, Vec<Box<dyn SecureMethod>>> = Default::default();
    for path in &sidecars {
        let (net, side) = load_model(path, &reg).unwrap();
        let model = net.export_folded().unwrap();
        let ms = methods.entry(side.activation.clone()).or_insert_with(|| vec![method("compact", &side.activation), method("nfgen", &side.activation)]);
        let mut data = random_data(&model.input_shape, 1, 2, 5);
        // A text transformer's input is token ids (integers below its vocabulary), not reals.
        if let Some(model_zoo::ExportedLayer::TokenEmbed { vocab, .. }) = model.layers.first() {
            data.features.iter_mut().for_each(|x| *x = (*x * *vocab as f32).floor().min(*vocab as f32 - 1.0));
        }
        for m in ms.iter() {
            let opts = SecureOptions { batch: 1, seed: 2, ..SecureOptions::default() };
            let r = evaluate_secure(&model, m.as_ref(), &data, 1, &opts)
                .unwrap_or_else(|e| panic!("{} with {}: {e}", path.display(), m.name()));
            assert_eq!(r.metered, r.predicted, "{} with {}", path.display(), m.name());
            let act = r.metered.of_kind(LayerKind::Activation);
            assert!(act.bytes_per_party > Bytes::ZERO && act.rounds > Rounds::ZERO, "{}: {act:?}", path.display());
        }
    }
}

#[test]
fn bad_inputs_are_clear_errors() {
    let mlp = network(Arch::Mlp { input: 16, width: 12, depth: 2, classes: 4 }, Task::Letter, "gelu", 3);
    let data = random_data(&[16], 4, 4, 1);
    let opts = SecureOptions::default();
    // An approximation of another activation.
    let err = evaluate_secure(&mlp, method("nfgen", "silu").as_ref(), &data, 4, &opts).unwrap_err().to_string();
    assert!(err.contains("approximates 'silu'") && err.contains("uses 'gelu'"), "{err}");
    // Data of another task (another sample shape).
    let other = random_data(&[784], 4, 4, 1);
    let err = evaluate_secure(&mlp, method("puma", "gelu").as_ref(), &other, 4, &opts).unwrap_err();
    assert!(matches!(err, ZooError::InputShape { .. }), "{err}");
    assert!(err.to_string().contains("[784]") && err.to_string().contains("[16]"), "{err}");
    // Too many samples, none, or an empty batch.
    for (n, batch, want) in [(5, 10, "samples = 5"), (0, 10, "samples = 0"), (4, 0, "batch = 0")] {
        let err = evaluate_secure(&mlp, method("puma", "gelu").as_ref(), &data, n, &SecureOptions { batch, ..opts }).unwrap_err();
        assert!(err.to_string().contains(want), "{err}");
    }
    // Weights for another architecture than the data: a model whose first layer expects 784 inputs.
    let mut wrong = mlp.clone();
    wrong.input_shape = vec![784];
    let mut ce = CostEvaluator::new(FixedPoint::default(), Truncation::Local);
    let sm = SecureModel::share(&mut ce, &wrong).unwrap();
    let err = sm.infer(&mut ce, method("puma", "gelu").as_ref(), &vec![0.5; 784], 1).unwrap_err();
    assert!(matches!(err, ZooError::InputShape { .. }), "{err}");
}
