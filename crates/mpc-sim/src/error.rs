//! The one error type of mpc-sim. Every variant names the offending values and the way out.

use activation_approx::ApproxError;
use thiserror::Error;

/// Everything that can go wrong when sharing, computing on or revealing values.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum MpcError {
    /// Encoding or approximation error from `activation-approx` (e.g. a value out of the fixed-point range).
    #[error(transparent)]
    Approx(#[from] ApproxError),
    /// Two operands with different shapes.
    #[error("shape mismatch in {op}: {left:?} vs {right:?}; reshape one operand first")]
    ShapeMismatch {
        /// The operation.
        op: &'static str,
        /// Shape of the left operand.
        left: Vec<usize>,
        /// Shape of the right operand.
        right: Vec<usize>,
    },
    /// Operands encoded with different fixed-point settings (or a value from another session).
    #[error("fixed-point mismatch in {op}: {left} vs {right} fractional bits; share both operands in one session")]
    FixedPointMismatch {
        /// The operation.
        op: &'static str,
        /// f of the left operand (or of the evaluator).
        left: u32,
        /// f of the right operand.
        right: u32,
    },
    /// Operands at different scales (fractional bits carried), e.g. adding a product before truncating it.
    #[error("scale mismatch in {op}: operands carry {left} and {right} fractional bits; truncate or rescale first")]
    ScaleMismatch {
        /// The operation.
        op: &'static str,
        /// Scale of the left operand.
        left: u32,
        /// Scale of the right operand.
        right: u32,
    },
    /// A product whose scale would exceed what the ring can hold.
    #[error("{op} would carry {scale} fractional bits (at most 62 fit the 64-bit ring); truncate an operand first")]
    ScaleOverflow {
        /// The operation.
        op: &'static str,
        /// The resulting scale.
        scale: u32,
    },
    /// Truncating a value that carries fewer than f fractional bits.
    #[error("cannot truncate a value carrying {scale} fractional bits by {frac_bits}; only products (scale ≥ f) are truncated")]
    TruncateBelowScale {
        /// Scale of the operand.
        scale: u32,
        /// f.
        frac_bits: u32,
    },
    /// A data vector that does not fill the stated shape.
    #[error("{len} values do not fill shape {shape:?} ({expected} elements); pass exactly as many values as the shape holds")]
    LengthMismatch {
        /// Number of values given.
        len: usize,
        /// The shape.
        shape: Vec<usize>,
        /// Elements the shape holds.
        expected: usize,
    },
    /// Any other invalid parameter, with its name and value.
    #[error("invalid {name} = {value}: {hint}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// The rejected value, printed.
        value: String,
        /// What would be accepted.
        hint: &'static str,
    },
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, MpcError>;
