#!/usr/bin/env bash
# Faults under accounting load on two nodes over one PostgreSQL (issue 14 item 7): a load generator
# (acct_ack_load.py, an independent RADIUS client) records every Start it got an answer for; node a
# is killed with -9 in the middle of it, and later PostgreSQL crashes and restarts under load on node
# b. Every acknowledged Start must be a session in the store; after PostgreSQL is back, every request
# is eventually answered (the NAS's retransmissions) without anyone restarting anything.
source "$(dirname "$0")/lib.sh"
read -r P_PG A_AUTH A_ACCT A_ADMIN B_AUTH B_ACCT B_ADMIN <<<"$(free_ports t u u t u u t)"
start_postgres "$T/pg" "$P_PG"
sql() { psql -h 127.0.0.1 -p "$P_PG" -U postgres -d mobix -qAtc "$1"; }
LOAD="$(dirname "$0")/acct_ack_load.py"

node_config() { # NAME AUTH ACCT ADMIN
  cat >"$T/$1.yaml" <<YAML
node: $1
store: {backend: postgresql, dsn: "$PG_DSN"}
admin: {listen: "127.0.0.1:$4", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:$2
    acct_listen: 127.0.0.1:$3
    clients: [{name: ggsn, address: 127.0.0.1/32, secret: faults-secret}]
YAML
}
node_config a "$A_AUTH" "$A_ACCT" "$A_ADMIN"
node_config b "$B_AUTH" "$B_ACCT" "$B_ADMIN"
start_serve "$T/a.yaml" "$A_ADMIN" "$T/a.log" || fail "node a: $(tail -3 "$T/a.log")"
A_PID=${PIDS[-1]}
start_serve "$T/b.yaml" "$B_ADMIN" "$T/b.log" || fail "node b: $(tail -3 "$T/b.log")"

# Every acknowledged Start of the run named PREFIX is in the store.
check_acked() { # PREFIX ACKED_FILE
  sql "SELECT acct_session_id FROM sessions WHERE acct_session_id LIKE '$1-%'" | sort >"$T/$1.stored"
  sort "$2" >"$T/$1.acked.sorted"
  [ -s "$T/$1.acked.sorted" ] || fail "nothing was acknowledged in run $1"
  local lost
  lost=$(comm -23 "$T/$1.acked.sorted" "$T/$1.stored" | wc -l)
  [ "$lost" = 0 ] || fail "$lost acknowledged Starts of $1 are not in the store: $(comm -23 "$T/$1.acked.sorted" "$T/$1.stored" | head -3)"
}

# kill -9 of node a while 30,000 Starts are under way.
python3 "$LOAD" "127.0.0.1:$A_ACCT" faults-secret 30000 K "$T/K.acked" 64 1 >"$T/K.out" &
LOADER=$!
for _ in $(seq 400); do [ "$(cat "$T/K.acked" 2>/dev/null | wc -l)" -ge 2000 ] && break; sleep 0.05; done
kill -9 "$A_PID"
wait "$LOADER" || fail "the load generator failed: $(cat "$T/K.out")"
acked=$(wc -l <"$T/K.acked")
[ "$acked" -ge 200 ] && [ "$acked" -lt 30000 ] || fail "the kill did not land in the middle of the load ($acked acknowledged)"
check_acked K "$T/K.acked"
pass "kill -9 of node a under load: all $acked acknowledged Starts are in the store ($(sql "SELECT count(*) FROM sessions WHERE acct_session_id LIKE 'K-%'") stored, $(cat "$T/K.out"))"

# PostgreSQL crashes and comes back while node b takes 20,000 Starts; the generator retransmits
# (every second, up to 8 times), as a NAS does.
ADMIN=127.0.0.1:$B_ADMIN
failures=$(metric mobix_store_commit_failures_total)
python3 "$LOAD" "127.0.0.1:$B_ACCT" faults-secret 20000 P "$T/P.acked" 64 8 >"$T/P.out" &
LOADER=$!
for _ in $(seq 400); do [ "$(cat "$T/P.acked" 2>/dev/null | wc -l)" -ge 2000 ] && break; sleep 0.05; done
pg_crash
sleep 1
pg_ctl_start
wait "$LOADER" || fail "the load generator failed: $(cat "$T/P.out")"
[ "$(metric mobix_store_commit_failures_total)" -gt "$failures" ] || fail "the crash did not land under load (no failed commit)"
grep -q 'store: commits succeed again' "$T/b.log" || fail "no log line for the recovery"
check_acked P "$T/P.acked"
[ "$(wc -l <"$T/P.acked")" = 20000 ] || fail "only $(wc -l <"$T/P.acked") of 20000 Starts were answered after PostgreSQL came back: $(cat "$T/P.out")"
curl -fsS "http://$ADMIN/healthz" >/dev/null || fail "node b still degraded after PostgreSQL came back"
pass "PostgreSQL crashed and restarted under load on node b: all 20000 Starts answered, each in the store; node b recovered by itself"
