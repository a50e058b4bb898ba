//! The transformer layers of the zoo (candle): a pre-norm encoder block, LayerNorm, patch and token embeddings,
//! and pooling, used by [`crate::Arch::Vit`] and [`crate::Arch::TextTransformer`].
//!
//! Shapes: tokens are `[B, T, D]` (D = width). One pre-norm block (Vaswani et al. 2017 with the norm moved before
//! each sub-layer, as in ViT, Dosovitskiy et al., ICLR 2021, eq. 2–3):
//!
//! - h = LN₁(x); Q = h·W_Qᵀ + b_Q, K, V likewise; per head j (d_h = D / heads columns each)
//!   A_j = softmax(Q_j·K_jᵀ / √d_h + M) with M = −∞ (here −10⁹) on padded key columns; x ← x + concat_j(A_j·V_j)·W_Oᵀ + b_O.
//! - h = LN₂(x); u = h·W₁ᵀ + b₁ (the activation layer's input, width `mlp_width`); x ← x + act(u)·W₂ᵀ + b₂.
//!
//! LayerNorm over the last axis: LN(x) = γ·(x − μ)/√(σ² + ε) + β with the row's mean μ and biased variance σ²,
//! ε = [`LN_EPS`]. Linear weights are stored `[out, in]` as in PyTorch.
//!
//! Padding (text only): input ids < 0 are padding; they embed to the position embedding alone, are masked out of
//! every attention row as keys, and are left out of the mean pooling.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, D, Layout, Shape, Tensor, Var};
use serde::{Deserialize, Serialize};

/// LayerNorm ε.
pub const LN_EPS: f64 = 1e-5;
/// The additive mask of a padded key column before the softmax (e^−10⁹ = 0 in f32).
pub const MASK_NEG: f64 = -1e9;

/// y = x·Wᵀ + b.
#[derive(Debug, Clone)]
pub struct Linear {
    /// `[out, in]`.
    pub weight: Var,
    /// `[out]`.
    pub bias: Var,
}

impl Linear {
    /// Applies the layer to `[…, in]`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let dims = x.dims().to_vec();
        let (out, inp) = self.weight.as_tensor().dims2()?;
        let flat = x.reshape(((), inp))?;
        let y = flat.matmul(&self.weight.as_tensor().t()?)?.broadcast_add(self.bias.as_tensor())?;
        let mut shape = dims;
        if let Some(last) = shape.last_mut() {
            *last = out;
        }
        y.reshape(shape)
    }

    fn named(&self, prefix: &str, out: &mut Vec<(String, Var)>) {
        out.push((format!("{prefix}.weight"), self.weight.clone()));
        out.push((format!("{prefix}.bias"), self.bias.clone()));
    }
}

/// LayerNorm over the last axis with learned γ, β.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    /// γ `[D]`.
    pub gamma: Var,
    /// β `[D]`.
    pub beta: Var,
}

impl LayerNorm {
    /// γ·(x − μ)/√(σ² + ε) + β over the last axis.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mean = x.mean_keepdim(D::Minus1)?;
        let c = x.broadcast_sub(&mean)?;
        let var = c.sqr()?.mean_keepdim(D::Minus1)?;
        let xhat = c.broadcast_div(&(var + LN_EPS)?.sqrt()?)?;
        xhat.broadcast_mul(self.gamma.as_tensor())?.broadcast_add(self.beta.as_tensor())
    }

    fn named(&self, prefix: &str, out: &mut Vec<(String, Var)>) {
        out.push((format!("{prefix}.gamma"), self.gamma.clone()));
        out.push((format!("{prefix}.beta"), self.beta.clone()));
    }
}

/// Image → tokens: non-overlapping `patch`×`patch` patches (row-major over the patch grid, each patch flattened
/// (dy, dx, c)), a linear projection to the width, a learned class token in front, learned position embeddings.
#[derive(Debug, Clone)]
pub struct PatchEmbed {
    /// Projection `[D, patch²·C]`.
    pub proj: Linear,
    /// Class token `[D]`.
    pub cls: Var,
    /// Position embeddings `[1 + patches, D]` (row 0: the class token).
    pub pos: Var,
    /// Image `[H, W, C]`.
    pub image: [usize; 3],
    /// Patch side.
    pub patch: usize,
}

/// The gather order of patchification: entry (t, (dy·p + dx)·C + c) of the `[T, p²·C]` patch matrix comes from
/// pixel ((gy·p + dy)·W + gx·p + dx)·C + c of the channels-last image, t = gy·(W/p) + gx.
pub fn patch_indices(image: [usize; 3], patch: usize) -> Vec<usize> {
    let [h, w, c] = image;
    let (gh, gw) = (h / patch, w / patch);
    let mut idx = Vec::with_capacity(gh * gw * patch * patch * c);
    for gy in 0..gh {
        for gx in 0..gw {
            for dy in 0..patch {
                for dx in 0..patch {
                    for ch in 0..c {
                        idx.push(((gy * patch + dy) * w + gx * patch + dx) * c + ch);
                    }
                }
            }
        }
    }
    idx
}

impl PatchEmbed {
    /// `[B, H·W·C]` (or `[B, H, W, C]`) → `[B, 1 + T, D]`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let b = x.dim(0)?;
        let n: usize = self.image.iter().product();
        let flat = x.reshape((b, n))?;
        let idx = patch_indices(self.image, self.patch);
        let per = self.patch * self.patch * self.image[2];
        let t = idx.len() / per;
        let idx = Tensor::from_vec(idx.into_iter().map(|i| i as u32).collect::<Vec<_>>(), t * per, x.device())?;
        let patches = flat.index_select(&idx, 1)?.reshape((b, t, per))?;
        let tokens = self.proj.forward(&patches)?;
        let d = tokens.dim(2)?;
        let cls = self.cls.as_tensor().reshape((1, 1, d))?.broadcast_as((b, 1, d))?;
        Tensor::cat(&[&cls, &tokens], 1)?.broadcast_add(&self.pos.as_tensor().unsqueeze(0)?)
    }

    fn named(&self, prefix: &str, out: &mut Vec<(String, Var)>) {
        self.proj.named(&format!("{prefix}.proj"), out);
        out.push((format!("{prefix}.cls"), self.cls.clone()));
        out.push((format!("{prefix}.pos"), self.pos.clone()));
    }
}

/// Token ids → tokens: a learned table `[vocab, D]` (padding ids < 0 embed to zero) plus learned position
/// embeddings `[max_len, D]`.
#[derive(Debug, Clone)]
pub struct TokenEmbed {
    /// `[vocab, D]`.
    pub table: Var,
    /// `[max_len, D]`.
    pub pos: Var,
}

impl TokenEmbed {
    /// `[B, L]` ids (f32, < 0 = padding) → (`[B, L, D]`, mask `[B, L]` with 1 on real tokens).
    pub fn forward(&self, ids: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        let (b, l) = ids.dims2()?;
        let (vocab, d) = self.table.as_tensor().dims2()?;
        let raw: Vec<f32> = ids.flatten_all()?.to_vec1()?;
        let mut index = Vec::with_capacity(raw.len());
        let mut mask = Vec::with_capacity(raw.len());
        for v in raw {
            let real = v >= 0.0;
            if real && v as usize >= vocab {
                candle_core::bail!("token id {v} is outside the vocabulary of {vocab}; re-tokenise with the model's hash bits")
            }
            index.push(if real { v as u32 } else { vocab as u32 });
            mask.push(if real { 1f32 } else { 0.0 });
        }
        let table = Tensor::cat(&[self.table.as_tensor(), &Tensor::zeros((1, d), self.table.dtype(), ids.device())?], 0)?;
        let index = Tensor::from_vec(index, b * l, ids.device())?;
        let x = table.index_select(&index, 0)?.reshape((b, l, d))?.broadcast_add(&self.pos.as_tensor().unsqueeze(0)?)?;
        Ok((x, Tensor::from_vec(mask, (b, l), ids.device())?))
    }

    fn named(&self, prefix: &str, out: &mut Vec<(String, Var)>) {
        out.push((format!("{prefix}.table"), self.table.clone()));
        out.push((format!("{prefix}.pos"), self.pos.clone()));
    }
}

/// One pre-norm encoder block (module docs).
#[derive(Debug, Clone)]
pub struct Block {
    /// Attention heads.
    pub heads: usize,
    /// LN before attention.
    pub ln1: LayerNorm,
    /// Query projection.
    pub q: Linear,
    /// Key projection.
    pub k: Linear,
    /// Value projection.
    pub v: Linear,
    /// Output projection.
    pub o: Linear,
    /// LN before the MLP.
    pub ln2: LayerNorm,
    /// MLP first linear (its output is the activation layer's input).
    pub fc1: Linear,
    /// MLP second linear.
    pub fc2: Linear,
    /// Index of the block's activation layer.
    pub index: usize,
}

impl Block {
    /// The attention sub-layer's output (before the residual add) of `x` `[B, T, D]`; `mask` `[B, T]` marks real keys.
    pub fn attention(&self, x: &Tensor, mask: Option<&Tensor>, softmax: SoftmaxKernel) -> candle_core::Result<Tensor> {
        self.attention_observed(x, mask, softmax, &mut |_| Ok(()))
    }

    /// [`Block::attention`] that hands the attention scores Q_j·K_jᵀ/√d_h `[B, heads, T, T]` — before the padding
    /// mask is added, i.e. the softmax's input on the real key columns — to `observe`.
    pub fn attention_observed(
        &self,
        x: &Tensor,
        mask: Option<&Tensor>,
        softmax: SoftmaxKernel,
        observe: &mut dyn FnMut(&Tensor) -> candle_core::Result<()>,
    ) -> candle_core::Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        let dh = d / self.heads;
        let h = self.ln1.forward(x)?;
        let split = |y: Tensor| y.reshape((b, t, self.heads, dh))?.transpose(1, 2)?.contiguous();
        let q = split(self.q.forward(&h)?)?;
        let k = split(self.k.forward(&h)?)?;
        let v = split(self.v.forward(&h)?)?;
        let mut scores = (q.matmul(&k.t()?.contiguous()?)? * (1.0 / (dh as f64).sqrt()))?;
        observe(&scores)?;
        if let Some(m) = mask {
            let add = ((m - 1.0)? * -MASK_NEG)?.reshape((b, 1, 1, t))?;
            scores = scores.broadcast_add(&add)?;
        }
        let att = match softmax {
            SoftmaxKernel::Composed => candle_nn::ops::softmax(&scores, D::Minus1)?,
            SoftmaxKernel::Fused => fused_softmax(&scores)?,
        };
        let y = att.matmul(&v)?.transpose(1, 2)?.contiguous()?.reshape((b, t, d))?;
        self.o.forward(&y)
    }

    fn named(&self, prefix: &str, out: &mut Vec<(String, Var)>) {
        self.ln1.named(&format!("{prefix}.ln1"), out);
        self.q.named(&format!("{prefix}.q"), out);
        self.k.named(&format!("{prefix}.k"), out);
        self.v.named(&format!("{prefix}.v"), out);
        self.o.named(&format!("{prefix}.o"), out);
        self.ln2.named(&format!("{prefix}.ln2"), out);
        self.fc1.named(&format!("{prefix}.fc1"), out);
        self.fc2.named(&format!("{prefix}.fc2"), out);
    }
}

/// How the tokens become one vector for the classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// Token 0 (the class token).
    ClassToken,
    /// The mean over the real (unpadded) tokens.
    Mean,
}

impl Pooling {
    /// `[B, T, D]` → `[B, D]`.
    pub fn forward(self, x: &Tensor, mask: Option<&Tensor>) -> candle_core::Result<Tensor> {
        match (self, mask) {
            (Pooling::ClassToken, _) => x.narrow(1, 0, 1)?.squeeze(1),
            (Pooling::Mean, None) => x.mean(1),
            (Pooling::Mean, Some(m)) => {
                let sum = x.broadcast_mul(&m.unsqueeze(2)?)?.sum(1)?;
                let count = m.sum_keepdim(1)?.clamp(1.0, f64::INFINITY)?;
                sum.broadcast_div(&count)
            }
        }
    }
}

/// Named tensors of a transformer layer, for saving and for the optimiser.
pub(crate) fn named_parts(layer: &crate::model::Layer, prefix: &str, out: &mut Vec<(String, Var)>) {
    use crate::model::Layer;
    match layer {
        Layer::PatchEmbed(p) => p.named(prefix, out),
        Layer::TokenEmbed(t) => t.named(prefix, out),
        Layer::Block(b) => b.named(prefix, out),
        Layer::LayerNorm(ln) => ln.named(prefix, out),
        _ => {}
    }
}

/// Which softmax the attention rows use. Both compute y_i = exp(s_i − max_j s_j) / Σ_k exp(s_k − max_j s_j) over the
/// last axis; they differ in rounding only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoftmaxKernel {
    /// candle's composed ops (max, subtract, exp, sum, divide). Every evaluation uses it: the plaintext reference of
    /// the recorded sweeps.
    Composed,
    /// One fused pass per row, rows in parallel, with the analytic gradient ∂L/∂s_i = y_i·(g_i − Σ_j g_j·y_j) as a
    /// second fused pass. Training uses it: autograd through the composed ops runs about a dozen full-size passes
    /// over the `[B, heads, T, T]` scores per block and step, the larger part of a 128-token text model's training.
    Fused,
}

/// [`SoftmaxKernel::Fused`] over the last axis of an f32 tensor, differentiable.
pub fn fused_softmax(x: &Tensor) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1(FusedSoftmax)
}

/// The forward of [`SoftmaxKernel::Fused`] (f32, contiguous input).
struct FusedSoftmax;

/// Calls `f(r, row)` for every row `r` of `n` elements of `dst`, on candle's own worker pool (the one its element-wise
/// ops use, so no second pool competes for the cores), in blocks of rows handed out as workers free up.
fn for_each_row(dst: &mut [f32], n: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    const ROWS_PER_BLOCK: usize = 64;
    let blocks: Vec<std::sync::Mutex<&mut [f32]>> = dst.chunks_mut(n * ROWS_PER_BLOCK).map(std::sync::Mutex::new).collect();
    candle_core::utils::barrier_pool().execute_chunked(blocks.len(), |range| {
        for b in range {
            // Each block is locked once, by one worker: the lock is never contended (nor poisoned unless `f` panics).
            let mut block = blocks[b].lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for (k, row) in block.chunks_mut(n).enumerate() {
                f(b * ROWS_PER_BLOCK + k, row);
            }
        }
    });
}

/// Rows of `n` from a contiguous f32 storage.
fn f32_rows<'a>(storage: &'a CpuStorage, layout: &Layout, what: &str) -> candle_core::Result<(&'a [f32], usize)> {
    let CpuStorage::F32(data) = storage else { candle_core::bail!("fused softmax {what}: f32 only") };
    let Some((start, end)) = layout.contiguous_offsets() else { candle_core::bail!("fused softmax {what}: input must be contiguous") };
    let n = layout.dims().last().copied().unwrap_or(1).max(1);
    Ok((&data[start..end], n))
}

impl CustomOp1 for FusedSoftmax {
    fn name(&self) -> &'static str {
        "fused-softmax-last-dim"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (src, n) = f32_rows(storage, layout, "forward")?;
        let mut dst = vec![0f32; src.len()];
        for_each_row(&mut dst, n, |r, y| {
            let s = &src[r * n..(r + 1) * n];
            let max = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0f32;
            for (yi, &si) in y.iter_mut().zip(s) {
                *yi = (si - max).exp();
                sum += *yi;
            }
            let inv = 1.0 / sum;
            y.iter_mut().for_each(|yi| *yi *= inv);
        });
        Ok((CpuStorage::F32(dst), layout.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(res.contiguous()?.apply_op2_no_bwd(&grad_res.contiguous()?, &FusedSoftmaxGrad)?))
    }
}

/// (y, g) ↦ y ⊙ (g − Σ_j g_j·y_j) row by row: the gradient of [`FusedSoftmax`].
struct FusedSoftmaxGrad;

impl CustomOp2 for FusedSoftmaxGrad {
    fn name(&self) -> &'static str {
        "fused-softmax-last-dim-grad"
    }

    fn cpu_fwd(&self, y: &CpuStorage, y_layout: &Layout, g: &CpuStorage, g_layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (y, n) = f32_rows(y, y_layout, "gradient")?;
        let (g, _) = f32_rows(g, g_layout, "gradient")?;
        if y.len() != g.len() {
            candle_core::bail!("fused softmax gradient: {} outputs but {} gradients", y.len(), g.len())
        }
        let mut dst = vec![0f32; y.len()];
        for_each_row(&mut dst, n, |r, d| {
            let (y, g) = (&y[r * n..(r + 1) * n], &g[r * n..(r + 1) * n]);
            let dot: f32 = y.iter().zip(g).map(|(a, b)| a * b).sum();
            for ((di, &yi), &gi) in d.iter_mut().zip(y).zip(g) {
                *di = yi * (gi - dot);
            }
        });
        Ok((CpuStorage::F32(dst), y_layout.shape().clone()))
    }
}
