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


def test_a_connection_the_peer_kept_answers_the_next_probe_as_open(make_lab, tool):
    # Found behind a firewall that drops inbound RSTs: with -s, probe 1's half-open connection
    # stayed at the peer, which answered each later SYN on the same 4-tuple with an ACK of probe
    # 1's ISN+1. Those were rejected ("wrong ack") and the open, listening port read filtered.
    L = make_lab(ipv6=False)
    L.start_server(PORT, mode="hold")
    L.nft(L.server_ns, "table inet tk_norst {\n chain input { type filter hook input priority 0; policy accept;\n"
                       f"  tcp dport {PORT} tcp flags & rst == rst drop\n }}\n}}\n")
    # 0.6 s apart: the peer answers such a SYN at most every 0.5 s (net.ipv4.tcp_invalid_ratelimit).
    r = L.run_client([tool("tcpprobe"), "-m", "syn", "--json", "-s", "45001", "-c", "4", "-i", "0.6", "-W", "0.5",
                      f"{L.server_v4}:{PORT}"], timeout=60)
    objects = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    got = {o["probe"]: o for o in objects if o["type"] == "probe"}
    assert r.returncode == 0, r.stdout + r.stderr
    assert [got[n]["outcome"] for n in (1, 2, 3, 4)] == ["open"] * 4, r.stdout
    assert "held_by_probe" not in got[1] and got[1]["flags"] == "S.", got[1]
    for n in (2, 3, 4):
        assert got[n]["held_by_probe"] == 1 and got[n]["flags"] == "." and got[n]["rtt_ms"] < 100, got[n]
    summary = objects[-1]
    assert summary["held"] == 3 and summary["rejected"] == 0 and summary["filtered"] == 0, summary
    text = L.run_client([tool("tcpprobe"), "-m", "syn", "-s", "45002", "-c", "2", "-i", "0.6", "-W", "0.5",
                         f"{L.server_v4}:{PORT}"], timeout=60).stdout
    assert "(an ACK: the peer still holds probe 1's connection)" in text, text
    assert "our RSTs do not reach it" in " ".join(text.split()), text



def test_a_connection_kept_for_a_lost_syn_ack_is_not_blamed_on_dropped_rsts(make_lab, tool):
    # Found by an explorer: a probe's SYN/ACK lost, its port given out again, the peer's ACK
    # for that connection read "our RSTs do not reach it (a firewall that drops them?)", though
    # no RST was ever sent or dropped; and with -s, the earlier probe still waiting, that ACK
    # was rejected as a wrong ack and both probes read filtered. A probe still waiting then is
    # open too (the ACK shows a listener took its SYN), with no round trip.
    L = make_lab(ipv6=False)
    L.start_server(PORT, mode="hold")
    L.run_client(["sysctl", "-qw", "net.ipv4.ip_local_port_range=45010 45010"], timeout=20)

    def lose_first_syn_ack():  # every other SYN/ACK from now, the first among them
        L.run_server(["nft", "delete", "table", "inet", "tk_lose"], timeout=20)
        L.nft(L.server_ns, "table inet tk_lose {\n chain output { type filter hook output priority 0; policy accept;\n"
                           f"  tcp sport {PORT} tcp flags & (syn | ack) == syn | ack numgen inc mod 2 == 0 drop\n }}\n}}\n")

    for args in (["-s", "45003", "-i", "0.3", "-W", "2"],   # probe 1 still waits when probe 2's ACK comes
                 ["-i", "0.6", "-W", "0.5"]):              # probe 1 reported; the kernel's one port again
        lose_first_syn_ack()
        r = L.run_client([tool("tcpprobe"), "-m", "syn", "--json", "-c", "2", *args, f"{L.server_v4}:{PORT}"],
                         timeout=60)
        objects = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
        got = {o["probe"]: o for o in objects if o["type"] == "probe"}
        summary = objects[-1]
        if "-s" in args:  # still waiting: open by probe 2's answer, with no round trip of its own
            assert got[1]["outcome"] == "open" and got[1]["shown_open_by_probe"] == 2, (args, r.stdout)
            assert "rtt_ms" not in got[1], got[1]
        else:  # reported unanswered at -W
            assert got[1]["outcome"] == "filtered", (args, r.stdout)
        assert got[2]["outcome"] == "open" and got[2]["held_by_probe"] == 1, (args, r.stdout)
        assert got[2]["held_unanswered"] is True, (args, got[2])
        assert summary["held"] == 1 and summary["held_unanswered"] == 1 and summary["rejected"] == 0, (args, summary)
    lose_first_syn_ack()
    text = L.run_client([tool("tcpprobe"), "-m", "syn", "-c", "2", "-i", "0.6", "-W", "0.5", f"{L.server_v4}:{PORT}"],
                        timeout=60).stdout
    assert "(an ACK: the peer still holds probe 1's connection, whose SYN/ACK was lost)" in text, text
    words = " ".join(text.split())
    assert "whose SYN/ACK never reached us" in words and "our RSTs do not reach it" not in words, text


HOLD_CONNECTION = r"""
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 45001))
s.connect((sys.argv[1], int(sys.argv[2])))
print("connected", flush=True)
time.sleep(30)
"""


def test_a_source_port_another_socket_holds_is_refused(make_lab, tool):
    # Found: with an application's connection on the same port pair, every SYN drew the
    # server's challenge ACK for that connection: "filtered probe=1..", and an ACK-check hint
    # about accept queues. A -s port is now held for the run, and one in use is refused.
    L = make_lab(ipv6=False)
    L.start_server(PORT, mode="hold", family="v4")
    app = L.popen_client([sys.executable, "-c", HOLD_CONNECTION, L.server_v4, str(PORT)], stdout=subprocess.PIPE)
    assert app.stdout.readline().decode().strip() == "connected"
    r = L.run_client([tool("tcpprobe"), "-m", "syn", "-s", "45001", "-c", "2", "-W", "0.5", f"{L.server_v4}:{PORT}"],
                     timeout=60)
    assert r.returncode == 4 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    assert r.stderr == ("tcpprobe: source port 45001 is in use on this host (a connection, a listener, a TIME_WAIT or "
                        "another run holds it; its answers would not be ours): choose another\n"), r.stderr
    app.kill()
    # A free port still works, for several targets at once (held once per source address).
    L.start_server(PORT + 1, mode="hold", family="v4")
    r = L.run_client([tool("tcpprobe"), "-m", "syn", "-s", "45002", "-c", "1", f"{L.server_v4}:{PORT}",
                      f"{L.server_v4}:{PORT + 1}"], timeout=60)
    assert r.returncode == 0 and r.stdout.count(" open ") == 2, r.stdout + r.stderr
