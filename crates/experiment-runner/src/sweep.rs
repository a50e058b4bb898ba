//! Running a sweep: points in parallel (rayon), progress (indicatif), and one JSON record appended per finished
//! point to `results/raw/<experiment>.jsonl`. A rerun reads that file first and skips every point whose key is
//! already recorded, so an interrupted sweep (crash, Ctrl-C) resumes without recomputing anything.
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
    /// The executor's output.
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
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(&line) {
            Ok(r) => out.push(r),
            Err(e) => eprintln!("warning: {}:{}: skipping unreadable record ({e})", path.display(), i + 1),
        }
    }
    Ok(out)
}

/// Outcome of [`run_sweep`].
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSummary {
    /// Points in the spec.
    pub total: usize,
    /// Points skipped because already recorded.
    pub skipped: usize,
    /// Points computed in this run.
    pub ran: usize,
    /// Points that failed, with their errors (their records are not written, so a rerun retries them).
    pub failed: Vec<(String, String)>,
    /// Seconds for the whole run.
    pub elapsed_s: f64,
}

/// Runs every not-yet-recorded point of `spec` with `executor`, appending records to `<raw_dir>/<name>.jsonl`.
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
    executor.validate(spec)?;
    let points: Vec<Point> = spec
        .points()
        .into_iter()
        .filter(|p| executor.applicable(spec, p) && shard.is_none_or(|s| s.contains(p)))
        .collect();
    if points.is_empty() && shard.is_none() {
        bail!("empty sweep: spec '{}' expands to no points", spec.name);
    }
    let stem = shard.map_or_else(|| spec.name.clone(), |s| s.stem(&spec.name));
    let records = RecordFile::open(raw_dir, &stem)?;
    let digest = spec.digest();
    let existing = read_records(records.path())?;
    if let Some(stale) = existing.iter().find(|r| r.spec_digest != digest) {
        bail!(
            "'{}' holds records of spec '{}' made with other parameters (digest {} ≠ {}); move or delete that file to \
             rerun with the current spec",
            records.path().display(),
            spec.name,
            if stale.spec_digest.is_empty() { "none" } else { &stale.spec_digest },
            digest
        );
    }
    let done: HashSet<String> = existing.into_iter().map(|r| r.key).collect();
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
    fn records_of_a_changed_spec_are_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let ex = Square { calls: AtomicUsize::new(0), fail_on: vec![] };
        run_sweep(&spec(), &ex, dir.path(), false).unwrap();
        let changed = Spec::parse("name = \"sq\"\nkind = \"square\"\nseed = 10\n[grid]\ndepth = [1, 2]\n").unwrap();
        let err = run_sweep(&changed, &ex, dir.path(), false).unwrap_err().to_string();
        assert!(err.contains("other parameters") && err.contains("sq.jsonl"), "{err}");
        // Growing the grid keeps the digest: only the new point runs.
        let grown = Spec::parse("name = \"sq\"\nkind = \"square\"\nseed = 9\n[grid]\ndepth = [1, 2, 3, 4, 5, 6, 7]\n").unwrap();
        let s = run_sweep(&grown, &ex, dir.path(), false).unwrap();
        assert_eq!((s.skipped, s.ran), (6, 1));
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
