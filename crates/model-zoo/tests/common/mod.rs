//! Fixtures shared by the model-zoo integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use activation_approx::ActivationRegistry;
use model_zoo::{Arch, ExportedModel, ModelActivation, ModelConfig, Network, Task};
use secure_methods::{BuildContext, MethodRegistry, SecureMethod};

/// A registered method for `act`, built for a N(0, 1) density.
pub(crate) fn method(name: &str, act: &str) -> Box<dyn SecureMethod> {
    let ctx = BuildContext::new(act).unwrap().with_density("normal:0,1");
    MethodRegistry::builtin().build(name, &ctx).unwrap()
}

/// An untrained network of `arch` (seeded), exported with BatchNorm folded.
pub(crate) fn network(arch: Arch, task: Task, act: &str, seed: u64) -> ExportedModel {
    let reg = ActivationRegistry::builtin();
    let cfg = ModelConfig { task, arch, activation: act.into() };
    let net = Network::new(cfg, ModelActivation::resolve(act, &reg).unwrap(), seed).unwrap();
    net.export_folded().unwrap()
}
