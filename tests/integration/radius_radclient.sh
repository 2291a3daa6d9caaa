#!/usr/bin/env bash
# The access role driven by radclient (FreeRADIUS's client): PAP, CHAP, rejects, BlastRADIUS
# protection, wrong secrets, accounting rules (takeover, stale Stop, Accounting-On).
source "$(dirname "$0")/lib.sh"
start_lab "$T"
A_PW=$(sub_field "$T" 31610000001 password)

# PAP with Message-Authenticator -> Access-Accept with a pool address.
out=$(printf 'User-Name = "alice"\nUser-Password = "%s"\nCalling-Station-Id = "31610000001"\nCalled-Station-Id = "internet"\nMessage-Authenticator = 0x00\n' "$A_PW" |
  radclient -x -r 1 -t 2 "$AUTH" auth "$SECRET") || fail "PAP accept: $out"
echo "$out" | grep -q "Access-Accept" || fail "no Access-Accept: $out"
ip=$(echo "$out" | awk '/Framed-IP-Address/ {print $3}')
[[ "$ip" == 127.1.* ]] || fail "Framed-IP-Address $ip not from the internet pool"
pass "PAP Access-Accept with Framed-IP-Address $ip"

# The same subscriber asking again keeps its address (lease is persisted and sticky).
out=$(printf 'User-Name = "alice"\nUser-Password = "%s"\nCalled-Station-Id = "internet"\nMessage-Authenticator = 0x00\n' "$A_PW" |
  radclient -x -r 1 -t 2 "$AUTH" auth "$SECRET")
[ "$(echo "$out" | awk '/Framed-IP-Address/ {print $3}')" = "$ip" ] || fail "re-auth got another address"
pass "re-authentication keeps the leased address"

# CHAP (radclient computes the CHAP response from the clear password).
out=$(printf 'User-Name = "alice"\nCHAP-Password = "%s"\nCalled-Station-Id = "internet"\nMessage-Authenticator = 0x00\n' "$A_PW" |
  radclient -x -r 1 -t 2 "$AUTH" auth "$SECRET") || fail "CHAP: $out"
echo "$out" | grep -q "Access-Accept" || fail "CHAP not accepted: $out"
pass "CHAP Access-Accept"

# Wrong password and unknown subscriber -> Access-Reject with a Reply-Message, counted by reason.
rejects() { metric "mobix_radius_access_rejects_total{reason=\"$1\"}"; }
bad_before=$(rejects bad_password); unknown_before=$(rejects unknown_subscriber)
out=$(printf 'User-Name = "alice"\nUser-Password = "wrong"\nMessage-Authenticator = 0x00\n' |
  radclient -x -r 1 -t 2 "$AUTH" auth "$SECRET" || true)
echo "$out" | grep -q "Access-Reject" || fail "wrong password not rejected: $out"
echo "$out" | grep -q 'Reply-Message = "authentication failed"' || fail "no Reply-Message: $out"
out=$(printf 'User-Name = "mallory"\nUser-Password = "x"\nMessage-Authenticator = 0x00\n' |
  radclient -x -r 1 -t 2 "$AUTH" auth "$SECRET" || true)
echo "$out" | grep -q 'Reply-Message = "unknown subscriber"' || fail "unknown subscriber: $out"
[ "$(rejects bad_password)" = $((bad_before + 1)) ] && [ "$(rejects unknown_subscriber)" = $((unknown_before + 1)) ] ||
  fail "rejects not counted by reason: $(rejects bad_password) $(rejects unknown_subscriber)"
grep -q "mallory" $T/lab.log || fail "no log line for the reject of an unknown subscriber"
pass "Access-Reject with Reply-Message for a wrong password and an unknown subscriber"

# BlastRADIUS (CVE-2024-3596): no Message-Authenticator -> dropped, counted.
before=$(metric 'mobix_radius_dropped_total{listener="auth",reason="missing_message_authenticator"}')
if printf 'User-Name = "alice"\nUser-Password = "%s"\n' "$A_PW" | radclient -r 1 -t 1 "$AUTH" auth "$SECRET" >/dev/null 2>&1; then
  fail "request without Message-Authenticator was answered"
fi
after=$(metric 'mobix_radius_dropped_total{listener="auth",reason="missing_message_authenticator"}')
[ "$after" -gt "$before" ] || fail "missing Message-Authenticator not counted"
pass "Access-Request without Message-Authenticator dropped and counted"

# Wrong shared secret -> Message-Authenticator invalid -> dropped, counted.
if printf 'User-Name = "alice"\nUser-Password = "%s"\nMessage-Authenticator = 0x00\n' "$A_PW" |
  radclient -r 1 -t 1 "$AUTH" auth not-the-secret >/dev/null 2>&1; then
  fail "request with a wrong secret was answered"
fi
[ "$(metric 'mobix_radius_dropped_total{listener="auth",reason="bad_message_authenticator"}')" -ge 1 ] || fail "bad MA not counted"
if acct_wrong=$(printf 'Acct-Status-Type = Start\nAcct-Session-Id = "w1"\nFramed-IP-Address = 127.1.9.9\n' |
  radclient -r 1 -t 1 "$ACCT" acct not-the-secret 2>&1); then fail "accounting with a wrong secret answered"; fi
[ "$(metric 'mobix_radius_dropped_total{listener="acct",reason="bad_authenticator"}')" -ge 1 ] || fail "bad acct authenticator not counted"
[ "$(session_count)" = 0 ] || fail "a session was created from a forged request"
pass "wrong shared secret dropped on auth and acct, nothing created"

# Accounting Start -> session visible with identity, NAS and APN.
acct "$(printf 'Acct-Status-Type = Start\nAcct-Session-Id = "S1"\nFramed-IP-Address = %s\nCalling-Station-Id = "+31610000001"\nCalled-Station-Id = "internet"\nNAS-Identifier = "ggsn-a"\nUser-Name = "alice"' "$ip")" || fail "Start not acknowledged"
s=$(curl -fsS "http://$ADMIN/api/v1/sessions/$ip")
[ "$(echo "$s" | jq -r .msisdn)" = 31610000001 ] || fail "session msisdn: $s"
[ "$(echo "$s" | jq -r .nas)" = ggsn-a ] || fail "session nas: $s"
[ "$(echo "$s" | jq -r .apn)" = internet ] || fail "session apn: $s"
pass "Accounting-Start creates the session ($ip -> 31610000001)"

# IP takeover: a Start from another subscriber for the same IP ends the first session.
acct "$(printf 'Acct-Status-Type = Start\nAcct-Session-Id = "S2"\nFramed-IP-Address = %s\nCalling-Station-Id = "31610000002"\nCalled-Station-Id = "internet"\nNAS-Identifier = "ggsn-a"' "$ip")"
[ "$(session_ip_of 31610000002)" = "$ip" ] || fail "takeover: new holder missing"
[ -z "$(session_ip_of 31610000001)" ] || fail "takeover: old holder still present"
pass "Start for a held IP takes it over"

# Stop with a stale Acct-Session-Id changes nothing (but is acknowledged).
acct "$(printf 'Acct-Status-Type = Stop\nAcct-Session-Id = "S1"\nFramed-IP-Address = %s\nCalled-Station-Id = "internet"\nNAS-Identifier = "ggsn-a"' "$ip")" || fail "stale Stop not acknowledged"
[ "$(session_ip_of 31610000002)" = "$ip" ] || fail "stale Stop ended the current session"
pass "stale Stop is acknowledged and ignored"

# Interim-Update, then the matching Stop ends the session.
acct "$(printf 'Acct-Status-Type = Interim-Update\nAcct-Session-Id = "S2"\nFramed-IP-Address = %s\nCalled-Station-Id = "internet"\nNAS-Identifier = "ggsn-a"' "$ip")"
acct "$(printf 'Acct-Status-Type = Stop\nAcct-Session-Id = "S2"\nFramed-IP-Address = %s\nCalled-Station-Id = "internet"\nNAS-Identifier = "ggsn-a"' "$ip")"
[ -z "$(session_ip_of 31610000002)" ] || fail "matching Stop did not end the session"
pass "matching Stop ends the session"

# Accounting-On from a NAS ends every session of that NAS, and only those.
for n in 1 2; do
  acct "$(printf 'Acct-Status-Type = Start\nAcct-Session-Id = "N%s"\nFramed-IP-Address = 127.2.0.%s\nCalling-Station-Id = "3161000000%s"\nNAS-Identifier = "ggsn-b"' $n $((20+n)) $n)"
done
acct "$(printf 'Acct-Status-Type = Start\nAcct-Session-Id = "N3"\nFramed-IP-Address = 127.2.0.23\nCalling-Station-Id = "31610000003"\nNAS-Identifier = "ggsn-c"')"
[ "$(session_count)" = 3 ] || fail "expected 3 sessions before Accounting-On"
acct "$(printf 'Acct-Status-Type = Accounting-On\nNAS-Identifier = "ggsn-b"')"
[ "$(session_count)" = 1 ] || fail "Accounting-On left $(session_count) sessions"
[ "$(session_ip_of 31610000003)" = 127.2.0.23 ] || fail "Accounting-On ended another NAS's session"
pass "Accounting-On ends every session of that NAS only"

# IPv6 delegated prefix: an address inside it finds the session.
acct "$(printf 'Acct-Status-Type = Start\nAcct-Session-Id = "V6"\nFramed-IPv6-Prefix = 2001:db8:77::/64\nCalling-Station-Id = "31610000002"\nNAS-Identifier = "ggsn-c"')"
s=$(curl -fsS "http://$ADMIN/api/v1/sessions?ip=2001:db8:77::abcd")
[ "$(echo "$s" | jq -r .msisdn)" = 31610000002 ] || fail "IPv6 prefix lookup: $s"
pass "Framed-IPv6-Prefix session found by an address inside the prefix"
