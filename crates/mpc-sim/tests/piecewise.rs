//! Secure piecewise evaluation vs the approximation crate's fixed-point emulation, and the cost predictor vs the
//! meter for random approximations.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use activation_approx::{CostModel, FixedPoint, PiecewisePoly, Truncation, TwoPartyCostModel};
use common::{TRUNCS, normal, puma_gelu, random_piecewise, three_piece_deg8};
use mpc_sim::bounds::piecewise_bound_lsb;
use mpc_sim::{CostEvaluator, Evaluator, Party, PlainEvaluator, Session, SessionConfig, recipes};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn run_against_emulation(name: &str, pp: &PiecewisePoly, n: usize) {
    let fx = FixedPoint::default();
    let enc = pp.encode(&fx).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let xs: Vec<f64> = (0..n).map(|_| 3.0 * normal(&mut rng)).collect();
    let xe: Vec<i64> = xs.iter().map(|&x| fx.encode(x).unwrap()).collect();
    let want: Vec<i64> = xe.iter().map(|&x| enc.eval(x)).collect();

    // Plaintext evaluator: bit for bit.
    let mut pe = PlainEvaluator::new(fx);
    let xp = pe.input_raw(Party::P0, &xe, &[n], fx.frac_bits).unwrap();
    let yp = recipes::piecewise(&mut pe, &xp, &enc).unwrap();
    assert_eq!(pe.reveal_raw(&yp).unwrap(), want, "{name}: plaintext evaluator differs from EncodedPiecewise::eval");

    for t in TRUNCS {
        let mut s = Session::new(SessionConfig { fx, truncation: t, seed: 21 });
        let x = s.input_raw(Party::P0, &xe, &[n], fx.frac_bits).unwrap();
        s.reset_meter();
        let y = recipes::piecewise(&mut s, &x, &enc).unwrap();
        let metered = s.total().cost();
        let mut ce = CostEvaluator::new(fx, t);
        let xc = ce.input_raw(Party::P0, &xe, &[n], fx.frac_bits).unwrap();
        ce.reset_meter();
        recipes::piecewise(&mut ce, &xc, &enc).unwrap();
        assert_eq!(metered, ce.total().cost(), "{name} {t:?}: cost");
        let got = s.reveal_raw(&y).unwrap();
        let (mut exact, mut worst, mut outliers, mut worst_bound) = (0usize, 0i64, 0usize, 0u128);
        for i in 0..n {
            let d = got[i].wrapping_sub(want[i]).unsigned_abs() as u128;
            let bound = piecewise_bound_lsb(&enc, xe[i]);
            worst_bound = worst_bound.max(bound);
            if d > bound {
                outliers += 1;
                assert_eq!(t, Truncation::Local, "{name}: x = {} off by {d} LSB > bound {bound} with dealer truncation", xs[i]);
            } else {
                worst = worst.max(d as i64);
            }
            exact += usize::from(d == 0);
        }
        eprintln!(
            "{name} {t:?}: n = {n}, exact {:.2}%, max |secure − emulation| = {worst} LSB (largest per-input bound {worst_bound}), local-truncation wrap outliers {outliers}, cost {metered:?}",
            100.0 * exact as f64 / n as f64
        );
        // Local truncation wraps with probability ≈ |v|/2^64 per truncation; with |v| ≤ 2^52 here that is < 1e-3
        // over all 10^5 inputs and all truncations.
        assert!(outliers <= 2, "{name}: {outliers} wrap outliers");
    }
}

#[test]
fn puma_gelu_equals_emulation_on_1e5_gaussian_inputs() {
    run_against_emulation("PUMA GeLU", &puma_gelu(), 100_000);
}

#[test]
fn three_piece_degree8_equals_emulation_on_1e5_gaussian_inputs() {
    run_against_emulation("3-piece deg-8", &three_piece_deg8(), 100_000);
}

#[test]
fn predicted_cost_equals_meter_and_model_for_20_random_approximations() {
    let fx = FixedPoint::default();
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let n = 64;
    for case in 0..20 {
        let pp = random_piecewise(&mut rng);
        let enc = pp.encode(&fx).unwrap();
        let (lo, hi) = pp.range();
        let xs: Vec<f64> = (0..n).map(|_| rng.random_range(lo - 2.0..hi + 2.0)).collect();
        for t in TRUNCS {
            let mut s = Session::new(SessionConfig { fx, truncation: t, seed: case });
            let x = s.input(Party::P0, &xs, &[n]).unwrap();
            s.reset_meter();
            let y = recipes::piecewise(&mut s, &x, &enc).unwrap();
            let metered = s.total().cost();
            let mut ce = CostEvaluator::new(fx, t);
            let xc = ce.input(Party::P0, &xs, &[n]).unwrap();
            ce.reset_meter();
            recipes::piecewise(&mut ce, &xc, &enc).unwrap();
            assert_eq!(metered, ce.total().cost(), "case {case} {t:?}");
            let model = TwoPartyCostModel::default().with_truncation(t).piecewise_cost(&pp);
            assert_eq!(metered.rounds, model.rounds, "case {case} {t:?}: rounds vs TwoPartyCostModel");
            assert_eq!(metered.bytes_per_party, model.bytes_per_party * n as u64, "case {case} {t:?}: bytes vs model");
            // And the values are within the bound.
            let got = s.reveal_raw(&y).unwrap();
            for (i, &x) in xs.iter().enumerate() {
                let xe = fx.encode(x).unwrap();
                let d = got[i].wrapping_sub(enc.eval(xe)).unsigned_abs() as u128;
                assert!(d <= piecewise_bound_lsb(&enc, xe), "case {case} {t:?} x = {x}: {d}");
            }
        }
    }
}
