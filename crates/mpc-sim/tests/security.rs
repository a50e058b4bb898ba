//! Statistical security checks: shares are uniform, and a party's view does not depend on the secret.
#![allow(missing_docs, clippy::unwrap_used)]

use activation_approx::{FixedPoint, Truncation};
use mpc_sim::{Evaluator, Party, Session, SessionConfig, recipes};

/// Chi-square critical value for `dof` degrees of freedom at p ≈ 1e-6 (Wilson–Hilferty, z = 4.75).
fn critical(dof: f64) -> f64 {
    let z = 4.75;
    dof * (1.0 - 2.0 / (9.0 * dof) + z * (2.0 / (9.0 * dof)).sqrt()).powi(3)
}

fn chi_square_uniform(values: &[u64], bins: usize) -> f64 {
    let mut h = vec![0f64; bins];
    values.iter().for_each(|&v| h[v as usize] += 1.0);
    let e = values.len() as f64 / bins as f64;
    h.iter().map(|o| (o - e).powi(2) / e).sum()
}

/// Two-sample chi-square homogeneity statistic and its degrees of freedom (empty cells dropped).
fn chi_square_two_sample(a: &[u64], b: &[u64], bins: usize) -> (f64, f64) {
    let (mut ha, mut hb) = (vec![0f64; bins], vec![0f64; bins]);
    a.iter().for_each(|&v| ha[v as usize] += 1.0);
    b.iter().for_each(|&v| hb[v as usize] += 1.0);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let mut stat = 0.0;
    let mut cells = 0.0;
    for (oa, ob) in ha.iter().zip(&hb) {
        let tot = oa + ob;
        if tot == 0.0 {
            continue;
        }
        cells += 1.0;
        let ea = tot * na / (na + nb);
        let eb = tot * nb / (na + nb);
        stat += (oa - ea).powi(2) / ea + (ob - eb).powi(2) / eb;
    }
    (stat, (cells - 1.0f64).max(1.0))
}

#[test]
fn shares_of_a_fixed_secret_are_uniform() {
    let n = 1 << 16;
    let mut s = Session::new(SessionConfig::default());
    let x = s.input(&vec![1.5; n], &[n]).unwrap();
    for p in [Party::P0, Party::P1] {
        let top: Vec<u64> = x.shares().corrupt(p).iter().map(|v| v >> 60).collect();
        let stat = chi_square_uniform(&top, 16);
        assert!(stat < critical(15.0), "{p:?}: chi-square {stat:.1} on the top 4 bits");
        let low: Vec<u64> = x.shares().corrupt(p).iter().map(|v| v & 15).collect();
        assert!(chi_square_uniform(&low, 16) < critical(15.0));
        eprintln!("share of {p:?}: chi-square (15 dof) on top 4 bits = {stat:.1} (critical {:.1})", critical(15.0));
    }
    // A Beaver product's output shares too (after a local truncation they are not: each party shifts its own
    // share, so the top bits become sign extension — a function of that party's own view only).
    let y = s.mul_raw(&x, &x).unwrap();
    let top: Vec<u64> = y.shares().corrupt(Party::P0).iter().map(|v| v >> 60).collect();
    assert!(chi_square_uniform(&top, 16) < critical(15.0));
}

/// Party 0's view (its input share and every received message) for n copies of `secret`, as one sample per
/// (message slot, word); `f` runs the protocol.
fn view(secret: f64, seed: u64, t: Truncation, f: &dyn Fn(&mut Session, &mpc_sim::Shared)) -> Vec<Vec<u64>> {
    let n = 20_000;
    let mut s = Session::new(SessionConfig { fx: FixedPoint::default(), truncation: t, seed });
    let x = s.input(&vec![secret; n], &[n]).unwrap();
    s.channel_mut().record_view_of_p0();
    f(&mut s, &x);
    let mut v = vec![x.shares().corrupt(Party::P0).clone()];
    v.extend(s.channel().view_of_p0().iter().cloned());
    v
}

fn assert_same_view(name: &str, t: Truncation, f: &dyn Fn(&mut Session, &mpc_sim::Shared)) {
    let a = view(-2.5, 1, t, f);
    let b = view(3.75, 2, t, f);
    assert_eq!(a.len(), b.len());
    let mut worst: f64 = 0.0;
    for (slot, (ma, mb)) in a.iter().zip(&b).enumerate() {
        for (bits, shift) in [("low", 0u32), ("high", 60)] {
            let ha: Vec<u64> = ma.iter().map(|w| (w >> shift) & 15).collect();
            let hb: Vec<u64> = mb.iter().map(|w| (w >> shift) & 15).collect();
            let (stat, dof) = chi_square_two_sample(&ha, &hb, 16);
            worst = worst.max(stat / critical(dof));
            assert!(stat < critical(dof), "{name} {t:?}: message {slot}, {bits} bits: chi-square {stat:.1} ≥ {:.1}", critical(dof));
        }
    }
    eprintln!("{name} {t:?}: {} view slots, largest chi-square / critical = {worst:.2}", a.len());
}

#[test]
fn a_partys_view_does_not_depend_on_the_secret() {
    for t in [Truncation::Local, Truncation::DealerPair] {
        assert_same_view("mul", t, &|s, x| {
            s.mul(x, x).unwrap();
        });
        assert_same_view("ltz", t, &|s, x| {
            s.ltz(x).unwrap();
        });
        assert_same_view("truncate", t, &|s, x| {
            let p = s.mul_public_raw(x, 0.7).unwrap();
            s.truncate(&p).unwrap();
        });
        let pw = activation_approx::PiecewisePoly::new(
            activation_approx::Tail::Zero,
            vec![-4.0, 0.0, 4.0],
            vec![activation_approx::Polynomial::new(vec![0.1, 0.2, 0.05, 0.01]); 2],
            activation_approx::Tail::Identity,
        )
        .unwrap()
        .encode(&FixedPoint::default())
        .unwrap();
        assert_same_view("piecewise", t, &|s, x| {
            recipes::piecewise(s, x, &pw).unwrap();
        });
    }
}
