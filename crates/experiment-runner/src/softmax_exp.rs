//! The `softmax_exp` experiment kind (issue 15, item 4): Compact's density-aware exponential inside the attention
//! softmax of the transformers, against PUMA's, PUMA-fast's and CrypTen's softmax, at equal validation accuracy.
//!
//! # What one point computes
//! A point is (task, recipe) with recipe ∈ [`RECIPES`]. Every recipe runs in the fixed-point plaintext twin of the
//! secure pass ([`model_zoo::secure::plain_correctness`]: the very program the secure session runs, on
//! [`mpc_sim::PlainEvaluator`]), with the same GELU method (spec parameter `gelu`, default PUMA's GELU, the GELU of
//! the system whose softmax is the baseline) and the same LayerNorm (power-of-two ladder), so only the softmax
//! differs between the points of a task. Accuracy losses are relative to the float model with every non-linearity
//! exact (η, the same reference as the GELU search), so ν is the same budget the GELU experiments use.
//!
//! - `puma`, `puma-fast`, `crypten`: the published recipes ([`secure_methods::SoftmaxRecipe`]); validation and test
//!   accuracy of the twin, softmax cost per inference.
//! - `compact`: Compact's exponential with PUMA's Goldschmidt reciprocal ([`secure_methods::SoftmaxRecipe::compact`],
//!   so the difference to `puma` is the exponential alone), chosen by an accuracy-constrained search:
//!   1. the density: the softmax's input after the max subtraction, d = x − max ≤ 0 over the real keys of every
//!      attention row ([`model_zoo::softmax_input_statistics`]), on calibration samples of the training split, per
//!      attention layer; the search uses **one exponential shared by all layers**, fitted to the equal-weight
//!      mixture of the layers' histograms ([`exp_density`]). Shared, because the exponential costs the same per
//!      element in every layer and a per-layer fit could only be cheaper where a layer's d is narrower, while it
//!      multiplies the accuracy evaluations by the number of layers (the GELU per-layer search on these models chose
//!      the shared structure for every layer); the per-layer densities are recorded and drawn so that a reader can
//!      see how much they differ;
//!   2. candidates: [`secure_methods::transformer::fit_exp`] (Compact's annealing on e^min(x,0) with the weighted
//!      error E_ρ|e^d − p(d)| ≤ τ and the max error on the density's central 99.9 % ≤ `cap_factor`·τ, errors of the
//!      fixed-point evaluation) for every τ of a geometric ladder; the same structure (degrees and cost) found for
//!      several τ is kept once, for its smallest τ;
//!   3. they are ordered by the softmax's bytes per party per inference (then rounds, then τ) under dealer-pair
//!      truncation, and their twin validation accuracy is measured cheapest first; the first whose relative loss
//!      (η − η′)/η is ≤ ν is kept ([`cheapest_admissible`]). No monotonicity in τ is assumed; the stop reason is
//!      recorded ([`StopReason`]); the test split is evaluated once, after the choice.
//!
//! Costs are per inference and per party from [`model_zoo::secure::predict_cost_with`] (the cost evaluator of the same
//! program; the text transformer's at full length), split by layer kind; bytes are the softmax layers' (max
//! tournament, exponential, sum, reciprocal, product), rounds likewise.

use std::sync::Arc;

use activation_approx::density::{DensitySpec, Empirical, Mixture};
use activation_approx::{FixedPoint, PiecewisePoly, Truncation};
use anyhow::{Context, bail};
use model_zoo::secure::{LayerKind, TransformerRecipes, plain_correctness, predict_cost_with};
use model_zoo::{ActivationPlan, SoftmaxInputStats, Task};
use secure_methods::{BuildContext, SecureMethod, SoftmaxRecipe};
use serde::{Deserialize, Serialize};

use crate::models::{LoadParams, Loaded, ModelCache, Paths, correctness_with, paired_diff_ci95};
use crate::records::StopReason;
use crate::spec::{Point, Spec};
use crate::sweep::Executor;

/// The experiment kind's name in specs.
pub const KIND: &str = "softmax_exp";
/// The experiment name whose records the report reads (`experiments/*/softmax-exp.toml`).
pub const NAME: &str = "softmax-exp";
/// The softmax recipes of the `method` axis, in table order.
pub const RECIPES: &[&str] = &["compact", "puma", "puma-fast", "crypten"];
/// Truncation protocol of every price (the secure runs').
pub const TRUNCATION: Truncation = Truncation::DealerPair;

const PARAMS: &[&str] =
    &["nu", "tau_lo", "tau_hi", "ladder", "cap_factor", "gelu", "calibration", "bins", "batch", "eval_limit", "twin_batch"];

/// The search's parameters (spec parameters of the same names).
#[derive(Debug, Clone, PartialEq)]
pub struct ExpSearchParams {
    /// Allowed relative validation accuracy loss ν.
    pub nu: f64,
    /// Tightest τ of the ladder.
    pub tau_lo: f64,
    /// Loosest τ.
    pub tau_hi: f64,
    /// Number of τ values (≥ 2).
    pub ladder: usize,
    /// Central max-error cap as a multiple of τ.
    pub cap_factor: f64,
    /// The GELU method every point uses (registry name).
    pub gelu: String,
    /// Samples per batch of the plaintext twin.
    pub twin_batch: usize,
}

impl ExpSearchParams {
    /// From a spec (defaults ν = 0.01, τ ∈ [1e-4, 1e-2], 5 values, cap 10·τ, GELU `puma`, twin batch 50).
    pub fn from_spec(spec: &Spec) -> anyhow::Result<Self> {
        let gelu = match spec.params.get("gelu") {
            None => "puma".to_string(),
            Some(toml::Value::String(s)) => s.clone(),
            Some(other) => bail!("parameter 'gelu' = {} must be a GELU method name such as \"puma\"", activation_approx::limits::clip(&other.to_string())),
        };
        let p = ExpSearchParams {
            nu: spec.param_f64("nu", 0.01)?,
            tau_lo: spec.param_f64("tau_lo", 1e-4)?,
            tau_hi: spec.param_f64("tau_hi", 1e-2)?,
            ladder: spec.param_usize("ladder", 5)?,
            cap_factor: spec.param_f64("cap_factor", 10.0)?,
            gelu,
            twin_batch: spec.param_usize("twin_batch", 50)?,
        };
        crate::constrained::check_search_range(p.nu, p.tau_lo, p.tau_hi, p.ladder)?;
        if !(p.cap_factor.is_finite() && p.cap_factor >= 1.0) {
            bail!("parameter cap_factor = {} must be a finite number ≥ 1 (the central max-error cap is cap_factor·τ)", p.cap_factor);
        }
        if p.twin_batch == 0 {
            bail!("parameter twin_batch = 0: use at least one sample per batch");
        }
        Ok(p)
    }

    /// The τ ladder, tightest first: tau_lo · (tau_hi/tau_lo)^(k/(ladder−1)).
    pub fn taus(&self) -> Vec<f64> {
        let (lo, hi) = (self.tau_lo.ln(), self.tau_hi.ln());
        (0..self.ladder).map(|k| (lo + (hi - lo) * k as f64 / (self.ladder - 1) as f64).exp()).collect()
    }
}

/// The exponential of a record, for tables and figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpSummary {
    /// One line: `limit (1 + d/256)^256, clipped below −14` or `piecewise: 2 pieces on [−9.5, 0.3], degrees [3, 4]`.
    pub description: String,
    /// Polynomial pieces on the range (Compact), tails excluded; 0 for the limit forms.
    pub pieces: usize,
    /// Their degrees (Compact); the limit forms: empty.
    pub degrees: Vec<usize>,
    /// Squarings of the limit forms (0 for Compact).
    pub squarings: usize,
    /// Compact's fitted piecewise polynomial.
    pub approximation: Option<PiecewisePoly>,
}

/// One candidate the search evaluated on the validation split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpTrial {
    /// τ it was annealed for (the smallest of its structure).
    pub tau: f64,
    /// Its structure.
    pub structure: String,
    /// Softmax bytes per party per inference with it.
    pub softmax_bytes: u64,
    /// Softmax rounds per inference with it.
    pub softmax_rounds: u64,
    /// Twin validation accuracy.
    pub val_accuracy: f64,
    /// (η − η′)/η.
    pub rel_loss: f64,
}

/// `softmax_exp` kind: one (task, softmax recipe) point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoftmaxExpResult {
    /// Task.
    pub task: String,
    /// Softmax recipe ([`RECIPES`]).
    pub recipe: String,
    /// The GELU method of every point.
    pub gelu_method: String,
    /// The model's sidecar.
    pub model: model_zoo::Sidecar,
    /// ν (Compact only).
    pub nu: Option<f64>,
    /// Float model, exact non-linearities: validation accuracy η.
    pub exact_val_accuracy: f64,
    /// Float model, exact non-linearities: test accuracy.
    pub exact_test_accuracy: f64,
    /// Twin validation accuracy.
    pub val_accuracy: f64,
    /// Twin test accuracy.
    pub test_accuracy: f64,
    /// (η − η′)/η on validation.
    pub val_rel_loss: f64,
    /// Paired 95 % bootstrap interval of that relative loss (same samples, float exact vs twin).
    pub val_rel_loss_ci95: (f64, f64),
    /// Paired 95 % bootstrap interval of the test accuracy difference twin − exact (fractions).
    pub test_diff_ci95: (f64, f64),
    /// Validation samples.
    pub val_samples: usize,
    /// Test samples.
    pub test_samples: usize,
    /// The exponential.
    pub exp: ExpSummary,
    /// τ of Compact's kept candidate.
    pub tau: Option<f64>,
    /// Central max-error cap of Compact's kept candidate.
    pub cap: Option<f64>,
    /// Why Compact's search stopped.
    pub stop: Option<StopReason>,
    /// Compact's evaluated candidates, cheapest first.
    pub trials: Vec<ExpTrial>,
    /// τ values whose annealing found no feasible structure (Compact).
    pub infeasible_taus: Vec<f64>,
    /// Softmax bytes per party per inference (online).
    pub softmax_bytes: u64,
    /// Softmax rounds per inference.
    pub softmax_rounds: u64,
    /// Softmax dealer bytes per party per inference.
    pub softmax_offline_bytes: u64,
    /// Whole inference: bytes per party (online).
    pub bytes_per_inference: u64,
    /// Whole inference: rounds.
    pub rounds_per_inference: u64,
    /// Truncation protocol of the prices.
    pub truncation: Truncation,
    /// Per attention layer: the measured density of d (Compact only).
    pub densities: Vec<SoftmaxInputStats>,
}

/// The search's shared density: the equal-weight mixture of the attention layers' histograms of d.
pub fn exp_density(stats: &[SoftmaxInputStats]) -> anyhow::Result<DensitySpec> {
    let mut comps = Vec::new();
    for s in stats {
        let h = &s.histogram;
        let n = h.counts.len();
        let w = (h.hi - h.lo) / n.max(1) as f64;
        let edges: Vec<f64> = (0..=n).map(|k| h.lo + k as f64 * w).collect();
        let counts: Vec<f64> = h.counts.iter().map(|&c| c as f64).collect();
        let emp = Empirical::from_histogram(edges, counts).with_context(|| format!("attention layer {} has an unusable histogram of x − max", s.block))?;
        comps.push((1.0, DensitySpec::Empirical(emp)));
    }
    if comps.is_empty() {
        bail!("the model has no attention layers to take a softmax density from");
    }
    Ok(DensitySpec::Mixture(Mixture::new(comps)?))
}

/// A candidate's price: (softmax bytes per party, softmax rounds) per inference, then τ, for the ordering.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// Softmax bytes per party per inference.
    pub bytes: u64,
    /// Softmax rounds per inference.
    pub rounds: u64,
    /// τ.
    pub tau: f64,
}

/// What [`cheapest_admissible`] returns: the kept index, the stop reason and the evaluated (index, loss) pairs.
pub type Choice = (usize, StopReason, Vec<(usize, f64)>);

/// The accuracy-constrained choice: the indices of `prices` in cost order (bytes, rounds, τ), evaluated cheapest
/// first by `rel_loss` (the relative validation loss of candidate i) until one is ≤ ν. Returns the kept index, the
/// stop reason and the evaluated (index, loss) pairs in order; an error if none meets ν.
pub fn cheapest_admissible(
    prices: &[Price],
    nu: f64,
    mut rel_loss: impl FnMut(usize) -> anyhow::Result<f64>,
) -> anyhow::Result<Choice> {
    let mut order: Vec<usize> = (0..prices.len()).collect();
    order.sort_by(|&a, &b| {
        let (p, q) = (&prices[a], &prices[b]);
        p.bytes.cmp(&q.bytes).then(p.rounds.cmp(&q.rounds)).then(p.tau.total_cmp(&q.tau))
    });
    let mut seen = Vec::new();
    for (k, &i) in order.iter().enumerate() {
        let l = rel_loss(i)?;
        seen.push((i, l));
        if l <= nu {
            return Ok((i, if k == 0 { StopReason::CheapestAdmissible } else { StopReason::ConstraintBinds }, seen));
        }
    }
    let best = seen.iter().map(|s| s.1).fold(f64::INFINITY, f64::min);
    bail!(
        "no exponential candidate meets ν = {nu} (best validation loss {:.3} % of {} candidates); lower tau_lo or cap_factor",
        100.0 * best,
        seen.len()
    )
}

/// The `softmax_exp` executor.
pub struct SoftmaxExp {
    cache: ModelCache,
}

impl std::fmt::Debug for SoftmaxExp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftmaxExp").finish()
    }
}

impl SoftmaxExp {
    /// Reads models from `paths.models` and data from `paths.data_root`.
    pub fn new(paths: Paths) -> Self {
        SoftmaxExp { cache: ModelCache::new(paths) }
    }
}

/// A softmax recipe of [`RECIPES`] by any spelling (case-insensitive, `_` and `-` alike).
pub fn recipe_name(name: &str) -> anyhow::Result<&'static str> {
    let n = name.trim().to_ascii_lowercase().replace('_', "-");
    RECIPES
        .iter()
        .find(|r| **r == n)
        .copied()
        .with_context(|| format!("softmax recipe '{}': choose one of {}", activation_approx::limits::clip(name), RECIPES.join(", ")))
}

fn recipe_of(name: &str) -> anyhow::Result<SoftmaxRecipe> {
    Ok(match name {
        "puma" => SoftmaxRecipe::puma(),
        "puma-fast" => SoftmaxRecipe::puma_fast(),
        "crypten" => SoftmaxRecipe::crypten(),
        other => bail!("softmax recipe '{}': choose one of {}", activation_approx::limits::clip(other), RECIPES.join(", ")),
    })
}

fn exp_summary(r: &SoftmaxRecipe, pp: Option<&PiecewisePoly>) -> ExpSummary {
    use secure_methods::transformer::ExpRecipe;
    match (&r.exp, pp) {
        (ExpRecipe::Limit { iters }, _) => ExpSummary {
            description: format!("limit (1 + d/{})^{}", 1u64 << iters, 1u64 << iters),
            pieces: 0,
            degrees: vec![],
            squarings: *iters,
            approximation: None,
        },
        (ExpRecipe::ClippedLimit { iters, lower }, _) => ExpSummary {
            description: format!("limit (1 + d/{})^{}, 0 below {lower}", 1u64 << iters, 1u64 << iters),
            pieces: 0,
            degrees: vec![],
            squarings: *iters,
            approximation: None,
        },
        (ExpRecipe::Piecewise(pw), Some(pp)) => {
            let degrees: Vec<usize> = pp.pieces.iter().map(|p| p.degree()).collect();
            let (a, b) = pp.range();
            ExpSummary {
                description: format!(
                    "piecewise: {} pieces on [{a:.2}, {b:.2}], degrees {degrees:?}, 0 below {a:.2}, {} comparisons",
                    degrees.len(),
                    pw.thresholds.len()
                ),
                pieces: degrees.len(),
                degrees,
                squarings: 0,
                approximation: Some(pp.clone()),
            }
        }
        (ExpRecipe::Piecewise(_), None) => {
            ExpSummary { description: "piecewise".into(), pieces: 0, degrees: vec![], squarings: 0, approximation: None }
        }
    }
}

/// Twin accuracy and per-sample correctness of `recipes` on the first `n` samples of `d`.
fn twin(model: &model_zoo::ExportedModel, gelu: &dyn SecureMethod, recipes: &TransformerRecipes, d: &model_zoo::Dataset, batch: usize) -> anyhow::Result<(f64, Vec<bool>)> {
    let c = plain_correctness(model, gelu, recipes, d, d.len(), FixedPoint::default(), batch)?;
    Ok((c.iter().filter(|&&x| x).count() as f64 / c.len().max(1) as f64, c))
}

/// (softmax cost, whole-inference cost) of one inference with `recipes`.
fn price(model: &model_zoo::ExportedModel, gelu: &dyn SecureMethod, recipes: &TransformerRecipes) -> anyhow::Result<(mpc_sim::Cost, mpc_sim::Cost)> {
    let c = predict_cost_with(model, gelu, recipes, FixedPoint::default(), TRUNCATION, model_zoo::secure::Backend::Beaver)?;
    Ok((c.of_kind(LayerKind::Softmax), c.total))
}

impl Executor for SoftmaxExp {
    fn validate(&self, spec: &Spec) -> anyhow::Result<()> {
        spec.check_params(PARAMS)?;
        ExpSearchParams::from_spec(spec)?;
        LoadParams::from_spec(spec)?;
        let Some(tasks) = &spec.grid.task else { bail!("a softmax_exp experiment needs a 'task' axis in [grid]") };
        for t in tasks {
            let task = crate::names::task(t)?;
            if !matches!(task, Task::MnistVit | Task::FashionMnistVit | Task::SpamText) {
                bail!("task '{t}' has no attention softmax; use mnist-vit, fashion-mnist-vit or spam-text");
            }
        }
        let Some(methods) = &spec.grid.method else { bail!("a softmax_exp experiment needs a 'method' axis (softmax recipes: {})", RECIPES.join(", ")) };
        for m in methods {
            if !RECIPES.contains(&m.as_str()) {
                bail!("softmax recipe '{}': choose among {}", activation_approx::limits::clip(m), RECIPES.join(", "));
            }
        }
        Ok(())
    }

    fn run(&self, spec: &Spec, point: &Point, seed: u64) -> anyhow::Result<serde_json::Value> {
        let task = crate::names::task(point.task.as_deref().context("point without a task")?)?;
        let recipe_name = point.method.clone().context("point without a method (softmax recipe)")?;
        let params = ExpSearchParams::from_spec(spec)?;
        let load = LoadParams::from_spec(spec)?;
        let loaded: Arc<Loaded> = self.cache.load_cached(spec, task, "gelu", None)?;
        let model = loaded.net.export_folded()?;
        let gelu = crate::per_layer::method_registry().build(&params.gelu, &BuildContext::new(&loaded.sidecar.activation)?)?;
        let exact_val_correct = correctness_with(&loaded.net, &loaded.val, &ActivationPlan::Exact, load.batch)?;
        let eta = loaded.exact_val;
        let rel = |acc: f64| (eta - acc) / eta;
        let ln = secure_methods::LayerNormRecipe::default();
        let fx = FixedPoint::default();

        let mut trials = Vec::new();
        let mut infeasible_taus = Vec::new();
        let mut densities = Vec::new();
        let (recipe, pp, tau, stop, val_acc, val_correct) = if recipe_name == "compact" {
            let data = self.cache.task_data(task)?;
            densities = model_zoo::softmax_input_statistics(&loaded.net, &data.train, load.calibration, load.bins, spec.seed)?;
            let density = exp_density(&densities)?;
            // Candidates: one per structure, its smallest τ (τ ascends).
            let mut cands: Vec<(f64, PiecewisePoly, TransformerRecipes, Price, String)> = Vec::new();
            for tau in params.taus() {
                let pp = match secure_methods::transformer::fit_exp(&density, tau, Some(params.cap_factor * tau), seed, fx) {
                    Ok(pp) => pp,
                    Err(_) => {
                        infeasible_taus.push(tau);
                        continue;
                    }
                };
                let recipes = TransformerRecipes { softmax: SoftmaxRecipe::compact(&pp, fx)?, layer_norm: ln.clone() };
                let (sm, _) = price(&model, gelu.as_ref(), &recipes)?;
                let p = Price { bytes: sm.bytes_per_party.get(), rounds: sm.rounds.get(), tau };
                let structure = exp_summary(&recipes.softmax, Some(&pp)).description;
                let degrees: Vec<usize> = pp.pieces.iter().map(|q| q.degree()).collect();
                if !cands.iter().any(|c| c.3.bytes == p.bytes && c.3.rounds == p.rounds && c.1.pieces.iter().map(|q| q.degree()).collect::<Vec<_>>() == degrees) {
                    cands.push((tau, pp, recipes, p, structure));
                }
            }
            if cands.is_empty() {
                bail!("no τ of [{:e}, {:e}] gives a feasible exponential; raise tau_hi", params.tau_lo, params.tau_hi);
            }
            let prices: Vec<Price> = cands.iter().map(|c| c.3).collect();
            let mut accs: Vec<Option<(f64, Vec<bool>)>> = vec![None; cands.len()];
            let (kept, stop, seen) = cheapest_admissible(&prices, params.nu, |i| {
                let (acc, c) = twin(&model, gelu.as_ref(), &cands[i].2, &loaded.val, params.twin_batch)?;
                accs[i] = Some((acc, c));
                Ok(rel(acc))
            })?;
            for (i, l) in &seen {
                let c = &cands[*i];
                trials.push(ExpTrial {
                    tau: c.0,
                    structure: c.4.clone(),
                    softmax_bytes: c.3.bytes,
                    softmax_rounds: c.3.rounds,
                    val_accuracy: accs[*i].as_ref().map_or(f64::NAN, |a| a.0),
                    rel_loss: *l,
                });
            }
            let (val_acc, val_correct) = accs[kept].take().context("the kept candidate has no validation run")?;
            let (tau, pp, recipes, _, _) = cands.swap_remove(kept);
            (recipes.softmax, Some(pp), Some(tau), Some(stop), val_acc, val_correct)
        } else {
            let r = recipe_of(&recipe_name)?;
            let recipes = TransformerRecipes { softmax: r.clone(), layer_norm: ln.clone() };
            let (acc, c) = twin(&model, gelu.as_ref(), &recipes, &loaded.val, params.twin_batch)?;
            (r, None, None, None, acc, c)
        };
        let recipes = TransformerRecipes { softmax: recipe.clone(), layer_norm: ln };
        // The test split, once, after the choice.
        let (test_acc, test_correct) = twin(&model, gelu.as_ref(), &recipes, &loaded.test, params.twin_batch)?;
        let (sm, total) = price(&model, gelu.as_ref(), &recipes)?;
        let (lo, hi) = paired_diff_ci95(&exact_val_correct, &val_correct, seed)?;
        let result = SoftmaxExpResult {
            task: task.name().to_string(),
            recipe: recipe_name.clone(),
            gelu_method: gelu.name().to_string(),
            model: loaded.sidecar.clone(),
            nu: tau.map(|_| params.nu),
            exact_val_accuracy: eta,
            exact_test_accuracy: loaded.exact_test,
            val_accuracy: val_acc,
            test_accuracy: test_acc,
            val_rel_loss: rel(val_acc),
            // loss = −difference/η: the interval's ends swap.
            val_rel_loss_ci95: (-hi / eta, -lo / eta),
            test_diff_ci95: paired_diff_ci95(&loaded.exact_test_correct, &test_correct, seed)?,
            val_samples: val_correct.len(),
            test_samples: test_correct.len(),
            exp: exp_summary(&recipe, pp.as_ref()),
            tau,
            cap: tau.map(|t| params.cap_factor * t),
            stop,
            trials,
            infeasible_taus,
            softmax_bytes: sm.bytes_per_party.get(),
            softmax_rounds: sm.rounds.get(),
            softmax_offline_bytes: sm.offline_bytes_per_party.get(),
            bytes_per_inference: total.bytes_per_party.get(),
            rounds_per_inference: total.rounds.get(),
            truncation: TRUNCATION,
            densities,
        };
        Ok(serde_json::to_value(result)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(bytes: u64, rounds: u64, tau: f64) -> Price {
        Price { bytes, rounds, tau }
    }

    #[test]
    fn keeps_the_cheapest_admissible_candidate_without_assuming_monotonicity() {
        // Cost order (bytes, then rounds): 1, 3, 0, 2. The losses are not monotone in cost.
        let prices = [p(300, 10, 1e-4), p(100, 10, 1e-2), p(400, 9, 1e-5), p(100, 12, 1e-3)];
        let losses = [0.005, 0.02, 0.0, 0.009];
        let (kept, stop, seen) = cheapest_admissible(&prices, 0.01, |i| Ok(losses[i])).unwrap();
        // 1 misses ν, 3 (same bytes, more rounds) meets it: kept before the more accurate 0 and 2.
        assert_eq!(kept, 3);
        assert_eq!(stop, StopReason::ConstraintBinds);
        assert_eq!(seen, vec![(1, 0.02), (3, 0.009)]);
        // The cheapest meets ν: nothing else is evaluated.
        let (kept, stop, seen) = cheapest_admissible(&prices, 0.05, |i| Ok(losses[i])).unwrap();
        assert_eq!((kept, stop, seen.len()), (1, StopReason::CheapestAdmissible, 1));
        // None meets ν: an error naming the way out.
        let e = cheapest_admissible(&prices, 1e-9, |i| Ok(losses[i] + 1e-3)).unwrap_err();
        assert!(format!("{e:#}").contains("tau_lo"), "{e:#}");
    }

    #[test]
    fn ladder_spans_the_range() {
        let spec = Spec::parse("name = \"s\"\nkind = \"softmax_exp\"\nseed = 1\n[grid]\ntask = [\"mnist-vit\"]\nmethod = [\"puma\"]\n[params]\ntau_lo = 1e-4\ntau_hi = 1e-2\nladder = 3\n").unwrap();
        let t = ExpSearchParams::from_spec(&spec).unwrap().taus();
        assert_eq!(t.len(), 3);
        assert!((t[0] - 1e-4).abs() < 1e-12 && (t[1] - 1e-3).abs() < 1e-10 && (t[2] - 1e-2).abs() < 1e-9);
        let bad = Spec::parse("name = \"s\"\nkind = \"softmax_exp\"\nseed = 1\n[grid]\ntask = [\"mnist-vit\"]\n[params]\ncap_factor = 0.5\n").unwrap();
        assert!(ExpSearchParams::from_spec(&bad).is_err());
    }
}
