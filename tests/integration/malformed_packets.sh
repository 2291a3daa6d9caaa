#!/usr/bin/env bash
# Malformed, truncated and unknown-client packets are dropped without a response and
# counted per reason; duplicates are answered from the cache and processed once; the
# server keeps answering afterwards.
source "$(dirname "$0")/lib.sh"
start_lab "$T"
HOST=${ACCT%:*}; APORT=${ACCT##*:}; UPORT=${AUTH##*:}

/usr/bin/python3 - "$HOST" "$APORT" "$UPORT" "$SECRET" <<'PY'
import hashlib, socket, struct, sys
host, acct_port, auth_port, secret = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].encode()
def attr(t, v): return bytes([t, len(v) + 2]) + v
def acct(ident, attrs):
    body = b"".join(attrs)
    hdr = bytes([4, ident]) + struct.pack(">H", 20 + len(body))
    auth = hashlib.md5(hdr + b"\0" * 16 + body + secret).digest()
    return hdr + auth + body
def exchange(pkt, port, timeout=0.5):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(timeout)
    s.sendto(pkt, (host, port))
    try: return s.recvfrom(4096)[0]
    except socket.timeout: return None
    finally: s.close()
bad = {
  "truncated header": b"\x04\x01\x00",
  "length beyond datagram": bytes([4, 2, 0, 200]) + b"\0" * 16,
  "attribute length 1": bytes([4, 3, 0, 23]) + b"\0" * 16 + b"\x28\x01\x00",
  "attribute past the end": bytes([4, 4, 0, 24]) + b"\0" * 16 + b"\x28\x09\x00\x00",
  "unknown code": bytes([99, 5, 0, 20]) + b"\0" * 16,
  "oversized": bytes([4, 6, 0x10, 0x01]) + b"\0" * 4097,
  "no status type": acct(7, [attr(44, b"x")]),
  "access-request on acct port": bytes([1, 8, 0, 20]) + b"\0" * 16,
}
for name, pkt in bad.items():
    for port in (acct_port, auth_port):
        if exchange(pkt, port) is not None: sys.exit("answered a malformed packet: " + name)
print("ok - %d malformed packets dropped on both ports" % len(bad))
# A valid Start sent twice with the same Identifier and authenticator: one processing, two answers.
start = acct(42, [attr(40, struct.pack(">I", 1)), attr(44, b"DUP1"), attr(8, bytes([127, 2, 0, 99])),
                  attr(31, b"31610000003"), attr(32, b"ggsn-dup")])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.sendto(start, (host, acct_port)); r1 = s.recvfrom(4096)[0]
s.sendto(start, (host, acct_port)); r2 = s.recvfrom(4096)[0]
if r1 != r2 or r1[0] != 5: sys.exit("duplicate not answered identically")
print("ok - retransmission answered identically")
# An Access-Request whose User-Password is not a multiple of 16 octets (RFC 2865 5.2), signed with a
# valid Message-Authenticator so only the password is wrong: dropped, no answer.
import hmac
def access(ident, attrs):
    body = b"".join(attrs) + attr(80, b"\0" * 16)
    req_auth = b"\x11" * 16
    hdr = bytes([1, ident]) + struct.pack(">H", 20 + len(body))
    ma = hmac.new(secret, hdr + req_auth + body, hashlib.md5).digest()
    return hdr + req_auth + body[:-16] + ma
if exchange(access(77, [attr(1, b"alice"), attr(2, b"short")]), auth_port) is not None:
    sys.exit("answered an Access-Request with a malformed User-Password")
print("ok - a malformed User-Password is dropped")
PY
[ "$(metric 'mobix_radius_duplicates_total')" -ge 1 ] || fail "duplicate not counted"
[ "$(metric 'mobix_access_session_events_total{kind="attach",reason="start"}')" = 1 ] || fail "duplicate processed twice"
for r in malformed_too_short malformed_length_mismatch malformed_bad_attribute malformed_unknown_code malformed_too_long no_acct_status_type unexpected_code; do
  [ "$(metric "mobix_radius_dropped_total{listener=\"acct\",reason=\"$r\"}")" -ge 1 ] || fail "reason $r not counted"
done
[ "$(metric 'mobix_radius_dropped_total{listener="auth",reason="malformed_user_password"}')" = 1 ] || fail "malformed_user_password not counted"
grep -q "radius auth: dropped packet from 127.0.0.1: malformed_user_password" $T/lab.log || fail "no log line for malformed_user_password"
pass "every drop reason counted in /metrics; duplicate processed once"

# Still healthy and answering after all that.
curl -fsS "http://$ADMIN/healthz" | grep -q ok || fail "healthz"
acct "$(printf 'Acct-Status-Type = Stop\nAcct-Session-Id = "DUP1"\nFramed-IP-Address = 127.2.0.99\nNAS-Identifier = "ggsn-dup"')" || fail "server stopped answering"
pass "server still answers after malformed input"
