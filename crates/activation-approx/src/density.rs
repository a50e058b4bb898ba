//! Input densities ρ of an activation's pre-activation values: uniform, normal (from a BatchNorm), empirical
//! (histogram of recorded values) and weighted mixtures of these.
//!
//! Every density implements [`Density`]: pdf ρ, cdf F, quantile F⁻¹, support, mean/std, the central interval holding a
//! given mass, and the expectation E_ρ(g) = ∫ g(x) ρ(x) dx of a piecewise-smooth g (used by the weighted error of
//! [`crate::metrics`]). How each computes E_ρ(g):
//! - **Uniform** on [a, b]: composite 8-point Gauss–Legendre on [a, b], split at the kinks of g, at most (b − a)/64 wide.
//! - **Normal** N(μ, σ²): 8-point Gauss–Legendre in x on [μ − 6σ, μ + 6σ] (cells ≤ σ/2, split at kinks); beyond ±6σ
//!   (mass 2·10⁻⁹) in probability space, ∫₀^{Φ(−6)} g(μ − σ·Φ⁻¹(1 − s)) ds per side, on the geometric chunks
//!   [Φ(−6)·2^{−k−1}, Φ(−6)·2^{−k}], k < 60, so the tails are included however g grows there.
//! - **Empirical** (histogram; ρ constant on each bin, zero outside): Gauss–Legendre per bin, split at kinks.
//! - **Mixture** Σ w_k ρ_k: Σ w_k E_{ρ_k}(g), each component with its own rule.
//!
//! [`DensitySpec`] is the closed set as one serde enum (JSON `{"kind": "normal", "mean": 0, "std": 1}`) and parses
//! the CLI strings `normal:MEAN,STD`, `uniform:A,B`, `mixture:W1@SPEC1;W2@SPEC2` and inline JSON (`{...}`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{ApproxError, Result};
use crate::quad::gl8;

/// A probability density on the real line.
pub trait Density: Send + Sync + fmt::Debug {
    /// Density ρ(x).
    fn pdf(&self, x: f64) -> f64;
    /// Distribution function F(x) = P(X ≤ x).
    fn cdf(&self, x: f64) -> f64;
    /// Quantile F⁻¹(p) for p ∈ [0, 1]; p = 0 and p = 1 give the support's ends (possibly infinite).
    fn quantile(&self, p: f64) -> f64;
    /// Smallest closed interval holding all the mass (ends may be infinite).
    fn support(&self) -> (f64, f64);
    /// Mean.
    fn mean(&self) -> f64;
    /// Standard deviation.
    fn std(&self) -> f64;
    /// E_ρ(g) = ∫ g(x) ρ(x) dx for g smooth between the sorted points `kinks` (see the module docs for the rule).
    fn expect(&self, g: &dyn Fn(f64) -> f64, kinks: &[f64]) -> f64;
    /// The central interval [F⁻¹((1 − mass)/2), F⁻¹((1 + mass)/2)], e.g. `mass = 0.999` for the central 99.9 %.
    fn central_interval(&self, mass: f64) -> (f64, f64) {
        let m = mass.clamp(0.0, 1.0);
        (self.quantile(0.5 * (1.0 - m)), self.quantile(0.5 * (1.0 + m)))
    }
}

use crate::limits::num;

fn invalid(spec: impl Into<String>, reason: impl Into<String>) -> ApproxError {
    ApproxError::InvalidDensity { spec: crate::limits::clip(&spec.into()), reason: crate::limits::clip_line(&reason.into()) }
}

fn check_finite(spec: &str, name: &str, v: f64) -> Result<()> {
    if v.is_finite() { Ok(()) } else { Err(invalid(spec, format!("{name} = {v} is not a finite number"))) }
}

// ---------------------------------------------------------------------------------------------------------------
// Uniform

/// Uniform density on [a, b], a < b.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "UniformRaw", into = "UniformRaw")]
pub struct Uniform {
    a: f64,
    b: f64,
}

#[derive(Serialize, Deserialize)]
struct UniformRaw {
    a: f64,
    b: f64,
}

impl TryFrom<UniformRaw> for Uniform {
    type Error = ApproxError;
    fn try_from(r: UniformRaw) -> Result<Self> {
        Uniform::new(r.a, r.b)
    }
}

impl From<Uniform> for UniformRaw {
    fn from(u: Uniform) -> Self {
        UniformRaw { a: u.a, b: u.b }
    }
}

impl Uniform {
    /// Uniform on [a, b]; a, b finite and a < b.
    pub fn new(a: f64, b: f64) -> Result<Self> {
        let spec = format!("uniform:{a},{b}");
        check_finite(&spec, "a", a)?;
        check_finite(&spec, "b", b)?;
        if a >= b {
            return Err(invalid(spec, format!("a = {} ≥ b = {}; need a < b", num(a), num(b))));
        }
        Ok(Uniform { a, b })
    }

    /// The interval (a, b).
    pub fn bounds(&self) -> (f64, f64) {
        (self.a, self.b)
    }
}

impl Density for Uniform {
    fn pdf(&self, x: f64) -> f64 {
        if x >= self.a && x <= self.b { 1.0 / (self.b - self.a) } else { 0.0 }
    }
    fn cdf(&self, x: f64) -> f64 {
        ((x - self.a) / (self.b - self.a)).clamp(0.0, 1.0)
    }
    fn quantile(&self, p: f64) -> f64 {
        self.a + p.clamp(0.0, 1.0) * (self.b - self.a)
    }
    fn support(&self) -> (f64, f64) {
        (self.a, self.b)
    }
    fn mean(&self) -> f64 {
        0.5 * (self.a + self.b)
    }
    fn std(&self) -> f64 {
        (self.b - self.a) / 12f64.sqrt()
    }
    fn expect(&self, g: &dyn Fn(f64) -> f64, kinks: &[f64]) -> f64 {
        let w = self.b - self.a;
        gl8().integrate_composite(self.a, self.b, kinks, w / 64.0, g) / w
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Normal

/// Normal density N(mean, std²), std > 0. From a BatchNorm layer: mean = β (shift), std = |γ| (scale).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "NormalRaw", into = "NormalRaw")]
pub struct Normal {
    mean: f64,
    std: f64,
}

#[derive(Serialize, Deserialize)]
struct NormalRaw {
    mean: f64,
    std: f64,
}

impl TryFrom<NormalRaw> for Normal {
    type Error = ApproxError;
    fn try_from(r: NormalRaw) -> Result<Self> {
        Normal::new(r.mean, r.std)
    }
}

impl From<Normal> for NormalRaw {
    fn from(n: Normal) -> Self {
        NormalRaw { mean: n.mean, std: n.std }
    }
}

/// Half-width, in standard deviations, of the region integrated in x; beyond it the tails go to probability space.
const NORMAL_X_SPAN: f64 = 6.0;

impl Normal {
    /// N(mean, std²); mean finite, std finite and > 0.
    pub fn new(mean: f64, std: f64) -> Result<Self> {
        let spec = format!("normal:{mean},{std}");
        check_finite(&spec, "mean", mean)?;
        check_finite(&spec, "std", std)?;
        if std <= 0.0 {
            return Err(invalid(spec, format!("std = {} ≤ 0; need std > 0", num(std))));
        }
        Ok(Normal { mean, std })
    }

    /// The density a BatchNorm layer's affine output has when its normalised input is N(0, 1):
    /// y = γ·x̂ + β ~ N(β, γ²). γ = 0 is an error (the output is constant).
    pub fn from_batchnorm(beta: f64, gamma: f64) -> Result<Self> {
        Normal::new(beta, gamma.abs())
            .map_err(|_| invalid(format!("batchnorm β={beta}, γ={gamma}"), "γ must be finite and non-zero"))
    }

    /// Maximum-likelihood fit (sample mean and standard deviation) of recorded values; needs ≥ 2 finite,
    /// not all equal.
    pub fn from_samples(samples: &[f64]) -> Result<Self> {
        let spec = format!("normal fitted to {} samples", samples.len());
        if samples.len() < 2 {
            return Err(invalid(spec, "need at least 2 samples"));
        }
        if let Some(i) = samples.iter().position(|v| !v.is_finite()) {
            return Err(invalid(spec, format!("sample {i} = {} is not finite", samples[i])));
        }
        let n = samples.len() as f64;
        let mean = samples.iter().sum::<f64>() / n;
        let var = samples.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        Normal::new(mean, var.sqrt()).map_err(|_| invalid(spec, "all samples are equal; the spread is 0"))
    }

    /// (mean, std).
    pub fn params(&self) -> (f64, f64) {
        (self.mean, self.std)
    }
}

/// Standard normal cdf Φ(z) = erfc(−z/√2)/2 (accurate in the far left tail).
pub fn std_normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// Standard normal quantile Φ⁻¹(p): Acklam's rational approximation (relative error 1.15e-9) refined by one Halley
/// step on erfc, giving close to full double precision. p ≤ 0 → −∞, p ≥ 1 → +∞.
pub fn std_normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] =
        [-5.447_609_879_822_406e1, 1.615_858_368_580_409e2, -1.556_989_798_598_866e2, 6.680_131_188_771_972e1, -1.328_068_155_288_572e1];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
    if p.is_nan() {
        return f64::NAN;
    }
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    const P_LOW: f64 = 0.02425;
    let x = if p < P_LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    };
    if x.abs() > 37.0 {
        return x;
    }
    // One Halley step. In the upper half use the survival function to avoid cancellation.
    // Φ(x) − p; in the upper half as (1 − p) − Φ(−x) to avoid cancellation.
    let e = if x <= 0.0 { std_normal_cdf(x) - p } else { (1.0 - p) - std_normal_cdf(-x) };
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (0.5 * x * x).exp();
    x - u / (1.0 + 0.5 * x * u)
}

/// Gauss–Legendre nodes in probability space for the standard normal's left tail below −6: (Φ⁻¹(s), weight) over the
/// geometric chunks of the module docs.
fn normal_tail_nodes() -> &'static [(f64, f64)] {
    static NODES: std::sync::OnceLock<Vec<(f64, f64)>> = std::sync::OnceLock::new();
    NODES.get_or_init(|| {
        let rule = crate::quad::GaussLegendre::new(4);
        let mut out = Vec::new();
        let mut top = std_normal_cdf(-NORMAL_X_SPAN);
        for _ in 0..16 {
            let bottom = top / 8.0;
            let (h, c) = (0.5 * (top - bottom), 0.5 * (top + bottom));
            for (&t, &w) in rule.nodes.iter().zip(&rule.weights) {
                out.push((std_normal_quantile(c + h * t), h * w));
            }
            top = bottom;
        }
        out
    })
}

impl Density for Normal {
    fn pdf(&self, x: f64) -> f64 {
        let z = (x - self.mean) / self.std;
        (-0.5 * z * z).exp() / (self.std * (2.0 * std::f64::consts::PI).sqrt())
    }
    fn cdf(&self, x: f64) -> f64 {
        std_normal_cdf((x - self.mean) / self.std)
    }
    fn quantile(&self, p: f64) -> f64 {
        self.mean + self.std * std_normal_quantile(p)
    }
    fn support(&self) -> (f64, f64) {
        (f64::NEG_INFINITY, f64::INFINITY)
    }
    fn mean(&self) -> f64 {
        self.mean
    }
    fn std(&self) -> f64 {
        self.std
    }
    fn central_interval(&self, mass: f64) -> (f64, f64) {
        let z = -std_normal_quantile(0.5 * (1.0 - mass.clamp(0.0, 1.0)));
        (self.mean - self.std * z, self.mean + self.std * z)
    }
    fn expect(&self, g: &dyn Fn(f64) -> f64, kinks: &[f64]) -> f64 {
        let (mu, s) = (self.mean, self.std);
        let (lo, hi) = (mu - NORMAL_X_SPAN * s, mu + NORMAL_X_SPAN * s);
        let core = gl8().integrate_composite(lo, hi, kinks, 0.5 * s, &|x| g(x) * self.pdf(x));
        // Tails in probability space: X = μ + σ·Φ⁻¹(s) on the left (s = F(x)), mirrored on the right with
        // s = 1 − F(x); the (z, weight) nodes are the same for every normal and cached.
        let tails: f64 = normal_tail_nodes().iter().map(|&(z, w)| w * (g(mu + s * z) + g(mu - s * z))).sum();
        core + tails
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Empirical

/// Histogram density: bin i holds mass `counts[i] / Σ counts` spread uniformly over `[edges[i], edges[i+1])`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "EmpiricalRaw", into = "EmpiricalRaw")]
pub struct Empirical {
    edges: Vec<f64>,
    counts: Vec<f64>,
    /// Cumulative probability at each edge (len = edges.len()).
    cum: Vec<f64>,
    total: f64,
}

#[derive(Serialize, Deserialize)]
struct EmpiricalRaw {
    edges: Vec<f64>,
    counts: Vec<f64>,
}

impl TryFrom<EmpiricalRaw> for Empirical {
    type Error = ApproxError;
    fn try_from(r: EmpiricalRaw) -> Result<Self> {
        Empirical::from_histogram(r.edges, r.counts)
    }
}

impl From<Empirical> for EmpiricalRaw {
    fn from(e: Empirical) -> Self {
        EmpiricalRaw { edges: e.edges, counts: e.counts }
    }
}

impl Empirical {
    /// From bin edges (n + 1, finite, strictly increasing) and counts (n, finite, ≥ 0, not all zero).
    pub fn from_histogram(edges: Vec<f64>, counts: Vec<f64>) -> Result<Self> {
        let spec = format!("empirical histogram ({} edges, {} counts)", edges.len(), counts.len());
        if counts.is_empty() || edges.len() < 2 {
            return Err(invalid(spec, "the histogram is empty; need at least one bin with positive count"));
        }
        if edges.len() != counts.len() + 1 {
            return Err(invalid(spec, "need exactly one more edge than counts"));
        }
        if counts.len() > crate::limits::MAX_BINS {
            return Err(invalid(spec, format!("{} bins exceed the cap of {} (limits::MAX_BINS); use fewer bins", counts.len(), crate::limits::MAX_BINS)));
        }
        if let Some(i) = edges.iter().position(|v| !v.is_finite()) {
            return Err(invalid(spec, format!("edge {i} = {} is not finite", edges[i])));
        }
        if let Some(w) = edges.windows(2).find(|w| w[0] >= w[1]) {
            return Err(invalid(spec, format!("edges not strictly increasing at {} ≥ {}", num(w[0]), num(w[1]))));
        }
        if let Some(i) = counts.iter().position(|c| !c.is_finite() || *c < 0.0) {
            return Err(invalid(spec, format!("count {i} = {} must be finite and ≥ 0", num(counts[i]))));
        }
        let total: f64 = counts.iter().sum();
        if total <= 0.0 {
            return Err(invalid(spec, "the histogram is empty (all counts are 0); record some values first"));
        }
        let mut cum = Vec::with_capacity(edges.len());
        let mut acc = 0.0;
        cum.push(0.0);
        for c in &counts {
            acc += c;
            cum.push(acc / total);
        }
        if let Some(last) = cum.last_mut() {
            *last = 1.0;
        }
        Ok(Empirical { edges, counts, cum, total })
    }

    /// Histogram of recorded values with `n_bins` equal bins over [min, max]. Errors: no samples, a NaN/∞ sample,
    /// all samples equal, `n_bins` = 0.
    pub fn from_samples(samples: &[f64], n_bins: usize) -> Result<Self> {
        let spec = format!("empirical from {} samples, {n_bins} bins", samples.len());
        if samples.is_empty() {
            return Err(invalid(spec, "the histogram is empty: no samples recorded"));
        }
        if n_bins == 0 {
            return Err(invalid(spec, "n_bins = 0; need at least 1 bin"));
        }
        if n_bins > crate::limits::MAX_BINS {
            return Err(invalid(spec, format!("{n_bins} bins exceed the cap of {} (limits::MAX_BINS); use fewer bins", crate::limits::MAX_BINS)));
        }
        if let Some(i) = samples.iter().position(|v| !v.is_finite()) {
            return Err(invalid(spec, format!("sample {i} = {} is not finite", samples[i])));
        }
        let lo = samples.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = samples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if lo >= hi {
            return Err(invalid(spec, format!("all samples equal {}; a histogram needs spread", num(lo))));
        }
        let w = (hi - lo) / n_bins as f64;
        let edges: Vec<f64> = (0..=n_bins).map(|i| if i == n_bins { hi } else { lo + i as f64 * w }).collect();
        let mut counts = vec![0.0; n_bins];
        for &v in samples {
            let i = (((v - lo) / w) as usize).min(n_bins - 1);
            counts[i] += 1.0;
        }
        Empirical::from_histogram(edges, counts)
    }

    /// Bin edges.
    pub fn edges(&self) -> &[f64] {
        &self.edges
    }

    /// Bin counts.
    pub fn counts(&self) -> &[f64] {
        &self.counts
    }

    fn bin_prob(&self, i: usize) -> f64 {
        self.counts[i] / self.total
    }
}

impl Density for Empirical {
    fn pdf(&self, x: f64) -> f64 {
        let n = self.counts.len();
        if x < self.edges[0] || x > self.edges[n] {
            return 0.0;
        }
        let i = self.edges.partition_point(|&e| e <= x).saturating_sub(1).min(n - 1);
        self.bin_prob(i) / (self.edges[i + 1] - self.edges[i])
    }
    fn cdf(&self, x: f64) -> f64 {
        let n = self.counts.len();
        if x <= self.edges[0] {
            return 0.0;
        }
        if x >= self.edges[n] {
            return 1.0;
        }
        let i = self.edges.partition_point(|&e| e <= x).saturating_sub(1).min(n - 1);
        let t = (x - self.edges[i]) / (self.edges[i + 1] - self.edges[i]);
        self.cum[i] + t * (self.cum[i + 1] - self.cum[i])
    }
    fn quantile(&self, p: f64) -> f64 {
        let p = p.clamp(0.0, 1.0);
        // First bin whose cumulative end reaches p and that has mass.
        let n = self.counts.len();
        for i in 0..n {
            if self.counts[i] > 0.0 && self.cum[i + 1] >= p {
                let t = ((p - self.cum[i]) / (self.cum[i + 1] - self.cum[i])).clamp(0.0, 1.0);
                return self.edges[i] + t * (self.edges[i + 1] - self.edges[i]);
            }
        }
        self.edges[n]
    }
    fn support(&self) -> (f64, f64) {
        let first = self.counts.iter().position(|&c| c > 0.0).unwrap_or(0);
        let last = self.counts.iter().rposition(|&c| c > 0.0).unwrap_or(self.counts.len() - 1);
        (self.edges[first], self.edges[last + 1])
    }
    fn mean(&self) -> f64 {
        (0..self.counts.len()).map(|i| self.bin_prob(i) * 0.5 * (self.edges[i] + self.edges[i + 1])).sum()
    }
    fn std(&self) -> f64 {
        let m = self.mean();
        // E[X²] of a uniform bin [l, r] is (l² + l·r + r²)/3.
        let ex2: f64 = (0..self.counts.len())
            .map(|i| {
                let (l, r) = (self.edges[i], self.edges[i + 1]);
                self.bin_prob(i) * (l * l + l * r + r * r) / 3.0
            })
            .sum();
        (ex2 - m * m).max(0.0).sqrt()
    }
    fn expect(&self, g: &dyn Fn(f64) -> f64, kinks: &[f64]) -> f64 {
        let span = self.edges[self.counts.len()] - self.edges[0];
        let mut total = 0.0;
        for i in 0..self.counts.len() {
            if self.counts[i] == 0.0 {
                continue;
            }
            let (l, r) = (self.edges[i], self.edges[i + 1]);
            let dens = self.bin_prob(i) / (r - l);
            total += dens * gl8().integrate_composite(l, r, kinks, span / 64.0, g);
        }
        total
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Mixture

/// A weighted mixture Σ w_k ρ_k (weights normalised to sum 1 on construction).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "MixtureRaw", into = "MixtureRaw")]
pub struct Mixture {
    components: Vec<(f64, DensitySpec)>,
}

#[derive(Serialize, Deserialize)]
struct MixtureRaw {
    components: Vec<WeightedComponent>,
}

#[derive(Serialize, Deserialize)]
struct WeightedComponent {
    weight: f64,
    density: DensitySpec,
}

impl TryFrom<MixtureRaw> for Mixture {
    type Error = ApproxError;
    fn try_from(r: MixtureRaw) -> Result<Self> {
        Mixture::new(r.components.into_iter().map(|c| (c.weight, c.density)).collect())
    }
}

impl From<Mixture> for MixtureRaw {
    fn from(m: Mixture) -> Self {
        MixtureRaw {
            components: m.components.into_iter().map(|(weight, density)| WeightedComponent { weight, density }).collect(),
        }
    }
}

impl Mixture {
    /// Σ w_k ρ_k from (weight, density) pairs: at least one, weights finite, ≥ 0, positive sum (normalised here).
    pub fn new(components: Vec<(f64, DensitySpec)>) -> Result<Self> {
        let spec = format!("mixture of {} components", components.len());
        if components.is_empty() {
            return Err(invalid(spec, "a mixture needs at least one component"));
        }
        if components.len() > crate::limits::MAX_MIXTURE_COMPONENTS {
            return Err(invalid(spec, format!("more than {} components (limits::MAX_MIXTURE_COMPONENTS)", crate::limits::MAX_MIXTURE_COMPONENTS)));
        }
        if let Some((w, _)) = components.iter().find(|(w, _)| !w.is_finite() || *w < 0.0) {
            return Err(invalid(spec, format!("weight {} must be finite and ≥ 0", num(*w))));
        }
        let total: f64 = components.iter().map(|(w, _)| w).sum();
        if total <= 0.0 {
            return Err(invalid(spec, "weights sum to 0; give at least one positive weight"));
        }
        let components = components.into_iter().filter(|(w, _)| *w > 0.0).map(|(w, d)| (w / total, d)).collect();
        Ok(Mixture { components })
    }

    /// The input density of an activation fed by a BatchNorm layer with per-channel shifts β_c and scales γ_c:
    /// the equal-weight mixture of N(β_c, γ_c²) (each channel's normalised input taken as N(0, 1)). Errors: no
    /// channels, unequal lengths, a non-finite value or γ_c = 0.
    pub fn from_batchnorm_channels(betas: &[f64], gammas: &[f64]) -> Result<Self> {
        let spec = format!("batchnorm with {} β and {} γ", betas.len(), gammas.len());
        if betas.is_empty() || betas.len() != gammas.len() {
            return Err(invalid(spec, "need one γ per β and at least one channel"));
        }
        let comps = betas
            .iter()
            .zip(gammas)
            .map(|(&b, &g)| Normal::from_batchnorm(b, g).map(|n| (1.0, DensitySpec::Normal(n))))
            .collect::<Result<Vec<_>>>()?;
        Mixture::new(comps)
    }

    /// The (normalised weight, component) pairs.
    pub fn components(&self) -> &[(f64, DensitySpec)] {
        &self.components
    }
}

impl Density for Mixture {
    fn pdf(&self, x: f64) -> f64 {
        self.components.iter().map(|(w, d)| w * d.pdf(x)).sum()
    }
    fn cdf(&self, x: f64) -> f64 {
        self.components.iter().map(|(w, d)| w * d.cdf(x)).sum::<f64>().clamp(0.0, 1.0)
    }
    fn quantile(&self, p: f64) -> f64 {
        let (slo, shi) = self.support();
        if p <= 0.0 {
            return slo;
        }
        if p >= 1.0 {
            return shi;
        }
        // The mixture quantile lies between the components' quantiles at p; bisect the cdf there.
        let qs = self.components.iter().map(|(_, d)| d.quantile(p));
        let (mut lo, mut hi) = qs.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), q| (l.min(q), h.max(q)));
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            if self.cdf(mid) < p {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }
    fn support(&self) -> (f64, f64) {
        self.components.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), (_, d)| {
            let (a, b) = d.support();
            (l.min(a), h.max(b))
        })
    }
    fn mean(&self) -> f64 {
        self.components.iter().map(|(w, d)| w * d.mean()).sum()
    }
    fn std(&self) -> f64 {
        let m = self.mean();
        let ex2: f64 = self.components.iter().map(|(w, d)| w * (d.std().powi(2) + d.mean().powi(2))).sum();
        (ex2 - m * m).max(0.0).sqrt()
    }
    fn expect(&self, g: &dyn Fn(f64) -> f64, kinks: &[f64]) -> f64 {
        self.components.iter().map(|(w, d)| w * d.expect(g, kinks)).sum()
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The closed set

/// Any density of this module, as one serde enum (`{"kind": "normal", "mean": 0.0, "std": 1.0}`) that parses from
/// CLI strings (see [`DensitySpec::from_str`]) and implements [`Density`] itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DensitySpec {
    /// Uniform on [a, b].
    Uniform(Uniform),
    /// N(mean, std²).
    Normal(Normal),
    /// Histogram.
    Empirical(Empirical),
    /// Weighted mixture.
    Mixture(Mixture),
}

impl DensitySpec {
    /// N(0, 1): what a BatchNorm with γ = 1, β = 0 feeds an activation.
    pub fn standard_normal() -> Self {
        DensitySpec::Normal(Normal { mean: 0.0, std: 1.0 })
    }

    fn inner(&self) -> &dyn Density {
        match self {
            DensitySpec::Uniform(d) => d,
            DensitySpec::Normal(d) => d,
            DensitySpec::Empirical(d) => d,
            DensitySpec::Mixture(d) => d,
        }
    }

    /// Parses a CLI string; see the [`FromStr`] impl for the grammar.
    pub fn parse(s: &str) -> Result<Self> {
        s.parse()
    }
}

impl Density for DensitySpec {
    fn pdf(&self, x: f64) -> f64 {
        self.inner().pdf(x)
    }
    fn cdf(&self, x: f64) -> f64 {
        self.inner().cdf(x)
    }
    fn quantile(&self, p: f64) -> f64 {
        self.inner().quantile(p)
    }
    fn support(&self) -> (f64, f64) {
        self.inner().support()
    }
    fn mean(&self) -> f64 {
        self.inner().mean()
    }
    fn std(&self) -> f64 {
        self.inner().std()
    }
    fn expect(&self, g: &dyn Fn(f64) -> f64, kinks: &[f64]) -> f64 {
        self.inner().expect(g, kinks)
    }
    fn central_interval(&self, mass: f64) -> (f64, f64) {
        self.inner().central_interval(mass)
    }
}

const GRAMMAR: &str = "use normal:MEAN,STD | uniform:A,B | mixture:W1@SPEC1;W2@SPEC2 | inline JSON {\"kind\": …}";

fn parse_pair(full: &str, args: &str, names: [&str; 2]) -> Result<(f64, f64)> {
    let parts: Vec<&str> = args.split(',').map(str::trim).collect();
    if parts.len() != 2 {
        return Err(invalid(full, format!("expected 2 comma-separated numbers {}, {}; {GRAMMAR}", names[0], names[1])));
    }
    let num = |i: usize| -> Result<f64> {
        let v: f64 =
            parts[i].parse().map_err(|_| invalid(full, format!("{} = '{}' is not a number", names[i], parts[i])))?;
        check_finite(full, names[i], v)?;
        Ok(v)
    };
    Ok((num(0)?, num(1)?))
}

impl FromStr for DensitySpec {
    type Err = ApproxError;

    /// Grammar (case-insensitive kind names):
    /// - `normal:MEAN,STD` (also `gauss:`/`n:`), e.g. `normal:0,1`;
    /// - `uniform:A,B` (also `u:`), e.g. `uniform:-8,8`;
    /// - `mixture:W1@SPEC1;W2@SPEC2;…` (also `mix:`), e.g. `mix:0.7@normal:0,1;0.3@uniform:-4,4`;
    /// - inline JSON of the serde form, starting with `{` (the only way to give a histogram on the command line).
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        if t.starts_with('{') {
            return serde_json::from_str(t).map_err(|e| invalid(s, format!("bad JSON density: {e}")));
        }
        let Some((kind, args)) = t.split_once(':') else {
            return Err(invalid(s, format!("missing ':' after the kind; {GRAMMAR}")));
        };
        match kind.trim().to_ascii_lowercase().as_str() {
            "normal" | "gauss" | "gaussian" | "n" => {
                let (m, sd) = parse_pair(s, args, ["mean", "std"])?;
                Ok(DensitySpec::Normal(Normal::new(m, sd)?))
            }
            "uniform" | "u" => {
                let (a, b) = parse_pair(s, args, ["a", "b"])?;
                Ok(DensitySpec::Uniform(Uniform::new(a, b)?))
            }
            "mixture" | "mix" => {
                let mut comps = Vec::new();
                for part in args.split(';').filter(|p| !p.trim().is_empty()) {
                    let Some((w, spec)) = part.split_once('@') else {
                        return Err(invalid(s, format!("mixture component '{part}' lacks 'WEIGHT@'; {GRAMMAR}")));
                    };
                    let w: f64 =
                        w.trim().parse().map_err(|_| invalid(s, format!("mixture weight '{w}' is not a number")))?;
                    let d: DensitySpec = spec.parse()?;
                    if matches!(d, DensitySpec::Mixture(_)) {
                        return Err(invalid(s, "nested mixtures are not supported on the command line; use JSON"));
                    }
                    comps.push((w, d));
                }
                Ok(DensitySpec::Mixture(Mixture::new(comps)?))
            }
            other => Err(invalid(s, format!("unknown density kind '{other}'; {GRAMMAR}"))),
        }
    }
}

impl fmt::Display for DensitySpec {
    /// The CLI form for normal, uniform and mixtures thereof; compact JSON when a histogram is involved.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn has_hist(d: &DensitySpec) -> bool {
            match d {
                DensitySpec::Empirical(_) => true,
                DensitySpec::Mixture(m) => m.components.iter().any(|(_, c)| has_hist(c)),
                _ => false,
            }
        }
        if has_hist(self) {
            let json = serde_json::to_string(self).map_err(|_| fmt::Error)?;
            return f.write_str(&json);
        }
        match self {
            DensitySpec::Uniform(u) => write!(f, "uniform:{},{}", u.a, u.b),
            DensitySpec::Normal(n) => write!(f, "normal:{},{}", n.mean, n.std),
            DensitySpec::Mixture(m) => {
                write!(f, "mixture:")?;
                for (i, (w, d)) in m.components.iter().enumerate() {
                    if i > 0 {
                        write!(f, ";")?;
                    }
                    write!(f, "{w}@{d}")?;
                }
                Ok(())
            }
            DensitySpec::Empirical(_) => Ok(()),
        }
    }
}

impl From<Normal> for DensitySpec {
    fn from(d: Normal) -> Self {
        DensitySpec::Normal(d)
    }
}
impl From<Uniform> for DensitySpec {
    fn from(d: Uniform) -> Self {
        DensitySpec::Uniform(d)
    }
}
impl From<Empirical> for DensitySpec {
    fn from(d: Empirical) -> Self {
        DensitySpec::Empirical(d)
    }
}
impl From<Mixture> for DensitySpec {
    fn from(d: Mixture) -> Self {
        DensitySpec::Mixture(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trapezoid sum of g·ρ on a fine grid over [lo, hi]: the independent check of `expect`.
    fn dense(d: &dyn Density, g: &dyn Fn(f64) -> f64, lo: f64, hi: f64, n: usize) -> f64 {
        let h = (hi - lo) / n as f64;
        (0..=n)
            .map(|i| {
                let x = lo + i as f64 * h;
                let w = if i == 0 || i == n { 0.5 } else { 1.0 };
                w * g(x) * d.pdf(x)
            })
            .sum::<f64>()
            * h
    }

    #[test]
    fn normal_quantile_inverts_cdf() {
        for &p in &[1e-300, 1e-20, 1e-9, 0.001, 0.02425, 0.3, 0.5, 0.77, 0.999, 1.0 - 1e-12] {
            let z = std_normal_quantile(p);
            let back = std_normal_cdf(z);
            assert!(((back - p) / p.min(1.0 - p).max(1e-300)).abs() < 1e-9 || (back - p).abs() < 1e-15, "p={p} z={z}");
        }
        assert!((std_normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-12);
        let n = Normal::new(0.0, 1.0).unwrap();
        let (a, b) = n.central_interval(0.999);
        assert!((b - 3.290_526_731_491_926).abs() < 1e-9 && (a + b).abs() < 1e-12);
    }

    #[test]
    fn expectations_match_dense_grid() {
        let g = |x: f64| (x - 0.3).abs() * (1.0 + 0.1 * x * x);
        let dens: Vec<DensitySpec> = vec![
            "normal:0.5,1.3".parse().unwrap(),
            "uniform:-2,3".parse().unwrap(),
            "mix:0.6@normal:0,1;0.4@uniform:-1,4".parse().unwrap(),
            Empirical::from_histogram(vec![-1.0, 0.0, 0.5, 2.0], vec![1.0, 3.0, 2.0]).unwrap().into(),
        ];
        for d in &dens {
            let q = d.expect(&g, &[0.3]);
            let r = dense(d, &g, -15.0, 15.0, 600_000);
            // The trapezoid sum is first-order at the pdf's jumps (uniform, histogram): 1e-4 relative is its accuracy there.
            assert!(((q - r) / r).abs() < 1e-4, "{d}: quad {q} vs dense {r}");
        }
    }

    #[test]
    fn normal_tails_are_included() {
        // g that is zero inside ±6σ: all of E[g] comes from the probability-space tails.
        let n = Normal::new(0.0, 1.0).unwrap();
        let g = |x: f64| if x.abs() > 6.0 { x.abs() - 6.0 } else { 0.0 };
        let q = n.expect(&g, &[-6.0, 6.0]);
        // Exact: 2·(φ(6) − 6·(1 − Φ(6))).
        let phi6 = (-18.0f64).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let exact = 2.0 * (phi6 - 6.0 * std_normal_cdf(-6.0));
        assert!(((q - exact) / exact).abs() < 1e-3, "{q} vs {exact}");
    }

    #[test]
    fn empirical_from_samples_and_moments() {
        let samples: Vec<f64> = (0..1000).map(|i| (i as f64 / 999.0) * 4.0 - 2.0).collect();
        let e = Empirical::from_samples(&samples, 20).unwrap();
        assert!(e.mean().abs() < 1e-9);
        assert!((e.std() - 4.0 / 12f64.sqrt()).abs() < 1e-2);
        assert!((e.quantile(0.25) + 1.0).abs() < 1e-2);
        assert!((e.cdf(e.quantile(0.6)) - 0.6).abs() < 1e-12);
        let n = Normal::from_samples(&samples).unwrap();
        assert!((n.params().1 - e.std()).abs() < 1e-2);
    }

    #[test]
    fn mixture_quantile_and_cdf() {
        let m: DensitySpec = "mixture:1@normal:-2,0.5;3@normal:2,1".parse().unwrap();
        for &p in &[0.01, 0.25, 0.5, 0.9] {
            assert!((m.cdf(m.quantile(p)) - p).abs() < 1e-10);
        }
        assert!((m.mean() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn batchnorm_channel_mixture() {
        let m = Mixture::from_batchnorm_channels(&[0.0, 1.0, -1.0], &[1.0, -0.5, 2.0]).unwrap();
        assert!((m.mean() - 0.0).abs() < 1e-12);
        let var = (1.0 + 0.25 + 4.0) / 3.0 + (0.0 + 1.0 + 1.0) / 3.0;
        assert!((m.std() - f64::sqrt(var)).abs() < 1e-12);
        assert!(Mixture::from_batchnorm_channels(&[0.0], &[0.0]).unwrap_err().to_string().contains("γ=0"));
        assert!(Mixture::from_batchnorm_channels(&[0.0, 1.0], &[1.0]).is_err());
    }

    #[test]
    fn parse_roundtrip_and_json() {
        for s in ["normal:0,1", "uniform:-8,8", "mixture:0.25@normal:0,1;0.75@uniform:-1,1"] {
            let d: DensitySpec = s.parse().unwrap();
            assert_eq!(d.to_string(), s);
            let json = serde_json::to_string(&d).unwrap();
            let back: DensitySpec = serde_json::from_str(&json).unwrap();
            assert_eq!(back, d);
        }
        let h: DensitySpec =
            r#"{"kind":"empirical","edges":[0,1,2],"counts":[1,3]}"#.parse().unwrap();
        assert!((h.cdf(1.0) - 0.25).abs() < 1e-15);
        assert_eq!(h.to_string().parse::<DensitySpec>().unwrap(), h);
    }

    #[test]
    fn bad_densities_name_the_value() {
        let cases = [
            ("normal:0,0", "std = 0"),
            ("normal:0,-1", "std = -1"),
            ("uniform:3,3", "a = 3 ≥ b = 3"),
            ("uniform:5,-1", "a = 5 ≥ b = -1"),
            ("normal:nan,1", "mean = NaN"),
            ("normal:x,1", "'x' is not a number"),
            ("normal:0", "2 comma-separated"),
            ("cauchy:0,1", "unknown density kind 'cauchy'"),
            ("normal", "missing ':'"),
            (r#"{"kind":"empirical","edges":[0,1],"counts":[0]}"#, "empty"),
            (r#"{"kind":"normal","mean":0,"std":-2}"#, "std = -2"),
        ];
        for (s, want) in cases {
            let err = s.parse::<DensitySpec>().unwrap_err().to_string();
            assert!(err.contains(want), "{s}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
        assert!(Empirical::from_samples(&[], 10).unwrap_err().to_string().contains("empty"));
        assert!(Empirical::from_samples(&[1.0, f64::NAN], 10).unwrap_err().to_string().contains("NaN"));
        assert!(Empirical::from_histogram(vec![], vec![]).unwrap_err().to_string().contains("empty"));
        assert!(Normal::from_batchnorm(0.0, 0.0).is_err());
        assert!(Mixture::new(vec![]).is_err());
    }
}
