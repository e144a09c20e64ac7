"""SIGINT, SIGTERM and SIGHUP at seeded random moments in every tool (tcpprobe plain and
--trace, tcpscan, tcpstray, tcpstate's list and --watch), against a lab namespace.

The contract checked after each signal:
- the tool ends within STOP_WITHIN_S;
- no nftables table of tcpkit's is left (the lab's namespaces and the host), and no
  ESTABLISHED, SYN_RECV or CLOSE_WAIT connection of ours on the server side;
- stdout holds whole lines only: with --json every line parses and the last one is the
  summary, with "interrupted": true; with --csv every row has the header's cells;
- the exit status is the tool's own (a signal stops a tool like Ctrl-C), except for a signal
  that comes before the tool has started its run (parsing its command line): then it dies of
  the signal with no output at all, having nothing to clean up.

SIGINT and SIGHUP go to the tool's whole process group, as a terminal sends them (so a child
such as nft gets them too); SIGTERM to the process only, as kill(1) does."""
import csv
import io
import json
import os
import random
import signal
import subprocess
import time

import pytest

LIVE, TW, CLOSED = 8080, 8081, 81
STOP_WITHIN_S = 2.0
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
MOMENTS = 3  # per tool and signal: one right at the start, two later


@pytest.fixture(scope="module")
def L(served_lab):
    return served_lab  # conftest: never-close on LIVE, banner-close on TW


def ss_lines(n):
    """Saved `ss -tan` text: a header and n ESTABLISHED rows (tcpstate --from -)."""
    rows = ["State Recv-Q Send-Q Local Address:Port Peer Address:Port Process"]
    rows += [f"ESTAB 0 0 10.9.0.1:{40000 + i} 10.9.0.2:443" for i in range(n)]
    return "\n".join(rows) + "\n"


# name -> (argv after the tool's path, output form, exit codes of an interrupted run, the
# latest moment to signal it in seconds, whether it touches the server's connections).
RUNS = {
    "tcpprobe": (lambda L: ["tcpprobe", "--json", "-i", "0.05", f"{L.server_v4}:{LIVE}"], "json", {0, 1}, 1.0, True),
    "tcpprobe-trace": (lambda L: ["tcpprobe", "--trace", "--json", "--close", "peer", "--close-wait", "60s",
                                  f"{L.server_v4}:{LIVE}"], "json", {0, 1}, 0.8, True),
    "tcpscan": (lambda L: ["tcpscan", "--json", "-p", "1-60000", "--rate", "5000", L.server_v4], "json", {1}, 1.5,
                True),
    "tcpscan-csv": (lambda L: ["tcpscan", "--csv", "-p", "1-60000", "--rate", "5000", L.server_v4], "csv", {1}, 1.0,
                    True),
    "tcpstray": (lambda L: ["tcpstray", "--json", "-W", "0.3", "--closed-port", str(CLOSED), f"{L.server_v4}:{LIVE}",
                            "--group", "live,time-wait"], "json", {1}, 2.5, True),
    "tcpstate": (lambda L: ["tcpstate", "--json", "--from", "-"], "json", {0}, 0.8, False),
    "tcpstate-watch": (lambda L: ["tcpstate", "--json", "--watch", "0.2"], "json", {0}, 0.8, False),
    "tcpstate-watch-csv": (lambda L: ["tcpstate", "--csv", "--watch", "0.2"], "csv", {0}, 0.6, False),
}


def our_tables(L, pid):
    """tcpkit's nftables tables in the lab's namespaces (any) and on the host (this pid's)."""
    left = []
    for ns in (L.client_ns, L.server_ns):
        out = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "tables"], capture_output=True,
                             text=True, timeout=20).stdout
        left += [f"{ns}: {line}" for line in out.splitlines() if "tcpkit" in line]
    host = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, timeout=20).stdout
    left += [f"host: {line}" for line in host.splitlines() if line.endswith(f"tcpkit_stray_{pid}")]
    return left


def server_connections(L):
    """The server side's connections from the client that should not outlive a run."""
    out = L.run_server(["ss", "-Htan", "state", "established", "state", "syn-recv", "state", "close-wait",
                        "dst", L.client_v4]).stdout
    return [line for line in out.splitlines() if line.strip()]


def check_output(form, out):
    """Whole lines only, ending with the summary. Returns the last JSON object (or None)."""
    assert out == "" or out.endswith("\n"), f"cut line at the end: {out[-200:]!r}"
    if form == "csv":
        rows = list(csv.reader(io.StringIO(out)))
        if not rows:
            return None  # stopped before the first row: CSV has no summary row to owe
        header = rows[0]
        assert all(len(r) == len(header) for r in rows[1:]), [r for r in rows if len(r) != len(header)][:2]
        return None
    objects = [json.loads(line) for line in out.splitlines()]  # every line parses
    assert objects, "no JSON at all"
    assert objects[-1]["type"] in ("summary", "trace_summary"), objects[-1]
    return objects[-1]


def run_once(L, name, sig, delay):
    make_argv, form, codes, _, touches_server = RUNS[name]
    argv = make_argv(L)
    argv[0] = L.tool(argv[0])
    feed = name == "tcpstate"
    proc = L.popen_client(argv, stdin=subprocess.PIPE if feed else subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, start_new_session=True)
    try:
        if feed:  # a stream that never ends: the listing is cut mid-way
            proc.stdin.write(ss_lines(50).encode())
            proc.stdin.flush()
        time.sleep(delay)
        assert proc.poll() is None, f"{name} ended before the signal: {proc.stderr.read()!r}"
        sent_at = time.monotonic()
        if sig == signal.SIGTERM:
            proc.send_signal(sig)
        else:
            os.killpg(proc.pid, sig)
        try:
            out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{name} still running 15 s after {sig.name}")
        elapsed = time.monotonic() - sent_at
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    out, err = out.decode(), err.decode()
    where = f"{name}, {sig.name} after {delay:.3f} s"
    assert elapsed < STOP_WITHIN_S, f"{where}: took {elapsed:.2f} s to stop"
    assert "internal error" not in err and "terminate" not in err, f"{where}: {err}"
    if proc.returncode == -sig:
        # Before the run began: killed by the signal, nothing written, nothing to clean.
        assert out == "", f"{where}: died of the signal after writing {out[-300:]!r}"
    else:
        assert proc.returncode in codes, f"{where}: exit {proc.returncode}, stderr {err!r}"
        last = check_output(form, out)
        if last is not None:
            assert last.get("interrupted") is True, f"{where}: {last}"
    assert our_tables(L, proc.pid) == [], where
    if touches_server:
        end = time.monotonic() + 1.0  # our RSTs are on their way
        while server_connections(L) and time.monotonic() < end:
            time.sleep(0.05)
        assert server_connections(L) == [], f"{where}: left on the server"
    return proc.returncode


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
@pytest.mark.parametrize("name", list(RUNS))
def test_a_signal_at_a_random_moment_leaves_nothing_behind(L, name, sig):
    rng = random.Random(f"{name}-{sig.name}")
    latest = RUNS[name][3]
    moments = [rng.uniform(0.0, 0.02)] + [rng.uniform(0.15, latest) for _ in range(MOMENTS - 1)]
    for delay in moments:
        run_once(L, name, sig, delay)


def test_a_second_signal_during_cleanup_still_removes_the_guard(L):
    # tcpstray's TIME_WAIT case waits with its guard table in place; two signals in a row
    # (an impatient Ctrl-C) must not cut the table's removal short.
    argv = [L.tool("tcpstray"), "--json", "-W", "2", f"{L.server_v4}:{LIVE}", "--group", "time-wait"]
    proc = L.popen_client(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        end = time.monotonic() + 10
        while not our_tables(L, proc.pid) and time.monotonic() < end:
            time.sleep(0.02)
        assert our_tables(L, proc.pid), "the guard table never appeared"
        for _ in range(3):
            os.killpg(proc.pid, signal.SIGINT)
            time.sleep(0.005)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, err
    assert check_output("json", out.decode())["interrupted"] is True
    assert our_tables(L, proc.pid) == []


def test_an_interrupted_check_is_not_a_pass(L):
    # Counts cut short prove nothing: the check says "interrupted" and exits 1, never 0.
    proc = L.popen_client([L.tool("tcpstate"), "--json", "--from", "-", "--check", "--max", "established=1000"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(ss_lines(5).encode())
        proc.stdin.flush()
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, err
    summary = check_output("json", out.decode())
    assert summary["check"] == "interrupted" and summary["interrupted"] is True, summary


def test_a_closed_terminal_stops_tcpstray_and_removes_its_guard(L):
    # The terminal goes away under a running tool: its master side closes (every write to it
    # fails with EIO from then on) and the session gets SIGHUP. The guard table still goes,
    # and the tool, with nobody left to tell, ends as the hangup would.
    master, slave = os.openpty()
    try:
        proc = L.popen_client([L.tool("tcpstray"), "-W", "2", f"{L.server_v4}:{LIVE}", "--group", "time-wait"],
                              stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    finally:
        os.close(slave)
    try:
        end = time.monotonic() + 10
        while not our_tables(L, proc.pid) and time.monotonic() < end:
            time.sleep(0.02)
        assert our_tables(L, proc.pid), "the guard table never appeared"
        os.close(master)
        master = None
        os.killpg(proc.pid, signal.SIGHUP)
        proc.wait(timeout=10)
    finally:
        if master is not None:
            os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGHUP
    assert our_tables(L, proc.pid) == []
