#!/usr/bin/python3
# A raw TCP client: sends a file, half-closes (FIN), prints everything the server sends until it
# closes. Exit 1 when the connection is refused, reset or times out.
# Usage: relay_tcp_client.py HOST PORT FILE [TIMEOUT]
import socket
import sys

timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 10
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=timeout) as s:
        with open(sys.argv[3], "rb") as f:
            s.sendall(f.read())
        s.shutdown(socket.SHUT_WR)
        out = bytearray()
        while True:
            data = s.recv(65536)
            if not data:
                break
            out += data
    sys.stdout.buffer.write(out)
except OSError as e:
    print(f"relay_tcp_client: {e}", file=sys.stderr)
    sys.exit(1)
