//! Tables and figures from the raw records, and the README's generated results section.
//!
//! Every number the README quotes comes from here: `compact report` reads `results/raw/*.jsonl`, writes
//! `results/tables/*.{csv,md}` and `results/figures/*.{png,svg}`, and rewrites the README between
//! `<!-- results:begin -->` and `<!-- results:end -->`. Tables that other commands write to files (the Slurm
//! overhead and plan, for instance) appear in the README between `<!-- include: FILE -->` and `<!-- include:end -->`,
//! and `compact report --readme` copies each FILE's current text there, so no README figure is pasted by hand.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use activation_approx::density::{Density, DensitySpec};
use activation_approx::ActivationRegistry;
use anyhow::{Context, bail};
use serde_json::Value;

use crate::plot::{LineChart, MAX_CURVES, Series, SmallMultiples};
use crate::sweep::Record;
use crate::table::{Table, Values};

/// Marker lines of the generated README section.
pub const BEGIN: &str = "<!-- results:begin -->";
/// End marker.
pub const END: &str = "<!-- results:end -->";
/// Opening of an include block: `<!-- include: FILE -->`, FILE relative to the README's folder.
pub const INCLUDE: &str = "<!-- include: ";
/// End of an include block.
pub const INCLUDE_END: &str = "<!-- include:end -->";

fn f(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN)
}
fn u(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}
fn s(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Null) | None => "-".into(),
        Some(other) => other.to_string(),
    }
}

/// Column `k` of `rows` as text, unsigned integers, floats, or floats × 100 (fractions shown as percentages).
fn col_s(rows: &[Value], k: &str) -> Values {
    Values::Str(rows.iter().map(|r| s(r, k)).collect())
}
fn col_u(rows: &[Value], k: &str) -> Values {
    Values::U64(rows.iter().map(|r| u(r, k)).collect())
}
fn col_f(rows: &[Value], k: &str) -> Values {
    Values::F64(rows.iter().map(|r| f(r, k)).collect())
}
fn col_pct(rows: &[Value], k: &str) -> Values {
    Values::F64(rows.iter().map(|r| 100.0 * f(r, k)).collect())
}

/// What `compact report` produced: Markdown blocks for the README, in order.
#[derive(Debug, Default)]
pub struct Report {
    /// (heading, markdown body) per section.
    pub sections: Vec<(String, String)>,
}

/// Experiments with a dedicated section; records of any other name get a generic table.
const KNOWN: &[&str] =
    &["approximations", "accuracy", "ablations", "depth", "frontier", "secure", crate::report_transformers::NAME, FRONTIER_TRANSFORMERS, crate::softmax_exp::NAME];

/// The transformers' frontier sweep (GELU only, a spec of its own): drawn with `frontier`, its baselines from the
/// `transformers` sweep.
const FRONTIER_TRANSFORMERS: &str = "frontier-transformers";

/// Builds every table and figure whose records exist under `results`.
pub fn build(results: &Path) -> anyhow::Result<Report> {
    let raw = results.join("raw");
    let tables = results.join("tables");
    let figures = results.join("figures");
    let mut report = Report::default();
    let approx = crate::report_any::read_unique(&raw.join("approximations.jsonl"))?;
    if !approx.is_empty() {
        report.sections.push(approximation_outputs(&approx, &tables, &figures, results)?);
    }
    let acc = crate::report_any::read_unique(&raw.join("accuracy.jsonl"))?;
    if !acc.is_empty() {
        report.sections.push(accuracy_outputs(&acc, results, "accuracy", "Accuracy per task, activation and method")?);
        if let Some(section) = backend_outputs(&acc, &tables, &figures, results)? {
            report.sections.push(section);
        }
    }
    let abl = crate::report_any::read_unique(&raw.join("ablations.jsonl"))?;
    if !abl.is_empty() {
        report.sections.push(accuracy_outputs(&abl, results, "ablations", "Ablations: Compact without density awareness or annealing")?);
    }
    let mut frontier = crate::report_any::read_unique(&raw.join("frontier.jsonl"))?;
    frontier.extend(crate::report_any::read_unique(&raw.join(format!("{FRONTIER_TRANSFORMERS}.jsonl")))?);
    if !frontier.is_empty() {
        // The transformers' baselines are the points of their own accuracy sweep; a (task, activation) that the
        // accuracy sweep already covers (the MNIST MLP, the transformers sweep's reference) keeps only the accuracy
        // sweep's baselines, so a panel never draws one method twice from two evaluation subsets.
        let mut baselines = acc.clone();
        let covered: std::collections::HashSet<(Option<String>, Option<String>)> =
            acc.iter().map(|r| (r.point.task.clone(), r.point.activation.clone())).collect();
        baselines.extend(
            crate::report_any::read_unique(&raw.join(format!("{}.jsonl", crate::report_transformers::NAME)))?
                .into_iter()
                .filter(|r| !covered.contains(&(r.point.task.clone(), r.point.activation.clone()))),
        );
        report.sections.push(frontier_outputs(&frontier, &baselines, results)?);
    }
    let transformers = crate::report_any::read_unique(&raw.join(format!("{}.jsonl", crate::report_transformers::NAME)))?;
    if !transformers.is_empty() {
        report.sections.push(crate::report_transformers::outputs(&transformers, results)?);
    }
    let softmax = crate::report_any::read_unique(&raw.join(format!("{}.jsonl", crate::softmax_exp::NAME)))?;
    if !softmax.is_empty() {
        report.sections.push(crate::report_softmax::outputs(&softmax, results)?);
    }
    let depth = crate::report_any::read_unique(&raw.join("depth.jsonl"))?;
    if !depth.is_empty() {
        report.sections.push(depth_outputs(&depth, &tables, &figures, results)?);
    }
    let secure = crate::report_any::read_unique(&raw.join("secure.jsonl"))?;
    if !secure.is_empty() {
        report.sections.push(secure_outputs(&secure, &tables, results)?);
    }
    write_gallery(results)?;
    // Any other experiment in raw/ (a spec of any name): a generic table of its records.
    for (name, records) in crate::report_any::other_experiments(&raw, KNOWN)? {
        report.sections.push(crate::report_any::generic_outputs(&name, &records, &tables, results)?);
    }
    // Single `compact secure` runs saved as results/secure-*.md, verbatim (headings demoted under the section's).
    let mut runs: Vec<_> = fs::read_dir(results)
        .with_context(|| format!("cannot list '{}'", results.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md") && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("secure-")))
        .collect();
    runs.sort();
    for path in runs {
        let text = fs::read_to_string(&path).with_context(|| format!("cannot read '{}'", path.display()))?;
        let mut lines = text.lines();
        let title = lines.next().unwrap_or_default().trim_start_matches('#').trim().to_string();
        let body: String = lines.map(|l| if l.starts_with('#') { format!("##{l}\n") } else { format!("{l}\n") }).collect();
        report.sections.push((title, format!("`{}`, written by `compact secure`:\n{body}", path.display())));
    }
    Ok(report)
}

fn sorted(records: &[Record], keys: &[&str]) -> Vec<Value> {
    let mut rows: Vec<Value> = records.iter().map(|r| r.result.clone()).collect();
    // Text keys compare as text, numeric ones (depth) as numbers.
    let key = |r: &Value| -> Vec<(u64, String)> { keys.iter().map(|k| (u(r, k), s(r, k))).collect() };
    rows.sort_by_key(key);
    rows
}

fn approximation_outputs(records: &[Record], tables: &Path, figures: &Path, results: &Path) -> anyhow::Result<(String, String)> {
    let r = results.display();
    let rows = sorted(records, &["activation", "method"]);
    let compact_bytes: BTreeMap<String, u64> = rows
        .iter()
        .filter(|r| s(r, "method") == "compact")
        .map(|r| (s(r, "activation"), u(r, "bytes")))
        .collect();
    let ratio = Values::F64(
        rows.iter()
            .map(|r| match compact_bytes.get(&s(r, "activation")) {
                Some(&c) if c > 0 => u(r, "bytes") as f64 / c as f64,
                _ => f64::NAN,
            })
            .collect(),
    );
    let t = Table::new()
        .with("activation", col_s(&rows, "activation"))
        .with("method", col_s(&rows, "method"))
        .with("density", col_s(&rows, "density"))
        .with("pieces", col_u(&rows, "pieces"))
        .with("degrees", col_s(&rows, "degrees"))
        .with("range", col_s(&rows, "range"))
        .with("max err [-8,8]", col_f(&rows, "max_err_fixed"))
        .with("weighted err", col_f(&rows, "weighted_err_fixed"))
        .with("comparisons", col_u(&rows, "comparisons"))
        .with("mults", col_u(&rows, "multiplications"))
        .with("rounds", col_u(&rows, "rounds"))
        .with("bytes/elem/party", col_u(&rows, "bytes"))
        .with("bytes vs compact", ratio)
        .with("LAN ms/1e6", col_f(&rows, "lan_ms"))
        .with("WAN ms/1e6", col_f(&rows, "wan_ms"));
    t.write(tables, "approximations")?;

    // Figures: each activation with its approximations overlaid over the shaded density, and the error vs x.
    let registry = ActivationRegistry::builtin();
    let acts: BTreeSet<String> = rows.iter().map(|r| s(r, "activation")).collect();
    let mut figs = Vec::new();
    for act in &acts {
        let f_act = registry.get(act)?;
        let mine: Vec<&Value> = rows.iter().filter(|r| &s(r, "activation") == act).collect();
        let density = DensitySpec::parse(&s(mine[0], "density"))?;
        let xs: Vec<f64> = (0..=256).map(|i| -8.0 + i as f64 / 16.0).collect();
        let shade: Vec<(f64, f64)> = xs.iter().map(|&x| (x, density.pdf(x))).collect();
        let mut curves = vec![Series { name: format!("{act} (exact)"), points: xs.iter().map(|&x| (x, f_act.eval(x))).collect() }];
        let mut errors = Vec::new();
        for r in &mine {
            let (cx, cy) = (&r["curve"]["x"], &r["curve"]["y"]);
            let (Some(cx), Some(cy)) = (cx.as_array(), cy.as_array()) else { continue };
            let pts: Vec<(f64, f64)> =
                cx.iter().zip(cy).filter_map(|(x, y)| Some((x.as_f64()?, y.as_f64()?))).collect();
            errors.push(Series {
                name: s(r, "method"),
                points: pts.iter().map(|&(x, y)| (x, (y - f_act.eval(x)).abs().max(1e-7))).collect(),
            });
            curves.push(Series { name: s(r, "method"), points: pts });
        }
        // Small multiples: at most MAX_CURVES − 1 methods per panel, the exact activation in each.
        let exact = curves.remove(0);
        let per = MAX_CURVES - 1;
        let groups = curves.len().div_ceil(per).max(1);
        let size = curves.len().div_ceil(groups).max(1);
        let approx_panels: Vec<LineChart> = curves
            .chunks(size)
            .enumerate()
            .map(|(k, c)| LineChart {
                title: format!("{act}, methods {}–{} of {}", k * size + 1, k * size + c.len(), curves.len()),
                x_label: "x (pre-activation value, unitless)".into(),
                y_label: "f(x) (activation output)".into(),
                series: std::iter::once(exact.clone()).chain(c.iter().cloned()).collect(),
                shade: Some(shade.clone()),
                ..LineChart::default()
            })
            .collect();
        let error_panels: Vec<LineChart> = errors
            .chunks(size)
            .enumerate()
            .map(|(k, c)| LineChart {
                title: format!("{act}, methods {}–{} of {}", k * size + 1, k * size + c.len(), errors.len()),
                x_label: "x (pre-activation value, unitless)".into(),
                y_label: "|f(x) − p(x)| (absolute error, log)".into(),
                series: c.to_vec(),
                log_y: true,
                ..LineChart::default()
            })
            .collect();
        let cols = 2.min(approx_panels.len()).max(1);
        SmallMultiples {
            title: format!("{act}: every method's fixed-point curve over the input density {}", s(mine[0], "density")),
            panels: approx_panels,
            cols,
        }
        .write(figures, &format!("approx-{act}"))?;
        SmallMultiples {
            title: format!("{act}: absolute error of each method's fixed-point evaluation"),
            panels: error_panels,
            cols,
        }
        .write(figures, &format!("error-{act}"))?;
        figs.push(format!("![{act}]({r}/figures/approx-{act}.svg) ![{act} error]({r}/figures/error-{act}.svg)"));
    }
    let body = format!(
        "Per-element cost (bytes sent by one party, rounds) and errors of every method; written by `compact report` \
         from `{r}/raw/approximations.jsonl` (`experiments/*/approximations.toml`).\n\n{}\n{}\n",
        t.to_markdown()?,
        figs.join("\n\n")
    );
    Ok(("Approximations: cost and error per activation element".into(), body))
}

fn accuracy_table(rows: &[Value]) -> Table {
    Table::new()
        .with("task", col_s(&rows, "task"))
        .with("depth", col_u(&rows, "depth"))
        .with("activation", col_s(&rows, "activation"))
        .with("method", col_s(&rows, "method"))
        .with("exact test acc %", col_pct(&rows, "exact_test_accuracy"))
        .with("approx test acc %", col_pct(&rows, "test_accuracy"))
        .with("test rel loss %", col_pct(&rows, "test_rel_loss"))
        .with("Δ test acc pts [paired 95% CI]", Values::Str(rows.iter().map(diff_ci).collect()))
        .with("val rel loss %", col_pct(&rows, "val_rel_loss"))
        .with("tau", col_f(&rows, "tau"))
        .with("search stop", col_s(&rows, "stop"))
        .with("bytes/elem/party", col_u(&rows, "bytes_per_element"))
        .with("rounds/elem", col_u(&rows, "rounds_per_element"))
        .with("MB/inference/party", Values::F64(rows.iter().map(|r| u(r, "bytes_per_inference") as f64 / 1e6).collect()))
        .with(
            "activation share %",
            Values::F64(
                rows.iter()
                    .map(|r| 100.0 * u(r, "activation_bytes_per_inference") as f64 / u(r, "bytes_per_inference") as f64)
                    .collect(),
            ),
        )
        .with("rounds/inference", col_u(&rows, "rounds_per_inference"))
        .with("LAN s/inference", col_f(&rows, "lan_s_per_inference"))
        .with("WAN s/inference", col_f(&rows, "wan_s_per_inference"))
}

/// The test accuracy difference method − exact in points with its paired 95 % interval, e.g. `-0.12 [-0.30, +0.04]`.
fn diff_ci(r: &Value) -> String {
    let d = 100.0 * (f(r, "test_accuracy") - f(r, "exact_test_accuracy"));
    match r.get("test_diff_ci95").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_f64).collect::<Vec<_>>()) {
        Some(ci) if ci.len() == 2 => format!("{d:+.2} [{:+.2}, {:+.2}]", 100.0 * ci[0], 100.0 * ci[1]),
        _ => format!("{d:+.2}"),
    }
}

fn accuracy_outputs(records: &[Record], results: &Path, stem: &str, heading: &str) -> anyhow::Result<(String, String)> {
    let r = results.display();
    let rows = sorted(records, &["task", "activation", "method"]);
    let t = accuracy_table(&rows);
    t.write(&results.join("tables"), stem)?;
    let body = format!(
        "Test accuracy with every activation replaced by the method's fixed-point emulation. Compact (and its \
         ablations) keep the cheapest candidate whose validation relative loss stays ≤ ν; `search stop` says whether \
         ν bound (`constraint_binds`) or the cheapest candidate already met it (`cheapest_admissible`). Δ is the \
         test accuracy difference to the exact activation with a paired bootstrap 95 % interval over the same \
         samples. Written by `compact report` from `{r}/raw/{stem}.jsonl`.\n\n{}",
        t.to_markdown()?
    );
    Ok((heading.into(), body))
}

/// The cost–accuracy frontier per task: for each activation a panel with Compact and its ablations over ν (one
/// curve each, points at the measured ν) and every baseline of the accuracy sweep as a single point; x = test
/// relative accuracy loss, y = bytes per inference. The table compares the variants at equal ν.
fn frontier_outputs(frontier: &[Record], accuracy: &[Record], results: &Path) -> anyhow::Result<(String, String)> {
    let r = results.display();
    let rows = sorted(frontier, &["task", "activation", "method", "nu"]);
    let nu_pct = |v: &Value| 100.0 * f(v, "nu");
    let t = Table::new()
        .with("task", col_s(&rows, "task"))
        .with("activation", col_s(&rows, "activation"))
        .with("nu %", Values::F64(rows.iter().map(nu_pct).collect()))
        .with("method", col_s(&rows, "method"))
        .with("val rel loss %", col_pct(&rows, "val_rel_loss"))
        .with("test rel loss %", col_pct(&rows, "test_rel_loss"))
        .with("Δ test acc pts [paired 95% CI]", Values::Str(rows.iter().map(diff_ci).collect()))
        .with("search stop", col_s(&rows, "stop"))
        .with("bytes/elem/party", col_u(&rows, "bytes_per_element"))
        .with("rounds/elem", col_u(&rows, "rounds_per_element"))
        .with("MB/inference/party", Values::F64(rows.iter().map(|r| u(r, "bytes_per_inference") as f64 / 1e6).collect()))
        .with("rounds/inference", col_u(&rows, "rounds_per_inference"));
    t.write(&results.join("tables"), "frontier")?;
    let base = sorted(accuracy, &["task", "activation", "method"]);
    let tasks: BTreeSet<String> = rows.iter().map(|r| s(r, "task")).collect();
    let mut figs = Vec::new();
    for task in &tasks {
        let mine: Vec<&Value> = rows.iter().filter(|r| &s(r, "task") == task).collect();
        let acts: BTreeSet<String> = mine.iter().map(|r| s(r, "activation")).collect();
        let point = |r: &Value| (100.0 * f(r, "test_rel_loss"), u(r, "bytes_per_inference") as f64 / 1e6);
        // One style per method over the task's panels: the swept methods first, then the baselines.
        let mut names: Vec<String> = mine.iter().map(|r| s(r, "method")).collect::<BTreeSet<_>>().into_iter().collect();
        let base_names: BTreeSet<String> = base
            .iter()
            .filter(|b| &s(b, "task") == task && s(b, "method") != "compact")
            .map(|b| s(b, "method"))
            .collect();
        let extra: Vec<String> = base_names.into_iter().filter(|m| !names.contains(m)).collect();
        names.extend(extra);
        let style_of = |m: &str| names.iter().position(|n| n == m).unwrap_or(names.len());
        let mut panels = Vec::new();
        for act in &acts {
            let here: Vec<&&Value> = mine.iter().filter(|r| &s(r, "activation") == act).collect();
            let methods: BTreeSet<String> = here.iter().map(|r| s(r, "method")).collect();
            let mut series: Vec<Series> = methods
                .iter()
                .map(|m| {
                    let mut pts: Vec<(f64, f64, f64)> =
                        here.iter().filter(|r| &s(r, "method") == m).map(|r| (f(r, "nu"), point(r).0, point(r).1)).collect();
                    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                    Series { name: m.clone(), points: pts.into_iter().map(|p| (p.1, p.2)).collect() }
                })
                .collect();
            for b in base.iter().filter(|b| &s(b, "task") == task && &s(b, "activation") == act && s(b, "method") != "compact") {
                series.push(Series { name: s(b, "method"), points: vec![point(b)] });
            }
            let styles = series.iter().map(|x| style_of(&x.name)).collect();
            panels.push(LineChart {
                styles,
                title: format!("{task}, {act}"),
                x_label: "test relative accuracy loss (%)".into(),
                y_label: "MB sent per inference by one party (log)".into(),
                series,
                log_y: true,
                markers_at_points: true,
                ..LineChart::default()
            });
        }
        SmallMultiples {
            title: format!("{task}: cost per inference against accuracy loss (Compact and its ablations: one curve over ν = 0.1…2 %; baselines: points)"),
            cols: panels.len().min(3).max(1),
            panels,
        }
        .write(&results.join("figures"), &format!("frontier-{task}"))?;
        figs.push(format!("![frontier {task}]({r}/figures/frontier-{task}.svg)"));
    }
    let body = format!(
        "Compact and its ablations (uniform density, uniform breakpoints) through the same accuracy-constrained search \
         at each ν; the baselines are the points of the accuracy sweep. Written by `compact report` from \
         `{r}/raw/frontier.jsonl` and `{r}/raw/accuracy.jsonl`.\n\n{}\n{}\n",
        t.to_markdown()?,
        figs.join("\n\n")
    );
    Ok(("Cost–accuracy frontier and ablations at equal ν".into(), body))
}

fn depth_outputs(records: &[Record], tables: &Path, figures: &Path, results: &Path) -> anyhow::Result<(String, String)> {
    let r = results.display();
    let rows = sorted(records, &["activation", "method", "depth"]);
    let t = accuracy_table(&rows);
    t.write(tables, "depth")?;
    let acts: BTreeSet<String> = rows.iter().map(|r| s(r, "activation")).collect();
    let mut figs = Vec::new();
    for act in &acts {
        let mine: Vec<&Value> = rows.iter().filter(|r| &s(r, "activation") == act).collect();
        let methods: BTreeSet<String> = mine.iter().map(|r| s(r, "method")).collect();
        let series = |key: &str, scale: f64| -> Vec<Series> {
            methods
                .iter()
                .map(|m| Series {
                    name: m.clone(),
                    points: mine
                        .iter()
                        .filter(|r| &s(r, "method") == m)
                        .map(|r| (u(r, "depth") as f64, scale * f(r, key).max(u(r, key) as f64)))
                        .collect(),
                })
                .collect()
        };
        for (key, scale, what, stem, log) in [
            ("bytes_per_inference", 1e-6, "MB sent per inference by one party (log)", "bytes", true),
            ("rounds_per_inference", 1.0, "rounds per inference", "rounds", false),
            ("lan_s_per_inference", 1.0, "estimated seconds per inference, LAN (log)", "lan", true),
            ("wan_s_per_inference", 1.0, "estimated seconds per inference, WAN (log)", "wan", true),
            ("test_accuracy", 100.0, "test accuracy (%)", "accuracy", false),
        ] {
            let mut series = series(key, scale);
            if key == "test_accuracy" {
                // The exact-activation accuracy of each depth's model: the reference every method is held to.
                let mut exact: BTreeMap<u64, f64> = BTreeMap::new();
                for r in &mine {
                    exact.insert(u(r, "depth"), 100.0 * f(r, "exact_test_accuracy"));
                }
                series.push(Series { name: "exact activation".into(), points: exact.into_iter().map(|(d, a)| (d as f64, a)).collect() });
            }
            LineChart {
                title: format!("MNIST MLP, {act}: {what}"),
                x_label: "hidden layers (log2 scale)".into(),
                y_label: what.into(),
                series,
                log_y: log,
                log2_x: true,
                markers_at_points: true,
                ..LineChart::default()
            }
            .write(figures, &format!("depth-{stem}-{act}"))?;
        }
        // NFGen / Compact activation-cost ratio per depth.
        let by = |m: &str| -> BTreeMap<u64, f64> {
            mine.iter()
                .filter(|r| s(r, "method") == m)
                .map(|r| (u(r, "depth"), u(r, "bytes_per_inference") as f64))
                .collect()
        };
        let (c, n) = (by("compact"), by("nfgen"));
        let ratio: Vec<(f64, f64)> =
            c.iter().filter_map(|(d, cb)| n.get(d).map(|nb| (*d as f64, nb / cb))).collect();
        if !ratio.is_empty() {
            LineChart {
                title: format!("MNIST MLP, {act}: NFGen / Compact bytes per inference"),
                x_label: "hidden layers (log2 scale)".into(),
                y_label: "bytes ratio NFGen / Compact (×)".into(),
                series: vec![Series { name: "nfgen / compact".into(), points: ratio }],
                log2_x: true,
                markers_at_points: true,
                ..LineChart::default()
            }
            .write(figures, &format!("depth-ratio-{act}"))?;
        }
        figs.push(format!(
            "![bytes]({r}/figures/depth-bytes-{act}.svg) ![ratio]({r}/figures/depth-ratio-{act}.svg) \
             ![accuracy]({r}/figures/depth-accuracy-{act}.svg)"
        ));
    }
    let body = format!(
        "MNIST MLP with 2…32 hidden layers; written by `compact report` from `{r}/raw/depth.jsonl`.\n\n{}\n{}\n",
        t.to_markdown()?,
        figs.join("\n\n")
    );
    Ok(("Cost and accuracy against depth".into(), body))
}

fn secure_outputs(records: &[Record], tables: &Path, results: &Path) -> anyhow::Result<(String, String)> {
    let r = results.display();
    let rows = sorted(records, &["task", "activation", "method"]);
    let share = |k: &str| {
        Values::F64(rows.iter().map(|r| 100.0 * u(r, k) as f64 / u(r, "bytes_per_inference").max(1) as f64).collect())
    };
    let t = Table::new()
        .with("task", col_s(&rows, "task"))
        .with("depth", col_u(&rows, "depth"))
        .with("activation", col_s(&rows, "activation"))
        .with("method", col_s(&rows, "method"))
        .with("truncation", col_s(&rows, "truncation"))
        .with("samples", col_u(&rows, "samples"))
        .with("secure acc %", col_pct(&rows, "secure_accuracy"))
        .with("plaintext acc %", col_pct(&rows, "plain_accuracy"))
        .with("gap (points)", col_f(&rows, "accuracy_gap_points"))
        .with("labels agree %", col_pct(&rows, "agreement"))
        .with("MB/inference/party", Values::F64(rows.iter().map(|r| u(r, "bytes_per_inference") as f64 / 1e6).collect()))
        .with("rounds/inference", col_u(&rows, "rounds_per_inference"))
        .with("activation share %", share("activation_bytes_per_inference"))
        .with("linear share %", share("linear_bytes_per_inference"))
        .with("pooling share %", share("pooling_bytes_per_inference"))
        .with("WAN s/inference", col_f(&rows, "wan_s_per_inference"))
        .with_wall_clock(
            "samples/s",
            Values::F64(rows.iter().map(|r| f(r, "samples") / f(r, "secure_seconds").max(1e-9)).collect()),
        );
    t.write(tables, "secure")?;
    let body = format!(
        "Every model run end to end on secret shares (`mpc-sim`, two parties, trusted dealer): accuracy of the secure \
         run, its agreement with the fixed-point plaintext run of the same computation, and the metered cost per \
         inference (equal to the prediction, checked per point). Samples/s is the sweep's wall clock with other \
         points running beside it. Written by `compact report` from `{r}/raw/secure.jsonl`.\n\n{}",
        t.to_markdown()?
    );
    Ok(("Secure end-to-end inference".into(), body))
}

/// The accuracy records' method priced on both backends, side by side (`backends` of each record; records
/// without it are skipped, and no section is written when none has it): per element (online rounds, online bytes,
/// key bytes, AES calls) and per inference (rounds, online and offline MB, AES calls, LAN and WAN estimates), with
/// the WAN ratio Beaver / FSS. Figures `backends-bytes` and `backends-wan`: one panel per method, the points of the
/// sweep (model × activation) on the x axis sorted by their Beaver value, Beaver and FSS as two curves.
fn backend_outputs(records: &[Record], tables: &Path, figures: &Path, results: &Path) -> anyhow::Result<Option<(String, String)>> {
    let r = results.display();
    let rows: Vec<Value> = sorted(records, &["task", "activation", "method"])
        .into_iter()
        .filter(|v| v.get("backends").and_then(Value::as_array).is_some_and(|a| a.len() >= 2))
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let price = |v: &Value, b: &str| -> Value {
        v.get("backends")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|p| p.get("backend").and_then(Value::as_str) == Some(b)))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let col = |b: &str, k: &str| Values::U64(rows.iter().map(|v| u(&price(v, b), k)).collect());
    let mb = |b: &str, k: &str| Values::F64(rows.iter().map(|v| u(&price(v, b), k) as f64 / 1e6).collect());
    let fl = |b: &str, k: &str| Values::F64(rows.iter().map(|v| f(&price(v, b), k)).collect());
    let mut t = Table::new()
        .with("task", col_s(&rows, "task"))
        .with("depth", col_u(&rows, "depth"))
        .with("activation", col_s(&rows, "activation"))
        .with("method", col_s(&rows, "method"))
        .with("searched for", col_s(&rows, "backend"));
    for (b, tag) in [("beaver", "Beaver"), ("fss", "FSS")] {
        t = t
            .with(&format!("{tag} rounds/elem"), col(b, "rounds_per_element"))
            .with(&format!("{tag} B/elem"), col(b, "online_bytes_per_element"))
            .with(&format!("{tag} key B/elem"), col(b, "key_bytes_per_element"))
            .with(&format!("{tag} AES/elem"), col(b, "aes_calls_per_element"))
            .with(&format!("{tag} rounds/inf"), col(b, "rounds_per_inference"))
            .with(&format!("{tag} MB/inf"), mb(b, "bytes_per_inference"))
            .with(&format!("{tag} offline MB/inf"), mb(b, "offline_bytes_per_inference"))
            .with(&format!("{tag} AES/inf"), col(b, "aes_calls_per_inference"))
            .with(&format!("{tag} LAN s/inf"), fl(b, "lan_s_per_inference"))
            .with(&format!("{tag} WAN s/inf"), fl(b, "wan_s_per_inference"));
    }
    t = t.with(
        "WAN Beaver/FSS ×",
        Values::F64(rows.iter().map(|v| f(&price(v, "beaver"), "wan_s_per_inference") / f(&price(v, "fss"), "wan_s_per_inference")).collect()),
    );
    t.write(tables, "backends")?;
    let methods: BTreeSet<String> = rows.iter().map(|v| s(v, "method")).collect();
    for (key, what, stem, scale) in [
        ("bytes_per_inference", "MB sent per inference by one party, online (log)", "bytes", 1e-6),
        ("wan_s_per_inference", "estimated WAN seconds per inference (log)", "wan", 1.0),
    ] {
        let value = |v: &Value, b: &str| {
            let p = price(v, b);
            scale * p.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN)
        };
        let panels = methods
            .iter()
            .map(|m| {
                let mut mine: Vec<&Value> = rows.iter().filter(|v| &s(v, "method") == m).collect();
                mine.sort_by(|a, b| value(a, "beaver").total_cmp(&value(b, "beaver")));
                let series = ["beaver", "fss"]
                    .iter()
                    .map(|b| Series {
                        name: (*b).to_string(),
                        points: mine.iter().enumerate().map(|(i, v)| ((i + 1) as f64, value(v, b))).collect(),
                    })
                    .collect();
                LineChart {
                    title: m.clone(),
                    x_label: "model × activation, sorted by the Beaver value".into(),
                    y_label: what.into(),
                    series,
                    log_y: true,
                    markers_at_points: true,
                    ..LineChart::default()
                }
            })
            .collect::<Vec<_>>();
        SmallMultiples { title: format!("Beaver vs FSS: {what}"), cols: panels.len().clamp(1, 3), panels }
            .write(figures, &format!("backends-{stem}"))?;
    }
    let body = format!(
        "Every accuracy point's method priced on both secure backends (the same fixed-point program; dealer-pair \
         truncation): per activation element from each backend's cost evaluator, per inference from one metered \
         secure inference on each backend (checked equal to the prediction). `searched for` is the backend whose \
         cost Compact's search minimised. Offline bytes are what the dealer sends each party before the inference \
         (Beaver triples and truncation pairs; on FSS also the DCF keys). LAN/WAN estimates count online rounds and \
         bytes only. Written by `compact report` from `{r}/raw/accuracy.jsonl`; model of the costs: \
         `docs/cost-model.md`.\n\n{}\n![bytes]({r}/figures/backends-bytes.svg) ![wan]({r}/figures/backends-wan.svg)\n",
        t.to_markdown()?
    );
    Ok(Some(("Both backends side by side: Beaver triples vs function secret sharing".into(), body)))
}

/// One sentence saying what a figure (by file stem) shows.
fn caption(stem: &str) -> String {
    let (kind, rest) = stem.split_once('-').unwrap_or((stem, ""));
    match kind {
        "approx" => format!("Every method's fixed-point curve of {rest} against the exact activation, over the shaded input density, in panels of at most six curves."),
        "error" => format!("Absolute error of every method's fixed-point evaluation of {rest} (log scale), same panels as the curves."),
        "backends" => format!("One panel per method: {} per inference on the Beaver and the FSS backend, for every model × activation of the accuracy sweep (x: sorted by the Beaver value).", if rest == "wan" { "estimated WAN seconds" } else { "megabytes one party sends online" }),
        "density" => format!("{rest}: every activation layer's input histogram on a calibration sample (shaded) with GELU, Compact's shared approximation and the layer's own (per-layer search), one panel per layer."),
        "frontier" => format!("{rest}: bytes per inference against test relative accuracy loss, Compact and its ablations over ν and every baseline as a point, one panel per activation."),
        "depth" => {
            let (what, act) = rest.split_once('-').unwrap_or((rest, ""));
            match what {
                "bytes" => format!("MNIST MLP with {act}: megabytes one party sends per inference against the number of hidden layers (log2 axis, markers at the measured depths)."),
                "rounds" => format!("MNIST MLP with {act}: communication rounds per inference against the number of hidden layers."),
                "lan" => format!("MNIST MLP with {act}: estimated LAN seconds per inference against the number of hidden layers."),
                "wan" => format!("MNIST MLP with {act}: estimated WAN seconds per inference against the number of hidden layers."),
                "accuracy" => format!("MNIST MLP with {act}: test accuracy of each method against the number of hidden layers, with the exact-activation accuracy as reference."),
                "ratio" => format!("MNIST MLP with {act}: how many times more bytes NFGen sends per inference than Compact, per depth."),
                _ => format!("Depth sweep figure {stem}."),
            }
        }
        _ => format!("Figure {stem}."),
    }
}

/// Writes `<results>/README.md`: every PNG of `<results>/figures`, each with one sentence, and the command that
/// writes them.
pub fn write_gallery(results: &Path) -> anyhow::Result<()> {
    let figures = results.join("figures");
    let mut stems: Vec<String> = match fs::read_dir(&figures) {
        Ok(it) => it
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".png")).map(String::from))
            .collect(),
        Err(_) => Vec::new(),
    };
    stems.sort();
    let mut md = String::from(
        "# Results gallery\n\nEvery figure of this folder with one sentence each. Written by `compact report` from the \
         records in `raw/` (run `make report` to redraw, `make reproduce` to recompute everything); the tables are in \
         `tables/`, the reproducibility comparison of the last `make reproduce` in `reproducibility.md`.\n",
    );
    for stem in &stems {
        md.push_str(&format!("\n## {stem}\n\n{}\n\n![{stem}](figures/{stem}.png)\n", caption(stem)));
    }
    let path = results.join("README.md");
    fs::write(&path, md).with_context(|| format!("cannot write '{}'", path.display()))?;
    Ok(())
}

/// Replaces the README text between [`BEGIN`] and [`END`] with the report's sections.
pub fn rewrite_readme(readme: &Path, report: &Report) -> anyhow::Result<()> {
    let text = fs::read_to_string(readme).with_context(|| format!("cannot read '{}'", readme.display()))?;
    let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) else {
        bail!("'{}' has no '{BEGIN}' … '{END}' markers; add them where the results belong", readme.display());
    };
    if e < b {
        bail!("'{}': '{END}' comes before '{BEGIN}'", readme.display());
    }
    let mut body = String::from("\n");
    for (heading, md) in &report.sections {
        body.push_str(&format!("\n### {heading}\n\n{md}\n"));
    }
    let new = format!("{}{BEGIN}{body}\n{}", &text[..b], &text[e..]);
    let base = readme.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let new = refresh_includes(&new, base).with_context(|| format!("in '{}'", readme.display()))?;
    crate::output::write_atomic(readme, new.as_bytes())?;
    Ok(())
}

/// Replaces the body of every `<!-- include: FILE -->` … `<!-- include:end -->` block of `text` with FILE's current
/// content (FILE relative to `base`).
pub fn refresh_includes(text: &str, base: &Path) -> anyhow::Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(INCLUDE) {
        let open_end = rest[start..].find("-->").map(|i| start + i + 3).with_context(|| {
            format!("an '{INCLUDE}' marker is not closed by '-->'; write it as '{INCLUDE}FILE -->'")
        })?;
        let file = rest[start + INCLUDE.len()..open_end - 3].trim();
        let Some(close) = rest[open_end..].find(INCLUDE_END).map(|i| open_end + i) else {
            bail!("the include block of '{file}' has no '{INCLUDE_END}' line; add one after the block");
        };
        let path = base.join(file);
        let body = fs::read_to_string(&path)
            .with_context(|| format!("cannot read '{}' for its include block; run the command that writes it", path.display()))?;
        out.push_str(&rest[..open_end]);
        out.push_str("\n\n");
        out.push_str(body.trim_end());
        out.push_str("\n\n");
        out.push_str(INCLUDE_END);
        rest = &rest[close + INCLUDE_END.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_blocks_take_the_current_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join("t.md"), "| a |\n|---|\n| 2 |\n").expect("write");
        let text = "intro\n<!-- include: t.md -->\n| a |\n|---|\n| 1 |\n<!-- include:end -->\ntail\n";
        let out = refresh_includes(text, dir.path()).expect("refresh");
        assert_eq!(out, "intro\n<!-- include: t.md -->\n\n| a |\n|---|\n| 2 |\n\n<!-- include:end -->\ntail\n");
        // Idempotent.
        assert_eq!(refresh_includes(&out, dir.path()).expect("again"), out);
        let missing = refresh_includes("<!-- include: nope.md -->\n<!-- include:end -->", dir.path());
        assert!(format!("{:#}", missing.expect_err("missing file")).contains("nope.md"));
        let open = refresh_includes("<!-- include: t.md -->\nno end", dir.path());
        assert!(format!("{:#}", open.expect_err("no end")).contains("include:end"));
    }
}
