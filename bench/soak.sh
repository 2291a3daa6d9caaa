#!/usr/bin/env bash
# The soak with faults (issue 13 item 6). Not in CI: about 20 minutes (SOAK_SECONDS, default 1200).
#
# Runs the lab (every role on loopback with its real peers: Dovecot as the mail provider, MIT krb5kdc,
# the visited network over RadSec, the relay's demo mobile server, the connectivity boxes) under a
# mixed load while a fault script, every FAULT_EVERY seconds, in turn:
#   kill -9s the whole lab (home node, visited node, KDC, SMSC) and starts it again on the same dir;
#   stops Dovecot for 10 s (doveadm stop) and starts it again;
#   freezes the visited node for 10 s (SIGSTOP / SIGCONT: its RadSec link and accounting queue).
# The load, each a loop of real clients, logging every attempt with its result:
#   accounting   radclient Start/Interim/Stop for 100 MSISDNs, each retried until acknowledged (a NAS
#                does), and Interim-Updates keeping alice's and the mobile server's sessions alive;
#   mail         curl POP3 RETR and IMAP FETCH as alice, from her session's address;
#   relay        curl through the relay to the demo mobile server (an SMS wakes its gateway);
#   dns          dig alice's name at the home DNS (must answer her session's address);
#   roaming      mobix sim attach/detach bob through the visited network, checked at the home DNS.
# At the end: every acknowledged accounting change is in the session table (the last acknowledged
# Start present, the last acknowledged Stop absent), and the lab process's descriptors and memory
# after a quiet period are within bounds of their values at the start of the last fault-free window.
# Figures (attempts, failures, recovery after each fault) go to stdout and
# bench/results/<date>-soak-<time>/figures.txt (bench/lib.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
MOBIX=${MOBIX:-$PWD/build/release/apps/mobix/mobix}
SECS=${SOAK_SECONDS:-1200}
FAULT_EVERY=${FAULT_EVERY:-60}
QUIET=${QUIET_SECONDS:-240} # the last window without faults, where descriptors and memory are measured
for tool in radclient curl dig jq doveadm; do command -v $tool >/dev/null || { echo "soak: $tool missing (scripts/install-deps.sh)"; exit 2; }; done
[ -x "$MOBIX" ] || { echo "soak: build first (cmake --build --preset release)"; exit 2; }
W=$(mktemp -d /tmp/mobix-soak-XXXXXX)
chmod 755 "$W" # Dovecot's auth process (the dovecot user) reads the lab's users file under it
LAB=$W/lab
source bench/lib.sh
bench_results soak
FIGURES=$OUT/figures.txt
now_ms() { date +%s%3N; }
log_fault() { echo "$(now_ms) $1 $2" >>"$W/faults.log"; }

LAB_PID=
start_lab() {
  rm -f "$LAB/lab.json" # written again once the listeners are up
  setsid "$MOBIX" lab --dir "$LAB" >>"$W/lab.log" 2>&1 &
  LAB_PID=$!
  local admin
  for _ in $(seq 1 1200); do
    if [ -f "$LAB/lab.json" ]; then
      admin=$(jq -r '.endpoints["admin.http"] | "\(.host):\(.port)"' "$LAB/lab.json")
      curl -fsS -o /dev/null "http://$admin/metrics" 2>/dev/null && return 0
    fi
    sleep 0.1
  done
  echo "soak: the lab did not come up in 120 s; the end of $W/lab.log:"
  tail -25 "$W/lab.log"
  KEEP_TMP=1
  return 1
}
stop_all() {
  [ -n "${WORKERS:-}" ] && kill $WORKERS 2>/dev/null
  [ -n "$LAB_PID" ] && kill -- -"$LAB_PID" 2>/dev/null
  sleep 2
  [ -f "$LAB/mail/run/master.pid" ] && kill "$(cat "$LAB/mail/run/master.pid")" 2>/dev/null
  [ "${KEEP_TMP:-0}" = 1 ] && echo "kept $W" || rm -rf "$W"
}
trap stop_all EXIT

start_lab || exit 1
# The lab picks new ports for most listeners when it starts again: every worker re-reads lab.json.
ep() { jq -r --arg k "$1" '.endpoints[$k] | "\(.host):\(.port)"' "$LAB/lab.json" 2>/dev/null; }
endpoints() {
  ACCT=$(ep access.radius_acct) ADMIN=$(ep admin.http) POP3=$(ep mail.pop3) IMAP=$(ep mail.imap) SMTP=$(ep mail.smtp)
  HOME_DNS=$(jq -r '.endpoints["dns.home"].port' "$LAB/lab.json" 2>/dev/null)
  RELAY=$(jq -r '.mobile_servers[0].relay' "$LAB/lab.json" 2>/dev/null)
}
endpoints
SECRET=$(jq -r .radius_secret "$LAB/lab.json")
CAM=$(jq -r '.mobile_servers[0].hostname' "$LAB/lab.json") CAM_MSISDN=$(jq -r '.mobile_servers[0].msisdn' "$LAB/lab.json")
U=$(jq -r .handset_defaults.user "$LAB/lab.json") P=$(jq -r .handset_defaults.password "$LAB/lab.json")
ALICE_HOST=$(jq -r '.subscribers[] | select(.msisdn == "31610000001") | .hostname' "$LAB/lab.json")
ALICE_MAIL=$(jq -r '.subscribers[] | select(.msisdn == "31610000001") | .email' "$LAB/lab.json")
BOB_HOST=$(jq -r '.subscribers[] | select(.msisdn == "31610000002") | .hostname' "$LAB/lab.json")
DOVECOT_CONF=$LAB/mail/dovecot.conf
ALICE_IP=$("$MOBIX" sim attach --lab "$LAB" --msisdn 31610000001 | tail -1)
"$MOBIX" sim attach --lab "$LAB" --msisdn "$CAM_MSISDN" >/dev/null # the relay's demo mobile server
# alice sends herself a message through the submission proxy, so there is one to retrieve
printf 'Subject: soak\r\n\r\nhello\r\n' >"$W/msg.eml"
curl -sS --max-time 10 --interface "$ALICE_IP" "smtp://$SMTP" --mail-from "$ALICE_MAIL" --mail-rcpt "$ALICE_MAIL" \
  --upload-file "$W/msg.eml" -u "$U:$P" || { echo "soak: the first message could not be sent"; exit 1; }
for _ in $(seq 50); do curl -sS --interface "$ALICE_IP" "pop3://$POP3/1" -u "$U:$P" 2>/dev/null | grep -q hello && break; sleep 0.2; done
echo "soak: lab up, alice at $ALICE_IP; ${SECS}s with a fault every ${FAULT_EVERY}s, the last ${QUIET}s without"

record() { echo "$(now_ms) $1 $2" >>"$W/load.log"; }
END=$(($(date +%s) + SECS))
running() { [ "$(date +%s)" -lt "$END" ]; }

# The NAS. Every change is retried until acknowledged; each MSISDN goes Start -> Interim-Update -> Stop.
# The lab expires a session silent for 3 interim intervals (180 s): with 100 MSISDNs a cycle is well
# under that, and the check at the end allows for expiry only where it may really have happened.
acct_worker() {
  local i=0 n op state=() sid=()
  while running; do
    n=$((i % 100)); i=$((i + 1)); endpoints
    case "${state[$n]:-stop}" in stop) op=Start ;; start) op=Interim-Update ;; *) op=Stop ;; esac
    # Each session has an Acct-Session-Id of its own, as a NAS gives it: mobix refuses to revive an ended
    # one (a replayed Start), so reusing it would lose the session, rightly.
    [ "$op" = Start ] && sid[$n]="soak-$n-$i"
    local msisdn=$((31619900000 + n)) ip="10.99.0.$((n + 1))" acked=
    for try in $(seq 1 120); do
      [ "$try" -gt 1 ] && endpoints
      if printf 'Acct-Status-Type = %s\nCalling-Station-Id = "%s"\nFramed-IP-Address = %s\nAcct-Session-Id = "%s"\nNAS-IP-Address = 127.0.0.1\n' \
        "$op" "$msisdn" "$ip" "${sid[$n]}" | radclient -q -r 1 -t 1 "$ACCT" acct "$SECRET" >/dev/null 2>&1; then
        acked=1; break
      fi
      record acct fail
      running || break
    done
    [ -n "$acked" ] || continue
    record acct ok
    echo "$(date +%s) $msisdn $op" >>"$W/acked.log"
    case $op in Start) state[$n]=start ;; Interim-Update) state[$n]=interim ;; *) state[$n]=stop ;; esac
  done
}
# alice's handset and the relay's mobile server stay attached: their NAS sends Interim-Updates.
interim_worker() {
  while running; do
    for m in 31610000001 "$CAM_MSISDN"; do
      if "$MOBIX" sim interim --lab "$LAB" --msisdn "$m" >/dev/null 2>&1; then record interim ok; else record interim fail; fi
    done
    sleep 30
  done
}
mail_worker() {
  while running; do
    endpoints
    if curl -sS --max-time 5 --interface "$ALICE_IP" "pop3://$POP3/1" -u "$U:$P" 2>/dev/null | grep -q .; then
      record pop3 ok; else record pop3 fail; fi
    if curl -sS --max-time 5 --interface "$ALICE_IP" "imap://$IMAP/INBOX;UID=1" -u "$U:$P" 2>/dev/null | grep -q .; then
      record imap ok; else record imap fail; fi
    sleep 0.2
  done
}
relay_worker() {
  while running; do
    endpoints
    if curl -fsS --max-time 10 -H "Host: $CAM" "http://$RELAY/status" 2>/dev/null | grep -q "hello from"; then
      record relay ok; else record relay fail; fi
    sleep 0.5
  done
}
dns_worker() {
  while running; do
    endpoints
    if [ "$(dig +short +time=1 +tries=1 @127.0.0.1 -p "$HOME_DNS" "$ALICE_HOST" 2>/dev/null)" = "$ALICE_IP" ]; then
      record dns ok; else record dns fail; fi
    sleep 0.1
  done
}
roaming_worker() {
  local v
  while running; do
    endpoints
    v=$(timeout 20 "$MOBIX" sim attach --lab "$LAB" --network visited --msisdn 31610000002 2>/dev/null | tail -1)
    local seen=
    if [[ $v == 127.* ]]; then # the home DNS follows the roaming session (seed 002), within 2 s
      for _ in $(seq 20); do
        [ "$(dig +short +time=1 +tries=1 @127.0.0.1 -p "$HOME_DNS" "$BOB_HOST" 2>/dev/null)" = "$v" ] && { seen=1; break; }
        sleep 0.1
      done
    fi
    if [ -n "$seen" ]; then record roaming_attach ok; else record roaming_attach fail; fi
    if timeout 20 "$MOBIX" sim detach --lab "$LAB" --network visited --msisdn 31610000002 >/dev/null 2>&1; then
      record roaming_detach ok; else record roaming_detach fail; fi
    sleep 1
  done
}

acct_worker & WORKERS="$!"
interim_worker & WORKERS+=" $!"
mail_worker & WORKERS+=" $!"
relay_worker & WORKERS+=" $!"
dns_worker & WORKERS+=" $!"
roaming_worker & WORKERS+=" $!"

lab_fds() { ls /proc/"$LAB_PID"/fd 2>/dev/null | wc -l; }
lab_rss_kb() { awk '/VmRSS/ {print $2}' /proc/"$LAB_PID"/status 2>/dev/null; }

fault=0
FAULTS_END=$((END - QUIET))
while [ "$(date +%s)" -lt "$FAULTS_END" ]; do
  sleep "$FAULT_EVERY"
  [ "$(date +%s)" -lt "$FAULTS_END" ] || break
  case $((fault % 3)) in
    0)
      log_fault kill9_lab start
      kill -9 -- -"$LAB_PID"; wait "$LAB_PID" 2>/dev/null
      start_lab || exit 1
      log_fault kill9_lab end
      ;;
    1)
      log_fault dovecot_down start
      doveadm -c "$DOVECOT_CONF" stop >/dev/null 2>&1
      sleep 10
      /usr/sbin/dovecot -c "$DOVECOT_CONF"
      log_fault dovecot_down end
      ;;
    2)
      vpid=$(pgrep -f "serve --config $LAB/visited/mobix.yaml" | head -1)
      log_fault visited_frozen start
      kill -STOP "$vpid"; sleep 10; kill -CONT "$vpid"
      log_fault visited_frozen end
      ;;
  esac
  fault=$((fault + 1))
done
sleep 30 # the last window: warmed up after the last fault
FDS0=$(lab_fds) RSS0=$(lab_rss_kb)
wait $WORKERS 2>/dev/null
WORKERS=
sleep 10
FDS1=$(lab_fds) RSS1=$(lab_rss_kb)

# Every acknowledged change is present: the last acknowledged op of each MSISDN decides.
endpoints
# A session whose last acknowledged change is older than the expiry (180 s) may have expired: counted apart.
curl -fsS "http://$ADMIN/api/v1/sessions" | jq -r '.[].msisdn' | sort -u >"$W/present"
now=$(date +%s)
awk '{t[$2] = $1; last[$2] = $3} END {for (m in last) print m, last[m], t[m]}' "$W/acked.log" | sort >"$W/expected"
lost=$(awk -v now="$now" 'NR == FNR {p[$1] = 1; next}
  ($2 != "Stop" && !($1 in p) && now - $3 < 170) || ($2 == "Stop" && ($1 in p))' "$W/present" "$W/expected" | wc -l)
may_have_expired=$(awk -v now="$now" '$2 != "Stop" && now - $3 >= 170' "$W/expected" | wc -l)

{
  echo "# bench/soak.sh, $(date -u +%FT%TZ), SOAK_SECONDS=$SECS FAULT_EVERY=$FAULT_EVERY QUIET_SECONDS=$QUIET, $(nproc) cores"
  /usr/bin/python3 - "$W/load.log" "$W/faults.log" <<'PY'
import collections, sys
load = [l.split() for l in open(sys.argv[1])]
faults = [l.split() for l in open(sys.argv[2])] if len(sys.argv) > 2 else []
by = collections.defaultdict(lambda: [0, 0])
for t, kind, res in load:
    by[kind][0 if res == "ok" else 1] += 1
print(f"{'load':16} {'ok':>8} {'failed':>8}")
for kind, (ok, bad) in sorted(by.items()):
    print(f"{kind:16} {ok:>8} {bad:>8}")
# Recovery: from a fault's end to each kind's first success after it (seconds).
rec = collections.defaultdict(list)
ends = [(int(t), name) for t, name, what in faults if what == "end"]
starts = {name: [] for _, name in ends}
for t, name, what in faults:
    if what == "start": starts.setdefault(name, []).append(int(t))
for (end, name), begin in zip(ends, [int(t) for t, n, w in faults if w == "start"]):
    for kind in by:
        if kind == "interim": continue  # sent every 30 s: its first success says nothing of recovery
        after = [int(t) for t, k, r in load if k == kind and r == "ok" and int(t) >= end]
        if after: rec[(name, kind)].append((after[0] - end) / 1000)
    rec[(name, "fault duration")].append((end - begin) / 1000)
print()
print(f"{'fault':16} {'count':>5}  recovery after the fault ended, max seconds (by load)")
names = sorted({n for n, _ in rec})
for n in names:
    cnt = len(rec[(n, 'fault duration')])
    parts = [f"{k} {max(v):.1f}" for (f, k), v in sorted(rec.items()) if f == n and k != "fault duration"]
    print(f"{n:16} {cnt:>5}  duration {max(rec[(n, 'fault duration')]):.1f}; " + ", ".join(parts))
PY
  echo
  echo "acknowledged accounting changes: $(wc -l <"$W/acked.log") over $(wc -l <"$W/expected") MSISDNs; missing or undone: $lost (silent long enough to expire, not checked: $may_have_expired)"
  echo "lab process: descriptors $FDS0 -> $FDS1, RSS ${RSS0} kB -> ${RSS1} kB (start of the quiet window -> after the load)"
} | tee "$FIGURES"
grep -c . "$W/faults.log" >/dev/null
ok=1
[ "$lost" = 0 ] || { echo "FAIL: $lost acknowledged changes are not in the session table"; ok=0; }
[ "$FDS1" -le $((FDS0 + 16)) ] || { echo "FAIL: descriptors grew from $FDS0 to $FDS1"; ok=0; }
[ "$RSS1" -le $((RSS0 * 5 / 4 + 16384)) ] || { echo "FAIL: memory grew from $RSS0 kB to $RSS1 kB"; ok=0; }
[ $ok = 1 ] && echo "soak: passed (figures in $FIGURES)" || { KEEP_TMP=1; exit 1; }
