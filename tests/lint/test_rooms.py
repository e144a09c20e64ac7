"""The library's rooms and their order (docs/ARCHITECTURE.md), checked on the sources: every
file of libcommon lives in a known room, headers and sources mirror each other, no room
includes a room above it, and the library neither prints nor exits."""
import os
import re

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LIB = os.path.join(ROOT, "libcommon")
# Lowest first: a room may include itself and the rooms before it, never one after it.
ORDER = ["util", "wire", "io", "sockets", "probe", "scan", "stray"]
# scan and probe sit side by side: neither includes the other.
SIBLINGS = {("scan", "probe"), ("probe", "scan")}
INCLUDE = re.compile(r'^\s*#\s*include\s+"(?:tcpkit/)?([a-z_]+)/[a-z_0-9]+\.hpp"', re.M)


def library_files():
    for base in ("src", os.path.join("include", "tcpkit")):
        top = os.path.join(LIB, base)
        for dirpath, _, names in os.walk(top):
            for name in names:
                yield base, os.path.relpath(os.path.join(dirpath, name), top)


def test_every_library_file_is_in_a_room():
    loose = [f"{base}/{rel}" for base, rel in library_files() if os.path.dirname(rel) not in ORDER]
    assert loose == [], "files outside the rooms: " + ", ".join(loose)


def test_sources_and_public_headers_mirror_each_other():
    src = {os.path.splitext(rel)[0] for base, rel in library_files() if base == "src" and rel.endswith(".cpp")}
    inc = {os.path.splitext(rel)[0] for base, rel in library_files() if base != "src"}
    # A header without a source is fine (types only); a source without its header is not.
    assert sorted(src - inc) == []


@pytest.mark.parametrize("room", ORDER)
def test_no_room_includes_a_room_above_it(room):
    bad = []
    for base, rel in library_files():
        if os.path.dirname(rel) != room:
            continue
        text = open(os.path.join(LIB, base, rel), encoding="utf-8").read()
        for included in INCLUDE.findall(text):
            if included not in ORDER:
                continue
            if ORDER.index(included) > ORDER.index(room) or (room, included) in SIBLINGS:
                bad.append(f"{base}/{rel} includes {included}/")
    assert bad == []


def test_the_library_never_prints_or_exits():
    call = re.compile(r"\b(printf|puts|std::cout|std::cerr|exit|_exit|abort)\s*\(|std::c(out|err)\b|\bf?printf\s*\(\s*std(out|err)")
    bad = []
    for base, rel in library_files():
        text = open(os.path.join(LIB, base, rel), encoding="utf-8").read()
        code = re.sub(r"//[^\n]*", "", text)
        # Words inside string literals are not calls ("abort (RST)" names a TCP edge).
        code = re.sub(r'"(?:\\.|[^"\\\n])*"', '""', code)
        for m in call.finditer(code):
            bad.append(f"{base}/{rel}: {m.group(0)}")
    assert bad == []
