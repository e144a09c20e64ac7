"""tcppath over a chain client - r1 - r2 - r3 - server of Linux routers (default ICMP rate
limits): every hop's address, each change nftables makes on r2 placed between hop 2 and hop 3,
the destination's answer, and the stop point of a firewall that drops and of one that rejects."""
import json
import re
import signal
import subprocess
import time

import pytest
from tcppath_run import on_r2 as on_router2, tcppath_hops

PORT = 8080
TABLE = "tkpath"


@pytest.fixture
def L(make_lab):
    lab = make_lab(routers=3, ipv6=False)
    lab.start_server(PORT, mode="hold", family="v4")
    return lab


def trace(L, tool, *args, **kw):
    return tcppath_hops(L, tool, f"{L.server_v4}:{PORT}", *args, **kw)


def on_r2(L, rules):
    on_router2(L, rules, TABLE)


def test_clean_path_every_hop_and_the_destination(L, tool):
    r, hops, summary = trace(L, tool)
    assert r.returncode == 0, r.stderr
    assert [h["router"] for h in hops] == L.router_v4
    for h in hops:
        assert h["answered"] >= 1 and h["quote_diff"] == [] and h["partial"] == [], h
        assert h["rtt_min_ms"] > 0 and h["timestamps"] == "kernel"
    assert summary["stop"] == "reached" and summary["destination_hop"] == 4
    assert summary["answer"] == "SYN+ACK" and summary["answer_mss"] == 1460
    assert summary["verdict"].startswith("no change to the SYN seen; the SYN reached " + L.server_v4)
    # Every answer was in: it did not sit out the 3 s wait (the destination answers last).
    assert summary["ended"] == "complete"


def test_r2_rewrites_are_each_placed_between_hop_2_and_hop_3(L, tool):
    # Only the SYN (towards the port): the SYN/ACK comes back untouched, as the server sent it.
    syn = f"tcp dport {PORT} tcp flags & (syn | ack) == syn"
    on_r2(L, f"  {syn} tcp option maxseg size set 1200\n"
             f"  {syn} reset tcp option sack-perm\n"
             f"  {syn} tcp window set 1000\n"
             f"  {syn} ip dscp set af11\n")
    r, hops, summary = trace(L, tool)
    assert r.returncode == 0, r.stderr
    assert [h["router"] for h in hops] == L.router_v4
    assert hops[0]["quote_diff"] == [] and hops[1]["quote_diff"] == []
    texts = {(c["change"], c["where"]) for c in hops[2]["changes"]}
    assert ("MSS clamped to 1200", "between hop 2 and hop 3") in texts, texts
    assert ("SACK-permitted stripped", "between hop 2 and hop 3") in texts, texts
    assert ("window 64240 -> 1000", "between hop 2 and hop 3") in texts, texts
    assert ("dscp 0 -> 10", "between hop 2 and hop 3") in texts, texts
    assert all(c["from_hop"] == 2 and c["to_hop"] == 3 for c in hops[2]["changes"])
    # nft resets SACK-permitted to two NOPs: one change, not also "nop added" twice.
    assert not any(c["change"].startswith("NOP") or "nop" in c["change"] for c in hops[2]["changes"]), hops[2]
    fields = {d["field"] for d in hops[2]["quote_diff"]}
    assert "ecn" not in fields and "seq" not in fields and "sport" not in fields
    assert summary["stop"] == "reached" and summary["answer"] == "SYN+ACK"
    # The server saw the clamped MSS and no SACK-permitted: its SYN/ACK answers in kind.
    assert summary["answer_mss"] == 1460 and "sackOK" not in summary["answer_options"]
    assert "MSS clamped to 1200 between hop 2 and hop 3" in summary["verdict"]


def test_ecn_rewrite_is_its_own_field(L, tool):
    on_r2(L, f"  tcp dport {PORT} ip ecn set ect1\n")
    r, hops, summary = trace(L, tool)
    assert r.returncode == 0, r.stderr
    assert [(d["field"], d["before"], d["after"]) for d in hops[2]["quote_diff"]] == [("ecn", "0", "1")]
    assert hops[2]["changes"][0]["where"] == "between hop 2 and hop 3"


def test_a_firewall_that_drops_stops_the_syn_after_hop_2(L, tool):
    on_r2(L, f"  tcp dport {PORT} drop\n")
    r, hops, summary = trace(L, tool)
    assert r.returncode == 1, r.stderr
    assert [h["router"] for h in hops[:2]] == L.router_v4[:2]
    assert hops[2]["router"] is None and hops[2]["answered"] == 0 and hops[2]["passed"] is False
    assert summary["stop"] == "dropped" and summary["last_hop"] == 2 and summary["last_router"] == L.router_v4[1]
    assert "answer" not in summary
    assert summary["verdict"] == (f"the SYN is dropped after hop 2 (last answer from {L.router_v4[1]}), or what "
                                  "answered it from further on was dropped on the way back (a firewall that drops "
                                  "the SYN/ACK looks the same from here); a SYN sent again 1 s later, when a "
                                  "router's ICMP rate limit would let an answer through, drew nothing either")
    assert summary["ended"] == "wait over"  # silence never proves the trace complete


def test_a_syn_ack_dropped_on_the_way_back_is_not_said_to_be_a_drop_of_the_syn(L, tool):
    # r2 forwards the SYN to the server and drops what it answers on the way back (its SYN/ACK,
    # and the RST a later SYN of the trace draws): the SYN got through, yet the verdict said "the
    # SYN is dropped after hop 3" and nothing more.
    on_r2(L, f"  tcp sport {PORT} drop\n")
    L.nft(L.server_ns, "table inet tkseen {\n chain input { type filter hook input priority 0; "
                       f"tcp dport {PORT} tcp flags syn counter\n }}\n}}\n")
    r, hops, summary = trace(L, tool)
    assert r.returncode == 1, r.stderr
    assert [h["router"] for h in hops[:3]] == L.router_v4, hops
    assert summary["stop"] == "dropped" and summary["last_hop"] == 3, summary
    assert "or what answered it from further on was dropped on the way back" in summary["verdict"], summary
    # The truth: the SYNs reached the server.
    counted = L.run_server(["nft", "list", "table", "inet", "tkseen"]).stdout
    assert re.search(r"counter packets [1-9]", counted), counted


def test_a_router_that_rewrites_the_ip_id_loses_no_hop(L, tool):
    # r2 sets every SYN's IP ID to 0: r3's quotes named no probe by ID, so hop 3 was silent
    # ("the SYN went on: a silent router"), and with a drop beyond, the drop was placed at hop 1.
    on_r2(L, f"  tcp dport {PORT} ip id set 0\n")
    r, hops, summary = trace(L, tool)
    assert r.returncode == 0, r.stderr
    assert [h["router"] for h in hops] == L.router_v4, hops
    assert all(h["answered"] >= 1 for h in hops), hops
    assert summary["stop"] == "reached" and summary["destination_hop"] == 4, summary
    # And the rewrite itself is placed, as any other change of the SYN.
    assert [(c["change"].split()[0], c["where"]) for c in hops[2]["changes"]] == [("ip_id", "between hop 2 and hop 3")], hops
    assert hops[2]["changes"][0]["change"].endswith("-> 0"), hops
    L.drop_ports([PORT])
    r, hops, summary = trace(L, tool)
    assert summary["stop"] == "dropped" and summary["last_hop"] == 3, summary


def test_a_router_whose_icmp_budget_went_on_time_exceeded_is_still_seen_rejecting(L, tool):
    # r2 rejects the SYN, but -q 6 spends its ICMP burst (6) on the time exceeded of hop 2's
    # probes: no rejection came, and the trace said "dropped after hop 2" (3 runs of 3).
    on_r2(L, f"  tcp dport {PORT} reject with icmp type admin-prohibited\n")
    r, hops, summary = trace(L, tool, "-q", "6")
    assert r.returncode == 1, r.stderr
    assert summary["stop"] == "rejected" and summary["last_hop"] == 2, summary
    assert summary["last_router"] == L.router_v4[1], summary
    assert summary["verdict"].endswith("(seen on a SYN sent again 1 s later: the router's ICMP rate limit had held "
                                       "its answers to the first ones back)"), summary


def test_a_path_longer_than_max_hops_is_no_drop(L, tool):
    # -m 2 on a path of 4: hop 2 still sends time exceeded, so nothing dropped the SYN there
    # (it was said "dropped after hop 2").
    r, hops, summary = trace(L, tool, max_hops=2)
    assert r.returncode == 1, r.stderr  # the destination did not answer
    assert [h["router"] for h in hops] == L.router_v4[:2]
    assert summary["stop"] == "past max hops" and summary["last_hop"] == 2, summary
    assert "dropped" not in summary["verdict"], summary
    assert summary["verdict"].endswith(f"the SYN went on past hop 2 (last answer from {L.router_v4[1]}), the last "
                                       "hop probed: the destination is further away (a larger -m reaches it)")
    # A drop within the hops probed is still a drop.
    on_r2(L, f"  tcp dport {PORT} drop\n")
    r, hops, summary = trace(L, tool, max_hops=3)
    assert summary["stop"] == "dropped" and summary["last_hop"] == 2, summary


def test_a_reset_sent_by_a_firewall_in_the_destinations_name_is_not_taken_for_the_destination(L, tool):
    # nft's `reject with tcp reset` on r2 answers the SYN with an RST from the server's address.
    # tcppath said "the SYN reached <server>, which answered RST+ACK" at hop 3 (it is at hop 4):
    # the answer's TTL (63: one router back) gives the firewall away.
    on_r2(L, f"  tcp dport {PORT} reject with tcp reset\n")
    r, hops, summary = trace(L, tool)
    assert summary["stop"] == "reached" and summary["destination_hop"] == 3, summary
    assert summary["answer_ttl"] == 63 and summary["answered_from_hop"] == 2, summary
    assert "the SYN reached" not in summary["verdict"], summary
    assert "came from hop 2: a middlebox there" in summary["verdict"], summary
    assert "answered_from_silent_hop" not in summary, summary  # r2 answered its own probes
    # A server whose initial TTL is unusual gives the same sign: the verdict names it too (found
    # by an explorer: ip_default_ttl 65 read "a middlebox ... the SYN may not have reached it").
    assert "or the destination starts from an unusual TTL, not 64, 128 or 255" in summary["verdict"], summary
    # Without the firewall, the server's own answer (TTL 61, hop 4) is taken as it is.
    L.nft(L.router_ns[1], f"delete table inet {TABLE}\n")
    time.sleep(1.5)  # the routers' ICMP budgets refill
    r, hops, summary = trace(L, tool)
    assert summary["destination_hop"] == 4 and summary["answer_ttl"] == 61, summary
    assert "answered_from_hop" not in summary and summary["verdict"].startswith("no change to the SYN seen; the SYN reached"), summary


def test_a_destination_with_an_unusual_initial_ttl_is_named_beside_a_middlebox(L, tool):
    # Found by an explorer: a server with ip_default_ttl 65 at hop 4 answered with TTL 62 ("sent
    # from hop 3?"), and the verdict blamed a middlebox at hop 3 and said the SYN may not have
    # reached the server; its TTL alone cannot tell the two apart, so both are named.
    L.sysctl(L.server_ns, "net.ipv4.ip_default_ttl", 65)
    r, hops, summary = trace(L, tool)
    assert summary["destination_hop"] == 4 and summary["answer_ttl"] == 62, summary
    assert summary["answered_from_hop"] == 3, summary
    assert "or the destination starts from an unusual TTL, not 64, 128 or 255" in summary["verdict"], summary


def test_a_router_that_raises_the_ttl_is_seen_in_the_answers_ttl(L, tool):
    # r2 sets the SYN's TTL to 64 after its own expiry check: TTL 3 already reaches the server
    # (hop 4) and r3 never shows. The verdict said "the SYN reached" at hop 3, nothing more.
    on_r2(L, f"  tcp dport {PORT} ip ttl set 64\n")
    r, hops, summary = trace(L, tool)
    assert r.returncode == 0, r.stderr
    assert summary["stop"] == "reached" and summary["destination_hop"] == 3, summary
    assert summary["answer_ttl"] == 61 and summary["answered_from_further_hop"] == 4, summary
    assert "answered_from_hop" not in summary, summary
    assert ("says it came from hop 4, further than hop 3 where our SYN first reached it: a router at hop 2 or "
            "3 may raise the TTL") in summary["verdict"], summary
    text = L.run_client([tool("tcppath"), "-n", "-W", "3s", f"{L.server_v4}:{PORT}"], timeout=60).stdout
    assert "ttl 61: sent from hop 4?" in text, text


def test_a_router_that_raises_the_ttl_before_its_own_expiry_check_is_not_placed_nearer(L, tool):
    # nft at prerouting raises the TTL before r2's own check: TTL 2 already gets through, the
    # destination shows at hop 2, and the verdict put the raise at "hop 1 or nearer".
    L.nft(L.router_ns[1], f"table inet {TABLE} {{\n chain pre {{ type filter hook prerouting priority -300; "
                          f"policy accept;\n  tcp dport {PORT} ip ttl set 64\n }}\n}}\n")
    r, hops, summary = trace(L, tool)
    assert summary["stop"] == "reached" and summary["destination_hop"] == 2, summary
    assert "a router at hop 1 or 2 may raise the TTL" in summary["verdict"], summary


def test_a_router_that_sets_the_ttl_both_ways_is_named_beside_a_middlebox(L, tool):
    # Found by an explorer: r1 sets the TTL of everything it forwards to 64, both ways (postrouting).
    # The SYN of TTL 2 reaches the server, and its SYN/ACK comes back with r1's 64: "sent from hop
    # 1", and the verdict said a middlebox there "likely answered for it" with no word of the TTL
    # normalisation that does the same (the server capture had every SYN).
    L.nft(L.router_ns[0], f"table inet {TABLE} {{\n chain post {{ type filter hook postrouting priority 0; "
                          "policy accept;\n  ip ttl set 64\n }\n}\n")
    r, hops, summary = trace(L, tool)
    assert summary["stop"] == "reached" and summary["destination_hop"] == 2, summary
    assert summary["answer_ttl"] == 64 and summary["answered_from_hop"] == 1, summary
    assert "likely" not in summary["verdict"], summary
    assert "may have answered for it" in summary["verdict"], summary
    assert "a router there sets the TTL of what it forwards both ways (TTL normalisation)" in summary["verdict"], summary


def test_answers_lost_at_the_destinations_hop_name_no_middlebox(L, tool):
    # The server drops the SYNs that reach it with TTL 1 (those of TTL 4, its hop), as a lossy
    # link loses them: the TTL-5 probes draw the SYN/ACK, whose TTL says hop 4, and hop 4 is
    # silent. tcppath blamed "a middlebox there" that no probe had ever heard from.
    L.nft(L.server_ns, "table inet tkttl1 {\n chain input { type filter hook input priority 0; policy accept;\n"
                       f"  ip ttl 1 tcp dport {PORT} drop\n }}\n}}\n")
    r, hops, summary = trace(L, tool)
    assert r.returncode == 0, r.stderr
    assert [h["router"] for h in hops] == L.router_v4 + [None], hops
    assert summary["stop"] == "reached" and summary["destination_hop"] == 5, summary
    assert summary["answered_from_hop"] == 4 and summary["answered_from_silent_hop"] is True, summary
    assert "middlebox there" not in summary["verdict"], summary
    assert "where nothing answered our probes: the destination may be there" in summary["verdict"], summary
    # The text report fits 80 columns: the silent hop, the destination's line and the verdict
    # (each of them was wider).
    r = L.run_client([tool("tcppath"), "-n", "-W", "3s", "-m", "8", f"{L.server_v4}:{PORT}"], timeout=60)
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, r.stdout
    # The header counts the hop rows; the destination's line is not one of them (it was "4 hops shown").
    assert lines[0].endswith(" 4 hops before it, source port " + lines[0].rsplit(" ", 1)[1]), r.stdout
    assert " 4  *  (no answer to 3 probes; the SYN went on: a silent or rate-limited router)" in lines, r.stdout
    assert any(line.startswith(f" 5  {L.server_v4}  SYN+ACK") and "ttl 61: sent from hop 4?" in line
               for line in lines), r.stdout
    assert any(line.startswith("      [mss ") for line in lines), r.stdout


def test_a_firewall_that_rejects_is_named_with_its_router(L, tool):
    on_r2(L, f"  tcp dport {PORT} reject with icmp type admin-prohibited\n")
    r, hops, summary = trace(L, tool)
    assert r.returncode == 1, r.stderr
    assert summary["stop"] == "rejected", summary
    assert summary["last_router"] == L.router_v4[1] and summary["last_hop"] == 2
    assert summary["rejection"] == "communication administratively prohibited"
    assert summary["verdict"] == (f"the SYN is rejected at hop 2 by {L.router_v4[1]} "
                                  "(communication administratively prohibited)")
    assert summary["ended"] == "complete"


def test_a_rewritten_seq_and_source_port_do_not_lose_the_hop(L, tool):
    # Paired by IP ID: the quote's seq and port are no longer ours, the hop is still hop 3.
    on_r2(L, f"  tcp dport {PORT} tcp flags & (syn | ack) == syn tcp sequence set 12345\n"
             f"  tcp dport {PORT} tcp flags & (syn | ack) == syn tcp sport set 4242\n")
    r, hops, summary = trace(L, tool)
    assert [h["router"] for h in hops[:3]] == L.router_v4
    fields = {d["field"]: d["after"] for d in hops[2]["quote_diff"]}
    assert fields == {"seq": "12345", "sport": "4242"}, hops[2]
    assert {c["where"] for c in hops[2]["changes"]} == {"between hop 2 and hop 3"}
    assert hops[2]["answered"] == 3


def test_ctrl_c_gives_the_partial_trace_marked_interrupted(L, tool):
    on_r2(L, f"  tcp dport {PORT} drop\n")
    proc = L.popen_client([tool("tcppath"), "--json", "-W", "30s", "-m", "6", f"{L.server_v4}:{PORT}"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    objects = [json.loads(line) for line in out.splitlines()]
    summary = objects[-1]
    assert proc.returncode == 1, err
    assert summary["type"] == "summary" and summary["ended"] == "interrupted", summary
    assert summary["stop"] == "dropped" and summary["last_hop"] == 2


def test_a_seq_rewriter_that_does_not_translate_the_ack_back_still_reaches(L, tool):
    # nft rewrites the SYN's seq and leaves the SYN/ACK's ack alone: its ack names no probe, its
    # TSecr still does. Before, the answer was ignored and the SYN reported dropped after hop 3.
    on_r2(L, f"  tcp dport {PORT} tcp flags & (syn | ack) == syn tcp sequence set 12345\n")
    r, hops, summary = trace(L, tool)
    assert r.returncode == 0, (r.stderr, summary)
    assert summary["stop"] == "reached" and summary["answer"] == "SYN+ACK" and summary["destination_hop"] == 4


def test_an_answer_whose_ack_names_no_syn_still_reaches(L, tool):
    # The same rewriter, and SYNs without timestamps: neither the ack nor a TSecr names a probe.
    # The SYN/ACKs came back and were ignored: "dropped after hop 3", exit 1.
    on_r2(L, f"  tcp dport {PORT} tcp flags & (syn | ack) == syn tcp sequence set 12345\n")
    r, hops, summary = trace(L, tool, "--options", "none")
    assert r.returncode == 0, (r.stderr, summary)
    assert summary["stop"] == "reached" and summary["answer"] == "SYN+ACK", summary
    assert summary["answer_unpaired"] is True and summary["destination_hop"] == 4, summary
    assert "its ack names none of our SYNs" in summary["verdict"], summary
    r = L.run_client([tool("tcppath"), "-n", "-W", "3s", "-m", "8", "--options", "none",
                      f"{L.server_v4}:{PORT}"], timeout=60)
    assert "SYN+ACK (ack names no SYN of ours)" in r.stdout, r.stdout


def test_a_port_rewritten_on_the_way_and_not_back_still_reaches(L, tool):
    # r2 sends the SYN to port 8081 (stateless: the answer's port is left alone); the server there
    # answers from 8081. tcppath listened for port 8080 only: "dropped after hop 3".
    L.start_server(PORT + 1, mode="hold", family="v4")
    on_r2(L, f"  tcp dport {PORT} tcp dport set {PORT + 1}\n")
    r, hops, summary = trace(L, tool)
    assert r.returncode == 0, (r.stderr, summary)
    assert summary["stop"] == "reached" and summary["answer"] == "SYN+ACK", summary
    assert summary["answer_port"] == PORT + 1 and "answer_unpaired" not in summary, summary
    assert f"it answered from port {PORT + 1}, not port {PORT}" in summary["verdict"], summary
    assert {c["where"] for c in hops[2]["changes"]} == {"between hop 2 and hop 3"}, hops[2]


def test_a_silent_last_router_is_a_silent_hop_not_the_destination(L, tool):
    # r3 sends no time exceeded: the destination's ack says which TTL reached it (4), so hop 3 is
    # shown silent. Before, the destination was put right after the last router that answered.
    L.nft(L.router_ns[2], "table ip tksilent {\n chain out { type filter hook output priority 0; policy accept;\n"
                          "  icmp type time-exceeded drop\n }\n}\n")
    for options in ([], ["--options", "none"]):  # the ack names the probe with or without TSecr
        r, hops, summary = trace(L, tool, *options)
        assert r.returncode == 0, r.stderr
        assert [h["router"] for h in hops] == L.router_v4[:2] + [None], hops
        assert hops[2]["answered"] == 0 and hops[2]["passed"] is True  # the SYN went on past it
        assert summary["stop"] == "reached" and summary["destination_hop"] == 4, summary


def test_an_open_port_whose_first_syn_ack_was_lost_is_open(L, tool):
    # Every probe is one 4-tuple: with the first SYN/ACK lost, the next SYN met the half-open
    # connection and drew an RST, and the trace said the destination "answered RST+ACK" while
    # later probes drew SYN/ACKs. The server drops its own first SYN/ACK (a quota of one frame).
    L.nft(L.server_ns, "table inet tklose {\n chain o { type filter hook output priority 0; policy accept;\n"
                       f"  tcp sport {PORT} tcp flags & (syn | ack) == syn | ack quota until 60 bytes drop\n }}\n}}\n")
    r, hops, summary = trace(L, tool)
    assert r.returncode == 0, r.stderr
    assert summary["stop"] == "reached" and summary["answer"] == "SYN+ACK", summary
    assert summary["verdict"].startswith("no change to the SYN seen; the SYN reached " + L.server_v4), summary


def test_a_host_gone_from_the_link_is_named_as_tcpprobe_names_it(make_lab, tool):
    # Found by an explorer: an unused address on the client's own link read only "no hop and not
    # the destination answered", where tcpprobe and tcpscan said the SYNs never left (no ARP).
    L = make_lab(ipv6=False, prime_neighbours=False)
    gone = L.server_v4.rsplit(".", 1)[0] + ".77"
    r, hops, summary = tcppath_hops(L, tool, f"{gone}:{PORT}", wait="1s", max_hops=2)
    assert r.returncode == 1, r.stderr
    assert summary["stop"] == "no answer" and summary.get("next_hop_unresolved") is True, summary
    assert "the SYNs never left this host, the host on " in summary["verdict"], summary
    assert "never answered ARP" in summary["verdict"], summary
    # The server answers ARP: a port it drops is no neighbour problem.
    L.drop_ports([PORT])
    r, hops, summary = tcppath_hops(L, tool, f"{L.server_v4}:{PORT}", wait="1s", max_hops=2)
    assert summary["stop"] != "reached" and "next_hop_unresolved" not in summary, summary


def test_a_routing_loop_is_named_never_a_longer_path(L, tool):
    # Found: r3 sending the server's network back to r2 read "the destination is further away (a
    # larger -m reaches it)", hops 2 to 8 alternating between r2 and r3, though no SYN arrived.
    net = L.server_v4.rsplit(".", 2)[0]  # 10.N
    r3 = L.router_ns[2]
    subprocess.run(["ip", "netns", "exec", r3, "ip", "route", "del", f"{net}.3.0/24"], check=True, timeout=20)
    subprocess.run(["ip", "netns", "exec", r3, "ip", "route", "add", f"{net}.3.0/24", "via", f"{net}.2.1"],
                   check=True, timeout=20)
    for ns in L.router_ns:
        L.sysctl(ns, "net.ipv4.icmp_ratelimit", 0)
    r, hops, summary = trace(L, tool, "-n", "-q", "1")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert [h["router"] for h in hops][:4] == [L.router_v4[0], L.router_v4[1], L.router_v4[2], L.router_v4[1]], hops
    assert summary["stop"] == "routing loop", summary
    assert summary["loop_routers"] == [L.router_v4[1], L.router_v4[2]], summary
    assert (f"a routing loop: {L.router_v4[1]} answered at hop 2 and again at hop 4" in summary["verdict"]
            and "a larger -m will not help" in summary["verdict"]), summary["verdict"]
    text = L.run_client([tool("tcppath"), "-n", "-q", "1", "-W", "3s", "-m", "8", f"{L.server_v4}:{PORT}"], timeout=60)
    assert text.returncode == 1 and "routing loop" in text.stdout, text.stdout
    assert max(len(line) for line in text.stdout.splitlines()) <= 80, text.stdout
