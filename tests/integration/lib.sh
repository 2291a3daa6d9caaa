# Shared helpers for the integration tests. Source it; needs $MOBIX (the binary).
set -euo pipefail
: "${MOBIX:?set MOBIX to the mobix binary}"
T=$(mktemp -d /tmp/mobix-it-XXXXXX)
PIDS=()
PG_DATA_DIRS=()
cleanup() {
  for d in "${PG_DATA_DIRS[@]:-}"; do [ -n "$d" ] && pg_as /usr/lib/postgresql/15/bin/pg_ctl -D "$d" -m immediate stop >/dev/null 2>&1 || true; done
  # SIGCONT too: a test that failed while it held a peer stopped (kill -STOP) must not leave it
  # frozen for ever (a stopped process acts on SIGTERM only once continued).
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && { kill "$p" 2>/dev/null; kill -CONT "$p" 2>/dev/null; } || true; done
  wait 2>/dev/null || true
  # A lab killed with -9 leaves its demo Dovecot behind.
  [ -f "$T/mail/run/master.pid" ] && kill "$(cat "$T/mail/run/master.pid")" 2>/dev/null || true
  [ -n "${DOVECOT_PIDFILE:-}" ] && [ -f "$DOVECOT_PIDFILE" ] && kill "$(cat "$DOVECOT_PIDFILE")" 2>/dev/null || true
  if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
# A command that ends the test through set -e says which one: CI shows a test's output, and a test
# that stops without a word cannot be diagnosed from there.
trap 'echo "FAIL: line $LINENO: \`$BASH_COMMAND\` exited with $?" >&2' ERR
fail() { echo "FAIL: $*" >&2; [ -f "$T/lab.log" ] && tail -20 "$T/lab.log" >&2; exit 1; }

# `grep -q` stops reading at its first match. Under pipefail, whatever writes into it (`echo "$out" |`,
# curl, radclient) may then die of SIGPIPE, and a match reads as a failure: CI-like runs failed a
# check whose output held the very line grepped for. Here -q reads its input to the end and prints
# nothing (same exit status), for every test at once.
grep() {
  local args=() quiet= opts=1 a
  while (($#)); do
    a=$1
    shift
    if [ -n "$opts" ]; then
      case $a in
        --) opts= ;;
        -e | -f | -m | -A | -B | -C | --regexp | --file)
          args+=("$a" "$1")
          shift
          continue
          ;;
        --quiet | --silent) quiet=1 && continue ;;
        --*) ;;
        -*q*)
          quiet=1
          a=${a//q/}
          [ "$a" = - ] && continue
          ;;
        -*) ;;
        *) opts= ;;
      esac
    fi
    args+=("$a")
  done
  if [ -n "$quiet" ]; then command grep "${args[@]}" >/dev/null; else command grep "${args[@]}"; fi
}
pass() { echo "ok - $*"; }

# first_file DIR: the first regular file in DIR (by name), or nothing. Never fails: under set -e and
# pipefail, `f=$(ls DIR/* | head -1)` on an empty directory ends the test without a word.
first_file() { find "$1" -maxdepth 1 -type f 2>/dev/null | sort | head -1 || true; }
# wait_file DIR [TRIES]: waits (0.05 s a try, 10 s by default) for a file in DIR and prints it.
wait_file() {
  local f= _
  for _ in $(seq "${2:-200}"); do f=$(first_file "$1"); [ -n "$f" ] && break; sleep 0.05; done
  echo "$f"
}
# wait_grep PATTERN FILE [TRIES]: waits (0.05 s a try, 10 s by default) for PATTERN in a log that
# another process writes on its own schedule (Postfix's postlogd, a daemon's buffered log).
wait_grep() {
  local _
  for _ in $(seq "${3:-200}"); do grep -q -- "$1" "$2" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

# start_lab DIR [--with-boxes]: runs `mobix lab` and waits for lab.json (written once listeners are
# up). Without --with-boxes the lab's demo connectivity boxes stay off (`--no-boxes`): their own
# log-ins would move the global counters and gauges these tests check (lab_boxes.sh runs them).
start_lab() { # DIR [--with-boxes] [more `mobix lab` options]
  local dir=$1 boxes=--no-boxes
  shift
  if [ "${1:-}" = --with-boxes ]; then boxes=; shift; fi
  rm -f "$dir/lab.json"
  "$MOBIX" lab --dir "$dir" $boxes "$@" >>"$T/lab.log" 2>&1 &
  LAB_PID=$!
  PIDS+=("$LAB_PID")
  for _ in $(seq 1 400); do
    [ -f "$dir/lab.json" ] && break
    kill -0 "$LAB_PID" 2>/dev/null || fail "lab exited early"
    sleep 0.05
  done
  [ -f "$dir/lab.json" ] || fail "lab.json not written"
  AUTH=$(jq -r '.endpoints["access.radius_auth"] | "\(.host):\(.port)"' "$dir/lab.json")
  ACCT=$(jq -r '.endpoints["access.radius_acct"] | "\(.host):\(.port)"' "$dir/lab.json")
  ADMIN=$(jq -r '.endpoints["admin.http"] | "\(.host):\(.port)"' "$dir/lab.json")
  SECRET=$(jq -r '.radius_secret' "$dir/lab.json")
}

sub_field() { jq -r --arg m "$2" '.subscribers[] | select(.msisdn == $m) | .'"$3" "$1/lab.json"; }

# metric NAME_WITH_LABELS: prints the current value (0 when absent).
metric() {
  local v
  v=$(curl -fsS "http://$ADMIN/metrics" | awk -v k="$1" '$1 == k {print $2}')
  echo "${v:-0}"
}

session_ip_of() { curl -fsS "http://$ADMIN/api/v1/sessions" | jq -r --arg m "$1" '[.[] | select(.msisdn == $m) | .ip] | join(",")'; }
# Sessions of the handsets the test drives: the lab's demo connectivity boxes (seed 004, NAS-Identifier
# "cb-nas") log in and out by themselves and are not counted.
session_count() { curl -fsS "http://$ADMIN/api/v1/sessions" | jq '[.[] | select(.nas != "cb-nas")] | length'; }

# acct FILE_CONTENT: sends one Accounting-Request with radclient (independent implementation).
acct() { printf '%s\n' "$1" | radclient -q -r 2 -t 2 "$ACCT" acct "$SECRET"; }

# free_ports t|u|d ...: prints one free port per argument (t: TCP, u: UDP, d: both, for DNS).
# Ports come from below the kernel's ephemeral range, so no client's outgoing connection takes one
# between now and a restart that binds it again; a registry shared by the tests running in parallel
# (flock'd, entries kept 15 minutes) keeps two tests from being handed the same number.
free_ports() {
  /usr/bin/python3 -c 'import fcntl, json, os, random, socket, sys, time
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
def free(p, kinds):
    for kind in kinds:
        s = socket.socket(socket.AF_INET, kind)
        try: s.bind(("0.0.0.0", p))
        except OSError: return False
        finally: s.close()
    return True
kinds = {"t": [socket.SOCK_STREAM], "u": [socket.SOCK_DGRAM], "d": [socket.SOCK_STREAM, socket.SOCK_DGRAM]}
with open("/tmp/mobix-it-ports-%d.json" % os.getuid(), "a+") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    f.seek(0)
    try: taken = {int(k): v for k, v in json.loads(f.read() or "{}").items() if v > time.time() - 900}
    except ValueError: taken = {}
    ps = []
    for k in sys.argv[1:]:
        while True:
            p = random.randrange(20000, max(low, 20001))
            if p not in taken and free(p, kinds[k]): break
        taken[p] = time.time(); ps.append(p)
    f.seek(0); f.truncate(); f.write(json.dumps(taken))
print(*ps)' "$@"
}

# start_serve CONFIG ADMIN_PORT LOG [extra args]: runs `mobix serve` and waits for /healthz.
start_serve() {
  local config=$1 port=$2 log=$3
  "$MOBIX" serve --config "$config" "${@:4}" >"$log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0; sleep 0.05; done
  return 1
}

# make_test_cert DIR NAME: a private CA (DIR/ca.crt, ENVIRONMENT.md recipe) and a server certificate
# DIR/NAME.crt + DIR/NAME.key it signed, for localhost and 127.0.0.1, valid two days.
make_test_cert() {
  local dir=$1 name=$2
  mkdir -p "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/ca.key" -out "$dir/ca.crt" \
    -days 2 -subj "/CN=mobix Test CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign" 2>/dev/null || fail "openssl could not make the test CA"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/$name.key" -out "$dir/$name.csr" \
    -subj "/CN=localhost" 2>/dev/null || fail "openssl could not make the $name key"
  printf "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n" >"$dir/$name.ext"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -out "$dir/$name.crt" -days 2 -extfile "$dir/$name.ext" 2>/dev/null || fail "openssl could not sign $name.crt"
}

# pg_as CMD...: runs a PostgreSQL server command as the postgres user when we are root (it refuses
# to run as root), else as ourselves.
pg_as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# start_postgres DIR PORT: a private PostgreSQL 15 cluster (ENVIRONMENT.md recipe) on
# 127.0.0.1:PORT with a database "mobix", trust authentication on loopback. Sets PG_DSN and
# PG_DATA. Stopped by cleanup. fsync off: the tests kill processes, not the machine.
start_postgres() {
  local d=$1 port=$2 bin=/usr/lib/postgresql/15/bin
  mkdir -p "$d"
  chmod 755 "$T"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$d"
  pg_as $bin/initdb -D "$d/data" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >"$d/initdb.log" 2>&1 ||
    fail "initdb: $(tail -3 "$d/initdb.log")"
  PG_DATA="$d/data"
  PG_DATA_DIRS+=("$PG_DATA")
  PG_OPTS="-c listen_addresses=127.0.0.1 -p $port -k $d -c fsync=off -c full_page_writes=off ${PG_EXTRA_OPTS:-}"
  PG_LOG="$d/pg.log"
  pg_ctl_start
  psql -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE mobix" >/dev/null || fail "createdb"
  PG_DSN="host=127.0.0.1 port=$port user=postgres dbname=mobix"
}

pg_ctl_start() {
  pg_as /usr/lib/postgresql/15/bin/pg_ctl -D "$PG_DATA" -l "$PG_LOG" -w -o "$PG_OPTS" start >/dev/null ||
    fail "PostgreSQL did not start: $(tail -3 "$PG_LOG")"
}
# pg_crash: stops PostgreSQL the hard way (no shutdown checkpoint; it recovers from its WAL).
pg_crash() { pg_as /usr/lib/postgresql/15/bin/pg_ctl -D "$PG_DATA" -m immediate stop >/dev/null; }

# access_yaml ADMIN_PORT AUTH_PORT ACCT_PORT SECRET: the head most test configs share: the embedded
# store, an open admin listener, and the access role with one RADIUS client (127.0.0.1) and the pool
# 127.1.0.10-50 that `mobix sim attach` addresses come from.
# lock_database DB STOPFILE: another process (sqlite3) holds DB's write lock until STOPFILE exists
# (at most 60 s); returns once the lock is held (a writer without a busy timeout is refused), with
# the holder's pid in LOCK_PID. `touch STOPFILE; wait $LOCK_PID` releases it.
lock_database() {
  (echo ".timeout 5000"; echo "BEGIN EXCLUSIVE;"; for _ in $(seq 600); do [ -e "$2" ] && break; sleep 0.1; done; echo "COMMIT;") |
    sqlite3 "$1" &
  LOCK_PID=$!
  for _ in $(seq 1 100); do sqlite3 "$1" "BEGIN IMMEDIATE; ROLLBACK;" 2>/dev/null || break; sleep 0.05; done
  ! sqlite3 "$1" "BEGIN IMMEDIATE; ROLLBACK;" 2>/dev/null
}

access_yaml() {
  cat <<YAML
store: {path: mobix.db}
admin: {listen: "127.0.0.1:$1", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:$2
    acct_listen: 127.0.0.1:$3
    clients: [{name: ggsn, address: 127.0.0.1/32, secret: $4}]
  pools: [{name: internet, range: 127.1.0.10-127.1.0.50}]
YAML
}

# start_dovecot DIR POP3 IMAP [POP3S IMAPS CERT KEY] USER...: a real Dovecot (ENVIRONMENT.md recipe)
# on loopback with one message per user ("Hello USER, ...") and password USER-mail-pw.
# With CERT and KEY it offers STLS/STARTTLS on POP3/IMAP and implicit TLS on POP3S/IMAPS.
# Stopped by cleanup. Pass "" "" "" "" for no TLS. DOVECOT_EXTRA is appended to its configuration.
start_dovecot() {
  local d=$1 pop3=$2 imap=$3 pop3s=$4 imaps=$5 cert=$6 key=$7
  shift 7
  mkdir -p "$d/run" "$d/state"
  chmod 755 "$T" "$d" # Dovecot's auth process runs as the dovecot user
  for u in "$@"; do
    mkdir -p "$d/mail/$u/Maildir/"{cur,new,tmp}
    printf 'From: sender@example.net\r\nTo: %s@mail.test\r\nSubject: for %s only\r\n\r\nHello %s, this is your mailbox.\r\n' \
      "$u" "$u" "$u" >"$d/mail/$u/Maildir/new/1.msg"
    echo "$u:{PLAIN}$u-mail-pw:65534:65534::$d/mail/$u::" >>"$d/users"
  done
  chown -R 65534:65534 "$d/mail"
  local ssl="ssl = no"
  [ -n "$cert" ] && ssl="ssl = yes
ssl_cert = <$cert
ssl_key = <$key"
  cat >"$d/dovecot.conf" <<CONF
protocols = pop3 imap
listen = 127.0.0.1
base_dir = $d/run
state_dir = $d/state
log_path = $d/dovecot.log
$ssl
auth_failure_delay = 0
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $d/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $d/users
}
mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv
service pop3-login {
  inet_listener pop3 {
    port = $pop3
  }
  inet_listener pop3s {
    port = ${pop3s:-0}
  }
}
service imap-login {
  inet_listener imap {
    port = $imap
  }
  inet_listener imaps {
    port = ${imaps:-0}
  }
}
${DOVECOT_EXTRA:-}
CONF
  dovecot -c "$d/dovecot.conf"
  DOVECOT_PIDFILE=$d/run/master.pid
  for _ in $(seq 200); do curl -fsS "pop3://127.0.0.1:$pop3/" -u "$1:$1-mail-pw" >/dev/null 2>&1 && return 0; sleep 0.05; done
  return 1
}

# start_css [extra css keys as YAML lines]: a node with the access role (a configuration realm and
# pools) and the css role (seed 004), on SQLite or, with CSS_STORE=postgresql, a PostgreSQL of its own, an SMSC stand-in with accounts css and boxes, a root CA and
# the CSS's certificate. Sets ADMIN, P_AUTH, P_ACCT, P_CSS, P_SMSC, P_BOX, CB (the box agent command
# line without --state) and ADM (the admin CLI). Logs in $T/serve.log.
start_css() {
  read -r P_AUTH P_ACCT P_ADMIN P_CSS P_SMSC P_BOX <<<"$(free_ports u u t t t t)"
  ADMIN=127.0.0.1:$P_ADMIN
  "$MOBIX" smpp smsc --listen 127.0.0.1:$P_SMSC --account css:css-pw --account boxes:box-pw >$T/smsc.log 2>&1 &
  PIDS+=($!)
  "$MOBIX" pki init --dir $T/ca --cn "Test Root CA" >/dev/null
  "$MOBIX" factory css-cert --ca $T/ca --cn css.cb.test --out $T/css >/dev/null
  echo "nas-secret-123" >$T/nas_secret
  local store="{path: $T/mobix.db}"
  if [ "${CSS_STORE:-sqlite}" = postgresql ]; then
    start_postgres $T/pg "$(free_ports t)"
    store="{backend: postgresql, dsn: \"$PG_DSN\"}"
  fi
  cat >$T/mobix.yaml <<YAML
log: {level: ${CSS_LOG_LEVEL:-info}}
store: $store
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
  connected_timeout: 1
  wakeup: {smsc: 127.0.0.1:$P_SMSC, system_id: css, password: css-pw, per_second: 1000}
${1:-}
YAML
  start_serve $T/mobix.yaml $P_ADMIN $T/serve.log || fail "serve did not start: $(tail -5 $T/serve.log)"
  CB=("$MOBIX" cb run --nas 127.0.0.1:$P_AUTH --nas-acct 127.0.0.1:$P_ACCT --nas-secret-file $T/nas_secret
      --smsc 127.0.0.1:$P_SMSC --smsc-account boxes:box-pw)
  ADM=("$MOBIX" admin --url $ADMIN)
}
