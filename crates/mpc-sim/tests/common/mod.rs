//! Shared test helpers: the one check function, input generators, piecewise fixtures.
#![allow(dead_code, missing_docs, unreachable_pub, clippy::unwrap_used)]

use activation_approx::{FixedPoint, PiecewisePoly, Polynomial, Tail, Truncation};
use mpc_sim::{Cost, CostEvaluator, Evaluator, Party, PlainEvaluator, Session, SessionConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub const TRUNCS: [Truncation; 2] = [Truncation::Local, Truncation::DealerPair];

/// A protocol written once against the evaluator trait.
pub trait Proto {
    fn run<E: Evaluator>(&self, ev: &mut E, xs: &[E::Value]) -> mpc_sim::Result<E::Value>;
}

#[macro_export]
macro_rules! proto {
    ($name:ident, |$ev:ident, $x:ident| $body:expr) => {
        struct $name;
        impl $crate::common::Proto for $name {
            fn run<E: mpc_sim::Evaluator>(&self, $ev: &mut E, $x: &[E::Value]) -> mpc_sim::Result<E::Value> {
                $body
            }
        }
    };
}

/// One operand: ring elements at scale f and a shape.
pub type Operand = (Vec<i64>, Vec<usize>);

/// The one check function: for both truncation protocols, reveal(secure) must equal the plaintext fixed-point run
/// within `tol(plain value)` LSBs, and the metered cost must equal both the cost evaluator's and `expected(t)`.
pub fn check<P: Proto>(
    name: &str,
    p: &P,
    operands: &[Operand],
    tol: impl Fn(i64) -> i64,
    expected: impl Fn(Truncation) -> Cost,
) {
    let fx = FixedPoint::default();
    for t in TRUNCS {
        let mut s = Session::new(SessionConfig { fx, truncation: t, seed: 11 });
        let xs: Vec<_> = operands.iter().map(|(v, sh)| s.input_raw(Party::P0, v, sh, fx.frac_bits).unwrap()).collect();
        s.reset_meter();
        let y = p.run(&mut s, &xs).unwrap_or_else(|e| panic!("{name}: {e}"));
        let metered = s.total().cost();
        let got = s.reveal_raw(&y).unwrap();

        let mut pe = PlainEvaluator::new(fx);
        let xp: Vec<_> = operands.iter().map(|(v, sh)| pe.input_raw(Party::P0, v, sh, fx.frac_bits).unwrap()).collect();
        let yp = p.run(&mut pe, &xp).unwrap();
        assert_eq!(Session::meta(&y), PlainEvaluator::meta(&yp), "{name}: meta");
        let want = pe.reveal_raw(&yp).unwrap();

        let mut ce = CostEvaluator::new(fx, t);
        let xc: Vec<_> = operands.iter().map(|(v, sh)| ce.input_raw(Party::P0, v, sh, fx.frac_bits).unwrap()).collect();
        ce.reset_meter();
        p.run(&mut ce, &xc).unwrap();
        assert_eq!(metered, ce.total().cost(), "{name} {t:?}: metered vs cost evaluator");
        assert_eq!(metered, expected(t), "{name} {t:?}: metered vs expected");

        let mut worst = 0;
        for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
            let d = g.wrapping_sub(w).abs();
            assert!(d <= tol(w), "{name} {t:?}: element {i}: secure {g} vs plain {w} (|diff| {d} > {})", tol(w));
            worst = worst.max(d);
        }
        eprintln!("{name:>14} {t:?}: {} elements, max |secure − plain| = {worst} LSB, cost {metered:?}", got.len());
    }
}

/// Encoded test inputs in [−max_abs, max_abs]: 0, ±1 LSB, ±max_abs, ±(max_abs − 1 LSB), uniform and N(0, 1).
pub fn inputs(n: usize, max_abs: f64, seed: u64) -> Vec<i64> {
    let fx = FixedPoint::default();
    let m = fx.encode(max_abs).unwrap();
    let mut v = vec![0, 1, -1, m, -m, m - 1, -(m - 1)];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    while v.len() < n {
        let x = if v.len() % 2 == 0 { rng.random_range(-m..=m) } else { fx.encode(normal(&mut rng).clamp(-max_abs, max_abs)).unwrap() };
        v.push(x);
    }
    v.truncate(n);
    v
}

/// A standard normal draw (Box–Muller).
pub fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// PUMA's GeLU spline (`docs/cost-model.md`).
pub fn puma_gelu() -> PiecewisePoly {
    let a = vec![-0.5054031199708174, -0.42226581151983866, -0.11807612951181953, -0.011034134030615728];
    let b = vec![0.008526321541038084, 0.5, 0.3603292692789629, 0.0, -0.037688200365904236, 0.0, 0.0018067462606141187];
    PiecewisePoly::new(Tail::Zero, vec![-4.0, -1.95, 3.0], vec![Polynomial::new(a), Polynomial::new(b)], Tail::Identity)
        .unwrap()
}

/// A 3-piece degree-8 piecewise polynomial (SiLU-like shape on [−6, 6], zero / identity tails).
pub fn three_piece_deg8() -> PiecewisePoly {
    let mk = |c: f64, s: f64| {
        let mut v = vec![c, 0.5, s, 0.0, -s / 20.0, 0.0, s / 600.0, 0.0, -s / 40000.0];
        v[3] = 1e-4;
        Polynomial::new(v)
    };
    PiecewisePoly::new(Tail::Zero, vec![-6.0, -2.0, 2.0, 6.0], vec![mk(0.02, 0.2), mk(0.0, 0.23), mk(-0.01, 0.2)], Tail::Identity)
        .unwrap()
}

/// A random piecewise polynomial: 2..=6 breakpoints in [−8, 8], degrees 0..=8, random tails.
pub fn random_piecewise(rng: &mut ChaCha8Rng) -> PiecewisePoly {
    let nb = rng.random_range(2..=6);
    let mut bps: Vec<f64> = (0..nb).map(|_| rng.random_range(-8.0..8.0)).collect();
    bps.sort_by(f64::total_cmp);
    for i in 1..bps.len() {
        if bps[i] <= bps[i - 1] + 0.05 {
            bps[i] = bps[i - 1] + 0.05;
        }
    }
    let pieces = (0..nb - 1)
        .map(|_| {
            let d = rng.random_range(0..=8);
            Polynomial::new((0..=d).map(|j| rng.random_range(-1.0..1.0) / 8f64.powi(j)).collect())
        })
        .collect();
    let tail = |rng: &mut ChaCha8Rng| match rng.random_range(0..4) {
        0 => Tail::Zero,
        1 => Tail::Identity,
        2 => Tail::Constant { value: rng.random_range(-1.0..1.0) },
        _ => Tail::Linear { slope: rng.random_range(-1.0..1.0), intercept: rng.random_range(-1.0..1.0) },
    };
    let left = tail(rng);
    let right = tail(rng);
    PiecewisePoly::new(left, bps, pieces, right).unwrap()
}
