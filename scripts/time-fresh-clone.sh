#!/usr/bin/env bash
# Measures what a new user waits for: `git clone` of this repository's HEAD into an empty folder, then
# `make reproduce` there (cold build, dataset fetch, fits, every sweep of the quick profile, report), timed by
# /usr/bin/time. Writes the figures, with the machine's core count and load average before and after, to
# results/fresh-clone-time.md of THIS checkout (the README includes that file); the clone's regenerated results stay
# in the clone (its path is printed) for inspection or to be copied back.
#
# Usage: scripts/time-fresh-clone.sh [CLONE_DIR]   (default: a new folder under /tmp; CARGO_TARGET_DIR is unset so the
# build is cold). Run it on a quiet machine: the load average is recorded beside the time so a reader can judge.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
clone="${1:-$(mktemp -d /tmp/compact-fresh-XXXXXX)}"
if [[ -e "$clone/.git" ]]; then
  echo "error: '$clone' already holds a clone; give an empty or new folder" >&2
  exit 2
fi
commit="$(git -C "$here" rev-parse --short HEAD)"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
log="$clone.time.log"
start=$(date +%s)
git clone -q "$here" "$clone"
clone_s=$(( $(date +%s) - start ))
(cd "$clone" && env -u CARGO_TARGET_DIR /usr/bin/time -v make reproduce) > "$clone.make.log" 2> "$log" || {
  echo "error: make reproduce failed in '$clone'; see $clone.make.log and $log" >&2
  exit 1
}
total_s=$(( $(date +%s) - start ))
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
wall="$(grep 'Elapsed (wall clock)' "$log" | sed 's/.*: //')"
rss_kb="$(grep 'Maximum resident set size' "$log" | sed 's/.*: //')"
recorded="$(grep -c 'already recorded' "$clone.make.log" || true)"
reused="$(grep -o '[0-9]* already recorded' "$clone.make.log" | grep -vc '^0 already recorded' || true)"
mkdir -p "$here/results"
cat > "$here/results/fresh-clone-time.md" <<EOF
| measurement | value |
|---|---|
| commit | \`$commit\` |
| cores | $(nproc) |
| \`git clone\` (s) | $clone_s |
| \`make reproduce\` wall clock (h:mm:ss, cold build included) | $wall |
| clone to report (min) | $(awk "BEGIN{printf \"%.1f\", $total_s/60}") |
| peak resident memory of one process (MiB) | $(( rss_kb / 1024 )) |
| experiments whose log says "already recorded" / with a nonzero count | $recorded / $reused |
| load average before / after (1, 5, 15 min) | $load_before / $load_after |

Measured by \`scripts/time-fresh-clone.sh\` on $(date -u +%Y-%m-%d).
EOF
cat "$here/results/fresh-clone-time.md"
echo "clone with regenerated results: $clone"
