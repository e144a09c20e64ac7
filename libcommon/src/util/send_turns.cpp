#include "tcpkit/util/send_turns.hpp"

#include <thread>

namespace tcpkit {

SendTurns::Turn SendTurns::take() {
  Clock::time_point start;
  {
    std::unique_lock<std::mutex> lock(m_);
    free_.wait(lock, [this] { return !busy_; });
    busy_ = true;
    start = next_start_;
  }
  // Ours now: the gap is slept without the lock (the others wait for busy_, not for it).
  std::this_thread::sleep_until(start);
  return Turn(this);
}

void SendTurns::release() {
  {
    std::lock_guard<std::mutex> lock(m_);
    busy_ = false;
    next_start_ = Clock::now() + gap_;
  }
  free_.notify_one();
}

}  // namespace tcpkit
