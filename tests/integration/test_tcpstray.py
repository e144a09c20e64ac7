"""tcpstray against real Linux TCP stacks in lab namespaces, IPv4 and IPv6: every case gives
the answer Linux's documented behaviour predicts; deviations produced on purpose (tcp_rfc1337,
a responder that resets everything) and challenge ACKs dropped by nftables (inconclusive, "rate
limit?"); the peer's CLOSE_WAIT after the exact FIN, seen from the server namespace; and no nftables table of ours left behind,
after normal runs, Ctrl-C, and a SIGKILLed run (the next run removes its table)."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

LIVE, CLOSED, TW = 8080, 8081, 8082
HERE = os.path.dirname(os.path.abspath(__file__))
RESPONDER = os.path.join(HERE, "..", "lab", "stray_rst_responder.py")
GUARD_PREFIX = "tcpkit_stray_"

# What Linux (5.x/6.x, default sysctls) answers, case by case.
LINUX = {
    "closed-fin": "conformant", "closed-ack": "conformant", "closed-null": "conformant",
    "closed-xmas": "conformant", "closed-syn-fin": "conformant", "closed-rst": "conformant",
    "listen-fin": "conformant", "listen-null": "conformant", "listen-xmas": "conformant",
    "listen-ack": "conformant", "listen-rst": "conformant",
    "live-rst-exact": "conformant", "live-rst-in-window": "conformant",
    "live-rst-out-of-window": "conformant", "live-syn": "conformant",
    "live-ack-unsent": "conformant", "live-data-old": "conformant",
    "live-fin-exact": "conformant", "live-fin-out-of-window": "conformant",
    "tw-fin-retransmit": "conformant",
    "tw-rst": "deviation",  # net.ipv4.tcp_rfc1337=0: an RST assassinates TIME_WAIT
    "tw-syn": "conformant",  # reuses the pair with an ISN above the old SND.NXT
}


def host(L, family):
    return L.server_v4 if family == 4 else f"[{L.server_v6}]"


def cases(stdout):
    objects = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    assert objects and objects[-1]["type"] == "summary", stdout
    return {o["case"]: o for o in objects if o["type"] == "case"}, objects[-1]


def stray(L, tool, family, port, *args, timeout=120, wait="0.3"):
    argv = [tool("tcpstray"), "--json", "-v", "-W", wait, "--closed-port", str(CLOSED),
            f"{host(L, family)}:{port}", *args]
    return L.run_client(argv, timeout=timeout)


def guard_tables(L):
    out = L.run_client(["nft", "list", "tables"]).stdout
    return [line.split()[-1] for line in out.splitlines() if GUARD_PREFIX in line]


def lab_with_servers(make_lab):
    L = make_lab()
    L.start_server(LIVE, mode="never-close")
    L.start_server(TW, mode="banner-close", banner=b"bye\n")
    return L


@pytest.mark.parametrize("family", [4, 6])
def test_linux_peer_gives_linux_answers_in_every_case(make_lab, tool, family):
    L = lab_with_servers(make_lab)
    r = stray(L, tool, family, LIVE, "--group", "closed,listen,live")
    got, summary = cases(r.stdout)
    r2 = stray(L, tool, family, TW, "--group", "time-wait")
    got2, summary2 = cases(r2.stdout)
    got.update(got2)
    assert {name: c["verdict"] for name, c in got.items()} == LINUX, r.stderr + r2.stderr
    assert r.returncode == 0, r.stderr          # every case of these groups conforms
    assert r2.returncode == 1, r2.stderr        # tw-rst is Linux's default deviation
    assert summary["cases"] == 19 and summary["conformant"] == 19
    assert summary2["cases"] == 3 and summary2["deviation"] == 1
    assert summary2["guard_table"].startswith(GUARD_PREFIX)
    assert summary["capture_drops"] == 0 and summary2["capture_drops"] == 0  # a clean run's captures lose nothing
    # The answers themselves, not only the verdicts.
    assert got["closed-syn-fin"]["observed"].startswith("R. seq=0")
    # Silence where it is due is backed by an answer that shows the segment reached the stack.
    assert "the same segment drew a reset from closed port 8081 (closed-fin)" in got["listen-fin"]["reason"]
    assert got["live-rst-out-of-window"]["observed"] == "silence, then . seq=SND.NXT ack=RCV.NXT win=" + \
        got["live-rst-out-of-window"]["observed"].rsplit("win=", 1)[1]
    assert got["live-rst-in-window"]["observed"].startswith(". seq=SND.NXT ack=RCV.NXT")
    assert got["live-fin-exact"]["observed"].startswith(". seq=SND.NXT ack=RCV.NXT+1")
    assert got["live-fin-out-of-window"]["observed"].startswith(". seq=SND.NXT ack=RCV.NXT ")
    assert got["live-rst-exact"]["observed"].startswith("silence, then R")
    assert "(reused)" in got["tw-syn"]["observed"]
    assert "assassinated" in got["tw-rst"]["observed"]
    for c in got.values():
        assert c["rate_limit_possible"] is False
        segs = c["segments"]
        assert any(s["crafted"] and s["direction"] == "out" for s in segs), c
        if c["group"] in ("live", "time-wait"):
            assert any(not s["crafted"] and s["direction"] == "out" and s["flags"] == "S" for s in segs)
    assert guard_tables(L) == []


@pytest.mark.parametrize("family", [4, 6])
def test_tcp_rfc1337_flips_the_time_wait_rst_verdict(make_lab, tool, family):
    L = lab_with_servers(make_lab)
    before, _ = cases(stray(L, tool, family, TW, "--case", "tw-rst").stdout)
    assert before["tw-rst"]["verdict"] == "deviation"
    L.sysctl(L.server_ns, "net.ipv4.tcp_rfc1337", 1)
    r = stray(L, tool, family, TW, "--case", "tw-rst")
    after, summary = cases(r.stdout)
    assert after["tw-rst"]["verdict"] == "conformant", after
    assert "TIME_WAIT kept" in after["tw-rst"]["observed"]
    assert r.returncode == 0 and summary["conformant"] == 1
    assert guard_tables(L) == []


@pytest.mark.parametrize("family", [4, 6])
def test_dropped_challenge_acks_are_never_conformant(make_lab, tool, family):
    L = lab_with_servers(make_lab)
    # The peer's pure ACKs from the live port vanish in its own output chain: challenge and
    # duplicate ACKs, and the ACK of the FIN (the never-close server sends no FIN after it).
    L.nft(L.server_ns, "table inet stray_test {\n chain output { type filter hook output priority 0;\n"
                       f"  tcp sport {LIVE} tcp flags == ack drop\n }}\n}}\n")
    r = stray(L, tool, family, LIVE, "--group", "live")
    got, summary = cases(r.stdout)
    assert r.returncode == 1
    # Silence twice, over a second apart, where stacks rate-limit the answer: a middlebox that
    # drops them cannot be told from a host-wide limit, so no verdict (and never conformant).
    for name in ("live-rst-in-window", "live-syn", "live-ack-unsent", "live-data-old",
                 "live-fin-out-of-window"):
        assert got[name]["verdict"] == "inconclusive", got[name]
        assert got[name]["observed"] == "silence (twice, over a second apart)"
        assert got[name]["rate_limit_possible"] is True
    # The ACK of a FIN is no rate-limited answer, but the out-of-window FIN drew nothing either:
    # the silence may be the path's (here it is: the stack acked, the rule dropped it), no deviation.
    fin = got["live-fin-exact"]
    assert fin["verdict"] == "inconclusive" and "the other FIN of the run" in fin["reason"], fin
    # Cases whose answer is silence or an RST are untouched by the rule.
    assert got["live-rst-exact"]["verdict"] == "conformant"
    # The out-of-window RST's silence is proved by the duplicate ACK to a pure ACK after it, a
    # pure ACK the rule drops: nothing shows the RST reached the stack.
    oow = got["live-rst-out-of-window"]
    assert oow["verdict"] == "inconclusive" and "drew no duplicate ACK either" in oow["reason"], oow
    assert summary["rate_limit_possible"] == 5
    assert guard_tables(L) == []


def strict_timestamps(L, *ports):
    """The server's stack turned strict about RFC 7323 §3.2 (Linux is lenient): once timestamps
    are negotiated, a non-RST segment without the option is dropped before TCP sees it."""
    ports = ", ".join(map(str, ports))
    L.nft(L.server_ns, "table inet strict_ts {\n chain input { type filter hook input priority 0;\n"
                       f"  tcp dport {{ {ports} }} tcp flags & rst == 0 tcp option timestamp missing counter drop\n }}\n}}\n")


@pytest.mark.parametrize("family", [4, 6])
def test_a_stack_that_drops_segments_without_timestamps_is_no_deviation(make_lab, tool, family):
    # Found by reading RFC 7323: our crafted segments carried no timestamp option on connections
    # that negotiated it, so a strict stack's silence was judged a deviation (live-syn,
    # live-ack-unsent, live-data-old, live-fin-*, the follow-up of live-rst-exact, tw-fin-retransmit).
    L = lab_with_servers(make_lab)
    strict_timestamps(L, LIVE, TW)
    r = stray(L, tool, family, LIVE, "--group", "live")
    got, _ = cases(r.stdout)
    r2 = stray(L, tool, family, TW, "--group", "time-wait")
    got2, _ = cases(r2.stdout)
    got.update(got2)
    expected = {name: v for name, v in LINUX.items() if name.startswith(("live-", "tw-"))}
    assert {name: c["verdict"] for name, c in got.items()} == expected, r.stdout + r2.stdout
    assert r.returncode == 0, r.stderr
    # Every crafted segment on those connections carried TSval/TSecr: the rule dropped none.
    rules = L.run_server(["nft", "list", "table", "inet", "strict_ts"]).stdout
    assert "counter packets 0 " in rules, rules
    assert guard_tables(L) == []


def start_rst_responder(L, ports, *flags, input_rule=""):
    """The misbehaving responder on `ports`, with the kernel's own RSTs from them muted (ours carry
    the mark the rule lets through); `input_rule`, when given, is a rule of an input chain too."""
    mark = 0x5253
    port_set = "{ " + ", ".join(map(str, ports)) + " }"
    chains = (" chain output { type filter hook output priority 0;\n"
              f"  tcp sport {port_set} tcp flags & rst == rst meta mark != {mark} drop\n }}\n")
    if input_rule:
        chains += f" chain input {{ type filter hook input priority 0;\n  {input_rule}\n }}\n"
    L.nft(L.server_ns, "table inet stray_test {\n" + chains + "}\n")
    return L.popen_server([sys.executable, RESPONDER, "--interface", L.server_if, "--ports",
                           ",".join(map(str, ports)), "--mark", str(mark), "--max-seconds", "120", *flags],
                          stdout=subprocess.PIPE)


@pytest.mark.parametrize("family", [4, 6])
def test_rst_responder_gives_deviations_where_expected(make_lab, tool, family):
    L = make_lab()
    L.start_server(LIVE, mode="never-close")
    proc = start_rst_responder(L, [LIVE, CLOSED])
    assert proc.stdout.readline().strip() == b"ready"
    r = stray(L, tool, family, LIVE, "--group", "closed,listen,live")
    got, summary = cases(r.stdout)
    verdicts = {name: c["verdict"] for name, c in got.items()}
    assert verdicts == {
        # The responder's RSTs have the closed-port form; it leaves pure ACKs to the (muted) kernel.
        "closed-fin": "conformant", "closed-null": "conformant", "closed-xmas": "conformant",
        "closed-syn-fin": "conformant", "closed-ack": "deviation", "closed-rst": "deviation",
        "listen-fin": "deviation", "listen-null": "deviation", "listen-xmas": "deviation",
        "listen-rst": "deviation", "listen-ack": "deviation",
        # On the live connection the kernel still answers; the responder's extra RSTs show.
        "live-rst-exact": "deviation", "live-rst-out-of-window": "deviation",
        "live-rst-in-window": "deviation", "live-data-old": "deviation",
        "live-fin-exact": "deviation", "live-fin-out-of-window": "deviation",
        "live-syn": "conformant", "live-ack-unsent": "conformant",
    }, r.stdout
    assert r.returncode == 1 and summary["deviation"] == 13
    assert got["closed-rst"]["observed"].startswith("R. seq=0")


def close_wait_ports(L, duration):
    """Polls /proc/net/tcp{,6} in the server namespace every 2 ms; returns the remote ports
    of sockets seen in CLOSE_WAIT (state 08)."""
    code = ("import time,sys\nend=time.monotonic()+float(sys.argv[1]);seen=set()\n"
            "while time.monotonic()<end:\n"
            " for f in ('/proc/net/tcp','/proc/net/tcp6'):\n"
            "  for line in open(f).read().splitlines()[1:]:\n"
            "   p=line.split()\n"
            "   if p[3]=='08': seen.add(int(p[2].split(':')[1],16))\n"
            " time.sleep(0.002)\n"
            "print(' '.join(map(str,sorted(seen))))\n")
    return L.popen_server([sys.executable, "-c", code, str(duration)], stdout=subprocess.PIPE)


@pytest.mark.parametrize("family", [4, 6])
def test_fin_at_rcv_nxt_puts_the_peer_in_close_wait(make_lab, tool, family):
    L = lab_with_servers(make_lab)
    watcher = close_wait_ports(L, 4.0)
    time.sleep(0.2)
    r = stray(L, tool, family, LIVE, "--case", "live-fin-exact")
    got, _ = cases(r.stdout)
    ports = watcher.communicate(timeout=20)[0].split()
    assert got["live-fin-exact"]["verdict"] == "conformant"
    assert str(got["live-fin-exact"]["local_port"]).encode() in ports, (ports, got)
    # After the case tcpstray resets what it left: no CLOSE_WAIT stays behind.
    time.sleep(0.2)
    states = L.run_server(["ss", "-Htan", "state", "close-wait"]).stdout
    assert f":{got['live-fin-exact']['local_port']}" not in states


def test_ctrl_c_removes_the_guard_and_prints_the_partial_summary(make_lab, tool):
    L = lab_with_servers(make_lab)
    # A server that never closes first: the TIME_WAIT case waits for its FIN, guard in place.
    proc = L.popen_client([tool("tcpstray"), "--json", "-W", "2", f"{L.server_v4}:{LIVE}",
                           "--group", "time-wait"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    end = time.monotonic() + 10
    while not guard_tables(L) and time.monotonic() < end:
        time.sleep(0.05)
    assert len(guard_tables(L)) == 1
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 1, err
    _, summary = cases(out.decode())
    assert summary["interrupted"] is True
    assert guard_tables(L) == []


def test_a_later_run_removes_the_table_of_a_killed_run(make_lab, tool):
    L = lab_with_servers(make_lab)
    proc = L.popen_client([tool("tcpstray"), "--json", "-W", "2", f"{L.server_v4}:{LIVE}",
                           "--group", "time-wait"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    end = time.monotonic() + 10
    while not guard_tables(L) and time.monotonic() < end:
        time.sleep(0.05)
    left = guard_tables(L)
    assert len(left) == 1
    proc.kill()  # SIGKILL: no cleanup possible
    proc.communicate(timeout=10)
    assert guard_tables(L) == left
    r = L.run_client([tool("tcpstray"), "--json", "-W", "0.3", f"{L.server_v4}:{LIVE}",
                      "--case", "closed-rst", "--closed-port", str(CLOSED)])
    assert r.returncode == 0, r.stderr
    assert f"removed nftables table inet {left[0]}" in r.stderr
    assert guard_tables(L) == []


def test_time_wait_cases_hold_their_local_port(make_lab, tool):
    # We close second, so once the peer acks our FIN no socket of ours keeps the port: another
    # process's connect() to the same server could take it, and its SYN would meet the very
    # TIME_WAIT under test. With a one-port range, such a connect() must fail during the case.
    L = lab_with_servers(make_lab)
    port = 45000
    L.sysctl(L.client_ns, "net.ipv4.ip_local_port_range", f"{port} {port}")
    L.sysctl(L.server_ns, "net.ipv4.tcp_rfc1337", 1)  # the stray RST leaves the TIME_WAIT alone
    proc = L.popen_client([tool("tcpstray"), "--json", "-W", "3", f"{L.server_v4}:{TW}", "--case", "tw-rst"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if f":{port}" in L.run_server(["ss", "-Htan", "state", "time-wait"]).stdout:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the server never entered TIME_WAIT towards our port")
        time.sleep(0.1)
        r = L.run_python(L.client_ns, f"""
import socket
s = socket.socket()
s.settimeout(2)
try:
    s.connect(("{L.server_v4}", {TW}))
    print("connected from", s.getsockname()[1])
except OSError as e:
    print("errno", e.errno)
""")
        assert r.stdout.strip() == "errno 99", r.stdout + r.stderr  # EADDRNOTAVAIL: the port is held
    finally:
        out, err = proc.communicate(timeout=30)
    got, _ = cases(out.decode())
    assert got["tw-rst"]["local_port"] == port
    assert got["tw-rst"]["verdict"] == "conformant", (got, err)
    assert guard_tables(L) == []


def test_time_wait_needs_a_server_that_closes_first(make_lab, tool):
    L = lab_with_servers(make_lab)
    r = stray(L, tool, 4, LIVE, "--case", "tw-fin-retransmit")
    got, summary = cases(r.stdout)
    assert got["tw-fin-retransmit"]["verdict"] == "inconclusive"
    assert "did not close first" in got["tw-fin-retransmit"]["reason"]
    assert r.returncode == 1 and summary["inconclusive"] == 1
    assert guard_tables(L) == []


def test_a_response_larger_than_our_window_is_read_while_the_fin_is_awaited(make_lab, tool):
    # nginx sends a page of 400 kB and closes. We read nothing until its FIN came: our window
    # filled at about 120 kB, the FIN waited behind the rest, and every TIME_WAIT case said
    # "the peer did not close first ... (give it one with --request)", the request given.
    L = make_lab()
    L.start_nginx(f"{L.server_v4}:{TW}", TW, files={"big": bytes(400_000)})
    r = stray(L, tool, 4, TW, "--group", "time-wait", "--request", "GET /files/big HTTP/1.0\r\n\r\n")
    got, summary = cases(r.stdout)
    assert set(got) == {"tw-fin-retransmit", "tw-rst", "tw-syn"}, got
    assert {name: c["verdict"] for name, c in got.items()} == {n: LINUX[n] for n in got}, got
    assert summary["inconclusive"] == 0, got
    assert guard_tables(L) == []


def test_crafted_segments_offer_about_the_window_our_stack_offers(make_lab, tool):
    # They offered 64240 whatever the scale: under the handshake's scale of 7 or 10 that told the
    # peer 8 or 65 MB, and a peer with data to send sent more of it during a case.
    L = make_lab(ipv6=False)
    L.start_server(LIVE, mode="never-close")
    r = stray(L, tool, 4, LIVE, "--case", "live-fin-exact")
    got, _ = cases(r.stdout)
    segments = got["live-fin-exact"]["segments"]
    ours = [s["window"] for s in segments if s["direction"] == "out" and not s["crafted"] and "S" not in s["flags"]]
    crafted = [s["window"] for s in segments if s["crafted"] and "R" not in s["flags"]]
    # One less than ours: alike for the peer, and told from our kernel's segments.
    assert ours and crafted and set(crafted) == {ours[-1] - 1}, segments


def test_a_server_that_closes_with_a_reset_is_said_to_have_reset(make_lab, tool):
    # Found with a server that sends its banner and closes with SO_LINGER 0: the TIME_WAIT cases
    # waited for a FIN that never comes and said "the peer did not close first". It did close
    # first, with an RST, which leaves no TIME_WAIT.
    L = make_lab()
    L.start_server(TW, mode="banner-reset", banner=b"bye\n")
    r = stray(L, tool, 4, TW, "--group", "time-wait")
    got, summary = cases(r.stdout)
    for name in ("tw-fin-retransmit", "tw-rst", "tw-syn"):
        assert got[name]["verdict"] == "inconclusive", got[name]
        assert "reset the connection instead of closing it" in got[name]["reason"], got[name]
    assert r.returncode == 1 and summary["inconclusive"] == 3
    assert guard_tables(L) == []


def test_the_hints_for_no_time_wait_fit_a_request_given(make_lab, tool):
    # Found: nginx keeps an HTTP/1.1 connection 75 s (keepalive_timeout); with --request given,
    # every TIME_WAIT case said "the peer did not close first ... (give it one with --request)".
    # And a server that sends its banner and closes reset the connection our request arrived on:
    # the reason blamed SO_LINGER 0 alone.
    L = make_lab()
    L.start_nginx(f"{L.server_v4}:{TW}", TW)
    L.start_server(LIVE, mode="banner-close", banner=b"220 hello\r\n")
    r = stray(L, tool, 4, TW, "--case", "tw-rst", "--request", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", wait="0.3")
    got, _ = cases(r.stdout)
    reason = got["tw-rst"]["reason"]
    assert got["tw-rst"]["verdict"] == "inconclusive" and "did not close first within 3.5 s of our --request" in reason
    assert "needs a longer -W (the wait is 3 x -W, at least 3.5 s)" in reason and "give it one" not in reason, reason
    r = stray(L, tool, 4, LIVE, "--group", "time-wait", "--request", "HELO x\r\n")
    got, _ = cases(r.stdout)
    resets = [c["reason"] for c in got.values() if "reset the connection instead of closing it" in c["reason"]]
    assert all(c["verdict"] == "inconclusive" for c in got.values()), got
    assert resets and all("run without --request" in why for why in resets), resets


def test_listen_cases_are_inconclusive_against_a_closed_port(make_lab, tool):
    L = make_lab()
    r = stray(L, tool, 4, CLOSED, "--group", "listen")
    got, _ = cases(r.stdout)
    assert {c["verdict"] for c in got.values()} == {"inconclusive"}
    assert "does not accept connections" in got["listen-fin"]["reason"]
    assert r.returncode == 1


# ---- the peer's own traffic is never the answer (issue 11) ----
BANNER = b"SSH-2.0-tcpkit_lab_banner\r\n"
# The cases whose answer is a challenge or duplicate ACK: a pure ACK with ack = RCV.NXT.
ACK_CASES = ("live-rst-in-window", "live-syn", "live-ack-unsent", "live-data-old",
             "live-fin-out-of-window")
LIVE_LINUX = {name: v for name, v in LINUX.items() if name.startswith("live-")}


def drop_pure_acks(L, port):
    """The peer's pure ACKs from `port` vanish in its output chain; data and FINs still leave."""
    L.nft(L.server_ns, "table inet stray_test {\n chain output { type filter hook output priority 0;\n"
                       f"  tcp sport {port} tcp flags == ack drop\n }}\n}}\n")


def start_sshd(L, port, tmp_path):
    """The real OpenSSH server in the server namespace: a banner-first server that sends its
    banner some 50-80 ms after accept and then waits for ours. Missing sshd fails the test."""
    sshd = "/usr/sbin/sshd"
    assert os.access(sshd, os.X_OK), "openssh-server is needed (/usr/sbin/sshd)"
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # its privilege-separation directory
    key = tmp_path / "host_key"
    subprocess.run(["ssh-keygen", "-q", "-N", "", "-t", "ed25519", "-f", str(key)], check=True,
                   timeout=30)
    proc = L.popen_server([sshd, "-D", "-e", "-p", str(port), "-f", "/dev/null", "-h", str(key),
                           "-o", "PidFile=none", "-o", "LoginGraceTime=60"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    end = time.monotonic() + 10
    while f":{port} " not in L.run_server(["ss", "-Htln"]).stdout:
        assert proc.poll() is None and time.monotonic() < end, proc.stderr.read().decode()
        time.sleep(0.05)
    return proc


def peer_own(case):
    return [s for s in case["segments"] if s["direction"] == "in" and s.get("peer_own")]


@pytest.mark.parametrize("server", ["banner-hold", "sshd"])
def test_a_banner_first_server_is_judged_on_the_answer_not_the_banner(make_lab, tool, server, tmp_path):
    # Found against sshd: its banner, 55-76 ms after our RST, was taken for the answer.
    L = make_lab()
    if server == "sshd":
        start_sshd(L, LIVE, tmp_path)
    else:
        L.start_server(LIVE, mode="banner-hold", banner=BANNER, banner_delay_ms=60)
    # -W 1: each case first waits for 500 ms of quiet, ample for a banner even on a busy machine.
    r = stray(L, tool, 4, LIVE, "--group", "live", wait="1")
    got, summary = cases(r.stdout)
    assert {name: c["verdict"] for name, c in got.items()} == LIVE_LINUX, r.stdout
    assert r.returncode == 0, r.stderr
    # The banner was absorbed before each case: shown, marked as the peer's own, never an answer.
    for c in got.values():
        own = peer_own(c)
        assert own and own[0]["length"] > 0 and own[0]["flags"] != ".", c
        # Crafted copies of our handshake ACK come first; then the case's own segment.
        hs = next(x for x in c["segments"] if x["direction"] == "out" and not x["crafted"] and x["flags"] == ".")
        case_sent = [x for x in c["segments"] if x["crafted"]
                     and not (x["flags"] == "." and (x["seq"], x["ack"]) == (hs["seq"], hs["ack"]))]
        assert all(s["time_us"] <= min(x["time_us"] for x in case_sent) for s in own[:1]), c
    # With the peer's pure ACKs dropped, the banner is no challenge or duplicate ACK.
    drop_pure_acks(L, LIVE)
    r = stray(L, tool, 4, LIVE, "--group", "live", wait="1")
    got, _ = cases(r.stdout)
    assert r.returncode == 1
    for name in ACK_CASES:
        assert got[name]["verdict"] != "conformant", got[name]
        assert got[name]["verdict"] == "inconclusive" and got[name]["rate_limit_possible"], got[name]
        assert got[name]["observed"].startswith("silence"), got[name]
    assert got["live-rst-out-of-window"]["verdict"] == "inconclusive", got["live-rst-out-of-window"]
    assert "drew no duplicate ACK either" in got["live-rst-out-of-window"]["reason"]
    assert guard_tables(L) == []


@pytest.mark.parametrize("mode", ["close-after", "banner-hold"])
def test_the_peers_own_fin_or_data_during_the_case_is_inconclusive(make_lab, tool, mode):
    # The server closes (or sends) on its own 0.9 s after accept: after the 0.5 s quiet wait,
    # inside the 2 s observation window. Its FIN or data carries ack=RCV.NXT, like the challenge ACK
    # the case waits for; with the peer's pure ACKs dropped that must not pass for one.
    L = make_lab()
    L.start_server(LIVE, mode=mode, banner=BANNER, banner_delay_ms=900, close_delay_ms=900)
    drop_pure_acks(L, LIVE)
    r = L.run_client([tool("tcpstray"), "--json", "-v", "-W", "2", f"{L.server_v4}:{LIVE}",
                      "--case", ",".join(ACK_CASES + ("live-rst-out-of-window",))], timeout=120)
    got, summary = cases(r.stdout)
    assert r.returncode == 1
    what = "FIN" if mode == "close-after" else "data"
    for name, c in got.items():
        assert c["verdict"] == "inconclusive", c
        assert "own" in c["reason"] and what in c["reason"], c
        own = peer_own(c)
        assert own, c
        assert ("F" in own[0]["flags"]) if mode == "close-after" else own[0]["length"] == len(BANNER)
    assert summary["conformant"] == 0 and summary["inconclusive"] == len(got)


@pytest.mark.parametrize("acks", ["pass", "dropped"])
def test_the_peers_own_reset_during_the_case_is_no_answer(make_lab, tool, acks):
    # Found: a server that aborts its connections (SO_LINGER 0, as HAProxy's nolinger or an idle
    # timeout that aborts) made live-rst-out-of-window a deviation: its RST, 0.5 s after ours, was
    # "answered where the segment must be dropped silently". With the challenge ACKs dropped on
    # the way, the ACK cases read "reset where an ACK was due". The server resets 1.2 s after
    # accept: after the 0.5 s quiet wait, inside the 2 s observation window.
    L = make_lab()
    L.start_server(LIVE, mode="reset-after", close_delay_ms=1200)
    if acks == "dropped":
        drop_pure_acks(L, LIVE)
    r = L.run_client([tool("tcpstray"), "--json", "-v", "-W", "2", f"{L.server_v4}:{LIVE}",
                      "--case", ",".join(ACK_CASES + ("live-rst-out-of-window",))], timeout=120)
    got, summary = cases(r.stdout)
    assert summary["deviation"] == 0, r.stdout
    oow = got["live-rst-out-of-window"]
    assert oow["verdict"] == "inconclusive" and "reset the connection on its own" in oow["reason"], oow
    assert any("R" in s["flags"] for s in peer_own(oow)), oow  # shown, marked the peer's own
    for name in ACK_CASES:
        c = got[name]
        if acks == "pass":  # the challenge ACK came first, the abort long after: the answer stands
            assert c["verdict"] == "conformant", c
        else:
            assert c["verdict"] == "inconclusive" and "reset the connection on its own" in c["reason"], c
            assert any("R" in s["flags"] for s in peer_own(c)), c
    assert r.returncode == 1, r.stderr  # inconclusive


def test_the_peers_own_reset_just_after_the_answer_is_no_answer(make_lab, tool):
    # The same server aborting 330 ms after accept, with -W 0.3 (a quiet wait of 300 ms): its RST
    # comes some 20 ms after the right challenge or duplicate ACK, inside the wait that follows
    # an answer. It read "reset where an ACK was due" in 7 of 8 cases; the peer's TSval shows it
    # was sent later than the ACK, so it is its own.
    L = make_lab()
    L.start_server(LIVE, mode="reset-after", close_delay_ms=330)
    r = L.run_client([tool("tcpstray"), "--json", "-v", "-W", "0.3", f"{L.server_v4}:{LIVE}",
                      "--case", ",".join(ACK_CASES)], timeout=120)
    got, summary = cases(r.stdout)
    assert summary["deviation"] == 0, r.stdout
    own = [c for c in got.values() if any("R" in s["flags"] for s in peer_own(c))]
    assert all(c["verdict"] == "conformant" for c in own), own


# ---- a firewall that drops a segment before the stack is no stack that drops it ----
# Found against nginx behind the common "ct state invalid drop": a FIN, NULL or Xmas segment to
# the listener, and an out-of-window RST, are invalid to conntrack and never reach the stack. Their
# silence was judged conformant.
CT_INVALID = "ct state invalid drop"
# A stateless rule against scans: no SYN, ACK or RST (FIN, NULL, Xmas) never gets in.
NO_SCANS = "tcp flags & (syn | ack | rst) == 0 drop"
SILENT_LISTEN = ("listen-fin", "listen-null", "listen-xmas")


def firewall(L, rule):
    L.nft(L.server_ns, "table inet stray_fw {\n chain input { type filter hook input priority -10; policy accept;\n"
                       f"  {rule}\n }}\n}}\n")


def test_silence_behind_a_conntrack_firewall_is_inconclusive(make_lab, tool):
    L = lab_with_servers(make_lab)
    firewall(L, CT_INVALID)
    r = stray(L, tool, 4, LIVE, "--group", "closed,listen,live")
    got, _ = cases(r.stdout)
    assert r.returncode == 1, r.stderr
    for name in SILENT_LISTEN:
        twin = name.replace("listen-", "closed-")
        assert got[name]["verdict"] == "inconclusive", got[name]
        assert f"drew no reset from closed port {CLOSED} either ({twin})" in got[name]["reason"], got[name]
    oow = got["live-rst-out-of-window"]
    assert oow["verdict"] == "inconclusive" and "drew no duplicate ACK either" in oow["reason"], oow
    # What conntrack lets through still gets its verdict: a plain ACK to either port, the RSTs
    # in the window, and silence at the closed port where an RST is due is the host's deviation.
    for name in ("closed-ack", "listen-ack", "live-rst-exact", "live-rst-in-window", "live-data-old"):
        assert got[name]["verdict"] == "conformant", got[name]
    assert got["closed-fin"]["verdict"] == "deviation", got["closed-fin"]


@pytest.mark.parametrize("family", [4, 6])
def test_a_firewall_on_the_listening_port_alone_is_seen_at_that_port(make_lab, tool, family):
    """Found by an explorer: with `tcp dport LIVE ct state invalid drop` (the firewall guards the
    service's port only), listen-fin, -null and -xmas read conformant and listen-rst too, because
    their controls ran at closed port 1, which no rule guards. FIN|ACK to the listening port is
    as invalid to conntrack and draws the listener's reset: its silence shows the firewall."""
    L = lab_with_servers(make_lab)
    firewall(L, f"tcp dport {LIVE} {CT_INVALID}")
    r = stray(L, tool, family, LIVE, "--group", "closed,listen")
    got, _ = cases(r.stdout)
    assert r.returncode == 1, (r.stdout, r.stderr)
    for name in SILENT_LISTEN:
        assert got[name]["verdict"] == "inconclusive", got[name]
        assert f"F. to listening port {LIVE} drew no reset" in got[name]["reason"], got[name]
    assert got["listen-rst"]["verdict"] == "inconclusive", got["listen-rst"]
    assert got["listen-ack"]["verdict"] == "conformant", got["listen-ack"]
    for name in ("closed-fin", "closed-null", "closed-xmas", "closed-ack", "closed-rst"):
        assert got[name]["verdict"] == "conformant", got[name]


def test_a_listener_without_a_firewall_keeps_its_silences_conformant(make_lab, tool):
    # The same control where nothing drops: FIN|ACK drew the listener's reset, said in the reason.
    L = lab_with_servers(make_lab)
    r = stray(L, tool, 4, LIVE, "--group", "listen")
    got, _ = cases(r.stdout)
    for name in SILENT_LISTEN:
        assert got[name]["verdict"] == "conformant", got[name]
        assert f"F. to listening port {LIVE} drew a reset" in got[name]["reason"], got[name]


@pytest.mark.parametrize("rule", [CT_INVALID, NO_SCANS])
def test_listen_silence_is_checked_at_the_closed_port_when_the_run_has_no_closed_group(make_lab, tool, rule):
    L = lab_with_servers(make_lab)
    cases_ = ",".join(SILENT_LISTEN)
    r = stray(L, tool, 4, LIVE, "--case", cases_)
    got, _ = cases(r.stdout)
    assert all(got[n]["verdict"] == "conformant" for n in SILENT_LISTEN), got  # the same run, no firewall
    firewall(L, rule)
    r = stray(L, tool, 4, LIVE, "--case", cases_)
    got, _ = cases(r.stdout)
    assert r.returncode == 1, r.stderr
    for name in SILENT_LISTEN:
        assert got[name]["verdict"] == "inconclusive", got[name]
        assert "drew no reset from closed port" in got[name]["reason"], got[name]


@pytest.mark.parametrize("family", [4, 6])
def test_closed_group_against_a_listening_port_is_inconclusive(make_lab, tool, family):
    L = lab_with_servers(make_lab)
    r = L.run_client([tool("tcpstray"), "--json", "-W", "0.3", "--group", "closed", "--closed-port",
                      str(LIVE), f"{host(L, family)}:{LIVE}"], timeout=60)
    got, summary = cases(r.stdout)
    assert len(got) == 6 and r.returncode == 1, r.stdout
    for c in got.values():
        assert c["verdict"] == "inconclusive", c
        assert f"port {LIVE} is listening" in c["reason"] and "--closed-port" in c["reason"], c
    assert summary["deviation"] == 0


def start_deferring_nginx(L, port):
    """nginx with `listen ... deferred` (TCP_DEFER_ACCEPT): the kernel drops our handshake ACK and
    keeps the connection half-open (SYN-RECEIVED) until data comes."""
    return L.start_nginx(f"{L.server_v4}:{port} deferred", port, worker_connections=64)


HALF_OPEN_CASES = ("live-syn", "live-ack-unsent")


def test_a_listener_that_defers_accept_is_judged_on_a_primed_connection(make_lab, tool):
    # Found against nginx `listen ... deferred`: live-syn and live-ack-unsent were deviations
    # ("reset where an ACK was due"), but the peer was never ESTABLISHED: its RSTs are RFC 9293's
    # answer in SYN-RECEIVED. They run again on a connection whose 2 bytes the peer acked first.
    L = make_lab()
    start_deferring_nginx(L, LIVE)
    r = stray(L, tool, 4, LIVE, "--group", "live")
    got, summary = cases(r.stdout)
    assert {name: c["verdict"] for name, c in got.items()} == LIVE_LINUX, r.stdout
    assert r.returncode == 0 and summary["deviation"] == 0, r.stderr
    for name, c in got.items():
        assert c["primed"] == (name in HALF_OPEN_CASES), c
    for name in HALF_OPEN_CASES:
        c = got[name]
        assert "first acked 2 bytes of ours" in c["reason"] and "half-open peer" in c["reason"], c
        # The decisive connection: our 2 bytes acked, then the case's segment drew an ACK.
        ours = [x for x in c["segments"] if x["direction"] == "out" and not x["crafted"] and x["length"] == 2]
        assert len(ours) == 1, c["segments"]
    assert guard_tables(L) == []


@pytest.mark.parametrize("data", ["acked", "reset"])
def test_a_reset_after_the_peer_took_the_connection_stays_a_deviation(make_lab, tool, data):
    # The half-open control must not hide a stack that resets a live connection on a SYN (the RFC
    # 793 answer): the responder resets stray SYNs (the kernel never sees them: the input rule
    # drops SYNs without MSS, which ours carry), and leaves our priming bytes to the kernel
    # ("acked") or resets them too ("reset": nothing decides, inconclusive).
    L = make_lab()
    L.start_server(LIVE, mode="never-close")
    proc = start_rst_responder(L, [LIVE], "--stray-syns", *(["--leave-data"] if data == "acked" else []),
                               input_rule=f"tcp dport {LIVE} tcp flags & (syn | ack) == syn tcp option maxseg missing drop")
    assert proc.stdout.readline().strip() == b"ready"
    r = stray(L, tool, 4, LIVE, "--case", "live-syn")
    got, _ = cases(r.stdout)
    c = got["live-syn"]
    assert c["observed"].startswith("R."), c
    if data == "acked":
        assert c["verdict"] == "deviation" and c["primed"], c
        assert "first acked 2 bytes of ours" in c["reason"], c
        assert r.returncode == 1
    else:
        assert c["verdict"] == "inconclusive" and not c["primed"], c
        assert "never showed that it took the connection" in c["reason"], c
        assert "reset the connection" in c["reason"], c
    assert guard_tables(L) == []


@pytest.mark.parametrize("family", [4, 6])
def test_an_exact_rst_is_seen_to_reset_a_connection_behind_syn_cookies(make_lab, tool, family):
    # Found with tcp_syncookies=2 (and under a SYN flood with the default 1): the RST reset the
    # connection, but the byte after it, acking SND.NXT of a peer that had sent nothing, was a
    # valid cookie: the listener opened a new connection on it and acked the byte ("survived",
    # a deviation, on 3 connections). The kernel counted the resets (TcpEstabResets).
    L = make_lab()
    L.start_server(LIVE, mode="never-close")
    L.sysctl(L.server_ns, "net.ipv4.tcp_syncookies", 2)
    r = stray(L, tool, family, LIVE, "--case", "live-rst-exact")
    got, _ = cases(r.stdout)
    c = got["live-rst-exact"]
    assert c["verdict"] == "conformant", c
    assert "the connection was reset" in c["reason"], c
    assert r.returncode == 0, r.stderr
    assert guard_tables(L) == []


def test_the_privilege_hint_is_a_command_that_works(make_lab, tool):
    # Without CAP_NET_ADMIN the time-wait group cannot run; the hint says how to leave it out.
    L = lab_with_servers(make_lab)
    drop = ["setpriv", "--bounding-set", "-net_admin", "--inh-caps", "-net_admin", "--"]
    target = f"{L.server_v4}:{LIVE}"
    r = L.run_client(drop + [tool("tcpstray"), "-W", "0.3", target])
    assert r.returncode == 3, r.stderr
    hint = r.stderr.split("leave them out: ", 1)[1].split(")")[0].strip()
    argv = hint.split()
    assert argv[0] == "tcpstray" and argv[-1] == target, hint
    r2 = L.run_client(drop + [tool("tcpstray"), "--json", "-W", "0.3", "--closed-port", str(CLOSED)]
                      + argv[1:], timeout=120)
    assert r2.returncode in (0, 1), r2.stderr
    got, summary = cases(r2.stdout)
    assert summary["cases"] == 19 and not any(c["group"] == "time-wait" for c in got.values())


@pytest.mark.parametrize("where", ["time-wait", "live"])
def test_a_reader_that_goes_away_stops_the_run_quietly(make_lab, tool, where):
    # `tcpstray ... | head -1`: the header line is read, then the reader is gone. The run stops
    # within a second - in the TIME_WAIT case's wait for a FIN that never comes (guard in
    # place), or in a live case's 5 s observation window - removes its table, resets what it
    # left open and prints nothing on stderr.
    L = lab_with_servers(make_lab)
    picked = (["-W", "3", "--case", "live-rst-in-window,tw-fin-retransmit"] if where == "time-wait"
              else ["-W", "5", "--case", "live-rst-out-of-window"])
    proc = L.popen_client([tool("tcpstray"), f"{L.server_v4}:{LIVE}", *picked],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().startswith(b"TCPSTRAY")
    if where == "time-wait":
        end = time.monotonic() + 10
        while not guard_tables(L) and time.monotonic() < end:
            time.sleep(0.05)
        assert len(guard_tables(L)) == 1
    # By now the live case is done (quiet wait, answer) and the TIME_WAIT case waits for a FIN;
    # or the live case watches its 5 s window.
    time.sleep(1.5)
    assert f":{LIVE}" in L.run_server(["ss", "-Htan", "state", "established"]).stdout
    proc.stdout.close()
    start = time.monotonic()
    proc.wait(timeout=15)
    took = time.monotonic() - start
    err = proc.stderr.read()
    assert proc.returncode == -signal.SIGPIPE, (proc.returncode, err)
    assert took < 2.0, took  # the waits it cut short last 9 s and 5 s
    assert err == b""
    assert guard_tables(L) == []
    time.sleep(0.1)
    assert f":{LIVE}" not in L.run_server(["ss", "-Htan", "state", "established"]).stdout


SYNPROXY_RULES = """table inet stray_sp {
 chain pre { type filter hook prerouting priority raw; policy accept; tcp dport { %(ports)s } tcp flags syn notrack
 }
 chain input { type filter hook input priority filter; policy accept;
  tcp dport { %(ports)s } ct state invalid,untracked synproxy mss 1460 wscale 7 timestamp sack-perm
  ct state invalid drop
 }
}
"""


def test_a_syn_proxys_answer_is_not_the_peers(make_lab, tool):
    # Found by an explorer behind nft synproxy: live-syn was a deviation ("SYN where an ACK was
    # due") and tw-syn one or conformant ("reused with an ISN not above the old SND.NXT"), both
    # from the proxy's own zero-window SYN/ACK; the stack never saw our SYN. Then, in about one
    # run in four, still a deviation ("no ACK came back"): the proxy's TSval, a clock of its own,
    # read as older than the peer's and its SYN/ACK as held back; or "the path lost packets",
    # its new ISN counted as a retransmission. Three runs, so that either shows.
    L = lab_with_servers(make_lab)
    L.nft(L.server_ns, SYNPROXY_RULES % {"ports": f"{LIVE}, {TW}"})
    L.sysctl(L.server_ns, "net.netfilter.nf_conntrack_tcp_loose", 0)
    for _ in range(3):
        r = stray(L, tool, 4, LIVE, "--case", "live-syn")
        got, _ = cases(r.stdout)
        assert got["live-syn"]["verdict"] == "inconclusive", got["live-syn"]
        assert "a SYN proxy in front of the peer" in got["live-syn"]["reason"], got["live-syn"]
    r = stray(L, tool, 4, TW, "--case", "tw-syn")
    got, _ = cases(r.stdout)
    assert got["tw-syn"]["verdict"] == "inconclusive", got["tw-syn"]


def test_a_firewalls_reset_in_listen_names_the_firewall(make_lab, tool):
    # Found by an explorer: `ct state invalid reject with tcp reset` answered listen-fin and
    # listen-null in the peer's name (the stack's TcpOutRsts stayed 0); the deviation's reason
    # named no firewall. Linux's stack never answers these in LISTEN.
    L = lab_with_servers(make_lab)
    firewall(L, "ct state invalid reject with tcp reset")
    r = stray(L, tool, 4, LIVE, "--case", "listen-fin")
    got, _ = cases(r.stdout)
    assert got["listen-fin"]["verdict"] == "deviation", got["listen-fin"]
    assert "ct state invalid reject with tcp reset" in got["listen-fin"]["reason"], got["listen-fin"]


def test_the_text_table_shows_each_group_as_it_ends(make_lab, tool):
    # Found by an explorer: the text table (and so `| head`) showed nothing until the whole run
    # had ended, while --json gives each group when it ends.
    L = lab_with_servers(make_lab)
    proc = L.popen_client([tool("tcpstray"), "-W", "0.3", "--closed-port", str(CLOSED), "--group", "closed,live",
                           f"{L.server_v4}:{LIVE}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if line.startswith("closed-rst"):
                break
        row_at = time.monotonic()
        assert seen and seen[-1].startswith("closed-rst"), seen
        assert any(l.startswith("CASE") for l in seen), seen
        rest, _ = proc.communicate(timeout=120)
        # The live group (nine cases, each after a quiet wait) ran after the closed rows came.
        assert time.monotonic() - row_at > 1.0, "the closed group's rows came only at the end: " + "".join(seen)
        assert "live-syn" in rest and "tcpstray summary" in rest, rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_firewall_that_drops_rsts_is_no_stack_that_survives_them(make_lab, tool):
    # Found by an explorer: behind `tcp flags rst drop` on the server's port, live-rst-exact read
    # "the connection survived an RST at exactly RCV.NXT" (a deviation, 3 of 3 runs), though the
    # stack never saw one; live-rst-in-window drew no challenge ACK either.
    L = lab_with_servers(make_lab)
    L.nft(L.server_ns, "table inet strayrstdrop {\n chain input { type filter hook input priority 0; policy accept;\n"
                       f"  tcp dport {LIVE} tcp flags rst drop\n }}\n}}\n")
    for cases_asked in ("live-rst-exact,live-rst-in-window", "live-rst-exact"):  # the control run, or sent for it
        r = stray(L, tool, 4, LIVE, "--case", cases_asked)
        got, _ = cases(r.stdout)
        exact = got["live-rst-exact"]
        assert exact["verdict"] == "inconclusive", exact
        assert "drew no challenge ACK either" in exact["reason"], exact
