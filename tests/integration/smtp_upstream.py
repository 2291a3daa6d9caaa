#!/usr/bin/python3
# A real SMTP submission server with AUTH for the tests (Debian's aiosmtpd): stores every
# message it accepts in a maildir, with X-MailFrom/X-RcptTo and the authenticated user added.
# Usage: smtp_upstream.py [--starttls CERT KEY | --implicit-tls CERT KEY] [--login-only]
#                         HOST PORT MAILDIR USER:PASS [USER:PASS ...]
#   --starttls: offers STARTTLS (RFC 3207) and refuses AUTH before it
#   --implicit-tls: TLS from the first byte (RFC 8314)
#   --login-only: offers AUTH LOGIN but not PLAIN
import signal
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

args = sys.argv[1:]
options = {"auth_require_tls": False}
while args and args[0].startswith("--"):
    flag = args.pop(0)
    if flag in ("--starttls", "--implicit-tls"):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.pop(0), args.pop(0))
        if flag == "--starttls":
            options.update(tls_context=ctx, require_starttls=True, auth_require_tls=True)
        else:
            options.update(ssl_context=ctx)
    elif flag == "--login-only":
        options["auth_exclude_mechanism"] = ["PLAIN"]
    else:
        sys.exit("unknown option " + flag)
host, port, maildir = args[0], int(args[1]), args[2]
USERS = {u.encode(): p.encode() for u, p in (a.split(":", 1) for a in args[3:])}


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and USERS.get(auth_data.login) == auth_data.password
    print(f"auth-attempt {mechanism} ok={ok}", flush=True)  # tests check who was offered credentials
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
                 auth_required=True, **options)
ctl.start()
print(f"listening {host}:{port}", flush=True)
signal.sigwait({signal.SIGINT, signal.SIGTERM})
ctl.stop()
