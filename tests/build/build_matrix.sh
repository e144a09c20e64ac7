#!/usr/bin/env bash
# The builds that users and packagers make, each with warnings as errors, and what they install
# (./run test runs this after the main build; CI is ./run test):
#   release  GCC 12, CMAKE_BUILD_TYPE=Release, without the tests: configured with a pkg-config
#            path that hides libtins, which only the tests may need;
#   debian   Debian's packaging build: CMAKE_BUILD_TYPE=None with dpkg-buildflags (hardening,
#            _FORTIFY_SOURCE, -O2), prefix /usr; `cpack -G DEB` makes the .deb; a program is built
#            on the installed tree through find_package(tcpkit) and through pkg-config; the .deb
#            is installed into a fresh bookworm (mmdebstrap), where every tool's --version runs;
#   clang    clang 14, RelWithDebInfo;
#   fuzz     the libFuzzer targets (clang, ASan+UBSan; docs/FUZZING.md), each run over its seed
#            corpus plus a bounded number of new inputs (tests/fuzz/run_fuzz.sh: FUZZ_RUNS, 20000);
#   tidy     clang-tidy (.clang-tidy: bugprone, cert, performance) over the clang step's compile
#            commands, libcommon/ and tools/; every finding is an error.
#   tests/build/build_matrix.sh [OUT_DIR]      env: STEPS=release,debian,clang,fuzz,tidy (default)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$ROOT/build-matrix}
STEPS=${STEPS:-release,debian,clang,fuzz,tidy}
JOBS=$(nproc 2>/dev/null || echo 2)
TOOLS=(tcpprobe tcpscan tcpstray tcpstate tcppath)
mkdir -p "$OUT"

# quiet NAME CMD...: runs CMD with its output in OUT/NAME.log, shown only when it fails.
quiet() {
  local name=$1; shift
  if ! "$@" > "$OUT/$name.log" 2>&1; then
    tail -n 60 "$OUT/$name.log" >&2
    echo "build_matrix: $name failed (whole log: $OUT/$name.log)" >&2
    exit 1
  fi
}
configure() {  # configure NAME DIR ARGS...: CMake, warnings as errors, no tests
  local name=$1 dir=$2; shift 2
  quiet "$name-configure" cmake -S "$ROOT" -B "$dir" -DTCPKIT_WERROR=ON -DTCPKIT_TESTS=OFF "$@"
}

if [[ $STEPS == *release* ]]; then
  echo "== build matrix: GCC, Release, without tests (libtins hidden from pkg-config)"
  # Every .pc file pkg-config knows but libtins's: a configure that still asked for libtins
  # would fail here.
  PCDIR=$OUT/pkgconfig-without-libtins
  rm -rf "$PCDIR"; mkdir -p "$PCDIR"
  IFS=: read -ra pc_path <<< "$(pkg-config --variable pc_path pkg-config)"
  for d in "${pc_path[@]}"; do
    for pc in "$d"/*.pc; do
      [ -e "$pc" ] && [ ! -e "$PCDIR/${pc##*/}" ] && [ "${pc##*/}" != libtins.pc ] && ln -s "$pc" "$PCDIR/"
    done
  done
  ! PKG_CONFIG_LIBDIR=$PCDIR pkg-config --exists libtins ||
    { echo "build_matrix: libtins is still visible to pkg-config" >&2; exit 1; }
  PKG_CONFIG_LIBDIR=$PCDIR configure release "$OUT/release" -DCMAKE_BUILD_TYPE=Release
  quiet release-build cmake --build "$OUT/release" -j "$JOBS"
  "$OUT/release/tools/tcpprobe" --version
fi

if [[ $STEPS == *debian* ]]; then
  echo "== build matrix: Debian packaging flags (dpkg-buildflags), .deb, installed use"
  (
    eval "$(dpkg-buildflags --export=sh)"
    # CMake reads CXXFLAGS and LDFLAGS from the environment, not CPPFLAGS.
    export CXXFLAGS="$CXXFLAGS $CPPFLAGS"
    configure debian "$OUT/debian" -DCMAKE_BUILD_TYPE=None -DCMAKE_INSTALL_PREFIX=/usr
  )
  quiet debian-build cmake --build "$OUT/debian" -j "$JOBS"
  # The hardening took: RELRO, and fortified calls (__*_chk) in the library. (Each listing is
  # read whole before grep: under pipefail, `nm | grep -q` fails when grep stops early and nm
  # dies of SIGPIPE, which a large symbol list makes likely.)
  grep -q GNU_RELRO <<< "$(readelf -lW "$OUT/debian/tools/tcpprobe")" ||
    { echo "build_matrix: tcpprobe has no RELRO segment" >&2; exit 1; }
  lib=$(find "$OUT/debian" -name 'libtcpkit.so.*.*' -type f | head -n 1)
  grep -q '__.*_chk' <<< "$(nm -D --undefined-only "$lib")" ||
    { echo "build_matrix: libtcpkit has no fortified calls: _FORTIFY_SOURCE did not take" >&2; exit 1; }
  rm -f "$OUT"/debian/tcpkit_*.deb
  quiet debian-cpack bash -c "cd '$OUT/debian' && cpack -G DEB"
  deb=$(ls "$OUT"/debian/tcpkit_*.deb)
  contents=$(dpkg-deb -c "$deb")
  for f in ./usr/bin/tcpprobe ./usr/bin/tcpstate libtcpkit.so.0 tcpkitConfig.cmake libtcpkit.pc \
           tcpkit/wire/port_list.hpp man1/tcpscan.1; do
    grep -q -- "$f" <<< "$contents" || { echo "build_matrix: $f missing from $deb" >&2; exit 1; }
  done
  depends=$(dpkg-deb -f "$deb" Depends)
  for d in libc6 libstdc++6 libpcap0.8; do
    grep -q "$d" <<< "$depends" || { echo "build_matrix: $deb does not depend on $d: $depends" >&2; exit 1; }
  done
  echo "$(basename "$deb"): Depends: $depends"

  # A program built on the installed tree, both ways a user's build finds a library.
  STAGE=$OUT/stage; rm -rf "$STAGE"
  DESTDIR=$STAGE quiet debian-install cmake --install "$OUT/debian"
  libdir=$(dirname "$(find "$STAGE/usr" -name 'libtcpkit.so' | head -n 1)")
  for how in OFF ON; do
    dir=$OUT/consumer-pkgconfig-$how; rm -rf "$dir"
    PKG_CONFIG_PATH=$libdir/pkgconfig quiet "consumer-$how" cmake -S "$ROOT/tests/build/consumer" -B "$dir" \
      -DCMAKE_PREFIX_PATH="$STAGE/usr" -DTCPKIT_CONSUMER_PKGCONFIG=$how
    quiet "consumer-$how-build" cmake --build "$dir"
    got=$(LD_LIBRARY_PATH=$libdir "$dir/consumer" ssh,80,8000-8002)
    [[ $got == "22,80,8000-8002" ]] ||
      { echo "build_matrix: consumer (pkg-config $how) printed '$got'" >&2; exit 1; }
  done
  echo "find_package(tcpkit) and pkg-config libtcpkit: a program builds, links and runs"

  # The .deb on a clean bookworm: apt resolves its Depends from the archive, then each tool runs.
  hooks=()
  for t in "${TOOLS[@]}"; do hooks+=(--customize-hook="chroot \"\$1\" $t --version"); done
  # The automount hook lets the chroot's dpkg reach the .deb, which lies outside it.
  quiet debian-clean-install mmdebstrap --variant=apt --hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
    --include="$deb" "${hooks[@]}" bookworm /dev/null
  for t in "${TOOLS[@]}"; do
    grep -q "^$t [0-9]" "$OUT/debian-clean-install.log" ||
      { tail -n 30 "$OUT/debian-clean-install.log" >&2; echo "build_matrix: $t --version did not run from the .deb" >&2; exit 1; }
  done
  echo "$(basename "$deb") installs on a clean bookworm; ${TOOLS[*]} --version run from it"
fi

if [[ $STEPS == *clang* ]]; then
  echo "== build matrix: clang, RelWithDebInfo"
  CC=clang CXX=clang++ configure clang "$OUT/clang" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
  quiet clang-build cmake --build "$OUT/clang" -j "$JOBS"
  "$OUT/clang/tools/tcpprobe" --version
fi

if [[ $STEPS == *fuzz* ]]; then
  echo "== build matrix: fuzz targets (clang, ASan+UBSan), short run"
  CC=clang CXX=clang++ quiet fuzz-configure cmake -S "$ROOT" -B "$OUT/fuzz" -DTCPKIT_FUZZ=ON -DTCPKIT_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo
  quiet fuzz-build cmake --build "$OUT/fuzz" -j "$JOBS" --target fuzzers
  OUT_DIR=$OUT/fuzz-run bash "$ROOT/tests/fuzz/run_fuzz.sh" "$OUT/fuzz" "${FUZZ_RUNS:-20000}" 60
fi

if [[ $STEPS == *tidy* ]]; then
  echo "== build matrix: clang-tidy (.clang-tidy) on libcommon/ and tools/"
  [ -f "$OUT/clang/compile_commands.json" ] || { echo "build_matrix: tidy needs the clang step" >&2; exit 1; }
  quiet clang-tidy run-clang-tidy -p "$OUT/clang" -quiet -j "$JOBS" "$ROOT/(libcommon|tools)/"
fi
echo "== build matrix: done ($STEPS)"
