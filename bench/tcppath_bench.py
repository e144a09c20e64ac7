#!/usr/bin/env python3
"""tcppath against the TCP traceroutes, side by side on the lab's chain of Linux routers.

Each case builds a fresh chain client - r1 - r2 - r3 - server (lab.py routers=3: forwarding on,
the kernel's default ICMP rate limits) with a listening server on PORT, and one thing on r2:

    clean       nothing;
    middlebox   nftables rewrites the SYN: MSS clamped to 1200, SACK-permitted stripped, window
                set to 1000, DSCP set to AF11 (four changes, all between hop 2 and hop 3);
    drop        nftables drops the SYN (it stops after hop 2);
    reject      nftables rejects it with ICMP administratively prohibited (rejected at hop 2);
    ratelimit   r2 sends at most one ICMP error per second, burst 1 (hop 2 answers once; the SYN
                still reaches the server).

Every tool runs in a lab of its own (so each starts with the routers' full ICMP budgets), with
three probes per hop, eight hops at most, numeric output: tcppath, tcptraceroute (IPv4 only),
`traceroute -T`, `mtr --tcp` (report mode, 0.1 s interval) and `nmap -sS --traceroute`. From
each output the bench reads the address at each TTL and what the tool says at the end, and
scores against what the lab built:

    hops      routers named at their TTL, plus the destination when it answered (of 4; of 2
              when the SYN stops at r2);
    stop      whether the output tells where and how the SYN stopped: the destination reached;
              silence after hop 2; or a rejection by r2, named as one;
    changes   the SYN's changes named, and at the right pair of hops (only tcppath reads the
              quoted SYN; the others cannot see a change); any other change a tool names is
              listed beside, as noise;
    wall      seconds, the tool's whole run.

    python3 bench/tcppath_bench.py [--build DIR] [--family 4|6|both] [--cases a,b] [--json]

Needs root (namespaces). Traffic flows only between the lab's namespaces. Python stdlib only.
Exit codes: 0 ran (whatever the scores), 2 bad flags, 3 not root, 4 lab failure or a missing
tool (./run bench installs them).
"""
import argparse
import json
import os
import re
import shutil
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "lab"))
import lab  # noqa: E402  (the project's namespace lab)

PORT = 8080
MAX_HOPS = 8
QUERIES = 3
CASES = ("clean", "middlebox", "drop", "reject", "ratelimit")
TOOLS = ("tcppath", "tcptraceroute", "traceroute -T", "mtr --tcp", "nmap --traceroute")
PEER_PROGRAMS = {"tcptraceroute": "tcptraceroute", "traceroute -T": "traceroute",
                 "mtr --tcp": "mtr", "nmap --traceroute": "nmap"}
SYN = f"tcp dport {PORT} tcp flags & (syn | ack) == syn"
# The changes r2 makes in the middlebox case, as the start of tcppath's names for them.
MIDDLEBOX_CHANGES = ("MSS clamped to 1200", "SACK-permitted stripped", "window ", "dscp ")
TOOL_TIMEOUT_S = 120


def r2_rules(case, family):
    """The nftables lines for r2's forward chain, for one case."""
    if case == "middlebox":
        dscp = "ip dscp set af11" if family == 4 else "ip6 dscp set af11"
        return (f"  {SYN} tcp option maxseg size set 1200\n  {SYN} reset tcp option sack-perm\n"
                f"  {SYN} tcp window set 1000\n  {SYN} {dscp}\n")
    if case == "drop":
        return f"  {SYN} drop\n"
    if case == "reject":
        kind = "icmp type admin-prohibited" if family == 4 else "icmpv6 type admin-prohibited"
        return f"  tcp dport {PORT} reject with {kind}\n"
    return ""


def build_lab(case, family):
    L = lab.Lab(routers=3, ipv6=(family == 6))
    try:
        L.start_server(PORT, mode="hold", family=f"v{family}")
        rules = r2_rules(case, family)
        if rules:
            L.nft(L.router_ns[1], "table inet tkbench {\n chain f { type filter hook forward priority 0; "
                                  f"policy accept;\n{rules} }}\n}}\n")
        if case == "ratelimit":
            # One ICMP error a second, burst one, for both families (the global limiter), and
            # no per-destination slack on top of it.
            L.sysctl(L.router_ns[1], "net.ipv4.icmp_msgs_per_sec", 1)
            L.sysctl(L.router_ns[1], "net.ipv4.icmp_msgs_burst", 1)
        return L
    except BaseException:
        L.close()
        raise


def command(tool, L, family):
    dst = L.server_v4 if family == 4 else L.server_v6
    six = [] if family == 4 else ["-6"]
    if tool == "tcppath":
        return [L.tool("tcppath"), "--json", "-n", "-m", MAX_HOPS, "-q", QUERIES, f"-{family}",
                f"{dst}:{PORT}" if family == 4 else f"[{dst}]:{PORT}"]
    if tool == "tcptraceroute":
        return ["tcptraceroute", "-n", "-q", QUERIES, "-m", MAX_HOPS, dst, PORT] if family == 4 else None
    if tool == "traceroute -T":
        return ["traceroute", "-T", *six, "-n", "-q", QUERIES, "-m", MAX_HOPS, "-p", PORT, dst]
    if tool == "mtr --tcp":
        return ["mtr", "--tcp", *six, "-P", PORT, "-n", "-r", "-c", QUERIES, "-i", "0.1", "-m", MAX_HOPS, dst]
    return ["nmap", "-sS", *six, "-Pn", "-n", "-p", PORT, "--traceroute", dst]


# ---------------------------------------------------------------- reading each tool's output
# Each reader returns (hops, end): hops {ttl: address or None}; end one of "reached",
# "rejected" (the tool names a rejection), or None (it just stops showing answers).

ADDR = r"([0-9a-fA-F:.]*[:.][0-9a-fA-F:.]+)"


def read_tcppath(out, dst):
    hops, end, changes = {}, None, []
    for line in out.splitlines():
        o = json.loads(line)
        if o.get("type") == "hop":
            hops[o["hop"]] = o.get("router")
            changes += [(c["change"], c["where"]) for c in o.get("changes", [])]
        elif o.get("type") == "summary":
            if o.get("stop") == "reached":
                hops[o["destination_hop"]] = dst
                end = "reached"
            elif o.get("stop") == "rejected":
                end = "rejected"
                hops[o["last_hop"] + 1] = o.get("last_router")
    return hops, end, changes


def read_numbered(out, dst, reject_marks):
    """tcptraceroute and traceroute: ' N  addr  rtt ms ... [!X]' or ' N  * * *'."""
    hops, end = {}, None
    for line in out.splitlines():
        m = re.match(r"\s*(\d+)\s+(.*)$", line)
        if not m:
            continue
        ttl, rest = int(m.group(1)), m.group(2)
        a = re.search(ADDR, rest)
        hops[ttl] = a.group(1) if a else None
        if a and a.group(1) == dst:
            end = "reached"
        if any(mark in rest for mark in reject_marks):
            end = "rejected"
    return hops, end


def read_mtr(out, dst):
    hops, end = {}, None
    for line in out.splitlines():
        m = re.match(r"\s*(\d+)\.\|--\s+(\S+)", line)
        if m:
            addr = None if m.group(2) == "???" else m.group(2)
            hops[int(m.group(1))] = addr
            end = "reached" if addr == dst else end
    return hops, end


def read_nmap(out, dst):
    hops, end, table = {}, None, False
    for line in out.splitlines():
        if line.startswith("HOP RTT"):
            table = True
            continue
        if table:
            m = re.match(r"(\d+)\s+\S+\s+ms\s+(\S+)", line)
            if m:
                hops[int(m.group(1))] = m.group(2)
                end = "reached" if m.group(2) == dst else end
            elif not line.strip() or not line[0].isdigit():
                table = line.startswith("-") or re.match(r"\d+\s+\.\.\.", line) is not None
    return hops, end


def read_output(tool, out, dst):
    if tool == "tcppath":
        return read_tcppath(out, dst)
    if tool == "tcptraceroute":
        return (*read_numbered(out, dst, ("!A", "!X", "!C", "!H", "!N", "!P", "!S")), [])
    if tool == "traceroute -T":
        return (*read_numbered(out, dst, ("!X", "!H", "!N", "!P", "!S")), [])
    if tool == "mtr --tcp":
        return (*read_mtr(out, dst), [])
    return (*read_nmap(out, dst), [])


# ---------------------------------------------------------------- scoring against the lab

def score(case, L, family, hops, end, changes):
    routers = L.router_v4 if family == 4 else L.router_v6
    dst = L.server_v4 if family == 4 else L.server_v6
    stops_at_r2 = case in ("drop", "reject")
    want = routers[:2] if stops_at_r2 else routers
    found = sum(1 for k, r in enumerate(want, 1) if hops.get(k) == r)
    total = len(want) if stops_at_r2 else len(want) + 1
    if not stops_at_r2:
        found += 1 if hops.get(len(routers) + 1) == dst else 0
    answered = [k for k, a in hops.items() if a]
    last = max(answered) if answered else 0
    if stops_at_r2 and case == "drop":
        stop_right = end is None and last == 2
    elif case == "reject":
        stop_right = end == "rejected" and hops.get(last) == routers[1]
    else:
        stop_right = end == "reached"
    expected = MIDDLEBOX_CHANGES if case == "middlebox" else ()
    right = [c for c, where in changes if where == "between hop 2 and hop 3" and c.startswith(expected)]
    right_kinds = sum(1 for e in expected if any(c.startswith(e) for c in right))
    return {"hops": found, "hops_of": total, "stop_right": stop_right,
            "changes": right_kinds, "changes_of": len(expected),
            "changes_other": [c for c, _ in changes if c not in right]}


def run_case(case, tool, family, build):
    L = build_lab(case, family)
    try:
        argv = command(tool, L, family)
        if argv is None:
            return None
        t0 = time.monotonic()
        r = L.run_client(argv, timeout=TOOL_TIMEOUT_S)
        wall = time.monotonic() - t0
        dst = L.server_v4 if family == 4 else L.server_v6
        hops, end, changes = read_output(tool, r.stdout, dst)
        row = score(case, L, family, hops, end, changes)
        row.update({"case": case, "tool": tool, "family": f"IPv{family}", "wall_s": round(wall, 2),
                    "exit": r.returncode})
        return row
    finally:
        L.close()


def table(rows):
    print("| family | case | tool | hops | stop right | changes named (right pair) | wall s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        other = r["changes_other"]
        changes = f"{r['changes']}/{r['changes_of']}" + (f" (also: {'; '.join(other)})" if other else "")
        print(f"| {r['family']} | {r['case']} | {r['tool']} | {r['hops']}/{r['hops_of']} | "
              f"{'yes' if r['stop_right'] else '**no**'} | {changes} | {r['wall_s']:.2f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--family", choices=("4", "6", "both"), default="both")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--json", action="store_true", help="one JSON object per row instead of the table")
    try:
        a = ap.parse_args()
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    cases = [c for c in a.cases.split(",") if c]
    if any(c not in CASES for c in cases):
        print(f"tcppath_bench: cases are {', '.join(CASES)}", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("tcppath_bench: needs root (network namespaces)", file=sys.stderr)
        return 3
    missing = [p for p in PEER_PROGRAMS.values() if not shutil.which(p)]
    if missing:
        print(f"tcppath_bench: not installed: {', '.join(missing)} (./run bench installs them)", file=sys.stderr)
        return 4
    os.environ["TCPKIT_BUILD"] = os.path.abspath(a.build)
    families = (4, 6) if a.family == "both" else (int(a.family),)
    rows = []
    try:
        for family in families:
            for case in cases:
                for tool in TOOLS:
                    row = run_case(case, tool, family, a.build)
                    if row is None:
                        continue
                    rows.append(row)
                    if a.json:
                        print(json.dumps(row), flush=True)
    except lab.LabError as e:
        print(f"tcppath_bench: lab failure: {e}", file=sys.stderr)
        return 4
    if not a.json:
        table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
