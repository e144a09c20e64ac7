"""tcpstate follow against the real kernel in lab namespaces: connections with known ends (fixed
client ports) make known state changes, which the followers in the client and server
namespaces must report, connection by connection, in order; the inferred TIME_WAIT; and
nothing from another namespace. Sequences are asserted, never counts at high rates."""
import json
import os
import select
import signal
import subprocess
import sys
import time
import warnings

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
import lab  # noqa: E402

SERVER_PORT = 8080
CLOSED_PORT = 9  # nothing listens there: the server's kernel answers RST
# Client ports, one per scenario, so each connection is found by its local port.
GRACEFUL_V4, GRACEFUL_V6, ABORT_V4, REFUSED_V4, REFUSED_V6, OTHER_NS = 41001, 41002, 41003, 41004, 41005, 41006

CLIENT_SCRIPT = r"""
import socket, struct, sys, time
v4, v6, port, closed = %(v4)r, %(v6)r, %(port)d, %(closed)d
def conn(family, server, sport, dport):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0" if family == socket.AF_INET else "::", sport))
    s.settimeout(5)
    s.connect((server, dport))
    return s
for family, server, sport in ((socket.AF_INET, v4, %(g4)d), (socket.AF_INET6, v6, %(g6)d)):
    s = conn(family, server, sport, port)
    s.sendall(b"hello")
    time.sleep(0.05)
    s.close()                      # the client closes first: FIN_WAIT1, FIN_WAIT2, TIME_WAIT
s = conn(socket.AF_INET, v4, %(ab)d, port)
time.sleep(0.05)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()                          # linger 0: an RST, ESTABLISHED -> CLOSE at both ends
for family, server, sport in ((socket.AF_INET, v4, %(r4)d), (socket.AF_INET6, v6, %(r6)d)):
    try:
        conn(family, server, sport, closed)
        sys.exit("connected to the closed port")
    except ConnectionRefusedError:
        pass
time.sleep(0.5)                    # the servers' delayed closes and the TIME_WAIT lookups
print("DONE", flush=True)
"""


def client_script(L):
    return CLIENT_SCRIPT % dict(v4=L.server_v4, v6=L.server_v6, port=SERVER_PORT, closed=CLOSED_PORT, g4=GRACEFUL_V4,
                                g6=GRACEFUL_V6, ab=ABORT_V4, r4=REFUSED_V4, r6=REFUSED_V6)

# Traffic inside the server namespace alone (over its loopback): the client's follower must not see it.
OTHER_NS_SCRIPT = r"""
import socket
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
c = socket.socket(); c.bind(("127.0.0.1", %d)); c.connect(l.getsockname())
a, _ = l.accept(); c.close(); a.close(); l.close()
print("DONE", flush=True)
""" % OTHER_NS


def start_follower(argv, wrap_ns=None):
    """Starts a follower and waits until it says it is attached (its stderr line)."""
    cmd = (["ip", "netns", "exec", wrap_ns] if wrap_ns else []) + argv
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready, _, _ = select.select([proc.stderr], [], [], 20)
    line = proc.stderr.readline() if ready else ""
    if "following TCP state changes" not in line:
        proc.kill()
        out, err = proc.communicate(timeout=10)
        pytest.fail(f"tcpstate follow did not start (exit {proc.returncode}): {line}{err[-2000:]}")
    # The namespace it names is the one followed (with --netns it said "this network namespace").
    if "--netns" in argv:
        assert f"in network namespace {argv[argv.index('--netns') + 1]} (" in line, line
    else:
        assert "in this network namespace (" in line, line
    return proc


def stop_follower(proc):
    """Ctrl-C, as a user would: the follower ends with its summary and exit 0."""
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    records = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert records and records[-1]["type"] == "summary", out[-2000:]
    return records[:-1], records[-1], err


def path(transitions, local_port, remote_port=None):
    """The (old, new) steps of the connection with these ports, in order, and its records. By
    ports, not by the "socket" id: the kernel reuses a freed socket's memory, and an inferred
    TIME_WAIT is shown after changes of a newer connection that may hold the same id."""
    assert all(t["type"] == "transition" for t in transitions)
    found = [t for t in transitions
             if t["local_port"] == local_port and (remote_port is None or t["remote_port"] == remote_port)]
    assert found, f"no changes with local port {local_port}"
    assert len({t["socket"] for t in found}) == 1, found
    return [(t["old_state"], t["new_state"]) for t in found], found


# Now and then the kernel reports neither FIN_WAIT1 -> FIN_WAIT2 nor a client socket's end (see
# path gaps in tcpstate(1)): a CI run lost 41001's on a quiet lab. Such a run is reported
# (path_gaps, DEGRADED) but cannot show the exact paths asserted here, so it runs again.
KERNEL_SKIP_ATTEMPTS = 3


def kernel_skipped(attempt, *summaries):
    """True when a follower counted a path gap and another attempt is left (said, not silent)."""
    gaps = [s.get("path_gaps", 0) for s in summaries]
    if not any(gaps) or attempt == KERNEL_SKIP_ATTEMPTS:
        return False
    warnings.warn(f"attempt {attempt}: the kernel left changes unreported (path_gaps {gaps}); running again")
    return True


@pytest.fixture(scope="module")
def followed():
    """One lab, one run of the scenarios, followed from both namespaces."""
    for attempt in range(1, KERNEL_SKIP_ATTEMPTS + 1):
        with lab.Lab() as L:
            server = L.start_server(SERVER_PORT, mode="hold", family="both", close_delay_ms=50)
            tcpstate = L.tool("tcpstate")
            # The client's namespace by --netns (entered by tcpstate), the server's by ip netns
            # exec (the default: the namespace tcpstate runs in).
            client_f = start_follower([tcpstate, "follow", "--json", "--netns", L.client_ns])
            server_f = start_follower([tcpstate, "follow", "--json"], wrap_ns=L.server_ns)
            r = L.run_python(L.client_ns, client_script(L), timeout=60)
            assert "DONE" in r.stdout, r.stderr
            other = L.run_python(L.server_ns, OTHER_NS_SCRIPT, timeout=30)
            assert "DONE" in other.stdout, other.stderr
            time.sleep(0.3)
            client = stop_follower(client_f)
            srv = stop_follower(server_f)
            server.terminate()
            if kernel_skipped(attempt, client[1], srv[1]):
                continue
            yield L, client, srv
            return


def test_client_four_way_close_ends_in_inferred_time_wait(followed):
    _, (transitions, _, _), _ = followed
    for port in (GRACEFUL_V4, GRACEFUL_V6):
        steps, records = path(transitions, port)
        assert steps == [("CLOSE", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED"), ("ESTABLISHED", "FIN_WAIT1"),
                         ("FIN_WAIT1", "FIN_WAIT2"), ("FIN_WAIT2", "TIME_WAIT")], steps
        assert [r["inferred"] for r in records] == [False] * 4 + [True]
        last = records[-1]
        assert "TIME_WAIT socket" in last["inferred_from"]
        assert 0 < last["time_wait_left_ms"] <= 60000
        # The server closed 50 ms after the client's FIN: FIN_WAIT1 and FIN_WAIT2 together lasted
        # at least that long (how it splits depends on when the FIN's ACK came: delayed ACKs).
        closing_us = records[-2]["in_old_state_us"] + last["in_old_state_us"]
        assert 45_000 <= closing_us < 2_000_000, records
        assert records[1]["in_old_state_us"] >= 0
    assert path(transitions, GRACEFUL_V4)[1][0]["family"] == "ipv4"
    assert path(transitions, GRACEFUL_V6)[1][0]["family"] == "ipv6"


def test_server_side_passive_close(followed):
    _, _, (transitions, _, _) = followed
    for port in (GRACEFUL_V4, GRACEFUL_V6):
        steps, records = path(transitions, SERVER_PORT, remote_port=port)
        # The child socket appears as it leaves SYN_RECV's request socket (see the man page).
        assert steps[0][1] == "SYN_RECV", steps
        assert steps[1:] == [("SYN_RECV", "ESTABLISHED"), ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
                             ("LAST_ACK", "CLOSE")], steps
        assert not any(r["inferred"] for r in records)


def test_rst_abort_closes_both_ends(followed):
    _, (client, _, _), (server, _, _) = followed
    steps, _ = path(client, ABORT_V4)
    assert steps == [("CLOSE", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED"), ("ESTABLISHED", "CLOSE")], steps
    steps, _ = path(server, SERVER_PORT, remote_port=ABORT_V4)
    assert steps[-2:] == [("SYN_RECV", "ESTABLISHED"), ("ESTABLISHED", "CLOSE")], steps


def test_refused_port_v4_and_v6(followed):
    _, (client, _, _), (server, _, _) = followed
    for port, family in ((REFUSED_V4, "ipv4"), (REFUSED_V6, "ipv6")):
        steps, records = path(client, port)
        assert steps == [("CLOSE", "SYN_SENT"), ("SYN_SENT", "CLOSE")], steps
        assert records[0]["family"] == family and records[0]["remote_port"] == CLOSED_PORT
        assert not any(t["remote_port"] == port or t["local_port"] == port for t in server)


def test_other_namespaces_are_not_shown(followed):
    L, (client, _, _), (server, _, _) = followed
    # The server namespace's own loopback connection: seen there, never by the client's follower.
    assert not any(OTHER_NS in (t["local_port"], t["remote_port"]) for t in client)
    steps, _ = path(server, OTHER_NS)
    assert steps[-1] == ("FIN_WAIT2", "TIME_WAIT") or steps[-1][1] in ("TIME_WAIT", "CLOSE"), steps
    lab_addresses = {L.client_v4, L.server_v4, L.client_v6, L.server_v6, "0.0.0.0", "::"}
    assert {t["local_address"] for t in client} <= lab_addresses


def test_summary_counts_and_no_losses(followed):
    _, (client, csum, cerr), (server, ssum, _) = followed
    for transitions, summary in ((client, csum), (server, ssum)):
        assert summary["view"] == "follow" and summary["attachment"] in ("tp_btf", "tracepoint")
        assert summary["transitions"] == len(transitions)
        assert summary["inferred"] == sum(t["inferred"] for t in transitions)
        assert summary["ring_drops"] == 0 and summary["degraded"] is False
        assert summary["recursion_misses"] >= 0 and summary["interrupted"] is True
    assert csum["inferred"] >= 2  # the two graceful closes
    assert "following TCP state changes" in cerr or cerr == ""


def test_text_filters_and_bounded_run(tool):
    """Text output with -4, --dport and -c: stops by itself after COUNT lines and a summary."""
    with lab.Lab() as L:
        server = L.start_server(SERVER_PORT, mode="hold", family="both", close_delay_ms=50)
        proc = start_follower([tool("tcpstate"), "follow", "-4", "--dport", str(SERVER_PORT), "-c", "3",
                               "--duration", "20s"], wrap_ns=L.client_ns)
        r = L.run_python(L.client_ns, client_script(L), timeout=60)
        assert "DONE" in r.stdout, r.stderr
        out, err = proc.communicate(timeout=30)
        server.terminate()
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 4, out
    for line in lines[:3]:
        assert f"-> {L.server_v4}:{SERVER_PORT}" in line and " ipv4 " in line, line
    assert "SYN_SENT -> ESTABLISHED" in lines[1] and "ESTABLISHED -> FIN_WAIT1" in lines[2]
    assert lines[3].startswith("follow: 3 transitions shown") and "0 ring-buffer drops" in lines[3], lines[3]


def test_state_filter_and_duration(tool):
    """--state time-wait shows only the inferred changes; --duration ends the run by itself."""
    for attempt in range(1, KERNEL_SKIP_ATTEMPTS + 1):
        with lab.Lab() as L:
            # A peer's RST must not end a TIME_WAIT before it is looked up (see test_tcpstate).
            L.sysctl(L.client_ns, "net.ipv4.tcp_rfc1337", 1)
            server = L.start_server(SERVER_PORT, mode="hold", family="both", close_delay_ms=50)
            proc = start_follower([tool("tcpstate"), "follow", "--json", "--state", "time-wait", "--duration", "4s"],
                                  wrap_ns=L.client_ns)
            r = L.run_python(L.client_ns, client_script(L), timeout=60)
            assert "DONE" in r.stdout, r.stderr
            out, err = proc.communicate(timeout=30)
            server.terminate()
        assert proc.returncode == 0, err
        records = [json.loads(line) for line in out.splitlines()]
        # CI once lost 41001's TIME_WAIT here, the run's summary unseen: a path gap (the kernel
        # left 41001's close unreported) runs again, as the fixture above does.
        if not kernel_skipped(attempt, records[-1]):
            break
    transitions = records[:-1]
    assert sorted(t["local_port"] for t in transitions) == [GRACEFUL_V4, GRACEFUL_V6], records
    assert all(t["new_state"] == "TIME_WAIT" and t["inferred"] for t in transitions)
    assert records[-1]["type"] == "summary" and "interrupted" not in records[-1]
    assert 3_900_000 <= records[-1]["duration_us"] < 10_000_000


def test_without_cap_bpf_exit_3_with_the_setcap_line(tool):
    """As nobody with no capabilities: exit 3, one line that names the setcap command."""
    r = subprocess.run(["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups",
                        "--bounding-set", "-all", "--inh-caps", "-all", "--", tool("tcpstate"), "follow", "-c", "1"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 3, r.stderr
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1 and "setcap cap_bpf,cap_perfmon+ep $(command -v tcpstate)" in r.stderr


BURST_SCRIPT = r"""
import socket
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(128)
for _ in range(%d):
    c = socket.create_connection(l.getsockname()); a, _ = l.accept(); c.close(); a.close()
l.close()
print("DONE", flush=True)
"""


def test_changes_in_the_ring_at_ctrl_c_are_shown_not_dropped():
    # The follower is stopped (SIGSTOP) while 40 connections open and close: their changes wait
    # in the ring. Ctrl-C is queued before it runs again, so its first act is to stop: what the
    # kernel delivered before the stop must still be shown (it was dropped unseen before).
    with lab.Lab(ipv6=False) as L:
        proc = start_follower([L.tool("tcpstate"), "follow", "--json"], wrap_ns=L.server_ns)
        proc.send_signal(signal.SIGSTOP)
        try:
            r = L.run_python(L.server_ns, BURST_SCRIPT % 40, timeout=60)
            assert "DONE" in r.stdout, r.stderr
            proc.send_signal(signal.SIGINT)
        finally:
            proc.send_signal(signal.SIGCONT)
        transitions, summary, _ = stop_follower(proc)
        starts = [t for t in transitions if (t["old_state"], t["new_state"]) == ("CLOSE", "SYN_SENT")]
        assert len(starts) == 40, (len(starts), summary)
        assert summary["ring_drops"] == 0 and summary["degraded"] is False


def test_a_kernel_without_btf_exits_4_naming_it(tool):
    """/sys/kernel/btf hidden in a private mount namespace: exit 4, one line that says no BTF."""
    r = subprocess.run(["unshare", "-m", "sh", "-c", 'mount -t tmpfs none /sys/kernel/btf && exec "$0" follow -c 1',
                        tool("tcpstate")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 4, r.stderr
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1 and "no BTF: /sys/kernel/btf/vmlinux is missing" in r.stderr, r.stderr


SIMULTANEOUS_SCRIPT = r"""
import socket, sys, time
role, host, port, at = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
if role == "server":
    l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((host, port)); l.listen(1)
    print("READY", flush=True)
    s, _ = l.accept()
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("0.0.0.0", 41010)); s.connect((host, port))
time.sleep(max(0.0, at - time.time()))
s.shutdown(socket.SHUT_WR)        # both at the same moment: the FINs cross on the 20 ms line
while s.recv(100): pass
time.sleep(0.3)
s.close()
print("DONE", flush=True)
"""


def test_simultaneous_close_goes_through_closing_at_both_ends():
    # Both ends send FIN at the same wall-clock moment; each FIN is 20 ms on the line, so each
    # end receives the other's FIN before the ACK of its own: FIN_WAIT1 -> CLOSING -> TIME_WAIT.
    with lab.Lab(delay_ms=20, ipv6=False) as L:
        client_f = start_follower([L.tool("tcpstate"), "follow", "--json", "--netns", L.client_ns])
        server_f = start_follower([L.tool("tcpstate"), "follow", "--json"], wrap_ns=L.server_ns)
        at = time.time() + 1.5
        server = L.popen_server([sys.executable, "-c", SIMULTANEOUS_SCRIPT, "server", L.server_v4, SERVER_PORT, at],
                                stdout=subprocess.PIPE, text=True)
        assert server.stdout.readline().strip() == "READY"
        r = L.run_python(L.client_ns, SIMULTANEOUS_SCRIPT.replace("sys.argv[1], sys.argv[2], int(sys.argv[3]), "
                                                                  "float(sys.argv[4])",
                                                                  f"'client', {L.server_v4!r}, {SERVER_PORT}, {at}"),
                         timeout=30)
        assert "DONE" in r.stdout, r.stderr
        assert server.stdout.readline().strip() == "DONE"
        time.sleep(0.3)
        client, _, _ = stop_follower(client_f)
        srv, _, _ = stop_follower(server_f)
    steps, records = path(client, 41010)
    assert steps[2:] == [("ESTABLISHED", "FIN_WAIT1"), ("FIN_WAIT1", "CLOSING"), ("CLOSING", "TIME_WAIT")], steps
    assert records[-1]["inferred"] is True
    server_steps, _ = path(srv, SERVER_PORT, 41010)
    assert server_steps[-3:] == [("ESTABLISHED", "FIN_WAIT1"), ("FIN_WAIT1", "CLOSING"), ("CLOSING", "TIME_WAIT")], \
        server_steps
