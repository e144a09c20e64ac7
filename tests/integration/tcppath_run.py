"""What the tcppath tests share: one run of tcppath in the lab's client namespace, its JSON Lines
split into the hop objects and the summary, and an nftables forward chain on router r2."""
import json


def tcppath_json(L, tool, target, *args, wait="3s", max_hops=8):
    """Runs `tcppath --json -W wait -m max_hops args target`; returns (result, objects), the last
    object being the summary."""
    r = L.run_client([tool("tcppath"), "--json", "-W", wait, "-m", str(max_hops), *args, target], timeout=60)
    objects = [json.loads(line) for line in r.stdout.splitlines()]
    assert objects and objects[-1]["type"] == "summary", (r.stdout, r.stderr)
    return r, objects


def tcppath_hops(L, tool, target, *args, **kw):
    """As tcppath_json; returns (result, hop objects, summary)."""
    r, objects = tcppath_json(L, tool, target, *args, **kw)
    return r, [o for o in objects if o["type"] == "hop"], objects[-1]


def on_r2(L, rules, table="tkpath"):
    """nftables rules in a forward chain of r2 (the lab chain's second router)."""
    L.nft(L.router_ns[1], f"table inet {table} {{\n chain rewrite {{ type filter hook forward priority 0; "
                          f"policy accept;\n{rules}\n }}\n}}\n")
