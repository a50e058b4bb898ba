//! Shared by the accounting tests of both backends.

/// Largest |secure − plain| in LSBs per method: splines and NFGen lose ±1 LSB per truncation, scaled by at most a
/// coefficient times a power; CrypTen's ±1 LSB entering exp's 9 squarings is multiplied by up to 2 per squaring
/// (≤ 2^9), Mish's reciprocal of 1 + s² adds its Newton steps; the ReLU swap has no truncation error at all. The
/// FSS gates are exact, so the same bound holds on the FSS session.
pub(crate) fn tolerance(method: &str) -> u64 {
    match method {
        "crypten" => 2048,
        "crypten-erf" => 64,
        "relu-swap" => 1,
        _ => 32,
    }
}
