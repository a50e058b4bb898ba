//! Integration tests on small generated fixtures (no real data needed, except `real_data` which runs the fetch
//! script when the datasets are absent).

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use activation_approx::{Activation, ActivationRegistry, Builtin};
use candle_core::{Device, Tensor};
use model_zoo::data::idx::encode_idx;
use model_zoo::{
    ActFn, ActivationPlan, Arch, Dataset, ModelActivation, ModelConfig, Network, Task, TaskData, TrainConfig, ZooError,
    activation_statistics, evaluate, load_model, load_task, save_model, train,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Four Gaussian blobs in 16 dimensions, one per class.
fn blobs(n: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut features = Vec::with_capacity(n * 16);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = (i % 4) as u32;
        for j in 0..16 {
            let centre = if j % 4 == class as usize { 2.0 } else { 0.0 };
            features.push(centre + rng.random_range(-1.0f32..1.0));
        }
        labels.push(class);
    }
    Dataset { features, labels, sample_shape: vec![16] }
}

fn blob_task() -> TaskData {
    TaskData { task: Task::Letter, train: blobs(400, 1), val: blobs(100, 2), test: blobs(100, 3), n_classes: 4, checksum: "fixture".into() }
}

fn mlp(depth: usize, act: &str) -> ModelConfig {
    ModelConfig { task: Task::Letter, arch: Arch::Mlp { input: 16, width: 12, depth, classes: 4 }, activation: act.into() }
}

fn quick() -> TrainConfig {
    TrainConfig { epochs: 4, batch_size: 32, lr: 1e-2, progress: false, seed: 7, ..TrainConfig::default() }
}

fn images(n: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Class 0: bright top half; class 1: bright bottom half.
    let mut features = Vec::new();
    let mut labels = Vec::new();
    for i in 0..n {
        let class = (i % 2) as u32;
        for r in 0..8 {
            for _c in 0..8 {
                let on = (r < 4) == (class == 0);
                features.push(if on { 0.8 } else { 0.1 } + rng.random_range(0.0f32..0.2));
            }
        }
        labels.push(class);
    }
    Dataset { features, labels, sample_shape: vec![8, 8, 1] }
}

fn tiny_cnn(act: &str) -> ModelConfig {
    ModelConfig { task: Task::FashionMnist, arch: Arch::VggCnn { input: [8, 8, 1], widths: [4, 6, 8], fc: 8, classes: 2 }, activation: act.into() }
}

#[test]
fn mlp_learns_blobs_and_the_seed_reproduces() {
    let reg = ActivationRegistry::builtin();
    let data = blob_task();
    let (net, side) = train(mlp(2, "silu"), &data, &quick(), &reg).unwrap();
    assert!(side.val_accuracy > 0.9, "val {}", side.val_accuracy);
    assert_eq!(side.val_accuracy_per_epoch.len(), 4);
    assert_eq!(net.n_activation_layers(), 2);
    let (_, again) = train(mlp(2, "silu"), &data, &quick(), &reg).unwrap();
    assert_eq!(side.val_accuracy_per_epoch, again.val_accuracy_per_epoch);
    assert_eq!(side.test_accuracy, again.test_accuracy);
}

#[test]
fn every_builtin_trains_without_nan() {
    let reg = ActivationRegistry::builtin();
    let data = blob_task();
    for b in [Builtin::Gelu, Builtin::Mish, Builtin::Relu, Builtin::Selu] {
        let (_, side) = train(mlp(3, b.name()), &data, &quick(), &reg).unwrap();
        assert!(side.val_accuracy > 0.8, "{}: {}", b.name(), side.val_accuracy);
    }
}

#[test]
fn save_load_round_trip_and_corruption() {
    let reg = ActivationRegistry::builtin();
    let data = blob_task();
    let (net, mut side) = train(mlp(2, "mish"), &data, &quick(), &reg).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let json = save_model(&net, &mut side, dir.path(), "m").unwrap();
    let (back, side2) = load_model(&json, &reg).unwrap();
    assert_eq!(side, side2);
    let a = evaluate(&net, &data.test, &ActivationPlan::Exact, 33).unwrap();
    let b = evaluate(&back, &data.test, &ActivationPlan::Exact, 33).unwrap();
    assert_eq!(a, b);
    assert_eq!(a, side.test_accuracy);
    // Architecture in the sidecar no longer matches the weights (hash still valid).
    let mut wrong = side2.clone();
    wrong.model.arch = Arch::Mlp { input: 16, width: 13, depth: 2, classes: 4 };
    std::fs::write(dir.path().join("w.json"), serde_json::to_string(&wrong).unwrap()).unwrap();
    let err = load_model(&dir.path().join("w.json"), &reg).unwrap_err().to_string();
    assert!(err.contains("shape"), "{err}");
    // Corrupted weights.
    let wpath = dir.path().join("m.safetensors");
    let mut bytes = std::fs::read(&wpath).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&wpath, bytes).unwrap();
    let err = load_model(&json, &reg).unwrap_err();
    assert!(matches!(err, ZooError::ModelFile { .. }), "{err}");
    let err = err.to_string();
    assert!(err.contains("m.safetensors") && err.contains("sha256") && err.contains("make train"), "{err}");
    // Corrupted weights whose hash the sidecar records: named as a model file, once, with its path.
    std::fs::write(&wpath, b"\x08\0\0\0\0\0\0\0{\"a\":").unwrap();
    let mut resigned = side2.clone();
    resigned.weights_sha256 = model_zoo::data::sha256_hex(&std::fs::read(&wpath).unwrap());
    std::fs::write(dir.path().join("r.json"), serde_json::to_string(&resigned).unwrap()).unwrap();
    let err = load_model(&dir.path().join("r.json"), &reg).unwrap_err().to_string();
    assert!(err.contains("m.safetensors") && err.contains("not a valid .safetensors model file"), "{err}");
    assert!(!err.contains('\n') && !err.contains("tensor operation failed"), "{err}");
    // Missing sidecar: a model file, not a dataset file.
    let err = load_model(&dir.path().join("none.json"), &reg).unwrap_err().to_string();
    assert!(err.contains("none.json") && err.contains("model sidecar") && !err.contains("dataset"), "{err}");
}

#[test]
fn replacement_plans() {
    let reg = ActivationRegistry::builtin();
    let data = blob_task();
    let (net, side) = train(mlp(3, "gelu"), &data, &quick(), &reg).unwrap();
    let exact: ActFn = Arc::new(|x| Builtin::Gelu.eval(x));
    let all = evaluate(&net, &data.test, &ActivationPlan::All(exact.clone()), 50).unwrap();
    assert!((all - side.test_accuracy).abs() < 0.02, "{all} vs {}", side.test_accuracy);
    // Per layer: replacing only the middle layer by zero changes the logits but not the others' inputs.
    let x = net.input_tensor(&data.test.features[..16 * 5], &[16]).unwrap();
    let base = net.forward(&x, &ActivationPlan::Exact).unwrap();
    let zero: ActFn = Arc::new(|_| 0.0);
    let per = net.forward(&x, &ActivationPlan::PerLayer(vec![None, Some(zero.clone()), None])).unwrap();
    let diff = (base - &per).unwrap().abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
    assert!(diff > 1e-3);
    let mut seen = Vec::new();
    net.forward_observed(&x, &ActivationPlan::PerLayer(vec![None, Some(zero), None]), &mut |i, t| {
        seen.push((i, t.dims().to_vec()));
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, vec![(0, vec![5, 12]), (1, vec![5, 12]), (2, vec![5, 12])]);
    let err = net.forward(&x, &ActivationPlan::PerLayer(vec![None])).unwrap_err().to_string();
    assert!(err.contains("1 entries") && err.contains("3 activation layers"), "{err}");
    let bad = Tensor::zeros((2, 15), candle_core::DType::F32, &Device::Cpu).unwrap();
    assert!(net.input_tensor(&[0.0; 30], &[15]).unwrap_err().to_string().contains("15"));
    drop(bad);
}

#[test]
fn statistics_report_bn_parameters_and_histograms() {
    let reg = ActivationRegistry::builtin();
    let data = blob_task();
    let (net, _) = train(mlp(3, "silu"), &data, &quick(), &reg).unwrap();
    let stats = activation_statistics(&net, &data.train, 64, 20, 0).unwrap();
    assert_eq!(stats.len(), 3);
    for s in &stats {
        assert_eq!((s.gamma.len(), s.beta.len()), (12, 12));
        assert_eq!(s.n_values, 64 * 12);
        assert_eq!(s.histogram.counts.iter().sum::<u64>(), s.n_values as u64);
        assert!(s.std > 0.0);
    }
    assert!(activation_statistics(&net, &data.train, 0, 20, 0).is_err());
}

#[test]
fn cnn_trains_and_export_matches_candle() {
    let reg = ActivationRegistry::builtin();
    let data = TaskData { task: Task::FashionMnist, train: images(200, 1), val: images(40, 2), test: images(40, 3), n_classes: 2, checksum: "fx".into() };
    let cfg = TrainConfig { epochs: 10, batch_size: 20, ..quick() };
    let (net, side) = train(tiny_cnn("mish"), &data, &cfg, &reg).unwrap();
    assert_eq!(net.n_activation_layers(), 8);
    assert!(side.val_accuracy > 0.9, "{}", side.val_accuracy);
    let x = net.input_tensor(&data.test.features[..64 * 3], &[8, 8, 1]).unwrap();
    let logits: Vec<Vec<f32>> = net.forward(&x, &ActivationPlan::Exact).unwrap().to_vec2().unwrap();
    for export in [net.export().unwrap(), net.export_folded().unwrap()] {
        assert_eq!(export.n_activation_layers(), 8);
        for (k, row) in logits.iter().enumerate() {
            let got = export.forward(&data.test.features[k * 64..(k + 1) * 64], &|_, v| Builtin::Mish.eval(v)).unwrap();
            for (g, w) in got.iter().zip(row) {
                assert!((g - f64::from(*w)).abs() < 1e-3 * (1.0 + w.abs() as f64), "{g} vs {w}");
            }
        }
    }
    let folded = net.export_folded().unwrap();
    assert!(!folded.layers.iter().any(|l| matches!(l, model_zoo::ExportedLayer::Affine { .. })));
    let json = serde_json::to_string(&folded).unwrap();
    assert!(json.contains("conv3x3") && json.contains("max_pool2"));
}

#[test]
fn conv_matches_candle_conv2d() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let x: Vec<f32> = (0..2 * 5 * 6 * 3).map(|_| rng.random_range(-1.0..1.0)).collect();
    let w: Vec<f32> = (0..4 * 3 * 9).map(|_| rng.random_range(-1.0..1.0)).collect();
    let xt = Tensor::from_vec(x, (2, 5, 6, 3), &Device::Cpu).unwrap();
    let wt = Tensor::from_vec(w, (4, 3, 3, 3), &Device::Cpu).unwrap();
    let ours = model_zoo::model::conv3x3_nhwc(&xt, &wt).unwrap();
    let reference = xt.permute((0, 3, 1, 2)).unwrap().contiguous().unwrap().conv2d(&wt, 1, 1, 1, 1).unwrap().permute((0, 2, 3, 1)).unwrap();
    let d = (ours - reference).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
    assert!(d < 1e-5, "{d}");
    let pooled = model_zoo::model::max_pool2_nhwc(&xt).unwrap();
    assert_eq!(pooled.dims(), &[2, 2, 3, 3]);
    let xv: Vec<f32> = xt.flatten_all().unwrap().to_vec1().unwrap();
    let pv: Vec<f32> = pooled.flatten_all().unwrap().to_vec1().unwrap();
    // Element (b=1, i=1, j=2, c=2) is the max of rows 2..4, cols 4..6 of the input.
    let at = |i: usize, j: usize| xv[((5 + i) * 6 + j) * 3 + 2];
    let want = [at(2, 4), at(2, 5), at(3, 4), at(3, 5)].into_iter().fold(f32::MIN, f32::max);
    assert_eq!(pv[((2 + 1) * 3 + 2) * 3 + 2], want);
}

#[test]
fn bad_names_and_configs() {
    let reg = ActivationRegistry::builtin();
    let err = "mnsit".parse::<Task>().unwrap_err().to_string();
    assert!(err.contains("mnsit") && err.contains("fashion-mnist"), "{err}");
    assert_eq!("Fashion_MNIST".parse::<Task>().unwrap(), Task::FashionMnist);
    let err = train(mlp(2, "swishh"), &blob_task(), &quick(), &reg).unwrap_err().to_string();
    assert!(err.contains("swishh") && err.contains("silu"), "{err}");
    let err = train(mlp(0, "silu"), &blob_task(), &quick(), &reg).unwrap_err().to_string();
    assert!(err.contains("depth 0"), "{err}");
    let bad = TrainConfig { epochs: 0, ..quick() };
    assert!(train(mlp(2, "silu"), &blob_task(), &bad, &reg).unwrap_err().to_string().contains("epochs"));
    let act = ModelActivation::resolve("relu", &reg).unwrap();
    assert!(Network::new(mlp(2, "relu"), act, 0).is_ok());
}

#[test]
fn missing_and_corrupted_data_files() {
    let dir = tempfile::tempdir().unwrap();
    for task in [Task::Mnist, Task::FashionMnist, Task::Letter, Task::Spam] {
        let err = load_task(task, dir.path()).unwrap_err().to_string();
        assert!(err.contains("fetch-datasets.sh"), "{task}: {err}");
    }
    let err = load_task(Task::Cifar10, dir.path()).unwrap_err().to_string();
    assert!(err.contains("cifar-10/data_batch_1.bin") && err.contains("no package registry"), "{err}");
    // A valid-looking but wrong MNIST file fails the pinned checksum.
    std::fs::create_dir_all(dir.path().join("mnist")).unwrap();
    std::fs::write(dir.path().join("mnist/train-images-idx3-ubyte"), encode_idx(&[1, 2, 2], &[0; 4])).unwrap();
    let err = load_task(Task::Mnist, dir.path()).unwrap_err();
    assert!(matches!(err, ZooError::ChecksumMismatch { .. }), "{err}");
    assert!(err.to_string().contains("ba891046"), "{err}");
    std::fs::create_dir_all(dir.path().join("letter")).unwrap();
    std::fs::write(dir.path().join("letter/LetterRecognition.rda"), b"RDX2\nX\n").unwrap();
    assert!(matches!(load_task(Task::Letter, dir.path()).unwrap_err(), ZooError::ChecksumMismatch { .. }));
}

/// Real data (fetched with the project's script when absent): counts, splits and the documented first Letter row.
#[test]
fn real_data() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets");
    let ok = |rel: &str| root.join(rel).exists();
    if !(ok("mnist/t10k-labels-idx1-ubyte") && ok("letter/LetterRecognition.rda") && ok("spam-assassin/spam-2") && ok("fashion-mnist/t10k-labels-idx1-ubyte")) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fetch-datasets.sh");
        let status = std::process::Command::new("bash").arg(script).arg(&root).status().unwrap();
        assert!(status.success(), "fetch script failed");
    }
    let letter = std::fs::read(root.join("letter/LetterRecognition.rda")).unwrap();
    let (labels, raw) = model_zoo::data::letter::read_letter_table(&letter, Path::new("letter")).unwrap();
    assert_eq!(labels.len(), 20_000);
    assert_eq!(labels[0], u32::from(b'T' - b'A'));
    assert_eq!(&raw[..16], &[2.0, 8.0, 3.0, 5.0, 1.0, 8.0, 13.0, 0.0, 6.0, 6.0, 10.0, 8.0, 0.0, 8.0, 0.0, 8.0]);
    let d = load_task(Task::Letter, &root).unwrap();
    assert_eq!((d.train.len(), d.val.len(), d.test.len()), (14_000, 2_000, 4_000));
    let s = load_task(Task::Spam, &root).unwrap();
    assert_eq!(s.train.len() + s.val.len() + s.test.len(), 6046);
    assert_eq!(s.train.labels.iter().chain(&s.val.labels).chain(&s.test.labels).filter(|&&l| l == 1).count(), 1896);
    let m = load_task(Task::Mnist, &root).unwrap();
    assert_eq!((m.train.len(), m.val.len(), m.test.len(), m.train.sample_shape.clone()), (55_000, 5_000, 10_000, vec![784]));
    let f = load_task(Task::FashionMnist, &root).unwrap();
    assert_eq!(f.test.sample_shape, vec![28, 28, 1]);
    let mut per_class = [0usize; 10];
    f.test.labels.iter().for_each(|&l| per_class[l as usize] += 1);
    assert_eq!(per_class, [1000; 10]);
}
