//! Structure search: the cheapest piecewise polynomial (under a [`CostModel`]) that meets an accuracy criterion.
//!
//! # The problem
//! A *structure* is a sorted list of breakpoints t_0 < … < t_n (the range [a, b] = [t_0, t_n]) and a degree per
//! piece. Its approximation fits every piece [t_i, t_{i+1}] by [`fit_piece`] (density-weighted L1 for the weighted
//! criterion, Chebyshev–Lobatto interpolation for the max-error one; see [`Fitter::new`]) and uses tails derived from
//! the activation's asymptotes outside [a, b] (see "Tails" below). It is *admissible* when every piece converts to a
//! well-conditioned monomial form and [`PiecewisePoly::check_fixed_point`] passes for inputs up to
//! [`Criterion::overflow_bound`] (a degree that would overflow the ring is inadmissible), and *feasible* when it
//! also meets the [`Criterion`]:
//! - [`Criterion::Weighted`] (Compact, density-aware): E_ρ|f − p| ≤ τ over the real line, and optionally
//!   max |f − p| ≤ cap over the density's central 99.9 %;
//! - [`Criterion::MaxError`] (density-unaware): max |f − p| ≤ τ on a fixed interval, e.g. [−8, 8].
//!
//! The violation is v = max(error/τ, cap error/cap); feasible ⇔ v ≤ 1. Errors are those of the f64 polynomial, or,
//! with [`Fitter::fixed_point_errors`], of the reference fixed-point evaluation (encoding, power-tree truncations and
//! the final truncation included). The search minimises
//! [`CostModel::scalar`] (bytes per party by default) over feasible structures. Breakpoints are rounded to multiples
//! of [`SearchSpace::grid`] (2⁻⁸ by default, exactly representable in fixed point with f ≥ 8, so the secure
//! comparisons select the same segment as the f64 evaluation).
//!
//! # Tails
//! Beyond [a, b] the approximation uses the activation's asymptote (f → 0, f → x, …) moved by a constant
//! ([`TailFit::Offset`], the default; [`TailFit::Asymptote`] keeps the bare asymptotes). The tails cost nothing
//! extra in MPC — a tail is a segment whose polynomial has degree ≤ 1 either way — and the constant is fitted to the
//! criterion, like the pieces: with residual r = f − asymptote on the tail region R,
//! - weighted criterion: c = the ρ-weighted median of r on R (which minimises ∫_R |r − c| ρ, the tail's share of
//!   E_ρ|f − p|), R = (−∞, a) or [b, ∞) cut to μ ± 12σ of ρ and sampled by 16 cells × 8 Gauss–Legendre nodes;
//!   a tail holding less than 10⁻¹² of the mass keeps its asymptote;
//! - max-error criterion on [lo, hi]: c = (max r + min r)/2 on the tail's part of [lo, hi] (129 even points), which
//!   minimises max |r − c| there; 0 if the tail lies outside [lo, hi].
//!
//! The price is the far field: for x → ±∞ the error tends to |c| instead of 0 (e.g. Mish's left tail under N(0, 1)
//! with a ≈ −2.5 becomes the constant ≈ −0.165). With a central max-error cap the bare asymptotes are measured as
//! well and the variant with the smaller violation is kept ([`Fitter::evaluate_with`]).
//!
//! # Simulated annealing ([`anneal`])
//! Energy J = scalar cost + P·ln(max(v, 1)) + ε·ln v with P = [`AnnealConfig::penalty`] (bytes per e-fold of
//! violation, 250 by default: larger than the saving of removing a piece, so the walk stays near feasibility) and
//! ε = 0.5 (a tie-break that prefers more accuracy margin at equal cost, which later lets a piece or a degree go).
//! Inadmissible proposals are rejected. Moves, drawn uniformly:
//! 1. shift one interior breakpoint by N(0, (w/4)²), w the narrower neighbouring piece;
//! 2. shift an end of the range (a or b) by N(0, 0.5²);
//! 3. stretch the whole structure about its centre by e^{N(0, 0.1²)};
//! 4. split a random piece at a uniform point of its middle half (both halves keep its degree);
//! 5. merge two neighbouring pieces (the union takes the larger degree);
//! 6. drop the first or the last piece (the range shrinks; the tail takes over);
//! 7. change one piece's degree by ±1;
//! 8. change every piece's degree by ±1.
//!
//! Schedule: geometric cooling T_k = T_start·(T_end/T_start)^{k/K} over K = [`AnnealConfig::iterations`] steps,
//! Metropolis acceptance e^{−ΔJ/T}. Restarts: [`AnnealConfig::restarts`] independent chains, chain r seeded with
//! ChaCha8(seed, stream r) and started from the r-th of a fixed list of initial structures on the criterion's focus
//! interval; run in parallel with rayon, results collected in chain order, and the best feasible candidate chosen by
//! (cost, violation, chain index) — so the outcome depends only on the seed, never on thread timing.
//!
//! # Exhaustive reference ([`exhaustive`])
//! The discrete space of [`ExhaustiveGrid`]: m ∈ 1..=max_pieces uniform pieces, one degree d ∈ 1..=max_degree for all,
//! a and b on the grid {k·step} with a ≤ c ≤ b (c the criterion's centre) and |a|, |b| ≤ range_limit. As the cost
//! depends only on (m, d) (comparisons and powers), the (m, d) pairs are visited in increasing cost and the first
//! cost level with a feasible range is the optimum (ties: least violation, then fewest pieces, lowest degree,
//! leftmost range).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::activation::{Activation, Tail};
use crate::chebyshev::{DEFAULT_CONDITION_LIMIT, FitMethod, fit_piece};
use crate::cost::{Cost, CostModel};
use crate::density::{Density, DensitySpec};
use crate::error::{ApproxError, Result};
use crate::fixed::FixedPoint;
use crate::metrics::{max_abs_error, max_abs_error_fixed, max_error_central, weighted_error, weighted_error_fixed};
use crate::piecewise::PiecewisePoly;
use crate::poly::Polynomial;

/// The accuracy requirement of a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Criterion {
    /// E_ρ|f − p| ≤ tol (whole real line), and optionally max |f − p| ≤ cap over the central 99.9 % of ρ.
    Weighted {
        /// The input density ρ.
        density: DensitySpec,
        /// τ.
        tol: f64,
        /// Optional cap on the max error over the central 99.9 %.
        max_central_cap: Option<f64>,
    },
    /// max |f − p| ≤ tol on [lo, hi].
    MaxError {
        /// Interval start.
        lo: f64,
        /// Interval end.
        hi: f64,
        /// τ.
        tol: f64,
    },
}

fn check_tol(name: &'static str, tol: f64) -> Result<()> {
    if !(tol.is_finite() && tol > 0.0) {
        return Err(ApproxError::InvalidParameter { name, value: tol.to_string(), hint: "need a finite number > 0, e.g. 1e-3" });
    }
    Ok(())
}

impl Criterion {
    /// Density-weighted criterion; τ must be finite and > 0 (so must the cap, if any).
    pub fn weighted(density: DensitySpec, tol: f64, max_central_cap: Option<f64>) -> Result<Self> {
        check_tol("tol", tol)?;
        if let Some(c) = max_central_cap {
            check_tol("max-error cap", c)?;
        }
        Ok(Criterion::Weighted { density, tol, max_central_cap })
    }

    /// Max-error criterion on [lo, hi]; τ finite and > 0, lo < hi.
    pub fn max_error(lo: f64, hi: f64, tol: f64) -> Result<Self> {
        check_tol("tol", tol)?;
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(ApproxError::InvalidParameter {
                name: "max-error interval",
                value: format!("[{lo}, {hi}]"),
                hint: "need finite lo < hi",
            });
        }
        Ok(Criterion::MaxError { lo, hi, tol })
    }

    /// τ.
    pub fn tol(&self) -> f64 {
        match self {
            Criterion::Weighted { tol, .. } | Criterion::MaxError { tol, .. } => *tol,
        }
    }

    /// Human-readable form, e.g. "weighted error ≤ 1e-3 under normal:0,1".
    pub fn describe(&self) -> String {
        // Long densities (histograms) are cut, so a summary title stays one short line.
        let clip = |d: &DensitySpec| crate::limits::clip(&d.to_string());
        match self {
            Criterion::Weighted { density, tol, max_central_cap: None } => {
                format!("weighted error ≤ {tol:e} under {}", clip(density))
            }
            Criterion::Weighted { density, tol, max_central_cap: Some(c) } => {
                format!("weighted error ≤ {tol:e} under {} and central-99.9% max error ≤ {c:e}", clip(density))
            }
            Criterion::MaxError { lo, hi, tol } => {
                format!("max error ≤ {tol:e} on [{}, {}]", crate::limits::num(*lo), crate::limits::num(*hi))
            }
        }
    }

    /// Where the accuracy matters: the density's central 99.9 %, or [lo, hi].
    pub fn focus(&self) -> (f64, f64) {
        match self {
            Criterion::Weighted { density, .. } => density.central_interval(0.999),
            Criterion::MaxError { lo, hi, .. } => (*lo, *hi),
        }
    }

    /// Largest |x| the fixed-point evaluation must handle without overflow for range [a, b]: max(|a|, |b|) and the
    /// focus interval's ends.
    pub fn overflow_bound(&self, a: f64, b: f64) -> f64 {
        let (lo, hi) = self.focus();
        a.abs().max(b.abs()).max(lo.abs()).max(hi.abs())
    }
}

/// Violation below which a weighted-least-squares fit is refitted by L1 (see [`Fitter::evaluate`]).
pub const L1_REFINE_BELOW: f64 = 1.3;

/// Bounds of the structures searched (shared by annealing and the exhaustive grid).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SearchSpace {
    /// Most central pieces.
    pub max_pieces: usize,
    /// Highest degree of a piece.
    pub max_degree: usize,
    /// |a|, |b| ≤ range_limit.
    pub range_limit: f64,
    /// Breakpoints are multiples of this.
    pub grid: f64,
    /// Narrowest piece.
    pub min_width: f64,
}

impl Default for SearchSpace {
    fn default() -> Self {
        SearchSpace { max_pieces: 16, max_degree: 10, range_limit: 16.0, grid: 1.0 / 256.0, min_width: 1.0 / 16.0 }
    }
}

/// Breakpoints and per-piece degrees of a candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Structure {
    /// t_0 < … < t_n.
    pub breakpoints: Vec<f64>,
    /// One degree per piece (n).
    pub degrees: Vec<usize>,
}

impl Structure {
    /// `m` equal pieces of degree `d` on [a, b].
    pub fn uniform(a: f64, b: f64, m: usize, d: usize) -> Self {
        let m = m.max(1);
        let breakpoints = (0..=m).map(|i| if i == m { b } else { a + (b - a) * i as f64 / m as f64 }).collect();
        Structure { breakpoints, degrees: vec![d; m] }
    }
}

/// An evaluated admissible structure.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The structure.
    pub structure: Structure,
    /// Its fitted approximation.
    pub pp: PiecewisePoly,
    /// Its cost.
    pub cost: Cost,
    /// [`CostModel::scalar`] of the cost.
    pub scalar: f64,
    /// The criterion's main error (weighted or max).
    pub error: f64,
    /// The central-99.9 % max error, when the criterion caps it.
    pub cap_error: Option<f64>,
    /// v = max(error/τ, cap_error/cap); feasible ⇔ v ≤ 1.
    pub violation: f64,
}

impl Candidate {
    /// Meets the criterion.
    pub fn feasible(&self) -> bool {
        self.violation <= 1.0
    }
}

/// Everything needed to turn a [`Structure`] into a [`Candidate`].
pub struct Fitter<'a> {
    /// The function approximated.
    pub activation: &'a dyn Activation,
    /// The accuracy requirement.
    pub criterion: &'a Criterion,
    /// Bounds of the search.
    pub space: SearchSpace,
    /// The cost minimised.
    pub cost_model: &'a dyn CostModel,
    /// Fixed-point parameters for the overflow check.
    pub fx: FixedPoint,
    /// Per-piece fit.
    pub method: FitMethod,
    /// Limit on the monomial condition number.
    pub condition_limit: f64,
    /// Measure the criterion on the reference fixed-point evaluation (with [`Fitter::fx`]) instead of the f64
    /// polynomial, so the guarantee covers encoding and truncation errors too.
    pub fixed_point_errors: bool,
    /// How the tails beyond [a, b] are chosen (default: asymptote plus a fitted constant).
    pub tail_fit: TailFit,
}

/// How the tails beyond the range [a, b] are chosen (module docs, "Tails").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TailFit {
    /// The activation's own asymptotes (f → 0, f → x, …), unchanged.
    Asymptote,
    /// Each asymptote plus the constant that minimises the criterion's share of its tail: the ρ-weighted median of
    /// the residual f − tail beyond the range (weighted criterion), or its midrange on the tail's part of [lo, hi]
    /// (max-error criterion). Same slope, so the same MPC cost.
    #[default]
    Offset,
}

/// The tail regions searched for the offset reach this many standard deviations of ρ from its mean.
const TAIL_SPAN_STDS: f64 = 12.0;
/// Cells (× 8 Gauss–Legendre nodes) of a tail region for the weighted median; points of the midrange grid − 1.
const TAIL_CELLS: usize = 16;
/// Below this probability mass a tail keeps its asymptote (its share of the weighted error is negligible).
const MIN_TAIL_MASS: f64 = 1e-12;

/// The ρ-weighted median of r on [lo, hi] (Gauss–Legendre nodes weighted by ρ): the constant c minimising
/// ∫_lo^hi |r − c| ρ. None when the region holds less than [`MIN_TAIL_MASS`].
fn weighted_median(r: &dyn Fn(f64) -> f64, density: &DensitySpec, lo: f64, hi: f64) -> Option<f64> {
    if lo.is_nan() || hi.is_nan() || lo >= hi {
        return None;
    }
    let rule = crate::quad::gl8();
    let h = (hi - lo) / TAIL_CELLS as f64;
    let mut pts: Vec<(f64, f64)> = Vec::with_capacity(TAIL_CELLS * rule.nodes.len());
    for c in 0..TAIL_CELLS {
        let x0 = lo + h * c as f64;
        for (&t, &w) in rule.nodes.iter().zip(&rule.weights) {
            let x = x0 + 0.5 * h * (t + 1.0);
            let wx = 0.5 * h * w * density.pdf(x);
            let rx = r(x);
            if wx > 0.0 && rx.is_finite() {
                pts.push((rx, wx));
            }
        }
    }
    let total: f64 = pts.iter().map(|p| p.1).sum();
    if total.is_nan() || total <= MIN_TAIL_MASS {
        return None;
    }
    pts.sort_by(|p, q| p.0.total_cmp(&q.0));
    let mut acc = 0.0;
    for (rx, wx) in &pts {
        acc += wx;
        if acc >= 0.5 * total {
            return Some(*rx);
        }
    }
    pts.last().map(|p| p.0)
}

/// (max r + min r)/2 on an even grid of [lo, hi]: the constant c minimising max |r − c| there.
fn midrange(r: &dyn Fn(f64) -> f64, lo: f64, hi: f64) -> Option<f64> {
    if lo.is_nan() || hi.is_nan() || lo >= hi {
        return None;
    }
    let n = 8 * TAIL_CELLS;
    let (mn, mx) = (0..=n)
        .map(|i| r(lo + (hi - lo) * i as f64 / n as f64))
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(mn, mx), v| (mn.min(v), mx.max(v)));
    (mn <= mx).then_some(0.5 * (mn + mx))
}

/// The tail moved up by c (same slope).
fn shift_tail(tail: Tail, c: f64) -> Tail {
    if c == 0.0 {
        return tail;
    }
    match tail {
        Tail::Zero => Tail::Constant { value: c },
        Tail::Constant { value } => Tail::Constant { value: value + c },
        Tail::Identity => Tail::Linear { slope: 1.0, intercept: c },
        Tail::Linear { slope, intercept } => Tail::Linear { slope, intercept: intercept + c },
    }
}

impl<'a> Fitter<'a> {
    /// A fitter with default space, f = 16, the default condition limit and the criterion's natural per-piece fit:
    /// density-weighted L1 ([`FitMethod::WeightedL1`], which minimises exactly the weighted error) for
    /// [`Criterion::Weighted`], Chebyshev interpolation (within 1 + Λ_d of minimax) for [`Criterion::MaxError`].
    pub fn new(activation: &'a dyn Activation, criterion: &'a Criterion, cost_model: &'a dyn CostModel) -> Self {
        let method = match criterion {
            Criterion::Weighted { .. } => FitMethod::WeightedL1,
            Criterion::MaxError { .. } => FitMethod::Interpolate,
        };
        Fitter {
            activation,
            criterion,
            space: SearchSpace::default(),
            cost_model,
            fx: FixedPoint::default(),
            method,
            condition_limit: DEFAULT_CONDITION_LIMIT,
            fixed_point_errors: false,
            tail_fit: TailFit::default(),
        }
    }

    /// Fits the structure's pieces with [`Fitter::method`] and builds the approximation (no criterion check).
    pub fn build(&self, s: &Structure) -> Result<PiecewisePoly> {
        self.build_with(s, self.method)
    }

    /// Fits the structure's pieces with the given method and builds the approximation.
    pub fn build_with(&self, s: &Structure, method: FitMethod) -> Result<PiecewisePoly> {
        if s.degrees.len() + 1 != s.breakpoints.len() {
            return Err(ApproxError::InvalidPiecewise(format!(
                "{} degrees for {} breakpoints",
                s.degrees.len(),
                s.breakpoints.len()
            )));
        }
        let f = |x: f64| self.activation.eval(x);
        let w = |x: f64| match self.criterion {
            Criterion::Weighted { density, .. } => density.pdf(x),
            Criterion::MaxError { .. } => 1.0,
        };
        let pieces = s
            .breakpoints
            .windows(2)
            .zip(&s.degrees)
            .map(|(t, &d)| fit_piece(&f, &w, t[0], t[1], d, method, self.condition_limit))
            .collect::<Result<Vec<Polynomial>>>()?;
        let (left, right) = self.fit_tails(s.breakpoints[0], s.breakpoints[s.breakpoints.len() - 1]);
        PiecewisePoly::new(left, s.breakpoints.clone(), pieces, right)
    }

    /// The tails for range [a, b] under [`Fitter::tail_fit`]: the activation's asymptotes, or each asymptote plus the
    /// constant that minimises the criterion's share of that tail (module docs, "Tails").
    pub fn fit_tails(&self, a: f64, b: f64) -> (Tail, Tail) {
        let (left, right) = (self.activation.left_tail(), self.activation.right_tail());
        if self.tail_fit == TailFit::Asymptote {
            return (left, right);
        }
        let f = |x: f64| self.activation.eval(x);
        let offset = |tail: Tail, lo: f64, hi: f64| -> f64 {
            let r = |x: f64| f(x) - tail.eval(x);
            let c = match self.criterion {
                Criterion::Weighted { density, .. } => weighted_median(&r, density, lo, hi),
                Criterion::MaxError { .. } => midrange(&r, lo, hi),
            };
            c.filter(|c| c.is_finite()).unwrap_or(0.0)
        };
        let (lo, hi) = match self.criterion {
            Criterion::Weighted { density, .. } => {
                let (slo, shi) = density.support();
                let (mu, sd) = (density.mean(), density.std());
                (slo.max(mu - TAIL_SPAN_STDS * sd), shi.min(mu + TAIL_SPAN_STDS * sd))
            }
            Criterion::MaxError { lo, hi, .. } => (*lo, *hi),
        };
        let cl = if lo < a { offset(left, lo, a.min(hi)) } else { 0.0 };
        let cr = if b < hi { offset(right, b.max(lo), hi) } else { 0.0 };
        (shift_tail(left, cl), shift_tail(right, cr))
    }

    /// Builds, checks admissibility (conditioning, fixed-point overflow) and measures the criterion.
    ///
    /// With [`FitMethod::WeightedL1`] (about 13 least-squares solves per piece) the structure is first fitted by
    /// weighted least squares (one solve); only when that misses the criterion by less than
    /// [`L1_REFINE_BELOW`]× is it refitted by L1, keeping the better. Searches finish with [`Fitter::polish`].
    pub fn evaluate(&self, s: &Structure) -> Result<Candidate> {
        if self.method != FitMethod::WeightedL1 {
            return self.evaluate_with(s, self.method);
        }
        let c = self.evaluate_with(s, FitMethod::WeightedLeastSquares)?;
        if c.feasible() || c.violation >= L1_REFINE_BELOW {
            return Ok(c);
        }
        match self.evaluate_with(s, FitMethod::WeightedL1) {
            Ok(l1) if l1.violation < c.violation => Ok(l1),
            _ => Ok(c),
        }
    }

    /// Refits a candidate's structure with [`FitMethod::WeightedL1`] when that is the fitter's method and keeps the
    /// result if it is feasible and more accurate.
    pub fn polish(&self, c: Candidate) -> Candidate {
        if self.method != FitMethod::WeightedL1 {
            return c;
        }
        match self.evaluate_with(&c.structure, FitMethod::WeightedL1) {
            Ok(l1) if l1.feasible() && l1.violation < c.violation => l1,
            _ => c,
        }
    }

    /// [`Fitter::evaluate`] with a fixed per-piece method.
    ///
    /// With fitted tails ([`TailFit::Offset`]) and a central max-error cap, the asymptote tails are measured too and
    /// the variant with the smaller violation is kept (an offset lowers the tail's mean error but can raise its
    /// max error inside the central interval).
    pub fn evaluate_with(&self, s: &Structure, method: FitMethod) -> Result<Candidate> {
        let pp = self.build_with(s, method)?;
        let capped = matches!(self.criterion, Criterion::Weighted { max_central_cap: Some(_), .. });
        let asymptotes = (self.activation.left_tail(), self.activation.right_tail());
        if capped && (pp.left, pp.right) != asymptotes {
            let mut plain = pp.clone();
            (plain.left, plain.right) = asymptotes;
            let fitted = self.measure(s, pp)?;
            let plain = self.measure(s, plain)?;
            return Ok(if fitted.violation < plain.violation { fitted } else { plain });
        }
        self.measure(s, pp)
    }

    /// Admissibility check, cost and criterion of a built approximation.
    fn measure(&self, s: &Structure, pp: PiecewisePoly) -> Result<Candidate> {
        let (a, b) = pp.range();
        let bound = self.criterion.overflow_bound(a, b);
        pp.check_fixed_point(&self.fx, bound)?;
        // Local truncation must fail with probability ≤ 2^−30 per element on the same inputs (0 under dealer pair).
        let failure = self.cost_model.failure_bound(&pp, bound);
        if failure > crate::cost::MAX_LOCAL_FAILURE {
            return Err(ApproxError::LocalTruncationFailure { bound: failure, max_abs: bound, limit: crate::cost::MAX_LOCAL_FAILURE });
        }
        let cost = self.cost_model.piecewise_cost(&pp);
        let scalar = self.cost_model.scalar(&cost);
        let (error, cap_error, violation) = match self.criterion {
            Criterion::Weighted { density, tol, max_central_cap } => {
                let e = if self.fixed_point_errors {
                    weighted_error_fixed(self.activation, &pp, density, &self.fx)
                } else {
                    weighted_error(self.activation, &pp, density)
                };
                let c = max_central_cap.map(|_| {
                    if self.fixed_point_errors {
                        let (lo, hi) = density.central_interval(0.999);
                        max_abs_error_fixed(self.activation, &pp, &self.fx, lo, hi)
                    } else {
                        max_error_central(self.activation, &pp, density, 0.999)
                    }
                });
                let v = (e / tol).max(match (c, max_central_cap) {
                    (Some(c), Some(cap)) => c / cap,
                    _ => 0.0,
                });
                (e, c, v)
            }
            Criterion::MaxError { lo, hi, tol } => {
                let e = if self.fixed_point_errors {
                    max_abs_error_fixed(self.activation, &pp, &self.fx, *lo, *hi)
                } else {
                    max_abs_error(self.activation, &pp, *lo, *hi)
                };
                (e, None, e / tol)
            }
        };
        let violation = if violation.is_nan() { f64::INFINITY } else { violation };
        Ok(Candidate { structure: s.clone(), pp, cost, scalar, error, cap_error, violation })
    }

    fn snap(&self, t: f64) -> f64 {
        let g = self.space.grid;
        ((t / g).round() * g).clamp(-self.space.range_limit, self.space.range_limit)
    }

    /// Admissible shape: within the space, strictly increasing with min width, degrees in 1..=max_degree.
    fn shape_ok(&self, s: &Structure) -> bool {
        let sp = &self.space;
        !s.degrees.is_empty()
            && s.degrees.len() <= sp.max_pieces
            && s.degrees.len() + 1 == s.breakpoints.len()
            && s.degrees.iter().all(|&d| (1..=sp.max_degree).contains(&d))
            && s.breakpoints.iter().all(|t| t.abs() <= sp.range_limit)
            && s.breakpoints.windows(2).all(|w| w[1] - w[0] >= sp.min_width - 1e-12)
    }
}

/// Result of a search.
#[derive(Debug, Clone)]
pub struct SearchOutcome {
    /// The cheapest feasible candidate found.
    pub best: Candidate,
    /// Structures evaluated.
    pub evaluations: usize,
}

/// Parameters of [`anneal`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnnealConfig {
    /// Master seed.
    pub seed: u64,
    /// Independent chains.
    pub restarts: usize,
    /// Steps per chain.
    pub iterations: usize,
    /// Initial temperature (cost units).
    pub t_start: f64,
    /// Final temperature.
    pub t_end: f64,
    /// Energy per e-fold of violation.
    pub penalty: f64,
}

impl Default for AnnealConfig {
    fn default() -> Self {
        AnnealConfig { seed: 0, restarts: 4, iterations: 1200, t_start: 60.0, t_end: 0.5, penalty: 250.0 }
    }
}

fn energy(c: &Candidate, penalty: f64) -> f64 {
    let v = c.violation.max(1e-300);
    c.scalar + penalty * v.max(1.0).ln() + 0.5 * v.ln()
}

/// Fixed list of initial (pieces, degree) per chain.
const INITIAL_SHAPES: [(usize, usize); 6] = [(4, 4), (2, 6), (6, 3), (3, 5), (8, 2), (1, 8)];

fn propose(fit: &Fitter<'_>, s: &Structure, rng: &mut ChaCha8Rng) -> Option<Structure> {
    let mut t = s.breakpoints.clone();
    let mut d = s.degrees.clone();
    let n = d.len();
    let normal = |rng: &mut ChaCha8Rng| -> f64 {
        // Box–Muller.
        let u1: f64 = rng.random::<f64>().max(1e-300);
        let u2: f64 = rng.random();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    };
    match rng.random_range(0..8u32) {
        0 => {
            if n < 2 {
                return None;
            }
            let i = rng.random_range(1..n);
            let w = (t[i] - t[i - 1]).min(t[i + 1] - t[i]);
            t[i] = fit.snap(t[i] + 0.25 * w * normal(rng));
        }
        1 => {
            let i = if rng.random::<bool>() { 0 } else { n };
            t[i] = fit.snap(t[i] + 0.5 * normal(rng));
        }
        2 => {
            let c = 0.5 * (t[0] + t[n]);
            let k = (0.1 * normal(rng)).exp();
            for v in t.iter_mut() {
                *v = fit.snap(c + (*v - c) * k);
            }
        }
        3 => {
            let i = rng.random_range(0..n);
            let x = t[i] + (t[i + 1] - t[i]) * rng.random_range(0.25..0.75);
            t.insert(i + 1, fit.snap(x));
            d.insert(i + 1, d[i]);
        }
        4 => {
            if n < 2 {
                return None;
            }
            let i = rng.random_range(1..n);
            t.remove(i);
            let dd = d[i - 1].max(d[i]);
            d.remove(i);
            d[i - 1] = dd;
        }
        5 => {
            if n < 2 {
                return None;
            }
            if rng.random::<bool>() {
                t.remove(0);
                d.remove(0);
            } else {
                t.pop();
                d.pop();
            }
        }
        6 => {
            let i = rng.random_range(0..n);
            d[i] = if rng.random::<bool>() { d[i] + 1 } else { d[i].saturating_sub(1) };
        }
        _ => {
            let up = rng.random::<bool>();
            for v in d.iter_mut() {
                *v = if up { *v + 1 } else { v.saturating_sub(1) };
            }
        }
    }
    let s2 = Structure { breakpoints: t, degrees: d };
    (fit.shape_ok(&s2) && s2 != *s).then_some(s2)
}

/// The starting range of `m` pieces: the criterion's focus clipped to the space, widened around its centre (and
/// moved inside ±range_limit) to at least `m` minimum piece widths, so that a narrow density (`normal:0,1e-3`) or
/// one beyond the range limit (`normal:20,1`) still has an admissible start.
fn start_range(fit: &Fitter<'_>, m: usize) -> (f64, f64) {
    let (lo, hi) = fit.criterion.focus();
    let lim = fit.space.range_limit;
    let (a, b) = (fit.snap(lo.max(-lim)), fit.snap(hi.min(lim)));
    let need = (m as f64 * fit.space.min_width).min(2.0 * lim);
    if b - a >= need - 1e-12 {
        return (a, b);
    }
    let half = need / 2.0;
    let c = fit.snap(0.5 * (lo + hi)).clamp(-lim + half, lim - half);
    (c - half, c + half)
}

fn initial(fit: &Fitter<'_>, chain: usize) -> Option<Candidate> {
    for k in 0..INITIAL_SHAPES.len() {
        let (m, dg) = INITIAL_SHAPES[(chain + k) % INITIAL_SHAPES.len()];
        let m = m.min(fit.space.max_pieces);
        let dg = dg.min(fit.space.max_degree);
        let (a, b) = start_range(fit, m);
        let mut s = Structure::uniform(a, b, m, dg);
        s.breakpoints = s.breakpoints.iter().map(|&x| fit.snap(x)).collect();
        if !fit.shape_ok(&s) {
            continue;
        }
        if let Ok(c) = fit.evaluate(&s) {
            return Some(c);
        }
    }
    None
}

fn better(a: &Candidate, b: &Candidate) -> bool {
    (a.scalar, a.violation) < (b.scalar, b.violation)
}

/// One annealing chain; returns (best feasible, evaluations).
fn chain(fit: &Fitter<'_>, cfg: &AnnealConfig, index: usize) -> (Option<Candidate>, usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    rng.set_stream(index as u64);
    let Some(mut cur) = initial(fit, index) else {
        return (None, INITIAL_SHAPES.len());
    };
    let mut evals = 1;
    let mut cur_e = energy(&cur, cfg.penalty);
    let mut best = cur.feasible().then(|| cur.clone());
    let k_max = cfg.iterations.max(1);
    for k in 0..k_max {
        let temp = cfg.t_start * (cfg.t_end / cfg.t_start).powf(k as f64 / k_max as f64);
        let Some(s) = propose(fit, &cur.structure, &mut rng) else {
            continue;
        };
        evals += 1;
        let Ok(cand) = fit.evaluate(&s) else {
            continue;
        };
        let e = energy(&cand, cfg.penalty);
        let accept = e <= cur_e || rng.random::<f64>() < (-(e - cur_e) / temp).exp();
        if cand.feasible() && best.as_ref().is_none_or(|b| better(&cand, b)) {
            best = Some(cand.clone());
        }
        if accept {
            cur = cand;
            cur_e = e;
        }
    }
    (best, evals)
}

fn infeasible(fit: &Fitter<'_>) -> ApproxError {
    ApproxError::Infeasible {
        activation: fit.activation.name().to_string(),
        criterion: fit.criterion.describe(),
        hint: format!(
            "loosen the tolerance, or allow more pieces/degree (now ≤ {} pieces of degree ≤ {} on |x| ≤ {})",
            fit.space.max_pieces, fit.space.max_degree, fit.space.range_limit
        ),
    }
}

/// Simulated annealing over structures (module docs). Deterministic for a given seed.
pub fn anneal(fit: &Fitter<'_>, cfg: &AnnealConfig) -> Result<SearchOutcome> {
    let results: Vec<(Option<Candidate>, usize)> =
        (0..cfg.restarts.max(1)).into_par_iter().map(|r| chain(fit, cfg, r)).collect();
    let evaluations = results.iter().map(|r| r.1).sum();
    let mut best: Option<Candidate> = None;
    for c in results.into_iter().filter_map(|r| r.0) {
        if best.as_ref().is_none_or(|b| better(&c, b)) {
            best = Some(c);
        }
    }
    best.map(|best| SearchOutcome { best: fit.polish(best), evaluations }).ok_or_else(|| infeasible(fit))
}

/// The discrete space of [`exhaustive`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExhaustiveGrid {
    /// m ∈ 1..=max_pieces.
    pub max_pieces: usize,
    /// d ∈ 1..=max_degree.
    pub max_degree: usize,
    /// Spacing of the range grid.
    pub step: f64,
    /// |a|, |b| ≤ range_limit.
    pub range_limit: f64,
}

impl ExhaustiveGrid {
    /// The grid matching a [`SearchSpace`] with range step 0.5.
    pub fn for_space(space: &SearchSpace) -> Self {
        ExhaustiveGrid { max_pieces: space.max_pieces, max_degree: space.max_degree, step: 0.5, range_limit: space.range_limit }
    }
}

impl ExhaustiveGrid {
    /// An upper bound on the structures [`exhaustive`] evaluates: ranges [a, b] on the grid around the focus
    /// centre × pieces × degrees (computed without enumerating anything).
    pub fn size_bound(&self) -> u128 {
        let n = if self.step > 0.0 && self.range_limit.is_finite() { (self.range_limit / self.step).floor() as u128 } else { u128::MAX >> 70 };
        let ranges = (n + 1) * (n + 1);
        ranges.saturating_mul(self.max_pieces as u128).saturating_mul(self.max_degree as u128)
    }
}

/// Exhaustive search over the grid (module docs): the reference optimum for the annealing's optimality gap. A grid
/// whose [`ExhaustiveGrid::size_bound`] exceeds [`crate::limits::MAX_EXHAUSTIVE_STRUCTURES`] is refused.
pub fn exhaustive(fit: &Fitter<'_>, grid: &ExhaustiveGrid) -> Result<SearchOutcome> {
    if grid.size_bound() > crate::limits::MAX_EXHAUSTIVE_STRUCTURES as u128 {
        return Err(ApproxError::InvalidParameter {
            name: "exhaustive grid",
            value: format!("{} pieces × {} degrees (up to {} structures)", grid.max_pieces, grid.max_degree, grid.size_bound()),
            hint: "exceeds limits::MAX_EXHAUSTIVE_STRUCTURES = 250000; lower --max-pieces/--max-degree or use the annealing",
        });
    }
    let (lo, hi) = fit.criterion.focus();
    let centre = ((0.5 * (lo + hi)) / grid.step).round() * grid.step;
    let n_lim = (grid.range_limit / grid.step).floor() as i64;
    let ks: Vec<i64> = (-n_lim..=n_lim).collect();
    let ranges: Vec<(f64, f64)> = ks
        .iter()
        .flat_map(|&i| ks.iter().map(move |&j| (i as f64 * grid.step, j as f64 * grid.step)))
        .filter(|&(a, b)| a <= centre && b >= centre && a < b)
        .collect();
    // Cost of each (m, d), from a stand-in approximation with the right shape.
    let mut combos: Vec<(f64, usize, usize)> = Vec::new();
    for m in 1..=grid.max_pieces {
        for d in 1..=grid.max_degree {
            let s = Structure::uniform(-1.0, 1.0, m, d);
            let pieces = vec![Polynomial::new(vec![1.0; d + 1]); m];
            let pp = PiecewisePoly::new(fit.activation.left_tail(), s.breakpoints, pieces, fit.activation.right_tail())?;
            combos.push((fit.cost_model.scalar(&fit.cost_model.piecewise_cost(&pp)), m, d));
        }
    }
    combos.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let mut evaluations = 0;
    let mut i = 0;
    let space = SearchSpace { max_pieces: grid.max_pieces, max_degree: grid.max_degree, range_limit: grid.range_limit, ..fit.space };
    while i < combos.len() {
        let level = combos[i].0;
        let mut j = i;
        while j < combos.len() && combos[j].0 == level {
            j += 1;
        }
        let jobs: Vec<(usize, usize, f64, f64)> = combos[i..j]
            .iter()
            .flat_map(|&(_, m, d)| ranges.iter().map(move |&(a, b)| (m, d, a, b)))
            .filter(|&(m, _, a, b)| (b - a) / m as f64 >= space.min_width - 1e-12)
            .collect();
        evaluations += jobs.len();
        let found: Vec<Option<Candidate>> = jobs
            .par_iter()
            .map(|&(m, d, a, b)| fit.evaluate(&Structure::uniform(a, b, m, d)).ok().filter(Candidate::feasible))
            .collect();
        let mut best: Option<Candidate> = None;
        for c in found.into_iter().flatten() {
            if best.as_ref().is_none_or(|b| c.violation < b.violation) {
                best = Some(c);
            }
        }
        if let Some(best) = best {
            return Ok(SearchOutcome { best: fit.polish(best), evaluations });
        }
        i = j;
    }
    Err(infeasible(fit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Builtin, TwoPartyCostModel};

    #[test]
    fn anneal_is_deterministic_and_feasible() {
        let crit = Criterion::weighted(DensitySpec::standard_normal(), 1e-2, None).unwrap();
        let model = TwoPartyCostModel::default();
        let fit = Fitter::new(&Builtin::Silu, &crit, &model);
        let cfg = AnnealConfig { iterations: 300, restarts: 3, seed: 7, ..Default::default() };
        let a = anneal(&fit, &cfg).unwrap();
        let b = anneal(&fit, &cfg).unwrap();
        assert_eq!(a.best.pp, b.best.pp);
        assert!(a.best.feasible() && a.best.error <= 1e-2);
    }

    #[test]
    fn fixed_point_errors_are_guaranteed_when_asked() {
        let crit = Criterion::weighted(DensitySpec::standard_normal(), 1e-3, None).unwrap();
        let model = TwoPartyCostModel::default();
        let mut fit = Fitter::new(&Builtin::Gelu, &crit, &model);
        fit.fixed_point_errors = true;
        fit.fx = FixedPoint::new(12).unwrap();
        let cfg = AnnealConfig { iterations: 400, restarts: 2, seed: 5, ..Default::default() };
        let best = anneal(&fit, &cfg).unwrap().best;
        let d = DensitySpec::standard_normal();
        let e = crate::metrics::weighted_error_fixed(&Builtin::Gelu, &best.pp, &d, &fit.fx);
        assert!(e <= 1e-3 && (e - best.error).abs() < 1e-15, "{e} vs {}", best.error);
    }

    #[test]
    fn result_does_not_depend_on_thread_count() {
        let crit = Criterion::weighted(DensitySpec::standard_normal(), 1e-3, None).unwrap();
        let model = TwoPartyCostModel::default();
        let fit = Fitter::new(&Builtin::Mish, &crit, &model);
        let cfg = AnnealConfig { iterations: 300, restarts: 4, seed: 11, ..Default::default() };
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| anneal(&fit, &cfg).unwrap())
        };
        let (one, three) = (run(1), run(3));
        assert_eq!(one.best.pp, three.best.pp);
        assert_eq!(one.evaluations, three.evaluations);
    }

    fn weighted_fitter<'a>(f: &'a Builtin, crit: &'a Criterion, model: &'a TwoPartyCostModel, tf: TailFit) -> Fitter<'a> {
        let mut fit = Fitter::new(f, crit, model);
        fit.tail_fit = tf;
        fit
    }

    #[test]
    fn fitted_tails_lower_the_weighted_error() {
        let crit = Criterion::weighted(DensitySpec::standard_normal(), 1e-3, None).unwrap();
        let model = TwoPartyCostModel::default();
        for f in [Builtin::Silu, Builtin::Gelu, Builtin::Mish] {
            let plain = weighted_fitter(&f, &crit, &model, TailFit::Asymptote);
            let offset = weighted_fitter(&f, &crit, &model, TailFit::Offset);
            for (a, b, d) in [(-2.5, 2.25, 6), (-3.0, 3.0, 7), (-4.0, 4.0, 8), (-1.0, 1.5, 4), (-6.0, 6.0, 9)] {
                let s = Structure::uniform(a, b, 1, d);
                let (p, o) = (plain.evaluate_with(&s, FitMethod::WeightedL1).unwrap(), offset.evaluate_with(&s, FitMethod::WeightedL1).unwrap());
                assert_eq!((p.pp.left, p.pp.right), (f.left_tail(), f.right_tail()));
                assert_eq!(p.pp.pieces, o.pp.pieces, "the pieces do not depend on the tails");
                assert_eq!(p.cost, o.cost, "an offset tail costs the same");
                assert!(o.error <= p.error * (1.0 + 1e-9), "{} [{a}, {b}] d={d}: {} > {}", f.name(), o.error, p.error);
            }
        }
        // Mish on [−2.5, 2.25]: both tails move, and the weighted error drops by more than a quarter.
        let plain = weighted_fitter(&Builtin::Mish, &crit, &model, TailFit::Asymptote);
        let offset = weighted_fitter(&Builtin::Mish, &crit, &model, TailFit::Offset);
        let s = Structure::uniform(-2.5, 2.25, 1, 6);
        let (p, o) = (plain.evaluate(&s).unwrap(), offset.evaluate(&s).unwrap());
        assert!(matches!(o.pp.left, Tail::Constant { value } if value < -0.1), "{:?}", o.pp.left);
        assert!(matches!(o.pp.right, Tail::Linear { slope: 1.0, intercept } if intercept < 0.0), "{:?}", o.pp.right);
        assert!(o.error < 0.75 * p.error, "{} vs {}", o.error, p.error);
    }

    #[test]
    fn max_error_tails_take_the_midrange() {
        let crit = Criterion::max_error(-8.0, 8.0, 1e-3).unwrap();
        let model = TwoPartyCostModel::default();
        let plain = weighted_fitter(&Builtin::Silu, &crit, &model, TailFit::Asymptote);
        let offset = weighted_fitter(&Builtin::Silu, &crit, &model, TailFit::Offset);
        let s = Structure::uniform(-6.0, 6.0, 2, 8);
        let (p, o) = (plain.evaluate(&s).unwrap(), offset.evaluate(&s).unwrap());
        assert!(o.error <= p.error, "{} > {}", o.error, p.error);
        // SiLU is monotone on [−8, −6]: the midrange is (SiLU(−8) + SiLU(−6))/2.
        let want = 0.5 * (Builtin::Silu.eval(-8.0) + Builtin::Silu.eval(-6.0));
        assert!(matches!(o.pp.left, Tail::Constant { value } if (value - want).abs() < 1e-12), "{:?} vs {want}", o.pp.left);
        // A range covering [lo, hi] leaves nothing to fit.
        let s = Structure::uniform(-8.5, 8.5, 2, 8);
        let c = offset.build(&s).unwrap();
        assert_eq!((c.left, c.right), (Tail::Zero, Tail::Identity));
    }

    #[test]
    fn tails_without_mass_keep_their_asymptotes() {
        let crit = Criterion::weighted("uniform:-2,2".parse().unwrap(), 1e-3, None).unwrap();
        let model = TwoPartyCostModel::default();
        let fit = weighted_fitter(&Builtin::Gelu, &crit, &model, TailFit::Offset);
        assert_eq!(fit.fit_tails(-3.0, 3.0), (Tail::Zero, Tail::Identity));
        let (l, r) = fit.fit_tails(-1.0, 1.0);
        assert!(matches!(l, Tail::Constant { .. }) && matches!(r, Tail::Linear { slope: 1.0, .. }), "{l:?} {r:?}");
    }

    #[test]
    fn capped_criterion_keeps_the_better_tails() {
        let crit = Criterion::weighted(DensitySpec::standard_normal(), 1e-3, Some(2e-2)).unwrap();
        let model = TwoPartyCostModel::default();
        let plain = weighted_fitter(&Builtin::Silu, &crit, &model, TailFit::Asymptote);
        let offset = weighted_fitter(&Builtin::Silu, &crit, &model, TailFit::Offset);
        for (a, b) in [(-2.6, 2.6), (-3.5, 3.5), (-2.0, 4.0)] {
            let s = Structure::uniform(a, b, 1, 6);
            let (p, o) = (plain.evaluate_with(&s, FitMethod::WeightedL1).unwrap(), offset.evaluate_with(&s, FitMethod::WeightedL1).unwrap());
            let mut bare = offset.build_with(&s, FitMethod::WeightedL1).unwrap();
            assert!(o.violation <= p.violation, "[{a}, {b}]: {} > {}", o.violation, p.violation);
            (bare.left, bare.right) = (Tail::Zero, Tail::Identity);
            assert!(o.violation <= offset.measure(&s, bare).unwrap().violation);
        }
        let best = anneal(&offset, &AnnealConfig { iterations: 400, restarts: 2, seed: 3, ..Default::default() }).unwrap().best;
        assert!(best.cap_error.is_some_and(|c| c <= 2e-2) && best.error <= 1e-3, "{:?} {}", best.cap_error, best.error);
    }

    #[test]
    fn bad_tolerances_are_rejected() {
        for tol in [0.0, -1e-3, f64::NAN, f64::INFINITY] {
            let e = Criterion::weighted(DensitySpec::standard_normal(), tol, None).unwrap_err().to_string();
            assert!(e.contains("tol") && e.contains(&tol.to_string()), "{e}");
        }
        assert!(Criterion::max_error(8.0, -8.0, 1e-3).is_err());
    }

    #[test]
    fn overflowing_degree_is_inadmissible() {
        let crit = Criterion::max_error(-16.0, 16.0, 1e-3).unwrap();
        let model = TwoPartyCostModel::default();
        let fit = Fitter::new(&Builtin::Silu, &crit, &model);
        let e = fit.evaluate(&Structure::uniform(-16.0, 16.0, 1, 10)).unwrap_err().to_string();
        assert!(e.contains("degree 10") && e.contains("overflows"), "{e}");
    }

    #[test]
    fn impossible_tolerance_is_reported() {
        let crit = Criterion::weighted(DensitySpec::standard_normal(), 1e-12, None).unwrap();
        let model = TwoPartyCostModel::default();
        let mut fit = Fitter::new(&Builtin::Gelu, &crit, &model);
        fit.space.max_pieces = 2;
        fit.space.max_degree = 3;
        let cfg = AnnealConfig { iterations: 50, restarts: 2, ..Default::default() };
        let e = anneal(&fit, &cfg).unwrap_err().to_string();
        assert!(e.contains("gelu") && e.contains("1e-12"), "{e}");
    }
}
