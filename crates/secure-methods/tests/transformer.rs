//! Row softmax and LayerNorm normalisation (`secure_methods::transformer`), for each recipe: the secure session
//! equals the plaintext fixed-point reference up to the truncation errors, meters exactly what the cost evaluator
//! predicts, and the fixed-point result follows the f64 function within the documented bounds; padding columns are
//! exact zeros; bad shapes are errors.
#![allow(missing_docs, clippy::unwrap_used)]

use activation_approx::{DensitySpec, Empirical, FixedPoint, Truncation};
use mpc_sim::{CostEvaluator, Evaluator, Party, PlainEvaluator, Session, SessionConfig};
use secure_methods::transformer::{
    self, InvSqrtInit, LayerNormRecipe, SoftmaxRecipe, layer_norm_rows, softmax_rows,
};

/// SplitMix64: seeded, explicit randomness.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-300), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

fn fx() -> FixedPoint {
    FixedPoint::default()
}

fn logits(rows: usize, cols: usize, sd: f64, seed: u64) -> Vec<f64> {
    let mut r = Rng(seed);
    (0..rows * cols).map(|_| sd * r.normal()).collect()
}

/// f64 softmax of each row over the real columns (0 on padding).
fn softmax_f64(xs: &[f64], cols: usize, mask: Option<&[bool]>) -> Vec<f64> {
    let real = |j: usize| mask.is_none_or(|m| !m[j]);
    xs.chunks(cols)
        .flat_map(|row| {
            let m = row.iter().enumerate().filter(|(j, _)| real(*j)).map(|(_, &v)| v).fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = row.iter().enumerate().map(|(j, &v)| if real(j) { (v - m).exp() } else { 0.0 }).collect();
            let s: f64 = e.iter().sum();
            e.into_iter().map(move |v| v / s)
        })
        .collect()
}

/// f64 (x − μ)/√(σ² + ε) per row.
fn layer_norm_f64(xs: &[f64], cols: usize, eps: f64) -> Vec<f64> {
    xs.chunks(cols)
        .flat_map(|row| {
            let mu = row.iter().sum::<f64>() / cols as f64;
            let var = row.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / cols as f64;
            let r = 1.0 / (var + eps).sqrt();
            row.iter().map(move |v| (v - mu) * r)
        })
        .collect()
}

/// Which layer.
#[derive(Clone)]
enum Layer {
    Softmax(SoftmaxRecipe, Option<Vec<bool>>),
    LayerNorm(LayerNormRecipe, f64),
}

fn run<E: Evaluator>(ev: &mut E, x: &E::Value, cols: usize, l: &Layer) -> mpc_sim::Result<E::Value> {
    match l {
        Layer::Softmax(r, mask) => softmax_rows(ev, x, cols, mask.as_deref(), r),
        Layer::LayerNorm(r, eps) => layer_norm_rows(ev, x, cols, *eps, r),
    }
}

fn plain(xs: &[f64], cols: usize, l: &Layer) -> Vec<f64> {
    let mut p = PlainEvaluator::new(fx());
    let x = p.input(Party::P0, xs, &[xs.len() / cols, cols]).unwrap();
    let y = run(&mut p, &x, cols, l).unwrap();
    p.reveal(&y).unwrap()
}

/// Secure vs plain (max |diff| in LSB), metered vs predicted.
fn three_ways(xs: &[f64], cols: usize, l: &Layer, t: Truncation, seed: u64) -> u64 {
    let shape = [xs.len() / cols, cols];
    let mut p = PlainEvaluator::new(fx());
    let px = p.input(Party::P0, xs, &shape).unwrap();
    let py = run(&mut p, &px, cols, l).unwrap();
    let plain_out = p.reveal_raw(&py).unwrap();
    let mut s = Session::new(SessionConfig { fx: fx(), seed, truncation: t });
    let sx = s.input(Party::P0, xs, &shape).unwrap();
    s.reset_meter();
    let sy = run(&mut s, &sx, cols, l).unwrap();
    let metered = s.total().cost();
    let secure_out = s.reveal_raw(&sy).unwrap();
    let mut c = CostEvaluator::new(fx(), t);
    let cx = c.input(Party::P0, xs, &shape).unwrap();
    c.reset_meter();
    run(&mut c, &cx, cols, l).unwrap();
    assert_eq!(metered, c.total().cost(), "metered vs CostEvaluator ({t:?})");
    assert_eq!(secure_out.len(), plain_out.len());
    secure_out.iter().zip(&plain_out).map(|(a, b)| a.wrapping_sub(*b).unsigned_abs()).max().unwrap_or(0)
}

fn recipes() -> Vec<(&'static str, Layer, u64)> {
    // Tolerances (LSB; measured maxima 118, 117, 28, 95, 87): every truncation errs by ±1 LSB; the exp's n squarings
    // amplify an error of its input by up to 2^n (n = 8: 256, n = 5: 32), twice that with the reciprocal's share; a
    // ladder bit may flip when the secure value sits within a few LSB of 2^j, which changes the normalisation but not
    // the result beyond the iteration's error (≤ 5e-5 relative). LayerNorm's output c·r multiplies the few-LSB error
    // of r by |c| (up to ≈ 25 for the variance-50 rows).
    vec![
        ("softmax/crypten", Layer::Softmax(SoftmaxRecipe::crypten(), None), 512),
        ("softmax/puma", Layer::Softmax(SoftmaxRecipe::puma(), None), 512),
        ("softmax/puma-fast", Layer::Softmax(SoftmaxRecipe::puma_fast(), None), 64),
        ("layernorm/crypten", Layer::LayerNorm(LayerNormRecipe::crypten(), 1e-5), 256),
        ("layernorm/ladder", Layer::LayerNorm(LayerNormRecipe::default(), 1e-5), 256),
    ]
}

#[test]
fn secure_equals_plain_and_metered_equals_predicted() {
    for (name, l, tol) in recipes() {
        for (cols, seed) in [(17, 1u64), (64, 2)] {
            let xs = match l {
                Layer::Softmax(..) => logits(60, cols, 3.0, seed),
                // rows with variances from 0.5 to 50 (both initial guesses valid)
                Layer::LayerNorm(..) => {
                    let mut r = Rng(seed);
                    (0..60).flat_map(|i| {
                        let sd = (0.5f64 + 49.5 * i as f64 / 59.0).sqrt();
                        let mu = r.normal();
                        (0..cols).map(|_| mu + sd * r.normal()).collect::<Vec<_>>()
                    })
                    .collect()
                }
            };
            for t in [Truncation::Local, Truncation::DealerPair] {
                let d = three_ways(&xs, cols, &l, t, 7 + seed);
                println!("{name} cols {cols} {t:?}: secure − plain ≤ {d} LSB");
                assert!(d <= tol, "{name} cols {cols} {t:?}: secure differs from plain by {d} LSB > {tol}");
            }
        }
    }
}

#[test]
fn softmax_error_vs_f64_within_the_documented_bound() {
    let rows = 10_000;
    for r in [SoftmaxRecipe::crypten(), SoftmaxRecipe::puma(), SoftmaxRecipe::puma_fast()] {
        let bound = r.error_bound().unwrap();
        for cols in [17, 64, 128] {
            let xs = logits(rows, cols, 3.0, 100 + cols as u64);
            let got = plain(&xs, cols, &Layer::Softmax(r.clone(), None));
            let want = softmax_f64(&xs, cols, None);
            let err = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            println!("softmax/{} cols {cols}: max abs error {err:.3e} (bound {bound:.1e})", r.name());
            assert!(err <= bound, "softmax/{} cols {cols}: max abs error {err} > {bound}", r.name());
            // rows still sum to ≈ 1
            for row in got.chunks(cols).take(100) {
                let s: f64 = row.iter().sum();
                assert!((s - 1.0).abs() < cols as f64 * bound, "row sum {s}");
            }
        }
    }
    // CrypTen's exp without clipping is wrong for spreads beyond 2^(n+1) = 512: the documented range is needed
    let xs = [0.0, -600.0];
    let got = plain(&xs, 2, &Layer::Softmax(SoftmaxRecipe::crypten(), None));
    assert!((got[0] - 1.0).abs() > 0.1 || got[1].abs() > 0.1, "CrypTen's exp at −600 came out right after all: {got:?}");
    let got = plain(&xs, 2, &Layer::Softmax(SoftmaxRecipe::puma(), None));
    assert!(got[1] == 0.0 && (got[0] - 1.0).abs() < 1e-4, "PUMA clips below −14: {got:?}");
}

#[test]
fn padding_columns_get_exactly_zero() {
    let cols = 20;
    let mask: Vec<bool> = (0..cols).map(|j| j >= 17 || j == 3).collect();
    let xs = logits(50, cols, 3.0, 5);
    for r in [SoftmaxRecipe::crypten(), SoftmaxRecipe::puma(), SoftmaxRecipe::puma_fast()] {
        let l = Layer::Softmax(r.clone(), Some(mask.clone()));
        let got = plain(&xs, cols, &l);
        let want = softmax_f64(&xs, cols, Some(&mask));
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            if mask[i % cols] {
                assert_eq!(*g, 0.0, "{} padding column {} of row {}", r.name(), i % cols, i / cols);
            } else {
                assert!((g - w).abs() <= r.error_bound().unwrap(), "{}: {g} vs {w}", r.name());
            }
        }
        // huge logits on padding columns change nothing
        let mut ys = xs.clone();
        for (i, y) in ys.iter_mut().enumerate() {
            if mask[i % cols] {
                *y = 1000.0;
            }
        }
        assert_eq!(plain(&ys, cols, &l), got, "{}: padding logits leaked into the result", r.name());
        let d = three_ways(&xs, cols, &l, Truncation::DealerPair, 3);
        assert!(d <= 512, "{}: {d}", r.name());
    }
}

#[test]
fn inv_sqrt_relative_error_within_1e3_on_the_valid_range() {
    for r in [LayerNormRecipe::crypten(), LayerNormRecipe::default()] {
        let (lo, hi) = r.valid_range();
        let n = 4000;
        let vs: Vec<f64> = (0..n).map(|i| lo * (hi / lo).powf(i as f64 / (n - 1) as f64)).collect();
        let mut p = PlainEvaluator::new(fx());
        let v = p.input(Party::P0, &vs, &[n]).unwrap();
        let y = transformer::inv_sqrt(&mut p, &v, &r).unwrap();
        let got = p.reveal(&y).unwrap();
        let worst = vs.iter().zip(&got).map(|(v, g)| (g * v.sqrt() - 1.0).abs()).fold(0.0, f64::max);
        println!("inv_sqrt/{} on [{lo}, {hi}]: max relative error {worst:.3e}", r.name());
        let bound = r.max_relative_error().unwrap();
        assert!(worst <= bound, "inv_sqrt/{}: relative error {worst} > {bound} on [{lo}, {hi}]", r.name());
    }
    // and CrypTen's guess does not reach 1e-3 at the low end of transformer variances: the range is honest
    let mut p = PlainEvaluator::new(fx());
    let v = p.input(Party::P0, &[0.01], &[1]).unwrap();
    let y = transformer::inv_sqrt(&mut p, &v, &LayerNormRecipe::crypten()).unwrap();
    let g = p.reveal(&y).unwrap()[0];
    assert!((g * 0.1 - 1.0).abs() > 1e-2, "CrypTen's 3 iterations converge at v = 0.01 after all: {g}");
}

#[test]
fn layer_norm_error_vs_f64() {
    let (rows, cols, eps) = (10_000, 64, 1e-5);
    let mut rng = Rng(9);
    // variances log-uniform over [1e-2, 1e2], means N(0, 1)
    let xs: Vec<f64> = (0..rows)
        .flat_map(|_| {
            let sd = 10f64.powf(-1.0 + 2.0 * rng.uniform());
            let mu = rng.normal();
            (0..cols).map(|_| mu + sd * rng.normal()).collect::<Vec<_>>()
        })
        .collect();
    let want = layer_norm_f64(&xs, cols, eps);
    let got = plain(&xs, cols, &Layer::LayerNorm(LayerNormRecipe::default(), eps));
    let err = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    let rel = got.iter().zip(&want).map(|(a, b)| (a - b).abs() / b.abs().max(1.0)).fold(0.0, f64::max);
    println!("layernorm/ladder width {cols}: max abs error {err:.3e}, max error relative to max(|y|, 1) {rel:.3e}");
    assert!(err <= transformer::LAYER_NORM_ERROR_BOUND, "layer norm max abs error {err}");
}

#[test]
fn bad_shapes_are_errors() {
    let mut p = PlainEvaluator::new(fx());
    let x = p.input(Party::P0, &[0.5; 12], &[12]).unwrap();
    let sm = SoftmaxRecipe::default();
    let ln = LayerNormRecipe::default();
    for e in [
        softmax_rows(&mut p, &x, 0, None, &sm).unwrap_err(),
        softmax_rows(&mut p, &x, 5, None, &sm).unwrap_err(),
        softmax_rows(&mut p, &x, 4, Some(&[false, true]), &sm).unwrap_err(),
        softmax_rows(&mut p, &x, 4, Some(&[true; 4]), &sm).unwrap_err(),
        layer_norm_rows(&mut p, &x, 0, 1e-5, &ln).unwrap_err(),
        layer_norm_rows(&mut p, &x, 5, 1e-5, &ln).unwrap_err(),
        layer_norm_rows(&mut p, &x, 4, -1.0, &ln).unwrap_err(),
        layer_norm_rows(&mut p, &x, 4, 1e-5, &LayerNormRecipe { init: InvSqrtInit::PowerOfTwo { lo: 3, hi: 3 }, iters: 3 })
            .unwrap_err(),
        layer_norm_rows(&mut p, &x, 4, 1e-5, &LayerNormRecipe { iters: 0, ..LayerNormRecipe::default() }).unwrap_err(),
    ] {
        let msg = e.to_string();
        assert!(msg.starts_with("invalid "), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }
    // CrypTen's Newton reciprocal diverges for rows wider than 640
    let wide = p.input(Party::P0, &vec![0.0; 700], &[1, 700]).unwrap();
    let e = softmax_rows(&mut p, &wide, 700, None, &SoftmaxRecipe::crypten()).unwrap_err();
    assert!(e.to_string().contains("640"), "{e}");
    assert!(softmax_rows(&mut p, &wide, 700, None, &SoftmaxRecipe::puma()).is_ok());
    // a product (scale 2f) is not a valid input
    let sq = p.square_raw(&x).unwrap();
    assert!(softmax_rows(&mut p, &sq, 4, None, &sm).is_err());
    // an empty value
    let empty = p.input(Party::P0, &[], &[0]).unwrap();
    assert!(softmax_rows(&mut p, &empty, 4, None, &sm).is_err());
}

#[test]
fn single_column_and_odd_widths() {
    // cols = 1: probability exactly 1; odd widths exercise the tournament's carried column
    for r in [SoftmaxRecipe::crypten(), SoftmaxRecipe::puma(), SoftmaxRecipe::puma_fast()] {
        let got = plain(&[3.0, -2.0, 0.25], 1, &Layer::Softmax(r.clone(), None));
        for g in got {
            assert!((g - 1.0).abs() < 1e-3, "{}: {g}", r.name());
        }
        for cols in [2, 3, 5, 7, 9, 33] {
            let xs = logits(20, cols, 2.0, cols as u64);
            let got = plain(&xs, cols, &Layer::Softmax(r.clone(), None));
            let want = softmax_f64(&xs, cols, None);
            let err = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(err <= r.error_bound().unwrap(), "{} cols {cols}: {err}", r.name());
        }
    }
    // the maximum is exactly one of the inputs
    let xs = logits(30, 17, 5.0, 77);
    let mut p = PlainEvaluator::new(fx());
    let x = p.input(Party::P0, &xs, &[30, 17]).unwrap();
    let m = transformer::row_max(&mut p, &x, 17).unwrap();
    let got = p.reveal(&m).unwrap();
    let enc: Vec<f64> = xs.iter().map(|&v| fx().decode(fx().encode(v).unwrap())).collect();
    for (row, g) in enc.chunks(17).zip(got) {
        assert_eq!(g, row.iter().cloned().fold(f64::NEG_INFINITY, f64::max));
    }
}

/// x − max of rows of N(0, 3²) logits: the softmax exponential's input density.
fn shifted_logits(rows: usize, cols: usize, seed: u64) -> Vec<f64> {
    logits(rows, cols, 3.0, seed)
        .chunks(cols)
        .flat_map(|r| {
            let m = r.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            r.iter().map(move |v| v - m).collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn compact_exp_fitted_to_the_softmax_input_density() {
    let cols = 17;
    let density = DensitySpec::Empirical(Empirical::from_samples(&shifted_logits(2000, cols, 41), 64).unwrap());
    let pp = transformer::fit_exp(&density, 3e-4, Some(3e-3), 1, fx()).unwrap();
    let r = SoftmaxRecipe::compact(&pp, fx()).unwrap();
    assert_eq!(r.name(), "compact");
    println!("compact exp: {} pieces on [{:.3}, {:.3}], degrees {:?}", pp.segments().len(), pp.range().0, pp.range().1, pp.segments().iter().map(|s| s.effective_degree()).collect::<Vec<_>>());
    // held-out rows of the same distribution
    let xs = logits(10_000, cols, 3.0, 4242);
    let got = plain(&xs, cols, &Layer::Softmax(r.clone(), None));
    let want = softmax_f64(&xs, cols, None);
    let err = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    let mean = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).sum::<f64>() / got.len() as f64;
    println!("softmax/compact cols {cols}: max abs error {err:.3e}, mean {mean:.3e}");
    assert!(err <= transformer::SOFTMAX_ERROR_BOUND.compact, "softmax/compact: {err}");
    for t in [Truncation::Local, Truncation::DealerPair] {
        let d = three_ways(&xs[..60 * cols], cols, &Layer::Softmax(r.clone(), None), t, 5);
        println!("softmax/compact {t:?}: secure − plain ≤ {d} LSB");
        assert!(d <= 64, "softmax/compact {t:?}: {d} LSB");
    }
}

#[test]
fn exp_spline_drops_the_thresholds_above_zero_and_keeps_every_output_on_d_le_0() {
    use activation_approx::{PiecewisePoly, Polynomial, Tail};
    // 0 below −6, two pieces on [−6, −2) and [−2, 0.75), the constant 1 from 0.75 (never reached by d ≤ 0).
    let pp = PiecewisePoly::new(
        Tail::Zero,
        vec![-6.0, -2.0, 0.75],
        vec![Polynomial::new(vec![0.05, 0.01]), Polynomial::new(vec![1.0, 0.9, 0.3])],
        Tail::Constant { value: 1.0 },
    )
    .unwrap();
    let full = pp.encode(&fx()).unwrap();
    let cut = transformer::nonpositive_domain(full.clone());
    assert_eq!((full.thresholds.len(), cut.thresholds.len()), (3, 2));
    assert_eq!(cut.segments.len(), 3);
    let f = fx();
    for k in -(10 * (1i64 << 16))..=0 {
        if k % 97 == 0 || k > -300 {
            assert_eq!(cut.eval(k), full.eval(k), "d = {}", f.decode(k));
        }
    }
    // The compact recipe carries the cut spline: one comparison fewer per element in the softmax.
    match SoftmaxRecipe::compact(&pp, f).unwrap().exp {
        transformer::ExpRecipe::Piecewise(pw) => assert_eq!(pw, cut),
        other => panic!("expected a piecewise exp, got {other:?}"),
    }
    // A threshold at or below 0 stays.
    let at_zero = PiecewisePoly::new(Tail::Zero, vec![-6.0, 0.0], vec![Polynomial::new(vec![1.0, 0.5])], Tail::Constant { value: 1.0 }).unwrap();
    assert_eq!(transformer::nonpositive_domain(at_zero.encode(&f).unwrap()).thresholds.len(), 2);
}
