//! Running a sweep twice gives bit-identical records save timings (the `make reproduce` promise), here on the
//! approximation experiment, which anneals (rayon chains) and measures every method under a density.

#![allow(clippy::unwrap_used)]

use experiment_runner::experiments::Approximation;
use experiment_runner::reproduce::compare_dirs;
use experiment_runner::spec::Spec;
use experiment_runner::sweep::{read_records, run_sweep};

const SPEC: &str = r#"
name = "det"
kind = "approximation"
seed = 11

[grid]
activation = ["silu", "gelu"]
method = ["compact", "nfgen", "puma"]
density = ["normal:0,1"]

[params.config.compact]
tol = 1e-3
"#;

fn canonical(dir: &std::path::Path) -> Vec<String> {
    let mut recs = read_records(&dir.join("det.jsonl")).unwrap();
    recs.sort_by(|a, b| a.key.cmp(&b.key));
    recs.into_iter()
        .map(|mut r| {
            r.elapsed_s = 0.0;
            serde_json::to_string(&r).unwrap()
        })
        .collect()
}

#[test]
fn a_sweep_run_twice_gives_identical_records() {
    let spec = Spec::parse(SPEC).unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ex = Approximation::new();
    let s1 = run_sweep(&spec, &ex, a.path(), false).unwrap();
    // The second run on a two-thread pool: scheduling differs, results must not.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let s2 = pool.install(|| run_sweep(&spec, &ex, b.path(), false)).unwrap();
    assert_eq!((s1.ran, s2.ran, s1.skipped, s2.skipped), (6, 6, 0, 0));
    let (ra, rb) = (canonical(a.path()), canonical(b.path()));
    assert_eq!(ra.len(), 6);
    for (x, y) in ra.iter().zip(&rb) {
        assert_eq!(x, y);
    }
    let md = compare_dirs(a.path(), b.path()).unwrap();
    assert!(md.contains("| det | 6 | 6 | 0 | 0 | 0 |"), "{md}");
}
