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
import select
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stray_rst_responder import ETH_P_ALL, PACKET_HOST, RST, SO_MARK, SYN, ACK, checksum, parse  # noqa: E402


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
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    rx = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
    rx.bind((a.interface, 0))
    senders = {4: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW),
               6: socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)}
    for sender in senders.values():
        sender.setsockopt(socket.SOL_SOCKET, SO_MARK, a.mark)
    print("ready", flush=True)
    end = time.monotonic() + a.max_seconds
    replies = 0
    while not stop and replies < a.max_replies and time.monotonic() < end:
        ready, _, _ = select.select([rx], [], [], min(0.2, max(0.0, end - time.monotonic())))
        if not ready:
            continue
        frame, address = rx.recvfrom(65535)
        if address[2] != PACKET_HOST:
            continue
        seg = parse(frame)
        if seg is None or seg[4] != a.port or seg[7] & (SYN | ACK | RST) != SYN:
            continue
        version, src, dst, sport, dport, seq = seg[:6]
        target = socket.inet_ntop(socket.AF_INET if version == 4 else socket.AF_INET6, src)
        acked = (seq + 1) & 0xFFFFFFFF
        if a.corrupt_first:
            senders[version].sendto(answer(version, src, dst, sport, dport, seq, acked, SYN | ACK, True), (target, 0))
            time.sleep(a.then_ms / 1000.0)
            senders[version].sendto(answer(version, src, dst, sport, dport, seq, acked, RST | ACK), (target, 0))
        else:
            ack_field = acked if a.ack_field else 0
            senders[version].sendto(answer(version, src, dst, sport, dport, seq, ack_field), (target, 0))
        replies += 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
