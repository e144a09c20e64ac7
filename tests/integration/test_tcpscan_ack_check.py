"""tcpscan's ACK check: a port whose SYNs draw nothing was reported exactly like a firewalled
one ("filtered, no-response"), and a host whose only scanned port was such a listener was
reported down. One ACK to each silent port tells them apart: a stack that drops only SYNs (a
full accept queue, a SYN-only rule) resets it, a firewall that drops everything does not."""
import json
import subprocess
import time

import pytest
from test_tcpprobe_ack_check import QUEUE, WALL, fill_queue

SYN_ONLY, CLOSED, OPEN = 8093, 9, 8094


def scan(L, tool, *args, target=None):
    r = L.run_client([tool("tcpscan"), "--json", "--wait", "300ms", *map(str, args),
                      target or L.server_v4], timeout=60)
    assert r.returncode in (0, 1), r.stderr
    objects = [json.loads(line) for line in r.stdout.splitlines()]
    assert objects[-1]["type"] == "summary", r.stdout
    ports = {o["port"]: o for o in objects if o["type"] == "port"}
    hosts = [o for o in objects if o["type"] == "host"]
    return ports, hosts, objects[-1]


def wall(L, port):
    """A firewall that drops every segment to the port, not only SYNs."""
    L.nft(L.server_ns, "table inet wall {\n chain input { type filter hook input priority 0; policy accept;\n"
                       f" tcp dport {port} drop\n }}\n}}\n")


def test_silent_ports_are_told_apart_by_what_an_ack_draws(make_lab, tool):
    L = make_lab(ipv6=False)
    server, filler = fill_queue(L)
    try:
        wall(L, WALL)
        L.drop_ports([SYN_ONLY])
        L.start_server(OPEN, mode="hold")
        listed = f"{QUEUE},{WALL},{SYN_ONLY},{CLOSED},{OPEN}"
        ports, hosts, s = scan(L, tool, "-p", listed)
        got = {p: (o["state"], o["reason"], o.get("ack_check")) for p, o in ports.items()}
        assert got == {QUEUE: ("filtered", "no-response", "reset"),
                       WALL: ("filtered", "no-response", "silence"),
                       SYN_ONLY: ("filtered", "no-response", "reset"),
                       CLOSED: ("closed", "reset", None),
                       OPEN: ("open", "syn-ack", None)}, got
        # WALL drew nothing and was asked a second time.
        assert s["ack_check"] == {"silent": 3, "checked": 3, "reset": 2, "icmp": 0, "icmp_unreachable": 0, "sent": 4}, s
        assert s["states"]["filtered"] == 3 and s["states"]["open"] == 1, s
        # The RST's TTL (a box on the way that resets for the host would show another).
        assert ports[QUEUE]["ack_ttl"] == 64 and "ack_ttl" not in ports[WALL], ports

        # The text says it in the REASON column and in a summary line of its own, in 80 columns.
        t = L.run_client([tool("tcpscan"), "--wait", "300ms", "-p", listed, L.server_v4], timeout=60)
        rows = {line.split()[0]: line for line in t.stdout.splitlines() if "/tcp" in line}
        assert rows[f"{QUEUE}/tcp"].endswith("no-response (ack-reset ttl 64)"), t.stdout
        assert rows[f"{WALL}/tcp"].endswith("no-response (ack-silence)"), t.stdout
        flat = " ".join(t.stdout.split())
        assert "ACK check of 3 silent ports (4 ACKs): 2 reset an ACK" in flat, t.stdout
        assert "a listener whose accept queue is full" in flat, t.stdout
        assert max(len(line) for line in t.stdout.splitlines()) <= 80, t.stdout

        # Asked for exactly the probes: no ACK goes out, silent ports are plain no-response.
        ports, _, s = scan(L, tool, "--no-ack-check", "-p", listed)
        assert s["ack_check"] is None and not any("ack_check" in o for o in ports.values()), s
        assert s["sent"] == sum(s["sent_rounds"]), s
        # More silent ports than --ack-check-max: a random sample of that many is asked, and
        # the summary says which were not.
        ports, _, s = scan(L, tool, "--ack-check-max", "2", "-p", listed)
        assert s["ack_check"]["skipped"] == "not asked: 1 silent port (asked: a random 2 of the 3; " \
                                            "more than --ack-check-max 2)", s
        asked = {p: o["ack_check"] for p, o in ports.items() if "ack_check" in o}
        assert s["ack_check"]["checked"] == 2 and s["ack_check"]["sent"] == 2 + (WALL in asked), s
        assert len(asked) == 2 and set(asked) <= {QUEUE, WALL, SYN_ONLY}, ports
        assert all(a == ("silence" if p == WALL else "reset") for p, a in asked.items()), asked
        # A host that answered nothing (nobody has its address) has as many silent ports as the
        # scan: over the limit, the ports of the host that answered are still asked.
        down = L.server_v4.rsplit(".", 1)[0] + ".77"
        r = L.run_client([tool("tcpscan"), "--json", "--wait", "300ms", "--ack-check-max", "4", "-p", listed,
                          L.server_v4, down], timeout=60)
        objects = [json.loads(line) for line in r.stdout.splitlines()]
        s = objects[-1]
        # And one port of the host that answered nothing is asked too (twice: it draws nothing).
        assert s["ack_check"] == {"silent": 8, "checked": 4, "reset": 2, "icmp": 0, "icmp_unreachable": 0, "sent": 6,
                                  "skipped": "not asked: 4 silent ports of hosts that answered nothing "
                                             "(one port of each such host was; 8 in all, more than "
                                             "--ack-check-max 4)"}, s
        assert s["hosts_down"] == 1, s
        # Other probe kinds read silence as their answer: no check.
        _, _, s = scan(L, tool, "--flags", "fin", "-p", listed)
        assert s["ack_check"] is None, s
    finally:
        filler.kill()
        server.kill()


def test_a_lost_ack_is_asked_again(make_lab, tool):
    # One ACK per silent port: when it (or its RST) was lost, a port whose SYNs alone are
    # dropped was reported "ack-silence", as if behind a firewall that drops everything. The
    # server here drops the first ACK to SYN_ONLY (an nft quota of 60 bytes: one packet), as loss would.
    L = make_lab(ipv6=False)
    wall(L, WALL)
    L.drop_ports([SYN_ONLY])
    chain = L._input_chain(L.server_ns)
    L.nft(L.server_ns, f"add rule {chain} tcp dport {SYN_ONLY} tcp flags & (syn | ack) == ack "
                       "quota until 60 bytes drop\n")  # 40 or 52 bytes a packet: the first only
    ports, _, s = scan(L, tool, "-p", f"{WALL},{SYN_ONLY},{CLOSED}")
    got = {p: o.get("ack_check") for p, o in ports.items()}
    assert got == {WALL: "silence", SYN_ONLY: "reset", CLOSED: None}, got
    # Two ACKs to each port that drew nothing the first time (WALL twice, SYN_ONLY twice).
    assert s["ack_check"] == {"silent": 2, "checked": 2, "reset": 1, "icmp": 0, "icmp_unreachable": 0, "sent": 4}, s


def test_a_host_silent_to_syns_but_resetting_the_ack_is_up(make_lab, tool):
    # Beyond a router, no ARP answer makes a silent host look up: before the check, a server
    # whose only scanned port had a full queue was "down or unreachable".
    L = make_lab(ipv6=False, routers=1)
    server, filler = fill_queue(L)
    try:
        ports, hosts, s = scan(L, tool, "-p", QUEUE)
        assert [(h["status"], h["reason"]) for h in hosts] == [("up", "ack-reset")], hosts
        assert ports[QUEUE]["ack_check"] == "reset", ports
        assert s["hosts_up"] == 1 and s["states"]["filtered"] == 1, s
        t = L.run_client([tool("tcpscan"), "--wait", "300ms", "-p", str(QUEUE), L.server_v4], timeout=60)
        assert "up (silent to SYNs, but reset an ACK)" in t.stdout, t.stdout
        # Without it, as nmap says: down.
        _, hosts, s = scan(L, tool, "--no-ack-check", "-p", QUEUE)
        assert [h["status"] for h in hosts] == ["down"] and s["hosts_down"] == 1, hosts
    finally:
        filler.kill()
        server.kill()


def test_hosts_silent_to_syns_are_asked_past_the_limit(make_lab, tool):
    # Past --ack-check-max silent ports, the ports of hosts that answered nothing were never
    # asked: hosts behind a SYN limiter or a rule for SYNs alone read "down (no reply on any
    # port)" while they were up. Now one port of each such host is asked.
    L = make_lab(ipv6=False)
    L.add_anyip("10.99.0.0/29")  # routed through the server: no ARP for these speaks for them
    L.nft(L.server_ns, "table inet syns {\n chain input { type filter hook input priority 0; policy accept;\n"
                       "  ip daddr { 10.99.0.2, 10.99.0.3 } tcp flags & (syn | ack) == syn drop\n"
                       "  ip daddr 10.99.0.4 drop\n }\n}\n")
    r = L.run_client([tool("tcpscan"), "--json", "--wait", "300ms", "--ack-check-max", "4", "-p", "1-20",
                      "10.99.0.1-4"], timeout=60)
    assert r.returncode == 1, r.stderr  # no open port
    objects = [json.loads(line) for line in r.stdout.splitlines()]
    hosts = {o["host"]: o for o in objects if o["type"] == "host"}
    s = objects[-1]
    got = {a: (h["status"], h["reason"]) for a, h in hosts.items()}
    assert got == {"10.99.0.1": ("up", "reset"), "10.99.0.2": ("up", "ack-reset"),
                   "10.99.0.3": ("up", "ack-reset"), "10.99.0.4": ("down", "no-response")}, got
    # 60 silent ports, none of a host that answered: one of each of the three hosts is asked.
    assert s["ack_check"]["silent"] == 60 and s["ack_check"]["checked"] == 3, s
    assert s["ack_check"]["reset"] == 2, s
    assert s["ack_check"]["skipped"] == ("not asked: 57 silent ports of hosts that answered nothing (one port "
                                         "of each such host was; 60 in all, more than --ack-check-max 4)"), s
    t = L.run_client([tool("tcpscan"), "--wait", "300ms", "--ack-check-max", "4", "-p", "1-20", "10.99.0.4"],
                     timeout=60)
    assert "down or unreachable (no reply on any port, nor to an ACK)" in " ".join(t.stdout.split()), t.stdout
    # More such hosts than the limit: the first of them are asked, and the summary says so.
    r = L.run_client([tool("tcpscan"), "--json", "--wait", "300ms", "--ack-check-max", "1", "-p", "1-20",
                      "10.99.0.2-3"], timeout=60)
    objects = [json.loads(line) for line in r.stdout.splitlines()]
    statuses = sorted(o["status"] for o in objects if o["type"] == "host")
    assert statuses == ["down", "up"], r.stdout
    assert objects[-1]["ack_check"]["skipped"].endswith(
        "(one port of the first such host was; 40 in all, more than --ack-check-max 1)"), objects[-1]


def test_the_ack_check_over_ipv6(make_lab, tool):
    L = make_lab()
    wall(L, WALL)
    L.drop_ports([SYN_ONLY])
    ports, _, s = scan(L, tool, "-p", f"{WALL},{SYN_ONLY},{CLOSED}", target=L.server_v6)
    got = {p: o.get("ack_check") for p, o in ports.items()}
    assert got == {WALL: "silence", SYN_ONLY: "reset", CLOSED: None}, got
    assert s["ack_check"]["reset"] == 1, s


REFUSED_ACKS = 8095


def test_an_ack_that_draws_an_icmp_error_is_no_silence(make_lab, tool):
    # SYNs dropped, every other segment rejected with ICMP (firewalld's reject does so): the
    # ACK's ICMP was ignored and the port read "silence ... a firewall that drops everything".
    L = make_lab()
    L.start_server(OPEN, mode="hold")
    L.nft(L.server_ns, "table inet refuse {\n chain input { type filter hook input priority 0; policy accept;\n"
                       f" tcp dport {REFUSED_ACKS} tcp flags & (syn | ack) == syn drop\n"
                       f" tcp dport {REFUSED_ACKS} reject with icmpx type admin-prohibited\n"
                       f" tcp dport {WALL} drop\n }}\n}}\n")
    for target in (L.server_v4, L.server_v6):
        ports, hosts, s = scan(L, tool, "-p", f"{REFUSED_ACKS},{WALL},{OPEN}", target=target)
        got = {p: (o["state"], o["reason"], o.get("ack_check")) for p, o in ports.items()}
        assert got == {REFUSED_ACKS: ("filtered", "no-response", "icmp"), WALL: ("filtered", "no-response", "silence"),
                       OPEN: ("open", "syn-ack", None)}, got
        assert ports[REFUSED_ACKS]["ack_icmp"] == "admin-prohibited" and ports[REFUSED_ACKS]["ack_ttl"] == 64, ports
        assert "ack_reason_ip" not in ports[REFUSED_ACKS], ports  # the host's own firewall: no router named
        # The ICMP answered the first ACK: only WALL's is sent again.
        assert s["ack_check"] == {"silent": 2, "checked": 2, "reset": 0, "icmp": 1, "icmp_unreachable": 0, "sent": 3}, s
    t = L.run_client([tool("tcpscan"), "--wait", "300ms", "-p", f"{REFUSED_ACKS},{WALL},{OPEN}", L.server_v4], timeout=60)
    rows = {line.split()[0]: line for line in t.stdout.splitlines() if "/tcp" in line}
    assert rows[f"{REFUSED_ACKS}/tcp"].endswith("no-response (ack-icmp admin-prohibited)"), t.stdout
    flat = " ".join(word for word in t.stdout.split() if word != "#")  # the summary's wrapped lines
    assert ("none reset an ACK (the rest: a firewall that drops everything, a host that is gone, or loss); 1 drew "
            "an ICMP error instead, so a firewall or router refuses it, and its SYNs drew nothing (dropped, or "
            "refused with errors an ICMP rate limit held back)") in flat, t.stdout
    assert max(len(line) for line in t.stdout.splitlines()) <= 80, t.stdout


def test_a_router_that_refuses_the_ack_is_named(make_lab, tool):
    # As a router's refusal of a SYN names the router (reason_ip), so does its refusal of the ACK
    # check's ACK: who drops the SYNs unanswered and refuses everything else.
    L = make_lab(routers=1, ipv6=False)
    L.start_server(OPEN, mode="hold", family="v4")
    L.nft(L.router_ns[0], "table inet tkrefuse {\n chain forward { type filter hook forward priority 0;\n"
                          f"  ip daddr {L.server_v4} tcp dport {REFUSED_ACKS} tcp flags & (syn | ack) == syn drop\n"
                          f"  ip daddr {L.server_v4} tcp dport {REFUSED_ACKS} reject with icmp type admin-prohibited\n"
                          " }\n}\n")
    ports, hosts, s = scan(L, tool, "-p", f"{REFUSED_ACKS},{OPEN}")
    refused = ports[REFUSED_ACKS]
    assert (refused["ack_check"], refused["ack_icmp"], refused["ack_reason_ip"]) == \
        ("icmp", "admin-prohibited", L.router_v4[0]), refused
    r = L.run_client([tool("tcpscan"), "--stream", "--reason", "--wait", "300ms", "-p", f"{REFUSED_ACKS},{OPEN}",
                      L.server_v4], timeout=60)
    assert f"{REFUSED_ACKS}/tcp filtered no-response (ack-icmp admin-prohibited from {L.router_v4[0]} ttl=64)" \
        in r.stdout, r.stdout


def _rings(pid):
    """The packet rings a process has mapped (a TPACKET ring shows as socket:[inode] in maps)."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            return {line.split()[-1] for line in f if "socket:[" in line}
    except (FileNotFoundError, ProcessLookupError):
        return set()


def test_the_ack_check_opens_its_ring_after_the_scan_closed_its_own(make_lab, tool):
    # A ring is resident whole once mapped (1.25 MB at --rate 400000). The scan kept its ring
    # while the ACK check mapped a second one: two at once were the run's peak memory, 8.2 MB
    # on the bench's 1 x 65535 with filtered ports, over issue 17's 8 MB. The waits are long
    # (1 s each; a wall answers no ACK either) so that sampling the maps sees each phase many times.
    L = make_lab(ipv6=False)
    wall(L, WALL)
    proc = L.popen_client([tool("tcpscan"), "--json", "--wait", "1s", "--retries", "0", "--rate", "400000",
                           "-p", f"{WALL},{CLOSED}", L.server_v4],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen, most = set(), 0
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        rings = _rings(proc.pid)  # ip netns exec execs the tool: same pid
        seen |= rings
        most = max(most, len(rings))
        time.sleep(0.01)
    out, err = proc.communicate(timeout=30)
    summary = json.loads(out.splitlines()[-1])
    assert summary["ack_check"]["checked"] == 1, summary
    assert len(seen) == 2, (seen, "the scan's ring and the check's were both seen")
    assert most == 1, f"{most} rings mapped at once"


def test_a_host_gone_behind_a_router_is_not_called_refused(make_lab, tool):
    # Found: a router's "host unreachable" (its ARP for the host failed) to the ACK check read
    # "a firewall or router refuses them and drops the SYNs unanswered". Nothing refuses. The
    # router's answers came about 3 s after each segment, the SYNs' after the scan's wait: here
    # its rules answer the ACKs at once and drop the SYNs, the same sight without the timing.
    L = make_lab(routers=1, ipv6=False)
    gone = L.server_v4.rsplit(".", 1)[0] + ".9"
    L.nft(L.router_ns[0], "table inet tkgone {\n chain forward { type filter hook forward priority 0;\n"
                          f"  ip daddr {gone} tcp flags & (syn | ack) == syn drop\n"
                          f"  ip daddr {gone} reject with icmp type host-unreachable\n }}\n}}\n")
    r = L.run_client([tool("tcpscan"), "-p", "80,81", "--wait", "500ms", gone], timeout=90)
    flat = " ".join(word for word in r.stdout.split() if word != "#")  # the summary's lines joined
    assert "drew an ICMP host or network unreachable: the host is not reachable" in flat, r.stdout
    assert "a firewall or router refuses" not in flat, r.stdout


@pytest.mark.parametrize("family", [4, 6])
def test_a_routers_host_unreachable_about_a_host_that_answers_is_a_refusal(make_lab, tool, family):
    # Found by an explorer: a router refusing ports of a live host with "host unreachable"
    # (IPv6: addr-unreachable), its SYNs' errors held back by the ICMP rate limit, read "the host
    # is not reachable (gone ...), nothing refuses the port" beside the host's open port.
    L = make_lab(routers=1, ipv6=(family == 6))
    L.start_server(OPEN, mode="hold", family=f"v{family}")
    server = L.server_v4 if family == 4 else L.server_v6
    ip = "ip" if family == 4 else "ip6"
    code = "icmp type host-unreachable" if family == 4 else "icmpv6 type addr-unreachable"
    L.nft(L.router_ns[0], "table inet tkhu {\n chain forward { type filter hook forward priority 0;\n"
                          f"  {ip} daddr {server} tcp dport {REFUSED_ACKS} tcp flags & (syn | ack) == syn drop\n"
                          f"  {ip} daddr {server} tcp dport {REFUSED_ACKS} reject with {code}\n }}\n}}\n")
    r = L.run_client([tool("tcpscan"), "-p", f"{REFUSED_ACKS},{OPEN}", "--wait", "500ms", server], timeout=90)
    flat = " ".join(word for word in r.stdout.split() if word != "#")
    assert "the host is not reachable" not in flat, r.stdout
    assert "so a firewall or router refuses it" in flat, r.stdout


def test_the_host_s_own_host_unreachable_is_a_refusal(make_lab, tool):
    # Found (in review): a target whose own firewall rejects with "host unreachable" read "the
    # host is not reachable (gone ...), nothing refuses the ports"; it is up, and refuses.
    L = make_lab(ipv6=False)
    L.nft(L.server_ns, "table inet tkown {\n chain input { type filter hook input priority 0;\n"
                       "  tcp dport 81 tcp flags & (syn | ack) == syn drop\n"
                       "  tcp dport 81 reject with icmp type host-unreachable\n }\n}\n")
    r = L.run_client([tool("tcpscan"), "-p", "81", "--wait", "500ms", L.server_v4], timeout=90)
    flat = " ".join(word for word in r.stdout.split() if word != "#")
    assert "so a firewall or router refuses it" in flat and "the host is not reachable" not in flat, r.stdout
    p = L.run_client([tool("tcpprobe"), "-c", "1", "-W", "0.5", f"{L.server_v4}:81"], timeout=60)
    flat = " ".join(p.stdout.split())
    assert "a firewall or router refuses the port's segments" in flat, p.stdout
