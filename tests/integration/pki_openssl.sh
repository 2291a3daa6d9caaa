#!/usr/bin/env bash
# mobix pki against OpenSSL's own tools: chains verify, SANs and usages are right, a
# revoked certificate fails a CRL check.
source "$(dirname "$0")/lib.sh"
cd "$T"
"$MOBIX" pki init --dir ca --cn "Test Operator CA" >/dev/null
"$MOBIX" pki issue --dir ca --cn relay.example --dns relay.example,www.relay.example --ip 127.0.0.1 --out relay >/dev/null
serial=$("$MOBIX" pki issue --dir ca --cn box-0001 --client --out box | head -1 | awk '{print $2}')
openssl verify -CAfile ca/ca.crt -purpose sslserver relay.crt | grep -q OK || fail "relay cert does not verify"
openssl verify -CAfile ca/ca.crt -purpose sslclient box.crt | grep -q OK || fail "box cert does not verify"
openssl x509 -in relay.crt -noout -ext subjectAltName | grep -q "DNS:www.relay.example, IP Address:127.0.0.1" || fail "SANs"
openssl x509 -in box.crt -noout -ext extendedKeyUsage | grep -q "TLS Web Client Authentication" || fail "clientAuth EKU"
[ "$(stat -c %a relay.key)" = 600 ] || fail "key mode"
openssl pkey -in relay.key -noout || fail "key unreadable by openssl"
pass "issued certificates verify with openssl, SANs and EKUs present, keys 0600"

"$MOBIX" pki revoke --dir ca --serial "$serial" >/dev/null
openssl crl -in ca/crl.pem -noout -text | grep -q "Serial Number: $serial" || fail "serial not in CRL"
if openssl verify -crl_check -CRLfile ca/crl.pem -CAfile ca/ca.crt box.crt >/dev/null 2>&1; then fail "revoked cert verified"; fi
openssl verify -crl_check -CRLfile ca/crl.pem -CAfile ca/ca.crt relay.crt | grep -q OK || fail "unrevoked cert fails CRL check"
"$MOBIX" pki verify --ca ca/ca.crt --crl ca/crl.pem box.crt && fail "mobix pki verify accepted a revoked cert"
"$MOBIX" pki verify --ca ca/ca.crt --crl ca/crl.pem --purpose server relay.crt | grep -q OK || fail "mobix pki verify"
"$MOBIX" pki show relay.crt | grep -q "relay.example" || fail "pki show"
pass "revocation: serial in the CRL, openssl and mobix both refuse the revoked cert"
