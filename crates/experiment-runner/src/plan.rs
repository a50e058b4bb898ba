//! Cluster resource plans and wall-time estimates derived from measured per-point times.
//!
//! Inputs are the recorded sweeps (every record carries `elapsed_s`, the wall-clock seconds its point took while the
//! runner ran points side by side on the measuring machine's cores, i.e. about one core each) and, where present,
//! shard metas ([`crate::shard::ShardMeta`]) with the peak resident memory of a shard process.
//!
//! - **Point time.** A point of the target spec recorded in the measured results takes its recorded `elapsed_s`.
//!   A point that was never measured (the full profile has methods and tasks the quick one lacks) takes the mean of
//!   the measured points of the same experiment sharing its method and task, else its method, else sharing its task
//!   and its class (searched — Compact, its ablations, the per-layer search — or a fixed baseline), else the
//!   experiment's mean; the plan counts these imputed points. A secure point's secure evaluation (`secure_seconds` of
//!   its record) scales linearly with the evaluated samples (`samples`/`cnn_samples`/`transformer_samples`, target
//!   over measured spec); the rest of its time (model loading, the approximation search) does not. An accuracy
//!   point's whole time scales with the validation + test samples it scores (`eval_limit`, 0 = the whole split, over
//!   the task's split sizes; target over measured spec): an upper bound, since the calibration statistics and the
//!   annealing do not grow with the samples.
//! - **Experiments never run.** An experiment without records of its own (e.g. the full profile's
//!   `frontier-transformers`) is estimated from the measured records of another experiment of the same kind with the
//!   same task — per task, the one with the most records of the target's methods — scaled by the rules above from
//!   that experiment's spec to the target's; then imputed as above (points that differ only in an axis the source
//!   lacks, such as ν, each take the source point's whole time: an upper bound, since points of one model share its
//!   search when they run in one shard). The plan and the resource table name the file it was estimated from. A task
//!   of such an experiment that no experiment of its kind has measured is an error ([`PlanError::Unmeasured`]).
//! - **Shard time.** A shard of points `P` run on `c` cores (rayon, one point per core):
//!   `T = max(Σ_{p∈P} t_p / c, max_{p∈P} t_p)` — perfect packing bounded below by the longest point.
//! - **Shards.** The fewest `N` (hash partition of [`crate::shard`]) whose longest shard stays within the target
//!   minutes, at most one per point.
//! - **Slurm time limit.** `ceil(2 · T_max + 5 min)`: twice the prediction (other hardware, contention) plus start-up.
//! - **Memory.** `ceil(1.5 · peak + 256 MiB)` of the largest measured shard peak of that experiment; without a
//!   measurement the plan says so and uses 4096 MiB.
//! - **Wall time on `M` nodes** of `C` cores: every shard task of every experiment (the arrays are independent) list-
//!   scheduled longest first onto `M · ⌊C / c⌋` slots; the makespan plus the measured model training time when the
//!   profile retrains (sum of `training_seconds` of the model sidecars, trained one model per node in parallel).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::shard::{Shard, ShardMeta};
use crate::spec::Spec;
use crate::sweep::{Executor, Record};

/// Errors of a plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// An experiment without records of its own, one of whose tasks no experiment of its kind has measured.
    #[error(
        "no measured records of '{experiment}', and no experiment of kind '{kind}' measured task '{task}' to estimate \
         it from; run it once (`compact run {experiment}.toml` of the measured profile, e.g. `make sweeps`) or write its \
         line of the resource table by hand (experiment shards cpus mem_mib time_min)"
    )]
    Unmeasured {
        /// The experiment.
        experiment: String,
        /// Its kind.
        kind: String,
        /// The task nobody measured (`-` for a spec without a task axis).
        task: String,
    },
}

/// Validation and test split sizes per task name, to scale accuracy points by the samples they score.
pub type SplitSizes = BTreeMap<String, (usize, usize)>;

/// Fallback memory request when no shard of an experiment has been measured, MiB.
pub const UNMEASURED_MEM_MIB: u64 = 4096;

/// One experiment's job-array request.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayPlan {
    /// Experiment name (and spec file stem).
    pub experiment: String,
    /// Points of the spec (applicable ones).
    pub points: usize,
    /// Points whose time was imputed (not measured).
    pub imputed: usize,
    /// Array size N.
    pub shards: usize,
    /// Cores per array task.
    pub cpus: usize,
    /// Memory per task, MiB.
    pub mem_mib: u64,
    /// Whether `mem_mib` comes from a measured peak.
    pub mem_measured: bool,
    /// Slurm time limit per task, minutes.
    pub time_min: u64,
    /// Predicted seconds of each shard (index = K).
    pub shard_s: Vec<f64>,
    /// Σ point seconds.
    pub total_point_s: f64,
    /// For an experiment never run: the record files its times were estimated from (empty when measured).
    pub estimated_from: Vec<String>,
}

/// Measured inputs of a plan.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// Records per experiment name.
    pub records: BTreeMap<String, Vec<Record>>,
    /// Specs the records were made with (for sample scaling), by experiment name.
    pub specs: BTreeMap<String, Spec>,
    /// Shard metas per experiment name.
    pub metas: BTreeMap<String, Vec<ShardMeta>>,
    /// Experiments without records of their own: the files [`estimate`] took their records from.
    pub estimated_from: BTreeMap<String, Vec<String>>,
    /// Split sizes of the tasks whose accuracy points are scaled (a task left out is not scaled).
    pub splits: SplitSizes,
}

/// Measured records of one experiment, as a source for [`estimate`].
#[derive(Debug, Clone)]
pub struct Source {
    /// The record file (as the plan names it).
    pub file: String,
    /// The spec the records were made with.
    pub spec: Spec,
    /// Its records.
    pub records: Vec<Record>,
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Secure points' evaluated samples for `task` under `spec`: `samples` (default 500), for the Fashion-MNIST CNN
/// `cnn_samples` (default 200), for the transformers `transformer_samples` (default 200), as the secure executor reads
/// them (`experiments.rs`).
fn secure_samples(spec: &Spec, task: Option<&str>) -> f64 {
    let (key, default) = match task {
        Some("fashion-mnist") => ("cnn_samples", 200),
        Some("mnist-vit" | "fashion-mnist-vit" | "spam-text") => ("transformer_samples", 200),
        _ => ("samples", 500),
    };
    spec.param_usize(key, default).unwrap_or(default) as f64
}

/// Validation + test samples an accuracy point of `task` scores under `spec`'s `eval_limit` (0 = the whole split):
/// `min(limit, |val|) + min(limit, |test|)` with the split sizes of `splits`; without them `2 · limit`, or `None`
/// for the whole split of an unknown size.
pub fn eval_samples(spec: &Spec, task: Option<&str>, splits: &SplitSizes) -> Option<f64> {
    let limit = spec.param_usize("eval_limit", 0).unwrap_or(0);
    let cap = |n: usize| if limit == 0 { n } else { n.min(limit) };
    match task.and_then(|t| splits.get(t)) {
        Some(&(val, test)) => Some((cap(val) + cap(test)) as f64),
        None => (limit > 0).then_some(2.0 * limit as f64),
    }
}

/// The time a point of `target` takes, from record `r` measured under spec `measured` (`None`: as recorded): a
/// secure point's secure evaluation scaled by target over measured samples, an accuracy point's whole time by
/// target over measured [`eval_samples`] (unscaled where either is unknown).
pub fn scaled_time(target: &Spec, measured: Option<&Spec>, r: &Record, splits: &SplitSizes) -> f64 {
    let task = r.point.task.as_deref();
    match (target.kind.as_str(), measured, r.result.get("secure_seconds").and_then(|v| v.as_f64())) {
        ("secure", Some(old), Some(secure)) => {
            let ratio = secure_samples(target, task) / secure_samples(old, task);
            (r.elapsed_s - secure).max(0.0) + secure * ratio
        }
        ("accuracy", Some(old), _) => match (eval_samples(target, task, splits), eval_samples(old, task, splits)) {
            (Some(new), Some(old)) if old > 0.0 => r.elapsed_s * new / old,
            _ => r.elapsed_s,
        },
        _ => r.elapsed_s,
    }
}

/// Whether `method` is chosen by a search on the model (Compact, its ablations, the per-layer search), whose points
/// take much longer than a fixed baseline's.
fn searched(method: Option<&str>) -> bool {
    method.is_some_and(|m| crate::constrained::SEARCHED.contains(&m) || m == crate::per_layer::PER_LAYER)
}

/// Records standing in for `target`, an experiment without records of its own: per task of `target`, the records
/// of that task of the same-kind source with the most records of `target`'s methods there (then the most records,
/// then the first), with their times already scaled to `target` ([`scaled_time`] from the source's spec). Returns
/// them with the files they came from; fails when no source of the kind has a task.
pub fn estimate(target: &Spec, sources: &[Source], splits: &SplitSizes) -> Result<(Vec<Record>, Vec<String>), PlanError> {
    let mut tasks: Vec<Option<String>> = Vec::new();
    for p in target.points() {
        if !tasks.contains(&p.task) {
            tasks.push(p.task.clone());
        }
    }
    let methods = target.grid.method.clone().unwrap_or_default();
    let mut out = Vec::new();
    let mut files: Vec<String> = Vec::new();
    for task in &tasks {
        let mut best: Option<(&Source, (usize, usize))> = None;
        for src in sources.iter().filter(|s| s.spec.kind == target.kind && s.spec.name != target.name) {
            let of_task: Vec<&Record> = src.records.iter().filter(|r| &r.point.task == task).collect();
            let score = (
                of_task.iter().filter(|r| r.point.method.as_ref().is_some_and(|m| methods.contains(m))).count(),
                of_task.len(),
            );
            if score.1 > 0 && best.is_none_or(|(_, b)| score > b) {
                best = Some((src, score));
            }
        }
        let Some((src, _)) = best else {
            return Err(PlanError::Unmeasured {
                experiment: target.name.clone(),
                kind: target.kind.clone(),
                task: task.clone().unwrap_or_else(|| "-".into()),
            });
        };
        for r in src.records.iter().filter(|r| &r.point.task == task) {
            let mut e = r.clone();
            e.elapsed_s = scaled_time(target, Some(&src.spec), r, splits);
            if let Some(obj) = e.result.as_object_mut() {
                // Already scaled: the plan must not scale the secure part again.
                obj.remove("secure_seconds");
            }
            out.push(e);
        }
        if !files.contains(&src.file) {
            files.push(src.file.clone());
        }
    }
    Ok((out, files))
}

/// The per-point seconds of every applicable point of `spec` (expansion order) and how many were imputed.
pub fn point_times(spec: &Spec, executor: &dyn Executor, measured: &Measured) -> (Vec<(String, f64)>, usize) {
    let empty = Vec::new();
    let recs = measured.records.get(&spec.name).unwrap_or(&empty);
    let by_key: BTreeMap<&str, &Record> = recs.iter().map(|r| (r.key.as_str(), r)).collect();
    let point_time = |r: &Record| scaled_time(spec, measured.specs.get(&spec.name), r, &measured.splits);
    let times_where = |f: &dyn Fn(&Record) -> bool| -> Vec<f64> { recs.iter().filter(|r| f(r)).map(point_time).collect() };
    let mut imputed = 0;
    let mut out = Vec::new();
    for p in spec.points().into_iter().filter(|p| executor.applicable(spec, p)) {
        let key = p.key();
        let t = match by_key.get(key.as_str()) {
            Some(r) => point_time(r),
            None => {
                imputed += 1;
                let class = searched(p.method.as_deref());
                mean(&times_where(&|r| r.point.method == p.method && r.point.task == p.task))
                    .or_else(|| mean(&times_where(&|r| r.point.method == p.method)))
                    .or_else(|| mean(&times_where(&|r| r.point.task == p.task && searched(r.point.method.as_deref()) == class)))
                    .or_else(|| mean(&times_where(&|_| true)))
                    .unwrap_or(0.0)
            }
        };
        out.push((key, t));
    }
    (out, imputed)
}

/// Predicted seconds of each of `n` shards on `cpus` cores.
pub fn shard_seconds(times: &[(String, f64)], n: usize, cpus: usize) -> Vec<f64> {
    let mut sum = vec![0.0; n];
    let mut longest = vec![0.0f64; n];
    for (key, t) in times {
        let k = Shard::of_key(key, n);
        sum[k] += t;
        longest[k] = longest[k].max(*t);
    }
    sum.iter().zip(&longest).map(|(s, l)| (s / cpus.max(1) as f64).max(*l)).collect()
}

/// The job-array request of one experiment (see the module documentation for the rules).
pub fn plan_array(spec: &Spec, executor: &dyn Executor, measured: &Measured, cpus: usize, target_min: f64) -> ArrayPlan {
    let (times, imputed) = point_times(spec, executor, measured);
    let points = times.len().max(1);
    let mut shards = 1;
    let mut shard_s = shard_seconds(&times, 1, cpus);
    while shards < points && shard_s.iter().cloned().fold(0.0, f64::max) > target_min * 60.0 {
        shards += 1;
        shard_s = shard_seconds(&times, shards, cpus);
    }
    let longest = shard_s.iter().cloned().fold(0.0, f64::max);
    let peak = measured.metas.get(&spec.name).map(|ms| ms.iter().map(|m| m.peak_rss_mib).fold(0.0, f64::max)).unwrap_or(0.0);
    let (mem_mib, mem_measured) =
        if peak > 0.0 { ((1.5 * peak + 256.0).ceil() as u64, true) } else { (UNMEASURED_MEM_MIB, false) };
    ArrayPlan {
        experiment: spec.name.clone(),
        points: times.len(),
        imputed,
        shards,
        cpus,
        mem_mib,
        mem_measured,
        time_min: ((2.0 * longest + 300.0) / 60.0).ceil() as u64,
        shard_s,
        total_point_s: times.iter().map(|(_, t)| t).sum(),
        estimated_from: measured.estimated_from.get(&spec.name).cloned().unwrap_or_default(),
    }
}

/// `estimated from FILE, FILE` of an estimated experiment, or `None`.
fn estimated_note(p: &ArrayPlan) -> Option<String> {
    (!p.estimated_from.is_empty()).then(|| format!("estimated from {}", p.estimated_from.join(", ")))
}

/// Makespan in seconds of every shard task of `plans` list-scheduled longest first onto `nodes · ⌊cores / cpus⌋`
/// slots (at least one per node).
pub fn makespan(plans: &[ArrayPlan], nodes: usize, cores_per_node: usize) -> f64 {
    let mut tasks: Vec<(f64, usize)> =
        plans.iter().flat_map(|p| p.shard_s.iter().map(move |&s| (s, p.cpus))).collect();
    tasks.sort_by(|a, b| b.0.total_cmp(&a.0));
    let per_node = |cpus: usize| (cores_per_node / cpus.max(1)).max(1);
    let slots = nodes.max(1) * tasks.iter().map(|t| per_node(t.1)).min().unwrap_or(1);
    let mut load = vec![0.0f64; slots];
    for (s, _) in tasks {
        if let Some(min) = load.iter_mut().min_by(|a, b| a.total_cmp(b)) {
            *min += s;
        }
    }
    load.into_iter().fold(0.0, f64::max)
}

/// The resource table `scripts/slurm/submit.sh` reads: `experiment shards cpus mem_mib time_min`, one line each;
/// an experiment never run ends its line with `# estimated from FILE`.
pub fn resources_table(plans: &[ArrayPlan]) -> String {
    let mut out = String::from("# experiment shards cpus mem_mib time_min   (written by `compact plan`; see its --help)\n");
    for p in plans {
        let _ = write!(out, "{} {} {} {} {}", p.experiment, p.shards, p.cpus, p.mem_mib, p.time_min);
        if let Some(note) = estimated_note(p) {
            let _ = write!(out, "   # {note}");
        }
        out.push('\n');
    }
    out
}

/// Markdown summary: per-experiment requests and the wall-time estimate per node count.
pub fn markdown(profile: &str, plans: &[ArrayPlan], nodes: &[usize], cores_per_node: usize, training_s: f64) -> String {
    let mut out = format!(
        "Profile `{profile}`: per-point times from the recorded sweeps (imputed where a point was never measured, \
         scaled to this profile's evaluated samples; an experiment never run is estimated from another experiment's \
         records of its kind and tasks), shard times `max(Σt/c, max t)`, {cores_per_node} cores per node.\n\n\
         | experiment | points (imputed) | array size | cores | memory (MiB) | time limit (min) | Σ point time (min) | longest shard (min) |\n\
         |---|---|---|---|---|---|---|---|\n"
    );
    for p in plans {
        let longest = p.shard_s.iter().cloned().fold(0.0, f64::max);
        let _ = writeln!(
            out,
            "| {}{} | {} ({}) | {} | {} | {}{} | {} | {:.1} | {:.1} |",
            p.experiment,
            estimated_note(p).map_or_else(String::new, |n| format!(" ({n})")),
            p.points,
            p.imputed,
            p.shards,
            p.cpus,
            p.mem_mib,
            if p.mem_measured { "" } else { " (not measured)" },
            p.time_min,
            p.total_point_s / 60.0,
            longest / 60.0
        );
    }
    out.push_str("\n| nodes | estimated wall time of the sweeps (min) |");
    if training_s > 0.0 {
        out.push_str(" with model training (min) |\n|---|---|---|\n");
    } else {
        out.push_str("\n|---|---|\n");
    }
    for &m in nodes {
        let sweep = makespan(plans, m, cores_per_node) / 60.0;
        if training_s > 0.0 {
            let _ = writeln!(out, "| {m} | {sweep:.1} | {:.1} |", sweep + training_s / 60.0 / m as f64);
        } else {
            let _ = writeln!(out, "| {m} | {sweep:.1} |");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Point;

    struct All;
    impl Executor for All {
        fn validate(&self, _: &Spec) -> anyhow::Result<()> {
            Ok(())
        }
        fn run(&self, _: &Spec, _: &Point, _: u64) -> anyhow::Result<serde_json::Value> {
            Ok(serde_json::json!({}))
        }
    }

    fn spec(methods: &str) -> Spec {
        Spec::parse(&format!("name = \"e\"\nkind = \"k\"\n[grid]\nmethod = [{methods}]\ntask = [\"t1\", \"t2\"]\n")).unwrap()
    }

    fn measured(times: &[(&str, &str, f64)]) -> Measured {
        let recs = times
            .iter()
            .enumerate()
            .map(|(i, (m, t, s))| {
                let point = Point { index: i, activation: None, method: Some(m.to_string()), task: Some(t.to_string()), depth: None, nu: None, density: None };
                Record {
                    experiment: "e".into(),
                    key: point.key(),
                    point,
                    seed: 0,
                    elapsed_s: *s,
                    spec_digest: String::new(),
                    code_digest: String::new(),
                    result: serde_json::json!({}),
                }
            })
            .collect();
        Measured { records: BTreeMap::from([("e".to_string(), recs)]), ..Measured::default() }
    }

    #[test]
    fn measured_times_are_used_and_missing_ones_imputed() {
        let m = measured(&[("a", "t1", 10.0), ("a", "t2", 30.0), ("b", "t1", 100.0)]);
        let (times, imputed) = point_times(&spec("\"a\", \"b\", \"c\""), &All, &m);
        let t: BTreeMap<_, _> = times.into_iter().collect();
        assert_eq!(imputed, 3);
        assert_eq!(t["method=a,task=t2"], 30.0);
        assert_eq!(t["method=b,task=t2"], 100.0, "same method");
        assert_eq!(t["method=c,task=t1"], 55.0, "same task, both fixed baselines");
    }

    fn record(m: &str, t: &str, s: f64) -> Record {
        let point = Point { index: 0, activation: None, method: Some(m.to_string()), task: Some(t.to_string()), depth: None, nu: None, density: None };
        Record {
            experiment: "src".into(),
            key: point.key(),
            point,
            seed: 0,
            elapsed_s: s,
            spec_digest: String::new(),
            code_digest: String::new(),
            result: serde_json::json!({}),
        }
    }

    #[test]
    fn accuracy_points_scale_with_the_scored_samples() {
        let quick = Spec::parse("name = \"e\"\nkind = \"accuracy\"\n[grid]\ntask = [\"t1\"]\n[params]\neval_limit = 2000\n").unwrap();
        let full = Spec::parse("name = \"e\"\nkind = \"accuracy\"\n[grid]\ntask = [\"t1\"]\n[params]\neval_limit = 0\n").unwrap();
        let r = record("a", "t1", 10.0);
        let splits = SplitSizes::from([("t1".to_string(), (5000, 10000))]);
        // 2000 + 2000 measured, 5000 + 10000 wanted.
        assert_eq!(scaled_time(&full, Some(&quick), &r, &splits), 10.0 * 15000.0 / 4000.0);
        // A split smaller than the limit counts whole; same spec: as recorded; unknown whole split: unscaled.
        let small = SplitSizes::from([("t1".to_string(), (500, 10000))]);
        assert_eq!(scaled_time(&full, Some(&quick), &r, &small), 10.0 * 10500.0 / 2500.0);
        assert_eq!(scaled_time(&quick, Some(&quick), &r, &splits), 10.0);
        assert_eq!(scaled_time(&full, Some(&quick), &r, &SplitSizes::new()), 10.0);
    }

    #[test]
    fn an_experiment_never_run_is_estimated_from_its_kind_and_tasks() {
        let target = Spec::parse(
            "name = \"ft\"\nkind = \"accuracy\"\n[grid]\ntask = [\"t1\", \"t2\"]\nmethod = [\"compact\", \"compact-uniform-density\"]\nnu = [0.01, 0.02]\n[params]\neval_limit = 0\n",
        )
        .unwrap();
        let src_spec = Spec::parse("name = \"tr\"\nkind = \"accuracy\"\n[grid]\ntask = [\"t1\", \"t2\"]\n[params]\neval_limit = 1000\n").unwrap();
        let other_kind = Spec::parse("name = \"sec\"\nkind = \"secure\"\n[grid]\ntask = [\"t1\", \"t2\"]\n").unwrap();
        let sources = vec![
            Source { file: "raw/sec.jsonl".into(), spec: other_kind, records: vec![record("compact", "t1", 999.0)] },
            Source {
                file: "raw/tr.jsonl".into(),
                spec: src_spec,
                records: vec![record("compact", "t1", 60.0), record("puma", "t1", 8.0), record("puma", "t2", 4.0)],
            },
        ];
        let splits = SplitSizes::from([("t1".to_string(), (1000, 1000)), ("t2".to_string(), (3000, 1000))]);
        let (recs, files) = estimate(&target, &sources, &splits).unwrap();
        assert_eq!(files, vec!["raw/tr.jsonl".to_string()], "the secure records are another kind");
        assert_eq!(recs.len(), 3);
        // t2: 1000 + 1000 scored when measured, 3000 + 1000 in the target.
        assert_eq!(recs.iter().find(|r| r.point.task.as_deref() == Some("t2")).unwrap().elapsed_s, 8.0);
        let m = Measured {
            records: BTreeMap::from([("ft".to_string(), recs)]),
            estimated_from: BTreeMap::from([("ft".to_string(), files)]),
            ..Measured::default()
        };
        let (times, imputed) = point_times(&target, &All, &m);
        let t: BTreeMap<_, _> = times.into_iter().collect();
        assert_eq!(imputed, 8, "no point of the target has a record of its own");
        // Each ν takes the source's time of its method and task; an ablation never measured takes the searched
        // methods' time on its task, not a fixed baseline's.
        assert_eq!(t["method=compact,task=t1,nu=0.01"], 60.0);
        assert_eq!(t["method=compact-uniform-density,task=t1,nu=0.02"], 60.0);
        assert_eq!(t["method=compact,task=t2,nu=0.01"], 60.0, "same method, other task");
        let plan = plan_array(&target, &All, &m, 1, 1000.0);
        assert_eq!(plan.estimated_from, vec!["raw/tr.jsonl".to_string()]);
        let table = resources_table(std::slice::from_ref(&plan));
        assert!(table.lines().nth(1).unwrap().ends_with("# estimated from raw/tr.jsonl"), "{table}");
        assert!(markdown("full", &[plan], &[1], 4, 0.0).contains("| ft (estimated from raw/tr.jsonl) |"));
        // A task no experiment of the kind measured: one line naming the experiment, the task and the way out.
        let err = estimate(&target, &sources[..1], &splits).unwrap_err().to_string();
        assert!(err.contains("'ft'") && err.contains("task 't1'") && err.contains("run it once") && !err.contains('\n'), "{err}");
    }

    #[test]
    fn secure_evaluation_scales_with_the_samples() {
        let old = Spec::parse("name = \"e\"\nkind = \"secure\"\n[grid]\nmethod = [\"a\"]\ntask = [\"t1\"]\n").unwrap();
        let new = Spec::parse(
            "name = \"e\"\nkind = \"secure\"\n[grid]\nmethod = [\"a\"]\ntask = [\"t1\"]\n[params]\nsamples = 2000\n",
        )
        .unwrap();
        let mut m = measured(&[("a", "t1", 10.0)]);
        m.records.get_mut("e").unwrap()[0].result = serde_json::json!({ "secure_seconds": 4.0 });
        m.specs.insert("e".into(), old.clone());
        // 6 s outside the secure evaluation, 4 s × 2000/500 inside it.
        assert_eq!(point_times(&new, &All, &m).0, vec![("method=a,task=t1".to_string(), 22.0)]);
        assert_eq!(point_times(&old, &All, &m).0[0].1, 10.0);
    }

    #[test]
    fn shards_split_until_the_target_and_times_bound_by_the_longest_point() {
        let m = measured(&[("a", "t1", 600.0), ("a", "t2", 600.0), ("b", "t1", 600.0), ("b", "t2", 60.0)]);
        let s = spec("\"a\", \"b\"");
        let one = plan_array(&s, &All, &m, 1, 1000.0);
        assert_eq!(one.shards, 1);
        assert_eq!(one.shard_s, vec![1860.0]);
        assert_eq!(one.time_min, ((2.0 * 1860.0 + 300.0) / 60.0f64).ceil() as u64);
        assert!(!one.mem_measured && one.mem_mib == UNMEASURED_MEM_MIB);
        let split = plan_array(&s, &All, &m, 1, 10.0);
        assert!(split.shards > 1 && split.shards <= 4, "{split:?}");
        assert_eq!(split.shard_s.iter().sum::<f64>(), 1860.0);
        // Two cores: a lone 600 s point still takes 600 s.
        assert_eq!(shard_seconds(&[("x".into(), 600.0), ("y".into(), 10.0)], 1, 2), vec![600.0]);
        // Makespan: more nodes never slower, never below the longest task.
        let t1 = makespan(&[split.clone()], 1, 1);
        let t4 = makespan(&[split.clone()], 4, 1);
        assert!(t4 <= t1 && t4 >= 600.0 && (t1 - 1860.0).abs() < 1e-9, "{t1} {t4}");
    }
}
