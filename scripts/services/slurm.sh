# Sourced by scripts/test: a single-node Slurm cluster (Debian's slurm-wlm
# and munge) configured in a temp dir.
#   slurm_start DIR   munged + slurmctld + slurmd; exports SLURM_CONF and CLINOMICS_TEST_SLURM=1
#   slurm_stop        stops them
# Jobs run as the calling user on this machine, which shares the filesystem.

_slurm_pid() { [[ -f $1 ]] && cat "$1"; }

slurm_start() {
  local dir=$1 host cpus mem ctlport dport
  mkdir -p "$dir"/{state,spool,munge}
  chmod 755 "$dir"
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(awk '/MemTotal/ {print int($2/1024*0.9)}' /proc/meminfo)
  ctlport=$(free_port); dport=$(free_port)

  # munge: its own key, socket and files, owned by the munge user.
  local m=$dir/munge
  if [[ $(id -u) == 0 ]]; then
    mungekey --create --keyfile="$m/munge.key" --force 2>/dev/null \
      || dd if=/dev/urandom of="$m/munge.key" bs=1 count=1024 status=none
    chown -R munge: "$m"; chmod 755 "$m"; chmod 600 "$m/munge.key"
    runuser -u munge -- /usr/sbin/munged --socket="$m/munge.socket" --key-file="$m/munge.key" \
      --pid-file="$m/munged.pid" --seed-file="$m/munged.seed" --log-file="$m/munged.log" \
      || { cat "$m/munged.log" >&2; return 1; }
  else
    echo "slurm.sh: starting munged and slurmd needs root" >&2
    return 1
  fi
  _SLURM_DIR=$dir

  cat >"$dir/slurm.conf" <<CONF
ClusterName=clinomics-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctlport
SlurmdPort=$dport
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$m/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
MinJobAge=600
DefMemPerCPU=1024
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF=$dir/slurm.conf
  /usr/sbin/slurmctld -i -f "$SLURM_CONF" || { cat "$dir/slurmctld.log" >&2; return 1; }
  /usr/sbin/slurmd -f "$SLURM_CONF" -N "$host" || { cat "$dir/slurmd.log" >&2; return 1; }
  local state
  for _ in $(seq 60); do
    state=$(sinfo -h -N -o %t 2>/dev/null | head -1)
    [[ $state == idle ]] && break
    sleep 1
  done
  if [[ $state != idle ]]; then
    echo "slurm.sh: node never became idle (state '$state')" >&2
    tail -20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2
    return 1
  fi
  export CLINOMICS_TEST_SLURM=1
  echo "slurm: single node $host ($cpus CPUs, $mem MB) up" >&2
}

slurm_stop() {
  [[ -n ${_SLURM_DIR:-} ]] || return 0
  local d=$_SLURM_DIR p
  for f in "$d/slurmd.pid" "$d/slurmctld.pid" "$d/munge/munged.pid"; do
    p=$(_slurm_pid "$f") && kill "$p" 2>/dev/null || true
  done
  sleep 1
  for f in "$d/slurmd.pid" "$d/slurmctld.pid" "$d/munge/munged.pid"; do
    p=$(_slurm_pid "$f") && kill -9 "$p" 2>/dev/null || true
  done
  _SLURM_DIR=
}
