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
mod cmd_fit;
mod cmd_run;
mod cmd_secure;

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
    /// Write tables, figures and the README's results section from the recorded sweeps.
    Report(cmd_run::ReportArgs),
    /// Run a trained model end to end on secret shares: secure accuracy, agreement with the fixed-point plaintext
    /// run, metered cost per inference with a per-layer breakdown.
    Secure(Box<cmd_secure::Args>),
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
        Command::Report(args) => cmd_run::report(&args)?,
        Command::Secure(args) => cmd_secure::run(&args)?,
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
