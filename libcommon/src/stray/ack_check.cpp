#include "tcpkit/stray/ack_check.hpp"

#include "tcpkit/io/wake_event.hpp"

#include <algorithm>

#include "tcpkit/stray/stray_stateless.hpp"

namespace tcpkit {

std::string_view to_string(AckCheck check) {
  switch (check) {
    case AckCheck::reset: return "reset";
    case AckCheck::late_reset: return "late reset";
    case AckCheck::icmp: return "icmp";
    case AckCheck::silence: return "silence";
  }
  return "?";
}

// The closed-port ACK case of tcpstray, aimed at the port in question: the same reserved source
// port, capture and answer matching.
Result<AckCheckAnswer> check_with_ack(const AckCheckConfig& config, int cancel_fd) {
  StrayTarget target;
  target.address = config.destination;
  target.port = target.closed_port = config.port;
  target.route = config.route;
  target.bind_interface = config.bind_interface;
  target.timeout = std::max(config.timeout, config.least_wait);
  auto sender = open_marked_sender(target);
  if (!sender) return tl::unexpected(sender.error());
  for (int attempt = 0;; ++attempt) {
    auto run = run_stateless_case(StrayCase::closed_ack, target, sender->sender, cancel_fd);
    if (!run) return tl::unexpected(run.error());
    if (const StraySegment* first = first_real_tcp(run->seen.answers)) {
      // segments[0] is our ACK, stamped by the kernel as it left.
      const int64_t took_ns = first->time_ns - run->segments.front().time_ns;
      return AckCheckAnswer{took_ns > std::chrono::nanoseconds(config.timeout).count() ? AckCheck::late_reset
                                                                                         : AckCheck::reset};
    }
    const auto icmp = std::find_if(run->seen.answers.begin(), run->seen.answers.end(), [](const StraySegment& s) { return s.icmp; });
    if (icmp != run->seen.answers.end()) return AckCheckAnswer{AckCheck::icmp, icmp->icmp_text, icmp->icmp_meaning};
    if (attempt + 1 >= config.tries || cancel_requested(cancel_fd)) return AckCheckAnswer{};
  }
}

}  // namespace tcpkit
