#include "tcpkit/scan/scan_results.hpp"

#include <sys/eventfd.h>
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
  return v;
}

Result<std::unique_ptr<ScanResultQueue>> ScanResultQueue::open() {
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return fail_errno("eventfd (scan results)", errno);
  return std::unique_ptr<ScanResultQueue>(new ScanResultQueue(fd));
}

ScanResultQueue::~ScanResultQueue() {
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void ScanResultQueue::push(const QueuedResult& result) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    waiting_.push_back(result);
    wake = waiting_.size() == kWakeAt;
  }
  if (wake) this->wake();
}

void ScanResultQueue::wake() {
  const uint64_t one = 1;
  // A full counter (never, at 2^64 - 1) or EAGAIN only means the caller is awake already.
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void ScanResultQueue::take(std::vector<QueuedResult>& out) {
  uint64_t count = 0;
  [[maybe_unused]] const ssize_t n = ::read(wake_fd_, &count, sizeof count);  // EAGAIN when not woken
  out.clear();
  std::lock_guard<std::mutex> lock(mutex_);
  out.swap(waiting_);
}

}  // namespace tcpkit
