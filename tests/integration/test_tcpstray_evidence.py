"""tcpstray never judges on evidence that does not decide: silence from a port where nothing of
the run reached the peer's stack (a firewall that drops everything, a host that is not there),
a TIME_WAIT case on a peer that kept no TIME_WAIT, an RST case where RSTs never arrive, a
challenge ACK a host-wide rate limit swallowed, and silence on a path that lost packets."""
import json
import re
import subprocess
import sys

import pytest
from test_tcpstray import CLOSED, LIVE, TW, cases

FILTERED = 8444  # listens; nft drops everything but SYNs to it


def run(L, tool, target, *args, wait="0.3", timeout=120):
    r = L.run_client([tool("tcpstray"), "--json", "-W", wait, "--closed-port", str(CLOSED), target, *args],
                     timeout=timeout)
    assert r.returncode in (0, 1), r.stderr
    return cases(r.stdout)


def test_silence_from_a_port_that_drops_everything_is_inconclusive(make_lab, tool):
    L = make_lab(ipv6=False)
    L.start_server(LIVE, mode="never-close")
    L.start_server(FILTERED, mode="never-close")
    L.nft(L.server_ns, "table inet strayev {\n chain input { type filter hook input priority 0; policy accept;\n"
                       f" tcp dport {CLOSED} drop\n"
                       f" tcp dport {FILTERED} tcp flags & (syn|ack) != syn drop\n }}\n}}\n")
    got, summary = run(L, tool, f"{L.server_v4}:{LIVE}", "--group", "closed")
    assert len(got) == 6 and summary["inconclusive"] == 6, {n: (c["verdict"], c["reason"]) for n, c in got.items()}
    for c in got.values():
        assert f"no case on port {CLOSED} drew any answer" in c["reason"], c
    got, summary = run(L, tool, f"{L.server_v4}:{FILTERED}", "--group", "listen")
    assert len(got) == 5 and summary["inconclusive"] == 5, {n: (c["verdict"], c["reason"]) for n, c in got.items()}
    for c in got.values():
        assert f"no case on port {FILTERED} drew any answer" in c["reason"], c
    # The same ports unfiltered: the groups answer and their silences are judged again.
    L.nft(L.server_ns, "delete table inet strayev\n")
    got, summary = run(L, tool, f"{L.server_v4}:{FILTERED}", "--group", "closed,listen")
    assert summary["conformant"] == 11, {n: (c["verdict"], c["reason"]) for n, c in got.items()}
    # A silence case alone has a control sent for it (an ACK to the port, which draws an RST).
    got, summary = run(L, tool, f"{L.server_v4}:{FILTERED}", "--case", "closed-rst,listen-rst")
    assert summary["conformant"] == 2, {n: (c["verdict"], c["reason"]) for n, c in got.items()}


def test_a_host_that_is_not_there_is_inconclusive(make_lab, tool):
    L = make_lab(ipv6=False)
    nobody = L.server_v4.rsplit(".", 1)[0] + ".99"  # in the lab's /24: ARP is asked, nobody answers
    got, summary = run(L, tool, f"{nobody}:80", "--group", "closed")
    assert len(got) == 6 and summary["inconclusive"] == 6, {n: (c["verdict"], c["reason"]) for n, c in got.items()}
    for c in got.values():
        assert re.search(r"the host on \S+ never answered ARP", c["reason"]), c


def test_no_time_wait_means_nothing_to_test(make_lab, tool):
    # The peer keeps no TIME_WAIT at all (and would keep one from RSTs if it had one).
    L = make_lab(ipv6=False)
    L.sysctl(L.server_ns, "net.ipv4.tcp_max_tw_buckets", 0)
    L.sysctl(L.server_ns, "net.ipv4.tcp_rfc1337", 1)
    L.start_server(TW, mode="banner-close", banner=b"bye\n")
    got, _ = run(L, tool, f"{L.server_v4}:{TW}", "--group", "time-wait")
    assert got["tw-fin-retransmit"]["verdict"] == "deviation", got["tw-fin-retransmit"]  # that one is true
    for name in ("tw-rst", "tw-syn"):
        assert got[name]["verdict"] == "inconclusive", got[name]
        assert "no TIME_WAIT to test" in got[name]["reason"], got[name]


def test_rsts_that_never_arrive_do_not_make_time_wait_conformant(make_lab, tool):
    L = make_lab(ipv6=False)
    L.sysctl(L.server_ns, "net.ipv4.tcp_rfc1337", 0)  # an RST that arrived would assassinate
    L.start_server(TW, mode="http")  # keeps a connection until the request, then answers and closes
    L.nft(L.server_ns, "table inet strayrst {\n chain input { type filter hook input priority 0; policy accept;\n"
                       f" tcp dport {TW} tcp flags & rst == rst drop\n }}\n}}\n")
    got, _ = run(L, tool, f"{L.server_v4}:{TW}", "--case", "live-rst-exact,tw-rst",
                 "--request", "GET / HTTP/1.0\\r\\n\\r\\n")
    # Not a stack that survives an RST either: an in-window RST, sent for the purpose, drew no
    # challenge ACK (it was a deviation).
    assert got["live-rst-exact"]["verdict"] == "inconclusive", got["live-rst-exact"]
    assert "drew no challenge ACK either" in got["live-rst-exact"]["reason"], got["live-rst-exact"]
    assert got["tw-rst"]["verdict"] == "inconclusive", got["tw-rst"]  # was conformant: "TIME_WAIT survived"
    assert "live-rst-exact" in got["tw-rst"]["reason"], got["tw-rst"]


def test_a_challenge_ack_the_host_wide_limit_swallowed_is_not_a_deviation(make_lab, tool):
    L = make_lab(ipv6=False)
    L.sysctl(L.server_ns, "net.ipv4.tcp_challenge_ack_limit", 1)  # one or two a second, host-wide
    L.start_server(LIVE, mode="never-close")
    for _ in range(2):  # the second run used to meet an empty budget
        got, _ = run(L, tool, f"{L.server_v4}:{LIVE}", "--group", "live")
        for name, c in got.items():
            assert c["verdict"] in ("conformant", "inconclusive"), (name, c["verdict"], c["reason"])
            if c["verdict"] == "inconclusive":
                assert c["rate_limit_possible"] and "twice" in c["reason"], (name, c["reason"])


def test_a_lost_segment_is_sent_again_and_loss_makes_silence_decide_nothing(make_lab, tool):
    # Deterministic loss: every other FIN to the closed port vanishes (the first closed-fin is
    # lost, its second try gets through), and the NULL segment never arrives.
    L = make_lab(ipv6=False)
    L.start_server(LIVE, mode="never-close")
    L.nft(L.server_ns, "table inet strayloss {\n chain input { type filter hook input priority 0; policy accept;\n"
                       f" tcp dport {CLOSED} tcp flags == fin numgen inc mod 2 == 0 drop\n"
                       f" tcp dport {CLOSED} tcp flags == 0x0 drop\n }}\n}}\n")
    got, _ = run(L, tool, f"{L.server_v4}:{LIVE}", "--group", "closed")
    fin, null = got["closed-fin"], got["closed-null"]
    assert fin["verdict"] == "conformant", fin  # was: deviation, "no reset came back"
    assert fin["observed"].startswith("silence, then (sent again) R."), fin
    # The run saw a segment lost: silence twice is no evidence of a firewall any more.
    assert null["verdict"] == "inconclusive", null
    assert "the path lost packets in this run" in null["reason"], null


KEEPALIVE_SERVER = """
import socket, sys, threading, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(8); print("listening", flush=True)
held = []
while True:
    c, _ = s.accept()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
    held.append(c)
"""


def test_a_keepalive_probe_is_not_the_answer(make_lab, tool):
    # Found against socat with keepidle=1: the server's keepalive probe (seq SND.NXT-1, ack
    # RCV.NXT) came during the wait after an out-of-window RST, which the stack had dropped as it
    # must, and was taken for an answer: "deviation". A keepalive answers nothing.
    L = make_lab(ipv6=False)
    server = L.popen_server([sys.executable, "-c", KEEPALIVE_SERVER, str(LIVE)], stdout=subprocess.PIPE)
    try:
        assert server.stdout.readline().startswith(b"listening")
        r = L.run_client([tool("tcpstray"), "--json", "-v", "-W", "2", "--closed-port", str(CLOSED),
                          f"{L.server_v4}:{LIVE}", "--case", "live-rst-out-of-window"], timeout=60)
        assert r.returncode in (0, 1), r.stderr
        got, _ = cases(r.stdout)
        case = got["live-rst-out-of-window"]
        probes = [s for s in case["segments"] if s.get("keepalive")]
        assert probes, "no keepalive probe came during the wait: this test shows nothing"
        assert all(s["peer_own"] for s in probes), probes
        # Our kernel acks each probe: its ACK repeats a crafted one's seq, ack and flags but not
        # its window, and is no crafted segment (-v labelled it "crafted").
        segs = case["segments"]
        replies = [segs[i + 1] for i, s in enumerate(segs[:-1]) if s.get("keepalive") and segs[i + 1]["direction"] == "out"]
        assert replies and not any(s["crafted"] for s in replies), segs
        assert case["verdict"] == "conformant", case
    finally:
        server.kill()


def test_a_firewall_that_resets_in_the_peers_name_is_no_deviation_and_leaves_nothing_behind(make_lab, tool):
    # `ct state invalid reject with tcp reset` answers the out-of-window segments with a reset in
    # the server's name: "the out-of-window RST reset the connection" (and "reset where an ACK
    # was due") were deviations, while ss showed the connections ESTABLISHED still, left so by
    # the run (its reset had ended our own socket, and no reset of ours followed).
    L = make_lab(ipv6=False)
    L.start_server(LIVE, mode="never-close")
    L.nft(L.server_ns, "table inet strayfw {\n chain input { type filter hook input priority 0; policy accept;\n"
                       f" tcp dport {LIVE} ct state invalid reject with tcp reset\n }}\n}}\n")
    got, _ = run(L, tool, f"{L.server_v4}:{LIVE}", "--group", "live")
    c = got["live-rst-out-of-window"]
    assert c["verdict"] == "inconclusive", c
    assert "a middlebox reset in the peer's name" in c["reason"], c
    for name, c in got.items():
        if c["verdict"] == "deviation":
            assert "reset" not in c["reason"], (name, c)
    left = L.run_server(["ss", "-Htn", "state", "established", f"( sport = :{LIVE} )"]).stdout
    assert left.strip() == "", left


def test_an_rst_control_that_could_not_run_leaves_time_wait_unproven(make_lab, tool):
    # A server that closes first leaves live-rst-exact no connection to reset, and a firewall
    # drops every RST: the TIME_WAIT "survived" the RST it never got, and tw-rst was conformant.
    L = make_lab(ipv6=False)
    L.sysctl(L.server_ns, "net.ipv4.tcp_rfc1337", 0)  # an RST that arrived would assassinate
    L.start_server(TW, mode="banner-close", banner=b"bye\n")
    L.nft(L.server_ns, "table inet strayrst {\n chain input { type filter hook input priority 0; policy accept;\n"
                       f" tcp dport {TW} tcp flags & rst == rst drop\n }}\n}}\n")
    got, _ = run(L, tool, f"{L.server_v4}:{TW}", "--case", "live-rst-exact,tw-rst")
    assert got["live-rst-exact"]["verdict"] == "inconclusive", got["live-rst-exact"]
    assert got["tw-rst"]["verdict"] == "inconclusive", got["tw-rst"]
    assert "live-rst-exact could not show that RSTs reach the peer's stack" in got["tw-rst"]["reason"], got["tw-rst"]


def test_answers_later_than_the_wait_are_not_blamed_on_a_firewall(make_lab, tool):
    # -W 0.3 on a path of 400 ms: the resets came after the wait, and every closed case said "no
    # case drew any answer, nor did a control ACK: the host, a firewall or a blackhole setting
    # drops the segments".
    L = make_lab(ipv6=False, delay_ms=200)
    got, summary = run(L, tool, f"{L.server_v4}:{LIVE}", "--group", "closed", wait="0.3")
    assert summary["inconclusive"] == len(got), {n: (c["verdict"], c["reason"]) for n, c in got.items()}
    for c in got.values():
        assert "the answers come later than -W waits" in c["reason"], c
        assert "firewall" not in c["reason"], c
        assert "within -W (300.0 ms)" in c["reason"], c
    # A wait under a millisecond is named as given, not as "(0 ms)".
    got, _ = run(L, tool, f"{L.server_v4}:{LIVE}", "--case", "closed-fin", wait="0.0004")
    assert "within -W (0.400 ms)" in got["closed-fin"]["reason"], got["closed-fin"]


def test_a_routers_own_resets_behind_port_forwarding_are_no_listeners_deviation(make_lab, tool):
    # Found by an explorer: a router forwarding port 8080 to the server (DNAT) leaves a FIN, NULL
    # or Xmas without a connection untranslated (conntrack finds it invalid), so the router's own
    # stack, with nothing on 8080, reset them: listen-fin, -null and -xmas were the server's
    # deviations (5 of 5 runs). Its resets came with TTL 64, the server's reset to listen-ack with 63.
    L = make_lab(routers=1)
    L.start_server(LIVE, mode="hold", family="v4")
    router = L.router_v4[0]
    L.nft(L.router_ns[0], "table ip tk_forward {\n chain pre { type nat hook prerouting priority -100;\n"
                          f"  ip daddr {router} tcp dport {LIVE} dnat to {L.server_v4}:{LIVE}\n }}\n}}\n")
    got, _ = run(L, tool, f"{router}:{LIVE}", "--group", "listen")
    assert got["listen-ack"]["verdict"] == "conformant", got["listen-ack"]
    for name in ("listen-fin", "listen-null", "listen-xmas"):
        assert got[name]["verdict"] == "inconclusive", got[name]
        assert "another box answered in its name" in got[name]["reason"], got[name]


@pytest.mark.parametrize("setup", ["stateful firewall", "conntrack loose 0"])
def test_behind_port_forwarding_nothing_is_judged_on_the_routers_stack(make_lab, tool, setup):
    """Found by an explorer (3 of 3): port forwarding with a stateful firewall (only a SYN opens a
    connection), or with nf_conntrack_tcp_loose 0, left every listen case but the handshake to the
    router's own stack. listen-fin, -null and -xmas were deviations: the reference TTL, listen-ack's
    reset, was missing (the firewall dropped the ACK) or the router's own (loose 0), and with the
    firewall listen-ack's silence was 'confirmed' by the router's reset to listen-fin. The
    reference is now the listener's SYN/ACK, which conntrack forwards to the server."""
    L = make_lab(routers=1)
    L.start_server(LIVE, mode="hold", family="v4")
    router = L.router_v4[0]
    fw = ("  chain fw { type filter hook forward priority 0; policy drop;\n"
          "   ct state established,related accept\n   ct state new tcp flags syn accept\n  }\n")
    L.nft(L.router_ns[0], "table ip tk_forward {\n chain pre { type nat hook prerouting priority -100;\n"
                          f"  ip daddr {router} tcp dport {LIVE} dnat to {L.server_v4}:{LIVE}\n }}\n"
                          + (fw if setup == "stateful firewall" else "") + "}\n")
    if setup == "conntrack loose 0":
        L.sysctl(L.router_ns[0], "net.netfilter.nf_conntrack_tcp_loose", 0)
    got, summary = run(L, tool, f"{router}:{LIVE}", "--group", "listen")
    assert summary["deviation"] == 0 and summary["conformant"] == 0, {n: (c["verdict"], c["reason"]) for n, c in got.items()}
    for name in ("listen-fin", "listen-null", "listen-xmas"):
        assert "another box answered in its name" in got[name]["reason"], got[name]
        assert "the listener's SYN/ACK (63)" in got[name]["reason"], got[name]


def test_fins_a_stateful_firewall_drops_as_invalid_decide_nothing(make_lab, tool):
    # Found by an explorer: a firewall that lost the connection's state (stood in for by an
    # established timeout of 0: failover without state sync, a flushed table) drops its FINs as
    # invalid, and live-fin-exact read "no ACK came back" as the server's deviation (3 of 3 runs).
    L = make_lab(routers=1)
    L.start_server(LIVE, mode="hold", family="v4")
    L.nft(L.router_ns[0], "table inet tk_state {\n chain forward { type filter hook forward priority 0; policy accept;\n"
                          "  ct state invalid counter drop\n }\n}\n")
    L.sysctl(L.router_ns[0], "net.netfilter.nf_conntrack_tcp_timeout_established", 0)
    got, _ = run(L, tool, f"{L.server_v4}:{LIVE}", "--group", "live")
    assert got["live-fin-out-of-window"]["verdict"] == "inconclusive", got["live-fin-out-of-window"]  # silent twice
    assert got["live-fin-exact"]["verdict"] == "inconclusive", got["live-fin-exact"]
    assert "the FINs may never reach the peer's stack" in got["live-fin-exact"]["reason"], got["live-fin-exact"]
    # Without the firewall both FINs are answered, and judged as ever.
    subprocess.run(["ip", "netns", "exec", L.router_ns[0], "nft", "delete", "table", "inet", "tk_state"], check=True,
                   timeout=20)
    got, _ = run(L, tool, f"{L.server_v4}:{LIVE}", "--group", "live")
    assert got["live-fin-exact"]["verdict"] == "conformant", got["live-fin-exact"]
    assert got["live-fin-out-of-window"]["verdict"] == "conformant", got["live-fin-out-of-window"]
