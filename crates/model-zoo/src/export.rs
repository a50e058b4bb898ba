//! The model as plain data for a later secure-inference pass (issue 7 runs it on secret shares with `mpc-sim`):
//! layers with row-major `f32` weights, BatchNorm folded into a per-channel affine map y = s·x + t
//! (s = γ/√(r_σ² + ε), t = β − s·r_μ), or folded further into the preceding linear/conv layer
//! (W' = diag(s)·W, b' = t). A plain f64 reference forward pass ([`ExportedModel::forward`]) defines the semantics.

use serde::{Deserialize, Serialize};

use crate::error::{Result, ZooError};
use crate::model::{BN_EPS, Layer, Network};
use crate::transformer::{LN_EPS, LayerNorm, Linear, Pooling};

fn vec1(v: &candle_core::Var) -> Result<Vec<f32>> {
    Ok(v.as_tensor().flatten_all()?.to_vec1()?)
}

/// A linear layer `[out][in]` with the LayerNorm before it folded in (and every weight and bias times `scale`):
/// W' = scale·W·diag(γ), b' = scale·(W·β + b).
fn fold_ln(lin: &Linear, ln: Option<&LayerNorm>, scale: f64) -> Result<(Vec<f32>, Vec<f32>)> {
    let (out, inp) = lin.weight.as_tensor().dims2()?;
    let w = vec1(&lin.weight)?;
    let b = vec1(&lin.bias)?;
    let (g, beta) = match ln {
        Some(ln) => (vec1(&ln.gamma)?, vec1(&ln.beta)?),
        None => (vec![1.0; inp], vec![0.0; inp]),
    };
    let mut w2 = vec![0f32; out * inp];
    let mut b2 = vec![0f32; out];
    for o in 0..out {
        let mut acc = f64::from(b[o]);
        for i in 0..inp {
            let wi = f64::from(w[o * inp + i]);
            w2[o * inp + i] = (scale * wi * f64::from(g[i])) as f32;
            acc += wi * f64::from(beta[i]);
        }
        b2[o] = (scale * acc) as f32;
    }
    Ok((w2, b2))
}

/// y = W·x + b for a row-major `[out][in]` weight, in f64.
pub(crate) fn affine_f64(w: &[f32], b: &[f32], x: &[f64]) -> Vec<f64> {
    let inp = x.len();
    b.iter().enumerate().map(|(o, &bo)| f64::from(bo) + w[o * inp..(o + 1) * inp].iter().zip(x).map(|(w, v)| f64::from(*w) * v).sum::<f64>()).collect()
}

/// (x − μ)/√(σ² + ε) of one row.
pub(crate) fn normalize_f64(x: &[f64], eps: f64) -> Vec<f64> {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let r = 1.0 / (var + eps).sqrt();
    x.iter().map(|v| (v - mean) * r).collect()
}

impl ExportedBlock {
    /// The block on tokens `x` `[T][D]` (row-major) with `real[t]` marking unpadded tokens; `act(index, u)`.
    pub fn forward(&self, x: &mut [f64], real: &[bool], act: &dyn Fn(usize, f64) -> f64) {
        let (d, t, h) = (self.width, real.len(), self.heads);
        let dh = d / h;
        let rows = |x: &[f64], f: &dyn Fn(&[f64]) -> Vec<f64>| -> Vec<Vec<f64>> { x.chunks(d).map(f).collect() };
        let n = rows(x, &|r| normalize_f64(r, self.eps));
        let proj = |(w, b): &(Vec<f32>, Vec<f32>)| -> Vec<Vec<f64>> { n.iter().map(|r| affine_f64(w, b, r)).collect() };
        let (q, k, v) = (proj(&self.q), proj(&self.k), proj(&self.v));
        let mut att = vec![vec![0f64; d]; t];
        for j in 0..h {
            let cols = j * dh..(j + 1) * dh;
            for i in 0..t {
                let s: Vec<f64> = (0..t).map(|l| q[i][cols.clone()].iter().zip(&k[l][cols.clone()]).map(|(a, b)| a * b).sum()).collect();
                let m = (0..t).filter(|&l| real[l]).map(|l| s[l]).fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = (0..t).map(|l| if real[l] { (s[l] - m).exp() } else { 0.0 }).collect();
                let z: f64 = e.iter().sum();
                for c in cols.clone() {
                    att[i][c] = (0..t).map(|l| e[l] / z * v[l][c]).sum();
                }
            }
        }
        for (i, a) in att.iter().enumerate() {
            let y = affine_f64(&self.o.0, &self.o.1, a);
            x[i * d..(i + 1) * d].iter_mut().zip(y).for_each(|(x, y)| *x += y);
        }
        for i in 0..t {
            let nrm = normalize_f64(&x[i * d..(i + 1) * d], self.eps);
            let u: Vec<f64> = affine_f64(&self.fc1.0, &self.fc1.1, &nrm).into_iter().map(|u| act(self.index, u)).collect();
            let y = affine_f64(&self.fc2.0, &self.fc2.1, &u);
            x[i * d..(i + 1) * d].iter_mut().zip(y).for_each(|(x, y)| *x += y);
        }
    }
}

/// One exported layer. Tensors are channels-last; batch-free shapes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExportedLayer {
    /// y = W·x + b, W row-major `[out][in]`.
    Dense {
        /// Inputs.
        in_dim: usize,
        /// Outputs.
        out_dim: usize,
        /// Row-major `[out][in]`.
        weight: Vec<f32>,
        /// `[out]` (zeros when the layer had none).
        bias: Vec<f32>,
    },
    /// 3×3 convolution, stride 1, zero padding 1, on `[H, W, C_in]`; weight `[out][in][ky][kx]`,
    /// y[h][w][o] = b[o] + Σ_{ky,kx,c} W[o][c][ky][kx]·x[h+ky−1][w+kx−1][c].
    Conv3x3 {
        /// Input channels.
        in_channels: usize,
        /// Output channels.
        out_channels: usize,
        /// `[out][in][3][3]`.
        weight: Vec<f32>,
        /// `[out]`.
        bias: Vec<f32>,
    },
    /// Folded BatchNorm over the last axis: y = scale·x + shift.
    Affine {
        /// s per channel.
        scale: Vec<f32>,
        /// t per channel.
        shift: Vec<f32>,
    },
    /// The `index`-th activation layer.
    Activation {
        /// 0-based index.
        index: usize,
    },
    /// 2×2 max pooling, stride 2 (odd last row/column dropped).
    MaxPool2,
    /// `[H, W, C]` → `[H·W·C]`.
    Flatten,
    /// Image `[H·W·C]` → tokens `[1 + T, D]`: row 0 = cls + pos₀, row 1 + t = W·patch_t + b + pos_{1+t}, with the
    /// patches gathered by [`crate::transformer::patch_indices`].
    PatchEmbed {
        /// Image `[H, W, C]`.
        image: [usize; 3],
        /// Patch side.
        patch: usize,
        /// Token width D.
        width: usize,
        /// Row-major `[D][patch²·C]`.
        weight: Vec<f32>,
        /// `[D]`.
        bias: Vec<f32>,
        /// Class token `[D]`.
        cls: Vec<f32>,
        /// `[1 + T][D]`.
        pos: Vec<f32>,
    },
    /// Token ids `[L]` (< 0 = padding) → tokens `[L, D]`: row l = table[id_l] (0 for padding) + pos_l; sets the
    /// padding mask.
    TokenEmbed {
        /// Ids `0..vocab`.
        vocab: usize,
        /// Sequence length L.
        max_len: usize,
        /// Token width D.
        width: usize,
        /// Row-major `[vocab][D]`.
        table: Vec<f32>,
        /// `[L][D]`.
        pos: Vec<f32>,
    },
    /// One pre-norm encoder block with both LayerNorms' γ, β folded into the linear layers they feed
    /// ([`ExportedBlock`]).
    Block(Box<ExportedBlock>),
    /// LayerNorm without its affine part (folded into the next linear layer): each row n = (x − μ)/√(σ² + ε).
    Normalize {
        /// ε.
        eps: f64,
    },
    /// Tokens `[T, D]` → `[D]`.
    Pool {
        /// Class token or mean over real tokens.
        pooling: Pooling,
    },
}

/// An encoder block as exported: every LayerNorm is a plain normalisation n(x) = (x − μ)/√(σ² + ε) and its γ, β
/// live in the linear layer it feeds (exact, the consumer is linear: W·(γ⊙n + β) + b = (W·diag γ)·n + (W·β + b));
/// the attention scale 1/√d_h is folded into the query projection as well. All weights row-major `[out][in]`.
///
/// Forward on x `[T, D]` with padding mask m: n = normalize(x); Q, K, V = n·W_{Q,K,V}ᵀ + b; per head j,
/// A_j = softmax_masked(Q_j·K_jᵀ); x ← x + concat_j(A_j·V_j)·W_Oᵀ + b_O; u = normalize(x)·W₁ᵀ + b₁ (activation
/// layer `index`); x ← x + act(u)·W₂ᵀ + b₂.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedBlock {
    /// Token width D.
    pub width: usize,
    /// Heads.
    pub heads: usize,
    /// MLP width.
    pub mlp_width: usize,
    /// Activation layer index.
    pub index: usize,
    /// LayerNorm ε.
    pub eps: f64,
    /// Query (LN₁ and 1/√d_h folded) `[D][D]`, `[D]`.
    pub q: (Vec<f32>, Vec<f32>),
    /// Key (LN₁ folded).
    pub k: (Vec<f32>, Vec<f32>),
    /// Value (LN₁ folded).
    pub v: (Vec<f32>, Vec<f32>),
    /// Output projection.
    pub o: (Vec<f32>, Vec<f32>),
    /// MLP first linear (LN₂ folded) `[M][D]`, `[M]`.
    pub fc1: (Vec<f32>, Vec<f32>),
    /// MLP second linear `[D][M]`, `[D]`.
    pub fc2: (Vec<f32>, Vec<f32>),
}

/// An exported model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedModel {
    /// Activation name.
    pub activation: String,
    /// Per-sample input shape (`[d]` or `[H, W, C]`).
    pub input_shape: Vec<usize>,
    /// Layers in order.
    pub layers: Vec<ExportedLayer>,
}

impl Network {
    /// Exports the layers with each BatchNorm as an [`ExportedLayer::Affine`]; a transformer exports with every
    /// LayerNorm's γ, β folded into the linear layer it feeds ([`ExportedBlock`]), and with the class-token
    /// selection moved before the final normalisation (row-wise, so they commute: only one row is normalised).
    pub fn export(&self) -> Result<ExportedModel> {
        if self.config.arch.is_transformer() {
            return self.export_transformer();
        }
        let mut layers = Vec::with_capacity(self.layers.len());
        for (_, l) in &self.layers {
            layers.push(match l {
                Layer::Dense { weight, bias } => {
                    let (out_dim, in_dim) = weight.as_tensor().dims2()?;
                    ExportedLayer::Dense {
                        in_dim,
                        out_dim,
                        weight: weight.as_tensor().flatten_all()?.to_vec1()?,
                        bias: match bias {
                            Some(b) => b.as_tensor().to_vec1()?,
                            None => vec![0.0; out_dim],
                        },
                    }
                }
                Layer::Conv3x3 { weight } => {
                    let (o, c, _, _) = weight.as_tensor().dims4()?;
                    ExportedLayer::Conv3x3 { in_channels: c, out_channels: o, weight: weight.as_tensor().flatten_all()?.to_vec1()?, bias: vec![0.0; o] }
                }
                Layer::BatchNorm(bn) => {
                    let g: Vec<f32> = bn.gamma.as_tensor().to_vec1()?;
                    let b: Vec<f32> = bn.beta.as_tensor().to_vec1()?;
                    let m: Vec<f32> = bn.running_mean.as_tensor().to_vec1()?;
                    let v: Vec<f32> = bn.running_var.as_tensor().to_vec1()?;
                    let scale: Vec<f32> = g.iter().zip(&v).map(|(g, v)| (f64::from(*g) / (f64::from(*v) + BN_EPS).sqrt()) as f32).collect();
                    let shift = b.iter().zip(&m).zip(&scale).map(|((b, m), s)| b - s * m).collect();
                    ExportedLayer::Affine { scale, shift }
                }
                Layer::Activation { index } => ExportedLayer::Activation { index: *index },
                Layer::MaxPool2 => ExportedLayer::MaxPool2,
                Layer::Flatten => ExportedLayer::Flatten,
                Layer::PatchEmbed(_) | Layer::TokenEmbed(_) | Layer::Block(_) | Layer::LayerNorm(_) | Layer::Pool(_) => {
                    return Err(ZooError::Config("a transformer layer in a non-transformer architecture".into()));
                }
            });
        }
        Ok(ExportedModel { activation: self.activation.name().to_string(), input_shape: self.config.arch.input_shape(), layers })
    }

    fn export_transformer(&self) -> Result<ExportedModel> {
        let mut layers = Vec::new();
        let mut final_ln: Option<&LayerNorm> = None;
        let mut pooling = None;
        for (_, l) in &self.layers {
            match l {
                Layer::PatchEmbed(p) => {
                    let (width, _) = p.proj.weight.as_tensor().dims2()?;
                    layers.push(ExportedLayer::PatchEmbed {
                        image: p.image,
                        patch: p.patch,
                        width,
                        weight: vec1(&p.proj.weight)?,
                        bias: vec1(&p.proj.bias)?,
                        cls: vec1(&p.cls)?,
                        pos: vec1(&p.pos)?,
                    });
                }
                Layer::TokenEmbed(t) => {
                    let (vocab, width) = t.table.as_tensor().dims2()?;
                    let (max_len, _) = t.pos.as_tensor().dims2()?;
                    layers.push(ExportedLayer::TokenEmbed { vocab, max_len, width, table: vec1(&t.table)?, pos: vec1(&t.pos)? });
                }
                Layer::Block(b) => {
                    let (mlp_width, width) = b.fc1.weight.as_tensor().dims2()?;
                    let dh = width / b.heads;
                    layers.push(ExportedLayer::Block(Box::new(ExportedBlock {
                        width,
                        heads: b.heads,
                        mlp_width,
                        index: b.index,
                        eps: LN_EPS,
                        q: fold_ln(&b.q, Some(&b.ln1), 1.0 / (dh as f64).sqrt())?,
                        k: fold_ln(&b.k, Some(&b.ln1), 1.0)?,
                        v: fold_ln(&b.v, Some(&b.ln1), 1.0)?,
                        o: fold_ln(&b.o, None, 1.0)?,
                        fc1: fold_ln(&b.fc1, Some(&b.ln2), 1.0)?,
                        fc2: fold_ln(&b.fc2, None, 1.0)?,
                    })));
                }
                Layer::LayerNorm(ln) => final_ln = Some(ln),
                Layer::Pool(p) => pooling = Some(*p),
                Layer::Dense { weight, bias } => {
                    let (out_dim, in_dim) = weight.as_tensor().dims2()?;
                    let bias = bias.clone().ok_or_else(|| ZooError::Config("transformer head without a bias".into()))?;
                    let (w, b) = fold_ln(&Linear { weight: weight.clone(), bias }, final_ln, 1.0)?;
                    let pooling = pooling.ok_or_else(|| ZooError::Config("transformer head without a pooling layer".into()))?;
                    // Row-wise normalisation commutes with picking a row, not with the mean over rows.
                    match pooling {
                        Pooling::ClassToken => {
                            layers.push(ExportedLayer::Pool { pooling });
                            layers.push(ExportedLayer::Normalize { eps: LN_EPS });
                        }
                        Pooling::Mean => {
                            layers.push(ExportedLayer::Normalize { eps: LN_EPS });
                            layers.push(ExportedLayer::Pool { pooling });
                        }
                    }
                    layers.push(ExportedLayer::Dense { in_dim, out_dim, weight: w, bias: b });
                }
                other => return Err(ZooError::Config(format!("layer {other:?} cannot appear in a transformer"))),
            }
        }
        Ok(ExportedModel { activation: self.activation.name().to_string(), input_shape: self.config.arch.input_shape(), layers })
    }

    /// Exports with every BatchNorm folded into the preceding Dense/Conv layer (no Affine layers remain).
    pub fn export_folded(&self) -> Result<ExportedModel> {
        let mut m = self.export()?;
        let mut out: Vec<ExportedLayer> = Vec::with_capacity(m.layers.len());
        for layer in m.layers.drain(..) {
            if let ExportedLayer::Affine { scale, shift } = &layer {
                match out.last_mut() {
                    Some(ExportedLayer::Dense { in_dim, weight, bias, .. }) => {
                        for (o, (s, t)) in scale.iter().zip(shift).enumerate() {
                            weight[o * *in_dim..(o + 1) * *in_dim].iter_mut().for_each(|w| *w *= s);
                            bias[o] = bias[o] * s + t;
                        }
                        continue;
                    }
                    Some(ExportedLayer::Conv3x3 { in_channels, weight, bias, .. }) => {
                        let per = *in_channels * 9;
                        for (o, (s, t)) in scale.iter().zip(shift).enumerate() {
                            weight[o * per..(o + 1) * per].iter_mut().for_each(|w| *w *= s);
                            bias[o] = bias[o] * s + t;
                        }
                        continue;
                    }
                    _ => {}
                }
            }
            out.push(layer);
        }
        m.layers = out;
        Ok(m)
    }
}

impl ExportedModel {
    /// Number of activation layers.
    pub fn n_activation_layers(&self) -> usize {
        self.layers.iter().filter(|l| matches!(l, ExportedLayer::Activation { .. } | ExportedLayer::Block(_))).count()
    }

    /// Whether the model is a transformer (has encoder blocks).
    pub fn is_transformer(&self) -> bool {
        self.layers.iter().any(|l| matches!(l, ExportedLayer::Block(_)))
    }

    /// Activation elements evaluated per sample: the sample's size at each activation layer, summed.
    pub fn activation_elements(&self) -> usize {
        self.activation_elements_per_layer().iter().sum()
    }

    /// Activation elements evaluated per sample at each activation layer, in layer order (a text transformer:
    /// every token position, padding included).
    pub fn activation_elements_per_layer(&self) -> Vec<usize> {
        let mut shape = self.input_shape.clone();
        let mut elements = Vec::new();
        for l in &self.layers {
            match l {
                ExportedLayer::Dense { out_dim, .. } => shape = vec![*out_dim],
                ExportedLayer::Conv3x3 { out_channels, .. } => {
                    if let Some(c) = shape.last_mut() {
                        *c = *out_channels;
                    }
                }
                ExportedLayer::Activation { .. } => elements.push(shape.iter().product::<usize>()),
                ExportedLayer::MaxPool2 if shape.len() == 3 => shape = vec![shape[0] / 2, shape[1] / 2, shape[2]],
                ExportedLayer::Flatten => shape = vec![shape.iter().product()],
                ExportedLayer::PatchEmbed { image, patch, width, .. } => shape = vec![1 + (image[0] / patch) * (image[1] / patch), *width],
                ExportedLayer::TokenEmbed { max_len, width, .. } => shape = vec![*max_len, *width],
                ExportedLayer::Block(b) => elements.push(shape.first().copied().unwrap_or(0) * b.mlp_width),
                ExportedLayer::Pool { .. } => shape = vec![shape.last().copied().unwrap_or(0)],
                ExportedLayer::MaxPool2 | ExportedLayer::Affine { .. } | ExportedLayer::Normalize { .. } => {}
            }
        }
        elements
    }

    /// Reference forward pass of one sample in f64; `act(index, x)` is the activation of layer `index`.
    pub fn forward(&self, input: &[f32], act: &dyn Fn(usize, f64) -> f64) -> Result<Vec<f64>> {
        let n: usize = self.input_shape.iter().product();
        if input.len() != n {
            return Err(ZooError::InputShape { got: vec![input.len()], expected: self.input_shape.clone() });
        }
        let mut x: Vec<f64> = input.iter().map(|&v| f64::from(v)).collect();
        let mut shape = self.input_shape.clone();
        // Transformer state: which tokens are real (all, unless a token embedding saw padding).
        let mut real: Vec<bool> = Vec::new();
        for layer in &self.layers {
            match layer {
                ExportedLayer::PatchEmbed { image, patch, width, weight, bias, cls, pos } => {
                    let d = *width;
                    let idx = crate::transformer::patch_indices(*image, *patch);
                    let per = patch * patch * image[2];
                    let t = idx.len() / per;
                    let mut y: Vec<f64> = cls.iter().map(|&c| f64::from(c)).collect();
                    for p in 0..t {
                        let px: Vec<f64> = idx[p * per..(p + 1) * per].iter().map(|&i| x[i]).collect();
                        y.extend(affine_f64(weight, bias, &px));
                    }
                    y.iter_mut().zip(pos).for_each(|(y, p)| *y += f64::from(*p));
                    x = y;
                    real = vec![true; t + 1];
                    shape = vec![t + 1, d];
                }
                ExportedLayer::TokenEmbed { vocab, max_len, width, table, pos } => {
                    let d = *width;
                    let mut y = vec![0f64; max_len * d];
                    real = x.iter().map(|&id| id >= 0.0).collect();
                    for (l, &id) in x.iter().enumerate() {
                        if id >= 0.0 {
                            let id = id as usize;
                            if id >= *vocab {
                                return Err(ZooError::Config(format!("token id {id} is outside the vocabulary of {vocab}; re-tokenise with the model's hash bits")));
                            }
                            y[l * d..(l + 1) * d].iter_mut().zip(&table[id * d..(id + 1) * d]).for_each(|(y, t)| *y = f64::from(*t));
                        }
                        y[l * d..(l + 1) * d].iter_mut().zip(&pos[l * d..(l + 1) * d]).for_each(|(y, p)| *y += f64::from(*p));
                    }
                    x = y;
                    shape = vec![*max_len, d];
                }
                ExportedLayer::Block(b) => b.forward(&mut x, &real, act),
                ExportedLayer::Normalize { eps } => {
                    let d = shape.last().copied().unwrap_or(x.len());
                    x = x.chunks(d).flat_map(|r| normalize_f64(r, *eps)).collect();
                }
                ExportedLayer::Pool { pooling } => {
                    let d = shape.last().copied().unwrap_or(x.len());
                    x = match pooling {
                        Pooling::ClassToken => x[..d].to_vec(),
                        Pooling::Mean => {
                            let n = real.iter().filter(|r| **r).count().max(1) as f64;
                            let mut y = vec![0f64; d];
                            for (row, _) in x.chunks(d).zip(&real).filter(|(_, r)| **r) {
                                y.iter_mut().zip(row).for_each(|(y, v)| *y += v);
                            }
                            y.into_iter().map(|v| v / n).collect()
                        }
                    };
                    real = vec![true];
                    shape = vec![d];
                }
                ExportedLayer::Dense { in_dim, out_dim, weight, bias } => {
                    if x.len() != *in_dim {
                        return Err(ZooError::InputShape { got: vec![x.len()], expected: vec![*in_dim] });
                    }
                    x = (0..*out_dim)
                        .map(|o| f64::from(bias[o]) + weight[o * in_dim..(o + 1) * in_dim].iter().zip(&x).map(|(w, v)| f64::from(*w) * v).sum::<f64>())
                        .collect();
                    shape = vec![*out_dim];
                }
                ExportedLayer::Conv3x3 { in_channels: c, out_channels: o, weight, bias } => {
                    let (h, w) = (shape[0], shape[1]);
                    let mut y = vec![0f64; h * w * o];
                    for i in 0..h {
                        for j in 0..w {
                            for oc in 0..*o {
                                let mut acc = f64::from(bias[oc]);
                                for ky in 0..3 {
                                    for kx in 0..3 {
                                        let (ii, jj) = (i + ky, j + kx);
                                        if ii < 1 || jj < 1 || ii > h || jj > w {
                                            continue;
                                        }
                                        let base = ((ii - 1) * w + (jj - 1)) * c;
                                        for ic in 0..*c {
                                            acc += f64::from(weight[((oc * c + ic) * 3 + ky) * 3 + kx]) * x[base + ic];
                                        }
                                    }
                                }
                                y[(i * w + j) * o + oc] = acc;
                            }
                        }
                    }
                    x = y;
                    shape = vec![h, w, *o];
                }
                ExportedLayer::Affine { scale, shift } => {
                    let c = scale.len();
                    x.iter_mut().enumerate().for_each(|(k, v)| *v = f64::from(scale[k % c]) * *v + f64::from(shift[k % c]));
                }
                ExportedLayer::Activation { index } => x.iter_mut().for_each(|v| *v = act(*index, *v)),
                ExportedLayer::MaxPool2 => {
                    let (h, w, c) = (shape[0], shape[1], shape[2]);
                    let (h2, w2) = (h / 2, w / 2);
                    let mut y = vec![f64::NEG_INFINITY; h2 * w2 * c];
                    for i in 0..2 * h2 {
                        for j in 0..2 * w2 {
                            for k in 0..c {
                                let t = &mut y[((i / 2) * w2 + j / 2) * c + k];
                                *t = t.max(x[(i * w + j) * c + k]);
                            }
                        }
                    }
                    x = y;
                    shape = vec![h2, w2, c];
                }
                ExportedLayer::Flatten => shape = vec![x.len()],
            }
        }
        Ok(x)
    }
}

/// Convenience: the plan-equivalent activation closure for [`ExportedModel::forward`] from a network's activation.
pub fn exact_activation(net: &Network) -> impl Fn(usize, f64) -> f64 + '_ {
    move |_, x| net.activation.activation.eval(x)
}

