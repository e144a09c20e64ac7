#pragma once
// Senders running at once (tcppath --flows: one thread per flow) that send one after another:
// each takes a turn, sends, and ends it; the next turn starts at least `gap` after the last one
// ended. A router then meets one flow's probes at a time, never several flows' interleaved on
// several CPUs at once, where Linux's per-source ICMP budget (read and written without a lock)
// can deny an answer it had the tokens for.
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace tcpkit {

class SendTurns {
 public:
  using Clock = std::chrono::steady_clock;
  explicit SendTurns(Clock::duration gap) : gap_(gap) {}
  SendTurns(const SendTurns&) = delete;
  SendTurns& operator=(const SendTurns&) = delete;

  // One sender's turn, from take() until it is destroyed (or ended).
  class Turn {
   public:
    explicit Turn(SendTurns* owner) : owner_(owner) {}
    Turn(Turn&& other) noexcept : owner_(other.owner_) { other.owner_ = nullptr; }
    Turn(const Turn&) = delete;
    Turn& operator=(const Turn&) = delete;
    Turn& operator=(Turn&&) = delete;
    ~Turn() { end(); }
    void end() {
      if (owner_) owner_->release();
      owner_ = nullptr;
    }

   private:
    SendTurns* owner_;
  };

  // Waits until no one else holds a turn and `gap` has passed since the last one ended. Turns go
  // in no set order, one at a time; each is short (a burst of sends), so the wait is bounded by
  // the senders ahead.
  Turn take();

 private:
  void release();
  Clock::duration gap_;
  std::mutex m_;
  std::condition_variable free_;
  bool busy_ = false;
  Clock::time_point next_start_{};
};

}  // namespace tcpkit
