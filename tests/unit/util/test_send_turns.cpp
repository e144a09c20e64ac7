#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "tcpkit/util/send_turns.hpp"

using namespace tcpkit;
using Clock = SendTurns::Clock;

TEST_CASE("senders at once take turns one at a time, each at least the gap after the last ended") {
  constexpr auto gap = std::chrono::milliseconds(3);
  SendTurns turns(gap);
  std::atomic<int> inside{0};
  std::atomic<bool> overlapped{false};
  std::mutex m;
  std::vector<std::pair<Clock::time_point, Clock::time_point>> spans;  // each turn's start, end
  std::vector<std::thread> senders;
  senders.reserve(6);
  for (int i = 0; i < 6; ++i)
    senders.emplace_back([&] {
      auto turn = turns.take();
      const auto start = Clock::now();
      if (inside.fetch_add(1) != 0) overlapped = true;
      std::this_thread::sleep_for(std::chrono::microseconds(300));  // a burst of sends
      inside.fetch_sub(1);
      const auto end = Clock::now();
      turn.end();
      std::lock_guard<std::mutex> lock(m);
      spans.emplace_back(start, end);
    });
  for (auto& t : senders) t.join();
  CHECK_FALSE(overlapped);
  REQUIRE(spans.size() == 6);
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i) CHECK(spans[i].first - spans[i - 1].second >= gap);
}

TEST_CASE("a turn ends when it is dropped, and the first turn does not wait") {
  SendTurns turns(std::chrono::seconds(60));
  const auto before = Clock::now();
  { auto turn = turns.take(); }
  CHECK(Clock::now() - before < std::chrono::seconds(30));
  // The next one waits out the gap: taken from another thread, it is still waiting 50 ms on.
  std::atomic<bool> got{false};
  SendTurns short_gap(std::chrono::seconds(1));
  { auto first = short_gap.take(); }
  std::thread t([&] {
    auto turn = short_gap.take();
    got = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK_FALSE(got);
  t.join();
  CHECK(got);
}
