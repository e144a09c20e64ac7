#pragma once
// How scan results travel from the receiver thread to the caller's thread: compact records
// (the probe's index stands for its address and port) in a queue that wakes the caller through
// an eventfd as soon as a batch is waiting. A queue drained every batch stays a few tens of kB
// however fast replies come; one drained on a timer grows with the reply rate.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "tcpkit/io/wake_event.hpp"
#include "tcpkit/util/error.hpp"
#include "tcpkit/scan/scan_probe.hpp"

namespace tcpkit {

struct QueuedResult {
  uint64_t k = 0;        // the probe's index in the plan's shard
  int64_t time_ns = 0;   // kernel receive time of the reply
  int64_t rtt_ns = 0;    // 0 when unknown
  uint8_t state = 0, reason = 0, icmp_type = 0, icmp_code = 0, ttl = 0;
  bool icmp_v6 = false, icmp_from_target = false, zero_window = false;
  bool conflict = false;  // a second answer that says otherwise than the port's first (ScanResult::conflict)
  IpAddress icmp_sender;

  static QueuedResult of(uint64_t k, const Verdict& verdict, uint8_t ttl, int64_t time_ns, int64_t rtt_ns = 0);
  Verdict verdict() const;
};

class ScanResultQueue {
 public:
  static constexpr size_t kWakeAt = 256;  // records; the caller is woken when this many wait

  static Result<std::unique_ptr<ScanResultQueue>> open();
  ~ScanResultQueue();
  ScanResultQueue(const ScanResultQueue&) = delete;
  ScanResultQueue& operator=(const ScanResultQueue&) = delete;

  // Receiver thread.
  void push(const QueuedResult& result);
  // Readable when at least kWakeAt records wait (poll it with the caller's other descriptors).
  int wake_fd() const { return wake_.fd(); }
  // Any thread: wakes the caller whatever is waiting (the receiver, when it ends).
  void wake();
  // Caller's thread: moves every waiting record into out (which it clears first).
  void take(std::vector<QueuedResult>& out);

 private:
  explicit ScanResultQueue(WakeEvent wake) : wake_(std::move(wake)) {}
  WakeEvent wake_;
  std::mutex mutex_;
  std::vector<QueuedResult> waiting_;
};

}  // namespace tcpkit
