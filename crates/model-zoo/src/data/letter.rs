//! UCI Letter Recognition (Frey & Slate 1991) from `r-cran-mlbench`'s `LetterRecognition.rda`: a data.frame
//! with a factor `lettr` (26 levels) and 16 integer features. UCI's customary split: first 16 000 rows train,
//! last 4 000 test; the validation split is rows 14 000..16 000 of the training part. Features are standardized
//! with the mean and (population) standard deviation of the 14 000 training rows.

use std::path::Path;

use super::Dataset;
use super::rda::{RData, RObject, read_rda};
use crate::error::{Result, ZooError};

/// Rows of the training part (train + validation).
pub const TRAIN_ROWS: usize = 16_000;
/// Rows of the validation split, the end of the training part.
pub const VAL_ROWS: usize = 2_000;
/// Number of features.
pub const N_FEATURES: usize = 16;

/// Reads the letter table: labels (0 = 'A') and raw features (row-major, 16 per row).
pub fn read_letter_table(bytes: &[u8], path: &Path) -> Result<(Vec<u32>, Vec<f32>)> {
    let bad = |reason: String| ZooError::Rda { path: path.to_path_buf(), reason };
    let objects = read_rda(bytes, path)?;
    let (_, frame) = objects
        .iter()
        .find(|(_, o)| matches!(o.data, RData::List(_)))
        .ok_or_else(|| bad(format!("no data.frame among the {} objects", objects.len())))?;
    let RData::List(cols) = &frame.data else {
        return Err(bad("not a list".to_string()));
    };
    if cols.len() != N_FEATURES + 1 {
        return Err(bad(format!("data.frame has {} columns, expected 17 (lettr + 16 features)", cols.len())));
    }
    let names: Vec<String> = frame
        .attr("names")
        .and_then(RObject::strings)
        .map(|s| s.iter().map(|x| x.clone().unwrap_or_default()).collect())
        .unwrap_or_default();
    let label_col = names.iter().position(|n| n == "lettr").ok_or_else(|| bad(format!("no 'lettr' column among {names:?}")))?;
    let factor = &cols[label_col];
    let RData::Integer(codes) = &factor.data else {
        return Err(bad("column 'lettr' is not a factor (integer codes)".to_string()));
    };
    let levels = factor.attr("levels").and_then(RObject::strings).ok_or_else(|| bad("factor 'lettr' has no levels".to_string()))?;
    let n = codes.len();
    let mut labels = Vec::with_capacity(n);
    for (row, &c) in codes.iter().enumerate() {
        let level = usize::try_from(c).ok().and_then(|c| c.checked_sub(1)).and_then(|i| levels.get(i)).and_then(|l| l.as_deref());
        let class = level.and_then(|l| l.bytes().next()).filter(|b| b.is_ascii_uppercase() && level.map(str::len) == Some(1));
        match class {
            Some(b) => labels.push(u32::from(b - b'A')),
            None => return Err(bad(format!("row {row}: factor code {c} is not one of the {} levels A..Z", levels.len()))),
        }
    }
    let mut features = vec![0f32; n * N_FEATURES];
    let mut f = 0;
    for (ci, col) in cols.iter().enumerate() {
        if ci == label_col {
            continue;
        }
        let values: Vec<f32> = match &col.data {
            RData::Integer(v) => {
                if let Some(row) = v.iter().position(|&x| x == super::rda::NA_INTEGER) {
                    return Err(bad(format!("column {} has NA at row {row}", names.get(ci).cloned().unwrap_or_default())));
                }
                v.iter().map(|&x| x as f32).collect()
            }
            RData::Double(v) => v.iter().map(|&x| x as f32).collect(),
            _ => return Err(bad(format!("column {ci} is neither integer nor double"))),
        };
        if values.len() != n {
            return Err(bad(format!("column {ci} has {} rows, 'lettr' has {n}", values.len())));
        }
        for (row, v) in values.into_iter().enumerate() {
            features[row * N_FEATURES + f] = v;
        }
        f += 1;
    }
    Ok((labels, features))
}

/// The train / validation / test splits (see the module docs).
pub fn letter_splits(bytes: &[u8], path: &Path) -> Result<(Dataset, Dataset, Dataset)> {
    let (labels, raw) = read_letter_table(bytes, path)?;
    if labels.len() <= TRAIN_ROWS {
        return Err(ZooError::Rda { path: path.to_path_buf(), reason: format!("{} rows, expected 20000 (need more than {TRAIN_ROWS})", labels.len()) });
    }
    let fit_rows = TRAIN_ROWS - VAL_ROWS;
    let mut mean = [0f64; N_FEATURES];
    let mut var = [0f64; N_FEATURES];
    for row in 0..fit_rows {
        for j in 0..N_FEATURES {
            mean[j] += f64::from(raw[row * N_FEATURES + j]);
        }
    }
    mean.iter_mut().for_each(|m| *m /= fit_rows as f64);
    for row in 0..fit_rows {
        for j in 0..N_FEATURES {
            var[j] += (f64::from(raw[row * N_FEATURES + j]) - mean[j]).powi(2);
        }
    }
    let std: Vec<f64> = var.iter().map(|v| (v / fit_rows as f64).sqrt().max(1e-6)).collect();
    let features: Vec<f32> = raw.iter().enumerate().map(|(i, &x)| ((f64::from(x) - mean[i % N_FEATURES]) / std[i % N_FEATURES]) as f32).collect();
    let all = Dataset { features, labels, sample_shape: vec![N_FEATURES] };
    Ok((all.slice(0, fit_rows), all.slice(fit_rows, TRAIN_ROWS), all.slice(TRAIN_ROWS, all.len())))
}

#[cfg(test)]
mod tests {
    use super::super::rda::encode_rda;
    use super::*;

    pub(crate) fn letter_frame(rows: usize) -> RObject {
        let mut cols = vec![RObject {
            data: RData::Integer((0..rows).map(|i| (i % 26) as i32 + 1).collect()),
            attributes: vec![
                ("levels".into(), RObject { data: RData::Strings((b'A'..=b'Z').map(|c| Some((c as char).to_string())).collect()), attributes: vec![] }),
                ("class".into(), RObject { data: RData::Strings(vec![Some("factor".into())]), attributes: vec![] }),
            ],
        }];
        for j in 0..N_FEATURES {
            cols.push(RObject { data: RData::Integer((0..rows).map(|i| ((i * (j + 3)) % 16) as i32).collect()), attributes: vec![] });
        }
        let mut names = vec![Some("lettr".to_string())];
        names.extend((0..N_FEATURES).map(|j| Some(format!("x{j}"))));
        RObject {
            data: RData::List(cols),
            attributes: vec![
                ("names".into(), RObject { data: RData::Strings(names), attributes: vec![] }),
                ("row.names".into(), RObject { data: RData::Integer(vec![super::super::rda::NA_INTEGER, -(rows as i32)]), attributes: vec![] }),
                ("class".into(), RObject { data: RData::Strings(vec![Some("data.frame".into())]), attributes: vec![] }),
            ],
        }
    }

    #[test]
    fn reads_generated_frame() {
        let bytes = encode_rda(&[("LetterRecognition", letter_frame(30))]);
        let (labels, feats) = read_letter_table(&bytes, Path::new("fx")).unwrap();
        assert_eq!(labels.len(), 30);
        assert_eq!(labels[27], 1);
        assert_eq!(feats[N_FEATURES + 2], 5.0);
    }

    #[test]
    fn truncated_and_corrupt_files_are_errors() {
        let bytes = encode_rda(&[("LetterRecognition", letter_frame(30))]);
        let err = read_letter_table(&bytes[..bytes.len() / 2], Path::new("fx")).unwrap_err().to_string();
        assert!(err.contains("fx") && (err.contains("truncated") || err.contains("bytes left")), "{err}");
        let err = read_letter_table(&bytes[..40], Path::new("fx")).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
        let mut bad = bytes.clone();
        bad[0] = b'Q';
        let err = read_letter_table(&bad, Path::new("fx")).unwrap_err().to_string();
        assert!(err.contains("header"), "{err}");
        let xz = [0xfd, b'7', b'z', b'X', b'Z', 0, 1, 2, 3, 4];
        let err = read_letter_table(&xz, Path::new("fx")).unwrap_err().to_string();
        assert!(err.contains("corrupt xz"), "{err}");
    }

    #[test]
    fn too_few_rows_is_an_error() {
        let bytes = encode_rda(&[("LetterRecognition", letter_frame(30))]);
        let err = letter_splits(&bytes, Path::new("fx")).unwrap_err().to_string();
        assert!(err.contains("30 rows"), "{err}");
    }
}
