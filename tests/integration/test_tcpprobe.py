"""tcpprobe against real Linux TCP stacks in lab namespaces: classification of open, closed,
filtered and unreachable ports over IPv4 and IPv6, RTTs that track the delay line, the
connect() fallback without CAP_NET_RAW, JSON/CSV output, deadlines and Ctrl-C."""
import csv
import io
import json
import re
import signal
import subprocess
import time

import pytest

import lab

OPEN, CLOSED, DROPPED, REJECTED = 8080, 8081, 8082, 8083
DELAY_MS = 20.0  # each way: the RTT through the delay line is 2 * DELAY_MS


def probe_lab(make_lab, **kw):
    L = make_lab(**kw)
    L.start_server(OPEN, mode="hold")
    L.drop_ports([DROPPED])
    L.reject_ports([REJECTED], icmp="admin-prohibited")
    return L


def targets(L, family):
    host = L.server_v4 if family == 4 else f"[{L.server_v6}]"
    return [f"{host}:{p}" for p in (OPEN, CLOSED, DROPPED, REJECTED)]


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def by_port(objects, kind):
    return {o["port"]: o for o in objects if o["type"] == kind}


@pytest.mark.parametrize("family", [4, 6])
def test_syn_mode_classifies_every_port_and_rtt_tracks_the_delay(make_lab, tool, family):
    L = probe_lab(make_lab, delay_ms=DELAY_MS)
    r = L.run_client([tool("tcpprobe"), "-m", "syn", "--json", "-c", "3", "-i", "0.1", "-W", "0.6"]
                     + targets(L, family), timeout=60)
    assert r.returncode == 1, r.stderr  # not every target answered SYN/ACK
    objects = json_lines(r.stdout)
    probes = [o for o in objects if o["type"] == "probe"]
    assert len(probes) == 12
    outcome = {(p["port"], p["probe"]): p["outcome"] for p in probes}
    for n in (1, 2, 3):
        assert outcome[(OPEN, n)] == "open"
        assert outcome[(CLOSED, n)] == "closed"
        assert outcome[(DROPPED, n)] == "filtered"
        assert outcome[(REJECTED, n)] == "unreachable"
    for p in probes:
        assert isinstance(p["port"], int) and isinstance(p["probe"], int)
        if p["outcome"] in ("open", "closed"):
            assert isinstance(p["rtt_ms"], float) and isinstance(p["rtt_us"], int)
            assert p["timestamp_source"] == "kernel"
            # No answer beats the line; a loaded machine may hold one back (a CI run measured
            # 68 ms), so the upper bound is on each port's fastest. The exact error belongs to
            # the benchmark.
            assert 2 * DELAY_MS <= p["rtt_ms"] < 2 * DELAY_MS + 500, p
        if p["outcome"] == "open":
            assert p["flags"] == "S." and p["mss"] > 0 and p["window"] > 0 and p["ttl"] == 64
            assert p["sack_permitted"] is True
        if p["outcome"] == "closed":
            assert p["flags"] == "R."
        if p["outcome"] == "unreachable":
            server = L.server_v4 if family == 4 else L.server_v6
            assert p["responder"] == server
            assert (p["icmp_type"], p["icmp_code"]) == ((3, 13) if family == 4 else (1, 1))
            assert "prohibited" in p["icmp_text"]
    for port in (OPEN, CLOSED):
        fastest = min(p["rtt_ms"] for p in probes if p["port"] == port)
        assert fastest < 2 * DELAY_MS + 15, (port, fastest)
    summaries = by_port(objects, "summary")
    assert summaries[OPEN]["open"] == 3 and summaries[OPEN]["loss_pct"] == 0
    assert summaries[DROPPED]["filtered"] == 3 and summaries[DROPPED]["loss_pct"] == 100
    assert "rtt_min_ms" not in summaries[DROPPED]  # no RTT without an answer
    assert 2 * DELAY_MS <= summaries[OPEN]["rtt_p50_ms"] < 2 * DELAY_MS + 15


def test_syn_mode_rtt_matches_the_wire(make_lab, tool):
    # The delay line records the client's link with kernel stamps: each probe's RTT must be the
    # one on that wire, give or take the link crossing (a few us; the benchmark has the figure).
    L = make_lab(delay_ms=2, ipv6=False, wire_pcap=True)
    L.start_server(OPEN, mode="hold")
    r = L.run_client([tool("tcpprobe"), "-m", "syn", "--json", "-c", "10", "-i", "0.05",
                      f"{L.server_v4}:{OPEN}"])
    assert r.returncode == 0, r.stderr
    time.sleep(0.2)  # the delay line writes a frame after it leaves
    handshakes = lab.wire_handshakes(L.wire_pcap, OPEN)["handshakes"]
    wire = {h["client_port"]: h["wire_rtt_ns"] for h in handshakes}
    probes = [o for o in json_lines(r.stdout) if o["type"] == "probe"]
    errors_us = [p["rtt_ms"] * 1000 - wire[p["source_port"]] / 1000 for p in probes]
    assert len(errors_us) == 10 and all(p["timestamp_source"] == "kernel" for p in probes)
    assert all(-20 < e < 500 for e in errors_us), errors_us
    assert sorted(errors_us)[5] < 50, errors_us


def test_every_probe_has_its_own_source_port_and_open_halfopen_is_reset(make_lab, tool):
    L = probe_lab(make_lab)
    r = L.run_client([tool("tcpprobe"), "--json", "-c", "5", "-i", "0.05", f"{L.server_v4}:{OPEN}"])
    assert r.returncode == 0, r.stderr
    probes = [o for o in json_lines(r.stdout) if o["type"] == "probe"]
    assert len({p["source_port"] for p in probes}) == 5
    # Our RST (and the kernel's) leave nothing half-open on the server.
    ss = L.run_server(["ss", "-Htn", "state", "syn-recv"])
    assert ss.stdout.strip() == ""


def test_exit_0_when_every_target_answers_and_text_summary(make_lab, tool):
    L = probe_lab(make_lab)
    r = L.run_client([tool("tcpprobe"), "-c", "2", "-i", "0.05", f"{L.server_v4}:{OPEN}", f"[{L.server_v6}]:{OPEN}"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("tcpprobe statistics ---") == 2
    assert "2 probes sent, 2 answered (2 open, 0 closed, 0 unreachable), 0% loss" in r.stdout
    assert "rtt min/avg/max/mdev = " in r.stdout and "(kernel timestamps)" in r.stdout


def test_summary_printed_at_full_loss(make_lab, tool):
    L = probe_lab(make_lab)
    r = L.run_client([tool("tcpprobe"), "-c", "12", "-i", "0.01", "-W", "0.3", f"{L.server_v4}:{DROPPED}"])
    assert r.returncode == 1
    assert "12 probes sent, 0 answered" in r.stdout and "100% loss" in r.stdout
    # The summary fits 80 columns (its first line was 84 here).
    summary = r.stdout[r.stdout.index("tcpprobe statistics ---"):].splitlines()
    assert all(len(line) <= 80 for line in summary), summary
    assert "(no answer in 300 ms)" in r.stdout, r.stdout
    # Folded or not, a number keeps its unit (found: "time 401" then "ms" on the next line).
    assert re.search(r"time [0-9]+ ms", r.stdout), r.stdout
    # A wait under a millisecond is named as given (found: "no answer in 0 ms").
    r = L.run_client([tool("tcpprobe"), "-c", "1", "-W", "0.0004", f"{L.server_v4}:{DROPPED}"])
    assert "(no answer in 0.400 ms)" in r.stdout, r.stdout


@pytest.mark.parametrize("family", [4, 6])
def test_connect_fallback_without_cap_net_raw(make_lab, tool, family):
    L = probe_lab(make_lab, delay_ms=DELAY_MS)
    host = L.server_v4 if family == 4 else f"[{L.server_v6}]"
    r = L.run_client([tool("tcpprobe"), "--json", "-c", "2", "-i", "0.1", "-W", "0.6",
                      f"{host}:{OPEN}", f"{host}:{CLOSED}", f"{host}:{DROPPED}"], no_net_raw=True)
    assert "falling back to connect() mode" in r.stderr
    assert r.returncode == 1
    objects = json_lines(r.stdout)
    probes = [o for o in objects if o["type"] == "probe"]
    assert all(p["mode"] == "connect" for p in probes)
    got = {(p["port"], p["probe"]): p for p in probes}
    for n in (1, 2):
        assert got[(OPEN, n)]["outcome"] == "open"
        assert got[(CLOSED, n)]["outcome"] == "closed"
        assert got[(DROPPED, n)]["outcome"] == "filtered"
        open_probe = got[(OPEN, n)]
        assert open_probe["timestamp_source"] == "user"
        # The kernel's own RTT sample of the handshake: the delay line's 2 x DELAY_MS.
        kernel_ms = open_probe["kernel_rtt_us"] / 1000
        assert 2 * DELAY_MS * 0.9 <= kernel_ms < 2 * DELAY_MS + 30
        # connect_ms is user time around connect(): that same handshake plus this process's
        # wake-up, which a loaded CI machine has stretched by 30 ms (74 ms seen at DELAY_MS 20).
        # Bounded by the kernel's sample, it still fails if the interval or the wait leaks in.
        assert 2 * DELAY_MS <= open_probe["connect_ms"]
        assert kernel_ms - 1 <= open_probe["connect_ms"] < kernel_ms + 50


def drop_every_other_syn(L, port):
    """Each probe's first SYN is dropped at the server; the kernel's resend passes."""
    L.nft(L.server_ns, "table inet tk_synloss {\n chain input { type filter hook input priority 0; policy accept;\n"
                       f"  tcp dport {port} tcp flags & (syn | ack) == syn numgen inc mod 2 == 0 drop\n }}\n}}\n")


def two_connect_probes(L, tool, port):
    r = L.run_client([tool("tcpprobe"), "-m", "connect", "--json", "-c", "2", "-i", "1.5", "-W", "2.5",
                      f"{L.server_v4}:{port}"], timeout=60)
    objects = json_lines(r.stdout)
    return [o for o in objects if o["type"] == "probe"], objects[-1]


def test_connect_mode_leaves_the_kernels_syn_retries_out_of_the_rtt(make_lab, tool):
    # Found on a lossy path with -W 2: a probe whose SYN or SYN/ACK was lost connected after the
    # kernel sent its SYN again, and its "rtt" was the kernel's 1 s timeout (1007 ms on a 2 ms
    # path), counted in the rtt figures. Every other SYN is dropped here: each probe's first.
    L = make_lab(ipv6=False)
    L.start_server(OPEN, mode="hold")
    drop_every_other_syn(L, OPEN)
    probes, summary = two_connect_probes(L, tool, OPEN)
    assert [p["outcome"] for p in probes] == ["open", "open"], probes
    for p in probes:
        assert p["syn_retransmits"] == 1 and p["rtt_ms"] > 900, p  # the kernel's timeout, said so
        assert p["kernel_rtt_us"] < 100000, p                     # its own sample: the round trip
    assert summary["retried"] == 2 and "rtt_avg_ms" not in summary, summary
    # Nor their kernel RTTs (found: kernel rtt avg 320 ms beside an rtt avg of 51 ms, the
    # retried probes' samples holding the peer's 1 s SYN/ACK timeout).
    assert "kernel_rtt_avg_ms" not in summary, summary
    # The same for a closed port: its RST to the resent SYN came after the kernel's 1 s timeout
    # too (found: "closed probe=1 rtt=3078.422 ms", counted in the rtt figures).
    L.nft(L.server_ns, "delete table inet tk_synloss\n")
    drop_every_other_syn(L, CLOSED)
    probes, summary = two_connect_probes(L, tool, CLOSED)
    assert [(p["outcome"], p["syn_retransmits"]) for p in probes] == [("closed", 1), ("closed", 1)], probes
    assert summary["retried"] == 2 and "rtt_avg_ms" not in summary, summary
    text = L.run_client([tool("tcpprobe"), "-m", "connect", "-c", "1", "-W", "2.5", f"{L.server_v4}:{CLOSED}"],
                        timeout=60).stdout
    assert "closed probe=1 rtt=" in text and "(after 1 SYN sent again: not a round trip)" in text, text
    L.nft(L.server_ns, "delete table inet tk_synloss\n")
    text = L.run_client([tool("tcpprobe"), "-m", "connect", "-c", "1", "-W", "2.5", f"{L.server_v4}:{OPEN}"],
                        timeout=60).stdout
    assert "sent again" not in text and "rtt min/avg/max" in text, text
    r = L.run_client([tool("tcpprobe"), "-m", "connect", "--json", "-c", "1", f"{L.server_v4}:{OPEN}"], timeout=60)
    assert json_lines(r.stdout)[0]["syn_retransmits"] == 0, r.stdout


def test_connect_mode_shows_the_mss_the_peer_offered(make_lab, tool):
    # Found by an explorer: connect mode said 'mss 1188' for a SYN/ACK offering 1200 (and 1448
    # for 1460): TCP_INFO's segment size, without the timestamp option's 12 bytes.
    L = make_lab(ipv6=False)
    L.start_server(OPEN, mode="hold")

    def mss(mode):
        r = L.run_client([tool("tcpprobe"), "-m", mode, "--json", "-c", "1", f"{L.server_v4}:{OPEN}"], timeout=60)
        probe = [o for o in json_lines(r.stdout) if o["type"] == "probe"][0]
        assert probe["outcome"] == "open", probe
        return probe["mss"]

    assert mss("connect") == mss("syn") == 1460
    L.nft(L.server_ns, "table inet tk_mss {\n chain output { type filter hook output priority mangle; policy accept;\n"
                       "  tcp flags & (syn | ack) == syn | ack tcp option maxseg size set 1200\n }\n}\n")
    assert mss("connect") == mss("syn") == 1200
    # Without timestamps nothing is taken out: the segment size is the MSS.
    L.sysctl(L.server_ns, "net.ipv4.tcp_timestamps", 0)
    assert mss("connect") == mss("syn") == 1200


def test_connect_mode_reports_icmp_unreachable_v4(make_lab, tool):
    L = probe_lab(make_lab)
    r = L.run_client([tool("tcpprobe"), "-m", "connect", "--json", "-c", "1", f"{L.server_v4}:{REJECTED}"],
                     no_net_raw=True)
    probe = json_lines(r.stdout)[0]
    assert probe["outcome"] == "unreachable", r.stdout


@pytest.mark.parametrize("family", [4, 6])
def test_connect_mode_port_unreachable_is_no_reset(make_lab, tool, family):
    # An ICMP port unreachable fails connect() with ECONNREFUSED, as an RST does: it was said
    # "closed" (and timed as one), though no RST came. Only the ICMP is queued on the socket.
    L = probe_lab(make_lab)
    L.reject_ports([REJECTED + 1], icmp="port-unreachable")
    host = L.server_v4 if family == 4 else f"[{L.server_v6}]"
    r = L.run_client([tool("tcpprobe"), "-m", "connect", "--json", "-c", "1", f"{host}:{REJECTED + 1}"],
                     no_net_raw=True)
    probe = json_lines(r.stdout)[0]
    assert probe["outcome"] == "unreachable", r.stdout
    assert (probe["icmp_type"], probe["icmp_code"]) == ((3, 3) if family == 4 else (1, 4)), probe
    # A closed port's RST is still "closed".
    r = L.run_client([tool("tcpprobe"), "-m", "connect", "--json", "-c", "1", f"{host}:{CLOSED}"], no_net_raw=True)
    assert json_lines(r.stdout)[0]["outcome"] == "closed", r.stdout


def test_syn_mode_refused_without_privilege(make_lab, tool):
    L = probe_lab(make_lab)
    r = L.run_client([tool("tcpprobe"), "-m", "syn", "-c", "1", f"{L.server_v4}:{OPEN}"], no_net_raw=True)
    assert r.returncode == 3 and "setcap" in r.stderr


def test_csv_output_has_a_header_and_rows(make_lab, tool):
    L = probe_lab(make_lab)
    r = L.run_client([tool("tcpprobe"), "--csv", "-c", "2", "-i", "0.05", f"{L.server_v4}:{OPEN}"])
    assert r.returncode == 0
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["type"] for row in rows] == ["probe", "probe", "summary"]
    assert rows[0]["outcome"] == "open" and float(rows[0]["rtt_ms"]) > 0
    assert rows[2]["sent"] == "2" and rows[2]["open"] == "2"


def test_quiet_deadline_and_ttl(make_lab, tool):
    L = probe_lab(make_lab)
    cap = L.capture(L.server_ns, L.server_if, f"tcp dst port {OPEN} and tcp[tcpflags] & tcp-syn != 0")
    start = time.monotonic()
    r = L.run_client([tool("tcpprobe"), "-q", "-w", "1", "-i", "0.2", "--ttl", "7", f"{L.server_v4}:{OPEN}"])
    elapsed = time.monotonic() - start
    assert r.returncode == 0
    assert "probe=" not in r.stdout and "tcpprobe statistics" in r.stdout
    assert elapsed < 5
    # The SYNs really left with TTL 7.
    seen = subprocess.run(["tcpdump", "-nn", "-v", "-r", cap.stop()], capture_output=True, text=True).stdout
    assert seen.count("ttl 7,") >= 4, seen


def test_ctrl_c_prints_the_partial_summary(make_lab, tool):
    L = probe_lab(make_lab)
    p = L.popen_client([tool("tcpprobe"), "--json", "-i", "0.1", f"{L.server_v4}:{OPEN}"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=10)
    assert p.returncode == 0, err
    objects = json_lines(out)
    assert objects[-1]["type"] == "summary"
    assert objects[-1]["sent"] >= 3 and objects[-1]["open"] >= 3


@pytest.mark.parametrize("name", ["tcpprobe", "tcpscan"])
def test_an_ipv4_mapped_address_is_its_ipv4_host(make_lab, tool, name):
    # ss shows a dual-stack socket's IPv4 peer as [::ffff:a.b.c.d]; pasted into a tool it
    # was sent as a raw IPv6 packet: "no route", exit 4. The kernel's sockets take it as IPv4.
    L = probe_lab(make_lab)
    mapped = f"::ffff:{L.server_v4}"
    argv = ([tool(name), "--json", "-c", "1", f"[{mapped}]:{OPEN}"] if name == "tcpprobe"
            else [tool(name), "--json", "-p", str(OPEN), mapped])
    r = L.run_client(argv, timeout=30)
    assert r.returncode == 0, r.stderr
    got = [o for o in json_lines(r.stdout) if o["type"] in ("probe", "port")]
    assert len(got) == 1, r.stdout
    assert got[0].get("outcome", got[0].get("state")) == "open", got
    assert got[0]["address" if name == "tcpprobe" else "host"] == L.server_v4, got


@pytest.mark.parametrize("name", ["tcpprobe", "tcppath"])
def test_an_unbracketed_ipv6_address_with_a_port_like_group_is_warned_about(make_lab, tool, name):
    # "fd00:N::2:8080" is an address (probed at port 80), and also [fd00:N::2]:8080 without
    # brackets: it was probed as given, filtered, with nothing said. The address is in the lab's
    # own /64 (on its link): nothing leaves the lab.
    L = make_lab()
    target = f"{L.server_v6}:{OPEN}"
    argv = [tool(name), "-c", "1", "-W", "0.2", target] if name == "tcpprobe" else [tool(name), "-m", "1", "-W", "0.2s", target]
    r = L.run_client(argv, timeout=30)
    assert f"write [{L.server_v6}]:{OPEN}" in r.stderr, r.stderr


def test_a_syn_proxy_guarding_a_closed_port_is_named_and_connect_mode_survives_its_reset(make_lab, tool):
    # Found with nftables synproxy guarding a closed port: syn mode said "open" with no word of
    # the proxy (tcpscan marks it), and connect mode, whose handshake the proxy completed and
    # then reset, stopped with "connect to ...: Connection reset by peer", exit 4.
    from test_tcpscan import SYNPROXY
    L = make_lab(ipv6=False)
    L.sysctl(L.server_ns, "net.netfilter.nf_conntrack_tcp_loose", 0)
    L.nft(L.server_ns, SYNPROXY)
    target = f"{L.server_v4}:8081"  # nothing listens behind the proxy
    r = L.run_client([tool("tcpprobe"), "-c", "2", "-i", "0.2", "--json", target], timeout=30)
    s = json_lines(r.stdout)[-1]
    assert s["open"] == 2 and s["zero_window"] == 2, s
    t = L.run_client([tool("tcpprobe"), "-c", "2", "-i", "0.2", target], timeout=30)
    assert "2 open answers have a zero window (win 0), a SYN proxy's mark" in " ".join(t.stdout.split()), t.stdout
    r = L.run_client([tool("tcpprobe"), "-m", "connect", "-c", "3", "-i", "0.2", "--json", target], timeout=30)
    assert r.returncode == 0 and r.stderr == "", (r.returncode, r.stderr)
    probes = [o for o in json_lines(r.stdout) if o["type"] == "probe"]
    s = json_lines(r.stdout)[-1]
    assert [p["outcome"] for p in probes] == ["open"] * 3, probes
    assert s["reset_at_once"] == sum(1 for p in probes if p.get("reset_after_handshake")), (probes, s)
