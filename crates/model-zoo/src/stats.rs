//! Activation statistics: for every activation layer, the feeding BatchNorm's γ and β (and running statistics)
//! and a histogram of the pre-activation values a calibration subset of the training split produces.
//! These are the inputs of the density prior: after BN, channel j's pre-activation is ≈ N(β_j, γ_j²).

use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::act::ActivationPlan;
use crate::data::Dataset;
use crate::error::{Result, ZooError};
use crate::model::{Layer, Network};

/// A fixed-width histogram over [lo, hi].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Left edge of the first bin.
    pub lo: f64,
    /// Right edge of the last bin.
    pub hi: f64,
    /// Counts per bin; bin k covers [lo + k·w, lo + (k+1)·w), the last bin includes hi.
    pub counts: Vec<u64>,
}

impl Histogram {
    /// Histogram of `values` with `bins` equal bins over their range.
    pub fn of(values: &[f32], bins: usize) -> Histogram {
        let bins = bins.max(1);
        let lo = values.iter().copied().fold(f32::INFINITY, f32::min) as f64;
        let hi = values.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let (lo, hi) = if values.is_empty() { (0.0, 0.0) } else { (lo, hi) };
        let w = if hi > lo { (hi - lo) / bins as f64 } else { 1.0 };
        let mut counts = vec![0u64; bins];
        for &v in values {
            let k = (((f64::from(v) - lo) / w) as usize).min(bins - 1);
            counts[k] += 1;
        }
        Histogram { lo, hi, counts }
    }

    /// Bin centres.
    pub fn centres(&self) -> Vec<f64> {
        let w = (self.hi - self.lo) / self.counts.len() as f64;
        (0..self.counts.len()).map(|k| self.lo + (k as f64 + 0.5) * w).collect()
    }

    /// (bin centre, probability density) per bin: count / (total · bin width), so the points integrate to 1 (all
    /// zeros for an empty histogram).
    pub fn density_points(&self) -> Vec<(f64, f64)> {
        let w = ((self.hi - self.lo) / self.counts.len().max(1) as f64).max(1e-12);
        let total = self.counts.iter().sum::<u64>().max(1) as f64;
        self.centres().into_iter().zip(&self.counts).map(|(x, &c)| (x, c as f64 / (total * w))).collect()
    }
}

/// Statistics of one activation layer (for a transformer, `batch_norm` names the MLP's first linear layer and
/// γ, β are the per-channel empirical standard deviation and mean of its outputs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivationStats {
    /// 0-based activation-layer index.
    pub index: usize,
    /// Name of the feeding BatchNorm layer (e.g. `l1`).
    pub batch_norm: String,
    /// γ per channel.
    pub gamma: Vec<f32>,
    /// β per channel.
    pub beta: Vec<f32>,
    /// BN running mean per channel.
    pub running_mean: Vec<f32>,
    /// BN running variance per channel.
    pub running_var: Vec<f32>,
    /// Number of recorded pre-activation values.
    pub n_values: usize,
    /// Their mean.
    pub mean: f64,
    /// Their standard deviation.
    pub std: f64,
    /// Histogram of the recorded values.
    pub histogram: Histogram,
}

/// Records the statistics on `n_calibration` training samples drawn with `seed` (all if fewer), with `bins` bins.
pub fn activation_statistics(net: &Network, train: &Dataset, n_calibration: usize, bins: usize, seed: u64) -> Result<Vec<ActivationStats>> {
    if train.is_empty() || n_calibration == 0 {
        return Err(ZooError::Config(format!("calibration needs samples; have {}, asked for {n_calibration}", train.len())));
    }
    let n = n_calibration.min(train.len());
    let mut idx = sample(&mut ChaCha8Rng::seed_from_u64(seed), train.len(), n).into_vec();
    idx.sort_unstable();
    let calib = train.select(&idx);
    let n_act = net.n_activation_layers();
    let mut values: Vec<Vec<f32>> = vec![Vec::new(); n_act];
    let d = calib.sample_len();
    for start in (0..calib.len()).step_by(500) {
        let end = (start + 500).min(calib.len());
        let x = net.input_tensor(&calib.features[start * d..end * d], &calib.sample_shape)?;
        net.forward_observed(&x, &ActivationPlan::Exact, &mut |i, t| {
            values[i].extend(t.flatten_all()?.to_vec1::<f32>()?);
            Ok(())
        })?;
    }
    let moments = |v: &[f32]| {
        let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len().max(1) as f64;
        let var = v.iter().map(|&x| (f64::from(x) - mean).powi(2)).sum::<f64>() / v.len().max(1) as f64;
        (mean, var.sqrt())
    };
    let mut out = Vec::with_capacity(n_act);
    if net.config.arch.is_transformer() {
        // No BatchNorm feeds a transformer's activation (LayerNorm → Linear does): γ, β are the per-channel
        // empirical standard deviation and mean of the recorded inputs, so "channel j ≈ N(β_j, γ_j²)" still reads
        // the same way; the running statistics are the identity (mean 0, variance 1).
        for (name, layer) in &net.layers {
            let Layer::Block(b) = layer else { continue };
            let v = &values[b.index];
            let c = b.fc1.bias.as_tensor().dim(0)?;
            let (mut gamma, mut beta) = (Vec::with_capacity(c), Vec::with_capacity(c));
            for j in 0..c {
                let ch: Vec<f32> = v.iter().skip(j).step_by(c).copied().collect();
                let (m, s) = moments(&ch);
                beta.push(m as f32);
                gamma.push(s as f32);
            }
            let (mean, std) = moments(v);
            out.push(ActivationStats {
                index: b.index,
                batch_norm: format!("{name}.fc1 (empirical)"),
                gamma,
                beta,
                running_mean: vec![0.0; c],
                running_var: vec![1.0; c],
                n_values: v.len(),
                mean,
                std,
                histogram: Histogram::of(v, bins),
            });
        }
        return Ok(out);
    }
    // The BatchNorm right before each activation layer.
    for (k, (_, layer)) in net.layers.iter().enumerate() {
        let Layer::Activation { index } = layer else { continue };
        let Some((bn_name, Layer::BatchNorm(bn))) = k.checked_sub(1).and_then(|p| net.layers.get(p)) else {
            return Err(ZooError::Config(format!("activation layer {index} is not fed by a BatchNorm")));
        };
        let v = &values[*index];
        let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len().max(1) as f64;
        let var = v.iter().map(|&x| (f64::from(x) - mean).powi(2)).sum::<f64>() / v.len().max(1) as f64;
        out.push(ActivationStats {
            index: *index,
            batch_norm: bn_name.clone(),
            gamma: bn.gamma.as_tensor().to_vec1()?,
            beta: bn.beta.as_tensor().to_vec1()?,
            running_mean: bn.running_mean.as_tensor().to_vec1()?,
            running_var: bn.running_var.as_tensor().to_vec1()?,
            n_values: v.len(),
            mean,
            std: var.sqrt(),
            histogram: Histogram::of(v, bins),
        });
    }
    Ok(out)
}

/// The softmax's input after the row-maximum subtraction in one encoder block's attention, d = s − max_j s_j ≤ 0
/// over the real key columns of every attention row (every head, every query row, padded query rows included: the
/// secure pass normalises them too; padded key columns excluded: they never reach the exponential), recorded on
/// calibration samples of the training split ([`softmax_input_statistics`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoftmaxInputStats {
    /// 0-based encoder block (attention layer) index.
    pub block: usize,
    /// Number of recorded values d (rows × real key columns).
    pub n_values: usize,
    /// Number of attention rows they come from.
    pub n_rows: usize,
    /// Mean of d.
    pub mean: f64,
    /// Standard deviation of d.
    pub std: f64,
    /// The smallest d (the largest is 0: every row's maximum).
    pub min: f64,
    /// Histogram of d over [min, 0].
    pub histogram: Histogram,
}

/// d = x − max over the `real` columns of each row of a row-major `[rows, cols]` score matrix, the real columns only
/// (`real` = None: every column real). Returns the values row by row, each ≤ 0 and one 0 per row (the maximum).
pub fn shifted_rows(scores: &[f32], cols: usize, real: Option<&[bool]>) -> Result<Vec<f32>> {
    if cols == 0 || scores.len() % cols != 0 {
        return Err(ZooError::Config(format!("{} scores do not form rows of {cols} columns; pass whole rows", scores.len())));
    }
    if let Some(r) = real {
        if r.len() != cols {
            return Err(ZooError::Config(format!("{} mask flags for {cols} columns; pass one flag per key column", r.len())));
        }
    }
    let is_real = |j: usize| real.is_none_or(|r| r[j]);
    let mut out = Vec::with_capacity(scores.len());
    for row in scores.chunks(cols) {
        let m = row.iter().enumerate().filter(|(j, _)| is_real(*j)).map(|(_, &v)| v).fold(f32::NEG_INFINITY, f32::max);
        if m == f32::NEG_INFINITY {
            continue;
        }
        out.extend(row.iter().enumerate().filter(|(j, _)| is_real(*j)).map(|(_, &v)| v - m));
    }
    Ok(out)
}

/// Fine bins per unit of d while recording ([`softmax_input_statistics`]): the histogram is accumulated on the
/// grid k/64 over [[`SOFTMAX_FLOOR`], 0] (memory independent of the number of samples) and merged into at most
/// `bins` bins of whole fine bins at the end, so the result is an exact histogram of the recorded values.
const FINE_PER_UNIT: f64 = 64.0;
/// Lower end of the recorded range of d; smaller values (e^d < 2⁻⁹²) count in the first bin.
pub const SOFTMAX_FLOOR: f64 = -64.0;

/// Records the softmax input density of every attention layer ([`SoftmaxInputStats`]) on `n_calibration` training
/// samples drawn with `seed` (all if fewer; the same draw as [`activation_statistics`] with the same seed). The
/// histogram covers [lo, 0] in at most `bins` equal bins, lo ≤ the smallest d (aligned to the recording grid of
/// 1/64), values below [`SOFTMAX_FLOOR`] in the first bin; the moments and the minimum are exact. A model without
/// encoder blocks is an error.
pub fn softmax_input_statistics(net: &Network, train: &Dataset, n_calibration: usize, bins: usize, seed: u64) -> Result<Vec<SoftmaxInputStats>> {
    if !net.config.arch.is_transformer() {
        return Err(ZooError::Config("softmax statistics need a transformer (a model with attention); pick a ViT or text-transformer task".into()));
    }
    if train.is_empty() || n_calibration == 0 || bins == 0 {
        return Err(ZooError::Config(format!(
            "calibration needs samples and bins; have {} samples, asked for {n_calibration} with {bins} bins",
            train.len()
        )));
    }
    let n = n_calibration.min(train.len());
    let mut idx = sample(&mut ChaCha8Rng::seed_from_u64(seed), train.len(), n).into_vec();
    idx.sort_unstable();
    let calib = train.select(&idx);
    let blocks = net.layers.iter().filter(|(_, l)| matches!(l, Layer::Block(_))).count();
    let n_fine = (-SOFTMAX_FLOOR * FINE_PER_UNIT) as usize;
    // Per block: fine counts, rows, values, Σd, Σd², min.
    struct Acc {
        fine: Vec<u64>,
        rows: usize,
        n: usize,
        sum: f64,
        sq: f64,
        min: f64,
    }
    let mut acc: Vec<Acc> = (0..blocks).map(|_| Acc { fine: vec![0; n_fine], rows: 0, n: 0, sum: 0.0, sq: 0.0, min: 0.0 }).collect();
    let d = calib.sample_len();
    for start in (0..calib.len()).step_by(100) {
        let end = (start + 100).min(calib.len());
        let x = net.input_tensor(&calib.features[start * d..end * d], &calib.sample_shape)?;
        net.forward_observed_attention(&x, &mut |i, s, mask| {
            let (b, h, t, t2) = s.dims4()?;
            let flat: Vec<f32> = s.flatten_all()?.to_vec1()?;
            let real: Option<Vec<f32>> = match mask {
                Some(m) => Some(m.flatten_all()?.to_vec1()?),
                None => None,
            };
            let a = acc.get_mut(i).ok_or_else(|| ZooError::Config(format!("block index {i} beyond {blocks} blocks")))?;
            let per = h * t * t2;
            for bi in 0..b {
                let keep: Option<Vec<bool>> = real.as_ref().map(|r| r[bi * t2..(bi + 1) * t2].iter().map(|&v| v > 0.5).collect());
                for v in shifted_rows(&flat[bi * per..(bi + 1) * per], t2, keep.as_deref())? {
                    let v = f64::from(v);
                    let k = (((v - SOFTMAX_FLOOR) * FINE_PER_UNIT).floor().max(0.0) as usize).min(n_fine - 1);
                    a.fine[k] += 1;
                    a.n += 1;
                    a.sum += v;
                    a.sq += v * v;
                    a.min = a.min.min(v);
                }
                a.rows += h * t;
            }
            Ok(())
        })?;
    }
    Ok(acc
        .into_iter()
        .enumerate()
        .map(|(block, a)| {
            let len = a.n.max(1) as f64;
            let mean = a.sum / len;
            let var = (a.sq / len - mean * mean).max(0.0);
            SoftmaxInputStats { block, n_values: a.n, n_rows: a.rows, mean, std: var.sqrt(), min: a.min, histogram: merge_fine(&a.fine, bins) }
        })
        .collect())
}

/// Merges the fine counts over [[`SOFTMAX_FLOOR`], 0] into at most `bins` groups of g whole fine bins ending at 0,
/// starting at the group holding the first non-empty fine bin.
fn merge_fine(fine: &[u64], bins: usize) -> Histogram {
    let n_fine = fine.len();
    let k0 = fine.iter().position(|&c| c > 0).unwrap_or(n_fine - 1);
    let span = n_fine - k0;
    let g = span.div_ceil(bins.max(1));
    let nb = span.div_ceil(g);
    let start = n_fine as i64 - (nb * g) as i64;
    let counts: Vec<u64> = (0..nb)
        .map(|j| {
            (0..g)
                .map(|q| start + (j * g + q) as i64)
                .filter(|&k| k >= 0)
                .map(|k| fine[k as usize])
                .sum()
        })
        .collect();
    Histogram { lo: SOFTMAX_FLOOR + start as f64 / FINE_PER_UNIT, hi: 0.0, counts }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifted_rows_by_hand() {
        // Two rows of three keys, the middle key padded: row maxima over keys 0 and 2 only.
        let s = [1.0, 9.0, 3.0, -2.0, 5.0, -4.0];
        let d = shifted_rows(&s, 3, Some(&[true, false, true])).unwrap();
        assert_eq!(d, vec![-2.0, 0.0, 0.0, -2.0]);
        // No mask: every column.
        assert_eq!(shifted_rows(&s, 3, None).unwrap(), vec![-8.0, 0.0, -6.0, -7.0, 0.0, -9.0]);
        assert!(shifted_rows(&s, 4, None).is_err());
        assert!(shifted_rows(&s, 3, Some(&[true])).is_err());
    }

    #[test]
    fn fine_counts_merge_into_aligned_bins_ending_at_zero() {
        // 4096 fine bins of 1/64 over [−64, 0]; values in the bins of −1.5 (k = 4000) and of 0 (k = 4095).
        let mut fine = vec![0u64; 4096];
        fine[4000] = 3;
        fine[4095] = 5;
        // span 96 fine bins → 4 bins of 24 (0.375 wide) from −1.5 to 0.
        let h = merge_fine(&fine, 4);
        assert_eq!((h.lo, h.hi), (-1.5, 0.0));
        assert_eq!(h.counts, vec![3, 0, 0, 5]);
        // 5 bins: groups of 20, 5 of them, starting at −100/64 (below the first value).
        let h = merge_fine(&fine, 5);
        assert_eq!(h.counts.iter().sum::<u64>(), 8);
        assert_eq!(h.counts.len(), 5);
        assert!(h.lo <= -1.5 && h.lo > -1.6 && *h.counts.last().unwrap() == 5);
    }

    #[test]
    fn histogram_bins() {
        let h = Histogram::of(&[0.0, 0.1, 0.5, 1.0, 1.0], 2);
        assert_eq!(h.counts, vec![2, 3]);
        assert_eq!((h.lo, h.hi), (0.0, 1.0));
        assert_eq!(h.centres(), vec![0.25, 0.75]);
        // 2 and 3 of 5 samples in bins of width 0.5: densities 0.8 and 1.2, integrating to 1.
        assert_eq!(h.density_points(), vec![(0.25, 0.8), (0.75, 1.2)]);
    }
}
