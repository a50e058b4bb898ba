//! Property tests (proptest) of the fitting and the fixed-point emulation.

use activation_approx::chebyshev::{ChebSeries, DEFAULT_CONDITION_LIMIT, FitMethod, lobatto_nodes};
use activation_approx::metrics::{fixed_point_error_bound, max_abs_error, weighted_error};
use activation_approx::{Activation, Builtin, Criterion, DensitySpec, Fitter, FixedPoint, Structure, TwoPartyCostModel};
use proptest::prelude::*;

/// The smooth built-ins (ReLU, ELU, SELU have a kink at 0, where interpolation error is not monotone in m or d).
const SMOOTH: [Builtin; 7] =
    [Builtin::Silu, Builtin::Gelu, Builtin::GeluTanh, Builtin::Mish, Builtin::Sigmoid, Builtin::Tanh, Builtin::Softplus];

fn smooth() -> impl Strategy<Value = Builtin> {
    (0..SMOOTH.len()).prop_map(|i| SMOOTH[i])
}

fn max_error_of(f: Builtin, a: f64, b: f64, m: usize, d: usize) -> f64 {
    let crit = Criterion::max_error(a, b, 1.0).expect("valid criterion");
    let model = TwoPartyCostModel::default();
    let mut fit = Fitter::new(&f, &crit, &model);
    fit.method = FitMethod::Interpolate;
    fit.condition_limit = f64::INFINITY;
    let pp = fit.build(&Structure::uniform(a, b, m, d)).expect("fit");
    max_abs_error(&f, &pp, a, b)
}

/// Upper bound on the Lebesgue constant of Chebyshev–Lobatto interpolation of degree d.
fn lebesgue(d: usize) -> f64 {
    2.0 / std::f64::consts::PI * ((d + 1) as f64).ln() + 1.0
}

fn weighted_l1_error_of(f: Builtin, a: f64, b: f64, m: usize, d: usize) -> f64 {
    let crit = Criterion::weighted(DensitySpec::standard_normal(), 1.0, None).expect("valid criterion");
    let model = TwoPartyCostModel::default();
    let mut fit = Fitter::new(&f, &crit, &model);
    fit.condition_limit = f64::INFINITY;
    let pp = fit.build_with(&Structure::uniform(a, b, m, d), FitMethod::WeightedL1).expect("fit");
    weighted_error(&f, &pp, &DensitySpec::standard_normal())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Interpolation reproduces f at its Chebyshev–Lobatto nodes, in the Chebyshev form and in the monomial form.
    #[test]
    fn interpolation_is_exact_at_nodes(f in smooth(), a in -8.0f64..6.0, w in 0.1f64..4.0, d in 1usize..=10) {
        let b = a + w;
        let s = ChebSeries::interpolate(&|x| f.eval(x), a, b, d).expect("interpolate");
        let m = s.to_monomial(DEFAULT_CONDITION_LIMIT);
        for x in lobatto_nodes(a, b, d) {
            let y = f.eval(x);
            prop_assert!((s.eval(x) - y).abs() <= 1e-12 * (1.0 + y.abs()), "cheb at {x}: {} vs {y}", s.eval(x));
            if let Ok(p) = &m {
                // The monomial form loses about log10(κ) digits; κ ≤ 1e8 by the check.
                prop_assert!((p.eval(x) - y).abs() <= 1e-7 * (1.0 + y.abs()), "monomial at {x}: {} vs {y}", p.eval(x));
            }
        }
    }

    /// On the same range, splitting every piece in two (same degree) does not increase the error beyond what
    /// interpolation can lose against the best approximation. The best (minimax) error E* can only fall under
    /// refinement, and Chebyshev interpolation is within (1 + Λ_d) of E*, Λ_d ≤ (2/π)·ln(d + 1) + 1, so
    /// err(2m) ≤ (1 + Λ_d)·E*(2m) ≤ (1 + Λ_d)·E*(m) ≤ (1 + Λ_d)·err(m). (A strict err(2m) ≤ err(m) is not a theorem
    /// for interpolation: tanh on [−1.39, 5.45] with d = 2 goes from 0.241 to 0.271.)
    #[test]
    fn more_pieces_do_not_hurt(f in smooth(), a in -6.0f64..0.0, w in 1.0f64..8.0, m in 1usize..=4, d in 2usize..=6) {
        let b = a + w;
        let coarse = max_error_of(f, a, b, m, d);
        let fine = max_error_of(f, a, b, 2 * m, d);
        prop_assert!(fine <= (1.0 + lebesgue(d)) * coarse + 1e-13, "{f:?} [{a}, {b}] m={m} d={d}: {coarse} -> {fine}");
    }

    /// Same for the degree: raising it by two (nested polynomial spaces) gives
    /// err(d + 2) ≤ (1 + Λ_{d+2})·err(d).
    #[test]
    fn more_degree_does_not_hurt(f in smooth(), a in -6.0f64..0.0, w in 1.0f64..8.0, m in 1usize..=3, d in 1usize..=7) {
        let b = a + w;
        let low = max_error_of(f, a, b, m, d);
        let high = max_error_of(f, a, b, m, d + 2);
        prop_assert!(high <= (1.0 + lebesgue(d + 2)) * low + 1e-13, "{f:?} [{a}, {b}] m={m} d={d}: {low} -> {high}");
    }

    /// For the density-weighted L1 fit, which minimises each piece's share of E_ρ|f − p| (over nested spaces), the
    /// weighted error does not grow when the pieces are split or the degree is raised (up to the IRLS solver's
    /// inexactness, 1 %).
    #[test]
    fn weighted_l1_error_is_monotone(f in smooth(), a in -4.0f64..-0.5, w in 1.0f64..6.0, m in 1usize..=3, d in 1usize..=6) {
        let b = a + w;
        let coarse = weighted_l1_error_of(f, a, b, m, d);
        let fine = weighted_l1_error_of(f, a, b, 2 * m, d);
        let higher = weighted_l1_error_of(f, a, b, m, d + 1);
        prop_assert!(fine <= 1.01 * coarse + 1e-12, "{f:?} [{a}, {b}] m={m} d={d}: {coarse} -> {fine} (pieces)");
        prop_assert!(higher <= 1.01 * coarse + 1e-12, "{f:?} [{a}, {b}] m={m} d={d}: {coarse} -> {higher} (degree)");
    }

    /// The reference fixed-point evaluation stays within `fixed_point_error_bound` of the f64 value of the selected
    /// segment at the decoded input, whenever the overflow check passes.
    #[test]
    fn fixed_point_within_bound(
        f in smooth(), a in -8.0f64..-0.5, b in 0.5f64..8.0, m in 1usize..=4, d in 1usize..=8,
        frac in 12u32..=24, xs in proptest::collection::vec(-10.0f64..10.0, 32),
    ) {
        let crit = Criterion::weighted(DensitySpec::standard_normal(), 1.0, None).expect("criterion");
        let model = TwoPartyCostModel::default();
        let mut fit = Fitter::new(&f, &crit, &model);
        fit.method = FitMethod::Interpolate;
        let fx = FixedPoint::new(frac).expect("frac bits");
        let pp = fit.build(&Structure::uniform(a, b, m, d));
        prop_assume!(pp.is_ok());
        let pp = pp.expect("checked");
        prop_assume!(pp.check_fixed_point(&fx, 10.0).is_ok());
        let enc = pp.encode(&fx).expect("encode");
        let segments = pp.segments();
        for x in xs {
            let xe = fx.encode(x).expect("encode x");
            let (s, bound) = fixed_point_error_bound(&pp, &fx, xe);
            let got = fx.decode(enc.eval(xe));
            let want = segments[s].eval(fx.decode(xe));
            prop_assert!((got - want).abs() <= bound, "x={x}: fixed {got} vs f64 {want}, bound {bound}");
        }
    }
}
