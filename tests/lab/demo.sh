#!/usr/bin/env bash
# `./run demo`: builds a throwaway lab (client and server namespaces joined through a 5 ms
# delay line, a real TCP server, a dropped and a rejected port) and runs the tools against it;
# then it holds sockets in ESTABLISHED, FIN_WAIT2, CLOSE_WAIT, TIME_WAIT and LISTEN there and
# shows them with tcpstate --netns, while tcpstate follow watches those connections live (each
# one's life on the client, the counts per edge on the server) and draws the state diagram to
# $TCPKIT_DEMO_DIAGRAM (default BUILD_DIR/tcpstate-follow-demo.svg). Everything happens inside the
# lab's namespaces and is removed at the end.
set -euo pipefail
BUILD=${1:?usage: demo.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
export TCPKIT_BUILD=$BUILD
export TCPKIT_DEMO_DIAGRAM=${TCPKIT_DEMO_DIAGRAM:-$BUILD/tcpstate-follow-demo.svg}
if [ "$(id -u)" -ne 0 ]; then
  echo "demo: the lab needs root (network namespaces)" >&2
  exit 3
fi

TK_TMP=$(mktemp -d)
trap 'rm -rf "$TK_TMP"' EXIT
export TK_TMP TK_HERE=$HERE
/usr/bin/python3 "$HERE/lab.py" --delay-ms 5 --server 8080:hold --server 8090:banner-close \
  --drop 8082 --reject 8083 -- bash -c '
set -u
in_client() { ip netns exec "$TK_CLIENT_NS" "$@"; }
show() { echo; echo "\$ $*"; in_client "$@" || true; }
echo "Lab: client $TK_CLIENT_V4 / $TK_CLIENT_V6 -> 5 ms delay line each way -> server $TK_SERVER_V4 / $TK_SERVER_V6"
echo "Server ports: 8080 open, 8081 closed, 8082 dropped (filtered), 8083 rejected with ICMP"
T=$TK_BUILD/tools
show "$T/tcpprobe" -c 3 -i 0.2 -W 0.5 "$TK_SERVER_V4:8080" "$TK_SERVER_V4:8081" "$TK_SERVER_V4:8082" "$TK_SERVER_V4:8083"
show "$T/tcpprobe" -c 2 -i 0.2 --json "[$TK_SERVER_V6]:8080"
if [ -x "$T/tcpprobe" ] && grep -q -- --trace <<< "$("$T/tcpprobe" --help)"; then
  show "$T/tcpprobe" --trace "$TK_SERVER_V4:8080"
  show "$T/tcpprobe" --trace --close peer "$TK_SERVER_V4:8090"
fi
if [ -x "$T/tcpscan" ]; then
  show "$T/tcpscan" -p 8075-8095 --reason "$TK_SERVER_V4"
fi
if [ -x "$T/tcpstray" ]; then
  show "$T/tcpstray" --closed-port 8081 "$TK_SERVER_V4:8080"
  # 8090 closes first, so the peer holds TIME_WAIT: the time-wait cases can run there.
  show "$T/tcpstray" --group time-wait "$TK_SERVER_V4:8090"
fi
if [ -x "$T/tcpstate" ]; then
  # A population of states for tcpstate to find: the server holds LISTEN, ESTABLISHED and
  # CLOSE_WAIT (it never closes what the client half-closed), the client ESTABLISHED,
  # FIN_WAIT2 and TIME_WAIT (it closed first on 9091). Held for at most 120 s, killed below.
  echo
  echo "Sockets for tcpstate: client -> server 9090 (5 held open, 3 half-closed), 9091 (8 closed by the client)"
  SOCKETS=$TK_HERE/tcpstate_sockets.py
  # tcpstate follow watches the demo connections from now on (eBPF; skipped where it cannot run).
  "$T/tcpstate" follow --netns "$TK_CLIENT_NS" --life --diagram "$TCPKIT_DEMO_DIAGRAM" > "$TK_TMP/life.out" 2> "$TK_TMP/life.err" &
  LIFE_PID=$!
  "$T/tcpstate" follow --netns "$TK_SERVER_NS" --summary > "$TK_TMP/edges.out" 2> "$TK_TMP/edges.err" &
  EDGES_PID=$!
  for _ in $(seq 100); do  # at most 10 s: until both say they are attached (or have ended)
    { grep -q following "$TK_TMP/life.err" || ! kill -0 "$LIFE_PID" 2>/dev/null; } &&
      { grep -q following "$TK_TMP/edges.err" || ! kill -0 "$EDGES_PID" 2>/dev/null; } && break
    sleep 0.1
  done
  # A stall of the delay line (a loaded machine) lets the server retransmit its FIN; the client
  # ACKs it again from TIME_WAIT, the server socket, gone, answers RST, and with tcp_rfc1337=0
  # that RST ends the TIME_WAIT: 7 shown where 8 were made. The fix of RFC 1337 keeps them all.
  in_client sysctl -qw net.ipv4.tcp_rfc1337=1
  mkfifo "$TK_TMP/hold" && exec 8<>"$TK_TMP/hold"  # the helpers hold their sockets until fd 8 closes
  ip netns exec "$TK_SERVER_NS" /usr/bin/python3 "$SOCKETS" server --hold-port 9090 --close-port 9091 \
    --name demo-server --hold 120 < "$TK_TMP/hold" > "$TK_TMP/server.ready" 2>&1 &
  SERVER_PID=$!
  wait_ready() {  # at most 30 s
    for _ in $(seq 300); do
      grep -q READY "$1" 2>/dev/null && return 0
      sleep 0.1
    done
    echo "demo: a socket helper did not start"; cat "$1"; return 1
  }
  wait_ready "$TK_TMP/server.ready" || true
  ip netns exec "$TK_CLIENT_NS" /usr/bin/python3 "$SOCKETS" client --server "$TK_SERVER_V4" --hold-port 9090 \
    --close-port 9091 --established 5 --fin-wait2 3 --time-wait 8 --name demo-client --hold 120 \
    < "$TK_TMP/hold" > "$TK_TMP/client.ready" 2>&1 &
  CLIENT_PID=$!
  wait_ready "$TK_TMP/client.ready" || true
  # tcpstate looks into the lab namespaces from outside (--netns): the states the demo made.
  show_here() { echo; echo "\$ $*"; "$@" || true; }
  show_here "$T/tcpstate" --netns "$TK_SERVER_NS" --summary
  show_here "$T/tcpstate" --netns "$TK_CLIENT_NS" --summary
  show_here "$T/tcpstate" --netns "$TK_SERVER_NS" --by process
  show_here "$T/tcpstate" --netns "$TK_SERVER_NS" --by peer
  show_here "$T/tcpstate" --netns "$TK_CLIENT_NS" time-wait
  show_here "$T/tcpstate" --netns "$TK_SERVER_NS" close-wait
  show_here "$T/tcpstate" --explain time-wait
  exec 8>&-
  kill "$SERVER_PID" "$CLIENT_PID" 2>/dev/null || true
  wait "$SERVER_PID" "$CLIENT_PID" 2>/dev/null || true
  # One refused connect for follow to see, then the closes settle (the 5 ms line) and Ctrl-C.
  in_client /usr/bin/python3 -c "import socket
try: socket.create_connection((\"$TK_SERVER_V4\", 8081), timeout=2)
except OSError: pass"
  sleep 1
  kill -INT "$LIFE_PID" "$EDGES_PID" 2>/dev/null || true
  wait "$LIFE_PID" "$EDGES_PID" 2>/dev/null || true
  echo; echo "\$ $T/tcpstate follow --netns $TK_CLIENT_NS --life --diagram $TCPKIT_DEMO_DIAGRAM   (stopped with Ctrl-C)"
  cat "$TK_TMP/life.out" "$TK_TMP/life.err"
  echo; echo "\$ $T/tcpstate follow --netns $TK_SERVER_NS --summary   (stopped with Ctrl-C)"
  cat "$TK_TMP/edges.out" "$TK_TMP/edges.err"
  [ -s "$TCPKIT_DEMO_DIAGRAM" ] && echo "The state diagram of the client'"'"'s connections: $TCPKIT_DEMO_DIAGRAM"
fi
echo
echo "demo: done; the lab is being removed"
'
