#!/usr/bin/env bash
# The seed's shell procedure, end to end: scripts/start_cluster.sh on a private etcd (free ports,
# a temporary folder), one active per coordinator, a standby rootcoord added by hand exactly as
# the script's header and the README say, a kill -9 of the active rootcoord that the standby takes
# over, then `start_cluster.sh stop`.
#
# Usage: tests/deploy/start_cluster_test.sh [COORDHA_BINARY]   (else COORDHA_BIN, else the
# script's own search). Exit 0 pass, 1 fail, 77 skipped (a tool is missing).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
script=$root/scripts/start_cluster.sh
[[ $# -ge 1 ]] && export COORDHA_BIN=$1
if [[ -z ${COORDHA_BIN:-} ]]; then
  if [[ -x $root/build/src/cli/coordha ]]; then
    export COORDHA_BIN=$root/build/src/cli/coordha
  else
    COORDHA_BIN=$(command -v coordha || true)
  fi
fi
skip() { echo "SKIP: $*"; exit 77; }
[[ -n $COORDHA_BIN && -x $COORDHA_BIN ]] || skip "no coordha binary (pass it or set COORDHA_BIN)"
COORDHA_BIN=$(cd "$(dirname "$COORDHA_BIN")" && pwd)/$(basename "$COORDHA_BIN")
command -v etcd >/dev/null || skip "etcd not installed (etcd-server)"
command -v ss >/dev/null || skip "ss not installed (iproute2)"

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "-- $*"; }

# Everything coordha reads from the environment is ours alone here.
while IFS='=' read -r name _; do
  case "$name" in
    ETCD_* | ROOT_COORD_* | DATA_COORD_* | QUERY_COORD_* | INDEX_COORD_* | METRICS_* | COMMON_* | \
      LOG_* | COORDHA_CONFIG | COORDHA_CLUSTER_DIR) unset "$name" ;;
  esac
done < <(env)

used_ports=" "
free_port() {
  local port
  while true; do
    port=$((20000 + RANDOM % 30000))
    [[ $used_ports == *" $port "* ]] && continue
    [[ -n $(ss -Hltn "sport = :$port") || -n $(ss -Hltn "sport = :$((port + 1))") ]] && continue
    used_ports+="$port $((port + 1)) "
    echo "$port"
    return
  done
}

tmp=$(mktemp -d /tmp/coordha-start-cluster.XXXXXX)
dir=$tmp/cluster
standby_pid=""
cleanup() {
  [[ -n $standby_pid ]] && kill -TERM "$standby_pid" 2>/dev/null || true
  "$script" stop --dir "$dir" >/dev/null 2>&1 || true
  [[ -n $standby_pid ]] && kill -KILL "$standby_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

etcd_port=$(free_port)
export ETCD_ENDPOINTS=127.0.0.1:$etcd_port
export ROOT_COORD_PORT DATA_COORD_PORT QUERY_COORD_PORT INDEX_COORD_PORT
ROOT_COORD_PORT=$(free_port)
DATA_COORD_PORT=$(free_port)
QUERY_COORD_PORT=$(free_port)
INDEX_COORD_PORT=$(free_port)
export QUERY_NODE_PORT DATA_NODE_PORT INDEX_NODE_PORT
QUERY_NODE_PORT=$(free_port)
DATA_NODE_PORT=$(free_port)
INDEX_NODE_PORT=$(free_port)
standby_port=$(free_port)
# A short TTL keeps the test quick should a takeover have to wait for it.
export COMMON_SESSION_TTL=4

# "role serverId active state pid" per session, from `coordha status --json`.
sessions() {
  local obj
  "$COORDHA_BIN" status --json | sed 's/{/\n{/g' | while read -r obj; do
    [[ $obj == *'"serverId":'* ]] || continue
    echo "$(grep -o '"role":"[a-z]*"' <<<"$obj" | cut -d'"' -f4)" \
      "$(grep -o '"serverId":[0-9]*' <<<"$obj" | cut -d: -f2)" \
      "$(grep -o '"active":[a-z]*' <<<"$obj" | cut -d: -f2)" \
      "$(grep -o '"state":"[A-Za-z]*"' <<<"$obj" | cut -d'"' -f4)" \
      "$(grep -o '"pid":[0-9]*' <<<"$obj" | cut -d: -f2)"
  done
}

# rootcoord_is PID ACTIVE STATE: that process's rootcoord session is in that state.
rootcoord_is() {
  [[ $(sessions | awk -v p="$1" -v a="$2" -v s="$3" \
    '$1 == "rootcoord" && $5 == p && $3 == a && $4 == s' | wc -l) -eq 1 ]]
}
gone() { ! kill -0 "$1" 2>/dev/null; }

# await SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds or time is up.
await() {
  local limit=$(($1 * 10)) i
  shift
  for ((i = 0; i < limit; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

step "start_cluster.sh --dir $dir (etcd on $ETCD_ENDPOINTS)"
"$script" --dir "$dir" || fail "start_cluster.sh failed"
for f in etcd rootcoord datacoord querycoord indexcoord querynode datanode indexnode; do
  [[ -s $dir/pids/$f.pid ]] || fail "no $dir/pids/$f.pid"
  [[ -f $dir/logs/$f.log ]] || fail "no $dir/logs/$f.log"
done

step "one active per coordinator"
view=$(sessions) || fail "coordha status failed"
echo "$view"
for role in rootcoord datacoord querycoord indexcoord; do
  n=$(awk -v r="$role" '$1 == r' <<<"$view" | wc -l)
  a=$(awk -v r="$role" '$1 == r && $3 == "true" && $4 == "Healthy"' <<<"$view" | wc -l)
  [[ $n -eq 1 && $a -eq 1 ]] || fail "$role: $n sessions, $a healthy actives (want 1 and 1)"
done
for role in querynode datanode indexnode; do
  n=$(awk -v r="$role" '$1 == r && $4 == "Healthy"' <<<"$view" | wc -l)
  [[ $n -eq 1 ]] || fail "$role: $n healthy sessions (want 1)"
done
active_pid=$(awk '$1 == "rootcoord" && $3 == "true" {print $5}' <<<"$view")
[[ $active_pid == "$(<"$dir/pids/rootcoord.pid")" ]] || fail "active rootcoord is not the started one"

step "a standby rootcoord by hand: ROOT_COORD_ENABLE_ACTIVE_STANDBY=true, --set rootCoord.port=$standby_port"
(
  cd "$tmp"
  export ROOT_COORD_ENABLE_ACTIVE_STANDBY=true
  nohup "$COORDHA_BIN" run rootcoord --set rootCoord.port="$standby_port" >standby.log 2>&1 &
  echo $! >standby.pid
)
standby_pid=$(<"$tmp/standby.pid")
await 15 rootcoord_is "$standby_pid" false StandBy ||
  fail "the hand-started rootcoord is not a standby: $(sessions | grep rootcoord | tr '\n' ';'); log: $(tail -n 3 "$tmp/standby.log")"
grep -q "is standby; active is server" "$tmp/standby.log" || fail "standby.log does not say it is standby"
sessions | grep rootcoord

step "kill -9 the active rootcoord (pid $active_pid): the standby takes over"
kill -KILL "$active_pid"
await 15 rootcoord_is "$standby_pid" true Healthy ||
  fail "the standby did not take over: $(sessions | grep rootcoord | tr '\n' ';')"
grep "is active" "$tmp/standby.log" | tail -n 1

step "stop"
kill -TERM "$standby_pid"
await 15 gone "$standby_pid" || fail "the hand-started standby did not stop on SIGTERM"
standby_pid=""
"$script" stop --dir "$dir" || fail "start_cluster.sh stop failed"
for f in "$dir"/pids/*.pid; do
  [[ -e $f ]] && fail "left behind: $f"
done
[[ -z $(ss -Hltn "sport = :$etcd_port") ]] || fail "etcd still listens on $etcd_port"
for port in "$ROOT_COORD_PORT" "$DATA_COORD_PORT" "$QUERY_COORD_PORT" "$INDEX_COORD_PORT" \
  "$QUERY_NODE_PORT" "$DATA_NODE_PORT" "$INDEX_NODE_PORT"; do
  [[ -z $(ss -Hltn "sport = :$port") ]] || fail "port $port still listened on"
done
echo "PASS"
