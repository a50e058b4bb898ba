//! One row of the baselines table: structure, accuracy and cost of a method, measured the same way for all.
//!
//! - max error on [lo, hi] (default [−8, 8]) of the f64 evaluation ([`crate::metrics::max_abs_error_fn`], split at the
//!   method's kinks), and of the fixed-point evaluation on the grid of step 2^−8;
//! - weighted error E_ρ|f − p| over the real line of the f64 evaluation ([`crate::density::Density::expect`], split at
//!   the kinks and at the sign changes of f − p, as [`crate::metrics::weighted_error`] does), and of
//!   the fixed-point evaluation by a midpoint sum with step 2^−8 over ρ's central 1 − 10⁻⁹ mass;
//! - comparisons, multiplications, rounds and bytes per party from [`super::program::CostOps`];
//! - estimated time for 10⁶ elements in one batch on a network: rounds·latency + 10⁶·bytes·8/bandwidth (one party's
//!   bytes; links are full duplex). LAN: 1 Gbit/s, 0.5 ms per round; WAN: 100 Mbit/s, 40 ms per round (the settings
//!   of the Cheetah/BumbleBee evaluations, rounded).

use serde::Serialize;

use super::{Result, SecureMethod};
use crate::activation::Activation;
use crate::cost::{Cost, TwoPartyCostModel};
use crate::density::Density;
use crate::metrics::{error_sign_changes, max_abs_error_fn};

/// A network for the time estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Network {
    /// Bandwidth in bit/s.
    pub bits_per_second: f64,
    /// Latency of one round in seconds.
    pub round_seconds: f64,
}

impl Network {
    /// 1 Gbit/s, 0.5 ms per round.
    pub const LAN: Network = Network { bits_per_second: 1e9, round_seconds: 0.5e-3 };
    /// 100 Mbit/s, 40 ms per round.
    pub const WAN: Network = Network { bits_per_second: 1e8, round_seconds: 40e-3 };

    /// Seconds to evaluate `n` elements in one batch.
    pub fn seconds(&self, cost: &Cost, n: f64) -> f64 {
        cost.rounds as f64 * self.round_seconds + n * cost.bytes_per_party as f64 * 8.0 / self.bits_per_second
    }
}

/// Where max errors are measured.
pub const MAX_ERROR_RANGE: (f64, f64) = (-8.0, 8.0);

/// One measured method.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct MethodReport {
    /// Method name.
    pub method: String,
    /// Activation.
    pub activation: String,
    /// Segments selected among (tails included).
    pub pieces: usize,
    /// Degrees of the segments, `;`-separated (`-` for iterative methods).
    pub degrees: String,
    /// Fitted range, or `-`.
    pub range: String,
    /// max |f − p| on [−8, 8], f64 evaluation.
    pub max_err: f64,
    /// max |f − p| on [−8, 8], fixed-point evaluation.
    pub max_err_fixed: f64,
    /// E_ρ|f − p|, f64 evaluation.
    pub weighted_err: f64,
    /// E_ρ|f − p|, fixed-point evaluation.
    pub weighted_err_fixed: f64,
    /// Secure comparisons per element.
    pub comparisons: u32,
    /// Secure multiplications per element.
    pub multiplications: u32,
    /// Rounds.
    pub rounds: u32,
    /// Bytes sent by one party per element.
    pub bytes: u64,
    /// Estimated LAN milliseconds per 10⁶ elements.
    pub lan_ms: f64,
    /// Estimated WAN milliseconds per 10⁶ elements.
    pub wan_ms: f64,
    /// Protocol summary.
    pub protocol: String,
    /// Citation.
    pub citation: String,
}

/// Measures `method` against `f` under `density` (module docs).
pub fn measure(
    method: &dyn SecureMethod,
    f: &dyn Activation,
    density: &dyn Density,
    model: &TwoPartyCostModel,
) -> Result<MethodReport> {
    let info = method.info();
    let kinks = method.kinks();
    let (lo, hi) = MAX_ERROR_RANGE;
    let max_err = max_abs_error_fn(&|x| f.eval(x), &|x| method.eval_f64(x), lo, hi, &kinks);
    let step = 1.0 / 256.0;
    let grid: Vec<f64> = (0..=((hi - lo) / step) as usize).map(|i| lo + i as f64 * step).collect();
    let fixed = method.eval_fixed(&grid)?;
    let max_err_fixed = grid.iter().zip(&fixed).map(|(&x, &y)| (f.eval(x) - y).abs()).fold(0.0, f64::max);
    let mut k = kinks.clone();
    k.sort_by(f64::total_cmp);
    let g = |x: f64| f.eval(x) - method.eval_f64(x);
    let (qlo, qhi) = (density.quantile(1e-9), density.quantile(1.0 - 1e-9));
    let mut all_kinks = error_sign_changes(&g, &k, qlo, qhi);
    all_kinks.extend_from_slice(&k);
    all_kinks.sort_by(f64::total_cmp);
    let weighted_err = density.expect(&|x| g(x).abs(), &all_kinks);
    let (a, b) = density.central_interval(1.0 - 1e-9);
    let (a, b) = (a.max(-1e4), b.min(1e4));
    let n = ((b - a) / step).ceil().max(1.0) as usize;
    let h = (b - a) / n as f64;
    let mids: Vec<f64> = (0..n).map(|i| a + (i as f64 + 0.5) * h).collect();
    let fixed_mid = method.eval_fixed(&mids)?;
    let weighted_err_fixed =
        mids.iter().zip(&fixed_mid).map(|(&x, &y)| (f.eval(x) - y).abs() * density.pdf(x)).sum::<f64>() * h;
    let cost = method.cost(model);
    Ok(MethodReport {
        method: method.name().into(),
        activation: method.activation().into(),
        pieces: info.pieces,
        degrees: if info.degrees.is_empty() {
            "-".into()
        } else {
            info.degrees.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(";")
        },
        range: info.range.map_or_else(|| "-".into(), |(a, b)| format!("[{a}, {b}]")),
        max_err,
        max_err_fixed,
        weighted_err,
        weighted_err_fixed,
        comparisons: cost.comparisons,
        multiplications: cost.multiplications,
        rounds: cost.rounds,
        bytes: cost.bytes_per_party,
        lan_ms: 1e3 * Network::LAN.seconds(&cost, 1e6),
        wan_ms: 1e3 * Network::WAN.seconds(&cost, 1e6),
        protocol: info.protocol,
        citation: method.citation().into(),
    })
}
