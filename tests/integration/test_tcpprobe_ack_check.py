"""tcpprobe against a port whose SYNs draw nothing: a listener that stopped accepting (its
accept queue full) was reported exactly like a firewall ("filtered", 100% loss). One ACK to the
port now tells them apart: a stack that drops only SYNs resets the ACK, a firewall that drops
everything does not."""
import json
import time

QUEUE, WALL = 8090, 8091
LISTEN_NEVER_ACCEPT = ("import socket, sys, time\n"
                       "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                       f"s.bind(('0.0.0.0', {QUEUE})); s.listen(1); print('listening', flush=True); time.sleep(60)\n")


def fill_queue(L):
    """A listener with a backlog of 1 that never accepts, and connections that fill its queue."""
    server = L.popen_server(["python3", "-c", LISTEN_NEVER_ACCEPT])
    time.sleep(0.5)
    filler = L.popen_client(["python3", "-c",
                             "import socket, time\nkeep = []\nfor _ in range(4):\n"
                             " c = socket.socket(); c.setblocking(False)\n"
                             f" try: c.connect(('{L.server_v4}', {QUEUE}))\n except BlockingIOError: pass\n"
                             " keep.append(c)\ntime.sleep(60)\n"])
    time.sleep(1.5)
    return server, filler


def summary(L, tool, port, *args):
    return summary_of(L, tool, port, "-c", "2", "-i", "0.2", "-W", "0.4", *args)


def test_a_full_accept_queue_is_told_from_a_firewall(make_lab, tool):
    L = make_lab(ipv6=False)
    server, filler = fill_queue(L)
    try:
        L.nft(L.server_ns, "table inet wall {\n chain input { type filter hook input priority 0; policy accept;\n"
                           f" tcp dport {WALL} drop\n }}\n}}\n")
        for mode in ("syn", "connect"):
            r, s = summary(L, tool, QUEUE, "-m", mode)
            assert r.returncode == 1 and s["filtered"] == 2 and s["answered"] == 0, s
            assert s["ack_check"] == "reset", s
            r, s = summary(L, tool, WALL, "-m", mode)
            assert s["filtered"] == 2 and s["ack_check"] == "silence", s
        t = L.run_client([tool("tcpprobe"), "-c", "1", "-W", "0.4", f"{L.server_v4}:{QUEUE}"], timeout=30)
        assert "only the SYNs went unanswered: a listener whose accept queue is full" in " ".join(t.stdout.split()), t.stdout
        check = t.stdout[t.stdout.index("ack check:"):].splitlines()
        assert len(check) > 1 and max(len(line) for line in check) <= 80, t.stdout
        # --trace: the kernel's SYNs drew nothing; the same ACK says why.
        r = L.run_client([tool("tcpprobe"), "--trace", "--json", "-W", "0.4", f"{L.server_v4}:{QUEUE}"], timeout=30)
        trace = [json.loads(line) for line in r.stdout.splitlines()][-1]
        assert (trace["outcome"], trace["ack_check"]) == ("no answer", "reset"), trace
        # Asked for exactly the probes: no ACK is sent.
        _, s = summary(L, tool, QUEUE, "--no-ack-check")
        assert s["filtered"] == 2 and s["ack_check"] is None, s
    finally:
        filler.kill()
        server.kill()


def test_syn_acks_dropped_on_their_way_back_are_among_the_causes(make_lab, tool):
    # Found: a rule on the server's output dropping its SYN/ACKs (an egress firewall, a return
    # path) read "only the SYNs went unanswered: a full accept queue, a SYN rate limit, or a rule
    # that drops SYNs alone": the server answered every SYN. The lost answers are named too.
    L = make_lab(ipv6=False)
    L.start_server(8080, mode="hold", family="v4")
    L.nft(L.server_ns, "table inet tkegress {\n chain output { type filter hook output priority 0;\n"
                       "  tcp sport 8080 tcp flags & (syn | ack) == syn | ack drop\n }\n}\n")
    t = L.run_client([tool("tcpprobe"), "-c", "1", "-W", "0.4", f"{L.server_v4}:8080"], timeout=30)
    flat = " ".join(t.stdout.split())
    assert "only the SYNs went unanswered" in flat and "drops the SYN/ACKs on their way back" in flat, t.stdout


def test_a_port_that_answers_gets_no_ack_check(make_lab, tool):
    L = make_lab(ipv6=False)
    L.start_server(QUEUE, mode="hold")
    _, s = summary(L, tool, QUEUE)
    assert s["open"] == 2 and s["ack_check"] is None, s
    _, s = summary(L, tool, 9)  # closed: its RSTs are the answer
    assert s["closed"] == 2 and s["ack_check"] is None, s


def test_a_lost_ack_is_asked_again_not_taken_for_a_firewall(make_lab, tool):
    # On a lossy path one ACK was the whole check: lost, the full queue read "a firewall that
    # drops every segment to the port, or the host is gone". The first ACK is dropped here.
    L = make_lab(ipv6=False)
    server, filler = fill_queue(L)
    try:
        L.nft(L.server_ns, "table inet lossy {\n chain input { type filter hook input priority -10; policy accept;\n"
                           f" tcp dport {QUEUE} tcp flags & (syn|ack|rst|fin) == ack numgen inc mod 1000000 < 1 drop\n"
                           f" tcp dport {WALL} drop\n }}\n}}\n")
        r, s = summary(L, tool, QUEUE)
        assert s["filtered"] == 2 and s["ack_check"] == "reset", s
        # The firewall's silence takes every try (3), and says what it may also be.
        t = L.run_client([tool("tcpprobe"), "-c", "1", "-W", "0.3", f"{L.server_v4}:{WALL}"], timeout=30)
        assert "3 ACKs to port" in " ".join(t.stdout.split()), t.stdout
    finally:
        filler.kill()
        server.kill()


def test_answers_slower_than_the_wait_are_not_taken_for_a_firewall(make_lab, tool):
    # A round trip of 120 ms and -W 50ms: every SYN's answer came after -W. The ACK check then
    # waited -W too and, its RST late as well, said "a firewall drops everything". Late answers
    # now say that the host answers, slower than -W; the ACK waits at least a second and an RST
    # after -W is a "late reset".
    L = make_lab(delay_ms=60, ipv6=False)
    L.start_server(QUEUE, mode="hold")
    for port in (QUEUE, 9):  # open, closed
        r = L.run_client([tool("tcpprobe"), "--json", "-c", "3", "-i", "0.2", "-W", "50ms",
                          f"{L.server_v4}:{port}"], timeout=30)
        s = [json.loads(line) for line in r.stdout.splitlines()][-1]
        assert s["answered"] == 0 and s["late"] >= 2 and s["ack_check"] is None, s
        t = L.run_client([tool("tcpprobe"), "-c", "3", "-i", "0.2", "-W", "50ms", f"{L.server_v4}:{port}"],
                         timeout=30)
        assert "slower than -W allows; raise -W" in " ".join(t.stdout.split()), t.stdout
        assert "firewall" not in t.stdout, t.stdout
        # One probe: its answer comes after the run, so only the ACK check can tell.
        _, s = summary_of(L, tool, port, "-c", "1", "-W", "50ms")
        assert s["filtered"] == 1 and s["ack_check"] == "late reset", s
    t = L.run_client([tool("tcpprobe"), "-c", "1", "-W", "50ms", f"{L.server_v4}:{QUEUE}"], timeout=30)
    text = " ".join(t.stdout.split())
    assert "drew an RST, but only after -W" in text and "firewall" not in text, t.stdout
    r = L.run_client([tool("tcpprobe"), "--trace", "--json", "-W", "30ms", f"{L.server_v4}:{QUEUE}"], timeout=30)
    trace = [json.loads(line) for line in r.stdout.splitlines()][-1]
    assert (trace["outcome"], trace["ack_check"]) == ("no answer", "late reset"), trace


def summary_of(L, tool, port, *args):
    r = L.run_client([tool("tcpprobe"), "--json", *args, f"{L.server_v4}:{port}"], timeout=30)
    objects = [json.loads(line) for line in r.stdout.splitlines()]
    assert objects[-1]["type"] == "summary", r.stdout
    return r, objects[-1]


def test_an_icmp_answer_to_the_ack_is_named(make_lab, tool):
    # A host that is gone behind a router: the router's "host unreachable" (after its ARP gave
    # up) answered the ACK, and the check said "a firewall or router refuses the port". Nothing
    # refuses it: the host is not there.
    L = make_lab(ipv6=False, routers=1)
    gone = L.server_v4.rsplit(".", 1)[0] + ".9"
    r = L.run_client([tool("tcpprobe"), "--json", "-c", "1", "-W", "0.5", f"{gone}:80"], timeout=60)
    s = [json.loads(line) for line in r.stdout.splitlines()][-1]
    assert s["ack_check"] == "icmp" and s["ack_check_icmp"] == "host unreachable", s
    t = L.run_client([tool("tcpprobe"), "-c", "1", "-W", "0.5", f"{gone}:80"], timeout=60)
    flat = " ".join(t.stdout.split())
    assert "drew an ICMP host unreachable: the host is not reachable (gone, or no route to it)" in flat, t.stdout
    assert "refuses the port" not in flat.replace("nothing refuses the port", ""), t.stdout
