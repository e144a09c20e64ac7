"""tcpprobe -s (a fixed source port): every probe in flight has the same 4-tuple, so answers
are told apart by their acknowledgment numbers alone. A peer that answers SYNs with RSTs
without the ACK bit (tests/lab/bare_rst_responder.py) must not have its RSTs handed to the
wrong probe: each RTT stays the delay line's round trip."""
import json
import os
import subprocess
import sys

LAB_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab")
PORT = 8091
DELAY_MS = 20.0  # each way


def start_responder(L, *flags):
    proc = L.popen_server([sys.executable, os.path.join(LAB_DIR, "bare_rst_responder.py"),
                           "--interface", L.server_if, "--port", str(PORT), "--max-seconds", "120",
                           *flags], stdout=subprocess.PIPE)
    line = proc.stdout.readline().decode().strip()  # bounded: the lab stops it at teardown
    assert line == "ready", f"responder did not start: {line!r}"
    return proc


def probes(L, tool, interval, with_summary=False):
    r = L.run_client([tool("tcpprobe"), "-m", "syn", "--json", "-s", "45000", "-c", "10", "-i", interval,
                      "-W", "0.5", f"{L.server_v4}:{PORT}"], timeout=60)
    objects = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    got = [o for o in objects if o["type"] == "probe"]
    return (r, got, objects[-1]) if with_summary else (r, got)


def test_rsts_without_ack_go_to_the_probe_they_acknowledge(make_lab, tool):
    L = make_lab(delay_ms=DELAY_MS, ipv6=False)
    L.drop_ports([PORT])  # the kernel never sees the SYNs; the responder answers them
    start_responder(L, "--ack-field")
    # A probe every 20 ms through a 40 ms round trip: two are in flight at once. (Every 10 ms,
    # four, left a margin of 8 ms for a loaded machine's delay line and responder.)
    r, got = probes(L, tool, "20ms")
    assert len(got) == 10, r.stdout + r.stderr
    for p in got:
        assert p["outcome"] == "closed", p
        # An RST handed to a probe sent later would show 20 ms or less; to one sent earlier, 60+.
        assert 2 * DELAY_MS - 1 <= p["rtt_ms"] <= 2 * DELAY_MS + 15, (p, [q.get("rtt_ms") for q in got])


def test_a_bare_rst_is_matched_only_when_one_probe_is_out(make_lab, tool):
    L = make_lab(delay_ms=DELAY_MS, ipv6=False)
    L.drop_ports([PORT])
    start_responder(L)  # ack field 0: the RST names no probe
    # One at a time (interval past the round trip): each bare RST can only be its probe's.
    r, got = probes(L, tool, "80ms")
    assert len(got) == 10, r.stdout + r.stderr
    assert all(p["outcome"] == "closed" for p in got), got
    # Two at a time: no bare RST is handed to a probe it may not belong to; each probe whose
    # answer cannot be told apart ends unanswered instead of taking a neighbour's RTT.
    r, got, summary = probes(L, tool, "20ms", with_summary=True)
    assert len(got) == 10, r.stdout + r.stderr
    for p in got:
        if p["outcome"] == "closed":
            assert 2 * DELAY_MS - 1 <= p["rtt_ms"] <= 2 * DELAY_MS + 15, p
    # Every bare RST is accounted for: an answer, or counted as unmatched (never dropped unseen).
    closed = sum(1 for p in got if p["outcome"] == "closed")
    assert summary["unmatched_rst"] == 10 - closed and closed < 10, summary
    assert summary["rejected"] == 0, summary  # a bare RST is no proof of forgery
