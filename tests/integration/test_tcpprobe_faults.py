"""tcpprobe through injected faults: loss (random and in bursts) measured against what the delay
line injects, reordering and duplication (no mis-pairing, no double counting), and forged replies
from the target's side (never an answer, always counted as rejected, with why)."""
import json
import math
import re
import os
import subprocess
import sys
import time

import pytest

import lab

LAB_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab")
OPEN = 8080


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def run_probe(L, args, timeout=60):
    r = L.run_client([L.tool("tcpprobe"), "-m", "syn", "--json", *map(str, args)], timeout=timeout)
    assert r.returncode in (0, 1), r.stderr
    objs = json_lines(r.stdout)
    assert objs and objs[-1]["type"] == "summary", r.stdout[-500:]
    return objs, r


# A probe is lost when its SYN or its SYN/ACK is lost: each direction of the line drops a share p
# on its own, so the expected probe loss is 1 - (1 - p)^2. -W 300 ms is below the peer's first
# SYN/ACK retransmission (1 s), which would otherwise answer a probe whose SYN/ACK was lost.
# Bursts of n frames make the count vary more: at most n probes share one loss run, so the
# binomial sd is widened by sqrt(n) (a cluster-sampling design effect of at most n).
@pytest.mark.parametrize("p,burst", [(0.1, 1), (0.3, 1), (0.2, 4)])
def test_loss_figures_match_the_injected_loss(make_lab, p, burst):
    count = 400
    L = make_lab(delay_ms=2, loss=p, burst=burst, seed=17, ipv6=False)
    L.pin_neighbours()  # the loss under test is the probes', not the ARP requests'
    L.start_server(OPEN)
    objs, r = run_probe(L, ["-c", count, "-i", "10ms", "-W", "300ms", f"{L.server_v4}:{OPEN}"])
    probes = [o for o in objs if o["type"] == "probe"]
    summary = objs[-1]
    assert len(probes) == count and summary["sent"] == count
    assert all(o["outcome"] in ("open", "filtered") for o in probes)
    expected = 1 - (1 - p) ** 2
    sd = math.sqrt(burst * expected * (1 - expected) / count)
    measured = summary["loss_pct"] / 100
    assert abs(measured - expected) <= 4 * sd, (measured, expected, sd)
    assert summary["answered"] == sum(1 for o in probes if o["outcome"] == "open")
    if burst > 1:
        # Lost probes come in runs: independent loss at this share would give runs of
        # 1 / (1 - expected) = 1.56 probes on average.
        answered = [p["probe"] for p in probes if p["outcome"] != "filtered"]
        runs = lab.missing_runs(answered, range(1, count + 1))
        assert sum(runs) / len(runs) >= 2.0, runs


def start_forger(L, ports):
    """The forger (tests/lab/reply_forge.py) on the server's link; returns (proc, wrong address)."""
    other = L.server_v4.rsplit(".", 1)[0] + ".99"
    proc = L.popen_server([sys.executable, os.path.join(LAB_DIR, "reply_forge.py"), "--iface", L.server_if,
                           "--client", L.client_v4, "--server", L.server_v4, "--wrong-address", other,
                           "--ports", ",".join(map(str, ports)), "--max-seconds", "120"],
                          stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc, other


def stop_forger(proc):
    proc.terminate()
    out = proc.communicate(timeout=10)[0]
    return json.loads(out.strip().splitlines()[-1])


FORGED_PER_SYN = {"wrong_ack": 2, "wrong_quote": 2, "wrong_address": 1}


def test_forged_replies_are_never_answers_and_are_counted_as_rejected(make_lab):
    L = make_lab(ipv6=False)
    L.drop_ports([OPEN])  # no real answer ever comes: only the forgeries do
    forger, _ = start_forger(L, [OPEN])
    count = 5
    objs, r = run_probe(L, ["-c", count, "-i", "100ms", "-W", "500ms", f"{L.server_v4}:{OPEN}"])
    # Text: the summary says how many and why.
    text = L.run_client([L.tool("tcpprobe"), "-m", "syn", "-c", 2, "-i", "100ms", "-W", "500ms",
                         f"{L.server_v4}:{OPEN}"], timeout=30)
    sent = stop_forger(forger)
    assert sent["synack-wrong-ack"] == count + 2, sent
    assert "not answers: 10 rejected (4 wrong ack, 4 wrong quote, 2 wrong address)" in text.stdout, text.stdout
    assert r.returncode == 1, r.stderr  # nothing answered
    probes = [o for o in objs if o["type"] == "probe"]
    assert [p["outcome"] for p in probes] == ["filtered"] * count
    s = objs[-1]
    assert s["answered"] == 0 and s["duplicates"] == 0 and s["late"] == 0
    for reason, per_syn in FORGED_PER_SYN.items():
        assert s["rejected_by"][reason] == per_syn * count, s
    assert s["rejected"] == 5 * count and s["rejected_by"]["wrong_seq"] == 0


def test_forged_replies_next_to_real_answers_change_nothing(make_lab):
    L = make_lab(delay_ms=3, ipv6=False)  # the real answers and the forgeries both cross the line
    L.start_server(OPEN)
    forger, _ = start_forger(L, [OPEN])
    count = 10
    objs, r = run_probe(L, ["-c", count, "-i", "50ms", "-W", "500ms", f"{L.server_v4}:{OPEN}"])
    stop_forger(forger)
    assert r.returncode == 0, r.stderr
    probes = [o for o in objs if o["type"] == "probe"]
    assert [p["outcome"] for p in probes] == ["open"] * count
    # At least the line's round trip; the upper bound is loose on purpose: a loaded machine has
    # added 28 ms to a delay line's round trip.
    assert all(6.0 <= p["rtt_ms"] < 100 for p in probes), [p["rtt_ms"] for p in probes]
    s = objs[-1]
    # The last probe's forgeries may come after tcpprobe is done with it and gone.
    assert 5 * (count - 1) <= s["rejected"] <= 5 * count, s
    assert s["answered"] == count and s["duplicates"] == 0


def test_duplicated_answers_are_shown_as_duplicates_and_never_counted(make_lab):
    # Both directions duplicate: a doubled SYN/ACK, or a doubled SYN that the peer answers twice.
    L = make_lab(delay_ms=2, duplicate=0.3, seed=23, ipv6=False)
    L.start_server(OPEN)
    count = 100
    objs, r = run_probe(L, ["-c", count, "-i", "10ms", "-W", "300ms", f"{L.server_v4}:{OPEN}"])
    assert r.returncode == 0, r.stderr
    probes = [o for o in objs if o["type"] == "probe"]
    dups = [o for o in objs if o["type"] == "duplicate"]
    s = objs[-1]
    # One record and one RTT per probe, however many copies of its answer came.
    assert sorted(p["probe"] for p in probes) == list(range(1, count + 1))
    assert all(p["outcome"] == "open" for p in probes)
    assert s["answered"] == s["open"] == count and s["loss_pct"] == 0
    assert len(dups) >= 10 and s["duplicates"] == len(dups), (len(dups), s)
    rtt = {p["probe"]: p["rtt_ms"] for p in probes}
    for d in dups:
        assert d["probe"] in rtt and d["rtt_ms"] >= rtt[d["probe"]], d
        assert d["source_port"] == next(p["source_port"] for p in probes if p["probe"] == d["probe"])
    assert s["rejected"] == 0, s  # a copy is no forgery
    # Text: each one marked like ping's (DUP!), and counted in the summary.
    text = L.run_client([L.tool("tcpprobe"), "-m", "syn", "-c", 40, "-i", "10ms", "-W", "300ms",
                         f"{L.server_v4}:{OPEN}"], timeout=30).stdout
    marked = sum(1 for line in text.splitlines() if line.endswith("(DUP!)"))
    assert marked > 0 and f"not answers: {marked} duplicate" in text, text


def test_reordered_answers_are_paired_by_their_own_syn(make_lab):
    # A third of the frames each way are held 5 ms more, so answers overtake one another; each
    # RTT must still be its own handshake's, as the delay line's record of the link shows it.
    L = make_lab(delay_ms=2, reorder=0.3, reorder_ms=5, seed=31, ipv6=False, wire_pcap=True)
    L.start_server(OPEN)
    count = 200
    objs, r = run_probe(L, ["-c", count, "-i", "2ms", "-W", "300ms", f"{L.server_v4}:{OPEN}"])
    assert r.returncode == 0, r.stderr
    time.sleep(0.3)  # the line writes its record after each frame leaves
    wire = lab.wire_handshakes(L.wire_pcap, OPEN)["handshakes"]
    probes = [o for o in objs if o["type"] == "probe"]
    assert len(probes) == count and all(p["outcome"] == "open" for p in probes)
    assert objs[-1]["duplicates"] == 0 and objs[-1]["rejected"] == 0
    slow = 0
    for p in probes:
        sent_ns = p["time"] * 1e9
        same_port = [h for h in wire if h["client_port"] == p["source_port"]]
        h = min(same_port, key=lambda h: abs(h["syn_ns"] - sent_ns))
        assert abs(h["syn_ns"] - sent_ns) < 1e6, (p, h)
        assert abs(p["rtt_ms"] - h["wire_rtt_ns"] / 1e6) < 0.5, (p, h)
        slow += p["rtt_ms"] > 6.5
    assert slow >= 40, slow  # about half of the handshakes had a frame held back


def trace(L, target, *extra):
    r = L.run_client([L.tool("tcpprobe"), "--trace", "--json", *map(str, extra), target], timeout=60)
    assert r.returncode == 0, r.stderr
    objs = json_lines(r.stdout)
    assert objs[-1]["type"] == "trace_summary", r.stdout[-500:]
    return [o for o in objs if o["type"] == "segment"], objs[-1]


def test_trace_rejects_forged_replies_and_times_the_real_handshake(make_lab):
    L = make_lab(ipv6=False)
    L.start_server(OPEN, mode="hold", close_delay_ms=50)
    # The server never sees our first SYN, but the forger answers it at once: a SYN/ACK and an
    # RST/ACK acking the wrong number, and a SYN/ACK with the right one from another address.
    # Our kernel resets the bad SYN/ACK and sends its SYN again at once (Linux's SYN-SENT rule);
    # the real handshake follows. The forger keeps forging answers to every segment.
    chain = L._input_chain(L.server_ns)
    L.nft(L.server_ns, f"add rule {chain} tcp dport {OPEN} tcp flags & (syn | ack) == syn "
                       f"limit rate 1/minute burst 1 packets drop\n")
    forger, _ = start_forger(L, [OPEN])
    segments, s = trace(L, f"{L.server_v4}:{OPEN}", "-W", "1s")
    stop_forger(forger)
    inbound = [x for x in segments if x["direction"] == "in"]
    syns = [x for x in segments if x["direction"] == "out" and x["flags"] == "S"]
    assert len(syns) == 2 and syns[1]["retransmission"], syns
    # The handshake is the real one, answering the SYN's retransmission, numbered from the real ISN.
    assert inbound[0]["flags"] == "S." and inbound[0]["seq"] == 0 and inbound[0]["ack"] == 1, inbound[0]
    assert inbound[0]["time_ms"] > syns[1]["time_ms"], (inbound[0], syns[1])
    assert s["syn_to_synack_ms"] == inbound[0]["time_ms"], s
    assert s["outcome"] == "closed" and s["close_kind"] == "four-way close", s
    # Our kernel's RST to the forged SYN/ACK is shown, marked, and no close of ours.
    answers = [x for x in segments if x["answers_rejected"]]
    assert [x["flags"] for x in answers] == ["R"], answers
    assert s["rejected_by"]["wrong_address"] >= 2 and s["rejected_by"]["wrong_ack"] >= 2, s
    assert s["rejected"] >= 6, s
    assert all(x["peer_state"] != "CLOSE" for x in segments[:-1]), [x["peer_state"] for x in segments]


def test_trace_shows_network_copies_as_duplicates(make_lab):
    L = make_lab(delay_ms=2, duplicate=1.0, ipv6=False)  # every frame twice, both ways
    L.start_server(OPEN, mode="hold", close_delay_ms=50)
    segments, s = trace(L, f"{L.server_v4}:{OPEN}")
    copies = [x for x in segments if x["duplicate"]]
    assert copies and s["duplicates"] == len(copies), s
    assert all(x["direction"] == "in" for x in copies)  # our own repeats are real segments
    originals = [(x["direction"], x["flags"]) for x in segments if not x["duplicate"]]
    # Without the copies, the ordinary four-way close. The peer, CLOSED by then, may answer a
    # copy of our last ACK with an RST: that closed nothing, and a note says so. The copy of our
    # SYN may also make the peer send its SYN/ACK again (a retransmission of its own, as Linux
    # answers a repeated SYN in SYN_RECV): byte for byte a copy when its timestamp clock has not
    # ticked in between, else a retransmission, and not part of the close (seen once in CI).
    inbound = [x["flags"] for x in segments if x["direction"] == "in" and not x["duplicate"]
               and not (x["retransmission"] and x["flags"] == "S.")]
    assert inbound[:3] == ["S.", ".", "F."] and set(inbound[3:]) <= {"R"}, originals
    assert s["close_kind"] == "four-way close" and s["rejected"] == 0, s
    if "R" in inbound:
        assert any("RST after its side had closed" in n for n in s["notes"]), s["notes"]
    # A copy of the SYN/ACK never puts the peer back in SYN_RECV once it is ESTABLISHED (its own
    # retransmitted SYN/ACK says it was still there when it sent it: then the check is moot).
    peer = [x["peer_state"] for x in segments]
    if not any(x["direction"] == "in" and x["retransmission"] and x["flags"] == "S." and not x["duplicate"]
               for x in segments):
        assert "SYN_RECV" not in peer[peer.index("ESTABLISHED"):], peer
    assert 4 <= s["syn_to_synack_ms"] < 20, s


def test_trace_through_reordering_keeps_the_close_and_the_numbers(make_lab):
    # Half the frames each way held 3 ms more. The server closes 50 ms after our FIN, so the
    # close is an unambiguous four-way close whatever overtakes what.
    L = make_lab(delay_ms=2, reorder=0.5, reorder_ms=3, seed=43, ipv6=False)
    L.start_server(OPEN, mode="hold", close_delay_ms=50)
    for _ in range(3):
        segments, s = trace(L, f"{L.server_v4}:{OPEN}")
        assert s["outcome"] == "closed" and s["close_kind"] == "four-way close", s
        assert s["rejected"] == 0 and s["duplicates"] == 0, s  # a late frame is no forgery
        inbound = [x for x in segments if x["direction"] == "in"]
        assert (inbound[0]["flags"], inbound[0]["seq"], inbound[0]["ack"]) == ("S.", 0, 1), inbound[0]
        assert s["syn_to_synack_ms"] == inbound[0]["time_ms"] and 4 <= s["syn_to_synack_ms"] < 20, s
        # Every number stays in the connection's small relative space.
        assert all(x["seq"] <= 2 and x["ack"] <= 2 for x in segments), segments


def test_a_syn_ack_sent_again_is_no_round_trip(make_lab):
    # Found by an explorer: with -W above the peer's 1 s SYN/ACK timeout, a probe whose first
    # SYN/ACK was lost took the peer's copy sent a second later as its answer: rtt=1027 ms, and
    # the summary's avg 342 ms on a 0.03 ms path. Every other SYN/ACK is dropped here: probe 3's
    # first (probe 1's too, whose copy comes at 1 s, dropped as well, and whose next is after -W).
    # 0.2 s apart: probe 4's SYN/ACK (0.6 s) comes well before probe 1's copy (1 s), whatever the load.
    L = make_lab(ipv6=False)
    L.start_server(OPEN)
    L.nft(L.server_ns, "table inet tk_lose {\n chain output { type filter hook output priority 0; policy accept;\n"
                       f"  tcp sport {OPEN} tcp flags & (syn | ack) == syn | ack numgen inc mod 2 == 0 drop\n }}\n}}\n")
    objs, r = run_probe(L, ["-c", 4, "-i", "0.2", "-W", "2", f"{L.server_v4}:{OPEN}"])
    probes = {o["probe"]: o for o in objs if o["type"] == "probe"}
    s = objs[-1]
    assert [probes[n]["outcome"] for n in (1, 2, 3, 4)] == ["filtered", "open", "open", "open"], r.stdout
    assert probes[3]["rtt_ms"] > 900 and probes[3]["syn_ack_resent"] is True, probes[3]
    assert "syn_ack_resent" not in probes[2] and "syn_ack_resent" not in probes[4], r.stdout
    assert s["syn_ack_resent"] == 1 and s["rtt_max_ms"] < 100, s
    L.run_server(["nft", "delete", "table", "inet", "tk_lose"], timeout=20)
    L.nft(L.server_ns, "table inet tk_lose {\n chain output { type filter hook output priority 0; policy accept;\n"
                       f"  tcp sport {OPEN} tcp flags & (syn | ack) == syn | ack numgen inc mod 2 == 0 drop\n }}\n}}\n")
    text = L.run_client([L.tool("tcpprobe"), "-m", "syn", "-c", 4, "-i", "0.2", "-W", "2", f"{L.server_v4}:{OPEN}"],
                        timeout=30).stdout
    assert "(1 s over a normal answer: the peer's SYN/ACK sent again, its first lost; not a round trip)" in text, text
    assert "1 answer was a normal answer late by the peer's retransmission timeout" in " ".join(text.split()), text


def test_a_closed_port_whose_resets_are_rate_limited_says_so(make_lab):
    # Found by an explorer: behind a firewall passing one RST a second, a closed port read 1
    # closed, then 7 filtered and "87.5% loss", with nothing to say that the port answers.
    L = make_lab(ipv6=False)
    closed = OPEN + 1
    L.nft(L.server_ns, "table inet tk_rst {\n chain output { type filter hook output priority 0; policy accept;\n"
                       f"  tcp sport {closed} tcp flags rst limit rate over 1/second burst 1 packets drop\n }}\n}}\n")
    text = L.run_client([L.tool("tcpprobe"), "-m", "syn", "-c", 8, "-i", "0.1", "-W", "0.3", f"{L.server_v4}:{closed}"],
                        timeout=30).stdout
    words = " ".join(text.split())
    assert re.search(r"\d probes? (was|were) not answered while \d probes? drew an RST: the port is closed, and its "
                     r"RSTs are held back", words), text
    # A port that answers every probe says nothing of the kind.
    L.run_server(["nft", "delete", "table", "inet", "tk_rst"], timeout=20)
    text = L.run_client([L.tool("tcpprobe"), "-m", "syn", "-c", 3, "-i", "0.1", f"{L.server_v4}:{closed}"], timeout=30).stdout
    assert "drew an RST" not in text, text
