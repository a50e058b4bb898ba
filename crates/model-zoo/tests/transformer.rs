//! Transformers in the zoo: the exported f64 forward (LayerNorm folded) against candle's forward, the activation
//! hooks, the secure pass against its plaintext twin, the prediction and the f64 reference.

#![allow(clippy::unwrap_used)]

mod common;
use common::{method};

use activation_approx::{ActivationRegistry, FixedPoint};
use candle_core::Tensor;
use model_zoo::secure::{LayerKind, SecureModel, SecureOptions, TransformerRecipes, evaluate_secure};
use model_zoo::{ActivationPlan, Arch, Dataset, ModelActivation, ModelConfig, Network, Task, activation_statistics};
use mpc_sim::PlainEvaluator;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use secure_methods::SoftmaxRecipe;

fn vit() -> ModelConfig {
    ModelConfig {
        task: Task::MnistVit,
        arch: Arch::Vit { input: [8, 8, 1], patch: 4, width: 8, depth: 2, heads: 2, mlp_width: 12, classes: 3 },
        activation: "gelu".into(),
    }
}

fn text() -> ModelConfig {
    ModelConfig {
        task: Task::SpamText,
        arch: Arch::TextTransformer { vocab: 16, max_len: 6, width: 8, depth: 2, heads: 2, mlp_width: 12, classes: 2 },
        activation: "silu".into(),
    }
}

/// A fresh network whose LayerNorm γ, β (1 and 0 at initialisation) are randomised, so that folding them matters,
/// and whose class token and position embeddings (±0.02 at initialisation) are U(−1, 1): a row of variance ≈ 10⁻⁴
/// lies below the secure LayerNorm's valid range (the inverse square root's input is then a few ring units).
fn network(cfg: ModelConfig, seed: u64) -> Network {
    let reg = ActivationRegistry::builtin();
    let act = ModelActivation::resolve(&cfg.activation, &reg).unwrap();
    let net = Network::new(cfg, act, seed).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed + 100);
    for (name, var) in net.named_tensors() {
        if name.ends_with(".cls") || name.ends_with(".pos") {
            let n = var.elem_count();
            let v: Vec<f32> = (0..n).map(|_| rng.random_range(-1f32..1.0)).collect();
            var.set(&Tensor::from_vec(v, var.dims(), net.device()).unwrap()).unwrap();
        }
        if name.ends_with(".gamma") || name.ends_with(".beta") {
            let n = var.elem_count();
            let base = if name.ends_with(".gamma") { 1.0 } else { 0.0 };
            let v: Vec<f32> = (0..n).map(|_| base + rng.random_range(-0.5f32..0.5)).collect();
            var.set(&Tensor::from_vec(v, n, net.device()).unwrap()).unwrap();
        }
    }
    net
}

fn data(net: &Network, n: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let shape = net.config.arch.input_shape();
    let d: usize = shape.iter().product();
    let features: Vec<f32> = match net.config.arch {
        Arch::TextTransformer { vocab, max_len, .. } => (0..n)
            .flat_map(|i| {
                // Sample i has max_len − (i % 3) real tokens, then padding.
                let real = max_len - i % 3;
                (0..max_len).map(|l| if l < real { rng.random_range(0..vocab) as f32 } else { -1.0 }).collect::<Vec<_>>()
            })
            .collect(),
        _ => (0..n * d).map(|_| rng.random_range(0.0f32..1.0)).collect(),
    };
    Dataset { features, labels: (0..n).map(|i| (i % 2) as u32).collect(), sample_shape: shape }
}

#[test]
fn exported_forward_matches_candle_and_hooks_see_every_block() {
    for (cfg, seed) in [(vit(), 1), (text(), 2)] {
        let net = network(cfg, seed);
        let ds = data(&net, 6, seed);
        let x = net.input_tensor(&ds.features, &ds.sample_shape).unwrap();
        let mut seen = Vec::new();
        let logits: Vec<Vec<f32>> = net
            .forward_observed(&x, &ActivationPlan::Exact, &mut |i, t| {
                seen.push((i, t.dims().to_vec()));
                Ok(())
            })
            .unwrap()
            .to_vec2()
            .unwrap();
        // One activation layer per block, its input [B, T, mlp_width].
        assert_eq!(seen.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![0, 1]);
        assert!(seen.iter().all(|(_, d)| d.len() == 3 && d[0] == 6 && d[2] == 12), "{seen:?}");
        assert_eq!(net.n_activation_layers(), 2);
        let exported = net.export().unwrap();
        assert_eq!(exported.n_activation_layers(), 2);
        let act = |_: usize, v: f64| net.activation.activation.eval(v);
        let d = ds.sample_len();
        for (k, want) in logits.iter().enumerate() {
            let got = exported.forward(&ds.features[k * d..(k + 1) * d], &act).unwrap();
            for (g, w) in got.iter().zip(want) {
                assert!((g - f64::from(*w)).abs() < 1e-4, "{:?} sample {k}: exported {g} vs candle {w}", net.config.arch);
            }
        }
        // A replacement plan reaches every block.
        let zero = ActivationPlan::All(std::sync::Arc::new(|_| 0.0));
        let replaced: Vec<Vec<f32>> = net.forward(&x, &zero).unwrap().to_vec2().unwrap();
        let want = exported.forward(&ds.features[..d], &|_, _| 0.0).unwrap();
        for (g, w) in replaced[0].iter().zip(&want) {
            assert!((f64::from(*g) - w).abs() < 1e-4);
        }
        let stats = activation_statistics(&net, &ds, 6, 8, 0).unwrap();
        assert_eq!(stats.len(), 2);
        assert!(stats.iter().all(|s| s.gamma.len() == 12 && s.n_values > 0 && s.std > 0.0));
    }
}

#[test]
fn secure_transformer_matches_plaintext_prediction_and_reference() {
    for (cfg, seed, m) in [(vit(), 3, method("puma", "gelu")), (text(), 4, method("nfgen", "silu"))] {
        let net = network(cfg, seed);
        let model = net.export().unwrap();
        let ds = data(&net, 6, seed);
        let opts = SecureOptions { batch: 3, seed: 7, ..SecureOptions::default() };
        // evaluate_secure itself fails unless every batch's metered cost equals the CostEvaluator's prediction.
        let r = evaluate_secure(&model, m.as_ref(), &ds, 6, &opts).unwrap();
        assert_eq!(r.metered, r.predicted);
        assert!(r.max_logit_diff < 2e-2, "secure vs plaintext logits differ by {}", r.max_logit_diff);
        for kind in [LayerKind::AttentionProduct, LayerKind::Softmax, LayerKind::LayerNorm, LayerKind::Activation, LayerKind::Linear] {
            let c = r.metered.of_kind(kind);
            assert!(c.rounds.get() > 0 && c.bytes_per_party.get() > 0, "{kind:?}: {c:?}");
        }
        // Fixed-point plaintext vs the f64 forward (exact softmax and LayerNorm) with the method's fixed-point
        // activation; CrypTen's softmax (error ≤ 2e-3 per probability) keeps the gap at fixed-point noise, the
        // default PUMA softmax (≤ 1e-2) is checked by the agreement above.
        let mut pe = PlainEvaluator::new(FixedPoint::default());
        let recipes = TransformerRecipes { softmax: SoftmaxRecipe::crypten(), ..TransformerRecipes::default() };
        let sm = SecureModel::share(&mut pe, &model).unwrap().with_recipes(recipes);
        let d = ds.sample_len();
        let got = sm.infer(&mut pe, m.as_ref(), &ds.features, 6).unwrap();
        let act = |_: usize, x: f64| m.eval_fixed(&[x]).unwrap()[0];
        let classes = got.len() / 6;
        for k in 0..6 {
            let want = model.forward(&ds.features[k * d..(k + 1) * d], &act).unwrap();
            for (g, w) in got[k * classes..(k + 1) * classes].iter().zip(&want) {
                assert!((g - w).abs() < 2e-2, "{}: fixed-point {g} vs f64 {w}", m.name());
            }
        }
    }
}

#[test]
fn transformer_configs_are_checked() {
    let reg = ActivationRegistry::builtin();
    let act = ModelActivation::resolve("gelu", &reg).unwrap();
    let mut cfg = vit();
    cfg.arch = Arch::Vit { input: [8, 8, 1], patch: 3, width: 8, depth: 1, heads: 2, mlp_width: 4, classes: 3 };
    let err = Network::new(cfg.clone(), act.clone(), 0).unwrap_err().to_string();
    assert!(err.contains("patch 3"), "{err}");
    cfg.arch = Arch::Vit { input: [8, 8, 1], patch: 4, width: 9, depth: 1, heads: 2, mlp_width: 4, classes: 3 };
    let err = Network::new(cfg, act, 0).unwrap_err().to_string();
    assert!(err.contains("width 9") && err.contains("heads 2"), "{err}");
}

#[test]
fn softmax_input_statistics_count_real_keys_and_stay_nonpositive() {
    // ViT: 8×8 input, patch 4 → 4 patches + class token = 5 tokens, 2 heads, 2 blocks, no padding.
    let net = network(vit(), 3);
    let ds = data(&net, 7, 3);
    let st = model_zoo::softmax_input_statistics(&net, &ds, 7, 16, 0).unwrap();
    assert_eq!(st.len(), 2);
    for (i, s) in st.iter().enumerate() {
        assert_eq!(s.block, i);
        assert_eq!(s.n_rows, 7 * 2 * 5);
        assert_eq!(s.n_values, 7 * 2 * 5 * 5);
        assert_eq!(s.histogram.counts.iter().sum::<u64>() as usize, s.n_values);
        assert!(s.histogram.hi == 0.0 && s.min <= 0.0 && s.mean < 0.0 && s.histogram.lo <= s.min && s.histogram.lo > s.min - 1.0);
        // Every row's maximum gives one d = 0, so the top bin holds at least one value per row.
        assert!(*s.histogram.counts.last().unwrap() as usize >= s.n_rows);
    }
    // Text: sample i has max_len − (i % 3) real tokens; padded keys are left out, padded query rows kept.
    let net = network(text(), 4);
    let ds = data(&net, 6, 4);
    let st = model_zoo::softmax_input_statistics(&net, &ds, 6, 16, 0).unwrap();
    let real_keys: usize = (0..6).map(|i| 6 - i % 3).sum();
    for s in &st {
        assert_eq!(s.n_rows, 6 * 2 * 6);
        assert_eq!(s.n_values, 2 * 6 * real_keys);
        assert_eq!(s.histogram.hi, 0.0);
    }
    // An MLP has no attention: a one-line error.
    let cfg = ModelConfig { task: Task::Mnist, arch: Arch::Mlp { input: 4, width: 3, depth: 1, classes: 2 }, activation: "gelu".into() };
    let mlp = network(cfg, 5);
    let e = model_zoo::softmax_input_statistics(&mlp, &data(&mlp, 2, 5), 2, 4, 0).unwrap_err();
    assert!(e.to_string().contains("transformer"), "{e}");
}

/// The training softmax (one fused pass each way) against candle's composed ops, on scores with a padding-like column
/// of −10⁹: the same probabilities and the same gradient of a weighted sum of them, to f32 rounding.
#[test]
fn fused_training_softmax_matches_the_composed_one_and_its_gradient() {
    use candle_core::{D, Device, Var};
    use model_zoo::transformer::SoftmaxKernel;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (b, h, t) = (3, 2, 9);
    let mut s: Vec<f32> = (0..b * h * t * t).map(|_| rng.random_range(-6.0f32..6.0)).collect();
    for row in s.chunks_mut(t) {
        row[t - 1] = -1e9;
    }
    let w: Vec<f32> = (0..s.len()).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let w = Tensor::from_vec(w, (b, h, t, t), &Device::Cpu).unwrap();
    let run = |kernel: SoftmaxKernel| {
        let v = Var::from_vec(s.clone(), (b, h, t, t), &Device::Cpu).unwrap();
        let y = match kernel {
            SoftmaxKernel::Composed => candle_nn::ops::softmax(v.as_tensor(), D::Minus1).unwrap(),
            SoftmaxKernel::Fused => model_zoo::transformer::fused_softmax(v.as_tensor()).unwrap(),
        };
        let loss = (&y * &w).unwrap().sum_all().unwrap();
        let grad = loss.backward().unwrap().get(v.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        (y.flatten_all().unwrap().to_vec1::<f32>().unwrap(), grad)
    };
    let (y0, g0) = run(SoftmaxKernel::Composed);
    let (y1, g1) = run(SoftmaxKernel::Fused);
    for (i, (a, c)) in y0.iter().zip(&y1).enumerate() {
        assert!((a - c).abs() <= 1e-6, "probability {i}: composed {a} vs fused {c}");
    }
    for row in y1.chunks(t) {
        assert_eq!(row[t - 1], 0.0, "the masked column gets no probability");
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
    for (i, (a, c)) in g0.iter().zip(&g1).enumerate() {
        assert!((a - c).abs() <= 1e-5 * (1.0 + a.abs()), "gradient {i}: composed {a} vs fused {c}");
    }
    assert!(g1.iter().any(|g| g.abs() > 1e-3), "the gradient is not trivially zero");
}
