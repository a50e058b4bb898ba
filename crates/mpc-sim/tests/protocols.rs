//! Every protocol through the one check function: reveal(secure) vs the plaintext fixed-point run, and the metered
//! cost vs the predictor. Valid input ranges per protocol (the "range limit" tested at its edge):
//! local ops and comparisons: the whole encodable range |x| < 2^(63−f); products: |x·y| < 2^(62−2f)... here
//! |x| ≤ 64; squarings chains (exp): the inputs listed.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use activation_approx::{FixedPoint, Truncation};
use common::{Operand, check, inputs};
use mpc_sim::nn::{self, Conv2dConfig};
use mpc_sim::{Cost, CostEvaluator, Evaluator, Party, Session, SessionConfig, predict, recipes};

const N: usize = 2000;

fn ops(k: usize, max_abs: f64) -> Vec<Operand> {
    (0..k).map(|i| (inputs(N, max_abs, 100 + i as u64), vec![N])).collect()
}

fn zero(_: Truncation) -> Cost {
    Cost::ZERO
}

/// The largest magnitude that encodes at f = 16, less one LSB.
fn range_limit() -> f64 {
    FixedPoint::default().limit() - 1.0
}

proto!(Add, |ev, x| ev.add(&x[0], &x[1]));
proto!(Sub, |ev, x| ev.sub(&x[0], &x[1]));
proto!(Neg, |ev, x| ev.neg(&x[0]));
proto!(AddPublic, |ev, x| ev.add_public(&x[0], -0.75));
proto!(MulInt, |ev, x| ev.mul_int(&x[0], -3));
proto!(MulPublic, |ev, x| ev.mul_public(&x[0], 1.7));
proto!(Mul, |ev, x| ev.mul(&x[0], &x[1]));
proto!(Square, |ev, x| ev.square(&x[0]));
proto!(Trunc, |ev, x| {
    let p = ev.mul_public_raw(&x[0], 0.3)?;
    ev.truncate(&p)
});
proto!(Ltz, |ev, x| ev.ltz(&x[0]));
proto!(GePublic, |ev, x| ev.ge_public(&x[0], 0.5));
proto!(Select, |ev, x| {
    let c = ev.ltz(&x[0])?;
    ev.select(&c, &x[1], &x[2])
});
proto!(Relu, |ev, x| ev.relu(&x[0]));
proto!(Max, |ev, x| ev.max(&x[0], &x[1]));
proto!(Abs, |ev, x| ev.abs(&x[0]));
proto!(Poly4, |ev, x| recipes::polynomial(ev, &x[0], &[0.5, -1.0, 0.25, 0.1, -0.01]));
proto!(Exp, |ev, x| recipes::exp_limit(ev, &x[0], 8));
proto!(Recip, |ev, x| {
    let r0 = ev.mul_public(&x[0], 0.0)?;
    let r0 = ev.add_public(&r0, 0.4)?;
    recipes::reciprocal_newton(ev, &x[0], &r0, 10)
});
proto!(Reveal, |ev, x| {
    let v = ev.reveal_raw(&x[0])?;
    ev.input_raw(Party::P0, &v, &[v.len()], 16)
});
proto!(MatMul, |ev, x| ev.matmul(&x[0], &x[1]));
// W masked once, then two products against it (a model's weights against two batches).
proto!(MatMulFixed, |ev, x| {
    let w = ev.fix_right(&x[1])?;
    let p = ev.matmul_fixed(&x[0], &w)?;
    let q = ev.matmul_fixed(&x[2], &w)?;
    ev.concat(&[&p, &q])
});
proto!(RevealToP1, |ev, x| {
    let v = ev.reveal_to_raw(&x[0], mpc_sim::Party::P1)?;
    // Only P1 learnt v, so P1 shares it again.
    ev.input_raw(Party::P1, &v, &[v.len()], 16)
});
proto!(MatMulPublic, |ev, x| {
    let w: Vec<i64> = (0..18).map(|i| (i as i64 - 9) * 3000).collect();
    let p = ev.matmul_public_raw(&x[0], &w, 3, 16)?;
    ev.truncate(&p)
});
proto!(Conv, |ev, x| nn::conv2d(ev, &x[0], &x[1], Some(&x[2]), Conv2dConfig { kh: 3, kw: 3, stride: 1, padding: 1 }));
proto!(AvgPool, |ev, x| nn::avg_pool2d(ev, &x[0], Conv2dConfig { kh: 2, kw: 2, stride: 2, padding: 0 }));
proto!(MaxPool, |ev, x| nn::max_pool2d(ev, &x[0], Conv2dConfig { kh: 3, kw: 3, stride: 2, padding: 0 }));

fn tr(n: usize) -> impl Fn(Truncation) -> Cost {
    move |t| predict::truncate(n, t)
}

#[test]
fn local_operations_are_exact_and_free() {
    let lim = range_limit() / 4.0;
    check("add", &Add, &ops(2, lim), |_| 0, zero);
    check("sub", &Sub, &ops(2, lim), |_| 0, zero);
    check("neg", &Neg, &ops(1, range_limit()), |_| 0, zero);
    check("add_public", &AddPublic, &ops(1, lim), |_| 0, zero);
    check("mul_int", &MulInt, &ops(1, lim), |_| 0, zero);
}

#[test]
fn products_and_truncation() {
    // Both truncations give floor + e, e ∈ {0, 1}: 1 LSB.
    check("mul_public", &MulPublic, &ops(1, 2f64.powi(20)), |_| 1, tr(N));
    check("truncate", &Trunc, &ops(1, 2f64.powi(20)), |_| 1, tr(N));
    check("mul", &Mul, &ops(2, 64.0), |_| 1, |t| predict::mul(N).then(predict::truncate(N, t)));
    check("square", &Square, &ops(1, 64.0), |_| 1, |t| predict::square(N).then(predict::truncate(N, t)));
}

#[test]
fn comparisons_are_exact_on_the_whole_range() {
    let mut extreme = ops(1, range_limit());
    // Raw ring extremes, beyond what encodes: LTZ is exact on all of Z_{2^64}.
    extreme[0].0[..6].copy_from_slice(&[i64::MIN, i64::MAX, i64::MIN + 1, -1, 1, 1 << 62]);
    check("ltz", &Ltz, &extreme, |_| 0, |_| predict::ltz(N));
    check("ge_public", &GePublic, &ops(1, range_limit() / 2.0), |_| 0, |_| predict::ltz(N));
    check("select", &Select, &ops(3, range_limit() / 4.0), |_| 0, |_| predict::ltz(N).then(predict::mul(N)));
    check("relu", &Relu, &ops(1, range_limit()), |_| 0, |_| predict::ltz(N).then(predict::mul(N)));
    check("max", &Max, &ops(2, range_limit() / 4.0), |_| 0, |_| predict::ltz(N).then(predict::mul(N)));
    check("abs", &Abs, &ops(1, range_limit() / 4.0), |_| 0, |_| predict::ltz(N).then(predict::mul(N)));
}

#[test]
fn reveal_costs_one_round() {
    // Each is followed by sharing the opened value again (1 round, 8 B per element from its owner): the reveal
    // costs both parties 8 B, then P0 sends 8 B more; the reveal to P1 costs P0 8 B, then P1 sends 8 B.
    check("reveal", &Reveal, &ops(1, range_limit()), |_| 0, |_| predict::reveal(N).then(predict::input(N)));
    check("reveal_to", &RevealToP1, &ops(1, range_limit()), |_| 0, |_| Cost::communication(2, 8 * N as u64, 0));
    // Only the sender's bytes move: opening to P1 costs P0 8 B per element and P1 nothing, in both evaluators.
    let mut s = Session::new(SessionConfig::default());
    let x = s.input(Party::P0, &[1.5, -2.0, 3.25], &[3]).unwrap();
    s.reset_meter();
    assert_eq!(s.reveal_to_raw(&x, mpc_sim::Party::P1).unwrap(), vec![98304, -131072, 212992]);
    assert_eq!(s.total().bytes, [24, 0]);
    let mut c = CostEvaluator::new(FixedPoint::default(), Truncation::Local);
    let y = c.input(Party::P0, &[1.5, -2.0, 3.25], &[3]).unwrap();
    c.reset_meter();
    c.reveal_to_raw(&y, mpc_sim::Party::P1).unwrap();
    assert_eq!(c.total().bytes, [24, 0]);
}

#[test]
fn input_sharing_is_metered_on_its_owner() {
    // The owner sends the other party its share: 1 round, 8 B per element, from the owner only; the session meters
    // it and the cost evaluator predicts exactly the same counters, label by label.
    let fx = FixedPoint::default();
    let xs = [1.5, -2.0, 3.25, 0.0, 7.75];
    for t in common::TRUNCS {
        let mut s = Session::new(SessionConfig { fx, truncation: t, seed: 3 });
        let mut c = CostEvaluator::new(fx, t);
        let (a, b) = (s.scope("client", |s| s.input(Party::P0, &xs, &[5])).unwrap(), s.scope("server", |s| s.input(Party::P1, &xs[..2], &[2])).unwrap());
        c.scope("client", |c| c.input(Party::P0, &xs, &[5])).unwrap();
        c.scope("server", |c| c.input(Party::P1, &xs[..2], &[2])).unwrap();
        assert_eq!(s.channel().label("client").unwrap().bytes, [40, 0]);
        assert_eq!(s.channel().label("server").unwrap().bytes, [0, 16]);
        assert_eq!(s.total().rounds, 2);
        assert_eq!(s.total(), c.total(), "{t:?}");
        assert_eq!(s.channel().by_label(), c.channel().by_label(), "{t:?}");
        // The shares are right and the receiver's share is the owner's message.
        assert_eq!(s.reveal(&a).unwrap(), xs.to_vec());
        assert_eq!(s.reveal(&b).unwrap(), xs[..2].to_vec());
    }
}

#[test]
fn power_tree_polynomial_exp_reciprocal() {
    // Degree 4 on |x| ≤ 4: bound from mpc_sim::bounds: δ2 ≤ 1, δ3 ≤ 6, δ4 ≤ 34 → output ≤ 8 LSB.
    // Powers x², x³, x⁴ in two levels (x² square; x³ product and x⁴ square side by side), then the final truncation.
    check("poly4", &Poly4, &ops(1, 4.0), |_| 8, |t| {
        let l1 = predict::square(N).then(predict::truncate(N, t));
        let l2 = predict::mul(N).then(predict::truncate(N, t)).par(predict::square(N).then(predict::truncate(N, t)));
        l1.then(l2).then(predict::truncate(N, t))
    });
    // exp by n = 8 squarings on [−4, 1]: an error δ in y_k becomes ≤ 2·y_k·δ + 1 after a squaring, so with
    // y_k = y^(2^(k−n)) the final error is ≤ Σ_k 2^(n−k)·y/y_k ≤ 2^(n+1)·(y + 1) LSB.
    let xs: Vec<i64> = inputs(N, 1.0, 5).into_iter().map(|v| v * 5 / 2 - 98304).collect();
    check("exp", &Exp, &[(xs, vec![N])], |w| 512 * (w / 65536 + 1), |t| {
        let sq = predict::square(N).then(predict::truncate(N, t));
        (0..8).fold(predict::truncate(N, t), |c, _| c.then(sq))
    });
    // Newton–Raphson on x ∈ [0.5, 4.5] from r0 = 0.4 corrects its own errors: 16 LSB.
    let xs: Vec<i64> = inputs(N, 2.0, 6).into_iter().map(|v| v + 163840).collect();
    check("reciprocal", &Recip, &[(xs, vec![N])], |_| 16, |t| {
        let it = predict::square(N).then(predict::truncate(N, t)).then(predict::mul(N)).then(predict::truncate(N, t));
        (0..10).fold(predict::truncate(N, t), |c, _| c.then(it))
    });
}

#[test]
fn matrices_convolution_pooling() {
    let a = (inputs(4 * 6, 8.0, 1), vec![4, 6]);
    let b = (inputs(6 * 3, 8.0, 2), vec![6, 3]);
    check("matmul", &MatMul, &[a.clone(), b], |_| 1, |t| predict::matmul(4, 6, 3).then(predict::truncate(12, t)));
    // Fixing W (6×3) once and multiplying two batches costs exactly one whole product's bytes per batch minus the
    // repeated opening of W − B.
    let c = (inputs(5 * 6, 8.0, 8), vec![5, 6]);
    check("matmul_fixed", &MatMulFixed, &[a.clone(), (inputs(6 * 3, 8.0, 2), vec![6, 3]), c], |_| 1, |t| {
        predict::fix_right(6, 3)
            .then(predict::matmul_fixed(4, 6, 3))
            .then(predict::truncate(12, t))
            .then(predict::matmul_fixed(5, 6, 3))
            .then(predict::truncate(15, t))
    });
    assert_eq!(
        predict::fix_right(6, 3).then(predict::matmul_fixed(4, 6, 3)).bytes_per_party,
        predict::matmul(4, 6, 3).bytes_per_party
    );
    check("matmul_public", &MatMulPublic, &[(inputs(4 * 6, 8.0, 3), vec![4, 6])], |_| 1, tr(12));
    // conv: x [2, 5, 5], w [4, 2, 3, 3], bias [4]; im2col [25, 18] · [18, 4].
    let x = (inputs(50, 4.0, 4), vec![2, 5, 5]);
    let w = (inputs(72, 1.0, 5), vec![4, 2, 3, 3]);
    let bias = (inputs(4, 1.0, 6), vec![4]);
    check("conv2d", &Conv, &[x, w, bias], |_| 1, |t| predict::matmul(25, 18, 4).then(predict::truncate(100, t)));
    let img = (inputs(3 * 8 * 8, 16.0, 7), vec![3, 8, 8]);
    check("avg_pool2d", &AvgPool, std::slice::from_ref(&img), |_| 1, tr(3 * 16));
    // 3×3 windows, stride 2 on 8×8: 3·3·3 = 27 windows, 9 candidates → 4 levels (9→4(+1)=5→2(+1)=3→1(+1)=2→1).
    check("max_pool2d", &MaxPool, &[img], |_| 0, |_| {
        [4usize, 2, 1, 1].iter().fold(Cost::ZERO, |c, &h| c.then(predict::ltz(27 * h).then(predict::mul(27 * h))))
    });
}

#[test]
fn latency_presets() {
    let c = Cost::communication(9, 1_000_000, 0);
    let lan = mpc_sim::Network::LAN.latency_s(&c);
    let wan = mpc_sim::Network::WAN.latency_s(&c);
    assert!((lan - (9.0 * 0.5e-3 + 8e6 / 1e9)).abs() < 1e-12);
    assert!((wan - (9.0 * 40e-3 + 8e6 / 100e6)).abs() < 1e-12);
    let custom = mpc_sim::Network { rtt_s: 0.0, bandwidth_bps: 8.0 };
    assert_eq!(custom.latency_s(&c), 1_000_000.0);
}

#[test]
fn batchnorm_folding_matches_layer_then_norm() {
    let mut w = vec![1.0, -2.0, 0.5, 3.0];
    let mut b = vec![0.1, -0.2];
    let (g, be, mu, var, eps) = ([2.0, 0.5], [0.3, -0.1], [0.05, 1.0], [4.0, 0.25], 1e-5_f64);
    let x = [0.7, -1.3];
    let raw: Vec<f64> = (0..2).map(|o| w[2 * o] * x[0] + w[2 * o + 1] * x[1] + b[o]).collect();
    let bn: Vec<f64> = (0..2).map(|o| (raw[o] - mu[o]) / (var[o] + eps).sqrt() * g[o] + be[o]).collect();
    nn::fold_batchnorm(&mut w, &mut b, &g, &be, &mu, &var, eps).unwrap();
    for o in 0..2 {
        let y = w[2 * o] * x[0] + w[2 * o + 1] * x[1] + b[o];
        assert!((y - bn[o]).abs() < 1e-12);
    }
    assert!(nn::fold_batchnorm(&mut w, &mut b, &g[..1], &be, &mu, &var, eps).is_err());
}

#[test]
fn meter_labels_and_parallel_rounds() {
    use mpc_sim::{Session, SessionConfig};
    let mut s = Session::new(SessionConfig::default());
    let x = s.input(Party::P0, &[1.0; 10], &[10]).unwrap();
    s.reset_meter();
    s.scope("layer1", |s| {
        s.scope("silu", |s| {
            let r = s.parallel(2, |s, i| if i == 0 { s.ltz(&x) } else { s.mul(&x, &x) })?;
            s.mul_raw(&r[0], &r[1])
        })
    })
    .unwrap();
    let tot = s.total();
    assert_eq!(tot.rounds, 9, "max(8, 1) + 1");
    assert_eq!(tot.bytes, [10 * (64 + 16 + 16); 2]);
    let l = s.channel().label("layer1/silu").unwrap();
    assert_eq!((l.rounds, l.bytes), (9, tot.bytes));
    assert_eq!(s.channel().label("layer1").unwrap().rounds, 9);
}
