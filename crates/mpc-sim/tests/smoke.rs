use mpc_sim::{Evaluator, PlainEvaluator, Session, SessionConfig, Truncation};

#[test]
fn smoke() {
    for t in [Truncation::Local, Truncation::DealerPair] {
        let mut s = Session::new(SessionConfig { truncation: t, ..Default::default() });
        let xs = [-3.5, -1.0, 0.0, 0.25, 7.0, -1e-5, 1000.0];
        let x = s.input(&xs, &[7]).unwrap();
        let y = s.mul(&x, &x).unwrap();
        let l = s.ltz(&x).unwrap();
        let r = s.reveal(&y).unwrap();
        let lb = s.reveal_raw(&l).unwrap();
        for (a, b) in xs.iter().zip(&r) {
            assert!((a * a - b).abs() < 1e-3 * (1.0 + a * a), "{a} {b}");
        }
        assert_eq!(lb, xs.iter().map(|&v| i64::from(v < 0.0 && (v * 65536.0f64).round() != 0.0)).collect::<Vec<_>>());
        let mut p = PlainEvaluator::new(Default::default());
        let _ = p.input(&xs, &[7]).unwrap();
        eprintln!("{:?} {:?}", t, s.total());
    }
}
