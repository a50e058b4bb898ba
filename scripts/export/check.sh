#!/usr/bin/env bash
# make check-export: every committed fit × {mpyc, crypten, spu}: export, run in the framework on 10^4 inputs drawn
# from the fit's density plus thresholds ±1 LSB and far tails, compare with the reference fixed-point evaluation.
# Writes the Markdown table to $1 (and stdout). A framework that cannot be installed or run gets a row saying so.
set -uo pipefail
cd "$(dirname "$0")/../.."
out="${1:-results/export-check.md}"
count="${COUNT:-10000}"
compact=target/release/compact
tmp="$(mktemp)"
kernels="$(mktemp)"
{
  echo "Produced by \`make check-export\` (scripts/export/check.sh): $count inputs per activation drawn from the fit's"
  echo "density plus every threshold ±1 LSB and far tails; differences against the reference fixed-point evaluation."
  echo "Frameworks (pinned in scripts/export/venv.sh): MPyC 0.10 (3 parties, 3 processes on loopback), CrypTen 0.4.1"
  echo "on torch 2.0.1 (2 processes), SPU 0.9.5 on jax 0.4.34 (SEMI2K over FM64, fxp_fraction_bits = 16, 2 parties in"
  echo "SPU's simulator). Measured bytes are per party and element; measured rounds are for the whole batch, the latency"
  echo "of one vectorised evaluation: CrypTen's communicator rounds, SPU's send actions of party 0 from its profiler"
  echo "(\`enable_pphlo_profile\`; SPU runs the operations one after the other, so its two comparisons are not batched);"
  echo "MPyC keeps no counters. Predicted: the fit's own cost in Compact's two-party model (per element), with the"
  echo "truncation protocol it assumes in the last column: dealer pair, the harness's headline protocol (1 round and 8"
  echo "bytes per truncation). SPU's two-party truncation costs 1 round and 4 bytes (a wrap bit in a 32-bit ring), its"
  echo "comparison 8 rounds and 57 bytes (msb_a2b 7 and 56, b2a of the bit 1 and 1), where the model counts 8 and 64."
  echo
} > "$tmp"
header=--header
for target in crypten spu mpyc; do
  # EXPORT_PYTHON_<TARGET> (e.g. EXPORT_PYTHON_CRYPTEN) points at an existing interpreter instead of building one.
  var="EXPORT_PYTHON_${target^^}"
  py="${!var:-}"
  if [[ -z "$py" ]] && ! py="$(bash scripts/export/venv.sh "$target")"; then
    echo "| $target | (all) | - | not installed: see scripts/export/venv.sh output | | | | | | | |" >> "$tmp"
    continue
  fi
  for af in silu gelu mish; do
    if ! "$compact" export --approx "results/fits/$af-normal01-tol1e-3.json" --target "$target" --verify \
         --python "$py" --count "$count" --timeout 1800 $header >> "$tmp" 2> "$tmp.err"; then
      echo "| $target | $af | - | failed: $(tail -n 1 "$tmp.err" | tr '|' '/' | cut -c1-240) | | | | | | | |" >> "$tmp"
    fi
    grep ' kernels: ' "$tmp.err" >> "$kernels"
    header=
  done
done
if [[ -s "$kernels" ]]; then
  {
    echo
    echo "Per-kernel counters of party 0 (SPU's MPC-layer profile; bytes per element, actions for the whole batch):"
    echo
    sed 's/^/- /' "$kernels"
  } >> "$tmp"
fi
rm -f "$kernels" "$tmp.err"
mkdir -p "$(dirname "$out")"
mv "$tmp" "$out"
cat "$out"
