//! Prints the cost table of the transformer layers (`secure_methods::transformer`) from the `CostEvaluator`: rounds,
//! online bytes and dealer bytes per party, per row, for softmax at 17 and 64 columns (and its exponential alone) and
//! LayerNorm's normalisation at width 64, per recipe and truncation protocol. The crate README quotes its output.
//!
//! `cargo run --release -p secure-methods --example transformer_costs`
#![allow(clippy::unwrap_used)]

use activation_approx::{FixedPoint, Truncation};
use mpc_sim::{CommCost, CostEvaluator, Evaluator, Party};
use secure_methods::transformer::{self, LayerNormRecipe, SoftmaxRecipe};

fn cost(t: Truncation, cols: usize, f: impl Fn(&mut CostEvaluator, &<CostEvaluator as Evaluator>::Value)) -> CommCost {
    let mut c = CostEvaluator::new(FixedPoint::default(), t);
    let x = c.input(Party::P0, &vec![0.5; cols], &[1, cols]).unwrap();
    c.reset_meter();
    f(&mut c, &x);
    c.total().cost()
}

fn row(layer: &str, recipe: &str, cols: usize, t: Truncation, c: CommCost) {
    println!(
        "| {layer} | {recipe} | {cols} | {t:?} | {} | {} | {} |",
        c.rounds, c.bytes_per_party, c.offline_bytes_per_party
    );
}

fn main() {
    println!("| layer | recipe | columns | truncation | rounds | online B / row | dealer B / row |");
    println!("|---|---|---|---|---|---|---|");
    for t in [Truncation::Local, Truncation::DealerPair] {
        for r in [SoftmaxRecipe::crypten(), SoftmaxRecipe::puma(), SoftmaxRecipe::puma_fast()] {
            for cols in [17, 64] {
                let c = cost(t, cols, |ev, x| {
                    transformer::softmax_rows(ev, x, cols, None, &r).unwrap();
                });
                row("softmax", r.name(), cols, t, c);
                let e = cost(t, cols, |ev, x| {
                    let n = ev.neg(x).unwrap();
                    transformer::exp_nonpositive(ev, &n, &r.exp).unwrap();
                });
                row("softmax: exp only", r.name(), cols, t, e);
            }
        }
        for r in [LayerNormRecipe::crypten(), LayerNormRecipe::default()] {
            let c = cost(t, 64, |ev, x| {
                transformer::layer_norm_rows(ev, x, 64, 1e-5, &r).unwrap();
            });
            row("layernorm", r.name(), 64, t, c);
        }
    }
}
