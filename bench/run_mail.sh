#!/usr/bin/env bash
# Mail proxies side by side (issue 17 item 3), in one run: a real Dovecot with a mailbox of
# MESSAGES × 20 KB, read directly, through mobix's POP3/IMAP proxy (a handset address with a RADIUS
# session; mobix logs in on the subscriber's behalf) and through nginx's mail proxy (the tool an
# operator would otherwise deploy; its auth_http answer names the same Dovecot), alternately, RUNS
# rounds, one client (bench/mail_driver.py) for all three:
#  1. POP3 pipelined RETR 1..N, POP3 one RETR at a time, IMAP FETCH 1:N BODY[], each REPEAT times on
#     one connection (runs of about a second; nginx one-at-a-time once: its 44 ms stall per message
#     would make a round last minutes): MB/s after the login, ratios to direct (median of the
#     per-round ratios), mobix CPU per message;
#     SMTP submission (direct to a real Postfix, and through mobix's SMTP proxy, which logs in to
#     Postfix on the subscriber's behalf and rewrites the sender): MESSAGES messages of 20 KB on one
#     connection, MAIL/RCPT/DATA pipelined (RFC 2920); nginx's SMTP proxy is not measured (it does
#     not log in to the upstream on the user's behalf, the service compared here);
#  2. login overhead: p50/p99 of connect + greeting + USER/PASS (POP3) and LOGIN (IMAP), over
#     LOGINS logins;
#  3. memory per idle logged-in POP3 session: RSS growth of the proxy process over HOLD sessions,
#     and what the process still holds after they closed.
# Prints markdown rows; output and raw rounds in bench/results/<date>-mail-<time>/ (bench/lib.sh).
# Usage: bench/run_mail.sh [RUNS] [MESSAGES] [LOGINS] [HOLD]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-7}
MESSAGES=${2:-1000}
LOGINS=${3:-300}
HOLD=${4:-5000}
REPEAT=${REPEAT:-10}
PATTERNS=${PATTERNS:-pop3-pipelined pop3-sequential imap-fetch smtp-submit} # a subset measures less
PARTS=${PARTS:-retrieval login idle}
SERVERS=${SERVERS:-direct mobix nginx} # the retrieval paths measured (direct is always measured: ratios)
B=build/release
MOBIX=${MOBIX:-$PWD/$B/apps/mobix/mobix}  # MOBIX=... measures another build (e.g. an earlier commit)
[ -x "$MOBIX" ] || { cmake --preset release >/dev/null && cmake --build --preset release; }
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
for p in dovecot-pop3d dovecot-imapd nginx-light libnginx-mod-mail freeradius-utils postfix; do
  dpkg -s $p >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $p >/dev/null
done
source bench/lib.sh
bench_results mail
raw=$OUT/rounds.txt
T=$(mktemp -d /tmp/mobix-bench-XXXXXX)
chmod 755 "$T"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do kill $p 2>/dev/null || true; done
  [ -f $T/dovecot/run/master.pid ] && kill "$(cat $T/dovecot/run/master.pid)" 2>/dev/null || true
  [ -f $T/nginx.pid ] && kill "$(cat $T/nginx.pid)" 2>/dev/null || true
  [ -f $PF/main.cf ] && postfix -c $PF stop >/dev/null 2>&1 || true
  rm -rf "$PF"
  wait_jobs
  rm -rf "$T"
}
trap cleanup EXIT
[ -n "${KEEP_BENCH:-}" ] && trap "echo kept $T" EXIT
ulimit -n "$(ulimit -Hn)"
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HZ=$(getconf CLK_TCK)
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }
log() { echo "$*" | tee -a "$raw"; }
DRIVE="/usr/bin/python3 bench/mail_driver.py"
HANDSET=127.1.0.10
P_POP3D=$(free_port) P_IMAPD=$(free_port) P_ADMIN=$(free_port) P_ACCT=$(free_port) P_AUTH=$(free_port)
P_POP3=$(free_port) P_IMAP=$(free_port) P_NPOP3=$(free_port) P_NIMAP=$(free_port) P_NAUTH=$(free_port)
P_PF=$(free_port) P_SMTP=$(free_port)
PF=$(mktemp -d /dev/shm/mobix-bench-postfix-XXXXXX) && chmod 755 $PF # Postfix's queue on tmpfs: its fsyncs are not measured

# --- Dovecot: one mailbox of MESSAGES messages of 20 KB; many sessions per pop3 process, so that
# HOLD idle sessions do not need HOLD processes (the proxies' memory is what is measured).
D=$T/dovecot
mkdir -p $D/run $D/state $D/mail/bench/Maildir/{cur,new,tmp}
/usr/bin/python3 - $D/mail/bench/Maildir/cur "$MESSAGES" <<'PY'
import sys
d, n = sys.argv[1], int(sys.argv[2])
body = "".join("line %05d of a twenty kilobyte message, the same for every server\r\n" % i for i in range(290))
for i in range(1, n + 1):
    with open("%s/%d.%d.bench:2,S" % (d, 1700000000 + i, i), "w") as f:
        f.write("From: sender@example.net\r\nTo: bench@mail.test\r\nSubject: message %d\r\n\r\n%s" % (i, body))
PY
echo "bench:{PLAIN}bench-mail-pw:65534:65534::$D/mail/bench::" >$D/users
chown -R 65534:65534 $D/mail
cat >$D/dovecot.conf <<CONF
protocols = pop3 imap
listen = 127.0.0.1
base_dir = $D/run
state_dir = $D/state
log_path = $D/dovecot.log
ssl = no
auth_failure_delay = 0
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
default_client_limit = 8000
default_process_limit = 200
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $D/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $D/users
}
mail_location = maildir:~/Maildir
mail_max_userip_connections = 100000
service pop3-login {
  inet_listener pop3 {
    port = $P_POP3D
  }
  service_count = 0
  process_min_avail = 2
}
service imap-login {
  inet_listener imap {
    port = $P_IMAPD
  }
  service_count = 0
  process_min_avail = 2
}
service pop3 {
  service_count = 0
  client_limit = 1000
}
service imap { # like pop3: the login measures the proxies, not a process started per login
  service_count = 0
  client_limit = 1000
}
service anvil {
  client_limit = 8000
}
service auth {
  client_limit = 8000
  unix_listener postfix-auth {
    mode = 0666
  }
}
CONF
dovecot -c $D/dovecot.conf
for _ in $(seq 100); do curl -fsS "pop3://127.0.0.1:$P_POP3D/" -u bench:bench-mail-pw >/dev/null 2>&1 && break; sleep 0.1; done

# --- Postfix: a private instance on loopback, AUTH through Dovecot's SASL socket (the mailbox's
# password), every accepted message discarded after its queue file is written (on tmpfs).
mkdir -p $PF/queue $PF/data
chown postfix $PF/data
cat >$PF/main.cf <<CF
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = $PF
maillog_file = $PF/maillog
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mail.test
mydestination =
mynetworks = 127.0.0.255/32
virtual_mailbox_domains = mail.test
virtual_transport = discard
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $D/run/postfix-auth
smtpd_relay_restrictions = permit_sasl_authenticated, reject
CF
sed -E "s/^smtp[[:space:]]+inet[[:space:]].*[[:space:]]smtpd\$/127.0.0.1:$P_PF inet n - n - - smtpd/" \
  /etc/postfix/master.cf >$PF/master.cf
postfix -c $PF start >/dev/null 2>&1 || { echo "postfix did not start: $(tail -5 $PF/maillog 2>/dev/null)" >&2; exit 1; }
for _ in $(seq 100); do curl -sS --max-time 2 "smtp://127.0.0.1:$P_PF" -X NOOP >/dev/null 2>&1 && break; sleep 0.05; done

# --- mobix: the access role and the mail proxies; the handset gets a session by RADIUS accounting.
cat >$T/mobix.yaml <<YAML
store: {path: mobix.db}
admin: {listen: "127.0.0.1:$P_ADMIN", no_token: true}
log: {level: warn}
limits: {max_connections_per_address: 100000, max_connections_per_listener: 100000}
access:
  radius:
    auth_listen: 127.0.0.1:$P_AUTH
    acct_listen: 127.0.0.1:$P_ACCT
    clients: [{name: ggsn, address: 127.0.0.1/32, secret: bench-secret}]
  pools: [{name: internet, range: 127.1.0.10-127.1.0.50}]
mail:
  pop3_listen: 127.0.0.1:$P_POP3
  imap_listen: 127.0.0.1:$P_IMAP
  smtp_listen: 127.0.0.1:$P_SMTP
  access_ranges: [127.1.0.0/16]
YAML
"$MOBIX" serve --config $T/mobix.yaml >$T/mobix.log 2>&1 &
MOBIX_PID=$!
PIDS+=($MOBIX_PID)
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$P_ADMIN/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
curl -fsS -X POST "http://127.0.0.1:$P_ADMIN/api/v1/subscribers" --json '{"msisdn":"31610000001","username":"bench","password":"radius-pw","attrs":{"mail.pop3":"127.0.0.1:'$P_POP3D'","mail.imap":"127.0.0.1:'$P_IMAPD'","mail.user":"bench","mail.password":"bench-mail-pw","mail.smtp":"127.0.0.1:'$P_PF'","mail.smtp_user":"bench","mail.smtp_password":"bench-mail-pw","mail.address":"bench@mail.test"}}' >/dev/null
printf 'Acct-Status-Type = Start\nAcct-Session-Id = "bench1"\nFramed-IP-Address = %s\nCalling-Station-Id = "31610000001"\nUser-Name = "bench"\n' $HANDSET |
  radclient -q -r 2 -t 2 127.0.0.1:$P_ACCT acct bench-secret

# --- nginx's mail proxy; its auth_http answer (a few lines of Python, on the login path only)
# sends every login to the same Dovecot with the mailbox's credentials.
/usr/bin/python3 - $P_NAUTH $P_POP3D $P_IMAPD <<'PY' >$T/nauth.log 2>&1 &
import http.server, sys
port, pop3, imap = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Auth-Status", "OK")
        self.send_header("Auth-Server", "127.0.0.1")
        self.send_header("Auth-Port", pop3 if self.headers.get("Auth-Protocol") == "pop3" else imap)
        self.send_header("Auth-Pass", "bench-mail-pw")
        self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
PIDS+=($!)
cat >$T/nginx.conf <<CFG
load_module /usr/lib/nginx/modules/ngx_mail_module.so;
worker_processes 1;
pid $T/nginx.pid;
error_log $T/nginx.err;
events { worker_connections 20000; }
mail {
  server_name bench.test;
  auth_http 127.0.0.1:$P_NAUTH/auth;
  proxy_pass_error_message on;
  server { listen 127.0.0.1:$P_NPOP3; protocol pop3; pop3_auth plain; }
  server { listen 127.0.0.1:$P_NIMAP; protocol imap; imap_auth login plain; }
}
CFG
nginx -c $T/nginx.conf -p $T >/dev/null 2>&1
sleep 0.3
NGINX_WORKER=$(pgrep -P "$(cat $T/nginx.pid)" | head -1)

# server NAME -> "port user password" for POP3 and IMAP
pop3_of() { case $1 in direct) echo "$P_POP3D bench bench-mail-pw" ;; mobix) echo "$P_POP3 mobile mobile" ;; nginx) echo "$P_NPOP3 bench x" ;; esac; }
imap_of() { case $1 in direct) echo "$P_IMAPD bench bench-mail-pw" ;; mobix) echo "$P_IMAP mobile mobile" ;; nginx) echo "$P_NIMAP bench x" ;; esac; }
smtp_of() { case $1 in direct) echo "$P_PF bench bench-mail-pw" ;; mobix) echo "$P_SMTP mobile mobile" ;; esac; }
endpoint_of() { # PATTERN SERVER -> "port user password", empty where the server has no such path
  case $1 in imap*) imap_of $2 ;; smtp*) smtp_of $2 ;; *) pop3_of $2 ;; esac
}
for s in direct mobix nginx; do # every path answers before anything is measured
  read -r port user pw <<<"$(pop3_of $s)"
  $DRIVE pop3-pipelined 127.0.0.1 $port $user $pw 2 $HANDSET >/dev/null || { echo "$s POP3 not serving" >&2; tail -5 $T/mobix.log $T/nginx.err >&2; exit 1; }
done
for s in direct mobix; do
  read -r port user pw <<<"$(smtp_of $s)"
  $DRIVE smtp-submit 127.0.0.1 $port $user $pw 2 $HANDSET >/dev/null || { echo "$s SMTP not serving" >&2; tail -5 $T/mobix.log $PF/maillog >&2; exit 1; }
done

log "# bench/run_mail.sh RUNS=$RUNS MESSAGES=$MESSAGES LOGINS=$LOGINS HOLD=$HOLD on $(nproc) cores, $(date -u), $(uname -r)"
log "# mobix: $MOBIX, commit $(git -C "$(dirname "$MOBIX")" rev-parse --short HEAD 2>/dev/null || echo '?')"
log "# round pattern server seconds bytes mobix_cpu_ticks (REPEAT=$REPEAT: bytes are what the run moved)"
[[ " $PARTS " == *" retrieval "* ]] || RUNS=0
for round in $(seq 1 $RUNS); do
  for pattern in $PATTERNS; do
    for s in direct mobix nginx; do
      read -r port user pw <<<"$(endpoint_of $pattern $s)"
      [ -n "$port" ] || continue
      [ $s = direct ] || [[ " $SERVERS " == *" $s "* ]] || continue
      repeat=$REPEAT
      [ $s/$pattern = nginx/pop3-sequential ] && repeat=1
      before=$(ticks $MOBIX_PID)
      out=$(REPEAT=$repeat $DRIVE $pattern 127.0.0.1 $port $user $pw $MESSAGES $HANDSET)
      log "$round $pattern $s $out $(($(ticks $MOBIX_PID) - before))"
    done
  done
done

log "# logins: pattern server p50_ms p99_ms"
for pattern in pop3-login imap-login; do
  [[ " $PARTS " == *" login "* ]] || break
  for s in direct mobix nginx; do
    read -r port user pw <<<"$(endpoint_of $pattern $s)"
    log "$pattern $s $($DRIVE $pattern 127.0.0.1 $port $user $pw $LOGINS $HANDSET)"
  done
done

# Idle memory: HOLD logged-in POP3 sessions through the proxy; RSS growth of its process.
hold() { # SERVER PID -> "kb_before kb_held kb_after_close"
  read -r port user pw <<<"$(pop3_of $1)"
  local before=$(rss_kb $2) fifo=$T/hold.$1
  rm -f $fifo && mkfifo $fifo
  $DRIVE pop3-hold 127.0.0.1 $port $user $pw $HOLD $HANDSET <$fifo >$T/hold.$1.out &
  local driver=$!
  exec 7>$fifo
  for _ in $(seq 600); do grep -q ready $T/hold.$1.out 2>/dev/null && break; sleep 0.2; done
  grep -q ready $T/hold.$1.out || { echo "hold $1: $(cat $T/hold.$1.out)" >&2; exit 1; }
  sleep 1
  local held=$(rss_kb $2)
  exec 7>&-
  wait $driver
  sleep 2
  echo "$before $held $(rss_kb $2)"
}
[[ " $PARTS " == *" idle "* ]] || HOLD=
[ -n "$HOLD" ] && log "# idle: server rss_kb_before rss_kb_held rss_kb_after_close (wave 2: the same again, on the memory wave 1 left)"
[ -n "$HOLD" ] && log "idle mobix $(hold mobix $MOBIX_PID)"
[ -n "$HOLD" ] && log "wave2 mobix $(hold mobix $MOBIX_PID)"
[ -n "$HOLD" ] && log "# mobix heap trims after the sessions closed: $(curl -fsS http://127.0.0.1:$P_ADMIN/metrics | awk '$1 == "mobix_heap_trims_total" {print $2}')"
[ -n "$HOLD" ] && log "idle nginx $(hold nginx $NGINX_WORKER)"
[ -n "$HOLD" ] && log "wave2 nginx $(hold nginx $NGINX_WORKER)"

# ---- rows ----
echo
echo "Raw output: \`${raw#$PWD/}\`"
echo
echo "| pattern ($MESSAGES × 20 KB, ×$REPEAT per run) | direct (Dovecot; Postfix for SMTP) | mobix | nginx mail | mobix / direct | nginx / direct | mobix CPU per message |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for pattern in $PATTERNS; do
  rate() { awk -v p=$pattern -v s=$1 '$2 == p && $3 == s {print $5 / $4 / 1e6}' "$raw" | median; }
  ratio() { # per round: the server's MB/s over direct's, median
    awk -v p=$pattern -v s=$1 '$2 == p && $3 == "direct" {d[$1] = $5 / $4} $2 == p && $3 == s {t[$1] = $5 / $4}
      END {for (r in t) print t[r] / d[r]}' "$raw" | median
  }
  # CPU per message: mobix ticks over the MESSAGES × REPEAT messages of its run
  cpu=$(awk -v p=$pattern -v hz=$HZ -v n=$MESSAGES -v k=$REPEAT '$2 == p && $3 == "mobix" {print $6 * 1000 / hz / (n * k)}' "$raw" | median)
  nginx_rate="—" nginx_ratio="—"
  if grep -q "^[0-9]* $pattern nginx " "$raw"; then
    nginx_rate=$(printf '%.1f MB/s' "$(rate nginx)") nginx_ratio=$(printf '%.3f×' "$(ratio nginx)")
  fi
  printf '| %s | %.0f MB/s | %.0f MB/s | %s | %.2f× | %s | %.4f ms |\n' $pattern "$(rate direct)" "$(rate mobix)" "$nginx_rate" \
    "$(ratio mobix)" "$nginx_ratio" "$cpu"
done
echo
echo "| login, $LOGINS logins (POP3: connect, greeting, USER, PASS; IMAP: connect, greeting, LOGIN) | p50 | p99 | p50 over direct |"
echo "| --- | --- | --- | --- |"
for pattern in pop3-login imap-login; do
  direct50=$(awk -v p=$pattern '$1 == p && $2 == "direct" {print $3}' "$raw")
  for s in direct mobix nginx; do
    awk -v p=$pattern -v s=$s -v d=$direct50 '$1 == p && $2 == s {printf "| %s %s | %.3f ms | %.3f ms | %+.3f ms |\n", p, s, $3, $4, $3 - d}' "$raw"
  done
done
echo
echo "| idle logged-in POP3 sessions ($HOLD) | RSS growth per session | RSS before → held → after they closed | a second wave: held → after |"
echo "| --- | --- | --- | --- |"
awk -v n=$HOLD '$1 == "idle" {row[$2] = sprintf("| %s | %.1f KiB | %d → %d → %d KiB", $2, ($4 - $3) / n, $3, $4, $5)}
  $1 == "wave2" {w[$2] = sprintf(" | %d → %d KiB |", $4, $5)} END {for (s in row) print row[s] w[s]}' "$raw"
