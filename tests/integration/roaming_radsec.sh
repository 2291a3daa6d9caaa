#!/usr/bin/env bash
# Seed 002 end to end with two mobix networks (two processes, two stores): a terminal of the
# home network roams into the visited network. Visited proxies the Access-Request to home over
# RadSec (RFC 6614, mutual TLS, pinned certificates, routed by realm), home authenticates it and
# returns its host name, visited assigns the address; accounting goes to home. Then: home's DNS
# answers the forward name, visited's DNS the reverse, both NXDOMAIN after Stop. Refusals: no
# roaming agreement, wrong secret, roaming barred, a certificate that matches no partner's pin,
# accounting for a terminal home never authenticated. Visited killed with -9 mid-session and
# restarted: records consistent. And radsecproxy (an independent RadSec implementation) as the
# visited network's proxy in front of mobix home.
source "$(dirname "$0")/lib.sh"
read -r H_AUTH H_ACCT H_ADMIN H_DNS H_RS V_AUTH V_ACCT V_ADMIN V_DNS P_UDP < <(free_ports u u t d t u u t d u)
SECRET=nas-secret

"$MOBIX" pki init --dir "$T/pki" --cn "roaming CA" >/dev/null
"$MOBIX" pki issue --dir "$T/pki" --cn home.radsec.test --dns home.radsec.test --server --client --out "$T/home" >/dev/null
"$MOBIX" pki issue --dir "$T/pki" --cn visited.radsec.test --dns visited.radsec.test --server --client --out "$T/visited" >/dev/null
"$MOBIX" pki issue --dir "$T/pki" --cn rogue.radsec.test --dns rogue.radsec.test --server --client --out "$T/rogue" >/dev/null

mkdir -p "$T/h" "$T/v"
cat > "$T/h/mobix.yaml" <<Y
node: home
store: {path: home.db}
admin: {listen: "127.0.0.1:$H_ADMIN", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:$H_AUTH
    acct_listen: 127.0.0.1:$H_ACCT
    clients: [{name: home-ggsn, address: 127.0.0.0/8, secret: $SECRET}]
  pools: [{name: home, range: 127.8.0.10-127.8.0.250}]
roaming:
  realms: [home.test]
  radsec_listen: 127.0.0.1:$H_RS
  tls_cert_file: $T/home.crt
  tls_key_file: $T/home.key
  ca_file: $T/pki/ca.crt
  partners:
    - {name: visited, realm: visited.test, certificate_name: visited.radsec.test}
dns:
  listen: 127.0.0.1:$H_DNS
  zones: [{name: home.test}, {name: 8.127.in-addr.arpa}]
Y
cat > "$T/v/mobix.yaml" <<Y
node: visited
store: {path: visited.db}
admin: {listen: "127.0.0.1:$V_ADMIN", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:$V_AUTH
    acct_listen: 127.0.0.1:$V_ACCT
    clients: [{name: visited-ggsn, address: 127.0.0.0/8, secret: $SECRET}]
  pools: [{name: visitors, range: 127.9.0.10-127.9.0.250}]
roaming:
  realms: [visited.test]
  tls_cert_file: $T/visited.crt
  tls_key_file: $T/visited.key
  ca_file: $T/pki/ca.crt
  timeout: 2
  status_server_interval: 1
  partners:
    - {name: home, realm: home.test, certificate_name: home.radsec.test, server: "127.0.0.1:$H_RS"}
dns:
  listen: 127.0.0.1:$V_DNS
  zones: [{name: visited.test}, {name: 9.127.in-addr.arpa}]
  roamers_zone: visited.test
Y
start_serve "$T/h/mobix.yaml" "$H_ADMIN" "$T/home.log" || fail "home did not start: $(tail "$T/home.log")"
H_PID=${PIDS[-1]}
start_serve "$T/v/mobix.yaml" "$V_ADMIN" "$T/visited.log" || fail "visited did not start: $(tail "$T/visited.log")"
V_PID=${PIDS[-1]}
ADMIN=127.0.0.1:$H_ADMIN
api() { curl -fsS "http://127.0.0.1:$1/api/v1/$2" "${@:3}"; }
api "$H_ADMIN" subscribers -X POST --json '{"msisdn":"31600000001","username":"alice","password":"alice-pw","hostname":"alice.home.test"}' >/dev/null
api "$H_ADMIN" subscribers -X POST --json '{"msisdn":"31600000003","username":"carol","password":"carol-pw","hostname":"carol.home.test","attrs":{"roaming":"false"}}' >/dev/null

# The terminal attaches at the visited network, which acts on the sim's RADIUS as its NAS.
vsim() { "$MOBIX" sim "$1" --auth 127.0.0.1:$V_AUTH --acct 127.0.0.1:$V_ACCT --secret $SECRET --state-dir "$T/sim" "${@:2}"; }
qh() { dig +norec +time=2 +tries=1 @127.0.0.1 -p "$H_DNS" "$@"; }
qv() { dig +norec +time=2 +tries=1 @127.0.0.1 -p "$V_DNS" "$@"; }

ip=$(vsim attach --msisdn 31600000001 --username alice@home.test --password alice-pw | tail -1)
[[ "$ip" == 127.9.0.* ]] || fail "roaming attach printed '$ip': $(tail -5 "$T/visited.log")"
for _ in $(seq 1 50); do [ "$(qh +short alice.home.test A)" = "$ip" ] && break; sleep 0.05; done
[ "$(qh +short alice.home.test A)" = "$ip" ] || fail "home DNS: $(qh alice.home.test A) $(tail -5 "$T/home.log")"
[ "$(qv +short -x "$ip")" = "alice.home.test." ] || fail "visited reverse DNS: $(qv -x "$ip")"
home_nas=$(api "$H_ADMIN" sessions | jq -r '.[] | select(.ip == "'"$ip"'") | .nas')
[ "$home_nas" = "roaming:visited" ] || fail "home's session for the roamer: '$home_nas'"
grep -q 'status: REFUSED' <<<"$(qh -x "$ip")" || fail "home must not claim the visited network's reverse zone"
[ "$(qv +short alice.home.test.visited.test A)" = "$ip" ] || fail "visited's forward name for the roamer"
grep -q 'status: REFUSED' <<<"$(qv alice.home.test A)" || fail "visited must not claim the home zone"
# Idle for a second, the visited side probes the link with Status-Server (RFC 5997); home answers.
for _ in $(seq 1 100); do [ "$(ADMIN=127.0.0.1:$V_ADMIN metric 'mobix_radsec_watchdog_total{partner="home",result="alive"}')" -ge 1 ] && break; sleep 0.05; done
[ "$(ADMIN=127.0.0.1:$V_ADMIN metric 'mobix_radsec_watchdog_total{partner="home",result="alive"}')" -ge 1 ] || fail "no Status-Server probe answered by home"
[ "$(metric 'mobix_radius_status_server_total{via="radsec"}')" -ge 1 ] || fail "home did not count the Status-Server it answered over RadSec"
pass "roaming attach: visited IP $ip; alice.home.test A at home, PTR (and alice.home.test.visited.test A) at visited; home learned the session over RadSec"

out=$(vsim attach --msisdn 31600000001 --username alice@home.test --password wrong 2>&1) && fail "wrong secret accepted"
grep -q 'authentication failed' <<<"$out" || fail "wrong secret: $out"
out=$(vsim attach --msisdn 31600000009 --username zed@nowhere.test --password x 2>&1) && fail "unknown realm accepted"
grep -q 'no roaming agreement with realm nowhere.test' <<<"$out" || fail "unknown realm: $out"
out=$(vsim attach --msisdn 31600000003 --username carol@home.test --password carol-pw 2>&1) && fail "barred roamer accepted"
grep -q 'roaming is not part of this subscription' <<<"$out" || fail "barred: $out"
[ -z "$(qh +short carol.home.test A)" ] || fail "a rejected terminal got a record"
pass "refused: wrong secret (home says so), no roaming agreement (visited says so), roaming barred"

# A certificate from the same CA that matches no partner's pin is refused at home.
before=$(metric 'mobix_radsec_refused_total{reason="unknown_peer"}')
echo | timeout 5 openssl s_client -connect 127.0.0.1:$H_RS -cert "$T/rogue.crt" -key "$T/rogue.key" -CAfile "$T/pki/ca.crt" >/dev/null 2>&1 || true
for _ in $(seq 1 20); do [ "$(metric 'mobix_radsec_refused_total{reason="unknown_peer"}')" -gt "$before" ] && break; sleep 0.05; done
[ "$(metric 'mobix_radsec_refused_total{reason="unknown_peer"}')" -gt "$before" ] || fail "rogue certificate not refused"
echo | timeout 5 openssl s_client -connect 127.0.0.1:$H_RS -CAfile "$T/pki/ca.crt" >/dev/null 2>&1 || true
[ "$(metric 'mobix_radsec_refused_total{reason="tls"}')" -ge 1 ] || fail "a client without a certificate must be refused"
pass "RadSec: a valid certificate matching no pin, and no certificate at all, are refused"

# kill -9 the visited network mid-session; after restart both networks still agree.
kill -9 "$V_PID"; wait "$V_PID" 2>/dev/null || true
start_serve "$T/v/mobix.yaml" "$V_ADMIN" "$T/visited2.log" || fail "visited restart: $(tail "$T/visited2.log")"
V_PID=${PIDS[-1]}
[ "$(qv +short -x "$ip")" = "alice.home.test." ] || fail "visited lost the PTR after kill -9"
[ "$(qh +short alice.home.test A)" = "$ip" ] || fail "home lost the A record"
vsim detach --msisdn 31600000001 >/dev/null
for _ in $(seq 1 50); do grep -q NXDOMAIN <<<"$(qh alice.home.test A)" && break; sleep 0.05; done
grep -q 'status: NXDOMAIN' <<<"$(qh alice.home.test A)" || fail "home still has alice after Stop"
grep -q 'status: NXDOMAIN' <<<"$(qv -x "$ip")" || fail "visited still has the PTR after Stop"
grep -q 'status: NXDOMAIN' <<<"$(qv alice.home.test.visited.test A)" || fail "visited kept the roamer's forward name"
[ "$(api "$H_ADMIN" sessions | jq 'length')" = 0 ] || fail "home still holds a session"
pass "visited killed -9 mid-session and restarted: records kept; Stop removes both, forwarded to home"

# Home refuses accounting for a terminal it never authenticated (a forged Start via RadSec
# is not possible without a partner certificate; a partner's buggy Start is ignored).
ADMIN=127.0.0.1:$H_ADMIN
[ "$(metric mobix_roaming_accounting_refused_total)" = 0 ] || fail "unexpected refusals"

# radsecproxy (independent RadSec implementation) as the visited network's proxy.
if command -v radsecproxy >/dev/null; then
  cat > "$T/radsecproxy.conf" <<C
ListenUDP 127.0.0.1:$P_UDP
LogLevel 3
tls default {
  CACertificateFile $T/pki/ca.crt
  CertificateFile $T/visited.crt
  CertificateKeyFile $T/visited.key
}
client 127.0.0.1 {
  type udp
  secret $SECRET
}
server 127.0.0.1:$H_RS {
  type tls
  secret radsec
  tls default
  CertificateNameCheck off
  MatchCertificateAttribute SubjectAltName:DNS:/^home\\.radsec\\.test\$/
}
realm home.test {
  server 127.0.0.1:$H_RS
  accountingServer 127.0.0.1:$H_RS
}
C
  radsecproxy -f -c "$T/radsecproxy.conf" >"$T/radsecproxy.log" 2>&1 &
  PIDS+=($!)
  sleep 0.3
  out=$(printf 'User-Name = "alice@home.test"\nUser-Password = "alice-pw"\nMessage-Authenticator = 0x00\n' |
    radclient -x -r 2 -t 3 127.0.0.1:$P_UDP auth $SECRET 2>&1) || fail "radsecproxy -> mobix home: $out $(tail -5 "$T/radsecproxy.log")"
  grep -q 'Access-Accept' <<<"$out" || fail "no Access-Accept via radsecproxy: $out"
  grep -q 'alice.home.test' <<<"$out" || fail "host name VSA missing: $out"
  printf 'Acct-Status-Type = Start\nUser-Name = "alice@home.test"\nAcct-Session-Id = "P1"\nFramed-IP-Address = 127.10.0.7\n' |
    radclient -q -r 2 -t 3 127.0.0.1:$P_UDP acct $SECRET || fail "accounting via radsecproxy"
  for _ in $(seq 1 50); do [ "$(qh +short alice.home.test A)" = 127.10.0.7 ] && break; sleep 0.05; done
  [ "$(qh +short alice.home.test A)" = 127.10.0.7 ] || fail "home DNS after radsecproxy accounting"
  printf 'Acct-Status-Type = Start\nUser-Name = "alice@home.test"\nAcct-Session-Id = "P2"\nFramed-IP-Address = 127.10.0.8\n' |
    radclient -q -r 1 -t 3 127.0.0.1:$P_UDP acct $SECRET >/dev/null 2>&1 || true
  pass "radsecproxy -> mobix home over RadSec: Access-Accept with the host name VSA; accounting publishes the A record"
  # Accounting for a terminal home never authenticated, through the same partner link: answered,
  # counted and logged, and nothing is recorded or published.
  refused_before=$(metric mobix_roaming_accounting_refused_total)
  printf 'Acct-Status-Type = Start\nUser-Name = "mallory@home.test"\nAcct-Session-Id = "M1"\nFramed-IP-Address = 127.10.0.9\n' |
    radclient -q -r 2 -t 3 127.0.0.1:$P_UDP acct $SECRET || fail "accounting for a stranger was not answered"
  [ "$(metric mobix_roaming_accounting_refused_total)" = $((refused_before + 1)) ] || fail "the stranger's Start was not counted"
  grep -q "user mallory@home.test was not authenticated here; nothing recorded" "$T/home.log" || fail "no log line for the stranger's Start"
  [ "$(api "$H_ADMIN" sessions | jq '[.[] | select(.ip == "127.10.0.9")] | length')" = 0 ] || fail "home recorded the stranger"
  pass "accounting for a terminal home never authenticated: answered, counted, logged, nothing recorded"
else
  fail "radsecproxy is not installed"
fi

# The home network is down: the visited network answers the terminal's NAS at once with a reason
# (the RADIUS error path: a reply, a counter and a log line), instead of leaving it to time out.
kill "$H_PID"; wait "$H_PID" 2>/dev/null || true
ADMIN=127.0.0.1:$V_ADMIN
before=$(metric 'mobix_radius_access_rejects_total{reason="home_unreachable"}')
out=$(vsim attach --msisdn 31600000004 --username alice@home.test --password alice-pw 2>&1) && fail "attached with the home network down"
grep -q 'home network home did not answer' <<<"$out" || fail "home down: $out"
[ "$(metric 'mobix_radius_access_rejects_total{reason="home_unreachable"}')" = $((before + 1)) ] ||
  fail "the reject was not counted as home_unreachable"
grep -q 'reject user=alice@home.test: home network home did not answer' "$T/visited2.log" || fail "no log line for the unreachable home"
pass "home network down: the visited network rejects with 'home network home did not answer', counted and logged"
