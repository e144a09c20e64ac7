"""tcpstate -p without the privilege to look into other users' processes: a root-owned
listener in a lab namespace has an owner that `nobody` may not see. tcpstate must say so once
on stderr instead of silently showing the socket without its process."""
import json

PORT = 8095


def listener_row(stdout):
    rows = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    mine = [o for o in rows if o.get("type") == "socket" and o.get("state") == "LISTEN"
            and o.get("local_port") == PORT]
    assert mine, stdout
    return mine[0]


def test_unreadable_owners_are_reported_once(lab):
    L = lab(ipv6=False)
    server = L.start_server(PORT, mode="hold", family="v4")  # root owns it
    argv = [L.tool("tcpstate"), "-p", "--json", "--state", "listen"]

    as_root = L.run_server(argv)
    assert as_root.returncode == 0, as_root.stderr
    assert as_root.stderr == ""
    assert [p["pid"] for p in listener_row(as_root.stdout)["processes"]] == [server.pid]

    as_nobody = L.run_server(argv, unprivileged_user=True)
    assert as_nobody.returncode == 0, as_nobody.stderr
    lines = as_nobody.stderr.strip().splitlines()
    assert len(lines) == 1, as_nobody.stderr
    assert lines[0].startswith("tcpstate: ") and "could not be looked into (not root)" in lines[0], lines[0]
    assert "processes" not in listener_row(as_nobody.stdout)
