#!/usr/bin/env bash
# Seed 003 benchmarks (issue 16 item 9), in one run:
#  1. Mobile IP registrations per second at the Home Agent, durable (each binding committed before
#     its reply; the embedded store, synchronous=FULL), DEVICES mobile nodes from bench_mip_register,
#     with the Home Agent's CPU per 1,000 registrations.
#  2. Device bootstraps per second through the mobility manager (AS + TGS with a real MIT KDC, the
#     initiating database over HTTPS + SPNEGO, a Mobile IP registration) against the KDC's own rate
#     for the same AS exchange (kinit -k in a loop, the same keys, the same KDC), alternately.
#  3. Memory per represented device (RSS growth of the mobix process over BOOT devices).
#  4. Call set-up time (INVITE to 200 OK) with Kerberos keying: SIPp as device 1's phone calls
#     device 2, whose phone is baresip, through both proxies (AP-REQ/AP-REP between them, SDES to the
#     phones); against the same SIPp calling the same baresip directly (plain SIP, SDES), alternately.
#  5. Signalling load: calls per second from SIPp through both proxies over UDP and TCP, against
#     SIPp answering the same scenario directly, alternately.
# Prints markdown rows; output and raw rounds in bench/results/<date>-telephony-<time>/ (bench/lib.sh).
# Usage: bench/run_telephony.sh [RUNS] [SECONDS] [DEVICES] [BOOT]
#   SECTIONS="1 2 4 5" (the default) picks sections; memory at 100,000 devices:
#   SECTIONS=2 bench/run_telephony.sh 1 1 1000 100000
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
SECS=${2:-10}
DEVICES=${3:-1000}
BOOT=${4:-500}
B=build/release
[ -x $B/bench/bench_mip_register ] || { cmake --preset release >/dev/null && cmake --build --preset release; }
source bench/lib.sh
bench_results telephony
raw=$OUT/rounds.txt
T=$(mktemp -d /tmp/mobix-bench-XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do kill $p 2>/dev/null || true; done
  wait_jobs
  rm -rf "$T"
}
trap cleanup EXIT
[ -n "${KEEP_BENCH:-}" ] && trap "echo kept $T" EXIT
# u: a free UDP port, t: TCP, d: both (SIP listens on both: mobix and baresip do)
free_port() { /usr/bin/python3 -c '
import socket, sys
kinds = {"u": [socket.SOCK_DGRAM], "t": [socket.SOCK_STREAM], "d": [socket.SOCK_DGRAM, socket.SOCK_STREAM]}[sys.argv[1]]
while True:
    first = socket.socket(socket.AF_INET, kinds[0]); first.bind(("127.0.0.1", 0)); port = first.getsockname()[1]
    try:
        for kind in kinds[1:]: socket.socket(socket.AF_INET, kind).bind(("127.0.0.1", port))
        print(port); break
    except OSError: pass' "$1"; }
HZ=$(getconf CLK_TCK)
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }
wait_http() { for _ in $(seq 1 200); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "not up: $1" >&2; tail -3 "$T"/serve*.log >&2; exit 1; }

KEY=00112233445566778899aabbccddeeff
echo "$KEY" >"$T/mip.key"
ADMIN_PORT=$(free_port t) HA_PORT=$(free_port u) IDB_PORT=$(free_port t) MM_PORT=$(free_port t) KDC_PORT=$(free_port t)
SIP_PORT=$(free_port d)
CALLS=${CALLS:-40}
REALM=BENCH.TEST
K=$T/krb5
mkdir -p "$K"

# --- the realm (as tests/integration/telephony_kerberos.sh) ---
source scripts/krb5-realm.sh
write_realm "$K" "$REALM" "$KDC_PORT"
kdb5_util create -s -r $REALM -P masterpw >/dev/null 2>&1
section() { [[ " ${SECTIONS:-1 2 4 5} " == *" $1 "* ]]; }
# The devices' keys in a directory of keytabs of 500 each: kadmin's ktadd grows one file in quadratic
# time (1,000 keys 4 s, 2,000 keys 12 s here), so 100,000 devices cannot share one.
BATCH=500
kt_of() { echo "$K/mm.keytabs/batch-$(( ($1 - 1) / BATCH )).keytab"; }  # DEVICE NUMBER: its keytab
mkdir -p "$K/mm.keytabs"
{
  echo "addprinc -randkey HTTP/localhost"
  echo "ktadd -k $K/http.keytab HTTP/localhost"
  for i in $(seq 1 "$BOOT"); do echo "addprinc -randkey DEV-$i"; done
} | kadmin.local >/dev/null 2>&1
for first in $(seq 1 "$BATCH" "$BOOT"); do
  last=$(( first + BATCH - 1 < BOOT ? first + BATCH - 1 : BOOT ))
  { printf 'ktadd -norandkey -k %s' "$(kt_of "$first")"; for i in $(seq "$first" "$last"); do printf ' DEV-%s' "$i"; done; echo; } |
    kadmin.local >/dev/null 2>&1
done
krb5kdc -n -P "$K/kdc.pid" >/dev/null 2>&1 &
KDC_PID=$!
PIDS+=($KDC_PID)
for _ in $(seq 1 100); do kinit -k -t "$(kt_of 1)" DEV-1@$REALM 2>/dev/null && break; sleep 0.05; done

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ca.key" -out "$T/ca.crt" -days 2 \
  -subj "/CN=Bench CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/idb.key" -out "$T/idb.csr" -subj "/CN=localhost" 2>/dev/null
printf "subjectAltName=DNS:localhost\n" >"$T/ext.cnf"
openssl x509 -req -in "$T/idb.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial -out "$T/idb.crt" -days 2 -extfile "$T/ext.cnf" 2>/dev/null

cat >"$T/mobix.yaml" <<Y
node: bench
store: {path: mobix.db}
admin: {listen: "127.0.0.1:$ADMIN_PORT", no_token: true}
home_agent: {listen: 127.0.0.1:$HA_PORT, address: 127.0.0.1, per_source_per_minute: 10000000, per_source_burst: 1000000}
kerberos: {realm: $REALM, config: $K/krb5.conf, rcache_dir: $K}
initiating_db: {listen: 127.0.0.1:$IDB_PORT, cert: $T/idb.crt, key: $T/idb.key, keytab: $K/http.keytab,
                home_agent: 127.0.0.1:$HA_PORT, per_source_per_minute: 1000000, per_source_burst: 100000}
mobility_manager: {listen: 127.0.0.1:$MM_PORT, base_stations: [127.0.0.1], keytab: $K/mm.keytabs,
                   initiating_db: 127.0.0.1:$IDB_PORT, initiating_db_host: localhost, ca: $T/ca.crt,
                   device_timeout: 3600, bootstrap_threads: 4, sip_listen: 127.0.0.1:$SIP_PORT,
                   sip_per_source_per_minute: 1000000, sip_per_source_burst: 100000}
Y
# The devices' records, written straight into the store (migrated by a first start).
$B/apps/mobix/mobix serve --config "$T/mobix.yaml" >"$T/serve0.log" 2>&1 &
P=$!
wait_http "http://127.0.0.1:$ADMIN_PORT/healthz"
kill $P; wait $P 2>/dev/null || true
n=$(( DEVICES > BOOT ? DEVICES : BOOT ))
{
  echo "BEGIN;"
  for i in $(seq 1 "$n"); do
    a=$((0x0A400001 + i - 1))  # 10.64.0.1 upwards, as bench_mip_register counts
    echo "INSERT INTO devices VALUES ('DEV-$i', $i, '$((a >> 24 & 255)).$((a >> 16 & 255)).$((a >> 8 & 255)).$((a & 255))', 300, '$KEY', 0);"
  done
  echo "COMMIT;"
} | sqlite3 "$T/mobix.db"
$B/apps/mobix/mobix serve --config "$T/mobix.yaml" >"$T/serve.log" 2>&1 &
MOBIX_PID=$!
PIDS+=($MOBIX_PID)
wait_http "http://127.0.0.1:$ADMIN_PORT/healthz"
echo "# seed 003 bench $(date -u +%FT%TZ): runs=$RUNS seconds=$SECS devices=$DEVICES boot=$BOOT" | tee "$raw"

# --- 1. Mobile IP registrations at the Home Agent ---
section 1 && for r in $(seq 1 "$RUNS"); do
  # A new bench_mip_register counts its identifications from 1 again: start in a later second than
  # the last run ended, or the Home Agent rightly calls the first second's requests replays.
  sleep 1.1
  t0=$(ticks $MOBIX_PID)
  out=$($B/bench/bench_mip_register --port "$HA_PORT" --devices "$DEVICES" --seconds "$SECS" --window 128 --key-file "$T/mip.key")
  t1=$(ticks $MOBIX_PID)
  rate=$(sed 's/.*accepted_per_s=\([0-9]*\).*/\1/' <<<"$out")
  cpu=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v r="$rate" -v s="$SECS" 'BEGIN {printf "%.1f", (r > 0 ? t * 1000 / hz / (r * s / 1000) : 0)}')
  echo "mip run=$r $out cpu_ms_per_1k=$cpu" | tee -a "$raw"
done

# --- 2. bootstraps through the mobility manager vs the KDC's own AS rate (alternately) ---
MM=127.0.0.1:$MM_PORT
# report on|off: the base station reports every device on one kept-alive connection.
report() {
  /usr/bin/python3 - "$MM_PORT" "$BOOT" "$1" <<'P'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
for i in range(1, int(sys.argv[2]) + 1):
    c.request("POST", "/v1/devices/DEV-%d/%s" % (i, sys.argv[3]), body='{"care_of":"198.51.100.9"}',
              headers={"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status == 202, (i, r.status)
P
}
# devices STATE: how many the mobility manager's gauge counts in that state ("" for all states)
devices() { curl -fsS "http://127.0.0.1:$ADMIN_PORT/metrics" |
  awk -v s="${1:-}" '/^mobix_mm_devices\{/ && (s == "" || index($0, "state=\"" s "\"")) {n += $2} END {print n + 0}'; }
section 2 && for r in $(seq 1 "$RUNS"); do
  # The KDC alone: sequential AS exchanges with the devices' keys, one kinit process each.
  start=$(date +%s.%N); k=0
  while [ $k -lt 200 ]; do k=$((k + 1)); d=$(( (k % BOOT) + 1 )); kinit -k -t "$(kt_of $d)" DEV-$d@$REALM; done
  kdc=$(awk -v n=$k -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f", n / (b - a)}')
  # Four kinit loops at once: what the KDC gives several clients.
  start=$(date +%s.%N)
  loops=()
  for w in 1 2 3 4; do
    ( for k in $(seq 1 100); do d=$(( (k * w % BOOT) + 1 )); kinit -c "MEMORY:w$w" -k -t "$(kt_of $d)" DEV-$d@$REALM; done ) &
    loops+=($!)
  done
  wait "${loops[@]}"
  kdc4=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f", 400 / (b - a)}')
  # mobix: BOOT devices switched on at once; time until all are represented.
  rss0=$(rss_kb $MOBIX_PID); t0=$(ticks $MOBIX_PID)
  start=$(date +%s.%N)
  report on
  deadline=$(( $(date +%s) + 60 + BOOT / 20 ))  # at least 20 bootstraps a second, or give up
  while [ "$(date +%s)" -lt $deadline ]; do
    active=$(devices active)
    [ "$active" = "$BOOT" ] && break; sleep 0.2
  done
  end=$(date +%s.%N); t1=$(ticks $MOBIX_PID); rss1=$(rss_kb $MOBIX_PID)
  [ "$active" = "$BOOT" ] || curl -fsS "http://$MM/v1/devices" |
    jq -c '[.[] | select(.state != "active") | {identity_code, state, reason}] | .[:5]' | tee -a "$raw"
  boot=$(awk -v n="$BOOT" -v a="$start" -v b="$end" 'BEGIN {printf "%.0f", n / (b - a)}')
  per_dev=$(awk -v a="$rss0" -v b="$rss1" -v n="$BOOT" 'BEGIN {printf "%.1f", (b - a) / n}')
  cpu=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v n="$BOOT" 'BEGIN {printf "%.2f", t * 1000 / hz / n}')
  # Everything the process holds, per device: its start-up (the keys of every device included) too.
  total=$(awk -v b="$rss1" -v n="$BOOT" 'BEGIN {printf "%.1f", b / n}')
  echo "boot run=$r active=$active mobix_per_s=$boot kdc_kinit_seq_per_s=$kdc kdc_kinit_4_per_s=$kdc4 ratio_vs_4=$(awk -v a="$boot" -v b="$kdc4" 'BEGIN {printf "%.2f", a / b}') rss_kb_per_device=$per_dev rss_kb_before=$rss0 rss_kb_after=$rss1 rss_kb_total_per_device=$total cpu_ms_per_boot=$cpu" | tee -a "$raw"
  report off
  deadline=$(( $(date +%s) + 60 + BOOT / 100 ))
  while [ "$(date +%s)" -lt $deadline ] && [ "$(devices)" != 0 ]; do sleep 0.2; done
done

# --- 4. call set-up: through both proxies (Kerberos) vs directly, the same SIPp caller and baresip callee ---
if section 4 || section 5; then  # 5 uses 4's devices and phones
source tests/integration/baresip_phone.sh  # start_phone (baresip with SDES-SRTP, auto-answer)
PB_SIP=$(free_port d) PB_CTRL=$(free_port t) SIPP_PORT=$(free_port u)
for d in DEV-1 DEV-2; do curl -fsS -X POST "http://$MM/v1/devices/$d/on" -d '{"care_of":"198.51.100.9"}' >/dev/null; done
for _ in $(seq 1 200); do
  [ "$(curl -fsS "http://$MM/v1/devices" | jq '[.[] | select(.state == "active")] | length')" = 2 ] && break; sleep 0.05
done
start_phone b DEV-2 "127.0.0.1:$SIP_PORT" "$PB_SIP" "$PB_CTRL" 660
for _ in $(seq 1 100); do grep -q "the phone of DEV-2 registered" "$T/serve.log" && break; sleep 0.1; done
printf 'SEQUENTIAL\nDEV-1;DEV-2;\n' >"$T/calls.csv"
SIPP_DIR=$(pwd)/bench/sipp
SIPP="sipp -inf $T/calls.csv -i 127.0.0.1 -p $SIPP_PORT -nostdin -timeout 120 -timeout_error"
(cd "$T" && $SIPP -sf "$SIPP_DIR/register.xml" -m 1 "127.0.0.1:$SIP_PORT" >"$T/sipp-register.log" 2>&1) ||
  { echo "SIPp could not register as DEV-1's phone" >&2; tail -5 "$T/sipp-register.log" >&2; exit 1; }
setup_ms() { # TARGET: CALLS sequential calls; prints "median p90 calls" of INVITE-to-200 in ms, timed
  # from a capture on the caller's port (SIPp's own response times come in 4 ms steps)
  tshark -i lo -f "udp port $SIPP_PORT" -w "$T/setup.pcap" >"$T/tshark.log" 2>&1 &
  local cap=$!
  for _ in $(seq 1 100); do grep -q "Capturing on" "$T/tshark.log" && break; sleep 0.1; done
  (cd "$T" && $SIPP -sf "$SIPP_DIR/call.xml" -m "$CALLS" -l 1 -r 4 "$1" >"$T/sipp-call.log" 2>&1) ||
    { echo "SIPp calls to $1 failed" >&2; tail -n 5 "$T/sipp-call.log" "$T"/*errors.log "$T"/phone-b/out.log >&2; exit 1; }
  sleep 0.5
  kill -INT $cap; wait $cap 2>/dev/null || true
  tshark -r "$T/setup.pcap" -Y 'sip.CSeq.method == "INVITE" && (sip.Method == "INVITE" || sip.Status-Code == 200)' \
    -T fields -e frame.time_epoch -e sip.Call-ID -e sip.Status-Code 2>/dev/null |
    awk -F'\t' '$3 == "" && !($2 in sent) {sent[$2] = $1} $3 == 200 && ($2 in sent) && !($2 in done) {done[$2] = 1; print ($1 - sent[$2]) * 1000}' |
    sort -n | awk '{a[NR]=$1} END {printf "%.2f %.2f %d\n", (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2), a[int(NR * 0.9 + 0.5)], NR}'
}
section 4 && for r in $(seq 1 "$RUNS"); do
  read -r plain plain90 np < <(setup_ms "127.0.0.1:$PB_SIP")
  t0=$(ticks $MOBIX_PID)
  read -r keyed keyed90 nk < <(setup_ms "127.0.0.1:$SIP_PORT")
  t1=$(ticks $MOBIX_PID)
  cpu=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v n="$nk" 'BEGIN {printf "%.2f", (n ? t * 1000 / hz / n : 0)}')
  echo "setup run=$r calls=$nk kerberos_p50_ms=$keyed kerberos_p90_ms=$keyed90 plain_p50_ms=$plain plain_p90_ms=$plain90 plain_calls=$np cpu_ms_per_call=$cpu" | tee -a "$raw"
done

stop_phone b

# --- 5. signalling load: SIPp as DEV-1's phone registers and calls DEV-2 (simulated: its proxy
#     answers) as fast as it is answered, through both proxies (Kerberos AP-REQ/AP-REP, SRTP keys,
#     200 ms of media each way), over UDP and over TCP; against the same SIPp scenario answered by
#     SIPp directly. Achieved calls/s = completed calls / wall time with OFFER calls/s offered. ---
LOAD_CALLS=${LOAD_CALLS:-1000} OFFER=${OFFER:-1000} IN_FLIGHT=${IN_FLIGHT:-60}  # calls open at once (closed loop: no overload timeouts)
LOAD_PORT=$(free_port d) UAS_PORT=$(free_port d)
load() { # TRANSPORT(u1|t1) TARGET: prints "completed failed seconds"
  local start end
  start=$(date +%s.%N)
  (cd "$T" && sipp -sf "$SIPP_DIR/register_call.xml" -inf "$T/calls.csv" -i 127.0.0.1 -p "$LOAD_PORT" -t "$1" \
    -m "$LOAD_CALLS" -r "$OFFER" -l "$IN_FLIGHT" -nostdin -timeout 300 -trace_err "$2" >"$T/sipp-load.log" 2>&1) || true
  end=$(date +%s.%N)
  awk -F'|' -v s="$start" -v e="$end" '/Successful call/ {ok = $3 + 0} /Failed call/ {bad = $3 + 0}
    END {printf "%d %d %.2f\n", ok, bad, e - s}' "$T/sipp-load.log"
}
section 5 && for transport in ${TRANSPORTS:-u1 t1}; do
  (cd "$T" && exec sipp -sf "$SIPP_DIR/uas_register_call.xml" -i 127.0.0.1 -p "$UAS_PORT" -t "$transport" -nostdin \
    >"$T/sipp-uas.log" 2>&1) &
  UAS=$!
  PIDS+=($UAS)
  sleep 0.5
  for r in $(seq 1 "$RUNS"); do
    read -r dok dbad dsec < <(load "$transport" "127.0.0.1:$UAS_PORT")
    retrans() { curl -fsS "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -F' ' '/^mobix_mm_sip_requests_total\{outcome="retransmission"\}/ {print $2} END {print 0}' | head -1; }
    t0=$(ticks $MOBIX_PID) r0=$(retrans)
    read -r mok mbad msec < <(load "$transport" "127.0.0.1:$SIP_PORT")
    t1=$(ticks $MOBIX_PID) r1=$(retrans)
    echo "load run=$r transport=$transport mobix_calls=$mok mobix_failed=$mbad mobix_s=$msec mobix_per_s=$(awk -v a="$mok" -v b="$msec" 'BEGIN {printf "%.0f", a / b}') direct_calls=$dok direct_failed=$dbad direct_s=$dsec direct_per_s=$(awk -v a="$dok" -v b="$dsec" 'BEGIN {printf "%.0f", a / b}') cpu_ms_per_call=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v n="$mok" 'BEGIN {printf "%.2f", (n ? t * 1000 / hz / n : 0)}') invite_retransmissions=$((r1 - r0))" | tee -a "$raw"
  done
  kill $UAS 2>/dev/null || true
  wait $UAS 2>/dev/null || true
done
fi

echo
curl -fsS "http://127.0.0.1:$ADMIN_PORT/metrics" | grep -E '^mobix_(mip_requests|mm_bootstraps|initiating_db_requests|mm_calls|mm_sip_requests)_total' | tee -a "$raw"
echo "| work | mobix (median of $RUNS) | reference | ratio | CPU |"
echo "| --- | --- | --- | --- | --- |"
if section 1; then
mip=$(grep '^mip ' "$raw" | sed 's/.*accepted_per_s=\([0-9]*\).*/\1/' | median)
mipcpu=$(grep '^mip ' "$raw" | sed 's/.*cpu_ms_per_1k=\([0-9.]*\).*/\1/' | median)
mip99=$(grep '^mip ' "$raw" | sed 's/.*p99_ms=\([0-9.]*\).*/\1/' | median)
echo "| Mobile IP registrations/s, durable, $DEVICES devices | $mip/s (p99 $mip99 ms) | goal 20,000/s | $(awk -v a="$mip" 'BEGIN {printf "%.2f", a / 20000}')× goal | $mipcpu CPU-ms per 1,000 |"
fi
if section 2; then
boot=$(grep '^boot ' "$raw" | sed 's/.*mobix_per_s=\([0-9]*\).*/\1/' | median)
kdc4=$(grep '^boot ' "$raw" | sed 's/.*kdc_kinit_4_per_s=\([0-9]*\).*/\1/' | median)
kdc=$(grep '^boot ' "$raw" | sed 's/.*kdc_kinit_seq_per_s=\([0-9]*\).*/\1/' | median)
rss=$(grep '^boot ' "$raw" | sed 's/.*rss_kb_per_device=\([0-9.]*\).*/\1/' | median)
bcpu=$(grep '^boot ' "$raw" | sed 's/.*cpu_ms_per_boot=\([0-9.]*\).*/\1/' | median)
echo "| device bootstraps/s ($BOOT switched on at once: AS + TGS + HTTPS/SPNEGO + Mobile IP) | $boot/s | kinit -k: $kdc/s sequential, $kdc4/s four at once | $(awk -v a="$boot" -v b="$kdc4" 'BEGIN {printf "%.2f", a / b}')× | $bcpu CPU-ms per bootstrap |"
total=$(grep '^boot ' "$raw" | sed 's/.*rss_kb_total_per_device=\([0-9.]*\).*/\1/' | median)
echo "| memory per represented device (RSS growth over $BOOT) | $rss KiB; the whole process over $BOOT devices: $total KiB each | goal ≤ 100 kB | | |"
fi
if section 4; then
keyed=$(grep '^setup ' "$raw" | sed 's/.*kerberos_p50_ms=\([0-9.]*\).*/\1/' | median)
keyed90=$(grep '^setup ' "$raw" | sed 's/.*kerberos_p90_ms=\([0-9.]*\).*/\1/' | median)
plain=$(grep '^setup ' "$raw" | sed 's/.*plain_p50_ms=\([0-9.]*\).*/\1/' | median)
plain90=$(grep '^setup ' "$raw" | sed 's/.*plain_p90_ms=\([0-9.]*\).*/\1/' | median)
ccpu=$(grep '^setup ' "$raw" | sed 's/.*cpu_ms_per_call=\([0-9.]*\).*/\1/' | median)
echo "| call set-up (INVITE → 200 OK), SIPp phone → two proxies with Kerberos keying → baresip, $CALLS calls | p50 $keyed ms, p90 $keyed90 ms | SIPp → the same baresip directly: p50 $plain ms, p90 $plain90 ms | +$(awk -v a="$keyed" -v b="$plain" 'BEGIN {printf "%.2f", a - b}') ms p50 | $ccpu CPU-ms per call (mobix) |"
fi
section 5 && for transport in ${TRANSPORTS:-u1 t1}; do
  name=$([ $transport = u1 ] && echo UDP || echo TCP)
  m=$(grep "^load .*transport=$transport " "$raw" | sed 's/.*mobix_per_s=\([0-9]*\).*/\1/' | median)
  d=$(grep "^load .*transport=$transport " "$raw" | sed 's/.*direct_per_s=\([0-9]*\).*/\1/' | median)
  f=$(grep "^load .*transport=$transport " "$raw" | sed 's/.*mobix_failed=\([0-9]*\).*/\1/' | median)
  c=$(grep "^load .*transport=$transport " "$raw" | sed 's/.*cpu_ms_per_call=\([0-9.]*\).*/\1/' | median)
  echo "| SIP calls/s over $name, SIPp phone → two proxies (Kerberos keying, SRTP, REGISTER + INVITE + BYE, 200 ms of media), $LOAD_CALLS calls, at most $IN_FLIGHT at once | $m/s ($f failed) | SIPp answering the same scenario directly: $d/s | $(awk -v a="$m" -v b="$d" 'BEGIN {printf "%.2f", a / b}')× | $c CPU-ms per call (mobix) |"
done
echo "raw: $raw"
