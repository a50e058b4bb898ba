//! The experiment kinds: what one sweep point computes.
//!
//! - `approximation` (activation × method × density): structure, errors and per-element MPC cost of each method,
//!   plus the curve for the figures.
//! - `accuracy` (task × activation × method [× depth]): the model's test accuracy with every activation replaced by
//!   the method's fixed-point emulation. For `compact` and its ablations this is the accuracy-constrained search
//!   ([`crate::constrained`]): the input density comes from the model's own activation statistics (calibration
//!   histogram on the training split), and the cheapest candidate whose *validation* relative accuracy loss
//!   (η − η′)/η stays ≤ ν is kept; only then is the *test* accuracy measured, once. The depth sweep is this kind
//!   with a `depth` axis on the MNIST MLP; the frontier sweep this kind with several ν (`nu_list`... see
//!   [`Accuracy`]).
//! - `secure` (task × activation × method [× depth]): the model run end to end on secret shares
//!   ([`model_zoo::secure`]) on the first `samples` test samples (`cnn_samples` for the CNN, `transformer_samples`
//!   for the transformers, whose softmax and LayerNorm recipes are the parameters `softmax` and `layer_norm`,
//!   default `puma` and `ladder`): secure accuracy, its agreement with the fixed-point plaintext run (the same
//!   program, recipes included, without secret sharing), the metered cost per inference with its per-kind split and
//!   the wall-clock time. Transformer tasks only have models for the activations of
//!   [`model_zoo::zoo::TRANSFORMER_ACTIVATIONS`]; their other grid points are skipped. `compact-per-layer` runs the
//!   per-layer search of the accuracy experiment ([`crate::per_layer`], through the same
//!   [`crate::constrained::choose_method`]) and evaluates each activation layer with its own chosen method
//!   ([`model_zoo::secure::MethodPlan::PerLayer`]), so its cost is metered, not only predicted; the record lists
//!   every layer's choice.

use secure_methods::{BuildContext, MethodRegistry, SecureMethod, measure};
use activation_approx::density::DensitySpec;
use activation_approx::{ActivationRegistry, Truncation};
use anyhow::{Context, bail};
use model_zoo::Task;
use serde_json::json;

pub use crate::models::Paths;
use crate::constrained::{ChosenMethod, SearchCache, SearchParams, choose_method};
use crate::models::{LoadParams, ModelCache, accuracy_with_plan, correctness_with, method_fn, paired_diff_ci95};
use model_zoo::ActivationPlan;
use crate::records::{
    AccuracyResult, ApproximationResult, ApproximationSummary, BackendPrice, Curve, InferenceSummary, LayerChoice,
    LayerDensity, LocalTruncationCost, PerLayerPricing, PerLayerResult, SecureResult,
};
use model_zoo::secure::Backend;
use crate::spec::{Point, Spec};
use crate::sweep::Executor;

/// The experiment kinds this runner knows.
pub const KINDS: &[&str] = &["approximation", "accuracy", "secure", crate::softmax_exp::KIND];

/// The executor for `spec.kind`.
pub fn executor(kind: &str, paths: &Paths) -> anyhow::Result<Box<dyn Executor>> {
    match kind {
        "approximation" => Ok(Box::new(Approximation::new())),
        "accuracy" => Ok(Box::new(Accuracy::new(paths.clone()))),
        "secure" => Ok(Box::new(Secure { accuracy: Accuracy::new(paths.clone()) })),
        crate::softmax_exp::KIND => Ok(Box::new(crate::softmax_exp::SoftmaxExp::new(paths.clone()))),
        other => bail!("unknown experiment kind '{other}'; known: {}", KINDS.join(", ")),
    }
}

fn need<'a>(point: &'a Point, axis: &str, v: &'a Option<String>) -> anyhow::Result<&'a str> {
    v.as_deref().with_context(|| format!("point {point} has no '{axis}'; add a '{axis}' axis to [grid]"))
}

fn check_names(spec: &Spec, methods: &MethodRegistry) -> anyhow::Result<()> {
    let activations = ActivationRegistry::builtin();
    for a in spec.grid.activation.iter().flatten() {
        activations.get(a)?;
    }
    for m in spec.grid.method.iter().flatten() {
        methods.spec(m)?;
    }
    for d in spec.grid.density.iter().flatten() {
        DensitySpec::parse(d)?;
    }
    Ok(())
}

/// Method options from `[params.config.<method>]` (a TOML table, passed on as JSON), or `{}`.
fn method_config(spec: &Spec, method: &str) -> anyhow::Result<serde_json::Value> {
    match spec.params.get("config").and_then(|c| c.get(method)) {
        None => Ok(json!({})),
        Some(v) => Ok(serde_json::to_value(v)?),
    }
}

/// x grid for curves and figures: [−8, 8] in steps of 1/16.
fn curve_grid() -> Vec<f64> {
    (0..=256).map(|i| -8.0 + i as f64 / 16.0).collect()
}

/// `approximation`: each method's structure, errors and cost under a density.
#[derive(Debug)]
pub struct Approximation {
    methods: MethodRegistry,
}

impl Approximation {
    /// With the built-in methods.
    pub fn new() -> Self {
        Approximation { methods: crate::per_layer::method_registry() }
    }
}

impl Default for Approximation {
    fn default() -> Self {
        Self::new()
    }
}

impl Executor for Approximation {
    fn validate(&self, spec: &Spec) -> anyhow::Result<()> {
        spec.check_params(&["config"])?;
        check_names(spec, &self.methods)
    }

    fn applicable(&self, _spec: &Spec, p: &Point) -> bool {
        match (&p.method, &p.activation) {
            (Some(m), Some(a)) => self.methods.spec(m).is_ok_and(|s| s.supports(a)),
            _ => true,
        }
    }

    fn run(&self, spec: &Spec, point: &Point, seed: u64) -> anyhow::Result<serde_json::Value> {
        let act_name = need(point, "activation", &point.activation)?;
        let method_name = need(point, "method", &point.method)?;
        let density_text = point.density.clone().unwrap_or_else(|| "normal:0,1".to_string());
        let density = DensitySpec::parse(&density_text)?;
        let activation = ActivationRegistry::builtin().get(act_name)?;
        let mut config = method_config(spec, method_name)?;
        if let Some(obj) = config.as_object_mut() {
            if self.methods.spec(method_name)?.name == "compact" {
                obj.entry("seed").or_insert(json!(seed));
            }
        }
        let ctx = BuildContext::new(act_name)?.with_density(density_text.clone()).with_config(config);
        let method = self.methods.build(method_name, &ctx)?;
        // Costs under dealer-pair truncation for every method (the other protocol beside it; failure bound of local
        // truncation for |x| ≤ 8, the table's range).
        let report = measure(method.as_ref(), activation.as_ref(), &density, SECURE_TRUNCATION, 8.0)?;
        let xs = curve_grid();
        let ys = method.eval_fixed(&xs)?;
        Ok(serde_json::to_value(ApproximationResult { report, density: density_text, curve: Curve { x: xs, y: ys } })?)
    }
}

/// `accuracy`: model accuracy with approximated activations; Compact under the accuracy constraint.
#[derive(Debug)]
pub struct Accuracy {
    cache: ModelCache,
    methods: MethodRegistry,
    searches: SearchCache,
}

impl Accuracy {
    /// Reads models from `paths.models` and data from `paths.data_root`.
    pub fn new(paths: Paths) -> Self {
        Accuracy { cache: ModelCache::new(paths), methods: crate::per_layer::method_registry(), searches: SearchCache::default() }
    }
}

const ACCURACY_PARAMS: &[&str] =
    &["config", "nu", "tau_lo", "tau_hi", "ladder", "calibration", "bins", "batch", "eval_limit", "backend"];
const SECURE_PARAMS: &[&str] = &[
    "backend",
    "config",
    "nu",
    "tau_lo",
    "tau_hi",
    "ladder",
    "calibration",
    "bins",
    "batch",
    "eval_limit",
    "samples",
    "cnn_samples",
    "transformer_samples",
    "softmax",
    "layer_norm",
    "secure_batch",
];

/// Whether `task` is one of the transformer tasks.
fn is_transformer(task: Task) -> bool {
    matches!(task, Task::MnistVit | Task::FashionMnistVit | Task::SpamText)
}

/// A string parameter from `[params]`, or `default` when absent; a non-string is an error.
fn param_str(spec: &Spec, name: &str, default: &str) -> anyhow::Result<String> {
    match spec.params.get(name) {
        None => Ok(default.to_string()),
        Some(toml::Value::String(v)) => Ok(v.clone()),
        Some(other) => bail!("parameter '{name}' = {} must be a string", activation_approx::limits::clip(&other.to_string())),
    }
}

/// The transformer recipes of a secure spec (`softmax`, `layer_norm`; defaults `puma`, `ladder`).
fn spec_recipes(spec: &Spec) -> anyhow::Result<model_zoo::secure::TransformerRecipes> {
    use model_zoo::secure::{LAYER_NORM_RECIPES, SOFTMAX_RECIPES, TransformerRecipes};
    Ok(TransformerRecipes::from_names(
        &param_str(spec, "softmax", SOFTMAX_RECIPES[0])?,
        &param_str(spec, "layer_norm", LAYER_NORM_RECIPES[0])?,
    )?)
}

impl Accuracy {
    fn check_spec(&self, spec: &Spec, params: &[&str]) -> anyhow::Result<()> {
        spec.check_params(params)?;
        check_names(spec, &self.methods)?;
        for t in spec.grid.task.iter().flatten() {
            t.parse::<Task>()?;
        }
        if spec.grid.task.is_none() {
            bail!("an accuracy experiment needs a 'task' axis in [grid]");
        }
        SearchParams::from_spec(spec)?;
        crate::params::check_accuracy_params(spec)
    }
}

impl Executor for Accuracy {
    fn validate(&self, spec: &Spec) -> anyhow::Result<()> {
        self.check_spec(spec, ACCURACY_PARAMS)
    }

    fn applicable(&self, _spec: &Spec, p: &Point) -> bool {
        match (&p.method, &p.activation) {
            (Some(m), Some(a)) if crate::names::method(m).map_or(true, |r| !crate::constrained::SEARCHED.contains(&r)) => {
                self.methods.spec(m).is_ok_and(|s| s.supports(a))
            }
            _ => true,
        }
    }

    fn run(&self, spec: &Spec, point: &Point, seed: u64) -> anyhow::Result<serde_json::Value> {
        let PointSetup { task, act_name, method_name, load, loaded, search, chosen } = self.set_up(spec, point)?;
        let (val, test) = (&loaded.val, &loaded.test);
        // The failure bound of local truncation assumes the largest |activation input| seen in calibration.
        let input_bound = input_bound(&loaded);
        let rel = |acc: f64| (loaded.exact_val - acc) / loaded.exact_val;
        let ChosenMethod { method, search: outcome, per_layer } = chosen;
        // The methods of the activation layers: one for every layer, or the per-layer search's (then the point's
        // per-element prices are element-weighted means over the layers, its inferences predicted per layer).
        let layer_methods = per_layer.as_ref().map(|c| c.methods());
        let elements = loaded.net.export_folded()?.activation_elements_per_layer();
        let (priced, local) = match &layer_methods {
            None => (ElementPrice::of(method.cost(SECURE_TRUNCATION, input_bound)?), ElementPrice::of(method.cost(Truncation::Local, input_bound)?)),
            Some(ms) => (ElementPrice::mean(ms, &elements, SECURE_TRUNCATION, input_bound)?, ElementPrice::mean(ms, &elements, Truncation::Local, input_bound)?),
        };
        let info = method.info();
        let plan = match &per_layer {
            None => ActivationPlan::All(method_fn(method.clone())?),
            Some(c) => crate::per_layer::plan_of(&c.layers.iter().map(crate::per_layer::candidate_fn).collect::<anyhow::Result<Vec<_>>>()?),
        };
        let val_acc = accuracy_with_plan(&loaded.net, val, &plan, load.batch)?;
        // The test split, once, after the choice.
        let test_correct = correctness_with(&loaded.net, test, &plan, load.batch)?;
        let test_acc = test_correct.iter().filter(|&&c| c).count() as f64 / test_correct.len().max(1) as f64;
        let ci = paired_diff_ci95(&loaded.exact_test_correct, &test_correct, seed)?;
        // One metered secure inference per backend (each checked equal to its prediction): the Beaver one is the
        // record's headline inference, both go into the side-by-side backend prices. Per layer: predicted.
        let (beaver, fss) = match &layer_methods {
            None => (
                metered_cost(&loaded.net, method.as_ref(), test, seed, Backend::Beaver)?,
                metered_cost(&loaded.net, method.as_ref(), test, seed, Backend::Fss)?,
            ),
            Some(ms) => (
                per_layer_predicted(&loaded.net, ms, test, &elements, Backend::Beaver, input_bound)?,
                per_layer_predicted(&loaded.net, ms, test, &elements, Backend::Fss, input_bound)?,
            ),
        };
        let backends = [(Backend::Beaver, &beaver), (Backend::Fss, &fss)]
            .into_iter()
            .map(|(b, c)| match &layer_methods {
                None => backend_price(method.as_ref(), b, c, input_bound),
                Some(ms) => per_layer_backend_price(ms, &elements, b, c, input_bound),
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let per_layer_result = match &per_layer {
            None => None,
            Some(c) => Some(per_layer_record(c, &loaded.stats, &elements, input_bound)?),
        };
        let inference = inference_summary(&loaded.net, beaver)?;
        let outcome_curve = outcome.as_ref().map(|_| method.clone());
        let result = AccuracyResult {
            task: task.name().to_string(),
            activation: act_name.to_string(),
            method: method_name.to_string(),
            depth: loaded.net.config.arch.depth(),
            model: loaded.sidecar.clone(),
            nu: outcome.as_ref().map(|_| search.nu),
            exact_val_accuracy: loaded.exact_val,
            exact_test_accuracy: loaded.exact_test,
            val_accuracy: val_acc,
            test_accuracy: test_acc,
            val_rel_loss: rel(val_acc),
            test_rel_loss: (loaded.exact_test - test_acc) / loaded.exact_test,
            test_samples: test_correct.len(),
            test_diff_ci95: Some(ci),
            tau: outcome.as_ref().and_then(|o| o.tau),
            stop: outcome.as_ref().map(|o| o.stop),
            trials: outcome.as_ref().map(|o| o.trials.clone()).unwrap_or_default(),
            bytes_per_element: priced.bytes,
            rounds_per_element: priced.rounds,
            comparisons_per_element: priced.comparisons,
            truncation: SECURE_TRUNCATION,
            failure_bound: priced.failure_bound,
            local_truncation: LocalTruncationCost {
                bytes_per_element: local.bytes,
                rounds_per_element: local.rounds,
                failure_bound: local.failure_bound,
                input_bound,
            },
            activation_elements_per_inference: inference.activation_elements,
            activation_bytes_per_inference: inference.activation.bytes_per_party.get(),
            bytes_per_inference: inference.total.bytes_per_party.get(),
            rounds_per_inference: inference.total.rounds.get(),
            lan_s_per_inference: mpc_sim::Network::LAN.latency_s(&inference.total),
            wan_s_per_inference: mpc_sim::Network::WAN.latency_s(&inference.total),
            inference,
            approximation: ApproximationSummary {
                pieces: info.pieces,
                degrees: info.degrees,
                range: info.range,
                approximation: outcome.and_then(|o| o.approximation),
            },
            backend: search.backend,
            backends,
            per_layer: per_layer_result,
            curve: match &outcome_curve {
                Some(m) => Some(density_curve(m.as_ref())?),
                None => None,
            },
        };
        Ok(serde_json::to_value(result)?)
    }
}

/// The model a point searches on (task, activation, depth, load parameters) and the seed of its search: derived
/// from the experiment seed and the point's key *without* ν, so the points of a ν sweep share one candidate set
/// (and [`SearchCache`] anneals it once).
fn search_identity(spec: &Spec, point: &Point, load: &LoadParams) -> (String, u64) {
    let model_key = format!("{:?}/{:?}/{:?}/{load:?}", point.task, point.activation, point.depth);
    let without_nu = Point { index: 0, nu: None, ..point.clone() }.key();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in without_nu.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (model_key, crate::spec::derive_seed(spec.seed, h as usize))
}

/// `secure`: the model run end to end on secret shares (module docs).
#[derive(Debug)]
pub struct Secure {
    accuracy: Accuracy,
}

impl Executor for Secure {
    fn validate(&self, spec: &Spec) -> anyhow::Result<()> {
        self.accuracy.check_spec(spec, SECURE_PARAMS)?;
        spec_recipes(spec)?;
        for key in ["samples", "cnn_samples", "transformer_samples", "secure_batch"] {
            if spec.param_usize(key, 1)? == 0 {
                bail!("parameter {key} = 0: use at least 1");
            }
        }
        Ok(())
    }

    fn applicable(&self, spec: &Spec, p: &Point) -> bool {
        let no_model = match (p.task.as_deref().map(str::parse::<Task>), &p.activation) {
            (Some(Ok(t)), Some(a)) => is_transformer(t) && !model_zoo::zoo::TRANSFORMER_ACTIVATIONS.contains(&a.as_str()),
            _ => false,
        };
        !no_model && self.accuracy.applicable(spec, p)
    }

    fn run(&self, spec: &Spec, point: &Point, seed: u64) -> anyhow::Result<serde_json::Value> {
        use model_zoo::secure::SecureOptions;
        let PointSetup { task, act_name, method_name, loaded, chosen, search, .. } = self.accuracy.set_up(spec, point)?;
        let exported = loaded.net.export_folded()?;
        let recipes = spec_recipes(spec)?;
        let samples = if exported.is_transformer() {
            spec.param_usize("transformer_samples", 200)?
        } else if exported.input_shape.len() == 3 {
            spec.param_usize("cnn_samples", 200)?
        } else {
            spec.param_usize("samples", 500)?
        };
        let batch = spec.param_usize("secure_batch", model_zoo::secure::default_batch(&exported))?;
        let data = self.accuracy.cache.task_data(task)?;
        let opts = SecureOptions { batch, seed, truncation: SECURE_TRUNCATION, backend: search.backend, ..SecureOptions::default() };
        let names = PointNames { task, activation: act_name, method: method_name };
        let result = secure_result(&loaded, &chosen, names, &recipes, &data.test, samples.min(data.test.len()), &opts)?;
        Ok(serde_json::to_value(result)?)
    }
}

/// The names a secure record carries.
#[derive(Debug, Clone, Copy)]
struct PointNames<'a> {
    task: Task,
    activation: &'a str,
    method: &'a str,
}

/// The largest |activation input| seen in calibration (at least 1): the input range the failure bound of local
/// truncation and the per-element prices assume.
fn input_bound(loaded: &crate::models::Loaded) -> f64 {
    loaded.stats.iter().map(|s| s.histogram.lo.abs().max(s.histogram.hi.abs())).fold(1.0f64, f64::max)
}

/// A secure point on a loaded model with its chosen method: the first `samples` of `test` run end to end on secret
/// shares with one method for every activation layer, or — for `compact-per-layer` — the per-layer search's method
/// in each layer ([`model_zoo::secure::MethodPlan::PerLayer`]). Either way every batch's metered cost must equal the
/// prediction (else the point fails); a per-layer point also records every layer's choice
/// ([`PerLayerPricing::Metered`]).
fn secure_result(
    loaded: &crate::models::Loaded,
    chosen: &ChosenMethod,
    names: PointNames<'_>,
    recipes: &model_zoo::secure::TransformerRecipes,
    test: &model_zoo::Dataset,
    samples: usize,
    opts: &model_zoo::secure::SecureOptions,
) -> anyhow::Result<SecureResult> {
    use model_zoo::secure::{LayerKind, MethodPlan, evaluate_secure_with};
    let exported = loaded.net.export_folded()?;
    let layer_methods = chosen.per_layer.as_ref().map(|c| c.methods());
    let plan = match &layer_methods {
        None => MethodPlan::Shared(chosen.method.as_ref()),
        Some(ms) => MethodPlan::per_layer(ms),
    };
    let r = evaluate_secure_with(&exported, plan, recipes, test, samples, opts)?;
    let per_layer = match &chosen.per_layer {
        None => None,
        Some(c) => {
            let elements = exported.activation_elements_per_layer();
            let mut record = per_layer_record(c, &loaded.stats, &elements, input_bound(loaded))?;
            record.pricing = PerLayerPricing::Metered;
            Some(record)
        }
    };
    let c = &r.metered;
    Ok(SecureResult {
        task: names.task.name().to_string(),
        activation: names.activation.to_string(),
        method: names.method.to_string(),
        depth: loaded.net.config.arch.depth(),
        model: loaded.sidecar.clone(),
        tau: chosen.search.as_ref().and_then(|o| o.tau),
        samples: r.samples,
        truncation: r.truncation,
        secure_accuracy: r.secure_accuracy,
        plain_accuracy: r.plain_accuracy,
        accuracy_gap_points: 100.0 * (r.secure_accuracy - r.plain_accuracy),
        agreement: r.agreement,
        max_logit_diff: r.max_logit_diff,
        bytes_per_inference: c.total.bytes_per_party.get(),
        rounds_per_inference: c.total.rounds.get(),
        offline_bytes_per_inference: c.total.offline_bytes_per_party.get(),
        activation_bytes_per_inference: c.of_kind(LayerKind::Activation).bytes_per_party.get(),
        linear_bytes_per_inference: c.of_kind(LayerKind::Linear).bytes_per_party.get(),
        pooling_bytes_per_inference: c.of_kind(LayerKind::Pooling).bytes_per_party.get(),
        by_kind: c.by_kind(),
        recipes: exported.is_transformer().then(|| {
            let (softmax, layer_norm) = recipes.names();
            crate::records::RecipeNames { softmax: softmax.to_string(), layer_norm: layer_norm.to_string() }
        }),
        lan_s_per_inference: mpc_sim::Network::LAN.latency_s(&c.total),
        wan_s_per_inference: mpc_sim::Network::WAN.latency_s(&c.total),
        secure_seconds: r.secure_seconds,
        plain_seconds: r.plain_seconds,
        metered: r.metered.clone(),
        backend: r.backend,
        per_layer,
    })
}

/// The cost of one secure inference (batch of one) of the whole model with every activation evaluated by the
/// method, as *metered* on `mpc-sim`'s two-party session: the first test sample is run securely and its per-layer
/// counters must equal the [`model_zoo::secure::predict_cost`] prediction exactly (otherwise the point fails).
/// Weights are masked once per model (the `setup` cost, not per inference); see [`model_zoo::secure`].
///
/// Meters one secure inference of `net` on the first sample of `data` and checks it against the prediction.
pub fn measured_inference(
    net: &model_zoo::Network,
    method: &dyn SecureMethod,
    data: &model_zoo::Dataset,
    seed: u64,
) -> anyhow::Result<InferenceSummary> {
    inference_summary(net, metered_cost(net, method, data, seed, Backend::Beaver)?)
}

/// One secure inference of `net` (first sample of `data`, batch of one) on `backend`, metered; `evaluate_secure`
/// fails unless the metered cost equals the prediction.
fn metered_cost(
    net: &model_zoo::Network,
    method: &dyn SecureMethod,
    data: &model_zoo::Dataset,
    seed: u64,
    backend: Backend,
) -> anyhow::Result<model_zoo::secure::InferenceCost> {
    use model_zoo::secure::{SecureOptions, evaluate_secure};
    let exported = net.export_folded()?;
    let opts = SecureOptions { batch: 1, seed, truncation: SECURE_TRUNCATION, backend, ..SecureOptions::default() };
    Ok(evaluate_secure(&exported, method, data, 1, &opts)?.metered)
}

/// The record's per-layer-kind summary of a metered inference.
fn inference_summary(net: &model_zoo::Network, c: model_zoo::secure::InferenceCost) -> anyhow::Result<InferenceSummary> {
    use model_zoo::secure::LayerKind;
    let exported = net.export_folded()?;
    Ok(InferenceSummary {
        total: c.total,
        linear: c.of_kind(LayerKind::Linear),
        activation: c.of_kind(LayerKind::Activation),
        pooling: c.of_kind(LayerKind::Pooling),
        output: c.of_kind(LayerKind::Output),
        setup: c.setup,
        activation_elements: exported.activation_elements(),
        activation_layers: exported.n_activation_layers(),
        layers: c.layers,
    })
}

/// A method's price on one backend: per element from the backend's cost evaluator
/// ([`SecureMethod::backend_cost`], |x| ≤ `input_bound`), per inference from a metered inference `c`.
fn backend_price(
    method: &dyn SecureMethod,
    backend: Backend,
    c: &model_zoo::secure::InferenceCost,
    input_bound: f64,
) -> anyhow::Result<BackendPrice> {
    let e = method.backend_cost(backend == Backend::Fss, SECURE_TRUNCATION, input_bound)?.cost;
    Ok(price(
        backend,
        [e.rounds.get(), e.bytes_per_party.get(), e.offline_bytes_per_party.get(), e.aes_calls_per_party.get()],
        c,
    ))
}

/// A [`BackendPrice`] from the per-element `[rounds, online bytes, key bytes, AES calls]` and the inference `c`.
fn price(backend: Backend, [rounds, online, key, aes]: [u64; 4], c: &model_zoo::secure::InferenceCost) -> BackendPrice {
    BackendPrice {
        backend,
        rounds_per_element: rounds,
        online_bytes_per_element: online,
        key_bytes_per_element: key,
        aes_calls_per_element: aes,
        rounds_per_inference: c.total.rounds.get(),
        bytes_per_inference: c.total.bytes_per_party.get(),
        offline_bytes_per_inference: c.total.offline_bytes_per_party.get(),
        aes_calls_per_inference: c.aes_calls.get(),
        lan_s_per_inference: mpc_sim::Network::LAN.latency_s(&c.total),
        wan_s_per_inference: mpc_sim::Network::WAN.latency_s(&c.total),
    }
}

/// A method's fixed-point curve on [`crate::records::density_curve_grid`].
fn density_curve(method: &dyn SecureMethod) -> anyhow::Result<Curve> {
    let x = crate::records::density_curve_grid();
    let y = method.eval_fixed(&x)?;
    Ok(Curve { x, y })
}

/// A per-element price under one truncation protocol: one method's, or the element-weighted mean (bytes) and the
/// largest (rounds, comparisons, failure bound) over a per-layer plan's methods.
#[derive(Debug, Clone, Copy)]
struct ElementPrice {
    bytes: u64,
    rounds: u64,
    comparisons: u64,
    failure_bound: f64,
}

impl ElementPrice {
    fn of(c: secure_methods::MethodCost) -> Self {
        ElementPrice {
            bytes: c.cost.bytes_per_party.get(),
            rounds: c.cost.rounds.get(),
            comparisons: c.cost.comparisons.get(),
            failure_bound: c.failure_bound,
        }
    }

    fn mean(methods: &[std::sync::Arc<dyn SecureMethod>], elements: &[usize], truncation: Truncation, input_bound: f64) -> anyhow::Result<Self> {
        let mut out = ElementPrice { bytes: 0, rounds: 0, comparisons: 0, failure_bound: 0.0 };
        let mut total = 0u64;
        for (m, &n) in methods.iter().zip(elements) {
            let c = ElementPrice::of(m.cost(truncation, input_bound)?);
            out.bytes += c.bytes * n as u64;
            total += n as u64;
            out.rounds = out.rounds.max(c.rounds);
            out.comparisons = out.comparisons.max(c.comparisons);
            out.failure_bound = out.failure_bound.max(c.failure_bound);
        }
        out.bytes /= total.max(1);
        Ok(out)
    }
}

/// One inference (first sample of `data`, batch of one) with layer ℓ's activation evaluated by `methods[ℓ]`, as
/// predicted by `backend`'s cost evaluator ([`crate::per_layer::combine_per_layer`]).
fn per_layer_predicted(
    net: &model_zoo::Network,
    methods: &[std::sync::Arc<dyn SecureMethod>],
    data: &model_zoo::Dataset,
    elements: &[usize],
    backend: Backend,
    input_bound: f64,
) -> anyhow::Result<model_zoo::secure::InferenceCost> {
    let exported = net.export_folded()?;
    let d = data.sample_len();
    if data.is_empty() {
        bail!("cannot price an inference on an empty dataset; check eval_limit");
    }
    let mut preds = Vec::with_capacity(methods.len());
    let mut aes = Vec::with_capacity(methods.len());
    for m in methods {
        preds.push(model_zoo::secure::predict_batch_cost(
            &exported,
            &model_zoo::secure::MethodPlan::Shared(m.as_ref()),
            &model_zoo::secure::TransformerRecipes::default(),
            m.fixed_point(),
            SECURE_TRUNCATION,
            backend,
            &data.features[..d],
            1,
        )?);
        aes.push(m.backend_cost(backend == Backend::Fss, SECURE_TRUNCATION, input_bound)?.cost.aes_calls_per_party.get());
    }
    crate::per_layer::combine_per_layer(&preds, &aes, elements)
}

/// [`backend_price`] of a per-layer plan: per element the element-weighted means (bytes, AES calls) and the largest
/// rounds over the layers, per inference the combined prediction `c`.
fn per_layer_backend_price(
    methods: &[std::sync::Arc<dyn SecureMethod>],
    elements: &[usize],
    backend: Backend,
    c: &model_zoo::secure::InferenceCost,
    input_bound: f64,
) -> anyhow::Result<BackendPrice> {
    let (mut online, mut key, mut aes, mut rounds, mut total) = (0u64, 0u64, 0u64, 0u64, 0u64);
    for (m, &n) in methods.iter().zip(elements) {
        let e = m.backend_cost(backend == Backend::Fss, SECURE_TRUNCATION, input_bound)?.cost;
        let n = n as u64;
        online += e.bytes_per_party.get() * n;
        key += e.offline_bytes_per_party.get() * n;
        aes += e.aes_calls_per_party.get() * n;
        rounds = rounds.max(e.rounds.get());
        total += n;
    }
    let total = total.max(1);
    Ok(price(backend, [rounds, online / total, key / total, aes / total], c))
}

/// The record of a per-layer choice: every layer's candidate, priced per element on both backends, with the input
/// density it was fitted to.
fn per_layer_record(
    choice: &crate::per_layer::PerLayerChoice,
    stats: &[model_zoo::ActivationStats],
    elements: &[usize],
    input_bound: f64,
) -> anyhow::Result<PerLayerResult> {
    let mut layers = Vec::with_capacity(choice.layers.len());
    for ((c, s), &n) in choice.layers.iter().zip(stats).zip(elements) {
        let b = c.method.backend_cost(false, SECURE_TRUNCATION, input_bound)?.cost;
        let f = c.method.backend_cost(true, SECURE_TRUNCATION, input_bound)?.cost;
        layers.push(LayerChoice {
            layer: s.index,
            elements: n,
            structure: c.structure.clone(),
            tau: c.tau,
            beaver_bytes_per_element: b.bytes_per_party.get(),
            beaver_rounds_per_element: b.rounds.get(),
            fss_bytes_per_element: f.bytes_per_party.get(),
            fss_key_bytes_per_element: f.offline_bytes_per_party.get(),
            fss_rounds_per_element: f.rounds.get(),
            approximation: c.approximation.clone(),
            density: LayerDensity { mean: s.mean, std: s.std, histogram: s.histogram.clone() },
            curve: density_curve(c.method.as_ref())?,
        });
    }
    Ok(PerLayerResult { layers, pricing: PerLayerPricing::Predicted, evaluations: choice.evaluations })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::piecewise_fn;
    use std::sync::Arc;
    use activation_approx::{FixedPoint, PiecewisePoly};

    fn paths() -> Paths {
        Paths { data_root: "datasets".into(), models: "results/models".into() }
    }

    fn spec(kind: &str, grid: &str, params: &str) -> Spec {
        Spec::parse(&format!("name = \"t\"\nkind = \"{kind}\"\n[grid]\n{grid}\n[params]\n{params}\n")).unwrap()
    }

    #[test]
    fn bad_names_are_clear_errors() {
        let acc = executor("accuracy", &paths()).unwrap();
        let cases = [
            (r#"task = ["mnist"]
activation = ["swsh"]"#, "", "unknown activation 'swsh'"),
            (r#"task = ["mnist"]
method = ["nfgn"]"#, "", "unknown method 'nfgn'"),
            (r#"task = ["cifar100"]"#, "", "cifar100"),
            (r#"activation = ["silu"]"#, "", "needs a 'task' axis"),
            (r#"task = ["mnist"]"#, "nu = 2.0", "nu = 2"),
            (r#"task = ["mnist"]"#, "colour = 1", "unknown parameter 'colour'"),
            (r#"task = ["mnist"]"#, "backend = \"gpu\"", "backend `gpu`: choose beaver or fss"),
            (r#"task = ["mnist"]"#, "backend = 1", "must be \"beaver\" or \"fss\""),
        ];
        for (grid, params, want) in cases {
            let err = acc.validate(&spec("accuracy", grid, params)).unwrap_err().to_string();
            assert!(err.contains(want), "{grid} / {params}: {err}");
        }
        let sec = executor("secure", &paths()).unwrap();
        for (params, want) in [("samples = 0", "samples = 0"), ("eval_limt = 10", "unknown parameter 'eval_limt'"), ("nu = 0", "nu = 0")] {
            let err = sec.validate(&spec("secure", "task = [\"mnist\"]", params)).unwrap_err().to_string();
            assert!(err.contains(want), "{params}: {err}");
        }
        sec.validate(&spec("secure", "task = [\"mnist\"]", "samples = 10\ncnn_samples = 5")).unwrap();
        sec.validate(&spec("secure", "task = [\"mnist\"]", "backend = \"fss\"")).unwrap();
        sec.validate(&spec("secure", "task = [\"mnist-vit\"]", "transformer_samples = 20\nsoftmax = \"crypten\"\nlayer_norm = \"crypten\""))
            .unwrap();
        for (params, want) in [
            ("softmax = \"fast\"", "softmax recipe 'fast'"),
            ("layer_norm = 3", "parameter 'layer_norm' = 3 must be a string"),
            ("transformer_samples = 0", "transformer_samples = 0"),
        ] {
            let err = sec.validate(&spec("secure", "task = [\"spam-text\"]", params)).unwrap_err().to_string();
            assert!(err.contains(want), "{params}: {err}");
        }
        // Transformer models exist for GELU only: their SiLU points are skipped, their GELU points kept.
        let grid = "task = [\"mnist-vit\", \"mnist\"]\nactivation = [\"silu\", \"gelu\"]\nmethod = [\"nfgen\"]";
        let point = |task: &str, act: &str| Point {
            index: 0,
            activation: Some(act.into()),
            method: Some("nfgen".into()),
            task: Some(task.into()),
            depth: None,
            density: None,
            nu: None,
        };
        let s = spec("secure", grid, "");
        assert!(!sec.applicable(&s, &point("mnist-vit", "silu")));
        assert!(sec.applicable(&s, &point("mnist-vit", "gelu")) && sec.applicable(&s, &point("mnist", "silu")));
        acc.validate(&spec("accuracy", "task = [\"mnist\"]", "backend = \"beaver\"")).unwrap();
        let Err(err) = executor("acuracy", &paths()) else { panic!("unknown kind accepted") };
        let err = err.to_string();
        assert!(err.contains("unknown experiment kind 'acuracy'") && err.contains("accuracy"), "{err}");
    }

    #[test]
    fn tabulated_functions_equal_direct_fixed_point_evaluation() {
        let reg = MethodRegistry::builtin();
        let puma: Arc<dyn SecureMethod> = Arc::from(reg.build("puma", &BuildContext::new("gelu").unwrap()).unwrap());
        let f = method_fn(puma.clone()).unwrap();
        let xs = [-40.0, -31.99, -3.7, -1.95, -1e-5, 0.0, 0.4, 2.999, 3.0, 33.5];
        let direct = puma.eval_fixed(&xs).unwrap();
        for (x, want) in xs.iter().zip(direct) {
            assert_eq!(f(*x), want, "x = {x}");
        }
        let pp = puma_like_piecewise();
        let g = piecewise_fn(&pp, FixedPoint::default()).unwrap();
        for x in xs {
            assert_eq!(g(x), pp.eval_fixed(&FixedPoint::default(), x).unwrap(), "x = {x}");
        }
    }

    fn puma_like_piecewise() -> PiecewisePoly {
        use activation_approx::{Polynomial, Tail};
        PiecewisePoly::new(
            Tail::Zero,
            vec![-4.0, -1.95, 3.0],
            vec![Polynomial::new(vec![-0.5, -0.4, -0.1, -0.01]), Polynomial::new(vec![0.0085, 0.5, 0.36, 0.0, -0.037])],
            Tail::Identity,
        )
        .unwrap()
    }

    #[test]
    fn secure_points_run_the_per_layer_search_layer_by_layer() {
        use model_zoo::secure::{LayerKind, SecureOptions, TransformerRecipes, predict_cost_with};
        let loaded = crate::per_layer::tests::tiny_vit();
        let params = SearchParams { nu: 0.02, tau_lo: 1e-3, tau_hi: 1e-1, ladder: 3, backend: Backend::Beaver };
        let methods = crate::per_layer::method_registry();
        let cache = SearchCache::default();
        let per_layer = crate::per_layer::PER_LAYER;
        let chosen = choose_method(&methods, &loaded, "gelu", per_layer, json!({}), &params, 100, 7, &cache, "tiny").unwrap();
        let choice = chosen.per_layer.clone().unwrap();
        let recipes = TransformerRecipes::default();
        let opts = SecureOptions { batch: 2, seed: 3, truncation: SECURE_TRUNCATION, backend: Backend::Beaver, ..SecureOptions::default() };
        let names = PointNames { task: Task::MnistVit, activation: "gelu", method: per_layer };
        let r = secure_result(&loaded, &chosen, names, &recipes, &loaded.test, 4, &opts).unwrap();
        // The record lists the search's choice, layer by layer, metered.
        let rec = r.per_layer.as_ref().unwrap();
        assert_eq!(rec.pricing, PerLayerPricing::Metered);
        assert_eq!(rec.evaluations, choice.evaluations);
        let structures = |ls: &[crate::records::LayerChoice]| ls.iter().map(|l| l.structure.clone()).collect::<Vec<_>>();
        assert_eq!(structures(&rec.layers), choice.layers.iter().map(|c| c.structure.clone()).collect::<Vec<_>>());
        assert!(r.max_logit_diff < 2e-2 && (0.0..=1.0).contains(&r.agreement), "{} {}", r.max_logit_diff, r.agreement);
        // Each activation layer costs what its own method costs in that layer (metered = predicted is checked by
        // the secure pass itself); the other layers are the shared ones.
        let exported = loaded.net.export_folded().unwrap();
        let acts: Vec<usize> =
            r.metered.layers.iter().enumerate().filter(|(_, l)| l.kind == LayerKind::Activation).map(|(i, _)| i).collect();
        assert_eq!(acts.len(), choice.layers.len());
        for (l, (&pos, m)) in acts.iter().zip(choice.methods()).enumerate() {
            let alone = predict_cost_with(&exported, m.as_ref(), &recipes, opts.fx, SECURE_TRUNCATION, Backend::Beaver).unwrap();
            assert_eq!(r.metered.layers[pos], alone.layers[pos], "layer {l}");
        }
        // The accuracy experiment's price of the same choice (predicted, combined layer by layer) is what the secure
        // pass metered.
        let elements = exported.activation_elements_per_layer();
        let predicted =
            per_layer_predicted(&loaded.net, &choice.methods(), &loaded.test, &elements, Backend::Beaver, input_bound(&loaded)).unwrap();
        assert_eq!(predicted.total, r.metered.total);
        assert_eq!(predicted.layers, r.metered.layers);
        // One method for every layer: no per-layer record.
        let shared = choose_method(&methods, &loaded, "gelu", "puma", json!({}), &params, 100, 7, &cache, "tiny").unwrap();
        let names = PointNames { method: "puma", ..names };
        assert!(secure_result(&loaded, &shared, names, &recipes, &loaded.test, 2, &opts).unwrap().per_layer.is_none());
    }

    #[test]
    fn missing_model_names_the_way_out() {
        let dir = tempfile::tempdir().unwrap();
        let acc = Accuracy::new(Paths { data_root: dir.path().into(), models: dir.path().into() });
        let s = spec("accuracy", "task = [\"mnist\"]\nactivation = [\"silu\"]\nmethod = [\"nfgen\"]", "");
        let err = acc.run(&s, &s.points()[0], 1).unwrap_err().to_string();
        assert!(err.contains("mnist-silu") && err.contains("make train"), "{err}");
    }

    #[test]
    fn approximation_point_records_cost_and_curve() {
        let ex = Approximation::new();
        let s = spec("approximation", "activation = [\"gelu\"]\nmethod = [\"puma\"]", "");
        ex.validate(&s).unwrap();
        let out = ex.run(&s, &s.points()[0], 0).unwrap();
        // PUMA GeLU under dealer-pair truncation (the table's protocol): 3 comparisons and selections (3·80), the
        // powers the spline uses, x² (8), x³ = x·x² (16), x⁴ = (x²)² (8), x⁶ = x⁴·x² (16), each truncated (4·8),
        // and the final truncation (8).
        assert_eq!(out["bytes"], 328);
        assert_eq!(out["curve"]["x"].as_array().unwrap().len(), 257);
        assert!(!ex.applicable(&spec("approximation", "activation = [\"mish\"]\nmethod = [\"puma\"]", ""), &Point {
            index: 0,
            activation: Some("mish".into()),
            method: Some("puma".into()),
            task: None,
            depth: None,
            density: None,
            nu: None,
        }));
    }
}

/// What the model executors (accuracy and secure) need for a point: its names, its cached model, the load and
/// search parameters, and the method chosen for it (Compact's accuracy-constrained search, or the registry's).
struct PointSetup<'p> {
    task: Task,
    act_name: &'p str,
    method_name: &'p str,
    load: LoadParams,
    loaded: std::sync::Arc<crate::models::Loaded>,
    search: SearchParams,
    chosen: ChosenMethod,
}

impl Accuracy {
    /// Loads the point's model (cached) and chooses its method.
    fn set_up<'p>(&self, spec: &Spec, point: &'p Point) -> anyhow::Result<PointSetup<'p>> {
        let task: Task = need(point, "task", &point.task)?.parse()?;
        let act_name = need(point, "activation", &point.activation)?;
        let method_name = need(point, "method", &point.method)?;
        let load = LoadParams::from_spec(spec)?;
        let loaded = self.cache.load_cached(spec, task, act_name, point.depth)?;
        let search = SearchParams::for_point(spec, Some(point))?;
        let config = method_config(spec, method_name)?;
        let (model_key, search_seed) = search_identity(spec, point, &load);
        let chosen = choose_method(
            &self.methods,
            &loaded,
            act_name,
            method_name,
            config,
            &search,
            load.batch,
            search_seed,
            &self.searches,
            &model_key,
        )?;
        Ok(PointSetup { task, act_name, method_name, load, loaded, search, chosen })
    }
}

/// The truncation protocol of the secure runs and their costs, the same for every method (SecureOptions' default).
const SECURE_TRUNCATION: Truncation = Truncation::DealerPair;
