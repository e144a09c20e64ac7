"""A reject route in this host's own table (unreachable, blackhole, prohibit) stops every tool
at once with exit 4 and a message that names the route. Found: a blackhole route read
"Invalid argument", a prohibit route "Permission denied" (like a missing privilege), and
tcpprobe's connect mode printed "from <target>: unreachable (No route to host)" with exit 1, as
if the target had answered, under a header "from 0.0.0.0"."""
import subprocess

import pytest

KINDS = {"unreachable": "an unreachable route in this host's table refuses it",
         "blackhole": "a blackhole route in this host's table drops it",
         "prohibit": "a prohibit route in this host's table refuses it"}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_reject_route_is_named_and_stops_every_tool(make_lab, tool, kind):
    L = make_lab()
    subprocess.run(["ip", "-n", L.client_ns, "route", "add", kind, "10.99.0.5"], check=True)
    subprocess.run(["ip", "-n", L.client_ns, "-6", "route", "add", kind, "fd99::5"], check=True)
    for address, target in (("10.99.0.5", "10.99.0.5:80"), ("fd99::5", "[fd99::5]:80")):
        for argv in ([tool("tcpprobe"), "-c", "1", target], [tool("tcpprobe"), "-m", "connect", "-c", "1", target],
                     [tool("tcpscan"), "-p", "80", address], [tool("tcppath"), target]):
            r = L.run_client(argv, timeout=60)
            assert r.returncode == 4, (argv, r.returncode, r.stdout, r.stderr)
            assert f"no route to {address}: {KINDS[kind]}" in r.stderr, (argv, r.stderr)
            assert "unreachable probe" not in r.stdout, (argv, r.stdout)
