"""tcpprobe's command line: help, bad input (exit 2, one line), privilege (exit 3)."""
import json

import pytest

from tools import one_error_line, run, tool

TCPPROBE = tool("tcpprobe")


def test_help_lists_every_flag_and_exits_0():
    r = run([TCPPROBE, "--help"])
    assert r.returncode == 0
    for flag in ["--mode", "--count", "--interval", "--timeout", "--deadline", "--port", "--source-port",
                 "--source", "--interface", "-4", "-6", "--ttl", "--timestamp", "--quiet", "--json", "--csv"]:
        assert flag in r.stdout, flag


def test_version():
    r = run([TCPPROBE, "--version"])
    assert r.returncode == 0 and "tcpprobe" in r.stdout


@pytest.mark.parametrize("argv,needle", [
    ([], "required"),
    (["--bogus", "127.0.0.1"], "bogus"),
    (["-c", "0", "127.0.0.1"], "count"),
    (["-c", "x", "127.0.0.1"], "count"),
    (["-i", "-1", "127.0.0.1"], "duration"),
    (["-i", "1parsec", "127.0.0.1"], "unit"),
    (["-i", "1us", "127.0.0.1"], "too short"),
    (["-W", "0", "127.0.0.1"], "timeout"),
    (["-w", "abc", "127.0.0.1"], "duration"),
    (["-p", "0", "127.0.0.1"], "port"),
    (["-p", "70000", "127.0.0.1"], "port"),
    (["-p", "nosuchservice", "127.0.0.1"], "service"),
    (["-s", "65536", "127.0.0.1"], "port"),
    (["-S", "not-an-ip", "127.0.0.1"], "source"),
    (["-4", "-6", "127.0.0.1"], "exclude"),
    (["--json", "--csv", "127.0.0.1"], "exclude"),
    (["--ttl", "0", "127.0.0.1"], "ttl"),
    (["--ttl", "256", "127.0.0.1"], "ttl"),
    (["-m", "warp", "127.0.0.1"], "mode"),
    (["127.0.0.1:0"], "out of range"),
    (["127.0.0.1:99999"], "out of range"),
    (["[::1"], "]"),
    (["host name"], "white space"),
    (["no-such-host.invalid"], "cannot resolve"),
    (["-6", "127.0.0.1"], "IPv4"),
    (["-4", "::1"], "IPv6"),
    (["-6", "[::ffff:127.0.0.1]:1"], "IPv4-mapped"),  # it is 127.0.0.1 (test_tcpprobe.py probes one)
    (["-S", "::1", "127.0.0.1"], "famil"),
    (["-I", "nosuchif0", "127.0.0.1"], "interface"),
])
def test_bad_input_exits_2_with_one_line(argv, needle):
    r = run([TCPPROBE, "-c", "1"] + argv if argv and argv[0] != "-c" else [TCPPROBE] + argv)
    line = one_error_line(r, "tcpprobe")
    assert needle.lower() in line.lower(), line
    assert r.stdout == ""


def test_syn_mode_without_cap_net_raw_exits_3_and_names_setcap():
    r = run([TCPPROBE, "-m", "syn", "-c", "1", "127.0.0.1:1"], drop_net_raw=True)
    assert r.returncode == 3, r.stderr
    assert "CAP_NET_RAW" in r.stderr and "setcap cap_net_raw+ep" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_auto_mode_without_cap_net_raw_falls_back_to_connect_and_says_so():
    # Loopback, a port nobody listens on: the kernel answers RST at once.
    r = run([TCPPROBE, "-c", "1", "-W", "1", "--json", "127.0.0.1:1"], drop_net_raw=True)
    assert "falling back to connect() mode" in r.stderr
    assert r.returncode == 1  # closed is not open
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert lines[0]["type"] == "probe" and lines[0]["mode"] == "connect"
    assert lines[0]["outcome"] == "closed"
    assert lines[-1]["type"] == "summary" and lines[-1]["closed"] == 1


@pytest.mark.parametrize("argv,needle", [
    (["--close", "peer", "127.0.0.1"], "--trace"),
    (["--send", "x", "127.0.0.1"], "--trace"),
    (["--absolute", "127.0.0.1"], "--trace"),
    (["--trace", "127.0.0.1:1", "127.0.0.1:2"], "one target"),
    (["--trace", "-c", "3", "127.0.0.1"], "do not apply"),
    (["--trace", "--close", "sideways", "127.0.0.1"], "close"),
    (["--trace", "--close-wait", "soon", "127.0.0.1"], "duration"),
    (["--trace", "--ttl", "1", "127.0.0.1"], "tcppath"),  # was silently ignored
])
def test_trace_flags_misused_exit_2(argv, needle):
    line = one_error_line(run([TCPPROBE] + argv), "tcpprobe")
    assert needle.lower() in line.lower(), line


def test_trace_without_cap_net_raw_exits_3():
    r = run([TCPPROBE, "--trace", "127.0.0.1:1"], drop_net_raw=True)
    assert r.returncode == 3 and "setcap" in r.stderr


@pytest.mark.parametrize("mode", ["syn", "connect"])
def test_a_source_that_is_not_ours_is_bad_input_before_any_output(mode):
    # It printed the header and the statistics on stdout, then exited 4 (a system failure).
    r = run([TCPPROBE, "-m", mode, "-c", "1", "-S", "192.0.2.123", "127.0.0.1:1"])
    line = one_error_line(r, "tcpprobe")
    assert "192.0.2.123 is not an address of this host" in line, line
    assert r.stdout == "", r.stdout
