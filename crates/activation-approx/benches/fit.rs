//! One annealing fit (default configuration: 4 restarts × 1200 steps, seed 0) of SiLU, GELU and Mish under N(0, 1)
//! with τ = 1e-3 — the "≤ 2 s on this 2-core machine" target of issue 2.
//!
//! Run: `cargo bench -p activation-approx --bench fit -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use activation_approx::{AnnealConfig, Builtin, Criterion, DensitySpec, Fitter, TwoPartyCostModel, anneal};
use criterion::{Criterion as Bench, criterion_group, criterion_main};

fn fit(c: &mut Bench) {
    let model = TwoPartyCostModel::default();
    let crit = Criterion::weighted(DensitySpec::standard_normal(), 1e-3, None).expect("criterion");
    let mut group = c.benchmark_group("anneal_normal01_tol1e-3");
    group.sample_size(10);
    for f in [Builtin::Silu, Builtin::Gelu, Builtin::Mish] {
        group.bench_function(format!("{f:?}").to_lowercase(), |b| {
            b.iter(|| {
                let fitter = Fitter::new(&f, &crit, &model);
                black_box(anneal(&fitter, &AnnealConfig::default()).expect("fit").best.scalar)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, fit);
criterion_main!(benches);
