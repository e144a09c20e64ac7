"""Listens on many TCP ports at once (IPv4 and IPv6) so tcpscan finds them open; prints
"listening" when every socket is bound, then holds until killed or --max-seconds pass.
No connection is ever accepted: a half-open scan never completes one."""
import argparse
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports", required=True, help="comma-separated port numbers")
    ap.add_argument("--family", choices=["v4", "v6", "both"], default="both")
    ap.add_argument("--max-seconds", type=float, default=600)
    args = ap.parse_args()
    ports = [int(p) for p in args.ports.split(",") if p]
    socks = []
    for port in ports:
        if args.family in ("v4", "both"):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", port))
            s.listen(1024)
            socks.append(s)
        if args.family in ("v6", "both"):
            s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind(("::", port))
            s.listen(1024)
            socks.append(s)
    print("listening", flush=True)
    end = time.monotonic() + args.max_seconds
    while time.monotonic() < end:  # bounded: the lab kills us long before
        time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
