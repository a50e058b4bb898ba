//! One name-resolution function per kind of name (activation, method, task), used for command-line arguments, spec
//! grids and `[params.config.<method>]` tables alike, so that every entry point accepts the same spellings and the
//! runner only ever compares canonical names.
//!
//! The rule, everywhere: case-insensitive, surrounding spaces ignored, `_` and `-` interchangeable (`SiLU`,
//! `gelu-tanh`, `gelu_tanh`, `Relu_Swap`, `Fashion_MNIST` all resolve). An unknown name is a one-line error naming
//! the (clipped) value and the known names.

use activation_approx::ActivationRegistry;
use activation_approx::limits::clip;
use anyhow::bail;
use model_zoo::Task;

use crate::spec::Spec;

/// The canonical (registry) name of an activation.
pub fn activation(name: &str) -> anyhow::Result<String> {
    let registry = ActivationRegistry::builtin();
    match registry.get(name) {
        Ok(a) => Ok(a.name().to_string()),
        Err(_) => bail!("unknown activation '{}'; known: {}", clip(name), registry.names().join(", ")),
    }
}

/// The canonical (registry) name of a method (Compact or a baseline).
pub fn method(name: &str) -> anyhow::Result<&'static str> {
    let registry = crate::per_layer::method_registry();
    match registry.spec(name) {
        Ok(s) => Ok(s.name),
        Err(_) => bail!("unknown method '{}'; known: {}", clip(name), registry.names().join(", ")),
    }
}

/// A task by any of its accepted spellings.
pub fn task(name: &str) -> anyhow::Result<Task> {
    name.parse::<Task>().map_err(|_| {
        anyhow::anyhow!("unknown task '{}'; known: {}", clip(name), Task::ALL.map(Task::name).join(", "))
    })
}

/// Removes later repeats, keeping the first occurrence's position.
fn dedup<T: PartialEq + Clone>(values: &mut Vec<T>) {
    let mut out: Vec<T> = Vec::with_capacity(values.len());
    for v in values.drain(..) {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    *values = out;
}

/// The spec with every grid name resolved to its canonical spelling, repeated grid values removed (`["silu",
/// "SiLU"]` is one point), and the method keys of `[params.config]` resolved; a config table for a method that is
/// not in the grid's `method` axis is an error (it would silently do nothing).
pub fn canonical_spec(spec: &Spec) -> anyhow::Result<Spec> {
    let mut s = spec.clone();
    let g = &mut s.grid;
    if let Some(v) = g.activation.as_mut() {
        *v = v.iter().map(|a| activation(a)).collect::<anyhow::Result<_>>()?;
        dedup(v);
    }
    if let Some(v) = g.method.as_mut() {
        // The softmax experiment's method axis names softmax recipes, not activation methods.
        let softmax = s.kind == crate::softmax_exp::KIND;
        *v = v
            .iter()
            .map(|m| if softmax { crate::softmax_exp::recipe_name(m).map(str::to_string) } else { method(m).map(str::to_string) })
            .collect::<anyhow::Result<_>>()?;
        dedup(v);
    }
    if let Some(v) = g.task.as_mut() {
        *v = v.iter().map(|t| task(t).map(|t| t.name().to_string())).collect::<anyhow::Result<_>>()?;
        dedup(v);
    }
    if let Some(v) = g.depth.as_mut() {
        dedup(v);
    }
    if let Some(v) = g.density.as_mut() {
        for d in v.iter_mut() {
            *d = d.trim().to_string();
        }
        dedup(v);
    }
    if let Some(config) = s.params.get("config").cloned() {
        let toml::Value::Table(table) = config else {
            bail!("[params] config must be a table of per-method tables, e.g. [params.config.nfgen]");
        };
        let grid_methods = s.grid.method.clone().unwrap_or_default();
        let mut resolved = toml::map::Map::new();
        for (key, value) in table {
            let name = method(&key).map_err(|e| anyhow::anyhow!("[params.config.{}]: {e}", clip(&key)))?;
            if !grid_methods.iter().any(|m| m == name) {
                bail!(
                    "[params.config.{}] configures method '{name}', which is not in the grid's method list ({}); \
                     remove the table or add the method",
                    clip(&key),
                    if grid_methods.is_empty() { "none".to_string() } else { grid_methods.join(", ") }
                );
            }
            if !value.is_table() {
                bail!("[params.config.{}] must be a table of options", clip(&key));
            }
            if resolved.insert(name.to_string(), value).is_some() {
                bail!("[params.config] configures method '{name}' twice (under two spellings); keep one table");
            }
        }
        s.params.insert("config".into(), toml::Value::Table(resolved));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_for_every_kind() {
        assert_eq!(activation("SiLU").unwrap(), "silu");
        assert_eq!(activation(" GELU-tanh ").unwrap(), activation("gelu_tanh").unwrap());
        assert_eq!(method("Compact").unwrap(), "compact");
        assert_eq!(method("NFGEN").unwrap(), "nfgen");
        assert_eq!(task("MNIST").unwrap(), Task::Mnist);
        assert_eq!(task("Fashion_MNIST").unwrap(), task("fashion-mnist").unwrap());
        let e = activation(&"x".repeat(5000)).unwrap_err().to_string();
        assert!(e.len() < 300 && e.contains("known: "), "{e}");
        assert!(method("nfgn").unwrap_err().to_string().contains("unknown method 'nfgn'"));
        assert!(task("cifar100").unwrap_err().to_string().contains("unknown task 'cifar100'"));
    }

    #[test]
    fn committed_specs_keep_their_points_and_digests() {
        // Resolution must not invalidate finished records: canonical specs expand to the same keys and digest.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
        let mut seen = 0;
        for profile in ["quick", "full"] {
            for entry in std::fs::read_dir(root.join(profile)).unwrap() {
                let spec = Spec::load(&entry.unwrap().path()).unwrap();
                let c = canonical_spec(&spec).unwrap();
                assert_eq!(c.digest(), spec.digest(), "{}", spec.name);
                let keys = |s: &Spec| s.points().iter().map(|p| p.key()).collect::<Vec<_>>();
                assert_eq!(keys(&c), keys(&spec), "{}", spec.name);
                seen += 1;
            }
        }
        assert!(seen >= 10, "{seen} specs");
    }

    #[test]
    fn grids_are_resolved_and_deduplicated() {
        let spec = Spec::parse(
            "name = \"t\"\nkind = \"approximation\"\n[grid]\nactivation = [\"silu\", \"SiLU\", \"gelu\"]\n\
             method = [\"PUMA\", \"puma\", \"Compact\"]\ndepth = [2, 2]\n[params.config.NFGen]\nk = 1\n",
        )
        .unwrap();
        let err = canonical_spec(&spec).unwrap_err().to_string();
        assert!(err.contains("not in the grid's method list"), "{err}");
        let spec = Spec::parse(
            "name = \"t\"\nkind = \"approximation\"\n[grid]\nactivation = [\"silu\", \"SiLU\", \"gelu\"]\n\
             method = [\"PUMA\", \"puma\", \"Compact\"]\ndepth = [2, 2]\n[params.config.Compact]\nk = 1\n",
        )
        .unwrap();
        let c = canonical_spec(&spec).unwrap();
        assert_eq!(c.grid.activation.as_deref().unwrap(), ["silu", "gelu"]);
        assert_eq!(c.grid.method.as_deref().unwrap(), ["puma", "compact"]);
        assert_eq!(c.grid.depth.as_deref().unwrap(), [2]);
        assert_eq!(c.points().len(), 4);
        assert!(c.params["config"].get("compact").is_some());
    }
}
