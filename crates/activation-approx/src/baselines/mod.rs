//! Baselines behind one interface with Compact: every "way to evaluate an activation securely".
//!
//! A method ([`SecureMethod`]) has a name, the activation it approximates, a citation, a structural summary
//! ([`MethodInfo`]) and ONE secure program written against [`program::Ops`]. From that single program come
//! - its f64 evaluation ([`program::F64Ops`], real arithmetic),
//! - its fixed-point evaluation ([`program::FixedOps`], the emulation of [`crate::fixed`]),
//! - its predicted per-element cost ([`program::CostOps`], the constants of [`TwoPartyCostModel`]),
//! - and, in `mpc_sim::methods`, its two-party secure run on secret shares,
//!
//! so the fixed-point numbers ARE the plaintext run of the secure program.
//!
//! Methods are built by name from a [`MethodRegistry`]: a [`BuildContext`] carries the activation, an optional input
//! density (for density-aware methods), the fixed-point parameters and a JSON object of method options. Adding a
//! baseline is one file with a `build` function plus one line in [`MethodRegistry::builtin`] — or, from outside the
//! crate, one [`MethodRegistry::register`] call:
//!
//! ```
//! use activation_approx::baselines::{program::{Ops, OpsExt, Val}, BuildContext, MethodInfo, MethodRegistry,
//!     MethodSpec, SecureMethod};
//! use activation_approx::TwoPartyCostModel;
//!
//! /// A toy: f(x) ≈ x/2 (one local multiplication by a public constant).
//! #[derive(Debug)]
//! struct Half;
//! impl SecureMethod for Half {
//!     fn name(&self) -> &str { "half" }
//!     fn activation(&self) -> &str { "silu" }
//!     fn citation(&self) -> &str { "toy example" }
//!     fn info(&self) -> MethodInfo { MethodInfo::polynomial(1) }
//!     fn program(&self, ops: &mut dyn Ops, x: Val) -> Val { ops.mul_const(x, 0.5) }
//! }
//!
//! let mut registry = MethodRegistry::builtin();
//! registry.register(MethodSpec {
//!     name: "half",
//!     about: "x/2",
//!     activations: &["silu"],
//!     build: |_ctx| Ok(Box::new(Half)),
//! }).unwrap();
//! let m = registry.build("half", &BuildContext::new("silu").unwrap()).unwrap();
//! assert_eq!(m.eval_f64(3.0), 1.5);
//! assert_eq!(m.eval_fixed(&[3.0]).unwrap(), vec![1.5]);
//! assert_eq!(m.cost(&TwoPartyCostModel::default()).bytes_per_party, 0);
//! ```

pub mod bolt;
pub mod compact;
pub mod crude;
pub mod crypten;
pub mod nfgen;
pub mod program;
pub mod puma;
pub mod quad;
pub mod relu;
pub mod report;
pub mod spline;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use thiserror::Error;

use crate::activation::{Activation, ActivationRegistry};
use crate::cost::{Cost, Truncation, TwoPartyCostModel};
use crate::error::ApproxError;
use crate::fixed::FixedPoint;
use program::{CostOps, F64Ops, FixedOps, Ops, Val};

/// Errors of building or running a method.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum BaselineError {
    /// A method name that is not registered.
    #[error("unknown method '{name}'; known: {known}")]
    UnknownMethod {
        /// The name asked for.
        name: String,
        /// Comma-separated registered names.
        known: String,
    },
    /// A method registered twice.
    #[error("method '{0}' is already registered; pick another name")]
    DuplicateMethod(String),
    /// The method exists but has no construction for this activation.
    #[error("method '{method}' is not defined for activation '{activation}'; it supports: {supported}")]
    NotDefined {
        /// The method.
        method: String,
        /// The activation asked for.
        activation: String,
        /// Activations the method supports.
        supported: String,
    },
    /// A bad option in a method's config.
    #[error("method '{method}': invalid option {key} = {value}: {hint}")]
    BadConfig {
        /// The method.
        method: String,
        /// The option name.
        key: String,
        /// The rejected value, printed.
        value: String,
        /// What would be accepted.
        hint: String,
    },
    /// A density-aware method built without a density.
    #[error("method '{0}' needs an input density; pass one, e.g. --density normal:0,1")]
    NeedsDensity(String),
    /// An error of the approximation layer (encoding, fitting, validation).
    #[error(transparent)]
    Approx(#[from] ApproxError),
}

/// Shorthand for results of this module.
pub type Result<T> = std::result::Result<T, BaselineError>;

/// Structure of a method, for reports: how many pieces of which degree over which range, and by which protocol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MethodInfo {
    /// Number of segments the secure program selects among (tails included); 1 for a single formula.
    pub pieces: usize,
    /// The polynomial degree of each segment (empty for iterative methods that are not polynomials).
    pub degrees: Vec<usize>,
    /// The range on which the approximation is a polynomial fit (outside: tails), if any.
    pub range: Option<(f64, f64)>,
    /// One line on how the program evaluates it.
    pub protocol: String,
}

impl MethodInfo {
    /// A single polynomial of the given degree, no comparisons.
    pub fn polynomial(degree: usize) -> Self {
        MethodInfo { pieces: 1, degrees: vec![degree], range: None, protocol: "one polynomial".into() }
    }
}

/// A way to evaluate an activation securely. Implement [`SecureMethod::program`] once; the f64, fixed-point and cost
/// evaluations are provided from it (override [`SecureMethod::eval_f64`] only when the published formula is not the
/// program's real-arithmetic value).
pub trait SecureMethod: Send + Sync + fmt::Debug {
    /// Method name, as registered (e.g. `"puma"`).
    fn name(&self) -> &str;
    /// The activation approximated (registry name, e.g. `"gelu"`).
    fn activation(&self) -> &str;
    /// Paper or source file and equation the method implements.
    fn citation(&self) -> &str;
    /// Structural summary.
    fn info(&self) -> MethodInfo;
    /// The secure program: given the input handle, returns the output handle.
    fn program(&self, ops: &mut dyn Ops, x: Val) -> Val;
    /// Fixed-point parameters the method targets (default f = 16).
    fn fixed_point(&self) -> FixedPoint {
        FixedPoint::default()
    }
    /// Points where the method's f64 value is not smooth (its thresholds), for quadrature and max-error search.
    fn kinks(&self) -> Vec<f64> {
        Vec::new()
    }
    /// Inputs on which the fixed-point program is meaningful (no ring overflow); secure-vs-fixed checks use it.
    fn fixed_domain(&self) -> (f64, f64) {
        (-8.0, 8.0)
    }

    /// f64 value at x (the program in real arithmetic).
    fn eval_f64(&self, x: f64) -> f64 {
        let (mut ops, input) = F64Ops::new(&[x]);
        let out = self.program(&mut ops, input);
        ops.get(out)[0]
    }
    /// Fixed-point values at xs (encode, run the program in the ring, decode).
    fn eval_fixed(&self, xs: &[f64]) -> Result<Vec<f64>> {
        let fx = self.fixed_point();
        let (mut ops, input) = FixedOps::from_f64(fx, xs)?;
        let out = self.program(&mut ops, input);
        Ok(ops.get(out)?.iter().map(|&v| fx.decode(v)).collect())
    }
    /// Fixed-point run on encoded inputs, returning ring elements (the exact twin of the secure run).
    fn eval_fixed_encoded(&self, xs: Vec<i64>) -> Result<Vec<i64>> {
        let (mut ops, input) = FixedOps::new(self.fixed_point(), xs);
        let out = self.program(&mut ops, input);
        Ok(ops.get(out)?.to_vec())
    }
    /// The truncation protocol the method's secure evaluation needs to be correct: [`Truncation::Local`] (SecureML,
    /// free, wrong with probability ≈ |v|/2^63 per truncated value v) unless its raw products come close to 2^63.
    fn truncation(&self) -> Truncation {
        Truncation::Local
    }
    /// Predicted per-element cost under `model`, with the stricter of `model`'s and the method's own truncation
    /// ([`SecureMethod::truncation`]).
    fn cost(&self, model: &TwoPartyCostModel) -> Cost {
        let model = TwoPartyCostModel { truncation: model.truncation.strictest(self.truncation()), ..*model };
        let (mut ops, input) = CostOps::with_fixed_point(model, self.fixed_point());
        let out = self.program(&mut ops, input);
        ops.cost(out)
    }
}

/// What a method is built from.
#[derive(Debug, Clone)]
pub struct BuildContext {
    /// The activation to approximate.
    pub activation: Arc<dyn Activation>,
    /// The input density, as a spec string (e.g. `normal:0,1`), for density-aware methods.
    pub density: Option<String>,
    /// Fixed-point parameters.
    pub fx: FixedPoint,
    /// Method options (a JSON object; `null` = defaults).
    pub config: serde_json::Value,
}

impl BuildContext {
    /// A context for a built-in activation by name, no density, f = 16, default options.
    pub fn new(activation: &str) -> Result<Self> {
        let activation = ActivationRegistry::builtin().get(activation)?;
        Ok(BuildContext { activation, density: None, fx: FixedPoint::default(), config: serde_json::Value::Null })
    }
    /// The activation's registry name.
    pub fn activation_name(&self) -> &str {
        self.activation.name()
    }
    /// The same context with these options.
    pub fn with_config(mut self, config: serde_json::Value) -> Self {
        self.config = config;
        self
    }
    /// The same context with this density.
    pub fn with_density(mut self, density: impl Into<String>) -> Self {
        self.density = Some(density.into());
        self
    }
}

/// Reads and validates a method's options; unknown keys are errors.
#[derive(Debug)]
pub struct Options<'a> {
    method: &'a str,
    map: serde_json::Map<String, serde_json::Value>,
    allowed: &'a [&'a str],
}

impl<'a> Options<'a> {
    /// Parses `config` (an object or null) for `method`, allowing only the keys in `allowed`.
    pub fn new(method: &'a str, config: &serde_json::Value, allowed: &'a [&'a str]) -> Result<Self> {
        let map = match config {
            serde_json::Value::Null => serde_json::Map::new(),
            serde_json::Value::Object(m) => m.clone(),
            other => {
                return Err(BaselineError::BadConfig {
                    method: method.into(),
                    key: "<config>".into(),
                    value: other.to_string(),
                    hint: "the config must be a JSON object of options".into(),
                });
            }
        };
        if let Some(k) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(BaselineError::BadConfig {
                method: method.into(),
                key: k.clone(),
                value: map[k].to_string(),
                hint: format!("unknown option; known: {}", allowed.join(", ")),
            });
        }
        Ok(Options { method, map, allowed })
    }

    /// An error about `key`.
    pub fn bad(&self, key: &str, value: impl fmt::Display, hint: impl Into<String>) -> BaselineError {
        BaselineError::BadConfig {
            method: self.method.into(),
            key: key.into(),
            value: value.to_string(),
            hint: hint.into(),
        }
    }

    /// A real option with a default, which must be finite and satisfy `ok` (described by `hint`).
    pub fn f64(&self, key: &str, default: f64, ok: impl Fn(f64) -> bool, hint: &str) -> Result<f64> {
        debug_assert!(self.allowed.contains(&key));
        let v = match self.map.get(key) {
            None => default,
            Some(v) => v.as_f64().ok_or_else(|| self.bad(key, v, "expected a number"))?,
        };
        if !v.is_finite() || !ok(v) {
            return Err(self.bad(key, v, hint));
        }
        Ok(v)
    }

    /// An integer option with a default, which must lie in `lo..=hi`.
    pub fn usize(&self, key: &str, default: usize, lo: usize, hi: usize) -> Result<usize> {
        let v = match self.map.get(key) {
            None => default,
            Some(v) => {
                let n = v.as_u64().ok_or_else(|| self.bad(key, v, "expected a non-negative integer"))?;
                usize::try_from(n).map_err(|_| self.bad(key, n, "too large"))?
            }
        };
        if !(lo..=hi).contains(&v) {
            return Err(self.bad(key, v, format!("must lie in {lo}..={hi}")));
        }
        Ok(v)
    }

    /// A string option with a default, which must be one of `choices`.
    pub fn choice(&self, key: &str, default: &'a str, choices: &[&'a str]) -> Result<String> {
        let v = match self.map.get(key) {
            None => default.to_string(),
            Some(v) => v.as_str().ok_or_else(|| self.bad(key, v, "expected a string"))?.to_string(),
        };
        if !choices.contains(&v.as_str()) {
            return Err(self.bad(key, &v, format!("one of {}", choices.join(", "))));
        }
        Ok(v)
    }

    /// A list of reals (e.g. coefficients), all finite; `None` when absent.
    pub fn f64_list(&self, key: &str) -> Result<Option<Vec<f64>>> {
        let Some(v) = self.map.get(key) else { return Ok(None) };
        let arr = v.as_array().ok_or_else(|| self.bad(key, v, "expected a list of numbers"))?;
        let out = arr
            .iter()
            .map(|e| e.as_f64().filter(|x| x.is_finite()).ok_or_else(|| self.bad(key, e, "expected finite numbers")))
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(out))
    }
}

/// A constructor of methods by name.
#[derive(Clone, Copy)]
pub struct MethodSpec {
    /// Registry name.
    pub name: &'static str,
    /// One line describing the method.
    pub about: &'static str,
    /// Activations it is defined for (registry names); empty = any activation.
    pub activations: &'static [&'static str],
    /// Builds the method (called only for a supported activation).
    pub build: fn(&BuildContext) -> Result<Box<dyn SecureMethod>>,
}

impl fmt::Debug for MethodSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MethodSpec").field("name", &self.name).field("activations", &self.activations).finish()
    }
}

impl MethodSpec {
    /// Whether the method is defined for `activation`.
    pub fn supports(&self, activation: &str) -> bool {
        self.activations.is_empty() || self.activations.contains(&activation)
    }
}

/// Methods by name, in registration order for reports.
#[derive(Debug, Clone)]
pub struct MethodRegistry {
    specs: Vec<MethodSpec>,
    index: BTreeMap<&'static str, usize>,
}

impl MethodRegistry {
    /// An empty registry.
    pub fn empty() -> Self {
        MethodRegistry { specs: Vec::new(), index: BTreeMap::new() }
    }

    /// Every built-in baseline (one line each).
    pub fn builtin() -> Self {
        let mut r = Self::empty();
        for spec in [
            compact::SPEC,
            compact::SPEC_UNIFORM_DENSITY,
            compact::SPEC_UNIFORM_BREAKPOINTS,
            nfgen::SPEC_ONEHOT,
            nfgen::SPEC_SORTED,
            puma::SPEC,
            bolt::SPEC_BOLT,
            bolt::SPEC_BUMBLEBEE,
            crypten::SPEC,
            crypten::SPEC_ERF,
            quad::SPEC,
            crude::SPEC,
            relu::SPEC,
        ] {
            // Built-in names are distinct by construction.
            let _ = r.register(spec);
        }
        r
    }

    /// Adds a method; a taken name is an error.
    pub fn register(&mut self, spec: MethodSpec) -> Result<()> {
        if self.index.contains_key(spec.name) {
            return Err(BaselineError::DuplicateMethod(spec.name.into()));
        }
        self.index.insert(spec.name, self.specs.len());
        self.specs.push(spec);
        Ok(())
    }

    /// All registered specs, in registration order.
    pub fn specs(&self) -> &[MethodSpec] {
        &self.specs
    }

    /// All names, in registration order.
    pub fn names(&self) -> Vec<&'static str> {
        self.specs.iter().map(|s| s.name).collect()
    }

    /// The spec registered under `name` (case-insensitive, `_` and `-` interchangeable).
    pub fn spec(&self, name: &str) -> Result<&MethodSpec> {
        let key = name.trim().to_ascii_lowercase().replace('_', "-");
        self.index
            .get(key.as_str())
            .map(|&i| &self.specs[i])
            .ok_or_else(|| BaselineError::UnknownMethod { name: crate::limits::clip(name), known: self.names().join(", ") })
    }

    /// Builds method `name` for the context's activation.
    pub fn build(&self, name: &str, ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
        let spec = self.spec(name)?;
        if !spec.supports(ctx.activation_name()) {
            return Err(BaselineError::NotDefined {
                method: spec.name.into(),
                activation: ctx.activation_name().into(),
                supported: spec.activations.join(", "),
            });
        }
        (spec.build)(ctx)
    }

    /// Names of the methods defined for `activation`.
    pub fn names_for(&self, activation: &str) -> Vec<&'static str> {
        self.specs.iter().filter(|s| s.supports(activation)).map(|s| s.name).collect()
    }
}

/// The error for a method asked to build for an activation its builder does not handle.
pub(crate) fn not_defined(method: &str, activation: &str, supported: &[&str]) -> BaselineError {
    BaselineError::NotDefined { method: method.into(), activation: activation.into(), supported: supported.join(", ") }
}
