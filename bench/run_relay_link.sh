#!/usr/bin/env bash
# Issue 17 items 1-2: the relay's data path against fair two-hop peers, alternately in one run on
# loopback. Every two-hop path is client -> edge -> TLS between two proxies -> inner -> server (an
# nginx serving a sparse file), the architecture that reaches a server behind NAT:
#   mobix link   relay + gateway with `gateway.multiplex`: tunnels are HTTP/2 streams on one TLS link
#   mobix legs   relay + gateway without it: one TLS leg per tunnel (spare legs kept)
#   haproxy2     HAProxy 2.6 at the edge forwarding over TLS (session reuse) to HAProxy inside
#   ssh -R       OpenSSH remote forwarding: channels multiplexed over one SSH connection
#   stunnel      an stunnel pair (client mode at the edge, server mode inside)
# plus one-hop HAProxy (mode tcp) as the ceiling. CPU counts every process of a path (both
# proxies; for ssh the listener, its session process and the client).
# Measured per path: idle memory per tunnel (RSS growth at IDLE connections, first, on fresh
# processes), then ROUNDS rounds of: one MIB MiB stream, wrk keep-alive through 10 established
# tunnels, wrk with a new connection per request, and SETUPS sequential new connections (connect
# to first byte). Medians and ratios are computed here; raw output and per-round values are kept in
# bench/results/<date>-relay-link-<time>/.
# TLS=1: the mobile server speaks TLS (end to end: no proxy holds its key; the relay routes by SNI),
# and the link pair is measured twice, as relay.end_to_end_tls chooses per tunnel: riding the link
# (mobix-link) and on a leg of its own that splices (mobix-link-leg). TLS mode measures the stream,
# its CPU, set-up (TLS handshake to first byte) and idle memory; wrk is not used there (it sends
# the URL's address as SNI).
# Usage: bench/run_relay_link.sh [ROUNDS] [MIB]   (IDLE=2000 SETUPS=300 WRK_SECS=5; PATHS="mobix-link
#        one-hop" for a subset; ONLY_IDLE=1 for the idle memory only; TLS=1)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
MIB=${2:-1024}
IDLE=${IDLE:-2000}
SETUPS=${SETUPS:-300}
WRK_SECS=${WRK_SECS:-5}
TLS=${TLS:-0}
source bench/lib.sh
bench_results relay-link$([ "$TLS" = 1 ] && echo -tls || true)
M=$PWD/build/release/apps/mobix/mobix
[ -x "$M" ] || { cmake --preset release >/dev/null && cmake --build --preset release; }
for p in haproxy nginx-light wrk openssh-server stunnel4; do
  dpkg -s $p >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $p >/dev/null
done
ulimit -n "$(ulimit -Hn)"  # IDLE connections, two sockets each per proxy
T=$(mktemp -d /tmp/mobix-bench-link-XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]:-}"; do kill $p 2>/dev/null || true; done; for p in "${PIDS[@]:-}"; do wait $p 2>/dev/null || true; done; rm -rf "$T"' EXIT
ports() { /usr/bin/python3 -c 'import socket,sys
ps=[]
for _ in range(int(sys.argv[1])):
    s=socket.socket(); s.bind(("127.0.0.1",0)); ps.append(s.getsockname()[1]); s.close()
print(*ps)' "$1"; }
read -r P_SRC P_HA1 P_EDGE P_INNER P_SSH P_SSHR P_STA P_STB \
  P_AUTH_L P_ACCT_L P_ADM_OL P_WH_L P_ADM_RL P_PUB_L P_CB_L \
  P_AUTH_S P_ACCT_S P_ADM_OS P_WH_S P_ADM_RS P_PUB_S P_CB_S <<<"$(ports 22)"

"$M" pki init --dir $T/ca --cn "Bench CA" >/dev/null
"$M" pki issue --dir $T/ca --cn relay --ip 127.0.0.1 --out $T/relay >/dev/null
"$M" pki issue --dir $T/ca --cn gateway --ip 127.0.0.1 --out $T/gateway >/dev/null
"$M" pki issue --dir $T/ca --cn cam.bench.test --dns cam.bench.test --out $T/phone >/dev/null
openssl rand -hex 32 >$T/signal.key

# Two mobix pairs: K=L with the multiplexed link, K=S with a leg per tunnel. Webhook signals.
mobix_pair() { # K multiplex auth acct admin_op webhook admin_relay public callback
  local k=$1 mx=$2
  mkdir -p $T/op$k $T/rl$k
  cat >$T/op$k/mobix.yaml <<YAML
log: {level: warn}
limits: {max_connections_per_address: 60000}  # every benchmark client is 127.0.0.1
store: {path: mobix.db}
admin: {listen: "127.0.0.1:$5", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:$3
    acct_listen: 127.0.0.1:$4
    clients: [{name: bench, address: 127.0.0.1/32, secret: bench-secret-1}]
  pools: [{name: internet, range: 127.1.0.10-127.1.0.50}]
gateway:
  webhook_listen: 127.0.0.1:$6
  webhook_cert_file: ../gateway.crt
  webhook_key_file: ../gateway.key
  signal_keys: [{id: 1, key_file: ../signal.key}]
  relay_ca_file: ../ca/ca.crt
  max_legs_per_link: 100000
  multiplex: $mx
  link_idle_timeout: 3600
YAML
  cat >$T/rl$k/mobix.yaml <<YAML
log: {level: warn}
limits: {max_connections_per_address: 60000}
store: {path: mobix.db}
admin: {listen: "127.0.0.1:$7", no_token: true}
relay:
  public_listen: 127.0.0.1:$8
  callback_listen: 127.0.0.1:$9
  tls_cert_file: ../relay.crt
  tls_key_file: ../relay.key
  signal_key: {id: 1, key_file: ../signal.key}
  channel: webhook
  webhook_url: https://127.0.0.1:$6/v1/signal
  webhook_ca_file: ../ca/ca.crt
  max_pending_per_client_ip: 1000
  max_pending_per_target: 1000
  signal_burst_per_client: 1000
  signal_burst_per_target: 1000
  signals_per_minute_per_client: 10000
  signals_per_minute_per_target: 10000
  signals_per_minute: 10000
  signal_burst: 1000
  spare_legs: 16
YAML
  "$M" serve --config $T/op$k/mobix.yaml >$T/op$k.log 2>&1 &
  PIDS+=($!)
  eval "GW_$k=$!"
  "$M" serve --config $T/rl$k/mobix.yaml >$T/rl$k.log 2>&1 &
  PIDS+=($!)
  eval "RL_$k=$!"
  for a in $5 $7; do for _ in $(seq 200); do curl -fsS http://127.0.0.1:$a/healthz >/dev/null 2>&1 && break; sleep 0.05; done; done
  curl -fsS -X POST http://127.0.0.1:$5/api/v1/subscribers --json '{"msisdn":"31610000001","username":"cam","password":"cam-pw-123"}' >/dev/null
  IP=$("$M" sim attach --auth 127.0.0.1:$3 --acct 127.0.0.1:$4 --secret bench-secret-1 --state-dir $T/sim$k \
    --msisdn 31610000001 --username cam --password cam-pw-123 | tail -1)
  curl -fsS -X POST http://127.0.0.1:$7/api/v1/subscribers \
    --json '{"msisdn":"31610000001","hostname":"cam.bench.test","attrs":{"relay.http_port":"'$P_SRC'","relay.tls_port":"'$P_SRC'"}}' >/dev/null
}
mobix_pair L true $P_AUTH_L $P_ACCT_L $P_ADM_OL $P_WH_L $P_ADM_RL $P_PUB_L $P_CB_L
mobix_pair S false $P_AUTH_S $P_ACCT_S $P_ADM_OS $P_WH_S $P_ADM_RS $P_PUB_S $P_CB_S

# The mobile server: nginx with a sparse MIB MiB file (sendfile) and a 3-byte one, on the
# terminal's address (both pairs attached the same first address of their pools).
BYTES=$((MIB * 1048576))
chmod 755 $T
truncate -s $BYTES $T/big
echo ok >$T/small
chmod 644 $T/big $T/small
cat $T/big >/dev/null # into the page cache: reading a sparse file cold costs nginx a memset per page,
# and the first path measured would pay it for the others
cat >$T/source.conf <<CFG
worker_processes 1;
daemon off;
pid $T/source.pid;
error_log $T/source.err;
events { worker_connections 65536; }
http { access_log off; keepalive_requests 1000000; sendfile on; server { listen $IP:$P_SRC backlog=4096 $([ "$TLS" = 1 ] && echo ssl); root $T;
  ssl_certificate $T/phone.crt; ssl_certificate_key $T/phone.key; } }
CFG
nginx -c $T/source.conf -p $T >/dev/null 2>&1 &
PIDS+=($!)

# One-hop HAProxy, and the HAProxy pair (edge -> TLS -> inner).
cat $T/relay.crt $T/relay.key >$T/relay.pem
haproxy_cfg() { # file body
  cat >$1 <<CFG
global
  maxconn 9000
defaults
  mode tcp
  timeout connect 5s
  timeout client 600s
  timeout server 600s
$2
CFG
}
haproxy_cfg $T/ha1.cfg "frontend f
  bind 127.0.0.1:$P_HA1
  default_backend b
backend b
  server s $IP:$P_SRC"
haproxy_cfg $T/edge.cfg "frontend f
  bind 127.0.0.1:$P_EDGE
  default_backend b
backend b
  server inner 127.0.0.1:$P_INNER ssl verify required ca-file $T/ca/ca.crt"
haproxy_cfg $T/inner.cfg "frontend f
  bind 127.0.0.1:$P_INNER ssl crt $T/relay.pem
  default_backend b
backend b
  server s $IP:$P_SRC"
haproxy -db -f $T/ha1.cfg >/dev/null 2>&1 &
HA1=$!
PIDS+=($HA1)
haproxy -db -f $T/edge.cfg >/dev/null 2>&1 &
EDGE=$!
PIDS+=($EDGE)
haproxy -db -f $T/inner.cfg >/dev/null 2>&1 &
INNER=$!
PIDS+=($INNER)

# OpenSSH: sshd is the edge; `ssh -R` runs where the server is and forwards its channels to it.
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f $T/hostkey
ssh-keygen -q -t ed25519 -N '' -f $T/userkey
cp $T/userkey.pub $T/authorized_keys
cat >$T/sshd_config <<CFG
Port $P_SSH
ListenAddress 127.0.0.1
HostKey $T/hostkey
AuthorizedKeysFile $T/authorized_keys
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile $T/sshd.pid
AllowTcpForwarding yes
LogLevel ERROR
MaxStartups 100
CFG
/usr/sbin/sshd -D -f $T/sshd_config >$T/sshd.log 2>&1 &
SSHD=$!
PIDS+=($SSHD)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$P_SSH) 2>/dev/null && break; sleep 0.05; done
ssh -N -i $T/userkey -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ExitOnForwardFailure=yes \
  -o LogLevel=ERROR -R 127.0.0.1:$P_SSHR:$IP:$P_SRC -p $P_SSH root@127.0.0.1 >$T/ssh.log 2>&1 &
SSHC=$!
PIDS+=($SSHC)

# The stunnel pair.
cat >$T/sta.conf <<CFG
foreground = yes
pid =
[edge]
client = yes
accept = 127.0.0.1:$P_STA
connect = 127.0.0.1:$P_STB
CAfile = $T/ca/ca.crt
verifyChain = yes
checkIP = 127.0.0.1
CFG
cat >$T/stb.conf <<CFG
foreground = yes
pid =
[inner]
accept = 127.0.0.1:$P_STB
connect = $IP:$P_SRC
cert = $T/relay.crt
key = $T/relay.key
CFG
stunnel4 $T/sta.conf >$T/sta.log 2>&1 &
STA=$!
PIDS+=($STA)
stunnel4 $T/stb.conf >$T/stb.log 2>&1 &
STB=$!
PIDS+=($STB)

# path name -> client port and the processes whose CPU and memory count.
declare -A PORT=([one-hop]=$P_HA1 [mobix-link]=$P_PUB_L [mobix-link-leg]=$P_PUB_L [mobix-legs]=$P_PUB_S
  [haproxy2]=$P_EDGE [ssh-R]=$P_SSHR [stunnel]=$P_STA)
if [ "$TLS" = 1 ]; then
  PATHS=${PATHS:-"mobix-link mobix-link-leg mobix-legs haproxy2 ssh-R stunnel one-hop"}
else
  PATHS=${PATHS:-"mobix-link mobix-legs haproxy2 ssh-R stunnel one-hop"}  # PATHS=...: a subset
fi
# The link pair's choice for end-to-end TLS (relay.end_to_end_tls as the service's attribute).
choose() {
  local how=""
  case $1 in mobix-link) how=link ;; mobix-link-leg) how=leg ;; *) return 0 ;; esac
  curl -fsS -X PATCH http://127.0.0.1:$P_ADM_RL/api/v1/subscribers/31610000001 \
    --json '{"attrs":{"relay.end_to_end_tls":"'$how'"}}' >/dev/null
}
# GET /small (warm-up) and the stream's URL, plain or TLS (SNI cam.bench.test, verified).
fetch() { # port path [curl options]
  local port=$1 path=$2
  shift 2
  if [ "$TLS" = 1 ]; then
    curl -sS --cacert $T/ca/ca.crt --resolve cam.bench.test:$port:127.0.0.1 "$@" "https://cam.bench.test:$port/$path"
  else
    curl -sS -H "Host: cam.bench.test" "$@" "http://127.0.0.1:$port/$path"
  fi
}
procs() { # path -> pids, looked up each time (sshd forks a session process)
  case $1 in
    one-hop) echo $HA1 ;;
    mobix-link | mobix-link-leg) echo $RL_L $GW_L ;;
    mobix-legs) echo $RL_S $GW_S ;;
    haproxy2) echo $EDGE $INNER ;;
    ssh-R) echo $SSHD $(pgrep -P $SSHD | tr '\n' ' ') $SSHC ;;
    stunnel) echo $STA $STB ;;
  esac
}
ticks() { local s=0 p; for p in "$@"; do s=$((s + $(awk '{print $14 + $15}' /proc/$p/stat))); done; echo $s; }
rss() { local s=0 p; for p in "$@"; do s=$((s + $(awk '/^VmRSS/ {print $2}' /proc/$p/status))); done; echo $s; }
TCK=$(getconf CLK_TCK)
for p in $PATHS; do # warm up: a mobix tunnel wakes its gateway (and the link comes up)
  choose $p
  for _ in $(seq 100); do
    fetch ${PORT[$p]} small -f --max-time 5 -o /dev/null 2>/dev/null && break
    sleep 0.1
  done
  fetch ${PORT[$p]} small -f --max-time 5 -o /dev/null || {
    echo "path $p does not work:"
    tail -3 $T/*.log $T/*.err 2>/dev/null
    exit 1
  }
done
RAW=$OUT/rounds.tsv
printf 'round\tpath\tmetric\tvalue\n' >$RAW
rec() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>$RAW; }

cat >$T/idle.py <<'PY'
import socket, ssl, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
tls = ssl.create_default_context(cafile=sys.argv[3]) if len(sys.argv) > 3 else None
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
cat >$T/setup.py <<'PY'
import socket, ssl, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
tls = ssl.create_default_context(cafile=sys.argv[3]) if len(sys.argv) > 3 else None
req = b"GET /small HTTP/1.1\r\nHost: cam.bench.test\r\nConnection: close\r\n\r\n"
ms = []
for _ in range(n):
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port))
    if tls:  # a full handshake end to end each time, on every path
        s = tls.wrap_socket(s, server_hostname="cam.bench.test")
    s.sendall(req)
    s.recv(1)
    ms.append((time.perf_counter() - t0) * 1000)
    while s.recv(65536):
        pass
    s.close()
ms.sort()
print("%.3f %.3f" % (ms[len(ms) // 2], ms[min(len(ms) - 1, int(len(ms) * 0.99))]))
PY
echo "# run $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD), $(nproc) cores, kernel $(uname -r)"
echo "# rounds $ROUNDS, stream $MIB MiB, idle $IDLE, setups $SETUPS, wrk ${WRK_SECS}s, end-to-end TLS $TLS"
CA_ARG=$([ "$TLS" = 1 ] && echo $T/ca/ca.crt || true)

# Idle memory first, on fresh processes (a later measure would reuse what earlier work freed).
for p in $PATHS; do
  choose $p
  pids=$(procs $p)
  before=$(rss $pids)
  declare -A start=()
  for q in $pids; do start[$q]=$(rss $q); done
  /usr/bin/python3 $T/idle.py ${PORT[$p]} $IDLE $CA_ARG >$T/idle.out 2>&1 &
  drv=$!
  for _ in $(seq 1800); do grep -q ready $T/idle.out 2>/dev/null && break; kill -0 $drv 2>/dev/null || break; sleep 0.1; done
  sleep 1
  pids=$(procs $p)
  after=$(rss $pids)
  split=""
  for q in $pids; do
    split="$split $(ps -o comm= -p $q):$(awk -v a=$(rss $q) -v b=${start[$q]:-0} -v n=$IDLE 'BEGIN {printf "%.2f", (a - b) / n}')"
  done
  echo "idle $p KiB per tunnel by process:$split"
  grep -q ready $T/idle.out && rec 0 $p idle_kib_per_tunnel $(awk -v a=$after -v b=$before -v n=$IDLE 'BEGIN {printf "%.2f", (a - b) / n}') ||
    echo "idle $p failed: $(tail -1 $T/idle.out)"
  kill $drv 2>/dev/null
  wait $drv 2>/dev/null || true
  sleep 2
done

[ "${ONLY_IDLE:-0}" = 1 ] && ROUNDS=0 # ONLY_IDLE=1: the idle memory only
read -ra ORDER <<<"$PATHS"
for r in $(seq $ROUNDS); do
  for i in "${!ORDER[@]}"; do # each round starts one path later: no path is always first or last
    p=${ORDER[$(((i + r - 1) % ${#ORDER[@]}))]}
    port=${PORT[$p]}
    choose $p
    pids=$(procs $p)
    c0=$(ticks $pids)
    res=$(fetch $port big -o /dev/null -w '%{size_download} %{time_total}')
    c1=$(ticks $pids)
    [ "${res% *}" = $BYTES ] || { echo "stream $p incomplete: $res"; continue; }
    rec $r $p stream_gbit $(awk -v b=$BYTES -v s=${res#* } 'BEGIN {printf "%.2f", b * 8 / s / 1e9}')
    rec $r $p cpu_s_per_gib $(awk -v c=$((c1 - c0)) -v t=$TCK -v b=$BYTES 'BEGIN {printf "%.3f", c / t / (b / 1073741824)}')
    if [ "$TLS" != 1 ]; then
    c0=$(ticks $pids)
    w=$(wrk -t1 -c10 -d${WRK_SECS}s --latency -H "Host: cam.bench.test" "http://127.0.0.1:$port/small" 2>/dev/null)
    c1=$(ticks $(procs $p))
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$w")
    rec $r $p keepalive_rps $rps
    rec $r $p keepalive_p99_ms $(awk '/^ +99%/ {v=$2; if (v ~ /us$/) {sub("us","",v); v/=1000} else if (v ~ /ms$/) sub("ms","",v); else if (v ~ /s$/) {sub("s","",v); v*=1000}; print v}' <<<"$w")
    rec $r $p keepalive_cpu_us_per_req $(awk -v c=$((c1 - c0)) -v t=$TCK -v r=$rps -v d=$WRK_SECS 'BEGIN {printf "%.1f", c / t / (r * d) * 1e6}')
    w=$(wrk -t1 -c10 -d${WRK_SECS}s -H "Connection: close" -H "Host: cam.bench.test" "http://127.0.0.1:$port/small" 2>/dev/null)
    rec $r $p new_tunnels_per_s $(awk '/Requests\/sec/ {print $2}' <<<"$w")
    fi
    s=$(/usr/bin/python3 $T/setup.py $port $SETUPS $CA_ARG)
    rec $r $p setup_p50_ms ${s% *}
    rec $r $p setup_p99_ms ${s#* }
  done
  echo "round $r done"
done
echo "signals sent by the link relay: $(curl -fsS http://127.0.0.1:$P_ADM_RL/metrics | awk '$1 ~ /mobix_relay_signals_total/ {s += $2} END {print s + 0}')"
echo "links up at the link relay: $(curl -fsS http://127.0.0.1:$P_ADM_RL/metrics | awk '$1 == "mobix_relay_links_total{event=\"up\"}" {print $2}')"
/usr/bin/python3 - $RAW <<'PY' | tee $OUT/rows.md
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
val = {}
for r in rows:
    val.setdefault((r["path"], r["metric"]), []).append(float(r["value"]))
med = {k: statistics.median(v) for k, v in val.items()}
paths = [p for p in ["mobix-link", "mobix-link-leg", "mobix-legs", "haproxy2", "ssh-R", "stunnel", "one-hop"]
         if any(k[0] == p for k in val)]
ours = [p for p in ["mobix-link", "mobix-link-leg"] if p in paths]
peers = ["haproxy2", "ssh-R", "stunnel"]
metrics = [("stream_gbit", "stream Gbit/s", True), ("cpu_s_per_gib", "CPU-s per GiB (all processes)", False),
           ("keepalive_rps", "keep-alive req/s (wrk -c10)", True), ("keepalive_p99_ms", "keep-alive p99 ms", False),
           ("keepalive_cpu_us_per_req", "CPU-µs per keep-alive request", False),
           ("new_tunnels_per_s", "new tunnels/s (wrk -c10, Connection: close)", True),
           ("setup_p50_ms", "set-up p50 ms", False), ("setup_p99_ms", "set-up p99 ms", False),
           ("idle_kib_per_tunnel", "idle KiB per tunnel (all processes)", False)]
print("| metric (median of rounds) | " + " | ".join(paths) + " | " +
      " | ".join("%s / best two-hop peer | %s / one-hop" % (o, o) for o in ours) + " |")
print("|" + "---|" * (len(paths) + 1 + 2 * len(ours)))
for m, label, higher in metrics:
    cells = []
    for p in paths:
        v = val.get((p, m))
        cells.append("—" if not v else "%g (%g–%g)" % (med[(p, m)], min(v), max(v)) if len(v) > 1 else "%g" % v[0])
    pv = [med[(p, m)] for p in peers if (p, m) in med]
    best = (max(pv) if higher else min(pv)) if pv else None
    one = med.get(("one-hop", m))
    ratio = lambda a, b: "%.2f×" % (a / b) if a is not None and b else "—"
    ratios = " | ".join("%s | %s" % (ratio(med.get((o, m)), best), ratio(med.get((o, m)), one)) for o in ours)
    print("| %s | %s | %s |" % (label, " | ".join(cells), ratios))
PY
echo "raw: $OUT"
