//! Computes the code digest the sweep records carry ([`experiment_runner::sweep::CODE_DIGEST`]): SHA-256 over the
//! workspace's `Cargo.toml`, `Cargo.lock` and every crate's `Cargo.toml` and `src/**` (paths sorted, each file
//! prefixed by its path relative to the workspace root). Files of the runner that only *read* records (tables,
//! figures, the reproducibility comparison) are left out, so redrawing a figure does not invalidate results.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Runner files that never influence a record's content.
const READ_ONLY: &[&str] = &[
    "crates/experiment-runner/src/plot.rs",
    "crates/experiment-runner/src/report.rs",
    "crates/experiment-runner/src/table.rs",
    "crates/experiment-runner/src/reproduce.rs",
    "crates/experiment-runner/src/report_any.rs",
    "crates/experiment-runner/src/report_softmax.rs",
    "crates/experiment-runner/src/report_transformers.rs",
];

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let root = manifest.join("../..");
    let mut files = vec![root.join("Cargo.toml"), root.join("Cargo.lock")];
    println!("cargo:rerun-if-changed={}", root.join("Cargo.toml").display());
    println!("cargo:rerun-if-changed={}", root.join("Cargo.lock").display());
    if let Ok(crates) = fs::read_dir(root.join("crates")) {
        for c in crates.flatten() {
            let dir = c.path();
            if !dir.is_dir() {
                continue;
            }
            files.push(dir.join("Cargo.toml"));
            println!("cargo:rerun-if-changed={}", dir.join("Cargo.toml").display());
            println!("cargo:rerun-if-changed={}", dir.join("src").display());
            walk(&dir.join("src"), &mut files);
        }
    }
    let mut rel: Vec<(String, PathBuf)> = files
        .into_iter()
        .filter_map(|p| {
            let r = p.strip_prefix(&root).ok()?.to_string_lossy().replace('\\', "/");
            Some((r, p))
        })
        .filter(|(r, _)| !READ_ONLY.contains(&r.as_str()))
        .collect();
    rel.sort();
    let mut h = Sha256::new();
    for (r, p) in &rel {
        let Ok(bytes) = fs::read(p) else { continue };
        h.update(r.as_bytes());
        h.update([0u8]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    let digest: String = h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=COMPACT_CODE_DIGEST={digest}");
}
