"""Makes a lab router answer as an MPLS router does: its ICMP time exceeded carries the label
stack the probe travelled under (RFC 4950), in an RFC 4884 extension structure, and (with
--interface-info) the incoming interface's name, ifIndex, address and MTU (RFC 5837).

Linux routers send no extensions, so this runs in the router's namespace: it watches the
interface towards the client (a packet socket) for IPv4 TCP segments to the given port whose TTL
ends here (TTL 1), and answers each with such a time exceeded from --router, quoting the first
128 bytes of the probe (zero-padded) with the RFC 4884 length set (or, with --no-length, at byte
128 with the length 0, as routers from before RFC 4884 do). The kernel's own plain answer is
dropped by an nftables rule the test adds (output, ICMP time exceeded shorter than ours).

IPv4 only. Prints "ready" once it listens, and on SIGTERM (or --max-seconds) one JSON line with
the count of answers sent. Bounded by --max-replies."""
import argparse
import json
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from packet_tap import incoming_ipv4  # noqa: E402
from tcpscan_forge import checksum  # noqa: E402
QUOTE = 128  # RFC 4884: the quoted datagram, padded, when extensions follow


def extension_object(class_num, c_type, payload):
    return struct.pack("!HBB", 4 + len(payload), class_num, c_type) + payload


def extensions(labels, interface):
    stack = b"".join(struct.pack("!I", label << 12 | (1 << 8 if i == len(labels) - 1 else 0) | 1)
                     for i, label in enumerate(labels))
    objects = [extension_object(1, 1, stack)]
    if interface:
        name, index, address, mtu = interface
        raw = name.encode()[:60]
        field = bytes([(len(raw) + 1 + 3) // 4 * 4]) + raw
        field += bytes((-len(field)) % 4)
        objects.append(extension_object(2, 0x0f, struct.pack("!I", index) + struct.pack("!HH", 1, 0) +
                                        socket.inet_aton(address) + field + struct.pack("!I", mtu)))
    structure = b"\x20\0\0\0" + b"".join(objects)
    return structure[:2] + struct.pack("!H", checksum(structure)) + structure[4:]


def time_exceeded(router, client, probe, labels, interface, length_field, ident):
    quoted = probe[:QUOTE] + bytes(max(0, QUOTE - len(probe)))
    body = struct.pack("!BBHBBH", 11, 0, 0, 0, QUOTE // 4 if length_field else 0, 0) + quoted + extensions(labels, interface)
    body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0xc0, 20 + len(body), ident, 0, 64, 1, 0,
                         socket.inet_aton(router), socket.inet_aton(client))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True, help="the router's interface towards the client")
    ap.add_argument("--router", required=True, help="the address the answers come from")
    ap.add_argument("--port", type=int, required=True, help="the probes' destination port")
    ap.add_argument("--labels", default="16,299792", help="the label stack, top first")
    ap.add_argument("--interface-info", default="", help="NAME,IFINDEX,ADDRESS,MTU of the incoming interface")
    ap.add_argument("--no-length", action="store_true", help="leave the RFC 4884 length 0 (pre-RFC 4884 placement)")
    ap.add_argument("--max-seconds", type=float, default=60)
    ap.add_argument("--max-replies", type=int, default=1000)
    args = ap.parse_args()
    labels = [int(x) for x in args.labels.split(",") if x]
    interface = None
    if args.interface_info:
        name, index, address, mtu = args.interface_info.split(",")
        interface = (name, int(index), address, int(mtu))
    out = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)  # IP_HDRINCL
    sent, ident = 0, 1
    datagrams = incoming_ipv4(args.iface, args.max_seconds)
    print("ready", flush=True)
    for ip in datagrams:
        if sent >= args.max_replies:
            break
        if len(ip) < 40 or ip[9] != 6 or ip[8] != 1:
            continue
        ihl = (ip[0] & 0x0F) * 4
        if len(ip) < ihl + 4 or struct.unpack("!H", ip[ihl + 2:ihl + 4])[0] != args.port:
            continue
        client = socket.inet_ntoa(ip[12:16])
        ident = (ident + 1) & 0xFFFF
        out.sendto(time_exceeded(args.router, client, ip, labels, interface, not args.no_length, ident), (client, 0))
        sent += 1
    print(json.dumps({"sent": sent}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
