#pragma once
// A connection followed live: a capture narrowed to one 4-tuple feeding a ConnectionTracker,
// with waits bounded by deadlines.
#include <chrono>
#include <optional>
#include <utility>
#include <vector>

#include "tcpkit/io/capture.hpp"
#include "tcpkit/probe/conn_tracker.hpp"
#include "tcpkit/util/error.hpp"

namespace tcpkit {

// An ICMP error about one of this connection's outbound segments, as it came: a router's
// fragmentation needed (path MTU discovery), an unreachable, a time exceeded.
struct ConnectionIcmp {
  int64_t time_ns = 0;  // the capture's clock, as the segments'
  IpAddress from;
  bool v6 = false;
  uint8_t type = 0, code = 0;
  std::optional<uint32_t> mtu;  // the next hop's, for fragmentation needed / packet too big
  std::optional<uint32_t> seq;  // the quoted segment's, relative to our ISN
  std::optional<uint32_t> raw_seq;  // the same, as on the wire
};

// At most this many are kept, in a batch and over a trace: a router repeats itself, and a
// flood of forged errors stays bounded.
inline constexpr size_t kMostConnectionIcmp = 64;

class LiveConnection {
 public:
  // Opens the capture (CAP_NET_RAW) on the interface that routes to the remote address.
  // Open it before the first segment is sent (bind the socket first to know the local port).
  static Result<LiveConnection> open(const FourTuple& tuple, const std::string& interface);

  // The next segment of this connection, or nullopt at the deadline / when cancel_fd is readable.
  Result<std::optional<TrackedSegment>> next(std::chrono::steady_clock::time_point deadline, int cancel_fd = -1);

  // The ICMP errors about our segments read since the last call (next() reads them on its way).
  std::vector<ConnectionIcmp> take_icmp_errors() { return std::exchange(icmp_, {}); }

  // Frames the kernel dropped from this connection's capture since open (its queue was full).
  uint64_t capture_drops();

  // Segments the tracker rejected (forged, or not this connection's) and those the capture
  // dropped for a bad checksum: none of them reached the tracker.
  RejectCounts rejected() const;

  const ConnectionTracker& tracker() const { return tracker_; }

 private:
  LiveConnection(const ConnectionTracker& tracker, Capture capture) : tracker_(tracker), capture_(std::move(capture)) {}
  void keep_icmp(const DecodedPacket& d, const CapturedPacket& p);
  ConnectionTracker tracker_;
  Capture capture_;
  uint64_t capture_drops_ = 0;
  std::vector<ConnectionIcmp> icmp_;
};

}  // namespace tcpkit
