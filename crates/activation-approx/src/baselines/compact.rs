//! Compact itself and its two ablations, behind the same interface as the baselines (Islam et al., "Compact:
//! Approximating Complex Activation Functions for Secure Computation", PoPETs 2024(3), §4: density-aware
//! piecewise-polynomial approximation found by simulated annealing; error measure = density-weighted mean error,
//! Eq. 6 as this project reads it: E_ρ|f − p| over the real line; see `docs/method.md`).
//!
//! - `compact`: [`crate::search::anneal`] under [`Criterion::Weighted`] with the context's density (default
//!   N(0, 1)) and τ = `tol` (default 1e-3).
//! - `compact-uniform-density`: the same search with the density replaced by uniform on [−8, 8] (no density
//!   awareness; the weighted error under the real density is then reported).
//! - `compact-uniform-breakpoints`: no annealing: [`crate::search::exhaustive`] over *uniform* structures (m equal
//!   pieces of one degree d on a range [a, b] from a 0.5-grid), under the context's density — the cheapest
//!   feasible uniform structure.
//!
//! All three are evaluated by sorted breakpoints, i.e. exactly [`crate::EncodedPiecewise::eval`] and
//! [`crate::TwoPartyCostModel`].

use super::spline::{PiecewiseMethod, Protocol};
use super::{BaselineError, BuildContext, MethodSpec, Options, Result, SecureMethod};
use crate::density::DensitySpec;
use crate::{FixedPoint, PiecewisePoly, TwoPartyCostModel};
use crate::search::{AnnealConfig, Criterion, ExhaustiveGrid, Fitter, anneal, exhaustive};

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
    let o = Options::new(name, &ctx.config, &["tol", "seed"])?;
    let tol = o.f64("tol", 1e-3, |t| t > 0.0 && t < 1.0, "tolerance τ must lie in (0, 1)")?;
    let seed = o.usize("seed", 0, 0, usize::MAX)? as u64;
    let density = match variant {
        Variant::UniformDensity => DensitySpec::parse("uniform:-8,8")?,
        _ => match &ctx.density {
            Some(d) => DensitySpec::parse(d)?,
            None => return Err(BaselineError::NeedsDensity(name.into())),
        },
    };
    let criterion = Criterion::weighted(density.clone(), tol, None)?;
    let model = TwoPartyCostModel::default();
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
    Ok(Box::new(PiecewiseMethod {
        name: name.into(),
        activation: ctx.activation_name().into(),
        citation: format!(
            "Islam et al., Compact (PoPETs 2024) §4, weighted error (Eq. 6) ≤ {tol} under {density}; {}",
            match variant {
                Variant::Anneal => "simulated annealing",
                Variant::UniformDensity => "annealing, uniform density on [-8, 8] (ablation)",
                Variant::UniformBreakpoints => "uniform breakpoints, exhaustive (m, d, range), no annealing (ablation)",
            }
        ),
        pp: c.pp,
        protocol: Protocol::Sorted,
        fx: ctx.fx,
        scales: None,
    }))
}

fn build(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
    build_variant("compact", ctx, Variant::Anneal)
}

/// An approximation found elsewhere (the runner's accuracy-constrained search, or a `compact fit` JSON) as the
/// `compact` method: evaluated by sorted breakpoints, like every Compact variant. `provenance` says where it came
/// from and is appended to the citation.
pub fn from_approximation(activation: &str, pp: PiecewisePoly, fx: FixedPoint, provenance: &str) -> PiecewiseMethod {
    PiecewiseMethod {
        name: "compact".into(),
        activation: activation.into(),
        citation: format!("Islam et al., Compact (PoPETs 2024) §4; {provenance}"),
        pp,
        protocol: Protocol::Sorted,
        fx,
        scales: None,
    }
}

fn build_uniform_density(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
    build_variant("compact-uniform-density", ctx, Variant::UniformDensity)
}

fn build_uniform_breakpoints(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
    build_variant("compact-uniform-breakpoints", ctx, Variant::UniformBreakpoints)
}
