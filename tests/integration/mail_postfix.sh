#!/usr/bin/env bash
# Seed 000 steps 201-207 against Postfix, the MTA an operator's or a provider's submission service
# most likely runs (issue 13 item 4: every other SMTP upstream in the tests is aiosmtpd). Postfix
# requires STARTTLS before AUTH (smtpd_tls_auth_only), authenticates through Dovecot's SASL socket,
# and refuses an envelope sender that is not the authenticated user's (reject_sender_login_mismatch):
# so a delivered message proves mobix upgraded to TLS, verified Postfix's certificate, logged in as
# the subscriber and rewrote the envelope. A wrong stored password: refused, counted and logged.
source "$(dirname "$0")/lib.sh"
[ -x /usr/lib/postfix/sbin/master ] || fail "Postfix is not installed (scripts/install-deps.sh)"
read -r P_PF P_POP3D P_IMAPD P_AUTH P_ACCT P_ADMIN P_SMTP <<<"$(free_ports t t t u u t t)"

"$MOBIX" pki init --dir $T/ca --cn "Mail Provider CA" >/dev/null
"$MOBIX" pki issue --dir $T/ca --cn mail.test --dns mail.test --ip 127.0.0.1 --out $T/server >/dev/null
chmod 644 $T/server.key # Postfix reads it as root, Dovecot is not given it

# Dovecot holds the accounts (alice-mail-pw) and answers Postfix's SASL on a socket of its own.
DOVECOT_EXTRA="service auth {
  unix_listener postfix-auth {
    mode = 0666
  }
}" start_dovecot $T/dovecot $P_POP3D $P_IMAPD "" "" "" "" alice bob || fail "dovecot did not start"

# A private Postfix instance: its own config directory, queue and log, on loopback only.
PF=$T/postfix
mkdir -p $PF/queue $PF/data $T/vmail
chown postfix $PF/data
chown 65534:65534 $T/vmail
printf 'bob@mail.test bob/Maildir/\nalice@mail.test alice/Maildir/\n' >$PF/vmailbox
printf 'alice@mail.test alice\nbob@mail.test bob\n' >$PF/senders
cat >$PF/main.cf <<CF
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = $T
maillog_file = $PF/maillog
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mail.test
mydestination =
mynetworks = 127.0.0.255/32
virtual_mailbox_domains = mail.test
virtual_mailbox_base = $T/vmail
virtual_mailbox_maps = texthash:$PF/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_tls_cert_file = $T/server.crt
smtpd_tls_key_file = $T/server.key
smtpd_tls_security_level = encrypt
smtpd_tls_auth_only = yes
smtpd_tls_loglevel = 1
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $T/dovecot/run/postfix-auth
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
smtpd_sender_login_maps = texthash:$PF/senders
smtpd_sender_restrictions = reject_sender_login_mismatch
CF
sed -E "s/^smtp[[:space:]]+inet[[:space:]].*[[:space:]]smtpd\$/127.0.0.1:$P_PF inet n - n - - smtpd/" \
  /etc/postfix/master.cf >$PF/master.cf
grep -q "^127.0.0.1:$P_PF inet" $PF/master.cf || fail "master.cf: no smtpd line to move to port $P_PF"
postfix -c $PF start >/dev/null 2>&1 || fail "postfix did not start: $(tail -5 $PF/maillog 2>/dev/null)"
for _ in $(seq 100); do [ -s $PF/queue/pid/master.pid ] && break; sleep 0.05; done
PIDS+=("$(tr -d ' ' <$PF/queue/pid/master.pid)")
for _ in $(seq 100); do curl -sS --max-time 2 "smtp://127.0.0.1:$P_PF" -X NOOP >/dev/null 2>&1 && break; sleep 0.05; done
# Postfix itself refuses AUTH before STARTTLS and mail without AUTH (checked with curl, not mobix).
curl -sS --max-time 5 "smtp://127.0.0.1:$P_PF" --mail-from x@example.net --mail-rcpt bob@mail.test \
  -T /dev/null >/dev/null 2>&1 && fail "Postfix took mail without TLS and AUTH"

{ access_yaml $P_ADMIN $P_AUTH $P_ACCT mail-test-secret; cat <<YAML; } >$T/mobix.yaml
mail:
  smtp_listen: 127.0.0.1:$P_SMTP
  access_ranges: [127.1.0.0/16]
  upstream_timeout: 5
  upstream_ca_file: ca/ca.crt
YAML
start_serve $T/mobix.yaml $P_ADMIN $T/mobix.log || fail "mobix serve did not start"
ADMIN=127.0.0.1:$P_ADMIN
api() { curl -fsS -X "$1" "http://$ADMIN/api/v1/$2" ${3:+--json "$3"}; }
api POST subscribers '{"msisdn":"31610000001","username":"alice","password":"alice-radius-pw","attrs":{
  "mail.smtp":"127.0.0.1:'$P_PF'","mail.smtp_tls":"starttls","mail.smtp_user":"alice","mail.smtp_password":"alice-mail-pw",
  "mail.address":"alice@mail.test","mail.name":"Alice Ångström"}}' >/dev/null
IP_A=$("$MOBIX" sim attach --auth 127.0.0.1:$P_AUTH --acct 127.0.0.1:$P_ACCT --secret mail-test-secret \
  --state-dir $T/sim --msisdn 31610000001 --username alice --password alice-radius-pw | tail -1)

printf 'From: Mobile User <user@default.invalid>\r\nTo: bob@mail.test\r\nSubject: via postfix\r\n\r\nHello Bob\r\n..dot line\r\n' >$T/msg.eml
send() { curl -sS --max-time 15 --interface "$IP_A" "smtp://127.0.0.1:$P_SMTP" --mail-from user@default.invalid \
  --mail-rcpt bob@mail.test --upload-file $T/msg.eml -u mobile:mobile "$@"; }
send || fail "send through mobix to Postfix: $(tail -5 $PF/maillog)"
f=$(wait_file $T/vmail/bob/Maildir/new)
[ -n "$f" ] || fail "Postfix delivered nothing: $(tail -8 $PF/maillog)"
grep -q '^From: =?UTF-8?B?QWxpY2Ugw4VuZ3N0csO2bQ==?= <alice@mail.test>' "$f" || fail "From: not rewritten: $(grep ^From: "$f")"
grep -q '^Return-Path: <alice@mail.test>' "$f" || fail "envelope sender: $(grep ^Return-Path "$f")"
grep -q '^\.\.dot line' "$f" || fail "dot-stuffing: the body changed: $(tail -2 "$f")"
grep -q "default.invalid" "$f" && fail "the handset's default sender reached Postfix"
wait_grep "TLS connection established from" $PF/maillog || fail "Postfix logged no TLS session"
wait_grep "sasl_method=PLAIN, sasl_username=alice" $PF/maillog || fail "Postfix logged no AUTH as alice: $(grep smtpd $PF/maillog | tail -3)"
pass "through Postfix: STARTTLS (certificate verified), AUTH PLAIN as alice via Dovecot SASL, envelope and From: rewritten, delivered"

# A handset that pipelines (RFC 2920, swaks): MAIL, two RCPTs (Postfix knows one) and DATA in one
# write go to Postfix in one write too; each command gets Postfix's own answer, in order.
before=$(metric mobix_mail_smtp_pipelined_commands_total)
out=$(swaks --server 127.0.0.1:$P_SMTP --local-interface "$IP_A" --pipeline --auth PLAIN --auth-user mobile \
  --auth-password mobile --from user@default.invalid --to bob@mail.test,nobody@mail.test \
  --data "Subject: pipelined\r\n\r\nsent in one group\r\n" --timeout 15 2>&1) || true
echo "$out" | grep -q "<\*\* *550 5.1.1 <nobody@mail.test>" || fail "the unknown recipient's answer: $(echo "$out" | grep '^<' | tail -6)"
echo "$out" | grep -q "^<-  354 " || fail "no 354 after the pipelined group: $(echo "$out" | grep '^<' | tail -6)"
echo "$out" | grep -q "^<-  250 2.0.0 Ok: queued" || fail "the message was not queued: $(echo "$out" | grep '^<' | tail -4)"
[ "$(metric mobix_mail_smtp_pipelined_commands_total)" -eq $((before + 3)) ] ||
  fail "the group did not go upstream in one write: $(metric mobix_mail_smtp_pipelined_commands_total) commands (was $before)"
for _ in $(seq 100); do [ "$(ls $T/vmail/bob/Maildir/new | wc -l)" -ge 2 ] && break; sleep 0.1; done
grep -l "sent in one group" $T/vmail/bob/Maildir/new/* >/dev/null 2>&1 || fail "the pipelined message was not delivered to bob"
pass "a pipelined group (MAIL, RCPT known, RCPT unknown, DATA) goes to Postfix in one write: 250, 550, 354, delivered"

# The stored password no longer works: the handset gets 5.7.8, the refusal is counted and logged.
api PATCH subscribers/alice '{"attrs":{"mail.smtp_password":"wrong-pw"}}' >/dev/null
before=$(metric 'mobix_mail_smtp_failures_total{reason="upstream_rejected_credentials"}')
out=$(send -v 2>&1 || true)
echo "$out" | grep -q "< 554 5.7.8 .*needs attention" || fail "rejected credentials: $(echo "$out" | grep '^<' | tail -3)"
[ "$(metric 'mobix_mail_smtp_failures_total{reason="upstream_rejected_credentials"}')" -gt "$before" ] ||
  fail "upstream_rejected_credentials not counted"
grep -q "rejected the stored credentials of msisdn 31610000001" $T/mobix.log || fail "no log line"
wait_grep "authentication failed" $PF/maillog || fail "Postfix saw no failed AUTH"
grep -q "wrong-pw\|alice-mail-pw" $T/mobix.log && fail "a password was logged"
pass "Postfix refuses a wrong stored password: 554 5.7.8 to the handset, counted, logged without the secret"
postfix -c $PF stop >/dev/null 2>&1 || true
