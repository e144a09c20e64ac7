"""Messages every tool shares: a mistyped flag names the nearest real one (one line, exit 2),
and counts agree with their nouns ("1 probe sent", "1 socket", never "1 probes")."""
import os
import subprocess

import pytest

BUILD = os.environ.get("TCPKIT_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
TOOLS = ["tcpprobe", "tcpscan", "tcpstate", "tcpstray", "tcppath"]


def run(tool, *args, input=None):
    path = os.path.join(BUILD, "tools", tool)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is not built", pytrace=False)
    return subprocess.run([path, *args], capture_output=True, text=True, input=input, timeout=60)


@pytest.mark.parametrize("tool,typo,meant", [
    ("tcpprobe", "--cout", "--count"),
    ("tcpprobe", "--intreval", "--interval"),
    ("tcpscan", "--max-rtae=80", "--max-rate"),
    ("tcpscan", "--reasno", "--reason"),
    ("tcpstate", "--cout", "--count"),
    ("tcpstate", "--summray", "--summary"),
    ("tcpstray", "--closed-prot", "--closed-port"),
    ("tcpstray", "--jsno", "--json"),
])
def test_a_typo_suggests_the_nearest_flag(tool, typo, meant):
    # A value after the typo ("--cout 3") and a missing operand must not hide the typo.
    for args in ([typo, "3", "192.0.2.1:80"], [typo], [typo + "=1", "192.0.2.1"]):
        r = run(tool, *args)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.splitlines()
        assert len(lines) == 1, r.stderr
        name = typo.split("=")[0]
        assert f"unknown option {name}; did you mean {meant}?" in lines[0], (args, r.stderr)
        assert r.stdout == ""


@pytest.mark.parametrize("tool", TOOLS)
def test_an_unknown_flag_far_from_any_is_named_without_a_guess(tool):
    r = run(tool, "--xyzzy-frobnicate", "192.0.2.1:80")
    assert r.returncode == 2
    assert r.stderr.splitlines() == [f"{tool}: unknown option --xyzzy-frobnicate (see --help)"]


def test_tcpprobe_one_probe_is_singular():
    # Loopback, a closed port: one SYN and its RST, nothing leaves the machine.
    r = run("tcpprobe", "-c", "1", "-W", "0.5", "127.0.0.1:1")
    assert "1 probe sent, 1 answered" in r.stdout, r.stdout + r.stderr
    assert "probes sent" not in r.stdout


SS_ONE_EACH = ("State Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
               "TIME-WAIT 0 0 10.0.0.1:40000 10.0.0.2:80\n"
               "CLOSE-WAIT 0 0 10.0.0.1:80 10.0.0.3:5000\n"
               "SYN-RECV 0 0 10.0.0.1:80 10.0.0.4:5001\n"
               "LISTEN 0 128 10.0.0.1:80 0.0.0.0:*\n")


def test_tcpstate_reports_count_one_in_the_singular():
    r = run("tcpstate", "time-wait", "--from", "-", input=SS_ONE_EACH)
    assert "TIME_WAIT: 1 socket in 1 group " in r.stdout, r.stdout
    r = run("tcpstate", "close-wait", "--from", "-", input=SS_ONE_EACH)
    assert "CLOSE_WAIT: 1 socket " in r.stdout, r.stdout
    r = run("tcpstate", "syn-flood", "--from", "-", input=SS_ONE_EACH)
    assert "from 1 source in 1 network " in r.stdout, r.stdout
    r = run("tcpstate", "--from", "-", input="State Recv-Q\nbogus line here\n")
    assert "from 1 malformed line" in r.stderr and "lines" not in r.stderr, r.stderr


@pytest.mark.parametrize("tool", TOOLS)
def test_a_closed_stdout_is_named_before_anything_runs(tool):
    # Found: with stdout closed (>&-) the tool's own netlink socket or eventfd took fd 1, the
    # results were written into it, and the error read "Invalid argument". tcpstate lists the
    # sockets of this namespace; the others fail on their first line, before any packet.
    path = os.path.join(BUILD, "tools", tool)
    args = ["--summary"] if tool == "tcpstate" else ["--help"]
    r = subprocess.run([path, *args], stdout=None, stderr=subprocess.PIPE, text=True, timeout=60,
                       preexec_fn=lambda: os.close(1))
    assert r.returncode == 4, r.stderr
    assert r.stderr == f"{tool}: cannot write standard output: Bad file descriptor\n", r.stderr


def test_a_closed_stderr_leaves_the_output_alone():
    # A closed stderr is filled with /dev/null: no socket of ours takes its number.
    path = os.path.join(BUILD, "tools", "tcpstate")
    r = subprocess.run([path, "--summary"], stdout=subprocess.PIPE, text=True, timeout=60,
                       preexec_fn=lambda: os.close(2))
    assert r.returncode == 0 and "TOTAL" in r.stdout.upper(), r.stdout


@pytest.mark.parametrize("tool,args", [
    ("tcpprobe", ["-I", "", "-c", "1", "127.0.0.1:9"]),
    ("tcpscan", ["-I", "", "-p", "9", "127.0.0.1"]),
    ("tcppath", ["-I", "", "127.0.0.1:9"]),
    ("tcpstray", ["-I", "", "--case", "closed-syn", "127.0.0.1:9"]),
    ("tcpstate", ["--netns", ""]),
    ("tcpstate", ["--save-netlink", ""]),
])
def test_an_empty_name_is_bad_input_not_the_option_left_out(tool, args):
    # Found: an unset variable (--netns "$NS", -I "$IF") was read as no option: tcpstate checked
    # the caller's own namespace and passed, the probes left by the routing table. (Loopback
    # targets: should a tool go on regardless, nothing leaves the host.)
    r = run(tool, *args)
    assert r.returncode == 2 and r.stdout == "", (r.returncode, r.stdout[:200], r.stderr)
    name = "--netns" if "--netns" in args else "--save-netlink" if "--save-netlink" in args else "--interface"
    assert r.stderr == f"{tool}: {name}: an empty value (see --help)\n", r.stderr
