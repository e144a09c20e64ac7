"""tcpstate's address filters against the real kernel: a dual-stack listener ([::], v6only off)
holds its IPv4 clients as IPv4-mapped IPv6 sockets ([::ffff:a.b.c.d]); --dst and --src with an
IPv4 address or network must keep them, as `ss dst ADDRESS` does, in follow and in the list."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
import lab  # noqa: E402
from test_tcpstate_follow import SERVER_PORT, start_follower, stop_follower  # noqa: E402

CLIENT_PORT = 41051

CLIENT = r"""
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", %d)); s.settimeout(10); s.connect((sys.argv[1], int(sys.argv[2])))
s.sendall(b"x")
print("CONNECTED", flush=True)
sys.stdin.readline()               # held open until the test has listed it
s.close()
time.sleep(0.3)
print("DONE", flush=True)
""" % CLIENT_PORT


def test_ipv4_filters_keep_the_ipv4_clients_of_a_dual_stack_server(tool):
    with lab.Lab() as L:
        server = L.start_server(SERVER_PORT, mode="hold", family="both", close_delay_ms=50)
        follower = start_follower([tool("tcpstate"), "follow", "--json", "--dst", L.client_v4,
                                   "--src", L.server_v4.rsplit(".", 1)[0] + ".0/24"], wrap_ns=L.server_ns)
        client = L.popen_client([sys.executable, "-c", CLIENT, L.server_v4, SERVER_PORT], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        assert client.stdout.readline().strip() == "CONNECTED"
        ss = L.run_server(["ss", "-tanH", "dst", L.client_v4]).stdout.split()
        listed = L.run_server([tool("tcpstate"), "--json", "--dst", L.client_v4]).stdout
        client.stdin.write("\n")
        client.stdin.flush()
        assert client.stdout.readline().strip() == "DONE"
        transitions, summary, _ = stop_follower(follower)
        server.terminate()
    # What ss shows: the server's socket is IPv4-mapped.
    assert ss[:1] == ["ESTAB"] and ss[4] == f"[::ffff:{L.client_v4}]:{CLIENT_PORT}", ss
    sockets = [r for r in map(json.loads, listed.splitlines()) if r["type"] == "socket"]
    assert [(s["state"], s["remote_port"]) for s in sockets] == [("ESTABLISHED", CLIENT_PORT)], listed
    steps = [(t["old_state"], t["new_state"]) for t in transitions if t["remote_port"] == CLIENT_PORT]
    assert steps == [("LISTEN", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"), ("ESTABLISHED", "CLOSE_WAIT"),
                     ("CLOSE_WAIT", "LAST_ACK"), ("LAST_ACK", "CLOSE")], transitions
    assert all(t["remote_address"].endswith(L.client_v4) for t in transitions), transitions
    assert summary["degraded"] is False
