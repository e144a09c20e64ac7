"""Differential check of the ss text parser (issue 13, fuzzing): on generated socket
populations (seeded random counts of ESTABLISHED, FIN_WAIT_2 / CLOSE_WAIT, TIME_WAIT, SYN_SENT
and LISTEN, over IPv4 and IPv6, owned by processes with odd names), tcpstate reading saved
`ss` text must count, per state, exactly what ss itself counts with its own state filter
(`ss -tanH state X`), for each text variant (-tan, -tanoepi, -ta without -n)."""
import collections
import json
import random
import subprocess
import sys

import pytest

from test_tcpstate import start_helper

STATES = {  # tcpstate's name -> ss's state filter
    "ESTABLISHED": "established", "SYN_SENT": "syn-sent", "SYN_RECV": "syn-recv",
    "FIN_WAIT1": "fin-wait-1", "FIN_WAIT2": "fin-wait-2", "TIME_WAIT": "time-wait",
    "CLOSE_WAIT": "close-wait", "LAST_ACK": "last-ack", "LISTEN": "listening", "CLOSING": "closing",
}
NAMES = ["ts gen", "a,b (c)", "x\"y", "plain"]


def population(seed):
    rng = random.Random(seed)
    return {fam: {k: rng.randint(0, 8) for k in ("established", "fin_wait2", "time_wait", "syn_sent")}
            for fam in ("v4", "v6")}, rng.choice(NAMES)


def make(L, counts, name):
    L.drop_ports([9])
    start_helper(L, "server", ["server", "--bind", "0.0.0.0", "--hold-port", 8080, "--close-port", 8081,
                               "--name", name])
    start_helper(L, "server", ["server", "--bind", "::", "--hold-port", 8090, "--close-port", 8091,
                               "--name", name])
    for fam, server, hold, close in (("v4", L.server_v4, 8080, 8081), ("v6", L.server_v6, 8090, 8091)):
        args = ["client", "--server", server, "--hold-port", hold, "--close-port", close, "--dropped-port", 9,
                "--name", name]
        for k, v in counts[fam].items():
            args += ["--" + k.replace("_", "-"), v]
        start_helper(L, "client", args)


def ss_own_counts(run):
    counts = {}
    for ours, theirs in STATES.items():
        out = run(["ss", "-tanH", "state", theirs]).stdout
        counts[ours] = sum(1 for line in out.splitlines() if line.strip())
    return {k: v for k, v in counts.items() if v}


def parsed_counts(L, run, text):
    r = run([L.tool("tcpstate"), "--from-ss", "-", "--summary", "--json"], input=text)
    assert r.returncode == 0, r.stderr
    objs = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    return {o["state"]: o["total"] for o in objs if o["type"] == "state" and o["total"]}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ss_parser_counts_equal_ss_own_counts(lab, seed):
    counts, name = population(seed)
    L = lab()
    make(L, counts, name)
    for run in (L.run_client, L.run_server):
        # One snapshot per variant, and ss's own counts around it: TIME_WAIT sockets live 60 s,
        # far longer than this takes, so the population does not move in between.
        want = ss_own_counts(run)
        assert sum(want.values()) > 0
        for variant in (["-tan"], ["-tanoepi"], ["-ta"]):
            text = run(["ss", *variant]).stdout
            assert parsed_counts(L, run, text) == want, (seed, variant, counts, name)
        assert ss_own_counts(run) == want, "the population moved during the check"
