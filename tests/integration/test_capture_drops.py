"""Capture drops are read and shown. The tool is stopped (SIGSTOP) while the server namespace
floods its capture with packets its filter matches, until the kernel drops frames from the
full socket queue. tcpprobe's summary must count them (capture_drops) and say that the loss
may be the capture's; tcpstray must call the case inconclusive and count them too. A clean
run reports capture_drops 0 (tcpstray's: tests/integration/test_tcpstray.py)."""
import json
import signal
import sys
import time

import pytest

OPEN = 8097

# Sends COUNT 1.2 kB segments from SRC:SPORT (an ACK each), or ICMP echo requests with SPORT 0.
FLOOD = r"""
import socket, struct, sys
src, dst, sport, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF
icmp = sport == 0
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP if icmp else socket.IPPROTO_TCP)
payload = b"\0" * 1200
sent = 0
for i in range(count):
    if icmp:
        body = struct.pack("!BBHHH", 8, 0, 0, 7, i & 0xFFFF) + payload
        packet = body[:2] + struct.pack("!H", csum(body)) + body[4:]
    else:
        tcp = struct.pack("!HHIIBBHHH", sport, 20000 + i % 20000, i, 1, 5 << 4, 0x10, 512, 0, 0) + payload
        pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
        packet = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    try:
        raw.sendto(packet, (dst, 0)); sent += 1
    except OSError:
        pass
print(sent)
"""


def summary_of(stdout):
    objs = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    assert objs and objs[-1]["type"] == "summary", stdout
    return objs[-1]


def test_tcpprobe_clean_run_has_no_capture_drops(make_lab, tool):
    L = make_lab(ipv6=False)
    L.start_server(OPEN, mode="hold", family="v4")
    r = L.run_client([tool("tcpprobe"), "-m", "syn", "--json", "-c", "2", "-i", "0.05", f"{L.server_v4}:{OPEN}"])
    assert r.returncode == 0, r.stderr
    assert summary_of(r.stdout)["capture_drops"] == 0


def flooded(L, argv, sport):
    """Runs argv in the client namespace, stopped while 40000 matching 1.2 kB packets arrive
    (well past a capture's 4 MiB queue); returns its stdout and stderr."""
    probe = L.popen_client(argv, stdout=-1, stderr=-1)
    try:
        time.sleep(0.3)
        probe.send_signal(signal.SIGSTOP)
        flood = L.run_server([sys.executable, "-c", FLOOD, L.server_v4, L.client_v4, str(sport), "40000"],
                             timeout=120)
        assert flood.returncode == 0 and int(flood.stdout) > 30000, flood.stderr
        probe.send_signal(signal.SIGCONT)
        out, err = probe.communicate(timeout=60)
    finally:
        if probe.poll() is None:
            probe.send_signal(signal.SIGCONT)
            probe.kill()
            probe.communicate()
    return out.decode(), err.decode()


def test_tcpprobe_counts_frames_its_capture_dropped(make_lab, tool):
    L = make_lab(ipv6=False)
    L.start_server(OPEN, mode="hold", family="v4")
    argv = [tool("tcpprobe"), "-m", "syn", "-c", "3", "-i", "0.5", "-W", "0.4", f"{L.server_v4}:{OPEN}"]
    # Segments from the probed port match the capture's filter.
    out, err = flooded(L, argv[:3] + ["--json"] + argv[3:], OPEN)
    summary = summary_of(out)
    assert summary["capture_drops"] > 0, (summary, err)
    out, err = flooded(L, argv, OPEN)
    flat = " ".join(out.split())  # the summary line folds at 80 columns
    assert "% loss (the capture dropped " in flat and "frames: answers may be among them)" in flat, out + err


def test_tcpstray_case_with_capture_drops_is_inconclusive(make_lab, tool):
    L = make_lab(ipv6=False)
    # One closed-port case that waits the whole 2 s (silence is expected). ICMP to us matches
    # every stateless case's capture filter: an echo-request flood fills its queue while
    # tcpstray is stopped, and silence can no longer be told from a lost answer.
    out, err = flooded(L, [tool("tcpstray"), "--json", "-W", "2", "--case", "closed-rst",
                           f"{L.server_v4}:{OPEN}"], 0)
    objs = [json.loads(line) for line in out.splitlines() if line.strip()]
    case = [o for o in objs if o["type"] == "case"]
    assert len(case) == 1, out + err
    assert case[0]["verdict"] == "inconclusive", case[0]
    assert case[0]["reason"].startswith("capture dropped ") and "the answer may be among them" in case[0]["reason"]
    assert objs[-1]["type"] == "summary" and objs[-1]["capture_drops"] > 0
