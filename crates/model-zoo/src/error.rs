//! The crate's error type: every variant names the bad value and, where there is one, the way out.

use std::path::PathBuf;

/// The command that fetches the real datasets; quoted by every "missing data" error.
pub const FETCH_COMMAND: &str = "scripts/fetch-datasets.sh (or `make datasets`)";

/// Errors of dataset loading, model building, training and evaluation.
#[derive(Debug, thiserror::Error)]
pub enum ZooError {
    /// A dataset file is absent.
    #[error("dataset file {path} is missing; fetch the data with {FETCH_COMMAND}")]
    MissingData {
        /// The missing file or folder.
        path: PathBuf,
    },
    /// CIFAR-10 batches are absent (no reachable registry ships them).
    #[error("CIFAR-10 file {path} is missing; no package registry ships CIFAR-10, so copy the binary batches (data_batch_1..5.bin, test_batch.bin) into that folder yourself")]
    MissingCifar {
        /// The missing file.
        path: PathBuf,
    },
    /// A dataset file does not have the pinned content hash.
    #[error("checksum mismatch for {path}: sha256 {got}, expected {expected}; delete it and re-run {FETCH_COMMAND}")]
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// The sha256 found.
        got: String,
        /// The sha256 pinned in datasets/README.md.
        expected: String,
    },
    /// An IDX file is malformed.
    #[error("bad IDX file {path}: {reason}")]
    Idx {
        /// The file (or a fixture name).
        path: PathBuf,
        /// What is wrong, with the numbers involved.
        reason: String,
    },
    /// An R `.rda` file is malformed or does not hold the expected data frame.
    #[error("bad R data file {path}: {reason}")]
    Rda {
        /// The file (or a fixture name).
        path: PathBuf,
        /// What is wrong, with the byte offset where known.
        reason: String,
    },
    /// A CIFAR-10 binary batch is malformed.
    #[error("bad CIFAR-10 batch {path}: {reason}")]
    Cifar {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A dataset folder holds unexpected content (wrong counts, unknown group names).
    #[error("bad dataset {path}: {reason}")]
    BadDataset {
        /// The folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An unknown task name.
    #[error("unknown task '{name}'; known: {known}")]
    UnknownTask {
        /// The name given.
        name: String,
        /// The known names.
        known: String,
    },
    /// An activation name the registry does not know, or one that cannot be trained.
    #[error(transparent)]
    Activation(#[from] activation_approx::ApproxError),
    /// An activation that is registered but has no differentiable candle form.
    #[error("activation '{name}' cannot be used for training (no differentiable form); trainable: {trainable}")]
    NotTrainable {
        /// The name given.
        name: String,
        /// Names that can be trained.
        trainable: String,
    },
    /// A model or training configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A per-layer activation plan (plaintext [`crate::ActivationPlan`] or secure [`crate::secure::MethodPlan`]) does not
    /// match the model.
    #[error("activation plan has {got} entries but the model has {expected} activation layers; give one entry per activation layer, or one shared")]
    PlanLength {
        /// Entries in the plan.
        got: usize,
        /// Activation layers in the model.
        expected: usize,
    },
    /// An input batch has the wrong shape for the model.
    #[error("input shape {got:?} does not match the model's input shape {expected:?} (batch dimension first)")]
    InputShape {
        /// The shape given.
        got: Vec<usize>,
        /// The per-sample shape the model expects.
        expected: Vec<usize>,
    },
    /// A saved model is inconsistent with its sidecar.
    #[error("model file {path}: {reason}")]
    ModelFile {
        /// The weights or sidecar file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// I/O failure on a named file.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A JSON sidecar could not be read or written.
    #[error("model sidecar {path} is not valid JSON: {source}; retrain with `make train` or pass another --model")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A secure-computation step failed (shape, scale or fixed-point range).
    #[error("secure computation: {0}")]
    Mpc(#[from] mpc_sim::MpcError),
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle_core::Error),
}

/// Shorthand result type.
pub type Result<T> = std::result::Result<T, ZooError>;

/// Reads a whole file, turning "not found" into [`ZooError::MissingData`].
pub(crate) fn read_file(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ZooError::MissingData { path: path.to_path_buf() }
        } else {
            ZooError::Io { path: path.to_path_buf(), source }
        }
    })
}
