#pragma once
// A connection followed live: a capture narrowed to one 4-tuple feeding a ConnectionTracker,
// with waits bounded by deadlines.
#include <chrono>
#include <optional>

#include "tcpkit/io/capture.hpp"
#include "tcpkit/probe/conn_tracker.hpp"
#include "tcpkit/util/error.hpp"

namespace tcpkit {

class LiveConnection {
 public:
  // Opens the capture (CAP_NET_RAW) on the interface that routes to the remote address.
  // Open it before the first segment is sent (bind the socket first to know the local port).
  static Result<LiveConnection> open(const FourTuple& tuple, const std::string& interface);

  // The next segment of this connection, or nullopt at the deadline / when cancel_fd is readable.
  Result<std::optional<TrackedSegment>> next(std::chrono::steady_clock::time_point deadline, int cancel_fd = -1);

  // Frames the kernel dropped from this connection's capture since open (its queue was full).
  uint64_t capture_drops();

  // Segments the tracker rejected (forged, or not this connection's) and those the capture
  // dropped for a bad checksum: none of them reached the tracker.
  RejectCounts rejected() const;

  const ConnectionTracker& tracker() const { return tracker_; }

 private:
  LiveConnection(const ConnectionTracker& tracker, Capture capture) : tracker_(tracker), capture_(std::move(capture)) {}
  ConnectionTracker tracker_;
  Capture capture_;
  uint64_t capture_drops_ = 0;
};

}  // namespace tcpkit
