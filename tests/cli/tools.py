"""Helpers for the cli tests: where the built tools are, and how to run them."""
import os
import shutil
import subprocess

BUILD = os.environ.get("TCPKIT_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))


def tool(name):
    path = os.path.join(BUILD, "tools", name)
    assert os.path.exists(path), f"{path} is not built"
    return path


def run(argv, timeout=30, drop_net_raw=False, **kw):
    """Runs argv; with drop_net_raw the process has no CAP_NET_RAW, whoever we are."""
    if drop_net_raw and os.geteuid() == 0:
        assert shutil.which("setpriv"), "setpriv (util-linux) is needed"
        argv = ["setpriv", "--inh-caps", "-net_raw", "--bounding-set", "-net_raw", "--"] + argv
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)


def one_error_line(result, tool_name):
    """Bad input: exit 2, nothing on stdout, exactly one line on stderr naming the tool."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(tool_name + ":"), lines[0]
    assert "Traceback" not in result.stderr and "terminate" not in result.stderr
    return lines[0]
