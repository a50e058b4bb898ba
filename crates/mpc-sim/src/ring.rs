//! Ring Z_{2^64} helpers: wrapping matrix product and the bit permutation of the comparison's carry tree.

use rayon::prelude::*;

/// C = A·B over Z_{2^64}, row-major, A m×k, B k×n (rows of C in parallel).
pub fn matmul(a: &[u64], b: &[u64], m: usize, k: usize, n: usize) -> Vec<u64> {
    let mut c = vec![0u64; m * n];
    if n == 0 {
        return c;
    }
    c.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
        let arow = &a[i * k..(i + 1) * k];
        for (kk, &av) in arow.iter().enumerate() {
            if av == 0 {
                continue;
            }
            let brow = &b[kk * n..(kk + 1) * n];
            for (cv, &bv) in row.iter_mut().zip(brow) {
                *cv = cv.wrapping_add(av.wrapping_mul(bv));
            }
        }
    });
    c
}

/// Mask of the positions p whose index bit `i` is 1 and index bit `j` is 0 (i < j).
const fn swap_mask(i: u32, j: u32) -> u64 {
    let mut m = 0u64;
    let mut p = 0;
    while p < 64 {
        if (p >> i) & 1 == 1 && (p >> j) & 1 == 0 {
            m |= 1 << p;
        }
        p += 1;
    }
    m
}

const M05: u64 = swap_mask(0, 5);
const M14: u64 = swap_mask(1, 4);
const M23: u64 = swap_mask(2, 3);

#[inline(always)]
fn delta_swap(x: u64, mask: u64, delta: u32) -> u64 {
    let t = ((x >> delta) ^ x) & mask;
    x ^ t ^ (t << delta)
}

/// Moves bit b to position rev₆(b) (the 6-bit index reversed). With this layout, the carry tree's level that
/// combines adjacent bit ranges becomes "high half with low half" of the word: `(G >> w, G & mask)`.
#[inline(always)]
pub fn bit_reverse_index(x: u64) -> u64 {
    let x = delta_swap(x, M05, 31);
    let x = delta_swap(x, M14, 14);
    delta_swap(x, M23, 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_reverse_index_is_the_index_reversal() {
        for b in 0..64u32 {
            let rev = (b as u64).reverse_bits() >> 58;
            assert_eq!(bit_reverse_index(1u64 << b), 1u64 << rev, "bit {b}");
        }
    }

    #[test]
    fn matmul_small() {
        let a = [1, 2, 3, 4, 5, 6];
        let b = [7, 8, 9, 10, 11, 12];
        assert_eq!(matmul(&a, &b, 2, 3, 2), vec![58, 64, 139, 154]);
    }
}
