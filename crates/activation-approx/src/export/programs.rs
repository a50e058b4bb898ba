//! The program text of each target (see the parent module for what every program computes).
//!
//! Each program is one Python file with: a header comment, the encoded thresholds and coefficients, `approx(x)` on
//! the framework's secret type, and a `__main__` that reads plaintext inputs (one per line, held by party 0), runs
//! `approx` on their shares, reveals, and writes one output per line (plus, where the framework counts them, its
//! communication statistics as JSON).

use std::fmt::Write as _;

use super::{ExportPlan, Target};
use crate::error::{ApproxError, Result};

/// Inputs the MPyC program accepts: |x| < 2^MPYC_INPUT_BITS.
pub(crate) const MPYC_INPUT_BITS: u32 = 10;

fn ints(v: &[i64]) -> String {
    let items: Vec<String> = v.iter().map(i64::to_string).collect();
    format!("[{}]", items.join(", "))
}

fn data_section(plan: &ExportPlan) -> String {
    let mut s = String::new();
    let f = plan.fx.frac_bits;
    let _ = writeln!(s, "# The reference's numbers, as integers k with value k / 2**REF_FRAC_BITS (exact binary fractions).");
    let _ = writeln!(s, "REF_FRAC_BITS = {f}");
    let _ = writeln!(s, "# Thresholds t_0 < ... < t_n: left tail for x < t_0, piece i on [t_i, t_(i+1)), right tail for x >= t_n.");
    let _ = writeln!(s, "THRESHOLDS = {}", ints(&plan.thresholds));
    let _ = writeln!(s, "# Coefficients per segment (left tail, pieces, right tail), constant first: Y_s = sum_j c_j x^j.");
    let _ = writeln!(s, "SEGMENTS = [");
    for seg in &plan.segments {
        let _ = writeln!(s, "    {},", ints(seg));
    }
    let _ = writeln!(s, "]");
    let _ = writeln!(s, "# Power tree: x^k = x^p * x^(k-p), k = 2 .. {} (log-depth, as in the reference).", plan.max_degree);
    let pt: Vec<String> = plan.power_tree.iter().map(|(k, p)| format!("({k}, {p})")).collect();
    let _ = writeln!(s, "POWER_TREE = [{}]", pt.join(", "));
    s
}

fn header(plan: &ExportPlan, target: Target, bound: f64, precision: &str) -> String {
    let mut s = String::new();
    let f = plan.fx.frac_bits;
    let _ = writeln!(s, "#!/usr/bin/env python3");
    let _ = writeln!(s, "# Compact approximation of {}, exported by `compact export --target {}`.", plan.activation, target);
    let _ = writeln!(s, "# Source JSON sha256: {}", plan.source_sha256);
    let _ = writeln!(
        s,
        "# Expected error against {} (reference fixed point, f = {f}): density-weighted mean {:.3e}, max over the",
        plan.activation, plan.expected_error.0
    );
    let _ = writeln!(s, "# density's central 99.9 % {:.3e}.", plan.expected_error.1);
    let _ = writeln!(
        s,
        "# Predicted cost in Compact's two-party model: {} bytes per party and {} rounds per element.",
        plan.predicted.0, plan.predicted.1
    );
    let _ = writeln!(
        s,
        "# Each revealed output agrees with the reference fixed-point evaluation within {bound:.3e} ({:.1} LSB of 2^-{f}),",
        bound * plan.fx.scale()
    );
    let _ = writeln!(s, "# a bound derived from both truncation rules (activation-approx, module export).");
    let _ = writeln!(s, "#");
    let _ = writeln!(s, "# Steps: b_i = [x >= t_i] by secure comparison; x_c = min(max(x, t_0), t_n) by two products with bits;");
    let _ = writeln!(s, "# powers of x_c by the power tree; Y_s per segment (tails on x, pieces on x_c); y = Y_0 + sum_i b_i (Y_(i+1) - Y_i).");
    let _ = writeln!(s, "#");
    for line in precision.lines() {
        let _ = writeln!(s, "# {line}");
    }
    s
}

/// MPyC: `SecFxp` arrays, three parties as three processes.
pub(crate) fn mpyc(plan: &ExportPlan, bound: f64) -> Result<String> {
    let f = plan.fx.frac_bits;
    let m = plan.clamp_bound().max(1.0);
    // Magnitudes (as fixed-point values) that MPyC's comparison and truncation must hold below 2^(l-1-f):
    // x itself (|x| < 2^MPYC_INPUT_BITS), the powers M^d, and each segment's integer-coefficient sum / 2^f.
    let mut bits = (MPYC_INPUT_BITS as f64).max(plan.max_degree as f64 * m.log2());
    let n = plan.segments.len();
    for (s, seg) in plan.segments.iter().enumerate() {
        let tail = s == 0 || s == n - 1;
        let a: f64 = seg
            .iter()
            .enumerate()
            .skip(1)
            .map(|(j, &k)| (k as f64).abs() * if tail { 2f64.powi(MPYC_INPUT_BITS as i32) } else { m.powi(j as i32) })
            .sum();
        if a > 0.0 {
            bits = bits.max(a.log2() - f as f64);
        }
    }
    let l = f + 2 + bits.ceil() as u32 + 1;
    if l > 120 {
        return Err(ApproxError::InvalidParameter {
            name: "bit length",
            value: l.to_string(),
            hint: "coefficients or range too large for MPyC's SecFxp; narrow the range or lower the degree",
        });
    }
    let precision = format!(
        "MPyC conventions and where they differ from the reference:\n\
         - SecFxp(l = {l}, f = {f}) in a prime field (Shamir, honest majority, 3 parties): same f as the reference;\n\
         \x20 l is chosen so every comparison and truncation holds its operand; inputs must satisfy |x| < 2^{MPYC_INPUT_BITS}.\n\
         - Each product of two SecFxp values is truncated by mpc.trunc, probabilistic rounding (error < 1 LSB either way),\n\
         \x20 where the reference floors; the coefficient terms of a segment are summed with integer coefficients k_j\n\
         \x20 (exact) and truncated once, as in the reference.\n\
         - Comparison results are integral SecFxp values, so clamp and selection products are exact.\n\
         - MPyC rounds public floats half to even where the reference rounds half away; all numbers here are already\n\
         \x20 exact multiples of 2^-{f}, so the two agree.\n\
         Run: python3 THIS.py -M3 -I<i> -P 127.0.0.1:PORT0 -P 127.0.0.1:PORT1 -P 127.0.0.1:PORT2 [--inputs IN --outputs OUT]\n\
         (one process per party i = 0, 1, 2; party 0 holds the inputs, every party learns the outputs)."
    );
    let mut s = header(plan, Target::Mpyc, bound, &precision);
    s.push_str(
        r#"
import argparse
import sys

import numpy as np
from mpyc.runtime import mpc

"#,
    );
    s.push_str(&data_section(plan));
    let _ = writeln!(s, "BIT_LENGTH = {l}");
    let _ = writeln!(s, "INPUT_BOUND = 2 ** {MPYC_INPUT_BITS}");
    s.push_str(
        r#"FRAC_BITS = REF_FRAC_BITS
secfxp = mpc.SecFxp(BIT_LENGTH, FRAC_BITS)


def segment(coeffs, pows, like):
    """Y = c_0 + (sum_{j>=1} k_j x^j) * 2^-f: integer products are exact, one truncation for the sum."""
    acc = None
    for j in range(1, len(coeffs)):
        if coeffs[j] != 0:
            term = pows[j] * int(coeffs[j])
            acc = term if acc is None else acc + term
    c0 = coeffs[0] / 2 ** REF_FRAC_BITS
    if acc is None:
        return like * 0 + c0
    return acc * 2.0 ** -REF_FRAC_BITS + c0


def approx(x):
    """The approximation on a secfxp array x (module header)."""
    t = [k / 2 ** REF_FRAC_BITS for k in THRESHOLDS]
    b = [x >= ti for ti in t]
    xc = b[0] * (x - t[0]) + t[0]
    xc = b[-1] * (t[-1] - xc) + xc
    pows = [None, xc]
    for k, p in POWER_TREE:
        pows.append(pows[p] * pows[k - p])
    last = len(SEGMENTS) - 1
    ys = [segment(c, [None, x] if s in (0, last) else pows, x) for s, c in enumerate(SEGMENTS)]
    y = ys[0]
    for i, bi in enumerate(b):
        y = y + bi * (ys[i + 1] - ys[i])
    return y


async def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--inputs', help='plaintext inputs, one per line (read by party 0)')
    parser.add_argument('--outputs', help='revealed outputs, one per line (written by party 0)')
    args, _ = parser.parse_known_args()
    await mpc.start()
    xs = None
    if mpc.pid == 0:
        xs = np.loadtxt(args.inputs, ndmin=1) if args.inputs else np.linspace(-4.0, 4.0, 9)
        if np.any(np.abs(xs) >= INPUT_BOUND):
            print(f'inputs must satisfy |x| < {INPUT_BOUND}', file=sys.stderr)
            xs = np.clip(xs, -INPUT_BOUND + 1, INPUT_BOUND - 1)
    count = await mpc.transfer(len(xs) if mpc.pid == 0 else None, senders=0)
    if mpc.pid != 0:
        xs = np.zeros(count)
    # integral=False on every party: MPyC infers the attribute from the values otherwise, and party 0 (real
    # inputs) and the others (zeros) would take different code paths.
    x = mpc.input(secfxp.array(xs, integral=False), senders=0)
    y = await mpc.output(approx(x))
    await mpc.shutdown()
    if mpc.pid == 0:
        if args.outputs:
            np.savetxt(args.outputs, np.asarray(y, dtype=float), fmt='%.17g')
        else:
            for xi, yi in zip(xs, y):
                print(f'{xi:.6f} -> {yi:.6f}')


if __name__ == '__main__':
    mpc.run(main())
"#,
    );
    Ok(s)
}

const STATS_DOC: &str = "--stats FILE writes the framework's communication counters for the evaluation alone (input\n\
sharing and output reveal excluded) as JSON: {\"bytes\": per party, \"rounds\": ..., \"elements\": n}.";

/// The CrypTen program's `approx(x)`, over any array type with `>=`, `*`, `+`, `-` (`bit` turns a comparison into
/// a number the selection multiplies by).
fn generic_approx(bit: &str) -> String {
    format!(
        r#"

def segment(coeffs, pows, like):
    """Y = c_0 + sum_(j>=1) c_j x^j with public fixed-point coefficients (one truncation per term)."""
    y = like * 0.0 + coeffs[0] / 2 ** REF_FRAC_BITS
    for j in range(1, len(coeffs)):
        if coeffs[j] != 0:
            y = y + pows[j] * (coeffs[j] / 2 ** REF_FRAC_BITS)
    return y


def approx(x):
    """The approximation on a secret array x (module header)."""
    t = [k / 2 ** REF_FRAC_BITS for k in THRESHOLDS]
    b = [{bit} for ti in t]
    xc = b[0] * (x - t[0]) + t[0]
    xc = b[-1] * (xc * -1.0 + t[-1]) + xc
    pows = [None, xc]
    for k, p in POWER_TREE:
        pows.append(pows[p] * pows[k - p])
    last = len(SEGMENTS) - 1
    ys = [segment(c, [None, x] if s in (0, last) else pows, x) for s, c in enumerate(SEGMENTS)]
    y = ys[0]
    for i, bi in enumerate(b):
        y = y + bi * (ys[i + 1] - ys[i])
    return y
"#
    )
}

/// CrypTen: `MPCTensor`, two parties in two processes (CrypTen's multiprocess launcher, gloo on loopback).
pub(crate) fn crypten(plan: &ExportPlan, bound: f64) -> String {
    let f = plan.fx.frac_bits;
    let precision = format!(
        "CrypTen conventions and where they differ from the reference:\n\
         - Additive sharing over Z_2^64 between 2 parties, encoder with 16 fractional bits (the reference uses f = {f});\n\
         \x20 public thresholds and coefficients are exact at 2^-16.\n\
         - Every product (powers, each coefficient term, the products with comparison bits, which CrypTen holds as\n\
         \x20 fixed-point 0/1) divides by the scale: two-party local truncation, error < 2 LSB (and, with probability\n\
         \x20 about |v|/2^63, a wrap), where the reference floors once per segment.\n\
         - Inputs are encoded by truncation toward zero (exact for inputs on the 2^-16 grid); outputs are revealed as\n\
         \x20 ring elements and decoded in float64, since CrypTen's own decoder returns float32.\n\
         - Trusted-first-party Beaver triples (CrypTen's default provider).\n\
         Run: python3 THIS.py [--inputs IN --outputs OUT --stats STATS]\n{STATS_DOC}"
    );
    let mut s = header(plan, Target::Crypten, bound, &precision);
    s.push_str(
        r#"
import argparse
import json
import os

import numpy as np
import torch

os.environ.setdefault('GLOO_SOCKET_IFNAME', 'lo')
os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
import crypten  # noqa: E402
import crypten.communicator as comm  # noqa: E402
import crypten.mpc as mpc  # noqa: E402

"#,
    );
    s.push_str(&data_section(plan));
    s.push_str(&generic_approx("x >= ti"));
    s.push_str(
        r#"

def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--inputs', help='plaintext inputs, one per line (held by party 0)')
    parser.add_argument('--outputs', help='revealed outputs, one per line')
    parser.add_argument('--stats', help='communication counters (JSON)')
    return parser.parse_args()


ARGS = parse_args()


@mpc.run_multiprocess(world_size=2)
def run():
    crypten.cfg.communicator.verbose = True
    xs = np.loadtxt(ARGS.inputs, ndmin=1) if ARGS.inputs else np.linspace(-4.0, 4.0, 9)
    x = crypten.cryptensor(torch.tensor(xs, dtype=torch.float64), src=0)
    comm.get().reset_communication_stats()
    y = approx(x)
    stats = comm.get().get_communication_stats()
    raw = y._tensor.reveal()
    if comm.get().get_rank() == 0:
        ys = raw.to(torch.float64) / float(y.encoder.scale)
        if ARGS.outputs:
            np.savetxt(ARGS.outputs, ys.numpy(), fmt='%.17g')
        else:
            for xi, yi in zip(xs, ys.tolist()):
                print(f'{xi:.6f} -> {yi:.6f}')
        if ARGS.stats:
            with open(ARGS.stats, 'w') as fh:
                json.dump({'bytes': stats['bytes'], 'rounds': stats['rounds'], 'elements': len(xs)}, fh)


if __name__ == '__main__':
    crypten.init()
    run()
"#,
    );
    s
}

/// SPU: a JAX function compiled by SPU and run by SEMI2K over FM64 with two parties (SPU's own simulator: one thread
/// per party, in-memory links), with SPU's profiler counting the communication of the evaluation.
pub(crate) fn spu(plan: &ExportPlan, bound: f64) -> String {
    let f = plan.fx.frac_bits;
    let precision = format!(
        "SPU conventions and where they differ from the reference:\n\
         - SEMI2K (additive sharing, 2 parties, trusted-first-party Beaver triples) over FM64 with\n\
         \x20 fxp_fraction_bits = {f}, the reference's f: inputs, thresholds and coefficients are exact.\n\
         - Comparisons are SPU's `>=` (msb_a2b + b2a); clamp and selection use `jnp.where`, which SPU evaluates as the\n\
         \x20 bit times the difference of the two branches: an exact product, no truncation.\n\
         - Every fixed-point product (each power, each coefficient term) is truncated by SPU's two-party truncation\n\
         \x20 (trunc_allow_msb_error = False, SPU's default: a one-bit-error truncation with a wrap bit computed in a\n\
         \x20 small ring), result floor or floor + 1 (< 1 LSB from the exact quotient), where the reference sums the\n\
         \x20 integer coefficient terms and floors once per segment.\n\
         - A negative coefficient is applied as a subtraction of |c_j| x^j: spu 0.9.5 multiplies a secret by a public\n\
         \x20 constant of -1, -2 or -3 LSB with the wrong sign.\n\
         - float64 (jax_enable_x64) so that inputs and outputs are carried without float32 rounding.\n\
         Run: python3 THIS.py [--inputs IN --outputs OUT --stats STATS]\n{STATS_DOC}\n\
         The counters are SPU's profiler's (enable_pphlo_profile) for party 0: its total send bytes and send actions\n\
         (the rounds of the program as SPU schedules it: one operation after the other), and per MPC kernel."
    );
    let mut s = header(plan, Target::Spu, bound, &precision);
    s.push_str(
        r#"
import argparse
import json
import os
import re
import tempfile

import jax
import numpy as np

jax.config.update('jax_enable_x64', True)
import jax.numpy as jnp  # noqa: E402
import spu.libspu as libspu  # noqa: E402
import spu.utils.simulation as spu_sim  # noqa: E402

"#,
    );
    s.push_str(&data_section(plan));
    s.push_str(
        r#"

def segment(coeffs, pows, like):
    """Y = c_0 + sum_(j>=1) c_j x^j with public fixed-point coefficients (one truncation per term).

    A negative coefficient is applied as the subtraction of |c_j| x^j: spu 0.9.5 returns the product of a secret
    and a public constant of -1, -2 or -3 LSB with the wrong sign (found by `compact export --verify`)."""
    y = like * 0.0 + coeffs[0] / 2 ** REF_FRAC_BITS
    for j in range(1, len(coeffs)):
        if coeffs[j] > 0:
            y = y + pows[j] * (coeffs[j] / 2 ** REF_FRAC_BITS)
        elif coeffs[j] < 0:
            y = y - pows[j] * (-coeffs[j] / 2 ** REF_FRAC_BITS)
    return y


def approx(x):
    """The approximation on a secret array x (module header)."""
    t = [k / 2 ** REF_FRAC_BITS for k in THRESHOLDS]
    b = [x >= ti for ti in t]
    xc = jnp.where(b[0], x, t[0])
    xc = jnp.where(b[-1], t[-1], xc)
    pows = [None, xc]
    for k, p in POWER_TREE:
        pows.append(pows[p] * pows[k - p])
    last = len(SEGMENTS) - 1
    ys = [segment(c, [None, x] if s in (0, last) else pows, x) for s, c in enumerate(SEGMENTS)]
    y = ys[0]
    for i, bi in enumerate(b):
        y = y + jnp.where(bi, ys[i + 1] - ys[i], 0.0)
    return y


LINK = re.compile(r'Link details: total send bytes (\d+), recv bytes (\d+), send actions (\d+), recv actions (\d+)')
KERNEL = re.compile(r'- (\S+), executed (\d+) times, .*send bytes (\d+) recv bytes \d+, send actions (\d+)')


def profile(log_text):
    """Party 0's counters from SPU's profiling log: totals, and the MPC-layer kernels that communicate."""
    totals = LINK.findall(log_text)
    if not totals:
        raise RuntimeError('SPU wrote no "Link details" line; is enable_pphlo_profile supported by this spu?')
    sent, _, actions, _ = (int(v) for v in totals[-1])
    section = log_text[log_text.rfind('MPC profiling'):]
    kernels = {}
    for name, times, nbytes, acts in KERNEL.findall(section):
        if int(nbytes) > 0:
            kernels[name] = {'calls': int(times), 'bytes': int(nbytes), 'actions': int(acts)}
    return sent, actions, kernels


def run_spu(xs):
    """Compile approx for SPU and run it with 2 parties; the revealed outputs and party 0's counters."""
    log = tempfile.NamedTemporaryFile(prefix='spu-profile-', suffix='.log', delete=False)
    log.close()
    opts = libspu.logging.LogOptions()
    opts.enable_console_logger = False
    opts.system_log_path = log.name
    libspu.logging.setup_logging(opts)
    config = libspu.RuntimeConfig(protocol=libspu.ProtocolKind.SEMI2K, field=libspu.FieldType.FM64)
    config.fxp_fraction_bits = REF_FRAC_BITS
    config.enable_pphlo_profile = True
    config.enable_hal_profile = True
    ys = spu_sim.sim_jax(spu_sim.Simulator(2, config), approx)(xs)
    with open(log.name) as fh:
        text = fh.read()
    os.unlink(log.name)
    return np.asarray(ys, dtype=np.float64), profile(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--inputs', help='plaintext inputs, one per line')
    parser.add_argument('--outputs', help='revealed outputs, one per line')
    parser.add_argument('--stats', help='communication counters (JSON)')
    args = parser.parse_args()
    xs = np.loadtxt(args.inputs, ndmin=1) if args.inputs else np.linspace(-4.0, 4.0, 9)
    ys, (nbytes, actions, kernels) = run_spu(np.asarray(xs, dtype=np.float64))
    if args.outputs:
        np.savetxt(args.outputs, ys, fmt='%.17g')
    else:
        for xi, yi in zip(xs, ys):
            print(f'{xi:.6f} -> {yi:.6f}')
    if args.stats:
        with open(args.stats, 'w') as fh:
            json.dump({'bytes': nbytes, 'rounds': actions, 'elements': len(xs), 'kernels': kernels}, fh)


if __name__ == '__main__':
    main()
"#,
    );
    s
}
