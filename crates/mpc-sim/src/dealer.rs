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

use crate::share::Pair;

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

/// The dealer, with its master CSPRNG.
#[derive(Debug, Clone)]
pub struct Dealer {
    rng: ChaCha8Rng,
}

impl Dealer {
    /// A dealer seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Dealer { rng: ChaCha8Rng::seed_from_u64(seed) }
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

    /// Beaver triples \[a, b, c\] with c = a·b in Z_{2^64}.
    pub fn beaver(&mut self, n: usize) -> Pair<Vec<[u64; 3]>> {
        self.generate(n, |r| {
            let (a0, a1, b0, b1, c0) = (r.next_u64(), r.next_u64(), r.next_u64(), r.next_u64(), r.next_u64());
            let c = a0.wrapping_add(a1).wrapping_mul(b0.wrapping_add(b1));
            ([a0, b0, c0], [a1, b1, c.wrapping_sub(c0)])
        })
    }

    /// Square pairs \[a, a²\].
    pub fn square(&mut self, n: usize) -> Pair<Vec<[u64; 2]>> {
        self.generate(n, |r| {
            let (a0, a1, s0) = (r.next_u64(), r.next_u64(), r.next_u64());
            let a = a0.wrapping_add(a1);
            ([a0, s0], [a1, a.wrapping_mul(a).wrapping_sub(s0)])
        })
    }

    /// Truncation pairs \[r, r >> 63, (r mod 2^63) >> f\], all arithmetically shared.
    pub fn trunc(&mut self, n: usize, frac_bits: u32) -> Pair<Vec<[u64; 3]>> {
        self.generate(n, move |rng| {
            let (r, r0, m0, h0) = (rng.next_u64(), rng.next_u64(), rng.next_u64(), rng.next_u64());
            let m = r >> 63;
            let h = (r & (u64::MAX >> 1)) >> frac_bits;
            ([r0, m0, h0], [r.wrapping_sub(r0), m.wrapping_sub(m0), h.wrapping_sub(h0)])
        })
    }

    /// AND triples \[a, b, c\] on W-bit words, XOR-shared, c = a & b.
    pub fn and_triples<W: Word>(&mut self, n: usize) -> Pair<Vec<[W; 3]>> {
        self.generate(n, |r| {
            let (a0, a1, b0, b1, c0) = (r.next_u64(), r.next_u64(), r.next_u64(), r.next_u64(), r.next_u64());
            let c1 = ((a0 ^ a1) & (b0 ^ b1)) ^ c0;
            let w = W::from_u64;
            ([w(a0), w(b0), w(c0)], [w(a1), w(b1), w(c1)])
        })
    }

    /// Two AND triples per element on W-bit words (one carry-tree level: P_hi ∧ G_lo and P_hi ∧ P_lo), drawn from
    /// packed random words (⌈10·W/64⌉ words per element instead of 10).
    pub fn and_triple_pairs<W: Word>(&mut self, n: usize) -> Pair<Vec<[[W; 3]; 2]>> {
        let bits = W::BITS as usize;
        let words = (10 * bits).div_ceil(64);
        self.generate(n, move |r| {
            let mut buf = [0u64; 5];
            buf.iter_mut().take(words).for_each(|w| *w = r.next_u64());
            let get = |j: usize| (buf[(j * bits) / 64] >> ((j * bits) % 64)) & (u64::MAX >> (64 - bits));
            let tri = |o: usize| {
                let (a0, a1, b0, b1, c0) = (get(o), get(o + 1), get(o + 2), get(o + 3), get(o + 4));
                let c1 = ((a0 ^ a1) & (b0 ^ b1)) ^ c0;
                let w = W::from_u64;
                ([w(a0), w(b0), w(c0)], [w(a1), w(b1), w(c1)])
            };
            let (x0, x1) = tri(0);
            let (y0, y1) = tri(5);
            ([x0, y0], [x1, y1])
        })
    }

    /// Private-input products: party 0 gets (α, γ_0), party 1 gets (β, γ_1), γ_0 + γ_1 = α·β.
    pub fn private_product(&mut self, n: usize) -> Pair<Vec<[u64; 2]>> {
        self.generate(n, |r| {
            let (al, be, g0) = (r.next_u64(), r.next_u64(), r.next_u64());
            ([al, g0], [be, al.wrapping_mul(be).wrapping_sub(g0)])
        })
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
