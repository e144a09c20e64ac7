"""The tools in an 80-column terminal (tmux, 80x50), as a user at 3 a.m. reads them: no line
wider than 80 display cells (tmux wraps it), and table columns aligned. tcpstray runs against
a real Linux peer in a lab, tcpstate --by process against processes with UTF-8 and wide names.

tcpscan -p- runs against a lab host with open, dropped and rejected ports."""
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from test_tcpscan import start_listener
from test_tcpstate_display import assert_aligned, cells, population

LIVE, CLOSED = 8080, 8081
WIDTH, HEIGHT = 80, 50


def need_tmux():
    path = shutil.which("tmux")
    if not path:
        if os.environ.get("CI") == "true":
            pytest.fail("tmux is missing (Debian: tmux)")
        pytest.skip("tmux is not installed")
    return path


def in_tmux(command, timeout=120):
    """Runs command (a shell line) in a fresh detached tmux session of 80x50 on a private
    server; returns the screen's lines with wrapped lines joined (capture-pane -J)."""
    tmux = need_tmux()
    sock = f"tcpkit-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    base = [tmux, "-L", sock, "-f", "/dev/null"]
    marker = "__tcpkit_done__"
    script = f"{command}; echo {marker}; sleep 60"
    env = dict(os.environ, TERM="xterm-256color", LANG="C.UTF-8", LC_ALL="C.UTF-8")
    env.pop("COLUMNS", None)
    env.pop("TMUX", None)
    try:
        subprocess.run(base + ["new-session", "-d", "-x", str(WIDTH), "-y", str(HEIGHT), "-s", "w",
                               "sh", "-c", script], check=True, env=env, timeout=20)
        subprocess.run(base + ["set-option", "-t", "w", "history-limit", "5000"], env=env, timeout=20)
        deadline = time.monotonic() + timeout
        while True:
            shown = subprocess.run(base + ["capture-pane", "-p", "-J", "-S", "-", "-t", "w"], capture_output=True,
                                   text=True, env=env, timeout=20).stdout
            if marker in shown.replace("\n", ""):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"{command} did not finish in {timeout} s:\n{shown}")
            time.sleep(0.3)
        lines = [line.rstrip() for line in shown.splitlines()]
        return lines[:next(i for i, line in enumerate(lines) if marker in line)]
    finally:
        subprocess.run(base + ["kill-server"], capture_output=True, timeout=20)


def assert_fits(lines, what):
    too_wide = [line for line in lines if cells(line) > WIDTH]
    assert not too_wide, f"{what}: lines wider than {WIDTH} cells:\n" + "\n".join(too_wide)


def test_tcpstray_fits_80_columns(make_lab, tool):
    L = make_lab()
    L.start_server(LIVE, mode="never-close")
    cmd = shlex.join(["ip", "netns", "exec", L.client_ns, tool("tcpstray"), "-W", "0.3", "--closed-port", str(CLOSED),
                      f"{L.server_v4}:{LIVE}"])
    lines = in_tmux(cmd)
    text = "\n".join(lines)
    assert "tcpstray summary" in text, text
    assert_fits(lines, "tcpstray")
    table = text[text.index("CASE"):]
    table = table[:table.index("\n\n")]
    assert_aligned(table, ["CASE", "SENT", "OBSERVED", "VERDICT"])
    # One notation, tcpdump's: ACK is ".", never "A".
    for row in table.splitlines()[1:]:
        sent = row.split()[1]
        assert "A" not in sent, row


def test_tcpstate_by_process_fits_80_columns(lab, tool):
    L = lab()
    population(L)
    cmd = shlex.join(["ip", "netns", "exec", L.server_ns, tool("tcpstate"), "--by", "process"])
    lines = in_tmux(cmd)
    text = "\n".join(lines)
    assert "PROCESS" in text and "pöp-srv€" in text, text
    assert_fits(lines, "tcpstate --by process")
    assert_aligned(text[text.index("PROCESS"):], ["PROCESS", "TOTAL"])


def test_tcpscan_all_ports_fits_80_columns(make_lab, tool):
    """tcpscan -p- against a host with open, filtered and rejected ports among 65,535: one
    block, the closed ports collapsed, every line within 80 cells, the port table aligned."""
    L = make_lab()
    start_listener(L, [22, 8080, 40000])
    L.drop_ports([25, 3306])
    L.reject_ports([5432], icmp="admin-prohibited")
    cmd = shlex.join(["ip", "netns", "exec", L.client_ns, tool("tcpscan"), "-p-", "--rate", "100000",
                      "--retries", "1", "--wait", "300ms", L.server_v4])
    lines = in_tmux(cmd)
    text = "\n".join(lines)
    assert f"{L.server_v4}: up" in text, text
    assert "Not shown: 65,529 closed ports" in text, text
    assert_fits(lines, "tcpscan -p-")
    table = text[text.index("PORT"):].split("\n\n")[0].splitlines()
    header, rows = table[0], table[1:]
    # nmap's layout: a 5-digit port leaves one space before STATE, so alignment is checked as
    # "each column starts where its header does, after a space", not as a two-space gap.
    starts = [header.index(h) for h in ["STATE", "SERVICE", "REASON"]]
    for row in rows:
        assert row[starts[0] - 1] == " " and row[starts[0]] != " ", (row, header)  # STATE
        # SERVICE is empty for a port /etc/services does not name (40000); REASON never is.
        assert row[starts[1] - 1] == " " and row[starts[2] - 1] == " " and row[starts[2]] != " ", (row, header)
    assert [r.split()[0] for r in rows] == ["22/tcp", "25/tcp", "3306/tcp", "5432/tcp", "8080/tcp",
                                            "40000/tcp"], text


# Loopback connections in one namespace in seven states: ESTABLISHED, SYN_SENT (its SYNs
# dropped), FIN_WAIT1 (its FIN dropped), FIN_WAIT2, TIME_WAIT, CLOSE_WAIT and LISTEN.
SEVEN_STATES = r"""
import socket, subprocess, sys, time
ls = socket.socket(); ls.bind(("127.0.0.1", 8080)); ls.listen(64)
keep = []
def pair():
    c = socket.create_connection(("127.0.0.1", 8080)); s, _ = ls.accept(); return c, s
for _ in range(3): keep += pair()
for _ in range(2):
    c, s = pair(); c.close(); time.sleep(0.01); s.close()          # TIME_WAIT at the client
for _ in range(2):
    c, s = pair(); c.close(); keep.append(s)                        # CLOSE_WAIT and FIN_WAIT2
subprocess.run(["nft", "-f", "-"], check=True, text=True, input=
    "table inet tkstates { chain o { type filter hook output priority 0; tcp dport 9 drop; }; }")
for _ in range(2):
    c = socket.socket(); c.setblocking(False); c.connect_ex(("127.0.0.1", 9)); keep.append(c)
l2 = socket.socket(); l2.bind(("127.0.0.1", 7071)); l2.listen(8)
c = socket.create_connection(("127.0.0.1", 7071)); s, _ = l2.accept(); keep.append(s)
subprocess.run(["nft", "add", "rule", "inet", "tkstates", "o", "tcp", "dport", "7071", "drop"], check=True)
c.close()                                                           # FIN_WAIT1: its FIN dropped
print("ready", flush=True)
sys.stdin.read()
"""


def test_tcpstate_by_with_many_states_fits_80_columns(make_lab, tool):
    # Seven states beside the key made a table of 94 columns: rows that tmux wrapped.
    L = make_lab()
    p = L.popen_client([sys.executable, "-c", SEVEN_STATES], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        for key in ("peer", "process"):
            cmd = shlex.join(["ip", "netns", "exec", L.client_ns, tool("tcpstate"), "--by", key])
            lines = in_tmux(cmd)
            text = "\n".join(lines)
            for state in ("ESTABLISHED", "SYN_SENT", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE_WAIT", "LISTEN"):
                assert state in text, text
            assert_fits(lines, f"tcpstate --by {key}")
            # Blocks of columns, each led by the key and aligned; every group named in each.
            blocks = [b for b in text.split("\n\n") if b.strip()]
            assert len(blocks) == 2, text
            for block in blocks:
                header = block.splitlines()[0].split()
                assert header[0] in ("PEER", "PROCESS") and header[1] == "TOTAL", block
                assert_aligned(block, header)
            assert [r.split()[0] for r in blocks[0].splitlines()] == [r.split()[0] for r in blocks[1].splitlines()]
    finally:
        p.stdin.close()
        p.wait(timeout=10)
