//! The `transformers` experiment's outputs (`experiments/*/transformers.toml`): GELU in the transformers (and the
//! MNIST MLP as the BatchNorm-fed reference), Compact shared and per layer against the published GELU recipes.
//!
//! - `results/tables/transformer-gelu-<task>.{csv,md}`: per task, Compact's cost at ν (shared and per layer) and
//!   every baseline: bytes per party per element and per inference and rounds on the Beaver backend, the same on
//!   the FSS backend, validation and test accuracy, the sweep's seconds for the point.
//! - `results/tables/per-layer-vs-shared.{csv,md}`: per task, the shared and the per-layer choice side by side and
//!   which is cheaper per inference.
//! - `results/tables/per-layer-choices.{csv,md}`: every layer's chosen approximation and input statistics.
//! - `results/figures/density-<task>.{png,svg}`: one panel per activation layer: the layer's input histogram
//!   (shaded), GELU, Compact's shared approximation and the layer's own.

use std::collections::BTreeSet;
use std::path::Path;

use activation_approx::ActivationRegistry;
use anyhow::Context;

use crate::plot::{LineChart, Series, SmallMultiples};
use crate::records::{AccuracyResult, PerLayerResult};
use crate::sweep::Record;
use crate::table::{Table, Values};

/// The experiment name whose records this module reads.
pub const NAME: &str = "transformers";

/// Methods in table order: Compact (shared, per layer), then the baselines.
const ORDER: &[&str] =
    &["compact", "compact-per-layer", "puma", "bolt", "bumblebee", "crypten", "crypten-erf", "nfgen", "relu-swap"];

fn order(m: &str) -> usize {
    ORDER.iter().position(|o| *o == m).unwrap_or(ORDER.len())
}

fn backend<'a>(r: &'a AccuracyResult, name: &str) -> Option<&'a crate::records::BackendPrice> {
    r.backends.iter().find(|b| b.backend.name() == name)
}

/// The per-task tables, the comparison and choice tables and the density figures; the README section's body.
pub fn outputs(records: &[Record], results: &Path) -> anyhow::Result<(String, String)> {
    let r = results.display();
    let mut rows: Vec<(AccuracyResult, f64)> = Vec::new();
    for rec in records {
        let a: AccuracyResult = serde_json::from_value(rec.result.clone())
            .with_context(|| format!("record '{}' of {NAME}.jsonl is not an accuracy result; rerun the sweep", rec.key))?;
        rows.push((a, rec.elapsed_s));
    }
    rows.sort_by(|a, b| (a.0.task.as_str(), order(&a.0.method)).cmp(&(b.0.task.as_str(), order(&b.0.method))));
    let tasks: BTreeSet<String> = rows.iter().map(|(a, _)| a.task.clone()).collect();
    let mut body = format!(
        "GELU in the transformers (and the MNIST MLP, whose activations BatchNorm feeds) replaced by each method's \
         fixed-point emulation. `compact` is the accuracy-constrained search with one approximation for the pooled \
         density of all layers; `compact-per-layer` the same search with each layer's own input density, lowered \
         one layer at a time while the whole model's validation loss stays within ν (its inference is priced from \
         the cost evaluators' per-layer predictions). Bytes are per party; Beaver and FSS are the two secure \
         backends; `s/point` is the sweep's wall clock for the point with other points beside it (a timing, not a \
         benchmark). Written by `compact report` from `{r}/raw/{NAME}.jsonl` (`experiments/*/{NAME}.toml`).\n"
    );
    for task in &tasks {
        let mine: Vec<&(AccuracyResult, f64)> = rows.iter().filter(|(a, _)| &a.task == task).collect();
        let col_s = |f: &dyn Fn(&AccuracyResult) -> String| Values::Str(mine.iter().map(|(a, _)| f(a)).collect());
        let col_f = |f: &dyn Fn(&AccuracyResult) -> f64| Values::F64(mine.iter().map(|(a, _)| f(a)).collect());
        let col_u = |f: &dyn Fn(&AccuracyResult) -> u64| Values::U64(mine.iter().map(|(a, _)| f(a)).collect());
        let bu = |name: &'static str, f: fn(&crate::records::BackendPrice) -> u64| {
            Values::U64(mine.iter().map(|(a, _)| backend(a, name).map_or(0, f)).collect())
        };
        let bf = |name: &'static str, f: fn(&crate::records::BackendPrice) -> f64| {
            Values::F64(mine.iter().map(|(a, _)| backend(a, name).map_or(f64::NAN, f)).collect())
        };
        let t = Table::new()
            .with("method", col_s(&|a| a.method.clone()))
            .with("nu %", col_s(&|a| a.nu.map_or("-".into(), |v| format!("{}", 100.0 * v))))
            .with("val acc %", col_f(&|a| 100.0 * a.val_accuracy))
            .with("test acc %", col_f(&|a| 100.0 * a.test_accuracy))
            .with("exact test acc %", col_f(&|a| 100.0 * a.exact_test_accuracy))
            .with("Δ test pts [paired 95% CI]", col_s(&|a| diff_ci(a)))
            .with("Beaver B/elem", bu("beaver", |b| b.online_bytes_per_element))
            .with("Beaver rounds/elem", bu("beaver", |b| b.rounds_per_element))
            .with("Beaver MB/inf", bf("beaver", |b| b.bytes_per_inference as f64 / 1e6))
            .with("Beaver rounds/inf", bu("beaver", |b| b.rounds_per_inference))
            .with("FSS B/elem (online+key)", bu("fss", |b| b.online_bytes_per_element + b.key_bytes_per_element))
            .with("FSS MB/inf (online)", bf("fss", |b| b.bytes_per_inference as f64 / 1e6))
            .with("FSS rounds/inf", bu("fss", |b| b.rounds_per_inference))
            .with("GELU elements/inf", col_u(&|a| a.activation_elements_per_inference as u64))
            .with("search stop", col_s(&|a| a.stop.and_then(|s| serde_json::to_value(s).ok()).and_then(|v| v.as_str().map(String::from)).unwrap_or_else(|| "-".into())))
            .with_wall_clock("s/point", Values::F64(mine.iter().map(|(_, e)| *e).collect()));
        let stem = format!("transformer-gelu-{task}");
        t.write(&results.join("tables"), &stem)?;
        body.push_str(&format!(
            "\n#### {task}: Compact's cost at ν vs PUMA / BOLT / BumbleBee / CrypTen GELU\n\n`{r}/tables/{stem}.md`\n\n{}\n",
            t.to_markdown()?
        ));
        if density_figure(task, &mine, results)? {
            body.push_str(&format!("![density {task}]({r}/figures/density-{task}.svg)\n"));
        }
    }
    let cmp = comparison(&rows, results)?;
    body.push_str(&format!("\n#### Shared vs per-layer approximation\n\n{cmp}"));
    Ok(("GELU in transformers: shared and per-layer density-aware approximations vs published recipes".into(), body))
}

fn diff_ci(a: &AccuracyResult) -> String {
    let d = 100.0 * (a.test_accuracy - a.exact_test_accuracy);
    match a.test_diff_ci95 {
        Some((lo, hi)) => format!("{d:+.2} [{:+.2}, {:+.2}]", 100.0 * lo, 100.0 * hi),
        None => format!("{d:+.2}"),
    }
}

/// `per-layer-vs-shared` and `per-layer-choices`; returns their Markdown.
fn comparison(rows: &[(AccuracyResult, f64)], results: &Path) -> anyhow::Result<String> {
    let tables = results.join("tables");
    let mut pairs: Vec<(&AccuracyResult, &AccuracyResult, &PerLayerResult)> = Vec::new();
    for (a, _) in rows.iter().filter(|(a, _)| a.method == "compact") {
        if let Some((p, _)) = rows.iter().find(|(p, _)| p.method == "compact-per-layer" && p.task == a.task && p.nu == a.nu) {
            if let Some(pl) = &p.per_layer {
                pairs.push((a, p, pl));
            }
        }
    }
    if pairs.is_empty() {
        return Ok("No task has both a `compact` and a `compact-per-layer` record.\n".into());
    }
    let mb = |a: &AccuracyResult, b: &str| backend(a, b).map_or(f64::NAN, |p| p.bytes_per_inference as f64 / 1e6);
    let t = Table::new()
        .with("task", Values::Str(pairs.iter().map(|p| p.0.task.clone()).collect()))
        .with("nu %", Values::F64(pairs.iter().map(|p| 100.0 * p.0.nu.unwrap_or(f64::NAN)).collect()))
        .with("shared B/elem", Values::U64(pairs.iter().map(|p| p.0.bytes_per_element).collect()))
        .with("per-layer B/elem (mean)", Values::U64(pairs.iter().map(|p| p.1.bytes_per_element).collect()))
        .with("shared GELU MB/inf", Values::F64(pairs.iter().map(|p| p.0.activation_bytes_per_inference as f64 / 1e6).collect()))
        .with("per-layer GELU MB/inf", Values::F64(pairs.iter().map(|p| p.1.activation_bytes_per_inference as f64 / 1e6).collect()))
        .with("shared Beaver MB/inf", Values::F64(pairs.iter().map(|p| mb(p.0, "beaver")).collect()))
        .with("per-layer Beaver MB/inf", Values::F64(pairs.iter().map(|p| mb(p.1, "beaver")).collect()))
        .with("shared FSS MB/inf", Values::F64(pairs.iter().map(|p| mb(p.0, "fss")).collect()))
        .with("per-layer FSS MB/inf", Values::F64(pairs.iter().map(|p| mb(p.1, "fss")).collect()))
        .with("shared val loss %", Values::F64(pairs.iter().map(|p| 100.0 * p.0.val_rel_loss).collect()))
        .with("per-layer val loss %", Values::F64(pairs.iter().map(|p| 100.0 * p.1.val_rel_loss).collect()))
        .with("shared test acc %", Values::F64(pairs.iter().map(|p| 100.0 * p.0.test_accuracy).collect()))
        .with("per-layer test acc %", Values::F64(pairs.iter().map(|p| 100.0 * p.1.test_accuracy).collect()))
        .with("per-layer evaluations", Values::U64(pairs.iter().map(|p| p.2.evaluations as u64).collect()))
        .with(
            "cheaper (Beaver bytes/inf)",
            Values::Str(
                pairs
                    .iter()
                    .map(|p| match p.1.bytes_per_inference.cmp(&p.0.bytes_per_inference) {
                        std::cmp::Ordering::Less => "per-layer".to_string(),
                        std::cmp::Ordering::Greater => "shared".to_string(),
                        std::cmp::Ordering::Equal => "equal".to_string(),
                    })
                    .collect(),
            ),
        );
    t.write(&tables, "per-layer-vs-shared")?;
    let mut rows_c: Vec<(String, &crate::records::LayerChoice)> = Vec::new();
    for (_, p, pl) in &pairs {
        for l in &pl.layers {
            rows_c.push((p.task.clone(), l));
        }
    }
    let c = Table::new()
        .with("task", Values::Str(rows_c.iter().map(|x| x.0.clone()).collect()))
        .with("layer", Values::U64(rows_c.iter().map(|x| x.1.layer as u64).collect()))
        .with("elements/inf", Values::U64(rows_c.iter().map(|x| x.1.elements as u64).collect()))
        .with("input mean", Values::F64(rows_c.iter().map(|x| x.1.density.mean).collect()))
        .with("input std", Values::F64(rows_c.iter().map(|x| x.1.density.std).collect()))
        .with("input range", Values::Str(rows_c.iter().map(|x| format!("[{:.2}, {:.2}]", x.1.density.histogram.lo, x.1.density.histogram.hi)).collect()))
        .with("chosen", Values::Str(rows_c.iter().map(|x| x.1.structure.clone()).collect()))
        .with("tau", Values::F64(rows_c.iter().map(|x| x.1.tau.unwrap_or(f64::NAN)).collect()))
        .with("Beaver B/elem", Values::U64(rows_c.iter().map(|x| x.1.beaver_bytes_per_element).collect()))
        .with("Beaver rounds/elem", Values::U64(rows_c.iter().map(|x| x.1.beaver_rounds_per_element).collect()))
        .with("FSS B/elem (online+key)", Values::U64(rows_c.iter().map(|x| x.1.fss_bytes_per_element + x.1.fss_key_bytes_per_element).collect()));
    c.write(&tables, "per-layer-choices")?;
    Ok(format!(
        "`results/tables/per-layer-vs-shared.md`:\n\n{}\n\nEvery layer's choice (`results/tables/per-layer-choices.md`):\n\n{}\n",
        t.to_markdown()?,
        c.to_markdown()?
    ))
}

/// `density-<task>`: one panel per activation layer of the task's per-layer record; false if it has none.
fn density_figure(task: &str, mine: &[&(AccuracyResult, f64)], results: &Path) -> anyhow::Result<bool> {
    let Some(per) = mine.iter().find_map(|(a, _)| a.per_layer.as_ref().filter(|_| a.method == "compact-per-layer")) else {
        return Ok(false);
    };
    let shared = mine.iter().find(|(a, _)| a.method == "compact").and_then(|(a, _)| a.curve.as_ref());
    let act_name = mine.first().map_or("gelu".to_string(), |(a, _)| a.activation.clone());
    let act = ActivationRegistry::builtin().get(&act_name)?;
    let mut panels = Vec::new();
    for l in &per.layers {
        let h = &l.density.histogram;
        let (lo, hi) = (h.lo.max(-12.0), h.hi.min(12.0));
        let within = |x: f64| x >= lo && x <= hi;
        let shade: Vec<(f64, f64)> = h.density_points().into_iter().filter(|p| within(p.0)).collect();
        let curve = |c: &crate::records::Curve| -> Vec<(f64, f64)> {
            c.x.iter().zip(&c.y).filter(|(x, _)| within(**x)).map(|(x, y)| (*x, *y)).collect()
        };
        let xs: Vec<f64> = l.curve.x.iter().copied().filter(|x| within(*x)).collect();
        let mut series = vec![Series { name: format!("{act_name} (exact)"), points: xs.iter().map(|&x| (x, act.eval(x))).collect() }];
        let mut styles = vec![0];
        if let Some(s) = shared {
            series.push(Series { name: "compact, shared".into(), points: curve(s) });
            styles.push(1);
        }
        series.push(Series { name: "compact, this layer".into(), points: curve(&l.curve) });
        styles.push(2);
        panels.push(LineChart {
            title: format!("layer {}: input mean {:.2}, std {:.2}; {} B/elem", l.layer, l.density.mean, l.density.std, l.beaver_bytes_per_element),
            x_label: "x (activation input, unitless)".into(),
            y_label: "f(x) (activation output)".into(),
            series,
            styles,
            shade: Some(shade),
            ..LineChart::default()
        });
    }
    let cols = panels.len().clamp(1, 2);
    SmallMultiples {
        title: format!("{task}: each layer's {act_name} input density (shaded) with GELU and Compact's approximations"),
        panels,
        cols,
    }
    .write(&results.join("figures"), &format!("density-{task}"))?;
    Ok(true)
}
