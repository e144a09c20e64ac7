"""tcppath's command line: help, version, bad input (exit 2, one line), privilege (exit 3)."""
import pytest

from tools import one_error_line, run, tool

TCPPATH = tool("tcppath")


def test_help_lists_every_flag_and_exits_0():
    r = run([TCPPATH, "--help"])
    assert r.returncode == 0, r.stderr
    for flag in ["--port", "--max-hops", "--queries", "--wait", "--source", "--interface", "-4", "-6", "--json", "--flows", "--numeric", "--options", "--ecn", "--router-burst",
                 "TARGET", "Exit status"]:
        assert flag in r.stdout, flag


def test_version():
    r = run([TCPPATH, "--version"])
    assert r.returncode == 0 and "tcppath" in r.stdout


@pytest.mark.parametrize("args,says", [
    ([], "target is required"),
    (["192.0.2.1:0"], "out of range"),
    (["192.0.2.1:99999"], "out of range"),
    (["[2001:db8::1:80"], "2001:db8::1:80"),
    (["-m", "0", "192.0.2.1:80"], "--max-hops"),
    (["-m", "65", "192.0.2.1:80"], "--max-hops"),
    (["-q", "7", "192.0.2.1:80"], "--queries"),
    (["--flows", "0", "192.0.2.1:80"], "--flows"),
    (["--options", "mss=70000", "192.0.2.1:80"], "--options"),
    (["--options", "bogus", "192.0.2.1:80"], "--options"),
    (["--flows", "17", "192.0.2.1:80"], "--flows"),
    (["--router-burst", "0", "192.0.2.1:80"], "--router-burst"),
    (["-q", "x", "192.0.2.1:80"], "--queries"),
    (["-W", "0", "192.0.2.1:80"], "--wait"),
    (["-W", "soon", "192.0.2.1:80"], "--wait"),
    (["-p", "nosuchservice", "192.0.2.1"], "--port"),
    (["-S", "not-an-address", "192.0.2.1:80"], "--source"),
    (["-4", "-6", "192.0.2.1:80"], "-4"),
    (["192.0.2.1:80", "192.0.2.2:80"], ""),
    (["-4", "[2001:db8::1]:80"], "2001:db8::1"),
    (["-6", "192.0.2.1:80"], "192.0.2.1"),
])
def test_bad_input_is_one_line_and_exit_2(args, says):
    # Nothing is sent: every case fails before a socket is opened (2001:db8:: is documentation space).
    line = one_error_line(run([TCPPATH, *args]), "tcppath")
    assert says in line, line


def test_without_cap_net_raw_exit_3_names_the_setcap_line():
    r = run([TCPPATH, "127.0.0.1:80"], drop_net_raw=True)
    assert r.returncode == 3, r.stderr
    assert "setcap cap_net_raw+ep" in r.stderr
    assert r.stdout == ""
