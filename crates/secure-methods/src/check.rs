//! One method run three ways on the same inputs — secure [`Session`], [`PlainEvaluator`], [`CostEvaluator`] — for
//! the tests that assert the accounting: metered rounds and bytes equal the cost evaluator's, and the secure output
//! equals the plaintext fixed-point output up to the truncation errors.

use activation_approx::Truncation;
use mpc_sim::{CommCost, CostEvaluator, Evaluator, Party, PlainEvaluator, Session, SessionConfig};

use crate::method::SecureMethod;

/// The outcome of [`check_method`].
#[derive(Debug, Clone, PartialEq)]
pub struct MethodCheck {
    /// Largest |secure − plain| over the inputs, in units of 2^−f.
    pub max_diff_lsb: u64,
    /// Totals the secure session metered for the whole batch (input sharing and the reveal excluded).
    pub metered: CommCost,
    /// Totals the cost evaluator predicted for the same batch.
    pub predicted: CommCost,
    /// The plaintext fixed-point outputs (ring elements).
    pub plain: Vec<i64>,
}

/// Runs `method` on `xs` securely (seeded), on the plaintext evaluator and on the cost evaluator, under `truncation`.
pub fn check_method(method: &dyn SecureMethod, xs: &[f64], seed: u64, truncation: Truncation) -> mpc_sim::Result<MethodCheck> {
    let fx = method.fixed_point();
    let shape = [xs.len()];
    let mut plain = PlainEvaluator::new(fx);
    let px = plain.input(Party::P0, xs, &shape)?;
    let py = method.run_plain(&mut plain, &px)?;
    let plain_out = plain.reveal_raw(&py)?;
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
    let max_diff_lsb = secure_out.iter().zip(&plain_out).map(|(a, b)| a.wrapping_sub(*b).unsigned_abs()).max().unwrap_or(0);
    Ok(MethodCheck { max_diff_lsb, metered, predicted, plain: plain_out })
}
