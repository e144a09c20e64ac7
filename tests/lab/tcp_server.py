#!/usr/bin/env python3
"""A small real TCP server for the lab, with behaviour modes that shape how connections end.

  hold          read and discard; on EOF wait --close-delay-ms, then close (clean 4-way close)
  close-now     read and discard; on EOF close at once
  banner-close  send the banner, close at once (server closes first)
  banner-reset  send the banner, then close with SO_LINGER 0: an RST, no FIN (an abortive close)
  http          read a request up to a blank line, answer HTTP/1.0 200, close
  never-close   read and discard, never close (CLOSE_WAIT once the peer closes)
  echo          send back what arrives; close on EOF
  banner-hold   --banner-delay-ms after accept send the banner, then never close (like sshd
                waiting for the client's banner)
  close-after   --close-delay-ms after accept close (the server ends the connection on its own)
  reset-after   --close-delay-ms after accept close with SO_LINGER 0: an RST of its own (an
                application that aborts idle connections, HAProxy's option nolinger)

Single-threaded (selectors). Prints "listening" on stdout once the socket listens; stops on
SIGTERM/SIGINT or after --max-seconds.
"""
import argparse
import heapq
import selectors
import signal
import socket
import struct
import sys
import time

MODES = ("hold", "close-now", "banner-close", "banner-reset", "http", "never-close", "echo", "banner-hold", "close-after",
         "reset-after")
HTTP_BODY = b"tcpkit lab\n"
HTTP_RESPONSE = (b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                 b"Connection: close\r\n\r\n%s" % (len(HTTP_BODY), HTTP_BODY))
MAX_HTTP_REQUEST = 64 * 1024  # a request that never ends is answered anyway at this size


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mode", choices=MODES, default="hold")
    p.add_argument("--family", choices=("both", "v4", "v6"), default="both")
    p.add_argument("--bind", default=None, help="address to bind (default: any of the family)")
    p.add_argument("--banner-hex", default="", help="banner bytes for banner-close, in hex")
    p.add_argument("--close-delay-ms", type=float, default=50.0)
    p.add_argument("--banner-delay-ms", type=float, default=0.0)
    p.add_argument("--backlog", type=int, default=128)
    p.add_argument("--max-seconds", type=float, default=3600.0)
    a = p.parse_args(argv)
    if not 0 <= a.port <= 65535 or a.close_delay_ms < 0 or a.banner_delay_ms < 0 or a.max_seconds <= 0 or a.backlog < 1:
        p.error("out-of-range value")
    try:
        a.banner = bytes.fromhex(a.banner_hex)
    except ValueError:
        p.error("--banner-hex is not hex")
    return a


def make_listener(args):
    if args.family == "v4":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        host = args.bind or "0.0.0.0"
    else:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        # "both" takes v4 too, as v4-mapped addresses.
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if args.family == "v6" else 0)
        host = args.bind or "::"
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, args.port))
    s.listen(args.backlog)
    s.setblocking(False)
    return s


class Server:
    def __init__(self, args):
        self.args = args
        self.sel = selectors.DefaultSelector()
        self.listener = make_listener(args)
        self.sel.register(self.listener, selectors.EVENT_READ, None)
        self.timers = []  # heap of (due, seq, sock, action): delayed closes and banners
        self.seq = 0
        self.conns = {}   # sock -> per-connection state (bytearray of input / pending output)
        self.kept = []    # never-close sockets whose peer has gone: held open on purpose

    def accept(self):
        for _ in range(64):  # bounded burst per wake-up
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # e.g. ECONNABORTED: the peer gave up before we got to it
            conn.setblocking(False)
            if self.args.mode in ("banner-close", "banner-reset"):
                try:
                    conn.send(self.args.banner)
                    if self.args.mode == "banner-reset":
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
                conn.close()
                continue
            self.conns[conn] = {"in": bytearray(), "out": bytearray()}
            self.sel.register(conn, selectors.EVENT_READ, "conn")
            if self.args.mode == "banner-hold":
                self.later(self.args.banner_delay_ms, conn, "banner")
            elif self.args.mode in ("close-after", "reset-after"):
                self.later(self.args.close_delay_ms, conn, "close")

    def later(self, delay_ms, conn, action):
        self.seq += 1
        heapq.heappush(self.timers, (time.monotonic() + delay_ms / 1000.0, self.seq, conn, action))

    def on_timer(self, conn, action):
        if conn.fileno() < 0:
            return  # closed meanwhile
        if action == "banner":
            try:
                conn.send(self.args.banner)
            except OSError:
                pass
        else:
            if self.args.mode == "reset-after":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close(conn)

    def close(self, conn):
        if conn in self.conns:
            del self.conns[conn]
            self.sel.unregister(conn)
        conn.close()

    def on_eof(self, conn):
        mode = self.args.mode
        if mode == "hold" and self.args.close_delay_ms > 0:
            self.sel.unregister(conn)  # nothing more to read: just wait, then close
            del self.conns[conn]
            self.later(self.args.close_delay_ms, conn, "close")
        elif mode in ("never-close", "banner-hold"):
            self.sel.unregister(conn)
            del self.conns[conn]
            self.kept.append(conn)
        elif mode == "echo" and self.conns[conn]["out"]:
            self.conns[conn]["eof"] = True
            self.sel.modify(conn, selectors.EVENT_WRITE, "conn")
        elif mode == "http":
            self.answer_http(conn)
        else:
            self.close(conn)

    def answer_http(self, conn):
        try:
            conn.send(HTTP_RESPONSE)
        except OSError:
            pass
        self.close(conn)

    def on_readable(self, conn):
        try:
            data = conn.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # RST from the peer
            self.close(conn)
            return
        if not data:
            self.on_eof(conn)
            return
        state = self.conns[conn]
        if self.args.mode == "http":
            state["in"] += data
            if b"\r\n\r\n" in state["in"] or len(state["in"]) > MAX_HTTP_REQUEST:
                self.answer_http(conn)
        elif self.args.mode == "echo":
            state["out"] += data
            self.flush(conn)

    def flush(self, conn):
        state = self.conns[conn]
        try:
            sent = conn.send(state["out"])
            del state["out"][:sent]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self.close(conn)
            return
        if state["out"]:
            # Stop reading until the peer drains what we owe it: bounded memory.
            self.sel.modify(conn, selectors.EVENT_WRITE, "conn")
        elif state.get("eof"):
            self.close(conn)
        else:
            self.sel.modify(conn, selectors.EVENT_READ, "conn")

    def run(self):
        deadline = time.monotonic() + self.args.max_seconds
        while True:
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, _, conn, action = heapq.heappop(self.timers)
                self.on_timer(conn, action)
            if now >= deadline:
                return
            wait = deadline - now
            if self.timers:
                wait = min(wait, self.timers[0][0] - now)
            for key, events in self.sel.select(timeout=min(wait, 1.0)):
                if key.data is None:
                    self.accept()
                elif key.fileobj in self.conns:
                    if events & selectors.EVENT_WRITE:
                        self.flush(key.fileobj)
                    else:
                        self.on_readable(key.fileobj)


def main(argv):
    args = parse_args(argv)
    # SIGTERM ends the loop through SystemExit, so sockets close normally.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server = Server(args)
    except OSError as e:
        print(f"tcp_server: cannot listen on port {args.port}: {e}", file=sys.stderr)
        return 4
    print("listening", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
