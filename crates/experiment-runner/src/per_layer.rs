//! Density-aware approximation **per activation layer** (`compact-per-layer`): Compact's accuracy-constrained search
//! ([`crate::constrained`]) run with each activation layer's own input statistics instead of their pooled mixture,
//! so every layer gets its own approximation.
//!
//! Why: in a transformer the activation input is LayerNorm → Linear, so each layer's input density is learned and
//! differs from layer to layer (no BatchNorm pins it to N(0, 1)); one approximation fitted to the pooled density
//! spends accuracy where no layer needs it. The search:
//!
//! 1. **Candidates per layer.** For layer ℓ, the cost-ordered candidates of [`crate::constrained::candidates`] under
//!    that layer's calibration histogram ([`crate::models::layer_density`]): the annealed structures of the τ ladder
//!    and the two one-comparison forms, cheapest first (the search backend's bytes, then rounds).
//! 2. **Start.** Every layer at its tightest-τ annealed candidate. If that misses ν on validation the point fails
//!    (lower `tau_lo`).
//! 3. **Greedy lowering, one layer at a time.** Each layer proposes its cheapest candidate not yet tried that is
//!    cheaper than its current one; the proposal saving the most bytes per inference
//!    (elements of the layer × (current − proposed bytes per element)) is evaluated on validation with the other
//!    layers at their current choice, and kept if the whole model's validation relative loss stays ≤ ν. A candidate
//!    that missed is never retried. So each (layer, candidate) pair costs at most one validation pass, and a layer
//!    that accepted a candidate has already tried (and lost) every cheaper one.
//! 4. **Stop** when no layer has an untried cheaper candidate: `cheapest_admissible` if every layer ended on its
//!    cheapest candidate, `constraint_binds` otherwise (some cheaper candidate missed ν). Every trial is recorded
//!    with its layer and whether it was kept.
//!
//! The point is priced as the sum over layers of (elements of the layer × that layer's per-element cost), on both
//! backends. In the accuracy experiment the per-inference costs are the cost evaluators' *predictions*: the
//! inference predicted with each layer's method, each activation layer's entry taken from its own method's
//! prediction ([`combine_per_layer`]). The secure experiment runs the same search (through
//! [`crate::constrained::choose_method`]) and then the secure forward pass with each layer's method
//! (`model_zoo::secure::MethodPlan::PerLayer`), whose metered cost equals that combined prediction (a test in
//! `experiments.rs` checks it).
//!
//! Greedy, not optimal: accepting a large cut in one layer early can leave no slack for another; the record keeps
//! the order of the trials so this can be seen.

use std::collections::HashSet;
use std::sync::Arc;

use activation_approx::FixedPoint;
use anyhow::bail;
use model_zoo::secure::{InferenceCost, LayerKind};
use model_zoo::{ActFn, ActivationPlan};
use secure_methods::{MethodRegistry, MethodSpec, SecureMethod};

use crate::constrained::{Candidate, SearchCache, SearchParams, candidates};
use crate::models::{Loaded, accuracy_with_plan, layer_density, method_fn, piecewise_fn};
use crate::records::{StopReason, Trial};

/// The method name of the per-layer search.
pub const PER_LAYER: &str = "compact-per-layer";

/// Registry entry of `compact-per-layer`: outside the accuracy experiment (which runs the per-layer search) it
/// builds like `compact`, one approximation for the density it is given.
pub const SPEC_PER_LAYER: MethodSpec = MethodSpec {
    name: PER_LAYER,
    about: "Compact with one approximation per activation layer, each fitted to that layer's input density (accuracy experiment)",
    activations: &[],
    build: secure_methods::compact::SPEC.build,
};

/// The runner's methods: every built-in and `compact-per-layer`.
pub fn method_registry() -> MethodRegistry {
    let mut r = MethodRegistry::builtin();
    // The name is not a built-in's, so registering it cannot fail.
    let _ = r.register(SPEC_PER_LAYER);
    r
}

/// What the per-layer search chose.
#[derive(Debug, Clone)]
pub struct PerLayerChoice {
    /// The chosen candidate of every activation layer, in layer order.
    pub layers: Vec<Candidate>,
    /// Why it stopped.
    pub stop: StopReason,
    /// The trials in evaluation order (the start first).
    pub trials: Vec<Trial>,
    /// Validation accuracy of the kept plan.
    pub val_accuracy: f64,
    /// Validation passes made (the start included).
    pub evaluations: usize,
}

impl PerLayerChoice {
    /// The chosen methods, in layer order.
    pub fn methods(&self) -> Vec<Arc<dyn SecureMethod>> {
        self.layers.iter().map(|c| c.method.clone()).collect()
    }
}

/// A candidate's fixed-point emulation as an element-wise function (a lookup table over every code).
pub fn candidate_fn(c: &Candidate) -> anyhow::Result<ActFn> {
    match &c.approximation {
        Some(pp) => piecewise_fn(pp, FixedPoint::default()),
        None => method_fn(c.method.clone()),
    }
}

/// The activation plan replacing layer ℓ by `fns[ℓ]`.
pub fn plan_of(fns: &[ActFn]) -> ActivationPlan {
    ActivationPlan::PerLayer(fns.iter().cloned().map(Some).collect())
}

/// The search of the module docs on a loaded model. `elements[ℓ]` are layer ℓ's activation elements per inference
/// (the savings' weights); `model_key` and `seed` as in [`crate::constrained::constrained_search`] (each layer's
/// candidates are cached under the model key and the layer).
#[allow(clippy::too_many_arguments)]
pub fn per_layer_search(
    methods: &MethodRegistry,
    loaded: &Loaded,
    act_name: &str,
    params: &SearchParams,
    batch: usize,
    seed: u64,
    cache: &SearchCache,
    model_key: &str,
    elements: &[usize],
) -> anyhow::Result<PerLayerChoice> {
    params.check()?;
    let n = loaded.stats.len();
    if n == 0 {
        bail!("{PER_LAYER}: the model has no activation layers to search");
    }
    if elements.len() != n {
        bail!("{PER_LAYER}: {} element counts for {n} activation layers", elements.len());
    }
    let rel = |acc: f64| (loaded.exact_val - acc) / loaded.exact_val;
    let mut cands: Vec<Arc<Vec<Candidate>>> = Vec::with_capacity(n);
    for s in &loaded.stats {
        let density = layer_density(s)?;
        let key = format!(
            "{model_key}|{PER_LAYER}:{}|{act_name}|{seed}|{}|{}|{}|{}",
            s.index,
            params.tau_lo,
            params.tau_hi,
            params.ladder,
            params.backend.name()
        );
        cands.push(cache.candidates(&key, || candidates(methods, "compact", act_name, &density, params, seed))?);
    }
    // Start: every layer at its tightest-τ annealed candidate.
    let mut cur: Vec<usize> = Vec::with_capacity(n);
    for (l, c) in cands.iter().enumerate() {
        let start = c
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.tau.map(|t| (i, t)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i);
        match start {
            Some(i) => cur.push(i),
            None => bail!("{PER_LAYER}: layer {l} has no annealed candidate for any τ of the ladder; raise tau_hi"),
        }
    }
    let mut fns: Vec<ActFn> = cur.iter().enumerate().map(|(l, &i)| candidate_fn(&cands[l][i])).collect::<anyhow::Result<_>>()?;
    let mean_bytes = |cur: &[usize]| -> u64 {
        let total: u64 = cur.iter().enumerate().map(|(l, &i)| cands[l][i].bytes.get() * elements[l] as u64).sum();
        total / elements.iter().sum::<usize>().max(1) as u64
    };
    let mut acc = accuracy_with_plan(&loaded.net, &loaded.val, &plan_of(&fns), batch)?;
    let mut evaluations = 1;
    let mut trials = vec![Trial {
        tau: None,
        structure: "start: every layer at its tightest-τ annealed candidate".into(),
        bytes: mean_bytes(&cur),
        val_accuracy: acc,
        rel_loss: rel(acc),
        layer: None,
        accepted: Some(rel(acc) <= params.nu),
    }];
    if rel(acc) > params.nu {
        bail!(
            "{PER_LAYER}: even the tightest candidate of every layer misses ν = {} on validation (loss {:.3} %); lower tau_lo",
            params.nu,
            100.0 * rel(acc)
        );
    }
    let mut tried: Vec<HashSet<usize>> = vec![HashSet::new(); n];
    loop {
        // Each layer's proposal: its cheapest untried candidate cheaper than the current one.
        let mut best: Option<(u64, usize, usize)> = None;
        for l in 0..n {
            let now = &cands[l][cur[l]];
            let proposal = (0..cur[l]).find(|&j| {
                let c = &cands[l][j];
                !tried[l].contains(&j) && (c.bytes, c.rounds) < (now.bytes, now.rounds)
            });
            if let Some(j) = proposal {
                let saving = (now.bytes.get() - cands[l][j].bytes.get()) * elements[l] as u64;
                if best.is_none_or(|(s, _, _)| saving > s) {
                    best = Some((saving, l, j));
                }
            }
        }
        let Some((_, l, j)) = best else { break };
        tried[l].insert(j);
        let f = candidate_fn(&cands[l][j])?;
        let mut trial_fns = fns.clone();
        trial_fns[l] = f.clone();
        let a = accuracy_with_plan(&loaded.net, &loaded.val, &plan_of(&trial_fns), batch)?;
        evaluations += 1;
        let ok = rel(a) <= params.nu;
        let c = &cands[l][j];
        trials.push(Trial {
            tau: c.tau,
            structure: c.structure.clone(),
            bytes: c.bytes.get(),
            val_accuracy: a,
            rel_loss: rel(a),
            layer: Some(loaded.stats[l].index),
            accepted: Some(ok),
        });
        if ok {
            cur[l] = j;
            fns = trial_fns;
            acc = a;
        }
    }
    let stop = if cur.iter().all(|&i| i == 0) { StopReason::CheapestAdmissible } else { StopReason::ConstraintBinds };
    let layers = cur.iter().enumerate().map(|(l, &i)| cands[l][i].clone()).collect();
    Ok(PerLayerChoice { layers, stop, trials, val_accuracy: acc, evaluations })
}

/// One inference's cost with a method per activation layer, from one prediction per layer's method (`preds[ℓ]`:
/// the whole model predicted with layer ℓ's method): the activation entries of `preds[0]` are replaced by the
/// ℓ-th activation entry of `preds[ℓ]`, and the totals (rounds, online and offline bytes) adjusted by the
/// difference, since the layers run one after another. AES calls (FSS) are not broken down per layer by the
/// meter: `aes_per_element[ℓ]` (layer ℓ's method's per-element AES calls) × `elements[ℓ]` replace layer ℓ's share
/// of `preds[0]`'s.
pub fn combine_per_layer(preds: &[InferenceCost], aes_per_element: &[u64], elements: &[usize]) -> anyhow::Result<InferenceCost> {
    let Some(base) = preds.first() else { bail!("no per-layer predictions to combine") };
    let positions: Vec<usize> =
        base.layers.iter().enumerate().filter(|(_, l)| l.kind == LayerKind::Activation).map(|(i, _)| i).collect();
    if positions.len() != preds.len() || aes_per_element.len() != preds.len() || elements.len() != preds.len() {
        bail!(
            "{} activation layers in the prediction, {} per-layer methods, {} AES counts, {} element counts",
            positions.len(),
            preds.len(),
            aes_per_element.len(),
            elements.len()
        );
    }
    let mut out = base.clone();
    let mut aes = i128::from(base.aes_calls.get());
    for (l, &pos) in positions.iter().enumerate() {
        let (old, new) = (&base.layers[pos], &preds[l].layers[pos]);
        if old.label != new.label {
            bail!("per-layer predictions disagree on layer {pos}: '{}' vs '{}'", old.label, new.label);
        }
        out.total.rounds = out.total.rounds - old.rounds + new.rounds;
        out.total.bytes_per_party = out.total.bytes_per_party - old.bytes + new.bytes;
        out.total.offline_bytes_per_party = out.total.offline_bytes_per_party - old.offline_bytes + new.offline_bytes;
        out.layers[pos] = new.clone();
        aes += (i128::from(aes_per_element[l]) - i128::from(aes_per_element[0])) * elements[l] as i128;
    }
    out.aes_calls = activation_approx::Count(u64::try_from(aes.max(0)).unwrap_or(u64::MAX));
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use activation_approx::{Bytes, Count, Rounds};
    use model_zoo::secure::LayerCost;

    fn layer(label: &str, kind: LayerKind, rounds: u64, bytes: u64) -> LayerCost {
        LayerCost { label: label.into(), kind, rounds: Rounds(rounds), bytes: Bytes(bytes), offline_bytes: Bytes(2 * bytes) }
    }

    fn inference(act: [(u64, u64); 2], aes: u64) -> InferenceCost {
        let layers = vec![
            layer("00-dense", LayerKind::Linear, 1, 100),
            layer("01-act", LayerKind::Activation, act[0].0, act[0].1),
            layer("02-dense", LayerKind::Linear, 1, 100),
            layer("03-act", LayerKind::Activation, act[1].0, act[1].1),
        ];
        let total = layers.iter().fold(activation_approx::Cost::ZERO, |a, l| a.then(l.cost()));
        InferenceCost { layers, total, setup: activation_approx::Cost::ZERO, aes_calls: Count(aes) }
    }

    #[test]
    fn per_layer_costs_add_up_layer_by_layer() {
        // Method A: 5 rounds, 400 B per layer; method B: 3 rounds, 160 B per layer; 10 elements per layer.
        let a = inference([(5, 400), (5, 400)], 20);
        let b = inference([(3, 160), (3, 160)], 40);
        let mixed = combine_per_layer(&[a.clone(), b.clone()], &[1, 2], &[10, 10]).unwrap();
        assert_eq!(mixed.layers[1], a.layers[1]);
        assert_eq!(mixed.layers[3], b.layers[3]);
        assert_eq!(mixed.total.rounds, Rounds(1 + 5 + 1 + 3));
        assert_eq!(mixed.total.bytes_per_party, Bytes(100 + 400 + 100 + 160));
        assert_eq!(mixed.total.offline_bytes_per_party, Bytes(2 * (100 + 400 + 100 + 160)));
        assert_eq!(mixed.aes_calls, Count(20 - 10 + 20));
        // One method everywhere: the prediction itself.
        assert_eq!(combine_per_layer(&[a.clone(), a.clone()], &[1, 1], &[10, 10]).unwrap(), a);
        assert!(combine_per_layer(&[a.clone()], &[1], &[10]).is_err(), "two activation layers, one method");
    }

    /// A small untrained ViT (2 blocks) and 300 random images labelled with its own exact predictions (exact
    /// accuracy 1), loaded as a point would be.
    pub(crate) fn tiny_vit() -> Loaded {
        use model_zoo::{Arch, Dataset, ModelActivation, ModelConfig, Network, Task};
        use rand::{Rng, SeedableRng};
        let cfg = ModelConfig {
            task: Task::MnistVit,
            arch: Arch::Vit { input: [8, 8, 1], patch: 4, width: 8, depth: 2, heads: 2, mlp_width: 12, classes: 3 },
            activation: "gelu".into(),
        };
        let reg = activation_approx::ActivationRegistry::builtin();
        let net = Network::new(cfg.clone(), ModelActivation::resolve("gelu", &reg).unwrap(), 5).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let n = 300;
        let features: Vec<f32> = (0..n * 64).map(|_| rng.random_range(-2.0f32..2.0)).collect();
        let x = net.input_tensor(&features, &[8, 8, 1]).unwrap();
        let labels: Vec<u32> = net.forward(&x, &ActivationPlan::Exact).unwrap().argmax(1).unwrap().to_vec1().unwrap();
        let d = Dataset { features, labels, sample_shape: vec![8, 8, 1] };
        let stats = model_zoo::activation_statistics(&net, &d, n, 64, 1).unwrap();
        let sidecar = model_zoo::Sidecar {
            format_version: 1,
            model: cfg,
            task: "mnist-vit".into(),
            activation: "gelu".into(),
            depth: 2,
            width: 8,
            n_parameters: net.n_parameters(),
            train: model_zoo::TrainConfig::default(),
            seed: 5,
            epochs: 0,
            data_checksum: String::new(),
            val_accuracy_per_epoch: Vec::new(),
            val_accuracy: 1.0,
            test_accuracy: 1.0,
            training_seconds: 0.0,
            weights_file: String::new(),
            weights_sha256: String::new(),
        };
        Loaded { net, sidecar, val: d.clone(), test: d, exact_val: 1.0, exact_test: 1.0, exact_test_correct: vec![true; n], stats }
    }

    #[test]
    fn per_layer_search_keeps_the_whole_model_within_nu() {
        let loaded = tiny_vit();
        let params = SearchParams { nu: 0.02, tau_lo: 1e-3, tau_hi: 1e-1, ladder: 3, backend: model_zoo::secure::Backend::Beaver };
        let elements = loaded.net.export_folded().unwrap().activation_elements_per_layer();
        assert_eq!(elements, vec![5 * 12, 5 * 12], "(1 class token + 4 patches) × MLP width, per block");
        let cache = SearchCache::default();
        let c = per_layer_search(&method_registry(), &loaded, "gelu", &params, 100, 7, &cache, "tiny", &elements).unwrap();
        assert_eq!(c.layers.len(), 2);
        // The kept plan, re-evaluated independently, meets ν, and its accuracy is the one reported.
        let fns: Vec<ActFn> = c.layers.iter().map(|l| candidate_fn(l).unwrap()).collect();
        let acc = accuracy_with_plan(&loaded.net, &loaded.val, &plan_of(&fns), 100).unwrap();
        assert_eq!(acc, c.val_accuracy);
        assert!(1.0 - acc <= params.nu, "validation loss {} above ν", 1.0 - acc);
        // Every trial is accepted exactly when it meets ν; one validation pass per trial.
        assert_eq!(c.trials.len(), c.evaluations);
        for t in &c.trials {
            assert_eq!(t.accepted, Some(t.rel_loss <= params.nu), "{t:?}");
        }
        assert!(c.trials.iter().skip(1).all(|t| t.layer.is_some()));
        // The greedy only lowers: the kept plan costs no more than the start, and the stop reason says whether
        // every layer reached its cheapest candidate.
        let kept: u64 = c.layers.iter().zip(&elements).map(|(l, &n)| l.bytes.get() * n as u64).sum();
        assert!(kept / elements.iter().sum::<usize>() as u64 <= c.trials[0].bytes, "kept {kept} vs start {}", c.trials[0].bytes);
        // A layer's first proposal is its cheapest candidate, so every layer ends on its cheapest exactly when no
        // trial was rejected.
        let rejected = c.trials.iter().any(|t| t.accepted == Some(false));
        assert_eq!(c.stop == StopReason::CheapestAdmissible, !rejected, "{:?}", c.trials);
        // The same search again (cached candidates) chooses the same.
        let again = per_layer_search(&method_registry(), &loaded, "gelu", &params, 100, 7, &cache, "tiny", &elements).unwrap();
        assert_eq!(again.trials, c.trials);
    }

    #[test]
    fn the_per_layer_method_is_registered_beside_the_builtins() {
        let r = method_registry();
        assert_eq!(r.spec("Compact_Per_Layer").unwrap().name, PER_LAYER);
        assert!(r.spec("puma").is_ok());
    }
}
