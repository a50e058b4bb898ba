//! The versioned JSON file of a fitted approximation, meant to be taken to any MPC framework.
//!
//! Schema (version [`FORMAT_VERSION`]; the crate README documents every field with an example):
//!
//! ```text
//! {
//!   "format": "compact-approximation",  "version": 1,
//!   "activation": "silu",
//!   "density": {"kind": "normal", "mean": 0.0, "std": 1.0} | null,
//!   "criterion": {"kind": "weighted", "density": …, "tol": 0.001, "max_central_cap": null} | null,
//!   "range": [a, b],
//!   "breakpoints": [t_0, …, t_n],                      // t_0 = a, t_n = b, strictly increasing
//!   "pieces": [{"interval": [t_i, t_{i+1}], "degree": d_i,
//!               "coefficients": [c_0, …, c_{d_i}]}],   // monomial, constant first: p_i(x) = Σ c_j x^j
//!   "left_tail": {"kind": "zero"}, "right_tail": {"kind": "identity"},   // used for x < t_0 and x ≥ t_n
//!   "fixed_point": {"ring_bits": 64, "frac_bits": 16, "encoding": "round_half_away", "truncation": "floor"},
//!   "errors": {"weighted": …, "max_central_999": …, …},
//!   "cost": {"rounds": 9, "bytes_per_party": 224, "comparisons": 2, "multiplications": 7},
//!   "cost_model": {…} | null,
//!   "fss_cost_model": {"bits": 64, "truncation": "dealer_pair", …},  // only when fitted with --backend fss;
//!                                                   // then "cost" also has offline_bytes_per_party and aes_calls
//!   "search": {"method": "anneal", "seed": 0, "evaluations": 4000, …} | null
//! }
//! ```
//!
//! [`ApproximationFile::from_json`] checks, in this order: well-formed JSON, the `format` tag, the `version`
//! (before anything else is interpreted, so a newer file gets a version error rather than a field error), the fields,
//! and the approximation itself (valid piecewise polynomial, pieces matching the breakpoints, degree = number of
//! coefficients − 1, range = outer breakpoints, supported fixed-point parameters).

use serde::{Deserialize, Serialize};

use crate::activation::Tail;
use crate::cost::{Cost, TwoPartyCostModel};
use crate::fss_cost::FssCostModel;
use crate::density::DensitySpec;
use crate::error::{ApproxError, Result};
use crate::fixed::FixedPoint;
use crate::metrics::ErrorReport;
use crate::piecewise::PiecewisePoly;
use crate::poly::Polynomial;
use crate::search::Criterion;

/// The `format` tag.
pub const FORMAT_NAME: &str = "compact-approximation";
/// The version this build writes and reads.
pub const FORMAT_VERSION: u64 = 1;

/// One central piece.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PieceJson {
    /// [t_i, t_{i+1}].
    pub interval: [f64; 2],
    /// Degree (= coefficients.len() − 1).
    pub degree: usize,
    /// Monomial coefficients, constant first.
    pub coefficients: Vec<f64>,
}

/// Fixed-point parameters of the reference evaluation ([`crate::fixed`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedPointJson {
    /// Ring Z_{2^ring_bits}; always 64.
    pub ring_bits: u32,
    /// Fractional bits f.
    pub frac_bits: u32,
    /// Encoding rule: "round_half_away" (⌊x·2^f⌉).
    pub encoding: String,
    /// Truncation rule after a product: "floor" (arithmetic shift by f).
    pub truncation: String,
}

impl From<FixedPoint> for FixedPointJson {
    fn from(fx: FixedPoint) -> Self {
        FixedPointJson {
            ring_bits: 64,
            frac_bits: fx.frac_bits,
            encoding: "round_half_away".into(),
            truncation: "floor".into(),
        }
    }
}

/// How the approximation was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchInfo {
    /// "anneal", "exhaustive", or a baseline's name.
    pub method: String,
    /// Seed of the annealing.
    pub seed: Option<u64>,
    /// Structures evaluated.
    pub evaluations: usize,
    /// Annealing restarts.
    pub restarts: Option<usize>,
    /// Steps per restart.
    pub iterations: Option<usize>,
    /// Per-piece fit ("interpolate", "weighted_least_squares", "weighted_l1").
    pub fit: Option<String>,
}

/// A fitted approximation as stored on disk (module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApproximationFile {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// Always [`FORMAT_VERSION`] when written by this build.
    pub version: u64,
    /// Activation name (registry name).
    pub activation: String,
    /// Input density the approximation was fitted for.
    pub density: Option<DensitySpec>,
    /// The accuracy criterion.
    pub criterion: Option<Criterion>,
    /// [a, b] = [t_0, t_n].
    pub range: [f64; 2],
    /// t_0 … t_n.
    pub breakpoints: Vec<f64>,
    /// The central pieces.
    pub pieces: Vec<PieceJson>,
    /// Used for x < t_0.
    pub left_tail: Tail,
    /// Used for x ≥ t_n.
    pub right_tail: Tail,
    /// Fixed-point parameters.
    pub fixed_point: FixedPointJson,
    /// Measured errors.
    pub errors: ErrorReport,
    /// Predicted per-element cost (rounds, bytes per party, comparisons, multiplications).
    #[serde(with = "crate::cost::layout::element")]
    pub cost: Cost,
    /// The cost model's parameters, if it is the default two-party model.
    pub cost_model: Option<TwoPartyCostModel>,
    /// The FSS backend's cost model, when the search priced under it (`compact fit --backend fss`): then `cost` is
    /// its price (with offline bytes and AES calls) and `cost_model` is absent. Omitted for the Beaver backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fss_cost_model: Option<FssCostModel>,
    /// Search provenance.
    pub search: Option<SearchInfo>,
}

fn fmt_err(msg: impl Into<String>) -> ApproxError {
    ApproxError::Format(msg.into())
}

impl ApproximationFile {
    /// Assembles a file from a fitted approximation and its measurements.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        activation: &str,
        pp: &PiecewisePoly,
        density: Option<DensitySpec>,
        criterion: Option<Criterion>,
        fx: FixedPoint,
        errors: ErrorReport,
        cost: Cost,
        cost_model: Option<TwoPartyCostModel>,
        search: Option<SearchInfo>,
    ) -> Self {
        let (a, b) = pp.range();
        let pieces = pp
            .breakpoints
            .windows(2)
            .zip(&pp.pieces)
            .map(|(t, p)| PieceJson { interval: [t[0], t[1]], degree: p.degree(), coefficients: p.coeffs.clone() })
            .collect();
        ApproximationFile {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            activation: activation.into(),
            density,
            criterion,
            range: [a, b],
            breakpoints: pp.breakpoints.clone(),
            pieces,
            left_tail: pp.left,
            right_tail: pp.right,
            fixed_point: fx.into(),
            errors,
            cost,
            cost_model,
            fss_cost_model: None,
            search,
        }
    }

    /// The same file priced under the FSS backend's model: `cost` becomes `model`'s price of the approximation,
    /// the two-party model is dropped and the FSS one stored.
    pub fn with_fss_cost_model(mut self, model: FssCostModel) -> Result<Self> {
        let pp = self.piecewise()?;
        self.cost = crate::cost::CostModel::piecewise_cost(&model, &pp);
        self.cost_model = None;
        self.fss_cost_model = Some(model);
        Ok(self)
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| fmt_err(format!("cannot serialise: {e}")))
    }

    /// Parses and validates (module docs). Every error is one line naming the problem.
    pub fn from_json(text: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            fmt_err(format!("malformed JSON at line {} column {}: {}; is this a `compact fit` output?", e.line(), e.column(), crate::limits::clip(&e.to_string())))
        })?;
        let obj = value.as_object().ok_or_else(|| fmt_err("expected a JSON object at the top level"))?;
        match obj.get("format").and_then(|v| v.as_str()) {
            Some(FORMAT_NAME) => {}
            Some(other) => return Err(fmt_err(format!("format '{}' is not '{FORMAT_NAME}'", crate::limits::clip(other)))),
            None => return Err(fmt_err(format!("missing \"format\": \"{FORMAT_NAME}\"; is this a `compact fit` output?"))),
        }
        match obj.get("version") {
            Some(v) if v.as_u64() == Some(FORMAT_VERSION) => {}
            Some(v) => {
                return Err(fmt_err(format!(
                    "unsupported format version {}; this build reads version {FORMAT_VERSION} (refit with `compact fit` or use a matching build)",
                    crate::limits::clip(&v.to_string())
                )));
            }
            None => return Err(fmt_err(format!("missing \"version\"; expected {FORMAT_VERSION}"))),
        }
        let file: ApproximationFile =
            serde_json::from_value(value).map_err(|e| fmt_err(format!("bad field: {}", crate::limits::clip(&e.to_string()))))?;
        file.validate()?;
        Ok(file)
    }

    /// The approximation as a [`PiecewisePoly`] (validated).
    pub fn piecewise(&self) -> Result<PiecewisePoly> {
        let pieces = self.pieces.iter().map(|p| Polynomial::new(p.coefficients.clone())).collect();
        PiecewisePoly::new(self.left_tail, self.breakpoints.clone(), pieces, self.right_tail)
    }

    /// The fixed-point parameters (validated).
    pub fn fixed_point(&self) -> Result<FixedPoint> {
        FixedPoint::new(self.fixed_point.frac_bits)
    }

    /// Checks the invariants listed in the module docs.
    pub fn validate(&self) -> Result<()> {
        if self.pieces.len() > crate::limits::MAX_PIECES {
            return Err(fmt_err(format!(
                "{} pieces exceed the cap of {} (limits::MAX_PIECES)",
                self.pieces.len(),
                crate::limits::MAX_PIECES
            )));
        }
        let pp = self.piecewise()?;
        let (a, b) = pp.range();
        if self.range != [a, b] {
            return Err(fmt_err(format!(
                "range [{}, {}] differs from the outer breakpoints [{a}, {b}]",
                self.range[0], self.range[1]
            )));
        }
        for (i, (p, t)) in self.pieces.iter().zip(self.breakpoints.windows(2)).enumerate() {
            if p.interval != [t[0], t[1]] {
                return Err(fmt_err(format!(
                    "piece {i} interval [{}, {}] differs from breakpoints [{}, {}]",
                    p.interval[0], p.interval[1], t[0], t[1]
                )));
            }
            if p.coefficients.is_empty() || p.degree + 1 != p.coefficients.len() {
                return Err(fmt_err(format!(
                    "piece {i} has degree {} but {} coefficients; need degree + 1",
                    p.degree,
                    p.coefficients.len()
                )));
            }
        }
        let fp = &self.fixed_point;
        if fp.ring_bits != 64 {
            return Err(fmt_err(format!("ring_bits {} unsupported; only 64", fp.ring_bits)));
        }
        self.fixed_point()?;
        if fp.truncation != "floor" || fp.encoding != "round_half_away" {
            return Err(fmt_err(format!(
                "fixed-point rules '{}'/'{}' unsupported; expected encoding 'round_half_away', truncation 'floor'",
                crate::limits::clip(&fp.encoding),
                crate::limits::clip(&fp.truncation)
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Builtin, CostModel, Normal};

    fn sample() -> ApproximationFile {
        let pp = PiecewisePoly::new(
            Tail::Zero,
            vec![-3.0, 0.0, 3.0],
            vec![Polynomial::new(vec![0.0, 0.5, 0.2]), Polynomial::new(vec![0.0, 0.5, 0.2])],
            Tail::Identity,
        )
        .unwrap();
        let d: DensitySpec = Normal::new(0.0, 1.0).unwrap().into();
        let fx = FixedPoint::default();
        let errors = ErrorReport::measure(&Builtin::Silu, &pp, &d, &fx);
        let model = TwoPartyCostModel::default();
        ApproximationFile::new("silu", &pp, Some(d), None, fx, errors, model.piecewise_cost(&pp), Some(model), None)
    }

    #[test]
    fn roundtrip() {
        let f = sample();
        let back = ApproximationFile::from_json(&f.to_json().unwrap()).unwrap();
        assert_eq!(back, f);
        assert_eq!(back.piecewise().unwrap().eval(1.0), 0.7);
    }

    #[test]
    fn bad_files_give_one_line_errors() {
        let good = sample().to_json().unwrap();
        let cases: Vec<(String, &str)> = vec![
            ("{not json".into(), "malformed JSON at line 1"),
            ("[1, 2]".into(), "JSON object"),
            (good.replace("\"version\": 1", "\"version\": 2"), "unsupported format version 2"),
            (good.replace("\"version\": 1,", ""), "missing \"version\""),
            (good.replace("compact-approximation", "nfgen"), "format 'nfgen'"),
            (good.replace("\"degree\": 2", "\"degree\": 3"), "degree 3 but 3 coefficients"),
            (good.replace("\"frac_bits\": 16", "\"frac_bits\": 0"), "fractional bits 0"),
            (
                {
                    let mut f = sample();
                    f.breakpoints[1] = 5.0;
                    f.to_json().unwrap()
                },
                "not strictly increasing",
            ),
            (good.replace("\"pieces\"", "\"pieces_\""), "missing field `pieces`"),
        ];
        for (text, want) in cases {
            let e = ApproximationFile::from_json(&text).unwrap_err().to_string();
            assert!(e.contains(want), "want '{want}' in: {e}");
            assert!(!e.contains('\n'), "multi-line: {e}");
        }
    }
}
