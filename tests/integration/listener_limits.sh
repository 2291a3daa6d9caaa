#!/usr/bin/env bash
# Connection caps on every TCP listener (issue 12 item 4): one address cannot hold more than
# limits.max_connections_per_address connections on a listener, nor all addresses together more
# than limits.max_connections_per_listener; a refused connection is closed at once, counted by
# reason and logged, and other addresses keep being served. Checked on the admin listener (Beast
# HTTP) and the POP3 proxy, with real clients (curl) and idle sockets from Python.
source "$(dirname "$0")/lib.sh"

read -r P_AUTH P_ACCT P_ADMIN P_POP3 <<<"$(free_ports u u t t)"
cat >"$T/mobix.yaml" <<YAML
store: {path: state.db}
limits: {max_connections_per_listener: 6, max_connections_per_address: 3}
admin: {listen: "127.0.0.1:$P_ADMIN", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:$P_AUTH
    acct_listen: 127.0.0.1:$P_ACCT
    clients: [{name: nas, address: 127.0.0.1/32, secret: a-long-test-secret}]
  pools: [{name: internet, range: 10.64.0.0/24}]
mail:
  pop3_listen: 127.0.0.1:$P_POP3
  access_ranges: [127.0.0.0/8]
YAML
start_serve "$T/mobix.yaml" "$P_ADMIN" "$T/serve.log" || fail "serve: $(tail -3 "$T/serve.log")"
ADMIN=127.0.0.1:$P_ADMIN
# metric read from another address, so the admin listener's own per-address cap does not count it
m() { curl -fsS --interface 127.0.0.9 "http://$ADMIN/metrics" | awk -v k="$1" '$1 == k {print $2}' | sed 's/^$/0/'; }
refused() { v=$(m "mobix_tcp_refused_total{service=\"$1\",reason=\"$2\"}"); echo "${v:-0}"; }

# hold N idle connections from ADDRESS to PORT for a while; prints how many the server closed at once
hold() {
  /usr/bin/python3 - "$@" <<'PY'
import socket, sys, time
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = []
for _ in range(n):
    s = socket.socket(); s.bind((addr, 0)); s.connect(("127.0.0.1", port)); socks.append(s)
time.sleep(0.5)
closed = 0
for s in socks:
    s.settimeout(0.2)
    try:
        data = s.recv(4096, socket.MSG_PEEK)
        # POP3 greets an admitted connection; a refused one reads EOF (b"")
        closed += data == b""
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed += 1
print(closed)
time.sleep(float(sys.argv[4]) if len(sys.argv) > 4 else 0)
PY
}

# POP3: five idle connections from 127.0.0.2, the cap is three.
before=$(refused pop3 address_full)
closed=$(hold 127.0.0.2 "$P_POP3" 5)
[ "$closed" = 2 ] || fail "per-address cap: $closed of 5 closed, want 2"
after=$(refused pop3 address_full)
[ "$after" = $((before + 2)) ] || fail "address_full not counted: $before -> $after"
grep -q "pop3: connection from 127.0.0.2 refused: address_full" "$T/serve.log" || fail "no log line for the refusal"
pass "per-address cap: the 4th and 5th connection from one address are closed, counted and logged"

# While 127.0.0.2 holds three, 127.0.0.3 is still served: a real client gets its greeting.
hold 127.0.0.2 "$P_POP3" 3 2 >/dev/null &
HOLDER=$!
sleep 0.3
out=$(printf 'QUIT\r\n' | timeout 5 curl -s --interface 127.0.0.3 "telnet://127.0.0.1:$P_POP3" || true)
echo "$out" | grep -q '+OK mobix POP3 proxy ready' || fail "another address was not served: $out"
pass "another address is served while one address sits at its cap"
wait $HOLDER

# Listener cap: three addresses with three connections each: at most six are held.
before=$(refused pop3 listener_full)
total=0 holders=()
for a in 127.0.0.4 127.0.0.5 127.0.0.6; do
  hold $a "$P_POP3" 3 1.5 >$T/held.$a &
  holders+=($!)
done
wait "${holders[@]}"
for a in 127.0.0.4 127.0.0.5 127.0.0.6; do total=$((total + $(cat $T/held.$a))); done
[ "$total" = 3 ] || fail "listener cap: $total of 9 closed, want 3"
after=$(refused pop3 listener_full)
[ "$after" = $((before + 3)) ] || fail "listener_full not counted: $before -> $after"
pass "listener cap: connections past six on one listener are closed and counted"

# The admin listener (Beast HTTP) has the same caps; connections are released when they close.
hold 127.0.0.1 "$P_ADMIN" 3 1 >/dev/null &
HOLDER=$!
sleep 0.3
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$ADMIN/healthz" || true)
[ "$code" = 000 ] || fail "a 4th admin connection from one address got HTTP $code"
wait $HOLDER
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$ADMIN/healthz")
[ "$code" = 200 ] || fail "after the held connections closed, admin answered $code"
[ "$(refused admin address_full)" -ge 1 ] || fail "admin refusal not counted"
pass "admin listener: capped the same way, and slots come back when connections close"
