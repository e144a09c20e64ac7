"""More of what middleboxes do to a SYN, each named at the right pair of hops: timestamps reset
to NOPs (one removal, not NOPs added), a rule in r2's prerouting hook, which acts before r2
checks the TTL, so r2's own quote already shows it (between hop 1 and hop 2), ECN's ECE and CWR
cleared (--ecn), and the options reordered (by a user-space middlebox on r2: nftables cannot)."""
import os
import re
import subprocess
import sys

import pytest
from tcppath_run import tcppath_hops

PORT = 8080
REORDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab", "reorder_router.py")
SYN = f"tcp dport {PORT} tcp flags & (syn | ack) == syn"


@pytest.fixture
def L(make_lab):
    lab = make_lab(routers=3, ipv6=False)
    lab.start_server(PORT, mode="hold", family="v4")
    return lab


def trace(L, tool, *args):
    r, hops, summary = tcppath_hops(L, tool, f"{L.server_v4}:{PORT}", "-n", *args, wait="2s", max_hops=6)
    assert r.returncode == 0, (r.stdout, r.stderr)
    return hops, summary


def test_timestamps_reset_to_nops_is_one_removal(L, tool):
    L.nft(L.router_ns[1], f"table inet tkrw {{\n chain fw {{ type filter hook forward priority 0; policy accept;\n"
                          f"  {SYN} reset tcp option timestamp\n }}\n}}\n")
    hops, summary = trace(L, tool)
    assert [(c["change"], c["where"]) for c in hops[2]["changes"]] == [("timestamps stripped", "between hop 2 and hop 3")]
    assert [(d["field"], d["after"]) for d in hops[2]["quote_diff"]] == [("options", "")], hops[2]["quote_diff"]
    assert re.fullmatch(r"TS val \d+ ecr 0", hops[2]["quote_diff"][0]["before"]), hops[2]
    # The server saw no timestamps: its SYN/ACK has none either.
    assert "TS" not in summary["answer_options"]


def test_a_prerouting_rule_shows_in_the_routers_own_quote(L, tool):
    L.nft(L.router_ns[1], f"table inet tkrw {{\n chain pre {{ type filter hook prerouting priority -150; policy accept;\n"
                          f"  {SYN} tcp window set 1000\n }}\n}}\n")
    hops, summary = trace(L, tool)
    assert hops[0]["changes"] == []
    assert [(c["change"], c["where"]) for c in hops[1]["changes"]] == [("window 64240 -> 1000", "between hop 1 and hop 2")]
    assert hops[2]["changes"] == []  # the same change, already placed
    assert "window 64240 -> 1000 between hop 1 and hop 2" in summary["verdict"]


def test_ecn_setup_flags_cleared_by_a_middlebox(L, tool):
    # --ecn sends ECE and CWR with the SYN (RFC 3168; nft calls ECE "ecn"); r2 clears them, as some firewalls do. The
    # server then never sees an ECN request: its SYN/ACK carries no ECE.
    L.nft(L.router_ns[1], f"table inet tkrw {{\n chain fw {{ type filter hook forward priority 0; policy accept;\n"
                          f"  tcp dport {PORT} tcp flags & (syn | ecn | cwr) == syn | ecn | cwr tcp flags set syn\n }}\n}}\n")
    hops, summary = trace(L, tool, "--ecn")
    assert hops[0]["quote_diff"] == [] and hops[1]["quote_diff"] == [], hops[:2]
    assert [(d["field"], d["before"], d["after"]) for d in hops[2]["quote_diff"]] == [("flags", "SEW", "S")], hops[2]
    assert [(c["change"], c["where"]) for c in hops[2]["changes"]] == [("ECE and CWR cleared", "between hop 2 and hop 3")]
    assert "ECE and CWR cleared between hop 2 and hop 3" in summary["verdict"]
    assert summary["answer"] == "SYN+ACK", summary


def test_ecn_setup_flags_untouched_reach_the_server(L, tool):
    hops, summary = trace(L, tool, "--ecn")
    assert all(h["quote_diff"] == [] for h in hops), hops
    assert summary["answer"] == "SYN+ACK+ECE", summary  # Linux agrees to ECN when asked (tcp_ecn=2)


def test_options_reordered_by_a_middlebox_are_moves_not_changes(L, tool):
    # r2 rebuilds the option list in an order of its own (tests/lab/reorder_router.py sends each
    # SYN on with its options rotated; the kernel's own copy is dropped): every option is still
    # there, byte for byte, and each that changed place is named as moved, between hop 2 and 3.
    L.nft(L.router_ns[1], f"table inet tkrw {{\n chain fw {{ type filter hook forward priority 0; policy accept;\n"
                          f"  {SYN} drop\n }}\n}}\n")
    proc = L._popen(L.router_ns[1], [sys.executable, REORDER, "--iface", "tkl", "--port", PORT, "--max-seconds", 30],
                    stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    hops, summary = trace(L, tool)
    assert hops[0]["changes"] == [] and hops[1]["changes"] == [], hops[:2]
    changes = {(c["change"], c["where"]) for c in hops[2]["changes"]}
    assert changes and all(change.endswith(" moved") and where == "between hop 2 and hop 3" for change, where in changes), changes
    assert not any("stripped" in c or "added" in c for c, _ in changes), changes
    assert {d["field"] for d in hops[2]["quote_diff"]} == {"options"}, hops[2]["quote_diff"]
    assert summary["stop"] == "reached" and summary["answer"] == "SYN+ACK", summary
    assert "moved between hop 2 and hop 3" in summary["verdict"], summary["verdict"]


def dnat_on_r2(L, rule):
    L.nft(L.router_ns[1], "table ip tknat {\n chain pre { type nat hook prerouting priority -100; policy accept;\n"
                          f"  {rule}\n }}\n}}\n")


def test_a_port_forward_gives_the_hops_beyond_it_the_address_probed(L, tool):
    # r2 forwards port 80 to the server's 8080. Linux conntrack translates each ICMP error that
    # comes back through it: the quote back to what we sent, and the outer source to the address
    # we probed. Hops 2 and 3 (r2 and r3) then answered "from the destination", and the verdict
    # said nothing of it.
    dnat_on_r2(L, f"ip daddr {L.server_v4} tcp dport 80 dnat to :{PORT}")
    r, hops, summary = tcppath_hops(L, tool, f"{L.server_v4}:80", "-n", wait="2s", max_hops=6)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert [h["router"] for h in hops] == [L.router_v4[0], L.server_v4, L.server_v4], hops
    assert [h.get("nat_rewritten", False) for h in hops] == [False, True, True], hops
    assert summary["nat_rewritten_hops"] == [2, 3] and summary["stop"] == "reached", summary
    assert "a destination NAT (port forwarding), likely at hop 2" in summary["verdict"], summary
    assert summary["verdict"].startswith("no change to the SYN seen (a NAT translates the quotes back"), summary
    text = L.run_client([tool("tcppath"), "-n", "-W", "2s", "-m", "6", f"{L.server_v4}:80"], timeout=60).stdout
    assert text.count("the address probed: a NAT's rewrite") == 2, text
    assert max(len(line) for line in text.splitlines()) <= 80, text


def test_a_drop_beyond_a_port_forward_names_no_router_by_the_rewritten_address(L, tool):
    # r2's own address, port 80, forwarded to the server, where the SYNs are dropped: the verdict
    # was "dropped after hop 3 (last answer from <r2>)", and hop 3 is r3.
    dnat_on_r2(L, f"ip daddr {L.router_v4[1]} tcp dport 80 dnat to {L.server_v4}:{PORT}")
    L.drop_ports([PORT])
    r, hops, summary = tcppath_hops(L, tool, f"{L.router_v4[1]}:80", "-n", wait="2s", max_hops=6)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert summary["stop"] == "dropped" and summary["last_hop"] == 3, summary
    assert summary["nat_rewritten_hops"] == [2, 3], summary
    assert "the NAT rewrote its address" in summary["verdict"], summary
    assert "last answer from" not in summary["verdict"], summary


def test_id_and_seq_both_rewritten_the_tsval_pairs_the_quotes(L, tool):
    # pf's random-id with sequence modulation: neither the IP ID nor the seq names the probe in
    # the quotes of the hops beyond it. Found: hop 3 shown silent although r3 answered every
    # probe, and "no change to the SYN seen". The TSval, random per run, pairs them.
    L.nft(L.router_ns[1], f"table inet tkrw {{\n chain fw {{ type filter hook forward priority 0; policy accept;\n"
                          f"  {SYN} ip id set 0 tcp sequence set 12345\n }}\n}}\n")
    hops, summary = trace(L, tool)
    assert [h["router"] for h in hops[:3]] == L.router_v4, hops
    assert hops[2]["answered"] == 3, hops[2]
    changes = {c["change"].split()[0] for c in hops[2]["changes"]}
    assert {"ip_id", "seq"} <= changes, hops[2]["changes"]
    assert all(c["where"] == "between hop 2 and hop 3" for c in hops[2]["changes"]), hops[2]["changes"]
    assert "no change to the SYN seen" not in summary["verdict"], summary["verdict"]


def test_an_answer_that_names_no_probe_is_placed_by_its_ttl(L, tool):
    # The same rewriter with no timestamps to go by: r3's quotes name no probe, nor does the
    # server's SYN/ACK. Found: the destination put at hop 3 (after the last hop that answered)
    # and "a router at hop 2 or 3 may raise the TTL" said of a TTL that was right.
    L.nft(L.router_ns[1], f"table inet tkrw {{\n chain fw {{ type filter hook forward priority 0; policy accept;\n"
                          f"  {SYN} ip id set 0 tcp sequence set 12345\n }}\n}}\n")
    hops, summary = trace(L, tool, "--options", "none")
    assert summary["stop"] == "reached" and summary["destination_hop"] == 4, summary
    assert "answered_from_further_hop" not in summary and "normalisation" not in summary["verdict"], summary
    assert [h["router"] for h in hops] == L.router_v4[:2] + [None], hops
    assert hops[2]["passed"], hops[2]


def test_a_syn_rate_limit_before_the_last_hop_is_named_as_a_possible_drop_point(L, tool):
    # r2 lets one SYN through, then drops them: of hop 3's probes one reached r3, which answered
    # it; none went further. Found: "dropped after hop 3" with nothing said of r2's limit.
    L.nft(L.router_ns[1], f"table inet tkrl {{\n chain fw {{ type filter hook forward priority 0; policy accept;\n"
                          f"  {SYN} limit rate over 1/minute burst 1 packets drop\n }}\n}}\n")
    r, hops, summary = tcppath_hops(L, tool, f"{L.server_v4}:{PORT}", "-n", wait="2s", max_hops=6)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert summary["stop"] == "dropped" and summary["last_hop"] == 3 and hops[2]["answered"] == 1, (summary, hops)
    assert "hop 3 answered 1 of 3 probes: its ICMP rate limit, or a firewall at hop 2 or nearer" in summary["verdict"], \
        summary["verdict"]
