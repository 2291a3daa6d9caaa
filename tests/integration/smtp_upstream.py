#!/usr/bin/python3
# A real SMTP submission server with AUTH for the tests (Debian's aiosmtpd): stores every
# message it accepts in a maildir, with X-MailFrom/X-RcptTo and the authenticated user added.
# Usage: smtp_upstream.py HOST PORT MAILDIR USER:PASS [USER:PASS ...]
import signal
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

host, port, maildir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
USERS = {u.encode(): p.encode() for u, p in (a.split(":", 1) for a in sys.argv[4:])}


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and USERS.get(auth_data.login) == auth_data.password
    if ok:
        session.mobix_user = auth_data.login.decode()
    return AuthResult(success=ok, handled=False)


class Recording(Mailbox):
    async def handle_DATA(self, server, session, envelope):
        user = getattr(session, "mobix_user", "-")
        envelope.content = b"X-Authenticated-User: " + user.encode() + b"\r\n" + envelope.original_content
        return await super().handle_DATA(server, session, envelope)


signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
ctl = Controller(Recording(maildir), hostname=host, port=port, authenticator=authenticator,
                 auth_require_tls=False, auth_required=True)
ctl.start()
print(f"listening {host}:{port}", flush=True)
signal.sigwait({signal.SIGINT, signal.SIGTERM})
ctl.stop()
