//! # model-zoo
//!
//! Real datasets and candle models (CPU) for the four tasks of the reproduction, with a pluggable activation from
//! `activation-approx`'s catalogue at every hidden block (linear/conv → BatchNorm → activation):
//!
//! - [`data`]: loaders — IDX (MNIST, Fashion-MNIST), SpamAssassin raw e-mails → hashed bag-of-words, UCI Letter
//!   from R's `.rda` (own XDR reader), CIFAR-10 binary batches — with fixed train / validation / test splits and
//!   checksum verification against the pinned hashes.
//! - [`model`]: the MLP (configurable depth), the VGG-style CNN (6 conv + 2 FC activation layers), and the
//!   pre-norm Vision and text transformers (one activation layer per encoder block, in its MLP;
//!   layers in [`transformer`]).
//! - [`act`]: the differentiable candle form of each built-in activation, and [`ActivationPlan`], which replaces
//!   the activation by any `f64 → f64` function (all layers or per layer) at evaluation time.
//! - [`train`]: AdamW training with a warm-up + cosine schedule, evaluation, safetensors + JSON sidecar.
//! - [`stats`]: per activation layer, the feeding BatchNorm's γ, β and a histogram of calibration pre-activations.
//! - [`export`]: the layers as plain data (BatchNorm folded) plus a reference f64 forward pass, for the secure
//!   inference pass in `mpc-sim`'s consumer.
//! - [`zoo`]: the default model specs and [`zoo::train_and_save`], behind `make train`.
//!
//! The crate does not print; training shows an indicatif progress bar when asked to.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod act;
pub mod data;
pub mod error;
pub mod export;
pub mod model;
pub mod secure;
pub mod stats;
pub mod train;
pub mod transformer;
pub mod zoo;

pub use act::{ActFn, ActivationPlan, ModelActivation, act_fn};
pub use data::{Dataset, Task, TaskData, load_task};
pub use error::{Result, ZooError};
pub use export::{ExportedLayer, ExportedModel};
pub use model::{Arch, ModelConfig, Network};
pub use stats::{ActivationStats, Histogram, SoftmaxInputStats, activation_statistics, softmax_input_statistics};
pub use train::{Sidecar, TrainConfig, evaluate, load_model, save_model, train};
pub use zoo::{ModelSpec, default_spec, default_specs, train_and_save};
