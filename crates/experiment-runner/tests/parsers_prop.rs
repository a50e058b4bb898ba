//! Property tests for every parser of user input: density strings, approximation JSON, spec TOML, record lines and
//! model sidecars. For arbitrary strings and for random edits of valid inputs each parser must not panic, must
//! finish in bounded time, and must return either a valid value (which is then used: verified, expanded,
//! round-tripped) or a one-line error of bounded length.
//!
//! Cases per property: 64–256 by default (a few seconds in `make test`); `make fuzz` raises `PROPTEST_CASES` for a
//! ten-minute run.

use std::time::{Duration, Instant};

use activation_approx::verify::verify;
use activation_approx::{ActivationRegistry, ApproximationFile, Density, DensitySpec};
use experiment_runner::experiments::{self, Paths};
use experiment_runner::names::canonical_spec;
use experiment_runner::spec::Spec;
use experiment_runner::sweep::Record;
use proptest::prelude::*;

fn cfg(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// A one-line error of bounded length.
fn one_line(e: &str) {
    assert!(!e.trim().contains('\n'), "multi-line error: {e}");
    assert!(e.len() <= 1500, "error of {} bytes: {}…", e.len(), &e[..e.char_indices().nth(200).map_or(e.len(), |c| c.0)]);
}

fn timed<T>(what: &str, budget_ms: u64, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    assert!(t.elapsed() < Duration::from_millis(budget_ms), "{what} took {:?}", t.elapsed());
    out
}

/// `text` with one character replaced, inserted or deleted at `at`.
fn edit(text: &str, at: prop::sample::Index, c: char, op: u8) -> String {
    let chars: Vec<char> = text.chars().collect();
    let i = at.index(chars.len().max(1)).min(chars.len());
    let mut out = chars.clone();
    match op % 3 {
        0 if i < out.len() => out[i] = c,
        1 => out.insert(i, c),
        _ if i < out.len() => {
            out.remove(i);
        }
        _ => out.push(c),
    }
    out.into_iter().collect()
}

fn good_approximation() -> String {
    use activation_approx::{Builtin, CostModel, ErrorReport, FixedPoint, PiecewisePoly, Polynomial, Tail, TwoPartyCostModel};
    let pp = PiecewisePoly::new(
        Tail::Zero,
        vec![-3.0, 0.0, 3.0],
        vec![Polynomial::new(vec![0.0, 0.5, 0.2]), Polynomial::new(vec![0.0, 0.5, 0.2])],
        Tail::Identity,
    )
    .expect("valid");
    let d = DensitySpec::standard_normal();
    let fx = FixedPoint::default();
    let errors = ErrorReport::measure(&Builtin::Silu, &pp, &d, &fx);
    let model = TwoPartyCostModel::default();
    ApproximationFile::new("silu", &pp, Some(d), None, fx, errors, model.piecewise_cost(&pp), Some(model), None)
        .to_json()
        .expect("json")
}

const GOOD_SPEC: &str = r#"name = "t"
kind = "approximation"
seed = 3
[grid]
activation = ["silu", "gelu"]
method = ["compact", "puma"]
density = ["normal:0,1", "uniform:-4,4"]
[params.config.puma]
"#;

const GOOD_SIDECAR: &str = include_str!("../../../results/models/letter-gelu-d4.json");

fn check_density(s: &str) {
    match timed("density parse", 500, || DensitySpec::parse(s)) {
        Ok(d) => {
            // A parsed density is usable and its text form parses back to the same density.
            let (lo, hi) = timed("central interval", 500, || d.central_interval(0.999));
            assert!(lo <= hi || lo.is_nan() || hi.is_nan(), "{s}: central interval {lo} > {hi}");
            let back = DensitySpec::parse(&d.to_string()).unwrap_or_else(|e| panic!("{s}: display '{d}' does not parse: {e}"));
            assert_eq!(back, d, "{s}");
        }
        Err(e) => one_line(&e.to_string()),
    }
}

fn check_approximation(s: &str) {
    match timed("approximation parse", 500, || ApproximationFile::from_json(s)) {
        Ok(file) => match timed("verify", 3000, || verify(&file, &ActivationRegistry::builtin())) {
            Ok(v) => {
                if let Err(e) = v.into_result() {
                    one_line(&e.to_string());
                }
            }
            Err(e) => one_line(&e.to_string()),
        },
        Err(e) => one_line(&e.to_string()),
    }
}

fn check_spec(s: &str) {
    match timed("spec parse", 500, || Spec::parse(s)) {
        Ok(spec) => match canonical_spec(&spec) {
            Ok(c) => {
                assert!(c.points().len() <= spec.points().len());
                if let Ok(ex) = experiments::executor(&c.kind, &Paths { data_root: "none".into(), models: "none".into() }) {
                    if let Err(e) = timed("validate", 1000, || ex.validate(&c)) {
                        one_line(&format!("{e:#}"));
                    }
                }
            }
            Err(e) => one_line(&format!("{e:#}")),
        },
        Err(e) => one_line(&format!("{e:#}")),
    }
}

proptest! {
    #![proptest_config(cfg(256))]

    #[test]
    fn density_strings_arbitrary(s in any::<String>()) {
        check_density(&s);
    }

    #[test]
    fn density_strings_grammar(s in "(normal|uniform|mix|mixture|n|u|gauss|N|Uniform):[-+0-9.eE,;@:a-z{}\\[\\]\" ]{0,40}") {
        check_density(&s);
    }

    #[test]
    fn spec_toml_arbitrary(s in any::<String>()) {
        check_spec(&s);
    }

    #[test]
    fn spec_toml_edits(at in any::<prop::sample::Index>(), c in any::<char>(), op in any::<u8>()) {
        check_spec(&edit(GOOD_SPEC, at, c, op));
    }

    #[test]
    fn record_lines(s in any::<String>(), at in any::<prop::sample::Index>(), c in any::<char>(), op in any::<u8>()) {
        for line in [s, edit(r#"{"experiment":"a","key":"depth=1","point":{"index":0,"activation":null,"method":null,"task":null,"depth":1,"density":null},"seed":1,"elapsed_s":0.5,"spec_digest":"ab","result":{"x":1}}"#, at, c, op)] {
            if let Err(e) = serde_json::from_str::<Record>(&line) {
                one_line(&e.to_string());
            }
        }
    }

    #[test]
    fn sidecar_edits(at in any::<prop::sample::Index>(), c in any::<char>(), op in any::<u8>()) {
        let text = edit(GOOD_SIDECAR, at, c, op);
        if let Err(e) = serde_json::from_str::<model_zoo::Sidecar>(&text) {
            one_line(&e.to_string());
        }
    }
}

proptest! {
    #![proptest_config(cfg(48))]

    #[test]
    fn approximation_json_arbitrary(s in any::<String>()) {
        check_approximation(&s);
    }

    #[test]
    fn approximation_json_edits(at in any::<prop::sample::Index>(), c in any::<char>(), op in any::<u8>()) {
        check_approximation(&edit(&good_approximation(), at, c, op));
    }

    #[test]
    fn approximation_json_numbers(at in any::<prop::sample::Index>(), digits in "-?[0-9]{1,3}(\\.[0-9]{1,3})?(e-?[0-9]{1,3})?") {
        // Replace one number of a valid file by another (breakpoints, coefficients, frac_bits, errors, cost).
        let good = good_approximation();
        let starts: Vec<usize> = good.match_indices(|c: char| c.is_ascii_digit()).map(|(i, _)| i)
            .filter(|&i| i == 0 || !good.as_bytes()[i - 1].is_ascii_digit() && good.as_bytes()[i - 1] != b'.' && good.as_bytes()[i - 1] != b'-')
            .collect();
        let i = starts[at.index(starts.len())];
        let end = good[i..].find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == '-' || c == '+')).map_or(good.len(), |e| i + e);
        check_approximation(&format!("{}{}{}", &good[..i], digits, &good[end..]));
    }
}

#[test]
fn the_seed_inputs_are_valid() {
    assert!(ApproximationFile::from_json(&good_approximation()).is_ok());
    assert!(canonical_spec(&Spec::parse(GOOD_SPEC).expect("spec")).is_ok());
    assert!(serde_json::from_str::<model_zoo::Sidecar>(GOOD_SIDECAR).is_ok());
    let v = verify(&ApproximationFile::from_json(&good_approximation()).expect("file"), &ActivationRegistry::builtin()).expect("verify");
    assert!(v.disagreements.is_empty(), "{:?}", v.disagreements);
}
