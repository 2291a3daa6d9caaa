#!/usr/bin/env python3
"""Mail client for bench/run_mail.sh: one access pattern against one POP3 or IMAP server (Dovecot
directly, mobix's proxy or nginx's mail proxy), the same bytes on the wire for each.

  mail_driver.py pop3-pipelined HOST PORT USER PASS N [BIND]  RETR 1..N sent at once (RFC 2449 PIPELINING)
  mail_driver.py pop3-sequential HOST PORT USER PASS N [BIND] RETR i, wait for its end, RETR i+1
  mail_driver.py imap-fetch HOST PORT USER PASS N [BIND]      one FETCH 1:N BODY[]
  mail_driver.py smtp-submit HOST PORT USER PASS N [BIND]    N messages on one connection: MAIL, RCPT
                                                              and DATA pipelined (RFC 2920), the body
                                                              after 354, then the next message
  mail_driver.py pop3-login HOST PORT USER PASS COUNT [BIND]  COUNT connect+greeting+USER/PASS+QUIT
  mail_driver.py imap-login HOST PORT USER PASS COUNT [BIND]  COUNT connect+greeting+LOGIN+LOGOUT
  mail_driver.py pop3-hold HOST PORT USER PASS COUNT [BIND]   COUNT logged-in sessions, held until stdin closes

Retrieval patterns print "seconds bytes" (the clock starts after the login; REPEAT=k in the
environment runs the pattern k times on the one connection, so that a run lasts long enough to
measure); pop3-login and imap-login print the
p50 and p99 of the login time in milliseconds; pop3-hold prints "ready COUNT" once every session is
logged in. Any unexpected reply ends the run with an error (a benchmark that counts errors as
answers measures nothing).
"""
import base64
import os
import socket
import sys
import time

REPEAT = int(os.environ.get("REPEAT", "1"))

QUICKACK = getattr(socket, "TCP_QUICKACK", 12)


def connect(host, port, bind):
    s = socket.socket()
    if bind:
        s.bind((bind, 0))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.connect((host, port))
    return s


class Reader:
    """Buffered reads that find a terminator without rescanning what was already searched."""

    def __init__(self, s):
        self.s, self.buf = s, bytearray()

    def fill(self):
        chunk = self.s.recv(262144)
        if not chunk:
            raise SystemExit("server closed the connection")
        self.buf += chunk

    def line(self):
        while (i := self.buf.find(b"\r\n")) < 0:
            self.fill()
        out = bytes(self.buf[:i])
        del self.buf[: i + 2]
        return out

    def until(self, marker):
        """Consumes through `marker`; returns the octets consumed."""
        start = 0
        while (i := self.buf.find(marker, start)) < 0:
            start = max(0, len(self.buf) - len(marker) + 1)
            self.fill()
        n = i + len(marker)
        del self.buf[:n]
        return n


def expect(line, prefix):
    if not line.startswith(prefix):
        raise SystemExit("unexpected reply %r (wanted %r)" % (line[:120], prefix))


def pop3_login(host, port, user, password, bind):
    s = connect(host, port, bind)
    r = Reader(s)
    expect(r.line(), b"+OK")
    # One command at a time, as mail clients log in (USER and PASS in one segment made Dovecot's
    # second reply wait 40 ms for a delayed ACK: its sockets keep Nagle on).
    s.sendall(b"USER %s\r\n" % user.encode())
    expect(r.line(), b"+OK")
    s.sendall(b"PASS %s\r\n" % password.encode())
    expect(r.line(), b"+OK")
    return s, r


def imap_login(host, port, user, password, bind, select=True):
    s = connect(host, port, bind)
    r = Reader(s)
    expect(r.line(), b"* OK")
    s.sendall(b"a LOGIN %s %s\r\n" % (user.encode(), password.encode()))
    while not (line := r.line()).startswith(b"a "):
        pass
    expect(line, b"a OK")
    if select:
        s.sendall(b"b SELECT INBOX\r\n")
        while not (line := r.line()).startswith(b"b "):
            pass
        expect(line, b"b OK")
    return s, r


def smtp_reply(r):
    """One SMTP reply (RFC 5321 4.2: the last line has a space after the code); returns its code."""
    while (line := r.line())[3:4] == b"-":
        pass
    return line[:3]


def smtp_login(host, port, user, password, bind):
    s = connect(host, port, bind)
    r = Reader(s)
    expect(smtp_reply(r), b"220")
    s.sendall(b"EHLO bench.test\r\n")
    expect(smtp_reply(r), b"250")
    plain = base64.b64encode(b"\0%s\0%s" % (user.encode(), password.encode()))
    s.sendall(b"AUTH PLAIN %s\r\n" % plain)
    expect(smtp_reply(r), b"235")
    return s, r


# A 20 KB message like the mailbox's, its lines never starting with a dot.
MESSAGE = (
    "From: Bench <bench@mail.test>\r\nTo: bench@mail.test\r\nSubject: submitted\r\n\r\n"
    + "".join("line %05d of a twenty kilobyte message, the same for every server\r\n" % i for i in range(290))
).encode()


def smtp_submit(s, r, n):
    start = time.perf_counter()
    for _ in range(n):
        s.sendall(b"MAIL FROM:<bench@mail.test>\r\nRCPT TO:<bench@mail.test>\r\nDATA\r\n")
        for code in (b"250", b"250", b"354"):
            expect(smtp_reply(r), code)
        s.sendall(MESSAGE + b".\r\n")
        expect(smtp_reply(r), b"250")
    return time.perf_counter() - start, n * len(MESSAGE)


def pop3_retr(s, r, n, pipelined):
    total = 0
    start = time.perf_counter()
    if pipelined:
        s.sendall(b"".join(b"RETR %d\r\n" % i for i in range(1, n + 1)))
    for i in range(1, n + 1):
        if not pipelined:
            s.sendall(b"RETR %d\r\n" % i)
        expect(r.line(), b"+OK")
        total += r.until(b"\r\n.\r\n")
    return time.perf_counter() - start, total


def imap_fetch(s, r, n):
    start = time.perf_counter()
    s.sendall(b"c FETCH 1:%d BODY[]\r\n" % n)
    total = r.until(b"\r\nc OK")
    r.line()
    return time.perf_counter() - start, total


def main():
    mode, host, port, user, password, n = sys.argv[1:7]
    port, n = int(port), int(n)
    bind = sys.argv[7] if len(sys.argv) > 7 else None
    if mode in ("pop3-pipelined", "pop3-sequential"):
        s, r = pop3_login(host, port, user, password, bind)
        runs = [pop3_retr(s, r, n, mode == "pop3-pipelined") for _ in range(REPEAT)]
        print("%.6f %d" % (sum(t for t, _ in runs), sum(b for _, b in runs)))
    elif mode == "imap-fetch":
        s, r = imap_login(host, port, user, password, bind)
        runs = [imap_fetch(s, r, n) for _ in range(REPEAT)]
        print("%.6f %d" % (sum(t for t, _ in runs), sum(b for _, b in runs)))
    elif mode == "smtp-submit":
        s, r = smtp_login(host, port, user, password, bind)
        runs = [smtp_submit(s, r, n) for _ in range(REPEAT)]
        s.sendall(b"QUIT\r\n")
        print("%.6f %d" % (sum(t for t, _ in runs), sum(b for _, b in runs)))
    elif mode in ("pop3-login", "imap-login"):
        times = []
        for _ in range(n):
            start = time.perf_counter()
            if mode == "pop3-login":
                s, r = pop3_login(host, port, user, password, bind)
                times.append((time.perf_counter() - start) * 1000)
                s.sendall(b"QUIT\r\n")
            else:
                s, r = imap_login(host, port, user, password, bind, select=False)
                times.append((time.perf_counter() - start) * 1000)
                s.sendall(b"z LOGOUT\r\n")
            r.line()
            s.close()
        times.sort()
        print("%.3f %.3f" % (times[len(times) // 2], times[min(len(times) - 1, len(times) * 99 // 100)]))
    elif mode == "pop3-hold":
        held = [pop3_login(host, port, user, password, bind)[0] for _ in range(n)]
        print("ready %d" % len(held), flush=True)
        sys.stdin.read()
    else:
        raise SystemExit("unknown mode " + mode)


if __name__ == "__main__":
    main()
