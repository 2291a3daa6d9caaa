#!/usr/bin/env bash
# Seed 001 across a real NAT and firewall (issue 5 item 7). The test builds two networks, each a
# network namespace joined by a veth pair:
#   $NI = "the Internet": the relay, the client, the SMS network (lab SMSC)
#   $NS = the operator network behind NAT, with a firewall that drops every inbound
#                     connection: the access role, the gateway and the mobile server (a handset)
# It shows the direct connection fails and the relayed one works (HTTP by Host, raw TCP by port), 100 tunnels in parallel each
# carry their own data, and with the gateway down clients get a clean 503 within the hold time.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || fail "needs root for ip netns"
command -v nft >/dev/null || fail "nft missing (scripts/install-deps.sh installs nftables)"
NS=mbx-op-$$
NI=mbx-inet-$$
INET=192.0.2.1 # the relay's public address (RFC 5737 documentation range)
OPNET=192.0.2.2
teardown() {
  ip netns pids $NS 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns pids $NI 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns del $NS 2>/dev/null || true
  ip netns del $NI 2>/dev/null || true
}
trap 'cleanup; teardown' EXIT
inns() { ip netns exec $NS "$@"; }
ini() { ip netns exec $NI "$@"; }

ip netns add $NS
ip netns add $NI
ip link add mbx-i$$ netns $NI type veth peer name mbx-o$$ netns $NS
ini ip addr add $INET/24 dev mbx-i$$
ini ip link set mbx-i$$ up
ini ip link set lo up
inns ip link set lo up
inns ip addr add $OPNET/24 dev mbx-o$$
inns ip link set mbx-o$$ up
inns ip route add default via $INET
# Handsets live in 10.64.0.0/24 inside the operator network (AnyIP: any address there is local).
inns ip route add local 10.64.0.0/24 dev lo
# The operator's NAT and firewall: outbound is masqueraded; inbound connections are dropped.
inns nft -f - <<NFT
table inet mobix_test {
  chain input {
    type filter hook input priority 0; policy drop;
    iif lo accept
    ct state established,related accept
  }
}
table ip mobix_nat {
  chain postrouting {
    type nat hook postrouting priority 100;
    oifname "mbx-o$$" masquerade
  }
}
NFT

read -r P_SMSC P_PUBLIC P_CALLBACK P_ADMIN_RELAY P_WEB P_AUTH P_ACCT P_ADMIN_OP P_RAWPUB P_RAW <<<"$(free_ports t t t t t u u t t t)"
"$MOBIX" pki init --dir $T/ca --cn "Relay CA" >/dev/null
"$MOBIX" pki issue --dir $T/ca --cn relay --ip $INET --out $T/relay >/dev/null
openssl rand -hex 32 >$T/signal.key

ip netns exec $NI "$MOBIX" smpp smsc --listen $INET:$P_SMSC --account relay:relay-pw --account gateway:gw-pw >$T/smsc.log 2>&1 &
PIDS+=($!)
mkdir -p $T/op $T/relaynode
cat >$T/relaynode/mobix.yaml <<YAML
store: {path: mobix.db}
admin: {listen: "127.0.0.1:$P_ADMIN_RELAY", no_token: true}
relay:
  public_listen: $INET:$P_PUBLIC
  callback_listen: $INET:$P_CALLBACK
  tls_cert_file: ../relay.crt
  tls_key_file: ../relay.key
  signal_key: {id: 1, key_file: ../signal.key}
  smpp: {smsc: "$INET:$P_SMSC", system_id: relay, password: relay-pw}
  gateway_msisdn: "31699000000"
  hold_timeout: 5
  max_pending_per_client_ip: 200
  max_pending_per_target: 200
  port_map: [{listen: "$INET:$P_RAWPUB", hostname: cam.mobile.test, target_port: $P_RAW}]
YAML
cat >$T/op/mobix.yaml <<YAML
store: {path: mobix.db}
admin: {listen: "0.0.0.0:$P_ADMIN_OP", token: netns-admin-token-1}  # on every address: the firewall must stop it
access:
  radius:
    auth_listen: 127.0.0.1:$P_AUTH
    acct_listen: 127.0.0.1:$P_ACCT
    clients: [{name: pgw, address: 127.0.0.1/32, secret: netns-test-secret}]
  pools: [{name: internet, range: 10.64.0.10-10.64.0.200}]
gateway:
  smpp: {smsc: "$INET:$P_SMSC", system_id: gateway, password: gw-pw}
  address_range: "31699000000"
  signal_keys: [{id: 1, key_file: ../signal.key}]
  relay_ca_file: ../ca/ca.crt
  connect_timeout: 3
  multiplex: ${MULTIPLEX:-false}
YAML
ip netns exec $NI "$MOBIX" serve --config $T/relaynode/mobix.yaml >$T/relay.log 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do ini curl -fsS http://127.0.0.1:$P_ADMIN_RELAY/healthz >/dev/null 2>&1 && break; sleep 0.05; done
ip netns exec $NS "$MOBIX" serve --config $T/op/mobix.yaml >$T/op.log 2>&1 &
OP_PID=$!
PIDS+=($OP_PID)
for _ in $(seq 100); do inns curl -fsS http://127.0.0.1:$P_ADMIN_OP/healthz >/dev/null 2>&1 && break; sleep 0.05; done
for _ in $(seq 100); do grep -q "gateway bound (receiver)" $T/smsc.log && break; sleep 0.05; done
grep -q "gateway bound (receiver)" $T/smsc.log || fail "the gateway did not bind to the SMSC: $(tail -3 $T/op.log)"

inns curl -fsS -X POST http://127.0.0.1:$P_ADMIN_OP/api/v1/subscribers -H "Authorization: Bearer netns-admin-token-1" \
  --json '{"msisdn":"31610000001","username":"cam","password":"cam-radius-pw"}' >/dev/null
ini curl -fsS -X POST http://127.0.0.1:$P_ADMIN_RELAY/api/v1/subscribers \
  --json '{"msisdn":"31610000001","hostname":"cam.mobile.test","attrs":{"relay.http_port":"'$P_WEB'"}}' >/dev/null
IP=$(inns "$MOBIX" sim attach --auth 127.0.0.1:$P_AUTH --acct 127.0.0.1:$P_ACCT --secret netns-test-secret \
  --state-dir $T/sim --msisdn 31610000001 --username cam --password cam-radius-pw | tail -1)
[[ $IP == 10.64.0.* ]] || fail "attach: $IP"
ip netns exec $NS /usr/bin/python3 "$(dirname "$0")/relay_echo_server.py" "$IP" $P_WEB >$T/web.log 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do inns curl -fsS "http://$IP:$P_WEB/" >/dev/null 2>&1 && break; sleep 0.05; done
inns curl -fsS "http://$IP:$P_WEB/" >/dev/null || fail "the mobile server did not start: $(cat $T/web.log) $(inns ss -ltnp) $(inns ip route show table local)"

# Direct: the operator network is not reachable from the Internet (no route to the handset, and
# the firewall drops connections to the operator's public address).
ini curl -sS --max-time 2 "http://$IP:$P_WEB/" >/dev/null 2>&1 && fail "the handset is reachable directly"
rc=0
ini curl -sS --max-time 2 "http://$OPNET:$P_ADMIN_OP/healthz" >/dev/null 2>&1 || rc=$?
[ $rc = 28 ] || fail "a connection into the operator network was not dropped by the firewall (curl rc $rc)"
out=$(ini curl -sS --max-time 10 -H "Host: cam.mobile.test" "http://$INET:$P_PUBLIC/")
[ "$out" = "hello from the mobile server" ] || fail "through the relay: '$out' $(tail -3 $T/relay.log)"
pass "behind NAT and a firewall: the direct connection fails, the relayed one reaches the mobile server"

# A raw TCP service (no Host header, no SNI) through its port-mapped relay port: the server's
# greeting, 256 KiB of data both ways and the half-close all cross; the direct path does not.
ip netns exec $NS /usr/bin/python3 "$(dirname "$0")/relay_tcp_echo.py" "$IP" $P_RAW >$T/raw.log 2>&1 &
PIDS+=($!)
head -c 262144 /dev/urandom >$T/raw.in
for _ in $(seq 100); do inns /usr/bin/python3 "$(dirname "$0")/relay_tcp_client.py" "$IP" $P_RAW /dev/null 2 >/dev/null 2>&1 && break; sleep 0.05; done
ini /usr/bin/python3 "$(dirname "$0")/relay_tcp_client.py" "$IP" $P_RAW $T/raw.in 2 >/dev/null 2>&1 \
  && fail "the raw service is reachable directly"
ini /usr/bin/python3 "$(dirname "$0")/relay_tcp_client.py" $INET $P_RAWPUB $T/raw.in 15 >$T/raw.out \
  || fail "raw TCP through the relay: $(tail -3 $T/relay.log)"
{ printf 'RAW-ECHO ready\r\n'; cat $T/raw.in; } | cmp -s - $T/raw.out \
  || fail "raw TCP through the relay: $(stat -c %s $T/raw.out) octets back, not the greeting + 262144"
pass "a raw TCP service through its port-mapped relay port: greeting, data and half-close intact"
printf 'RESET' >$T/reset.in
out=$(ini /usr/bin/python3 "$(dirname "$0")/relay_tcp_client.py" $INET $P_RAWPUB $T/reset.in 15 2>&1) \
  && fail "the raw service's reset did not reach the client: '$out'"
grep -q "reset by peer" <<<"$out" || fail "the client did not see a reset: '$out'"
pass "a reset by the mobile server crosses the tunnel (terminal -> gateway -> TLS leg -> relay -> client)"

# 100 tunnels at once, each with its own 64 KiB of data, echoed back intact.
mkdir -p $T/par
for i in $(seq 100); do head -c 65536 /dev/urandom >$T/par/$i.in; done
for i in $(seq 100); do
  ini curl -sS --max-time 30 -H "Host: cam.mobile.test" --data-binary @$T/par/$i.in \
    "http://$INET:$P_PUBLIC/echo" -o $T/par/$i.out &
done
wait_ok=0
for _ in $(seq 300); do
  done_n=$(find $T/par -name '*.out' -size 65536c | wc -l)
  [ "$done_n" = 100 ] && { wait_ok=1; break; }
  sleep 0.1
done
bad=0
for i in $(seq 100); do cmp -s $T/par/$i.in $T/par/$i.out || bad=$((bad + 1)); done
[ $bad = 0 ] || fail "$bad of 100 parallel tunnels lost or mixed data (relay: $(grep -c 'closed' $T/relay.log) closed)"
pass "100 tunnels in parallel, each carrying its own 64 KiB intact"

# The gateway down: clients get a clean 503 within the hold time.
kill $OP_PID
wait $OP_PID 2>/dev/null || true
start=$(date +%s)
code=$(ini curl -s -o /dev/null -w '%{http_code}' --max-time 15 -H "Host: cam.mobile.test" "http://$INET:$P_PUBLIC/")
[ "$code" = 503 ] || fail "gateway down: HTTP $code"
[ $(($(date +%s) - start)) -le 7 ] || fail "the 503 took longer than the hold time"
pass "gateway down: the client gets 503 within the hold time"
