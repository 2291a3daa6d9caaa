#!/usr/bin/env bash
# An accounting flood above what the store can commit (issue 12 item 9): with max_pending_writes set
# to 20, a burst of 1,000 Starts from radclient (250 in flight) overruns the writer. The excess is
# dropped unanswered and counted (`overloaded`, with a log line), nothing queues without bound, and
# radclient's retransmissions (RFC 5080 2.2.1) get every session in.
source "$(dirname "$0")/lib.sh"
read -r P_AUTH P_ACCT P_ADMIN <<<"$(free_ports u u t)"
cat >"$T/mobix.yaml" <<YAML
store: {path: state.db}
admin: {listen: "127.0.0.1:$P_ADMIN", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:$P_AUTH
    acct_listen: 127.0.0.1:$P_ACCT
    max_pending_writes: 20
    clients: [{name: nas, address: 127.0.0.1/32, secret: a-long-test-secret}]
  pools: [{name: internet, range: 10.64.0.0/16}]
YAML
start_serve "$T/mobix.yaml" "$P_ADMIN" "$T/serve.log" || fail "serve: $(tail -3 "$T/serve.log")"
ADMIN=127.0.0.1:$P_ADMIN
for i in $(seq 1000); do
  printf 'Acct-Status-Type = Start\nAcct-Session-Id = "F%s"\nFramed-IP-Address = 10.64.%s.%s\nCalling-Station-Id = "3161%07d"\nNAS-Identifier = "ggsn-flood"\n\n' \
    $i $((i / 200)) $((i % 200 + 1)) $i
done >$T/flood.txt
radclient -q -p 250 -r 20 -t 1 -f $T/flood.txt 127.0.0.1:$P_ACCT acct a-long-test-secret || fail "radclient gave up on some Starts"
dropped=$(metric 'mobix_radius_dropped_total{listener="acct",reason="overloaded"}')
[ "$dropped" -ge 1 ] || fail "the burst never overran max_pending_writes (nothing dropped)"
grep -q "radius acct: dropped packet from 127.0.0.1: overloaded" $T/serve.log || fail "no log line for overloaded"
[ "$(session_count)" = 1000 ] || fail "$(session_count) sessions of 1000 after the retransmissions"
pass "1,000 Starts at once against max_pending_writes 20: $dropped dropped unanswered (counter, log line), all 1,000 in after retransmission"
