//! The reproducibility comparison of `make reproduce`: regenerated records against the committed ones.
//!
//! Records are matched by experiment and point key. Two records agree on a field when its JSON leaves are equal
//! (numbers compared as f64, bit for bit); wall-clock timings ([`crate::records::TIMING_FIELDS`]) and the
//! provenance fields (digests, seeds are compared) are left out. For every experiment the report lists how many
//! points are identical, which differ (and in which fields, with the largest absolute and relative difference of
//! each), and which exist on one side only.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::records::TIMING_FIELDS;
use crate::shard::Shard;
use crate::sweep::{Record, read_records};

/// Largest differences of one field (leaf path with array indices written as `[]`) over the points of an experiment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldDiff {
    /// Points whose value differs.
    pub points: usize,
    /// Largest |new − old| of the numeric differences (NaN if only non-numeric values differ).
    pub max_abs: f64,
    /// Largest |new − old| / max(|old|, 1e-300).
    pub max_rel: f64,
}

/// The comparison of one experiment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExperimentDiff {
    /// Points in both and equal in every compared field.
    pub identical: usize,
    /// Keys of the points in both that differ.
    pub differing: Vec<String>,
    /// Keys only in the old records.
    pub only_old: Vec<String>,
    /// Keys only in the new records.
    pub only_new: Vec<String>,
    /// Per differing field.
    pub fields: BTreeMap<String, FieldDiff>,
}

fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Vec<Value>>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if TIMING_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                flatten(&if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") }, x, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                flatten(&format!("{prefix}[]"), x, out);
            }
            if a.is_empty() {
                out.entry(format!("{prefix}[]")).or_default();
            }
        }
        leaf => out.entry(prefix.to_string()).or_default().push(leaf.clone()),
    }
}

/// Compares two records of one point: per differing field (leaf path), the largest absolute and relative numeric
/// difference; empty when they agree.
pub fn compare_records(old: &Record, new: &Record) -> BTreeMap<String, FieldDiff> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten("", &old.result, &mut a);
    flatten("", &new.result, &mut b);
    a.entry("seed".into()).or_default().push(Value::from(old.seed));
    b.entry("seed".into()).or_default().push(Value::from(new.seed));
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut out = BTreeMap::new();
    let empty = Vec::new();
    for k in keys {
        let (x, y) = (a.get(k).unwrap_or(&empty), b.get(k).unwrap_or(&empty));
        if x == y {
            continue;
        }
        let mut d = FieldDiff { points: 1, max_abs: f64::NAN, max_rel: f64::NAN };
        if x.len() == y.len() {
            for (p, q) in x.iter().zip(y) {
                if let (Some(p), Some(q)) = (p.as_f64(), q.as_f64()) {
                    let abs = (q - p).abs();
                    // Relative to the committed value; a committed 0 that changed has no finite relative change.
                    let rel = if abs == 0.0 { 0.0 } else if p == 0.0 { f64::INFINITY } else { abs / p.abs() };
                    d.max_abs = if d.max_abs.is_nan() { abs } else { d.max_abs.max(abs) };
                    d.max_rel = if d.max_rel.is_nan() { rel } else { d.max_rel.max(rel) };
                }
            }
        }
        out.insert(k.clone(), d);
    }
    out
}

/// Compares the records of one experiment.
pub fn compare_experiment(old: &[Record], new: &[Record]) -> ExperimentDiff {
    let by_key = |rs: &[Record]| -> BTreeMap<String, Record> { rs.iter().map(|r| (r.key.clone(), r.clone())).collect() };
    let (a, b) = (by_key(old), by_key(new));
    let mut out = ExperimentDiff::default();
    for (k, ra) in &a {
        let Some(rb) = b.get(k) else {
            out.only_old.push(k.clone());
            continue;
        };
        let fields = compare_records(ra, rb);
        if fields.is_empty() {
            out.identical += 1;
            continue;
        }
        out.differing.push(k.clone());
        for (f, d) in fields {
            let e = out.fields.entry(f).or_insert(FieldDiff { points: 0, max_abs: f64::NAN, max_rel: f64::NAN });
            e.points += 1;
            e.max_abs = if e.max_abs.is_nan() { d.max_abs } else { e.max_abs.max(d.max_abs) };
            e.max_rel = if e.max_rel.is_nan() { d.max_rel } else { e.max_rel.max(d.max_rel) };
        }
    }
    out.only_new = b.keys().filter(|k| !a.contains_key(*k)).cloned().collect();
    out
}

/// At most this many point keys are listed per kind of difference; the rest are counted.
pub const MAX_LISTED: usize = 12;

/// `keys` joined by "; ", cut after [`MAX_LISTED`] with the number left out.
fn listed(keys: &[String]) -> String {
    let shown = keys.iter().take(MAX_LISTED).cloned().collect::<Vec<_>>().join("; ");
    match keys.len().saturating_sub(MAX_LISTED) {
        0 => shown,
        more => format!("{shown}; … and {more} more"),
    }
}

fn num(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x.is_infinite() {
        "∞ (committed value 0)".into()
    } else {
        format!("{x:.3e}")
    }
}

/// The record files of a raw folder: the experiments with a record file of their own (`<experiment>.jsonl`), and,
/// for every experiment that only has shard files (`<experiment>.shard-K-of-N.jsonl`, [`crate::shard`]), the first
/// of them. A shard file is a piece of its experiment, not an experiment; a missing folder holds nothing.
pub fn raw_experiments(raw: &Path) -> (BTreeSet<String>, BTreeMap<String, PathBuf>) {
    let stems: BTreeSet<String> = std::fs::read_dir(raw)
        .map(|it| {
            it.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".jsonl")).map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut merged = BTreeSet::new();
    let mut shards: BTreeMap<String, PathBuf> = BTreeMap::new();
    for stem in &stems {
        match Shard::split_stem(stem) {
            Some((experiment, _)) => {
                shards.entry(experiment.to_string()).or_insert_with(|| raw.join(format!("{stem}.jsonl")));
            }
            None => {
                merged.insert(stem.clone());
            }
        }
    }
    shards.retain(|e, _| !merged.contains(e));
    (merged, shards)
}

/// The one line saying that `shard_file` belongs to `experiment`, which has no merged record file beside it, so it
/// is not compared; the way out is `compact merge`.
fn unmerged_line(experiment: &str, shard_file: &Path) -> String {
    let results = shard_file.parent().and_then(Path::parent).map_or_else(|| ".".to_string(), |p| p.display().to_string());
    format!(
        "`{}` is a shard of '{experiment}', which has no merged `{experiment}.jsonl` beside it, so '{experiment}' is not \
         compared; merge its shards first: `compact merge experiments/<profile>/{experiment}.toml --results {results}`",
        shard_file.display()
    )
}

/// Compares every experiment's records (`<experiment>.jsonl`) of `old_raw` and `new_raw` and returns the Markdown
/// report. Shard files are not experiments: an experiment found only as shards in either folder is left out of the
/// comparison, with one line naming its shard file and the merge command.
pub fn compare_dirs(old_raw: &Path, new_raw: &Path) -> anyhow::Result<String> {
    let (old_names, old_unmerged) = raw_experiments(old_raw);
    let (new_names, new_unmerged) = raw_experiments(new_raw);
    let unmerged: BTreeMap<String, PathBuf> = old_unmerged.into_iter().chain(new_unmerged).collect();
    let names: BTreeSet<String> =
        old_names.union(&new_names).filter(|n| !unmerged.contains_key(n.as_str())).cloned().collect();
    if names.is_empty() {
        if let Some((experiment, file)) = unmerged.iter().next() {
            anyhow::bail!("{}", unmerged_line(experiment, file));
        }
        anyhow::bail!("no records in '{}' or '{}'; run the sweeps first", old_raw.display(), new_raw.display());
    }
    let mut md = String::new();
    writeln!(md, "# Reproducibility of the recorded sweeps\n")?;
    writeln!(
        md,
        "Written by `compact compare --old {} --new {}` (`make reproduce` runs it against the committed records). Records are matched by experiment \
         and point; a point is *identical* when every recorded number and string is equal bit for bit, wall-clock \
         timings ({}) excluded. Differing fields list the number of points and the largest absolute and relative \
         difference (`[]` stands for every element of a list).\n",
        old_raw.display(),
        new_raw.display(),
        TIMING_FIELDS.join(", ")
    )?;
    writeln!(md, "| experiment | points compared | identical | differing | only committed | only regenerated |")?;
    writeln!(md, "|---|---:|---:|---:|---:|---:|")?;
    let mut details = String::new();
    for name in &names {
        let old = read_records(&old_raw.join(format!("{name}.jsonl")))?;
        let new = read_records(&new_raw.join(format!("{name}.jsonl")))?;
        let d = compare_experiment(&old, &new);
        writeln!(
            md,
            "| {name} | {} | {} | {} | {} | {} |",
            d.identical + d.differing.len(),
            d.identical,
            d.differing.len(),
            d.only_old.len(),
            d.only_new.len()
        )?;
        if d.differing.is_empty() && d.only_old.is_empty() && d.only_new.is_empty() {
            continue;
        }
        writeln!(details, "\n## {name}\n")?;
        if !d.fields.is_empty() {
            writeln!(details, "| field | points | max abs diff | max rel diff |")?;
            writeln!(details, "|---|---:|---:|---:|")?;
            for (f, x) in &d.fields {
                writeln!(details, "| `{f}` | {} | {} | {} |", x.points, num(x.max_abs), num(x.max_rel))?;
            }
            writeln!(details, "\nDiffering points: {}.", listed(&d.differing))?;
        }
        if !d.only_old.is_empty() {
            writeln!(details, "\nOnly in the committed records: {}.", listed(&d.only_old))?;
        }
        if !d.only_new.is_empty() {
            writeln!(details, "\nOnly in the regenerated records: {}.", listed(&d.only_new))?;
        }
    }
    if !unmerged.is_empty() {
        writeln!(md)?;
        for (experiment, file) in &unmerged {
            writeln!(md, "- {}.", unmerged_line(experiment, file))?;
        }
    }
    md.push_str(&details);
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Point;
    use serde_json::json;

    fn rec(key: &str, result: Value, elapsed: f64) -> Record {
        Record {
            experiment: "e".into(),
            key: key.into(),
            point: Point { index: 0, activation: None, method: None, task: None, depth: None, density: None, nu: None },
            seed: 1,
            elapsed_s: elapsed,
            spec_digest: "s".into(),
            code_digest: "c".into(),
            result,
        }
    }

    fn write(dir: &Path, name: &str, records: &[Record]) {
        let text: String = records.iter().map(|r| serde_json::to_string(r).unwrap() + "\n").collect();
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn shard_files_are_not_experiments() {
        let (old, new) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let a = rec("p1", json!({"acc": 0.5}), 1.0);
        let b = rec("p2", json!({"acc": 0.25}), 1.0);
        // Both folders: the merged file of 'e'; the new one also keeps the shards it was merged from.
        write(old.path(), "e.jsonl", &[a.clone(), b.clone()]);
        write(new.path(), "e.jsonl", &[a.clone(), b.clone()]);
        write(new.path(), "e.shard-0-of-2.jsonl", std::slice::from_ref(&a));
        write(new.path(), "e.shard-1-of-2.jsonl", std::slice::from_ref(&b));
        let md = compare_dirs(old.path(), new.path()).unwrap();
        assert!(md.contains("| e | 2 | 2 | 0 | 0 | 0 |"), "{md}");
        assert!(!md.contains("shard-"), "a shard file listed as an experiment:\n{md}");
        // 'f' only as shards in the new folder: not compared (it would show every point as committed only), one
        // line naming the shard file and the merge command.
        write(old.path(), "f.jsonl", std::slice::from_ref(&a));
        write(new.path(), "f.shard-0-of-3.jsonl", std::slice::from_ref(&a));
        let md = compare_dirs(old.path(), new.path()).unwrap();
        assert!(!md.contains("| f |"), "{md}");
        let line = md.lines().find(|l| l.contains("f.shard-0-of-3.jsonl")).unwrap_or_else(|| panic!("{md}"));
        assert!(line.contains("no merged `f.jsonl`") && line.contains("compact merge experiments/<profile>/f.toml"), "{line}");
        // Nothing but shards: a one-line error with the way out.
        let (o, n) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        write(n.path(), "g.shard-1-of-2.jsonl", std::slice::from_ref(&b));
        let err = compare_dirs(o.path(), n.path()).unwrap_err().to_string();
        assert!(err.contains("g.shard-1-of-2.jsonl") && err.contains("compact merge") && !err.contains('\n'), "{err}");
    }

    #[test]
    fn long_key_lists_are_capped() {
        let keys: Vec<String> = (0..MAX_LISTED + 5).map(|i| format!("k={i}")).collect();
        let text = listed(&keys);
        assert!(text.ends_with("; … and 5 more"), "{text}");
        assert_eq!(text.matches("k=").count(), MAX_LISTED);
        assert_eq!(listed(&keys[..2]), "k=0; k=1");
    }

    #[test]
    fn timings_are_ignored_and_differences_measured() {
        let a = vec![
            rec("p1", json!({"acc": 0.5, "secure_seconds": 1.0, "curve": {"y": [1.0, 2.0]}}), 3.0),
            rec("p2", json!({"acc": 0.5, "name": "x"}), 1.0),
            rec("p3", json!({"acc": 0.5}), 1.0),
        ];
        let b = vec![
            rec("p1", json!({"acc": 0.5, "secure_seconds": 9.0, "curve": {"y": [1.0, 2.0]}}), 7.0),
            rec("p2", json!({"acc": 0.25, "name": "y"}), 1.0),
            rec("p4", json!({"acc": 0.5}), 1.0),
        ];
        let d = compare_experiment(&a, &b);
        assert_eq!(d.identical, 1);
        assert_eq!(d.differing, vec!["p2".to_string()]);
        assert_eq!((d.only_old.clone(), d.only_new.clone()), (vec!["p3".to_string()], vec!["p4".to_string()]));
        assert_eq!(d.fields["acc"].max_abs, 0.25);
        assert_eq!(d.fields["acc"].max_rel, 0.5);
        assert!(d.fields["name"].max_abs.is_nan());
        assert!(!d.fields.contains_key("secure_seconds"));
    }

    #[test]
    fn a_committed_zero_that_changed_has_an_infinite_relative_difference() {
        let a = vec![rec("p", json!({"n": [0.0, 4.0], "m": 0.0}), 1.0)];
        let b = vec![rec("p", json!({"n": [3.0, 5.0], "m": 0.0}), 1.0)];
        let d = compare_experiment(&a, &b);
        assert_eq!(d.fields["n[]"].max_abs, 3.0);
        assert!(d.fields["n[]"].max_rel.is_infinite(), "{:?}", d.fields["n[]"]);
        assert!(!d.fields.contains_key("m"));
        assert_eq!(num(d.fields["n[]"].max_rel), "∞ (committed value 0)");
        assert_eq!(num(0.25), "2.500e-1");
    }
}
