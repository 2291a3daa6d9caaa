#!/usr/bin/env bash
# Seed 001 over the multiplexed link with an independent HTTP/2 implementation on each end in turn
# (issue 17 item 1).
# 1. python-h2 as the relay (link_h2_relay.py) takes the link mobix's gateway dials after a signal,
#    and opens streams as the relay would: a tunnel to the terminal, 8 MiB under its own small
#    flow-control window, a malformed authority (502 bad_request), a closed port (502 unreachable)
#    and a signal that is not hex (502 bad_signal). The gateway counts and logs each refusal.
# 2. python-h2 as the gateway (link_h2_gateway.py) gets mobix's relay's signal on its webhook,
#    opens it with python-cryptography, dials the relay and serves its CONNECT streams: curl reaches
#    the terminal through mobix's relay twice, and 8 MiB arrive intact.
source "$(dirname "$0")/lib.sh"
read -r P_AUTH P_ACCT P_ADMIN_OP P_HOOK P_CALLBACK P_WEB P_BIG P_CLOSED P_ADMIN_RELAY P_PUBLIC P_CALLBACK2 P_HOOK2 \
  <<<"$(free_ports u u t t t t t t t t t t)"
"$MOBIX" pki init --dir $T/ca --cn "Test CA" >/dev/null
"$MOBIX" pki issue --dir $T/ca --cn relay --ip 127.0.0.1 --out $T/relay >/dev/null
"$MOBIX" pki issue --dir $T/ca --cn gateway --ip 127.0.0.1 --out $T/gateway >/dev/null
openssl rand -hex 32 >$T/signal.key
mkdir -p $T/op
cat >$T/op/mobix.yaml <<YAML
store: {path: mobix.db}
admin: {listen: "127.0.0.1:$P_ADMIN_OP", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:$P_AUTH
    acct_listen: 127.0.0.1:$P_ACCT
    clients: [{name: ggsn, address: 127.0.0.1/32, secret: h2-test-secret}]
  pools: [{name: internet, range: 127.1.0.10-127.1.0.50}]
gateway:
  webhook_listen: 127.0.0.1:$P_HOOK
  webhook_cert_file: ../gateway.crt
  webhook_key_file: ../gateway.key
  signal_keys: [{id: 7, key_file: ../signal.key}]
  relay_ca_file: ../ca/ca.crt
  multiplex: true
YAML
start_serve $T/op/mobix.yaml $P_ADMIN_OP $T/op.log || fail "operator node: $(tail -3 $T/op.log)"
curl -fsS -X POST http://127.0.0.1:$P_ADMIN_OP/api/v1/subscribers \
  --json '{"msisdn":"31610000001","username":"cam","password":"cam-radius-pw"}' >/dev/null
IP=$("$MOBIX" sim attach --auth 127.0.0.1:$P_AUTH --acct 127.0.0.1:$P_ACCT --secret h2-test-secret \
  --state-dir $T/sim --msisdn 31610000001 --username cam --password cam-radius-pw | tail -1)
/usr/bin/python3 "$(dirname "$0")/relay_echo_server.py" "$IP" $P_WEB >$T/web.log 2>&1 &
PIDS+=($!)
mkdir -p $T/www && head -c $((8 << 20)) /dev/urandom >$T/www/big.bin
(cd $T/www && exec /usr/bin/python3 -m http.server --bind "$IP" "$P_BIG") >$T/big.log 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -fsS "http://$IP:$P_WEB/" >/dev/null 2>&1 && curl -fsS -o /dev/null "http://$IP:$P_BIG/" 2>/dev/null && break; sleep 0.05; done
op_metric() { curl -fsS "http://127.0.0.1:$P_ADMIN_OP/metrics" | awk -v k="$1" '$1 == k {print $2}'; }

# python-h2 listens as the relay's callback port; a signal naming it goes to the gateway's webhook.
/usr/bin/python3 "$(dirname "$0")/link_h2_relay.py" $P_CALLBACK $T/relay.crt $T/relay.key $T/h2.ready \
  4242 31610000001 $P_WEB $P_CLOSED $P_BIG $T/www/big.bin >$T/h2.out 2>&1 &
H2=$!
PIDS+=($H2)
for _ in $(seq 100); do [ -e $T/h2.ready ] && break; sleep 0.05; done
"$MOBIX" signal seal --key-file $T/signal.key --key-id 7 --relay-ip 127.0.0.1 --callback-port $P_CALLBACK \
  --msisdn 31610000001 --target-port $P_WEB --protocol http --tunnel-id 16962 --ttl 60 |
  /usr/bin/python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.stdin.read().strip()))' >$T/signal.bin
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert $T/ca/ca.crt --data-binary @$T/signal.bin \
  "https://127.0.0.1:$P_HOOK/v1/signal")
[ "$code" = 202 ] || fail "the gateway's webhook: HTTP $code"
wait $H2 || fail "python-h2 as the relay: $(cat $T/h2.out) / $(grep gateway $T/op.log | tail -5)"
grep '^ok - ' $T/h2.out | sed 's/^ok - /ok - python-h2 relay: /'

# The refusals are counted and logged at the gateway.
[ "$(op_metric 'mobix_gateway_signals_total{result="bad_request"}')" = 1 ] || fail "bad_request not counted"
grep -q "gateway: a link stream asked for 'not-a-terminal': not <msisdn>:<port>" $T/op.log || fail "no log line for bad_request"
[ "$(op_metric 'mobix_gateway_signals_total{result="terminal_unreachable"}')" = 1 ] || fail "terminal_unreachable not counted"
grep -q "gateway: link tunnel to msisdn 31610000001 at $IP:$P_CLOSED: " $T/op.log || fail "no log line for the closed port"
[ "$(op_metric 'mobix_gateway_signals_total{result="refused"}')" = 1 ] || fail "the bad signal not counted"
grep -q "gateway: signal refused (link): not hex" $T/op.log || fail "no log line for the bad signal"
[ "$(op_metric 'mobix_gateway_links_total{event="up"}')" = 1 ] || fail "gateway link not counted"
pass "the gateway's refusals on the link (bad_request, unreachable, bad_signal) are counted and logged"

# 2. python-h2 as the gateway, mobix as the relay.
mkdir -p $T/relaynode
cat >$T/relaynode/mobix.yaml <<YAML
store: {path: mobix.db}
admin: {listen: "127.0.0.1:$P_ADMIN_RELAY", no_token: true}
relay:
  public_listen: 127.0.0.1:$P_PUBLIC
  callback_listen: 127.0.0.1:$P_CALLBACK2
  tls_cert_file: ../relay.crt
  tls_key_file: ../relay.key
  signal_key: {id: 7, key_file: ../signal.key}
  channel: webhook
  webhook_url: https://127.0.0.1:$P_HOOK2/v1/signal
  webhook_ca_file: ../ca/ca.crt
YAML
start_serve $T/relaynode/mobix.yaml $P_ADMIN_RELAY $T/relay.log || fail "relay: $(tail -3 $T/relay.log)"
curl -fsS -X POST http://127.0.0.1:$P_ADMIN_RELAY/api/v1/subscribers \
  --json '{"msisdn":"31610000001","hostname":"cam.mobile.test","attrs":{"relay.http_port":"'$P_WEB'"}}' >/dev/null
relay_metric() { curl -fsS "http://127.0.0.1:$P_ADMIN_RELAY/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
/usr/bin/python3 "$(dirname "$0")/link_h2_gateway.py" $P_HOOK2 $T/gateway.crt $T/gateway.key $T/ca/ca.crt \
  $T/signal.key "$IP" $T/h2gw.ready 3 >$T/h2gw.out 2>&1 &
H2GW=$!
PIDS+=($H2GW)
for _ in $(seq 100); do [ -e $T/h2gw.ready ] && break; sleep 0.05; done
for i in 1 2; do
  out=$(curl -sS --max-time 10 -H "Host: cam.mobile.test" "http://127.0.0.1:$P_PUBLIC/") ||
    fail "tunnel $i through python-h2: $(cat $T/h2gw.out) / $(tail -3 $T/relay.log)"
  [ "$out" = "hello from the mobile server" ] || fail "tunnel $i through python-h2: '$out'"
done
curl -fsS -X PATCH "http://127.0.0.1:$P_ADMIN_RELAY/api/v1/subscribers/31610000001" \
  --json '{"attrs":{"relay.http_port":"'$P_BIG'"}}' >/dev/null
curl -sS --max-time 30 -H "Host: cam.mobile.test" "http://127.0.0.1:$P_PUBLIC/big.bin" -o $T/big.out ||
  fail "8 MiB through python-h2: $(cat $T/h2gw.out)"
cmp -s $T/big.out $T/www/big.bin || fail "8 MiB through python-h2 arrived changed ($(stat -c %s $T/big.out) octets)"
wait $H2GW || fail "python-h2 as the gateway: $(cat $T/h2gw.out)"
grep '^ok - ' $T/h2gw.out | sed 's/^ok - /ok - python-h2 gateway: /'
[ "$(relay_metric 'mobix_relay_links_total{event="up"}')" = 1 ] || fail "relay: link not counted"
[ "$(relay_metric 'mobix_relay_signals_total{outcome="sent"}')" = 1 ] || fail "relay: more than one signal for three tunnels"
[ "$(grep -c 'over the link closed' $T/relay.log)" = 3 ] || fail "relay: the tunnels did not ride the link"
pass "mobix's relay with python-h2 as the gateway: one signal (opened by python-cryptography), one link, two answers and 8 MiB intact"
