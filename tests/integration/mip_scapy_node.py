#!/usr/bin/python3
"""An independent Mobile IPv4 mobile node (RFC 5944 3.3/3.5.1) built with Scapy's MobileIP layers
and Python's hmac: sends one Registration Request to the Home Agent and prints the reply as Scapy
decodes it, with whether its Mobile-Home authenticator verifies. Used by mip_home_agent.sh so that
mobix's Home Agent meets a mobile node it did not write.

  mip_scapy_node.py HA_HOST HA_PORT HA_ADDR HOME CARE_OF SPI KEY_HEX LIFETIME [--id HEX|--clock-skew S]
        [--flags N] [--no-auth] [--wrong-key] [--send-twice] [--raw-out FILE]
"""
import argparse, hashlib, hmac, json, os, socket, struct, sys, time

from scapy.layers.mobileip import MobileIP, MobileIPRRQ, MobileIPRRP

NTP_UNIX = 2208988800


def timestamp_id(skew):
    return ((int(time.time()) + skew + NTP_UNIX) & 0xFFFFFFFF) << 32 | struct.unpack("!I", os.urandom(4))[0]


def main():
    p = argparse.ArgumentParser()
    for a in ("ha_host", "ha_port", "ha_addr", "home", "care_of", "spi", "key", "lifetime"):
        p.add_argument(a)
    p.add_argument("--id")
    p.add_argument("--clock-skew", type=int, default=0)
    p.add_argument("--flags", type=int, default=0)
    p.add_argument("--no-auth", action="store_true")
    p.add_argument("--wrong-key", action="store_true")
    p.add_argument("--send-twice", action="store_true", help="send the same octets again after the reply")
    p.add_argument("--raw-out")
    a = p.parse_args()
    key = bytes.fromhex(a.key)
    if a.wrong_key:
        key = bytes([key[0] ^ 1]) + key[1:]
    ident = int(a.id, 16) if a.id else timestamp_id(a.clock_skew)
    rrq = bytes(MobileIP(type=1) / MobileIPRRQ(flags=a.flags, lifetime=int(a.lifetime), homeaddr=a.home,
                                                haaddr=a.ha_addr, coaddr=a.care_of, id=ident))
    if not a.no_auth:
        # RFC 5944 3.5.1: HMAC-MD5 over the request and the extension's type, length and SPI.
        ext = struct.pack("!BBI", 32, 20, int(a.spi))
        rrq += ext + hmac.new(key, rrq + ext, hashlib.md5).digest()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    replies = []
    for _ in range(2 if a.send_twice else 1):
        s.sendto(rrq, (a.ha_host, int(a.ha_port)))
        try:
            data, _ = s.recvfrom(2048)
        except socket.timeout:
            replies.append({"timeout": True})
            continue
        if a.raw_out:
            with open(a.raw_out, "ab") as f:
                f.write(data)
        pkt = MobileIP(data)
        rrp = pkt[MobileIPRRP]
        out = {"type": pkt.type, "code": rrp.code, "lifetime": rrp.lifetime, "homeaddr": rrp.homeaddr,
               "haaddr": rrp.haaddr, "id": "%016x" % rrp.id, "sent_id": "%016x" % ident}
        ext = data[20:]
        if len(ext) >= 22 and ext[0] == 32:
            spi = struct.unpack("!I", ext[2:6])[0]
            good = hmac.new(bytes.fromhex(a.key), data[:26], hashlib.md5).digest()
            out["spi"] = spi
            out["authentic"] = hmac.compare_digest(good, ext[6:22])
        else:
            out["authentic"] = False
        replies.append(out)
    print(json.dumps(replies if a.send_twice else replies[0]))


if __name__ == "__main__":
    sys.exit(main())
