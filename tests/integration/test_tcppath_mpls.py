"""tcppath shows the ICMP extensions an MPLS router appends to its time exceeded: the label
stack (RFC 4950) and the incoming interface (RFC 5837), in an RFC 4884 structure found by its
length field or, as routers older than RFC 4884 place it, at byte 128 of the quote. r2 of the
lab's chain answers as such a router (tests/lab/mpls_router.py); its kernel's own plain answer
is dropped, so every answer from hop 2 is the forged one."""
import os
import sys

import pytest
from tcppath_run import tcppath_hops

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
import lab as lab_module  # noqa: E402

PORT = 8080
FORGER = os.path.join(os.path.dirname(lab_module.__file__), "mpls_router.py")


@pytest.fixture
def L(make_lab):
    lab = make_lab(routers=3, ipv6=False)
    lab.start_server(PORT, mode="hold", family="v4")
    # The kernel's time exceeded quotes the 60-byte SYN whole (88 bytes in all); the forged one
    # is 20 + 8 + 128 (the padded quote) + its extensions, over 160 even with one label.
    lab.nft(lab.router_ns[1], "table ip tkmpls {\n chain out { type filter hook output priority 0; policy accept;\n"
                              "  icmp type time-exceeded ip length < 150 drop\n }\n}\n")
    return lab


def forge(L, *args):
    proc = L._popen(L.router_ns[1], [sys.executable, FORGER, "--iface", "tkl", "--router", L.router_v4[1],
                                     "--port", PORT, "--max-seconds", 30, *args],
                    stdout=__import__("subprocess").PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def trace(L, tool):
    return tcppath_hops(L, tool, f"{L.server_v4}:{PORT}", wait="2s", max_hops=6)


def test_label_stack_and_interface_of_an_mpls_hop(L, tool):
    forge(L, "--labels", "16,299792", "--interface-info", "tkl,7,%s,1500" % L.router_v4[1])
    r, hops, summary = trace(L, tool)
    assert r.returncode == 0, r.stderr
    assert [h["router"] for h in hops] == L.router_v4
    assert "icmp_extensions" not in hops[0] and "icmp_extensions" not in hops[2]
    ext = hops[1]["icmp_extensions"]
    assert ext["length_field"] is True
    assert ext["mpls"] == [{"label": 16, "tc": 0, "bottom_of_stack": False, "ttl": 1},
                           {"label": 299792, "tc": 0, "bottom_of_stack": True, "ttl": 1}]
    assert ext["interfaces"] == [{"role": "incoming", "ifindex": 7, "address": L.router_v4[1], "name": "tkl", "mtu": 1500}]
    # The quote is cut at the extensions and its zero padding is not a change of the SYN.
    assert hops[1]["quote_diff"] == [] and hops[1]["partial"] == []
    assert summary["stop"] == "reached"
    text = L.run_client([tool("tcppath"), "-W", "2s", "-m", "6", f"{L.server_v4}:{PORT}"], timeout=60)
    assert "MPLS label 16 tc 0 ttl 1 | label 299792 tc 0 S ttl 1" in text.stdout, text.stdout
    assert f"incoming interface tkl (ifindex 7, {L.router_v4[1]}, MTU 1500)" in text.stdout, text.stdout


def test_pre_rfc4884_placement_at_byte_128(L, tool):
    forge(L, "--labels", "24001", "--no-length")
    r, hops, summary = trace(L, tool)
    assert r.returncode == 0, r.stderr
    ext = hops[1]["icmp_extensions"]
    assert ext["length_field"] is False
    assert ext["mpls"] == [{"label": 24001, "tc": 0, "bottom_of_stack": True, "ttl": 1}]
    assert ext["interfaces"] == [] and ext["other"] == []
