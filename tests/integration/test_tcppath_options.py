"""tcppath --options: the SYN carries the options asked for, in that order, and each quote is
diffed against them. r2 clamps the MSS (nftables' maxseg set only rewrites an MSS that is there):
a SYN with an MSS shows it clamped between hop 2 and hop 3; a SYN with no options shows nothing."""

import pytest
from tcppath_run import tcppath_hops

PORT = 8080


@pytest.fixture
def L(make_lab):
    lab = make_lab(routers=3, ipv6=False)
    lab.start_server(PORT, mode="hold", family="v4")
    syn = f"tcp dport {PORT} tcp flags & (syn | ack) == syn"
    lab.nft(lab.router_ns[1], f"table inet tkopts {{\n chain fw {{ type filter hook forward priority 0; policy accept;\n"
                              f"  {syn} tcp option maxseg size set 1200\n }}\n}}\n")
    return lab


def trace(L, tool, options):
    r, hops, summary = tcppath_hops(L, tool, f"{L.server_v4}:{PORT}", "-n", "--options", options, wait="2s", max_hops=6)
    assert r.returncode == 0, (r.stdout, r.stderr)
    return hops, summary


def test_a_windows_like_syn_is_clamped_between_hop_2_and_3(L, tool):
    hops, summary = trace(L, tool, "mss=1380,nop,ws=8,nop,nop,sack")
    assert hops[1]["quote_diff"] == []
    assert [(c["change"], c["where"]) for c in hops[2]["changes"]] == [("MSS clamped to 1200", "between hop 2 and hop 3")]
    assert summary["answer"] == "SYN+ACK"


def test_a_syn_without_options_is_not_changed(L, tool):
    hops, summary = trace(L, tool, "none")
    assert all(h["quote_diff"] == [] for h in hops), hops
    assert summary["verdict"].startswith("no change to the SYN seen")
