#!/usr/bin/env bash
# The shared store on a real PostgreSQL 15 started here (issue 14 items 1, 2 and 7, one node):
# the store contract suite against it; manual migrations refused then run with `mobix store
# migrate`; a node whose every acknowledged Accounting-Start is a committed row (checked with psql,
# not through mobix) and survives kill -9; PostgreSQL crashing under the node: requests unanswered
# (so the NAS retransmits), a counter, a log line, /healthz degraded, and recovery without help; a
# DSN that does not connect refused at start, its password never logged.
source "$(dirname "$0")/lib.sh"
: "${UNIT_TESTS:?set UNIT_TESTS to mobix_unit_tests}"
read -r P_PG P_AUTH P_ACCT P_ADMIN <<<"$(free_ports t u u t)"
start_postgres "$T/pg" "$P_PG"
sql() { psql -h 127.0.0.1 -p "$P_PG" -U postgres -d mobix -qAtc "$1"; }

out=$(MOBIX_TEST_PG_DSN="$PG_DSN" "$UNIT_TESTS" --gtest_filter='*StoreContract*/postgresql' 2>&1) ||
  fail "store contract against PostgreSQL: $(grep -E 'FAILED|Failure|error' <<<"$out" | head -5)"
n=$(grep -c '^\[       OK \]' <<<"$out" || true)
[ "$n" -ge 7 ] || fail "only $n store contract tests ran against PostgreSQL"
pass "the store contract ($n tests) holds on PostgreSQL"
sql "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public"

write_config() { # MIGRATE DSN
  cat >"$T/mobix.yaml" <<YAML
store: {backend: postgresql, dsn: "$2", migrate: $1, pool_size: 3, connect_timeout: 2}
admin: {listen: "127.0.0.1:$P_ADMIN", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:$P_AUTH
    acct_listen: 127.0.0.1:$P_ACCT
    clients: [{name: nas, address: 127.0.0.1/32, secret: a-long-test-secret}]
  pools: [{name: internet, range: 10.64.0.0/16}]
YAML
}

# --- migrations: manual means refuse, then `mobix store migrate`
write_config manual "$PG_DSN"
rc=0
"$MOBIX" serve --config "$T/mobix.yaml" >"$T/refused.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "serve on an empty database with migrate: manual exited $rc"
grep -q 'schema version 0 is older than this mobix (12); run `mobix store migrate`' "$T/refused.log" ||
  fail "no clear refusal: $(tail -2 "$T/refused.log")"
"$MOBIX" store migrate --config "$T/mobix.yaml" | grep -q 'schema version 12' || fail "store migrate"
[ "$(sql 'SELECT version FROM schema_version')" = 12 ] || fail "schema_version after migrate"
"$MOBIX" store status --config "$T/mobix.yaml" | grep -q 'schema version 12 (this mobix writes 12)' || fail "store status"
pass "migrate: manual refuses an older schema by name; mobix store migrate brings it to 8"

# --- a node on PostgreSQL: durable before acknowledged, and kill -9
start_serve "$T/mobix.yaml" "$P_ADMIN" "$T/serve.log" || fail "serve on PostgreSQL: $(tail -3 "$T/serve.log")"
ADMIN=127.0.0.1:$P_ADMIN
NODE=${PIDS[-1]}
start() { # ID [TRIES] [MSISDN]: one Accounting-Start; fails unless answered
  printf 'Acct-Status-Type = Start\nAcct-Session-Id = "S%s"\nFramed-IP-Address = 10.64.0.%s\nNAS-Identifier = "ggsn1"\n%s\n' \
    "$1" "$1" "${3:+Calling-Station-Id = \"$3\"}" | radclient -q -r "${2:-2}" -t 1 127.0.0.1:$P_ACCT acct a-long-test-secret
}
for i in $(seq 1 20); do
  start "$i" 2 "3161000$((1000 + i))" || fail "Start $i not answered"
  [ "$(sql "SELECT count(*) FROM sessions WHERE acct_session_id = 'S$i'")" = 1 ] ||
    fail "Start $i was answered before it was committed"
done
kill -9 "$NODE"
wait "$NODE" 2>/dev/null || true
start_serve "$T/mobix.yaml" "$P_ADMIN" "$T/serve2.log" || fail "restart: $(tail -3 "$T/serve2.log")"
NODE=${PIDS[-1]}
[ "$(session_count)" = 20 ] || fail "$(session_count) sessions of 20 after kill -9"
pass "20 Starts: each a committed row before its answer (psql), all 20 restored after kill -9"

# --- PostgreSQL crashes under the node
failures=$(metric mobix_store_commit_failures_total)
unavailable=$(metric 'mobix_radius_dropped_total{listener="acct",reason="directory_unavailable"}')
pg_crash
start 21 1 && fail "a Start was acknowledged while PostgreSQL was down"
[ "$(metric mobix_store_commit_failures_total)" -gt "$failures" ] || fail "failed commits not counted"
grep -q 'store commit of .* failed: postgresql' "$T/serve2.log" || fail "no log line for the failed commit"
code=$(curl -s -o "$T/health.txt" -w '%{http_code}' "http://$ADMIN/healthz")
[ "$code" = 503 ] && grep -q degraded "$T/health.txt" || fail "/healthz said $code while the store was down"
# A Start whose subscriber must be looked up: the directory (in the same database) is unavailable.
start 22 1 31610009999 && fail "a Start needing the directory was acknowledged while PostgreSQL was down"
[ "$(metric 'mobix_radius_dropped_total{listener="acct",reason="directory_unavailable"}')" -gt "$unavailable" ] ||
  fail "directory_unavailable not counted"
grep -q 'radius acct: directory unavailable for a request from 127.0.0.1' "$T/serve2.log" || fail "no log line for the directory"
pass "PostgreSQL down: Starts not answered (the NAS retransmits), counted (commit failure, directory_unavailable), logged, /healthz 503"
pg_ctl_start
start 21 10 || fail "the retransmitted Start was never answered after PostgreSQL came back"
start 22 10 31610009999 || fail "the Start needing the directory was never answered after PostgreSQL came back"
[ "$(sql "SELECT count(*) FROM sessions")" = 22 ] || fail "sessions in PostgreSQL after recovery: $(sql 'SELECT count(*) FROM sessions')"
[ "$(curl -fsS "http://$ADMIN/healthz")" = ok ] || fail "/healthz not ok after recovery"
grep -q 'store: commits succeed again' "$T/serve2.log" || fail "no log line for the recovery"
pass "PostgreSQL back: the node reconnects by itself and the NAS's retransmission is acknowledged"
kill -TERM "$NODE"
wait "$NODE" || fail "SIGTERM exit code $?"

# --- a DSN that does not connect; its password is never logged
write_config auto "host=127.0.0.1 port=1 user=mobix password=never-log-this-pw dbname=mobix"
rc=0
"$MOBIX" serve --config "$T/mobix.yaml" >"$T/baddsn.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "serve with an unreachable database exited $rc"
grep -q 'postgresql: cannot connect' "$T/baddsn.log" || fail "no clear error: $(tail -2 "$T/baddsn.log")"
grep -q never-log-this-pw "$T/baddsn.log" && fail "the DSN's password was logged"
pass "an unreachable database stops serve at start with a clear error, the password not logged"
