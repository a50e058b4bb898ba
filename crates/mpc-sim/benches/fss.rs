//! Benchmarks of the FSS backend: DCF key generation and evaluation, and Compact's GELU spline gate (3 pieces,
//! degree ≤ 1, the fused gate) on 2^16 elements — its **online phase** (the opening of the masked input and both
//! parties' key evaluation, keys dealt beforehand) measured apart from the dealer's key generation and from the
//! whole metered session gate.
//!
//! Run with `cargo bench -p mpc-sim --bench fss` (on a quiet machine; the figures depend on AES-NI). Criterion
//! reports elements/s (`thrpt`) for the gate groups. What one "element" of `compact_gelu_2^16/online/*` counts:
//! one activation input evaluated by **both** parties (each party's m = 3 DCF evaluations and its local
//! combination, plus the masked-share addition of the opening), both parties simulated in this one process, the
//! chunks of 4096 elements spread over rayon's pool (one thread per core); the network transfer of the opening
//! (8 B per element and party) is not simulated here. `compact_gelu_2^16/online_one_party/*` counts **one**
//! party's online work per element (party 0 as on its own machine: its masked share, the addition of the message
//! received from party 1 — computed before the timing, never put on a wire — its 3 DCF evaluations and the
//! combination), on the same pool.

use activation_approx::{EncodedPiecewise, FixedPoint, PiecewisePoly, Polynomial, Tail};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use mpc_sim::fss::dcf::{self, DcfShape, Prg};
use mpc_sim::fss::{FusedSplineGate, fused};
use mpc_sim::{Evaluator, FssConfig, FssSession, Party, SessionConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const KEYS: usize = 4096;
const GATE: usize = 1 << 16;

/// Compact's GELU approximation of the Fashion-MNIST CNN (`results/raw/accuracy.jsonl`, key
/// `activation=gelu,method=compact,task=fashion-mnist`): constant left tail, one line, the shifted identity on the
/// right — 3 pieces of degree ≤ 1, 2 of them sloped.
fn compact_gelu() -> EncodedPiecewise {
    PiecewisePoly::new(
        Tail::Constant { value: -0.15027591785045408 },
        vec![-0.26953125, 0.41796875],
        vec![Polynomial::new(vec![0.01062649195789412, 0.5636585367097894])],
        Tail::Linear { slope: 1.0, intercept: -0.15690066158511473 },
    )
    .and_then(|pp| pp.encode(&FixedPoint::default()))
    .expect("a valid, encodable 3-piece spline")
}

fn bench_dcf(c: &mut Criterion) {
    let prg = Prg::new();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut g = c.benchmark_group("dcf");
    g.throughput(Throughput::Elements(KEYS as u64));
    for (bits, k) in [(64u32, 1usize), (64, 2), (64, 3), (32, 2)] {
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
    let pw = compact_gelu();
    let xs: Vec<f64> = {
        let mut r = ChaCha8Rng::seed_from_u64(3);
        (0..GATE).map(|_| r.random_range(-6.0..6.0)).collect()
    };
    let mut g = c.benchmark_group("compact_gelu_2^16");
    g.sample_size(20);
    g.throughput(Throughput::Elements(GATE as u64));
    // n = 64 compares the whole ring; n = 32 is exact for |x| < 2^31 ring units (|x| < 32 768 at f = 16).
    for bits in [64u32, 32] {
        let gate = FusedSplineGate::new(&pw, bits).expect("a fused 3-piece gate");
        let mut s = FssSession::new(FssConfig { session: SessionConfig::default(), bits }).expect("valid bits");
        let x = s.input(Party::P0, &xs, &[GATE]).expect("in range");
        // Online only: the keys of all 2^16 elements dealt once beforehand (≈ 2·3·K(n, 2) bytes per element held
        // in memory, as a party reads them from its key store), then opening + both parties' evaluation.
        let keys = gate.deal(fused::seed_from(u64::from(bits)), GATE);
        g.bench_function(format!("online/n{bits}"), |b| b.iter(|| gate.online(&keys, &x).expect("keys fit")));
        // One party's online phase alone (party 0, as on its own machine): its masked share, the opened y from the
        // message party 1 sent (computed beforehand, not timed), its 3 key evaluations and the combination.
        let from_p1 = gate.masked_share(Party::P1, &keys, &x).expect("keys fit");
        g.bench_function(format!("online_one_party/n{bits}"), |b| {
            b.iter(|| gate.online_party(Party::P0, &keys, &x, &from_p1).expect("keys fit"))
        });
        // The dealer's key generation for the same gate.
        g.bench_function(format!("deal/n{bits}"), |b| b.iter(|| gate.deal(fused::seed_from(7), GATE)));
    }
    // The whole metered session gate (dealing, the metered opening, key regeneration chunk by chunk, evaluation).
    g.bench_function("session_total/n64", |b| {
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
}

criterion_group!(benches, bench_dcf, bench_gate);
criterion_main!(benches);
