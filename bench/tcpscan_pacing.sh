#!/usr/bin/env bash
# Pacing on the wire: tcpscan --rate R, nmap -sS --max-rate R and masscan --rate R against one lab
# target at R = 20, 200, 10000 and 100000 probes/s. A capture on the sender's veth gives every
# SYN's time; the table shows the most SYNs seen in any 10 ms and any 100 ms window, next to the
# ceiling a rate promises (R/100 and R/10, + 2), and the rate over the whole capture.
# Usage: bench/tcpscan_pacing.sh BUILD_DIR   (root; bench/run.sh BUILD tcpscan-pacing calls it)
set -euo pipefail
BUILD=${1:?usage: bench/tcpscan_pacing.sh BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
for prog in nmap masscan tcpdump; do
  command -v "$prog" >/dev/null || { echo "tcpscan_pacing: '$prog' is missing" >&2; exit 4; }
done
[ -x "$BUILD/tools/tcpscan" ] || { echo "tcpscan_pacing: $BUILD/tools/tcpscan is not built" >&2; exit 4; }
export TCPKIT_BUILD=$BUILD
exec /usr/bin/python3 - "$ROOT" "$BUILD" <<'PY'
import os, re, select, signal, subprocess, sys, time

root, build = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(root, "tests", "lab"))
import lab  # noqa: E402

TCPSCAN = os.path.join(build, "tools", "tcpscan")
# Probes per run: about 2 s of traffic at the low rates, a few hundred ms at the high ones.
WORK = {20: 40, 200: 400, 10_000: 10_000, 100_000: 30_000}


def capture(L, path):
    """tcpdump on the client's veth with a large buffer; returns the process once it listens."""
    bpf = f"src host {L.client_v4} and tcp[tcpflags] == tcp-syn"
    p = subprocess.Popen(["ip", "netns", "exec", L.client_ns, "tcpdump", "-i", L.client_if, "-n", "-U",
                          "--immediate-mode", "-B", "32768", "-w", path, bpf],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    buf, end = b"", time.monotonic() + 10
    while b"listening on" not in buf and time.monotonic() < end:
        if select.select([p.stderr], [], [], 0.1)[0]:
            buf += os.read(p.stderr.fileno(), 4096)
    if b"listening on" not in buf:
        p.kill()
        raise RuntimeError("tcpdump did not start")
    return p


def stop(p):
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    err = p.communicate(timeout=20)[1].decode(errors="replace")
    m = re.search(r"(\d+) packets dropped by kernel", err)
    return int(m.group(1)) if m else 0


def server_mac(L):
    out = subprocess.run(["ip", "-n", L.server_ns, "-o", "link", "show", L.server_if],
                         capture_output=True, text=True, check=True).stdout
    return re.search(r"link/ether ([0-9a-f:]{17})", out).group(1)


rows = []
with lab.Lab(ipv6=False) as L:
    host, mac = L.server_v4, server_mac(L)
    for rate, n in WORK.items():
        tools = [
            ("tcpscan --rate", [TCPSCAN, "-p", f"1-{n}", "--rate", rate, "--retries", 0, "--wait", "100ms", host]),
            ("nmap --max-rate", ["nmap", "-sS", "-n", "-Pn", "--max-retries", 0, "--max-rate", rate,
                                 "-p", f"1-{n}", host]),
            ("masscan --rate", ["masscan", f"-p1-{n}", host, "--rate", rate, "--wait", 0,
                                "--interface", L.client_if, "--router-mac", mac]),
        ]
        for name, argv in tools:
            path = os.path.join(L.tmpdir, f"pace-{rate}-{name.split()[0]}.pcap")
            cap = capture(L, path)
            subprocess.run(["ip", "netns", "exec", L.client_ns, *map(str, argv)], capture_output=True,
                           timeout=600)
            dropped = stop(cap)
            times = lab.syn_times(path)
            span = (times[-1] - times[0]) / 1e9 if len(times) > 1 else 0
            rows.append((rate, name, len(times), dropped, lab.most_in_window(times, 10_000_000), rate / 100 + 2,
                         lab.most_in_window(times, 100_000_000), rate / 10 + 2, len(times) / span if span else 0))
            time.sleep(0.5)

print("| rate | tool | SYNs captured (capture drops) | most in 10 ms (rate/100 + 2) | "
      "most in 100 ms (rate/10 + 2) | rate over the capture |")
print("|---:|---|---:|---:|---:|---:|")
for rate, name, count, dropped, w10, c10, w100, c100, achieved in rows:
    mark = lambda w, c: f"**{w}**" if w > c else str(w)
    print(f"| {rate} | {name} {rate} | {count} ({dropped}) | {mark(w10, c10)} ({c10:g}) | "
          f"{mark(w100, c100)} ({c100:g}) | {achieved:.0f}/s |")
print("\nbold: over the ceiling for that window")
PY
