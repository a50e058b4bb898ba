//! The classes of bad input found by the hardening review (issue 13), one test per class, run against the `compact`
//! binary as a process: every case ends with the right result or a one-line error naming the value and the way out,
//! never a panic (exit 101) and never an unbounded run.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn compact_in(dir: &Path, args: &[&str]) -> Out {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_compact")).current_dir(dir).args(args).output().expect("run compact");
    assert!(t.elapsed() < Duration::from_secs(120), "{args:?} took {:?}", t.elapsed());
    let o = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_ne!(o.code, 101, "{args:?} panicked: {}", o.stderr);
    assert!(!o.stderr.contains("panicked"), "{args:?}: {}", o.stderr);
    o
}

/// Asserts a clean failure: non-zero exit, one short stderr line containing every `want`.
fn fails(dir: &Path, args: &[&str], want: &[&str]) -> String {
    let o = compact_in(dir, args);
    assert_ne!(o.code, 0, "{args:?} succeeded: {}", o.stdout);
    let err = o.stderr.trim_end();
    assert_eq!(err.lines().count(), 1, "{args:?}: multi-line error:\n{err}");
    assert!(err.len() < 600, "{args:?}: error of {} bytes: {}", err.len(), &err[..300]);
    for w in want {
        assert!(err.contains(w), "{args:?}: want '{w}' in: {err}");
    }
    err.to_string()
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A quick fixed-structure fit written to `dir/name`.
fn quick_fit(dir: &Path, name: &str, af: &str) -> PathBuf {
    let out = dir.join(name);
    let o = compact_in(dir, &["fit", "--af", af, "--pieces", "2", "--degree", "4", "--range", "-4,4", "--out", s(&out)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    out
}

#[test]
fn names_resolve_the_same_everywhere() {
    let d = tmp();
    // Case-insensitive activation and method names in every command.
    let o = compact_in(d.path(), &["fit", "--af", "SiLU", "--pieces", "1", "--degree", "4", "--range", "-4,4", "--out", "a.json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = compact_in(d.path(), &["baselines", "--af", "GELU", "--methods", "PUMA"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // `secure` resolves SiLU / Compact / MNIST and then misses the (absent) model, not the name.
    let err = fails(
        d.path(),
        &["secure", "--task", "MNIST", "--af", "SiLU", "--method", "Compact", "--models", "none", "--data", "none"],
        &["mnist-silu"],
    );
    assert!(!err.contains("unknown"), "{err}");
    fails(d.path(), &["secure", "--task", "mnist", "--af", "swsh", "--models", "none"], &["unknown activation 'swsh'"]);
}

#[test]
fn repeated_grid_values_are_one_point_and_reported_once() {
    let d = tmp();
    let spec = d.path().join("rep.toml");
    std::fs::write(
        &spec,
        "name = \"rep\"\nkind = \"approximation\"\n[grid]\nactivation = [\"gelu\", \"GELU\"]\nmethod = [\"PUMA\", \"puma\"]\n",
    )
    .expect("write spec");
    let o = compact_in(d.path(), &["run", s(&spec), "--results", "res", "--quiet"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("rep: 1 points"), "{}", o.stdout);
    let records = std::fs::read_to_string(d.path().join("res/raw/rep.jsonl")).expect("records");
    assert_eq!(records.lines().count(), 1, "{records}");
    // `report` handles an experiment of any name, once per point, and leaves ./README.md alone.
    std::fs::write(d.path().join("README.md"), "mine\n").expect("readme");
    let o = compact_in(d.path(), &["report", "--results", "res"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let table = std::fs::read_to_string(d.path().join("res/tables/rep.md")).expect("generic table");
    assert_eq!(table.lines().filter(|l| l.contains("activation=gelu")).count(), 1, "{table}");
    assert_eq!(std::fs::read_to_string(d.path().join("README.md")).expect("readme"), "mine\n");
}

#[test]
fn a_record_file_in_use_is_locked() {
    use fs4::FileExt;
    let d = tmp();
    let spec = d.path().join("lk.toml");
    std::fs::write(&spec, "name = \"lk\"\nkind = \"approximation\"\n[grid]\nactivation = [\"gelu\"]\nmethod = [\"puma\"]\n")
        .expect("write spec");
    std::fs::create_dir_all(d.path().join("res/raw")).expect("mkdir");
    let held = std::fs::OpenOptions::new().create(true).append(true).open(d.path().join("res/raw/lk.jsonl")).expect("open");
    FileExt::try_lock(&held).expect("lock");
    fails(d.path(), &["run", s(&spec), "--results", "res", "--quiet"], &["lk.jsonl", "locked by another"]);
    drop(held);
    assert_eq!(compact_in(d.path(), &["run", s(&spec), "--results", "res", "--quiet"]).code, 0);
}

#[test]
fn closed_stdout_ends_quietly_after_writing_the_file() {
    let d = tmp();
    let out = d.path().join("o.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_compact"))
        .current_dir(d.path())
        .args(["fit", "--af", "gelu", "--pieces", "2", "--degree", "4", "--range", "-4,4", "--out", s(&out)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take()); // `| head -0`: the reader is gone before anything is printed
    let status = child.wait().expect("wait");
    let mut err = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut err).expect("read");
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
    assert!(out.exists(), "the file must be written before anything is printed");
    // No temporary file is left beside it.
    let names: Vec<_> = std::fs::read_dir(d.path()).expect("ls").filter_map(|e| e.ok()).collect();
    assert_eq!(names.len(), 1);
}

#[test]
fn caps_are_named() {
    let d = tmp();
    let few = d.path().join("few.txt");
    std::fs::write(&few, "0.1\n0.5\n-0.3\n").expect("write");
    fails(d.path(), &["fit", "--af", "silu", "--density", &format!("samples:{},1000000000", s(&few))], &["limits::MAX_BINS"]);
    fails(d.path(), &["fit", "--af", "silu", "--exhaustive", "--max-pieces", "1000", "--max-degree", "1000"], &["MAX_PIECES"]);
    fails(d.path(), &["fit", "--af", "silu", "--exhaustive", "--max-pieces", "64", "--max-degree", "24"], &[
        "MAX_EXHAUSTIVE_STRUCTURES",
    ]);
    fails(d.path(), &["fit", "--af", "silu", "--restarts", "100000", "--iterations", "1000000"], &["MAX_ANNEAL_STEPS"]);
    let big = d.path().join("big.json");
    std::fs::write(&big, vec![b' '; (16 << 20) + 1]).expect("write");
    fails(d.path(), &["fit", "--check", s(&big)], &["limits::MAX_APPROX_FILE_BYTES", "big.json"]);
    let spec = d.path().join("big.toml");
    std::fs::write(&spec, vec![b'#'; (1 << 20) + 1]).expect("write");
    fails(d.path(), &["run", s(&spec), "--results", "res"], &["limits::MAX_SPEC_FILE_BYTES"]);
}

/// Edits a fitted file's JSON and returns the path of the edited copy.
fn edited(dir: &Path, src: &Path, name: &str, edit: impl Fn(&mut serde_json::Value)) -> PathBuf {
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(src).expect("read")).expect("json");
    edit(&mut v);
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(&v).expect("json")).expect("write");
    p
}

#[test]
fn check_re_measures_and_secure_refuses_what_check_rejects() {
    let d = tmp();
    let good = quick_fit(d.path(), "good.json", "silu");
    let o = compact_in(d.path(), &["fit", "--check", s(&good)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lying = edited(d.path(), &good, "lying.json", |v| v["errors"]["weighted"] = serde_json::json!(1e-9));
    fails(d.path(), &["fit", "--check", s(&lying)], &["errors.weighted stored 0.000000001 but measures"]);
    let cheap = edited(d.path(), &good, "cheap.json", |v| v["cost"]["bytes_per_party"] = serde_json::json!(1));
    fails(d.path(), &["fit", "--check", s(&cheap)], &["cost stored 1 B"]);
    let unknown = edited(d.path(), &good, "unknown.json", |v| v["activation"] = serde_json::json!("swsh"));
    fails(d.path(), &["fit", "--check", s(&unknown)], &["unknown activation 'swsh'"]);
    let ring = edited(d.path(), &good, "ring.json", |v| v["fixed_point"]["frac_bits"] = serde_json::json!(30));
    fails(d.path(), &["fit", "--check", s(&ring)], &["overflows the 64-bit ring"]);
    let huge = edited(d.path(), &good, "huge.json", |v| {
        v["pieces"][0]["degree"] = serde_json::json!(100000);
        v["pieces"][0]["coefficients"] = serde_json::json!(vec![0.0; 100001]);
    });
    fails(d.path(), &["fit", "--check", s(&huge)], &["MAX_DEGREE"]);
    // `secure --approx` refuses the same files before loading any model.
    for bad in [&lying, &ring, &unknown] {
        fails(d.path(), &["secure", "--task", "mnist", "--af", "silu", "--approx", s(bad), "--models", "none"], &["--approx"]);
    }
}

#[test]
fn spec_parameters_are_range_checked_and_unknown_tables_rejected() {
    let d = tmp();
    let cases = [
        ("kind = \"accuracy\"\n[grid]\ntask = [\"mnist\"]\n[params]\ntau_lo = 1\ntau_hi = 0.001\n", "0 < tau_lo < tau_hi"),
        ("kind = \"accuracy\"\n[grid]\ntask = [\"mnist\"]\n[params]\nbins = 0\n", "bins = 0"),
        ("kind = \"accuracy\"\n[grid]\ntask = [\"mnist\"]\n[params]\nbatch = 0\n", "batch = 0"),
        ("kind = \"approximation\"\n[grid]\nactivation = [\"silu\"]\nmethod = [\"puma\"]\n[params.config.nfgen]\nk = 1\n", "[params.config.nfgen]"),
        ("kind = \"approximation\"\n[grid]\nactivation = [\"silu\"]\nmethod = [\"puma\"]\ncolour = [1]\n", "colour"),
        ("kind = \"approximation\"\n[grid]\nactivation = [\"swsh\"]\n", "unknown activation 'swsh'"),
    ];
    for (i, (body, want)) in cases.iter().enumerate() {
        let p = d.path().join(format!("s{i}.toml"));
        std::fs::write(&p, format!("name = \"s{i}\"\n{body}")).expect("write");
        fails(d.path(), &["run", s(&p), "--results", "res", "--quiet"], &[want]);
    }
}

#[test]
fn narrow_densities_fit() {
    let d = tmp();
    for density in ["normal:0,1e-3", "normal:20,1", "uniform:-0.001,0.001"] {
        let o = compact_in(d.path(), &["fit", "--af", "silu", "--density", density, "--iterations", "100", "--restarts", "1", "--out", "n.json"]);
        assert_eq!(o.code, 0, "{density}: {}", o.stderr);
        assert_eq!(compact_in(d.path(), &["fit", "--check", "n.json"]).code, 0, "{density}");
    }
}

#[test]
fn messages_are_short_and_plain() {
    let d = tmp();
    for flag in ["--seed", "--restarts", "--cap"] {
        fails(d.path(), &["fit", "--af", "silu", flag, "-1"], &["-1", "out of range"]);
    }
    fails(d.path(), &["secure", "--task", "mnist", "--af", "silu", "--samples", "-1"], &["negative"]);
    let long = format!("normal:{},1", "9".repeat(400));
    let err = fails(d.path(), &["fit", "--af", "silu", "--density", &long], &["characters)"]);
    assert!(!err.contains(&"9".repeat(100)), "{err}");
    let err = fails(d.path(), &["fit", "--af", "silu", "--range", "1e300,2e300", "--pieces", "1", "--degree", "2"], &[]);
    assert!(!err.contains(&"0".repeat(30)), "300-digit number in: {err}");
    let json = d.path().join("long.json");
    std::fs::write(&json, format!("{{\"format\": \"{}\"}}", "x".repeat(100_000))).expect("write");
    fails(d.path(), &["fit", "--check", s(&json)], &["characters)"]);
    // Summaries show tails as formulas, never Rust debug text.
    let o = compact_in(d.path(), &["fit", "--af", "mish", "--pieces", "1", "--degree", "6", "--range", "-2.5,2.25", "--out", "m.json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("tails") && !o.stdout.contains("Constant {"), "{}", o.stdout);
    // Missing model files are named as model files, with the way out.
    let sidecar = d.path().join("m-silu.json");
    std::fs::write(&sidecar, "{}").expect("write");
    fails(d.path(), &["secure", "--task", "mnist", "--af", "silu", "--model", s(&sidecar)], &["model sidecar", "m-silu.json"]);
}
