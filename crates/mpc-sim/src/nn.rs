//! Neural-network layers on any [`Evaluator`] (so each has a secure run, a plaintext reference and a predicted cost).
//!
//! - 2-D convolution by im2col: the input \[C, H, W\] is rearranged locally into patches \[Ho·Wo, C·kh·kw\]
//!   ([`Evaluator::gather`], zero padding), multiplied by the kernel matrix [C·kh·kw, O] (one matrix-triple product,
//!   1 round) and truncated once; output \[O, Ho, Wo\] with Ho = ⌊(H + 2·pad − kh)/stride⌋ + 1.
//! - Average pooling: local window sums, then one multiplication by the public 1/k² (one truncation).
//! - Max pooling: a tournament over the k² window elements, all windows at once: ⌈log₂ k²⌉ levels of
//!   max(a, b) = b + \[a ≥ b\]·(a − b) (LTZ + one product: 9 rounds per level).
//! - Batch norm folded into the preceding linear layer: W'_o = W_o·γ_o/√(σ²_o + ε),
//!   b'_o = (b_o − μ_o)·γ_o/√(σ²_o + ε) + β_o — a plain function on the weights.

use crate::error::{MpcError, Result};
use crate::evaluator::Evaluator;

/// Convolution / pooling geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dConfig {
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Stride (both directions).
    pub stride: usize,
    /// Zero padding (both directions).
    pub padding: usize,
}

fn dims3(shape: &[usize], what: &'static str) -> Result<(usize, usize, usize)> {
    match shape {
        [c, h, w] => Ok((*c, *h, *w)),
        _ => Err(MpcError::InvalidParameter { name: what, value: format!("{shape:?}"), hint: "expected a [C, H, W] tensor" }),
    }
}

impl Conv2dConfig {
    /// Output height and width for an H×W input.
    pub fn out_hw(&self, h: usize, w: usize) -> Result<(usize, usize)> {
        if self.stride == 0 || self.kh == 0 || self.kw == 0 || h + 2 * self.padding < self.kh || w + 2 * self.padding < self.kw {
            return Err(MpcError::InvalidParameter {
                name: "conv geometry",
                value: format!("{self:?} on {h}×{w}"),
                hint: "kernel must fit the padded input and stride must be ≥ 1",
            });
        }
        Ok(((h + 2 * self.padding - self.kh) / self.stride + 1, (w + 2 * self.padding - self.kw) / self.stride + 1))
    }

    /// im2col indices: row (oy·Wo + ox), column (c·kh·kw + ky·kw + kx) → source index in \[C, H, W\] or None (pad).
    pub fn im2col_indices(&self, c: usize, h: usize, w: usize) -> Result<(Vec<Option<usize>>, usize, usize)> {
        let (ho, wo) = self.out_hw(h, w)?;
        let mut idx = Vec::with_capacity(ho * wo * c * self.kh * self.kw);
        for oy in 0..ho {
            for ox in 0..wo {
                for ci in 0..c {
                    for ky in 0..self.kh {
                        for kx in 0..self.kw {
                            let y = (oy * self.stride + ky) as isize - self.padding as isize;
                            let x = (ox * self.stride + kx) as isize - self.padding as isize;
                            let inside = y >= 0 && x >= 0 && (y as usize) < h && (x as usize) < w;
                            idx.push(inside.then(|| ci * h * w + y as usize * w + x as usize));
                        }
                    }
                }
            }
        }
        Ok((idx, ho, wo))
    }
}

/// Transpose indices of an r×c matrix.
fn transpose_idx(r: usize, c: usize) -> Vec<Option<usize>> {
    (0..c).flat_map(|j| (0..r).map(move |i| Some(i * c + j))).collect()
}

/// Convolution of x [C, H, W] with a (shared) kernel `weight` [O, C, kh, kw], both at scale f; output [O, Ho, Wo]
/// at scale f, plus `bias` \[O\] (scale f) if given.
pub fn conv2d<E: Evaluator>(
    ev: &mut E,
    x: &E::Value,
    weight: &E::Value,
    bias: Option<&E::Value>,
    cfg: Conv2dConfig,
) -> Result<E::Value> {
    let (c, h, w) = dims3(E::shape(x), "conv2d input")?;
    let o = match E::shape(weight) {
        [o, c2, kh, kw] if *c2 == c && *kh == cfg.kh && *kw == cfg.kw => *o,
        s => {
            return Err(MpcError::ShapeMismatch { op: "conv2d weight (needs [O, C, kh, kw])", left: s.to_vec(), right: vec![0, c, cfg.kh, cfg.kw] });
        }
    };
    let (idx, ho, wo) = cfg.im2col_indices(c, h, w)?;
    let kk = c * cfg.kh * cfg.kw;
    let cols = ev.gather(x, &idx, &[ho * wo, kk])?;
    let wt = ev.gather(weight, &transpose_idx(o, kk), &[kk, o])?;
    let prod = ev.matmul(&cols, &wt)?;
    let out = ev.gather(&prod, &transpose_idx(ho * wo, o), &[o, ho, wo])?;
    match bias {
        None => Ok(out),
        Some(b) => {
            let bidx: Vec<Option<usize>> = (0..o).flat_map(|oi| std::iter::repeat_n(Some(oi), ho * wo)).collect();
            let bb = ev.gather(b, &bidx, &[o, ho, wo])?;
            ev.add(&out, &bb)
        }
    }
}

/// Window indices for pooling, grouped per output element: \[C·Ho·Wo groups of k²\].
fn window_indices(cfg: Conv2dConfig, c: usize, h: usize, w: usize) -> Result<(Vec<Option<usize>>, usize, usize)> {
    let (ho, wo) = cfg.out_hw(h, w)?;
    let mut idx = Vec::with_capacity(c * ho * wo * cfg.kh * cfg.kw);
    for ci in 0..c {
        for oy in 0..ho {
            for ox in 0..wo {
                for ky in 0..cfg.kh {
                    for kx in 0..cfg.kw {
                        let y = (oy * cfg.stride + ky) as isize - cfg.padding as isize;
                        let x = (ox * cfg.stride + kx) as isize - cfg.padding as isize;
                        let inside = y >= 0 && x >= 0 && (y as usize) < h && (x as usize) < w;
                        idx.push(inside.then(|| ci * h * w + y as usize * w + x as usize));
                    }
                }
            }
        }
    }
    Ok((idx, ho, wo))
}

/// Average pooling of x \[C, H, W\] (padding counts as zeros, divisor k²).
pub fn avg_pool2d<E: Evaluator>(ev: &mut E, x: &E::Value, cfg: Conv2dConfig) -> Result<E::Value> {
    let (c, h, w) = dims3(E::shape(x), "avg_pool2d input")?;
    let (idx, ho, wo) = window_indices(cfg, c, h, w)?;
    let k2 = cfg.kh * cfg.kw;
    let win = ev.gather(x, &idx, &[c * ho * wo * k2])?;
    let sums = ev.sum_groups(&win, k2, &[c, ho, wo])?;
    ev.mul_public(&sums, 1.0 / k2 as f64)
}

/// Max pooling of x \[C, H, W\] (no padding allowed: a zero pad would win over negative inputs).
pub fn max_pool2d<E: Evaluator>(ev: &mut E, x: &E::Value, cfg: Conv2dConfig) -> Result<E::Value> {
    if cfg.padding != 0 {
        return Err(MpcError::InvalidParameter { name: "max_pool2d padding", value: cfg.padding.to_string(), hint: "use padding 0" });
    }
    let (c, h, w) = dims3(E::shape(x), "max_pool2d input")?;
    let (idx, ho, wo) = window_indices(cfg, c, h, w)?;
    let k2 = cfg.kh * cfg.kw;
    let n = c * ho * wo;
    // cands[j] = j-th element of every window, as a vector of n.
    let cands: Vec<E::Value> = (0..k2)
        .map(|j| {
            let sel: Vec<Option<usize>> = (0..n).map(|g| idx[g * k2 + j]).collect();
            ev.gather(x, &sel, &[n])
        })
        .collect::<Result<_>>()?;
    let last = max_tournament(ev, cands, n)?;
    ev.reshape(&last, &[c, ho, wo])
}

/// Elementwise maximum of `cands` (each a 1-D value of n elements) by a tournament: ⌈log₂ len⌉ levels, each one
/// max(a, b) = b + \[a ≥ b\]·(a − b) over all pairs of the level at once (9 rounds per level, 80 B per pair).
pub fn max_tournament<E: Evaluator>(ev: &mut E, mut cands: Vec<E::Value>, n: usize) -> Result<E::Value> {
    while cands.len() > 1 {
        let half = cands.len() / 2;
        let lhs: Vec<&E::Value> = cands[..half].iter().collect();
        let rhs: Vec<&E::Value> = cands[half..2 * half].iter().collect();
        let a = ev.concat(&lhs)?;
        let b = ev.concat(&rhs)?;
        let m = ev.max(&a, &b)?;
        let mut next = ev.split(&m, &vec![n; half])?;
        if cands.len() % 2 == 1 {
            next.push(cands[cands.len() - 1].clone());
        }
        cands = next;
    }
    cands.pop().ok_or(MpcError::InvalidParameter { name: "pool window", value: "0".into(), hint: "kernel must be non-empty" })
}

/// Folds batch norm (γ, β, running mean μ, running variance σ², ε) into the preceding linear/conv layer whose
/// weights are `weight` ([O, …], row-major, `weight.len() / O` entries per output) and bias `bias` \[O\].
#[allow(clippy::too_many_arguments)]
pub fn fold_batchnorm(
    weight: &mut [f64],
    bias: &mut [f64],
    gamma: &[f64],
    beta: &[f64],
    mean: &[f64],
    var: &[f64],
    eps: f64,
) -> Result<()> {
    let o = bias.len();
    if o == 0 || weight.len() % o != 0 || [gamma.len(), beta.len(), mean.len(), var.len()].iter().any(|&l| l != o) {
        return Err(MpcError::InvalidParameter {
            name: "batch-norm shapes",
            value: format!("weight {}, bias {o}, γ {}, β {}, μ {}, σ² {}", weight.len(), gamma.len(), beta.len(), mean.len(), var.len()),
            hint: "all per-channel vectors must have O entries and the weight O·k",
        });
    }
    if let Some(v) = var.iter().find(|&&v| (v + eps).partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)) {
        return Err(MpcError::InvalidParameter { name: "variance + eps", value: (v + eps).to_string(), hint: "must be positive" });
    }
    let per = weight.len() / o;
    for oi in 0..o {
        let s = gamma[oi] / (var[oi] + eps).sqrt();
        weight[oi * per..(oi + 1) * per].iter_mut().for_each(|w| *w *= s);
        bias[oi] = (bias[oi] - mean[oi]) * s + beta[oi];
    }
    Ok(())
}
