#pragma once
// Whether a segment that came after our crafted segment left may be a network copy of one the
// peer sent before it. A copy that the network delayed past our segment looks like its answer:
// Linux's TIME_WAIT ACK carries IP ID 0, so the tracker's IP-ID proof (copy_proven) misses it,
// and a TIME_WAIT's answer to a FIN is the same ACK as its ACK of our kernel's FIN. Timestamps
// tell them apart: a fresh answer carries a newer TSval once the peer's clock has ticked.
#include <cstdint>
#include <optional>
#include <span>

#include "tcpkit/probe/conn_tracker.hpp"

namespace tcpkit {

// The peer's timestamp clock, from the TSvals of its segments and when they arrived.
class PeerClock {
 public:
  void observe(int64_t time_ns, uint32_t tsval);
  // Whether the clock surely ticked within any interval of `span_ns`: it ticked n + 1 times in
  // a span S observed, so its period is at most S / n (n >= 1).
  bool ticks_within(int64_t span_ns) const;

 private:
  struct Reading {
    int64_t time_ns = 0;
    uint32_t tsval = 0;
  };
  std::optional<Reading> first_, latest_;
};

enum class EarlierCopy {
  no,         // nothing before our segment looks like it: an answer
  copy,       // the same bytes, TSval and all, although the peer's clock has moved on since
  ambiguous,  // the same bytes, and nothing tells a copy from the answer
};

// s came after our segment left at departed_ns; before: the peer's earlier segments (those that
// arrived at departed_ns or later are not compared). copies_seen: the network has duplicated
// the peer's segments on this connection (without timestamps only that makes a copy likely).
EarlierCopy earlier_copy(const TrackedSegment& s, std::span<const TrackedSegment> before, int64_t departed_ns,
                         const PeerClock& clock, bool copies_seen);

}  // namespace tcpkit
