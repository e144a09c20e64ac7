"""tcpstray through injected faults: reordered and duplicated frames, and forged replies from the
target's side. A verdict must be the one a clean run gives (Linux's, see test_tcpstray.LINUX) or
inconclusive with a reason; forgeries are never answers and are counted as rejected."""
import json
import os
import subprocess
import sys

import pytest

from test_tcpstray import CLOSED, LINUX, LIVE, TW, cases
from test_tcpstray_loss import tag_crafted

LAB_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab")
# Cases whose conformant verdict rests on silence, and whose segment the forger answers (it
# leaves our RSTs alone): a forgery there must make them inconclusive.
SILENT = {"listen-fin", "listen-null", "listen-xmas"}


def run_all(L, wait="0.3"):
    got, summaries = {}, []
    for port, groups in ((LIVE, "closed,listen,live"), (TW, "time-wait")):
        r = L.run_client([L.tool("tcpstray"), "--json", "-W", wait, "--closed-port", CLOSED,
                          f"{L.server_v4}:{port}", "--group", groups], timeout=120)
        assert r.returncode in (0, 1), r.stderr
        one, summary = cases(r.stdout)
        got.update(one)
        summaries.append(summary)
    assert set(got) == set(LINUX)
    return got, summaries


def servers(L):
    L.start_server(LIVE, mode="never-close")
    L.start_server(TW, mode="banner-close", banner=b"bye\n")


def assert_same_or_inconclusive(got):
    for name, c in got.items():
        assert c["verdict"] in (LINUX[name], "inconclusive"), (name, c["verdict"], c["reason"], c["observed"])
        if c["verdict"] == "inconclusive":
            assert c["reason"], c


def test_reordering_and_duplication_never_flip_a_verdict(make_lab):
    # A third of the frames each way held 5 ms (well inside -W 300 ms) and a third sent twice.
    L = make_lab(delay_ms=2, reorder=0.3, reorder_ms=5, duplicate=0.3, seed=41, ipv6=False)
    servers(L)
    got, summaries = run_all(L)
    assert_same_or_inconclusive(got)
    same = [n for n, c in got.items() if c["verdict"] == LINUX[n]]
    assert len(same) >= 18, {n: (c["verdict"], c["reason"]) for n, c in got.items() if n not in same}
    assert sum(s["duplicates"] for s in summaries) > 0, summaries  # the copies were seen, and set aside
    assert all(s["rejected"] == 0 for s in summaries), summaries   # a copy is no forgery


def test_forged_replies_are_rejected_and_never_judged(make_lab):
    L = make_lab(ipv6=False)
    servers(L)
    other = L.server_v4.rsplit(".", 1)[0] + ".99"
    forger = L.popen_server([sys.executable, os.path.join(LAB_DIR, "reply_forge.py"), "--iface", L.server_if,
                             "--client", L.client_v4, "--server", L.server_v4, "--wrong-address", other,
                             "--ports", f"{LIVE},{CLOSED},{TW}", "--max-seconds", "120"],
                            stdout=subprocess.PIPE, text=True)
    assert forger.stdout.readline().strip() == "ready"
    got, summaries = run_all(L)
    forger.terminate()
    sent = json.loads(forger.communicate(timeout=10)[0].strip().splitlines()[-1])
    assert sent["rst-wrong-seq"] > 0 and sent["wrong-address"] > 0, sent
    assert_same_or_inconclusive(got)
    # Where silence is the conformant answer, forgeries came instead: no verdict is safe.
    for name in SILENT:
        assert got[name]["verdict"] == "inconclusive" and "rejected" in got[name]["reason"], got[name]
    # Where the peer answered, the real answer is judged and the forgeries set aside.
    for name in ("closed-fin", "closed-ack", "listen-ack", "live-syn", "live-ack-unsent", "tw-fin-retransmit"):
        assert got[name]["verdict"] == LINUX[name], got[name]
    total = {k: sum(s["rejected_by"][k] for s in summaries) for k in summaries[0]["rejected_by"]}
    assert total["wrong_address"] > 0 and total["wrong_seq"] + total["wrong_ack"] > 0, total
    assert sum(s["rejected"] for s in summaries) == sum(total.values())


@pytest.mark.parametrize("ip_id,delay_ms", [("kept", None), ("zero", 5), ("zero", None)])
def test_a_late_copy_of_the_peers_ack_is_no_answer(make_lab, ip_id, delay_ms):
    # Found under load through a duplicating delay line: the server's firewall drops every crafted
    # FIN (tagged DSCP CS1 as it leaves), so tw-fin-retransmit cannot be answered, yet it came
    # out conformant: a copy of the server's ACK of our kernel's FIN, delayed past the crafted FIN,
    # was taken for the answer. The copies are now replayed on purpose, 300 ms late, IP ID and all.
    # "zero": the server sends IP ID 0 (as Linux's TIME_WAIT does), so the ID proves nothing and
    # only the copy's old TSval tells it from an answer, once the connection has shown the
    # server's clock ticking every millisecond or so. On a bare veth the connection lasted about a
    # millisecond, the clock's rate was often unknown, and the copies left the case undecided; it
    # now lasts at least 20 ms before our FIN, and the copies are set aside there too.
    L = make_lab(ipv6=False, delay_ms=delay_ms)
    servers(L)
    zero = f"  chain output {{ type filter hook output priority 0; policy accept;\n  tcp sport {TW} ip id set 0\n }}\n"
    tag_crafted(L)
    L.nft(L.server_ns, "table inet strayfin {\n chain input { type filter hook input priority -10; policy accept;\n"
                       f"  tcp dport {TW} tcp flags & fin == fin ip dscp cs1 drop\n }}\n"
                       + (zero if ip_id == "zero" else "") + "}\n")
    replayer = L.popen_server([sys.executable, os.path.join(LAB_DIR, "ack_replayer.py"), "--iface", L.server_if,
                               "--server", L.server_v4, "--ports", str(TW), "--delay-ms", "300",
                               "--max-seconds", "100"], stdout=subprocess.PIPE, text=True)
    assert replayer.stdout.readline().strip() == "ready"
    r = L.run_client([L.tool("tcpstray"), "--json", "-v", "-W", "1", f"{L.server_v4}:{TW}",
                      "--case", "tw-fin-retransmit"], timeout=120)
    replayer.terminate()
    copies = json.loads(replayer.communicate(timeout=10)[0].strip().splitlines()[-1])["copies"]
    got, summary = cases(r.stdout)
    c = got["tw-fin-retransmit"]
    assert copies > 0 and c["observed"].startswith("silence"), (copies, c)
    assert c["duplicates"] > 0, (copies, c)  # copies came during the case, and were set aside
    assert c["verdict"] == "deviation", c
    assert "no ACK came back" in c["reason"], c
