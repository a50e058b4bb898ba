//! `compact report` for experiments of any name: every `results/raw/<name>.jsonl` without a dedicated section gets
//! a generic table (one row per point: its key and the result's scalar fields), and every record file is read with
//! repeated points collapsed to their latest record, so a doubled file never doubles a table's rows.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context;
use serde_json::Value;

use crate::sweep::{Record, read_records};
use crate::table::{Table, Values};

/// Most result fields a generic table shows (first in alphabetical order).
pub const MAX_GENERIC_COLUMNS: usize = 12;

/// The records of a file, one per point key (the last one written wins), in file order of first appearance.
pub fn read_unique(path: &Path) -> anyhow::Result<Vec<Record>> {
    let mut order: Vec<String> = Vec::new();
    let mut by_key: BTreeMap<String, Record> = BTreeMap::new();
    for r in read_records(path)? {
        if !by_key.contains_key(&r.key) {
            order.push(r.key.clone());
        }
        by_key.insert(r.key.clone(), r);
    }
    Ok(order.into_iter().filter_map(|k| by_key.remove(&k)).collect())
}

/// Every `<raw>/<name>.jsonl` whose name is not in `known`, with its (de-duplicated) records, sorted by name.
pub fn other_experiments(raw: &Path, known: &[&str]) -> anyhow::Result<Vec<(String, Vec<Record>)>> {
    let entries = match std::fs::read_dir(raw) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot list '{}'", raw.display())),
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|n| !known.contains(&n.as_str()))
        // A Slurm shard's own file (`<experiment>.shard-K-of-N.jsonl`) is part of its experiment, merged by
        // `compact merge`; it is not an experiment of its own.
        .filter(|n| crate::shard::Shard::split_stem(n).is_none())
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let records = read_unique(&raw.join(format!("{name}.jsonl")))?;
        if !records.is_empty() {
            out.push((name, records));
        }
    }
    Ok(out)
}

/// The generic table of one experiment: `point`, then up to [`MAX_GENERIC_COLUMNS`] scalar result fields.
pub fn generic_table(records: &[Record]) -> Table {
    let mut keys: BTreeSet<String> = BTreeSet::new();
    for r in records {
        if let Some(obj) = r.result.as_object() {
            keys.extend(obj.iter().filter(|(_, v)| v.is_number() || v.is_string()).map(|(k, _)| k.clone()));
        }
    }
    let mut t = Table::new().with("point", Values::Str(records.iter().map(|r| r.key.clone()).collect()));
    for k in keys.into_iter().take(MAX_GENERIC_COLUMNS) {
        let numeric = records.iter().all(|r| r.result.get(&k).is_none_or(|v| v.is_number() || v.is_null()));
        let col = if numeric {
            Values::F64(records.iter().map(|r| r.result.get(&k).and_then(Value::as_f64).unwrap_or(f64::NAN)).collect())
        } else {
            Values::Str(
                records
                    .iter()
                    .map(|r| match r.result.get(&k) {
                        Some(Value::String(s)) => activation_approx::limits::clip(s),
                        Some(Value::Null) | None => "-".into(),
                        Some(v) => activation_approx::limits::clip(&v.to_string()),
                    })
                    .collect(),
            )
        };
        t = if crate::records::TIMING_FIELDS.contains(&k.as_str()) { t.with_wall_clock(&k, col) } else { t.with(&k, col) };
    }
    t
}

/// Writes `<results>/tables/<name>.{csv,md}` and returns the README section.
pub fn generic_outputs(name: &str, records: &[Record], tables: &Path, results: &Path) -> anyhow::Result<(String, String)> {
    let t = generic_table(records);
    t.write(tables, name)?;
    let body = format!(
        "Experiment `{name}` ({} points; no dedicated section, so every scalar result field is listed). Written by \
         `compact report` from `{}/raw/{name}.jsonl`.\n\n{}",
        records.len(),
        results.display(),
        t.to_markdown()?
    );
    Ok((format!("Experiment {name}"), body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Point;

    fn rec(key: &str, v: f64) -> Record {
        Record {
            experiment: "mine".into(),
            key: key.into(),
            point: Point { index: 0, activation: None, method: None, task: None, depth: None, nu: None, density: None },
            seed: 0,
            elapsed_s: 0.0,
            spec_digest: String::new(),
            code_digest: String::new(),
            result: serde_json::json!({ "bytes": v, "name": "x" }),
        }
    }

    #[test]
    fn any_experiment_is_reported_once_per_point() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw");
        std::fs::create_dir_all(&raw).unwrap();
        let lines: Vec<String> =
            [rec("depth=1", 1.0), rec("depth=1", 2.0), rec("depth=2", 3.0)].iter().map(|r| serde_json::to_string(r).unwrap()).collect();
        std::fs::write(raw.join("mine.jsonl"), lines.join("\n") + "\n").unwrap();
        std::fs::write(raw.join("accuracy.jsonl"), "").unwrap();
        let others = other_experiments(&raw, &["accuracy"]).unwrap();
        assert_eq!(others.len(), 1);
        let (name, records) = &others[0];
        assert_eq!((name.as_str(), records.len()), ("mine", 2));
        assert_eq!(records[0].result["bytes"], 2.0, "the last record of a point wins");
        let (_, body) = generic_outputs(name, records, &dir.path().join("tables"), dir.path()).unwrap();
        assert!(body.contains("| depth=1 |") && body.contains("bytes"), "{body}");
        assert!(dir.path().join("tables/mine.md").exists());
    }
}
