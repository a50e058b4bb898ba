//! Prints the cost table of the transformer layers (`secure_methods::transformer`) from the `CostEvaluator`: rounds,
//! online bytes and dealer bytes per party, per row, for softmax at 17 and 64 columns (and its exponential alone) and
//! LayerNorm's normalisation at width 64, per recipe and truncation protocol. The crate README quotes its output.
//!
//! `cargo run --release -p secure-methods --example transformer_costs`
#![allow(clippy::unwrap_used)]

use activation_approx::{DensitySpec, Empirical, FixedPoint, Truncation};
use mpc_sim::{CommCost, CostEvaluator, Evaluator, Party, PlainEvaluator};
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

/// Rows of N(0, sd²) logits from a seeded SplitMix64 / Box–Muller stream.
fn logits(rows: usize, cols: usize, sd: f64, seed: u64) -> Vec<f64> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..rows * cols)
        .map(|_| {
            let (u, v) = (next().max(1e-300), next());
            sd * (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        })
        .collect()
}

/// Max abs error of the fixed-point softmax vs f64 on `xs`.
fn softmax_error(xs: &[f64], cols: usize, r: &SoftmaxRecipe) -> f64 {
    let mut p = PlainEvaluator::new(FixedPoint::default());
    let x = p.input(Party::P0, xs, &[xs.len() / cols, cols]).unwrap();
    let y = transformer::softmax_rows(&mut p, &x, cols, None, r).unwrap();
    let got = p.reveal(&y).unwrap();
    xs.chunks(cols)
        .zip(got.chunks(cols))
        .flat_map(|(row, g)| {
            let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = row.iter().map(|v| (v - m).exp()).collect();
            let s: f64 = e.iter().sum();
            e.into_iter().zip(g).map(move |(e, g)| (e / s - g).abs()).collect::<Vec<_>>()
        })
        .fold(0.0, f64::max)
}

/// The stretch: Compact's exp fitted to the density of x − max (17 columns, logits N(0, 3²)) at several τ, its
/// softmax error on held-out rows and its exp cost, beside the published exponentials.
fn compact_exp_table() {
    let cols = 17;
    let fit_rows = logits(2000, cols, 3.0, 41);
    let shifted: Vec<f64> = fit_rows
        .chunks(cols)
        .flat_map(|r| {
            let m = r.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            r.iter().map(move |v| v - m).collect::<Vec<_>>()
        })
        .collect();
    let density = DensitySpec::Empirical(Empirical::from_samples(&shifted, 64).unwrap());
    let test = logits(10_000, cols, 3.0, 4242);
    println!();
    println!("| softmax exp (17 columns, logits N(0, 3²)) | max abs error of softmax | exp rounds (dealer pair) | exp B / row (dealer pair) | exp rounds (local) | exp B / row (local) |");
    println!("|---|---|---|---|---|---|");
    let mut recipes: Vec<(String, SoftmaxRecipe)> =
        [SoftmaxRecipe::crypten(), SoftmaxRecipe::puma(), SoftmaxRecipe::puma_fast()].into_iter().map(|r| (r.name().to_string(), r)).collect();
    let mut infeasible = Vec::new();
    for (tol, cap) in [(1e-3, None), (3e-4, Some(3e-3)), (1e-4, Some(1e-3))] {
        match transformer::fit_exp(&density, tol, cap, 1, FixedPoint::default()) {
            Ok(pp) => {
                let degrees: Vec<usize> = pp.segments().iter().map(|s| s.effective_degree()).collect();
                let (a, b) = pp.range();
                let cap = cap.map_or("none".to_string(), |c| format!("{c:.0e}"));
                let label = format!("compact τ = {tol:.0e}, cap {cap} (segments on [{a:.2}, {b:.2}] with tails, degrees {degrees:?})");
                recipes.push((label, SoftmaxRecipe::compact(&pp, FixedPoint::default()).unwrap()));
            }
            Err(_) => infeasible.push(format!("compact τ = {tol:.0e}, cap {}", cap.map_or("none".to_string(), |c| format!("{c:.0e}")))),
        }
    }
    for (label, r) in recipes {
        let err = softmax_error(&test, cols, &r);
        let exp_cost = |t| {
            cost(t, cols, |ev, x| {
                let n = ev.neg(x).unwrap();
                transformer::exp_nonpositive(ev, &n, &r.exp).unwrap();
            })
        };
        let (d, l) = (exp_cost(Truncation::DealerPair), exp_cost(Truncation::Local));
        println!("| {label} | {err:.2e} | {} | {} | {} | {} |", d.rounds, d.bytes_per_party, l.rounds, l.bytes_per_party);
    }
    for label in infeasible {
        println!("| {label}: no feasible structure in the search space | | | | | |");
    }
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
    compact_exp_table();
}
