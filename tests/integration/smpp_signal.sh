#!/usr/bin/env bash
# Seed 001 step D over SMS: a sealed access request signal travels relay -> SMSC -> gateway as a
# binary short message. Our SMPP client (sending and receiving) and our lab SMSC (a stand-in for the
# operator's) are each tested against an independent implementation (Perl Net::SMPP), and the signal that comes out
# opens with the gateway's key while a tampered one does not.
source "$(dirname "$0")/lib.sh"
perl -MNet::SMPP -e1 2>/dev/null || fail "Net::SMPP missing (scripts/install-deps.sh installs libnet-smpp-perl)"
PEER="perl $(dirname "$0")/smpp_peer.pl"
read -r P_PERL <<<"$(free_ports t)"

openssl rand -hex 32 >$T/signal.key
SIG=$("$MOBIX" signal seal --key-file $T/signal.key --relay-ip 198.51.100.7 --callback-port 7443 \
  --msisdn 31612345678 --target-port 8080 --protocol http --ttl 60)
[ $((${#SIG} / 2)) -le 140 ] || fail "the sealed signal does not fit one SMS (${#SIG} hex digits)"

# 1. The lab SMSC with a relay account and a gateway account.
"$MOBIX" smpp smsc --listen 127.0.0.1:0 --port-file $T/smsc.port --account relay:relay-pw --account gateway:gw-pw \
  >$T/smsc.log 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -s $T/smsc.port ] && break; sleep 0.05; done
SMSC=127.0.0.1:$(cat $T/smsc.port)

# 2. The gateway binds as a receiver for the mobile numbers it serves.
"$MOBIX" smpp receive --smsc $SMSC --system-id gateway --password gw-pw --address-range 316 --count 2 \
  >$T/gw.out 2>&1 &
GW=$!
PIDS+=($GW)
for _ in $(seq 100); do grep -q '^bound' $T/gw.out && break; sleep 0.05; done

# 3. Net::SMPP as the relay's ESME submits the signal to our SMSC...
$PEER esme 127.0.0.1 "${SMSC#*:}" relay relay-pw 31612345678 "$SIG" >$T/perl-esme.out 2>&1 \
  || fail "Net::SMPP could not submit to the lab SMSC: $(cat $T/perl-esme.out)"
grep -q "submit_sm_resp status=0 message_id=lab-" $T/perl-esme.out || fail "no message_id: $(cat $T/perl-esme.out)"
# ...and our ESME does too.
"$MOBIX" smpp submit --smsc $SMSC --system-id relay --password relay-pw --to 31612345678 --hex "$SIG" >$T/esme.out 2>&1 \
  || fail "mobix smpp submit: $(cat $T/esme.out)"
wait $GW || fail "the gateway did not receive two messages: $(cat $T/gw.out)"
[ "$(grep -c "deliver_sm from=.* to=31612345678 dcs=4 hex=$SIG" $T/gw.out)" = 2 ] || fail "payload changed: $(cat $T/gw.out)"
pass "Net::SMPP and mobix submit the binary signal to the lab SMSC; the gateway receives it intact as deliver_sm"

got=$(grep -m1 -o 'hex=[0-9a-f]*' $T/gw.out | cut -d= -f2)
"$MOBIX" signal open --key-file $T/signal.key "$got" >$T/opened.json || fail "the gateway could not open the signal"
[ "$(jq -r '.msisdn + " " + (.target_port|tostring) + " " + .relay_ip + " " + .protocol' $T/opened.json)" \
  = "31612345678 8080 198.51.100.7 http" ] || fail "opened signal: $(cat $T/opened.json)"
tampered=${got:0:60}$(printf '%x' $(((0x${got:60:1} + 1) % 16)))${got:61}
"$MOBIX" signal open --key-file $T/signal.key "$tampered" >/dev/null 2>$T/tamper.err && fail "a tampered signal opened"
grep -q "authentication failed" $T/tamper.err || fail "tamper error: $(cat $T/tamper.err)"
openssl rand -hex 32 >$T/other.key
"$MOBIX" signal open --key-file $T/other.key "$got" >/dev/null 2>&1 && fail "a signal opened with another key"
pass "the signal opens with the gateway's key; tampered or foreign-key signals are refused"

# 4. Wrong bind password at our SMSC (from Net::SMPP), and at Net::SMPP's SMSC (from mobix).
# (Net::SMPP carries on after a refused bind; its submit_sm then gets 0x04, incorrect bind status.)
$PEER esme 127.0.0.1 "${SMSC#*:}" relay wrong 31612345678 00 >$T/wrong.out 2>&1 && fail "our SMSC accepted a wrong password"
grep -q "submit_sm_resp status=4 " $T/wrong.out || fail "unbound submit_sm: $(cat $T/wrong.out)"
grep -q "bind as relay refused (0x0000000E)" $T/smsc.log || fail "no log line for the refused bind"
$PEER smsc $P_PERL $T/perl-smsc.log >$T/perl-smsc.out 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q listening $T/perl-smsc.out && break; sleep 0.05; done
"$MOBIX" smpp submit --smsc 127.0.0.1:$P_PERL --system-id relay --password relay-pw --to 31612345678 --hex "$SIG" \
  >$T/to-perl.out 2>&1 || fail "mobix -> Net::SMPP SMSC: $(cat $T/to-perl.out)"
grep -q "submitted message_id=perl1" $T/to-perl.out || fail "message_id from Net::SMPP: $(cat $T/to-perl.out)"
grep -q "submit_sm to=31612345678 dcs=4 hex=$SIG" $T/perl-smsc.log || fail "Net::SMPP got: $(cat $T/perl-smsc.log)"
"$MOBIX" smpp submit --smsc 127.0.0.1:$P_PERL --system-id relay --password bad --to 1 --hex 00 >$T/bad.out 2>&1 \
  && fail "a refused bind reported success"
grep -q "status 0x0000000E" $T/bad.out || fail "bind refusal not reported: $(cat $T/bad.out)"
pass "mobix's ESME against Net::SMPP's SMSC: submit acknowledged, bind refusal (0x0E) reported"

# 4b. The gateway's receiving side against Net::SMPP as the SMSC: it binds as a receiver and gets
# the signal as a deliver_sm from an implementation other than our lab SMSC, and acknowledges it.
read -r P_PERL2 <<<"$(free_ports t)"
$PEER smsc $P_PERL2 $T/perl-smsc2.log 31612345678 "$SIG" >$T/perl-smsc2.out 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q listening $T/perl-smsc2.out && break; sleep 0.05; done
timeout 10 "$MOBIX" smpp receive --smsc 127.0.0.1:$P_PERL2 --system-id gateway --password gw-pw --address-range 316 \
  --count 1 >$T/from-perl.out 2>&1 || fail "mobix's receiver got nothing from Net::SMPP: $(cat $T/from-perl.out)"
grep -q "deliver_sm from=31600000000 to=31612345678 dcs=4 hex=$SIG" $T/from-perl.out ||
  fail "deliver_sm from Net::SMPP: $(cat $T/from-perl.out)"
for _ in $(seq 40); do grep -q "deliver_sm_resp" $T/perl-smsc2.log && break; sleep 0.05; done
grep -q "deliver_sm_resp status=0" $T/perl-smsc2.log || fail "Net::SMPP got no positive deliver_sm_resp: $(cat $T/perl-smsc2.log)"
pass "the gateway's receiver against Net::SMPP's SMSC: the deliver_sm arrives intact and is acknowledged"

# 5. A signal for a gateway that is not bound yet waits at the SMSC and is delivered on bind.
"$MOBIX" smpp submit --smsc $SMSC --system-id relay --password relay-pw --to 31699000001 --hex "$SIG" >/dev/null \
  || fail "submit while no receiver is bound"
timeout 10 "$MOBIX" smpp receive --smsc $SMSC --system-id gateway --password gw-pw --address-range 3169 --count 1 \
  >$T/late.out 2>&1 || fail "the late gateway got nothing: $(cat $T/late.out)"
grep -q "to=31699000001 dcs=4 hex=$SIG" $T/late.out || fail "held message: $(cat $T/late.out)"
pass "the lab SMSC holds a message until a receiver for its destination binds"
