//! The experiment kinds: what one sweep point computes.
//!
//! - `approximation` (activation × method × density): structure, errors and per-element MPC cost of each method,
//!   plus the curve for the figures.
//! - `accuracy` (task × activation × method [× depth]): the model's test accuracy with every activation replaced by
//!   the method's fixed-point emulation. For `compact` this is the accuracy-constrained search of the paper: the
//!   input density comes from the model's own activation statistics (calibration histogram on the training split),
//!   and an outer bisection on the weighted-error tolerance τ keeps the loosest τ whose *validation* relative
//!   accuracy loss (η − η′)/η stays ≤ ν; only then is the *test* accuracy measured. The depth sweep is this kind
//!   with a `depth` axis on the MNIST MLP.
//! - `secure` (task × activation × method [× depth]): the model run end to end on secret shares
//!   ([`model_zoo::secure`]) on the first `samples` test samples (`cnn_samples` for the CNN): secure accuracy, its
//!   agreement with the fixed-point plaintext run, the metered cost per inference and the wall-clock time.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use activation_approx::density::{DensitySpec, Empirical, Mixture};
use activation_approx::search::{AnnealConfig, Criterion, Fitter, anneal};
use activation_approx::{ActivationRegistry, CostModel, FixedPoint, PiecewisePoly, Truncation, TwoPartyCostModel};
use secure_methods::{BuildContext, MethodRegistry, SecureMethod, compact, measure};
use anyhow::{Context, bail};
use model_zoo::{ActFn, ActivationPlan, Task, TaskData};
use serde::Serialize;
use serde_json::json;

use crate::spec::{Point, Spec};
use crate::sweep::Executor;

/// The experiment kinds this runner knows.
pub const KINDS: &[&str] = &["approximation", "accuracy", "secure"];

/// Where the executors find their inputs.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Root of the fetched datasets (`datasets/`).
    pub data_root: PathBuf,
    /// Trained models with their sidecars (`results/models/`).
    pub models: PathBuf,
}

/// The executor for `spec.kind`.
pub fn executor(kind: &str, paths: &Paths) -> anyhow::Result<Box<dyn Executor>> {
    match kind {
        "approximation" => Ok(Box::new(Approximation::new())),
        "accuracy" => Ok(Box::new(Accuracy::new(paths.clone()))),
        "secure" => Ok(Box::new(Secure { accuracy: Accuracy::new(paths.clone()) })),
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
        Approximation { methods: MethodRegistry::builtin() }
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
        let report = measure(method.as_ref(), activation.as_ref(), &density, Truncation::DealerPair, 8.0)?;
        let xs = curve_grid();
        let ys = method.eval_fixed(&xs)?;
        let mut out = serde_json::to_value(&report)?;
        out["density"] = json!(density_text);
        out["curve"] = json!({ "x": xs, "y": ys });
        Ok(out)
    }
}

/// What one point evaluates: the trained model, the validation and test subsets it is scored on (the first
/// `eval_limit` samples), its exact accuracies and activation statistics. Built per point; only the task data are
/// cached across points.
#[derive(Debug)]
pub struct Loaded {
    /// The trained network.
    pub net: model_zoo::Network,
    /// Its sidecar.
    pub sidecar: model_zoo::Sidecar,
    /// Validation subset scored.
    pub val: model_zoo::Dataset,
    /// Test subset scored.
    pub test: model_zoo::Dataset,
    /// Exact-activation validation accuracy.
    pub exact_val: f64,
    /// Exact-activation test accuracy.
    pub exact_test: f64,
    /// Per activation layer statistics on a calibration sample of the training split.
    pub stats: Vec<model_zoo::ActivationStats>,
}

/// How a model is loaded and scored (the `accuracy` parameters of the same names).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadParams {
    /// Evaluation batch size.
    pub batch: usize,
    /// First samples of the validation and test splits scored (0 = all).
    pub eval_limit: usize,
    /// Calibration samples for the activation statistics.
    pub calibration: usize,
    /// Histogram bins of the statistics.
    pub bins: usize,
}

impl LoadParams {
    /// From a spec's parameters (defaults: batch 512, all samples, 2000 calibration samples, 256 bins).
    pub fn from_spec(spec: &Spec) -> anyhow::Result<Self> {
        Ok(LoadParams {
            batch: spec.param_usize("batch", 512)?,
            eval_limit: spec.param_usize("eval_limit", 0)?,
            calibration: spec.param_usize("calibration", 2000)?,
            bins: spec.param_usize("bins", 256)?,
        })
    }
}

/// The bisection of Compact's accuracy-constrained search: the loosest weighted-error tolerance τ in
/// [`tau_lo`, `tau_hi`] (log scale, `steps` halvings) whose validation relative accuracy loss stays ≤ ν.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchParams {
    /// Allowed relative accuracy loss ν.
    pub nu: f64,
    /// Tightest tolerance tried first (must meet ν).
    pub tau_lo: f64,
    /// Loosest tolerance.
    pub tau_hi: f64,
    /// Bisection steps after the first trial.
    pub steps: usize,
}

impl SearchParams {
    /// From a spec's parameters (defaults: ν = 0.01, τ ∈ [1e-4, 1e-1], 7 steps).
    pub fn from_spec(spec: &Spec) -> anyhow::Result<Self> {
        Ok(SearchParams {
            nu: spec.param_f64("nu", 0.01)?,
            tau_lo: spec.param_f64("tau_lo", 1e-4)?,
            tau_hi: spec.param_f64("tau_hi", 1e-1)?,
            steps: spec.param_usize("bisection_steps", 7)?,
        })
    }
}

/// The method a point evaluates, and for Compact how it was found.
#[derive(Debug, Clone)]
pub struct ChosenMethod {
    /// The method.
    pub method: Arc<dyn SecureMethod>,
    /// Compact: the tolerance kept.
    pub tau: Option<f64>,
    /// Compact: the bisection trials.
    pub trials: Vec<Trial>,
    /// Compact: the approximation.
    pub approximation: Option<PiecewisePoly>,
}

/// One trial of the bisection.
#[derive(Debug, Clone, Serialize)]
pub struct Trial {
    /// Tolerance τ.
    pub tau: f64,
    /// Bytes per element per party of the approximation found.
    pub bytes: u64,
    /// Validation accuracy with it.
    pub val_accuracy: f64,
    /// Validation relative accuracy loss.
    pub rel_loss: f64,
}

/// Compact's accuracy-constrained search on a loaded model (module docs): the density is the model's own
/// activation statistics; returns the approximation kept, its τ and every trial.
pub fn compact_search(
    loaded: &Loaded,
    activation: &dyn activation_approx::Activation,
    params: &SearchParams,
    batch: usize,
    seed: u64,
) -> anyhow::Result<(PiecewisePoly, f64, Vec<Trial>)> {
    let cost_model = TwoPartyCostModel::default();
    let fx = FixedPoint::default();
    let rel = |acc: f64| (loaded.exact_val - acc) / loaded.exact_val;
    let density = model_density(&loaded.stats)?;
    let (mut lo, mut hi) = (params.tau_lo.ln(), params.tau_hi.ln());
    let mut trials = Vec::new();
    let mut best: Option<(f64, PiecewisePoly)> = None;
    let fit = |tau: f64| -> anyhow::Result<PiecewisePoly> {
        let criterion = Criterion::weighted(density.clone(), tau, None)?;
        let fitter = Fitter::new(activation, &criterion, &cost_model);
        Ok(anneal(&fitter, &AnnealConfig { seed, ..AnnealConfig::default() })?.best.pp)
    };
    // The tightest τ must meet ν; if even it does not, report it as infeasible rather than pretend.
    for step in 0..=params.steps {
        let tau = if step == 0 { lo.exp() } else { ((lo + hi) / 2.0).exp() };
        let pp = fit(tau)?;
        let acc = accuracy_with(&loaded.net, &loaded.val, piecewise_fn(&pp, fx)?, batch)?;
        let ok = rel(acc) <= params.nu;
        trials.push(Trial { tau, bytes: cost_model.piecewise_cost(&pp).bytes_per_party, val_accuracy: acc, rel_loss: rel(acc) });
        if step == 0 {
            if !ok {
                bail!(
                    "compact misses ν = {} even at τ = {tau:e} (validation loss {:.3} %); lower tau_lo",
                    params.nu,
                    100.0 * rel(acc)
                );
            }
            best = Some((tau, pp));
            continue;
        }
        if ok {
            lo = tau.ln();
            best = Some((tau, pp));
        } else {
            hi = tau.ln();
        }
    }
    let (tau, pp) = best.context("bisection kept no feasible approximation")?;
    Ok((pp, tau, trials))
}

/// `accuracy`: model accuracy with approximated activations; Compact under the accuracy constraint.
pub struct Accuracy {
    paths: Paths,
    methods: MethodRegistry,
    data: Mutex<HashMap<Task, Arc<TaskData>>>,
    models: Mutex<HashMap<String, Arc<Loaded>>>,
}

impl std::fmt::Debug for Accuracy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accuracy").field("paths", &self.paths).finish()
    }
}

const ACCURACY_PARAMS: &[&str] =
    &["config", "nu", "tau_lo", "tau_hi", "bisection_steps", "calibration", "bins", "batch", "eval_limit"];
const SECURE_PARAMS: &[&str] = &[
    "config",
    "nu",
    "tau_lo",
    "tau_hi",
    "bisection_steps",
    "calibration",
    "bins",
    "batch",
    "eval_limit",
    "samples",
    "cnn_samples",
    "secure_batch",
];

/// The validation/test subsets actually evaluated (the first `limit` samples of each, or all).
pub fn limited(d: &model_zoo::Dataset, limit: usize) -> model_zoo::Dataset {
    if limit == 0 || d.len() <= limit {
        return d.clone();
    }
    let n = d.sample_shape.iter().product::<usize>();
    model_zoo::Dataset {
        features: d.features[..limit * n].to_vec(),
        labels: d.labels[..limit].to_vec(),
        sample_shape: d.sample_shape.clone(),
    }
}

/// The input density of a model's activations: the equal-weight mixture of every activation layer's calibration
/// histogram (one shared approximation per model).
pub fn model_density(stats: &[model_zoo::ActivationStats]) -> anyhow::Result<DensitySpec> {
    let mut comps = Vec::new();
    for s in stats {
        let h = &s.histogram;
        let n = h.counts.len();
        let w = (h.hi - h.lo) / n as f64;
        let edges: Vec<f64> = (0..=n).map(|k| h.lo + k as f64 * w).collect();
        let counts: Vec<f64> = h.counts.iter().map(|&c| c as f64).collect();
        let emp = Empirical::from_histogram(edges, counts)
            .with_context(|| format!("activation layer {} has an unusable histogram", s.index))?;
        comps.push((1.0, DensitySpec::Empirical(emp)));
    }
    if comps.is_empty() {
        bail!("the model has no activation layers to take a density from");
    }
    Ok(DensitySpec::Mixture(Mixture::new(comps)?))
}

impl Accuracy {
    /// Reads models from `paths.models` and data from `paths.data_root`.
    pub fn new(paths: Paths) -> Self {
        Accuracy {
            paths,
            methods: MethodRegistry::builtin(),
            data: Mutex::new(HashMap::new()),
            models: Mutex::new(HashMap::new()),
        }
    }

    /// The method for a point: for `compact` the accuracy-constrained search on the loaded model
    /// ([`compact_search`]); otherwise the registry's method, built with the model's own activation density (which
    /// only the Compact ablations use) and `config`.
    #[allow(clippy::too_many_arguments)]
    pub fn choose_method(
        &self,
        loaded: &Loaded,
        act_name: &str,
        method_name: &str,
        config: serde_json::Value,
        search: &SearchParams,
        batch: usize,
        seed: u64,
    ) -> anyhow::Result<ChosenMethod> {
        if method_name == "compact" {
            let activation = ActivationRegistry::builtin().get(act_name)?;
            let (pp, tau, trials) = compact_search(loaded, activation.as_ref(), search, batch, seed)?;
            let provenance = format!("accuracy-constrained search, ν = {}, τ = {tau:e}", search.nu);
            let method = compact::from_approximation(act_name, &pp, FixedPoint::default(), &provenance)?;
            return Ok(ChosenMethod { method: Arc::new(method), tau: Some(tau), trials, approximation: Some(pp) });
        }
        let density = serde_json::to_string(&model_density(&loaded.stats)?)?;
        let ctx = BuildContext::new(act_name)?.with_density(density).with_config(config);
        Ok(ChosenMethod { method: Arc::from(self.methods.build(method_name, &ctx)?), tau: None, trials: Vec::new(), approximation: None })
    }

    /// [`Accuracy::load`] of a point's default model, cached for the sweep: the model, its scored subsets, exact
    /// accuracies and statistics do not depend on the method, so the points of one model share them (the statistics
    /// use the experiment's seed, not the point's, so the result does not depend on which point loads first).
    fn load_cached(&self, spec: &Spec, task: Task, act: &str, depth: Option<usize>) -> anyhow::Result<Arc<Loaded>> {
        let params = LoadParams::from_spec(spec)?;
        let key = format!("{}/{act}/{depth:?}/{params:?}/{}", task.name(), spec.seed);
        let cached = self.models.lock().map_err(|_| anyhow::anyhow!("model cache poisoned"))?.get(&key).cloned();
        if let Some(l) = cached {
            return Ok(l);
        }
        let loaded = Arc::new(self.load(task, act, depth, None, &params, spec.seed)?);
        self.models.lock().map_err(|_| anyhow::anyhow!("model cache poisoned"))?.insert(key, loaded.clone());
        Ok(loaded)
    }

    /// The task's splits, loaded once and cached.
    pub fn task_data(&self, task: Task) -> anyhow::Result<Arc<TaskData>> {
        let mut cache = self.data.lock().map_err(|_| anyhow::anyhow!("data cache poisoned"))?;
        if let Some(d) = cache.get(&task) {
            return Ok(d.clone());
        }
        let d = Arc::new(model_zoo::load_task(task, &self.paths.data_root)?);
        cache.insert(task, d.clone());
        Ok(d)
    }

    /// The default model of (task, activation, depth) from the models folder, or the sidecar `model` if given;
    /// refuses a model trained for another task or activation.
    pub fn load(
        &self,
        task: Task,
        act: &str,
        depth: Option<usize>,
        model: Option<&std::path::Path>,
        params: &LoadParams,
        seed: u64,
    ) -> anyhow::Result<Loaded> {
        let sidecar_path = match model {
            Some(p) => p.to_path_buf(),
            None => {
                let ms = model_zoo::default_spec(task, act, depth)?;
                let p = self.paths.models.join(format!("{}.json", ms.stem));
                if !p.exists() {
                    bail!(
                        "no trained model '{}' in '{}'; run `make train` (or `make reproduce PROFILE=full`) to train it",
                        ms.stem,
                        self.paths.models.display()
                    );
                }
                p
            }
        };
        let (net, sidecar) = model_zoo::load_model(&sidecar_path, &ActivationRegistry::builtin())?;
        if sidecar.task != task.name() || sidecar.activation != act {
            bail!(
                "model '{}' was trained for task '{}' with '{}', not for task '{}' with '{act}'; pass a model of that task and activation",
                sidecar_path.display(),
                sidecar.task,
                sidecar.activation,
                task.name()
            );
        }
        let data = self.task_data(task)?;
        let (val, test) = (limited(&data.val, params.eval_limit), limited(&data.test, params.eval_limit));
        let exact_val = model_zoo::evaluate(&net, &val, &ActivationPlan::Exact, params.batch)?;
        let exact_test = model_zoo::evaluate(&net, &test, &ActivationPlan::Exact, params.batch)?;
        let stats = model_zoo::activation_statistics(&net, &data.train, params.calibration, params.bins, seed)?;
        Ok(Loaded { net, sidecar, val, test, exact_val, exact_test, stats })
    }
}

/// Accuracy of `net` on `d` with every activation replaced by `f`.
fn accuracy_with(net: &model_zoo::Network, d: &model_zoo::Dataset, f: ActFn, batch: usize) -> anyhow::Result<f64> {
    Ok(model_zoo::evaluate(net, d, &ActivationPlan::All(f), batch)?)
}

/// Inputs the lookup tables cover: |x| ≤ 32 (pre-activations beyond are rare and evaluated point by point).
const TABLE_HALF_RANGE: f64 = 32.0;

/// A fixed-point function as an element-wise [`ActFn`], exactly: x is encoded (round to nearest, saturating at the
/// ring's range), and the result is read from a table of the function over every code with |x| ≤
/// [`TABLE_HALF_RANGE`] — computed in one batch by `batch` — or computed by `single` beyond it. Since fixed-point
/// inputs are integers, this is bit-exact and turns a per-element program run into a lookup.
fn tabulated(
    fx: FixedPoint,
    batch: &dyn Fn(Vec<i64>) -> anyhow::Result<Vec<i64>>,
    single: Arc<dyn Fn(i64) -> f64 + Send + Sync>,
) -> anyhow::Result<ActFn> {
    let half = (TABLE_HALF_RANGE * fx.scale()) as i64;
    let out = batch((-half..=half).collect())?;
    if out.len() != (2 * half + 1) as usize {
        bail!("tabulation returned {} values for {} codes", out.len(), 2 * half + 1);
    }
    let table: Vec<f64> = out.into_iter().map(|v| fx.decode(v)).collect();
    let limit = fx.limit() / 2.0;
    Ok(Arc::new(move |x: f64| {
        let v = (x.clamp(-limit, limit) * fx.scale()).round() as i64;
        if v.abs() <= half { table[(v + half) as usize] } else { single(v) }
    }))
}

/// The fixed-point emulation of a piecewise polynomial as an element-wise function.
fn piecewise_fn(pp: &PiecewisePoly, fx: FixedPoint) -> anyhow::Result<ActFn> {
    let enc = Arc::new(pp.encode(&fx)?);
    let e = enc.clone();
    tabulated(fx, &|codes| Ok(codes.into_iter().map(|v| enc.eval(v)).collect()), Arc::new(move |v| fx.decode(e.eval(v))))
}

/// A method's fixed-point emulation as an element-wise function.
fn method_fn(method: Arc<dyn SecureMethod>) -> anyhow::Result<ActFn> {
    let (m, fx) = (method.clone(), method.fixed_point());
    // A point the program cannot evaluate yields NaN, which the accuracy then shows, never a made-up value.
    let single = Arc::new(move |v: i64| {
        m.eval_fixed_encoded(&[v]).ok().and_then(|r| r.first().map(|&y| fx.decode(y))).unwrap_or(f64::NAN)
    });
    tabulated(method.fixed_point(), &|codes| Ok(method.eval_fixed_encoded(&codes)?), single)
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
        let nu = spec.param_f64("nu", 0.01)?;
        if !(nu > 0.0 && nu < 1.0) {
            bail!("parameter nu = {nu} must be in (0, 1), e.g. 0.01 for a 1 % relative accuracy loss");
        }
        Ok(())
    }
}

impl Executor for Accuracy {
    fn validate(&self, spec: &Spec) -> anyhow::Result<()> {
        self.check_spec(spec, ACCURACY_PARAMS)
    }

    fn applicable(&self, _spec: &Spec, p: &Point) -> bool {
        match (&p.method, &p.activation) {
            (Some(m), Some(a)) if m != "compact" => self.methods.spec(m).is_ok_and(|s| s.supports(a)),
            _ => true,
        }
    }

    fn run(&self, spec: &Spec, point: &Point, seed: u64) -> anyhow::Result<serde_json::Value> {
        let task: Task = need(point, "task", &point.task)?.parse()?;
        let act_name = need(point, "activation", &point.activation)?;
        let method_name = need(point, "method", &point.method)?;
        let load = LoadParams::from_spec(spec)?;
        let loaded = self.load_cached(spec, task, act_name, point.depth)?;
        let (val, test) = (&loaded.val, &loaded.test);
        let search = SearchParams::from_spec(spec)?;
        let rel = |acc: f64| (loaded.exact_val - acc) / loaded.exact_val;
        // The failure bound of local truncation assumes the largest |activation input| seen in calibration.
        let input_bound =
            loaded.stats.iter().map(|s| s.histogram.lo.abs().max(s.histogram.hi.abs())).fold(1.0f64, f64::max);

        let chosen = self.choose_method(&loaded, act_name, method_name, method_config(spec, method_name)?, &search, load.batch, seed)?;
        let ChosenMethod { method, tau, trials, approximation } = chosen;
        let priced = method.cost(SECURE_TRUNCATION, input_bound)?;
        let local = method.cost(Truncation::Local, input_bound)?;
        let cost = priced.cost;
        let info = method.info();
        let mut summary = json!({ "pieces": info.pieces, "degrees": info.degrees, "range": info.range });
        if let Some(pp) = approximation {
            summary["approximation"] = serde_json::to_value(pp)?;
        }
        let f = method_fn(method.clone())?;
        let val_acc = accuracy_with(&loaded.net, val, f.clone(), load.batch)?;
        let test_acc = accuracy_with(&loaded.net, test, f, load.batch)?;
        let inference = measured_inference(&loaded.net, method.as_ref(), test, seed)?;
        Ok(json!({
            "task": task.name(),
            "activation": act_name,
            "method": method_name,
            "depth": loaded.net.config.arch.depth(),
            "model": loaded.sidecar,
            "exact_val_accuracy": loaded.exact_val,
            "exact_test_accuracy": loaded.exact_test,
            "val_accuracy": val_acc,
            "test_accuracy": test_acc,
            "val_rel_loss": rel(val_acc),
            "test_rel_loss": (loaded.exact_test - test_acc) / loaded.exact_test,
            "tau": tau,
            "trials": trials,
            "bytes_per_element": cost.bytes_per_party,
            "rounds_per_element": cost.rounds,
            "comparisons_per_element": cost.comparisons,
            "truncation": SECURE_TRUNCATION,
            "failure_bound": priced.failure_bound,
            "local_truncation": { "bytes_per_element": local.cost.bytes_per_party, "rounds_per_element": local.cost.rounds,
                                  "failure_bound": local.failure_bound, "input_bound": input_bound },
            "activation_elements_per_inference": inference.activation_elements,
            "activation_bytes_per_inference": inference.activation.bytes_per_party,
            "inference": inference,
            "bytes_per_inference": inference.total.bytes_per_party,
            "rounds_per_inference": inference.total.rounds,
            "lan_s_per_inference": mpc_sim::Network::LAN.latency_s(&inference.total),
            "wan_s_per_inference": mpc_sim::Network::WAN.latency_s(&inference.total),
            "approximation": summary,
        }))
    }
}

/// `secure`: the model run end to end on secret shares (module docs).
#[derive(Debug)]
pub struct Secure {
    accuracy: Accuracy,
}

impl Executor for Secure {
    fn validate(&self, spec: &Spec) -> anyhow::Result<()> {
        self.accuracy.check_spec(spec, SECURE_PARAMS)?;
        for key in ["samples", "cnn_samples", "secure_batch"] {
            if spec.param_usize(key, 1)? == 0 {
                bail!("parameter {key} = 0: use at least 1");
            }
        }
        Ok(())
    }

    fn applicable(&self, spec: &Spec, p: &Point) -> bool {
        self.accuracy.applicable(spec, p)
    }

    fn run(&self, spec: &Spec, point: &Point, seed: u64) -> anyhow::Result<serde_json::Value> {
        use model_zoo::secure::{LayerKind, SecureOptions, evaluate_secure};
        let task: Task = need(point, "task", &point.task)?.parse()?;
        let act_name = need(point, "activation", &point.activation)?;
        let method_name = need(point, "method", &point.method)?;
        let load = LoadParams::from_spec(spec)?;
        let loaded = self.accuracy.load_cached(spec, task, act_name, point.depth)?;
        let search = SearchParams::from_spec(spec)?;
        let config = method_config(spec, method_name)?;
        let chosen = self.accuracy.choose_method(&loaded, act_name, method_name, config, &search, load.batch, seed)?;
        let exported = loaded.net.export_folded()?;
        let cnn = exported.input_shape.len() == 3;
        let samples = if cnn { spec.param_usize("cnn_samples", 200)? } else { spec.param_usize("samples", 500)? };
        let batch = spec.param_usize("secure_batch", model_zoo::secure::default_batch(&exported))?;
        let data = self.accuracy.task_data(task)?;
        let opts = SecureOptions { batch, seed, ..SecureOptions::default() };
        let r = evaluate_secure(&exported, chosen.method.as_ref(), &data.test, samples.min(data.test.len()), &opts)?;
        let c = &r.metered;
        Ok(json!({
            "task": task.name(),
            "activation": act_name,
            "method": method_name,
            "depth": loaded.net.config.arch.depth(),
            "model": loaded.sidecar,
            "tau": chosen.tau,
            "samples": r.samples,
            "truncation": r.truncation,
            "secure_accuracy": r.secure_accuracy,
            "plain_accuracy": r.plain_accuracy,
            "accuracy_gap_points": 100.0 * (r.secure_accuracy - r.plain_accuracy),
            "agreement": r.agreement,
            "max_logit_diff": r.max_logit_diff,
            "bytes_per_inference": c.total.bytes_per_party,
            "rounds_per_inference": c.total.rounds,
            "offline_bytes_per_inference": c.total.offline_bytes_per_party,
            "activation_bytes_per_inference": c.of_kind(LayerKind::Activation).bytes_per_party,
            "linear_bytes_per_inference": c.of_kind(LayerKind::Linear).bytes_per_party,
            "pooling_bytes_per_inference": c.of_kind(LayerKind::Pooling).bytes_per_party,
            "lan_s_per_inference": mpc_sim::Network::LAN.latency_s(&c.total),
            "wan_s_per_inference": mpc_sim::Network::WAN.latency_s(&c.total),
            "secure_seconds": r.secure_seconds,
            "plain_seconds": r.plain_seconds,
            "metered": r.metered,
        }))
    }
}

/// The cost of one secure inference (batch of one) of the whole model with every activation evaluated by the
/// method, as *metered* on `mpc-sim`'s two-party session: the first test sample is run securely and its per-layer
/// counters must equal the [`model_zoo::secure::predict_cost`] prediction exactly (otherwise the point fails).
/// Weights are masked once per model (the `setup` cost, not per inference); see [`model_zoo::secure`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InferenceSummary {
    /// Online total per inference.
    pub total: mpc_sim::CommCost,
    /// Linear and convolution layers.
    pub linear: mpc_sim::CommCost,
    /// Activation layers.
    pub activation: mpc_sim::CommCost,
    /// Max-pooling layers.
    pub pooling: mpc_sim::CommCost,
    /// Opening the logits to the client.
    pub output: mpc_sim::CommCost,
    /// One-time set-up per model (opening the masked weights).
    pub setup: mpc_sim::CommCost,
    /// Activation elements per inference.
    pub activation_elements: usize,
    /// Activation layers.
    pub activation_layers: usize,
    /// Per-layer breakdown.
    pub layers: Vec<model_zoo::secure::LayerCost>,
}

/// The truncation protocol of the secure runs and their costs, the same for every method (SecureOptions' default).
const SECURE_TRUNCATION: Truncation = Truncation::DealerPair;

/// Meters one secure inference of `net` on the first sample of `data` and checks it against the prediction.
pub fn measured_inference(
    net: &model_zoo::Network,
    method: &dyn SecureMethod,
    data: &model_zoo::Dataset,
    seed: u64,
) -> anyhow::Result<InferenceSummary> {
    use model_zoo::secure::{LayerKind, SecureOptions, evaluate_secure};
    let exported = net.export_folded()?;
    let opts = SecureOptions { batch: 1, seed, truncation: SECURE_TRUNCATION, ..SecureOptions::default() };
    // evaluate_secure fails unless every batch's metered cost equals the prediction.
    let report = evaluate_secure(&exported, method, data, 1, &opts)?;
    let c = report.metered;
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

#[cfg(test)]
mod tests {
    use super::*;

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
        // PUMA GeLU: 3 comparisons and selections (3·80) plus its own powers x² (8), x³ = x·x² (16),
        // x⁴ = (x²)² (8), x⁶ = (x³)² (8) with the default model.
        assert_eq!(out["bytes"], 280);
        assert_eq!(out["curve"]["x"].as_array().unwrap().len(), 257);
        assert!(!ex.applicable(&spec("approximation", "activation = [\"mish\"]\nmethod = [\"puma\"]", ""), &Point {
            index: 0,
            activation: Some("mish".into()),
            method: Some("puma".into()),
            task: None,
            depth: None,
            density: None,
        }));
    }
}
