//! Documented caps on every input size and search size, so that no input makes a command run unbounded or exhaust
//! memory. Each cap is checked where the value enters and the error names the cap and how to stay within it.
//!
//! | cap | value | where it is checked |
//! |---|---|---|
//! | [`MAX_BINS`] | 65 536 | histogram bins: `samples:FILE,BINS`, JSON `empirical` densities, model statistics |
//! | [`MAX_MIXTURE_COMPONENTS`] | 4 096 | mixture densities |
//! | [`MAX_PIECES`] | 64 | `--max-pieces`, `--pieces`, pieces of an approximation file |
//! | [`MAX_DEGREE`] | 24 | `--max-degree`, `--degree`, degrees of an approximation file (the ring bound is stricter for wide ranges) |
//! | [`MAX_EXHAUSTIVE_STRUCTURES`] | 250 000 | structures the exhaustive grid may evaluate |
//! | [`MAX_ANNEAL_STEPS`] | 10 000 000 | restarts × iterations of the annealing |
//! | [`MAX_APPROX_FILE_BYTES`] | 16 MiB | approximation JSON (`fit --check`, `secure --approx`), JSON density files |
//! | [`MAX_SAMPLES_FILE_BYTES`] | 256 MiB | `samples:FILE` value lists |
//! | [`MAX_SPEC_FILE_BYTES`] | 1 MiB | experiment spec TOML |
//! | [`MAX_RECORD_FILE_BYTES`] | 1 GiB | `results/raw/*.jsonl` record files |
//! | [`MAX_SIDECAR_BYTES`] | 1 MiB | model sidecars (`*.json` next to `*.safetensors`) |
//!
//! Echoed values are cut to [`CLIP_CHARS`] characters ([`clip`]) and numbers are printed in a bounded width
//! ([`num`]), so an error message is always one short line.

use std::fmt;

/// Most histogram bins of an empirical density.
pub const MAX_BINS: usize = 1 << 16;
/// Most components of a mixture density.
pub const MAX_MIXTURE_COMPONENTS: usize = 4096;
/// Most central pieces of an approximation.
pub const MAX_PIECES: usize = 64;
/// Highest polynomial degree of a piece.
pub const MAX_DEGREE: usize = 24;
/// Most structures the exhaustive search may evaluate.
pub const MAX_EXHAUSTIVE_STRUCTURES: usize = 250_000;
/// Most annealing steps in total (restarts × iterations).
pub const MAX_ANNEAL_STEPS: usize = 10_000_000;
/// Largest approximation or density JSON file read.
pub const MAX_APPROX_FILE_BYTES: u64 = 16 << 20;
/// Largest `samples:FILE` read.
pub const MAX_SAMPLES_FILE_BYTES: u64 = 256 << 20;
/// Largest experiment spec read.
pub const MAX_SPEC_FILE_BYTES: u64 = 1 << 20;
/// Largest record file read.
pub const MAX_RECORD_FILE_BYTES: u64 = 1 << 30;
/// Largest model sidecar read.
pub const MAX_SIDECAR_BYTES: u64 = 1 << 20;
/// Characters of a user-supplied value echoed in an error message.
pub const CLIP_CHARS: usize = 80;

/// At most [`CLIP_CHARS`] characters of `s`, with an ellipsis and the full length when it was cut.
/// Control characters (a newline inside a JSON or TOML string) are escaped (`\n`), so the result is one line.
pub fn clip(s: &str) -> String {
    let n = s.chars().count();
    let head: String = escape_controls(&s.chars().take(CLIP_CHARS).collect::<String>());
    if n <= CLIP_CHARS { head } else { format!("{head}… ({n} characters)") }
}

/// `s` with every control character escaped (`\n`, `\u{1b}`).
fn escape_controls(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

/// A message line with every quoted value ('…') clipped to [`CLIP_CHARS`] characters and the whole line to 400.
pub fn clip_line(line: &str) -> String {
    let mut out = String::new();
    for (i, part) in line.split('\'').enumerate() {
        if i > 0 {
            out.push('\'');
        }
        out.push_str(&if i % 2 == 1 { clip(part) } else { escape_controls(part) });
    }
    let n = out.chars().count();
    if n > 400 { format!("{}… ({n} characters)", out.chars().take(400).collect::<String>()) } else { out }
}

/// A number printed in bounded width (Rust's `{}` prints 1e300 with 301 digits).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Num(pub f64);

impl fmt::Display for Num {
    /// Rust's plain form when it is at most 24 characters (`1e20` stays `100000000000000000000`), scientific
    /// otherwise (`1e300`, `2.5e-300`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = format!("{}", self.0);
        if plain.len() <= 24 { f.write_str(&plain) } else { write!(f, "{:e}", self.0) }
    }
}

/// Shorthand for [`Num`].
pub fn num(v: f64) -> Num {
    Num(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_bounded_width() {
        assert_eq!(num(1.5).to_string(), "1.5");
        assert_eq!(num(1e300).to_string(), "1e300");
        assert_eq!(num(-2.5e-300).to_string(), "-2.5e-300");
        assert!(num(0.1 + 0.2).to_string().len() <= 24);
        assert_eq!(num(f64::NAN).to_string(), "NaN");
    }

    #[test]
    fn clip_cuts_long_values() {
        assert_eq!(clip("silu"), "silu");
        assert_eq!(clip("u\niform"), "u\\niform");
        assert!(!clip_line("kind 'a\nb'; rest\nmore").contains('\n'));
        let c = clip(&"é".repeat(500));
        assert!(c.ends_with("(500 characters)") && c.chars().count() < 110, "{c}");
    }
}
