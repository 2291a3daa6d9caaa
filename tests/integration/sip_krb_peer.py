#!/usr/bin/python3
"""A scripted SIP peer that authenticates with Kerberos the way a mobility manager's proxy does
(seed 003): an INVITE over UDP with `Authorization: Kerberos realm=, targetname=, gssapi-data=`, the
AP-REQ built by MIT Kerberos through python-gssapi (the raw krb5 mechanism, RFC 4121, mutual
authentication) from the credential cache in KRB5CCNAME. No packaged SIP agent speaks Kerberos in
SIP, so the tests drive this script; its Kerberos side is MIT's, not mobix's.

  sip_krb_peer.py PORT CALLEE FROM PRINCIPAL [--delay S] [--hold S]

Sends an INVITE for CALLEE (an identity code) from FROM with an AP-REQ for PRINCIPAL to
127.0.0.1:PORT and prints the final answer's status line. --delay builds the AP-REQ, then waits S
seconds before sending it (a ticket that runs out on the way). --hold never acknowledges a 200 OK
and keeps listening S seconds, then prints "answers=N", the 200 OKs received (RFC 3261 13.3.1.4: the
answer is repeated until the ACK).
"""
import argparse
import base64
import os
import socket
import sys
import time

import gssapi


def ap_req(principal):
    name = gssapi.Name(principal, gssapi.NameType.kerberos_principal)
    ctx = gssapi.SecurityContext(name=name, mech=gssapi.MechType.kerberos, usage="initiate",
                                 flags=gssapi.RequirementFlag.mutual_authentication)
    return base64.b64encode(ctx.step()).decode()


def invite(me, port, callee, caller, principal, token):
    realm = principal.split("@", 1)[1]
    sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           "m=audio %d RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n" % (me[1] + 2))
    call_id = "krb-peer-%s-%d" % (os.urandom(6).hex(), os.getpid())
    return ("INVITE sip:%s@127.0.0.1:%d SIP/2.0\r\n"
            "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s\r\n"
            "From: <sip:%s@%s>;tag=%s\r\nTo: <sip:%s@%s>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"
            "Contact: <sip:%s@%s:%d>\r\nMax-Forwards: 70\r\n"
            'Authorization: Kerberos realm="%s", targetname="%s", gssapi-data="%s"\r\n'
            "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s"
            % (callee, port, me[0], me[1], os.urandom(6).hex(), caller, realm, os.urandom(4).hex(), callee,
               realm, call_id, caller, me[0], me[1], realm, principal, token, len(sdp), sdp)).encode()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("callee")
    p.add_argument("caller")
    p.add_argument("principal")
    p.add_argument("--delay", type=float, default=0)
    p.add_argument("--hold", type=float, default=0)
    a = p.parse_args()
    token = ap_req(a.principal)
    time.sleep(a.delay)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.sendto(invite(s.getsockname(), a.port, a.callee, a.caller, a.principal, token), ("127.0.0.1", a.port))
    s.settimeout(10)
    final = None
    while final is None:  # past 100 Trying
        status = s.recv(65535).decode(errors="replace").split("\r\n", 1)[0]
        if not status.startswith("SIP/2.0 1"):
            final = status
    print(final, flush=True)
    if not a.hold:
        return
    answers, end = 1, time.monotonic() + a.hold
    while time.monotonic() < end:
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            if s.recv(65535).startswith(b"SIP/2.0 200"):
                answers += 1
        except socket.timeout:
            break
    print("answers=%d" % answers)


if __name__ == "__main__":
    sys.exit(main())
