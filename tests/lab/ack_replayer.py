"""Replays the server's pure ACKs late, as a network that duplicates and delays would: it watches,
on the server's interface, every pure ACK (no data, no other flag) the server sends from the
given ports, and sends the same IPv4 packet again --delay-ms later, IP ID and all (the TCP
checksum recomputed: a captured outgoing frame may carry a partial one). A prober must count
such copies as duplicates, never as answers to what it sent after the original.

IPv4 only. Prints "ready" once it listens, and on SIGTERM (or --max-seconds) one JSON line with
the number of copies sent. Bounded by --max-copies."""
import argparse
import heapq
import json
import os
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tcpscan_forge import checksum  # noqa: E402

ETH_P_ALL, ETH_P_IP = 0x0003, 0x0800
ACK = 0x10


def with_tcp_checksum(ip):
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack("!H", ip[2:4])[0]
    ip = bytearray(ip[:total])
    segment = ip[ihl:]
    segment[16:18] = b"\0\0"
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 6, len(segment))
    segment[16:18] = struct.pack("!H", checksum(bytes(pseudo + segment)))
    ip[ihl:] = segment
    return bytes(ip)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True, help="the server's interface")
    ap.add_argument("--server", required=True, help="the server's address")
    ap.add_argument("--ports", required=True, help="comma-separated server ports whose ACKs are replayed")
    ap.add_argument("--delay-ms", type=float, default=300)
    ap.add_argument("--max-seconds", type=float, default=60)
    ap.add_argument("--max-copies", type=int, default=200)
    args = ap.parse_args()
    ports = {int(p) for p in args.ports.split(",") if p}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    # ETH_P_ALL: a socket bound to one protocol is not handed the packets its host sends.
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
    sniff.bind((args.iface, 0))
    sniff.settimeout(0.02)
    out = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)  # IP_HDRINCL
    pending = []  # (due, n, packet, destination)
    sent = queued = 0
    print("ready", flush=True)
    end = time.monotonic() + args.max_seconds
    while not stop and time.monotonic() < end and sent < args.max_copies:
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, packet, dst = heapq.heappop(pending)
            out.sendto(packet, (dst, 0))
            sent += 1
        try:
            ip, addr = sniff.recvfrom(2048)
        except (socket.timeout, InterruptedError):
            continue
        if addr[1] != ETH_P_IP or addr[2] != socket.PACKET_OUTGOING or len(ip) < 40 or ip[0] >> 4 != 4 or ip[9] != 6:
            continue
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        if socket.inet_ntoa(ip[12:16]) != args.server or len(ip) < ihl + 20:
            continue
        sport = struct.unpack("!H", ip[ihl:ihl + 2])[0]
        data_offset = (ip[ihl + 12] >> 4) * 4
        if sport not in ports or ip[ihl + 13] != ACK or total != ihl + data_offset:
            continue
        if queued < args.max_copies:
            queued += 1
            heapq.heappush(pending, (now + args.delay_ms / 1000, queued, with_tcp_checksum(ip),
                                     socket.inet_ntoa(ip[16:20])))
    print(json.dumps({"copies": sent}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
