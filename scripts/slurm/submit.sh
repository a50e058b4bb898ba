#!/usr/bin/env bash
# Submits a profile's sweeps to Slurm: one job array per experiment, sized by the profile's resource table
# (scripts/slurm/<profile>.resources, written by `compact plan` from measured per-point times), then one merge-and-report
# job that starts only when every array succeeded (--dependency=afterok). Prints the job ids.
#
#   scripts/slurm/submit.sh PROFILE            (make sweeps-slurm PROFILE=quick)
#
# Environment (all optional):
#   SLURM_PARTITION, SLURM_ACCOUNT   passed to every sbatch as --partition / --account
#   RESULTS       shared results folder every node can write (default: results, or results/full for PROFILE=full)
#   COMPACT       the compact binary, on a folder every node can read (default: target/release/compact)
#   RESOURCES     resource table to use instead of scripts/slurm/<profile>.resources
#   SPECS_DIR     spec folder to use instead of experiments/<profile>
#   SBATCH_EXTRA  further sbatch flags (e.g. "--qos=normal")
#   WAIT=1        block until the merge job has ended; exit non-zero unless it COMPLETED
#   REPORT_ARGS   flags for `compact report` in the merge job (e.g. "--readme README.md"; none: no README is touched)
set -euo pipefail
cd "$(dirname "$0")/../.."
profile=${1:?usage: submit.sh PROFILE (quick or full)}
specs_dir=${SPECS_DIR:-experiments/$profile}
[ -d "$specs_dir" ] || { echo "unknown profile '$profile' (no '$specs_dir'); use one of: $(ls experiments | tr '\n' ' ')" >&2; exit 2; }
resources=${RESOURCES:-scripts/slurm/$profile.resources}
[ -f "$resources" ] || { echo "no resource table '$resources'; write it with \`compact plan experiments/$profile/*.toml --resources $resources\`" >&2; exit 2; }
if [ "$profile" = full ]; then default_results=results/full; else default_results=results; fi
export RESULTS=${RESULTS:-$default_results}
export COMPACT=${COMPACT:-target/release/compact}
export REPORT_ARGS=${REPORT_ARGS:-}
[ -x "$COMPACT" ] || { echo "no compact binary at '$COMPACT'; run \`make build\` or set COMPACT" >&2; exit 2; }
mkdir -p "$RESULTS/raw" "$RESULTS/slurm-logs"
common=(--parsable --chdir="$PWD" --export=ALL)
[ -n "${SLURM_PARTITION:-}" ] && common+=(--partition="$SLURM_PARTITION")
[ -n "${SLURM_ACCOUNT:-}" ] && common+=(--account="$SLURM_ACCOUNT")
# shellcheck disable=SC2206
extra=(${SBATCH_EXTRA:-})
ids=()
specs=()
# A line may end with a comment (`# estimated from FILE` for an experiment planned from another's records).
while read -r name shards cpus mem time_min _comment; do
  case "$name" in ''|'#'*) continue ;; esac
  spec="$specs_dir/$name.toml"
  [ -f "$spec" ] || { echo "resource table '$resources' names '$name' but '$spec' does not exist" >&2; exit 2; }
  id=$(sbatch "${common[@]}" "${extra[@]}" --job-name="compact-$name" --array="0-$((shards - 1))" \
    --cpus-per-task="$cpus" --mem="$mem" --time="$time_min" \
    --output="$RESULTS/slurm-logs/$name-%A_%a.out" scripts/slurm/shard.sbatch "$spec")
  id=${id%%;*}
  echo "$name: job array $id ($shards tasks, $cpus cores, $mem MiB, $time_min min each)"
  ids+=("$id")
  specs+=("$spec")
done < "$resources"
[ ${#ids[@]} -gt 0 ] || { echo "resource table '$resources' lists no experiment" >&2; exit 2; }
dep=$(IFS=:; echo "afterok:${ids[*]}")
merge_id=$(sbatch "${common[@]}" "${extra[@]}" --dependency="$dep" --kill-on-invalid-dep=yes \
  --output="$RESULTS/slurm-logs/merge-%j.out" scripts/slurm/merge-report.sbatch "${specs[@]}")
merge_id=${merge_id%%;*}
echo "merge-and-report: job $merge_id (after $dep)"
if [ "${WAIT:-0}" = 1 ]; then
  # Poll once a second (sbatch --wait backs off to 32 s between polls, which would blur the overhead measurement).
  unknown=0
  while :; do
    state=$(scontrol show job "$merge_id" -o 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
    case "$state" in
      PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED) sleep 1 ;;
      '') unknown=$((unknown + 1)); [ $unknown -lt 30 ] || { echo "job $merge_id is unknown to Slurm" >&2; exit 1; }; sleep 1 ;;
      COMPLETED) echo "merge-and-report: job $merge_id completed"; break ;;
      *) echo "merge-and-report: job $merge_id ended $state; see $RESULTS/slurm-logs/" >&2
         tail -n 20 "$RESULTS"/slurm-logs/*.out >&2 || true
         exit 1 ;;
    esac
  done
fi
