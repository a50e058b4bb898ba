//! Sweeps through a real Slurm cluster: a single-node cluster built from Debian's packages on this machine
//! (`scripts/slurm/cluster.sh`: munge, slurmctld, slurmd, all on 127.0.0.1, stopped on exit) runs the approximations
//! experiment and a small accuracy spec (`scripts/slurm/test-specs/accuracy.toml`) as two 4-task job arrays plus the
//! dependent merge-and-report job (`scripts/slurm/submit.sh`, as `make sweeps-slurm` does). The merged records must
//! equal a single-process run of the same specs (order and timings aside) and the report's CSV tables must be
//! byte-identical.
//!
//! Needs root (CI runs as root). `COMPACT_SKIP_SLURM_TEST=1` skips it on a machine where that is not possible.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use experiment_runner::merge::{canonical_lines, read_record_file};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("start a process");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

fn csv_tables(results: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(results.join("tables"))
        .expect("tables written")
        .flatten()
        // The record-determined tables; `*.with-timings.csv` copies add wall-clock columns, which differ by run.
        .filter(|e| e.path().extension().is_some_and(|x| x == "csv"))
        .filter(|e| !e.file_name().to_string_lossy().ends_with(experiment_runner::table::WITH_TIMINGS))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), fs::read(e.path()).expect("read table")))
        .collect();
    out.sort();
    out
}

#[test]
fn slurm_array_and_merge_equal_a_single_process_run() {
    if std::env::var("COMPACT_SKIP_SLURM_TEST").is_ok_and(|v| v == "1") {
        eprintln!("skipped: COMPACT_SKIP_SLURM_TEST=1");
        return;
    }
    let root = root();
    let data_ok = root.join("datasets/letter/LetterRecognition.rda").exists();
    if !data_ok {
        run(Command::new("bash").arg(root.join("scripts/fetch-datasets.sh")).arg(root.join("datasets")));
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let specs = tmp.path().join("specs");
    fs::create_dir_all(&specs).expect("specs dir");
    fs::copy(root.join("experiments/quick/approximations.toml"), specs.join("approximations.toml")).expect("copy spec");
    fs::copy(root.join("scripts/slurm/test-specs/accuracy.toml"), specs.join("accuracy.toml")).expect("copy spec");
    let spec_files = [specs.join("approximations.toml"), specs.join("accuracy.toml")];
    let compact = env!("CARGO_BIN_EXE_compact");

    // 1. One process, no Slurm.
    let single = tmp.path().join("single");
    run(Command::new(compact).current_dir(&root).arg("run").args(&spec_files).arg("--results").arg(&single).arg("--quiet"));
    run(Command::new(compact).current_dir(&root).args(["report", "--no-readme", "--results"]).arg(&single));

    // 2. The same specs as two 4-task arrays and a dependent merge-and-report job on a local Slurm cluster.
    let resources = tmp.path().join("test.resources");
    fs::write(&resources, "# experiment shards cpus mem_mib time_min\napproximations 4 1 1024 20\naccuracy 4 1 2048 20\n")
        .expect("write resources");
    let sharded = tmp.path().join("sharded");
    let cluster = tmp.path().join("cluster");
    let log = run(
        Command::new("bash")
            .current_dir(&root)
            .arg(root.join("scripts/slurm/cluster.sh"))
            .arg("run")
            .arg(&cluster)
            .arg("--")
            .arg("bash")
            .arg(root.join("scripts/slurm/submit.sh"))
            .arg("quick")
            .env("RESULTS", &sharded)
            .env("COMPACT", compact)
            .env("RESOURCES", &resources)
            .env("SPECS_DIR", &specs)
            .env("REPORT_ARGS", "--no-readme")
            .env("WAIT", "1"),
    );
    assert!(log.contains("approximations: job array") && log.contains("merge-and-report: job"), "{log}");

    // 3. Every shard ran on the cluster and finished; the merge holds every point once, as one process wrote it.
    for (name, n) in [("approximations", 28), ("accuracy", 4)] {
        let raw = sharded.join("raw");
        let shard_points: usize = (0..4)
            .map(|k| {
                let meta = fs::read_to_string(raw.join(format!("{name}.shard-{k}-of-4.meta.json"))).expect("shard meta");
                let v: serde_json::Value = serde_json::from_str(&meta).expect("meta JSON");
                v["points"].as_u64().expect("points") as usize
            })
            .sum();
        assert_eq!(shard_points, n, "{name}: shards partition the points");
        let merged = read_record_file(&raw.join(format!("{name}.jsonl"))).expect("merged records");
        let one = read_record_file(&single.join("raw").join(format!("{name}.jsonl"))).expect("single records");
        assert_eq!(merged.len(), n, "{name}");
        assert!(merged.windows(2).all(|w| w[0].point.index < w[1].point.index), "{name}: expansion order");
        let (a, b) = (canonical_lines(&merged).expect("canonical"), canonical_lines(&one).expect("canonical"));
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x, y, "{name}: merged record differs from the single-process one");
        }
        assert_eq!(a.len(), b.len());
    }
    // 4. The report from the merged records: the same CSV tables, byte for byte.
    let (t_single, t_sharded) = (csv_tables(&single), csv_tables(&sharded));
    assert!(!t_single.is_empty());
    assert_eq!(t_single.iter().map(|t| &t.0).collect::<Vec<_>>(), t_sharded.iter().map(|t| &t.0).collect::<Vec<_>>());
    for ((name, a), (_, b)) in t_single.iter().zip(&t_sharded) {
        assert!(a == b, "table {name} differs between the single-process and the Slurm run");
    }
}
