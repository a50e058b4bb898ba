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
{
  echo "Produced by \`make check-export\` (scripts/export/check.sh): $count inputs per activation drawn from the fit's"
  echo "density plus every threshold ±1 LSB and far tails; differences against the reference fixed-point evaluation."
  echo "Measured bytes are per party and element; measured rounds are for the whole batch (CrypTen's communicator"
  echo "rounds, SPU's send actions of party 0), the latency of one vectorised evaluation; MPyC keeps no counters."
  echo
} > "$tmp"
header=--header
for target in crypten spu mpyc; do
  # EXPORT_PYTHON_<TARGET> (e.g. EXPORT_PYTHON_CRYPTEN) points at an existing interpreter instead of building one.
  var="EXPORT_PYTHON_${target^^}"
  py="${!var:-}"
  if [[ -z "$py" ]] && ! py="$(bash scripts/export/venv.sh "$target")"; then
    echo "| $target | (all) | - | not installed: see scripts/export/venv.sh output | | | | | | |" >> "$tmp"
    continue
  fi
  for af in silu gelu mish; do
    if ! "$compact" export --approx "results/fits/$af-normal01-tol1e-3.json" --target "$target" --verify \
         --python "$py" --count "$count" --timeout 1800 $header >> "$tmp" 2> "$tmp.err"; then
      echo "| $target | $af | - | failed: $(tail -n 1 "$tmp.err" | tr '|' '/' | cut -c1-240) | | | | | | |" >> "$tmp"
    fi
    header=
  done
done
mkdir -p "$(dirname "$out")"
mv "$tmp" "$out"
cat "$out"
