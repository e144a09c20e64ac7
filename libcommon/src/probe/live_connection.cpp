#include "tcpkit/probe/live_connection.hpp"

namespace tcpkit {

Result<LiveConnection> LiveConnection::open(const FourTuple& tuple, const std::string& interface) {
  CaptureOptions options;
  options.interface = interface;
  // The connection both ways, and whatever else comes to our port from the peer's port: a
  // reply from another address is rejected by the tracker, and counted.
  const std::string lp = std::to_string(tuple.local_port), rp = std::to_string(tuple.remote_port);
  options.filter = "tcp and ((host " + tuple.local.to_string() + " and host " + tuple.remote.to_string() + " and port " +
                   lp + " and port " + rp + ") or (dst host " + tuple.local.to_string() + " and dst port " + lp +
                   " and src port " + rp + "))";
  options.snaplen = 128;  // headers and options; payload bytes are not needed
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
    if (auto segment = tracker_.feed(*decoded, p.outgoing, p.time_ns, p.source)) return segment;
  }
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
