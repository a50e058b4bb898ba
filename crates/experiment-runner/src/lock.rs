//! An exclusive advisory lock (`fs4`, `flock` on Unix) on a results folder's record file while `compact run`
//! appends to it: a second run of the same experiment into the same folder fails at once with a clear error
//! instead of computing and writing every record a second time. The lock is released when the file is closed
//! (also when the process dies).

use std::fs::File;
use std::path::Path;

use anyhow::bail;
use fs4::{FileExt, TryLockError};

/// Takes the exclusive lock on `file` (opened from `path`) without waiting.
pub fn lock_exclusive(file: &File, path: &Path) -> anyhow::Result<()> {
    match FileExt::try_lock(file) {
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => bail!(
            "'{}' is locked by another `compact run` writing the same experiment; wait for it to finish or use \
             another --results folder",
            path.display()
        ),
        Err(TryLockError::Error(e)) => bail!("cannot lock '{}': {e}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_until_the_first_is_closed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.jsonl");
        let a = std::fs::OpenOptions::new().create(true).append(true).open(&p).unwrap();
        lock_exclusive(&a, &p).unwrap();
        let b = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        let e = lock_exclusive(&b, &p).unwrap_err().to_string();
        assert!(e.contains("locked by another") && e.contains("x.jsonl"), "{e}");
        drop(a);
        lock_exclusive(&b, &p).unwrap();
    }
}
