#!/usr/bin/env bash
# Probes every capability the lab or the tests use, right after scripts/install-deps.sh, and stops at
# once naming the Debian package that is missing (issue 18: a feature Debian ships as a Recommends —
# swaks' STARTTLS needs libnet-ssleay-perl — was absent on a fresh machine and a test failed later
# for an unclear reason). Each probe exercises the capability itself, not only the package's presence.
# Usage: check-deps.sh lab|test
set -uo pipefail
mode=${1:-test}
missing=()
need() { # need PACKAGE DESCRIPTION COMMAND...: runs COMMAND quietly; on failure records PACKAGE
  local pkg=$1 what=$2
  shift 2
  if ! "$@" >/dev/null 2>&1; then missing+=("$pkg ($what)"); fi
}
have() { command -v "$1"; }
py() { /usr/bin/python3 -c "$1"; }   # Debian's python3 (a pyenv python3 on PATH cannot see dist-packages)
curl_has() { curl -V | grep -qiE "^Protocols:.*\b$1\b"; }
curl_tls() { curl -V | grep -qE '^Features:.*\bSSL\b'; }

# --- what the lab needs: the build and the demo mail provider
need cmake "build" have cmake
need ninja-build "build" have ninja
need build-essential "C++ compiler" have g++
need pkg-config "build" have pkg-config
need dovecot-pop3d "lab mail provider, POP3" test -x /usr/lib/dovecot/pop3
need dovecot-imapd "lab mail provider, IMAP" test -x /usr/lib/dovecot/imap
need python3-aiosmtpd "lab SMTP server" py 'import aiosmtpd.controller, aiosmtpd.handlers, aiosmtpd.smtp'
need python3 "python ssl module" py 'import ssl, socket, struct, socketserver, http.server, threading'
need jq "lab.json reading" have jq
need libpq-dev "PostgreSQL client library (the shared store)" pkg-config --exists libpq
need libkrb5-dev "MIT Kerberos and GSSAPI (seed 003)" pkg-config --exists krb5-gssapi
need curl "curl with TLS" curl_tls
need libosip2-dev "SIP parser (seed 003 calls)" pkg-config --exists libosip2
need libsrtp2-dev "SRTP (seed 003 calls)" pkg-config --exists libsrtp2
need libnghttp2-dev "HTTP/2 for the multiplexed relay link (issue 17)" pkg-config --exists libnghttp2

if [ "$mode" = test ]; then
  # --- toolchains of the sanitizer and fuzz builds
  need clang "ASan/fuzz build" have clang++
  need clang-format "format check" have clang-format
  need libclang-rt-14-dev "libFuzzer runtime" test -n "$(find /usr/lib/llvm-14 -name 'libclang_rt.fuzzer-x86_64.a' -print -quit 2>/dev/null)"
  # --- the console test's browser and its driver (seed 004)
  need chromium "headless browser for the console test" chromium --headless --no-sandbox --disable-gpu --dump-dom about:blank
  need "nodejs npm" "Node.js 18 or later for puppeteer-core" node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)'
  need "npm: tests/console (npm ci)" "puppeteer-core" test -f "$(dirname "$0")/../tests/console/node_modules/puppeteer-core/package.json"
  # --- clients the tests drive
  for p in pop3 pop3s imap imaps smtp smtps http https; do
    need curl "curl speaking $p" curl_has "$p"
  done
  need swaks "SMTP client" have swaks
  need libnet-ssleay-perl "swaks STARTTLS" bash -c 'swaks --support 2>&1 | grep -q "^=== TLS supported"'
  need freeradius-utils "radclient" have radclient
  need bind9-dnsutils "dig" have dig
  need bind9-dnsutils "nsupdate" have nsupdate
  need knot-dnsutils "kdig" have kdig
  need dnsperf "dnsperf" have dnsperf
  need ldap-utils "ldapsearch/ldapadd" have ldapsearch
  need openssl "openssl CLI" have openssl
  need iproute2 "ip netns" have ip
  need nftables "NAT in namespaces" have nft
  need procps "pkill/ps" have pkill
  need sqlite3 "sqlite3 CLI" have sqlite3
  need sip-tester "SIPp (SIP scenarios)" have sipp
  need baresip-core "baresip (an independent SIP user agent)" test -f /usr/lib/baresip/modules/srtp.so
  need libnet-smpp-perl "SMPP peer" perl -MNet::SMPP -e 1
  need tshark "Wireshark's Mobile IP dissector" have tshark
  need krb5-user "kinit/klist/kvno" have kvno
  need python3-scapy "Scapy's Mobile IP layers (an independent mobile node)" /usr/bin/python3 -c 'import scapy.layers.mobileip'
  need python3-h2 "python-h2 (an independent HTTP/2 end of the relay-gateway link)" /usr/bin/python3 -c 'import h2.connection'
  need python3-cryptography "python-cryptography (opens a signal independently)" /usr/bin/python3 -c 'from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305'
  need python3-gssapi "python-gssapi (Kerberos AP-REQs from an independent SIP peer)" /usr/bin/python3 -c 'import gssapi'
  # --- servers the tests start
  need dovecot-core "Dovecot" test -x /usr/sbin/dovecot
  need slapd "OpenLDAP server" test -x /usr/sbin/slapd
  need postfix "Postfix (a real submission server)" test -x /usr/lib/postfix/sbin/master
  need bind9 "BIND" test -x /usr/sbin/named
  need knot "Knot DNS" test -x /usr/sbin/knotd
  need radsecproxy "RadSec peer" test -x /usr/sbin/radsecproxy
  need postgresql-15 "PostgreSQL server (the shared store's tests)" test -x /usr/lib/postgresql/15/bin/initdb
  need postgresql-client-15 "psql" have psql
  need pgbouncer "PgBouncer (the pooler in front of the shared store)" pgbouncer --version
  need haproxy "PROXY v2 receiver" test -x /usr/sbin/haproxy
  need krb5-kdc "MIT Kerberos KDC" test -x /usr/sbin/krb5kdc
  need krb5-admin-server "kadmin.local" test -x /usr/sbin/kadmin.local
fi

if ((${#missing[@]})); then
  echo "check-deps: missing capabilities ($mode):" >&2
  printf '  - install %s\n' "${missing[@]}" >&2
  echo "check-deps: run scripts/install-deps.sh (as root) or apt-get install the packages above" >&2
  exit 1
fi
echo "check-deps: every capability the $mode needs is present"
