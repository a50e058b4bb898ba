//! # secure-methods
//!
//! Every activation method of the comparison — Compact and its ablations, NFGen (one-hot and sorted), PUMA, BOLT,
//! BumbleBee, CrypTen and CrypTen-erf, MPCFormer's Quad, h-swish ("crude"), the ReLU swap — as ONE secure program
//! each, written against mpc-sim's [`mpc_sim::Evaluator`]. The same program is
//! - the secure protocol, on the two-party [`mpc_sim::Session`];
//! - its exact fixed-point reference, on the [`mpc_sim::PlainEvaluator`];
//! - its cost (rounds on the critical path, bytes per party, local-truncation failure bound), on the
//!   [`mpc_sim::CostEvaluator`].
//!
//! So every cost this workspace reports — the baselines table, the accuracy and depth records, `compact secure` —
//! is what a secure run of the same program meters (tests assert equality for every method, activation and
//! truncation protocol). Concurrency is explicit in the programs (`Evaluator::parallel`): the comparisons run
//! beside the power chain, so the metered rounds are the critical path by construction.
//!
//! Modules: [`method`] (the traits: [`Method`], the generic [`Program`], the dyn-compatible [`SecureMethod`] with
//! one entry point per evaluator, [`MethodEvaluator`]), [`registry`] (names, options, errors), the methods
//! ([`spline`] for every spline with public constants, through `Evaluator::piecewise`; [`compact`], [`published`],
//! [`nfgen`], [`crypten`]), [`transformer`] (row softmax and LayerNorm for transformers, with CrypTen's and
//! PUMA's recipes), [`report`] (one table row per method) and [`check`] (secure vs plain vs cost).
//!
//! The plain maths the methods need (NFGen's FAC fitting, the published splines, the annealing search) is
//! `activation-approx`; the protocols and evaluators are `mpc-sim`; this crate sits between them and the models.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod check;
pub mod compact;
pub mod crypten;
pub mod method;
pub mod nfgen;
pub mod published;
pub mod registry;
pub mod report;
pub mod spline;
pub mod transformer;

pub use check::{FssMethodCheck, MethodCheck, check_method, check_method_fss};
pub use method::{BackendCost, Method, MethodCost, MethodEvaluator, MethodInfo, Program, SecureMethod};
pub use registry::{BuildContext, MethodError, MethodRegistry, MethodSpec, Options, Result};
pub use report::{MethodReport, measure};
pub use spline::SplineMethod;
pub use transformer::{LayerNormRecipe, SoftmaxRecipe, layer_norm_rows, softmax_rows};
