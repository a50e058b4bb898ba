//! NFGen's secure evaluation (Fan et al., "NFGen: Automatic Non-linear Function Evaluation Code Generator for
//! General-purpose MPC Platforms", ACM CCS 2022, §5 code templates) of the spline its FAC algorithm fits
//! (`activation_approx::nfgen`, §4 Algorithms 1–2).
//!
//! NFGen encodes each coefficient c_j with s_j extra fractional bits (its per-coefficient scaling, which keeps small
//! high-order coefficients precise) and truncates each term ⌊c_j·2^(f+s_j)⌉·x^j by f + s_j: ONE truncation per term
//! (`Evaluator::truncate_bits`; under dealer-pair truncation one pair (r, r >> (f + s_j)), 1 round, 8 B; under local
//! truncation one shift). The powers come from the shared power tree, only those a nonzero term uses.
//!
//! - `nfgen`: NFGen's own template: the m + 1 comparisons in one batch, the one-hot vector e_0 = 1 − b_0,
//!   e_s = b_{s−1}·(1 − b_s) (one round of products), e_{m+1} = b_m, then the dot product Σ_s e_s·Y_s (one round);
//!   a constant segment (NFGen's constant tails) is a public multiple of its indicator, no product.
//! - `nfgen-sorted`: the same spline by the sorted-breakpoint selection Y_0 + Σ b_i·(Y_{i+1} − Y_i) (one round).
//!
//! The comparison branch and the power/term branch run side by side (`Evaluator::parallel`). Y_s is at scale f
//! (each term already truncated), so the selection products need no further truncation. NFGen's coefficients put
//! raw products near 2^61 by design (maximal precision), so under local truncation its failure bound is large: the
//! method's hint ([`crate::Method::needs`]) is dealer-pair truncation, and both are priced.

use activation_approx::nfgen::{self, NfgenConfig, Selection, encode_scaled};
use activation_approx::{FixedPoint, PiecewisePoly, Truncation};
use mpc_sim::{Evaluator, MpcError};

use crate::method::{Method, MethodInfo, Program, SecureMethod};
use crate::registry::{BuildContext, MethodSpec, Options, Result};

/// Registry entry: NFGen with its own one-hot protocol.
pub const SPEC_ONEHOT: MethodSpec =
    MethodSpec { name: "nfgen", about: "NFGen FAC fit, NFGen one-hot protocol", activations: &[], build: build_onehot };

/// Registry entry: the NFGen fit evaluated by sorted breakpoints.
pub const SPEC_SORTED: MethodSpec = MethodSpec {
    name: "nfgen-sorted",
    about: "NFGen FAC fit, sorted-breakpoint protocol",
    activations: &[],
    build: build_sorted,
};

/// How the segment is selected securely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Sorted-breakpoint telescoping selection.
    Sorted,
    /// NFGen's one-hot vector and dot product.
    OneHot,
}

/// Reads NFGen's options `tol`, `range` ([a, b]), `ring_bits`, `k_min`, `k_max`, `max_samples`, `zero_mask`,
/// `select` from a context.
pub fn config_from_context(method: &str, ctx: &BuildContext) -> Result<NfgenConfig> {
    let o = Options::new(
        method,
        &ctx.config,
        &["tol", "range", "ring_bits", "k_min", "k_max", "max_samples", "zero_mask", "select"],
    )?;
    let d = NfgenConfig::default();
    let tol = o.f64("tol", d.tol, |t| t > 0.0 && t < 1.0, "tolerance must lie in (0, 1)")?;
    let range = match o.f64_list("range")? {
        None => d.range,
        Some(v) if v.len() == 2 && v[0] < v[1] && v[0].abs() <= 1024.0 && v[1].abs() <= 1024.0 => (v[0], v[1]),
        Some(v) => return Err(o.bad("range", format!("{v:?}"), "expected [a, b] with a < b and |a|, |b| ≤ 1024")),
    };
    let f = ctx.fx.frac_bits as usize;
    let ring_bits = o.usize("ring_bits", d.ring_bits as usize, f + 2, 63 - f)? as u32;
    let k_min = o.usize("k_min", d.k_min, 1, 12)?;
    let k_max = o.usize("k_max", d.k_max, k_min, 12)?;
    let max_samples = o.usize("max_samples", d.max_samples, 16, 100_000)?;
    let zero_mask = o.f64("zero_mask", d.zero_mask, |z| (0.0..1.0).contains(&z), "zero_mask must lie in [0, 1)")?;
    let select = match o.choice("select", "rep3", &["rep3", "ours"])?.as_str() {
        "ours" => Selection::Ours,
        _ => Selection::Rep3,
    };
    Ok(NfgenConfig { tol, range, ring_bits, fx: ctx.fx, k_min, k_max, max_samples, zero_mask, select })
}

/// NFGen's fitted spline with its per-coefficient scales, and the selection protocol.
#[derive(Debug, Clone)]
pub struct NfgenMethod {
    /// Method name.
    pub name: String,
    /// Activation.
    pub activation: String,
    /// Citation (with the picked k, m).
    pub citation: String,
    /// The spline.
    pub pp: PiecewisePoly,
    /// `scales[segment][j]`: extra fractional bits of the coefficient of x^j (tails included).
    pub scales: Vec<Vec<u32>>,
    /// Selection protocol.
    pub protocol: Protocol,
    /// Fixed point.
    pub fx: FixedPoint,
}

/// One segment: enc(c_0) at scale f and its scaled terms (j, ⌊c_j·2^(f+s_j)⌉, f + s_j).
type Segment = (i64, Vec<(usize, i64, u32)>);

impl NfgenMethod {
    fn encoded_segments(&self) -> mpc_sim::Result<Vec<Segment>> {
        let f = self.fx.frac_bits;
        self.pp
            .segments()
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let d = s.effective_degree();
                let c0 = self.fx.encode(s.coeffs[0])?;
                let mut terms = Vec::new();
                for j in 1..=d {
                    if s.coeffs[j] == 0.0 {
                        continue;
                    }
                    let shift = f + self.scales.get(i).and_then(|v| v.get(j)).copied().unwrap_or(0);
                    let k = encode_scaled(s.coeffs[j], shift)?;
                    if k != 0 {
                        terms.push((j, k, shift));
                    }
                }
                Ok((c0, terms))
            })
            .collect()
    }
}

impl Method for NfgenMethod {
    fn name(&self) -> &str {
        &self.name
    }
    fn activation(&self) -> &str {
        &self.activation
    }
    fn citation(&self) -> &str {
        &self.citation
    }
    fn info(&self) -> MethodInfo {
        MethodInfo {
            pieces: self.pp.n_pieces() + 2,
            degrees: self.pp.segments().iter().map(|s| s.effective_degree()).collect(),
            range: Some(self.pp.range()),
            protocol: match self.protocol {
                Protocol::Sorted => "sorted breakpoints, scaled terms (one truncation each)".into(),
                Protocol::OneHot => "NFGen one-hot vector + dot product, scaled terms (one truncation each)".into(),
            },
        }
    }
    fn eval_f64(&self, x: f64) -> f64 {
        self.pp.eval(x)
    }
    fn fixed_point(&self) -> FixedPoint {
        self.fx
    }
    fn kinks(&self) -> Vec<f64> {
        self.pp.breakpoints.clone()
    }
    fn needs(&self) -> Truncation {
        Truncation::DealerPair
    }
}

/// A segment value: a public constant (at scale f) or a shared value.
enum Y<V> {
    Const(i64),
    Val(V),
}

impl Program for NfgenMethod {
    fn program<E: Evaluator>(&self, ev: &mut E, x: &E::Value) -> mpc_sim::Result<E::Value> {
        let f = ev.fixed_point().frac_bits;
        if ev.fixed_point() != self.fx {
            return Err(MpcError::FixedPointMismatch { op: "nfgen", left: ev.fixed_point().frac_bits, right: self.fx.frac_bits });
        }
        let segs = self.encoded_segments()?;
        let thresholds = self.pp.breakpoints.iter().map(|&t| self.fx.encode(t)).collect::<std::result::Result<Vec<_>, _>>()?;
        let (nt, n, shape) = (thresholds.len(), E::len(x), E::shape(x).to_vec());
        let mut need = vec![false; self.pp.max_degree() + 1];
        for (_, terms) in &segs {
            for &(j, _, _) in terms {
                need[j] = true;
            }
        }
        let x = ev.reshape(x, &[n])?;
        let mut selectors: Vec<E::Value> = Vec::new();
        let mut ys: Vec<Y<E::Value>> = Vec::new();
        let onehot = self.protocol == Protocol::OneHot;
        ev.parallel(2, |ev, branch| {
            if branch == 0 {
                // b_i = [x ≥ t_i], one batch; NFGen's one-hot vector from them.
                let diffs = thresholds.iter().map(|&t| ev.add_const_raw(&x, t.wrapping_neg())).collect::<mpc_sim::Result<Vec<_>>>()?;
                let cat = ev.concat(&diffs.iter().collect::<Vec<_>>())?;
                let l = ev.ltz(&cat)?;
                let ge = ev.not(&l)?;
                let bits = ev.split(&ge, &vec![n; nt])?;
                selectors = if onehot && nt >= 1 {
                    let mut e = vec![ev.not(&bits[0])?];
                    if nt >= 2 {
                        let lo = ev.concat(&bits[..nt - 1].iter().collect::<Vec<_>>())?;
                        let hi = ev.concat(&bits[1..].iter().collect::<Vec<_>>())?;
                        let not_hi = ev.not(&hi)?;
                        let prod = ev.mul_raw(&lo, &not_hi)?;
                        e.extend(ev.split(&prod, &vec![n; nt - 1])?);
                    }
                    e.push(bits[nt - 1].clone());
                    e
                } else {
                    bits
                };
            } else {
                let pows = mpc_sim::recipes::powers_where(ev, &x, &need)?;
                // Every scaled term of every segment, truncated once by f + s_j, all side by side.
                let all: Vec<(usize, usize, i64, u32)> =
                    segs.iter().enumerate().flat_map(|(s, (_, t))| t.iter().map(move |&(j, k, sh)| (s, j, k, sh))).collect();
                let terms = ev.parallel(all.len(), |ev, i| {
                    let (_, j, k, shift) = all[i];
                    let p = pows.get(j).and_then(Option::as_ref).ok_or(MpcError::InvalidParameter {
                        name: "nfgen power",
                        value: j.to_string(),
                        hint: "internal: power not built",
                    })?;
                    let raw = ev.mul_const_raw(p, k, shift)?;
                    ev.truncate_bits(&raw, shift)
                })?;
                let mut per: Vec<Vec<E::Value>> = vec![Vec::new(); segs.len()];
                for ((s, _, _, _), t) in all.iter().zip(terms) {
                    per[*s].push(t);
                }
                ys = Vec::with_capacity(segs.len());
                for ((c0, _), ts) in segs.iter().zip(per) {
                    let mut it = ts.into_iter();
                    ys.push(match it.next() {
                        None => Y::Const(*c0),
                        Some(first) => {
                            let mut acc = first;
                            for t in it {
                                acc = ev.add(&acc, &t)?;
                            }
                            Y::Val(ev.add_const_raw(&acc, *c0)?)
                        }
                    });
                }
                let _ = f;
            }
            Ok(())
        })?;
        let zero = ev.mul_int(&x, 0)?;
        let as_val = |ev: &mut E, y: &Y<E::Value>| -> mpc_sim::Result<E::Value> {
            match y {
                Y::Const(c) => ev.add_const_raw(&zero, *c),
                Y::Val(v) => Ok(v.clone()),
            }
        };
        // Pairs (selector, value) to sum: by the protocol, y = Σ sel_i · val_i (+ base).
        let mut acc;
        let mut pairs: Vec<(E::Value, Y<E::Value>)> = Vec::new();
        if onehot && nt >= 1 {
            acc = zero.clone();
            for (e, y) in selectors.into_iter().zip(ys) {
                pairs.push((e, y));
            }
        } else {
            acc = as_val(ev, &ys[0])?;
            for (i, b) in selectors.into_iter().enumerate() {
                let d = match (&ys[i + 1], &ys[i]) {
                    (Y::Const(a), Y::Const(c)) => Y::Const(a.wrapping_sub(*c)),
                    (hi, lo) => {
                        let (h, l) = (as_val(ev, hi)?, as_val(ev, lo)?);
                        Y::Val(ev.sub(&h, &l)?)
                    }
                };
                pairs.push((b, d));
            }
        }
        let (mut sel, mut vals) = (Vec::new(), Vec::new());
        for (s, y) in pairs {
            match y {
                Y::Const(0) => {}
                Y::Const(c) => {
                    let t = ev.mul_const_raw(&s, c, f)?;
                    acc = ev.add(&acc, &t)?;
                }
                Y::Val(v) => {
                    sel.push(s);
                    vals.push(v);
                }
            }
        }
        if !vals.is_empty() {
            let cs = ev.concat(&sel.iter().collect::<Vec<_>>())?;
            let cv = ev.concat(&vals.iter().collect::<Vec<_>>())?;
            let prod = ev.mul_raw(&cs, &cv)?;
            for p in ev.split(&prod, &vec![n; vals.len()])? {
                acc = ev.add(&acc, &p)?;
            }
        }
        ev.reshape(&acc, &shape)
    }
}

fn build_with(name: &'static str, protocol: Protocol, ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
    let cfg = config_from_context(name, ctx)?;
    let fit = nfgen::fit(ctx.activation.as_ref(), &cfg)?;
    let c = fit.picked();
    Ok(Box::new(NfgenMethod {
        name: name.into(),
        activation: ctx.activation_name().into(),
        citation: format!(
            "Fan et al., NFGen (CCS 2022) §4 Alg. 1–2 (FAC), §5 templates, §6 Rep3 profiler; picked k = {}, m = {} ({} selection)",
            c.k,
            c.m,
            if cfg.select == Selection::Rep3 { "Rep3" } else { "our cost" }
        ),
        pp: c.pp.clone(),
        scales: c.scales.clone(),
        protocol,
        fx: cfg.fx,
    }))
}

fn build_onehot(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
    build_with("nfgen", Protocol::OneHot, ctx)
}

fn build_sorted(ctx: &BuildContext) -> Result<Box<dyn SecureMethod>> {
    build_with("nfgen-sorted", Protocol::Sorted, ctx)
}
