#!/usr/bin/env python3
"""Answers every SYN to --port with an RST that has no ACK bit (a broken stack or middlebox;
RFC 9293 sends RST,ACK to a SYN). With --ack-field the RST still carries ack = SYN.seq+1 in
its acknowledgment field; without, the field is 0 and the RST names no SYN at all.

With --corrupt-first it answers instead with a SYN/ACK whose TCP checksum is wrong (a
corrupted or forged segment), then --then-ms later with a correct RST,ACK (ack = SYN.seq+1).
--corrupt-form makes that SYN/ACK harder to judge: "long" (400 bytes of data, longer than a
capture keeps), "fragment" (IPv4 more-fragments set), "short" (its IP length claims 400 bytes
more than are sent) or "offset" (a right checksum, but a data offset of 60 bytes in 20).

With --synack-then-rst it answers the same way with a correct SYN/ACK: two answers that disagree,
as from a SYN proxy and a server behind it that refuses the port, or from two hosts with one address.
--rst-then-synack sends the two the other way round.

With --split it answers with a bare SYN of its own (a split handshake: SYN, no ACK, ack field 0),
as a peer that opens towards the prober instead of answering SYN/ACK.
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


def answer(version, src, dst, sport, dport, seq, ack_field, flags=RST, corrupt=False, form="sum"):
    offset = 15 if form == "offset" else 5
    tcp = struct.pack("!HHIIBBHHH", dport, sport, 0, ack_field, offset << 4, flags, 0, 0, 0)
    if form == "long":
        tcp += b"\x5a" * 400
    if version == 4:
        pseudo = dst + src + struct.pack("!BBH", 0, 6, len(tcp))
    else:
        pseudo = dst + src + struct.pack("!IxxxB", len(tcp), 6)
    good = checksum(pseudo + tcp)
    corrupt = corrupt and form != "offset"
    tcp = tcp[:16] + struct.pack("!H", good ^ 0x5555 if corrupt else good) + tcp[18:]
    claimed = len(tcp) + (400 if form == "short" else 0)
    if version == 4:
        fragment = 0x2000 if form == "fragment" else 0
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + claimed, 0, fragment, 64, 6, 0, dst, src)
        return ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:] + tcp
    return struct.pack("!IHBB16s16s", 6 << 28, claimed, 6, 64, dst, src) + tcp


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--interface", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ack-field", action="store_true", help="put SYN.seq+1 in the ack field")
    p.add_argument("--corrupt-first", action="store_true",
                   help="a SYN/ACK with a wrong checksum first, then a correct RST,ACK")
    p.add_argument("--corrupt-form", choices=["sum", "long", "fragment", "short", "offset"], default="sum")
    p.add_argument("--synack-then-rst", action="store_true",
                   help="a correct SYN/ACK first, then a correct RST,ACK (two answers that disagree)")
    p.add_argument("--rst-then-synack", action="store_true", help="the same two answers, the RST,ACK first")
    p.add_argument("--second-twice", action="store_true", help="with those two: the second one twice")
    p.add_argument("--then-ms", type=float, default=50.0)
    p.add_argument("--split", action="store_true", help="answer with a bare SYN (a split handshake)")
    p.add_argument("--split-again", action="store_true", help="with --split: the SYN once more, --then-ms later")
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
        if a.split:
            responder.send(version, answer(version, src, dst, sport, dport, seq, 0, SYN), src)
            if a.split_again:  # as a stack sends its unanswered SYN again
                time.sleep(a.then_ms / 1000.0)
                responder.send(version, answer(version, src, dst, sport, dport, seq, 0, SYN), src)
        elif a.corrupt_first:
            responder.send_frame(version, answer(version, src, dst, sport, dport, seq, acked, SYN | ACK, True,
                                                 a.corrupt_form))
            time.sleep(a.then_ms / 1000.0)
            responder.send(version, answer(version, src, dst, sport, dport, seq, acked, RST | ACK), src)
        elif a.synack_then_rst or a.rst_then_synack:
            first, second = (SYN | ACK, RST | ACK) if a.synack_then_rst else (RST | ACK, SYN | ACK)
            responder.send(version, answer(version, src, dst, sport, dport, seq, acked, first), src)
            time.sleep(a.then_ms / 1000.0)
            responder.send(version, answer(version, src, dst, sport, dport, seq, acked, second), src)
            if a.second_twice:  # a copy of it, as the network makes
                responder.send(version, answer(version, src, dst, sport, dport, seq, acked, second), src)
        else:
            responder.send(version, answer(version, src, dst, sport, dport, seq, acked if a.ack_field else 0), src)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
