//! Bad input gives a clear error on every evaluator, never a panic.
#![allow(missing_docs, clippy::unwrap_used)]

use activation_approx::FixedPoint;
use mpc_sim::nn::{self, Conv2dConfig};
use mpc_sim::{CostEvaluator, Evaluator, MpcError, Party, PlainEvaluator, Session, SessionConfig, Truncation, recipes};

fn bad_inputs<E: Evaluator>(ev: &mut E, other_fx: &mut E) {
    // Out of range / not finite.
    let e = ev.input(Party::P0, &[1e20], &[1]).unwrap_err();
    assert!(matches!(e, MpcError::Approx(_)) && e.to_string().contains("100000000000000000000"), "{e}");
    assert!(ev.input(Party::P0, &[f64::NAN], &[1]).is_err());
    assert!(ev.input(Party::P0, &[140737488355328.0], &[1]).is_err(), "2^47 is at the limit for f = 16");
    // Length vs shape.
    assert!(matches!(ev.input(Party::P0, &[1.0, 2.0], &[3]), Err(MpcError::LengthMismatch { len: 2, expected: 3, .. })));
    let a = ev.input(Party::P0, &[1.0, 2.0], &[2]).unwrap();
    let b = ev.input(Party::P0, &[1.0, 2.0, 3.0], &[3]).unwrap();
    // Shapes.
    let e = ev.add(&a, &b).unwrap_err();
    assert!(matches!(e, MpcError::ShapeMismatch { .. }) && e.to_string().contains("[2] vs [3]"), "{e}");
    assert!(matches!(ev.mul(&a, &b), Err(MpcError::ShapeMismatch { .. })));
    assert!(matches!(ev.matmul(&a, &b), Err(MpcError::ShapeMismatch { .. })));
    assert!(ev.reshape(&a, &[3]).is_err());
    assert!(ev.gather(&a, &[Some(5)], &[1]).is_err());
    assert!(ev.sum_groups(&b, 2, &[1]).is_err());
    assert!(ev.split(&a, &[1, 2]).is_err());
    // Fixed-point settings between operands (a value from a session with another f).
    let c = other_fx.input(Party::P0, &[1.0, 2.0], &[2]).unwrap();
    let e = ev.add(&a, &c).unwrap_err();
    assert!(matches!(e, MpcError::FixedPointMismatch { left: 16, right: 12, .. }), "{e}");
    assert!(matches!(ev.mul(&a, &c), Err(MpcError::FixedPointMismatch { .. })));
    // Scales: adding an untruncated product, truncating a bit, overflowing the ring.
    let p = ev.mul_raw(&a, &a).unwrap();
    let e = ev.add(&p, &a).unwrap_err();
    assert!(matches!(e, MpcError::ScaleMismatch { left: 32, right: 16, .. }), "{e}");
    let bit = ev.ltz(&a).unwrap();
    assert!(matches!(ev.truncate(&bit), Err(MpcError::TruncateBelowScale { scale: 0, frac_bits: 16 })));
    assert!(matches!(ev.mul_raw(&p, &p), Err(MpcError::ScaleOverflow { scale: 64, .. })));
    assert!(recipes::polynomial(ev, &p, &[1.0, 2.0]).is_err());
    // A piecewise approximation encoded with another f.
    let pw = activation_approx::PiecewisePoly::new(
        activation_approx::Tail::Zero,
        vec![-1.0, 1.0],
        vec![activation_approx::Polynomial::new(vec![0.5, 0.5])],
        activation_approx::Tail::Identity,
    )
    .unwrap();
    let enc12 = pw.encode(&FixedPoint::new(12).unwrap()).unwrap();
    assert!(matches!(recipes::piecewise(ev, &a, &enc12), Err(MpcError::FixedPointMismatch { left: 16, right: 12, .. })));
    let mut broken = pw.encode(&FixedPoint::default()).unwrap();
    broken.segments.pop();
    assert!(matches!(recipes::piecewise(ev, &a, &broken), Err(MpcError::InvalidParameter { .. })));
    let mut broken = pw.encode(&FixedPoint::default()).unwrap();
    broken.max_degree = 0;
    assert!(matches!(recipes::piecewise(ev, &a, &broken), Err(MpcError::InvalidParameter { .. })));
    // Layers.
    let img = ev.input(Party::P0, &[0.0; 16], &[1, 4, 4]).unwrap();
    let w = ev.input(Party::P0, &[0.0; 9], &[1, 1, 3, 3]).unwrap();
    assert!(nn::conv2d(ev, &img, &w, None, Conv2dConfig { kh: 5, kw: 5, stride: 1, padding: 0 }).is_err());
    assert!(nn::conv2d(ev, &a, &w, None, Conv2dConfig { kh: 3, kw: 3, stride: 1, padding: 0 }).is_err());
    assert!(nn::max_pool2d(ev, &img, Conv2dConfig { kh: 2, kw: 2, stride: 0, padding: 0 }).is_err());
    assert!(nn::max_pool2d(ev, &img, Conv2dConfig { kh: 2, kw: 2, stride: 2, padding: 1 }).is_err());
    assert!(ev.concat(&[]).is_err());
}

#[test]
fn bad_input_is_an_error_on_every_evaluator() {
    let f12 = FixedPoint::new(12).unwrap();
    for t in [Truncation::Local, Truncation::DealerPair] {
        let mut s = Session::new(SessionConfig { truncation: t, ..Default::default() });
        let mut s12 = Session::new(SessionConfig { fx: f12, truncation: t, seed: 1 });
        bad_inputs(&mut s, &mut s12);
    }
    bad_inputs(&mut PlainEvaluator::new(FixedPoint::default()), &mut PlainEvaluator::new(f12));
    bad_inputs(
        &mut CostEvaluator::new(FixedPoint::default(), Truncation::Local),
        &mut CostEvaluator::new(f12, Truncation::Local),
    );
}

#[test]
fn errors_read_as_one_line_with_a_way_out() {
    let mut s = Session::new(SessionConfig::default());
    let a = s.input(Party::P0, &[1.0], &[1]).unwrap();
    let p = s.mul_raw(&a, &a).unwrap();
    let msg = s.add(&p, &a).unwrap_err().to_string();
    assert!(!msg.contains('\n') && msg.contains("truncate"), "{msg}");
}
