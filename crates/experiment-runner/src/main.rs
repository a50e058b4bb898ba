//! `compact`: the project's one command-line entry point.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `print!` that returns an error on a closed standard output instead of panicking (see `main`).
macro_rules! out {
    ($($t:tt)*) => { experiment_runner::output::print(format_args!($($t)*))? };
}

/// `println!` that returns an error on a closed standard output instead of panicking (see `main`).
macro_rules! outln {
    ($($t:tt)*) => { experiment_runner::output::print(format_args!("{}\n", format_args!($($t)*)))? };
}

mod args;
mod cmd_baselines;
mod cmd_export;
mod cmd_fit;
mod cmd_run;
mod cmd_secure;
mod cmd_shard;
mod cmd_transformer_costs;

/// Compact: MPC-friendly approximations of activation functions, their baselines and experiments.
#[derive(Debug, Parser)]
#[command(name = "compact", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the activation catalogue.
    List,
    /// Compare every baseline (and Compact) for one activation: structure, errors, MPC cost, time estimates.
    Baselines(cmd_baselines::Args),
    /// Fit an MPC-friendly approximation of an activation (annealing search) and write its JSON.
    Fit(Box<cmd_fit::FitArgs>),
    /// Run experiment sweeps from TOML specs; records are appended to results/raw/ and finished points skipped.
    Run(cmd_run::RunArgs),
    /// Merge the shards of `compact run --shard K/N` into the record file one process would have written.
    Merge(cmd_shard::MergeArgs),
    /// Plan a cluster run from measured per-point times: job-array sizes, cores, memory, time limits, and the
    /// estimated wall time on N nodes.
    Plan(cmd_shard::PlanArgs),
    /// Write tables, figures and the README's results section from the recorded sweeps.
    Report(cmd_run::ReportArgs),
    /// Compare regenerated records with committed ones (timings excluded) and write a reproducibility report.
    Compare(cmd_run::CompareArgs),
    /// Run a trained model end to end on secret shares: secure accuracy, agreement with the fixed-point plaintext
    /// run, metered cost per inference with a per-layer breakdown.
    Secure(Box<cmd_secure::Args>),
    /// The transformers' cost per inference split by layer kind (linear, attention products, softmax, LayerNorm,
    /// GELU) for every GELU method, from the cost evaluator (shapes only): results/tables/transformer_costs.{md,csv}.
    TransformerCosts(cmd_transformer_costs::Args),
    /// Write an approximation as a program for an MPC framework (MPyC, CrypTen, SPU) or as a CSV table; --verify
    /// runs it there and compares with the reference fixed-point evaluation.
    Export(Box<cmd_export::ExportArgs>),
    /// Bring a hand-written table (CSV or JSON: breakpoints and coefficients) into the versioned JSON format.
    Import(cmd_export::ImportArgs),
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit();
            }
            // One line: clap's first line (the value clipped), without its usage block.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default().trim_start_matches("error: ");
            eprintln!("error: {}; see `compact --help`", activation_approx::limits::clip_line(first));
            return Ok(ExitCode::from(2));
        }
    };
    match cli.command {
        Command::List => {
            for name in activation_approx::ActivationRegistry::builtin().names() {
                outln!("{name}");
            }
        }
        Command::Fit(args) => cmd_fit::run(*args)?,
        Command::Baselines(args) => cmd_baselines::run(&args)?,
        Command::Run(args) => cmd_run::run(&args)?,
        Command::Merge(args) => cmd_shard::merge(&args)?,
        Command::Plan(args) => cmd_shard::plan(&args)?,
        Command::Report(args) => cmd_run::report(&args)?,
        Command::Compare(args) => cmd_run::compare(&args)?,
        Command::Secure(args) => cmd_secure::run(&args)?,
        Command::TransformerCosts(args) => cmd_transformer_costs::run(&args)?,
        Command::Export(args) => cmd_export::run(&args)?,
        Command::Import(args) => cmd_export::import(&args)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        // A closed standard output (`compact … | head -1`) is not a failure: every file was written before
        // anything was printed, so end quietly with success, as ripgrep does.
        Err(err) if experiment_runner::output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
