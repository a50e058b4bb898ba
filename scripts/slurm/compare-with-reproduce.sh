#!/usr/bin/env bash
# Checks a profile computed through Slurm against the results `make reproduce` wrote for the same code: the merged
# records point by point (`compact compare`: every number and string bit for bit, wall-clock timings excluded), then
# every CSV table byte for byte, after `compact report` has rewritten both folders' tables from their records.
# Writes one Markdown report; exits 1 when anything differs or is missing, 2 on bad arguments.
#
#   scripts/slurm/compare-with-reproduce.sh SLURM_RESULTS REFERENCE_RESULTS OUT.md [JOBCOMP]
#
# JOBCOMP: Slurm's job-completion log of the run (`JobCompType=jobcomp/filetxt`; the single-node cluster of
# cluster.sh writes DIR/log/jobcomp.txt). When given, the report adds the run's time line: each job's run time, their
# sum, and the wall time from the first submission to the last job's end; the difference is what going through Slurm
# cost (scheduling, job start-up, the dependency), as the jobs ran one after another on the one node.
#
# e.g. after `make sweeps-slurm-local PROFILE=quick` in a clone whose results/raw was emptied first:
#   scripts/slurm/compare-with-reproduce.sh /tmp/clone/results results results/slurm/through-slurm-vs-reproduce.md
set -euo pipefail
usage="usage: compare-with-reproduce.sh SLURM_RESULTS REFERENCE_RESULTS OUT.md"
slurm=${1:?$usage}
ref=${2:?$usage}
out=${3:?$usage}
compact=${COMPACT:-target/release/compact}
for d in "$slurm/raw" "$slurm/tables" "$ref/raw" "$ref/tables"; do
  [ -d "$d" ] || { echo "no folder '$d': pass results folders holding raw/ and tables/ ($usage)" >&2; exit 2; }
done
[ -x "$compact" ] || { echo "no compact binary at '$compact'; run \`make build\` or set COMPACT" >&2; exit 2; }
# Both table sets are rewritten from their records by the same `compact report` first, so the CSVs compared are the
# records' tables under one report code (the merge job's report may come from another build).
"$compact" report --results "$slurm" >/dev/null
"$compact" report --results "$ref" >/dev/null
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"$compact" compare --old "$ref/raw" --new "$slurm/raw" --out "$tmp" >/dev/null
# The README includes this report under its own heading: drop the compare report's title, demote its sections.
# (and the remark on which command usually runs the comparison, which is this script here).
sed -e '1{/^# /d}' -e 's/^## /#### /' -e 's/ (`make reproduce` runs it against the committed records)//' "$tmp" | sed -e '1{/^$/d}' > "$out"
# The record comparison passes when no experiment has a differing, missing or extra point.
records_ok=$(awk -F'|' '/^\| [a-z-]+ \| [0-9]+ \|/ { if ($5 + 0 || $6 + 0 || $7 + 0) bad = 1 } END { print bad ? 0 : 1 }' "$out")
total=0
same=0
rows=""
seen=""
timed=""
for f in "$ref"/tables/*.csv "$slurm"/tables/*.csv; do
  name=$(basename "$f")
  case " $seen " in *" $name "*) continue ;; esac
  # A `*.with-timings.csv` is its table plus wall-clock columns (seconds per point, samples per second): not compared.
  case "$name" in *.with-timings.csv) seen="$seen $name"; timed="$timed \`$name\`"; continue ;; esac
  seen="$seen $name"
  total=$((total + 1))
  if [ ! -f "$ref/tables/$name" ]; then
    verdict="only in the Slurm run"
  elif [ ! -f "$slurm/tables/$name" ]; then
    verdict="missing from the Slurm run"
  elif cmp -s "$ref/tables/$name" "$slurm/tables/$name"; then
    verdict="identical"
    same=$((same + 1))
  else
    verdict="differs ($(cmp "$ref/tables/$name" "$slurm/tables/$name" 2>&1 | head -1 | sed -e "s|.*differ: ||" -e "s|^cmp: ||" || true))"
  fi
  rows+="| \`$name\` | $verdict |"$'\n'
done
# The last commit of the checkout holding folder $1 (that touched $1/$2 when $2 is given).
commit_of() {
  local path=()
  [ -n "${2:-}" ] && path=(-- "$2")
  git -C "$1" log -1 --format='%h (%cs)' "${path[@]}" 2>/dev/null || echo "not in a git checkout"
}
{
  echo
  echo "Slurm run: \`$slurm\`, code at commit $(commit_of "$slurm"). Reference: \`$ref\`, records last committed in"
  echo "$(commit_of "$ref" raw)."
  echo
  echo "#### CSV tables"
  echo
  echo "Every CSV table \`compact report\` writes from each set of records (both rewritten by this commit's"
  echo "\`compact report\` just before), compared byte for byte (\`cmp\`):"
  echo "\`$ref/tables\` against \`$slurm/tables\`. **$same of $total identical.**"
  echo
  [ -z "$timed" ] || echo "Not compared, as they hold wall-clock columns besides their table's:$timed."
  [ -z "$timed" ] || echo
  echo "| table | bytes |"
  echo "|---|---|"
  printf '%s' "$rows"
} >> "$out"
jobcomp=${4:-}
if [ -n "$jobcomp" ]; then
  [ -f "$jobcomp" ] || { echo "no job-completion log '$jobcomp' (4th argument)" >&2; exit 2; }
  {
    echo
    echo "#### Time through Slurm"
    echo
    echo "From Slurm's job-completion log (\`$(basename "$jobcomp")\`): each job's run time (start to end, whole seconds)."
    echo
    echo "| job | state | run time (s) |"
    echo "|---|---|---:|"
    first_submit=""
    last_end=0
    sum=0
    while read -r line; do
      name=$(sed -n 's/.* Name=\([^ ]*\).*/\1/p' <<<"$line")
      state=$(sed -n 's/.* JobState=\([^ ]*\).*/\1/p' <<<"$line")
      task=$(sed -n 's/.* ArrayTaskId=\([0-9]*\).*/\1/p' <<<"$line")
      start=$(date -d "$(sed -n 's/.* StartTime=\([^ ]*\).*/\1/p' <<<"$line")" +%s)
      end=$(date -d "$(sed -n 's/.* EndTime=\([^ ]*\).*/\1/p' <<<"$line")" +%s)
      submit=$(date -d "$(sed -n 's/.* SubmitTime=\([^ ]*\).*/\1/p' <<<"$line")" +%s)
      [ -z "$first_submit" ] || [ "$submit" -lt "$first_submit" ] && first_submit=$submit
      [ "$end" -gt "$last_end" ] && last_end=$end
      sum=$((sum + end - start))
      echo "| \`$name\`${task:+ task $task} | $state | $((end - start)) |"
    done < <(grep 'JobId=' "$jobcomp")
    wall=$((last_end - first_submit))
    echo
    echo "| measure | seconds |"
    echo "|---|---:|"
    echo "| Σ job run times | $sum |"
    echo "| first submission to the last job's end | $wall |"
    echo "| difference: scheduling, start-up, dependency | $((wall - sum)) |"
  } >> "$out"
fi
echo "wrote $out: records $([ "$records_ok" = 1 ] && echo identical || echo DIFFER), $same of $total CSV tables byte-identical"
[ "$records_ok" = 1 ] && [ "$same" = "$total" ]
