#!/usr/bin/env bash
# Side-by-side benchmarks of the tcpkit tools against their peers, in lab namespaces.
# Usage: bench/run.sh BUILD_DIR [tcpprobe|tcpscan|tcpscan-pacing|tcpstate|tcppath|follow ...]   (default: all of them)
# Called by `./run bench`, which installs the peers (hping3, nmap/nping, masscan, zmap, tcptraceroute,
# traceroute, mtr).
set -euo pipefail
BUILD=${1:?usage: bench/run.sh BUILD_DIR [NAME...]}
shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(tcpprobe tcpscan tcpscan-pacing tcpstate tcppath follow)
for name in "${names[@]}"; do
  echo "=== benchmark: $name"
  case $name in
    tcpprobe) /usr/bin/python3 "$ROOT/bench/tcpprobe_bench.py" --build "$BUILD" ;;
    tcpscan) bash "$ROOT/bench/tcpscan_bench.sh" "$BUILD" ;;
    tcpscan-pacing) bash "$ROOT/bench/tcpscan_pacing.sh" "$BUILD" ;;
    tcpstate) bash "$ROOT/bench/tcpstate_bench.sh" "$BUILD" ;;
    tcppath) /usr/bin/python3 "$ROOT/bench/tcppath_bench.py" --build "$BUILD" ;;
    follow) /usr/bin/python3 "$ROOT/bench/follow_bench.py" --build "$BUILD" ;;
    *) echo "bench: unknown benchmark '$name' (tcpprobe, tcpscan, tcpscan-pacing, tcpstate, tcppath, follow)" >&2; exit 2 ;;
  esac
done
