#!/usr/bin/env bash
# Seed 003's secure calls where they go wrong, each answered, counted (by the change of its counter)
# and logged, against a real MIT KDC. The AP-REQs of a forged caller come from MIT Kerberos through
# python-gssapi (sip_krb_peer.py); SIPp plays a stranger answering for the callee's proxy and a phone
# that never acknowledges; a silent peer is a UDP socket that only counts. sip_t1_ms is 50, so every
# 64*T1 timer (Timers B and H) runs out in 3.2 s instead of 32 s.
#  - a ticket for another device than the one called: 403 wrong_callee
#  - a ticket whose client is not the From user: 403 caller_mismatch
#  - a ticket that ran out on the way: 403 expired (or clock_skew, the same fact)
#  - a 200 OK never acknowledged: repeated (RFC 3261 13.3.1.4), then no_ack
#  - calls at max_calls: 503 too_many_calls with Retry-After, from the listener and from a dial
#  - a callee's 200 OK without the AP-REP: ACK, BYE, callee_not_authenticated
#  - a callee that never answers: the INVITE repeated (Timer A), then no_answer
#  - a caller's phone that never acknowledges: phone_gone
#  - call legs near max_calls (overload): SIP connections held back, and still answered
source "$(dirname "$0")/lib.sh"
for b in krb5kdc kdb5_util kadmin.local kinit sipp; do command -v $b >/dev/null || fail "$b is not installed"; done
/usr/bin/python3 -c 'import gssapi' 2>/dev/null || fail "python3-gssapi is not installed"
read -r ADMIN_PORT HA_PORT IDB_PORT MM_PORT KDC_PORT SIP_PORT PEER_PORT PHONE_PORT < <(free_ports t u t t d d u u)
ADMIN=127.0.0.1:$ADMIN_PORT
MM=127.0.0.1:$MM_PORT
REALM=MOBIX.TEST
A=IPUI-00A1B2C3 B=IPUI-00D4E5F6 ELSEWHERE=IPUI-0FFFFFFF  # ELSEWHERE: another operator's device
K=$T/krb5
mkdir -p "$K"
HERE=$(cd "$(dirname "$0")" && pwd)

source "$HERE/../../scripts/krb5-realm.sh"
write_realm "$K" "$REALM" "$KDC_PORT" 2  # a 2 s clock skew: an expired ticket shows within seconds
kdb5_util create -s -r $REALM -P masterpw >"$K/create.log" 2>&1 || fail "kdb5_util: $(tail -3 "$K/create.log")"
kadm() { kadmin.local -q "$1" >>"$K/kadmin.log" 2>&1 || fail "kadmin.local $1: $(tail -3 "$K/kadmin.log")"; }
kadm "addprinc -randkey HTTP/localhost"
kadm "ktadd -k $K/http.keytab HTTP/localhost"
for d in $A $B; do kadm "addprinc -randkey $d"; kadm "ktadd -k $K/mm.keytab $d"; done
kadm "addprinc -randkey $ELSEWHERE"  # known to the KDC, represented by no mobility manager here
krb5kdc -n -P "$K/kdc.pid" >>"$K/kdc.out" 2>&1 &
PIDS+=($!)
export KRB5CCNAME=FILE:$T/a.cc
for _ in $(seq 1 100); do kinit -k -t "$K/mm.keytab" $A@$REALM 2>/dev/null && break; sleep 0.05; done
klist >/dev/null 2>&1 || fail "krb5kdc did not start: $(tail -3 "$K/kdc.out")"

P=$T/pki
make_test_cert "$P" idb

cat >"$T/mobix.yaml" <<Y
node: sip-errors-test
store: {path: mobix.db}
admin: {listen: "$ADMIN", no_token: true}
home_agent: {listen: 127.0.0.1:$HA_PORT, address: 127.0.0.1}
kerberos: {realm: $REALM, config: $K/krb5.conf, rcache_dir: $K}
initiating_db: {listen: 127.0.0.1:$IDB_PORT, cert: $P/idb.crt, key: $P/idb.key, keytab: $K/http.keytab,
                home_agent: 127.0.0.1:$HA_PORT}
mobility_manager:
  listen: $MM
  sip_listen: 127.0.0.1:$SIP_PORT
  sip_peer: 127.0.0.1:$PEER_PORT  # where calls for devices not represented here go
  sip_t1_ms: 50
  max_calls: 3
  base_stations: [127.0.0.1/32]
  keytab: $K/mm.keytab
  initiating_db: 127.0.0.1:$IDB_PORT
  initiating_db_host: localhost
  ca: $P/ca.crt
Y
start_serve "$T/mobix.yaml" "$ADMIN_PORT" "$T/serve.log" || fail "serve did not start: $(tail -5 "$T/serve.log")"
SERVE_PID=${PIDS[-1]}
api() { curl -fsS -H 'Content-Type: application/json' "$@"; }
for s in 4670001:10.64.0.7:$A 4670002:10.64.0.8:$B; do
  IFS=: read -r msisdn home code <<<"$s"
  api -X POST "http://$ADMIN/api/v1/subscribers" -d "{\"msisdn\":\"$msisdn\",\"username\":\"user$msisdn\"}" >/dev/null
  api -X POST "http://$ADMIN/api/v1/devices" -d "{\"identity_code\":\"$code\",\"subscriber\":\"$msisdn\",\"home_address\":\"$home\",\"mip_spi\":300,\"mip_key\":\"$(openssl rand -hex 16)\"}" >/dev/null ||
    fail "device $code"
  "$MOBIX" sim device on --id "$code" --care-of 198.51.100.9 --mm "$MM" >/dev/null || fail "$code: switch on refused"
done
state() { "$MOBIX" sim device status --id "$1" --mm "$MM" 2>/dev/null | jq -r '.state // empty' 2>/dev/null || true; }
for d in $A $B; do
  for _ in $(seq 1 200); do [ "$(state $d)" = active ] && break; sleep 0.1; done
  [ "$(state $d)" = active ] || fail "$d never became active: $("$MOBIX" sim device status --id $d --mm "$MM" 2>&1)"
done
logged() { for _ in $(seq 1 60); do grep -q "$1" "$T/serve.log" && return 0; sleep 0.05; done; fail "no log line matching '$1'"; }
sip_outcome() { metric "mobix_mm_sip_requests_total{outcome=\"$1\"}"; }
call_outcome() { metric "mobix_mm_calls_total{outcome=\"$1\"}"; }
peer() { /usr/bin/python3 "$HERE/sip_krb_peer.py" "$SIP_PORT" "$@"; }
# Waits until a counter has grown by N: answers come before what a coroutine counts after them.
grown() { # N BEFORE COMMAND: COMMAND prints a counter
  for _ in $(seq 1 100); do [ "$($3)" -ge $(($2 + $1)) ] 2>/dev/null && return 0; sleep 0.05; done; return 1
}

# --- forged or stale Kerberos in the INVITE (the callee's proxy is this node) ---
before=$(sip_outcome wrong_callee)
answer=$(peer $B $A $A@$REALM) || fail "no answer to an INVITE for $B with a ticket for $A"
[ "$answer" = "SIP/2.0 403 Forbidden" ] || fail "a ticket for $A opened a call to $B: $answer"
[ "$(sip_outcome wrong_callee)" = $((before + 1)) ] || fail "wrong_callee was not counted"
logged "INVITE from 127.0.0.1 for $B refused with 403: wrong_callee (.*ticket server $A@$REALM not found"
before=$(sip_outcome caller_mismatch)
answer=$(peer $B $B $B@$REALM) || fail "no answer to an INVITE from $B with $A's ticket"
[ "$answer" = "SIP/2.0 403 Forbidden" ] || fail "$A's ticket called as $B: $answer"
[ "$(sip_outcome caller_mismatch)" = $((before + 1)) ] || fail "caller_mismatch was not counted"
logged "refused with 403: caller_mismatch ($A@$REALM authenticated, From says $B)"
# A 5 s TGT; the AP-REQ is built at once and sent 8 s later (beyond its end and the 2 s skew).
before_expired=$(sip_outcome expired) before_clock_skew=$(sip_outcome clock_skew)
KRB5CCNAME=FILE:$T/short.cc kinit -l 5s -k -t "$K/mm.keytab" $A@$REALM || fail "kinit -l 5s"
answer=$(KRB5CCNAME=FILE:$T/short.cc peer $B $A $B@$REALM --delay 8) || fail "no answer to an expired ticket"
[ "$answer" = "SIP/2.0 403 Forbidden" ] || fail "an expired ticket opened a call: $answer"
if [ "$(sip_outcome expired)" = $((before_expired + 1)) ]; then reason=expired
elif [ "$(sip_outcome clock_skew)" = $((before_clock_skew + 1)) ]; then reason=clock_skew
else fail "the expired ticket was counted under neither expired nor clock_skew"; fi
logged "INVITE from 127.0.0.1 for $B refused with 403: $reason"
pass "Kerberos in the INVITE: a ticket for another device (wrong_callee), another caller's ticket (caller_mismatch), a ticket run out ($reason): 403, counted, logged"

tcp_options() { # an OPTIONS on a new TCP connection; prints the answer's status line.
  /usr/bin/python3 -c '
import socket, sys
t = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); t.settimeout(10)
me = "127.0.0.1:%d" % t.getsockname()[1]
t.sendall(("OPTIONS sip:probe@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK-held\r\n"
           "From: <sip:probe@127.0.0.1>;tag=h1\r\nTo: <sip:probe@127.0.0.1>\r\nCall-ID: held-back\r\n"
           "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n" % me).encode())
print(t.recv(65535).decode().split("\r\n")[0])' "$SIP_PORT"
}

# --- 200 OKs never acknowledged fill max_calls (3): a fourth call is refused 503 ---
before_no_ack=$(sip_outcome no_ack) before_busy=$(sip_outcome too_many_calls) before_dial=$(call_outcome too_many_calls)
holders=()
for i in 1 2 3; do
  peer $B $A $B@$REALM --hold 5 >"$T/hold$i" 2>&1 &
  holders+=($!)
done
legs() { metric 'mobix_mm_call_legs{side="callee",state="answered"}'; }
for _ in $(seq 1 100); do [ "$(legs)" = 3 ] && break; sleep 0.05; done
[ "$(legs)" = 3 ] || fail "three answered calls waiting for their ACKs: the gauge says $(legs)"
answer=$(peer $B $A $B@$REALM) || fail "no answer to a call beyond max_calls"
[ "$answer" = "SIP/2.0 503 Service Unavailable" ] || fail "a call beyond max_calls got: $answer"
[ "$(sip_outcome too_many_calls)" = $((before_busy + 1)) ] || fail "too_many_calls (listener) was not counted"
logged "INVITE from 127.0.0.1 for $B refused with 503: too_many_calls (3 calls in progress)"
code=$(curl -sS -o "$T/busy" -w '%{http_code}' -X POST "http://$MM/v1/devices/$A/dial" -d "{\"to\":\"$B\",\"seconds\":1}")
[ "$code" = 503 ] && [ "$(jq -r .error "$T/busy")" = too_many_calls ] || fail "a dial beyond max_calls: $code $(cat "$T/busy")"
[ "$(call_outcome too_many_calls)" = $((before_dial + 1)) ] || fail "too_many_calls (dial) was not counted"
logged "call from $A to $B failed: too_many_calls"
# Over TCP a client is not read while the legs are near max_calls (RFC 6357 5.3): it is answered
# once a pause (at most 500 ms) is over, and the pause is counted and logged.
held=$(metric 'mobix_mm_sip_connections_total{outcome="held_back"}')
answer=$(tcp_options) || fail "no answer over TCP while the calls were at max_calls"
[ "$answer" = "SIP/2.0 200 OK" ] || fail "an OPTIONS over TCP at max_calls got: $answer"
[ "$(metric 'mobix_mm_sip_connections_total{outcome="held_back"}')" -gt "$held" ] || fail "the TCP client at max_calls was not held back"
logged "SIP connections held back: call legs near max_calls (overload)"
wait "${holders[@]}" || fail "an INVITE held without ACK: $(cat "$T"/hold*)"
for i in 1 2 3; do
  [ "$(head -1 "$T/hold$i")" = "SIP/2.0 200 OK" ] || fail "held call $i: $(cat "$T/hold$i")"
  n=$(sed -n 's/^answers=//p' "$T/hold$i")
  [ "${n:-0}" -ge 3 ] || fail "the 200 OK of held call $i was not repeated until given up ($n answers)"
done
grown 3 "$before_no_ack" "sip_outcome no_ack" || fail "no_ack counted $(($(sip_outcome no_ack) - before_no_ack)) times, not 3"
logged "call .* to $B: no ACK for the 200 OK; ended"
[ "$(legs)" = 0 ] || fail "the unacknowledged calls are still held ($(legs))"
pass "200 OKs without ACK repeated ($(sed -n 's/^answers=//p' "$T/hold1") times) then ended (no_ack x3); at max_calls a 4th INVITE and a dial get 503 too_many_calls and a TCP client is held back; counted and logged"

# --- the callee's side cannot prove the callee's key: SIPp answers in its place ---
printf 'SEQUENTIAL\n%s;\n' "$ELSEWHERE" >"$T/elsewhere.csv"
(cd "$T" && sipp -sf "$HERE/sipp/stranger_callee_answers.xml" -i 127.0.0.1 -p "$PEER_PORT" -m 1 -timeout 20 \
  -timeout_error -nostdin -trace_err >"$T/sipp-stranger.out" 2>&1) &
SIPP=$!
PIDS+=($SIPP)
sleep 0.3
before=$(call_outcome callee_not_authenticated)
code=$(curl -sS -o "$T/dial" -w '%{http_code}' -X POST "http://$MM/v1/devices/$A/dial" -d "{\"to\":\"$ELSEWHERE\",\"seconds\":1}")
[ "$code" = 502 ] && [ "$(jq -r .error "$T/dial")" = callee_not_authenticated ] ||
  fail "a callee without the AP-REP: $code $(cat "$T/dial")"
wait $SIPP || fail "SIPp did not get the ACK and the BYE: $(tail -5 "$T/sipp-stranger.out"; cat "$T"/*errors.log 2>/dev/null | tail -5)"
[ "$(call_outcome callee_not_authenticated)" = $((before + 1)) ] || fail "callee_not_authenticated was not counted"
logged "call from $A to $ELSEWHERE failed: callee_not_authenticated (no valid Kerberos AP-REP in the 200 OK)"
pass "a 200 OK without the callee's AP-REP: acknowledged, hung up (SIPp got ACK and BYE), refused 502 callee_not_authenticated, counted, logged"

# --- nobody answers: the INVITE is repeated (Timer A), then given up (Timer B, 64*T1) ---
/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", int(sys.argv[1])))
n, end = 0, time.monotonic() + 6
while time.monotonic() < end:
    s.settimeout(max(0.01, end - time.monotonic()))
    try: n += s.recv(65535).startswith(b"INVITE ")
    except socket.timeout: break
print(n)' "$PEER_PORT" >"$T/silent" &
SILENT=$!
sleep 0.3
before=$(call_outcome no_answer)
code=$(curl -sS -o "$T/dial" -w '%{http_code}' -X POST "http://$MM/v1/devices/$A/dial" -d "{\"to\":\"$ELSEWHERE\",\"seconds\":1}")
[ "$code" = 504 ] && [ "$(jq -r .error "$T/dial")" = no_answer ] || fail "a callee that never answers: $code $(cat "$T/dial")"
[ "$(call_outcome no_answer)" = $((before + 1)) ] || fail "no_answer was not counted"
logged "call from $A to $ELSEWHERE failed: no_answer (no final answer to the INVITE)"
wait $SILENT
[ "$(cat "$T/silent")" -ge 4 ] || fail "the INVITE was sent $(cat "$T/silent") times (Timer A retransmits it)"
pass "a callee that never answers: the INVITE sent $(cat "$T/silent") times (Timer A), then 504 no_answer, counted, logged"

# --- a caller's phone that never acknowledges its 200 OK ---
printf 'SEQUENTIAL\n%s;%s;\n' $A $B >"$T/phone.csv"
before=$(call_outcome phone_gone) bye_before=$(sip_outcome bye)
(cd "$T" && sipp -sf "$HERE/sipp/phone_never_acks.xml" -inf "$T/phone.csv" -i 127.0.0.1 -p "$PHONE_PORT" -m 1 \
  -timeout 20 -timeout_error -nostdin -trace_err "127.0.0.1:$SIP_PORT" >"$T/sipp-phone.out" 2>&1) ||
  fail "SIPp as $A's phone got no answer: $(tail -5 "$T/sipp-phone.out"; cat "$T"/phone_never_acks*errors.log 2>/dev/null | tail -5)"
grown 1 "$before" "call_outcome phone_gone" || fail "phone_gone was not counted"
logged "call from $A to $B failed: phone_gone (the caller's phone did not acknowledge the answer)"
grown 1 "$bye_before" "sip_outcome bye" || fail "the callee's leg was not hung up (no BYE)"
pass "a phone that never acknowledges its 200 OK: given up after 64*T1 as phone_gone, the callee's leg hung up (BYE), counted, logged"
