//! `compact export` and `compact import`: take an approximation out to an MPC framework (and verify it there), or
//! bring a hand-written table in. The program text, inputs, bound and table formats live in
//! [`activation_approx::export`]; this module reads and writes files and runs the framework's processes.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use activation_approx::export::table::{TableJson, import_table};
use activation_approx::export::{self, Target};
use activation_approx::{ActivationRegistry, ApproximationFile, Bytes, DensitySpec, FixedPoint, Rounds, Truncation};
use anyhow::{Context, Result, bail};
use clap::Args;
use sha2::{Digest, Sha256};

/// Arguments of `compact export`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ExportArgs {
    /// Approximation JSON (a `compact fit` output).
    #[arg(long)]
    pub approx: PathBuf,
    /// mpyc | crypten | spu (a program), or csv (the hand-editable table `compact import` reads).
    #[arg(long)]
    pub target: String,
    /// Output file (default: <activation>-<target>.py, or .csv).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run the exported program in the framework on verification inputs and compare with the reference
    /// fixed-point evaluation; prints one Markdown table row, fails if a difference exceeds the derived bound.
    #[arg(long)]
    pub verify: bool,
    /// Python interpreter with the framework installed (for --verify).
    #[arg(long, default_value = "python3")]
    pub python: PathBuf,
    /// Inputs drawn from the approximation's density (thresholds ±1 LSB and far tails are added).
    #[arg(long, default_value_t = 10_000)]
    pub count: usize,
    /// Seed of the drawn inputs.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Seconds the framework run may take before it is stopped.
    #[arg(long, default_value_t = 900)]
    pub timeout: u64,
    /// Keep the program, inputs and outputs of --verify in this directory (default: a temporary one, removed).
    #[arg(long)]
    pub keep: Option<PathBuf>,
    /// Print the Markdown table header before the row (--verify).
    #[arg(long)]
    pub header: bool,
}

/// Arguments of `compact import`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ImportArgs {
    /// Hand-written table: .csv or .json (format: crates/activation-approx/src/export/table.rs, README).
    #[arg(long)]
    pub table: PathBuf,
    /// Activation the table approximates (required unless the JSON table names it).
    #[arg(long = "af")]
    pub af: Option<String>,
    /// Input density the errors are measured under (same syntax as `compact fit --density`).
    #[arg(long, default_value = "normal:0,1", allow_hyphen_values = true)]
    pub density: String,
    /// Fractional bits of the reference fixed point.
    #[arg(long, default_value_t = 16)]
    pub frac_bits: u32,
    /// Output JSON (default: <table stem>.approx.json).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl ExportArgs {
    /// Plain export of `approx` to `target`, written to `out` (what `compact fit --export` does).
    pub(crate) fn write_only(approx: PathBuf, target: String, out: PathBuf) -> Self {
        ExportArgs {
            approx,
            target,
            out: Some(out),
            verify: false,
            python: PathBuf::from("python3"),
            count: 10_000,
            seed: 0,
            timeout: 900,
            keep: None,
            header: false,
        }
    }
}

/// sha256 of a file's bytes, hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn load(path: &Path) -> Result<(ApproximationFile, String)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read approximation '{}'", path.display()))?;
    let text = String::from_utf8(bytes.clone())
        .map_err(|_| anyhow::anyhow!("'{}' is not UTF-8 text; expected a `compact fit` JSON", path.display()))?;
    let file = ApproximationFile::from_json(&text).with_context(|| format!("in '{}'", path.display()))?;
    Ok((file, sha256_hex(&bytes)))
}

fn write_out(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create '{}'", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write '{}'", path.display()))
}

/// `compact export`.
pub(crate) fn run(args: &ExportArgs) -> Result<()> {
    let (file, digest) = load(&args.approx)?;
    if args.target.trim().eq_ignore_ascii_case("csv") {
        if args.verify {
            bail!("--verify needs a framework target (mpyc, crypten, spu), not csv");
        }
        let out = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("{}.csv", file.activation)));
        let table = TableJson::from_piecewise(Some(&file.activation), &file.piecewise()?);
        let text = format!("# {} exported from sha256 {digest}; read back with `compact import`\n{}", file.activation, table.to_csv());
        write_out(&out, &text)?;
        println!("wrote {}", out.display());
        return Ok(());
    }
    let target: Target = args.target.parse().map_err(|e| anyhow::anyhow!("--target: {e} (or csv)"))?;
    let program = export::generate(&file, &digest, target)?;
    if !args.verify {
        let out = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("{}-{target}.py", file.activation)));
        write_out(&out, &program)?;
        println!("wrote {}", out.display());
        return Ok(());
    }
    if args.count == 0 {
        bail!("--count 0: need at least one drawn input, e.g. --count 10000");
    }
    let tmp;
    let dir = match &args.keep {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create '{}'", d.display()))?;
            d.clone()
        }
        None => {
            tmp = TempDir::new(&format!("compact-export-{}-{target}", file.activation))?;
            tmp.0.clone()
        }
    };
    let row = verify(&file, &digest, target, &program, &dir, args)?;
    if args.header {
        println!("{}", VerifyRow::HEADER);
    }
    println!("{}", row.markdown());
    if let Some(k) = &row.kernels {
        eprintln!("{target} {} kernels: {k}", file.activation);
    }
    if row.max_diff > row.bound {
        bail!(
            "{target}: max |Δ| = {:.3e} exceeds the derived bound {:.3e} for {}; files kept in '{}' with --keep",
            row.max_diff,
            row.bound,
            file.activation,
            dir.display()
        );
    }
    Ok(())
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> Result<Self> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let p = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).with_context(|| format!("cannot create '{}'", p.display()))?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One verified export.
#[derive(Debug, Clone)]
struct VerifyRow {
    target: Target,
    activation: String,
    n: usize,
    max_diff: f64,
    mean_diff: f64,
    bound: f64,
    /// (bytes per element per party, rounds of the whole batch) as the framework counted them.
    measured: Option<(f64, u64)>,
    predicted: (Bytes, Rounds),
    /// The truncation protocol the predicted cost assumes (the file's cost model).
    predicted_truncation: &'static str,
    /// The framework's per-kernel counters, one line (SPU's MPC-layer profile), if it reports them.
    kernels: Option<String>,
}

impl VerifyRow {
    const HEADER: &'static str = "| target | activation | inputs | max abs diff | mean abs diff | derived bound | measured bytes/elem | measured rounds | predicted bytes/elem | predicted rounds | predicted truncation |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|";

    fn markdown(&self) -> String {
        let (mb, mr) = match self.measured {
            Some((b, r)) => (format!("{b:.0}"), r.to_string()),
            None => ("n/a".into(), "n/a".into()),
        };
        format!(
            "| {} | {} | {} | {:.3e} | {:.3e} | {:.3e} | {mb} | {mr} | {} | {} | {} |",
            self.target,
            self.activation,
            self.n,
            self.max_diff,
            self.mean_diff,
            self.bound,
            self.predicted.0,
            self.predicted.1,
            self.predicted_truncation
        )
    }
}

fn free_ports(n: usize) -> Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port"))
        .collect::<Result<Vec<_>>>()?;
    listeners.iter().map(|l| Ok(l.local_addr()?.port())).collect()
}

fn spawn(python: &Path, script: &Path, extra: &[String], log: &Path) -> Result<Child> {
    let log_file = std::fs::File::create(log).with_context(|| format!("cannot create '{}'", log.display()))?;
    let err_file = log_file.try_clone()?;
    Command::new(python)
        .arg(script)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(err_file)
        .spawn()
        .with_context(|| {
            format!("cannot start '{}'; give a Python with the framework installed via --python", python.display())
        })
}

fn tail_of(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<String> =
        text.lines().filter(|l| !l.trim().is_empty()).map(|l| l.chars().take(200).collect()).collect();
    lines[lines.len().saturating_sub(3)..].join(" / ")
}

/// Waits for every child; on timeout or a failure, stops the rest (by their handles) and reports the logs.
fn wait_all(mut children: Vec<(Child, PathBuf)>, timeout: Duration, what: &str) -> Result<()> {
    let start = Instant::now();
    let mut failed: Option<String> = None;
    while !children.is_empty() {
        let mut i = 0;
        while i < children.len() {
            if let Some(status) = children[i].0.try_wait()? {
                let (_, log) = children.remove(i);
                if !status.success() && failed.is_none() {
                    failed = Some(format!("{what} exited with {status}: {}", tail_of(&log)));
                }
            } else {
                i += 1;
            }
        }
        if failed.is_some() || start.elapsed() > timeout {
            for (c, _) in &mut children {
                let _ = c.kill();
                let _ = c.wait();
            }
            if failed.is_none() {
                let logs: Vec<String> = children.iter().map(|(_, l)| tail_of(l)).collect();
                failed = Some(format!("{what} did not finish within {} s (raise --timeout): {}", timeout.as_secs(), logs.join(" | ")));
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    match failed {
        Some(msg) => bail!(msg),
        None => Ok(()),
    }
}

fn read_numbers(path: &Path) -> Result<Vec<f64>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("the framework wrote no outputs '{}'", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().parse::<f64>().with_context(|| format!("output '{l}' in '{}' is not a number", path.display())))
        .collect()
}

fn verify(
    file: &ApproximationFile,
    digest: &str,
    target: Target,
    program: &str,
    dir: &Path,
    args: &ExportArgs,
) -> Result<VerifyRow> {
    let script = dir.join(format!("{}-{target}.py", file.activation));
    write_out(&script, program)?;
    let inputs = export::verification_inputs(file, args.count, args.seed, 1000.0)?;
    let in_path = dir.join("inputs.txt");
    let out_path = dir.join("outputs.txt");
    let stats_path = dir.join("stats.json");
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&stats_path);
    let text: String = inputs.iter().map(|x| format!("{x:?}\n")).collect();
    write_out(&in_path, &text)?;
    let io = vec![
        "--inputs".to_string(),
        in_path.display().to_string(),
        "--outputs".to_string(),
        out_path.display().to_string(),
    ];
    let timeout = Duration::from_secs(args.timeout);
    let what = format!("{target} run of {}", script.display());
    let children = match target {
        Target::Mpyc => {
            let ports = free_ports(target.parties())?;
            let mut base = vec!["-M".to_string(), target.parties().to_string()];
            for p in &ports {
                base.push("-P".into());
                base.push(format!("127.0.0.1:{p}"));
            }
            (0..target.parties())
                .map(|i| {
                    let mut a = base.clone();
                    a.push(format!("-I{i}"));
                    a.extend(io.iter().cloned());
                    let log = dir.join(format!("party{i}.log"));
                    spawn(&args.python, &script, &a, &log).map(|c| (c, log))
                })
                .collect::<Result<Vec<_>>>()?
        }
        Target::Crypten | Target::Spu => {
            let mut a = io.clone();
            a.push("--stats".into());
            a.push(stats_path.display().to_string());
            let log = dir.join("run.log");
            vec![(spawn(&args.python, &script, &a, &log)?, log)]
        }
    };
    wait_all(children, timeout, &what)?;
    let got = read_numbers(&out_path)?;
    let want = export::reference_outputs(file, &inputs)?;
    let (max_diff, mean_diff) = export::differences(&got, &want)?;
    let (measured, kernels) = if stats_path.exists() {
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&stats_path)?)
            .with_context(|| format!("bad stats '{}'", stats_path.display()))?;
        let bytes = v["bytes"].as_f64().unwrap_or(f64::NAN);
        let rounds = v["rounds"].as_u64().unwrap_or(0);
        let per_elem = |b: &serde_json::Value| b.as_f64().unwrap_or(f64::NAN) / inputs.len() as f64;
        let kernels = v["kernels"].as_object().map(|k| {
            k.iter()
                .map(|(name, c)| {
                    format!("{name} ×{} {:.0} B/elem {} actions", c["calls"], per_elem(&c["bytes"]), c["actions"])
                })
                .collect::<Vec<_>>()
                .join("; ")
        });
        (Some((bytes / inputs.len() as f64, rounds)), kernels)
    } else {
        (None, None)
    };
    let _ = digest;
    Ok(VerifyRow {
        target,
        activation: file.activation.clone(),
        n: inputs.len(),
        max_diff,
        mean_diff,
        bound: export::agreement_bound(file, target)?,
        measured,
        predicted: (file.cost.bytes_per_party, file.cost.rounds),
        predicted_truncation: match file.cost_model.map(|m| m.truncation) {
            Some(Truncation::DealerPair) => "dealer pair",
            Some(Truncation::Local) => "local",
            None => "unknown",
        },
        kernels,
    })
}

/// `compact import`.
pub(crate) fn import(args: &ImportArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.table)
        .with_context(|| format!("cannot read table '{}'", args.table.display()))?;
    let ext = args.table.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let table = match ext.as_str() {
        "csv" => TableJson::from_csv(&text),
        "json" => TableJson::from_json(&text),
        other => bail!("table '{}' has extension '{other}'; use .csv or .json", args.table.display()),
    }
    .with_context(|| format!("in '{}'", args.table.display()))?;
    let name = match (&args.af, &table.activation) {
        (Some(a), _) => a.clone(),
        (None, Some(a)) => a.clone(),
        (None, None) => bail!("which activation does '{}' approximate? pass --af NAME", args.table.display()),
    };
    let registry = ActivationRegistry::builtin();
    let activation = registry.get(&name)?;
    let density: DensitySpec = args.density.parse()?;
    let fx = FixedPoint::new(args.frac_bits)?;
    let pp = table.piecewise()?;
    let file = import_table(&name, activation.as_ref(), &pp, density, fx);
    let stem = args.table.file_stem().and_then(|s| s.to_str()).unwrap_or("table");
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("{stem}.approx.json")));
    write_out(&out, &file.to_json()?)?;
    println!(
        "{name}: {} pieces, {} comparisons, weighted error {:.3e} (fixed point {:.3e}), {} bytes/party, {} rounds",
        pp.n_pieces(),
        pp.n_comparisons(),
        file.errors.weighted,
        file.errors.weighted_fixed,
        file.cost.bytes_per_party,
        file.cost.rounds
    );
    println!("wrote {}", out.display());
    Ok(())
}
