"""tcppath over IPv6 on the lab's chain client - r1 - r2 - r3 - server: every hop, the changes
nftables makes on r2 placed between hop 2 and hop 3 (the traffic class, the flow label the
probes share), the stop point of a firewall that drops and of one that rejects with ICMPv6, and a
rewritten sequence number (IPv6's probe id) still paired with its probe by the TSval."""
import json
import subprocess
import time

import pytest
from tcppath_run import on_r2 as on_router2, tcppath_hops, tcppath_json

PORT = 8080
TABLE = "tkpath6"


@pytest.fixture
def L(make_lab):
    lab = make_lab(routers=3, ipv6=True)
    lab.start_server(PORT, mode="hold", family="v6")
    return lab


def trace(L, tool, *args):
    return tcppath_hops(L, tool, f"[{L.server_v6}]:{PORT}", "-n", *args)


def on_r2(L, rules):
    on_router2(L, rules, TABLE)


def test_clean_path_every_hop_and_the_destination(L, tool):
    r, hops, summary = trace(L, tool)
    assert r.returncode == 0, r.stderr
    assert [h["router"] for h in hops] == L.router_v6
    for h in hops:
        assert h["answered"] == 3 and h["quote_diff"] == [] and h["partial"] == [], h
        assert h["rtt_min_ms"] > 0 and h["timestamps"] == "kernel"
        assert h["icmp"] == "hop limit exceeded in transit", h  # ICMPv6 time exceeded, code 0
    assert summary["stop"] == "reached" and summary["destination_hop"] == 4
    assert summary["answer"] == "SYN+ACK" and summary["answer_mss"] == 1440
    assert summary["ended"] == "complete"


def test_r2_rewrites_are_placed_between_hop_2_and_hop_3(L, tool):
    syn = f"tcp dport {PORT} tcp flags & (syn | ack) == syn"
    on_r2(L, f"  {syn} tcp option maxseg size set 1200\n"
             f"  {syn} reset tcp option sack-perm\n"
             f"  {syn} tcp window set 1000\n"
             f"  {syn} ip6 dscp set af11\n"
             f"  {syn} ip6 flowlabel set 4660\n")
    r, hops, summary = trace(L, tool)
    assert r.returncode == 0, r.stderr
    assert [h["router"] for h in hops] == L.router_v6
    assert hops[0]["quote_diff"] == [] and hops[1]["quote_diff"] == []
    texts = {(c["change"], c["where"]) for c in hops[2]["changes"]}
    for change in ("MSS clamped to 1200", "SACK-permitted stripped", "window 64240 -> 1000", "dscp 0 -> 10"):
        assert (change, "between hop 2 and hop 3") in texts, texts
    # Every probe carried one flow label (ECMP hashes on it); r2 set another.
    label = {d["field"]: d for d in hops[2]["quote_diff"]}["flow_label"]
    assert label["after"] == "4660" and label["before"] != "0", label
    assert "seq" not in {d["field"] for d in hops[2]["quote_diff"]}
    assert summary["stop"] == "reached" and "sackOK" not in summary["answer_options"]
    assert "MSS clamped to 1200 between hop 2 and hop 3" in summary["verdict"]


def test_a_firewall_that_drops_stops_the_syn_after_hop_2(L, tool):
    on_r2(L, f"  tcp dport {PORT} drop\n")
    r, hops, summary = trace(L, tool)
    assert r.returncode == 1, r.stderr
    assert [h["router"] for h in hops[:2]] == L.router_v6[:2]
    assert hops[2]["router"] is None and hops[2]["answered"] == 0
    assert summary["stop"] == "dropped" and summary["last_hop"] == 2 and summary["last_router"] == L.router_v6[1]


def test_a_firewall_that_rejects_is_named_with_its_router(L, tool):
    on_r2(L, f"  tcp dport {PORT} reject with icmpv6 type admin-prohibited\n")
    r, hops, summary = trace(L, tool)
    assert r.returncode == 1, r.stderr
    assert summary["stop"] == "rejected" and summary["last_router"] == L.router_v6[1], summary
    assert summary["rejection"] == "communication administratively prohibited"
    assert summary["ended"] == "complete"


def test_a_rewritten_seq_is_still_paired_by_the_tsval(L, tool):
    # IPv6 has no IP ID: the seq is the probe's id; r2 overwrites it, so hop 3's quotes are paired
    # by the TSval, and the server's SYN/ACK (ack 12346) by its TSecr.
    on_r2(L, f"  tcp dport {PORT} tcp flags & (syn | ack) == syn tcp sequence set 12345\n")
    r, hops, summary = trace(L, tool)
    assert r.returncode == 0, r.stderr
    assert [h["router"] for h in hops] == L.router_v6
    assert hops[2]["answered"] == 3, hops[2]
    assert {d["field"]: d["after"] for d in hops[2]["quote_diff"]} == {"seq": "12345"}, hops[2]
    assert summary["stop"] == "reached" and summary["destination_hop"] == 4


def test_text_output_names_the_hops(L, tool):
    r = L.run_client([tool("tcppath"), "-n", "-W", "3s", "-m", "8", f"[{L.server_v6}]:{PORT}"], timeout=60)
    assert r.returncode == 0, r.stderr
    for k, router in enumerate(L.router_v6, start=1):
        assert any(line.split()[:2] == [str(k), router] for line in r.stdout.splitlines()), r.stdout
    assert "SYN+ACK" in r.stdout


def test_a_rate_limited_hop_is_marked_not_taken_for_a_drop(L, tool):
    # r2 answers one ICMPv6 error a second (burst 1): hop 2 answers 1 of 3, the SYN goes on.
    L.nft(L.router_ns[1], "table ip6 tkrl {\n chain out { type filter hook output priority 0; policy accept;\n"
                          "  icmpv6 type time-exceeded limit rate over 1/second burst 1 packets drop\n }\n}\n")
    r, hops, summary = trace(L, tool)
    assert r.returncode == 0, r.stderr
    assert [h["answered"] for h in hops] == [3, 1, 3], hops
    assert [h["rate_limited"] for h in hops] == [False, True, False], hops
    assert summary["stop"] == "reached" and summary["destination_hop"] == 4
    time.sleep(1.5)  # r2's one answer a second comes back
    text = L.run_client([tool("tcppath"), "-n", "-W", "3s", "-m", "8", f"[{L.server_v6}]:{PORT}"], timeout=60)
    hop2 = [line for line in text.stdout.splitlines() if line.startswith(" 2  ")]
    assert hop2 and hop2[0].endswith("rate-limited"), text.stdout


def test_flows_over_ipv6_each_pair_only_their_own_quotes(L, tool):
    # Every flow's capture sees every router's answers to all the flows. Over IPv6 a probe is
    # named by its seq, or where that was rewritten by its TSval; the flows' TSvals once counted
    # from one base, so another flow's quote was taken by its TSval and shown as a rewrite of
    # the source port, the seq and the TSval at a hop where nothing changes anything.
    for ns in L.router_ns:
        L.sysctl(ns, "net.ipv6.icmp.ratelimit", 0)
    r, objects = tcppath_json(L, tool, f"[{L.server_v6}]:{PORT}", "-n", "--flows", "8", "-q", "1",
                              "--router-burst", "16", max_hops=6)
    assert r.returncode == 0, r.stderr
    summary = objects[-1]
    assert summary["flows"] == 8 and summary["reached"] == 8, summary
    assert summary["changes"] == [], summary["changes"]
    assert summary["paths"] == 1 and summary["diverge_after"] is None, summary
    for hop, router in zip(summary["hops"], L.router_v6):
        assert [x["router"] for x in hop["routers"]] in ([router], []), summary["hops"]


def test_two_runs_at_once_pair_only_their_own_quotes(L, tool):
    # Found: a run to a port r2 drops took r3's answers to another run's probes (to a port that
    # goes through) by their TSvals, which counted from 1 in every run: it showed hop 3 with
    # rewrites of the ports, the seq and the flow label, and the drop one hop too far.
    L.start_server(443, mode="hold", family="v6")
    on_r2(L, "  tcp dport 443 drop\n")
    for ns in L.router_ns:
        L.sysctl(ns, "net.ipv6.icmp.ratelimit", 0)
    dropped = L.popen_client([tool("tcppath"), "--json", "-n", "-m", "6", "-W", "2s", f"[{L.server_v6}]:443"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # the first run is in its 2 s wait, its capture open, even on a loaded machine
    r, _, other = trace(L, tool)
    out, err = dropped.communicate(timeout=60)
    assert r.returncode == 0 and other["stop"] == "reached", (r.stdout, r.stderr)
    assert dropped.returncode == 1, err
    objects = [json.loads(line) for line in out.splitlines()]
    hops, summary = [o for o in objects if o["type"] == "hop"], objects[-1]
    assert summary["stop"] == "dropped" and summary["last_hop"] == 2, summary
    assert all(h["changes"] == [] for h in hops), hops
    assert hops[2]["router"] is None and hops[2]["answered"] == 0, hops[2]


def text_lines(L, tool):
    r = L.run_client([tool("tcppath"), "-n", "-W", "2s", "-m", "6", f"[{L.server_v6}]:{PORT}"], timeout=60)
    assert r.stdout, r.stderr
    return r.stdout.splitlines()


def test_rows_of_a_rejecting_and_a_silent_hop_fit_80_columns(L, tool):
    # Found: " 3  fd00:..:1::2  0.004/0.006/0.010 ms  3/3  communication administratively prohibited"
    # passed 80 columns; a silent hop's row is 80 exactly.
    on_r2(L, f"  tcp dport {PORT} reject with icmpv6 type admin-prohibited\n")
    lines = text_lines(L, tool)
    assert all(len(line) <= 80 for line in lines), "\n".join(lines)
    # r2 answers the TTL-3 probes with the rejection: the row of hop 3, its words under it.
    row = next(i for i, line in enumerate(lines) if line.startswith(" 3  "))
    assert lines[row + 1] == "      communication administratively prohibited", lines
    L.nft(L.router_ns[1], "flush ruleset\n")
    L.nft(L.router_ns[1], "table ip6 tkquiet {\n chain out { type filter hook output priority 0; policy accept;\n"
                          "  icmpv6 type time-exceeded drop\n }\n}\n")
    lines = text_lines(L, tool)
    assert all(len(line) <= 80 for line in lines), "\n".join(lines)
    assert lines[2] == " 2  *  (no answer to 3 probes; the SYN went on: a silent or rate-limited router)", lines
