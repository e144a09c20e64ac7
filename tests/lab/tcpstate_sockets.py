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
import selectors
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


def hold(args, sockets, serve=None):
    """Prints READY, then waits until stdin closes, --hold passes or SIGTERM; serve(timeout)
    (the server's event loop) runs in the meantime."""
    print("READY %d" % os.getpid(), flush=True)
    end = time.monotonic() + args.hold
    stdin = selectors.DefaultSelector()
    stdin.register(sys.stdin.fileno(), selectors.EVENT_READ)
    while time.monotonic() < end:
        if serve:
            serve(0.05)
        if stdin.select(0 if serve else 0.2):
            if not os.read(sys.stdin.fileno(), 4096):
                break
    for s in sockets:
        try:
            s.close()
        except OSError:
            pass


def run_server(args):
    fam = family_of(args.bind)
    sel = selectors.DefaultSelector()
    listeners = []
    for port in (args.hold_port, args.close_port):
        if not port:
            continue
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((args.bind, port))
        ls.listen(args.backlog)
        ls.setblocking(False)
        listeners.append(ls)
        sel.register(ls, selectors.EVENT_READ, "close-listener" if port == args.close_port else "hold-listener")
    held = []

    def serve(timeout):
        # Accept what is pending; close the close-port connections whose peer sent FIN.
        for key, _ in sel.select(timeout):
            if key.data.endswith("listener"):
                for _ in range(1000):
                    try:
                        conn, _ = key.fileobj.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as e:
                        if e.errno in (errno.EMFILE, errno.ENFILE):
                            break
                        raise
                    conn.setblocking(False)
                    if key.data == "close-listener":
                        sel.register(conn, selectors.EVENT_READ, "closer")
                    else:
                        held.append(conn)
            else:
                conn = key.fileobj
                try:
                    data = conn.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(conn)
                    conn.close()

    hold(args, listeners + held, serve)


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


TCP_FIN_WAIT2 = 5  # include/net/tcp_states.h


def wait_for_state(socks, state, deadline):
    """READY must mean the sockets are where the caller counts them: a half-closed socket is
    FIN_WAIT1 until the server's ACK comes, which under load (CI) outlasted READY and a test's
    first snapshot, and it moved to FIN_WAIT2 before the second."""
    for s in socks:
        while s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] != state:
            if time.monotonic() > deadline:
                sys.exit("tcpstate_sockets: deadline passed waiting for state %d" % state)
            time.sleep(0.005)


def run_client(args):
    fam = family_of(args.server)
    deadline = time.monotonic() + args.deadline
    keep = []
    keep += connect_all(fam, (args.server, args.hold_port), args.established, deadline)
    half = connect_all(fam, (args.server, args.hold_port), args.fin_wait2, deadline)
    for s in half:
        s.shutdown(socket.SHUT_WR)
    wait_for_state(half, TCP_FIN_WAIT2, deadline)
    keep += half
    if args.fast_time_wait:
        # Close at once and move on: each socket reaches TIME_WAIT when the server's FIN comes.
        for _ in range(args.time_wait):
            if time.monotonic() > deadline:
                sys.exit("tcpstate_sockets: deadline passed while connecting")
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.connect((args.server, args.close_port))
            s.close()
        args.time_wait = 0
    # In batches, so that tens of thousands fit under the open-file limit.
    left = args.time_wait
    while left > 0:
        batch = connect_all(fam, (args.server, args.close_port), min(left, 2000), deadline)
        left -= len(batch)
        for s in batch:
            s.shutdown(socket.SHUT_WR)
        # Wait for the server's FIN on each, then close: we were the active closer -> TIME_WAIT.
        for s in batch:
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
    p.add_argument("--fast-time-wait", action="store_true",
                   help="--time-wait without waiting for each server FIN (READY comes before all are in TIME_WAIT)")
    p.add_argument("--hold", type=float, default=120)
    p.add_argument("--deadline", type=float, default=60)
    p.add_argument("--name", default="")
    args = p.parse_args()
    # Held sockets are open files (the limit is ~20,000); TIME_WAIT ones are not.
    for n in (args.established, args.fin_wait2, args.syn_sent):
        if n < 0 or n > 20000:
            sys.exit("tcpstate_sockets: held socket counts must be 0..20000 per process")
    if not 0 <= args.time_wait <= 60000:
        sys.exit("tcpstate_sockets: --time-wait must be 0..60000 per process")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    raise_nofile()
    set_comm(args.name)
    if args.role == "server":
        run_server(args)
    else:
        run_client(args)


if __name__ == "__main__":
    main()
