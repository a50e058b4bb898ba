use activation_approx::baselines::{nfgen, BuildContext, MethodRegistry};
use activation_approx::{ActivationRegistry, TwoPartyCostModel};
fn main() {
    let reg = ActivationRegistry::builtin();
    for af in ["silu", "gelu_tanh", "mish", "gelu"] {
        for range in [(-5.0, 5.0), (-20.0, 20.0)] {
            let cfg = nfgen::NfgenConfig { range, ..Default::default() };
            let t = std::time::Instant::now();
            let fit = nfgen::fit(reg.get(af).unwrap().as_ref(), &cfg).unwrap();
            println!("{af} {range:?} {:?}", t.elapsed());
            for c in &fit.candidates { println!("  k={} m={} rep3={:.4} bytes={} err={:.2e}", c.k, c.m, c.rep3_seconds, c.bytes_sorted, c.max_fit_error); }
            println!("  pick rep3 k={} ours k={}", fit.candidates[fit.pick_rep3].k, fit.candidates[fit.pick_ours].k);
        }
    }
    let mr = MethodRegistry::builtin();
    for af in ["gelu", "silu", "mish"] {
        let ctx = BuildContext::new(af).unwrap();
        for name in mr.names_for(af) {
            let m = mr.build(name, &ctx).unwrap();
            let xs: Vec<f64> = (-800..=800).map(|i| i as f64 / 100.0).collect();
            let fxv = m.eval_fixed(&xs).unwrap();
            let f = reg.get(af).unwrap();
            let maxe = xs.iter().zip(&fxv).map(|(x, y)| (f.eval(*x) - y).abs()).fold(0.0, f64::max);
            let maxe64 = xs.iter().map(|x| (f.eval(*x) - m.eval_f64(*x)).abs()).fold(0.0, f64::max);
            println!("{af} {name}: {:?} maxerr fixed {maxe:.3e} f64 {maxe64:.3e} {:?}", m.cost(&TwoPartyCostModel::default()), m.info().pieces);
        }
    }
}
