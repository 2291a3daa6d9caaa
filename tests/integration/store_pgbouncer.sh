#!/usr/bin/env bash
# Two mobix nodes behind a real PgBouncer in transaction mode (issue 14 item 7), the way operators put
# a pooler in front of PostgreSQL. Debian 12's PgBouncer (1.18) cannot keep server-side prepared
# statements in transaction mode, so the nodes run with store.prepared_statements: false, and their
# change feeds LISTEN on a session of their own straight to PostgreSQL (store.feed_dsn). Everything
# transaction-scoped (SET LOCAL synchronous_commit, the per-address advisory locks, the migration
# lock, the job fence's row lock) works through it: accounting, a pool shared by both nodes, the
# singleton job.
source "$(dirname "$0")/lib.sh"
read -r P_PG P_BOUNCER A_AUTH A_ACCT A_ADMIN B_AUTH B_ACCT B_ADMIN <<<"$(free_ports t t u u t u u t)"
start_postgres "$T/pg" "$P_PG"
sql() { psql -h 127.0.0.1 -p "$P_PG" -U postgres -d mobix -qAtc "$1"; }

B="$T/pg/bouncer" # owned by the postgres user: PgBouncer refuses to run as root
mkdir -p "$B"
echo '"postgres" ""' >"$B/users.txt"
cat >"$B/pgbouncer.ini" <<INI
[databases]
mobix = host=127.0.0.1 port=$P_PG dbname=mobix user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $P_BOUNCER
unix_socket_dir =
auth_type = trust
auth_file = $B/users.txt
pool_mode = transaction
default_pool_size = 4
max_client_conn = 200
logfile = $B/pgbouncer.log
pidfile = $B/pgbouncer.pid
INI
[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$B"
pg_as pgbouncer -d -q "$B/pgbouncer.ini" || fail "pgbouncer did not start"
for _ in $(seq 50); do [ -s "$B/pgbouncer.pid" ] && break; sleep 0.1; done
PIDS+=("$(cat "$B/pgbouncer.pid")")
psql -h 127.0.0.1 -p "$P_BOUNCER" -U postgres -d mobix -qAtc 'SELECT 1' >/dev/null || fail "no query through pgbouncer"

node_config() { # NAME AUTH ACCT ADMIN
  cat >"$T/$1.yaml" <<YAML
node: $1
store:
  backend: postgresql
  dsn: "host=127.0.0.1 port=$P_BOUNCER user=postgres dbname=mobix"
  feed_dsn: "$PG_DSN"
  prepared_statements: false
  job_lease: 3
admin: {listen: "127.0.0.1:$4", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:$2
    acct_listen: 127.0.0.1:$3
    clients: [{name: ggsn, address: 127.0.0.1/32, secret: bouncer-secret}]
  pools: [{name: shared, range: 127.1.50.1-127.1.50.20}]
YAML
}
node_config a "$A_AUTH" "$A_ACCT" "$A_ADMIN"
node_config b "$B_AUTH" "$B_ACCT" "$B_ADMIN"
# Both at once on an empty database, through the pooler: the migrations take turns under their
# transaction-scoped lock.
"$MOBIX" serve --config "$T/a.yaml" >"$T/a.log" 2>&1 &
PIDS+=($!)
start_serve "$T/b.yaml" "$B_ADMIN" "$T/b.log" || fail "node b: $(tail -3 "$T/b.log")"
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$A_ADMIN/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
curl -fsS "http://127.0.0.1:$A_ADMIN/healthz" >/dev/null || fail "node a: $(tail -3 "$T/a.log")"
[ "$(sql 'SELECT version FROM schema_version')" = 12 ] || fail "schema through pgbouncer"
pass "two nodes started together through PgBouncer in transaction mode: migrated once, both serving"

# Accounting through the pooler, durable before the answer; node b sees it through its feed.
send() { printf '%s\n' "$2" | radclient -q -r 2 -t 2 "127.0.0.1:$1" acct bouncer-secret; }
for i in $(seq 1 20); do
  send "$A_ACCT" "Acct-Status-Type = Start
Acct-Session-Id = \"PB-$i\"
Framed-IP-Address = 127.1.60.$i
Calling-Station-Id = \"316400000$((10 + i))\"
NAS-Identifier = \"ggsn-1\"" || fail "Start $i through node a"
  [ "$(sql "SELECT count(*) FROM sessions WHERE acct_session_id = 'PB-$i'")" = 1 ] || fail "Start $i answered before it was in the store"
done
seen_by_b() { curl -fsS "http://127.0.0.1:$B_ADMIN/api/v1/sessions" | jq '[.[] | select(.ip | startswith("127.1.60."))] | length'; }
for _ in $(seq 100); do [ "$(seen_by_b)" = 20 ] && break; sleep 0.05; done
[ "$(seen_by_b)" = 20 ] || fail "node b saw $(seen_by_b) of 20 sessions (its feed LISTENs straight to PostgreSQL)"
pass "20 Starts through node a and the pooler, each committed before its answer; node b sees all 20"

# Addresses from one pool through both nodes at once: the claims are transaction-scoped too.
for i in $(seq -w 1 20); do
  curl -fsS -X POST "http://127.0.0.1:$A_ADMIN/api/v1/subscribers" \
    --json "{\"username\":\"pb$i\",\"password\":\"pw-$i\"}" >/dev/null || fail "adding subscriber pb$i"
done
for i in $(seq -w 1 20); do
  port=$A_AUTH
  [ $((10#$i % 2)) = 0 ] && port=$B_AUTH
  printf 'User-Name = "pb%s"\nUser-Password = "pw-%s"\nMessage-Authenticator = 0x00\n' "$i" "$i" |
    radclient -x -r 3 -t 3 "127.0.0.1:$port" auth bouncer-secret >"$T/ask.$i" 2>&1 &
done
for _ in $(seq 100); do pgrep -x radclient >/dev/null || break; sleep 0.1; done
ips=$(grep -ho 'Framed-IP-Address = [0-9.]*' "$T"/ask.* | awk '{print $3}' | sort)
[ "$(echo "$ips" | grep -c .)" = 20 ] || fail "$(echo "$ips" | grep -c .) of 20 subscribers got an address"
[ "$(echo "$ips" | uniq -d | grep -c .)" = 0 ] || fail "an address was handed out twice: $(echo "$ips" | uniq -d)"
pass "a pool of 20 through both nodes and the pooler: 20 subscribers, 20 different addresses"

leads() { ADMIN=127.0.0.1:$1 metric 'mobix_job_leader{job="access.expiry"}'; }
for _ in $(seq 50); do [ "$(($(leads $A_ADMIN) + $(leads $B_ADMIN)))" = 1 ] && break; sleep 0.1; done
[ "$(($(leads $A_ADMIN) + $(leads $B_ADMIN)))" = 1 ] || fail "session expiry runs on $(($(leads $A_ADMIN) + $(leads $B_ADMIN))) nodes"
grep -qi "prepared statement" "$T/a.log" "$T/b.log" && fail "a prepared statement error through the pooler"
pass "session expiry runs on exactly one node through the pooler; no prepared-statement errors"
