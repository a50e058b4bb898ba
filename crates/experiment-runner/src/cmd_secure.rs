//! `compact secure`: end-to-end two-party inference of a trained model on `mpc-sim` (see `model_zoo::secure` for
//! the protocol and the threat model): secure accuracy, agreement with the fixed-point plaintext run, and the metered
//! cost per inference with its per-layer breakdown.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use secure_methods::{SecureMethod, compact};
use activation_approx::{Cost, Truncation};
use anyhow::{Context, bail};
use secure_methods::MethodRegistry;
use experiment_runner::constrained::{SearchCache, SearchParams, choose_method};
use experiment_runner::models::{LoadParams, ModelCache, Paths, limited};
use activation_approx::limits::num;
use experiment_runner::names;
use model_zoo::secure::{
    Backend, InferenceCost, LayerKind, SecureOptions, SecureReport, TransformerRecipes, default_batch, evaluate_secure_with, predict_cost_with,
};
use model_zoo::{ActivationPlan, Task};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Human-readable summary and Markdown tables.
    Md,
    /// The whole report as JSON.
    Json,
}

/// Truncation protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Trunc {
    /// SecureML local truncation (free, ±1 LSB, rare wrap errors).
    Local,
    /// Dealer-pair truncation (1 round, 8 B per element).
    DealerPair,
}

/// Secure backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum BackendArg {
    /// Additive sharing with Beaver triples; comparisons by the 8-round LTZ.
    Beaver,
    /// Function secret sharing: comparisons and piecewise activations are DCF gates (1 opening each).
    Fss,
}

impl From<BackendArg> for Backend {
    fn from(b: BackendArg) -> Backend {
        match b {
            BackendArg::Beaver => Backend::Beaver,
            BackendArg::Fss => Backend::Fss,
        }
    }
}

/// Options of `compact secure`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// Task: mnist, fashion-mnist, spam, letter, or a transformer: mnist-vit, fashion-mnist-vit, spam-text.
    #[arg(long)]
    task: String,
    /// Activation the model was trained with (silu, gelu, mish).
    #[arg(long = "af")]
    af: String,
    /// Method evaluating every activation: compact (the accuracy-constrained search on this model, or --approx),
    /// or any registered baseline (see `compact baselines`), e.g. nfgen, puma, relu-swap.
    #[arg(long, default_value = "compact")]
    method: String,
    /// Hidden layers of the MNIST MLP (the depth sweep's models); default: the task's default model.
    #[arg(long, allow_negative_numbers = true, value_parser = crate::args::depth)]
    depth: Option<usize>,
    /// Test samples to run securely (the first ones of the test split).
    #[arg(long, default_value_t = 500, allow_negative_numbers = true, value_parser = crate::args::count)]
    samples: usize,
    /// Secure backend.
    #[arg(long, value_enum, default_value = "beaver")]
    backend: BackendArg,
    /// Samples per batch (one two-party session each, forked from the one set-up session; batches run in
    /// parallel). Default: 100 (MLP), 10 (CNN, transformer).
    #[arg(long, allow_negative_numbers = true, value_parser = crate::args::count)]
    batch: Option<usize>,
    /// Seed of the dealers, the input sharing and Compact's search.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true, value_parser = crate::args::seed)]
    seed: u64,
    /// Truncation protocol, the same for every method (default dealer pair: local truncation at f = 16 fails with
    /// probability up to |v|/2^63 per truncated value).
    #[arg(long, value_enum, default_value_t = Trunc::DealerPair)]
    truncation: Trunc,
    /// Use this approximation JSON (from `compact fit`) as Compact instead of searching.
    #[arg(long)]
    approx: Option<PathBuf>,
    /// Use this model sidecar (JSON next to its .safetensors) instead of the task's default model.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Allowed relative accuracy loss ν of Compact's search (on the validation split).
    #[arg(long, default_value_t = 0.01, allow_negative_numbers = true)]
    nu: f64,
    /// Validation samples Compact's search scores each candidate on (0 = all).
    #[arg(long, default_value_t = 5000, allow_negative_numbers = true, value_parser = crate::args::count0)]
    eval_limit: usize,
    /// Transformers: the attention softmax recipe — puma (SPU's clipped limit exponential, 8 squarings, Goldschmidt
    /// reciprocal), puma-fast (5 squarings) or crypten (limit exponential, Newton reciprocal).
    #[arg(long, default_value = "puma")]
    softmax: String,
    /// Transformers: LayerNorm's inverse square root — ladder (power-of-two comparison ladder + 3 Newton steps) or
    /// crypten (CrypTen's initial guess + 3 Newton steps).
    #[arg(long = "layer-norm", default_value = "ladder")]
    layer_norm: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Md)]
    format: Format,
    /// Fetched datasets.
    #[arg(long, default_value = "datasets")]
    data: PathBuf,
    /// Trained models with their JSON sidecars.
    #[arg(long, default_value = "results/models")]
    models: PathBuf,
}

/// Runs the command.
pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    // Every name resolved once (case-insensitive, `_`/`-` alike); only canonical names are used below.
    let task: Task = names::task(&args.task)?;
    let resolved = Args { af: names::activation(&args.af)?, method: names::method(&args.method)?.to_string(), ..args.clone() };
    let args = &resolved;
    if !(args.nu > 0.0 && args.nu < 1.0) {
        bail!("--nu {} must be in (0, 1), e.g. 0.01 for a 1 % relative accuracy loss", num(args.nu));
    }
    if args.approx.is_some() && args.method != "compact" {
        bail!("--approx gives Compact's approximation, but --method is '{}'; drop --approx or use --method compact", args.method);
    }
    let recipes = TransformerRecipes::from_names(&args.softmax, &args.layer_norm)?;
    let registry = secure_methods::MethodRegistry::builtin();
    let spec = registry.spec(&args.method)?;
    if !spec.supports(&args.af) {
        bail!("method '{}' has no approximation of '{}'; methods for it: {}", args.method, args.af, registry.names_for(&args.af).join(", "));
    }
    // Compact from a file: checked before anything is loaded.
    let from_file: Option<Arc<dyn SecureMethod>> = match &args.approx {
        None => None,
        Some(path) => {
            // As strict as `compact fit --check`: errors and cost re-measured, ring bound checked.
            let file = crate::cmd_fit::load_verified(path).context("--approx")?;
            if names::activation(&file.activation)? != args.af {
                bail!(
                    "--approx {} approximates '{}' but the model uses '{}'; fit one with `compact fit --af {}`",
                    path.display(),
                    file.activation,
                    args.af,
                    args.af
                );
            }
            let provenance = format!("from {}", path.display());
            Some(Arc::new(compact::from_approximation(&args.af, &file.piecewise()?, file.fixed_point()?, &provenance)?))
        }
    };
    let acc = ModelCache::new(Paths { data_root: args.data.clone(), models: args.models.clone() });
    let load = LoadParams { batch: 512, eval_limit: args.eval_limit, calibration: 2000, bins: 256 };
    let loaded = acc.load(task, &args.af, args.depth, args.model.as_deref(), &load, args.seed)?;

    let t = Instant::now();
    let (method, how): (Arc<dyn SecureMethod>, String) = match from_file {
        Some(m) => {
            let how = m.citation().to_string();
            (m, how)
        }
        None => {
            let search = SearchParams { nu: args.nu, tau_lo: 1e-4, tau_hi: 3e-1, ladder: 10, backend: args.backend.into() };
            let methods = MethodRegistry::builtin();
            let c = choose_method(
                &methods,
                &loaded,
                &args.af,
                &args.method,
                serde_json::json!({}),
                &search,
                load.batch,
                args.seed,
                &SearchCache::default(),
                "",
            )?;
            let how = match &c.search {
                Some(o) => format!(
                    "accuracy-constrained search: τ = {}, ν = {} on {} validation samples, stopped: {:?}",
                    o.tau.map_or("- (one-comparison form)".to_string(), |t| format!("{t:.3e}")),
                    args.nu,
                    loaded.val.len(),
                    o.stop
                ),
                None => c.method.citation().to_string(),
            };
            (c.method, how)
        }
    };
    let search_s = t.elapsed().as_secs_f64();

    let data = acc.task_data(task)?;
    let exported = loaded.net.export_folded()?;
    let opts = SecureOptions {
        batch: args.batch.unwrap_or_else(|| default_batch(&exported)),
        seed: args.seed,
        truncation: match args.truncation {
            Trunc::Local => Truncation::Local,
            Trunc::DealerPair => Truncation::DealerPair,
        },
        fx: method.fixed_point(),
        backend: args.backend.into(),
    };
    if !exported.is_transformer() && recipes != TransformerRecipes::default() {
        bail!("--softmax / --layer-norm apply to transformers only, and {} is not one; drop them", task.name());
    }
    let report = evaluate_secure_with(&exported, method.as_ref(), &recipes, &data.test, args.samples, &opts)?;
    // The same method and model on the other backend, predicted (what the comparison line prints).
    let other_backend = if opts.backend == Backend::Fss { Backend::Beaver } else { Backend::Fss };
    let other = predict_cost_with(&exported, method.as_ref(), &recipes, opts.fx, opts.truncation, other_backend)?;
    let float_acc = model_zoo::evaluate(&loaded.net, &limited(&data.test, args.samples), &ActivationPlan::Exact, load.batch)?;
    let stem = args.model.as_ref().and_then(|p| p.file_stem()).map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| {
        model_zoo::default_spec(task, &args.af, args.depth).map(|s| s.stem).unwrap_or_default()
    });
    match args.format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "model": stem,
                "task": task.name(),
                "activation": args.af,
                "method": args.method,
                "method_source": how,
                "options": opts,
                "recipes": exported.is_transformer().then(|| serde_json::json!({ "softmax": recipes.names().0, "layer_norm": recipes.names().1 })),
                "float_accuracy": float_acc,
                "search_seconds": search_s,
                "report": report,
                "other_backend": { "backend": other_backend, "predicted": other },
            }))?
        ),
        Format::Md => {
            let recipes = exported.is_transformer().then(|| recipes.names());
            out!("{}", render(&stem, &args.method, &how, &opts, recipes, float_acc, search_s, &report, (other_backend, &other)))
        }
    }
    Ok(())
}

/// The report's heading: the model and the method, and what else tells two runs of them apart — the backend, the
/// truncation protocol and, for a transformer, its softmax and LayerNorm recipes.
fn heading(stem: &str, method: &str, backend: Backend, truncation: Truncation, recipes: Option<(&str, &str)>) -> String {
    let truncation = match truncation {
        Truncation::Local => "local",
        Truncation::DealerPair => "dealer-pair",
    };
    let mut h = format!("# Secure inference: {stem}, method {method}, {backend} backend, {truncation} truncation");
    if let Some((softmax, layer_norm)) = recipes {
        h.push_str(&format!(", softmax {softmax}, LayerNorm {layer_norm}"));
    }
    h
}

#[allow(clippy::too_many_arguments)]
fn render(
    stem: &str,
    method: &str,
    how: &str,
    opts: &SecureOptions,
    recipes: Option<(&str, &str)>,
    float_acc: f64,
    search_s: f64,
    r: &SecureReport,
    other: (Backend, &InferenceCost),
) -> String {
    let mut s = String::new();
    let c = &r.metered;
    let pct = |x: f64| 100.0 * x;
    let _ = writeln!(s, "{}", heading(stem, method, r.backend, r.truncation, recipes));
    let _ = writeln!(s);
    let _ = writeln!(s, "- method: {how} (found in {search_s:.1} s)");
    let _ = writeln!(
        s,
        "- {} test samples, batches of {}, seed {}, {} backend, {:?} truncation, f = {} fractional bits",
        r.samples, opts.batch, opts.seed, r.backend, r.truncation, opts.fx.frac_bits
    );
    if let Some((softmax, layer_norm)) = recipes {
        let _ = writeln!(
            s,
            "- transformer recipes: softmax {softmax}, LayerNorm {layer_norm}; the fixed-point plaintext run executes the same \
             program (same recipes, same activation method) without secret sharing, so agreement isolates the protocol"
        );
    }
    let _ = writeln!(
        s,
        "- accuracy: secure {:.2} %, fixed-point plaintext {:.2} % (difference {:+.2} points), float model with the exact activation {:.2} %",
        pct(r.secure_accuracy),
        pct(r.plain_accuracy),
        pct(r.secure_accuracy - r.plain_accuracy),
        pct(float_acc)
    );
    let _ = writeln!(s, "- predicted labels agree (secure vs plaintext): {:.2} %; max |Δ logit| = {:.3e}", pct(r.agreement), r.max_logit_diff);
    let _ = writeln!(
        s,
        "- cost per inference (metered = predicted): {} rounds, {} bytes sent per party ({:.3} MB), {} dealer bytes per party; \
         LAN {:.3} s, WAN {:.3} s",
        c.total.rounds,
        c.total.bytes_per_party,
        c.total.bytes_per_party.get() as f64 / 1e6,
        c.total.offline_bytes_per_party,
        mpc_sim::Network::LAN.latency_s(&c.total),
        mpc_sim::Network::WAN.latency_s(&c.total)
    );
    if r.backend == Backend::Fss {
        let _ = writeln!(s, "- FSS key evaluation: {} AES calls per party per inference", c.aes_calls);
    }
    let _ = writeln!(
        s,
        "- the same method on the {} backend (predicted): {} rounds, {} bytes per party, {} dealer bytes per party; LAN {:.3} s, WAN {:.3} s",
        other.0,
        other.1.total.rounds,
        other.1.total.bytes_per_party,
        other.1.total.offline_bytes_per_party,
        mpc_sim::Network::LAN.latency_s(&other.1.total),
        mpc_sim::Network::WAN.latency_s(&other.1.total)
    );
    let _ = writeln!(
        s,
        "- once per model (shared by every batch): {} bytes per party, {} rounds, {} dealer bytes per party to share and mask the weights",
        c.setup.bytes_per_party, c.setup.rounds, c.setup.offline_bytes_per_party
    );
    let _ = writeln!(
        s,
        "- time: secure {:.2} s ({:.1} samples/s, both parties, dealer and set-up included), plaintext fixed point {:.2} s",
        r.secure_seconds,
        r.samples as f64 / r.secure_seconds.max(1e-9),
        r.plain_seconds
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "| part | rounds | bytes/party | share of bytes | dealer bytes/party |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|");
    let total = c.total.bytes_per_party.get().max(1) as f64;
    let kinds = [
        ("input", LayerKind::Input),
        ("linear", LayerKind::Linear),
        ("attention products", LayerKind::AttentionProduct),
        ("softmax", LayerKind::Softmax),
        ("layernorm", LayerKind::LayerNorm),
        ("activation", LayerKind::Activation),
        ("pooling", LayerKind::Pooling),
        ("output", LayerKind::Output),
    ];
    for (name, kind) in kinds {
        let k = c.of_kind(kind);
        if k == Cost::ZERO && matches!(kind, LayerKind::AttentionProduct | LayerKind::Softmax | LayerKind::LayerNorm) {
            continue;
        }
        let _ = writeln!(s, "| {name} | {} | {} | {:.1} % | {} |", k.rounds, k.bytes_per_party, 100.0 * k.bytes_per_party.get() as f64 / total, k.offline_bytes_per_party);
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "| layer | kind | rounds | bytes/party | dealer bytes/party |");
    let _ = writeln!(s, "|---|---|---:|---:|---:|");
    for l in &c.layers {
        let _ = writeln!(s, "| {} | {:?} | {} | {} | {} |", l.label, l.kind, l.rounds, l.bytes, l.offline_bytes);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_tell_runs_of_one_model_and_method_apart() {
        let runs = [
            heading("mnist-silu-d8", "compact", Backend::Beaver, Truncation::DealerPair, None),
            heading("mnist-silu-d8", "compact", Backend::Fss, Truncation::DealerPair, None),
            heading("mnist-silu-d8", "compact", Backend::Fss, Truncation::Local, None),
        ];
        assert_eq!(runs[0], "# Secure inference: mnist-silu-d8, method compact, beaver backend, dealer-pair truncation");
        assert_eq!(runs[2], "# Secure inference: mnist-silu-d8, method compact, fss backend, local truncation");
        assert!(runs[0] != runs[1] && runs[1] != runs[2] && runs[0] != runs[2], "{runs:?}");
        let vit = heading("mnist-vit-gelu-d4", "nfgen", Backend::Beaver, Truncation::DealerPair, Some(("puma", "ladder")));
        assert!(vit.ends_with("dealer-pair truncation, softmax puma, LayerNorm ladder"), "{vit}");
        assert_ne!(vit, heading("mnist-vit-gelu-d4", "nfgen", Backend::Beaver, Truncation::DealerPair, Some(("crypten", "ladder"))));
    }
}
