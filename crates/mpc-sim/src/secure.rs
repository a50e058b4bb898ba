//! The secure two-party session: real protocols on additive shares over Z_{2^64}, every message through the
//! metered [`Channel`], correlated randomness from the [`Dealer`].
//!
//! # Protocols (per element, bytes sent by one party)
//! - **Beaver product** (1 round, 16 B): open ε = x − a, δ = y − b; z_p = c_p + ε·b_p + δ·a_p (+ ε·δ for P0).
//! - **Square** (1 round, 8 B): open ε = x − a; z_p = s_p + 2ε·a_p (+ ε² for P0).
//! - **Local truncation** (SecureML; 0 rounds; shown for f bits, [`Evaluator::truncate_bits`] removes any k ≤ 62
//!   bits the same way with k for f): P0 takes x_0 >> f (arithmetic), P1 takes −((−x_1) >> f). If the
//!   shares do not wrap (x_0 + x_1 = x over the integers, taken as signed) the result is ⌊x_0/2^f⌋ + ⌈x_1/2^f⌉ =
//!   ⌊x/2^f⌋ + e with e ∈ {0, 1}. They wrap with probability |x|/2^64 (x_0 is uniform); then the result is off by
//!   ±2^(64−f) — a huge error, rare for small |x| (≈ 2^−27 for |x| = 10 at scale 2f = 32).
//! - **Dealer-pair truncation** (1 round, 8 B; the "probabilistic truncation with a known top bit" of Escudero et
//!   al., CRYPTO 2020, as SPU's `TruncAPr`): with x' = x + 2^62 ∈ [0, 2^63) (requires |x| < 2^62) and a dealer pair
//!   r, \[r >> 63\], \[(r mod 2^63) >> f\], open c = x' + r. With C = c mod 2^63 and w = c_{63} ⊕ r_{63} (the carry of
//!   x' + (r mod 2^63) into bit 63, linear in the shared top bit of r), x' = C + w·2^63 − (r mod 2^63), so
//!   (C >> f) − ((r mod 2^63) >> f) + w·2^(63−f) − 2^(62−f) = ⌊x/2^f⌋ + e, e ∈ {0, 1} (e is the borrow of the low f
//!   bits, 1 with probability (x mod 2^f)/2^f: stochastic rounding). Exact for every |x| < 2^62; for larger |x| the
//!   result is meaningless (as is the plaintext value, whose next operation overflows).
//! - **LTZ** (8 rounds, 64 B): the sign of x = x_0 + x_1 by arithmetic→binary conversion of the top bit with a carry
//!   tree whose widths halve (SPU semi2k `msb_a2b`). Each share is already a binary sharing of itself; with
//!   y_p = x_p << 1 (bit 0 a neutral (g, p) = (0, 1) slot), generate G = y_0 ∧ y_1 (one AND on 64-bit words: 16 B) and
//!   propagate P = y_0 ⊕ y_1 ⊕ 1 (local). Six levels combine adjacent ranges, G ← G_hi ⊕ (P_hi ∧ G_lo),
//!   P ← P_hi ∧ P_lo, on 32, 16, 8, 4, 2, 1 groups; the bits are first permuted (6-bit index reversal) so that
//!   "adjacent" is "high half, low half" of the word. Each level opens 4 words of its width, at least a byte
//!   (16, 8, 4, 4, 4, 4 B): 7 rounds and 56 B, SPU's measured figures. The final G is the carry into bit 63 and
//!   msb = x_{0,63} ⊕ x_{1,63} ⊕ G. Binary→arithmetic of that bit (1 round, 8 B): m = m_0 + m_1 − 2·m_0·m_1 with the
//!   private-input product of the dealer (P0 opens m_0 − α, P1 opens m_1 − β).
//! - **Matrix product** (1 round, 8(mk + kn) B in total): open E = X − A, F = Y − B;
//!   Z_p = C_p + E·B_p + A_p·F (+ E·F for P0).
//! - **Reveal** (1 round, 8 B): each party sends its share.
//! - **Input sharing** (1 round, 8 B from the owner only): the owner of x draws r uniform from the session's seeded
//!   input CSPRNG, keeps x − r and sends r to the other party. (A seed-based variant — the receiver's share is a PRG
//!   expansion of a seed agreed once — would send nothing per element; this simulation meters the plain one, so
//!   every reported inference includes its input sharing.)
//!
//! # Dealer streams are never replayed
//! Neither `Session` nor [`Dealer`] is `Clone`: a copy would issue every triple again. A concurrent branch that
//! reuses values set up here (a batch of a model whose weights were masked once) runs in a [`Session::fork`], whose
//! dealer is a [`Dealer::child`] with a fresh seed drawn from this session's dealer.
//!
//! # Views
//! With [`Channel::record_views`] on, each party's view — its own input shares, its half of every piece of dealer
//! material, every message it received, in order — is recorded for the security tests (`tests/security.rs`).

use activation_approx::{FixedPoint, Truncation};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dealer::{
    CHUNK, Dealer, Material, Stream, Word, draw_and, draw_and_pair, draw_beaver, draw_private_product, draw_square, draw_trunc,
};
use crate::error::Result;
use crate::evaluator::{self, Evaluator};
use crate::meter::{Channel, Stats, ViewKind, Wire, WireElem};
use crate::share::{Meta, Pair, Party, Shared, each_party};

/// Send step of a carry level on `2·w` groups: opens P_hi ⊕ a, G_lo ⊕ b (first AND) and P_hi ⊕ a', P_lo ⊕ b'.
#[inline(always)]
fn carry_send<W: Word>(s: [u64; 2], t: &[[W; 3]; 2], w: u32) -> [W; 4] {
    let mask = (1u64 << w) - 1;
    let [g, p] = s;
    let (glo, phi, plo) = (g & mask, (p >> w) & mask, p & mask);
    [
        W::from_u64(phi ^ t[0][0].to_u64()),
        W::from_u64(glo ^ t[0][1].to_u64()),
        W::from_u64(phi ^ t[1][0].to_u64()),
        W::from_u64(plo ^ t[1][1].to_u64()),
    ]
}

/// Receive step: G ← G_hi ⊕ (P_hi ∧ G_lo), P ← P_hi ∧ P_lo from the opened values.
#[inline(always)]
fn carry_recv<W: Word>(g: u64, o: &[W; 4], i: &[W; 4], t: &[[W; 3]; 2], w: u32, first: bool) -> [u64; 2] {
    let mask = (1u64 << w) - 1;
    let x = |j: usize| o[j].to_u64() ^ i[j].to_u64();
    let (d1, e1, d2, e2) = (x(0), x(1), x(2), x(3));
    let and = |d: u64, e: u64, tr: &[W; 3]| {
        let z = tr[2].to_u64() ^ (d & tr[1].to_u64()) ^ (e & tr[0].to_u64());
        if first { z ^ (d & e) } else { z }
    };
    [((g >> w) & mask) ^ and(d1, e1, &t[0]), and(d2, e2, &t[1])]
}

/// Minimum elements per rayon task.
const MIN_LEN: usize = 2048;

/// Zero-initialised per-party output buffers (calloc'd: no pass over them before they are written).
fn zeroed<T: Default + Clone>(n: usize) -> Pair<Vec<T>> {
    Pair::from_halves(vec![T::default(); n], vec![T::default(); n])
}

/// `dst.copy_from_slice(src)` in parallel blocks (large copies fault in fresh pages: on every core).
fn par_copy(dst: &mut [u64], src: &[u64]) {
    const BLOCK: usize = 1 << 15;
    dst.par_chunks_mut(BLOCK).zip(src.par_chunks(BLOCK)).for_each(|(d, s)| d.copy_from_slice(s));
}

/// The session's pool of protocol-internal buffers (messages and carry state), reused from call to call so that a
/// protocol on a large tensor does not fault in fresh pages for every message (buffers above the allocator's mmap
/// threshold would otherwise be mapped and unmapped at every step). Outputs are never pooled.
#[derive(Default)]
struct Scratch {
    w64x2: Vec<Vec<[u64; 2]>>,
    w32x4: Vec<Vec<[u32; 4]>>,
    w16x4: Vec<Vec<[u16; 4]>>,
    w8x4: Vec<Vec<[u8; 4]>>,
    w64: Vec<Vec<u64>>,
    /// Dealer words kept between a send pass and the receive pass.
    words: Vec<Vec<u64>>,
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.w64x2.len() + self.w32x4.len() + self.w16x4.len() + self.w8x4.len() + self.w64.len() + self.words.len();
        write!(f, "Scratch({n} buffers)")
    }
}

/// An element type with a pool in [`Scratch`].
trait Pooled: Default + Clone {
    fn pool(s: &mut Scratch) -> &mut Vec<Vec<Self>>;
}

macro_rules! pooled {
    ($t:ty, $f:ident) => {
        impl Pooled for $t {
            fn pool(s: &mut Scratch) -> &mut Vec<Vec<Self>> {
                &mut s.$f
            }
        }
    };
}
pooled!([u64; 2], w64x2);
pooled!([u32; 4], w32x4);
pooled!([u16; 4], w16x4);
pooled!([u8; 4], w8x4);
pooled!(u64, w64);

impl Scratch {
    /// Two buffers of `n` elements (contents unspecified: every pass overwrites all of its output).
    fn take<T: Pooled>(&mut self, n: usize) -> Pair<Vec<T>> {
        let pool = T::pool(self);
        let mut get = || {
            let mut v = pool.pop().unwrap_or_default();
            v.truncate(n);
            v.resize(n, T::default());
            v
        };
        let (a, b) = (get(), get());
        Pair::from_halves(a, b)
    }

    /// One buffer of `n` words (for dealer words kept between two passes).
    fn take_words(&mut self, n: usize) -> Vec<u64> {
        let mut v = self.words.pop().unwrap_or_default();
        v.truncate(n);
        v.resize(n, 0);
        v
    }

    /// Returns both halves to the pool.
    fn give<T: Pooled>(&mut self, p: Pair<Vec<T>>) {
        let pool = T::pool(self);
        pool.extend(p.into_halves());
    }
}

/// One pass of both parties over their outputs in chunks of [`CHUNK`] elements (chunks in parallel):
/// `f(ci, range, [out_0, out_1])`, where `f` draws chunk ci of the dealer material it needs and runs each party on
/// its own output chunk with [`each_party`]. Chunk i of a [`Stream`] is elements `range` of that material, so the
/// material is used exactly as if dealt whole, without ever holding all of it in memory.
fn pass1<A: Send>(out: &mut Pair<Vec<A>>, f: impl Fn(usize, std::ops::Range<usize>, [&mut [A]; 2]) + Sync) {
    let [o0, o1] = out.halves_mut();
    o0.par_chunks_mut(CHUNK).zip(o1.par_chunks_mut(CHUNK)).enumerate().for_each(|(ci, (c0, c1))| {
        let r = ci * CHUNK..ci * CHUNK + c0.len();
        f(ci, r, [c0, c1]);
    });
}

/// [`pass1`] that also draws dealer words into `w` (`k` words per element, chunked alongside the outputs), for a
/// later pass to read again with [`Material::kept`].
fn pass1w<A: Send>(
    out: &mut Pair<Vec<A>>,
    w: &mut [u64],
    k: usize,
    f: impl Fn(usize, std::ops::Range<usize>, [&mut [A]; 2], &mut [u64]) + Sync,
) {
    let [o0, o1] = out.halves_mut();
    o0.par_chunks_mut(CHUNK).zip(o1.par_chunks_mut(CHUNK)).zip(w.par_chunks_mut(CHUNK * k)).enumerate().for_each(
        |(ci, ((c0, c1), w))| {
            let r = ci * CHUNK..ci * CHUNK + c0.len();
            f(ci, r, [c0, c1], w);
        },
    );
}

/// [`pass1w`] with two outputs of the same length per party.
#[allow(clippy::type_complexity)]
fn pass2w<A: Send, B: Send>(
    a: &mut Pair<Vec<A>>,
    b: &mut Pair<Vec<B>>,
    w: &mut [u64],
    k: usize,
    f: impl Fn(usize, std::ops::Range<usize>, [(&mut [A], &mut [B]); 2], &mut [u64]) + Sync,
) {
    let [a0, a1] = a.halves_mut();
    let [b0, b1] = b.halves_mut();
    a0.par_chunks_mut(CHUNK)
        .zip(a1.par_chunks_mut(CHUNK))
        .zip(b0.par_chunks_mut(CHUNK).zip(b1.par_chunks_mut(CHUNK)))
        .zip(w.par_chunks_mut(CHUNK * k))
        .enumerate()
        .for_each(|(ci, (((x0, x1), (y0, y1)), w))| {
            let r = ci * CHUNK..ci * CHUNK + x0.len();
            f(ci, r, [(x0, y0), (x1, y1)], w);
        });
}

/// The `k`-words-per-element dealer words of chunk `ci` kept in `w` by [`pass1w`] / [`pass2w`].
fn kept_chunk(w: &[u64], k: usize, ci: usize, len: usize) -> &[u64] {
    &w[ci * CHUNK * k..(ci * CHUNK + len) * k]
}

/// Settings of a secure session.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SessionConfig {
    /// Fixed-point setting.
    pub fx: FixedPoint,
    /// Truncation protocol.
    pub truncation: Truncation,
    /// Seed of the dealer and of input sharing.
    pub seed: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig { fx: FixedPoint::default(), truncation: Truncation::Local, seed: 0 }
    }
}

/// A two-party session: channel + dealer + the input owner's randomness. Not `Clone` (see the module docs); use
/// [`Session::fork`] for a concurrent branch.
#[derive(Debug)]
pub struct Session {
    cfg: SessionConfig,
    chan: Channel,
    dealer: Dealer,
    input_rng: ChaCha8Rng,
    scratch: Scratch,
}

impl Session {
    /// A session with the given settings.
    pub fn new(cfg: SessionConfig) -> Self {
        Session {
            cfg,
            chan: Channel::new(),
            dealer: Dealer::new(cfg.seed),
            input_rng: ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5EED_1A7E_u64.rotate_left(32)),
            scratch: Scratch::default(),
        }
    }

    /// A session for a concurrent branch that reuses values prepared here (e.g. one batch of a model whose weights
    /// were shared and masked by [`Evaluator::fix_right`] in this session): the same settings, a fresh channel (the
    /// branch's costs are metered there), a [`Dealer::child`] of this session's dealer and an input CSPRNG seeded
    /// from this session's. Forks never share dealer material with each other or with this session.
    pub fn fork(&mut self) -> Session {
        Session {
            cfg: self.cfg,
            chan: Channel::new(),
            dealer: self.dealer.child(),
            input_rng: ChaCha8Rng::from_seed(self.input_rng.random()),
            scratch: Scratch::default(),
        }
    }

    /// Its settings.
    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }

    /// The metered channel (read its [`Channel::total`] and [`Channel::by_label`]).
    pub fn channel(&self) -> &Channel {
        &self.chan
    }

    /// The channel, mutably (to start transcript recording).
    pub fn channel_mut(&mut self) -> &mut Channel {
        &mut self.chan
    }

    /// Totals so far.
    pub fn total(&self) -> Stats {
        self.chan.total()
    }

    /// Zeroes the meter.
    pub fn reset_meter(&mut self) {
        self.chan.reset();
    }

    /// Dealer material, its per-party size counted as offline bytes (and recorded in each party's view when views
    /// are recorded).
    fn deal<M: Wire>(&mut self, f: impl FnOnce(&mut Dealer) -> Pair<M>) -> Pair<M> {
        let m = f(&mut self.dealer);
        self.chan.offline(m.halves().each_ref().map(Wire::byte_len));
        if self.chan.is_recording() {
            self.chan.record(ViewKind::Dealt, m.halves().each_ref().map(Wire::words));
        }
        m
    }

    /// A deferred dealer request for `n` elements drawn by `draw` (chunk by chunk, by the passes that use it), its
    /// per-party size counted now as offline bytes, exactly as [`Session::deal`] counts the same material. When
    /// views are recorded, both halves are expanded once here into the views (the passes draw the same words).
    fn deal_stream<T: WireElem, const K: usize, F: Fn(&[u64; K]) -> (T, T)>(&mut self, n: usize, draw: F) -> Stream {
        let b = (n * std::mem::size_of::<T>()) as u64;
        self.chan.offline([b, b]);
        let s = self.dealer.stream();
        if self.chan.is_recording() {
            let mut w = vec![0u64; CHUNK * K];
            let mut halves = [Vec::new(), Vec::new()];
            for ci in 0..n.div_ceil(CHUNK) {
                let len = CHUNK.min(n - ci * CHUNK);
                let m = s.chunk_into(ci, &mut w[..len * K], &draw);
                for (p, h) in [Party::P0, Party::P1].into_iter().zip(&mut halves) {
                    m.half(p).for_each(|t| t.push_words(h));
                }
            }
            self.chan.record(ViewKind::Dealt, halves);
        }
        s
    }

    /// Matrix material (several row-major matrices per party), counted and recorded as [`Session::deal`] does.
    fn deal_matrix<const N: usize>(&mut self, f: impl FnOnce(&mut Dealer) -> Pair<[Vec<u64>; N]>) -> Pair<[Vec<u64>; N]> {
        let t = f(&mut self.dealer);
        self.chan.offline(t.halves().each_ref().map(|h| h.iter().map(|v| v.len() as u64 * 8).sum::<u64>()));
        if self.chan.is_recording() {
            self.chan.record(ViewKind::Dealt, t.halves().each_ref().map(|h| h.concat()));
        }
        t
    }

    fn check(&self, op: &'static str, m: &Meta) -> Result<()> {
        m.check_fx(op, &self.cfg.fx)
    }

    /// Local elementwise step of each party on its own share.
    fn local(&self, a: &Shared, meta: Meta, f: impl Fn(Party, u64) -> u64 + Sync) -> Shared {
        let shares = Pair::build(|v| {
            let p = v.party();
            v.own(&a.shares).par_iter().with_min_len(MIN_LEN).map(|&x| f(p, x)).collect()
        });
        Shared { meta, shares }
    }

    fn local2(&self, a: &Shared, b: &Shared, f: impl Fn(u64, u64) -> u64 + Sync) -> Shared {
        let shares = Pair::build(|v| {
            v.own(&a.shares).par_iter().with_min_len(MIN_LEN).zip(v.own(&b.shares)).map(|(&x, &y)| f(x, y)).collect()
        });
        Shared { meta: a.meta.clone(), shares }
    }

    /// Local truncation (SecureML): see the module docs.
    fn trunc_local(&self, a: &Shared, meta: Meta, bits: u32) -> Shared {
        let f = bits;
        self.local(a, meta, move |p, x| match p {
            Party::P0 => ((x as i64) >> f) as u64,
            Party::P1 => (((x.wrapping_neg() as i64) >> f) as u64).wrapping_neg(),
        })
    }

    /// Dealer-pair truncation: see the module docs.
    fn trunc_pair(&mut self, a: &Shared, meta: Meta, bits: u32) -> Shared {
        let f = bits;
        let n = a.len();
        let draw = move |w: &[u64; 4]| draw_trunc(w, f);
        let ts = self.deal_stream(n, draw);
        const OFFSET: u64 = 1 << 62;
        let mut out: Pair<Vec<u64>> = self.scratch.take(n);
        let mut tw = self.scratch.take_words(n * 4);
        pass1w(&mut out, &mut tw, 4, |ci, r, outs, w| {
            let t = ts.chunk_into(ci, w, draw);
            each_party(outs, |v, out| {
                let off = if v.party().is_first() { OFFSET } else { 0 };
                for ((o, &x), t) in out.iter_mut().zip(&v.own(&a.shares)[r.clone()]).zip(v.dealt(&t)) {
                    *o = x.wrapping_add(off).wrapping_add(t[0]);
                }
            });
        });
        let inc = self.chan.exchange(&out);
        let mut shares: Pair<Vec<u64>> = zeroed(n);
        pass1(&mut shares, |ci, r, outs| {
            let t = Material::kept(kept_chunk(&tw, 4, ci, r.len()), draw);
            each_party(outs, |v, z| {
                let first = v.party().is_first();
                let (mine, theirs) = (&v.own(&out)[r.clone()], &v.received(&inc)[r.clone()]);
                for (((z, &mine), &theirs), t) in z.iter_mut().zip(mine).zip(theirs).zip(v.dealt(&t)) {
                    let c = mine.wrapping_add(theirs);
                    let cm = c >> 63;
                    // w = c_63 ⊕ r_63 = c_63 + r_63 − 2·c_63·r_63, on the arithmetic share m_p of r_63.
                    let w = if cm == 1 { (if first { 1u64 } else { 0 }).wrapping_sub(t[1]) } else { t[1] };
                    let mut y = w.wrapping_shl(63 - f).wrapping_sub(t[2]);
                    if first {
                        y = y.wrapping_add((c & (u64::MAX >> 1)) >> f).wrapping_sub(1u64 << (62 - f));
                    }
                    *z = y;
                }
            });
        });
        self.scratch.give(out);
        self.scratch.words.push(tw);
        Shared { meta, shares }
    }

    /// Receive step of carry level k (its dealer words `tw`, kept by the previous pass; width `w`) fused with the
    /// send step of level k + 1 (drawn from `tsn` into `twn`, kept for the next pass; width `wn`): one pass per
    /// level, the carry state (G, P) updated in place; returns level k + 1's message.
    #[allow(clippy::too_many_arguments)]
    fn carry_level<W: Word, V: Word, const K: usize, const KN: usize>(
        &mut self,
        st: &mut Pair<Vec<[u64; 2]>>,
        out: &Pair<Vec<[W; 4]>>,
        tw: &[u64],
        w: u32,
        tsn: Stream,
        twn: &mut Vec<u64>,
        wn: u32,
    ) -> Pair<Vec<[V; 4]>>
    where
        [V; 4]: Pooled,
    {
        let n = out.halves()[0].len();
        let inc = self.chan.exchange(out);
        let mut next: Pair<Vec<[V; 4]>> = self.scratch.take(n);
        twn.truncate(n * KN);
        twn.resize(n * KN, 0);
        pass2w(st, &mut next, twn, KN, |ci, r, outs, wn_chunk| {
            let t = Material::kept(kept_chunk(tw, K, ci, r.len()), draw_and_pair::<W, K>);
            let tn = tsn.chunk_into(ci, wn_chunk, draw_and_pair::<V, KN>);
            each_party(outs, |v, (st, nx)| {
                let first = v.party().is_first();
                let (o, i) = (&v.own(out)[r.clone()], &v.received(&inc)[r.clone()]);
                for ((((s, nx), (o, i)), t), tn) in
                    st.iter_mut().zip(nx.iter_mut()).zip(o.iter().zip(i)).zip(v.dealt(&t)).zip(v.dealt(&tn))
                {
                    *s = carry_recv(s[0], o, i, &t, w, first);
                    *nx = carry_send(*s, &tn, wn);
                }
            });
        });
        next
    }

    /// Arithmetic shares of the top bit of x: SPU-style msb_a2b (7 rounds, 56 B) + b2a (1 round, 8 B).
    fn msb(&mut self, a: &Shared) -> Pair<Vec<u64>> {
        let n = a.len();
        // All dealer material first (the offline phase), as deferred requests: the pass that first needs a
        // level's material (its send step) draws it chunk by chunk into a word buffer that the next pass (its
        // receive step) reads again; two word buffers alternate.
        let s0 = self.deal_stream(n, draw_and::<u64>);
        let s1 = self.deal_stream(n, draw_and_pair::<u32, 5>);
        let s2 = self.deal_stream(n, draw_and_pair::<u16, 3>);
        let s3 = self.deal_stream(n, draw_and_pair::<u8, 2>);
        let s4 = self.deal_stream(n, draw_and_pair::<u8, 2>);
        let s5 = self.deal_stream(n, draw_and_pair::<u8, 2>);
        let s6 = self.deal_stream(n, draw_and_pair::<u8, 2>);
        let sp = self.deal_stream(n, draw_private_product);
        let (mut wa, mut wb) = (self.scratch.take_words(n * 5), self.scratch.take_words(n * 5));
        // Level 0: G = y_0 ∧ y_1 with one AND triple on 64-bit words; P = y_0 ⊕ y_1 ⊕ 1 locally.
        let mut out0: Pair<Vec<[u64; 2]>> = self.scratch.take(n);
        pass1w(&mut out0, &mut wa, 5, |ci, r, outs, w| {
            let t = s0.chunk_into(ci, w, draw_and::<u64>);
            each_party(outs, |v, out| {
                let first = v.party().is_first();
                for ((o, &x), t) in out.iter_mut().zip(&v.own(&a.shares)[r.clone()]).zip(v.dealt(&t)) {
                    let y = crate::ring::bit_reverse_index(x << 1);
                    // P0 holds u = y_0 (its input to the AND), P1 holds v = y_1; the other's input share is 0.
                    *o = if first { [y ^ t[0], t[1]] } else { [t[0], y ^ t[1]] };
                }
            });
        });
        let inc = self.chan.exchange(&out0);
        let mut st: Pair<Vec<[u64; 2]>> = self.scratch.take(n);
        let mut out: Pair<Vec<[u32; 4]>> = self.scratch.take(n);
        pass2w(&mut st, &mut out, &mut wb, 5, |ci, r, outs, w| {
            let t = Material::kept(kept_chunk(&wa, 5, ci, r.len()), draw_and::<u64>);
            let tn = s1.chunk_into(ci, w, draw_and_pair::<u32, 5>);
            each_party(outs, |v, (st, nx)| {
                let first = v.party().is_first();
                let (xs, o, i) = (&v.own(&a.shares)[r.clone()], &v.own(&out0)[r.clone()], &v.received(&inc)[r.clone()]);
                for ((((s, nx), (&x, (o, i))), t), tn) in
                    st.iter_mut().zip(nx.iter_mut()).zip(xs.iter().zip(o.iter().zip(i))).zip(v.dealt(&t)).zip(v.dealt(&tn))
                {
                    let (d, e) = (o[0] ^ i[0], o[1] ^ i[1]);
                    let mut g = t[2] ^ (d & t[1]) ^ (e & t[0]);
                    if first {
                        g ^= d & e;
                    }
                    let p = crate::ring::bit_reverse_index((x << 1) | u64::from(first));
                    *s = [g, p];
                    *nx = carry_send([g, p], &tn, 32);
                }
            });
        });
        self.scratch.give(out0);
        let out1 = self.carry_level::<u32, u16, 5, 3>(&mut st, &out, &wb, 32, s2, &mut wa, 16);
        self.scratch.give(out);
        let out2 = self.carry_level::<u16, u8, 3, 2>(&mut st, &out1, &wa, 16, s3, &mut wb, 8);
        self.scratch.give(out1);
        let out3 = self.carry_level::<u8, u8, 2, 2>(&mut st, &out2, &wb, 8, s4, &mut wa, 4);
        self.scratch.give(out2);
        let out4 = self.carry_level::<u8, u8, 2, 2>(&mut st, &out3, &wa, 4, s5, &mut wb, 2);
        self.scratch.give(out3);
        let out = self.carry_level::<u8, u8, 2, 2>(&mut st, &out4, &wb, 2, s6, &mut wa, 1);
        self.scratch.give(out4);
        // Last level, then the binary shares of the msb (kept in st[·][0]) and the b2a message, in one pass.
        let inc = self.chan.exchange(&out);
        let mut outb: Pair<Vec<u64>> = self.scratch.take(n);
        wb.truncate(n * 3);
        wb.resize(n * 3, 0);
        pass2w(&mut st, &mut outb, &mut wb, 3, |ci, r, outs, w| {
            let t = Material::kept(kept_chunk(&wa, 2, ci, r.len()), draw_and_pair::<u8, 2>);
            let q = sp.chunk_into(ci, w, draw_private_product);
            each_party(outs, |v, (st, ob)| {
                let first = v.party().is_first();
                let (xs, o, i) = (&v.own(&a.shares)[r.clone()], &v.own(&out)[r.clone()], &v.received(&inc)[r.clone()]);
                for ((((s, ob), (&x, (o, i))), t), q) in
                    st.iter_mut().zip(ob.iter_mut()).zip(xs.iter().zip(o.iter().zip(i))).zip(v.dealt(&t)).zip(v.dealt(&q))
                {
                    let c = carry_recv(s[0], o, i, &t, 1, first);
                    let m = (x >> 63) ^ (c[0] & 1);
                    s[0] = m;
                    *ob = m.wrapping_sub(q[0]);
                }
            });
        });
        self.scratch.give(out);
        // Binary → arithmetic with the private-input product.
        let inc = self.chan.exchange(&outb);
        let mut res: Pair<Vec<u64>> = zeroed(n);
        pass1(&mut res, |ci, r, outs| {
            let q = Material::kept(kept_chunk(&wb, 3, ci, r.len()), draw_private_product);
            each_party(outs, |v, res| {
                let first = v.party().is_first();
                let (st, o, i) = (&v.own(&st)[r.clone()], &v.own(&outb)[r.clone()], &v.received(&inc)[r.clone()]);
                for ((z, (s, (&mine, &theirs))), q) in res.iter_mut().zip(st.iter().zip(o.iter().zip(i))).zip(v.dealt(&q)) {
                    // P0: s = mine, t = theirs; product share s·t + t·α + γ_0. P1: t = mine, s = theirs; s·β + γ_1.
                    let prod = if first {
                        mine.wrapping_mul(theirs).wrapping_add(theirs.wrapping_mul(q[0])).wrapping_add(q[1])
                    } else {
                        theirs.wrapping_mul(q[0]).wrapping_add(q[1])
                    };
                    *z = s[0].wrapping_sub(prod.wrapping_mul(2));
                }
            });
        });
        self.scratch.give(outb);
        self.scratch.give(st);
        self.scratch.words.extend([wa, wb]);
        res
    }

    /// Input sharing by `owner` (see the module docs): it keeps x − r and sends r (1 round, 8 B per element).
    fn share(&mut self, owner: Party, xs: &[i64], meta: Meta) -> Shared {
        let seed: [u8; 32] = self.input_rng.random();
        let mut r = vec![0u64; xs.len()];
        let mut own = vec![0u64; xs.len()];
        r.par_chunks_mut(CHUNK).zip(own.par_chunks_mut(CHUNK)).zip(xs.par_chunks(CHUNK)).enumerate().for_each(
            |(ci, ((c0, c1), x))| {
                let mut rng = ChaCha8Rng::from_seed(seed);
                rng.set_stream(ci as u64);
                for ((a, b), &x) in c0.iter_mut().zip(c1.iter_mut()).zip(x) {
                    *a = rng.next_u64();
                    *b = (x as u64).wrapping_sub(*a);
                }
            },
        );
        if self.chan.is_recording() {
            let mine = |p: Party| if p == owner { own.clone() } else { Vec::new() };
            self.chan.record(ViewKind::OwnShare, [mine(Party::P0), mine(Party::P1)]);
        }
        // The owner's half of the message is r; the other party sends nothing.
        let msg = if owner.is_first() { Pair::from_halves(r, Vec::new()) } else { Pair::from_halves(Vec::new(), r) };
        self.chan.exchange(&msg);
        // What the other party received is the owner's half of the message.
        let [m0, m1] = msg.into_halves();
        let shares = if owner.is_first() { Pair::from_halves(own, m0) } else { Pair::from_halves(m1, own) };
        Shared { meta, shares }
    }
}

/// A right operand prepared by [`Evaluator::fix_right`]: each party's share of the dealer mask B and the opened
/// F = W − B (public to both parties).
#[derive(Debug, Clone)]
pub struct FixedShared {
    meta: Meta,
    mask: Pair<Vec<u64>>,
    opened: Vec<u64>,
}

impl FixedShared {
    /// Fixed-point setting, scale and shape of W.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }
}

impl Evaluator for Session {
    type Value = Shared;
    type Fixed = FixedShared;

    fn fixed_point(&self) -> FixedPoint {
        self.cfg.fx
    }

    fn meta(v: &Shared) -> &Meta {
        &v.meta
    }

    fn input_raw(&mut self, owner: Party, xs: &[i64], shape: &[usize], scale: u32) -> Result<Shared> {
        Meta::check_len(xs.len(), shape)?;
        Ok(self.share(owner, xs, Meta { fx: self.cfg.fx, scale, shape: shape.to_vec() }))
    }

    fn reveal_raw(&mut self, v: &Shared) -> Result<Vec<i64>> {
        self.check("reveal", &v.meta)?;
        let inc = self.chan.exchange(&v.shares);
        let opened: Pair<Vec<i64>> = Pair::build(|p| {
            p.own(&v.shares).par_iter().with_min_len(MIN_LEN).zip(p.received(&inc)).map(|(&a, &b)| a.wrapping_add(b) as i64).collect()
        });
        Ok(opened.into_first())
    }

    fn reveal_to_raw(&mut self, v: &Shared, to: Party) -> Result<Vec<i64>> {
        self.check("reveal", &v.meta)?;
        // The sender ships its share; the receiver sends nothing.
        let out = Pair::build(|p| if p.party() == to { Vec::new() } else { p.own(&v.shares).clone() });
        let inc = self.chan.exchange(&out);
        let opened = Pair::build(|p| {
            if p.party() != to {
                return Vec::new();
            }
            p.own(&v.shares).iter().zip(p.received(&inc)).map(|(&a, &b)| a.wrapping_add(b) as i64).collect::<Vec<i64>>()
        });
        Ok(opened.corrupt(to).clone())
    }

    fn add(&mut self, a: &Shared, b: &Shared) -> Result<Shared> {
        self.check("add", &a.meta)?;
        a.meta.check_same("add", &b.meta)?;
        Ok(self.local2(a, b, u64::wrapping_add))
    }

    fn sub(&mut self, a: &Shared, b: &Shared) -> Result<Shared> {
        self.check("sub", &a.meta)?;
        a.meta.check_same("sub", &b.meta)?;
        Ok(self.local2(a, b, u64::wrapping_sub))
    }

    fn neg(&mut self, a: &Shared) -> Result<Shared> {
        self.check("neg", &a.meta)?;
        Ok(self.local(a, a.meta.clone(), |_, x| x.wrapping_neg()))
    }

    fn add_const_raw(&mut self, a: &Shared, c: i64) -> Result<Shared> {
        self.check("add_const", &a.meta)?;
        Ok(self.local(a, a.meta.clone(), |p, x| if p.is_first() { x.wrapping_add(c as u64) } else { x }))
    }

    fn mul_const_raw(&mut self, a: &Shared, k: i64, k_scale: u32) -> Result<Shared> {
        self.check("mul_const", &a.meta)?;
        let meta = a.meta.with_scale(Meta::product_scale("mul_const", a.meta.scale, k_scale)?);
        Ok(self.local(a, meta, |_, x| x.wrapping_mul(k as u64)))
    }

    fn concat(&mut self, vs: &[&Shared]) -> Result<Shared> {
        let meta = evaluator::concat_meta(self.cfg.fx, &vs.iter().map(|v| &v.meta).collect::<Vec<_>>())?;
        let shares = Pair::build(|p| {
            let mut out = vec![0u64; vs.iter().map(|v| v.len()).sum()];
            let mut rest = out.as_mut_slice();
            for v in vs {
                let (dst, r) = rest.split_at_mut(v.len());
                par_copy(dst, p.own(&v.shares).as_slice());
                rest = r;
            }
            out
        });
        Ok(Shared { meta, shares })
    }

    fn split(&mut self, v: &Shared, sizes: &[usize]) -> Result<Vec<Shared>> {
        self.check("split", &v.meta)?;
        evaluator::check_split(v.len(), sizes)?;
        let mut out = Vec::with_capacity(sizes.len());
        let mut start = 0;
        for &s in sizes {
            let shares = Pair::build(|p| {
                let mut out = vec![0u64; s];
                par_copy(&mut out, &p.own(&v.shares)[start..start + s]);
                out
            });
            out.push(Shared { meta: v.meta.with_shape(vec![s]), shares });
            start += s;
        }
        Ok(out)
    }

    fn reshape(&mut self, v: &Shared, shape: &[usize]) -> Result<Shared> {
        self.check("reshape", &v.meta)?;
        Meta::check_len(v.len(), shape)?;
        let shares = Pair::build(|p| {
            let mut out = vec![0u64; v.len()];
            par_copy(&mut out, p.own(&v.shares).as_slice());
            out
        });
        Ok(Shared { meta: v.meta.with_shape(shape.to_vec()), shares })
    }

    fn gather(&mut self, v: &Shared, idx: &[Option<usize>], shape: &[usize]) -> Result<Shared> {
        self.check("gather", &v.meta)?;
        evaluator::check_gather(v.len(), idx, shape)?;
        let shares = Pair::build(|p| {
            let s = p.own(&v.shares);
            idx.par_iter().with_min_len(MIN_LEN).map(|i| i.map_or(0, |i| s[i])).collect()
        });
        Ok(Shared { meta: v.meta.with_shape(shape.to_vec()), shares })
    }

    fn sum_groups(&mut self, v: &Shared, group: usize, shape: &[usize]) -> Result<Shared> {
        self.check("sum_groups", &v.meta)?;
        evaluator::check_groups(v.len(), group, shape)?;
        let shares = Pair::build(|p| {
            p.own(&v.shares).par_chunks(group).map(|c| c.iter().fold(0u64, |a, &x| a.wrapping_add(x))).collect()
        });
        Ok(Shared { meta: v.meta.with_shape(shape.to_vec()), shares })
    }

    fn matmul_public_raw(&mut self, a: &Shared, w: &[i64], n: usize, w_scale: u32) -> Result<Shared> {
        self.check("matmul_public", &a.meta)?;
        let (m, k) = evaluator::check_matmul_public(&a.meta, w.len(), n)?;
        let scale = Meta::product_scale("matmul_public", a.meta.scale, w_scale)?;
        let wu: Vec<u64> = w.iter().map(|&x| x as u64).collect();
        let shares = Pair::build(|p| crate::ring::matmul(p.own(&a.shares).as_slice(), &wu, m, k, n));
        Ok(Shared { meta: Meta { fx: self.cfg.fx, scale, shape: vec![m, n] }, shares })
    }

    fn lincomb_raw(&mut self, terms: &[(&Shared, i64)], k_scale: u32, constant: i64) -> Result<Shared> {
        let first = evaluator::check_lincomb(&terms.iter().map(|(v, _)| &v.meta).collect::<Vec<_>>())?;
        self.check("lincomb", first)?;
        let meta = first.with_scale(Meta::product_scale("lincomb", first.scale, k_scale)?);
        let n = first.len();
        let shares = Pair::build(|v| {
            let add_c = v.party().is_first();
            let srcs: Vec<(&[u64], u64)> = terms.iter().map(|(x, k)| (v.own(&x.shares).as_slice(), *k as u64)).collect();
            let mut out = vec![0u64; n];
            out.par_chunks_mut(MIN_LEN).enumerate().for_each(|(ci, chunk)| {
                let base = ci * MIN_LEN;
                let len = chunk.len();
                chunk.fill(if add_c { constant as u64 } else { 0 });
                for (src, k) in &srcs {
                    for (o, &x) in chunk.iter_mut().zip(&src[base..base + len]) {
                        *o = o.wrapping_add(x.wrapping_mul(*k));
                    }
                }
            });
            out
        });
        Ok(Shared { meta, shares })
    }

    fn mul_raw(&mut self, a: &Shared, b: &Shared) -> Result<Shared> {
        self.check("mul", &a.meta)?;
        let meta = evaluator::product_meta("mul", &a.meta, &b.meta)?;
        let n = a.len();
        let ts = self.deal_stream(n, draw_beaver);
        let mut out: Pair<Vec<[u64; 2]>> = self.scratch.take(n);
        let mut tw = self.scratch.take_words(n * 5);
        pass1w(&mut out, &mut tw, 5, |ci, r, outs, w| {
            let t = ts.chunk_into(ci, w, draw_beaver);
            each_party(outs, |v, out| {
                let (xs, ys) = (&v.own(&a.shares)[r.clone()], &v.own(&b.shares)[r.clone()]);
                for (((o, &x), &y), t) in out.iter_mut().zip(xs).zip(ys).zip(v.dealt(&t)) {
                    *o = [x.wrapping_sub(t[0]), y.wrapping_sub(t[1])];
                }
            });
        });
        let inc = self.chan.exchange(&out);
        let mut shares: Pair<Vec<u64>> = zeroed(n);
        pass1(&mut shares, |ci, r, outs| {
            let t = Material::kept(kept_chunk(&tw, 5, ci, r.len()), draw_beaver);
            each_party(outs, |v, zs| {
                let first = v.party().is_first();
                let (o, i) = (&v.own(&out)[r.clone()], &v.received(&inc)[r.clone()]);
                for ((zo, (o, i)), t) in zs.iter_mut().zip(o.iter().zip(i)).zip(v.dealt(&t)) {
                    let (e, d) = (o[0].wrapping_add(i[0]), o[1].wrapping_add(i[1]));
                    let z = t[2].wrapping_add(e.wrapping_mul(t[1])).wrapping_add(d.wrapping_mul(t[0]));
                    *zo = if first { z.wrapping_add(e.wrapping_mul(d)) } else { z };
                }
            });
        });
        self.scratch.give(out);
        self.scratch.words.push(tw);
        Ok(Shared { meta, shares })
    }

    fn square_raw(&mut self, a: &Shared) -> Result<Shared> {
        self.check("square", &a.meta)?;
        let meta = evaluator::product_meta("square", &a.meta, &a.meta)?;
        let n = a.len();
        let ts = self.deal_stream(n, draw_square);
        let mut out: Pair<Vec<u64>> = self.scratch.take(n);
        let mut tw = self.scratch.take_words(n * 3);
        pass1w(&mut out, &mut tw, 3, |ci, r, outs, w| {
            let t = ts.chunk_into(ci, w, draw_square);
            each_party(outs, |v, out| {
                for ((o, &x), t) in out.iter_mut().zip(&v.own(&a.shares)[r.clone()]).zip(v.dealt(&t)) {
                    *o = x.wrapping_sub(t[0]);
                }
            });
        });
        let inc = self.chan.exchange(&out);
        let mut shares: Pair<Vec<u64>> = zeroed(n);
        pass1(&mut shares, |ci, r, outs| {
            let t = Material::kept(kept_chunk(&tw, 3, ci, r.len()), draw_square);
            each_party(outs, |v, zs| {
                let first = v.party().is_first();
                let (o, i) = (&v.own(&out)[r.clone()], &v.received(&inc)[r.clone()]);
                for ((zo, (&o, &i)), t) in zs.iter_mut().zip(o.iter().zip(i)).zip(v.dealt(&t)) {
                    let e = o.wrapping_add(i);
                    let z = t[1].wrapping_add(e.wrapping_mul(t[0]).wrapping_mul(2));
                    *zo = if first { z.wrapping_add(e.wrapping_mul(e)) } else { z };
                }
            });
        });
        self.scratch.give(out);
        self.scratch.words.push(tw);
        Ok(Shared { meta, shares })
    }

    fn truncate_bits(&mut self, a: &Shared, bits: u32) -> Result<Shared> {
        self.check("truncate", &a.meta)?;
        let scale = evaluator::check_truncate_bits(&a.meta, bits)?;
        let meta = a.meta.with_scale(scale);
        Ok(match self.cfg.truncation {
            Truncation::Local => self.trunc_local(a, meta, bits),
            Truncation::DealerPair => self.trunc_pair(a, meta, bits),
        })
    }

    fn ltz(&mut self, a: &Shared) -> Result<Shared> {
        self.check("ltz", &a.meta)?;
        let shares = self.msb(a);
        Ok(Shared { meta: a.meta.with_scale(0), shares })
    }

    fn matmul_raw(&mut self, a: &Shared, b: &Shared) -> Result<Shared> {
        self.check("matmul", &a.meta)?;
        let (m, k, n) = evaluator::matmul_dims(&a.meta, &b.meta)?;
        let scale = Meta::product_scale("matmul", a.meta.scale, b.meta.scale)?;
        let t = self.deal_matrix(|d| d.matrix(m, k, n));
        let out: Pair<Vec<u64>> = Pair::build(|v| {
            let [ta, tb, _] = v.own(&t);
            let x = v.own(&a.shares).iter().zip(ta).map(|(x, a)| x.wrapping_sub(*a));
            let y = v.own(&b.shares).iter().zip(tb).map(|(y, b)| y.wrapping_sub(*b));
            x.chain(y).collect()
        });
        let inc = self.chan.exchange(&out);
        let shares = Pair::build(|v| {
            let [ta, tb, tc] = v.own(&t);
            let opened: Vec<u64> = v.own(&out).iter().zip(v.received(&inc)).map(|(o, i)| o.wrapping_add(*i)).collect();
            let (e, f) = opened.split_at(m * k);
            let eb = crate::ring::matmul(e, tb, m, k, n);
            let af = crate::ring::matmul(ta, f, m, k, n);
            let mut z: Vec<u64> =
                tc.iter().zip(&eb).zip(&af).map(|((c, x), y)| c.wrapping_add(*x).wrapping_add(*y)).collect();
            if v.party().is_first() {
                let ef = crate::ring::matmul(e, f, m, k, n);
                z.iter_mut().zip(&ef).for_each(|(z, x)| *z = z.wrapping_add(*x));
            }
            z
        });
        Ok(Shared { meta: Meta { fx: self.cfg.fx, scale, shape: vec![m, n] }, shares })
    }

    fn fix_right(&mut self, w: &Shared) -> Result<FixedShared> {
        self.check("fix_right", &w.meta)?;
        let (k, n) = evaluator::fixed_dims(&w.meta)?;
        let mask = self.deal(|d| d.matrix_mask(k, n));
        let out: Pair<Vec<u64>> =
            Pair::build(|v| v.own(&w.shares).iter().zip(v.own(&mask)).map(|(w, b)| w.wrapping_sub(*b)).collect());
        let inc = self.chan.exchange(&out);
        let opened = Pair::build(|v| v.own(&out).iter().zip(v.received(&inc)).map(|(o, i)| o.wrapping_add(*i)).collect::<Vec<u64>>());
        Ok(FixedShared { meta: w.meta.clone(), mask, opened: opened.into_first() })
    }

    fn matmul_fixed_raw(&mut self, a: &Shared, w: &FixedShared) -> Result<Shared> {
        self.check("matmul", &a.meta)?;
        let (m, k, n) = evaluator::matmul_dims(&a.meta, &w.meta)?;
        let scale = Meta::product_scale("matmul", a.meta.scale, w.meta.scale)?;
        let t = self.deal_matrix(|d| d.matrix_for(&w.mask, m, k, n));
        let out: Pair<Vec<u64>> = Pair::build(|v| {
            let [ta, _] = v.own(&t);
            v.own(&a.shares).iter().zip(ta).map(|(x, a)| x.wrapping_sub(*a)).collect()
        });
        let inc = self.chan.exchange(&out);
        let f = &w.opened;
        let shares = Pair::build(|v| {
            let [ta, tc] = v.own(&t);
            let e: Vec<u64> = v.own(&out).iter().zip(v.received(&inc)).map(|(o, i)| o.wrapping_add(*i)).collect();
            let b: &Vec<u64> = v.own(&w.mask);
            let eb = crate::ring::matmul(&e, b, m, k, n);
            let af = crate::ring::matmul(ta, f, m, k, n);
            let mut z: Vec<u64> =
                tc.iter().zip(&eb).zip(&af).map(|((c, x), y)| c.wrapping_add(*x).wrapping_add(*y)).collect();
            if v.party().is_first() {
                let ef = crate::ring::matmul(&e, f, m, k, n);
                z.iter_mut().zip(&ef).for_each(|(z, x)| *z = z.wrapping_add(*x));
            }
            z
        });
        Ok(Shared { meta: Meta { fx: self.cfg.fx, scale, shape: vec![m, n] }, shares })
    }

    fn parallel<T>(&mut self, n: usize, mut f: impl FnMut(&mut Self, usize) -> Result<T>) -> Result<Vec<T>> {
        self.chan.fork();
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            if i > 0 {
                self.chan.next_branch();
            }
            match f(self, i) {
                Ok(v) => out.push(v),
                Err(e) => {
                    self.chan.join();
                    return Err(e);
                }
            }
        }
        self.chan.join();
        Ok(out)
    }

    fn scope<T>(&mut self, label: &str, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.chan.enter(label);
        let r = f(self);
        self.chan.exit();
        r
    }
}
