//! Compact's accuracy-constrained search on a trained model: the cheapest approximation whose *validation*
//! relative accuracy loss (η − η′)/η stays ≤ ν.
//!
//! The input density is the model's own activation statistics ([`crate::models::model_density`]). The search
//! does **not** assume that accuracy is monotone in the weighted-error tolerance τ (it is not: a looser τ can give a
//! better model than a tighter one), so instead of bisecting on τ it works on the cost-ordered set of candidates:
//!
//! 1. anneal ([`activation_approx::search::anneal`]) for every τ of a geometric ladder from `tau_lo` to `tau_hi`
//!    (`ladder` values), with the same seed (the ablations: build the ablated variant at each τ);
//! 2. dedupe: of the candidates with the same structure (tails, degrees of the pieces) keep the one annealed for
//!    the smallest τ (the most accurate of equal cost); for `compact` add the two one-comparison forms
//!    ([`activation_approx::one_comparison`]: c₁ below t, x + c₂ or a·x + c₂ above, fitted to the same density),
//!    which no τ of the annealer reaches;
//! 3. sort by per-element cost (bytes per party, then rounds, then τ) and evaluate validation accuracy
//!    cheapest-first; the first candidate meeting ν is kept.
//!
//! The cost is the chosen backend's (spec parameter `backend = "beaver"|"fss"`, [`SearchParams::backend`]):
//! online bytes per party on the Beaver backend, online + key bytes per party on the FSS backend, where every
//! spline costs one opening online and the pieces cost key bytes instead (see `docs/cost-model.md`).
//!
//! It stops with a [`StopReason`]: `cheapest_admissible` when the cheapest candidate already meets ν (the
//! constraint does not bind inside the candidate set), `constraint_binds` when a cheaper candidate missed ν; no
//! candidate meeting ν is an error naming the way out (lower `tau_lo`). The test split is not touched here: the
//! caller measures the kept approximation on it once, after the choice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use secure_methods::{BuildContext, MethodRegistry, SecureMethod, SplineMethod, compact};
use activation_approx::search::{AnnealConfig, Criterion, Fitter, anneal};
use activation_approx::one_comparison;
use activation_approx::{ActivationRegistry, Bytes, CostModel, FixedPoint, FssCostModel, PiecewisePoly, Rounds, Truncation, TwoPartyCostModel};
use anyhow::bail;
use model_zoo::secure::Backend;

use activation_approx::density::DensitySpec;

use crate::models::{Loaded, accuracy_with, method_fn, model_density, piecewise_fn};
use crate::records::{StopReason, Trial};
use crate::spec::Spec;

/// Parameters of the search (the spec parameters of the same names).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchParams {
    /// Allowed relative validation accuracy loss ν.
    pub nu: f64,
    /// Tightest tolerance of the ladder.
    pub tau_lo: f64,
    /// Loosest tolerance of the ladder.
    pub tau_hi: f64,
    /// Number of τ values of the ladder (≥ 2).
    pub ladder: usize,
    /// The backend whose cost orders the candidates (and that Compact's annealer minimises).
    pub backend: Backend,
}

impl SearchParams {
    /// From a spec's parameters (defaults: ν = 0.01, τ ∈ [1e-4, 3e-1], 10 ladder values, backend `beaver`).
    pub fn from_spec(spec: &Spec) -> anyhow::Result<Self> {
        Self::for_point(spec, None)
    }

    /// [`SearchParams::from_spec`] with the point's ν (a `nu` grid axis) overriding the `nu` parameter.
    pub fn for_point(spec: &Spec, point: Option<&crate::spec::Point>) -> anyhow::Result<Self> {
        let nu = match point.and_then(|p| p.nu.as_deref()) {
            Some(v) => v.parse::<f64>().map_err(|_| anyhow::anyhow!("grid value nu = '{v}' is not a number"))?,
            None => spec.param_f64("nu", 0.01)?,
        };
        let p = SearchParams {
            nu,
            tau_lo: spec.param_f64("tau_lo", 1e-4)?,
            tau_hi: spec.param_f64("tau_hi", 3e-1)?,
            ladder: spec.param_usize("ladder", 10)?,
            backend: match spec.params.get("backend") {
                None => Backend::Beaver,
                Some(toml::Value::String(b)) => b.parse::<Backend>()?,
                Some(other) => bail!("parameter 'backend' = {} must be \"beaver\" or \"fss\"", activation_approx::limits::clip(&other.to_string())),
            },
        };
        p.check()?;
        Ok(p)
    }

    /// Checks the ranges: 0 < ν < 1, 0 < tau_lo < tau_hi, ladder ≥ 2.
    pub fn check(&self) -> anyhow::Result<()> {
        check_search_range(self.nu, self.tau_lo, self.tau_hi, self.ladder)
    }

    /// The τ ladder, tightest first: tau_lo · (tau_hi/tau_lo)^(k/(ladder−1)).
    pub fn taus(&self) -> Vec<f64> {
        let (lo, hi) = (self.tau_lo.ln(), self.tau_hi.ln());
        (0..self.ladder).map(|k| (lo + (hi - lo) * k as f64 / (self.ladder - 1) as f64).exp()).collect()
    }
}

/// The ranges every accuracy-constrained search takes: 0 < ν < 1, 0 < tau_lo < tau_hi (finite), ladder ≥ 2.
pub fn check_search_range(nu: f64, tau_lo: f64, tau_hi: f64, ladder: usize) -> anyhow::Result<()> {
    if !(nu > 0.0 && nu < 1.0) {
        bail!("parameter nu = {nu} must be in (0, 1), e.g. 0.01 for a 1 % relative accuracy loss");
    }
    if !(tau_lo > 0.0 && tau_lo < tau_hi && tau_hi.is_finite()) {
        bail!("tau_lo = {tau_lo} and tau_hi = {tau_hi} must satisfy 0 < tau_lo < tau_hi");
    }
    if ladder < 2 {
        bail!("parameter ladder = {ladder} must be at least 2 (the ladder's ends are tau_lo and tau_hi)");
    }
    Ok(())
}

/// The outcome of [`constrained_search`].
#[derive(Debug, Clone)]
pub struct SearchOutcome {
    /// The approximation kept (Compact).
    pub approximation: Option<PiecewisePoly>,
    /// τ it was annealed for (none: a one-comparison form).
    pub tau: Option<f64>,
    /// Why the search stopped.
    pub stop: StopReason,
    /// Candidates evaluated, in evaluation order (cheapest first).
    pub trials: Vec<Trial>,
}

/// Methods chosen by the accuracy-constrained search rather than built once: Compact and its two ablations (the
/// ablations go through the same search at the same ν, so a comparison at equal ν measures density awareness and
/// annealing, not τ).
pub const SEARCHED: &[&str] = &["compact", "compact-uniform-density", "compact-uniform-breakpoints"];

/// One candidate of the search.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The method.
    pub method: Arc<dyn SecureMethod>,
    /// Its piecewise polynomial (Compact).
    pub approximation: Option<PiecewisePoly>,
    /// τ it was built for (the smallest of its structure); none for the one-comparison forms.
    pub tau: Option<f64>,
    /// Its structure, for the record.
    pub structure: String,
    /// Bytes per element per party that order the candidates: online bytes on the Beaver backend, online + key
    /// bytes on the FSS backend ([`activation_approx::FssCostModel`]'s objective).
    pub bytes: Bytes,
    /// Rounds per element.
    pub rounds: Rounds,
}

/// The truncation protocol the candidates are priced under: the secure runs' (dealer pair, the same for every
/// method; see the README's cost accounting).
pub const SEARCH_TRUNCATION: Truncation = Truncation::DealerPair;
/// |x| bound for the candidates' cost (it only enters the local-truncation failure bound, which the dealer-pair
/// price does not use).
const COST_INPUT_BOUND: f64 = 8.0;

/// The cost-ordered candidates of the τ ladder for a searched method ([`SEARCHED`]), deduplicated by structure
/// (tails and piece degrees, with the cost: the smallest τ of a structure is kept), cheapest first (bytes, rounds,
/// τ) under `params.backend`: Compact anneals under that backend's closed form ([`TwoPartyCostModel`] or
/// [`FssCostModel`]) and every candidate is priced by that backend's cost evaluator (through
/// [`SecureMethod::backend_cost`]). Every method is built with the model's density and the point's seed.
pub fn candidates(
    methods: &MethodRegistry,
    method_name: &str,
    act_name: &str,
    density: &DensitySpec,
    params: &SearchParams,
    seed: u64,
) -> anyhow::Result<Vec<Candidate>> {
    let beaver = TwoPartyCostModel::default().with_truncation(SEARCH_TRUNCATION);
    let fss = FssCostModel::default().with_truncation(SEARCH_TRUNCATION);
    let cost_model: &dyn CostModel = match params.backend {
        Backend::Beaver => &beaver,
        Backend::Fss => &fss,
    };
    let is_fss = params.backend == Backend::Fss;
    // (objective bytes, rounds) of a method on the chosen backend.
    let price = |m: &dyn SecureMethod| -> anyhow::Result<(Bytes, Rounds)> {
        let c = m.backend_cost(is_fss, SEARCH_TRUNCATION, COST_INPUT_BOUND)?.cost;
        let bytes = if is_fss { c.bytes_per_party + c.offline_bytes_per_party } else { c.bytes_per_party };
        Ok((bytes, c.rounds))
    };
    let activation = ActivationRegistry::builtin().get(act_name)?;
    let mut out: Vec<(String, Candidate)> = Vec::new();
    let mut skipped = Vec::new();
    for tau in params.taus() {
        let built = (|| -> anyhow::Result<Candidate> { Ok(if method_name == "compact" {
            let criterion = Criterion::weighted(density.clone(), tau, None)?;
            let fitter = Fitter::new(activation.as_ref(), &criterion, cost_model);
            let pp = anneal(&fitter, &AnnealConfig { seed, ..AnnealConfig::default() })?.best.pp;
            let cost = cost_model.piecewise_cost(&pp);
            let bytes = cost.bytes_per_party + if is_fss { cost.offline_bytes_per_party } else { Bytes::ZERO };
            let provenance = format!("accuracy-constrained search, τ = {tau:e}");
            let method = compact::from_approximation(act_name, &pp, FixedPoint::default(), &provenance)?;
            let degrees: Vec<usize> = pp.pieces.iter().map(|p| p.degree()).collect();
            let structure = format!("annealed: {} core pieces, degrees {degrees:?}", pp.pieces.len());
            Candidate {
                method: Arc::new(method),
                approximation: Some(pp),
                tau: Some(tau),
                structure,
                bytes,
                rounds: cost.rounds,
            }
        } else if SEARCHED.contains(&method_name) {
            let ctx = BuildContext::new(act_name)?
                .with_density(serde_json::to_string(density)?)
                .with_config(serde_json::json!({ "tol": tau, "seed": seed }));
            let method: Arc<dyn SecureMethod> = Arc::from(methods.build(method_name, &ctx)?);
            let (bytes, rounds) = price(method.as_ref())?;
            let info = method.info();
            let structure = format!("{method_name}: {} segments, degrees {:?}", info.pieces, info.degrees);
            Candidate { method, approximation: None, tau: Some(tau), structure, bytes, rounds }
        } else {
            bail!("method '{method_name}' is not searched; searched methods: {}", SEARCHED.join(", "));
        }) })();
        // A τ the search space cannot meet (too tight for the variant) yields no candidate, not a failed point.
        let cand = match built {
            Ok(c) => c,
            Err(e) if SEARCHED.contains(&method_name) => {
                skipped.push(format!("τ = {tau:e}: {e:#}"));
                continue;
            }
            Err(e) => return Err(e),
        };
        let info = cand.method.info();
        let key = format!("{}|{}|{:?}|{}", cand.bytes, cand.rounds, info.degrees, info.pieces);
        // τ ascends, so the first candidate of a structure is the tightest.
        if !out.iter().any(|(k, _)| *k == key) {
            out.push((key, cand));
        }
    }
    let mut out: Vec<Candidate> = out.into_iter().map(|(_, c)| c).collect();
    if out.is_empty() && method_name != "compact" {
        bail!("{method_name}: no candidate for any τ of the ladder ({}); raise tau_hi", skipped.join("; "));
    }
    if method_name == "compact" {
        // The one-comparison forms (no core piece), below every annealed structure.
        for unit in [true, false] {
            let m = one_comparison::fit(activation.as_ref(), act_name, density, unit);
            let citation = format!("Compact's one-comparison form ({}), fitted under the model's density", if unit { "unit slope" } else { "fitted slope" });
            let method = SplineMethod::new("compact", act_name, citation, m.spline()?, FixedPoint::default(), Some((m.t, m.t)))?;
            let (bytes, rounds) = price(&method)?;
            let structure = format!(
                "one comparison, {}: t = {:.4}, c1 = {:.4}, a = {:.4}, c2 = {:.4}",
                if unit { "unit slope" } else { "fitted slope" },
                m.t,
                m.c1,
                m.a,
                m.c2
            );
            out.push(Candidate {
                method: Arc::new(method),
                approximation: None,
                tau: None,
                structure,
                bytes,
                rounds,
            });
        }
    }
    let tau_key = |c: &Candidate| c.tau.unwrap_or(0.0);
    out.sort_by(|a, b| a.bytes.cmp(&b.bytes).then(a.rounds.cmp(&b.rounds)).then(tau_key(a).total_cmp(&tau_key(b))));
    Ok(out)
}

/// Candidates and their validation accuracies, shared by the points of one sweep that search the same model with
/// the same method, seed and ladder but another ν (the frontier sweep): they anneal and score each candidate once.
/// Entries are computed outside the lock (two points may compute the same entry at once; both get the same value,
/// the first stored is kept), so no thread ever waits on another's computation.
#[derive(Debug, Default)]
pub struct SearchCache {
    candidates: Mutex<HashMap<String, Arc<Vec<Candidate>>>>,
    val: Mutex<HashMap<(String, usize), f64>>,
}

impl SearchCache {
    pub(crate) fn candidates(&self, key: &str, make: impl FnOnce() -> anyhow::Result<Vec<Candidate>>) -> anyhow::Result<Arc<Vec<Candidate>>> {
        let lock = || self.candidates.lock().map_err(|_| anyhow::anyhow!("search cache poisoned"));
        if let Some(c) = lock()?.get(key) {
            return Ok(c.clone());
        }
        let made = Arc::new(make()?);
        Ok(lock()?.entry(key.to_string()).or_insert(made).clone())
    }

    fn val(&self, key: &str, i: usize, make: impl FnOnce() -> anyhow::Result<f64>) -> anyhow::Result<f64> {
        let lock = || self.val.lock().map_err(|_| anyhow::anyhow!("search cache poisoned"));
        if let Some(v) = lock()?.get(&(key.to_string(), i)) {
            return Ok(*v);
        }
        let v = make()?;
        Ok(*lock()?.entry((key.to_string(), i)).or_insert(v))
    }
}

/// The search of the module docs for a searched method ([`SEARCHED`]) on a loaded model, validation accuracies
/// with batch size `batch`. `model_key` names the loaded model in `cache` (its candidates and validation
/// accuracies are reused for every ν). Returns the kept candidate with the outcome.
#[allow(clippy::too_many_arguments)]
pub fn constrained_search(
    methods: &MethodRegistry,
    loaded: &Loaded,
    method_name: &str,
    act_name: &str,
    params: &SearchParams,
    batch: usize,
    seed: u64,
    cache: &SearchCache,
    model_key: &str,
) -> anyhow::Result<(Candidate, SearchOutcome)> {
    params.check()?;
    let fx = FixedPoint::default();
    let rel = |acc: f64| (loaded.exact_val - acc) / loaded.exact_val;
    let density = model_density(&loaded.stats)?;
    let key = format!(
        "{model_key}|{method_name}|{act_name}|{seed}|{}|{}|{}|{batch}|{}",
        params.tau_lo,
        params.tau_hi,
        params.ladder,
        params.backend.name()
    );
    let cands = cache.candidates(&key, || candidates(methods, method_name, act_name, &density, params, seed))?;
    let mut trials = Vec::new();
    for (i, cand) in cands.iter().enumerate() {
        let acc = cache.val(&key, i, || {
            let f = match &cand.approximation {
                Some(pp) => piecewise_fn(pp, fx)?,
                None => method_fn(cand.method.clone())?,
            };
            accuracy_with(&loaded.net, &loaded.val, f, batch)
        })?;
        let cand = cand.clone();
        trials.push(Trial {
            tau: cand.tau,
            structure: cand.structure.clone(),
            bytes: cand.bytes.get(),
            val_accuracy: acc,
            rel_loss: rel(acc),
            layer: None,
            accepted: None,
        });
        if rel(acc) <= params.nu {
            let stop = if i == 0 { StopReason::CheapestAdmissible } else { StopReason::ConstraintBinds };
            let outcome = SearchOutcome { approximation: cand.approximation.clone(), tau: cand.tau, stop, trials };
            return Ok((cand, outcome));
        }
    }
    let best = trials.iter().map(|t| t.rel_loss).fold(f64::INFINITY, f64::min);
    bail!(
        "{method_name} misses ν = {} with every candidate of τ ∈ [{:e}, {:e}] (best validation loss {:.3} %); lower tau_lo",
        params.nu,
        params.tau_lo,
        params.tau_hi,
        100.0 * best
    )
}

/// The method a point evaluates, and for searched methods how it was found.
#[derive(Debug, Clone)]
pub struct ChosenMethod {
    /// The method.
    pub method: Arc<dyn SecureMethod>,
    /// Searched: the search's outcome.
    pub search: Option<SearchOutcome>,
    /// `compact-per-layer`: one method per activation layer (then `method` is layer 0's).
    pub per_layer: Option<crate::per_layer::PerLayerChoice>,
}

/// The method for a point: for `compact` the accuracy-constrained search on the loaded model
/// ([`constrained_search`]); otherwise the registry's method, built with the model's own activation density (which
/// only the Compact ablations use) and `config`.
#[allow(clippy::too_many_arguments)]
pub fn choose_method(
    methods: &MethodRegistry,
    loaded: &Loaded,
    act_name: &str,
    method_name: &str,
    config: serde_json::Value,
    search: &SearchParams,
    batch: usize,
    seed: u64,
    cache: &SearchCache,
    model_key: &str,
) -> anyhow::Result<ChosenMethod> {
    if method_name == crate::per_layer::PER_LAYER {
        let elements = loaded.net.export_folded()?.activation_elements_per_layer();
        let choice =
            crate::per_layer::per_layer_search(methods, loaded, act_name, search, batch, seed, cache, model_key, &elements)?;
        let Some(first) = choice.layers.first() else { bail!("the per-layer search chose no layer") };
        let outcome = SearchOutcome {
            approximation: first.approximation.clone(),
            tau: first.tau,
            stop: choice.stop,
            trials: choice.trials.clone(),
        };
        return Ok(ChosenMethod { method: first.method.clone(), search: Some(outcome), per_layer: Some(choice) });
    }
    if SEARCHED.contains(&method_name) {
        let (cand, out) =
            constrained_search(methods, loaded, method_name, act_name, search, batch, seed, cache, model_key)?;
        return Ok(ChosenMethod { method: cand.method, search: Some(out), per_layer: None });
    }
    let density = serde_json::to_string(&model_density(&loaded.stats)?)?;
    let ctx = BuildContext::new(act_name)?.with_density(density).with_config(config);
    Ok(ChosenMethod { method: Arc::from(methods.build(method_name, &ctx)?), search: None, per_layer: None })
}
