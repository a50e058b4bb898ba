//! `compact run` and `compact report`: experiment sweeps and the tables, figures and README section they feed.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use experiment_runner::experiments::{self, Paths};
use experiment_runner::report;
use experiment_runner::shard::{Shard, run_shard};
use experiment_runner::spec::Spec;
use experiment_runner::sweep::run_sweep;

/// Arguments of `compact run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Experiment spec files (TOML), e.g. experiments/quick/*.toml.
    #[arg(required = true)]
    pub specs: Vec<PathBuf>,
    /// Results folder: records go to <results>/raw/<experiment>.jsonl.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Fetched datasets.
    #[arg(long, default_value = "datasets")]
    pub data: PathBuf,
    /// Trained models with their JSON sidecars.
    #[arg(long, default_value = "results/models")]
    pub models: PathBuf,
    /// Hide the progress bars.
    #[arg(long)]
    pub quiet: bool,
    /// Run only shard K of N (0-based, e.g. `--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT`) into
    /// <results>/raw/<experiment>.shard-K-of-N.jsonl; `compact merge` joins the shards.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
}

/// Runs every spec in turn; finished points are skipped, failed ones reported (and retried on the next run).
pub(crate) fn run(args: &RunArgs) -> anyhow::Result<()> {
    let paths = Paths { data_root: args.data.clone(), models: args.models.clone() };
    let specs = args.specs.iter().map(|p| Spec::load(p)).collect::<anyhow::Result<Vec<_>>>()?;
    let mut failures = 0;
    for spec in &specs {
        let executor = experiments::executor(&spec.kind, &paths)?;
        let raw = args.results.join("raw");
        let summary = match args.shard {
            Some(shard) => run_shard(spec, executor.as_ref(), &raw, !args.quiet, shard)?,
            None => run_sweep(spec, executor.as_ref(), &raw, !args.quiet)?,
        };
        if summary.stale > 0 {
            println!(
                "{}: {} record(s) made by another spec or other code (code {}) dropped; their points are recomputed",
                spec.name,
                summary.stale,
                experiment_runner::sweep::CODE_DIGEST
            );
        }
        outln!(
            "{}{}: {} points, {} already recorded, {} computed, {} failed in {:.1} s",
            spec.name,
            args.shard.map(|s| format!(" shard {s}")).unwrap_or_default(),
            summary.total,
            summary.skipped,
            summary.ran,
            summary.failed.len(),
            summary.elapsed_s
        );
        for (key, err) in &summary.failed {
            eprintln!("  failed {key}: {err}");
        }
        failures += summary.failed.len();
    }
    if failures > 0 {
        bail!("{failures} point(s) failed; fix the cause and rerun — finished points are kept and skipped");
    }
    Ok(())
}

/// Arguments of `compact report`.
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// Results folder holding raw/ (tables/ and figures/ are written beside it).
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Also rewrite the generated section (between the results markers) of this README, e.g. `--readme README.md`;
    /// without it no README is touched.
    #[arg(long)]
    pub readme: Option<PathBuf>,
    /// Write tables and figures only (the default; kept for older scripts).
    #[arg(long, hide = true, conflicts_with = "readme")]
    pub no_readme: bool,
}

/// Builds tables and figures from the records and rewrites the README's results section.
pub(crate) fn report(args: &ReportArgs) -> anyhow::Result<()> {
    let rep = report::build(&args.results)?;
    if rep.sections.is_empty() {
        bail!("no records under '{}'; run `compact run experiments/quick/*.toml` first", args.results.join("raw").display());
    }
    if let Some(readme) = &args.readme {
        report::rewrite_readme(readme, &rep)?;
    }
    outln!("wrote {} result sections (tables in {}/tables, figures in {}/figures)", rep.sections.len(), args.results.display(), args.results.display());
    Ok(())
}

/// Arguments of `compact compare`.
#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    /// Folder of the committed records (e.g. results/raw).
    #[arg(long)]
    pub old: PathBuf,
    /// Folder of the regenerated records (e.g. results/runs/<id>/raw).
    #[arg(long)]
    pub new: PathBuf,
    /// Markdown report to write.
    #[arg(long, default_value = "results/reproducibility.md")]
    pub out: PathBuf,
}

/// Compares regenerated records with committed ones and writes the reproducibility report.
pub(crate) fn compare(args: &CompareArgs) -> anyhow::Result<()> {
    let md = experiment_runner::reproduce::compare_dirs(&args.old, &args.new)?;
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, &md)
        .map_err(|e| anyhow::anyhow!("cannot write '{}': {e}; pass --out FILE", args.out.display()))?;
    println!("wrote {}", args.out.display());
    Ok(())
}
