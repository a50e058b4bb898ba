//! Every registered method × {SiLU, GELU, Mish} on the FSS backend: a run of 10⁴ inputs on `FssSession` meters
//! exactly what `FssCostEvaluator` predicts (rounds, online bytes, key bytes, AES calls), and its output equals the
//! plaintext fixed-point output (`PlainEvaluator`) within the documented truncation tolerance — the same bound as
//! on the Beaver session (`tests/accounting.rs`): the FSS gates are exact, only the truncations err.
//! Run with `--nocapture` for the per-method table.
#![allow(clippy::unwrap_used)]

use activation_approx::Truncation;
use secure_methods::{BuildContext, MethodRegistry, check_method_fss};

mod common;
use common::tolerance;

#[test]
fn every_method_runs_on_the_fss_session_metered_as_predicted_and_within_tolerance() {
    let reg = MethodRegistry::builtin();
    let n = 10_000;
    let t = Truncation::Local;
    let mut failures = Vec::new();
    let mut checked = 0;
    eprintln!("| method | af | FSS rounds | online B/elem | key B/elem | AES/elem (party) | Beaver rounds | Beaver B/elem | max Δ LSB local / dealer pair |");
    eprintln!("|---|---|---|---|---|---|---|---|---|");
    for af in ["silu", "gelu", "mish"] {
        for name in reg.names_for(af) {
            let m = reg.build(name, &BuildContext::new(af).unwrap().with_density("normal:0,1")).unwrap();
            let (lo, hi) = m.fixed_domain();
            let xs: Vec<f64> = (0..n).map(|i| lo + (hi - lo) * (i as f64 + 0.5) / n as f64).collect();
            // Dealer-pair truncation never fails: the output is within the tolerance for every method.
            let dp = check_method_fss(m.as_ref(), &xs, 17, Truncation::DealerPair, 64).unwrap();
            if dp.metered != dp.predicted {
                failures.push(format!("{name}/{af}/dealer pair: metered {:?} vs FssCostEvaluator {:?}", dp.metered, dp.predicted));
            }
            if dp.max_diff_lsb > tolerance(name) {
                failures.push(format!("{name}/{af}/dealer pair: FSS output differs from plaintext by {} LSB", dp.max_diff_lsb));
            }
            let c = check_method_fss(m.as_ref(), &xs, 13, t, 64).unwrap();
            if c.metered != c.predicted {
                failures.push(format!("{name}/{af}: metered {:?} vs FssCostEvaluator {:?} (rounds, bytes, AES calls)", c.metered, c.predicted));
            }
            let per = m.cost(t, 8.0).unwrap();
            // Local truncation may fail (rarely) on NFGen's near-2^61 terms; the failure bound says how often.
            if c.max_diff_lsb > tolerance(name) && per.failure_bound <= 1e-6 {
                failures.push(format!("{name}/{af}: FSS output differs from plaintext by {} LSB", c.max_diff_lsb));
            }
            let nn = n as u64;
            eprintln!(
                "| {name} | {af} | {} | {} | {} | {} | {} | {} | {} / {} |",
                c.metered.rounds,
                c.metered.bytes_per_party / nn,
                c.metered.offline_bytes_per_party / nn,
                c.metered.aes_calls_per_party / nn,
                per.cost.rounds,
                per.cost.bytes_per_party,
                c.max_diff_lsb,
                dp.max_diff_lsb
            );
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(checked >= 3 * 8, "only {checked} cases");
}
