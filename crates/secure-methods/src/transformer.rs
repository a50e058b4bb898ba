//! The non-GELU non-linear layers of a transformer — row softmax and LayerNorm's normalisation — written once
//! against [`mpc_sim::Evaluator`], so each has a secure run ([`mpc_sim::Session`]), an exact fixed-point reference
//! ([`mpc_sim::PlainEvaluator`]) and its cost ([`mpc_sim::CostEvaluator`]) by construction.
//!
//! Values are row-major `[rows, cols]` at the evaluator's fixed point (scale f); results have the same shape.
//!
//! # Softmax ([`softmax_rows`])
//! softmax(x)_i = e^(x_i − m) / Σ_j e^(x_j − m), m = max_j x_j, in five steps:
//! 1. the row maximum by a comparison tournament: ⌈log₂ cols⌉ levels, each one [`Evaluator::max`] over all the
//!    pairs of all rows at once (b + \[a ≥ b\]·(a − b): one LTZ and one bit×value product, no truncation, so the
//!    maximum is exactly one of the inputs);
//! 2. d = x − m ≤ 0 (local, exact);
//! 3. the exponential of the recipe ([`ExpRecipe`]);
//! 4. the row sum s (local) and its reciprocal ([`ReciprocalRecipe`]); s ≥ 1 because the maximum's own term is
//!    e⁰ = 1 (exactly 1 in fixed point for both exponentials below: (1 + 0)^(2^n) = 1), so the reciprocal is the
//!    all-positive one (no sign step), as in both published recipes;
//! 5. the product e·(1/s), broadcast over the row.
//!
//! Public padding columns (`mask[j] = true`) are dropped before step 1 by a local gather and come back as exact
//! zeros after step 5, so they never influence the maximum or the sum.
//!
//! ## Recipes
//! - [`SoftmaxRecipe::crypten`] — CrypTen (Knott et al., NeurIPS 2021), `crypten/common/functions/approximations.py::softmax`:
//!   `max`, `exp`, `sum`, `reciprocal` with `reciprocal_all_pos`. exp is the limit (1 + x/2^n)^(2^n), n = 8
//!   ([`crate::crypten::exp`]); the reciprocal is Newton–Raphson r ← 2r − s·r² from r₀ = 3·e^(1 − 2s) + 0.003,
//!   10 iterations ([`crate::crypten::reciprocal_pos`]).
//! - [`SoftmaxRecipe::puma`] (the default) — PUMA (Dong et al. 2023, §4, softmax with a clipped exponential), as
//!   released in SPU (`secretflow/spu`): `examples/python/ml/flax_llama7b/flax_llama7b.py::hack_softmax` computes
//!   `b = x > -14`, `exp(x) * b`, the sum and the division; exp is the Taylor (= limit) mode
//!   `src/libspu/kernel/hal/fxp_approx.cc::exp_taylor`, (1 + x/2^n)^(2^n) with SPU's default `fxp_exp_iters` = 8
//!   (the LLaMA example's `3pc.json` lowers it to 5: [`SoftmaxRecipe::puma_fast`]); the division is
//!   x·(1/s) (`enable_optimize_denominator_with_broadcast`) with SPU's Goldschmidt reciprocal
//!   (`src/libspu/kernel/hal/fxp_base.cc::reciprocal_goldschmidt_positive`): normalise s = c·2^(k) with c ∈ [0.5, 1),
//!   w = 2.9142 − 2c, e = 1 − c·w, then `fxp_div_goldschmidt_iters` = 2 times r ← r·(1 + e), e ← e², result r·2^(−k).
//!   SPU finds 2^(−k) by bit decomposition (highest one bit, bit reversal), which this backend does not have; we find
//!   it with the same-output comparison ladder \[s ≥ 2^j\], j = 1..⌊log₂ cols⌋ (one LTZ batch, 8 rounds), and
//!   2^(−k) = 1/2 − Σ_j \[s ≥ 2^j\]·2^(−j−1) (a local linear combination of bits). The exponential and the clipping
//!   comparison run concurrently; r·(1 + e) and e² of one Goldschmidt step run concurrently.
//! - [`SoftmaxRecipe::compact`] (issue 15, item 4) — Compact's density-aware piecewise polynomial for exp on x ≤ 0
//!   ([`fit_exp`]: the annealing search of `activation_approx::search` on [`ExpNonPositive`] under the measured
//!   density of x − max), evaluated by [`Evaluator::piecewise`], with PUMA's reciprocal.
//!
//! ## Range analysis (f = 16 in Z_2^64)
//! Inputs must be encodable (|x| < 2^47) and their row spread max − min < 2^46 so d = x − m is. The exponential's
//! values lie in [0, 1]: the limit base 1 + d/2^n is in [0, 1] for d ≥ −2^n, and every squaring of a value in [0, 1]
//! stays in [0, 1]; untruncated squares carry 2f = 32 fractional bits, far below 2^63. Below −2^n the CrypTen
//! base leaves [0, 1] (d < −2^(n+1) = −512 makes it exceed 1 in magnitude and the 2^n-th power blows up): CrypTen's
//! softmax is valid for row spreads below 256 (2^n), which attention logits (|x| ≲ 30) satisfy. PUMA's exponential
//! is multiplied by \[d > −14\]: below −14 the result is exactly 0 whatever the (possibly wrapped) power is, since the
//! product with a zero bit is 0 in the ring. The row sum is s ∈ [1, cols] (≤ 128·2^16 = 2^23 in ring units), the
//! reciprocal in [1/cols, 1]. Newton's r ← r(2 − s·r) converges iff 0 < s·r₀ < 2; CrypTen's r₀ = 3e^(1−2s) + 0.003
//! satisfies it for 1 ≤ s < 2/0.003 ≈ 666 (s·r₀ = 1.107 at s = 1, → 0.003·s for large s), and its iterates stay in
//! (0, max(r₀, 1/s)] ⊂ (0, 1.11]; rows of more than [`NEWTON_MAX_COLUMNS`] real columns are refused for that
//! recipe. Goldschmidt's c lies in [0.5, 1), w in (0.9, 1.92], r in [1, 2]. Every product therefore stays below 2^40
//! in ring units: no overflow for any row width up to 2^16 columns (CrypTen's: 640), in particular 17 and 128 tokens.
//!
//! ## Error (vs the f64 softmax)
//! Three sources: the approximation of exp, the reciprocal's iteration error, and fixed-point rounding (each
//! truncation floors, ≤ 2^(−16) ≈ 1.5e-5, and the n squarings of the limit amplify an input error by up to 2^n·e^d).
//! - CrypTen: the limit (1 + d/256)^256 = e^(d − d²/512 + …) errs by at most max_d e^d·d²/512 ≈ 1.1e-3 (at d = −2);
//!   the rounding of d/256 at 2^(−16) multiplied by 256 gives a relative error up to 256·2^(−16) = 0.4 %. The
//!   measured max abs error of the probabilities (tests, 10⁴ rows of 17 and 64 columns, logits N(0, 3²)) is
//!   [`SOFTMAX_ERROR_BOUND`]`.crypten`.
//! - PUMA: the same limit (n = 8) and its rounding; the clipping drops e^(−14) ≈ 8e-7 per column; Goldschmidt's two
//!   steps leave e₀⁴ ≤ (0.0858)⁴ ≈ 5e-5 relative. Bound: [`SOFTMAX_ERROR_BOUND`]`.puma`. With n = 5
//!   ([`SoftmaxRecipe::puma_fast`]) (1 + d/32)^32 = e^(d − d²/64 + …) errs by up to e^d·d²/64 (8.5e-3 at d = −2)
//!   before normalisation: bound [`SOFTMAX_ERROR_BOUND`]`.puma_fast`.
//!
//! # LayerNorm ([`layer_norm_rows`])
//! y = (x − μ)/√(σ² + ε), μ = mean, σ² = mean of (x − μ)² (biased, as in PyTorch's LayerNorm), without γ and β (the
//! model export folds them into the next linear layer):
//! μ = trunc(Σx·1/cols) (local sum, one public product), c = x − μ, σ² from the squares of c (dealer square pairs,
//! kept untruncated at scale 2f for the row sum, then one truncation), v = σ² + ε, r = 1/√v by Newton's iteration
//! y ← y·(3 − v·y²)/2 (evaluated as 1.5·y − 0.5·(v·y)·(y²): v·y and y² in one round, their product in the next —
//! the same iteration in 2 rounds instead of CrypTen's 3), and y = c·r broadcast over the row.
//!
//! Initial guesses ([`InvSqrtInit`]):
//! - CrypTen's (`crypten/common/functions/approximations.py::inv_sqrt`, `sqrt_nr_iters` = 3):
//!   y₀ = 2.2·exp(−(v/2 + 0.2)) + 0.2 − v/1024 with CrypTen's exp (8 squarings). It is a rough fit for v ∈ (0.5, 100):
//!   from v < 0.1 the three iterations have not converged (y₀ ≈ 1.99 vs 1/√0.01 = 10; Newton grows y by at most 1.5×
//!   per step below the root), so [`LayerNormRecipe::crypten`] is accurate only on the range stated in
//!   [`LayerNormRecipe::valid_range`].
//! - A power-of-two ladder (the default): bits \[v ≥ 2^j\] for j = lo+1 … hi−1 (one LTZ batch, 8 rounds) select the
//!   octave [2^j, 2^(j+1)) of v, and y₀ = 2^(−(j + ½)/2) — the inverse square root of the octave's geometric
//!   centre — is a local linear combination of the bits. This is SPU's normalisation idea (`fxp_approx.cc::f_rsqrt`:
//!   write v = u·2^k, take rsqrt of both parts) with comparisons in place of bit decomposition. Its relative error
//!   is at most 2^(1/4) − 1 ≈ 0.19 inside [2^lo, 2^hi); Newton's relative error maps δ ↦ −(3/2)δ² − δ³/2, so three
//!   steps give 0.19 → 0.057 → 4.8e-3 → 3.5e-5.
//!
//! Range (f = 16): c = x − μ and its square at scale 2f: |c| < 2^15 keeps c² < 2^62 in ring units (|c| ≲ 2^7
//! for activations, so the row sum of 64 squares stays below 2^(14+32+6) = 2^52); Newton's intermediates y, y², v·y
//! are below 2^8 for v ≥ 2^(−8). With the ladder the relative error of r is ≤ 1e-3 for v ∈ [0.01, 100] (tested;
//! measured 4.1e-4 at 0.01, 3e-5 around 1, 7e-4 at 90): fixed-point resolution dominates at both ends — the encoding of
//! v (2^(−16)/v relative, halved by the square root) for small v, the absolute resolution of r ≈ 0.1 for large v.

use activation_approx::density::DensitySpec;
use activation_approx::search::{AnnealConfig, Criterion, Fitter, TailFit, anneal};
use activation_approx::{Activation, EncodedPiecewise, FixedPoint, PiecewisePoly, Tail, Truncation, TwoPartyCostModel};
use mpc_sim::{Evaluator, MpcError};

use crate::crypten;

type R<V> = mpc_sim::Result<V>;

/// The exponential of a softmax recipe (inputs d ≤ 0).
#[derive(Debug, Clone, PartialEq)]
pub enum ExpRecipe {
    /// CrypTen's limit (1 + d/2^n)^(2^n) by n squarings, no clipping ([`crate::crypten::exp`]).
    Limit {
        /// n (CrypTen: 8).
        iters: usize,
    },
    /// PUMA's clipped limit: (1 + d/2^n)^(2^n)·\[d > lower\] (the comparison runs beside the squarings).
    ClippedLimit {
        /// n (PUMA's released configuration: 5).
        iters: usize,
        /// The public lower bound below which exp is taken as 0 (PUMA: −14).
        lower: f64,
    },
    /// A piecewise polynomial with public breakpoints and coefficients, through [`Evaluator::piecewise`] — Compact's
    /// density-aware approximation of exp on x ≤ 0 ([`fit_exp`], [`SoftmaxRecipe::compact`]).
    Piecewise(EncodedPiecewise),
}

/// The reciprocal of a softmax recipe (input: the row sum s ∈ [1, cols]).
#[derive(Debug, Clone, PartialEq)]
pub enum ReciprocalRecipe {
    /// CrypTen's Newton–Raphson r ← 2r − s·r² from r₀ = 3·exp(1 − 2s) + 0.003 ([`crate::crypten::reciprocal_pos`]).
    Newton {
        /// Newton iterations (CrypTen: 10).
        iters: usize,
        /// Squarings of the exp in the initial guess (CrypTen: 8).
        exp_iters: usize,
    },
    /// SPU's Goldschmidt reciprocal on s normalised to [0.5, 1) by a power of two (module docs).
    Goldschmidt {
        /// Goldschmidt iterations (SPU's `fxp_div_goldschmidt_iters`: 2).
        iters: usize,
    },
}

/// A softmax recipe: the exponential and the reciprocal. [`Default`] is [`SoftmaxRecipe::puma`].
#[derive(Debug, Clone, PartialEq)]
pub struct SoftmaxRecipe {
    /// The exponential.
    pub exp: ExpRecipe,
    /// The reciprocal of the row sum.
    pub reciprocal: ReciprocalRecipe,
}

impl SoftmaxRecipe {
    /// CrypTen's softmax (module docs): limit exp with 8 squarings, Newton reciprocal with 10 iterations.
    pub fn crypten() -> Self {
        let d = crypten::Iterations::default();
        SoftmaxRecipe {
            exp: ExpRecipe::Limit { iters: d.exp },
            reciprocal: ReciprocalRecipe::Newton { iters: d.reciprocal, exp_iters: d.exp },
        }
    }

    /// PUMA's softmax as released in SPU (module docs) with SPU's default exp iterations (`fxp_exp_iters` = 8,
    /// `libspu/core/config.cc`): exp (1 + d/256)^256 clipped to 0 for d ≤ −14, Goldschmidt reciprocal with 2
    /// iterations.
    pub fn puma() -> Self {
        SoftmaxRecipe {
            exp: ExpRecipe::ClippedLimit { iters: 8, lower: -14.0 },
            reciprocal: ReciprocalRecipe::Goldschmidt { iters: 2 },
        }
    }

    /// PUMA's softmax with the exp iterations of its released LLaMA-7B configuration (`fxp_exp_iters` = 5 in
    /// `examples/python/ml/flax_llama7b/3pc.json`): (1 + d/32)^32, cheaper (3 squarings fewer) and coarser.
    pub fn puma_fast() -> Self {
        SoftmaxRecipe { exp: ExpRecipe::ClippedLimit { iters: 5, lower: -14.0 }, ..Self::puma() }
    }

    /// Compact's density-aware exponential (a piecewise polynomial found by [`fit_exp`]) with PUMA's Goldschmidt
    /// reciprocal, so that it differs from [`SoftmaxRecipe::puma`] in the exponential only. Errors if a threshold or
    /// coefficient does not encode at `fx`.
    /// The spline is restricted to the exponential's domain d ≤ 0 ([`nonpositive_domain`]): thresholds above 0 are
    /// never crossed and cost no comparison.
    pub fn compact(exp: &PiecewisePoly, fx: FixedPoint) -> mpc_sim::Result<Self> {
        Ok(SoftmaxRecipe { exp: ExpRecipe::Piecewise(nonpositive_domain(exp.encode(&fx)?)), ..Self::puma() })
    }

    /// A short name for tables ("crypten", "puma", "puma-fast", "compact" or "custom").
    pub fn name(&self) -> &'static str {
        if *self == Self::crypten() {
            "crypten"
        } else if *self == Self::puma() {
            "puma"
        } else if *self == Self::puma_fast() {
            "puma-fast"
        } else if matches!(self.exp, ExpRecipe::Piecewise(_)) && self.reciprocal == Self::puma().reciprocal {
            "compact"
        } else {
            "custom"
        }
    }

    /// The documented max abs error of the probabilities vs the f64 softmax for the named recipes
    /// ([`SOFTMAX_ERROR_BOUND`]), `None` for a custom one.
    pub fn error_bound(&self) -> Option<f64> {
        match self.name() {
            "crypten" => Some(SOFTMAX_ERROR_BOUND.crypten),
            "puma" => Some(SOFTMAX_ERROR_BOUND.puma),
            "puma-fast" => Some(SOFTMAX_ERROR_BOUND.puma_fast),
            _ => None,
        }
    }
}

impl Default for SoftmaxRecipe {
    fn default() -> Self {
        Self::puma()
    }
}

/// Bounds on the max abs error of the fixed-point softmax probabilities vs the f64 softmax (f = 16), checked by the
/// tests on 10⁴ rows of 17, 64 and 128 columns with logits N(0, 3²). Measured maxima at 17 / 64 / 128 columns:
/// CrypTen 5.7e-3 / 8.2e-3 / 1.0e-2, PUMA 5.7e-3 / 8.2e-3 / 1.0e-2, PUMA-fast 4.0e-2 / 5.7e-2 / 6.9e-2; the error grows
/// with the row width because every exp term carries its own rounding bias (up to 2^n·2^(−16) relative).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoftmaxErrorBound {
    /// [`SoftmaxRecipe::crypten`].
    pub crypten: f64,
    /// [`SoftmaxRecipe::puma`].
    pub puma: f64,
    /// [`SoftmaxRecipe::puma_fast`].
    pub puma_fast: f64,
    /// [`SoftmaxRecipe::compact`] fitted ([`fit_exp`], τ = 3e-4, central max error 3e-3, seed 1) to the density of
    /// x − max of 2000 other rows of the same logits at 17 columns (measured 5.2e-3 on 10⁴ held-out rows).
    pub compact: f64,
}

/// The documented error bounds of the two published softmax recipes.
pub const SOFTMAX_ERROR_BOUND: SoftmaxErrorBound = SoftmaxErrorBound { crypten: 1.5e-2, puma: 1.5e-2, puma_fast: 8e-2, compact: 1e-2 };

/// Measured max abs error of [`layer_norm_rows`] with [`LayerNormRecipe::default`] vs the f64 normalisation (f = 16;
/// tests: 10⁴ rows of width 64, variances log-uniform over [1e-2, 1e2]); the test fails beyond it.
pub const LAYER_NORM_ERROR_BOUND: f64 = 5e-3;

/// The initial guess of the Newton inverse square root.
#[derive(Debug, Clone, PartialEq)]
pub enum InvSqrtInit {
    /// CrypTen's y₀ = 2.2·exp(−(v/2 + 0.2)) + 0.2 − v/1024 (exp by the limit with 8 squarings).
    Crypten,
    /// The power-of-two ladder over [2^lo, 2^hi) (module docs); values outside are treated as the nearest octave.
    PowerOfTwo {
        /// log₂ of the lowest octave's lower end.
        lo: i32,
        /// log₂ of the highest octave's upper end (hi > lo).
        hi: i32,
    },
}

/// The inverse-square-root recipe of LayerNorm. [`Default`]: the power-of-two ladder over [2^−8, 2^8) and 3 Newton
/// iterations.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerNormRecipe {
    /// The initial guess.
    pub init: InvSqrtInit,
    /// Newton iterations y ← y·(3 − v·y²)/2.
    pub iters: usize,
}

impl LayerNormRecipe {
    /// CrypTen's inverse square root: its initial guess and `sqrt_nr_iters` = 3.
    pub fn crypten() -> Self {
        LayerNormRecipe { init: InvSqrtInit::Crypten, iters: 3 }
    }

    /// The range of v = σ² + ε on which the inverse square root's relative error is at most
    /// [`LayerNormRecipe::max_relative_error`] at f = 16 (tested on 4000 log-spaced points).
    ///
    /// The ladder: [max(2^lo, 1e-2), min(2^hi, 100)] — above 100, 1/√v < 0.1 is held with an absolute resolution
    /// of 2^(−16), which alone exceeds 1e-3 relative from v ≈ 150. CrypTen's guess: [0.5, 100]; within it the three
    /// iterations leave up to 3.1e-3 (measured; worst near v ≈ 8 and v ≈ 1.2, where the exp-shaped guess is furthest
    /// from 1/√v), ≤ 1e-3 only on [1.9, 5.2] and [15.6, 100]; below 0.5 they have not converged (1.99 vs 10 at 0.01).
    pub fn valid_range(&self) -> (f64, f64) {
        match self.init {
            InvSqrtInit::Crypten => (0.5, 100.0),
            InvSqrtInit::PowerOfTwo { lo, hi } => (2f64.powi(lo).max(1e-2), 2f64.powi(hi).min(100.0)),
        }
    }

    /// The relative error bound of 1/√v on [`LayerNormRecipe::valid_range`]: 1e-3 for the ladder with 3 iterations
    /// (or more), 3.5e-3 for CrypTen's recipe; `None` for other settings.
    pub fn max_relative_error(&self) -> Option<f64> {
        match (&self.init, self.iters) {
            (InvSqrtInit::Crypten, 3) => Some(3.5e-3),
            (InvSqrtInit::PowerOfTwo { .. }, n) if n >= 3 => Some(1e-3),
            _ => None,
        }
    }

    /// A short name for tables ("crypten", "ladder", or "custom").
    pub fn name(&self) -> &'static str {
        if *self == Self::crypten() {
            "crypten"
        } else if *self == Self::default() {
            "ladder"
        } else {
            "custom"
        }
    }
}

impl Default for LayerNormRecipe {
    fn default() -> Self {
        LayerNormRecipe { init: InvSqrtInit::PowerOfTwo { lo: -8, hi: 8 }, iters: 3 }
    }
}

fn bad(name: &'static str, value: String, hint: &'static str) -> MpcError {
    MpcError::InvalidParameter { name, value, hint }
}

/// Checks x against `cols`; returns the number of rows.
fn check_rows<E: Evaluator>(ev: &E, x: &E::Value, cols: usize) -> R<usize> {
    let m = E::meta(x);
    let fx = ev.fixed_point();
    m.check_fx("transformer rows", &fx)?;
    if m.scale != fx.frac_bits {
        return Err(MpcError::ScaleMismatch { op: "transformer rows", left: fx.frac_bits, right: m.scale });
    }
    if cols == 0 {
        return Err(bad("cols", "0".into(), "pass the row width (≥ 1)"));
    }
    let len = m.len();
    if len == 0 || len % cols != 0 {
        return Err(bad("row-major length", format!("{len} for cols = {cols}"), "the value must hold whole rows of `cols` elements (at least one)"));
    }
    Ok(len / cols)
}

fn const_like<E: Evaluator>(ev: &mut E, like: &E::Value, c: f64) -> R<E::Value> {
    let zero = ev.mul_int(like, 0)?;
    ev.add_public(&zero, c)
}

/// Broadcasts a per-row value `[rows]` to `[rows, cols]` (local gather).
fn broadcast_rows<E: Evaluator>(ev: &mut E, v: &E::Value, rows: usize, cols: usize) -> R<E::Value> {
    let idx: Vec<Option<usize>> = (0..rows * cols).map(|i| Some(i / cols)).collect();
    ev.gather(v, &idx, &[rows, cols])
}

/// Row maxima of a `[rows, w]` value by a tournament: ⌈log₂ w⌉ levels of [`Evaluator::max`] on all pairs of all rows.
/// Returns a `[rows]` value, exactly one of the inputs per row.
pub fn row_max<E: Evaluator>(ev: &mut E, x: &E::Value, cols: usize) -> R<E::Value> {
    let rows = check_rows(ev, x, cols)?;
    let mut cur = ev.reshape(x, &[rows, cols])?;
    let mut w = cols;
    while w > 1 {
        let pairs = w / 2;
        let ia: Vec<Option<usize>> = (0..rows * pairs).map(|i| Some((i / pairs) * w + 2 * (i % pairs))).collect();
        let ib: Vec<Option<usize>> = ia.iter().map(|i| i.map(|k| k + 1)).collect();
        let a = ev.gather(&cur, &ia, &[rows * pairs])?;
        let b = ev.gather(&cur, &ib, &[rows * pairs])?;
        let m = ev.max(&a, &b)?;
        cur = if w % 2 == 1 {
            let il: Vec<Option<usize>> = (0..rows).map(|r| Some(r * w + w - 1)).collect();
            let left = ev.gather(&cur, &il, &[rows])?;
            let both = ev.concat(&[&m, &left])?;
            let idx: Vec<Option<usize>> = (0..rows * (pairs + 1))
                .map(|i| {
                    let (r, j) = (i / (pairs + 1), i % (pairs + 1));
                    Some(if j < pairs { r * pairs + j } else { rows * pairs + r })
                })
                .collect();
            ev.gather(&both, &idx, &[rows, pairs + 1])?
        } else {
            ev.reshape(&m, &[rows, pairs])?
        };
        w = pairs + w % 2;
    }
    ev.reshape(&cur, &[rows])
}

/// The exponential of `r` on d ≤ 0 (any shape).
pub fn exp_nonpositive<E: Evaluator>(ev: &mut E, d: &E::Value, r: &ExpRecipe) -> R<E::Value> {
    match *r {
        ExpRecipe::Limit { iters } => {
            check_iters("exp iterations", iters, 1, 20)?;
            crypten::exp(ev, d, iters)
        }
        ExpRecipe::ClippedLimit { iters, lower } => {
            check_iters("exp iterations", iters, 1, 20)?;
            if !lower.is_finite() || lower >= 0.0 {
                return Err(bad("exp lower bound", lower.to_string(), "use a finite negative bound (PUMA: −14)"));
            }
            let mut out = ev.parallel(2, |ev, i| {
                if i == 0 {
                    crypten::exp(ev, d, iters)
                } else {
                    // [d > lower] = [lower − d < 0]
                    let nd = ev.neg(d)?;
                    let t = ev.add_public(&nd, lower)?;
                    ev.ltz(&t)
                }
            })?;
            let (bit, e) = match (out.pop(), out.pop()) {
                (Some(bit), Some(e)) => (bit, e),
                _ => return Err(bad("parallel branches", "fewer than 2".into(), "internal: expected exp and bit")),
            };
            ev.mul_raw(&bit, &e)
        }
        ExpRecipe::Piecewise(ref pw) => {
            let fx = ev.fixed_point();
            if pw.fx != fx {
                return Err(MpcError::FixedPointMismatch { op: "piecewise exp", left: fx.frac_bits, right: pw.fx.frac_bits });
            }
            ev.piecewise(d, pw)
        }
    }
}

/// An encoded spline restricted to inputs d ≤ 0 (the softmax's exponential after the max subtraction): every
/// threshold t > 0 at the top, and the segment above it, are dropped. For d ≤ 0 < t the comparison \[d ≥ t\] is
/// always 0, so the segment selected — and the output, bit for bit — is the same, one secure comparison (8 rounds'
/// batch share, 64 B per element under the default comparison) cheaper per dropped threshold. Compact's search
/// places the range's right end b above 0 whenever the right tail (the constant 1) would otherwise cover part of
/// (b, 0], so this usually removes the right tail's comparison and leaves only the left one(s).
pub fn nonpositive_domain(mut pw: EncodedPiecewise) -> EncodedPiecewise {
    while pw.thresholds.last().is_some_and(|&t| t > 0) {
        pw.thresholds.pop();
        pw.segments.pop();
    }
    pw
}

/// exp on the half-line x ≤ 0 as a catalogue function for Compact's search: e^min(x, 0), tails 0 at −∞ and the
/// constant 1 at +∞ (softmax's inputs after the max subtraction are ≤ 0; 1 beyond 0 keeps the function continuous).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExpNonPositive;

impl Activation for ExpNonPositive {
    fn name(&self) -> &str {
        "exp_nonpositive"
    }
    fn eval(&self, x: f64) -> f64 {
        x.min(0.0).exp()
    }
    fn left_tail(&self) -> Tail {
        Tail::Zero
    }
    fn right_tail(&self) -> Tail {
        Tail::Constant { value: 1.0 }
    }
}

/// Compact's search (Islam et al., PoPETs 2024, §4: simulated annealing over breakpoints and degrees, cheapest
/// structure whose ρ-weighted mean error E_ρ|f − p| is ≤ `tol`) applied to [`ExpNonPositive`] under the softmax's
/// input density `density` (of x − max, e.g. an `Empirical` histogram of recorded values), priced by the two-party
/// cost model under dealer-pair truncation. `max_error` optionally caps the max error on the density's central 99.9 %
/// as well (Compact's central cap): softmax normalises by the row sum, so a large error at the frequent d = 0 (the
/// maximum itself) matters more than the mean suggests. Errors are measured on the fixed-point evaluation
/// ([`Fitter::fixed_point_errors`]): a high-degree piece over a range of 8 or more loses its small top coefficients
/// to the encoding at f = 16, which the f64 error would not see. The tails are the asymptotes themselves
/// ([`TailFit::Asymptote`]): 0 below the range, so very negative inputs add exactly nothing to the row sum. Errors
/// when no feasible structure is found (raise `tol`).
pub fn fit_exp(density: &DensitySpec, tol: f64, max_error: Option<f64>, seed: u64, fx: FixedPoint) -> mpc_sim::Result<PiecewisePoly> {
    let criterion = Criterion::weighted(density.clone(), tol, max_error)?;
    let model = TwoPartyCostModel { fx, truncation: Truncation::DealerPair, ..TwoPartyCostModel::default() };
    let mut fitter = Fitter::new(&ExpNonPositive, &criterion, &model);
    fitter.fx = fx;
    fitter.fixed_point_errors = true;
    fitter.tail_fit = TailFit::Asymptote;
    let best = anneal(&fitter, &AnnealConfig { seed, ..AnnealConfig::default() })?.best;
    if !best.feasible() {
        return Err(bad("exp tolerance", tol.to_string(), "no feasible piecewise exp found; raise the tolerance"));
    }
    Ok(best.pp)
}

fn check_iters(name: &'static str, n: usize, lo: usize, hi: usize) -> R<()> {
    if n < lo || n > hi {
        return Err(bad(name, n.to_string(), "use a count between the recipe's limits (exp 1–20, reciprocal / Newton 1–50)"));
    }
    Ok(())
}

/// Bits \[v ≥ 2^j\] for the given exponents, all in one concurrent batch.
fn ladder_bits<E: Evaluator>(ev: &mut E, v: &E::Value, exps: &[i32]) -> R<Vec<E::Value>> {
    ev.parallel(exps.len(), |ev, i| ev.ge_public(v, 2f64.powi(exps[i])))
}

/// Local linear combination g(lo) + Σ_j bit_j·(g(j) − g(j−1)) at scale f (bits at scale 0); `like` gives the shape
/// when there are no bits.
fn ladder_value<E: Evaluator>(ev: &mut E, like: &E::Value, bits: &[E::Value], exps: &[i32], g: impl Fn(i32) -> f64) -> R<E::Value> {
    let fx = ev.fixed_point();
    let base = exps.first().map_or(0, |&j| j - 1);
    if bits.is_empty() {
        return const_like(ev, like, g(base));
    }
    let ks = exps.iter().map(|&j| fx.encode(g(j) - g(j - 1))).collect::<Result<Vec<_>, _>>()?;
    let terms: Vec<(&E::Value, i64)> = bits.iter().zip(ks).collect();
    ev.lincomb_raw(&terms, fx.frac_bits, fx.encode(g(base))?)
}

/// Widest row (real columns) for CrypTen's Newton reciprocal of the row sum: its initial guess 3e^(1−2s) + 0.003
/// exceeds 2/s, and the iteration diverges, from s ≈ 666 (module docs, range analysis).
pub const NEWTON_MAX_COLUMNS: usize = 640;

/// 1/s for s ∈ [1, max_sum] by the recipe `r`.
pub fn reciprocal_sum<E: Evaluator>(ev: &mut E, s: &E::Value, max_sum: usize, r: &ReciprocalRecipe) -> R<E::Value> {
    match *r {
        ReciprocalRecipe::Newton { iters, exp_iters } => {
            check_iters("reciprocal iterations", iters, 1, 50)?;
            check_iters("exp iterations", exp_iters, 1, 20)?;
            if max_sum > NEWTON_MAX_COLUMNS {
                return Err(bad(
                    "row width for the Newton reciprocal",
                    max_sum.to_string(),
                    "CrypTen's initial guess diverges for row sums above 666; use at most 640 columns or the Goldschmidt reciprocal",
                ));
            }
            crypten::reciprocal_pos(ev, s, iters, None, exp_iters)
        }
        ReciprocalRecipe::Goldschmidt { iters } => {
            check_iters("reciprocal iterations", iters, 1, 50)?;
            // s ∈ [2^k, 2^(k+1)) for k = Σ_j [s ≥ 2^j], j = 1..⌊log₂ max_sum⌋; factor = 2^(−k−1).
            let top = usize::BITS - 1 - max_sum.max(1).leading_zeros();
            let exps: Vec<i32> = (1..=top as i32).collect();
            let bits = ladder_bits(ev, s, &exps)?;
            let factor = ladder_value(ev, s, &bits, &exps, |j| 2f64.powi(-j - 1))?;
            let c = ev.mul(s, &factor)?;
            let m2c = ev.mul_int(&c, -2)?;
            let w = ev.add_public(&m2c, 2.9142)?;
            let cw = ev.mul(&c, &w)?;
            let ncw = ev.neg(&cw)?;
            let mut e = ev.add_public(&ncw, 1.0)?;
            let mut rr = w;
            for it in 0..iters {
                let last = it + 1 == iters;
                let mut out = ev.parallel(if last { 1 } else { 2 }, |ev, i| {
                    if i == 0 {
                        let e1 = ev.add_public(&e, 1.0)?;
                        ev.mul(&rr, &e1)
                    } else {
                        ev.square(&e)
                    }
                })?;
                if !last {
                    if let Some(e2) = out.pop() {
                        e = e2;
                    }
                }
                if let Some(r2) = out.pop() {
                    rr = r2;
                }
            }
            ev.mul(&rr, &factor)
        }
    }
}

fn check_mask(mask: Option<&[bool]>, cols: usize) -> R<Vec<usize>> {
    let real: Vec<usize> = match mask {
        None => (0..cols).collect(),
        Some(m) => {
            if m.len() != cols {
                return Err(bad("mask length", format!("{} for cols = {cols}", m.len()), "pass one flag per column (true = padding)"));
            }
            (0..cols).filter(|&j| !m[j]).collect()
        }
    };
    if real.is_empty() {
        return Err(bad("mask", format!("all {cols} columns padding"), "leave at least one real column"));
    }
    Ok(real)
}

/// Row softmax of a row-major `[rows, cols]` value (module docs); `mask[j] = true` marks a public padding column,
/// whose probability is exactly 0 (`None`: all columns real).
pub fn softmax_rows<E: Evaluator>(ev: &mut E, x: &E::Value, cols: usize, mask: Option<&[bool]>, r: &SoftmaxRecipe) -> R<E::Value> {
    let rows = check_rows(ev, x, cols)?;
    let real = check_mask(mask, cols)?;
    let k = real.len();
    let xr = if k == cols {
        ev.reshape(x, &[rows, cols])?
    } else {
        let idx: Vec<Option<usize>> = (0..rows * k).map(|i| Some((i / k) * cols + real[i % k])).collect();
        ev.gather(x, &idx, &[rows, k])?
    };
    let m = row_max(ev, &xr, k)?;
    let mb = broadcast_rows(ev, &m, rows, k)?;
    let d = ev.sub(&xr, &mb)?;
    let e = exp_nonpositive(ev, &d, &r.exp)?;
    let s = ev.sum_groups(&e, k, &[rows])?;
    let inv = reciprocal_sum(ev, &s, k, &r.reciprocal)?;
    let ib = broadcast_rows(ev, &inv, rows, k)?;
    let p = ev.mul(&e, &ib)?;
    if k == cols {
        return ev.reshape(&p, &[rows, cols]);
    }
    let mut pos = vec![None; cols];
    for (i, &j) in real.iter().enumerate() {
        pos[j] = Some(i);
    }
    let idx: Vec<Option<usize>> = (0..rows * cols).map(|i| pos[i % cols].map(|q| (i / cols) * k + q)).collect();
    ev.gather(&p, &idx, &[rows, cols])
}

/// 1/√v for v > 0 (any shape) by Newton's iteration from the recipe's initial guess (module docs).
pub fn inv_sqrt<E: Evaluator>(ev: &mut E, v: &E::Value, r: &LayerNormRecipe) -> R<E::Value> {
    check_iters("Newton iterations", r.iters, 1, 50)?;
    let fx = ev.fixed_point();
    let mut y = match r.init {
        InvSqrtInit::Crypten => {
            // 2.2·exp(−v/2 − 0.2) + 0.2 − v/1024
            let h = ev.mul_public(v, -0.5)?;
            let arg = ev.add_public(&h, -0.2)?;
            let e = crypten::exp(ev, &arg, crypten::Iterations::default().exp)?;
            let t = ev.lincomb_raw(&[(&e, fx.encode(2.2)?), (v, fx.encode(-1.0 / 1024.0)?)], fx.frac_bits, 0)?;
            let t = ev.truncate(&t)?;
            ev.add_public(&t, 0.2)?
        }
        InvSqrtInit::PowerOfTwo { lo, hi } => {
            if hi <= lo || lo < -16 || hi > 30 {
                return Err(bad("ladder octaves", format!("[2^{lo}, 2^{hi})"), "use −16 ≤ lo < hi ≤ 30"));
            }
            let exps: Vec<i32> = (lo + 1..hi).collect();
            let bits = ladder_bits(ev, v, &exps)?;
            ladder_value(ev, v, &bits, &exps, |j| 2f64.powf(-(f64::from(j) + 0.5) / 2.0))?
        }
    };
    let (k15, k05) = (fx.encode(1.5)?, fx.encode(-0.5)?);
    for _ in 0..r.iters {
        let mut out = ev.parallel(2, |ev, i| if i == 0 { ev.square(&y) } else { ev.mul(v, &y) })?;
        let (vy, y2) = match (out.pop(), out.pop()) {
            (Some(vy), Some(y2)) => (vy, y2),
            _ => return Err(bad("parallel branches", "fewer than 2".into(), "internal: expected y² and v·y")),
        };
        let t = ev.mul(&vy, &y2)?;
        let n = ev.lincomb_raw(&[(&y, k15), (&t, k05)], fx.frac_bits, 0)?;
        y = ev.truncate(&n)?;
    }
    Ok(y)
}

/// LayerNorm's normalisation (x − μ)/√(σ² + ε) of each row of a row-major `[rows, cols]` value (module docs).
pub fn layer_norm_rows<E: Evaluator>(ev: &mut E, x: &E::Value, cols: usize, eps: f64, r: &LayerNormRecipe) -> R<E::Value> {
    let rows = check_rows(ev, x, cols)?;
    let fx: FixedPoint = ev.fixed_point();
    if !eps.is_finite() || eps < 0.0 {
        return Err(bad("eps", eps.to_string(), "use a finite ε ≥ 0 (PyTorch's default is 1e-5)"));
    }
    let xr = ev.reshape(x, &[rows, cols])?;
    let sum = ev.sum_groups(&xr, cols, &[rows])?;
    let mu = ev.mul_public(&sum, 1.0 / cols as f64)?;
    let mb = broadcast_rows(ev, &mu, rows, cols)?;
    let c = ev.sub(&xr, &mb)?;
    let sq = ev.square_raw(&c)?;
    let ss = ev.sum_groups(&sq, cols, &[rows])?;
    let ss = ev.truncate(&ss)?;
    let var = ev.mul_public(&ss, 1.0 / cols as f64)?;
    let v = ev.add_const_raw(&var, fx.encode(eps)?)?;
    let inv = inv_sqrt(ev, &v, r)?;
    let ib = broadcast_rows(ev, &inv, rows, cols)?;
    ev.mul(&c, &ib)
}
