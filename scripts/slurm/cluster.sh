#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for tests and for trying the cluster scripts: Debian's slurm-wlm and
# munge, one node with the machine's real CPUs and memory, every daemon on 127.0.0.1 only and every file (munge key,
# slurm.conf, state, logs, sockets) under one private folder.
#
#   scripts/slurm/cluster.sh run DIR -- CMD ARGS…   start the cluster in DIR, run CMD with SLURM_CONF set, stop it
#                                                    (always: trap on exit), exit with CMD's status
#   scripts/slurm/cluster.sh up DIR                  start it and leave it running (prints the SLURM_CONF to export)
#   scripts/slurm/cluster.sh down DIR                stop the daemons started in DIR (by their pid files)
#
# Needs root (the daemons run as root). Installs slurm-wlm and munge with apt-get when absent (one `apt-get update`).
# Ports: SLURMCTLD_PORT (default 16817) and SLURMD_PORT (16818), so a system Slurm on 6817/6818 is left alone.
set -euo pipefail

die() { echo "cluster.sh: $*" >&2; exit 2; }
[ $# -ge 2 ] || die "usage: cluster.sh run DIR -- CMD… | up DIR | down DIR"
action=$1
dir=$2
shift 2
ctl_port=${SLURMCTLD_PORT:-16817}
d_port=${SLURMD_PORT:-16818}

install_packages() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null && command -v sbatch >/dev/null; then
    return
  fi
  [ "$(id -u)" = 0 ] || die "slurm-wlm and munge are not installed and installing them needs root (apt-get)"
  echo "cluster.sh: installing slurm-wlm and munge (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed; check the package mirrors"
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >&2 || die "apt-get install slurm-wlm munge failed"
}

down() {
  local d=$1 pidfile pid
  for pidfile in "$d/slurmd.pid" "$d/slurmctld.pid" "$d/munged.pid"; do
    [ -s "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

up() {
  local d=$1
  [ "$(id -u)" = 0 ] || die "the single-node cluster runs its daemons as root; run as root (CI does)"
  install_packages
  mkdir -p "$d"/{munge,state,spool,log}
  d=$(cd "$d" && pwd)
  chmod 700 "$d/munge"
  # A fresh random munge key for this cluster only.
  dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$d/munge/munge.key"
  munged --force --key-file="$d/munge/munge.key" --socket="$d/munge/munge.socket" \
    --pid-file="$d/munged.pid" --log-file="$d/log/munged.log" --seed-file="$d/munge/munged.seed"
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc --all)
  # RealMemory: slurmd's own measurement of this machine (MiB), as `slurmd -C` prints it.
  mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -1)
  [ -n "$mem" ] || mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 ))
  cat > "$d/slurm.conf" <<CONF
ClusterName=compact-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctl_port
SlurmdPort=$d_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$d/log/jobcomp.txt
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF=$d/slurm.conf
  slurmctld -D -i -f "$SLURM_CONF" >"$d/log/slurmctld.out" 2>&1 &
  echo $! > "$d/slurmctld.pid"
  slurmd -D -f "$SLURM_CONF" >"$d/log/slurmd.out" 2>&1 &
  echo $! > "$d/slurmd.pid"
  # Wait (≤ 60 s) for the node to come up idle.
  for _ in $(seq 120); do
    if sinfo -h -N -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
      echo "cluster.sh: node $host up ($cpus CPUs, $mem MiB) in $d; export SLURM_CONF=$SLURM_CONF" >&2
      return 0
    fi
    sleep 0.5
  done
  echo "cluster.sh: the node did not come up; logs:" >&2
  tail -n 20 "$d"/log/*.log "$d"/log/*.out >&2 || true
  return 1
}

case "$action" in
  up) up "$dir" ;;
  down) down "$dir" ;;
  run)
    [ "${1:-}" = "--" ] && shift
    [ $# -ge 1 ] || die "run needs a command after --"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    trap 'down "$dir"' EXIT INT TERM
    up "$dir"
    export SLURM_CONF=$dir/slurm.conf
    set +e
    "$@"
    status=$?
    set -e
    exit $status
    ;;
  *) die "unknown action '$action'; use run, up or down" ;;
esac
