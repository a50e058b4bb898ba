//! `compact merge` and `compact plan`: joining the shards of a cluster run, and sizing that run from measured times.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use experiment_runner::experiments::{self, Paths};
use experiment_runner::merge::{merge_experiment, read_record_file};
use experiment_runner::plan::{self, Measured};
use experiment_runner::shard::sibling_metas;
use experiment_runner::spec::Spec;

/// Arguments of `compact merge`.
#[derive(Debug, Args)]
pub(crate) struct MergeArgs {
    /// The experiment specs the shards ran (e.g. experiments/quick/*.toml).
    #[arg(required = true)]
    pub specs: Vec<PathBuf>,
    /// Results folder whose raw/ holds the shard files; the merge is written to <results>/raw/<experiment>.jsonl.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Replace an existing <experiment>.jsonl.
    #[arg(long)]
    pub force: bool,
}

/// Merges every spec's shards.
pub(crate) fn merge(args: &MergeArgs) -> anyhow::Result<()> {
    let paths = Paths { data_root: PathBuf::from("datasets"), models: PathBuf::from("results/models") };
    let raw = args.results.join("raw");
    for path in &args.specs {
        let spec = Spec::load(path)?;
        let executor = experiments::executor(&spec.kind, &paths)?;
        let m = merge_experiment(&spec, executor.as_ref(), &raw, args.force)?;
        println!("{}: {} shards, {} records → {} (code {})", m.experiment, m.shards, m.records, m.path.display(), m.code_digest);
    }
    Ok(())
}

/// Arguments of `compact plan`.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// The specs to plan (e.g. experiments/full/*.toml).
    #[arg(required = true)]
    pub specs: Vec<PathBuf>,
    /// Results folder with the measured records (<measured>/raw/<experiment>.jsonl) and any shard metas.
    #[arg(long, default_value = "results")]
    pub measured: PathBuf,
    /// Specs the measured records were made with (for sample scaling of secure points), e.g. experiments/quick.
    #[arg(long, default_value = "experiments/quick")]
    pub measured_specs: PathBuf,
    /// Further folders holding shard metas (`*.shard-K-of-N.meta.json`) with measured peak memory.
    #[arg(long)]
    pub metas: Vec<PathBuf>,
    /// Cores per array task.
    #[arg(long, default_value_t = 2)]
    pub cpus: usize,
    /// Cores per node, for the wall-time estimate.
    #[arg(long, default_value_t = 32)]
    pub cores_per_node: usize,
    /// Split an experiment until its longest shard is predicted to take at most this many minutes.
    #[arg(long, default_value_t = 10.0)]
    pub target_minutes: f64,
    /// Node counts of the wall-time estimate.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16")]
    pub nodes: Vec<usize>,
    /// Add the measured training time of these model sidecars (`*.json` with `training_seconds`), for a profile
    /// that retrains every model.
    #[arg(long)]
    pub training: Option<PathBuf>,
    /// Write the resource table (read by scripts/slurm/submit.sh) here.
    #[arg(long)]
    pub resources: Option<PathBuf>,
    /// Write the markdown summary here (stdout otherwise).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Profile name for the summary's heading.
    #[arg(long, default_value = "quick")]
    pub profile: String,
}

/// Reads the measurements, plans every spec, writes the resource table and the summary.
pub(crate) fn plan(args: &PlanArgs) -> anyhow::Result<()> {
    if args.cpus == 0 || args.cores_per_node < args.cpus {
        bail!("--cpus {} must be at least 1 and at most --cores-per-node {}", args.cpus, args.cores_per_node);
    }
    if !(args.target_minutes > 0.0) {
        bail!("--target-minutes {} must be positive", args.target_minutes);
    }
    let paths = Paths { data_root: PathBuf::from("datasets"), models: PathBuf::from("results/models") };
    let specs = args.specs.iter().map(|p| Spec::load(p)).collect::<anyhow::Result<Vec<_>>>()?;
    let mut measured = Measured::default();
    let meta_dirs: Vec<PathBuf> = std::iter::once(args.measured.join("raw")).chain(args.metas.iter().cloned()).collect();
    for spec in &specs {
        let records = read_record_file(&args.measured.join("raw").join(format!("{}.jsonl", spec.name)))?;
        if records.is_empty() {
            bail!(
                "no measured records of '{}' in '{}'; run the sweep once (e.g. `make sweeps`) or pass --measured DIR",
                spec.name,
                args.measured.join("raw").display()
            );
        }
        measured.records.insert(spec.name.clone(), records);
        let old = args.measured_specs.join(format!("{}.toml", spec.name));
        if old.exists() {
            measured.specs.insert(spec.name.clone(), Spec::load(&old)?);
        }
        let mut metas = Vec::new();
        for dir in &meta_dirs {
            metas.extend(sibling_metas(dir, &spec.name)?.into_iter().map(|(_, m)| m));
        }
        measured.metas.insert(spec.name.clone(), metas);
    }
    let mut plans = Vec::new();
    for spec in &specs {
        let executor = experiments::executor(&spec.kind, &paths)?;
        plans.push(plan::plan_array(spec, executor.as_ref(), &measured, args.cpus, args.target_minutes));
    }
    let training_s = match &args.training {
        None => 0.0,
        Some(dir) => training_seconds(dir)?,
    };
    if let Some(path) = &args.resources {
        fs::write(path, plan::resources_table(&plans)).with_context(|| format!("cannot write '{}'", path.display()))?;
    }
    let md = plan::markdown(&args.profile, &plans, &args.nodes, args.cores_per_node, training_s);
    match &args.out {
        Some(path) => {
            fs::write(path, &md).with_context(|| format!("cannot write '{}'", path.display()))?;
            println!("wrote {}", path.display());
        }
        None => print!("{md}"),
    }
    Ok(())
}

/// Σ `training_seconds` over the model sidecars (`*.json`) in `dir`.
fn training_seconds(dir: &PathBuf) -> anyhow::Result<f64> {
    let mut total = 0.0;
    let mut seen = BTreeMap::new();
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list '{}'; pass --training results/models", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|x| x == "json") {
            let text = fs::read_to_string(&path).with_context(|| format!("cannot read '{}'", path.display()))?;
            let v: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("'{}' is not JSON", path.display()))?;
            if let Some(t) = v.get("training_seconds").and_then(serde_json::Value::as_f64) {
                total += t;
                seen.insert(path, t);
            }
        }
    }
    if seen.is_empty() {
        bail!("no model sidecar with training_seconds in '{}'; pass --training results/models", dir.display());
    }
    Ok(total)
}
