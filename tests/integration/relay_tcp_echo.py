#!/usr/bin/python3
# A raw TCP service for the port-mapping tests: greets first (like SSH or SMTP servers do), then
# echoes every byte and closes once the client half-closes, so a test sees that early server
# bytes, the data and the half-close all cross the tunnel. A client that sends "RESET" first gets
# the connection aborted with a TCP reset instead, to see that a reset crosses the tunnel too.
# Usage: relay_tcp_echo.py ADDRESS PORT
import socket
import struct
import sys
import threading


def serve(conn):
    with conn:
        conn.sendall(b"RAW-ECHO ready\r\n")
        while True:
            data = conn.recv(65536)
            if not data:
                break
            if data.startswith(b"RESET"):
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                break  # close() now sends RST
            conn.sendall(data)


srv = socket.create_server((sys.argv[1], int(sys.argv[2])), backlog=256)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
