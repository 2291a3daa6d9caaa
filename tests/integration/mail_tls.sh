#!/usr/bin/env bash
# Upstream TLS (issue 3 item 2): mobix logs in to the subscriber's mail server over implicit
# TLS or STARTTLS/STLS, with the server's certificate verified against the configured CA;
# AUTH LOGIN when the submission server offers no PLAIN. A certificate that does not verify,
# or a server that does not offer the STARTTLS the profile asks for, is a temporary failure
# with its counter: the stored password never goes out in clear.
source "$(dirname "$0")/lib.sh"
read -r P_POP3D P_IMAPD P_POP3S P_IMAPS P_SUB P_SUBS P_PLAIN P_ROGUE P_AUTH P_ACCT P_ADMIN P_POP3 P_IMAP P_SMTP \
  <<<"$(free_ports t t t t t t t t u u t t t t)"

# A private CA for the mail provider, and a rogue CA nobody configured.
"$MOBIX" pki init --dir $T/ca --cn "Mail Provider CA" >/dev/null
"$MOBIX" pki issue --dir $T/ca --cn mail.test --dns mail.test --ip 127.0.0.1 --out $T/server >/dev/null
"$MOBIX" pki init --dir $T/rogue --cn "Rogue CA" >/dev/null
"$MOBIX" pki issue --dir $T/rogue --cn mail.test --ip 127.0.0.1 --out $T/rogue-server >/dev/null
chmod 644 $T/*.key

start_dovecot $T/dovecot $P_POP3D $P_IMAPD $P_POP3S $P_IMAPS $T/server.crt $T/server.key alice bob carol \
  || fail "dovecot did not start"
curl -fsS --cacert $T/ca/ca.crt pop3s://127.0.0.1:$P_POP3S/1 -u bob:bob-mail-pw | grep -q "Hello bob" \
  || fail "dovecot pop3s"
mkdir -p $T/md/{tmp,new,cur} $T/md-rogue/{tmp,new,cur} $T/md-plain/{tmp,new,cur}
UP=$(dirname "$0")/smtp_upstream.py
/usr/bin/python3 $UP --starttls $T/server.crt $T/server.key --login-only 127.0.0.1 $P_SUB $T/md alice:alice-smtp-pw >$T/sub.log 2>&1 &
PIDS+=($!)
/usr/bin/python3 $UP --implicit-tls $T/server.crt $T/server.key 127.0.0.1 $P_SUBS $T/md bob:bob-smtp-pw >$T/subs.log 2>&1 &
PIDS+=($!)
/usr/bin/python3 $UP 127.0.0.1 $P_PLAIN $T/md-plain carol:carol-smtp-pw >$T/plain.log 2>&1 &
PIDS+=($!)
/usr/bin/python3 $UP --implicit-tls $T/rogue-server.crt $T/rogue-server.key 127.0.0.1 $P_ROGUE $T/md-rogue carol:carol-smtp-pw >$T/rogue.log 2>&1 &
PIDS+=($!)
for f in sub subs plain rogue; do
  for _ in $(seq 100); do grep -q listening $T/$f.log && break; sleep 0.05; done
done

cat >$T/mobix.yaml <<YAML
store: {path: mobix.db}
admin: {listen: "127.0.0.1:$P_ADMIN", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:$P_AUTH
    acct_listen: 127.0.0.1:$P_ACCT
    clients: [{name: ggsn, address: 127.0.0.1/32, secret: mail-test-secret}]
  pools: [{name: internet, range: 127.1.0.10-127.1.0.50}]
mail:
  pop3_listen: 127.0.0.1:$P_POP3
  imap_listen: 127.0.0.1:$P_IMAP
  smtp_listen: 127.0.0.1:$P_SMTP
  access_ranges: [127.1.0.0/16]
  upstream_timeout: 5
  max_failures_per_minute: 100
  upstream_ca_file: ca/ca.crt
  session_timeout: 2  # total time a relayed session may last (tested at the end)
YAML
start_serve $T/mobix.yaml $P_ADMIN $T/mobix.log || fail "mobix serve did not start"
ADMIN=127.0.0.1:$P_ADMIN
api() { curl -fsS -X "$1" "http://$ADMIN/api/v1/$2" ${3:+--json "$3"}; }
# alice: STLS for POP3, STARTTLS for IMAP, STARTTLS + AUTH LOGIN for submission.
api POST subscribers '{"msisdn":"31610000001","username":"alice","password":"alice-radius-pw","attrs":{
  "mail.pop3":"127.0.0.1:'$P_POP3D'","mail.pop3_tls":"starttls","mail.imap":"127.0.0.1:'$P_IMAPD'","mail.imap_tls":"starttls",
  "mail.smtp":"127.0.0.1:'$P_SUB'","mail.smtp_tls":"starttls","mail.smtp_user":"alice","mail.smtp_password":"alice-smtp-pw",
  "mail.user":"alice","mail.password":"alice-mail-pw","mail.address":"alice@mail.test","mail.name":"Alice"}}' >/dev/null
# bob: implicit TLS everywhere, by name ("localhost" is not in the certificate: see carol) and by IP.
api POST subscribers '{"msisdn":"31610000002","username":"bob","password":"bob-radius-pw","attrs":{
  "mail.pop3":"127.0.0.1:'$P_POP3S'","mail.pop3_tls":"tls","mail.imap":"127.0.0.1:'$P_IMAPS'","mail.imap_tls":"tls",
  "mail.smtp":"127.0.0.1:'$P_SUBS'","mail.smtp_tls":"tls","mail.smtp_user":"bob","mail.smtp_password":"bob-smtp-pw",
  "mail.user":"bob","mail.password":"bob-mail-pw","mail.address":"bob@mail.test","mail.name":"Bob"}}' >/dev/null
# carol: every way TLS can go wrong.
api POST subscribers '{"msisdn":"31610000003","username":"carol","password":"carol-radius-pw","attrs":{
  "mail.pop3":"localhost:'$P_POP3S'","mail.pop3_tls":"tls","mail.imap":"127.0.0.1:'$P_IMAPD'","mail.imap_tls":"tls",
  "mail.smtp":"127.0.0.1:'$P_PLAIN'","mail.smtp_tls":"starttls","mail.smtp_user":"carol","mail.smtp_password":"carol-smtp-pw",
  "mail.user":"carol","mail.password":"carol-mail-pw","mail.address":"carol@mail.test","mail.name":"Carol"}}' >/dev/null
# A bad TLS mode is refused when provisioned.
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$ADMIN/api/v1/subscribers" \
  --json '{"msisdn":"31610000009","attrs":{"mail.pop3_tls":"maybe"}}')
[ "$code" = 400 ] || fail "mail.pop3_tls=maybe accepted ($code)"

sim() { "$MOBIX" sim attach --auth 127.0.0.1:$P_AUTH --acct 127.0.0.1:$P_ACCT --secret mail-test-secret \
  --state-dir $T/sim --msisdn "$1" --username "$2" --password "$3" | tail -1; }
IP_A=$(sim 31610000001 alice alice-radius-pw)
IP_B=$(sim 31610000002 bob bob-radius-pw)
IP_C=$(sim 31610000003 carol carol-radius-pw)
pop3() { curl -sS --max-time 10 --interface "$1" "pop3://127.0.0.1:$P_POP3/1" -u mobile:mobile; }
imap() { curl -sS --max-time 10 --interface "$1" "imap://127.0.0.1:$P_IMAP/INBOX;UID=1" -u mobile:mobile; }
printf 'From: Mobile User <user@default.invalid>\r\nTo: x@mail.test\r\nSubject: over tls\r\n\r\nsecret body\r\n' >$T/msg.eml
send() { curl -sS --max-time 10 --interface "$1" "smtp://127.0.0.1:$P_SMTP" --mail-from user@default.invalid \
  --mail-rcpt x@mail.test --upload-file $T/msg.eml -u mobile:mobile; }

pop3 "$IP_A" | grep -q "Hello alice" || fail "POP3 over STLS"
imap "$IP_A" | grep -q "Hello alice" || fail "IMAP over STARTTLS"
pop3 "$IP_B" | grep -q "Hello bob" || fail "POP3 over implicit TLS"
imap "$IP_B" | grep -q "Hello bob" || fail "IMAP over implicit TLS"
pass "POP3 and IMAP logins over STLS/STARTTLS and implicit TLS, certificate verified against the configured CA"
send "$IP_A" || fail "submission over STARTTLS with AUTH LOGIN"
send "$IP_B" || fail "submission over implicit TLS"
sleep 0.3
grep -l "^X-Authenticated-User: alice" $T/md/new/* >/dev/null || fail "alice's message did not arrive authenticated"
grep -l "^X-Authenticated-User: bob" $T/md/new/* >/dev/null || fail "bob's message did not arrive authenticated"
pass "submission over STARTTLS (AUTH LOGIN, the server offers no PLAIN) and over implicit TLS"

# carol: a name the certificate does not carry; TLS asked of a plain-text port; STARTTLS asked of
# a server that does not offer it (the password must not go out in clear).
before=$(metric 'mobix_mail_pop3_failures_total{reason="upstream_tls_failed"}')
out=$(pop3 "$IP_C" 2>&1 || true)
after=$(metric 'mobix_mail_pop3_failures_total{reason="upstream_tls_failed"}')
[ "$after" -gt "$before" ] || fail "host name mismatch not refused: $out"
grep -q "pop3 #.*TLS to mail server localhost:$P_POP3S for msisdn 31610000003 failed" $T/mobix.log || fail "no log line for the TLS failure"
pass "POP3: a server certificate that does not name the host is refused (counter, log line)"
imap "$IP_C" >/dev/null 2>&1 && fail "IMAP: implicit TLS to a plain-text port succeeded"
[ "$(metric 'mobix_mail_imap_failures_total{reason="upstream_tls_failed"}')" -ge 1 ] || fail "IMAP TLS counter"
send "$IP_C" >/dev/null 2>&1 && fail "SMTP: a server without STARTTLS was used"
[ "$(metric 'mobix_mail_smtp_failures_total{reason="upstream_tls_failed"}')" -ge 1 ] || fail "SMTP TLS counter"
[ -z "$(ls $T/md-plain/new)" ] || fail "a message went to the plain-text server"
grep -q "^auth-attempt" $T/plain.log && fail "credentials were offered to the plain-text server"
grep -q "^auth-attempt LOGIN ok=True" $T/sub.log || fail "alice's submission did not use AUTH LOGIN"
pass "IMAP implicit TLS to a plain port, and SMTP STARTTLS to a server without it, fail closed"

# A server whose certificate chains to a CA nobody configured.
api PATCH subscribers/31610000003 '{"attrs":{"mail.smtp":"127.0.0.1:'$P_ROGUE'","mail.smtp_tls":"tls"}}' >/dev/null \
  || fail "update carol"
out=$(send "$IP_C" 2>&1 || true)
grep -q "TLS to submission server 127.0.0.1:$P_ROGUE for msisdn 31610000003 failed: certificate not trusted" $T/mobix.log \
  || fail "untrusted certificate not reported: $(grep 'smtp #' $T/mobix.log | tail -2)"
[ -z "$(ls $T/md-rogue/new)" ] || fail "a message went to the untrusted server"
pass "SMTP: a certificate from an unknown CA is refused and reported"
grep -q "mail-pw\|smtp-pw" $T/mobix.log && fail "a password appeared in the log"
pass "no password in the log"

# The total session time limit ends a relayed session even while it is busy.
/usr/bin/python3 - "$IP_A" "$P_POP3" <<'PY' || fail "session time limit"
import socket, sys, time
s = socket.socket(); s.bind((sys.argv[1], 0)); s.settimeout(10); s.connect(("127.0.0.1", int(sys.argv[2])))
f = s.makefile("rb"); f.readline()
s.sendall(b"USER mobile\r\n"); f.readline()
s.sendall(b"PASS mobile\r\n"); assert f.readline().startswith(b"+OK"), "login"
start = time.time()
while True:  # keep it busy: NOOP every 0.3 s until mobix closes it
    try:
        s.sendall(b"NOOP\r\n")
        line = f.readline()
    except OSError:
        break
    if not line:
        break
    assert time.time() - start < 8, "still open after 8 s"
    time.sleep(0.3)
PY
[ "$(metric 'mobix_mail_pop3_failures_total{reason="session_timeout"}')" -ge 1 ] || fail "session_timeout counter"
grep -q "reached the session time limit of 2 s" $T/mobix.log || fail "no log line for the session time limit"
pass "a relayed session is closed at the total session time limit (counter, log line)"
