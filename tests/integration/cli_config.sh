#!/usr/bin/env bash
# CLI contract: --version, --help on every subcommand, bad config exits 2 naming file,
# line and key before anything listens; `serve` with a real config; unknown NAS dropped.
source "$(dirname "$0")/lib.sh"
"$MOBIX" --version | grep -q '^mobix ' || fail "--version"
for sub in serve check-config lab sim "sim attach" "sim detach" "sim interim" admin "admin subscriber" \
  "admin subscriber add" "admin sessions" pki "pki init" "pki issue" "pki revoke" "pki show" "pki verify"; do
  # shellcheck disable=SC2086
  "$MOBIX" $sub --help >/dev/null || fail "$sub --help"
done
pass "--version and --help on every subcommand"

ports=$(free_ports u u t)
read -r P_AUTH P_ACCT P_ADMIN <<<"$ports"
cat >"$T/good.yaml" <<YAML
node: edge-test
store:
  path: state.db
admin:
  listen: 127.0.0.1:$P_ADMIN
  no_token: true
access:
  radius:
    auth_listen: 127.0.0.1:$P_AUTH
    acct_listen: 127.0.0.1:$P_ACCT
    clients:
      - name: only-127-0-0-2
        address: 127.0.0.2/32
        secret: a-long-test-secret
  pools:
    - name: internet
      range: 10.64.0.0/24
YAML
"$MOBIX" check-config "$T/good.yaml" | grep -q OK || fail "good config refused"
sed 's/    clients:/    colour: blue\n    clients:/' "$T/good.yaml" >"$T/bad.yaml"
set +e
msg=$("$MOBIX" check-config "$T/bad.yaml" 2>&1); rc=$?
set -e
[ $rc = 2 ] || fail "check-config exit $rc, want 2"
echo "$msg" | grep -q "bad.yaml:11: access.radius.colour: unknown key" || fail "message: $msg"
set +e
msg=$("$MOBIX" serve --config "$T/bad.yaml" 2>&1); rc=$?
set -e
[ $rc = 2 ] || fail "serve with a bad config exit $rc"
curl -s "http://127.0.0.1:$P_ADMIN/healthz" >/dev/null 2>&1 && fail "something listens after a config error"
pass "bad config: exit 2 with file:line: key"

# The admin API is locked by default (issue 12 item 3): no token is a configuration error, and an
# open API only on loopback.
sed '/no_token: true/d' "$T/good.yaml" >"$T/notoken.yaml"
msg=$("$MOBIX" check-config "$T/notoken.yaml" 2>&1) && fail "a config without an admin token was accepted"
echo "$msg" | grep -q "admin.token: is required" || fail "no-token message: $msg"
sed "s/listen: 127.0.0.1:$P_ADMIN/listen: 0.0.0.0:$P_ADMIN/" "$T/good.yaml" >"$T/open.yaml"
msg=$("$MOBIX" check-config "$T/open.yaml" 2>&1) && fail "no_token on 0.0.0.0 was accepted"
echo "$msg" | grep -q "admin.no_token: is allowed only on a loopback listener" || fail "no_token message: $msg"
pass "no admin token is a config error; no_token only on loopback"

# A listener whose address is taken: the node exits before serving and names the listener, its
# address and the reason (the RADIUS socket is the first bound; the admin listener the last).
for taken in "udp $P_AUTH access: RADIUS" "tcp $P_ADMIN admin"; do
  read -r proto port name <<<"$taken"
  /usr/bin/python3 - "$proto" "$port" "$T/holder.ready" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM)
s.bind(("127.0.0.1", int(sys.argv[2])))
if sys.argv[1] == "tcp": s.listen()
open(sys.argv[3], "w").write("ready")
time.sleep(30)
PY
  HOLDER=$!
  for _ in $(seq 100); do [ -f "$T/holder.ready" ] && break; sleep 0.05; done
  set +e
  msg=$("$MOBIX" serve --config "$T/good.yaml" 2>&1); rc=$?
  set -e
  kill "$HOLDER"; wait "$HOLDER" 2>/dev/null || true; rm -f "$T/holder.ready"
  [ $rc != 0 ] || fail "serve with $name's address taken exited 0"
  echo "$msg" | grep -q "$name.*cannot listen on 127.0.0.1:$port: Address already in use" ||
    fail "serve with $name's address taken: $msg"
done
pass "a taken listen address: serve exits naming the listener, the address and the reason"

start_serve "$T/good.yaml" "$P_ADMIN" "$T/serve.log" --log-format json || true
curl -fsS "http://127.0.0.1:$P_ADMIN/healthz" | grep -q ok || fail "serve not healthy"
# The only client is 127.0.0.2: a request from 127.0.0.1 is an unknown client, dropped.
if printf 'Acct-Status-Type = Start\nAcct-Session-Id = "x"\nFramed-IP-Address = 10.64.0.5\n' |
  radclient -r 1 -t 1 "127.0.0.1:$P_ACCT" acct a-long-test-secret >/dev/null 2>&1; then fail "unknown client answered"; fi
# From 127.0.0.2 (the configured NAS) it is served.
/usr/bin/python3 - "$P_ACCT" <<'PY' || fail "known client not answered"
import hashlib, socket, struct, sys
body = bytes([40, 6, 0, 0, 0, 1]) + bytes([44, 3]) + b"k" + bytes([8, 6, 10, 64, 0, 5])
hdr = bytes([4, 1]) + struct.pack(">H", 20 + len(body))
pkt = hdr + hashlib.md5(hdr + b"\0" * 16 + body + b"a-long-test-secret").digest() + body
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.2", 0)); s.settimeout(2)
s.sendto(pkt, ("127.0.0.1", int(sys.argv[1]))); assert s.recvfrom(4096)[0][0] == 5
PY
grep -q 'mobix_radius_dropped_total{listener="acct",reason="unknown_client"} 1' <<<"$(curl -fsS "http://127.0.0.1:$P_ADMIN/metrics")" || fail "unknown client not counted"
grep -q '"level":"warning".*unknown_client' "$T/serve.log" || fail "no JSON log line for the drop"
[ "$(curl -fsS "http://127.0.0.1:$P_ADMIN/api/v1/sessions" | jq -r '.[0].ip')" = 10.64.0.5 ] || fail "session from the known client"
[ -f "$T/state.db" ] || fail "store path not relative to the config file"
pass "serve: JSON logs, unknown NAS dropped and counted, known NAS served"

# serve without log flags takes the config's log section; with admin.token the API needs it.
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
echo "a-long-admin-token-1234" >"$T/admin.token"
sed -e 's|^admin:|log:\n  level: debug\nadmin:\n  token_file: admin.token|' -e '/no_token: true/d' "$T/good.yaml" >"$T/token.yaml"
start_serve "$T/token.yaml" "$P_ADMIN" "$T/serve2.log" || true
curl -fsS "http://127.0.0.1:$P_ADMIN/healthz" | grep -q ok || fail "serve with the config's log section: $(cat "$T/serve2.log")"
grep -q "debug" "$T/serve2.log" || fail "log.level from the config not applied"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P_ADMIN/api/v1/sessions")
[ "$code" = 401 ] || fail "API without token gave $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "http://127.0.0.1:$P_ADMIN/api/v1/sessions")
[ "$code" = 401 ] || fail "API with a wrong token gave $code"
curl -fsS -H 'Authorization: Bearer a-long-admin-token-1234' "http://127.0.0.1:$P_ADMIN/api/v1/sessions" | jq -e 'length == 1' >/dev/null ||
  fail "API with the token (and the session persisted across restart)"
MOBIX_ADMIN_TOKEN=a-long-admin-token-1234 "$MOBIX" admin --url "127.0.0.1:$P_ADMIN" sessions | grep -q 10.64.0.5 || fail "admin CLI with token"
grep -q "a-long-admin-token-1234" "$T/serve2.log" && fail "the token was logged"
pass "config log section applied; admin token enforced (401 without it); token never logged"

# The shipped examples validate (their key and certificate files are created here, as an operator would).
EXAMPLES=$(cd "$(dirname "$0")/../../examples" && pwd)
cp -r "$EXAMPLES" $T/examples
mkdir -p $T/examples/pki
"$MOBIX" pki init --dir $T/examples/pki --cn "Example CA" >/dev/null
for n in relay gateway home visited; do "$MOBIX" pki issue --dir $T/examples/pki --cn $n --ip 127.0.0.1 --out $T/examples/pki/$n >/dev/null; done
openssl rand -hex 32 >$T/examples/pki/signal.key
echo relaypw >$T/examples/pki/smpp-relay.pw
echo gwpw >$T/examples/pki/smpp-gateway.pw
openssl rand -hex 24 >$T/examples/admin.token
"$MOBIX" factory css-cert --ca $T/examples/pki --cn css.example.net --out $T/examples/pki/css >/dev/null
echo "nas-secret-example" >$T/examples/pki/nas_secret
echo csspw >$T/examples/pki/smpp-css.pw
# examples/telephony.yaml: its TLS files, the realm's krb5.conf and the keytabs (empty files: the check
# reads the config, not the keys).
"$MOBIX" pki issue --dir $T/examples/pki --cn idb --ip 127.0.0.1 --out $T/examples/pki/idb >/dev/null
cp $T/examples/pki/ca.crt $T/examples/pki/ca.crt 2>/dev/null || true
touch $T/examples/krb5.conf $T/examples/http.keytab $T/examples/mm.keytab $T/examples/sip.crt $T/examples/sip.key
for f in mobix relay gateway home visited css telephony; do
  out=$("$MOBIX" check-config $T/examples/$f.yaml) || fail "examples/$f.yaml: $out"
done
"$MOBIX" check-config $T/examples/telephony.yaml | grep -q "roles: home_agent, initiating_db, billing, mobility_manager, admin;" ||
  fail "telephony roles: $("$MOBIX" check-config $T/examples/telephony.yaml)"
"$MOBIX" check-config $T/examples/relay.yaml | grep -q "roles: relay, admin;" || fail "relay roles"
"$MOBIX" check-config $T/examples/gateway.yaml | grep -q "roles: access, gateway, admin;" || fail "gateway roles"
"$MOBIX" check-config $T/examples/visited.yaml | grep -q "roles: access (with roaming), dns, admin;" || fail "visited roles"
"$MOBIX" check-config $T/examples/home.yaml | grep -q "roles: access (with roaming), dns, admin;" || fail "home roles"
"$MOBIX" check-config $T/examples/css.yaml | grep -q "roles: access, css, admin;" || fail "css roles"
pass "examples/mobix.yaml, relay.yaml, gateway.yaml, home.yaml, visited.yaml, css.yaml and telephony.yaml validate"

# check-config runs the DNS zone checks serve runs (issue 11): a bad address, a record outside its zone
# and a zone given twice are refused with the real line of the offending entry, before anything binds.
dns_case() { # dns_case NAME RECORDS_YAML EXPECTED_MESSAGE
  { cat "$T/good.yaml"; printf 'dns:\n  zones:\n    - name: mobix.test\n      records:\n%b\n' "$2"; } >"$T/$1.yaml"
  set +e
  msg=$("$MOBIX" check-config "$T/$1.yaml" 2>&1); rc=$?
  set -e
  [ $rc = 2 ] || fail "check-config $1: exit $rc, want 2 ($msg)"
  echo "$msg" | grep -qF "$3" || fail "check-config $1: message: $msg"
}
# good.yaml has 17 lines; "dns:" is line 18, so the first record is line 22.
[ "$(wc -l <"$T/good.yaml")" = 17 ] || fail "good.yaml changed length: update the line numbers below"
dns_case bad_addr '        - "www A 999.1.1.1"' '_addr.yaml:22: dns.zones[0].records[0]: "999.1.1.1" is not an A address'
dns_case v6_as_a '        - "ok A 192.0.2.1"\n        - "www A 2001:db8::1"' '_as_a.yaml:23: dns.zones[0].records[1]: "2001:db8::1" is not an A address'
dns_case outside '        - "www.example.org. A 192.0.2.1"' 'outside.yaml:22: dns.zones[0].records[0]: "www.example.org." is not inside zone mobix.test'
{ cat "$T/good.yaml"; printf 'dns:\n  zones:\n    - name: mobix.test\n    - name: MOBIX.test.\n'; } >"$T/twice.yaml"
set +e
msg=$("$MOBIX" check-config "$T/twice.yaml" 2>&1); rc=$?
set -e
[ $rc = 2 ] && echo "$msg" | grep -qF 'twice.yaml:21: dns.zones[1].name: zone given twice' || fail "zone twice: $rc $msg"
pass "check-config refuses a bad DNS record, one outside its zone and a zone given twice with file:line:key"

# docs/config.md is generated from the config tables (issue 11): it must be current.
DOCS=$(cd "$(dirname "$0")/../../docs" && pwd)
"$MOBIX" config reference | diff -u "$DOCS/config.md" - >$T/config-md.diff || fail "docs/config.md is stale: run \`mobix config reference > docs/config.md\`: $(head -20 $T/config-md.diff)"
pass "docs/config.md equals mobix config reference"
