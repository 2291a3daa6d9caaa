#!/usr/bin/env bash
# Seed 004 at scale (issue 15 item 9): N boxes (default 200) registered, then powered up at once in
# one `mobix cb run` fleet process; every one must reach Phase III (online or configured) and none
# may be left in an error state by the load. BOXES=N and a report of the time taken; bench/run_cb.sh
# measures the rate. CSS_STORE=postgresql runs it over a PostgreSQL of its own.
source "$(dirname "$0")/lib.sh"
N=${BOXES:-200}
CSS_LOG_LEVEL=warn start_css "  callback_timeout: 120"
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
"${CB[@]}" --log-level warn "${STATES[@]}" >$T/fleet.log 2>&1 &
PIDS+=($!)
done_count=0
for _ in $(seq 1 1200); do
  counts=$(curl -fsS "http://$ADMIN/api/v1/cb" | jq -c 'group_by(.state) | map({(.[0].state): length}) | add')
  done_count=$(echo "$counts" | jq '(.online // 0) + (.configured // 0)')
  [ "$done_count" = "$N" ] && break
  [ "$(echo "$counts" | jq '.config_error // 0')" = 0 ] || break
  sleep 0.25
done
elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
[ "$done_count" = "$N" ] || fail "$done_count of $N boxes configured: $counts; $(grep -m3 -i 'refused\|error' $T/serve.log)"
echo "# $N boxes configured through Phase III in ${elapsed}s"
pass "$N boxes at once: all configured and called back, none in an error state"
