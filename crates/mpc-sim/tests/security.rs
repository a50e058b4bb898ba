//! Statistical security tests: each party's WHOLE view is distributed independently of the other party's secret,
//! per protocol, and the same test flags deliberately leaky variants.
//!
//! # What a view is
//! Party b's view of a run is everything b obtains, in order (recorded by the channel's test hook,
//! [`mpc_sim::Channel::record_views`]): its own input shares, its half of every piece of dealer material, and every
//! message it receives — here including its share of the secret, which the other party owns and sends it.
//!
//! # The test (two-secret distinguishing test on joint statistics of the view)
//! Run the protocol N times with secret s_A and N times with secret s_B (same public inputs, independent
//! randomness) and collect, per run, the view as a vector of L words. A protocol is secure against b when the two
//! samples come from one distribution. A leak makes some function of the view depend on the secret; the test looks
//! for it in every *probe* of the view: every single word v_i and every pairwise combination v_i + v_j, v_i − v_j
//! and v_i ⊕ v_j (the relations a linear leak creates: e.g. own share + a received share of the other party = the
//! secret). For each probe, three 4-bit features — the low 4 bits, the top 4 bits, and the top 4 bits of the word
//! times an odd constant (a hash of all 64 bits) — each give a 16-cell two-sample chi-square homogeneity test.
//! s_A and s_B differ in all three features, so a probe that equals the secret (or a 4-bit slice of it) moves all
//! N runs to another cell and gives a statistic of order 2N.
//!
//! # Significance
//! With T tests per protocol and party, each is run at level α/T (Bonferroni) with α = 10^−6: the probability
//! that a secure protocol is flagged by chance is at most ≈ 10^−6 per (protocol, party) test, about 4·10^−5 over
//! this file (the chi-square approximation of each cell count, ≥ 100 expected per cell, and the Wilson–Hilferty
//! quantile are the approximations). The secure protocols' views are exactly identically distributed for both
//! secrets, so that is the whole false-positive probability.
//!
//! # Coverage
//! The test finds any leak in which the secret's low bits, top bits or value is a function of at most two view
//! words under +, −, ⊕ — every leak below, and any protocol that sends a share, or a share masked with material
//! the receiver holds. It does not search relations of three or more words.
#![allow(missing_docs, clippy::unwrap_used)]

use activation_approx::{FixedPoint, PiecewisePoly, Polynomial, Tail, Truncation};
use mpc_sim::{Evaluator, Pair, Party, Session, SessionConfig, Shared, ViewKind};
use rayon::prelude::*;

/// Runs (or elements) per secret.
const N: usize = 1000;
/// Total false-positive probability of one (protocol, party) test.
const ALPHA: f64 = 1e-6;
/// The multiplier of the hash feature.
const HASH: u64 = 0x9E37_79B9_7F4A_7C15;

fn other(b: Party) -> Party {
    if b == Party::P0 { Party::P1 } else { Party::P0 }
}

/// Upper-tail normal quantile z with Q(z) = p (p ≤ 10^−3), from the asymptotic series
/// Q(z) = φ(z)/z · (1 − 1/z² + 3/z⁴ − …), solved by bisection.
fn z_upper(p: f64) -> f64 {
    let q = |z: f64| (-z * z / 2.0).exp() / (z * (2.0 * std::f64::consts::PI).sqrt()) * (1.0 - 1.0 / (z * z) + 3.0 / z.powi(4));
    let (mut lo, mut hi) = (3.0, 40.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if q(mid) > p { lo = mid } else { hi = mid }
    }
    0.5 * (lo + hi)
}

/// Chi-square upper quantile for `dof` degrees of freedom at normal quantile z (Wilson–Hilferty).
fn chi2_quantile(dof: f64, z: f64) -> f64 {
    dof * (1.0 - 2.0 / (9.0 * dof) + z * (2.0 / (9.0 * dof)).sqrt()).powi(3)
}

/// Two-sample chi-square homogeneity statistic of two 16-cell histograms and its degrees of freedom (empty cells
/// dropped).
fn chi2_two_sample(ha: &[u32; 16], hb: &[u32; 16]) -> (f64, f64) {
    let (na, nb) = (ha.iter().sum::<u32>() as f64, hb.iter().sum::<u32>() as f64);
    let (mut stat, mut cells) = (0.0, 0.0);
    for (&oa, &ob) in ha.iter().zip(hb) {
        let tot = (oa + ob) as f64;
        if tot == 0.0 {
            continue;
        }
        cells += 1.0;
        let (ea, eb) = (tot * na / (na + nb), tot * nb / (na + nb));
        stat += (oa as f64 - ea).powi(2) / ea + (ob as f64 - eb).powi(2) / eb;
    }
    (stat, (cells - 1.0f64).max(1.0))
}

fn features(v: u64) -> [usize; 3] {
    [(v & 15) as usize, (v >> 60) as usize, (v.wrapping_mul(HASH) >> 60) as usize]
}

/// The outcome of one distinguishing test.
#[derive(Debug)]
struct Verdict {
    /// Words per view.
    words: usize,
    /// Chi-square tests run.
    tests: usize,
    /// Largest statistic / its critical value over all tests, and the probe that gave it.
    worst: f64,
    probe: String,
}

impl Verdict {
    fn flagged(&self) -> bool {
        self.worst >= 1.0
    }
}

/// Histograms of the three features of one probe over a sample.
type Hist = [[u32; 16]; 3];

fn add_features(h: &mut Hist, v: u64) {
    for (k, f) in features(v).into_iter().enumerate() {
        h[k][f] += 1;
    }
}

/// The two-secret distinguishing test on samples of views (each a vector of the same length).
fn distinguish(a: &[Vec<u64>], b: &[Vec<u64>]) -> Verdict {
    let l = a[0].len();
    assert!(a.iter().chain(b).all(|v| v.len() == l), "views of different lengths");
    assert!(a.len() + b.len() >= 16 * 100, "too few runs for 100 expected per cell");
    // Column-major: column i holds word i of every run.
    let cols = |s: &[Vec<u64>]| -> Vec<Vec<u64>> { (0..l).map(|i| s.iter().map(|v| v[i]).collect()).collect() };
    let (ca, cb) = (cols(a), cols(b));
    // Probes: single words (op 0) and, per pair i < j, v_i + v_j (1), v_i − v_j (2), v_i ⊕ v_j (3).
    let tests = 3 * (l + 3 * l * (l - 1) / 2);
    let z = z_upper(ALPHA / tests as f64);
    // One pass per (i, j) (j = i: the single word) fills the histograms of all its probes.
    let pass = |c: &[Vec<u64>], i: usize, j: usize| -> [Hist; 4] {
        let mut h = [[[0u32; 16]; 3]; 4];
        let (x, y) = (&c[i], &c[j]);
        if i == j {
            x.iter().for_each(|&u| add_features(&mut h[0], u));
        } else {
            for (&u, &v) in x.iter().zip(y) {
                add_features(&mut h[1], u.wrapping_add(v));
                add_features(&mut h[2], u.wrapping_sub(v));
                add_features(&mut h[3], u ^ v);
            }
        }
        h
    };
    let pairs: Vec<(usize, usize)> = (0..l).flat_map(|i| (i..l).map(move |j| (i, j))).collect();
    let (worst, (i, j, op, k)) = pairs
        .par_iter()
        .map(|&(i, j)| {
            let (ha, hb) = (pass(&ca, i, j), pass(&cb, i, j));
            let mut worst = (0.0f64, (i, j, 0usize, 0usize));
            for op in if i == j { 0..1 } else { 1..4 } {
                for k in 0..3 {
                    let (stat, dof) = chi2_two_sample(&ha[op][k], &hb[op][k]);
                    let r = stat / chi2_quantile(dof, z);
                    if r > worst.0 {
                        worst = (r, (i, j, op, k));
                    }
                }
            }
            worst
        })
        .reduce(|| (0.0, (0, 0, 0, 0)), |x, y| if y.0 > x.0 { y } else { x });
    let ops = ["", "+", "−", "⊕"];
    let feat = ["low 4 bits", "top 4 bits", "hash"];
    let probe = if op == 0 { format!("word {i}, {}", feat[k]) } else { format!("word {i} {} word {j}, {}", ops[op], feat[k]) };
    Verdict { words: l, tests, worst, probe }
}

/// Per-element views of party `b` of an elementwise protocol run on N elements: item words are split into N
/// equal strides and element e's view is the concatenation of its strides, in order.
fn per_element(items: &[mpc_sim::ViewItem], n: usize) -> Vec<Vec<u64>> {
    let mut out = vec![Vec::new(); n];
    for it in items {
        assert_eq!(it.words.len() % n, 0, "a {:?} item of {} words is not elementwise", it.kind, it.words.len());
        let k = it.words.len() / n;
        for (e, v) in out.iter_mut().enumerate() {
            v.extend_from_slice(&it.words[e * k..(e + 1) * k]);
        }
    }
    out
}

/// An elementwise protocol: given the session and the shared secret vector (owned by the other party), runs.
type Elementwise<'a> = dyn Fn(&mut Session, &Shared) + Sync + 'a;

/// Party b's per-element views of `f` on N copies of the raw secret (owned by the other party).
fn elementwise_views(b: Party, secret: i64, seed: u64, t: Truncation, f: &Elementwise<'_>) -> Vec<Vec<u64>> {
    let fx = FixedPoint::default();
    let mut s = Session::new(SessionConfig { fx, truncation: t, seed });
    s.channel_mut().record_views();
    let x = s.input_raw(other(b), &vec![secret; N], &[N], fx.frac_bits).unwrap();
    f(&mut s, &x);
    per_element(s.channel().view(b), N)
}

/// Party b's views of N independent runs of `f` (one session each; for protocols whose views are not
/// elementwise, e.g. matrix products).
fn run_views(b: Party, secret: i64, seed: u64, t: Truncation, f: &(dyn Fn(&mut Session, i64) + Sync)) -> Vec<Vec<u64>> {
    (0..N as u64)
        .into_par_iter()
        .map(|r| {
            let mut s = Session::new(SessionConfig { fx: FixedPoint::default(), truncation: t, seed: seed * 1_000_003 + r });
            s.channel_mut().record_views();
            f(&mut s, secret);
            s.channel().view(b).iter().flat_map(|it| it.words.iter().copied()).collect()
        })
        .collect()
}

/// The two secrets: raw ring elements that differ in their low 4 bits, top 4 bits and hash feature.
fn secrets() -> (i64, i64) {
    let fx = FixedPoint::default();
    let (a, b) = (fx.encode(-2.5).unwrap() + 5, fx.encode(3.75).unwrap() + 10);
    let (fa, fb) = (features(a as u64), features(b as u64));
    assert!(fa.iter().zip(&fb).all(|(x, y)| x != y), "the secrets must differ in every feature: {fa:?} vs {fb:?}");
    (a, b)
}

fn verdict_elementwise(b: Party, t: Truncation, f: &Elementwise<'_>) -> Verdict {
    let (sa, sb) = secrets();
    distinguish(&elementwise_views(b, sa, 1, t, f), &elementwise_views(b, sb, 2, t, f))
}

fn assert_secure(name: &str, t: Truncation, f: &Elementwise<'_>) {
    for b in [Party::P0, Party::P1] {
        let v = verdict_elementwise(b, t, f);
        eprintln!("{name} {t:?}, view of {b:?}: {} words, {} tests, largest statistic / critical = {:.3} ({})", v.words, v.tests, v.worst, v.probe);
        assert!(!v.flagged(), "{name} {t:?}: the view of {b:?} depends on the other party's secret: {v:?}");
    }
}

fn assert_flagged(name: &str, f: &Elementwise<'_>) {
    let v = verdict_elementwise(Party::P0, Truncation::Local, f);
    eprintln!("{name} (leaky), view of P0: {} words, {} tests, largest statistic / critical = {:.1} ({})", v.words, v.tests, v.worst, v.probe);
    assert!(v.flagged(), "{name}: the leak was not flagged: {v:?}");
}

/// A second operand with the same public value in both experiments (shared by P0).
fn operand(s: &mut Session, x: &Shared, v: f64) -> Shared {
    s.input(Party::P0, &vec![v; x.len()], x.shape()).unwrap()
}

fn spline() -> activation_approx::EncodedPiecewise {
    PiecewisePoly::new(Tail::Zero, vec![-4.0, 0.0, 4.0], vec![Polynomial::new(vec![0.1, 0.2, 0.05, 0.01]); 2], Tail::Identity)
        .unwrap()
        .encode(&FixedPoint::default())
        .unwrap()
}

#[test]
fn shares_of_a_fixed_secret_are_uniform() {
    // Each share alone is uniform (its top 4 bits, 16 cells, chi-square at p ≈ 10^−6).
    let n = 1 << 16;
    let z = z_upper(1e-6);
    let mut s = Session::new(SessionConfig::default());
    let x = s.input(Party::P0, &vec![1.5; n], &[n]).unwrap();
    for p in [Party::P0, Party::P1] {
        let mut h = [0u32; 16];
        x.shares().corrupt(p).iter().for_each(|v| h[(v >> 60) as usize] += 1);
        let e = n as f64 / 16.0;
        let stat: f64 = h.iter().map(|&o| (o as f64 - e).powi(2) / e).sum();
        assert!(stat < chi2_quantile(15.0, z), "{p:?}: chi-square {stat:.1} on the top 4 bits");
    }
}

#[test]
fn elementwise_protocols_views_are_independent_of_the_secret() {
    let pw = spline();
    for t in [Truncation::Local, Truncation::DealerPair] {
        assert_secure("input sharing", t, &|_, _| {});
        assert_secure("Beaver product", t, &|s, x| {
            let y = operand(s, x, 1.25);
            s.mul(x, &y).unwrap();
        });
        assert_secure("square", t, &|s, x| {
            s.square(x).unwrap();
        });
        assert_secure("truncation", t, &|s, x| {
            let p = s.mul_public_raw(x, 0.7).unwrap();
            s.truncate(&p).unwrap();
        });
        assert_secure("LTZ", t, &|s, x| {
            s.ltz(x).unwrap();
        });
        assert_secure("select", t, &|s, x| {
            // The bit is secret (x < 0), the branches are secret too.
            let c = s.ltz(x).unwrap();
            let y = operand(s, x, 1.25);
            s.select(&c, x, &y).unwrap();
        });
        assert_secure("piecewise", t, &|s, x| {
            s.piecewise(x, &pw).unwrap();
        });
    }
}

#[test]
fn matrix_products_views_are_independent_of_the_secret() {
    let (sa, sb) = secrets();
    let fx = FixedPoint::default();
    for b in [Party::P0, Party::P1] {
        let o = other(b);
        // Matrix triple: X (2×2, secret, the other party's) · Y (2×2, public values, the other party's).
        let triple = |s: &mut Session, secret: i64| {
            let x = s.input_raw(o, &[secret; 4], &[2, 2], fx.frac_bits).unwrap();
            let y = s.input(o, &[0.5, -1.0, 2.0, 0.25], &[2, 2]).unwrap();
            s.matmul(&x, &y).unwrap();
        };
        // Fixed operand: the secret is the fixed W (set up once), then two products with fresh A, C = A·B.
        let fixed = |s: &mut Session, secret: i64| {
            let w = s.input_raw(o, &[secret; 4], &[2, 2], fx.frac_bits).unwrap();
            let wf = s.fix_right(&w).unwrap();
            let x = s.input(o, &[0.5, -1.0, 2.0, 0.25], &[2, 2]).unwrap();
            s.matmul_fixed(&x, &wf).unwrap();
            s.matmul_fixed(&x, &wf).unwrap();
        };
        for (name, f) in [("matrix triple product", &triple as &(dyn Fn(&mut Session, i64) + Sync)), ("fixed-operand product", &fixed)] {
            for t in [Truncation::Local, Truncation::DealerPair] {
                let v = distinguish(&run_views(b, sa, 1, t, f), &run_views(b, sb, 2, t, f));
                eprintln!("{name} {t:?}, view of {b:?}: {} words, {} tests, largest statistic / critical = {:.3} ({})", v.words, v.tests, v.worst, v.probe);
                assert!(!v.flagged(), "{name} {t:?}: the view of {b:?} depends on the other party's secret: {v:?}");
            }
        }
    }
}

/// P1 sends P0 its share of x, masked by `mask(x_1)` (identity: a plain "reveal to P0").
fn leak(s: &mut Session, x: &Shared, mask: impl Fn(usize, u64) -> u64) {
    let msg = Pair::build(|v| if v.party() == Party::P1 { v.own(x.shares()).iter().enumerate().map(|(i, &w)| mask(i, w)).collect() } else { Vec::new() });
    s.channel_mut().exchange(&msg);
}

#[test]
fn leaky_variants_are_flagged() {
    // A Beaver product that also reveals x to P0.
    assert_flagged("product + reveal to P0", &|s, x| {
        let y = operand(s, x, 1.25);
        s.mul(x, &y).unwrap();
        leak(s, x, |_, w| w);
    });
    // An LTZ after which P1 "masks" its share with a multiple of 16: P0 learns x mod 16 (4 low bits).
    assert_flagged("LTZ + low 4 bits to P0", &|s, x| {
        s.ltz(x).unwrap();
        leak(s, x, |i, w| w.wrapping_add((i as u64).wrapping_mul(HASH) << 4));
    });
    // A piecewise evaluation after which P1 sends its share plus noise below 2^16: P0 learns x up to the noise
    // (its sign and magnitude, not its low bits).
    let pw = spline();
    assert_flagged("piecewise + noisy x to P0", &|s, x| {
        s.piecewise(x, &pw).unwrap();
        leak(s, x, |i, w| w.wrapping_add((i as u64).wrapping_mul(HASH) >> 48));
    });
}

/// Compile-time check that `Session` is not `Clone` (a clone would replay its dealer stream): if it were, both
/// blanket impls would apply and `<Session as NotClone<_>>::OK` would be ambiguous.
trait NotClone<A> {
    fn ok() {}
}
impl<T> NotClone<()> for T {}
impl<T: Clone> NotClone<u8> for T {}
const _: fn() = || {
    let _ = <Session as NotClone<_>>::ok;
    let _ = <mpc_sim::Dealer as NotClone<_>>::ok;
};

#[test]
fn forks_never_reissue_dealer_material() {
    // Two forks (two batches) and the parent each do a Beaver product on the same values: all three triples differ.
    let fx = FixedPoint::default();
    let mut parent = Session::new(SessionConfig { fx, truncation: Truncation::Local, seed: 7 });
    let w = parent.input(Party::P1, &[0.5, -1.0, 2.0, 0.25], &[2, 2]).unwrap();
    let wf = parent.fix_right(&w).unwrap();
    let dealt = |s: &mut Session| -> (Vec<u64>, Vec<f64>) {
        s.channel_mut().record_views();
        let x = s.input(Party::P0, &[1.5, -2.0, 0.75, 3.0], &[2, 2]).unwrap();
        s.mul(&x, &x).unwrap();
        let y = s.matmul_fixed(&x, &wf).unwrap();
        let words = s.channel().view(Party::P0).iter().filter(|i| i.kind == ViewKind::Dealt).flat_map(|i| i.words.clone()).collect();
        (words, s.reveal(&y).unwrap())
    };
    let (mut a, mut b) = (parent.fork(), parent.fork());
    let (da, ya) = dealt(&mut a);
    let (db, yb) = dealt(&mut b);
    let (dp, yp) = dealt(&mut parent);
    assert!(!da.is_empty());
    for (i, (x, y)) in [(&da, &db), (&da, &dp), (&db, &dp)].into_iter().enumerate() {
        assert!(x.iter().zip(y.iter()).all(|(u, v)| u != v), "pair {i}: a dealer word was issued twice");
    }
    // The same fixed W (one mask B, opened once) gives the right product in every fork.
    let (xm, wm) = ([1.5, -2.0, 0.75, 3.0], [0.5, -1.0, 2.0, 0.25]);
    let want: Vec<f64> = (0..4).map(|e| (0..2).map(|k| xm[(e / 2) * 2 + k] * wm[k * 2 + e % 2]).sum()).collect();
    for y in [ya, yb, yp] {
        assert!(y.iter().zip(&want).all(|(g, w)| (g - w).abs() < 1e-3), "{y:?} vs {want:?}");
    }
}
