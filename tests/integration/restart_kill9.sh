#!/usr/bin/env bash
# Durable state: sessions and leases acknowledged before a kill -9 are all there after a
# restart on the same directory; a second `mobix lab` run resumes (no re-seeding).
source "$(dirname "$0")/lib.sh"
start_lab "$T"
ips=()
for m in 31610000001 31610000002 31610000003; do
  ip=$("$MOBIX" sim attach --lab "$T" --msisdn "$m" | tail -1)
  [[ "$ip" == 127.1.* ]] || fail "attach $m printed '$ip'"
  ips+=("$ip")
done
# A burst of accounting right before the kill: every acknowledged change must survive.
for i in $(seq 1 30); do
  acct "$(printf 'Acct-Status-Type = Start\nAcct-Session-Id = "B%s"\nFramed-IP-Address = 127.3.0.%s\nNAS-Identifier = "ggsn-burst"' $i $i)"
done
before=$(curl -fsS "http://$ADMIN/api/v1/sessions" | jq -S '[.[] | {ip, msisdn, apn, nas, acct_session_id, started}] | sort_by(.ip)')
[ "$(echo "$before" | jq length)" = 33 ] || fail "expected 33 sessions before the kill"
subs_before=$(curl -fsS "http://$ADMIN/api/v1/subscribers" | jq -S "[.[] | {id, msisdn, imsi, username, hostname}]")

kill -9 "$LAB_PID"
wait "$LAB_PID" 2>/dev/null || true
start_lab "$T"
after=$(curl -fsS "http://$ADMIN/api/v1/sessions" | jq -S '[.[] | {ip, msisdn, apn, nas, acct_session_id, started}] | sort_by(.ip)')
[ "$before" = "$after" ] || fail "sessions differ after kill -9: $(diff <(echo "$before") <(echo "$after") | head)"
[ "$subs_before" = "$(curl -fsS "http://$ADMIN/api/v1/subscribers" | jq -S "[.[] | {id, msisdn, imsi, username, hostname}]")" ] || fail "subscribers changed (re-seeded?)"
pass "33 sessions and the directory intact after kill -9 and restart"

# Leases survived too: a new subscriber never gets an address that is in use.
curl -fsS -X POST "http://$ADMIN/api/v1/subscribers" --json '{"msisdn":"31610000009","username":"dave","password":"dave-pw-123"}' >/dev/null
out=$(printf 'User-Name = "dave"\nUser-Password = "dave-pw-123"\nCalled-Station-Id = "internet"\nMessage-Authenticator = 0x00\n' |
  radclient -x -r 1 -t 2 "$AUTH" auth "$SECRET")
new_ip=$(echo "$out" | awk '/Framed-IP-Address/ {print $3}')
for ip in "${ips[@]}"; do [ "$new_ip" != "$ip" ] || fail "address $ip handed out twice after restart"; done
pass "persisted leases are not handed out again ($new_ip)"

# The sim's detach still matches the session the restarted server holds.
"$MOBIX" sim detach --lab "$T" --msisdn 31610000001 >/dev/null
[ -z "$(session_ip_of 31610000001)" ] || fail "detach after restart"
pass "detach after restart ends the restored session"

# SIGTERM drains and exits 0. A client holding a kept-alive admin connection (and the mobility
# manager's kept-alive connection to the initiating database) must not hold the drain until the
# grace period ends: idle connections are closed when the node stops.
/usr/bin/python3 - "${ADMIN%:*}" "${ADMIN##*:}" "$T/keepalive.out" <<'PY' &
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
first = s.recv(4096)
open(sys.argv[3], "w").write(first.decode(errors="replace").split("\r\n")[0] + "\n")
s.settimeout(60)
rest = s.recv(4096)  # b"" once the server closes the idle connection
open(sys.argv[3], "a").write("closed\n" if rest == b"" else "more\n")
PY
KEEPALIVE=$!
for _ in $(seq 100); do [ -s "$T/keepalive.out" ] && break; sleep 0.05; done
grep -q "200" "$T/keepalive.out" || fail "kept-alive admin request: $(cat "$T/keepalive.out")"
kill -TERM "$LAB_PID"
wait "$LAB_PID" && pass "SIGTERM: clean exit" || fail "lab exit code $? on SIGTERM"
wait "$KEEPALIVE"
grep -q closed "$T/keepalive.out" || fail "the idle kept-alive connection was not closed: $(cat "$T/keepalive.out")"
grep "grace period over" "$T/lab.log" && fail "the lab did not drain before the grace period ended"
pass "SIGTERM closes idle kept-alive connections; the node drains without waiting out the grace period"
