"""tcpprobe, tcpscan and tcppath against a link-local IPv6 peer (fe80::/10): tcpprobe's syn,
connect and trace modes, a tcpscan and a tcppath, with the zone given in the target ([fe80::..%IFACE]) or by -I, and the
refusal of a link-local target that names no interface (the same address exists on every link)."""
import json
import os

import pytest

OPEN, CLOSED = 8080, 8081
CLIENT_LL, SERVER_LL = "fe80::c1", "fe80::c2"


@pytest.fixture
def L(make_lab):
    lab = make_lab()
    # Fixed link-local addresses without DAD, so the test need not wait for the kernel's own.
    for ns, ifname, address in ((lab.client_ns, lab.client_if, CLIENT_LL),
                                (lab.server_ns, lab.server_if, SERVER_LL)):
        r = lab._exec(ns, ["ip", "-6", "addr", "add", f"{address}/64", "dev", ifname, "nodad"])
        assert r.returncode == 0, r.stderr
    lab.start_server(OPEN, mode="hold", family="v6")
    return lab


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def target_forms(L):
    zoned = [f"[{SERVER_LL}%{L.client_if}]:{OPEN}"]
    with_i = ["-I", L.client_if, f"[{SERVER_LL}]:{OPEN}"]
    return {"zone": zoned, "-I": with_i}


@pytest.mark.parametrize("form", ["zone", "-I"])
@pytest.mark.parametrize("mode", ["syn", "connect"])
def test_probe_modes_reach_a_link_local_peer(L, tool, mode, form):
    argv = target_forms(L)[form]
    closed = [f"[{SERVER_LL}%{L.client_if}]:{CLOSED}"] if form == "zone" else [f"[{SERVER_LL}]:{CLOSED}"]
    r = L.run_client([tool("tcpprobe"), "-m", mode, "--json", "-c", "2", "-i", "0.05", "-W", "1"]
                     + argv + closed, timeout=30)
    assert r.returncode == 1, r.stderr  # the closed target never answered SYN/ACK
    probes = [o for o in json_lines(r.stdout) if o["type"] == "probe"]
    outcomes = {(p["port"], p["outcome"]) for p in probes}
    assert outcomes == {(OPEN, "open"), (CLOSED, "closed")}, r.stdout
    assert len(probes) == 4


@pytest.mark.parametrize("form", ["zone", "-I"])
def test_trace_of_a_link_local_peer_reads_our_states(L, tool, form):
    r = L.run_client([tool("tcpprobe"), "--trace", "--json"] + target_forms(L)[form], timeout=30)
    assert r.returncode == 0, r.stderr
    segments = [o for o in json_lines(r.stdout) if o["type"] == "segment"]
    states = []
    for s in segments:
        if not states or states[-1] != s["our_state"]:
            states.append(s["our_state"])
    # The kernel's view of our socket is found on the link (not CLOSE after the handshake).
    assert states[:2] == ["SYN_SENT", "ESTABLISHED"], states
    assert "FIN_WAIT1" in states and states[-1] == "TIME_WAIT", states


def test_link_local_target_without_an_interface_is_refused(L, tool):
    r = L.run_client([tool("tcpprobe"), "-c", "1", f"[{SERVER_LL}]:{OPEN}"], timeout=10)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1
    assert "needs an interface" in r.stderr and "-I" in r.stderr


def test_zone_and_a_different_interface_are_refused(L, tool):
    r = L.run_client([tool("tcpprobe"), "-c", "1", "-I", "lo", f"[{SERVER_LL}%{L.client_if}]:{OPEN}"],
                     timeout=10)
    assert r.returncode == 2
    assert "-I gives 'lo'" in r.stderr


def test_unknown_zone_is_bad_input(L, tool):
    r = L.run_client([tool("tcpprobe"), "-c", "1", f"[{SERVER_LL}%nosuchif0]:{OPEN}"], timeout=10)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def target_file(L, *lines):
    path = os.path.join(L.tmpdir, "targets.txt")
    with open(path, "w") as f:
        f.write("# link-local peers\n" + "".join(line + "\n" for line in lines))
    return path


@pytest.mark.parametrize("form", ["zone", "-I", "zone in -iL"])
def test_scan_of_a_link_local_peer(L, tool, form):
    # tcpscan refused the zone tcpprobe takes ("not an address"), and without -I scanned the
    # address on the default route's link. A zone in an -iL file was refused as an invalid target.
    target = {"zone": [f"{SERVER_LL}%{L.client_if}"], "-I": ["-I", L.client_if, SERVER_LL],
              "zone in -iL": ["-iL", target_file(L, f"{SERVER_LL}%{L.client_if}")]}[form]
    r = L.run_client([tool("tcpscan"), "--json", "-p", f"{OPEN},{CLOSED}", *target], timeout=60)
    assert r.returncode == 0, r.stderr
    ports = {(o["port"], o["state"]) for o in json_lines(r.stdout) if o.get("type") == "port"}
    assert ports == {(OPEN, "open"), (CLOSED, "closed")}, r.stdout
    r = L.run_client([tool("tcpscan"), "-p", str(OPEN), SERVER_LL], timeout=10)
    assert r.returncode == 2 and "needs an interface" in r.stderr, r.stderr


def test_a_zone_in_a_target_file_must_agree_with_the_others(L, tool):
    path = target_file(L, f"{SERVER_LL}%{L.client_if}")
    for argv, why in ((["-I", "lo", "-iL", path], "-I gives 'lo'"),
                      ([f"{SERVER_LL}%lo", "-iL", path], "another target names 'lo'")):
        r = L.run_client([tool("tcpscan"), "-p", str(OPEN), *argv], timeout=10)
        assert r.returncode == 2, r.stderr
        assert r.stderr.count("\n") == 1 and f"{path}:2: " in r.stderr and why in r.stderr, r.stderr
    r = L.run_client([tool("tcpscan"), "-p", str(OPEN), "-iL", target_file(L, f"{SERVER_LL}%nosuchif0")], timeout=10)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "nosuchif0" in r.stderr, r.stderr


@pytest.mark.parametrize("form", ["--exclude", "--exclude-file"])
def test_an_exclusion_may_name_the_scans_interface(L, tool, form):
    # An exclusion with a zone (fe80::c3%IFACE, as written for the target) was refused as "not
    # an address". It names the interface of the scan, or it could leave out nothing.
    other = "fe80::c3"
    r = L._exec(L.server_ns, ["ip", "-6", "addr", "add", f"{other}/64", "dev", L.server_if, "nodad"])
    assert r.returncode == 0, r.stderr
    zoned = f"{other}%{L.client_if}"
    exclusion = ["--exclude", zoned] if form == "--exclude" else ["--exclude-file", target_file(L, zoned)]
    for targets in (["-I", L.client_if, f"{SERVER_LL}-c3"], [f"{SERVER_LL}%{L.client_if}", zoned]):
        r = L.run_client([tool("tcpscan"), "--json", "-p", str(OPEN), *targets, *exclusion], timeout=60)
        assert r.returncode == 0, r.stderr
        ports = {(o["host"], o["port"], o["state"]) for o in json_lines(r.stdout) if o.get("type") == "port"}
        assert ports == {(SERVER_LL, OPEN, "open")}, r.stdout
    # Another link's address: nothing of this scan, a mistake said in one line.
    wrong = ["--exclude", f"{other}%lo"] if form == "--exclude" else ["--exclude-file", target_file(L, f"{other}%lo")]
    r = L.run_client([tool("tcpscan"), "-p", str(OPEN), "-I", L.client_if, f"{SERVER_LL}-c3", *wrong], timeout=10)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and f"-I gives '{L.client_if}'" in r.stderr, r.stderr


@pytest.mark.parametrize("form", ["zone", "-I"])
def test_path_to_a_link_local_peer(L, tool, form):
    # tcppath exited 4 for every form: "reserve a source port on fe80::...: Invalid argument".
    r = L.run_client([tool("tcppath"), "--json"] + target_forms(L)[form], timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    r = L.run_client([tool("tcppath"), f"[{SERVER_LL}]:{OPEN}"], timeout=10)
    assert r.returncode == 2 and "needs an interface" in r.stderr, r.stderr
