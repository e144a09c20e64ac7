"""Resource limits, each a clear one-line error and the documented exit code (4, system
failure), never a crash, a wrong "usage" verdict or a silent partial result:
- a tiny open-file limit (prlimit --nofile=N:N, N = 4..8) for every tool;
- a full disk for output (stdout on /dev/full, and tcpscan -oX /dev/full): the tool stops at
  its first failed write instead of running on, and says so;
- tcpstate against 200k sockets under an address-space limit (prlimit --as): too small is
  "out of memory" and exit 4; one that fits gives the exact count.
Below 4 descriptors the dynamic loader itself cannot open libtcpkit.so (ld.so exits 127
before any of our code runs); that is not tested here."""
import json
import os
import select
import subprocess
import sys
import time

import pytest

LIVE, TW, CLOSED = 8080, 8081, 81
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def L(served_lab):
    return served_lab  # conftest: never-close on LIVE, banner-close on TW


def guard_tables(L):
    out = L.run_client(["nft", "list", "tables"]).stdout
    return [line for line in out.splitlines() if "tcpkit" in line]


RUNS = {
    "tcpprobe": lambda L: ["tcpprobe", "-c", "2", "-i", "0.05", "-W", "0.5", f"{L.server_v4}:{LIVE}"],
    "tcpprobe-connect": lambda L: ["tcpprobe", "-m", "connect", "-c", "2", "-i", "0.05", "-W", "0.5",
                                   f"{L.server_v4}:{LIVE}"],
    "tcpprobe-trace": lambda L: ["tcpprobe", "--trace", f"{L.server_v4}:{TW}"],
    "tcpscan": lambda L: ["tcpscan", "-p", f"{CLOSED},{LIVE},{TW}", L.server_v4],
    "tcpstray": lambda L: ["tcpstray", "-W", "0.3", "--closed-port", str(CLOSED), "--case",
                           "closed-rst,listen-rst,live-rst-exact,tw-fin-retransmit", f"{L.server_v4}:{TW}"],
    "tcpstate": lambda L: ["tcpstate", "-p"],
    "tcpstate-watch": lambda L: ["tcpstate", "--watch", "0.1", "--count", "2"],
}


@pytest.mark.parametrize("name", list(RUNS))
def test_a_tiny_open_file_limit_is_one_line_and_exit_4(L, name):
    argv = RUNS[name](L)
    argv[0] = L.tool(argv[0])
    seen = []
    # tcpstray needs the most: a raw socket, a capture, nft's pipes and the guard's reserve;
    # tcpscan two packet sockets besides its raw sockets (Ethernet frames, test_tcpscan_send_path)
    # and a bound socket holding each source port (every round's and the ACK check's).
    for n in {"tcpstray": range(4, 17), "tcpscan": range(4, 40, 3)}.get(name, range(4, 9)):
        r = L.run_client(["prlimit", f"--nofile={n}:{n}", "--"] + argv, timeout=60)
        where = f"{name} with {n} descriptors: exit {r.returncode}, stderr {r.stderr!r}"
        tool = os.path.basename(argv[0])
        if r.returncode == 4:
            lines = r.stderr.splitlines()
            # One line about the descriptors; tcpstate -p names /proc and still lists the sockets.
            assert len(lines) == 1 and lines[0].startswith(f"{tool}: "), where
            assert "Too many open files" in lines[0], where
            seen.append(4)
        else:
            assert r.returncode in (0, 1), where
            assert "Too many open files" not in r.stderr and "Bad file descriptor" not in r.stderr, where
            seen.append(r.returncode)
        assert guard_tables(L) == [], where
    # The smallest limit stops every tool, the largest lets every one of them run.
    assert seen[0] == 4 and seen[-1] in (0, 1), (name, seen)


# Unbounded runs (or long ones): with stdout on a full disk each must stop at once, not run on.
FULL = {
    "tcpprobe": lambda L: ["tcpprobe", "-i", "0.05", f"{L.server_v4}:{LIVE}"],
    "tcpprobe-trace": lambda L: ["tcpprobe", "--trace", f"{L.server_v4}:{TW}"],
    "tcpscan": lambda L: ["tcpscan", "--json", "-p", "1-60000", "--rate", "5000", L.server_v4],
    "tcpstray": lambda L: ["tcpstray", "-W", "0.3", "--closed-port", str(CLOSED), f"{L.server_v4}:{TW}"],
    "tcpstate": lambda L: ["tcpstate", "--summary"],
    "tcpstate-list": lambda L: ["tcpstate"],
    "tcpstate-watch": lambda L: ["tcpstate", "--watch", "0.2"],
}


@pytest.mark.parametrize("name", list(FULL))
def test_a_full_disk_stops_the_tool_with_one_line_and_exit_4(L, name):
    argv = FULL[name](L)
    argv[0] = L.tool(argv[0])
    with open("/dev/full", "w") as full:
        start = time.monotonic()
        proc = L.popen_client(argv, stdout=full, stderr=subprocess.PIPE)
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            pytest.fail(f"{name} still running 10 s into a full disk")
    elapsed = time.monotonic() - start
    err = err.decode()
    tool = os.path.basename(argv[0])
    assert proc.returncode == 4, (proc.returncode, err)
    assert err.splitlines()[-1] == f"{tool}: cannot write standard output: No space left on device", err
    # Nobody pressed Ctrl-C: tcpstate said "interrupted after 1 socket" before its one line.
    assert not any("interrupted" in line for line in err.splitlines()), err
    assert elapsed < 6, f"{name} ran {elapsed:.1f} s after its first failed write"
    assert guard_tables(L) == []


def test_tcpscan_xml_file_on_a_full_disk(L):
    r = L.run_client([L.tool("tcpscan"), "-p", f"{CLOSED},{LIVE}", "-oX", "/dev/full", L.server_v4])
    assert r.returncode == 4, (r.returncode, r.stderr)
    assert r.stderr.splitlines()[-1] == "tcpscan: cannot write the XML file '/dev/full': No space left on device"


# ---- tcpstate, 200k sockets, a small address space ----

LISTENERS = 200_000
PER_PROC = 8000  # under this machine's open-file limit (about 20,000)
HOLDER = r"""
import resource, socket, sys
first, count = int(sys.argv[1]), int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_NOFILE, (count + 64, count + 64))
held = []
for i in range(first, first + count):
    s = socket.socket()
    s.bind(("127.0.0.%d" % (1 + i // 40000), 20000 + i % 40000))
    s.listen(1)
    held.append(s)
print("READY", flush=True)
sys.stdin.read()  # until the test closes our stdin (or dies: PDEATHSIG)
"""


@pytest.fixture(scope="module")
def crowd(L):
    """200k listening sockets in the server namespace (the cheapest socket there is), held by
    25 processes; all closed at the end of the module."""
    procs = []
    before = len(L.run_server(["ss", "-Hltn"]).stdout.splitlines())  # the lab's own servers
    try:
        for k in range(LISTENERS // PER_PROC):
            procs.append(L.popen_server([sys.executable, "-c", HOLDER, str(k * PER_PROC), str(PER_PROC)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        deadline = time.monotonic() + 120
        for p in procs:
            ready, _, _ = select.select([p.stdout], [], [], max(0.1, deadline - time.monotonic()))
            line = p.stdout.readline() if ready else b""
            if not line.startswith(b"READY"):
                pytest.fail(f"a holder did not start: {p.stderr.read().decode()[-500:]}")
        yield L, before + LISTENERS
    finally:
        for p in procs:
            try:
                p.stdin.close()
            except OSError:
                pass
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def tcpstate_limited(L, as_mib, *args):
    return L.run_server(["prlimit", f"--as={as_mib * MiB}", "--", L.tool("tcpstate"), *args], timeout=120)


def test_tcpstate_out_of_memory_is_one_line_and_exit_4(crowd):
    L, _ = crowd
    # -p keeps the owner of each of the 200k sockets: about 26 MB resident. 16 MiB of address
    # space cannot hold it (and nothing may be printed as if it had).
    r = tcpstate_limited(L, 16, "-p", "--summary", "--json")
    assert r.returncode == 4, (r.returncode, r.stderr[-500:])
    assert r.stderr == "tcpstate: out of memory (the address-space limit, ulimit -v, is 16 MiB)\n", r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("args,as_mib", [(["--summary", "--json"], 16), (["-p", "--summary", "--json"], 96),
                                         (["-l", "--json"], 16)])
def test_tcpstate_counts_200k_sockets_exactly_under_a_limit_that_fits(crowd, args, as_mib):
    L, listening = crowd
    r = tcpstate_limited(L, as_mib, *args)
    assert r.returncode == 0, r.stderr[-500:]
    lines = r.stdout.splitlines()
    summary = json.loads(lines[-1])
    assert summary["type"] == "summary"
    assert summary["states"]["LISTEN"] == listening, summary
    assert summary["sockets"] >= listening, summary
    if "-l" in args:
        assert len(lines) == listening + 1  # one line per socket, then the summary
