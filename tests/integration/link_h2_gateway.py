#!/usr/bin/python3
# python-h2 (an independent HTTP/2 implementation) plays the gateway's end of the multiplexed link
# against mobix's relay (issue 17 item 1), and python-cryptography opens the relay's signal
# (ChaCha20-Poly1305, the format in src/codec/signal/signal.hpp): an independent reading of both.
# It receives the signal on an HTTPS webhook, dials the relay's callback port over verified TLS,
# presents MOBIX-LINK with the signal's tunnel id and one-time key, and then serves the relay's
# CONNECT streams: each is answered 200 and joined to a TCP connection to the terminal, with the
# relay's flow-control windows kept (h2 raises when a send would exceed them).
#
# Usage: link_h2_gateway.py HOOK_PORT CERT KEY CA SIGNAL_KEY_FILE TERMINAL_IP READY_FILE STREAMS
# Serves STREAMS tunnels, then closes the link; prints one line per tunnel and "ok - ..." at the end.
import http.server
import select
import socket
import ssl
import struct
import sys
import threading

import h2.config
import h2.connection
import h2.events
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

hook_port, cert, key, ca, key_file, terminal_ip, ready, streams_wanted = sys.argv[1:9]
streams_wanted = int(streams_wanted)
signal_key = bytes.fromhex(open(key_file).read().strip())


def fail(why):
    print("FAIL: " + why, flush=True)
    sys.exit(1)


def open_signal(sealed):
    """Version 1: version, key id, 12-octet nonce, ChaCha20-Poly1305 body (AAD: the first 14 octets)."""
    if len(sealed) < 30 or sealed[0] != 1:
        fail("not a version 1 signal")
    body = ChaCha20Poly1305(signal_key).decrypt(sealed[2:14], sealed[14:], sealed[:14])
    tunnel_id, expires, family = struct.unpack_from(">QIB", body, 0)
    at = 13
    size = 4 if family == 4 else 16
    relay_ip = socket.inet_ntop(socket.AF_INET if family == 4 else socket.AF_INET6, body[at:at + size])
    at += size
    callback_port, target_port, protocol = struct.unpack_from(">HHB", body, at)
    at += 5
    one_time_key = body[at:at + 16]
    msisdn = body[at + 17:at + 17 + body[at + 16]].decode()
    return dict(tunnel_id=tunnel_id, relay_ip=relay_ip, callback_port=callback_port, key=one_time_key,
                msisdn=msisdn)


signals = []
got_signal = threading.Event()


class Hook(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        sealed = self.rfile.read(int(self.headers["Content-Length"]))
        signals.append(open_signal(sealed))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        got_signal.set()


hook = http.server.HTTPServer(("127.0.0.1", int(hook_port)), Hook)
server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
server_ctx.load_cert_chain(cert, key)
hook.socket = server_ctx.wrap_socket(hook.socket, server_side=True)
threading.Thread(target=hook.serve_forever, daemon=True).start()
open(ready, "w").close()
if not got_signal.wait(30):
    fail("no signal on the webhook")
sig = signals[0]

# Step G: verified TLS to the relay's callback port, then the link's hello.
client_ctx = ssl.create_default_context(cafile=ca)
relay = client_ctx.wrap_socket(socket.create_connection((sig["relay_ip"], sig["callback_port"]), timeout=10),
                               server_hostname=sig["relay_ip"])
relay.sendall(b"MOBIX-LINK %016x %s\r\n" % (sig["tunnel_id"], sig["key"].hex().encode()))
relay.setblocking(False)

# h2 4.1 demands :scheme and :path on every request, which a CONNECT (RFC 9113 8.5) must not carry:
# its inbound header check is off here; the method and authority are checked below.
conn = h2.connection.H2Connection(
    h2.config.H2Configuration(client_side=False, header_encoding="utf-8", validate_inbound_headers=False))
conn.initiate_connection()
terminals = {}  # stream id -> socket to the terminal
pending = {}  # stream id -> bytes from the terminal waiting for the relay's window
ended = set()  # streams whose terminal side sent its FIN (END_STREAM sent once pending is out)
sent_end = set()  # streams whose END_STREAM went to the relay
relay_ended = set()  # streams the relay ended (its client's FIN) or reset


def flush():
    for sid in list(pending):
        while pending[sid]:
            n = min(len(pending[sid]), conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
            if n <= 0:
                break
            conn.send_data(sid, pending[sid][:n])
            pending[sid] = pending[sid][n:]
        if not pending[sid] and sid in ended:
            conn.end_stream(sid)
            del pending[sid]
            sent_end.add(sid)
            print("tunnel on stream %d served" % sid, flush=True)
    out = conn.data_to_send()
    if out:
        relay.setblocking(True)
        relay.sendall(out)
        relay.setblocking(False)


def on_event(ev):
    if isinstance(ev, h2.events.RequestReceived):
        h = dict(ev.headers)
        port = int(h[":authority"].rsplit(":", 1)[1])
        if h[":method"] != "CONNECT" or h[":authority"].rsplit(":", 1)[0] != sig["msisdn"]:
            fail("unexpected request %r" % h)
        t = socket.create_connection((terminal_ip, port), timeout=10)
        t.setblocking(False)
        terminals[ev.stream_id] = t
        pending[ev.stream_id] = b""
        conn.send_headers(ev.stream_id, [(":status", "200")])
    elif isinstance(ev, h2.events.DataReceived):
        t = terminals.get(ev.stream_id)
        if t:
            t.setblocking(True)
            t.sendall(ev.data)
            t.setblocking(False)
        conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)  # written: window back
    elif isinstance(ev, h2.events.StreamEnded):
        relay_ended.add(ev.stream_id)
        t = terminals.get(ev.stream_id)
        if t:
            t.shutdown(socket.SHUT_WR)  # the client's FIN
    elif isinstance(ev, h2.events.StreamReset):
        relay_ended.add(ev.stream_id)
        t = terminals.pop(ev.stream_id, None)
        if t:
            t.close()


def served():  # both ways ended: the terminal's answer all sent, the relay's client done
    return len(sent_end & relay_ended)


while served() < streams_wanted:
    readable, _, _ = select.select([relay] + list(terminals.values()), [], [], 20)
    if not readable:
        fail("nothing happened for 20 s (%d tunnels served)" % served())
    for s in readable:
        if s is relay:
            while True:  # what TLS already decrypted is not seen by select()
                try:
                    data = relay.recv(65536)
                except ssl.SSLWantReadError:
                    break
                if not data:
                    fail("the relay closed the link")
                for ev in conn.receive_data(data):  # raises on a flow-control or protocol violation
                    on_event(ev)
                if not relay.pending():
                    break
            continue
        sid = next(k for k, v in terminals.items() if v is s)
        data = s.recv(65536)
        if data:
            pending[sid] += data
        else:  # the terminal's FIN becomes END_STREAM
            ended.add(sid)
            del terminals[sid]
            s.close()
    flush()

# GOAWAY, then read until the relay closes: closing with its frames unread would send a TCP reset,
# which can destroy bytes the relay has received but not yet read.
conn.close_connection()
flush()
relay.settimeout(5)
try:
    while relay.recv(65536):
        pass
except (OSError, ssl.SSLError):
    pass
relay.close()
hook.shutdown()
print("ok - %d tunnels over one link, each a CONNECT stream answered by python-h2" % served(), flush=True)
