//! Benchmarks of the FSS backend: DCF key generation and evaluation, and the 3-piece degree-1 spline gate on 2^20
//! elements (key generation, i.e. the dealer's work, measured separately from the online phase).
//!
//! Run with `cargo bench -p mpc-sim --bench fss` (on a quiet machine; the figures depend on AES-NI).

use activation_approx::{FixedPoint, PiecewisePoly, Polynomial, Tail};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use mpc_sim::fss::dcf::{self, DcfShape, Prg};
use mpc_sim::fss::spline_payload;
use mpc_sim::{Evaluator, FssConfig, FssSession, Party, SessionConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const KEYS: usize = 4096;
const GATE: usize = 1 << 20;

fn compact_like() -> PiecewisePoly {
    PiecewisePoly::new(Tail::Zero, vec![-3.0, 3.0], vec![Polynomial::new(vec![0.4, 0.45])], Tail::Identity)
        .expect("a valid 3-piece spline")
}

fn bench_dcf(c: &mut Criterion) {
    let prg = Prg::new();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut g = c.benchmark_group("dcf");
    g.throughput(Throughput::Elements(KEYS as u64));
    for (bits, k) in [(64u32, 1usize), (64, 2), (32, 2)] {
        let shape = DcfShape { bits, payload: k };
        let alphas: Vec<u64> = (0..KEYS).map(|_| rng.random()).collect();
        let betas: Vec<u64> = (0..KEYS * k).map(|_| rng.random()).collect();
        g.bench_function(format!("gen/n{bits}/k{k}"), |b| {
            let mut r = ChaCha8Rng::seed_from_u64(2);
            b.iter(|| dcf::keygen(&prg, shape, &alphas, &betas, &mut r))
        });
        let (k0, _, _) = dcf::keygen(&prg, shape, &alphas, &betas, &mut rng);
        let xs: Vec<u64> = (0..KEYS).map(|_| rng.random()).collect();
        let mut out = vec![0u64; KEYS * k];
        g.bench_function(format!("eval/n{bits}/k{k}"), |b| b.iter(|| dcf::eval(&prg, &k0, &xs, &mut out)));
    }
    g.finish();
}

fn bench_gate(c: &mut Criterion) {
    let fx = FixedPoint::default();
    let pw = compact_like().encode(&fx).expect("encodable");
    let mut g = c.benchmark_group("fss_spline_3piece_deg1");
    g.sample_size(10);
    g.throughput(Throughput::Elements(GATE as u64));
    let xs: Vec<f64> = {
        let mut r = ChaCha8Rng::seed_from_u64(3);
        (0..GATE).map(|_| r.random_range(-6.0..6.0)).collect()
    };
    // Whole gate: dealing (offline) + opening + regeneration of the keys chunk by chunk + evaluation.
    g.bench_function("gate_total_2^20", |b| {
        b.iter_batched(
            || {
                let mut s = FssSession::new(FssConfig { session: SessionConfig::default(), bits: 64 }).expect("valid bits");
                let x = s.input(Party::P0, &xs, &[GATE]).expect("in range");
                (s, x)
            },
            |(mut s, x)| s.piecewise(&x, &pw).expect("gate runs"),
            BatchSize::PerIteration,
        )
    });
    g.finish();
    // Key generation alone (the dealer's share of the gate's work): 3 DCF key pairs per element, with the gate's
    // payload (the fused gate: 3 words).
    let mut g = c.benchmark_group("fss_spline_3piece_deg1_keygen");
    g.sample_size(10);
    g.throughput(Throughput::Elements(GATE as u64));
    let prg = Prg::new();
    let k = spline_payload(&pw);
    let shape = DcfShape { bits: 64, payload: k };
    let alphas: Vec<u64> = (0..KEYS).map(|i| i as u64 * 7919).collect();
    let betas = vec![1u64; KEYS * k];
    g.bench_function("keygen_2^20", |b| {
        b.iter(|| {
            use rayon::prelude::*;
            (0..GATE / KEYS).into_par_iter().for_each(|ci| {
                let mut r = ChaCha8Rng::seed_from_u64(ci as u64);
                for _ in 0..3 {
                    let _ = dcf::keygen(&prg, shape, &alphas, &betas, &mut r);
                }
            })
        })
    });
    // Online evaluation alone: both parties evaluate 3 keys per element (keys of one 4096-element chunk, reused
    // across the 256 chunks so that 2^20 elements' keys need not sit in memory; the work per element is the same).
    let (keys0, keys1): (Vec<_>, Vec<_>) = (0..3)
        .map(|i| {
            let mut r = ChaCha8Rng::seed_from_u64(10 + i);
            let (a, b, _) = dcf::keygen(&prg, shape, &alphas, &betas, &mut r);
            (a, b)
        })
        .unzip();
    let zs: Vec<u64> = (0..KEYS).map(|i| (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).collect();
    g.bench_function("online_eval_2^20", |b| {
        b.iter(|| {
            use rayon::prelude::*;
            (0..GATE / KEYS).into_par_iter().for_each(|_| {
                let mut out = vec![0u64; KEYS * k];
                for k in keys0.iter().chain(&keys1) {
                    dcf::eval(&prg, k, &zs, &mut out);
                }
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench_dcf, bench_gate);
criterion_main!(benches);
