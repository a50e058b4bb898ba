//! One method run three ways on the same inputs — secure [`Session`], [`PlainEvaluator`], [`CostEvaluator`] — for
//! the tests that assert the accounting: metered rounds and bytes equal the cost evaluator's, and the secure output
//! equals the plaintext fixed-point output up to the truncation errors. [`check_method_fss`] does the same on the
//! FSS backend ([`FssSession`] vs [`FssCostEvaluator`]).

use activation_approx::Truncation;
use mpc_sim::{Cost, CostEvaluator, Evaluator, FssConfig, FssCostEvaluator, FssSession, Party, PlainEvaluator, Session, SessionConfig};

use crate::method::SecureMethod;

/// The outcome of [`check_method`].
#[derive(Debug, Clone, PartialEq)]
pub struct MethodCheck {
    /// Largest |secure − plain| over the inputs, in units of 2^−f.
    pub max_diff_lsb: u64,
    /// Totals the secure session metered for the whole batch (input sharing and the reveal excluded).
    pub metered: Cost,
    /// Totals the cost evaluator predicted for the same batch.
    pub predicted: Cost,
    /// The plaintext fixed-point outputs (ring elements).
    pub plain: Vec<i64>,
}

/// Runs `method` on `xs` securely (seeded), on the plaintext evaluator and on the cost evaluator, under `truncation`.
pub fn check_method(method: &dyn SecureMethod, xs: &[f64], seed: u64, truncation: Truncation) -> mpc_sim::Result<MethodCheck> {
    let fx = method.fixed_point();
    let shape = [xs.len()];
    let plain_out = plain_reference(method, xs)?;
    let mut s = Session::new(SessionConfig { fx, seed, truncation });
    let sx = s.input(Party::P0, xs, &shape)?;
    s.reset_meter();
    let sy = method.run_secure(&mut s, &sx)?;
    let metered = s.total().cost();
    let secure_out = s.reveal_raw(&sy)?;
    let mut c = CostEvaluator::new(fx, truncation);
    let cx = c.input(Party::P0, xs, &shape)?;
    c.reset_meter();
    method.run_cost(&mut c, &cx)?;
    let predicted = c.total().cost();
    let max_diff_lsb = max_diff_lsb(&secure_out, &plain_out);
    Ok(MethodCheck { max_diff_lsb, metered, predicted, plain: plain_out })
}

/// The outcome of [`check_method_fss`].
#[derive(Debug, Clone, PartialEq)]
pub struct FssMethodCheck {
    /// Largest |FSS secure − plain| over the inputs, in units of 2^−f.
    pub max_diff_lsb: u64,
    /// Totals the [`FssSession`] metered for the batch (input sharing and the reveal excluded); the offline bytes
    /// are the dealer's material per party: DCF keys, masks and the Beaver triples of the power tree; the AES calls
    /// are those the session counted.
    pub metered: Cost,
    /// Totals (with AES calls) the [`FssCostEvaluator`] predicted for the same batch.
    pub predicted: Cost,
}

/// Runs `method` on `xs` on the FSS session (seeded, `bits`-bit comparison domain), on the plaintext evaluator and on
/// the FSS cost evaluator, under `truncation`.
pub fn check_method_fss(
    method: &dyn SecureMethod,
    xs: &[f64],
    seed: u64,
    truncation: Truncation,
    bits: u32,
) -> mpc_sim::Result<FssMethodCheck> {
    let fx = method.fixed_point();
    let shape = [xs.len()];
    let plain_out = plain_reference(method, xs)?;
    let mut s = FssSession::new(FssConfig { session: SessionConfig { fx, seed, truncation }, bits })?;
    let sx = s.input(Party::P0, xs, &shape)?;
    s.reset_meter();
    let sy = method.run_fss(&mut s, &sx)?;
    let metered = s.cost();
    let secure_out = s.reveal_raw(&sy)?;
    let mut c = FssCostEvaluator::new(fx, truncation, bits)?;
    let cx = c.input(Party::P0, xs, &shape)?;
    c.reset_meter();
    method.run_fss_cost(&mut c, &cx)?;
    let max_diff_lsb = max_diff_lsb(&secure_out, &plain_out);
    Ok(FssMethodCheck { max_diff_lsb, metered, predicted: c.cost() })
}

/// `method` on `xs` on the plaintext fixed-point evaluator: the reference both checks compare with (ring elements).
fn plain_reference(method: &dyn SecureMethod, xs: &[f64]) -> mpc_sim::Result<Vec<i64>> {
    let mut plain = PlainEvaluator::new(method.fixed_point());
    let px = plain.input(Party::P0, xs, &[xs.len()])?;
    let py = method.run_plain(&mut plain, &px)?;
    plain.reveal_raw(&py)
}

/// Largest |a − b| (ring difference) over the elements, in LSB.
fn max_diff_lsb(a: &[i64], b: &[i64]) -> u64 {
    a.iter().zip(b).map(|(x, y)| x.wrapping_sub(*y).unsigned_abs()).max().unwrap_or(0)
}
