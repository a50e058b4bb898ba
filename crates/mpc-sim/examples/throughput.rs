//! Wall-clock and CPU-time throughput of the benchmarked protocols on 2^20 elements (dealer work included).
//! On a shared machine the wall figure depends on the load; CPU time (user + system, from /proc/self/stat) gives
//! the throughput the protocols would reach with the cores to themselves: elements / (CPU seconds / cores).
//! Run: `nice cargo run -p mpc-sim --release --example throughput`.

use std::time::Instant;

use activation_approx::{FixedPoint, PiecewisePoly, Polynomial, Tail};
use mpc_sim::{Evaluator, Party, Session, SessionConfig, Truncation, recipes};

const N: usize = 1 << 20;

type Run<'a> = (&'static str, Box<dyn Fn(&mut Session) -> mpc_sim::Result<()> + 'a>);

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = after.split_whitespace().map(|s| s.parse().unwrap_or(0.0)).collect();
    // Fields 14 and 15 of stat (utime, stime) are at positions 11 and 12 after the command name.
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

fn main() -> mpc_sim::Result<()> {
    let fx = FixedPoint::default();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let xs: Vec<f64> = (0..N).map(|i| ((i as f64 * 0.618_033_988_7).fract() - 0.5) * 12.0).collect();
    let a = vec![-0.5054031199708174, -0.42226581151983866, -0.11807612951181953, -0.011034134030615728];
    let b = vec![0.008526321541038084, 0.5, 0.3603292692789629, 0.0, -0.037688200365904236, 0.0, 0.0018067462606141187];
    let gelu = PiecewisePoly::new(Tail::Zero, vec![-4.0, -1.95, 3.0], vec![Polynomial::new(a), Polynomial::new(b)], Tail::Identity)?;
    let p = |c: f64| Polynomial::new(vec![c, 0.5, 0.2, 1e-4, -0.01, 0.0, 3e-4, 0.0, -5e-6]);
    let p8 = PiecewisePoly::new(Tail::Zero, vec![-6.0, -2.0, 2.0, 6.0], vec![p(0.02), p(0.0), p(-0.01)], Tail::Identity)?;
    let (ge, pe) = (gelu.encode(&fx)?, p8.encode(&fx)?);
    println!("{:<22} {:>12} {:>12} {:>16}", "protocol (2^20 elem)", "wall s", "cpu s", "M elem/s (cpu)");
    for t in [Truncation::Local, Truncation::DealerPair] {
        let mut s = Session::new(SessionConfig { fx, truncation: t, seed: 1 });
        let x = s.input(Party::P0, &xs, &[N])?;
        let runs: Vec<Run<'_>> = vec![
            ("mul", Box::new(|s: &mut Session| s.mul(&x, &x).map(|_| ()))),
            ("ltz", Box::new(|s: &mut Session| s.ltz(&x).map(|_| ()))),
            ("puma_gelu", Box::new(|s: &mut Session| recipes::piecewise(s, &x, &ge).map(|_| ()))),
            ("3piece_deg8", Box::new(|s: &mut Session| recipes::piecewise(s, &x, &pe).map(|_| ()))),
        ];
        for (name, f) in &runs {
            f(&mut s)?; // warm-up
            let (w0, c0) = (Instant::now(), cpu_seconds());
            f(&mut s)?;
            let (wall, cpu) = (w0.elapsed().as_secs_f64(), cpu_seconds() - c0);
            println!("{:<22} {:>12.3} {:>12.2} {:>16.2}", format!("{name}/{t:?}"), wall, cpu, N as f64 / (cpu / cores) / 1e6);
        }
    }
    Ok(())
}
