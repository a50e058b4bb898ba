//! `compact export` / `compact import`: the committed SiLU, GELU and Mish fits run in MPyC (three parties, three
//! processes on loopback) and agree with the reference fixed-point evaluation within the derived bound; the CrypTen
//! and SPU programs are valid Python carrying the file's numbers; tables go out and come back unchanged.
//!
//! MPyC comes from `bash scripts/export/venv.sh mpyc` (a `make test` prerequisite); without it the MPyC test fails
//! and says how to install it. COMPACT_MPYC_PYTHON overrides the interpreter, COMPACT_EXPORT_COUNT the number of
//! inputs drawn from the density (default 1000; `make check-export` uses 10^4).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use activation_approx::ApproximationFile;
use activation_approx::export::{self, Target};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fit(af: &str) -> PathBuf {
    root().join(format!("results/fits/{af}-normal01-tol1e-3.json"))
}

fn load(path: &Path) -> ApproximationFile {
    ApproximationFile::from_json(&std::fs::read_to_string(path).expect("read fit")).expect("valid fit")
}

fn compact(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_compact")).args(args).output().expect("run compact")
}

fn numbers(path: &Path) -> Vec<f64> {
    std::fs::read_to_string(path).expect("read").lines().map(|l| l.trim().parse().expect("number")).collect()
}

fn mpyc_python() -> PathBuf {
    let p = std::env::var_os("COMPACT_MPYC_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/export-venv/mpyc/bin/python"));
    let ok = Command::new(&p).args(["-c", "import mpyc, numpy"]).output().map(|o| o.status.success()).unwrap_or(false);
    assert!(
        ok,
        "MPyC is not installed at '{}': run `bash scripts/export/venv.sh mpyc` (make test does this first), or set \
         COMPACT_MPYC_PYTHON to a Python with mpyc 0.10 and numpy",
        p.display()
    );
    p
}

#[test]
fn mpyc_agrees_with_the_reference_for_silu_gelu_mish() {
    let python = mpyc_python();
    let count: usize = std::env::var("COMPACT_EXPORT_COUNT").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let tmp = tempfile::tempdir().expect("tempdir");
    for af in ["silu", "gelu", "mish"] {
        let dir = tmp.path().join(af);
        let path = fit(af);
        let out = compact(&[
            "export", "--approx", path.to_str().unwrap(), "--target", "mpyc", "--verify",
            "--python", python.to_str().unwrap(), "--count", &count.to_string(), "--keep", dir.to_str().unwrap(),
            "--timeout", "600",
        ]);
        assert!(out.status.success(), "{af}: {}", String::from_utf8_lossy(&out.stderr));
        // Check independently of the command's own verdict: the revealed outputs against the reference.
        let file = load(&path);
        let xs = numbers(&dir.join("inputs.txt"));
        let ys = numbers(&dir.join("outputs.txt"));
        assert_eq!(xs, export::verification_inputs(&file, count, 0, 1000.0).unwrap(), "{af}: the inputs asked for");
        assert_eq!(ys.len(), xs.len(), "{af}: one output per input");
        let want = export::reference_outputs(&file, &xs).unwrap();
        let bound = export::agreement_bound(&file, Target::Mpyc).unwrap();
        let (max, mean) = export::differences(&ys, &want).unwrap();
        assert!(max <= bound, "{af}: max |Δ| {max:e} > bound {bound:e}");
        assert!(mean <= bound, "{af}: mean |Δ| {mean:e}");
        // The tail inputs (outside [t_0, t_n]) went through the secure comparisons and the clamp: their outputs
        // are the degree-≤1 tails, which fixed point represents to a few LSB, so spot-check them against f64 too.
        let pp = file.piecewise().unwrap();
        let (a, b) = pp.range();
        for (&x, &y) in xs.iter().zip(&ys).skip(count).filter(|(x, _)| **x < a || **x >= b) {
            assert!((y - pp.eval(x)).abs() <= bound + 1e-3 * pp.eval(x).abs().max(1.0), "{af}: x = {x}: {y} vs {}", pp.eval(x));
        }
        let row = String::from_utf8_lossy(&out.stdout);
        assert!(row.contains(&format!("| mpyc | {af} | {} |", xs.len())), "{row}");
    }
}

#[test]
fn crypten_and_spu_programs_are_valid_python_with_the_files_numbers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for target in ["crypten", "spu", "mpyc"] {
        let path = fit("gelu");
        let out_path = tmp.path().join(format!("gelu-{target}.py"));
        let out = compact(&["export", "--approx", path.to_str().unwrap(), "--target", target, "--out", out_path.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = std::fs::read_to_string(&out_path).unwrap();
        let digest = {
            use sha2::Digest as _;
            sha2::Sha256::digest(std::fs::read(&path).unwrap()).iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        assert!(text.contains(&format!("# Source JSON sha256: {digest}")), "{target}: digest");
        assert!(text.contains("Compact approximation of gelu"), "{target}: activation");
        let plan = export::ExportPlan::new(&load(&path), "").unwrap();
        let ts: Vec<String> = plan.thresholds.iter().map(i64::to_string).collect();
        assert!(text.contains(&format!("THRESHOLDS = [{}]", ts.join(", "))), "{target}: thresholds");
        let compiled = Command::new("python3").args(["-m", "py_compile", out_path.to_str().unwrap()]).output();
        let compiled = compiled.expect("python3 on PATH (the MPyC check needs it too)");
        assert!(compiled.status.success(), "{target}: {}", String::from_utf8_lossy(&compiled.stderr));
    }
    let bad = compact(&["export", "--approx", fit("gelu").to_str().unwrap(), "--target", "mp-spdz"]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && err.contains("mp-spdz") && err.lines().count() == 1, "{err}");
}

#[test]
fn tables_go_out_and_come_back() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for af in ["silu", "mish"] {
        let csv = tmp.path().join(format!("{af}.csv"));
        let json = tmp.path().join(format!("{af}.json"));
        let out = compact(&["export", "--approx", fit(af).to_str().unwrap(), "--target", "csv", "--out", csv.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let out = compact(&["import", "--table", csv.to_str().unwrap(), "--af", af, "--out", json.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let (a, b) = (load(&fit(af)), load(&json));
        assert_eq!(a.piecewise().unwrap(), b.piecewise().unwrap(), "{af}: CSV round trip");
        assert_eq!(a.cost, b.cost, "{af}: same structure, same predicted cost");
        assert!((a.errors.weighted - b.errors.weighted).abs() <= 1e-9, "{af}: same errors");
    }
    // A JSON table written by hand, without an activation name: --af is needed and named in the error.
    let t = tmp.path().join("hand.json");
    std::fs::write(&t, r#"{"breakpoints": [-4, 4], "pieces": [[0.1, 0.5, 0.1]], "left_tail": [0], "right_tail": [0, 1]}"#).unwrap();
    let out = compact(&["import", "--table", t.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --af NAME"));
    let j = tmp.path().join("hand.approx.json");
    let out = compact(&["import", "--table", t.to_str().unwrap(), "--af", "silu", "--out", j.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(load(&j).piecewise().unwrap().eval(1.0), 0.7);
}
