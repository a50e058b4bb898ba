//! A method that is a spline with public thresholds and coefficients, evaluated through
//! [`Evaluator::piecewise`] — the one entry point a backend with a whole-spline gate (function secret sharing)
//! overrides, so every such method (Compact and its ablations, PUMA, BOLT, BumbleBee, h-swish, ReLU, MPCFormer
//! Quad) gets it. The default protocol (`mpc_sim::recipes::piecewise`): all comparisons in one batch beside the
//! powers the nonzero encoded coefficients use, the selection Y_0 + Σ b_i·(Y_{i+1} − Y_i) in one round, one
//! truncation; on the [`mpc_sim::PlainEvaluator`] it equals `EncodedPiecewise::eval` bit for bit.

use activation_approx::published::Spline;
use activation_approx::{EncodedPiecewise, FixedPoint, PiecewisePoly};
use mpc_sim::Evaluator;

use crate::method::{Method, MethodInfo, Program};
use crate::registry::Result;

/// A spline method (module docs).
#[derive(Debug, Clone)]
pub struct SplineMethod {
    /// Method name.
    pub name: String,
    /// Activation approximated.
    pub activation: String,
    /// Citation.
    pub citation: String,
    /// The spline (f64).
    pub spline: Spline,
    /// Its encoding at the method's fixed point.
    pub encoded: EncodedPiecewise,
    /// The fitted range, for reports.
    pub range: Option<(f64, f64)>,
    /// Protocol summary, for reports.
    pub protocol: String,
}

impl SplineMethod {
    /// A spline method (encodes the spline at `fx`).
    pub fn new(name: &str, activation: &str, citation: String, spline: Spline, fx: FixedPoint, range: Option<(f64, f64)>) -> Result<Self> {
        let encoded = spline.encode(&fx)?;
        let protocol = format!(
            "spline: {} comparisons + powers in parallel, one selection round (Evaluator::piecewise)",
            spline.thresholds.len()
        );
        Ok(SplineMethod { name: name.into(), activation: activation.into(), citation, spline, encoded, range, protocol })
    }

    /// A piecewise polynomial with tails (Compact's form) as a spline method.
    pub fn from_piecewise(name: &str, activation: &str, citation: String, pp: &PiecewisePoly, fx: FixedPoint) -> Result<Self> {
        Self::new(name, activation, citation, Spline::from(pp), fx, Some(pp.range()))
    }
}

impl Method for SplineMethod {
    fn name(&self) -> &str {
        &self.name
    }
    fn activation(&self) -> &str {
        &self.activation
    }
    fn citation(&self) -> &str {
        &self.citation
    }
    fn info(&self) -> MethodInfo {
        MethodInfo {
            pieces: self.spline.segments.len(),
            degrees: self.spline.segments.iter().map(|s| s.effective_degree()).collect(),
            range: self.range,
            protocol: self.protocol.clone(),
        }
    }
    fn eval_f64(&self, x: f64) -> f64 {
        self.spline.eval(x)
    }
    fn fixed_point(&self) -> FixedPoint {
        self.encoded.fx
    }
    fn kinks(&self) -> Vec<f64> {
        self.spline.thresholds.clone()
    }
}

impl Program for SplineMethod {
    fn program<E: Evaluator>(&self, ev: &mut E, x: &E::Value) -> mpc_sim::Result<E::Value> {
        ev.piecewise(x, &self.encoded)
    }
}
