"""tcpscan's rate against the wire and against a rate-limiting firewall, and its stop when the
reader goes away. Measured from captures in lab namespaces:
- --rate is a ceiling at every time scale: any 100 ms of the capture holds at most rate/10 + 2
  probes (being slower is fine: this is a ceiling, not a speed);
- behind nftables' `tcp flags syn limit rate over 100/second burst 10 packets drop` (the issue's
  firewall), a rate it bears gives exact results; one it cannot bear is reported degraded, with
  a lower --rate suggested, and later rounds slow down (unless --min-rate forbids it);
- `tcpscan ... | head -1`: the scan stops within a second in each phase, quietly, by SIGPIPE."""
import json
import os
import select
import signal
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
import lab as lab_module  # noqa: E402

LAB_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab")


def start_listener(L, ports):
    proc = L.popen_server([sys.executable, os.path.join(LAB_DIR, "tcpscan_listener.py"),
                           "--ports", ",".join(map(str, ports)), "--family", "v4",
                           "--max-seconds", "600"], stdout=subprocess.PIPE)
    line = proc.stdout.readline().decode().strip()  # bounded: the lab kills it at teardown
    assert line == "listening", f"listener did not start: {line!r}"
    return proc


def scan_json(L, args, timeout=120):
    r = L.run_client([L.tool("tcpscan"), "--json", *map(str, args)], timeout=timeout)
    assert r.returncode in (0, 1), f"tcpscan exit {r.returncode}: {r.stderr}"
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    assert objs and objs[-1]["type"] == "summary", r.stdout[-500:]
    return {o["port"]: o["state"] for o in objs[:-1] if o["type"] == "port"}, objs[-1], r


@pytest.mark.parametrize("rate,probes", [(20, 30), (200, 250), (10_000, 3000), (100_000, 20_000)])
def test_rate_is_a_ceiling_over_any_100_ms(make_lab, rate, probes):
    L = make_lab(ipv6=False)
    cap = L.capture(L.client_ns, L.client_if, f"src host {L.client_v4} and tcp[tcpflags] == tcp-syn")
    _, summary, r = scan_json(L, ["-p", f"1-{probes}", "--rate", rate, "--retries", "0", "--wait", "100ms",
                                  L.server_v4])
    times = lab_module.syn_times(cap.stop())
    assert summary["sent"] == probes, summary
    # The capture may miss packets on a busy machine; it must still have seen the scan.
    assert len(times) >= probes // 2, f"{len(times)} of {probes} SYNs captured"
    worst = lab_module.most_in_window(times, 100_000_000)
    # Each send thread keeps its own ceiling (two from 100000/s): + 2 per thread.
    assert worst <= rate / 10 + 2 * summary["send_threads"], f"--rate {rate}: {worst} probes in one 100 ms window"
    if rate <= 200:  # no batches at low rates: a probe per syscall (two only if one was late)
        assert lab_module.most_in_window(times, 1_000_000) <= 2


def test_send_threads_share_the_probes_and_the_rate(make_lab):
    """--send-threads 3: every probe goes out exactly once (each thread takes every third of the
    order), the results are exact, and each thread paces a third of the rate, so any 100 ms holds
    at most rate/10 + 2 per thread."""
    rate, probes, threads = 10_000, 3000, 3
    L = make_lab(ipv6=False)
    open_ports = {7, 1500, 2999}
    start_listener(L, sorted(open_ports))
    cap = L.capture(L.client_ns, L.client_if, f"src host {L.client_v4} and tcp[tcpflags] == tcp-syn")
    states, summary, r = scan_json(L, ["-p", f"1-{probes}", "--rate", rate, "--send-threads", threads,
                                       "--retries", "0", "--wait", "100ms", L.server_v4])
    times = lab_module.syn_times(cap.stop())
    assert summary["send_threads"] == threads, summary
    assert summary["sent"] == probes and summary["duplicates"] == 0, summary
    assert states == {p: "open" if p in open_ports else "closed" for p in range(1, probes + 1)}, summary
    assert "from 3 threads" in L.run_client([L.tool("tcpscan"), "-p", "1-50", "--send-threads", threads,
                                             L.server_v4]).stdout
    assert len(times) >= probes // 2, f"{len(times)} of {probes} SYNs captured"
    worst = lab_module.most_in_window(times, 100_000_000)
    assert worst <= rate / 10 + 2 * threads, f"{worst} probes in one 100 ms window"


def limit_syns(L):
    """The issue's firewall: inbound SYNs over 100/s (burst 10) are dropped."""
    L.nft(L.server_ns, "table inet tkratelimit {\n chain input { type filter hook input priority 0; "
                       "policy accept;\n  tcp flags syn limit rate over 100/second burst 10 packets drop\n }\n}\n")


def test_a_rate_the_firewall_bears_gives_exact_results(make_lab):
    L = make_lab(ipv6=False)
    open_ports = [7, 33, 61, 90, 118]
    start_listener(L, open_ports)
    limit_syns(L)
    states, summary, r = scan_json(L, ["-p", "1-150", "--rate", "50", "--wait", "300ms", L.server_v4])
    wrong = {p: s for p, s in states.items() if s != ("open" if p in open_ports else "closed")}
    assert not wrong, f"{len(wrong)} wrong: {wrong} {summary}"
    assert summary["degraded"] is False, summary["degraded_reasons"]
    assert summary["answers_rounds"][0] == 150, summary


def test_a_rate_the_firewall_cannot_bear_is_reported_degraded(make_lab):
    L = make_lab(ipv6=False)
    limit_syns(L)
    runs = {}
    for name, extra in (("fixed", ["--min-rate", "1000"]), ("adaptive", [])):
        time.sleep(0.2)  # the limiter's burst refills between the runs
        # Three rounds each (--retries 2), so that the two runs compare the rates alone.
        states, summary, r = scan_json(L, ["-p", "1-200", "--rate", "1000", *extra, "--retries", "2",
                                           "--wait", "300ms", L.server_v4])
        assert set(states) == set(range(1, 201))
        assert set(states.values()) <= {"closed", "filtered"}, summary
        wrong = sum(s != "closed" for s in states.values())
        # Never silently wrong: drops were seen and said, with a lower rate to try.
        assert summary["degraded"] is True, (name, wrong, summary)
        assert any("only in retry rounds" in why for why in summary["degraded_reasons"]), summary
        assert 1 <= summary["rate_suggested"] <= 250, summary
        assert "degraded run" in r.stderr and "--rate " in r.stderr, r.stderr
        runs[name] = (wrong, summary)
    fixed, adaptive = runs["fixed"][1], runs["adaptive"][1]
    assert fixed["rate_rounds"] == [1000, 1000, 1000], fixed
    # The retry round that found answers made the next round slower, and it found more.
    assert adaptive["rate_rounds"][0] == 1000 and adaptive["rate_rounds"][-1] < 1000, adaptive
    assert runs["adaptive"][0] < runs["fixed"][0], runs


def test_default_options_behind_the_limiter_are_degraded_never_silently_wrong(make_lab):
    # Found trying the tools as a user would: with default options, 43 of these 60 ports came
    # out filtered (the open one too), "not degraded", exit 1. The answers trickled in a few a
    # round, under the drop detector's thresholds; the ACK check had seen every silent port
    # reset an ACK, the mark of SYNs dropped on the way, and that counted for nothing.
    L = make_lab(ipv6=False)
    start_listener(L, [50])
    limit_syns(L)
    r = L.run_client([L.tool("tcpscan"), "--json", "-p", "1-60", L.server_v4], timeout=120)
    assert r.returncode in (0, 1), r.stderr
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    summary, ports = objs[-1], {o["port"]: o for o in objs if o["type"] == "port"}
    wrong = {p: o for p, o in ports.items() if o["state"] != ("open" if p == 50 else "closed")}
    assert wrong, "the limiter let every SYN through: this test shows nothing"
    assert all(o["state"] == "filtered" and o.get("ack_check") == "reset" for o in wrong.values()), wrong
    assert summary["degraded"] is True, summary
    assert any(f"{len(wrong)} silent ports reset an ACK while" in why for why in summary["degraded_reasons"]), summary
    assert summary["rate_suggested"] >= 1, summary
    assert "degraded run" in r.stderr and "--rate " in r.stderr, r.stderr


@pytest.mark.parametrize("ports, sampled", [("1-60", False), ("1-300", True)])
def test_one_round_behind_the_limiter_is_degraded_by_the_ack_check(make_lab, ports, sampled):
    # With --retries 0 there are no late answers to see: 288 of these 300 ports came out
    # filtered (the open one too), "not degraded", exit 1. Past --ack-check-max (64) no port
    # was asked either; now a random sample of 64 is, and its resets speak for the rest.
    L = make_lab(ipv6=False)
    start_listener(L, [50])
    limit_syns(L)
    r = L.run_client([L.tool("tcpscan"), "--json", "--retries", "0", "-p", ports, L.server_v4], timeout=120)
    assert r.returncode in (0, 1), r.stderr
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    summary = objs[-1]
    silent = summary["states"]["filtered"]
    assert silent >= 20 and (silent > 64) == sampled, "the limiter let the SYNs through: this test shows nothing"
    checked = min(64, silent)
    assert summary["ack_check"]["checked"] == checked and summary["ack_check"]["reset"] >= checked // 2, summary
    assert summary["degraded"] is True, summary
    assert any("with no retry round (--retries 0)" in why for why in summary["degraded_reasons"]), summary
    # 60 ports sent within 10 ms: the limiter's burst (10) answers round 1's first quarter and
    # no more, which no rule does; a rate under the limiter's is suggested. Over 300 ports its
    # refill answers later quarters too, and nothing tells a limiter from a rule: no rate (a
    # rule is not helped by a lower one).
    burst = any("burst was spent by the first probes" in why for why in summary["degraded_reasons"])
    assert not (burst and sampled), summary["degraded_reasons"]
    if burst:
        assert 1 <= summary["rate_suggested"] <= 100, summary
    else:
        assert summary.get("rate_suggested") is None, summary
    assert "degraded run" in r.stderr, r.stderr


def read_until_gone(proc, lines, sleep_after):
    """Reads `lines` lines of proc's stdout, waits sleep_after seconds, closes the pipe (the
    reader goes away, as `head` does) and returns the seconds until proc exits."""
    for _ in range(lines):
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "no output from tcpscan in 30 s"
        assert proc.stdout.readline(), "tcpscan ended before its first line"
    time.sleep(sleep_after)
    proc.stdout.close()
    gone = time.monotonic()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("tcpscan still ran 10 s after its reader went away")
    return time.monotonic() - gone


@pytest.mark.parametrize("phase", ["token-wait", "sending", "final-wait", "retry-round"])
def test_the_scan_stops_within_a_second_when_the_reader_goes(make_lab, phase):
    L = make_lab(ipv6=False)
    open_ports = [80, 443]
    start_listener(L, open_ports)
    dropped = list(range(1000, 1200))
    L.drop_ports(dropped)
    args = {
        # 20/s: a probe every 50 ms, so the reader leaves while tcpscan waits for a token.
        "token-wait": ["--rate", "20", "-p", "1-2000"],
        # full speed through 65535 ports.
        "sending": ["--rate", "20000", "-p-"],
        # everything sent and answered but the dropped ports: waiting --wait for late replies.
        "final-wait": ["--rate", "20000", "-p", "1-1200", "--retries", "0", "--wait", "60s"],
        # 200 dropped ports retried slowly round after round.
        "retry-round": ["--rate", "100", "-p", "80,443,1000-1199", "--retries", "20", "--wait", "10s"],
    }[phase]
    sleep_after = {"token-wait": 0.3, "sending": 0.0, "final-wait": 1.0, "retry-round": 4.0}[phase]
    cap = L.capture(L.server_ns, L.server_if, "tcp")
    # --stream: a line per port as it is found, so the reader has one early and leaves mid-phase.
    proc = L.popen_client([L.tool("tcpscan"), "--stream", *args, L.server_v4], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    took = read_until_gone(proc, 1, sleep_after)
    err = proc.stderr.read().decode()
    assert proc.returncode in (-signal.SIGPIPE, 128 + signal.SIGPIPE), (proc.returncode, err)
    assert err == "", err
    assert took < 1.0, f"{phase}: stopped {took:.2f} s after the reader went away"
    # As on Ctrl-C: every SYN/ACK the open ports sent was answered by an RST, and the server
    # holds no half-open connection.
    pcap = cap.stop()
    linktype, frames = lab_module.read_pcap(pcap)
    synacks, resets = set(), set()
    for _, frame in frames:
        seg = lab_module.tcp_segment(linktype, frame)
        if seg is None:
            continue
        src, dst, sport, dport, seq, ack, flags = seg
        if flags & 0x12 == 0x12 and sport in open_ports:
            synacks.add((sport, dport))
        elif flags & lab_module.RST and dport in open_ports:
            resets.add((dport, sport))
    assert synacks <= resets, f"{phase}: SYN/ACKs without RST: {synacks - resets}"
    ss = L.run_server(["ss", "-Htn", "state", "syn-recv"])
    assert ss.stdout.strip() == "", ss.stdout


def test_a_limiter_far_below_the_rate_slows_the_rounds_and_its_suggestion_works(make_lab):
    # At 100 times the limiter's rate each retry round was answered in ~1 % of its probes, under
    # the 5 % that slowed the next round: 11 rounds at --rate 10000, and the suggested rate
    # (a quarter of the asked one) failed again. Now a retry round with answers slows the next,
    # and the suggestion comes from what the limiter let through per second.
    L = make_lab(ipv6=False)
    open_ports = [30, 150, 270]
    start_listener(L, open_ports)
    limit_syns(L)
    states, summary, r = scan_json(L, ["-p", "1-300", "--rate", "10000", L.server_v4])
    assert summary["degraded"] is True, summary
    assert min(summary["rate_rounds"]) < 10000, summary  # later rounds slowed down
    suggested = summary["rate_suggested"]
    assert 1 <= suggested < 100, summary  # under the limiter's 100/s
    time.sleep(0.2)  # the limiter's burst refills
    states, again, _ = scan_json(L, ["-p", "1-300", "--rate", suggested, L.server_v4])
    wrong = {p: s for p, s in states.items() if s != ("open" if p in open_ports else "closed")}
    assert not wrong, f"at the suggested --rate {suggested}: {len(wrong)} wrong: {wrong} {again}"
    assert again["degraded"] is False, again["degraded_reasons"]


def test_a_send_too_short_to_measure_reports_no_rate_above_the_asked_one(make_lab):
    # 16 probes at 10000/s leave at once (the bucket's first burst, within the ceiling over any
    # 100 ms): the summary said "82,122/s of 10,000/s asked", which reads as a ceiling broken.
    L = make_lab(ipv6=False)
    _, summary, _ = scan_json(L, ["-p", "1-16", "--rate", "10000", L.server_v4])
    assert summary["rate_achieved"] is None, summary
    r = L.run_client([L.tool("tcpscan"), "-p", "1-16", "--rate", "10000", L.server_v4])
    summary_text = " ".join(" ".join(line.lstrip("#").split()) for line in r.stdout.splitlines() if line.startswith("#"))
    assert "10,000/s asked (too short a send to measure)" in summary_text, r.stdout
    # A send long enough to measure reports its rate, at most the asked one (plus rounding).
    _, long_run, _ = scan_json(L, ["-p", "1-2000", "--rate", "20000", L.server_v4])
    assert 0 < long_run["rate_achieved"] <= 20000 * 1.01, long_run


def test_a_strict_limiters_burst_then_silence_is_degraded_with_a_rate_it_bears(make_lab):
    # `limit rate over 10/second` (a burst of 5): round 1's first 5 SYNs were answered, nothing
    # after, and the retry round (milliseconds later) found none either; too few answers for any
    # drop sign: 295 of 300 closed ports and the open ones "filtered", "not degraded", exit 1.
    L = make_lab(ipv6=False)
    start_listener(L, [22, 80])
    L.nft(L.server_ns, "table inet tkburst {\n chain input { type filter hook input priority 0; "
                       "policy accept;\n  tcp flags syn limit rate over 10/second drop\n }\n}\n")
    ports, summary, r = scan_json(L, ["-p", "1-300", L.server_v4])
    filtered = [p for p, s in ports.items() if s == "filtered"]
    assert len(filtered) > 200, "the limiter let the SYNs through: this test shows nothing"
    assert summary["degraded"] is True, summary
    assert any("none to the rest: a rate-limiting firewall's burst was spent by the first probes" in why
               for why in summary["degraded_reasons"]), summary["degraded_reasons"]
    # A rate the limiter bears, not a quarter of ours (it was 2,450 for a limiter of 5/s).
    assert 1 <= summary["rate_suggested"] <= 10, summary


@pytest.mark.parametrize("family", [4, 6])
def test_a_limiter_on_some_hosts_is_found_by_asking_again_after_a_pause(make_lab, family):
    # 'limit rate over 10/second' on 16 of 31 hosts: the others' answers spread over round 1, so
    # no collapse showed; the retry round, milliseconds later, found nothing; the ACK check saw
    # 64 of 64 silent ports reset an ACK and called it a rule or a full queue: 'not degraded',
    # with whole hosts "down" and their open port missed (2 of 4 runs).
    L = make_lab(ipv6=(family == 6))
    block, limited = (("10.99.0.0/27", "ip daddr 10.99.0.0/28") if family == 4
                      else ("fd00:99::/123", "ip6 daddr fd00:99::/124"))
    L.add_anyip(block)
    L.start_server(8094, mode="hold", family=f"v{family}")
    L.nft(L.server_ns, "table inet tklimit {\n chain input { type filter hook input priority 0; policy accept;\n"
                       f"  {limited} tcp flags syn limit rate over 10/second drop\n }}\n}}\n")
    ports, summary, r = scan_json(L, ["-p", "1-40,8094", block], timeout=180)
    assert summary["states"].get("filtered", 0) > 100, "the limiter let the SYNs through: this test shows nothing"
    assert summary["degraded"] is True, summary
    assert 1 <= summary["rate_suggested"] <= 10, summary


def test_a_limiter_is_measured_when_the_rounds_suggest_only_a_share_of_our_rate(make_lab):
    # Found in CI: 16 of 31 hosts behind 'limit rate over 10/second', a loaded machine that sent
    # under 90 % of --rate, answers [662, 1, 1, 0]: the suggestion was half the rate asked
    # (5,000), and the SYN recheck, which measures the limiter, did not run because a suggestion
    # existed. A rate this machine cannot reach makes the same run here.
    L = make_lab(ipv6=False)
    L.add_anyip("10.99.0.0/27")
    L.start_server(8094, mode="hold", family="v4")
    L.nft(L.server_ns, "table inet tklimit {\n chain input { type filter hook input priority 0; policy accept;\n"
                       "  ip daddr 10.99.0.0/28 tcp flags syn limit rate over 10/second drop\n }\n}\n")
    ports, summary, r = scan_json(L, ["-p", "1-3000,8094", "--rate", "5000000", "--send-threads", "1",
                                      "--retries", "2", "10.99.0.0/27"], timeout=180)
    assert summary["rate_achieved"] is not None and summary["rate_achieved"] < 0.9 * 5_000_000, \
        "the machine kept up: this test shows nothing"
    assert summary["degraded"] is True, summary
    assert 1 <= summary["rate_suggested"] <= 10, summary
