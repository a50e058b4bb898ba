//! The fused spline gate (degree ≤ 1 after encoding, truncation inside the gate), split into its dealer part and
//! its online part so that both can be run, measured and tested separately: [`FusedSplineGate::deal`] (offline:
//! masks, constant shares, DCF keys) and [`FusedSplineGate::online`] (the opening of the masked input and both
//! parties' local evaluation), and one party's online phase alone as it runs on its own machine
//! ([`FusedSplineGate::masked_share`], its message; [`FusedSplineGate::online_party`]). [`super::FssSession`] runs
//! the same functions chunk by chunk (it regenerates a chunk's keys from the gate's seed where they are used), so the
//! session, the benchmarks and the tests share one implementation.
//!
//! # The maths (module docs of [`super::session`], "fused truncation")
//! For an element with mask r (r_n = r mod N, N = 2^n), public z = y + 2^(n−1) mod N and segments s = 0 … m − 1
//! with slopes c_1,s, the wanted output is `G(s, w) + Σ_{j ∈ S} [s = j]·⌊c_1,j·z/2^f⌋` with G(s, w) = ⌊Q(s, w)/2^f⌋
//! dealer-known (w = \[z < r_n\] the wrap bit) and S the segments with a nonzero slope. In z-space the active
//! (segment, w) is a sum of m comparison indicators b_i: `P(s, w) = P_last − Σ_{i<m−1} b_i·D_i + b_{m−1}·(P_last −
//! P_0) + const`, with b_i = \[z < s_i\] (s_i = a_i + r_n mod N) for the m − 1 breakpoints, b_{m−1} = \[z < r_n\],
//! and a dealer-known constant (the carries c_i of a_i + r_n).
//!
//! **Payload: two words per key, whatever the number of sloped segments.** The selector part of every difference
//! D_i is a *public* vector (e_{i+1} − e_i restricted to S), so the selector words need not travel through the
//! DCF: key i carries `β_i = [G part of its difference, 1]`, i.e. shares of the G part and of the bare indicator
//! b_i, and each party multiplies its share of b_i by the public coefficient C_i(z) = Σ_{j∈S} (selector part of
//! key i's difference)_j·⌊c_1,j·z/2^f⌋. Only the constant (which depends on the secret carries) is dealt as shares
//! of 1 + |S| words. Since Σ_i b_i·C_i = Σ_j (Σ_i b_i·βsel_i,j)·⌊c_1,j·z/2^f⌋, the output is the same ring value
//! as with the selectors in the payload (the first version, 1 + |S| payload words), and a 2-word payload fits in
//! one AES block: **2n + 1 AES calls per key** instead of n·(1 + ⌈(1 + |S|)/2⌉) + ⌈(1 + |S|)/2⌉ (Compact's
//! 3-piece zero / line / line form, |S| = 2: 129 instead of 194 at n = 64). A spline without a sloped segment (all
//! constants) needs only the G word: one-word payload, same AES count.

use activation_approx::EncodedPiecewise;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::dcf::{self, DcfBatch, DcfShape, Prg};
use super::session::SplineLayout;
use crate::dealer::CHUNK;
use crate::error::{MpcError, Result};
use crate::share::{Pair, Party, Shared};

/// The public plan of a fused spline gate: everything that does not depend on the masks.
#[derive(Debug, Clone)]
pub struct FusedSplineGate {
    bits: u32,
    mask: u64,
    half: u64,
    big_n: u128,
    f: u32,
    /// Breakpoints mapped to unsigned order, a_i = t_i + 2^(n−1) mod N.
    a_i: Vec<u64>,
    /// (c_0, c_1) of every segment, sign-extended to 128 bits.
    coef: Vec<(u128, u128)>,
    /// Slopes c_1 of the sloped segments (S), sign-extended.
    slopes: Vec<u128>,
    /// Selector part of key i's payload difference (i < m − 1: −(e_{i+1} − e_i); i = m − 1: e_{m−1} − e_0), per
    /// sloped segment, as ring words (0, 1 or −1).
    bsel: Vec<Vec<u64>>,
    /// Selector words of P_last (e_{m−1} restricted to S).
    sel_last: Vec<u64>,
    /// Selector part of D_i = P_{i+1} − P_i, per breakpoint.
    sel_diff: Vec<Vec<u64>>,
    prg: Prg,
}

/// One chunk's dealer material: both parties' mask shares, constant shares (1 + |S| words per element) and DCF keys
/// (m batches), with the AES calls their generation took.
#[derive(Debug, Clone)]
pub struct FusedChunk {
    r: Pair<Vec<u64>>,
    konst: Pair<Vec<u64>>,
    keys: Pair<Vec<DcfBatch>>,
    dealer_aes: u64,
}

impl FusedChunk {
    /// AES calls the dealer made to generate this chunk's keys.
    pub fn dealer_aes_calls(&self) -> u64 {
        self.dealer_aes
    }
}

/// A whole gate's dealer material ([`FusedSplineGate::deal`]), chunk by chunk ([`CHUNK`] elements each).
#[derive(Debug, Clone)]
pub struct FusedSplineKeys {
    chunks: Vec<FusedChunk>,
    len: usize,
}

impl FusedSplineKeys {
    /// Number of elements the keys serve.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the keys serve no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// AES calls the dealer made to generate them.
    pub fn dealer_aes_calls(&self) -> u64 {
        self.chunks.iter().map(FusedChunk::dealer_aes_calls).sum()
    }
}

impl FusedSplineGate {
    /// The plan for `pw` (degree ≤ 1 after encoding: [`SplineLayout::fused`]) with an `bits`-bit comparison domain.
    pub fn new(pw: &EncodedPiecewise, bits: u32) -> Result<Self> {
        let lay = SplineLayout::of(pw);
        if !lay.fused() || pw.thresholds.is_empty() || !(2..=64).contains(&bits) {
            return Err(MpcError::InvalidParameter {
                name: "fused spline gate",
                value: format!("{} thresholds, used powers {:?}, {} bits", pw.thresholds.len(), lay.powers, bits),
                hint: "the fused gate needs ≥ 1 breakpoint, no coefficient of x², x³, … and 2 ≤ bits ≤ 64",
            });
        }
        let mask = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
        let half = 1u64 << (bits - 1);
        let nt = pw.thresholds.len();
        let coef_of = |s: usize, j: usize| pw.segments[s].get(j).copied().unwrap_or(0) as i128 as u128;
        let e = |s: usize| -> Vec<u64> { lay.sloped.iter().map(|&j| u64::from(j == s)).collect() };
        let diff = |a: &[u64], b: &[u64]| -> Vec<u64> { a.iter().zip(b).map(|(x, y)| x.wrapping_sub(*y)).collect() };
        let sel_diff: Vec<Vec<u64>> = (0..nt).map(|i| diff(&e(i + 1), &e(i))).collect();
        let mut bsel: Vec<Vec<u64>> = sel_diff.iter().map(|d| d.iter().map(|x| x.wrapping_neg()).collect()).collect();
        bsel.push(diff(&e(nt), &e(0)));
        Ok(FusedSplineGate {
            bits,
            mask,
            half,
            big_n: 1u128 << bits,
            f: pw.fx.frac_bits,
            a_i: pw.thresholds.iter().map(|&t| (t as u64).wrapping_add(half) & mask).collect(),
            coef: (0..=nt).map(|s| (coef_of(s, 0), coef_of(s, 1))).collect(),
            slopes: lay.sloped.iter().map(|&s| coef_of(s, 1)).collect(),
            bsel,
            sel_last: e(nt),
            sel_diff,
            prg: Prg::new(),
        })
    }

    /// Words of every DCF payload: the G part, and the indicator when some segment is sloped.
    pub fn payload(&self) -> usize {
        if self.slopes.is_empty() { 1 } else { 2 }
    }

    /// Dealt constant words per element (the G part and one selector word per sloped segment).
    pub fn const_words(&self) -> usize {
        1 + self.slopes.len()
    }

    /// The DCF shape of the gate's keys.
    pub fn shape(&self) -> DcfShape {
        DcfShape { bits: self.bits, payload: self.payload() }
    }

    /// AES calls of one party's online evaluation per element (m keys).
    pub fn eval_aes_calls_per_element(&self) -> u64 {
        self.coef.len() as u64 * dcf::eval_aes_calls(self.shape())
    }

    /// The dealer's material for chunk `ci` (`len` elements) of a gate whose seed is `seed`: the masks (r_0, r_1
    /// drawn in turn per element, r = r_0 + r_1), the constant shares, the m DCF key pairs, all from the chunk's own
    /// ChaCha stream (so any thread schedule gives the same keys).
    pub fn deal_chunk(&self, seed: [u8; 32], ci: usize, len: usize) -> FusedChunk {
        let mut rng = super::session::chunk_rng(seed, ci);
        let (mut r0, mut r1) = (vec![0u64; len], vec![0u64; len]);
        for (a, b) in r0.iter_mut().zip(r1.iter_mut()) {
            *a = rng.next_u64();
            *b = rng.next_u64();
        }
        let (nt, kp, kc, f) = (self.a_i.len(), self.payload(), self.const_words(), self.f);
        let mut alphas = vec![vec![0u64; len]; nt + 1];
        let mut betas = vec![vec![0u64; len * kp]; nt + 1];
        let mut konst = vec![0u64; len * kc];
        let (mut g0, mut g1) = (vec![0u64; nt + 1], vec![0u64; nt + 1]);
        for e in 0..len {
            let rn = r0[e].wrapping_add(r1[e]) & self.mask;
            let off = u128::from(rn) + u128::from(self.half);
            // G(s, w) = g0[s] + w·g1[s].
            for (s, &(c0, c1)) in self.coef.iter().enumerate() {
                let q0 = (c0 << f).wrapping_sub(c1.wrapping_mul(off));
                let q1 = q0.wrapping_add(c1.wrapping_mul(self.big_n));
                let (f0, f1) = ((q0 >> f) as u64, (q1 >> f) as u64);
                g0[s] = f0;
                g1[s] = f1.wrapping_sub(f0);
            }
            let kk = &mut konst[e * kc..(e + 1) * kc];
            kk[0] = g0[nt];
            kk[1..].copy_from_slice(&self.sel_last);
            alphas[nt][e] = rn;
            betas[nt][e * kp] = g0[nt].wrapping_sub(g0[0]).wrapping_add(g1[nt]);
            for i in 0..nt {
                let sum = u128::from(self.a_i[i]) + u128::from(rn);
                let carry = sum > u128::from(self.mask);
                alphas[i][e] = (sum as u64) & self.mask;
                let d0 = g0[i + 1].wrapping_sub(g0[i]);
                let mut b = d0.wrapping_neg();
                if carry {
                    b = b.wrapping_sub(g1[i + 1].wrapping_sub(g1[i]));
                    kk[0] = kk[0].wrapping_sub(d0);
                    for (k, d) in kk[1..].iter_mut().zip(&self.sel_diff[i]) {
                        *k = k.wrapping_sub(*d);
                    }
                }
                betas[i][e * kp] = b;
            }
            if kp == 2 {
                for bt in betas.iter_mut() {
                    bt[e * kp + 1] = 1;
                }
            }
        }
        let (konst, keys, dealer_aes) = super::session::deal_spline_keys(&self.prg, self.shape(), &alphas, &betas, &konst, &mut rng);
        FusedChunk { r: Pair::from_halves(r0, r1), konst, keys, dealer_aes }
    }

    /// The public terms of one chunk at the opened y, computed by each party alike: z = y + 2^(n−1) mod N, the
    /// products ⌊c_1,j·z/2^f⌋ of every sloped segment j (`pubs`, |S| per element) and the coefficient
    /// C_i(z) = Σ_j bsel_i,j·⌊c_1,j·z/2^f⌋ of every key i (`cs`, m per element).
    fn public_terms(&self, ys: &[u64]) -> (Vec<u64>, Vec<u64>, Vec<u64>) {
        let len = ys.len();
        let (ns, m, f) = (self.slopes.len(), self.coef.len(), self.f);
        let zs: Vec<u64> = ys.iter().map(|&y| y.wrapping_add(self.half) & self.mask).collect();
        let mut pubs = vec![0u64; len * ns];
        let mut cs = vec![0u64; len * m];
        for (e, &z) in zs.iter().enumerate() {
            let p = &mut pubs[e * ns..(e + 1) * ns];
            for (pj, &c1) in p.iter_mut().zip(&self.slopes) {
                *pj = (c1.wrapping_mul(u128::from(z)) >> f) as u64;
            }
            for (i, bs) in self.bsel.iter().enumerate() {
                cs[e * m + i] = bs.iter().zip(p.iter()).fold(0u64, |a, (b, q)| a.wrapping_add(b.wrapping_mul(*q)));
            }
        }
        (zs, pubs, cs)
    }

    /// One party's local evaluation of one chunk, given the public terms ([`Self::public_terms`]) and that party's
    /// own constant shares and keys: `out[e]` = its share of the truncated spline value. Returns its AES calls.
    /// The both-parties path ([`Self::eval_chunk`]) and the one-party path ([`Self::online_party`]) both run this
    /// function, so their shares are the same bit for bit.
    fn eval_party(&self, konst: &[u64], keys: &[DcfBatch], terms: &(Vec<u64>, Vec<u64>, Vec<u64>), out: &mut [u64]) -> u64 {
        let (zs, pubs, cs) = terms;
        let len = zs.len();
        let (kp, kc, ns, m) = (self.payload(), self.const_words(), self.slopes.len(), self.coef.len());
        debug_assert!(out.len() == len && konst.len() == len * kc);
        for (e, o) in out.iter_mut().enumerate() {
            let kk = &konst[e * kc..(e + 1) * kc];
            *o = kk[1..].iter().zip(&pubs[e * ns..(e + 1) * ns]).fold(kk[0], |a, (s, q)| a.wrapping_add(s.wrapping_mul(*q)));
        }
        let mut tmp = vec![0u64; len * kp];
        let mut ec = 0;
        for (i, kb) in keys.iter().enumerate() {
            ec += dcf::eval(&self.prg, kb, zs, &mut tmp);
            if kp == 2 {
                for (e, o) in out.iter_mut().enumerate() {
                    *o = o.wrapping_add(tmp[2 * e]).wrapping_add(tmp[2 * e + 1].wrapping_mul(cs[e * m + i]));
                }
            } else {
                out.iter_mut().zip(&tmp).for_each(|(o, t)| *o = o.wrapping_add(*t));
            }
        }
        ec
    }

    /// Both parties' local evaluation of one chunk at the opened y: shares of the truncated spline value and the
    /// AES calls of one party.
    pub(crate) fn eval_chunk(&self, chunk: &FusedChunk, ys: &[u64]) -> (Vec<u64>, Vec<u64>, u64) {
        let terms = self.public_terms(ys);
        let res = Pair::build(|v| {
            let mut out = vec![0u64; ys.len()];
            let ec = self.eval_party(&v.own(&chunk.konst)[..], &v.own(&chunk.keys)[..], &terms, &mut out);
            (out, ec)
        });
        let [(o0, ec), (o1, _)] = res.into_halves();
        (o0, o1, ec)
    }

    /// The dealer's material for a whole gate on `len` elements (chunks dealt in parallel).
    pub fn deal(&self, seed: [u8; 32], len: usize) -> FusedSplineKeys {
        let chunks = (0..len.div_ceil(CHUNK)).into_par_iter().map(|ci| self.deal_chunk(seed, ci, CHUNK.min(len - ci * CHUNK))).collect();
        FusedSplineKeys { chunks, len }
    }

    /// The online phase on pre-dealt keys, both parties in this process: each party adds its mask share to its
    /// share of x, the two masked shares are exchanged and added (y = x + r, the gate's one round; not metered
    /// here — [`super::FssSession`] meters it), and each party evaluates its m keys at z and combines them with the
    /// public terms. Chunks run in parallel (rayon's pool: one thread per core). Returns the shares of the
    /// truncated spline value (scale f) and one party's AES calls. Error if the keys serve another length.
    pub fn online(&self, keys: &FusedSplineKeys, x: &Shared) -> Result<(Shared, u64)> {
        self.check_input(keys, x, None)?;
        let [x0, x1] = x.shares.halves();
        let parts: Vec<(Vec<u64>, Vec<u64>, u64)> = keys
            .chunks
            .par_iter()
            .enumerate()
            .map(|(ci, ch)| {
                let lo = ci * CHUNK;
                let hi = lo + ch.r.halves()[0].len();
                let xs = Pair::from_halves(&x0[lo..hi], &x1[lo..hi]);
                // Each party's masked share, then the exchange: both add what they hold and what they received.
                let masked = Pair::build(|v| v.own(&xs).iter().zip(v.own(&ch.r)).map(|(a, r)| a.wrapping_add(*r)).collect::<Vec<u64>>());
                let [m0, m1] = masked.halves();
                let y: Vec<u64> = m0.iter().zip(m1).map(|(a, b)| a.wrapping_add(*b)).collect();
                self.eval_chunk(ch, &y)
            })
            .collect();
        let (mut s0, mut s1, mut ec) = (Vec::with_capacity(x.len()), Vec::with_capacity(x.len()), 0);
        for (a, b, c) in parts {
            s0.extend(a);
            s1.extend(b);
            ec += c;
        }
        Ok((Shared { meta: x.meta.clone(), shares: Pair::from_halves(s0, s1) }, ec))
    }
}

impl FusedSplineGate {
    /// Refuses keys, shares or messages of another length (or scale) than the keys serve.
    fn check_input(&self, keys: &FusedSplineKeys, x: &Shared, received: Option<usize>) -> Result<()> {
        if keys.len != x.len() || x.meta.scale != self.f || received.is_some_and(|r| r != keys.len) {
            return Err(MpcError::InvalidParameter {
                name: "fused gate input",
                value: format!(
                    "{} elements at scale {}{} for keys of {} elements at scale {}",
                    x.len(),
                    x.meta.scale,
                    received.map_or(String::new(), |r| format!(", a received message of {r} words")),
                    keys.len,
                    self.f
                ),
                hint: "deal keys for the value they are used with (same length, scale f) and pass the other party's message for the same value",
            });
        }
        Ok(())
    }

    /// One party's message of the gate's opening: its share of x plus its mask share, x_p + r_p (8 B per element).
    /// Error if the keys serve another length.
    pub fn masked_share(&self, party: Party, keys: &FusedSplineKeys, x: &Shared) -> Result<Vec<u64>> {
        self.check_input(keys, x, None)?;
        let xp = &x.shares.halves()[party.index()];
        let mut msg = vec![0u64; x.len()];
        msg.par_chunks_mut(CHUNK).zip(xp.par_chunks(CHUNK)).zip(keys.chunks.par_iter()).for_each(|((m, xs), ch)| {
            let r = &ch.r.halves()[party.index()];
            m.iter_mut().zip(xs.iter().zip(r)).for_each(|(o, (a, b))| *o = a.wrapping_add(*b));
        });
        Ok(msg)
    }

    /// **One party's** online phase on pre-dealt keys, as that party runs it on its own machine: it adds its mask
    /// share to its share of x (the message it sends, [`Self::masked_share`]), adds the message it `received` from
    /// the other party (y = x + r, opened), then evaluates its m keys at z = y + 2^(n−1) mod N and combines them with
    /// the public terms. Only `party`'s halves of x and of the keys are read. Chunks run in parallel (rayon's pool).
    /// Returns this party's share of the truncated spline value (scale f) and its AES calls; the two parties'
    /// shares are exactly those of [`Self::online`] (same function per chunk). Error if the keys, the share or the
    /// received message have another length.
    pub fn online_party(&self, party: Party, keys: &FusedSplineKeys, x: &Shared, received: &[u64]) -> Result<(Vec<u64>, u64)> {
        self.check_input(keys, x, Some(received.len()))?;
        let xp = &x.shares.halves()[party.index()];
        let mut out = vec![0u64; x.len()];
        let aes = out
            .par_chunks_mut(CHUNK)
            .zip(xp.par_chunks(CHUNK).zip(received.par_chunks(CHUNK)))
            .zip(keys.chunks.par_iter())
            .map(|((o, (xs, rec)), ch)| {
                let (r, konst, dk) = (&ch.r.halves()[party.index()], &ch.konst.halves()[party.index()], &ch.keys.halves()[party.index()]);
                // Own masked share + the other party's: the opened y.
                let y: Vec<u64> = xs.iter().zip(r).zip(rec).map(|((a, b), c)| a.wrapping_add(*b).wrapping_add(*c)).collect();
                let terms = self.public_terms(&y);
                self.eval_party(konst, dk, &terms, o)
            })
            .sum();
        Ok((out, aes))
    }
}

/// A fresh seed for [`FusedSplineGate::deal`] from a seeded CSPRNG (for benches and tests).
pub fn seed_from(seed: u64) -> [u8; 32] {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let mut s = [0u8; 32];
    r.fill_bytes(&mut s);
    s
}
