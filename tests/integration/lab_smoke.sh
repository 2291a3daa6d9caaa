#!/usr/bin/env bash
# The README's lab walk-through: lab.json, sim attach/interim/detach, admin CLI and API.
source "$(dirname "$0")/lib.sh"
start_lab "$T"
for k in access.radius_auth access.radius_acct admin.http; do
  jq -e --arg k "$k" '.endpoints[$k].port > 0' "$T/lab.json" >/dev/null || fail "lab.json lacks $k"
done
[ "$(jq '.subscribers | length' "$T/lab.json")" -ge 3 ] || fail "no demo subscribers"
[ "$(stat -c %a "$T/lab.json")" = 600 ] || fail "lab.json holds secrets and must be 0600"
pass "lab.json lists endpoints and demo subscribers"

ip=$("$MOBIX" sim attach --lab "$T" --msisdn 31610000002 | tail -1)
[[ "$ip" =~ ^127\.1\.[0-9]+\.[0-9]+$ ]] || fail "attach printed '$ip'"
"$MOBIX" admin --lab "$T" sessions | grep -q "$ip .*31610000002" || fail "admin sessions does not show $ip"
pass "sim attach -> $ip, listed by mobix admin sessions"

"$MOBIX" sim interim --lab "$T" --msisdn 31610000002 >/dev/null || fail "interim"
"$MOBIX" admin --lab "$T" subscriber show 31610000002 | jq -e '.username == "bob" and .password_set == true and (has("password") | not)' >/dev/null ||
  fail "subscriber show (and never the password)"
"$MOBIX" admin --lab "$T" subscriber add --msisdn +31610000042 --username eve --password eve-pw-1234 --attr mail.server=imap.example.net >/dev/null
"$MOBIX" admin --lab "$T" subscriber set eve --hostname eve.home.mobix.test >/dev/null
"$MOBIX" admin --lab "$T" subscriber show 31610000042 | jq -e '.hostname == "eve.home.mobix.test" and .attrs["mail.server"] == "imap.example.net"' >/dev/null || fail "add/set"
"$MOBIX" admin --lab "$T" subscriber add --msisdn 31610000042 2>/dev/null && fail "duplicate msisdn accepted"
"$MOBIX" admin --lab "$T" subscriber list | grep -q eve || fail "list"
"$MOBIX" admin --lab "$T" subscriber remove eve >/dev/null
"$MOBIX" admin --lab "$T" subscriber show eve 2>/dev/null && fail "remove"
pass "admin subscriber add/show/set/list/remove (duplicate refused, password never shown)"

code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$ADMIN/api/v1/subscribers" --json '{"msisdn":"abc"}')
[ "$code" = 400 ] || fail "bad msisdn gave HTTP $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$ADMIN/api/v1/subscribers" --json '{"nope":1}')
[ "$code" = 400 ] || fail "unknown field gave HTTP $code"
# A CR LF in a mail attribute would add a command upstream (issue 12 item 7): refused at write.
code=$(curl -s -o /tmp/crlf.$$ -w '%{http_code}' -X POST "http://$ADMIN/api/v1/subscribers" \
  --json '{"msisdn":"31610000077","attrs":{"mail.address":"x@y.test>\r\nRCPT TO:<z@y.test"}}')
[ "$code" = 400 ] || fail "a CR LF in an attribute gave HTTP $code"
grep -q "control characters" /tmp/crlf.$$ || fail "no clear error for the CR LF: $(cat /tmp/crlf.$$)"
rm -f /tmp/crlf.$$
[ "$(metric 'mobix_admin_errors_total{status="400"}')" -ge 3 ] || fail "400s not counted"
pass "API rejects bad input with 400 (counted)"

# Issue 12 item 3: secrets are write-only, only JSON is accepted, cross-site and rebound requests
# are refused, and the store file is the owner's only.
"$MOBIX" admin --lab "$T" subscriber add --msisdn 31610000066 --username zed --password zed-pw-123 >/dev/null
curl -fsS -X PATCH "http://$ADMIN/api/v1/subscribers/31610000066" --json '{"attrs":{"mail.password":"s3cret-mail","mail.user":"zed"}}' >/dev/null
got=$(curl -fsS "http://$ADMIN/api/v1/subscribers/31610000066")
echo "$got" | grep -q s3cret-mail && fail "a mail password was returned: $got"
echo "$got" | jq -e '.attrs["mail.user"] == "zed" and (.secret_attrs_set | index("mail.password")) != null' >/dev/null || fail "secret_attrs_set: $got"
before=$(metric 'mobix_admin_errors_total{status="415"}')
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$ADMIN/api/v1/subscribers" -d 'msisdn=31610000055')
[ "$code" = 415 ] || fail "a form POST gave HTTP $code"
[ "$(metric 'mobix_admin_errors_total{status="415"}')" = $((before + 1)) ] || fail "415 not counted"
before=$(metric 'mobix_admin_errors_total{status="403"}')
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Origin: http://evil.example' "http://$ADMIN/api/v1/subscribers" --json '{"msisdn":"31610000055"}')
[ "$code" = 403 ] || fail "a cross-site POST gave HTTP $code"
[ "$(metric 'mobix_admin_errors_total{status="403"}')" = $((before + 1)) ] || fail "the cross-site 403 was not counted"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: rebound.evil.example' "http://$ADMIN/api/v1/sessions")
[ "$code" = 403 ] || fail "a request with a foreign Host gave HTTP $code"
[ "$(metric 'mobix_admin_errors_total{status="403"}')" = $((before + 2)) ] || fail "the foreign-Host 403 was not counted"
grep -q "cross-site request" "$T/lab.log" 2>/dev/null || grep -rq "cross-site request" "$T"/*.log || fail "no log line for the cross-site refusal"
grep -q "refused: Host is not this admin listener (Host rebound.evil.example" "$T/lab.log" || fail "no log line for the foreign Host"
"$MOBIX" admin --lab "$T" subscriber show 31610000055 >/dev/null 2>&1 && fail "a refused request created a subscriber"
mode=$(stat -c %a "$(find "$T" -maxdepth 2 -name '*.db' | head -1)")
[ "$mode" = 600 ] || fail "the store file has mode $mode"
pass "admin API: secrets write-only, JSON only (415), cross-site and foreign Host refused (403, logged); store mode 0600"

grep -q '^mobix_access_sessions 1' <<<"$(curl -fsS "http://$ADMIN/metrics")" || fail "sessions gauge"
"$MOBIX" admin --lab "$T" purge "$ip" >/dev/null || fail "purge"
[ "$(session_count)" = 0 ] || fail "purge left a session"
"$MOBIX" sim attach --lab "$T" --msisdn 31610000002 >/dev/null
"$MOBIX" sim detach --lab "$T" --msisdn 31610000002 >/dev/null
[ "$(session_count)" = 0 ] || fail "detach left a session"
pass "admin purge and sim detach end sessions; gauge in /metrics"

# Seed 001 in the lab: the demo mobile server, reached through the relay once it is attached.
relay=$(jq -r '.mobile_servers[0].relay' "$T/lab.json")
host=$(jq -r '.mobile_servers[0].hostname' "$T/lab.json")
cam=$(jq -r '.mobile_servers[0].msisdn' "$T/lab.json")
[ "$(jq -r '.endpoints["relay.public"].port' "$T/lab.json")" = "${relay#*:}" ] || fail "relay.public in lab.json"
"$MOBIX" sim attach --lab "$T" --msisdn "$cam" >/dev/null || fail "attach the demo mobile server"
out=$(curl -sS --max-time 15 -H "Host: $host" "http://$relay/status") || fail "curl through the relay"
[[ "$out" == "hello from the mobile server $host (you asked for /status)" ]] || fail "relay answer: $out"
pass "the lab's demo mobile server answers through the relay (README command)"

# Seed 002 in the lab: bob roams into the visited network (its own process); the home DNS answers
# his name with the visited address, the visited DNS the reverse; both gone after detach.
hd=$(jq -r '.endpoints["dns.home"].port' "$T/lab.json")
vd=$(jq -r '.endpoints["dns.visited"].port' "$T/lab.json")
[ "$(jq -r '.networks.home.realm' "$T/lab.json")" = home.mobix.test ] || fail "networks in lab.json"
bob_host=$(sub_field "$T" 31610000002 hostname)
v=$("$MOBIX" sim attach --lab "$T" --network visited --msisdn 31610000002 | tail -1)
[[ "$v" == 127.5.* ]] || fail "roaming attach printed '$v'"
for _ in $(seq 1 50); do [ "$(dig +short @127.0.0.1 -p "$hd" "$bob_host")" = "$v" ] && break; sleep 0.05; done
[ "$(dig +short @127.0.0.1 -p "$hd" "$bob_host")" = "$v" ] || fail "home DNS for $bob_host"
[ "$(dig +short @127.0.0.1 -p "$vd" -x "$v")" = "$bob_host." ] || fail "visited reverse DNS for $v"
"$MOBIX" sim detach --lab "$T" --network visited --msisdn 31610000002 >/dev/null
for _ in $(seq 1 50); do dig @127.0.0.1 -p "$hd" "$bob_host" | grep -q NXDOMAIN && break; sleep 0.05; done
dig @127.0.0.1 -p "$hd" "$bob_host" | grep -q NXDOMAIN || fail "home DNS kept $bob_host after detach"
pass "the lab's two networks: roaming attach publishes A at home and PTR at visited; detach removes both"

# The lab's RADIUS clients are the GGSN side only (issue 12 item 8): a handset address cannot speak
# RADIUS to the access role even with the secret.
before=$(metric 'mobix_radius_dropped_total{listener="acct",reason="unknown_client"}')
/usr/bin/python3 - "${ACCT##*:}" "$SECRET" <<'PY'
import hashlib, socket, struct, sys
body = bytes([40, 6, 0, 0, 0, 1]) + bytes([44, 3]) + b"k" + bytes([8, 6, 127, 1, 0, 99])
hdr = bytes([4, 1]) + struct.pack(">H", 20 + len(body))
pkt = hdr + hashlib.md5(hdr + b"\0" * 16 + body + sys.argv[2].encode()).digest() + body
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.1.0.200", 0)); s.settimeout(1)
s.sendto(pkt, ("127.0.0.1", int(sys.argv[1])))
try:
    s.recvfrom(4096); sys.exit("answered a handset address")
except socket.timeout:
    pass
PY
[ "$(metric 'mobix_radius_dropped_total{listener="acct",reason="unknown_client"}')" = $((before + 1)) ] ||
  fail "a RADIUS packet from a handset address was not dropped as unknown_client"
pass "the lab's RADIUS client range excludes the handset pools"
