#!/usr/bin/env bash
# Seed 004 provisioning at scale (issue 15 item 10), on loopback:
#  1. N boxes (default 1000) minted and registered, then powered up at once (one fleet process):
#     boxes configured per second end to end (RADIUS log-in, mutual-TLS download, certificate issue,
#     store writes, wake-up SMS, Phase III call back), none left in an error state by the load, and
#     the CPU the mobix node spent per box. Run for each store backend given (sqlite, postgresql).
#  2. Phase III connection set-up against the connectivity listener with OpenSSL's own client
#     (`openssl s_time`, mutual TLS with a CB certificate): full handshakes vs resumed sessions.
#  3. CPU per step of one provisioning (bench_cb_steps: key pair, CB certificate, store writes).
# Prints markdown rows; output and raw rounds in bench/results/<date>-cb-<time>/ (bench/lib.sh).
# Usage: bench/run_cb.sh [N] [BACKENDS]     e.g. bench/run_cb.sh 1000 "sqlite postgresql"
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
BACKENDS=${2:-sqlite postgresql}
B=build/release
M=$PWD/$B/apps/mobix/mobix
[ -x $B/bench/bench_cb_steps ] || { cmake --preset release >/dev/null && cmake --build --preset release; }
source bench/lib.sh
bench_results cb
raw=$OUT/rounds.txt
T=$(mktemp -d /tmp/mobix-bench-cb-XXXXXX)
chmod 755 "$T"
PIDS=()
PG=/usr/lib/postgresql/15/bin
cleanup() {
  for p in "${PIDS[@]:-}"; do kill $p 2>/dev/null || true; done
  wait_jobs
  [ -d "$T/pg/data" ] && runuser -u postgres -- $PG/pg_ctl -D "$T/pg/data" -m immediate stop >/dev/null 2>&1 || true
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"  # a fleet of boxes holds a few sockets each
free_port() { /usr/bin/python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1]=="u" else socket.SOCK_STREAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }
cpu() { awk '{print $14 + $15}' /proc/$1/stat; }  # utime + stime, clock ticks
HZ=$(getconf CLK_TCK)
log() { echo "$*" | tee -a "$raw"; }

"$M" pki init --dir $T/ca --cn "Bench Root CA" >/dev/null
"$M" factory css-cert --ca $T/ca --cn css.bench.test --out $T/css >/dev/null
echo "bench-nas-secret" >$T/nas_secret
P_SMSC=$(free_port t)
"$M" --log-level warn smpp smsc --listen 127.0.0.1:$P_SMSC --account css:css-pw --account boxes:box-pw >$T/smsc.log 2>&1 &
PIDS+=($!)
SMSC_PID=$!

start_pg() {
  local port; port=$(free_port t)
  mkdir -p "$T/pg" && chown postgres:postgres "$T/pg"
  runuser -u postgres -- $PG/initdb -D "$T/pg/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  runuser -u postgres -- $PG/pg_ctl -D "$T/pg/data" -l "$T/pg/pg.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $T/pg -c max_connections=200" start >/dev/null
  command psql -h 127.0.0.1 -p $port -U postgres -qc "CREATE DATABASE mobix" >/dev/null
  PG_DSN="host=127.0.0.1 port=$port user=postgres dbname=mobix"
}

# run_fleet BACKEND: one node, N boxes; prints the row.
run_fleet() {
  local backend=$1 d=$T/$1 store
  mkdir -p $d
  read -r P_AUTH P_ACCT P_ADMIN P_CSS P_BOX < <(for k in u u t t t; do free_port $k; done | xargs)
  if [ "$backend" = postgresql ]; then
    [ -n "${PG_DSN:-}" ] || start_pg
    store="{backend: postgresql, dsn: \"$PG_DSN\", pool_size: 4}"
  else
    store="{path: $d/mobix.db}"
  fi
  cat >$d/mobix.yaml <<YAML
log: {level: warn}
store: $store
admin: {listen: 127.0.0.1:$P_ADMIN, no_token: true}
access:
  provisioning_realm: config.bench.test
  radius:
    auth_listen: 127.0.0.1:$P_AUTH
    acct_listen: 127.0.0.1:$P_ACCT
    clients: [{name: nas, address: 127.0.0.1/32, secret_file: $T/nas_secret}]
  pools:
    - {name: config, range: 127.40.0.10-127.40.255.250, realm: config.bench.test}
    - {name: boxes, range: 127.41.0.10-127.41.255.250, realm: cb.bench.test}
css:
  ca_dir: $T/ca
  cert: $T/css.crt
  key: $T/css.key
  config_realm: config.bench.test
  access_realm: cb.bench.test
  box_port: $P_BOX
  listen: 127.0.0.1:$P_CSS
  wakeup_delay: 1
  connected_timeout: 1
  callback_timeout: 300
  max_concurrent_downloads: 64
  wakeup: {smsc: 127.0.0.1:$P_SMSC, system_id: css, password: css-pw, per_second: 10000}
YAML
  "$M" serve --config $d/mobix.yaml >$d/serve.log 2>&1 &
  local node=$!
  PIDS+=($node)
  for _ in $(seq 100); do curl -fsS http://127.0.0.1:$P_ADMIN/healthz >/dev/null 2>&1 && break; sleep 0.05; done
  "$M" factory mint --config $d/mobix.yaml --count $N --prefix BX --out $d/boxes --css-name css.bench.test \
    --retry 2 >/dev/null
  local states=() i s
  for i in $(seq 1 $N); do
    s=$(printf 'BX%06d' $i)
    printf '{"serial":"%s","line_id":"4430%07d","name":"Bench %d","street_address":"%d Bench St","billing":"b-%d"}\n' \
      "$s" $i $i $i $i
    echo "4430$(printf '%07d' $i)" >$d/boxes/$s/line
  done | /usr/bin/python3 -c '
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
for line in sys.stdin:
    c.request("POST", "/api/v1/cb", line.strip(), {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    if r.status != 201: sys.exit("register: HTTP %d" % r.status)' $P_ADMIN
  for i in $(seq 1 $N); do states+=(--state $d/boxes/$(printf 'BX%06d' $i)); done
  local cpu0 smsc0 t0 t1 done_count=0 counts
  cpu0=$(cpu $node); smsc0=$(cpu $SMSC_PID)
  t0=$(date +%s.%N)
  "$M" --log-level warn cb run "${states[@]}" --nas 127.0.0.1:$P_AUTH --nas-acct 127.0.0.1:$P_ACCT \
    --nas-secret-file $T/nas_secret --smsc 127.0.0.1:$P_SMSC --smsc-account boxes:box-pw >$d/fleet.log 2>&1 &
  local fleet=$!
  PIDS+=($fleet)
  for _ in $(seq 1 2400); do
    counts=$(curl -fsS "http://127.0.0.1:$P_ADMIN/metrics" | awk '/^mobix_cb_boxes\{/ {gsub(/.*state="|"\}/, "", $1); printf "%s=%s ", $1, $2}')
    done_count=$(echo "$counts" | tr ' ' '\n' | awk -F= '$1 == "online" || $1 == "configured" {s += $2} END {print s + 0}')
    [ "$done_count" -ge "$N" ] && break
    sleep 0.1
  done
  t1=$(date +%s.%N)
  local node_cpu smsc_cpu fleet_cpu
  node_cpu=$(( $(cpu $node) - cpu0 )); smsc_cpu=$(( $(cpu $SMSC_PID) - smsc0 )); fleet_cpu=$(cpu $fleet)
  kill $fleet; wait $fleet 2>/dev/null || true
  log "raw $backend: $counts elapsed=$(awk -v a=$t0 -v b=$t1 'BEGIN {printf "%.1f", b - a}') node_ticks=$node_cpu smsc_ticks=$smsc_cpu fleet_ticks=$fleet_cpu hz=$HZ"
  awk -v n=$N -v b=$backend -v t0=$t0 -v t1=$t1 -v done=$done_count -v c="$counts" -v nc=$node_cpu -v fc=$fleet_cpu -v hz=$HZ 'BEGIN {
    e = t1 - t0; errors = 0
    if (match(c, /config_error=[0-9]+/)) errors = substr(c, RSTART + 13, RLENGTH - 13)
    printf "| %d boxes at once, store %s | %.0f boxes/s (%d configured in %.1f s, wake-up delay 1 s included) | %s in an error state | node %.1f CPU-ms per box (box fleet %.1f) |\n",
      n, b, done / e, done, e, errors, 1000 * nc / hz / done, 1000 * fc / hz / done }' | tee -a "$raw"
  kill $node; wait $node 2>/dev/null || true
  # keep the last backend's node data for the handshake test
  LAST_D=$d LAST_CSS=$P_CSS
}

log "# bench/run_cb.sh $N \"$BACKENDS\" on $(nproc) cores, $(uname -r), $(date -u +%FT%TZ)"
log "| what | rate | errors | CPU |"
log "|---|---|---|---|"
for b in $BACKENDS; do run_fleet $b; done

# --- Phase III set-up: full handshakes against resumed sessions (openssl s_time, mutual TLS)
d=$T/tls
mkdir -p $d
P_CSS=$(free_port t) P_ADMIN=$(free_port t) P_AUTH=$(free_port u) P_ACCT=$(free_port u)
sed -e "s/127.0.0.1:$LAST_CSS/127.0.0.1:$P_CSS/" $LAST_D/mobix.yaml | sed -E "s/(admin: \{listen: 127.0.0.1:)[0-9]+/\1$P_ADMIN/; s/(auth_listen: 127.0.0.1:)[0-9]+/\1$P_AUTH/; s/(acct_listen: 127.0.0.1:)[0-9]+/\1$P_ACCT/" >$d/mobix.yaml
"$M" serve --config $d/mobix.yaml >$d/serve.log 2>&1 &
node=$!
PIDS+=($node)
for _ in $(seq 100); do curl -fsS http://127.0.0.1:$P_ADMIN/healthz >/dev/null 2>&1 && break; sleep 0.05; done
box=$LAST_D/boxes/BX000001
jq -r .cb_certificate $box/params191.json >$d/cb.crt
for mode in -new -reuse; do
  c0=$(cpu $node)
  out=$(openssl s_time -connect 127.0.0.1:$P_CSS -cert $d/cb.crt -key $box/key.pem -CAfile $T/ca/ca.crt \
    -www /cb/v1/hello $mode -time 10 2>&1 || true)
  c1=$(cpu $node)
  echo "$out" >>"$raw"
  conns=$(echo "$out" | awk '/connections in [0-9.]+s;/ {print $1; exit}')
  secs=$(echo "$out" | awk '/connections in [0-9.]+s;/ {sub("s;", "", $4); print $4; exit}')
  awk -v m=$mode -v n="${conns:-0}" -v s="${secs:-1}" -v c=$((c1 - c0)) -v hz=$HZ 'BEGIN {
    printf "| Phase III set-up, mutual TLS to the connectivity listener (%s) | %.0f connections/s (openssl s_time, one client) | — | CSS %.2f CPU-ms per connection |\n",
      m == "-new" ? "full handshake" : "resumed session", n / s, n ? 1000 * c / hz / n : 0 }' | tee -a "$raw"
done

# --- CPU per step
log ""
log "CPU per step of one provisioning (bench_cb_steps, one core):"
$B/bench/bench_cb_steps --benchmark_format=console 2>&1 | tee -a "$raw" | grep -E "^BM_|^-|^Benchmark"
echo "raw output: $raw"
