#!/usr/bin/env bash
# Seed 001 step D by e-mail. The relay submits the sealed signal over SMTP with STARTTLS (server
# certificate verified) to a real MTA (Debian's aiosmtpd, tests/integration/relay_mta.py), which forwards it to the gateway's own
# SMTP receiver. Then, with the MTA swapped for a mailbox, the test holds a client, reads the
# signal out of the delivered mail, presents a wrong one-time key at the relay's callback port
# (refused, counted, the client still waits), hands the mail to the gateway with swaks over
# STARTTLS (the tunnel opens, the client gets its answer) and replays it (refused).
source "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || fail "python3-aiosmtpd missing (scripts/install-deps.sh)"
command -v swaks >/dev/null || fail "swaks missing (scripts/install-deps.sh)"
read -r P_AUTH P_ACCT P_ADMIN_OP P_ADMIN_RELAY P_PUBLIC P_CALLBACK P_WEB P_GWMAIL P_MTA <<<"$(free_ports u u t t t t t t t)"
"$MOBIX" pki init --dir $T/ca --cn "Test CA" >/dev/null
for n in relay gateway mta; do "$MOBIX" pki issue --dir $T/ca --cn $n --ip 127.0.0.1 --out $T/$n >/dev/null; done
openssl rand -hex 32 >$T/signal.key
mkdir -p $T/op $T/relaynode
cat >$T/op/mobix.yaml <<YAML
store: {path: mobix.db}
admin: {listen: "127.0.0.1:$P_ADMIN_OP", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:$P_AUTH
    acct_listen: 127.0.0.1:$P_ACCT
    clients: [{name: ggsn, address: 127.0.0.1/32, secret: mail-test-secret}]
  pools: [{name: internet, range: 127.1.0.10-127.1.0.50}]
gateway:
  email:
    listen: 127.0.0.1:$P_GWMAIL
    address: signals@gw.mobile.test
    tls_cert_file: ../gateway.crt
    tls_key_file: ../gateway.key
  signal_keys: [{id: 3, key_file: ../signal.key}]
  relay_ca_file: ../ca/ca.crt
YAML
cat >$T/relaynode/mobix.yaml <<YAML
store: {path: mobix.db}
admin: {listen: "127.0.0.1:$P_ADMIN_RELAY", no_token: true}
relay:
  public_listen: 127.0.0.1:$P_PUBLIC
  callback_listen: 127.0.0.1:$P_CALLBACK
  tls_cert_file: ../relay.crt
  tls_key_file: ../relay.key
  signal_key: {id: 3, key_file: ../signal.key}
  channel: email
  email: {smtp: "127.0.0.1:$P_MTA", tls: starttls, ca_file: ../ca/ca.crt, from: relay@relay.test, to: signals@gw.mobile.test}
  hold_timeout: 8
  spare_legs: 0 # one signal per tunnel: this test is about the e-mail channel
YAML
start_mta() {  # proxy GW_ADDRESS GW_PORT | mailbox DIR
  /usr/bin/python3 "$(dirname "$0")/relay_mta.py" 127.0.0.1 $P_MTA $T/mta.crt $T/mta.key "$@" >$T/mta.log 2>&1 &
  MTA_PID=$!
  PIDS+=($MTA_PID)
  for _ in $(seq 200); do grep -q "relay_mta: $1" $T/mta.log && return 0; sleep 0.05; done
  fail "aiosmtpd did not start: $(cat $T/mta.log)"
}
start_mta proxy 127.0.0.1 $P_GWMAIL
start_serve $T/op/mobix.yaml $P_ADMIN_OP $T/op.log || fail "operator node: $(tail -3 $T/op.log)"
start_serve $T/relaynode/mobix.yaml $P_ADMIN_RELAY $T/relay.log || fail "relay: $(tail -3 $T/relay.log)"
curl -fsS -X POST http://127.0.0.1:$P_ADMIN_OP/api/v1/subscribers \
  --json '{"msisdn":"31610000001","username":"cam","password":"cam-radius-pw"}' >/dev/null
curl -fsS -X POST http://127.0.0.1:$P_ADMIN_RELAY/api/v1/subscribers \
  --json '{"msisdn":"31610000001","hostname":"cam.mobile.test","attrs":{"relay.http_port":"'$P_WEB'"}}' >/dev/null
IP=$("$MOBIX" sim attach --auth 127.0.0.1:$P_AUTH --acct 127.0.0.1:$P_ACCT --secret mail-test-secret \
  --state-dir $T/sim --msisdn 31610000001 --username cam --password cam-radius-pw | tail -1)
/usr/bin/python3 "$(dirname "$0")/relay_echo_server.py" "$IP" $P_WEB >$T/web.log 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -fsS "http://$IP:$P_WEB/" >/dev/null 2>&1 && break; sleep 0.05; done

for i in 1 2; do
  out=$(curl -sS --max-time 10 -H "Host: cam.mobile.test" "http://127.0.0.1:$P_PUBLIC/")
  [ "$out" = "hello from the mobile server" ] || fail "tunnel $i by e-mail: '$out' $(tail -3 $T/relay.log) $(tail -3 $T/mta.log)"
done
[ "$(grep -c 'signal sent by e-mail' $T/relay.log)" = 2 ] || fail "the e-mail channel was not used: $(tail -3 $T/relay.log)"
accepted=$(curl -fsS "http://127.0.0.1:$P_ADMIN_OP/metrics" | awk '$1 == "mobix_gateway_signal_mails_total{result=\"accepted\"}" {print $2}')
[ "${accepted:-0}" = 2 ] || fail "the gateway's SMTP receiver accepted ${accepted:-0} signals, not 2"
pass "the relay wakes the gateway by e-mail: STARTTLS to a real MTA (aiosmtpd), which forwards to the gateway"

# The MTA becomes a mailbox: signals stop there, and the relay's kept SMTP session is re-opened.
kill $MTA_PID
wait $MTA_PID 2>/dev/null || true
start_mta mailbox $T/maildir
curl -sS --max-time 15 -o $T/held.out -H "Host: cam.mobile.test" "http://127.0.0.1:$P_PUBLIC/" &
CURL_PID=$!
MAIL=$(wait_file $T/maildir/new 100)
[ -n "$MAIL" ] || fail "no signal mail delivered: $(tail -3 $T/relay.log) $(tail -3 $T/mta.log)"
grep -qi '^Content-Type: application/vnd.mobix.signal' "$MAIL" || fail "not a signal mail: $(head -20 "$MAIL")"
HEX=$(/usr/bin/python3 -c '
import base64, email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
print(m.get_payload(decode=True).hex())' "$MAIL")
TUNNEL=$("$MOBIX" signal open --key-file $T/signal.key --key-id 3 "$HEX" | /usr/bin/python3 -c 'import json, sys; print("%016x" % json.load(sys.stdin)["tunnel_id"])')
[ ${#TUNNEL} = 16 ] || fail "cannot open the mailed signal"

# A wrong one-time key for a live tunnel: refused and counted; the tunnel stays waiting.
printf 'MOBIX-TUNNEL %s %s\r\n' "$TUNNEL" "$(openssl rand -hex 16)" |
  timeout 10 openssl s_client -quiet -connect 127.0.0.1:$P_CALLBACK -CAfile $T/ca/ca.crt -verify_return_error >/dev/null 2>&1 || true
grep -q '^mobix_relay_callbacks_total{result="bad_key"} 1' <<<"$(curl -fsS http://127.0.0.1:$P_ADMIN_RELAY/metrics)" \
  || fail "a wrong one-time key was not counted as bad_key"
kill -0 $CURL_PID 2>/dev/null || fail "the held client was dropped by a wrong key"
pass "a callback with the wrong one-time key is refused (bad_key) and the client keeps waiting"

# The mail handed to the gateway by an independent SMTP client, over STARTTLS: the tunnel opens.
swaks --server 127.0.0.1:$P_GWMAIL --tls --from relay@relay.test --to signals@gw.mobile.test \
  --data "$MAIL" >$T/swaks1.log 2>&1 || fail "swaks: $(tail -5 $T/swaks1.log)"
grep -q '250 2.0.0 signal accepted' $T/swaks1.log || fail "the gateway did not accept the mail: $(tail -5 $T/swaks1.log)"
wait $CURL_PID || fail "the held client failed"
[ "$(cat $T/held.out)" = "hello from the mobile server" ] || fail "held client got '$(cat $T/held.out)'"
pass "swaks delivers the signal to the gateway over STARTTLS: the held client reaches the mobile server"

# The same mail again: a replay; junk and a wrong recipient: refused, each with its own code.
swaks --server 127.0.0.1:$P_GWMAIL --tls --from x@y.test --to signals@gw.mobile.test --data "$MAIL" >$T/swaks2.log 2>&1 || true
grep -q '550 5.7.1 signal refused' $T/swaks2.log || fail "a replayed signal mail was not refused: $(tail -5 $T/swaks2.log)"
swaks --server 127.0.0.1:$P_GWMAIL --from x@y.test --to signals@gw.mobile.test --body hello >$T/swaks3.log 2>&1 || true
grep -q '550 5.6.0' $T/swaks3.log || fail "a junk mail was not refused: $(tail -5 $T/swaks3.log)"
swaks --server 127.0.0.1:$P_GWMAIL --from x@y.test --to root@gw.mobile.test --body hello >$T/swaks4.log 2>&1 || true
grep -q '550 5.1.1' $T/swaks4.log || fail "a stranger's recipient was accepted: $(tail -5 $T/swaks4.log)"
# A signal that expired on the way (sealed with a one-second lifetime, delivered two seconds later).
"$MOBIX" signal seal --key-file $T/signal.key --key-id 3 --relay-ip 127.0.0.1 --callback-port $P_CALLBACK \
  --msisdn 31610000001 --target-port $P_WEB --protocol http --ttl 1 >$T/expired.hex
/usr/bin/python3 -c '
import base64, sys
b64 = base64.b64encode(bytes.fromhex(open(sys.argv[1]).read().strip())).decode()
print("Subject: late\r\nContent-Type: application/vnd.mobix.signal\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64, end="")' \
  $T/expired.hex >$T/expired.eml
sleep 2
swaks --server 127.0.0.1:$P_GWMAIL --from x@y.test --to signals@gw.mobile.test --data $T/expired.eml >$T/swaks5.log 2>&1 || true
grep -q '550 5.7.1 signal refused' $T/swaks5.log || fail "an expired signal mail was not refused: $(tail -5 $T/swaks5.log)"
metrics=$(curl -fsS http://127.0.0.1:$P_ADMIN_OP/metrics)
grep -q '^mobix_gateway_signals_total{result="expired"} 1' <<<"$metrics" || fail "expiry not counted"
grep -q '^mobix_gateway_signals_total{result="replayed"} 1' <<<"$metrics" || fail "replay not counted"
grep -q '^mobix_gateway_signal_mails_total{result="not_a_signal"} 1' <<<"$metrics" || fail "junk not counted"
pass "a replayed or expired signal mail (550 5.7.1), junk (550 5.6.0) and other recipients (550 5.1.1) are refused"

# A message far bigger than any signal: 552, counted. Then a stranger's junk, repeatedly: after 60
# refusals a minute the address gets 421 at the greeting, counted.
head -c 100000 /dev/zero | tr '\0' 'a' | fold -w 76 >$T/big.txt
swaks --server 127.0.0.1:$P_GWMAIL --from x@y.test --to signals@gw.mobile.test --body $T/big.txt >$T/swaks6.log 2>&1 || true
grep -q '552 5.3.4' $T/swaks6.log || fail "a 100 kB message was not refused as too big: $(tail -5 $T/swaks6.log)"
for _ in $(seq 60); do
  swaks --server 127.0.0.1:$P_GWMAIL --from x@y.test --to signals@gw.mobile.test --body junk >/dev/null 2>&1 || true
done
swaks --server 127.0.0.1:$P_GWMAIL --from x@y.test --to signals@gw.mobile.test --body junk >$T/swaks7.log 2>&1 || true
grep -q '421 4.7.0' $T/swaks7.log || fail "repeated junk was not rate limited: $(tail -5 $T/swaks7.log)"
metrics=$(curl -fsS http://127.0.0.1:$P_ADMIN_OP/metrics)
grep -q '^mobix_gateway_signal_mails_total{result="too_big"} 1' <<<"$metrics" || fail "too big not counted"
grep -q '^mobix_gateway_signal_mails_total{result="rate_limited"}' <<<"$metrics" || fail "rate limit not counted"
pass "an oversized message (552) and a stranger's repeated junk (421 after 60 refusals a minute) are refused and counted"
