"""tcpstate follow --life against the real kernel: how connections that did not end with a clean
close or an RST are told, each compared with what the client application and ss saw: a SYN and a
data segment answered by ICMP host unreachable (no RST either way), and a connection whose peer
never sent its FIN, still in FIN_WAIT2 when follow stops."""
import json
import os
import subprocess
import sys
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
import lab  # noqa: E402
from test_tcpstate_follow import KERNEL_SKIP_ATTEMPTS, SERVER_PORT, start_follower  # noqa: E402

REJECTED_PORT = 9301       # every SYN to it is answered with ICMP host unreachable
SYN_REJECTED, DATA_REJECTED = 41021, 41022  # client ports, one per connection

UNREACHABLE_CLIENT = r"""
import errno, socket, sys
server, port, rejected = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def bound(sport):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", sport))
    return s
# A blocking connect, so that the kernel ends the socket with the error (bounded by
# tcp_syn_retries). A non-blocking one reads the error (SO_ERROR clears it) and closes the
# socket itself: that CLOSE, the application's during the handshake, is an abort.
s = bound(%(syn)d)
try:
    s.connect((server, rejected)); sys.exit("connected to the rejected port")
except OSError as e:
    print("SYN", errno.errorcode[e.errno], flush=True)
s = bound(%(data)d)
s.connect((server, port))
s.settimeout(20)
s.sendall(b"x" * 200)          # answered by ICMP each time it is sent, until tcp_retries2 gives up
try:
    s.recv(100); sys.exit("the data went through")
except OSError as e:
    print("DATA", errno.errorcode[e.errno], flush=True)
""" % dict(syn=SYN_REJECTED, data=DATA_REJECTED)


def lives(out):
    records = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert records and records[-1]["type"] == "summary", out[-2000:]
    return {c["local_port"]: c for c in records[:-1] if c["type"] == "connection"}, records[-1]


def stop(proc):
    proc.send_signal(2)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return out


def test_an_icmp_error_ends_a_connection_unreachable_not_aborted(tool):
    with lab.Lab(ipv6=False) as L:
        server = L.start_server(SERVER_PORT, mode="hold", family="v4")
        # Bounded: one SYN retry, two data retransmissions (about 1 s and 2 s).
        L.sysctl(L.client_ns, "net.ipv4.tcp_syn_retries", 1)
        L.sysctl(L.client_ns, "net.ipv4.tcp_retries2", 2)
        # The handshake passes; the data segment (IP length > 100) is rejected, as a router would.
        L.nft(L.server_ns, "table inet tk_unreach {\n chain input { type filter hook input priority 0; policy accept;\n"
                           f"  tcp dport {REJECTED_PORT} reject with icmp type host-unreachable\n"
                           f"  tcp sport {DATA_REJECTED} ip length > 100 reject with icmp type host-unreachable\n }}\n}}\n")
        cap = L.capture(L.client_ns, L.client_if, "tcp")
        follower = start_follower([tool("tcpstate"), "follow", "--life", "--json"], wrap_ns=L.client_ns)
        summary_f = start_follower([tool("tcpstate"), "follow", "--summary", "--json"], wrap_ns=L.client_ns)
        r = L._exec(L.client_ns, [sys.executable, "-c", UNREACHABLE_CLIENT, L.server_v4, SERVER_PORT, REJECTED_PORT],
                    timeout=60)
        assert r.returncode == 0, r.stderr
        # What the application was told: no route to host, both times.
        assert r.stdout.split() == ["SYN", "EHOSTUNREACH", "DATA", "EHOSTUNREACH"], r.stdout
        time.sleep(0.3)
        connections, summary = lives(stop(follower))
        edges = {(e["from"], e["to"]): e for e in json.loads(stop(summary_f).splitlines()[0])["edges"]}
        linktype, frames = lab.read_pcap(cap.stop())
        server.terminate()
    # No RST either way on the wire: the edges that ended these connections must not say RST alone.
    flags = [seg[6] for seg in (lab.tcp_segment(linktype, f) for _, f in frames) if seg]
    assert flags and not [f for f in flags if f & 0x04], flags
    assert edges[("ESTABLISHED", "CLOSE")]["anomaly"] == "abort (RST or timeout)", edges
    assert edges[("SYN_SENT", "CLOSE")]["anomaly"] == "refused, unreachable or timed out", edges
    syn = connections[SYN_REJECTED]
    assert [s["state"] for s in syn["path"]] == ["SYN_SENT", "CLOSE"], syn
    data = connections[DATA_REJECTED]
    assert [s["state"] for s in data["path"]] == ["SYN_SENT", "ESTABLISHED", "CLOSE"], data
    for c in (syn, data):
        # Not "aborted" (an RST of ours): no RST was sent or received.
        assert c["ended"] == "unreachable" and c["error"] == "EHOSTUNREACH", json.dumps(c)
    assert summary["degraded"] is False, summary


STILL_FIN_WAIT2, ENDED = 41023, 41024  # client ports
CLOSING_PORT = 8081                    # a server that closes 50 ms after the client

CLOSE_FIRST_CLIENT = r"""
import socket, sys
server, never, closing = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for sport, dport in ((%(still)d, never), (%(ended)d, closing)):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", sport)); s.settimeout(10); s.connect((server, dport))
    s.sendall(b"bye"); s.close()   # the client closes first
print("DONE", flush=True)
""" % dict(still=STILL_FIN_WAIT2, ended=ENDED)


def client_states(L, sport):
    out = L.run_client(["ss", "-tanH", "sport", "=", f":{sport}"]).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def test_a_connection_still_in_fin_wait2_at_the_end_has_not_ended(tool):
    """The server never closes: the client's connection waits in FIN_WAIT2 (an orphan, its
    timewait socket) for a FIN that never comes, for 60 s. When follow stops, --life must not
    show it as ended ('FIN_WAIT2 0.02 ms -> CLOSE closed'): like any connection still open then,
    it has not ended. The plain view shows the kernel's CLOSE and says why."""
    with lab.Lab(ipv6=False) as L:
        never = L.start_server(SERVER_PORT, mode="never-close", family="v4")
        closing = L.start_server(CLOSING_PORT, mode="hold", family="v4", close_delay_ms=50)
        life = start_follower([tool("tcpstate"), "follow", "--life", "--json"], wrap_ns=L.client_ns)
        plain = start_follower([tool("tcpstate"), "follow", "--json"], wrap_ns=L.client_ns)
        r = L._exec(L.client_ns, [sys.executable, "-c", CLOSE_FIRST_CLIENT, L.server_v4, SERVER_PORT, CLOSING_PORT],
                    timeout=30)
        assert "DONE" in r.stdout, r.stderr
        end = time.monotonic() + 10
        while client_states(L, ENDED) != ["TIME-WAIT"] and time.monotonic() < end:
            time.sleep(0.05)
        time.sleep(0.3)
        connections, summary = lives(stop(life))
        plain_out = stop(plain)
        # ss after both stopped: the connection is still in FIN_WAIT2.
        assert client_states(L, STILL_FIN_WAIT2) == ["FIN-WAIT-2"]
        assert client_states(L, ENDED) == ["TIME-WAIT"]
        never.terminate()
        closing.terminate()
    assert STILL_FIN_WAIT2 not in connections, json.dumps(connections.get(STILL_FIN_WAIT2))
    ended = connections[ENDED]
    assert [s["state"] for s in ended["path"]][-1] == "TIME_WAIT" and ended["ended"] == "closed", ended
    assert summary["connections"] == len(connections) == 1, summary
    changes = [json.loads(line) for line in plain_out.splitlines()]
    last = [c for c in changes if c.get("local_port") == STILL_FIN_WAIT2][-1]
    assert (last["old_state"], last["new_state"]) == ("FIN_WAIT2", "CLOSE") and "still held" in last["inferred_from"], last


FIN_TIMED = (41031, 41032, 41033)  # client ports

FIN_TIMED_CLIENT = r"""
import socket, sys, time
server, port = sys.argv[1], int(sys.argv[2])
for sport in %(ports)r:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", sport)); s.settimeout(10); s.connect((server, port))
    s.sendall(b"x"); s.close()     # an orphan: FIN_WAIT2 in its timewait socket
    time.sleep(0.4)
print("DONE", flush=True)
""" % dict(ports=FIN_TIMED)


def fin_to_fin_ms(pcap, client_v4):
    """Per client port: ms from the client's FIN leaving to the server's FIN arriving."""
    linktype, frames = lab.read_pcap(pcap)
    ours, theirs = {}, {}
    for t_ns, frame in frames:
        seg = lab.tcp_segment(linktype, frame)
        if seg is None or not seg[6] & 0x01:  # FIN
            continue
        src, _, sport, dport = seg[0], seg[1], seg[2], seg[3]
        if src == bytes(map(int, client_v4.split("."))):
            ours.setdefault(sport, t_ns)
        else:
            theirs.setdefault(dport, t_ns)
    return {port: (theirs[port] - ours[port]) / 1e6 for port in ours if port in theirs}


def test_fin_wait2_ended_by_the_peers_fin_is_timed_from_the_fin_not_the_next_lookup(tool):
    """The client closes first and the server 50 ms after the end of stream. The client's
    FIN_WAIT2 lives in a timewait socket, which follow looks up every 100 ms until it is in
    TIME_WAIT; its timer (60 s from the FIN that started TIME_WAIT) dates that FIN. FIN_WAIT1 and
    FIN_WAIT2 together must last what the wire shows from our FIN to theirs, not until the next
    lookup (they were about 90 ms too long)."""
    with lab.Lab(ipv6=False) as L:
        server = L.start_server(SERVER_PORT, mode="hold", family="v4", close_delay_ms=50)
        cap = L.capture(L.client_ns, L.client_if, f"tcp port {SERVER_PORT}")
        life = start_follower([tool("tcpstate"), "follow", "--life", "--json"], wrap_ns=L.client_ns)
        r = L._exec(L.client_ns, [sys.executable, "-c", FIN_TIMED_CLIENT, L.server_v4, SERVER_PORT], timeout=30)
        assert "DONE" in r.stdout, r.stderr
        time.sleep(0.3)
        connections, _ = lives(stop(life))
        wire = fin_to_fin_ms(cap.stop(), L.client_v4)
        server.terminate()
    for port in FIN_TIMED:
        c = connections[port]
        assert [s["state"] for s in c["path"]] == ["SYN_SENT", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT"], c
        closing_ms = (c["path"][2]["us"] + c["path"][3]["us"]) / 1000
        # The timer counts in jiffies (4 ms at HZ=250) and sock_diag in ms.
        assert abs(closing_ms - wire[port]) < 12, (port, closing_ms, wire[port], c)


HALF_CLOSED = 41041  # client port

HALF_CLOSE_CLIENT = r"""
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", %d)); s.settimeout(10); s.connect((sys.argv[1], int(sys.argv[2])))
s.sendall(b"x"); s.shutdown(socket.SHUT_WR)  # FIN_WAIT1, then FIN_WAIT2 at the server's ACK
time.sleep(0.15)
s.close()   # the kernel reports FIN_WAIT2 -> FIN_WAIT2: the connection stays where it is
time.sleep(0.5)
print("DONE", flush=True)
""" % HALF_CLOSED


def test_close_after_shutdown_does_not_restart_the_time_in_fin_wait2(tool):
    """shutdown(SHUT_WR), then close() 150 ms later (busybox httpd, nginx's lingering close):
    the kernel reports FIN_WAIT2 -> FIN_WAIT2 at close(). The connection never left FIN_WAIT2,
    so the change that ends it (the server's FIN, 300 ms after ours) must count its time there
    from when it entered FIN_WAIT2, as the lines' own times show, not from the close()."""
    with lab.Lab(ipv6=False) as L:
        server = L.start_server(SERVER_PORT, mode="hold", family="v4", close_delay_ms=300)
        plain = start_follower([tool("tcpstate"), "follow", "--json", "--sport", str(HALF_CLOSED)],
                               wrap_ns=L.client_ns)
        r = L._exec(L.client_ns, [sys.executable, "-c", HALF_CLOSE_CLIENT, L.server_v4, SERVER_PORT], timeout=30)
        assert "DONE" in r.stdout, r.stderr
        out = stop(plain)
        server.terminate()
    changes = [json.loads(line) for line in out.splitlines()][:-1]
    steps = [(c["old_state"], c["new_state"]) for c in changes]
    assert steps[-3:] == [("FIN_WAIT1", "FIN_WAIT2"), ("FIN_WAIT2", "FIN_WAIT2"), ("FIN_WAIT2", "TIME_WAIT")], steps
    entered, again, left = changes[-3:]
    assert abs(again["in_old_state_us"] - (again["time_us"] - entered["time_us"])) < 3_000, (entered, again)
    in_fin_wait2_us = left["time_us"] - entered["time_us"]
    assert in_fin_wait2_us >= 140_000 and abs(left["in_old_state_us"] - in_fin_wait2_us) < 3_000, (entered, again, left)


ABORT_AFTER_SHUTDOWN = r"""
import socket, struct, sys, time
server, port, talker = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def conn(sport, to=port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", sport)); s.connect((server, to))
    return s
# shutdown(SHUT_WR), then close() with SO_LINGER 0: the kernel sends an RST from FIN_WAIT2.
a = conn(%(linger)d)
a.sendall(b"x"); a.shutdown(socket.SHUT_WR); time.sleep(0.2)
a.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); a.close()
# shutdown(SHUT_WR), then close() with the server's 6 bytes unread: an RST too.
b = conn(%(unread)d, talker)
b.shutdown(socket.SHUT_WR); time.sleep(0.2); b.close()
# Control: a graceful close, into TIME_WAIT.
c = conn(%(graceful)d)
c.sendall(b"x"); c.close()
time.sleep(0.6)
print("DONE", flush=True)
""" % dict(linger=41031, unread=41032, graceful=41033)


def test_our_rst_after_shutdown_is_aborted_not_closed(tool):
    # SO_LINGER 0 or unread data at close() after shutdown(): the kernel ends FIN_WAIT2 with an
    # RST of ours, and no timewait socket follows. It was "closed", a graceful close.
    with lab.Lab(ipv6=False) as L:
        server = L.start_server(SERVER_PORT, mode="hold", family="v4", close_delay_ms=400)
        talker = L.start_server(SERVER_PORT + 1, mode="banner-hold", family="v4", banner=b"hello\n")
        life = start_follower([tool("tcpstate"), "follow", "--life", "--json"], wrap_ns=L.client_ns)
        cap = L.capture(L.client_ns, L.client_if, "tcp")
        r = L._exec(L.client_ns, [sys.executable, "-c", ABORT_AFTER_SHUTDOWN, L.server_v4, SERVER_PORT,
                                  SERVER_PORT + 1], timeout=30)
        assert "DONE" in r.stdout, r.stderr
        out = stop(life)
        text = subprocess.run(["tcpdump", "-nn", "-r", cap.stop()], capture_output=True, text=True).stdout
        server.terminate()
        talker.terminate()
    got, _ = lives(out)
    for port in (41031, 41032):
        assert f".{port} > " in text and any(f".{port} > " in line and "Flags [R" in line for line in text.splitlines()), text
        assert got[port]["ended"] == "aborted", got[port]
        assert [step["state"] for step in got[port]["path"]][-2:] == ["FIN_WAIT2", "CLOSE"], got[port]
    assert got[41033]["ended"] == "closed" and got[41033]["path"][-1]["state"] == "TIME_WAIT", got[41033]


OLDER_HALF_CLOSED = 41041
SHUT_BEFORE_FOLLOW = r"""
import socket, sys, time
a = socket.socket(); a.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
a.bind(("0.0.0.0", %d)); a.connect((sys.argv[1], int(sys.argv[2]))); a.shutdown(socket.SHUT_WR)
time.sleep(0.3)
print("in FIN_WAIT2", flush=True)
sys.stdin.readline()
a.close()  # FIN_WAIT2 -> FIN_WAIT2 while followed; the server's FIN comes 1.5 s after ours
time.sleep(2.0)
""" % OLDER_HALF_CLOSED


def test_an_older_connections_time_in_fin_wait2_stays_unknown_after_close(tool):
    # Half-closed before follow started, closed while followed: the time in FIN_WAIT2 counted
    # from the close() (673 ms of about 1.5 s), where it is unknown.
    with lab.Lab(ipv6=False) as L:
        server = L.start_server(SERVER_PORT, mode="hold", family="v4", close_delay_ms=1500)
        client = L.popen_client([sys.executable, "-c", SHUT_BEFORE_FOLLOW, L.server_v4, str(SERVER_PORT)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert client.stdout.readline().strip() == "in FIN_WAIT2"
        plain = start_follower([tool("tcpstate"), "follow", "--json", "--sport", str(OLDER_HALF_CLOSED)],
                               wrap_ns=L.client_ns)
        life = start_follower([tool("tcpstate"), "follow", "--life", "--json"], wrap_ns=L.client_ns)
        time.sleep(0.2)
        client.stdin.write("\n")
        client.stdin.flush()
        client.wait(timeout=30)
        plain_out, life_out = stop(plain), stop(life)
        server.terminate()
    changes = [json.loads(line) for line in plain_out.splitlines()][:-1]
    assert [(c["old_state"], c["new_state"]) for c in changes] == [("FIN_WAIT2", "FIN_WAIT2"),
                                                                  ("FIN_WAIT2", "TIME_WAIT")], changes
    assert all("in_old_state_us" not in c for c in changes), changes
    got, _ = lives(life_out)
    path = got[OLDER_HALF_CLOSED]["path"]
    assert [step["state"] for step in path] == ["FIN_WAIT2", "TIME_WAIT"], path
    assert "us" not in path[0] and got[OLDER_HALF_CLOSED]["began_before_start"], got[OLDER_HALF_CLOSED]


NEVER_ACCEPT = r"""
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(20000); print("listening", flush=True); time.sleep(120)
"""

MANY_CLOSES = r"""
import socket, sys
server, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for _ in range(n):
    s = socket.socket(); s.settimeout(10); s.connect((server, port)); s.close()
print("DONE", flush=True)
"""


def test_past_the_fin_wait2_it_follows_no_close_is_said_to_have_ended(tool):
    """4200 connections closed by the client while the server never accepts: every one waits in
    FIN_WAIT2. follow looks after 4096 at once; the others were shown as the kernel's bare CLOSE,
    and --life said they ended "closed" (FINs both ways), with the run not degraded."""
    n = 4200
    for attempt in range(1, KERNEL_SKIP_ATTEMPTS + 1):
        with lab.Lab(ipv6=False) as L:
            L.sysctl(L.server_ns, "net.core.somaxconn", 20000)
            server = L.popen_server([sys.executable, "-c", NEVER_ACCEPT, str(SERVER_PORT)], stdout=subprocess.PIPE,
                                    text=True)
            assert server.stdout.readline().strip() == "listening"
            life = start_follower([tool("tcpstate"), "follow", "--life", "--json"], wrap_ns=L.client_ns)
            r = L._exec(L.client_ns, [sys.executable, "-c", MANY_CLOSES, L.server_v4, SERVER_PORT, n], timeout=60)
            assert "DONE" in r.stdout, r.stderr
            end = time.monotonic() + 20
            while time.monotonic() < end:
                held = L.run_client(["ss", "-tanH", "state", "fin-wait-2"]).stdout.count("\n")
                if held >= n:
                    break
                time.sleep(0.2)
            assert held == n, held
            time.sleep(0.5)
            life.send_signal(2)
            out, err = life.communicate(timeout=60)
            server.kill()
        connections, summary = lives(out)
        # Now and then the kernel reports no FIN_WAIT1 -> FIN_WAIT2 (a path gap, see
        # test_tcpstate_follow): such a close cannot be known held, and is shown with its change
        # missed, never "closed", and counted (seen in a CI rehearsal: 79 of 4200). Run again.
        assert all(c["changes_missed"] and c["ended"] == "end_not_seen" for c in connections.values()), \
            list(connections.values())[:3]
        lost = summary["path_gaps"] + summary["ring_drops"] + summary["recursion_misses"]
        assert len(connections) <= lost, summary
        if not connections or attempt == KERNEL_SKIP_ATTEMPTS:
            break
        warnings.warn(f"attempt {attempt}: {len(connections)} closes with a change lost ({lost} counted); running again")
    assert connections == {}, list(connections.values())[:3]
    # (One held may settle otherwise under load: a change the kernel never reported, say.)
    assert 0 < summary["fin_wait2_unfollowed"] <= n - 4096 and summary["degraded"], summary
    assert "closes in FIN_WAIT2 were not followed to their end" in err, err


THREE_CLOSES = r"""
import socket, sys
for _ in range(3):
    s = socket.socket(); s.settimeout(10); s.connect((sys.argv[1], int(sys.argv[2]))); s.close()
print("DONE", flush=True)
"""


def test_a_failed_lookup_is_no_rst_of_ours(tool):
    """With no file descriptor left for the sock_diag lookup (the fewest with which follow
    starts: `ulimit -n`), every graceful close read "aborted: an RST of ours ended it", exit 0,
    not a word of the failure. Now such a close is shown as the kernel said, TIME_WAIT or not
    unknown, not as an ended connection, and the run is degraded and says why."""
    with lab.Lab(ipv6=False) as L:
        server = L.start_server(SERVER_PORT, mode="close-now", family="v4")
        for limit in range(8, 64):
            cmd = f"ulimit -n {limit}; exec {tool('tcpstate')} follow --life --json"
            proc = subprocess.Popen(["ip", "netns", "exec", L.client_ns, "sh", "-c", cmd], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            first = proc.stderr.readline()
            if "following TCP state changes" in first:
                break
            proc.communicate(timeout=10)
            assert proc.returncode != 0 and first.count("\n") == 1, first  # one line, and an exit code
        else:
            raise AssertionError("follow never started")
        r = L._exec(L.client_ns, [sys.executable, "-c", THREE_CLOSES, L.server_v4, SERVER_PORT], timeout=30)
        assert "DONE" in r.stdout, r.stderr
        time.sleep(0.5)
        proc.send_signal(2)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        server.terminate()
    connections, summary = lives(out)
    assert summary["lookup_failures"] == 3 and summary["degraded"], (limit, summary)
    assert connections == {}, connections
    assert "3 lookups of a timewait socket failed" in err, err
