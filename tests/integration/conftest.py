"""Fixtures for the integration tests: the lab, and the root/CI rule.

Rule: these tests need root. Without it they are skipped with a reason, except under CI=true,
where they fail: CI runs as root, so a skip there would hide a broken setup. A missing built
binary always fails (never skips).
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
import lab as lab_module  # noqa: E402  (needs the path above)


@pytest.fixture(autouse=True)
def _root_rule():
    lab_module.require_root()


@pytest.fixture
def build_dir():
    return lab_module.build_dir()


@pytest.fixture
def tool(build_dir):
    """tool("tcpprobe") -> path of the built tool; fails the test if it is not built."""
    def find(name):
        path = os.path.join(build_dir, "tools", name)
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} is not built: build the project first (or set TCPKIT_BUILD)",
                        pytrace=False)
        return path
    return find


class _LabFactory:
    """Calling it makes a Lab: factory(delay_ms=20) -> Lab. Reading an attribute uses one
    default direct-pair Lab made on first use, so `lab.client_ns` works as well."""

    def __init__(self):
        self.labs = []
        self._default = None

    def __call__(self, **kw):
        try:
            new = lab_module.Lab(**kw)
        except FileNotFoundError as e:  # a lab program is not built: fail, never skip
            pytest.fail(str(e), pytrace=False)
        self.labs.append(new)
        return new

    def __getattr__(self, name):
        if name.startswith("_") or name == "labs":
            raise AttributeError(name)
        if self._default is None:
            self._default = self()
        return getattr(self._default, name)

    def close_all(self):
        for each in reversed(self.labs):
            each.close()


@pytest.fixture
def make_lab():
    """make_lab(delay_ms=None, loss=0.0, seed=1, ipv6=True) -> Lab; all closed at teardown."""
    factory = _LabFactory()
    yield factory
    factory.close_all()


@pytest.fixture
def lab(make_lab):
    """Same factory as make_lab; also usable directly as a default direct-pair Lab."""
    return make_lab


@pytest.fixture(scope="module")
def served_lab():
    """One IPv4 lab for a whole test file, with a server that never closes on 8080 and one that
    sends a line and closes on 8081 (tcpstray's live and TIME_WAIT cases, --trace)."""
    lab_module.require_root()
    lab = lab_module.Lab(ipv6=False)
    try:
        lab.start_server(8080, mode="never-close")
        lab.start_server(8081, mode="banner-close", banner=b"bye\n")
        yield lab
    finally:
        lab.close()
