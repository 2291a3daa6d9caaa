#!/usr/bin/env python3
"""An accounting load that records what was acknowledged (issue 14 item 7).

Sends N RADIUS Accounting-Request Starts (RFC 2866) to one node, up to WINDOW in flight, each
retransmitted unchanged (RFC 5080) every second up to RETRIES times, and writes the Acct-Session-Id of
every request whose Accounting-Response arrived with a valid Response Authenticator to OUT, one per
line, flushed as it comes. The test kills a node or PostgreSQL meanwhile and then checks that every
line of OUT is a session in the store: an acknowledged change is never lost.

Usage: acct_ack_load.py HOST:PORT SECRET COUNT PREFIX OUT [WINDOW] [RETRIES]
Standard library only: an independent RADIUS client, not mobix's codec.
"""
import hashlib
import os
import select
import socket
import struct
import sys
import time


def attr(t, value):
    return struct.pack("!BB", t, len(value) + 2) + value


def start_request(ident, secret, session_id, index):
    ip = bytes([127, 2, (index >> 8) & 0xFF, index & 0xFF])
    attrs = (attr(40, struct.pack("!I", 1))  # Acct-Status-Type = Start
             + attr(44, session_id.encode())  # Acct-Session-Id
             + attr(8, ip)  # Framed-IP-Address
             + attr(31, ("3169%07d" % index).encode())  # Calling-Station-Id
             + attr(32, b"ack-load"))  # NAS-Identifier
    length = 20 + len(attrs)
    header = struct.pack("!BBH", 4, ident, length)
    auth = hashlib.md5(header + b"\0" * 16 + attrs + secret).digest()  # RFC 2866 3
    return header + auth + attrs, auth


def main():
    target, secret, count, prefix, out_path = sys.argv[1:6]
    window = int(sys.argv[6]) if len(sys.argv) > 6 else 64
    retries = int(sys.argv[7]) if len(sys.argv) > 7 else 3
    host, port = target.rsplit(":", 1)
    secret, count = secret.encode(), int(count)
    # Each socket carries at most 256 requests in flight (the RADIUS Identifier).
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range((window + 255) // 256)]
    for s in socks:
        s.connect((host, int(port)))
    out = open(out_path, "w", buffering=1)
    free = [(si, i) for si in range(len(socks)) for i in range(256)][:window]
    inflight = {}  # (sock index, ident) -> [packet, request authenticator, session id, sent at, tries]
    next_index, acked, given_up = 0, 0, 0
    last_answer = time.monotonic()
    while next_index < count or inflight:
        # A node that answered nothing for longer than a NAS waits is gone: send no new requests.
        if next_index < count and time.monotonic() - last_answer > 1.0 + retries:
            count = next_index
        while free and next_index < count:
            si, ident = free.pop()
            sid = "%s-%d" % (prefix, next_index)
            pkt, auth = start_request(ident, secret, sid, next_index)
            try:
                socks[si].send(pkt)
            except ConnectionRefusedError:  # an ICMP error from an earlier datagram: the node is gone
                pass
            inflight[(si, ident)] = [pkt, auth, sid, time.monotonic(), 1]
            next_index += 1
        ready, _, _ = select.select(socks, [], [], 0.1)
        for s in ready:
            si = socks.index(s)
            try:
                data = s.recv(4096)
            except ConnectionRefusedError:  # the node is gone: the retransmissions find out
                continue
            if len(data) < 20 or data[0] != 5:
                continue
            entry = inflight.get((si, data[1]))
            if not entry:
                continue
            expected = hashlib.md5(data[:4] + entry[1] + data[20:] + secret).digest()
            if expected != data[4:20]:
                continue  # not an answer to this request
            out.write(entry[2] + "\n")
            acked += 1
            last_answer = time.monotonic()
            del inflight[(si, data[1])]
            free.append((si, data[1]))
        now = time.monotonic()
        for key, entry in list(inflight.items()):
            if now - entry[3] < 1.0:
                continue
            if entry[4] > retries:
                given_up += 1
                del inflight[key]
                free.append(key)
                continue
            try:
                socks[key[0]].send(entry[0])
            except ConnectionRefusedError:
                pass
            entry[3], entry[4] = now, entry[4] + 1
    out.close()
    print("sent %d acknowledged %d unanswered %d" % (next_index, acked, given_up))


if __name__ == "__main__":
    main()
