#!/usr/bin/env bash
# Two mobix nodes over one real PostgreSQL 15 (issue 14 items 3, 4 and 7): both start at once and
# migrate the empty database one at a time; a session started through node A is seen by node B
# (LISTEN/NOTIFY) and B's mail proxy serves that handset from a real Dovecot; the same Start
# retransmitted to B is one session, not two; a Stop through B ends it on A, and A then refuses a
# replay of the Start; after kill -9 of A, B goes on and A comes back with B's sessions; the change
# feed reconnects after PostgreSQL restarts and resyncs.
source "$(dirname "$0")/lib.sh"
read -r P_PG P_DOVE P_IMAPD A_AUTH A_ACCT A_ADMIN A_POP3 B_AUTH B_ACCT B_ADMIN B_POP3 <<<"$(free_ports t t t u u t t u u t t)"
start_postgres "$T/pg" "$P_PG"
sql() { psql -h 127.0.0.1 -p "$P_PG" -U postgres -d mobix -qAtc "$1"; }
start_dovecot "$T/dovecot" "$P_DOVE" "$P_IMAPD" "" "" "" "" alice || fail "dovecot"

node_config() { # NAME AUTH ACCT ADMIN POP3
  cat >"$T/$1.yaml" <<YAML
node: $1
store: {backend: postgresql, dsn: "$PG_DSN", job_lease: 3}
admin: {listen: "127.0.0.1:$4", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:$2
    acct_listen: 127.0.0.1:$3
    clients: [{name: ggsn, address: 127.0.0.1/32, secret: scale-out-secret}]
  pools:
    - {name: internet, range: 127.1.0.10-127.1.0.50}
    - {name: shared, range: 127.1.40.1-127.1.40.30, apn: shared.apn}
mail:
  pop3_listen: 127.0.0.1:$5
  access_ranges: [127.1.0.0/16]
YAML
}
node_config a "$A_AUTH" "$A_ACCT" "$A_ADMIN" "$A_POP3"
node_config b "$B_AUTH" "$B_ACCT" "$B_ADMIN" "$B_POP3"
# Both at once on an empty database: the migrations take turns under their lock.
"$MOBIX" serve --config "$T/a.yaml" >"$T/a.log" 2>&1 &
A_PID=$!
PIDS+=($A_PID)
start_serve "$T/b.yaml" "$B_ADMIN" "$T/b.log" || fail "node b: $(tail -3 "$T/b.log")"
B_PID=${PIDS[-1]}
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$A_ADMIN/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
curl -fsS "http://127.0.0.1:$A_ADMIN/healthz" >/dev/null || fail "node a: $(tail -3 "$T/a.log")"
[ "$(sql 'SELECT version FROM schema_version')" = 12 ] || fail "schema after two nodes started together"
grep -q "following other nodes' sessions" "$T/a.log" || fail "node a does not follow the feed"
grep -q 'address pools are shared with the other nodes' "$T/a.log" || fail "no log line that the pools are shared"
pass "two nodes started together on an empty database: migrated once, both serving"

holders() { # ADMIN_PORT IP: the MSISDNs holding IP as that node sees it
  curl -fsS "http://127.0.0.1:$1/api/v1/sessions" | jq -r --arg ip "$2" '[.[] | select(.ip == $ip) | .msisdn] | join(",")'
}
wait_for() { # ADMIN_PORT IP EXPECTED: polls up to 5 s; prints the milliseconds it took
  local t0; t0=$(date +%s%N)
  for _ in $(seq 250); do
    [ "$(holders "$1" "$2")" = "$3" ] && { echo $((($(date +%s%N) - t0) / 1000000)); return 0; }
    sleep 0.02
  done
  return 1
}
START="Acct-Status-Type = Start
Acct-Session-Id = \"X-1\"
Framed-IP-Address = 127.1.9.9
Calling-Station-Id = \"31610000077\"
NAS-Identifier = \"ggsn-1\"
Event-Timestamp = $(date +%s)"
send() { printf '%s\n' "$2" | radclient -q -r 2 -t 2 "127.0.0.1:$1" acct scale-out-secret; }
send "$A_ACCT" "$START" || fail "Start to node a"
ms=$(wait_for "$B_ADMIN" 127.1.9.9 31610000077) || fail "node b never saw the session node a started"
pass "a session started through node a is seen by node b (after ${ms} ms)"

# The NAS fails over and retransmits the same Start to node b: still one session.
send "$B_ACCT" "$START" || fail "the retransmission to node b was not answered"
[ "$(sql "SELECT count(*) FROM sessions WHERE acct_session_id = 'X-1'")" = 1 ] || fail "two sessions for one Start"
[ "$(holders "$A_ADMIN" 127.1.9.9)" = 31610000077 ] || fail "node a lost the session"
pass "the same Start retransmitted to node b: one session in the store and on both nodes"

# A Stop through node b ends it on node a; a replay of the Start sent to node a is refused there.
send "$B_ACCT" "${START/Start/Stop}" || fail "Stop to node b"
wait_for "$A_ADMIN" 127.1.9.9 "" >/dev/null || fail "node a still has the stopped session"
ADMIN=127.0.0.1:$A_ADMIN
before=$(metric 'mobix_access_accounting_refused_total{reason="ended_session"}')
send "$A_ACCT" "$START" || fail "the replayed Start was not answered"
[ "$(holders "$A_ADMIN" 127.1.9.9)" = "" ] || fail "a replayed Start revived the session on node a"
[ "$(metric 'mobix_access_accounting_refused_total{reason="ended_session"}')" = $((before + 1)) ] ||
  fail "node a did not refuse the replay as an ended session"
pass "a Stop through node b ends the session on node a, which then refuses a replay of its Start"

# The mail proxy of node b serves a handset that attached through node a.
curl -fsS -X POST "http://127.0.0.1:$A_ADMIN/api/v1/subscribers" --json '{"msisdn":"31610000001","username":"alice","password":"alice-radius-pw","attrs":{"mail.pop3":"127.0.0.1:'$P_DOVE'","mail.user":"alice","mail.password":"alice-mail-pw"}}' >/dev/null
IP=$("$MOBIX" sim attach --auth 127.0.0.1:$A_AUTH --acct 127.0.0.1:$A_ACCT --secret scale-out-secret \
  --state-dir "$T/sim" --msisdn 31610000001 --username alice --password alice-radius-pw | tail -1)
[[ $IP == 127.1.* ]] || fail "attach through node a: $IP"
wait_for "$B_ADMIN" "$IP" 31610000001 >/dev/null || fail "node b never saw alice's session"
curl -sS --max-time 10 --interface "$IP" "pop3://127.0.0.1:$B_POP3/1" -u mobile:mobile | grep -q "Hello alice" ||
  fail "node b's POP3 proxy did not serve alice"
pass "node b's POP3 proxy serves a handset that attached through node a (a real Dovecot behind)"

# Both nodes take the same addresses at once (a NAS and its standby retransmitting to both, each with
# its own Acct-Session-Id): per-address locks and the unique constraint leave one session per address
# in the store, and both nodes' tables agree with it.
for i in $(seq 1 40); do
  for n in a b; do
    port=$A_ACCT
    [ $n = b ] && port=$B_ACCT
    printf 'Acct-Status-Type = Start\nAcct-Session-Id = "R%s-%s"\nFramed-IP-Address = 127.1.20.%s\nCalling-Station-Id = "3161002%04d"\nNAS-Identifier = "ggsn-1"\n' \
      $n $i $i $i | radclient -q -r 3 -t 2 127.0.0.1:$port acct scale-out-secret &
  done
done
wait_all() { for _ in $(seq 100); do pgrep -x radclient >/dev/null || return 0; sleep 0.1; done; }
wait_all
[ "$(sql "SELECT count(*) FROM sessions WHERE ipv4 LIKE '127.1.20.%'")" = 40 ] ||
  fail "$(sql "SELECT count(*) FROM sessions WHERE ipv4 LIKE '127.1.20.%'") sessions in the store for 40 addresses"
store_view=$(sql "SELECT ipv4 || ' ' || acct_session_id FROM sessions WHERE ipv4 LIKE '127.1.20.%' ORDER BY 1")
view() { curl -fsS "http://127.0.0.1:$1/api/v1/sessions" | jq -r '.[] | select(.ip | startswith("127.1.20.")) | "\(.ip) \(.acct_session_id)"' | sort; }
for _ in $(seq 100); do [ "$(view $A_ADMIN)" = "$store_view" ] && [ "$(view $B_ADMIN)" = "$store_view" ] && break; sleep 0.05; done
[ "$(view $A_ADMIN)" = "$store_view" ] || fail "node a's table differs from the store: $(diff <(view $A_ADMIN) <(echo "$store_view") | head -5)"
[ "$(view $B_ADMIN)" = "$store_view" ] || fail "node b's table differs from the store: $(diff <(view $B_ADMIN) <(echo "$store_view") | head -5)"
pass "40 addresses taken through both nodes at once: one session each in the store, both tables agree with it"

# One pool, two nodes (issue 14 item 3): 30 subscribers ask for an address at once, half through each
# node, from a pool of exactly 30. Each node offers from its own memory; the store refuses an offer of
# an address another node's subscriber holds, and the pool, reloaded, offers another. Every address
# is handed out once, and a 31st subscriber is refused on either node.
for i in $(seq -w 1 31); do
  curl -fsS -X POST "http://127.0.0.1:$A_ADMIN/api/v1/subscribers" \
    --json "{\"msisdn\":\"316300000$i\",\"username\":\"pool$i\",\"password\":\"pw-$i\"}" >/dev/null ||
    fail "adding subscriber pool$i"
done
ask() { # N NODE_AUTH_PORT: the Access-Request of subscriber poolN
  printf 'User-Name = "pool%s"\nUser-Password = "pw-%s"\nCalled-Station-Id = "shared.apn"\nMessage-Authenticator = 0x00\n' "$1" "$1" |
    radclient -x -r 3 -t 3 "127.0.0.1:$2" auth scale-out-secret 2>&1
}
for i in $(seq -w 1 30); do
  port=$A_AUTH
  [ $((10#$i % 2)) = 0 ] && port=$B_AUTH
  ask "$i" "$port" >"$T/ask.$i" &
done
wait_all
ips=$(grep -ho 'Framed-IP-Address = [0-9.]*' "$T"/ask.* | awk '{print $3}' | sort)
[ "$(echo "$ips" | grep -c .)" = 30 ] || fail "$(echo "$ips" | grep -c .) of 30 subscribers got an address: $(grep -l Reject "$T"/ask.* | head -3)"
[ "$(echo "$ips" | sort -u | grep -c .)" = 30 ] || fail "an address was handed out twice: $(echo "$ips" | uniq -d | head -3) $(sql "SELECT ip, subscriber_id, bound, expires, extract(epoch from now())::bigint FROM leases WHERE pool = 'shared' ORDER BY ip" | head -40)"
[ "$(sql "SELECT count(DISTINCT subscriber_id) FROM leases WHERE pool = 'shared'")" = 30 ] ||
  fail "the store's leases do not hold the 30 offers: $(sql "SELECT ip, subscriber_id FROM leases WHERE pool = 'shared'" | head -5)"
taken() { echo $(($(ADMIN=127.0.0.1:$A_ADMIN metric mobix_access_pool_offers_taken_total) + $(ADMIN=127.0.0.1:$B_ADMIN metric mobix_access_pool_offers_taken_total))); }
for port in $A_AUTH $B_AUTH; do
  out=$(ask 31 "$port" || true) # radclient exits 1 on a reject
  echo "$out" | grep -q 'Reply-Message = "address pool shared exhausted"' || fail "a 31st subscriber was not refused: $out"
done
# Node a knew at most its own 15 and what earlier clashes taught it: at least one offer was refused.
[ "$(taken)" -gt 0 ] || fail "no offer was ever refused by the store (mobix_access_pool_offers_taken_total)"
grep -q 'is held on another node' "$T/a.log" "$T/b.log" || fail "no log line for a refused offer"
pass "one pool over two nodes: 30 subscribers at once got 30 different addresses; the 31st is refused on both ($(taken) offers refused by the store and offered again)"

# kill -9 of node a: node b goes on; node a comes back with what node b did meanwhile.
kill -9 "$A_PID"
wait "$A_PID" 2>/dev/null || true
send "$B_ACCT" "${START//X-1/X-2}" || fail "Start to node b after node a died"
start_serve "$T/a.yaml" "$A_ADMIN" "$T/a2.log" || fail "node a restart: $(tail -3 "$T/a2.log")"
A_PID=${PIDS[-1]}
[ "$(holders "$A_ADMIN" 127.1.9.9)" = 31610000077 ] || fail "restarted node a does not see node b's session"
pass "node a killed with -9: node b goes on, and node a comes back with node b's sessions"

# PostgreSQL restarts: the feed reconnects and resyncs; changes flow again.
ADMIN=127.0.0.1:$B_ADMIN
resyncs=$(metric mobix_store_feed_resyncs_total)
resyncs_a=$(ADMIN=127.0.0.1:$A_ADMIN metric mobix_store_feed_resyncs_total)
pg_crash
pg_ctl_start
for _ in $(seq 300); do [ "$(metric mobix_store_feed_resyncs_total)" -gt "$resyncs" ] && break; sleep 0.1; done
[ "$(metric mobix_store_feed_resyncs_total)" -gt "$resyncs" ] || fail "node b's feed did not reconnect"
grep -q "session change feed lost" "$T/b.log" || fail "no log line for the lost feed"
# Node a reconnects on its own schedule (slow under ASan on a busy machine): the NAS's next Start waits
# for it, and is retried as a NAS would (5 tries, 3 s apart) rather than failing on the first 6 s.
for _ in $(seq 300); do [ "$(ADMIN=127.0.0.1:$A_ADMIN metric mobix_store_feed_resyncs_total)" -gt "$resyncs_a" ] && break; sleep 0.1; done
X3=${START//X-1/X-3}
printf '%s\n' "${X3//127.1.9.9/127.1.9.10}" | radclient -q -r 5 -t 3 "127.0.0.1:$A_ACCT" acct scale-out-secret ||
  fail "Start to node a after PostgreSQL restarted"
wait_for "$B_ADMIN" 127.1.9.10 31610000077 >/dev/null || fail "node b does not see changes after the restart"
pass "after PostgreSQL restarts the feed reconnects, resyncs and changes flow again"

# Singleton jobs (issue 14 item 5): session expiry runs on exactly one node, under a lease of 3 s
# (store.job_lease). A holder that stalls loses it to the other node and, when it wakes, knows it; a
# holder killed with -9 is replaced within the lease time (and a third, the renewal period).
leads() { ADMIN=127.0.0.1:$1 metric 'mobix_job_leader{job="access.expiry"}'; }
admin_of() { if [ "$1" = a ]; then echo "$A_ADMIN"; else echo "$B_ADMIN"; fi; }
holder() { # prints a or b once exactly one node runs the job
  for _ in $(seq 100); do
    case "$(leads $A_ADMIN)$(leads $B_ADMIN)" in 10) echo a; return 0 ;; 01) echo b; return 0 ;; esac
    sleep 0.1
  done
  return 1
}
took_over() { # NODE: waits until NODE runs the job; prints the milliseconds it took
  local t0; t0=$(date +%s%N)
  for _ in $(seq 100); do
    [ "$(leads "$(admin_of "$1")")" = 1 ] && { echo $((($(date +%s%N) - t0) / 1000000)); return 0; }
    sleep 0.1
  done
  return 1
}
first=$(holder) || fail "not exactly one node runs session expiry: a=$(leads $A_ADMIN) b=$(leads $B_ADMIN)"
if [ "$first" = a ]; then stalled=$A_PID other=b stalled_log=$T/a2.log; else stalled=$B_PID other=a stalled_log=$T/b.log; fi
kill -STOP "$stalled"
ms=$(took_over $other) || fail "node $other did not take session expiry over from a stalled node"
kill -CONT "$stalled"
[ "$(holder)" = "$other" ] || fail "after waking up, the stalled node still claims session expiry"
for _ in $(seq 50); do grep -q 'no longer runs access.expiry' "$stalled_log" && break; sleep 0.1; done
grep -q 'no longer runs access.expiry' "$stalled_log" || fail "the stalled node did not log that it lost the job"
pass "session expiry runs on one node; node $other took it over from a stalled node $first after ${ms} ms (lease 3 s), and $first knows it lost it"

victim=$([ "$other" = a ] && echo "$A_PID" || echo "$B_PID") survivor=$first
kill -9 "$victim"
ms=$(took_over "$survivor") || fail "nobody took session expiry over after its holder was killed"
epoch=$(sql "SELECT epoch FROM job_leases WHERE job = 'access.expiry'")
[ "$epoch" -ge 3 ] || fail "the lease's epoch did not grow with each takeover ($epoch)"
pass "the holder killed with -9: node $survivor took session expiry over after ${ms} ms (lease 3 s), epoch $epoch"
