"""Policy routing: a rule "from <address> lookup 100" sends a source's packets over a second
link, and the server answers that source over the same link only. The kernel's own connection
follows the rule; so must every raw-socket tool, which chooses its own source and interface.

Found: the tools asked the kernel for a route without the source, so their probes left by the
main table's link while the kernel's connection used the other. tcpprobe said filtered and
blamed a firewall, tcpscan said filtered (with -S) or down, and tcpprobe --trace listened on the
wrong link: 30 s, then "time limit, not closed"; tcppath heard no hop."""
import subprocess

import pytest

TARGET = "10.88.0.2"  # the server's address on lo, reached over either link


def ip(ns, *args):
    subprocess.run(["ip", "-n", ns, *args], check=True)


def policy_lab(make_lab, with_source, main_route=True, rule_route="via"):
    """The second link tkc9/tks9; table 100 routes the target over it. with_source: the rule is
    for a secondary address (given with -S), else for the primary one (no -S needed). Without
    main_route the main table has no route to the target; rule_route "blackhole" makes table
    100's route a blackhole."""
    L = make_lab(ipv6=False)
    C, S = L.client_ns, L.server_ns
    ip(C, "link", "add", "tkc9", "type", "veth", "peer", "name", "tks9", "netns", S)
    ip(C, "addr", "add", "10.77.0.1/24", "dev", "tkc9")
    ip(S, "addr", "add", "10.77.0.2/24", "dev", "tks9")
    ip(C, "link", "set", "tkc9", "up")
    ip(S, "link", "set", "tks9", "up")
    ip(S, "addr", "add", f"{TARGET}/32", "dev", "lo")
    if main_route:
        ip(C, "route", "add", TARGET, "via", L.server_v4, "dev", L.client_if)
    if rule_route == "blackhole":
        ip(C, "route", "add", "blackhole", TARGET, "table", "100")
    else:
        ip(C, "route", "add", TARGET, "via", "10.77.0.2", "dev", "tkc9", "table", "100")
    source = "10.66.0.1" if with_source else L.client_v4
    if with_source:
        ip(C, "addr", "add", f"{source}/32", "dev", L.client_if)
    ip(C, "rule", "add", "from", source, "lookup", "100")
    # The server answers the source over the second link only, and takes nothing for the
    # target from the first: a probe that leaves by the wrong link draws nothing.
    ip(S, "route", "add", source, "via", "10.77.0.1", "dev", "tks9")
    L.nft(S, f"table inet tkpolicy {{\n chain in {{ type filter hook input priority 0;\n"
             f"  iifname \"{L.server_if}\" ip daddr {TARGET} drop\n }}\n}}\n")
    L.start_server(80, mode="hold")
    return L, (["-S", source] if with_source else [])


@pytest.mark.parametrize("with_source", [True, False], ids=["rule-for--S", "rule-for-primary"])
def test_raw_socket_tools_follow_a_source_routing_rule(make_lab, tool, with_source):
    L, src = policy_lab(make_lab, with_source)
    probe = L.run_client([tool("tcpprobe"), *src, "-c", "2", "-i", "0.2", "-W", "1", f"{TARGET}:80"], timeout=30)
    assert probe.stdout.count(": open probe=") == 2, probe.stdout + probe.stderr
    scan = L.run_client([tool("tcpscan"), *src, "-p", "80,81", "--wait", "300ms", "--reason", "--stream", TARGET],
                        timeout=60)
    assert f"{TARGET} 80/tcp open syn-ack" in scan.stdout and f"{TARGET} 81/tcp closed reset" in scan.stdout, \
        scan.stdout + scan.stderr
    trace = L.run_client([tool("tcpprobe"), "--trace", *src, "-W", "2", f"{TARGET}:80"], timeout=60)
    assert "time limit" not in trace.stdout and "handshake: SYN -> SYN/ACK" in trace.stdout, trace.stdout + trace.stderr
    path = L.run_client([tool("tcppath"), *src, f"{TARGET}:80"], timeout=60)
    assert "which answered SYN+ACK" in " ".join(path.stdout.split()), path.stdout + path.stderr


def test_a_source_s_rule_is_the_route_even_where_the_main_table_has_none(make_lab, tool):
    # The first answer asked was the main table's, without the source: with no route there the
    # run stopped, "no route", although the rule for -S has one.
    L, src = policy_lab(make_lab, with_source=True, main_route=False)
    probe = L.run_client([tool("tcpprobe"), *src, "-c", "1", "-W", "1", f"{TARGET}:80"], timeout=30)
    assert ": open probe=" in probe.stdout, probe.stdout + probe.stderr


def test_a_reject_route_behind_the_source_s_rule_is_named(make_lab, tool):
    # Found (in review): a blackhole in the rule's table kept the main table's answer; every send
    # then failed with "Invalid argument".
    L, src = policy_lab(make_lab, with_source=False, rule_route="blackhole")
    r = L.run_client([tool("tcpprobe"), "-c", "1", f"{TARGET}:80"], timeout=30)
    assert r.returncode == 4 and "a blackhole route in this host's table drops it" in r.stderr, r.stdout + r.stderr
