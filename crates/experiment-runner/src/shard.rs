//! Shards of a sweep: a deterministic partition of a spec's points so that the pieces can run anywhere (a Slurm job
//! array, several machines) and be merged back ([`crate::merge`]) into the record file one process would have written.
//!
//! Point `p` belongs to shard `fnv1a64(p.key()) mod N`, where `fnv1a64` is 64-bit FNV-1a (Fowler–Noll–Vo, offset
//! basis 0xcbf29ce484222325, prime 0x100000001b3) over the UTF-8 bytes of the canonical key ([`Point::key`]). The
//! hash is fixed by its definition — not `std`'s randomly keyed `HashMap` hasher — so every machine, every build and
//! every later version puts a point in the same shard, and because the key leaves out the point's index, growing a
//! grid does not move the points already placed.
//!
//! Shard `K` of `N` writes `<raw>/<experiment>.shard-K-of-N.jsonl` (same record lines as the single-process file)
//! and, when it finishes, a sidecar `<experiment>.shard-K-of-N.meta.json` ([`ShardMeta`]): spec digest, code digest
//! (the build-time digest of the code that computes records), point count, wall time and peak memory. The meta lets a later shard and
//! the merge refuse siblings made from other parameters or other code, and gives the Slurm resource plan a measured
//! peak memory.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::spec::{Point, Spec};
use crate::sweep::{Executor, SweepSummary, run_sweep_part};

/// Errors of shard arguments and shard files.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    /// `--shard` text that is not `K/N` with `0 ≤ K < N`.
    #[error("invalid shard '{0}': expected K/N with 0 <= K < N (0-based, e.g. --shard 0/4 … 3/4, as SLURM_ARRAY_TASK_ID counts)")]
    Parse(String),
    /// A sibling shard (or a shard meta) was made by another spec or another executable.
    #[error(
        "shard {} of '{}' was made with {} {} but this run has {} ('{}'); rerun every shard with the same spec and \
         binary, or move the old shard files away",
        .0.shard, .0.experiment, .0.what, .0.theirs, .0.ours, .0.path.display()
    )]
    Mismatch(Box<Mismatch>),
    /// A file could not be read or written.
    #[error("{action} '{path}': {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A meta file that does not parse.
    #[error("unreadable shard meta '{path}': {message}; delete it and rerun that shard")]
    BadMeta {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
}

/// What [`ShardError::Mismatch`] reports.
#[derive(Debug)]
pub struct Mismatch {
    /// Experiment name.
    pub experiment: String,
    /// Which shard (`K/N`).
    pub shard: String,
    /// `spec digest` or `code digest`.
    pub what: &'static str,
    /// The sibling's digest.
    pub theirs: String,
    /// This run's digest.
    pub ours: String,
    /// The sibling's meta file.
    pub path: PathBuf,
}

/// 64-bit FNV-1a of `bytes` (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Shard `index` of `count` (0-based, as `SLURM_ARRAY_TASK_ID` counts with `--array=0-(N-1)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Shard {
    /// K, in `0..count`.
    pub index: usize,
    /// N ≥ 1.
    pub count: usize,
}

impl Shard {
    /// Shard `index` of `count`, or an error when `index ≥ count` or `count = 0`.
    pub fn new(index: usize, count: usize) -> Result<Shard, ShardError> {
        if count == 0 || index >= count {
            return Err(ShardError::Parse(format!("{index}/{count}")));
        }
        Ok(Shard { index, count })
    }

    /// The shard (0-based) that owns the point with canonical key `key` among `count`: `fnv1a64(key) mod count`.
    pub fn of_key(key: &str, count: usize) -> usize {
        (fnv1a64(key.as_bytes()) % count.max(1) as u64) as usize
    }

    /// Whether `point` belongs to this shard.
    pub fn contains(&self, point: &Point) -> bool {
        Shard::of_key(&point.key(), self.count) == self.index
    }

    /// File stem of this shard's records: `<experiment>.shard-K-of-N` (records: `.jsonl`, meta: `.meta.json`).
    pub fn stem(&self, experiment: &str) -> String {
        format!("{experiment}.shard-{}-of-{}", self.index, self.count)
    }

    /// `<raw_dir>/<experiment>.shard-K-of-N.jsonl`.
    pub fn records_path(&self, raw_dir: &Path, experiment: &str) -> PathBuf {
        raw_dir.join(format!("{}.jsonl", self.stem(experiment)))
    }

    /// `<raw_dir>/<experiment>.shard-K-of-N.meta.json`.
    pub fn meta_path(&self, raw_dir: &Path, experiment: &str) -> PathBuf {
        raw_dir.join(format!("{}.meta.json", self.stem(experiment)))
    }

    /// Parses a shard file name `<experiment>.shard-K-of-N.jsonl` back into its shard (None for any other name).
    pub fn from_records_file(name: &str, experiment: &str) -> Option<Shard> {
        match Shard::split_stem(name.strip_suffix(".jsonl")?) {
            Some((e, s)) if e == experiment => Some(s),
            _ => None,
        }
    }

    /// Splits a record file stem `<experiment>.shard-K-of-N` into the experiment and its shard; `None` for the stem
    /// of an experiment's own (merged or single-process) record file.
    pub fn split_stem(stem: &str) -> Option<(&str, Shard)> {
        let (experiment, rest) = stem.rsplit_once(".shard-")?;
        let (k, n) = rest.split_once("-of-")?;
        let shard = Shard::new(k.parse().ok()?, n.parse().ok()?).ok()?;
        (!experiment.is_empty()).then_some((experiment, shard))
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError::Parse(s.to_string());
        let (k, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let (k, n) = (k.trim().parse::<usize>().map_err(|_| bad())?, n.trim().parse::<usize>().map_err(|_| bad())?);
        Shard::new(k, n).map_err(|_| bad())
    }
}

/// What a finished shard leaves beside its records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardMeta {
    /// Experiment name.
    pub experiment: String,
    /// The shard.
    pub shard: Shard,
    /// [`crate::spec::Spec::digest`] of the spec it ran.
    pub spec_digest: String,
    /// [`code_digest`] of the executable that ran it.
    pub code_digest: String,
    /// Points of the spec in this shard (recorded before or now).
    pub points: usize,
    /// Wall-clock seconds of this run of the shard (0 when every point was already recorded).
    pub wall_s: f64,
    /// Rayon worker threads the shard ran with.
    pub threads: usize,
    /// Peak resident memory of the process in MiB (`VmHWM` of `/proc/self/status`; 0 where unavailable).
    pub peak_rss_mib: f64,
}

impl ShardMeta {
    /// Reads a meta file; `None` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<ShardMeta>, ShardError> {
        match fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| ShardError::BadMeta { path: path.to_path_buf(), message: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ShardError::Io { action: "cannot read shard meta", path: path.to_path_buf(), source }),
        }
    }

    /// Writes the meta next to the records (temporary file, then rename, so a reader never sees half a file).
    pub fn write(&self, path: &Path) -> Result<(), ShardError> {
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| ShardError::BadMeta { path: path.to_path_buf(), message: e.to_string() })?;
        fs::write(&tmp, text + "\n")
            .and_then(|()| fs::rename(&tmp, path))
            .map_err(|source| ShardError::Io { action: "cannot write shard meta", path: path.to_path_buf(), source })
    }
}

/// The metas of every shard of `experiment` found in `raw_dir` (any N), sorted by shard.
pub fn sibling_metas(raw_dir: &Path, experiment: &str) -> Result<Vec<(PathBuf, ShardMeta)>, ShardError> {
    let entries = match fs::read_dir(raw_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(ShardError::Io { action: "cannot list", path: raw_dir.to_path_buf(), source }),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".meta.json") else { continue };
        if Shard::from_records_file(&format!("{stem}.jsonl"), experiment).is_some() {
            if let Some(meta) = ShardMeta::read(&entry.path())? {
                out.push((entry.path(), meta));
            }
        }
    }
    out.sort_by_key(|(_, m)| m.shard);
    Ok(out)
}

/// Fails when any sibling shard of `experiment` in `raw_dir` was made with another spec digest or code digest.
pub fn check_siblings(raw_dir: &Path, experiment: &str, spec_digest: &str, code_digest: &str) -> Result<(), ShardError> {
    for (path, meta) in sibling_metas(raw_dir, experiment)? {
        for (what, theirs, ours) in
            [("spec digest", &meta.spec_digest, spec_digest), ("code digest", &meta.code_digest, code_digest)]
        {
            if theirs != ours {
                return Err(ShardError::Mismatch(Box::new(Mismatch {
                    experiment: experiment.to_string(),
                    shard: meta.shard.to_string(),
                    what,
                    theirs: theirs.clone(),
                    ours: ours.to_string(),
                    path,
                })));
            }
        }
    }
    Ok(())
}

/// Runs the points of `spec` that belong to `shard` into the shard's record file, after refusing siblings made with
/// another spec or code digest; when no point failed, writes the shard's [`ShardMeta`].
pub fn run_shard(
    spec: &Spec,
    executor: &dyn Executor,
    raw_dir: &Path,
    progress: bool,
    shard: Shard,
) -> anyhow::Result<SweepSummary> {
    let code = code_digest()?;
    let digest = spec.digest();
    check_siblings(raw_dir, &spec.name, &digest, &code)?;
    let summary = run_sweep_part(spec, executor, raw_dir, progress, Some(shard))?;
    if summary.failed.is_empty() {
        let meta = ShardMeta {
            experiment: spec.name.clone(),
            shard,
            spec_digest: digest,
            code_digest: code,
            points: summary.total,
            wall_s: summary.elapsed_s,
            threads: rayon::current_num_threads(),
            peak_rss_mib: peak_rss_mib(),
        };
        meta.write(&shard.meta_path(raw_dir, &spec.name))?;
    }
    Ok(summary)
}

/// A digest of the code that computes the records: the build-time digest of the workspace sources
/// ([`crate::sweep::CODE_DIGEST`], which every record also carries), so shards built from the same sources agree
/// and a source change gives another digest.
pub fn code_digest() -> Result<String, ShardError> {
    Ok(crate::sweep::CODE_DIGEST.to_string())
}

/// Peak resident memory of this process in MiB (`VmHWM` of `/proc/self/status`), or 0 where that is unavailable.
pub fn peak_rss_mib() -> f64 {
    let Ok(status) = fs::read_to_string("/proc/self/status") else { return 0.0 };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_published_test_vectors() {
        // FNV-1a 64 reference values (Fowler/Noll/Vo test suite): "" and "a" and "foobar".
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn shards_partition_the_points_and_ignore_the_index() {
        let spec = Spec::parse(
            "name = \"p\"\nkind = \"k\"\n[grid]\nactivation = [\"silu\", \"gelu\", \"mish\"]\nmethod = [\"a\", \"b\", \"c\", \"d\"]\n",
        )
        .unwrap();
        let points = spec.points();
        for n in 1..=5 {
            let mut owners = vec![0usize; points.len()];
            for k in 0..n {
                let s = Shard::new(k, n).unwrap();
                for (i, p) in points.iter().enumerate() {
                    if s.contains(p) {
                        owners[i] += 1;
                    }
                }
            }
            assert!(owners.iter().all(|&c| c == 1), "every point in exactly one of {n} shards: {owners:?}");
        }
        // Same key, other index: same shard.
        let mut moved = points[3].clone();
        moved.index = 99;
        assert_eq!(Shard::of_key(&moved.key(), 4), Shard::of_key(&points[3].key(), 4));
        // Pinned: a change of hash would move every recorded shard; this catches it.
        assert_eq!(Shard::of_key("activation=silu,method=compact", 4), (fnv1a64(b"activation=silu,method=compact") % 4) as usize);
    }

    #[test]
    fn parses_and_names_shards() {
        let s: Shard = "2/4".parse().unwrap();
        assert_eq!(s, Shard { index: 2, count: 4 });
        assert_eq!(s.stem("accuracy"), "accuracy.shard-2-of-4");
        assert_eq!(Shard::from_records_file("accuracy.shard-2-of-4.jsonl", "accuracy"), Some(s));
        assert_eq!(Shard::from_records_file("accuracy.jsonl", "accuracy"), None);
        assert_eq!(Shard::from_records_file("accuracy-x.shard-2-of-4.jsonl", "accuracy"), None);
        assert_eq!(Shard::split_stem("accuracy.shard-2-of-4"), Some(("accuracy", s)));
        assert_eq!(Shard::split_stem("a.b.shard-0-of-1"), Some(("a.b", Shard { index: 0, count: 1 })));
        for other in ["accuracy", "accuracy.shard-4-of-4", "accuracy.shard-x-of-4", ".shard-0-of-2"] {
            assert_eq!(Shard::split_stem(other), None, "{other}");
        }
        for bad in ["4/4", "1", "a/2", "1/0", "-1/3", ""] {
            let err = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(err.contains(&format!("'{bad}'")) && err.contains("K/N"), "{err}");
        }
    }

    #[test]
    fn siblings_with_other_digests_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let meta = |k, spec: &str, code: &str| ShardMeta {
            experiment: "e".into(),
            shard: Shard::new(k, 2).unwrap(),
            spec_digest: spec.into(),
            code_digest: code.into(),
            points: 1,
            wall_s: 0.0,
            threads: 1,
            peak_rss_mib: 1.0,
        };
        meta(0, "s1", "c1").write(&Shard::new(0, 2).unwrap().meta_path(dir.path(), "e")).unwrap();
        check_siblings(dir.path(), "e", "s1", "c1").unwrap();
        let err = check_siblings(dir.path(), "e", "s2", "c1").unwrap_err().to_string();
        assert!(err.contains("spec digest s1") && err.contains("this run has s2") && err.contains("0/2"), "{err}");
        let err = check_siblings(dir.path(), "e", "s1", "c9").unwrap_err().to_string();
        assert!(err.contains("code digest c1"), "{err}");
        // Another experiment's shards are not siblings.
        check_siblings(dir.path(), "other", "x", "y").unwrap();
        assert_eq!(sibling_metas(dir.path(), "e").unwrap().len(), 1);
    }
}
