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
        println!(
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
    /// README whose generated section (between the results markers) is rewritten.
    #[arg(long, default_value = "README.md")]
    pub readme: PathBuf,
    /// Write tables and figures only; leave the README alone.
    #[arg(long)]
    pub no_readme: bool,
}

/// Builds tables and figures from the records and rewrites the README's results section.
pub(crate) fn report(args: &ReportArgs) -> anyhow::Result<()> {
    let rep = report::build(&args.results)?;
    if rep.sections.is_empty() {
        bail!("no records under '{}'; run `compact run experiments/quick/*.toml` first", args.results.join("raw").display());
    }
    if !args.no_readme {
        report::rewrite_readme(&args.readme, &rep)?;
    }
    println!("wrote {} result sections (tables in {}/tables, figures in {}/figures)", rep.sections.len(), args.results.display(), args.results.display());
    Ok(())
}
