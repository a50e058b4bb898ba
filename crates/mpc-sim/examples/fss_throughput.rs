//! Online throughput of the FSS spline gate for Compact's GELU (the fused 3-piece degree-1 gate) on 2^16 elements,
//! keys dealt beforehand: both parties' online work in this process (`online` lines), then one party's alone
//! (`one party` lines: party 0's masked share, the addition of party 1's message, computed before the timing, its
//! key evaluations and the combination), each over rayon's pool (one thread per core), and the raw fixed-key AES
//! rate of this machine for comparison. Prints wall time and process CPU time (user + system, from
//! /proc/self/stat): on a loaded machine the wall figure depends on the load, while elements per CPU-second ×
//! cores estimates the rate with the cores to the process alone.
//! Run: `nice cargo run -p mpc-sim --release --example fss_throughput`.

use std::time::Instant;

use activation_approx::{FixedPoint, PiecewisePoly, Polynomial, Tail};
use mpc_sim::fss::dcf::Prg;
use mpc_sim::fss::{FusedSplineGate, fused};
use mpc_sim::{Evaluator, FssConfig, FssSession, Party, SessionConfig};

const N: usize = 1 << 16;
const REPS: usize = 5;

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = after.split_whitespace().map(|s| s.parse().unwrap_or(0.0)).collect();
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

fn main() -> mpc_sim::Result<()> {
    let fx = FixedPoint::default();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    // Compact's GELU for the Fashion-MNIST CNN (results/raw/accuracy.jsonl), as in benches/fss.rs.
    let pw = PiecewisePoly::new(
        Tail::Constant { value: -0.15027591785045408 },
        vec![-0.26953125, 0.41796875],
        vec![Polynomial::new(vec![0.01062649195789412, 0.5636585367097894])],
        Tail::Linear { slope: 1.0, intercept: -0.15690066158511473 },
    )?
    .encode(&fx)?;
    let xs: Vec<f64> = (0..N).map(|i| ((i as f64 * 0.618_033_988_7).fract() - 0.5) * 12.0).collect();
    println!("cores {cores}, load average {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim());
    // Raw fixed-key AES (MMO hash) on 2^20 blocks, one thread.
    let prg = Prg::new();
    let mut blocks: Vec<u128> = (0..1u128 << 20).collect();
    let (w0, c0) = (Instant::now(), cpu_seconds());
    for _ in 0..REPS {
        prg.hash_in_place(&mut blocks);
    }
    let (wall, cpu) = (w0.elapsed().as_secs_f64(), cpu_seconds() - c0);
    let blk = (REPS << 20) as f64;
    println!("fixed-key AES, 1 thread: {:.0} M blocks/s wall, {:.0} M blocks per CPU-second", blk / wall / 1e6, blk / cpu / 1e6);
    // One batch of 4096 DCF keys (n = 64, k = 2) evaluated 6·16 times: the gate's key evaluations for 2^16
    // elements with the keys staying in cache (no key-memory traffic), one thread.
    {
        use mpc_sim::fss::dcf::{self, DcfShape};
        use rand::{Rng, SeedableRng};
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for bits in [64u32, 32] {
            let shape = DcfShape { bits, payload: 2 };
            let alphas: Vec<u64> = (0..4096).map(|_| r.random()).collect();
            let betas: Vec<u64> = (0..8192).map(|_| r.random()).collect();
            let (k0, _, _) = dcf::keygen(&prg, shape, &alphas, &betas, &mut r);
            let zs: Vec<u64> = (0..4096).map(|_| r.random()).collect();
            let mut out = vec![0u64; 8192];
            let (w0, c0) = (Instant::now(), cpu_seconds());
            for _ in 0..96 {
                dcf::eval(&prg, &k0, &zs, &mut out);
            }
            let (wall, cpu) = (w0.elapsed().as_secs_f64(), cpu_seconds() - c0);
            let blocks = 96.0 * 4096.0 * (2.0 * f64::from(bits) + 1.0);
            println!("dcf eval n{bits} k2, cached keys, 1 thread: {:.3} s wall, {:.3} s cpu, {:.0} M AES per CPU-second", wall, cpu, blocks / cpu / 1e6);
        }
    }
    println!("{:<28} {:>10} {:>10} {:>14} {:>18} {:>12}", "gate (2^16 elements)", "wall s", "cpu s", "M elem/s wall", "M elem/s (cpu×cores)", "AES/elem/party");
    for bits in [64u32, 48, 32] {
        let gate = FusedSplineGate::new(&pw, bits)?;
        let keys = gate.deal(fused::seed_from(u64::from(bits)), N);
        let mut s = FssSession::new(FssConfig { session: SessionConfig::default(), bits })?;
        let x = s.input(Party::P0, &xs, &[N])?;
        // Warm-up, then REPS timed runs: the row's wall and CPU seconds per run and the element rates.
        let row = |label: String, run: &mut dyn FnMut() -> mpc_sim::Result<()>| -> mpc_sim::Result<()> {
            run()?;
            let (w0, c0) = (Instant::now(), cpu_seconds());
            for _ in 0..REPS {
                run()?;
            }
            let (wall, cpu) = (w0.elapsed().as_secs_f64() / REPS as f64, (cpu_seconds() - c0) / REPS as f64);
            let aes = gate.eval_aes_calls_per_element();
            println!("{label:<28} {wall:>10.4} {cpu:>10.4} {:>14.3} {:>18.3} {aes:>12}", N as f64 / wall / 1e6, N as f64 / (cpu / cores) / 1e6);
            Ok(())
        };
        row(format!("compact_gelu online n{bits}"), &mut || gate.online(&keys, &x).map(drop))?;
        // One party's online phase alone (party 0; party 1's message computed beforehand, not timed).
        let from_p1 = gate.masked_share(Party::P1, &keys, &x)?;
        row(format!("  one party n{bits}"), &mut || gate.online_party(Party::P0, &keys, &x, &from_p1).map(drop))?;
    }
    Ok(())
}
