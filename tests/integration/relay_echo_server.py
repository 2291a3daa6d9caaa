#!/usr/bin/python3
# The mobile server in the relay tests: an HTTP/1.1 server that answers GET with a greeting and
# echoes a POST body back, so parallel tunnels can each check their own data.
# Usage: relay_echo_server.py ADDRESS PORT
import socketserver
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.reply(b"hello from the mobile server\n")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.reply(self.rfile.read(n))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def server_bind(self):
        # HTTPServer.server_bind() resolves its own name (getfqdn), which hangs in a network
        # namespace without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "mobile-server", self.server_address[1]


Server((sys.argv[1], int(sys.argv[2])), Echo).serve_forever()
