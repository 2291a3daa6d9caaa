#!/usr/bin/env bash
# Seed 000 steps 201-207 against a real SMTP server with AUTH (aiosmtpd): the handset sends
# with default settings; the message arrives from the subscriber's authenticated account with
# the rewritten envelope sender and From: (full name, non-ASCII too), body byte for byte.
# Never an open relay.
source "$(dirname "$0")/lib.sh"
read -r P_UP P_AUTH P_ACCT P_ADMIN P_SMTP <<<"$(free_ports t u u t t)"
mkdir -p $T/maildir/{tmp,new,cur}
/usr/bin/python3 "$(dirname "$0")/smtp_upstream.py" 127.0.0.1 $P_UP $T/maildir alice:alice-smtp-pw bob:bob-smtp-pw >$T/up.log 2>&1 &
PIDS+=($!)
{ access_yaml $P_ADMIN $P_AUTH $P_ACCT mail-test-secret; cat <<YAML; } >$T/mobix.yaml
mail:
  smtp_listen: 127.0.0.1:$P_SMTP
  access_ranges: [127.1.0.0/16]
  upstream_timeout: 3
  max_message_size: 25000000
YAML
start_serve $T/mobix.yaml $P_ADMIN $T/mobix.log || fail "mobix serve did not start"
for _ in $(seq 100); do grep -q listening $T/up.log && break; sleep 0.05; done
ADMIN=127.0.0.1:$P_ADMIN
api() { curl -fsS -X "$1" "http://$ADMIN/api/v1/$2" ${3:+--json "$3"}; }
api POST subscribers '{"msisdn":"31610000001","username":"alice","password":"alice-radius-pw","attrs":{"mail.smtp":"127.0.0.1:'$P_UP'","mail.smtp_user":"alice","mail.smtp_password":"alice-smtp-pw","mail.address":"alice@mail.test","mail.name":"Alice Ångström"}}' >/dev/null
api POST subscribers '{"msisdn":"31610000002","username":"bob","password":"bob-radius-pw","attrs":{"mail.smtp":"127.0.0.1:'$P_UP'","mail.smtp_user":"bob","mail.smtp_password":"bob-smtp-pw","mail.address":"bob@mail.test","mail.name":"Bob Example"}}' >/dev/null
sim() { "$MOBIX" sim attach --auth 127.0.0.1:$P_AUTH --acct 127.0.0.1:$P_ACCT --secret mail-test-secret \
  --state-dir $T/sim --msisdn "$1" --username "$2" --password "$3" | tail -1; }
IP_A=$(sim 31610000001 alice alice-radius-pw)
IP_B=$(sim 31610000002 bob bob-radius-pw)

# The handset's message, with the default sender every handset ships with.
printf 'From: Mobile User <user@default.invalid>\r\nTo: bob@mail.test\r\nSubject: hello from the train\r\nX-Custom: keep me\r\n\r\nBody line 1\r\n..leading dot line\r\nBody line 3 with \xc3\xa9\r\n' >$T/msg.eml
send() { curl -sS --max-time 10 --interface "$1" "smtp://127.0.0.1:$P_SMTP" --mail-from user@default.invalid \
  --mail-rcpt "$2" --upload-file "$3" -u mobile:mobile "${@:4}"; }
send "$IP_A" bob@mail.test $T/msg.eml || fail "send from alice's handset"
sleep 0.3
f=$(ls $T/maildir/new/* | head -1)
[ -n "$f" ] || fail "nothing arrived upstream"
grep -q "^X-Authenticated-User: alice" "$f" || fail "not sent from alice's account: $(head -5 "$f")"
grep -q "^X-MailFrom: alice@mail.test" "$f" || fail "envelope sender not rewritten: $(grep X-MailFrom "$f")"
grep -q "^X-RcptTo: bob@mail.test" "$f" || fail "recipient"
grep -q '^From: =?UTF-8?B?QWxpY2Ugw4VuZ3N0csO2bQ==?= <alice@mail.test>' "$f" || fail "From: not rewritten: $(grep ^From: "$f")"
grep -q "default.invalid" "$f" && fail "the default sender leaked"
# Everything after the From: line is what the handset sent (aiosmtpd adds its X-Peer,
# X-MailFrom and X-RcptTo headers, which are left out of the comparison).
sed -n '/^Subject:/,$p' "$T/msg.eml" | sed 's/\r$//' >$T/expect
sed -n '/^Subject:/,$p' "$f" | sed 's/\r$//' | grep -v -E '^X-(Peer|MailFrom|RcptTo):' >$T/got
diff $T/expect $T/got || fail "other headers or body changed"
pass "sent mail arrives from alice's account, envelope and From: rewritten (RFC 2047 name), rest unchanged"

rm -f $T/maildir/new/*
printf 'Subject: no from header\r\n\r\nhi\r\n' >$T/nofrom.eml
send "$IP_B" alice@mail.test $T/nofrom.eml || fail "send from bob"
sleep 0.3
f=$(ls $T/maildir/new/* | head -1)
grep -q '^From: "Bob Example" <bob@mail.test>' "$f" || fail "From: not added for bob"
grep -q "^X-Authenticated-User: bob" "$f" || fail "bob's account"
pass "a message without From: gets the subscriber's; each handset sends from its own account"

# Never an open relay: no session -> 5.7.1 at MAIL FROM; outside the ranges -> 554.
out=$(send 127.1.0.99 bob@mail.test $T/msg.eml -v 2>&1 || true)
echo "$out" | grep -q "< 550 5.7.1 no mobile session" || fail "no-session: $out"
out=$(curl -sS -v --max-time 5 smtp://127.0.0.1:$P_SMTP --mail-from a@b --mail-rcpt c@d --upload-file $T/msg.eml 2>&1 || true)
echo "$out" | grep -q "554 5.7.1" || fail "outside-range: $out"
pass "no session -> 550 5.7.1; outside the access ranges -> 554 5.7.1"

# A command that is not SMTP, and an over-long line: the reply, the counter (by its change) and a
# log line; the connection survives the first.
fails() { metric "mobix_mail_smtp_failures_total{reason=\"$1\"}"; }
bad=$(fails bad_command) long=$(fails line_too_long)
/usr/bin/python3 - "$IP_A" "$P_SMTP" <<'PY' || fail "SMTP syntax error and long line"
import socket, sys
s = socket.socket(); s.bind((sys.argv[1], 0)); s.settimeout(5); s.connect(("127.0.0.1", int(sys.argv[2])))
f = s.makefile("rb"); assert f.readline().startswith(b"220"), "greeting"
s.sendall(b"!!! what\r\n"); r = f.readline(); assert r.startswith(b"500 5.5.2 syntax error"), r
s.sendall(b"NOOP\r\n"); r = f.readline(); assert r.startswith(b"250"), r
s.sendall(b"HELO " + b"x" * 5000 + b"\r\n"); r = f.readline(); assert r.startswith(b"500 5.5.2 line too long"), r
PY
[ "$(fails bad_command)" = $((bad + 1)) ] || fail "bad_command not counted"
[ "$(fails line_too_long)" = $((long + 1)) ] || fail "line_too_long not counted"
grep -q "smtp #[0-9]*: $IP_A: bad_command" $T/mobix.log || fail "no log line for the syntax error"
grep -q "smtp #[0-9]*: $IP_A: line_too_long" $T/mobix.log || fail "no log line for the long line"
pass "a syntax error (500 5.5.2, the connection survives) and an over-long line: replied, counted, logged"

# An address over its failure limit (10 a minute) is refused at the greeting: 421, counted, logged.
limited=$(fails rate_limited)
for _ in $(seq 12); do send 127.1.0.96 bob@mail.test $T/msg.eml >/dev/null 2>&1 || true; done
out=$(send 127.1.0.96 bob@mail.test $T/msg.eml -v 2>&1 || true)
echo "$out" | grep -q "< 421 4.7.0 too many failed attempts" || fail "rate limit: $(echo "$out" | grep '^<' | head -3)"
[ "$(fails rate_limited)" -gt "$limited" ] || fail "rate_limited not counted"
grep -q "smtp #[0-9]*: 127.1.0.96 is over its failed-login limit: refused" $T/mobix.log || fail "no log line for the rate limit"
pass "an address over its failure limit: 421 4.7.0 at the greeting, counted and logged"

# Upstream rejects the stored credentials; upstream down; message too big.
api PATCH subscribers/alice '{"attrs":{"mail.smtp_password":"wrong"}}' >/dev/null
out=$(send "$IP_A" bob@mail.test $T/msg.eml -v 2>&1 || true)
echo "$out" | grep -q "< 554 5.7.8 .*needs attention" || fail "rejected credentials: $out"
grep -q "rejected the stored credentials of msisdn 31610000001" $T/mobix.log || fail "log line"
grep -q "wrong\|alice-smtp-pw" $T/mobix.log && fail "a password was logged"
api PATCH subscribers/alice '{"attrs":{"mail.smtp_password":"alice-smtp-pw","mail.smtp":"127.0.0.1:1"}}' >/dev/null
out=$(send "$IP_A" bob@mail.test $T/msg.eml -v 2>&1 || true)
echo "$out" | grep -q "< 451 4.4.1" || fail "dead upstream: $out"
api PATCH subscribers/alice '{"attrs":{"mail.smtp":"127.0.0.1:'$P_UP'"}}' >/dev/null
# Over the size limit: refused, and the part already streamed upstream is never delivered (the
# upstream connection is dropped before the final "."). A header section without end is refused too.
delivered=$(ls $T/maildir/new | wc -l)
fails() { metric "mobix_mail_smtp_failures_total{reason=\"$1\"}"; }
too_big=$(fails message_too_big) header_too_big=$(fails header_too_big)
head -c 26000000 /dev/zero | tr '\0' 'x' | fold -w 900 | sed 's/$/\r/' | sed '1i Subject: big\r\n\r' >$T/big.eml
out=$(send "$IP_A" bob@mail.test $T/big.eml -v --max-time 120 2>&1 || true) # 26 MB: slow under ASan on a busy machine
echo "$out" | grep -q "< 552 5.3.4 message exceeds" || fail "size limit: $(echo "$out" | grep '^<' | tail -3)"
[ "$(fails message_too_big)" = $((too_big + 1)) ] || fail "message_too_big not counted"
grep -q "sent a message over 25000000 octets: refused" $T/mobix.log || fail "no log line for the size limit"
head -c 400000 /dev/zero | tr '\0' 'h' | fold -w 900 | sed 's/^/X-Filler: /; s/$/\r/' >$T/headers.eml
out=$(send "$IP_A" bob@mail.test $T/headers.eml -v --max-time 60 2>&1 || true)
echo "$out" | grep -q "< 552 5.3.4 the message's header section is too large" || fail "header cap: $(echo "$out" | grep '^<' | tail -3)"
[ "$(fails header_too_big)" = $((header_too_big + 1)) ] || fail "header_too_big not counted"
grep -q "sent a header section over 262144 octets: refused" $T/mobix.log || fail "no log line for the header cap"
sleep 0.3
[ "$(ls $T/maildir/new | wc -l)" = "$delivered" ] || fail "a refused message (or part of it) was delivered"
send "$IP_A" bob@mail.test $T/msg.eml || fail "the proxy stopped working after the errors"
pass "rejected credentials (5.7.8, logged without secrets), dead upstream (4.4.1), size limit (5.3.4, counted, logged, nothing delivered)"

# DATA streams (issue 12 item 4): four 20 MB messages at once cost the proxy a bounded buffer each,
# not the message (buffered whole, this was +130 MB).
rm -f $T/maildir/new/*
head -c 20000000 /dev/zero | tr '\0' 'y' | fold -w 900 | sed 's/$/\r/' | sed '1i Subject: large\r\n\r' >$T/large.eml
PID=$(pgrep -f "serve --config $T/mobix.yaml") || fail "no mobix process to measure"
rss() { awk '/VmRSS/ {print $2}' /proc/$PID/status; }
rss_before=$(rss) peak=0
senders=()
for i in 1 2 3 4; do
  send "$IP_A" bob@mail.test $T/large.eml --limit-rate 40M --max-time 300 -v >$T/large$i.out 2>&1 &
  senders+=($!)
done
running() { for p in "${senders[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
while running; do r=$(rss); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.05; done
for p in "${senders[@]}"; do wait "$p" || fail "sending a large message failed: $(tail -2 $T/large1.out)"; done
[ "${rss_before:-0}" -gt 1000 ] && [ "$peak" -ge "$rss_before" ] || fail "RSS not measured (pid $PID: $rss_before, $peak)"
growth=$(( (peak - rss_before) / 1024 ))
for _ in $(seq 100); do [ "$(ls $T/maildir/new | wc -l)" = 4 ] && break; sleep 0.1; done
[ "$(ls $T/maildir/new | wc -l)" = 4 ] || fail "$(ls $T/maildir/new | wc -l) of the 4 large messages arrived: $(cat $T/large1.out)"
for f in $T/maildir/new/*; do
  [ "$(grep -c '^yyyy' "$f")" = "$(grep -c '^yyyy' $T/large.eml)" ] || fail "a large message arrived incomplete"
done
# Under AddressSanitizer freed memory sits in its quarantine (up to 256 MB), so RSS says nothing there.
if ldd "$MOBIX" | grep -q libasan; then
  echo "(AddressSanitizer build: growth $growth MB not checked)"
else
  [ "$growth" -lt 40 ] || fail "four 20 MB messages grew the proxy by $growth MB: DATA is not streamed"
fi
pass "four 20 MB messages at once: delivered whole, the proxy grew by $growth MB at most ($rss_before -> $peak kB)"

# Sender rewrite cannot be bypassed (issue 12 item 5): a second From:, Sender:, Resent-From:, a
# From: behind a bare LF, and a bare-LF "." that a lenient server would take as the end of DATA
# (SMTP smuggling) — from a raw client, since curl normalises what it sends.
rm -f $T/maildir/new/*
/usr/bin/python3 - "$IP_A" "$P_SMTP" <<'PY' || fail "raw SMTP client"
import socket, sys
s = socket.socket(); s.bind((sys.argv[1], 0)); s.connect(("127.0.0.1", int(sys.argv[2]))); s.settimeout(10)
f = s.makefile("rb")
def reply():
    while True:
        line = f.readline()
        if line[3:4] != b"-": return line
def cmd(c, want):
    s.sendall(c); r = reply()
    assert r.startswith(want), (c, r)
reply()
cmd(b"EHLO handset\r\n", b"250")
cmd(b"MAIL FROM:<user@default.invalid>\r\n", b"250")
cmd(b"RCPT TO:<bob@mail.test>\r\n", b"250")
cmd(b"DATA\r\n", b"354")
msg = (b"From: Mobile <user@default.invalid>\r\nSubject: smuggle\r\nFrom: ceo@bank.test\r\n"
       b"Sender: ceo@bank.test\r\nResent-From: ceo@bank.test\nFrom: hidden@bank.test\r\n\r\n"
       b"body\n.\nMAIL FROM:<ceo@bank.test>\nRCPT TO:<bob@mail.test>\nDATA\nsmuggled\n.\n"
       b"\r\n..dot line\r\n.\r\n")  # a dot-stuffed line (after CRLF) arrives as ".dot line"
cmd(msg, b"250")
cmd(b"QUIT\r\n", b"221")
PY
sleep 0.3
[ "$(ls $T/maildir/new | wc -l)" = 1 ] || fail "a smuggled second message arrived: $(ls $T/maildir/new)"
f=$(ls $T/maildir/new/* | head -1)
[ "$(grep -c -i '^From:' "$f")" = 1 ] || fail "more than one From: arrived: $(grep -i '^From:' "$f")"
grep -q '^From: .*<alice@mail.test>' "$f" || fail "alice's From: missing"
grep -q -i -E '^(Sender|Resent-From):|bank.test>?$' <(sed '/^\r\?$/q' "$f") && fail "an originator field survived: $(sed '/^\r\?$/q' "$f")"
grep -q '^MAIL FROM:<ceo@bank.test>' "$f" || fail "the smuggling attempt is not in the body as text"
grep -q '^\.dot line' "$f" || fail "dot-stuffing not undone/redone: $(tail -3 "$f")"
pass "every originator field is replaced, bare line endings are normalised, and a bare-LF '.' cannot end DATA"

# The upstream stops taking the message mid-DATA (a FAKE submission server: it answers up to 354,
# then never reads again; no real server does that on cue). The proxy's write times out
# (upstream_timeout), it reads the handset's message to its end and answers 451, counted and logged.
read -r P_STALL <<<"$(free_ports t)"
/usr/bin/python3 - "$P_STALL" >$T/stall.log 2>&1 <<'PY' &
import socket, sys, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(4)
print("listening", flush=True)
c, _ = srv.accept(); f = c.makefile("rb"); c.sendall(b"220 fake ESMTP\r\n")
while True:
    line = f.readline()
    if not line: break
    verb = line[:4].upper()
    if verb == b"EHLO": c.sendall(b"250-fake\r\n250 AUTH PLAIN LOGIN\r\n")
    elif verb == b"AUTH": c.sendall(b"235 ok\r\n")
    elif verb == b"DATA": c.sendall(b"354 go on\r\n"); time.sleep(600)
    else: c.sendall(b"250 ok\r\n")
PY
PIDS+=($!)
for _ in $(seq 100); do grep -q listening $T/stall.log && break; sleep 0.05; done
api PATCH subscribers/alice '{"attrs":{"mail.smtp":"127.0.0.1:'$P_STALL'"}}' >/dev/null
lost=$(metric 'mobix_mail_smtp_failures_total{reason="upstream_lost"}')
out=$(send "$IP_A" bob@mail.test $T/large.eml --max-time 120 -v 2>&1 || true)
echo "$out" | grep -q "< 451 4.4.1 the mail server did not take the message" || fail "stalled upstream: $(echo "$out" | grep '^<' | tail -2)"
[ "$(metric 'mobix_mail_smtp_failures_total{reason="upstream_lost"}')" = $((lost + 1)) ] || fail "upstream_lost not counted"
grep -q "the mail server stopped taking msisdn 31610000001's message" $T/mobix.log || fail "no log line for upstream_lost"
pass "an upstream that stops reading mid-DATA: 451 4.4.1 to the handset, counted and logged"

# A submission server whose EHLO reply mixes codes (a FAKE: "250-" then "550 "; RFC 5321 4.2.1 wants
# one code on every line, and no real server breaks that on cue). The proxy must not take it for a
# 250: 451 4.4.1 to the handset, counted, and logged as a malformed reply.
read -r P_MIXED <<<"$(free_ports t)"
/usr/bin/python3 - "$P_MIXED" >$T/mixed.log 2>&1 <<'PY' &
import socket, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(4)
print("listening", flush=True)
while True:
    c, _ = srv.accept(); c.sendall(b"220 fake ESMTP\r\n")
    for line in c.makefile("rb"):
        if line[:4].upper() == b"EHLO": c.sendall(b"250-fake\r\n550 AUTH PLAIN LOGIN\r\n")
        else: c.sendall(b"250 ok\r\n")
    c.close()
PY
PIDS+=($!)
wait_grep listening $T/mixed.log || fail "the fake server did not start: $(cat $T/mixed.log)"
api PATCH subscribers/alice '{"attrs":{"mail.smtp":"127.0.0.1:'$P_MIXED'"}}' >/dev/null
unreachable=$(metric 'mobix_mail_smtp_failures_total{reason="upstream_unreachable"}')
out=$(send "$IP_A" bob@mail.test $T/msg.eml -v 2>&1 || true)
echo "$out" | grep -q "< 451 4.4.1" || fail "a mixed-code EHLO reply: $(echo "$out" | grep '^<' | tail -2)"
[ "$(metric 'mobix_mail_smtp_failures_total{reason="upstream_unreachable"}')" = $((unreachable + 1)) ] ||
  fail "the malformed reply was not counted"
grep -q "for msisdn 31610000001 unreachable: a malformed reply (RFC 5321 4.2.1" $T/mobix.log ||
  fail "no log line naming the malformed reply"
pass "an upstream whose EHLO reply mixes codes: 451 4.4.1 to the handset, counted, logged as malformed"

# A submission server that goes away in the middle of a pipelined group (a FAKE: it offers
# PIPELINING, answers MAIL and closes; no real server does that on cue). Every command of the group
# still gets an answer, in order: MAIL 250, each RCPT 451 4.4.1, DATA 503; counted and logged.
read -r P_GONE <<<"$(free_ports t)"
/usr/bin/python3 - "$P_GONE" >$T/gone.log 2>&1 <<'PY' &
import socket, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(4)
print("listening", flush=True)
while True:
    c, _ = srv.accept(); c.sendall(b"220 fake ESMTP\r\n")
    for line in c.makefile("rb"):
        verb = line[:4].upper()
        if verb == b"EHLO": c.sendall(b"250-fake\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n")
        elif verb == b"AUTH": c.sendall(b"235 ok\r\n")
        elif verb == b"MAIL": c.sendall(b"250 ok\r\n"); break
        else: c.sendall(b"250 ok\r\n")
    c.close()
PY
PIDS+=($!)
wait_grep listening $T/gone.log || fail "the fake server did not start: $(cat $T/gone.log)"
api PATCH subscribers/alice '{"attrs":{"mail.smtp":"127.0.0.1:'$P_GONE'"}}' >/dev/null
lost=$(metric 'mobix_mail_smtp_failures_total{reason="upstream_lost"}')
grouped=$(metric mobix_mail_smtp_pipelined_commands_total)
out=$(swaks --server 127.0.0.1:$P_SMTP --local-interface "$IP_A" --pipeline --auth PLAIN --auth-user mobile \
  --auth-password mobile --from user@default.invalid --to bob@mail.test,carol@mail.test --timeout 15 2>&1) || true
[ "$(echo "$out" | grep -c '451 4.4.1 the mail server did not answer')" = 2 ] || fail "each RCPT of the lost group: $(echo "$out" | grep '^<' | tail -5)"
echo "$out" | grep -q "503 5.5.1" || fail "the lost group's DATA: $(echo "$out" | grep '^<' | tail -3)"
[ "$(metric mobix_mail_smtp_pipelined_commands_total)" = $((${grouped:-0} + 3)) ] || fail "the group did not go upstream together"
[ "$(metric 'mobix_mail_smtp_failures_total{reason="upstream_lost"}')" = $((lost + 1)) ] || fail "upstream_lost not counted"
grep -q "the mail server of msisdn 31610000001 went away in a pipelined group" $T/mobix.log || fail "no log line for the lost group"
pass "a server gone in the middle of a pipelined group: every command answered in order (250, 451, 451, 503), counted, logged"
