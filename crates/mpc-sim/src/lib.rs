//! # mpc-sim
//!
//! A simulated semi-honest two-party computation backend: additive secret sharing over Z_{2^64}, fixed point
//! (`activation_approx::FixedPoint`), a trusted dealer, and a metered channel that counts every round and byte. It
//! runs real protocols on real shares and evaluates the approximations of `activation-approx` securely; the
//! approximation search itself and the models live in the sibling crates.
//!
//! Modules:
//! - [`share`]: parties, per-party data ([`Pair`], readable only through a [`PartyView`]), [`Shared`] values, [`Meta`].
//! - [`meter`]: the metered [`Channel`] (rounds, bytes per party, offline bytes, nested labels) and [`Network`]
//!   latency presets.
//! - [`dealer`]: the trusted dealer (Beaver/AND/matrix triples, square and truncation pairs, private products).
//! - [`evaluator`]: the [`Evaluator`] trait shared by the secure [`Session`], the [`PlainEvaluator`] and the
//!   [`CostEvaluator`].
//! - [`secure`]: the protocols (input sharing, Beaver, square, truncation local / dealer pair, LTZ, matrix product,
//!   reveal).
//! - [`recipes`]: power tree, polynomial, piecewise polynomial, CrypTen exp and reciprocal — written once, generic.
//! - [`nn`]: conv2d (im2col), pooling, batch-norm folding.
//! - [`fss`]: the function-secret-sharing backend ([`FssSession`]: DCF-based comparison and spline gates).
//! - [`predict`]: the cost evaluator (primitive closed forms, magnitude bounds, local-truncation failure bound);
//!   [`bounds`]: error bounds of secure piecewise evaluation.
//!
//! The methods' secure programs (Compact and the baselines) are written against [`Evaluator`] in the sibling crate
//! `secure-methods`.
//!
//! ```
//! use mpc_sim::{Evaluator, Party, PlainEvaluator, Session, SessionConfig};
//! let mut s = Session::new(SessionConfig::default());
//! let x = s.input(Party::P0, &[-1.5, 0.0, 2.25], &[3]).unwrap();
//! let y = s.mul(&x, &x).unwrap();
//! let r = s.reveal(&y).unwrap();
//! assert!((r[0] - 2.25).abs() < 1e-4 && (r[2] - 5.0625).abs() < 1e-4);
//! assert_eq!(s.total().cost().rounds.get(), 3); // input sharing, one Beaver round, the reveal; local truncation is free
//! # let _ = PlainEvaluator::new(Default::default());
//! ```

pub mod bounds;
pub mod dealer;
pub mod error;
pub mod evaluator;
pub mod fss;
pub mod meter;
pub mod nn;
pub mod plain;
pub mod predict;
pub mod recipes;
pub mod ring;
pub mod secure;
pub mod share;

pub use activation_approx::{Bytes, Cost, Count, FixedPoint, Rounds, Truncation};
pub use dealer::Dealer;
pub use error::{MpcError, Result};
pub use evaluator::Evaluator;
pub use fss::{FssConfig, FssCostEvaluator, FssSession};
pub use meter::{Channel, Network, Stats, ViewItem, ViewKind};
pub use plain::{PlainEvaluator, PlainValue};
pub use predict::{CostEvaluator, CostValue};
pub use secure::{FixedShared, Session, SessionConfig};
pub use share::{Meta, Pair, Party, PartyView, Shared};
