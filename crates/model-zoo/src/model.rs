//! The networks: a stack of layers where every hidden block is linear/conv → BatchNorm → activation.
//!
//! Shapes: an MLP maps `[B, d_in]` → `[B, classes]`; the VGG-style CNN maps channels-last images
//! `[B, H, W, C]` → `[B, classes]`. A 3×3 convolution (stride 1, zero padding 1) is computed as im2col + matmul:
//! the nine shifted copies of the padded input are concatenated on the channel axis, `[B, H, W, 9·C_in]`, and
//! multiplied by the weight reshaped to `[9·C_in, C_out]` (tap order dy, dx, c_in). The weight is stored
//! PyTorch-style as `[C_out, C_in, 3, 3]`. Max pooling is 2×2 with stride 2 (an odd last row/column is dropped).
//!
//! BatchNorm over the last axis: in training ŷ = γ·(x − μ_B)/√(σ²_B + ε) + β with batch statistics (biased
//! variance), and running statistics updated as r ← (1 − m)·r + m·batch (m = 0.1, the variance with the unbiased
//! batch estimate); in evaluation ŷ = γ·(x − r_μ)/√(r_σ² + ε) + β = s·x + t with s = γ/√(r_σ² + ε),
//! t = β − s·r_μ — the folded form [`Network::export`] hands to the secure-inference pass.
//!
//! Linear and convolution layers feeding a BatchNorm have no bias (it would be cancelled by the mean);
//! the classifier layer has one.

use candle_core::{D, DType, Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::act::{ActivationPlan, ModelActivation, map_elementwise};
use crate::data::Task;
use crate::error::{Result, ZooError};
use crate::transformer::{Block, LayerNorm, Linear, PatchEmbed, Pooling, SoftmaxKernel, TokenEmbed};

/// Observer of the attention scores ([`Network::forward_observed_attention`]): (block index, scores
/// `[B, heads, T, T]`, padding mask `[B, T]` (1 = real token) if any).
pub type ScoresObserver<'a> = dyn FnMut(usize, &Tensor, Option<&Tensor>) -> Result<()> + 'a;

/// BatchNorm ε.
pub const BN_EPS: f64 = 1e-5;
/// BatchNorm running-statistics momentum.
pub const BN_MOMENTUM: f64 = 0.1;

/// The architecture of a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Arch {
    /// `depth` hidden blocks Linear(width, no bias) → BN → act, then Linear(classes).
    Mlp {
        /// Input features.
        input: usize,
        /// Hidden width.
        width: usize,
        /// Number of hidden blocks (= activation layers).
        depth: usize,
        /// Output classes.
        classes: usize,
    },
    /// Three stages of [conv3×3 → BN → act] ×2 → maxpool2, then two hidden FC blocks and the classifier:
    /// 8 activation layers.
    VggCnn {
        /// Input image `[H, W, C]`.
        input: [usize; 3],
        /// Channels of the three stages.
        widths: [usize; 3],
        /// Width of the two hidden FC blocks.
        fc: usize,
        /// Output classes.
        classes: usize,
    },
    /// Pre-norm Vision Transformer ([`crate::transformer`]): `patch`×`patch` patches of the image → tokens plus a
    /// class token, learned position embeddings, `depth` encoder blocks (one activation layer each, in the MLP),
    /// a final LayerNorm, and the classifier on the class token.
    Vit {
        /// Input image `[H, W, C]` (H and W multiples of `patch`).
        input: [usize; 3],
        /// Patch side.
        patch: usize,
        /// Token width D.
        width: usize,
        /// Encoder blocks (= activation layers).
        depth: usize,
        /// Attention heads (D must be a multiple).
        heads: usize,
        /// Hidden width of each block's MLP.
        mlp_width: usize,
        /// Output classes.
        classes: usize,
    },
    /// Pre-norm text transformer: hashed token ids (padding < 0) → learned embeddings plus position embeddings,
    /// `depth` encoder blocks with padding masked out of attention, a final LayerNorm, the mean over the real
    /// tokens, the classifier.
    TextTransformer {
        /// Token ids `0..vocab`.
        vocab: usize,
        /// Sequence length (input size).
        max_len: usize,
        /// Token width D.
        width: usize,
        /// Encoder blocks (= activation layers).
        depth: usize,
        /// Attention heads.
        heads: usize,
        /// Hidden width of each block's MLP.
        mlp_width: usize,
        /// Output classes.
        classes: usize,
    },
}

impl Arch {
    /// Number of hidden (activation) layers.
    pub fn depth(&self) -> usize {
        match self {
            Arch::Mlp { depth, .. } => *depth,
            Arch::VggCnn { .. } => 8,
            Arch::Vit { depth, .. } | Arch::TextTransformer { depth, .. } => *depth,
        }
    }

    /// Width: the MLP hidden width, the CNN's last stage width.
    pub fn width(&self) -> usize {
        match self {
            Arch::Mlp { width, .. } => *width,
            Arch::VggCnn { widths, .. } => widths[2],
            Arch::Vit { width, .. } | Arch::TextTransformer { width, .. } => *width,
        }
    }

    /// Shape of one input sample.
    pub fn input_shape(&self) -> Vec<usize> {
        match self {
            Arch::Mlp { input, .. } => vec![*input],
            Arch::VggCnn { input, .. } | Arch::Vit { input, .. } => input.to_vec(),
            Arch::TextTransformer { max_len, .. } => vec![*max_len],
        }
    }

    /// Whether the architecture is a transformer.
    pub fn is_transformer(&self) -> bool {
        matches!(self, Arch::Vit { .. } | Arch::TextTransformer { .. })
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(ZooError::Config(m));
        match self {
            Arch::Mlp { input, width, depth, classes } => {
                if *input == 0 || *width == 0 || *depth == 0 || *classes < 2 {
                    return bad(format!("MLP needs input, width, depth ≥ 1 and classes ≥ 2; got input {input}, width {width}, depth {depth}, classes {classes}"));
                }
            }
            Arch::VggCnn { input, widths, fc, classes } => {
                if input[0] < 8 || input[1] < 8 || input[2] == 0 || widths.contains(&0) || *fc == 0 || *classes < 2 {
                    return bad(format!("CNN needs images ≥ 8×8 and positive widths; got input {input:?}, widths {widths:?}, fc {fc}, classes {classes}"));
                }
            }
            Arch::Vit { input, patch, width, depth, heads, mlp_width, classes } => {
                if *patch == 0 || input[0] % patch != 0 || input[1] % patch != 0 || input[0] == 0 || input[1] == 0 || input[2] == 0 {
                    return bad(format!("ViT needs an image whose sides are multiples of the patch; got input {input:?}, patch {patch}"));
                }
                check_encoder(*width, *depth, *heads, *mlp_width, *classes)?;
            }
            Arch::TextTransformer { vocab, max_len, width, depth, heads, mlp_width, classes } => {
                if *vocab == 0 || *max_len == 0 {
                    return bad(format!("text transformer needs vocab, max_len ≥ 1; got vocab {vocab}, max_len {max_len}"));
                }
                check_encoder(*width, *depth, *heads, *mlp_width, *classes)?;
            }
        }
        Ok(())
    }
}

fn check_encoder(width: usize, depth: usize, heads: usize, mlp_width: usize, classes: usize) -> Result<()> {
    if width == 0 || depth == 0 || heads == 0 || width % heads != 0 || mlp_width == 0 || classes < 2 {
        return Err(ZooError::Config(format!(
            "transformer needs width, depth, heads, mlp_width ≥ 1, width a multiple of heads and classes ≥ 2; got width {width}, depth {depth}, heads {heads}, mlp_width {mlp_width}, classes {classes}"
        )));
    }
    Ok(())
}

/// What a saved model is: task, architecture and activation name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// The task.
    pub task: Task,
    /// The architecture.
    pub arch: Arch,
    /// Activation name in the registry.
    pub activation: String,
}

/// A BatchNorm over the last axis.
#[derive(Debug, Clone)]
pub struct BatchNorm {
    /// γ.
    pub gamma: Var,
    /// β.
    pub beta: Var,
    /// Running mean.
    pub running_mean: Var,
    /// Running (unbiased) variance.
    pub running_var: Var,
}

/// One layer.
#[derive(Debug, Clone)]
pub enum Layer {
    /// y = x·Wᵀ (+ b); weight `[out, in]`.
    Dense {
        /// Weight `[out, in]`.
        weight: Var,
        /// Bias `[out]` (classifier only).
        bias: Option<Var>,
    },
    /// 3×3 convolution, stride 1, padding 1, channels-last; weight `[out, in, 3, 3]`.
    Conv3x3 {
        /// Weight `[out, in, 3, 3]`.
        weight: Var,
    },
    /// BatchNorm over the last axis.
    BatchNorm(BatchNorm),
    /// The `index`-th activation layer.
    Activation {
        /// 0-based index among activation layers.
        index: usize,
    },
    /// 2×2 max pooling, stride 2, channels-last.
    MaxPool2,
    /// `[B, H, W, C]` → `[B, H·W·C]` (row-major, channels fastest).
    Flatten,
    /// Image → class token + patch tokens `[B, 1 + T, D]`.
    PatchEmbed(Box<PatchEmbed>),
    /// Token ids → tokens `[B, L, D]` (sets the padding mask).
    TokenEmbed(Box<TokenEmbed>),
    /// One pre-norm encoder block (its MLP holds one activation layer).
    Block(Box<Block>),
    /// LayerNorm over the last axis.
    LayerNorm(LayerNorm),
    /// Tokens `[B, T, D]` → `[B, D]`.
    Pool(Pooling),
}

/// A network: named layers, the activation, and the configuration it was built from.
#[derive(Debug, Clone)]
pub struct Network {
    /// Configuration.
    pub config: ModelConfig,
    /// Layers, with their parameter-name prefixes (`l0`, `l1`, …).
    pub layers: Vec<(String, Layer)>,
    /// The activation.
    pub activation: ModelActivation,
    device: Device,
}

/// Sizes of an encoder stack (token width, blocks, heads, MLP width, classes).
struct EncoderDims {
    width: usize,
    depth: usize,
    heads: usize,
    mlp: usize,
    classes: usize,
}

struct Init {
    rng: ChaCha8Rng,
    device: Device,
}

impl Init {
    /// U(−1/√fan_in, 1/√fan_in), PyTorch's default for linear and conv layers.
    fn uniform(&mut self, shape: &[usize], fan_in: usize) -> Result<Var> {
        let bound = 1.0 / (fan_in as f32).sqrt();
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| self.rng.random_range(-bound..bound)).collect();
        Ok(Var::from_tensor(&Tensor::from_vec(v, shape, &self.device)?)?)
    }
    fn constant(&self, n: usize, value: f32) -> Result<Var> {
        Ok(Var::from_tensor(&Tensor::full(value, n, &self.device)?)?)
    }
    /// U(−a, a).
    fn symmetric(&mut self, shape: &[usize], a: f32) -> Result<Var> {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| self.rng.random_range(-a..a)).collect();
        Ok(Var::from_tensor(&Tensor::from_vec(v, shape, &self.device)?)?)
    }
    fn linear(&mut self, out: usize, inp: usize) -> Result<Linear> {
        Ok(Linear { weight: self.uniform(&[out, inp], inp)?, bias: self.uniform(&[out], inp)? })
    }
    fn ln(&self, n: usize) -> Result<LayerNorm> {
        Ok(LayerNorm { gamma: self.constant(n, 1.0)?, beta: self.constant(n, 0.0)? })
    }
    /// `depth` blocks, the final LayerNorm, the pooling and the classifier.
    fn encoder(&mut self, layers: &mut Vec<Layer>, dims: EncoderDims, pool: Pooling) -> Result<()> {
        let EncoderDims { width, depth, heads, mlp, classes } = dims;
        for index in 0..depth {
            layers.push(Layer::Block(Box::new(Block {
                heads,
                ln1: self.ln(width)?,
                q: self.linear(width, width)?,
                k: self.linear(width, width)?,
                v: self.linear(width, width)?,
                o: self.linear(width, width)?,
                ln2: self.ln(width)?,
                fc1: self.linear(mlp, width)?,
                fc2: self.linear(width, mlp)?,
                index,
            })));
        }
        layers.push(Layer::LayerNorm(self.ln(width)?));
        layers.push(Layer::Pool(pool));
        let head = self.linear(classes, width)?;
        layers.push(Layer::Dense { weight: head.weight, bias: Some(head.bias) });
        Ok(())
    }
    fn bn(&self, n: usize) -> Result<Layer> {
        Ok(Layer::BatchNorm(BatchNorm {
            gamma: self.constant(n, 1.0)?,
            beta: self.constant(n, 0.0)?,
            running_mean: self.constant(n, 0.0)?,
            running_var: self.constant(n, 1.0)?,
        }))
    }
}

impl Network {
    /// Builds a freshly initialised network (weights from a ChaCha8 stream seeded with `seed`).
    pub fn new(config: ModelConfig, activation: ModelActivation, seed: u64) -> Result<Self> {
        config.arch.validate()?;
        let device = Device::Cpu;
        let mut init = Init { rng: ChaCha8Rng::seed_from_u64(seed), device: device.clone() };
        let mut layers: Vec<Layer> = Vec::new();
        let mut act = 0;
        let mut push_block = |layers: &mut Vec<Layer>, lin: Layer, n: usize, init: &Init| -> Result<()> {
            layers.push(lin);
            layers.push(init.bn(n)?);
            layers.push(Layer::Activation { index: act });
            act += 1;
            Ok(())
        };
        match &config.arch {
            Arch::Mlp { input, width, depth, classes } => {
                let mut d_in = *input;
                for _ in 0..*depth {
                    let w = init.uniform(&[*width, d_in], d_in)?;
                    push_block(&mut layers, Layer::Dense { weight: w, bias: None }, *width, &init)?;
                    d_in = *width;
                }
                let w = init.uniform(&[*classes, d_in], d_in)?;
                let b = init.uniform(&[*classes], d_in)?;
                layers.push(Layer::Dense { weight: w, bias: Some(b) });
            }
            Arch::VggCnn { input, widths, fc, classes } => {
                let (mut h, mut w, mut c) = (input[0], input[1], input[2]);
                for &out in widths {
                    for _ in 0..2 {
                        let k = init.uniform(&[out, c, 3, 3], 9 * c)?;
                        push_block(&mut layers, Layer::Conv3x3 { weight: k }, out, &init)?;
                        c = out;
                    }
                    layers.push(Layer::MaxPool2);
                    h /= 2;
                    w /= 2;
                }
                layers.push(Layer::Flatten);
                let mut d_in = h * w * c;
                for _ in 0..2 {
                    let k = init.uniform(&[*fc, d_in], d_in)?;
                    push_block(&mut layers, Layer::Dense { weight: k, bias: None }, *fc, &init)?;
                    d_in = *fc;
                }
                let k = init.uniform(&[*classes, d_in], d_in)?;
                let b = init.uniform(&[*classes], d_in)?;
                layers.push(Layer::Dense { weight: k, bias: Some(b) });
            }
            Arch::Vit { input, patch, width, depth, heads, mlp_width, classes } => {
                let per = patch * patch * input[2];
                let tokens = (input[0] / patch) * (input[1] / patch);
                layers.push(Layer::PatchEmbed(Box::new(PatchEmbed {
                    proj: init.linear(*width, per)?,
                    cls: init.symmetric(&[*width], 0.02)?,
                    pos: init.symmetric(&[tokens + 1, *width], 0.02)?,
                    image: *input,
                    patch: *patch,
                })));
                let dims = EncoderDims { width: *width, depth: *depth, heads: *heads, mlp: *mlp_width, classes: *classes };
                init.encoder(&mut layers, dims, Pooling::ClassToken)?;
            }
            Arch::TextTransformer { vocab, max_len, width, depth, heads, mlp_width, classes } => {
                layers.push(Layer::TokenEmbed(Box::new(TokenEmbed {
                    table: init.symmetric(&[*vocab, *width], 1.0)?,
                    pos: init.symmetric(&[*max_len, *width], 0.02)?,
                })));
                let dims = EncoderDims { width: *width, depth: *depth, heads: *heads, mlp: *mlp_width, classes: *classes };
                init.encoder(&mut layers, dims, Pooling::Mean)?;
            }
        }
        let layers = layers.into_iter().enumerate().map(|(i, l)| (format!("l{i}"), l)).collect();
        Ok(Network { config, layers, activation, device })
    }

    /// The CPU device the network lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Number of activation layers.
    pub fn n_activation_layers(&self) -> usize {
        self.layers.iter().filter(|(_, l)| matches!(l, Layer::Activation { .. } | Layer::Block(_))).count()
    }

    /// Number of trainable parameters.
    pub fn n_parameters(&self) -> usize {
        self.trainable_vars().iter().map(|v| v.elem_count()).sum()
    }

    /// The variables the optimiser updates (weights, biases, γ, β).
    pub fn trainable_vars(&self) -> Vec<Var> {
        let mut out = Vec::new();
        for (_, l) in &self.layers {
            match l {
                Layer::Dense { weight, bias } => {
                    out.push(weight.clone());
                    out.extend(bias.clone());
                }
                Layer::Conv3x3 { weight } => out.push(weight.clone()),
                Layer::BatchNorm(bn) => {
                    out.push(bn.gamma.clone());
                    out.push(bn.beta.clone());
                }
                Layer::PatchEmbed(_) | Layer::TokenEmbed(_) | Layer::Block(_) | Layer::LayerNorm(_) => {
                    let mut named = Vec::new();
                    crate::transformer::named_parts(l, "", &mut named);
                    out.extend(named.into_iter().map(|(_, v)| v));
                }
                _ => {}
            }
        }
        out
    }

    /// Every tensor by name (`l3.weight`, `l4.running_var`, …), as saved in safetensors.
    pub fn named_tensors(&self) -> Vec<(String, Var)> {
        let mut out = Vec::new();
        for (name, l) in &self.layers {
            match l {
                Layer::Dense { weight, bias } => {
                    out.push((format!("{name}.weight"), weight.clone()));
                    if let Some(b) = bias {
                        out.push((format!("{name}.bias"), b.clone()));
                    }
                }
                Layer::Conv3x3 { weight } => out.push((format!("{name}.weight"), weight.clone())),
                Layer::BatchNorm(bn) => {
                    out.push((format!("{name}.gamma"), bn.gamma.clone()));
                    out.push((format!("{name}.beta"), bn.beta.clone()));
                    out.push((format!("{name}.running_mean"), bn.running_mean.clone()));
                    out.push((format!("{name}.running_var"), bn.running_var.clone()));
                }
                Layer::PatchEmbed(_) | Layer::TokenEmbed(_) | Layer::Block(_) | Layer::LayerNorm(_) => {
                    crate::transformer::named_parts(l, name, &mut out);
                }
                _ => {}
            }
        }
        out
    }

    /// Turns a batch of samples into an input tensor `[n, sample_shape…]`, checking the shape.
    pub fn input_tensor(&self, features: &[f32], sample_shape: &[usize]) -> Result<Tensor> {
        let want = self.config.arch.input_shape();
        let per: usize = want.iter().product();
        // A ViT reads its image row-major channels-last, so a flat sample of the same size is the same image.
        let vit_flat = matches!(self.config.arch, Arch::Vit { .. }) && sample_shape.iter().product::<usize>() == per;
        if (sample_shape != want.as_slice() && !vit_flat) || per == 0 || features.len() % per != 0 {
            let mut got = vec![if per == 0 { 0 } else { features.len() / per.max(1) }];
            got.extend_from_slice(sample_shape);
            return Err(ZooError::InputShape { got, expected: want });
        }
        let mut shape = vec![features.len() / per];
        shape.extend(want);
        Ok(Tensor::from_slice(features, shape, &self.device)?)
    }

    /// Training-mode forward pass (batch statistics, running statistics updated), differentiable.
    pub fn forward_train(&self, x: &Tensor) -> Result<Tensor> {
        self.activation.trainable()?;
        self.forward_impl(x, true, &ActivationPlan::Exact, &mut |_, _| Ok(()), None)
    }

    /// Evaluation-mode forward pass with the activations chosen by `plan`; returns the logits.
    pub fn forward(&self, x: &Tensor, plan: &ActivationPlan) -> Result<Tensor> {
        plan.check(self.n_activation_layers())?;
        self.forward_impl(x, false, plan, &mut |_, _| Ok(()), None)
    }

    /// Evaluation-mode forward pass that hands each activation layer's input (index, pre-activation tensor) to
    /// `observe` before applying the activation.
    pub fn forward_observed(&self, x: &Tensor, plan: &ActivationPlan, observe: &mut dyn FnMut(usize, &Tensor) -> Result<()>) -> Result<Tensor> {
        plan.check(self.n_activation_layers())?;
        self.forward_impl(x, false, plan, observe, None)
    }

    /// Evaluation-mode forward pass (exact activations) that hands each encoder block's attention scores to
    /// `observe`: (block index, scores `[B, heads, T, T]` before the padding mask, the padding mask `[B, T]` with 1 on
    /// real tokens if the input has padding). Models without encoder blocks never call it.
    pub fn forward_observed_attention(&self, x: &Tensor, observe: &mut ScoresObserver<'_>) -> Result<Tensor> {
        self.forward_impl(x, false, &ActivationPlan::Exact, &mut |_, _| Ok(()), Some(observe))
    }

    fn forward_impl(
        &self,
        x: &Tensor,
        train: bool,
        plan: &ActivationPlan,
        observe: &mut dyn FnMut(usize, &Tensor) -> Result<()>,
        mut scores: Option<&mut ScoresObserver<'_>>,
    ) -> Result<Tensor> {
        let mut x = x.clone();
        let mut mask: Option<Tensor> = None;
        for (_, layer) in &self.layers {
            x = match layer {
                Layer::PatchEmbed(p) => p.forward(&x)?,
                Layer::TokenEmbed(t) => {
                    let (y, m) = t.forward(&x)?;
                    mask = Some(m);
                    y
                }
                Layer::Block(blk) => {
                    let att = match scores.as_deref_mut() {
                        None => blk.attention(&x, mask.as_ref(), if train { SoftmaxKernel::Fused } else { SoftmaxKernel::Composed })?,
                        Some(obs) => {
                            let mut err: Option<ZooError> = None;
                            let m = mask.as_ref();
                            let y = blk.attention_observed(&x, m, SoftmaxKernel::Composed, &mut |s| {
                                if let Err(e) = obs(blk.index, s, m) {
                                    err = Some(e);
                                }
                                Ok(())
                            })?;
                            if let Some(e) = err {
                                return Err(e);
                            }
                            y
                        }
                    };
                    let x = (&x + att)?;
                    let u = blk.fc1.forward(&blk.ln2.forward(&x)?)?;
                    observe(blk.index, &u)?;
                    let a = match plan.replacement(blk.index) {
                        Some(f) => map_elementwise(&u, f.as_ref())?,
                        None => self.activation.apply(&u)?,
                    };
                    (x + blk.fc2.forward(&a)?)?
                }
                Layer::LayerNorm(ln) => ln.forward(&x)?,
                Layer::Pool(p) => p.forward(&x, mask.as_ref())?,
                Layer::Dense { weight, bias } => {
                    let y = x.matmul(&weight.as_tensor().t()?)?;
                    match bias {
                        Some(b) => y.broadcast_add(b.as_tensor())?,
                        None => y,
                    }
                }
                Layer::Conv3x3 { weight } => conv3x3_nhwc(&x, weight.as_tensor())?,
                Layer::BatchNorm(bn) => batch_norm(&x, bn, train)?,
                Layer::Activation { index } => {
                    observe(*index, &x)?;
                    match plan.replacement(*index) {
                        Some(f) => map_elementwise(&x, f.as_ref())?,
                        None => self.activation.apply(&x)?,
                    }
                }
                Layer::MaxPool2 => max_pool2_nhwc(&x)?,
                Layer::Flatten => x.flatten_from(1)?,
            };
        }
        Ok(x)
    }
}

/// 3×3 convolution, stride 1, zero padding 1, on channels-last input `[B, H, W, C]` with weight `[O, C, 3, 3]`.
///
/// im2col by one gather: the input viewed as `[B, H·W, C]` gets an extra zero row (index H·W) standing for the
/// padding, `index_select` picks the nine taps of every output pixel (`[B, H·W·9, C]` = `[B·H·W, 9·C]`, tap order
/// dy, dx, c), and one matmul with the weight as `[9·C, O]` finishes. The backward pass is a single scatter-add.
pub fn conv3x3_nhwc(x: &Tensor, weight: &Tensor) -> candle_core::Result<Tensor> {
    let (b, h, w, c) = x.dims4()?;
    let (o, c2, kh, kw) = weight.dims4()?;
    if c != c2 || kh != 3 || kw != 3 {
        candle_core::bail!("conv3x3: input has {c} channels, weight is {o}×{c2}×{kh}×{kw}")
    }
    let zero_row = (h * w) as u32;
    let mut idx = Vec::with_capacity(h * w * 9);
    for i in 0..h {
        for j in 0..w {
            for dy in 0..3 {
                for dx in 0..3 {
                    let (ii, jj) = (i + dy, j + dx);
                    idx.push(if ii < 1 || jj < 1 || ii > h || jj > w { zero_row } else { ((ii - 1) * w + (jj - 1)) as u32 });
                }
            }
        }
    }
    let idx = Tensor::from_vec(idx, h * w * 9, x.device())?;
    let flat = x.reshape((b, h * w, c))?;
    let padded = Tensor::cat(&[&flat, &Tensor::zeros((b, 1, c), x.dtype(), x.device())?], 1)?;
    let patches = padded.index_select(&idx, 1)?.reshape((b * h * w, 9 * c))?;
    let wmat = weight.permute((2, 3, 1, 0))?.reshape((9 * c, o))?;
    patches.matmul(&wmat)?.reshape((b, h, w, o))
}

/// 2×2 max pooling with stride 2 on `[B, H, W, C]` (an odd last row/column is dropped), as two element-wise
/// maxima: of row pairs, then of column pairs.
pub fn max_pool2_nhwc(x: &Tensor) -> candle_core::Result<Tensor> {
    let (b, h, w, c) = x.dims4()?;
    let (h2, w2) = (h / 2, w / 2);
    let x = if h % 2 == 1 || w % 2 == 1 { x.narrow(1, 0, 2 * h2)?.narrow(2, 0, 2 * w2)?.contiguous()? } else { x.clone() };
    let rows = x.reshape((b * h2, 2, 2 * w2 * c))?;
    let r = rows.narrow(1, 0, 1)?.maximum(&rows.narrow(1, 1, 1)?)?;
    let cols = r.reshape((b * h2 * w2, 2, c))?;
    cols.narrow(1, 0, 1)?.maximum(&cols.narrow(1, 1, 1)?)?.reshape((b, h2, w2, c))
}

fn batch_norm(x: &Tensor, bn: &BatchNorm, train: bool) -> Result<Tensor> {
    let shape = x.shape().clone();
    let c = x.dim(D::Minus1)?;
    let flat = x.reshape(((), c))?;
    let (mean, var) = if train {
        let n = flat.dim(0)?;
        let mean = flat.mean_keepdim(0)?;
        let centered = flat.broadcast_sub(&mean)?;
        let var = centered.sqr()?.mean_keepdim(0)?;
        let unbiased = if n > 1 { (var.detach() * (n as f64 / (n as f64 - 1.0)))? } else { var.detach() };
        let rm = ((bn.running_mean.as_tensor() * (1.0 - BN_MOMENTUM))? + (mean.detach().squeeze(0)? * BN_MOMENTUM)?)?;
        let rv = ((bn.running_var.as_tensor() * (1.0 - BN_MOMENTUM))? + (unbiased.squeeze(0)? * BN_MOMENTUM)?)?;
        bn.running_mean.set(&rm)?;
        bn.running_var.set(&rv)?;
        (mean, var)
    } else {
        (bn.running_mean.as_tensor().unsqueeze(0)?, bn.running_var.as_tensor().unsqueeze(0)?)
    };
    let xhat = flat.broadcast_sub(&mean)?.broadcast_div(&(var + BN_EPS)?.sqrt()?)?;
    let y = xhat.broadcast_mul(&bn.gamma.as_tensor().unsqueeze(0)?)?.broadcast_add(&bn.beta.as_tensor().unsqueeze(0)?)?;
    Ok(y.reshape(shape)?.to_dtype(DType::F32)?)
}
