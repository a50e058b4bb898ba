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

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use activation_approx::baselines::report::measure;
use activation_approx::baselines::{BuildContext, MethodRegistry, SecureMethod};
use activation_approx::density::{DensitySpec, Empirical, Mixture};
use activation_approx::search::{AnnealConfig, Criterion, Fitter, anneal};
use activation_approx::{ActivationRegistry, CostModel, FixedPoint, PiecewisePoly, TwoPartyCostModel};
use anyhow::{Context, bail};
use model_zoo::{ActFn, ActivationPlan, Task, TaskData};
use serde::Serialize;
use serde_json::json;

use crate::spec::{Point, Spec};
use crate::sweep::Executor;

/// The experiment kinds this runner knows.
pub const KINDS: &[&str] = &["approximation", "accuracy"];

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
        let report = measure(method.as_ref(), activation.as_ref(), &density, &TwoPartyCostModel::default())?;
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
struct Loaded {
    net: model_zoo::Network,
    sidecar: model_zoo::Sidecar,
    val: model_zoo::Dataset,
    test: model_zoo::Dataset,
    exact_val: f64,
    exact_test: f64,
    stats: Vec<model_zoo::ActivationStats>,
}

/// `accuracy`: model accuracy with approximated activations; Compact under the accuracy constraint.
pub struct Accuracy {
    paths: Paths,
    methods: MethodRegistry,
    data: Mutex<HashMap<Task, Arc<TaskData>>>,
}

impl std::fmt::Debug for Accuracy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accuracy").field("paths", &self.paths).finish()
    }
}

const ACCURACY_PARAMS: &[&str] =
    &["config", "nu", "tau_lo", "tau_hi", "bisection_steps", "calibration", "bins", "batch", "eval_limit"];

/// The validation/test subsets actually evaluated (the first `limit` samples of each, or all).
fn limited(d: &model_zoo::Dataset, limit: usize) -> model_zoo::Dataset {
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
        Accuracy { paths, methods: MethodRegistry::builtin(), data: Mutex::new(HashMap::new()) }
    }

    fn task_data(&self, task: Task) -> anyhow::Result<Arc<TaskData>> {
        let mut cache = self.data.lock().map_err(|_| anyhow::anyhow!("data cache poisoned"))?;
        if let Some(d) = cache.get(&task) {
            return Ok(d.clone());
        }
        let d = Arc::new(model_zoo::load_task(task, &self.paths.data_root)?);
        cache.insert(task, d.clone());
        Ok(d)
    }

    fn load(&self, spec: &Spec, task: Task, act: &str, depth: Option<usize>, seed: u64) -> anyhow::Result<Loaded> {
        let ms = model_zoo::default_spec(task, act, depth)?;
        let sidecar_path = self.paths.models.join(format!("{}.json", ms.stem));
        if !sidecar_path.exists() {
            bail!(
                "no trained model '{}' in '{}'; run `make train` (or `make reproduce PROFILE=full`) to train it",
                ms.stem,
                self.paths.models.display()
            );
        }
        let (net, sidecar) = model_zoo::load_model(&sidecar_path, &ActivationRegistry::builtin())?;
        let data = self.task_data(task)?;
        let batch = spec.param_usize("batch", 512)?;
        let limit = spec.param_usize("eval_limit", 0)?;
        let (val, test) = (limited(&data.val, limit), limited(&data.test, limit));
        let exact_val = model_zoo::evaluate(&net, &val, &ActivationPlan::Exact, batch)?;
        let exact_test = model_zoo::evaluate(&net, &test, &ActivationPlan::Exact, batch)?;
        let stats = model_zoo::activation_statistics(
            &net,
            &data.train,
            spec.param_usize("calibration", 2000)?,
            spec.param_usize("bins", 256)?,
            seed,
        )?;
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
        m.eval_fixed_encoded(vec![v]).ok().and_then(|r| r.first().map(|&y| fx.decode(y))).unwrap_or(f64::NAN)
    });
    tabulated(method.fixed_point(), &|codes| Ok(method.eval_fixed_encoded(codes)?), single)
}

#[derive(Debug, Serialize)]
struct Trial {
    tau: f64,
    bytes: u64,
    val_accuracy: f64,
    rel_loss: f64,
}

impl Executor for Accuracy {
    fn validate(&self, spec: &Spec) -> anyhow::Result<()> {
        spec.check_params(ACCURACY_PARAMS)?;
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
        let activation = ActivationRegistry::builtin().get(act_name)?;
        let loaded = self.load(spec, task, act_name, point.depth, seed)?;
        let batch = spec.param_usize("batch", 512)?;
        let (val, test) = (&loaded.val, &loaded.test);
        let nu = spec.param_f64("nu", 0.01)?;
        let cost_model = TwoPartyCostModel::default();
        let fx = FixedPoint::default();
        let rel = |acc: f64| (loaded.exact_val - acc) / loaded.exact_val;

        let (f, cost, tau, trials, summary): (ActFn, _, Option<f64>, Vec<Trial>, serde_json::Value) =
            if method_name == "compact" {
                let density = model_density(&loaded.stats)?;
                let (mut lo, mut hi) = (spec.param_f64("tau_lo", 1e-4)?.ln(), spec.param_f64("tau_hi", 1e-1)?.ln());
                let steps = spec.param_usize("bisection_steps", 7)?;
                let mut trials = Vec::new();
                let mut best: Option<(f64, PiecewisePoly)> = None;
                let fit = |tau: f64| -> anyhow::Result<PiecewisePoly> {
                    let criterion = Criterion::weighted(density.clone(), tau, None)?;
                    let fitter = Fitter::new(activation.as_ref(), &criterion, &cost_model);
                    Ok(anneal(&fitter, &AnnealConfig { seed, ..AnnealConfig::default() })?.best.pp)
                };
                // The tightest τ must meet ν; if even it does not, report it as infeasible rather than pretend.
                for step in 0..=steps {
                    let tau = if step == 0 { lo.exp() } else { ((lo + hi) / 2.0).exp() };
                    let pp = fit(tau)?;
                    let acc = accuracy_with(&loaded.net, val, piecewise_fn(&pp, fx)?, batch)?;
                    let ok = rel(acc) <= nu;
                    trials.push(Trial {
                        tau,
                        bytes: cost_model.piecewise_cost(&pp).bytes_per_party,
                        val_accuracy: acc,
                        rel_loss: rel(acc),
                    });
                    if step == 0 {
                        if !ok {
                            bail!(
                                "compact misses ν = {nu} even at τ = {tau:e} (validation loss {:.3} %); lower tau_lo",
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
                let cost = cost_model.piecewise_cost(&pp);
                let summary = json!({
                    "pieces": pp.n_pieces(),
                    "degrees": pp.pieces.iter().map(|p| p.effective_degree()).collect::<Vec<_>>(),
                    "range": pp.range(),
                    "approximation": pp,
                });
                (piecewise_fn(&pp, fx)?, cost, Some(tau), trials, summary)
            } else {
                // Density-aware methods (the Compact ablations) see the model's own density, like Compact.
                let density = serde_json::to_string(&model_density(&loaded.stats)?)?;
                let ctx = BuildContext::new(act_name)?.with_density(density).with_config(method_config(spec, method_name)?);
                let method: Arc<dyn SecureMethod> = Arc::from(self.methods.build(method_name, &ctx)?);
                let cost = method.cost(&cost_model);
                let info = method.info();
                let summary = json!({ "pieces": info.pieces, "degrees": info.degrees, "range": info.range });
                (method_fn(method)?, cost, None, Vec::new(), summary)
            };
        let val_acc = accuracy_with(&loaded.net, val, f.clone(), batch)?;
        let test_acc = accuracy_with(&loaded.net, test, f, batch)?;
        let inference = inference_cost(&loaded.net, &cost)?;
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
            "activation_elements_per_inference": inference.activation_elements,
            "activation_bytes_per_inference": inference.activation_bytes,
            "inference": inference,
            "bytes_per_inference": inference.bytes(),
            "rounds_per_inference": inference.rounds(),
            "lan_s_per_inference": inference.seconds(&mpc_sim::Network::LAN),
            "wan_s_per_inference": inference.seconds(&mpc_sim::Network::WAN),
            "approximation": summary,
        }))
    }
}

/// The predicted two-party cost of one inference (batch of one): linear and convolution layers as matrix products
/// with secret-shared weights by matrix triples (BatchNorm folded, local truncation), every activation layer at the
/// method's per-element cost (all elements of a layer in parallel, so its rounds count once per layer).
///
/// The weights are fixed across inferences, so the dealer's mask B of each weight matrix is fixed too and the
/// masked weights W − B are opened once per model (`setup_bytes`, the k·n part of mpc-sim's `predict::matmul`);
/// each inference then opens only its masked input X − A (8·m·k bytes per party, one round) against a fresh A and
/// C = A·B. Max pooling is not priced here (the secure-inference pass meters it); MLPs have none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct InferenceCost {
    /// Activation elements evaluated.
    pub activation_elements: usize,
    /// Activation layers.
    pub activation_layers: usize,
    /// Bytes one party sends in the linear layers.
    pub linear_bytes: u64,
    /// Rounds of the linear layers.
    pub linear_rounds: u64,
    /// One-time bytes per party to open the masked weights (not per inference).
    pub setup_bytes: u64,
    /// Bytes one party sends in the activation layers.
    pub activation_bytes: u64,
    /// Rounds of the activation layers.
    pub activation_rounds: u64,
    /// Max-pooling layers left unpriced.
    pub unpriced_pooling_layers: usize,
}

impl InferenceCost {
    /// Total bytes per party.
    pub fn bytes(&self) -> u64 {
        self.linear_bytes + self.activation_bytes
    }
    /// Total rounds.
    pub fn rounds(&self) -> u64 {
        self.linear_rounds + self.activation_rounds
    }
    /// Estimated seconds on `net`.
    pub fn seconds(&self, net: &mpc_sim::Network) -> f64 {
        net.latency_s(&mpc_sim::CommCost::new(self.rounds(), self.bytes(), 0))
    }
}

/// Follows the per-sample shape through the exported layers and prices one inference whose activations cost
/// `per_element` each.
pub fn inference_cost(net: &model_zoo::Network, per_element: &activation_approx::Cost) -> anyhow::Result<InferenceCost> {
    use model_zoo::ExportedLayer as L;
    let exported = net.export_folded()?;
    let mut shape = exported.input_shape.clone();
    let mut c = InferenceCost::default();
    // X (m×k) against fixed W (k×n): per inference the opening of X − A; once per model the opening of W − B.
    let add_linear = |m: usize, k: usize, n: usize, c: &mut InferenceCost| {
        let full = mpc_sim::predict::matmul(m, k, n);
        let online = mpc_sim::predict::matmul(m, k, 0);
        c.linear_bytes += online.bytes_per_party;
        c.linear_rounds += online.rounds;
        c.setup_bytes += full.bytes_per_party - online.bytes_per_party;
    };
    for layer in &exported.layers {
        match layer {
            L::Dense { in_dim, out_dim, .. } => {
                add_linear(1, *in_dim, *out_dim, &mut c);
                shape = vec![*out_dim];
            }
            L::Conv3x3 { in_channels, out_channels, .. } => {
                if shape.len() != 3 {
                    bail!("convolution on a {}-d sample shape {shape:?}", shape.len());
                }
                add_linear(shape[0] * shape[1], 9 * in_channels, *out_channels, &mut c);
                shape[2] = *out_channels;
            }
            L::Affine { .. } => {}
            L::Activation { .. } => {
                let n = shape.iter().product::<usize>();
                c.activation_elements += n;
                c.activation_layers += 1;
                c.activation_bytes += per_element.bytes_per_party * n as u64;
                c.activation_rounds += u64::from(per_element.rounds);
            }
            L::MaxPool2 => {
                if shape.len() != 3 {
                    bail!("max pooling on a {}-d sample shape {shape:?}", shape.len());
                }
                c.unpriced_pooling_layers += 1;
                shape = vec![shape[0] / 2, shape[1] / 2, shape[2]];
            }
            L::Flatten => shape = vec![shape.iter().product()],
        }
    }
    Ok(c)
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
