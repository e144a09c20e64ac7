"""Makes a lab router a middlebox that reorders a SYN's TCP options, which nftables cannot do
(some load balancers and firewalls rebuild the option list in an order of their own).

It runs in the router's namespace: it watches the interface towards the client (a packet socket)
for IPv4 SYNs to the given port that the router would forward (TTL 2 or more), and sends each on
itself, TTL less one, with the options rotated by one (the first moves to the end; the length and
every option's bytes unchanged) and the TCP checksum recomputed, through a raw socket: the
router's routing table takes it on. The kernel's own forwarded copy is dropped by an nftables
rule the test adds (forward, SYNs to the port). A SYN that expires here (TTL 1) is left to the
kernel, which answers it as any router does.

IPv4 only. Prints "ready" once it listens, and on SIGTERM (or --max-seconds) one JSON line with
the count of SYNs sent on. Bounded by --max-packets."""
import argparse
import json
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from packet_tap import incoming_ipv4  # noqa: E402
from tcpscan_forge import checksum  # noqa: E402


def options_of(raw):
    """The options as a list of their bytes (NOPs and end-of-list one byte each)."""
    out, i = [], 0
    while i < len(raw):
        kind = raw[i]
        if kind in (0, 1):
            out.append(raw[i:i + 1])
            i += 1
            continue
        if i + 1 >= len(raw) or raw[i + 1] < 2 or i + raw[i + 1] > len(raw):
            return None  # malformed: left alone
        out.append(raw[i:i + raw[i + 1]])
        i += raw[i + 1]
    return out


def reordered(ip):
    ihl = (ip[0] & 0x0F) * 4
    tcp = bytearray(ip[ihl:])
    offset = (tcp[12] >> 4) * 4
    options = options_of(bytes(tcp[20:offset]))
    if not options or len(options) < 2:
        return None
    tcp[20:offset] = b"".join(options[1:] + options[:1])
    tcp[16:18] = b"\0\0"
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 6, len(tcp))
    tcp[16:18] = struct.pack("!H", checksum(pseudo + bytes(tcp)))
    header = bytearray(ip[:ihl])
    header[8] -= 1  # forwarded: one hop less
    header[10:12] = b"\0\0"
    header[10:12] = struct.pack("!H", checksum(bytes(header)))
    return bytes(header) + bytes(tcp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True, help="the router's interface towards the client")
    ap.add_argument("--port", type=int, required=True, help="the SYNs' destination port")
    ap.add_argument("--max-seconds", type=float, default=60)
    ap.add_argument("--max-packets", type=int, default=1000)
    args = ap.parse_args()
    out = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)  # IP_HDRINCL
    sent = 0
    datagrams = incoming_ipv4(args.iface, args.max_seconds)
    print("ready", flush=True)
    for ip in datagrams:
        if sent >= args.max_packets:
            break
        if len(ip) < 40 or ip[9] != 6 or ip[8] < 2:
            continue
        ihl = (ip[0] & 0x0F) * 4
        if len(ip) < ihl + 20 or struct.unpack("!H", ip[ihl + 2:ihl + 4])[0] != args.port:
            continue
        if ip[ihl + 13] & 0x12 != 0x02:  # SYN without ACK
            continue
        forged = reordered(ip)
        if forged:
            out.sendto(forged, (socket.inet_ntoa(ip[16:20]), 0))
            sent += 1
    print(json.dumps({"sent": sent}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
