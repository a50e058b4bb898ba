//! The one error type of this crate. Every variant names the offending value and, where there is one, the way out.

use thiserror::Error;

/// Everything that can go wrong when building, fitting, evaluating or loading an approximation.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ApproxError {
    /// An activation name that is not registered.
    #[error("unknown activation '{name}'; known: {known}")]
    UnknownActivation {
        /// The name asked for.
        name: String,
        /// Comma-separated registered names.
        known: String,
    },
    /// An activation registered twice under one name.
    #[error("activation '{0}' is already registered; pick another name")]
    DuplicateActivation(String),
    /// A value that does not fit the fixed-point encoding.
    #[error("value {} does not fit fixed point with {frac_bits} fractional bits in the 64-bit ring (|x| must be < {})", crate::limits::num(*.value), crate::limits::num(*.limit))]
    FixedPointOverflow {
        /// The value.
        value: f64,
        /// Fractional bits in use.
        frac_bits: u32,
        /// The largest magnitude that fits.
        limit: f64,
    },
    /// Fractional bits outside the supported range.
    #[error("fractional bits {0} out of range; use 1..=30")]
    BadFracBits(u32),
    /// A polynomial degree that would overflow the ring on the given range.
    #[error("degree {degree} on |x| ≤ {} overflows the 64-bit ring with {frac_bits} fractional bits (needs {needed_bits} bits); lower the degree or narrow the range", crate::limits::num(*.max_abs))]
    DegreeOverflow {
        /// The degree.
        degree: usize,
        /// Largest |x| of the range.
        max_abs: f64,
        /// Fractional bits.
        frac_bits: u32,
        /// Bits an intermediate would need.
        needed_bits: u32,
    },
    /// A structure whose local truncations fail too often for inputs of the given bound.
    #[error("local truncation fails with probability up to {bound:.3e} per element for |x| ≤ {max_abs} (limit {limit:.3e}); lower the degree, narrow the range, or choose dealer-pair truncation")]
    LocalTruncationFailure {
        /// The per-element failure bound.
        bound: f64,
        /// Largest |x| assumed.
        max_abs: f64,
        /// The admitted limit.
        limit: f64,
    },
    /// A structurally invalid piecewise polynomial.
    #[error("invalid piecewise polynomial: {0}")]
    InvalidPiecewise(String),
    /// Any other invalid parameter, with its name and value.
    #[error("invalid {name} = {value}: {hint}")]
    InvalidParameter {
        /// Parameter name, as the user spells it.
        name: &'static str,
        /// The rejected value, printed.
        value: String,
        /// What would be accepted.
        hint: &'static str,
    },
    /// An input density that cannot be built or parsed (std ≤ 0, a ≥ b, empty histogram, NaN, bad syntax…).
    #[error("invalid density '{spec}': {reason}")]
    InvalidDensity {
        /// The density as given (CLI string or a description).
        spec: String,
        /// What is wrong and what would be accepted.
        reason: String,
    },
    /// A polynomial whose monomial form loses too much precision on its interval.
    #[error("degree {degree} on [{}, {}]: monomial form is ill-conditioned (condition {condition:.3e} > limit {limit:.1e}); lower the degree or use a piece nearer 0", crate::limits::num(*.a), crate::limits::num(*.b))]
    IllConditioned {
        /// Degree.
        degree: usize,
        /// Interval start.
        a: f64,
        /// Interval end.
        b: f64,
        /// Estimated condition number Σ|c_j|·max|x|^j / max|p|.
        condition: f64,
        /// The limit in force.
        limit: f64,
    },
    /// The search found no structure meeting the accuracy target.
    #[error("no approximation of '{activation}' meets {criterion} within the search space; {hint}")]
    Infeasible {
        /// Activation name.
        activation: String,
        /// The criterion, printed (e.g. "weighted error ≤ 1e-6").
        criterion: String,
        /// The way out.
        hint: String,
    },
    /// A JSON approximation file that cannot be used.
    #[error("approximation file: {0}")]
    Format(String),
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, ApproxError>;
