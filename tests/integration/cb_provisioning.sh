#!/usr/bin/env bash
# Seed 004 phases I-III end to end with real TLS and RADIUS: mint at the factory, register at the
# call center (CLI and API), power up the box agent with no input, watch it configure (RADIUS
# log-in as serial@config_domain, the CSS connects to the box with mutual TLS and downloads the
# parameters 191), get woken by SMS and call back with its CB certificate. radclient logs in as a
# box too (an independent RADIUS client), openssl verifies the certificates and talks to the box's
# configuration server, and the refusals leave a reason in the log, a counter and the record.
source "$(dirname "$0")/lib.sh"
start_css "  callback_timeout: 20"
"$MOBIX" check-config $T/mobix.yaml | grep -q "css" || fail "check-config does not see the css role"

# --- the factory ---
"$MOBIX" factory mint --config $T/mobix.yaml --serial SN-A1 --out $T/boxA --css-name css.cb.test --retry 1 >/dev/null
"$MOBIX" factory mint --config $T/mobix.yaml --count 2 --prefix SN-B --out $T/batch --css-name css.cb.test --retry 1 >/dev/null
[ -f $T/batch/SN-B000002/serial.crt ] || fail "batch mint"
[ "$(stat -c %a $T/boxA/key.pem)" = 600 ] || fail "the box's private key is not 0600"
openssl verify -CAfile $T/ca/ca.crt $T/boxA/serial.crt >/dev/null || fail "openssl verify of the serial-number certificate"
subj=$(openssl x509 -in $T/boxA/serial.crt -noout -subject)
[[ $subj == *"CN = SN-A1"* && $subj == *"OU = serial"* ]] || fail "serial certificate subject: $subj"
pass "factory: keys, serial-number certificates (openssl verify), 0600 key"

# --- Phase I: the call center ---
"${ADM[@]}" cb register --serial SN-A1 --line +4420000001 --name "Ann Smith" --address "1 High St" \
  --billing "IBAN GB00 1234" --cb-name ann00000001 --contact "jo12345678=Uncle Jo" | grep -q "registered SN-A1 as ann00000001" ||
  fail "cb register"
before=$(metric 'mobix_admin_errors_total{status="400"}')
out=$(curl -s -XPOST -H 'Content-Type: application/json' http://$ADMIN/api/v1/cb \
  -d '{"serial":"SN-NOPE","line_id":"12","name":"","street_address":"x","billing":"y"}')
echo "$out" | jq -e '.fields.serial and .fields.line_id and .fields.name' >/dev/null || fail "validation fields: $out"
[ "$(metric 'mobix_admin_errors_total{status="400"}')" = $((before + 1)) ] || fail "the refusal was not counted"
out=$("${ADM[@]}" cb register --serial SN-A1 --line +4420000009 --name X --address Y --billing Z 2>&1) &&
  fail "a second registration of one serial was accepted"
echo "$out" | grep -q "serial: this box is already registered" || fail "second registration: $out"
rec=$(curl -fsS http://$ADMIN/api/v1/cb/ann00000001)
echo "$rec" | jq -e '.state == "registered" and .subscriber.billing == "**********1234" and (.cb_id | startswith("cb-"))' >/dev/null ||
  fail "record: $rec"
CB_A=$(echo "$rec" | jq -r .cb_id)
pass "Phase I: registration, validation messages per field, billing kept apart and masked"

# --- radclient as an independent RADIUS client for the configuration log-in ---
PW_B1=$(jq -r .config_nap.password $T/batch/SN-B000001/params190.json)
printf 'User-Name = "SN-B000001@config.cb.test"\nUser-Password = "%s"\nMessage-Authenticator = 0x00\n' "$PW_B1" |
  radclient -q -r 1 -t 2 127.0.0.1:$P_AUTH auth nas-secret-123 >/dev/null || fail "radclient config log-in refused"
before=$(metric 'mobix_radius_access_rejects_total{reason="bad_password"}')
printf 'User-Name = "SN-B000001@config.cb.test"\nUser-Password = "wrong"\nMessage-Authenticator = 0x00\n' |
  radclient -q -r 1 -t 2 127.0.0.1:$P_AUTH auth nas-secret-123 >/dev/null 2>&1 && fail "a wrong password was accepted"
[ "$(metric 'mobix_radius_access_rejects_total{reason="bad_password"}')" = $((before + 1)) ] || fail "bad_password not counted"
before=$(metric 'mobix_radius_access_rejects_total{reason="unknown_serial"}')
printf 'User-Name = "SN-ZZZ@config.cb.test"\nUser-Password = "x"\nMessage-Authenticator = 0x00\n' |
  radclient -q -r 1 -t 2 127.0.0.1:$P_AUTH auth nas-secret-123 >/dev/null 2>&1 && fail "an unknown serial was accepted"
[ "$(metric 'mobix_radius_access_rejects_total{reason="unknown_serial"}')" = $((before + 1)) ] || fail "unknown_serial not counted"
grep -q "reject user=SN-ZZZ@config.cb.test.*unknown serial number" $T/serve.log || fail "no log line for the unknown serial"
pass "configuration log-in with radclient: accepted, wrong password and unknown serial refused (reply, counter, log)"

# --- Phase II and III: power up box A with no input ---
"${CB[@]}" --state $T/boxA --line +4420000001 >$T/boxA.log 2>&1 &
PIDS+=($!)
for _ in $(seq 1 200); do
  state=$(curl -fsS http://$ADMIN/api/v1/cb/$CB_A | jq -r .state)
  [ "$state" = online ] || [ "$state" = configured ] && break
  [ "$state" = config_error ] && break
  sleep 0.1
done
[ "$state" = online ] || [ "$state" = configured ] ||
  fail "box A did not configure: $(curl -fsS http://$ADMIN/api/v1/cb/$CB_A | jq -c '{state,state_reason}'); $(tail -5 $T/boxA.log)"
[ ! -f $T/boxA/unconfigured ] || fail "the unconfigured flag is still set"
jq -e '.cb_id and .cb_certificate and .nap.username' $T/boxA/params191.json >/dev/null || fail "parameters 191"
jq -r .cb_certificate $T/boxA/params191.json >$T/boxA-cb.crt
openssl verify -CAfile $T/ca/ca.crt $T/boxA-cb.crt >/dev/null || fail "openssl verify of the CB certificate"
[ "$(openssl x509 -in $T/boxA-cb.crt -noout -pubkey)" = "$(openssl pkey -in $T/boxA/key.pem -pubout)" ] ||
  fail "the CB certificate is not for the box's own key"
openssl x509 -in $T/boxA-cb.crt -noout -subject | grep -q "CN = $CB_A" || fail "the CB certificate's subject is not the CB ID"
grep -q "woken up" $T/boxA.log || fail "no wake-up: $(tail -5 $T/boxA.log)"
for _ in $(seq 1 50); do [ -f $T/boxA/address_book.json ] && break; sleep 0.1; done
jq -e '.entries[0].cb_name == "jo12345678"' $T/boxA/address_book.json >/dev/null || fail "initial address book"
[ "$(metric 'mobix_css_phase2_total{result="configured"}')" -ge 1 ] || fail "Phase II not counted"
[ "$(metric 'mobix_css_wakeups_total{outcome="sent"}')" -ge 1 ] || fail "wake-up not counted"
pass "Phases II and III: configured with no input, CB certificate for the box's key (openssl), woken, address book"

# --- the serial-number identity is good for configuration only; a CB certificate only from its box ---
css_refusal() { # REASON CERT KEY: a call to the connectivity listener, refused with REASON (counter by its change)
  local before code
  before=$(metric "mobix_css_refusals_total{reason=\"$1\"}")
  code=$(curl -s -o $T/refusal.json -w '%{http_code}' --cacert $T/ca/ca.crt --cert "$2" --key "$3" \
    --resolve css.cb.test:$P_CSS:127.0.0.1 https://css.cb.test:$P_CSS/cb/v1/hello || true)
  [ "$code" = 403 ] || fail "$1: HTTP $code $(cat $T/refusal.json 2>/dev/null)"
  jq -e --arg r "$1" '.reason == $r' $T/refusal.json >/dev/null || fail "$1: $(cat $T/refusal.json)"
  [ "$(metric "mobix_css_refusals_total{reason=\"$1\"}")" = $((before + 1)) ] || fail "$1 not counted"
  grep -q "css: GET /cb/v1/hello from 127.0.0.1 refused ($1)" $T/serve.log || fail "$1: no log line"
}
css_refusal serial_certificate $T/boxA/serial.crt $T/boxA/key.pem
# Box A's own CB certificate and key, but not from box A's access session (a copied box).
css_refusal session_mismatch $T/boxA-cb.crt $T/boxA/key.pem
pass "connectivity listener: serial-number certificate and a CB certificate from outside its box's session refused"

# --- Phase II refusals, each with its reason in the record, a counter and a log line ---
phase2_refused() { # DIR CB_ID REASON: runs the box until its record shows REASON
  local before rec
  before=$(metric "mobix_css_phase2_total{result=\"$3\"}")
  "${CB[@]}" --state "$1" --line "+44200000$RANDOM" >"$1.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do
    rec=$(curl -fsS http://$ADMIN/api/v1/cb/$2)
    [ "$(echo "$rec" | jq -r .state)" = config_error ] && break
    sleep 0.1
  done
  kill $pid 2>/dev/null; wait $pid 2>/dev/null || true
  echo "$rec" | jq -e --arg r "$3" '.state == "config_error" and (.state_reason | contains("(" + $r + ")"))' >/dev/null ||
    fail "$3: record $(echo "$rec" | jq -c '{state,state_reason}')"
  [ "$(metric "mobix_css_phase2_total{result=\"$3\"}")" -ge $((before + 1)) ] || fail "$3 not counted"
  grep -q "css: Phase II for box .* refused ($3)" $T/serve.log || fail "$3: no log line"
  [ -f "$1/unconfigured" ] || fail "$3: the box cleared its unconfigured flag"
  [ ! -f "$1/params191.json" ] || fail "$3: the box stored parameters"
}
register() { # SERIAL -> prints the CB ID
  "${ADM[@]}" --json cb register --serial "$1" --line "+4420$RANDOM$RANDOM" --name "User $1" --address "2 Low St" \
    --billing "acct-$1" | jq -r .cb_id
}
# Serial mismatch: the box logs in as SN-B000001 but holds SN-B000002's certificate and key.
CB_B1=$(register SN-B000001)
cp $T/batch/SN-B000002/serial.crt $T/batch/SN-B000002/key.pem $T/batch/SN-B000001/
phase2_refused $T/batch/SN-B000001 $CB_B1 serial_mismatch
# The CSS's certificate is not from the box's root CA: the box refuses the TLS handshake.
"$MOBIX" pki init --dir $T/other-ca --cn "Impostor CA" >/dev/null
"$MOBIX" factory mint --config $T/mobix.yaml --serial SN-C1 --out $T/boxC --css-name css.cb.test --retry 1 >/dev/null
cp $T/other-ca/ca.crt $T/boxC/ca.crt
CB_C=$(register SN-C1)
phase2_refused $T/boxC $CB_C untrusted_certificate
# Revoked serial: refused at the configuration log-in already (RADIUS), with the reason on the record.
CB_B2=$(register SN-B000002)
"$MOBIX" factory revoke --config $T/mobix.yaml --serial SN-B000002 | grep -q "revoked SN-B000002" || fail "revoke"
openssl verify -crl_check -CRLfile $T/ca/crl.pem -CAfile $T/ca/ca.crt $T/batch/SN-B000002/serial.crt >/dev/null 2>&1 &&
  fail "the revoked certificate still verifies against the CRL"
before=$(metric 'mobix_radius_access_rejects_total{reason="revoked_serial"}')
"${CB[@]}" --state $T/batch/SN-B000002 --line +4420777777 >$T/b2.log 2>&1 &
pid=$!
for _ in $(seq 1 50); do grep -q "refused: serial number revoked" $T/b2.log && break; sleep 0.1; done
kill $pid; wait $pid 2>/dev/null || true
grep -q "refused: serial number revoked" $T/b2.log || fail "the revoked box was not told why"
[ "$(metric 'mobix_radius_access_rejects_total{reason="revoked_serial"}')" -ge $((before + 1)) ] || fail "revoked_serial not counted"
curl -fsS http://$ADMIN/api/v1/cb/$CB_B2 | jq -e '.state == "config_error" and (.state_reason | contains("revoked"))' >/dev/null ||
  fail "the revoked box's record does not say so"
# An expired serial-number certificate (minted with no validity left): TLS refuses it.
"$MOBIX" factory mint --config $T/mobix.yaml --serial SN-X1 --out $T/boxX --css-name css.cb.test --retry 1 --days 0 >/dev/null
sleep 1
CB_X=$(register SN-X1)
phase2_refused $T/boxX $CB_X untrusted_certificate
curl -fsS http://$ADMIN/api/v1/cb/$CB_X | jq -e '.state_reason | test("expired")' >/dev/null ||
  fail "the expired certificate's record does not say so: $(curl -fsS http://$ADMIN/api/v1/cb/$CB_X | jq -r .state_reason)"
pass "refusals: serial mismatch, CSS certificate from another CA, revoked serial, expired certificate (record, counter, log; nothing stored)"

# --- kill -9 of the box agent while it configures, then power it up again: it completes ---
"$MOBIX" factory mint --config $T/mobix.yaml --serial SN-D1 --out $T/boxD --css-name css.cb.test --retry 1 >/dev/null
CB_D=$(register SN-D1)
for delay in 0.15 0.3; do
  "${CB[@]}" --state $T/boxD --line +4420000004 >>$T/boxD.log 2>&1 &
  pid=$!
  sleep $delay
  kill -9 $pid; wait $pid 2>/dev/null || true
  # Old state or new, never a mix: parameters 191 are absent or whole, and the flag stays until
  # they are.
  if [ -f $T/boxD/params191.json ]; then jq -e .cb_certificate $T/boxD/params191.json >/dev/null || fail "torn parameters 191"; fi
  [ -f $T/boxD/unconfigured ] || [ -f $T/boxD/params191.json ] || fail "flag cleared without parameters"
done
"${CB[@]}" --state $T/boxD --line +4420000004 >>$T/boxD.log 2>&1 &
PIDS+=($!)
for _ in $(seq 1 200); do
  state=$(curl -fsS http://$ADMIN/api/v1/cb/$CB_D | jq -r .state)
  [ "$state" = online ] || [ "$state" = configured ] && break
  sleep 0.1
done
[ "$state" = online ] || [ "$state" = configured ] ||
  fail "box D after kill -9: $(curl -fsS http://$ADMIN/api/v1/cb/$CB_D | jq -c '{state,state_reason}')"
[ ! -f $T/boxD/unconfigured ] || fail "box D still unconfigured"
jq -r .cb_certificate $T/boxD/params191.json | openssl x509 -noout -serial | grep -qi "$(curl -fsS http://$ADMIN/api/v1/cb/$CB_D | jq -r .cert_serial)" ||
  fail "box D holds a CB certificate the CSS no longer accepts"
pass "kill -9 during configuration: nothing torn, and the box completes after a restart"

# --- an unregistered box waits; openssl s_client meets its configuration server meanwhile ---
"$MOBIX" factory mint --config $T/mobix.yaml --serial SN-E1 --out $T/boxE --css-name css.cb.test --config-wait 8 >/dev/null
before=$(metric 'mobix_css_phase2_total{result="unregistered"}')
"${CB[@]}" --state $T/boxE --line +4420000005 >$T/boxE.log 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do grep -q "awaiting_download" $T/boxE.log && break; sleep 0.1; done
E_IP=$(grep -o 'logged in as SN-E1@config.cb.test at [0-9.]*' $T/boxE.log | awk '{print $NF}')
[ -n "$E_IP" ] || fail "box E did not log in: $(tail -3 $T/boxE.log)"
for _ in $(seq 1 30); do [ "$(metric 'mobix_css_phase2_total{result="unregistered"}')" -gt "$before" ] && break; sleep 0.1; done
[ "$(metric 'mobix_css_phase2_total{result="unregistered"}')" = $((before + 1)) ] || fail "unregistered not counted"
grep -q "css: Phase II for box SN-E1 at $E_IP refused (unregistered)" $T/serve.log || fail "unregistered: no log line"
# The box's server proves the serial (its certificate verifies against the root CA) to a client
# with the CSS's certificate, and refuses a client without one.
out=$(echo | openssl s_client -connect $E_IP:$P_BOX -CAfile $T/ca/ca.crt -cert $T/css.crt -key $T/css.key \
  -verify_return_error 2>&1 || true)
echo "$out" | grep -q "Verify return code: 0 (ok)" || fail "s_client to the box: $(echo "$out" | tail -5)"
echo "$out" | grep -q "subject=.*CN = SN-E1" || fail "the box's server certificate is not its serial-number certificate"
out=$(printf 'POST /cb/v1/configuration HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}' |
  openssl s_client -connect $E_IP:$P_BOX -CAfile $T/ca/ca.crt -quiet 2>&1 || true)
echo "$out" | grep -q "HTTP/1.1" && fail "the box served a client without a certificate: $out"
pass "unregistered box: counted and logged; openssl s_client: the box serves its serial certificate, mutual TLS only"

# --- a serial revoked after configuration: its CB certificate is refused too ---
"$MOBIX" factory revoke --config $T/mobix.yaml --serial SN-A1 >/dev/null
css_refusal revoked_serial $T/boxA-cb.crt $T/boxA/key.pem
pass "a box whose serial was revoked after configuration is refused by the connectivity listener"
