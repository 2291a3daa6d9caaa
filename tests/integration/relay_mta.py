#!/usr/bin/python3
# A real MTA between the relay and the gateway in the e-mail channel test: Debian's aiosmtpd with
# STARTTLS required, either forwarding every message to the gateway's SMTP receiver ("proxy") or
# delivering it into a Maildir ("mailbox"), where the test reads the signal out.
# Usage: relay_mta.py ADDRESS PORT CERT KEY proxy GW_ADDRESS GW_PORT
#        relay_mta.py ADDRESS PORT CERT KEY mailbox DIR
import signal
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox, Proxy

host, port, cert, key, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
tls.load_cert_chain(cert, key)
handler = Proxy(sys.argv[6], int(sys.argv[7])) if mode == "proxy" else Mailbox(sys.argv[6])
controller = Controller(handler, hostname=host, port=port, tls_context=tls, require_starttls=True,
                        ready_timeout=10)
controller.start()
print(f"relay_mta: {mode} on {host}:{port}", flush=True)
signal.sigwait({signal.SIGTERM, signal.SIGINT})
controller.stop()
