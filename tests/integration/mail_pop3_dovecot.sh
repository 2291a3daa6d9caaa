#!/usr/bin/env bash
# Seed 000 steps 101-106 against a real Dovecot: two handsets with the same default settings
# each see only their own mailbox; an IP handed to another subscriber serves the new one;
# every error has its reply, counter and log line.
source "$(dirname "$0")/lib.sh"
command -v dovecot >/dev/null || fail "dovecot not installed (scripts/install-deps.sh)"
read -r P_DOVE P_AUTH P_ACCT P_ADMIN P_POP3 P_IMAPD P_IMAP <<<"$(free_ports t u u t t t t)"

# --- Dovecot: alice and bob, one message each ---
D=$T/dovecot
start_dovecot $D $P_DOVE $P_IMAPD "" "" "" "" alice bob || fail "dovecot not serving"
curl -fsS pop3://127.0.0.1:$P_DOVE/1 -u alice:alice-mail-pw | grep -q "Hello alice" || fail "dovecot not serving"

# --- mobix: access + mail ---
{ access_yaml $P_ADMIN $P_AUTH $P_ACCT mail-test-secret; cat <<YAML; } >$T/mobix.yaml
mail:
  pop3_listen: 127.0.0.1:$P_POP3
  imap_listen: 127.0.0.1:$P_IMAP
  access_ranges: [127.1.0.0/16]
  upstream_timeout: 10  # Dovecot delays repeated failed logins from one IP (auth penalty)
  max_failures_per_minute: 50
YAML
start_serve $T/mobix.yaml $P_ADMIN $T/mobix.log || fail "mobix serve did not start"
ADMIN=127.0.0.1:$P_ADMIN
api() { curl -fsS -X "$1" "http://$ADMIN/api/v1/$2" ${3:+--json "$3"}; }
api POST subscribers '{"msisdn":"31610000001","username":"alice","password":"alice-radius-pw","attrs":{"mail.pop3":"127.0.0.1:'$P_DOVE'","mail.imap":"127.0.0.1:'$P_IMAPD'","mail.user":"alice","mail.password":"alice-mail-pw"}}' >/dev/null
api POST subscribers '{"msisdn":"31610000002","username":"bob","password":"bob-radius-pw","attrs":{"mail.pop3":"127.0.0.1:'$P_DOVE'","mail.imap":"127.0.0.1:'$P_IMAPD'","mail.user":"bob","mail.password":"bob-mail-pw"}}' >/dev/null
sim() { "$MOBIX" sim "$1" --auth 127.0.0.1:$P_AUTH --acct 127.0.0.1:$P_ACCT --secret mail-test-secret \
  --state-dir $T/sim --msisdn "$2" ${3:+--username "$3" --password "$4"} | tail -1; }
IP_A=$(sim attach 31610000001 alice alice-radius-pw)
IP_B=$(sim attach 31610000002 bob bob-radius-pw)
[[ $IP_A == 127.1.* && $IP_B == 127.1.* && $IP_A != "$IP_B" ]] || fail "attach gave '$IP_A' '$IP_B'"

# Every handset ships with the same defaults: user "mobile", password "mobile".
handset() { curl -sS --max-time 10 --interface "$1" "pop3://127.0.0.1:$P_POP3/${2-1}" -u mobile:mobile; }
handset "$IP_A" | grep -q "Hello alice" || fail "alice's handset did not get alice's mail"
handset "$IP_B" | grep -q "Hello bob" || fail "bob's handset did not get bob's mail"
handset "$IP_A" | grep -q "Hello bob" && fail "alice saw bob's mail"
list=$(handset "$IP_A" "")
[[ "$list" =~ ^1\ [0-9]+ ]] || fail "LIST through the proxy: $list"
pass "two handsets with identical default settings each see only their own mailbox"
cmp <(curl -sS pop3://127.0.0.1:$P_DOVE/1 -u alice:alice-mail-pw) <(handset "$IP_A") || fail "message not byte-identical"
pass "RETR through the proxy is byte-identical to Dovecot's"

# IMAP: the same logic for today's handsets (login by mobix, then pass-through).
imap() { curl -sS --max-time 10 --interface "$1" "imap://127.0.0.1:$P_IMAP/$2" -u mobile:mobile "${@:3}"; }
imap "$IP_A" 'INBOX;UID=1' | grep -q "Hello alice" || fail "IMAP: alice's message"
imap "$IP_B" 'INBOX;UID=1' | grep -q "Hello bob" || fail "IMAP: bob's message"
imap "$IP_A" INBOX -X 'UID SEARCH ALL' | grep -q "SEARCH 1" || fail "IMAP: a command after login"
# The LOGIN command, with the user name sent as a synchronizing literal (RFC 9051 4.3).
/usr/bin/python3 - "$IP_A" "$P_IMAP" <<'PY' || fail "IMAP LOGIN with a literal"
import socket, sys
s = socket.socket(); s.bind((sys.argv[1], 0)); s.settimeout(5); s.connect(("127.0.0.1", int(sys.argv[2])))
f = s.makefile("rb")
assert f.readline().startswith(b"* OK")
s.sendall(b"a1 LOGIN {6}\r\n"); assert f.readline().startswith(b"+")
s.sendall(b"mobile mobile\r\n"); line = f.readline()
assert line.startswith(b"a1 OK"), line
s.sendall(b"a2 SELECT INBOX\r\n")
while True:
    line = f.readline()
    if line.startswith(b"a2 "): break
assert line.startswith(b"a2 OK"), line
PY
out=$(curl -sS -v --max-time 10 --interface 127.1.0.99 "imap://127.0.0.1:$P_IMAP/INBOX" -u mobile:mobile 2>&1 || true)
echo "$out" | grep -q "NO \[AUTHENTICATIONFAILED\] no mobile session" || fail "IMAP no-session reply: $out"
cmp <(curl -sS "imap://127.0.0.1:$P_IMAPD/INBOX;UID=1" -u alice:alice-mail-pw) <(imap "$IP_A" 'INBOX;UID=1') || fail "IMAP bytes differ"
pass "IMAP: each handset reads its own mailbox through the proxy; no session -> NO [AUTHENTICATIONFAILED]"

# A logged-in IMAP session from alice's address, idle while her access session ends: it must close
# then (issue 12 item 6), not stay open into whoever holds the address next.
/usr/bin/python3 - "$IP_A" "$P_IMAP" >$T/held.out 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(); s.bind((sys.argv[1], 0)); s.connect(("127.0.0.1", int(sys.argv[2]))); s.settimeout(15)
f = s.makefile("rb")
f.readline()
s.sendall(b"a LOGIN mobile mobile\r\n")
while not f.readline().startswith(b"a OK"):
    pass
print("logged-in", flush=True)
start = time.time()
try:
    data = s.recv(4096)
    print("closed" if data == b"" else "data %r" % data)
except (socket.timeout, ConnectionResetError) as e:
    print("still-open" if isinstance(e, socket.timeout) else "closed")
PY
HELD=$!
for _ in $(seq 50); do grep -q logged-in $T/held.out && break; sleep 0.1; done
grep -q logged-in $T/held.out || fail "the held IMAP session did not log in: $(cat $T/held.out)"
before=$(curl -fsS "http://$ADMIN/metrics" | awk '$1 == "mobix_mail_connections_closed_on_detach_total" {print $2}')

# The IP moves to bob (Stop for alice, Start for bob on the same address): bob's mail, never alice's.
"$MOBIX" sim detach --acct 127.0.0.1:$P_ACCT --secret mail-test-secret --state-dir $T/sim --msisdn 31610000001 >/dev/null
printf 'Acct-Status-Type = Start\nAcct-Session-Id = "move1"\nFramed-IP-Address = %s\nCalling-Station-Id = "31610000002"\nUser-Name = "bob"\n' "$IP_A" |
  radclient -q -r 2 -t 2 127.0.0.1:$P_ACCT acct mail-test-secret
out=$(handset "$IP_A")
echo "$out" | grep -q "Hello bob" || fail "reassigned IP did not serve the new subscriber"
echo "$out" | grep -q "Hello alice" && fail "reassigned IP served the old subscriber's mail"
pass "an IP reassigned after Stop/Start serves the new subscriber only"
wait $HELD
grep -q '^closed' $T/held.out || fail "alice's IMAP session outlived her access session: $(cat $T/held.out)"
after=$(curl -fsS "http://$ADMIN/metrics" | awk '$1 == "mobix_mail_connections_closed_on_detach_total" {print $2}')
[ "${after:-0}" -gt "${before:-0}" ] || fail "the close on detach was not counted: ${before:-0} -> ${after:-0}"
grep -q "mail: 1 connection(s) from $IP_A closed: its session ended (stop)" $T/mobix.log || fail "no log line for the close on detach"
pass "a logged-in IMAP session closes when its access session ends (counter, log line)"

# Errors: each with its reply text and counter.
err() { curl -sS -v --max-time 10 --interface "$1" "pop3://127.0.0.1:$P_POP3/1" -u mobile:mobile 2>&1 | grep -- "< -ERR" | head -1 || true; }
ierr() { curl -sS -v --max-time 10 --interface "$1" "imap://127.0.0.1:$P_IMAP/INBOX" -u mobile:mobile 2>&1 | grep -E -- "< (\* BYE|[A-Z0-9]+ NO)" | head -1 || true; }
e=$(err 127.1.0.99)   # in the access range, but no session
echo "$e" | grep -q "\[AUTH\] no mobile session" || fail "no-session reply: $e"
e=$(err 127.0.0.1)    # outside the access ranges
echo "$e" | grep -q "\[AUTH\] this service is only for handsets" || fail "outside-range reply: $e"
ierr 127.0.0.1 | grep -q "BYE \[UNAVAILABLE\] this service is only for handsets" || fail "IMAP outside-range reply"
api PATCH subscribers/bob '{"attrs":{"mail.password":"wrong"}}' >/dev/null
ierr "$IP_B" | grep -q "NO \[CONTACTADMIN\].*needs attention" || fail "IMAP rejected-credentials reply"
e=$(err "$IP_B")
echo "$e" | grep -q "\[SYS/PERM\].*needs attention" || fail "rejected-credentials reply: $e"
grep -q "rejected the stored credentials of msisdn 31610000002" $T/mobix.log || fail "no log line naming the subscriber"
grep -q "wrong" $T/mobix.log && fail "a password reached the log"
api PATCH subscribers/bob '{"attrs":{"mail.password":"bob-mail-pw","mail.pop3":"127.0.0.1:1","mail.imap":"127.0.0.1:1"}}' >/dev/null
ierr "$IP_B" | grep -q "NO \[UNAVAILABLE\]" || fail "IMAP unreachable-upstream reply"
e=$(err "$IP_B")
echo "$e" | grep -q "\[SYS/TEMP\]" || fail "unreachable-upstream reply: $e"
api PATCH subscribers/bob '{"attrs":{"mail.pop3":null}}' >/dev/null
e=$(err "$IP_B")
echo "$e" | grep -q "no mail account" || fail "no-account reply: $e"
for r in outside_access_range upstream_rejected_credentials upstream_unreachable; do
  [ "$(metric "mobix_mail_imap_failures_total{reason=\"$r\"}")" -ge 1 ] || fail "IMAP counter $r"
done
# Malformed and over-long command lines: a clear error, counted; the connection survives the first.
/usr/bin/python3 - "$IP_A" "$P_POP3" "$P_IMAP" <<'PY' || fail "malformed/over-long commands"
import socket, sys
def conn(port):
    s = socket.socket(); s.bind((sys.argv[1], 0)); s.settimeout(5); s.connect(("127.0.0.1", int(port)))
    f = s.makefile("rb"); f.readline(); return s, f
s, f = conn(sys.argv[2])
s.sendall(b"US3R x\r\n"); assert f.readline().startswith(b"-ERR malformed"), "pop3 bad command"
s.sendall(b"NOOP\r\n"); assert f.readline().startswith(b"+OK"), "pop3 survives a bad command"
s.sendall(b"USER " + b"x" * 2000 + b"\r\n"); assert f.readline().startswith(b"-ERR line too long"), "pop3 long line"
s, f = conn(sys.argv[3])
s.sendall(b"bad+tag NOOP\r\n"); assert f.readline().startswith(b"* BAD"), "imap bad command"
s.sendall(b"a LOGIN {999999}\r\n"); assert f.readline().startswith(b"* BYE"), "imap oversized literal"
PY
[ "$(metric 'mobix_mail_pop3_failures_total{reason="bad_command"}')" -ge 1 ] || fail "pop3 bad_command counter"
[ "$(metric 'mobix_mail_pop3_failures_total{reason="line_too_long"}')" -ge 1 ] || fail "pop3 line_too_long counter"
[ "$(metric 'mobix_mail_imap_failures_total{reason="bad_command"}')" -ge 2 ] || fail "imap bad_command counter"
grep -q "pop3 #[0-9]*: $IP_A: bad_command" $T/mobix.log || fail "no log line for the POP3 bad command"
grep -q "pop3 #[0-9]*: $IP_A: line_too_long" $T/mobix.log || fail "no log line for the POP3 long line"
grep -q "imap #[0-9]*: $IP_A: bad_command" $T/mobix.log || fail "no log line for the IMAP bad command"
for r in no_session outside_access_range upstream_rejected_credentials upstream_unreachable no_mail_account; do
  [ "$(metric "mobix_mail_pop3_failures_total{reason=\"$r\"}")" -ge 1 ] || fail "counter $r"
done
pass "no session, outside range, rejected credentials, dead upstream, no account, malformed and long lines: replies, counters, log lines (POP3 and IMAP)"

# Rate limit: an address with too many failures is refused, on POP3 and on IMAP (each listener
# keeps its own count): reply, counter (by its change) and log line.
before=$(metric 'mobix_mail_pop3_failures_total{reason="rate_limited"}')
for _ in $(seq 50); do err 127.1.0.98 >/dev/null; done
e=$(err 127.1.0.98)
echo "$e" | grep -q "too many failed logins" || fail "rate limit: $e"
[ "$(metric 'mobix_mail_pop3_failures_total{reason="rate_limited"}')" -gt "$before" ] || fail "pop3 rate_limited not counted ($before -> $(metric 'mobix_mail_pop3_failures_total{reason="rate_limited"}')): $(curl -fsS "http://$ADMIN/metrics" | grep rate_limited)"
grep -q "pop3 #[0-9]*: 127.1.0.98 is over its failed-login limit: refused" $T/mobix.log || fail "no pop3 rate-limit log line"
before=$(metric 'mobix_mail_imap_failures_total{reason="rate_limited"}')
for _ in $(seq 50); do ierr 127.1.0.97 >/dev/null; done
e=$(ierr 127.1.0.97)
echo "$e" | grep -q "BYE \[UNAVAILABLE\] too many failed logins" || fail "imap rate limit: $e"
[ "$(metric 'mobix_mail_imap_failures_total{reason="rate_limited"}')" -gt "$before" ] || fail "imap rate_limited not counted"
grep -q "imap #[0-9]*: 127.1.0.97 is over its failed-login limit: refused" $T/mobix.log || fail "no imap rate-limit log line"
pass "failed logins per IP are rate limited on POP3 and IMAP (reply, counter, log line)"
