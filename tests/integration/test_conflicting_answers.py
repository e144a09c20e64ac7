"""A probe answered twice with different outcomes (a SYN/ACK, then an RST,ACK for the same SYN)
means two parties answer for the address: a SYN proxy and the server behind it, or two hosts with
one address. The responder in the server namespace plays both. Found: the RST was shown as a
copy of the SYN/ACK, '(DUP!)', and counted as a duplicate."""
from test_checksums import jsonl, responder_lab, syn_probes

PORT = 8095


def test_an_rst_after_a_syn_ack_is_a_conflicting_answer(make_lab, tool):
    L = responder_lab(make_lab, PORT, "--synack-then-rst", "--then-ms", "30")
    # The last probe's second answer may come after tcpprobe is done (it stops once all are in).
    objs, probes, r = syn_probes(L, tool, PORT, 3, 0.3)
    assert [p["outcome"] for p in probes] == ["open", "open", "open"], r.stdout + r.stderr
    conflicts = [(c["probe"], c["outcome"], c["first_outcome"]) for c in objs if c["type"] == "conflicting"]
    assert conflicts[:2] == [(1, "closed", "open"), (2, "closed", "open")], objs
    assert all(c["rtt_ms"] >= 25 for c in objs if c["type"] == "conflicting"), objs  # from the probe's SYN
    s = objs[-1]
    assert s["type"] == "summary" and s["conflicting"] == len(conflicts) and s["duplicates"] == 0, s
    assert s["open"] == 3 and s["closed"] == 0, s  # the first answer is the one counted

    t = L.run_client([tool("tcpprobe"), "-m", "syn", "-c", "2", "-i", "0.3", "-W", "1", f"{L.server_v4}:{PORT}"],
                     timeout=60)
    lines = t.stdout.splitlines()
    assert any(line.endswith("(CONFLICT!)") and ": closed (R.)" in line and "which was open" in line
               for line in lines), t.stdout
    assert not any(line.endswith("(DUP!)") for line in lines), t.stdout
    flat = " ".join(t.stdout.split())
    assert "conflicting answer" in flat and "two parties answer for this address" in flat, t.stdout
    # The explanation is folded to 80 columns, as the summary's other paragraphs.
    start = next(i for i, line in enumerate(lines) if "answered twice" in line)
    paragraph = [lines[start]] + [line for line in lines[start + 1:start + 6] if line.startswith("  ")]
    assert len(paragraph) > 1 and all(len(line) <= 80 for line in paragraph), paragraph
