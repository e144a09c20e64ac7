#!/usr/bin/env python3
"""Regenerates the seed corpora of tests/fuzz/corpus/ from real data (run as root):

  segment, segment_libtins  IP packets captured with tcpdump in a lab namespace pair: handshakes
                            and closes (SYN with options, SYN/ACK, ACK, FIN, data), RSTs from a
                            closed port, ICMP and ICMPv6 errors from nftables rejects; IPv4 and
                            IPv6; one file per packet (link header stripped).
  scan_ring                 TPACKET_V3 blocks as the kernel filled them (a packet ring read with
                            mmap while that traffic flowed), cut to their used length.
  route                     RTM_GETROUTE replies from the kernel (first byte: 0 IPv4, 1 IPv6).
  sock_diag                 sock_diag dumps of the namespace (whole recv() buffers, one a file),
                            and tests/fixtures/tcpstate/sock-diag-dump.bin.
  socket_text               ss, netstat and /proc/net/tcp{,6} text from tests/fixtures/tcpstate
                            (first byte picks the parser, see fuzz_socket_text.cpp).
  targets, target_list      what users write: tcpscan's and tcpprobe's documented forms.
  icmp_extensions           ICMP and ICMPv6 errors with RFC 4884 extensions, built here: MPLS
                            label stacks with and without the length field, interface info.

  make_corpus.py [OUT_DIR]   (default: the corpus folder next to this script)
Traffic stays between the lab's own namespaces.
"""
import hashlib
import mmap
import os
import select
import socket
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "lab"))
import lab  # noqa: E402
from tcpscan_forge import checksum  # noqa: E402

FIXTURES = os.path.join(REPO, "tests", "fixtures", "tcpstate")
MAX_FILES = 64  # per target from captures: small seeds, not an archive


def save(out, target, data, cap=MAX_FILES):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    if len(os.listdir(d)) >= cap:
        return
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# The traffic, run in the client namespace: handshakes, data and closes to an open port, SYNs to
# a closed port (RST) and to rejected ports (ICMP errors), over IPv4 and IPv6.
TRAFFIC = r"""
import socket, sys
for addr, fam in ((sys.argv[1], socket.AF_INET), (sys.argv[2], socket.AF_INET6)):
    for port, data in ((7000, b"hello\n"), (7001, b""), (7002, b""), (7003, b"")):
        s = socket.socket(fam)
        s.settimeout(1.0)
        try:
            s.connect((addr, port))
            if data:
                s.sendall(data)
        except OSError:
            pass
        s.close()
"""

RING = r"""
import mmap, os, select, socket, struct, sys, time
SOL_PACKET, PACKET_VERSION, PACKET_RX_RING, TPACKET_V3 = 263, 10, 5, 2
BLOCK, NBLOCKS = 1 << 12, 8
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(3))
s.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
s.setsockopt(SOL_PACKET, PACKET_RX_RING, struct.pack("7I", BLOCK, NBLOCKS, 2048, BLOCK // 2048 * NBLOCKS, 20, 0, 0))
m = mmap.mmap(s.fileno(), BLOCK * NBLOCKS)
print("ready", flush=True)
out, cur, end = open(sys.argv[1], "wb"), 0, time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    select.select([s], [], [], 0.1)
    for _ in range(NBLOCKS):
        base = cur * BLOCK
        status, = struct.unpack_from("I", m, base + 8)
        if not status & 1:  # TP_STATUS_USER
            break
        used, = struct.unpack_from("I", m, base + 20)  # blk_len
        block = m[base:base + min(used, BLOCK)]
        out.write(struct.pack("I", len(block)) + block)
        struct.pack_into("I", m, base + 8, 0)
        cur = (cur + 1) % NBLOCKS
out.close()
"""

ROUTE = r"""
import socket, struct, sys
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
out = open(sys.argv[1], "wb")
for dst in sys.argv[2:]:
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    raw = socket.inet_pton(fam, dst)
    rtmsg = struct.pack("BBBBBBBBI", fam, 0, 0, len(raw) * 8, 0, 0, 0, 0, 0)
    attr = struct.pack("HH", 4 + len(raw), 1) + raw  # RTA_DST
    body = rtmsg + attr
    s.send(struct.pack("IHHII", 16 + len(body), 26, 1, 1, 0) + body)  # RTM_GETROUTE, NLM_F_REQUEST
    reply = s.recv(8192)
    out.write(struct.pack("BI", fam == socket.AF_INET6, len(reply)) + reply)
out.close()
"""


def records(path, header):
    with open(path, "rb") as f:
        data = f.read()
    off, size = 0, struct.calcsize(header)
    while off + size <= len(data):
        *prefix, length = struct.unpack_from(header, data, off)
        off += size
        yield prefix, data[off:off + length]
        off += length


def captured(out):
    with lab.Lab() as L:
        L.start_server("7000", mode="hold")
        L.reject_ports([7002], icmp="admin-prohibited")
        L.reject_ports([7003], icmp="port-unreachable")
        ring_file = os.path.join(L.tmpdir, "ring.bin")
        route_file = os.path.join(L.tmpdir, "route.bin")
        ring = L._popen(L.client_ns, [sys.executable, "-c", RING, ring_file, "4"], stdout=lab.subprocess.PIPE)
        if not lab._read_line(ring, "ready", 10.0):
            raise lab.LabError("ring reader did not start")
        with L.capture(L.client_ns, L.client_if) as cap:
            r = L.run_python(L.client_ns, TRAFFIC.replace("sys.argv[1]", repr(L.server_v4))
                             .replace("sys.argv[2]", repr(L.server_v6)))
            if r.returncode != 0:
                raise lab.LabError(r.stderr)
        ring.wait(timeout=15)
        r = L._exec(L.client_ns, [sys.executable, "-c", ROUTE, route_file, L.server_v4, L.server_v6,
                                  "127.0.0.1", "::1", "192.0.2.1", "2001:db8::1"])
        if r.returncode != 0:
            raise lab.LabError(r.stderr)
        linktype, frames = lab.read_pcap(cap.path)
        for _, frame in frames:
            off = lab.ip_payload(linktype, frame)
            if off is not None:
                save(out, "segment", frame[off:])
                save(out, "segment_libtins", frame[off:])
        for _, block in records(ring_file, "I"):
            save(out, "scan_ring", block, cap=16)
        for (v6,), reply in records(route_file, "BI"):
            save(out, "route", bytes([v6]) + reply)
        # A sock_diag dump of the client namespace while its sockets close (TIME_WAIT, FIN_WAIT).
        dump = os.path.join(L.tmpdir, "diag.bin")
        L._exec(L.client_ns, [sys.executable, os.path.join(REPO, "tests", "lab", "tcpstate_record_netlink.py"), dump])
        with open(dump, "rb") as f:
            save(out, "sock_diag", f.read())


def from_fixtures(out):
    with open(os.path.join(FIXTURES, "sock-diag-dump.bin"), "rb") as f:
        save(out, "sock_diag", f.read())
    selector = {"ss": 0, "named-ss": 0, "netstat": 2, "named-netstat": 2, "named-busybox": 2}
    for name in sorted(os.listdir(FIXTURES)):
        if not name.endswith(".txt"):
            continue
        with open(os.path.join(FIXTURES, name), "rb") as f:
            text = f.read()
        if name.startswith("proc-net-tcp6"):
            sel = 4
        elif name.startswith("proc-net-tcp"):
            sel = 3
        else:
            sel = next((v for k, v in sorted(selector.items(), key=lambda kv: -len(kv[0]))
                        if name.startswith(k + "-")), None)
            if sel is None:
                continue
        save(out, "socket_text", bytes([sel]) + text[:16384])
        if sel == 0 and b"State" not in text.split(b"\n", 1)[0]:
            save(out, "socket_text", bytes([1]) + text[:16384])
    save(out, "socket_text", b"\x05users:((\"nginx\",pid=10,fd=6),(\"a b\",pid=2,fd=4))")
    save(out, "socket_text", b"\x05timer:(keepalive,1min2sec,0) rtt:0.05/0.025 cwnd:10 bytes_acked:1")


# tcpscan(1) and tcpprobe(1) forms; the first byte picks the parser (fuzz_targets.cpp: % 7).
TARGETS = [
    (0, "192.0.2.1"), (0, "2001:db8::1"), (0, "::ffff:10.0.0.1"), (0, "fe80::1"),
    (1, "10.0.0.0/8"), (1, "2001:db8::/32"), (1, "192.0.2.77/30"),
    (2, "example.com:443"), (2, "[2001:db8::1]:22"), (2, "[fe80::1%eth0]:22"), (2, "host:https"),
    (2, "ssh"), (3, "22,80,8000-8100"), (3, "-"), (3, "-1024"), (3, "60000-"), (3, "ssh,https"),
    (4, "syn,ack"), (4, "SA"), (4, "fin|psh|urg"), (4, "xmas"), (4, "null"),
    (5, "10.0.0.1-50\n10.0.1.0/24\n!10.0.1.7\n"), (12, "10.0.0.1-10.0.3.7\n2001:db8::1-2001:db8::ff"),
    (19, "192.0.2.0/24\n!192.0.2.128/25\nweb-1\n"), (26, "0.0.0.0/1\n!10.0.0.0/8"),
    (33, "224.0.0.1\n255.255.255.255\n192.0.2.0/31"),
]
TARGET_LISTS = [
    "# lab hosts\n10.0.0.1\n10.0.0.2, 10.0.0.3\n",
    "192.0.2.0/24 2001:db8::/120\t198.51.100.1-20 # comment\nhost.example\n",
    "\r\n10.1.0.0/16,,\n#only a comment",
]


def icmp_with_extensions(v6, objects, length_field=True):
    """An ICMP time exceeded (or ICMPv6) quoting 128 bytes, then an extension structure."""
    quote = bytes(range(0x45, 0x45 + 40)) + bytes(88)
    structure = b"\x20\0\0\0" + b"".join(objects)
    structure = structure[:2] + struct.pack("!H", checksum(structure)) + structure[4:]
    if v6:
        header = bytes([3, 0, 0, 0, 16 if length_field else 0, 0, 0, 0])
    else:
        header = bytes([11, 0, 0, 0, 0, 32 if length_field else 0, 0, 0])
    return header + quote + structure


def extension_object(class_num, c_type, payload):
    return struct.pack("!HBB", 4 + len(payload), class_num, c_type) + payload


def hand_written(out):
    for sel, text in TARGETS:
        save(out, "targets", bytes([sel]) + text.encode())
    for text in TARGET_LISTS:
        save(out, "target_list", text.encode())
    mpls = extension_object(1, 1, struct.pack("!II", 16 << 12 | 1, 299792 << 12 | 5 << 9 | 1 << 8 | 254))
    interface = extension_object(2, 0x0f, struct.pack("!I", 7) + bytes([0, 1, 0, 0, 10, 0, 1, 2]) +
                                 bytes([8]) + b"eth1\0\0\0" + struct.pack("!I", 1500))
    for v6 in (False, True):
        for length_field in (True, False):
            save(out, "icmp_extensions", icmp_with_extensions(v6, [mpls], length_field))
        save(out, "icmp_extensions", icmp_with_extensions(v6, [interface, extension_object(9, 3, bytes(8))]))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    captured(out)
    from_fixtures(out)
    hand_written(out)
    for d in sorted(os.listdir(out)):
        files = os.listdir(os.path.join(out, d))
        total = sum(os.path.getsize(os.path.join(out, d, f)) for f in files)
        print(f"{d}: {len(files)} files, {total} bytes")


if __name__ == "__main__":
    main()
