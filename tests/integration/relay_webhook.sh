#!/usr/bin/env bash
# Seed 001 step D over the HTTPS webhook channel: the relay POSTs the sealed signal to the
# gateway's webhook (certificate verified); no SMSC involved. Strangers posting to the webhook
# get 403 and are rate limited.
source "$(dirname "$0")/lib.sh"
read -r P_AUTH P_ACCT P_ADMIN_OP P_ADMIN_RELAY P_PUBLIC P_CALLBACK P_WEB P_HOOK <<<"$(free_ports u u t t t t t t)"
"$MOBIX" pki init --dir $T/ca --cn "Test CA" >/dev/null
"$MOBIX" pki issue --dir $T/ca --cn relay --ip 127.0.0.1 --out $T/relay >/dev/null
"$MOBIX" pki issue --dir $T/ca --cn gateway --ip 127.0.0.1 --out $T/gateway >/dev/null
openssl rand -hex 32 >$T/signal.key
mkdir -p $T/op $T/relaynode
cat >$T/op/mobix.yaml <<YAML
store: {path: mobix.db}
admin: {listen: "127.0.0.1:$P_ADMIN_OP", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:$P_AUTH
    acct_listen: 127.0.0.1:$P_ACCT
    clients: [{name: ggsn, address: 127.0.0.1/32, secret: hook-test-secret}]
  pools: [{name: internet, range: 127.1.0.10-127.1.0.50}]
gateway:
  webhook_listen: 127.0.0.1:$P_HOOK
  webhook_cert_file: ../gateway.crt
  webhook_key_file: ../gateway.key
  signal_keys: [{id: 7, key_file: ../signal.key}]
  relay_ca_file: ../ca/ca.crt
YAML
cat >$T/relaynode/mobix.yaml <<YAML
store: {path: mobix.db}
admin: {listen: "127.0.0.1:$P_ADMIN_RELAY", no_token: true}
relay:
  public_listen: 127.0.0.1:$P_PUBLIC
  callback_listen: 127.0.0.1:$P_CALLBACK
  tls_cert_file: ../relay.crt
  tls_key_file: ../relay.key
  signal_key: {id: 7, key_file: ../signal.key}
  channel: webhook
  webhook_url: https://127.0.0.1:$P_HOOK/v1/signal
  webhook_ca_file: ../ca/ca.crt
  hold_timeout: 3
  spare_legs: 0 # one signal per tunnel: this test is about the webhook channel
  signal_burst_per_target: 10
  signal_burst_per_client: 10
YAML
start_serve $T/op/mobix.yaml $P_ADMIN_OP $T/op.log || fail "operator node: $(tail -3 $T/op.log)"
start_serve $T/relaynode/mobix.yaml $P_ADMIN_RELAY $T/relay.log || fail "relay: $(tail -3 $T/relay.log)"
curl -fsS -X POST http://127.0.0.1:$P_ADMIN_OP/api/v1/subscribers \
  --json '{"msisdn":"31610000001","username":"cam","password":"cam-radius-pw"}' >/dev/null
curl -fsS -X POST http://127.0.0.1:$P_ADMIN_RELAY/api/v1/subscribers \
  --json '{"msisdn":"31610000001","hostname":"cam.mobile.test","attrs":{"relay.http_port":"'$P_WEB'"}}' >/dev/null
IP=$("$MOBIX" sim attach --auth 127.0.0.1:$P_AUTH --acct 127.0.0.1:$P_ACCT --secret hook-test-secret \
  --state-dir $T/sim --msisdn 31610000001 --username cam --password cam-radius-pw | tail -1)
/usr/bin/python3 "$(dirname "$0")/relay_echo_server.py" "$IP" $P_WEB >$T/web.log 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -fsS "http://$IP:$P_WEB/" >/dev/null 2>&1 && break; sleep 0.05; done

out=$(curl -sS --max-time 10 -H "Host: cam.mobile.test" "http://127.0.0.1:$P_PUBLIC/")
[ "$out" = "hello from the mobile server" ] || fail "through the relay over the webhook: '$out' $(tail -3 $T/relay.log)"
# The relay logs the 202 once it reads it; the tunnel may be quicker.
for _ in $(seq 50); do grep -q "signal posted to the gateway's webhook" $T/relay.log && break; sleep 0.05; done
grep -q "signal posted to the gateway's webhook" $T/relay.log || fail "the webhook was not used"
pass "the relay wakes the gateway over the HTTPS webhook (its certificate verified; the signal itself is sealed)"

# Keep-alive: five more tunnels, one after the other, reuse the relay's webhook connection.
for i in 1 2 3 4 5; do
  out=$(curl -sS --max-time 10 -H "Host: cam.mobile.test" "http://127.0.0.1:$P_PUBLIC/")
  [ "$out" = "hello from the mobile server" ] || fail "tunnel $i over a kept-alive webhook: '$out'"
done
for _ in $(seq 50); do [ "$(grep -c "signal posted to the gateway's webhook" $T/relay.log)" -ge 6 ] && break; sleep 0.05; done
[ "$(grep -c "signal posted to the gateway's webhook" $T/relay.log)" -ge 6 ] || fail "six signals expected"
accepted=$(curl -fsS "http://127.0.0.1:$P_ADMIN_OP/metrics" | awk '$1 == "mobix_tcp_connections_total{service=\"gateway-webhook\"}" {print $2}')
[ "${accepted:-0}" = 1 ] || fail "the webhook connection was not reused: $accepted connections for 6 signals"
pass "six signals over one kept-alive HTTPS connection to the gateway"

# Step E durably or not at all: while another process holds the gateway's database locked (a backup
# tool, say), a signal cannot be remembered. The webhook answers 503 only after the store gave up
# (SQLite's 5 s busy timeout), counts store_failed and logs it; no leg is opened for it.
ADMIN=127.0.0.1:$P_ADMIN_OP
signal_hex() { "$MOBIX" signal seal --key-file $T/signal.key --key-id 7 --relay-ip 127.0.0.1 --callback-port $P_CALLBACK \
  --msisdn 31610000001 --target-port $P_WEB --protocol http --tunnel-id "$1"; }
post_signal() { /usr/bin/python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))' "$(signal_hex "$1")" >$T/sealed.bin
  curl -s -o $T/hook.body -w '%{http_code}' --max-time 20 --cacert $T/ca/ca.crt --data-binary @$T/sealed.bin \
    -H 'Content-Type: application/octet-stream' "https://127.0.0.1:$P_HOOK/v1/signal"; }
failed0=$(metric 'mobix_gateway_signals_total{result="store_failed"}')
# The lock is held until the answer came (a fixed 9 s ran out before the gateway's store even tried
# under ASan on a loaded machine, and the signal was remembered: 202).
# Post only once the lock is held (a fixed sleep lost that race on a loaded machine).
lock_database $T/op/mobix.db $T/unlock || fail "sqlite3 never took the exclusive lock"
code=$(post_signal 4242) # tunnel 0000000000001092
touch $T/unlock
[ "$code" = 503 ] || fail "a signal that could not be remembered got $code ($(cat $T/hook.body))"
grep -q store_failed $T/hook.body || fail "the 503 does not say why: $(cat $T/hook.body)"
[ "$(metric 'mobix_gateway_signals_total{result="store_failed"}')" -gt "$failed0" ] || fail "store_failed not counted"
grep -q "tunnel 0000000000001092: the replay memory could not be written; signal dropped" $T/op.log ||
  fail "no log line for store_failed"
wait $LOCK_PID
[ "$(grep -c 0000000000001092 $T/op.log)" = 1 ] || fail "the gateway acted on a signal it could not remember: $(grep 0000000000001092 $T/op.log)"
code=$(post_signal 4243)
[ "$code" = 202 ] || fail "after the lock was released a signal got $code"
pass "a signal the gateway cannot remember: 503 store_failed after the store gave up, counted, logged; 202 again once it can"

# A stranger posting to the webhook: 403, counted, and rate limited after repeated refusals.
head -c 90 /dev/urandom >$T/junk
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert $T/ca/ca.crt --data-binary @$T/junk \
  -H 'Content-Type: application/octet-stream' "https://127.0.0.1:$P_HOOK/v1/signal")
[ "$code" = 403 ] || fail "a forged signal got $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert $T/ca/ca.crt "https://127.0.0.1:$P_HOOK/")
[ "$code" = 404 ] || fail "GET / got $code"
# A body larger than any sealed signal is refused by the HTTP layer: 413, counted, logged.
head -c 4000 /dev/urandom >$T/big
before=$(curl -fsS http://127.0.0.1:$P_ADMIN_OP/metrics | awk '$1 == "mobix_http_refused_total{service=\"gateway-webhook\",reason=\"body_too_large\"}" {print $2}')
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert $T/ca/ca.crt --data-binary @$T/big \
  -H 'Content-Type: application/octet-stream' "https://127.0.0.1:$P_HOOK/v1/signal")
[ "$code" = 413 ] || fail "an oversized post got $code"
after=$(curl -fsS http://127.0.0.1:$P_ADMIN_OP/metrics | awk '$1 == "mobix_http_refused_total{service=\"gateway-webhook\",reason=\"body_too_large\"}" {print $2}')
[ "${after:-0}" = $(( ${before:-0} + 1 )) ] || fail "the oversized post was not counted: ${before:-0} -> ${after:-0}"
grep -q "gateway-webhook: request from 127.0.0.1 refused" $T/op.log || fail "the oversized post was not logged"
for _ in $(seq 25); do
  curl -s -o /dev/null --cacert $T/ca/ca.crt --data-binary @$T/junk "https://127.0.0.1:$P_HOOK/v1/signal" || true
done
grep -q 'mobix_gateway_signals_total{result="rate_limited"}' <<<"$(curl -fsS http://127.0.0.1:$P_ADMIN_OP/metrics)" \
  || fail "repeated forged posts not rate limited"
pass "forged webhook posts get 403 and are rate limited (counters)"
