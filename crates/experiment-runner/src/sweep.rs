//! Running a sweep: points in parallel (rayon), progress (indicatif), and one JSON record appended per finished
//! point to `results/raw/<experiment>.jsonl`. A rerun reads that file first and skips every point whose key is
//! already recorded *by the same spec and the same code*, so an interrupted sweep (crash, Ctrl-C) resumes without
//! recomputing anything. Every record carries the spec's digest ([`Spec::digest`]) and the code's
//! ([`CODE_DIGEST`]); records made by another spec or other code are dropped from the file and their points
//! recomputed, and the run says how many ([`SweepSummary::stale`]).
//!
//! A record is written with a single `write` of one line followed by a flush, under a lock; a line cut short by a
//! crash is reported and ignored when the file is read back, so the point it belonged to runs again.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::shard::Shard;
use crate::spec::{Point, Spec, derive_seed};

/// Digest of the code that computes records: SHA-256 (first 16 hex digits) over the workspace's manifests,
/// `Cargo.lock` and every crate's sources except the runner's record *readers* (tables, figures, comparison);
/// computed by this crate's `build.rs` at compile time.
pub const CODE_DIGEST: &str = env!("COMPACT_CODE_DIGEST");

/// What a finished point leaves behind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Experiment name.
    pub experiment: String,
    /// [`Point::key`].
    pub key: String,
    /// The point itself.
    pub point: Point,
    /// The seed the point ran with.
    pub seed: u64,
    /// Wall-clock seconds the point took.
    pub elapsed_s: f64,
    /// [`Spec::digest`] of the spec that produced it.
    #[serde(default)]
    pub spec_digest: String,
    /// [`CODE_DIGEST`] of the binary that produced it (empty in records older than the field).
    #[serde(default)]
    pub code_digest: String,
    /// The executor's output (one of the typed results of [`crate::records`], as JSON).
    pub result: serde_json::Value,
}

/// Runs the points of one kind of experiment.
pub trait Executor: Sync {
    /// Checks the spec's names and parameters before anything runs (unknown activation, method, task …).
    fn validate(&self, spec: &Spec) -> anyhow::Result<()>;
    /// Whether a point of the grid is meaningful (e.g. PUMA is defined for GELU and SiLU only); points that are not
    /// are left out of the sweep. Defaults to every point.
    fn applicable(&self, _spec: &Spec, _point: &Point) -> bool {
        true
    }
    /// Computes one point. Must be deterministic given `seed`.
    fn run(&self, spec: &Spec, point: &Point, seed: u64) -> anyhow::Result<serde_json::Value>;
}

/// The append-only record file of one experiment.
#[derive(Debug)]
pub struct RecordFile {
    path: PathBuf,
    writer: Mutex<File>,
}

impl RecordFile {
    /// Opens (creating folders and file as needed) `<raw_dir>/<experiment>.jsonl` for appending.
    /// (`experiment` may also be a shard's file stem, see [`Shard::stem`].)
    pub fn open(raw_dir: &Path, experiment: &str) -> anyhow::Result<RecordFile> {
        fs::create_dir_all(raw_dir).with_context(|| {
            format!("cannot create results folder '{}'; check it is writable or pass --results DIR", raw_dir.display())
        })?;
        let path = raw_dir.join(format!("{experiment}.jsonl"));
        let mut file = OpenOptions::new().create(true).append(true).read(true).open(&path).with_context(|| {
            format!("cannot write records to '{}'; check it is writable or pass --results DIR", path.display())
        })?;
        crate::lock::lock_exclusive(&file, &path)?;
        // A crash mid-write leaves a line without its newline; end it so the next record starts on a line of its own.
        let len = file.metadata()?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
            }
        }
        Ok(RecordFile { path, writer: Mutex::new(file) })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record as one line.
    pub fn append(&self, record: &Record) -> anyhow::Result<()> {
        let mut line = serde_json::to_string(record)?;
        line.push('\n');
        let mut file = self.writer.lock().map_err(|_| anyhow::anyhow!("record writer poisoned"))?;
        file.write_all(line.as_bytes())?;
        file.flush()?;
        Ok(())
    }
}

/// Reads every complete record of a record file (missing file: none). Lines that do not parse — a write cut short
/// by a crash — are skipped with a warning on stderr.
pub fn read_records(path: &Path) -> anyhow::Result<Vec<Record>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read records '{}'", path.display())),
    };
    let cap = activation_approx::limits::MAX_RECORD_FILE_BYTES;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > cap {
        bail!(
            "record file '{}' is {len} bytes, above the cap of {cap} bytes (limits::MAX_RECORD_FILE_BYTES); split the \
             experiment or move old records away",
            path.display()
        );
    }
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file.take(cap)).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(&line) {
            Ok(r) => out.push(r),
            Err(e) => eprintln!(
                "warning: {}:{}: skipping unreadable record ({})",
                path.display(),
                i + 1,
                activation_approx::limits::clip(&e.to_string())
            ),
        }
    }
    Ok(out)
}

/// Outcome of [`run_sweep`].
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSummary {
    /// Points in the spec.
    pub total: usize,
    /// Points skipped because already recorded by the same spec and code.
    pub skipped: usize,
    /// Records dropped because another spec or other code made them (their points are recomputed).
    pub stale: usize,
    /// Points computed in this run.
    pub ran: usize,
    /// Points that failed, with their errors (their records are not written, so a rerun retries them).
    pub failed: Vec<(String, String)>,
    /// Seconds for the whole run.
    pub elapsed_s: f64,
}

/// Rewrites a record file with only `keep` (through a temporary file and a rename, so a crash leaves either the old
/// or the new file).
fn rewrite_records(path: &Path, keep: &[Record]) -> anyhow::Result<()> {
    let tmp = path.with_extension("jsonl.tmp");
    let mut text = String::new();
    for r in keep {
        text.push_str(&serde_json::to_string(r)?);
        text.push('\n');
    }
    fs::write(&tmp, text).with_context(|| format!("cannot write '{}'; check the folder is writable", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot replace '{}'", path.display()))?;
    Ok(())
}

/// Runs every not-yet-recorded point of `spec` with `executor`, appending records to `<raw_dir>/<name>.jsonl`
/// (records carry this binary's [`CODE_DIGEST`]).
pub fn run_sweep(spec: &Spec, executor: &dyn Executor, raw_dir: &Path, progress: bool) -> anyhow::Result<SweepSummary> {
    run_sweep_part(spec, executor, raw_dir, progress, None)
}

/// [`run_sweep`] restricted to the points of one [`Shard`], recorded in the shard's own file
/// (`<raw_dir>/<name>.shard-K-of-N.jsonl`); a shard may hold no point of a small spec. `None`: the whole sweep.
pub fn run_sweep_part(
    spec: &Spec,
    executor: &dyn Executor,
    raw_dir: &Path,
    progress: bool,
    shard: Option<Shard>,
) -> anyhow::Result<SweepSummary> {
    run_sweep_as(spec, executor, raw_dir, progress, shard, CODE_DIGEST)
}

/// [`run_sweep_part`] with the code digest given: records of another spec digest or code digest are dropped from
/// the file (counted in [`SweepSummary::stale`]) and their points recomputed.
pub fn run_sweep_as(
    spec: &Spec,
    executor: &dyn Executor,
    raw_dir: &Path,
    progress: bool,
    shard: Option<Shard>,
    code_digest: &str,
) -> anyhow::Result<SweepSummary> {
    // Names resolved and repeated grid values dropped before anything else (`["silu", "SiLU"]` is one point).
    let spec = &crate::names::canonical_spec(spec)?;
    executor.validate(spec)?;
    let points: Vec<Point> = spec
        .points()
        .into_iter()
        .filter(|p| executor.applicable(spec, p) && shard.is_none_or(|s| s.contains(p)))
        .collect();
    if points.is_empty() && shard.is_none() {
        bail!("empty sweep: spec '{}' expands to no points", spec.name);
    }
    fs::create_dir_all(raw_dir).with_context(|| {
        format!("cannot create results folder '{}'; check it is writable or pass --results DIR", raw_dir.display())
    })?;
    let stem = shard.map_or_else(|| spec.name.clone(), |s| s.stem(&spec.name));
    let digest = spec.digest();
    let path = raw_dir.join(format!("{stem}.jsonl"));
    let existing = read_records(&path)?;
    let total_existing = existing.len();
    let mut seen = HashSet::new();
    let current: Vec<Record> = existing
        .into_iter()
        .filter(|r| r.spec_digest == digest && r.code_digest == code_digest)
        .filter(|r| seen.insert(r.key.clone()))
        .collect();
    let stale = total_existing - current.len();
    if stale > 0 {
        rewrite_records(&path, &current)?;
    }
    let records = RecordFile::open(raw_dir, &stem)?;
    let done: HashSet<String> = current.into_iter().map(|r| r.key).collect();
    let todo: Vec<&Point> = points.iter().filter(|p| !done.contains(&p.key())).collect();
    let bar = if progress { ProgressBar::new(todo.len() as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(spec.name.clone());
    let start = Instant::now();
    let failed = Mutex::new(Vec::new());
    todo.par_iter().try_for_each(|point| -> anyhow::Result<()> {
        let seed = derive_seed(spec.seed, point.index);
        let t0 = Instant::now();
        match executor.run(spec, point, seed) {
            Ok(result) => {
                let record = Record {
                    experiment: spec.name.clone(),
                    key: point.key(),
                    point: (*point).clone(),
                    seed,
                    elapsed_s: t0.elapsed().as_secs_f64(),
                    spec_digest: digest.clone(),
                    code_digest: code_digest.to_string(),
                    result,
                };
                records.append(&record)?;
            }
            Err(e) => {
                bar.println(format!("{}: point {} failed: {e:#}", spec.name, point.key()));
                failed.lock().map_err(|_| anyhow::anyhow!("lock poisoned"))?.push((point.key(), format!("{e:#}")));
            }
        }
        bar.inc(1);
        Ok(())
    })?;
    bar.finish_and_clear();
    let failed = failed.into_inner().map_err(|_| anyhow::anyhow!("lock poisoned"))?;
    Ok(SweepSummary {
        total: points.len(),
        skipped: points.len() - todo.len(),
        stale,
        ran: todo.len() - failed.len(),
        failed,
        elapsed_s: start.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Squares the depth; fails on the points listed in `fail_on` (a stand-in for a crash mid-sweep).
    struct Square {
        calls: AtomicUsize,
        fail_on: Vec<usize>,
    }

    impl Executor for Square {
        fn validate(&self, _: &Spec) -> anyhow::Result<()> {
            Ok(())
        }
        fn run(&self, _: &Spec, p: &Point, seed: u64) -> anyhow::Result<serde_json::Value> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let d = p.depth.unwrap_or(0);
            if self.fail_on.contains(&d) {
                bail!("interrupted at depth {d}");
            }
            Ok(serde_json::json!({ "square": d * d, "seed": seed }))
        }
    }

    fn spec() -> Spec {
        Spec::parse("name = \"sq\"\nkind = \"square\"\nseed = 9\n[grid]\ndepth = [1, 2, 3, 4, 5, 6]\n").unwrap()
    }

    #[test]
    fn interrupted_sweep_resumes_without_recomputing() {
        let dir = tempfile::tempdir().unwrap();
        let first = Square { calls: AtomicUsize::new(0), fail_on: vec![4, 6] };
        let s1 = run_sweep(&spec(), &first, dir.path(), false).unwrap();
        assert_eq!((s1.ran, s1.failed.len(), s1.skipped), (4, 2, 0));
        // A crash can also leave half a line behind.
        let path = dir.path().join("sq.jsonl");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"experiment\":\"sq\",\"key\":\"dep").unwrap();
        drop(f);
        let second = Square { calls: AtomicUsize::new(0), fail_on: vec![] };
        let s2 = run_sweep(&spec(), &second, dir.path(), false).unwrap();
        assert_eq!(second.calls.load(Ordering::SeqCst), 2, "only the two unfinished points run again");
        assert_eq!((s2.ran, s2.skipped), (2, 4));
        let recs = read_records(&path).unwrap();
        let mut squares: Vec<u64> = recs.iter().map(|r| r.result["square"].as_u64().unwrap()).collect();
        squares.sort();
        assert_eq!(squares, vec![1, 4, 9, 16, 25, 36]);
        // Seeds depend only on (experiment seed, point index).
        let r4 = recs.iter().find(|r| r.point.depth == Some(4)).unwrap();
        assert_eq!(r4.seed, derive_seed(9, 3));
    }

    #[test]
    fn records_of_a_changed_spec_or_code_are_recomputed() {
        let dir = tempfile::tempdir().unwrap();
        let ex = Square { calls: AtomicUsize::new(0), fail_on: vec![] };
        run_sweep_as(&spec(), &ex, dir.path(), false, None, "code-a").unwrap();
        // Growing the grid keeps the digests: only the new point runs.
        let grown = Spec::parse("name = \"sq\"\nkind = \"square\"\nseed = 9\n[grid]\ndepth = [1, 2, 3, 4, 5, 6, 7]\n").unwrap();
        let s = run_sweep_as(&grown, &ex, dir.path(), false, None, "code-a").unwrap();
        assert_eq!((s.skipped, s.ran, s.stale), (6, 1, 0));
        // Other code: every record is stale, every point recomputed, the file holds only the new records.
        let s = run_sweep_as(&grown, &ex, dir.path(), false, None, "code-b").unwrap();
        assert_eq!((s.skipped, s.ran, s.stale), (0, 7, 7));
        let recs = read_records(&dir.path().join("sq.jsonl")).unwrap();
        assert_eq!(recs.len(), 7);
        assert!(recs.iter().all(|r| r.code_digest == "code-b"));
        // Another spec (seed): the same.
        let changed = Spec::parse("name = \"sq\"\nkind = \"square\"\nseed = 10\n[grid]\ndepth = [1, 2]\n").unwrap();
        let s = run_sweep_as(&changed, &ex, dir.path(), false, None, "code-b").unwrap();
        assert_eq!((s.skipped, s.ran, s.stale), (0, 2, 7));
        assert_eq!(read_records(&dir.path().join("sq.jsonl")).unwrap().len(), 2);
    }

    #[test]
    fn unwritable_results_folder_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        fs::write(&blocker, b"x").unwrap();
        let ex = Square { calls: AtomicUsize::new(0), fail_on: vec![] };
        let err = run_sweep(&spec(), &ex, &blocker.join("raw"), false).unwrap_err();
        assert!(format!("{err:#}").contains("cannot create results folder"), "{err:#}");
    }
}
