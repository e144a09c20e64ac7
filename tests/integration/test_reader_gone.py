"""Every tool stops when the reader of its output goes away (`tool | head -1`): within a
moment, cleaned up as after Ctrl-C (no nftables guard left), silent on stderr, and killed by
SIGPIPE the way `yes | head` is (shell status 141)."""
import json
import os
import signal
import subprocess
import time

import pytest

OPEN, TW = 8080, 8081
GUARD_PREFIX = "tcpkit_stray_"
STOP_WITHIN_S = 3.0  # the tools react in milliseconds; the margin is for a loaded machine


def first_line_then_close(L, argv, first_line_within=30.0):
    """Starts argv in the client namespace with stdout on a pipe, reads one line, closes the
    pipe, and returns (first line, seconds until the process ended, return code, stderr)."""
    proc = L.popen_client(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + first_line_within
        line = proc.stdout.readline()
        assert line, f"no output before the pipe was closed (stderr: {proc.stderr.read()!r})"
        assert time.monotonic() < deadline
        closed_at = time.monotonic()
        proc.stdout.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{argv[0]} still running 30 s after its reader went away")
        return line, time.monotonic() - closed_at, proc.returncode, proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def assert_stopped_like_yes_head(elapsed, code, stderr):
    assert code == -signal.SIGPIPE, f"exit {code}, stderr {stderr!r}"
    assert elapsed < STOP_WITHIN_S, f"took {elapsed:.2f} s to stop"
    assert stderr == "", stderr


def test_tcpprobe_stops_when_the_reader_goes(make_lab, tool):
    L = make_lab()
    L.start_server(OPEN, mode="hold")
    # Without a count it would probe until Ctrl-C.
    line, elapsed, code, stderr = first_line_then_close(
        L, [tool("tcpprobe"), "-i", "0.2", f"{L.server_v4}:{OPEN}"])
    assert_stopped_like_yes_head(elapsed, code, stderr)


def test_tcpprobe_trace_stops_when_the_reader_goes(make_lab, tool):
    # A trace prints when it is done, so here the reader leaves before the first line, as in
    # `tcpprobe --trace ... | true`: --close peer would wait a minute for a FIN that never comes.
    L = make_lab()
    L.start_server(OPEN, mode="never-close")
    proc = L.popen_client([tool("tcpprobe"), "--trace", "--close", "peer", "--close-wait", "60s",
                           f"{L.server_v4}:{OPEN}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)  # the connection is up and waiting for the peer's FIN
        assert proc.poll() is None, proc.stderr.read()
        closed_at = time.monotonic()
        proc.stdout.close()
        proc.wait(timeout=30)
        elapsed = time.monotonic() - closed_at
        assert_stopped_like_yes_head(elapsed, proc.returncode, proc.stderr.read().decode())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # Our end of the connection is not left behind (the trace aborts it as on Ctrl-C).
    left = L.run_client(["ss", "-Htan", "state", "established", f"dport = :{OPEN}"]).stdout
    assert left.strip() == "", left


@pytest.mark.parametrize("form", ["--json", "--csv", "--xml", "--stream"])
def test_tcpscan_stops_when_the_reader_goes(make_lab, tool, form):
    # CSV and XML write their summary to stderr: it too stays unwritten (it was written before).
    L = make_lab()
    L.start_server(OPEN, mode="hold")
    # 65535 ports at 2000/s would take half a minute; the open port is found in the first one.
    line, elapsed, code, stderr = first_line_then_close(
        L, [tool("tcpscan"), "-p-", "--rate", "2000", form, L.server_v4])
    if form == "--json":
        json.loads(line)
    assert_stopped_like_yes_head(elapsed, code, stderr)


def test_tcpstray_stops_when_the_reader_goes_and_removes_its_guard(make_lab, tool):
    L = make_lab()
    L.start_server(OPEN, mode="never-close")
    L.start_server(TW, mode="banner-close", banner=b"bye\n")
    line, elapsed, code, stderr = first_line_then_close(
        L, [tool("tcpstray"), "--json", "-W", "2", f"{L.server_v4}:{OPEN}"])
    assert_stopped_like_yes_head(elapsed, code, stderr)
    tables = L.run_client(["nft", "list", "tables"]).stdout
    assert GUARD_PREFIX not in tables, tables


def test_tcpstate_watch_stops_when_the_reader_goes(make_lab, tool):
    L = make_lab()
    line, elapsed, code, stderr = first_line_then_close(
        L, [tool("tcpstate"), "--watch", "0.5"])
    assert_stopped_like_yes_head(elapsed, code, stderr)


def test_a_tool_whose_stdout_is_a_file_is_not_stopped(make_lab, tool, tmp_path):
    # The watcher looks at pipes and sockets only: output to a file runs to the end.
    L = make_lab()
    L.start_server(OPEN, mode="hold")
    out = tmp_path / "out.txt"
    with open(out, "w") as f:
        proc = L.popen_client([tool("tcpprobe"), "-c", "3", "-i", "0.05", f"{L.server_v4}:{OPEN}"],
                              stdout=f, stderr=subprocess.PIPE)
        assert proc.wait(timeout=30) == 0, proc.stderr.read()
    assert out.read_text().count(" open ") == 3


@pytest.mark.parametrize("argv", [["tcpstate", "--summary"], ["tcpprobe", "-c", "1", "-W", "0.2", "127.0.0.1:9"]])
def test_a_full_disk_is_one_line_and_exit_4(make_lab, tool, argv):
    L = make_lab()
    with open("/dev/full", "w") as full:
        proc = L.popen_client([tool(argv[0])] + argv[1:], stdout=full, stderr=subprocess.PIPE)
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=30)
    assert code == 4, err
    assert err.strip().splitlines()[-1].startswith(f"{argv[0]}: cannot write standard output")


def test_output_to_a_pipe_nobody_reads_is_never_a_system_failure(tool):
    # The reader is gone before the tool starts: a line's write fails with EPIPE, possibly
    # before the watcher thread has run. That must still end as SIGPIPE, never as "cannot
    # write standard output" with exit 4 (it did in about 1 run of 4 before).
    outcomes = []
    for _ in range(100):
        r, w = os.pipe()
        os.close(r)
        try:
            p = subprocess.run([tool("tcpstate"), "--summary", "--csv"], stdout=w,
                               stderr=subprocess.PIPE, timeout=30)
        finally:
            os.close(w)
        outcomes.append((p.returncode, p.stderr.decode()))
    bad = [o for o in outcomes if o != (-signal.SIGPIPE, "")]
    assert bad == [], bad[:3]
