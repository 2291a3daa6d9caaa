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

# SIGTERM drains and exits 0.
kill -TERM "$LAB_PID"
wait "$LAB_PID" && pass "SIGTERM: clean exit" || fail "lab exit code $? on SIGTERM"
