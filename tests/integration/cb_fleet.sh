#!/usr/bin/env bash
# Seed 004 at scale (issue 15 item 9): N boxes (default 200) registered, then powered up at once in
# one `mobix cb run` fleet process; every one must reach Phase III (online or configured) and none
# may be left in an error state by the load. BOXES=N and a report of the time taken; bench/run_cb.sh
# measures the rate.
source "$(dirname "$0")/lib.sh"
N=${BOXES:-200}
read -r P_AUTH P_ACCT P_ADMIN P_CSS P_SMSC P_BOX <<<"$(free_ports u u t t t t)"
ADMIN=127.0.0.1:$P_ADMIN
"$MOBIX" smpp smsc --listen 127.0.0.1:$P_SMSC --account css:css-pw --account boxes:box-pw >$T/smsc.log 2>&1 &
PIDS+=($!)
"$MOBIX" pki init --dir $T/ca --cn "Fleet Root CA" >/dev/null
"$MOBIX" factory css-cert --ca $T/ca --cn css.cb.test --out $T/css >/dev/null
echo "nas-secret-123" >$T/nas_secret
cat >$T/mobix.yaml <<YAML
log: {level: warn}
store: {path: $T/mobix.db}
admin: {listen: 127.0.0.1:$P_ADMIN, no_token: true}
access:
  provisioning_realm: config.cb.test
  radius:
    auth_listen: 127.0.0.1:$P_AUTH
    acct_listen: 127.0.0.1:$P_ACCT
    clients: [{name: nas, address: 127.0.0.1/32, secret_file: $T/nas_secret}]
  pools:
    - {name: config, range: 127.40.0.10-127.40.255.250, realm: config.cb.test}
    - {name: boxes, range: 127.41.0.10-127.41.255.250, realm: cb.test}
css:
  ca_dir: $T/ca
  cert: $T/css.crt
  key: $T/css.key
  config_realm: config.cb.test
  access_realm: cb.test
  box_port: $P_BOX
  listen: 127.0.0.1:$P_CSS
  wakeup_delay: 1
  callback_timeout: 120
  connected_timeout: 1
  wakeup: {smsc: 127.0.0.1:$P_SMSC, system_id: css, password: css-pw, per_second: 1000}
YAML
start_serve $T/mobix.yaml $P_ADMIN $T/serve.log || fail "serve did not start: $(tail -5 $T/serve.log)"
"$MOBIX" factory mint --config $T/mobix.yaml --count $N --prefix FL --out $T/boxes --css-name css.cb.test --retry 2 >/dev/null
STATES=()
for i in $(seq 1 $N); do
  s=$(printf 'FL%06d' $i)
  line=$(printf '44300%06d' $i)
  curl -fsS -XPOST -H 'Content-Type: application/json' http://$ADMIN/api/v1/cb \
    -d "{\"serial\":\"$s\",\"line_id\":\"$line\",\"name\":\"Fleet $i\",\"street_address\":\"$i Fleet St\",\"billing\":\"f-$i\"}" >/dev/null ||
    fail "register $s"
  echo "$line" >$T/boxes/$s/line
  STATES+=(--state $T/boxes/$s)
done
start=$(date +%s.%N)
"$MOBIX" --log-level warn cb run "${STATES[@]}" --nas 127.0.0.1:$P_AUTH --nas-acct 127.0.0.1:$P_ACCT \
  --nas-secret-file $T/nas_secret --smsc 127.0.0.1:$P_SMSC --smsc-account boxes:box-pw >$T/fleet.log 2>&1 &
PIDS+=($!)
done_count=0
for _ in $(seq 1 1200); do
  counts=$(curl -fsS "http://$ADMIN/api/v1/cb" | jq -c 'group_by(.state) | map({(.[0].state): length}) | add')
  done_count=$(echo "$counts" | jq '(.online // 0) + (.configured // 0)')
  [ "$done_count" = "$N" ] && break
  [ "$(echo "$counts" | jq '.config_error // 0')" = 0 ] || break
  sleep 0.25
done
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
[ "$done_count" = "$N" ] || fail "$done_count of $N boxes configured: $counts; $(grep -m3 -i 'refused\|error' $T/serve.log)"
echo "# $N boxes configured through Phase III in ${elapsed}s"
pass "$N boxes at once: all configured and called back, none in an error state"
