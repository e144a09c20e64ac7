#include "tcpkit/probe/live_connection.hpp"

#include <netinet/in.h>

namespace tcpkit {

Result<LiveConnection> LiveConnection::open(const FourTuple& tuple, const std::string& interface) {
  CaptureOptions options;
  options.interface = interface;
  // The connection both ways, and whatever else comes to our port from the peer's port: a
  // reply from another address is rejected by the tracker, and counted. ICMP errors to us too
  // (error types only: the capture counts what fails its checks, so pings and their fragments
  // would read as rejected replies): those quoting our segments are kept (a router's
  // fragmentation needed explains what otherwise reads as loss and retransmissions).
  const std::string lp = std::to_string(tuple.local_port), rp = std::to_string(tuple.remote_port);
  const std::string local = tuple.local.to_string();
  const std::string icmp_errors =
      tuple.local.is_v4() ? "icmp and (icmp[icmptype] == icmp-unreach or icmp[icmptype] == icmp-timxceed or "
                            "icmp[icmptype] == icmp-paramprob)"
                          : "icmp6 and ip6[40] >= 1 and ip6[40] <= 4";  // unreachable .. parameter problem
  options.filter = "(tcp and ((host " + local + " and host " + tuple.remote.to_string() + " and port " + lp +
                   " and port " + rp + ") or (dst host " + local + " and dst port " + lp + " and src port " + rp +
                   "))) or (" + icmp_errors + " and dst host " + local + ")";
  // Headers and options (payload bytes are not needed); an ICMPv6 error's quote of our IPv6 and
  // TCP headers ends at byte 108.
  options.snaplen = 128;
  auto capture = Capture::open(options);
  if (!capture) return tl::unexpected(capture.error());
  return LiveConnection(ConnectionTracker(tuple), std::move(*capture));
}

Result<std::optional<TrackedSegment>> LiveConnection::next(std::chrono::steady_clock::time_point deadline, int cancel_fd) {
  for (;;) {
    auto packet = capture_.next(deadline, cancel_fd);
    if (!packet) return tl::unexpected(packet.error());
    if (!*packet) return std::optional<TrackedSegment>{};
    const auto& p = **packet;
    const auto decoded = decode_packet(p.data.data(), p.data.size());
    if (!decoded) continue;
    if (decoded->kind == DecodedPacket::Kind::icmp_error) {
      keep_icmp(*decoded, p);
      continue;
    }
    if (auto segment = tracker_.feed(*decoded, p.outgoing, p.time_ns, p.source)) return segment;
  }
}

void LiveConnection::keep_icmp(const DecodedPacket& d, const CapturedPacket& p) {
  const QuotedDatagram& q = d.icmp.quoted;
  const FourTuple& t = tracker_.tuple();
  if (p.outgoing || q.protocol != IPPROTO_TCP || !q.ports_known || q.src != t.local || q.dst != t.remote ||
      q.sport != t.local_port || q.dport != t.remote_port)
    return;  // about another connection
  // The quote must name a segment we sent: from our ISN to SND.NXT (a forgery rarely knows them).
  const auto& ours = tracker_.local();
  if (!q.seq || !ours.isn || !ours.next_seq || seq_lt(*q.seq, *ours.isn) || seq_gt(*q.seq, *ours.next_seq)) return;
  if (icmp_.size() >= kMostConnectionIcmp) return;  // the caller bounds the total (TraceRun)
  icmp_.push_back(ConnectionIcmp{p.time_ns, d.src, d.icmp.v6, d.icmp.type, d.icmp.code, d.icmp.mtu, *q.seq - *ours.isn, *q.seq});
}

RejectCounts LiveConnection::rejected() const {
  RejectCounts counts = tracker_.rejected();
  counts.add(RejectReason::bad_checksum, capture_.bad_checksums());
  counts.add(RejectReason::unverifiable, capture_.unverifiable());
  return counts;
}

uint64_t LiveConnection::capture_drops() {
  capture_drops_ += capture_.stats().dropped;  // the kernel's counters reset on each read
  return capture_drops_;
}

}  // namespace tcpkit
