#!/usr/bin/env bash
# Seed 003's Home Agent (RFC 5944) against independent peers. An independent mobile node (Scapy's
# MobileIP layers + Python's hmac) registers a device's home address and tries every refusal: a wrong
# Mobile IP key (131), no authenticator (131), an unknown home address (131, unauthenticated), a
# replayed request (133, also after a kill -9), a skewed clock (133 with the Home Agent's time),
# GRE (139), a wrong Home Agent address (136), a lifetime too long (shortened), a source over its
# rate. Each refusal: the reply, its counter by its change, its log line. Then mobix's own mobile
# node (`mobix sim mip`) registers, renews, moves to a new care-of address (claim 5) and
# deregisters while tshark captures: Wireshark's dissector decodes every packet without error and
# Python verifies every authenticator. MIP_STORE=postgresql runs the same on PostgreSQL, plus a
# second Home Agent node on the same database: a registration that node accepts from its memory
# while the other node has stored a later one is refused by the store (133, counted, logged).
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3  # Debian's, with python3-scapy
$PY -c 'import scapy.layers.mobileip' 2>/dev/null || fail "python3-scapy is not installed"
command -v tshark >/dev/null || fail "tshark is not installed"
NODE="$PY $(dirname "$0")/mip_scapy_node.py"
read -r ADMIN_PORT HA_PORT PG_PORT PROBE_PORT ADMIN2_PORT HA2_PORT < <(free_ports t u t u t u)
ADMIN=127.0.0.1:$ADMIN_PORT
KEY=00112233445566778899aabbccddeeff
echo "$KEY" > "$T/mip.key"
STORE="store: {path: mobix.db}"
if [ "${MIP_STORE:-sqlite}" = postgresql ]; then
  start_postgres "$T/pg" "$PG_PORT"
  STORE="store: {backend: postgresql, dsn: \"$PG_DSN\"}"
fi
cat > "$T/mobix.yaml" <<Y
node: ha-test
$STORE
admin: {listen: "$ADMIN", no_token: true}
home_agent:
  listen: 127.0.0.1:$HA_PORT
  address: 127.0.0.1
  max_lifetime: 30
  per_source_per_minute: 600
  per_source_burst: 20
Y
start_serve "$T/mobix.yaml" "$ADMIN_PORT" "$T/serve.log" || fail "serve did not start: $(tail -5 "$T/serve.log")"

# --- the device: identity code, subscriber, home address, Mobile IP security association ---
api() { curl -sS -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' "$@"; }
[ "$(api -X POST "http://$ADMIN/api/v1/subscribers" -d '{"msisdn":"4670001"}')" = 201 ] || fail "subscriber: $(cat "$T/body")"
DEVICE='{"identity_code":"IPUI-00A1B2C3","subscriber":"4670001","home_address":"10.64.0.7","mip_spi":300,"mip_key":"'$KEY'"}'
[ "$(api -X POST "http://$ADMIN/api/v1/devices" -d "$DEVICE")" = 201 ] || fail "device: $(cat "$T/body")"
grep -qi "$KEY" "$T/body" && fail "the API returned the Mobile IP key"
[ "$(jq -r .mip_key_set "$T/body")" = true ] || fail "mip_key_set missing: $(cat "$T/body")"
e400=$(metric 'mobix_admin_errors_total{status="400"}')
[ "$(api -X POST "http://$ADMIN/api/v1/devices" -d '{"identity_code":"IPUI-X1","subscriber":"4670001","home_address":"10.64.0.8","mip_key":"abc"}')" = 400 ] ||
  fail "a short key was accepted"
grep -q 'mip_key' "$T/body" || fail "the refusal does not name the field: $(cat "$T/body")"
[ "$(metric 'mobix_admin_errors_total{status="400"}')" -gt "$e400" ] || fail "400 not counted"
[ "$(api -X POST "http://$ADMIN/api/v1/devices" -d "$DEVICE")" = 409 ] || fail "a duplicate identity code was accepted"
[ "$(api "http://$ADMIN/api/v1/devices/IPUI-00A1B2C3")" = 200 ] || fail "device lookup"
grep -qi "$KEY" "$T/body" && fail "GET returned the Mobile IP key"
pass "a device with its identity code and Mobile IP key; the key is write-only; bad and duplicate devices refused"

HA=(127.0.0.1 "$HA_PORT" 127.0.0.1 10.64.0.7)
outcome() { metric "mobix_mip_requests_total{outcome=\"$1\"}"; }
# expect_refusal OUTCOME CODE AUTHENTIC LOG_PATTERN NODE_ARGS...: one refusal, checked three ways.
expect_refusal() {
  local what=$1 code=$2 authentic=$3 pattern=$4 before reply
  shift 4
  before=$(outcome "$what")
  reply=$($NODE "$@")
  [ "$(jq -r .code <<<"$reply")" = "$code" ] || fail "$what: expected code $code, got $reply"
  [ "$(jq -r .authentic <<<"$reply")" = "$authentic" ] || fail "$what: authenticator $authentic expected: $reply"
  [ "$(outcome "$what")" = $((before + 1)) ] || fail "$what: counter did not move by one"
  for _ in $(seq 1 40); do grep -q "$pattern" "$T/serve.log" && break; sleep 0.05; done
  grep -q "$pattern" "$T/serve.log" || fail "$what: no log line matching '$pattern'"
  REPLY_JSON=$reply
}

# --- registration by an independent mobile node ---
before=$(outcome registered)
r=$($NODE "${HA[@]}" 198.51.100.9 300 $KEY 600)
[ "$(jq -r '.code, .authentic, .lifetime' <<<"$r" | tr '\n' ' ')" = "0 true 30 " ] ||
  fail "registration: expected accepted, authentic, lifetime shortened to 30: $r"
[ "$(jq -r .id <<<"$r")" = "$(jq -r .sent_id <<<"$r")" ] || fail "the reply's identification is not the request's: $r"
[ "$(outcome registered)" = $((before + 1)) ] || fail "registration not counted"
curl -fsS "http://$ADMIN/api/v1/mip/bindings" | jq -e '.[] | select(.home_address == "10.64.0.7" and .care_of == "198.51.100.9")' >/dev/null ||
  fail "the binding is not listed: $(curl -fsS "http://$ADMIN/api/v1/mip/bindings")"
curl -fsS "http://$ADMIN/api/v1/devices/IPUI-00A1B2C3" | jq -e '.binding.care_of == "198.51.100.9"' >/dev/null ||
  fail "the device does not show where it is reachable"
pass "Scapy's mobile node registered 10.64.0.7 via 198.51.100.9; 600 s asked, 30 s granted; the reply authenticates"

# --- refusals (RFC 5944 3.4 codes) ---
expect_refusal bad_authenticator 131 true "refused 10.64.0.7 .*bad_authenticator" "${HA[@]}" 198.51.100.9 300 $KEY 60 --wrong-key
expect_refusal no_authenticator 131 true "refused 10.64.0.7 .*no_authenticator" "${HA[@]}" 198.51.100.9 300 $KEY 60 --no-auth
expect_refusal unknown_home_address 131 false "refused 10.64.0.99 .*unknown_home_address" 127.0.0.1 "$HA_PORT" 127.0.0.1 10.64.0.99 198.51.100.9 300 $KEY 60
expect_refusal unknown_home_agent 136 false "refused 10.64.0.7 .*unknown_home_agent" 127.0.0.1 "$HA_PORT" 192.0.2.1 10.64.0.7 198.51.100.9 300 $KEY 60
expect_refusal encapsulation_unavailable 139 true "encapsulation_unavailable" "${HA[@]}" 198.51.100.9 300 $KEY 60 --flags 8
expect_refusal clock_skew 133 true "refused 10.64.0.7 .*clock_skew" "${HA[@]}" 198.51.100.9 300 $KEY 60 --clock-skew 300
# RFC 5944 5.7: the refusal carries the Home Agent's time in the high bits, the request's low bits.
sent=$(jq -r .sent_id <<<"$REPLY_JSON"); got=$(jq -r .id <<<"$REPLY_JSON")
[ "${got:8}" = "${sent:8}" ] || fail "133 must keep the request's low 32 bits: sent $sent got $got"
ha_clock=$((16#${got:0:8} - 2208988800)); now=$(date +%s)
[ $((ha_clock - now)) -le 2 ] && [ $((now - ha_clock)) -le 2 ] || fail "133 must carry the Home Agent's clock ($ha_clock vs $now)"
before=$(outcome replayed)
twice=$($NODE "${HA[@]}" 198.51.100.9 300 $KEY 60 --send-twice)
[ "$(jq -r '.[0].code, .[1].code, .[1].authentic' <<<"$twice" | tr '\n' ' ')" = "0 133 true " ] || fail "a replayed request was not refused: $twice"
[ "$(outcome replayed)" = $((before + 1)) ] || fail "the replay was not counted"
grep -q "refused 10.64.0.7 .*replayed" "$T/serve.log" || fail "no log line for the replay"
pass "refused with the RFC's codes, each replied, counted and logged: 131 x3, 136, 139, 133 (skew, with the HA's clock), 133 (replay)"

# Datagrams too short to answer are dropped, counted and logged.
before=$(outcome too_short)
$PY -c 'import socket,sys; socket.socket(socket.AF_INET,socket.SOCK_DGRAM).sendto(b"\x01\x00\x00", ("127.0.0.1", int(sys.argv[1])))' "$HA_PORT"
for _ in $(seq 1 40); do [ "$(outcome too_short)" -gt "$before" ] && break; sleep 0.05; done
[ "$(outcome too_short)" = $((before + 1)) ] || fail "a short datagram was not counted"
grep -q "dropped a datagram from 127.0.0.1: too_short" "$T/serve.log" || fail "no log line for the short datagram"
# A source over its rate is dropped (counted, logged); others go on.
before=$(outcome rate_limited)
$PY - "$HA_PORT" <<'P'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.9", 0))
for _ in range(60): s.sendto(b"\x01" + b"\x00" * 23, ("127.0.0.1", int(sys.argv[1])))
P
for _ in $(seq 1 40); do [ "$(outcome rate_limited)" -gt "$before" ] && break; sleep 0.05; done
[ "$(outcome rate_limited)" -gt "$before" ] || fail "a flooding source was not rate limited"
grep -q "127.0.0.9 sends more than 600 requests a minute" "$T/serve.log" || fail "no log line for the rate limit"
pass "short datagrams and a flooding source dropped, counted and logged"

# --- durability: the replay memory and the binding survive kill -9 ---
ID=$(printf '%08x%08x' $(( $(date +%s) + 2208988800 + 1 )) 12345)
r=$($NODE "${HA[@]}" 198.51.100.20 300 $KEY 30 --id "$ID")
[ "$(jq -r .code <<<"$r")" = 0 ] || fail "registration before the kill: $r"
kill -9 "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
start_serve "$T/mobix.yaml" "$ADMIN_PORT" "$T/serve2.log" || fail "restart: $(tail -5 "$T/serve2.log")"
curl -fsS "http://$ADMIN/api/v1/mip/bindings" | jq -e '.[] | select(.care_of == "198.51.100.20")' >/dev/null ||
  fail "the binding did not survive kill -9"
r=$($NODE "${HA[@]}" 198.51.100.20 300 $KEY 30 --id "$ID")
[ "$(jq -r .code <<<"$r")" = 133 ] || fail "a request replayed after the restart was accepted: $r"
pass "kill -9: the binding and its replay memory survived (the replayed request is refused with 133)"

# --- two Home Agent nodes on one PostgreSQL: the store arbitrates (RFC 5944 5.7 across nodes) ---
if [ "${MIP_STORE:-sqlite}" = postgresql ]; then
  sed -e "s/^node: ha-test/node: ha-test-2/" -e "s/127.0.0.1:$ADMIN_PORT\"/127.0.0.1:$ADMIN2_PORT\"/" \
    -e "s/127.0.0.1:$HA_PORT\$/127.0.0.1:$HA2_PORT/" \
    "$T/mobix.yaml" >"$T/mobix2.yaml"
  start_serve "$T/mobix2.yaml" "$ADMIN2_PORT" "$T/serve-b.log" || fail "node B: $(tail -5 "$T/serve-b.log")"
  # Both identifications are newer than anything node B loaded at its start, and within the window.
  stamp=$(( $(date +%s) + 2208988800 + 2 ))
  ID_OLDER=$(printf '%08x%08x' "$stamp" 1); ID_LATER=$(printf '%08x%08x' "$stamp" 2)
  r=$($NODE "${HA[@]}" 203.0.113.77 300 $KEY 30 --id "$ID_LATER")
  [ "$(jq -r .code <<<"$r")" = 0 ] || fail "node A refused the later registration: $r"
  before=$(ADMIN=127.0.0.1:$ADMIN2_PORT outcome superseded)
  r=$($NODE 127.0.0.1 "$HA2_PORT" 127.0.0.1 10.64.0.7 198.51.100.66 300 $KEY 30 --id "$ID_OLDER")
  [ "$(jq -r '.code, .authentic' <<<"$r" | tr '\n' ' ')" = "133 true " ] ||
    fail "node B accepted a registration older than the one node A stored: $r"
  [ "$(ADMIN=127.0.0.1:$ADMIN2_PORT outcome superseded)" = $((before + 1)) ] || fail "the refusal was not counted"
  wait_grep "refused 10.64.0.7 from 127.0.0.1: superseded" "$T/serve-b.log" || fail "no log line for the refusal"
  curl -fsS "http://127.0.0.1:$ADMIN2_PORT/api/v1/mip/bindings" |
    jq -e '.[] | select(.home_address == "10.64.0.7" and .care_of == "203.0.113.77")' >/dev/null ||
    fail "the stored binding is not node A's later one"
  # Node B now knows the later registration: the same request again is refused from its memory.
  r=$($NODE 127.0.0.1 "$HA2_PORT" 127.0.0.1 10.64.0.7 198.51.100.66 300 $KEY 30 --id "$ID_OLDER")
  [ "$(jq -r .code <<<"$r")" = 133 ] || fail "node B accepted the request the second time: $r"
  grep -q "refused 10.64.0.7 from 127.0.0.1: replayed" "$T/serve-b.log" || fail "the second refusal is not a replay"
  pass "two nodes on one PostgreSQL: node B refused (133, counted, logged) a registration older than node A's, then knew A's"
fi

# --- mobix's own mobile node, captured and dissected by Wireshark ---
# tshark writes to a pipe so every packet is flushed at once; "Capturing on" comes before the
# capture is live, so probes to another port are sent until the file holds one (CI missed the 133).
tshark -q -i lo -f "udp port $HA_PORT or udp port $PROBE_PORT" -w - >"$T/mip.pcap" 2>"$T/tshark.log" &
TSHARK=$!
PIDS+=("$TSHARK")
live=
for _ in $(seq 1 200); do
  printf probe >"/dev/udp/127.0.0.1/$PROBE_PORT" 2>/dev/null || true
  sleep 0.05
  if [ "$(capinfos -c -M "$T/mip.pcap" 2>/dev/null | awk '/Number of packets/ {print $NF}')" -ge 1 ] 2>/dev/null; then live=1; break; fi
done
[ -n "$live" ] || fail "tshark never started capturing: $(cat "$T/tshark.log")"
"$MOBIX" sim mip --ha "127.0.0.1:$HA_PORT" --home 10.64.0.7 --care-of 198.51.100.9 --spi 300 --key-file "$T/mip.key" \
  --lifetime 3 --keep 7 --move-to 203.0.113.5 --move-after 5 --deregister --clock-skew -100 >"$T/sim.out" 2>&1 &
SIM=$!
moved=
# Polled for as long as the node runs (not a fixed count): on a loaded machine its schedule slips.
while kill -0 "$SIM" 2>/dev/null; do
  if curl -fsS "http://$ADMIN/api/v1/mip/bindings" | jq -e '.[] | select(.home_address == "10.64.0.7" and .care_of == "203.0.113.5")' >/dev/null; then moved=1; break; fi
  sleep 0.05
done
wait "$SIM" || fail "sim mip failed: $(cat "$T/sim.out")"
[ -n "$moved" ] || fail "the Home Agent never answered that 10.64.0.7 is reachable at 203.0.113.5: $(cat "$T/sim.out")"
events=$(jq -r '.event' "$T/sim.out" | tr '\n' ' ')
case "$events" in "registered renewed "*"moved "*"deregistered ") ;; *) fail "sim events: $events ($(cat "$T/sim.out"))";; esac
jq -s -e '.[0].event == "registered" and .[0].clock_offset >= 98 and .[0].clock_offset <= 102' "$T/sim.out" >/dev/null ||
  fail "the mobile node did not resynchronise its clock from the 133: $(head -1 "$T/sim.out")"
jq -s -e 'all(.[]; .code == 0)' "$T/sim.out" >/dev/null || fail "an exchange was refused: $(cat "$T/sim.out")"
curl -fsS "http://$ADMIN/api/v1/mip/bindings" | jq -e '[.[] | select(.home_address == "10.64.0.7")] | length == 0' >/dev/null ||
  fail "the binding stayed after deregistration"
# tshark writes as it captures: stop it only once the deregistration's reply (accepted, lifetime 0)
# is in the file, so no packet of the exchange is cut off on a loaded machine.
for _ in $(seq 1 100); do
  tshark -r "$T/mip.pcap" -d "udp.port==$HA_PORT,mip" -Y 'mip.type == 3 && mip.code == 0 && mip.life == 0' 2>/dev/null |
    grep -q . && break
  sleep 0.1
done
kill "$TSHARK"; wait "$TSHARK" 2>/dev/null || true
dissected=$(tshark -r "$T/mip.pcap" -d "udp.port==$HA_PORT,mip" -T fields -E separator=, \
  -e mip.type -e mip.code -e mip.life -e mip.homeaddr -e mip.coa -e mip.auth.spi 2>/dev/null)
grep -q '^1,,3,10.64.0.7,198.51.100.9,0x0000012c$' <<<"$dissected" || fail "tshark saw no request from 198.51.100.9: $dissected"
grep -q '^1,,3,10.64.0.7,203.0.113.5,0x0000012c$' <<<"$dissected" || fail "tshark saw no request from 203.0.113.5: $dissected"
grep -q '^1,,0,10.64.0.7,10.64.0.7,0x0000012c$' <<<"$dissected" || fail "tshark saw no deregistration: $dissected"
grep -q '^3,133,' <<<"$dissected" || fail "tshark saw no 133 for the skewed clock: $dissected"
[ "$(grep -c '^3,0,' <<<"$dissected")" -ge 4 ] || fail "tshark saw fewer than 4 accepting replies: $dissected"
bad=$(tshark -r "$T/mip.pcap" -d "udp.port==$HA_PORT,mip" -Y '_ws.malformed || _ws.expert.severity >= error' 2>/dev/null | wc -l)
[ "$bad" = 0 ] || fail "Wireshark flags $bad packets as malformed"
$PY - "$T/mip.pcap" "$KEY" "$HA_PORT" <<'P' || fail "an authenticator in the capture does not verify"
import hashlib, hmac, struct, sys
from scapy.all import rdpcap, UDP
key = bytes.fromhex(sys.argv[2]); n = 0
for p in rdpcap(sys.argv[1]):
    if int(sys.argv[3]) not in (p[UDP].sport, p[UDP].dport):
        continue  # a probe sent while waiting for the capture to start
    d = bytes(p[UDP].payload); fixed = 24 if d[0] == 1 else 20
    assert d[fixed] == 32 and d[fixed + 1] == 20, "no Mobile-Home Authentication Extension"
    assert hmac.compare_digest(hmac.new(key, d[:fixed + 6], hashlib.md5).digest(), d[fixed + 6:fixed + 22])
    n += 1
assert n >= 10, n
P
pass "mobix's mobile node: resynchronised after 133, renewed, moved to 203.0.113.5 (the HA answered it there), deregistered; tshark dissects every packet cleanly; every authenticator verifies"
