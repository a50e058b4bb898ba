//! One row of the baselines table: structure, accuracy and cost of a method, measured the same way for all.
//!
//! - max error on [lo, hi] (default [−8, 8]) of the f64 evaluation ([`crate::metrics::max_abs_error_fn`], split at the
//!   method's kinks), and of the fixed-point evaluation on the grid of step 2^−8;
//! - weighted error E_ρ|f − p| over the real line of the f64 evaluation ([`crate::density::Density::expect`], split at
//!   the kinks and at the sign changes of f − p, as [`crate::metrics::weighted_error`] does), and of
//!   the fixed-point evaluation by a midpoint sum with step 2^−8 over ρ's central 1 − 10⁻⁹ mass;
//! - comparisons, multiplications, rounds and bytes per party from the method's program run on mpc-sim's
//!   [`mpc_sim::CostEvaluator`] ([`SecureMethod::cost`]) — the same program, the same code path, a secure [`mpc_sim::Session`]
//!   meters (tested equal) — under the truncation protocol asked for, with the cost under the other protocol beside
//!   it, and the local-truncation failure bound for inputs |x| ≤ B;
//! - estimated time for 10⁶ elements in one batch on a network ([`Network`]): rounds·RTT + 10⁶·bytes·8/bandwidth
//!   (one party's bytes; links are full duplex). LAN: 1 Gbit/s, 0.5 ms; WAN: 100 Mbit/s, 40 ms.

use activation_approx::metrics::{error_sign_changes, max_abs_error_fn};
use activation_approx::{Activation, Bytes, Cost, Count, Density, Rounds, Truncation};
use mpc_sim::Network;
use serde::Serialize;

use crate::method::{MethodCost, SecureMethod};
use crate::registry::Result;

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
    /// The truncation protocol of the cost columns.
    pub truncation: Truncation,
    /// The protocol the method needs to be correct (its hint; local truncation may fail, see `failure_bound`).
    pub needs: Truncation,
    /// Per-element bound on the probability that a local truncation fails, for |x| ≤ `input_bound` (0 under
    /// dealer-pair truncation).
    pub failure_bound: f64,
    /// The input bound B of `failure_bound`.
    pub input_bound: f64,
    /// Secure comparisons per element.
    pub comparisons: Count,
    /// Secure multiplications per element.
    pub multiplications: Count,
    /// Rounds.
    pub rounds: Rounds,
    /// Bytes sent by one party per element.
    pub bytes: Bytes,
    /// Rounds under the other truncation protocol.
    pub other_rounds: Rounds,
    /// Bytes per party per element under the other truncation protocol.
    pub other_bytes: Bytes,
    /// Failure bound under the other truncation protocol (local truncation's, when the columns are dealer pair).
    pub other_failure_bound: f64,
    /// Estimated LAN milliseconds per 10⁶ elements.
    pub lan_ms: f64,
    /// Estimated WAN milliseconds per 10⁶ elements.
    pub wan_ms: f64,
    /// Protocol summary.
    pub protocol: String,
    /// Citation.
    pub citation: String,
}

/// Milliseconds for `n` elements in one batch on `net`.
pub fn millis(net: &Network, cost: &MethodCost, n: f64) -> f64 {
    let c = Cost { rounds: cost.cost.rounds, ..Cost::ZERO };
    1e3 * (net.latency_s(&c) + n * cost.cost.bytes_per_party.get() as f64 * 8.0 / net.bandwidth_bps)
}

/// Measures `method` against `f` under `density` (module docs); costs under `truncation`, failure bound for inputs
/// |x| ≤ `input_bound`.
pub fn measure(
    method: &dyn SecureMethod,
    f: &dyn Activation,
    density: &dyn Density,
    truncation: Truncation,
    input_bound: f64,
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
    let mc = method.cost(truncation, input_bound)?;
    let other = match truncation {
        Truncation::Local => Truncation::DealerPair,
        Truncation::DealerPair => Truncation::Local,
    };
    let oc = method.cost(other, input_bound)?;
    let cost = mc.cost;
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
        truncation,
        needs: method.needs(),
        failure_bound: mc.failure_bound,
        input_bound,
        comparisons: cost.comparisons,
        multiplications: cost.multiplications,
        rounds: cost.rounds,
        bytes: cost.bytes_per_party,
        other_rounds: oc.cost.rounds,
        other_bytes: oc.cost.bytes_per_party,
        other_failure_bound: oc.failure_bound,
        lan_ms: millis(&Network::LAN, &mc, 1e6),
        wan_ms: millis(&Network::WAN, &mc, 1e6),
        protocol: info.protocol,
        citation: method.citation().into(),
    })
}
