#!/usr/bin/env bash
# Slow clients before authentication (issue 12 item 4): every read a stranger can stall has a
# deadline, not only each byte. DNS over TCP: a length prefix without its message is closed after
# 5 s (RFC 7766 leaves the timeout to the server). The relay: a client trickling its first flight a
# byte at a time is closed 10 s after it connected, however it paces itself. A slowloris of 500
# connections per listener keeps memory bounded and a legitimate client keeps being served.
source "$(dirname "$0")/lib.sh"
read -r P_AUTH P_ACCT P_ADMIN P_DNS P_PUBLIC P_CALLBACK <<<"$(free_ports u u t d t t)"
"$MOBIX" pki init --dir $T/ca --cn "Relay CA" >/dev/null
"$MOBIX" pki issue --dir $T/ca --cn relay --ip 127.0.0.1 --out $T/relay >/dev/null
openssl rand -hex 32 >$T/signal.key
cat >"$T/mobix.yaml" <<YAML
store: {path: state.db}
admin: {listen: "127.0.0.1:$P_ADMIN", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:$P_AUTH
    acct_listen: 127.0.0.1:$P_ACCT
    clients: [{name: nas, address: 127.0.0.1/32, secret: a-long-test-secret}]
  pools: [{name: internet, range: 10.64.0.0/24}]
dns:
  listen: 127.0.0.1:$P_DNS
  zones: [{name: slow.test, records: ["www A 192.0.2.80"]}]
relay:
  public_listen: 127.0.0.1:$P_PUBLIC
  callback_listen: 127.0.0.1:$P_CALLBACK
  tls_cert_file: relay.crt
  tls_key_file: relay.key
  signal_key: {id: 1, key_file: signal.key}
  channel: webhook
  webhook_url: https://127.0.0.1:9/v1/signal
  webhook_ca_file: ca/ca.crt
YAML
start_serve "$T/mobix.yaml" "$P_ADMIN" "$T/serve.log" || fail "serve: $(tail -3 "$T/serve.log")"
ADMIN=127.0.0.1:$P_ADMIN
PID=$(pgrep -f "serve --config $T/mobix.yaml" | head -1)

# seconds_until_closed PORT PAYLOAD_HEX TRICKLE: connects, sends the payload (one byte a second when
# TRICKLE=1), and prints after how many seconds the server closed the connection.
seconds_until_closed() {
  /usr/bin/python3 - "$@" <<'PY'
import socket, sys, time
port, payload, trickle = int(sys.argv[1]), bytes.fromhex(sys.argv[2]), sys.argv[3] == "1"
s = socket.create_connection(("127.0.0.1", port)); start = time.monotonic()
s.settimeout(0.2)
i = 0
while time.monotonic() - start < 30:
    if i < len(payload) and (trickle or i == 0):
        try:
            s.sendall(payload[i:i + 1] if trickle else payload); i = i + 1 if trickle else len(payload)
        except OSError:
            break
    try:
        if s.recv(4096) == b"":
            break
    except socket.timeout:
        pass
    except OSError:
        break
    if trickle:
        time.sleep(0.8)
print(round(time.monotonic() - start))
PY
}

dig +tcp +short +time=2 +tries=1 @127.0.0.1 -p $P_DNS www.slow.test A | grep -q 192.0.2.80 || fail "DNS over TCP does not answer"
before=$(metric mobix_dns_tcp_timeouts_total)
took=$(seconds_until_closed $P_DNS 0040 0)  # "64 octets follow", then nothing
[ "$took" -ge 4 ] && [ "$took" -le 8 ] || fail "DNS/TCP length prefix without a message closed after ${took}s"
[ "$(metric mobix_dns_tcp_timeouts_total)" = $((before + 1)) ] || fail "the DNS/TCP timeout was not counted"
grep -q "dns: a TCP client sent no complete message in 5 s" $T/serve.log || fail "no log line for the DNS/TCP timeout"
pass "DNS over TCP: a length prefix without its message is closed after ${took}s (counter, log line)"

before=$(metric 'mobix_relay_clients_refused_total{reason="header_timeout"}')
req=$(printf 'GET / HTTP/1.1\r\nX-Slow: %s' "$(head -c 40 /dev/zero | tr '\0' a)" | od -An -v -tx1 | tr -d ' \n')
took=$(seconds_until_closed $P_PUBLIC "$req" 1)
[ "$took" -ge 9 ] && [ "$took" -le 14 ] || fail "a client trickling its header was closed after ${took}s"
[ "$(metric 'mobix_relay_clients_refused_total{reason="header_timeout"}')" = $((before + 1)) ] || fail "header_timeout not counted"
pass "relay: a client trickling its first flight a byte at a time is closed after ${took}s (counter)"

# 500 slow connections on each listener (two addresses, under the per-address cap of 256): memory
# stays bounded, and a legitimate client is still served meanwhile.
rss() { awk '/VmRSS/ {print $2}' /proc/$PID/status; }
rss_before=$(rss)
/usr/bin/python3 - $P_PUBLIC $P_DNS >$T/loris.out <<'PY' &
import socket, sys, time
socks = []
for port, first in ((int(sys.argv[1]), b"GET / HTTP/1.1\r\nX-Slow: a"), (int(sys.argv[2]), b"\xff\xff")):
    for i in range(500):
        s = socket.socket(); s.bind(("127.0.0.%d" % (20 + i % 2), 0)); s.connect(("127.0.0.1", port))
        s.sendall(first); socks.append(s)
print("held", len(socks), flush=True)
time.sleep(4)
PY
LORIS=$!
for _ in $(seq 100); do grep -q held $T/loris.out && break; sleep 0.1; done
rss_during=$(rss)
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Host: nobody.slow.test" "http://127.0.0.1:$P_PUBLIC/")
[ "$code" = 404 ] || fail "a legitimate relay client was not served during the slowloris: $code"
dig +tcp +short +time=2 +tries=1 @127.0.0.1 -p $P_DNS www.slow.test A | grep -q 192.0.2.80 || fail "DNS/TCP not served during the slowloris"
wait $LORIS
growth=$(( (rss_during - rss_before) / 1024 ))
[ "$growth" -le 24 ] || fail "1,000 slow connections grew the process by ${growth} MB"
echo "# slowloris: 500 relay + 500 DNS/TCP connections (DNS ones announcing 64 KiB): RSS +${growth} MB" >&2
pass "a slowloris of 500 connections per listener: +${growth} MB, legitimate relay and DNS clients served"
