//! Distributed comparison functions (DCF) on a fixed-key AES PRG.
//!
//! A DCF key pair (k_0, k_1) for α ∈ \[0, 2^n) and a payload β ∈ Z_{2^64}^k gives, for every public x,
//! `Eval(0, k_0, x) + Eval(1, k_1, x) = β·[x < α]` (over the low n bits of x, unsigned), while each key alone
//! reveals nothing about α or β. The construction is the tree DCF of Boyle, Chandran, Gilboa, Gupta, Ishai,
//! Kumar, Rathee ("Function secret sharing for mixed-mode and fixed-point secure computation", EUROCRYPT 2021,
//! Fig. 1 "DCF Gen/Eval"), written from the paper's pseudocode:
//!
//! - each party walks a binary tree along the bits of x, most significant first, holding a λ-bit seed s and a
//!   control bit t (t_0 ⊕ t_1 = 1 exactly on the path to α);
//! - the PRG expands a seed into (s^L, t^L, v^L) and (s^R, t^R, v^R); one correction word per level
//!   (s_CW, V_CW ∈ Z^k, t_CW^L, t_CW^R) keeps the two parties' seeds equal off the path and makes the sum of the
//!   value words v collected on the path equal β the first time x leaves the path to the left of α (x_i = 0,
//!   α_i = 1), 0 otherwise;
//! - a final correction word cancels the leaf values (x = α gives 0).
//!
//! **PRG.** G_i(s) = AES_K(s ⊕ i) ⊕ (s ⊕ i) with one fixed public key K (the fixed-key "MMO" hash used as a
//! correlation-robust function, Guo, Katz, Wang, Yu, S&P 2020), on the `aes` crate (AES-NI when the CPU has it,
//! detected at run time). Block 0 gives (s^L, t^L) (t = the low bit, then cleared: seeds are 127-bit), block 1
//! (s^R, t^R), blocks 2 … 1 + h the k words of v^L, then h blocks for v^R, h = ⌈k/2⌉; the leaf conversion of a
//! seed takes h more blocks with tweaks 2^64 + j. Evaluation expands only the side it follows:
//! **1 + h AES calls per level, plus h at the leaf**; generation expands both sides for both parties:
//! 2·(2 + 2h) per level plus 2h at the leaf ([`eval_aes_calls`], [`gen_aes_calls`]).
//!
//! **Key size** per party ([`key_bytes`]): seed 16 B + per level (s_CW 16 B + V_CW 8k B) + the 2n control bits
//! packed (⌈2n/8⌉ B) + the leaf word 8k B, i.e. about n·(λ + 64k + 2) bits — the paper's n·(λ + ℓ + 2) + λ + ℓ.
//!
//! Keys are handled in batches ([`DcfBatch`]: many keys of one shape, flat arrays) and evaluated level by level
//! across the batch, so the AES pipeline is fed with independent blocks.

use aes::Aes128;
use aes::cipher::consts::U16;
use aes::cipher::typenum::Unsigned;
use aes::cipher::{BlockBackend, BlockClosure, BlockEncrypt, BlockSizeUser, KeyInit, generic_array::GenericArray};
use rand::RngCore;

use crate::share::Party;

/// The fixed public AES key of the PRG (any constant works; the security argument treats AES_K as a random
/// permutation).
const FIXED_KEY: [u8; 16] = *b"compact-fss-prg!";
/// Tweak offset of the leaf conversion blocks.
const LEAF_TWEAK: u128 = 1 << 64;

/// Blocks encrypted per `encrypt_blocks` call of [`Prg::hash_in_place`].
const HASH_BATCH: usize = 128;

/// The fixed-key AES PRG.
#[derive(Clone)]
pub struct Prg {
    aes: Aes128,
}

impl std::fmt::Debug for Prg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prg(fixed-key AES-128)")
    }
}

impl Default for Prg {
    fn default() -> Self {
        Prg::new()
    }
}

impl Prg {
    /// The PRG with the crate's fixed key.
    pub fn new() -> Self {
        Prg { aes: Aes128::new(&GenericArray::from(FIXED_KEY)) }
    }

    /// H(x_i) = AES_K(x_i) ⊕ x_i for every block, in place (one batched AES call sequence).
    ///
    /// The blocks go through a stack buffer of [`HASH_BATCH`] blocks (no allocation per call); `encrypt_blocks`
    /// pipelines them (8 at a time with AES-NI).
    pub fn hash_in_place(&self, xs: &mut [u128]) {
        let mut blocks = [aes::Block::default(); HASH_BATCH];
        for chunk in xs.chunks_mut(HASH_BATCH) {
            let bl = &mut blocks[..chunk.len()];
            for (b, x) in bl.iter_mut().zip(chunk.iter()) {
                *b = GenericArray::from(x.to_le_bytes());
            }
            self.aes.encrypt_blocks(bl);
            for (x, b) in chunk.iter_mut().zip(bl.iter()) {
                let a: [u8; 16] = (*b).into();
                *x ^= u128::from_le_bytes(a);
            }
        }
    }
}

/// Shape of a DCF: input bits n (1 ≤ n ≤ 64) and payload words k ≥ 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DcfShape {
    /// Input bit width n: the key compares the low n bits of x.
    pub bits: u32,
    /// Payload length k (words of Z_{2^64}).
    pub payload: usize,
}

impl DcfShape {
    /// h = ⌈k/2⌉, blocks per value word vector.
    fn h(&self) -> usize {
        self.payload.div_ceil(2)
    }
}

/// Bytes of one party's key of this shape (see the module docs).
pub fn key_bytes(shape: DcfShape) -> u64 {
    let (n, k) = (u64::from(shape.bits), shape.payload as u64);
    16 + n * (16 + 8 * k) + (2 * n).div_ceil(8) + 8 * k
}

/// AES calls of one party's evaluation of one key.
pub fn eval_aes_calls(shape: DcfShape) -> u64 {
    let h = shape.h() as u64;
    u64::from(shape.bits) * (1 + h) + h
}

/// AES calls of the dealer's generation of one key pair.
pub fn gen_aes_calls(shape: DcfShape) -> u64 {
    let h = shape.h() as u64;
    u64::from(shape.bits) * 2 * (2 + 2 * h) + 2 * h
}

/// One party's keys for a batch of DCFs of one shape (key i at index i of every array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DcfBatch {
    shape: DcfShape,
    party: Party,
    seeds: Vec<u128>,
    /// n per key.
    s_cw: Vec<u128>,
    /// n per key: bit 0 = t_CW^L, bit 1 = t_CW^R.
    t_cw: Vec<u8>,
    /// n·k per key.
    v_cw: Vec<u64>,
    /// k per key.
    leaf: Vec<u64>,
}

impl DcfBatch {
    /// Number of keys.
    pub fn len(&self) -> usize {
        self.seeds.len()
    }

    /// True when the batch holds no key.
    pub fn is_empty(&self) -> bool {
        self.seeds.is_empty()
    }

    /// The keys' shape.
    pub fn shape(&self) -> DcfShape {
        self.shape
    }

    /// The party the keys belong to.
    pub fn party(&self) -> Party {
        self.party
    }

    /// Serialized size of the batch (keys · [`key_bytes`]).
    pub fn byte_len(&self) -> u64 {
        self.len() as u64 * key_bytes(self.shape)
    }
}

/// Position of key i's level-`lvl` correction word in a batch of `m` keys with n-bit inputs (index into `s_cw` and
/// `t_cw`; times k into `v_cw`). Level-major within each group of [`GROUP`] keys (the keys a walk advances
/// together): one level of a group is contiguous, so the walk streams its correction words instead of gathering one
/// word per key at a stride of n words. Only the memory order changes, not the keys.
#[inline(always)]
fn cw_index(m: usize, n: usize, i: usize, lvl: usize) -> usize {
    let g0 = i - i % GROUP;
    g0 * n + lvl * GROUP.min(m - g0) + (i - g0)
}

/// The bit of x at tree level i (most significant of the n bits first).
#[inline(always)]
fn bit(x: u64, bits: u32, i: u32) -> u64 {
    (x >> (bits - 1 - i)) & 1
}

/// Fills `out` with the PRG blocks of seed `s` for `side` (0 = L, 1 = R): the seed block then h value blocks.
#[inline(always)]
fn side_inputs(s: u128, side: usize, h: usize, out: &mut Vec<u128>) {
    out.push(s ^ side as u128);
    for j in 0..h {
        out.push(s ^ (2 + (side * h + j) as u128));
    }
}

/// Splits the value words of hashed value blocks into k words.
#[inline(always)]
fn words_of(blocks: &[u128], k: usize, out: &mut [u64]) {
    for (j, o) in out.iter_mut().enumerate().take(k) {
        let b = blocks[j / 2];
        *o = if j % 2 == 0 { b as u64 } else { (b >> 64) as u64 };
    }
}

/// Keys walked through the tree together: a group's seeds, control bits and AES blocks stay in the L1 cache, and
/// the AES pipeline still gets many independent blocks per call.
const GROUP: usize = 64;

/// Generates key pairs: key i compares against `alphas[i]` (low n bits) with payload `betas[i·k .. (i+1)·k]`.
/// Returns (party 0's batch, party 1's batch) and the number of AES calls made. Panics never; mismatched lengths
/// are the caller's invariant (checked by `debug_assert`).
///
/// Keys are generated [`GROUP`] at a time, level by level across the group (one batched AES call per level); the
/// random seeds are drawn key by key in order, so the keys are the same as generating them one by one.
pub fn keygen(prg: &Prg, shape: DcfShape, alphas: &[u64], betas: &[u64], rng: &mut impl RngCore) -> (DcfBatch, DcfBatch, u64) {
    let (n, k, h) = (shape.bits, shape.payload, shape.h());
    let nu = n as usize;
    debug_assert_eq!(betas.len(), alphas.len() * k);
    let m = alphas.len();
    let mk = |p| DcfBatch {
        shape,
        party: p,
        seeds: Vec::with_capacity(m),
        s_cw: vec![0; m * nu],
        t_cw: vec![0; m * nu],
        v_cw: vec![0; m * nu * k],
        leaf: vec![0; m * k],
    };
    let (mut k0, mut k1) = (mk(Party::P0), mk(Party::P1));
    let mut calls = 0u64;
    // Per key of the group: [party 0: sL, vL.., sR, vR.. | party 1: same] (layout of side_inputs).
    let per = 2 * (1 + h);
    let mut buf: Vec<u128> = Vec::with_capacity(GROUP * 2 * per);
    let mut va = vec![0u64; GROUP * k];
    let (mut v0, mut v1) = (vec![0u64; 2 * k], vec![0u64; 2 * k]);
    let mut s = [[0u128; 2]; GROUP];
    let mut t = [[0u64; 2]; GROUP];
    for g0 in (0..m).step_by(GROUP) {
        let g = GROUP.min(m - g0);
        for e in 0..g {
            s[e] = [rng_u128(rng) & !1, rng_u128(rng) & !1];
            k0.seeds.push(s[e][0]);
            k1.seeds.push(s[e][1]);
            t[e] = [0, 1];
        }
        va[..g * k].iter_mut().for_each(|v| *v = 0);
        for lvl in 0..n {
            buf.clear();
            for se in &s[..g] {
                for &sb in se {
                    side_inputs(sb, 0, h, &mut buf);
                    side_inputs(sb, 1, h, &mut buf);
                }
            }
            prg.hash_in_place(&mut buf);
            calls += buf.len() as u64;
            for e in 0..g {
                let i = g0 + e;
                let a = bit(alphas[i], n, lvl) as usize;
                let beta = &betas[i * k..(i + 1) * k];
                let kb = &buf[e * 2 * per..(e + 1) * 2 * per];
                let side = |b: usize, sd: usize| &kb[b * per + sd * (1 + h)..b * per + (sd + 1) * (1 + h)];
                let (s_keep, s_lose) = (a, 1 - a);
                let seed_t = |blk: u128| (blk & !1, (blk & 1) as u64);
                let (sl0, _) = seed_t(side(0, s_lose)[0]);
                let (sl1, _) = seed_t(side(1, s_lose)[0]);
                let s_cw = sl0 ^ sl1;
                words_of(&side(0, s_lose)[1..], k, &mut v0[..k]);
                words_of(&side(1, s_lose)[1..], k, &mut v1[..k]);
                words_of(&side(0, s_keep)[1..], k, &mut v0[k..]);
                words_of(&side(1, s_keep)[1..], k, &mut v1[k..]);
                let neg = t[e][1] == 1; // (−1)^{t_1}
                let sign = |x: u64| if neg { x.wrapping_neg() } else { x };
                let cw = cw_index(m, nu, i, lvl as usize);
                let vae = &mut va[e * k..(e + 1) * k];
                for j in 0..k {
                    let mut vcw = sign(v1[j].wrapping_sub(v0[j]).wrapping_sub(vae[j]));
                    if s_lose == 0 {
                        vcw = vcw.wrapping_add(sign(beta[j]));
                    }
                    vae[j] = vae[j].wrapping_sub(v1[k + j]).wrapping_add(v0[k + j]).wrapping_add(sign(vcw));
                    k0.v_cw[cw * k + j] = vcw;
                    k1.v_cw[cw * k + j] = vcw;
                }
                let (_, tl0) = seed_t(side(0, 0)[0]);
                let (_, tl1) = seed_t(side(1, 0)[0]);
                let (_, tr0) = seed_t(side(0, 1)[0]);
                let (_, tr1) = seed_t(side(1, 1)[0]);
                let tcw_l = tl0 ^ tl1 ^ a as u64 ^ 1;
                let tcw_r = tr0 ^ tr1 ^ a as u64;
                let tcw = (tcw_l | (tcw_r << 1)) as u8;
                k0.s_cw[cw] = s_cw;
                k1.s_cw[cw] = s_cw;
                k0.t_cw[cw] = tcw;
                k1.t_cw[cw] = tcw;
                let tcw_keep = if s_keep == 0 { tcw_l } else { tcw_r };
                for b in 0..2 {
                    let (sk, tk) = seed_t(side(b, s_keep)[0]);
                    let corr = t[e][b] == 1;
                    s[e][b] = if corr { sk ^ s_cw } else { sk };
                    t[e][b] = if corr { tk ^ tcw_keep } else { tk };
                }
            }
        }
        // Leaf: CW = (−1)^{t_1}·(Convert(s_1) − Convert(s_0) − V_α).
        buf.clear();
        for se in &s[..g] {
            for &sb in se {
                for j in 0..h {
                    buf.push(sb ^ (LEAF_TWEAK + j as u128));
                }
            }
        }
        prg.hash_in_place(&mut buf);
        calls += buf.len() as u64;
        for e in 0..g {
            let i = g0 + e;
            words_of(&buf[2 * e * h..(2 * e + 1) * h], k, &mut v0[..k]);
            words_of(&buf[(2 * e + 1) * h..(2 * e + 2) * h], k, &mut v1[..k]);
            let neg = t[e][1] == 1;
            for j in 0..k {
                let c = v1[j].wrapping_sub(v0[j]).wrapping_sub(va[e * k + j]);
                let c = if neg { c.wrapping_neg() } else { c };
                k0.leaf[i * k + j] = c;
                k1.leaf[i * k + j] = c;
            }
        }
    }
    (k0, k1, calls)
}

fn rng_u128(rng: &mut impl RngCore) -> u128 {
    (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64())
}

/// Evaluates key i of `keys` at `xs[i]` for every i, writing this party's k-word share to `out[i·k ..]`.
/// Returns the number of AES calls. The keys are walked [`GROUP`] at a time, level by level across the group, so
/// that each level's AES blocks of the group are encrypted in one pipelined call and the state stays in L1.
pub fn eval(prg: &Prg, keys: &DcfBatch, xs: &[u64], out: &mut [u64]) -> u64 {
    match keys.shape.payload {
        1 => eval_one_block::<1>(prg, keys, xs, out),
        2 => eval_one_block::<2>(prg, keys, xs, out),
        _ => eval_general(prg, keys, xs, out),
    }
}

/// [`eval`] for payloads of K ≤ 2 words (h = 1: one seed block and one value block per level), the shape of the
/// sign gate (K = 1) and of the fused spline gate (K = 2) — the online hot loop. Same walk, same blocks, same
/// results as [`eval_general`] (tested bit for bit against the reference); the walk runs as a [`BlockClosure`]
/// inside the `aes` crate's backend ([`OneBlockWalk`]).
fn eval_one_block<const K: usize>(prg: &Prg, keys: &DcfBatch, xs: &[u64], out: &mut [u64]) -> u64 {
    debug_assert!(K <= 2 && keys.shape.payload == K && xs.len() == keys.len() && out.len() == keys.len() * K);
    prg.aes.encrypt_with_backend(OneBlockWalk::<K> { keys, xs, out });
    // Per key: one seed and one value block per level, one leaf block.
    keys.len() as u64 * (2 * u64::from(keys.shape.bits) + 1)
}

/// Keys whose blocks go through one pipelined AES call of the walk: 2 blocks each, [`PAR`] blocks per call.
const LANES: usize = PAR / 2;
/// Blocks per pipelined call (the AES-NI backend of the `aes` crate encrypts 8 blocks at a time).
const PAR: usize = 8;

/// Encrypts 8 blocks in place: one pipelined call when the backend processes 8 blocks in parallel (AES-NI), block
/// by block otherwise (the software fallback).
#[inline(always)]
fn encrypt_par<B: BlockBackend<BlockSize = U16>>(backend: &mut B, blocks: &mut [aes::Block; PAR]) {
    if B::ParBlocksSize::USIZE == PAR {
        backend.proc_par_blocks_inplace(GenericArray::from_mut_slice(&mut blocks[..]));
    } else {
        blocks.iter_mut().for_each(|b| backend.proc_block_inplace(b));
    }
}

/// The DCF walk for K ≤ 2 payload words as a closure that the `aes` crate calls with its block-cipher backend
/// ([`BlockEncrypt::encrypt_with_backend`]): with AES-NI the closure runs inside the crate's AES-enabled function,
/// so the 8-block encryptions are inlined into the walk instead of one `encrypt_blocks` call per level and group.
/// Each level of a group of [`GROUP`] keys goes [`LANES`] keys at a time: build their 2·[`LANES`] blocks, encrypt
/// them, apply the corrections. The bookkeeping of one batch is independent of the next batch's AES rounds, so the
/// CPU overlaps the two (before, a level's bookkeeping and its AES ran one after the other, in separate loops).
/// The state of a group (seeds, control bits, accumulators) lives in fixed-size arrays; the control-bit
/// corrections are masks, not branches; no allocation.
struct OneBlockWalk<'a, const K: usize> {
    keys: &'a DcfBatch,
    xs: &'a [u64],
    out: &'a mut [u64],
}

impl<const K: usize> BlockSizeUser for OneBlockWalk<'_, K> {
    type BlockSize = U16;
}

impl<const K: usize> BlockClosure for OneBlockWalk<'_, K> {
    #[inline(always)]
    fn call<B: BlockBackend<BlockSize = U16>>(self, backend: &mut B) {
        let OneBlockWalk { keys, xs, out } = self;
        let nu = keys.shape.bits as usize;
        let m = keys.len();
        let t0 = u64::from(keys.party == Party::P1);
        let neg = keys.party == Party::P1;
        let mut blocks = [aes::Block::default(); PAR];
        let mut s = [0u128; GROUP];
        let mut t = [0u64; GROUP];
        let mut acc = [[0u64; K]; GROUP];
        let to_block = |x: u128| aes::Block::from(x.to_le_bytes());
        let from_block = |b: &aes::Block| u128::from_le_bytes((*b).into());
        for g0 in (0..m).step_by(GROUP) {
            let g = GROUP.min(m - g0);
            s[..g].copy_from_slice(&keys.seeds[g0..g0 + g]);
            t[..g].iter_mut().for_each(|v| *v = t0);
            acc[..g].iter_mut().for_each(|a| *a = [0; K]);
            let xg = &xs[g0..g0 + g];
            for lvl in 0..nu {
                let shift = nu - 1 - lvl;
                let row = g0 * nu + lvl * g;
                let (scw, tcw, vcw) = (&keys.s_cw[row..row + g], &keys.t_cw[row..row + g], &keys.v_cw[row * K..(row + g) * K]);
                for c0 in (0..g).step_by(LANES) {
                    let c = LANES.min(g - c0);
                    // Lanes past the group's end (its last batch only) encrypt key c0's blocks again, unused.
                    for l in 0..LANES {
                        let e = c0 + if l < c { l } else { 0 };
                        let side = u128::from((xg[e] >> shift) & 1);
                        blocks[2 * l] = to_block(s[e] ^ side);
                        blocks[2 * l + 1] = to_block(s[e] ^ (2 + side));
                    }
                    encrypt_par(backend, &mut blocks);
                    for l in 0..c {
                        let e = c0 + l;
                        let side = (xg[e] >> shift) & 1;
                        let seed_blk = from_block(&blocks[2 * l]) ^ s[e] ^ u128::from(side);
                        let val_blk = from_block(&blocks[2 * l + 1]) ^ s[e] ^ u128::from(2 + side);
                        let on = t[e];
                        let m64 = 0u64.wrapping_sub(on);
                        let m128 = 0u128.wrapping_sub(u128::from(on));
                        s[e] = (seed_blk & !1) ^ (scw[e] & m128);
                        t[e] = ((seed_blk & 1) as u64) ^ (u64::from(tcw[e] >> side) & 1 & on);
                        let v = &vcw[e * K..(e + 1) * K];
                        let a = &mut acc[e];
                        a[0] = a[0].wrapping_add(val_blk as u64).wrapping_add(v[0] & m64);
                        if K == 2 {
                            a[K - 1] = a[K - 1].wrapping_add((val_blk >> 64) as u64).wrapping_add(v[K - 1] & m64);
                        }
                    }
                }
            }
            for c0 in (0..g).step_by(PAR) {
                let c = PAR.min(g - c0);
                for (l, b) in blocks.iter_mut().enumerate() {
                    let e = c0 + if l < c { l } else { 0 };
                    *b = to_block(s[e] ^ LEAF_TWEAK);
                }
                encrypt_par(backend, &mut blocks);
                for (l, b) in blocks[..c].iter().enumerate() {
                    let e = c0 + l;
                    let i = g0 + e;
                    let leaf_blk = from_block(b) ^ s[e] ^ LEAF_TWEAK;
                    let m64 = 0u64.wrapping_sub(t[e]);
                    let leaf = &keys.leaf[i * K..(i + 1) * K];
                    let o = &mut out[i * K..(i + 1) * K];
                    for j in 0..K {
                        let word = if j == 0 { leaf_blk as u64 } else { (leaf_blk >> 64) as u64 };
                        let v = acc[e][j].wrapping_add(word).wrapping_add(leaf[j] & m64);
                        o[j] = if neg { v.wrapping_neg() } else { v };
                    }
                }
            }
        }
    }
}

/// [`eval`] for any payload length (⌈k/2⌉ value blocks per level).
fn eval_general(prg: &Prg, keys: &DcfBatch, xs: &[u64], out: &mut [u64]) -> u64 {
    let (n, k, h) = (keys.shape.bits, keys.shape.payload, keys.shape.h());
    let nu = n as usize;
    let m = keys.len();
    debug_assert!(xs.len() == m && out.len() == m * k);
    out.iter_mut().for_each(|o| *o = 0);
    let mut buf: Vec<u128> = Vec::with_capacity(GROUP * (1 + h));
    let mut words = vec![0u64; k];
    let mut calls = 0u64;
    let t0 = u64::from(keys.party == Party::P1);
    let neg = keys.party == Party::P1;
    let mut s = [0u128; GROUP];
    let mut t = [0u64; GROUP];
    for g0 in (0..m).step_by(GROUP) {
        let g = GROUP.min(m - g0);
        s[..g].copy_from_slice(&keys.seeds[g0..g0 + g]);
        t[..g].iter_mut().for_each(|v| *v = t0);
        let xg = &xs[g0..g0 + g];
        for lvl in 0..n {
            buf.clear();
            for (e, &x) in xg.iter().enumerate() {
                side_inputs(s[e], bit(x, n, lvl) as usize, h, &mut buf);
            }
            prg.hash_in_place(&mut buf);
            calls += buf.len() as u64;
            for (e, &x) in xg.iter().enumerate() {
                let i = g0 + e;
                let side = bit(x, n, lvl);
                let blk = &buf[e * (1 + h)..(e + 1) * (1 + h)];
                let cw = cw_index(m, nu, i, lvl as usize);
                let (mut sn, mut tn) = (blk[0] & !1, (blk[0] & 1) as u64);
                words_of(&blk[1..], k, &mut words);
                let acc = &mut out[i * k..(i + 1) * k];
                if t[e] == 1 {
                    sn ^= keys.s_cw[cw];
                    tn ^= u64::from(keys.t_cw[cw] >> side) & 1;
                    let v = &keys.v_cw[cw * k..(cw + 1) * k];
                    for j in 0..k {
                        acc[j] = acc[j].wrapping_add(words[j]).wrapping_add(v[j]);
                    }
                } else {
                    for j in 0..k {
                        acc[j] = acc[j].wrapping_add(words[j]);
                    }
                }
                s[e] = sn;
                t[e] = tn;
            }
        }
        buf.clear();
        for &se in &s[..g] {
            for j in 0..h {
                buf.push(se ^ (LEAF_TWEAK + j as u128));
            }
        }
        prg.hash_in_place(&mut buf);
        calls += buf.len() as u64;
        for e in 0..g {
            let i = g0 + e;
            words_of(&buf[e * h..(e + 1) * h], k, &mut words);
            let acc = &mut out[i * k..(i + 1) * k];
            let leaf = &keys.leaf[i * k..(i + 1) * k];
            for j in 0..k {
                let mut v = acc[j].wrapping_add(words[j]);
                if t[e] == 1 {
                    v = v.wrapping_add(leaf[j]);
                }
                acc[j] = if neg { v.wrapping_neg() } else { v };
            }
        }
    }
    calls
}

/// The key generation and evaluation as first written (one key at a time in generation, the whole batch per level
/// in evaluation): the reference that the grouped versions must reproduce bit for bit.
#[cfg(test)]
mod reference {
    use super::*;

    /// Generates key pairs: key i compares against `alphas[i]` (low n bits) with payload `betas[i·k .. (i+1)·k]`.
    /// Returns (party 0's batch, party 1's batch) and the number of AES calls made. Panics never; mismatched lengths
    /// are the caller's invariant (checked by `debug_assert`).
    pub(super) fn keygen(prg: &Prg, shape: DcfShape, alphas: &[u64], betas: &[u64], rng: &mut impl RngCore) -> (DcfBatch, DcfBatch, u64) {
        let (n, k, h) = (shape.bits, shape.payload, shape.h());
        debug_assert_eq!(betas.len(), alphas.len() * k);
        let m = alphas.len();
        let mk = |p| DcfBatch {
            shape,
            party: p,
            seeds: Vec::with_capacity(m),
            s_cw: vec![0; m * n as usize],
            t_cw: vec![0; m * n as usize],
            v_cw: vec![0; m * n as usize * k],
            leaf: Vec::with_capacity(m * k),
        };
        let (mut k0, mut k1) = (mk(Party::P0), mk(Party::P1));
        let mut calls = 0u64;
        let mut buf: Vec<u128> = Vec::with_capacity(2 * (2 + 2 * h));
        let mut va = vec![0u64; k];
        let (mut v0, mut v1) = (vec![0u64; 2 * k], vec![0u64; 2 * k]);
        for (i, &alpha) in alphas.iter().enumerate() {
            let beta = &betas[i * k..(i + 1) * k];
            let mut s = [rng_u128(rng) & !1, rng_u128(rng) & !1];
            k0.seeds.push(s[0]);
            k1.seeds.push(s[1]);
            let mut t = [0u64, 1u64];
            va.iter_mut().for_each(|v| *v = 0);
            for lvl in 0..n {
                let a = bit(alpha, n, lvl) as usize;
                // Expand both seeds on both sides: per party [sL, vL.., sR, vR..] (layout of side_inputs).
                buf.clear();
                for &sb in &s {
                    side_inputs(sb, 0, h, &mut buf);
                    side_inputs(sb, 1, h, &mut buf);
                }
                prg.hash_in_place(&mut buf);
                calls += buf.len() as u64;
                let per = 2 * (1 + h);
                let side = |b: usize, sd: usize| &buf[b * per + sd * (1 + h)..b * per + (sd + 1) * (1 + h)];
                let (s_keep, s_lose) = (a, 1 - a);
                let seed_t = |blk: u128| (blk & !1, (blk & 1) as u64);
                let (sl0, _) = seed_t(side(0, s_lose)[0]);
                let (sl1, _) = seed_t(side(1, s_lose)[0]);
                let s_cw = sl0 ^ sl1;
                words_of(&side(0, s_lose)[1..], k, &mut v0[..k]);
                words_of(&side(1, s_lose)[1..], k, &mut v1[..k]);
                words_of(&side(0, s_keep)[1..], k, &mut v0[k..]);
                words_of(&side(1, s_keep)[1..], k, &mut v1[k..]);
                let neg = t[1] == 1; // (−1)^{t_1}
                let sign = |x: u64| if neg { x.wrapping_neg() } else { x };
                for j in 0..k {
                    let mut vcw = sign(v1[j].wrapping_sub(v0[j]).wrapping_sub(va[j]));
                    if s_lose == 0 {
                        vcw = vcw.wrapping_add(sign(beta[j]));
                    }
                    va[j] = va[j].wrapping_sub(v1[k + j]).wrapping_add(v0[k + j]).wrapping_add(sign(vcw));
                    let cw = cw_index(m, n as usize, i, lvl as usize);
                    k0.v_cw[cw * k + j] = vcw;
                    k1.v_cw[cw * k + j] = vcw;
                }
                let (_, tl0) = seed_t(side(0, 0)[0]);
                let (_, tl1) = seed_t(side(1, 0)[0]);
                let (_, tr0) = seed_t(side(0, 1)[0]);
                let (_, tr1) = seed_t(side(1, 1)[0]);
                let tcw_l = tl0 ^ tl1 ^ a as u64 ^ 1;
                let tcw_r = tr0 ^ tr1 ^ a as u64;
                let tcw = (tcw_l | (tcw_r << 1)) as u8;
                let cw = cw_index(m, n as usize, i, lvl as usize);
                k0.s_cw[cw] = s_cw;
                k1.s_cw[cw] = s_cw;
                k0.t_cw[cw] = tcw;
                k1.t_cw[cw] = tcw;
                let tcw_keep = if s_keep == 0 { tcw_l } else { tcw_r };
                for b in 0..2 {
                    let (sk, tk) = seed_t(side(b, s_keep)[0]);
                    let corr = t[b] == 1;
                    s[b] = if corr { sk ^ s_cw } else { sk };
                    t[b] = if corr { tk ^ tcw_keep } else { tk };
                }
            }
            // Leaf: CW = (−1)^{t_1}·(Convert(s_1) − Convert(s_0) − V_α).
            buf.clear();
            for &sb in &s {
                for j in 0..h {
                    buf.push(sb ^ (LEAF_TWEAK + j as u128));
                }
            }
            prg.hash_in_place(&mut buf);
            calls += buf.len() as u64;
            words_of(&buf[..h], k, &mut v0[..k]);
            words_of(&buf[h..], k, &mut v1[..k]);
            let neg = t[1] == 1;
            for j in 0..k {
                let c = v1[j].wrapping_sub(v0[j]).wrapping_sub(va[j]);
                let c = if neg { c.wrapping_neg() } else { c };
                k0.leaf.push(c);
                k1.leaf.push(c);
            }
        }
        (k0, k1, calls)
    }


    /// Evaluates key i of `keys` at `xs[i]` for every i, writing this party's k-word share to `out[i·k ..]`.
    /// Returns the number of AES calls. The batch is walked level by level so that the AES blocks of all keys are
    /// encrypted together.
    pub(super) fn eval(prg: &Prg, keys: &DcfBatch, xs: &[u64], out: &mut [u64]) -> u64 {
        let (n, k, h) = (keys.shape.bits, keys.shape.payload, keys.shape.h());
        let m = keys.len();
        debug_assert!(xs.len() == m && out.len() == m * k);
        let mut s = keys.seeds.clone();
        let mut t = vec![u64::from(keys.party == Party::P1); m];
        out.iter_mut().for_each(|o| *o = 0);
        let mut buf: Vec<u128> = Vec::with_capacity(m * (1 + h));
        let mut words = vec![0u64; k];
        let mut calls = 0u64;
        for lvl in 0..n {
            buf.clear();
            for (i, &x) in xs.iter().enumerate() {
                side_inputs(s[i], bit(x, n, lvl) as usize, h, &mut buf);
            }
            prg.hash_in_place(&mut buf);
            calls += buf.len() as u64;
            for (i, &x) in xs.iter().enumerate() {
                let side = bit(x, n, lvl);
                let blk = &buf[i * (1 + h)..(i + 1) * (1 + h)];
                let cw = cw_index(m, n as usize, i, lvl as usize);
                let (mut sn, mut tn) = (blk[0] & !1, (blk[0] & 1) as u64);
                words_of(&blk[1..], k, &mut words);
                let acc = &mut out[i * k..(i + 1) * k];
                if t[i] == 1 {
                    sn ^= keys.s_cw[cw];
                    tn ^= u64::from(keys.t_cw[cw] >> side) & 1;
                    let v = &keys.v_cw[cw * k..(cw + 1) * k];
                    for j in 0..k {
                        acc[j] = acc[j].wrapping_add(words[j]).wrapping_add(v[j]);
                    }
                } else {
                    for j in 0..k {
                        acc[j] = acc[j].wrapping_add(words[j]);
                    }
                }
                s[i] = sn;
                t[i] = tn;
            }
        }
        buf.clear();
        for &si in &s {
            for j in 0..h {
                buf.push(si ^ (LEAF_TWEAK + j as u128));
            }
        }
        prg.hash_in_place(&mut buf);
        calls += buf.len() as u64;
        let neg = keys.party == Party::P1;
        for i in 0..m {
            words_of(&buf[i * h..(i + 1) * h], k, &mut words);
            let acc = &mut out[i * k..(i + 1) * k];
            let leaf = &keys.leaf[i * k..(i + 1) * k];
            for j in 0..k {
                let mut v = acc[j].wrapping_add(words[j]);
                if t[i] == 1 {
                    v = v.wrapping_add(leaf[j]);
                }
                acc[j] = if neg { v.wrapping_neg() } else { v };
            }
        }
        calls
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn check(bits: u32, k: usize, seed: u64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let prg = Prg::new();
        let mask = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
        for _ in 0..8 {
            let alpha = rng.random::<u64>() & mask;
            let beta: Vec<u64> = (0..k).map(|_| rng.random()).collect();
            let mut xs = vec![alpha.wrapping_sub(1), alpha, alpha.wrapping_add(1), 0, 1 << 63, u64::MAX, mask, 1];
            xs.extend((0..24).map(|_| rng.random::<u64>()));
            let shape = DcfShape { bits, payload: k };
            let alphas = vec![alpha; xs.len()];
            let betas: Vec<u64> = (0..xs.len()).flat_map(|_| beta.iter().copied()).collect();
            let (k0, k1, gc) = keygen(&prg, shape, &alphas, &betas, &mut rng);
            assert_eq!(gc, gen_aes_calls(shape) * xs.len() as u64);
            let (mut o0, mut o1) = (vec![0; xs.len() * k], vec![0; xs.len() * k]);
            let c0 = eval(&prg, &k0, &xs, &mut o0);
            let c1 = eval(&prg, &k1, &xs, &mut o1);
            assert_eq!(c0, eval_aes_calls(shape) * xs.len() as u64);
            assert_eq!(c1, c0);
            for (i, &x) in xs.iter().enumerate() {
                let lt = (x & mask) < alpha;
                for j in 0..k {
                    let got = o0[i * k + j].wrapping_add(o1[i * k + j]);
                    let want = if lt { beta[j] } else { 0 };
                    assert_eq!(got, want, "bits {bits} k {k} alpha {alpha:#x} x {x:#x} word {j}");
                }
            }
        }
    }

    #[test]
    fn eval_shares_sum_to_beta_times_less_than() {
        for (bits, k, seed) in [(64, 1, 1), (64, 2, 2), (64, 3, 3), (63, 1, 4), (32, 4, 5), (1, 1, 6), (16, 7, 7)] {
            check(bits, k, seed);
        }
    }

    #[test]
    fn grouped_keygen_and_eval_are_bit_identical_to_the_reference() {
        let prg = Prg::new();
        // Lengths around the group size, shapes with odd and even payloads.
        for (bits, k, m, seed) in [(64, 2, 200, 1u64), (64, 3, 64, 2), (24, 1, 65, 3), (7, 5, 1, 4), (64, 1, 130, 5)] {
            let shape = DcfShape { bits, payload: k };
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let alphas: Vec<u64> = (0..m).map(|_| rng.random()).collect();
            let betas: Vec<u64> = (0..m * k).map(|_| rng.random()).collect();
            let xs: Vec<u64> = (0..m).map(|i| if i % 3 == 0 { alphas[i] } else { rng.random() }).collect();
            let (mut ra, mut rb) = (ChaCha8Rng::seed_from_u64(seed + 100), ChaCha8Rng::seed_from_u64(seed + 100));
            let (a0, a1, ac) = keygen(&prg, shape, &alphas, &betas, &mut ra);
            let (b0, b1, bc) = reference::keygen(&prg, shape, &alphas, &betas, &mut rb);
            assert_eq!((&a0, &a1, ac), (&b0, &b1, bc), "keys, bits {bits} k {k} m {m}");
            for key in [&a0, &a1] {
                let (mut o, mut r) = (vec![0; m * k], vec![0; m * k]);
                let c = eval(&prg, key, &xs, &mut o);
                let rc = reference::eval(&prg, key, &xs, &mut r);
                assert_eq!((o, c), (r, rc), "eval, bits {bits} k {k} m {m}");
            }
        }
    }

    #[test]
    fn key_bytes_formula() {
        // n·(λ + ℓ + 2) bits + λ + ℓ for one 64-bit payload word, n = 64: 16 + 64·24 + 16 + 8.
        assert_eq!(key_bytes(DcfShape { bits: 64, payload: 1 }), 16 + 64 * 24 + 16 + 8);
    }
}
