"""tcpstate's tables as people read them, against real sockets in a lab: process names with
UTF-8 and wide characters keep the columns aligned, --by peer leaves listeners apart and counts
a dual-stack socket's IPv4 peer under its IPv4 address, and an unprivileged run says once why
the process column is empty."""
import json
import sys
import unicodedata

from test_tcpstate import SOCKETS, start_helper, tcpstate

UTF8_NAME = "pöp-srv€"        # 8 cells, 11 bytes
WIDE_NAME = "中文srv"          # 7 cells, 9 bytes


def cells(text):
    """Display cells of text, as a terminal shows it."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
    return width


def column_starts(line, headers):
    """The display cell where each header word starts in the header line."""
    return [cells(line[:line.index(h)]) for h in headers]


def assert_aligned(table_text, headers):
    lines = table_text.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith(headers[0]))
    starts = column_starts(lines[head], headers)
    rows = []
    for line in lines[head + 1:]:  # the table ends at the first blank line
        if not line.strip():
            break
        rows.append(line)
    assert rows, table_text
    for row in rows:
        if row.startswith("("):  # "(top N of M groups)"
            continue
        # Each column after the first starts right after two spaces, where its header starts.
        for col, start in enumerate(starts[1:], 1):
            prefix_cells = 0
            for i, ch in enumerate(row):
                if prefix_cells == start:
                    assert row[i - 2:i] == "  " and row[i] != " ", (row, headers[col], table_text)
                    break
                prefix_cells += cells(ch)
            else:
                raise AssertionError(f"row too short for column {headers[col]}: {row!r}\n{table_text}")


def population(L):
    # A UTF-8 named v4 server, a wide-named dual-stack server (IPv4 clients reach it as
    # ::ffff:...), and clients that hold, half-close and close connections to both.
    start_helper(L, "server", ["server", "--bind", "0.0.0.0", "--hold-port", 8080, "--close-port", 8081,
                               "--name", UTF8_NAME])
    start_helper(L, "server", ["server", "--bind", "::", "--hold-port", 8090, "--close-port", 8091,
                               "--name", WIDE_NAME])
    for hold, close in ((8080, 8081), (8090, 8091)):
        start_helper(L, "client", ["client", "--server", L.server_v4, "--hold-port", hold, "--close-port", close,
                                   "--established", 3, "--fin-wait2", 2, "--time-wait", 2, "--name", "cli"])


def test_utf8_and_wide_process_names_keep_columns_aligned(lab):
    L = lab()
    population(L)
    r = tcpstate(L, "server", "--by", "process")
    assert UTF8_NAME in r.stdout and WIDE_NAME in r.stdout, r.stdout
    assert_aligned(r.stdout, ["PROCESS", "TOTAL"])
    r = tcpstate(L, "server", "close-wait")
    assert UTF8_NAME in r.stdout, r.stdout
    assert_aligned(r.stdout[r.stdout.index("PROCESS"):], ["PROCESS", "PID", "ROLE", "SERVICE", "CLOSE_WAIT"])
    # The listing (ss-like fixed columns, the process last): names shown whole, nothing escaped.
    r = tcpstate(L, "server", "-p")
    assert f"{UTF8_NAME}[" in r.stdout and f"{WIDE_NAME}[" in r.stdout and "\\x" not in r.stdout, r.stdout


def test_by_peer_leaves_listeners_apart_and_unmaps_ipv4(lab):
    L = lab()
    population(L)
    objs = [json.loads(line) for line in tcpstate(L, "server", "--by", "peer", "--json").stdout.splitlines()]
    groups = {o["key"]: o for o in objs if o["type"] == "group"}
    # 4 listeners; the client's 2 x (3 held + 2 half-closed) connections, v4 and mapped alike.
    assert set(groups) == {L.client_v4, "(listening)"}, groups
    assert groups["(listening)"]["total"] == 4 and groups["(listening)"]["states"] == {"LISTEN": 4}
    assert groups[L.client_v4]["states"].get("ESTABLISHED") == 6
    assert groups[L.client_v4]["states"].get("CLOSE_WAIT") == 4
    text = tcpstate(L, "server", "--by", "peer").stdout
    assert "::ffff:" not in text and "0.0.0.0" not in text, text


def test_unprivileged_process_column_says_why_once(lab):
    L = lab()
    population(L)
    r = L.run_server([L.tool("tcpstate"), "close-wait"], unprivileged_user=True, timeout=60)
    assert r.returncode == 0, r.stderr
    hints = [line for line in r.stderr.splitlines() if "run as root" in line]
    assert len(hints) == 1, r.stderr
    assert "no process shown for" in hints[0] and "/proc/PID/fd" in hints[0]
    # As root nothing is denied: no hint.
    r = tcpstate(L, "server", "close-wait")
    assert "run as root" not in r.stderr, r.stderr


def test_by_port_gives_service_ports_and_one_ephemeral_row_on_both_ends(lab):
    # Live sockets (netlink), both ends: the server's clients' ports and the client's own ports
    # are one row, ephemeral, never a row (or a Prometheus label) per connection.
    L = lab()
    population(L)

    def groups(side, by):
        r = tcpstate(L, side, "--by", by, "--top", "100", "--json")
        return {o["key"]: o for o in map(json.loads, r.stdout.splitlines()) if o["type"] == "group"}

    # Per hold port 3 held + 2 half-closed; per close port 2 TIME_WAIT at the client (by the
    # helper's counts); the dual-stack server's sockets are the same ports.
    server_local = groups("server", "local-port")
    assert server_local["8080"]["states"].get("ESTABLISHED") == 3, server_local
    assert server_local["8090"]["states"].get("CLOSE_WAIT") == 2, server_local
    assert "ephemeral" not in server_local, server_local
    server_remote = groups("server", "remote-port")
    assert set(server_remote) == {"ephemeral", "(listening)"}, server_remote
    assert server_remote["ephemeral"]["total"] == 10, server_remote
    client_local = groups("client", "local-port")
    assert set(client_local) == {"ephemeral"}, client_local
    client_remote = groups("client", "remote-port")
    assert client_remote["8080"]["states"].get("FIN_WAIT2") == 2, client_remote
    assert client_remote["8081"]["states"].get("TIME_WAIT") == 2, client_remote
    assert "ephemeral" not in client_remote, client_remote
