#!/usr/bin/env bash
# Seed 002 benchmarks, side by side in one run on loopback (prints markdown rows):
#  1. attach -> resolvable at both networks (two mobix processes, RadSec, embedded DNS), p50/p99;
#  2. DNS query throughput with dnsperf on a 10,000-record zone: mobix's embedded server, BIND 9
#     and Knot serving the same zone, alternating, median of RUNS; without EDNS, with EDNS (what
#     resolvers send) and with EDNS + DO;
#  3. sustained attach+detach rate with the zones following the sessions: embedded zones, no DNS
#     (baseline), and the zones in BIND / Knot through RFC 2136 + TSIG (batched, and one change per
#     message), counting until the DNS server has every change.
# Usage: bench/run_dns.sh [RUNS] [SECONDS]   (PARTS=123 by default: PARTS=2 for the queries only)
# The output is kept in bench/results/<date>-dns-<time>/ too (bench/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
PARTS=${PARTS:-123}
source bench/lib.sh
bench_results dns
echo "# bench/run_dns.sh $* (PARTS=$PARTS) on $(nproc) cores, $(date -u)"
RUNS=${1:-3}
SECS=${2:-10}
B=$PWD/build/release
M=$B/apps/mobix/mobix
[ -x $B/bench/bench_roaming ] || { cmake --preset release >/dev/null && cmake --build --preset release; }
for p in dnsperf bind9 bind9-utils bind9-dnsutils knot knot-dnsutils sqlite3; do
  dpkg -s $p >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $p >/dev/null
done
T=$(mktemp -d /tmp/mobix-bench-dns-XXXXXX)
chmod 755 $T
PIDS=()
# Waits on the servers by PID: a bare `wait` would also wait for the tee that keeps this output.
stop_all() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  PIDS=()
}
trap 'stop_all; rm -rf "$T"' EXIT
ports() { /usr/bin/python3 -c 'import socket,sys
ps=[]
for k in sys.argv[1:]:
    s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM if k=="u" else socket.SOCK_STREAM); s.bind(("127.0.0.1",0)); ps.append(s.getsockname()[1]); s.close()
print(*ps)' "$@"; }
wait_http() { for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$1/healthz" >/dev/null 2>&1 && return 0; sleep 0.05; done; return 1; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
minmax() { sort -n | awk 'NR==1{mi=$1} {ma=$1} END {print mi "–" ma}'; }
SECRET=bench-secret-123
tsig-keygen -a hmac-sha256 mobix >$T/mobix.key
TSIG=$(awk -F'"' '/secret/ {print $2}' $T/mobix.key)
echo "$TSIG" >$T/tsig.secret

if [[ $PARTS == *1* ]]; then
# ---------------------------------------------------------------- 1. roaming latency
"$M" pki init --dir $T/pki --cn "bench CA" >/dev/null
for n in home visited; do "$M" pki issue --dir $T/pki --cn radsec.$n.test --dns radsec.$n.test --server --client --out $T/$n >/dev/null; done
read -r HA HC HAD HD HR VA VC VAD VD <<<"$(ports u u t u t u u t u)"
mkdir -p $T/h $T/v
cat >$T/h/mobix.yaml <<Y
log: {level: warn}
store: {path: h.db}
admin: {listen: "127.0.0.1:$HAD", no_token: true}
access:
  radius: {auth_listen: "127.0.0.1:$HA", acct_listen: "127.0.0.1:$HC", clients: [{name: b, address: 127.0.0.0/8, secret: $SECRET}]}
  pools: [{name: home, range: 127.8.0.10-127.8.200.250}]
roaming:
  realms: [home.test]
  radsec_listen: 127.0.0.1:$HR
  tls_cert_file: ../home.crt
  tls_key_file: ../home.key
  ca_file: ../pki/ca.crt
  partners: [{name: visited, realm: visited.test, certificate_name: radsec.visited.test}]
dns: {listen: "127.0.0.1:$HD", zones: [{name: home.test}]}
Y
cat >$T/v/mobix.yaml <<Y
log: {level: warn}
store: {path: v.db}
admin: {listen: "127.0.0.1:$VAD", no_token: true}
access:
  radius: {auth_listen: "127.0.0.1:$VA", acct_listen: "127.0.0.1:$VC", clients: [{name: b, address: 127.0.0.0/8, secret: $SECRET}]}
  pools: [{name: visitors, range: 127.9.0.10-127.9.200.250}]
roaming:
  realms: [visited.test]
  tls_cert_file: ../visited.crt
  tls_key_file: ../visited.key
  ca_file: ../pki/ca.crt
  partners: [{name: home, realm: home.test, certificate_name: radsec.home.test, server: "127.0.0.1:$HR"}]
dns: {listen: "127.0.0.1:$VD", zones: [{name: 9.127.in-addr.arpa}]}
Y
N=${ROAM_N:-300}
"$M" serve --config $T/h/mobix.yaml >$T/h.log 2>&1 & PIDS+=($!)
wait_http $HAD
"$M" serve --config $T/v/mobix.yaml >$T/v.log 2>&1 & PIDS+=($!)
wait_http $VAD
for i in $(seq 0 $((N - 1))); do
  printf '{"username":"u%d","password":"pw","hostname":"u%d.home.test"}' $i $i
done | jq -sc '.[]' | while read -r s; do curl -fsS -X POST "http://127.0.0.1:$HAD/api/v1/subscribers" --json "$s" >/dev/null; done
lat=$($B/bench/bench_roaming --auth 127.0.0.1:$VA --acct 127.0.0.1:$VC --home-dns 127.0.0.1:$HD \
  --visited-dns 127.0.0.1:$VD --secret $SECRET --count $N)
echo "| roaming attach -> A at home and PTR at visited (two mobix, RadSec, embedded DNS) | $lat |"
stop_all

fi
if [[ $PARTS == *2* ]]; then
# ---------------------------------------------------------------- 2. query throughput
RECORDS=10000
mkdir -p $T/bind $T/knot/run $T/knot/db $T/knot/zones $T/emb
{
  echo '$TTL 60'
  echo '@ IN SOA ns1.bench.test. hostmaster.bench.test. ( 1 3600 600 86400 60 )'
  echo '  IN NS ns1.bench.test.'
  echo 'ns1 IN A 127.0.0.1'
  for i in $(seq 0 $((RECORDS - 1))); do echo "h$i IN A 10.$((i / 65536 % 256)).$((i / 256 % 256)).$((i % 256))"; done
} >$T/bench.test.zone
cp $T/bench.test.zone $T/bind/bench.test.db
cp $T/bench.test.zone $T/knot/zones/bench.test.zone
read -r PB PK PE PEA <<<"$(ports u u u t)"
cat >$T/bind/named.conf <<C
options { directory "$T/bind"; pid-file "$T/bind/named.pid"; listen-on port $PB { 127.0.0.1; }; listen-on-v6 { none; };
  recursion no; dnssec-validation no; managed-keys-directory "$T/bind"; minimal-responses yes; };
controls { };
zone "bench.test" { type primary; file "$T/bind/bench.test.db"; };
C
cat >$T/knot/knot.conf <<C
server:
  rundir: "$T/knot/run"
  listen: 127.0.0.1@$PK
  udp-workers: 2
  tcp-workers: 1
database:
  storage: "$T/knot/db"
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: "$T/knot/zones"
    file: "%s.zone"
zone:
  - domain: bench.test
C
{
  echo "log: {level: warn}"
  echo "store: {path: emb.db}"
  echo "admin: {listen: \"127.0.0.1:$PEA\", no_token: true}"
  echo "access: {radius: {auth_listen: 127.0.0.1:0, acct_listen: 127.0.0.1:0, clients: [{name: b, address: 127.0.0.0/8, secret: $SECRET}]}}"
  echo "dns:"
  echo "  listen: 127.0.0.1:$PE"
  echo "  threads: 2"
  echo "  zones:"
  echo "    - name: bench.test"
  echo "      records:"
  for i in $(seq 0 $((RECORDS - 1))); do echo "        - h$i A 10.$((i / 65536 % 256)).$((i / 256 % 256)).$((i % 256))"; done
} >$T/emb/mobix.yaml
for i in $(seq 0 $((RECORDS - 1))); do echo "h$i.bench.test A"; done | shuf --random-source=<(yes) >$T/queries
named -n 2 -c $T/bind/named.conf -g >$T/named.log 2>&1 & PIDS+=($!)
knotd -c $T/knot/knot.conf >$T/knot.log 2>&1 & PIDS+=($!)
"$M" serve --config $T/emb/mobix.yaml >$T/emb.log 2>&1 & PIDS+=($!)
wait_http $PEA
sleep 1
for port in $PB $PK $PE; do dig +short @127.0.0.1 -p $port h42.bench.test | grep -q 10.0.0.42 || { echo "server on $port not answering" >&2; exit 1; }; done
# QUERY_FLAGS: none (dnsperf's default), -e (EDNS, as resolvers send), -D (EDNS with DO).
qps() { dnsperf -s 127.0.0.1 -p "$1" -d $T/queries -l "$SECS" -c 8 -T 2 -q 256 $2 2>/dev/null | awk '/Queries per second/ {print int($4)}'; }
cpu() { awk '{print $14 + $15}' /proc/$1/stat; }
for mode in "no EDNS:" "EDNS:-e" "EDNS+DO:-D"; do
  label=${mode%%:*} flags=${mode#*:}
  unset Q; declare -A Q
  for r in $(seq 1 "$RUNS"); do
    for s in mobix:$PE bind:$PB knot:$PK; do Q[${s%%:*}]+="$(qps ${s#*:} "$flags") "; done
  done
  for s in mobix bind knot; do
    m=$(echo ${Q[$s]} | tr ' ' '\n' | median); mm=$(echo ${Q[$s]} | tr ' ' '\n' | minmax)
    eval "QPS_$s=$m"
    echo "| dnsperf ($label), $RECORDS-record zone, 2 server threads: $s | $m q/s (min–max $mm) |"
  done
  echo "| embedded DNS vs BIND / vs Knot ($label) | $(awk -v a=$QPS_mobix -v b=$QPS_bind 'BEGIN{printf "%.2f", a/b}')x / $(awk -v a=$QPS_mobix -v b=$QPS_knot 'BEGIN{printf "%.2f", a/b}')x |"
done
stop_all

fi
if [[ $PARTS == *3* ]]; then
# ---------------------------------------------------------------- 3. attach+detach rate
SESSIONS=2000
# run_acct NAME ZONE_YAML: a single network whose sessions' names and addresses go to DNS.
run_acct() {
  local name=$1 zones=$2 d acct admin
  d=$T/acct-$(echo "$1" | tr -c 'a-zA-Z0-9\n' '_')
  read -r acct admin <<<"$(ports u t)"
  mkdir -p $d
  cat >$d/mobix.yaml <<Y
log: {level: warn}
store: {path: a.db}
admin: {listen: "127.0.0.1:$admin", no_token: true}
access:
  radius: {auth_listen: 127.0.0.1:0, acct_listen: "127.0.0.1:$acct", clients: [{name: b, address: 127.0.0.0/8, secret: $SECRET}]}
$zones
Y
  # Subscribers whose MSISDNs the load generator uses, each with a host name.
  "$M" serve --config $d/mobix.yaml >$d/log 2>&1 & local pid=$!
  wait_http $admin; kill $pid; wait $pid 2>/dev/null || true
  { echo "BEGIN;"; for i in $(seq 0 $((SESSIONS - 1))); do
      echo "INSERT INTO subscribers (msisdn, username, hostname) VALUES ('$((31600000000 + i))', 'b$i', 'h$i.bench.test');"
    done; echo "COMMIT;"; } | sqlite3 $d/a.db
  "$M" serve --config $d/mobix.yaml >>$d/log 2>&1 & pid=$!; PIDS+=($pid)
  wait_http $admin
  local t0 out n t1
  t0=$(date +%s.%N)
  out=$($B/bench/bench_radius_acct --target 127.0.0.1:$acct --secret $SECRET --sessions $SESSIONS --seconds "$SECS" \
    --window "${WINDOW:-128}")
  n=$(echo "$out" | awk -v s="$SECS" '/accounting_requests_per_second/ {printf "%d", $2 * s}')
  # Until the DNS server has every change (external zones); embedded zones are already current.
  for _ in $(seq 1 600); do
    q=$(curl -fsS http://127.0.0.1:$admin/metrics | awk '$1 == "mobix_dns_update_queue" {print $2}')
    [ "${q:-0}" = 0 ] && break; sleep 0.1
  done
  t1=$(date +%s.%N)
  awk -v n="$n" -v t0="$t0" -v t1="$t1" -v name="$name" \
    'BEGIN { printf "| attach+detach with DNS following: %s | %.0f sessions/s = %.0f record changes/s (%d accounting requests, %.1f s until DNS had all) |\n", name, n / 3 / (t1 - t0), 4 * n / 3 / (t1 - t0), n, t1 - t0 }'
  kill $pid; wait $pid 2>/dev/null || true
}
run_acct "no DNS (baseline)" ""
run_acct "embedded zones" "dns: {listen: \"127.0.0.1:0\", zones: [{name: bench.test}, {name: 10.in-addr.arpa}]}"
# BIND and Knot as the operators' servers for the same zones, updated with TSIG.
read -r PB2 PK2 <<<"$(ports u u)"
mkdir -p $T/bind2 $T/knot2/run $T/knot2/db $T/knot2/zones
for z in bench.test 10.in-addr.arpa; do
  printf '$TTL 60\n@ IN SOA ns1.bench.test. hostmaster.bench.test. ( 1 3600 600 86400 60 )\n  IN NS ns1.bench.test.\n' >$T/bind2/$z.db
  [ $z = bench.test ] && echo 'ns1 IN A 127.0.0.1' >>$T/bind2/$z.db
  cp $T/bind2/$z.db $T/knot2/zones/$z.zone
done
cat >$T/bind2/named.conf <<C
options { directory "$T/bind2"; pid-file "$T/bind2/named.pid"; listen-on port $PB2 { 127.0.0.1; }; listen-on-v6 { none; };
  recursion no; dnssec-validation no; managed-keys-directory "$T/bind2"; };
controls { };
include "$T/mobix.key";
zone "bench.test" { type primary; file "$T/bind2/bench.test.db"; update-policy { grant mobix zonesub ANY; }; };
zone "10.in-addr.arpa" { type primary; file "$T/bind2/10.in-addr.arpa.db"; update-policy { grant mobix zonesub ANY; }; };
C
cat >$T/knot2/knot.conf <<C
server:
  rundir: "$T/knot2/run"
  listen: 127.0.0.1@$PK2
database:
  storage: "$T/knot2/db"
log:
  - target: stderr
    any: warning
key:
  - id: mobix
    algorithm: hmac-sha256
    secret: $TSIG
acl:
  - id: upd
    key: mobix
    action: update
template:
  - id: default
    storage: "$T/knot2/zones"
    file: "%s.zone"
zone:
  - domain: bench.test
    acl: upd
  - domain: 10.in-addr.arpa
    acl: upd
C
named -c $T/bind2/named.conf -g >$T/named2.log 2>&1 & PIDS+=($!)
knotd -c $T/knot2/knot.conf >$T/knot2.log 2>&1 & PIDS+=($!)
sleep 1
ext() { echo "dns: {zones: [{name: bench.test, update: {server: \"127.0.0.1:$1\", key_name: mobix, key_secret_file: $T/tsig.secret, batch: $2}}, {name: 10.in-addr.arpa, update: {server: \"127.0.0.1:$1\", key_name: mobix, key_secret_file: $T/tsig.secret, batch: $2}}]}"; }
run_acct "zones in BIND 9, RFC 2136, 100 changes per UPDATE" "$(ext $PB2 100)"
run_acct "zones in Knot 3.2, RFC 2136, 100 changes per UPDATE" "$(ext $PK2 100)"
# One change per message is bounded by the server's per-UPDATE cost (Knot: ~11 ms each), so a
# short, throttled load: the figure is how fast the changes land, not how fast RADIUS went.
SECS=0.5 WINDOW=4 run_acct "zones in BIND 9, RFC 2136, one change per UPDATE" "$(ext $PB2 1)"
SECS=0.5 WINDOW=1 run_acct "zones in Knot 3.2, RFC 2136, one change per UPDATE" "$(ext $PK2 1)"
fi
