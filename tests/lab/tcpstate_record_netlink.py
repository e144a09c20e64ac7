#!/usr/bin/env python3
"""Record the raw bytes of a NETLINK_SOCK_DIAG TCP dump (IPv4 then IPv6, every state, with
INET_DIAG_INFO) to a file, so tcpstate's decoder can be tested on real kernel bytes without a
kernel. Written independently of the C++ request code on purpose.

  tcpstate_record_netlink.py OUT.bin
"""
import socket
import struct
import sys

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_DONE, NLMSG_ERROR = 3, 2
INET_DIAG_INFO = 2


def request(family, seq):
    # struct inet_diag_req_v2: family, protocol, ext, pad, states, inet_diag_sockid (48 bytes)
    body = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 1 << (INET_DIAG_INFO - 1), 0, 0xFFFFFFFF)
    body += b"\0" * 48
    return struct.pack("=IHHII", 16 + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = bytearray()
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG)
    for seq, fam in ((1, socket.AF_INET), (2, socket.AF_INET6)):
        s.send(request(fam, seq))
        done = False
        for _ in range(100000):  # bounded: one dump of a small test namespace
            chunk = s.recv(65536)
            out += chunk
            off = 0
            while off + 16 <= len(chunk):
                length, kind = struct.unpack_from("=IH", chunk, off)
                if kind in (NLMSG_DONE, NLMSG_ERROR):
                    done = True
                off += (length + 3) & ~3
            if done:
                break
    with open(sys.argv[1], "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main()
