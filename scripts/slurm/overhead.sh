#!/usr/bin/env bash
# Measures what going through Slurm costs: the 4 shards of the approximations experiment and of the small accuracy
# spec of the Slurm test (scripts/slurm/test-specs/) — 8 tasks of one core each — run (a) directly, as many at a time
# as the machine has cores, then merged, and (b) as two 4-task job arrays plus the dependent merge job on the local
# single-node cluster (scripts/slurm/cluster.sh), from submission until the merge job has completed. REPS (default 3)
# alternating repetitions; the table gives the median of each and the load average before and after.
#
#   scripts/slurm/overhead.sh [OUT.md]      (default results/slurm-overhead.md; needs root, as cluster.sh does)
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "${1:-}" = --inner ]; then
  # Runs inside `cluster.sh run`: SLURM_CONF is set.
  tmp=$2 compact=$3 reps=$4
  now() { date +%s.%N; }
  direct() {
    for name in approximations accuracy; do for k in 0 1 2 3; do echo "$name $k"; done; done |
      RAYON_NUM_THREADS=1 xargs -P "$(nproc)" -L1 bash -c \
        '"$0" run "$1/specs/$2.toml" --shard "$3/4" --results "$1/direct-'"$r"'" --quiet >/dev/null' "$compact" "$tmp"
    "$compact" merge "$tmp/specs/approximations.toml" "$tmp/specs/accuracy.toml" --results "$tmp/direct-$r" >/dev/null
  }
  slurm() {
    RESULTS="$tmp/slurm-$r" COMPACT="$compact" RESOURCES="$tmp/res" SPECS_DIR="$tmp/specs" REPORT_ARGS=--no-readme WAIT=1 \
      bash scripts/slurm/submit.sh quick >/dev/null
  }
  # Alternate which goes first, so that neither always meets a cold page cache.
  for r in $(seq "$reps"); do
    if [ $((r % 2)) = 1 ]; then
      t0=$(now); direct; t1=$(now); slurm; t2=$(now)
      echo "$r $t0 $t1 $t1 $t2" >> "$tmp/times"
    else
      t0=$(now); slurm; t1=$(now); direct; t2=$(now)
      echo "$r $t1 $t2 $t0 $t1" >> "$tmp/times"
    fi
  done
  exit 0
fi
out=${1:-results/slurm-overhead.md}
reps=${REPS:-3}
compact=$(pwd)/${COMPACT:-target/release/compact}
[ -x "$compact" ] || { echo "no compact binary at '$compact'; run \`make build\`" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/specs"
cp experiments/quick/approximations.toml scripts/slurm/test-specs/accuracy.toml "$tmp/specs/"
printf '# experiment shards cpus mem_mib time_min\napproximations 4 1 1024 20\naccuracy 4 1 2048 20\n' > "$tmp/res"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
bash scripts/slurm/cluster.sh run "$tmp/cluster" -- bash "$0" --inner "$tmp" "$compact" "$reps" >/dev/null
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
direct=$(awk '{print $3 - $2}' "$tmp/times" | median)
slurm=$(awk '{print $5 - $4}' "$tmp/times" | median)
all=$(awk '{printf "%s%.1f/%.1f", (NR>1 ? ", " : ""), $3 - $2, $5 - $4}' "$tmp/times")
mkdir -p "$(dirname "$out")"
{
  echo "| run (8 one-core tasks: 4 shards × 2 specs, then the merge) | wall (s), median of $reps |"
  echo "|---|---|"
  printf '| directly, %s at a time | %.1f |\n' "$(nproc)" "$direct"
  printf '| through Slurm: 2 job arrays of 4 + dependent merge job, submission to merge completed | %.1f |\n' "$slurm"
  printf '| ratio Slurm / direct | %.2f |\n' "$(awk "BEGIN { print $slurm / $direct }")"
  printf '| Slurm overhead (difference) | %.1f |\n' "$(awk "BEGIN { print $slurm - $direct }")"
  echo
  echo "Each repetition (direct/Slurm, s): $all. Measured by \`scripts/slurm/overhead.sh\` on $(nproc) cores;"
  echo "load average $load_before before, $load_after after."
} > "$out"
cat "$out"
