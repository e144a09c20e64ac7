"""How tcpscan's probes leave (issue 17): as Ethernet frames through a packet socket where the
targets share one Ethernet next hop, else as IP packets through IPPROTO_RAW; --send-eth,
--send-ip and --qdisc-bypass force a path. Every path must stay exact, and the summary must
say which one was taken and why the IP path was, when it was chosen for the user.

Port sets are drawn per run from TCPSCAN_TEST_SEED (random when unset), as in test_tcpscan.py."""
import json
import random
import subprocess

import pytest

import lab as lablib
from test_tcpscan import SEED, draw_ports, scan, start_listener
from test_tcpscan_timing import check_exact


def lab_with_ports(make_lab, tag, span=400, ipv6=False):
    rng = random.Random(f"{SEED}-{tag}")
    open_ports, dropped, _ = draw_ports(rng, span, 15, 10, 0)
    L = make_lab(ipv6=ipv6)
    start_listener(L, open_ports, family="both" if ipv6 else "v4")
    L.drop_ports(dropped)
    return L, open_ports, dropped


def scan_span(L, host, span, *flags):
    return scan(L, ["-p", f"1-{span}", "--rate", 20000, "--seed", SEED, *flags, host])


@pytest.mark.parametrize("family", ["v4", "v6"])
def test_frames_by_default_exact_and_seen_by_tcpdump(make_lab, family):
    L, open_ports, dropped = lab_with_ports(make_lab, f"eth-{family}", ipv6=(family == "v6"))
    host = L.server_v4 if family == "v4" else L.server_v6
    with L.capture(L.client_ns, L.client_if, "tcp[tcpflags] == tcp-syn" if family == "v4" else "ip6 and tcp") as cap:
        ports, summary, _ = scan_span(L, host, 400)
    check_exact(ports, host, open_ports, dropped, 400, summary)
    assert summary["send_path"] == "ethernet", f"seed {SEED}: {summary}"
    assert "send_path_why" not in summary, f"seed {SEED}: {summary}"
    # Through the qdisc, the frames pass the interface's taps: a capture sees every probe.
    assert len(lablib.syn_times(cap.path)) >= summary["sent"], f"seed {SEED}: {summary}"


def test_send_ip_forces_raw_sockets_and_stays_exact(make_lab):
    L, open_ports, dropped = lab_with_ports(make_lab, "ip")
    ports, summary, _ = scan_span(L, L.server_v4, 400, "--send-ip")
    check_exact(ports, L.server_v4, open_ports, dropped, 400, summary)
    assert summary["send_path"] == "ip" and "send_path_why" not in summary, f"seed {SEED}: {summary}"


def test_qdisc_bypass_is_exact_and_invisible_to_tcpdump(make_lab):
    L, open_ports, dropped = lab_with_ports(make_lab, "bypass")
    with L.capture(L.client_ns, L.client_if, "tcp[tcpflags] == tcp-syn") as cap:
        ports, summary, _ = scan_span(L, L.server_v4, 400, "--qdisc-bypass")
    check_exact(ports, L.server_v4, open_ports, dropped, 400, summary)
    assert summary["send_path"] == "ethernet-bypass", f"seed {SEED}: {summary}"
    # What --help and the man page warn of: the taps never see a bypassing frame.
    assert lablib.syn_times(cap.path) == [], f"seed {SEED}: {summary}"


def test_neighbour_resolved_when_the_table_is_empty(make_lab):
    L, open_ports, dropped = lab_with_ports(make_lab, "flushed")
    L.run_client(["ip", "neigh", "flush", "all"], check=True)
    ports, summary, _ = scan_span(L, L.server_v4, 400, "--send-eth")
    check_exact(ports, L.server_v4, open_ports, dropped, 400, summary)
    assert summary["send_path"] == "ethernet", f"seed {SEED}: {summary}"


def test_targets_through_a_gateway_go_as_frames(make_lab):
    rng = random.Random(f"{SEED}-gw")
    L = make_lab(ipv6=False)
    L.add_anyip("10.99.0.0/24")  # client_ns routes it via the server: one next hop
    open_port, closed_port = rng.sample(range(1000, 60000), 2)
    start_listener(L, [open_port], family="v4")
    ports, summary, _ = scan(L, ["-p", f"{open_port},{closed_port}", "--rate", 20000, "--seed", SEED,
                                 "10.99.0.0/24"])
    hosts = {f"10.99.0.{i}" for i in range(1, 255)}
    assert {h for h, _ in ports} == hosts, f"seed {SEED}"
    for h in hosts:
        assert ports[(h, open_port)]["state"] == "open", f"seed {SEED}: {h}"
        assert ports[(h, closed_port)]["state"] == "closed", f"seed {SEED}: {h}"
    assert summary["send_path"] == "ethernet", f"seed {SEED}: {summary}"


def test_targets_spread_over_the_link_take_the_ip_path(make_lab):
    L, open_ports, _ = lab_with_ports(make_lab, "onlink")
    net = L.server_v4.rsplit(".", 1)[0]
    # Two addresses on the lab's link (the server and one nobody holds): two link addresses,
    # no one next hop.
    ports, summary, _ = scan(L, ["-p", open_ports[0], "--seed", SEED, f"{net}.2", f"{net}.77"])
    assert ports[(L.server_v4, open_ports[0])]["state"] == "open", f"seed {SEED}: {summary}"
    assert summary["send_path"] == "ip", f"seed {SEED}: {summary}"
    assert "local link" in summary["send_path_why"], f"seed {SEED}: {summary}"


def test_loopback_takes_the_ip_path_and_send_eth_refuses_it(make_lab):
    L = make_lab(ipv6=False)
    L.run_client(["ip", "link", "set", "lo", "up"], check=True)
    ports, summary, _ = scan(L, ["-p", "1-50", "--seed", SEED, "127.0.0.1"])
    assert len(ports) == 50 and summary["send_path"] == "ip", f"seed {SEED}: {summary}"
    assert summary["send_path_why"] == "interface lo is not Ethernet", f"seed {SEED}: {summary}"
    r = L.run_client([L.tool("tcpscan"), "--send-eth", "-p", "80", "127.0.0.1"])
    assert r.returncode == 4, r
    assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1, r
    assert "--send-eth" in r.stderr and "not Ethernet" in r.stderr, r


def test_a_silent_next_hop_falls_back_or_fails_as_asked(make_lab):
    L = make_lab(ipv6=False)
    net = L.server_v4.rsplit(".", 1)[0]
    ghost = f"{net}.77"  # on the lab's link, but nobody answers ARP for it
    r = L.run_client([L.tool("tcpscan"), "--json", "-p", "80", "--max-retries", "0", ghost], timeout=60)
    assert r.returncode == 1, r
    summary = json.loads(r.stdout.splitlines()[-1])
    assert summary["send_path"] == "ip", summary
    assert f"no ARP answer from {ghost}" in summary["send_path_why"], summary
    r = L.run_client([L.tool("tcpscan"), "--send-eth", "-p", "80", ghost], timeout=60)
    assert r.returncode == 4 and len(r.stderr.strip().splitlines()) == 1, r
    assert f"no ARP answer from {ghost}" in r.stderr, r
