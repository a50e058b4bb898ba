//! `compact baselines`: every registered method for one activation, measured the same way
//! (`secure_methods::report`: costs from the methods' programs on mpc-sim's cost evaluator, under one truncation
//! protocol for all methods, the other protocol's cost beside it), printed as a Markdown table, CSV or JSON.

use std::fmt::Write as _;

use activation_approx::density::DensitySpec;
use activation_approx::{ActivationRegistry, FixedPoint, Truncation, nfgen};
use activation_approx::limits::clip;
use anyhow::{Context, bail};
use secure_methods::nfgen::{NfgenMethod, Protocol, config_from_context};
use secure_methods::{BackendCost, BuildContext, MethodRegistry, MethodReport, SecureMethod as _, measure};
use serde::Serialize;

use crate::cmd_secure::BackendArg;

/// Truncation protocol of the cost columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum TruncArg {
    /// SecureML local truncation (free; fails with probability up to |v|/2^63 per truncated value).
    Local,
    /// Dealer pair (r, r >> k): 1 round, 8 B, no failure.
    DealerPair,
}

impl From<TruncArg> for Truncation {
    fn from(t: TruncArg) -> Self {
        match t {
            TruncArg::Local => Truncation::Local,
            TruncArg::DealerPair => Truncation::DealerPair,
        }
    }
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Markdown table.
    Md,
    /// Comma-separated values with a header row.
    Csv,
    /// A JSON array of rows.
    Json,
}

/// Options of `compact baselines`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Activation to approximate (see `compact list`).
    #[arg(long = "af")]
    af: String,
    /// Input density: normal:MEAN,STD | uniform:A,B | mixture:W1@SPEC1;W2@SPEC2 | inline JSON.
    #[arg(long, default_value = "normal:0,1")]
    density: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Md)]
    format: Format,
    /// Only these methods (comma-separated registry names); default: every method defined for the activation.
    #[arg(long, value_delimiter = ',')]
    methods: Vec<String>,
    /// Per-method options as a JSON object keyed by method name, e.g. '{"nfgen": {"range": [-5, 5]}}'.
    #[arg(long, default_value = "{}")]
    config: String,
    /// Fractional bits of the fixed-point encoding.
    #[arg(long, default_value_t = 16)]
    frac_bits: u32,
    /// Truncation protocol of the cost columns, the same for every method (the other protocol's rounds and bytes
    /// are printed beside them).
    #[arg(long, value_enum, default_value_t = TruncArg::DealerPair)]
    truncation: TruncArg,
    /// Inputs |x| ≤ this bound for the local-truncation failure bound (default 8, the table's error range).
    #[arg(long, default_value_t = 8.0)]
    input_bound: f64,
    /// Backend of the cost columns: beaver (the full report table) or fss (online rounds, online bytes, key bytes and
    /// AES calls per element on the FSS backend, the Beaver figures beside them).
    #[arg(long, value_enum, default_value = "beaver")]
    backend: BackendArg,
    /// Instead of the table: NFGen's candidates per degree k (m, Rep3 time, our bytes) and both (k, m) picks, for the
    /// NFGen options given in --config (e.g. '{"nfgen": {"range": [-5, 5]}}').
    #[arg(long)]
    nfgen_candidates: bool,
}

/// Runs the command.
pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    if args.nfgen_candidates {
        out!("{}", nfgen_candidates(args)?);
        return Ok(());
    }
    if args.backend == BackendArg::Fss {
        print!("{}", render_backends(&backend_rows(args)?, args)?);
        return Ok(());
    }
    let rows = reports(args)?;
    if args.format == Format::Md {
        outln!(
            "Costs per element, {} truncation for every method (other: the other protocol); failure bound: local \
             truncation, inputs |x| ≤ {}.\n",
            match args.truncation {
                TruncArg::Local => "local",
                TruncArg::DealerPair => "dealer-pair",
            },
            args.input_bound
        );
    }
    out!("{}", render(&rows, args.format)?);
    Ok(())
}

/// One method's per-element costs on both backends.
#[derive(Debug, Clone, Serialize)]
struct BackendRow {
    method: String,
    truncation: &'static str,
    fss: BackendCost,
    beaver: BackendCost,
}

fn backend_rows(args: &Args) -> anyhow::Result<Vec<BackendRow>> {
    let t: Truncation = args.truncation.into();
    methods(args)?
        .into_iter()
        .map(|m| {
            Ok(BackendRow {
                method: m.name().to_string(),
                truncation: trunc_name(t),
                fss: m.backend_cost(true, t, args.input_bound)?,
                beaver: m.backend_cost(false, t, args.input_bound)?,
            })
        })
        .collect()
}

const BACKEND_HEADER: [&str; 11] = [
    "method",
    "truncation",
    "fss_rounds",
    "fss_online_bytes",
    "fss_key_bytes",
    "fss_aes_calls",
    "fss_wan_ms_per_1e6",
    "beaver_rounds",
    "beaver_online_bytes",
    "beaver_offline_bytes",
    "beaver_wan_ms_per_1e6",
];

fn render_backends(rows: &[BackendRow], args: &Args) -> anyhow::Result<String> {
    let wan = |c: &BackendCost| {
        let batch = mpc_sim::Cost { rounds: c.cost.rounds, bytes_per_party: c.cost.bytes_per_party * 1_000_000, ..mpc_sim::Cost::ZERO };
        1e3 * mpc_sim::Network::WAN.latency_s(&batch)
    };
    let cells = |r: &BackendRow| -> Vec<String> {
        vec![
            r.method.clone(),
            r.truncation.into(),
            r.fss.cost.rounds.to_string(),
            r.fss.cost.bytes_per_party.to_string(),
            r.fss.cost.offline_bytes_per_party.to_string(),
            r.fss.cost.aes_calls_per_party.to_string(),
            format!("{:.1}", wan(&r.fss)),
            r.beaver.cost.rounds.to_string(),
            r.beaver.cost.bytes_per_party.to_string(),
            r.beaver.cost.offline_bytes_per_party.to_string(),
            format!("{:.1}", wan(&r.beaver)),
        ]
    };
    let preamble = format!(
        "Costs per element and party, FSS backend (64-bit DCF comparisons) beside the Beaver backend; {} truncation \
         for every method; key bytes = dealer bytes (DCF keys, masks and Beaver material); AES calls = key \
         evaluation per party.\n",
        trunc_name(args.truncation.into())
    );
    render_table(rows, &BACKEND_HEADER, cells, args.format, Some(&preamble))
}

/// Every requested method (all of the activation's when none is named), built with its `--config` entry; config
/// keys resolve like method names (`NFGen` configures nfgen).
fn methods(args: &Args) -> anyhow::Result<Vec<Box<dyn secure_methods::SecureMethod>>> {
    let activation = ActivationRegistry::builtin().get(&args.af)?;
    let fx = FixedPoint::new(args.frac_bits)?;
    let config: serde_json::Value = serde_json::from_str(&args.config)
        .with_context(|| format!("--config '{}' is not valid JSON; expected an object keyed by method", clip(&args.config)))?;
    let Some(config) = config.as_object() else {
        bail!("--config '{}' must be a JSON object keyed by method name", clip(&args.config));
    };
    let registry = MethodRegistry::builtin();
    // Keys resolved like every method name (`NFGen` configures nfgen); two spellings of one method are an error.
    let mut resolved = serde_json::Map::new();
    for (key, value) in config {
        let name = experiment_runner::names::method(key)?;
        if resolved.insert(name.to_string(), value.clone()).is_some() {
            bail!("--config configures method '{name}' twice (under two spellings); keep one");
        }
    }
    let config = &resolved;
    let names: Vec<String> = if args.methods.is_empty() {
        registry.names_for(activation.name()).into_iter().map(String::from).collect()
    } else {
        args.methods.clone()
    };
    if !(args.input_bound.is_finite() && args.input_bound > 0.0) {
        bail!("--input-bound {}: give a positive finite bound on |x|, e.g. 8", args.input_bound);
    }
    let mut out = Vec::new();
    for name in &names {
        let spec = registry.spec(name)?;
        let ctx = BuildContext {
            activation: activation.clone(),
            density: Some(args.density.clone()),
            fx,
            config: config.get(spec.name).cloned().unwrap_or(serde_json::Value::Null),
        };
        out.push(registry.build(name, &ctx)?);
    }
    Ok(out)
}

fn reports(args: &Args) -> anyhow::Result<Vec<MethodReport>> {
    let activation = ActivationRegistry::builtin().get(&args.af)?;
    let density = DensitySpec::parse(&args.density)?;
    methods(args)?
        .iter()
        .map(|m| Ok(measure(m.as_ref(), activation.as_ref(), &density, args.truncation.into(), args.input_bound)?))
        .collect()
}

fn nfgen_candidates(args: &Args) -> anyhow::Result<String> {
    let activation = ActivationRegistry::builtin().get(&args.af)?;
    let config: serde_json::Value = serde_json::from_str(&args.config)
        .with_context(|| format!("--config '{}' is not valid JSON; expected an object keyed by method", clip(&args.config)))?;
    let ctx = BuildContext {
        activation: activation.clone(),
        density: None,
        fx: FixedPoint::new(args.frac_bits)?,
        config: config.get("nfgen").cloned().unwrap_or(serde_json::Value::Null),
    };
    let cfg = config_from_context("nfgen", &ctx)?;
    let fit = nfgen::fit(activation.as_ref(), &cfg)?;
    let mut out = String::new();
    let (a, b) = cfg.range;
    writeln!(
        out,
        "NFGen {} on ({a}, {b}), tol {}, <n, f> = <{}, {}>",
        fit.activation, cfg.tol, cfg.ring_bits, cfg.fx.frac_bits
    )?;
    writeln!(out, "| k | m | Rep3 time (ms) | in Rep3 domain | bytes (sorted, search model) | bytes (one-hot) | max fit error |")?;
    writeln!(out, "|---|---|---|---|---|---|---|")?;
    for c in &fit.candidates {
        let onehot = NfgenMethod {
            name: "nfgen".into(),
            activation: fit.activation.clone(),
            citation: String::new(),
            pp: c.pp.clone(),
            scales: c.scales.clone(),
            protocol: Protocol::OneHot,
            fx: cfg.fx,
        };
        writeln!(
            out,
            "| {} | {} | {:.2} | {} | {} | {} | {:.2e} |",
            c.k,
            c.m,
            1e3 * c.rep3_seconds,
            if c.in_rep3_domain { "yes" } else { "no" },
            c.bytes_sorted,
            onehot.cost(args.truncation.into(), args.input_bound)?.cost.bytes_per_party,
            c.max_fit_error
        )?;
    }
    let (r, o) = (&fit.candidates[fit.pick_rep3], &fit.candidates[fit.pick_ours]);
    writeln!(
        out,
        "pick by NFGen's Rep3 regression: k = {}, m = {}; pick by our cost model: k = {}, m = {}",
        r.k, r.m, o.k, o.m
    )?;
    Ok(out)
}

const HEADER: [&str; 21] = [
    "method",
    "pieces",
    "degrees",
    "range",
    "max_err",
    "max_err_fixed",
    "weighted_err",
    "weighted_err_fixed",
    "comparisons",
    "multiplications",
    "rounds",
    "bytes",
    "lan_ms_per_1e6",
    "wan_ms_per_1e6",
    "truncation",
    "failure_bound",
    "other_rounds",
    "other_bytes",
    "other_failure_bound",
    "needs",
    "protocol",
];

fn trunc_name(t: Truncation) -> &'static str {
    match t {
        Truncation::Local => "local",
        Truncation::DealerPair => "dealer_pair",
    }
}

fn cells(r: &MethodReport) -> [String; 21] {
    [
        r.method.clone(),
        r.pieces.to_string(),
        r.degrees.clone(),
        r.range.clone(),
        format!("{:.3e}", r.max_err),
        format!("{:.3e}", r.max_err_fixed),
        format!("{:.3e}", r.weighted_err),
        format!("{:.3e}", r.weighted_err_fixed),
        r.comparisons.to_string(),
        r.multiplications.to_string(),
        r.rounds.to_string(),
        r.bytes.to_string(),
        format!("{:.1}", r.lan_ms),
        format!("{:.1}", r.wan_ms),
        trunc_name(r.truncation).into(),
        format!("{:.1e}", r.failure_bound),
        r.other_rounds.to_string(),
        r.other_bytes.to_string(),
        format!("{:.1e}", r.other_failure_bound),
        trunc_name(r.needs).into(),
        r.protocol.clone(),
    ]
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

fn render(rows: &[MethodReport], format: Format) -> anyhow::Result<String> {
    render_table(rows, &HEADER, |r| cells(r).to_vec(), format, None)
}

/// One table in the chosen format: JSON of the rows themselves, or CSV / Markdown of `header` and `cells` (Markdown
/// after an optional preamble, with `|` escaped in cells).
fn render_table<T: serde::Serialize>(
    rows: &[T],
    header: &[&str],
    cells: impl Fn(&T) -> Vec<String>,
    format: Format,
    md_preamble: Option<&str>,
) -> anyhow::Result<String> {
    let mut out = String::new();
    match format {
        Format::Json => {
            out = serde_json::to_string_pretty(rows)?;
            out.push('\n');
        }
        Format::Csv => {
            writeln!(out, "{}", header.join(","))?;
            for r in rows {
                writeln!(out, "{}", cells(r).iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(","))?;
            }
        }
        Format::Md => {
            if let Some(p) = md_preamble {
                writeln!(out, "{p}")?;
            }
            writeln!(out, "| {} |", header.join(" | "))?;
            writeln!(out, "|{}", "---|".repeat(header.len()))?;
            for r in rows {
                let escaped: Vec<String> = cells(r).iter().map(|c| c.replace('|', "\\|")).collect();
                writeln!(out, "| {} |", escaped.join(" | "))?;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn args(af: &str, methods: &[&str], config: &str) -> Args {
        Args {
            af: af.into(),
            density: "normal:0,1".into(),
            format: Format::Csv,
            methods: methods.iter().map(|s| s.to_string()).collect(),
            config: config.into(),
            frac_bits: 16,
            truncation: TruncArg::DealerPair,
            input_bound: 8.0,
            backend: BackendArg::Beaver,
            nfgen_candidates: false,
        }
    }

    #[test]
    fn csv_has_one_row_per_method() {
        let rows = reports(&args("gelu", &["puma", "bolt", "relu-swap"], "{}")).unwrap();
        let csv = render(&rows, Format::Csv).unwrap();
        assert_eq!(csv.lines().count(), 4, "{csv}");
        assert!(csv.lines().nth(1).unwrap().starts_with("puma,4,"), "{csv}");
        let json: serde_json::Value = serde_json::from_str(&render(&rows, Format::Json).unwrap()).unwrap();
        assert_eq!(json.as_array().unwrap().len(), 3);
    }

    #[test]
    fn fss_backend_rows_meet_the_per_element_targets() {
        let mut a = args("gelu", &["bolt", "puma", "relu-swap"], "{}");
        a.backend = BackendArg::Fss;
        a.truncation = TruncArg::Local;
        let rows = backend_rows(&a).unwrap();
        assert_eq!(rows.len(), 3);
        for r in &rows {
            assert!(r.fss.cost.rounds < r.beaver.cost.rounds, "{r:?}");
            assert!(r.fss.cost.aes_calls_per_party > mpc_sim::Count::ZERO && r.beaver.cost.aes_calls_per_party == mpc_sim::Count::ZERO, "{r:?}");
        }
        let csv = render_backends(&rows, &a).unwrap();
        assert_eq!(csv.lines().count(), 4, "{csv}");
    }

    #[test]
    fn bad_inputs_are_clear_errors() {
        let e = reports(&args("gelu", &["pumaa"], "{}")).unwrap_err().to_string();
        assert!(e.contains("unknown method 'pumaa'") && e.contains("puma"), "{e}");
        let e = reports(&args("mish", &["puma"], "{}")).unwrap_err().to_string();
        assert!(e.contains("not defined for activation 'mish'"), "{e}");
        let e = reports(&args("gelu", &["bolt"], r#"{"bolt": {"t": -1}}"#)).unwrap_err().to_string();
        assert!(e.contains("t = -1"), "{e}");
        let e = reports(&args("gelu", &["bolt"], "[1]")).unwrap_err().to_string();
        assert!(e.contains("JSON object"), "{e}");
        let e = reports(&args("swsh", &[], "{}")).unwrap_err().to_string();
        assert!(e.contains("unknown activation 'swsh'"), "{e}");
    }
}
