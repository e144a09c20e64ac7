"""How long tcppath waits: once the destination has answered, an answer still missing comes from
a silent or rate-limited hop, and is waited for only a grace time (ten times what the trace has
taken, at least 100 ms), not the whole -W: the summary says "grace over". r2 here answers one
ICMP error a second (burst 1), so two of hop 2's three probes never get an answer."""
import json
import time

import pytest

PORT = 8080


@pytest.fixture
def L(make_lab):
    lab = make_lab(routers=3, ipv6=False)
    lab.start_server(PORT, mode="hold", family="v4")
    lab.nft(lab.router_ns[1], "table ip tkwait {\n chain out { type filter hook output priority 0; policy accept;\n"
                              "  icmp type time-exceeded limit rate over 1/second burst 1 packets drop\n }\n}\n")
    return lab


def test_a_rate_limited_hop_is_waited_for_a_grace_time_not_the_whole_wait(L, tool):
    started = time.monotonic()
    r = L.run_client([tool("tcppath"), "-n", "--json", "-W", "20s", "-m", "6", f"{L.server_v4}:{PORT}"], timeout=60)
    took = time.monotonic() - started
    objects = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.returncode == 0, r.stderr
    hops, summary = [o for o in objects if o["type"] == "hop"], objects[-1]
    assert [h["router"] for h in hops] == L.router_v4
    assert hops[1]["answered"] == 1 and hops[0]["answered"] == 3 and hops[2]["answered"] == 3, hops
    # A burst, then silence: rate-limited, not a drop (the other probes went on).
    assert [h["rate_limited"] for h in hops] == [False, True, False], hops
    assert summary["stop"] == "reached" and summary["ended"] == "grace over", summary
    assert took < 15, took  # a bound, not a timing: the whole -W is 20 s
