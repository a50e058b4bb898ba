//! `compact merge` and `compact plan`: joining the shards of a cluster run, and sizing that run from measured times.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use experiment_runner::experiments::{self, Paths};
use experiment_runner::merge::{merge_experiment, read_record_file};
use experiment_runner::plan::{self, Measured};
use experiment_runner::reproduce::raw_experiments;
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
    /// Specs the measured records were made with (to scale secure and accuracy points to the planned spec's samples,
    /// and to know the kind of the records an experiment never run is estimated from), e.g. experiments/quick.
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
    /// After writing --out, refresh the `<!-- include: FILE -->` blocks of this README (as `compact report
    /// --readme` does), so the README quotes the plan just written.
    #[arg(long)]
    pub readme: Option<PathBuf>,
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
    let raw = args.measured.join("raw");
    let mut measured = Measured::default();
    let meta_dirs: Vec<PathBuf> = std::iter::once(raw.clone()).chain(args.metas.iter().cloned()).collect();
    let mut unmeasured = Vec::new();
    for spec in &specs {
        let old = args.measured_specs.join(format!("{}.toml", spec.name));
        if old.exists() {
            measured.specs.insert(spec.name.clone(), Spec::load(&old)?);
        }
        let records = read_record_file(&raw.join(format!("{}.jsonl", spec.name)))?;
        if records.is_empty() {
            unmeasured.push(spec);
        } else {
            measured.records.insert(spec.name.clone(), records);
        }
        let mut metas = Vec::new();
        for dir in &meta_dirs {
            metas.extend(sibling_metas(dir, &spec.name)?.into_iter().map(|(_, m)| m));
        }
        measured.metas.insert(spec.name.clone(), metas);
    }
    // Every measured experiment with its spec: the sources an experiment never run is estimated from.
    let mut sources = Vec::new();
    if !unmeasured.is_empty() {
        for name in raw_experiments(&raw).0 {
            let spec_path = args.measured_specs.join(format!("{name}.toml"));
            if spec_path.exists() {
                let file = raw.join(format!("{name}.jsonl"));
                let records = read_record_file(&file)?;
                sources.push(plan::Source { file: file.display().to_string(), spec: Spec::load(&spec_path)?, records });
            }
        }
    }
    measured.splits = split_sizes(&specs, &measured, &sources, &paths)?;
    for spec in unmeasured {
        // Its records come scaled from their own specs; a spec of its name among the measured ones made none of them.
        measured.specs.remove(&spec.name);
        let (records, files) = plan::estimate(spec, &sources, &measured.splits)?;
        println!("{}: no records of its own; estimated from {}", spec.name, files.join(", "));
        measured.records.insert(spec.name.clone(), records);
        measured.estimated_from.insert(spec.name.clone(), files);
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
    if let Some(readme) = &args.readme {
        let text = fs::read_to_string(readme).with_context(|| format!("cannot read '{}'; pass --readme README.md", readme.display()))?;
        let base = readme.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        let new = experiment_runner::report::refresh_includes(&text, base).with_context(|| format!("in '{}'", readme.display()))?;
        if new != text {
            fs::write(readme, new).with_context(|| format!("cannot write '{}'", readme.display()))?;
            println!("refreshed the include blocks of {}", readme.display());
        }
    }
    Ok(())
}

/// The validation and test split sizes of every task of the accuracy specs whose evaluated samples (`eval_limit`)
/// differ from those of the records they are planned from (none when every limit matches: the quick plan needs no
/// data), read from the fetched datasets.
fn split_sizes(specs: &[Spec], measured: &Measured, sources: &[plan::Source], paths: &Paths) -> anyhow::Result<plan::SplitSizes> {
    let limit = |s: &Spec| s.param_usize("eval_limit", 0);
    let mut tasks = std::collections::BTreeSet::new();
    for spec in specs.iter().filter(|s| s.kind == "accuracy") {
        let ours = limit(spec)?;
        let differs = match measured.specs.get(&spec.name) {
            Some(old) if measured.records.contains_key(&spec.name) => limit(old)? != ours,
            _ => sources.iter().filter(|s| s.spec.kind == spec.kind).map(|s| limit(&s.spec)).any(|l| l.map_or(true, |l| l != ours)),
        };
        if differs {
            tasks.extend(spec.grid.task.iter().flatten().cloned());
        }
    }
    let mut out = plan::SplitSizes::new();
    for name in tasks {
        let task: model_zoo::Task = name.parse()?;
        let data = model_zoo::load_task(task, &paths.data_root).with_context(|| {
            format!(
                "cannot read the splits of task '{name}' from '{}' (to scale the measured times to this profile's eval_limit); \
                 run `make datasets`",
                paths.data_root.display()
            )
        })?;
        out.insert(name, (data.val.len(), data.test.len()));
    }
    Ok(out)
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
