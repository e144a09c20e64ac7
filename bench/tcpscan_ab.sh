#!/usr/bin/env bash
# Two builds of tcpscan, alternately in one lab on the same work, so that a code change is
# measured against the code before it in the same run (issue 12: "unchanged or better"):
# 1 host x 65535 ports, 200 open, 200 filtered (SYNs dropped), the rest closed; the old
# build's flags (--retries 1 --wait 100ms), and --send-ip where the new one has it, so both do
# the same work. Medians of wall, CPU and peak RSS, and how many runs were exact.
# Usage: bench/tcpscan_ab.sh OLD_BUILD NEW_BUILD [RUNS]   (root)
set -euo pipefail
OLD=${1:?usage: bench/tcpscan_ab.sh OLD_BUILD NEW_BUILD [RUNS]}
NEW=${2:?usage: bench/tcpscan_ab.sh OLD_BUILD NEW_BUILD [RUNS]}
RUNS=${3:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
exec /usr/bin/python3 - "$ROOT" "$OLD" "$NEW" "$RUNS" <<'PY'
import os, random, re, statistics, subprocess, sys
root, old, new, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.path.insert(0, os.path.join(root, "tests", "lab"))
import lab  # noqa: E402

def flags_of(build):
    help_text = subprocess.run([os.path.join(build, "tools", "tcpscan"), "--help"], capture_output=True, text=True).stdout
    return ["--send-ip"] if "--send-ip" in help_text else []

rng = random.Random(1)
chosen = rng.sample(range(1, 65536), 400)
open_ports, dropped = set(chosen[:200]), set(chosen[200:])
results = {"old": [], "new": []}
with lab.Lab(ipv6=False) as L:
    L.popen_server([sys.executable, os.path.join(root, "tests", "lab", "tcpscan_listener.py"), "--ports",
                    ",".join(map(str, sorted(open_ports))), "--family", "v4", "--max-seconds", "3600"],
                   stdout=subprocess.PIPE).stdout.readline()
    L.drop_ports(sorted(dropped))
    for i in range(runs):
        for name, build in (("old", old), ("new", new)):
            argv = [os.path.join(build, "tools", "tcpscan"), "-p-", "--rate", "400000", "--retries", "1", "--wait",
                    "100ms", "--grepable", *flags_of(build), L.server_v4]
            r = subprocess.run(["ip", "netns", "exec", L.client_ns, "/usr/bin/time", "-f", "%e %U %S %M", *argv],
                               capture_output=True, text=True, timeout=300)
            wall, user, system, rss = r.stderr.strip().splitlines()[-1].split()
            found = {}
            for line in r.stdout.splitlines():
                for field in line.split("\t")[1:]:
                    state, _, ports = field.partition(": ")
                    for part in filter(None, ports.split(",")):
                        a, _, b = part.partition("-")
                        for p in range(int(a), int(b or a) + 1):
                            found[p] = state.lower()
            exact = len(found) == 65535 and all(
                found[p] == ("open" if p in open_ports else "filtered" if p in dropped else "closed") for p in found)
            results[name].append((float(wall), float(user) + float(system), int(rss) / 1024, exact))
for name in ("old", "new"):
    rs = results[name]
    med = lambda i: statistics.median(r[i] for r in rs)
    print(f"{name}: wall {med(0):.3f} s  cpu {med(1):.3f} s  rss {med(2):.1f} MB  exact {sum(r[3] for r in rs)}/{len(rs)}"
          f"  walls {' '.join(f'{r[0]:.2f}' for r in rs)}")
o, n = (statistics.median(r[0] for r in results[k]) for k in ("old", "new"))
print(f"new/old wall ratio {n / o:.2f}")
PY
