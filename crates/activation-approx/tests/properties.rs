//! Property tests (proptest) of the fitting and the fixed-point emulation.

use activation_approx::chebyshev::{ChebSeries, DEFAULT_CONDITION_LIMIT, FitMethod, lobatto_nodes};
use activation_approx::metrics::{fixed_point_error_bound, max_abs_error};
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

    /// On the same range, splitting every piece in two (same degree) does not increase the max error.
    #[test]
    fn more_pieces_do_not_hurt(f in smooth(), a in -6.0f64..0.0, w in 1.0f64..8.0, m in 1usize..=4, d in 2usize..=6) {
        let b = a + w;
        let coarse = max_error_of(f, a, b, m, d);
        let fine = max_error_of(f, a, b, 2 * m, d);
        prop_assert!(fine <= coarse * (1.0 + 1e-9) + 1e-13, "{f:?} [{a}, {b}] m={m} d={d}: {coarse} -> {fine}");
    }

    /// On the same pieces, raising the degree by two (same parity, so symmetric functions gain a useful term) does
    /// not increase the max error.
    #[test]
    fn more_degree_does_not_hurt(f in smooth(), a in -6.0f64..0.0, w in 1.0f64..8.0, m in 1usize..=3, d in 1usize..=7) {
        let b = a + w;
        let low = max_error_of(f, a, b, m, d);
        let high = max_error_of(f, a, b, m, d + 2);
        prop_assert!(high <= low * (1.0 + 1e-9) + 1e-13, "{f:?} [{a}, {b}] m={m} d={d}: {low} -> {high}");
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
