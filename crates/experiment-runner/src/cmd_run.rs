//! `compact run` and `compact report`: experiment sweeps and the tables, figures and README section they feed.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use experiment_runner::experiments::{self, Paths};
use experiment_runner::report;
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
}

/// Runs every spec in turn; finished points are skipped, failed ones reported (and retried on the next run).
pub(crate) fn run(args: &RunArgs) -> anyhow::Result<()> {
    let paths = Paths { data_root: args.data.clone(), models: args.models.clone() };
    let specs = args.specs.iter().map(|p| Spec::load(p)).collect::<anyhow::Result<Vec<_>>>()?;
    let mut failures = 0;
    for spec in &specs {
        let executor = experiments::executor(&spec.kind, &paths)?;
        let summary = run_sweep(spec, executor.as_ref(), &args.results.join("raw"), !args.quiet)?;
        outln!(
            "{}: {} points, {} already recorded, {} computed, {} failed in {:.1} s",
            spec.name,
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
