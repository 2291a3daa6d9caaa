#!/usr/bin/env bash
# Seed 003 in the lab (issue 16 item 6): `mobix lab` creates a Kerberos realm with its own KDC in its
# directory, and its demo phones are switched on at start: represented through Kerberos (kinit with
# the lab's keytab cross-checks the realm) and registered with the Home Agent. A phone switched off
# is deregistered, switched on elsewhere it moves, and after a restart of the lab both are back.
source "$(dirname "$0")/lib.sh"
command -v krb5kdc >/dev/null || fail "krb5kdc is not installed"
L=$T/lab
start_lab "$L"
[ "$(jq -r .telephony.realm "$L/lab.json")" = LAB.MOBIX.TEST ] || fail "lab.json lists no realm"
mapfile -t PHONES < <(jq -r '.telephony.devices[].identity_code' "$L/lab.json")
[ "${#PHONES[@]}" = 2 ] || fail "lab.json lists ${#PHONES[@]} phones"
state() { "$MOBIX" sim device status --lab "$L" --id "$1" 2>/dev/null | jq -r '.state // empty'; }
wait_active() { for _ in $(seq 1 200); do [ "$(state "$1")" = active ] && return 0; sleep 0.1; done; fail "$1 is $(state "$1")"; }
binding_of() { curl -fsS "http://$ADMIN/api/v1/mip/bindings" | jq -r --arg h "$1" '[.[] | select(.home_address == $h) | .care_of] | join(",")'; }
for p in "${PHONES[@]}"; do wait_active "$p"; done
[ "$(binding_of 10.64.0.1)" = 192.0.2.10 ] || fail "alice's phone has no binding: $(binding_of 10.64.0.1)"
KRB5_CONFIG=$(jq -r .telephony.krb5_conf "$L/lab.json") KRB5CCNAME=FILE:$T/cc kinit -k -t "$L/krb5/mm.keytab" "${PHONES[0]}@LAB.MOBIX.TEST" ||
  fail "kinit against the lab's KDC"
KRB5CCNAME=FILE:$T/cc klist | grep -q "krbtgt/LAB.MOBIX.TEST@LAB.MOBIX.TEST" || fail "no TGT from the lab's KDC"
pass "the lab's realm and KDC are up; both demo phones are represented and registered (kinit cross-checks the realm)"

# A secure call between the two phones (the README's example): SRTP both ways, a record on each side.
"$MOBIX" sim device dial --lab "$L" --id "${PHONES[0]}" --to "${PHONES[1]}" --seconds 1 >"$T/dial" ||
  fail "the lab's call: $(cat "$T/dial")"
call=$(jq -r .call_id "$T/dial")
[ "$(jq '.srtp_received > 0 and .srtp_refused == 0' "$T/dial")" = true ] || fail "the call's media: $(cat "$T/dial")"
records() { curl -fsS "http://$ADMIN/api/v1/charges" | jq --arg c "$call" '[.[] | select(.call_id == $c) | .principal] | sort | join(",")'; }
want="\"${PHONES[0]}@LAB.MOBIX.TEST,${PHONES[1]}@LAB.MOBIX.TEST\""
for _ in $(seq 1 50); do [ "$(records)" = "$want" ] && break; sleep 0.1; done
[ "$(records)" = "$want" ] || fail "billing records of the lab's call: $(records)"
[ "$(jq -r '.endpoints["mobility_manager.sip"].port' "$L/lab.json")" -gt 0 ] || fail "lab.json lists no SIP end point"
pass "the lab's phones call each other (Kerberos-keyed SRTP); billing has a record for each side"

"$MOBIX" sim device off --lab "$L" --id "${PHONES[0]}" >/dev/null
for _ in $(seq 1 100); do [ -z "$(binding_of 10.64.0.1)" ] && break; sleep 0.05; done
[ -z "$(binding_of 10.64.0.1)" ] || fail "switched off, still bound"
for _ in $(seq 1 100); do [ -z "$(state "${PHONES[0]}")" ] && break; sleep 0.05; done
"$MOBIX" sim device on --lab "$L" --id "${PHONES[0]}" --care-of 203.0.113.7 >/dev/null
wait_active "${PHONES[0]}"
[ "$(binding_of 10.64.0.1)" = 203.0.113.7 ] || fail "switched on elsewhere: $(binding_of 10.64.0.1)"
pass "a phone switched off is deregistered; switched on in another network it registers its new care-of address"

kill "$LAB_PID"; wait "$LAB_PID" 2>/dev/null || true
start_lab "$L"
for p in "${PHONES[@]}"; do wait_active "$p"; done
pass "after a restart of the lab both phones are represented again"
