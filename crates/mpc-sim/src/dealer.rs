//! The trusted dealer: an ideal functionality that hands out input-independent correlated randomness before the
//! inputs are known (CrypTen's TTP/TFP, SPU semi2k's beaver "trusted third party"). Everything is drawn from a
//! seeded ChaCha8 CSPRNG; large requests are split into chunks of [`CHUNK`] elements, chunk i drawing from the
//! stream i of a per-request seed, so the material is the same for any number of threads.
//!
//! | material | party p receives | relation |
//! |---|---|---|
//! | Beaver triple | a_p, b_p, c_p | c = a·b |
//! | square pair | a_p, s_p | s = a² |
//! | truncation pair (f) | r_p, m_p, h_p | m = r >> 63 (the top bit), h = (r mod 2^63) >> f, all arithmetic |
//! | AND triple on W-bit words | a_p, b_p, c_p | c = a & b, XOR-shared |
//! | private-input product | P0: (α, γ_0), P1: (β, γ_1) | γ_0 + γ_1 = α·β |
//! | matrix triple | A_p, B_p, C_p | C = A·B |
//!
//! The session counts the size of every party's half as offline bytes.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::share::{Pair, Party};

/// Elements per independently seeded chunk.
pub const CHUNK: usize = 4096;

/// A fixed-width unsigned word for XOR sharing (u8, u16, u32, u64).
pub trait Word: crate::meter::WireElem + Copy + Send + Sync + Default + std::fmt::Debug + 'static {
    /// Bits in the word.
    const BITS: u32;
    /// The low `BITS` bits of a u64.
    fn from_u64(v: u64) -> Self;
    /// Zero-extension.
    fn to_u64(self) -> u64;
}

macro_rules! word {
    ($t:ty) => {
        impl Word for $t {
            const BITS: u32 = <$t>::BITS;
            #[inline(always)]
            fn from_u64(v: u64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_u64(self) -> u64 {
                self as u64
            }
        }
    };
}
word!(u8);
word!(u16);
word!(u32);
word!(u64);

/// The dealer, with its master CSPRNG. Deliberately not `Clone`: a copy would hand out the same triples again
/// (a reused Beaver triple opens x − a and y − a, whose difference is x − y). Concurrent branches get
/// [`Dealer::child`] dealers instead.
#[derive(Debug)]
pub struct Dealer {
    rng: ChaCha8Rng,
}

impl Dealer {
    /// A dealer seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Dealer { rng: ChaCha8Rng::seed_from_u64(seed) }
    }

    /// A dealer for a concurrent branch (one batch of a model, one parallel session): its seed is 32 fresh bytes
    /// drawn from this dealer's stream, so it is independent of this dealer's past and future material and of
    /// every other child (distinct seeds except with probability ≤ 2^−128 per pair), and nothing is ever issued
    /// twice.
    pub fn child(&mut self) -> Dealer {
        Dealer { rng: ChaCha8Rng::from_seed(self.rng.random()) }
    }

    /// `n` elements of material: `draw` draws one element and returns party 0's and party 1's halves.
    pub fn generate<T: Copy + Default + Send + Sync>(
        &mut self,
        n: usize,
        draw: impl Fn(&mut ChaCha8Rng) -> (T, T) + Sync,
    ) -> Pair<Vec<T>> {
        let seed: [u8; 32] = self.rng.random();
        let mut h0 = vec![T::default(); n];
        let mut h1 = vec![T::default(); n];
        h0.par_chunks_mut(CHUNK).zip(h1.par_chunks_mut(CHUNK)).enumerate().for_each(|(ci, (c0, c1))| {
            let mut rng = ChaCha8Rng::from_seed(seed);
            rng.set_stream(ci as u64);
            for (x0, x1) in c0.iter_mut().zip(c1.iter_mut()) {
                let (a, b) = draw(&mut rng);
                *x0 = a;
                *x1 = b;
            }
        });
        Pair::from_halves(h0, h1)
    }

    /// A deferred request: the seed that [`Dealer::generate`] would draw for it, so that a protocol pass can draw
    /// the material chunk by chunk where it consumes it ([`Stream::chunk`]) instead of holding all of it in memory.
    /// Chunk i of a stream equals elements i·[`CHUNK`].. of the eager request made in the same position.
    pub(crate) fn stream(&mut self) -> Stream {
        Stream { seed: self.rng.random() }
    }

    /// Beaver triples \[a, b, c\] with c = a·b in Z_{2^64}.
    pub fn beaver(&mut self, n: usize) -> Pair<Vec<[u64; 3]>> {
        self.generate(n, |r| draw_beaver(&words(r)))
    }

    /// Square pairs \[a, a²\].
    pub fn square(&mut self, n: usize) -> Pair<Vec<[u64; 2]>> {
        self.generate(n, |r| draw_square(&words(r)))
    }

    /// Truncation pairs \[r, r >> 63, (r mod 2^63) >> f\], all arithmetically shared.
    pub fn trunc(&mut self, n: usize, frac_bits: u32) -> Pair<Vec<[u64; 3]>> {
        self.generate(n, move |r| draw_trunc(&words(r), frac_bits))
    }

    /// AND triples \[a, b, c\] on W-bit words, XOR-shared, c = a & b.
    pub fn and_triples<W: Word>(&mut self, n: usize) -> Pair<Vec<[W; 3]>> {
        self.generate(n, |r| draw_and::<W>(&words(r)))
    }

    /// Two AND triples per element on W-bit words (one carry-tree level: P_hi ∧ G_lo and P_hi ∧ P_lo), drawn from
    /// packed random words (⌈10·W/64⌉ words per element instead of 10).
    pub fn and_triple_pairs<W: Word>(&mut self, n: usize) -> Pair<Vec<[[W; 3]; 2]>> {
        let k = (10 * W::BITS as usize).div_ceil(64);
        self.generate(n, move |r| {
            let mut buf = [0u64; 5];
            buf.iter_mut().take(k).for_each(|w| *w = r.next_u64());
            and_pair_from::<W>(&buf)
        })
    }

    /// Private-input products: party 0 gets (α, γ_0), party 1 gets (β, γ_1), γ_0 + γ_1 = α·β.
    pub fn private_product(&mut self, n: usize) -> Pair<Vec<[u64; 2]>> {
        self.generate(n, |r| draw_private_product(&words(r)))
    }

    /// A fresh mask B (k·n elements, row-major) for a fixed right operand ([`Dealer::matrix_for`] reuses it).
    pub fn matrix_mask(&mut self, k: usize, n: usize) -> Pair<Vec<u64>> {
        self.generate(k * n, |r| (r.next_u64(), r.next_u64()))
    }

    /// Matrix triples for a fixed right operand whose mask is `b` (k×n, from [`Dealer::matrix_mask`]): a fresh A
    /// (m×k) and C = A·B, returned as (A, C) halves. The dealer made B, so it knows both halves.
    pub fn matrix_for(&mut self, b: &Pair<Vec<u64>>, m: usize, k: usize, n: usize) -> Pair<[Vec<u64>; 2]> {
        let a = self.generate(m * k, |r| (r.next_u64(), r.next_u64()));
        let c0 = self.generate(m * n, |r| (r.next_u64(), 0u64));
        let [a0, a1] = a.halves().clone();
        let [b0, b1] = b.halves();
        let asum: Vec<u64> = a0.iter().zip(&a1).map(|(x, y)| x.wrapping_add(*y)).collect();
        let bsum: Vec<u64> = b0.iter().zip(b1).map(|(x, y)| x.wrapping_add(*y)).collect();
        let c = crate::ring::matmul(&asum, &bsum, m, k, n);
        let [c0, _] = c0.halves().clone();
        let c1: Vec<u64> = c.iter().zip(&c0).map(|(x, y)| x.wrapping_sub(*y)).collect();
        Pair::from_halves([a0, c0], [a1, c1])
    }

    /// Matrix triples A (m×k), B (k×n), C = A·B, row-major, returned as (A, B, C) halves.
    pub fn matrix(&mut self, m: usize, k: usize, n: usize) -> Pair<[Vec<u64>; 3]> {
        let a = self.generate(m * k, |r| (r.next_u64(), r.next_u64()));
        let b = self.generate(k * n, |r| (r.next_u64(), r.next_u64()));
        let c0 = self.generate(m * n, |r| (r.next_u64(), 0u64));
        let [a0, a1] = a.halves().clone();
        let [b0, b1] = b.halves().clone();
        let asum: Vec<u64> = a0.iter().zip(&a1).map(|(x, y)| x.wrapping_add(*y)).collect();
        let bsum: Vec<u64> = b0.iter().zip(&b1).map(|(x, y)| x.wrapping_add(*y)).collect();
        let c = crate::ring::matmul(&asum, &bsum, m, k, n);
        let [c0, _] = c0.halves().clone();
        let c1: Vec<u64> = c.iter().zip(&c0).map(|(x, y)| x.wrapping_sub(*y)).collect();
        Pair::from_halves([a0, b0, c0], [a1, b1, c1])
    }
}

/// A deferred dealer request (see [`Dealer::stream`]). Not `Clone`: each request is consumed by the protocol that
/// made it.
#[derive(Debug)]
pub(crate) struct Stream {
    seed: [u8; 32],
}

impl Stream {
    /// Material of chunk `ci` (`len` = dst.len() / K ≤ [`CHUNK`] elements): the same as elements ci·CHUNK.. of the
    /// eager request. The chunk's K·len random words are drawn in bulk into `dst` (the same words, in the same
    /// order, as K `next_u64` per element); `draw` is the dealer's derivation of both halves from them, applied
    /// when a party reads its own half ([`crate::PartyView::dealt`]). The caller keeps `dst` so that a later pass
    /// can read the same chunk again with [`Material::kept`] instead of drawing it twice.
    pub(crate) fn chunk_into<'a, T, const K: usize, F: Fn(&[u64; K]) -> (T, T)>(
        &self,
        ci: usize,
        dst: &'a mut [u64],
        draw: F,
    ) -> Material<'a, T, K, F> {
        self.fill(ci, dst);
        Material { words: dst, draw, _t: std::marker::PhantomData }
    }

    fn fill(&self, ci: usize, dst: &mut [u64]) {
        let mut rng = ChaCha8Rng::from_seed(self.seed);
        rng.set_stream(ci as u64);
        rng.fill(dst);
    }
}

/// One chunk of dealer material: the dealer's random words and its derivation of both parties' halves. A party
/// reads only its own half, through [`crate::PartyView::dealt`].
pub(crate) struct Material<'a, T, const K: usize, F> {
    words: &'a [u64],
    draw: F,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<'a, T, const K: usize, F: Fn(&[u64; K]) -> (T, T)> Material<'a, T, K, F> {
    /// A chunk drawn earlier by [`Stream::chunk_into`] into `words`.
    pub(crate) fn kept(words: &'a [u64], draw: F) -> Self {
        Material { words, draw, _t: std::marker::PhantomData }
    }

    /// Party `p`'s half, element by element.
    pub(crate) fn half(&self, p: Party) -> impl Iterator<Item = T> + '_ {
        self.words.chunks_exact(K).map(move |c| {
            let w: [u64; K] = std::array::from_fn(|i| c[i]);
            let (h0, h1) = (self.draw)(&w);
            if p == Party::P0 { h0 } else { h1 }
        })
    }
}

/// K successive words of `r`.
#[inline(always)]
fn words<const K: usize>(r: &mut ChaCha8Rng) -> [u64; K] {
    std::array::from_fn(|_| r.next_u64())
}

/// One Beaver triple \[a, b, c = a·b\].
#[inline(always)]
pub(crate) fn draw_beaver(w: &[u64; 5]) -> ([u64; 3], [u64; 3]) {
    let [a0, a1, b0, b1, c0] = *w;
    let c = a0.wrapping_add(a1).wrapping_mul(b0.wrapping_add(b1));
    ([a0, b0, c0], [a1, b1, c.wrapping_sub(c0)])
}

/// One square pair \[a, a²\].
#[inline(always)]
pub(crate) fn draw_square(w: &[u64; 3]) -> ([u64; 2], [u64; 2]) {
    let [a0, a1, s0] = *w;
    let a = a0.wrapping_add(a1);
    ([a0, s0], [a1, a.wrapping_mul(a).wrapping_sub(s0)])
}

/// One truncation pair \[r, r >> 63, (r mod 2^63) >> f\].
#[inline(always)]
pub(crate) fn draw_trunc(w: &[u64; 4], frac_bits: u32) -> ([u64; 3], [u64; 3]) {
    let [r, r0, m0, h0] = *w;
    let m = r >> 63;
    let h = (r & (u64::MAX >> 1)) >> frac_bits;
    ([r0, m0, h0], [r.wrapping_sub(r0), m.wrapping_sub(m0), h.wrapping_sub(h0)])
}

/// One AND triple on W-bit words.
#[inline(always)]
pub(crate) fn draw_and<W: Word>(w: &[u64; 5]) -> ([W; 3], [W; 3]) {
    let [a0, a1, b0, b1, c0] = *w;
    let c1 = ((a0 ^ a1) & (b0 ^ b1)) ^ c0;
    let w = W::from_u64;
    ([w(a0), w(b0), w(c0)], [w(a1), w(b1), w(c1)])
}

/// Two AND triples on W-bit words from K = ⌈10·W/64⌉ packed random words (K is checked at compile time).
#[inline(always)]
pub(crate) fn draw_and_pair<W: Word, const K: usize>(buf: &[u64; K]) -> ([[W; 3]; 2], [[W; 3]; 2]) {
    const { assert!(K == (10 * W::BITS as usize).div_ceil(64)) };
    and_pair_from::<W>(buf)
}

/// [`draw_and_pair`] on a buffer of at least ⌈10·W/64⌉ words.
#[inline(always)]
fn and_pair_from<W: Word>(buf: &[u64]) -> ([[W; 3]; 2], [[W; 3]; 2]) {
    let bits = W::BITS as usize;
    // Field j: bits j·W.. of the buffer (W divides 64, so no field straddles two words).
    let mut v = [0u64; 10];
    for (j, x) in v.iter_mut().enumerate() {
        *x = buf[(j * bits) / 64] >> ((j * bits) % 64);
    }
    let w = W::from_u64;
    let [a0, a1, b0, b1, c0, d0, d1, e0, e1, f0] = v;
    let c1 = ((a0 ^ a1) & (b0 ^ b1)) ^ c0;
    let f1 = ((d0 ^ d1) & (e0 ^ e1)) ^ f0;
    ([[w(a0), w(b0), w(c0)], [w(d0), w(e0), w(f0)]], [[w(a1), w(b1), w(c1)], [w(d1), w(e1), w(f1)]])
}

/// One private-input product: P0 (α, γ_0), P1 (β, γ_1).
#[inline(always)]
pub(crate) fn draw_private_product(w: &[u64; 3]) -> ([u64; 2], [u64; 2]) {
    let [al, be, g0] = *w;
    ([al, g0], [be, al.wrapping_mul(be).wrapping_sub(g0)])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deferred request drawn chunk by chunk equals the eager request made in the same position.
    #[test]
    fn stream_chunks_equal_the_eager_request() {
        let n = 2 * CHUNK + 77;
        let (mut eager, mut lazy) = (Dealer::new(9), Dealer::new(9));
        let e = eager.and_triple_pairs::<u16>(n);
        let s = lazy.stream();
        let e2 = eager.beaver(n);
        let s2 = lazy.stream();
        for ci in 0..n.div_ceil(CHUNK) {
            let r = ci * CHUNK..((ci + 1) * CHUNK).min(n);
            let (mut w, mut w2) = (vec![0u64; r.len() * 3], vec![0u64; r.len() * 5]);
            let c = s.chunk_into(ci, &mut w, draw_and_pair::<u16, 3>);
            let c2 = s2.chunk_into(ci, &mut w2, draw_beaver);
            for p in [Party::P0, Party::P1] {
                assert_eq!(c.half(p).collect::<Vec<_>>(), &e.corrupt(p)[r.clone()], "chunk {ci}");
                assert_eq!(c2.half(p).collect::<Vec<_>>(), &e2.corrupt(p)[r.clone()], "chunk {ci}");
            }
        }
    }
}
