#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for tests and CI: Debian's slurmctld and slurmd with
# munge, every file (config, state, spool, logs, pids, munge's socket) in one folder, and no
# systemd, cgroups or accounting (proctrack/linuxproc, task/none). Run as root.
#   scripts/slurm_cluster.sh start DIR   installs the packages when missing, writes DIR/slurm.conf,
#                                        starts the daemons and waits until the node is idle
#   scripts/slurm_cluster.sh stop DIR    cancels every job and stops the daemons
# Then point Slurm's commands at it: export SLURM_CONF=DIR/slurm.conf (sinfo, sbatch, srun, squeue).
# Its ports are 16817 (slurmctld) and 16818 (slurmd), off Slurm's defaults.
set -euo pipefail
mode="${1:-}"
dir="${2:-}"
if [ -z "$dir" ] || { [ "$mode" != start ] && [ "$mode" != stop ]; }; then
  echo "usage: scripts/slurm_cluster.sh start|stop DIR" >&2
  exit 2
fi
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
export SLURM_CONF="$dir/slurm.conf"

stop() {
  [ -f "$SLURM_CONF" ] && scancel --user="$(id -un)" >/dev/null 2>&1 || true
  for daemon in slurmd slurmctld munged; do
    if [ -f "$dir/$daemon.pid" ]; then
      pid="$(cat "$dir/$daemon.pid")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$dir/$daemon.pid"
    fi
  done
}

if [ "$mode" = stop ]; then
  stop
  exit 0
fi

missing=()
for p in slurmctld slurmd slurm-client munge; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The package's postinst creates munge's key; a machine without one gets a fresh key.
[ -s /etc/munge/munge.key ] || { mkdir -p /etc/munge; dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none;
                                 chown munge:munge /etc/munge/munge.key 2>/dev/null || true; chmod 400 /etc/munge/munge.key; }
stop  # a cluster left running in this folder
mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
node="$(hostname -s)"
cat > "$SLURM_CONF" <<CONF
ClusterName=esrun
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket.2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
# munged refuses to run as root without --force.
munged --force --socket="$dir/munge/munge.socket.2" --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" \
       --seed-file="$dir/munged.seed"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 60); do
  state="$(sinfo --noheader --format=%t 2>/dev/null || true)"
  if [ "$state" = idle ]; then
    echo "== Slurm is up ($node, $(nproc) CPUs): export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 0.5
done
echo "Slurm did not come up within 30 s (node state '${state:-none}'); see $dir/slurmctld.log and $dir/slurmd.log" >&2
tail -n 5 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
stop
exit 1
