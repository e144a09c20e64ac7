"""The tcpkit test lab: throwaway network namespaces joined by veth pairs, real servers,
nftables rules, captures and an optional user-space delay line (this kernel has no netem).

    with lab.Lab() as L:                       # client_ns <-veth-> server_ns
    with lab.Lab(delay_ms=20, loss=0.1) as L:  # client_ns <-> middle_ns (delay line) <-> server_ns
    with lab.Lab(delay_ms=5, wire_pcap=True) as L:  # and the line records the client link:
        ...                                          # lab.read_pcap(L.wire_pcap), kernel stamps
    with lab.Lab(delay_ms=5, loss=0.2, burst=4) as L:           # losses in runs of 4 frames
    with lab.Lab(delay_ms=5, reorder=0.3, reorder_ms=8) as L:   # 30 % held 8 ms more: overtaken
    with lab.Lab(delay_ms=5, duplicate=0.2) as L:               # 20 % of the frames sent twice
(the faults are per direction, seeded by `seed`; tests/lab/delay_line.cpp documents them)
    with lab.Lab(delay_ms=40, fast_net=True) as L:  # and fast_ns on a veth of its own, no delay:
        ...  # L.fast_v4 in another /24 (subnet_fast_v4): one scan sees a fast and a slow network

Every name carries the creating pid ("tk<pid>-<n>-c"), so cleanup_stale() can remove what a
dead run left behind. Traffic only ever flows between the namespaces a Lab creates.
"""
import atexit
import ctypes
import ipaddress
import itertools
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
NAME_RE = re.compile(r"^tk(\d+)-(\d+)-([csmf]|r\d+)$")  # client, server, middle, fast, routers
ICMP_TYPES = {  # our name -> (ICMPv4 type name, ICMPv6 equivalent) as nft spells them
    "admin-prohibited": ("admin-prohibited", "admin-prohibited"),
    "port-unreachable": ("port-unreachable", "port-unreachable"),
    "host-unreachable": ("host-unreachable", "addr-unreachable"),
    "net-unreachable": ("net-unreachable", "no-route"),
}
NFT_TABLE = "tcpkit_lab"
_counter = itertools.count()
_open_labs = set()
_PR_SET_PDEATHSIG = 1


class LabError(RuntimeError):
    """The lab could not be built or a lab helper failed (environment failure)."""


def _in_ci():
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def require_root():
    """Integration tests need root. Under CI=true a missing privilege is a failure, never a
    skip; elsewhere it is a skip (inside pytest) or PermissionError (outside)."""
    if os.geteuid() == 0:
        return
    msg = "integration tests need root (network namespaces, veth, nftables)"
    if "pytest" in sys.modules:
        import pytest
        if _in_ci():
            pytest.fail(f"{msg}; CI=true, so this is a failure, not a skip", pytrace=False)
        pytest.skip(f"{msg}: not root", allow_module_level=True)
    raise PermissionError(msg)


def build_dir():
    return os.environ.get("TCPKIT_BUILD") or os.path.join(REPO, "build")


def _need_program(name):
    path = shutil.which(name)
    if path is None:
        raise LabError(f"lab needs '{name}' on PATH (see RUN_PACKAGES in ./run)")
    return path


def _ip(*args, check=True):
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
    if check and r.returncode != 0:
        raise LabError(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _list_netns():
    out = _ip("netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _kill_netns_processes(ns, deadline_s=3.0):
    """SIGKILL whatever still runs inside a namespace we made, and wait until it is gone."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        pids = [int(p) for p in _ip("netns", "pids", ns, check=False).stdout.split()]
        pids = [p for p in pids if p != os.getpid()]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def _delete_netns(ns):
    _kill_netns_processes(ns)
    _ip("netns", "del", ns, check=False)


def cleanup_stale():
    """Delete lab namespaces whose creating process is gone (a run killed with SIGKILL)."""
    for ns in _list_netns():
        m = NAME_RE.match(ns)
        if m and not _pid_alive(int(m.group(1))):
            _delete_netns(ns)


def _die_with_parent():
    # Children of the lab die with it even if the test runner is SIGKILLed.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def _read_line(proc, want, timeout):
    """Wait (bounded) for a line `want` on proc.stdout; False if it never came."""
    end = time.monotonic() + timeout
    buf = b""
    fd = proc.stdout.fileno()
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
        if want.encode() in buf.split(b"\n"):
            return True
    return False


def _stop_process(proc, sig=signal.SIGTERM, grace=3.0):
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        except ProcessLookupError:
            pass
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream:
            stream.close()


def read_pcap(path):
    """Classic pcap -> (linktype, [(time_ns, frame bytes)]). Both byte orders, us or ns."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError(f"{path}: not a pcap file (too short)")
    magic_le = struct.unpack("<I", data[:4])[0]
    known = {0xA1B2C3D4: 1000, 0xA1B23C4D: 1}  # frac unit in ns
    if magic_le in known:
        endian, unit = "<", known[magic_le]
    elif struct.unpack(">I", data[:4])[0] in known:
        endian, unit = ">", known[struct.unpack(">I", data[:4])[0]]
    else:
        raise ValueError(f"{path}: not a classic pcap file")
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    frames, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        if off + incl > len(data):
            break  # truncated last record (capture stopped mid-write)
        frames.append((sec * 1_000_000_000 + frac * unit, data[off:off + incl]))
        off += incl
    frames.sort(key=lambda f: f[0])  # the delay line's record is written by two threads
    return linktype, frames


LINKTYPE_NAMES = {1: "EN10MB", 101: "RAW", 113: "LINUX_SLL", 276: "LINUX_SLL2"}


def ip_payload(linktype, frame):
    """Offset of the IP header in a frame, or None if it is not IP."""
    if linktype == 1:
        off, etype = 14, struct.unpack("!H", frame[12:14])[0] if len(frame) >= 14 else 0
        while etype in (0x8100, 0x88A8) and len(frame) >= off + 4:
            etype, off = struct.unpack("!H", frame[off + 2:off + 4])[0], off + 4
        return off if etype in (0x0800, 0x86DD) else None
    if linktype == 113:
        return 16 if len(frame) >= 16 and frame[14:16] in (b"\x08\x00", b"\x86\xdd") else None
    if linktype == 276:
        return 20 if len(frame) >= 20 and frame[0:2] in (b"\x08\x00", b"\x86\xdd") else None
    if linktype == 101:
        return 0
    raise ValueError(f"unsupported pcap link type {linktype}")


def tcp_segment(linktype, frame):
    """(src, dst, sport, dport, seq, ack, flags) of a TCP frame, else None. Never raises on
    short or odd frames: they are skipped."""
    off = ip_payload(linktype, frame)
    if off is None or len(frame) < off + 1:
        return None
    version = frame[off] >> 4
    if version == 4 and len(frame) >= off + 20:
        ihl = (frame[off] & 0x0F) * 4
        if frame[off + 9] != 6 or ihl < 20:
            return None
        src, dst = frame[off + 12:off + 16], frame[off + 16:off + 20]
        t = off + ihl
    elif version == 6 and len(frame) >= off + 40:
        if frame[off + 6] != 6:  # extension headers never appear in the lab's handshakes
            return None
        src, dst = frame[off + 8:off + 24], frame[off + 24:off + 40]
        t = off + 40
    else:
        return None
    if len(frame) < t + 14:
        return None
    sport, dport, seq, ack = struct.unpack("!HHII", frame[t:t + 12])
    return bytes(src), bytes(dst), sport, dport, seq, ack, frame[t + 13]


SYN, RST, ACK = 0x02, 0x04, 0x10


def wire_handshakes(path, port):
    """Every answered handshake to `port` seen on the wire: dicts with the client port, the SYN
    time and the wire RTT (SYN -> the SYN/ACK that acks it). A SYN/ACK is matched to the most
    recent unanswered SYN with the same ports and seq == ack - 1 (nping repeats both)."""
    linktype, frames = read_pcap(path)
    pending = {}   # (client addr, client port, seq) -> SYN time of the latest unanswered SYN
    out, syns, stray = [], 0, 0
    for t_ns, frame in frames:
        seg = tcp_segment(linktype, frame)
        if seg is None:
            continue
        src, dst, sport, dport, seq, ack, flags = seg
        if flags & RST:
            continue
        if flags & SYN and not flags & ACK and dport == port:
            pending[(src, sport, seq)] = t_ns
            syns += 1
        elif flags & SYN and flags & ACK and sport == port:
            t_syn = pending.pop((dst, dport, (ack - 1) & 0xFFFFFFFF), None)
            if t_syn is None:
                stray += 1  # a retransmitted SYN/ACK, or its SYN came before the capture
                continue
            out.append({"client_port": dport, "syn_ns": t_syn, "synack_ns": t_ns,
                        "wire_rtt_ns": t_ns - t_syn})
    out.sort(key=lambda h: h["syn_ns"])
    return {"linktype": linktype, "linktype_name": LINKTYPE_NAMES.get(linktype, "?"),
            "frames": len(frames), "syns": syns, "unanswered_syns": len(pending),
            "stray_synacks": stray, "handshakes": out}


def syn_times(path):
    """Capture times (ns), sorted, of the pure SYNs (no other flag of the six) in a pcap."""
    linktype, frames = read_pcap(path)
    out = []
    for t_ns, frame in frames:
        seg = tcp_segment(linktype, frame)
        if seg is not None and seg[6] & 0x3F == SYN:
            out.append(t_ns)
    return sorted(out)


def missing_runs(present, numbers):
    """Lengths of the runs of consecutive `numbers` (in order) that are not in `present`: how
    loss clusters (frames that never arrived, probes never answered)."""
    have, runs, run = set(present), [], 0
    for n in numbers:
        if n in have:
            if run:
                runs.append(run)
            run = 0
        else:
            run += 1
    return runs + ([run] if run else [])


def most_in_window(times, window_ns):
    """The most of the sorted times that fall in any half-open window [t, t + window_ns)."""
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window_ns:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


class Capture:
    """tcpdump -w running in a namespace; stop() flushes it and returns the pcap path."""

    def __init__(self, lab, ns, iface, bpf, path):
        self.path = path
        self._lab = lab
        self.proc = lab._popen(ns, ["tcpdump", "-i", iface, "-n", "-U", "--immediate-mode",
                                    "-Z", "root", "-w", path, *([bpf] if bpf else [])],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # tcpdump says "listening on" once its socket is open: only then is capture live.
        if not self._wait_listening(10.0):
            self.proc.kill()
            err = self.proc.communicate(timeout=5)[1].decode(errors="replace").strip()
            raise LabError(f"tcpdump in {ns} on {iface} did not start: {err}")

    def _wait_listening(self, timeout):
        end = time.monotonic() + timeout
        buf = b""
        while time.monotonic() < end and self.proc.poll() is None:
            ready, _, _ = select.select([self.proc.stderr], [], [], 0.1)
            if ready:
                chunk = os.read(self.proc.stderr.fileno(), 4096)
                buf += chunk
                if b"listening on" in buf:
                    return True
        return False

    def stop(self, settle=0.2):
        """Give the last packets `settle` seconds to reach tcpdump, stop it, wait for it to
        write everything out; returns the pcap path."""
        if self.proc.poll() is None:
            time.sleep(settle)
            _stop_process(self.proc, signal.SIGINT, grace=5.0)
        return self.path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Lab:
    """Namespaces, veths and addresses for one test; everything is removed on close()."""

    def __init__(self, delay_ms=None, loss=0.0, seed=1, ipv6=True, prime_neighbours=True,
                 wire_pcap=None, burst=1, reorder=0.0, reorder_ms=10.0, duplicate=0.0,
                 fast_net=False, routers=0):
        require_root()
        # routers=N: a chain client - r1 - ... - rN - server of Linux routers (forwarding on,
        # default ICMP rate limits), one /24 and /64 per link; no delay line with it.
        if int(routers) != routers or not 0 <= routers <= 8:
            raise ValueError("routers must be a whole number in [0, 8]")
        if routers and (delay_ms is not None or fast_net):
            raise ValueError("routers go with neither the delay line nor fast_net")
        self.routers = int(routers)
        if delay_ms is not None and not 0 <= float(delay_ms) <= 60000:
            raise ValueError("delay_ms must be in [0, 60000]")
        for name, share in (("loss", loss), ("reorder", reorder), ("duplicate", duplicate)):
            if not 0.0 <= float(share) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]")
        if int(burst) != burst or not 1 <= burst <= 10000:
            raise ValueError("burst must be a whole number of frames in [1, 10000]")
        if not 0 < float(reorder_ms) <= 60000:
            raise ValueError("reorder_ms must be in (0, 60000]")
        if (loss or reorder or duplicate) and delay_ms is None:
            raise ValueError("loss, reorder and duplicate need the delay line: pass delay_ms (0 is fine)")
        self.burst, self.reorder, self.duplicate = int(burst), float(reorder), float(duplicate)
        self.reorder_ms = float(reorder_ms)
        for prog in ("ip", "ethtool"):
            _need_program(prog)
        cleanup_stale()
        self.build = build_dir()
        self.delay_ms, self.loss, self.seed, self.ipv6 = delay_ms, float(loss), int(seed), ipv6
        if wire_pcap and delay_ms is None:
            raise ValueError("wire_pcap is written by the delay line: pass delay_ms (0 is fine)")
        # The delay line's record of the client-side link (see tests/lab/delay_line.cpp --pcap):
        # a path, or True for one in the lab's temporary directory.
        self.wire_pcap = wire_pcap
        self.prime_neighbours = prime_neighbours
        self._procs = []
        self._captures = []
        self._namespaces = []
        self._anyip = []
        self._nft_ready = set()
        self._closed = False
        self.delay_proc = None
        self.tmpdir = tempfile.mkdtemp(prefix="tcpkit-lab-")
        os.chmod(self.tmpdir, 0o755)  # tools run as nobody may need to read what we put here

        n = next(_counter)
        taken = set(_list_netns())
        while f"tk{os.getpid()}-{n}-c" in taken:  # a dead process with our pid left it
            n = next(_counter)
        prefix = f"tk{os.getpid()}-{n}"
        self.net_id = 201 + (os.getpid() * 7 + n) % 50
        self.subnet_v4 = f"10.{self.net_id}.0.0/24"
        self.subnet_v6 = f"fd00:{self.net_id}::/64"
        self.client_ns, self.server_ns = f"{prefix}-c", f"{prefix}-s"
        # A second network, straight from the client (never through the delay line), so that
        # one scan can cover a fast and a slow network (tcpscan's per-network waits).
        self.fast_ns = f"{prefix}-f" if fast_net else None
        self.subnet_fast_v4 = f"10.{self.net_id}.1.0/24" if fast_net else None
        self.client_fast_v4 = f"10.{self.net_id}.1.1" if fast_net else None
        self.fast_v4 = f"10.{self.net_id}.1.2" if fast_net else None
        self.middle_ns = f"{prefix}-m" if delay_ms is not None else None
        self.client_if, self.server_if = "tkc0", "tks0"
        # Middle-side ends (client side, server side): where to capture what the line sees.
        self.middle_ifs = ("tkmc", "tkms") if delay_ms is not None else ()
        self.client_v4, self.server_v4 = f"10.{self.net_id}.0.1", f"10.{self.net_id}.0.2"
        self.client_v6 = f"fd00:{self.net_id}::1" if ipv6 else None
        self.server_v6 = f"fd00:{self.net_id}::2" if ipv6 else None
        # The chain: link k joins node k and node k+1 (node 0 the client, node N+1 the server);
        # its left end is .1, its right end .2. Router k answers from its left address.
        self.router_ns = [f"{prefix}-r{k}" for k in range(1, self.routers + 1)]
        self.router_v4 = [f"10.{self.net_id}.{k - 1}.2" for k in range(1, self.routers + 1)]
        # Written as every tool prints them (fd00:7::2, not fd00:7:0::2).
        self.router_v6 = ([str(ipaddress.ip_address(f"fd00:{self.net_id}:{k - 1}::2")) for k in range(1, self.routers + 1)]
                          if ipv6 else [])
        if self.routers:
            self.server_v4 = f"10.{self.net_id}.{self.routers}.2"
            self.client_v6 = f"fd00:{self.net_id}::1" if ipv6 else None
            self.server_v6 = f"fd00:{self.net_id}:{self.routers}::2" if ipv6 else None
        _open_labs.add(self)
        _install_sigterm_handler()
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    # ---- construction ----
    def _add_ns(self, ns):
        _ip("netns", "add", ns)
        self._namespaces.append(ns)
        _ip("-n", ns, "link", "set", "lo", "up")

    def _veth(self, ns_a, if_a, ns_b, if_b):
        # Created directly inside the namespaces: no name in the root namespace is touched.
        _ip("-n", ns_a, "link", "add", if_a, "type", "veth", "peer", "name", if_b, "netns", ns_b)
        for ns, ifname in ((ns_a, if_a), (ns_b, if_b)):
            # Offloads off: otherwise frames cross with unfinished checksums or as GSO giants.
            r = self._exec(ns, ["ethtool", "-K", ifname, "tx", "off", "tso", "off", "gso", "off",
                                "gro", "off"])
            if r.returncode != 0:
                raise LabError(f"ethtool -K {ifname} in {ns}: {r.stderr.strip()}")

    def _build_chain(self):
        n = self.routers
        nodes = [self.client_ns] + self.router_ns + [self.server_ns]
        for ns in nodes:
            self._add_ns(ns)
            if self.ipv6:
                # No duplicate address detection, link-local addresses included: while those are
                # tentative a router cannot solicit its neighbours, and the first packets through
                # it waited ~1.8 s.
                for key in ("net.ipv6.conf.all.accept_dad", "net.ipv6.conf.default.accept_dad"):
                    self.sysctl(ns, key, 0)
        for ns in self.router_ns:
            self.sysctl(ns, "net.ipv4.ip_forward", 1)
            if self.ipv6:
                self.sysctl(ns, "net.ipv6.conf.all.forwarding", 1)
        links = []
        for k in range(n + 1):  # link k: nodes[k] (its "right" side) to nodes[k+1] (its "left")
            left_if = self.client_if if k == 0 else "tkr"
            right_if = self.server_if if k == n else "tkl"
            self._veth(nodes[k], left_if, nodes[k + 1], right_if)
            for ns, ifname, end in ((nodes[k], left_if, 1), (nodes[k + 1], right_if, 2)):
                _ip("-n", ns, "addr", "add", f"10.{self.net_id}.{k}.{end}/24", "dev", ifname)
                if self.ipv6:
                    _ip("-n", ns, "-6", "addr", "add", f"fd00:{self.net_id}:{k}::{end}/64", "dev", ifname, "nodad")
                _ip("-n", ns, "link", "set", ifname, "up")
                links.append((ns, ifname))
        # Routes: towards the server via the right neighbour, towards the client via the left.
        for i, ns in enumerate(nodes):
            for k in range(n + 1):
                if k in (i - 1, i):
                    continue  # connected
                towards_right = k > i
                via_link = i if towards_right else i - 1
                via_end = 2 if towards_right else 1
                _ip("-n", ns, "route", "add", f"10.{self.net_id}.{k}.0/24", "via", f"10.{self.net_id}.{via_link}.{via_end}")
                if self.ipv6:
                    _ip("-n", ns, "-6", "route", "add", f"fd00:{self.net_id}:{k}::/64",
                        "via", f"fd00:{self.net_id}:{via_link}::{via_end}")
        self._wait_carrier(links)
        if self.prime_neighbours:
            # One datagram end to end resolves every link's neighbours (the server's port
            # unreachable resolves the way back); the client's own check would wait for a
            # neighbour entry of the server, which is no neighbour here.
            code = ("import socket,sys\n"
                    "for a in sys.argv[1:]:\n"
                    " s=socket.socket(socket.AF_INET6 if ':' in a else socket.AF_INET,socket.SOCK_DGRAM)\n"
                    " s.sendto(b'',(a,9))\n")
            self._exec(self.client_ns, [sys.executable, "-c", code, self.server_v4] + ([self.server_v6] if self.ipv6 else []))
            time.sleep(0.2)

    def _build(self):
        if self.routers:
            self._build_chain()
            return
        self._add_ns(self.client_ns)
        self._add_ns(self.server_ns)
        if self.middle_ns:
            self._add_ns(self.middle_ns)
            # The middle namespace must stay silent: no IPv6 link-local chatter of its own.
            for key in ("net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"):
                self.sysctl(self.middle_ns, key, 1)
            self._veth(self.client_ns, self.client_if, self.middle_ns, "tkmc")
            self._veth(self.server_ns, self.server_if, self.middle_ns, "tkms")
        else:
            self._veth(self.client_ns, self.client_if, self.server_ns, self.server_if)
        if self.fast_ns:
            self._add_ns(self.fast_ns)
            self._veth(self.client_ns, "tkc1", self.fast_ns, "tkf0")
        for ns in (self.client_ns, self.server_ns) + ((self.fast_ns,) if self.fast_ns else ()):
            # ICMP errors are rate limited per peer by default: a reject would then answer
            # only some probes. The lab wants every probe answered (tests may turn it back on).
            for key, value in (("net.ipv4.icmp_ratelimit", 0), ("net.ipv6.icmp.ratelimit", 0),
                               ("net.ipv4.icmp_msgs_per_sec", 100000),
                               ("net.ipv4.icmp_msgs_burst", 100000)):
                self.sysctl(ns, key, value)
        for ns, ifname, v4, v6 in ((self.client_ns, self.client_if, self.client_v4, self.client_v6),
                                   (self.server_ns, self.server_if, self.server_v4, self.server_v6)):
            _ip("-n", ns, "addr", "add", f"{v4}/24", "dev", ifname)
            if v6:
                _ip("-n", ns, "-6", "addr", "add", f"{v6}/64", "dev", ifname, "nodad")
        links = [(self.client_ns, self.client_if), (self.server_ns, self.server_if)]
        if self.fast_ns:
            _ip("-n", self.client_ns, "addr", "add", f"{self.client_fast_v4}/24", "dev", "tkc1")
            _ip("-n", self.fast_ns, "addr", "add", f"{self.fast_v4}/24", "dev", "tkf0")
            links += [(self.client_ns, "tkc1"), (self.fast_ns, "tkf0")]
        if self.middle_ns:
            links += [(self.middle_ns, "tkmc"), (self.middle_ns, "tkms")]
        for ns, ifname in links:
            _ip("-n", ns, "link", "set", ifname, "up")
        if self.middle_ns:
            self._start_delay_line()
        self._wait_carrier(links)
        if self.prime_neighbours and self.loss < 1.0:
            self._prime_neighbours()

    def _start_delay_line(self):
        exe = self.lab_bin("delay_line")
        argv = [exe, "--a", "tkmc", "--b", "tkms", "--delay-ms", repr(float(self.delay_ms)),
                "--loss", repr(self.loss), "--seed", str(self.seed), "--max-seconds", "3600"]
        if self.burst > 1:
            argv += ["--burst", str(self.burst)]
        if self.reorder:
            argv += ["--reorder", repr(self.reorder), "--reorder-ms", repr(self.reorder_ms)]
        if self.duplicate:
            argv += ["--duplicate", repr(self.duplicate)]
        if self.wire_pcap is True:
            self.wire_pcap = os.path.join(self.tmpdir, "link.pcap")
        if self.wire_pcap:
            argv += ["--pcap", self.wire_pcap]
        self.delay_proc = self._popen(self.middle_ns, argv, stdout=subprocess.PIPE)
        if not _read_line(self.delay_proc, "ready", 10.0):
            raise LabError(f"delay line did not start (exit code {self.delay_proc.poll()})")

    def _wait_carrier(self, links, timeout=5.0):
        end = time.monotonic() + timeout
        for ns, ifname in links:
            while "LOWER_UP" not in _ip("-n", ns, "-o", "link", "show", ifname).stdout:
                if time.monotonic() > end:
                    raise LabError(f"{ifname} in {ns} has no carrier after {timeout}s")
                time.sleep(0.02)

    def _prime_neighbours(self, timeout=3.0):
        """Resolve ARP/ND both ways once, so the first measured handshake of a test is not
        also paying for address resolution. A lossy line may defeat it: that is not an error."""
        peers = [(self.server_v4, "-4")] + ([(self.server_v6, "-6")] if self.ipv6 else [])
        if self.fast_ns:
            peers.append((self.fast_v4, "-4"))
        code = ("import socket,sys\n"
                "for a in sys.argv[1:]:\n"
                " s=socket.socket(socket.AF_INET6 if ':' in a else socket.AF_INET,socket.SOCK_DGRAM)\n"
                " s.sendto(b'',(a,9))\n")  # discard port: the datagram itself is irrelevant
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self._exec(self.client_ns, [sys.executable, "-c", code] + [a for a, _ in peers])
            time.sleep(0.05 + 2 * (self.delay_ms or 0) / 1000.0)
            if all(re.search(r"\b(REACHABLE|STALE|DELAY)\b",
                             _ip("-n", self.client_ns, fam, "neigh", "show", addr).stdout)
                   for addr, fam in peers):
                return

    # ---- paths ----
    def tool(self, name):
        """Path of a built tool; a missing binary is an error (tests fail, never skip)."""
        return self._built(os.path.join(self.build, "tools", name))

    def lab_bin(self, name):
        """Path of a built lab program (tests/lab/<name>.cpp -> tests/lab_<name>)."""
        return self._built(os.path.join(self.build, "tests", f"lab_{name}"))

    @staticmethod
    def _built(path):
        if not os.access(path, os.X_OK):
            raise FileNotFoundError(f"{path} is not built (cmake --build; set TCPKIT_BUILD)")
        return path

    # ---- running things in the namespaces ----
    @staticmethod
    def _wrap(ns, argv, no_net_raw=False, unprivileged_user=False):
        cmd = ["ip", "netns", "exec", ns]
        if no_net_raw or unprivileged_user:
            cmd += [_need_program("setpriv")]
            if no_net_raw:
                # Bounding and inheritable sets both: root regains caps from them on exec.
                cmd += ["--bounding-set", "-net_raw", "--inh-caps", "-net_raw"]
            if unprivileged_user:
                cmd += ["--reuid", "nobody", "--regid", "nogroup", "--clear-groups"]
            cmd += ["--"]
        return cmd + [str(a) for a in argv]

    def _exec(self, ns, argv, timeout=60, input=None, check=False, **wrap):
        return subprocess.run(self._wrap(ns, argv, **wrap), capture_output=True, text=True,
                              timeout=timeout, input=input, check=check)

    def _popen(self, ns, argv, no_net_raw=False, unprivileged_user=False, **kw):
        kw.setdefault("preexec_fn", _die_with_parent)
        proc = subprocess.Popen(self._wrap(ns, argv, no_net_raw, unprivileged_user), **kw)
        self._procs.append(proc)
        return proc

    def run_client(self, argv, timeout=60, no_net_raw=False, unprivileged_user=False,
                   input=None, check=False):
        return self._exec(self.client_ns, argv, timeout, input, check, no_net_raw=no_net_raw,
                          unprivileged_user=unprivileged_user)

    def run_server(self, argv, timeout=60, no_net_raw=False, unprivileged_user=False,
                   input=None, check=False):
        return self._exec(self.server_ns, argv, timeout, input, check, no_net_raw=no_net_raw,
                          unprivileged_user=unprivileged_user)

    def popen_client(self, argv, **popen_kw):
        return self._popen(self.client_ns, argv, **popen_kw)

    def popen_server(self, argv, **popen_kw):
        return self._popen(self.server_ns, argv, **popen_kw)

    def popen_fast(self, argv, **popen_kw):
        """A process in fast_ns (Lab(fast_net=True))."""
        if not self.fast_ns:
            raise LabError("this Lab was made without fast_net")
        return self._popen(self.fast_ns, argv, **popen_kw)

    def run_python(self, ns, code, timeout=30):
        """Run a Python snippet in a namespace (used to probe from the lab's own ends)."""
        return self._exec(ns, [sys.executable, "-c", code], timeout=timeout)

    def start_nginx(self, listen, port, worker_connections=1024, timeout=10.0, files=None):
        """Real nginx (nginx-light) in the server namespace: `listen` is its listen directive's
        arguments ("10.1.0.2:80", "10.1.0.2:80 deferred"), every request answered "ok", but
        /files/NAME for each NAME: bytes of `files`. Returns once something listens on `port`."""
        d = self.tmpdir
        www = os.path.join(d, "www")
        os.makedirs(www, mode=0o755, exist_ok=True)
        for name, content in (files or {}).items():
            with open(os.path.join(www, name), "wb") as f:
                f.write(content)
            os.chmod(os.path.join(www, name), 0o644)
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log;
events {{ worker_connections {worker_connections}; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{ listen {listen}; location / {{ return 200 "ok\\n"; }} location /files/ {{ alias {www}/; }} }}
}}
""")
        proc = self.popen_server(["nginx", "-c", conf, "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
        end = time.monotonic() + timeout
        while f":{port} " not in self.run_server(["ss", "-Htln"]).stdout:
            if proc.poll() is not None or time.monotonic() > end:
                _stop_process(proc)
                raise LabError(f"nginx did not listen on {port}: {proc.stderr.read().decode()[-500:]}")
            time.sleep(0.05)
        return proc

    def start_server(self, port, mode="hold", family="both", banner=b"", close_delay_ms=50,
                     backlog=128, max_seconds=3600, banner_delay_ms=0):
        argv = [sys.executable, os.path.join(HERE, "tcp_server.py"), "--port", port,
                "--mode", mode, "--family", family, "--banner-hex", bytes(banner).hex(),
                "--close-delay-ms", close_delay_ms, "--banner-delay-ms", banner_delay_ms,
                "--backlog", backlog,
                "--max-seconds", max_seconds]
        proc = self.popen_server(argv, stdout=subprocess.PIPE)
        if not _read_line(proc, "listening", 10.0):
            _stop_process(proc)
            raise LabError(f"tcp_server on port {port} ({mode}) did not start "
                           f"(exit code {proc.returncode})")
        return proc

    # ---- firewall, sysctl, routes ----
    def nft(self, ns, script):
        r = subprocess.run(self._wrap(ns, [_need_program("nft"), "-f", "-"]), input=script,
                           capture_output=True, text=True, timeout=20)
        if r.returncode != 0:
            raise LabError(f"nft in {ns}: {r.stderr.strip()}\n{script}")

    def _input_chain(self, ns):
        if ns not in self._nft_ready:
            self.nft(ns, f"table inet {NFT_TABLE} {{\n chain input {{ type filter hook input "
                         f"priority 0; policy accept; }}\n}}\n")
            self._nft_ready.add(ns)
        return f"inet {NFT_TABLE} input"

    @staticmethod
    def _port_set(ports):
        ports = [int(p) for p in ([ports] if isinstance(ports, int) else ports)]
        if not ports or any(not 0 < p < 65536 for p in ports):
            raise ValueError(f"bad port list {ports}")
        return "{ " + ", ".join(map(str, ports)) + " }"

    def drop_ports(self, ports):
        """Inbound SYNs to these ports vanish in server_ns (v4 and v6): "filtered"."""
        chain = self._input_chain(self.server_ns)
        self.nft(self.server_ns, f"add rule {chain} tcp dport {self._port_set(ports)} "
                                 f"tcp flags & (syn | ack) == syn drop\n")

    def reject_ports(self, ports, icmp="admin-prohibited"):
        """Inbound TCP to these ports is answered with an ICMP/ICMPv6 error of that kind."""
        if icmp not in ICMP_TYPES:
            raise ValueError(f"icmp must be one of {sorted(ICMP_TYPES)}")
        v4, v6 = ICMP_TYPES[icmp]
        chain, pset = self._input_chain(self.server_ns), self._port_set(ports)
        self.nft(self.server_ns,
                 f"add rule {chain} meta nfproto ipv4 tcp dport {pset} reject with icmp type {v4}\n"
                 f"add rule {chain} meta nfproto ipv6 tcp dport {pset} "
                 f"reject with icmpv6 type {v6}\n")

    def pin_neighbours(self):
        """Permanent neighbour entries between client and server (IPv4, and IPv6 when on), so that
        a lossy line cannot lose the address resolution itself: a burst that ate the ARP requests
        left the client's entry FAILED and every probe of a loss test unsent (seen here: 400 of
        400 "filtered" at 20 % loss in bursts of 4)."""
        def mac(ns, ifname):
            out = _ip("-n", ns, "-o", "link", "show", ifname).stdout
            return re.search(r"link/ether ([0-9a-f:]{17})", out).group(1)
        ends = ((self.client_ns, self.client_if, self.client_v4, self.client_v6),
                (self.server_ns, self.server_if, self.server_v4, self.server_v6))
        for (ns, ifname, _, _), (peer_ns, peer_if, peer_v4, peer_v6) in (ends, ends[::-1]):
            lladdr = mac(peer_ns, peer_if)
            for address in [peer_v4] + ([peer_v6] if self.ipv6 and peer_v6 else []):
                _ip("-n", ns, "neigh", "replace", address, "lladdr", lladdr, "dev", ifname, "nud", "permanent")

    def sysctl(self, ns, key, value):
        r = self._exec(ns, ["sysctl", "-qw", f"{key}={value}"], timeout=10)
        if r.returncode != 0:
            raise LabError(f"sysctl {key}={value} in {ns}: {r.stderr.strip()}")

    def add_anyip(self, cidr, fast=False):
        """Every address of `cidr` answers in server_ns (AnyIP); client_ns routes it there.
        The block must not overlap the lab's own subnet (use e.g. 10.99.0.0/16).
        fast=True: in fast_ns instead (Lab(fast_net=True), IPv4 only), never delayed."""
        net = ipaddress.ip_network(cidr, strict=True)
        own = ipaddress.ip_network(self.subnet_v4 if net.version == 4 else self.subnet_v6)
        if net.overlaps(own) or (self.fast_ns and net.overlaps(ipaddress.ip_network(self.subnet_fast_v4))):
            raise ValueError(f"{cidr} overlaps a lab subnet")
        if net.version == 6 and not self.ipv6:
            raise ValueError("this Lab was made with ipv6=False")
        if fast and (not self.fast_ns or net.version != 4):
            raise ValueError("fast AnyIP needs Lab(fast_net=True) and an IPv4 block")
        fam = "-4" if net.version == 4 else "-6"
        via = self.fast_v4 if fast else self.server_v4 if net.version == 4 else self.server_v6
        _ip("-n", self.fast_ns if fast else self.server_ns, fam, "route", "add", "local", str(net), "dev", "lo")
        _ip("-n", self.client_ns, fam, "route", "add", str(net), "via", via)
        self._anyip.append(str(net))

    def capture(self, ns, iface, bpf="", path=None):
        """Start tcpdump on iface in ns; returns a Capture (also a context manager)."""
        _need_program("tcpdump")
        if path is None:
            path = os.path.join(self.tmpdir, f"cap{len(self._captures)}-{ns}-{iface}.pcap")
        cap = Capture(self, ns, iface, bpf, path)
        self._captures.append(cap)
        return cap

    # ---- teardown ----
    def close(self):
        """Stop everything and delete the namespaces. Safe to call twice and on half-built labs."""
        if self._closed:
            return
        self._closed = True
        global _closing
        _closing += 1
        try:
            for cap in self._captures:
                try:
                    cap.stop(settle=0)
                except Exception:
                    pass
            for proc in reversed(self._procs):
                try:
                    _stop_process(proc)
                except Exception:
                    pass
            for ns in reversed(self._namespaces):
                _delete_netns(ns)
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        finally:
            _closing -= 1
            _open_labs.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if not getattr(self, "_closed", True):
            try:
                self.close()
            except Exception:
                pass


_closing = 0
_handler_installed = False


def _on_sigterm(signum, frame):
    if _closing:  # already tearing down: let that finish
        return
    # Unwind like Ctrl-C so every `with Lab()` and fixture teardown runs.
    raise KeyboardInterrupt(f"signal {signum}")


def _install_sigterm_handler():
    global _handler_installed
    if _handler_installed or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _on_sigterm)
    _handler_installed = True


@atexit.register
def _close_all():
    for lab in list(_open_labs):
        lab.close()


def _parse_cli(argv):
    import argparse
    p = argparse.ArgumentParser(
        prog="lab.py", description="Build a lab, run CMD with its facts in TK_* variables "
        "(TK_CLIENT_NS, TK_SERVER_NS, TK_MIDDLE_NS, TK_CLIENT_V4, TK_SERVER_V4, TK_CLIENT_V6, "
        "TK_SERVER_V6, TK_CLIENT_IF, TK_SERVER_IF), then tear it down. Exit code: CMD's.")
    p.add_argument("--delay-ms", type=float)
    p.add_argument("--loss", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--burst", type=int, default=1, help="losses in runs of N frames")
    p.add_argument("--reorder", type=float, default=0.0, help="share of frames held back")
    p.add_argument("--reorder-ms", type=float, default=10.0, help="how long they are held")
    p.add_argument("--duplicate", type=float, default=0.0, help="share of frames sent twice")
    p.add_argument("--server", action="append", default=[], metavar="PORT[:MODE]",
                   help="start tcp_server.py in server_ns (repeatable)")
    p.add_argument("--drop", default="", metavar="PORTS", help="comma list: SYNs dropped")
    p.add_argument("--reject", default="", metavar="PORTS", help="comma list: ICMP admin-prohibited")
    p.add_argument("--anyip", action="append", default=[], metavar="CIDR")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    a = p.parse_args(argv)
    if a.cmd[:1] == ["--"]:
        a.cmd = a.cmd[1:]
    if not a.cmd:
        p.error("give a command after --")
    return a


def main(argv):
    """Shell entry point (for ./run demo and bench scripts written in bash)."""
    a = _parse_cli(argv)
    with Lab(delay_ms=a.delay_ms, loss=a.loss, seed=a.seed, burst=a.burst, reorder=a.reorder,
             reorder_ms=a.reorder_ms, duplicate=a.duplicate) as L:
        for spec in a.server:
            port, _, mode = spec.partition(":")
            L.start_server(int(port), mode=mode or "hold")
        if a.drop:
            L.drop_ports([int(x) for x in a.drop.split(",")])
        if a.reject:
            L.reject_ports([int(x) for x in a.reject.split(",")])
        for cidr in a.anyip:
            L.add_anyip(cidr)
        env = dict(os.environ, TK_BUILD=L.build)
        for key in ("client_ns", "server_ns", "middle_ns", "client_v4", "server_v4", "client_v6",
                    "server_v6", "client_if", "server_if"):
            env["TK_" + key.upper()] = getattr(L, key) or ""
        # Not through _popen: CMD runs in the root namespace and may use `ip netns exec`.
        return subprocess.run(a.cmd, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
