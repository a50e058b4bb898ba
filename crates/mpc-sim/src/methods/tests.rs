//! Every baseline, securely: the plaintext run of its graph equals its fixed-point emulation bit for bit, the secure
//! run agrees within a stated number of LSBs, and the metered bytes equal the prediction.
#![allow(clippy::unwrap_used)]

use activation_approx::baselines::{BuildContext, MethodRegistry};

use super::check_method;
use activation_approx::Truncation;

/// (method, activation, max |secure − fixed| in LSBs). Splines: a few truncations of ±1 LSB, each scaled by at most a
/// coefficient times a power; CrypTen: a ±1 LSB error entering exp's 9 squarings is multiplied by at most 2 per
/// squaring (y ≤ 1), i.e. by ≤ 2^9 = 512 (tanh doubles it once more); measured 137–444.
const CASES: &[(&str, &str, u64)] = &[
    ("puma", "gelu", 8),
    ("puma", "silu", 8),
    ("bolt", "gelu", 8),
    ("bumblebee", "gelu", 8),
    ("bumblebee", "silu", 16),
    ("crude", "silu", 4),
    ("mpcformer-quad", "gelu", 4),
    ("relu-swap", "mish", 0),
    ("crypten", "sigmoid", 512),
    ("crypten", "tanh", 1024),
    ("crypten", "silu", 512),
    ("crypten", "gelu_tanh", 512),
    ("crypten", "mish", 512),
    ("crypten-erf", "gelu", 64),
    ("nfgen", "silu", 16),
    ("nfgen-sorted", "gelu", 16),
    ("nfgen", "mish", 16),
    ("compact", "silu", 8),
    ("compact-uniform-breakpoints", "gelu", 8),
];

#[test]
fn every_baseline_secure_matches_fixed_point() {
    let reg = MethodRegistry::builtin();
    let mut failures = Vec::new();
    for &(name, af, tol) in CASES {
        let m = reg.build(name, &BuildContext::new(af).unwrap().with_density("normal:0,1")).unwrap();
        let (lo, hi) = m.fixed_domain();
        let xs: Vec<f64> = (0..300).map(|i| lo + (hi - lo) * (i as f64 + 0.5) / 300.0).collect();
        // The truncation the method needs (NFGen's scaled coefficients: dealer pair), not a guess from its name.
        let want = if name.starts_with("nfgen") { Truncation::DealerPair } else { Truncation::Local };
        assert_eq!(m.truncation(), want, "{name}/{af}: truncation");
        let c = check_method(m.as_ref(), &xs, 7, m.truncation()).unwrap();
        eprintln!("{name}/{af}: {c:?}");
        assert!(c.plain_equals_fixed, "{name}/{af}: plaintext graph run differs from eval_fixed");
        if c.max_diff_lsb > tol {
            failures.push(format!("{name}/{af}: secure differs by {} LSB > {tol}", c.max_diff_lsb));
        }
        assert_eq!(c.metered_bytes, c.predicted.bytes_per_party, "{name}/{af}: bytes");
        assert!(c.metered_rounds >= u64::from(c.predicted.rounds), "{name}/{af}: rounds");
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
