#!/usr/bin/env bash
# Accounting throughput, side by side: mobix (serve, embedded SQLite, every change durable
# before its Accounting-Response) and FreeRADIUS 3.2 (Debian's, rlm_sql with the sqlite
# driver writing radacct), driven by the same load generator, alternating in one run.
# Then one in-process run for the session lookup latency under that load.
# Usage: bench/run_radius_acct.sh [RUNS] [SECONDS]     (prints markdown table rows)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh # the whole output is kept in bench/results/<date>-radius_acct-<time>/
bench_results radius_acct
RUNS=${1:-3}
SECS=${2:-10}
SECRET=bench-secret-123
B=build/release
[ -x $B/bench/bench_radius_acct ] || { cmake --preset release >/dev/null && cmake --build --preset release; }
dpkg -s freeradius >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq freeradius >/dev/null
T=$(mktemp -d /tmp/mobix-bench-XXXXXX)
chmod 755 "$T"  # FreeRADIUS drops to the freerad user
PIDS=()
# Waits on its servers by PID: a bare `wait` would also wait for the tee keeping this output.
trap 'for p in "${PIDS[@]:-}"; do kill $p 2>/dev/null || true; done; for p in "${PIDS[@]:-}"; do wait $p 2>/dev/null || true; done; rm -rf "$T"' EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run_mobix() {
  local d=$T/mobix-$1 port; port=$(free_port); mkdir -p $d
  cat >$d/mobix.yaml <<YAML
log: {level: warn}
store: {path: mobix.db}
admin: {listen: "127.0.0.1:0", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:0
    acct_listen: 127.0.0.1:$port
    clients: [{name: bench, address: 127.0.0.0/8, secret: $SECRET}]
YAML
  $B/apps/mobix/mobix serve --config $d/mobix.yaml & local pid=$!; PIDS+=($pid)
  sleep 0.3
  $B/bench/bench_radius_acct --target 127.0.0.1:$port --secret $SECRET --seconds "$SECS" | awk '{print $2}'
  kill $pid; wait $pid 2>/dev/null || true
}

run_freeradius() {
  local d=$T/fr-$1 port; port=$(free_port); mkdir -p $d
  cp -a /etc/freeradius/3.0 $d/raddb
  rm -f $d/raddb/sites-enabled/* $d/raddb/mods-enabled/eap
  cat >$d/raddb/sites-enabled/bench <<CONF
server bench {
  listen {
    type = acct
    ipaddr = 127.0.0.1
    port = $port
  }
  preacct {
    preprocess
    acct_unique
  }
  accounting {
    sql
    attr_filter.accounting_response
  }
}
CONF
  cat >$d/raddb/clients.conf <<CONF
client bench {
  ipaddr = 127.0.0.1
  secret = $SECRET
}
CONF
  sed -i -e 's|^\tdriver = "rlm_sql_null"|\tdriver = "rlm_sql_${dialect}"|' \
         -e "s|filename = \"/tmp/freeradius.db\"|filename = \"$d/radacct.db\"|" $d/raddb/mods-available/sql
  ln -sf ../mods-available/sql $d/raddb/mods-enabled/sql
  sed -i -e "s|^logdir = .*|logdir = $d|" $d/raddb/radiusd.conf
  chown -R freerad:freerad $d
  freeradius -f -d $d/raddb -l $d/radius.log & local pid=$!; PIDS+=($pid)
  for _ in $(seq 50); do grep -q "Ready to process" $d/radius.log 2>/dev/null && break; sleep 0.1; done
  $B/bench/bench_radius_acct --target 127.0.0.1:$port --secret $SECRET --seconds "$SECS" | awk '{print $2}'
  kill $pid; wait $pid 2>/dev/null || true
  local rows; rows=$(sqlite3 "$d/radacct.db" "select count(*) from radacct" 2>&1 || true)
  echo "freeradius run $1: radacct rows written: $rows" >&2
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
minmax() { sort -n | awk 'NR==1{mn=$1} {mx=$1} END {print mn "–" mx}'; }
M=(); F=()
for r in $(seq "$RUNS"); do
  M+=("$(run_mobix $r)"); F+=("$(run_freeradius $r)")
  echo "run $r: mobix ${M[-1]}/s freeradius ${F[-1]}/s" >&2
done
mm=$(printf '%s\n' "${M[@]}" | median); fm=$(printf '%s\n' "${F[@]}" | median)
ratio=$(awk -v a="$mm" -v b="$fm" 'BEGIN {printf "%.1f", (b > 0 ? a / b : 0)}')
inproc=$($B/bench/bench_radius_acct --inprocess --seconds "$SECS")
p50=$(echo "$inproc" | awk '/lookup_p50_us/ {print $2}'); p99=$(echo "$inproc" | awk '/lookup_p99_us/ {print $2}')
machine="$(nproc) cores, $(uname -r)"
echo "| Accounting-Requests/s, durable before response (median of $RUNS × ${SECS}s) | $mm ($(printf '%s\n' "${M[@]}" | minmax)) | FreeRADIUS 3.2 + rlm_sql sqlite: $fm ($(printf '%s\n' "${F[@]}" | minmax)) | ×$ratio | \`bench/run_radius_acct.sh $RUNS $SECS\` | $(date -u +%F) | $machine |"
echo "| Session lookup by IP under accounting load, in-process (p50 / p99) | $p50 µs / $p99 µs | — | — | \`bench/run_radius_acct.sh $RUNS $SECS\` | $(date -u +%F) | $machine |"
