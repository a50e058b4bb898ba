//! Taking an approximation out: readable programs for real MPC frameworks, the inputs that verify them, the bound
//! their revealed outputs must meet, and a hand-written table format to bring an approximation in.
//!
//! # What every exported program computes
//! The same four steps as the reference fixed-point evaluation of [`crate::piecewise`], written with the framework's
//! own secure types:
//! 1. bits b_i = [x ≥ t_i] for every threshold, by the framework's secure comparison;
//! 2. the clamped input x_c = min(max(x, t_0), t_n) = t_0 + b_0·(x − t_0), then x_c + b_n·(t_n − x_c) (two products
//!    by bits, no comparison), so no intermediate grows with |x| however far into a tail x lies;
//! 3. the powers x_c^2 … x_c^d by the same power tree as [`crate::fixed::FixedPoint::powers`], every segment's value
//!    Y_s (tails on the unclamped x, central pieces on x_c);
//! 4. the selection Y_0 + Σ_i b_i·(Y_{i+1} − Y_i).
//!
//! For x in a central piece, x_c = x; for x in a tail the central Y_s only enter the telescoping sum and cancel, so
//! the clamp changes nothing but the size of the numbers. Thresholds and coefficients are printed as their f-bit
//! encodings k/2^f (exact binary fractions), so every framework starts from exactly the reference's numbers.
//!
//! # Agreement bound ([`agreement_bound`])
//! The reference truncates by floor (deviation in (−u, 0], u = 2^−f); a framework truncation deviates from the exact
//! quotient by at most τ (its own LSB times a per-framework factor, [`Target::truncation_error`]). With
//! M = max(|t_0|, |t_n|) and e_k the worst difference of x^k between framework and reference:
//! e_1 = (clamp error), e_k = e_p·M^q + e_q·M^p + e_p·e_q + u + τ (k = p + q by the power tree). A segment's
//! difference is Σ_{j≥1} |c_j|·e_j plus u (the reference's final floor) plus τ per truncation the framework applies
//! to the coefficient terms, and the selection adds τ per product by a bit where that product truncates. The bound is
//! the largest segment difference plus the selection term. Inputs are drawn on the 2^−f grid, so encoding adds
//! nothing.

mod programs;
pub mod table;

use std::fmt;
use std::str::FromStr;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::density::Density;
use crate::error::{ApproxError, Result};
use crate::fixed::{FixedPoint, power_tree_split};
use crate::quantity::{Bytes, Rounds};
use crate::format::ApproximationFile;

/// An MPC framework an approximation can be exported to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// MPyC (Python): Shamir secret sharing, honest majority, `SecFxp` fixed point in a prime field; three parties.
    Mpyc,
    /// CrypTen (PyTorch): additive sharing over Z_2^64, fixed-point encoder with 16 fractional bits; two parties.
    Crypten,
    /// SecretFlow SPU (JAX): SEMI2K over FM64, `fxp_fraction_bits` set to the reference's 16; two parties.
    Spu,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 3] = [Target::Mpyc, Target::Crypten, Target::Spu];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Target::Mpyc => "mpyc",
            Target::Crypten => "crypten",
            Target::Spu => "spu",
        }
    }

    /// Fractional bits the framework computes with, given the file's: MPyC's `SecFxp` and SPU's
    /// `fxp_fraction_bits` take any f (we use the file's), CrypTen's encoder is left at its default 16 bits.
    pub fn frac_bits(self, file_frac_bits: u32) -> u32 {
        match self {
            Target::Mpyc | Target::Spu => file_frac_bits,
            Target::Crypten => 16,
        }
    }

    /// τ: the largest deviation of one framework truncation from the exact quotient, in reals. MPyC's `trunc` rounds
    /// probabilistically to one of the two neighbouring multiples of 2^−f (< 1 LSB); CrypTen's two-party division by
    /// the scale truncates both shares locally (< 2 LSB, apart from a wrap event of probability about |v|/2^63); SPU's
    /// two-party SEMI2K truncation (`TruncAPr2` in libspu/mpc/semi2k/arithmetic.cc, its default with
    /// `trunc_allow_msb_error = false`; Algorithm 4 of "Improved secure two-party computation from a geometric
    /// perspective", as cited there) adds the shares' shifted halves, subtracts a wrap bit computed in a small
    /// ring and adds 1, so it returns floor or floor + 1 (< 1 LSB).
    pub fn truncation_error(self, file_frac_bits: u32) -> f64 {
        let lsb = 2f64.powi(-(self.frac_bits(file_frac_bits) as i32));
        match self {
            Target::Mpyc | Target::Spu => lsb,
            Target::Crypten => 2.0 * lsb,
        }
    }

    /// Whether products by a comparison bit are exact. MPyC marks comparison results integral and multiplies
    /// without truncation; SPU's `select` (`jnp.where`) multiplies the difference of the branches by the bit as an
    /// integer; CrypTen holds the bit as a fixed-point 1.0 and truncates the product.
    pub fn exact_bit_products(self) -> bool {
        matches!(self, Target::Mpyc | Target::Spu)
    }

    /// Whether the coefficient terms of a segment are summed before one truncation (MPyC: integer coefficients
    /// k_j = enc(c_j), then one multiplication by 2^−f, like the reference) or truncated term by term (CrypTen, SPU:
    /// public fixed-point coefficients).
    pub fn single_truncation_per_segment(self) -> bool {
        matches!(self, Target::Mpyc)
    }

    /// Parties the exported program runs with.
    pub fn parties(self) -> usize {
        match self {
            Target::Mpyc => 3,
            Target::Crypten | Target::Spu => 2,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Target {
    type Err = ApproxError;
    fn from_str(s: &str) -> Result<Self> {
        Target::ALL.into_iter().find(|t| t.name() == s.trim().to_ascii_lowercase()).ok_or_else(|| {
            ApproxError::InvalidParameter { name: "target", value: s.into(), hint: "use mpyc, crypten or spu" }
        })
    }
}

/// The numbers every exported program is built from, derived once from a validated file.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportPlan {
    /// Activation name.
    pub activation: String,
    /// sha256 of the source JSON (hex), as given by the caller.
    pub source_sha256: String,
    /// Reference fixed point of the file.
    pub fx: FixedPoint,
    /// Thresholds as encodings enc(t_i) (integers; the real threshold is enc/2^f).
    pub thresholds: Vec<i64>,
    /// Encoded coefficients per segment (left tail, pieces, right tail), constant first, trailing zeros dropped.
    pub segments: Vec<Vec<i64>>,
    /// Largest degree of a central piece (the powers of x_c to compute).
    pub max_degree: usize,
    /// (k, p): x^k = x^p · x^(k−p), for k = 2 … max_degree, in order.
    pub power_tree: Vec<(usize, usize)>,
    /// The expected errors from the file: (density-weighted fixed-point error, max error on the central 99.9 %).
    pub expected_error: (f64, f64),
    /// Predicted per-element cost from the file: (bytes per party, rounds).
    pub predicted: (Bytes, Rounds),
}

impl ExportPlan {
    /// Derives the plan; fails with a one-line error if a number does not encode.
    pub fn new(file: &ApproximationFile, source_sha256: &str) -> Result<Self> {
        file.validate()?;
        let pp = file.piecewise()?;
        let fx = file.fixed_point()?;
        let enc = pp.encode(&fx)?;
        let n = enc.segments.len();
        let max_degree = enc.segments[1..n - 1].iter().map(|s| s.len() - 1).max().unwrap_or(0).max(1);
        let power_tree = (2..=max_degree).map(|k| (k, power_tree_split(k))).collect();
        Ok(ExportPlan {
            activation: file.activation.clone(),
            source_sha256: source_sha256.into(),
            fx,
            thresholds: enc.thresholds,
            segments: enc.segments,
            max_degree,
            power_tree,
            expected_error: (file.errors.weighted_fixed, file.errors.max_central_999),
            predicted: (file.cost.bytes_per_party, file.cost.rounds),
        })
    }

    /// enc/2^f as a real (exact: a binary fraction).
    pub fn real(&self, v: i64) -> f64 {
        self.fx.decode(v)
    }

    /// M = max(|t_0|, |t_n|): the largest |x_c|.
    pub fn clamp_bound(&self) -> f64 {
        let t = &self.thresholds;
        self.real(t[0]).abs().max(self.real(t[t.len() - 1]).abs())
    }
}

/// Writes the program for `target` (module docs), with a header naming the activation, the source digest, the
/// expected error and where the framework's precision differs from the reference.
pub fn generate(file: &ApproximationFile, source_sha256: &str, target: Target) -> Result<String> {
    let plan = ExportPlan::new(file, source_sha256)?;
    let f_fw = target.frac_bits(plan.fx.frac_bits);
    if f_fw < plan.fx.frac_bits {
        return Err(ApproxError::InvalidParameter {
            name: "frac_bits",
            value: plan.fx.frac_bits.to_string(),
            hint: "the target computes with fewer fractional bits than the file; refit with --frac-bits 16 or fewer",
        });
    }
    let bound = agreement_bound(file, target)?;
    Ok(match target {
        Target::Mpyc => programs::mpyc(&plan, bound)?,
        Target::Crypten => programs::crypten(&plan, bound),
        Target::Spu => programs::spu(&plan, bound),
    })
}

/// The largest |framework − reference| difference of one revealed output (module docs), in reals.
pub fn agreement_bound(file: &ApproximationFile, target: Target) -> Result<f64> {
    let plan = ExportPlan::new(file, "")?;
    let u = plan.fx.decode(1);
    let tau = target.truncation_error(plan.fx.frac_bits);
    let m = plan.clamp_bound();
    let clamp_err = if target.exact_bit_products() { 0.0 } else { 2.0 * tau };
    // e[k]: worst difference of x_c^k.
    let mut e = vec![0.0, clamp_err];
    let mut mp = vec![1.0, m];
    for &(k, p) in &plan.power_tree {
        let q = k - p;
        e.push(e[p] * mp[q] + e[q] * mp[p] + e[p] * e[q] + u + tau);
        mp.push(m.powi(k as i32));
    }
    let n = plan.segments.len();
    let mut worst: f64 = 0.0;
    for (s, seg) in plan.segments.iter().enumerate() {
        let tail = s == 0 || s == n - 1;
        let terms = seg.iter().skip(1).filter(|&&c| c != 0).count();
        let prop: f64 = if tail {
            0.0
        } else {
            seg.iter().enumerate().skip(1).map(|(j, &c)| plan.real(c).abs() * e[j]).sum()
        };
        let truncs = if target.single_truncation_per_segment() { terms.min(1) } else { terms };
        worst = worst.max(prop + u + truncs as f64 * tau);
    }
    let selection = if target.exact_bit_products() { 0.0 } else { (n - 1) as f64 * tau };
    Ok(worst + selection)
}

/// Verification inputs, all on the file's 2^−f grid: `n_density` draws from the file's density (by inverse CDF,
/// seeded; the uniform density on [t_0 − 1, t_n + 1] if the file has none), every threshold and its ±1 LSB
/// neighbours, and far tails ±2M, ±4M, ±8M, ±64M (M = max(|t_0|, |t_n|), capped at `max_abs`).
pub fn verification_inputs(file: &ApproximationFile, n_density: usize, seed: u64, max_abs: f64) -> Result<Vec<f64>> {
    let plan = ExportPlan::new(file, "")?;
    let fx = plan.fx;
    let snap = |x: f64| -> Result<f64> { Ok(fx.decode(fx.encode(x.clamp(-max_abs, max_abs))?)) };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut xs = Vec::with_capacity(n_density + 3 * plan.thresholds.len() + 8);
    let (a, b) = (plan.real(plan.thresholds[0]), plan.real(plan.thresholds[plan.thresholds.len() - 1]));
    for _ in 0..n_density {
        let p: f64 = rng.random::<f64>().clamp(1e-12, 1.0 - 1e-12);
        let x = match &file.density {
            Some(d) => d.quantile(p),
            None => (a - 1.0) + p * (b - a + 2.0),
        };
        xs.push(snap(x)?);
    }
    for &t in &plan.thresholds {
        for d in [-1, 0, 1] {
            xs.push(snap(fx.decode(t + d))?);
        }
    }
    let m = plan.clamp_bound().max(1.0);
    for k in [2.0, 4.0, 8.0, 64.0] {
        xs.push(snap(k * m)?);
        xs.push(snap(-k * m)?);
    }
    Ok(xs)
}

/// The reference fixed-point outputs ([`crate::EncodedPiecewise::eval`]) of `inputs`, decoded.
pub fn reference_outputs(file: &ApproximationFile, inputs: &[f64]) -> Result<Vec<f64>> {
    let fx = file.fixed_point()?;
    let enc = file.piecewise()?.encode(&fx)?;
    inputs.iter().map(|&x| Ok(fx.decode(enc.eval(fx.encode(x)?)))).collect()
}

/// Max and mean |a_i − b_i| of two equally long output vectors.
pub fn differences(a: &[f64], b: &[f64]) -> Result<(f64, f64)> {
    if a.len() != b.len() || a.is_empty() {
        return Err(ApproxError::InvalidParameter {
            name: "outputs",
            value: format!("{} vs {} values", a.len(), b.len()),
            hint: "the framework must reveal one output per input",
        });
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| (x - y).abs()).collect();
    let max = d.iter().cloned().fold(0.0, f64::max);
    Ok((max, d.iter().sum::<f64>() / d.len() as f64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Builtin, ErrorReport, Normal, PiecewisePoly, Polynomial, Tail, TwoPartyCostModel, CostModel};

    pub(crate) fn sample() -> ApproximationFile {
        let pp = PiecewisePoly::new(
            Tail::Zero,
            vec![-3.0, 0.0, 3.0],
            vec![Polynomial::new(vec![0.0, 0.25, 0.1]), Polynomial::new(vec![0.0, 0.5, 0.2, -0.01])],
            Tail::Identity,
        )
        .unwrap();
        let d: crate::DensitySpec = Normal::new(0.0, 1.0).unwrap().into();
        let fx = FixedPoint::default();
        let errors = ErrorReport::measure(&Builtin::Silu, &pp, &d, &fx);
        let model = TwoPartyCostModel::default();
        ApproximationFile::new("silu", &pp, Some(d), None, fx, errors, model.piecewise_cost(&pp), Some(model), None)
    }

    #[test]
    fn target_names_parse() {
        for t in Target::ALL {
            assert_eq!(t.name().parse::<Target>().unwrap(), t);
        }
        let e = "mp-spdz".parse::<Target>().unwrap_err().to_string();
        assert!(e.contains("mp-spdz") && e.contains("mpyc, crypten or spu"), "{e}");
    }

    #[test]
    fn bound_grows_with_truncations() {
        let f = sample();
        let u = 2f64.powi(-16);
        let mpyc = agreement_bound(&f, Target::Mpyc).unwrap();
        let crypten = agreement_bound(&f, Target::Crypten).unwrap();
        // At least the reference's own final floor, and a handful of LSBs at most for this cubic on [-3, 3].
        assert!(mpyc >= u && mpyc < 200.0 * u, "{}", mpyc / u);
        assert!(crypten > mpyc, "crypten {crypten} vs mpyc {mpyc}");
    }

    #[test]
    fn spu_program_computes_with_our_fraction_bits_and_spus_own_operations() {
        let f = sample();
        let p = generate(&f, "abc", Target::Spu).unwrap();
        for needle in [
            "REF_FRAC_BITS = 16",
            "config.fxp_fraction_bits = REF_FRAC_BITS",
            "libspu.ProtocolKind.SEMI2K, field=libspu.FieldType.FM64",
            "config.enable_pphlo_profile = True",
            "b = [x >= ti for ti in t]",
            "y = y + jnp.where(bi, ys[i + 1] - ys[i], 0.0)",
            "y = y - pows[j] * (-coeffs[j] / 2 ** REF_FRAC_BITS)",
            "# Source JSON sha256: abc",
        ] {
            assert!(p.contains(needle), "missing {needle:?}");
        }
        assert_eq!(Target::Spu.frac_bits(16), 16);
        // Exact selects and floor-or-floor+1 truncation: tighter than CrypTen's (truncated bit products, 2 LSB).
        let spu = agreement_bound(&f, Target::Spu).unwrap();
        assert!(spu < agreement_bound(&f, Target::Crypten).unwrap(), "{spu}");
        assert!(spu >= agreement_bound(&f, Target::Mpyc).unwrap(), "{spu}");
    }

    #[test]
    fn inputs_cover_breakpoints_and_tails_on_the_grid() {
        let f = sample();
        let xs = verification_inputs(&f, 100, 7, 1000.0).unwrap();
        assert_eq!(xs.len(), 100 + 9 + 8);
        let lsb = 2f64.powi(-16);
        for t in [-3.0, 0.0, 3.0] {
            assert!(xs.contains(&(t - lsb)) && xs.contains(&t) && xs.contains(&(t + lsb)));
        }
        assert!(xs.contains(&192.0) && xs.contains(&-192.0));
        assert!(xs.iter().all(|x| (x * 65536.0).fract() == 0.0));
        assert_eq!(xs, verification_inputs(&f, 100, 7, 1000.0).unwrap(), "seeded");
        let ys = reference_outputs(&f, &xs).unwrap();
        assert_eq!(ys[xs.iter().position(|&x| x == 192.0).unwrap()], 192.0);
        assert_eq!(ys[xs.iter().position(|&x| x == -3.0 - lsb).unwrap()], 0.0);
    }
}
