"""Forges replies from the target's side: it watches, on the server's interface (a packet socket,
so it sees segments before the server's firewall does), every TCP segment the client sends to the
given ports, and answers each one with forgeries that no prober may take as an answer:

  to a SYN:        synack-wrong-ack   SYN/ACK whose ack is not ISN+1
                   rst-wrong-ack      RST/ACK whose ack is not ISN+1
                   icmp-other-seq     ICMP port unreachable quoting the SYN with another seq
                   icmp-other-port    ICMP port unreachable quoting it to another port
                   wrong-address      SYN/ACK with the right ack, from another address
  to any other segment (not an RST):
                   rst-wrong-seq      RST whose seq is far from the peer's sequence space
                   ack-wrong-ack      ACK acknowledging data the client never sent
                   wrong-address      ACK with the right numbers, from another address

IPv4 only. Prints "ready" once it listens, and on SIGTERM (or --max-seconds) one JSON line with
the count of each forgery sent. Bounded by --max-replies."""
import argparse
import json
import os
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tcpscan_forge import checksum, tcp_segment  # noqa: E402

ETH_P_IP = 0x0800
SYN, RST, ACK = 0x02, 0x04, 0x10
FAR = 0x40000000  # a quarter of the sequence space away: outside any window


def ipv4_packet(src, dst, proto, payload, ident):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0, 64, proto, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + payload


def icmp_unreachable(quoted_ip_header, quoted_tcp_first8):
    body = struct.pack("!BBHI", 3, 3, 0, 0) + quoted_ip_header + quoted_tcp_first8
    return body[:2] + struct.pack("!H", checksum(body)) + body[4:]


def quote(src, dst, sport, dport, seq, ident):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, ident, 0, 64, 6, 0, socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip, struct.pack("!HHI", sport, dport, seq)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True, help="the server's interface")
    ap.add_argument("--client", required=True, help="the prober's address")
    ap.add_argument("--server", required=True, help="the target's address (forgeries come from it)")
    ap.add_argument("--ports", required=True, help="comma-separated target ports to watch")
    ap.add_argument("--wrong-address", required=True, help="the address wrong-address forgeries come from")
    ap.add_argument("--max-seconds", type=float, default=60)
    ap.add_argument("--max-replies", type=int, default=20000)
    args = ap.parse_args()
    ports = {int(p) for p in args.ports.split(",") if p}
    counts = {k: 0 for k in ("synack-wrong-ack", "rst-wrong-ack", "icmp-other-seq", "icmp-other-port",
                             "wrong-address", "rst-wrong-seq", "ack-wrong-ack")}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))  # IP up
    sniff.bind((args.iface, 0))
    sniff.settimeout(0.2)
    out = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)  # IP_HDRINCL
    client, server, other = args.client, args.server, args.wrong_address
    ident = 1
    print("ready", flush=True)
    end = time.monotonic() + args.max_seconds

    def send(src, proto, payload, kind):
        nonlocal ident
        ident = (ident + 1) & 0xFFFF
        out.sendto(ipv4_packet(src, client, proto, payload, ident), (client, 0))
        counts[kind] += 1

    while not stop and time.monotonic() < end and sum(counts.values()) < args.max_replies:
        try:
            frame, addr = sniff.recvfrom(2048)
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        if addr[2] == socket.PACKET_OUTGOING or len(frame) < 40:
            continue
        ip = frame
        if ip[0] >> 4 != 4 or ip[9] != 6:
            continue
        ihl = (ip[0] & 0x0F) * 4
        src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
        if src != client or dst != server or len(ip) < ihl + 20:
            continue
        sport, dport, seq, ack = struct.unpack("!HHII", ip[ihl:ihl + 12])
        flags = ip[ihl + 13]
        if dport not in ports or flags & RST:
            continue
        if flags & SYN and not flags & ACK:
            send(server, 6, tcp_segment(server, client, dport, sport, 7777, (seq + 1 + 1000) & 0xFFFFFFFF, SYN | ACK),
                 "synack-wrong-ack")
            send(server, 6, tcp_segment(server, client, dport, sport, 0, (seq + 1 + 2000) & 0xFFFFFFFF, RST | ACK),
                 "rst-wrong-ack")
            q_ip, q_tcp = quote(client, server, sport, dport, (seq + 7) & 0xFFFFFFFF, ident)
            send(server, 1, icmp_unreachable(q_ip, q_tcp), "icmp-other-seq")
            q_ip, q_tcp = quote(client, server, sport, (dport + 1) & 0xFFFF, seq, ident)
            send(server, 1, icmp_unreachable(q_ip, q_tcp), "icmp-other-port")
            send(other, 6, tcp_segment(other, client, dport, sport, 7777, (seq + 1) & 0xFFFFFFFF, SYN | ACK),
                 "wrong-address")
        else:
            # The client's ack is the peer's SND.NXT; its seq is the peer's RCV.NXT.
            send(server, 6, tcp_segment(server, client, dport, sport, (ack + FAR) & 0xFFFFFFFF, 0, RST), "rst-wrong-seq")
            send(server, 6, tcp_segment(server, client, dport, sport, ack, (seq + FAR) & 0xFFFFFFFF, ACK), "ack-wrong-ack")
            send(other, 6, tcp_segment(other, client, dport, sport, ack, seq, ACK), "wrong-address")
    print(json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
