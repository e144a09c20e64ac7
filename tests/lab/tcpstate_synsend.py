#!/usr/bin/env python3
"""Send a bounded number of raw TCP SYNs with varied source addresses, for tcpstate's
syn-flood tests. Run inside a lab namespace; the target must be a namespace the test made.

  tcpstate_synsend.py --dst 10.1.0.2 --dport 8080 --src-prefix 10.77 --count 200

Sources are 10.77.X.Y for X, Y walked in order (so the sources are spread over many /24s).
Nothing is ever received: the target's SYN-ACKs must be routed to a black hole by the test,
so its request sockets stay in SYN_RECV. At most --count (<= 5000) packets, no retries.
"""
import argparse
import os
import random
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tcpscan_forge import checksum  # noqa: E402


def syn(src, dst, sport, dport, seq):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), random.randrange(65536), 0, 64, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + tcp


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dst", required=True)
    p.add_argument("--dport", type=int, required=True)
    p.add_argument("--src-prefix", required=True, help="first two octets, e.g. 10.77")
    p.add_argument("--count", type=int, required=True)
    args = p.parse_args()
    if not 1 <= args.count <= 5000:
        sys.exit("tcpstate_synsend: --count must be 1..5000")
    a, b = (int(x) for x in args.src_prefix.split("."))
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    for i in range(args.count):
        src = "%d.%d.%d.%d" % (a, b, 1 + (i // 200) * 7 % 250, 1 + i % 200)
        s.sendto(syn(src, args.dst, 20000 + i, args.dport, random.randrange(1 << 32)), (args.dst, 0))
    print("SENT %d" % args.count, flush=True)


if __name__ == "__main__":
    main()
