#!/usr/bin/env bash
# SIGHUP (issue 13 item 7): the RADIUS clients and their secrets, the mail proxies' access ranges and
# the log level change while the node serves, without dropping a session; a change to anything else
# is logged as needing a restart and not applied; an invalid file is refused whole and the running
# configuration kept. Each outcome: a log line and mobix_config_reloads_total{result} by its change.
source "$(dirname "$0")/lib.sh"
read -r P_AUTH P_ACCT P_ADMIN P_POP3 < <(free_ports u u t t)
ADMIN=127.0.0.1:$P_ADMIN
echo "first-nas-secret" >"$T/nas2.secret"
write_config() { # CLIENTS_EXTRA ACCESS_RANGES LOG_LEVEL POOL_END [EXTRA_KEY]
  cat >"$T/mobix.yaml" <<Y
node: reload-test
log: {level: $3}
store: {path: mobix.db}
admin: {listen: "$ADMIN", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:$P_AUTH
    acct_listen: 127.0.0.1:$P_ACCT
    clients:
      - {name: nas-2, address: 127.0.0.2/32, secret_file: nas2.secret}
$1
  pools: [{name: internet, range: 127.1.0.10-127.1.0.$4}]
mail:
  pop3_listen: 127.0.0.1:$P_POP3
  access_ranges: [$2]
${5:-}
Y
}
write_config "" "127.1.0.0/16" info 250
start_serve "$T/mobix.yaml" "$P_ADMIN" "$T/serve.log" || fail "serve did not start: $(tail "$T/serve.log")"
PID=${PIDS[-1]}
reloads() { metric "mobix_config_reloads_total{result=\"$1\"}"; }
hup() { # RESULT: sends SIGHUP and waits for that outcome's counter to move
  local before
  before=$(reloads "$1")
  kill -HUP "$PID"
  for _ in $(seq 1 100); do [ "$(reloads "$1")" -gt "$before" ] && return 0; sleep 0.05; done
  fail "SIGHUP: no '$1' reload counted: $(tail -3 "$T/serve.log")"
}
# A NAS sends a Start from a source address (127.0.0.1 or 127.0.0.2) with a secret; prints the reply code.
start_from() { # SRC SECRET SESSION IP
  /usr/bin/python3 - "$1" "$2" "$3" "$4" "$P_ACCT" <<'PY'
import hashlib, socket, struct, sys
src, secret, sid, ip, port = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode(), sys.argv[4], int(sys.argv[5])
attrs = bytes([40, 6, 0, 0, 0, 1]) + bytes([44, 2 + len(sid)]) + sid + bytes([8, 6]) + socket.inet_aton(ip)
attrs += bytes([31, 2 + 11]) + b"31600000001"
hdr = bytes([4, 7]) + struct.pack(">H", 20 + len(attrs))
pkt = hdr + hashlib.md5(hdr + b"\0" * 16 + attrs + secret).digest() + attrs
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((src, 0)); s.settimeout(1)
s.sendto(pkt, ("127.0.0.1", port))
try: print(s.recvfrom(4096)[0][0])
except socket.timeout: print("none")
PY
}
sessions() { curl -fsS "http://$ADMIN/api/v1/sessions" | jq length; }
pop3_from() { curl -sS -v --max-time 5 --interface "$1" "pop3://127.0.0.1:$P_POP3/1" -u mobile:mobile 2>&1 | grep -- "< -ERR" | head -1 || true; }

[ "$(start_from 127.0.0.2 first-nas-secret S1 127.1.0.21)" = 5 ] || fail "the configured NAS was not answered"
[ "$(start_from 127.0.0.1 added-nas-secret S2 127.1.0.22)" = none ] || fail "an unknown NAS was answered"
pop3_from 127.3.0.5 | grep -q "only for handsets on the mobile network" || fail "127.3.0.5 is outside the access ranges: $(pop3_from 127.3.0.5)"

# A new NAS, a wider access range and the debug log level, live.
write_config "      - {name: nas-1, address: 127.0.0.1/32, secret: added-nas-secret}" "127.1.0.0/16, 127.3.0.0/16" debug 250
hup applied
grep -q "reload: $T/mobix.yaml: applied access.radius.clients, mail.access_ranges, log.level" "$T/serve.log" ||
  fail "no log line for the applied reload: $(grep reload "$T/serve.log" | tail -2)"
[ "$(start_from 127.0.0.1 added-nas-secret S2 127.1.0.22)" = 5 ] || fail "the NAS added by SIGHUP was not answered"
[ "$(sessions)" = 2 ] || fail "sessions after the reload: $(sessions) (the one from before must stay)"
pop3_from 127.3.0.5 | grep -q "no mobile session" || fail "the widened access range: $(pop3_from 127.3.0.5)"
pass "SIGHUP: a new RADIUS client, a wider mail access range and the log level applied live; the session from before kept"

# The secret file changes: the old secret no longer works, the new one does.
echo "second-nas-secret" >"$T/nas2.secret"
hup applied
grep -q "applied access.radius.clients (secrets)" "$T/serve.log" || fail "no log line for the re-read secret"
[ "$(start_from 127.0.0.2 first-nas-secret S3 127.1.0.23)" = none ] || fail "the old secret still works"
[ "$(start_from 127.0.0.2 second-nas-secret S3 127.1.0.23)" = 5 ] || fail "the new secret does not work"
pass "SIGHUP re-reads a client's secret file: the old secret is refused, the new one answered"

# An invalid file: refused whole (nothing of it applied), the running configuration kept.
write_config "      - {name: nas-1, address: 127.0.0.1/32, secret: added-nas-secret}" "127.1.0.0/16" info 250 "colour: blue"
hup invalid
grep -q "reload: $T/mobix.yaml refused, the running configuration stays: .*colour" "$T/serve.log" ||
  fail "no log line naming the invalid key: $(grep reload "$T/serve.log" | tail -2)"
pop3_from 127.3.0.5 | grep -q "no mobile session" || fail "the refused file's narrower range was applied"
[ "$(start_from 127.0.0.1 added-nas-secret S4 127.1.0.24)" = 5 ] || fail "serving stopped after an invalid file"
pass "SIGHUP with an invalid file: refused (logged with the key, counted), nothing applied, still serving"

# A change that needs a restart (the pool): logged as such, not applied; the live change beside it is.
write_config "" "127.1.0.0/16, 127.3.0.0/16" debug 240
hup needs_restart
grep -q "reload: $T/mobix.yaml: applied access.radius.clients; not applied until a restart: access.pools" "$T/serve.log" ||
  fail "no log line for the change that needs a restart: $(grep reload "$T/serve.log" | tail -2)"
[ "$(start_from 127.0.0.1 added-nas-secret S5 127.1.0.25)" = none ] || fail "the removed NAS is still answered"
[ "$(sessions)" -ge 4 ] || fail "sessions were dropped by the reload: $(sessions)"
kill -0 "$PID" || fail "the node exited"
pass "SIGHUP with a pool change: logged as needing a restart and not applied; the removed NAS refused at once"
