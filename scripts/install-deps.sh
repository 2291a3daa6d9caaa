#!/usr/bin/env bash
# Installs every build and test dependency of mobix from Debian 12 packages.
# Idempotent: packages already present are skipped by apt; safe to run twice.
set -euo pipefail

PKGS=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang clang-format libclang-rt-14-dev
  # libraries (DESIGN.md: Boost 1.81 for Asio/Beast, OpenSSL 3, SQLite, yaml-cpp, spdlog/fmt, CLI11, json)
  libboost1.81-dev libssl-dev libsqlite3-dev sqlite3 libyaml-cpp-dev libspdlog-dev libfmt-dev
  libcli11-dev nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev
  # HTTP/2 framing and flow control for the multiplexed relay-gateway link (issue 17); python-h2,
  # an independent HTTP/2 implementation, plays each end of the link in a test (python-cryptography
  # opens the signal there)
  libnghttp2-dev python3-h2 python3-cryptography
  # the shared store for several nodes (issue 14): libpq to build, a real server for the tests
  libpq-dev postgresql-15 postgresql-client-15 pgbouncer
  # test peers and clients (an independent RADIUS implementation, HTTP client, PKI checks)
  freeradius-utils curl openssl jq procps iproute2 python3
  # the subscriber's real mail server in the mail tests (seed 000)
  dovecot-pop3d dovecot-imapd python3-aiosmtpd
  # a real MTA as the subscriber's submission server (STARTTLS, AUTH through Dovecot's SASL); the
  # tests run their own instance, the package is installed unconfigured ("No configuration" below)
  postfix
  # an independent SMTP client for the e-mail signal channel test (seed 001); its STARTTLS needs
  # Net::SSLeay, which Debian ships only as a Recommends of swaks (issue 18)
  swaks libnet-ssleay-perl
  libldap-dev slapd ldap-utils
  # an independent SMPP implementation for the SMS signal channel tests (seed 001)
  libnet-smpp-perl
  # network namespaces with NAT and a firewall for the relay tests (seed 001)
  nftables
  # a real PROXY protocol v2 receiver for the relay tests
  haproxy
  # roaming DNS (seed 002): ldns for DNS wire format; BIND and Knot receive RFC 2136 updates;
  # dig/nsupdate/dnsperf drive them; radsecproxy is an independent RadSec (RFC 6614) peer
  libldns-dev bind9 bind9-dnsutils bind9-utils knot knot-dnsutils dnsperf radsecproxy
  # seed 003's Home Agent (RFC 5944) meets independent Mobile IP implementations: Scapy's MobileIP
  # layers play a mobile node; Wireshark's dissector (tshark) decodes what mobix sends
  tshark python3-scapy
  # seed 003's Kerberos (MIT): the library and GSSAPI to build; a real KDC, kadmin.local and the
  # kinit/klist/kvno clients for the tests and the lab
  libkrb5-dev krb5-kdc krb5-admin-server krb5-user
  # python-gssapi builds AP-REQs the way an independent SIP peer would (forged-caller and expired-ticket tests)
  python3-gssapi
  # seed 003's secure calls: SIP parsed by libosip2, media protected by libsrtp2 (SRTP, RFC 3711);
  # baresip (a SIP/SRTP user agent) and SIPp (SIP load and scenarios) are independent peers
  libosip2-dev libsrtp2-dev baresip-core sip-tester
  # the call-center console (seed 004) is tested in a real headless browser: Debian's Chromium,
  # driven by puppeteer-core from npm (tests/console; no browser download)
  chromium
)
# Node.js and npm for that driver: Debian's, unless the machine already has a Node.js with npm.
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  # Postfix must not take over the machine's mail: no main.cf, no system instance started.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all ${#PKGS[@]} packages present"
# npm packages pinned by tests/console/package-lock.json (the only thing taken from npm).
CONSOLE=$(cd "$(dirname "$0")/../tests/console" && pwd)
want=$(jq -r '.packages["node_modules/puppeteer-core"].version' "$CONSOLE/package-lock.json")
have=$(jq -r .version "$CONSOLE/node_modules/puppeteer-core/package.json" 2>/dev/null || true)
if [ "$want" != "$have" ]; then
  (cd "$CONSOLE" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
echo "install-deps: npm packages for the console tests present"
