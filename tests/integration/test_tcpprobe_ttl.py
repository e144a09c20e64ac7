"""tcpprobe --ttl on the lab's router chain client - r1 - r2 - r3 - server: the router where the
TTL ends answers, and when a middlebox before it rewrote the SYN's sequence number and source
port (r2 here, with nftables), its quote is still paired with the probe (by the IP ID and the
TSval) instead of the probe being reported filtered."""
import json

import pytest

PORT = 8080


@pytest.fixture
def L(make_lab):
    lab = make_lab(routers=3, ipv6=False)
    lab.start_server(PORT, mode="hold", family="v4")
    return lab


def probe(L, tool, ttl):
    r = L.run_client([tool("tcpprobe"), "--json", "-c", "2", "-i", "0.2", "-W", "1", "--ttl", str(ttl),
                      f"{L.server_v4}:{PORT}"], timeout=60)
    records = [json.loads(line) for line in r.stdout.splitlines()]
    return r, [x for x in records if x.get("type") == "probe"]


def test_the_router_where_the_ttl_ends_answers(L, tool):
    r, probes = probe(L, tool, 3)
    assert len(probes) == 2, r.stdout
    for p in probes:
        assert p["outcome"] == "unreachable" and p["responder"] == L.router_v4[2], p
        assert p["quote_rewritten"] is False


def test_a_router_behind_a_seq_and_port_rewriter_is_still_paired(L, tool):
    syn = f"tcp dport {PORT} tcp flags & (syn | ack) == syn"
    L.nft(L.router_ns[1], f"table inet tkttl {{\n chain fw {{ type filter hook forward priority 0; policy accept;\n"
                          f"  {syn} tcp sequence set 12345\n  {syn} tcp sport set 4242\n }}\n}}\n")
    r, probes = probe(L, tool, 3)
    assert len(probes) == 2, r.stdout
    for p in probes:
        # Before: the quote named no probe (seq 12345, port 4242), was rejected, and the probe filtered.
        assert p["outcome"] == "unreachable" and p["responder"] == L.router_v4[2], p
        assert p["quote_rewritten"] is True, p
    text = L.run_client([tool("tcpprobe"), "-c", "1", "-W", "1", "--ttl", "3", f"{L.server_v4}:{PORT}"], timeout=60)
    assert "quote of our SYN shows its seq or source port rewritten" in text.stdout, text.stdout
