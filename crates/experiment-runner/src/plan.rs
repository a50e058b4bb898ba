//! Cluster resource plans and wall-time estimates derived from measured per-point times.
//!
//! Inputs are the recorded sweeps (every record carries `elapsed_s`, the wall-clock seconds its point took while the
//! runner ran points side by side on the measuring machine's cores, i.e. about one core each) and, where present,
//! shard metas ([`crate::shard::ShardMeta`]) with the peak resident memory of a shard process.
//!
//! - **Point time.** A point of the target spec recorded in the measured results takes its recorded `elapsed_s`.
//!   A point that was never measured (the full profile has methods and tasks the quick one lacks) takes the mean of
//!   the measured points of the same experiment sharing its method and task, else its method, else the experiment's
//!   mean; the plan counts these imputed points. A secure point's secure evaluation (`secure_seconds` of its record)
//!   scales linearly with the evaluated samples (`samples`/`cnn_samples`, target over measured spec); the rest of
//!   its time (model loading, the approximation search) does not.
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

/// The per-point seconds of every applicable point of `spec` (expansion order) and how many were imputed.
pub fn point_times(spec: &Spec, executor: &dyn Executor, measured: &Measured) -> (Vec<(String, f64)>, usize) {
    let empty = Vec::new();
    let recs = measured.records.get(&spec.name).unwrap_or(&empty);
    let by_key: BTreeMap<&str, &Record> = recs.iter().map(|r| (r.key.as_str(), r)).collect();
    // A secure point's time: the part outside the secure evaluation as measured, plus the secure evaluation
    // (`secure_seconds` of its record) scaled by target over measured samples.
    let point_time = |r: &Record, task: Option<&str>| -> f64 {
        match (spec.kind.as_str(), measured.specs.get(&spec.name), r.result.get("secure_seconds").and_then(|v| v.as_f64())) {
            ("secure", Some(old), Some(secure)) => {
                let ratio = secure_samples(spec, task) / secure_samples(old, task);
                (r.elapsed_s - secure).max(0.0) + secure * ratio
            }
            _ => r.elapsed_s,
        }
    };
    let times_where = |f: &dyn Fn(&Record) -> bool| -> Vec<f64> {
        recs.iter().filter(|r| f(r)).map(|r| point_time(r, r.point.task.as_deref())).collect()
    };
    let mut imputed = 0;
    let mut out = Vec::new();
    for p in spec.points().into_iter().filter(|p| executor.applicable(spec, p)) {
        let key = p.key();
        let t = match by_key.get(key.as_str()) {
            Some(r) => point_time(r, p.task.as_deref()),
            None => {
                imputed += 1;
                mean(&times_where(&|r| r.point.method == p.method && r.point.task == p.task))
                    .or_else(|| mean(&times_where(&|r| r.point.method == p.method)))
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
    }
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

/// The resource table `scripts/slurm/submit.sh` reads: `experiment shards cpus mem_mib time_min`, one line each.
pub fn resources_table(plans: &[ArrayPlan]) -> String {
    let mut out = String::from("# experiment shards cpus mem_mib time_min   (written by `compact plan`; see its --help)\n");
    for p in plans {
        let _ = writeln!(out, "{} {} {} {} {}", p.experiment, p.shards, p.cpus, p.mem_mib, p.time_min);
    }
    out
}

/// Markdown summary: per-experiment requests and the wall-time estimate per node count.
pub fn markdown(profile: &str, plans: &[ArrayPlan], nodes: &[usize], cores_per_node: usize, training_s: f64) -> String {
    let mut out = format!(
        "Profile `{profile}`: per-point times from the recorded sweeps (imputed where a point was never measured), \
         shard times `max(Σt/c, max t)`, {cores_per_node} cores per node.\n\n\
         | experiment | points (imputed) | array size | cores | memory (MiB) | time limit (min) | Σ point time (min) | longest shard (min) |\n\
         |---|---|---|---|---|---|---|---|\n"
    );
    for p in plans {
        let longest = p.shard_s.iter().cloned().fold(0.0, f64::max);
        let _ = writeln!(
            out,
            "| {} | {} ({}) | {} | {} | {}{} | {} | {:.1} | {:.1} |",
            p.experiment,
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
        assert_eq!(t["method=c,task=t1"], 140.0 / 3.0, "experiment mean");
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
