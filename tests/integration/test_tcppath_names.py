"""tcppath names the routers it can, as traceroute does: reverse lookups through the system's
resolver, all at once, "name (address)" in the text and router_name in JSON; -n looks nothing up.
The names come from a hosts file that `ip netns exec` mounts over /etc/hosts in the client's
namespace (/etc/netns/NAME/hosts), and a resolv.conf there that points DNS at the namespace's own
loopback, where nothing answers: no lookup leaves the lab."""
import json
import os
import shutil

import pytest

PORT = 8080


@pytest.fixture
def L(make_lab):
    lab = make_lab(routers=3, ipv6=False)
    lab.start_server(PORT, mode="hold", family="v4")
    etc = os.path.join("/etc/netns", lab.client_ns)
    os.makedirs(etc)
    try:
        with open(os.path.join(etc, "hosts"), "w") as f:
            f.write(f"{lab.router_v4[0]} r1.lab.test\n{lab.router_v4[1]} r2.lab.test\n")
        with open(os.path.join(etc, "resolv.conf"), "w") as f:
            f.write("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        yield lab
    finally:
        shutil.rmtree(etc, ignore_errors=True)


def test_routers_named_where_a_name_exists(L, tool):
    r = L.run_client([tool("tcppath"), "--json", "-W", "2s", "-m", "6", f"{L.server_v4}:{PORT}"], timeout=60)
    assert r.returncode == 0, r.stderr
    hops = [json.loads(line) for line in r.stdout.splitlines()][:-1]
    assert [h["router"] for h in hops] == L.router_v4
    assert [h.get("router_name") for h in hops] == ["r1.lab.test", "r2.lab.test", None]
    text = L.run_client([tool("tcppath"), "-W", "2s", "-m", "6", f"{L.server_v4}:{PORT}"], timeout=60)
    assert f" 1  r1.lab.test ({L.router_v4[0]})  " in text.stdout, text.stdout
    assert f" 3  {L.router_v4[2]}  " in text.stdout, text.stdout


def test_numeric_looks_nothing_up(L, tool):
    r = L.run_client([tool("tcppath"), "-n", "--json", "-W", "2s", "-m", "6", f"{L.server_v4}:{PORT}"], timeout=60)
    assert r.returncode == 0, r.stderr
    hops = [json.loads(line) for line in r.stdout.splitlines()][:-1]
    assert [h["router"] for h in hops] == L.router_v4
    assert all("router_name" not in h for h in hops)
