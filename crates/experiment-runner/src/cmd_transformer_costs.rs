//! `compact transformer-costs`: the per-layer-kind cost table of the transformers per GELU method
//! ([`experiment_runner::transformer_costs`]), written to `<out>/transformer_costs.{md,csv}` and printed.

use std::path::PathBuf;

use anyhow::Context;
use experiment_runner::transformer_costs::{GELU_METHODS, caption, shape_costs, table};
use model_zoo::secure::TransformerRecipes;

/// Options of `compact transformer-costs`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// GELU methods (comma-separated); default: compact and every registered GELU baseline.
    #[arg(long, value_delimiter = ',')]
    methods: Option<Vec<String>>,
    /// Softmax recipe: puma, puma-fast, crypten.
    #[arg(long, default_value = "puma")]
    softmax: String,
    /// LayerNorm recipe: ladder, crypten.
    #[arg(long = "layer-norm", default_value = "ladder")]
    layer_norm: String,
    /// Density Compact's search targets (the baselines ignore it).
    #[arg(long, default_value = "normal:0,1")]
    density: String,
    /// Folder of the table files.
    #[arg(long, default_value = "results/tables")]
    out: PathBuf,
}

/// Runs the command.
pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let recipes = TransformerRecipes::from_names(&args.softmax, &args.layer_norm)?;
    activation_approx::density::DensitySpec::parse(&args.density).context("--density")?;
    let methods: Vec<&str> = match &args.methods {
        Some(v) => v.iter().map(String::as_str).collect(),
        None => GELU_METHODS.to_vec(),
    };
    let rows = shape_costs(&methods, &recipes, &args.density)?;
    let t = table(&rows);
    t.write(&args.out, "transformer_costs")?;
    outln!("{}\n\n{}", caption(&recipes, &args.density), t.to_markdown()?);
    Ok(())
}
