#!/usr/bin/python3
"""Captures one HTTP Negotiate token (RFC 4559) without presenting it anywhere: answers 401
"WWW-Authenticate: Negotiate" until a request carries a token, writes the token to OUT and exits.
curl --negotiate against http://localhost:PORT/ then asks the KDC for HTTP@localhost's ticket, as
it would for the real server, and the test replays (or lets expire) exactly what curl built.
  negotiate_capture.py PORT OUT
"""
import http.server, sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Negotiate "):
            with open(sys.argv[2], "w") as f:
                f.write(auth[len("Negotiate "):])
            self.send_response(200)
            self.end_headers()
            self.server.done = True
            return
        self.send_response(401)
        self.send_header("WWW-Authenticate", "Negotiate")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
srv.done = False
srv.timeout = 20
while not srv.done:
    srv.handle_request()
