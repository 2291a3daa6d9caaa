#!/usr/bin/env bash
# `mobix lab --nodes 2` (issue 14 item 6): the lab starts its own PostgreSQL cluster in the lab
# directory and a second node; lab.json lists both. A handset attached through the first node is seen
# by the second, whose POP3 proxy serves it from the lab's mail provider; a Stop through the second
# node ends it on the first. Restarting the lab resumes on the same cluster.
source "$(dirname "$0")/lib.sh"
LAB="$T/lab"
chmod 755 "$T" # PostgreSQL runs as the postgres user under root: it must reach the lab directory
PG_DATA_DIRS+=("$LAB/pg/data") # stopped by cleanup even if the lab dies hard
ep() { jq -r --arg k "$1" '.endpoints[$k] | "\(.host):\(.port)"' "$LAB/lab.json"; }
start_lab "$LAB" --nodes 2
[ "$(jq -r '.store.backend' "$LAB/lab.json")" = postgresql ] || fail "lab.json does not name the shared store"
[ "$(jq -r '.nodes | length' "$LAB/lab.json")" = 2 ] || fail "lab.json does not list two nodes"
[ -f "$LAB/pg/data/PG_VERSION" ] || fail "no PostgreSQL cluster in the lab directory"
A_ADMIN=$(ep admin.http) B_ADMIN=$(ep node2.admin.http) B_POP3=$(ep node2.mail.pop3) B_ACCT=$(ep node2.access.radius_acct)
[[ $A_ADMIN == 127.0.0.2:* && $B_ADMIN == 127.0.0.3:* ]] || fail "the nodes are not on 127.0.0.2 and 127.0.0.3: $A_ADMIN $B_ADMIN"
pass "mobix lab --nodes 2: PostgreSQL in the lab directory, nodes on 127.0.0.2 and 127.0.0.3, both in lab.json"

IP=$("$MOBIX" sim attach --lab "$LAB" --msisdn 31610000001 | tail -1)
[[ $IP == 127.1.* ]] || fail "attach through the first node: $IP"
seen() { curl -fsS "http://$1/api/v1/sessions" | jq -r --arg ip "$2" '[.[] | select(.ip == $ip)] | length'; }
for _ in $(seq 100); do [ "$(seen "$B_ADMIN" "$IP")" = 1 ] && break; sleep 0.05; done
[ "$(seen "$B_ADMIN" "$IP")" = 1 ] || fail "the second node does not see alice's session"
U=$(jq -r .handset_defaults.user "$LAB/lab.json") P=$(jq -r .handset_defaults.password "$LAB/lab.json")
curl -sS --max-time 10 --interface "$IP" "pop3://$B_POP3/" -u "$U:$P" >/dev/null ||
  fail "the second node's POP3 proxy did not serve alice"
pass "alice attached through the first node; the second node sees her and its POP3 proxy serves her"

"$MOBIX" sim detach --lab "$LAB" --msisdn 31610000001 --acct "$B_ACCT" >/dev/null 2>&1 ||
  fail "detach through the second node"
for _ in $(seq 100); do [ "$(seen "$A_ADMIN" "$IP")" = 0 ] && break; sleep 0.05; done
[ "$(seen "$A_ADMIN" "$IP")" = 0 ] || fail "the first node still has alice's session after a Stop through the second"
pass "a Stop through the second node ends the session on the first"

kill "$LAB_PID"; wait "$LAB_PID" 2>/dev/null || true
pgrep -f "$LAB/node2/mobix.yaml" >/dev/null && fail "the second node outlived the lab"
start_lab "$LAB" --nodes 2
IP=$("$MOBIX" sim attach --lab "$LAB" --msisdn 31610000002 | tail -1)
[[ $IP == 127.1.* ]] || fail "attach after the lab restarted: $IP"
pass "the lab stops both nodes and PostgreSQL, and resumes on the same cluster"
