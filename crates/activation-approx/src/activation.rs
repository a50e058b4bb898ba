//! The activation catalogue: exact f64 values and the asymptotes ("tails") at −∞ and +∞.
//!
//! A built-in activation is a variant of [`Builtin`]; a user-defined one is any type implementing the small
//! [`Activation`] trait, registered by name in an [`ActivationRegistry`]:
//!
//! ```
//! use activation_approx::{Activation, ActivationRegistry, Tail};
//! use std::sync::Arc;
//!
//! /// Swish with β = 2: x·σ(2x).
//! #[derive(Debug)]
//! struct Swish2;
//! impl Activation for Swish2 {
//!     fn name(&self) -> &str { "swish2" }
//!     fn eval(&self, x: f64) -> f64 { x / (1.0 + (-2.0 * x).exp()) }
//!     fn left_tail(&self) -> Tail { Tail::Zero }
//!     fn right_tail(&self) -> Tail { Tail::Identity }
//! }
//!
//! let mut registry = ActivationRegistry::builtin();
//! registry.register(Arc::new(Swish2)).unwrap();
//! let f = registry.get("swish2").unwrap();
//! assert!((f.eval(1.0) - 1.0 / (1.0 + (-2.0f64).exp())).abs() < 1e-15);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{ApproxError, Result};

/// The behaviour of a function far out on one side: what it is approximated by beyond the outermost breakpoint.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Tail {
    /// f(x) → 0.
    Zero,
    /// f(x) → c.
    Constant {
        /// The constant c.
        value: f64,
    },
    /// f(x) → x.
    Identity,
    /// f(x) → slope·x + intercept.
    Linear {
        /// Slope.
        slope: f64,
        /// Intercept.
        intercept: f64,
    },
}

impl std::fmt::Display for Tail {
    /// The tail as a formula for user output: `0`, `c = 0.25`, `x`, `0.5·x + 1` (never Rust debug text).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::limits::num;
        match *self {
            Tail::Zero => f.write_str("0"),
            Tail::Constant { value } => write!(f, "constant {}", num(value)),
            Tail::Identity => f.write_str("x"),
            Tail::Linear { slope, intercept } => write!(f, "{}·x + {}", num(slope), num(intercept)),
        }
    }
}

impl Tail {
    /// Value of the tail at `x`.
    pub fn eval(&self, x: f64) -> f64 {
        let (a, b) = self.slope_intercept();
        a * x + b
    }

    /// The tail as (slope, intercept).
    pub fn slope_intercept(&self) -> (f64, f64) {
        match *self {
            Tail::Zero => (0.0, 0.0),
            Tail::Constant { value } => (0.0, value),
            Tail::Identity => (1.0, 0.0),
            Tail::Linear { slope, intercept } => (slope, intercept),
        }
    }

    /// The tail as a monomial-basis polynomial of degree ≤ 1.
    pub fn to_polynomial(&self) -> crate::Polynomial {
        let (a, b) = self.slope_intercept();
        crate::Polynomial::new(vec![b, a])
    }
}

/// An activation function: its exact value and its tails.
///
/// Implement this (four methods) and [`ActivationRegistry::register`] it to make a new activation available to every
/// fitter, baseline and CLI command by name.
pub trait Activation: Send + Sync + fmt::Debug {
    /// The registry name (lower case, e.g. `"silu"`).
    fn name(&self) -> &str;
    /// The exact value f(x) in f64.
    fn eval(&self, x: f64) -> f64;
    /// The asymptote at −∞.
    fn left_tail(&self) -> Tail;
    /// The asymptote at +∞.
    fn right_tail(&self) -> Tail;
}

const SELU_LAMBDA: f64 = 1.050_700_987_355_480_5;
const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;

/// The built-in activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Builtin {
    /// SiLU / swish: x·σ(x).
    Silu,
    /// GELU, exact: x·Φ(x) = x·(1 + erf(x/√2))/2.
    Gelu,
    /// GELU, tanh form: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
    GeluTanh,
    /// Mish: x·tanh(softplus(x)).
    Mish,
    /// Logistic sigmoid σ(x) = 1/(1 + e^−x).
    Sigmoid,
    /// tanh(x).
    Tanh,
    /// softplus(x) = ln(1 + eˣ).
    Softplus,
    /// ELU with α = 1: x for x > 0, eˣ − 1 otherwise.
    Elu,
    /// SELU: λ·x for x > 0, λ·α·(eˣ − 1) otherwise (Klambauer et al. 2017 constants).
    Selu,
    /// ReLU: max(x, 0).
    Relu,
}

impl Builtin {
    /// Every built-in, in catalogue order.
    pub const ALL: [Builtin; 10] = [
        Builtin::Silu,
        Builtin::Gelu,
        Builtin::GeluTanh,
        Builtin::Mish,
        Builtin::Sigmoid,
        Builtin::Tanh,
        Builtin::Softplus,
        Builtin::Elu,
        Builtin::Selu,
        Builtin::Relu,
    ];
}

/// Numerically stable logistic sigmoid.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Numerically stable softplus ln(1 + eˣ).
pub fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

impl Activation for Builtin {
    fn name(&self) -> &str {
        match self {
            Builtin::Silu => "silu",
            Builtin::Gelu => "gelu",
            Builtin::GeluTanh => "gelu_tanh",
            Builtin::Mish => "mish",
            Builtin::Sigmoid => "sigmoid",
            Builtin::Tanh => "tanh",
            Builtin::Softplus => "softplus",
            Builtin::Elu => "elu",
            Builtin::Selu => "selu",
            Builtin::Relu => "relu",
        }
    }

    fn eval(&self, x: f64) -> f64 {
        match self {
            Builtin::Silu => x * sigmoid(x),
            Builtin::Gelu => 0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)),
            Builtin::GeluTanh => {
                let k = (2.0 / std::f64::consts::PI).sqrt();
                0.5 * x * (1.0 + (k * (x + 0.044_715 * x * x * x)).tanh())
            }
            Builtin::Mish => x * softplus(x).tanh(),
            Builtin::Sigmoid => sigmoid(x),
            Builtin::Tanh => x.tanh(),
            Builtin::Softplus => softplus(x),
            Builtin::Elu => {
                if x > 0.0 {
                    x
                } else {
                    x.exp_m1()
                }
            }
            Builtin::Selu => {
                if x > 0.0 {
                    SELU_LAMBDA * x
                } else {
                    SELU_LAMBDA * SELU_ALPHA * x.exp_m1()
                }
            }
            Builtin::Relu => x.max(0.0),
        }
    }

    fn left_tail(&self) -> Tail {
        match self {
            Builtin::Tanh => Tail::Constant { value: -1.0 },
            Builtin::Elu => Tail::Constant { value: -1.0 },
            Builtin::Selu => Tail::Constant { value: -SELU_LAMBDA * SELU_ALPHA },
            _ => Tail::Zero,
        }
    }

    fn right_tail(&self) -> Tail {
        match self {
            Builtin::Sigmoid | Builtin::Tanh => Tail::Constant { value: 1.0 },
            Builtin::Selu => Tail::Linear { slope: SELU_LAMBDA, intercept: 0.0 },
            _ => Tail::Identity,
        }
    }
}

/// Activations by name. Starts with the built-ins ([`ActivationRegistry::builtin`]); user activations are added with
/// [`ActivationRegistry::register`].
#[derive(Debug, Clone)]
pub struct ActivationRegistry {
    by_name: BTreeMap<String, Arc<dyn Activation>>,
}

impl ActivationRegistry {
    /// A registry holding every [`Builtin`].
    pub fn builtin() -> Self {
        let by_name = Builtin::ALL
            .iter()
            .map(|b| (b.name().to_string(), Arc::new(*b) as Arc<dyn Activation>))
            .collect();
        ActivationRegistry { by_name }
    }

    /// Adds an activation under its own [`Activation::name`]; a name already taken is an error.
    pub fn register(&mut self, activation: Arc<dyn Activation>) -> Result<()> {
        let name = activation.name().to_string();
        if self.by_name.contains_key(&name) {
            return Err(ApproxError::DuplicateActivation(name));
        }
        self.by_name.insert(name, activation);
        Ok(())
    }

    /// Looks an activation up by name (case-insensitive; `-` and `_` are interchangeable).
    pub fn get(&self, name: &str) -> Result<Arc<dyn Activation>> {
        let key = name.trim().to_ascii_lowercase().replace('-', "_");
        self.by_name.get(&key).cloned().ok_or_else(|| ApproxError::UnknownActivation {
            name: crate::limits::clip(name),
            known: self.names().join(", "),
        })
    }

    /// All registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.by_name.keys().cloned().collect()
    }
}

impl Default for ActivationRegistry {
    fn default() -> Self {
        Self::builtin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Reference values computed independently (Python decimal / math.erf).
        let cases = [
            (Builtin::Silu, 1.0, 0.731_058_578_630_004_9),
            (Builtin::Gelu, 1.0, 0.841_344_746_068_542_9),
            (Builtin::Gelu, -2.0, -0.045_500_263_896_358_42),
            (Builtin::GeluTanh, 1.0, 0.841_191_990_607_477_8),
            (Builtin::Mish, 1.0, 0.865_098_388_267_310_3),
            (Builtin::Softplus, 0.0, std::f64::consts::LN_2),
            (Builtin::Selu, -1.0, -1.111_330_737_812_562_3),
        ];
        for (f, x, want) in cases {
            assert!((f.eval(x) - want).abs() < 1e-12, "{} at {x}: {} vs {want}", f.name(), f.eval(x));
        }
    }

    #[test]
    fn tails_are_asymptotes() {
        for f in Builtin::ALL {
            let (l, r) = (f.left_tail(), f.right_tail());
            assert!((f.eval(-40.0) - l.eval(-40.0)).abs() < 1e-9, "{} left", f.name());
            assert!((f.eval(40.0) - r.eval(40.0)).abs() < 1e-9, "{} right", f.name());
        }
    }

    #[test]
    fn unknown_name_lists_known() {
        let err = ActivationRegistry::builtin().get("swsh").unwrap_err().to_string();
        assert!(err.contains("swsh") && err.contains("silu"), "{err}");
    }
}
