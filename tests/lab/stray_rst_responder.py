#!/usr/bin/env python3
"""A misbehaving TCP responder for tcpstray's tests: it answers every segment to its ports
with an RST, except SYNs and pure ACKs, which it leaves to the kernel (so handshakes work and
a listener stays a listener). Its RSTs have the RFC 9293 closed-port form (seq = SEG.ACK, or
seq 0 and ack = SEG.SEQ+SEG.LEN). The test's nftables rule drops the kernel's own RSTs from
these ports; ours carry a packet mark (SO_MARK) that the rule lets through. As a stack that
resets a connection ends it, each RST of ours on a connection ends the kernel's (ss -K): it
acks nothing after it, which tcpstray checks.

Runs in the lab's server namespace: reads frames with an AF_PACKET socket on --interface,
writes IPv4/IPv6 packets through IPPROTO_RAW sockets. Prints "ready" once it listens; stops on
SIGTERM/SIGINT, after --max-seconds or after --max-replies.
"""
import argparse
import select
import signal
import socket
import struct
import subprocess
import sys
import time

ETH_P_ALL = 0x0003
PACKET_HOST = 0
SO_MARK = 36
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def parse(frame):
    """(version, src, dst, sport, dport, seq, ack, flags, payload_len) or None."""
    if len(frame) < 20:
        return None
    version = frame[0] >> 4
    if version == 4:
        ihl = (frame[0] & 0x0F) * 4
        if frame[9] != 6 or len(frame) < ihl + 20:
            return None
        total = struct.unpack("!H", frame[2:4])[0]
        src, dst, tcp = frame[12:16], frame[16:20], frame[ihl:total]
    elif version == 6:
        if len(frame) < 60 or frame[6] != 6:  # no extension headers in the lab
            return None
        plen = struct.unpack("!H", frame[4:6])[0]
        src, dst, tcp = frame[8:24], frame[24:40], frame[40:40 + plen]
    else:
        return None
    if len(tcp) < 20:
        return None
    sport, dport, seq, ack, off_flags = struct.unpack("!HHIIH", tcp[:14])
    header = (off_flags >> 12) * 4
    if header < 20 or header > len(tcp):
        return None
    return version, src, dst, sport, dport, seq, ack, off_flags & 0xFF, len(tcp) - header


def rst_for(version, src, dst, sport, dport, seq, ack, flags, payload_len):
    """The RST we send back: from (dst, dport) to (src, sport)."""
    if flags & ACK:
        r_seq, r_ack, r_flags = ack, 0, RST
    else:
        r_seq = 0
        r_ack = (seq + payload_len + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)) & 0xFFFFFFFF
        r_flags = RST | ACK
    tcp = struct.pack("!HHIIBBHHH", dport, sport, r_seq, r_ack, 5 << 4, r_flags, 0, 0, 0)
    if version == 4:
        pseudo = dst + src + struct.pack("!BBH", 0, 6, len(tcp))
    else:
        pseudo = dst + src + struct.pack("!IxxxB", len(tcp), 6)
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    if version == 4:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, dst, src)
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    else:
        ip = struct.pack("!IHBB16s16s", 6 << 28, len(tcp), 6, 64, dst, src)
    return ip + tcp


class Responder:
    """What the lab's responders share: an AF_PACKET reader on one interface, IPPROTO_RAW
    senders whose packets carry a mark (SO_MARK) the test's nftables rule lets through, and
    the stop rules: SIGTERM/SIGINT, max_seconds, max_replies."""

    def __init__(self, interface, mark, max_seconds, max_replies):
        self.stop = []
        signal.signal(signal.SIGTERM, lambda *_: self.stop.append(1))
        signal.signal(signal.SIGINT, lambda *_: self.stop.append(1))
        self.rx = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
        self.rx.bind((interface, 0))
        self.senders = {}
        for version, family in ((4, socket.AF_INET), (6, socket.AF_INET6)):
            s = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_RAW)
            s.setsockopt(socket.SOL_SOCKET, SO_MARK, mark)
            self.senders[version] = s
        self.end = time.monotonic() + max_seconds
        self.max_replies = max_replies
        self.replies = 0
        self.interface = interface
        self.peer_mac = None  # of the last frame read: where send_frame addresses its frames
        self.tx = None

    def segments(self):
        """Prints "ready", then yields each parsed TCP segment arriving (not our own, nor the
        kernel's leaving) until a stop rule ends it."""
        print("ready", flush=True)
        while not self.stop and self.replies < self.max_replies and time.monotonic() < self.end:
            ready, _, _ = select.select([self.rx], [], [], min(0.2, max(0.0, self.end - time.monotonic())))
            if not ready:
                continue
            frame, address = self.rx.recvfrom(65535)
            if address[2] != PACKET_HOST:
                continue
            self.peer_mac = address[4]
            seg = parse(frame)
            if seg is not None:
                yield seg

    def send(self, version, packet, to):
        """Sends an IP packet to the address bytes `to` (4 or 16 of them)."""
        target = socket.inet_ntop(socket.AF_INET if version == 4 else socket.AF_INET6, to)
        self.senders[version].sendto(packet, (target, 0))
        self.replies += 1

    def send_frame(self, version, packet):
        """Sends the IP packet as an Ethernet frame to the last sender's MAC: past the IP layer,
        which would fill in an IPv4 total length or checksum, and past nftables' output hook."""
        if self.tx is None:
            self.tx = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM)
        ethertype = 0x0800 if version == 4 else 0x86DD
        self.tx.sendto(packet, (self.interface, ethertype, 0, 0, self.peer_mac))
        self.replies += 1


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--interface", required=True)
    p.add_argument("--ports", required=True, help="comma list of TCP ports to answer for")
    p.add_argument("--mark", type=lambda s: int(s, 0), default=0x5253)
    p.add_argument("--max-seconds", type=float, default=300.0)
    p.add_argument("--max-replies", type=int, default=10000)
    p.add_argument("--stray-syns", action="store_true",
                   help="also reset a SYN on a connection already open (another ISN than its first SYN's): "
                        "the RFC 793 answer that RFC 5961 replaced with a challenge ACK")
    p.add_argument("--leave-data", action="store_true",
                   help="leave segments with data (and no FIN or RST) to the kernel, which acks them")
    a = p.parse_args(argv)
    ports = {int(x) for x in a.ports.split(",")}
    first_isn = {}  # (client address, client port) -> the ISN of its first SYN

    responder = Responder(a.interface, a.mark, a.max_seconds, a.max_replies)
    for seg in responder.segments():
        if seg[4] not in ports:
            continue
        version, src, dst, sport, dport, seq, ack, flags, payload_len = seg
        if flags & SYN and not flags & FIN:
            isn = first_isn.setdefault((src, sport), seq)
            if not a.stray_syns or flags & ACK or seq == isn:
                continue  # handshakes are the kernel's
        elif flags == ACK and payload_len == 0:
            continue  # pure ACKs too
        elif a.leave_data and payload_len > 0 and not flags & (FIN | RST):
            continue
        responder.send(version, rst_for(*seg), src)
        end_connection(version, src, sport, dport)
    return 0


def end_connection(version, peer, peer_port, port):
    """Ends the kernel's connection with peer:peer_port on our port, if there is one (its own
    RST goes nowhere: the test's rule drops it)."""
    address = socket.inet_ntop(socket.AF_INET if version == 4 else socket.AF_INET6, peer)
    if version == 6:
        address = f"[{address}]"
    subprocess.run(["ss", "-K", "-tn", f"dst {address} and dport = :{peer_port} and sport = :{port}"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=5, check=False)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
