//! Reading input files within a size cap ([`activation_approx::limits`]): the size is checked before anything is
//! read, and the error names the file, its size, the cap and the constant that sets it.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, bail};

/// Reads a UTF-8 text file of at most `cap` bytes; `what` names the kind of file in errors ("approximation file").
pub fn read_capped(path: &Path, cap: u64, cap_name: &str, what: &str) -> anyhow::Result<String> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {what} '{}'", path.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > cap {
        bail!(
            "{what} '{}' is {len} bytes, above the cap of {cap} bytes ({cap_name}); is this the right file?",
            path.display()
        );
    }
    let mut text = String::new();
    // `take` also bounds files whose size the metadata does not tell (pipes, /dev/zero).
    file.take(cap + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {what} '{}' as UTF-8 text", path.display()))?;
    if text.len() as u64 > cap {
        bail!("{what} '{}' is larger than the cap of {cap} bytes ({cap_name}); is this the right file?", path.display());
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.json");
        std::fs::write(&p, vec![b' '; 2000]).unwrap();
        let e = read_capped(&p, 1000, "limits::TEST", "approximation file").unwrap_err().to_string();
        assert!(e.contains("2000 bytes") && e.contains("limits::TEST"), "{e}");
        assert_eq!(read_capped(&p, 4000, "x", "f").unwrap().len(), 2000);
        let e = format!("{:#}", read_capped(&dir.path().join("none"), 10, "x", "spec").unwrap_err());
        assert!(e.contains("cannot read spec"), "{e}");
    }
}
