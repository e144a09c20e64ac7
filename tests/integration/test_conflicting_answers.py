"""A probe answered twice with different outcomes (a SYN/ACK, then an RST,ACK for the same SYN)
means two parties answer for the address: a SYN proxy and the server behind it, or two hosts with
one address. The responder in the server namespace plays both. Found: the RST was shown as a
copy of the SYN/ACK, '(DUP!)', and counted as a duplicate."""
import json

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


def test_a_copy_of_a_conflicting_answer_is_a_duplicate_and_the_probe_counts_once(make_lab, tool):
    # Found: each copy of the RST was another "(CONFLICT!)", and the summary counted answers as
    # "probes answered twice".
    L = responder_lab(make_lab, PORT, "--synack-then-rst", "--second-twice", "--then-ms", "30")
    objs, probes, r = syn_probes(L, tool, PORT, 2, 0.3)
    kinds = [(o["type"], o["probe"]) for o in objs if o["type"] in ("conflicting", "duplicate") and o["probe"] == 1]
    assert kinds == [("conflicting", 1), ("duplicate", 1)], (kinds, r.stdout)
    s = objs[-1]
    assert s["conflicting"] == len({o["probe"] for o in objs if o["type"] == "conflicting"}), s


def trace_json(L, tool, port, *extra):
    r = L.run_client([tool("tcpprobe"), "--trace", "--json", "-W", "1s", *extra, f"{L.server_v4}:{port}"], timeout=60)
    objs = jsonl(r.stdout)
    assert objs and objs[-1]["type"] == "trace_summary", r.stdout + r.stderr
    return [o for o in objs if o["type"] == "segment"], objs[-1], r


def test_a_trace_refused_then_answered_times_no_handshake(make_lab, tool):
    # The RST refuses the connection; the SYN/ACK 30 ms later completes nothing (found: the
    # trace printed "handshake: SYN -> SYN/ACK" for it), and a note names the two answers.
    L = responder_lab(make_lab, PORT, "--rst-then-synack", "--then-ms", "30")
    segments, s, r = trace_json(L, tool, PORT)
    inbound = [x["flags"] for x in segments if x["direction"] == "in"]
    assert inbound[:2] == ["R.", "S."], (inbound, r.stdout)
    assert s["outcome"] == "refused", s
    assert s.get("syn_to_synack_ms") is None, s
    assert any("a SYN/ACK after the peer's RST: two parties answer" in n for n in s["notes"]), s["notes"]
    text = L.run_client([tool("tcpprobe"), "--trace", "-W", "1s", f"{L.server_v4}:{PORT}"], timeout=60).stdout
    assert "handshake: SYN -> SYN/ACK" not in text, text


def test_tcpscan_names_a_port_two_parties_answer(make_lab, tool):
    # An RST first, then the server's SYN/ACK 30 ms later (an IPS resetting in front of an open
    # server). Found: "closed", with "1 duplicate" and nothing more. PORT + 1 is dropped, so the
    # scan still waits when the second answer comes.
    L = responder_lab(make_lab, PORT, "--rst-then-synack", "--then-ms", "30")
    L.drop_ports([PORT + 1])
    ports = f"{PORT},{PORT + 1}"
    r = L.run_client([tool("tcpscan"), "-p", ports, "--no-ack-check", "--json", L.server_v4], timeout=60)
    objects = [json.loads(line) for line in r.stdout.splitlines()]
    summary = objects[-1]
    assert summary["conflicting"] == 1, summary
    assert summary["conflicts"] == [{"address": L.server_v4, "port": PORT, "then_state": "open",
                                     "then_reason": "syn-ack", "then_ttl": 64}], summary["conflicts"]
    port = [o for o in objects if o.get("port") == PORT and o["type"] != "summary"]
    assert port and port[0]["state"] == "closed", objects  # the first answer stands, and is named
    text = L.run_client([tool("tcpscan"), "-p", ports, "--no-ack-check", L.server_v4], timeout=60)
    assert f"# CONFLICT: {L.server_v4}:{PORT} answered again, open (syn-ack, ttl 64)" in text.stdout, text.stdout
    assert all(len(line) <= 80 for line in text.stdout.splitlines()), text.stdout
