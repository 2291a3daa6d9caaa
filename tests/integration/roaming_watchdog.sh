#!/usr/bin/env bash
# Issue 13 items 4-5: RadSec against an independent server, the RFC 5997 watchdog, and CRLs.
# - mobix's RadSec client (the visited network) meets radsecproxy on the home side: the roamer's
#   Access-Request goes visited mobix -> RadSec -> radsecproxy -> UDP -> home mobix, and back.
# - Status-Server (RFC 5997): home answers radclient's over UDP; one without Message-Authenticator
#   is dropped (counted, logged). The visited side probes its idle connection to radsecproxy and
#   counts it alive; radsecproxy frozen (SIGSTOP, the TCP connection stays up), the probe goes
#   unanswered and the connection is closed (counted, logged); thawed, the next roamer gets through.
# - Outbox: a Stop queued while home is unreachable survives kill -9 of the visited node.
# - CRL: home's RadSec listener checks partners against the roaming CA's CRL; a revoked partner
#   certificate is refused from the next connection on, the CRL re-read without a restart.
source "$(dirname "$0")/lib.sh"
# A radsecproxy left frozen (SIGSTOP) by a failing step would never die of cleanup's SIGTERM.
trap 'kill -CONT "${RSP:-}" 2>/dev/null; cleanup' EXIT
command -v radsecproxy >/dev/null || fail "radsecproxy is not installed (scripts/install-deps.sh)"
read -r H_AUTH H_ACCT H_ADMIN H_RS V_AUTH V_ACCT V_ADMIN R_TLS < <(free_ports u u t t u u t t)
SECRET=nas-secret

"$MOBIX" pki init --dir "$T/pki" --cn "roaming CA" >/dev/null
"$MOBIX" pki issue --dir "$T/pki" --cn home.radsec.test --dns home.radsec.test --server --client --out "$T/home" >/dev/null
VISITED_SERIAL=$("$MOBIX" pki issue --dir "$T/pki" --cn visited.radsec.test --dns visited.radsec.test --server --client \
  --out "$T/visited" | awk '/^serial/ {print $2}')

mkdir -p "$T/h" "$T/v"
cat >"$T/h/mobix.yaml" <<Y
node: home
store: {path: home.db}
admin: {listen: "127.0.0.1:$H_ADMIN", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:$H_AUTH
    acct_listen: 127.0.0.1:$H_ACCT
    clients: [{name: home-side, address: 127.0.0.0/8, secret: $SECRET}]
  pools: [{name: home, range: 127.8.0.10-127.8.0.250}]
roaming:
  realms: [home.test]
  radsec_listen: 127.0.0.1:$H_RS
  tls_cert_file: $T/home.crt
  tls_key_file: $T/home.key
  ca_file: $T/pki/ca.crt
  crl_file: $T/pki/crl.pem
  partners:
    - {name: visited, realm: visited.test, certificate_name: visited.radsec.test}
Y
# The visited network's route to home.test is radsecproxy (home's RadSec front end).
cat >"$T/v/mobix.yaml" <<Y
node: visited
store: {path: visited.db}
admin: {listen: "127.0.0.1:$V_ADMIN", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:$V_AUTH
    acct_listen: 127.0.0.1:$V_ACCT
    clients: [{name: visited-ggsn, address: 127.0.0.0/8, secret: $SECRET}]
  pools: [{name: visitors, range: 127.9.0.10-127.9.0.250}]
roaming:
  realms: [visited.test]
  tls_cert_file: $T/visited.crt
  tls_key_file: $T/visited.key
  ca_file: $T/pki/ca.crt
  timeout: 1
  status_server_interval: 1
  partners:
    - {name: home, realm: home.test, certificate_name: home.radsec.test, server: "127.0.0.1:$R_TLS"}
Y
cat >"$T/radsecproxy.conf" <<C
ListenTLS 127.0.0.1:$R_TLS
LogLevel 4
tls default {
  CACertificateFile $T/pki/ca.crt
  CertificateFile $T/home.crt
  CertificateKeyFile $T/home.key
}
client visited {
  host 127.0.0.1
  type tls
  secret radsec
  tls default
  CertificateNameCheck off
  MatchCertificateAttribute SubjectAltName:DNS:/^visited\\.radsec\\.test\$/
}
server home-udp {
  host 127.0.0.1
  port $H_AUTH
  type udp
  secret $SECRET
}
server home-udp-acct {
  host 127.0.0.1
  port $H_ACCT
  type udp
  secret $SECRET
}
realm home.test {
  server home-udp
  accountingServer home-udp-acct
}
C
start_serve "$T/h/mobix.yaml" "$H_ADMIN" "$T/home.log" || fail "home did not start: $(tail "$T/home.log")"
start_serve "$T/v/mobix.yaml" "$V_ADMIN" "$T/visited.log" || fail "visited did not start: $(tail "$T/visited.log")"
V_PID=${PIDS[-1]}
radsecproxy -f -c "$T/radsecproxy.conf" >"$T/radsecproxy.log" 2>&1 &
RSP=$!
PIDS+=("$RSP")
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$R_TLS) 2>/dev/null && break; sleep 0.05; done
curl -fsS "http://127.0.0.1:$H_ADMIN/api/v1/subscribers" -X POST \
  --json '{"msisdn":"31600000001","username":"alice","password":"alice-pw","hostname":"alice.home.test"}' >/dev/null
hmetric() { ADMIN=127.0.0.1:$H_ADMIN metric "$1"; }
vmetric() { ADMIN=127.0.0.1:$V_ADMIN metric "$1"; }
vsim() { "$MOBIX" sim "$1" --auth 127.0.0.1:$V_AUTH --acct 127.0.0.1:$V_ACCT --secret $SECRET --state-dir "$T/sim" "${@:2}"; }

# --- Status-Server over UDP (RFC 5997), asked by radclient ---
before=$(hmetric 'mobix_radius_status_server_total{via="udp"}')
out=$(printf 'Message-Authenticator = 0x00\n' | radclient -x -r 1 -t 2 127.0.0.1:$H_AUTH status $SECRET 2>&1) ||
  fail "radclient status: $out"
grep -q "Received Access-Accept" <<<"$out" || fail "Status-Server not answered Access-Accept: $out"
[ "$(hmetric 'mobix_radius_status_server_total{via="udp"}')" = $((before + 1)) ] || fail "Status-Server not counted"
# Without Message-Authenticator (RFC 5997 section 3: MUST be discarded).
before=$(hmetric 'mobix_radius_dropped_total{listener="auth",reason="status_server_unauthenticated"}')
/usr/bin/python3 - "$H_AUTH" <<'PY' && fail "a Status-Server without Message-Authenticator was answered"
import os, socket, struct, sys
pkt = bytes([12, 7]) + struct.pack(">H", 20) + os.urandom(16)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
s.sendto(pkt, ("127.0.0.1", int(sys.argv[1])))
try: s.recvfrom(4096)
except socket.timeout: sys.exit(1)
PY
[ "$(hmetric 'mobix_radius_dropped_total{listener="auth",reason="status_server_unauthenticated"}')" = $((before + 1)) ] ||
  fail "the unauthenticated Status-Server was not counted"
grep -q "dropped packet from .*: status_server_unauthenticated" "$T/home.log" || fail "no log line for it"
pass "Status-Server: radclient's answered Access-Accept (counted); one without Message-Authenticator dropped (counted, logged)"

# --- mobix's RadSec client against radsecproxy ---
ip=$(vsim attach --msisdn 31600000001 --username alice@home.test --password alice-pw | tail -1)
[[ "$ip" == 127.9.0.* ]] || fail "roaming attach through radsecproxy printed '$ip': $(tail -5 "$T/visited.log") $(tail -5 "$T/radsecproxy.log")"
out=$(vsim attach --msisdn 31600000001 --username alice@home.test --password wrong 2>&1) && fail "a wrong password got through radsecproxy"
grep -q "authentication failed" <<<"$out" || fail "wrong password through radsecproxy: $out"
pass "visited mobix -> RadSec -> radsecproxy -> home mobix: the roamer is authenticated ($ip), a wrong password refused"

# --- the watchdog: idle for a second, probed; radsecproxy answers ---
alive='mobix_radsec_watchdog_total{partner="home",result="alive"}'
dead='mobix_radsec_watchdog_total{partner="home",result="dead"}'
for _ in $(seq 1 100); do [ "$(vmetric "$alive")" -ge 1 ] && break; sleep 0.05; done
[ "$(vmetric "$alive")" -ge 1 ] || fail "no Status-Server probe answered: $(grep -i status "$T/radsecproxy.log" | tail -3)"
[ "$(vmetric "$dead")" = 0 ] || fail "a live partner was declared dead"
# Frozen: the connection stays open but nothing answers.
kill -STOP "$RSP"
for _ in $(seq 1 100); do [ "$(vmetric "$dead")" -ge 1 ] && break; sleep 0.05; done
[ "$(vmetric "$dead")" -ge 1 ] || { kill -CONT "$RSP"; fail "a frozen partner was not declared dead"; }
grep -q "radsec home: no answer to Status-Server from 127.0.0.1:$R_TLS within 1 s; closing the connection" "$T/visited.log" ||
  { kill -CONT "$RSP"; fail "no log line for the dead partner"; }
kill -CONT "$RSP"
ip2=$(vsim attach --msisdn 31600000002 --username alice@home.test --password alice-pw | tail -1)
[[ "$ip2" == 127.9.0.* ]] || fail "after radsecproxy thawed: '$ip2': $(tail -5 "$T/visited.log")"
pass "watchdog: an idle link probed with Status-Server (radsecproxy answers); frozen, the probe goes unanswered and the link is closed (counted, logged); thawed, a new link serves"

# --- the outbox survives kill -9: a Stop queued while home is unreachable is delivered by the next run ---
home_sessions() { curl -fsS "http://127.0.0.1:$H_ADMIN/api/v1/sessions" | jq --arg ip "$1" '[.[] | select(.ip == $ip)] | length'; }
for _ in $(seq 1 100); do [ "$(home_sessions "$ip2")" = 1 ] && break; sleep 0.05; done
[ "$(home_sessions "$ip2")" = 1 ] || fail "the roamer's Start did not reach home: $(curl -fsS "http://127.0.0.1:$H_ADMIN/api/v1/sessions")"
# Frozen, and the link declared dead first: the Stop then never leaves the visited node (nothing
# sits in radsecproxy's socket buffer to be forwarded when it thaws).
dead_before=$(vmetric "$dead")
kill -STOP "$RSP"
for _ in $(seq 1 100); do [ "$(vmetric "$dead")" -gt "$dead_before" ] && break; sleep 0.05; done
[ "$(vmetric "$dead")" -gt "$dead_before" ] || { kill -CONT "$RSP"; fail "the frozen partner was not declared dead again"; }
vsim detach --msisdn 31600000002 >/dev/null || { kill -CONT "$RSP"; fail "detach at the visited network"; }
for _ in $(seq 1 100); do [ "$(vmetric mobix_roaming_outbox_pending)" -ge 1 ] && break; sleep 0.05; done
[ "$(vmetric mobix_roaming_outbox_pending)" -ge 1 ] || { kill -CONT "$RSP"; fail "the Stop for home is not waiting in the outbox"; }
kill -9 "$V_PID"; wait "$V_PID" 2>/dev/null || true
kill -CONT "$RSP"
[ "$(home_sessions "$ip2")" = 1 ] || fail "home lost the session before the Stop was delivered"
start_serve "$T/v/mobix.yaml" "$V_ADMIN" "$T/visited2.log" || fail "visited restart: $(tail "$T/visited2.log")"
grep -q "1 accounting record(s) for home networks left by the last run; delivering" "$T/visited2.log" ||
  fail "the restarted visited node did not find the queued Stop: $(tail -5 "$T/visited2.log")"
for _ in $(seq 1 200); do [ "$(home_sessions "$ip2")" = 0 ] && break; sleep 0.05; done
[ "$(home_sessions "$ip2")" = 0 ] || fail "the queued Stop never reached home after the restart"
for _ in $(seq 1 100); do [ "$(vmetric mobix_roaming_outbox_pending)" = 0 ] && break; sleep 0.05; done
[ "$(vmetric mobix_roaming_outbox_pending)" = 0 ] || fail "the delivered Stop is still pending"
pass "a roamer's Stop queued while home was unreachable survives kill -9 of the visited node and reaches home after the restart"

# --- CRL: home refuses a revoked partner certificate from the next connection on ---
hs() { echo | timeout 5 openssl s_client -connect 127.0.0.1:$H_RS -cert "$T/visited.crt" -key "$T/visited.key" \
  -CAfile "$T/pki/ca.crt" 2>&1; }
hs >/dev/null
for _ in $(seq 1 40); do grep -q "radsec: partner visited connected" "$T/home.log" && break; sleep 0.05; done
grep -q "radsec: partner visited connected" "$T/home.log" || fail "the partner's certificate was not accepted before revocation"
before=$(hmetric 'mobix_radsec_refused_total{reason="tls"}')
"$MOBIX" pki revoke --dir "$T/pki" --serial "$VISITED_SERIAL" >/dev/null
hs >/dev/null || true
for _ in $(seq 1 40); do [ "$(hmetric 'mobix_radsec_refused_total{reason="tls"}')" -gt "$before" ] && break; sleep 0.05; done
[ "$(hmetric 'mobix_radsec_refused_total{reason="tls"}')" -gt "$before" ] || fail "a revoked partner certificate was accepted"
grep -q "radsec: TLS handshake with 127.0.0.1 failed: .*(certificate revoked)" "$T/home.log" || fail "no log line naming the revocation: $(grep radsec "$T/home.log" | tail -3)"
grep -q "CRL $T/pki/crl.pem re-read" "$T/home.log" || fail "the CRL was not re-read"
pass "CRL: a revoked partner certificate is refused at the handshake (counted, logged), without a restart"
