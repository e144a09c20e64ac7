#include "tcpkit/scan/scan_results.hpp"

#include <unistd.h>

#include <cerrno>

namespace tcpkit {

QueuedResult QueuedResult::of(uint64_t k, const Verdict& verdict, uint8_t ttl, int64_t time_ns, int64_t rtt_ns) {
  QueuedResult r;
  r.k = k;
  r.time_ns = time_ns;
  r.rtt_ns = rtt_ns;
  r.state = uint8_t(verdict.state);
  r.reason = uint8_t(verdict.reason);
  r.icmp_type = verdict.icmp_type;
  r.icmp_code = verdict.icmp_code;
  r.icmp_v6 = verdict.icmp_v6;
  r.icmp_from_target = verdict.icmp_from_target;
  r.icmp_sender = verdict.icmp_sender;
  r.zero_window = verdict.zero_window;
  r.ttl = ttl;
  return r;
}

Verdict QueuedResult::verdict() const {
  Verdict v;
  v.state = PortState(state);
  v.reason = Reason(reason);
  v.icmp_type = icmp_type;
  v.icmp_code = icmp_code;
  v.icmp_v6 = icmp_v6;
  v.icmp_from_target = icmp_from_target;
  v.icmp_sender = icmp_sender;
  v.zero_window = zero_window;
  return v;
}

Result<std::unique_ptr<ScanResultQueue>> ScanResultQueue::open() {
  auto wake = WakeEvent::open("scan results");
  if (!wake) return tl::unexpected(wake.error());
  return std::unique_ptr<ScanResultQueue>(new ScanResultQueue(std::move(*wake)));
}

ScanResultQueue::~ScanResultQueue() = default;

void ScanResultQueue::push(const QueuedResult& result) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    waiting_.push_back(result);
    wake = waiting_.size() == kWakeAt;
  }
  if (wake) this->wake();
}

void ScanResultQueue::wake() { wake_.signal(); }

void ScanResultQueue::take(std::vector<QueuedResult>& out) {
  wake_.clear();
  out.clear();
  std::lock_guard<std::mutex> lock(mutex_);
  out.swap(waiting_);
}

}  // namespace tcpkit
