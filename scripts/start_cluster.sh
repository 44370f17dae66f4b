#!/usr/bin/env bash
# The seed's shell procedure: an etcd (a local one is started when none answers), one
# `coordha run` of each coordinator (rootcoord, datacoord, querycoord, indexcoord) and of each
# worker (querynode, datanode, indexnode) in the background with nohup. Active-standby is on, so
# more replicas can join by hand (below).
#
# Usage:
#   scripts/start_cluster.sh [start] [--dir DIR]   start everything (DIR default: ./coordha-cluster)
#   scripts/start_cluster.sh stop [--dir DIR]      SIGTERM what start started and wait for it
#
# DIR/logs/<role>.log, DIR/logs/etcd.log   the processes' output
# DIR/pids/<role>.pid, DIR/pids/etcd.pid   their PIDs (etcd.* only for an etcd started here)
# DIR/etcd                                 that etcd's data
#
# Environment:
#   ETCD_ENDPOINTS  etcd to use; default localhost:2379 (or the config file's). When nothing
#                   answers there and it names one port on this machine (localhost or
#                   127.0.0.1), an etcd is started on it.
#   COORDHA_BIN     the coordha binary; default build/src/cli/coordha, else coordha on PATH.
#   COORDHA_CONFIG  a YAML file given to every coordha command here as --config (optional).
#   ROOT_COORD_ENABLE_ACTIVE_STANDBY, DATA_COORD_..., QUERY_COORD_..., INDEX_COORD_...: default
#                   true here. Every other variable coordha reads (ROOT_COORD_PORT,
#                   COMMON_SESSION_TTL, ...) reaches the coordinators as it is.
#
# Add a standby by hand, as the seed does (the metrics port moves to a free one by itself):
#   export ROOT_COORD_ENABLE_ACTIVE_STANDBY=true
#   nohup coordha run rootcoord --set rootCoord.port=53001 > standby.log 2>&1 &
#   coordha status
# `stop` stops only what `start` started: stop a standby added by hand with `kill <pid>`.
set -euo pipefail

ROLES=(rootcoord datacoord querycoord indexcoord)
WORKERS=(querynode datanode indexnode)
STOP_WAIT_SECONDS=20   # a graceful stop takes a few seconds (drain, resign, revoke)
READY_WAIT_SECONDS=30  # each role has an active within this, or start fails

die() { echo "start_cluster: $*" >&2; exit 1; }
say() { echo "start_cluster: $*"; }

usage() {
  echo "usage: scripts/start_cluster.sh [start|stop] [--dir DIR]" >&2
  exit 2
}

action=start
dir=${COORDHA_CLUSTER_DIR:-./coordha-cluster}
while [[ $# -gt 0 ]]; do
  case "$1" in
    start | stop) action=$1 ;;
    --dir) [[ $# -ge 2 ]] || usage; dir=$2; shift ;;
    --dir=*) dir=${1#--dir=} ;;
    -h | --help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage ;;
  esac
  shift
done
if [[ ! -d $dir ]]; then
  [[ $action == stop ]] && { say "nothing to stop: $dir does not exist"; exit 0; }
  mkdir -p "$dir"
fi
dir=$(cd "$dir" && pwd)
log_dir=$dir/logs
pid_dir=$dir/pids

find_coordha() {
  if [[ -n ${COORDHA_BIN:-} ]]; then
    local bin=$COORDHA_BIN
    [[ $bin == */* ]] || bin=$(command -v "$bin" || true)
    [[ -n $bin && -x $bin && ! -d $bin ]] || die "COORDHA_BIN=$COORDHA_BIN is not an executable"
    echo "$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
  elif [[ -x $(dirname "$0")/../build/src/cli/coordha ]]; then
    (cd "$(dirname "$0")/../build/src/cli" && echo "$PWD/coordha")
  elif command -v coordha >/dev/null; then
    command -v coordha
  else
    die "coordha not found: build it (scripts/up.sh builds build/src/cli/coordha) or set COORDHA_BIN"
  fi
}

# The PID in DIR/pids/<name>.pid when that process still runs and is the one we started (its
# command line is checked, so a reused PID is never signalled).
live_pid() {  # live_pid NAME
  local file=$pid_dir/$1.pid pid mark=" run $1 "
  [[ $1 == etcd ]] && mark=" --name=coordha-cluster "
  [[ -f $file ]] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "$mark" || return 1
  echo "$pid"
}

port_in_use() {
  if command -v ss >/dev/null; then
    [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

# 0 when etcd answers, 1 when not; a configuration error (exit 2) ends the script with its line.
etcd_answers() {
  local out rc=0
  out=$("$coordha" status "${config_args[@]}" 2>&1 >/dev/null) || rc=$?
  ((rc != 2)) || die "${out#coordha: }"
  return "$rc"
}

# SIGTERM each process, wait for all of them, SIGKILL what is left after STOP_WAIT_SECONDS.
stop_names() {  # stop_names NAME...
  local name pid
  local -A pids=()
  for name in "$@"; do
    if pid=$(live_pid "$name"); then
      kill -TERM "$pid" 2>/dev/null || true
      pids[$name]=$pid
    fi
    rm -f "$pid_dir/$name.pid"
  done
  local waited=0
  while [[ ${#pids[@]} -gt 0 ]]; do
    for name in "${!pids[@]}"; do
      if ! kill -0 "${pids[$name]}" 2>/dev/null; then
        say "stopped $name (pid ${pids[$name]})"
        unset "pids[$name]"
      fi
    done
    [[ ${#pids[@]} -eq 0 ]] && break
    if ((waited >= STOP_WAIT_SECONDS * 10)); then
      for name in "${!pids[@]}"; do
        say "$name (pid ${pids[$name]}) did not stop within ${STOP_WAIT_SECONDS}s; killing it"
        kill -KILL "${pids[$name]}" 2>/dev/null || true
        unset "pids[$name]"
      done
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

stop_all() {
  stop_names "${WORKERS[@]}" "${ROLES[@]}"
  # Processes started by hand outlive the etcd stopped below; they keep retrying it (S6).
  if [[ -n ${coordha:-} && -f $pid_dir/etcd.endpoint ]] && live_pid etcd >/dev/null; then
    local others
    # One session object per line; nlohmann's JSON lists keys in order (pid, role, serverId).
    others=$(ETCD_ENDPOINTS=$(<"$pid_dir/etcd.endpoint") "$coordha" status --json 2>/dev/null |
      sed 's/{/\n{/g' |
      sed -n 's/.*"pid":\([0-9]*\),"role":"\([a-z]*\)","serverId":\([0-9]*\).*/\2 server \3 (pid \1)/p' |
      paste -sd, - | sed 's/,/, /g')
    if [[ -n $others ]]; then
      say "still registered, not started here: $others; stop them with kill <pid>"
    fi
  fi
  stop_names etcd
  rm -f "$pid_dir/etcd.endpoint"
}

if [[ $action == stop ]]; then
  coordha=$(find_coordha 2>/dev/null) || coordha=""
  stop_all
  exit 0
fi

coordha=$(find_coordha)
export ROOT_COORD_ENABLE_ACTIVE_STANDBY=${ROOT_COORD_ENABLE_ACTIVE_STANDBY:-true}
export DATA_COORD_ENABLE_ACTIVE_STANDBY=${DATA_COORD_ENABLE_ACTIVE_STANDBY:-true}
export QUERY_COORD_ENABLE_ACTIVE_STANDBY=${QUERY_COORD_ENABLE_ACTIVE_STANDBY:-true}
export INDEX_COORD_ENABLE_ACTIVE_STANDBY=${INDEX_COORD_ENABLE_ACTIVE_STANDBY:-true}
config_args=()
if [[ -n ${COORDHA_CONFIG:-} ]]; then
  [[ -r $COORDHA_CONFIG ]] || die "COORDHA_CONFIG=$COORDHA_CONFIG is not readable"
  config_args=(--config "$COORDHA_CONFIG")
fi
# Without either, coordha's own default; a config file's etcd.endpoints must not be overridden.
[[ -n ${ETCD_ENDPOINTS:-} || -n ${COORDHA_CONFIG:-} ]] || export ETCD_ENDPOINTS=localhost:2379
etcd_desc=${ETCD_ENDPOINTS:-etcd.endpoints of ${COORDHA_CONFIG:-}}

for name in etcd "${ROLES[@]}" "${WORKERS[@]}"; do
  if pid=$(live_pid "$name"); then
    die "$name already runs (pid $pid, $pid_dir/$name.pid); run 'scripts/start_cluster.sh stop --dir $dir' first"
  fi
done
mkdir -p "$log_dir" "$pid_dir"

# An interrupted start stops what it started.
trap 'echo; say "interrupted"; stop_all; exit 130' INT TERM

# etcd.
if etcd_answers; then
  say "using etcd at $etcd_desc (already running)"
else
  if [[ ! ${ETCD_ENDPOINTS:-} =~ ^(http://)?(localhost|127\.0\.0\.1):([0-9]+)/?$ ]]; then
    die "etcd at $etcd_desc does not answer; start it, or set ETCD_ENDPOINTS=localhost:2379 for a local one"
  fi
  client_port=${BASH_REMATCH[3]}
  etcd_bin=$(command -v etcd || true)
  [[ -z $etcd_bin && -x /usr/bin/etcd ]] && etcd_bin=/usr/bin/etcd
  [[ -n $etcd_bin ]] || die "etcd not found: install etcd-server or set ETCD_ENDPOINTS"
  port_in_use "$client_port" &&
    die "port $client_port is taken by something that does not answer as etcd; stop it or set ETCD_ENDPOINTS"
  peer_port=$((client_port + 1))
  while port_in_use "$peer_port"; do peer_port=$((peer_port + 1)); done
  client_url=http://127.0.0.1:$client_port
  peer_url=http://127.0.0.1:$peer_port
  # etcd reads ETCD_* variables as its own flags: keep ours from it.
  env -u ETCD_ENDPOINTS nohup "$etcd_bin" --name=coordha-cluster --data-dir="$dir/etcd" \
    --listen-client-urls="$client_url" --advertise-client-urls="$client_url" \
    --listen-peer-urls="$peer_url" --initial-advertise-peer-urls="$peer_url" \
    --initial-cluster="coordha-cluster=$peer_url" --logger=zap --log-outputs=stderr \
    >"$log_dir/etcd.log" 2>&1 &
  echo $! >"$pid_dir/etcd.pid"
  echo "127.0.0.1:$client_port" >"$pid_dir/etcd.endpoint"
  say "started etcd (pid $!) on $client_url, data in $dir/etcd, log $log_dir/etcd.log"
  for _ in $(seq 1 50); do
    etcd_answers && break
    live_pid etcd >/dev/null ||
      die "etcd exited; see $log_dir/etcd.log: $(tail -n 1 "$log_dir/etcd.log")"
    sleep 0.2
  done
  etcd_answers || { stop_all; die "etcd did not answer within 10s; see $log_dir/etcd.log"; }
fi

# One replica of each coordinator.
for role in "${ROLES[@]}"; do
  nohup "$coordha" run "$role" "${config_args[@]}" >"$log_dir/$role.log" 2>&1 &
  echo $! >"$pid_dir/$role.pid"
  say "started $role (pid $!), log $log_dir/$role.log"
done

# One of each worker (never exclusive: more can join by hand the same way, on other ports).
for role in "${WORKERS[@]}"; do
  nohup "$coordha" run "$role" "${config_args[@]}" >"$log_dir/$role.log" 2>&1 &
  echo $! >"$pid_dir/$role.pid"
  say "started $role (pid $!), log $log_dir/$role.log"
done

# Wait until each role has an active and each worker is registered; a process that exits fails
# the start.
waited=0
while true; do
  table=$("$coordha" status "${config_args[@]}" 2>/dev/null || true)
  ready=0
  for role in "${ROLES[@]}" "${WORKERS[@]}"; do
    if ! live_pid "$role" >/dev/null; then
      line=$(grep -v '^$' "$log_dir/$role.log" | tail -n 1)
      stop_all
      die "$role exited: ${line:-no output}; see $log_dir/$role.log"
    fi
    grep -qE "^$role +[0-9]+ .*(\* active|worker) +Healthy " <<<"$table" && ready=$((ready + 1))
  done
  ((ready == ${#ROLES[@]} + ${#WORKERS[@]})) && break
  if ((waited >= READY_WAIT_SECONDS * 2)); then
    stop_all
    die "not every role had an active (and every worker registered) within ${READY_WAIT_SECONDS}s; see $log_dir/"
  fi
  sleep 0.5
  waited=$((waited + 1))
done
trap - INT TERM
echo "$table"
say "cluster is up; stop it with: scripts/start_cluster.sh stop --dir $dir"
