//! `compact fit`: search (or fit a given structure for) an MPC-friendly approximation of one activation, print a
//! summary table and write the versioned JSON file (schema: crates/activation-approx/README.md).
//!
//! Modes:
//! - search (default): simulated annealing ([`activation_approx::anneal`]), or `--exhaustive`;
//! - fixed structure: `--pieces M --degree D --range A,B` fits M equal pieces of degree D on [A, B];
//! - `--check FILE`: load and validate an approximation file and print its summary;
//! - `--list`: the activation catalogue.

use std::path::{Path, PathBuf};

use activation_approx::chebyshev::FitMethod;
use activation_approx::format::SearchInfo;
use activation_approx::search::{Candidate, SearchOutcome};
use activation_approx::{
    ActivationRegistry, AnnealConfig, ApproximationFile, CostModel, Criterion, DensitySpec, Empirical,
    ErrorReport, ExhaustiveGrid, Fitter, FixedPoint, FssCostModel, Structure, TailFit, TwoPartyCostModel, anneal,
    exhaustive,
};
use activation_approx::limits::{MAX_ANNEAL_STEPS, MAX_APPROX_FILE_BYTES, MAX_BINS, MAX_SAMPLES_FILE_BYTES, clip, num};
use activation_approx::verify::verify;
use anyhow::{Context, Result, bail};
use experiment_runner::input::read_capped;
use experiment_runner::output::write_atomic;
use clap::{Args, ValueEnum};

use crate::cmd_secure::BackendArg;

/// Arguments of `compact fit`.
#[derive(Debug, Clone, Args)]
pub(crate) struct FitArgs {
    /// List the activations and exit.
    #[arg(long)]
    pub list: bool,
    /// Activation to approximate (see --list).
    #[arg(long = "af", required_unless_present_any = ["list", "check"])]
    pub af: Option<String>,
    /// Input density: normal:MEAN,STD | uniform:A,B | mixture:W1@SPEC1;W2@SPEC2 | JSON | @FILE.json (JSON density)
    /// | samples:FILE[,BINS] (histogram of recorded values, one per line).
    #[arg(long, default_value = "normal:0,1", allow_hyphen_values = true)]
    pub density: String,
    /// Tolerance τ of the criterion (> 0).
    #[arg(long, default_value_t = 1e-3, allow_hyphen_values = true)]
    pub tol: f64,
    /// weighted: E_ρ|f − p| ≤ τ (density-aware); max: max|f − p| ≤ τ on --max-range (density-unaware).
    #[arg(long, value_enum, default_value_t = CriterionKind::Weighted)]
    pub criterion: CriterionKind,
    /// Interval of the max criterion, "LO,HI".
    #[arg(long, default_value = "-8,8", allow_hyphen_values = true)]
    pub max_range: String,
    /// Optional cap on the max error over the density's central 99.9 % (weighted criterion; > 0).
    #[arg(long, allow_negative_numbers = true, value_parser = crate::args::positive)]
    pub cap: Option<f64>,
    /// Annealing seed.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true, value_parser = crate::args::seed)]
    pub seed: u64,
    /// Annealing restarts (parallel chains; restarts × iterations ≤ 10 000 000, limits::MAX_ANNEAL_STEPS).
    #[arg(long, default_value_t = 4, allow_negative_numbers = true, value_parser = crate::args::count)]
    pub restarts: usize,
    /// Annealing steps per restart (1..=1 000 000).
    #[arg(long, default_value_t = 1200, allow_negative_numbers = true, value_parser = crate::args::iterations)]
    pub iterations: usize,
    /// Use the exhaustive grid search instead of annealing.
    #[arg(long)]
    pub exhaustive: bool,
    /// Most pieces the search may use (1..=64, limits::MAX_PIECES).
    #[arg(long, default_value_t = 16, allow_negative_numbers = true, value_parser = crate::args::pieces)]
    pub max_pieces: usize,
    /// Highest degree the search may use (1..=24, limits::MAX_DEGREE).
    #[arg(long, default_value_t = 10, allow_negative_numbers = true, value_parser = crate::args::degree)]
    pub max_degree: usize,
    /// Fixed structure: number of equal pieces (with --degree and --range; no search).
    #[arg(long, requires_all = ["degree", "range"], allow_negative_numbers = true, value_parser = crate::args::pieces)]
    pub pieces: Option<usize>,
    /// Fixed structure: degree of every piece.
    #[arg(long, requires_all = ["pieces", "range"], allow_negative_numbers = true, value_parser = crate::args::degree)]
    pub degree: Option<usize>,
    /// Fixed structure: range "A,B".
    #[arg(long, requires_all = ["pieces", "degree"], allow_hyphen_values = true)]
    pub range: Option<String>,
    /// Per-piece fit; default: l1 for the weighted criterion, interpolate for max.
    #[arg(long, value_enum)]
    pub fit: Option<FitKind>,
    /// Fractional bits of the fixed-point encoding.
    #[arg(long, default_value_t = 16)]
    pub frac_bits: u32,
    /// Apply the criterion to the fixed-point evaluation (encoding and truncations included) instead of the f64 one.
    #[arg(long)]
    pub fixed_point_error: bool,
    /// Tails beyond the range: the activation's asymptote plus a constant fitted to the criterion (offset), or the
    /// bare asymptote (asymptote).
    #[arg(long, value_enum, default_value_t = TailKind::Offset)]
    pub tails: TailKind,
    /// Backend whose cost the search minimises: beaver (bytes per party of the Beaver spline protocol) or fss
    /// (online + key bytes per party of the FSS spline gate, see `docs/cost-model.md`).
    #[arg(long, value_enum, default_value_t = BackendArg::Beaver)]
    pub backend: BackendArg,
    /// Output JSON file (default: <af>.approx.json).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Load and validate an approximation JSON file, print its summary, and exit.
    #[arg(long)]
    pub check: Option<PathBuf>,
    /// Also export the fitted approximation as a program for this MPC framework (mpyc, crypten, spu) or as a csv
    /// table, beside the JSON (see `compact export`).
    #[arg(long)]
    pub export: Option<String>,
}

/// Criterion choice on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CriterionKind {
    /// Density-weighted mean error.
    Weighted,
    /// Max error on an interval.
    Max,
}

/// Tail choice on the command line ([`TailFit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TailKind {
    /// Asymptote plus a constant fitted to the criterion.
    Offset,
    /// The activation's bare asymptote.
    Asymptote,
}

/// Per-piece fit choice on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FitKind {
    /// Chebyshev–Lobatto interpolation.
    Interpolate,
    /// Density-weighted least squares.
    Wls,
    /// Density-weighted L1 (IRLS).
    L1,
}

fn parse_pair(name: &str, s: &str) -> Result<(f64, f64)> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let bad = || anyhow::anyhow!("invalid --{name} '{}': expected two numbers 'A,B' with A < B, e.g. -8,8", clip(s));
    if parts.len() != 2 {
        return Err(bad());
    }
    let a: f64 = parts[0].parse().map_err(|_| bad())?;
    let b: f64 = parts[1].parse().map_err(|_| bad())?;
    if !(a.is_finite() && b.is_finite()) {
        return Err(bad());
    }
    if a >= b {
        bail!("invalid --{name} '{}': a = {} ≥ b = {}; need a < b", clip(s), num(a), num(b));
    }
    Ok((a, b))
}

/// Parses --density, reading files for `@FILE` and `samples:FILE[,BINS]`.
pub(crate) fn parse_density(s: &str) -> Result<DensitySpec> {
    if let Some(path) = s.strip_prefix('@') {
        let text = read_capped(Path::new(path), MAX_APPROX_FILE_BYTES, "limits::MAX_APPROX_FILE_BYTES", "density file")?;
        return Ok(text.parse::<DensitySpec>()?);
    }
    if let Some(rest) = s.strip_prefix("samples:") {
        let (path, bins) = match rest.rsplit_once(',') {
            Some((p, b)) if b.trim().parse::<usize>().is_ok() => (p, b.trim().parse::<usize>()?),
            _ => (rest, 64),
        };
        if bins > MAX_BINS {
            bail!("samples:{}: {bins} bins exceed the cap of {MAX_BINS} (limits::MAX_BINS); use fewer bins", clip(path));
        }
        let text = read_capped(Path::new(path), MAX_SAMPLES_FILE_BYTES, "limits::MAX_SAMPLES_FILE_BYTES", "samples file")?;
        let mut values = Vec::new();
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let v: f64 = line
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("samples file '{path}' line {}: '{}' is not a number", i + 1, clip(line.trim())))?;
            values.push(v);
        }
        return Ok(Empirical::from_samples(&values, bins)?.into());
    }
    Ok(s.parse::<DensitySpec>()?)
}

fn fit_method(kind: Option<FitKind>) -> Option<FitMethod> {
    kind.map(|k| match k {
        FitKind::Interpolate => FitMethod::Interpolate,
        FitKind::Wls => FitMethod::WeightedLeastSquares,
        FitKind::L1 => FitMethod::WeightedL1,
    })
}

fn method_name(m: FitMethod) -> &'static str {
    match m {
        FitMethod::Interpolate => "interpolate",
        FitMethod::WeightedLeastSquares => "weighted_least_squares",
        FitMethod::WeightedL1 => "weighted_l1",
    }
}

/// Prints the summary table of an approximation file (numbers in bounded width, tails as formulas).
fn print_summary(file: &ApproximationFile, title: &str) -> Result<()> {
    let e = &file.errors;
    let degrees: Vec<String> = file.pieces.iter().map(|p| p.degree.to_string()).collect();
    let bps: Vec<String> = file.breakpoints.iter().map(|t| num(*t).to_string()).collect();
    let rows: Vec<(&str, String)> = vec![
        ("pieces", file.pieces.len().to_string()),
        ("degrees", degrees.join(", ")),
        ("range", format!("[{}, {}]", num(file.range[0]), num(file.range[1]))),
        ("breakpoints", bps.join(", ")),
        ("tails", format!("{} / {}", file.left_tail, file.right_tail)),
        ("weighted error", format!("{:.4e}", e.weighted)),
        (
            "weighted error, fixed point",
            format!("{:.4e} (f = {}, floor truncation)", e.weighted_fixed, e.frac_bits),
        ),
        ("max error, central 99.9%", format!("{:.4e}", e.max_central_999)),
        ("max error on range", format!("{:.4e}", e.max_on_range)),
        ("max error on [-8, 8]", format!("{:.4e}", e.max_on_pm8)),
        ("NFGen relative error [-8, 8]", format!("{:.4e}", e.nfgen_relative_pm8)),
        ("comparisons", file.cost.comparisons.to_string()),
        ("multiplications", file.cost.multiplications.to_string()),
        ("rounds", file.cost.rounds.to_string()),
        ("bytes per element", format!("{} (sent by one party)", file.cost.bytes_per_party)),
    ];
    let mut rows = rows;
    if file.fss_cost_model.is_some() {
        rows.push(("backend", "fss (priced by the FSS spline gate; comparisons are DCF keys' thresholds)".into()));
        rows.push(("key bytes per element", format!("{} (received by one party from the dealer)", file.cost.offline_bytes_per_party)));
        rows.push(("AES calls per element", format!("{} (one party, online)", file.cost.aes_calls_per_party)));
    }
    outln!("{title}");
    let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    for (k, v) in rows {
        outln!("  {k:<w$}  {v}");
    }
    Ok(())
}

/// Reads, parses and strictly verifies an approximation file ([`activation_approx::verify`]): what `fit --check`
/// accepts and `secure --approx` requires. The stored figures must agree with the re-measured ones.
pub(crate) fn load_verified(path: &Path) -> Result<ApproximationFile> {
    let text = read_capped(path, MAX_APPROX_FILE_BYTES, "limits::MAX_APPROX_FILE_BYTES", "approximation file")?;
    let file = ApproximationFile::from_json(&text).with_context(|| format!("{}", path.display()))?;
    verify(&file, &ActivationRegistry::builtin())
        .and_then(|v| v.into_result())
        .with_context(|| format!("{} fails the check", path.display()))?;
    Ok(file)
}

/// Runs `compact fit`.
pub(crate) fn run(args: FitArgs) -> Result<()> {
    let registry = ActivationRegistry::builtin();
    if args.list {
        outln!("{:<10}  {:<40}  right tail", "name", "left tail");
        for name in registry.names() {
            let f = registry.get(&name)?;
            outln!("{name:<10}  {:<40}  {}", f.left_tail().to_string(), f.right_tail());
        }
        return Ok(());
    }
    if let Some(path) = &args.check {
        let file = load_verified(path)?;
        return print_summary(
            &file,
            &format!("{}: valid approximation of '{}' (errors and cost re-measured, ring bound checked)", path.display(), file.activation),
        );
    }
    let Some(af_name) = args.af.as_deref() else {
        bail!("missing --af NAME; known: {}", registry.names().join(", "));
    };
    let af = registry.get(af_name)?;
    if !(args.tol.is_finite() && args.tol > 0.0) {
        bail!("invalid --tol {}: need a finite number > 0, e.g. 1e-3", num(args.tol));
    }
    if let Some(t) = args.export.as_deref().filter(|t| !t.eq_ignore_ascii_case("csv")) {
        t.parse::<activation_approx::export::Target>().map_err(|e| anyhow::anyhow!("--export: {e} (or csv)"))?;
    }
    let fx = FixedPoint::new(args.frac_bits)?;
    let density = parse_density(&args.density)?;
    let criterion = match args.criterion {
        CriterionKind::Weighted => Criterion::weighted(density.clone(), args.tol, args.cap)?,
        CriterionKind::Max => {
            let (lo, hi) = parse_pair("max-range", &args.max_range)?;
            Criterion::max_error(lo, hi, args.tol)?
        }
    };
    let beaver = TwoPartyCostModel::default();
    let fss = FssCostModel::default();
    let model: &dyn CostModel = match args.backend {
        BackendArg::Beaver => &beaver,
        BackendArg::Fss => &fss,
    };
    let mut fitter = Fitter::new(af.as_ref(), &criterion, model);
    fitter.fx = fx;
    if let Some(m) = fit_method(args.fit) {
        fitter.method = m;
    }
    fitter.fixed_point_errors = args.fixed_point_error;
    fitter.tail_fit = match args.tails {
        TailKind::Offset => TailFit::Offset,
        TailKind::Asymptote => TailFit::Asymptote,
    };
    fitter.space.max_pieces = args.max_pieces.max(1);
    fitter.space.max_degree = args.max_degree.max(1);
    if args.restarts.saturating_mul(args.iterations) > MAX_ANNEAL_STEPS {
        bail!(
            "--restarts {} × --iterations {} exceeds the cap of {MAX_ANNEAL_STEPS} annealing steps (limits::MAX_ANNEAL_STEPS); lower one of them",
            args.restarts,
            args.iterations
        );
    }

    let (best, info): (Candidate, SearchInfo) = if let (Some(m), Some(d), Some(r)) = (args.pieces, args.degree, &args.range)
    {
        let (a, b) = parse_pair("range", r)?;
        if m == 0 {
            bail!("invalid --pieces 0: need at least 1");
        }
        if (b - a) / (m as f64) < fitter.space.min_width {
            bail!(
                "--pieces {m} on --range {}: pieces narrower than the minimum width {}; use fewer pieces or a wider range",
                clip(r),
                fitter.space.min_width
            );
        }
        let c = fitter.evaluate(&Structure::uniform(a, b, m, d))?;
        let info = SearchInfo {
            method: "fixed_structure".into(),
            seed: None,
            evaluations: 1,
            restarts: None,
            iterations: None,
            fit: Some(method_name(fitter.method).into()),
        };
        (c, info)
    } else {
        let (out, info): (SearchOutcome, SearchInfo) = if args.exhaustive {
            let grid = ExhaustiveGrid::for_space(&fitter.space);
            // An estimate before a search that can run for minutes (the library refuses grids above its cap).
            if grid.size_bound() > 10_000 && grid.size_bound() <= activation_approx::limits::MAX_EXHAUSTIVE_STRUCTURES as u128 {
                eprintln!(
                    "exhaustive search: up to {} structures ({} pieces × {} degrees × ranges); lower --max-pieces/--max-degree for a quicker run",
                    grid.size_bound(),
                    grid.max_pieces,
                    grid.max_degree
                );
            }
            let out = exhaustive(&fitter, &grid)?;
            let info = SearchInfo {
                method: "exhaustive".into(),
                seed: None,
                evaluations: out.evaluations,
                restarts: None,
                iterations: None,
                fit: Some(method_name(fitter.method).into()),
            };
            (out, info)
        } else {
            let cfg = AnnealConfig {
                seed: args.seed,
                restarts: args.restarts.max(1),
                iterations: args.iterations.max(1),
                ..AnnealConfig::default()
            };
            // An estimate before a long search (the default, 4 × 1200 steps, takes seconds).
            if cfg.restarts * cfg.iterations > 100_000 {
                eprintln!(
                    "annealing: {} restarts × {} steps = {} structure evaluations; this can take minutes",
                    cfg.restarts,
                    cfg.iterations,
                    cfg.restarts * cfg.iterations
                );
            }
            let out = anneal(&fitter, &cfg)?;
            let info = SearchInfo {
                method: "anneal".into(),
                seed: Some(cfg.seed),
                evaluations: out.evaluations,
                restarts: Some(cfg.restarts),
                iterations: Some(cfg.iterations),
                fit: Some(method_name(fitter.method).into()),
            };
            (out, info)
        };
        (out.best, info)
    };

    let errors = ErrorReport::measure(af.as_ref(), &best.pp, &density, &fx);
    let cost = beaver.piecewise_cost(&best.pp);
    let file = ApproximationFile::new(
        af.name(),
        &best.pp,
        Some(density.clone()),
        Some(criterion.clone()),
        fx,
        errors,
        cost,
        Some(beaver),
        Some(info.clone()),
    );
    let file = match args.backend {
        BackendArg::Beaver => file,
        BackendArg::Fss => file.with_fss_cost_model(fss)?,
    };
    let title = format!(
        "compact fit: {} — {} ({}{}, {} structures evaluated){}",
        af.name(),
        criterion.describe(),
        info.method,
        info.seed.map(|s| format!(", seed {s}")).unwrap_or_default(),
        info.evaluations,
        if best.feasible() { "" } else { " — NOT MEETING THE CRITERION (fixed structure)" }
    );
    // The file first (atomically), then the summary: a closed stdout can no longer lose the result.
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("{}.approx.json", af.name())));
    write_atomic(&out, file.to_json()?.as_bytes())?;
    print_summary(&file, &title)?;
    outln!("wrote {}", out.display());
    if let Some(target) = &args.export {
        let ext = if target.eq_ignore_ascii_case("csv") { "csv" } else { "py" };
        let program = out.with_extension(format!("{}.{ext}", target.to_ascii_lowercase()));
        crate::cmd_export::run(&crate::cmd_export::ExportArgs::write_only(out.clone(), target.clone(), program))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        args: FitArgs,
    }

    fn err_of(argv: &[&str]) -> String {
        let mut full = vec!["fit"];
        full.extend_from_slice(argv);
        let args = T::try_parse_from(full).map(|t| t.args);
        let e = match args {
            Ok(a) => format!("{:#}", run(a).expect_err("should fail")),
            Err(e) => e.to_string(),
        };
        assert!(!e.trim().contains('\n'), "multi-line error: {e}");
        e
    }

    #[test]
    fn unknown_activation() {
        let e = err_of(&["--af", "swsh"]);
        assert!(e.contains("unknown activation 'swsh'") && e.contains("silu"), "{e}");
    }

    #[test]
    fn tolerance_not_positive() {
        assert!(err_of(&["--af", "silu", "--tol", "0"]).contains("invalid --tol 0"));
        assert!(err_of(&["--af", "silu", "--tol", "-1e-3"]).contains("invalid --tol -0.001"));
    }

    #[test]
    fn tolerance_nan() {
        assert!(err_of(&["--af", "silu", "--tol", "NaN"]).contains("invalid --tol NaN"));
    }

    #[test]
    fn std_not_positive() {
        let e = err_of(&["--af", "silu", "--density", "normal:0,-1"]);
        assert!(e.contains("std = -1 ≤ 0"), "{e}");
    }

    #[test]
    fn uniform_a_not_below_b() {
        let e = err_of(&["--af", "silu", "--density", "uniform:8,-8"]);
        assert!(e.contains("a = 8 ≥ b = -8"), "{e}");
        let e = err_of(&["--af", "gelu", "--pieces", "2", "--degree", "4", "--range", "3,3"]);
        assert!(e.contains("a = 3 ≥ b = 3"), "{e}");
    }

    #[test]
    fn degree_overflows_ring() {
        let e = err_of(&["--af", "silu", "--pieces", "1", "--degree", "10", "--range", "-16,16"]);
        assert!(e.contains("degree 10") && e.contains("overflows"), "{e}");
    }

    #[test]
    fn empty_histogram() {
        let e = err_of(&["--af", "silu", "--density", r#"{"kind":"empirical","edges":[0,1],"counts":[0]}"#]);
        assert!(e.contains("empty"), "{e}");
        let dir = std::env::temp_dir().join(format!("compact-fit-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let p = dir.join("empty.txt");
        std::fs::write(&p, "").expect("write");
        let e = err_of(&["--af", "silu", "--density", &format!("samples:{}", p.display())]);
        assert!(e.contains("empty"), "{e}");
    }

    #[test]
    fn malformed_json() {
        let dir = std::env::temp_dir().join(format!("compact-fit-test-m-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let p = dir.join("bad.json");
        std::fs::write(&p, "{\"format\": \"compact-approximation\", ").expect("write");
        let e = err_of(&["--check", p.to_str().expect("utf-8 path")]);
        assert!(e.contains("malformed JSON"), "{e}");
    }

    #[test]
    fn wrong_version_json() {
        let dir = std::env::temp_dir().join(format!("compact-fit-test-v-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let out = dir.join("silu.json");
        let args = T::try_parse_from([
            "fit", "--af", "silu", "--pieces", "1", "--degree", "4", "--range", "-3,3", "--out",
            out.to_str().expect("utf-8 path"),
        ])
        .expect("parse")
        .args;
        run(args).expect("fixed-structure fit");
        let text = std::fs::read_to_string(&out).expect("read").replace("\"version\": 1", "\"version\": 7");
        std::fs::write(&out, text).expect("write");
        let e = err_of(&["--check", out.to_str().expect("utf-8 path")]);
        assert!(e.contains("unsupported format version 7"), "{e}");
    }

    #[test]
    fn fit_writes_valid_json() {
        let dir = std::env::temp_dir().join(format!("compact-fit-test-ok-{}", std::process::id()));
        let out = dir.join("gelu.json");
        let args = T::try_parse_from([
            "fit", "--af", "gelu", "--tol", "1e-2", "--iterations", "200", "--restarts", "2", "--out",
            out.to_str().expect("utf-8 path"),
        ])
        .expect("parse")
        .args;
        run(args).expect("fit");
        let file = ApproximationFile::from_json(&std::fs::read_to_string(&out).expect("read")).expect("valid");
        assert_eq!(file.activation, "gelu");
        assert!(file.errors.weighted <= 1e-2);
    }

    /// `--backend fss` stores the FSS model and its price (key bytes and AES calls), `--check` re-prices the file
    /// under that model, and a tampered key-byte figure is caught.
    #[test]
    fn fss_backend_fit_stores_and_checks_the_fss_price() {
        let dir = std::env::temp_dir().join(format!("compact-fit-test-fss-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let out = dir.join("silu-fss.json");
        let args = T::try_parse_from([
            "fit", "--af", "silu", "--pieces", "2", "--degree", "3", "--range", "-2.5,2.5", "--backend", "fss", "--out",
            out.to_str().expect("utf-8 path"),
        ])
        .expect("parse")
        .args;
        run(args).expect("fixed-structure fit");
        let file = load_verified(&out).expect("verified");
        let model = file.fss_cost_model.expect("FSS model stored");
        assert!(file.cost_model.is_none());
        let want = model.piecewise_cost(&file.piecewise().expect("pp"));
        assert_eq!(file.cost, want);
        // 2 central pieces + 2 tails = 4 keys of a 2-word payload (the mask-dependent word and the indicator) on
        // 64 bits: one AES value block per level.
        assert!(file.cost.offline_bytes_per_party.get() > 4 * 64 * (16 + 8 * 2));
        assert_eq!(file.cost.aes_calls_per_party.get(), 4 * (64 * 2 + 1));
        let text = std::fs::read_to_string(&out).expect("read");
        let key = format!("\"offline_bytes_per_party\": {}", file.cost.offline_bytes_per_party);
        assert!(text.contains(&key), "{text}");
        std::fs::write(&out, text.replace(&key, "\"offline_bytes_per_party\": 1")).expect("write");
        assert!(load_verified(&out).is_err());
    }

    #[test]
    fn tails_flag_chooses_offset_or_asymptote() {
        use activation_approx::Tail;
        let dir = std::env::temp_dir().join(format!("compact-fit-test-tails-{}", std::process::id()));
        let fit = |tails: &str| {
            let out = dir.join(format!("mish-{tails}.json"));
            let args = T::try_parse_from([
                "fit", "--af", "mish", "--pieces", "1", "--degree", "6", "--range", "-2.5,2.25", "--tails", tails,
                "--out", out.to_str().expect("utf-8 path"),
            ])
            .expect("parse")
            .args;
            run(args).expect("fixed-structure fit");
            ApproximationFile::from_json(&std::fs::read_to_string(&out).expect("read")).expect("valid")
        };
        let (offset, plain) = (fit("offset"), fit("asymptote"));
        assert_eq!((plain.left_tail, plain.right_tail), (Tail::Zero, Tail::Identity));
        assert!(matches!(offset.left_tail, Tail::Constant { value } if value < 0.0), "{:?}", offset.left_tail);
        assert!(offset.errors.weighted < plain.errors.weighted);
        assert_eq!(offset.cost, plain.cost);
        let bad = T::try_parse_from(["fit", "--af", "mish", "--tails", "linear"]).map(|_| ()).expect_err("unknown tail kind");
        assert!(bad.to_string().contains("invalid value 'linear'"), "{bad}");
    }
}
