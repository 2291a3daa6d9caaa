#!/usr/bin/env bash
# Seed 002 [0029]/[0033] in one network: the terminal's host name and its address follow the
# access session in DNS. Zones in the embedded server (queried with dig, UDP and TCP) and one
# zone in a real BIND 9 fed by RFC 2136 UPDATEs signed with TSIG (unsigned and wrong-key
# updates refused by BIND). kill -9 mid-session, then restart: the zones match the sessions.
source "$(dirname "$0")/lib.sh"
command -v named >/dev/null || fail "named (bind9) is not installed"
read -r RAUTH RACCT ADMIN_PORT DNS_PORT BIND_PORT < <(free_ports u u t d d)
ADMIN=127.0.0.1:$ADMIN_PORT
SECRET=dns-test-secret

# --- BIND 9 as the operator's own DNS server for zone bind.test (ENVIRONMENT.md recipe) ---
mkdir -p "$T/bind"
tsig-keygen -a hmac-sha256 mobix > "$T/bind/mobix.key"
TSIG=$(awk -F'"' '/secret/ {print $2}' "$T/bind/mobix.key")
echo "$TSIG" > "$T/tsig.secret"
cat > "$T/bind/bind.test.db" <<Z
\$TTL 60
@ IN SOA ns1.bind.test. hostmaster.bind.test. ( 1 60 60 600 60 )
  IN NS ns1.bind.test.
ns1 IN A 127.0.0.1
Z
cat > "$T/bind/named.conf" <<C
options {
  directory "$T/bind"; pid-file "$T/bind/named.pid";
  listen-on port $BIND_PORT { 127.0.0.1; }; listen-on-v6 { none; };
  recursion no; dnssec-validation no; managed-keys-directory "$T/bind";
};
controls { };
include "$T/bind/mobix.key";
zone "bind.test" { type primary; file "$T/bind/bind.test.db"; update-policy { grant mobix zonesub ANY; }; };
C
start_bind() {
  named -g -c "$T/bind/named.conf" >>"$T/named.log" 2>&1 &
  BIND_PID=$!
  PIDS+=("$BIND_PID")
  for _ in $(seq 1 100); do dig +short +time=1 +tries=1 @127.0.0.1 -p "$BIND_PORT" bind.test SOA >/dev/null 2>&1 && return 0; sleep 0.05; done
  fail "BIND did not start: $(tail -5 "$T/named.log")"
}
start_bind

cat > "$T/mobix.yaml" <<Y
node: dns-test
store: {path: mobix.db}
admin: {listen: "$ADMIN", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:$RAUTH
    acct_listen: 127.0.0.1:$RACCT
    clients: [{name: test-ggsn, address: 127.0.0.0/8, secret: $SECRET}]
  pools: [{name: internet, range: 127.4.0.10-127.4.0.250}]
dns:
  listen: 127.0.0.1:$DNS_PORT
  ttl: 30
  zones:
    - name: home.test
      records: ["ns1 A 127.0.0.1", "www A 127.0.0.80"]
    - name: 4.127.in-addr.arpa
    - name: bind.test
      update: {server: "127.0.0.1:$BIND_PORT", key_name: mobix, key_secret_file: tsig.secret}
Y
"$MOBIX" check-config "$T/mobix.yaml" >/dev/null || fail "config rejected"
start_serve "$T/mobix.yaml" "$ADMIN_PORT" "$T/mobix.log" || fail "mobix did not start: $(tail "$T/mobix.log")"
MOBIX_PID=${PIDS[-1]}
api() { curl -fsS "http://$ADMIN/api/v1/$1" "${@:2}"; }
api subscribers -X POST --json '{"msisdn":"31600000001","username":"alice","password":"alice-pw","hostname":"alice.home.test"}' >/dev/null
api subscribers -X POST --json '{"msisdn":"31600000002","username":"bob","password":"bob-pw","hostname":"bob.bind.test"}' >/dev/null
attach() { "$MOBIX" sim attach --auth 127.0.0.1:$RAUTH --acct 127.0.0.1:$RACCT --secret $SECRET --msisdn "$1" --username "$2" --password "$2-pw" --state-dir "$T/sim" "${@:3}" | tail -1; }
detach() { "$MOBIX" sim detach --auth 127.0.0.1:$RAUTH --acct 127.0.0.1:$RACCT --secret $SECRET --msisdn "$1" --state-dir "$T/sim" >/dev/null; }
q() { dig +norec +time=2 +tries=1 @127.0.0.1 -p "$DNS_PORT" "$@"; }
qb() { dig +norec +time=2 +tries=1 @127.0.0.1 -p "$BIND_PORT" "$@"; }

# Static data and negative answers before any session (RFC 2308: SOA in the authority section).
[ "$(q +short www.home.test A)" = 127.0.0.80 ] || fail "static record"
out=$(q alice.home.test A)
grep -q 'status: NXDOMAIN' <<<"$out" || fail "NXDOMAIN expected before attach: $out"
grep -q 'flags: qr aa' <<<"$out" || fail "authoritative flag missing"
grep -A1 'AUTHORITY SECTION' <<<"$out" | grep -q 'SOA' || fail "no SOA with NXDOMAIN"
grep -q 'status: NOERROR' <<<"$(q www.home.test AAAA)" && [ -z "$(q +short www.home.test AAAA)" ] || fail "NODATA expected"
grep -q 'status: REFUSED' <<<"$(q example.com A)" || fail "non-authoritative names must be refused"
serial0=$(q +short home.test SOA | awk '{print $3}')
pass "embedded server: static A, NXDOMAIN/NODATA with SOA, REFUSED outside its zones"

ip=$(attach 31600000001 alice)
[[ "$ip" == 127.4.0.* ]] || fail "attach printed '$ip'"
[ "$(q +short alice.home.test A)" = "$ip" ] || fail "forward lookup: $(q alice.home.test A)"
[ "$(q +short -x "$ip")" = "alice.home.test." ] || fail "reverse lookup: $(q -x "$ip")"
[ "$(q +tcp +short ALICE.Home.Test A)" = "$ip" ] || fail "TCP / mixed-case lookup"
grep -q 'ALICE.Home.Test' <<<"$(q ALICE.Home.Test A)" || fail "question case not echoed (DNS 0x20)"
serial1=$(q +short home.test SOA | awk '{print $3}')
[ "$serial1" -gt "$serial0" ] || fail "serial not bumped ($serial0 -> $serial1)"
[ "$(q +short 4.127.in-addr.arpa NS)" = "ns1.4.127.in-addr.arpa." ] || fail "zone NS"
grep -q 'status: NOERROR' <<<"$(q 0.4.127.in-addr.arpa PTR)" || fail "empty non-terminal must be NODATA (RFC 8020)"
pass "attach: alice.home.test A $ip and PTR, over UDP and TCP; serial $serial0 -> $serial1"

ipb=$(attach 31600000002 bob)
for _ in $(seq 1 50); do [ "$(qb +short bob.bind.test A)" = "$ipb" ] && break; sleep 0.1; done
[ "$(qb +short bob.bind.test A)" = "$ipb" ] || fail "BIND did not get bob.bind.test: $(tail -5 "$T/named.log")"
[ "$(q +short -x "$ipb")" = "bob.bind.test." ] || fail "bob's PTR in the embedded reverse zone"
pass "RFC 2136 + TSIG: BIND serves bob.bind.test A $ipb"

# BIND accepts only signed updates from our key.
printf 'server 127.0.0.1 %s\nzone bind.test\nupdate add evil.bind.test 60 A 127.6.6.6\nsend\n' "$BIND_PORT" |
  nsupdate 2>"$T/nsu1.err" && fail "unsigned update accepted"
grep -qi 'refused' "$T/nsu1.err" || fail "unsigned update: $(cat "$T/nsu1.err")"
printf 'server 127.0.0.1 %s\nzone bind.test\nupdate add evil.bind.test 60 A 127.6.6.6\nsend\n' "$BIND_PORT" |
  nsupdate -y "hmac-sha256:mobix:$(echo -n wrongwrongwrongwrongwrongwrong12 | base64)" 2>"$T/nsu2.err" && fail "wrong-key update accepted"
[ -z "$(qb +short evil.bind.test A)" ] || fail "evil record present"
pass "BIND refuses unsigned ($(grep -io 'refused' "$T/nsu1.err" | head -1)) and wrong-key updates ($(head -c 60 "$T/nsu2.err" | tr '\n' ' '))"

# kill -9 mid-session; alice detaches while mobix is down (the NAS retries); restart reconciles.
kill -9 "$MOBIX_PID"; wait "$MOBIX_PID" 2>/dev/null || true
start_serve "$T/mobix.yaml" "$ADMIN_PORT" "$T/mobix2.log" || fail "restart: $(tail "$T/mobix2.log")"
MOBIX_PID=${PIDS[-1]}
[ "$(q +short alice.home.test A)" = "$ip" ] || fail "alice's A lost after kill -9"
[ "$(q +short -x "$ip")" = "alice.home.test." ] || fail "alice's PTR lost after kill -9"
pass "after kill -9 and restart the embedded zones hold the live sessions' records"

detach 31600000001
grep -q 'status: NXDOMAIN' <<<"$(q alice.home.test A)" || fail "A still there after Stop"
grep -q 'status: NXDOMAIN' <<<"$(q -x "$ip")" || fail "PTR still there after Stop"
pass "Stop: forward and reverse gone (NXDOMAIN)"

# Every other way a session ends removes its records too: an admin purge, and Accounting-Off
# from the NAS (RFC 2866 5.1: every session it held is gone).
ip=$(attach 31600000001 alice)
[ "$(q +short alice.home.test A)" = "$ip" ] || fail "re-attach"
curl -fsS -X DELETE "http://$ADMIN/api/v1/sessions/$ip" >/dev/null || fail "purge"
grep -q 'status: NXDOMAIN' <<<"$(q alice.home.test A)" || fail "A still there after an admin purge"
rm -f "$T/sim/31600000001.json"
# Through another NAS, so its Accounting-Off does not end bob's session (used below).
ip=$(attach 31600000001 alice --nas nas-b)
[ "$(q +short -x "$ip")" = "alice.home.test." ] || fail "re-attach (PTR)"
printf 'Acct-Status-Type = Accounting-Off\nNAS-Identifier = "nas-b"\n' | radclient -q -r 2 -t 2 127.0.0.1:$RACCT acct $SECRET || fail "Accounting-Off"
grep -q 'status: NXDOMAIN' <<<"$(q alice.home.test A)" || fail "A still there after Accounting-Off"
grep -q 'status: NXDOMAIN' <<<"$(q -x "$ip")" || fail "PTR still there after Accounting-Off"
pass "admin purge and Accounting-Off remove the records as Stop does"

# BIND down: the removal waits and is retried. mobix is then killed with -9 before BIND is back:
# the removal was journaled with the session's end, so the restarted mobix still sends it.
kill "$BIND_PID"; wait "$BIND_PID" 2>/dev/null || true
detach 31600000002
for _ in $(seq 1 50); do
  [ "$(metric 'mobix_dns_update_failures_total{zone="bind.test"}')" -ge 1 ] && break; sleep 0.1
done
[ "$(metric 'mobix_dns_update_failures_total{zone="bind.test"}')" -ge 1 ] || fail "no failure counted with BIND down"
[ "$(metric mobix_dns_update_queue)" -ge 1 ] || fail "the change should be queued"
[ "$(sqlite3 "$T/mobix.db" 'SELECT count(*) FROM dns_removals')" = 1 ] || fail "the removal is not journaled"
kill -9 "$MOBIX_PID"; wait "$MOBIX_PID" 2>/dev/null || true
start_bind
[ "$(qb +short bob.bind.test A)" = "$ipb" ] || fail "BIND should still hold the stale record here"
start_serve "$T/mobix.yaml" "$ADMIN_PORT" "$T/mobix3.log" || fail "restart: $(tail "$T/mobix3.log")"
MOBIX_PID=${PIDS[-1]}
for _ in $(seq 1 100); do [ -z "$(qb +short bob.bind.test A)" ] && break; sleep 0.1; done
[ -z "$(qb +short bob.bind.test A)" ] || fail "bob.bind.test not removed after the restart"
[ -z "$(qb +short -x "$ipb")" ] || fail "unexpected PTR in BIND"
for _ in $(seq 1 50); do [ "$(sqlite3 "$T/mobix.db" 'SELECT count(*) FROM dns_removals')" = 0 ] && break; sleep 0.1; done
[ "$(sqlite3 "$T/mobix.db" 'SELECT count(*) FROM dns_removals')" = 0 ] || fail "journal not cleared after BIND confirmed"
pass "BIND down, Stop, kill -9: the journaled removal is resent after the restart; BIND drops the stale record"

# Malformed and non-query messages get a clean answer or none, and the server keeps serving.
python3 - "$DNS_PORT" <<'P'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
port = int(sys.argv[1])
def ask(b):
    s.sendto(b, ("127.0.0.1", port))
    try: return s.recv(2048)
    except socket.timeout: return None
r = ask(b"\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05hel")      # truncated question
assert r and r[:2] == b"\x12\x34" and (r[3] & 0xf) == 1, ("FORMERR expected", r)
r = ask(b"\x12\x35\x28\x00" + b"\x00" * 8)                                 # opcode UPDATE
assert r and (r[3] & 0xf) == 4, ("NOTIMP expected", r)
assert ask(b"\x12\x36\x80\x00" + b"\x00" * 8) is None                      # a response: never answered
assert ask(b"\x01") is None                                                # no header
P
[ "$(q +short www.home.test A)" = 127.0.0.80 ] || fail "server stopped answering after malformed input"
[ "$(metric 'mobix_dns_responses_total{rcode="formerr"}')" -ge 1 ] || fail "formerr not counted"
pass "malformed queries: FORMERR/NOTIMP or dropped, counted; still serving"
