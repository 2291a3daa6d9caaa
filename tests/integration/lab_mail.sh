#!/usr/bin/env bash
# The README's mail walk-through in the lab: alice's handset sends to bob with the default
# settings every handset ships with; bob's handset fetches it; the sender is alice by name.
source "$(dirname "$0")/lib.sh"
start_lab "$T"
jq -e '.endpoints["mail.pop3"] and .endpoints["mail.smtp"] and .handset_defaults.user' "$T/lab.json" >/dev/null ||
  fail "lab.json lacks the mail endpoints or handset defaults"
jq -e '.subscribers[] | select(.msisdn == "31610000002") | .email == "bob@mail.mobix.test"' "$T/lab.json" >/dev/null || fail "email"
POP3=$(jq -r '.endpoints["mail.pop3"] | "\(.host):\(.port)"' "$T/lab.json")
SMTP=$(jq -r '.endpoints["mail.smtp"] | "\(.host):\(.port)"' "$T/lab.json")
U=$(jq -r .handset_defaults.user "$T/lab.json"); P=$(jq -r .handset_defaults.password "$T/lab.json")
S=$(jq -r .handset_defaults.sender "$T/lab.json")
A=$("$MOBIX" sim attach --lab "$T" --msisdn 31610000001 | tail -1)
B=$("$MOBIX" sim attach --lab "$T" --msisdn 31610000002 | tail -1)
printf 'From: Me <%s>\r\nTo: bob@mail.mobix.test\r\nSubject: lab round trip\r\n\r\nHi Bob, greetings from the lab.\r\n' "$S" >$T/msg.eml
curl -sS --interface "$A" "smtp://$SMTP" --mail-from "$S" --mail-rcpt bob@mail.mobix.test --upload-file $T/msg.eml -u "$U:$P" ||
  fail "alice's handset could not send"
for _ in $(seq 50); do
  list=$(curl -sS --interface "$B" "pop3://$POP3/" -u "$U:$P" || true)
  [ -n "$list" ] && break
  sleep 0.1
done
msg=$(curl -sS --interface "$B" "pop3://$POP3/1" -u "$U:$P") || fail "bob's handset could not fetch"
echo "$msg" | grep -q "Hi Bob, greetings from the lab." || fail "message not in bob's mailbox: $msg"
echo "$msg" | grep -q "^From: =?UTF-8?B?QWxpY2Ugw4VuZ3N0csO2bQ==?= <alice@mail.mobix.test>" || fail "From: $msg"
IMAP=$(jq -r '.endpoints["mail.imap"] | "\(.host):\(.port)"' "$T/lab.json")
curl -sS --interface "$B" "imap://$IMAP/INBOX;UID=1" -u "$U:$P" | grep -q "Hi Bob, greetings from the lab." ||
  fail "bob's handset could not read it over IMAP"
al=$(curl -sS --interface "$A" "pop3://$POP3/" -u "$U:$P")
[ -z "$(echo "$al" | tr -d "[:space:]")" ] || fail "alice's mailbox should be empty: $al"
pass "lab: alice's handset sends to bob with the default settings; bob's handset fetches it, From: Alice"

# Lab hygiene (issue 12 item 8): the demo SMTP server reads its users from a 0600 file, so no mail
# password shows on a command line.
pid=$(pgrep -f "$T/mail/smtp_server.py" | head -1)
[ -n "$pid" ] || fail "the demo SMTP server is not running"
args=$(tr '\0' ' ' </proc/$pid/cmdline)
echo "$args" | grep -q ':' && fail "credentials on the demo SMTP server's command line: $args"
[ "$(stat -c %a "$T/mail/smtp_users")" = 600 ] || fail "smtp_users is not 0600"
pass "the demo SMTP server's credentials are in a 0600 file, not on its command line"

# The lab's SIGTERM stops its demo Dovecot too (issue 12 item 8: it used to outlive the lab).
dpid=$(cat "$T/mail/run/master.pid")
kill -TERM "$LAB_PID"
wait "$LAB_PID" 2>/dev/null || true
for _ in $(seq 50); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$dpid" 2>/dev/null && fail "Dovecot ($dpid) outlived the lab"
pass "stopping the lab stops its Dovecot"
