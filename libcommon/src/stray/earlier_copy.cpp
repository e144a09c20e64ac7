#include "tcpkit/stray/earlier_copy.hpp"

namespace tcpkit {

void PeerClock::observe(int64_t time_ns, uint32_t tsval) {
  if (!first_) first_ = Reading{time_ns, tsval};
  // A late original's older TSval says nothing about the clock's rate.
  if (!latest_ || int32_t(tsval - latest_->tsval) > 0) latest_ = Reading{time_ns, tsval};
}

bool PeerClock::ticks_within(int64_t span_ns) const {
  if (!first_ || !latest_) return false;
  const auto ticks = int64_t(uint32_t(latest_->tsval - first_->tsval));
  const int64_t observed_ns = latest_->time_ns - first_->time_ns;
  if (ticks < 2 || observed_ns <= 0 || span_ns <= 0) return false;
  return span_ns * (ticks - 1) >= observed_ns;
}

EarlierCopy earlier_copy(const TrackedSegment& s, std::span<const TrackedSegment> before, int64_t departed_ns,
                         const PeerClock& clock, bool copies_seen) {
  for (const auto& o : before) {
    if (o.direction != Direction::inbound || o.time_ns >= departed_ns) continue;
    if (o.flags != s.flags || o.seq != s.seq || o.ack != s.ack || o.window != s.window ||
        o.payload_length != s.payload_length || !(o.options == s.options))
      continue;
    // Without timestamps the bytes are all there is.
    if (!s.options.timestamps()) return copies_seen ? EarlierCopy::ambiguous : EarlierCopy::no;
    // The peer made its answer after our segment left and the original before it arrived here:
    // if its clock ticks within that time, a fresh answer has a newer TSval.
    return clock.ticks_within(departed_ns - o.time_ns) ? EarlierCopy::copy : EarlierCopy::ambiguous;
  }
  return EarlierCopy::no;
}

}  // namespace tcpkit
