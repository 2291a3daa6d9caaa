#!/usr/bin/env bash
# Seed 001 steps A-I on loopback: a client reaches a mobile server (an HTTP server bound to a
# handset's IP) through the public relay; the relay wakes the private gateway with a sealed
# signal sent as a binary SMS through the lab SMSC; the gateway finds the terminal in the access
# sessions, connects to it and dials the relay over verified TLS; the relay splices.
# (The network-namespace version with NAT and a firewall is not written yet.)
source "$(dirname "$0")/lib.sh"
read -r P_AUTH P_ACCT P_ADMIN_OP P_ADMIN_RELAY P_PUBLIC P_CALLBACK P_WEB P_TLS P_PP P_LOCAL <<<"$(free_ports u u t t t t t t t t)"

"$MOBIX" pki init --dir $T/ca --cn "Relay CA" >/dev/null
"$MOBIX" pki issue --dir $T/ca --cn relay --ip 127.0.0.1 --out $T/relay >/dev/null
"$MOBIX" pki issue --dir $T/ca --cn cam.mobile.test --dns cam.mobile.test --out $T/phone >/dev/null
openssl rand -hex 32 >$T/signal.key

"$MOBIX" smpp smsc --listen 127.0.0.1:0 --port-file $T/smsc.port --account relay:relay-pw --account gateway:gw-pw \
  >$T/smsc.log 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -s $T/smsc.port ] && break; sleep 0.05; done
SMSC=127.0.0.1:$(cat $T/smsc.port)

# The operator network: access sessions and the gateway.
mkdir -p $T/op $T/relaynode
cat >$T/op/mobix.yaml <<YAML
store: {path: mobix.db}
admin: {listen: "127.0.0.1:$P_ADMIN_OP", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:$P_AUTH
    acct_listen: 127.0.0.1:$P_ACCT
    clients: [{name: ggsn, address: 127.0.0.1/32, secret: relay-test-secret}]
  pools: [{name: internet, range: 127.1.0.10-127.1.0.50}]
gateway:
  smpp: {smsc: "$SMSC", system_id: gateway, password: gw-pw}
  address_range: "3169900"
  signal_keys: [{id: 1, key_file: ../signal.key}]
  relay_ca_file: ../ca/ca.crt
  connect_timeout: 3
  multiplex: ${MULTIPLEX:-false}
YAML
# The public relay, with its own store listing the published mobile servers.
cat >$T/relaynode/mobix.yaml <<YAML
store: {path: mobix.db}
admin: {listen: "127.0.0.1:$P_ADMIN_RELAY", no_token: true}
relay:
  public_listen: 127.0.0.1:$P_PUBLIC
  callback_listen: 127.0.0.1:$P_CALLBACK
  tls_cert_file: ../relay.crt
  tls_key_file: ../relay.key
  signal_key: {id: 1, key_file: ../signal.key}
  smpp: {smsc: "$SMSC", system_id: relay, password: relay-pw}
  gateway_msisdn: "31699000000"
  hold_timeout: 3
YAML
start_serve $T/op/mobix.yaml $P_ADMIN_OP $T/op.log || fail "operator node did not start: $(tail -3 $T/op.log)"
start_serve $T/relaynode/mobix.yaml $P_ADMIN_RELAY $T/relay.log || fail "relay did not start: $(tail -3 $T/relay.log)"
for _ in $(seq 100); do grep -q "lab smsc #.*gateway bound (receiver)" $T/smsc.log && break; sleep 0.05; done

curl -fsS -X POST http://127.0.0.1:$P_ADMIN_OP/api/v1/subscribers \
  --json '{"msisdn":"31610000001","username":"cam","password":"cam-radius-pw"}' >/dev/null
curl -fsS -X POST http://127.0.0.1:$P_ADMIN_RELAY/api/v1/subscribers \
  --json '{"msisdn":"31610000001","hostname":"Cam.Mobile.Test","attrs":{"relay.http_port":"'$P_WEB'","relay.tls_port":"'$P_TLS'"}}' >/dev/null
IP=$("$MOBIX" sim attach --auth 127.0.0.1:$P_AUTH --acct 127.0.0.1:$P_ACCT --secret relay-test-secret \
  --state-dir $T/sim --msisdn 31610000001 --username cam --password cam-radius-pw | tail -1)
[[ $IP == 127.1.* ]] || fail "attach: $IP"

# The mobile server: a real HTTP server bound to the handset's address.
mkdir -p $T/www && echo "hello from the phone" >$T/www/hello.txt
(cd $T/www && exec /usr/bin/python3 -m http.server --bind "$IP" "$P_WEB") >$T/web.log 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -fsS "http://$IP:$P_WEB/hello.txt" >/dev/null 2>&1 && break; sleep 0.05; done

out=$(curl -sS --max-time 10 -H "Host: cam.mobile.test" "http://127.0.0.1:$P_PUBLIC/hello.txt") \
  || fail "through the relay: $(tail -5 $T/relay.log)"
[ "$out" = "hello from the phone" ] || fail "got '$out'"
curl -sS --max-time 10 "http://127.0.0.1:$P_PUBLIC/hello.txt" -H "Host: cam.mobile.test:80" -d 'early body bytes' \
  -o /dev/null -w "%{http_code}" | grep -q 501 || fail "a POST (python http.server answers 501) did not reach the server"
pass "curl reaches the mobile server through the relay (Host routing, SMS signal, TLS callback, splice)"

# TLS is not terminated at the relay: the phone's own certificate reaches the client (SNI routing).
mkdir -p $T/www
head -c 4194304 /dev/urandom >$T/www/big.bin
(cd $T/www && exec openssl s_server -accept "$IP:$P_TLS" -cert $T/phone.crt -key $T/phone.key -WWW -quiet) >$T/s_server.log 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/$IP/$P_TLS) 2>/dev/null && break; sleep 0.05; done
out=$(curl -sS --max-time 10 --cacert $T/ca/ca.crt --resolve "cam.mobile.test:$P_PUBLIC:127.0.0.1" \
  "https://cam.mobile.test:$P_PUBLIC/big.bin" -o $T/big.out) || fail "TLS through the relay: $(tail -3 $T/relay.log)"
cmp -s $T/www/big.bin $T/big.out || fail "4 MiB over TLS through the relay arrived changed ($(stat -c %s $T/big.out) octets)"
if [ "${MULTIPLEX:-false}" = true ]; then
  # relay.end_to_end_tls "leg" (the default): the link is up, yet this tunnel gets a leg of its own,
  # asked for over the link (no SMS), and splices; "link" for the service: it rides the link.
  grep "tunnel to cam.mobile.test" $T/relay.log | tail -1 | grep -q "closed (.*zero-copy)" ||
    fail "the end-to-end TLS tunnel did not get a spliced leg: $(grep closed $T/relay.log | tail -1)"
  sent=$(curl -fsS http://127.0.0.1:$P_ADMIN_RELAY/metrics | awk '$1 == "mobix_relay_link_signals_total{outcome=\"sent\"}" {print $2}')
  [ "${sent:-0}" = 1 ] || fail "the leg was not asked for over the link: ${sent:-0}"
  curl -fsS -X PATCH "http://127.0.0.1:$P_ADMIN_RELAY/api/v1/subscribers/31610000001" \
    --json '{"attrs":{"relay.end_to_end_tls":"link"}}' >/dev/null || fail "PATCH end_to_end_tls"
  curl -sS --max-time 10 --cacert $T/ca/ca.crt --resolve "cam.mobile.test:$P_PUBLIC:127.0.0.1" \
    "https://cam.mobile.test:$P_PUBLIC/big.bin" -o $T/big2.out || fail "TLS over the link: $(tail -3 $T/relay.log)"
  cmp -s $T/www/big.bin $T/big2.out || fail "4 MiB over TLS riding the link arrived changed"
  grep "tunnel to cam.mobile.test" $T/relay.log | tail -1 | grep -q "over the link closed (4" ||
    fail "relay.end_to_end_tls link: the TLS tunnel did not ride the link: $(grep closed $T/relay.log | tail -1)"
  curl -fsS -X PATCH "http://127.0.0.1:$P_ADMIN_RELAY/api/v1/subscribers/31610000001" \
    --json '{"attrs":{"relay.end_to_end_tls":""}}' >/dev/null || fail "PATCH end_to_end_tls"
  pass "TLS to the mobile server through the relay, routed by SNI, verified end to end (the relay holds no key); 4 MiB intact on a leg of its own asked for over the link (spliced zero-copy), and riding the link when the service says so"
else
  grep -q "zero-copy" $T/relay.log || fail "the end-to-end TLS tunnel was not spliced: $(grep closed $T/relay.log | tail -1)"
  pass "TLS to the mobile server through the relay, routed by SNI, verified end to end (the relay holds no key); 4 MiB intact, spliced zero-copy once the leg left its own TLS"
fi

# The owner's policy (attributes at the relay): allow-list, HTTP bearer token (stored hashed), off switch.
relay_attrs() { curl -fsS -X PATCH "http://127.0.0.1:$P_ADMIN_RELAY/api/v1/subscribers/31610000001" \
  --json '{"attrs":{'"$1"'}}' >/dev/null || fail "PATCH $1"; }
get() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "Host: cam.mobile.test" "$@" "http://127.0.0.1:$P_PUBLIC/hello.txt"; }
relay_attrs '"relay.allow_from":"10.0.0.0/8,192.0.2.0/24"'
[ "$(get)" = 403 ] || fail "a client outside the allow-list got through"
relay_attrs '"relay.allow_from":"10.0.0.0/8,127.0.0.0/8"'
[ "$(get)" = 200 ] || fail "a client inside the allow-list was refused"
relay_attrs '"relay.http_auth":"bearer-sha256:'"$(printf s3cret | sha256sum | cut -d' ' -f1)"'"'
[ "$(get)" = 401 ] || fail "no token: not 401"
[ "$(get -H 'Authorization: Bearer wrong')" = 401 ] || fail "wrong token: not 401"
[ "$(get -H 'Authorization: Bearer s3cret')" = 200 ] || fail "right token refused"
relay_attrs '"relay.http_auth":"basic-sha256:'"$(printf 'owner:pw' | sha256sum | cut -d' ' -f1)"'"'
[ "$(get -u owner:pw)" = 200 ] || fail "basic auth refused"
[ "$(get -u owner:nope)" = 401 ] || fail "wrong basic auth accepted"
relay_attrs '"relay.enabled":"false"'
[ "$(get -u owner:pw)" = 403 ] || fail "switched off, still reachable"
relay_attrs '"relay.enabled":"true","relay.http_auth":"","relay.allow_from":""'
[ "$(get)" = 200 ] || fail "policy not cleared"
grep -q 's3cret' $T/relay.log && fail "a token in the log"
pass "owner policy at the relay: allow-list 403, bearer and basic auth 401, off switch 403"

# PROXY protocol v2 per service: HAProxy as the mobile server reports the real client address.
cat >$T/haproxy.cfg <<CFG
global
  log stdout format raw local0
defaults
  mode http
  timeout connect 5s
  timeout client 10s
  timeout server 10s
frontend phone
  bind $IP:$P_PP accept-proxy
  http-request return status 200 content-type text/plain lf-string "client=%[src] port=%[src_port]\n"
CFG
haproxy -db -f $T/haproxy.cfg >$T/haproxy.log 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/$IP/$P_PP) 2>/dev/null && break; sleep 0.05; done
relay_attrs '"relay.http_port":"'$P_PP'","relay.proxy_protocol":"v2"'
out=$(curl -sS --max-time 10 --interface 127.0.0.77 --local-port $P_LOCAL -H "Host: cam.mobile.test" "http://127.0.0.1:$P_PUBLIC/")
[ "$out" = "client=127.0.0.77 port=$P_LOCAL" ] || fail "PROXY v2 through the tunnel: '$out'"
relay_attrs '"relay.http_port":"'$P_WEB'","relay.proxy_protocol":""'
pass "PROXY protocol v2: HAProxy behind the tunnel sees the client's real address and port"

code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "Host: nobody.mobile.test" "http://127.0.0.1:$P_PUBLIC/")
[ "$code" = 404 ] || fail "unknown host name: $code"
"$MOBIX" sim detach --auth 127.0.0.1:$P_AUTH --acct 127.0.0.1:$P_ACCT --secret relay-test-secret \
  --state-dir $T/sim --msisdn 31610000001 >/dev/null
start=$(date +%s)
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "Host: cam.mobile.test" "http://127.0.0.1:$P_PUBLIC/")
[ "$code" = 503 ] || fail "terminal not attached: $code"
[ $(($(date +%s) - start)) -le 5 ] || fail "the 503 took longer than the hold timeout"
grep -q 'result="not_attached"' <(curl -fsS http://127.0.0.1:$P_ADMIN_OP/metrics) || fail "gateway not_attached counter"
pass "unknown name -> 404; a terminal that is not attached -> 503 within the hold timeout"

# Strangers at the callback port: no TLS, or TLS with a made-up tunnel id, are dropped and counted.
echo "GET / HTTP/1.0" | timeout 5 bash -c "cat >/dev/tcp/127.0.0.1/$P_CALLBACK" || true
printf 'MOBIX-TUNNEL 00000000000000ff %032x\r\n' 0 |
  timeout 5 openssl s_client -quiet -connect 127.0.0.1:$P_CALLBACK -CAfile $T/ca/ca.crt >/dev/null 2>&1 || true
sleep 0.3
m=$(curl -fsS http://127.0.0.1:$P_ADMIN_RELAY/metrics)
grep -q 'mobix_relay_callbacks_total{result="unknown_tunnel"} 1' <<<"$m" || fail "made-up tunnel not counted: $(grep callbacks <<<"$m")"
grep -q 'mobix_relay_callbacks_total{result="tls_failed"}' <<<"$m" || fail "plain-text callback not counted"
[ "$(awk '$1 == "mobix_relay_tunnels_total" {print $2}' <<<"$m")" -ge 8 ] || fail "tunnel counter: $(grep tunnels <<<"$m")"
grep -q "$(cat $T/signal.key)" $T/op.log $T/relay.log && fail "the signal key was logged"
if [ "${MULTIPLEX:-false}" = false ]; then
  # Legs after the first resume a TLS session from the relay's tickets: counted at both ends.
  resumed=$(awk '$1 == "mobix_relay_callback_handshakes_total{kind=\"resumed\"}" {print $2}' <<<"$m")
  gw=$(curl -fsS http://127.0.0.1:$P_ADMIN_OP/metrics |
    awk '$1 == "mobix_gateway_relay_handshakes_total{kind=\"resumed\"}" {print $2}')
  [ "${resumed:-0}" -ge 3 ] && [ "${gw:-0}" -ge 3 ] ||
    fail "legs did not resume TLS sessions: relay ${resumed:-0}, gateway ${gw:-0}"
fi
pass "counters; legs resume TLS sessions; no key in the logs"

# Signals the relay did not make: a replayed one and one sealed with another key are refused.
SIG=$("$MOBIX" signal seal --key-file $T/signal.key --relay-ip 127.0.0.1 --callback-port $P_CALLBACK \
  --msisdn 31610000001 --target-port $P_WEB --tunnel-id 4242 --ttl 30)
openssl rand -hex 32 >$T/forger.key
FORGED=$("$MOBIX" signal seal --key-file $T/forger.key --relay-ip 127.0.0.1 --callback-port $P_CALLBACK \
  --msisdn 31610000001 --target-port $P_WEB --ttl 30)
for s in "$SIG" "$SIG" "$FORGED"; do
  "$MOBIX" smpp submit --smsc $SMSC --system-id relay --password relay-pw --to 31699000000 --hex "$s" >/dev/null \
    || fail "submit"
done
for _ in $(seq 50); do
  m=$(curl -fsS http://127.0.0.1:$P_ADMIN_OP/metrics)
  grep -q 'result="replayed"} 1' <<<"$m" && grep -q 'result="refused"} 1' <<<"$m" && break
  sleep 0.1
done
grep -q 'mobix_gateway_signals_total{result="replayed"} 1' <<<"$m" || fail "replay not refused: $(grep gateway_signals <<<"$m")"
grep -q 'mobix_gateway_signals_total{result="refused"} 1' <<<"$m" || fail "forged signal not refused"
grep -q "signal refused (sms): authentication failed" $T/op.log || fail "no log line for the forged signal"
pass "the gateway refuses a replayed signal and a forged one (counters, log lines)"

# The replay memory is durable: after kill -9 and a restart the same signal is still refused.
OP_PID=$(pgrep -f "serve --config $T/op/mobix.yaml" | head -1)
kill -9 "$OP_PID"; wait "$OP_PID" 2>/dev/null || true
start_serve $T/op/mobix.yaml $P_ADMIN_OP $T/op2.log || fail "operator node restart: $(tail -3 $T/op2.log)"
grep -q "unexpired signals remembered" $T/op2.log || fail "replay memory not restored: $(grep gateway $T/op2.log)"
"$MOBIX" smpp submit --smsc $SMSC --system-id relay --password relay-pw --to 31699000000 --hex "$SIG" >/dev/null || fail "submit"
for _ in $(seq 50); do
  m=$(curl -fsS http://127.0.0.1:$P_ADMIN_OP/metrics)
  grep -q 'result="replayed"} 1' <<<"$m" && break
  sleep 0.1
done
grep -q 'mobix_gateway_signals_total{result="replayed"} 1' <<<"$m" || fail "replay after restart not refused: $(grep gateway_signals <<<"$m")"
pass "the replay memory survives kill -9: the same signal is refused by the restarted gateway"

# A signal whose callback port nobody listens on (a relay that went away): the gateway counts and
# logs relay_unreachable, and nothing else happens.
"$MOBIX" sim attach --auth 127.0.0.1:$P_AUTH --acct 127.0.0.1:$P_ACCT --secret relay-test-secret \
  --state-dir $T/sim --msisdn 31610000001 --username cam --password cam-radius-pw >/dev/null
NOBODY=$(free_ports t)
LOST=$("$MOBIX" signal seal --key-file $T/signal.key --relay-ip 127.0.0.1 --callback-port $NOBODY \
  --msisdn 31610000001 --target-port $P_WEB --ttl 30)
before=$(curl -fsS http://127.0.0.1:$P_ADMIN_OP/metrics | awk '$1 == "mobix_gateway_signals_total{result=\"relay_unreachable\"}" {print $2}')
"$MOBIX" smpp submit --smsc $SMSC --system-id relay --password relay-pw --to 31699000000 --hex "$LOST" >/dev/null || fail "submit"
for _ in $(seq 100); do
  after=$(curl -fsS http://127.0.0.1:$P_ADMIN_OP/metrics | awk '$1 == "mobix_gateway_signals_total{result=\"relay_unreachable\"}" {print $2}')
  [ "${after:-0}" -gt "${before:-0}" ] && break
  sleep 0.05
done
[ "${after:-0}" = $(( ${before:-0} + 1 )) ] || fail "relay_unreachable not counted: ${before:-0} -> ${after:-0}"
grep -q "gateway: tunnel .*: relay 127.0.0.1:$NOBODY: " $T/op2.log || fail "no log line for relay_unreachable"
pass "a signal whose relay cannot be reached: relay_unreachable counted and logged at the gateway"
