//! The secure forward pass of `model_zoo::secure` on the FSS backend (`mpc_sim::FssSession`): it is generic over
//! `Evaluator`, so it runs unchanged; metered == `FssCostEvaluator`, logits == the plaintext twin within the
//! truncation noise. The piecewise methods call `Evaluator::piecewise`, so every activation is one FSS spline gate.

#![allow(clippy::unwrap_used)]

mod common;
use common::{method, network};

use activation_approx::{FixedPoint, Truncation};
use model_zoo::secure::SecureModel;
use model_zoo::{Arch, Task};
use mpc_sim::{CostEvaluator, FssConfig, FssCostEvaluator, FssSession, PlainEvaluator, SessionConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[test]
fn depth_8_mlp_forward_pass_runs_on_the_fss_session() {
    let model = network(Arch::Mlp { input: 784, width: 128, depth: 8, classes: 10 }, Task::Mnist, "silu", 5);
    let fx = FixedPoint::default();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let b = 4;
    let feats: Vec<f32> = (0..b * 784).map(|_| rng.random_range(0.0f32..1.0)).collect();
    for name in ["compact", "puma"] {
        let m = method(name, "silu");
        // The run's truncation, the same for every method (like for like).
        let t = Truncation::Local;
        let mut s = FssSession::new(FssConfig { session: SessionConfig { fx, truncation: t, seed: 3 }, bits: 64 }).unwrap();
        let sm = SecureModel::share(&mut s, &model).unwrap();
        let setup = s.total();
        let got = sm.infer(&mut s, m.as_ref(), &feats, b).unwrap();
        let online = s.total().rounds - setup.rounds;

        let mut c = FssCostEvaluator::new(fx, t, 64).unwrap();
        let smc = SecureModel::share(&mut c, &model).unwrap();
        smc.infer(&mut c, m.as_ref(), &vec![0.0; b * 784], b).unwrap();
        assert_eq!(s.cost(), c.cost(), "{name}: metered vs FSS cost evaluator (rounds, bytes, AES calls)");

        let mut bc = CostEvaluator::new(fx, t);
        let smb = SecureModel::share(&mut bc, &model).unwrap();
        let bsetup = bc.total();
        smb.infer(&mut bc, m.as_ref(), &vec![0.0; b * 784], b).unwrap();
        let beaver_online = bc.total().rounds - bsetup.rounds;

        let mut pe = PlainEvaluator::new(fx);
        let smp = SecureModel::share(&mut pe, &model).unwrap();
        let want = smp.infer(&mut pe, m.as_ref(), &feats, b).unwrap();
        let worst = got.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0.0, f64::max);
        eprintln!("{name}: online rounds per inference FSS {online} vs Beaver {beaver_online}; max |Δ logit| {worst:.2e}");
        assert!(worst < 2e-2, "{name}: secure vs plaintext logits differ by {worst}");
        assert!(online < beaver_online, "{name}: FSS {online} rounds vs Beaver {beaver_online}");
    }
}

/// `evaluate_secure` with `Backend::Fss`: the set-up once, batches in forks of the FSS session, metered == predicted
/// (AES calls included), secure == plaintext, fewer rounds and a lower WAN latency than the Beaver backend.
#[test]
fn evaluate_secure_runs_on_the_fss_backend() {
    use model_zoo::data::Dataset;
    use model_zoo::secure::{Backend, SecureOptions, evaluate_secure, predict_cost_on};
    let model = network(Arch::Mlp { input: 16, width: 12, depth: 3, classes: 4 }, Task::Letter, "gelu", 3);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let n = 12;
    let data = Dataset {
        features: (0..n * 16).map(|_| rng.random_range(0.0f32..1.0)).collect(),
        labels: (0..n).map(|i| i as u32 % 4).collect(),
        sample_shape: vec![16],
    };
    let m = method("puma", "gelu");
    let opts = SecureOptions { batch: 5, seed: 1, truncation: Truncation::Local, backend: Backend::Fss, ..SecureOptions::default() };
    let r = evaluate_secure(&model, m.as_ref(), &data, n, &opts).unwrap();
    assert_eq!(r.backend, Backend::Fss);
    assert_eq!(r.metered, r.predicted);
    assert!(r.metered.aes_calls > mpc_sim::Count::ZERO);
    assert!(r.max_logit_diff < 2e-2, "secure vs plaintext logits differ by {}", r.max_logit_diff);
    assert_eq!(r.agreement, 1.0);
    let b = predict_cost_on(&model, m.as_ref(), opts.fx, opts.truncation, Backend::Beaver).unwrap();
    assert_eq!(b.aes_calls, mpc_sim::Count::ZERO);
    assert!(r.metered.total.rounds < b.total.rounds, "FSS {:?} vs Beaver {:?}", r.metered.total, b.total);
    let wan = |c: &mpc_sim::Cost| mpc_sim::Network::WAN.latency_s(c);
    assert!(wan(&r.metered.total) < wan(&b.total));
    // serde snake_case names.
    assert_eq!(serde_json::to_string(&Backend::Fss).unwrap(), "\"fss\"");
    assert_eq!("beaver".parse::<Backend>().unwrap(), Backend::Beaver);
    assert!("bevaer".parse::<Backend>().is_err());
}
