//! `compact secure` as a process: bad inputs exit non-zero with one line on stderr naming the bad value and the way
//! out, before any data is read (the committed models are enough).

use std::process::Command;

fn compact(args: &[&str]) -> (i32, String) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = Command::new(env!("CARGO_BIN_EXE_compact")).current_dir(root).args(args).output().expect("run compact");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn bad_inputs_exit_nonzero_with_one_line() {
    let dir = std::env::temp_dir().join(format!("compact-secure-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let gelu = dir.join("gelu.json");
    let gelu_s = gelu.to_str().expect("utf-8 path");
    let (code, err) = compact(&["fit", "--af", "gelu", "--tol", "1e-2", "--iterations", "200", "--out", gelu_s]);
    assert_eq!(code, 0, "{err}");
    let base = ["secure", "--task", "mnist", "--af", "silu"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["secure", "--task", "cifar100", "--af", "silu"], "unknown task 'cifar100'"),
        (vec!["secure", "--task", "mnist", "--af", "swsh"], "unknown activation 'swsh'"),
        ([&base[..], &["--method", "nfgn"]].concat(), "unknown method 'nfgn'"),
        ([&base[..], &["--method", "mpcformer-quad"]].concat(), "no approximation of 'silu'"),
        ([&base[..], &["--approx", gelu_s]].concat(), "approximates 'gelu' but the model uses 'silu'"),
        ([&base[..], &["--method", "nfgen", "--approx", gelu_s]].concat(), "--approx gives Compact's approximation"),
        ([&base[..], &["--model", "results/models/letter-silu-d4.json"]].concat(), "trained for task 'letter'"),
        ([&base[..], &["--model", "results/models/mnist-gelu-d4.json"]].concat(), "with 'gelu'"),
        ([&base[..], &["--nu", "1.5"]].concat(), "--nu 1.5"),
        ([&base[..], &["--softmax", "fast"]].concat(), "softmax recipe 'fast': choose one of puma, puma-fast, crypten"),
        ([&base[..], &["--layer-norm", "newton"]].concat(), "LayerNorm recipe 'newton': choose one of ladder, crypten"),
    ];
    for (args, want) in cases {
        let (code, err) = compact(&args);
        assert_ne!(code, 0, "{args:?} succeeded");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
