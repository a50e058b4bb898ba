//! Compact itself and its two ablations, behind the same interface as the baselines (Islam et al., "Compact:
//! Approximating Complex Activation Functions for Secure Computation", PoPETs 2024(3), §4: density-aware
//! piecewise-polynomial approximation found by simulated annealing; error measure = density-weighted mean error,
//! Eq. 6 as this project reads it: E_ρ|f − p| over the real line; see `docs/method.md`).
//!
//! - `compact`: `activation_approx::search::anneal` under [`Criterion::Weighted`] with the context's density (default
//!   N(0, 1)) and τ = `tol` (default 1e-3).
//! - `compact-uniform-density`: the same search with the density replaced by uniform on [−8, 8] (no density
//!   awareness; the weighted error under the real density is then reported).
//! - `compact-uniform-breakpoints`: no annealing: `activation_approx::search::exhaustive` over *uniform* structures (m equal
//!   pieces of one degree d on a range [a, b] from a 0.5-grid), under the context's density — the cheapest
//!   feasible uniform structure.
//!
//! All three are evaluated through `Evaluator::piecewise` ([`SplineMethod`]); the search prices candidates with
//! `activation_approx::TwoPartyCostModel` (tested equal to the cost evaluator) under the truncation protocol of
//! the option `truncation` (`dealer_pair`, default, or `local`). Under local truncation it rejects structures whose
//! truncations fail with probability above 2^−30 per element on the density's range (at f = 16 that rejects every
//! spline of degree ≥ 2 on |x| up to ≈ 8, so the search under local truncation is usually infeasible); under
//! dealer-pair truncation nothing fails and every truncation is priced.

use activation_approx::density::DensitySpec;
use activation_approx::search::{AnnealConfig, Criterion, ExhaustiveGrid, Fitter, anneal, exhaustive};
use activation_approx::{FixedPoint, PiecewisePoly, Truncation, TwoPartyCostModel};

use crate::method::SecureMethod;
use crate::registry::{BuildContext, MethodError, MethodSpec, Options, Result};
use crate::spline::SplineMethod;

/// Registry entry: Compact.
pub const SPEC: MethodSpec = MethodSpec {
    name: "compact",
    about: "Compact: density-aware annealing search (this project)",
    activations: &[],
    build,
};

/// Registry entry: ablation without density awareness.
pub const SPEC_UNIFORM_DENSITY: MethodSpec = MethodSpec {
    name: "compact-uniform-density",
    about: "Compact with a uniform density on [-8, 8] (no density awareness)",
    activations: &[],
    build: build_uniform_density,
};

/// Registry entry: ablation without the annealing search.
pub const SPEC_UNIFORM_BREAKPOINTS: MethodSpec = MethodSpec {
    name: "compact-uniform-breakpoints",
    about: "Compact's criterion, uniform breakpoints by exhaustive (m, d, range) search, no annealing",
    activations: &[],
    build: build_uniform_breakpoints,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Anneal,
    UniformDensity,
    UniformBreakpoints,
}

fn build_variant(name: &'static str, ctx: &BuildContext, variant: Variant) -> Result<Box<dyn SecureMethod>> {
    let o = Options::new(name, &ctx.config, &["tol", "seed", "truncation"])?;
    let truncation = match o.choice("truncation", "dealer_pair", &["local", "dealer_pair"])?.as_str() {
        "dealer_pair" => Truncation::DealerPair,
        _ => Truncation::Local,
    };
    let tol = o.f64("tol", 1e-3, |t| t > 0.0 && t < 1.0, "tolerance τ must lie in (0, 1)")?;
    let seed = o.usize("seed", 0, 0, usize::MAX)? as u64;
    let density = match variant {
        Variant::UniformDensity => DensitySpec::parse("uniform:-8,8")?,
        _ => match &ctx.density {
            Some(d) => DensitySpec::parse(d)?,
            None => return Err(MethodError::NeedsDensity(name.into())),
        },
    };
    let criterion = Criterion::weighted(density.clone(), tol, None)?;
    let model = TwoPartyCostModel { fx: ctx.fx, truncation, ..TwoPartyCostModel::default() };
    let mut fitter = Fitter::new(ctx.activation.as_ref(), &criterion, &model);
    fitter.fx = ctx.fx;
    let outcome = match variant {
        Variant::UniformBreakpoints => {
            let grid = ExhaustiveGrid { max_pieces: 8, max_degree: 8, step: 0.5, range_limit: 8.0 };
            exhaustive(&fitter, &grid)?
        }
        _ => anneal(&fitter, &AnnealConfig { seed, ..AnnealConfig::default() })?,
    };
    let c = outcome.best;
    let citation = format!(
        "Islam et al., Compact (PoPETs 2024) §4, weighted error (Eq. 6) ≤ {tol} under {density}; {}",
        match variant {
            Variant::Anneal => "simulated annealing",
            Variant::UniformDensity => "annealing, uniform density on [-8, 8] (ablation)",
            Variant::UniformBreakpoints => "uniform breakpoints, exhaustive (m, d, range), no annealing (ablation)",
        }
    );
    Ok(Box::new(SplineMethod::from_piecewise(name, ctx.activation_name(), citation, &c.pp, ctx.fx)?))
}

fn build(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
    build_variant("compact", ctx, Variant::Anneal)
}

/// An approximation found elsewhere (the runner's accuracy-constrained search, or a `compact fit` JSON) as the
/// `compact` method, evaluated like every Compact variant. `provenance` says where it came from and is appended to
/// the citation.
pub fn from_approximation(activation: &str, pp: &PiecewisePoly, fx: FixedPoint, provenance: &str) -> Result<SplineMethod> {
    SplineMethod::from_piecewise("compact", activation, format!("Islam et al., Compact (PoPETs 2024) §4; {provenance}"), pp, fx)
}

fn build_uniform_density(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
    build_variant("compact-uniform-density", ctx, Variant::UniformDensity)
}

fn build_uniform_breakpoints(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
    build_variant("compact-uniform-breakpoints", ctx, Variant::UniformBreakpoints)
}
