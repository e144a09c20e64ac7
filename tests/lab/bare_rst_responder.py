#!/usr/bin/env python3
"""Answers every SYN to --port with an RST that has no ACK bit (a broken stack or middlebox;
RFC 9293 sends RST,ACK to a SYN). With --ack-field the RST still carries ack = SYN.seq+1 in
its acknowledgment field; without, the field is 0 and the RST names no SYN at all.

With --corrupt-first it answers instead with a SYN/ACK whose TCP checksum is wrong (a
corrupted or forged segment), then --then-ms later with a correct RST,ACK (ack = SYN.seq+1).
Its packets carry SO_MARK --mark so the test's nftables rule can drop only the kernel's RSTs.

Runs in the lab's server namespace next to an nftables rule that drops the SYNs before the
kernel sees them (lab.drop_ports): the AF_PACKET socket still reads them. Prints "ready";
stops on SIGTERM/SIGINT, after --max-seconds or after --max-replies. IPv4 and IPv6.
"""
import argparse
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stray_rst_responder import RST, SYN, ACK, Responder, checksum  # noqa: E402


def answer(version, src, dst, sport, dport, seq, ack_field, flags=RST, corrupt=False):
    tcp = struct.pack("!HHIIBBHHH", dport, sport, 0, ack_field, 5 << 4, flags, 0, 0, 0)
    if version == 4:
        pseudo = dst + src + struct.pack("!BBH", 0, 6, len(tcp))
    else:
        pseudo = dst + src + struct.pack("!IxxxB", len(tcp), 6)
    good = checksum(pseudo + tcp)
    tcp = tcp[:16] + struct.pack("!H", good ^ 0x5555 if corrupt else good) + tcp[18:]
    if version == 4:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, dst, src)
        return ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:] + tcp
    return struct.pack("!IHBB16s16s", 6 << 28, len(tcp), 6, 64, dst, src) + tcp


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--interface", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ack-field", action="store_true", help="put SYN.seq+1 in the ack field")
    p.add_argument("--corrupt-first", action="store_true",
                   help="a SYN/ACK with a wrong checksum first, then a correct RST,ACK")
    p.add_argument("--then-ms", type=float, default=50.0)
    p.add_argument("--mark", type=lambda v: int(v, 0), default=0x5253)
    p.add_argument("--max-seconds", type=float, default=120.0)
    p.add_argument("--max-replies", type=int, default=1000)
    a = p.parse_args(argv)
    responder = Responder(a.interface, a.mark, a.max_seconds, a.max_replies)
    for seg in responder.segments():
        if seg[4] != a.port or seg[7] & (SYN | ACK | RST) != SYN:
            continue
        version, src, dst, sport, dport, seq = seg[:6]
        acked = (seq + 1) & 0xFFFFFFFF
        if a.corrupt_first:
            responder.send(version, answer(version, src, dst, sport, dport, seq, acked, SYN | ACK, True), src)
            time.sleep(a.then_ms / 1000.0)
            responder.send(version, answer(version, src, dst, sport, dport, seq, acked, RST | ACK), src)
        else:
            responder.send(version, answer(version, src, dst, sport, dport, seq, acked if a.ack_field else 0), src)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
