//! Bit-reproducibility of what the experiment records are computed from: the calibration statistics (which fix
//! Compact's input density) and the accuracies must not depend on how many threads run, or on other work running
//! beside them on the same rayon pool (the sweep evaluates several points at once).

#![allow(clippy::unwrap_used)]

use activation_approx::ActivationRegistry;
use model_zoo::{ActivationPlan, Arch, Dataset, ModelActivation, ModelConfig, Network, Task, activation_statistics, evaluate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

fn data(n: usize, d: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let features = (0..n * d).map(|_| rng.random_range(-2.0f32..2.0)).collect();
    let labels = (0..n).map(|i| (i % 4) as u32).collect();
    Dataset { features, labels, sample_shape: vec![d] }
}

/// Statistics and accuracy as bytes (JSON of the f64 values, which round-trips exactly).
fn fingerprint(net: &Network, train: &Dataset, test: &Dataset) -> String {
    let stats = activation_statistics(net, train, 600, 256, 3).unwrap();
    let acc = evaluate(net, test, &ActivationPlan::Exact, 128).unwrap();
    format!("{}|{acc:e}", serde_json::to_string(&stats).unwrap())
}

#[test]
fn statistics_and_accuracy_do_not_depend_on_threads_or_concurrent_work() {
    let reg = ActivationRegistry::builtin();
    // Wide enough that the matrix products are split across threads.
    let config = ModelConfig { task: Task::Letter, arch: Arch::Mlp { input: 96, width: 384, depth: 3, classes: 4 }, activation: "silu".into() };
    let net = Network::new(config, ModelActivation::resolve("silu", &reg).unwrap(), 5).unwrap();
    let (train, test) = (data(800, 96, 1), data(300, 96, 2));
    let reference = fingerprint(&net, &train, &test);
    // Cross-process check (different RAYON_NUM_THREADS): dump the fingerprint where asked.
    if let Ok(path) = std::env::var("ZOO_DETERMINISM_DUMP") {
        std::fs::write(path, &reference).unwrap();
    }
    assert_eq!(fingerprint(&net, &train, &test), reference, "same thread, twice");
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let got = pool.install(|| fingerprint(&net, &train, &test));
        assert_eq!(got, reference, "{threads} thread(s)");
        // Several evaluations at once on the same pool, as a sweep runs its points.
        let many: Vec<String> = pool.install(|| (0..4).into_par_iter().map(|_| fingerprint(&net, &train, &test)).collect());
        assert!(many.iter().all(|m| *m == reference), "{threads} thread(s), four at once");
    }
}
