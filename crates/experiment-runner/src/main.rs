//! `compact`: the project's one command-line entry point.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Compare regenerated records with committed ones (timings excluded) and write a reproducibility report.
    Compare(cmd_run::CompareArgs),
    /// Run a trained model end to end on secret shares: secure accuracy, agreement with the fixed-point plaintext
    /// run, metered cost per inference with a per-layer breakdown.
    Secure(Box<cmd_secure::Args>),
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::List => {
            for name in activation_approx::ActivationRegistry::builtin().names() {
                println!("{name}");
            }
        }
        Command::Fit(args) => cmd_fit::run(*args)?,
        Command::Baselines(args) => cmd_baselines::run(&args)?,
        Command::Run(args) => cmd_run::run(&args)?,
        Command::Report(args) => cmd_run::report(&args)?,
        Command::Compare(args) => cmd_run::compare(&args)?,
        Command::Secure(args) => cmd_secure::run(&args)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
