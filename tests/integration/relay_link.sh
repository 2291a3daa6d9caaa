#!/usr/bin/env bash
# Seed 001 over the multiplexed link (issue 17 item 1, gateway.multiplex): one signal wakes the
# gateway, which opens one TLS link to the relay; every later tunnel is an HTTP/2 stream on it, with
# no signal and no handshake. Per-stream flow control keeps a client that does not read from
# making the relay buffer its download or from stalling the other tunnels. A terminal that does not
# answer gets the client a 503 (counted and logged on both sides). An idle link closes; the next
# client wakes the gateway again. (relay_tunnel.sh and relay_netns.sh run over the link too.)
source "$(dirname "$0")/lib.sh"
read -r P_AUTH P_ACCT P_ADMIN_OP P_ADMIN_RELAY P_PUBLIC P_CALLBACK P_WEB P_HOOK P_BIG P_CLOSED P_TLS P_TLS2 <<<"$(free_ports u u t t t t t t t t t t)"
"$MOBIX" pki init --dir $T/ca --cn "Test CA" >/dev/null
"$MOBIX" pki issue --dir $T/ca --cn relay --ip 127.0.0.1 --out $T/relay >/dev/null
"$MOBIX" pki issue --dir $T/ca --cn gateway --ip 127.0.0.1 --out $T/gateway >/dev/null
"$MOBIX" pki issue --dir $T/ca --cn cam.mobile.test --dns cam.mobile.test --out $T/phone >/dev/null
openssl rand -hex 32 >$T/signal.key
mkdir -p $T/op $T/relaynode
cat >$T/op/mobix.yaml <<YAML
store: {path: mobix.db}
admin: {listen: "127.0.0.1:$P_ADMIN_OP", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:$P_AUTH
    acct_listen: 127.0.0.1:$P_ACCT
    clients: [{name: ggsn, address: 127.0.0.1/32, secret: link-test-secret}]
  pools: [{name: internet, range: 127.1.0.10-127.1.0.50}]
gateway:
  webhook_listen: 127.0.0.1:$P_HOOK
  webhook_cert_file: ../gateway.crt
  webhook_key_file: ../gateway.key
  signal_keys: [{id: 7, key_file: ../signal.key}]
  relay_ca_file: ../ca/ca.crt
  multiplex: true
  link_idle_timeout: 5
YAML
cat >$T/relaynode/mobix.yaml <<YAML
store: {path: mobix.db}
limits: {max_connections_per_address: 30}
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
YAML
start_serve $T/op/mobix.yaml $P_ADMIN_OP $T/op.log || fail "operator node: $(tail -3 $T/op.log)"
start_serve $T/relaynode/mobix.yaml $P_ADMIN_RELAY $T/relay.log || fail "relay: $(tail -3 $T/relay.log)"
curl -fsS -X POST http://127.0.0.1:$P_ADMIN_OP/api/v1/subscribers \
  --json '{"msisdn":"31610000001","username":"cam","password":"cam-radius-pw"}' >/dev/null
curl -fsS -X POST http://127.0.0.1:$P_ADMIN_RELAY/api/v1/subscribers \
  --json '{"msisdn":"31610000001","hostname":"cam.mobile.test","attrs":{"relay.http_port":"'$P_WEB'"}}' >/dev/null
IP=$("$MOBIX" sim attach --auth 127.0.0.1:$P_AUTH --acct 127.0.0.1:$P_ACCT --secret link-test-secret \
  --state-dir $T/sim --msisdn 31610000001 --username cam --password cam-radius-pw | tail -1)
/usr/bin/python3 "$(dirname "$0")/relay_echo_server.py" "$IP" $P_WEB >$T/web.log 2>&1 &
PIDS+=($!)
mkdir -p $T/www && head -c $((64 << 20)) /dev/urandom >$T/www/big.bin
(cd $T/www && exec /usr/bin/python3 -m http.server --bind "$IP" "$P_BIG") >$T/big.log 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -fsS "http://$IP:$P_WEB/" >/dev/null 2>&1 && curl -fsS -o /dev/null "http://$IP:$P_BIG/" 2>/dev/null && break; sleep 0.05; done
relay_metric() { curl -fsS "http://127.0.0.1:$P_ADMIN_RELAY/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
op_metric() { curl -fsS "http://127.0.0.1:$P_ADMIN_OP/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
through() { curl -sS --max-time 10 -H "Host: cam.mobile.test" "$@" "http://127.0.0.1:$P_PUBLIC/"; }

# 20 tunnels one after the other: one signal, one link, one TLS connection to the callback port.
for i in $(seq 20); do
  out=$(through) || fail "tunnel $i: $(tail -3 $T/relay.log)"
  [ "$out" = "hello from the mobile server" ] || fail "tunnel $i: '$out'"
done
[ "$(relay_metric 'mobix_relay_signals_total{outcome="sent"}')" = 1 ] ||
  fail "signals for 20 tunnels: $(relay_metric 'mobix_relay_signals_total{outcome="sent"}')"
[ "$(relay_metric 'mobix_relay_links_total{event="up"}')" = 1 ] || fail "relay links up: $(relay_metric 'mobix_relay_links_total{event="up"}')"
[ "$(op_metric 'mobix_gateway_links_total{event="up"}')" = 1 ] || fail "gateway links up"
[ "$(relay_metric 'mobix_tcp_connections_total{service="relay-callback"}')" = 1 ] ||
  fail "callback connections for 20 tunnels: $(relay_metric 'mobix_tcp_connections_total{service="relay-callback"}')"
[ "$(grep -c 'over the link closed' $T/relay.log)" -ge 20 ] || fail "tunnels not logged as riding the link"
pass "20 tunnels: one signal, one TLS link to the callback port, 20 streams on it (counters)"

# Flow control: a client asks for 64 MiB and reads nothing for a while. The relay keeps at most
# the stream's window for it (RSS), and another tunnel works meanwhile (no head-of-line blocking).
rss() { awk '/VmRSS/ {print $2}' /proc/$(pgrep -f "serve --config $T/relaynode/mobix.yaml" | head -1)/status; }
set_port() { curl -fsS -X PATCH "http://127.0.0.1:$P_ADMIN_RELAY/api/v1/subscribers/31610000001" \
  --json '{"attrs":{"relay.http_port":"'$1'"}}' >/dev/null; }
set_port $P_BIG # the big file is served on another port of the same terminal
rss0=$(rss)
/usr/bin/python3 - 127.0.0.1 $P_PUBLIC $T/slow.out >$T/slow.log 2>&1 <<'PY' &
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: cam.mobile.test\r\nConnection: close\r\n\r\n")
open(sys.argv[3] + ".started", "w").close()
time.sleep(4)  # not reading: the relay must not read the link on its behalf
with open(sys.argv[3], "wb") as f:
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        f.write(d)
PY
SLOW=$!
for _ in $(seq 100); do [ -e $T/slow.out.started ] && break; sleep 0.05; done
sleep 1
out=$(through) || fail "a tunnel beside a stalled one: $(tail -3 $T/relay.log)"
grep -q "big.bin" <<<"$out" || fail "a tunnel beside a stalled one: '$out'"
rss_stalled=$(rss)
wait $SLOW || fail "the slow reader: $(cat $T/slow.log)"
tail -c $((64 << 20)) $T/slow.out | cmp -s - $T/www/big.bin || fail "64 MiB after a stall arrived changed ($(stat -c %s $T/slow.out) octets with headers)"
grown=$((rss_stalled - rss0))
[ $grown -lt 16384 ] || fail "the relay grew by $grown KiB for a client that did not read (64 MiB on the way)"
set_port $P_WEB
pass "flow control: a stalled client of a 64 MiB download costs the relay $grown KiB, another tunnel works meanwhile, the download arrives intact"

# A terminal port nobody listens on: 503 for the client; counted and logged at both ends.
set_port $P_CLOSED
gw0=$(op_metric 'mobix_gateway_signals_total{result="terminal_unreachable"}')
rl0=$(relay_metric 'mobix_relay_clients_refused_total{reason="terminal_unreachable"}')
code=$(curl -s -o $T/closed.body -w '%{http_code}' --max-time 10 -H "Host: cam.mobile.test" "http://127.0.0.1:$P_PUBLIC/")
[ "$code" = 503 ] || fail "a closed terminal port: HTTP $code"
grep -q "not reachable now" $T/closed.body || fail "the 503 does not say why: $(cat $T/closed.body)"
[ "$(op_metric 'mobix_gateway_signals_total{result="terminal_unreachable"}')" = $((${gw0:-0} + 1)) ] || fail "gateway terminal_unreachable not counted"
[ "$(relay_metric 'mobix_relay_clients_refused_total{reason="terminal_unreachable"}')" = $((${rl0:-0} + 1)) ] || fail "relay terminal_unreachable not counted"
grep -q "gateway: link tunnel to msisdn 31610000001 at $IP:$P_CLOSED: " $T/op.log || fail "no gateway log line for the unreachable terminal"
grep -q "no tunnel from 127.0.0.1 to cam.mobile.test: terminal_unreachable" $T/relay.log || fail "no relay log line"
[ "$(relay_metric 'mobix_relay_signals_total{outcome="sent"}')" = 1 ] || fail "the refused stream cost a signal"
set_port $P_WEB
pass "a terminal that does not answer: 503 at once (502 on the stream), counted and logged at gateway and relay, no signal"

# A tunnel on the link keeps its client connection's slot under the listener's caps although the
# relay's coroutine for it has ended: with 30 idle tunnels open the 31st connection from the same
# address is refused (counted); once they closed, the next one gets through.
cat >$T/hold.py <<'PY'
import os, socket, sys, time
port, n, stop = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\nHost: cam.mobile.test\r\n\r\n")
    got = b""
    while b"hello from the mobile server" not in got:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("tunnel %d closed early" % i)
        got += chunk
    socks.append(s)
print("ready", flush=True)
while not os.path.exists(stop):  # holds the tunnels until the test says so
    time.sleep(0.05)
PY
full0=$(relay_metric 'mobix_tcp_refused_total{service="relay-public",reason="address_full"}')
/usr/bin/python3 $T/hold.py $P_PUBLIC 30 $T/hold.stop >$T/hold.out 2>&1 &
HOLD=$!
for _ in $(seq 200); do grep -q ready $T/hold.out && break; kill -0 $HOLD 2>/dev/null || break; sleep 0.05; done
grep -q ready $T/hold.out || fail "30 idle tunnels: $(cat $T/hold.out)"
through >/dev/null 2>&1 && fail "a 31st connection from the same address got a tunnel"
for _ in $(seq 50); do [ "$(relay_metric 'mobix_tcp_refused_total{service="relay-public",reason="address_full"}')" = $((${full0:-0} + 1)) ] && break; sleep 0.1; done
[ "$(relay_metric 'mobix_tcp_refused_total{service="relay-public",reason="address_full"}')" = $((${full0:-0} + 1)) ] ||
  fail "the 31st connection was not refused as address_full"
touch $T/hold.stop
wait $HOLD 2>/dev/null || true
for _ in $(seq 50); do out=$(through 2>/dev/null) && break; sleep 0.1; done
[ "$out" = "hello from the mobile server" ] || fail "after the 30 tunnels closed: '$out'"
pass "idle tunnels on the link keep their connections' slots under the per-address cap (31st refused, counted), and give them back"

# A made-up link hello is refused like a made-up leg.
printf 'MOBIX-LINK 00000000000000ff %032x\r\n' 0 |
  timeout 5 openssl s_client -quiet -connect 127.0.0.1:$P_CALLBACK -CAfile $T/ca/ca.crt >/dev/null 2>&1 || true
for _ in $(seq 50); do [ -n "$(relay_metric 'mobix_relay_callbacks_total{result="unknown_tunnel"}')" ] && break; sleep 0.1; done
[ "$(relay_metric 'mobix_relay_callbacks_total{result="unknown_tunnel"}')" = 1 ] || fail "a made-up link hello was not refused"
pass "a link hello with a made-up tunnel id is refused and counted"

# The idle link closes after link_idle_timeout (5 s); the next client wakes the gateway again.
for _ in $(seq 200); do grep -q "multiplexed link to relay .* closed: retired" $T/op.log && break; sleep 0.1; done
grep -q "multiplexed link to relay .* closed: retired" $T/op.log || fail "the idle link was not closed: $(grep link $T/op.log | tail -3)"
for _ in $(seq 50); do [ "$(relay_metric 'mobix_relay_links_total{event="closed"}')" = 1 ] && break; sleep 0.1; done
[ "$(relay_metric 'mobix_relay_links_total{event="closed"}')" = 1 ] || fail "the relay did not see the link close"
out=$(through) || fail "after the idle link closed: $(tail -3 $T/relay.log)"
[ "$out" = "hello from the mobile server" ] || fail "after the idle link closed: '$out'"
[ "$(relay_metric 'mobix_relay_signals_total{outcome="sent"}')" = 2 ] || fail "no new signal after the link closed"
[ "$(relay_metric 'mobix_relay_links_total{event="up"}')" = 2 ] || fail "no new link"
[ "$(op_metric 'mobix_gateway_relay_handshakes_total{kind="resumed"}')" = 1 ] &&
  [ "$(relay_metric 'mobix_relay_callback_handshakes_total{kind="resumed"}')" = 1 ] ||
  fail "the new link did not resume the first one's TLS session"
pass "an idle link closes after link_idle_timeout; the next client wakes the gateway and a new link comes up (TLS resumed)"

# End-to-end TLS while the link is up (relay.end_to_end_tls: leg, the default): the first tunnel
# asks the gateway over the link for a leg of its own (no SMS) and splices zero-copy; the next
# takes the spare leg that followed it.
echo "hello over TLS" >$T/www/hello.txt
(cd $T/www && exec openssl s_server -accept "$IP:$P_TLS" -cert $T/phone.crt -key $T/phone.key -WWW -quiet) >$T/s_server.log 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/$IP/$P_TLS) 2>/dev/null && break; sleep 0.05; done
set_tls_port() { curl -fsS -X PATCH "http://127.0.0.1:$P_ADMIN_RELAY/api/v1/subscribers/31610000001" \
  --json '{"attrs":{"relay.tls_port":"'$1'"}}' >/dev/null; }
tls_through() { curl -sS --max-time 10 --cacert $T/ca/ca.crt --resolve "cam.mobile.test:$P_PUBLIC:127.0.0.1" \
  "https://cam.mobile.test:$P_PUBLIC/hello.txt"; }
set_tls_port $P_TLS
sms0=$(relay_metric 'mobix_relay_signals_total{outcome="sent"}')
for i in 1 2; do
  out=$(tls_through) || fail "TLS tunnel $i with the link up: $(tail -3 $T/relay.log)"
  [ "$out" = "hello over TLS" ] || fail "TLS tunnel $i: '$out'"
done
[ "$(relay_metric 'mobix_relay_link_signals_total{outcome="sent"}')" = 1 ] ||
  fail "legs asked for over the link: $(relay_metric 'mobix_relay_link_signals_total{outcome="sent"}')"
[ "$(relay_metric 'mobix_relay_signals_total{outcome="sent"}')" = "$sms0" ] || fail "a TLS tunnel cost a signal by SMS or webhook"
for _ in $(seq 50); do [ "$(grep -c 'tunnel to cam.mobile.test closed (.*zero-copy)' $T/relay.log)" = 2 ] && break; sleep 0.1; done
[ "$(grep -c 'tunnel to cam.mobile.test closed (.*zero-copy)' $T/relay.log)" = 2 ] || fail "the TLS tunnels were not spliced: $(grep closed $T/relay.log | tail -2)"
pass "end-to-end TLS with the link up: a leg of its own asked for over the link (no SMS), spliced zero-copy; the next tunnel takes its spare"

# A leg asked for over the link while the gateway cannot write its replay memory (another process
# holds its database locked): the relay stops waiting after hold_timeout (3 s: gateway_timeout), the
# gateway gives the signal up after SQLite's busy timeout (5 s: store_failed); each counted and
# logged, the client refused, and no leg is opened for the signal.
set_tls_port $P_TLS2 # another service of the terminal: no spare leg for it
sf0=$(op_metric 'mobix_gateway_signals_total{result="store_failed"}')
lock_database $T/op/mobix.db $T/unlock || fail "sqlite3 never took the exclusive lock"
tls_through >/dev/null 2>&1 && fail "a TLS tunnel worked while the gateway could not remember its signal"
[ "$(relay_metric 'mobix_relay_link_signals_total{outcome="gateway_timeout"}')" = 1 ] || fail "relay: gateway_timeout not counted"
grep -q "no leg over the link for link [0-9a-f]*: gateway_timeout" $T/relay.log || fail "no relay log line for gateway_timeout"
# The lock is held until the gateway gave up (released earlier, the late signal would be remembered).
for _ in $(seq 200); do [ "$(op_metric 'mobix_gateway_signals_total{result="store_failed"}')" = $((${sf0:-0} + 1)) ] && break; sleep 0.1; done
touch $T/unlock
wait $LOCK_PID
[ "$(op_metric 'mobix_gateway_signals_total{result="store_failed"}')" = $((${sf0:-0} + 1)) ] || fail "gateway: store_failed not counted"
grep -q "gateway: tunnel [0-9a-f]*: the replay memory could not be written; signal dropped" $T/op.log || fail "no gateway log line for store_failed"
pass "a leg asked for over the link while the gateway's store is locked: the relay times out (gateway_timeout), the gateway drops the signal (store_failed), both counted and logged"

# A leg asked for over the link for a terminal that is not attached: the gateway answers 502 at
# once (not_attached); counted and logged at both ends, and the client is closed.
"$MOBIX" sim detach --auth 127.0.0.1:$P_AUTH --acct 127.0.0.1:$P_ACCT --secret link-test-secret \
  --state-dir $T/sim --msisdn 31610000001 >/dev/null
na0=$(op_metric 'mobix_gateway_signals_total{result="not_attached"}')
tls_through >/dev/null 2>&1 && fail "a TLS tunnel to a terminal that is not attached worked"
[ "$(relay_metric 'mobix_relay_link_signals_total{outcome="terminal_unreachable"}')" = 1 ] || fail "relay: the refused leg not counted"
[ "$(op_metric 'mobix_gateway_signals_total{result="not_attached"}')" = $((${na0:-0} + 1)) ] || fail "gateway: not_attached not counted"
grep -q "gateway: tunnel [0-9a-f]* (link): msisdn 31610000001 is not attached" $T/op.log || fail "no gateway log line"
grep -q "no leg over the link for link [0-9a-f]*: terminal_unreachable (not_attached)" $T/relay.log || fail "no relay log line"
grep -q "no tunnel from 127.0.0.1 to cam.mobile.test: terminal_unreachable" $T/relay.log || fail "the client was not refused as unreachable"
pass "a leg asked for over the link for a terminal that is not attached: refused at once, counted and logged at both ends"
