//! Value parsers for numeric command-line options: a negative or out-of-range number (`--seed -1`, `--samples 0`,
//! `--max-degree 1000`) gets a range error naming the accepted range instead of clap's "unexpected argument '-1'"
//! (the options using these parsers also set `allow_negative_numbers`).

use activation_approx::limits::{MAX_DEGREE, MAX_PIECES, clip, num};

fn int(s: &str, lo: u64, hi: u64) -> Result<u64, String> {
    let bad = || format!("'{}' is not an integer in {lo}..={hi}", clip(s));
    let t = s.trim();
    if t.starts_with('-') && t[1..].chars().all(|c| c.is_ascii_digit()) && t.len() > 1 {
        return Err(format!("{} is out of range (negative); use an integer in {lo}..={hi}", clip(t)));
    }
    let v: u64 = t.parse().map_err(|_| bad())?;
    if v < lo || v > hi {
        return Err(format!("{v} is out of range; use an integer in {lo}..={hi}"));
    }
    Ok(v)
}

/// Any u64 (seeds).
pub(crate) fn seed(s: &str) -> Result<u64, String> {
    int(s, 0, u64::MAX)
}

/// A count ≥ 1 (samples, restarts, batch size).
pub(crate) fn count(s: &str) -> Result<usize, String> {
    int(s, 1, u32::MAX as u64).map(|v| v as usize)
}

/// A count ≥ 0 (0 meaning "all" where documented).
pub(crate) fn count0(s: &str) -> Result<usize, String> {
    int(s, 0, u32::MAX as u64).map(|v| v as usize)
}

/// Annealing steps per restart (1..=1 000 000).
pub(crate) fn iterations(s: &str) -> Result<usize, String> {
    int(s, 1, 1_000_000).map(|v| v as usize)
}

/// Pieces, 1..=limits::MAX_PIECES.
pub(crate) fn pieces(s: &str) -> Result<usize, String> {
    int(s, 1, MAX_PIECES as u64).map(|v| v as usize).map_err(|e| format!("{e} (limits::MAX_PIECES)"))
}

/// Degree, 1..=limits::MAX_DEGREE (the ring bound is checked later and is stricter on wide ranges).
pub(crate) fn degree(s: &str) -> Result<usize, String> {
    int(s, 1, MAX_DEGREE as u64).map(|v| v as usize).map_err(|e| format!("{e} (limits::MAX_DEGREE)"))
}

/// Depth of the MNIST MLP (1..=64).
pub(crate) fn depth(s: &str) -> Result<usize, String> {
    int(s, 1, 64).map(|v| v as usize)
}

/// A finite number > 0.
pub(crate) fn positive(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("'{}' is not a number; use a finite number > 0", clip(s)))?;
    if !(v.is_finite() && v > 0.0) {
        return Err(format!("{} is out of range; use a finite number > 0", num(v)));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_errors() {
        assert_eq!(seed("7"), Ok(7));
        assert!(seed("-1").unwrap_err().contains("negative"));
        assert!(count("0").unwrap_err().contains("out of range"));
        assert!(pieces("1000").unwrap_err().contains("MAX_PIECES"));
        assert!(degree("100000").unwrap_err().contains("MAX_DEGREE"));
        assert!(positive("-1").unwrap_err().contains("> 0"));
        assert!(positive("1e999").unwrap_err().contains("> 0"));
        assert!(count(&"9".repeat(400)).unwrap_err().len() < 200);
    }
}
