"""tcpscan when its packet ring breaks: the client's link is deleted mid-scan, the kernel unhooks
the ring's packet socket and leaves ENETDOWN pending on it (POLLERR). The scan must stop at once
with exit 4 and one line, not spin on poll and then report every unanswered port as filtered."""
import subprocess
import time


def test_a_link_that_goes_away_mid_scan_is_a_system_failure(make_lab):
    L = make_lab(ipv6=False)
    # 3000 probes at 300/s: about 10 s of sending, so the link goes away while probes are sent.
    proc = L.popen_client([L.tool("tcpscan"), "-p", "1-3000", "--rate", "300", "--json", L.server_v4],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)
        assert proc.poll() is None, "the scan ended before the link was removed"
        subprocess.run(["ip", "-n", L.client_ns, "link", "del", L.client_if], check=True, timeout=20)
        removed = time.monotonic()
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - removed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 4, (proc.returncode, err.decode()[-500:])
    assert len(lines) == 1, err.decode()
    assert lines[0].startswith("tcpscan: reading replies failed:") and "Network is down" in lines[0], lines[0]
    assert took < 2.0, f"tcpscan took {took:.1f} s to stop after its link went away"
    # Ports answered before the link went are real answers; none is guessed "filtered" after it.
    assert b'"filtered"' not in out
