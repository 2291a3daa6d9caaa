#!/usr/bin/env bash
# Seed 004 Phase III: "If the CB did not connect back within a pre-set timeout period, the
# configuration protocol entity flags an error condition." A box configures (Phase II) but never
# hears its wake-up (its line's SMSC account is wrong); after css.callback_timeout its record shows
# a configuration error, counted and logged.
source "$(dirname "$0")/lib.sh"
start_css "  callback_timeout: 5"
"$MOBIX" factory mint --config $T/mobix.yaml --serial SN-T1 --out $T/boxT --css-name css.cb.test --retry 1 >/dev/null
CB_T=$("${ADM[@]}" --json cb register --serial SN-T1 --line +4420000066 --name "Timeout Box" --address x --billing y | jq -r .cb_id)
before=$(metric mobix_css_callback_timeouts_total)
"$MOBIX" cb run --state $T/boxT --line +4420000066 --nas 127.0.0.1:$P_AUTH --nas-acct 127.0.0.1:$P_ACCT \
  --nas-secret-file $T/nas_secret --smsc 127.0.0.1:$P_SMSC --smsc-account boxes:wrongpw >$T/boxT.log 2>&1 &
PIDS+=($!)
for _ in $(seq 1 150); do
  rec=$(curl -fsS http://$ADMIN/api/v1/cb/$CB_T)
  [ "$(echo "$rec" | jq -r .state)" = config_error ] && break
  sleep 0.1
done
echo "$rec" | jq -e '.state == "config_error" and (.state_reason | test("did not call back within 5 s"))' >/dev/null ||
  fail "record: $(echo "$rec" | jq -c '{state,state_reason}')"
[ ! -f $T/boxT/unconfigured ] || fail "Phase II did not complete on the box"
[ "$(metric mobix_css_callback_timeouts_total)" = $((before + 1)) ] || fail "the timeout was not counted"
grep -q "css: box SN-T1 (.*): did not call back after its wake-up" $T/serve.log || fail "no log line"
grep -q "cannot bind to the SMSC" $T/boxT.log || fail "the box's wake-up channel should have been refused"
pass "no call back after the wake-up: configuration error on the record (counter, log)"
