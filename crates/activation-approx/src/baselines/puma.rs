//! PUMA's GeLU and SiLU (Dong et al., "PUMA: Secure Inference of LLaMA-7B in Five Minutes", 2023, §4.2 Eq. (3);
//! SecretFlow SPU `libspu/kernel/hal/activation` / OpenBumbleBee `activation.cc::f_gelu`), constants from
//! `docs/cost-model.md`.
//!
//! GeLU (Eq. 3):
//! ```text
//!   0                                   x < −4
//!   a0 + a1·x + a2·x² + a3·x³           −4 ≤ x < −1.95
//!   b0 + 0.5·x + b2·x² + b4·x⁴ + b6·x⁶   −1.95 ≤ x ≤ 3
//!   x                                   x > 3
//! ```
//! SiLU (SPU's seg-4 SiLU): 0 for x < −8; c0 + c1·x + c2·x² on [−8, −4); d0 + 0.5·x + d2·x² + d4·x⁴ + d6·x⁶ on
//! [−4, 4]; x for x > 4.
//!
//! Secure structure, as in SPU: the three comparisons in one batch (b0 = [x < l0], b1 = [x < l1], b2 = [x > r]);
//! in parallel the powers x² = x·x, x³ = x·x², x⁴ = (x²)², x⁶ = (x³)² (GeLU) or x⁶ = x²·x⁴ (SiLU); the segment
//! indicators z0 = b1 ⊕ b0 = b1 − b0 and z1 = 1 ⊕ b1 ⊕ b2 = 1 − b1 − b2 are local; y = b2·x + z0·F0 + z1·F1
//! (three products in one round): 9 rounds.

use super::program::{Ops, OpsExt, Val};
use super::{BuildContext, MethodInfo, MethodSpec, Options, Result, SecureMethod, not_defined};

/// PUMA GeLU left-piece coefficients a0…a3.
pub const GELU_A: [f64; 4] = [-0.5054031199708174, -0.42226581151983866, -0.11807612951181953, -0.011034134030615728];
/// PUMA GeLU middle-piece coefficients b0, b2, b4, b6 (b1 = 0.5, odd terms above 1 are zero).
pub const GELU_B: [f64; 4] = [0.008526321541038084, 0.3603292692789629, -0.037688200365904236, 0.0018067462606141187];
/// SPU SiLU left-piece coefficients c0…c2.
pub const SILU_C: [f64; 3] = [-0.3067541139982155, -0.0819767021525476, -0.0055465625580307];
/// SPU SiLU middle-piece coefficients d0, d2, d4, d6 (d1 = 0.5).
pub const SILU_D: [f64; 4] = [0.0085064025895951, 0.228_143_084_172_827, -0.011113046708173, 0.0002743776353465];

/// Registry entry.
pub const SPEC: MethodSpec = MethodSpec {
    name: "puma",
    about: "PUMA/SPU 4-segment GeLU (Eq. 3) and SiLU",
    activations: &["gelu", "gelu_tanh", "silu"],
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
    Options::new("puma", &ctx.config, &[])?;
    let kind = match ctx.activation_name() {
        "gelu" | "gelu_tanh" => Kind::Gelu,
        "silu" => Kind::Silu,
        other => return Err(not_defined("puma", other, SPEC.activations)),
    };
    Ok(Box::new(Puma { kind, activation: ctx.activation_name().to_string() }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gelu,
    Silu,
}

/// PUMA's GeLU or SiLU.
#[derive(Debug, Clone)]
pub struct Puma {
    kind: Kind,
    activation: String,
}

impl Puma {
    /// (left bound, middle bound, right bound, left coeffs, middle coeffs by power [0..=6]).
    fn shape(&self) -> (f64, f64, f64, Vec<f64>, [f64; 7]) {
        match self.kind {
            Kind::Gelu => {
                let b = GELU_B;
                (-4.0, -1.95, 3.0, GELU_A.to_vec(), [b[0], 0.5, b[1], 0.0, b[2], 0.0, b[3]])
            }
            Kind::Silu => {
                let d = SILU_D;
                (-8.0, -4.0, 4.0, SILU_C.to_vec(), [d[0], 0.5, d[1], 0.0, d[2], 0.0, d[3]])
            }
        }
    }
}

impl SecureMethod for Puma {
    fn name(&self) -> &str {
        "puma"
    }
    fn activation(&self) -> &str {
        &self.activation
    }
    fn citation(&self) -> &str {
        "Dong et al., PUMA (2023) §4.2 Eq. (3); SecretFlow SPU hal activation (gelu/silu)"
    }
    fn info(&self) -> MethodInfo {
        let (l0, _, r, left, _) = self.shape();
        MethodInfo {
            pieces: 4,
            degrees: vec![0, left.len() - 1, 6, 1],
            range: Some((l0, r)),
            protocol: "3 comparisons, xor-derived indicators, 3 products".into(),
        }
    }
    fn kinks(&self) -> Vec<f64> {
        let (l0, l1, r, _, _) = self.shape();
        vec![l0, l1, r]
    }
    fn program(&self, ops: &mut dyn Ops, x: Val) -> Val {
        let (l0, l1, r, left, mid) = self.shape();
        // b0 = [x < l0], b1 = [x < l1], b2 = [x > r] = 1 − [−x ≥ −r].
        let ge0 = ops.ge(x, l0);
        let ge1 = ops.ge(x, l1);
        let negx = ops.neg(x);
        let le_r = ops.ge(negx, -r);
        let x2 = ops.square(x);
        let x3 = ops.mul(x, x2);
        let x4 = ops.square(x2);
        let x6 = match self.kind {
            Kind::Gelu => ops.square(x3),
            Kind::Silu => ops.mul(x2, x4),
        };
        let pows = [x, x, x2, x3, x4, x4, x6];
        let f0_terms: Vec<(f64, Val)> = left.iter().enumerate().skip(1).map(|(j, &c)| (c, pows[j])).collect();
        let f0 = ops.lin_comb(&f0_terms, left[0]);
        let f1_terms: Vec<(f64, Val)> =
            mid.iter().enumerate().skip(1).filter(|(_, c)| **c != 0.0).map(|(j, &c)| (c, pows[j])).collect();
        let f1 = ops.lin_comb(&f1_terms, mid[0]);
        // z0 = b1 − b0 = [x ≥ l0] − [x ≥ l1]; z1 = 1 − b1 − b2 = [x ≥ l1] − [x > r] = ge1 + le_r − 1; b2 = 1 − le_r.
        let z0 = ops.bit_affine(&[(1, ge0), (-1, ge1)], 0);
        let z1 = ops.bit_affine(&[(1, ge1), (1, le_r)], -1);
        let b2 = ops.not(le_r);
        let t0 = ops.mul_bit(b2, x);
        let t1 = ops.mul_bit(z0, f0);
        let t2 = ops.mul_bit(z1, f1);
        let s = ops.add(t0, t1);
        ops.add(s, t2)
    }
}
