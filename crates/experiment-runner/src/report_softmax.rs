//! The `softmax-exp` experiment's outputs (`experiments/*/softmax-exp.toml`, kind [`crate::softmax_exp::KIND`]):
//!
//! - `results/tables/softmax-exp.{csv,md}`: per task and softmax recipe, the exponential (pieces and degrees, or
//!   the limit's squarings), the softmax's bytes and rounds per inference, the whole inference's bytes, validation
//!   and test accuracy of the fixed-point twin and the relative validation loss with its paired 95 % interval;
//! - `results/figures/softmax-density-<task>.{png,svg}`: per attention layer, the measured density of d = x − max
//!   (shaded), e^d and Compact's fitted exponential.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context;

use crate::plot::{LineChart, Series, SmallMultiples};
use crate::records::SoftmaxExpResult;
use crate::softmax_exp::{NAME, RECIPES};
use crate::sweep::Record;
use crate::table::{Table, Values};

fn order(r: &str) -> usize {
    RECIPES.iter().position(|o| *o == r).unwrap_or(RECIPES.len())
}

/// The table and figures; the README section (heading, body).
pub fn outputs(records: &[Record], results: &Path) -> anyhow::Result<(String, String)> {
    let r = results.display();
    let mut rows: Vec<SoftmaxExpResult> = Vec::new();
    for rec in records {
        rows.push(
            serde_json::from_value(rec.result.clone())
                .with_context(|| format!("record '{}' of {NAME}.jsonl is not a softmax_exp result; rerun the sweep", rec.key))?,
        );
    }
    rows.sort_by(|a, b| (a.task.as_str(), order(&a.recipe)).cmp(&(b.task.as_str(), order(&b.recipe))));
    let s = |f: &dyn Fn(&SoftmaxExpResult) -> String| Values::Str(rows.iter().map(f).collect());
    let fl = |f: &dyn Fn(&SoftmaxExpResult) -> f64| Values::F64(rows.iter().map(f).collect());
    let u = |f: &dyn Fn(&SoftmaxExpResult) -> u64| Values::U64(rows.iter().map(f).collect());
    let t = Table::new()
        .with("task", s(&|a| a.task.clone()))
        .with("recipe", s(&|a| a.recipe.clone()))
        .with("exp", s(&|a| a.exp.description.clone()))
        .with("softmax MB/inf", fl(&|a| a.softmax_bytes as f64 / 1e6))
        .with("softmax rounds/inf", u(&|a| a.softmax_rounds))
        .with("inference MB", fl(&|a| a.bytes_per_inference as f64 / 1e6))
        .with("inference rounds", u(&|a| a.rounds_per_inference))
        .with("val acc %", fl(&|a| 100.0 * a.val_accuracy))
        .with("test acc %", fl(&|a| 100.0 * a.test_accuracy))
        .with("exact val / test acc %", s(&|a| format!("{:.2} / {:.2}", 100.0 * a.exact_val_accuracy, 100.0 * a.exact_test_accuracy)))
        .with(
            "val rel loss % [paired 95% CI]",
            s(&|a| format!("{:+.2} [{:+.2}, {:+.2}]", 100.0 * a.val_rel_loss, 100.0 * a.val_rel_loss_ci95.0, 100.0 * a.val_rel_loss_ci95.1)),
        )
        .with(
            "Δ test pts [paired 95% CI]",
            s(&|a| {
                let d = 100.0 * (a.test_accuracy - a.exact_test_accuracy);
                format!("{d:+.2} [{:+.2}, {:+.2}]", 100.0 * a.test_diff_ci95.0, 100.0 * a.test_diff_ci95.1)
            }),
        )
        .with("samples val / test", s(&|a| format!("{} / {}", a.val_samples, a.test_samples)))
        .with(
            "search",
            s(&|a| match (a.stop, a.tau, a.nu) {
                (Some(stop), Some(tau), Some(nu)) => format!(
                    "ν = {} %, τ = {tau:.1e}, {} candidates evaluated, {}",
                    100.0 * nu,
                    a.trials.len(),
                    serde_json::to_value(stop).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
                ),
                _ => "-".into(),
            }),
        );
    t.write(&results.join("tables"), NAME)?;
    let verdict = verdict(&rows);
    let mut body = format!(
        "The attention softmax's exponential in the transformers: Compact's density-aware piecewise exponential \
         (fitted to the measured density of d = x − max on calibration samples of the training split, one shared by \
         all attention layers, chosen by the accuracy-constrained search at ν with PUMA's reciprocal, so that it \
         differs from `puma` in the exponential alone) against PUMA's (clipped limit, 8 squarings), PUMA-fast's \
         (5 squarings) and CrypTen's (limit, 8 squarings, Newton reciprocal) softmax. Every point runs the \
         fixed-point plaintext twin of the secure pass with the same GELU ({}) and LayerNorm, so only the softmax \
         differs; losses are relative to the float model with exact non-linearities, with paired bootstrap 95 % \
         intervals over the same samples. Bytes per party per inference under dealer-pair truncation, from the cost \
         evaluator of the same program (the text transformer at full length). {verdict} Written by `compact report` \
         from `{r}/raw/{NAME}.jsonl`.\n\n`{r}/tables/{NAME}.md`\n\n{}\n",
        rows.first().map_or("-".to_string(), |a| a.gelu_method.clone()),
        t.to_markdown()?
    );
    let tasks: BTreeSet<String> = rows.iter().map(|a| a.task.clone()).collect();
    for task in &tasks {
        if let Some(c) = rows.iter().find(|a| &a.task == task && a.recipe == "compact") {
            if density_figure(c, results)? {
                body.push_str(&format!("\n![softmax density {task}]({r}/figures/softmax-density-{task}.svg)\n"));
            }
        }
    }
    Ok(("Softmax's exponential: density-aware vs PUMA and CrypTen".into(), body))
}

/// One sentence per task: Compact's softmax bytes against PUMA's at the same ν.
fn verdict(rows: &[SoftmaxExpResult]) -> String {
    let mut out = Vec::new();
    for c in rows.iter().filter(|a| a.recipe == "compact") {
        let Some(p) = rows.iter().find(|a| a.task == c.task && a.recipe == "puma") else { continue };
        let ratio = c.softmax_bytes as f64 / p.softmax_bytes.max(1) as f64;
        out.push(format!(
            "{}: Compact's softmax {} PUMA's in bytes ({:.2}×, {} vs {} rounds) at validation loss {:+.2} % vs {:+.2} %.",
            c.task,
            if ratio < 1.0 { "undercuts" } else { "does not beat" },
            ratio,
            c.softmax_rounds,
            p.softmax_rounds,
            100.0 * c.val_rel_loss,
            100.0 * p.val_rel_loss
        ));
    }
    out.join(" ")
}

/// `softmax-density-<task>`: one panel per attention layer; false without densities or approximation.
fn density_figure(c: &SoftmaxExpResult, results: &Path) -> anyhow::Result<bool> {
    let Some(pp) = &c.exp.approximation else { return Ok(false) };
    if c.densities.is_empty() {
        return Ok(false);
    }
    let fx = activation_approx::FixedPoint::default();
    let enc = pp.encode(&fx)?;
    let mut panels = Vec::new();
    for l in &c.densities {
        let h = &l.histogram;
        let lo = h.lo.max(-16.0);
        let shade: Vec<(f64, f64)> = h.density_points().into_iter().filter(|p| p.0 >= lo).collect();
        let xs: Vec<f64> = (0..=400).map(|i| lo + (0.0 - lo) * i as f64 / 400.0).collect();
        let fitted: Vec<(f64, f64)> = xs
            .iter()
            .map(|&x| -> anyhow::Result<(f64, f64)> { Ok((x, fx.decode(enc.eval(fx.encode(x)?)))) })
            .collect::<anyhow::Result<_>>()?;
        panels.push(LineChart {
            title: format!("attention layer {}: d mean {:.2}, std {:.2}, min {:.1}", l.block, l.mean, l.std, l.min),
            x_label: "d = x − max (attention score, unitless)".into(),
            y_label: "exp(d)".into(),
            series: vec![
                Series { name: "exp (exact)".into(), points: xs.iter().map(|&x| (x, x.exp())).collect() },
                Series { name: "compact exp".into(), points: fitted },
            ],
            styles: vec![0, 1],
            shade: Some(shade),
            ..LineChart::default()
        });
    }
    let cols = panels.len().clamp(1, 2);
    SmallMultiples {
        title: format!("{}: each attention layer's density of x − max (shaded) with exp and Compact's fit ({})", c.task, c.exp.description),
        panels,
        cols,
    }
    .write(&results.join("figures"), &format!("softmax-density-{}", c.task))?;
    Ok(true)
}
