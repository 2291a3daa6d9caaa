#!/usr/bin/env bash
# Replay-safe accounting (issue 12 item 2), driven by radclient. An attacker in the RADIUS client
# range who captured accounting requests replays them (radclient re-sends the same attributes,
# which the server cannot tell from a verbatim capture: only the identifier differs, and that only
# keys the duplicate cache). Packet-Src-IP-Address makes radclient send from another address in the
# lab's client range (127.0.0.0/16). Each refusal: an Accounting-Response (the NAS stops
# retransmitting), a counter and a log line; the session table does not change.
source "$(dirname "$0")/lib.sh"
start_lab "$T"
refused() { metric "mobix_access_accounting_refused_total{reason=\"$1\"}"; }
holder() { curl -fsS "http://$ADMIN/api/v1/sessions" | jq -r --arg ip "$1" '[.[] | select(.ip == $ip) | .msisdn] | join(",")'; }
# send FILE-CONTENT: one Accounting-Request; fails unless it is answered.
send() { printf '%s\n' "$1" | radclient -q -r 2 -t 2 "$ACCT" acct "$SECRET"; }
IP=127.1.7.7
NOW=$(date +%s)
START_A="Acct-Status-Type = Start
Acct-Session-Id = \"A-1\"
Framed-IP-Address = $IP
Calling-Station-Id = \"31610000001\"
Called-Station-Id = \"internet\"
NAS-Identifier = \"ggsn-a\"
Event-Timestamp = $NOW"
STOP_A="${START_A/Start/Stop}"
START_B="Acct-Status-Type = Start
Acct-Session-Id = \"B-1\"
Framed-IP-Address = $IP
Calling-Station-Id = \"31610000002\"
Called-Station-Id = \"internet\"
NAS-Identifier = \"ggsn-a\"
Event-Timestamp = $((NOW + 1))"

send "$START_A" || fail "Start A"
send "$STOP_A" || fail "Stop A"
send "$START_B" || fail "Start B"
[ "$(holder $IP)" = 31610000002 ] || fail "B does not hold $IP: $(holder $IP)"

# The reproduction: A's captured Start, replayed from another address after A stopped.
before=$(refused ended_session)
send "$START_A
Packet-Src-IP-Address = 127.0.0.9" || fail "the replayed Start was not answered"
[ "$(holder $IP)" = 31610000002 ] || fail "the replayed Start took $IP from B: $(holder $IP)"
[ "$(refused ended_session)" = $((before + 1)) ] || fail "ended_session not counted"
grep -q "Acct-Session-Id A-1 of NAS ggsn-a has ended" $T/lab.log || fail "no log line for the replayed Start"
# Variants: from the original address, and as an Interim-Update (RFC 5080 would take it for a lost Start).
send "$START_A" || fail "replay from the same address not answered"
send "${START_A/Start/Interim-Update}
Packet-Src-IP-Address = 127.0.0.10" || fail "replayed Interim not answered"
[ "$(holder $IP)" = 31610000002 ] || fail "a replay variant took $IP from B: $(holder $IP)"
[ "$(refused ended_session)" = $((before + 3)) ] || fail "replay variants not counted: $(refused ended_session)"
pass "a stopped session's Start (and Interim) replayed from any address is answered but changes nothing (counter, log line)"

# The memory of ended sessions survives kill -9.
kill -9 "$LAB_PID"
wait "$LAB_PID" 2>/dev/null || true
start_lab "$T"
send "$START_A
Packet-Src-IP-Address = 127.0.0.11" || fail "replay after restart not answered"
[ "$(holder $IP)" = 31610000002 ] || fail "after a restart the replay took $IP from B"
[ "$(refused ended_session)" = 1 ] || fail "replay after restart not counted"
pass "after kill -9 and a restart the ended session still cannot start again"

# Event-Timestamp (RFC 2869 5.3) and Acct-Delay-Time (RFC 2866 5.2) older than accounting_max_age (3600 s).
send "Acct-Status-Type = Start
Acct-Session-Id = \"C-1\"
Framed-IP-Address = 127.1.7.8
Calling-Station-Id = \"31610000003\"
NAS-Identifier = \"ggsn-a\"
Event-Timestamp = $((NOW - 7200))" || fail "old Start not answered"
send "Acct-Status-Type = Start
Acct-Session-Id = \"C-2\"
Framed-IP-Address = 127.1.7.8
Calling-Station-Id = \"31610000003\"
NAS-Identifier = \"ggsn-a\"
Acct-Delay-Time = 4000" || fail "delayed Start not answered"
send "Acct-Status-Type = Start
Acct-Session-Id = \"C-3\"
Framed-IP-Address = 127.1.7.8
Calling-Station-Id = \"31610000003\"
NAS-Identifier = \"ggsn-a\"
Event-Timestamp = $((NOW + 3600))" || fail "future Start not answered"
[ -z "$(holder 127.1.7.8)" ] || fail "a stale Start created a session"
[ "$(refused stale_timestamp)" = 2 ] && [ "$(refused stale_delay)" = 1 ] || fail "stale Starts not counted: $(refused stale_timestamp) $(refused stale_delay)"
grep -q "refused as a replay" $T/lab.log || fail "no log line for a stale Start"
pass "Starts older than accounting_max_age (Event-Timestamp, Acct-Delay-Time) or from the future are refused"

# A Start older than the current holder's does not take the address over; a newer one does.
send "Acct-Status-Type = Start
Acct-Session-Id = \"D-1\"
Framed-IP-Address = $IP
Calling-Station-Id = \"31610000004\"
Called-Station-Id = \"internet\"
NAS-Identifier = \"ggsn-b\"
Event-Timestamp = $((NOW - 60))" || fail "older Start not answered"
[ "$(holder $IP)" = 31610000002 ] || fail "an older Start took $IP over"
[ "$(refused older_than_holder)" = 1 ] || fail "older_than_holder not counted"
pass "a Start older than the holder's session does not take its address"

# The NAS is bound to the RADIUS client that started its sessions: a Stop or an Accounting-Off
# naming ggsn-a from another address ends nothing.
send "${START_B/Start/Stop}
Packet-Src-IP-Address = 127.0.0.12" || fail "foreign Stop not answered"
send "Acct-Status-Type = Accounting-Off
NAS-Identifier = \"ggsn-a\"
Event-Timestamp = $NOW
Packet-Src-IP-Address = 127.0.0.12" || fail "foreign Accounting-Off not answered"
[ "$(holder $IP)" = 31610000002 ] || fail "another client ended ggsn-a's session"
[ "$(refused other_client)" = 2 ] || fail "other_client not counted: $(refused other_client)"
grep -q "belongs to RADIUS client 127.0.0.1, not 127.0.0.12" $T/lab.log || fail "no log line for a foreign Stop"
send "Acct-Status-Type = Accounting-Off
NAS-Identifier = \"ggsn-a\"
Event-Timestamp = $NOW" || fail "Accounting-Off not answered"
[ -z "$(holder $IP)" ] || fail "ggsn-a's own Accounting-Off did not end its session"
pass "a Stop or Accounting-Off naming a NAS from another RADIUS client ends nothing; the NAS's own does"
