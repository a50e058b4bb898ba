//! Prints the "Done means" measurements of issue 2 (see the crate README):
//! 1. SiLU, GELU, Mish under N(0, 1) with τ = 1e-3: the density-aware optimum (annealing), its weighted error
//!    re-checked on an independent dense grid, and its bytes against the cheapest approximation meeting max error
//!    1e-3 on [−8, 8] (density-unaware, same search, same tail rule: asymptote plus a constant fitted to the
//!    criterion);
//! 2. annealing vs exhaustive over {SiLU, GELU, Mish} × τ ∈ {1e-2, 1e-3, 1e-4}.
//!
//! Run: `cargo run --release -p activation-approx --example done_means`

use std::time::Instant;

use activation_approx::metrics::weighted_error_dense;
use activation_approx::search::SearchOutcome;
use activation_approx::{
    Activation, AnnealConfig, Builtin, Criterion, DensitySpec, ExhaustiveGrid, Fitter, Tail, TwoPartyCostModel, anneal,
    exhaustive,
};

fn tail(t: &Tail) -> String {
    match *t {
        Tail::Zero => "0".to_string(),
        Tail::Constant { value } => format!("{value:.4}"),
        Tail::Identity => "x".to_string(),
        Tail::Linear { slope, intercept } if slope == 1.0 => format!("x{intercept:+.4}"),
        Tail::Linear { slope, intercept } => format!("{slope}x{intercept:+.4}"),
    }
}

/// Pieces, degrees, range and the tails used below / above it.
fn shape(o: &SearchOutcome) -> String {
    let (a, b) = o.best.pp.range();
    let (l, r) = (tail(&o.best.pp.left), tail(&o.best.pp.right));
    format!("m={} d={:?} [{a:.3}, {b:.3}], tails {l} / {r}", o.best.pp.n_pieces(), o.best.structure.degrees)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = TwoPartyCostModel::default();
    let cfg = AnnealConfig::default();
    let fns = [Builtin::Silu, Builtin::Gelu, Builtin::Mish];

    println!("## Density-aware (N(0,1), weighted ≤ 1e-3) vs density-unaware (max ≤ 1e-3 on [-8, 8])\n");
    println!("Unaware reference: the cheaper of annealing and exhaustive search under the max-error criterion.\n");
    println!("| fn | aware: bytes | aware: structure | weighted (quadrature) | weighted (dense grid, 2e6 pts) | unaware: bytes | unaware: structure | ratio |");
    println!("|---|---|---|---|---|---|---|---|");
    for f in fns {
        let aware_c = Criterion::weighted(DensitySpec::standard_normal(), 1e-3, None)?;
        let unaware_c = Criterion::max_error(-8.0, 8.0, 1e-3)?;
        let aware = anneal(&Fitter::new(&f, &aware_c, &model), &cfg)?;
        let unaware_fit = Fitter::new(&f, &unaware_c, &model);
        let unaware_an = anneal(&unaware_fit, &cfg)?;
        let unaware_ex = exhaustive(&unaware_fit, &ExhaustiveGrid::for_space(&unaware_fit.space))?;
        // The density-unaware reference is the cheaper of the two searches.
        let unaware = if unaware_ex.best.scalar < unaware_an.best.scalar { unaware_ex } else { unaware_an };
        let dense = weighted_error_dense(&f, &aware.best.pp, &DensitySpec::standard_normal(), 2_000_000);
        println!(
            "| {} | {} | {} | {:.4e} | {:.4e} | {} | {} | {:.1} % |",
            f.name(),
            aware.best.cost.bytes_per_party,
            shape(&aware),
            aware.best.error,
            dense,
            unaware.best.cost.bytes_per_party,
            shape(&unaware),
            100.0 * aware.best.cost.bytes_per_party.get() as f64 / unaware.best.cost.bytes_per_party.get() as f64
        );
    }

    println!("\n## Annealing vs exhaustive (N(0,1), weighted error ≤ τ)\n");
    println!("| fn | τ | annealing bytes | annealing structure | exhaustive bytes | exhaustive structure | ratio | anneal s | exhaustive s |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for f in fns {
        for tol in [1e-2, 1e-3, 1e-4] {
            let c = Criterion::weighted(DensitySpec::standard_normal(), tol, None)?;
            let fit = Fitter::new(&f, &c, &model);
            let t0 = Instant::now();
            let an = anneal(&fit, &cfg)?;
            let t1 = Instant::now();
            let ex = exhaustive(&fit, &ExhaustiveGrid::for_space(&fit.space))?;
            let t2 = Instant::now();
            println!(
                "| {} | {tol:e} | {} | {} | {} | {} | {:.3} | {:.2} | {:.2} |",
                f.name(),
                an.best.cost.bytes_per_party,
                shape(&an),
                ex.best.cost.bytes_per_party,
                shape(&ex),
                an.best.scalar / ex.best.scalar,
                (t1 - t0).as_secs_f64(),
                (t2 - t1).as_secs_f64()
            );
        }
    }
    Ok(())
}
