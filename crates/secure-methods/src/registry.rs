//! The method registry: methods by name, built from a [`BuildContext`] (activation, density, fixed point, JSON
//! options read through [`Options`]); every error names the value and the way out.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use activation_approx::{Activation, ActivationRegistry, ApproxError, FixedPoint};
use mpc_sim::MpcError;
use thiserror::Error;

use crate::method::SecureMethod;
use crate::{compact, crypten, nfgen, published};

/// Errors of building or running a method.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum MethodError {
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
    /// An error of the evaluator running a method's program.
    #[error(transparent)]
    Mpc(#[from] MpcError),
}

/// Shorthand for results of this module.
pub type Result<T> = std::result::Result<T, MethodError>;

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
                return Err(MethodError::BadConfig {
                    method: method.into(),
                    key: "<config>".into(),
                    value: other.to_string(),
                    hint: "the config must be a JSON object of options".into(),
                });
            }
        };
        if let Some(k) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(MethodError::BadConfig {
                method: method.into(),
                key: k.clone(),
                value: map[k].to_string(),
                hint: format!("unknown option; known: {}", allowed.join(", ")),
            });
        }
        Ok(Options { method, map, allowed })
    }

    /// An error about `key`.
    pub fn bad(&self, key: &str, value: impl fmt::Display, hint: impl Into<String>) -> MethodError {
        MethodError::BadConfig {
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
            published::SPEC_PUMA,
            published::SPEC_BOLT,
            published::SPEC_BUMBLEBEE,
            crypten::SPEC,
            crypten::SPEC_ERF,
            published::SPEC_QUAD,
            published::SPEC_CRUDE,
            published::SPEC_RELU,
        ] {
            // Built-in names are distinct by construction.
            let _ = r.register(spec);
        }
        r
    }

    /// Adds a method; a taken name is an error.
    pub fn register(&mut self, spec: MethodSpec) -> Result<()> {
        if self.index.contains_key(spec.name) {
            return Err(MethodError::DuplicateMethod(spec.name.into()));
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
            .ok_or_else(|| MethodError::UnknownMethod { name: activation_approx::limits::clip(name), known: self.names().join(", ") })
    }

    /// Builds method `name` for the context's activation.
    pub fn build(&self, name: &str, ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
        let spec = self.spec(name)?;
        if !spec.supports(ctx.activation_name()) {
            return Err(MethodError::NotDefined {
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
pub(crate) fn not_defined(method: &str, activation: &str, supported: &[&str]) -> MethodError {
    MethodError::NotDefined { method: method.into(), activation: activation.into(), supported: supported.join(", ") }
}
