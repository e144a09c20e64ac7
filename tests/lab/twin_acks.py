"""Makes a Linux listener create two children for one handshake, as two CPUs taking its ACKs
at once do: for each of --count handshakes it sends a SYN from a raw socket, reads the SYN/ACK,
then sends the handshake's ACK and an ACK with 2 bytes of data from two threads pinned to two
CPUs and released together, and 30 ms later an RST (with ACK) to end the connection. The kernel's
own RSTs to the SYN/ACKs must be dropped (an nft rule on this host's output; ours carry ACK).

IPv4 only. Prints one JSON line: the handshakes that got their SYN/ACK. Bounded by --count
(at most 200) and one second per SYN/ACK."""
import argparse
import json
import os
import random
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tcpscan_forge import checksum  # noqa: E402

SYN, RST, PSH, ACK = 0x02, 0x04, 0x08, 0x10


def segment(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 64240, 0, 0) + payload
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), random.getrandbits(16), 0, 64, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    return ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:] + tcp


def syn_ack(rx, dport, sport, isn):
    """The server's ISN from its SYN/ACK to our SYN, or None within a second."""
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        try:
            p = rx.recv(2000)
        except socket.timeout:
            return None
        ihl = (p[0] & 0x0F) * 4
        sp, dp, seq, ack = struct.unpack("!HHII", p[ihl:ihl + 12])
        if sp == dport and dp == sport and p[ihl + 13] & (SYN | ACK) == SYN | ACK and ack == (isn + 1) & 0xFFFFFFFF:
            return seq
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--first-sport", type=int, default=41000)
    ap.add_argument("--count", type=int, default=30)
    args = ap.parse_args()
    rx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    rx.settimeout(1.0)
    tx = [socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) for _ in range(2)]
    cpus = sorted(os.sched_getaffinity(0))[:2]
    answered = 0
    for k in range(min(args.count, 200)):
        sport, isn = args.first_sport + k, random.getrandbits(32)
        tx[0].sendto(segment(args.src, args.dst, sport, args.port, isn, 0, SYN), (args.dst, 0))
        theirs = syn_ack(rx, args.port, sport, isn)
        if theirs is None:
            continue
        answered += 1
        seq, ack = (isn + 1) & 0xFFFFFFFF, (theirs + 1) & 0xFFFFFFFF
        packets = [segment(args.src, args.dst, sport, args.port, seq, ack, ACK),
                   segment(args.src, args.dst, sport, args.port, seq, ack, PSH | ACK, b"hi")]
        together = threading.Barrier(2)

        def send(i):
            os.sched_setaffinity(0, {cpus[i % len(cpus)]})
            together.wait()
            tx[i].sendto(packets[i], (args.dst, 0))

        threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(0.03)
        tx[0].sendto(segment(args.src, args.dst, sport, args.port, (seq + 2) & 0xFFFFFFFF, ack, RST | ACK), (args.dst, 0))
    print(json.dumps({"handshakes": answered}), flush=True)


if __name__ == "__main__":
    main()
