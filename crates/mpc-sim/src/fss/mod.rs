//! A function-secret-sharing (FSS) backend: the same semi-honest trusted-dealer model as [`crate::Session`], with
//! comparisons and whole piecewise polynomials evaluated by distributed comparison functions (DCF) in one online
//! round, at the price of kilobytes of dealer keys per element.
//!
//! - [`dcf`]: the DCF of Boyle et al. (EUROCRYPT 2021) on a fixed-key AES PRG (key generation and evaluation);
//! - [`session`]: [`FssSession`], an [`crate::Evaluator`] that overrides `ltz` and `piecewise` with FSS gates and
//!   runs everything else (products, truncation, matrix products) on the wrapped Beaver session;
//! - [`fused`]: the fused spline gate (degree ≤ 1, truncation inside) as separate dealer and online phases;
//! - [`cost`]: closed-form gate costs and [`FssCostEvaluator`], which predicts exactly what the session meters.

pub mod cost;
pub mod dcf;
pub mod fused;
pub mod session;

pub use cost::FssCostEvaluator;
pub use fused::{FusedSplineGate, FusedSplineKeys};
pub use session::{FssConfig, FssSession, GateKeys, SplineLayout, spline_payload};
