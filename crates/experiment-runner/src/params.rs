//! Range checks of every `[params]` value of the `accuracy` and `secure` experiment kinds, run before any point
//! starts so that a spec such as `tau_lo = 1, tau_hi = 0.001` or `bins = 0` is refused with the rule it breaks.
//!
//! | parameter | rule | default |
//! |---|---|---|
//! | `nu` | 0 < ν < 1 | 0.01 |
//! | `tau_lo`, `tau_hi` | finite, 0 < tau_lo < tau_hi | 1e-4, 1e-1 |
//! | `bisection_steps` | ≤ 60 | 7 |
//! | `calibration` | ≥ 1 | 2000 |
//! | `bins` | 1 ≤ bins ≤ limits::MAX_BINS | 256 |
//! | `batch` | ≥ 1 | 512 |
//! | `eval_limit` | any (0 = all samples) | 0 |
//! | `samples`, `cnn_samples`, `transformer_samples`, `secure_batch` | ≥ 1 | 500, 200, 200, per model |
//! | `softmax`, `layer_norm` (secure, transformers) | `puma`, `puma-fast`, `crypten`; `ladder`, `crypten` | `puma`, `ladder` |

use activation_approx::limits::{MAX_BINS, num};
use anyhow::bail;

use crate::spec::Spec;

/// Most bisection steps (τ is halved on a log scale each step; 60 steps exhaust f64 resolution).
pub const MAX_BISECTION_STEPS: usize = 60;

/// Checks the parameters shared by `accuracy` and `secure` (module docs).
pub fn check_accuracy_params(spec: &Spec) -> anyhow::Result<()> {
    let nu = spec.param_f64("nu", 0.01)?;
    if !(nu > 0.0 && nu < 1.0) {
        bail!("parameter nu = {} must be in (0, 1), e.g. 0.01 for a 1 % relative accuracy loss", num(nu));
    }
    let (lo, hi) = (spec.param_f64("tau_lo", 1e-4)?, spec.param_f64("tau_hi", 1e-1)?);
    if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && lo < hi) {
        bail!("parameters tau_lo = {} and tau_hi = {} must satisfy 0 < tau_lo < tau_hi, e.g. 1e-4 and 1e-1", num(lo), num(hi));
    }
    let steps = spec.param_usize("bisection_steps", 7)?;
    if steps > MAX_BISECTION_STEPS {
        bail!("parameter bisection_steps = {steps} is above the cap of {MAX_BISECTION_STEPS}; 7 halvings suffice");
    }
    for (key, default) in [("calibration", 2000), ("batch", 512)] {
        if spec.param_usize(key, default)? == 0 {
            bail!("parameter {key} = 0: use at least 1 (default {default})");
        }
    }
    let bins = spec.param_usize("bins", 256)?;
    if bins == 0 || bins > MAX_BINS {
        bail!("parameter bins = {bins} must be in 1..={MAX_BINS} (limits::MAX_BINS), e.g. 256");
    }
    spec.param_usize("eval_limit", 0)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(params: &str) -> anyhow::Result<()> {
        let spec = Spec::parse(&format!("name = \"t\"\nkind = \"accuracy\"\n[grid]\ntask = [\"mnist\"]\n[params]\n{params}\n"))?;
        check_accuracy_params(&spec)
    }

    #[test]
    fn every_parameter_is_range_checked() {
        check("").unwrap();
        check("tau_lo = 1e-3\ntau_hi = 1e-2\nbins = 64\nbatch = 1").unwrap();
        for (params, want) in [
            ("tau_lo = 1\ntau_hi = 0.001", "0 < tau_lo < tau_hi"),
            ("tau_lo = 0", "0 < tau_lo < tau_hi"),
            ("tau_hi = inf", "0 < tau_lo < tau_hi"),
            ("bins = 0", "bins = 0"),
            ("bins = 10000000", "limits::MAX_BINS"),
            ("batch = 0", "batch = 0"),
            ("calibration = 0", "calibration = 0"),
            ("bisection_steps = 1000", "bisection_steps = 1000"),
            ("nu = 1e300", "nu = 1e300"),
            ("batch = -1", "non-negative integer"),
            ("tau_lo = \"x\"", "must be a number"),
        ] {
            let e = check(params).unwrap_err().to_string();
            assert!(e.contains(want), "{params}: {e}");
            assert!(!e.contains('\n') && e.len() < 200, "{params}: {e}");
        }
    }
}
