#!/usr/bin/env bash
# The lab's seed 004 part, as the README walks through it: two demo boxes minted, registered and
# powered up at start reach Phase III by themselves; lab.json lists them and the console; a third box
# minted and registered by hand (`mobix cb run --lab`) configures itself too.
source "$(dirname "$0")/lib.sh"
start_lab "$T" --with-boxes
jq -e '.boxes | length == 2' "$T/lab.json" >/dev/null || fail "lab.json lists no boxes"
CONSOLE=$(jq -r .console "$T/lab.json")
curl -fsS "$CONSOLE" | grep -q "mobix call center" || fail "the console at $CONSOLE"
state_of() { curl -fsS "http://$ADMIN/api/v1/cb/$1" | jq -r .state; }
for serial in $(jq -r '.boxes[].serial' "$T/lab.json"); do
  for _ in $(seq 1 300); do
    s=$(state_of "$serial")
    [ "$s" = online ] || [ "$s" = configured ] && break
    sleep 0.1
  done
  [ "$s" = online ] || [ "$s" = configured ] || fail "demo box $serial: $(curl -fsS http://$ADMIN/api/v1/cb/$serial | jq -c '{state,state_reason}')"
done
pass "the two demo boxes configured themselves and called back; lab.json lists them and the console"

"$MOBIX" factory mint --config "$T/mobix.yaml" --serial MY-BOX-1 --out "$T/boxes/MY-BOX-1" --css-name css.lab.mobix.test >/dev/null
"$MOBIX" admin --lab "$T" cb register --serial MY-BOX-1 --line +31699100003 --name "Your Name" \
  --address "Your Street 1" --billing "ref-1" | grep -q "registered MY-BOX-1" || fail "register by hand"
"$MOBIX" cb run --lab "$T" --state "$T/boxes/MY-BOX-1" --line +31699100003 >"$T/mybox.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 300); do
  s=$(state_of MY-BOX-1)
  [ "$s" = online ] || [ "$s" = configured ] && break
  sleep 0.1
done
[ "$s" = online ] || [ "$s" = configured ] || fail "MY-BOX-1: $(curl -fsS http://$ADMIN/api/v1/cb/MY-BOX-1 | jq -c '{state,state_reason}'); $(tail -3 $T/mybox.log)"
"$MOBIX" admin --lab "$T" cb list | grep -q "MY-BOX-1" || fail "cb list"
pass "a third box minted, registered and plugged in by hand (mobix cb run --lab) configured itself"
