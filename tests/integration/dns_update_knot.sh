#!/usr/bin/env bash
# Seed 002's alternative for an operator whose own DNS server holds the zone (issue 13 item 4):
# mobix's RFC 2136 UPDATE client, signed with TSIG (RFC 8945), against Knot DNS — an implementation
# other than BIND (dns_zones.sh). Attach publishes the subscriber's A record in Knot, detach removes
# it; Knot refuses an unsigned update; Knot down, the failure is counted and logged, and the
# record is published once Knot is back.
source "$(dirname "$0")/lib.sh"
command -v knotd >/dev/null || fail "knotd (knot) is not installed"
read -r RAUTH RACCT ADMIN_PORT DNS_PORT KNOT_PORT < <(free_ports u u t d d)
ADMIN=127.0.0.1:$ADMIN_PORT
SECRET=nas-secret

# --- Knot as the operator's DNS server for zone knot.test (ENVIRONMENT.md recipe) ---
mkdir -p "$T/knot/run" "$T/knot/db" "$T/knot/zones"
chmod 755 "$T"
TSIG=$(openssl rand -base64 32)
printf '%s\n' "$TSIG" >"$T/tsig.secret"
cat >"$T/knot/zones/knot.test.zone" <<Z
\$TTL 60
@ IN SOA ns1.knot.test. hostmaster.knot.test. 1 60 60 600 60
  IN NS ns1.knot.test.
ns1 IN A 127.0.0.1
Z
cat >"$T/knot/knot.conf" <<C
server:
  rundir: "$T/knot/run"
  listen: 127.0.0.1@$KNOT_PORT
database:
  storage: "$T/knot/db"
log:
  - target: stderr
    any: info
key:
  - id: mobix
    algorithm: hmac-sha256
    secret: $TSIG
acl:
  - id: mobix_update
    key: mobix
    action: update
template:
  - id: default
    storage: "$T/knot/zones"
    file: "%s.zone"
zone:
  - domain: knot.test
    acl: mobix_update
C
knotc -c "$T/knot/knot.conf" conf-check >/dev/null || fail "knot.conf: $(knotc -c "$T/knot/knot.conf" conf-check 2>&1)"
qk() { dig +norec +time=1 +tries=1 @127.0.0.1 -p "$KNOT_PORT" "$@"; }
start_knot() {
  knotd -c "$T/knot/knot.conf" >>"$T/knot.log" 2>&1 &
  KNOT_PID=$!
  PIDS+=("$KNOT_PID")
  for _ in $(seq 1 100); do qk +short knot.test SOA 2>/dev/null | grep -q hostmaster && return 0; sleep 0.05; done
  fail "Knot did not start: $(tail -5 "$T/knot.log")"
}
start_knot

cat >"$T/mobix.yaml" <<Y
node: knot-test
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
  zones:
    - name: 4.127.in-addr.arpa
    - name: knot.test
      update: {server: "127.0.0.1:$KNOT_PORT", key_name: mobix, key_secret_file: tsig.secret, timeout_ms: 500}
Y
start_serve "$T/mobix.yaml" "$ADMIN_PORT" "$T/mobix.log" || fail "mobix did not start: $(tail "$T/mobix.log")"
curl -fsS "http://$ADMIN/api/v1/subscribers" -X POST \
  --json '{"msisdn":"31600000005","username":"erin","password":"erin-pw","hostname":"erin.knot.test"}' >/dev/null
curl -fsS "http://$ADMIN/api/v1/subscribers" -X POST \
  --json '{"msisdn":"31600000006","username":"fred","password":"fred-pw","hostname":"fred.knot.test"}' >/dev/null
attach() { "$MOBIX" sim attach --auth 127.0.0.1:$RAUTH --acct 127.0.0.1:$RACCT --secret $SECRET --msisdn "$1" \
  --username "$2" --password "$2-pw" --state-dir "$T/sim" | tail -1; }
detach() { "$MOBIX" sim detach --auth 127.0.0.1:$RAUTH --acct 127.0.0.1:$RACCT --secret $SECRET --msisdn "$1" \
  --state-dir "$T/sim" >/dev/null; }
wait_knot() { # NAME WANT (an address, or "" for gone)
  for _ in $(seq 1 60); do [ "$(qk +short "$1" A)" = "$2" ] && return 0; sleep 0.05; done
  return 1
}

ip=$(attach 31600000005 erin)
[[ "$ip" == 127.4.0.* ]] || fail "attach printed '$ip'"
wait_knot erin.knot.test "$ip" || fail "Knot did not get erin.knot.test: $(qk erin.knot.test A) $(tail -5 "$T/knot.log")"
grep -q "\[knot.test.\] DDNS, finished" "$T/knot.log" || fail "Knot logged no update: $(tail -5 "$T/knot.log")"
detach 31600000005
wait_knot erin.knot.test "" || fail "Knot still has erin.knot.test after the Stop"
pass "RFC 2136 + TSIG against Knot: attach publishes erin.knot.test A $ip, detach removes it"

# Knot refuses an update without our key (the zone's ACL), so only mobix can change it.
printf 'server 127.0.0.1 %s\nzone knot.test\nupdate add evil.knot.test 60 A 127.6.6.6\nsend\n' "$KNOT_PORT" |
  nsupdate 2>"$T/nsu.err" && fail "Knot accepted an unsigned update"
[ -z "$(qk +short evil.knot.test A)" ] || fail "the unsigned update's record is in Knot"
pass "Knot refuses an unsigned update ($(grep -oiE 'refused|notauth' "$T/nsu.err" | head -1))"

# Knot down: the update fails (counted, logged) and is retried; Knot back: published.
kill "$KNOT_PID"; wait "$KNOT_PID" 2>/dev/null || true
before=$(metric 'mobix_dns_update_failures_total{zone="knot.test"}')
ip=$(attach 31600000006 fred)
[[ "$ip" == 127.4.0.* ]] || fail "attach with Knot down printed '$ip' (the session must not depend on the DNS server)"
for _ in $(seq 1 100); do [ "$(metric 'mobix_dns_update_failures_total{zone="knot.test"}')" -gt "$before" ] && break; sleep 0.05; done
[ "$(metric 'mobix_dns_update_failures_total{zone="knot.test"}')" -gt "$before" ] || fail "the failed update was not counted"
grep -q "dns update: zone knot.test at 127.0.0.1:$KNOT_PORT: no answer over TCP (server down, connection refused or timed out) (1 changes waiting; retry in" "$T/mobix.log" ||
  fail "no log line for the failed update: $(grep -i update "$T/mobix.log" | tail -3)"
start_knot
for _ in $(seq 1 200); do [ "$(qk +short fred.knot.test A)" = "$ip" ] && break; sleep 0.1; done
[ "$(qk +short fred.knot.test A)" = "$ip" ] || fail "fred.knot.test never reached Knot after it came back: $(tail -3 "$T/mobix.log")"
pass "Knot down: the update failure is counted and logged, the session unaffected; Knot back: fred.knot.test A $ip published"
