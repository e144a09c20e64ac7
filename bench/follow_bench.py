#!/usr/bin/env python3
"""tcpstate follow under a storm of short connections: events captured and lost, and the CPU
it costs, against bcc's tcpstates where that runs.

For each rate R it makes a fresh namespace and runs lab_conn_storm there: R connections a second
over loopback for SECONDS, each connect()ed and closed at once by the client and accepted,
read to its end and closed by the server. How many changes a connection makes depends on timing
(the server's ACK and FIN may come together: FIN_WAIT1 -> CLOSE, no FIN_WAIT2), but three kinds
come exactly once per connection, and a tracer that loses nothing shows exactly N of each:
CLOSE -> SYN_SENT (the client starts), SYN_RECV -> ESTABLISHED (the server's child appears),
and, 2 N + 1 times with the listener's own, any state -> CLOSE (each socket ends; tcpstate
follow shows the client's end as -> TIME_WAIT, inferred from the timewait socket it finds).

The tracer runs in the root namespace, filtered to the storm's (`--netns`), its output piped
to `tail -n 1` (the summary). Measured:
    lost      of the changes that come once per connection (3 N + 1 of them), how many it did
              not show; its own count of ring-buffer drops, recursion misses and path gaps (a
              socket's change that does not start where its last one ended), and whether its
              summary says degraded. The tracer is stopped with Ctrl-C only once every
              connection has ended (up to 30 s: loopback drops packets in a storm, and a
              retransmitted FIN or ACK keeps a few open for seconds); any still open then are
              not counted as lost;
    CPU       the tracer process's user + system time (wait4), per event;
    BPF       the BPF programs' own run time per change (kernel.bpf_stats_enabled, read with
              bpftool while it runs): the cost added to every state change of the host. It is
              measured in a second run of its own: with the statistics on, each run of the
              program takes longer and more changes nest, so the losses are counted with them
              off, as a user runs it.
bcc's tcpstates-bpfcc runs the same storm when it starts here; when it does not (it compiles
its program at run time and needs this kernel's headers), the row says why.

    python3 bench/follow_bench.py [--build DIR] [--rates 5000,10000,20000] [--seconds 5] [--json]

Needs root (namespaces, BPF). Traffic flows only over the storm namespace's loopback. Python
stdlib only. Exit codes: 0 ran, 2 bad flags, 3 not root, 4 a missing program or a failed setup.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Counts the three kinds of change that come exactly once per connection (twice for the
# ends), from tcpstate follow's JSON Lines, and passes the last line (the summary) through.
COUNT_JSON = r"""
/"old_state":"CLOSE","new_state":"SYN_SENT"/ { starts++ }
/"old_state":"SYN_RECV","new_state":"ESTABLISHED"/ { children++ }
/"new_state":"(CLOSE|TIME_WAIT)"[,}]/ { ends++ }
{ last = $0 }
END { print starts + 0, children + 0, ends + 0; print last }
"""
ATTACH_S = 1.5  # the tracer loads and attaches before the storm starts
BCC = "tcpstates-bpfcc"


def sh(*argv, check=True, timeout=30):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout, check=check)


def make_ns(name):
    sh("ip", "netns", "add", name)
    sh("ip", "-n", name, "link", "set", "lo", "up")
    # Loopback connections reuse the client's TIME_WAIT ports (the default, 2), and the
    # bucket limit is out of the way.
    sh("ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv4.tcp_tw_reuse=2",
       "net.ipv4.tcp_max_tw_buckets=2000000", "net.core.somaxconn=4096")


def bpf_prog_stats(name_prefix):
    """(run_time_ns, run_cnt) summed over the loaded programs whose name starts so."""
    r = sh("bpftool", "prog", "show", "--json", check=False)
    if r.returncode != 0:
        return None
    total_ns = total_cnt = 0
    for p in json.loads(r.stdout or "[]"):
        if str(p.get("name", "")).startswith(name_prefix):
            total_ns += int(p.get("run_time_ns", 0))
            total_cnt += int(p.get("run_cnt", 0))
    return total_ns, total_cnt


def storm(ns, build, rate, seconds, port):
    argv = ["ip", "netns", "exec", ns, os.path.join(build, "tests", "lab_conn_storm"), "--count",
            str(rate * seconds), "--rate", str(rate), "--port", str(port), "--max-seconds", str(seconds * 3)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds * 3 + 30)
    if r.returncode not in (0, 1) or not r.stdout.strip():
        raise RuntimeError(f"lab_conn_storm: {r.stderr.strip()}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def wait_ended(ns, limit_s=30):
    """Waits until every connection of the storm has ended (the namespace holds nothing but
    TIME_WAIT sockets), at most limit_s; returns how many sockets were still open. A storm drops
    packets on loopback (the backlog overflows), and a FIN or final ACK retransmitted with backoff
    keeps a few connections open for seconds: stopping the tracer before they end would count
    their last change as lost."""
    end = time.monotonic() + limit_s
    while True:
        r = sh("ip", "netns", "exec", ns, "ss", "-tanH", "exclude", "time-wait", check=False)
        still = len([line for line in r.stdout.splitlines() if line.strip()])
        if still == 0 or time.monotonic() > end:
            return still
        time.sleep(0.1)


def run_tracer(argv, post, ns, build, rate, seconds, port, prog_prefix):
    """Starts the tracer (its output piped to post), runs the storm, waits for the tracer's end:
    (post's output, rusage, storm, BPF ns per run, why it failed)."""
    tracer = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tail = subprocess.Popen(post, stdin=tracer.stdout, stdout=subprocess.PIPE, text=True)
    tracer.stdout.close()
    err = []
    reader = threading.Thread(target=lambda: err.append(tracer.stderr.read()), daemon=True)
    reader.start()
    time.sleep(ATTACH_S)
    if tracer.poll() is not None:
        tail.communicate(timeout=10)
        reader.join(2)
        return None, None, None, None, ("".join(err).strip().splitlines() or ["exited"])[-1]
    before = bpf_prog_stats(prog_prefix) if prog_prefix else None
    made = storm(ns, build, rate, seconds, port)
    made["open_at_end"] = wait_ended(ns)
    time.sleep(0.5)
    tracer.send_signal(signal.SIGINT)  # Ctrl-C, as a user stops it (--duration is only the bound)
    after = bpf_prog_stats(prog_prefix) if prog_prefix else None
    deadline = time.monotonic() + 30
    usage = None
    while time.monotonic() < deadline:
        pid, _, ru = os.wait4(tracer.pid, os.WNOHANG)
        if pid:
            usage = ru
            break
        time.sleep(0.05)
    if usage is None:  # bounded: a tracer that does not stop is stopped
        tracer.kill()
        _, _, usage = os.wait4(tracer.pid, 0)
    out = tail.communicate(timeout=30)[0]
    reader.join(2)
    bpf = None
    if before and after and after[1] > before[1]:
        bpf = (after[0] - before[0]) / (after[1] - before[1])
    return out.strip(), usage, made, bpf, None


def bpf_cost(build, ns, rate, seconds):
    """The follow programs' run time per change, from a second run with bpf_stats on."""
    before = sh("sysctl", "-n", "kernel.bpf_stats_enabled", check=False).stdout.strip() or "0"
    sh("sysctl", "-qw", "kernel.bpf_stats_enabled=1", check=False)
    try:
        argv = [os.path.join(build, "tools", "tcpstate"), "--netns", ns, "follow", "--json",
                "--duration", f"{ATTACH_S + seconds * 3 + 40:.1f}s"]
        _, _, _, bpf, _ = run_tracer(argv, ["tail", "-n", "1"], ns, build, rate, seconds, 7002, "follow_")
        return round(bpf) if bpf else None
    finally:
        sh("sysctl", "-qw", f"kernel.bpf_stats_enabled={before}", check=False)


def tcpstate_row(build, ns, rate, seconds):
    argv = [os.path.join(build, "tools", "tcpstate"), "--netns", ns, "follow", "--json",
            "--duration", f"{ATTACH_S + seconds * 3 + 40:.1f}s"]
    out, usage, made, _, fail = run_tracer(argv, ["awk", COUNT_JSON], ns, build, rate, seconds, 7000, None)
    if fail:
        return {"tool": "tcpstate follow", "rate": rate, "error": fail}
    counts, summary = out.splitlines()[-2:]
    starts, children, ends = (int(x) for x in counts.split())
    s = json.loads(summary)
    n = made["connections"]
    seen = s["seen"] - s["inferred"]
    cpu = usage.ru_utime + usage.ru_stime
    return {"tool": "tcpstate follow", "rate": rate, "achieved_rate": made["rate"], "connections": n,
            "starts": starts, "children": children, "ends": ends, "ends_expected": 2 * n + 1,
            "open_at_end": made["open_at_end"],
            "lost": (n - starts) + (n - children) + (2 * n + 1 - made["open_at_end"] - ends),
            "seen": seen, "inferred": s["inferred"],
            "ring_drops": s["ring_drops"], "recursion_misses": s["recursion_misses"], "nested_taken": s.get("nested_taken"),
            "path_gaps": s.get("path_gaps"),
            "degraded": s["degraded"],
            "cpu_s": round(cpu, 3), "cpu_us_per_event": round(cpu * 1e6 / max(seen, 1), 2),
            "bpf_ns_per_event": bpf_cost(build, ns, rate, min(seconds, 2))}


def bcc_row(build, ns, rate, seconds):
    if not shutil.which(BCC):
        return {"tool": BCC, "rate": rate, "error": "not installed"}
    probe = subprocess.run(["timeout", "8", BCC], capture_output=True, text=True)
    if probe.returncode not in (0, 124):
        why = [line for line in (probe.stdout + probe.stderr).splitlines() if line.strip()]
        headers = [line for line in why if "kernel headers" in line]  # its usual failure here
        return {"tool": BCC, "rate": rate, "error": (headers or why or ["exit %d" % probe.returncode])[-1]}
    # bcc has no namespace filter: it sees the whole host, so its count is at least the storm's.
    argv = ["timeout", "-s", "INT", f"{ATTACH_S + seconds * 3 + 40:.1f}", BCC]
    out, usage, made, _, fail = run_tracer(argv, ["wc", "-l"], ns, build, rate, seconds, 7001, None)
    if fail:
        return {"tool": BCC, "rate": rate, "error": fail}
    n = made["connections"]
    seen = max(int(out.split()[0]) - 1, 0)  # its header line
    cpu = usage.ru_utime + usage.ru_stime
    # Its lines are counted, not classified: "lost" is left to a reading of its output.
    return {"tool": BCC, "rate": rate, "achieved_rate": made["rate"], "connections": n, "lost": None,
            "seen": seen, "inferred": 0, "ring_drops": None, "recursion_misses": None, "degraded": None,
            "cpu_s": round(cpu, 3), "cpu_us_per_event": round(cpu * 1e6 / max(seen, 1), 2), "bpf_ns_per_event": None}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--rates", default="5000,10000,20000")
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    try:
        a = ap.parse_args()
        rates = [int(r) for r in a.rates.split(",") if r]
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    except ValueError:
        print("follow_bench: --rates is a comma-separated list of whole numbers", file=sys.stderr)
        return 2
    if not rates or any(not 1 <= r <= 200000 for r in rates) or not 1 <= a.seconds <= 60:
        print("follow_bench: rates must be 1..200000 and --seconds 1..60", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("follow_bench: needs root (namespaces, BPF)", file=sys.stderr)
        return 3
    build = os.path.abspath(a.build)
    for need in (os.path.join(build, "tools", "tcpstate"), os.path.join(build, "tests", "lab_conn_storm")):
        if not os.access(need, os.X_OK):
            print(f"follow_bench: {need} is not built", file=sys.stderr)
            return 4
    if not shutil.which("bpftool"):
        print("follow_bench: needs bpftool", file=sys.stderr)
        return 4
    rows = []
    for rate in rates:
        for make in (tcpstate_row, bcc_row):
            ns = f"tfb{os.getpid()}-{rate}-{len(rows)}"
            make_ns(ns)
            try:
                row = make(build, ns, rate, a.seconds)
            finally:
                sh("ip", "netns", "del", ns, check=False)
            rows.append(row)
            if a.json:
                print(json.dumps(row), flush=True)
    if not a.json:
        print("| tool | rate asked (made) /s | connections | lost | changes seen | ring drops | recursion misses | "
              "path gaps | degraded | tracer CPU s | CPU µs/change | BPF ns/change |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            if "error" in r:
                print(f"| {r['tool']} | {r['rate']} | | | | | | | | | | did not run: {r['error']} |")
                continue
            print(f"| {r['tool']} | {r['rate']} ({r['achieved_rate']:.0f}) | {r['connections']} | {r['lost']} | "
                  f"{r['seen']} | {r['ring_drops']} | {r['recursion_misses']} | {r.get('path_gaps')} | {r['degraded']} | "
                  f"{r['cpu_s']} | "
                  f"{r['cpu_us_per_event']} | {r['bpf_ns_per_event']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
