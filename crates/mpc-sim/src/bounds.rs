//! Error bounds of secure fixed-point evaluation against the plaintext reference (floor truncation).
//!
//! Both secure truncations return ⌊v/2^f⌋ + e with e ∈ {0, 1} (local truncation: unless its shares wrap, an event
//! of probability ≈ |v|/2^64 per truncation that this bound excludes; dealer pair: always, for |v| < 2^62).
//!
//! **Power tree.** Let P_k be the plaintext powers (floor rule) and S_k = P_k + δ_k the secure ones, δ_1 = 0.
//! For x^k = x^p·x^q: S_p·S_q − P_p·P_q = P_p·δ_q + P_q·δ_p + δ_p·δ_q =: Δ_k, and ⌊a/2^f⌋ − ⌊b/2^f⌋ lies within
//! ⌊|a − b|/2^f⌋ + 1 (0 when a = b), so
//!
//! ```text
//!   |δ_k| ≤ 1                                        if Δ_k = 0 (e.g. x² from the exact x),
//!   |δ_k| ≤ ⌊(|P_p|·|δ_q| + |P_q|·|δ_p| + |δ_p|·|δ_q|) / 2^f⌋ + 2   otherwise.
//! ```
//!
//! In LSBs this grows like |x|^(p) per level: x², x⁴, x⁸ are within 1, 3, ≈ 2·|x|⁴ + 3 LSB; x³ within |x| + 3.
//!
//! **Output.** The selection is exact in the ring, so the secure Y_s differs from the reference by
//! Σ_j enc(c_j)·δ_j (scale 2f) and the result by ⌊Σ_j |enc(c_j)|·|δ_j| / 2^f⌋ + 1 (0 if the sum is 0) plus the final
//! truncation's e ≤ 1. [`piecewise_bound_lsb`] evaluates this for one input; the tests assert it on 10^5 inputs.

use activation_approx::EncodedPiecewise;
use activation_approx::fixed::power_tree_split;

/// Bound on |δ_k| for k = 0 … d (δ_0 = δ_1 = 0) given the plaintext powers `pows` (index k = x^k).
pub fn power_deltas(pows: &[i64], frac_bits: u32) -> Vec<u128> {
    let mut d = vec![0u128; pows.len()];
    for k in 2..pows.len() {
        let p = power_tree_split(k);
        let q = k - p;
        let delta = pows[p].unsigned_abs() as u128 * d[q] + pows[q].unsigned_abs() as u128 * d[p] + d[p] * d[q];
        d[k] = if delta == 0 { 1 } else { (delta >> frac_bits) + 2 };
    }
    d
}

/// Bound, in LSBs, on |secure − EncodedPiecewise::eval(x)| for one encoded input x (no local-truncation wrap).
pub fn piecewise_bound_lsb(pw: &EncodedPiecewise, x: i64) -> u128 {
    let s = pw.thresholds.iter().filter(|&&t| x >= t).count();
    let coeffs = &pw.segments[s];
    let pows = pw.fx.powers(x, coeffs.len().saturating_sub(1));
    let d = power_deltas(&pows, pw.fx.frac_bits);
    let sum: u128 = coeffs.iter().zip(&d).map(|(&c, &dk)| c.unsigned_abs() as u128 * dk).sum();
    let y = if sum == 0 { 0 } else { (sum >> pw.fx.frac_bits) + 1 };
    y + 1
}
