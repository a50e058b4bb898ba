//! Secure two-party inference of a trained model on `mpc-sim`, written once against [`mpc_sim::Evaluator`], so the
//! same code gives the secure run ([`mpc_sim::Session`]), its exact fixed-point plaintext twin
//! ([`mpc_sim::PlainEvaluator`]) and its predicted cost ([`mpc_sim::CostEvaluator`]).
//!
//! # Parties and threat model
//! Semi-honest (honest-but-curious) client and server with a trusted dealer that hands out correlated randomness
//! offline (Beaver, matrix, comparison and square material) and sees nothing online.
//! - The **client** ([`CLIENT`], party 0) secret-shares its input sample (it sends the server its share: 8 B per
//!   input element, one round, metered under the label `input`); it learns the logits and nothing else.
//! - The **server** ([`SERVER`], party 1) secret-shares the weights (BatchNorm folded into the preceding layer),
//!   once per model, in the set-up; it learns nothing about the input or the logits.
//! - Public: the architecture (layer kinds and shapes), the activation method and its public constants (breakpoints
//!   and coefficients), the fixed-point setting, and the number of samples.
//!
//! # The forward pass (batch of B samples, channels-last, values at scale f)
//! - Dense y = W·x + b: one product of X \[B, in\] with the fixed Wᵀ \[in, out\]
//!   ([`Evaluator::matmul_fixed`]: W − M is opened once per model in the set-up, each batch opens only X − A),
//!   one truncation, plus the shared bias.
//! - 3×3 convolution (stride 1, zero padding 1): im2col rearranges x \[B, H, W, C\] locally into
//!   \[B·H·W, 9C\] (column (k_y·3 + k_x)·C + c), one fixed product with the kernel matrix \[9C, O\], one truncation,
//!   plus the bias: the output \[B·H·W, O\] is already channels-last.
//! - Folded BatchNorm left unfolded (an `Affine` layer): one Beaver product with the shared per-channel scale.
//! - Activation: every element of the layer at once through the method's program
//!   ([`secure_methods::MethodEvaluator::run_method`]).
//! - 2×2 max pooling (stride 2): two tournament levels of max(a, b) = b + \[a ≥ b\]·(a − b)
//!   ([`mpc_sim::nn::max_tournament`]).
//! - Output: the logits are opened to the client only ([`Evaluator::reveal_to_raw`]).
//!
//! Costs are metered per layer under the labels `NN-kind` (e.g. `03-dense`, `04-silu`, `09-maxpool`, `15-output`),
//! the client's input sharing under `input`, and the set-up under `setup`.
//!
//! # Set-up once per model, batches in parallel
//! The set-up — the server's input sharing of every weight and bias, and masking and opening every weight matrix
//! ([`Evaluator::fix_right`]: F = W − B opened once) — runs once per model in one session, all layers
//! concurrently. Every batch then runs in a [`Session::fork`] of that session: it reuses the shared biases and the
//! opened F, and its dealer (a child of the set-up dealer) issues fresh A and C = A·B for the same mask B at every
//! product, so no dealer material is ever issued twice and the weights are never re-opened. [`InferenceCost::setup`]
//! is that one set-up; [`InferenceCost::total`] is what one inference adds (input sharing included).

use std::time::Instant;

use secure_methods::{MethodEvaluator, SecureMethod};
use activation_approx::{FixedPoint, Truncation};
use mpc_sim::{
    Bytes, Channel, Cost, CostEvaluator, Count, Rounds, Evaluator, FssConfig, FssCostEvaluator, FssSession, Party, PlainEvaluator, Session,
    SessionConfig, Stats,
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{Result, ZooError};
use crate::export::{ExportedLayer, ExportedModel};

/// The party that owns the input and receives the logits.
pub const CLIENT: Party = Party::P0;
/// The party that owns the weights.
pub const SERVER: Party = Party::P1;

/// Meter label of the one-time weight set-up.
pub const SETUP_LABEL: &str = "setup";

/// Meter label of the client's input sharing.
pub const INPUT_LABEL: &str = "input";

/// What a layer is, for the cost breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerKind {
    /// The client's input sharing.
    Input,
    /// Dense or convolution layer (and a left-over affine BatchNorm).
    Linear,
    /// Activation layer.
    Activation,
    /// Max pooling.
    Pooling,
    /// Flatten (free) or the opening of the logits.
    Output,
}

#[derive(Debug, Clone)]
enum Layer<E: Evaluator> {
    Dense { weight: E::Fixed, bias: E::Value, in_dim: usize, out_dim: usize },
    Conv3x3 { weight: E::Fixed, bias: E::Value, in_channels: usize, out_channels: usize },
    Affine { scale: E::Value, shift: E::Value },
    Activation,
    MaxPool2,
    Flatten,
}

impl<E: Evaluator> Layer<E> {
    fn kind(&self) -> LayerKind {
        match self {
            Layer::Dense { .. } | Layer::Conv3x3 { .. } | Layer::Affine { .. } => LayerKind::Linear,
            Layer::Activation => LayerKind::Activation,
            Layer::MaxPool2 => LayerKind::Pooling,
            Layer::Flatten => LayerKind::Output,
        }
    }
}

/// A model whose weights the server has secret-shared and prepared for repeated products on evaluator `E`.
#[derive(Debug, Clone)]
pub struct SecureModel<E: Evaluator> {
    activation: String,
    input_shape: Vec<usize>,
    classes: usize,
    layers: Vec<(String, Layer<E>)>,
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// Broadcast indices: element i of a `[rows, c]` value takes entry `i % c` of a per-channel vector.
fn broadcast(rows: usize, c: usize) -> Vec<Option<usize>> {
    (0..rows * c).map(|i| Some(i % c)).collect()
}

/// im2col indices of a 3×3, stride-1, padding-1 convolution on a batch `[b, h, w, c]`: row (s, y, x), column
/// (k_y·3 + k_x)·c + ch.
fn im2col3x3(b: usize, h: usize, w: usize, c: usize) -> Vec<Option<usize>> {
    let mut idx = Vec::with_capacity(b * h * w * 9 * c);
    for s in 0..b {
        for y in 0..h {
            for x in 0..w {
                for ky in 0..3 {
                    for kx in 0..3 {
                        let (yy, xx) = ((y + ky) as isize - 1, (x + kx) as isize - 1);
                        let inside = yy >= 0 && xx >= 0 && (yy as usize) < h && (xx as usize) < w;
                        for ch in 0..c {
                            idx.push(inside.then(|| ((s * h + yy as usize) * w + xx as usize) * c + ch));
                        }
                    }
                }
            }
        }
    }
    idx
}

impl<E: MethodEvaluator> SecureModel<E> {
    /// The server shares the weights of `model` (BatchNorm should already be folded: use
    /// [`crate::Network::export_folded`]) and masks each weight matrix once, every layer concurrently; costs go to
    /// the `setup` label.
    pub fn share(ev: &mut E, model: &ExportedModel) -> Result<Self> {
        ev.scope(SETUP_LABEL, |ev| Ok(Self::share_in(ev, model)))?
    }

    fn share_in(ev: &mut E, model: &ExportedModel) -> Result<Self> {
        let per_layer = ev.parallel(model.layers.len(), |ev, i| Ok(Self::share_layer(ev, model, i)))?;
        let mut layers = Vec::with_capacity(model.layers.len());
        let mut classes = 0;
        for (i, r) in per_layer.into_iter().enumerate() {
            let (name, layer) = r?;
            if let Layer::Dense { out_dim, .. } = &layer {
                classes = *out_dim;
            }
            layers.push((format!("{i:02}-{name}"), layer));
        }
        if classes == 0 {
            return Err(ZooError::Config("the model has no dense output layer".into()));
        }
        Ok(SecureModel { activation: model.activation.clone(), input_shape: model.input_shape.clone(), classes, layers })
    }

    /// The server's shares of layer `i` (weights fixed as right operands).
    fn share_layer(ev: &mut E, model: &ExportedModel, i: usize) -> Result<(String, Layer<E>)> {
        let (name, layer) = match &model.layers[i] {
            ExportedLayer::Dense { in_dim, out_dim, weight, bias } => {
                let (k, n) = (*in_dim, *out_dim);
                // Wᵀ [in, out] from the row-major [out][in] weight.
                let wt: Vec<f64> = (0..k * n).map(|j| f64::from(weight[(j % n) * k + j / n])).collect();
                let w = ev.input(SERVER, &wt, &[k, n])?;
                ("dense".to_string(), Layer::Dense {
                    weight: ev.fix_right(&w)?,
                    bias: ev.input(SERVER, &f64s(bias), &[n])?,
                    in_dim: k,
                    out_dim: n,
                })
            }
            ExportedLayer::Conv3x3 { in_channels: c, out_channels: o, weight, bias } => {
                let (c, o) = (*c, *o);
                // Kernel matrix [9C, O]: row (ky·3 + kx)·C + ch, from the [o][ch][ky][kx] weight.
                let mut km = vec![0f64; 9 * c * o];
                for oc in 0..o {
                    for ch in 0..c {
                        for k in 0..9 {
                            km[(k * c + ch) * o + oc] = f64::from(weight[(oc * c + ch) * 9 + k]);
                        }
                    }
                }
                let w = ev.input(SERVER, &km, &[9 * c, o])?;
                ("conv3x3".to_string(), Layer::Conv3x3 {
                    weight: ev.fix_right(&w)?,
                    bias: ev.input(SERVER, &f64s(bias), &[o])?,
                    in_channels: c,
                    out_channels: o,
                })
            }
            ExportedLayer::Affine { scale, shift } => ("affine".to_string(), Layer::Affine {
                scale: ev.input(SERVER, &f64s(scale), &[scale.len()])?,
                shift: ev.input(SERVER, &f64s(shift), &[shift.len()])?,
            }),
            ExportedLayer::Activation { .. } => (model.activation.clone(), Layer::Activation),
            ExportedLayer::MaxPool2 => ("maxpool".to_string(), Layer::MaxPool2),
            ExportedLayer::Flatten => ("flatten".to_string(), Layer::Flatten),
        };
        Ok((name, layer))
    }

    /// Number of classes (logits per sample).
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Meter labels of one inference in order, with their kinds: the client's input sharing, the layers, the
    /// logits' opening.
    pub fn labels(&self) -> Vec<(String, LayerKind)> {
        let mut out = vec![(INPUT_LABEL.to_string(), LayerKind::Input)];
        out.extend(self.layers.iter().map(|(n, l)| (n.clone(), l.kind())));
        out.push((self.output_label(), LayerKind::Output));
        out
    }

    fn output_label(&self) -> String {
        format!("{:02}-output", self.layers.len())
    }

    /// Checks that `method` approximates this model's activation.
    pub fn check_method(&self, method: &dyn SecureMethod) -> Result<()> {
        if method.activation() != self.activation {
            return Err(ZooError::Config(format!(
                "method '{}' approximates '{}' but the model uses '{}'; pick an approximation of '{}'",
                method.name(),
                method.activation(),
                self.activation,
                self.activation
            )));
        }
        Ok(())
    }

    /// The client shares `features` (`b` samples of the model's input shape, row-major), the parties run the
    /// network with every activation evaluated by `method`, and the logits `[b, classes]` are opened to the
    /// client. Returns the logits.
    pub fn infer(&self, ev: &mut E, method: &dyn SecureMethod, features: &[f32], b: usize) -> Result<Vec<f64>> {
        self.check_method(method)?;
        let d: usize = self.input_shape.iter().product();
        if b == 0 || features.len() != b * d {
            return Err(ZooError::InputShape { got: vec![b, features.len() / b.max(1)], expected: self.input_shape.clone() });
        }
        let x = ev.scope(INPUT_LABEL, |ev| ev.input(CLIENT, &f64s(features), &[b, d]))?;
        let logits = self.forward(ev, method, x, b)?;
        let scale = 2f64.powi(E::meta(&logits).scale as i32);
        let out = ev.scope(&self.output_label(), |ev| ev.reveal_to_raw(&logits, CLIENT))?;
        Ok(out.into_iter().map(|v| v as f64 / scale).collect())
    }

    /// The secret-shared forward pass of a batch `x` = \[b, d\]; returns the shared logits \[b, classes\].
    pub fn forward(&self, ev: &mut E, method: &dyn SecureMethod, mut x: E::Value, b: usize) -> Result<E::Value> {
        let mut shape = self.input_shape.clone();
        for (label, layer) in &self.layers {
            let n: usize = shape.iter().product();
            let mut step = |ev: &mut E| -> Result<E::Value> {
                Ok(match layer {
                    Layer::Dense { weight, bias, in_dim, out_dim } => {
                        if n != *in_dim {
                            return Err(ZooError::InputShape { got: shape.clone(), expected: vec![*in_dim] });
                        }
                        let x = ev.reshape(&x, &[b, n])?;
                        let y = ev.matmul_fixed(&x, weight)?;
                        let bb = ev.gather(bias, &broadcast(b, *out_dim), &[b, *out_dim])?;
                        shape = vec![*out_dim];
                        ev.add(&y, &bb)?
                    }
                    Layer::Conv3x3 { weight, bias, in_channels: c, out_channels: o } => {
                        let [h, w, c_in] = shape[..] else {
                            return Err(ZooError::InputShape { got: shape.clone(), expected: vec![0, 0, *c] });
                        };
                        if c_in != *c {
                            return Err(ZooError::InputShape { got: shape.clone(), expected: vec![h, w, *c] });
                        }
                        let cols = ev.gather(&x, &im2col3x3(b, h, w, *c), &[b * h * w, 9 * c])?;
                        let y = ev.matmul_fixed(&cols, weight)?;
                        let bb = ev.gather(bias, &broadcast(b * h * w, *o), &[b * h * w, *o])?;
                        let y = ev.add(&y, &bb)?;
                        shape = vec![h, w, *o];
                        ev.reshape(&y, &[b, h * w * o])?
                    }
                    Layer::Affine { scale, shift } => {
                        let c = E::len(scale);
                        if n % c != 0 {
                            return Err(ZooError::InputShape { got: shape.clone(), expected: vec![c] });
                        }
                        let x = ev.reshape(&x, &[b * n / c, c])?;
                        let s = ev.gather(scale, &broadcast(b * n / c, c), &[b * n / c, c])?;
                        let t = ev.gather(shift, &broadcast(b * n / c, c), &[b * n / c, c])?;
                        let y = ev.mul(&x, &s)?;
                        let y = ev.add(&y, &t)?;
                        ev.reshape(&y, &[b, n])?
                    }
                    Layer::Activation => {
                        let flat = ev.reshape(&x, &[b * n])?;
                        let y = ev.run_method(method, &flat)?;
                        ev.reshape(&y, &[b, n])?
                    }
                    Layer::MaxPool2 => {
                        let [h, w, c] = shape[..] else {
                            return Err(ZooError::InputShape { got: shape.clone(), expected: vec![0, 0, 0] });
                        };
                        let (h2, w2) = (h / 2, w / 2);
                        let m = b * h2 * w2 * c;
                        let cands = (0..4)
                            .map(|k| {
                                let (dy, dx) = (k / 2, k % 2);
                                let idx: Vec<Option<usize>> = (0..m)
                                    .map(|j| {
                                        let (ch, rest) = (j % c, j / c);
                                        let (x2, rest) = (rest % w2, rest / w2);
                                        let (y2, s) = (rest % h2, rest / h2);
                                        Some(((s * h + 2 * y2 + dy) * w + 2 * x2 + dx) * c + ch)
                                    })
                                    .collect();
                                ev.gather(&x, &idx, &[m])
                            })
                            .collect::<mpc_sim::Result<Vec<_>>>()?;
                        let y = mpc_sim::nn::max_tournament(ev, cands, m)?;
                        shape = vec![h2, w2, c];
                        ev.reshape(&y, &[b, h2 * w2 * c])?
                    }
                    Layer::Flatten => {
                        shape = vec![n];
                        x.clone()
                    }
                })
            };
            x = ev.scope(label, |ev| Ok(step(ev)))??;
        }
        if shape != [self.classes] {
            return Err(ZooError::InputShape { got: shape, expected: vec![self.classes] });
        }
        Ok(x)
    }
}

/// The secure backend a model runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// Additive sharing with Beaver triples ([`Session`]): comparisons are the 8-round bit-decomposition LTZ.
    #[default]
    Beaver,
    /// Function secret sharing ([`FssSession`], 64-bit comparison domain): comparisons and every `piecewise`
    /// activation are DCF gates (one opening of the masked input, keys from the dealer; a spline without used
    /// powers x^j, j ≥ 2, truncates inside its gate: 1 round in all); products, the linear layers and their
    /// truncations are the Beaver session's.
    Fss,
}

impl Backend {
    /// The name used on the command line and in records (`beaver`, `fss`).
    pub fn name(self) -> &'static str {
        match self {
            Backend::Beaver => "beaver",
            Backend::Fss => "fss",
        }
    }
}

impl std::str::FromStr for Backend {
    type Err = ZooError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "beaver" => Ok(Backend::Beaver),
            "fss" => Ok(Backend::Fss),
            _ => Err(ZooError::Config(format!("backend `{s}`: choose beaver or fss"))),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Comparison bit width of the FSS backend (the whole ring: exact for every input).
pub const FSS_BITS: u32 = 64;

/// Settings of a secure evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SecureOptions {
    /// Samples per batch (one forked session each; batches run in parallel).
    pub batch: usize,
    /// Seed of the set-up session's dealer and input sharing (each batch's fork draws its seeds from it).
    pub seed: u64,
    /// Truncation protocol (default dealer pair: local truncation at f = 16 fails too often, see `mpc_sim::predict`).
    pub truncation: Truncation,
    /// Fixed-point setting.
    pub fx: FixedPoint,
    /// The secure backend (default Beaver).
    pub backend: Backend,
}

impl Default for SecureOptions {
    fn default() -> Self {
        SecureOptions { batch: 100, seed: 0, truncation: Truncation::DealerPair, fx: FixedPoint::default(), backend: Backend::Beaver }
    }
}

/// The batch size used unless one is given: 100 samples for an MLP, 10 for a CNN (its im2col rows are H·W per
/// sample, so a batch's dealer material and messages stay at a few hundred MB).
pub fn default_batch(model: &ExportedModel) -> usize {
    if model.input_shape.len() == 3 { 10 } else { 100 }
}

/// Cost of one layer per inference.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct LayerCost {
    /// Meter label (`NN-kind`).
    pub label: String,
    /// Kind.
    pub kind: LayerKind,
    /// Rounds (one batch's rounds: every sample of a batch runs at once).
    pub rounds: Rounds,
    /// Bytes one party sends per inference (the larger of the two).
    pub bytes: Bytes,
    /// Dealer bytes one party receives per inference.
    pub offline_bytes: Bytes,
}

impl LayerCost {
    /// The layer's rounds, online and offline bytes as a [`Cost`].
    pub fn cost(&self) -> Cost {
        Cost { rounds: self.rounds, bytes_per_party: self.bytes, offline_bytes_per_party: self.offline_bytes, ..Cost::ZERO }
    }
}

/// The cost of one inference, metered or predicted, with its per-layer breakdown.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct InferenceCost {
    /// Per layer, in order, ending with the opening of the logits.
    pub layers: Vec<LayerCost>,
    /// Online total per inference (rounds, bytes per party, offline bytes per party), the client's input sharing
    /// included.
    #[serde(with = "activation_approx::cost::layout::communication")]
    pub total: Cost,
    /// One-time set-up per model, shared by every batch (the server's input sharing of the weights and biases,
    /// and masking and opening each weight matrix), not divided by the number of samples.
    #[serde(with = "activation_approx::cost::layout::communication")]
    pub setup: Cost,
    /// AES calls one party makes per inference to evaluate its FSS keys (0 on the Beaver backend).
    pub aes_calls: Count,
}

impl InferenceCost {
    /// Sum over the layers of one kind: (rounds, bytes, offline bytes).
    pub fn of_kind(&self, kind: LayerKind) -> Cost {
        self.layers.iter().filter(|l| l.kind == kind).fold(Cost::ZERO, |a, l| a.then(l.cost()))
    }

    /// Builds the per-inference cost from a channel's labels after running `samples` samples in one batch.
    fn from_channel(labels: &[(String, LayerKind)], by_label: &[(String, Stats)], total: Stats, samples: u64) -> Result<Self> {
        let get = |l: &str| by_label.iter().find(|(k, _)| k == l).map(|(_, s)| *s).unwrap_or_default();
        let per = |s: Stats| -> Result<Cost> {
            let c = s.cost();
            if c.bytes_per_party.get() % samples != 0 || c.offline_bytes_per_party.get() % samples != 0 {
                return Err(ZooError::Config(format!("cost {c:?} of {samples} samples is not a multiple of the batch")));
            }
            Ok(Cost { bytes_per_party: c.bytes_per_party / samples, offline_bytes_per_party: c.offline_bytes_per_party / samples, ..c })
        };
        let mut layers = Vec::with_capacity(labels.len());
        for (label, kind) in labels {
            let c = per(get(label))?;
            layers.push(LayerCost { label: label.clone(), kind: *kind, rounds: c.rounds, bytes: c.bytes_per_party, offline_bytes: c.offline_bytes_per_party });
        }
        let setup = get(SETUP_LABEL);
        let online = Stats {
            rounds: total.rounds - setup.rounds,
            bytes: [total.bytes[0] - setup.bytes[0], total.bytes[1] - setup.bytes[1]],
            offline_bytes: [total.offline_bytes[0] - setup.offline_bytes[0], total.offline_bytes[1] - setup.offline_bytes[1]],
            messages: total.messages - setup.messages,
        };
        Ok(InferenceCost { layers, total: per(online)?, setup: setup.cost(), aes_calls: Count::ZERO })
    }
}

/// The predicted cost of one inference of `model` with `method` on the Beaver backend ([`CostEvaluator`], batch of
/// one).
pub fn predict_cost(model: &ExportedModel, method: &dyn SecureMethod, fx: FixedPoint, truncation: Truncation) -> Result<InferenceCost> {
    predict_cost_on(model, method, fx, truncation, Backend::Beaver)
}

/// The predicted cost of one inference on `backend` ([`CostEvaluator`] or [`FssCostEvaluator`], batch of one).
pub fn predict_cost_on(
    model: &ExportedModel,
    method: &dyn SecureMethod,
    fx: FixedPoint,
    truncation: Truncation,
    backend: Backend,
) -> Result<InferenceCost> {
    let d: usize = model.input_shape.iter().product();
    match backend {
        Backend::Beaver => {
            let mut ev = CostEvaluator::new(fx, truncation);
            let sm = SecureModel::share(&mut ev, model)?;
            sm.infer(&mut ev, method, &vec![0.0; d], 1)?;
            InferenceCost::from_channel(&sm.labels(), &ev.channel().by_label(), ev.total(), 1)
        }
        Backend::Fss => {
            let mut ev = FssCostEvaluator::new(fx, truncation, FSS_BITS)?;
            let sm = SecureModel::share(&mut ev, model)?;
            let before = ev.cost().aes_calls_per_party;
            sm.infer(&mut ev, method, &vec![0.0; d], 1)?;
            let mut c = InferenceCost::from_channel(&sm.labels(), &ev.channel().by_label(), ev.total(), 1)?;
            c.aes_calls = ev.cost().aes_calls_per_party - before;
            Ok(c)
        }
    }
}

/// What [`evaluate_secure`] needs of a secure session: forks for the batches, its meter and its AES counter.
trait SecureBackend: MethodEvaluator + Send + Sized {
    fn fork_batch(&mut self) -> Self;
    fn meter(&self) -> &Channel;
    fn aes_online(&self) -> Count;
}

impl SecureBackend for Session {
    fn fork_batch(&mut self) -> Self {
        self.fork()
    }
    fn meter(&self) -> &Channel {
        self.channel()
    }
    fn aes_online(&self) -> Count {
        Count::ZERO
    }
}

impl SecureBackend for FssSession {
    fn fork_batch(&mut self) -> Self {
        self.fork()
    }
    fn meter(&self) -> &Channel {
        self.channel()
    }
    fn aes_online(&self) -> Count {
        self.cost().aes_calls_per_party
    }
}

/// The set-up once, then every batch in a fork of it, in parallel; per batch its logits and per-inference cost.
fn run_batches<E: SecureBackend>(
    mut setup: E,
    model: &ExportedModel,
    method: &dyn SecureMethod,
    data: &Dataset,
    batches: &[(usize, usize)],
) -> Result<Vec<(Vec<f64>, InferenceCost)>>
where
    E::Value: Send + Sync,
    E::Fixed: Send + Sync,
{
    let d: usize = model.input_shape.iter().product();
    let sm = SecureModel::share(&mut setup, model)?;
    let setup_cost = setup.meter().total().cost();
    let forks: Vec<E> = batches.iter().map(|_| setup.fork_batch()).collect();
    batches
        .par_iter()
        .zip(forks)
        .map(|(&(s, e), mut ev)| {
            let logits = sm.infer(&mut ev, method, &data.features[s * d..e * d], e - s)?;
            let samples = (e - s) as u64;
            let mut cost = InferenceCost::from_channel(&sm.labels(), &ev.meter().by_label(), ev.meter().total(), samples)?;
            cost.setup = setup_cost;
            let aes = ev.aes_online();
            if aes.get() % samples != 0 {
                return Err(ZooError::Config(format!("{aes} AES calls for {samples} samples is not a multiple of the batch")));
            }
            cost.aes_calls = aes / samples;
            Ok((logits, cost))
        })
        .collect()
}

/// What a secure evaluation measured.
#[derive(Debug, Clone, Serialize)]
pub struct SecureReport {
    /// Samples evaluated.
    pub samples: usize,
    /// Truncation protocol used (the run's, the same for every method).
    pub truncation: Truncation,
    /// The secure backend.
    pub backend: Backend,
    /// Accuracy of the secure run.
    pub secure_accuracy: f64,
    /// Accuracy of the fixed-point plaintext run of the same computation ([`PlainEvaluator`]).
    pub plain_accuracy: f64,
    /// Fraction of samples whose secure and plaintext predicted labels agree.
    pub agreement: f64,
    /// Largest |secure − plaintext| logit.
    pub max_logit_diff: f64,
    /// Metered cost per inference.
    pub metered: InferenceCost,
    /// Predicted cost per inference ([`predict_cost`]); equal to `metered` (checked).
    pub predicted: InferenceCost,
    /// Wall-clock seconds of the secure run (the one set-up, dealer and both parties' work, all batches).
    pub secure_seconds: f64,
    /// Wall-clock seconds of the plaintext run.
    pub plain_seconds: f64,
}

fn argmax(row: &[f64]) -> usize {
    row.iter().enumerate().fold((0, f64::NEG_INFINITY), |(bi, bv), (i, &v)| if v > bv { (i, v) } else { (bi, bv) }).0
}

/// Runs the first `samples` samples of `data` through the secure pass and its plaintext twin with `method`: the
/// weights are shared and masked once (one set-up session), then the samples run in batches of `opts.batch`, each
/// batch in its own [`Session::fork`] of the set-up session, all in parallel; every layer is metered.
pub fn evaluate_secure(
    model: &ExportedModel,
    method: &dyn SecureMethod,
    data: &Dataset,
    samples: usize,
    opts: &SecureOptions,
) -> Result<SecureReport> {
    if data.sample_shape != model.input_shape {
        return Err(ZooError::InputShape { got: data.sample_shape.clone(), expected: model.input_shape.clone() });
    }
    if samples == 0 || samples > data.len() {
        return Err(ZooError::Config(format!("samples = {samples}: the split has {} samples; pick 1..={}", data.len(), data.len())));
    }
    if opts.batch == 0 {
        return Err(ZooError::Config("batch = 0: use a batch of at least one sample".into()));
    }
    // The truncation is the run's, the same for every method (like for like); a method's hint
    // (`Method::needs`) does not override it.
    let truncation = opts.truncation;
    let predicted = predict_cost_on(model, method, opts.fx, truncation, opts.backend)?;
    let d: usize = model.input_shape.iter().product();
    let batches: Vec<(usize, usize)> = (0..samples).step_by(opts.batch).map(|s| (s, (s + opts.batch).min(samples))).collect();

    let t0 = Instant::now();
    // The set-up, once: the server shares and masks the weights; every batch runs in a fork of this session
    // (a child dealer: fresh A, C = A·B for the same masks, never a replayed triple or FSS key).
    let cfg = SessionConfig { fx: opts.fx, truncation, seed: opts.seed };
    let secure: Vec<(Vec<f64>, InferenceCost)> = match opts.backend {
        Backend::Beaver => run_batches(Session::new(cfg), model, method, data, &batches)?,
        Backend::Fss => run_batches(FssSession::new(FssConfig { session: cfg, bits: FSS_BITS })?, model, method, data, &batches)?,
    };
    let secure_seconds = t0.elapsed().as_secs_f64();

    let t1 = Instant::now();
    let mut plain_ev = PlainEvaluator::new(opts.fx);
    let plain_sm = SecureModel::share(&mut plain_ev, model)?;
    let plain: Vec<Vec<f64>> = batches
        .par_iter()
        .map(|&(s, e)| {
            let mut ev = plain_ev;
            plain_sm.infer(&mut ev, method, &data.features[s * d..e * d], e - s)
        })
        .collect::<Result<_>>()?;
    let plain_seconds = t1.elapsed().as_secs_f64();

    // Every batch's metered per-inference cost must equal the prediction, exactly.
    for ((s, e), (_, cost)) in batches.iter().zip(&secure) {
        if *cost != predicted {
            return Err(ZooError::Config(format!(
                "metered cost of samples {s}..{e} differs from the prediction: metered {:?}, predicted {:?}",
                cost.total, predicted.total
            )));
        }
    }
    let (mut right_s, mut right_p, mut agree, mut worst) = (0usize, 0usize, 0usize, 0f64);
    let sec: Vec<f64> = secure.iter().flat_map(|(l, _)| l.iter().copied()).collect();
    let pla: Vec<f64> = plain.into_iter().flatten().collect();
    let classes = sec.len() / samples;
    if classes == 0 || sec.len() != samples * classes || pla.len() != sec.len() {
        return Err(ZooError::Config(format!("{} secure and {} plaintext logits for {samples} samples", sec.len(), pla.len())));
    }
    for i in 0..samples {
        let (rs, rp) = (&sec[i * classes..(i + 1) * classes], &pla[i * classes..(i + 1) * classes]);
        let (ls, lp) = (argmax(rs), argmax(rp));
        let y = data.labels[i] as usize;
        right_s += usize::from(ls == y);
        right_p += usize::from(lp == y);
        agree += usize::from(ls == lp);
        worst = rs.iter().zip(rp).fold(worst, |w, (a, b)| w.max((a - b).abs()));
    }
    let n = samples as f64;
    Ok(SecureReport {
        samples,
        truncation,
        backend: opts.backend,
        secure_accuracy: right_s as f64 / n,
        plain_accuracy: right_p as f64 / n,
        agreement: agree as f64 / n,
        max_logit_diff: worst,
        metered: secure[0].1.clone(),
        predicted,
        secure_seconds,
        plain_seconds,
    })
}
