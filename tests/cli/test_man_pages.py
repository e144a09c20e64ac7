"""The man pages: groff renders every page without a warning at the widths people read them
at, and all pages carry one release date (and the same version)."""
import glob
import os
import re
import subprocess

import pytest

MAN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "man")
PAGES = sorted(glob.glob(os.path.join(MAN, "*.1")))


def test_there_is_a_page_per_tool():
    assert [os.path.basename(p) for p in PAGES] == ["tcppath.1", "tcpprobe.1", "tcpscan.1", "tcpstate.1", "tcpstray.1"]


@pytest.mark.parametrize("page", PAGES, ids=os.path.basename)
@pytest.mark.parametrize("width", [60, 80, 120])
def test_man_renders_without_warnings(page, width):
    # man --warnings is what a reader's `man -l` shows on stderr ("cannot adjust line", "can't
    # break line"); man renders at 80 columns when stdout is not a terminal, MANWIDTH sets it.
    env = dict(os.environ, MANWIDTH=str(width), MANROFFSEQ="", LC_ALL="C.UTF-8")
    r = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr
    assert len(r.stdout) > 1000


@pytest.mark.parametrize("page", PAGES, ids=os.path.basename)
def test_groff_strict_warnings(page):
    r = subprocess.run(["groff", "-man", "-ww", "-z", page], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_one_release_date_and_version():
    heads = []
    for page in PAGES:
        th = next(line for line in open(page, encoding="utf-8") if line.startswith(".TH "))
        fields = re.findall(r'"([^"]*)"', th)
        assert len(fields) == 3, th
        heads.append(tuple(fields))
    dates = {h[0] for h in heads}
    assert len(dates) == 1, dates
    assert re.fullmatch(r"(January|February|March|April|May|June|July|August|September|October|November|December) "
                        r"\d{4}", dates.pop())
    assert len({h[1] for h in heads}) == 1 and len({h[2] for h in heads}) == 1, heads
