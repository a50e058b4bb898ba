//! The model as plain data for a later secure-inference pass (issue 7 runs it on secret shares with `mpc-sim`):
//! layers with row-major `f32` weights, BatchNorm folded into a per-channel affine map y = s·x + t
//! (s = γ/√(r_σ² + ε), t = β − s·r_μ), or folded further into the preceding linear/conv layer
//! (W' = diag(s)·W, b' = t). A plain f64 reference forward pass ([`ExportedModel::forward`]) defines the semantics.

use serde::{Deserialize, Serialize};

use crate::error::{Result, ZooError};
use crate::model::{BN_EPS, Layer, Network};

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
    /// Exports the layers with each BatchNorm as an [`ExportedLayer::Affine`].
    pub fn export(&self) -> Result<ExportedModel> {
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
            });
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
        self.layers.iter().filter(|l| matches!(l, ExportedLayer::Activation { .. })).count()
    }

    /// Activation elements evaluated per sample: the sample's size at each activation layer, summed.
    pub fn activation_elements(&self) -> usize {
        let mut shape = self.input_shape.clone();
        let mut elements = 0;
        for l in &self.layers {
            match l {
                ExportedLayer::Dense { out_dim, .. } => shape = vec![*out_dim],
                ExportedLayer::Conv3x3 { out_channels, .. } => {
                    if let Some(c) = shape.last_mut() {
                        *c = *out_channels;
                    }
                }
                ExportedLayer::Activation { .. } => elements += shape.iter().product::<usize>(),
                ExportedLayer::MaxPool2 if shape.len() == 3 => shape = vec![shape[0] / 2, shape[1] / 2, shape[2]],
                ExportedLayer::Flatten => shape = vec![shape.iter().product()],
                ExportedLayer::MaxPool2 | ExportedLayer::Affine { .. } => {}
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
        for layer in &self.layers {
            match layer {
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

