//! # activation-approx
//!
//! Plain f64 mathematics for MPC-friendly activation functions, after Compact (Islam et al., PoPETs 2024):
//! an activation catalogue, input densities, piecewise polynomials with tails, Chebyshev fitting, the annealing
//! search, the baselines' plain maths (NFGen's fitting, published splines), error metrics and a versioned JSON
//! format. Secure evaluation lives in the sibling crates `mpc-sim` (protocols, evaluators) and `secure-methods` (every
//! method's secure program, the registry and the report), which reproduce this crate's fixed-point emulation
//! ([`fixed`], [`piecewise`]) on secret shares; no candle and no MPC here.
//!
//! Modules:
//! - [`activation`]: the [`Activation`] trait, the built-ins ([`Builtin`]) and the name registry.
//! - [`poly`], [`piecewise`]: monomial polynomials and piecewise polynomials with tails.
//! - [`fixed`]: fixed-point encoding, the truncation rule and the power tree MPC uses.
//! - [`cost`]: the one cost type [`Cost`] of the workspace (rounds, bytes, counts; sequential and parallel
//!   composition) and the search's closed-form price of the secure spline protocol (tested equal to mpc-sim's cost
//!   evaluator) and its local-truncation failure bound.
//! - [`nfgen`]: NFGen's FAC fitting (the baseline's plain maths).
//! - [`published`]: the baselines' published splines (PUMA, BOLT, BumbleBee, h-swish, ReLU, MPCFormer Quad).
//! - [`chebyshev`]: per-piece Chebyshev interpolation / weighted least squares and the monomial conversion.
//! - [`density`]: input densities (uniform, normal, empirical histogram, mixtures) and the CLI/JSON [`DensitySpec`].
//! - [`export`]: programs for MPyC, CrypTen and SPU, their verification inputs and agreement bound, and
//!   hand-written tables in and out.
//! - [`format`](mod@format): the versioned JSON file of an approximation ([`ApproximationFile`]).
//! - [`metrics`]: max, density-weighted and NFGen-relative errors; the fixed-point error bound.
//! - [`search`]: simulated annealing and the exhaustive reference search over structures.
//! - [`quad`]: Gauss–Legendre quadrature.
//! - [`quantity`]: the newtypes [`Rounds`], [`Bytes`] and [`Count`] the cost is made of.

//!
//! Fitting SiLU for inputs N(0, 1) with weighted error ≤ 1e-2 (`compact fit` does this from the command line):
//!
//! ```
//! use activation_approx::*;
//! let crit = Criterion::weighted("normal:0,1".parse()?, 1e-2, None)?;
//! let model = TwoPartyCostModel::default();
//! let cfg = AnnealConfig { iterations: 200, restarts: 2, seed: 1, ..AnnealConfig::default() };
//! let best = anneal(&Fitter::new(&Builtin::Silu, &crit, &model), &cfg)?.best;
//! assert!(best.error <= 1e-2 && best.cost.comparisons >= Count(2));
//! # Ok::<(), ApproxError>(())
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod activation;
pub mod chebyshev;
pub mod cost;
pub mod density;
pub mod error;
pub mod export;
pub mod fixed;
pub mod fss_cost;
pub mod format;
pub mod limits;
pub mod metrics;
pub mod nfgen;
pub mod one_comparison;
pub mod piecewise;
pub mod poly;
pub mod published;
pub mod quad;
pub mod quantity;
pub mod search;
pub mod verify;

pub use activation::{Activation, ActivationRegistry, Builtin, Tail};
pub use density::{Density, DensitySpec, Empirical, Mixture, Normal, Uniform};
pub use cost::{Cost, CostModel, Truncation, TwoPartyCostModel};
pub use fss_cost::FssCostModel;
pub use error::{ApproxError, Result};
pub use fixed::FixedPoint;
pub use format::ApproximationFile;
pub use metrics::ErrorReport;
pub use piecewise::{EncodedPiecewise, PiecewisePoly};
pub use poly::Polynomial;
pub use quantity::{Bytes, Count, Rounds};
pub use search::{
    AnnealConfig, Criterion, ExhaustiveGrid, Fitter, SearchSpace, Structure, TailFit, anneal, exhaustive,
};
