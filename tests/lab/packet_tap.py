"""The lab's user-space routers (mpls_router.py, reorder_router.py) watch a router interface the
same way: every IPv4 datagram that comes in on it, until SIGTERM or a time limit."""
import signal
import socket
import time

ETH_P_IP = 0x0800


def incoming_ipv4(iface, max_seconds):
    """Each IPv4 datagram received on iface (not those sent), for at most max_seconds or until
    SIGTERM. The socket is open when this returns (the caller then says "ready"); the datagrams
    come as the result is iterated."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    sniff.bind((iface, 0))
    sniff.settimeout(0.2)
    return _datagrams(sniff, stop, time.monotonic() + max_seconds)


def _datagrams(sniff, stop, end):
    while not stop and time.monotonic() < end:
        try:
            ip, addr = sniff.recvfrom(4096)
        except (socket.timeout, InterruptedError):
            continue
        if addr[2] != socket.PACKET_OUTGOING and len(ip) >= 20 and ip[0] >> 4 == 4:
            yield ip
