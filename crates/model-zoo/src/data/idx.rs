//! The IDX format of MNIST and Fashion-MNIST (LeCun et al.): a big-endian header — magic `0x0000_08_NN`
//! (type 0x08 = unsigned byte, NN = number of dimensions), then NN big-endian u32 dimension sizes — followed by the
//! raw bytes. Images: magic 2051, dims (count, rows, cols); labels: magic 2049, dims (count).

use std::path::Path;

use super::Dataset;
use crate::error::{Result, ZooError};

/// A parsed IDX file of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// Dimension sizes, e.g. `[60000, 28, 28]`.
    pub dims: Vec<usize>,
    /// The payload, `dims.product()` bytes.
    pub data: Vec<u8>,
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    bytes.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Parses an IDX file of unsigned bytes with `n_dims` dimensions, validating the magic number and the length.
pub fn parse_idx(bytes: &[u8], n_dims: usize, path: &Path) -> Result<IdxArray> {
    let bad = |reason: String| ZooError::Idx { path: path.to_path_buf(), reason };
    let magic = be_u32(bytes, 0).ok_or_else(|| bad(format!("only {} bytes, shorter than the 4-byte magic", bytes.len())))?;
    let want_magic = 0x0800 + n_dims as u32;
    if magic != want_magic {
        return Err(bad(format!("magic number {magic} (0x{magic:08x}), expected {want_magic} (unsigned bytes, {n_dims} dims)")));
    }
    let header = 4 + 4 * n_dims;
    let mut dims = Vec::with_capacity(n_dims);
    for i in 0..n_dims {
        let d = be_u32(bytes, 4 + 4 * i)
            .ok_or_else(|| bad(format!("truncated header: {} bytes, header needs {header}", bytes.len())))?;
        dims.push(d as usize);
    }
    let payload = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or_else(|| bad(format!("dimensions {dims:?} overflow")))?;
    let have = bytes.len() - header;
    if have != payload {
        return Err(bad(format!(
            "header dims {dims:?} promise {payload} data bytes but the file has {have} ({})",
            if have < payload { "truncated" } else { "trailing bytes" }
        )));
    }
    Ok(IdxArray { dims, data: bytes[header..].to_vec() })
}

/// Builds a dataset of `[rows, cols, 1]` images scaled to [0, 1] from an IDX image file (magic 2051) and an IDX
/// label file (magic 2049), checking that the counts agree and that labels are below 10.
pub fn dataset_from_idx(images: &[u8], labels: &[u8], images_path: &Path, labels_path: &Path) -> Result<Dataset> {
    let img = parse_idx(images, 3, images_path)?;
    let lab = parse_idx(labels, 1, labels_path)?;
    if img.dims[0] != lab.dims[0] {
        return Err(ZooError::Idx {
            path: labels_path.to_path_buf(),
            reason: format!("{} labels for {} images in {}", lab.dims[0], img.dims[0], images_path.display()),
        });
    }
    if let Some((i, &l)) = lab.data.iter().enumerate().find(|(_, l)| **l >= 10) {
        return Err(ZooError::Idx { path: labels_path.to_path_buf(), reason: format!("label {l} at index {i} is not a digit class 0..9") });
    }
    Ok(Dataset {
        features: img.data.iter().map(|&p| f32::from(p) / 255.0).collect(),
        labels: lab.data.iter().map(|&l| u32::from(l)).collect(),
        sample_shape: vec![img.dims[1], img.dims[2], 1],
    })
}

/// Encodes an IDX file of unsigned bytes (used for fixtures and by tests).
pub fn encode_idx(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 4 * dims.len() + data.len());
    out.extend_from_slice(&(0x0800u32 + dims.len() as u32).to_be_bytes());
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(n: usize) -> (Vec<u8>, Vec<u8>) {
        let pixels: Vec<u8> = (0..n * 4).map(|i| (i * 37 % 256) as u8).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        (encode_idx(&[n, 2, 2], &pixels), encode_idx(&[n], &labels))
    }

    #[test]
    fn round_trip() {
        let (x, y) = fixture(5);
        let d = dataset_from_idx(&x, &y, Path::new("x"), Path::new("y")).unwrap();
        assert_eq!(d.len(), 5);
        assert_eq!(d.sample_shape, vec![2, 2, 1]);
        assert_eq!(d.labels, vec![0, 1, 2, 3, 4]);
        assert!((d.features[1] - 37.0 / 255.0).abs() < 1e-7);
    }

    #[test]
    fn truncated_payload_is_an_error() {
        let (x, y) = fixture(5);
        let err = dataset_from_idx(&x[..x.len() - 3], &y, Path::new("imgs"), Path::new("y")).unwrap_err().to_string();
        assert!(err.contains("imgs") && err.contains("truncated") && err.contains("20"), "{err}");
    }

    #[test]
    fn truncated_header_and_bad_magic() {
        let (x, _) = fixture(1);
        let err = parse_idx(&x[..6], 3, Path::new("f")).unwrap_err().to_string();
        assert!(err.contains("truncated header"), "{err}");
        let err = parse_idx(&x[..2], 3, Path::new("f")).unwrap_err().to_string();
        assert!(err.contains("2 bytes"), "{err}");
        let mut bad = x.clone();
        bad[3] = 0x01;
        let err = parse_idx(&bad, 3, Path::new("f")).unwrap_err().to_string();
        assert!(err.contains("magic number 2049") && err.contains("2051"), "{err}");
    }

    #[test]
    fn count_mismatch_and_bad_label() {
        let (x, _) = fixture(3);
        let y = encode_idx(&[2], &[0, 1]);
        let err = dataset_from_idx(&x, &y, Path::new("x"), Path::new("y")).unwrap_err().to_string();
        assert!(err.contains("2 labels for 3 images"), "{err}");
        let y = encode_idx(&[3], &[0, 11, 1]);
        let err = dataset_from_idx(&x, &y, Path::new("x"), Path::new("y")).unwrap_err().to_string();
        assert!(err.contains("label 11 at index 1"), "{err}");
    }

    #[test]
    fn trailing_bytes_are_an_error() {
        let (mut x, _) = fixture(2);
        x.push(0);
        let err = parse_idx(&x, 3, Path::new("f")).unwrap_err().to_string();
        assert!(err.contains("trailing"), "{err}");
    }
}
