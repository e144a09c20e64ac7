"""A peer that answers a SYN with a bare SYN of its own (a split handshake: it opens towards us
instead of answering SYN/ACK) is a listener, as nmap reads it (open, split-handshake-syn). The
responder in the server namespace plays that peer; the kernel's own RST is dropped by nftables
(the responder's packets carry a mark). Found: tcpprobe and tcpscan rejected the SYN as a wrong
ack, called the port filtered, and the ACK check blamed a full accept queue."""
import json
import os
import subprocess
import sys

LAB_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab")
PORT = 8094
MARK = 0x5253


def split_lab(make_lab):
    L = make_lab(ipv6=False)
    L.nft(L.server_ns, f"table inet tksplit {{\n chain out {{ type filter hook output priority 0; policy accept;\n"
                       f"  tcp sport {PORT} meta mark != {MARK:#x} drop\n }}\n}}\n")
    proc = L.popen_server([sys.executable, os.path.join(LAB_DIR, "bare_rst_responder.py"), "--interface",
                           L.server_if, "--port", str(PORT), "--split", "--mark", hex(MARK), "--max-seconds", "120"],
                          stdout=subprocess.PIPE)
    line = proc.stdout.readline().decode().strip()  # bounded: the lab stops it at teardown
    assert line == "ready", f"responder did not start: {line!r}"
    return L


def jsonl(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_bare_syn_in_answer_is_an_open_port(make_lab, tool):
    L = split_lab(make_lab)
    r = L.run_client([tool("tcpprobe"), "-m", "syn", "--json", "-c", "2", "-i", "0.2", "-W", "1",
                      f"{L.server_v4}:{PORT}"], timeout=60)
    objs = jsonl(r.stdout)
    probes = [o for o in objs if o["type"] == "probe"]
    assert [(p["outcome"], p["flags"]) for p in probes] == [("open", "S"), ("open", "S")], r.stdout + r.stderr
    assert objs[-1]["rejected"] == 0 and objs[-1]["ack_check"] is None, objs[-1]
    s = L.run_client([tool("tcpscan"), "--json", "-p", str(PORT), "--retries", "0", "--wait", "500ms", L.server_v4],
                     timeout=60)
    ports = [o for o in jsonl(s.stdout) if o["type"] == "port"]
    assert [(p["state"], p["reason"]) for p in ports] == [("open", "split-handshake-syn")], s.stdout + s.stderr
