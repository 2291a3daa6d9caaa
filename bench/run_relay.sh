#!/usr/bin/env bash
# Seed 001 relay, side by side in one run on loopback: one long stream and tunnel set-up time
# through mobix (relay + gateway, SMS signal via the lab SMSC, TLS callback leg) against the tools
# an operator would otherwise put in the path: HAProxy 2.6 (mode tcp, with and without splice),
# nginx stream and socat, plus the direct connection. Prints markdown rows for docs/BENCHMARKS.md.
# Then HTTP keep-alive requests through established tunnels (wrk), and the memory an idle tunnel
# costs at IDLE (default 3,000) tunnels, each against HAProxy on the same path.
# Usage: bench/run_relay.sh [STREAM_MiB] [SETUPS]     (SKIP_STREAM=1: skip the one-stream rows;
#        ONLY_IDLE=1 with SKIP_STREAM=1: only the idle-memory rows; IDLE_TLS=1: idle tunnels
#        carry TLS end to end instead of plain HTTP)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh # the whole output is kept in bench/results/<date>-relay-<time>/
bench_results relay
MIB=${1:-2048}
SETUPS=${2:-200}
M=$PWD/build/release/apps/mobix/mobix
[ -x "$M" ] || { cmake --preset release >/dev/null && cmake --build --preset release; }
for p in socat haproxy nginx-light libnginx-mod-stream wrk; do
  dpkg -s $p >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $p >/dev/null
done
T=$(mktemp -d /tmp/mobix-bench-relay-XXXXXX)
PIDS=()
# Waits on its servers by PID: a bare `wait` would also wait for the tee keeping this output.
trap 'for p in "${PIDS[@]:-}"; do kill $p 2>/dev/null || true; done; for p in "${PIDS[@]:-}"; do wait $p 2>/dev/null || true; done; rm -rf "$T"' EXIT
ports() { /usr/bin/python3 -c 'import socket,sys
ps=[]
for _ in range(int(sys.argv[1])):
    s=socket.socket(); s.bind(("127.0.0.1",0)); ps.append(s.getsockname()[1]); s.close()
print(*ps)' "$1"; }
read -r P_AUTH P_ACCT P_ADMIN_OP P_ADMIN_R P_PUB P_CB P_SRC P_HA P_HAS P_NGX P_SOCAT P_SMSC P_WH P_ADMIN_W P_PUB_W P_CB_W \
  P_SRCS P_HAT P_HATS P_GWMAIL P_ADMIN_E P_PUB_E P_CB_E <<<"$(ports 23)"

"$M" pki init --dir $T/ca --cn "Bench CA" >/dev/null
"$M" pki issue --dir $T/ca --cn relay --ip 127.0.0.1 --out $T/relay >/dev/null
"$M" pki issue --dir $T/ca --cn gateway --ip 127.0.0.1 --out $T/gateway >/dev/null
"$M" pki issue --dir $T/ca --cn cam.bench.test --dns cam.bench.test --out $T/phone >/dev/null
openssl rand -hex 32 >$T/signal.key
"$M" --log-level warn smpp smsc --listen 127.0.0.1:$P_SMSC --account relay:rpw --account gateway:gpw >$T/smsc.log 2>&1 &
PIDS+=($!)
mkdir -p $T/op $T/rl
cat >$T/op/mobix.yaml <<YAML
log: {level: warn}
limits: {max_connections_per_address: 20000}  # every benchmark client is 127.0.0.1
store: {path: mobix.db}
admin: {listen: "127.0.0.1:$P_ADMIN_OP", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:$P_AUTH
    acct_listen: 127.0.0.1:$P_ACCT
    clients: [{name: bench, address: 127.0.0.1/32, secret: bench-secret-1}]
  pools: [{name: internet, range: 127.1.0.10-127.1.0.50}]
gateway:
  smpp: {smsc: "127.0.0.1:$P_SMSC", system_id: gateway, password: gpw}
  address_range: "31699000000"
  signal_keys: [{id: 1, key_file: ../signal.key}]
  relay_ca_file: ../ca/ca.crt
  max_legs_per_link: 10000  # IDLE tunnels to one server: 3 signals x the default 256 legs stopped at 768
  webhook_listen: 127.0.0.1:$P_WH
  webhook_cert_file: ../gateway.crt
  webhook_key_file: ../gateway.key
  email: {listen: "127.0.0.1:$P_GWMAIL", address: signals@gw.bench.test, tls_cert_file: ../gateway.crt, tls_key_file: ../gateway.key}
YAML
cat >$T/rl/mobix.yaml <<YAML
log: {level: warn}
limits: {max_connections_per_address: 20000}  # every benchmark client is 127.0.0.1
store: {path: mobix.db}
admin: {listen: "127.0.0.1:$P_ADMIN_R", no_token: true}
relay:
  public_listen: 127.0.0.1:$P_PUB
  callback_listen: 127.0.0.1:$P_CB
  tls_cert_file: ../relay.crt
  tls_key_file: ../relay.key
  signal_key: {id: 1, key_file: ../signal.key}
  smpp: {smsc: "127.0.0.1:$P_SMSC", system_id: relay, password: rpw}
  gateway_msisdn: "31699000000"
  max_pending_per_client_ip: 1000
  max_pending_per_target: 1000
YAML
# A second relay that wakes the same gateway over the HTTPS webhook instead of SMS.
mkdir -p $T/rw
cat >$T/rw/mobix.yaml <<YAML
log: {level: warn}
limits: {max_connections_per_address: 20000}  # every benchmark client is 127.0.0.1
store: {path: mobix.db}
admin: {listen: "127.0.0.1:$P_ADMIN_W", no_token: true}
relay:
  public_listen: 127.0.0.1:$P_PUB_W
  callback_listen: 127.0.0.1:$P_CB_W
  tls_cert_file: ../relay.crt
  tls_key_file: ../relay.key
  signal_key: {id: 1, key_file: ../signal.key}
  channel: webhook
  webhook_url: https://127.0.0.1:$P_WH/v1/signal
  webhook_ca_file: ../ca/ca.crt
  max_pending_per_client_ip: 1000
  max_pending_per_target: 1000
YAML
# A third relay that wakes it by e-mail: a kept SMTP session with STARTTLS straight to the
# gateway's SMTP receiver (an operator would usually put its MTA in between).
mkdir -p $T/re
sed -e "s/$P_ADMIN_W/$P_ADMIN_E/; s/$P_PUB_W/$P_PUB_E/; s/$P_CB_W/$P_CB_E/" -e '/channel: webhook/,/webhook_ca_file/d' \
  $T/rw/mobix.yaml >$T/re/mobix.yaml
cat >>$T/re/mobix.yaml <<YAML
  channel: email
  email: {smtp: "127.0.0.1:$P_GWMAIL", tls: starttls, ca_file: ../ca/ca.crt, from: relay@relay.bench.test, to: signals@gw.bench.test}
YAML
"$M" serve --config $T/rw/mobix.yaml >$T/rw.log 2>&1 &
PIDS+=($!)
"$M" serve --config $T/re/mobix.yaml >$T/re.log 2>&1 &
PIDS+=($!)
"$M" serve --config $T/op/mobix.yaml >$T/op.log 2>&1 &
PIDS+=($!)
${RELAY_WRAP:-} "$M" serve --config $T/rl/mobix.yaml >$T/rl.log 2>&1 &
RELAY_PID=$!
PIDS+=($RELAY_PID)
for a in $P_ADMIN_OP $P_ADMIN_R $P_ADMIN_W $P_ADMIN_E; do
  for _ in $(seq 200); do curl -fsS http://127.0.0.1:$a/healthz >/dev/null 2>&1 && break; sleep 0.05; done
done
curl -fsS -X POST http://127.0.0.1:$P_ADMIN_OP/api/v1/subscribers --json '{"msisdn":"31610000001","username":"cam","password":"cam-pw-123"}' >/dev/null
IP=$("$M" sim attach --auth 127.0.0.1:$P_AUTH --acct 127.0.0.1:$P_ACCT --secret bench-secret-1 --state-dir $T/sim \
  --msisdn 31610000001 --username cam --password cam-pw-123 | tail -1)
for a in $P_ADMIN_R $P_ADMIN_W $P_ADMIN_E; do
  curl -fsS -X POST http://127.0.0.1:$a/api/v1/subscribers \
    --json '{"msisdn":"31610000001","hostname":"cam.bench.test","attrs":{"relay.http_port":"'$P_SRC'","relay.tls_port":"'$P_SRCS'"}}' >/dev/null
done

# The mobile server: an HTTP server with a MIB MiB file and a 3-byte one.
BYTES=$((MIB * 1048576))
# nginx serves a sparse file with sendfile(2): a source fast enough not to be the bottleneck.
chmod 755 $T  # the nginx worker runs as www-data
truncate -s $BYTES $T/big
echo ok >$T/small
chmod 644 $T/big $T/small
cat >$T/source.conf <<CFG
worker_processes 1;
daemon off;
pid $T/source.pid;
error_log $T/source.err;
events { worker_connections 8192; }
http { access_log off; keepalive_requests 1000000; sendfile on; server { listen $IP:$P_SRC; root $T; }
  server { listen $IP:$P_SRCS ssl; root $T; ssl_certificate $T/phone.crt; ssl_certificate_key $T/phone.key; } }
CFG
nginx -c $T/source.conf -p $T >/dev/null 2>&1 &
PIDS+=($!)
cat >$T/haproxy.cfg <<CFG
global
  maxconn 4000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend plain
  bind 127.0.0.1:$P_HA
  default_backend phone
frontend spliced
  bind 127.0.0.1:$P_HAS
  option splice-auto
  default_backend phone
backend phone
  server phone $IP:$P_SRC
frontend tls_plain
  bind 127.0.0.1:$P_HAT
  default_backend phone_tls
frontend tls_spliced
  bind 127.0.0.1:$P_HATS
  option splice-auto
  default_backend phone_tls
backend phone_tls
  server phone $IP:$P_SRCS
CFG
haproxy -db -f $T/haproxy.cfg >/dev/null 2>&1 &
HA_PID=$!
PIDS+=($HA_PID)
cat >$T/nginx.conf <<CFG
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
daemon off;
pid $T/nginx.pid;
error_log $T/nginx.err;
events { worker_connections 4096; }
stream { server { listen 127.0.0.1:$P_NGX; proxy_pass $IP:$P_SRC; } }
CFG
nginx -c $T/nginx.conf -p $T >/dev/null 2>&1 &
NGX_PID=$!
PIDS+=($NGX_PID)
socat TCP-LISTEN:$P_SOCAT,bind=127.0.0.1,reuseaddr,fork TCP:$IP:$P_SRC 2>/dev/null &
SOCAT_PID=$!
PIDS+=($SOCAT_PID)
sleep 0.5

cpu() { awk '{print $14 + $15}' /proc/$1/stat; }  # utime + stime, clock ticks
tck=$(getconf CLK_TCK)
stream() { # name port pid(or -)
  local before=0 after=0
  [ "$3" != - ] && before=$(cpu $3)
  local r; r=$(curl -sS -H "Host: cam.bench.test" -o /dev/null -w '%{size_download} %{time_total}' "http://127.0.0.1:$2/big")
  [ "$3" != - ] && after=$(cpu $3)
  local size=${r% *} secs=${r#* }
  [ "$size" = "$BYTES" ] || { echo "| $1 | incomplete: $size of $BYTES bytes | | |"; return; }
  awk -v n="$1" -v b="$size" -v s="$secs" -v c="$((after - before))" -v t="$tck" -v pid="$3" 'BEGIN {
    gbit = b * 8 / s / 1e9; cpu = (pid == "-") ? "—" : sprintf("%.2f", c / t / (b / 1073741824));
    printf "| %s | %.1f Gbit/s | %s CPU-s/GiB |\n", n, gbit, cpu }'
}
if [ "${SKIP_STREAM:-0}" != 1 ]; then
echo "Stream of $MIB MiB through each path (one connection):"
echo "| path | throughput | proxy CPU per GiB |"
echo "|---|---|---|"
r=$(curl -sS -o /dev/null -w '%{size_download} %{time_total}' "http://$IP:$P_SRC/big")
awk -v b="${r% *}" -v s="${r#* }" 'BEGIN { printf "| direct | %.1f Gbit/s | — |\n", b * 8 / s / 1e9 }'
stream "mobix relay (TLS callback leg)" $P_PUB $RELAY_PID
stream "HAProxy 2.6 mode tcp" $P_HA $HA_PID
stream "HAProxy 2.6 mode tcp + splice" $P_HAS $HA_PID
stream "nginx 1.22 stream" $P_NGX $(pgrep -P "$(cat $T/nginx.pid)" | head -1)
stream "socat" $P_SOCAT -

# The same over TLS end to end (the mobile server's own certificate, routed by SNI at the relay):
# mobix's callback leg leaves its TLS after the key and the ClientHello, so both proxies splice(2).
stream_tls() { # name port connect-address pid(or -)
  local before=0 after=0
  [ "$4" != - ] && before=$(cpu $4)
  local r; r=$(curl -sS --cacert $T/ca/ca.crt --resolve "cam.bench.test:$2:$3" -o /dev/null \
    -w '%{size_download} %{time_total}' "https://cam.bench.test:$2/big")
  [ "$4" != - ] && after=$(cpu $4)
  local size=${r% *} secs=${r#* }
  [ "$size" = "$BYTES" ] || { echo "| $1 | incomplete: $size of $BYTES bytes | | |"; return; }
  awk -v n="$1" -v b="$size" -v s="$secs" -v c="$((after - before))" -v t="$tck" -v pid="$4" 'BEGIN {
    gbit = b * 8 / s / 1e9; cpu = (pid == "-") ? "—" : sprintf("%.2f", c / t / (b / 1073741824));
    printf "| %s | %.1f Gbit/s | %s CPU-s/GiB |\n", n, gbit, cpu }'
}
echo
echo "Stream of $MIB MiB over TLS end to end (nginx with the phone's certificate; curl verifies it):"
echo "| path | throughput | proxy CPU per GiB |"
echo "|---|---|---|"
stream_tls "direct" $P_SRCS $IP -
stream_tls "mobix relay (SNI, leg leaves TLS, splice)" $P_PUB 127.0.0.1 $RELAY_PID
stream_tls "HAProxy 2.6 mode tcp" $P_HAT 127.0.0.1 $HA_PID
stream_tls "HAProxy 2.6 mode tcp + splice" $P_HATS 127.0.0.1 $HA_PID
fi

# Set-up time: client connect to first byte back, each a new tunnel (SMS signal, gateway, callback).
setup() { # port
  for _ in $(seq $SETUPS); do
    curl -fsS -H "Host: cam.bench.test" -o /dev/null -w '%{time_starttransfer}\n' "http://127.0.0.1:$1/small"
  done | sort -n | awk '{ a[NR] = $1 * 1000 } END { printf "%.2f ms | %.2f ms", a[int(NR * 0.5)], a[int(NR * 0.99)] }'
}
if [ "${ONLY_IDLE:-0}" != 1 ]; then
echo
echo "Set-up time, client connect to first byte back, $SETUPS sequential connections:"
echo "| path | p50 | p99 |"
echo "|---|---|---|"
echo "| mobix relay, new tunnel each (SMS signal via the lab SMSC) | $(setup $P_PUB) |"
echo "| mobix relay, new tunnel each (HTTPS webhook signal) | $(setup $P_PUB_W) |"
echo "| mobix relay, new tunnel each (e-mail signal, SMTP with STARTTLS) | $(setup $P_PUB_E) |"
echo "| HAProxy 2.6 mode tcp (no tunnel to set up) | $(setup $P_HA) |"

# HTTP keep-alive through established tunnels: wrk opens 10 connections (10 tunnels), then reuses them.
wrk_row() { # name port
  wrk -t1 -c10 -d"${WRK_SECS:-10}"s --latency -H "Host: cam.bench.test" "http://127.0.0.1:$2/small" 2>/dev/null |
    awk -v n="$1" '/Requests\/sec/ {r=$2} /^ +99%/ {p=$2} END {printf "| %s | %.0f req/s | p99 %s |\n", n, r, p}'
}
echo
echo "HTTP keep-alive through established tunnels, wrk -t1 -c10 (3-byte body):"
echo "| path | requests/s | latency p99 |"
echo "|---|---|---|"
wrk_row "mobix relay (10 tunnels, SMS-woken)" $P_PUB
wrk_row "HAProxy 2.6 mode tcp" $P_HA
fi

# Memory per idle tunnel: IDLE clients each make one keep-alive request and then stay connected.
IDLE=${IDLE:-3000}
rss() { awk '/^VmRSS/ {print $2}' /proc/$1/status; }  # KiB
GW_PID=$(pgrep -f "serve --config $T/op/mobix.yaml" | head -1)
cat >$T/idle.py <<'PY'
import socket, ssl, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
tls = ssl.create_default_context(cafile=sys.argv[3]) if len(sys.argv) > 3 else None  # end to end
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    if tls:
        s = tls.wrap_socket(s, server_hostname="cam.bench.test")
    s.sendall(b"GET /small HTTP/1.1\r\nHost: cam.bench.test\r\n\r\n")
    got = b""
    while b"\r\n\r\nok\n" not in got:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("connection %d closed early" % i)
        got += chunk
    socks.append(s)
print("ready", flush=True)
while True:  # holds the tunnels until the script kills it
    time.sleep(3600)
PY
idle_row() { # name port pid...
  local name=$1 port=$2; shift 2
  local before=0 after=0 p parts=""
  declare -A start
  for p in "$@"; do start[$p]=$(rss $p); before=$((before + start[$p])); done
  python3 $T/idle.py $port $IDLE ${IDLE_CA:-} >$T/idle.out 2>&1 &
  local drv=$!
  for _ in $(seq 1200); do grep -q ready $T/idle.out 2>/dev/null && break; kill -0 $drv 2>/dev/null || break; sleep 0.1; done
  if ! grep -q ready $T/idle.out; then echo "| $name | failed: $(tail -1 $T/idle.out) | |"; kill $drv 2>/dev/null; return; fi
  sleep 1
  for p in "$@"; do
    local a; a=$(rss $p)
    after=$((after + a))
    parts="$parts $(awk -v x="$a" -v y="${start[$p]}" -v c="$IDLE" 'BEGIN { printf "%.1f", (x - y) / c }')"
  done
  kill $drv 2>/dev/null; wait $drv 2>/dev/null || true
  awk -v n="$name" -v b="$before" -v a="$after" -v c="$IDLE" -v parts="$parts" 'BEGIN {
    split(parts, x, " "); detail = length(x) > 1 ? sprintf(" = %s + %s", x[1], x[2]) : "";
    printf "| %s | %.1f KiB per idle tunnel%s (RSS %d -> %d KiB) |\n", n, (a - b) / c, detail, b, a }'
}
echo
echo "User-space memory per idle proxied connection at $IDLE connections (RSS growth / connections):"
echo "| path | memory |"
echo "|---|---|"
# Fresh processes matter (a second round would reuse the first round's freed memory), so one
# kind per run: plain HTTP (the callback leg keeps its TLS), or IDLE_TLS=1 for TLS end to end.
if [ "${IDLE_TLS:-0}" != 1 ]; then
  idle_row "mobix relay + gateway (two processes, TLS leg between them)" $P_PUB $RELAY_PID $GW_PID
  sleep 2
  idle_row "HAProxy 2.6 mode tcp" $P_HA $HA_PID
else
  IDLE_CA=$T/ca/ca.crt idle_row "mobix relay + gateway, TLS end to end (SNI; the leg left its TLS)" $P_PUB $RELAY_PID $GW_PID
  sleep 2
  IDLE_CA=$T/ca/ca.crt idle_row "HAProxy 2.6 mode tcp, TLS end to end" $P_HAT $HA_PID
fi
