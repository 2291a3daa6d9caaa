#!/usr/bin/env bash
# The operator LDAP backend (issue 3 item 4) against a real OpenLDAP slapd over ldaps:// (and
# StartTLS), holding examples/ldap/subscribers.ldif with examples/ldap/mobix.schema: RADIUS
# authentication and the mail proxies read subscribers from LDAP; the cache is dropped when the
# session ends; LDAP down is a temporary failure; provisioning through mobix is refused. Seed 003
# with LDAP devices: the Home Agent and the initiating database (a private MIT KDC, curl --negotiate)
# read them; LDAP hung answers 503 directory_unavailable.
source "$(dirname "$0")/lib.sh"
command -v slapd >/dev/null || fail "slapd not installed (scripts/install-deps.sh)"
EX=$(cd "$(dirname "$0")/../../examples/ldap" && pwd)
read -r P_LDAP P_LDAPS P_POP3D P_IMAPD P_POP3S P_IMAPS P_SUB P_AUTH P_ACCT P_ADMIN P_POP3 P_IMAP P_SMTP P_HA \
  P_IDB P_KDC <<<"$(free_ports t t t t t t t u u t t t t u t d)"

"$MOBIX" pki init --dir $T/ca --cn "Test CA" >/dev/null
"$MOBIX" pki issue --dir $T/ca --cn server --dns localhost --ip 127.0.0.1 --out $T/server >/dev/null
chmod 644 $T/server.key

# --- a private MIT Kerberos realm for the initiating database (seed 003; ENVIRONMENT.md recipe) ---
K=$T/krb5
source "$(dirname "$0")/../../scripts/krb5-realm.sh"
write_realm "$K" MOBIX.TEST "$P_KDC"
kdb5_util create -s -r MOBIX.TEST -P masterpw >"$K/create.log" 2>&1 || fail "kdb5_util: $(tail -3 "$K/create.log")"
for q in "addprinc -randkey HTTP/localhost" "ktadd -k $K/http.keytab HTTP/localhost" \
  "addprinc -randkey IPUI-A11CE001" "addprinc -randkey IPUI-CA201003" \
  "ktadd -k $K/devices.keytab IPUI-A11CE001" "ktadd -k $K/devices.keytab IPUI-CA201003"; do
  kadmin.local -q "$q" >>"$K/kadmin.log" 2>&1 || fail "kadmin.local $q: $(tail -3 "$K/kadmin.log")"
done
krb5kdc -n -P "$K/kdc.pid" >"$K/kdc.out" 2>&1 &
PIDS+=($!)
device_kinit() { # CODE: the device's TGT in its own cache (for curl --negotiate)
  for _ in $(seq 1 100); do
    KRB5CCNAME=FILE:$K/cc-$1 kinit -k -t "$K/devices.keytab" "$1@MOBIX.TEST" 2>/dev/null && return 0
    sleep 0.05
  done
  fail "kinit $1: $(tail -3 "$K/kdc.out")"
}
initiating() { # CODE -> HTTP status; body in $T/idb.body
  KRB5CCNAME=FILE:$K/cc-$1 curl -sS -o $T/idb.body -w '%{http_code}' --max-time 20 --negotiate -u : \
    --cacert $T/ca/ca.crt "https://localhost:$P_IDB/v1/initiating/$1"
}

# --- slapd (ENVIRONMENT.md recipe): only cn=mobix may read the stored credentials ---
L=$T/ldap
mkdir -p $L/db
cat >$L/slapd.conf <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include $EX/mobix.schema
TLSCACertificateFile $T/ca/ca.crt
TLSCertificateFile $T/server.crt
TLSCertificateKeyFile $T/server.key
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $L/slapd.pid
argsfile $L/slapd.args
database mdb
maxsize 104857600
suffix "dc=operator,dc=test"
rootdn "cn=admin,dc=operator,dc=test"
rootpw adminpw
directory $L/db
index objectClass eq
index uid,mobile eq
index mobixIdentityCode,mobixHomeAddress eq
access to attrs=userPassword,mobixAccessPassword,mobixMailPassword,mobixMailSmtpPassword,mobixMipKey
  by dn.exact="cn=mobix,dc=operator,dc=test" read
  by anonymous auth
  by * none
access to * by * read
CONF
slaptest -f $L/slapd.conf -u >/dev/null 2>&1 || fail "slaptest: $(slaptest -f $L/slapd.conf -u 2>&1 | tail -3)"
start_slapd() { slapd -h "ldap://127.0.0.1:$P_LDAP/ ldaps://127.0.0.1:$P_LDAPS/" -f $L/slapd.conf; }
start_slapd || fail "slapd did not start"
SLAPD_PID() { cat $L/slapd.pid 2>/dev/null; }
trap 'kill $(SLAPD_PID) 2>/dev/null; kill -CONT $(SLAPD_PID) 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 40); do ldapsearch -x -H ldap://127.0.0.1:$P_LDAP -b "" -s base >/dev/null 2>&1 && break; sleep 0.05; done

# The mail provider: Dovecot with implicit TLS, submission with STARTTLS (the example's ports).
start_dovecot $T/dovecot $P_POP3D $P_IMAPD $P_POP3S $P_IMAPS $T/server.crt $T/server.key alice bob carol \
  || fail "dovecot did not start"
mkdir -p $T/md/{tmp,new,cur}
/usr/bin/python3 "$(dirname "$0")/smtp_upstream.py" --starttls $T/server.crt $T/server.key 127.0.0.1 $P_SUB $T/md \
  alice:alice-smtp-pw bob:bob-smtp-pw >$T/sub.log 2>&1 &
PIDS+=($!)

# The example LDIF, with the provider's names pointed at this test's ports (by name: localhost).
sed -e "s/pop3.mail.test:995/localhost:$P_POP3S/; s/imap.mail.test:993/localhost:$P_IMAPS/; s/smtp.mail.test:587/localhost:$P_SUB/" \
  $EX/subscribers.ldif >$T/subscribers.ldif
ldapadd -x -H ldap://127.0.0.1:$P_LDAP -D cn=admin,dc=operator,dc=test -w adminpw -f $T/subscribers.ldif >/dev/null \
  || fail "ldapadd"
# Independent check with ldapsearch: anonymous readers do not see the stored passwords.
ldapsearch -x -LLL -H ldap://127.0.0.1:$P_LDAP -b dc=operator,dc=test '(mobile=31610000001)' uid | grep -q "uid: alice" \
  || fail "ldapsearch: alice"
ldapsearch -x -LLL -H ldap://127.0.0.1:$P_LDAP -b dc=operator,dc=test '(uid=alice)' mobixMailPassword | grep -q mobixMailPassword \
  && fail "the ACL lets anyone read the mail password"

echo mobix-bind-pw >$T/bind.pw
write_config() {
  cat >$T/mobix.yaml <<YAML
store: {path: mobix.db}
admin: {listen: "127.0.0.1:$P_ADMIN", no_token: true}
directory:
  backend: ldap
  ldap:
    uri: $1
    start_tls: $2
    ca_file: ca/ca.crt
    bind_dn: cn=mobix,dc=operator,dc=test
    bind_password_file: bind.pw
    base_dn: ou=subscribers,dc=operator,dc=test
    filter: (objectClass=inetOrgPerson)
    timeout: 2
    cache_ttl: ${3:-300}
access:
  radius:
    auth_listen: 127.0.0.1:$P_AUTH
    acct_listen: 127.0.0.1:$P_ACCT
    clients: [{name: ggsn, address: 127.0.0.1/32, secret: mail-test-secret}]
  pools: [{name: internet, range: 127.1.0.10-127.1.0.50}]
mail:
  pop3_listen: 127.0.0.1:$P_POP3
  imap_listen: 127.0.0.1:$P_IMAP
  smtp_listen: 127.0.0.1:$P_SMTP
  access_ranges: [127.1.0.0/16]
  upstream_timeout: 5
  upstream_ca_file: ca/ca.crt
home_agent:
  listen: 127.0.0.1:$P_HA
  address: 127.0.0.1
  max_lifetime: 30
kerberos: {realm: MOBIX.TEST, config: $K/krb5.conf, rcache_dir: $K}
initiating_db: {listen: 127.0.0.1:$P_IDB, cert: server.crt, key: server.key, keytab: $K/http.keytab,
                home_agent: 127.0.0.1:$P_HA}
YAML
}
write_config "ldaps://127.0.0.1:$P_LDAPS" false
"$MOBIX" check-config $T/mobix.yaml >/dev/null || fail "check-config"
start_serve $T/mobix.yaml $P_ADMIN $T/mobix.log || fail "mobix serve did not start"
SERVE_PID=${PIDS[-1]}
ADMIN=127.0.0.1:$P_ADMIN

sim() { "$MOBIX" sim "$1" --auth 127.0.0.1:$P_AUTH --acct 127.0.0.1:$P_ACCT --secret mail-test-secret \
  --state-dir $T/sim --msisdn "$2" ${3:+--username "$3" --password "$4"} | tail -1; }
pop3() { curl -sS --max-time 10 --interface "$1" "pop3://127.0.0.1:$P_POP3/1" -u mobile:mobile; }
imap() { curl -sS --max-time 10 --interface "$1" "imap://127.0.0.1:$P_IMAP/INBOX;UID=1" -u mobile:mobile; }

# RADIUS authenticates against the LDAP entries (mobixAccessPassword); a wrong password is rejected.
IP_A=$(sim attach 31610000001 alice alice-radius-pw)
IP_B=$(sim attach 31610000002 bob bob-radius-pw)
[[ $IP_A == 127.1.* && $IP_B == 127.1.* ]] || fail "attach through LDAP gave '$IP_A' '$IP_B'"
sim attach 31610000003 carol wrong-pw >/dev/null 2>&1 && fail "a wrong access password was accepted"
pass "RADIUS authentication reads subscribers from slapd over ldaps://"

pop3 "$IP_A" | grep -q "Hello alice" || fail "POP3 for alice via LDAP"
imap "$IP_B" | grep -q "Hello bob" || fail "IMAP for bob via LDAP"
pop3 "$IP_B" | grep -q "Hello alice" && fail "bob saw alice's mail"
printf 'From: Mobile User <user@default.invalid>\r\nSubject: ldap\r\n\r\nhi\r\n' >$T/msg.eml
curl -sS --max-time 10 --interface "$IP_A" "smtp://127.0.0.1:$P_SMTP" --mail-from user@default.invalid \
  --mail-rcpt bob@mail.test --upload-file $T/msg.eml -u mobile:mobile || fail "send via LDAP profile"
sleep 0.3
grep -q '^From: =?UTF-8?B?QWxpY2Ugw4VuZ3N0csO2bQ==?= <alice@mail.test>' $T/md/new/* \
  || fail "From: not rewritten from LDAP's displayName and mail"
pass "POP3, IMAP and SMTP use the mail profile from LDAP (server by name, TLS by port, displayName, mail)"

[ "$(metric 'mobix_directory_ldap_cache_hits_total')" -ge 1 ] || fail "no cache hits"
# While alice's session lives her entry is cached: a change in LDAP is not seen yet...
ldapmodify -x -H ldap://127.0.0.1:$P_LDAP -D cn=admin,dc=operator,dc=test -w adminpw >/dev/null <<'LDIF' || fail "ldapmodify"
dn: uid=alice,ou=subscribers,dc=operator,dc=test
changetype: modify
replace: mobixMailPassword
mobixMailPassword: changed-elsewhere
LDIF
pop3 "$IP_A" | grep -q "Hello alice" || fail "cached entry not used during the session"
# ...and when the session ends the cache entry goes: the next session reads LDAP again.
sim detach 31610000001 >/dev/null
IP_A=$(sim attach 31610000001 alice alice-radius-pw)
out=$(pop3 "$IP_A" 2>&1 || true)
[ "$(metric 'mobix_mail_pop3_failures_total{reason="upstream_rejected_credentials"}')" = 1 ] \
  || fail "the new session did not read the changed entry: $out"
pass "entries are cached during the session and dropped when it ends"

code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$ADMIN/api/v1/subscribers" --json '{"msisdn":"31610000009"}')
[ "$code" = 400 ] || fail "provisioning through mobix with LDAP backend: $code"
[ "$(curl -fsS "http://$ADMIN/api/v1/subscribers" | jq length)" = 3 ] || fail "admin list from LDAP"
[ "$(curl -fsS "http://$ADMIN/api/v1/subscribers/31610000003" | jq -r .username)" = carol ] || fail "admin show"
pass "the admin API lists LDAP subscribers and refuses to provision them"

# Seed 003 with LDAP as the directory: alice's phone is a mobixDevice entry under hers. The Home
# Agent takes the Mobile IP key from there; the admin API lists the device (never the key) and
# refuses to provision devices; a device whose key breaks the rules is refused, counted and logged.
MIP_KEY=00112233445566778899aabbccddeeff
ldapadd -x -H ldap://127.0.0.1:$P_LDAP -D cn=admin,dc=operator,dc=test -w adminpw >/dev/null <<LDIF || fail "ldapadd devices"
dn: mobixIdentityCode=IPUI-A11CE001,uid=alice,ou=subscribers,dc=operator,dc=test
objectClass: mobixDevice
mobixIdentityCode: IPUI-A11CE001
mobixHomeAddress: 10.64.0.7
mobixMipSpi: 300
mobixMipKey: $MIP_KEY

dn: mobixIdentityCode=IPUI-B0B00002,uid=bob,ou=subscribers,dc=operator,dc=test
objectClass: mobixDevice
mobixIdentityCode: IPUI-B0B00002
mobixHomeAddress: 10.64.0.8
mobixMipKey: not-hex
LDIF
ldapsearch -x -LLL -H ldap://127.0.0.1:$P_LDAP -b ou=subscribers,dc=operator,dc=test "(mobixIdentityCode=IPUI-A11CE001)" mobixMipKey |
  grep -q mobixMipKey && fail "the ACL lets anyone read a Mobile IP key"
alice_id=$(curl -fsS "http://$ADMIN/api/v1/subscribers/31610000001" | jq -r .id)
devices=$(curl -fsS "http://$ADMIN/api/v1/devices")
[ "$(jq -r --arg id "$alice_id" '[.[] | select(.identity_code == "IPUI-A11CE001" and (.subscriber_id | tostring) == $id
  and .home_address == "10.64.0.7" and .mip_spi == 300 and .mip_key_set)] | length' <<<"$devices")" = 1 ] ||
  fail "alice's device from LDAP: $devices (alice is $alice_id)"
[ "$(jq length <<<"$devices")" = 1 ] || fail "bob's device with a bad key was listed: $devices"
grep -qi "$MIP_KEY" <<<"$devices" && fail "the API returned the Mobile IP key"
grep -q "LDAP entry mobixIdentityCode=IPUI-B0B00002,uid=bob,ou=subscribers,dc=operator,dc=test refused: attribute mobixMipKey" \
  $T/mobix.log || fail "no log line for bob's device"
grep -q "not-hex" $T/mobix.log && fail "the refused key was logged"
code=$(curl -s -o $T/body -w '%{http_code}' -X POST "http://$ADMIN/api/v1/devices" --json \
  '{"identity_code":"IPUI-C0001","subscriber":"31610000003","home_address":"10.64.0.9","mip_key":"'$MIP_KEY'"}')
[ "$code" = 400 ] && grep -q "provision devices there" $T/body || fail "provisioning a device through mobix with LDAP: $code $(cat $T/body)"
echo $MIP_KEY >$T/mip.key
reg=$("$MOBIX" sim mip --ha 127.0.0.1:$P_HA --home 10.64.0.7 --care-of 198.51.100.9 --spi 300 --key-file $T/mip.key --lifetime 10 2>&1)
jq -e 'select(.event == "registered") | .code == 0' <<<"$reg" >/dev/null || fail "registration with the key from LDAP: $reg"
curl -fsS "http://$ADMIN/api/v1/mip/bindings" | jq -e '.[] | select(.home_address == "10.64.0.7" and .care_of == "198.51.100.9")' >/dev/null ||
  fail "no binding for alice's phone"
echo 00112233445566778899aabbccddeef0 >$T/wrong.key
reg=$("$MOBIX" sim mip --ha 127.0.0.1:$P_HA --home 10.64.0.7 --care-of 198.51.100.9 --spi 300 --key-file $T/wrong.key --lifetime 10 --attempts 1 2>&1 || true)
grep -q '"code":131' <<<"$reg" || fail "a wrong key was not refused with 131: $reg"
pass "devices in LDAP (seed 003): listed without their key, provisioning refused, a bad entry refused and logged; the Home Agent registers with the key from LDAP and refuses another (131)"

# The initiating database reads the device and its subscriber from LDAP too (curl --negotiate as
# the device's principal, an independent SPNEGO client).
device_kinit IPUI-A11CE001
code=$(initiating IPUI-A11CE001)
[ "$code" = 200 ] || fail "initiating information from LDAP: $code $(cat $T/idb.body)"
[ "$(jq -r '.home_address, .user_name, .mip_spi' $T/idb.body | tr '\n' ' ')" = "10.64.0.7 alice 300 " ] ||
  fail "initiating information: $(cat $T/idb.body)"
pass "the initiating database serves alice's device from LDAP to IPUI-A11CE001@MOBIX.TEST (SPNEGO)"

# LDAP hangs (slapd stopped, not gone): a request for a home address the Home Agent has not cached
# waits for the directory on a pool thread, and the event loop keeps answering the devices it has
# cached (alice's key, read above). The queue for one address is bounded (8): more requests for it
# are dropped, counted and logged. The hung lookup then fails: every waiting request counted, logged,
# left unanswered (the mobile node retransmits).
unavailable() { metric 'mobix_mip_requests_total{outcome="store_unavailable"}'; }
queue_full() { metric 'mobix_mip_requests_total{outcome="lookup_queue_full"}'; }
unavailable0=$(unavailable)
full0=$(queue_full)
# Carol's phone, added now: nothing has read it yet, so the initiating database must ask LDAP.
ldapadd -x -H ldap://127.0.0.1:$P_LDAP -D cn=admin,dc=operator,dc=test -w adminpw >/dev/null <<LDIF || fail "ldapadd carol's device"
dn: mobixIdentityCode=IPUI-CA201003,uid=carol,ou=subscribers,dc=operator,dc=test
objectClass: mobixDevice
mobixIdentityCode: IPUI-CA201003
mobixHomeAddress: 10.64.0.10
mobixMipKey: $MIP_KEY
LDIF
device_kinit IPUI-CA201003
idb_unavailable0=$(metric 'mobix_initiating_db_requests_total{outcome="directory_unavailable"}')
auth_down() { metric 'mobix_radius_dropped_total{listener="auth",reason="directory_unavailable"}'; }
auth_down0=$(auth_down)
kill -STOP "$(SLAPD_PID)"
initiating IPUI-CA201003 >$T/idb.code &
IDB_CURL=$!
"$MOBIX" sim mip --ha 127.0.0.1:$P_HA --home 10.64.0.99 --care-of 198.51.100.9 --spi 300 --key-file $T/mip.key \
  --lifetime 10 --attempts 1 --timeout-ms 500 >$T/uncached.out 2>&1 &
UNCACHED=$!
sleep 0.3 # the uncached request goes first (were it second, the checks below would still hold, proving less)
reg=$("$MOBIX" sim mip --ha 127.0.0.1:$P_HA --home 10.64.0.7 --care-of 198.51.100.10 --spi 300 --key-file $T/mip.key \
  --lifetime 10 --attempts 1 --timeout-ms 1500 2>&1 || true)
unavailable1=$(unavailable)
# Ten more requests for the same address (a header is enough to be queued): 7 join it, 3 are dropped.
/usr/bin/python3 - "$P_HA" <<'P'
import socket, sys
rrq = bytes([1, 0, 0, 10]) + b"".join(socket.inet_aton(a) for a in ("10.64.0.99", "127.0.0.1", "198.51.100.9")) + bytes(8)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(10): s.sendto(rrq, ("127.0.0.1", int(sys.argv[1])))
P
for _ in $(seq 40); do [ "$(queue_full)" -ge $((full0 + 3)) ] && break; sleep 0.05; done
[ "$(queue_full)" = $((full0 + 3)) ] || fail "expected 3 requests dropped from a full lookup queue, counted $(( $(queue_full) - full0 ))"
grep -q "home_agent: 8 requests wait for the directory; one from 127.0.0.1 dropped" $T/mobix.log ||
  fail "no log line for the full lookup queue"
# RADIUS asks LDAP on its lookup pool too: while an Access-Request for a subscriber nobody cached
# waits, the access role answers a Status-Server (RFC 5997) at once.
printf 'User-Name = "zed"\nUser-Password = "zed-pw"\nCalling-Station-Id = "31619999999"\nMessage-Authenticator = 0x00\n' |
  radclient -r 1 -t 30 127.0.0.1:$P_AUTH auth mail-test-secret >$T/zed.out 2>&1 &
ZED=$!
sleep 0.3
status=$(printf 'Message-Authenticator = 0x00\n' | radclient -x -r 1 -t 5 127.0.0.1:$P_AUTH status mail-test-secret 2>&1) ||
  fail "Status-Server was not answered while LDAP hung: $status"
[ "$(auth_down)" = "$auth_down0" ] || fail "Status-Server was answered only after the hung lookup had failed"
for _ in $(seq 100); do [ "$(unavailable)" -gt "$unavailable0" ] && break; sleep 0.1; done
wait $IDB_CURL || true # the initiating database answers once its LDAP deadline passed
for _ in $(seq 300); do [ "$(auth_down)" -gt "$auth_down0" ] && break; sleep 0.1; done
kill -CONT "$(SLAPD_PID)"
kill $ZED 2>/dev/null || true
[ "$(auth_down)" = $((auth_down0 + 1)) ] || fail "the hung RADIUS lookup was not dropped and counted once: $(( $(auth_down) - auth_down0 ))"
grep -q "radius auth: directory unavailable for a request from 127.0.0.1" $T/mobix.log ||
  fail "no log line for the hung RADIUS lookup"
wait $UNCACHED 2>/dev/null || true
jq -e 'select(.event == "registered") | .code == 0' <<<"$reg" >/dev/null ||
  fail "a cached device was not answered while LDAP hung: $reg"
[ "$unavailable1" = "$unavailable0" ] || fail "the cached device was answered only after the hung lookup had failed"
[ "$(unavailable)" -gt "$unavailable0" ] || fail "the failed lookup was not counted"
[ "$(unavailable)" = $((unavailable0 + 8)) ] || fail "every queued request must be counted: $(( $(unavailable) - unavailable0 ))"
grep -q "home_agent: 8 request(s) for 10.64.0.99 unanswered" $T/mobix.log || fail "no log line for the failed lookup"
grep -q '"result":"timed_out"' $T/uncached.out || fail "the uncached request was answered: $(cat $T/uncached.out)"
[ "$(cat $T/idb.code)" = 503 ] && grep -q directory_unavailable $T/idb.body ||
  fail "the initiating database with LDAP hung: $(cat $T/idb.code) $(cat $T/idb.body)"
[ "$(metric 'mobix_initiating_db_requests_total{outcome="directory_unavailable"}')" = $((idb_unavailable0 + 1)) ] ||
  fail "directory_unavailable not counted"
grep -q "refused a request from 127.0.0.1: directory_unavailable (IPUI-CA201003: " $T/mobix.log ||
  fail "no log line for the initiating database's directory_unavailable"
pass "LDAP hung: the Home Agent answers cached devices meanwhile; a full lookup queue drops (counted, logged); the hung lookup's 8 requests are counted, logged and unanswered; the initiating database answers 503 directory_unavailable (counted, logged); RADIUS answers Status-Server meanwhile and drops the hung Access-Request (counted, logged)"

# An entry whose value breaks the subscriber rules (a CR LF in the mail password would add a command
# to the upstream login) is refused where it is read: logged with its DN and attribute, counted, and
# the terminal is rejected as unknown. The secret itself is never logged.
ldapadd -x -H ldap://127.0.0.1:$P_LDAP -D cn=admin,dc=operator,dc=test -w adminpw >/dev/null <<'LDIF' || fail "ldapadd dave"
dn: uid=dave,ou=subscribers,dc=operator,dc=test
objectClass: inetOrgPerson
objectClass: mobixSubscriber
uid: dave
cn: Dave
sn: Dave
mobile: 31610000004
mobixAccessPassword: dave-radius-pw
mobixMailPassword:: ZGF2ZS1wdw0KYTEgTE9HT1VU
LDIF
invalid0=$(metric mobix_directory_ldap_invalid_entries_total)
rejects0=$(metric 'mobix_radius_access_rejects_total{reason="unknown_subscriber"}')
sim attach 31610000004 dave dave-radius-pw >/dev/null 2>&1 && fail "an entry with a CR LF in its mail password was accepted"
[ "$(metric mobix_directory_ldap_invalid_entries_total)" -gt "$invalid0" ] || fail "the invalid entry was not counted"
[ "$(metric 'mobix_radius_access_rejects_total{reason="unknown_subscriber"}')" -gt "$rejects0" ] ||
  fail "the terminal was not rejected as unknown"
grep -q "LDAP entry uid=dave,ou=subscribers,dc=operator,dc=test refused: attribute mobixMailPassword: mail.password: control characters" \
  $T/mobix.log || fail "no log line naming the entry and its attribute: $(grep dave $T/mobix.log | tail -2)"
grep -q "LOGOUT" $T/mobix.log && fail "the refused secret was logged"
[ "$(curl -fsS "http://$ADMIN/api/v1/subscribers" | jq length)" = 3 ] || fail "the admin list shows the invalid entry"
pass "an LDAP entry that breaks the rules is refused (reply, counter, log line naming DN and attribute; no secret logged)"

# LDAP down: carol has a session but no cached entry (cache_ttl 1 s) -> temporary failure.
kill $SERVE_PID; wait $SERVE_PID 2>/dev/null || true
write_config "ldap://127.0.0.1:$P_LDAP" true 1
start_serve $T/mobix.yaml $P_ADMIN $T/mobix2.log || fail "mobix serve (StartTLS) did not start"
SERVE_PID=${PIDS[-1]}
IP_C=$(sim attach 31610000003 carol carol-radius-pw)
pop3 "$IP_C" | grep -q "Hello carol" || fail "POP3 for carol over StartTLS to LDAP"
pass "ldap:// with StartTLS works too"
sleep 1.2
kill $(SLAPD_PID)
for _ in $(seq 40); do kill -0 $(SLAPD_PID) 2>/dev/null || break; sleep 0.05; done
out=$(curl -sS --max-time 10 --interface "$IP_C" "pop3://127.0.0.1:$P_POP3/1" -u mobile:mobile 2>&1 || true)
[ "$(metric 'mobix_mail_pop3_failures_total{reason="directory_unavailable"}')" = 1 ] \
  || fail "LDAP down was not a temporary failure: $out"
grep -q "directory unavailable for msisdn 31610000003" $T/mobix2.log || fail "no log line for LDAP down"
# IMAP and SMTP answer the same way: a temporary failure, counted and logged.
out=$(curl -sS -v --max-time 10 --interface "$IP_C" "imap://127.0.0.1:$P_IMAP/INBOX" -u mobile:mobile 2>&1 || true)
echo "$out" | grep -q "NO \[UNAVAILABLE\] the subscriber directory is not reachable" || fail "IMAP with LDAP down: $out"
[ "$(metric 'mobix_mail_imap_failures_total{reason="directory_unavailable"}')" = 1 ] || fail "IMAP: directory_unavailable not counted"
out=$(printf 'Subject: t\r\n\r\nx\r\n' | curl -sS -v --max-time 10 --interface "$IP_C" "smtp://127.0.0.1:$P_SMTP" \
  --mail-from user@default.invalid --mail-rcpt bob@mail.test -T - 2>&1 || true)
echo "$out" | grep -q "< 451 4.4.3 the subscriber directory is not reachable" || fail "SMTP with LDAP down: $out"
[ "$(metric 'mobix_mail_smtp_failures_total{reason="directory_unavailable"}')" = 1 ] || fail "SMTP: directory_unavailable not counted"
[ "$(grep -c "directory unavailable for msisdn 31610000003" $T/mobix2.log)" -ge 3 ] || fail "no log lines for IMAP and SMTP with LDAP down"
# It comes back: the pool reconnects.
start_slapd || fail "slapd restart"
sleep 0.3
pop3 "$IP_C" | grep -q "Hello carol" || fail "no recovery after LDAP came back"
pass "LDAP down is a temporary failure on POP3, IMAP and SMTP (replies, counters, log lines); service resumes when it returns"
grep -q "mobix-bind-pw\|mail-pw" $T/mobix.log $T/mobix2.log && fail "a password in the log"
pass "no password in the log"
