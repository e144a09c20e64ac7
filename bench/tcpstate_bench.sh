#!/usr/bin/env bash
# tcpstate against ss and netstat on the same sockets, in one run (run as root):
#   1. a full listing with 200k sockets (100k connections over loopback) in a private namespace:
#      `tcpstate`, `tcpstate --json`, `ss -tan`, `netstat -tan`;
#   2. 100k TIME_WAIT sockets: `tcpstate time-wait` (per-peer report) against
#      `ss -tan state time-wait` (and netstat -tan, which has no state filter);
#   3. a server's mix in one namespace: 120k ESTABLISHED (60k connections over loopback),
#      26k TIME_WAIT left by nginx (it closes first on HTTP/1.0) and 1000 CLOSE_WAIT; every view
#      against the ss command that reads the same states (the listing, --state filters,
#      time-wait, close-wait, syn-flood);
#   4. saved text: 400k lines of `ss -ta` (service names) read by `tcpstate --from` from a file and
#      from a pipe (streamed: peak memory must stay flat, 16 MB at most), against awk counting states.
# Prints wall time (median of RUNS), CPU time, peak memory, the socket count each tool saw, and
# the ratios. Sockets are spread over many helper processes (the open-file limit is ~20,000).
# Everything lives in namespaces made here and is removed on exit, even on failure.
#   bench/tcpstate_bench.sh [BUILD_DIR]
#   env: CONNS=100000 TW=100000 RUNS=5 PARTS=list,tw,mix,text MIX_EST=60000 MIX_TW=26000 MIX_CW=1000 LINES=400000
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
TCPSTATE=$BUILD/tools/tcpstate
HELPER=$ROOT/tests/lab/tcpstate_sockets.py
PY=/usr/bin/python3
CONNS=${CONNS:-100000}
TW=${TW:-100000}
RUNS=${RUNS:-5}
PARTS=${PARTS:-list,tw,mix,text}  # which parts to run
MIX_EST=${MIX_EST:-60000}  # connections: twice as many ESTABLISHED sockets
MIX_TW=${MIX_TW:-26000}
MIX_CW=${MIX_CW:-1000}
LINES=${LINES:-400000}
PER_PROC=8000   # sockets per helper process, under the open-file limit
[ "$(id -u)" -eq 0 ] || { echo "tcpstate_bench: needs root (network namespaces)" >&2; exit 4; }
[ -x "$TCPSTATE" ] || { echo "tcpstate_bench: $TCPSTATE is not built" >&2; exit 4; }
for t in ss netstat; do command -v $t >/dev/null || { echo "tcpstate_bench: needs $t" >&2; exit 4; }; done
(( CONNS >= 1 && CONNS <= 200000 && TW >= 1 && TW <= 200000 && RUNS >= 1 && RUNS <= 50 )) ||
  { echo "tcpstate_bench: CONNS and TW must be 1..200000, RUNS 1..50" >&2; exit 2; }

NS1=tsb$$-list
NS2=tsb$$-tw
NS3=tsb$$-mix
PIDS=()
FIFOS=$(mktemp -d)
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  ip netns del "$NS1" 2>/dev/null || true
  ip netns del "$NS2" 2>/dev/null || true
  ip netns del "$NS3" 2>/dev/null || true
  rm -rf "$FIFOS"
}
trap cleanup EXIT INT TERM

make_ns() {
  ip netns add "$1"
  ip -n "$1" link set lo up
  ip netns exec "$1" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.core.somaxconn=65535 \
    net.ipv4.tcp_max_syn_backlog=65535 net.ipv4.tcp_max_tw_buckets=400000 net.ipv4.tcp_tw_reuse=0
}

# helper NS ARGS...: starts one tcpstate_sockets.py, waits (at most 120 s) for its READY line.
helper() {
  local ns=$1; shift
  local out=$FIFOS/h${#PIDS[@]}
  : > "$out"
  ip netns exec "$ns" $PY "$HELPER" "$@" --hold 900 --deadline 120 < <(sleep 900) > "$out" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1200); do grep -q READY "$out" && return 0; kill -0 "${PIDS[-1]}" 2>/dev/null || break; sleep 0.1; done
  echo "tcpstate_bench: helper did not start: $(cat "$out")" >&2
  exit 4
}

# measure NS LABEL CMD... [--vs LABEL CMD...]...: RUNS timed runs of each command inside the
# namespace, output to /dev/null, one row each. Several commands take turns run by run, so that a
# population that shrinks (TIME_WAIT lives 60 s) or a passing load hits each of them alike. Each
# command is spawned directly (posix_spawn) and reaped with wait4: the wall time is its own
# spawn-to-exit, and its rusage gives CPU to the microsecond. (GNU time in between added its own
# fork and exec to every wall time, and rounded CPU to 10 ms.) One more run, under GNU time,
# counts its output lines and gives its peak memory (a child spawned from Python inherits
# Python's peak in its rusage, one forked by GNU time does not).
# NS "-": in this namespace (saved text needs none); STDIN=FILE feeds the command that file.
measure() {
  local ns=$1; shift
  local run=(ip netns exec "$ns"); [[ $ns == - ]] && run=()
  STDIN=${STDIN:-} "${run[@]}" $PY - "$RUNS" "$@" <<'PYEOF'
import os, shutil, signal, statistics, subprocess, sys, tempfile, time
runs, rest = int(sys.argv[1]), sys.argv[2:]
cmds = []  # [label, argv]
for word in rest:
    if not cmds or word == "--vs":
        cmds.append([None, []])
        if word == "--vs":
            continue
    if cmds[-1][0] is None:
        cmds[-1][0] = word
    else:
        cmds[-1][1].append(word)
stdin_path = os.environ.get("STDIN") or os.devnull
walls = {i: [] for i in range(len(cmds))}
cpus = {i: [] for i in range(len(cmds))}
null = os.open(os.devnull, os.O_WRONLY)
for _ in range(runs):
    for i, (label, argv) in enumerate(cmds):
        path = shutil.which(argv[0]) or argv[0]
        stdin = os.open(stdin_path, os.O_RDONLY)
        actions = [(os.POSIX_SPAWN_DUP2, stdin, 0), (os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)]
        t0 = time.monotonic()
        pid = os.posix_spawn(path, argv, os.environ, file_actions=actions)
        signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, signal.SIGKILL))
        signal.alarm(300)  # every run is bounded, as subprocess's timeout did before
        _, _, usage = os.wait4(pid, 0)
        signal.alarm(0)
        walls[i].append(time.monotonic() - t0)
        os.close(stdin)
        cpus[i].append(usage.ru_utime + usage.ru_stime)
for i, (label, argv) in enumerate(cmds):
    with open(stdin_path, "rb") as stdin, tempfile.NamedTemporaryFile("r") as kb:
        lines = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", kb.name] + argv, stdin=stdin, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, timeout=300).stdout.count(b"\n")
        rss = int(kb.read().split()[-1])
    print("%s\t%.1f\t%.1f\t%.1f\t%d" % (label, statistics.median(walls[i]) * 1000,
                                         statistics.median(cpus[i]) * 1000, rss / 1024, lines))
PYEOF
}

table() {  # rows on stdin: label wall cpu rss lines; the first row is the reference
  awk -F'\t' 'BEGIN { printf "%-40s %10s %10s %9s %9s\n", "command", "wall_ms", "cpu_ms", "rss_MiB", "lines" }
              { printf "%-40s %10s %10s %9s %9s\n", $1, $2, $3, $4, $5; w[NR]=$2; c[NR]=$3; n[NR]=$1 }
              END { for (i = 2; i <= NR; i++) printf "  ratio %s / %s: %.2f (cpu %.2f)\n", n[1], n[i], w[1] / w[i], c[1] / (c[i] ? c[i] : 1) }'
}

if [[ $PARTS == *list* ]]; then
echo "== building $CONNS connections ($((2 * CONNS)) sockets) in $NS1" >&2
make_ns "$NS1"
left=$CONNS; port=500  # below the ephemeral range (1024-65535 here)
while (( left > 0 )); do
  n=$(( left < PER_PROC ? left : PER_PROC ))
  helper "$NS1" server --bind 127.0.0.1 --hold-port $port --backlog 4096
  helper "$NS1" client --server 127.0.0.1 --hold-port $port --established $n
  left=$(( left - n )); port=$(( port + 1 ))
  if (( port == 501 )); then  # memory with the first helper pair only, to compare at the end
    SMALL=$(ip netns exec "$NS1" ss -tanH | wc -l)
    SMALL_ROWS=$(measure "$NS1" "tcpstate ($SMALL sockets)" "$TCPSTATE"; measure "$NS1" "tcpstate --json ($SMALL sockets)" "$TCPSTATE" --json)
  fi
done
sleep 1
SS_COUNT=$(ip netns exec "$NS1" ss -tanH | wc -l)
TS_COUNT=$(ip netns exec "$NS1" "$TCPSTATE" --json --summary | tail -1 | $PY -c 'import json,sys; print(json.load(sys.stdin)["sockets"])')
echo "sockets: ss sees $SS_COUNT, tcpstate sees $TS_COUNT"
echo
echo "Full listing, $SS_COUNT sockets (median of $RUNS runs; output to /dev/null):"
{
  measure "$NS1" "tcpstate" "$TCPSTATE" --vs "ss -tan" ss -tan --vs "netstat -tan" netstat -tan
} | table
echo
{
  measure "$NS1" "tcpstate --source proc" "$TCPSTATE" --source proc --vs "ss -tan" ss -tan \
    --vs "netstat -tan" netstat -tan
} | table
echo
{
  measure "$NS1" "tcpstate --json" "$TCPSTATE" --json --vs "ss -tan" ss -tan
} | table
echo
{
  measure "$NS1" "tcpstate --summary" "$TCPSTATE" --summary --vs "ss -tan (for reference)" ss -tan
} | table
echo
echo "Memory as the socket count grows (streamed: nothing is kept per socket):"
{
  echo "$SMALL_ROWS"
  measure "$NS1" "tcpstate ($SS_COUNT sockets)" "$TCPSTATE"
  measure "$NS1" "tcpstate --json ($SS_COUNT sockets)" "$TCPSTATE" --json
} | awk -F'\t' '{ printf "%-40s %10s ms %9s MiB\n", $1, $2, $4 }'
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
PIDS=()
ip netns del "$NS1"
fi

stop_helpers() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}

if [[ $PARTS == *mix* ]]; then
echo "== building a server's mix in $NS3: $MIX_EST connections, $MIX_TW TIME_WAIT, $MIX_CW CLOSE_WAIT" >&2
make_ns "$NS3"
left=$MIX_EST; port=500
while (( left > 0 )); do
  n=$(( left < PER_PROC ? left : PER_PROC ))
  helper "$NS3" server --bind 127.0.0.1 --hold-port $port --backlog 4096
  helper "$NS3" client --server 127.0.0.1 --hold-port $port --established $n
  left=$(( left - n )); port=$(( port + 1 ))
done
helper "$NS3" server --bind 127.0.0.1 --hold-port 700 --backlog 4096
helper "$NS3" client --server 127.0.0.1 --hold-port 700 --fin-wait2 "$MIX_CW"
# TIME_WAIT on the server side, as on a real web server: nginx closes first on HTTP/1.0.
mkdir -p "$FIFOS/nginx"
cat > "$FIFOS/nginx/nginx.conf" <<NGINX
worker_processes 1;
pid $FIFOS/nginx/nginx.pid;
error_log $FIFOS/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $FIFOS/nginx/body;
  proxy_temp_path $FIFOS/nginx/proxy;
  fastcgi_temp_path $FIFOS/nginx/fastcgi;
  uwsgi_temp_path $FIFOS/nginx/uwsgi;
  scgi_temp_path $FIFOS/nginx/scgi;
  server { listen 127.0.0.1:80; location / { return 200 "ok"; } }
}
NGINX
ip netns exec "$NS3" nginx -c "$FIFOS/nginx/nginx.conf" -g 'daemon off;' 2>/dev/null &
PIDS+=($!)
sleep 1
CLIENTS=()
for _ in 1 2 3 4; do
  ip netns exec "$NS3" $PY -c '
import socket, sys, time
end = time.monotonic() + 50
for _ in range(int(sys.argv[1])):
    if time.monotonic() > end: break
    s = socket.create_connection(("127.0.0.1", 80), timeout=5)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    while s.recv(4096): pass
    s.close()
' $(( MIX_TW / 4 )) &
  PIDS+=($!); CLIENTS+=($!)
done
# The timings start only when nginx's clients are done (each stops after 50 s at most): a view
# timed while they still run would share the two cores with them.
for p in "${CLIENTS[@]}"; do wait "$p" || true; done
echo "sockets in $NS3:" $(ip netns exec "$NS3" "$TCPSTATE" --summary | grep -E 'ESTABLISHED|TIME_WAIT|CLOSE_WAIT|LISTEN' | tr -s ' ')
echo
echo "A server's mix, every view against ss reading the same states (median of $RUNS runs; TIME_WAIT lives 60 s, so later rows see fewer):"
for pair in "list|ss -tan|" "--state established|ss -tan state established|--state established" \
            "--state time-wait|ss -tan state time-wait|--state time-wait" \
            "time-wait|ss -tan state time-wait|time-wait" \
            "close-wait|ss -tanp state close-wait|close-wait" \
            "syn-flood --interval 0|ss -tan state syn-recv state listening|syn-flood --interval 0" \
            "--summary|ss -tan|--summary"; do
  IFS='|' read -r label sscmd args <<< "$pair"
  # shellcheck disable=SC2086  # the argument lists are split on purpose
  {
    measure "$NS3" "tcpstate $label" "$TCPSTATE" $args --vs "$sscmd" $sscmd
  } | table
done
stop_helpers
ip netns del "$NS3"
fi

if [[ $PARTS == *tw* ]]; then
echo >&2
echo "== building $TW TIME_WAIT sockets in $NS2" >&2
make_ns "$NS2"
left=$TW; port=600
start=$(date +%s)
while (( left > 0 )); do
  n=$(( left < 25000 ? left : 25000 ))
  helper "$NS2" server --bind 127.0.0.1 --close-port $port --backlog 4096
  left=$(( left - n )); port=$(( port + 1 ))
done
# The clients run in parallel and do not wait for each FIN: TIME_WAIT lives 60 s only.
left=$TW; port=600
while (( left > 0 )); do
  n=$(( left < 25000 ? left : 25000 ))
  ip netns exec "$NS2" $PY "$HELPER" client --server 127.0.0.1 --close-port $port --time-wait $n \
    --fast-time-wait --hold 900 --deadline 50 < <(sleep 900) > /dev/null 2>&1 &
  PIDS+=($!)
  left=$(( left - n )); port=$(( port + 1 ))
done
# Until they are all there, or their number stops growing (a few may be refused), at most 50 s.
wait_end=$(( $(date +%s) + 50 )); last=-1
while now=$(ip netns exec "$NS2" ss -tanH state time-wait | wc -l); (( now < TW && now != last )); do
  (( $(date +%s) < wait_end )) || break
  last=$now
  sleep 1
done
TW_SS=$(ip netns exec "$NS2" ss -tanH state time-wait | wc -l)
TW_TS=$(ip netns exec "$NS2" "$TCPSTATE" time-wait --json | tail -1 | $PY -c 'import json,sys; print(json.load(sys.stdin)["time_wait"])')
echo "TIME_WAIT sockets: ss sees $TW_SS, tcpstate sees $TW_TS (built in $(( $(date +%s) - start )) s; they live 60 s)"
echo
echo "TIME_WAIT per peer, $TW_SS sockets (median of $RUNS runs):"
{
  measure "$NS2" "tcpstate time-wait" "$TCPSTATE" time-wait --vs "ss -tan state time-wait" ss -tan state time-wait \
    --vs "netstat -tan" netstat -tan
} | table
ip netns exec "$NS2" "$TCPSTATE" time-wait --top 5
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
PIDS=()
fi

if [[ $PARTS == *text* ]]; then
# Saved `ss -ta` text: the lab's named fixture (service names) repeated to LINES lines.
TEXT=$(mktemp /tmp/tcpstate-bench-XXXXXX.txt)
trap 'rm -f "$TEXT"; cleanup' EXIT
FIX=$ROOT/tests/fixtures/tcpstate/named-ss-ta.txt
$PY - "$FIX" "$LINES" "$TEXT" <<'PYEOF'
import sys
lines = open(sys.argv[1]).read().splitlines()
header, body, want = lines[0], lines[1:], int(sys.argv[2])
with open(sys.argv[3], "w") as out:
    out.write(header + "\n")
    for i in range(want):
        out.write(body[i % len(body)] + "\n")
PYEOF
echo
echo "Saved ss -ta text, $LINES lines (median of $RUNS runs; peak memory must stay under 16 MiB):"
{
  measure - "tcpstate --from FILE" "$TCPSTATE" --from "$TEXT"
  STDIN=$TEXT measure - "tcpstate --from - (stdin)" "$TCPSTATE" --from -
  measure - "tcpstate --from FILE --summary" "$TCPSTATE" --from "$TEXT" --summary
  measure - "awk (count states)" awk '{n[$1]++} END {for (s in n) print s, n[s]}' "$TEXT"
} | table
fi
