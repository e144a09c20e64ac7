"""A peer that answers a SYN with a bare SYN of its own (a split handshake: it opens towards us
instead of answering SYN/ACK) is a listener, as nmap reads it (open, split-handshake-syn). The
responder in the server namespace plays that peer; the kernel's own RST is dropped by nftables
(the responder's packets carry a mark). Found: tcpprobe and tcpscan rejected the SYN as a wrong
ack, called the port filtered, and the ACK check blamed a full accept queue."""
from test_checksums import jsonl, responder_lab, syn_probes

PORT = 8094


def split_lab(make_lab):
    return responder_lab(make_lab, PORT, "--split")


def test_a_bare_syn_in_answer_is_an_open_port(make_lab, tool):
    L = split_lab(make_lab)
    objs, probes, r = syn_probes(L, tool, PORT, 2, 0.2)
    assert [(p["outcome"], p["flags"]) for p in probes] == [("open", "S"), ("open", "S")], r.stdout + r.stderr
    assert objs[-1]["rejected"] == 0 and objs[-1]["ack_check"] is None, objs[-1]
    s = L.run_client([tool("tcpscan"), "--json", "-p", str(PORT), "--retries", "0", "--wait", "500ms", L.server_v4],
                     timeout=60)
    ports = [o for o in jsonl(s.stdout) if o["type"] == "port"]
    assert [(p["state"], p["reason"]) for p in ports] == [("open", "split-handshake-syn")], s.stdout + s.stderr


def test_a_trace_of_a_split_handshake_shows_our_answer_as_no_retransmission(make_lab, tool):
    # Our kernel, in SYN-SENT, answers the peer's bare SYN with a SYN/ACK at our ISN (a
    # simultaneous open, RFC 9293 3.5). Found: that answer was labelled a retransmission.
    L = split_lab(make_lab)
    r = L.run_client([tool("tcpprobe"), "--trace", "--json", "-W", "1s", f"{L.server_v4}:{PORT}"], timeout=60)
    segments = [o for o in jsonl(r.stdout) if o["type"] == "segment"]
    flow = [(x["direction"], x["flags"]) for x in segments]
    assert flow[:3] == [("out", "S"), ("in", "S"), ("out", "S.")], (flow, r.stdout + r.stderr)
    assert not segments[2]["retransmission"] and segments[2]["ack"] == 1, segments[2]
    # The peer never answers it: our kernel sends it again, and those are retransmissions.
    assert all(x["retransmission"] for x in segments[3:] if (x["direction"], x["flags"]) == ("out", "S.")), flow


def test_a_split_handshakes_syn_sent_again_is_a_duplicate_not_a_forgery(make_lab, tool):
    # The peer sends its unanswered SYN again, as a stack does. Found: counted as rejected (a
    # wrong ack: the reply of a forger), though it names the probe by its 4-tuple alone.
    L = responder_lab(make_lab, PORT, "--split", "--split-again", "--then-ms", "100")
    objs, probes, r = syn_probes(L, tool, PORT, 2, 0.4)
    assert [p["outcome"] for p in probes] == ["open", "open"], r.stdout + r.stderr
    s = objs[-1]
    assert s["rejected"] == 0 and s["duplicates"] >= 1, s
    assert [o["probe"] for o in objs if o["type"] == "duplicate"][:1] == [1], objs
