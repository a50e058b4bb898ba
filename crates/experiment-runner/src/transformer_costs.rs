//! What share of a transformer's secure inference GELU takes, per GELU method: bytes per party and rounds of one
//! inference split by layer kind (linear layers, attention products Q·Kᵀ and P·V, softmax, LayerNorm, GELU), from
//! the cost evaluator alone.
//!
//! Costs depend on the architecture (shapes), the methods' public structure, the recipes, the fixed point and the
//! truncation protocol, never on weights or inputs (a text transformer's cost depends on the public padding: it is
//! priced at full length, every position a real token). So the table is computed from the default model specs
//! ([`model_zoo::default_spec`]) with untrained weights: [`mpc_sim::CostEvaluator`] runs the very program of the
//! secure pass ([`model_zoo::secure::predict_cost_with`]), which `compact secure` and the `secure` experiment check
//! equal to the metered cost of real runs.

use activation_approx::{ActivationRegistry, Truncation};
use anyhow::Context;
use model_zoo::secure::{Backend, InferenceCost, LayerKind, TransformerRecipes, predict_cost_with};
use model_zoo::{ModelActivation, Network, Task};
use secure_methods::{BuildContext, MethodRegistry, SecureMethod};

use crate::table::{Table, Values};

/// The transformer tasks, in table order.
pub const TRANSFORMER_TASKS: [Task; 3] = [Task::MnistVit, Task::FashionMnistVit, Task::SpamText];

/// The GELU methods of the table: Compact and every registered GELU baseline.
pub const GELU_METHODS: [&str; 7] = ["compact", "nfgen", "puma", "bolt", "bumblebee", "crypten", "relu-swap"];

/// The layer kinds of the split, with their column names.
const KINDS: [(LayerKind, &str); 5] = [
    (LayerKind::Linear, "linear"),
    (LayerKind::AttentionProduct, "attention products"),
    (LayerKind::Softmax, "softmax"),
    (LayerKind::LayerNorm, "LayerNorm"),
    (LayerKind::Activation, "GELU"),
];

/// One (model, method) cost.
#[derive(Debug, Clone, PartialEq)]
pub struct CostRow {
    /// The default model's file stem (e.g. `mnist-vit-gelu-d4`).
    pub model: String,
    /// The GELU method.
    pub method: String,
    /// The predicted cost of one inference with its per-layer breakdown.
    pub cost: InferenceCost,
}

/// The predicted cost of one inference of each default transformer (GELU) with each of `methods`, built for the
/// activation density `density` (Compact's search target; the baselines ignore it), with the transformer `recipes`,
/// dealer-pair truncation (the secure runs' protocol) on the Beaver backend.
pub fn shape_costs(methods: &[&str], recipes: &TransformerRecipes, density: &str) -> anyhow::Result<Vec<CostRow>> {
    let registry = MethodRegistry::builtin();
    let ctx = BuildContext::new("gelu")?.with_density(density);
    let built: Vec<(String, Box<dyn SecureMethod>)> = methods
        .iter()
        .map(|m| {
            let name = crate::names::method(m)?;
            let method = registry.build(name, &ctx).with_context(|| format!("building method '{name}' for GELU"))?;
            Ok((name.to_string(), method))
        })
        .collect::<anyhow::Result<_>>()?;
    let act = ModelActivation::resolve("gelu", &ActivationRegistry::builtin())?;
    let mut rows = Vec::new();
    for task in TRANSFORMER_TASKS {
        let spec = model_zoo::default_spec(task, "gelu", None)?;
        // Untrained weights: the cost depends on the shapes only.
        let model = Network::new(spec.config.clone(), act.clone(), 0)?.export_folded()?;
        for (name, method) in &built {
            let cost = predict_cost_with(&model, method.as_ref(), recipes, method.fixed_point(), Truncation::DealerPair, Backend::Beaver)?;
            rows.push(CostRow { model: spec.stem.clone(), method: name.clone(), cost });
        }
    }
    Ok(rows)
}

/// GELU's share (fraction) of the bytes and of the rounds of one inference.
pub fn gelu_share(c: &InferenceCost) -> (f64, f64) {
    let a = c.of_kind(LayerKind::Activation);
    (
        a.bytes_per_party.get() as f64 / c.total.bytes_per_party.get().max(1) as f64,
        a.rounds.get() as f64 / c.total.rounds.get().max(1) as f64,
    )
}

/// The table: per row, MB per party and rounds of each kind, the totals (input sharing and the logits' opening
/// included) and GELU's share of both.
pub fn table(rows: &[CostRow]) -> Table {
    let mb = |b: u64| b as f64 / 1e6;
    let mut t = Table::new()
        .with("model", Values::Str(rows.iter().map(|r| r.model.clone()).collect()))
        .with("GELU method", Values::Str(rows.iter().map(|r| r.method.clone()).collect()));
    for (kind, name) in KINDS {
        t = t.with(&format!("{name} MB"), Values::F64(rows.iter().map(|r| mb(r.cost.of_kind(kind).bytes_per_party.get())).collect()));
    }
    t = t
        .with("total MB", Values::F64(rows.iter().map(|r| mb(r.cost.total.bytes_per_party.get())).collect()))
        .with("GELU % of bytes", Values::F64(rows.iter().map(|r| 100.0 * gelu_share(&r.cost).0).collect()));
    for (kind, name) in KINDS {
        t = t.with(&format!("{name} rounds"), Values::U64(rows.iter().map(|r| r.cost.of_kind(kind).rounds.get()).collect()));
    }
    t.with("total rounds", Values::U64(rows.iter().map(|r| r.cost.total.rounds.get()).collect()))
        .with("GELU % of rounds", Values::F64(rows.iter().map(|r| 100.0 * gelu_share(&r.cost).1).collect()))
}

/// The Markdown caption of the table.
pub fn caption(recipes: &TransformerRecipes, density: &str) -> String {
    let (softmax, layer_norm) = recipes.names();
    format!(
        "Cost of one secure inference of each default transformer (4 pre-norm encoder blocks, width 64, 4 heads, MLP \
         width 128; the text transformer at its full 128 tokens) per GELU method: megabytes each party sends and \
         rounds, split by layer kind (linear = embeddings, Q|K|V, output projection and the MLP's two layers; \
         attention products = Q·Kᵀ and P·V with matrix triples; softmax recipe `{softmax}`, LayerNorm recipe \
         `{layer_norm}`), and GELU's share of the total (input sharing and the logits' opening included). Dealer-pair \
         truncation, f = 16, Beaver backend. Computed from the shapes alone by the cost evaluator, which the secure \
         runs check equal to the metered cost (`compact transformer-costs`); Compact here is the search for the \
         density `{density}` (the model-specific search of `compact secure` picks its own structure)."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_adds_up_and_gelu_share_follows_the_method() {
        let rows = shape_costs(&["puma", "relu-swap"], &TransformerRecipes::default(), "normal:0,1").expect("costs");
        assert_eq!(rows.len(), 2 * TRANSFORMER_TASKS.len());
        for r in &rows {
            // Every kind of a transformer is present, and the kinds (input and output included) add up to the total:
            // the rounds exactly; the bytes up to the logits' opening, since the client sends the input share and the
            // server the logits' share, and "bytes per party" is the larger party's, per label and in total.
            for (kind, _) in KINDS {
                let c = r.cost.of_kind(kind);
                assert!(c.bytes_per_party.get() > 0 && c.rounds.get() > 0, "{} {}: {kind:?} {c:?}", r.model, r.method);
            }
            let by_kind = r.cost.by_kind();
            let (sum, total) = (by_kind.iter().map(|k| k.bytes).sum::<u64>(), r.cost.total.bytes_per_party.get());
            let output = r.cost.of_kind(LayerKind::Output).bytes_per_party.get();
            assert!(output > 0 && (total..=total + output).contains(&sum), "{} {}: {sum} vs {total}", r.model, r.method);
            assert_eq!(by_kind.iter().map(|k| k.rounds).sum::<u64>(), r.cost.total.rounds.get(), "{} {}", r.model, r.method);
        }
        // Same model, same non-GELU layers: only the GELU columns differ, and PUMA's GELU (several comparisons and a
        // sextic) costs more than the ReLU swap's one comparison.
        for pair in rows.chunks(2) {
            let (puma, relu) = (&pair[0], &pair[1]);
            assert_eq!(puma.model, relu.model);
            for (kind, _) in &KINDS[..4] {
                assert_eq!(puma.cost.of_kind(*kind), relu.cost.of_kind(*kind), "{kind:?}");
            }
            assert!(gelu_share(&puma.cost).0 > gelu_share(&relu.cost).0);
        }
        let t = table(&rows);
        assert_eq!(t.n_rows(), rows.len());
        let md = t.to_markdown().expect("markdown");
        assert!(md.contains("GELU % of bytes") && md.contains("mnist-vit-gelu-d4") && md.contains("spam-text-gelu-d4"), "{md}");
    }

    #[test]
    fn unknown_methods_and_recipes_are_named() {
        let err = shape_costs(&["nope"], &TransformerRecipes::default(), "normal:0,1").unwrap_err().to_string();
        assert!(err.contains("'nope'"), "{err}");
        let err = TransformerRecipes::from_names("fast", "ladder").unwrap_err().to_string();
        assert!(err.contains("'fast'") && err.contains("puma-fast"), "{err}");
        let err = TransformerRecipes::from_names("puma", "newton").unwrap_err().to_string();
        assert!(err.contains("'newton'") && err.contains("ladder"), "{err}");
        assert_eq!(TransformerRecipes::from_names("PUMA_fast", "Ladder").expect("names").names(), ("puma-fast", "ladder"));
    }
}
