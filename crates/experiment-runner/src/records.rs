//! The typed results one sweep point records, shared by the executors that write them ([`crate::experiments`]) and
//! the readers ([`crate::report`], [`crate::reproduce`]). A record ([`crate::sweep::Record`]) holds one of these as
//! its `result`; [`crate::sweep::Record::result_as`] reads it back with a one-line error naming the point.

use activation_approx::{PiecewisePoly, Truncation};
use secure_methods::MethodReport;
use serde::{Deserialize, Serialize};

pub use crate::softmax_exp::{ExpSummary, ExpTrial, SoftmaxExpResult};

/// The x grid and fixed-point values of a method's curve (figures).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    /// Inputs.
    pub x: Vec<f64>,
    /// Fixed-point outputs.
    pub y: Vec<f64>,
}

/// `approximation` kind: one method's structure, errors and per-element cost under a density.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApproximationResult {
    /// The measurements ([`secure_methods::measure`]).
    #[serde(flatten)]
    pub report: MethodReport,
    /// Density spec the errors are weighted with.
    pub density: String,
    /// The curve on [−8, 8].
    pub curve: Curve,
}

/// Why the accuracy-constrained search stopped ([`crate::search`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The cheapest candidate meets ν: nothing cheaper exists in the candidate set, so the constraint does not
    /// bind (the result is the cheapest admissible structure).
    CheapestAdmissible,
    /// A cheaper candidate than the one kept misses ν: the constraint binds.
    ConstraintBinds,
    /// No candidate meets ν (the point fails; not recorded).
    Infeasible,
}

/// One candidate the accuracy-constrained search evaluated on the validation split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// Weighted-error tolerance τ the candidate was annealed for (the smallest, if several τ gave it); none for
    /// the one-comparison forms, which are fitted without one.
    pub tau: Option<f64>,
    /// The candidate's structure, e.g. `annealed: 3 pieces, degrees [0, 2, 1]` or `one comparison, unit slope`.
    #[serde(default)]
    pub structure: String,
    /// Bytes per element per party of the candidate.
    pub bytes: u64,
    /// Validation accuracy with it.
    pub val_accuracy: f64,
    /// Validation relative accuracy loss (η − η′)/η.
    pub rel_loss: f64,
    /// Per-layer search: the activation layer whose candidate this trial lowered (the other layers keep their
    /// current choice); none in the shared search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<usize>,
    /// Per-layer search: whether the trial met ν and was kept (the shared search keeps only its last trial).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<bool>,
}

/// The calibration density of one activation layer's input, as the per-layer search and the density figures use
/// it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerDensity {
    /// Mean of the recorded pre-activation values.
    pub mean: f64,
    /// Their standard deviation.
    pub std: f64,
    /// Their histogram (calibration sample of the training split).
    pub histogram: model_zoo::Histogram,
}

/// One activation layer's approximation chosen by the per-layer search, priced per element on both backends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerChoice {
    /// 0-based activation layer.
    pub layer: usize,
    /// Activation elements of this layer per inference.
    pub elements: usize,
    /// The candidate's structure.
    pub structure: String,
    /// τ it was annealed for (none: a one-comparison form).
    pub tau: Option<f64>,
    /// Beaver backend: online bytes per element per party.
    pub beaver_bytes_per_element: u64,
    /// Beaver backend: rounds per element.
    pub beaver_rounds_per_element: u64,
    /// FSS backend: online bytes per element per party.
    pub fss_bytes_per_element: u64,
    /// FSS backend: key bytes per element per party.
    pub fss_key_bytes_per_element: u64,
    /// FSS backend: rounds per element.
    pub fss_rounds_per_element: u64,
    /// The piecewise polynomial (annealed candidates) or none (one-comparison forms: see `structure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximation: Option<PiecewisePoly>,
    /// The layer's input density the candidates were fitted to.
    pub density: LayerDensity,
    /// The chosen approximation's fixed-point curve ([`density_curve_grid`]).
    pub curve: Curve,
}

/// x grid of the curves drawn over the activation input densities: [−12, 12] in steps of 1/16 (transformer GELU
/// inputs reach beyond the [−8, 8] of the approximation figures).
pub fn density_curve_grid() -> Vec<f64> {
    (0..=384).map(|i| -12.0 + i as f64 / 16.0).collect()
}

/// How a per-layer point was priced per inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PerLayerPricing {
    /// From the cost evaluators' predictions: the inference predicted with every layer's method, each activation
    /// layer's entry taken from its own method's prediction (the accuracy experiment's pricing).
    Predicted,
    /// Metered on the secure forward pass run with one method per activation layer (a per-layer
    /// `MethodPlan`), equal to its prediction (checked for every batch): the secure experiment's pricing.
    Metered,
}

/// What the per-layer search adds to an accuracy record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerLayerResult {
    /// Every activation layer's choice, in layer order.
    pub layers: Vec<LayerChoice>,
    /// How the inference costs of the record were obtained.
    pub pricing: PerLayerPricing,
    /// Validation evaluations the greedy search made (the starting point included).
    pub evaluations: usize,
}

/// How a method's approximation looks (for Compact, the piecewise polynomial kept).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApproximationSummary {
    /// Segments.
    pub pieces: usize,
    /// Degrees per segment.
    pub degrees: Vec<usize>,
    /// Fitted range.
    pub range: Option<(f64, f64)>,
    /// Compact: the approximation itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximation: Option<PiecewisePoly>,
}

/// The metered cost of one secure inference (batch of one) with its breakdown by layer kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferenceSummary {
    /// Online total per inference.
    #[serde(with = "activation_approx::cost::layout::communication")]
    pub total: mpc_sim::Cost,
    /// Linear and convolution layers.
    #[serde(with = "activation_approx::cost::layout::communication")]
    pub linear: mpc_sim::Cost,
    /// Activation layers.
    #[serde(with = "activation_approx::cost::layout::communication")]
    pub activation: mpc_sim::Cost,
    /// Max-pooling layers.
    #[serde(with = "activation_approx::cost::layout::communication")]
    pub pooling: mpc_sim::Cost,
    /// Opening the logits to the client.
    #[serde(with = "activation_approx::cost::layout::communication")]
    pub output: mpc_sim::Cost,
    /// One-time set-up per model (opening the masked weights).
    #[serde(with = "activation_approx::cost::layout::communication")]
    pub setup: mpc_sim::Cost,
    /// Activation elements per inference.
    pub activation_elements: usize,
    /// Activation layers.
    pub activation_layers: usize,
    /// Per-layer breakdown.
    pub layers: Vec<model_zoo::secure::LayerCost>,
}

/// `accuracy` kind: a model's accuracy with every activation replaced by a method's fixed-point emulation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyResult {
    /// Task.
    pub task: String,
    /// Activation.
    pub activation: String,
    /// Method.
    pub method: String,
    /// Hidden layers of the model.
    pub depth: usize,
    /// The model's sidecar.
    pub model: model_zoo::Sidecar,
    /// Allowed relative validation loss ν of the search (methods searched under the constraint only).
    #[serde(default)]
    pub nu: Option<f64>,
    /// Exact-activation validation accuracy.
    pub exact_val_accuracy: f64,
    /// Exact-activation test accuracy.
    pub exact_test_accuracy: f64,
    /// Validation accuracy with the method.
    pub val_accuracy: f64,
    /// Test accuracy with the method.
    pub test_accuracy: f64,
    /// (exact − method)/exact on validation.
    pub val_rel_loss: f64,
    /// (exact − method)/exact on test.
    pub test_rel_loss: f64,
    /// Test samples scored.
    #[serde(default)]
    pub test_samples: usize,
    /// Paired 95 % interval of the test accuracy difference method − exact (fraction), over the same samples.
    #[serde(default)]
    pub test_diff_ci95: Option<(f64, f64)>,
    /// Searched methods: the τ of the kept candidate.
    pub tau: Option<f64>,
    /// Searched methods: why the search stopped.
    #[serde(default)]
    pub stop: Option<StopReason>,
    /// Searched methods: the candidates evaluated, in evaluation order.
    pub trials: Vec<Trial>,
    /// Bytes per element per party.
    pub bytes_per_element: u64,
    /// Rounds per element.
    pub rounds_per_element: u64,
    /// Comparisons per element.
    pub comparisons_per_element: u64,
    /// The truncation protocol the costs are priced and metered under (the same for every method).
    pub truncation: Truncation,
    /// Per-element bound on the probability that a local truncation fails (0 under dealer-pair truncation).
    pub failure_bound: f64,
    /// The same method under local truncation: its per-element cost and failure bound.
    pub local_truncation: LocalTruncationCost,
    /// Activation elements per inference.
    pub activation_elements_per_inference: usize,
    /// Activation bytes per inference per party.
    pub activation_bytes_per_inference: u64,
    /// Metered inference.
    pub inference: InferenceSummary,
    /// Total bytes per inference per party.
    pub bytes_per_inference: u64,
    /// Total rounds per inference.
    pub rounds_per_inference: u64,
    /// Estimated LAN seconds per inference.
    pub lan_s_per_inference: f64,
    /// Estimated WAN seconds per inference.
    pub wan_s_per_inference: f64,
    /// Structure of the approximation.
    pub approximation: ApproximationSummary,
    /// The backend the search priced under (`backend` spec parameter; Beaver in records that predate it).
    #[serde(default)]
    pub backend: model_zoo::secure::Backend,
    /// The point's method priced on every backend, Beaver first: per element and per inference (each inference
    /// metered by one secure run on that backend and checked equal to the prediction). Empty in older records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backends: Vec<BackendPrice>,
    /// The per-layer search (`compact-per-layer`): one approximation per activation layer. The per-element fields
    /// of the record are then the element-weighted means over the layers (bytes) and the largest layer (rounds),
    /// the per-inference fields the sum over the layers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_layer: Option<PerLayerResult>,
    /// Searched methods: the kept approximation's fixed-point curve on [`density_curve_grid`] (layer 0's for
    /// `compact-per-layer`, whose every layer's curve is in `per_layer`); the density figures draw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curve: Option<Curve>,
}

/// One backend's price of a point's method (per party): what the backend tables and figures of `compact report`
/// show side by side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendPrice {
    /// The backend.
    pub backend: model_zoo::secure::Backend,
    /// Online rounds per activation element.
    pub rounds_per_element: u64,
    /// Online bytes sent per activation element.
    pub online_bytes_per_element: u64,
    /// Offline (dealer) bytes received per activation element: Beaver material, and on FSS the DCF keys.
    pub key_bytes_per_element: u64,
    /// AES calls per activation element (FSS key evaluation; 0 on Beaver).
    pub aes_calls_per_element: u64,
    /// Online rounds per inference (batch of one, whole model).
    pub rounds_per_inference: u64,
    /// Online bytes sent per inference.
    pub bytes_per_inference: u64,
    /// Offline bytes received per inference.
    pub offline_bytes_per_inference: u64,
    /// AES calls per inference.
    pub aes_calls_per_inference: u64,
    /// Estimated seconds per inference on the LAN link (`mpc_sim::Network::LAN`).
    pub lan_s_per_inference: f64,
    /// Estimated seconds per inference on the WAN link (`mpc_sim::Network::WAN`).
    pub wan_s_per_inference: f64,
}

/// `secure` kind: a model run end to end on secret shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecureResult {
    /// Task.
    pub task: String,
    /// Activation.
    pub activation: String,
    /// Method.
    pub method: String,
    /// Hidden layers.
    pub depth: usize,
    /// The model's sidecar.
    pub model: model_zoo::Sidecar,
    /// Compact: the τ kept by the search.
    pub tau: Option<f64>,
    /// Samples run securely.
    pub samples: usize,
    /// Truncation protocol used.
    pub truncation: activation_approx::Truncation,
    /// Secure accuracy.
    pub secure_accuracy: f64,
    /// Fixed-point plaintext accuracy of the same computation.
    pub plain_accuracy: f64,
    /// 100 · (secure − plain).
    pub accuracy_gap_points: f64,
    /// Fraction of equal predicted labels.
    pub agreement: f64,
    /// Largest |secure − plain| logit.
    pub max_logit_diff: f64,
    /// Bytes per inference per party.
    pub bytes_per_inference: u64,
    /// Rounds per inference.
    pub rounds_per_inference: u64,
    /// Dealer bytes per inference per party.
    pub offline_bytes_per_inference: u64,
    /// Activation layers' bytes.
    pub activation_bytes_per_inference: u64,
    /// Linear layers' bytes.
    pub linear_bytes_per_inference: u64,
    /// Pooling layers' bytes.
    pub pooling_bytes_per_inference: u64,
    /// Rounds and bytes per inference split by layer kind (linear, attention products, softmax, LayerNorm,
    /// activation, …; empty in records that predate it).
    #[serde(default)]
    pub by_kind: Vec<model_zoo::secure::KindCost>,
    /// A transformer's softmax and LayerNorm recipes (absent for other models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipes: Option<RecipeNames>,
    /// Estimated LAN seconds per inference.
    pub lan_s_per_inference: f64,
    /// Estimated WAN seconds per inference.
    pub wan_s_per_inference: f64,
    /// Wall-clock seconds of the secure run (a timing: excluded from reproducibility comparisons).
    pub secure_seconds: f64,
    /// Wall-clock seconds of the plaintext run (a timing).
    pub plain_seconds: f64,
    /// Metered cost per inference with its per-layer breakdown.
    pub metered: model_zoo::secure::InferenceCost,
    /// The backend of the secure run (`backend` spec parameter; Beaver in records that predate it).
    #[serde(default)]
    pub backend: model_zoo::secure::Backend,
    /// `compact-per-layer`: every activation layer's choice (absent for one method in every layer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_layer: Option<PerLayerResult>,
}

/// The names of a transformer's softmax and LayerNorm recipes (`model_zoo::secure::TransformerRecipes::from_names`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipeNames {
    /// Softmax recipe (`puma`, `puma-fast`, `crypten`).
    pub softmax: String,
    /// LayerNorm recipe (`ladder`, `crypten`).
    pub layer_norm: String,
}

/// Record fields that are wall-clock timings, at any depth (the top-level `elapsed_s`, a secure point's seconds, the
/// training time in an embedded model sidecar): they differ between any two runs, so they are left out when records
/// are compared for reproducibility and zeroed when shards are checked against a single run.
pub const TIMING_FIELDS: &[&str] = &["elapsed_s", "secure_seconds", "plain_seconds", "training_seconds"];

/// A method's per-element cost under local truncation, beside the headline protocol's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalTruncationCost {
    /// Bytes per element per party.
    pub bytes_per_element: u64,
    /// Rounds per element.
    pub rounds_per_element: u64,
    /// Per-element bound on the probability that a local truncation fails, for |x| ≤ `input_bound`.
    pub failure_bound: f64,
    /// The largest |activation input| of the model's calibration, which the bound assumes.
    pub input_bound: f64,
}
