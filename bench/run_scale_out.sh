#!/usr/bin/env bash
# Durable accounting over one local PostgreSQL 15 (issue 14 item 8), side by side in one run:
# one mobix node, two mobix nodes (a load generator per node, same total load), and FreeRADIUS 3.2
# with rlm_sql on PostgreSQL (Debian's freeradius-postgresql, its radacct schema and queries), all
# driven by bench_radius_acct; each change committed with synchronous_commit on before its answer.
# Then the cross-node visibility (a Start acknowledged by node A until node B's table has it), idle
# and under load. PostgreSQL runs with fsync on. Prints markdown rows; raw output in bench/results/.
# Usage: bench/run_scale_out.sh [RUNS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
SECS=${2:-10}
SECRET=bench-secret-123
B=build/release
[ -x $B/bench/bench_radius_acct ] || { cmake --preset release >/dev/null && cmake --build --preset release; }
dpkg -s freeradius-postgresql >/dev/null 2>&1 ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq freeradius freeradius-postgresql >/dev/null
source bench/lib.sh
bench_results scale_out
raw=$OUT/rounds.txt
T=$(mktemp -d /tmp/mobix-bench-XXXXXX)
chmod 755 "$T"
PIDS=()
PG=/usr/lib/postgresql/15/bin
cleanup() {
  for p in "${PIDS[@]:-}"; do kill $p 2>/dev/null || true; done
  wait_jobs
  runuser -u postgres -- $PG/pg_ctl -D "$T/pg/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1]=="u" else socket.SOCK_STREAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }

# --- PostgreSQL, fsync on (durable means on disk)
P_PG=$(free_port t)
mkdir -p "$T/pg" && chown postgres:postgres "$T/pg"
runuser -u postgres -- $PG/initdb -D "$T/pg/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
runuser -u postgres -- $PG/pg_ctl -D "$T/pg/data" -l "$T/pg/pg.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $P_PG -k $T/pg -c max_connections=200 -c shared_buffers=256MB" start >/dev/null
psql() { command psql -h 127.0.0.1 -p "$P_PG" -U postgres -qAt "$@"; }
PG_MASTER=$(head -1 "$T/pg/data/postmaster.pid")
HZ=$(getconf CLK_TCK)
# CPU ticks used so far by PostgreSQL (postmaster and every backend) and by the given processes: the
# whole server side of the path. Fields after the command name, which sits in parentheses.
server_ticks() {
  local total=0 p u s
  for p in "$PG_MASTER" $(pgrep -P "$PG_MASTER") "$@"; do
    read -r u s < <(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12, $13}' || true)
    total=$((total + ${u:-0} + ${s:-0}))
  done
  echo "$total"
}
# CPU milliseconds per 1,000 requests: TICKS over RATE requests/s for SECS seconds.
cpu_per_k() { awk -v t="$1" -v hz="$HZ" -v r="$2" -v s="$SECS" 'BEGIN {printf "%.0f", (r > 0 ? t * 1000 / hz / (r * s / 1000) : 0)}'; }
fresh_db() { psql -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null 2>&1; }

# --- mobix nodes over one database
start_node() { # NAME DB: sets NODE_ACCT and NODE_ADMIN (not in a subshell: PIDS must keep the node)
  local d=$T/$1 port admin; port=$(free_port u); admin=$(free_port t); mkdir -p "$d"
  cat >"$d/mobix.yaml" <<YAML
node: $1
log: {level: warn}
store: {backend: postgresql, dsn: "host=127.0.0.1 port=$P_PG user=postgres dbname=$2"}
admin: {listen: "127.0.0.1:$admin", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:0
    acct_listen: 127.0.0.1:$port
    clients: [{name: bench, address: 127.0.0.0/8, secret: $SECRET}]
YAML
  $B/apps/mobix/mobix serve --config "$d/mobix.yaml" >"$d/serve.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$admin/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
  NODE_ACCT=$port NODE_ADMIN=$admin
}
load() { # PORT CLIENTS: answered requests/s
  $B/bench/bench_radius_acct --target 127.0.0.1:$1 --secret $SECRET --seconds "$SECS" --clients "${2:-2}" |
    awk '/accounting_requests_per_second/ {print $2}'
}
stop_nodes() { for p in "${PIDS[@]}"; do kill $p 2>/dev/null || true; done; sleep 0.5; for p in "${PIDS[@]}"; do kill -9 $p 2>/dev/null || true; done; wait_jobs; PIDS=(); }

run_one() { # prints: requests/s, CPU-ms per 1,000 requests (node + PostgreSQL)
  fresh_db mobix1
  start_node n1 mobix1
  local t0 rate; t0=$(server_ticks "${PIDS[@]}")
  rate=$(load "$NODE_ACCT" 2)
  echo "$rate $(cpu_per_k $(($(server_ticks "${PIDS[@]}") - t0)) "$rate")"
  stop_nodes
}
run_two() {
  fresh_db mobix2
  start_node na mobix2
  local pa=$NODE_ACCT
  start_node nb mobix2
  local pb=$NODE_ACCT
  # Half the load on each node; the generators' address slices must not overlap across processes,
  # so node b's generator works on another /16 through a different session count offset.
  local fa=$T/a.out fb=$T/b.out t0; t0=$(server_ticks "${PIDS[@]}")
  load "$pa" 1 >"$fa" & local ga=$!
  $B/bench/bench_radius_acct --target 127.0.0.1:$pb --secret $SECRET --seconds "$SECS" --clients 1 --sessions 20000 --first 20000 |
    awk '/accounting_requests_per_second/ {print $2}' >"$fb"
  wait $ga
  local rate=$(($(cat "$fa") + $(cat "$fb")))
  echo "$rate $(cpu_per_k $(($(server_ticks "${PIDS[@]}") - t0)) "$rate")"
  stop_nodes
}
run_freeradius() {
  fresh_db radius
  psql -d radius -f /etc/freeradius/3.0/mods-config/sql/main/postgresql/schema.sql >/dev/null
  local d=$T/fr port; port=$(free_port u); rm -rf "$d"; mkdir -p "$d"
  cp -a /etc/freeradius/3.0 "$d/raddb"
  rm -f "$d"/raddb/sites-enabled/* "$d/raddb/mods-enabled/eap"
  cat >"$d/raddb/sites-enabled/bench" <<CONF
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
  printf 'client bench {\n  ipaddr = 127.0.0.1\n  secret = %s\n}\n' "$SECRET" >"$d/raddb/clients.conf"
  sed -i -e 's|^\tdriver = "rlm_sql_null"|\tdriver = "rlm_sql_${dialect}"|' \
    -e 's|^\tdialect = "sqlite"|\tdialect = "postgresql"|' \
    -e "s|^#\?\s*server = \"localhost\"|\tserver = \"127.0.0.1\"|" \
    -e "s|^#\?\s*port = 3306|\tport = $P_PG|" \
    -e 's|^#\?\s*login = "radius"|\tlogin = "postgres"|' \
    -e 's|^#\?\s*password = "radpass"|\tpassword = ""|' \
    -e 's|^\tradius_db = "radius"|\tradius_db = "radius"|' "$d/raddb/mods-available/sql"
  ln -sf ../mods-available/sql "$d/raddb/mods-enabled/sql"
  sed -i -e "s|^logdir = .*|logdir = $d|" "$d/raddb/radiusd.conf"
  chown -R freerad:freerad "$d"
  freeradius -f -d "$d/raddb" -l "$d/radius.log" &
  local pid=$!
  PIDS+=($pid)
  for _ in $(seq 100); do grep -q "Ready to process" "$d/radius.log" 2>/dev/null && break; sleep 0.1; done
  grep -q "Ready to process" "$d/radius.log" || { tail -20 "$d/radius.log" >&2; echo "0 0"; return; }
  local t0 rate; t0=$(server_ticks "$pid")
  rate=$(load "$port" 2)
  echo "$rate $(cpu_per_k $(($(server_ticks "$pid") - t0)) "$rate")"
  stop_nodes
  echo "freeradius: radacct rows $(psql -d radius -c 'select count(*) from radacct')" >&2
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
minmax() { sort -n | awk 'NR==1{mn=$1} {mx=$1} END {print mn "–" mx}'; }
ONE=() TWO=() FR=() ONE_CPU=() TWO_CPU=() FR_CPU=()
for r in $(seq "$RUNS"); do
  read -r a ac <<<"$(run_one)"; read -r b bc <<<"$(run_two)"; read -r f fc <<<"$(run_freeradius)"
  ONE+=("$a") ONE_CPU+=("$ac") TWO+=("$b") TWO_CPU+=("$bc") FR+=("$f") FR_CPU+=("$fc")
  echo "run $r: one node $a/s ($ac CPU-ms/1k), two nodes $b/s ($bc CPU-ms/1k), freeradius $f/s ($fc CPU-ms/1k)" | tee -a "$raw" >&2
done
one=$(printf '%s\n' "${ONE[@]}" | median); two=$(printf '%s\n' "${TWO[@]}" | median); fr=$(printf '%s\n' "${FR[@]}" | median)
one_cpu=$(printf '%s\n' "${ONE_CPU[@]}" | median); two_cpu=$(printf '%s\n' "${TWO_CPU[@]}" | median)
fr_cpu=$(printf '%s\n' "${FR_CPU[@]}" | median)

# --- visibility: idle, then with node a and node b under the accounting load
fresh_db vis
start_node va vis
pa=$NODE_ACCT
start_node vb vis
admin_b=$NODE_ADMIN
/usr/bin/python3 bench/visibility.py 127.0.0.1:$pa $SECRET 127.0.0.1:$admin_b 300 >"$T/vis_idle.txt"
load "$pa" 1 >/dev/null &
lg=$!
sleep 1
/usr/bin/python3 bench/visibility.py 127.0.0.1:$pa $SECRET 127.0.0.1:$admin_b 200 >"$T/vis_load.txt"
wait $lg
pct() { sort -n "$1" | awk -v q="$2" '{a[NR]=$1} END {i=int(q*NR); if (i<1) i=1; print a[i]}'; }
{ echo "visibility idle (ms):"; cat "$T/vis_idle.txt"; echo "visibility under load (ms):"; cat "$T/vis_load.txt"; } >>"$raw"
machine="$(nproc) cores, $(uname -r)"
date=$(date -u +%F)
cmd="\`bench/run_scale_out.sh $RUNS $SECS\`"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", (b > 0 ? a / b : 0)}'; }
echo "| what (median of $RUNS × ${SECS}s) | mobix | FreeRADIUS 3.2 + rlm_sql postgresql | ratio | command | date | machine |"
echo "|---|---|---|---|---|---|---|"
echo "| durable Accounting-Requests/s, one node | $one ($(printf '%s\n' "${ONE[@]}" | minmax)) | $fr ($(printf '%s\n' "${FR[@]}" | minmax)) | ×$(ratio "$one" "$fr") | $cmd | $date | $machine |"
echo "| durable Accounting-Requests/s, two nodes | $two ($(printf '%s\n' "${TWO[@]}" | minmax)) | — | ×$(ratio "$two" "$fr") | $cmd | $date | $machine |"
echo "| CPU-ms per 1,000 durable requests (server side: mobix or FreeRADIUS + PostgreSQL), one node | $one_cpu | $fr_cpu | ×$(ratio "$fr_cpu" "$one_cpu") less | $cmd | $date | $machine |"
echo "| CPU-ms per 1,000 durable requests, two nodes | $two_cpu | — | ×$(ratio "$fr_cpu" "$two_cpu") less | $cmd | $date | $machine |"
echo "| cross-node visibility, idle (p50 / p99) | $(pct "$T/vis_idle.txt" 0.5) ms / $(pct "$T/vis_idle.txt" 0.99) ms | — | — | $cmd | $date | $machine |"
echo "| cross-node visibility, node a under load (p50 / p99) | $(pct "$T/vis_load.txt" 0.5) ms / $(pct "$T/vis_load.txt" 0.99) ms | — | — | $cmd | $date | $machine |"
echo "raw output: $raw" >&2
