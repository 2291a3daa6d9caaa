#!/usr/bin/python3
"""Cross-node visibility (issue 14 item 8): sends an Accounting-Start to node A, waits for its
Accounting-Response (the change is committed), then polls node B's admin API for the session until
it is there. Prints one latency per line in milliseconds.
Usage: visibility.py ACCT_HOST:PORT SECRET ADMIN_B_HOST:PORT SAMPLES"""
import hashlib, http.client, os, socket, struct, sys, time

acct, secret, admin_b, samples = sys.argv[1], sys.argv[2].encode(), sys.argv[3], int(sys.argv[4])
host, port = acct.rsplit(":", 1)
bhost, bport = admin_b.rsplit(":", 1)

def attr(t, v):
    return struct.pack("!BB", t, len(v) + 2) + v

def start(ident, ip, sid):
    attrs = (attr(40, struct.pack("!I", 1)) + attr(44, sid.encode()) + attr(8, socket.inet_aton(ip)) +
             attr(31, b"31690000000") + attr(32, b"visibility-nas"))
    length = 20 + len(attrs)
    head = struct.pack("!BBH", 4, ident, length)
    auth = hashlib.md5(head + b"\0" * 16 + attrs + secret).digest()  # RFC 2866 3
    return head + auth + attrs

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
b = http.client.HTTPConnection(bhost, int(bport), timeout=5)
run = os.getpid() % 200
for i in range(samples):
    ip = "10.200.%d.%d" % (run, i % 250 + 1)
    s.sendto(start(i % 256, ip, "vis-%d-%d" % (os.getpid(), i)), (host, int(port)))
    s.recv(4096)
    t0 = time.monotonic()
    while True:
        b.request("GET", "/api/v1/sessions/" + ip)
        r = b.getresponse()
        r.read()
        if r.status == 200:
            break
        if time.monotonic() - t0 > 5:
            sys.exit("node B never saw " + ip)
    print("%.2f" % ((time.monotonic() - t0) * 1000))
