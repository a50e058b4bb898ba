//! Strict verification of an approximation file: everything `compact fit` enforces when it produces a file is
//! checked again when one is read back (`compact fit --check`, `compact secure --approx`), and every stored figure is
//! re-measured rather than trusted.
//!
//! [`verify`] checks, beyond [`ApproximationFile::from_json`]'s structural validation:
//! 1. the activation is in the registry (by its canonical name);
//! 2. the pieces and degrees are within [`crate::limits::MAX_PIECES`] and [`crate::limits::MAX_DEGREE`];
//! 3. the ring bound that the search applies to every candidate ([`PiecewisePoly::check_fixed_point`] for
//!    |x| up to [`Criterion::overflow_bound`] of the range, or max(|a|, |b|) when the file has no criterion): with
//!    degree d and f fractional bits, d·log2|x| + 2f bits must fit the 64-bit ring;
//! 4. the errors ([`ErrorReport::measure`] under the stored density) and the per-element cost (the stored cost
//!    model, default [`crate::cost::TwoPartyCostModel`]) agree with the stored figures; each disagreement is listed.

use crate::activation::ActivationRegistry;
use crate::cost::{Cost, CostModel};
use crate::density::DensitySpec;
use crate::error::{ApproxError, Result};
use crate::format::ApproximationFile;
use crate::limits::{MAX_DEGREE, MAX_PIECES, num};
use crate::metrics::ErrorReport;
use crate::piecewise::PiecewisePoly;

/// What [`verify`] re-measured, and where the file disagrees with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Verification {
    /// The activation's canonical name.
    pub activation: String,
    /// Errors measured now.
    pub errors: ErrorReport,
    /// Cost computed now.
    pub cost: Cost,
    /// One line per stored figure that differs from the re-measured one (empty: the file is consistent).
    pub disagreements: Vec<String>,
}

impl Verification {
    /// `Ok` when nothing disagrees, otherwise an error naming the first disagreements and the way out.
    pub fn into_result(self) -> Result<Self> {
        if self.disagreements.is_empty() {
            return Ok(self);
        }
        let n = self.disagreements.len();
        let shown: Vec<&str> = self.disagreements.iter().take(3).map(String::as_str).collect();
        Err(ApproxError::Format(format!(
            "stored figures disagree with the re-measured ones ({n} field(s): {}{}); refit with `compact fit`",
            shown.join("; "),
            if n > 3 { "; …" } else { "" }
        )))
    }
}

/// The per-element cost of `pp` under the file's cost model (the one place the cost is computed for a check): its
/// FSS model when it has one, else its two-party model (default [`crate::cost::TwoPartyCostModel`]).
pub fn file_cost(file: &ApproximationFile, pp: &PiecewisePoly) -> Cost {
    match &file.fss_cost_model {
        Some(m) => m.piecewise_cost(pp),
        None => file.cost_model.unwrap_or_default().piecewise_cost(pp),
    }
}

/// Relative agreement of a stored and a re-measured error (NaN equals NaN: both "not measurable").
fn same(stored: f64, now: f64) -> bool {
    if stored.is_nan() || now.is_nan() {
        return stored.is_nan() && now.is_nan();
    }
    if stored.is_infinite() || now.is_infinite() {
        return stored == now;
    }
    (stored - now).abs() <= 1e-6 * stored.abs().max(now.abs()) + 1e-12
}

/// Verifies a parsed file (module docs). Errors: unknown activation, a cap exceeded, ring overflow; disagreements
/// of the stored figures are listed in the result ([`Verification::into_result`] turns them into an error).
pub fn verify(file: &ApproximationFile, registry: &ActivationRegistry) -> Result<Verification> {
    let activation = registry.get(&file.activation)?;
    if file.pieces.len() > MAX_PIECES {
        return Err(ApproxError::Format(format!(
            "{} pieces exceed the cap of {MAX_PIECES} (limits::MAX_PIECES)",
            file.pieces.len()
        )));
    }
    if let Some((i, p)) = file.pieces.iter().enumerate().find(|(_, p)| p.degree > MAX_DEGREE) {
        return Err(ApproxError::Format(format!(
            "piece {i} has degree {} above the cap of {MAX_DEGREE} (limits::MAX_DEGREE)",
            p.degree
        )));
    }
    let pp = file.piecewise()?;
    let fx = file.fixed_point()?;
    let (a, b) = pp.range();
    let bound = file.criterion.as_ref().map(|c| c.overflow_bound(a, b)).unwrap_or_else(|| a.abs().max(b.abs()));
    pp.check_fixed_point(&fx, bound)?;
    let density = file.density.clone();
    let measured_with = density.clone().unwrap_or_else(DensitySpec::standard_normal);
    let errors = ErrorReport::measure(activation.as_ref(), &pp, &measured_with, &fx);
    let cost = file_cost(file, &pp);
    let mut disagreements = Vec::new();
    let s = &file.errors;
    let mut fields = vec![
        ("max_on_range", s.max_on_range, errors.max_on_range),
        ("max_on_pm8", s.max_on_pm8, errors.max_on_pm8),
        ("nfgen_relative_pm8", s.nfgen_relative_pm8, errors.nfgen_relative_pm8),
    ];
    if density.is_some() {
        fields.extend([
            ("weighted", s.weighted, errors.weighted),
            ("weighted_fixed", s.weighted_fixed, errors.weighted_fixed),
            ("max_central_999", s.max_central_999, errors.max_central_999),
        ]);
    }
    for (name, stored, now) in fields {
        if !same(stored, now) {
            disagreements.push(format!("errors.{name} stored {} but measures {}", num(stored), num(now)));
        }
    }
    if s.frac_bits != fx.frac_bits {
        disagreements.push(format!("errors.frac_bits {} ≠ fixed_point.frac_bits {}", s.frac_bits, fx.frac_bits));
    }
    if file.cost != cost {
        disagreements.push(format!(
            "cost stored {} B / {} rounds but computes {} B / {} rounds",
            file.cost.bytes_per_party, file.cost.rounds, cost.bytes_per_party, cost.rounds
        ));
    }
    Ok(Verification { activation: activation.name().to_string(), errors, cost, disagreements })
}
