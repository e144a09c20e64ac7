"""Issue 13's bad-input matrix: malformed command lines and input files for the four tools,
generated from each flag's grammar. Every case must end with exit 2 and exactly one line on
stderr that names the offending value (or, for a missing value, the flag): never a crash, a
hang or a stack trace.

Safety: every case fails while parsing, before anything is sent; the targets are loopback or
documentation addresses, and as root each run also sits in a fresh, empty network namespace
(`unshare --net`), so even a case that wrongly parsed could not reach any other host."""
import os
import shutil

import pytest

from tools import run, tool

TIMEOUT = 10

# Values that are bad for every kind of flag.
JUNK = "\x01\x02\x7f\xc3\x28\xff%$#@!"  # binary junk without NUL (argv cannot hold one)
LONG = "9" * 65536                      # 64 KiB
OVER_U64 = str(2 ** 64)
COMMON = ["", JUNK, LONG, "1e400", OVER_U64 + "x"]

# Bad values per grammar kind.
KINDS = {
    "duration": COMMON + ["-1", "10x", "5h", "1.2.3", "abc", "2d", OVER_U64, "100000"],
    "positive_duration": ["0", "0ms"],  # on top of "duration": zero is not a timeout
    "count": COMMON + ["-1", "0", "10x", "1.5", OVER_U64, "abc"],
    "port": COMMON + ["-1", "0", "65536", "80x", OVER_U64, "no-such-service-xyz"],
    "port_list": COMMON + ["0", "65536", "100-10", "1-", "80x", "22,,80", "ssh-http", OVER_U64],
    "port_range": COMMON + ["65536", "2048-1024", "80x", "1-70000", OVER_U64],
    "rate": COMMON + ["0", "-5", "10x", "nan", "inf", "2e7", OVER_U64 + "0" * 10],
    "address": COMMON + ["256.1.1.1", "1.2.3", "::g", "127.0.0.1/8", "1.2.3.4.5"],
    "cidr": COMMON + ["10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/x", "10.0.0.0/"],
    "u64": ["", JUNK, "-1", "1x", OVER_U64, "1e400", LONG],
    "retries": ["", JUNK, "-1", "21", "x", OVER_U64, LONG],
    "shard": ["", JUNK, "0/4", "5/4", "1/0", "1-4", "x", OVER_U64 + "/2", LONG],
    "scan_flags": ["", JUNK, "syn,bogus", "sin", "0x1000", LONG],
}


def enum(*good):
    """Bad words for an enum whose good words are `good`."""
    return ["bogus-word", good[0].upper() + "x", JUNK, LONG]


# Per tool: the arguments every case adds (a target that is never reached), and the flags
# with their grammar. A flag with an "exclusive" list does not combine with those base args.
TOOLS = {
    "tcpprobe": {
        "base": ["127.0.0.1:1"],
        "flags": {
            "-c,--count": ["count"], "-i,--interval": ["duration"],
            "-W,--timeout": ["duration", "positive_duration"], "-w,--deadline": ["duration", "positive_duration"],
            "-p,--port": ["port"], "-s,--source-port": ["port"], "-S,--source": ["address"],
            "--ttl": [["", "0", "256", "-1", "10x", OVER_U64, JUNK]], "-m,--mode": [enum("auto", "syn", "connect")],
        },
        "trace_flags": {  # only with --trace
            "--close": [enum("local", "peer", "reset")], "--close-wait": ["duration"],
        },
    },
    "tcpscan": {
        "base": ["--dry-run", "127.0.0.1"],
        "flags": {
            "-p,--ports": ["port_list"], "--rate": ["rate"], "--min-rate": ["rate"], "--retries": ["retries"],
            "--max-retries": ["retries"],
            "--wait": ["duration"], "--seed": ["u64"], "-g,--source-port": ["port"], "-S,--source": ["address"],
            "--flags": ["scan_flags"], "--shard": ["shard"],
            "--send-threads": [["", "0", "17", "-1", "2x", OVER_U64, JUNK]],
            "--exclude": [["10.0.0.0/33", "10.0.0.9-1", JUNK, "127.0.0.1/-1"]],
        },
    },
    "tcpstray": {
        "base": ["127.0.0.1:1"],
        "flags": {
            "--closed-port": ["port"], "-W,--timeout": ["duration", "positive_duration"],
            "--case": [enum("fin-closed")], "--group": [enum("closed", "listen", "live", "time-wait")],
            "--request": [["abc\\q", "trailing\\"]],
        },
    },
    "tcpstate": {
        "base": [],
        "flags": {
            "--sport": ["port_list", "port_range"], "--dport": ["port_list", "port_range"], "--src": ["cidr"], "--dst": ["cidr"],
            "--state": [enum("established"), ["", "established,,listen", "established,"]], "--top": ["count"], "--explain": [["bogus-state", JUNK]],
            "--by": [enum("peer")], "--source": [enum("netlink", "proc")],
            "--max": [["", "time-wait", "time-wait=", "time-wait=x", "bogus=5", "time-wait=-1", "=5", JUNK]],
            "--watch": ["duration"], "--count": ["count"], "--from-state": [enum("time-wait")],
            "--interval": ["duration"], "--flood-threshold": ["count"],
        },
    },
}

# Flags that are only checked with another one: the case adds it, so that the value, not the
# combination, is what fails.
WITH = {("tcpstate", "--count"): ["--watch", "1"], ("tcpstate", "--from-state"): ["--from", "/dev/null"]}

# Drops: values the grammar documents as valid (so they are not bad input).
#  - tcpscan -p (and tcpstate --sport/--dport, the same parser) "1-" is 1-65535 (tcpscan(1):
#    "60000-" is 60000-65535); "ssh-http" is 22-80.
# Left out on purpose: dotted all-digit names such as 256.1.1.1 are syntactically host names;
# they go to the resolver (a system failure when it fails), which would send a DNS query.
NOT_BAD = {(name, flag, v) for name, flag in [("tcpscan", "-p,--ports"), ("tcpstate", "--sport"), ("tcpstate", "--dport")]
           for v in ["1-", "ssh-http"]}


def values_of(spec):
    out = []
    for kind in spec:
        out += KINDS[kind] if isinstance(kind, str) else kind
    return list(dict.fromkeys(out))


def flag_cases():
    cases = []
    for name, t in TOOLS.items():
        for names, spec in t["flags"].items():
            flag = names.split(",")[0]
            base = t["base"] + WITH.get((name, flag), [])
            for v in values_of(spec):
                if (name, names, v) not in NOT_BAD:
                    cases.append((name, base + [flag, v], v))
            cases.append((name, t["base"] + [flag], None))  # missing value: the flag comes last
        for flag, spec in t.get("trace_flags", {}).items():
            for v in values_of(spec):
                cases.append((name, ["--trace", flag, v] + t["base"], v))
    # Positional values.
    for v in ["127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:80x", "[::1:80", "[::1]:", JUNK, "127.0.0.1:" + LONG]:
        cases.append(("tcpprobe", ["-c", "1", v], v))
        cases.append(("tcpstray", [v], v))
    for v in ["10.0.0.0/33", "192.0.2.9-1", "192.0.2.1-256", "127.0.0.1/-1", "[::1", JUNK, "198.51.100.0/x"]:
        cases.append(("tcpscan", ["--dry-run", v], v))
    for v in ["bogus-report", "LISTx", JUNK]:
        cases.append(("tcpstate", [v], v))
    for flag in ["--from", "--from-ss", "--from-netstat", "--explain"]:  # an empty name is no name
        cases.append(("tcpstate", [flag, ""], ""))
    return cases


CASES = flag_cases()
# (tool, the flag a case uses) -> all its names, for messages that use the long one.
FLAG_NAMES = {(name, names.split(",")[0]): names.split(",")
              for name, t in TOOLS.items() for names in list(t["flags"]) + list(t.get("trace_flags", {}))}


def case_id(case):
    name, argv, _ = case
    text = " ".join(a if len(a) < 24 else a[:8] + f"..({len(a)})" for a in argv)
    return f"{name} {text}".encode("ascii", "backslashreplace").decode()


def check(name, argv, offending):
    cmd = [tool(name)] + argv
    if os.geteuid() == 0 and shutil.which("unshare"):
        cmd = ["unshare", "--net", "--"] + cmd
    r = run(cmd, timeout=TIMEOUT, errors="surrogateescape")
    lines = r.stderr.strip("\n").split("\n") if r.stderr.strip("\n") else []
    shown = r.stderr[:400]
    assert r.returncode == 2, (r.returncode, shown)
    assert len(lines) == 1, shown
    assert lines[0].startswith(name + ":"), shown
    assert "Traceback" not in r.stderr and "terminate called" not in r.stderr
    # An empty value (or a missing one: offending is None): the line must name the flag, by
    # any of its names (the short one the case used, or the long one).
    if not offending:
        flag = argv[-1] if offending is None else argv[argv.index("") - 1]
        assert any(n in lines[0] for n in FLAG_NAMES.get((name, flag), [flag])), shown
    else:
        assert offending in lines[0], shown


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_a_malformed_value_is_named_in_one_line(case):
    check(*case)


# Input files: -iL and --exclude-file of tcpscan, --from / --from-ss / --from-netstat of tcpstate.
def file_cases(tmp):
    def make(name, data):
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    missing = os.path.join(tmp, "does-not-exist")
    binary = make("binary", bytes(range(1, 256)) * 64)
    bad_targets = make("bad-targets", b"127.0.0.1\n10.0.0.0/33\n")
    bad_ss = make("bad-ss", b"State Recv-Q Send-Q Local Address:Port Peer Address:Port\nBOGUS 0 0 x y\n")
    cases = []
    for path in [missing, tmp, binary, bad_targets]:
        cases.append(("tcpscan", ["--dry-run", "-iL", path], path if path != bad_targets else "10.0.0.0/33"))
        cases.append(("tcpscan", ["--dry-run", "127.0.0.1", "--exclude-file", path],
                      path if path != bad_targets else "10.0.0.0/33"))
    for flag in ["--from", "--from-ss", "--from-netstat"]:
        for path in [missing, tmp, binary]:
            cases.append(("tcpstate", [flag, path], path))
    cases.append(("tcpstate", ["--from-ss", bad_ss], "BOGUS"))
    cases.append(("tcpstate", ["--from", bad_ss], "BOGUS"))
    return cases


FILE_CASE_IDS = ([f"tcpscan {flag} {kind}" for kind in ["missing", "directory", "binary", "bad-target"]
                  for flag in ["-iL", "--exclude-file"]]
                 + [f"tcpstate {flag} {kind}" for flag in ["--from", "--from-ss", "--from-netstat"]
                    for kind in ["missing", "directory", "binary"]]
                 + ["tcpstate --from-ss bad-state", "tcpstate --from bad-state"])
FILE_CASE_COUNT = len(FILE_CASE_IDS)  # as file_cases() builds them, in its order


@pytest.mark.parametrize("index", range(FILE_CASE_COUNT), ids=FILE_CASE_IDS)
def test_a_bad_input_file_is_named_in_one_line(tmp_path, index):
    cases = file_cases(str(tmp_path))
    assert len(cases) == FILE_CASE_COUNT
    check(*cases[index])


def test_the_matrix_has_at_least_200_cases():
    assert len(CASES) + FILE_CASE_COUNT >= 200, len(CASES) + FILE_CASE_COUNT
