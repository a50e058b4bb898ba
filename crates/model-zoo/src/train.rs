//! Training (AdamW, seeded shuffling, warm-up + cosine learning rate, validation accuracy per epoch),
//! evaluation, and saving / loading a model as safetensors + a JSON sidecar.
//!
//! Learning rate at step t of T: η·t/W for t < W = ⌈warmup·T⌉, then η·(f + (1 − f)·(1 + cos(π·(t − W)/(T − W)))/2)
//! with floor f = 0.01. Loss: cross-entropy on the logits. Decoupled weight decay λ (AdamW, Loshchilov & Hutter 2019).

use std::path::{Path, PathBuf};
use std::time::Instant;

use activation_approx::ActivationRegistry;
use candle_core::Tensor;
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::act::{ActivationPlan, ModelActivation};
use crate::data::{Dataset, TaskData, sha256_hex};
use crate::error::{Result, ZooError, read_file};
use crate::model::{ModelConfig, Network};

/// Training hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Epochs over the training split.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Peak learning rate η.
    pub lr: f64,
    /// Decoupled weight decay λ.
    pub weight_decay: f64,
    /// Fraction of the steps used for linear warm-up.
    pub warmup: f64,
    /// Seed of the initialisation and of the shuffling.
    pub seed: u64,
    /// Show an indicatif progress bar.
    pub progress: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig { epochs: 10, batch_size: 128, lr: 2e-3, weight_decay: 1e-2, warmup: 0.03, seed: 0, progress: true }
    }
}

/// Everything recorded about a trained model (the JSON sidecar next to its safetensors file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    /// Sidecar format version.
    pub format_version: u32,
    /// Task, architecture and activation.
    pub model: ModelConfig,
    /// Task name (duplicated from `model` for readers).
    pub task: String,
    /// Activation name.
    pub activation: String,
    /// Number of activation layers.
    pub depth: usize,
    /// Hidden width (CNN: last stage).
    pub width: usize,
    /// Trainable parameters.
    pub n_parameters: usize,
    /// Hyper-parameters, including the seed.
    pub train: TrainConfig,
    /// Seed (duplicated from `train`).
    pub seed: u64,
    /// Epochs (duplicated from `train`).
    pub epochs: usize,
    /// Checksum of the data files (see `data::combined_checksum`).
    pub data_checksum: String,
    /// Validation accuracy after each epoch, in [0, 1].
    pub val_accuracy_per_epoch: Vec<f64>,
    /// Final validation accuracy.
    pub val_accuracy: f64,
    /// Test accuracy with the exact activation.
    pub test_accuracy: f64,
    /// Wall-clock training time in seconds (excluding data loading and the final test evaluation).
    pub training_seconds: f64,
    /// File name of the weights (same folder).
    pub weights_file: String,
    /// sha256 of the weights file.
    pub weights_sha256: String,
}

/// Accuracy in [0, 1] of `net` on `data` with the activations chosen by `plan`, in batches of `batch` samples.
pub fn evaluate(net: &Network, data: &Dataset, plan: &ActivationPlan, batch: usize) -> Result<f64> {
    if data.is_empty() {
        return Err(ZooError::Config("cannot evaluate on an empty dataset".to_string()));
    }
    let d = data.sample_len();
    let mut correct = 0usize;
    for start in (0..data.len()).step_by(batch.max(1)) {
        let end = (start + batch.max(1)).min(data.len());
        let x = net.input_tensor(&data.features[start * d..end * d], &data.sample_shape)?;
        let pred: Vec<u32> = net.forward(&x, plan)?.argmax(1)?.to_vec1()?;
        correct += pred.iter().zip(&data.labels[start..end]).filter(|(p, l)| p == l).count();
    }
    Ok(correct as f64 / data.len() as f64)
}

fn lr_at(cfg: &TrainConfig, step: usize, total: usize) -> f64 {
    let warm = ((cfg.warmup * total as f64).ceil() as usize).max(1);
    if step < warm {
        return cfg.lr * (step + 1) as f64 / warm as f64;
    }
    let t = (step - warm) as f64 / (total - warm).max(1) as f64;
    let floor = 0.01;
    cfg.lr * (floor + (1.0 - floor) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()))
}

/// Trains a fresh network for `config` on `data`, returning it and its sidecar (weights not yet saved).
pub fn train(config: ModelConfig, data: &TaskData, cfg: &TrainConfig, registry: &ActivationRegistry) -> Result<(Network, Sidecar)> {
    if cfg.epochs == 0 || cfg.batch_size == 0 || !cfg.lr.is_finite() || cfg.lr <= 0.0 {
        return Err(ZooError::Config(format!("epochs, batch_size and lr must be positive; got {}, {}, {}", cfg.epochs, cfg.batch_size, cfg.lr)));
    }
    if config.task != data.task {
        return Err(ZooError::Config(format!("model is for task {} but the data is {}", config.task, data.task)));
    }
    let activation = ModelActivation::resolve(&config.activation, registry)?;
    activation.trainable()?;
    let net = Network::new(config, activation, cfg.seed)?;
    let train = &data.train;
    if train.len() < 2 {
        return Err(ZooError::Config(format!("training split has {} samples", train.len())));
    }
    let mut opt = AdamW::new(
        net.trainable_vars(),
        ParamsAdamW { lr: cfg.lr, weight_decay: cfg.weight_decay, ..ParamsAdamW::default() },
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5eed_5eed);
    let d = train.sample_len();
    // Drop a last batch of one sample: BatchNorm needs at least two.
    let steps_per_epoch = train.len() / cfg.batch_size + usize::from(train.len() % cfg.batch_size > 1);
    let total = steps_per_epoch * cfg.epochs;
    let bar = if cfg.progress { indicatif::ProgressBar::new(total as u64) } else { indicatif::ProgressBar::hidden() };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_prefix(format!("{}/{}/d{}", net.config.task, net.config.activation, net.config.arch.depth()));
    let started = Instant::now();
    let mut val_acc = Vec::with_capacity(cfg.epochs);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut step = 0;
    let mut buf = Vec::with_capacity(cfg.batch_size * d);
    for _epoch in 0..cfg.epochs {
        order.shuffle(&mut rng);
        for chunk in order.chunks(cfg.batch_size) {
            if chunk.len() < 2 {
                continue;
            }
            buf.clear();
            for &i in chunk {
                buf.extend_from_slice(&train.features[i * d..(i + 1) * d]);
            }
            let labels: Vec<u32> = chunk.iter().map(|&i| train.labels[i]).collect();
            let x = net.input_tensor(&buf, &train.sample_shape)?;
            let y = Tensor::from_vec(labels, chunk.len(), net.device())?;
            let logits = net.forward_train(&x)?;
            let loss = candle_nn::loss::cross_entropy(&logits, &y)?;
            opt.set_learning_rate(lr_at(cfg, step, total));
            opt.backward_step(&loss)?;
            step += 1;
            bar.inc(1);
            if step % 20 == 0 {
                bar.set_message(format!("loss {:.4}", loss.to_scalar::<f32>()?));
            }
        }
        let acc = evaluate(&net, &data.val, &ActivationPlan::Exact, 1000)?;
        bar.set_message(format!("val {:.2}%", 100.0 * acc));
        val_acc.push(acc);
    }
    let training_seconds = started.elapsed().as_secs_f64();
    bar.finish();
    let test_accuracy = evaluate(&net, &data.test, &ActivationPlan::Exact, 1000)?;
    let sidecar = Sidecar {
        format_version: 1,
        task: net.config.task.name().to_string(),
        activation: net.config.activation.clone(),
        depth: net.config.arch.depth(),
        width: net.config.arch.width(),
        n_parameters: net.n_parameters(),
        train: cfg.clone(),
        seed: cfg.seed,
        epochs: cfg.epochs,
        data_checksum: data.checksum.clone(),
        val_accuracy: val_acc.last().copied().unwrap_or(0.0),
        val_accuracy_per_epoch: val_acc,
        test_accuracy,
        training_seconds,
        weights_file: String::new(),
        weights_sha256: String::new(),
        model: net.config.clone(),
    };
    Ok((net, sidecar))
}

/// Saves `<dir>/<stem>.safetensors` and `<dir>/<stem>.json`; returns the sidecar path.
pub fn save_model(net: &Network, sidecar: &mut Sidecar, dir: &Path, stem: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|source| ZooError::Io { path: dir.to_path_buf(), source })?;
    let weights = dir.join(format!("{stem}.safetensors"));
    let tensors: std::collections::HashMap<String, Tensor> =
        net.named_tensors().into_iter().map(|(n, v)| (n, v.as_tensor().clone())).collect();
    candle_core::safetensors::save(&tensors, &weights)?;
    sidecar.weights_file = format!("{stem}.safetensors");
    sidecar.weights_sha256 = sha256_hex(&read_file(&weights)?);
    let json_path = dir.join(format!("{stem}.json"));
    let text = serde_json::to_string_pretty(sidecar).map_err(|source| ZooError::Json { path: json_path.clone(), source })?;
    std::fs::write(&json_path, text + "\n").map_err(|source| ZooError::Io { path: json_path.clone(), source })?;
    Ok(json_path)
}

/// Loads a model from its JSON sidecar, checking the weights' sha256 and every tensor's shape.
///
/// Errors name the model file and the way out: a missing or oversized sidecar
/// ([`activation_approx::limits::MAX_SIDECAR_BYTES`]), a `weights_file` that is not a plain file name beside the
/// sidecar, a missing weights file, a checksum mismatch, or a weights file that is not valid safetensors.
pub fn load_model(sidecar_path: &Path, registry: &ActivationRegistry) -> Result<(Network, Sidecar)> {
    let model_err = |path: &Path, reason: String| ZooError::ModelFile { path: path.to_path_buf(), reason };
    let read_model = |path: &Path, what: &str, cap: Option<u64>| -> Result<Vec<u8>> {
        if let (Some(cap), Ok(meta)) = (cap, std::fs::metadata(path)) {
            if meta.len() > cap {
                return Err(model_err(path, format!("{what} is {} bytes, above the cap of {cap} (limits::MAX_SIDECAR_BYTES)", meta.len())));
            }
        }
        std::fs::read(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => model_err(
                path,
                format!("{what} is missing; train the model with `make train` or pass an existing sidecar with --model"),
            ),
            _ => ZooError::Io { path: path.to_path_buf(), source },
        })
    };
    let text = read_model(sidecar_path, "model sidecar", Some(activation_approx::limits::MAX_SIDECAR_BYTES))?;
    let sidecar: Sidecar = serde_json::from_slice(&text).map_err(|source| ZooError::Json { path: sidecar_path.to_path_buf(), source })?;
    let dir = sidecar_path.parent().unwrap_or(Path::new("."));
    let file_name = Path::new(&sidecar.weights_file);
    if sidecar.weights_file.is_empty() || file_name.components().count() != 1 || file_name.is_absolute() {
        return Err(model_err(
            sidecar_path,
            format!(
                "weights_file '{}' must be a file name beside the sidecar",
                activation_approx::limits::clip(&sidecar.weights_file)
            ),
        ));
    }
    let weights = dir.join(file_name);
    let bytes = read_model(&weights, "model weights file (.safetensors)", None)?;
    let got = sha256_hex(&bytes);
    if got != sidecar.weights_sha256 {
        return Err(model_err(
            &weights,
            format!(
                "model weights have sha256 {got} but the sidecar records {}; the file is corrupted or belongs to another \
                 model — retrain with `make train`",
                activation_approx::limits::clip(&sidecar.weights_sha256)
            ),
        ));
    }
    let activation = ModelActivation::resolve(&sidecar.model.activation, registry)?;
    let net = Network::new(sidecar.model.clone(), activation, 0)?;
    let stored = candle_core::safetensors::load_buffer(&bytes, net.device()).map_err(|e| {
        let msg = activation_approx::limits::clip(&e.to_string().replace('\n', " "));
        model_err(&weights, format!("not a valid .safetensors model file ({msg}); retrain with `make train`"))
    })?;
    for (name, var) in net.named_tensors() {
        let t = stored.get(&name).ok_or_else(|| ZooError::ModelFile { path: weights.clone(), reason: format!("tensor '{name}' is missing") })?;
        if t.dims() != var.dims() {
            return Err(ZooError::ModelFile { path: weights.clone(), reason: format!("tensor '{name}' has shape {:?}, the sidecar's architecture needs {:?}", t.dims(), var.dims()) });
        }
        var.set(&t.to_dtype(candle_core::DType::F32)?)?;
    }
    Ok((net, sidecar))
}
