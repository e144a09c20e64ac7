"""A resolver that fails is an environment failure (exit 4); a name that does not exist is bad
input (exit 2). Both are made without the network: each run is in a fresh network namespace
(only lo) and mount namespace, where resolv.conf names 127.0.0.1 (nothing listens: EAI_AGAIN)
or nsswitch.conf asks only /etc/hosts (EAI_NONAME). No packet can leave the machine."""
import os
import shutil

import pytest

from tools import run, tool

NAME = "tcpkit-resolver-test.example"

CASES = [
    ("tcpprobe", ["-c", "1", "-W", "1", NAME + ":80"]),
    ("tcpprobe", ["--trace", NAME + ":80"]),
    ("tcpscan", ["-p", "80", NAME]),
    ("tcpstray", [NAME + ":80"]),
]


def _can_unshare():
    return os.geteuid() == 0 and shutil.which("unshare") is not None


needs_root = pytest.mark.skipif(not _can_unshare() and os.environ.get("CI") != "true",
                                reason="needs root for unshare -n -m")


def _in_private_namespaces(tmp_path, file_name, text, argv):
    """Runs argv in new net+mount namespaces with /etc/<file_name> replaced by text."""
    replacement = tmp_path / file_name
    replacement.write_text(text)
    script = ('mount --bind "$1" /etc/' + file_name + ' && ip link set lo up && shift && exec "$@"')
    return run(["unshare", "--net", "--mount", "--", "sh", "-c", script, "sh", str(replacement)] + argv,
               timeout=60)


@needs_root
@pytest.mark.parametrize("name,args", CASES)
def test_resolver_outage_is_a_system_failure(tmp_path, name, args):
    r = _in_private_namespaces(tmp_path, "resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
                               [tool(name)] + args)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 4, (r.returncode, r.stderr)
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(name + ": cannot resolve '" + NAME + "'"), lines[0]
    assert "Temporary failure" in lines[0]


@needs_root
@pytest.mark.parametrize("name,args", CASES)
def test_unknown_name_is_still_bad_input(tmp_path, name, args):
    r = _in_private_namespaces(tmp_path, "nsswitch.conf", "hosts: files\n", [tool(name)] + args)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(name + ": cannot resolve '" + NAME + "'"), lines[0]


NUMERIC = ["256.1.1.1", "10.1.2", "010.0.0.1", "0x7f.0.0.1"]


@needs_root
@pytest.mark.parametrize("text", NUMERIC)
@pytest.mark.parametrize("name", ["tcpprobe", "tcpscan", "tcpstray"])
def test_almost_an_address_is_bad_input_not_a_lookup(tmp_path, name, text):
    # With the resolver down, a lookup would give exit 4; inet_aton's reading (10.1.2 is
    # 10.1.0.2) would probe another host. Neither may happen: exit 2, the reason named.
    args = {"tcpprobe": ["-c", "1", "-W", "1", text + ":80"], "tcpscan": ["-p", "80", text],
            "tcpstray": [text + ":80"]}[name]
    r = _in_private_namespaces(tmp_path, "resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
                               [tool(name)] + args)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, (r.returncode, r.stderr, r.stdout)
    assert len(lines) == 1, r.stderr
    assert f"'{text}' is not an IPv4 address: " in lines[0], lines[0]
