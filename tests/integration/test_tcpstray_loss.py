"""tcpstray on a path that loses exactly the segments a verdict rests on (nftables drops them,
deterministically): a reset-expected segment lost twice, a control lost with it, our handshake
ACK lost, and against them a real firewall that drops invalid segments, whose silence must
still be a deviation."""
from test_tcpstray import CLOSED, LINUX, LIVE, TW, cases

MARK = 0x74637374  # kStrayPacketMark: tcpstray's crafted segments carry it (root has CAP_NET_ADMIN)


def run(L, tool, target, *args, wait="0.3"):
    r = L.run_client([tool("tcpstray"), "--json", "-v", "-W", wait, "--closed-port", str(CLOSED), target, *args],
                     timeout=180)
    assert r.returncode in (0, 1), r.stderr
    return cases(r.stdout)


def verdicts(got):
    return {n: (c["verdict"], c["observed"], c["reason"]) for n, c in got.items()}


def drop_in_server(L, name, rules):
    L.nft(L.server_ns, f"table inet {name} {{\n chain input {{ type filter hook input priority 0; policy accept;\n"
                       + "".join(f" {r}\n" for r in rules) + " }\n}\n")


def test_an_rst_lost_twice_is_sent_again_not_called_a_firewall(make_lab, tool):
    # The first two ACKs to the closed port vanish, the third gets through: closed-ack was a
    # deviation ("no reset came back"), its silence taken for a firewall's.
    L = make_lab(ipv6=False)
    L.start_server(LIVE, mode="never-close")
    drop_in_server(L, "strayloss2", [f"tcp dport {CLOSED} tcp flags == ack numgen inc mod 3 != 2 drop"])
    got, summary = run(L, tool, f"{L.server_v4}:{LIVE}", "--group", "closed")
    ack = got["closed-ack"]
    assert ack["verdict"] == "conformant", verdicts(got)
    assert ack["observed"].startswith("silence (2 tries), then (sent again) R"), ack
    assert summary["deviation"] == 0, verdicts(got)


def test_a_control_lost_with_the_case_is_loss_not_a_dead_port(make_lab, tool):
    # listen-ack is the listen group's only case that draws an answer; its two tries are lost
    # and the first control gets through. That was "no case on port ... drew any answer" for all
    # five cases; now the four silences are judged, and listen-ack's silence is loss.
    L = make_lab(ipv6=False)
    L.start_server(LIVE, mode="never-close")
    drop_in_server(L, "strayloss3", [f"tcp dport {LIVE} tcp flags == ack ct state new numgen inc mod 3 != 2 drop"])
    got, _ = run(L, tool, f"{L.server_v4}:{LIVE}", "--group", "listen")
    for name in ("listen-fin", "listen-null", "listen-xmas", "listen-rst"):
        assert got[name]["verdict"] == "conformant", verdicts(got)
    assert got["listen-ack"]["verdict"] == "inconclusive", verdicts(got)
    assert "the path lost packets" in got["listen-ack"]["reason"], verdicts(got)


def test_a_firewall_that_drops_invalid_segments_is_still_a_deviation(make_lab, tool):
    # What the tries above must not blur: conntrack calls FIN, NULL, Xmas and SYN+FIN without a
    # connection invalid, and the rule drops them every time, while the ACK is reset.
    L = make_lab(ipv6=False)
    L.start_server(LIVE, mode="never-close")
    drop_in_server(L, "strayinvalid", [f"tcp dport {CLOSED} ct state invalid drop"])
    got, summary = run(L, tool, f"{L.server_v4}:{LIVE}", "--group", "closed")
    assert got["closed-ack"]["verdict"] == "conformant", verdicts(got)
    # The RST, as invalid to conntrack, was dropped too: its silence, which was read conformant,
    # decides nothing once the run saw the firewall.
    rst = got["closed-rst"]
    assert rst["verdict"] == "inconclusive", verdicts(got)
    assert "drew nothing in 4 tries while closed-ack to the same port drew an answer" in rst["reason"], rst
    for name in ("closed-fin", "closed-null", "closed-xmas", "closed-syn-fin"):
        c = got[name]
        assert c["verdict"] == "deviation", verdicts(got)
        assert c["observed"] == "silence (4 tries)", c
        assert "while closed-ack to the same port drew an answer after each of the last 2" in c["reason"], c
    # The listener behind the same rule: its RST's silence decides nothing either.
    drop_in_server(L, "strayinvalid2", [f"tcp dport {LIVE} ct state invalid drop"])
    got, _ = run(L, tool, f"{L.server_v4}:{LIVE}", "--group", "listen")
    assert got["listen-rst"]["verdict"] == "inconclusive", verdicts(got)
    assert "drew no reset from closed port" in got["listen-rst"]["reason"], got["listen-rst"]


def tag_crafted(L):
    # Crafted segments leave the client with DSCP CS1, so the server can tell them from our kernel's.
    L.nft(L.client_ns, "table inet straytag {\n chain output { type filter hook output priority 0; policy accept;\n"
                       f" meta mark {MARK:#x} ip dscp set cs1\n }}\n}}\n")


def test_a_lost_handshake_ack_leaves_no_half_open_peer(make_lab, tool):
    # Every pure ACK our kernel sends to the server is lost; tcpstray's own are not. The peer used
    # to meet each stray segment half-open (SYN-RECEIVED) and reset the SYN and the ACK of unsent
    # data: "reset where an ACK was due".
    L = make_lab(ipv6=False)
    L.start_server(LIVE, mode="never-close")
    tag_crafted(L)
    drop_in_server(L, "strayhsack", [f"tcp dport {LIVE} tcp flags == ack ip dscp != cs1 drop"])
    got, _ = run(L, tool, f"{L.server_v4}:{LIVE}", "--group", "live", wait="1")
    assert {n: c["verdict"] for n, c in got.items()} == {n: v for n, v in LINUX.items() if n.startswith("live-")}, \
        verdicts(got)


def one_case(make_lab, tool, rule, case, wait, tag=False):
    """One case against a server whose input chain has `rule`: a never-closing one for a live
    case, one that closes first for a TIME_WAIT case; `tag`: crafted segments carry DSCP CS1."""
    L = make_lab(ipv6=False)
    port = TW if case.startswith("tw-") else LIVE
    L.start_server(port, **({"mode": "banner-close", "banner": b"bye\n"} if port == TW else {"mode": "never-close"}))
    if tag:
        tag_crafted(L)
    drop_in_server(L, "strayone", [rule])
    got, _ = run(L, tool, f"{L.server_v4}:{port}", "--case", case, wait=wait)
    return got[case]


def test_a_syn_ack_sent_again_during_the_case_is_no_answer(make_lab, tool):
    # No handshake ACK reaches the peer at all: it stays half-open and sends its SYN/ACK again
    # about 1 s after the first, while the case waits for silence. That SYN/ACK was taken for
    # the answer ("a SYN where silence was due").
    c = one_case(make_lab, tool, f"tcp dport {LIVE} tcp flags == ack drop", "live-rst-out-of-window", "1.5")
    assert c["verdict"] == "inconclusive", c
    assert "had not heard our handshake ACK" in c["reason"], c


def test_an_exact_rst_lost_on_the_way_is_no_connection_that_survived_it(make_lab, tool):
    # The first RST to the server is lost (later ones, the cleanup's included, arrive): the
    # connection "survived an RST at exactly RCV.NXT", a deviation. Now a second connection shows
    # the reset.
    c = one_case(make_lab, tool, f"tcp dport {LIVE} tcp flags & rst == rst numgen inc mod 4 == 0 drop",
                 "live-rst-exact", "0.5")
    assert c["verdict"] == "conformant", c
    assert "on connection 2: on the one before, the RST showed no effect" in c["reason"], c


def test_an_rst_to_time_wait_lost_on_the_way_is_no_time_wait_that_survived_it(make_lab, tool):
    # Linux (tcp_rfc1337=0) lets an RST end TIME_WAIT. The first RST is lost: TIME_WAIT "survived"
    # and tw-rst was conformant, the opposite of the truth.
    c = one_case(make_lab, tool, f"tcp dport {TW} tcp flags & rst == rst numgen inc mod 2 == 0 drop", "tw-rst", "0.5")
    assert c["verdict"] == "deviation", c
    assert "on connection 2: on the one before, the RST showed no effect" in c["reason"], c


def test_follow_ups_that_draw_nothing_do_not_confirm_a_lost_rst(make_lab, tool):
    # The first RST is lost (the connection "survives"), and the peer's answers to the next two
    # follow-up bytes are lost too: those two connections show nothing either way. They were
    # counted as surviving: "survived ... the same on 3 connections", a deviation.
    L = make_lab(ipv6=False)
    L.start_server(LIVE, mode="never-close")
    L.nft(L.server_ns, "table inet strayfollow {\n"
                       " chain input { type filter hook input priority 0; policy accept;\n"
                       f"  tcp dport {LIVE} tcp flags & rst == rst numgen inc mod 1000 == 0 drop\n }}\n"
                       " chain output { type filter hook output priority 0; policy accept;\n"
                       f"  tcp sport {LIVE} tcp flags & rst == rst numgen inc mod 1000 < 2 drop\n }}\n}}\n")
    got, _ = run(L, tool, f"{L.server_v4}:{LIVE}", "--case", "live-rst-exact", wait="0.5")
    c = got["live-rst-exact"]
    assert c["verdict"] == "conformant", c
    assert "on connection 4: on the 3 before, the RST showed no effect" in c["reason"], c


def test_an_ack_lost_twice_on_one_connection_is_asked_for_on_another(make_lab, tool):
    # tw-fin-retransmit's FIN and its second try are both lost (on the wire they carry DSCP CS1,
    # see tag_crafted): "no ACK came back", a deviation, though the peer acks every FIN it gets.
    c = one_case(make_lab, tool, f"tcp dport {TW} tcp flags & fin == fin ip dscp cs1 numgen inc mod 1000 < 2 drop",
                 "tw-fin-retransmit", "0.5", tag=True)
    assert c["verdict"] == "conformant", c
    assert "on connection 2: on the one before, nothing came back (lost on the way)" in c["reason"], c


def test_a_handshake_lost_whole_on_a_peer_that_answered_before_is_set_up_again(make_lab, tool):
    # Every SYN of the second case's handshake is lost (the four Linux sends in the 3.5 s a
    # handshake waits; at 25 % loss its ARP may go too: "No route to host"), from a peer that
    # answered the first case's. The case was inconclusive, "the handshake did not complete",
    # and every later handshake waited only -W. Now it gets a fresh connection.
    L = make_lab(ipv6=False)
    L.start_server(LIVE, mode="never-close")
    drop_in_server(L, "straysyn", [f"tcp dport {LIVE} tcp flags & (syn | ack) == syn numgen inc mod 100 {{ 1, 2, 3, 4 }} drop"])
    got, summary = run(L, tool, f"{L.server_v4}:{LIVE}", "--case", "live-ack-unsent,live-data-old")
    assert got["live-ack-unsent"]["verdict"] == "conformant", verdicts(got)
    assert got["live-data-old"]["verdict"] == "conformant", verdicts(got)
    assert summary["inconclusive"] == 0, verdicts(got)


def test_a_fin_that_overtakes_the_peers_data_is_waited_out_before_we_close(make_lab, tool):
    # The peer's banner is lost once on the way and comes again after its FIN (as on a
    # reordering path, the FIN first): we read once, found nothing, and closed while the banner
    # was still to come. Our stack then reset the connection when the banner came, the peer (its
    # FIN not acknowledged) sat in CLOSING, and every TIME_WAIT case was "the peer did not
    # acknowledge our FIN: no TIME_WAIT to test". Now we read until the FIN, in order, and close.
    L = make_lab(ipv6=False, routers=1)
    L.start_server(TW, mode="banner-close", banner=b"bye\n")
    # In the router (a drop in the server's own output makes its stack hold the data back and
    # send it with the FIN): two of every three segments of the peer's that carry data (no SYN,
    # an IPv4 length over 52, that of an ACK with timestamps), so each connection's banner and
    # its fast resend; the resend after a timeout, some 200 ms after the FIN, passes.
    L.nft(L.router_ns[0], "table inet strayorder {\n chain forward { type filter hook forward priority 0; "
                          "policy accept;\n"
                          f"  tcp sport {TW} tcp flags & syn == 0 ip length > 52 numgen inc mod 3 < 2 drop\n }}\n}}\n")
    got, summary = run(L, tool, f"{L.server_v4}:{TW}", "--group", "time-wait", wait="0.5")
    assert set(got) == {"tw-fin-retransmit", "tw-rst", "tw-syn"}, got
    for c in got.values():
        assert "no TIME_WAIT to test" not in c["reason"] and "did not acknowledge our FIN" not in c["reason"], \
            verdicts(got)
    assert summary["inconclusive"] == 0, verdicts(got)
