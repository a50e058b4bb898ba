//! `compact fit` as a process: bad inputs exit non-zero with one line on stderr naming the bad value; good input
//! writes a JSON file that `--check` accepts.

use std::process::Command;

fn compact(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_compact")).args(args).output().expect("run compact");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_inputs_exit_nonzero_with_one_line() {
    let cases: [(&[&str], &str); 6] = [
        (&["fit", "--af", "swsh"], "unknown activation 'swsh'; known: "),
        (&["fit", "--af", "silu", "--tol", "0"], "invalid --tol 0"),
        (&["fit", "--af", "silu", "--tol", "NaN"], "invalid --tol NaN"),
        (&["fit", "--af", "silu", "--density", "normal:0,0"], "std = 0 ≤ 0"),
        (&["fit", "--af", "silu", "--density", "uniform:1,-1"], "a = 1 ≥ b = -1"),
        (&["fit", "--af", "silu", "--pieces", "1", "--degree", "10", "--range", "-16,16"], "degree 10"),
    ];
    for (args, want) in cases {
        let (code, _, err) = compact(args);
        assert_ne!(code, 0, "{args:?} succeeded");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn fit_then_check() {
    let dir = std::env::temp_dir().join(format!("compact-cli-{}", std::process::id()));
    let out = dir.join("silu.json");
    let out_s = out.to_str().expect("utf-8 path");
    let (code, stdout, err) =
        compact(&["fit", "--af", "silu", "--tol", "1e-2", "--iterations", "300", "--out", out_s]);
    assert_eq!(code, 0, "{err}");
    for col in ["pieces", "degrees", "range", "weighted error", "comparisons", "multiplications", "rounds", "bytes per element"] {
        assert!(stdout.contains(col), "missing '{col}' in:\n{stdout}");
    }
    let (code, stdout, err) = compact(&["fit", "--check", out_s]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("valid approximation of 'silu'"), "{stdout}");
    let (code, stdout, _) = compact(&["fit", "--list"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("gelu_tanh") && stdout.contains("right tail"), "{stdout}");
    assert!(!stdout.contains("Identity") && !stdout.contains("Constant {"), "Rust debug text in: {stdout}");
}
