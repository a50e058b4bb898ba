//! `zoo`: train and evaluate the model-zoo models from the command line (what `make train` runs).
//!
//! ```text
//! cargo run --release -p model-zoo --example zoo -- train-defaults [--out results/models] [--only STEM_PREFIX]...
//! cargo run --release -p model-zoo --example zoo -- train --task mnist --activation silu [--depth 4] [--epochs N]
//!                                                        [--seed S] [--batch B] [--lr LR] [--out DIR] [--stem NAME]
//! cargo run --release -p model-zoo --example zoo -- eval results/models/mnist-silu-d4.json [--replace relu]
//! cargo run --release -p model-zoo --example zoo -- stats results/models/mnist-silu-d4.json
//! cargo run --release -p model-zoo --example zoo -- table [results/models]
//! ```
//! Data come from `$COMPACT_DATASETS` or `datasets/` (fetch with `scripts/fetch-datasets.sh`).

use std::path::PathBuf;
use std::process::ExitCode;

use activation_approx::ActivationRegistry;
use anyhow::{Context, bail};
use model_zoo::data::default_root;
use model_zoo::{ActivationPlan, Task, act_fn, activation_statistics, default_spec, default_specs, evaluate, load_model, load_task, train_and_save};

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn flags(args: &[String], name: &str) -> Vec<String> {
    args.windows(2).filter(|w| w[0] == name).map(|w| w[1].clone()).collect()
}

fn parse<T: std::str::FromStr>(args: &[String], name: &str) -> anyhow::Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    match flag(args, name) {
        None => Ok(None),
        Some(v) => v.parse::<T>().map(Some).map_err(|e| anyhow::anyhow!("bad value '{v}' for {name}: {e}")),
    }
}

fn report(path: &std::path::Path, s: &model_zoo::Sidecar) {
    println!(
        "{}: val {:.2}% test {:.2}% in {:.1} s ({} params, {} epochs)",
        path.display(),
        100.0 * s.val_accuracy,
        100.0 * s.test_accuracy,
        s.training_seconds,
        s.n_parameters,
        s.epochs
    );
}

fn run() -> anyhow::Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let registry = ActivationRegistry::builtin();
    let root = default_root();
    let out = flag(&args, "--out").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("results/models"));
    match args.first().map(String::as_str) {
        Some("train-defaults") => {
            let only = flags(&args, "--only");
            let mut cache = Vec::new();
            for spec in default_specs()? {
                if !only.is_empty() && !only.iter().any(|p| spec.stem.starts_with(p.as_str())) {
                    continue;
                }
                let (path, s) = train_and_save(&spec, &root, &out, &registry, &mut cache).with_context(|| format!("training {}", spec.stem))?;
                report(&path, &s);
            }
        }
        Some("train") => {
            let task: Task = flag(&args, "--task")
                .context("train needs --task (mnist, fashion-mnist, spam, letter, cifar10, mnist-vit, fashion-mnist-vit, spam-text)")?
                .parse()?;
            let act = flag(&args, "--activation").unwrap_or_else(|| "silu".to_string());
            registry.get(&act)?;
            let mut spec = default_spec(task, &act, parse(&args, "--depth")?)?;
            if let Some(e) = parse(&args, "--epochs")? {
                spec.train.epochs = e;
            }
            if let Some(s) = parse(&args, "--seed")? {
                spec.train.seed = s;
            }
            if let Some(b) = parse(&args, "--batch")? {
                spec.train.batch_size = b;
            }
            if let Some(lr) = parse(&args, "--lr")? {
                spec.train.lr = lr;
            }
            if let Some(w) = parse::<usize>(&args, "--width")? {
                match &mut spec.config.arch {
                    model_zoo::Arch::Mlp { width, .. } => *width = w,
                    model_zoo::Arch::VggCnn { widths, .. } => *widths = [w / 4, w / 2, w],
                    model_zoo::Arch::Vit { width, .. } | model_zoo::Arch::TextTransformer { width, .. } => *width = w,
                }
            }
            if let Some(stem) = flag(&args, "--stem") {
                spec.stem = stem;
            }
            let (path, s) = train_and_save(&spec, &root, &out, &registry, &mut Vec::new())?;
            report(&path, &s);
        }
        Some("eval") => {
            let path = PathBuf::from(args.get(1).context("eval needs a sidecar .json path")?);
            let (net, side) = load_model(&path, &registry)?;
            let data = load_task(side.model.task, &root)?;
            let plan = match flag(&args, "--replace") {
                Some(name) => ActivationPlan::All(act_fn(registry.get(&name)?)),
                None => ActivationPlan::Exact,
            };
            let acc = evaluate(&net, &data.test, &plan, 1000)?;
            println!("{}: test accuracy {:.2}% (sidecar says {:.2}% exact)", path.display(), 100.0 * acc, 100.0 * side.test_accuracy);
        }
        Some("stats") => {
            let path = PathBuf::from(args.get(1).context("stats needs a sidecar .json path")?);
            let (net, side) = load_model(&path, &registry)?;
            let data = load_task(side.model.task, &root)?;
            for s in activation_statistics(&net, &data.train, 1000, 64, 0)? {
                println!("layer {:2} ({}): n {} mean {:+.3} std {:.3} range [{:.2}, {:.2}]", s.index, s.batch_norm, s.n_values, s.mean, s.std, s.histogram.lo, s.histogram.hi);
            }
        }
        Some("table") => {
            // Markdown table of every sidecar in the models folder (what crates/model-zoo/README.md quotes).
            let dir = args.get(1).map(PathBuf::from).unwrap_or(out);
            let mut rows = Vec::new();
            for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
                let p = entry?.path();
                if p.extension().is_some_and(|e| e == "json") {
                    let s: model_zoo::Sidecar = serde_json::from_slice(&std::fs::read(&p)?).with_context(|| format!("parsing {}", p.display()))?;
                    let size = std::fs::metadata(dir.join(&s.weights_file)).map(|m| m.len()).unwrap_or(0);
                    rows.push((s.task.clone(), s.activation.clone(), s.depth, s, size, p));
                }
            }
            rows.sort_by(|a, b| (&a.0, &a.1, a.2).cmp(&(&b.0, &b.1, b.2)));
            println!("| model | task | act | depth | width | params | epochs | val % | test % | train s | MB |");
            println!("|---|---|---|---|---|---|---|---|---|---|---|");
            let mut total = 0;
            for (_, _, _, s, size, p) in &rows {
                total += size;
                let stem = p.file_stem().map(|x| x.to_string_lossy().into_owned()).unwrap_or_default();
                println!(
                    "| {stem} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.0} | {:.2} |",
                    s.task, s.activation, s.depth, s.width, s.n_parameters, s.epochs, 100.0 * s.val_accuracy, 100.0 * s.test_accuracy, s.training_seconds, *size as f64 / 1e6
                );
            }
            println!("\n{} models, {:.1} MB of weights", rows.len(), total as f64 / 1e6);
        }
        other => bail!("unknown command {other:?}; use train-defaults, train, eval, stats or table (see the example's doc comment)"),
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
