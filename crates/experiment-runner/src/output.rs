//! Output safety: every result file is written atomically, and a closed standard output ends the program quietly.
//!
//! - [`write_atomic`] writes to a temporary file in the destination's folder and renames it over the destination,
//!   so a reader (or a crash, or a full disk) never sees half a file: either the old content or the new one.
//! - [`print`] writes to standard output and returns the I/O error instead of panicking the way `println!` does;
//!   [`is_broken_pipe`] recognises a closed pipe (`compact … | head -1`) in an error chain so that `main` can end
//!   with success, as `ripgrep` does.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Writes `bytes` to `path` atomically: temporary file beside it, then rename. Creates missing parent folders.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    with_atomic(path, |tmp| std::fs::write(tmp, bytes).with_context(|| format!("cannot write '{}'", tmp.display())))
}

/// Runs `write` on a temporary path beside `path` (same folder, same extension, so format-by-extension writers
/// such as image backends still work) and renames the result over `path` once `write` succeeded; on failure the
/// temporary file is removed and `path` is left untouched.
pub fn with_atomic(path: &Path, write: impl FnOnce(&Path) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create folder '{}'", dir.display()))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}{ext}", std::process::id()));
    let result = write(&tmp).and_then(|()| {
        std::fs::rename(&tmp, path).with_context(|| format!("cannot move '{}' to '{}'", tmp.display(), path.display()))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes formatted text to standard output; a closed pipe comes back as an error ([`is_broken_pipe`]).
pub fn print(args: fmt::Arguments<'_>) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_fmt(args).context("cannot write to standard output")?;
    out.flush().context("cannot write to standard output")
}

/// Whether an error was caused by writing to a closed pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file_and_cleans_up_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub").join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let err = with_atomic(&p, |_| anyhow::bail!("disk full")).unwrap_err();
        assert!(err.to_string().contains("disk full"));
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1, "temporary file left behind");
    }

    #[test]
    fn broken_pipe_is_recognised_through_context() {
        let e = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe)).context("printing");
        assert!(is_broken_pipe(&e));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }
}
