#!/usr/bin/env python3
"""Hold TCP sockets in known states, for tcpstate's tests, fixtures and benchmark.

Run inside a lab namespace (ip netns exec). Two roles:

  server  listens on --hold-port (accepts and never closes: peers that half-close leave
          CLOSE_WAIT here) and on --close-port (closes each connection when the peer's FIN
          arrives, so the peer, the active closer, ends in TIME_WAIT).
  client  opens, towards a server: --established connections kept open, --fin-wait2
          connections half-closed with shutdown(SHUT_WR) (FIN_WAIT_2 here, CLOSE_WAIT there),
          --time-wait connections closed first (TIME_WAIT here), and --syn-sent non-blocking
          connects to --dropped-port (SYN_SENT while the firewall drops them).

Both print "READY <pid>" on stdout once every socket is in place, then hold them until stdin
closes, --hold seconds pass or SIGTERM arrives. Every loop is bounded by the counts given and
by --deadline seconds.
"""
import argparse
import ctypes
import errno
import os
import select
import signal
import socket
import sys
import time


def set_comm(name):
    # The process name ss -p and tcpstate -p show (/proc/PID/comm, 15 bytes at most).
    if not name:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(15, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)  # PR_SET_NAME


def raise_nofile():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def hold(args, sockets, tick=None):
    print("READY %d" % os.getpid(), flush=True)
    end = time.monotonic() + args.hold
    poller = select.poll()
    poller.register(sys.stdin.fileno(), select.POLLIN | select.POLLHUP)
    while time.monotonic() < end:
        if tick:
            tick()
        events = poller.poll(200)
        if events:
            data = os.read(sys.stdin.fileno(), 4096) if events[0][1] & select.POLLIN else b""
            if not data:
                break
    for s in sockets:
        try:
            s.close()
        except OSError:
            pass


def run_server(args):
    fam = family_of(args.bind)
    listeners = []
    for port in (args.hold_port, args.close_port):
        if not port:
            continue
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((args.bind, port))
        ls.listen(args.backlog)
        ls.setblocking(False)
        listeners.append((ls, port == args.close_port))
    accepted = []
    closers = []

    def tick():
        # Accept what is pending; close the close-port connections whose peer sent FIN.
        for ls, is_close in listeners:
            for _ in range(10000):
                try:
                    conn, _ = ls.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as e:
                    if e.errno == errno.EMFILE:
                        break
                    raise
                conn.setblocking(False)
                (closers if is_close else accepted).append(conn)
        still = []
        for c in closers:
            try:
                data = c.recv(4096)
                if data == b"":
                    c.close()
                    continue
            except BlockingIOError:
                pass
            except OSError:
                c.close()
                continue
            still.append(c)
        closers[:] = still

    hold(args, [l for l, _ in listeners] + accepted, tick)


def connect_all(fam, target, count, deadline):
    out = []
    for _ in range(count):
        if time.monotonic() > deadline:
            sys.exit("tcpstate_sockets: deadline passed while connecting")
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(max(0.1, deadline - time.monotonic()))
        s.connect(target)
        out.append(s)
    return out


def run_client(args):
    fam = family_of(args.server)
    deadline = time.monotonic() + args.deadline
    keep = []
    keep += connect_all(fam, (args.server, args.hold_port), args.established, deadline)
    half = connect_all(fam, (args.server, args.hold_port), args.fin_wait2, deadline)
    for s in half:
        s.shutdown(socket.SHUT_WR)
    keep += half
    tw = connect_all(fam, (args.server, args.close_port), args.time_wait, deadline) if args.time_wait else []
    for s in tw:
        s.shutdown(socket.SHUT_WR)
    # Wait for the server's FIN on each, then close: we were the active closer -> TIME_WAIT.
    for s in tw:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            s.recv(1)
        except OSError:
            pass
        s.close()
    for _ in range(args.syn_sent):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex((args.server, args.dropped_port))
        if err not in (errno.EINPROGRESS, 0):
            sys.exit("tcpstate_sockets: connect to dropped port: %s" % os.strerror(err))
        keep.append(s)
    hold(args, keep)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("role", choices=["server", "client"])
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--server", default="127.0.0.1")
    p.add_argument("--hold-port", type=int, default=0)
    p.add_argument("--close-port", type=int, default=0)
    p.add_argument("--dropped-port", type=int, default=0)
    p.add_argument("--backlog", type=int, default=4096)
    p.add_argument("--established", type=int, default=0)
    p.add_argument("--fin-wait2", type=int, default=0)
    p.add_argument("--time-wait", type=int, default=0)
    p.add_argument("--syn-sent", type=int, default=0)
    p.add_argument("--hold", type=float, default=120)
    p.add_argument("--deadline", type=float, default=60)
    p.add_argument("--name", default="")
    args = p.parse_args()
    for n in (args.established, args.fin_wait2, args.time_wait, args.syn_sent):
        if n < 0 or n > 20000:
            sys.exit("tcpstate_sockets: counts must be 0..20000 per process")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    raise_nofile()
    set_comm(args.name)
    if args.role == "server":
        run_server(args)
    else:
        run_client(args)


if __name__ == "__main__":
    main()
