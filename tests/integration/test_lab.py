"""Tests of the lab itself: topology, firewall helpers, the delay line, AnyIP, cleanup."""
import collections
import errno
import json
import math
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import lab

# Runs inside a namespace: connect `count` times, report (errno or 0, milliseconds) per try.
CONNECT = textwrap.dedent("""
    import json, socket, sys, time
    host, port, count, timeout = json.loads(sys.argv[1])
    out = []
    for _ in range(count):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(timeout)
        t = time.monotonic()
        try:
            s.connect((host, port))
            out.append([0, (time.monotonic() - t) * 1000])
        except socket.timeout:
            out.append(["timeout", (time.monotonic() - t) * 1000])
        except OSError as e:
            out.append([e.errno, (time.monotonic() - t) * 1000])
        s.close()
    print(json.dumps(out))
""")


def connects(L, host, port, count=1, timeout=2.0):
    r = L.run_client([sys.executable, "-c", CONNECT, json.dumps([host, port, count, timeout])],
                     timeout=count * (timeout + 1) + 10)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def netns_names():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def gone(pid):
    return not os.path.exists(f"/proc/{pid}")


# ---- direct pair ----

def test_direct_pair_connects_v4_and_v6(make_lab):
    L = make_lab()
    assert {L.client_ns, L.server_ns} <= netns_names()
    assert L.middle_ns is None
    L.start_server(8080)
    for host in (L.server_v4, L.server_v6):
        assert connects(L, host, 8080)[0][0] == 0
        # Control: nothing listens on 8081, so the real peer answers with RST.
        assert connects(L, host, 8081)[0][0] == errno.ECONNREFUSED


def test_dropped_port_times_out(make_lab):
    L = make_lab()
    L.start_server(8080)
    L.start_server(8081)
    L.drop_ports([8081])
    for host in (L.server_v4, L.server_v6):
        assert connects(L, host, 8080)[0][0] == 0
        code, ms = connects(L, host, 8081, timeout=1.0)[0]
        assert code == "timeout" and ms >= 900


# The kernel's own mapping of each ICMP/ICMPv6 error to a connect() errno.
REJECTS = {
    "admin-prohibited": (errno.EHOSTUNREACH, errno.EACCES),
    "port-unreachable": (errno.ECONNREFUSED, errno.ECONNREFUSED),
    "host-unreachable": (errno.EHOSTUNREACH, errno.EHOSTUNREACH),
    "net-unreachable": (errno.ENETUNREACH, errno.ENETUNREACH),
}


def test_rejected_ports_give_icmp_errors(make_lab):
    L = make_lab()
    ports = {kind: 9001 + i for i, kind in enumerate(REJECTS)}
    for kind, port in ports.items():
        L.start_server(port)  # listening, so only the reject rule can explain an error
        L.reject_ports([port], icmp=kind)
    for kind, (want4, want6) in REJECTS.items():
        # v6: when the ICMP comes back while connect() still holds the socket (no delay
        # line), the kernel only keeps it as a soft error; the SYN retransmit at 1 s ends it.
        assert connects(L, L.server_v4, ports[kind], timeout=3.0)[0][0] == want4, kind
        assert connects(L, L.server_v6, ports[kind], timeout=3.0)[0][0] == want6, kind
    with pytest.raises(ValueError):
        L.reject_ports([9999], icmp="bogus")


# ---- delay line ----

def test_delay_line_adds_twice_the_delay(make_lab):
    direct = make_lab()
    direct.start_server(8080)
    base = [ms for code, ms in connects(direct, direct.server_v4, 8080, count=5) if code == 0]
    assert len(base) == 5 and max(base) < 10

    L = make_lab(delay_ms=20)
    assert L.middle_ns in netns_names() and L.delay_proc.poll() is None
    L.start_server(8080)
    for host in (L.server_v4, L.server_v6):
        times = [ms for code, ms in connects(L, host, 8080, count=5) if code == 0]
        assert len(times) == 5
        assert min(times) >= 40, times  # SYN and SYN/ACK each wait 20 ms
        assert sorted(times)[2] < 80, times


def test_delay_line_records_the_client_link_with_kernel_stamps(make_lab):
    L = make_lab(delay_ms=20, wire_pcap=True)
    L.start_server(8080)
    before = time.time_ns()
    assert [code for code, _ in connects(L, L.server_v4, 8080, count=3)] == [0, 0, 0]
    after = time.time_ns()
    time.sleep(0.2)  # the last frames are written after they leave
    wire = lab.wire_handshakes(L.wire_pcap, 8080)
    assert wire["linktype_name"] == "EN10MB"
    assert wire["syns"] == 3 and len(wire["handshakes"]) == 3, wire
    # CLOCK_REALTIME stamps from the kernel, each SYN/ACK 2 x 20 ms after its SYN.
    for h in wire["handshakes"]:
        assert before <= h["syn_ns"] <= h["synack_ns"] <= after, h
        assert 40_000_000 <= h["wire_rtt_ns"] < 60_000_000, h


def test_delay_line_total_loss_blocks_everything(make_lab):
    L = make_lab(delay_ms=0, loss=1.0)
    L.start_server(8080)
    for host in (L.server_v4, L.server_v6):
        # No frame crosses: neighbour resolution fails (EHOSTUNREACH) or the SYN times out.
        for code, _ in connects(L, host, 8080, count=2, timeout=0.5):
            assert code in ("timeout", errno.EHOSTUNREACH), code


UDP_SINK = textwrap.dedent("""
    import socket, sys
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(sys.argv[1])))
    print("ready", flush=True)
    s.settimeout(5.0)
    n = 0
    try:
        while True:
            s.recv(100)
            n += 1
            s.settimeout(3.0)  # the sender is done once 3 s pass in silence (a loaded machine)
    except socket.timeout:
        pass
    print(n, flush=True)
""")

UDP_SEND = textwrap.dedent("""
    import socket, sys, time
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(int(sys.argv[3])):
        s.sendto(b"x", (sys.argv[1], int(sys.argv[2])))
        time.sleep(0.001)
""")


def test_delay_line_drops_about_the_loss_share(make_lab):
    L = make_lab(delay_ms=1, loss=0.3, seed=7)
    # Address resolution through the lossy line could fail for a while and the kernel then drops
    # what it queued for the neighbour: that loss is not the line's (a CI run counted 98 of 400).
    L.pin_neighbours()
    sink = L.popen_server([sys.executable, "-c", UDP_SINK, "7000"], stdout=subprocess.PIPE,
                          text=True)
    assert sink.stdout.readline().strip() == "ready"
    sent = 400
    assert L.run_client([sys.executable, "-c", UDP_SEND, L.server_v4, "7000", sent]).returncode == 0
    got = int(sink.communicate(timeout=15)[0].strip())
    # Binomial(400, 0.7): mean 280, sd 9.2. Bounds at about 4 sd.
    assert 240 <= got <= 320, got


# Numbered datagrams: the sender sends 0..N-1 at a fixed spacing, the sink prints the numbers
# in the order they arrived. Only the client -> server direction of the line is measured.
SEQ_SINK = textwrap.dedent("""
    import json, socket, sys
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(sys.argv[1])))
    print("ready", flush=True)
    s.settimeout(5.0)
    got = []
    try:
        while True:
            got.append(int(s.recv(100)))
            s.settimeout(3.0)  # the sender is done once 3 s pass in silence (a loaded machine)
    except socket.timeout:
        pass
    print(json.dumps(got), flush=True)
""")

SEQ_SEND = textwrap.dedent("""
    import socket, sys, time
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.monotonic()
    for i in range(int(sys.argv[3])):
        s.sendto(str(i).encode(), (sys.argv[1], int(sys.argv[2])))
        # Absolute schedule: 1 ms apart on average whatever each sleep overshoots.
        time.sleep(max(0.0, start + (i + 1) * 0.001 - time.monotonic()))
""")


def numbered_datagrams(L, sent, stall_line=False):
    """Sends `sent` numbered datagrams client -> server; returns the numbers as they arrived.
    stall_line stops the delay line 30 ms of every 100 ms meanwhile (SIGSTOP), as a loaded
    machine deschedules it: it comes back to a backlog of frames queued in its sockets."""
    L.pin_neighbours()  # only the line's loss counts, not a lost address resolution's
    sink = L.popen_server([sys.executable, "-c", SEQ_SINK, "7001"], stdout=subprocess.PIPE, text=True)
    assert sink.stdout.readline().strip() == "ready"
    done = threading.Event()

    def stall():
        while not done.wait(0.07):
            os.kill(L.delay_proc.pid, signal.SIGSTOP)
            time.sleep(0.03)
            os.kill(L.delay_proc.pid, signal.SIGCONT)

    staller = threading.Thread(target=stall)
    if stall_line:
        staller.start()
    try:
        r = L.run_client([sys.executable, "-c", SEQ_SEND, L.server_v4, "7001", sent])
    finally:
        done.set()
        if stall_line:
            staller.join()
            os.kill(L.delay_proc.pid, signal.SIGCONT)
    assert r.returncode == 0, r.stderr
    return json.loads(sink.communicate(timeout=20)[0].strip())


def overtaken_by(got, sent):
    """{number: how many later numbers arrived before it} for each number overtaken at all."""
    position = {x: i for i, x in enumerate(got)}
    depth = {x: sum(1 for y in got[:position[x]] if y > x) for x in range(sent) if x in position}
    return {x: d for x, d in depth.items() if d}


def test_delay_line_burst_loss_drops_runs_of_n_at_the_loss_share(make_lab):
    sent, p, n = 1000, 0.2, 5
    bursty = numbered_datagrams(make_lab(delay_ms=1, loss=p, burst=n, seed=11, ipv6=False), sent)
    runs = lab.missing_runs(bursty, range(sent))
    lost = sum(runs)
    # Losses come in runs of n frames, so the count varies like a binomial of sent/n runs of
    # n: sd = sqrt(n p (1-p) / sent) in share (2.8 % here); the bound is 4 sd.
    sd = math.sqrt(n * p * (1 - p) / sent)
    assert abs(lost / sent - p) <= 4 * sd, (lost, runs)
    # Nearly all of the loss is in runs of at least n (a stray ARP frame inside a run may
    # shorten one); merged runs are longer and multiples of n.
    in_bursts = sum(r for r in runs if r >= n)
    assert in_bursts >= 0.9 * lost, runs
    assert sum(1 for r in runs if r % n == 0) >= 0.9 * len(runs), runs
    # Control: the same share lost independently almost never makes runs of n
    # (P(run >= 5) = p^4 = 0.16 % per loss).
    random_loss = numbered_datagrams(make_lab(delay_ms=1, loss=p, seed=11, ipv6=False), sent)
    control = lab.missing_runs(random_loss, range(sent))
    assert sum(r for r in control if r >= n) <= 0.1 * sum(control), control


def test_delay_line_reorder_holds_a_share_back_to_be_overtaken(make_lab):
    sent, q = 500, 0.2
    got = numbered_datagrams(make_lab(delay_ms=1, reorder=q, reorder_ms=5, seed=5, ipv6=False), sent)
    assert sorted(got) == list(range(sent))  # nothing lost, nothing doubled
    # A number is overtaken when a later one arrived before it: exactly the held ones (a frame
    # not held is due before every later frame). Binomial(500, 0.2): sd 8.9, bound 4 sd.
    overtaken = overtaken_by(got, sent)
    assert abs(len(overtaken) - sent * q) <= 4 * math.sqrt(sent * q * (1 - q)), len(overtaken)
    # Held 5 ms at 1 ms spacing: overtaken by about 5 frames, never by dozens (the bound leaves
    # room for a sender that falls behind its schedule and then catches up in a burst).
    assert max(overtaken.values()) <= 20, overtaken
    # Control: without --reorder the line is FIFO.
    fifo = numbered_datagrams(make_lab(delay_ms=1, seed=5, ipv6=False), 200)
    assert fifo == list(range(200))


def test_delay_line_holds_from_when_the_frame_came_even_when_the_line_is_descheduled(make_lab):
    # The line starts a frame's delay when the kernel received it, not when its reader got to
    # it: back from a 30 ms stop, a held frame is still overtaken only by the frames that came
    # within its 5 ms hold, not by every frame that queued behind it meanwhile (CI once saw 29).
    sent = 400
    got = numbered_datagrams(make_lab(delay_ms=1, reorder=0.2, reorder_ms=5, seed=5, ipv6=False), sent,
                             stall_line=True)
    assert sorted(got) == list(range(sent))
    overtaken = overtaken_by(got, sent)
    assert overtaken and max(overtaken.values()) <= 12, overtaken


def test_delay_line_duplicates_a_share_of_the_frames(make_lab):
    sent, r = 400, 0.25
    got = numbered_datagrams(make_lab(delay_ms=1, duplicate=r, seed=9, ipv6=False), sent)
    counts = collections.Counter(got)
    assert set(counts) == set(range(sent)) and max(counts.values()) == 2, counts.most_common(3)
    doubled = sum(1 for c in counts.values() if c == 2)
    # Binomial(400, 0.25): sd 8.7, bound 4 sd.
    assert abs(doubled - sent * r) <= 4 * math.sqrt(sent * r * (1 - r)), doubled
    # A copy follows its original at once: nothing comes between them.
    for i, x in enumerate(got[:-1]):
        if counts[x] == 2 and x not in got[:i]:
            assert got[i + 1] == x, got[i:i + 3]


def test_delay_line_partial_loss_mostly_connects(make_lab):
    L = make_lab(delay_ms=5, loss=0.1, seed=3)
    L.start_server(8080)
    results = connects(L, L.server_v4, 8080, count=20, timeout=3.5)
    ok = sum(1 for code, _ in results if code == 0)
    assert ok >= 16, results


def test_delay_line_rejects_bad_flags():
    exe = os.path.join(lab.build_dir(), "tests", "lab_delay_line")
    if not os.access(exe, os.X_OK):
        pytest.fail(f"{exe} is not built", pytrace=False)
    base = ["--a", "x", "--b", "y", "--delay-ms", "1", "--loss", "0", "--seed", "1"]
    for argv in ([], ["--a", "x", "--b", "y", "--delay-ms", "-1", "--loss", "0", "--seed", "1"],
                 ["--a", "x", "--b", "y", "--delay-ms", "1", "--loss", "1.5", "--seed", "1"],
                 base + ["--burst", "0"], base + ["--burst", "2.5"], base + ["--reorder", "2"],
                 base + ["--reorder-ms", "0"], base + ["--duplicate", "-0.1"],
                 ["--bogus", "1"]):
        r = subprocess.run([exe, *argv], capture_output=True, text=True, timeout=10)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, (argv, r.stderr)


# ---- AnyIP ----

def test_anyip_block_answers_on_every_address(make_lab):
    L = make_lab()
    L.start_server(8080)  # dual-stack listener on [::]
    L.add_anyip("10.99.0.0/16")
    L.add_anyip("fd00:99::/64")
    rng = random.Random()
    hosts = [f"10.99.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(3)]
    hosts += [f"fd00:99::{rng.randrange(1, 0xffff):x}:{rng.randrange(1, 0xffff):x}"]
    for host in hosts:
        assert connects(L, host, 8080)[0][0] == 0, host
    # Control: outside the block the client has no route at all.
    assert connects(L, "10.98.0.1", 8080)[0][0] == errno.ENETUNREACH
    with pytest.raises(ValueError):
        L.add_anyip(L.subnet_v4.replace("/24", "/16"))  # would swallow the lab's own hosts


# ---- running things ----

RAW = "import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)"


def test_run_client_privilege_options(make_lab):
    L = make_lab()
    assert L.run_client([sys.executable, "-c", RAW]).returncode == 0
    r = L.run_client([sys.executable, "-c", RAW], no_net_raw=True)
    assert r.returncode != 0 and "PermissionError" in r.stderr
    assert L.run_client(["id", "-u"], unprivileged_user=True).stdout.strip() == "65534"
    assert L.run_server(["ip", "-o", "addr", "show", L.server_if]).stdout.count(L.server_v4) == 1


def test_server_modes(make_lab):
    L = make_lab()
    L.start_server(8001, mode="banner-close", banner=b"HELLO\r\n")
    L.start_server(8002, mode="http")
    L.start_server(8003, mode="echo")
    talk = textwrap.dedent("""
        import socket, sys
        def ask(port, data):
            s = socket.create_connection((sys.argv[1], port), 3)
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            got = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    return got
                got += chunk
        s = socket.create_connection((sys.argv[1], 8001), 3)
        print(s.recv(100))
        print(ask(8002, b"GET / HTTP/1.0\\r\\n\\r\\n")[:15])
        print(ask(8003, b"ping" * 1000) == b"ping" * 1000)
    """)
    r = L.run_client([sys.executable, "-c", talk, L.server_v6])
    assert r.stdout.splitlines() == ["b'HELLO\\r\\n'", "b'HTTP/1.0 200 OK'", "True"], r.stderr


def ss_states(L, ns, port):
    run = L.run_client if ns == L.client_ns else L.run_server
    r = run(["ss", "-Htan", f"( sport = :{port} or dport = :{port} )"])
    return sorted(line.split()[0] for line in r.stdout.splitlines() if line.strip())


def test_hold_and_never_close_shape_the_close(make_lab):
    L = make_lab()
    L.start_server(8004, mode="hold", close_delay_ms=1500)
    L.start_server(8005, mode="never-close")
    closer = L.popen_client([sys.executable, "-c", textwrap.dedent("""
        import socket, sys, time
        for port in (8004, 8005):
            socket.create_connection((sys.argv[1], port), 3).close()
        time.sleep(3)
    """), L.server_v4])
    time.sleep(0.5)
    assert ss_states(L, L.client_ns, 8004) == ["FIN-WAIT-2"]  # server waits before its FIN
    assert ss_states(L, L.server_ns, 8005) == ["CLOSE-WAIT", "LISTEN"]
    time.sleep(1.5)
    assert ss_states(L, L.client_ns, 8004) == ["TIME-WAIT"]
    closer.kill()


def test_capture_records_the_handshake(make_lab):
    L = make_lab(delay_ms=0)
    L.start_server(8080)
    with L.capture(L.server_ns, L.server_if, "tcp port 8080") as cap:
        assert connects(L, L.server_v4, 8080)[0][0] == 0
    text = subprocess.run(["tcpdump", "-nr", cap.path], capture_output=True, text=True).stdout
    assert "Flags [S]," in text and "Flags [S.]," in text, text


# ---- cleanup ----

def lab_parts(L):
    names = [n for n in (L.client_ns, L.server_ns, L.middle_ns) if n]
    return names, [p.pid for p in L._procs]


def test_cleanup_after_with_and_after_exception():
    with lab.Lab(delay_ms=1) as L:
        L.start_server(8080)
        L.popen_client(["sleep", "60"])
        names, pids = lab_parts(L)
        assert set(names) <= netns_names() and len(pids) == 3
    assert not set(names) & netns_names()
    assert all(gone(p) for p in pids)

    with pytest.raises(RuntimeError):
        with lab.Lab() as L:
            L.start_server(8080)
            names, pids = lab_parts(L)
            raise RuntimeError("boom")
    assert not set(names) & netns_names()
    assert all(gone(p) for p in pids)


HOLDER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[1])
    import lab
    with lab.Lab(delay_ms=1) as L:
        srv = L.start_server(8080)
        print(L.client_ns, L.server_ns, L.middle_ns, srv.pid, L.delay_proc.pid, flush=True)
        time.sleep(60)
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_cleanup_when_the_runner_is_killed(sig):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, os.path.dirname(lab.__file__)],
                              stdout=subprocess.PIPE, text=True)
    try:
        *names, srv_pid, delay_pid = holder.stdout.readline().split()
        assert set(names) <= netns_names()
        holder.send_signal(sig)
        holder.wait(timeout=15)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    if sig == signal.SIGKILL:
        # No chance to clean up: children die with their parent, the next Lab sweeps.
        assert set(names) <= netns_names()
        lab.cleanup_stale()
    assert not set(names) & netns_names()
    deadline = time.monotonic() + 5
    while not (gone(int(srv_pid)) and gone(int(delay_pid))) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(int(srv_pid)) and gone(int(delay_pid))


def test_cleanup_stale_spares_the_living():
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale, alive = f"tk{dead.pid}-0-c", f"tk{os.getpid()}-999-c"
    for ns in (stale, alive):
        subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        lab.cleanup_stale()
        names = netns_names()
        assert stale not in names and alive in names
    finally:
        for ns in (stale, alive):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
