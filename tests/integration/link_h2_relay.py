#!/usr/bin/python3
# python-h2 (an independent HTTP/2 implementation) plays the relay's end of the multiplexed link
# against mobix's gateway (issue 17 item 1: nghttp2 is not on both ends of every test). It takes
# the gateway's TLS connection on a callback port, reads the MOBIX-LINK hello and then opens streams
# as the relay does (docs/relay.md "The multiplexed link"). Its own receive window is small and it
# acknowledges data only as it reads, so a gateway that ignored the peer's flow control would
# make h2 raise. One "ok - ..." line per check; exits non-zero at the first failure.
#
# Usage: link_h2_relay.py PORT CERT KEY READY_FILE TUNNEL_ID_HEX MSISDN WEB_PORT CLOSED_PORT BIG_PORT BIG_FILE
import hashlib
import socket
import ssl
import sys

import h2.config
import h2.connection
import h2.events
import h2.settings

(port, cert, key, ready, tunnel_hex, msisdn, web_port, closed_port, big_port, big_file) = sys.argv[1:11]


def fail(why):
    print("FAIL: " + why, flush=True)
    sys.exit(1)


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
listener = socket.create_server(("127.0.0.1", int(port)))
listener.settimeout(30)
open(ready, "w").close()
raw, _ = listener.accept()
tls = ctx.wrap_socket(raw, server_side=True)
tls.settimeout(20)

# The hello: "MOBIX-LINK <tunnel id> <one-time key>\r\n" (src/codec/leg/leg.cpp).
hello = b""
while not hello.endswith(b"\r\n"):
    byte = tls.recv(1)
    if not byte:
        fail("the gateway closed before its hello")
    hello += byte
words = hello.decode().split()
if len(words) != 3 or words[0] != "MOBIX-LINK" or int(words[1], 16) != int(tunnel_hex, 16):
    fail("unexpected hello %r" % hello)
print("ok - the gateway dialled in, verified our certificate and presented MOBIX-LINK for the signal's tunnel", flush=True)

WINDOW = 65535  # HTTP/2's initial window: the gateway may send no more per stream until we read
# h2 4.1 checks every outbound request for :scheme and :path, which a CONNECT (RFC 9113 8.5) must
# not carry: its outbound check is off; the gateway's nghttp2 checks the CONNECT form instead.
conn = h2.connection.H2Connection(
    h2.config.H2Configuration(client_side=True, header_encoding="utf-8", validate_outbound_headers=False))
conn.initiate_connection()
conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: WINDOW})
tls.sendall(conn.data_to_send())


def exchange(headers, body=b"", end=True):
    """One stream: its response headers, its body (acknowledged as read) and how it ended."""
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, headers, end_stream=not body and end)
    if body:
        conn.send_data(sid, body, end_stream=end)
    tls.sendall(conn.data_to_send())
    got = {"headers": None, "body": bytearray(), "ended": False, "reset": None}
    while not got["ended"] and got["reset"] is None:
        data = tls.recv(65536)
        if not data:
            fail("the gateway closed the link")
        for ev in conn.receive_data(data):  # raises on a flow-control or protocol violation
            if getattr(ev, "stream_id", None) != sid:
                continue
            if isinstance(ev, h2.events.ResponseReceived):
                got["headers"] = dict(ev.headers)
            elif isinstance(ev, h2.events.DataReceived):
                got["body"] += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length, sid)
            elif isinstance(ev, h2.events.StreamEnded):
                got["ended"] = True
            elif isinstance(ev, h2.events.StreamReset):
                got["reset"] = ev.error_code
        tls.sendall(conn.data_to_send())
    return got


def connect(authority, request):
    return exchange([(":method", "CONNECT"), (":authority", authority), ("mobix-protocol", "http")], request)


# A tunnel: CONNECT to the terminal; the request goes with it, END_STREAM is the client's FIN.
got = connect("%s:%s" % (msisdn, web_port), b"GET / HTTP/1.1\r\nHost: cam\r\nConnection: close\r\n\r\n")
if not got["headers"] or got["headers"].get(":status") != "200":
    fail("CONNECT to the terminal: %r" % got["headers"])
if b"hello from the mobile server" not in got["body"] or not got["ended"]:
    fail("the terminal's answer through the stream: %r (ended %s)" % (bytes(got["body"]), got["ended"]))
print("ok - a CONNECT stream reaches the terminal: 200, its answer, END_STREAM when it closed", flush=True)

# 8 MiB through a 64 KiB window acknowledged as read: intact, and h2 saw no flow-control violation.
got = connect("%s:%s" % (msisdn, big_port), b"GET /big.bin HTTP/1.0\r\n\r\n")
body = bytes(got["body"])
want = open(big_file, "rb").read()
if got["headers"].get(":status") != "200" or not body.endswith(want):
    fail("8 MiB through the stream: %d octets, status %r" % (len(body), got["headers"]))
if hashlib.sha256(body[-len(want):]).digest() != hashlib.sha256(want).digest():
    fail("8 MiB changed on the way")
print("ok - 8 MiB through a 64 KiB stream window: intact, the gateway kept to our flow control", flush=True)

# Refusals: 502 with the reason, and the link stays up for the next stream.
for authority, reason in (("not-a-terminal", "bad_request"), ("%s:%s" % (msisdn, closed_port), "unreachable")):
    got = connect(authority, b"x")
    h = got["headers"] or {}
    if h.get(":status") != "502" or h.get("mobix-reason") != reason:
        fail("CONNECT %s: %r, not 502 %s" % (authority, h, reason))
print("ok - CONNECT to a malformed authority: 502 bad_request; to a closed port: 502 unreachable", flush=True)

got = exchange([(":method", "POST"), (":scheme", "https"), (":authority", "gateway"), (":path", "/v1/signal"),
                ("mobix-protocol", "signal"), ("mobix-signal", "zz")])
h = got["headers"] or {}
if h.get(":status") != "502" or h.get("mobix-reason") != "bad_signal":
    fail("a signal that is not hex: %r" % h)
print("ok - a signal request that is not hex: 502 bad_signal", flush=True)

got = connect("%s:%s" % (msisdn, web_port), b"GET / HTTP/1.1\r\nHost: cam\r\nConnection: close\r\n\r\n")
if got["headers"].get(":status") != "200" or b"hello from the mobile server" not in got["body"]:
    fail("a tunnel after the refusals: %r" % got["headers"])
print("ok - the link carries the next tunnel after the refusals", flush=True)

conn.close_connection()
tls.sendall(conn.data_to_send())
tls.close()
