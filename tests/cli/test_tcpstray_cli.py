"""tcpstray's command line: help, --list, bad input (exit 2, one line), privilege (exit 3)."""
import csv
import io
import json

import pytest

from tools import one_error_line, run, tool

TCPSTRAY = tool("tcpstray")
CASES = ["closed-fin", "closed-ack", "closed-null", "closed-xmas", "closed-syn-fin", "closed-rst",
         "listen-fin", "listen-null", "listen-xmas", "listen-ack", "listen-rst",
         "live-rst-exact", "live-rst-in-window", "live-rst-out-of-window", "live-syn",
         "live-ack-unsent", "live-data-old", "live-fin-exact", "live-fin-out-of-window",
         "tw-fin-retransmit", "tw-rst", "tw-syn"]


def test_help_lists_every_flag_and_exits_0():
    r = run([TCPSTRAY, "--help"])
    assert r.returncode == 0, r.stderr
    for flag in ["--list", "--case", "--group", "--closed-port", "--timeout", "-W", "--request", "--interface",
                 "-4", "-6", "--json", "--csv", "--verbose", "TARGET"]:
        assert flag in r.stdout, flag
    assert "Exit status" in r.stdout


def test_version():
    r = run([TCPSTRAY, "--version"])
    assert r.returncode == 0 and "tcpstray" in r.stdout


def test_list_prints_the_whole_catalogue_without_privilege():
    r = run([TCPSTRAY, "--list"], drop_net_raw=True)
    assert r.returncode == 0, r.stderr
    for name in CASES:
        assert name in r.stdout, name
    assert "RFC 5961" in r.stdout and "RFC 1337" in r.stdout


def test_list_json_has_one_object_per_case():
    r = run([TCPSTRAY, "--list", "--json"])
    assert r.returncode == 0, r.stderr
    objects = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["case"] for o in objects] == CASES
    for o in objects:
        assert o["type"] == "catalogue"
        assert o["group"] in ("closed", "listen", "live", "time-wait")
        assert o["expected"] and o["sent"] and o["purpose"] and o["rfc"].startswith("RFC")


def test_list_csv_has_a_header_row():
    r = run([TCPSTRAY, "--list", "--csv"])
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert r.returncode == 0
    assert [row["case"] for row in rows] == CASES


@pytest.mark.parametrize("argv,needle", [
    ([], "TARGET"),
    (["--bogus", "127.0.0.1:80"], "bogus"),
    (["127.0.0.1"], "port"),
    (["127.0.0.1:0"], "out of range"),
    (["127.0.0.1:99999"], "out of range"),
    (["[::1"], "]"),
    (["no-such-host.invalid:80"], "cannot resolve"),
    (["--case", "closed-nope", "127.0.0.1:80"], "unknown case"),
    (["--group", "established", "127.0.0.1:80"], "unknown group"),
    (["--closed-port", "0", "127.0.0.1:80"], "closed-port"),
    (["--closed-port", "x", "127.0.0.1:80"], "closed-port"),
    (["-W", "0", "127.0.0.1:80"], "timeout"),
    (["-W", "soon", "127.0.0.1:80"], "duration"),
    (["-4", "-6", "127.0.0.1:80"], "exclude"),
    (["--json", "--csv", "127.0.0.1:80"], "exclude"),
    (["-6", "127.0.0.1:80"], "IPv4"),
    (["--request", "abc\\", "127.0.0.1:80"], "backslash"),
    (["--request", "\\q", "127.0.0.1:80"], "escape"),
    (["--list", "127.0.0.1:80"], "TARGET"),
    (["-I", "nosuchif0", "--group", "closed", "127.0.0.1:80"], "interface"),
    (["[fe80::1%lo]:80"], "link-local"),
    (["[fe80::1]:80"], "link-local"),  # no zone: names no host at all
    (["--group", "closed", "-I", "lo", "[fe80::1]:80"], "link-local"),
])
def test_bad_input_exits_2_with_one_line(argv, needle):
    r = run([TCPSTRAY] + argv)
    line = one_error_line(r, "tcpstray")
    assert needle.lower() in line.lower(), line
    assert r.stdout == ""


def test_without_cap_net_raw_exits_3_and_names_setcap():
    r = run([TCPSTRAY, "--group", "closed", "127.0.0.1:1"], drop_net_raw=True)
    assert r.returncode == 3, r.stderr
    assert "CAP_NET_RAW" in r.stderr and "setcap cap_net_raw+ep" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert r.stdout == ""
