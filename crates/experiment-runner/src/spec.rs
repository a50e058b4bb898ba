//! Experiment specifications: one TOML file per experiment in `experiments/`, expanded into sweep points.
//!
//! ```toml
//! name = "approximations"      # also the record file: results/raw/<name>.jsonl
//! kind = "approximation"       # which executor runs the points
//! seed = 7                     # point i runs with seed derive_seed(seed, i)
//!
//! [grid]                       # the cartesian product of every list given
//! activation = ["silu", "gelu", "mish"]
//! method = ["compact", "nfgen"]
//! density = ["normal:0,1"]
//!
//! [params]                     # kind-specific scalars, passed to the executor unchanged
//! tol = 1e-3
//! ```
//! Unknown keys anywhere are errors; so is an empty grid or an empty list.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// A parsed experiment specification.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Experiment name: letters, digits, `-` and `_` only (it names the record file).
    pub name: String,
    /// The executor that runs each point.
    pub kind: String,
    /// Experiment seed; each point's seed derives from it and the point index.
    #[serde(default)]
    pub seed: u64,
    /// The sweep axes.
    pub grid: Grid,
    /// Kind-specific parameters.
    #[serde(default)]
    pub params: BTreeMap<String, toml::Value>,
}

/// The sweep axes. An axis left out is not swept (the executor uses its default).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    /// Activation names (from the activation catalogue).
    pub activation: Option<Vec<String>>,
    /// Method names (Compact, baselines).
    pub method: Option<Vec<String>>,
    /// Task names (mnist, fashion, spam, letter).
    pub task: Option<Vec<String>>,
    /// Numbers of hidden layers.
    pub depth: Option<Vec<usize>>,
    /// Density specs such as `normal:0,1`.
    pub density: Option<Vec<String>>,
    /// Allowed relative accuracy losses ν of the accuracy-constrained search (fractions, e.g. 0.01 for 1 %); each
    /// overrides the `nu` parameter for its points.
    pub nu: Option<Vec<f64>>,
}

/// One point of a sweep: a value for every axis the spec sweeps.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Point {
    /// Position in the expansion order (row-major over activation, method, task, depth, density).
    pub index: usize,
    /// Activation, when swept.
    pub activation: Option<String>,
    /// Method, when swept.
    pub method: Option<String>,
    /// Task, when swept.
    pub task: Option<String>,
    /// Depth, when swept.
    pub depth: Option<usize>,
    /// Density, when swept.
    pub density: Option<String>,
    /// ν, when swept (the number as written by Rust's shortest round-trip formatting, e.g. `0.0025`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nu: Option<String>,
}

impl Point {
    /// The identity of a point in the record file: `axis=value` pairs joined by `,` (the index is not part of it,
    /// so reordering a grid does not recompute finished points).
    pub fn key(&self) -> String {
        let mut parts = Vec::new();
        if let Some(v) = &self.activation {
            parts.push(format!("activation={v}"));
        }
        if let Some(v) = &self.method {
            parts.push(format!("method={v}"));
        }
        if let Some(v) = &self.task {
            parts.push(format!("task={v}"));
        }
        if let Some(v) = self.depth {
            parts.push(format!("depth={v}"));
        }
        if let Some(v) = &self.density {
            parts.push(format!("density={v}"));
        }
        if let Some(v) = &self.nu {
            parts.push(format!("nu={v}"));
        }
        parts.join(",")
    }
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// The seed of point `index` of an experiment seeded with `seed`: SplitMix64 of the pair, so it never depends on
/// thread order or on which points already ran.
pub fn derive_seed(seed: u64, index: usize) -> u64 {
    let mut z = seed ^ (index as u64).wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Spec {
    /// Reads and validates a spec file.
    pub fn load(path: &Path) -> anyhow::Result<Spec> {
        let text = crate::input::read_capped(
            path,
            activation_approx::limits::MAX_SPEC_FILE_BYTES,
            "limits::MAX_SPEC_FILE_BYTES",
            "experiment spec",
        )?;
        Spec::parse(&text).with_context(|| format!("invalid experiment spec '{}'", path.display()))
    }

    /// Parses and validates spec text (structure only; the executor checks names against its registries).
    pub fn parse(text: &str) -> anyhow::Result<Spec> {
        let spec: Spec = toml::from_str(text).map_err(|e| {
            // One line: the message and where it points, never the source snippet toml's Display adds.
            let line = e.span().map(|r| text[..r.start.min(text.len())].matches('\n').count() + 1);
            let msg = activation_approx::limits::clip_line(e.message().trim()).replace('\n', " ");
            match line {
                Some(l) => anyhow::anyhow!("line {l}: {msg}"),
                None => anyhow::anyhow!("{msg}"),
            }
        })?;
        if spec.name.is_empty() || !spec.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            bail!("experiment name '{}' must be non-empty letters, digits, '-' or '_'", activation_approx::limits::clip(&spec.name));
        }
        let g = &spec.grid;
        let lens = [
            ("activation", g.activation.as_ref().map(Vec::len)),
            ("method", g.method.as_ref().map(Vec::len)),
            ("task", g.task.as_ref().map(Vec::len)),
            ("depth", g.depth.as_ref().map(Vec::len)),
            ("density", g.density.as_ref().map(Vec::len)),
            ("nu", g.nu.as_ref().map(Vec::len)),
        ];
        if lens.iter().all(|(_, l)| l.is_none()) {
            bail!("empty sweep: [grid] lists no axis; give at least one of activation, method, task, depth, density");
        }
        if let Some((axis, _)) = lens.iter().find(|(_, l)| *l == Some(0)) {
            bail!("empty sweep: grid axis '{axis}' is an empty list; give at least one value or remove the axis");
        }
        if let Some(nu) = g.nu.iter().flatten().find(|v| !(**v > 0.0 && **v < 1.0)) {
            bail!("grid value nu = {nu} must be in (0, 1), e.g. 0.01 for a 1 % relative accuracy loss");
        }
        Ok(spec)
    }

    /// Expands the grid into points, row-major in the order activation, method, task, depth, density, ν.
    pub fn points(&self) -> Vec<Point> {
        fn axis<T: Clone>(v: &Option<Vec<T>>) -> Vec<Option<T>> {
            match v {
                Some(vs) => vs.iter().cloned().map(Some).collect(),
                None => vec![None],
            }
        }
        let g = &self.grid;
        let mut out = Vec::new();
        for activation in axis(&g.activation) {
            for method in axis(&g.method) {
                for task in axis(&g.task) {
                    for depth in axis(&g.depth) {
                        for density in axis(&g.density) {
                            for nu in axis(&g.nu) {
                                out.push(Point {
                                    index: out.len(),
                                    activation: activation.clone(),
                                    method: method.clone(),
                                    task: task.clone(),
                                    depth,
                                    density: density.clone(),
                                    nu: nu.map(|v| format!("{v}")),
                                });
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// A fingerprint of what determines a point's result besides the point itself: kind, seed and `[params]`
    /// (FNV-1a over their JSON, hex). Records carry it so a sweep never reuses results of other parameters; the grid
    /// is not part of it, so growing a grid reuses the points already finished.
    pub fn digest(&self) -> String {
        let text = serde_json::json!({ "kind": self.kind, "seed": self.seed, "params": self.params }).to_string();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in text.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{h:016x}")
    }

    /// A float parameter from `[params]`, or `default` when absent; a non-number is an error.
    pub fn param_f64(&self, name: &str, default: f64) -> anyhow::Result<f64> {
        match self.params.get(name) {
            None => Ok(default),
            Some(toml::Value::Float(x)) => Ok(*x),
            Some(toml::Value::Integer(i)) => Ok(*i as f64),
            Some(other) => bail!("parameter '{name}' = {} must be a number", activation_approx::limits::clip(&other.to_string())),
        }
    }

    /// An integer parameter from `[params]`, or `default` when absent.
    pub fn param_usize(&self, name: &str, default: usize) -> anyhow::Result<usize> {
        match self.params.get(name) {
            None => Ok(default),
            Some(toml::Value::Integer(i)) if *i >= 0 => Ok(*i as usize),
            Some(other) => {
                bail!("parameter '{name}' = {} must be a non-negative integer", activation_approx::limits::clip(&other.to_string()))
            }
        }
    }

    /// Fails on any `[params]` key not in `known`, naming it and the accepted keys.
    pub fn check_params(&self, known: &[&str]) -> anyhow::Result<()> {
        if let Some(k) = self.params.keys().find(|k| !known.contains(&k.as_str())) {
            bail!(
                "unknown parameter '{}' for kind '{}'; known: {}",
                activation_approx::limits::clip(k),
                activation_approx::limits::clip(&self.kind),
                known.join(", ")
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"
kind = "approximation"
seed = 3
[grid]
activation = ["silu", "gelu"]
method = ["compact", "nfgen", "puma"]
[params]
tol = 1e-3
"#;

    #[test]
    fn expands_row_major_with_stable_keys() {
        let spec = Spec::parse(GOOD).unwrap();
        let pts = spec.points();
        assert_eq!(pts.len(), 6);
        assert_eq!(pts[0].key(), "activation=silu,method=compact");
        assert_eq!(pts[5].key(), "activation=gelu,method=puma");
        assert_eq!(spec.param_f64("tol", 0.0).unwrap(), 1e-3);
    }

    #[test]
    fn seeds_depend_on_seed_and_index_only() {
        assert_eq!(derive_seed(3, 4), derive_seed(3, 4));
        assert_ne!(derive_seed(3, 4), derive_seed(3, 5));
        assert_ne!(derive_seed(3, 4), derive_seed(4, 4));
    }

    #[test]
    fn rejects_bad_specs() {
        let unknown_key = GOOD.replace("seed = 3", "seed = 3\ncolour = 1");
        assert!(Spec::parse(&unknown_key).unwrap_err().to_string().contains("colour"));
        let unknown_axis = GOOD.replace("method =", "methd =");
        assert!(Spec::parse(&unknown_axis).unwrap_err().to_string().contains("methd"));
        let empty_axis = GOOD.replace(r#"["silu", "gelu"]"#, "[]");
        assert!(Spec::parse(&empty_axis).unwrap_err().to_string().contains("empty sweep"));
        let no_grid = "name = \"t\"\nkind = \"x\"\n[grid]\n";
        assert!(Spec::parse(no_grid).unwrap_err().to_string().contains("empty sweep"));
        let bad_name = GOOD.replace("name = \"t\"", "name = \"../x\"");
        assert!(Spec::parse(&bad_name).is_err());
    }
}
