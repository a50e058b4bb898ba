//! CIFAR-10 binary batches (Krizhevsky 2009): records of 1 label byte + 3072 pixel bytes (a 32×32 R plane,
//! then G, then B). Any record count is accepted; the loader converts to channels-last `[32, 32, 3]` in [0, 1].
//! `data_batch_{1..5}.bin` form the training part (whichever are present, at least one), `test_batch.bin` the test.

use std::path::Path;

use super::{Dataset, combined_checksum, sha256_hex};
use crate::error::{Result, ZooError, read_file};

/// Bytes per record.
pub const RECORD: usize = 1 + 3 * 32 * 32;

/// Parses one binary batch.
pub fn parse_batch(bytes: &[u8], path: &Path) -> Result<Dataset> {
    let bad = |reason: String| ZooError::Cifar { path: path.to_path_buf(), reason };
    if bytes.is_empty() || bytes.len() % RECORD != 0 {
        return Err(bad(format!("{} bytes is not a positive multiple of the {RECORD}-byte record", bytes.len())));
    }
    let n = bytes.len() / RECORD;
    let mut features = vec![0f32; n * 3072];
    let mut labels = Vec::with_capacity(n);
    for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
        if rec[0] >= 10 {
            return Err(bad(format!("record {i} has label {}, expected 0..9", rec[0])));
        }
        labels.push(u32::from(rec[0]));
        let px = &rec[1..];
        for c in 0..3 {
            for p in 0..1024 {
                features[i * 3072 + p * 3 + c] = f32::from(px[c * 1024 + p]) / 255.0;
            }
        }
    }
    Ok(Dataset { features, labels, sample_shape: vec![32, 32, 3] })
}

/// Loads `dir/data_batch_{1..5}.bin` (those present, at least one) and `dir/test_batch.bin`, with a combined checksum.
pub fn load_cifar10_dir(dir: &Path) -> Result<(Dataset, Dataset, String)> {
    let mut hashes = Vec::new();
    let mut train: Option<Dataset> = None;
    for k in 1..=5 {
        let p = dir.join(format!("data_batch_{k}.bin"));
        if !p.exists() {
            continue;
        }
        let bytes = read_file(&p)?;
        hashes.push(sha256_hex(&bytes));
        let d = parse_batch(&bytes, &p)?;
        train = Some(match train {
            None => d,
            Some(mut t) => {
                t.features.extend(d.features);
                t.labels.extend(d.labels);
                t
            }
        });
    }
    let train = train.ok_or_else(|| ZooError::MissingCifar { path: dir.join("data_batch_1.bin") })?;
    let tp = dir.join("test_batch.bin");
    let bytes = read_file(&tp).map_err(|e| match e {
        ZooError::MissingData { path } => ZooError::MissingCifar { path },
        other => other,
    })?;
    hashes.push(sha256_hex(&bytes));
    let test = parse_batch(&bytes, &tp)?;
    Ok((train, test, combined_checksum(&hashes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(label: u8, seed: u8) -> Vec<u8> {
        let mut r = vec![label];
        r.extend((0..3072).map(|i| (i as u8).wrapping_mul(seed)));
        r
    }

    #[test]
    fn planes_become_channels_last() {
        let mut bytes = record(3, 1);
        bytes.extend(record(7, 2));
        let d = parse_batch(&bytes, Path::new("b")).unwrap();
        assert_eq!(d.labels, vec![3, 7]);
        // Pixel 5 of record 0: R = 5, G = (1024 + 5) mod 256, B = (2048 + 5) mod 256.
        assert!((d.features[5 * 3] - 5.0 / 255.0).abs() < 1e-7);
        assert!((d.features[5 * 3 + 1] - ((1024 + 5) % 256) as f32 / 255.0).abs() < 1e-7);
        assert!((d.features[3072 + 5 * 3 + 2] - (((2048 + 5) * 2) % 256) as f32 / 255.0).abs() < 1e-7);
    }

    #[test]
    fn bad_length_and_label() {
        let err = parse_batch(&record(1, 1)[..100], Path::new("b")).unwrap_err().to_string();
        assert!(err.contains("100 bytes"), "{err}");
        let err = parse_batch(&record(12, 1), Path::new("b")).unwrap_err().to_string();
        assert!(err.contains("label 12"), "{err}");
    }

    #[test]
    fn directory_with_any_record_count() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("data_batch_1.bin"), [record(1, 3), record(2, 5), record(0, 1)].concat()).unwrap();
        let err = load_cifar10_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("test_batch.bin") && err.contains("copy the binary batches"), "{err}");
        std::fs::write(dir.path().join("test_batch.bin"), record(9, 9)).unwrap();
        let (train, test, sum) = load_cifar10_dir(dir.path()).unwrap();
        assert_eq!((train.len(), test.len(), sum.len()), (3, 1, 64));
    }
}
