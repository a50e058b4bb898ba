//! Merging the shards of a sweep ([`crate::shard`]) into `<raw>/<experiment>.jsonl`, the file one process would have
//! written, after checking that
//!
//! - the shard files of one experiment all split it into the same N and none of shards `0..N` is missing, and every
//!   shard finished (its meta exists);
//! - every shard, and every record in it, comes from the spec being merged (spec digest) and from one executable
//!   (code digest);
//! - every applicable point of the spec is recorded exactly once, in the shard its key hashes to.
//!
//! The merged file lists the records in the spec's expansion order (point index). A single process appends records
//! in completion order, which depends on thread timing, so two single-process runs already differ in line order;
//! [`canonical_lines`] (expansion order, timing fields zeroed) is the form in which a merged file and a
//! single-process file are byte-identical.
//!
//! The record format is read and written in one place each ([`read_record_file`], [`write_record_file`]) and a
//! record's identity in one ([`identity`]): when records change shape, only these three change.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::shard::{Shard, ShardMeta};
use crate::spec::Spec;
use crate::records::TIMING_FIELDS;
use crate::sweep::{Executor, Record, read_records};


/// What identifies a record and what produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The point's canonical key ([`crate::spec::Point::key`]).
    pub key: String,
    /// Digest of the spec parameters that produced it.
    pub spec_digest: String,
    /// Digest of the code that produced it, when the record carries one (today: the shard's meta carries it).
    pub code_digest: Option<String>,
}

/// The seam to the record format: a record's identity.
pub fn identity(record: &Record) -> Identity {
    Identity { key: record.key.clone(), spec_digest: record.spec_digest.clone(), code_digest: Some(record.code_digest.clone()) }
}

/// The seam to the record format: every record of a record file (missing file: none).
pub fn read_record_file(path: &Path) -> anyhow::Result<Vec<Record>> {
    read_records(path)
}

/// The seam to the record format: writes `records` one per line exactly as [`crate::sweep::RecordFile::append`]
/// does, to a temporary file renamed over `path` (a reader never sees a half-written merge).
pub fn write_record_file(path: &Path, records: &[Record]) -> anyhow::Result<()> {
    let mut text = String::new();
    for r in records {
        text.push_str(&serde_json::to_string(r)?);
        text.push('\n');
    }
    let tmp = path.with_extension("jsonl.merging");
    fs::write(&tmp, text).with_context(|| format!("cannot write '{}'; check the results folder is writable", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot rename '{}' to '{}'", tmp.display(), path.display()))?;
    Ok(())
}

/// The form in which two record files of the same sweep compare equal: one JSON line per record in point-index order,
/// with every [`TIMING_FIELDS`] entry (top level and anywhere in `result`) set to 0.
pub fn canonical_lines(records: &[Record]) -> anyhow::Result<Vec<String>> {
    fn zero_timings(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, x) in map.iter_mut() {
                    if TIMING_FIELDS.contains(&k.as_str()) {
                        *x = serde_json::json!(0.0);
                    } else {
                        zero_timings(x);
                    }
                }
            }
            serde_json::Value::Array(xs) => xs.iter_mut().for_each(zero_timings),
            _ => {}
        }
    }
    let mut sorted: Vec<&Record> = records.iter().collect();
    sorted.sort_by(|a, b| (a.point.index, &a.key).cmp(&(b.point.index, &b.key)));
    sorted
        .into_iter()
        .map(|r| {
            let mut v = serde_json::to_value(r)?;
            zero_timings(&mut v);
            Ok(serde_json::to_string(&v)?)
        })
        .collect()
}

/// Outcome of [`merge_experiment`].
#[derive(Debug, Clone, PartialEq)]
pub struct MergeSummary {
    /// Experiment name.
    pub experiment: String,
    /// N, the number of shards merged.
    pub shards: usize,
    /// Records written.
    pub records: usize,
    /// The merged file.
    pub path: PathBuf,
    /// The code digest shared by every shard.
    pub code_digest: String,
}

/// The shards of `experiment` present in `raw_dir` (from their record file names), sorted.
pub fn shard_files(raw_dir: &Path, experiment: &str) -> anyhow::Result<Vec<Shard>> {
    let entries = fs::read_dir(raw_dir)
        .with_context(|| format!("cannot list '{}'; pass the --results folder the shards wrote to", raw_dir.display()))?;
    let mut out: Vec<Shard> = entries
        .flatten()
        .filter_map(|e| Shard::from_records_file(&e.file_name().to_string_lossy(), experiment))
        .collect();
    out.sort();
    Ok(out)
}

/// Checks the shards of `spec` in `raw_dir` (see the module documentation) and writes `<raw_dir>/<name>.jsonl` in
/// expansion order. An existing merged file is replaced only with `force`.
pub fn merge_experiment(spec: &Spec, executor: &dyn Executor, raw_dir: &Path, force: bool) -> anyhow::Result<MergeSummary> {
    let name = &spec.name;
    executor.validate(spec)?;
    let shards = shard_files(raw_dir, name)?;
    let Some(first) = shards.first() else {
        bail!(
            "no shard files '{name}.shard-K-of-N.jsonl' in '{}'; run `compact run <spec> --shard K/N` for K = 0 … N-1 first",
            raw_dir.display()
        );
    };
    let n = first.count;
    if let Some(other) = shards.iter().find(|s| s.count != n) {
        bail!(
            "'{}' mixes shards of '{name}' split {n} ways and {} ways; keep one split (delete the files of the other)",
            raw_dir.display(),
            other.count
        );
    }
    if let Some(k) = (0..n).find(|k| !shards.iter().any(|s| s.index == *k)) {
        bail!("shard {k}/{n} of '{name}' is missing from '{}'; run `compact run <spec> --shard {k}/{n}`", raw_dir.display());
    }
    let digest = spec.digest();
    let mut code: Option<(Shard, String)> = None;
    for &shard in &shards {
        let meta_path = shard.meta_path(raw_dir, name);
        let Some(meta) = ShardMeta::read(&meta_path)? else {
            bail!(
                "shard {shard} of '{name}' did not finish (no '{}'); rerun `compact run <spec> --shard {shard}`",
                meta_path.display()
            );
        };
        if meta.spec_digest != digest {
            bail!(
                "shard {shard} of '{name}' ran spec digest {} but the spec given has {digest}; merge with the spec the \
                 shards ran, or rerun them",
                meta.spec_digest
            );
        }
        match &code {
            None => code = Some((shard, meta.code_digest.clone())),
            Some((s0, c0)) if *c0 != meta.code_digest => bail!(
                "shards of '{name}' come from different code: shard {s0} code digest {c0}, shard {shard} {}; rerun every \
                 shard with one binary",
                meta.code_digest
            ),
            Some(_) => {}
        }
    }
    let code_digest = code.map(|(_, c)| c).unwrap_or_default();
    let expected: BTreeMap<String, usize> = spec
        .points()
        .into_iter()
        .filter(|p| executor.applicable(spec, p))
        .map(|p| (p.key(), p.index))
        .collect();
    let mut seen: HashMap<String, (Shard, Record)> = HashMap::new();
    for &shard in &shards {
        let path = shard.records_path(raw_dir, name);
        for record in read_record_file(&path)? {
            let id = identity(&record);
            if id.spec_digest != digest {
                bail!(
                    "record '{}' in '{}' has spec digest {} ≠ {digest}; rerun shard {shard}",
                    id.key,
                    path.display(),
                    id.spec_digest
                );
            }
            if let Some(c) = id.code_digest.as_ref().filter(|c| **c != code_digest) {
                bail!("record '{}' in '{}' has code digest {c} ≠ {code_digest}; rerun shard {shard}", id.key, path.display());
            }
            if !expected.contains_key(&id.key) {
                bail!("record '{}' in '{}' is not a point of spec '{name}'; merge with the spec the shards ran", id.key, path.display());
            }
            let owner = Shard::of_key(&id.key, n);
            if owner != shard.index {
                bail!(
                    "record '{}' is in shard {shard} but its key hashes to shard {owner}/{n}; the shard files come from \
                     different partitions — rerun the shards",
                    id.key
                );
            }
            if let Some((other, _)) = seen.get(&id.key) {
                bail!("point '{}' is recorded twice (shard {other} and shard {shard}); delete one of the lines", id.key);
            }
            seen.insert(id.key, (shard, record));
        }
    }
    let missing: Vec<&String> = expected.keys().filter(|k| !seen.contains_key(*k)).collect();
    if let Some(first) = missing.first() {
        let owner = Shard::of_key(first, n);
        bail!(
            "point '{first}' is missing{} (shard {owner}/{n} has no record of it); rerun `compact run <spec> --shard {owner}/{n}`",
            if missing.len() > 1 { format!(" with {} others", missing.len() - 1) } else { String::new() }
        );
    }
    let mut records: Vec<Record> = seen.into_values().map(|(_, r)| r).collect();
    records.sort_by_key(|r| expected.get(&r.key).copied().unwrap_or(usize::MAX));
    let path = raw_dir.join(format!("{name}.jsonl"));
    if path.exists() && !force {
        bail!("'{}' exists; move it away or pass --force to replace it with the merge", path.display());
    }
    write_record_file(&path, &records)?;
    Ok(MergeSummary { experiment: name.clone(), shards: n, records: records.len(), path, code_digest })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::run_shard;
    use crate::spec::Point;
    use crate::sweep::run_sweep;

    /// Cubes the depth; PUMA-like: depth 5 is not applicable.
    struct Cube;

    impl Executor for Cube {
        fn validate(&self, _: &Spec) -> anyhow::Result<()> {
            Ok(())
        }
        fn applicable(&self, _: &Spec, p: &Point) -> bool {
            p.depth != Some(5)
        }
        fn run(&self, _: &Spec, p: &Point, seed: u64) -> anyhow::Result<serde_json::Value> {
            let d = p.depth.unwrap_or(0) as u64;
            Ok(serde_json::json!({ "cube": d * d * d, "seed": seed, "method": p.method, "secure_seconds": 0.5 }))
        }
    }

    fn spec(seed: u64) -> Spec {
        Spec::parse(&format!(
            "name = \"cu\"\nkind = \"cube\"\nseed = {seed}\n[grid]\nmethod = [\"puma\", \"nfgen\", \"bolt\"]\ndepth = [1, 2, 3, 4, 5, 6, 7]\n"
        ))
        .unwrap()
    }

    fn shard(k: usize, n: usize) -> Shard {
        Shard::new(k, n).unwrap()
    }

    #[test]
    fn merged_shards_equal_a_single_process_run() {
        let single = tempfile::tempdir().unwrap();
        run_sweep(&spec(1), &Cube, single.path(), false).unwrap();
        let single_records = read_record_file(&single.path().join("cu.jsonl")).unwrap();
        assert_eq!(single_records.len(), 18);
        for n in [1, 3, 4] {
            let dir = tempfile::tempdir().unwrap();
            let mut total = 0;
            for k in (0..n).rev() {
                total += run_shard(&spec(1), &Cube, dir.path(), false, shard(k, n)).unwrap().total;
            }
            assert_eq!(total, 18, "the shards hold every applicable point once");
            let m = merge_experiment(&spec(1), &Cube, dir.path(), false).unwrap();
            assert_eq!((m.shards, m.records), (n, 18));
            let merged = read_record_file(&m.path).unwrap();
            assert_eq!(canonical_lines(&merged).unwrap(), canonical_lines(&single_records).unwrap());
            // Written in expansion order.
            assert!(merged.windows(2).all(|w| w[0].point.index < w[1].point.index));
            let err = merge_experiment(&spec(1), &Cube, dir.path(), false).unwrap_err().to_string();
            assert!(err.contains("--force"), "{err}");
            merge_experiment(&spec(1), &Cube, dir.path(), true).unwrap();
        }
    }

    #[test]
    fn missing_duplicate_and_foreign_records_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path();
        let err = merge_experiment(&spec(1), &Cube, raw, false).unwrap_err().to_string();
        assert!(err.contains("no shard files"), "{err}");
        for k in [0, 2] {
            run_shard(&spec(1), &Cube, raw, false, shard(k, 3)).unwrap();
        }
        let err = merge_experiment(&spec(1), &Cube, raw, false).unwrap_err().to_string();
        assert!(err.contains("shard 1/3") && err.contains("--shard 1/3"), "{err}");
        run_shard(&spec(1), &Cube, raw, false, shard(1, 3)).unwrap();
        // Lose one line of shard 1: that point is missing.
        let p1 = shard(1, 3).records_path(raw, "cu");
        let text = fs::read_to_string(&p1).unwrap();
        let (first, rest) = text.split_once('\n').unwrap();
        fs::write(&p1, rest).unwrap();
        let err = merge_experiment(&spec(1), &Cube, raw, false).unwrap_err().to_string();
        assert!(err.contains("is missing") && err.contains("--shard 1/3"), "{err}");
        // The same line twice: a duplicate.
        fs::write(&p1, format!("{first}\n{first}\n{rest}")).unwrap();
        let err = merge_experiment(&spec(1), &Cube, raw, false).unwrap_err().to_string();
        assert!(err.contains("recorded twice"), "{err}");
        // A line in the wrong shard's file.
        let p0 = shard(0, 3).records_path(raw, "cu");
        fs::write(&p1, rest).unwrap();
        fs::write(&p0, format!("{}{first}\n", fs::read_to_string(&p0).unwrap())).unwrap();
        let err = merge_experiment(&spec(1), &Cube, raw, false).unwrap_err().to_string();
        assert!(err.contains("hashes to shard 1/3"), "{err}");
        // Another spec's parameters.
        let err = merge_experiment(&spec(2), &Cube, raw, false).unwrap_err().to_string();
        assert!(err.contains("spec digest"), "{err}");
        // A shard run with other parameters next to its siblings is refused before it runs.
        let err = run_shard(&spec(2), &Cube, raw, false, shard(0, 3)).unwrap_err().to_string();
        assert!(err.contains("spec digest"), "{err}");
        // Shards of another split in the same folder.
        run_shard(&spec(1), &Cube, raw, false, shard(0, 2)).unwrap();
        let err = merge_experiment(&spec(1), &Cube, raw, false).unwrap_err().to_string();
        assert!(err.contains("split 2 ways and 3 ways"), "{err}");
    }

    #[test]
    fn shards_of_other_code_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path();
        for k in 0..2 {
            run_shard(&spec(1), &Cube, raw, false, shard(k, 2)).unwrap();
        }
        let meta_path = shard(1, 2).meta_path(raw, "cu");
        let mut meta = ShardMeta::read(&meta_path).unwrap().unwrap();
        meta.code_digest = "0123456789abcdef".into();
        meta.write(&meta_path).unwrap();
        let err = merge_experiment(&spec(1), &Cube, raw, false).unwrap_err().to_string();
        assert!(err.contains("different code") && err.contains("0123456789abcdef"), "{err}");
        let err = run_shard(&spec(1), &Cube, raw, false, shard(0, 2)).unwrap_err().to_string();
        assert!(err.contains("code digest 0123456789abcdef"), "{err}");
        // A shard that never finished has no meta.
        fs::remove_file(&meta_path).unwrap();
        let err = merge_experiment(&spec(1), &Cube, raw, false).unwrap_err().to_string();
        assert!(err.contains("did not finish"), "{err}");
    }

    #[test]
    fn canonical_form_ignores_order_and_timings_only() {
        let dir = tempfile::tempdir().unwrap();
        run_sweep(&spec(1), &Cube, dir.path(), false).unwrap();
        let mut a = read_record_file(&dir.path().join("cu.jsonl")).unwrap();
        let mut b = a.clone();
        b.reverse();
        b[0].elapsed_s += 3.0;
        b[0].result["secure_seconds"] = serde_json::json!(9.0);
        assert_eq!(canonical_lines(&a).unwrap(), canonical_lines(&b).unwrap());
        a[0].result["cube"] = serde_json::json!(-1);
        assert_ne!(canonical_lines(&a).unwrap(), canonical_lines(&b).unwrap());
    }
}
