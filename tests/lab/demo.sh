#!/usr/bin/env bash
# `./run demo`: builds a throwaway lab (client and server namespaces joined through a 5 ms
# delay line, a real TCP server, a dropped and a rejected port) and runs the tools against it.
# Everything happens inside the lab's namespaces and is removed at the end.
set -euo pipefail
BUILD=${1:?usage: demo.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
export TCPKIT_BUILD=$BUILD
if [ "$(id -u)" -ne 0 ]; then
  echo "demo: the lab needs root (network namespaces)" >&2
  exit 3
fi

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
if [ -x "$T/tcpprobe" ] && "$T/tcpprobe" --help | grep -q -- --trace; then
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
  show "$T/tcpstate" --summary
  show "$T/tcpstate" --explain time-wait
fi
echo
echo "demo: done; the lab is being removed"
'
