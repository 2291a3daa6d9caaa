#!/usr/bin/env bash
# Issue 12 item 1: what a stranger can make the operator send through the relay. Each wake-up
# signal is an SMS (here through the lab SMSC, which counts them); the relay must not turn a flood
# of HTTP requests into a flood of SMS:
#   - clients waiting for the same mobile server share one signal;
#   - per target, per client address and in all, token buckets bound the signals (429, counters);
#   - a gateway that dialled in stays usable for the next requests without a new signal (spare legs);
#   - a client that hung up before its signal went costs no signal.
source "$(dirname "$0")/lib.sh"
read -r P_AUTH P_ACCT P_ADMIN_OP P_ADMIN_RELAY P_PUBLIC P_CALLBACK P_WEB <<<"$(free_ports u u t t t t t)"

"$MOBIX" pki init --dir $T/ca --cn "Relay CA" >/dev/null
"$MOBIX" pki issue --dir $T/ca --cn relay --ip 127.0.0.1 --out $T/relay >/dev/null
openssl rand -hex 32 >$T/signal.key
"$MOBIX" smpp smsc --listen 127.0.0.1:0 --port-file $T/smsc.port --account relay:relay-pw --account gateway:gw-pw \
  >$T/smsc.log 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -s $T/smsc.port ] && break; sleep 0.05; done
SMSC=127.0.0.1:$(cat $T/smsc.port)
sms_sent() { grep -c "submit_sm from relay" $T/smsc.log || true; }

mkdir -p $T/op $T/relaynode
cat >$T/op/mobix.yaml <<YAML
store: {path: mobix.db}
admin: {listen: "127.0.0.1:$P_ADMIN_OP", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:$P_AUTH
    acct_listen: 127.0.0.1:$P_ACCT
    clients: [{name: ggsn, address: 127.0.0.1/32, secret: limits-test-secret}]
  pools: [{name: internet, range: 127.1.0.10-127.1.0.50}]
gateway:
  smpp: {smsc: "$SMSC", system_id: gateway, password: gw-pw}
  address_range: "3169900"
  signal_keys: [{id: 1, key_file: ../signal.key}]
  relay_ca_file: ../ca/ca.crt
  connect_timeout: 3
YAML
# relay_config EXTRA: the relay with the default limits, plus EXTRA settings.
relay_config() {
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
  hold_timeout: 2
$1
YAML
}
relay_config ""
start_serve $T/op/mobix.yaml $P_ADMIN_OP $T/op.log || fail "operator node: $(tail -3 $T/op.log)"
start_serve $T/relaynode/mobix.yaml $P_ADMIN_RELAY $T/relay.log || fail "relay: $(tail -3 $T/relay.log)"
for _ in $(seq 100); do grep -q "lab smsc #.*gateway bound (receiver)" $T/smsc.log && break; sleep 0.05; done
ADMIN=127.0.0.1:$P_ADMIN_RELAY  # metric() reads the relay's counters

publish() {  # publish MSISDN NAME: a mobile server at the relay
  curl -fsS -X POST http://127.0.0.1:$P_ADMIN_RELAY/api/v1/subscribers \
    --json '{"msisdn":"'$1'","hostname":"'$2'","attrs":{"relay.http_port":"'$P_WEB'"}}' >/dev/null || fail "publish $2"
}
publish 31610000001 cam.mobile.test
for i in 1 2 3 4 5 6 7 8 9; do publish 3162000000$i sleep$i.mobile.test; done
curl -fsS -X POST http://127.0.0.1:$P_ADMIN_OP/api/v1/subscribers \
  --json '{"msisdn":"31610000001","username":"cam","password":"cam-radius-pw"}' >/dev/null
IP=$("$MOBIX" sim attach --auth 127.0.0.1:$P_AUTH --acct 127.0.0.1:$P_ACCT --secret limits-test-secret \
  --state-dir $T/sim --msisdn 31610000001 --username cam --password cam-radius-pw | tail -1)
[[ $IP == 127.1.* ]] || fail "attach: $IP"
mkdir -p $T/www && echo "hello from the phone" >$T/www/hello.txt
(cd $T/www && exec /usr/bin/python3 -m http.server --bind "$IP" "$P_WEB") >$T/web.log 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -fsS "http://$IP:$P_WEB/hello.txt" >/dev/null 2>&1 && break; sleep 0.05; done

# get NAME [curl args]: the HTTP status through the relay.
get() { local n=$1; shift; curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 -H "Host: $n" "$@" "http://127.0.0.1:$P_PUBLIC/hello.txt" || true; }

# 1. A user's own repeated requests to an attached device: served, one signal.
before=$(sms_sent)
[ "$(get cam.mobile.test)" = 200 ] || fail "first request to the attached device"
for i in $(seq 30); do [ "$(get cam.mobile.test)" = 200 ] || fail "sequential request $i: $(tail -3 $T/relay.log)"; done
mkdir -p $T/par
# From 30 addresses: one address may have only max_pending_per_client_ip (8) waiting at once.
for i in $(seq 30); do get cam.mobile.test --interface 127.0.5.$i >$T/par/$i.code & done
wait_codes() { for _ in $(seq 200); do [ "$(cat $T/par/*.code 2>/dev/null | wc -c)" -ge $((4 * $1)) ] && break; sleep 0.05; done; }
wait_codes 30
[ "$(sort $T/par/*.code | uniq -c | awk '{print $2":"$1}')" = "200:30" ] || fail "parallel requests: $(sort $T/par/*.code | uniq -c)"
sent=$(( $(sms_sent) - before ))
[ "$sent" -le 2 ] || fail "61 requests to an attached device cost $sent SMS"
[ "$(metric 'mobix_relay_spare_legs_total{event="used"}')" -ge 20 ] || fail "spare legs not used: $(metric 'mobix_relay_spare_legs_total{event="used"}')"
pass "61 requests (31 one after another, 30 at once) to an attached device: all served for $sent SMS (spare legs, more legs asked on the leg in use)"

# 2. A flood for a sleeping device from many addresses, in five waves: clients of one wave share a
#    signal, and after the per-target burst the waves get 429 (counter, log line).
before=$(sms_sent)
refused_before=$(metric 'mobix_relay_clients_refused_total{reason="target_signal_rate"}')
rm -f $T/par/*.code
for round in 1 2 3 4 5; do
  for i in $(seq 20); do get sleep1.mobile.test --interface 127.0.$round.$i >$T/par/$round-$i.code & done
  wait_codes $((20 * round))
done
sent=$(( $(sms_sent) - before ))
# Each round waits out the hold time together; burst 3, then one more per 10 s.
[ "$sent" -ge 3 ] && [ "$sent" -le 4 ] || fail "100 requests for a sleeping device from 100 addresses cost $sent SMS (burst 3)"
grep -q 429 $T/par/*.code || fail "no 429 for the flood: $(cat $T/par/*.code | sort | uniq -c)"
refused_after=$(metric 'mobix_relay_clients_refused_total{reason="target_signal_rate"}')
[ "$refused_after" -gt "$refused_before" ] || fail "target_signal_rate not counted"
grep -q "to sleep1.mobile.test: target_signal_rate" $T/relay.log || fail "no log line for target_signal_rate"
grep -q 'mobix_gateway_signals_total{result="not_attached"}' <<<"$(curl -fsS http://127.0.0.1:$P_ADMIN_OP/metrics)" \
  || fail "the gateway did not see the signals"
pass "100 requests for a sleeping device from 100 addresses: $sent SMS, the rest waited for them or got 429 (counter, log line)"

# 3. One address asking for many sleeping devices: the per-client bucket (burst 5) holds.
before=$(sms_sent)
rm -f $T/par/*.code
for i in 2 3 4 5 6 7 8; do get sleep$i.mobile.test --interface 127.0.9.9 >$T/par/$i.code & done
wait_codes 7
sent=$(( $(sms_sent) - before ))
[ "$sent" = 5 ] || fail "one client asking for 7 sleeping devices caused $sent SMS, not 5"
[ "$(cat $T/par/*.code | grep -c 429)" = 2 ] || fail "not two 429: $(cat $T/par/*.code)"
[ "$(metric 'mobix_relay_clients_refused_total{reason="client_signal_rate"}')" = 2 ] || fail "client_signal_rate not counted"
grep -q "no tunnel from 127.0.9.9 to .*: client_signal_rate" $T/relay.log || fail "no log line for client_signal_rate"
pass "one address asking for 7 sleeping devices: 5 SMS (its burst), 2 refused with 429 (counter, log line)"

# 4. Clients that hang up at once: no signal. The relay is restarted with generous rates, so only
#    the hang-up check stands between these requests and an SMS each.
RELAY_PID=$(pgrep -f "serve --config $T/relaynode/mobix.yaml" | head -1)
kill "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null || true
relay_config "  signal_burst_per_target: 1000
  signal_burst_per_client: 1000
  signals_per_minute_per_target: 1000
  signals_per_minute_per_client: 1000"
start_serve $T/relaynode/mobix.yaml $P_ADMIN_RELAY $T/relay2.log || fail "relay restart: $(tail -3 $T/relay2.log)"
before=$(sms_sent)
# Over five devices: without the check each would cost at least one SMS.
for i in $(seq 20); do
  /usr/bin/python3 - 127.0.0.1 $P_PUBLIC sleep$((5 + i % 5)).mobile.test <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
# Corked: the request and the FIN leave in one segment, so the relay sees the hang-up with the
# request (unpredictable scheduling would otherwise decide whether the FIN or the read comes first).
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: " + sys.argv[3].encode() + b"\r\n\r\n")
s.close()  # hangs up at once
PY
done
for _ in $(seq 50); do [ "$(metric 'mobix_relay_clients_refused_total{reason="client_gone"}')" -ge 20 ] && break; sleep 0.1; done
sent=$(( $(sms_sent) - before ))
[ "$sent" = 0 ] || fail "20 clients that hung up at once cost $sent SMS"
gone=$(metric 'mobix_relay_clients_refused_total{reason="client_gone"}')
[ "$gone" = 20 ] || fail "client_gone counted $gone times of 20"
grep -q "to sleep[5-9].mobile.test: client_gone" $T/relay2.log || fail "no log line for client_gone"
pass "20 clients that hung up at once: $sent SMS, $gone counted as client_gone (log line)"

# 5. Waiting at once (not signals): one address may have 8 tunnels waiting (max_pending_per_client_ip),
#    one target 32 (max_pending_per_target); then 429, counted and logged.
rm -f $T/par/*.code
for i in $(seq 9); do get sleep8.mobile.test --interface 127.0.8.8 >$T/par/ip-$i.code & done
wait_codes 9
[ "$(cat $T/par/ip-*.code | grep -c 429)" = 1 ] || fail "9 waiting from one address: $(sort $T/par/ip-*.code | uniq -c)"
[ "$(metric 'mobix_relay_clients_refused_total{reason="rate_limited"}')" = 1 ] || fail "rate_limited not counted"
grep -q "127.0.8.8 refused for sleep8.mobile.test: rate_limited" $T/relay2.log || fail "no log line for rate_limited"
rm -f $T/par/*.code
for i in $(seq 33); do get sleep7.mobile.test --interface 127.0.7.$i >$T/par/t-$i.code & done
wait_codes 33
[ "$(cat $T/par/t-*.code | grep -c 429)" = 1 ] || fail "33 waiting for one target: $(sort $T/par/t-*.code | uniq -c)"
[ "$(metric 'mobix_relay_clients_refused_total{reason="target_rate_limited"}')" = 1 ] || fail "target_rate_limited not counted"
grep -q "refused for sleep7.mobile.test: target_rate_limited" $T/relay2.log || fail "no log line for target_rate_limited"
pass "9 clients from one address, 33 for one target: the 9th and the 33rd get 429 (counters, log lines)"

# 6. The terminal is attached but nothing listens on the service port: the gateway answers DOWN,
#    the client gets 503 at once (not at the hold timeout), both sides count and log it.
DEAD=$(free_ports t)
curl -fsS -X PATCH http://127.0.0.1:$P_ADMIN_RELAY/api/v1/subscribers/31610000001 \
  --json '{"attrs":{"relay.http_port":"'$DEAD'"}}' >/dev/null || fail "PATCH"
op_metric() { curl -fsS http://127.0.0.1:$P_ADMIN_OP/metrics | awk -v k="$1" '$1 == k {print $2}'; }
gw_before=$(op_metric 'mobix_gateway_signals_total{result="terminal_unreachable"}')
[ "$(get cam.mobile.test)" = 503 ] || fail "a dead service port did not give 503"
[ "$(metric 'mobix_relay_clients_refused_total{reason="terminal_unreachable"}')" = 1 ] || fail "terminal_unreachable not counted at the relay"
[ "$(op_metric 'mobix_gateway_signals_total{result="terminal_unreachable"}')" = $(( ${gw_before:-0} + 1 )) ] || fail "terminal_unreachable not counted at the gateway"
grep -q "to cam.mobile.test: terminal_unreachable" $T/relay2.log || fail "no relay log line for terminal_unreachable"
grep -q "gateway: tunnel .*: msisdn 31610000001 at $IP:$DEAD: " $T/op.log || fail "no gateway log line for terminal_unreachable"
pass "a service port nobody listens on: the gateway says DOWN, the client gets 503 (counters and log lines on both sides)"
