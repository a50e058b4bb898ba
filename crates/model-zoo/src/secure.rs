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

use secure_methods::{LayerNormRecipe, MethodEvaluator, SecureMethod, SoftmaxRecipe, layer_norm_rows, softmax_rows};
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
use crate::transformer::Pooling;

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
    /// Secret × secret products of attention: Q·Kᵀ and softmax·V.
    AttentionProduct,
    /// Row softmax of the attention scores.
    Softmax,
    /// LayerNorm's normalisation (mean, variance, inverse square root).
    LayerNorm,
}

#[derive(Debug, Clone)]
enum Layer<E: Evaluator> {
    Dense { weight: E::Fixed, bias: E::Value, in_dim: usize, out_dim: usize },
    Conv3x3 { weight: E::Fixed, bias: E::Value, in_channels: usize, out_channels: usize },
    Affine { scale: E::Value, shift: E::Value },
    Activation,
    MaxPool2,
    Flatten,
    /// `offset` `[1 + T, D]`: row 0 = cls + pos₀, row 1 + t = b + pos_{1+t}.
    PatchEmbed { weight: E::Fixed, offset: E::Value, image: [usize; 3], patch: usize, width: usize },
    /// The client inputs one-hot rows `[b·L, vocab]`; `table` `[vocab, D]`, `pos` `[L, D]`.
    TokenEmbed { table: E::Fixed, pos: E::Value, vocab: usize, max_len: usize, width: usize },
    Block(Box<SecureBlock<E>>),
    Normalize { eps: f64 },
    Pool(Pooling),
}

/// An encoder block's shared weights: W_Q | W_K | W_V as one `[D, 3D]` fixed matrix (one product for the three
/// projections), the others `[in, out]`.
#[derive(Debug, Clone)]
struct SecureBlock<E: Evaluator> {
    width: usize,
    heads: usize,
    mlp_width: usize,
    eps: f64,
    qkv: (E::Fixed, E::Value),
    o: (E::Fixed, E::Value),
    fc1: (E::Fixed, E::Value),
    fc2: (E::Fixed, E::Value),
}

/// The sub-layers of an encoder block, in order, with their kinds (meter label suffixes).
pub const BLOCK_PARTS: [(&str, LayerKind); 10] = [
    ("ln1", LayerKind::LayerNorm),
    ("qkv", LayerKind::Linear),
    ("scores", LayerKind::AttentionProduct),
    ("softmax", LayerKind::Softmax),
    ("attn-v", LayerKind::AttentionProduct),
    ("proj", LayerKind::Linear),
    ("ln2", LayerKind::LayerNorm),
    ("fc1", LayerKind::Linear),
    ("act", LayerKind::Activation),
    ("fc2", LayerKind::Linear),
];

impl LayerKind {
    /// Every kind, in the order of the cost tables.
    pub const ALL: [LayerKind; 8] = [
        LayerKind::Input,
        LayerKind::Linear,
        LayerKind::AttentionProduct,
        LayerKind::Softmax,
        LayerKind::LayerNorm,
        LayerKind::Activation,
        LayerKind::Pooling,
        LayerKind::Output,
    ];

    /// The kind's name in tables and records (`attention_product`, `layer_norm`, …: its serde name).
    pub fn name(self) -> &'static str {
        match self {
            LayerKind::Input => "input",
            LayerKind::Linear => "linear",
            LayerKind::Activation => "activation",
            LayerKind::Pooling => "pooling",
            LayerKind::Output => "output",
            LayerKind::AttentionProduct => "attention_product",
            LayerKind::Softmax => "softmax",
            LayerKind::LayerNorm => "layer_norm",
        }
    }
}

impl<E: Evaluator> Layer<E> {
    fn kind(&self) -> LayerKind {
        match self {
            Layer::Dense { .. } | Layer::Conv3x3 { .. } | Layer::Affine { .. } | Layer::PatchEmbed { .. } | Layer::TokenEmbed { .. } => LayerKind::Linear,
            Layer::Activation | Layer::Block(_) => LayerKind::Activation,
            Layer::MaxPool2 => LayerKind::Pooling,
            Layer::Flatten => LayerKind::Output,
            Layer::Normalize { .. } => LayerKind::LayerNorm,
            Layer::Pool(_) => LayerKind::Pooling,
        }
    }
}

/// The softmax and LayerNorm recipes of a transformer's secure pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TransformerRecipes {
    /// Exponential and reciprocal of the attention softmax.
    pub softmax: SoftmaxRecipe,
    /// Inverse square root of LayerNorm.
    pub layer_norm: LayerNormRecipe,
}

/// Softmax recipe names accepted by [`TransformerRecipes::from_names`] (the first is the default).
pub const SOFTMAX_RECIPES: [&str; 3] = ["puma", "puma-fast", "crypten"];
/// LayerNorm (inverse square root) recipe names accepted by [`TransformerRecipes::from_names`] (the first is the
/// default).
pub const LAYER_NORM_RECIPES: [&str; 2] = ["ladder", "crypten"];

impl TransformerRecipes {
    /// The recipes by name: softmax `puma` (default: SPU's clipped limit exponential with 8 squarings and Goldschmidt
    /// reciprocal), `puma-fast` (5 squarings, PUMA's LLaMA configuration) or `crypten` (limit exponential, Newton
    /// reciprocal); LayerNorm `ladder` (default: power-of-two ladder + 3 Newton steps) or `crypten` (CrypTen's
    /// exp-shaped initial guess + 3 Newton steps). Case-insensitive, `_` and `-` alike. See
    /// `secure_methods::transformer` for the maths and sources.
    pub fn from_names(softmax: &str, layer_norm: &str) -> Result<Self> {
        let norm = |s: &str| s.trim().to_ascii_lowercase().replace('_', "-");
        let softmax = match norm(softmax).as_str() {
            "puma" => SoftmaxRecipe::puma(),
            "puma-fast" => SoftmaxRecipe::puma_fast(),
            "crypten" => SoftmaxRecipe::crypten(),
            _ => {
                return Err(ZooError::Config(format!(
                    "softmax recipe '{}': choose one of {}",
                    activation_approx::limits::clip(softmax),
                    SOFTMAX_RECIPES.join(", ")
                )));
            }
        };
        let layer_norm = match norm(layer_norm).as_str() {
            "ladder" => LayerNormRecipe::default(),
            "crypten" => LayerNormRecipe::crypten(),
            _ => {
                return Err(ZooError::Config(format!(
                    "LayerNorm recipe '{}': choose one of {}",
                    activation_approx::limits::clip(layer_norm),
                    LAYER_NORM_RECIPES.join(", ")
                )));
            }
        };
        Ok(TransformerRecipes { softmax, layer_norm })
    }

    /// The recipes' short names (`puma`, `ladder`, …; `custom` for others).
    pub fn names(&self) -> (&'static str, &'static str) {
        (self.softmax.name(), self.layer_norm.name())
    }
}

/// Which secure method evaluates each activation layer — the secure counterpart of the plaintext
/// [`crate::ActivationPlan`].
///
/// Activation layers are numbered in forward order: an MLP's or CNN's activation layers, or a transformer's one
/// activation (the MLP of each encoder block) per block, as [`ExportedModel::n_activation_layers`] counts them. Every
/// entry must approximate the model's activation and share one fixed-point setting (the session's). A one-method
/// call converts into [`MethodPlan::Shared`] (`From<&dyn SecureMethod>`), so `predict_cost(&model, m.as_ref(), …)`
/// keeps working; a per-layer plan whose entries are all the same method costs exactly what the shared plan costs.
#[derive(Clone)]
pub enum MethodPlan<'a> {
    /// One method for every activation layer.
    Shared(&'a dyn SecureMethod),
    /// Layer `i` uses entry `i`; the length must equal the model's number of activation layers.
    PerLayer(Vec<&'a dyn SecureMethod>),
}

impl std::fmt::Debug for MethodPlan<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MethodPlan::Shared(m) => write!(f, "Shared({})", m.name()),
            MethodPlan::PerLayer(v) => write!(f, "PerLayer({:?})", v.iter().map(|m| m.name()).collect::<Vec<_>>()),
        }
    }
}

impl<'a, 'b: 'a> From<&'a (dyn SecureMethod + 'b)> for MethodPlan<'a> {
    fn from(m: &'a (dyn SecureMethod + 'b)) -> Self {
        MethodPlan::Shared(m)
    }
}

impl<'a> From<&'a Box<dyn SecureMethod>> for MethodPlan<'a> {
    fn from(m: &'a Box<dyn SecureMethod>) -> Self {
        MethodPlan::Shared(m.as_ref())
    }
}

impl<'a> From<&'a std::sync::Arc<dyn SecureMethod>> for MethodPlan<'a> {
    fn from(m: &'a std::sync::Arc<dyn SecureMethod>) -> Self {
        MethodPlan::Shared(m.as_ref())
    }
}

impl<'a> From<&MethodPlan<'a>> for MethodPlan<'a> {
    fn from(p: &MethodPlan<'a>) -> Self {
        p.clone()
    }
}

impl<'a> MethodPlan<'a> {
    /// One method per activation layer, from owned methods (e.g. a per-layer search's results).
    pub fn per_layer<M: AsRef<dyn SecureMethod>>(methods: &'a [M]) -> Self {
        MethodPlan::PerLayer(methods.iter().map(|m| -> &'a dyn SecureMethod { m.as_ref() }).collect())
    }

    /// The method of activation layer `index` (`None` past the end of a per-layer plan).
    pub fn method(&self, index: usize) -> Option<&'a dyn SecureMethod> {
        match self {
            MethodPlan::Shared(m) => Some(*m),
            MethodPlan::PerLayer(v) => v.get(index).copied(),
        }
    }

    /// Every entry (one for a shared plan).
    pub fn methods(&self) -> Vec<&'a dyn SecureMethod> {
        match self {
            MethodPlan::Shared(m) => vec![*m],
            MethodPlan::PerLayer(v) => v.clone(),
        }
    }

    /// A short name for reports: the method's name, or the per-layer names joined by `+` (`compact+compact+puma`).
    pub fn name(&self) -> String {
        self.methods().iter().map(|m| m.name()).collect::<Vec<_>>().join("+")
    }

    /// The one fixed-point setting of the plan's methods (the session's); an error if a per-layer plan mixes two or
    /// is empty.
    pub fn fixed_point(&self) -> Result<FixedPoint> {
        let ms = self.methods();
        let first = ms.first().ok_or(ZooError::PlanLength { got: 0, expected: 1 })?.fixed_point();
        match ms.iter().find(|m| m.fixed_point() != first) {
            Some(m) => Err(ZooError::Config(format!(
                "method '{}' uses {} fractional bits but '{}' uses {}; a per-layer plan runs in one session, pick methods with one fixed point",
                m.name(),
                m.fixed_point().frac_bits,
                ms[0].name(),
                first.frac_bits
            ))),
            None => Ok(first),
        }
    }

    /// Checks a per-layer plan's length against the model's `n_layers` activation layers.
    pub fn check(&self, n_layers: usize) -> Result<()> {
        match self {
            MethodPlan::PerLayer(v) if v.len() != n_layers => Err(ZooError::PlanLength { got: v.len(), expected: n_layers }),
            _ => Ok(()),
        }
    }
}

/// The plan's method for the next activation layer (`*index`), advancing the index.
fn next_method<'p>(plan: &MethodPlan<'p>, index: &mut usize) -> Result<&'p dyn SecureMethod> {
    let m = plan.method(*index).ok_or(ZooError::PlanLength { got: *index, expected: *index + 1 })?;
    *index += 1;
    Ok(m)
}

/// A model whose weights the server has secret-shared and prepared for repeated products on evaluator `E`.
#[derive(Debug, Clone)]
pub struct SecureModel<E: Evaluator> {
    activation: String,
    input_shape: Vec<usize>,
    classes: usize,
    layers: Vec<(String, Layer<E>)>,
    recipes: TransformerRecipes,
}

/// Shares a row-major `[out][in]` weight as the fixed right operand `[in, out]` and its bias `[out]`.
fn share_linear<E: Evaluator>(ev: &mut E, weight: &[f32], bias: &[f32], k: usize, n: usize) -> mpc_sim::Result<(E::Fixed, E::Value)> {
    let wt: Vec<f64> = (0..k * n).map(|j| f64::from(weight[(j % n) * k + j / n])).collect();
    let w = ev.input(SERVER, &wt, &[k, n])?;
    Ok((ev.fix_right(&w)?, ev.input(SERVER, &f64s(bias), &[n])?))
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
        Ok(SecureModel {
            activation: model.activation.clone(),
            input_shape: model.input_shape.clone(),
            classes,
            layers,
            recipes: TransformerRecipes::default(),
        })
    }

    /// The same model with other softmax / LayerNorm recipes (transformers only; default: PUMA's softmax and the
    /// power-of-two-ladder Newton inverse square root of `secure_methods::transformer`).
    pub fn with_recipes(mut self, recipes: TransformerRecipes) -> Self {
        self.recipes = recipes;
        self
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
            ExportedLayer::PatchEmbed { image, patch, width, weight, bias, cls, pos } => {
                let d = *width;
                let per = patch * patch * image[2];
                let wt: Vec<f64> = (0..per * d).map(|j| f64::from(weight[(j % d) * per + j / d])).collect();
                let w = ev.input(SERVER, &wt, &[per, d])?;
                let offset: Vec<f64> = pos
                    .iter()
                    .enumerate()
                    .map(|(i, &p)| f64::from(p) + f64::from(if i < d { cls[i] } else { bias[i % d] }))
                    .collect();
                let rows = offset.len() / d;
                ("patch-embed".to_string(), Layer::PatchEmbed {
                    weight: ev.fix_right(&w)?,
                    offset: ev.input(SERVER, &offset, &[rows, d])?,
                    image: *image,
                    patch: *patch,
                    width: d,
                })
            }
            ExportedLayer::TokenEmbed { vocab, max_len, width, table, pos } => {
                let t = ev.input(SERVER, &f64s(table), &[*vocab, *width])?;
                ("token-embed".to_string(), Layer::TokenEmbed {
                    table: ev.fix_right(&t)?,
                    pos: ev.input(SERVER, &f64s(pos), &[*max_len, *width])?,
                    vocab: *vocab,
                    max_len: *max_len,
                    width: *width,
                })
            }
            ExportedLayer::Block(b) => {
                let d = b.width;
                // W_Q | W_K | W_V stacked as [3D][D] rows: one [D, 3D] fixed operand.
                let mut w = b.q.0.clone();
                w.extend_from_slice(&b.k.0);
                w.extend_from_slice(&b.v.0);
                let mut bias = b.q.1.clone();
                bias.extend_from_slice(&b.k.1);
                bias.extend_from_slice(&b.v.1);
                ("block".to_string(), Layer::Block(Box::new(SecureBlock {
                    width: d,
                    heads: b.heads,
                    mlp_width: b.mlp_width,
                    eps: b.eps,
                    qkv: share_linear(ev, &w, &bias, d, 3 * d)?,
                    o: share_linear(ev, &b.o.0, &b.o.1, d, d)?,
                    fc1: share_linear(ev, &b.fc1.0, &b.fc1.1, d, b.mlp_width)?,
                    fc2: share_linear(ev, &b.fc2.0, &b.fc2.1, b.mlp_width, d)?,
                })))
            }
            ExportedLayer::Normalize { eps } => ("layernorm".to_string(), Layer::Normalize { eps: *eps }),
            ExportedLayer::Pool { pooling } => ("pool".to_string(), Layer::Pool(*pooling)),
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
        for (n, l) in &self.layers {
            match l {
                Layer::Block(_) => out.extend(BLOCK_PARTS.iter().map(|(p, k)| (format!("{n}-{p}"), *k))),
                _ => out.push((n.clone(), l.kind())),
            }
        }
        out.push((self.output_label(), LayerKind::Output));
        out
    }

    fn output_label(&self) -> String {
        format!("{:02}-output", self.layers.len())
    }

    /// Number of activation layers (one per encoder block in a transformer).
    pub fn n_activation_layers(&self) -> usize {
        self.layers.iter().filter(|(_, l)| matches!(l, Layer::Activation | Layer::Block(_))).count()
    }

    /// Checks a plan against this model: its length, every method's activation and one fixed point.
    pub fn check_plan(&self, plan: &MethodPlan<'_>) -> Result<()> {
        plan.check(self.n_activation_layers())?;
        plan.fixed_point()?;
        plan.methods().into_iter().try_for_each(|m| self.check_method(m))
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
    /// network with activation layer i evaluated by the plan's method i (`method`: one `&dyn SecureMethod` for
    /// every layer, or a [`MethodPlan`]), and the logits `[b, classes]` are opened to the client. Returns the logits.
    pub fn infer<'m>(&self, ev: &mut E, method: impl Into<MethodPlan<'m>>, features: &[f32], b: usize) -> Result<Vec<f64>> {
        let plan = method.into();
        self.check_plan(&plan)?;
        let d: usize = self.input_shape.iter().product();
        if b == 0 || features.len() != b * d {
            return Err(ZooError::InputShape { got: vec![b, features.len() / b.max(1)], expected: self.input_shape.clone() });
        }
        let (x, real) = match self.layers.first() {
            Some((_, Layer::TokenEmbed { .. })) => {
                let (onehot, real, vocab) = self.one_hot(features)?;
                (ev.scope(INPUT_LABEL, |ev| ev.input(CLIENT, &onehot, &[b * d, vocab]))?, Some(real))
            }
            _ => (ev.scope(INPUT_LABEL, |ev| ev.input(CLIENT, &f64s(features), &[b, d]))?, None),
        };
        let logits = self.forward_masked(ev, &plan, x, b, real.as_deref())?;
        let scale = 2f64.powi(E::meta(&logits).scale as i32);
        let out = ev.scope(&self.output_label(), |ev| ev.reveal_to_raw(&logits, CLIENT))?;
        Ok(out.into_iter().map(|v| v as f64 / scale).collect())
    }

    /// The client's one-hot encoding of token ids (a text transformer's input): rows `[b·L, vocab]`, and which
    /// positions are real tokens (public: the padding positions, i.e. each message's length up to L, are revealed).
    fn one_hot(&self, features: &[f32]) -> Result<(Vec<f64>, Vec<bool>, usize)> {
        let vocab = self
            .layers
            .iter()
            .find_map(|(_, l)| match l {
                Layer::TokenEmbed { vocab, .. } => Some(*vocab),
                _ => None,
            })
            .unwrap_or(0);
        let mut out = vec![0f64; features.len() * vocab];
        let mut real = Vec::with_capacity(features.len());
        for (r, &id) in features.iter().enumerate() {
            real.push(id >= 0.0);
            if id >= 0.0 {
                if id as usize >= vocab || id.fract() != 0.0 {
                    return Err(ZooError::Config(format!("token id {id} is not an integer in 0..{vocab}; tokenise with the model's hash bits")));
                }
                out[r * vocab + id as usize] = 1.0;
            }
        }
        Ok((out, real, vocab))
    }

    /// The secret-shared forward pass of a batch `x` = \[b, d\]; returns the shared logits \[b, classes\].
    /// (A text transformer takes the one-hot rows `[b·L, vocab]` and needs the padding: use [`SecureModel::infer`].)
    pub fn forward<'m>(&self, ev: &mut E, method: impl Into<MethodPlan<'m>>, x: E::Value, b: usize) -> Result<E::Value> {
        let plan = method.into();
        self.check_plan(&plan)?;
        self.forward_masked(ev, &plan, x, b, None)
    }

    fn forward_masked(&self, ev: &mut E, plan: &MethodPlan<'_>, mut x: E::Value, b: usize, real: Option<&[bool]>) -> Result<E::Value> {
        let mut shape = self.input_shape.clone();
        // Index of the next activation layer in the plan.
        let mut act_index = 0usize;
        for (label, layer) in &self.layers {
            let n: usize = shape.iter().product();
            if let Layer::Block(blk) = layer {
                let [t, d] = shape[..] else {
                    return Err(ZooError::InputShape { got: shape.clone(), expected: vec![0, blk.width] });
                };
                x = self.block(ev, next_method(plan, &mut act_index)?, blk, &x, b, t, d, real, label)?;
                continue;
            }
            let method = if matches!(layer, Layer::Activation) { Some(next_method(plan, &mut act_index)?) } else { None };
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
                        let method = method.ok_or_else(|| ZooError::Config("activation layer without a method".into()))?;
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
                    Layer::PatchEmbed { weight, offset, image, patch, width } => {
                        let d = *width;
                        let per = patch * patch * image[2];
                        let idx = crate::transformer::patch_indices(*image, *patch);
                        let t = idx.len() / per;
                        if n != image.iter().product::<usize>() {
                            return Err(ZooError::InputShape { got: shape.clone(), expected: image.to_vec() });
                        }
                        let gi: Vec<Option<usize>> = (0..b).flat_map(|s| idx.iter().map(move |&i| Some(s * n + i))).collect();
                        let patches = ev.gather(&x, &gi, &[b * t, per])?;
                        let y = ev.matmul_fixed(&patches, weight)?;
                        // Row 0 of every sample (the class token) is zero before the offset is added.
                        let ti: Vec<Option<usize>> = (0..b * (t + 1) * d)
                            .map(|i| {
                                let (s, r, c) = (i / ((t + 1) * d), (i / d) % (t + 1), i % d);
                                (r > 0).then(|| (s * t + r - 1) * d + c)
                            })
                            .collect();
                        let y = ev.gather(&y, &ti, &[b * (t + 1), d])?;
                        let off = ev.gather(offset, &broadcast(b, (t + 1) * d), &[b * (t + 1), d])?;
                        shape = vec![t + 1, d];
                        ev.add(&y, &off)?
                    }
                    Layer::TokenEmbed { table, pos, max_len, width, .. } => {
                        let y = ev.matmul_fixed(&x, table)?;
                        let p = ev.gather(pos, &broadcast(b, max_len * width), &[b * max_len, *width])?;
                        shape = vec![*max_len, *width];
                        ev.add(&y, &p)?
                    }
                    Layer::Normalize { eps } => {
                        let d = shape.last().copied().unwrap_or(n);
                        let y = layer_norm_rows(ev, &x, d, *eps, &self.recipes.layer_norm)?;
                        ev.reshape(&y, &[b * n / d, d])?
                    }
                    Layer::Pool(pooling) => {
                        let [t, d] = shape[..] else {
                            return Err(ZooError::InputShape { got: shape.clone(), expected: vec![0, 0] });
                        };
                        shape = vec![d];
                        match (pooling, real) {
                            (Pooling::ClassToken, _) => {
                                let idx: Vec<Option<usize>> = (0..b * d).map(|i| Some((i / d) * t * d + i % d)).collect();
                                ev.gather(&x, &idx, &[b, d])?
                            }
                            (Pooling::Mean, _) => {
                                // Per sample: its real rows transposed to [d, n_s], summed per column, times 1/n_s
                                // (public); samples concurrently.
                                let all = vec![true; b * t];
                                let real = real.unwrap_or(&all);
                                let parts = ev.parallel(b, |ev, s| {
                                    let rows: Vec<usize> = (0..t).filter(|&r| real[s * t + r]).collect();
                                    let k = rows.len().max(1);
                                    let idx: Vec<Option<usize>> =
                                        (0..d * k).map(|i| rows.get(i % k).map(|r| (s * t + r) * d + i / k)).collect();
                                    let g = ev.gather(&x, &idx, &[d * k])?;
                                    let sum = ev.sum_groups(&g, k, &[d])?;
                                    ev.mul_public(&sum, 1.0 / k as f64)
                                })?;
                                let refs: Vec<&E::Value> = parts.iter().collect();
                                let y = ev.concat(&refs)?;
                                ev.reshape(&y, &[b, d])?
                            }
                        }
                    }
                    Layer::Block(_) => return Err(ZooError::Config("encoder block outside the block path".into())),
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

impl<E: MethodEvaluator> SecureModel<E> {
    /// One pre-norm encoder block on `x` `[b·t, d]` (see [`crate::export::ExportedBlock`]); every sub-layer is metered
    /// under `{label}-{part}` ([`BLOCK_PARTS`]).
    ///
    /// Attention: Q | K | V come from one fixed product `[b·t, d]·[d, 3d]` (1/√d_h already in W_Q); then for every
    /// (sample, head) pair at once (concurrent branches: the rounds of one), S = Q_h·K_hᵀ `[t, t]` and, after the
    /// softmax of the rows (padding keys of that sample masked, public), P·V_h `[t, d_h]` — secret × secret matrix
    /// products with dealer matrix triples ([`Evaluator::matmul`], one truncation each).
    #[allow(clippy::too_many_arguments)]
    fn block(
        &self,
        ev: &mut E,
        method: &dyn SecureMethod,
        blk: &SecureBlock<E>,
        x: &E::Value,
        b: usize,
        t: usize,
        d: usize,
        real: Option<&[bool]>,
        label: &str,
    ) -> Result<E::Value> {
        if d != blk.width || d % blk.heads != 0 {
            return Err(ZooError::InputShape { got: vec![t, d], expected: vec![t, blk.width] });
        }
        let (h, dh, m) = (blk.heads, d / blk.heads, blk.mlp_width);
        let lab = |p: &str| format!("{label}-{p}");
        let linear = |ev: &mut E, v: &E::Value, (w, bias): &(E::Fixed, E::Value), out: usize| -> mpc_sim::Result<E::Value> {
            let y = ev.matmul_fixed(v, w)?;
            let bb = ev.gather(bias, &broadcast(b * t, out), &[b * t, out])?;
            ev.add(&y, &bb)
        };
        let n1 = ev.scope(&lab("ln1"), |ev| layer_norm_rows(ev, x, d, blk.eps, &self.recipes.layer_norm))?;
        let n1 = ev.reshape(&n1, &[b * t, d])?;
        let qkv = ev.scope(&lab("qkv"), |ev| linear(ev, &n1, &blk.qkv, 3 * d))?;
        // Element (row r, column c) of Q, K, V for sample s, head j: qkv[(s·t + r)·3d + which·d + j·dh + c].
        let at = |s: usize, which: usize, j: usize, r: usize, c: usize| (s * t + r) * 3 * d + which * d + j * dh + c;
        let scores = ev.scope(&lab("scores"), |ev| {
            let parts = ev.parallel(b * h, |ev, p| {
                let (s, j) = (p / h, p % h);
                let qi: Vec<Option<usize>> = (0..t * dh).map(|i| Some(at(s, 0, j, i / dh, i % dh))).collect();
                let ki: Vec<Option<usize>> = (0..dh * t).map(|i| Some(at(s, 1, j, i % t, i / t))).collect();
                let q = ev.gather(&qkv, &qi, &[t, dh])?;
                let kt = ev.gather(&qkv, &ki, &[dh, t])?;
                ev.matmul(&q, &kt)
            })?;
            let refs: Vec<&E::Value> = parts.iter().collect();
            ev.concat(&refs)
        })?;
        // scores: rows (s, j, r), t columns.
        let probs = ev.scope(&lab("softmax"), |ev| match real {
            None => softmax_rows(ev, &scores, t, None, &self.recipes.softmax),
            Some(real) => {
                let per = h * t * t;
                let parts = ev.parallel(b, |ev, s| {
                    let mine = ev.gather(&scores, &(s * per..(s + 1) * per).map(Some).collect::<Vec<_>>(), &[h * t, t])?;
                    let pad: Vec<bool> = real[s * t..(s + 1) * t].iter().map(|r| !r).collect();
                    softmax_rows(ev, &mine, t, Some(&pad), &self.recipes.softmax)
                })?;
                let refs: Vec<&E::Value> = parts.iter().collect();
                ev.concat(&refs)
            }
        })?;
        let att = ev.scope(&lab("attn-v"), |ev| {
            let parts = ev.parallel(b * h, |ev, p| {
                let (s, j) = (p / h, p % h);
                let pi: Vec<Option<usize>> = (0..t * t).map(|i| Some(p * t * t + i)).collect();
                let vi: Vec<Option<usize>> = (0..t * dh).map(|i| Some(at(s, 2, j, i / dh, i % dh))).collect();
                let pm = ev.gather(&probs, &pi, &[t, t])?;
                let v = ev.gather(&qkv, &vi, &[t, dh])?;
                ev.matmul(&pm, &v)
            })?;
            let refs: Vec<&E::Value> = parts.iter().collect();
            let all = ev.concat(&refs)?;
            // (s, j, r, c) → row s·t + r, column j·dh + c.
            let idx: Vec<Option<usize>> = (0..b * t * d)
                .map(|i| {
                    let (row, col) = (i / d, i % d);
                    let (s, r, j, c) = (row / t, row % t, col / dh, col % dh);
                    Some(((s * h + j) * t + r) * dh + c)
                })
                .collect();
            ev.gather(&all, &idx, &[b * t, d])
        })?;
        let x = ev.scope(&lab("proj"), |ev| {
            let y = linear(ev, &att, &blk.o, d)?;
            let x = ev.reshape(x, &[b * t, d])?;
            ev.add(&x, &y)
        })?;
        let n2 = ev.scope(&lab("ln2"), |ev| layer_norm_rows(ev, &x, d, blk.eps, &self.recipes.layer_norm))?;
        let n2 = ev.reshape(&n2, &[b * t, d])?;
        let u = ev.scope(&lab("fc1"), |ev| linear(ev, &n2, &blk.fc1, m))?;
        let a = ev.scope(&lab("act"), |ev| {
            let flat = ev.reshape(&u, &[b * t * m])?;
            let y = ev.run_method(method, &flat)?;
            ev.reshape(&y, &[b * t, m])
        })?;
        Ok(ev.scope(&lab("fc2"), |ev| {
            let y = linear(ev, &a, &blk.fc2, d)?;
            ev.add(&x, &y)
        })?)
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
/// sample, so a batch's dealer material and messages stay at a few hundred MB) and for a transformer (tokens × width
/// rows per sample, and the text transformer's one-hot input).
pub fn default_batch(model: &ExportedModel) -> usize {
    if model.input_shape.len() == 3 || model.is_transformer() { 10 } else { 100 }
}

/// Whether the model's input is token ids (a text transformer): its cost depends on the public padding.
fn token_input(model: &ExportedModel) -> bool {
    matches!(model.layers.first(), Some(ExportedLayer::TokenEmbed { .. }))
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

/// One layer kind's share of an inference: its layers' rounds and bytes summed ([`InferenceCost::by_kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct KindCost {
    /// The kind.
    pub kind: LayerKind,
    /// Rounds of its layers (layers run one after the other, so the kinds' rounds add up to the inference's).
    pub rounds: u64,
    /// Bytes one party sends per inference.
    pub bytes: u64,
    /// Dealer bytes one party receives per inference.
    pub offline_bytes: u64,
}

impl InferenceCost {
    /// Sum over the layers of one kind: (rounds, bytes, offline bytes).
    pub fn of_kind(&self, kind: LayerKind) -> Cost {
        self.layers.iter().filter(|l| l.kind == kind).fold(Cost::ZERO, |a, l| a.then(l.cost()))
    }

    /// The per-kind split, in [`LayerKind::ALL`] order, kinds without layers left out.
    pub fn by_kind(&self) -> Vec<KindCost> {
        LayerKind::ALL
            .into_iter()
            .filter(|k| self.layers.iter().any(|l| l.kind == *k))
            .map(|kind| {
                let c = self.of_kind(kind);
                KindCost { kind, rounds: c.rounds.get(), bytes: c.bytes_per_party.get(), offline_bytes: c.offline_bytes_per_party.get() }
            })
            .collect()
    }

    /// Builds the per-inference cost from a channel's labels after running `samples` samples in one batch.
    /// With `exact` false the per-inference bytes are the batch's average (rounded down) — a text transformer's
    /// cost depends on each message's public number of real tokens.
    fn from_channel_with(labels: &[(String, LayerKind)], by_label: &[(String, Stats)], total: Stats, samples: u64, exact: bool) -> Result<Self> {
        let get = |l: &str| by_label.iter().find(|(k, _)| k == l).map(|(_, s)| *s).unwrap_or_default();
        let per = |s: Stats| -> Result<Cost> {
            let c = s.cost();
            if exact && (c.bytes_per_party.get() % samples != 0 || c.offline_bytes_per_party.get() % samples != 0) {
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

/// The predicted cost of one inference of `model` with `method` (one method, or a per-layer [`MethodPlan`]) on the
/// Beaver backend ([`CostEvaluator`], batch of one), with the default transformer recipes.
pub fn predict_cost<'m>(model: &ExportedModel, method: impl Into<MethodPlan<'m>>, fx: FixedPoint, truncation: Truncation) -> Result<InferenceCost> {
    predict_cost_on(model, method, fx, truncation, Backend::Beaver)
}

/// The predicted cost of one inference on `backend` ([`CostEvaluator`] or [`FssCostEvaluator`], batch of one), with
/// the default transformer recipes.
pub fn predict_cost_on<'m>(
    model: &ExportedModel,
    method: impl Into<MethodPlan<'m>>,
    fx: FixedPoint,
    truncation: Truncation,
    backend: Backend,
) -> Result<InferenceCost> {
    predict_cost_with(model, method, &TransformerRecipes::default(), fx, truncation, backend)
}

/// The predicted cost of one inference on `backend` with a transformer's softmax and LayerNorm `recipes` (ignored by
/// models without encoder blocks). Costs depend on shapes only: the zero input stands for any sample (a text
/// transformer's zero input is a full-length message of token 0; see [`predict_batch_cost`] for other paddings).
pub fn predict_cost_with<'m>(
    model: &ExportedModel,
    method: impl Into<MethodPlan<'m>>,
    recipes: &TransformerRecipes,
    fx: FixedPoint,
    truncation: Truncation,
    backend: Backend,
) -> Result<InferenceCost> {
    let d: usize = model.input_shape.iter().product();
    predict_batch_cost(model, &method.into(), recipes, fx, truncation, backend, &vec![0.0; d], 1)
}

/// The predicted cost of a batch of `b` samples `features` (per inference): the same as [`predict_cost_on`] for
/// every model but the text transformer, whose cost depends on the public padding of its inputs (the token values
/// themselves never change the cost).
#[allow(clippy::too_many_arguments)]
pub fn predict_batch_cost(
    model: &ExportedModel,
    method: &MethodPlan<'_>,
    recipes: &TransformerRecipes,
    fx: FixedPoint,
    truncation: Truncation,
    backend: Backend,
    features: &[f32],
    b: usize,
) -> Result<InferenceCost> {
    let exact = !token_input(model);
    match backend {
        Backend::Beaver => {
            let mut ev = CostEvaluator::new(fx, truncation);
            let sm = SecureModel::share(&mut ev, model)?.with_recipes(recipes.clone());
            sm.infer(&mut ev, method, features, b)?;
            InferenceCost::from_channel_with(&sm.labels(), &ev.channel().by_label(), ev.total(), b as u64, exact)
        }
        Backend::Fss => {
            let mut ev = FssCostEvaluator::new(fx, truncation, FSS_BITS)?;
            let sm = SecureModel::share(&mut ev, model)?.with_recipes(recipes.clone());
            let before = ev.cost().aes_calls_per_party;
            sm.infer(&mut ev, method, features, b)?;
            let mut c = InferenceCost::from_channel_with(&sm.labels(), &ev.channel().by_label(), ev.total(), b as u64, exact)?;
            c.aes_calls = (ev.cost().aes_calls_per_party - before) / b as u64;
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
    method: &MethodPlan<'_>,
    recipes: &TransformerRecipes,
    data: &Dataset,
    batches: &[(usize, usize)],
) -> Result<Vec<(Vec<f64>, InferenceCost)>>
where
    E::Value: Send + Sync,
    E::Fixed: Send + Sync,
{
    let d: usize = model.input_shape.iter().product();
    let sm = SecureModel::share(&mut setup, model)?.with_recipes(recipes.clone());
    let setup_cost = setup.meter().total().cost();
    let forks: Vec<E> = batches.iter().map(|_| setup.fork_batch()).collect();
    batches
        .par_iter()
        .zip(forks)
        .map(|(&(s, e), mut ev)| {
            let logits = sm.infer(&mut ev, method, &data.features[s * d..e * d], e - s)?;
            let samples = (e - s) as u64;
            let mut cost =
                InferenceCost::from_channel_with(&sm.labels(), &ev.meter().by_label(), ev.meter().total(), samples, !token_input(model))?;
            cost.setup = setup_cost;
            let aes = ev.aes_online();
            if aes.get() % samples != 0 && !token_input(model) {
                return Err(ZooError::Config(format!("{aes} AES calls for {samples} samples is not a multiple of the batch")));
            }
            cost.aes_calls = aes / samples;
            Ok((logits, cost))
        })
        .collect()
}

/// The fixed-point plaintext twin alone ([`PlainEvaluator`], the very program [`evaluate_secure_with`] runs on
/// secret shares, recipes included) on the first `samples` samples of `data` in batches of `batch` (in parallel):
/// per sample, whether its predicted label is right. For accuracy-constrained searches over the non-activation
/// recipes, which need the twin's accuracy on many samples and no secure run.
pub fn plain_correctness<'m>(
    model: &ExportedModel,
    method: impl Into<MethodPlan<'m>>,
    recipes: &TransformerRecipes,
    data: &Dataset,
    samples: usize,
    fx: FixedPoint,
    batch: usize,
) -> Result<Vec<bool>> {
    let method = &method.into();
    if data.sample_shape != model.input_shape {
        return Err(ZooError::InputShape { got: data.sample_shape.clone(), expected: model.input_shape.clone() });
    }
    if samples == 0 || samples > data.len() {
        return Err(ZooError::Config(format!("samples = {samples}: the split has {} samples; pick 1..={}", data.len(), data.len())));
    }
    if batch == 0 {
        return Err(ZooError::Config("batch = 0: use a batch of at least one sample".into()));
    }
    let d: usize = model.input_shape.iter().product();
    let batches: Vec<(usize, usize)> = (0..samples).step_by(batch).map(|s| (s, (s + batch).min(samples))).collect();
    let mut plain_ev = PlainEvaluator::new(fx);
    let sm = SecureModel::share(&mut plain_ev, model)?.with_recipes(recipes.clone());
    let classes = sm.classes();
    let per_batch: Vec<Vec<bool>> = batches
        .par_iter()
        .map(|&(s, e)| {
            let mut ev = plain_ev;
            let logits = sm.infer(&mut ev, method, &data.features[s * d..e * d], e - s)?;
            Ok(logits.chunks(classes).zip(&data.labels[s..e]).map(|(row, &y)| argmax(row) == y as usize).collect())
        })
        .collect::<Result<_>>()?;
    Ok(per_batch.into_iter().flatten().collect())
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

/// Runs the first `samples` samples of `data` through the secure pass and its plaintext twin with `method` (one
/// method, or a per-layer [`MethodPlan`]) and the default transformer recipes: the weights are shared and masked once
/// (one set-up session), then the samples run in batches of `opts.batch`, each batch in its own [`Session::fork`] of
/// the set-up session, all in parallel; every layer is metered.
pub fn evaluate_secure<'m>(
    model: &ExportedModel,
    method: impl Into<MethodPlan<'m>>,
    data: &Dataset,
    samples: usize,
    opts: &SecureOptions,
) -> Result<SecureReport> {
    evaluate_secure_with(model, method, &TransformerRecipes::default(), data, samples, opts)
}

/// [`evaluate_secure`] with a transformer's softmax and LayerNorm `recipes`. The plaintext twin runs the very same
/// program on [`PlainEvaluator`] — the same recipes in fixed point, the same activation programs — so the label
/// agreement measures the secure protocol alone (its truncation and comparison errors), not the recipes'
/// approximation error; the float model's accuracy is the caller's to add.
pub fn evaluate_secure_with<'m>(
    model: &ExportedModel,
    method: impl Into<MethodPlan<'m>>,
    recipes: &TransformerRecipes,
    data: &Dataset,
    samples: usize,
    opts: &SecureOptions,
) -> Result<SecureReport> {
    let method = &method.into();
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
    let predicted = predict_cost_with(model, method, recipes, opts.fx, truncation, opts.backend)?;
    let d: usize = model.input_shape.iter().product();
    let batches: Vec<(usize, usize)> = (0..samples).step_by(opts.batch).map(|s| (s, (s + opts.batch).min(samples))).collect();

    let t0 = Instant::now();
    // The set-up, once: the server shares and masks the weights; every batch runs in a fork of this session
    // (a child dealer: fresh A, C = A·B for the same masks, never a replayed triple or FSS key).
    let cfg = SessionConfig { fx: opts.fx, truncation, seed: opts.seed };
    let secure: Vec<(Vec<f64>, InferenceCost)> = match opts.backend {
        Backend::Beaver => run_batches(Session::new(cfg), model, method, recipes, data, &batches)?,
        Backend::Fss => run_batches(FssSession::new(FssConfig { session: cfg, bits: FSS_BITS })?, model, method, recipes, data, &batches)?,
    };
    let secure_seconds = t0.elapsed().as_secs_f64();

    let t1 = Instant::now();
    let mut plain_ev = PlainEvaluator::new(opts.fx);
    let plain_sm = SecureModel::share(&mut plain_ev, model)?.with_recipes(recipes.clone());
    let plain: Vec<Vec<f64>> = batches
        .par_iter()
        .map(|&(s, e)| {
            let mut ev = plain_ev;
            plain_sm.infer(&mut ev, method, &data.features[s * d..e * d], e - s)
        })
        .collect::<Result<_>>()?;
    let plain_seconds = t1.elapsed().as_secs_f64();

    // Every batch's metered per-inference cost must equal the prediction, exactly (a text transformer: each batch's
    // own prediction, its cost depends on the public padding).
    let mut predicted = predicted;
    for (k, ((s, e), (_, cost))) in batches.iter().zip(&secure).enumerate() {
        let want = if token_input(model) {
            let p = predict_batch_cost(model, method, recipes, opts.fx, truncation, opts.backend, &data.features[s * d..e * d], e - s)?;
            if k == 0 {
                predicted = p.clone();
            }
            p
        } else {
            predicted.clone()
        };
        if *cost != want {
            return Err(ZooError::Config(format!(
                "metered cost of samples {s}..{e} differs from the prediction: metered {:?}, predicted {:?}",
                cost.total, want.total
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
