//! The FSS session: the [`Evaluator`] of the Beaver [`Session`] with its comparison and its piecewise-polynomial
//! protocol replaced by gates built from distributed comparison functions ([`super::dcf`]). Everything else
//! (products, squares, truncation, matrix products with matrix triples — the masked-input linear layer) runs on
//! the wrapped session, through the same metered [`crate::Channel`], so one meter counts the whole program.
//!
//! # Gates (per element; bytes sent by one party; N = 2^n, n = [`FssConfig::bits`])
//! Every gate has a fresh dealer mask r ∈ Z_{2^64} (additively shared) and opens y = x + r: **1 round, 8 B**.
//!
//! - **Sign / LTZ** (Boyle et al. 2021's DReLU idea): with y_n = y mod N = y_msb·2^(n−1) + y' and
//!   r_n = r_msb·2^(n−1) + r', the sign bit of x (for |x| < 2^(n−1)) is y_msb ⊕ r_msb ⊕ \[y' < r'\] (the borrow of the
//!   low bits). The dealer gives one DCF on n − 1 bits with α = r', β = 1 − 2·r_msb, and shares of r_msb, so that
//!   r_msb + DCF(y') = r_msb ⊕ \[y' < r'\]; the public y_msb is then XORed in locally:
//!   msb = y_msb + (1 − 2·y_msb)·m. One round in total.
//! - **Spline** (piecewise polynomial with public breakpoints t_1 < … < t_{m−1} and coefficients, BCG+21's spline
//!   gate in the form below): with u = x + 2^(n−1) mod N (signed order becomes unsigned order),
//!   z = u + r_n mod N = y + 2^(n−1) mod N public, a_i = t_i + 2^(n−1) mod N, s_i = a_i + r_n mod N and the carry
//!   c_i = \[a_i + r_n ≥ N\]:
//!   `[u < a_i] = [z < s_i] − [z < r_n] + c_i` (exact for every |x| < 2^(n−1)). The active segment's payload
//!   P_seg = P_0 + Σ_i \[x ≥ t_i\]·(P_i − P_{i−1}) is therefore
//!   `P_last − Σ_i [z < s_i]·D_i + [z < r_n]·(P_last − P_0) − Σ_i c_i·D_i`: m − 1 DCFs with α = s_i, β = −D_i,
//!   one DCF with α = r_n, β = P_last − P_0, and a dealer-shared constant — m keys for m pieces.
//!   The payload of segment s is `[enc(c_0)·2^f − enc(c_1)·r, enc(c_1), enc(c_2), …, enc(c_d)]`: the linear part
//!   re-expressed in the public y (c_0·2^f + c_1·x = (c_0·2^f − c_1·r) + c_1·y, exact in Z_{2^64}), so after the
//!   DCFs each party forms A + B·y locally at scale 2f. When no coefficient of x², x³, … is used, the payload is the
//!   fused one below instead and the gate's output is already truncated.
//!
//! # Fused truncation (every spline whose encoded coefficients of x², x³, … are all 0)
//! The value wanted is trunc(L) = ⌊L/2^f⌋ with L = c_0·2^f + c_1·x (scale 2f) of the active segment. A separate
//! truncation would cost a round (dealer pair) or carry a failure probability (local). Instead the gate outputs
//! it directly, from the same opening and the same m DCFs, with an error e ∈ {0, 1} and **no failure event**.
//! Over the integers (not mod anything), with w = \[z < r_n\] the wrap bit of z = u + r_n mod N,
//! x = z − r_n − 2^(n−1) + N·w, so L = P + Q with P = c_1·z (c_1 public per segment, z public) and
//! Q(s, w) = c_0·2^f − c_1·(r_n + 2^(n−1)) + w·c_1·N (known to the dealer for each segment s and each w). Then
//! ⌊P/2^f⌋ + ⌊Q/2^f⌋ = ⌊L/2^f⌋ − e with e ∈ {0, 1} (two floors lose less than 2 and the sum is an integer).
//! The DCFs deliver shares of any payload that depends on (segment, w) only: in z-space the segment changes only at
//! the s_i and w only at r_n, and w·\[u < a_i\] = c_i·\[z < s_i\] (if a_i + r_n does not carry, w = 1 forces
//! u ≥ a_i; if it does, z < s_i is exactly "wrapped and below a_i"). The payload of (s, w) is
//! `[⌊Q(s, w)/2^f⌋, [s = j] for every segment j with c_1 ≠ 0]` and each party outputs
//! `G + Σ_j sel_j·⌊c_1,j·z/2^f⌋` — local, since ⌊c_1,j·z/2^f⌋ is public. All arithmetic is exact in 128 bits
//! (⌊·/2^f⌋ mod 2^64 only needs the value mod 2^(64+f)). The selector words are public combinations of the
//! comparison indicators, so the DCFs carry only `[G part, indicator]` (two words, one AES block per tree level)
//! and each party scales its indicator shares by public terms ([`super::fused`], which implements this gate).
//!
//! Result: secure = ⌊L/2^f⌋ − e, e ∈ {0, 1}, for every |x| < 2^(n−1): the fixed-point emulation
//! (`EncodedPiecewise::eval`, which truncates L mod 2^64) minus 0 or 1 LSB whenever L fits the ring (|L| < 2^63);
//! where it does not (only near the ring extremes, |x| ≳ 2^63/|c_1|) the emulation wraps and the gate returns the
//! exact ⌊L/2^f⌋ mod 2^64. 1 round, 8 B per element, whatever the truncation setting of the session.
//!
//! # The bit-width decision (some coefficient of x^j, j ≥ 2, is nonzero)
//! Re-expressing all of Σ_j c_j·x^j in y needs x^j at scale j·f: at f = 16 a degree-6 term carries 112 fractional
//! bits, far beyond the 64-bit ring. We re-express **only the degree ≤ 1 part** (which fits at scale 2f, exactly)
//! and keep the used higher coefficients c_j as shared payload words; the powers x^j come from the Beaver power
//! tree (run concurrently with the opening; only the powers some nonzero encoded coefficient uses and those the
//! tree needs to build them, [`crate::recipes::powers_where`]) with one truncation each, exactly as in the reference
//! encoding (`EncodedPiecewise::eval`), and one batched Beaver round multiplies them by the selected coefficients.
//! Then one truncation. Rounds: max(1, ⌈log₂ d⌉·(1 + t)) + 1 + t (t the truncation's rounds), i.e.
//! ≤ 2 + ⌈log₂ d⌉ with local truncation. The result differs from the reference only by the truncation errors that
//! the Beaver backend also has ([`crate::bounds::piecewise_bound_lsb`] holds unchanged).
//!
//! Truncations outside the gates (products, dense layers) are the wrapped session's (local SecureML, or the dealer
//! pair, failure-free for |v| < 2^62).
//!
//! # Keys
//! Keys are dealt per gate call ([`FssSession::deal_spline`], [`FssSession::deal_ltz`]) with an id; evaluating a
//! gate consumes its keys, and a second use of the same id is refused ([`FssSession::spline_with`]). The dealer
//! derives the keys of chunk i of a gate from the gate's seed and stream i, so the simulation regenerates them
//! chunk by chunk where they are used instead of holding gigabytes of keys (their size is counted, per party, as
//! offline bytes when they are dealt).

use std::collections::HashSet;

use activation_approx::{Cost, Count, EncodedPiecewise, FixedPoint};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::dcf::{self, DcfBatch, DcfShape, Prg};
use super::fused::FusedSplineGate;
use crate::dealer::CHUNK;
use crate::error::{MpcError, Result};
use crate::evaluator::Evaluator;
use crate::meter::{Channel, Stats};
use crate::secure::{FixedShared, Session, SessionConfig};
use crate::share::{Meta, Pair, Party, Shared};

/// Settings of an FSS session.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FssConfig {
    /// The wrapped session's settings (fixed point, truncation, seed).
    pub session: SessionConfig,
    /// Bit width n of the comparison domain (2 ≤ n ≤ 64). With n < 64, comparisons and splines are exact only for
    /// inputs with |x| < 2^(n−1) ring units; keys and AES work shrink in proportion.
    pub bits: u32,
}

impl Default for FssConfig {
    fn default() -> Self {
        FssConfig { session: SessionConfig::default(), bits: 64 }
    }
}

/// The keys of one gate call: an id, the dealer's seed for them and what they are for. Cloning a key set only
/// copies the handle: the session refuses a second evaluation with the same id.
#[derive(Debug, Clone)]
pub struct GateKeys {
    id: u64,
    seed: [u8; 32],
    len: usize,
    bits: u32,
}

impl GateKeys {
    /// The keys' id (unique within a session).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Number of elements the keys serve.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the keys serve no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// How the spline gate evaluates an encoded spline: which powers it builds and what its DCF payloads hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplineLayout {
    /// The powers j ≥ 2 with a nonzero encoded coefficient in some segment, ascending
    /// ([`EncodedPiecewise::used_powers`]); a power whose coefficients all encode to 0 is never built or paid. Empty:
    /// the fused gate (degree ≤ 1 after encoding).
    pub powers: Vec<usize>,
    /// The segments with a nonzero encoded slope c_1 (the fused gate's selection words).
    pub sloped: Vec<usize>,
}

impl SplineLayout {
    /// The layout of `pw`.
    pub fn of(pw: &EncodedPiecewise) -> Self {
        let powers = pw.used_powers().iter().enumerate().filter(|&(j, &u)| j >= 2 && u).map(|(j, _)| j).collect();
        let sloped = pw.segments.iter().enumerate().filter(|(_, s)| s.get(1).is_some_and(|&c| c != 0)).map(|(i, _)| i).collect();
        SplineLayout { powers, sloped }
    }

    /// True for the fused gate: no power x^j, j ≥ 2, is used, and the truncation happens inside the gate.
    pub fn fused(&self) -> bool {
        self.powers.is_empty()
    }

    /// The used powers x^j (j in [`SplineLayout::powers`], each of `n` elements) from the power tree's output
    /// `pows` (index j = x^j), concatenated in that order: the right operand of the gate's coefficient product.
    pub(crate) fn concat_powers<E: Evaluator>(&self, ev: &mut E, pows: &[Option<E::Value>], n: usize) -> Result<E::Value> {
        let flat = self
            .powers
            .iter()
            .map(|&j| match pows.get(j) {
                Some(Some(p)) => ev.reshape(p, &[n]),
                _ => Err(MpcError::InvalidParameter {
                    name: "power",
                    value: j.to_string(),
                    hint: "the power tree did not build a used power (internal error)",
                }),
            })
            .collect::<Result<Vec<_>>>()?;
        ev.concat(&flat.iter().collect::<Vec<_>>())
    }

    /// Payload words per DCF: fused, the G part and (when some segment is sloped) the bare comparison indicator,
    /// which each party scales by public terms ([`super::fused`]); otherwise A's part and the indicator (B and the
    /// coefficients c_j are public per segment: each party scales its indicator share by their differences).
    pub fn payload(&self) -> usize {
        if self.fused() { 1 + usize::from(!self.sloped.is_empty()) } else { 2 }
    }

    /// Words of the dealt constant share per element (they depend on the mask's carries): fused, G and one
    /// selection word per sloped segment; otherwise A, B and one coefficient word per used power.
    pub fn const_words(&self) -> usize {
        if self.fused() { 1 + self.sloped.len() } else { 2 + self.powers.len() }
    }
}

/// Words of the spline gate's DCF payload for `pw` ([`SplineLayout::payload`]).
pub fn spline_payload(pw: &EncodedPiecewise) -> usize {
    SplineLayout::of(pw).payload()
}

/// A secure two-party session whose comparisons and piecewise polynomials are FSS gates (module docs). Not `Clone`
/// (a clone would replay the dealer's keys and masks); use [`FssSession::fork`] for a concurrent branch.
#[derive(Debug)]
pub struct FssSession {
    inner: Session,
    bits: u32,
    prg: Prg,
    dealer: ChaCha8Rng,
    next_id: u64,
    used: HashSet<u64>,
    /// AES calls so far (online per party, dealer): a cost with only its AES fields set.
    aes: Cost,
    openings: Option<Vec<Vec<u64>>>,
}

impl FssSession {
    /// A session with the given settings (error if the bit width is outside 2 … 64).
    pub fn new(cfg: FssConfig) -> Result<Self> {
        if !(2..=64).contains(&cfg.bits) {
            return Err(MpcError::InvalidParameter {
                name: "FSS comparison bit width",
                value: cfg.bits.to_string(),
                hint: "choose 2 ≤ bits ≤ 64 (64 compares the whole ring)",
            });
        }
        Ok(FssSession {
            inner: Session::new(cfg.session),
            bits: cfg.bits,
            prg: Prg::new(),
            dealer: ChaCha8Rng::seed_from_u64(cfg.session.seed ^ 0xF55_DEA1_u64.rotate_left(40)),
            next_id: 0,
            used: HashSet::new(),
            aes: Cost::ZERO,
            openings: None,
        })
    }

    /// A session for a concurrent branch (e.g. one batch of a model set up here): the wrapped session's
    /// [`Session::fork`] (fresh channel, child dealer), a key dealer seeded from this one's stream (never the same
    /// keys or masks), the same bit width, fresh AES counters and key ids.
    pub fn fork(&mut self) -> FssSession {
        FssSession {
            inner: self.inner.fork(),
            bits: self.bits,
            prg: Prg::new(),
            dealer: ChaCha8Rng::from_seed(self.dealer.random()),
            next_id: 0,
            used: HashSet::new(),
            aes: Cost::ZERO,
            openings: None,
        }
    }

    /// Starts recording the opened masked inputs y = x + r of every gate (what each party sees of x), for
    /// view-independence tests.
    pub fn record_openings(&mut self) {
        self.openings = Some(Vec::new());
    }

    /// The masked inputs opened since [`FssSession::record_openings`], one entry per gate.
    pub fn openings(&self) -> &[Vec<u64>] {
        self.openings.as_deref().unwrap_or(&[])
    }

    /// The comparison bit width n.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// The metered channel.
    pub fn channel(&self) -> &Channel {
        self.inner.channel()
    }

    /// The channel, mutably (to record a party's view).
    pub fn channel_mut(&mut self) -> &mut Channel {
        self.inner.channel_mut()
    }

    /// Totals so far.
    pub fn total(&self) -> Stats {
        self.inner.total()
    }

    /// Totals so far as a [`Cost`]: the meter's rounds and bytes ([`Stats::cost`]) with the AES calls of key
    /// evaluation (per party) and generation (dealer).
    pub fn cost(&self) -> Cost {
        self.total().cost().then(self.aes)
    }

    /// Zeroes the meter and the AES counters.
    pub fn reset_meter(&mut self) {
        self.inner.reset_meter();
        self.aes = Cost::ZERO;
    }

    fn modulus_mask(&self) -> u64 {
        if self.bits == 64 { u64::MAX } else { (1u64 << self.bits) - 1 }
    }

    fn new_keys(&mut self, len: usize, per_elem_bytes: u64) -> GateKeys {
        let id = self.next_id;
        self.next_id += 1;
        let b = per_elem_bytes * len as u64;
        self.inner.channel_mut().offline([b, b]);
        GateKeys { id, seed: self.dealer.random(), len, bits: self.bits }
    }

    fn consume(&mut self, keys: &GateKeys, len: usize) -> Result<()> {
        if keys.len != len || keys.bits != self.bits {
            return Err(MpcError::InvalidParameter {
                name: "FSS keys",
                value: format!("for {} elements at {} bits, used on {} at {}", keys.len, keys.bits, len, self.bits),
                hint: "deal keys for the value and session they are used with",
            });
        }
        if !self.used.insert(keys.id) {
            return Err(MpcError::InvalidParameter {
                name: "FSS keys id",
                value: keys.id.to_string(),
                hint: "keys are single-use; deal fresh keys for every gate evaluation",
            });
        }
        Ok(())
    }

    /// Opens y = x + r for the gate's masks (1 round, 8 B per element per party); returns y.
    fn open_masked(&mut self, x: &Shared, keys: &GateKeys) -> Vec<u64> {
        let seed = keys.seed;
        let masks: Vec<(Vec<u64>, Vec<u64>)> = (0..x.len().div_ceil(CHUNK))
            .into_par_iter()
            .map(|ci| {
                let len = CHUNK.min(x.len() - ci * CHUNK);
                let mut rng = chunk_rng(seed, ci);
                let mut r0 = vec![0u64; len];
                let mut r1 = vec![0u64; len];
                for (a, b) in r0.iter_mut().zip(r1.iter_mut()) {
                    *a = rng.next_u64();
                    *b = rng.next_u64();
                }
                (r0, r1)
            })
            .collect();
        let (m0, m1): (Vec<u64>, Vec<u64>) = masks.into_iter().flat_map(|(a, b)| a.into_iter().zip(b)).unzip();
        let mask = Pair::from_halves(m0, m1);
        let out: Pair<Vec<u64>> = Pair::build(|v| {
            v.own(&x.shares).par_iter().zip(v.own(&mask).par_iter()).map(|(&a, &r)| a.wrapping_add(r)).collect()
        });
        let inc = self.inner.channel_mut().exchange(&out);
        let opened = Pair::build(|v| {
            v.own(&out).par_iter().zip(v.received(&inc).par_iter()).map(|(&a, &b)| a.wrapping_add(b)).collect::<Vec<u64>>()
        });
        let y = opened.into_first();
        if let Some(log) = &mut self.openings {
            log.push(y.clone());
        }
        y
    }

    /// Deals the keys of an LTZ gate on `len` elements (offline bytes counted now).
    pub fn deal_ltz(&mut self, len: usize) -> GateKeys {
        let per = 16 + dcf::key_bytes(DcfShape { bits: self.bits - 1, payload: 1 });
        self.new_keys(len, per)
    }

    /// LTZ with given keys (consumed; refused if already used).
    pub fn ltz_with(&mut self, a: &Shared, keys: &GateKeys) -> Result<Shared> {
        a.meta.check_fx("ltz", &self.inner.config().fx)?;
        self.consume(keys, a.len())?;
        let y = self.open_masked(a, keys);
        let (n, mask, seed) = (self.bits, self.modulus_mask(), keys.seed);
        let shape = DcfShape { bits: n - 1, payload: 1 };
        let prg = &self.prg;
        let low = mask >> 1;
        let parts: Vec<(Vec<u64>, Vec<u64>, u64, u64)> = y
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(ci, ys)| {
                let mut rng = chunk_rng(seed, ci);
                let rs: Vec<u64> = (0..ys.len()).map(|_| rng.next_u64().wrapping_add(rng.next_u64())).collect();
                let msb0: Vec<u64> = (0..ys.len()).map(|_| rng.next_u64()).collect();
                let alphas: Vec<u64> = rs.iter().map(|&r| r & low).collect();
                let rmsb: Vec<u64> = rs.iter().map(|&r| ((r & mask) >> (n - 1)) & 1).collect();
                let betas: Vec<u64> = rmsb.iter().map(|&b| 1u64.wrapping_sub(2 * b)).collect();
                let (k0, k1, gc) = dcf::keygen(prg, shape, &alphas, &betas, &mut rng);
                let keys = Pair::from_halves(k0, k1);
                let msb_sh = Pair::from_halves(msb0.clone(), rmsb.iter().zip(&msb0).map(|(m, s)| m.wrapping_sub(*s)).collect());
                let zs: Vec<u64> = ys.iter().map(|&y| y & low).collect();
                let res = Pair::build(|v| {
                    let mut w = vec![0u64; ys.len()];
                    let ec = dcf::eval(prg, v.own(&keys), &zs, &mut w);
                    let first = v.party().is_first();
                    let out: Vec<u64> = w
                        .iter()
                        .zip(v.own(&msb_sh))
                        .zip(ys)
                        .map(|((&w, &s), &y)| {
                            let ym = ((y & mask) >> (n - 1)) & 1;
                            let m = s.wrapping_add(w);
                            let o = m.wrapping_mul(1u64.wrapping_sub(2 * ym));
                            if first { o.wrapping_add(ym) } else { o }
                        })
                        .collect();
                    (out, ec)
                });
                let [(o0, ec), (o1, _)] = res.into_halves();
                (o0, o1, ec, gc)
            })
            .collect();
        let shares = self.collect_parts(parts);
        Ok(Shared { meta: a.meta.with_scale(0), shares })
    }

    fn collect_parts(&mut self, parts: Vec<(Vec<u64>, Vec<u64>, u64, u64)>) -> Pair<Vec<u64>> {
        let (mut s0, mut s1) = (Vec::new(), Vec::new());
        for (a, b, ec, gc) in parts {
            s0.extend(a);
            s1.extend(b);
            self.aes.aes_calls_per_party += Count(ec);
            self.aes.dealer_aes_calls += Count(gc);
        }
        Pair::from_halves(s0, s1)
    }

    /// Deals the keys of a spline gate for `pw` on `len` elements (offline bytes counted now).
    pub fn deal_spline(&mut self, pw: &EncodedPiecewise, len: usize) -> Result<GateKeys> {
        check_spline(pw, self.inner.config().fx, self.bits)?;
        let per = super::cost::spline_key_bytes(pw, self.bits);
        Ok(self.new_keys(len, per))
    }

    /// The spline gate with given keys (consumed; refused if already used). See the module docs.
    pub fn spline_with(&mut self, x: &Shared, pw: &EncodedPiecewise, keys: &GateKeys) -> Result<Shared> {
        let fx = self.inner.config().fx;
        check_spline(pw, fx, self.bits)?;
        x.meta.check_fx("piecewise", &fx)?;
        if x.meta.scale != fx.frac_bits {
            return Err(MpcError::ScaleMismatch { op: "piecewise", left: fx.frac_bits, right: x.meta.scale });
        }
        self.consume(keys, x.len())?;
        let lay = SplineLayout::of(pw);
        let n = x.len();
        if lay.fused() {
            let y = self.open_masked(x, keys);
            let shares = self.spline_eval_fused(pw, keys, &y)?;
            return Ok(Shared { meta: x.meta.clone(), shares });
        }
        // The opening, concurrently with the used powers (Beaver power tree, only the levels they need).
        let mut y = Vec::new();
        let need = pw.used_powers();
        let mut out = self.parallel(2, |s, b| {
            if b == 0 {
                y = s.open_masked(x, keys);
                Ok(Vec::new())
            } else {
                crate::recipes::powers_where(s, x, &need)
            }
        })?;
        let pows = out.pop().unwrap_or_default();
        let (lin, coefs) = self.spline_eval(pw, &lay, keys, &y);
        let meta2 = x.meta.with_scale(2 * fx.frac_bits);
        let mut yv = Shared { meta: meta2.with_shape(vec![n]), shares: lin };
        let np = lay.powers.len();
        let c = Shared { meta: x.meta.with_shape(vec![n * np]), shares: coefs };
        let pcat = lay.concat_powers(self, &pows, n)?;
        let prod = self.mul_raw(&c, &pcat)?;
        let parts = self.split(&prod, &vec![n; np])?;
        for p in &parts {
            yv = self.add(&yv, p)?;
        }
        let yv = self.reshape(&yv, &x.meta.shape)?;
        self.truncate(&yv)
    }

    /// The fused gate's local part (module docs, "fused truncation"; [`FusedSplineGate`]): regenerates each chunk's
    /// keys from the gate's seed, each party evaluates its own; returns the shares of the truncated spline value
    /// (scale f).
    fn spline_eval_fused(&mut self, pw: &EncodedPiecewise, keys: &GateKeys, y: &[u64]) -> Result<Pair<Vec<u64>>> {
        let gate = FusedSplineGate::new(pw, self.bits)?;
        let seed = keys.seed;
        let parts: Vec<(Vec<u64>, Vec<u64>, u64, u64)> = y
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(ci, ys)| {
                let ch = gate.deal_chunk(seed, ci, ys.len());
                let (o0, o1, ec) = gate.eval_chunk(&ch, ys);
                (o0, o1, ec, ch.dealer_aes_calls())
            })
            .collect();
        Ok(self.collect_parts(parts))
    }

    /// The local part of the spline gate: regenerates the chunk's keys, each party evaluates its own; returns the
    /// shares of A + B·y (scale 2f) and of the selected c_2 … c_d (laid out coefficient by coefficient).
    fn spline_eval(&mut self, pw: &EncodedPiecewise, lay: &SplineLayout, keys: &GateKeys, y: &[u64]) -> (Pair<Vec<u64>>, Pair<Vec<u64>>) {
        let (nbits, mask, seed) = (self.bits, self.modulus_mask(), keys.seed);
        let f = pw.fx.frac_bits;
        // Dealt constant words per element (A, B, c_j for the used powers) and DCF payload words (A's part and the
        // bare indicator): B and the c_j are public per segment, so a key's share of them is its indicator share
        // times the public difference it stands for (as in the fused gate, [`super::fused`]).
        let (k, kp) = (lay.const_words(), lay.payload());
        let shape = DcfShape { bits: nbits, payload: kp };
        let half = 1u64 << (nbits - 1);
        let prg = &self.prg;
        let nt = pw.thresholds.len();
        let a_i: Vec<u64> = pw.thresholds.iter().map(|&t| (t as u64).wrapping_add(half) & mask).collect();
        let coef = |s: usize, j: usize| pw.segments[s].get(j).copied().unwrap_or(0) as u64;
        // The public words (1 … k − 1) of segment s's payload, and of every key's payload difference.
        let pubw = |s: usize| -> Vec<u64> { std::iter::once(coef(s, 1)).chain(lay.powers.iter().map(|&j| coef(s, j))).collect() };
        let pubs: Vec<Vec<u64>> = (0..=nt).map(pubw).collect();
        let minus = |a: &[u64], b: &[u64]| -> Vec<u64> { a.iter().zip(b).map(|(x, y)| x.wrapping_sub(*y)).collect() };
        let bpub: Vec<Vec<u64>> = (0..nt).map(|i| minus(&pubs[i], &pubs[i + 1])).chain([minus(&pubs[nt], &pubs[0])]).collect();
        let (bpub, pubs) = (&bpub, &pubs);
        let parts: Vec<ChunkOut> = y
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(ci, ys)| {
                let len = ys.len();
                let mut rng = chunk_rng(seed, ci);
                let rs: Vec<u64> = (0..len).map(|_| rng.next_u64().wrapping_add(rng.next_u64())).collect();
                // Dealer: payloads, DCF inputs, the shared constant.
                let mut alphas = vec![vec![0u64; len]; nt + 1];
                let mut betas = vec![vec![0u64; len * kp]; nt + 1];
                let mut konst = vec![0u64; len * k];
                let mut p = vec![vec![0u64; k]; nt + 1];
                for (e, &r) in rs.iter().enumerate() {
                    let rn = r & mask;
                    for (s, ps) in p.iter_mut().enumerate() {
                        ps[0] = coef(s, 0).wrapping_shl(f).wrapping_sub(coef(s, 1).wrapping_mul(r));
                        ps[1..].copy_from_slice(&pubs[s]);
                    }
                    let kk = &mut konst[e * k..(e + 1) * k];
                    kk.copy_from_slice(&p[nt]);
                    for i in 0..nt {
                        let sum = a_i[i] as u128 + rn as u128;
                        let s_i = (sum as u64) & mask;
                        let carry = sum > mask as u128;
                        alphas[i][e] = s_i;
                        betas[i][e * kp] = p[i + 1][0].wrapping_sub(p[i][0]).wrapping_neg();
                        betas[i][e * kp + 1] = 1;
                        if carry {
                            for j in 0..k {
                                kk[j] = kk[j].wrapping_sub(p[i + 1][j].wrapping_sub(p[i][j]));
                            }
                        }
                    }
                    alphas[nt][e] = rn;
                    betas[nt][e * kp] = p[nt][0].wrapping_sub(p[0][0]);
                    betas[nt][e * kp + 1] = 1;
                }
                let (ksh, dkeys, gc) = deal_spline_keys(prg, shape, &alphas, &betas, &konst, &mut rng);
                let zs: Vec<u64> = ys.iter().map(|&y| y.wrapping_add(half) & mask).collect();
                // Parties: each evaluates its own keys at the public z and combines with the public y.
                let res = Pair::build(|v| {
                    let mut sel = v.own(&ksh).clone();
                    let mut tmp = vec![0u64; len * kp];
                    let mut ec = 0;
                    for (kb, bp) in v.own(&dkeys).iter().zip(bpub) {
                        ec += dcf::eval(prg, kb, &zs, &mut tmp);
                        for (w, t) in sel.chunks_exact_mut(k).zip(tmp.chunks_exact(kp)) {
                            w[0] = w[0].wrapping_add(t[0]);
                            for (wj, b) in w[1..].iter_mut().zip(bp) {
                                *wj = wj.wrapping_add(t[1].wrapping_mul(*b));
                            }
                        }
                    }
                    let lin: Vec<u64> =
                        ys.iter().enumerate().map(|(e, &y)| sel[e * k].wrapping_add(sel[e * k + 1].wrapping_mul(y))).collect();
                    let coefs: Vec<u64> = (2..k).flat_map(|j| (0..len).map(move |e| (e, j))).map(|(e, j)| sel[e * k + j]).collect();
                    (lin, coefs, ec)
                });
                let [(l0, c0, ec), (l1, c1, _)] = res.into_halves();
                ([l0, l1], [c0, c1], ec, gc)
            })
            .collect();
        let n = y.len();
        let (mut l0, mut l1) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut c0, mut c1) = (vec![0u64; n * (k - 2)], vec![0u64; n * (k - 2)]);
        for (ci, ([a, b], [ca, cb], ec, gc)) in parts.into_iter().enumerate() {
            let len = a.len();
            l0.extend(a);
            l1.extend(b);
            for j in 0..k - 2 {
                let dst = j * n + ci * CHUNK;
                c0[dst..dst + len].copy_from_slice(&ca[j * len..(j + 1) * len]);
                c1[dst..dst + len].copy_from_slice(&cb[j * len..(j + 1) * len]);
            }
            self.aes.aes_calls_per_party += Count(ec);
            self.aes.dealer_aes_calls += Count(gc);
        }
        (Pair::from_halves(l0, l1), Pair::from_halves(c0, c1))
    }
}

/// One chunk's spline results: both parties' (A + B·y) shares, both parties' coefficient shares, online AES calls
/// per party, dealer AES calls.
type ChunkOut = ([Vec<u64>; 2], [Vec<u64>; 2], u64, u64);

/// The dealer's CSPRNG for chunk `ci` of a gate.
/// The dealer's part of a spline gate on one chunk: additive shares of the constant payload words `konst`, and the
/// DCF key pairs of the m segments (`alphas[i]` the comparison points, `betas[i]` the payloads), with the AES calls
/// key generation took.
pub(super) fn deal_spline_keys(
    prg: &Prg,
    shape: DcfShape,
    alphas: &[Vec<u64>],
    betas: &[Vec<u64>],
    konst: &[u64],
    rng: &mut ChaCha8Rng,
) -> (Pair<Vec<u64>>, Pair<Vec<DcfBatch>>, u64) {
    let k0: Vec<u64> = (0..konst.len()).map(|_| rng.next_u64()).collect();
    let k1: Vec<u64> = konst.iter().zip(&k0).map(|(a, b)| a.wrapping_sub(*b)).collect();
    let mut gc = 0;
    let mut b0 = Vec::with_capacity(alphas.len());
    let mut b1 = Vec::with_capacity(alphas.len());
    for (a, b) in alphas.iter().zip(betas) {
        let (x0, x1, c) = dcf::keygen(prg, shape, a, b, rng);
        b0.push(x0);
        b1.push(x1);
        gc += c;
    }
    (Pair::from_halves(k0, k1), Pair::from_halves(b0, b1), gc)
}

pub(super) fn chunk_rng(seed: [u8; 32], ci: usize) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::from_seed(seed);
    r.set_stream(ci as u64);
    r
}

/// Checks an encoded spline against the session (setting, shape, breakpoints inside the comparison domain).
fn check_spline(pw: &EncodedPiecewise, fx: FixedPoint, bits: u32) -> Result<()> {
    if pw.fx != fx {
        return Err(MpcError::FixedPointMismatch { op: "piecewise", left: fx.frac_bits, right: pw.fx.frac_bits });
    }
    let nt = pw.thresholds.len();
    if nt == 0 || pw.segments.len() != nt + 1 || pw.segments.iter().any(|s| s.is_empty() || s.len() > pw.max_degree + 1) {
        return Err(MpcError::InvalidParameter {
            name: "encoded piecewise",
            value: format!("{} thresholds, {} segments, max degree {}", nt, pw.segments.len(), pw.max_degree),
            hint: "build it with PiecewisePoly::encode (one more segment than thresholds, none above max_degree)",
        });
    }
    let limit = if bits == 64 { i64::MAX } else { (1i64 << (bits - 1)) - 1 };
    if let Some(t) = pw.thresholds.iter().find(|&&t| t > limit || t < -limit - 1) {
        return Err(MpcError::InvalidParameter {
            name: "breakpoint (ring units)",
            value: t.to_string(),
            hint: "breakpoints must lie inside the FSS comparison domain; raise FssConfig::bits",
        });
    }
    Ok(())
}

impl Evaluator for FssSession {
    type Value = Shared;
    type Fixed = FixedShared;

    fn fixed_point(&self) -> FixedPoint {
        self.inner.fixed_point()
    }
    fn meta(v: &Shared) -> &Meta {
        &v.meta
    }
    fn input_raw(&mut self, owner: Party, xs: &[i64], shape: &[usize], scale: u32) -> Result<Shared> {
        self.inner.input_raw(owner, xs, shape, scale)
    }
    fn reveal_raw(&mut self, v: &Shared) -> Result<Vec<i64>> {
        self.inner.reveal_raw(v)
    }
    fn reveal_to_raw(&mut self, v: &Shared, to: Party) -> Result<Vec<i64>> {
        self.inner.reveal_to_raw(v, to)
    }
    fn add(&mut self, a: &Shared, b: &Shared) -> Result<Shared> {
        self.inner.add(a, b)
    }
    fn sub(&mut self, a: &Shared, b: &Shared) -> Result<Shared> {
        self.inner.sub(a, b)
    }
    fn neg(&mut self, a: &Shared) -> Result<Shared> {
        self.inner.neg(a)
    }
    fn add_const_raw(&mut self, a: &Shared, c: i64) -> Result<Shared> {
        self.inner.add_const_raw(a, c)
    }
    fn mul_const_raw(&mut self, a: &Shared, k: i64, k_scale: u32) -> Result<Shared> {
        self.inner.mul_const_raw(a, k, k_scale)
    }
    fn concat(&mut self, vs: &[&Shared]) -> Result<Shared> {
        self.inner.concat(vs)
    }
    fn split(&mut self, v: &Shared, sizes: &[usize]) -> Result<Vec<Shared>> {
        self.inner.split(v, sizes)
    }
    fn reshape(&mut self, v: &Shared, shape: &[usize]) -> Result<Shared> {
        self.inner.reshape(v, shape)
    }
    fn gather(&mut self, v: &Shared, idx: &[Option<usize>], shape: &[usize]) -> Result<Shared> {
        self.inner.gather(v, idx, shape)
    }
    fn sum_groups(&mut self, v: &Shared, group: usize, shape: &[usize]) -> Result<Shared> {
        self.inner.sum_groups(v, group, shape)
    }
    fn matmul_public_raw(&mut self, a: &Shared, w: &[i64], n: usize, w_scale: u32) -> Result<Shared> {
        self.inner.matmul_public_raw(a, w, n, w_scale)
    }
    fn lincomb_raw(&mut self, terms: &[(&Shared, i64)], k_scale: u32, constant: i64) -> Result<Shared> {
        self.inner.lincomb_raw(terms, k_scale, constant)
    }
    fn mul_raw(&mut self, a: &Shared, b: &Shared) -> Result<Shared> {
        self.inner.mul_raw(a, b)
    }
    fn square_raw(&mut self, a: &Shared) -> Result<Shared> {
        self.inner.square_raw(a)
    }
    /// The wrapped session's truncation (local or dealer pair, [`SessionConfig::truncation`]).
    fn truncate_bits(&mut self, a: &Shared, bits: u32) -> Result<Shared> {
        self.inner.truncate_bits(a, bits)
    }
    /// \[a < 0\] by the FSS sign gate (1 round, 8 B; exact for |a| < 2^(n−1)).
    fn ltz(&mut self, a: &Shared) -> Result<Shared> {
        let keys = self.deal_ltz(a.len());
        self.ltz_with(a, &keys)
    }
    fn matmul_raw(&mut self, a: &Shared, b: &Shared) -> Result<Shared> {
        self.inner.matmul_raw(a, b)
    }
    fn fix_right(&mut self, w: &Shared) -> Result<FixedShared> {
        self.inner.fix_right(w)
    }
    fn matmul_fixed_raw(&mut self, a: &Shared, w: &FixedShared) -> Result<Shared> {
        self.inner.matmul_fixed_raw(a, w)
    }
    fn parallel<T>(&mut self, n: usize, mut f: impl FnMut(&mut Self, usize) -> Result<T>) -> Result<Vec<T>> {
        self.channel_mut().fork();
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            if i > 0 {
                self.channel_mut().next_branch();
            }
            match f(self, i) {
                Ok(v) => out.push(v),
                Err(e) => {
                    self.channel_mut().join();
                    return Err(e);
                }
            }
        }
        self.channel_mut().join();
        Ok(out)
    }
    fn scope<T>(&mut self, label: &str, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.channel_mut().enter(label);
        let r = f(self);
        self.channel_mut().exit();
        r
    }
    /// The FSS spline gate (module docs): 1 online round for degree ≤ 1.
    /// A single polynomial (no breakpoint) needs no gate: it runs as the Beaver power tree and one combination.
    fn piecewise(&mut self, x: &Shared, pw: &EncodedPiecewise) -> Result<Shared> {
        if pw.thresholds.is_empty() {
            return crate::recipes::piecewise(self, x, pw);
        }
        let keys = self.deal_spline(pw, x.len())?;
        self.spline_with(x, pw, &keys)
    }
}
