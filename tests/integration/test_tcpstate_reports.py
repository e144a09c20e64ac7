"""tcpstate's reports on both ends of a connection, against real servers in lab namespaces:
nginx closing first on HTTP/1.0 (TIME_WAIT on the server side: one row per client address and
service port, never per client port, and no ephemeral port in a Prometheus label), and a client
that leaks CLOSE_WAIT sockets (one row per remote service; unread data bytes equal to what the
server really sent, the FIN left out) read from all four sources."""
import json
import os
import re
import select
import subprocess
import sys
import time

import pytest
from test_tcpstate import start_helper

RANGE = (40000, 49999)  # ip_local_port_range in both lab namespaces
NGINX_PORT = 50080      # outside RANGE, inside the root namespace's default range


def jsonl(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def tcpstate_netns(L, ns, *args):
    """Runs tcpstate from the root namespace with --netns: the namespace's own port range applies."""
    r = subprocess.run([L.tool("tcpstate"), "--netns", ns, *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (args, r.stdout[-2000:], r.stderr[-2000:])
    return r.stdout


def set_range(L):
    for ns in (L.client_ns, L.server_ns):
        L.sysctl(ns, "net.ipv4.ip_local_port_range", f"{RANGE[0]} {RANGE[1]}")


def wait_for(predicate, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def ss_count(L, side, *filter_args):
    run = L.run_server if side == "server" else L.run_client
    return len([line for line in run(["ss", "-tanH", *filter_args]).stdout.splitlines() if line.strip()])


def start_nginx(L):
    return L.start_nginx(f"{L.server_v4}:{NGINX_PORT}", NGINX_PORT)


def http10_requests(L, count):
    """count HTTP/1.0 requests, one after the other: nginx closes first each time."""
    code = f"""
import socket, time
end = time.monotonic() + 60
for i in range({count}):
    assert time.monotonic() < end, "too slow"
    s = socket.create_connection(("{L.server_v4}", {NGINX_PORT}), timeout=5)
    s.sendall(b"GET / HTTP/1.0\\r\\nHost: lab\\r\\n\\r\\n")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    assert b" 200 " in data, data
    s.close()
print("done")
"""
    r = L.run_python(L.client_ns, code, timeout=90)
    assert r.returncode == 0 and "done" in r.stdout, r.stderr


def test_time_wait_on_a_server_is_grouped_per_client_and_service_port(lab):
    L = lab()
    set_range(L)
    nginx = start_nginx(L)
    http10_requests(L, 315)
    # A client port can come back while the server still holds its TIME_WAIT (the kernel then
    # reuses that TIME_WAIT for the new connection): count what is there.
    client_ports = {int(line.split()[-1].rsplit(":", 1)[1])
                    for line in L.run_server(["ss", "-tanH", "state", "time-wait"]).stdout.splitlines()}
    n = len(client_ports)
    assert n > 250 and all(RANGE[0] <= p <= RANGE[1] for p in client_ports), n

    def check(label):
        objs = jsonl(tcpstate_netns(L, L.server_ns, "time-wait", "--json"))
        groups = [o for o in objs if o["type"] == "time_wait_group"]
        assert len(groups) == 1, (label, groups[:3], len(groups))
        g = groups[0]
        assert (g["role"], g["local_address"], g["local_port"], g["remote_address"], g["time_wait"]) == \
            ("server", L.server_v4, NGINX_PORT, L.client_v4, n), label
        assert "remote_port" not in g and "ports_in_use" not in g, label
        assert objs[-1]["as_server"] == n and objs[-1]["as_client"] == 0, label
        assert (objs[-1]["ephemeral_low"], objs[-1]["ephemeral_high"]) == RANGE, label  # the namespace's range
        # Prometheus: one series for the group, and no label holds a client's port.
        prom = tcpstate_netns(L, L.server_ns, "time-wait", "--prometheus")
        series = [line for line in prom.splitlines() if line.startswith("tcpstate_time_wait_group_sockets{")]
        assert series == [f'tcpstate_time_wait_group_sockets{{role="server",local="{L.server_v4}",'
                          f'remote="{L.client_v4}",service_port="{NGINX_PORT}"}} {n}'], (label, series[:3])
        values = {int(v) for v in re.findall(r'="(\d+)"', prom)}
        assert not values & client_ports, label
        table = tcpstate_netns(L, L.server_ns, "time-wait")
        assert f"server  {L.server_v4}:{NGINX_PORT}" in table, table

    check("nginx listening")
    # Without the listener, its port still lies outside the namespace's ephemeral range.
    nginx.terminate()
    nginx.wait(timeout=10)
    assert ss_count(L, "server", "state", "listening") == 0
    check("nginx stopped")


LEAKER = r"""
import socket, sys, time
server, plain, with_data, leaks, data_leaks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
import ctypes
ctypes.CDLL(None).prctl(15, b"leaker", 0, 0, 0)
held = []
for port, n in ((plain, leaks), (with_data, data_leaks)):
    for _ in range(n):
        held.append(socket.create_connection((server, port), timeout=5))
# One more that reads the end of stream and still never closes.
eof = socket.create_connection((server, plain), timeout=5)
assert eof.recv(10) == b""
held.append(eof)
print("READY", flush=True)
sys.stdin.read()
"""

SERVER = r"""
import socket, sys, threading, time
host, plain, with_data, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def serve(port, payload):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(128)
    ls.settimeout(120)
    while True:
        c, _ = ls.accept()
        if payload:
            c.sendall(payload)
        c.close()
for port, payload in ((plain, b""), (with_data, b"x" * size)):
    threading.Thread(target=serve, args=(port, payload), daemon=True).start()
print("listening", flush=True)
time.sleep(300)
"""


def test_close_wait_on_a_leaking_client_counts_data_bytes_per_remote_service(lab):
    L = lab()
    set_range(L)
    plain, with_data, size, leaks, data_leaks = 7070, 7071, 1000, 40, 5
    server = L.popen_server([sys.executable, "-c", SERVER, L.server_v4, plain, with_data, size],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ready, _, _ = select.select([server.stdout], [], [], 10)
    assert ready and server.stdout.readline().startswith(b"listening"), server.stderr.read()
    client = L.popen_client([sys.executable, "-c", LEAKER, L.server_v4, plain, with_data, leaks, data_leaks],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ready, _, _ = select.select([client.stdout], [], [], 30)
    assert ready and client.stdout.readline().startswith(b"READY"), client.stderr.read()
    total = leaks + data_leaks + 1
    wait_for(lambda: ss_count(L, "client", "state", "close-wait") == total, 10, "CLOSE_WAIT on the client")

    want = {(L.server_v4, plain): (leaks + 1, 0, 1), (L.server_v4, with_data): (data_leaks, data_leaks * size, 0)}

    def rows(objs):
        return {(o["remote_address"], o["remote_port"]): (o["close_wait"], o["unread_bytes"], o["eof_read"])
                for o in objs if o["type"] == "close_wait"}

    objs = jsonl(tcpstate_netns(L, L.client_ns, "close-wait", "--json"))
    assert rows(objs) == want
    assert {(o["process"], o["role"]) for o in objs if o["type"] == "close_wait"} == {("leaker", "client")}
    assert objs[-1]["close_wait"] == total
    # The same from /proc, and from saved ss and netstat text: their Recv-Q counts the FIN too.
    assert rows(jsonl(tcpstate_netns(L, L.client_ns, "close-wait", "--json", "--source", "proc"))) == want
    for saved, flag in ((["ss", "-tanp"], "--from-ss"), (["netstat", "-tanp"], "--from-netstat")):
        text = L.run_client(saved).stdout
        r = L.run_client([L.tool("tcpstate"), flag, "-", "close-wait", "--json"], input=text)
        assert r.returncode == 0, r.stderr
        assert rows(jsonl(r.stdout)) == want, saved
    prom = tcpstate_netns(L, L.client_ns, "close-wait", "--prometheus")
    series = sorted(line for line in prom.splitlines() if line.startswith("tcpstate_close_wait_sockets{"))
    assert len(series) == 2 and all('role="client"' in s for s in series), series
    assert f'service_port="{plain}"' in series[0] and f'service_port="{with_data}"' in series[1]
    client.stdin.close()


FORKER = r"""
import os, socket, sys, time, ctypes
server, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ctypes.CDLL(None).prctl(15, b"holder", 0, 0, 0)
held = [socket.create_connection((server, port), timeout=5) for _ in range(n)]
child = os.fork()
if child == 0:
    ctypes.CDLL(None).prctl(15, b"inheritor", 0, 0, 0)
    time.sleep(120)
    os._exit(0)
print("READY", os.getpid(), child, flush=True)
sys.stdin.read()
os.kill(child, 9)
"""


def test_close_wait_names_every_process_that_holds_a_shared_socket(lab):
    # A child forked after the connections inherits them: the kernel frees each socket only when
    # both have closed it. Found: only the first holder was named.
    L = lab()
    set_range(L)
    port, n = 7072, 3
    server = L.popen_server([sys.executable, "-c", SERVER, L.server_v4, port, port + 1, 0],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ready, _, _ = select.select([server.stdout], [], [], 10)
    assert ready and server.stdout.readline().startswith(b"listening"), server.stderr.read()
    client = L.popen_client([sys.executable, "-c", FORKER, L.server_v4, port, n],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ready, _, _ = select.select([client.stdout], [], [], 30)
    assert ready, client.stderr.read()
    word, parent, child = client.stdout.readline().split()
    assert word == b"READY"
    parent, child = int(parent), int(child)
    wait_for(lambda: ss_count(L, "client", "state", "close-wait") == n, 10, "CLOSE_WAIT on the client")
    try:
        # In pid order: the parent first, unless the pids wrapped around between the two.
        (first, first_pid), (second, second_pid) = sorted([("holder", parent), ("inheritor", child)], key=lambda h: h[1])
        rows = [o for o in jsonl(tcpstate_netns(L, L.client_ns, "close-wait", "--json")) if o["type"] == "close_wait"]
        assert [(r["process"], r["pid"], r["close_wait"]) for r in rows] == [(first, first_pid, n)], rows
        assert rows[0]["shared_with"] == [{"process": second, "pid": second_pid}], rows
        text = tcpstate_netns(L, L.client_ns, "close-wait")
        assert f"{first},{second}  {first_pid},{second_pid}" in text and "shared (inherited across fork)" in text, text
        csv = tcpstate_netns(L, L.client_ns, "close-wait", "--csv").splitlines()
        assert csv[0].endswith(",shared_with") and csv[1].endswith(f",{second}[{second_pid}]"), csv
        # The same from saved `ss -tanp` text, whose users:(...) lists both.
        saved = L.run_client(["ss", "-tanp"]).stdout
        r = L.run_client([L.tool("tcpstate"), "--from-ss", "-", "close-wait", "--json"], input=saved)
        rows = [o for o in jsonl(r.stdout) if o["type"] == "close_wait"]
        assert [(o["pid"], o.get("shared_with")) for o in rows] == [(first_pid, [{"process": second, "pid": second_pid}])], \
            r.stdout
    finally:
        client.stdin.close()


def start_sockets(L, side, *args):
    return start_helper(L, side, list(args), timeout=30)


def test_time_wait_as_a_client_counts_the_ports_in_use_towards_each_service(lab):
    """The client rows' ports in use come from a second, bytecode-filtered sock_diag dump (local
    port ephemeral, remote port one of the client rows' services): it must count the open
    connections to that service and nothing else, as the unfiltered /proc source does."""
    L = lab()
    set_range(L)
    start_sockets(L, "server", "server", "--bind", "0.0.0.0", "--hold-port", 8080, "--close-port", 8081)
    start_sockets(L, "client", "client", "--server", L.server_v4, "--hold-port", 8080, "--close-port", 8081,
                  "--established", 7, "--time-wait", 6)
    start_sockets(L, "client", "client", "--server", L.server_v4, "--hold-port", 8081, "--established", 3)
    wait_for(lambda: ss_count(L, "client", "state", "time-wait") == 6, 10, "TIME_WAIT on the client")
    for source in ("netlink", "proc"):
        objs = jsonl(tcpstate_netns(L, L.client_ns, "time-wait", "--json", "--source", source))
        groups = [o for o in objs if o["type"] == "time_wait_group"]
        assert [(g["role"], g["remote_address"], g["remote_port"], g["time_wait"], g["ports_in_use"]) for g in groups] == \
            [("client", L.server_v4, 8081, 6, 9)], source
        assert groups[0]["ephemeral_ports"] == RANGE[1] - RANGE[0] + 1
    # --max on a state the view does not need is read in full.
    r = subprocess.run([L.tool("tcpstate"), "--netns", L.client_ns, "time-wait", "--max", "established=9"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "established" in r.stderr, (r.stdout, r.stderr)


def test_time_wait_of_ipv4_and_dual_stack_sockets_to_one_service_is_one_row(lab):
    """Found in the lab: 10 IPv4 and 10 IPv4-mapped IPv6 sockets (an AF_INET6 socket connected to
    ::ffff:a.b.c.d) open to one service, 5 + 5 more closed into TIME_WAIT, gave two rows of 5
    TIME_WAIT and 15 ports in use each. Both kinds take their ports from one space, so the answer
    is one row: 10 TIME_WAIT, 30 ports in use. The same from every source, saved ss text too."""
    L = lab()
    set_range(L)
    start_sockets(L, "server", "server", "--bind", "::", "--hold-port", 8080, "--close-port", 8081)
    for server in (L.server_v4, f"::ffff:{L.server_v4}"):
        start_sockets(L, "client", "client", "--server", server, "--hold-port", 8081, "--close-port", 8081,
                      "--established", 10, "--time-wait", 5)
    wait_for(lambda: ss_count(L, "client", "state", "time-wait") == 10, 10, "TIME_WAIT on the client")
    saved = os.path.join(L.tmpdir, "client-ss-tan.txt")
    with open(saved, "w") as f:
        f.write(L.run_client(["ss", "-tan"]).stdout)
    assert "[::ffff:" in open(saved).read()  # the dual-stack sockets are there as ss shows them
    for source in (["--source", "netlink"], ["--source", "proc"], ["--from", saved]):
        # Saved text is read in the client's namespace: its port range is the text's machine's.
        r = L.run_client([L.tool("tcpstate"), "time-wait", "--json", *source])
        assert r.returncode == 0, (source, r.stderr)
        objs = jsonl(r.stdout)
        groups = [o for o in objs if o["type"] == "time_wait_group"]
        assert [(g["role"], g["remote_address"], g["remote_port"], g["time_wait"], g["ports_in_use"]) for g in groups] == \
            [("client", L.server_v4, 8081, 10, 30)], (source, groups)


NFS_SERVER = r"""
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], 2049)); l.listen(8)
print("listening", flush=True)
while True:
    c, _ = l.accept(); c.sendall(b"0123456789"); c.close()
"""
NFS_CLIENT = r"""
import socket, sys
c = socket.socket(); c.bind(("0.0.0.0", 700)); c.connect((sys.argv[1], 2049))
l = socket.socket(); l.bind(("0.0.0.0", 2222)); l.listen(1)   # a listener of its own: ss -tan lists it
print("READY", flush=True)
sys.stdin.read()
"""


def test_a_client_bound_to_a_reserved_port_is_the_client(lab):
    # Found: an NFS-style client bound to port 700, connected to 2049 (both outside the range, one
    # connection), whose server closed: "python3 server :700" in close-wait. The host's listeners
    # are all known (netlink, /proc, ss -tan), and 700 is none of them.
    L = lab()
    set_range(L)
    server = L.popen_server([sys.executable, "-c", NFS_SERVER, L.server_v4], stdout=subprocess.PIPE)
    assert server.stdout.readline().startswith(b"listening")
    client = L.popen_client([sys.executable, "-c", NFS_CLIENT, L.server_v4], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    assert client.stdout.readline().startswith(b"READY")
    wait_for(lambda: ss_count(L, "client", "state", "close-wait") == 1, 10, "CLOSE_WAIT on the client")
    try:
        for source in (["--source", "netlink"], ["--source", "proc"]):
            objs = [o for o in jsonl(tcpstate_netns(L, L.client_ns, "close-wait", "--json", *source))
                    if o["type"] == "close_wait"]
            assert [(o["role"], o["remote_address"], o["remote_port"]) for o in objs] == \
                [("client", L.server_v4, 2049)], (source, objs)
        for saved, flag in ((["ss", "-tan"], "--from-ss"), (["netstat", "-tan"], "--from-netstat")):
            text = L.run_client(saved).stdout
            r = L.run_client([L.tool("tcpstate"), flag, "-", "close-wait", "--json"], input=text)
            assert r.returncode == 0, r.stderr
            objs = [o for o in jsonl(r.stdout) if o["type"] == "close_wait"]
            assert [(o["role"], o["remote_port"]) for o in objs] == [("client", 2049)], (saved, objs)
    finally:
        client.stdin.close()
        server.kill()
