#!/usr/bin/env bash
# Seed 004, network-level zero touch (issue 15 item 5), across two network namespaces:
#   $OP  = the operator: the access and css roles, the SMSC, and a web service standing for "the
#          Internet"; the firewall is examples/nftables-config-pool.nft, loaded as an operator would
#   $BOX = the boxes' access network: configuration-pool (10.77.0.0/24) and box-pool (10.78.0.0/24)
#          addresses are local there (AnyIP), as a NAS would route them to the boxes
# A box configures itself through the firewall (Phase II: the CSS connects to it; Phase III: it calls
# the CSS from its normal address); an address from the configuration pool reaches the CSS and
# nothing else, while a normal box address reaches the web service.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || fail "needs root for ip netns"
command -v nft >/dev/null || fail "nft missing (scripts/install-deps.sh installs nftables)"
OP=mbx-cbop-$$
BOX=mbx-cbbox-$$
OPNET=198.51.100.1
BOXNET=198.51.100.2
teardown() {
  ip netns pids $OP 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns pids $BOX 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns del $OP 2>/dev/null || true
  ip netns del $BOX 2>/dev/null || true
}
trap 'teardown; cleanup' EXIT  # teardown first: it stops what runs inside the namespaces
inop() { ip netns exec $OP "$@"; }
inbox() { ip netns exec $BOX "$@"; }
ip netns add $OP
ip netns add $BOX
ip link add mbx-co$$ netns $OP type veth peer name mbx-cb$$ netns $BOX
inop ip addr add $OPNET/24 dev mbx-co$$
inop ip link set mbx-co$$ up
inop ip link set lo up
inbox ip addr add $BOXNET/24 dev mbx-cb$$
inbox ip link set mbx-cb$$ up
inbox ip link set lo up
inbox ip route add local 10.77.0.0/24 dev lo
inbox ip route add local 10.78.0.0/24 dev lo
inop ip route add 10.77.0.0/24 via $BOXNET
inop ip route add 10.78.0.0/24 via $BOXNET

read -r P_AUTH P_ACCT P_ADMIN P_CSS P_SMSC P_BOX P_WEB <<<"$(free_ports u u t t t t t)"
inop nft -D config_pool=10.77.0.0/24 -D css_address=$OPNET -D css_port=$P_CSS -D box_port=$P_BOX \
  -f "$(dirname "$0")/../../examples/nftables-config-pool.nft" || fail "the example rule set does not load"
ADMIN=127.0.0.1:$P_ADMIN
metric() { inop curl -fsS "http://$ADMIN/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
inop "$MOBIX" smpp smsc --listen $OPNET:$P_SMSC --account css:css-pw --account boxes:box-pw >$T/smsc.log 2>&1 &
PIDS+=($!)
inop /usr/bin/python3 -m http.server $P_WEB --bind $OPNET >$T/web.log 2>&1 &
PIDS+=($!)
"$MOBIX" pki init --dir $T/ca --cn "Test Root CA" >/dev/null
"$MOBIX" factory css-cert --ca $T/ca --cn css.cb.test --out $T/css >/dev/null
echo "nas-secret-123" >$T/nas_secret
cat >$T/mobix.yaml <<YAML
store: {path: $T/mobix.db}
admin: {listen: $ADMIN, no_token: true}
access:
  provisioning_realm: config.cb.test
  radius:
    auth_listen: $OPNET:$P_AUTH
    acct_listen: $OPNET:$P_ACCT
    clients: [{name: box-nas, address: $BOXNET/32, secret_file: $T/nas_secret}]
  pools:
    - {name: config, range: 10.77.0.10-10.77.0.100, realm: config.cb.test}
    - {name: boxes, range: 10.78.0.10-10.78.0.100, realm: cb.test}
css:
  ca_dir: $T/ca
  cert: $T/css.crt
  key: $T/css.key
  config_realm: config.cb.test
  access_realm: cb.test
  box_port: $P_BOX
  listen: $OPNET:$P_CSS
  wakeup_delay: 1
  connected_timeout: 2
  callback_timeout: 30
  wakeup: {smsc: $OPNET:$P_SMSC, system_id: css, password: css-pw}
YAML
inop "$MOBIX" serve --config $T/mobix.yaml >$T/serve.log 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do inop curl -fsS "http://$ADMIN/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
inop curl -fsS "http://$ADMIN/healthz" >/dev/null || fail "serve did not start: $(tail -5 $T/serve.log)"

"$MOBIX" factory mint --config $T/mobix.yaml --serial SN-N1 --out $T/boxN --css-name css.cb.test --retry 1 >/dev/null
CB_N=$(inop curl -fsS -XPOST -H 'Content-Type: application/json' http://$ADMIN/api/v1/cb \
  -d '{"serial":"SN-N1","line_id":"4420000077","name":"Net Box","street_address":"x","billing":"y"}' | jq -r .cb_id)
inbox "$MOBIX" cb run --state $T/boxN --line 4420000077 --nas $OPNET:$P_AUTH --nas-acct $OPNET:$P_ACCT \
  --nas-secret-file $T/nas_secret --smsc $OPNET:$P_SMSC --smsc-account boxes:box-pw >$T/boxN.log 2>&1 &
PIDS+=($!)
for _ in $(seq 1 150); do
  state=$(inop curl -fsS http://$ADMIN/api/v1/cb/$CB_N | jq -r .state)
  [ "$state" = online ] || [ "$state" = configured ] || [ "$state" = config_error ] && break
  sleep 0.1
done
[ "$state" = online ] || [ "$state" = configured ] ||
  fail "box through the firewall: $(inop curl -fsS http://$ADMIN/api/v1/cb/$CB_N | jq -c '{state,state_reason}'); $(tail -3 $T/boxN.log)"
grep -q "logged in as SN-N1@config.cb.test at 10.77.0." $T/boxN.log || fail "the box did not configure from the configuration pool"
grep -q "logged in as cb-.*@cb.test at 10.78.0." $T/boxN.log || fail "the box did not call back from its normal address"
pass "Phases II and III through the rule set (the CSS reached the box's configuration pool address)"

# From a configuration-pool address: the CSS's listener is reachable, nothing else is.
connect_from() { # SOURCE HOST PORT: 0 when a TCP connection is made within 2 s
  inbox /usr/bin/python3 -c 'import socket, sys
s = socket.socket(); s.settimeout(2); s.bind((sys.argv[1], 0))
try: s.connect((sys.argv[2], int(sys.argv[3])))
except OSError: sys.exit(1)' "$@"
}
dropped() { inop nft list chain inet mobix_config_pool input | awk '/counter/ {for (i = 1; i <= NF; i++) if ($i == "packets") print $(i + 1)}'; }
connect_from 10.77.0.200 $OPNET $P_CSS || fail "the configuration pool cannot reach the CSS"
before=$(dropped)
connect_from 10.77.0.200 $OPNET $P_WEB && fail "the configuration pool reached the web service"
[ "$(dropped)" -gt "$before" ] || fail "the rule set's drop counter did not move"
connect_from 10.77.0.200 $OPNET $P_SMSC && fail "the configuration pool reached the SMSC"
connect_from 10.78.0.200 $OPNET $P_WEB || fail "a configured box's address cannot reach the web service"
connect_from 10.78.0.200 $OPNET $P_SMSC || fail "a configured box's address cannot reach the SMSC"
pass "configuration pool: the CSS only (counted drops); a box's normal address reaches the service"
