//! Loading a trained model for evaluation, cached per sweep ([`ModelCache`]), and the exact fixed-point emulation
//! of an approximation as an element-wise activation (a lookup table over every fixed-point code,
//! [`method_fn`]/[`piecewise_fn`]). Shared by the `accuracy` and `secure` experiments and `compact secure`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use secure_methods::SecureMethod;
use activation_approx::density::{DensitySpec, Empirical, Mixture};
use activation_approx::{ActivationRegistry, FixedPoint, PiecewisePoly};
use anyhow::{Context, bail};
use model_zoo::{ActFn, ActivationPlan, Task, TaskData};

use crate::spec::Spec;

/// Where models and data are read from.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Root of the fetched datasets (`datasets/`).
    pub data_root: PathBuf,
    /// Trained models with their sidecars (`results/models/`).
    pub models: PathBuf,
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
    /// Per test sample: is the exact-activation prediction right (for paired intervals).
    pub exact_test_correct: Vec<bool>,
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
/// Loads models and task data, caching both: the points of one model (every method, every ν) share the loaded
/// network, its scored subsets, exact accuracies and activation statistics.
pub struct ModelCache {
    paths: Paths,
    data: Mutex<HashMap<Task, Arc<TaskData>>>,
    models: Mutex<HashMap<String, Arc<Loaded>>>,
}

impl std::fmt::Debug for ModelCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelCache").field("paths", &self.paths).finish()
    }
}

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
        comps.push((1.0, layer_density(s)?));
    }
    if comps.is_empty() {
        bail!("the model has no activation layers to take a density from");
    }
    Ok(DensitySpec::Mixture(Mixture::new(comps)?))
}

impl ModelCache {
    /// Reads models from `paths.models` and data from `paths.data_root`.
    pub fn new(paths: Paths) -> Self {
        ModelCache { paths, data: Mutex::new(HashMap::new()), models: Mutex::new(HashMap::new()) }
    }

    /// [`ModelCache::load`] of a point's default model, cached for the sweep: the model, its scored subsets, exact
    /// accuracies and statistics do not depend on the method, so the points of one model share them (the statistics
    /// use the experiment's seed, not the point's, so the result does not depend on which point loads first).
    pub fn load_cached(&self, spec: &Spec, task: Task, act: &str, depth: Option<usize>) -> anyhow::Result<Arc<Loaded>> {
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
        let exact_test_correct = correctness_with(&net, &test, &ActivationPlan::Exact, params.batch)?;
        let exact_test = exact_test_correct.iter().filter(|&&c| c).count() as f64 / test.len().max(1) as f64;
        let stats = model_zoo::activation_statistics(&net, &data.train, params.calibration, params.bins, seed)?;
        Ok(Loaded { net, sidecar, val, test, exact_val, exact_test, exact_test_correct, stats })
    }
}


/// Accuracy of `net` on `d` with every activation replaced by `f`.
pub fn accuracy_with(net: &model_zoo::Network, d: &model_zoo::Dataset, f: ActFn, batch: usize) -> anyhow::Result<f64> {
    Ok(model_zoo::evaluate(net, d, &ActivationPlan::All(f), batch)?)
}

/// Accuracy of `net` on `d` under an activation plan (e.g. one replacement per layer).
pub fn accuracy_with_plan(net: &model_zoo::Network, d: &model_zoo::Dataset, plan: &ActivationPlan, batch: usize) -> anyhow::Result<f64> {
    Ok(model_zoo::evaluate(net, d, plan, batch)?)
}

/// The input density of one activation layer: its calibration histogram as an empirical density.
pub fn layer_density(s: &model_zoo::ActivationStats) -> anyhow::Result<DensitySpec> {
    let h = &s.histogram;
    let n = h.counts.len();
    let w = (h.hi - h.lo) / n as f64;
    let edges: Vec<f64> = (0..=n).map(|k| h.lo + k as f64 * w).collect();
    let counts: Vec<f64> = h.counts.iter().map(|&c| c as f64).collect();
    let emp = Empirical::from_histogram(edges, counts)
        .with_context(|| format!("activation layer {} has an unusable histogram", s.index))?;
    Ok(DensitySpec::Empirical(emp))
}

/// Inputs the lookup tables cover: |x| ≤ 32 (pre-activations beyond are rare and evaluated point by point).
const TABLE_HALF_RANGE: f64 = 32.0;

/// A fixed-point function as an element-wise [`ActFn`], exactly: x is encoded (round to nearest, saturating at the
/// ring's range), and the result is read from a table of the function over every code with |x| ≤
/// [`TABLE_HALF_RANGE`] — computed in one batch by `batch` — or computed by `single` beyond it. Since fixed-point
/// inputs are integers, this is bit-exact and turns a per-element program run into a lookup.
pub fn tabulated(
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
pub fn piecewise_fn(pp: &PiecewisePoly, fx: FixedPoint) -> anyhow::Result<ActFn> {
    let enc = Arc::new(pp.encode(&fx)?);
    let e = enc.clone();
    tabulated(fx, &|codes| Ok(codes.into_iter().map(|v| enc.eval(v)).collect()), Arc::new(move |v| fx.decode(e.eval(v))))
}

/// A method's fixed-point emulation as an element-wise function.
pub fn method_fn(method: Arc<dyn SecureMethod>) -> anyhow::Result<ActFn> {
    let (m, fx) = (method.clone(), method.fixed_point());
    // A point the program cannot evaluate yields NaN, which the accuracy then shows, never a made-up value.
    let single = Arc::new(move |v: i64| {
        m.eval_fixed_encoded(&[v]).ok().and_then(|r| r.first().map(|&y| fx.decode(y))).unwrap_or(f64::NAN)
    });
    tabulated(method.fixed_point(), &|codes| Ok(method.eval_fixed_encoded(&codes)?), single)
}


/// Per sample of `d`: is the prediction of `net` with every activation replaced by `f` right.
pub fn correctness(net: &model_zoo::Network, d: &model_zoo::Dataset, f: ActFn, batch: usize) -> anyhow::Result<Vec<bool>> {
    correctness_with(net, d, &ActivationPlan::All(f), batch)
}

/// Per sample of `d`: is the prediction of `net` under `plan` right.
pub fn correctness_with(
    net: &model_zoo::Network,
    d: &model_zoo::Dataset,
    plan: &ActivationPlan,
    batch: usize,
) -> anyhow::Result<Vec<bool>> {
    if d.is_empty() {
        bail!("cannot evaluate on an empty dataset; check eval_limit and the dataset");
    }
    let n = d.sample_len();
    let mut out = Vec::with_capacity(d.len());
    for start in (0..d.len()).step_by(batch.max(1)) {
        let end = (start + batch.max(1)).min(d.len());
        let x = net.input_tensor(&d.features[start * n..end * n], &d.sample_shape)?;
        let pred: Vec<u32> = net.forward(&x, plan)?.argmax(1)?.to_vec1()?;
        out.extend(pred.iter().zip(&d.labels[start..end]).map(|(p, l)| p == l));
    }
    Ok(out)
}

/// Bootstrap resamples of [`paired_diff_ci95`].
pub const BOOTSTRAP_RESAMPLES: usize = 2000;

/// Paired 95 % percentile-bootstrap interval of the accuracy difference `b − a` (fractions) over the same samples:
/// the per-sample differences d_i = [b_i right] − [a_i right] ∈ {−1, 0, 1} are resampled with replacement
/// ([`BOOTSTRAP_RESAMPLES`] times, ChaCha8 seeded by `seed`), and the 2.5 % and 97.5 % quantiles of the resampled
/// means are returned. Pairing removes the sample-to-sample variance both runs share, so the interval is that of
/// the *difference*, not of either accuracy.
pub fn paired_diff_ci95(a: &[bool], b: &[bool], seed: u64) -> anyhow::Result<(f64, f64)> {
    use rand::{Rng, SeedableRng};
    if a.len() != b.len() || a.is_empty() {
        bail!("paired interval needs two equally long, non-empty outcome lists ({} and {})", a.len(), b.len());
    }
    let d: Vec<i32> = a.iter().zip(b).map(|(&x, &y)| i32::from(y) - i32::from(x)).collect();
    let n = d.len();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut means: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| (0..n).map(|_| i64::from(d[rng.random_range(0..n)])).sum::<i64>() as f64 / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let q = |p: f64| means[((p * (BOOTSTRAP_RESAMPLES - 1) as f64).round() as usize).min(BOOTSTRAP_RESAMPLES - 1)];
    Ok((q(0.025), q(0.975)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_interval_covers_the_difference_and_is_reproducible() {
        // 1000 samples: b fixes 30 of a's errors and breaks 10 of its right answers: difference +2 points.
        let a: Vec<bool> = (0..1000).map(|i| i >= 30 && i % 50 != 49).collect();
        let mut b = a.clone();
        (0..30).for_each(|i| b[i] = true);
        (100..110).for_each(|i| b[i] = false);
        let diff = (b.iter().filter(|&&x| x).count() as f64 - a.iter().filter(|&&x| x).count() as f64) / 1000.0;
        let (lo, hi) = paired_diff_ci95(&a, &b, 7).unwrap();
        assert!(lo < diff && diff < hi && lo > 0.0, "({lo}, {hi}) around {diff}");
        assert_eq!(paired_diff_ci95(&a, &b, 7).unwrap(), (lo, hi));
        // Identical outcomes: a zero-width interval at 0.
        assert_eq!(paired_diff_ci95(&a, &a, 1).unwrap(), (0.0, 0.0));
        assert!(paired_diff_ci95(&a, &b[..10], 1).is_err());
    }
}
