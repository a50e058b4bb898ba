//! Dataset loaders and the fixed train / validation / test splits of the four tasks.
//!
//! All features are `f32`, stored row-major, one sample after another; images are channels-last
//! (H × W × C), the layout the CNN uses. Every task carves its validation split out of the training
//! data; the test split is never used for a choice.
//!
//! | task | source files (under `datasets/`) | train | validation | test |
//! |---|---|---|---|---|
//! | mnist | `mnist/*-ubyte` | train rows 0..55 000 | train rows 55 000..60 000 | t10k (10 000) |
//! | fashion-mnist | `fashion-mnist/*-ubyte` | train rows 0..55 000 | train rows 55 000..60 000 | t10k (10 000) |
//! | spam | `spam-assassin/<group>/*.txt` | md5 bucket 0..70 | md5 bucket 70..80 | md5 bucket 80..100 |
//! | letter | `letter/LetterRecognition.rda` | rows 0..14 000 | rows 14 000..16 000 | rows 16 000..20 000 |
//!
//! Pixels are scaled to [0, 1]; Letter's 16 integer features are standardized with the mean and
//! standard deviation of its training rows; spam features are described in [`spam`].

pub mod cifar;
pub mod idx;
pub mod letter;
pub mod rda;
pub mod spam;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Result, ZooError, read_file};

/// A labelled set of samples with a fixed per-sample shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Row-major features, `len() * sample_len()` values.
    pub features: Vec<f32>,
    /// Class labels in `0..n_classes`.
    pub labels: Vec<u32>,
    /// Shape of one sample, e.g. `[784]` or `[28, 28, 1]`.
    pub sample_shape: Vec<usize>,
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of values per sample.
    pub fn sample_len(&self) -> usize {
        self.sample_shape.iter().product()
    }

    /// Rows `start..end` as a new dataset.
    pub fn slice(&self, start: usize, end: usize) -> Dataset {
        let d = self.sample_len();
        let end = end.min(self.len());
        let start = start.min(end);
        Dataset {
            features: self.features[start * d..end * d].to_vec(),
            labels: self.labels[start..end].to_vec(),
            sample_shape: self.sample_shape.clone(),
        }
    }

    /// The samples at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        let d = self.sample_len();
        let mut features = Vec::with_capacity(indices.len() * d);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            features.extend_from_slice(&self.features[i * d..(i + 1) * d]);
            labels.push(self.labels[i]);
        }
        Dataset { features, labels, sample_shape: self.sample_shape.clone() }
    }

    /// The same samples with a different per-sample shape of equal size (e.g. `[784]` → `[28, 28, 1]`).
    pub fn reshaped(mut self, sample_shape: Vec<usize>) -> Result<Dataset> {
        let want: usize = sample_shape.iter().product();
        if want != self.sample_len() {
            return Err(ZooError::Config(format!(
                "cannot reshape samples of {} values to {sample_shape:?} ({want} values)",
                self.sample_len()
            )));
        }
        self.sample_shape = sample_shape;
        Ok(self)
    }
}

/// The four tasks of the model zoo (plus CIFAR-10 where a user supplies the files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// MNIST digits, MLP of configurable depth.
    Mnist,
    /// Fashion-MNIST, VGG-style CNN.
    FashionMnist,
    /// SpamAssassin e-mails, hashed bag-of-words MLP.
    Spam,
    /// UCI Letter Recognition, MLP of configurable depth.
    Letter,
    /// CIFAR-10 from user-supplied binary batches (`datasets/cifar-10/`), same CNN shape at 32×32×3.
    Cifar10,
    /// MNIST images `[28, 28, 1]` for the Vision Transformer.
    MnistVit,
    /// Fashion-MNIST images `[28, 28, 1]` for the Vision Transformer.
    FashionMnistVit,
    /// SpamAssassin e-mails as token-id sequences ([`spam::token_ids`]) for the text transformer.
    SpamText,
}

impl Task {
    /// Every task.
    pub const ALL: [Task; 8] =
        [Task::Mnist, Task::FashionMnist, Task::Spam, Task::Letter, Task::Cifar10, Task::MnistVit, Task::FashionMnistVit, Task::SpamText];

    /// The task's name (as in specs and on the command line).
    pub fn name(self) -> &'static str {
        match self {
            Task::Mnist => "mnist",
            Task::FashionMnist => "fashion-mnist",
            Task::Spam => "spam",
            Task::Letter => "letter",
            Task::Cifar10 => "cifar10",
            Task::MnistVit => "mnist-vit",
            Task::FashionMnistVit => "fashion-mnist-vit",
            Task::SpamText => "spam-text",
        }
    }

    /// Number of classes.
    pub fn n_classes(self) -> usize {
        match self {
            Task::Mnist | Task::FashionMnist | Task::Cifar10 | Task::MnistVit | Task::FashionMnistVit => 10,
            Task::Spam | Task::SpamText => 2,
            Task::Letter => 26,
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Task {
    type Err = ZooError;
    fn from_str(s: &str) -> Result<Task> {
        let key = s.trim().to_ascii_lowercase().replace('_', "-");
        let key = match key.as_str() {
            "fashion" | "fashionmnist" => "fashion-mnist",
            "spamassassin" | "spam-assassin" => "spam",
            "cifar-10" => "cifar10",
            "fashion-vit" | "fashionmnist-vit" => "fashion-mnist-vit",
            "spam-transformer" | "spamassassin-text" => "spam-text",
            k => k,
        };
        Task::ALL.into_iter().find(|t| t.name() == key).ok_or_else(|| ZooError::UnknownTask {
            name: activation_approx::limits::clip(s),
            known: Task::ALL.map(Task::name).join(", "),
        })
    }
}

/// A task's data: the three splits and the checksum of the files they came from.
#[derive(Debug, Clone)]
pub struct TaskData {
    /// The task.
    pub task: Task,
    /// Training split.
    pub train: Dataset,
    /// Validation split (carved from the training data).
    pub val: Dataset,
    /// Test split.
    pub test: Dataset,
    /// Number of classes.
    pub n_classes: usize,
    /// sha256 identifying the source files (see [`combined_checksum`]).
    pub checksum: String,
}

/// Lower-case hex sha256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// One checksum for several files: the sha256 of the concatenated lower-case hex sha256s, in the order given.
pub fn combined_checksum(hashes: &[String]) -> String {
    sha256_hex(hashes.concat().as_bytes())
}

/// Reads a file and checks its sha256 against `expected`.
pub fn read_verified(path: &Path, expected: &str) -> Result<(Vec<u8>, String)> {
    let bytes = read_file(path)?;
    let got = sha256_hex(&bytes);
    if got != expected {
        return Err(ZooError::ChecksumMismatch { path: path.to_path_buf(), got, expected: expected.to_string() });
    }
    Ok((bytes, got))
}

/// Pinned content hashes (datasets/README.md): `(relative path, sha256)`.
pub const PINNED: [(&str, &str); 9] = [
    ("mnist/train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    ("mnist/train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    ("mnist/t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    ("mnist/t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    ("fashion-mnist/train-images-idx3-ubyte", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    ("fashion-mnist/train-labels-idx1-ubyte", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    ("fashion-mnist/t10k-images-idx3-ubyte", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    ("fashion-mnist/t10k-labels-idx1-ubyte", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    ("letter/LetterRecognition.rda", "967a1a3e10b548d7269cbe50182bcecd6365cc58ea07638bbc34c51f17f34f1d"),
];

/// sha256 of the SpamAssassin manifest (see [`spam::manifest_sha256`]).
pub const SPAM_MANIFEST_SHA256: &str = "7971ff4f4130e81f8bd4d8e0f4dee89da2ab42efacba4d1c26e2200b8e1ea975";

fn pinned(rel: &str) -> &'static str {
    PINNED.iter().find(|(p, _)| *p == rel).map(|(_, h)| *h).unwrap_or("")
}

/// Validation rows carved from the end of the 60 000 MNIST / Fashion-MNIST training rows.
pub const IMAGE_VAL_ROWS: usize = 5_000;

/// Loads a task's data from `root` (normally `datasets/`), verifying the pinned checksums.
///
/// MLP tasks get flat samples (`[784]`, `[4096]`, `[16]`); Fashion-MNIST and CIFAR-10 get images
/// (`[28, 28, 1]`, `[32, 32, 3]`); the transformer tasks get the same images (`mnist-vit`, `fashion-mnist-vit`:
/// `[28, 28, 1]`) or token-id sequences (`spam-text`: `[`[`spam::TOKEN_MAX_LEN`]`]`, ids among
/// 2^[`spam::TOKEN_HASH_BITS`], padding −1), with the same splits as their base task.
pub fn load_task(task: Task, root: &Path) -> Result<TaskData> {
    match task {
        Task::MnistVit | Task::FashionMnistVit => {
            let base = load_task(if task == Task::MnistVit { Task::Mnist } else { Task::FashionMnist }, root)?;
            let image = vec![28, 28, 1];
            Ok(TaskData {
                task,
                train: base.train.reshaped(image.clone())?,
                val: base.val.reshaped(image.clone())?,
                test: base.test.reshaped(image)?,
                n_classes: 10,
                checksum: base.checksum,
            })
        }
        Task::SpamText => {
            let dir = root.join("spam-assassin");
            let corpus = spam::read_corpus(&dir)?;
            let manifest = spam::manifest_sha256(&corpus);
            if manifest != SPAM_MANIFEST_SHA256 {
                return Err(ZooError::ChecksumMismatch { path: dir, got: manifest, expected: SPAM_MANIFEST_SHA256.to_string() });
            }
            let (train, val, test) = spam::spam_token_splits(&corpus, spam::TOKEN_HASH_BITS, spam::TOKEN_MAX_LEN);
            Ok(TaskData { task, train, val, test, n_classes: 2, checksum: combined_checksum(&[manifest]) })
        }
        Task::Mnist | Task::FashionMnist => {
            let dir = if task == Task::Mnist { "mnist" } else { "fashion-mnist" };
            let mut hashes = Vec::new();
            let mut load = |name: &str| -> Result<Vec<u8>> {
                let rel = format!("{dir}/{name}");
                let (bytes, h) = read_verified(&root.join(&rel), pinned(&rel))?;
                hashes.push(h);
                Ok(bytes)
            };
            let tr_x = load("train-images-idx3-ubyte")?;
            let tr_y = load("train-labels-idx1-ubyte")?;
            let te_x = load("t10k-images-idx3-ubyte")?;
            let te_y = load("t10k-labels-idx1-ubyte")?;
            let p = |n: &str| root.join(dir).join(n);
            let full = idx::dataset_from_idx(&tr_x, &tr_y, &p("train-images-idx3-ubyte"), &p("train-labels-idx1-ubyte"))?;
            let test = idx::dataset_from_idx(&te_x, &te_y, &p("t10k-images-idx3-ubyte"), &p("t10k-labels-idx1-ubyte"))?;
            if full.len() <= IMAGE_VAL_ROWS {
                return Err(ZooError::BadDataset {
                    path: root.join(dir),
                    reason: format!("{} training rows, need more than {IMAGE_VAL_ROWS}", full.len()),
                });
            }
            let cut = full.len() - IMAGE_VAL_ROWS;
            let (mut train, mut val, mut test) = (full.slice(0, cut), full.slice(cut, full.len()), test);
            if task == Task::Mnist {
                let flat = vec![train.sample_len()];
                train = train.reshaped(flat.clone())?;
                val = val.reshaped(flat.clone())?;
                test = test.reshaped(flat)?;
            }
            Ok(TaskData { task, train, val, test, n_classes: 10, checksum: combined_checksum(&hashes) })
        }
        Task::Letter => {
            let rel = "letter/LetterRecognition.rda";
            let path = root.join(rel);
            let (bytes, h) = read_verified(&path, pinned(rel))?;
            let (train, val, test) = letter::letter_splits(&bytes, &path)?;
            Ok(TaskData { task, train, val, test, n_classes: 26, checksum: combined_checksum(&[h]) })
        }
        Task::Spam => {
            let dir = root.join("spam-assassin");
            let corpus = spam::read_corpus(&dir)?;
            let manifest = spam::manifest_sha256(&corpus);
            if manifest != SPAM_MANIFEST_SHA256 {
                return Err(ZooError::ChecksumMismatch { path: dir, got: manifest, expected: SPAM_MANIFEST_SHA256.to_string() });
            }
            let (train, val, test) = spam::spam_splits(&corpus, spam::DEFAULT_HASH_BITS);
            Ok(TaskData { task, train, val, test, n_classes: 2, checksum: combined_checksum(&[manifest]) })
        }
        Task::Cifar10 => {
            let dir = root.join("cifar-10");
            let (full, test, checksum) = cifar::load_cifar10_dir(&dir)?;
            let val_rows = (full.len() / 10).max(1).min(full.len().saturating_sub(1));
            let cut = full.len() - val_rows;
            Ok(TaskData {
                task,
                train: full.slice(0, cut),
                val: full.slice(cut, full.len()),
                test,
                n_classes: 10,
                checksum,
            })
        }
    }
}

/// The default data folder: `$COMPACT_DATASETS` if set, else `datasets/` under the workspace root.
pub fn default_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("COMPACT_DATASETS") {
        return PathBuf::from(dir);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root).join("datasets")
}
