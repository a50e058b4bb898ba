//! Criterion benches on 2^20 elements, dealer work included (the dealer runs inside every protocol call).
//! Run: `nice cargo bench -p mpc-sim --bench protocols -- --warm-up-time 1 --measurement-time 3`.
#![allow(missing_docs)]

use activation_approx::{FixedPoint, PiecewisePoly, Polynomial, Tail};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mpc_sim::{Evaluator, Party, Session, SessionConfig, Truncation, recipes};

const N: usize = 1 << 20;

fn puma_gelu() -> PiecewisePoly {
    let a = vec![-0.5054031199708174, -0.42226581151983866, -0.11807612951181953, -0.011034134030615728];
    let b = vec![0.008526321541038084, 0.5, 0.3603292692789629, 0.0, -0.037688200365904236, 0.0, 0.0018067462606141187];
    PiecewisePoly::new(Tail::Zero, vec![-4.0, -1.95, 3.0], vec![Polynomial::new(a), Polynomial::new(b)], Tail::Identity)
        .expect("valid spline")
}

fn three_piece_deg8() -> PiecewisePoly {
    let p = |c: f64| Polynomial::new(vec![c, 0.5, 0.2, 1e-4, -0.01, 0.0, 3e-4, 0.0, -5e-6]);
    PiecewisePoly::new(Tail::Zero, vec![-6.0, -2.0, 2.0, 6.0], vec![p(0.02), p(0.0), p(-0.01)], Tail::Identity)
        .expect("valid spline")
}

fn inputs() -> Vec<f64> {
    (0..N).map(|i| ((i as f64 * 0.618_033_988_7).fract() - 0.5) * 12.0).collect()
}

fn bench(c: &mut Criterion) {
    let fx = FixedPoint::default();
    let xs = inputs();
    let mut g = c.benchmark_group("2^20 elements");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    for t in [Truncation::Local, Truncation::DealerPair] {
        let mut s = Session::new(SessionConfig { fx, truncation: t, seed: 1 });
        let x = s.input(Party::P0, &xs, &[N]).expect("inputs encode");
        let tag = match t {
            Truncation::Local => "local",
            Truncation::DealerPair => "dealer",
        };
        g.bench_function(format!("mul/{tag}"), |b| b.iter(|| s.mul(&x, &x).expect("mul")));
        if t == Truncation::Local {
            g.bench_function("ltz", |b| b.iter(|| s.ltz(&x).expect("ltz")));
        }
        if t == Truncation::DealerPair {
            // The piecewise benches take ~10 s per iteration on the shared machine; the dealer-pair variants are
            // covered by `cargo run --release --example throughput`.
            continue;
        }
        let gelu = puma_gelu().encode(&fx).expect("encodes");
        g.bench_function(format!("puma_gelu/{tag}"), |b| b.iter(|| recipes::piecewise(&mut s, &x, &gelu).expect("gelu")));
        let p8 = three_piece_deg8().encode(&fx).expect("encodes");
        g.bench_function(format!("3piece_deg8/{tag}"), |b| b.iter(|| recipes::piecewise(&mut s, &x, &p8).expect("pw")));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
