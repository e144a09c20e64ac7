"""`./run demo` (tests/lab/demo.sh): tcpstate looks into the lab's own namespaces (--netns) and
shows the states the demo created there, with time-wait and close-wait reports about them."""
import os
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.join(HERE, "..", "lab", "demo.sh")


def section(out, command_tail):
    """The output of the demo's command whose line ends with command_tail."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("$ ") and line.endswith(command_tail))
    body = []
    for line in lines[start + 1:]:
        if line.startswith("$ ") or line.startswith("demo: "):
            break
        body.append(line)
    return "\n".join(body)


def summary_counts(text):
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^([A-Z_0-9]+)\s+\d+\s+\d+\s+(\d+)$", text, re.M)}


def test_demo_shows_the_labs_states_through_netns(build_dir):
    r = subprocess.run(["bash", DEMO, build_dir], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = r.stdout
    assert "did not start" not in out, out[-3000:]
    server_ns = re.search(r"--netns (\S+-s) --summary", out).group(1)
    client_ns = re.search(r"--netns (\S+-c) --summary", out).group(1)
    server = summary_counts(section(out, f"--netns {server_ns} --summary"))
    client = summary_counts(section(out, f"--netns {client_ns} --summary"))
    # What the demo made: 5 held, 3 half-closed (FIN_WAIT2 / CLOSE_WAIT), 8 closed by the client.
    assert server["LISTEN"] >= 4 and server["ESTABLISHED"] >= 5 and server["CLOSE_WAIT"] == 3, server
    assert client["ESTABLISHED"] >= 5 and client["FIN_WAIT2"] == 3 and client["TIME_WAIT"] >= 8, client
    close_wait = section(out, f"--netns {server_ns} close-wait")
    assert re.search(r"^demo-server\s+\d+\s+server\s+:9090\s+3\b", close_wait, re.M), close_wait
    time_wait = section(out, f"--netns {client_ns} time-wait")
    assert re.search(r"^client\s+\S+\s+\S+:9091\s+8\b", time_wait, re.M), time_wait
    by_peer = section(out, f"--netns {server_ns} --by peer")
    assert "(listening)" in by_peer and "0.0.0.0" not in by_peer, by_peer
