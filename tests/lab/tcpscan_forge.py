"""Forges TCP replies at a scanner from the target's side, with a raw socket: SYN/ACKs and RSTs
whose acknowledgment numbers cannot carry the scanner's cookie. tcpscan must ignore every one
(and count them), never reporting a port open or closed because of them. IPv4 only."""
import argparse
import random
import socket
import struct
import sys


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def tcp_segment(src, dst, sport, dport, seq, ack, flags):
    header = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(header))
    csum = checksum(pseudo + header)
    return header[:16] + struct.pack("!H", csum) + header[18:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True, help="the scanned address (we pretend to be it)")
    ap.add_argument("--dst", required=True, help="the scanner's address")
    ap.add_argument("--dport", type=int, required=True, help="the scanner's source port")
    ap.add_argument("--ports", required=True, help="comma-separated ports the replies come from")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)  # the kernel adds IP
    sent = 0
    for port in [int(p) for p in args.ports.split(",") if p]:
        for flags in (0x12, 0x14):  # SYN/ACK and RST/ACK, each with a random (wrong) ack
            seg = tcp_segment(args.src, args.dst, port, args.dport, rng.getrandbits(32),
                              rng.getrandbits(32), flags)
            s.sendto(seg, (args.dst, 0))
            sent += 1
    print(sent, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
