//! NFGen, reimplemented from its published algorithm (Fan et al., "NFGen: Automatic Non-linear Function Evaluation
//! Code Generator for General-purpose MPC Platforms", ACM CCS 2022, §4 Algorithms 1–2 "FAC", §5 code templates,
//! §6 performance profiler).
//!
//! # Fitting ("FAC", per degree k = 3 … 9)
//! 1. A stack of intervals starts with [(a, b)]; pop [s, e], skipped if s = e after rounding to
//!    `decimal` = min(⌊log10 2^f⌋, 11) digits.
//! 2. N = min(ms, (e − s)·2^f) evenly spaced samples (rounded to `decimal` digits); outputs with |y| ≤ zero_mask
//!    become 0.
//! 3. If N > k + 1, the degree-k Chebyshev–Lobatto interpolant (nodes (s+e)/2 + (e−s)/2·cos(jπ/k), j = 0…k, monomial
//!    coefficients by a Vandermonde solve), else the exact interpolant of the N samples. The degree is capped against
//!    overflow, k ≤ (n − f)/log2 max|x|, and, when 0 ∉ [s, e], against underflow, k ≤ f/(−log2 min|x|).
//!    Coefficients are clamped to ±2^(n−f−1). Residual boosting: the residual is interpolated at degrees k … 1 and
//!    each correction is kept if it lowers the largest squared error on the samples.
//! 4. Error per sample on the fixed-point value ŷ: e = |ŷ − y|, counted as 0 when e ≤ 10^−decimal, divided by y when
//!    y > zero_mask (relative error), absolute otherwise (negative outputs get absolute error, as in NFGen's code).
//! 5. max e ≥ tol and N > k + 1: bisect at the (rounded) midpoint, push both halves; else accept the piece.
//!    More than 10 000 breakpoints abandon this k.
//! 6. Greedy merge from the left: refit each piece with its right neighbour on their union; merge if max e < tol.
//!
//! Outside (a, b) the function is the constant f(a) on the left and f(b) on the right (NFGen's default values; no
//! identity tail).
//!
//! # (k, m) selection
//! Among the candidates (k, m = number of pieces), NFGen picks the lowest predicted time of its profiler; for
//! replicated 3PC ("Rep3") the published regression is
//! T(m, k) = −0.007442 + 9.793e-4·m + 2.7366e-3·k − 1.60e-6·m² + 1.6986e-4·m·k − 1.565e-4·k² seconds.
//! We also pick by our two-party cost model (bytes per party of the sorted-breakpoint evaluation) and report both.
//!
//! # Matching our ring
//! NFGen fits for MP-SPDZ's `sfix` with ⟨n, f⟩ = ⟨96, 48⟩. We evaluate on Z_2^64 with f = 16 (the context's fixed
//! point) and apply every coefficient to a power at scale 2^2f, so a power x^k at scale 2^f has 64 − 1 (sign) − 1
//! (headroom for the sum, as in [`crate::PiecewisePoly::check_fixed_point`]) − f = 46 bits: we run NFGen with
//! ⟨n, f⟩ = ⟨46, 16⟩, which makes its overflow cap k ≤ (n − f)/log2 max|x| exactly |x|^k·2^(2f) ≤ 2^62 (and its
//! clamp |c| ≤ 2^29); NFGen's per-coefficient scaling becomes s_j extra fractional bits per coefficient
//! ([`coeff_scales`], each term truncated by f + s_j); decimal = ⌊log10 2^16⌋ = 4; the error emulation ŷ is our own
//! fixed-point evaluation ([`crate::fixed`]) at f = 16. Every fitted piece is re-checked against the ring
//! ([`check_piece`]).
//!
//! # Secure evaluation
//! This module is the plain fitting only; the secure programs (NFGen's one-hot template and the sorted-breakpoint
//! selection, each scaled term truncated once by f + s_j) are the `nfgen` and `nfgen-sorted` methods of the
//! `secure-methods` crate.

use serde::Serialize;

use crate::activation::{Activation, Tail};
use crate::cost::{CostModel, TwoPartyCostModel};
use crate::error::{ApproxError, Result};
use crate::fixed::FixedPoint;
use crate::piecewise::PiecewisePoly;
use crate::poly::Polynomial;
use crate::quantity::Bytes;

/// NFGen's parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NfgenConfig {
    /// Tolerance (default 1e-3).
    pub tol: f64,
    /// Range (a, b) (default (−20, 20)).
    pub range: (f64, f64),
    /// Ring bits n of NFGen's ⟨n, f⟩ (default 46, see the module docs).
    pub ring_bits: u32,
    /// Fixed point f (the evaluation's).
    pub fx: FixedPoint,
    /// Degrees tried (default 3..=9).
    pub k_min: usize,
    /// Largest degree tried.
    pub k_max: usize,
    /// Samples per piece at most (default 1000).
    pub max_samples: usize,
    /// Outputs with |y| ≤ zero_mask are 0 (default 1e-8).
    pub zero_mask: f64,
    /// Which selection picks the method's (k, m): `rep3` (NFGen's) or `ours`.
    pub select: Selection,
}

/// How (k, m) is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// NFGen's Rep3 time regression.
    Rep3,
    /// Our two-party cost model (bytes per party).
    Ours,
}

impl Default for NfgenConfig {
    fn default() -> Self {
        NfgenConfig {
            tol: 1e-3,
            range: (-20.0, 20.0),
            ring_bits: 46,
            fx: FixedPoint::default(),
            k_min: 3,
            k_max: 9,
            max_samples: 1000,
            zero_mask: 1e-8,
            select: Selection::Rep3,
        }
    }
}

impl NfgenConfig {
    /// decimal = min(⌊log10 2^f⌋, 11).
    pub fn decimal(&self) -> i32 {
        ((self.fx.frac_bits as f64 * 2f64.log10()).floor() as i32).min(11)
    }
}

/// NFGen's Rep3 time regression T(m, k) in seconds.
pub fn rep3_time(m: usize, k: usize) -> f64 {
    let (m, k) = (m as f64, k as f64);
    -0.007442 + 9.793e-4 * m + 2.7366e-3 * k - 1.60e-6 * m * m + 1.6986e-4 * m * k - 1.565e-4 * k * k
}

fn round_to(x: f64, decimal: i32) -> f64 {
    let s = 10f64.powi(decimal);
    (x * s).round() / s
}

/// One fitted piece.
#[derive(Debug, Clone)]
struct Piece {
    s: f64,
    e: f64,
    coeffs: Vec<f64>,
    max_err: f64,
    n_samples: usize,
    scales: Vec<u32>,
}

/// The fitter for one function and one configuration.
struct Fitter<'a> {
    f: &'a dyn Activation,
    cfg: &'a NfgenConfig,
    decimal: i32,
}

/// Solves V·c = y for the monomial coefficients through the points (Gaussian elimination, partial pivoting).
fn vandermonde_solve(xs: &[f64], ys: &[f64]) -> Vec<f64> {
    let n = xs.len();
    let mut a: Vec<Vec<f64>> = xs
        .iter()
        .zip(ys)
        .map(|(&x, &y)| {
            let mut row: Vec<f64> = (0..n).map(|j| x.powi(j as i32)).collect();
            row.push(y);
            row
        })
        .collect();
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs())).unwrap_or(col);
        a.swap(col, piv);
        let p = a[col][col];
        if p == 0.0 {
            continue;
        }
        for row in col + 1..n {
            let factor = a[row][col] / p;
            if factor != 0.0 {
                let pivot_row = a[col].clone();
                for (dst, src) in a[row].iter_mut().zip(&pivot_row).skip(col) {
                    *dst -= factor * src;
                }
            }
        }
    }
    let mut c = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|j| a[row][j] * c[j]).sum();
        c[row] = if a[row][row] == 0.0 { 0.0 } else { (a[row][n] - s) / a[row][row] };
    }
    c
}

/// Degree-k Chebyshev–Lobatto interpolant of g on [s, e] in monomial form.
fn chebyshev_lobatto(g: impl Fn(f64) -> f64, s: f64, e: f64, k: usize) -> Vec<f64> {
    let (mid, half) = ((s + e) / 2.0, (e - s) / 2.0);
    let xs: Vec<f64> = (0..=k).map(|j| mid + half * (j as f64 * std::f64::consts::PI / k as f64).cos()).collect();
    let ys: Vec<f64> = xs.iter().map(|&x| g(x)).collect();
    vandermonde_solve(&xs, &ys)
}

/// Raw scaled products stay below 2^HEADROOM_BITS (see [`coeff_scales`]). 61 gives NFGen the most coefficient
/// precision the ring allows (its cheapest fits); it needs the dealer-pair truncation securely, as do its powers at
/// the degree cap. With 48 (local-truncation-friendly) its fits need more pieces (SiLU 816 B instead of 560 B).
pub const HEADROOM_BITS: f64 = 61.0;

/// NFGen's per-coefficient scaling for a piece with max|x| = `max_abs`: the extra fractional bits s_j of the
/// coefficient of x^j, the largest with |c_j|·max_abs^j·2^(2f + s_j) < 2^[`HEADROOM_BITS`], at most min(30, 62 − 2f) (so the raw
/// product's scale 2f + s_j stays ≤ 62; s_0 = 0).
pub fn coeff_scales(fx: &FixedPoint, max_abs: f64, coeffs: &[f64]) -> Vec<u32> {
    let f = fx.frac_bits as f64;
    let lm = max_abs.max(1.0).log2();
    coeffs
        .iter()
        .enumerate()
        .map(|(j, &c)| {
            if j == 0 || c == 0.0 {
                return 0;
            }
            let room = HEADROOM_BITS - 2.0 * f - c.abs().log2() - j as f64 * lm;
            room.floor().clamp(0.0, 30f64.min(62.0 - 2.0 * f)) as u32
        })
        .collect()
}

/// ⌊c·2^bits⌉ as a ring element; |c|·2^bits must stay below 2^62.
pub fn encode_scaled(c: f64, bits: u32) -> Result<i64> {
    let v = c * 2f64.powi(bits as i32);
    if !v.is_finite() || v.abs() >= 2f64.powi(62) {
        return Err(ApproxError::FixedPointOverflow { value: c, frac_bits: bits, limit: 2f64.powi(62 - bits as i32) });
    }
    Ok(v.round() as i64)
}

/// Fixed-point value of Σ c_j x^j at an encoded x with per-coefficient scales: enc(c_0) +
/// Σ_{j≥1} (⌊c_j·2^(f+s_j)⌉·x^j) >> (f + s_j), powers by the power tree; exactly what
/// the secure NFGen programs compute. `None` when a coefficient does not encode.
pub fn scaled_poly(fx: &FixedPoint, coeffs: &[f64], scales: &[u32], x: i64) -> Option<i64> {
    let pows = fx.powers(x, coeffs.len() - 1);
    let mut acc = fx.encode(coeffs[0]).ok()?;
    for j in 1..coeffs.len() {
        if coeffs[j] != 0.0 {
            let shift = fx.frac_bits + scales[j];
            let c = encode_scaled(coeffs[j], shift).ok()?;
            acc = acc.wrapping_add(c.wrapping_mul(pows[j]) >> shift);
        }
    }
    Some(acc)
}

/// Checks that a piece's fixed-point evaluation cannot overflow Z_2^64 on [s, e]: every power |x|^j·2^f and every
/// term |c_j|·|x|^j·2^(2f) stays below 2^62. Returns the bits needed.
pub fn check_piece(fx: &FixedPoint, s: f64, e: f64, coeffs: &[f64]) -> std::result::Result<(), u32> {
    let m = s.abs().max(e.abs()).max(1.0).log2();
    let f = fx.frac_bits as f64;
    let mut needed: f64 = (coeffs.len().saturating_sub(1)) as f64 * m + f;
    for (j, &c) in coeffs.iter().enumerate() {
        if c != 0.0 {
            needed = needed.max(c.abs().max(1.0).log2() + j as f64 * m + 2.0 * f);
        }
    }
    let bits = needed.ceil() as u32;
    if bits > 62 { Err(bits) } else { Ok(()) }
}

impl Fitter<'_> {
    fn eval_f(&self, x: f64) -> f64 {
        let y = self.f.eval(x);
        if y.abs() <= self.cfg.zero_mask { 0.0 } else { y }
    }

    fn samples(&self, s: f64, e: f64) -> Vec<f64> {
        let by_lsb = ((e - s) * self.cfg.fx.scale()).floor().max(1.0) as usize;
        let n = self.cfg.max_samples.min(by_lsb).max(1);
        if n == 1 {
            return vec![round_to(s, self.decimal)];
        }
        (0..n).map(|i| round_to(s + (e - s) * i as f64 / (n - 1) as f64, self.decimal)).collect()
    }

    fn degree_cap(&self, s: f64, e: f64, k: usize) -> usize {
        let (n, f) = (self.cfg.ring_bits as f64, self.cfg.fx.frac_bits as f64);
        let max_abs = s.abs().max(e.abs());
        let mut cap = k;
        if max_abs > 1.0 {
            cap = cap.min(((n - f) / max_abs.log2()).floor() as usize);
        }
        let contains_zero = s <= 0.0 && e >= 0.0;
        let min_abs = s.abs().min(e.abs());
        if !contains_zero && min_abs < 1.0 && min_abs > 0.0 {
            cap = cap.min((f / -min_abs.log2()).floor() as usize);
        }
        cap.max(1)
    }

    fn clamp(&self, coeffs: &mut [f64]) {
        let bound = 2f64.powi(self.cfg.ring_bits as i32 - self.cfg.fx.frac_bits as i32 - 1);
        for c in coeffs.iter_mut() {
            *c = c.clamp(-bound, bound);
        }
    }

    /// Per-sample errors of `coeffs` (fixed-point emulation) and the largest, plus the largest squared error.
    fn errors(&self, xs: &[f64], ys: &[f64], coeffs: &[f64], scales: &[u32]) -> (f64, f64) {
        let fx = &self.cfg.fx;
        let floor = 10f64.powi(-self.decimal);
        let (mut max_e, mut max_sq) = (0.0f64, 0.0f64);
        for (&x, &y) in xs.iter().zip(ys) {
            let Ok(xe) = fx.encode(x) else { return (f64::INFINITY, f64::INFINITY) };
            let Some(v) = scaled_poly(fx, coeffs, scales, xe) else { return (f64::INFINITY, f64::INFINITY) };
            let yhat = fx.decode(v);
            let d = (yhat - y).abs();
            max_sq = max_sq.max(d * d);
            let err = if d <= floor {
                0.0
            } else if y > self.cfg.zero_mask {
                d / y
            } else {
                d
            };
            max_e = max_e.max(err);
        }
        (max_e, max_sq)
    }

    /// Fits degree ≤ k on [s, e] (steps 2–4).
    fn fit_piece(&self, s: f64, e: f64, k: usize) -> Piece {
        let xs = self.samples(s, e);
        let ys: Vec<f64> = xs.iter().map(|&x| self.eval_f(x)).collect();
        let k = self.degree_cap(s, e, k);
        let mut coeffs = if xs.len() > k + 1 {
            chebyshev_lobatto(|x| self.eval_f(x), s, e, k)
        } else {
            let mut u = xs.clone();
            u.dedup();
            let uy: Vec<f64> = u.iter().map(|&x| self.eval_f(x)).collect();
            vandermonde_solve(&u, &uy)
        };
        self.clamp(&mut coeffs);
        let max_abs = s.abs().max(e.abs());
        let mut scales = coeff_scales(&self.cfg.fx, max_abs, &coeffs);
        let (mut max_e, mut max_sq) = self.errors(&xs, &ys, &coeffs, &scales);
        // Residual boosting.
        if xs.len() > k + 1 {
            for d in (1..=k).rev() {
                let p = Polynomial::new(coeffs.clone());
                let corr = chebyshev_lobatto(|x| self.eval_f(x) - p.eval(x), s, e, d);
                let mut cand = coeffs.clone();
                for (j, c) in corr.iter().enumerate() {
                    cand[j] += c;
                }
                self.clamp(&mut cand);
                let cs = coeff_scales(&self.cfg.fx, max_abs, &cand);
                let (ce, csq) = self.errors(&xs, &ys, &cand, &cs);
                if csq < max_sq {
                    coeffs = cand;
                    scales = cs;
                    max_e = ce;
                    max_sq = csq;
                }
            }
        }
        Piece { s, e, coeffs, max_err: max_e, n_samples: xs.len(), scales }
    }

    /// FAC for one degree: bisect, then merge. `None` when more than 10 000 breakpoints are needed.
    fn fac(&self, k: usize) -> Option<Vec<Piece>> {
        let (a, b) = self.cfg.range;
        let mut stack = vec![(round_to(a, self.decimal), round_to(b, self.decimal))];
        let mut done = Vec::new();
        while let Some((s, e)) = stack.pop() {
            if round_to(s, self.decimal) == round_to(e, self.decimal) {
                continue;
            }
            let p = self.fit_piece(s, e, k);
            if p.max_err >= self.cfg.tol && p.n_samples > k + 1 {
                let mid = round_to((s + e) / 2.0, self.decimal);
                if mid <= s || mid >= e {
                    done.push(p);
                } else {
                    stack.push((mid, e));
                    stack.push((s, mid));
                }
            } else {
                done.push(p);
            }
            if done.len() + stack.len() > 10_000 {
                return None;
            }
        }
        done.sort_by(|x, y| x.s.total_cmp(&y.s));
        // Greedy merge from the left.
        let mut i = 0;
        while i + 1 < done.len() {
            let merged = self.fit_piece(done[i].s, done[i + 1].e, k);
            if merged.max_err < self.cfg.tol {
                done[i] = merged;
                done.remove(i + 1);
            } else {
                i += 1;
            }
        }
        Some(done)
    }
}

/// One degree's result.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// Degree k.
    pub k: usize,
    /// Pieces m inside (a, b).
    pub m: usize,
    /// NFGen's predicted Rep3 time (s).
    pub rep3_seconds: f64,
    /// Our bytes per party, sorted-breakpoint evaluation.
    pub bytes_sorted: Bytes,
    /// Largest fitting error (NFGen's metric) over all pieces.
    pub max_fit_error: f64,
    /// The approximation.
    pub pp: PiecewisePoly,
    /// Per-segment, per-coefficient extra fractional bits (tails included).
    pub scales: Vec<Vec<u32>>,
    /// Whether the Rep3 regression is increasing in m here (its fitted domain, m < (9.793e-4 + 1.6986e-4·k)/3.2e-6).
    pub in_rep3_domain: bool,
}

/// All candidates and both picks.
#[derive(Debug, Clone, Serialize)]
pub struct NfgenFit {
    /// Activation name.
    pub activation: String,
    /// The configuration used.
    pub config: NfgenConfig,
    /// One candidate per degree that succeeded.
    pub candidates: Vec<Candidate>,
    /// Index of NFGen's (Rep3) pick.
    pub pick_rep3: usize,
    /// Index of our cost model's pick.
    pub pick_ours: usize,
}

impl NfgenFit {
    /// The candidate the configuration's selection picks.
    pub fn picked(&self) -> &Candidate {
        match self.config.select {
            Selection::Rep3 => &self.candidates[self.pick_rep3],
            Selection::Ours => &self.candidates[self.pick_ours],
        }
    }
}

/// Runs NFGen's FAC for every degree and selects (k, m) both ways.
pub fn fit(f: &dyn Activation, cfg: &NfgenConfig) -> Result<NfgenFit> {
    let fitter = Fitter { f, cfg, decimal: cfg.decimal() };
    let model = TwoPartyCostModel::default();
    let (a, b) = cfg.range;
    let mut candidates = Vec::new();
    for k in cfg.k_min..=cfg.k_max {
        let Some(pieces) = fitter.fac(k) else { continue };
        for p in &pieces {
            if let Err(bits) = check_piece(&cfg.fx, p.s, p.e, &p.coeffs) {
                return Err(ApproxError::DegreeOverflow {
                    degree: p.coeffs.len() - 1,
                    max_abs: p.s.abs().max(p.e.abs()),
                    frac_bits: cfg.fx.frac_bits,
                    needed_bits: bits,
                });
            }
        }
        let mut breakpoints: Vec<f64> = pieces.iter().map(|p| p.s).collect();
        breakpoints.push(b);
        let polys: Vec<Polynomial> = pieces.iter().map(|p| Polynomial::new(p.coeffs.clone())).collect();
        let left = Tail::Constant { value: f.eval(a) };
        let right = Tail::Constant { value: f.eval(b) };
        let pp = PiecewisePoly::new(left, breakpoints, polys, right)?;
        let m = pieces.len();
        let mut scales = vec![vec![0]];
        scales.extend(pieces.iter().map(|p| p.scales.clone()));
        scales.push(vec![0]);
        candidates.push(Candidate {
            scales,
            in_rep3_domain: (m as f64) < (9.793e-4 + 1.6986e-4 * k as f64) / 3.2e-6,
            k,
            m,
            rep3_seconds: rep3_time(m, k),
            bytes_sorted: model.piecewise_cost(&pp).bytes_per_party,
            max_fit_error: pieces.iter().map(|p| p.max_err).fold(0.0, f64::max),
            pp,
        });
    }
    if candidates.is_empty() {
        return Err(ApproxError::InvalidParameter {
            name: "nfgen tol",
            value: cfg.tol.to_string(),
            hint: "no degree met the tolerance within 10 000 pieces; raise tol or narrow the range",
        });
    }
    let argmin = |key: &dyn Fn(&Candidate) -> f64| {
        (0..candidates.len()).min_by(|&i, &j| key(&candidates[i]).total_cmp(&key(&candidates[j]))).unwrap_or(0)
    };
    // Outside its fitted domain the quadratic regression turns negative for large m; such candidates rank last.
    let pick_rep3 = argmin(&|c| if c.in_rep3_domain { c.rep3_seconds } else { 1e9 + c.m as f64 });
    let pick_ours = argmin(&|c| c.bytes_sorted.get() as f64);
    Ok(NfgenFit { activation: f.name().into(), config: cfg.clone(), candidates, pick_rep3, pick_ours })
}
